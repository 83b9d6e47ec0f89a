/*
 * models/sentence_transformer.h -- internal view of a loaded
 * SentenceTransformer (the public handle is sbert_model in sbert.h), for the
 * parts of the library that need more than encode(): the CLI helpers,
 * evaluators and, later, training.
 *
 * A model is: a tokenizer, a Transformer, a Pooling, then any sequence of
 * Dense / Normalize modules, plus the settings of
 * config_sentence_transformers.json (prompts, default prompt, similarity
 * function, truncate_dim) and of sentence_bert_config.json (max_seq_length,
 * do_lower_case).
 */
#ifndef SBERT_MODELS_SENTENCE_TRANSFORMER_H
#define SBERT_MODELS_SENTENCE_TRANSFORMER_H

#include <stddef.h>

#include "modules/dense.h"
#include "modules/pooling.h"
#include "modules/transformer.h"
#include "sbert.h"

typedef enum { SBERT_MOD_DENSE, SBERT_MOD_NORMALIZE } sbert_post_module_kind;

typedef struct {
    sbert_post_module_kind kind;
    sbert_dense *dense; /* SBERT_MOD_DENSE */
    size_t in_dim, out_dim;
    char *path; /* sub-folder as named in modules.json */
} sbert_post_module;

sbert_transformer *sbert_model_transformer(sbert_model *m);
const sbert_pooling *sbert_model_pooling(const sbert_model *m);
size_t sbert_model_n_post_modules(const sbert_model *m);
const sbert_post_module *sbert_model_post_module(const sbert_model *m, size_t i);
/* The dimension of the pipeline output before any truncate_dim. */
size_t sbert_model_full_dim(const sbert_model *m);
/* The model's own truncate_dim from config_sentence_transformers.json (0 = none). */
size_t sbert_model_truncate_dim(const sbert_model *m);
/* do_lower_case from sentence_bert_config.json. */
int sbert_model_do_lower_case(const sbert_model *m);

/* The prompt length (tokens excluded from pooling when include_prompt is
 * false): the prompt tokenized alone with special tokens, minus one when the
 * tokenizer appends a trailing special token (as Transformer._get_prompt_length). */
sbert_status sbert_model_prompt_length(const sbert_model *m, const char *prompt, size_t *out);

/* ---- additions (helper "ttrain"): what training needs ---- */

/* The directory the model was loaded from. */
const char *sbert_model_dir(const sbert_model *m);
/* Override max_seq_length (> 0; still capped by what the position embeddings allow). */
void sbert_model_set_max_seq_length(sbert_model *m, size_t max_seq_length);
/* Tokenize one text exactly as encode() does (prompt prepended as a raw
 * string, do_lower_case, special tokens, longest_first truncation to
 * max_seq_length; StaticEmbedding: no special tokens). prompt may be NULL.
 * enc is filled as sbert_tokenizer_encode does (free with sbert_encoding_free);
 * padding a tokenizer.json may ask for shows up as attention_mask 0. */
sbert_status sbert_model_tokenize(const sbert_model *m, const char *prompt, const char *text,
                                  sbert_encoding *enc);

#endif
