/*
 * modules/splade_pooling.h -- sentence-transformers' SpladePooling, fused
 * with the MLM head's vocabulary decoder.
 *
 * Python (sparse_encoder/modules/splade_pooling.py) pools MLM logits
 * z[t, v] = u[t] . E[v] + b[v] of every token t of a sequence:
 *   w[v] = max_t f(z[t, v])   (pooling_strategy "max")   or   sum_t f(z[t, v])  ("sum")
 *   f(z) = log1p(relu(z))                 (activation_function "relu")
 *   f(z) = log1p(log1p(relu(z)))          ("log1p_relu", OpenSearch)
 * (padding contributes 0). Here the logits are computed for one block of
 * tokens at a time (a [block, V] buffer), pooled at once and dropped, so the
 * [T, V] tensor never exists:
 *   - max: f is non-decreasing, so max_t f(z) = f(max_t z); the forward keeps
 *     per (sequence, v) the winning token and its logit, and the backward is
 *     sparse: only (sequence, v) with w > 0 send a gradient, to one token;
 *   - sum: the backward recomputes each block's logits and applies
 *     d u += D . E, d E += D^T . u, d b += sum D with D = dw * f'(z) (z > 0).
 * The decoder gradient goes into the word embeddings when they are tied.
 *
 * config.json: {"pooling_strategy": "max"|"sum", "activation_function":
 * "relu"|"log1p_relu", "word_embedding_dimension" (legacy) or
 * "embedding_dimension" (v6): the vocabulary size or null}; "chunk_size" (a
 * Python memory knob: the computation here is always blocked) is accepted
 * and has no other effect; any other key is refused.
 */
#ifndef SBERT_MODULES_SPLADE_POOLING_H
#define SBERT_MODULES_SPLADE_POOLING_H

#include <stddef.h>
#include <stdint.h>

#include "modules/mlm_head.h"
#include "modules/module.h"

typedef enum { SBERT_SPLADE_MAX = 0, SBERT_SPLADE_SUM = 1 } sbert_splade_strategy;
typedef enum { SBERT_SPLADE_RELU = 0, SBERT_SPLADE_LOG1P_RELU = 1 } sbert_splade_activation;

typedef struct {
    sbert_splade_strategy strategy;
    sbert_splade_activation activation;
    size_t dim; /* configured vocabulary size (0: null, taken from the decoder) */
} sbert_splade_config;

sbert_status sbert_splade_pooling_load(const sbert_module_load_ctx *ctx, sbert_module **out);
/* A new SpladePooling module (legacy type name). */
sbert_status sbert_splade_pooling_new(const sbert_splade_config *c, sbert_module **out);
/* The configuration of a SpladePooling module, or NULL for another module. */
const sbert_splade_config *sbert_splade_pooling_config(const sbert_module *m);
/* Set the output width (the decoder's vocabulary size) once the MLM module is known. */
void sbert_splade_pooling_set_dim(sbert_module *m, size_t dim);
int sbert_module_is_splade_pooling(const sbert_module *m);

/* The fused computation itself (also used by the tests):
 * u: [T, H] the MLM transform output of a packed batch (offs [n_seq+1]);
 * out: [n_seq, V]. arg / zsel: NULL, or [n_seq, V] for the max backward
 * (winning token index or -1, its logit). */
void sbert_splade_forward(const sbert_splade_config *c, const sbert_mlm_decoder *d, const float *u,
                          const size_t *offs, size_t n_seq, float *out, int32_t *arg, float *zsel);
/* Backward: dout [n_seq, V] -> du [T, H] (+=), d->dW, d->db (+=, each may be NULL).
 * max: arg/zsel from the forward; sum: recomputes the logits. */
void sbert_splade_backward(const sbert_splade_config *c, const sbert_mlm_decoder *d, const float *u,
                           const size_t *offs, size_t n_seq, const float *dout, const int32_t *arg,
                           const float *zsel, float *du);

/* Every MLM module is followed by SpladePooling and every SpladePooling
 * follows an MLM module; SpladePooling's width becomes the MLM vocabulary
 * (a configured width that disagrees is an error). `where` names the list
 * in messages. */
sbert_status sbert_sparse_check_pipeline(sbert_module **mods, size_t n, const char *where);

#endif
