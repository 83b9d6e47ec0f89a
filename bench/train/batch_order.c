/*
 * bench/train/batch_order.c -- print the batches sbert's trainer draws for
 * one epoch (row indices into the data file, in order), as JSON: the same
 * sbert_sampler_epoch call the trainer makes. bench/train/real_data_vs_st.py
 * feeds this order to sentence-transformers, so both sides train on the same
 * batches and differ only in dropout masks and rounding.
 *
 *   cc -O2 bench/train/batch_order.c -Iinclude -Isrc build/libsbert.a \
 *      $(pkg-config --libs libcjson libutf8proc libpcre2-8 openblas zlib) -lpthread -lm
 *   ./a.out FILE BATCH_SAMPLER|NO_DUPLICATES BATCH_SIZE SEED [EPOCH] [DROP_LAST]
 */
#include <stdio.h>
#include <stdlib.h>

#include "data/dataset.h"
#include "data/sampler.h"

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s FILE BATCH_SAMPLER|NO_DUPLICATES BATCH_SIZE SEED [EPOCH] [DROP_LAST]\n",
                argv[0]);
        return 2;
    }
    sbert_sampler_type type;
    sbert_dataset *ds = NULL;
    if (sbert_sampler_parse(argv[2], &type) != SBERT_OK || sbert_dataset_load(argv[1], &ds) != SBERT_OK) {
        fprintf(stderr, "%s\n", sbert_last_error());
        return 1;
    }
    size_t bs = (size_t)strtoull(argv[3], NULL, 10);
    uint64_t seed = strtoull(argv[4], NULL, 10), epoch = argc > 5 ? strtoull(argv[5], NULL, 10) : 0;
    int drop_last = argc > 6 ? atoi(argv[6]) : 0;
    sbert_batches b;
    if (sbert_sampler_epoch(ds, type, bs, drop_last, seed, epoch, &b) != SBERT_OK) {
        fprintf(stderr, "%s\n", sbert_last_error());
        sbert_dataset_free(ds);
        return 1;
    }
    printf("[");
    for (size_t i = 0; i < b.n_batches; i++) {
        printf(i ? ",\n[" : "[");
        for (size_t k = b.offsets[i]; k < b.offsets[i + 1]; k++)
            printf(k > b.offsets[i] ? ",%zu" : "%zu", b.idx[k]);
        printf("]");
    }
    printf("]\n");
    sbert_batches_free(&b);
    sbert_dataset_free(ds);
    return 0;
}
