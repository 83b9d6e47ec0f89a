/*
 * modules/registry.c -- the table of module classes: which modules.json
 * "type" strings name which class, where it may stand in a pipeline, and
 * its loader. Adding a module is one file plus one row in CLASSES and its
 * type names in TYPES.
 */
#include <string.h>

#include "modules/dense.h"
#include "modules/mlm_head.h"
#include "modules/module.h"
#include "modules/normalize.h"
#include "modules/pooling.h"
#include "modules/router.h"
#include "modules/sparse_static_embedding.h"
#include "modules/splade_pooling.h"
#include "modules/static_embedding.h"
#include "modules/transformer_module.h"

static const sbert_module_class CLASSES[] = {
    {"Transformer", sbert_transformer_task_load, SBERT_MODULE_INPUT, 0, "sentence_transformers.models.Transformer"},
    {"StaticEmbedding", sbert_static_module_load, SBERT_MODULE_INPUT, 1,
     "sentence_transformers.models.StaticEmbedding"},
    {"Pooling", sbert_pooling_module_load, SBERT_MODULE_TOKEN, 1, "sentence_transformers.models.Pooling"},
    {"Dense", sbert_dense_module_load, SBERT_MODULE_SENTENCE, 1, "sentence_transformers.models.Dense"},
    {"Normalize", sbert_normalize_module_load, SBERT_MODULE_SENTENCE, 1, "sentence_transformers.models.Normalize"},
    /* SparseEncoder (modules/mlm_head.c, modules/splade_pooling.c) */
    {"MLMTransformer", sbert_mlm_module_load, SBERT_MODULE_INPUT, 0,
     "sentence_transformers.sparse_encoder.models.MLMTransformer"},
    {"SpladePooling", sbert_splade_pooling_load, SBERT_MODULE_TOKEN, 1,
     "sentence_transformers.sparse_encoder.models.SpladePooling"},
    {"SparseStaticEmbedding", sbert_sparse_static_load, SBERT_MODULE_INPUT, 1,
     "sentence_transformers.sparse_encoder.models.SparseStaticEmbedding"},
    {"Router", sbert_router_load, SBERT_MODULE_INPUT, 1, "sentence_transformers.models.Router"},
};

/* modules.json type strings: the legacy sentence_transformers.models paths
 * and the v5.4+/v6 ones. */
static const struct {
    const char *type;
    const char *class_name;
} TYPES[] = {
    {"sentence_transformers.models.Transformer", "Transformer"},
    {"sentence_transformers.models.transformer.Transformer", "Transformer"},
    {"sentence_transformers.models.Transformer.Transformer", "Transformer"},
    {"sentence_transformers.base.modules.transformer.Transformer", "Transformer"},
    {"sentence_transformers.base.modules.Transformer", "Transformer"},
    {"sentence_transformers.models.Pooling", "Pooling"},
    {"sentence_transformers.models.Pooling.Pooling", "Pooling"},
    {"sentence_transformers.models.pooling.Pooling", "Pooling"},
    {"sentence_transformers.sentence_transformer.modules.pooling.Pooling", "Pooling"},
    {"sentence_transformers.sentence_transformer.modules.Pooling", "Pooling"},
    {"sentence_transformers.models.Dense", "Dense"},
    {"sentence_transformers.models.Dense.Dense", "Dense"},
    {"sentence_transformers.models.dense.Dense", "Dense"},
    {"sentence_transformers.base.modules.dense.Dense", "Dense"},
    {"sentence_transformers.base.modules.Dense", "Dense"},
    {"sentence_transformers.sentence_transformer.modules.dense.Dense", "Dense"},
    {"sentence_transformers.models.Normalize", "Normalize"},
    {"sentence_transformers.models.Normalize.Normalize", "Normalize"},
    {"sentence_transformers.models.normalize.Normalize", "Normalize"},
    {"sentence_transformers.base.modules.normalize.Normalize", "Normalize"},
    {"sentence_transformers.base.modules.Normalize", "Normalize"},
    {"sentence_transformers.sentence_transformer.modules.normalize.Normalize", "Normalize"},
    {"sentence_transformers.models.StaticEmbedding", "StaticEmbedding"},
    {"sentence_transformers.models.StaticEmbedding.StaticEmbedding", "StaticEmbedding"},
    {"sentence_transformers.sentence_transformer.modules.static_embedding.StaticEmbedding", "StaticEmbedding"},
    {"sentence_transformers.sentence_transformer.modules.StaticEmbedding", "StaticEmbedding"},
    {"sentence_transformers.sparse_encoder.models.MLMTransformer", "MLMTransformer"},
    {"sentence_transformers.sparse_encoder.models.MLMTransformer.MLMTransformer", "MLMTransformer"},
    {"sentence_transformers.sparse_encoder.modules.mlm_transformer.MLMTransformer", "MLMTransformer"},
    {"sentence_transformers.sparse_encoder.modules.MLMTransformer", "MLMTransformer"},
    {"sentence_transformers.sparse_encoder.models.SpladePooling", "SpladePooling"},
    {"sentence_transformers.sparse_encoder.models.SpladePooling.SpladePooling", "SpladePooling"},
    {"sentence_transformers.sparse_encoder.modules.splade_pooling.SpladePooling", "SpladePooling"},
    {"sentence_transformers.sparse_encoder.modules.SpladePooling", "SpladePooling"},
    {"sentence_transformers.sparse_encoder.models.SparseStaticEmbedding", "SparseStaticEmbedding"},
    {"sentence_transformers.sparse_encoder.models.SparseStaticEmbedding.SparseStaticEmbedding",
     "SparseStaticEmbedding"},
    {"sentence_transformers.sparse_encoder.modules.sparse_static_embedding.SparseStaticEmbedding",
     "SparseStaticEmbedding"},
    {"sentence_transformers.sparse_encoder.modules.SparseStaticEmbedding", "SparseStaticEmbedding"},
    {"sentence_transformers.base.modules.router.Router", "Router"},
    {"sentence_transformers.base.modules.Router", "Router"},
    {"sentence_transformers.models.Router", "Router"},
    {"sentence_transformers.models.Router.Router", "Router"},
    {"sentence_transformers.models.Asym", "Router"},
    {"sentence_transformers.models.Asym.Asym", "Router"},
    {"sentence_transformers.sparse_encoder.modules.Router", "Router"},
    {"sentence_transformers.sentence_transformer.modules.Router", "Router"},
};

const sbert_module_class *sbert_module_class_named(const char *class_name) {
    for (size_t i = 0; i < sizeof CLASSES / sizeof CLASSES[0]; i++)
        if (strcmp(CLASSES[i].class_name, class_name) == 0) return &CLASSES[i];
    return NULL;
}

const sbert_module_class *sbert_module_class_find(const char *type) {
    for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++)
        if (strcmp(TYPES[i].type, type) == 0) return sbert_module_class_named(TYPES[i].class_name);
    return NULL;
}

const char *sbert_module_class_list(void) { return "Transformer, StaticEmbedding, Pooling, Dense, Normalize, MLMTransformer, SpladePooling, SparseStaticEmbedding and Router"; }
