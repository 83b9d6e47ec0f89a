/*
 * tokenizers/unigram.h -- the Unigram tokenizer model (SentencePiece unigram,
 * tokenizer.json: {"type": "Unigram", "unk_id": 3, "vocab": [[piece, score], ...],
 * "byte_fallback": false}).
 *
 * Tokenizing one pre-tokenized word runs Viterbi over the lattice of vocab
 * pieces, maximising the summed score; characters no piece covers become
 * unk (score = min score - 10), consecutive unks are fused into one, and with
 * byte_fallback unknown characters become <0xNN> byte pieces instead -- the
 * same ids as HF tokenizers' Unigram::encode_optimized.
 */
#ifndef SBERT_TOKENIZERS_UNIGRAM_H
#define SBERT_TOKENIZERS_UNIGRAM_H

#include <stddef.h>
#include <stdint.h>

#include "sbert.h"

typedef struct sbert_unigram sbert_unigram;

/* pieces[i] is the UTF-8 token with id i and log-probability scores[i].
 * unk_id < 0 means no unk token. The pieces are copied. */
sbert_status sbert_unigram_create(const char *const *pieces, const double *scores, size_t n,
                                  int32_t unk_id, int byte_fallback, sbert_unigram **out);
void sbert_unigram_free(sbert_unigram *u);

/* Tokenize `s` (n bytes of valid UTF-8) and append the ids to the growable
 * array *ids (length *len, capacity *cap; realloc'd as needed). On failure
 * (an unknown character and no unk_id, out of memory) *len is unchanged. */
sbert_status sbert_unigram_tokenize(const sbert_unigram *u, const char *s, size_t n,
                                    int32_t **ids, size_t *len, size_t *cap);

size_t sbert_unigram_vocab_size(const sbert_unigram *u);
/* -1 if absent. */
int32_t sbert_unigram_token_to_id(const sbert_unigram *u, const char *token);
/* NULL if out of range. */
const char *sbert_unigram_id_to_token(const sbert_unigram *u, int32_t id);

#endif
