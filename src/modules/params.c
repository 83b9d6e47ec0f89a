/*
 * modules/params.c -- the parameter table (see params.h).
 */
#include "modules/params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/big_alloc.h"
#include "base/error.h"

struct sbert_param_table {
    sbert_param *p;
    size_t n, cap;
    size_t numel;
    float *grads;
    int sealed;
};

sbert_status sbert_params_create(sbert_param_table **out) {
    *out = calloc(1, sizeof **out);
    return *out ? SBERT_OK : sbert_fail(SBERT_ERR_NOMEM, "out of memory (parameter table)");
}

void sbert_params_free(sbert_param_table *t) {
    if (!t) return;
    for (size_t i = 0; i < t->n; i++) {
        free(t->p[i].touched);
        free(t->p[i].mark);
    }
    free(t->p);
    free(t->grads);
    free(t);
}

int sbert_param_default_decay(const char *name) {
    char low[192];
    size_t i = 0;
    for (; name[i] && i + 1 < sizeof low; i++)
        low[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]);
    low[i] = '\0';
    return !(strstr(low, "bias") || strstr(low, "layernorm") || strstr(low, "layer_norm"));
}

static sbert_status add(sbert_param_table *t, const char *name, float *data, size_t d0, size_t d1, int trainable,
                        int decay, int sparse) {
    if (t->sealed) return sbert_fail(SBERT_ERR_INTERNAL, "parameter table: '%s' added after sealing", name);
    if (strlen(name) >= sizeof t->p[0].name)
        return sbert_fail(SBERT_ERR_INTERNAL, "parameter table: name '%s' is too long", name);
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        sbert_param *np = realloc(t->p, cap * sizeof *np);
        if (!np) return sbert_fail(SBERT_ERR_NOMEM, "out of memory (parameter table)");
        t->p = np;
        t->cap = cap;
    }
    sbert_param *p = &t->p[t->n];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->data = data;
    p->ndim = d1 ? 2 : 1;
    p->shape[0] = (int64_t)d0;
    p->shape[1] = d1 ? (int64_t)d1 : 1;
    p->numel = d1 ? d0 * d1 : d0;
    p->offset = t->numel;
    p->trainable = trainable;
    p->decay = decay < 0 ? sbert_param_default_decay(name) : decay;
    if (sparse) {
        p->row_dim = d1;
        p->touched = malloc((d0 ? d0 : 1) * sizeof *p->touched);
        p->mark = calloc(d0 ? d0 : 1, 1);
        if (!p->touched || !p->mark) {
            free(p->touched);
            free(p->mark);
            return sbert_fail(SBERT_ERR_NOMEM, "out of memory (touched rows of '%s')", name);
        }
    }
    t->numel += p->numel;
    t->n++;
    return SBERT_OK;
}

sbert_status sbert_param_add(sbert_param_table *t, const char *name, float *data, size_t d0, size_t d1,
                             int trainable, int decay) {
    return add(t, name, data, d0, d1, trainable, decay, 0);
}

sbert_status sbert_param_add_sparse(sbert_param_table *t, const char *name, float *data, size_t d0, size_t d1,
                                    int decay) {
    if (!d1) return sbert_fail(SBERT_ERR_INTERNAL, "parameter table: row-sparse '%s' must be 2-D", name);
    return add(t, name, data, d0, d1, 1, decay, 1);
}

sbert_status sbert_params_prefix(sbert_param_table *t, size_t first, const char *prefix) {
    for (size_t i = first; i < t->n; i++) {
        char buf[sizeof t->p[0].name];
        int w = snprintf(buf, sizeof buf, "%s.%s", prefix, t->p[i].name);
        if (w < 0 || (size_t)w >= sizeof buf)
            return sbert_fail(SBERT_ERR_INTERNAL, "parameter table: name '%s.%s' is too long", prefix, t->p[i].name);
        memcpy(t->p[i].name, buf, (size_t)w + 1);
    }
    return SBERT_OK;
}

sbert_status sbert_params_seal(sbert_param_table *t) {
    if (t->sealed) return SBERT_OK;
    t->grads = sbert_big_calloc(t->numel ? t->numel : 1, sizeof *t->grads);
    if (!t->grads)
        return sbert_fail(SBERT_ERR_NOMEM, "out of memory for the gradients of %zu parameters", t->numel);
    for (size_t i = 0; i < t->n; i++) t->p[i].grad = t->grads + t->p[i].offset;
    t->sealed = 1;
    return SBERT_OK;
}

size_t sbert_params_count(const sbert_param_table *t) { return t ? t->n : 0; }
sbert_param *sbert_params_at(sbert_param_table *t, size_t i) { return i < t->n ? &t->p[i] : NULL; }
const sbert_param *sbert_params_at_const(const sbert_param_table *t, size_t i) {
    return i < t->n ? &t->p[i] : NULL;
}

sbert_param *sbert_params_find(sbert_param_table *t, const char *name) {
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->p[i].name, name) == 0) return &t->p[i];
    return NULL;
}

size_t sbert_params_numel(const sbert_param_table *t) { return t->numel; }

size_t sbert_params_trainable_numel(const sbert_param_table *t) {
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        if (t->p[i].trainable) n += t->p[i].numel;
    return n;
}

float *sbert_params_grads(sbert_param_table *t) { return t->grads; }
