/*
 * models/sparse_encoder.c -- SparseEncoder (SPLADE) models (an MLM
 * transformer and SpladePooling). Not implemented yet: loading one says so.
 */
#include "base/error.h"
#include "models/model.h"

sbert_status sbert_sparse_encoder_load_dir(sbert_model *m) {
    return sbert_fail(SBERT_ERR_UNSUPPORTED, "%s: SparseEncoder models are not supported yet", m->dir);
}
