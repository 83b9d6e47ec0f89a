/*
 * evaluation/evaluators.c -- the evaluator table, metric-result helpers and
 * the evaluator set behind SequentialEvaluator / comma-listed recipes (see
 * evaluators.h). Each evaluator lives in its own file.
 */
#include "evaluation/evaluators.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "evaluation/st_evaluators.h"
#include "models/model.h"

/* Rows leave the optional trailing field (load_opts) out. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define ST (1u << SBERT_KIND_SENTENCE_TRANSFORMER)
#define CE (1u << SBERT_KIND_CROSS_ENCODER)
#define SE (1u << SBERT_KIND_SPARSE_ENCODER)

static const sbert_evaluator_def EVALUATORS[] = {
    {"EmbeddingSimilarityEvaluator", ST, "(sentence1, sentence2, score) rows in .jsonl/.csv/.tsv, scores in [0, 1]",
     sbert_similarity_eval_load, sbert_similarity_eval_free, sbert_similarity_eval_run, sbert_similarity_eval_summary},
    {"InformationRetrievalEvaluator", ST,
     "a JSON file {\"queries\": {qid: text}, \"corpus\": {cid: text}, \"relevant_docs\": {qid: [cid, ...]}}",
     sbert_ir_eval_load, sbert_ir_eval_free, sbert_ir_eval_run, sbert_ir_eval_summary},
    {"TripletEvaluator", ST, "(anchor, positive, negative) rows in .jsonl/.csv/.tsv", sbert_triplet_eval_load,
     sbert_triplet_eval_free, sbert_triplet_eval_run, sbert_triplet_eval_summary},
    {"CrossEncoderRerankingEvaluator", CE,
     "JSONL samples {\"query\", \"positive\": [..], \"negative\": [..] | \"documents\": [..]}, a JSON "
     "{\"samples\", \"at_k\", \"always_rerank_positives\"}, or a local corpus {\"queries\", \"corpus\", "
     "\"relevant_docs\", \"rankings\", \"rerank_k\"} (NanoBEIR style: rerank each query's top rerank_k)",
     sbert_ce_rerank_eval_load, sbert_ce_rerank_eval_free, sbert_ce_rerank_eval_run, sbert_ce_rerank_eval_summary},
    {"CrossEncoderClassificationEvaluator", CE, "(sentence1, sentence2, label) rows in .jsonl/.csv/.tsv",
     sbert_ce_class_eval_load, sbert_ce_pairs_eval_free, sbert_ce_class_eval_run, sbert_ce_pairs_eval_summary},
    {"CrossEncoderCorrelationEvaluator", CE, "(sentence1, sentence2, score) rows in .jsonl/.csv/.tsv",
     sbert_ce_corr_eval_load, sbert_ce_pairs_eval_free, sbert_ce_corr_eval_run, sbert_ce_pairs_eval_summary},
#define ROW(prefix) NULL, prefix##_free, prefix##_run, prefix##_summary, prefix##_load
    {"BinaryClassificationEvaluator", ST,
     "(sentence1, sentence2, label 0/1) rows; options similarity_fn_names=[cosine, dot, euclidean, manhattan]",
     ROW(sbert_binary_eval)},
    {"ParaphraseMiningEvaluator", ST,
     "a JSON file {\"sentences_map\": {id: text}, \"duplicates_list\": [[id1, id2], ...]}; options top_k, max_pairs, "
     "add_transitive_closure",
     ROW(sbert_paraphrase_eval)},
    {"NanoBEIREvaluator", ST,
     "a directory of InformationRetrievalEvaluator .json collections (or files joined with '+'); mean over them",
     ROW(sbert_nano_beir_eval)},
    {"MSEEvaluator", ST,
     "(text, label = teacher embedding list) rows, or (source, target) rows with option teacher_model=<dir>",
     ROW(sbert_mse_eval)},
    {"TranslationEvaluator", ST, "(source, target) parallel rows", ROW(sbert_translation_eval)},
    {"RerankingEvaluator", ST, "JSONL {\"query\": text, \"positive\": [texts], \"negative\": [texts]}; option at_k",
     ROW(sbert_reranking_eval)},
    {"LabelAccuracyEvaluator", ST, "(sentence1, sentence2, label) rows; the SoftmaxLoss classifier of the run",
     ROW(sbert_label_accuracy_eval)},
#undef ROW
    {"CrossEncoderNanoBEIREvaluator", CE, NULL, NULL, NULL, NULL, NULL},
    {"SparseInformationRetrievalEvaluator", SE,
     "a JSON file {\"queries\": {qid: text}, \"corpus\": {cid: text}, \"relevant_docs\": {qid: [cid, ...]}}",
     sbert_ir_eval_load, sbert_ir_eval_free, sbert_sparse_ir_eval_run, sbert_ir_eval_summary},
    {"SparseEmbeddingSimilarityEvaluator", SE,
     "(sentence1, sentence2, score) rows in .jsonl/.csv/.tsv, scores in [0, 1]", sbert_sparse_pairs_eval_load,
     sbert_sparse_rows_eval_free, sbert_sparse_similarity_eval_run, sbert_sparse_pairs_eval_summary},
#define ROW(prefix) NULL, prefix##_free, prefix##_run, prefix##_summary, prefix##_load
    {"SparseRerankingEvaluator", SE,
     "JSONL {\"query\": text, \"positive\": [texts], \"negative\": [texts]}; options at_k, max_active_dims",
     ROW(sbert_sparse_reranking_eval)},
#undef ROW
    {"SparseTripletEvaluator", SE, "(anchor, positive, negative) rows in .jsonl/.csv/.tsv",
     sbert_sparse_triplets_eval_load, sbert_sparse_rows_eval_free, sbert_sparse_triplet_eval_run,
     sbert_sparse_triplets_eval_summary},
#define ROW(prefix) NULL, prefix##_free, prefix##_run, prefix##_summary, prefix##_load
    {"SparseBinaryClassificationEvaluator", SE,
     "(sentence1, sentence2, label 0/1) rows; options similarity_fn_names=[cosine, dot, euclidean, manhattan], "
     "max_active_dims",
     ROW(sbert_sparse_binary_eval)},
    {"SparseMSEEvaluator", SE,
     "(source, target) rows with option teacher_model=<SparseEncoder dir>, or (text, label = teacher vector list) "
     "rows; option max_active_dims",
     ROW(sbert_sparse_mse_eval)},
    {"SparseNanoBEIREvaluator", SE,
     "a directory of SparseInformationRetrievalEvaluator .json collections (or files joined with '+'); mean over "
     "them; option max_active_dims",
     ROW(sbert_sparse_nano_beir_eval)},
    {"ReciprocalRankFusionEvaluator", SE,
     "a JSON file {\"dense_samples\": [{query_id, query, positive, documents}], \"sparse_samples\": [...]} of "
     "first-stage rankings; options at_k, rrf_k",
     ROW(sbert_rrf_eval)},
#undef ROW
};
#define N_EVALUATORS (sizeof EVALUATORS / sizeof EVALUATORS[0])

const sbert_evaluator_def *sbert_evaluator_find(const char *name) {
    for (size_t i = 0; i < N_EVALUATORS; i++)
        if (strcmp(EVALUATORS[i].name, name) == 0) return &EVALUATORS[i];
    return NULL;
}
size_t sbert_evaluator_count(void) { return N_EVALUATORS; }
const sbert_evaluator_def *sbert_evaluator_at(size_t i) { return i < N_EVALUATORS ? &EVALUATORS[i] : NULL; }

/* ---------------------------------------------------------- results */

double sbert_eval_get(const sbert_eval_result *r, const char *key) {
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->m[i].key, key) == 0) return r->m[i].value;
    return NAN;
}

static void compose(char *key, size_t cap, const char *name, const char *what) {
    int w = name && *name ? snprintf(key, cap, "%s_%s", name, what) : snprintf(key, cap, "%s", what);
    if (w < 0 || (size_t)w >= cap) key[cap - 1] = '\0'; /* names are checked to fit before this */
}

void sbert_eval_put(sbert_eval_result *r, const char *name, const char *what, double v) {
    if (r->n >= sizeof r->m / sizeof r->m[0]) return; /* SBERT_EVAL_MAX_METRICS is far above any evaluator list */
    compose(r->m[r->n].key, sizeof r->m[0].key, name, what);
    r->m[r->n++].value = v;
}

void sbert_eval_set_primary(sbert_eval_result *r, const char *name, const char *what) {
    compose(r->primary, sizeof r->primary, name, what);
}

/* ------------------------------------------------------ evaluator sets */

#define SET_MAX 8

typedef struct {
    const sbert_evaluator_def *def;
    char name[48];
    char path[1024];
    void *data;
    size_t truncate_dim; /* 0: none */
} set_entry;

struct sbert_evaluator_set {
    size_t n;
    set_entry e[SET_MAX];
    int main_score; /* 0 last, 1 first, 2 mean, 3 max, 4 min, 5 mean of scores[1::2] */
};

/* ------------------------------------------------------ options */

const char *sbert_eval_opt(sbert_eval_opts *o, const char *key) {
    for (size_t i = 0; o && i < o->n; i++)
        if (!strcmp(o->key[i], key)) {
            o->used[i] = 1;
            return o->value[i];
        }
    return NULL;
}

sbert_status sbert_eval_opt_size(sbert_eval_opts *o, const char *key, size_t def, size_t lo, size_t hi, size_t *out) {
    const char *v = sbert_eval_opt(o, key);
    *out = def;
    if (!v) return SBERT_OK;
    char *end;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end || x < (long long)lo || (unsigned long long)x > hi)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "evaluator option %s must be an integer in [%zu, %zu], got '%s'", key,
                          lo, hi, v);
    *out = (size_t)x;
    return SBERT_OK;
}

sbert_status sbert_eval_opt_list(sbert_eval_opts *o, const char *key, char (*items)[64], size_t cap, size_t *n) {
    *n = 0;
    const char *v = sbert_eval_opt(o, key);
    if (!v) return SBERT_OK;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", v);
    for (char *t = strtok(buf, "[], \"'"); t; t = strtok(NULL, "[], \"'")) {
        if (*n == cap || strlen(t) >= 64)
            return sbert_fail(SBERT_ERR_INVALID_ARG, "evaluator option %s: at most %zu items of < 64 characters", key,
                              cap);
        snprintf(items[(*n)++], 64, "%s", t);
    }
    return SBERT_OK;
}

/* "Name(k=v, k2=[a, b])" -> name and options. */
static sbert_status parse_spec(char *item, char **name, sbert_eval_opts *o) {
    memset(o, 0, sizeof *o);
    *name = item;
    char *open = strchr(item, '(');
    if (!open) return SBERT_OK;
    char *close = strrchr(item, ')');
    if (!close || close < open || close[1])
        return sbert_fail(SBERT_ERR_INVALID_ARG, "evaluator '%s': write options as Name(key=value, ...)", item);
    *close = '\0';
    *open = '\0';
    char *e = open;
    while (e > item && (e[-1] == ' ' || e[-1] == '\t')) *--e = '\0';
    char *s = open + 1;
    while (*s) {
        while (*s == ' ' || *s == ',') s++;
        if (!*s) break;
        char *eq = strchr(s, '=');
        if (!eq) return sbert_fail(SBERT_ERR_INVALID_ARG, "evaluator %s: option '%s' has no '='", item, s);
        *eq = '\0';
        char *k = s, *v = eq + 1;
        while (*v == ' ') v++;
        /* the value ends at a top-level comma */
        int depth = 0;
        char *p = v;
        for (; *p && !(depth == 0 && *p == ','); p++) {
            if (*p == '[' || *p == '(') depth++;
            if (*p == ']' || *p == ')') depth--;
        }
        char *next = *p ? p + 1 : p;
        *p = '\0';
        size_t kl = strlen(k);
        while (kl && k[kl - 1] == ' ') k[--kl] = '\0';
        size_t vl = strlen(v);
        while (vl && v[vl - 1] == ' ') v[--vl] = '\0';
        if (o->n == SBERT_EVAL_MAX_OPTS || kl >= sizeof o->key[0] || vl >= sizeof o->value[0])
            return sbert_fail(SBERT_ERR_INVALID_ARG, "evaluator %s: too many or too long options", item);
        snprintf(o->key[o->n], sizeof o->key[0], "%s", k);
        snprintf(o->value[o->n], sizeof o->value[0], "%s", v);
        o->n++;
        s = next;
    }
    return SBERT_OK;
}

sbert_status sbert_evaluator_set_main_score(sbert_evaluator_set *s, const char *fn) {
    static const char *const names[] = {"last", "first", "mean", "max", "min", "mean_odd"};
    if (!fn) return SBERT_OK;
    const char *f = fn;
    if (!strcmp(f, "scores[0]")) f = "first";
    if (!strcmp(f, "scores[-1]")) f = "last";
    if (!strcmp(f, "mean(scores[1::2])")) f = "mean_odd";
    for (int i = 0; i < 6; i++)
        if (!strcmp(f, names[i])) {
            s->main_score = i;
            return SBERT_OK;
        }
    return sbert_fail(SBERT_ERR_INVALID_ARG,
                      "main_score_function must be first (scores[0]), last (scores[-1], the default), mean, max, "
                      "min or mean_odd (mean(scores[1::2]): the make-multilingual template's mean of the "
                      "TranslationEvaluators interleaved with MSEEvaluators), got '%s'",
                      fn);
}

/* ------------------------------------------------------ truncate_dim */

typedef struct {
    const sbert_eval_encoder *inner;
    void *inner_ctx;
    size_t td;
} trunc_ctx;

static sbert_status trunc_encode(void *ctx, const char *const *texts, size_t n, float *out) {
    trunc_ctx *c = ctx;
    size_t D = c->inner->dim;
    float *full = malloc((n ? n : 1) * D * sizeof *full);
    if (!full) return sbert_fail(SBERT_ERR_NOMEM, "out of memory (truncate_dim)");
    sbert_status st = c->inner->fn(c->inner_ctx, texts, n, full);
    if (st == SBERT_OK)
        for (size_t i = 0; i < n; i++) memcpy(out + i * c->td, full + i * D, c->td * sizeof *out);
    free(full);
    return st;
}

/* "A, B, C" of the evaluators implemented here for model kind `kind`. */
static void available(char *buf, size_t cap, int kind) {
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < N_EVALUATORS; i++)
        if (EVALUATORS[i].run && (EVALUATORS[i].kinds & (1u << kind)) && n < cap)
            n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", EVALUATORS[i].name);
}

/* Split a comma list into trimmed items (in place in buf); commas inside
 * parentheses or brackets (evaluator options) do not split. */
static size_t split_list(char *buf, char **items, size_t max) {
    size_t n = 0;
    char *s = buf;
    for (;;) {
        char *comma = NULL;
        int depth = 0;
        for (char *p = s; *p; p++) {
            if (*p == '(' || *p == '[') depth++;
            else if (*p == ')' || *p == ']') depth--;
            else if (*p == ',' && depth == 0) {
                comma = p;
                break;
            }
        }
        if (comma) *comma = '\0';
        while (*s == ' ' || *s == '\t') s++;
        size_t l = strlen(s);
        while (l && (s[l - 1] == ' ' || s[l - 1] == '\t')) s[--l] = '\0';
        if (n < max) items[n] = s;
        n++;
        if (!comma) break;
        s = comma + 1;
    }
    return n;
}

void sbert_evaluator_set_free(sbert_evaluator_set *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n; i++)
        if (s->e[i].def && s->e[i].data) s->e[i].def->free(s->e[i].data);
    free(s);
}

/* The row for `name`, or an error that says what exists. */
static sbert_status resolve(const char *name, int kind, const sbert_evaluator_def **out) {
    char avail[512];
    available(avail, sizeof avail, kind);
    if (!strcmp(name, "SequentialEvaluator"))
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "SequentialEvaluator is written as a comma list of evaluators with one data file and one "
                          "name each, e.g. evaluator: EmbeddingSimilarityEvaluator,InformationRetrievalEvaluator, "
                          "eval_data: sts.jsonl,ir.json, evaluator_name: sts-dev,cranfield");
    const sbert_evaluator_def *d = sbert_evaluator_find(name);
    if (!d)
        return sbert_fail(SBERT_ERR_UNSUPPORTED, "unknown evaluator '%s' (available: %s, or a comma list of them)",
                          *name ? name : "(empty)", avail);
    if (!(d->kinds & (1u << kind))) {
        /* The same evaluator for this kind of model, if there is one:
         * Sparse<X> / CrossEncoder<X> / <X>. */
        const char *base = !strncmp(name, "Sparse", 6) ? name + 6 : !strncmp(name, "CrossEncoder", 12) ? name + 12 : name;
        char twin[96];
        snprintf(twin, sizeof twin, "%s%s", kind == SBERT_KIND_SPARSE_ENCODER ? "Sparse"
                                            : kind == SBERT_KIND_CROSS_ENCODER ? "CrossEncoder" : "", base);
        const sbert_evaluator_def *t = sbert_evaluator_find(twin);
        int has_twin = t && t->run && (t->kinds & (1u << kind));
        return sbert_fail(SBERT_ERR_UNSUPPORTED, "evaluator '%s' is a %s evaluator, not one for a %s%s%s (available: %s)",
                          name,
                          d->kinds & (1u << SBERT_KIND_CROSS_ENCODER)          ? "CrossEncoder"
                          : d->kinds & (1u << SBERT_KIND_SENTENCE_TRANSFORMER) ? "SentenceTransformer"
                                                                                : "SparseEncoder",
                          sbert_model_kind_name(kind), has_twin ? "; use " : "", has_twin ? twin : "", avail);
    }
    if (!d->run)
        return sbert_fail(SBERT_ERR_UNSUPPORTED,
                          "evaluator '%s' is not implemented yet (available: %s, or a comma list of them)", name,
                          avail);
    *out = d;
    return SBERT_OK;
}

sbert_status sbert_evaluator_set_load(const char *evaluators, const char *data, const char *names,
                                      size_t max_samples, sbert_evaluator_set **out) {
    return sbert_evaluator_set_load_kind(SBERT_KIND_SENTENCE_TRANSFORMER, evaluators, data, names, max_samples, out);
}

sbert_status sbert_evaluator_set_load_kind(int kind, const char *evaluators, const char *data, const char *names,
                                           size_t max_samples, sbert_evaluator_set **out) {
    *out = NULL;
    if (!evaluators || !*evaluators)
        evaluators = kind == SBERT_KIND_CROSS_ENCODER ? "CrossEncoderRerankingEvaluator" : "EmbeddingSimilarityEvaluator";
    if (!data || !*data) return sbert_fail(SBERT_ERR_INVALID_ARG, "evaluation data: no file given");
    if (!names) names = "";
    char eb[1024], db[8192], nb[1024];
    if (strlen(evaluators) >= sizeof eb || strlen(data) >= sizeof db || strlen(names) >= sizeof nb)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "evaluator, data or name list is too long");
    strcpy(eb, evaluators);
    strcpy(db, data);
    strcpy(nb, names);
    char *ev[SET_MAX], *dv[SET_MAX], *nv[SET_MAX];
    size_t ne = split_list(eb, ev, SET_MAX), nd = split_list(db, dv, SET_MAX);
    size_t nn = *names ? split_list(nb, nv, SET_MAX) : 0;
    if (ne > SET_MAX)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "at most %d evaluators can run in sequence, got %zu", SET_MAX, ne);
    const sbert_evaluator_def *defs[SET_MAX];
    static sbert_eval_opts opts[SET_MAX]; /* large; loading is not reentrant-critical */
    for (size_t i = 0; i < ne; i++) {
        char *nm;
        SBERT_TRY(parse_spec(ev[i], &nm, &opts[i]));
        ev[i] = nm;
        SBERT_TRY(resolve(ev[i], kind, &defs[i]));
    }
    if (nd != ne)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "%zu evaluator%s (%s) but %zu evaluation data file%s (%s): give one file per evaluator, "
                          "in the same order",
                          ne, ne == 1 ? "" : "s", evaluators, nd, nd == 1 ? "" : "s", data);
    if (ne > 1 && nn == 0)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "%zu evaluators (%s) need one evaluator name each (a comma list such as "
                          "sts-dev,cranfield), or their metric keys would collide",
                          ne, evaluators);
    if (nn && nn != ne)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%zu evaluator%s (%s) but %zu evaluator name%s (%s)", ne,
                          ne == 1 ? "" : "s", evaluators, nn, nn == 1 ? "" : "s", names);
    for (size_t i = 0; i < nn; i++) {
        if (!*nv[i] && ne > 1)
            return sbert_fail(SBERT_ERR_INVALID_ARG, "evaluator name %zu of '%s' is empty", i + 1, names);
        if (strlen(nv[i]) >= sizeof((set_entry *)0)->name)
            return sbert_fail(SBERT_ERR_INVALID_ARG, "evaluator name '%s' is longer than %zu characters", nv[i],
                              sizeof((set_entry *)0)->name - 1);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(nv[i], nv[j]))
                return sbert_fail(SBERT_ERR_INVALID_ARG,
                                  "evaluator name '%s' is given twice in '%s'; names must differ so the metric "
                                  "keys do",
                                  nv[i], names);
    }
    for (size_t i = 0; i < nd; i++) {
        if (!*dv[i]) return sbert_fail(SBERT_ERR_INVALID_ARG, "evaluation data file %zu of '%s' is empty", i + 1, data);
        if (strlen(dv[i]) >= sizeof((set_entry *)0)->path)
            return sbert_fail(SBERT_ERR_INVALID_ARG, "evaluation data path '%s' is too long", dv[i]);
    }
    sbert_evaluator_set *s = calloc(1, sizeof *s);
    if (!s) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    sbert_status st = SBERT_OK;
    for (size_t i = 0; i < ne && st == SBERT_OK; i++) {
        set_entry *e = &s->e[i];
        s->n = i + 1;
        e->def = defs[i];
        snprintf(e->name, sizeof e->name, "%s", nn ? nv[i] : "");
        snprintf(e->path, sizeof e->path, "%s", dv[i]);
        st = sbert_eval_opt_size(&opts[i], "truncate_dim", 0, 1, 1u << 24, &e->truncate_dim);
        if (st == SBERT_OK)
            st = e->def->load_opts ? e->def->load_opts(e->path, max_samples, &opts[i], &e->data)
                                   : e->def->load(e->path, max_samples, &e->data);
        for (size_t k = 0; st == SBERT_OK && k < opts[i].n; k++)
            if (!opts[i].used[k])
                st = sbert_fail(SBERT_ERR_INVALID_ARG, "%s does not take the option '%s' (see sbert train --help)",
                                e->def->name, opts[i].key[k]);
        if (st != SBERT_OK) sbert_error_prefix("%s (%s): ", e->def->name, e->path);
    }
    if (st != SBERT_OK) {
        sbert_evaluator_set_free(s);
        return st;
    }
    *out = s;
    return SBERT_OK;
}

int sbert_evaluator_set_project_teacher(sbert_evaluator_set *s, const char *teacher_model, const double *comp,
                                        size_t d, size_t k) {
    int n = 0;
    for (size_t i = 0; s && i < s->n; i++) {
        if (strcmp(s->e[i].def->name, "MSEEvaluator")) continue;
        int r = sbert_mse_eval_project(s->e[i].data, teacher_model, comp, d, k);
        if (r < 0) return -1;
        n += r;
    }
    return n;
}

sbert_status sbert_evaluator_set_run(const sbert_evaluator_set *s, const sbert_eval_encoder *enc,
                                     sbert_eval_result *out) {
    memset(out, 0, sizeof *out);
    sbert_eval_result *r = malloc(sizeof *r);
    if (!r) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    sbert_status st = SBERT_OK;
    double scores[SET_MAX];
    char primaries[SET_MAX][96];
    for (size_t i = 0; i < s->n && st == SBERT_OK; i++) {
        const set_entry *e = &s->e[i];
        memset(r, 0, sizeof *r);
        if (enc->kind_bit && !(e->def->kinds & enc->kind_bit)) {
            int sparse_model = enc->kind_bit == (1u << SBERT_KIND_SPARSE_ENCODER);
            st = sbert_fail(SBERT_ERR_UNSUPPORTED,
                            "%s is a %s evaluator and this model is a %s (use %s%s instead)", e->def->name,
                            e->def->kinds & SE ? "SparseEncoder" : e->def->kinds & CE ? "CrossEncoder" : "SentenceTransformer",
                            sparse_model ? "SparseEncoder" : enc->kind_bit == (1u << SBERT_KIND_CROSS_ENCODER) ? "CrossEncoder" : "SentenceTransformer",
                            sparse_model ? "Sparse" : "", sparse_model ? e->def->name
                                                                       : (strncmp(e->def->name, "Sparse", 6) ? e->def->name : e->def->name + 6));
            break;
        }
        sbert_eval_encoder te = *enc;
        trunc_ctx tc[3];
        if (e->truncate_dim) {
            if (e->truncate_dim > enc->dim) {
                st = sbert_fail(SBERT_ERR_INVALID_ARG, "%s: truncate_dim %zu is larger than the embeddings (%zu)",
                                e->def->name, e->truncate_dim, enc->dim);
                break;
            }
            void *ctxs[3] = {enc->ctx, enc->query_ctx, enc->document_ctx};
            for (int k = 0; k < 3; k++) tc[k] = (trunc_ctx){enc, ctxs[k] ? ctxs[k] : enc->ctx, e->truncate_dim};
            te.fn = trunc_encode;
            te.ctx = &tc[0];
            te.query_ctx = &tc[1];
            te.document_ctx = &tc[2];
            te.dim = e->truncate_dim;
        }
        st = e->def->run(e->data, &te, e->name, r);
        if (st != SBERT_OK) {
            sbert_error_prefix("%s (%s): ", e->def->name, e->path);
            break;
        }
        if (out->n + r->n + 1 > SBERT_EVAL_MAX_METRICS) {
            st = sbert_fail(SBERT_ERR_INVALID_ARG, "the evaluators produce more than %d metrics", SBERT_EVAL_MAX_METRICS);
            break;
        }
        memcpy(out->m + out->n, r->m, r->n * sizeof r->m[0]);
        out->n += r->n;
        scores[i] = sbert_eval_get(r, r->primary);
        memcpy(primaries[i], r->primary, sizeof primaries[i]);
    }
    free(r);
    if (st != SBERT_OK || s->n == 0) return st;
    if (s->n == 1) {
        memcpy(out->primary, primaries[0], sizeof out->primary);
        return SBERT_OK;
    }
    /* SequentialEvaluator: sequential_score = main_score_function(primary scores) */
    double v = scores[s->n - 1];
    size_t pick = s->n - 1;
    if (s->main_score == 1) v = scores[0], pick = 0;
    if (s->main_score == 5) {
        v = 0;
        for (size_t i = 1; i < s->n; i += 2) v += scores[i] / (double)(s->n / 2);
    }
    for (size_t i = 0; s->main_score >= 2 && s->main_score <= 4 && i < s->n; i++) {
        if (i == 0) v = s->main_score == 2 ? 0 : scores[0];
        if (s->main_score == 2) v += scores[i] / (double)s->n;
        if (s->main_score == 3 && scores[i] > v) v = scores[i];
        if (s->main_score == 4 && scores[i] < v) v = scores[i];
    }
    sbert_eval_put(out, "", "sequential_score", v);
    if (s->main_score <= 1) memcpy(out->primary, primaries[pick], sizeof out->primary);
    else snprintf(out->primary, sizeof out->primary, "sequential_score");
    return SBERT_OK;
}

#define APPENDF(...) n += (size_t)snprintf(buf + (n < cap ? n : cap), n < cap ? cap - n : 0, __VA_ARGS__)

size_t sbert_evaluator_set_describe(const sbert_evaluator_set *s, char *buf, size_t cap) {
    size_t n = 0;
    if (cap) buf[0] = '\0';
    for (size_t i = 0; i < s->n; i++) {
        const set_entry *e = &s->e[i];
        char what[256];
        e->def->summary(e->data, what, sizeof what);
        APPENDF("- Evaluation: `%s` (%s%s%s%s, %s)\n", e->path, e->def->name, *e->name ? " `" : "", e->name,
                *e->name ? "`" : "", what);
    }
    return n;
}

size_t sbert_evaluator_set_summary(const sbert_evaluator_set *s, char *buf, size_t cap) {
    size_t n = 0;
    if (cap) buf[0] = '\0';
    for (size_t i = 0; i < s->n; i++) {
        char what[256];
        s->e[i].def->summary(s->e[i].data, what, sizeof what);
        APPENDF("%s%s", i ? "; " : "", what);
    }
    return n;
}

const char *sbert_evaluator_set_names(const sbert_evaluator_set *s, char *buf, size_t cap) {
    size_t n = 0;
    if (cap) buf[0] = '\0';
    for (size_t i = 0; i < s->n; i++) APPENDF("%s%s", i ? ", " : "", s->e[i].def->name);
    return buf;
}
