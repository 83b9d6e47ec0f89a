/*
 * losses/loss_spec.h -- a loss as a recipe names it: one loss of the table,
 * optionally inside a wrapper and optionally plus a regularizer:
 *
 *   MultipleNegativesRankingLoss
 *   MatryoshkaLoss(MultipleNegativesRankingLoss)        matryoshka_dims, matryoshka_weights, n_dims_per_step
 *   AdaptiveLayerLoss(CoSENTLoss)                        n_layers_per_step, last_layer_weight, ...
 *   Matryoshka2dLoss(MultipleNegativesRankingLoss)       both sets of keys
 *   MultipleNegativesRankingLoss + GlobalOrthogonalRegularizationLoss
 *
 * Every part reads its parameters from the recipe keys of the same names
 * (through a getter, so this layer knows nothing of recipes); a key that no
 * part reads but another loss would is refused by the caller with
 * sbert_loss_spec_uses_key.
 */
#ifndef SBERT_LOSSES_LOSS_SPEC_H
#define SBERT_LOSSES_LOSS_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include "losses/loss.h"

/* Where a part's parameters come from: get(ctx, key) is the text or NULL,
 * origin(ctx, key) says where it was written (for messages). */
typedef struct {
    const char *(*get)(void *ctx, const char *key);
    const char *(*origin)(void *ctx, const char *key);
    void *ctx;
} sbert_loss_keys;

#define SBERT_MATRYOSHKA_MAX_DIMS 64

typedef struct {
    char text[256];                /* the loss as written (trimmed) */
    const sbert_loss_def *def;     /* the base loss */
    sbert_loss_values values;
    const sbert_loss_def *wrapper; /* MatryoshkaLoss / AdaptiveLayerLoss / Matryoshka2dLoss, or NULL */
    sbert_loss_values wvalues;
    int matryoshka, adaptive;
    double dims[SBERT_MATRYOSHKA_MAX_DIMS], weights[SBERT_MATRYOSHKA_MAX_DIMS];
    size_t n_dims;
    int64_t n_dims_per_step;
    /* AdaptiveLayerLoss */
    int64_t n_layers_per_step;
    double last_layer_weight, prior_layers_weight, kl_div_weight, kl_temperature;
    int layer_weighting; /* 0 uniform, 1 log, 2 linear */
    const sbert_loss_def *added;   /* "+ GlobalOrthogonalRegularizationLoss", or NULL */
    sbert_loss_values avalues;
} sbert_loss_spec;

/* Parse `text` for a model of kind bit `kinds` (1u << sbert_model_kind);
 * `where` names the text's origin in messages. Unknown, not implemented or
 * wrong-kind losses are errors saying what exists. */
sbert_status sbert_loss_spec_parse(const char *text, const char *where, unsigned kinds, const sbert_loss_keys *keys,
                                   sbert_loss_spec *out);

/* 1 when some part of s reads recipe key `key`. */
int sbert_loss_spec_uses_key(const sbert_loss_spec *s, const char *key);

/* Check the data shape against one loss def with parameter values v: its
 * columns, its check (label_width values a label row; dim 0 = not known
 * yet), and no list label for a loss without a check. The message names
 * `file` and its `columns`. SpladeLoss's base loss goes through this too. */
sbert_status sbert_loss_check_data(const sbert_loss_def *def, const sbert_loss_values *v, size_t n_inputs,
                                   int has_label, size_t label_width, size_t dim, const char *file,
                                   const char *columns);

/* Check the data shape against the base loss (and its check): the message
 * names `file` and its `columns`. */
sbert_status sbert_loss_spec_check(const sbert_loss_spec *s, size_t n_inputs, int has_label, size_t label_width,
                                   size_t dim, const char *file, const char *columns);

/* The loss (and gradients, b->grads) of s on one set of embeddings: the
 * Matryoshka wrapper and the added regularizer included; the adaptive-layer
 * part is the trainer's (it needs the embeddings of earlier layers, see
 * sbert_adaptive_layer_kl). b->v is ignored (the spec's values are used). */
sbert_status sbert_loss_spec_compute(const sbert_loss_spec *s, const sbert_loss_batch *b, double *loss);

/* "MatryoshkaLoss(MultipleNegativesRankingLoss)" etc. into buf. */
const char *sbert_loss_spec_name(const sbert_loss_spec *s, char *buf, size_t cap);

/* MatryoshkaLoss (losses/matryoshka.c): inner on the truncated, normalized
 * embeddings at each dim (weights NULL: all 1). */
sbert_status sbert_loss_matryoshka(const sbert_loss_def *inner, const sbert_loss_values *iv, const sbert_loss_batch *b,
                                   const double *dims, const double *weights, size_t n_dims, int64_t n_per_step,
                                   double *loss);

/* AdaptiveLayerLoss's weight of layer l (layer_weighting). */
double sbert_adaptive_layer_weight(int layer_weighting, size_t layer);
/* kl_temperature * KL(softmax(final / T) || log_softmax(layer / T)),
 * reduction batchmean, over the rows of the concatenated columns [n, D];
 * glayer (may be NULL) += weight * d/dlayer (the final embeddings are
 * detached). */
double sbert_adaptive_layer_kl(const float *final_emb, const float *layer_emb, size_t n, size_t D, double T,
                               double weight, float *glayer);

#endif
