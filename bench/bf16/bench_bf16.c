/*
 * bench/bf16/bench_bf16.c -- the sbert side of the bf16 benchmark.
 *
 *   bench_bf16 MODEL_DIR FILE BATCH THREADS PRECISION [OUT.f32]
 *
 * Loads the model with THREADS threads, sets PRECISION (fp32 | bf16), encodes
 * the first 8 lines to warm up, then times one encode of every line of FILE
 * with batch_size BATCH. OUT.f32 receives the embeddings (raw float32
 * [n, dim]). Prints one JSON line: {"n", "seconds", "precision" (the one
 * really used), "dim"}. One measurement per process: bench.py alternates the
 * sides and repeats. Built by run.sh, never part of CI.
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

static char **read_lines(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1024, cnt = 0;
    char **lines = malloc(cap * sizeof *lines);
    char *buf = NULL;
    size_t bcap = 0;
    ssize_t len;
    while ((len = getline(&buf, &bcap, f)) >= 0) {
        if (len > 0 && buf[len - 1] == '\n') buf[--len] = '\0';
        if (len > 0 && buf[len - 1] == '\r') buf[--len] = '\0';
        if (cnt == cap) lines = realloc(lines, (cap *= 2) * sizeof *lines);
        lines[cnt++] = strdup(buf);
    }
    free(buf);
    fclose(f);
    *n = cnt;
    return lines;
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: bench_bf16 MODEL FILE BATCH THREADS PRECISION [OUT.f32]\n");
        return 2;
    }
    size_t n = 0;
    char **lines = read_lines(argv[2], &n);
    if (!lines) return 1;
    sbert_load_options lo = {atoi(argv[4]), NULL};
    sbert_model *model = NULL;
    if (sbert_model_load(argv[1], &lo, &model) != SBERT_OK) {
        fprintf(stderr, "load: %s\n", sbert_last_error());
        return 1;
    }
    const char *used = NULL;
    if (sbert_model_set_precision(model, argv[5], &used) != SBERT_OK) {
        fprintf(stderr, "precision: %s\n", sbert_last_error());
        return 1;
    }
    sbert_encode_options eo = sbert_encode_options_default();
    eo.batch_size = (size_t)atol(argv[3]);
    size_t dim = sbert_model_encode_dim(model, &eo);
    float *out = malloc(n * dim * sizeof(float));
    if (sbert_model_encode(model, (const char *const *)lines, n < 8 ? n : 8, &eo, out) != SBERT_OK) return 1;
    double t0 = now();
    if (sbert_model_encode(model, (const char *const *)lines, n, &eo, out) != SBERT_OK) {
        fprintf(stderr, "encode: %s\n", sbert_last_error());
        return 1;
    }
    double sec = now() - t0;
    if (argc > 6) {
        FILE *f = fopen(argv[6], "wb");
        if (!f || fwrite(out, sizeof(float), n * dim, f) != n * dim) return 1;
        fclose(f);
    }
    printf("{\"n\": %zu, \"seconds\": %.6f, \"precision\": \"%s\", \"dim\": %zu}\n", n, sec, used, dim);
    sbert_model_free(model);
    return 0;
}
