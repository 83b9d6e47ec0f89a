/*
 * models/encode_options.h -- an encode's options checked against the model
 * kind (encode_options.c); the pipeline calls it before every encode.
 */
#ifndef SBERT_MODELS_ENCODE_OPTIONS_H
#define SBERT_MODELS_ENCODE_OPTIONS_H

#include <stddef.h>

#include "sbert.h"

/* Before an encode: check the options against the model kind (max_active_dims
 * and sparse-only rules), choose the Router route for opt->task, and give
 * the effective max_active_dims (0: none). */
sbert_status sbert_model_encode_prepare(sbert_model *m, const sbert_encode_options *opt, size_t *max_active_dims);

/* Keep the k largest |values| of row [dim] (ties: the lower index), zero the
 * rest, as select_max_active_dims does. */
void sbert_select_max_active_dims(float *row, size_t dim, size_t k);

#endif
