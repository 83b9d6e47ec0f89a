/*
 * tests/test_sparse_eval_more.c -- SparseRerankingEvaluator,
 * SparseBinaryClassificationEvaluator, SparseMSEEvaluator,
 * SparseNanoBEIREvaluator and ReciprocalRankFusionEvaluator against
 * sentence-transformers 6.2.0 (tests/data/sparse/evals_more.json,
 * tools/gen_sparse_eval_refs.py part evals) on the tiny-bert SPLADE model
 * (max, relu), with and without their options (at_k, max_active_dims,
 * similarity_fn_names, rrf_k): every metric Python reports, in Python's
 * order and with its key, within 1e-6 (avg_flops, a float32 dot product in
 * Python, and the classification thresholds, float32 scores, within 1e-6
 * relative; active-dims means within 1e-2, as in
 * tests/test_sparse_evaluators.c: a logit within float rounding of 0 may be
 * active on one side only), and the primary metric. The teacher of
 * SparseMSEEvaluator is the same MLM with sum / log1p_relu pooling. Bad
 * input: a RRF file whose query ids disagree, truncate_dim on a sparse
 * evaluator, a dense-only option.
 */
#include <math.h>

#include "evaluation/evaluators.h"
#include "models/model.h"
#include "sparse_test_util.h"

static double g_worst = 0;
static size_t g_metrics = 0;

static void write_text(const char *dir, const char *name, const char *text) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static int make_model(const char *dir, const char *strategy, const char *activation) {
    if (!st_assemble_mlm("bert", dir)) return 0;
    write_text(dir, "modules.json",
               "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":\"sentence_transformers.sparse_encoder.models."
               "MLMTransformer\"},{\"idx\":1,\"name\":\"1\",\"path\":\"1_SpladePooling\",\"type\":"
               "\"sentence_transformers.sparse_encoder.models.SpladePooling\"}]");
    write_text(dir, "sentence_bert_config.json", "{\"max_seq_length\": 64, \"do_lower_case\": false}");
    write_text(dir, "config_sentence_transformers.json",
               "{\"model_type\": \"SparseEncoder\", \"similarity_fn_name\": null}");
    char sub[4200], cfg[256];
    snprintf(sub, sizeof sub, "%s/1_SpladePooling", dir);
    st_mkdirs(sub);
    snprintf(cfg, sizeof cfg,
             "{\"pooling_strategy\": \"%s\", \"activation_function\": \"%s\", \"word_embedding_dimension\": 30522}",
             strategy, activation);
    write_text(sub, "config.json", cfg);
    return 1;
}

static void compare(const char *what, const sbert_eval_result *r, const cJSON *ref) {
    const cJSON *metrics = cJSON_GetObjectItem(ref, "metrics");
    size_t n = (size_t)cJSON_GetArraySize(metrics);
    CHECK(r->n == n, "%s: %zu metrics, Python %zu", what, r->n, n);
    size_t i = 0;
    for (const cJSON *m = metrics->child; m && i < r->n; m = m->next, i++) {
        const char *key = cJSON_GetArrayItem(m, 0)->valuestring;
        double want = cJSON_GetArrayItem(m, 1)->valuedouble, got = r->m[i].value;
        CHECK(!strcmp(r->m[i].key, key), "%s: metric %zu is %s, Python %s", what, i, r->m[i].key, key);
        /* A *_threshold is a float32 score itself: Python sums a sparse dot
         * product in another order than sbert (double, then rounded), so
         * it may differ by an ulp or two (110.365067 vs 110.365082): it is
         * compared relative to its size. */
        int rel = strstr(key, "avg_flops") || strstr(key, "_threshold");
        double e = rel ? fabs(got - want) / fmax(1, fabs(want)) : fabs(got - want);
        /* map@100 reaches rank 100, where the snli collection has near-ties
         * one float32 ulp apart (query 16, ranks 57-58: exact scores
         * 110.2991705 and 110.2991616; Python's float32 sums give
         * 110.2992096 / 110.2991409, sbert's double sums round both to
         * neighbouring floats in the other order): the measured effect on
         * map@100 is 4.9e-6, so map@100 is held to 1e-5. */
        double tol = strstr(key, "active_dims") ? 1e-2 : strstr(key, "map@100") ? 1e-5 : 1e-6;
        if (!strstr(key, "active_dims")) g_worst = test_max_err(g_worst, e);
        g_metrics++;
        CHECK(e <= tol, "%s: %s = %.9g, Python %.9g (error %.2e)", what, key, got, want, e);
    }
    CHECK(!strcmp(r->primary, cJSON_GetObjectItem(ref, "primary")->valuestring), "%s: primary %s, Python %s", what,
          r->primary, cJSON_GetObjectItem(ref, "primary")->valuestring);
}

static void run_one(sbert_model *m, const char *evaluator, const char *extra, const cJSON *ref) {
    char spec[8192], data[4096];
    const char *opts = cJSON_GetObjectItem(ref, "options")->valuestring;
    const char *sep = *opts && extra && *extra ? ", " : "";
    if (*opts || (extra && *extra)) snprintf(spec, sizeof spec, "%s(%s%s%s)", evaluator, opts, sep, extra ? extra : "");
    else snprintf(spec, sizeof spec, "%s", evaluator);
    snprintf(data, sizeof data, "%s", test_path(cJSON_GetObjectItem(ref, "data")->valuestring));
    sbert_evaluator_set *set = NULL;
    CHECK_OK(sbert_evaluator_set_load_kind(SBERT_KIND_SPARSE_ENCODER, spec, data,
                                           cJSON_GetObjectItem(ref, "name")->valuestring, 0, &set));
    if (!set) return;
    sbert_model_eval_ctx ctx;
    sbert_eval_encoder enc;
    sbert_eval_encoder_for_model(m, 8, &ctx, &enc);
    sbert_eval_result r;
    CHECK_OK(sbert_evaluator_set_run(set, &enc, &r));
    compare(spec, &r, ref);
    sbert_evaluator_set_free(set);
}

static void expect_load_error(const char *evaluator, const char *data, const char *needle) {
    sbert_evaluator_set *set = NULL;
    sbert_status st = sbert_evaluator_set_load_kind(SBERT_KIND_SPARSE_ENCODER, evaluator, data, "", 0, &set);
    CHECK(st != SBERT_OK && strstr(sbert_last_error(), needle), "%s on %s: %s", evaluator, data, sbert_last_error());
    sbert_evaluator_set_free(set);
}

static void bad_input(const char *tmp) {
    char p[4200];
    snprintf(p, sizeof p, "%s/rrf-bad.json", tmp);
    write_text(tmp, "rrf-bad.json",
               "{\"dense_samples\": [{\"query_id\": \"q1\", \"query\": \"a\", \"positive\": \"x\", \"documents\": "
               "[\"x\", \"y\"]}], \"sparse_samples\": [{\"query_id\": \"q2\", \"query\": \"a\", \"positive\": \"x\", "
               "\"documents\": [\"y\", \"x\"]}]}");
    expect_load_error("ReciprocalRankFusionEvaluator", p, "query_id mismatch at index 0: \"q1\" != \"q2\"");
    write_text(tmp, "rrf-bad.json", "{\"dense_samples\": [{\"query_id\": 1, \"query\": \"a\"}], \"sparse_samples\": []}");
    expect_load_error("ReciprocalRankFusionEvaluator", p, "must have the same length");
    write_text(tmp, "rrf-bad.json",
               "{\"dense_samples\": [{\"query\": \"a\", \"positive\": \"x\", \"documents\": [\"x\"]}], "
               "\"sparse_samples\": [{\"query\": \"a\", \"positive\": \"x\", \"documents\": [\"x\"]}]}");
    expect_load_error("ReciprocalRankFusionEvaluator", p, "dense_samples[0]: sample is missing 'query_id'");
    expect_load_error("SparseRerankingEvaluator(truncate_dim=8)", test_path("tests/data/bienc/eval/rerank.jsonl"),
                      "truncate_dim does not apply to a SparseEncoder evaluator");
    expect_load_error("SparseNanoBEIREvaluator(truncate_dim=8)", test_path("tests/data/bienc/eval/nano"),
                      "truncate_dim does not apply to SparseNanoBEIREvaluator");
    expect_load_error("SparseBinaryClassificationEvaluator(similarity_fn_names=[jaccard])",
                      test_path("tests/data/bienc/eval/binary.jsonl"), "'jaccard' is not cosine, dot");
}

int main(void) {
    cJSON *ref = st_load_json(test_path("tests/data/sparse/evals_more.json"));
    const char *tmp = st_tmpdir("sevm");
    char dir[4200], teacher[4200], topt[4300];
    snprintf(dir, sizeof dir, "%s/m", tmp ? tmp : "/nonexistent");
    snprintf(teacher, sizeof teacher, "%s/teacher", tmp ? tmp : "/nonexistent");
    snprintf(topt, sizeof topt, "teacher_model=%s", teacher);
    sbert_model *m = NULL;
    if (ref && tmp && make_model(dir, "max", "relu") && make_model(teacher, "sum", "log1p_relu"))
        CHECK_OK(sbert_model_load_auto(dir, NULL, &m));
    CHECK(m != NULL, "set up the tiny-bert SPLADE model and the reference");
    if (m) {
        run_one(m, "SparseRerankingEvaluator", NULL, cJSON_GetObjectItem(ref, "reranking"));
        run_one(m, "SparseRerankingEvaluator", NULL, cJSON_GetObjectItem(ref, "reranking_opts"));
        run_one(m, "SparseBinaryClassificationEvaluator", NULL, cJSON_GetObjectItem(ref, "binary"));
        run_one(m, "SparseBinaryClassificationEvaluator", NULL, cJSON_GetObjectItem(ref, "binary_opts"));
        run_one(m, "SparseMSEEvaluator", topt, cJSON_GetObjectItem(ref, "mse"));
        run_one(m, "SparseMSEEvaluator", topt, cJSON_GetObjectItem(ref, "mse_opts"));
        run_one(m, "SparseNanoBEIREvaluator", NULL, cJSON_GetObjectItem(ref, "nano"));
        run_one(m, "ReciprocalRankFusionEvaluator", NULL, cJSON_GetObjectItem(ref, "rrf"));
        run_one(m, "ReciprocalRankFusionEvaluator", NULL, cJSON_GetObjectItem(ref, "rrf_opts"));
        sbert_model_free(m);
    }
    if (tmp) bad_input(tmp);
    printf("%zu metrics compared, worst error (active dims aside) %.3g\n", g_metrics, g_worst);
    cJSON_Delete(ref);
    if (tmp) st_rm_rf(tmp);
    return test_summary();
}
