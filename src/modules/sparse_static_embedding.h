/*
 * modules/sparse_static_embedding.h -- sentence-transformers'
 * SparseStaticEmbedding: an input module that maps a text to
 *   emb[v] = weight[v] * 1[v is one of the text's token ids]
 * (binary presence, not counts; weight typically IDF values), the
 * inference-free query side of SPLADE models (normally in a Router).
 *
 * Folder: config.json {"frozen": bool}, model.safetensors {"weight": [vocab]}
 * and the HF tokenizer files; the text is tokenized without special tokens,
 * truncated to tokenizer_config.json's model_max_length (as the Python
 * module's tokenizer(..., truncation=True, add_special_tokens=False)).
 * A frozen module registers its weight as not trainable.
 */
#ifndef SBERT_MODULES_SPARSE_STATIC_EMBEDDING_H
#define SBERT_MODULES_SPARSE_STATIC_EMBEDDING_H

#include "modules/module.h"

sbert_status sbert_sparse_static_load(const sbert_module_load_ctx *ctx, sbert_module **out);
int sbert_module_is_sparse_static(const sbert_module *m);

#endif
