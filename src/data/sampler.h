/*
 * data/sampler.h -- batch samplers, as sentence-transformers' base/sampler.py:
 *
 *   BATCH_SAMPLER  a random permutation cut into consecutive batches;
 *   NO_DUPLICATES  walk a random permutation, adding a row only if none of
 *                  its input values (label excluded) already occurs in the
 *                  batch; rows that clash wait for a later batch. When one
 *                  pass yields fewer batches than ceil(N/B) (floor with
 *                  drop_last), up to two more passes over fresh permutations
 *                  top the epoch up, as sentence-transformers v6 does.
 *
 * Each epoch reseeds the generator with seed + epoch, so an epoch's batches
 * depend only on (seed, epoch): resuming mid-epoch replays the same order.
 * Values are compared by 64-bit hash of their text.
 */
#ifndef SBERT_DATA_SAMPLER_H
#define SBERT_DATA_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "data/dataset.h"

typedef enum {
    SBERT_SAMPLER_BATCH = 0,
    SBERT_SAMPLER_NO_DUPLICATES = 1,
    SBERT_SAMPLER_NO_DUPLICATES_HASHED = 2, /* the same batches: values are compared by hash in both */
    SBERT_SAMPLER_GROUP_BY_LABEL = 3
} sbert_sampler_type;

/* Parse "BATCH_SAMPLER", "NO_DUPLICATES", "NO_DUPLICATES_HASHED",
 * "GROUP_BY_LABEL" (any case; "BatchSamplers." prefix allowed). */
sbert_status sbert_sampler_parse(const char *name, sbert_sampler_type *out);

/* Batches of row indices: batch b is idx[offsets[b] .. offsets[b+1]). */
typedef struct {
    size_t *idx;
    size_t *offsets; /* [n_batches + 1] */
    size_t n_batches;
} sbert_batches;

void sbert_batches_free(sbert_batches *b);

/* The number of batches an epoch advertises: ceil(N/B), or floor with drop_last. */
size_t sbert_sampler_len(size_t n_rows, size_t batch_size, int drop_last);

/* The number of batches an epoch of `type` advertises on ds (GROUP_BY_LABEL
 * depends on the labels; errors say why a dataset cannot be sampled so). */
sbert_status sbert_sampler_len_for(const sbert_dataset *ds, sbert_sampler_type type, size_t batch_size, int drop_last,
                                   size_t *out);

/* GROUP_BY_LABEL (sentence-transformers v5.3+ GroupByLabelBatchSampler):
 * rows grouped by the label column (labels with fewer than 2 rows dropped,
 * each group cut to an even count); each epoch every group is shuffled, then
 * rounds shuffle the labels still holding rows and take 2 rows from each in
 * turn (a round never starts with the label the last one ended with while a
 * batch is open), a batch every batch_size rows; it stops when fewer than 2
 * labels have rows left; a tail of >= 4 rows is kept unless drop_last.
 * batch_size must be even and >= 4; >= 2 labels must have >= 2 rows.
 * Every batch thus holds pairs of rows of at least two labels. */

/* All batches of one epoch. */
sbert_status sbert_sampler_epoch(const sbert_dataset *ds, sbert_sampler_type type, size_t batch_size,
                                 int drop_last, uint64_t seed, uint64_t epoch, sbert_batches *out);

/* One NO_DUPLICATES pass over a given permutation perm [n_rows], appending its
 * batches to *out (exposed for tests against sentence-transformers). */
sbert_status sbert_no_duplicates_pass(const sbert_dataset *ds, const size_t *perm, size_t batch_size,
                                      int drop_last, sbert_batches *out);

#endif
