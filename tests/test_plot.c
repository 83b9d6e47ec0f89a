/*
 * tests/test_plot.c -- training curves as SVG (src/training/plot.c,
 * sbert_plot_training_curves, `sbert plot`):
 *
 *   xml      the SVG is well-formed XML (tests/xml_check.h, itself checked on
 *            broken documents), names with & < " escaped;
 *   points   each <polyline> carries the logged points: its pixels mapped back
 *            through data-domain / data-area give every finite (step, value)
 *            of its series, sorted by step; panels in order loss, eval_*,
 *            test_*, learning_rate, grad_norm; keys that are not curves
 *            (epoch, train_runtime, strings) draw nothing;
 *   api      a folder or a trainer_state.json in, an SVG out; a missing file
 *            or one without log_history is an error naming it;
 *   cli      `sbert plot` exits 0, 2 on a usage error, 1 on a bad input.
 */
#define _XOPEN_SOURCE 700
#include <math.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "io/dirs.h"
#include "test_util.h"
#include "training/plot.h"
#include "xml_check.h"

static char g_tmp[256];

static void test_xml_checker(void) {
    char err[256];
    static const char *const bad[] = {"<a><b></a></b>", "<a x=1/>",       "<a>&foo;</a>", "<a/><b/>",
                                      "<a>x<y</a>",     "<a x=\"1\" x=\"2\"/>", "<a>",     "text<a/>",
                                      "<a x=\"<\"/>",   "<a><!-- c --></a>"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(!xml_well_formed(bad[i], err, sizeof err), "the checker rejects %s", bad[i]);
    CHECK(xml_well_formed("<?xml version=\"1.0\"?>\n<a x='1' y=\"&amp;&#38;&#x26;\"><b/>t &lt; u</a>\n", err,
                          sizeof err),
          "the checker accepts a good document: %s", err);
}

/* The value of attribute `name` inside the element starting at el (up to its '>'), unescaped. */
static int attr(const char *el, const char *name, char *out, size_t cap) {
    const char *end = strchr(el, '>');
    char pat[64];
    snprintf(pat, sizeof pat, " %s=\"", name);
    const char *a = strstr(el, pat);
    if (!a || a > end) return 0;
    a += strlen(pat);
    size_t n = 0;
    while (*a && *a != '"' && n + 1 < cap) {
        static const char *const ents[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
        static const char chars[] = "&<>\"'";
        int done = 0;
        for (int i = 0; i < 5 && !done; i++)
            if (!strncmp(a, ents[i], strlen(ents[i]))) {
                out[n++] = chars[i];
                a += strlen(ents[i]);
                done = 1;
            }
        if (!done) out[n++] = *a++;
    }
    out[n] = '\0';
    return 1;
}

typedef struct {
    const char *name;
    double x[8], y[8];
    int n;
} want_series;

static void check_polylines(const char *svg, const want_series *want, int n_want) {
    const char *p = svg;
    int k = 0;
    while ((p = strstr(p, "<polyline "))) {
        char name[256], nstr[32], dom[256], area[256], *pts = malloc(strlen(p) + 1);
        if (!pts) return;
        int ok = attr(p, "data-series", name, sizeof name) && attr(p, "data-n", nstr, sizeof nstr) &&
                 attr(p, "data-domain", dom, sizeof dom) && attr(p, "data-area", area, sizeof area) &&
                 attr(p, "points", pts, strlen(p) + 1);
        CHECK(ok && k < n_want, "polyline %d has its attributes", k);
        if (!ok || k >= n_want) {
            free(pts);
            return;
        }
        const want_series *w = &want[k];
        CHECK(!strcmp(name, w->name), "panel %d is %s (want %s)", k, name, w->name);
        CHECK(atoi(nstr) == w->n, "%s: data-n %s (want %d)", w->name, nstr, w->n);
        double x0, x1, y0, y1, L, T, W, H;
        CHECK(sscanf(dom, "%lf %lf %lf %lf", &x0, &x1, &y0, &y1) == 4 && sscanf(area, "%lf %lf %lf %lf", &L, &T, &W, &H) == 4,
              "%s: domain '%s', area '%s'", w->name, dom, area);
        char *s = pts;
        int i = 0;
        double errx = 0, erry = 0;
        for (char *tok = strtok(s, " "); tok; tok = strtok(NULL, " "), i++) {
            double px, py;
            if (sscanf(tok, "%lf,%lf", &px, &py) != 2 || i >= w->n) {
                i = 99;
                break;
            }
            double x = x0 + (px - L) / W * (x1 - x0), y = y0 + (T + H - py) / H * (y1 - y0);
            errx = test_max_err(errx, fabs(x - w->x[i]) / (x1 - x0));
            erry = test_max_err(erry, fabs(y - w->y[i]) / (y1 - y0));
        }
        CHECK(i == w->n && errx < 1e-4 && erry < 1e-4, "%s: %d points, max error %.2g (x) %.2g (y) of the axis span",
              w->name, i, errx, erry);
        /* The domain holds every point, and the points are inside the frame. */
        for (int j = 0; j < w->n; j++)
            CHECK(w->x[j] >= x0 && w->x[j] <= x1 && w->y[j] >= y0 && w->y[j] <= y1, "%s: point %d inside the domain",
                  w->name, j);
        free(pts);
        p++;
        k++;
    }
    CHECK(k == n_want, "%d polylines (want %d)", k, n_want);
}

static cJSON *entry(cJSON *h, double step) {
    cJSON *e = cJSON_CreateObject();
    cJSON_AddNumberToObject(e, "epoch", step / 10);
    cJSON_AddNumberToObject(e, "step", step);
    cJSON_AddItemToArray(h, e);
    return e;
}

static void test_points(void) {
    cJSON *h = cJSON_CreateArray();
    cJSON_AddNumberToObject(entry(h, 0), "eval_a&b<c\"_spearman", 0.5);
    cJSON *e = entry(h, 1);
    cJSON_AddNumberToObject(e, "loss", 2.0);
    cJSON_AddNumberToObject(e, "grad_norm", 1.5);
    cJSON_AddNumberToObject(e, "learning_rate", 1e-3);
    e = entry(h, 3);
    cJSON_AddNumberToObject(e, "loss", 1.0);
    cJSON_AddNumberToObject(e, "grad_norm", 0.5);
    cJSON_AddNumberToObject(e, "learning_rate", 5e-4);
    e = entry(h, 2); /* out of order, as a resumed history may be */
    cJSON_AddNumberToObject(e, "loss", 1.5);
    cJSON_AddNumberToObject(e, "grad_norm", 1.0);
    cJSON_AddNumberToObject(e, "learning_rate", 7.5e-4);
    e = entry(h, 4);
    cJSON_AddItemToObject(e, "loss", cJSON_CreateNumber(NAN)); /* left out */
    cJSON_AddNumberToObject(e, "eval_a&b<c\"_spearman", 0.7);
    cJSON_AddNumberToObject(e, "eval_flat", 0.3);
    cJSON_AddStringToObject(e, "eval_note", "not a number");
    e = entry(h, 5);
    cJSON_AddNumberToObject(e, "eval_flat", 0.3);
    cJSON_AddNumberToObject(e, "test_x", 0.9);
    cJSON_AddNumberToObject(e, "train_runtime", 12.5);
    char *svg = NULL;
    size_t len = 0;
    CHECK_OK(sbert_plot_history_svg(h, "run <1> & co", &svg, &len));
    char err[256] = "";
    CHECK(svg && strlen(svg) == len && xml_well_formed(svg, err, sizeof err), "well-formed SVG: %s", err);
    CHECK(svg && strstr(svg, "run &lt;1&gt; &amp; co"), "title escaped");
    CHECK(svg && !strstr(svg, "train_runtime") && !strstr(svg, "eval_note") && !strstr(svg, ">epoch<"),
          "keys that are not curves draw nothing");
    const want_series want[] = {
        {"loss", {1, 2, 3}, {2.0, 1.5, 1.0}, 3},
        {"eval_a&b<c\"_spearman", {0, 4}, {0.5, 0.7}, 2},
        {"eval_flat", {4, 5}, {0.3, 0.3}, 2},
        {"test_x", {5}, {0.9}, 1},
        {"learning_rate", {1, 2, 3}, {1e-3, 7.5e-4, 5e-4}, 3},
        {"grad_norm", {1, 2, 3}, {1.5, 1.0, 0.5}, 3},
    };
    if (svg) check_polylines(svg, want, 6);
    free(svg);
    cJSON_Delete(h);

    /* Nothing to draw is still an image; a bad history is an error. */
    h = cJSON_CreateArray();
    CHECK_OK(sbert_plot_history_svg(h, NULL, &svg, &len));
    CHECK(svg && xml_well_formed(svg, err, sizeof err) && strstr(svg, "no loss or metric"), "empty history: %s", err);
    free(svg);
    cJSON_AddItemToArray(h, cJSON_CreateObject());
    sbert_status st = sbert_plot_history_svg(h, NULL, &svg, &len);
    CHECK(st == SBERT_ERR_FORMAT && strstr(sbert_last_error(), "entry 0 has no \"step\""), "entry without step: %s",
          sbert_last_error());
    cJSON_Delete(h);
}

static int write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return 0;
    fputs(text, f);
    return fclose(f) == 0;
}

static int run(const char *cmd) {
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void test_api_and_cli(void) {
    char dir[512], state[600], out[600], err[256] = "";
    snprintf(dir, sizeof dir, "%s/final", g_tmp);
    CHECK_OK(sbert_mkdir_p(dir));
    snprintf(state, sizeof state, "%s/trainer_state.json", dir);
    CHECK(write_text(state, "{\"global_step\": 2, \"log_history\": [{\"epoch\": 0, \"step\": 0, "
                            "\"eval_sts_spearman_cosine\": 0.1}, {\"epoch\": 0.5, \"step\": 1, \"loss\": 3.5}, "
                            "{\"epoch\": 1, \"step\": 2, \"loss\": 2.5, \"eval_sts_spearman_cosine\": 0.4}]}"),
          "write %s", state);
    snprintf(out, sizeof out, "%s/curves.svg", g_tmp);
    CHECK_OK(sbert_plot_training_curves(dir, out));
    char *svg = test_read_file(out, NULL);
    CHECK(svg && xml_well_formed(svg, err, sizeof err), "sbert_plot_training_curves(folder): well-formed: %s", err);
    const want_series want[] = {{"loss", {1, 2}, {3.5, 2.5}, 2}, {"eval_sts_spearman_cosine", {0, 2}, {0.1, 0.4}, 2}};
    if (svg) check_polylines(svg, want, 2);
    free(svg);
    CHECK_OK(sbert_plot_training_curves(state, out));

    char missing[600];
    snprintf(missing, sizeof missing, "%s/nothing", g_tmp);
    sbert_status st = sbert_plot_training_curves(missing, out);
    CHECK(st == SBERT_ERR_IO && strstr(sbert_last_error(), missing) && strstr(sbert_last_error(), "trainer_state.json"),
          "missing input: %s", sbert_last_error());
    char other[600];
    snprintf(other, sizeof other, "%s/config.json", g_tmp);
    write_text(other, "{\"hidden_size\": 8}");
    st = sbert_plot_training_curves(other, out);
    CHECK(st == SBERT_ERR_FORMAT && strstr(sbert_last_error(), "no \"log_history\""), "not a trainer state: %s",
          sbert_last_error());

    const char *bin = getenv("SBERT_BIN");
    if (!bin || access(bin, X_OK) != 0) {
        CHECK(0, "SBERT_BIN (the sbert tool, set by CTest) is not executable: %s", bin ? bin : "(unset)");
        return;
    }
    char cmd[2400], out2[600];
    snprintf(out2, sizeof out2, "%s/cli.svg", g_tmp);
    snprintf(cmd, sizeof cmd, "'%s' plot --input '%s' --output '%s'", bin, dir, out2);
    CHECK(run(cmd) == 0 && access(out2, F_OK) == 0, "sbert plot writes %s", out2);
    snprintf(cmd, sizeof cmd, "'%s' plot --input '%s' 2>/dev/null", bin, dir);
    CHECK(run(cmd) == 2, "sbert plot without --output exits 2");
    snprintf(cmd, sizeof cmd, "'%s' plot --input '%s' --output - 2>/dev/null", bin, dir);
    CHECK(run(cmd) == 2, "sbert plot --output - exits 2");
    snprintf(cmd, sizeof cmd, "'%s' plot --input '%s' --output '%s' 2>/dev/null", bin, missing, out2);
    CHECK(run(cmd) == 1, "sbert plot on a missing input exits 1");
}

int main(void) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/sbert_test_plot_XXXXXX");
    if (!mkdtemp(g_tmp)) {
        perror("mkdtemp");
        return 1;
    }
    test_xml_checker();
    test_points();
    test_api_and_cli();
    sbert_rm_rf(g_tmp);
    return test_summary();
}
