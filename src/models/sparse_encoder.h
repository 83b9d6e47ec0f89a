/*
 * models/sparse_encoder.h -- internals of SparseEncoder (SPLADE) models
 * shared by the loader (sparse_encoder.c), the Router module and the
 * encode path (sparse_encode.c).
 */
#ifndef SBERT_MODELS_SPARSE_ENCODER_H
#define SBERT_MODELS_SPARSE_ENCODER_H

#include <stddef.h>

#include "modules/module.h"
#include "sbert.h"

/* Every MLM module is followed by SpladePooling and every SpladePooling
 * follows an MLM module; SpladePooling's width becomes the MLM vocabulary
 * (a configured width that disagrees is an error). `where` names the list
 * in messages. */
sbert_status sbert_sparse_check_pipeline(sbert_module **mods, size_t n, const char *where);

/* Before an encode: check the options against the model kind (max_active_dims
 * and sparse-only rules), choose the Router route for opt->task, and give
 * the effective max_active_dims (0: none). */
sbert_status sbert_model_encode_prepare(sbert_model *m, const sbert_encode_options *opt, size_t *max_active_dims);

/* Keep the k largest |values| of row [dim] (ties: the lower index), zero the
 * rest, as select_max_active_dims does. */
void sbert_select_max_active_dims(float *row, size_t dim, size_t k);

#endif
