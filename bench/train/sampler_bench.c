/*
 * bench/train/sampler_bench.c -- load a large JSONL dataset and time one
 * epoch of BATCH_SAMPLER and NO_DUPLICATES batches (the issue asks for
 * NO_DUPLICATES to be fast at a million rows and batch 1024).
 *
 *   cc -O2 bench/train/sampler_bench.c -Iinclude -Isrc build/libsbert.a \
 *      $(pkg-config --libs libcjson libutf8proc libpcre2-8 openblas zlib) -lpthread -lm
 *   ./a.out FILE.jsonl [BATCH]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "data/dataset.h"
#include "data/sampler.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s FILE.jsonl [BATCH]\n", argv[0]); return 2; }
    size_t bs = argc > 2 ? (size_t)atol(argv[2]) : 1024;
    double t0 = now();
    sbert_dataset *ds = NULL;
    if (sbert_dataset_load(argv[1], &ds) != SBERT_OK) { fprintf(stderr, "%s\n", sbert_last_error()); return 1; }
    double t1 = now();
    printf("loaded %zu rows x %zu columns in %.2f s\n", ds->n_rows, ds->n_cols, t1 - t0);
    const char *names[2] = {"BATCH_SAMPLER", "NO_DUPLICATES"};
    for (int k = 0; k < 2; k++) {
        sbert_batches b;
        double a = now();
        if (sbert_sampler_epoch(ds, (sbert_sampler_type)k, bs, 0, 42, 0, &b) != SBERT_OK) {
            fprintf(stderr, "%s\n", sbert_last_error());
            return 1;
        }
        printf("%-14s batch %zu: %zu batches in %.3f s\n", names[k], bs, b.n_batches, now() - a);
        sbert_batches_free(&b);
    }
    sbert_dataset_free(ds);
    return 0;
}
