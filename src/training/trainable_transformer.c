/*
 * training/trainable_transformer.c -- Transformer + Pooling [+ Dense]
 * [+ Normalize] models behind the trainer interface (trainable.h).
 *
 * Not implemented yet: creating one fails with SBERT_ERR_UNSUPPORTED.
 */
#include "base/error.h"
#include "training/trainable.h"

sbert_status sbert_trainable_transformer_create(const sbert_trainable_options *opt, sbert_trainable **out) {
    *out = NULL;
    return sbert_fail(SBERT_ERR_UNSUPPORTED,
                      "model '%s': training transformer models is not implemented yet (StaticEmbedding "
                      "models train today: use model: static, or a StaticEmbedding model directory)",
                      opt->model);
}
