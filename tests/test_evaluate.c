/*
 * tests/test_evaluate.c -- sbert_evaluate (EmbeddingSimilarityEvaluator) on
 * the real all-MiniLM-L6-v2 and on a StaticEmbedding model, against the
 * metrics sentence-transformers' own evaluator computed for the same model
 * and data (tools/gen_eval_refs.py).
 */
#include <cjson/cJSON.h>

#include "io/file.h"
#include "test_util.h"

int main(void) {
    cJSON *refs = NULL;
    CHECK_OK(sbert_json_load(test_path("tests/data/eval/refs.json"), &refs));
    if (!refs) return test_summary();
    const cJSON *c;
    cJSON_ArrayForEach(c, refs) {
        const char *model_dir = cJSON_GetObjectItem(c, "model")->valuestring;
        const char *data = cJSON_GetObjectItem(c, "data")->valuestring;
        const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
        char mpath[1024], dpath[1024];
        snprintf(mpath, sizeof mpath, "%s", test_path(model_dir));
        snprintf(dpath, sizeof dpath, "%s", test_path(data));
        sbert_model *m = NULL;
        CHECK_OK(sbert_model_load(mpath, NULL, &m));
        if (!m) continue;
        sbert_eval_summary s;
        CHECK_OK(sbert_evaluate(m, "EmbeddingSimilarityEvaluator", dpath, name, 32, &s));
        CHECK(strcmp(s.primary, cJSON_GetObjectItem(c, "primary")->valuestring) == 0, "primary %s", s.primary);
        const cJSON *want = cJSON_GetObjectItem(c, "metrics");
        CHECK(s.n == (size_t)cJSON_GetArraySize(want), "%s: %zu metrics", model_dir, s.n);
        for (size_t i = 0; i < s.n; i++) {
            const cJSON *w = cJSON_GetObjectItem(want, s.metrics[i].key);
            CHECK(w != NULL, "%s: metric %s not in the reference", model_dir, s.metrics[i].key);
            if (!w) continue;
            double d = fabs(s.metrics[i].value - w->valuedouble);
            printf("%-28s %-26s sbert %.9f  ST %.9f  |diff| %.2e\n", model_dir, s.metrics[i].key, s.metrics[i].value,
                   w->valuedouble, d);
            CHECK(d <= 1e-6, "%s %s: %.9f vs %.9f", model_dir, s.metrics[i].key, s.metrics[i].value, w->valuedouble);
        }
        CHECK(sbert_evaluate(m, "InformationRetrievalEvaluatr", dpath, name, 32, &s) == SBERT_ERR_UNSUPPORTED,
              "unknown evaluator rejected");
        CHECK(sbert_evaluate(m, "EmbeddingSimilarityEvaluator", test_path("data/allnli-triplets.jsonl"), name, 32, &s) ==
                      SBERT_ERR_FORMAT && strstr(sbert_last_error(), "(sentence1, sentence2, score)"),
              "wrong columns: %s", sbert_last_error());
        sbert_model_free(m);
    }
    cJSON_Delete(refs);
    return test_summary();
}
