/*
 * models/sparse_encoder.c -- loading SparseEncoder (SPLADE) model directories
 * (st_formats.md A.3):
 *
 *   - modules.json listing an MLM transformer (legacy MLMTransformer, or the
 *     v6 Transformer with transformer_task "fill-mask") followed by
 *     SpladePooling; or a Router (query / document routes, e.g.
 *     SparseStaticEmbedding for queries, MLM + SpladePooling for documents);
 *   - a plain Hugging Face *ForMaskedLM directory (no modules.json): the MLM
 *     transformer + SpladePooling("max", "relu"), as SparseEncoder builds it.
 *
 * config_sentence_transformers.json: model_type SparseEncoder (or absent),
 * similarity_fn_name (null or absent means dot), prompts, max_active_dims
 * (read at encode time from the kept JSON).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/error.h"
#include "io/file.h"
#include "models/model.h"
#include "models/sparse_encoder.h"
#include "modules/mlm_head.h"
#include "modules/router.h"
#include "modules/splade_pooling.h"

#define PATH_CAP 4096

/* A plain *ForMaskedLM directory: MLM transformer + SpladePooling(max, relu). */
static sbert_status load_plain_mlm(sbert_model *m) {
    /* Saved back in the legacy layout, which sentence-transformers v5 and v6 both read. */
    sbert_module_load_ctx ctx = {m->dir, m->dir, "sentence_transformers.sparse_encoder.models.MLMTransformer", 0, 0, 0};
    sbert_module *mlm = NULL;
    SBERT_TRY(sbert_mlm_module_load(&ctx, &mlm));
    SBERT_TRY(sbert_model_add_module(m, mlm, "0", ""));
    sbert_splade_config c = {SBERT_SPLADE_MAX, SBERT_SPLADE_RELU, sbert_mlm_vocab_size(mlm)};
    sbert_module *pool = NULL;
    SBERT_TRY(sbert_splade_pooling_new(&c, &pool));
    SBERT_TRY(sbert_model_add_module(m, pool, "1", "1_SpladePooling"));
    return SBERT_OK;
}

sbert_status sbert_sparse_encoder_load_dir(sbert_model *m) {
    char modules_path[PATH_CAP], config_path[PATH_CAP];
    SBERT_TRY(sbert_path_join(modules_path, sizeof modules_path, m->dir, "modules.json"));
    SBERT_TRY(sbert_path_join(config_path, sizeof config_path, m->dir, "config.json"));
    /* SparseEncoder's similarity: dot unless the saved config names another. */
    snprintf(m->sim_name, sizeof m->sim_name, "dot");
    if (sbert_file_exists(modules_path)) {
        SBERT_TRY(sbert_model_read_st_config(m));
        const cJSON *mad = m->st_config ? cJSON_GetObjectItemCaseSensitive(m->st_config, "max_active_dims") : NULL;
        if (mad && !cJSON_IsNull(mad) && !(cJSON_IsNumber(mad) && mad->valuedouble >= 1 &&
                                           mad->valuedouble == (double)(long long)mad->valuedouble))
            return sbert_fail(SBERT_ERR_FORMAT,
                              "%s/config_sentence_transformers.json: max_active_dims must be a positive integer or "
                              "null",
                              m->dir);
        SBERT_TRY(sbert_model_load_modules_json(m, modules_path));
    } else if (sbert_file_exists(config_path)) {
        SBERT_TRY(load_plain_mlm(m));
    } else {
        return sbert_fail(SBERT_ERR_IO,
                          "%s: neither modules.json (a sentence-transformers SparseEncoder) nor config.json (a Hugging "
                          "Face *ForMaskedLM model) found",
                          m->dir);
    }
    SBERT_TRY(sbert_sparse_check_pipeline(m->mods, m->n_mods, modules_path));
    for (size_t i = 0; i < m->n_mods; i++)
        if (sbert_module_is_router(m->mods[i])) SBERT_TRY(sbert_router_check(m->mods[i]));
    m->full_dim = m->mods[m->n_mods - 1]->ops->out_dim(m->mods[m->n_mods - 1]);
    if (m->full_dim == 0)
        return sbert_fail(SBERT_ERR_FORMAT, "%s: the SparseEncoder's output dimension is unknown", m->dir);
    return SBERT_OK;
}
