/*
 * tests/test_sparse_evaluators.c -- the SparseEncoder evaluators against
 * sentence-transformers 6.2.0 (tests/data/sparse/evals.json,
 * tools/gen_sparse_refs.py part evals) on the tiny-bert SPLADE model (max,
 * relu): SparseInformationRetrievalEvaluator on tests/data/ir/cranfield-small.json,
 * SparseEmbeddingSimilarityEvaluator on 100 STS-B dev pairs,
 * SparseTripletEvaluator on 60 SNLI dev triplets. Every metric Python
 * reports, in Python's order and with its key, within 1e-6 (active dims,
 * sparsity ratios and avg_flops included; avg_flops, a float32 dot product
 * in Python, within 1e-6 relative; active-dims means within 1e-2: one
 * logit within float rounding of 0 may be active on one side only); the
 * primary metric; the dot product as
 * the default score function. A sparse evaluator on a dense model and a
 * dense evaluator on a sparse model are clear errors.
 */
#include <math.h>

#include "evaluation/evaluators.h"
#include "models/model.h"
#include "sparse_test_util.h"

static double g_worst = 0;

static void write_text(const char *dir, const char *name, const char *text) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static int make_model(const char *dir) {
    if (!st_assemble_mlm("bert", dir)) return 0;
    write_text(dir, "modules.json",
               "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":\"sentence_transformers.sparse_encoder.models."
               "MLMTransformer\"},{\"idx\":1,\"name\":\"1\",\"path\":\"1_SpladePooling\",\"type\":"
               "\"sentence_transformers.sparse_encoder.models.SpladePooling\"}]");
    write_text(dir, "sentence_bert_config.json", "{\"max_seq_length\": 64, \"do_lower_case\": false}");
    write_text(dir, "config_sentence_transformers.json",
               "{\"model_type\": \"SparseEncoder\", \"similarity_fn_name\": null}");
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/1_SpladePooling", dir);
    st_mkdirs(sub);
    write_text(sub, "config.json",
               "{\"pooling_strategy\": \"max\", \"activation_function\": \"relu\", \"word_embedding_dimension\": 30522}");
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
        double e = strstr(key, "avg_flops") ? fabs(got - want) / fmax(1, fabs(want)) : fabs(got - want);
        /* An active-dims mean over >= 100 rows may differ by one dimension in
         * one row: a logit within float rounding of 0 (measured: one value of
         * 7e-7 among 173 corpus rows) is positive on one side only. */
        double tol = strstr(key, "active_dims") ? 1e-2 : 1e-6;
        if (!strstr(key, "active_dims")) g_worst = test_max_err(g_worst, e);
        CHECK(e <= tol, "%s: %s = %.9g, Python %.9g", what, key, got, want);
    }
    CHECK(!strcmp(r->primary, cJSON_GetObjectItem(ref, "primary")->valuestring), "%s: primary %s, Python %s", what,
          r->primary, cJSON_GetObjectItem(ref, "primary")->valuestring);
}

static void run_one(sbert_model *m, const char *evaluator, const cJSON *ref, size_t max_samples) {
    char data[4096];
    snprintf(data, sizeof data, "%s", test_path(cJSON_GetObjectItem(ref, "data")->valuestring));
    sbert_evaluator_set *set = NULL;
    CHECK_OK(sbert_evaluator_set_load_kind(SBERT_KIND_SPARSE_ENCODER, evaluator, data,
                                           cJSON_GetObjectItem(ref, "name")->valuestring, max_samples, &set));
    if (!set) return;
    sbert_model_eval_ctx ctx;
    sbert_eval_encoder enc;
    sbert_eval_encoder_for_model(m, 8, &ctx, &enc);
    sbert_eval_result r;
    CHECK_OK(sbert_evaluator_set_run(set, &enc, &r));
    compare(evaluator, &r, ref);
    sbert_evaluator_set_free(set);
}

int main(void) {
    cJSON *ref = st_load_json(test_path("tests/data/sparse/evals.json"));
    const char *tmp = st_tmpdir("seval");
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/m", tmp ? tmp : "/nonexistent");
    sbert_model *m = NULL;
    if (ref && tmp && make_model(dir)) CHECK_OK(sbert_model_load_auto(dir, NULL, &m));
    if (m) {
        CHECK(!strcmp(sbert_model_similarity_fn_name(m), "dot"), "similarity %s (null in the config means dot)",
              sbert_model_similarity_fn_name(m));
        run_one(m, "SparseInformationRetrievalEvaluator", cJSON_GetObjectItem(ref, "ir"), 0);
        run_one(m, "SparseEmbeddingSimilarityEvaluator", cJSON_GetObjectItem(ref, "similarity"), 0);
        const cJSON *tr = cJSON_GetObjectItem(ref, "triplet");
        run_one(m, "SparseTripletEvaluator", tr, (size_t)cJSON_GetObjectItem(tr, "max_samples")->valueint);
        /* a dense evaluator on a sparse model */
        sbert_eval_summary s;
        sbert_status st = sbert_evaluate(m, "InformationRetrievalEvaluator", test_path("tests/data/ir/cranfield-small.json"),
                                         "x", 8, &s);
        CHECK(st == SBERT_ERR_UNSUPPORTED && strstr(sbert_last_error(), "use SparseInformationRetrievalEvaluator"),
              "dense evaluator on a SparseEncoder: %s", sbert_last_error());
        sbert_model_free(m);
    }
    /* a sparse evaluator on a dense model */
    const char *minilm = test_path("models/all-MiniLM-L6-v2");
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/model.safetensors", minilm);
    if (TEST_REQUIRE_FILE(probe, TEST_FETCH_MODELS)) {
        sbert_model *d = NULL;
        CHECK_OK(sbert_model_load(minilm, NULL, &d));
        if (d) {
            sbert_eval_summary s;
            sbert_status st = sbert_evaluate(d, "SparseInformationRetrievalEvaluator",
                                             test_path("tests/data/ir/cranfield-small.json"), "x", 8, &s);
            CHECK(st == SBERT_ERR_UNSUPPORTED && strstr(sbert_last_error(), "SparseEncoder evaluator") &&
                      strstr(sbert_last_error(), "use InformationRetrievalEvaluator"),
                  "sparse evaluator on a SentenceTransformer: %s", sbert_last_error());
            sbert_model_free(d);
        }
    }
    printf("worst evaluator error: %.3g\n", g_worst);
    cJSON_Delete(ref);
    if (tmp) st_rm_rf(tmp);
    return test_summary();
}
