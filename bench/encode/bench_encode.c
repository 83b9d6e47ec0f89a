/*
 * bench/encode/bench_encode.c -- the sbert side of the encode benchmark.
 *
 * A tiny driver linked to libsbert that times only the work being compared,
 * never the model load:
 *
 *   bench_encode encode MODEL_DIR FILE BATCH THREADS REPEATS [OUT.f32]
 *       loads the model (timed separately), encodes the first 8 lines once
 *       to warm up, then encodes every line of FILE REPEATS times with
 *       batch_size BATCH and reports the best run; OUT.f32 receives the
 *       embeddings as raw little-endian float32 [n, dim] (for max |delta|).
 *   bench_encode requests MODEL_DIR FILE BATCH THREADS [OUT.f32 [LAT.txt]]
 *       one request = one sbert_model_encode call on the next BATCH lines
 *       of FILE (file order), as a service answering queries does. Loads
 *       the model, warms up on the first 8 lines, then runs every request
 *       once and reports the total time and the p50 / p99 of the per-request
 *       latencies (seconds); LAT.txt receives one latency per line.
 *   bench_encode tokenize TOKENIZER_JSON FILE REPEATS
 *       encodes every line with sbert_tokenizer_encode (one thread, the
 *       file's own truncation settings, special tokens added) and reports
 *       the best run and the total number of tokens.
 *
 * Prints one JSON object on stdout, e.g.
 *   {"n": 1000, "seconds": 1.23, "load_seconds": 0.1, "dim": 384}
 * bench.py runs it as a child process and reads the child's peak RSS.
 * Built by run.sh (not part of the CMake build, not run in CI).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sbert.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Lines of a file, "\n" / "\r\n" removed. */
static char **read_lines(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "bench_encode: cannot open %s\n", path);
        return NULL;
    }
    size_t cap = 1024, cnt = 0;
    char **lines = malloc(cap * sizeof *lines);
    char *buf = NULL;
    size_t bcap = 0;
    ssize_t len;
    while ((len = getline(&buf, &bcap, f)) >= 0) {
        if (len > 0 && buf[len - 1] == '\n')
            buf[--len] = '\0';
        if (len > 0 && buf[len - 1] == '\r')
            buf[--len] = '\0';
        if (cnt == cap)
            lines = realloc(lines, (cap *= 2) * sizeof *lines);
        lines[cnt++] = strdup(buf);
    }
    free(buf);
    fclose(f);
    *n = cnt;
    return lines;
}

static int fail(const char *what, sbert_status st) {
    fprintf(stderr, "bench_encode: %s: %s (%s)\n", what, sbert_last_error(),
            sbert_status_name(st));
    return 1;
}

/* One timed encode call (out of line for valgrind --toggle-collect=timed_encode). */
__attribute__((noinline)) static sbert_status timed_encode(sbert_model *model, char **lines, size_t n,
                                                           const sbert_encode_options *eo,
                                                           float *out) {
    return sbert_model_encode(model, (const char *const *)lines, n, eo, out);
}

static int bench_encode(int argc, char **argv) {
    if (argc != 7 && argc != 8) {
        fprintf(stderr, "usage: bench_encode encode MODEL_DIR FILE BATCH THREADS REPEATS "
                        "[OUT.f32]\n");
        return 2;
    }
    size_t n = 0;
    char **lines = read_lines(argv[3], &n);
    if (!lines)
        return 1;
    sbert_load_options lo;
    memset(&lo, 0, sizeof lo);
    lo.num_threads = atoi(argv[5]);
    double t0 = now();
    sbert_model *model = NULL;
    sbert_status st = sbert_model_load(argv[2], &lo, &model);
    if (st != SBERT_OK)
        return fail("load", st);
    double load_s = now() - t0;
    sbert_encode_options eo = sbert_encode_options_default();
    eo.batch_size = (size_t)atol(argv[4]);
    size_t dim = sbert_model_encode_dim(model, &eo);
    float *out = malloc(n * dim * sizeof *out);
    st = sbert_model_encode(model, (const char *const *)lines, n < 8 ? n : 8, &eo, out);
    if (st != SBERT_OK)
        return fail("warm-up encode", st);
    int repeats = atoi(argv[6]);
    double best = 1e30;
    for (int r = 0; r < repeats; r++) {
        t0 = now();
        st = timed_encode(model, lines, n, &eo, out);
        double t = now() - t0;
        if (st != SBERT_OK)
            return fail("encode", st);
        best = t < best ? t : best;
    }
    if (argc == 8) {
        FILE *f = fopen(argv[7], "wb");
        if (!f || fwrite(out, sizeof *out, n * dim, f) != n * dim) {
            fprintf(stderr, "bench_encode: cannot write %s\n", argv[7]);
            return 1;
        }
        fclose(f);
    }
    printf("{\"n\": %zu, \"seconds\": %.6f, \"load_seconds\": %.6f, \"dim\": %zu, "
           "\"first\": %.6f}\n",
           n, best, load_s, dim, n ? (double)out[0] : 0.0);
    free(out);
    sbert_model_free(model);
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The q-quantile of sorted v[n] (nearest rank, as numpy's 'higher'). */
static double quantile(const double *v, size_t n, double q) {
    size_t k = (size_t)(q * (double)(n - 1) + 0.999999);
    return v[k < n ? k : n - 1];
}

/* The timed part of `requests`, kept out of line so that a profiler
 * (valgrind --toggle-collect=timed_requests) can count it alone. */
__attribute__((noinline)) static sbert_status timed_requests(sbert_model *model, char **lines,
                                                             size_t n, size_t batch,
                                                             const sbert_encode_options *eo,
                                                             size_t dim, float *out, double *lat) {
    for (size_t i = 0, r = 0; i < n; i += batch, r++) {
        size_t nb = n - i < batch ? n - i : batch;
        double t0 = now();
        sbert_status st = sbert_model_encode(model, (const char *const *)lines + i, nb, eo,
                                             out + i * dim);
        lat[r] = now() - t0;
        if (st != SBERT_OK) return st;
    }
    return SBERT_OK;
}

static int bench_requests(int argc, char **argv) {
    if (argc < 6 || argc > 8) {
        fprintf(stderr, "usage: bench_encode requests MODEL_DIR FILE BATCH THREADS [OUT.f32 "
                        "[LAT.txt]]\n");
        return 2;
    }
    size_t n = 0;
    char **lines = read_lines(argv[3], &n);
    if (!lines)
        return 1;
    size_t batch = (size_t)atol(argv[4]);
    if (n == 0 || batch == 0) {
        fprintf(stderr, "bench_encode: no lines or batch 0\n");
        return 2;
    }
    sbert_load_options lo;
    memset(&lo, 0, sizeof lo);
    lo.num_threads = atoi(argv[5]);
    double t0 = now();
    sbert_model *model = NULL;
    sbert_status st = sbert_model_load(argv[2], &lo, &model);
    if (st != SBERT_OK)
        return fail("load", st);
    double load_s = now() - t0;
    sbert_encode_options eo = sbert_encode_options_default();
    eo.batch_size = batch;
    size_t dim = sbert_model_encode_dim(model, &eo);
    float *out = malloc(n * dim * sizeof *out);
    size_t nreq = (n + batch - 1) / batch;
    double *lat = malloc(nreq * sizeof *lat);
    for (size_t i = 0; i < 8 && i < n; i += batch) /* warm-up: the first requests */
        if ((st = sbert_model_encode(model, (const char *const *)lines + i,
                                     n - i < batch ? n - i : batch, &eo, out)) != SBERT_OK)
            return fail("warm-up encode", st);
    t0 = now();
    st = timed_requests(model, lines, n, batch, &eo, dim, out, lat);
    double total = now() - t0;
    if (st != SBERT_OK)
        return fail("encode", st);
    if (argc >= 7) {
        FILE *f = fopen(argv[6], "wb");
        if (!f || fwrite(out, sizeof *out, n * dim, f) != n * dim) {
            fprintf(stderr, "bench_encode: cannot write %s\n", argv[6]);
            return 1;
        }
        fclose(f);
    }
    if (argc >= 8) {
        FILE *f = fopen(argv[7], "w");
        if (!f) {
            fprintf(stderr, "bench_encode: cannot write %s\n", argv[7]);
            return 1;
        }
        for (size_t r = 0; r < nreq; r++) fprintf(f, "%.9f\n", lat[r]);
        fclose(f);
    }
    qsort(lat, nreq, sizeof *lat, cmp_double);
    printf("{\"n\": %zu, \"requests\": %zu, \"seconds\": %.6f, \"p50\": %.6f, \"p99\": %.6f, "
           "\"load_seconds\": %.6f, \"dim\": %zu}\n",
           n, nreq, total, quantile(lat, nreq, 0.50), quantile(lat, nreq, 0.99), load_s, dim);
    free(lat);
    free(out);
    sbert_model_free(model);
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
    return 0;
}

static int bench_tokenize(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: bench_encode tokenize TOKENIZER_JSON FILE REPEATS\n");
        return 2;
    }
    size_t n = 0;
    char **lines = read_lines(argv[3], &n);
    if (!lines)
        return 1;
    double t0 = now();
    sbert_tokenizer *tok = NULL;
    sbert_status st = sbert_tokenizer_load(argv[2], &tok);
    if (st != SBERT_OK)
        return fail("load tokenizer", st);
    double load_s = now() - t0;
    size_t *lens = malloc(n * sizeof *lens);
    for (size_t i = 0; i < n; i++)
        lens[i] = strlen(lines[i]);
    sbert_tokenize_options to = sbert_tokenize_options_default();
    int repeats = atoi(argv[4]);
    double best = 1e30;
    size_t tokens = 0;
    for (int r = 0; r < repeats; r++) {
        tokens = 0;
        t0 = now();
        for (size_t i = 0; i < n; i++) {
            sbert_encoding e;
            st = sbert_tokenizer_encode(tok, lines[i], lens[i], NULL, 0, &to, &e);
            if (st != SBERT_OK)
                return fail("tokenize", st);
            tokens += e.len;
            sbert_encoding_free(&e);
        }
        double t = now() - t0;
        best = t < best ? t : best;
    }
    printf("{\"n\": %zu, \"tokens\": %zu, \"seconds\": %.6f, \"load_seconds\": %.6f}\n", n,
           tokens, best, load_s);
    sbert_tokenizer_free(tok);
    free(lens);
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "encode") == 0)
        return bench_encode(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "requests") == 0)
        return bench_requests(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "tokenize") == 0)
        return bench_tokenize(argc, argv);
    fprintf(stderr, "usage: bench_encode encode|requests|tokenize ...\n");
    return 2;
}
