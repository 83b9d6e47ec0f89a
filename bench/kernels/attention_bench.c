/*
 * bench/kernels/attention_bench.c -- single-thread timing of the packed
 * attention kernels at MiniLM training shapes (built as `attention_bench`,
 * never run by the tests):
 *   64 sequences, lengths 8..30 (mean ~14, drawn like the training data),
 *   12 heads, head_dim 32 (override: attention_bench [head_dim] [repeats]
 *   [kernels]: kernels is a bit mask of the five timed below, default all,
 *   to profile one at a time; [lmin lmax]: lengths uniform in lmin..lmax
 *   instead).
 * Prints, per kernel, the minimum over the repeats of ns per (sequence, head)
 * item and GFLOP/s (forward: 4 L^2 d flops per item, the backward 8 L^2 d,
 * the dropout output 2 L^2 d). The machine may be shared: read the minimum
 * as indicative.
 */
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/rng.h"
#include "base/threads.h"
#include "kernels/attention.h"
#include "kernels/attention_backward.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void report(const char *name, double best, size_t items, double flops) {
    printf("%-28s %9.1f ns/item %7.2f GFLOP/s\n", name, 1e9 * best / (double)items, flops / best * 1e-9);
}

int main(int argc, char **argv) {
    const size_t n_seq = 64, nh = 12;
    const size_t d = argc > 1 ? (size_t)atoi(argv[1]) : 32;
    const int reps = argc > 2 ? atoi(argv[2]) : 30;
    const int only = argc > 3 ? atoi(argv[3]) : 31;
    const size_t lmin = argc > 5 ? (size_t)atoi(argv[4]) : 0, lmax = argc > 5 ? (size_t)atoi(argv[5]) : 0;
    const size_t H = nh * d, W3 = 3 * H;
    sbert_set_num_threads(1);
    sbert_rng rng;
    sbert_rng_seed(&rng, 1234);
    size_t offs[65] = {0};
    double l2 = 0.0;
    for (size_t s = 0; s < n_seq; s++) {
        /* 8 + exponential with mean 6, capped at 30 */
        double u = sbert_rng_uniform(&rng);
        size_t L = 8 + (size_t)(-6.0 * log(1.0 - u));
        if (L > 30) L = 30;
        if (lmax >= lmin && lmin > 0) L = lmin + (size_t)(u * (double)(lmax - lmin + 1));
        offs[s + 1] = offs[s] + L;
        l2 += (double)(L * L);
    }
    const size_t T = offs[n_seq], items = n_seq * nh;
    const size_t np = sbert_attention_probs_size(offs, n_seq, nh);
    float *qkv = malloc(T * W3 * sizeof(float)), *out = malloc(T * H * sizeof(float));
    float *dout = malloc(T * H * sizeof(float)), *dqkv = calloc(T * W3, sizeof(float));
    float *probs = malloc(np * sizeof(float));
    uint8_t *keep = malloc(np);
    for (size_t i = 0; i < T * W3; i++) qkv[i] = (float)sbert_rng_uniform(&rng) * 2.0f - 1.0f;
    for (size_t i = 0; i < T * H; i++) dout[i] = (float)sbert_rng_uniform(&rng) * 2.0f - 1.0f;
    for (size_t i = 0; i < np; i++) keep[i] = sbert_rng_uniform(&rng) >= 0.1;
    const float scale = 1.0f / sqrtf((float)d), ks = 1.0f / 0.9f;
    printf("attention_bench: %zu sequences (T %zu, mean L %.1f), %zu heads, d %zu, 1 thread, min of %d\n",
           n_seq, T, (double)T / (double)n_seq, nh, d, reps);
    const double fl = (double)nh * l2 * (double)d; /* L^2 d summed over items */
    double best[5] = {1e30, 1e30, 1e30, 1e30, 1e30};
    for (int r = 0; r < reps; r++) {
        double t = now();
        if (only & 1) sbert_attention_forward(out, NULL, qkv, offs, n_seq, nh, d, scale, NULL, 0);
        double t1 = now();
        if (only & 2) sbert_attention_forward(out, probs, qkv, offs, n_seq, nh, d, scale, NULL, 0);
        double t2 = now();
        if (only & 4) sbert_attention_probs(probs, qkv, offs, n_seq, nh, d, scale, NULL, 0);
        double t3 = now();
        if (only & 8) sbert_attention_dropout_output(out, probs, keep, ks, qkv, offs, n_seq, nh, d);
        double t4 = now();
        if (only & 16)
            sbert_attention_backward_dropout_set(dqkv, NULL, dout, qkv, probs, keep, ks, offs, n_seq, nh, d,
                                                 scale, 0);
        double t5 = now();
        double dt[5] = {t1 - t, t2 - t1, t3 - t2, t4 - t3, t5 - t4};
        for (int k = 0; k < 5; k++)
            if (dt[k] < best[k]) best[k] = dt[k];
    }
    if (only & 1) report("forward (encode)", best[0], items, 4 * fl);
    if (only & 2) report("forward + probs", best[1], items, 4 * fl);
    if (only & 4) report("probs only", best[2], items, 2 * fl);
    if (only & 8) report("dropout output", best[3], items, 2 * fl);
    if (only & 16) report("backward (dropout, set)", best[4], items, 8 * fl);
    double cs = 0;
    for (size_t i = 0; i < T * W3; i++) cs += dqkv[i];
    printf("checksum %.6g\n", cs);
    free(qkv), free(out), free(dout), free(dqkv), free(probs), free(keep);
    return 0;
}
