/*
 * models/load.c -- which reader and writer each model kind uses: a model
 * directory (or a Hugging Face cache id) in, through the kind's loader
 * (model.c for SentenceTransformer, cross_encoder.c, sparse_encoder.c); the
 * kind from config_sentence_transformers.json when the caller does not know
 * it (sbert_model_load_auto); and sbert_model_save's choice of layout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/error.h"
#include "base/threads.h"
#include "io/dirs.h"
#include "io/file.h"
#include "io/hf_cache.h"
#include "models/cross_encoder.h"
#include "models/model.h"

/* How each kind reads its directory (models/cross_encoder.c,
 * models/sparse_encoder.c for the other two). */
static const struct {
    sbert_model_kind kind;
    sbert_status (*load)(sbert_model *m);
} KIND_LOADERS[] = {
    {SBERT_KIND_SENTENCE_TRANSFORMER, sbert_st_load_dir},
    {SBERT_KIND_CROSS_ENCODER, sbert_cross_encoder_load_dir},
    {SBERT_KIND_SPARSE_ENCODER, sbert_sparse_encoder_load_dir},
};

sbert_status sbert_model_load_kind(const char *dir, sbert_model_kind kind, const sbert_load_options *opt,
                                   sbert_model **out) {
    if (!out) return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_model_load: out is NULL");
    *out = NULL;
    if (!dir || !*dir) return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_model_load: empty path");
    char resolved[4096];
    if (!sbert_dir_exists(dir) && sbert_hf_is_model_id(dir)) {
        SBERT_TRY(sbert_hf_resolve(dir, opt ? opt->revision : NULL, resolved, sizeof resolved));
        dir = resolved;
    }
    if (!sbert_dir_exists(dir)) {
        /* something else there (a file, a link loop, ...): say what */
        if (sbert_file_exists(dir)) return sbert_dir_check(dir);
        return sbert_fail(SBERT_ERR_IO, "%s: model directory does not exist", dir);
    }
    /* The library's thread count (kernels and OpenBLAS); 0 keeps the current one. */
    if (opt && opt->num_threads > 0) sbert_set_num_threads(opt->num_threads);
    sbert_model *m = NULL;
    SBERT_TRY(sbert_model_new_empty(dir, kind, &m));
    sbert_status st = sbert_fail(SBERT_ERR_INTERNAL, "no loader for model kind %d", (int)kind);
    for (size_t i = 0; i < sizeof KIND_LOADERS / sizeof KIND_LOADERS[0]; i++)
        if (KIND_LOADERS[i].kind == kind) st = KIND_LOADERS[i].load(m);
    if (st != SBERT_OK) {
        sbert_error_prefix("loading model %s: ", dir);
        sbert_model_free(m);
        return st;
    }
    *out = m;
    return SBERT_OK;
}

sbert_status sbert_model_load(const char *dir, const sbert_load_options *opt, sbert_model **out) {
    return sbert_model_load_kind(dir, SBERT_KIND_SENTENCE_TRANSFORMER, opt, out);
}

sbert_status sbert_sparse_encoder_load(const char *dir, const sbert_load_options *opt, sbert_model **out) {
    return sbert_model_load_kind(dir, SBERT_KIND_SPARSE_ENCODER, opt, out);
}

sbert_status sbert_model_load_auto(const char *dir, const sbert_load_options *opt, sbert_model **out) {
    if (!out) return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_model_load_auto: out is NULL");
    *out = NULL;
    if (!dir || !*dir) return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_model_load_auto: empty path");
    char path[4096];
    SBERT_TRY(sbert_path_join(path, sizeof path, dir, "config_sentence_transformers.json"));
    int kind = SBERT_KIND_SENTENCE_TRANSFORMER;
    if (sbert_file_exists(path)) {
        cJSON *cfg = NULL;
        SBERT_TRY(sbert_json_load(path, &cfg));
        const cJSON *mt = cJSON_IsObject(cfg) ? cJSON_GetObjectItemCaseSensitive(cfg, "model_type") : NULL;
        if (cJSON_IsString(mt)) {
            kind = sbert_model_kind_parse(mt->valuestring);
            if (kind < 0) {
                sbert_status st = sbert_fail(SBERT_ERR_UNSUPPORTED,
                                             "%s: model_type \"%s\" is not SentenceTransformer, CrossEncoder or "
                                             "SparseEncoder",
                                             path, mt->valuestring);
                cJSON_Delete(cfg);
                return st;
            }
        }
        cJSON_Delete(cfg);
    }
    return sbert_model_load_kind(dir, (sbert_model_kind)kind, opt, out);
}

const char *sbert_model_type(const sbert_model *m) { return m ? sbert_model_kind_name(m->kind) : "?"; }

sbert_status sbert_model_save(const sbert_model *m, const char *dir) {
    if (m->kind == SBERT_KIND_CROSS_ENCODER) return sbert_cross_encoder_save_dir(m, dir);
    return sbert_st_save_dir(m, dir);
}
