/*
 * training/plot.c -- training curves as SVG (see plot.h), and the public
 * sbert_plot_training_curves() over a trainer_state.json.
 */
#include "training/plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/strbuf.h"
#include "io/atomic.h"
#include "io/file.h"

/* XML text / attribute value. */
static void sb_escaped(sbert_sb *b, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '&': sbert_sb_printf(b, "&amp;"); break;
        case '<': sbert_sb_printf(b, "&lt;"); break;
        case '>': sbert_sb_printf(b, "&gt;"); break;
        case '"': sbert_sb_printf(b, "&quot;"); break;
        case '\'': sbert_sb_printf(b, "&apos;"); break;
        default:
            /* Control characters other than tab/newline are not allowed in XML 1.0. */
            if ((unsigned char)*s < 0x20 && *s != '\t' && *s != '\n') sbert_sb_printf(b, "?");
            else sbert_sb_printf(b, "%c", *s);
        }
    }
}

/* ---------------------------------------------------------------- series */

typedef struct {
    double x, y;
} point;

typedef struct {
    char *name;
    point *p;
    size_t n, cap;
    int group; /* drawing order: 0 loss, 1 eval, 2 test, 3 learning_rate, 4 grad_norm */
} series;

typedef struct {
    series *s;
    size_t n, cap;
} series_set;

static int group_of(const char *key) {
    if (!strcmp(key, "loss")) return 0;
    if (!strncmp(key, "eval_", 5)) return 1;
    if (!strncmp(key, "test_", 5)) return 2;
    if (!strcmp(key, "learning_rate")) return 3;
    if (!strcmp(key, "grad_norm")) return 4;
    return -1;
}

static series *series_get(series_set *set, const char *name, int group) {
    for (size_t i = 0; i < set->n; i++)
        if (!strcmp(set->s[i].name, name)) return &set->s[i];
    if (set->n == set->cap) {
        size_t cap = set->cap ? 2 * set->cap : 16;
        series *s = realloc(set->s, cap * sizeof *s);
        if (!s) return NULL;
        set->s = s;
        set->cap = cap;
    }
    series *s = &set->s[set->n];
    memset(s, 0, sizeof *s);
    s->name = strdup(name);
    if (!s->name) return NULL;
    s->group = group;
    set->n++;
    return s;
}

static int series_add(series *s, double x, double y) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        point *p = realloc(s->p, cap * sizeof *p);
        if (!p) return 0;
        s->p = p;
        s->cap = cap;
    }
    s->p[s->n++] = (point){x, y};
    return 1;
}

static void series_set_free(series_set *set) {
    for (size_t i = 0; i < set->n; i++) {
        free(set->s[i].name);
        free(set->s[i].p);
    }
    free(set->s);
}

/* Stable insertion sort by step (histories are nearly sorted). */
static void sort_points(series *s) {
    for (size_t i = 1; i < s->n; i++) {
        point p = s->p[i];
        size_t j = i;
        while (j > 0 && s->p[j - 1].x > p.x) {
            s->p[j] = s->p[j - 1];
            j--;
        }
        s->p[j] = p;
    }
}

static int cmp_series(const void *a, const void *b) {
    const series *x = a, *y = b;
    if (x->group != y->group) return x->group - y->group;
    return 0;
}

/* ------------------------------------------------------------------ axes */

/* A "nice" tick spacing (1, 2 or 5 x 10^k) for about `want` ticks over range. */
static double nice_step(double range, int want) {
    double raw = range / want, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

static void fmt_tick(char *buf, size_t cap, double v, double step) {
    if (fabs(v) < step * 1e-9) v = 0;
    snprintf(buf, cap, "%.6g", v);
}

/* The domain [lo, hi] of values, widened when flat, padded for y. */
static void domain(const double *v, size_t n, int pad, double *lo, double *hi) {
    double a = INFINITY, b = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < a) a = v[i];
        if (v[i] > b) b = v[i];
    }
    if (!(a <= b)) a = 0, b = 1;
    if (a == b) {
        double d = a != 0 ? fabs(a) * 0.1 : 1;
        a -= d, b += d;
    } else if (pad) {
        double d = (b - a) * 0.05;
        a -= d, b += d;
    }
    *lo = a;
    *hi = b;
}

enum { PANEL_W = 380, PANEL_H = 250, LEFT = 70, RIGHT = 18, TOP = 34, BOTTOM = 44, HEAD = 36, COLS = 3 };

static void draw_panel(sbert_sb *b, const series *s, double ox, double oy) {
    const double w = PANEL_W - LEFT - RIGHT, h = PANEL_H - TOP - BOTTOM;
    double *xs = malloc((s->n + 1) * sizeof *xs), *ys = malloc((s->n + 1) * sizeof *ys);
    if (!xs || !ys) {
        free(xs);
        free(ys);
        b->oom = 1;
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        if (isfinite(s->p[i].x) && isfinite(s->p[i].y)) {
            xs[n] = s->p[i].x;
            ys[n] = s->p[i].y;
            n++;
        }
    double x0, x1, y0, y1;
    domain(xs, n, 0, &x0, &x1);
    domain(ys, n, 1, &y0, &y1);
    sbert_sb_printf(b, "<g class=\"panel\" transform=\"translate(%.0f,%.0f)\">\n", ox, oy);
    sbert_sb_printf(b, "<text class=\"title\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", LEFT + w / 2, TOP - 12);
    sb_escaped(b, s->name);
    sbert_sb_printf(b, "</text>\n");
    /* grid, ticks and tick labels */
    char lab[64];
    double xs_step = nice_step(x1 - x0, 5), ys_step = nice_step(y1 - y0, 5);
    if (xs_step < 1) xs_step = 1; /* steps are whole numbers */
    for (double t = ceil(x0 / xs_step) * xs_step; t <= x1 + xs_step * 1e-9; t += xs_step) {
        double px = LEFT + (t - x0) / (x1 - x0) * w;
        sbert_sb_printf(b, "<line class=\"grid\" x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%.2f\"/>\n", px, TOP, px, TOP + h);
        fmt_tick(lab, sizeof lab, t, xs_step);
        sbert_sb_printf(b, "<text class=\"tick\" x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">%s</text>\n", px, TOP + h + 16,
                  lab);
    }
    for (double t = ceil(y0 / ys_step) * ys_step; t <= y1 + ys_step * 1e-9; t += ys_step) {
        double py = TOP + h - (t - y0) / (y1 - y0) * h;
        sbert_sb_printf(b, "<line class=\"grid\" x1=\"%d\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", LEFT, py, LEFT + w, py);
        fmt_tick(lab, sizeof lab, t, ys_step);
        sbert_sb_printf(b, "<text class=\"tick\" x=\"%d\" y=\"%.2f\" text-anchor=\"end\">%s</text>\n", LEFT - 6, py + 4,
                  lab);
    }
    sbert_sb_printf(b, "<rect class=\"frame\" x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\"/>\n", LEFT, TOP, w, h);
    sbert_sb_printf(b, "<text class=\"label\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">step</text>\n", LEFT + w / 2,
              PANEL_H - 8);
    sbert_sb_printf(b, "<text class=\"label\" transform=\"translate(14,%.1f) rotate(-90)\" text-anchor=\"middle\">",
              TOP + h / 2);
    sb_escaped(b, s->name);
    sbert_sb_printf(b, "</text>\n");
    /* the curve: full precision in the attributes, pixels in points */
    sbert_sb_printf(b, "<polyline class=\"curve\" data-series=\"");
    sb_escaped(b, s->name);
    sbert_sb_printf(b, "\" data-n=\"%zu\" data-domain=\"%.17g %.17g %.17g %.17g\" data-area=\"%d %d %.0f %.0f\" points=\"",
              n, x0, x1, y0, y1, LEFT, TOP, w, h);
    for (size_t i = 0; i < n; i++)
        sbert_sb_printf(b, "%s%.3f,%.3f", i ? " " : "", LEFT + (xs[i] - x0) / (x1 - x0) * w,
                  TOP + h - (ys[i] - y0) / (y1 - y0) * h);
    sbert_sb_printf(b, "\"/>\n");
    if (n <= 400)
        for (size_t i = 0; i < n; i++)
            sbert_sb_printf(b, "<circle class=\"point\" cx=\"%.3f\" cy=\"%.3f\" r=\"2.5\"><title>step %.17g: %.9g</title></circle>\n",
                      LEFT + (xs[i] - x0) / (x1 - x0) * w, TOP + h - (ys[i] - y0) / (y1 - y0) * h, xs[i], ys[i]);
    if (n == 0)
        sbert_sb_printf(b, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">no finite values</text>\n",
                  LEFT + w / 2, TOP + h / 2);
    sbert_sb_printf(b, "</g>\n");
    free(xs);
    free(ys);
}

sbert_status sbert_plot_history_svg(const cJSON *history, const char *title, char **svg, size_t *len) {
    *svg = NULL;
    *len = 0;
    if (!cJSON_IsArray(history)) return sbert_fail(SBERT_ERR_FORMAT, "log_history is not a list");
    series_set set = {0};
    int ok = 1;
    size_t idx = 0;
    for (const cJSON *e = history->child; e && ok; e = e->next, idx++) {
        const cJSON *step = cJSON_GetObjectItemCaseSensitive(e, "step");
        if (!cJSON_IsObject(e) || !cJSON_IsNumber(step)) {
            series_set_free(&set);
            return sbert_fail(SBERT_ERR_FORMAT, "log_history entry %zu has no \"step\" number", idx);
        }
        for (const cJSON *it = e->child; it && ok; it = it->next) {
            int g = it->string && cJSON_IsNumber(it) ? group_of(it->string) : -1;
            if (g < 0) continue;
            series *s = series_get(&set, it->string, g);
            ok = s && series_add(s, step->valuedouble, it->valuedouble);
        }
    }
    if (!ok) {
        series_set_free(&set);
        return sbert_fail(SBERT_ERR_NOMEM, "out of memory (plot)");
    }
    /* Panels by group; within a group, in order of first appearance (qsort is
     * not stable: sort by group with an insertion sort). */
    for (size_t i = 1; i < set.n; i++) {
        series s = set.s[i];
        size_t j = i;
        while (j > 0 && cmp_series(&set.s[j - 1], &s) > 0) {
            set.s[j] = set.s[j - 1];
            j--;
        }
        set.s[j] = s;
    }
    for (size_t i = 0; i < set.n; i++) sort_points(&set.s[i]);
    size_t cols = set.n < COLS ? (set.n ? set.n : 1) : COLS, rows = (set.n + cols - 1) / cols;
    if (rows == 0) rows = 1;
    double W = (double)(cols * PANEL_W), H = (double)(HEAD + rows * PANEL_H);
    sbert_sb b = {0};
    sbert_sb_printf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    sbert_sb_printf(&b,
              "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
              "font-family=\"sans-serif\" font-size=\"11\">\n",
              W, H, W, H);
    sbert_sb_printf(&b, "<style>.grid{stroke:#e3e3e3;stroke-width:1}.frame{fill:none;stroke:#444;stroke-width:1}"
                  ".curve{fill:none;stroke:#1f77b4;stroke-width:1.8}.point{fill:#1f77b4}.tick{fill:#444}"
                  ".title{font-size:12px;font-weight:bold}.label{fill:#222}</style>\n");
    sbert_sb_printf(&b, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    sbert_sb_printf(&b, "<text x=\"%.1f\" y=\"24\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">", W / 2);
    sb_escaped(&b, title && *title ? title : "Training curves");
    sbert_sb_printf(&b, "</text>\n");
    if (set.n == 0)
        sbert_sb_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">no loss or metric in the log_history</text>\n",
                  W / 2, HEAD + PANEL_H / 2.0);
    for (size_t i = 0; i < set.n; i++)
        draw_panel(&b, &set.s[i], (double)((i % cols) * PANEL_W), (double)(HEAD + (i / cols) * PANEL_H));
    sbert_sb_printf(&b, "</svg>\n");
    series_set_free(&set);
    return sbert_sb_finish(&b, "plot", svg, len);
}

/* ------------------------------------------------------------ public API */

sbert_status sbert_plot_training_curves(const char *trainer_state, const char *svg_path) {
    if (!trainer_state || !svg_path) return sbert_fail(SBERT_ERR_INVALID_ARG, "plot: a path is NULL");
    char path[4200];
    if (sbert_dir_exists(trainer_state)) SBERT_TRY(sbert_path_join(path, sizeof path, trainer_state, "trainer_state.json"));
    else snprintf(path, sizeof path, "%s", trainer_state);
    if (!sbert_file_exists(path)) {
        char why[256];
        return sbert_fail(SBERT_ERR_IO, "%s: %s (give a trainer_state.json, or a folder holding one: a model saved "
                                        "by sbert train, or a checkpoint)",
                          path, sbert_path_problem(path, why, sizeof why));
    }
    cJSON *j = NULL;
    SBERT_TRY(sbert_json_load(path, &j));
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "log_history");
    if (!cJSON_IsArray(h)) {
        cJSON_Delete(j);
        return sbert_fail(SBERT_ERR_FORMAT, "%s: no \"log_history\" list (is it a trainer_state.json?)", path);
    }
    char *svg = NULL;
    size_t len = 0;
    sbert_status st = sbert_plot_history_svg(h, path, &svg, &len);
    cJSON_Delete(j);
    if (st != SBERT_OK) {
        sbert_error_prefix("%s: ", path);
        return st;
    }
    st = sbert_write_file_atomic(svg_path, svg, len);
    free(svg);
    return st;
}
