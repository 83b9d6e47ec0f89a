/*
 * bench/cross_encoder/bench_predict.c -- the sbert side of the CrossEncoder
 * predict benchmark: a driver linked to libsbert (public API only) that
 * times only CrossEncoder.predict, never the model load.
 *
 *   bench_predict MODEL_DIR PAIRS.jsonl BATCH THREADS REPEATS [REQUEST]
 *       loads the CrossEncoder (timed apart), predicts the first 8 pairs to
 *       warm up, then every pair REPEATS times with batch_size BATCH and
 *       reports the best run. With REQUEST = k > 0 the pairs go as requests
 *       of k consecutive pairs, one predict call each (batch_size k, a
 *       reranker serving one query's candidates), and the per-request
 *       latencies of all repeats give p50 / p99.
 *
 * Prints {"n": pairs, "seconds": best, "load_seconds": ..., "checksum": sum of scores}
 * (with REQUEST also "p50_ms", "p99_ms").
 * bench.py runs it as a child process and reads its peak RSS. Built by bench.py
 * (not part of the CMake build, not run in CI).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sbert.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: %s MODEL_DIR PAIRS.jsonl BATCH THREADS REPEATS\n", argv[0]);
        return 2;
    }
    size_t k = argc > 6 ? (size_t)atoi(argv[6]) : 0;
    sbert_cross_encoder_options lo = sbert_cross_encoder_options_default();
    lo.num_threads = atoi(argv[4]);
    double t0 = now();
    sbert_model *m = NULL;
    sbert_pair_file pf;
    if (sbert_cross_encoder_load(argv[1], &lo, &m) != SBERT_OK || sbert_pair_file_load(argv[2], &pf) != SBERT_OK) {
        fprintf(stderr, "%s\n", sbert_last_error());
        return 1;
    }
    double load = now() - t0;
    sbert_predict_options po = sbert_predict_options_default();
    po.batch_size = (size_t)atoi(argv[3]);
    float *out = malloc(pf.n * sbert_cross_encoder_num_labels(m) * sizeof *out);
    if (sbert_cross_encoder_predict(m, pf.first, pf.second, pf.n < 8 ? pf.n : 8, &po, out) != SBERT_OK) {
        fprintf(stderr, "%s\n", sbert_last_error());
        return 1;
    }
    int repeats = atoi(argv[5]);
    size_t n_req = k ? (pf.n + k - 1) / k : 0, n_lat = 0;
    double *lat = k ? malloc((size_t)repeats * n_req * sizeof *lat) : NULL;
    if (k) po.batch_size = k;
    double best = 1e30, sum = 0;
    for (int r = 0; r < repeats; r++) {
        double t = now();
        for (size_t b = 0; b < (k ? pf.n : 1); b += k ? k : 1) {
            size_t cnt = k ? (pf.n - b < k ? pf.n - b : k) : pf.n;
            double t1 = now();
            if (sbert_cross_encoder_predict(m, pf.first + b, pf.second + b, cnt, &po,
                                            out + b * sbert_cross_encoder_num_labels(m)) != SBERT_OK) {
                fprintf(stderr, "%s\n", sbert_last_error());
                return 1;
            }
            if (k) lat[n_lat++] = now() - t1;
        }
        t = now() - t;
        best = t < best ? t : best;
    }
    for (size_t i = 0; i < pf.n; i++) sum += out[i];
    printf("{\"n\": %zu, \"seconds\": %.6f, \"load_seconds\": %.4f, \"checksum\": %.6f", pf.n, best, load, sum);
    if (k) {
        /* insertion sort: a few thousand latencies */
        for (size_t i = 1; i < n_lat; i++)
            for (size_t j = i; j > 0 && lat[j - 1] > lat[j]; j--) {
                double x = lat[j];
                lat[j] = lat[j - 1];
                lat[j - 1] = x;
            }
        printf(", \"p50_ms\": %.4f, \"p99_ms\": %.4f", 1e3 * lat[n_lat / 2], 1e3 * lat[(n_lat * 99) / 100]);
        free(lat);
    }
    printf("}\n");
    free(out);
    sbert_pair_file_free(&pf);
    sbert_model_free(m);
    return 0;
}
