/*
 * tests/test_optim.c -- AdamW, gradient clipping and LR schedules against
 * torch.optim.AdamW / clip_grad_norm_ / transformers' schedulers
 * (tools/gen_optim_refs.py -> tests/data/training/optim_refs.json).
 */
#include <cjson/cJSON.h>

#include "io/file.h"
#include "test_util.h"
#include "training/optim.h"

static void read_vec(const cJSON *a, float *out) {
    size_t i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, a) out[i++] = (float)v->valuedouble;
}

static double num(const cJSON *o, const char *k) { return cJSON_GetObjectItem(o, k)->valuedouble; }

int main(void) {
    cJSON *r = NULL;
    CHECK_OK(sbert_json_load(test_path("tests/data/training/optim_refs.json"), &r));
    if (!r) return test_summary();
    size_t nd = (size_t)num(r, "n_decay"), nn = (size_t)num(r, "n_nodecay"), n = nd + nn;
    int64_t steps = cJSON_GetArraySize(cJSON_GetObjectItem(r, "grads"));
    double lr = num(r, "lr"), max_norm = num(r, "max_norm");
    int64_t warmup = (int64_t)num(r, "warmup");
    float *p = malloc(n * sizeof *p), *g = malloc(n * sizeof *g), *want = malloc(n * sizeof *want);
    read_vec(cJSON_GetObjectItem(r, "p0"), p);
    sbert_adamw_config cfg = sbert_adamw_config_default();
    cfg.weight_decay = num(r, "weight_decay");
    sbert_param_segment segs[2] = {{0, nd, 1}, {nd, nn, 0}};
    sbert_adamw_state st;
    CHECK_OK(sbert_adamw_init(&st, n));
    double worst = 0;
    for (int64_t s = 0; s < steps; s++) {
        read_vec(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "grads"), (int)s), g);
        double norm = sbert_clip_grad_norm(g, n, max_norm);
        double ref_norm = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "grad_norms"), (int)s)->valuedouble;
        CHECK(fabs(norm - ref_norm) <= 1e-6 * ref_norm, "step %ld: grad norm %.9g vs %.9g", (long)s,
              norm, ref_norm);
        double step_lr = lr * sbert_lr_lambda(SBERT_SCHED_LINEAR, s, warmup, steps);
        double ref_lr = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "lrs"), (int)s)->valuedouble;
        CHECK(fabs(step_lr - ref_lr) <= 1e-15, "step %ld: lr %.17g vs %.17g", (long)s, step_lr, ref_lr);
        sbert_adamw_step(&st, &cfg, step_lr, p, g, segs, 2);
        read_vec(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "trajectory"), (int)s), want);
        for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(p[i] - want[i]));
    }
    CHECK(worst <= 1e-6, "AdamW trajectory: max |param diff| over %ld steps = %.3g", (long)steps, worst);
    printf("AdamW %ld steps: max |param diff| vs torch = %.3g\n", (long)steps, worst);
    sbert_adamw_free(&st);

    const char *names[] = {"linear", "cosine", "constant", "constant_with_warmup"};
    int64_t lw = (int64_t)num(r, "lambda_warmup"), lt = (int64_t)num(r, "lambda_total");
    for (int k = 0; k < 4; k++) {
        sbert_lr_scheduler_type t;
        CHECK_OK(sbert_lr_scheduler_parse(names[k], &t));
        const cJSON *vals = cJSON_GetObjectItem(cJSON_GetObjectItem(r, "lambdas"), names[k]);
        for (int s = 0; s < cJSON_GetArraySize(vals); s++) {
            double want_l = cJSON_GetArrayItem(vals, s)->valuedouble;
            double got = sbert_lr_lambda(t, s, lw, lt);
            CHECK(fabs(got - want_l) <= 1e-12, "%s step %d: %.17g vs %.17g", names[k], s, got, want_l);
        }
    }
    sbert_lr_scheduler_type t;
    CHECK(sbert_lr_scheduler_parse("cosine_with_restarts_typo", &t) == SBERT_ERR_INVALID_ARG &&
              strstr(sbert_last_error(), "cosine_with_restarts_typo"),
          "unknown scheduler named in error: %s", sbert_last_error());
    const cJSON *w;
    cJSON_ArrayForEach(w, cJSON_GetObjectItem(r, "warmup_of_137")) {
        double frac = atof(w->string);
        CHECK(sbert_warmup_steps(frac, 137) == (int64_t)w->valuedouble, "warmup %s of 137: %ld vs %d",
              w->string, (long)sbert_warmup_steps(frac, 137), w->valueint);
    }
    free(p); free(g); free(want);
    cJSON_Delete(r);
    return test_summary();
}
