/*
 * training/adaptive_step.c -- AdaptiveLayerLoss / Matryoshka2dLoss steps.
 */
#include "base/error.h"
#include "training/trainer_internal.h"

sbert_status sbert_trainer_adaptive_step(sbert_trainer *t, const size_t *rows, size_t B, double loss_weight,
                                         double *loss_out) {
    return sbert_fail(SBERT_ERR_UNSUPPORTED, "AdaptiveLayerLoss is not implemented yet");
}
