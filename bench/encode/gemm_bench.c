/*
 * bench/encode/gemm_bench.c -- the matrix products of all-MiniLM-L6-v2, one
 * thread, OpenBLAS against sbert's unpacked small-T kernel
 * (kernels/gemm_small.c), to choose where each is used and to measure the
 * sgemm peak that the training benchmark is compared with.
 *
 *   gemm_bench layers [T ...]   the 24 products of one forward (6 layers x
 *                               QKV 384->1152, out 384->384, FF1 384->1536,
 *                               FF2 1536->384; 6 distinct weight sets, 42 MB,
 *                               so the weights stream from memory as in an
 *                               encode call) for T token rows: cblas_sgemm
 *                               (NoTrans x Trans, as the forward calls it)
 *                               vs sbert_gemm_small (AVX-512 and AVX2 copies)
 *   gemm_bench train [T]        the training step's products at T tokens
 *                               (forward NT, backward NN and TN) with
 *                               cblas_sgemm: GFLOP/s per shape, the peak
 *
 * Every figure is the MINIMUM over repeats of the calling thread's CPU time
 * (CLOCK_THREAD_CPUTIME_ID), each repeat shorter than a scheduler slice, so
 * that a busy machine disturbs it less than wall time -- still, figures for
 * a report come from a quiet machine (bench/README.md).
 *
 * Build (run.sh does it):
 *   cc -std=c11 -O2 -D_GNU_SOURCE -Iinclude -Isrc bench/encode/gemm_bench.c \
 *      build/libsbert.a $(pkg-config --libs openblas libcjson libutf8proc \
 *      libpcre2-8 zlib) -lpthread -lm -o build/gemm_bench
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/gemm_small.h"

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *rnd(size_t n, unsigned *seed) {
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1103515245u + 12345u;
        p[i] = ((float)((*seed >> 9) & 0xFFFF) / 65536.0f - 0.5f) * 0.1f;
    }
    return p;
}

enum { HID = 384, INTER = 1536, NL = 6 };
static const size_t shape_k[4] = {HID, HID, HID, INTER}, shape_n[4] = {3 * HID, HID, INTER, HID};

typedef struct {
    float *W[NL][4], *b[NL][4];
} weights;

/* Kind 0: cblas_sgemm; 1: gemm_small AVX2; 2: gemm_small AVX-512. */
static void forward_products(int kind, const weights *w, const float *x, float *out, size_t T) {
    for (int l = 0; l < NL; l++) {
        for (int s = 0; s < 4; s++) {
            size_t K = shape_k[s], N = shape_n[s];
            if (kind == 0) {
                for (size_t t = 0; t < T; t++) memcpy(out + t * N, w->b[l][s], N * sizeof(float));
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)N, (int)K, 1.0f,
                            x, (int)K, w->W[l][s], (int)K, 1.0f, out, (int)N);
            } else {
                sbert_gemm_small(out, N, x, w->W[l][s], w->b[l][s], T, K, N);
            }
        }
    }
}

static int bench_layers(int argc, char **argv) {
    static const size_t dflt[] = {1, 2, 4, 6, 8, 12, 13, 16, 20, 24, 32, 48, 64, 96, 128};
    size_t nT = argc > 2 ? (size_t)(argc - 2) : sizeof dflt / sizeof dflt[0];
    unsigned seed = 1;
    weights w;
    for (int l = 0; l < NL; l++)
        for (int s = 0; s < 4; s++) {
            w.W[l][s] = rnd(shape_k[s] * shape_n[s], &seed);
            w.b[l][s] = rnd(shape_n[s], &seed);
        }
    size_t maxT = 0;
    for (size_t i = 0; i < nT; i++) {
        size_t T = argc > 2 ? (size_t)atol(argv[2 + i]) : dflt[i];
        if (T > maxT) maxT = T;
    }
    float *x = rnd(maxT * INTER, &seed), *out = malloc(maxT * INTER * sizeof(float));
    float *ref = malloc(maxT * INTER * sizeof(float));
    openblas_set_num_threads(1);
    int top = sbert_gemm_small_level();
    printf("# one thread, min CPU time over repeats; gemm_small copies available: %s\n",
           top == SBERT_SMALL_AVX512 ? "avx512, avx2" : top == SBERT_SMALL_AVX2 ? "avx2" : "none");
    printf("# OpenBLAS: %s\n", openblas_get_config());
    printf("%6s %14s %14s %14s %10s %10s\n", "T", "openblas_us", "small_avx2_us", "small_avx512_us",
           "GF/s best", "max|diff|");
    for (size_t i = 0; i < nT; i++) {
        size_t T = argc > 2 ? (size_t)atol(argv[2 + i]) : dflt[i];
        double flops = 0;
        for (int s = 0; s < 4; s++) flops += 2.0 * (double)(T * shape_k[s] * shape_n[s]) * NL;
        double best[3] = {1e30, 1e30, 1e30};
        int reps = (int)(4e9 / flops) + 5;
        if (reps > 400) reps = 400;
        double diff = 0;
        for (int kind = 0; kind < 3; kind++) {
            if (kind == 1 && top < SBERT_SMALL_AVX2) continue;
            if (kind == 2 && top < SBERT_SMALL_AVX512) continue;
            if (kind) sbert_gemm_small_cap(kind);
            for (int r = 0; r < reps; r++) {
                double t0 = cpu_now();
                forward_products(kind, &w, x, out, T);
                double dt = cpu_now() - t0;
                if (dt < best[kind]) best[kind] = dt;
            }
            /* the last product (FF2 of layer 6) against OpenBLAS's */
            if (kind == 0) memcpy(ref, out, T * HID * sizeof(float));
            else
                for (size_t j = 0; j < T * HID; j++) {
                    double d = out[j] > ref[j] ? out[j] - ref[j] : ref[j] - out[j];
                    if (d > diff) diff = d;
                }
        }
        sbert_gemm_small_cap(SBERT_SMALL_AVX512);
        double b = best[0] < best[1] ? best[0] : best[1];
        if (best[2] < b) b = best[2];
        printf("%6zu %14.1f %14.1f %14.1f %10.1f %10.2g\n", T, best[0] * 1e6,
               best[1] < 1e29 ? best[1] * 1e6 : 0.0, best[2] < 1e29 ? best[2] * 1e6 : 0.0,
               flops / b * 1e-9, diff);
    }
    return 0;
}

static int bench_train(int argc, char **argv) {
    size_t T = argc > 2 ? (size_t)atol(argv[2]) : 1024;
    unsigned seed = 7;
    openblas_set_num_threads(1);
    float *A = rnd(T * INTER, &seed), *B = rnd(INTER * 3 * HID, &seed), *C = rnd(T * INTER, &seed);
    float *D = rnd(3 * HID * INTER, &seed);
    printf("# one thread, T = %zu token rows, min CPU time over repeats\n", T);
    printf("# OpenBLAS: %s\n", openblas_get_config());
    printf("%-34s %10s %10s\n", "product", "ms", "GFLOP/s");
    double tot_flops = 0, tot_s = 0;
    for (int s = 0; s < 4; s++) {
        size_t K = shape_k[s], N = shape_n[s];
        for (int form = 0; form < 3; form++) {
            double best = 1e30;
            for (int r = 0; r < 7; r++) {
                double t0 = cpu_now();
                if (form == 0) /* forward: Y[T,N] = X[T,K] W[N,K]^T */
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)N, (int)K,
                                1.0f, A, (int)K, B, (int)K, 0.0f, C, (int)N);
                else if (form == 1) /* dX[T,K] += dY[T,N] W[N,K] */
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)K, (int)N,
                                1.0f, A, (int)N, B, (int)K, 1.0f, C, (int)K);
                else /* dW[N,K] += dY[T,N]^T X[T,K] */
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)N, (int)K, (int)T,
                                1.0f, A, (int)N, C, (int)K, 1.0f, D, (int)K);
                double dt = cpu_now() - t0;
                if (dt < best) best = dt;
            }
            double flops = 2.0 * (double)T * (double)K * (double)N;
            tot_flops += flops;
            tot_s += best;
            static const char *fn[3] = {"fwd  X W^T", "bwd  dY W", "bwd  dY^T X"};
            char name[64];
            snprintf(name, sizeof name, "%s  K=%zu N=%zu", fn[form], K, N);
            printf("%-34s %10.3f %10.1f\n", name, best * 1e3, flops / best * 1e-9);
        }
    }
    printf("%-34s %10.3f %10.1f   <- sgemm peak of the step's shapes, one core\n", "all 12 (x6 layers)",
           tot_s * 1e3, tot_flops / tot_s * 1e-9);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "layers") == 0) return bench_layers(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "train") == 0) return bench_train(argc, argv);
    fprintf(stderr, "usage: gemm_bench layers [T ...] | train [T]\n");
    return 2;
}
