/*
 * losses/loss_state.c -- a loss's own parameters (see loss.h): one block of
 * floats and a sealed parameter table over it, so the trainer's AdamW and
 * checkpoints treat them like a model's.
 */
#include <stdlib.h>

#include "base/error.h"
#include "losses/loss.h"

sbert_status sbert_loss_state_create(const sbert_loss_def *def, const sbert_loss_values *v, size_t dim,
                                     size_t n_labels, sbert_rng *rng, sbert_loss_state **out) {
    *out = NULL;
    if (!def->state_size || !def->state_init) return SBERT_OK;
    sbert_loss_state *s = calloc(1, sizeof *s);
    if (!s) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    s->n = def->state_size(v, dim, n_labels);
    s->data = calloc(s->n ? s->n : 1, sizeof *s->data);
    sbert_status st = s->data ? sbert_params_create(&s->params) : sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    if (st == SBERT_OK) st = def->state_init(v, dim, n_labels, rng, s->data, s->params);
    if (st == SBERT_OK) st = sbert_params_seal(s->params);
    if (st != SBERT_OK) {
        sbert_error_prefix("%s: ", def->name);
        sbert_loss_state_free(s);
        return st;
    }
    *out = s;
    return SBERT_OK;
}

void sbert_loss_state_free(sbert_loss_state *s) {
    if (!s) return;
    sbert_params_free(s->params);
    free(s->data);
    free(s);
}
