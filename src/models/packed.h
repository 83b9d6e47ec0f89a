/*
 * models/packed.h -- token ids of many texts laid end to end, the one
 * layout every consumer of tokens uses (encode batches, tokenized training
 * columns, the batch a training step feeds the model): text i is
 * ids/types[off[i] .. off[i+1]). Padding (attention_mask 0, which a
 * tokenizer.json "padding" block may add) is never stored.
 */
#ifndef SBERT_MODELS_PACKED_H
#define SBERT_MODELS_PACKED_H

#include <stddef.h>
#include <stdint.h>

#include "sbert.h"

typedef struct {
    int32_t *ids;   /* [T] */
    int32_t *types; /* [T] token type ids */
    size_t *off;    /* [n + 1] */
    size_t n, T;
    size_t cap_n, cap_T;
} sbert_packed;

/* Empty it (keeps the memory). */
void sbert_packed_clear(sbert_packed *p);
void sbert_packed_free(sbert_packed *p);
/* Append one encoding (its real tokens) as the next text. */
sbert_status sbert_packed_append(sbert_packed *p, const sbert_encoding *e);
/* dst = rows[0..B) of src[0], then the same rows of src[1], ... (text
 * c*B + i of dst is row rows[i] of column c). dst is cleared first. */
sbert_status sbert_packed_gather(sbert_packed *dst, const sbert_packed *const *src, size_t n_src,
                                 const size_t *rows, size_t B);

#endif
