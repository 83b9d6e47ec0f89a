/*
 * modules/static_warmstart.h -- a StaticEmbedding model that does not start
 * from random rows: distilled from a transformer bi-encoder, or read from a
 * model2vec directory, as sentence-transformers'
 * StaticEmbedding.from_distillation / from_model2vec do.
 *
 * Distillation (model2vec 0.10 `distill`, which from_distillation calls):
 *  1. the vocabulary: the teacher's tokenizer.json vocabulary in id order,
 *     without its added tokens other than the unknown and padding tokens
 *     ([CLS], [SEP], [MASK] go) and without the tokens the remove pattern
 *     matches at their start (default \[unused\d+\]); the new tokenizer
 *     numbers the tokens left 0.. in that order, has no post-processor, no
 *     padding, and truncates at the teacher's model_max_length
 *     (tokenizer_config.json) when it has one;
 *  2. each token t is run through the teacher's Transformer as
 *     [bos..., t, eos...] (the teacher's special tokens around a single text)
 *     and the token outputs are averaged (mean over all positions);
 *  3. PCA to `pca_dims` as model2vec does it: centre, covariance
 *     Xc^T Xc / (n - 1), eigenvectors (LAPACK dsyevd), the largest first,
 *     each component's sign chosen so that its largest-magnitude score is
 *     positive (model2vec's rule: no sign is left free); pca_dims above the
 *     width keeps the width, pca_dims >= the number of tokens skips PCA.
 *     sbert computes it in double precision; numpy does it in float32, whose
 *     own error (7.7e-5 on all-MiniLM-L6-v2's 29,525 x 256 table) is about
 *     the distance between the two (tests/test_static_warmstart.c);
 *  4. SIF weighting by Zipf rank: row i times sif / (sif + p_i) with
 *     p_i = (1 / (i + 2)) / sum_j (1 / (j + 2)).
 *  Only WordPiece vocabularies (BERT family) are supported for now.
 *
 * model2vec directories (config.json, tokenizer.json, model.safetensors with
 * "embeddings" and, for vocabulary-quantized models, "mapping" and
 * "weights"): row t = embeddings[mapping[t]] * weights[t] (float32), as
 * StaticEmbedding._fold_model2vec_weights does.
 */
#ifndef SBERT_MODULES_STATIC_WARMSTART_H
#define SBERT_MODULES_STATIC_WARMSTART_H

#include <stddef.h>

#include "models/model.h"
#include "sbert.h"

typedef struct {
    size_t pca_dims;                  /* 0: no PCA (pca_dims=None) */
    double sif_coefficient;           /* in (0, 1); NAN: no weighting */
    const char *token_remove_pattern; /* NULL: keep every token */
    size_t batch_size;                /* tokens per forward (0: 256) */
    sbert_log_fn log;
    void *log_user;
} sbert_distill_options;

/* pca_dims 256, sif 1e-4, "\\[unused\\d+\\]", batch 256: from_distillation's defaults. */
sbert_distill_options sbert_distill_options_default(void);

/* A StaticEmbedding model distilled from the bi-encoder (or plain Hugging
 * Face encoder) directory `teacher`. */
sbert_status sbert_static_from_distillation(const char *teacher, const sbert_distill_options *opt,
                                            sbert_model **out);

/* A StaticEmbedding model from a model2vec directory. */
sbert_status sbert_static_from_model2vec(const char *dir, sbert_model **out);

/* 1 when `dir` looks like a model2vec directory (model.safetensors holding
 * "embeddings", tokenizer.json, no modules.json). */
int sbert_is_model2vec_dir(const char *dir);

/* ---- the pieces, for tests */

/* The distillation vocabulary of a tokenizer.json text: *keep receives the
 * original ids of the kept tokens in new-id order (malloc'd), *tok_json the
 * new tokenizer.json (malloc'd). The padding token is the one of the file's
 * padding section, else `pad_fallback` (tokenizer_config.json's pad_token, as
 * transformers reports it; may be NULL). model_max_length > 0 sets the
 * truncation. */
sbert_status sbert_distill_vocabulary(const char *tokenizer_json, size_t len, const char *name,
                                      const char *remove_pattern, const char *pad_fallback, long model_max_length,
                                      int32_t **keep, size_t *n_keep, char **tok_json);

/* The warm start a recipe names (`warmstart:`): a model2vec directory is read
 * as is (its width must equal `dim` when dim_given), any other model
 * directory is distilled with pca_dims = dim. *desc describes what was done. */
sbert_status sbert_static_warmstart(const char *source, size_t dim, int dim_given, sbert_log_fn log, void *log_user,
                                    sbert_model **out, char *desc, size_t desc_cap);

/* model2vec's PCA of x [n, d] (not modified) into out [n, k]; *k_out
 * receives k (d when no reduction; 0 and out untouched when PCA is skipped). */
sbert_status sbert_distill_pca(float *x, size_t n, size_t d, size_t pca_dims, float *out, size_t *k_out);

#endif
