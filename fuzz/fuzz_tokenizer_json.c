/*
 * fuzz/fuzz_tokenizer_json.c -- libFuzzer target for the tokenizer.json
 * loader and the encode pipeline.
 *
 * The input is split at the first 0xFF byte (absent: all of it is JSON):
 * the part before is fed to sbert_tokenizer_load_from_memory; if it loads,
 * the part after (raw bytes, so invalid UTF-8 too) and a few fixed strings
 * are encoded singly, as a pair, and with small max_length / strategies.
 * Seed it with the real tokenizer.json files (see tests/data/tokenizers).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sbert.h"

static void encode_all(const sbert_tokenizer *tok, const char *a, size_t na, const char *b,
                       size_t nb) {
    sbert_tokenize_options o = sbert_tokenize_options_default();
    sbert_encoding enc;
    if (sbert_tokenizer_encode(tok, a, na, NULL, 0, &o, &enc) == SBERT_OK) sbert_encoding_free(&enc);
    if (sbert_tokenizer_encode(tok, a, na, b, nb, &o, &enc) == SBERT_OK) sbert_encoding_free(&enc);
    o.max_length = 5;
    for (int s = 0; s < 3; s++) {
        o.strategy = (sbert_truncation_strategy)s;
        if (sbert_tokenizer_encode(tok, b, nb, a, na, &o, &enc) == SBERT_OK) sbert_encoding_free(&enc);
    }
    o.max_length = -1;
    o.add_special_tokens = 0;
    if (sbert_tokenizer_encode(tok, a, na, b, nb, &o, &enc) == SBERT_OK) sbert_encoding_free(&enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *sep = memchr(data, 0xFF, size);
    size_t jlen = sep ? (size_t)(sep - data) : size;
    sbert_tokenizer *tok = NULL;
    if (sbert_tokenizer_load_from_memory((const char *)data, jlen, "fuzz.json", &tok) != SBERT_OK)
        return 0;
    static const char *fixed[] = {
        "Hello, world! The quick brown fox.", "", "  ", "Café naïve 我爱北京 🍕 don't [MASK] <mask>",
        "a\tb\nc\r\n\u00a0d 1234 3.14", "supercalifragilisticexpialidocious-supercalifragilistic"};
    const char *tail = sep ? (const char *)sep + 1 : "";
    size_t ntail = sep ? size - jlen - 1 : 0;
    encode_all(tok, tail, ntail, fixed[0], strlen(fixed[0]));
    for (size_t i = 1; i < sizeof fixed / sizeof *fixed; i++)
        encode_all(tok, fixed[i], strlen(fixed[i]), fixed[i - 1], strlen(fixed[i - 1]));
    (void)sbert_tokenizer_vocab_size(tok);
    (void)sbert_tokenizer_token_to_id(tok, "[CLS]");
    sbert_tokenizer_free(tok);
    return 0;
}
