/*
 * training/train_step_cross.c -- one micro-batch of a CrossEncoder: (query,
 * passage) pairs in, scores out. Not implemented yet: says so.
 */
#include "base/error.h"
#include "training/trainer_internal.h"

sbert_status sbert_trainer_cross_step(sbert_trainer *t, const size_t *rows, size_t B, double loss_weight,
                                      double *loss_out) {
    (void)rows;
    (void)B;
    (void)loss_weight;
    (void)loss_out;
    return sbert_fail(SBERT_ERR_UNSUPPORTED, "training a CrossEncoder (%s) is not supported yet", t->a->model);
}
