/*
 * tokenizers/precompiled.h -- the SentencePiece "Precompiled" normalizer
 * (tokenizer.json: {"type": "Precompiled", "precompiled_charsmap": base64}).
 *
 * The blob is: u32 LE trie size in bytes, a darts-clone double-array trie of
 * that size, then a pool of NUL-terminated replacement strings. Normalization
 * walks the input one grapheme cluster at a time: a cluster shorter than 6
 * bytes whose prefix is a trie key (the first, i.e. shortest, such key) is
 * replaced whole; otherwise each character is replaced by its trie match or
 * copied unchanged -- exactly as HF tokenizers' `Precompiled` normalizer does.
 */
#ifndef SBERT_TOKENIZERS_PRECOMPILED_H
#define SBERT_TOKENIZERS_PRECOMPILED_H

#include <stddef.h>
#include <stdint.h>

#include "sbert.h"

typedef struct sbert_precompiled sbert_precompiled;

/* From the base64 text of precompiled_charsmap. Errors name what is wrong. */
sbert_status sbert_precompiled_create_base64(const char *b64, size_t b64_len,
                                             sbert_precompiled **out);
/* From the raw (decoded) blob. */
sbert_status sbert_precompiled_create(const uint8_t *blob, size_t n, sbert_precompiled **out);
void sbert_precompiled_free(sbert_precompiled *p);

/* Normalize valid UTF-8 `in` (n bytes). *out is malloc'd, NUL-terminated,
 * *out_len bytes (without the NUL). */
sbert_status sbert_precompiled_normalize(const sbert_precompiled *p, const char *in, size_t n,
                                         char **out, size_t *out_len);

#endif
