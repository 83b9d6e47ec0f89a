/*
 * modules/normalize.c -- the sentence-transformers Normalize module (L2 row
 * normalization) and the check of its optional v6 config.json.
 */
#include "modules/normalize.h"

#include <math.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/error.h"
#include "io/file.h"

sbert_status sbert_normalize_load(const char *dir) {
    char path[4096];
    SBERT_TRY(sbert_path_join(path, sizeof path, dir, "config.json"));
    if (!sbert_file_exists(path)) return SBERT_OK;
    cJSON *cfg = NULL;
    SBERT_TRY(sbert_json_load(path, &cfg));
    sbert_status st = SBERT_OK;
    if (!cJSON_IsObject(cfg)) {
        st = sbert_fail(SBERT_ERR_FORMAT, "%s: not a JSON object", path);
    } else {
        static const char *const keys[] = {"module_input_name", "module_output_name"};
        for (int i = 0; i < 2 && st == SBERT_OK; i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, keys[i]);
            if (v && !cJSON_IsNull(v) &&
                !(cJSON_IsString(v) && strcmp(v->valuestring, "sentence_embedding") == 0))
                st = sbert_fail(SBERT_ERR_UNSUPPORTED,
                                "%s: \"%s\" other than \"sentence_embedding\" is not supported",
                                path, keys[i]);
        }
    }
    cJSON_Delete(cfg);
    return st;
}

void sbert_normalize_rows(float *x, size_t n, size_t dim) {
    for (size_t i = 0; i < n; i++) {
        float *r = x + i * dim;
        double ss = 0.0;
        for (size_t d = 0; d < dim; d++) ss += (double)r[d] * r[d];
        float norm = (float)sqrt(ss);
        if (norm < 1e-12f) norm = 1e-12f;
        for (size_t d = 0; d < dim; d++) r[d] /= norm;
    }
}
