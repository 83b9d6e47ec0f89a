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

#endif
