/*
 * fuzz/fuzz_precompiled.c -- libFuzzer target for the SentencePiece
 * Precompiled charsmap loader and normalizer: arbitrary bytes as the blob,
 * then a few normalizations (plain ASCII, accents, CJK, a split grapheme).
 * Run with fuzz/run.sh after building with CC=clang -DSBERT_FUZZ=ON.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizers/precompiled.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sbert_precompiled *p = NULL;
    if (sbert_precompiled_create(data, size, &p) != SBERT_OK) return 0;
    static const char *inputs[] = {"hello world", "Caf\xc3\xa9 \xef\xac\x81", "\xe4\xbd\xa0\xe5\xa5\xbd",
                                   "e\xcc\x81\xcc\x81\xcc\x81", "\xef\xbc\xa6\xef\xbc\xb5\xef\xbc\xac\xef\xbc\xac"};
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        char *out = NULL;
        size_t n = 0;
        if (sbert_precompiled_normalize(p, inputs[i], strlen(inputs[i]), &out, &n) == SBERT_OK) free(out);
    }
    sbert_precompiled_free(p);
    return 0;
}
