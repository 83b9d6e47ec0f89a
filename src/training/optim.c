/*
 * training/optim.c -- AdamW, learning-rate schedules and gradient clipping,
 * following torch.optim.AdamW and transformers.optimization step for step.
 */
#include "training/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

sbert_adamw_config sbert_adamw_config_default(void) {
    sbert_adamw_config c = {0.9, 0.999, 1e-8, 0.0};
    return c;
}

sbert_status sbert_adamw_init(sbert_adamw_state *s, size_t n) {
    memset(s, 0, sizeof *s);
    s->m = calloc(n ? n : 1, sizeof *s->m);
    s->v = calloc(n ? n : 1, sizeof *s->v);
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

void sbert_adamw_step(sbert_adamw_state *s, const sbert_adamw_config *cfg, double lr, float *params,
                      const float *grads, const sbert_param_segment *segs, size_t n_segs) {
    s->step++;
    double bc1 = 1.0 - pow(cfg->beta1, (double)s->step);
    double bc2 = 1.0 - pow(cfg->beta2, (double)s->step);
    float step_size = (float)(lr / bc1);
    float bc2_sqrt = (float)sqrt(bc2);
    float b1c = (float)(1.0 - cfg->beta1), b2 = (float)cfg->beta2, b2c = (float)(1.0 - cfg->beta2);
    float eps = (float)cfg->eps;
    float decay = (float)(1.0 - lr * cfg->weight_decay);
    for (size_t k = 0; k < n_segs; k++) {
        float *p = params + segs[k].offset, *m = s->m + segs[k].offset, *v = s->v + segs[k].offset;
        const float *g = grads + segs[k].offset;
        int wd = segs[k].decay && cfg->weight_decay != 0.0;
        for (size_t i = 0; i < segs[k].size; i++) {
            if (wd) p[i] *= decay;
            m[i] += b1c * (g[i] - m[i]);
            v[i] = b2 * v[i] + b2c * g[i] * g[i];
            float denom = sqrtf(v[i]) / bc2_sqrt + eps;
            p[i] -= step_size * (m[i] / denom);
        }
    }
}

double sbert_grad_norm(const float *grads, size_t n) {
    double ss = 0;
    for (size_t i = 0; i < n; i++) ss += (double)grads[i] * grads[i];
    return sqrt(ss);
}

double sbert_clip_grad_norm(float *grads, size_t n, double max_norm) {
    double norm = sbert_grad_norm(grads, n);
    if (max_norm > 0) {
        double coef = max_norm / (norm + 1e-6);
        if (coef < 1.0) {
            float c = (float)coef;
            for (size_t i = 0; i < n; i++) grads[i] *= c;
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
