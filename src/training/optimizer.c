/*
 * training/optimizer.c -- AdamW over the parameter table (see optimizer.h).
 */
#include "training/optimizer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/big_alloc.h"
#include "base/error.h"
#include "io/file.h"
#include "io/safetensors.h"

sbert_status sbert_optimizer_init(sbert_optimizer *o, sbert_param_table *t) {
    memset(o, 0, sizeof *o);
    o->t = t;
    o->n = sbert_params_numel(t);
    o->m = sbert_big_calloc(o->n ? o->n : 1, sizeof *o->m);
    o->v = sbert_big_calloc(o->n ? o->n : 1, sizeof *o->v);
    size_t rows = sbert_params_count(t);
    o->segs = malloc((rows ? rows : 1) * sizeof *o->segs);
    o->live = calloc(rows ? rows : 1, sizeof *o->live);
    int ok = o->m && o->v && o->segs && o->live;
    for (size_t i = 0; ok && i < rows; i++) {
        const sbert_param *p = sbert_params_at_const(t, i);
        if (p->ndim == 2 && p->shape[0] >= SBERT_OPTIM_LIVE_ROWS && p->shape[1] > 0)
            ok = (o->live[i] = calloc((size_t)p->shape[0], 1)) != NULL; /* moments 0: no row live */
    }
    if (!ok) {
        sbert_optimizer_free(o);
        return sbert_fail(SBERT_ERR_NOMEM, "AdamW: cannot allocate state for %zu parameters", o->n);
    }
    return SBERT_OK;
}

void sbert_optimizer_free(sbert_optimizer *o) {
    free(o->m);
    free(o->v);
    free(o->segs);
    for (size_t i = 0; o->live && i < sbert_params_count(o->t); i++) free(o->live[i]);
    free(o->live);
    memset(o, 0, sizeof *o);
}

void sbert_optimizer_moments_changed(sbert_optimizer *o) {
    for (size_t i = 0; o->live && i < sbert_params_count(o->t); i++) {
        if (!o->live[i]) continue;
        const sbert_param *p = sbert_params_at_const(o->t, i);
        const size_t rd = (size_t)p->shape[1];
        for (size_t r = 0; r < (size_t)p->shape[0]; r++) {
            const float *m = o->m + p->offset + r * rd, *v = o->v + p->offset + r * rd;
            unsigned char live = 0;
            for (size_t k = 0; k < rd && !live; k++) live = m[k] != 0.0f || v[k] != 0.0f;
            o->live[i][r] = live;
        }
    }
}

static double sparse_sumsq(const sbert_param *p) {
    double ss = 0;
    for (size_t k = 0; k < p->n_touched; k++) {
        const float *g = p->grad + (size_t)p->touched[k] * p->row_dim;
        for (size_t i = 0; i < p->row_dim; i++) ss += (double)g[i] * g[i];
    }
    return ss;
}

double sbert_optimizer_grad_norm(const sbert_optimizer *o) {
    double ss = 0;
    for (size_t i = 0; i < sbert_params_count(o->t); i++) {
        const sbert_param *p = sbert_params_at_const(o->t, i);
        if (!p->trainable) continue;
        ss += p->row_dim ? sparse_sumsq(p) : sbert_grad_sumsq(p->grad, p->numel);
    }
    return sqrt(ss);
}

/* A row-sparse tensor (StaticEmbedding) gets the same dense update as every
 * other tensor: torch.optim.AdamW over nn.EmbeddingBag's dense gradient moves
 * every row each step (the moments of a row no batch touched still decay and
 * still move it, and weight decay applies to all rows), which is what
 * sentence-transformers trains. Only the gradient norm and the bookkeeping
 * use the touched-row list. */
static void clear_touched(sbert_param *p) {
    for (size_t k = 0; k < p->n_touched; k++) p->mark[p->touched[k]] = 0;
    p->n_touched = 0;
}

/* The update of every row with the gradients scaled by c, then zeroed. */
static void step_scaled(sbert_optimizer *o, const sbert_adamw_config *cfg, double lr, float c) {
    size_t n = sbert_params_count(o->t);
    sbert_param_segment *segs = o->segs;
    for (size_t i = 0; i < n;) {
        sbert_param *p = sbert_params_at(o->t, i);
        /* A run of rows stored back to back (a module's flat buffer): one
         * fused call, its frozen rows left out of the segments. */
        size_t j = i + 1;
        while (j < n) {
            const sbert_param *q = sbert_params_at(o->t, j), *prev = sbert_params_at(o->t, j - 1);
            if (q->data != prev->data + prev->numel) break;
            j++;
        }
        for (size_t k = i; k < j; k++)
            if (sbert_params_at(o->t, k)->row_dim) clear_touched(sbert_params_at(o->t, k));
        size_t ns = 0;
        for (size_t k = i; k < j; k++) {
            sbert_param *q = sbert_params_at(o->t, k);
            if (!q->trainable) continue; /* frozen: its gradient is never read (LoRA's encoder gets none) */
            if (segs) {
                segs[ns].offset = q->offset - p->offset;
                segs[ns].size = q->numel;
                segs[ns].decay = q->decay;
                segs[ns].live = o->live ? o->live[k] : NULL;
                segs[ns].row_dim = segs[ns].live ? (size_t)q->shape[1] : 0;
                ns++;
            }
        }
        if (ns) {
            sbert_adamw_state s = {0, o->m + p->offset, o->v + p->offset, o->step};
            sbert_adamw_step_fused(&s, cfg, lr, p->data, p->grad, c, 1, segs, ns);
        }
        i = j;
    }
    o->step++;
}

/* torch clip_grad_norm_: scale by max_norm / (norm + 1e-6) when below 1. */
static float clip_coef(double norm, double max_grad_norm) {
    float c = 1.0f;
    if (max_grad_norm > 0) {
        double coef = max_grad_norm / (norm + 1e-6);
        if (coef < 1.0) c = (float)coef;
    }
    return c;
}

double sbert_optimizer_step(sbert_optimizer *o, const sbert_adamw_config *cfg, double lr, double max_grad_norm) {
    double norm = sbert_optimizer_grad_norm(o);
    /* the scale, the update and the zeroing are one pass per run of rows */
    step_scaled(o, cfg, lr, clip_coef(norm, max_grad_norm));
    return norm;
}

sbert_status sbert_optimizer_save(const sbert_optimizer *o, const char *dir, const char *const *meta, size_t n_meta) {
    sbert_st_entry e[2];
    memset(e, 0, sizeof e);
    e[0].name = "exp_avg";
    e[0].data = o->m;
    e[1].name = "exp_avg_sq";
    e[1].data = o->v;
    for (int i = 0; i < 2; i++) {
        e[i].ndim = 1;
        e[i].shape[0] = (int64_t)o->n;
    }
    char step[32];
    snprintf(step, sizeof step, "%lld", (long long)o->step);
    const char *all[2 + 2 * 8];
    if (n_meta > 8) return sbert_fail(SBERT_ERR_INTERNAL, "optimizer save: too much metadata");
    all[0] = "step";
    all[1] = step;
    for (size_t i = 0; i < 2 * n_meta; i++) all[2 + i] = meta[i];
    char path[4200];
    SBERT_TRY(sbert_path_join(path, sizeof path, dir, "optimizer.safetensors"));
    return sbert_st_write(path, e, 2, all, 1 + n_meta);
}

sbert_status sbert_optimizer_load(sbert_optimizer *o, const char *dir, struct sbert_safetensors **file) {
    if (file) *file = NULL;
    char path[4200];
    SBERT_TRY(sbert_path_join(path, sizeof path, dir, "optimizer.safetensors"));
    sbert_safetensors *st = NULL;
    SBERT_TRY(sbert_st_open(path, &st));
    int64_t shape[1] = {(int64_t)o->n};
    sbert_status s = sbert_st_read_f32(st, "exp_avg", shape, 1, o->m);
    if (s == SBERT_OK) s = sbert_st_read_f32(st, "exp_avg_sq", shape, 1, o->v);
    const char *step = sbert_st_metadata(st, "step");
    char *end = NULL;
    long long v = step ? strtoll(step, &end, 10) : -1;
    if (s == SBERT_OK && (!step || !end || *end || v < 0))
        s = sbert_fail(SBERT_ERR_FORMAT, "%s: '__metadata__.step' is missing or not a non-negative integer", path);
    if (s == SBERT_OK) o->step = v;
    sbert_optimizer_moments_changed(o);
    if (s != SBERT_OK || !file) sbert_st_close(st);
    else *file = st;
    return s;
}
