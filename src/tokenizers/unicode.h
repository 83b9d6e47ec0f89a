/*
 * tokenizers/unicode.h -- the character classes HF tokenizers (Rust) uses,
 * reproduced on top of utf8proc: Rust's char::is_whitespace, the
 * `unicode_categories` predicates (is_punctuation, is_other, ...), regex \w,
 * full lowercase, and UTF-8 decoding/validation.
 */
#ifndef SBERT_TOKENIZERS_UNICODE_H
#define SBERT_TOKENIZERS_UNICODE_H

#include <stddef.h>
#include <stdint.h>

/* 1 if s[0..n) is valid UTF-8; otherwise 0 and *bad = offset of the first bad byte. */
int tk_utf8_valid(const char *s, size_t n, size_t *bad);
/* Decode the code point at s[*i] (valid UTF-8 assumed) and advance *i. */
static inline uint32_t tk_utf8_next(const char *s, size_t *i) {
    const unsigned char *u = (const unsigned char *)s + *i;
    if (u[0] < 0x80) { *i += 1; return u[0]; }
    if (u[0] < 0xE0) { *i += 2; return ((uint32_t)(u[0] & 0x1F) << 6) | (u[1] & 0x3F); }
    if (u[0] < 0xF0) {
        *i += 3;
        return ((uint32_t)(u[0] & 0x0F) << 12) | ((uint32_t)(u[1] & 0x3F) << 6) | (u[2] & 0x3F);
    }
    *i += 4;
    return ((uint32_t)(u[0] & 0x07) << 18) | ((uint32_t)(u[1] & 0x3F) << 12) |
           ((uint32_t)(u[2] & 0x3F) << 6) | (u[3] & 0x3F);
}
/* Byte length of the UTF-8 sequence starting with byte c. */
static inline size_t tk_utf8_len(unsigned char c) {
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}
/* Encode cp into out (>= 4 bytes); returns the length. */
size_t tk_utf8_encode(uint32_t cp, char *out);

int tk_is_whitespace(uint32_t c);  /* Rust char::is_whitespace (White_Space) */
int tk_is_punctuation(uint32_t c); /* ASCII punctuation or Unicode P* */
int tk_is_other(uint32_t c);       /* Cc, Cf, Co, Cs */
int tk_is_mark_nonspacing(uint32_t c); /* Mn */
int tk_is_mark(uint32_t c);        /* Mn, Mc, Me */
int tk_is_numeric(uint32_t c);     /* Nd, Nl, No (Rust char::is_numeric) */
int tk_is_word(uint32_t c);        /* regex \w: Alphabetic, M, Nd, Pc, Join_Control */
int tk_is_chinese(uint32_t c);     /* the CJK ranges of BertNormalizer */
/* GPT-2 bytes_to_unicode: the code point that stands for byte b. */
uint32_t tk_byte_to_cp(unsigned b);
/* 1 if HF's NFC/NFD (compat=0) or NFKC/NFKD (compat=1) leaves c unchanged
 * although utf8proc would not (characters newer than HF's tables). */
int tk_hf_keeps(uint32_t c, int compat);
/* Rust char::to_lowercase: writes 1 or 2 code points, returns the count. */
int tk_to_lower(uint32_t c, uint32_t out[2]);

#endif
