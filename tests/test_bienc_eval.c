/*
 * tests/test_bienc_eval.c -- the evaluators of issue 10 against
 * sentence-transformers 6.2.0 (tests/data/bienc/eval/, made by
 * tools/gen_bienc_eval_refs.py with all-MiniLM-L6-v2):
 *   on the SAME embeddings (an encoder that returns the vectors
 *   sentence-transformers computed, stored as .npy): BinaryClassification
 *   (the model's function and all four), Reranking (at_k 10 and 3),
 *   ParaphraseMining (default; top_k 5 with add_transitive_closure),
 *   Translation, MSE (teacher embeddings in the data), LabelAccuracy (the
 *   same SoftmaxLoss classifier), truncate_dim on BinaryClassification --
 *   every key, every value within 1e-6, the primary metric;
 *   with the real model (sbert's own embeddings, ~3e-7 from Python's):
 *   NanoBEIREvaluator over two local collections, EmbeddingSimilarity with
 *   truncate_dim, MSEEvaluator with teacher_model -- within 1e-5;
 *   SequentialEvaluator's main_score_function; bad options.
 */
#include <cjson/cJSON.h>

#include "base/error.h"
#include "evaluation/st_evaluators.h"
#include "io/npy.h"
#include "losses/st_losses.h"
#include "io/file.h"
#include "test_util.h"

/* ------------------------------------------------------------ a lookup encoder */

typedef struct {
    const char **texts;
    const float *vecs;
    size_t n, dim;
} lookup;

static lookup g_lk;

static sbert_status lookup_fn(void *ctx, const char *const *texts, size_t n, float *out) {
    const lookup *l = ctx;
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < l->n && strcmp(l->texts[j], texts[i])) j++;
        if (j == l->n) return sbert_fail(SBERT_ERR_INVALID_ARG, "lookup: no embedding for '%.60s'", texts[i]);
        memcpy(out + i * l->dim, l->vecs + j * l->dim, l->dim * sizeof *out);
    }
    return SBERT_OK;
}

/* texts (a JSON string array or column of a JSONL file) -> rows of an .npy */
static float *g_vecs;
static const char **g_texts;
static size_t g_n;
static char **g_owned;
static size_t g_n_owned;

static void lk_reset(void) {
    free(g_vecs);
    free(g_texts);
    for (size_t i = 0; i < g_n_owned; i++) free(g_owned[i]);
    free(g_owned);
    g_vecs = NULL;
    g_texts = NULL;
    g_owned = NULL;
    g_n = g_n_owned = 0;
}

static void lk_add(const char *const *texts, size_t n, const char *npy) {
    float *v = NULL;
    size_t rows = 0, cols = 0;
    CHECK_OK(sbert_npy_read_f32(test_path(npy), &v, &rows, &cols, NULL));
    CHECK(rows == n, "%s: %zu rows for %zu texts", npy, rows, n);
    if (!v || rows != n) {
        free(v);
        return;
    }
    g_vecs = realloc(g_vecs, (g_n + n) * cols * sizeof *g_vecs);
    g_texts = realloc(g_texts, (g_n + n) * sizeof *g_texts);
    g_owned = realloc(g_owned, (g_n_owned + n) * sizeof *g_owned);
    memcpy(g_vecs + g_n * cols, v, n * cols * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        g_owned[g_n_owned] = strdup(texts[i]);
        g_texts[g_n + i] = g_owned[g_n_owned++];
    }
    g_n += n;
    g_lk = (lookup){g_texts, g_vecs, g_n, cols};
    free(v);
}

/* the values of column `key` of a JSONL file */
static size_t jsonl_col(const char *path, const char *key, char ***out) {
    char *txt = test_read_file(test_path(path), NULL);
    size_t n = 0;
    *out = NULL;
    for (char *s = txt, *nl; s && *s; s = nl ? nl + 1 : NULL) {
        nl = strchr(s, '\n');
        if (nl) *nl = '\0';
        cJSON *o = cJSON_Parse(s);
        const cJSON *v = cJSON_GetObjectItem(o, key);
        if (cJSON_IsString(v)) {
            *out = realloc(*out, (n + 1) * sizeof **out);
            (*out)[n++] = strdup(v->valuestring);
        }
        cJSON_Delete(o);
    }
    free(txt);
    return n;
}

static void free_strs(char **s, size_t n) {
    for (size_t i = 0; i < n; i++) free(s[i]);
    free(s);
}

static cJSON *g_ref;

static const cJSON *ref_case(const char *name) {
    return cJSON_GetObjectItem(cJSON_GetObjectItem(g_ref, "cases"), name);
}

/* every key of the reference, in order, equal within tol; the primary */
static void compare(const char *label, const sbert_eval_result *r, const cJSON *ref, double tol, double *worst) {
    const cJSON *m = cJSON_GetObjectItem(ref, "metrics");
    CHECK(r->n == (size_t)cJSON_GetArraySize(m), "%s: %zu metrics, sentence-transformers %d", label, r->n,
          cJSON_GetArraySize(m));
    size_t i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, m) {
        if (i >= r->n) break;
        CHECK(!strcmp(r->m[i].key, v->string), "%s: metric %zu is %s, sentence-transformers %s", label, i,
              r->m[i].key, v->string);
        /* relative above 1: thresholds of distances are float32 values of any size */
        double e = fabs(r->m[i].value - v->valuedouble) / fmax(1.0, fabs(v->valuedouble));
        CHECK(e <= tol, "%s: %s = %.10g, sentence-transformers %.10g (rel diff %.2e)", label, v->string, r->m[i].value,
              v->valuedouble, e);
        *worst = test_max_err(*worst, e);
        i++;
    }
    const char *pm = cJSON_GetObjectItem(ref, "primary_metric")->valuestring;
    CHECK(!strcmp(r->primary, pm), "%s: primary %s, sentence-transformers %s", label, r->primary, pm);
}

static void run_set(const char *label, const char *evaluator, const char *data, const char *name,
                    const sbert_eval_encoder *enc, const char *ref_name, double tol, double *worst) {
    sbert_evaluator_set *set = NULL;
    sbert_status st = sbert_evaluator_set_load(evaluator, data, name, 0, &set);
    CHECK(st == SBERT_OK, "%s: load: %s", label, sbert_last_error());
    if (!set) return;
    sbert_eval_result *r = calloc(1, sizeof *r);
    st = sbert_evaluator_set_run(set, enc, r);
    CHECK(st == SBERT_OK, "%s: run: %s", label, sbert_last_error());
    if (st == SBERT_OK) compare(label, r, ref_case(ref_name), tol, worst);
    free(r);
    sbert_evaluator_set_free(set);
}

static sbert_eval_encoder lookup_encoder(void) {
    sbert_eval_encoder e;
    memset(&e, 0, sizeof e);
    e.fn = lookup_fn;
    e.ctx = e.query_ctx = e.document_ctx = &g_lk;
    e.dim = g_lk.dim;
    e.score_fn = "cosine";
    return e;
}

static void test_same_embeddings(void) {
    double worst = 0;
    char **a, **b;
    size_t n;
    /* BinaryClassificationEvaluator */
    n = jsonl_col("tests/data/bienc/eval/binary.jsonl", "sentence1", &a);
    jsonl_col("tests/data/bienc/eval/binary.jsonl", "sentence2", &b);
    lk_add((const char *const *)a, n, "tests/data/bienc/eval/binary_e1.npy");
    lk_add((const char *const *)b, n, "tests/data/bienc/eval/binary_e2.npy");
    sbert_eval_encoder enc = lookup_encoder();
    const char *bin = test_path("tests/data/bienc/eval/binary.jsonl");
    run_set("binary", "BinaryClassificationEvaluator", bin, "snli", &enc, "binary", 1e-6, &worst);
    run_set("binary all", "BinaryClassificationEvaluator(similarity_fn_names=[cosine, dot, euclidean, manhattan])",
            bin, "snli", &enc, "binary_all", 1e-6, &worst);
    run_set("binary truncate_dim", "BinaryClassificationEvaluator(truncate_dim=32)", bin, "snli-32", &enc,
            "binary_truncate_32", 1e-6, &worst);
    free_strs(a, n);
    free_strs(b, n);
    lk_reset();

    /* RerankingEvaluator: queries, then each sample's positive + negatives in order */
    {
        char *txt = test_read_file(test_path("tests/data/bienc/eval/rerank.jsonl"), NULL);
        const char **q = NULL, **d = NULL;
        size_t nq = 0, nd = 0;
        cJSON *keep[512];
        for (char *s = txt, *nl; s && *s; s = nl ? nl + 1 : NULL) {
            nl = strchr(s, '\n');
            if (nl) *nl = '\0';
            cJSON *o = cJSON_Parse(s);
            if (!o) continue;
            keep[nq] = o;
            q = realloc(q, (nq + 1) * sizeof *q);
            q[nq++] = cJSON_GetObjectItem(o, "query")->valuestring;
            const char *ks[2] = {"positive", "negative"};
            for (int k = 0; k < 2; k++) {
                const cJSON *e;
                cJSON_ArrayForEach(e, cJSON_GetObjectItem(o, ks[k])) {
                    d = realloc(d, (nd + 1) * sizeof *d);
                    d[nd++] = e->valuestring;
                }
            }
        }
        lk_add(q, nq, "tests/data/bienc/eval/rerank_q.npy");
        lk_add(d, nd, "tests/data/bienc/eval/rerank_docs.npy");
        enc = lookup_encoder();
        const char *rr = test_path("tests/data/bienc/eval/rerank.jsonl");
        run_set("rerank@10", "RerankingEvaluator", rr, "snli-rerank", &enc, "rerank_10", 1e-6, &worst);
        run_set("rerank@3", "RerankingEvaluator(at_k=3)", rr, "snli-rerank", &enc, "rerank_3", 1e-6, &worst);
        for (size_t i = 0; i < nq; i++) cJSON_Delete(keep[i]);
        free(q);
        free(d);
        free(txt);
        lk_reset();
    }

    /* ParaphraseMiningEvaluator: sentences_map values in order */
    {
        char *txt = test_read_file(test_path("tests/data/bienc/eval/paraphrase.json"), NULL);
        cJSON *j = cJSON_Parse(txt);
        free(txt);
        const char **s = NULL;
        size_t ns = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, "sentences_map")) {
            s = realloc(s, (ns + 1) * sizeof *s);
            s[ns++] = e->valuestring;
        }
        lk_add(s, ns, "tests/data/bienc/eval/paraphrase.npy");
        enc = lookup_encoder();
        const char *pp = test_path("tests/data/bienc/eval/paraphrase.json");
        run_set("paraphrase", "ParaphraseMiningEvaluator", pp, "pm", &enc, "paraphrase", 1e-6, &worst);
        run_set("paraphrase top5 closure", "ParaphraseMiningEvaluator(top_k=5, add_transitive_closure=true)", pp,
                "pm5", &enc, "paraphrase_top5_closure", 1e-6, &worst);
        free(s);
        cJSON_Delete(j);
        lk_reset();
    }

    /* TranslationEvaluator */
    n = jsonl_col("tests/data/bienc/eval/translation.jsonl", "source", &a);
    jsonl_col("tests/data/bienc/eval/translation.jsonl", "target", &b);
    lk_add((const char *const *)a, n, "tests/data/bienc/eval/translation_src.npy");
    lk_add((const char *const *)b, n, "tests/data/bienc/eval/translation_trg.npy");
    enc = lookup_encoder();
    run_set("translation", "TranslationEvaluator", test_path("tests/data/bienc/eval/translation.jsonl"),
            "tatoeba-deu", &enc, "translation", 1e-6, &worst);
    free_strs(a, n);
    free_strs(b, n);
    lk_reset();

    /* MSEEvaluator with the teacher embeddings in the data */
    n = jsonl_col("tests/data/bienc/eval/mse.jsonl", "text", &a);
    lk_add((const char *const *)a, n, "tests/data/bienc/eval/mse_student.npy");
    enc = lookup_encoder();
    run_set("mse", "MSEEvaluator", test_path("tests/data/bienc/eval/mse.jsonl"), "mse-deu", &enc, "mse", 1e-6,
            &worst);
    free_strs(a, n);
    lk_reset();
    printf("evaluators on sentence-transformers' embeddings: every metric within %.2e\n", worst);
}

static void test_label_accuracy(sbert_model *m) {
    /* the classifier sentence-transformers used, into a SoftmaxLoss state */
    const sbert_loss_def *def = sbert_loss_find("SoftmaxLoss");
    sbert_loss_values v;
    memset(&v, 0, sizeof v);
    for (size_t i = 0; i < def->n_params; i++) CHECK_OK(sbert_loss_param_parse(def, i, def->params[i].def, "t", &v));
    sbert_rng rng;
    sbert_rng_seed(&rng, 1);
    sbert_loss_state *st = NULL;
    CHECK_OK(sbert_loss_state_create(def, &v, 384, 3, &rng, &st));
    float *w = NULL, *b = NULL;
    size_t r, c, r2, c2;
    CHECK_OK(sbert_npy_read_f32(test_path("tests/data/bienc/eval/label_accuracy_weight.npy"), &w, &r, &c, NULL));
    CHECK_OK(sbert_npy_read_f32(test_path("tests/data/bienc/eval/label_accuracy_bias.npy"), &b, &r2, &c2, NULL));
    if (!st || !w || !b) return;
    sbert_param *pw = sbert_params_at(st->params, 0), *pb = sbert_params_at(st->params, 1);
    CHECK(pw->numel == r * c && pb->numel == c2, "classifier shapes");
    memcpy(pw->data, w, pw->numel * sizeof *w);
    memcpy(pb->data, b, pb->numel * sizeof *b);
    sbert_eval_classifier cls = {&v, st->params};
    sbert_model_eval_ctx ctx;
    sbert_eval_encoder enc;
    sbert_eval_encoder_for_model(m, 32, &ctx, &enc);
    enc.classifier = &cls;
    double worst = 0;
    run_set("label accuracy", "LabelAccuracyEvaluator", test_path("tests/data/bienc/eval/label_accuracy.jsonl"),
            "snli-la", &enc, "label_accuracy", 1e-6, &worst);
    /* without a classifier: a clear error */
    enc.classifier = NULL;
    sbert_evaluator_set *set = NULL;
    CHECK_OK(sbert_evaluator_set_load("LabelAccuracyEvaluator", test_path("tests/data/bienc/eval/label_accuracy.jsonl"),
                                      "", 0, &set));
    sbert_eval_result *res = calloc(1, sizeof *res);
    CHECK(set && sbert_evaluator_set_run(set, &enc, res) == SBERT_ERR_UNSUPPORTED &&
              strstr(sbert_last_error(), "SoftmaxLoss"),
          "LabelAccuracyEvaluator without a classifier: %s", sbert_last_error());
    free(res);
    sbert_evaluator_set_free(set);
    free(w);
    free(b);
    sbert_loss_state_free(st);
}

static void test_real_model(sbert_model *m) {
    sbert_model_eval_ctx ctx;
    sbert_eval_encoder enc;
    sbert_eval_encoder_for_model(m, 32, &ctx, &enc);
    double worst = 0;
    run_set("nano", "NanoBEIREvaluator", test_path("tests/data/bienc/eval/nano"), "", &enc, "nano", 1e-5, &worst);
    run_set("sts truncate_dim 64", "EmbeddingSimilarityEvaluator(truncate_dim=64)",
            test_path("tests/data/bienc/eval/stsb-200.jsonl"), "sts-64", &enc, "sts_truncate_64", 1e-5, &worst);
    char opt[700];
    snprintf(opt, sizeof opt, "MSEEvaluator(teacher_model=%s)", test_path("models/all-MiniLM-L6-v2"));
    run_set("mse teacher_model", opt, test_path("tests/data/bienc/eval/mse_pairs.jsonl"), "mse-deu", &enc, "mse",
            1e-5, &worst);
    printf("evaluators with sbert's own MiniLM embeddings: every metric within %.2e\n", worst);

    /* SequentialEvaluator main_score_function */
    char data[2048];
    const char *sts = test_path("tests/data/bienc/eval/stsb-200.jsonl");
    snprintf(data, sizeof data, "%s,%s,%s", sts, sts, sts);
    const char *ev = "EmbeddingSimilarityEvaluator, EmbeddingSimilarityEvaluator(truncate_dim=64), "
                     "EmbeddingSimilarityEvaluator(truncate_dim=32)";
    static const char *const fns[] = {"first", "scores[-1]", "mean", "max", "min", "mean(scores[1::2])"};
    double vals[3] = {0};
    for (int f = 0; f < 6; f++) {
        sbert_evaluator_set *set = NULL;
        CHECK_OK(sbert_evaluator_set_load(ev, data, "sts-384,sts-64,sts-32", 0, &set));
        if (!set) continue;
        CHECK_OK(sbert_evaluator_set_main_score(set, fns[f]));
        sbert_eval_result *r = calloc(1, sizeof *r);
        CHECK_OK(sbert_evaluator_set_run(set, &enc, r));
        vals[0] = sbert_eval_get(r, "sts-384_spearman_cosine");
        vals[1] = sbert_eval_get(r, "sts-64_spearman_cosine");
        vals[2] = sbert_eval_get(r, "sts-32_spearman_cosine");
        double seq = sbert_eval_get(r, "sequential_score");
        double want = f == 0 ? vals[0] : f == 1 ? vals[2] : f == 2 ? (vals[0] + vals[1] + vals[2]) / 3
                      : f == 3 ? fmax(vals[0], fmax(vals[1], vals[2]))
                      : f == 4 ? fmin(vals[0], fmin(vals[1], vals[2]))
                               : vals[1]; /* mean_odd: scores[1::2] of three is scores[1] */
        CHECK(fabs(seq - want) < 1e-12, "main_score_function %s: sequential_score %.6f, want %.6f", fns[f], seq, want);
        const char *pk = f == 0 ? "sts-384_spearman_cosine" : f == 1 ? "sts-32_spearman_cosine" : "sequential_score";
        CHECK(!strcmp(r->primary, pk), "main_score_function %s: primary %s", fns[f], r->primary);
        free(r);
        sbert_evaluator_set_free(set);
    }
    CHECK(vals[0] != vals[1] && vals[1] != vals[2], "truncated evaluators differ from the full one");
    sbert_evaluator_set *set = NULL;
    CHECK_OK(sbert_evaluator_set_load(ev, data, "a,b,c", 0, &set));
    CHECK(set && sbert_evaluator_set_main_score(set, "median") == SBERT_ERR_INVALID_ARG &&
              strstr(sbert_last_error(), "first"),
          "an unknown main_score_function: %s", sbert_last_error());
    sbert_evaluator_set_free(set);
    /* options */
    CHECK(sbert_evaluator_set_load("RerankingEvaluator(top=3)", test_path("tests/data/bienc/eval/rerank.jsonl"), "", 0,
                                   &set) == SBERT_ERR_INVALID_ARG &&
              strstr(sbert_last_error(), "'top'"),
          "an unknown option: %s", sbert_last_error());
    CHECK(sbert_evaluator_set_load("BinaryClassificationEvaluator(similarity_fn_names=[cosine, hamming])",
                                   test_path("tests/data/bienc/eval/binary.jsonl"), "", 0, &set) != SBERT_OK &&
              strstr(sbert_last_error(), "hamming"),
          "an unknown similarity function: %s", sbert_last_error());
    sbert_eval_result *r = calloc(1, sizeof *r);
    CHECK_OK(sbert_evaluator_set_load("BinaryClassificationEvaluator(truncate_dim=1000)",
                                      test_path("tests/data/bienc/eval/binary.jsonl"), "", 0, &set));
    CHECK(set && sbert_evaluator_set_run(set, &enc, r) == SBERT_ERR_INVALID_ARG && strstr(sbert_last_error(), "1000"),
          "truncate_dim above the width: %s", sbert_last_error());
    free(r);
    sbert_evaluator_set_free(set);
}

int main(void) {
    const char *refp = test_path("tests/data/bienc/eval/ref.json");
    if (!TEST_REQUIRE_FILE(refp, "run tools/gen_bienc_eval_refs.py")) return test_summary();
    (void)sbert_json_load(refp, &g_ref); /* g_ref stays NULL on failure */
    test_same_embeddings();
    const char *md = test_path("models/all-MiniLM-L6-v2");
    if (TEST_REQUIRE_FILE(md, TEST_FETCH_MODELS)) {
        sbert_model *m = NULL;
        CHECK_OK(sbert_model_load(md, NULL, &m));
        if (m) {
            test_label_accuracy(m);
            test_real_model(m);
        }
        sbert_model_free(m);
    }
    cJSON_Delete(g_ref);
    lk_reset();
    return test_summary();
}
