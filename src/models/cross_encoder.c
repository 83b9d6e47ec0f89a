/*
 * models/cross_encoder.c -- CrossEncoder models (a transformer over a
 * (query, passage) pair and a classification head). Not implemented yet:
 * loading one says so.
 */
#include "base/error.h"
#include "models/model.h"

sbert_status sbert_cross_encoder_load_dir(sbert_model *m) {
    return sbert_fail(SBERT_ERR_UNSUPPORTED, "%s: CrossEncoder models are not supported yet", m->dir);
}
