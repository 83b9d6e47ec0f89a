/*
 * training/optim.c -- AdamW, learning-rate schedules and gradient clipping,
 * following torch.optim.AdamW and transformers.optimization step for step.
 */
#include "training/optim.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/big_alloc.h"
#include "base/error.h"
#include "base/threads.h"
#include "kernels/simd.h"

/* Elements below which a pass stays on the calling thread. */
#define OPTIM_MIN_CHUNK 32768
/* Squares summed per block in sbert_grad_sumsq (the blocks are then added in
 * order, so the result does not depend on the thread count). */
#define SUMSQ_BLOCK 4096
/* Elements per call of the AdamW loop (the weight decay and the zeroing of the
 * gradients are short passes of their own over them, while they are in cache). */
#define ADAMW_CHUNK 2048

sbert_adamw_config sbert_adamw_config_default(void) {
    sbert_adamw_config c = {0.9, 0.999, 1e-8, 0.0};
    return c;
}

sbert_status sbert_adamw_init(sbert_adamw_state *s, size_t n) {
    memset(s, 0, sizeof *s);
    s->m = sbert_big_calloc(n ? n : 1, sizeof *s->m);
    s->v = sbert_big_calloc(n ? n : 1, sizeof *s->v);
    if (!s->m || !s->v) {
        sbert_adamw_free(s);
        return sbert_fail(SBERT_ERR_NOMEM, "AdamW: cannot allocate state for %zu parameters", n);
    }
    s->n = n;
    return SBERT_OK;
}

void sbert_adamw_free(sbert_adamw_state *s) {
    free(s->m);
    free(s->v);
    memset(s, 0, sizeof *s);
}

typedef struct {
    sbert_adamw_state *s;
    float *params, *grads;
    const sbert_param_segment *segs;
    size_t n_segs;
    float step_size, bc2_sqrt, b1c, b2, b2c, eps, decay, grad_scale;
    int has_wd, zero_grads;
} adamw_ctx;

/* One run of elements: torch's AdamW step, term by term (no reordering, no
 * FMA contraction: every copy of simd.h computes the same bits). restrict
 * lets the compiler vectorize without run-time overlap checks. */
SBERT_BODY void adamw_run_body(const adamw_ctx *c, float *restrict p, float *restrict m,
                               float *restrict v, float *restrict g, size_t n, int wd) {
    const float scale = c->grad_scale, decay = c->decay, b1c = c->b1c, b2 = c->b2, b2c = c->b2c;
    const float bc2 = c->bc2_sqrt, eps = c->eps, step = c->step_size;
    if (wd)
        for (size_t i = 0; i < n; i++) p[i] *= decay;
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] * scale;
        m[i] += b1c * (gi - m[i]);
        v[i] = b2 * v[i] + b2c * gi * gi;
        float denom = sqrtf(v[i]) / bc2 + eps;
        p[i] -= step * (m[i] / denom);
    }
    if (c->zero_grads) memset(g, 0, n * sizeof *g); /* the chunk is still in cache */
}
SBERT_AVX512_COPIES(static void, adamw_run,
                    (const adamw_ctx *c, float *restrict p, float *restrict m, float *restrict v,
                     float *restrict g, size_t n, int wd),
                    (c, p, m, v, g, n, wd))

/* p[n] *= decay (the weight decay alone: a resting row). */
SBERT_BODY void decay_only_body(float *restrict p, size_t n, float decay) {
    for (size_t i = 0; i < n; i++) p[i] *= decay;
}
SBERT_AVX512_COPIES(static void, decay_only, (float *restrict p, size_t n, float decay), (p, n, decay))

/* 1 when every g[i] == 0.0f (+0 or -0; a NaN is not zero): the bits but the
 * sign ORed together, a loop without an early exit, so it vectorizes. */
SBERT_BODY void any_bits_body(const float *restrict g, size_t n, uint32_t *out) {
    uint32_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t b;
        memcpy(&b, &g[i], sizeof b);
        acc |= b & 0x7fffffffu;
    }
    *out = acc;
}
SBERT_AVX512_COPIES(static void, any_bits, (const float *restrict g, size_t n, uint32_t *out), (g, n, out))

static int all_zero(const float *g, size_t n) {
    uint32_t bits;
    any_bits(g, n, &bits);
    return bits == 0;
}

/* Elements [a, e) of one segment, in chunks that stay in L1/L2 between the
 * decay pass and the update. */
static void adamw_span(const adamw_ctx *c, size_t off, size_t a, size_t e, int wd) {
    float *p = c->params + off, *m = c->s->m + off, *v = c->s->v + off, *g = c->grads + off;
    for (size_t i = a; i < e; i += ADAMW_CHUNK) {
        size_t n = e - i < ADAMW_CHUNK ? e - i : ADAMW_CHUNK;
        adamw_run(c, p + i, m + i, v + i, g + i, n, wd);
    }
}

/* Elements [a, e) of a segment with live flags, row by row (a row split
 * between two threads is handled in parts: each part's elements obey the
 * same rule on their own, and the flag is only ever set, relaxed-atomically). */
static void adamw_rows(const adamw_ctx *c, const sbert_param_segment *sg, size_t a, size_t e, int wd) {
    const size_t rd = sg->row_dim;
    for (size_t i = a; i < e;) {
        size_t r = i / rd, j = (r + 1) * rd < e ? (r + 1) * rd : e;
        if (!__atomic_load_n(&sg->live[r], __ATOMIC_RELAXED)) {
            if (all_zero(c->grads + sg->offset + i, j - i)) {
                if (wd) decay_only(c->params + sg->offset + i, j - i, c->decay);
                i = j;
                continue;
            }
            __atomic_store_n(&sg->live[r], 1, __ATOMIC_RELAXED);
        }
        adamw_span(c, sg->offset, i, j, wd);
        i = j;
    }
}

/* Elements [i0, i1) of the concatenation of the segments. Each element's
 * update depends only on its own values, so any split gives the same bits. */
static void adamw_range(void *vctx, size_t i0, size_t i1) {
    const adamw_ctx *c = vctx;
    size_t base = 0;
    for (size_t k = 0; k < c->n_segs && base < i1; k++) {
        const sbert_param_segment *sg = &c->segs[k];
        size_t size = sg->size, a = i0 > base ? i0 - base : 0, e = i1 - base;
        if (e > size) e = size;
        base += size;
        if (a >= e) continue;
        int wd = sg->decay && c->has_wd;
        if (sg->live && sg->row_dim) adamw_rows(c, sg, a, e, wd);
        else adamw_span(c, sg->offset, a, e, wd);
    }
}

void sbert_adamw_step_fused(sbert_adamw_state *s, const sbert_adamw_config *cfg, double lr,
                            float *params, float *grads, float grad_scale, int zero_grads,
                            const sbert_param_segment *segs, size_t n_segs) {
    s->step++;
    double bc1 = 1.0 - pow(cfg->beta1, (double)s->step);
    double bc2 = 1.0 - pow(cfg->beta2, (double)s->step);
    adamw_ctx c = {s, params, grads, segs, n_segs,
                   (float)(lr / bc1), (float)sqrt(bc2), (float)(1.0 - cfg->beta1), (float)cfg->beta2,
                   (float)(1.0 - cfg->beta2), (float)cfg->eps, (float)(1.0 - lr * cfg->weight_decay),
                   grad_scale, cfg->weight_decay != 0.0, zero_grads};
    size_t total = 0;
    for (size_t k = 0; k < n_segs; k++) total += segs[k].size;
    sbert_parallel_for_min(total, OPTIM_MIN_CHUNK, adamw_range, &c);
}

void sbert_adamw_step(sbert_adamw_state *s, const sbert_adamw_config *cfg, double lr, float *params,
                      const float *grads, const sbert_param_segment *segs, size_t n_segs) {
    /* grads are only read when zero_grads is 0, and x * 1.0f == x exactly. */
    sbert_adamw_step_fused(s, cfg, lr, params, (float *)grads, 1.0f, 0, segs, n_segs);
}

typedef struct {
    const float *g;
    size_t n;
    double *partial;
} sumsq_ctx;

/* Sum of squares of one block in 16 fixed partial sums (element i goes to sum
 * i % 16), added in a fixed tree: the vector copies keep one sum per lane, so
 * every copy gives the same bits, and no long chain of dependent adds. */
SBERT_BODY void sumsq_block_body(const float *g, size_t n, double *out) {
    double part[16] = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int l = 0; l < 16; l++) part[l] += (double)g[i + (size_t)l] * (double)g[i + (size_t)l];
    for (int l = 0; i < n; i++, l++) part[l] += (double)g[i] * (double)g[i];
    for (int w = 8; w >= 1; w /= 2)
        for (int l = 0; l < w; l++) part[l] += part[l + w];
    *out = part[0];
}
SBERT_AVX512_COPIES(static void, sumsq_block, (const float *g, size_t n, double *out), (g, n, out))

static void sumsq_blocks(void *vctx, size_t b0, size_t b1) {
    const sumsq_ctx *c = vctx;
    for (size_t b = b0; b < b1; b++) {
        size_t i0 = b * SUMSQ_BLOCK, i1 = i0 + SUMSQ_BLOCK < c->n ? i0 + SUMSQ_BLOCK : c->n;
        sumsq_block(c->g + i0, i1 - i0, &c->partial[b]);
    }
}

double sbert_grad_sumsq(const float *grads, size_t n) {
    if (!grads || n == 0) return 0.0;
    size_t blocks = (n + SUMSQ_BLOCK - 1) / SUMSQ_BLOCK;
    double one, *partial = blocks == 1 ? &one : malloc(blocks * sizeof *partial);
    sumsq_ctx c = {grads, n, partial};
    if (!partial) { /* no memory for the partial sums: the same blocks, serially */
        double ss = 0;
        for (size_t b = 0; b < blocks; b++) {
            c.partial = &one;
            sumsq_blocks(&c, b, b + 1);
            ss += one;
        }
        return ss;
    }
    sbert_parallel_for_min(blocks, OPTIM_MIN_CHUNK / SUMSQ_BLOCK, sumsq_blocks, &c);
    double ss = 0;
    for (size_t b = 0; b < blocks; b++) ss += partial[b];
    if (partial != &one) free(partial);
    return ss;
}

double sbert_grad_norm(const float *grads, size_t n) { return sqrt(sbert_grad_sumsq(grads, n)); }

typedef struct {
    float *g;
    float c;
} scale_ctx;

static void scale_range(void *vctx, size_t i0, size_t i1) {
    const scale_ctx *c = vctx;
    for (size_t i = i0; i < i1; i++) c->g[i] *= c->c;
}

double sbert_clip_grad_norm(float *grads, size_t n, double max_norm) {
    double norm = sbert_grad_norm(grads, n);
    if (max_norm > 0) {
        double coef = max_norm / (norm + 1e-6);
        if (coef < 1.0) {
            scale_ctx c = {grads, (float)coef};
            sbert_parallel_for_min(n, OPTIM_MIN_CHUNK, scale_range, &c);
        }
    }
    return norm;
}

sbert_status sbert_lr_scheduler_parse(const char *name, sbert_lr_scheduler_type *out) {
    static const struct { const char *n; sbert_lr_scheduler_type t; } tab[] = {
        {"linear", SBERT_SCHED_LINEAR},
        {"cosine", SBERT_SCHED_COSINE},
        {"constant", SBERT_SCHED_CONSTANT},
        {"constant_with_warmup", SBERT_SCHED_CONSTANT_WITH_WARMUP},
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (strcmp(name, tab[i].n) == 0) { *out = tab[i].t; return SBERT_OK; }
    return sbert_fail(SBERT_ERR_INVALID_ARG,
                      "lr_scheduler_type '%s' is not supported (use linear, cosine, constant or "
                      "constant_with_warmup)", name);
}

double sbert_lr_lambda(sbert_lr_scheduler_type type, int64_t step, int64_t warmup, int64_t total) {
    if (type == SBERT_SCHED_CONSTANT) return 1.0;
    if (step < warmup) return (double)step / (double)(warmup > 1 ? warmup : 1);
    switch (type) {
    case SBERT_SCHED_LINEAR: {
        int64_t d = total - warmup;
        double f = (double)(total - step) / (double)(d > 1 ? d : 1);
        return f > 0 ? f : 0.0;
    }
    case SBERT_SCHED_COSINE: {
        int64_t d = total - warmup;
        double progress = (double)(step - warmup) / (double)(d > 1 ? d : 1);
        double f = 0.5 * (1.0 + cos(M_PI * 0.5 * 2.0 * progress));
        return f > 0 ? f : 0.0;
    }
    default: return 1.0;
    }
}

int64_t sbert_warmup_steps(double warmup, int64_t total_steps) {
    if (warmup >= 1) return (int64_t)warmup;
    if (warmup <= 0) return 0;
    return (int64_t)ceil((double)total_steps * warmup);
}
