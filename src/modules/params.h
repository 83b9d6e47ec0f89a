/*
 * modules/params.h -- the parameter table of a model (DESIGN.md): one row
 * per tensor (name, shape, trainable, weight decay), the tensor's storage in
 * its module, and its place in ONE flat gradient buffer and ONE flat pair of
 * optimizer moment buffers. AdamW is then one loop over the rows, a
 * checkpoint is a few writes, gradient all-reduce can go by offset range.
 *
 * Modules register their tensors in order (sbert_param_add); the model then
 * seals the table (sbert_params_seal), which lays out the gradient buffer
 * and hands each row its gradient pointer. Tensors a module registers back
 * to back in its own flat storage (a Transformer's) get gradients back to
 * back too, so that module can address its gradients as one buffer laid out
 * like its parameters.
 *
 * A row can be row-sparse (StaticEmbedding): its backward lists the rows it
 * touched (sbert_param_touch), and the optimizer updates only those (lazy
 * AdamW), which is what makes static-embedding training fast.
 */
#ifndef SBERT_MODULES_PARAMS_H
#define SBERT_MODULES_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "sbert.h"

typedef struct {
    char name[192];      /* "<module index>.<name in the module>" once sealed */
    float *data;         /* [numel] the module's storage */
    float *grad;         /* [numel] in the flat gradient buffer (after sealing) */
    size_t numel;
    int ndim;
    int64_t shape[2];
    size_t offset;       /* in the flat gradient / moment buffers */
    int trainable;       /* 0: frozen (never updated, not in the norm) */
    int decay;           /* weight decay applies (HF: not biases, not LayerNorm) */
    /* Row-sparse tensors ([rows, row_dim]): only touched rows have gradients. */
    size_t row_dim;      /* 0: dense */
    int32_t *touched;    /* [rows] touched row ids (owned by the table) */
    size_t n_touched;
    unsigned char *mark; /* [rows] 1 for a touched row */
} sbert_param;

typedef struct sbert_param_table sbert_param_table;

sbert_status sbert_params_create(sbert_param_table **out);
void sbert_params_free(sbert_param_table *t);

/* Register a tensor: shape [d0] (d1 == 0) or [d0, d1]. decay = -1 applies
 * Hugging Face's rule (no decay for a name holding "bias", "layernorm" or
 * "layer_norm", case-insensitive). */
sbert_status sbert_param_add(sbert_param_table *t, const char *name, float *data, size_t d0, size_t d1,
                             int trainable, int decay);
/* The same, row-sparse ([d0 rows, d1]); decay as above. */
sbert_status sbert_param_add_sparse(sbert_param_table *t, const char *name, float *data, size_t d0, size_t d1,
                                    int decay);
/* Prefix the names of rows [first, n) with "<prefix>." (the module index). */
sbert_status sbert_params_prefix(sbert_param_table *t, size_t first, const char *prefix);
/* Allocate the zeroed flat gradient buffer and set every row's grad. */
sbert_status sbert_params_seal(sbert_param_table *t);

size_t sbert_params_count(const sbert_param_table *t);
sbert_param *sbert_params_at(sbert_param_table *t, size_t i);
const sbert_param *sbert_params_at_const(const sbert_param_table *t, size_t i);
/* The row named `name`, or NULL. */
sbert_param *sbert_params_find(sbert_param_table *t, const char *name);
/* Floats over all rows (the flat buffers' length), and of trainable rows. */
size_t sbert_params_numel(const sbert_param_table *t);
size_t sbert_params_trainable_numel(const sbert_param_table *t);
/* The flat gradient buffer [numel]. */
float *sbert_params_grads(sbert_param_table *t);

/* Mark row r of a row-sparse tensor as touched (idempotent). */
static inline void sbert_param_touch(sbert_param *p, int32_t r) {
    if (!p->mark[r]) {
        p->mark[r] = 1;
        p->touched[p->n_touched++] = r;
    }
}

/* Hugging Face's get_decay_parameter_names rule for one name. */
int sbert_param_default_decay(const char *name);

#endif
