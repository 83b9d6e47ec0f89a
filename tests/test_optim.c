/*
 * tests/test_optim.c -- AdamW, gradient clipping and LR schedules against
 * torch.optim.AdamW / clip_grad_norm_ / transformers' schedulers
 * (tools/gen_optim_refs.py -> tests/data/training/optim_refs.json), and the
 * fused, pool-parallel step against the plain one.
 */
#include <cjson/cJSON.h>

#include "base/threads.h"
#include "io/file.h"
#include "test_util.h"
#include "training/optim.h"

static void read_vec(const cJSON *a, float *out) {
    size_t i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, a) out[i++] = (float)v->valuedouble;
}

static double num(const cJSON *o, const char *k) { return cJSON_GetObjectItem(o, k)->valuedouble; }

/* The fused step (clip scale + AdamW + zeroing, over the pool) against
 * scaling the buffer, the plain step and a memset, with several segments, a
 * frozen gap and 1..3 threads: the same bits. sbert_grad_sumsq does not
 * depend on the thread count. */
static void test_fused_step(void) {
    const size_t n = 300000;
    sbert_param_segment segs[3] = {{0, 100000, 1, 0, NULL}, {100000, 7, 0, 0, NULL}, {150000, 150000, 1, 0, NULL}};
    float *p0 = malloc(n * sizeof(float)), *g0 = malloc(n * sizeof(float));
    float *pa = malloc(n * sizeof(float)), *ga = malloc(n * sizeof(float));
    float *pb = malloc(n * sizeof(float)), *gb = malloc(n * sizeof(float));
    uint32_t x = 7;
    for (size_t i = 0; i < n; i++) {
        p0[i] = (float)((x = x * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
        g0[i] = (float)((x = x * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
    }
    sbert_adamw_config cfg = sbert_adamw_config_default();
    cfg.weight_decay = 0.01;
    double ss1 = 0;
    for (int th = 1; th <= 3; th++) {
        sbert_set_num_threads(th);
        double ss = sbert_grad_sumsq(g0, n);
        if (th == 1) ss1 = ss;
        CHECK(ss == ss1, "%d threads: sum of squares %.17g vs %.17g at 1 thread", th, ss, ss1);
        sbert_adamw_state sa, sb;
        CHECK_OK(sbert_adamw_init(&sa, n));
        CHECK_OK(sbert_adamw_init(&sb, n));
        memcpy(pa, p0, n * sizeof(float));
        memcpy(pb, p0, n * sizeof(float));
        int same = 1, zeroed = 1;
        for (int step = 0; step < 3; step++) {
            float c = step == 1 ? 0.37f : 1.0f;
            for (size_t i = 0; i < n; i++) ga[i] = gb[i] = g0[i] * (float)(step + 1);
            for (size_t i = 0; i < n; i++) ga[i] *= c;
            sbert_adamw_step(&sa, &cfg, 1e-3, pa, ga, segs, 3);
            sbert_adamw_step_fused(&sb, &cfg, 1e-3, pb, gb, c, 1, segs, 3);
            for (size_t k = 0; k < 3; k++)
                for (size_t i = segs[k].offset; i < segs[k].offset + segs[k].size; i++) zeroed &= gb[i] == 0.0f;
            zeroed &= gb[120000] == g0[120000] * (float)(step + 1); /* the frozen gap keeps its gradient */
        }
        for (size_t i = 0; i < n; i++) same &= pa[i] == pb[i] && sa.m[i] == sb.m[i] && sa.v[i] == sb.v[i];
        same &= pa[120000] == p0[120000];
        CHECK(same, "%d threads: fused step == scale + sbert_adamw_step, bit for bit", th);
        CHECK(zeroed, "%d threads: fused step zeroes the trained gradients only", th);
        sbert_adamw_free(&sa);
        sbert_adamw_free(&sb);
    }
    double serial = 0;
    for (size_t i = 0; i < n; i++) serial += (double)g0[i] * g0[i];
    CHECK(fabs(ss1 - serial) <= 1e-12 * serial, "blocked sum of squares %.17g vs serial %.17g", ss1, serial);
    sbert_set_num_threads(0);
    free(p0), free(g0), free(pa), free(ga), free(pb), free(gb);
}

/* A segment of rows with live flags (the resting rows of an embedding table
 * only decay) against the same segment without them: the same bits for p, m,
 * v and the zeroed gradients, at 1..3 threads, with rows never touched, rows
 * first touched at a later step, rows touched every other step, rows with a
 * single nonzero element (a row split between two threads' ranges: 37 floats
 * a row), -0.0 gradients; the flags end set exactly for the rows some step
 * touched. */
static void test_live_rows(void) {
    const size_t R = 5000, rd = 37, n = R * rd;
    float *p0 = malloc(n * sizeof(float)), *pa = malloc(n * sizeof(float)), *pb = malloc(n * sizeof(float));
    float *ga = malloc(n * sizeof(float)), *gb = malloc(n * sizeof(float));
    unsigned char *live = malloc(R);
    uint32_t x = 11;
    for (size_t i = 0; i < n; i++) p0[i] = (float)((x = x * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
    sbert_adamw_config cfg = sbert_adamw_config_default();
    cfg.weight_decay = 0.01;
    for (int th = 1; th <= 3; th++) {
        sbert_set_num_threads(th);
        sbert_param_segment dense = {0, n, 1, 0, NULL}, rows = {0, n, 1, rd, live};
        sbert_adamw_state sa, sb;
        CHECK_OK(sbert_adamw_init(&sa, n));
        CHECK_OK(sbert_adamw_init(&sb, n));
        memcpy(pa, p0, n * sizeof(float));
        memcpy(pb, p0, n * sizeof(float));
        memset(live, 0, R);
        int zeroed = 1;
        for (int step = 0; step < 6; step++) {
            for (size_t r = 0; r < R; r++) {
                int kind = (int)(r % 5); /* 0 never, 1 from step 3, 2 odd steps, 3 one element, 4 always */
                int on = kind == 4 || (kind == 1 && step >= 3) || (kind == 2 && step % 2) || kind == 3;
                for (size_t k = 0; k < rd; k++) {
                    float g = 0.0f;
                    if (on && (kind != 3 || k == (r * 7) % rd))
                        g = (float)((x = x * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
                    else if (k == 3 && r % 2)
                        g = -0.0f;
                    ga[r * rd + k] = gb[r * rd + k] = g;
                }
            }
            float c = step == 2 ? 0.5f : 1.0f;
            sbert_adamw_step_fused(&sa, &cfg, 1e-3, pa, ga, c, 1, &dense, 1);
            sbert_adamw_step_fused(&sb, &cfg, 1e-3, pb, gb, c, 1, &rows, 1);
            for (size_t i = 0; i < n; i++) zeroed &= gb[i] == 0.0f;
        }
        int same = 1, flags = 1, moved = 0;
        for (size_t i = 0; i < n; i++)
            same &= memcmp(&pa[i], &pb[i], 4) == 0 && memcmp(&sa.m[i], &sb.m[i], 4) == 0 &&
                    memcmp(&sa.v[i], &sb.v[i], 4) == 0;
        for (size_t r = 0; r < R; r++) {
            flags &= live[r] == (r % 5 != 0);
            moved |= pb[r * rd] != p0[r * rd];
        }
        CHECK(same, "%d threads: live-row step == dense step, bit for bit (p, m, v)", th);
        CHECK(zeroed, "%d threads: live-row step leaves every gradient zero", th);
        CHECK(flags, "%d threads: exactly the rows a step touched are live", th);
        CHECK(moved, "%d threads: the step moved the parameters", th);
        sbert_adamw_free(&sa);
        sbert_adamw_free(&sb);
    }
    sbert_set_num_threads(0);
    free(p0), free(pa), free(pb), free(ga), free(gb), free(live);
}

int main(void) {
    test_fused_step();
    test_live_rows();
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
    sbert_param_segment segs[2] = {{0, nd, 1, 0, NULL}, {nd, nn, 0, 0, NULL}};
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
        for (size_t i = 0; i < n; i++) worst = test_max_err(worst, fabs(p[i] - want[i]));
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
