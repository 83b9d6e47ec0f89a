/*
 * training/model_card.c -- README.md of a trained model, following the card
 * sentence-transformers 6 writes (sentence_transformer/model_card_template.md
 * and base/model_card.py), with what sbert knows to be true:
 *
 *   YAML front matter, keys in sentence-transformers' order: tags
 *   (sentence-transformers, sentence-similarity, feature-extraction, dense,
 *   generated_from_trainer, dataset_size:N, loss:Name), base_model (a Hugging
 *   Face id only: a model given as an id and found in the local cache, or a
 *   folder inside that cache's layout; a plain local path is not an id and is
 *   named in the text instead), datasets (the data files used: an id when a
 *   file lies in a Hugging Face datasets cache, else its path), pipeline_tag,
 *   library_name, metrics and model-index (the final evaluation, per
 *   evaluator, as huggingface_hub's eval_results_to_model_index lays it out);
 *
 *   the body: model description, full architecture (from the saved
 *   modules.json and module configs), usage in Python (with the similarity
 *   matrix this model gives for the example sentences) and with the sbert
 *   tool, evaluation tables per evaluator (with the baseline before
 *   training), training dataset (size, columns, token statistics, samples,
 *   the loss and its parameters), hyperparameters (non-default and all),
 *   training logs (and training_curves.svg, written beside the card), the
 *   training time, framework versions (sbert's own: no Python, PyTorch or
 *   Transformers took part), citation.
 */
#define _XOPEN_SOURCE 700
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "base/error.h"
#include "base/strbuf.h"
#include "io/atomic.h"
#include "io/file.h"
#include "io/hf_cache.h"
#include "models/cross_encoder.h"
#include "training/plot.h"
#include "training/trainer_internal.h"

#define P(...) sbert_sb_printf(b, __VA_ARGS__)

/* What differs between the three model types on a card. */
typedef struct {
    const char *cls;          /* Python class */
    const char *display;      /* "Sentence Transformer" */
    const char *tags;         /* YAML tag lines after sentence-transformers */
    const char *pipeline_tag;
} card_kind;

static card_kind kind_of(const sbert_trainer *t) {
    switch (t->model->kind) {
    case SBERT_KIND_CROSS_ENCODER: {
        card_kind k = {"CrossEncoder", "Cross Encoder", "- cross-encoder\n- reranker\n",
                       t->model->full_dim == 1 ? "text-ranking" : "text-classification"};
        return k;
    }
    case SBERT_KIND_SPARSE_ENCODER: {
        card_kind k = {"SparseEncoder", "SPLADE Sparse Encoder", "- sparse-encoder\n- sparse\n- splade\n",
                       "feature-extraction"};
        return k;
    }
    default: {
        card_kind k = {"SentenceTransformer", "Sentence Transformer",
                       "- sentence-similarity\n- feature-extraction\n- dense\n", "sentence-similarity"};
        return k;
    }
    }
}

/* ------------------------------------------------------ Python formatting */

/* repr(float): the shortest digits that read back exactly; fixed notation
 * for exponents in [-4, 16), else d.ddde+XX; integral values end in ".0". */
static void py_float(double v, char *out, size_t cap) {
    if (isnan(v)) {
        snprintf(out, cap, "nan");
        return;
    }
    if (isinf(v)) {
        snprintf(out, cap, v > 0 ? "inf" : "-inf");
        return;
    }
    if (v == 0) {
        snprintf(out, cap, signbit(v) ? "-0.0" : "0.0");
        return;
    }
    char e[40];
    int p = 1;
    for (; p <= 17; p++) {
        snprintf(e, sizeof e, "%.*e", p - 1, v);
        if (strtod(e, NULL) == v) break;
    }
    /* e = [-]d[.ddd]e[+-]XX */
    char digits[24];
    size_t nd = 0;
    const char *q = e;
    int neg = *q == '-';
    if (neg) q++;
    for (; *q && *q != 'e'; q++)
        if (isdigit((unsigned char)*q)) digits[nd++] = *q;
    digits[nd] = '\0';
    int exp = atoi(q + 1);
    while (nd > 1 && digits[nd - 1] == '0') digits[--nd] = '\0';
    char s[64];
    size_t n = 0;
    if (neg) s[n++] = '-';
    if (exp >= -4 && exp < 16) {
        if (exp < 0) {
            s[n++] = '0';
            s[n++] = '.';
            for (int i = 0; i < -exp - 1; i++) s[n++] = '0';
            for (size_t i = 0; i < nd; i++) s[n++] = digits[i];
        } else {
            for (int i = 0; i <= exp; i++) s[n++] = (size_t)i < nd ? digits[i] : '0';
            s[n++] = '.';
            if ((size_t)exp + 1 < nd)
                for (size_t i = (size_t)exp + 1; i < nd; i++) s[n++] = digits[i];
            else
                s[n++] = '0';
        }
        s[n] = '\0';
    } else {
        s[n++] = digits[0];
        if (nd > 1) {
            s[n++] = '.';
            for (size_t i = 1; i < nd; i++) s[n++] = digits[i];
        }
        s[n] = '\0';
        snprintf(s + n, sizeof s - n, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    }
    snprintf(out, cap, "%s", s);
}

/* transformers' _maybe_round: a float with more than 4 decimals as %.4f. */
static void py_round4(double v, char *out, size_t cap) {
    py_float(v, out, cap);
    const char *dot = strchr(out, '.');
    if (isfinite(v) && dot && !strchr(out, 'e') && strlen(dot + 1) > 4) snprintf(out, cap, "%.4f", v);
}

/* str.replace("_", " ").title() */
static void py_title(const char *s, char *out, size_t cap) {
    size_t n = 0;
    int prev_alpha = 0;
    for (; *s && n + 1 < cap; s++) {
        char c = *s == '_' ? ' ' : *s;
        int alpha = isalpha((unsigned char)c);
        out[n++] = alpha ? (char)(prev_alpha ? tolower((unsigned char)c) : toupper((unsigned char)c)) : c;
        prev_alpha = alpha;
    }
    out[n] = '\0';
}

/* ------------------------------------------------------------------- YAML */

static int yaml_plain_ok(const char *s) {
    if (!*s || isspace((unsigned char)s[strlen(s) - 1])) return 0;
    if (!isalnum((unsigned char)s[0]) && s[0] != '_' && s[0] != '.' && s[0] != '/') return 0;
    static const char *const special[] = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        if (!strcasecmp(s, special[i])) return 0;
    char *end;
    strtod(s, &end);
    if (!*end) return 0; /* it would read as a number */
    for (const char *p = s; *p; p++) {
        if (!isalnum((unsigned char)*p) && !strchr(" _./@:+-", *p)) return 0;
        if (*p == ':' && (p[1] == ' ' || !p[1])) return 0;
        if (*p == ' ' && p[1] == '#') return 0;
    }
    return 1;
}

static void yaml_str(sbert_sb *b, const char *s) {
    if (yaml_plain_ok(s)) {
        P("%s", s);
        return;
    }
    P("'");
    for (; *s; s++) {
        if (*s == '\'') P("''");
        else if (*s == '\n') P(" ");
        else P("%c", *s);
    }
    P("'");
}

static void yaml_float(sbert_sb *b, double v) {
    if (isnan(v)) P(".nan");
    else if (isinf(v)) P(v > 0 ? ".inf" : "-.inf");
    else {
        char f[40];
        py_float(v, f, sizeof f);
        P("%s", f);
    }
}

/* ---------------------------------------------------------------- tables */

/* transformers' make_markdown_table over cells [rows][cols] (row 0 the
 * header); left: sentence-transformers' .replace("-:|", "--|");
 * indent: prefix of every line. */
static void md_table(sbert_sb *b, char ***cells, size_t rows, size_t cols, int left, const char *indent) {
    size_t w[32] = {0};
    if (cols > 32) cols = 32;
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            if (strlen(cells[r][c]) > w[c]) w[c] = strlen(cells[r][c]);
    for (size_t r = 0; r < rows; r++) {
        P("%s", indent);
        for (size_t c = 0; c < cols; c++) P("| %s%*s", cells[r][c], (int)(w[c] - strlen(cells[r][c]) + 1), "");
        P("|\n");
        if (r == 0) {
            P("%s", indent);
            for (size_t c = 0; c < cols; c++) {
                P("|:");
                for (size_t k = 0; k < w[c]; k++) P("-");
                P("%s", left ? "-" : ":");
            }
            P("|\n");
        }
    }
}

/* Rows x cols of owned strings. */
typedef struct {
    char ***cell;
    size_t rows, cols;
} grid;

static int grid_init(grid *g, size_t rows, size_t cols) {
    g->rows = rows;
    g->cols = cols;
    g->cell = calloc(rows, sizeof *g->cell);
    if (!g->cell) return 0;
    for (size_t r = 0; r < rows; r++) {
        g->cell[r] = calloc(cols, sizeof **g->cell);
        if (!g->cell[r]) return 0;
    }
    return 1;
}

static void grid_set(grid *g, size_t r, size_t c, const char *fmt, ...) SBERT_PRINTF(4, 5);
static void grid_set(grid *g, size_t r, size_t c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = malloc(n > 0 ? (size_t)n + 1 : 1);
    if (!s) return;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    free(g->cell[r][c]);
    g->cell[r][c] = s;
}

static void grid_fill(grid *g) {
    for (size_t r = 0; r < g->rows; r++)
        for (size_t c = 0; c < g->cols; c++)
            if (!g->cell[r][c]) grid_set(g, r, c, "%s", "");
}

static void grid_free(grid *g) {
    for (size_t r = 0; g->cell && r < g->rows; r++) {
        for (size_t c = 0; g->cell[r] && c < g->cols; c++) free(g->cell[r][c]);
        free(g->cell[r]);
    }
    free(g->cell);
}

static int grid_ok(const grid *g) {
    for (size_t r = 0; r < g->rows; r++)
        for (size_t c = 0; c < g->cols; c++)
            if (!g->cell[r][c]) return 0;
    return 1;
}

/* ------------------------------------------------ what the card is about */

typedef struct {
    char id[512];       /* Hugging Face id, "" when unknown */
    char revision[64];  /* its commit, "" when unknown */
} hf_ref;

/* "…/{kind}--org--name/snapshots/{hash}[/…]" in the real path of `path`. */
static int cache_ref(const char *path, const char *kind, hf_ref *out) {
    char real[PATH_MAX];
    if (!realpath(path, real)) return 0;
    char pat[32];
    snprintf(pat, sizeof pat, "/%s--", kind);
    const char *p = strstr(real, pat);
    if (!p) return 0;
    p += strlen(pat);
    const char *slash = strchr(p, '/'), *sep = strstr(p, "--");
    if (!slash || !sep || sep > slash || strncmp(slash, "/snapshots/", 11)) return 0;
    snprintf(out->id, sizeof out->id, "%.*s/%.*s", (int)(sep - p), p, (int)(slash - sep - 2), sep + 2);
    const char *h = slash + 11, *e = strchr(h, '/');
    snprintf(out->revision, sizeof out->revision, "%.*s", (int)(e ? (size_t)(e - h) : strlen(h)), h);
    return 1;
}

static void base_model_of(const sbert_trainer *t, hf_ref *ref) {
    memset(ref, 0, sizeof *ref);
    const sbert_train_args *a = t->a;
    if (!strcasecmp(a->model, "static") || !strcasecmp(a->model, "StaticEmbedding")) return;
    if (sbert_dir_exists(a->model)) {
        cache_ref(a->model, "models", ref);
        return;
    }
    if (sbert_hf_is_model_id(a->model)) {
        snprintf(ref->id, sizeof ref->id, "%s", a->model);
        char snap[4200];
        if (sbert_hf_resolve(a->model, a->revision, snap, sizeof snap) == SBERT_OK) {
            const char *h = strrchr(snap, '/');
            snprintf(ref->revision, sizeof ref->revision, "%.63s", h ? h + 1 : snap);
        }
    }
}

/* The i-th item of a comma list, trimmed, into out ("" past the end). */
static void list_item(const char *list, size_t i, const char *sep, char *out, size_t cap) {
    out[0] = '\0';
    if (!list) return;
    const char *p = list;
    for (size_t k = 0; k < i; k++) {
        p = strstr(p, sep);
        if (!p) return;
        p += strlen(sep);
    }
    const char *e = strstr(p, sep);
    size_t n = e ? (size_t)(e - p) : strlen(p);
    while (n && isspace((unsigned char)*p)) p++, n--;
    while (n && isspace((unsigned char)p[n - 1])) n--;
    snprintf(out, cap, "%.*s", (int)n, p);
}

static size_t list_len(const char *list, const char *sep) {
    if (!list || !*list) return 0;
    size_t n = 1;
    for (const char *p = strstr(list, sep); p; p = strstr(p + strlen(sep), sep)) n++;
    return n;
}

/* A dataset's name (its Hugging Face id, else the file name) and id. */
static void dataset_ref(const char *path, char *name, size_t cap, hf_ref *ref) {
    memset(ref, 0, sizeof *ref);
    if (cache_ref(path, "datasets", ref)) snprintf(name, cap, "%s", ref->id);
    else {
        const char *s = strrchr(path, '/');
        snprintf(name, cap, "%s", s ? s + 1 : path);
    }
}

typedef struct {
    char cls[96], name[96], path[1024], size[160];
    char description[128];
} eval_info;

/* The evaluators of a set: class, name (from the names list), data file
 * (from the paths list), size. */
static size_t eval_infos(const sbert_evaluator_set *set, const char *names, const char *paths, eval_info *out,
                         size_t cap) {
    char classes[1024], summary[2048];
    sbert_evaluator_set_names(set, classes, sizeof classes);
    sbert_evaluator_set_summary(set, summary, sizeof summary);
    size_t n = list_len(classes, ", ");
    if (n > cap) n = cap;
    for (size_t i = 0; i < n; i++) {
        eval_info *e = &out[i];
        list_item(classes, i, ", ", e->cls, sizeof e->cls);
        list_item(names, i, ",", e->name, sizeof e->name);
        list_item(paths, i, ",", e->path, sizeof e->path);
        list_item(summary, i, "; ", e->size, sizeof e->size);
        /* BaseEvaluator.description: drop "Evaluator...", a space before each
         * inner capital; EmbeddingSimilarityEvaluator overrides it. */
        if (!strcmp(e->cls, "EmbeddingSimilarityEvaluator")) {
            snprintf(e->description, sizeof e->description, "Semantic Similarity");
            continue;
        }
        char c[96];
        snprintf(c, sizeof c, "%.95s", e->cls);
        char *ev = strstr(c, "Evaluator");
        if (ev) *ev = '\0';
        size_t k = 0;
        for (size_t j = 0; c[j] && k + 2 < sizeof e->description; j++) {
            if (j && islower((unsigned char)c[j - 1]) && isupper((unsigned char)c[j])) e->description[k++] = ' ';
            e->description[k++] = c[j];
        }
        e->description[k] = '\0';
    }
    return n;
}

/* The metric keys of evaluator e: those under its "{name}_" prefix (all of
 * them when it has no name). */
static int metric_of_eval(const eval_info *e, const char *key, const char **short_key) {
    size_t nl = strlen(e->name);
    if (!nl) {
        *short_key = key;
        return 1;
    }
    if (!strncmp(key, e->name, nl) && key[nl] == '_') {
        *short_key = key + nl + 1;
        return 1;
    }
    return 0;
}

/* The primary metric (full key) of evaluator e in res: the set's primary
 * when it is one of e's, else by e's class (the primary_metric each
 * sentence-transformers evaluator sets); "" when none is found. */
static void eval_primary(const eval_info *e, const sbert_eval_result *res, char *out, size_t cap) {
    static const struct {
        const char *cls, *suffix;
    } by_class[] = {{"EmbeddingSimilarityEvaluator", "spearman_cosine"},
                    {"InformationRetrievalEvaluator", "ndcg@10"},
                    {"TripletEvaluator", "accuracy"}};
    const char *sk;
    out[0] = '\0';
    if (res->primary[0] && metric_of_eval(e, res->primary, &sk)) {
        snprintf(out, cap, "%s", res->primary);
        return;
    }
    for (size_t c = 0; c < sizeof by_class / sizeof by_class[0]; c++) {
        if (strcmp(e->cls, by_class[c].cls)) continue;
        size_t sl = strlen(by_class[c].suffix);
        for (size_t i = 0; i < res->n; i++) {
            const char *k = res->m[i].key;
            if (metric_of_eval(e, k, &sk) && strlen(sk) >= sl && !strcmp(sk + strlen(sk) - sl, by_class[c].suffix)) {
                snprintf(out, cap, "%s", k);
                return;
            }
        }
    }
}

/* --------------------------------------------------------------- sections */

static void front_matter(sbert_sb *b, const sbert_trainer *t, const hf_ref *base, const char *model_name,
                         const eval_info *ev, size_t n_ev) {
    const sbert_train_args *a = t->a;
    card_kind kind = kind_of(t);
    P("---\ntags:\n- sentence-transformers\n%s- generated_from_trainer\n- dataset_size:%zu\n- ", kind.tags,
      t->train->n_rows);
    /* one loss tag per loss part (wrapper, base loss, added regularizer) of every loss, each once */
    const char *seen[3 * SBERT_TRAIN_MAX_SETS];
    size_t n_seen = 0;
    for (size_t k = 0; k < a->n_losses; k++) {
        const sbert_loss_spec *sp = &a->losses[k];
        const sbert_loss_def *parts[3] = {sp->wrapper, sp->def, sp->added};
        for (int j = 0; j < 3; j++) {
            if (!parts[j]) continue;
            int dup = 0;
            for (size_t i = 0; i < n_seen; i++) dup |= !strcmp(seen[i], parts[j]->name);
            if (dup) continue;
            seen[n_seen++] = parts[j]->name;
            char tag[160];
            snprintf(tag, sizeof tag, "loss:%s", parts[j]->name);
            if (n_seen > 1) P("- ");
            yaml_str(b, tag);
            P("\n");
        }
    }
    if (base->id[0]) {
        P("base_model: ");
        yaml_str(b, base->id);
        P("\n");
    }
    /* datasets: the training data, then each evaluator's data */
    P("datasets:\n");
    char name[1024];
    hf_ref r;
    dataset_ref(a->train_data, name, sizeof name, &r);
    P("- ");
    yaml_str(b, r.id[0] ? r.id : a->train_data);
    P("\n");
    for (size_t i = 0; i < n_ev; i++) {
        if (!strcmp(ev[i].path, a->train_data)) continue;
        int dup = 0;
        for (size_t j = 0; j < i; j++) dup |= !strcmp(ev[j].path, ev[i].path);
        if (dup) continue;
        dataset_ref(ev[i].path, name, sizeof name, &r);
        P("- ");
        yaml_str(b, r.id[0] ? r.id : ev[i].path);
        P("\n");
    }
    P("pipeline_tag: %s\nlibrary_name: sentence-transformers\n", kind.pipeline_tag);
    if (t->final_res.n) {
        P("metrics:\n");
        for (size_t i = 0; i < t->final_res.n; i++) {
            const char *k = t->final_res.m[i].key, *sk = k;
            for (size_t e = 0; e < n_ev; e++)
                if (metric_of_eval(&ev[e], k, &sk)) break;
            int dup = 0;
            for (size_t j = 0; j < i && !dup; j++) {
                const char *k2 = t->final_res.m[j].key, *sk2 = k2;
                for (size_t e = 0; e < n_ev; e++)
                    if (metric_of_eval(&ev[e], k2, &sk2)) break;
                dup = !strcmp(sk, sk2);
            }
            if (dup) continue;
            P("- ");
            yaml_str(b, sk);
            P("\n");
        }
        P("model-index:\n- name: ");
        yaml_str(b, model_name);
        P("\n  results:\n");
        for (size_t e = 0; e < n_ev; e++) {
            char task_type[128], ds_name[128];
            snprintf(task_type, sizeof task_type, "%s", ev[e].description);
            for (char *p = task_type; *p; p++) *p = *p == ' ' ? '-' : (char)tolower((unsigned char)*p);
            snprintf(ds_name, sizeof ds_name, "%s", ev[e].name[0] ? ev[e].name : "Unknown");
            for (char *p = ds_name; *p; p++)
                if (*p == '_' || *p == '-') *p = ' ';
            P("  - task:\n      type: ");
            yaml_str(b, task_type);
            P("\n      name: ");
            yaml_str(b, ev[e].description);
            P("\n    dataset:\n      name: ");
            yaml_str(b, ds_name);
            P("\n      type: ");
            yaml_str(b, ev[e].name[0] ? ev[e].name : "unknown");
            P("\n    metrics:\n");
            for (size_t i = 0; i < t->final_res.n; i++) {
                const char *sk;
                if (!metric_of_eval(&ev[e], t->final_res.m[i].key, &sk)) continue;
                char pretty[128];
                py_title(sk, pretty, sizeof pretty);
                P("    - type: ");
                yaml_str(b, sk);
                P("\n      value: ");
                yaml_float(b, t->final_res.m[i].value);
                P("\n      name: ");
                yaml_str(b, pretty);
                P("\n");
            }
        }
    }
    P("---\n\n");
}

/* Python-style repr of a JSON value (module configs in the architecture). */
static void py_value(sbert_sb *b, const cJSON *v) {
    if (cJSON_IsString(v)) {
        P("'");
        for (const char *s = v->valuestring; *s; s++) P(*s == '\'' ? "\\'" : "%c", *s);
        P("'");
    } else if (cJSON_IsBool(v)) {
        P(cJSON_IsTrue(v) ? "True" : "False");
    } else if (cJSON_IsNull(v)) {
        P("None");
    } else if (cJSON_IsNumber(v)) {
        if (v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 1e15) P("%.0f", v->valuedouble);
        else {
            char f[40];
            py_float(v->valuedouble, f, sizeof f);
            P("%s", f);
        }
    } else if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
        int obj = cJSON_IsObject(v);
        P(obj ? "{" : "[");
        for (const cJSON *it = v->child; it; it = it->next) {
            if (obj) P("'%s': ", it->string);
            py_value(b, it);
            if (it->next) P(", ");
        }
        P(obj ? "}" : "]");
    }
}

/* SentenceTransformer(\n  (0): Class({config})\n ...) from the saved folder. */
static void architecture(sbert_sb *b, const char *dir, const char *model_cls) {
    char path[4400];
    cJSON *mods = NULL;
    P("```\n%s(\n", model_cls);
    if (sbert_path_join(path, sizeof path, dir, "modules.json") == SBERT_OK && sbert_file_exists(path) &&
        sbert_json_load(path, &mods) == SBERT_OK && cJSON_IsArray(mods)) {
        int i = 0;
        for (const cJSON *m = mods->child; m; m = m->next, i++) {
            const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(m, "type"));
            const char *sub = cJSON_GetStringValue(cJSON_GetObjectItem(m, "path"));
            const char *cls = type ? strrchr(type, '.') : NULL;
            cls = cls ? cls + 1 : (type ? type : "Module");
            P("  (%d): %s(", i, cls);
            char cfgp[4600];
            cJSON *cfg = NULL;
            int is_transformer = !strcmp(cls, "Transformer");
            if (is_transformer) snprintf(cfgp, sizeof cfgp, "%s/%s%ssentence_bert_config.json", dir, sub ? sub : "",
                                         sub && *sub ? "/" : "");
            else snprintf(cfgp, sizeof cfgp, "%s/%s/config.json", dir, sub ? sub : "");
            if (sub && (*sub || is_transformer) && sbert_file_exists(cfgp) && sbert_json_load(cfgp, &cfg) == SBERT_OK &&
                cJSON_IsObject(cfg)) {
                if (is_transformer) {
                    char hf[4600];
                    cJSON *hc = NULL;
                    snprintf(hf, sizeof hf, "%s/%s%sconfig.json", dir, sub, *sub ? "/" : "");
                    if (sbert_file_exists(hf) && sbert_json_load(hf, &hc) == SBERT_OK) {
                        const cJSON *arch = cJSON_GetArrayItem(cJSON_GetObjectItem(hc, "architectures"), 0);
                        if (cJSON_IsString(arch)) cJSON_AddStringToObject(cfg, "architecture", arch->valuestring);
                    }
                    cJSON_Delete(hc);
                }
                py_value(b, cfg);
            } else {
                P("{}");
            }
            cJSON_Delete(cfg);
            P(")\n");
        }
    }
    cJSON_Delete(mods);
    P(")\n```\n\n");
}

/* torch's print of a similarity matrix (precision 4, no sci mode), as "# " lines. */
static void torch_matrix(sbert_sb *b, const float *s, size_t rows, size_t cols) {
    int w = 0;
    char f[64];
    for (size_t i = 0; i < rows * cols; i++) {
        int n = snprintf(f, sizeof f, "%.4f", (double)s[i]);
        if (n > w) w = n;
    }
    for (size_t r = 0; r < rows; r++) {
        P("# %s", r ? "        [" : "tensor([[");
        for (size_t c = 0; c < cols; c++) P("%*.4f%s", w, (double)s[r * cols + c], c + 1 < cols ? ", " : "");
        P("]%s\n", r + 1 < rows ? "," : "])");
    }
}

/* Encode texts [n] into a [n, dim] buffer (malloc'd), with a prompt name or NULL. */
static float *encode(const sbert_trainer *t, const char *const *texts, size_t n, const char *prompt_name,
                     size_t *dim) {
    sbert_encode_options o = sbert_encode_options_default();
    if (prompt_name && sbert_model_prompt(t->model, prompt_name)) o.prompt_name = prompt_name;
    *dim = sbert_model_encode_dim(t->model, &o);
    float *e = malloc(n * *dim * sizeof *e);
    if (e && sbert_model_encode(t->model, texts, n, &o, e) != SBERT_OK) {
        free(e);
        e = NULL;
    }
    return e;
}

static void usage(sbert_sb *b, const sbert_trainer *t, const char *where, int ir) {
    static const char *const plain[] = {"The weather is lovely today.", "It's so sunny outside!",
                                        "He drove to the stadium."};
    static const char *const query[] = {"Which planet is known as the Red Planet?"};
    static const char *const docs[] = {
        "Venus is often called Earth's twin because of its similar size and proximity.",
        "Mars, known for its reddish appearance, is often referred to as the Red Planet.",
        "Saturn, famous for its rings, is sometimes mistaken for the Red Planet."};
    size_t dim = sbert_model_dim(t->model);
    const char *fn = sbert_model_similarity_fn_name(t->model);
    P("## Usage\n\n### Direct Usage (Sentence Transformers)\n\nFirst install the Sentence Transformers library:\n\n"
      "```bash\npip install -U sentence-transformers\n```\nThen you can load this model and run inference.\n"
      "```python\nfrom sentence_transformers import SentenceTransformer\n\n");
    if (t->a->hub_model_id) P("# Download from the 🤗 Hub\nmodel = SentenceTransformer(\"%s\")\n", t->a->hub_model_id);
    else P("# Load from the folder this README is in\nmodel = SentenceTransformer(\"%s\")\n", where);
    P("# Run inference\n");
    float *sim = NULL;
    size_t rows, cols;
    if (ir) {
        P("queries = [\n    \"%s\",\n]\ndocuments = [\n", query[0]);
        for (int i = 0; i < 3; i++) P("    \"%s\",\n", docs[i]);
        P("]\nquery_embeddings = model.encode_query(queries)\ndocument_embeddings = model.encode_document(documents)\n"
          "print(query_embeddings.shape, document_embeddings.shape)\n# [1, %zu] [3, %zu]\n\n"
          "# Get the similarity scores for the embeddings\n"
          "similarities = model.similarity(query_embeddings, document_embeddings)\n",
          dim, dim);
        size_t dq, dd;
        float *q = encode(t, query, 1, "query", &dq), *d = encode(t, docs, 3, "document", &dd);
        rows = 1, cols = 3;
        sim = q && d && dq == dd ? malloc(3 * sizeof *sim) : NULL;
        if (sim && sbert_similarity(fn, q, 1, d, 3, dq, sim) != SBERT_OK) {
            free(sim);
            sim = NULL;
        }
        free(q);
        free(d);
    } else {
        P("sentences = [\n");
        for (int i = 0; i < 3; i++) P("    %s%s%s,\n", strchr(plain[i], '\'') ? "\"" : "'", plain[i],
                                      strchr(plain[i], '\'') ? "\"" : "'");
        P("]\nembeddings = model.encode(sentences)\nprint(embeddings.shape)\n# [3, %zu]\n\n"
          "# Get the similarity scores for the embeddings\nsimilarities = model.similarity(embeddings, embeddings)\n",
          dim);
        size_t de;
        float *e = encode(t, plain, 3, NULL, &de);
        rows = cols = 3;
        sim = e ? malloc(9 * sizeof *sim) : NULL;
        if (sim && sbert_similarity(fn, e, 3, e, 3, de, sim) != SBERT_OK) {
            free(sim);
            sim = NULL;
        }
        free(e);
    }
    if (sim) {
        P("print(similarities)\n");
        torch_matrix(b, sim, rows, cols);
    } else {
        P("print(similarities.shape)\n# [%zu, %zu]\n", rows, cols);
    }
    free(sim);
    P("```\n\n### Direct Usage (sbert)\n\nThe same with the `sbert` command-line tool (C, no Python):\n\n```sh\n");
    if (ir) {
        P("printf '%%s\\n' \"%s\" > queries.txt\nprintf '%%s\\n' \\\n", query[0]);
        for (int i = 0; i < 3; i++) P("  \"%s\"%s\n", docs[i], i < 2 ? " \\" : " > documents.txt");
        P("sbert similarity --model %s --input queries.txt%s --input2 documents.txt%s\n", where,
          sbert_model_prompt(t->model, "query") ? " --prompt-name query" : "",
          sbert_model_prompt(t->model, "document") ? " --prompt-name2 document" : "");
    } else {
        P("printf '%%s\\n' \"%s\" \"%s\" \"%s\" > sentences.txt\n", plain[0], plain[1], plain[2]);
        P("sbert encode --model %s --input sentences.txt --output embeddings.npy   # [3, %zu] float32\n"
          "sbert similarity --model %s --input sentences.txt --input2 sentences.txt\n",
          where, dim, where);
    }
    P("```\n\n");
}

/* Usage of a CrossEncoder: predict and rank, in Python and with sbert. */
static void usage_cross(sbert_sb *b, const sbert_trainer *t, const char *where) {
    P("## Usage\n\n### Direct Usage (Sentence Transformers)\n\nFirst install the Sentence Transformers library:\n\n"
      "```bash\npip install -U sentence-transformers\n```\nThen you can load this model and run inference.\n"
      "```python\nfrom sentence_transformers import CrossEncoder\n\n");
    if (t->a->hub_model_id) P("# Download from the 🤗 Hub\nmodel = CrossEncoder(\"%s\")\n", t->a->hub_model_id);
    else P("# Load from the folder this README is in\nmodel = CrossEncoder(\"%s\")\n", where);
    P("# Get scores for pairs of texts\npairs = [\n    [\"How many calories in an egg\", \"There are on average "
      "between 55 and 80 calories in an egg depending on its size.\"],\n    [\"How many calories in an egg\", \"Egg "
      "whites are very low in calories.\"],\n]\nscores = model.predict(pairs)\nprint(scores.shape)\n# (2,%s)\n\n",
      t->model->full_dim == 1 ? "" : " num_labels");
    if (t->model->full_dim == 1)
        P("# Or rank different texts based on similarity to a single text\nranks = model.rank(\n    \"How many calories "
          "in an egg\",\n    [\"There are on average between 55 and 80 calories in an egg depending on its size.\",\n"
          "     \"Egg whites are very low in calories.\"],\n)\n# [{'corpus_id': ..., 'score': ...}, ...]\n");
    P("```\n\n### Direct Usage (sbert)\n\nThe same with the `sbert` command-line tool (C, no Python):\n\n```sh\n"
      "sbert predict --model %s --input pairs.jsonl     # one score per pair\n",
      where);
    if (t->model->full_dim == 1)
        P("sbert rerank --model %s --query \"How many calories in an egg\" --documents passages.txt --top-k 10\n", where);
    P("```\n\n");
}

/* One evaluation table (ST's Metric | Value, the primary in bold) plus the baseline. */
static void eval_table(sbert_sb *b, const sbert_eval_result *res, const sbert_eval_result *baseline,
                       const eval_info *e) {
    size_t n = 0;
    for (size_t i = 0; i < res->n; i++) {
        const char *sk;
        n += (size_t)metric_of_eval(e, res->m[i].key, &sk);
    }
    grid g;
    if (!grid_init(&g, n + 1, baseline ? 3 : 2)) {
        grid_free(&g);
        return;
    }
    grid_set(&g, 0, 0, "Metric");
    grid_set(&g, 0, 1, "Value");
    if (baseline) grid_set(&g, 0, 2, "Baseline");
    char prim[128];
    eval_primary(e, res, prim, sizeof prim);
    size_t r = 1;
    for (size_t i = 0; i < res->n; i++) {
        const char *sk;
        if (!metric_of_eval(e, res->m[i].key, &sk)) continue;
        int primary = !strcmp(res->m[i].key, prim);
        char v[48], bv[48];
        py_round4(res->m[i].value, v, sizeof v);
        grid_set(&g, r, 0, primary ? "**%s**" : "%s", sk);
        grid_set(&g, r, 1, primary ? "**%s**" : "%s", v);
        if (baseline) {
            py_round4(sbert_eval_get(baseline, res->m[i].key), bv, sizeof bv);
            grid_set(&g, r, 2, "%s", bv);
        }
        r++;
    }
    grid_fill(&g);
    if (grid_ok(&g)) md_table(b, g.cell, g.rows, g.cols, 1, "");
    grid_free(&g);
}

static void evaluation(sbert_sb *b, const sbert_trainer *t, const eval_info *eval_ev, size_t n_eval_ev) {
    if (!t->final_res.n) return;
    P("## Evaluation\n\n### Metrics\n");
    for (int test = 0; test < 2; test++) {
        if (test && (!t->has_test || !t->tests)) break;
        const sbert_eval_result *res = test ? &t->test_res : &t->final_res;
        eval_info test_ev[16];
        const eval_info *ev = eval_ev;
        size_t n_ev = n_eval_ev;
        if (test) {
            n_ev = eval_infos(t->tests, t->a->evaluator_name, t->a->test_data, test_ev, 16);
            ev = test_ev;
        }
        for (size_t e = 0; e < n_ev; e++) {
            P("\n#### %s%s\n\n", ev[e].description, test ? " (test)" : "");
            if (ev[e].name[0]) P("* Dataset: `%s`\n", ev[e].name);
            P("* Evaluated with [<code>%s</code>](https://sbert.net/docs/package_reference/sentence_transformer/"
              "evaluation.html#sentence_transformers.sentence_transformer.evaluation.%s) on `%s` (%s)\n\n",
              ev[e].cls, ev[e].cls, ev[e].path, ev[e].size);
            eval_table(b, res, test ? NULL : &t->baseline_res, &ev[e]);
        }
    }
    P("\nBaseline: the model before training, evaluated the same way.\n\n");
}

/* Token count statistics of an input column, and the samples table. */
static void training_dataset(sbert_sb *b, const sbert_trainer *t) {
    const sbert_train_args *a = t->a;
    const sbert_dataset *d = t->train;
    char name[1024];
    hf_ref r;
    dataset_ref(a->train_data, name, sizeof name, &r);
    P("## Training Details\n\n### Training Dataset\n\n#### %s\n\n* Dataset: ", name);
    if (r.id[0]) P("[%s](https://huggingface.co/datasets/%s) at %.7s\n", r.id, r.id, r.revision);
    else P("`%s`\n", a->train_data);
    char size[32];
    snprintf(size, sizeof size, "%zu", d->n_rows);
    size_t sl = strlen(size);
    P("* Size: ");
    for (size_t i = 0; i < sl; i++) P("%c%s", size[i], (sl - i - 1) % 3 == 0 && i + 1 < sl ? "," : "");
    P(" training samples\n* Columns: ");
    for (size_t c = 0; c < d->n_cols; c++)
        P("%s<code>%s</code>", c == 0 ? "" : (c + 1 == d->n_cols ? (d->n_cols == 2 ? " and " : ", and ") : ", "),
          d->cols[c].name);
    size_t k = d->n_rows < 100 ? d->n_rows : 100;
    P("\n* Approximate statistics based on the first %zu samples:\n", k);
    grid g;
    if (grid_init(&g, 3, d->n_cols + 1)) {
        grid_set(&g, 0, 0, "%s", "");
        grid_set(&g, 1, 0, "type");
        grid_set(&g, 2, 0, "details");
        for (size_t c = 0; c < d->n_cols; c++) {
            grid_set(&g, 0, c + 1, "%s", d->cols[c].name);
            int input = -1;
            for (size_t i = 0; i < t->n_inputs; i++)
                if (sbert_dataset_input_column(d, i) == (int)c) input = (int)i;
            if (d->cols[c].kind == SBERT_COL_TEXT_LIST || d->cols[c].kind == SBERT_COL_NUMBER_LIST) {
                size_t mn = SIZE_MAX, mx = 0, sum = 0;
                for (size_t i = 0; i < k; i++) {
                    size_t len = d->cols[c].off[i + 1] - d->cols[c].off[i];
                    mn = len < mn ? len : mn;
                    mx = len > mx ? len : mx;
                    sum += len;
                }
                grid_set(&g, 1, c + 1, "list");
                grid_set(&g, 2, c + 1, "<ul><li>min: %zu elements</li><li>mean: %.2f elements</li><li>max: %zu "
                         "elements</li></ul>", k ? mn : 0, k ? (double)sum / (double)k : 0.0, mx);
            } else if (input >= 0 && t->cols && d->cols[c].kind == SBERT_COL_TEXT) {
                const sbert_packed *p = &t->cols[input];
                size_t mn = SIZE_MAX, mx = 0, sum = 0;
                for (size_t i = 0; i < k && i < p->n; i++) {
                    size_t len = p->off[i + 1] - p->off[i];
                    mn = len < mn ? len : mn;
                    mx = len > mx ? len : mx;
                    sum += len;
                }
                grid_set(&g, 1, c + 1, "string");
                grid_set(&g, 2, c + 1, "<ul><li>min: %zu tokens</li><li>mean: %.2f tokens</li><li>max: %zu tokens</li></ul>",
                         k ? mn : 0, k ? (double)sum / (double)k : 0.0, mx);
            } else if (d->cols[c].kind == SBERT_COL_NUMBER) {
                double mn = INFINITY, mx = -INFINITY, sum = 0;
                int integral = 1;
                for (size_t i = 0; i < k; i++) {
                    double v = d->cols[c].num[i];
                    mn = fmin(mn, v);
                    mx = fmax(mx, v);
                    sum += v;
                    integral &= v == floor(v);
                }
                char s1[40], s2[40], s3[40];
                py_float(round(mn * 100) / 100, s1, sizeof s1);
                py_float(round(sum / (double)(k ? k : 1) * 100) / 100, s2, sizeof s2);
                py_float(round(mx * 100) / 100, s3, sizeof s3);
                grid_set(&g, 1, c + 1, integral ? "int" : "float");
                grid_set(&g, 2, c + 1, "<ul><li>min: %s</li><li>mean: %s</li><li>max: %s</li></ul>", s1, s2, s3);
            } else {
                grid_set(&g, 1, c + 1, "string");
            }
        }
        grid_fill(&g);
        if (grid_ok(&g)) md_table(b, g.cell, g.rows, g.cols, 1, "  ");
    }
    grid_free(&g);
    /* Samples: the first 3 rows. */
    size_t ns = d->n_rows < 3 ? d->n_rows : 3;
    P("* Samples:\n");
    if (grid_init(&g, ns + 1, d->n_cols)) {
        for (size_t c = 0; c < d->n_cols; c++) grid_set(&g, 0, c, "%s", d->cols[c].name);
        for (size_t i = 0; i < ns; i++)
            for (size_t c = 0; c < d->n_cols; c++) {
                if (d->cols[c].kind == SBERT_COL_NUMBER) {
                    char v[40];
                    py_float(d->cols[c].num[i], v, sizeof v);
                    grid_set(&g, i + 1, c, "<code>%s</code>", v);
                    continue;
                }
                if (d->cols[c].kind == SBERT_COL_TEXT_LIST || d->cols[c].kind == SBERT_COL_NUMBER_LIST) {
                    /* a list: its first items, as Python prints a list */
                    const sbert_column *col = &d->cols[c];
                    sbert_sb cell = {0};
                    sbert_sb_printf(&cell, "[");
                    size_t a0 = col->off[i], a1 = col->off[i + 1];
                    for (size_t j = a0; j < a1 && j < a0 + 3; j++) {
                        if (col->kind == SBERT_COL_NUMBER_LIST) {
                            char v[40];
                            py_float(col->nums[j], v, sizeof v);
                            sbert_sb_printf(&cell, "%s%s", j > a0 ? ", " : "", v);
                        } else {
                            sbert_sb_printf(&cell, "%s'", j > a0 ? ", " : "");
                            for (const char *q = col->items[j]; *q && q < col->items[j] + 200; q++) {
                                if (*q == '|') sbert_sb_printf(&cell, "\\|");
                                else if (*q == '<') sbert_sb_printf(&cell, "&lt;");
                                else if (*q == '\n') sbert_sb_printf(&cell, " ");
                                else sbert_sb_put(&cell, q, 1);
                            }
                            sbert_sb_printf(&cell, "'");
                        }
                    }
                    sbert_sb_printf(&cell, "%s]", a1 - a0 > 3 ? ", ..." : "");
                    grid_set(&g, i + 1, c, "<code>%s</code>", cell.s ? cell.s : "");
                    sbert_sb_free(&cell);
                    continue;
                }
                const char *s = d->cols[c].text[i];
                sbert_sb cell = {0};
                size_t len = strlen(s);
                for (size_t j = 0; j < len && j < 1000; j++) {
                    if (s[j] == '\n') sbert_sb_printf(&cell, "<br>");
                    else if (s[j] == '|') sbert_sb_printf(&cell, "\\|");
                    else if (s[j] == '<') sbert_sb_printf(&cell, "&lt;");
                    else sbert_sb_put(&cell, s + j, 1);
                }
                if (len > 1000) sbert_sb_printf(&cell, "...");
                grid_set(&g, i + 1, c, "<code>%s</code>", cell.s ? cell.s : "");
                sbert_sb_free(&cell);
            }
        grid_fill(&g);
        if (grid_ok(&g)) md_table(b, g.cell, g.rows, g.cols, 1, "  ");
    }
    grid_free(&g);
    /* Each loss and its base loss's parameters, as sentence-transformers' get_config_dict JSON. */
    for (size_t li = 0; li < a->n_losses; li++) {
        const sbert_loss_spec *sp = &a->losses[li];
        const sbert_loss_def *top = sp->wrapper ? sp->wrapper : sp->def;
        char lower[96], lname[300];
        snprintf(lower, sizeof lower, "%s", top->name);
        for (char *p = lower; *p; p++) *p = (char)tolower((unsigned char)*p);
        if (a->loss_names[li][0]) P("* Loss of `%s`", a->loss_names[li]);
        else P("* Loss");
        P(": [<code>%s</code>](https://sbert.net/docs/package_reference/sentence_transformer/losses.html#%s)",
          sbert_loss_spec_name(sp, lname, sizeof lname), lower);
        const sbert_loss_def *ld = sp->def;
        if (ld->n_params) {
            P(" with these parameters:\n  ```json\n  {\n");
            for (size_t i = 0; i < ld->n_params; i++) {
                const sbert_loss_param *prm = &ld->params[i];
                P("      \"%s\": ", prm->key);
                if (prm->kind == SBERT_LP_CHOICE || prm->kind == SBERT_LP_LIST || prm->kind == SBERT_LP_TEXT ||
                    isnan(sp->values.num[i]))
                    P("\"%s\"", sp->values.str[i] ? sp->values.str[i] : "");
                else if (prm->kind == SBERT_LP_INT) P("%.0f", sp->values.num[i]);
                else if (prm->kind == SBERT_LP_BOOL) P("%s", sp->values.num[i] != 0 ? "true" : "false");
                else {
                    char v[40];
                    py_float(sp->values.num[i], v, sizeof v);
                    P("%s", v);
                }
                P("%s\n", i + 1 < ld->n_params ? "," : "");
            }
            P("  }\n  ```");
        }
        P("\n");
    }
    P("\n");
}

/* sentence-transformers leaves these TrainingArguments out of the card. */
static int ignored_arg(const char *key) {
    static const char *const keys[] = {"output_dir",   "logging_strategy",      "logging_first_step", "logging_steps",
                                       "eval_strategy", "eval_steps",           "save_strategy",      "save_steps",
                                       "save_total_limit", "metric_for_best_model", "greater_is_better", "report_to",
                                       "run_name"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!strcmp(key, keys[i])) return 1;
    return 0;
}

static void arg_text(const sbert_train_arg_value *v, char *out, size_t cap) {
    switch (v->kind) {
    case SBERT_ARG_STR: snprintf(out, cap, "%s", v->str ? v->str : "None"); break;
    case SBERT_ARG_NUM: py_float(v->num, out, cap); break;
    case SBERT_ARG_INT: snprintf(out, cap, "%lld", (long long)v->i); break;
    case SBERT_ARG_BOOL: snprintf(out, cap, "%s", v->i ? "True" : "False"); break;
    }
}

static void hyperparameters(sbert_sb *b, const sbert_trainer *t) {
    sbert_train_arg_value v;
    size_t first = 0;
    for (size_t i = 0; sbert_train_arg_get(t->a, i, &v); i++)
        if (!strcmp(v.key, "num_train_epochs")) first = i;
    char val[512];
    P("### Training Hyperparameters\n#### Non-Default Hyperparameters\n\n");
    for (size_t i = first; sbert_train_arg_get(t->a, i, &v); i++) {
        if (ignored_arg(v.key) || !v.non_default) continue;
        arg_text(&v, val, sizeof val);
        P("- `%s`: %s\n", v.key, val);
    }
    P("\n#### All Hyperparameters\n<details><summary>Click to expand</summary>\n\n");
    for (size_t i = first; sbert_train_arg_get(t->a, i, &v); i++) {
        if (ignored_arg(v.key)) continue;
        arg_text(&v, val, sizeof val);
        P("- `%s`: %s\n", v.key, val);
    }
    P("\n</details>\n\n#### sbert recipe\n\nThe run's keys as given (recipe file and command line), for `sbert train`:\n\n"
      "```yaml\n");
    for (size_t i = 0; i < sbert_recipe_count(t->recipe); i++) {
        const char *k, *s;
        sbert_recipe_entry(t->recipe, i, &k, &s);
        P("%s: %s\n", k, s);
    }
    P("```\n\n");
}

/* ST's training logs table: Epoch | Step | Training Loss | primary metric(s),
 * one row per step (an evaluation joins the row of its step). */
static void training_logs(sbert_sb *b, const sbert_trainer *t, const eval_info *ev, size_t n_ev) {
    const cJSON *h = t->history;
    enum { MAXC = 17 };
    char cols[MAXC][128];
    size_t ncols = 0;
    for (size_t e = 0; e < n_ev && ncols + 1 < MAXC; e++) {
        char prim[128];
        eval_primary(&ev[e], &t->final_res, prim, sizeof prim);
        if (prim[0]) snprintf(cols[ncols++], sizeof cols[0], "eval_%.120s", prim);
    }
    const char *mk = t->metric_key; /* "eval_{metric_for_best_model}" */
    int seen = 0;
    for (size_t c = 0; c < ncols; c++) seen |= !strcmp(cols[c], mk);
    if (mk[0] && !seen) snprintf(cols[ncols++], sizeof cols[0], "%s", mk);
    size_t n = 0;
    for (const cJSON *e = h ? h->child : NULL; e; e = e->next) n++;
    grid g;
    if (!n || !grid_init(&g, n + 1, 3 + ncols)) {
        if (n) grid_free(&g);
        return;
    }
    grid_set(&g, 0, 0, "Epoch");
    grid_set(&g, 0, 1, "Step");
    grid_set(&g, 0, 2, "Training Loss");
    for (size_t c = 0; c < ncols; c++) grid_set(&g, 0, 3 + c, "%s", cols[c] + 5);
    size_t rows = 1;
    double last_step = -1;
    int bold_any = 0;
    for (const cJSON *e = h->child; e; e = e->next) {
        const cJSON *step = cJSON_GetObjectItem(e, "step"), *epoch = cJSON_GetObjectItem(e, "epoch");
        const cJSON *loss = cJSON_GetObjectItem(e, "loss");
        const cJSON *m[MAXC] = {NULL};
        int has = cJSON_IsNumber(loss);
        for (size_t c = 0; c < ncols; c++) {
            m[c] = cJSON_GetObjectItem(e, cols[c]);
            has |= cJSON_IsNumber(m[c]);
        }
        if (!has || !cJSON_IsNumber(step)) continue;
        size_t r = rows;
        if (rows > 1 && step->valuedouble == last_step) r = rows - 1;
        else {
            char ep[40];
            py_round4(cJSON_IsNumber(epoch) ? epoch->valuedouble : 0.0, ep, sizeof ep);
            grid_set(&g, r, 0, "%s", ep);
            grid_set(&g, r, 1, "%.0f", step->valuedouble);
            rows++;
        }
        last_step = step->valuedouble;
        char v[48];
        if (cJSON_IsNumber(loss)) {
            py_round4(loss->valuedouble, v, sizeof v);
            grid_set(&g, r, 2, "%s", v);
        }
        for (size_t c = 0; c < ncols; c++)
            if (cJSON_IsNumber(m[c])) {
                py_round4(m[c]->valuedouble, v, sizeof v);
                grid_set(&g, r, 3 + c, "%s", v);
            }
    }
    for (size_t r = 1; r < rows; r++)
        for (size_t c = 0; c < g.cols; c++)
            if (!g.cell[r][c]) grid_set(&g, r, c, "-");
    /* The row of the model that was kept (load_best_model_at_end) in bold. */
    if (t->a->load_best && t->has_best)
        for (size_t r = 1; r < rows; r++)
            if (g.cell[r][1] && atoll(g.cell[r][1]) == t->best_step)
                for (size_t c = 0; c < g.cols; c++) {
                    grid_set(&g, r, c, "**%s**", g.cell[r][c]);
                    bold_any = 1;
                }
    g.rows = rows;
    grid_fill(&g);
    P("### Training Logs\n");
    if (rows - 1 > 100) P("<details><summary>Click to expand</summary>\n\n");
    if (grid_ok(&g)) md_table(b, g.cell, g.rows, g.cols, 0, "");
    if (bold_any) P("\n* The bold row denotes the saved checkpoint.");
    if (rows - 1 > 100) P("\n</details>");
    P("\n");
    g.rows = n + 1;
    grid_free(&g);
}

static void duration(sbert_sb *b, double s) {
    if (s < 60) P("%.1f seconds", s);
    else if (s < 3600) P("%.1f minutes", s / 60);
    else if (s < 86400) P("%.1f hours", s / 3600);
    else P("%.1f days", s / 86400);
}

/* ------------------------------------------------------------------- card */

sbert_status sbert_model_card_write(const sbert_trainer *t, const char *dir) {
    const sbert_train_args *a = t->a;
    /* The folder this card is published as: dir without its ".tmp.PID". */
    char where[4200];
    snprintf(where, sizeof where, "%s", dir);
    char *tmp = strstr(where, ".tmp.");
    if (tmp && strspn(tmp + 5, "0123456789") == strlen(tmp + 5)) *tmp = '\0';

    /* training_curves.svg beside the card */
    char *svg = NULL;
    size_t svg_len = 0;
    char title[512];
    snprintf(title, sizeof title, "Training curves: %s", a->run_name);
    cJSON *empty = t->history ? NULL : cJSON_CreateArray();
    SBERT_TRY(sbert_plot_history_svg(t->history ? t->history : empty, title, &svg, &svg_len));
    cJSON_Delete(empty);
    char path[4400];
    sbert_status st = sbert_path_join(path, sizeof path, dir, "training_curves.svg");
    if (st == SBERT_OK) st = sbert_write_file_atomic(path, svg, svg_len);
    free(svg);
    SBERT_TRY(st);

    hf_ref base;
    base_model_of(t, &base);
    char model_name[700];
    card_kind kind = kind_of(t);
    if (base.id[0]) snprintf(model_name, sizeof model_name, "%s based on %s", kind.cls, base.id);
    else snprintf(model_name, sizeof model_name, "%s", kind.cls);
    eval_info ev[16];
    size_t n_ev = eval_infos(t->evals, a->evaluator_name, a->eval_data, ev, 16);
    int ir = sbert_dataset_find_column(t->train, "query") >= 0 || sbert_dataset_find_column(t->train, "question") >= 0;

    sbert_sb sb = {0}, *b = &sb;
    front_matter(b, t, &base, model_name, ev, n_ev);

    char train_name[1024];
    hf_ref tr;
    dataset_ref(a->train_data, train_name, sizeof train_name, &tr);
    P("# %s\n\nThis is a [sentence-transformers](https://www.SBERT.net) model ", model_name);
    if (base.id[0]) P("finetuned from [%s](https://huggingface.co/%s)", base.id, base.id);
    else P("trained");
    if (tr.id[0]) P(" on the [%s](https://huggingface.co/datasets/%s) dataset", tr.id, tr.id);
    else P(" on the %s dataset", train_name);
    if (t->model->kind == SBERT_KIND_CROSS_ENCODER)
        P(". It computes %s for pairs of texts and can be used for %s.\n\n",
          t->model->full_dim == 1 ? "scores" : "class scores",
          t->model->full_dim == 1 ? "text reranking and semantic search" : "text pair classification");
    else if (t->model->kind == SBERT_KIND_SPARSE_ENCODER)
        P(". It maps inputs to a %zu-dimensional sparse vector space and can be used for semantic search and sparse "
          "retrieval.\n\n",
          sbert_model_dim(t->model));
    else
        P(". It maps inputs to a %zu-dimensional dense vector space and can be used for %s.\n\n",
          sbert_model_dim(t->model),
          ir ? "retrieval" : "semantic textual similarity, semantic search, paraphrase mining, classification, clustering, and more");
    P("It was trained with [sbert](https://www.SBERT.net) %s, sentence-transformers training reimplemented in C: "
      "no Python, PyTorch or Transformers took part in training. The folder loads unchanged with "
      "`%s(...)`.\n\n",
      sbert_version(), kind.cls);

    P("## Model Details\n\n### Model Description\n- **Model Type:** %s\n", kind.display);
    if (base.id[0] && base.revision[0])
        P("- **Base model:** [%s](https://huggingface.co/%s) <!-- at revision %s -->\n", base.id, base.id, base.revision);
    else if (base.id[0])
        P("- **Base model:** [%s](https://huggingface.co/%s)\n", base.id, base.id);
    else if (!strcasecmp(a->model, "static") || !strcasecmp(a->model, "StaticEmbedding"))
        P("<!-- - **Base model:** [Unknown](https://huggingface.co/unknown) -->\n- **Initialization:** %s\n",
          t->model_desc);
    else
        P("<!-- - **Base model:** [Unknown](https://huggingface.co/unknown) -->\n- **Started from:** `%s` (a local "
          "folder, no Hugging Face id)\n",
          a->model);
    size_t msl = sbert_model_max_seq_length(t->model);
    if (msl) P("- **Maximum Sequence Length:** %zu tokens\n", msl);
    else P("- **Maximum Sequence Length:** inf tokens\n");
    if (t->model->kind == SBERT_KIND_CROSS_ENCODER)
        P("- **Number of Output Labels:** %zu label%s\n- **Activation (applied by predict):** %s\n",
          t->model->full_dim, t->model->full_dim == 1 ? "" : "s", sbert_cross_encoder_activation_fn(t->model));
    else
        P("- **Output Dimensionality:** %zu dimensions\n", sbert_model_dim(t->model));
    const char *fn = sbert_model_similarity_fn_name(t->model);
    P("- **Similarity Function:** %s\n", !strcmp(fn, "cosine")      ? "Cosine Similarity"
                                         : !strcmp(fn, "dot")       ? "Dot Product"
                                         : !strcmp(fn, "euclidean") ? "Euclidean Distance"
                                         : !strcmp(fn, "manhattan") ? "Manhattan Distance"
                                                                    : fn);
    P("- **Supported Modality:** Text\n- **Training Dataset:**\n    - ");
    if (tr.id[0]) P("[%s](https://huggingface.co/datasets/%s)\n", tr.id, tr.id);
    else P("%s\n", train_name);
    P("<!-- - **Language:** Unknown -->\n<!-- - **License:** Unknown -->\n\n");
    P("### Model Sources\n\n- **Documentation:** [Sentence Transformers Documentation](https://sbert.net)\n"
      "- **Repository:** [Sentence Transformers on GitHub](https://github.com/huggingface/sentence-transformers)\n"
      "- **Hugging Face:** [Sentence Transformers on Hugging Face](https://huggingface.co/models?library=sentence-"
      "transformers)\n\n### Full Model Architecture\n\n");
    architecture(b, dir, kind_of(t).cls);

    if (t->model->kind == SBERT_KIND_CROSS_ENCODER) usage_cross(b, t, where);
    else usage(b, t, where, ir);
    evaluation(b, t, ev, n_ev);
    training_dataset(b, t);
    hyperparameters(b, t);
    training_logs(b, t, ev, n_ev);
    P("\n![Training curves](training_curves.svg)\n\n`training_curves.svg`: the training loss, each evaluation "
      "metric, the learning rate and the gradient norm against the step (`sbert plot --input %s --output "
      "curves.svg` draws it again from trainer_state.json).\n\n",
      where);
    P("### Training Time\n- **Training**: ");
    duration(b, t->train_seconds);
    P("\n- **Steps**: %lld%s\n\n", (long long)t->global_step, a->smoke ? " (SMOKE_TEST run: one step on a tiny slice)" : "");
    P("### Framework Versions\n- sbert: %s\n", sbert_version());
#if defined(__VERSION__)
    P("- C compiler: %s%s\n",
#if defined(__clang__)
      "clang ",
#elif defined(__GNUC__)
      "gcc ",
#else
      "",
#endif
      __VERSION__);
#endif
    P("- Python, PyTorch, Transformers: not used (the model folder uses the sentence-transformers layout)\n\n");
    P("## Additional Resources\n\n"
      "- [Training and Finetuning Embedding Models with Sentence Transformers]"
      "(https://huggingface.co/blog/train-sentence-transformers): how such models are trained.\n"
      "- [Introduction to Matryoshka Embedding Models](https://huggingface.co/blog/matryoshka): embeddings that "
      "stay useful when truncated.\n"
      "- [Binary and Scalar Embedding Quantization](https://huggingface.co/blog/embedding-quantization): smaller "
      "embeddings for faster retrieval.\n\n");
    P("## Citation\n\n### BibTeX\n\n#### Sentence Transformers\n```bibtex\n"
      "@inproceedings{reimers-2019-sentence-bert,\n"
      "    title = \"Sentence-BERT: Sentence Embeddings using Siamese BERT-Networks\",\n"
      "    author = \"Reimers, Nils and Gurevych, Iryna\",\n"
      "    booktitle = \"Proceedings of the 2019 Conference on Empirical Methods in Natural Language Processing\",\n"
      "    month = \"11\",\n    year = \"2019\",\n"
      "    publisher = \"Association for Computational Linguistics\",\n"
      "    url = \"https://arxiv.org/abs/1908.10084\",\n}\n```\n");

    char *text = NULL;
    size_t len = 0;
    SBERT_TRY(sbert_sb_finish(b, "model card", &text, &len));
    st = sbert_path_join(path, sizeof path, dir, "README.md");
    if (st == SBERT_OK) st = sbert_write_file_atomic(path, text, len);
    free(text);
    return st;
}
