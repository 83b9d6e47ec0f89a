/*
 * modules/pooling.h -- the sentence-transformers `Pooling` module: token
 * embeddings of one sequence in, one fixed-size sentence embedding out.
 *
 * Config (`<k>_Pooling/config.json`), both generations are read:
 *   legacy (v2..v5.3): word_embedding_dimension, pooling_mode_cls_token,
 *     pooling_mode_max_tokens, pooling_mode_mean_tokens,
 *     pooling_mode_mean_sqrt_len_tokens, pooling_mode_weightedmean_tokens,
 *     pooling_mode_lasttoken (bools), include_prompt;
 *   v6: embedding_dimension, pooling_mode ("mean" or ["cls", "mean"]),
 *     include_prompt.
 * Legacy bools concatenate in the fixed order cls, max, mean,
 * mean_sqrt_len_tokens, weightedmean, lasttoken; a v6 list concatenates in
 * list order; nothing set means mean (as Python's _convert_legacy_pooling_kwargs).
 *
 * The forward pass runs over a packed batch (no padding): sequence i is rows
 * seq_offsets[i]..seq_offsets[i+1] of the token matrix. The result for each
 * sequence equals v6 Pooling._forward_padded on a right-padded batch,
 * including the include_prompt=false rule (the first prompt_length tokens are
 * masked out of pooling only) and its edge cases (a sequence whose tokens are
 * all masked gives: cls = token 0, max = -inf, mean variants = 0,
 * lasttoken = 0).
 */
#ifndef SBERT_MODULES_POOLING_H
#define SBERT_MODULES_POOLING_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "modules/module.h"
#include "sbert.h"

typedef enum {
    SBERT_POOL_CLS = 0,
    SBERT_POOL_MAX,
    SBERT_POOL_MEAN,
    SBERT_POOL_MEAN_SQRT_LEN,
    SBERT_POOL_WEIGHTEDMEAN,
    SBERT_POOL_LASTTOKEN,
    SBERT_POOL_NMODES
} sbert_pooling_mode;

#define SBERT_POOL_MAX_MODES 16

typedef struct {
    size_t dim;                                    /* token embedding dimension */
    size_t n_modes;                                /* >= 1 */
    sbert_pooling_mode modes[SBERT_POOL_MAX_MODES]; /* concatenation order */
    int include_prompt;                            /* 0: exclude prompt tokens */
} sbert_pooling;

/* The Python name of a mode ("cls", "max", "mean", "mean_sqrt_len_tokens",
 * "weightedmean", "lasttoken"). */
const char *sbert_pooling_mode_name(sbert_pooling_mode m);

/* Parse a Pooling config object; `name` (a path) is used in messages. */
sbert_status sbert_pooling_from_json(const cJSON *cfg, const char *name, sbert_pooling *out);
/* Read `dir`/config.json. */
sbert_status sbert_pooling_load(const char *dir, sbert_pooling *out);

/* n_modes * dim. */
size_t sbert_pooling_output_dim(const sbert_pooling *p);

/* tok: [T, dim] with T = seq_offsets[n_seq]; seq_offsets: [n_seq + 1];
 * prompt_length: prompt tokens to drop from pooling when include_prompt is 0
 * (ignored otherwise; 0 = none);
 * out: [n_seq, n_modes * dim]. */
void sbert_pooling_forward(const sbert_pooling *p, const float *tok, const size_t *seq_offsets,
                           size_t n_seq, size_t prompt_length, float *out);

/* Backward of sbert_pooling_forward. Gradients per mode (sequence of length
 * len, pooled tokens lo..len-1 where lo = prompt tokens masked out when
 * include_prompt is false, n = len - lo of them):
 *   cls          -> the gathered token (lo, or 0 when n = 0: Python gathers
 *                   token argmax(mask) from the unmasked embeddings);
 *   max          -> per dimension the FIRST token holding the maximum (torch's
 *                   max(dim) index); nothing when n = 0 (all -inf, masked);
 *   mean         -> every pooled token gets dout / n;
 *   mean_sqrt_len_tokens -> every pooled token gets dout / sqrt(n);
 *   weightedmean -> token t gets dout * (t+1) / sum of (t+1) over pooled t;
 *   lasttoken    -> token len-1; nothing when n = 0 (Python gathers a masked zero).
 * dtok: [T, dim] (+=) with T = seq_offsets[n_seq];
 * dout: [n_seq, n_modes * dim], the gradient of the pooled output;
 * tok:  [T, dim], the forward input (only read for the max mode);
 * seq_offsets: [n_seq + 1]; prompt_length as in the forward. */
void sbert_pooling_backward(const sbert_pooling *p, float *dtok, const float *dout,
                            const float *tok, const size_t *seq_offsets, size_t n_seq,
                            size_t prompt_length);

/* ---- the Pooling module (module.h): token embeddings -> sentence embedding */

/* Loader for modules.json entries of type Pooling (config.json in ctx->dir;
 * its dimension must equal ctx->in_dim). */
sbert_status sbert_pooling_module_load(const sbert_module_load_ctx *ctx, sbert_module **out);
/* A new Pooling module with configuration *p (saved in the legacy layout). */
sbert_status sbert_pooling_module_new(const sbert_pooling *p, sbert_module **out);
/* The configuration of a Pooling module. */
const sbert_pooling *sbert_pooling_module_config(const sbert_module *m);

#endif
