/*
 * tokenizers/precompiled.c -- the SentencePiece "Precompiled" normalizer.
 *
 * SentencePiece models (XLM-R, mBART, T5, Marian, ...) carry their Unicode
 * normalization (usually "nmt_nfkc") as a compiled character map, which
 * tokenizer.json stores base64-encoded in {"type": "Precompiled",
 * "precompiled_charsmap": "..."}. The decoded blob is
 *
 *     u32 LE   trie_size (bytes, a multiple of 4)
 *     u32 LE   units[trie_size / 4]      a darts-clone double-array trie
 *     bytes    pool                      NUL-terminated UTF-8 replacements
 *
 * A key of the trie is the UTF-8 of a character (or short character
 * sequence); its value is the byte offset of the replacement in the pool.
 *
 * Normalization follows HF tokenizers' Precompiled normalizer (the
 * spm_precompiled crate) exactly, including its odd corners:
 *   - the text is cut into extended grapheme clusters;
 *   - a cluster of fewer than 6 bytes is first looked up whole; the lookup is
 *     a common-prefix search that takes the FIRST (shortest) key that is a
 *     prefix of the cluster, and if one exists its replacement stands for the
 *     whole cluster (the rest of the cluster is dropped);
 *   - otherwise each character of the cluster is looked up on its own and
 *     replaced, or copied unchanged when no key is a prefix of it;
 *   - a NUL byte ends a lookup key (so U+0000 itself never matches).
 *
 * The trie is only trusted as far as it is checked: every unit index and pool
 * offset is bounds-checked when it is used, and a walk that leaves the arrays
 * is reported as a format error instead of being read.
 */
#include "tokenizers/precompiled.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "base/error.h"

struct sbert_precompiled {
    uint32_t *units; /* [n_units] the double-array trie */
    size_t n_units;
    char *pool; /* [pool_len + 1] replacements, NUL-separated; NUL-terminated copy */
    size_t pool_len;
};

/* ------------------------------------------------------------ darts unit */

static int unit_has_leaf(uint32_t u) { return (u >> 8) & 1u; }
static uint32_t unit_value(uint32_t u) { return u & 0x7FFFFFFFu; }
static uint32_t unit_label(uint32_t u) { return u & (0x80000000u | 0xFFu); }
static size_t unit_offset(uint32_t u) { return (size_t)(u >> 10) << ((u & (1u << 9)) >> 6); }

/* ---------------------------------------------------------------- base64 */

static int b64_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Standard base64 (RFC 4648 alphabet, '=' padding optional at the end).
 * *out is malloc'd ([*out_len] bytes). */
static sbert_status b64_decode(const char *s, size_t n, uint8_t **out, size_t *out_len) {
    size_t end = n;
    while (end > 0 && s[end - 1] == '=') end--;
    if (n - end > 2)
        return sbert_fail(SBERT_ERR_FORMAT, "precompiled_charsmap: more than two '=' padding characters");
    if (end % 4 == 1)
        return sbert_fail(SBERT_ERR_FORMAT, "precompiled_charsmap: base64 text has an impossible length (%zu)", n);
    uint8_t *buf = malloc(end / 4 * 3 + 3);
    if (!buf) return sbert_fail(SBERT_ERR_NOMEM, "precompiled_charsmap: out of memory decoding %zu bytes", n);
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < end; i++) {
        int v = b64_value((unsigned char)s[i]);
        if (v < 0) {
            free(buf);
            return sbert_fail(SBERT_ERR_FORMAT,
                              "precompiled_charsmap: invalid base64 character 0x%02x at offset %zu",
                              (unsigned char)s[i], i);
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1u;
        }
    }
    *out = buf;
    *out_len = o;
    return SBERT_OK;
}

/* --------------------------------------------------------------- create */

sbert_status sbert_precompiled_create(const uint8_t *blob, size_t n, sbert_precompiled **out) {
    *out = NULL;
    if (!blob && n) return sbert_fail(SBERT_ERR_INVALID_ARG, "precompiled_charsmap: NULL blob");
    if (n < 4)
        return sbert_fail(SBERT_ERR_FORMAT,
                          "precompiled_charsmap: %zu bytes, shorter than the 4-byte trie size header", n);
    uint32_t trie_size = (uint32_t)blob[0] | (uint32_t)blob[1] << 8 | (uint32_t)blob[2] << 16 |
                         (uint32_t)blob[3] << 24;
    if (trie_size % 4 != 0)
        return sbert_fail(SBERT_ERR_FORMAT,
                          "precompiled_charsmap: trie size %u is not a multiple of 4 (corrupt blob)",
                          trie_size);
    if (trie_size == 0)
        return sbert_fail(SBERT_ERR_FORMAT, "precompiled_charsmap: the trie is empty");
    if ((size_t)trie_size > n - 4)
        return sbert_fail(SBERT_ERR_FORMAT,
                          "precompiled_charsmap: trie size %u exceeds the %zu bytes after the header "
                          "(truncated or corrupt blob)",
                          trie_size, n - 4);
    size_t pool_len = n - 4 - trie_size;
    const uint8_t *pool = blob + 4 + trie_size;
    /* The pool must be valid UTF-8 (HF refuses the charsmap otherwise). NULs are separators. */
    for (size_t i = 0; i < pool_len;) {
        if (pool[i] == 0) {
            i++;
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(pool + i, (utf8proc_ssize_t)(pool_len - i), &cp);
        if (k <= 0)
            return sbert_fail(SBERT_ERR_FORMAT,
                              "precompiled_charsmap: replacement pool is not valid UTF-8 at pool byte %zu",
                              i);
        i += (size_t)k;
    }

    sbert_precompiled *p = calloc(1, sizeof *p);
    if (!p) return sbert_fail(SBERT_ERR_NOMEM, "precompiled_charsmap: out of memory");
    p->n_units = trie_size / 4;
    p->units = malloc(p->n_units * sizeof *p->units);
    p->pool = malloc(pool_len + 1);
    if (!p->units || !p->pool) {
        sbert_precompiled_free(p);
        return sbert_fail(SBERT_ERR_NOMEM, "precompiled_charsmap: out of memory (%zu bytes)", n);
    }
    for (size_t i = 0; i < p->n_units; i++) {
        const uint8_t *b = blob + 4 + 4 * i;
        p->units[i] = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    }
    if (pool_len) memcpy(p->pool, pool, pool_len);
    p->pool[pool_len] = '\0';
    p->pool_len = pool_len;
    *out = p;
    return SBERT_OK;
}

sbert_status sbert_precompiled_create_base64(const char *b64, size_t b64_len,
                                             sbert_precompiled **out) {
    *out = NULL;
    if (!b64 && b64_len) return sbert_fail(SBERT_ERR_INVALID_ARG, "precompiled_charsmap: NULL text");
    uint8_t *blob = NULL;
    size_t n = 0;
    SBERT_TRY(b64_decode(b64, b64_len, &blob, &n));
    sbert_status st = sbert_precompiled_create(blob, n, out);
    free(blob);
    return st;
}

void sbert_precompiled_free(sbert_precompiled *p) {
    if (!p) return;
    free(p->units);
    free(p->pool);
    free(p);
}

/* --------------------------------------------------------------- lookup */

/* The first (shortest) key that is a prefix of key[0..n) (stopping at a NUL
 * byte). On a match, *rep (*rep_len bytes) is the replacement (inside p->pool) and
 * *found = 1. Errors only for a corrupt trie. */
static sbert_status transform(const sbert_precompiled *p, const uint8_t *key, size_t n, int *found,
                              const char **rep, size_t *rep_len) {
    *found = 0;
    size_t node = 0;
    uint32_t unit = p->units[0];
    node ^= unit_offset(unit);
    for (size_t i = 0; i < n; i++) {
        uint8_t c = key[i];
        if (c == 0) break;
        node ^= c;
        if (node >= p->n_units)
            return sbert_fail(SBERT_ERR_FORMAT,
                              "precompiled_charsmap: trie walk reaches unit %zu of %zu (corrupt trie)",
                              node, p->n_units);
        unit = p->units[node];
        if (unit_label(unit) != c) return SBERT_OK;
        node ^= unit_offset(unit);
        if (unit_has_leaf(unit)) {
            if (node >= p->n_units)
                return sbert_fail(SBERT_ERR_FORMAT,
                                  "precompiled_charsmap: trie leaf at unit %zu of %zu (corrupt trie)",
                                  node, p->n_units);
            size_t at = unit_value(p->units[node]);
            if (at > p->pool_len)
                return sbert_fail(SBERT_ERR_FORMAT,
                                  "precompiled_charsmap: replacement offset %zu is past the %zu-byte pool "
                                  "(corrupt trie)",
                                  at, p->pool_len);
            if (at < p->pool_len && ((unsigned char)p->pool[at] & 0xC0) == 0x80)
                return sbert_fail(SBERT_ERR_FORMAT,
                                  "precompiled_charsmap: replacement offset %zu is inside a UTF-8 character "
                                  "(corrupt trie)",
                                  at);
            *found = 1;
            *rep = p->pool + at;
            *rep_len = strlen(p->pool + at); /* pool is NUL-terminated at pool_len */
            return SBERT_OK;
        }
    }
    return SBERT_OK;
}

/* ------------------------------------------------------------ normalize */

typedef struct {
    char *buf;
    size_t len, cap;
} outbuf;

static int out_put(outbuf *o, const void *s, size_t n) {
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 64;
        while (cap < o->len + n + 1) cap *= 2;
        char *b = realloc(o->buf, cap);
        if (!b) return 0;
        o->buf = b;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    return 1;
}

/* Normalize the grapheme cluster g[0..n) (n > 0, valid UTF-8) into o. */
static sbert_status normalize_grapheme(const sbert_precompiled *p, const uint8_t *g, size_t n,
                                       outbuf *o) {
    int found;
    const char *rep;
    size_t rep_len;
    if (n < 6) {
        SBERT_TRY(transform(p, g, n, &found, &rep, &rep_len));
        if (found) {
            if (!out_put(o, rep, rep_len)) goto nomem;
            return SBERT_OK;
        }
    }
    for (size_t i = 0; i < n;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(g + i, (utf8proc_ssize_t)(n - i), &cp);
        size_t cl = k > 0 ? (size_t)k : 1; /* input was validated; defensive */
        SBERT_TRY(transform(p, g + i, cl, &found, &rep, &rep_len));
        if (found ? !out_put(o, rep, rep_len) : !out_put(o, g + i, cl)) goto nomem;
        i += cl;
    }
    return SBERT_OK;
nomem:
    return sbert_fail(SBERT_ERR_NOMEM, "precompiled normalizer: out of memory");
}

sbert_status sbert_precompiled_normalize(const sbert_precompiled *p, const char *in, size_t n,
                                         char **out, size_t *out_len) {
    *out = NULL;
    *out_len = 0;
    if (!p || (!in && n)) return sbert_fail(SBERT_ERR_INVALID_ARG, "precompiled normalizer: NULL argument");
    const uint8_t *s = (const uint8_t *)in;
    outbuf o = {NULL, 0, 0};
    if (!out_put(&o, "", 0)) return sbert_fail(SBERT_ERR_NOMEM, "precompiled normalizer: out of memory");
    sbert_status st = SBERT_OK;
    size_t gstart = 0;          /* start of the current grapheme cluster */
    utf8proc_int32_t prev = -1; /* previous code point (-1: none yet) */
    utf8proc_int32_t state = 0; /* grapheme break state */
    for (size_t i = 0; i < n;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0) {
            st = sbert_fail(SBERT_ERR_INVALID_ARG,
                            "precompiled normalizer: input is not valid UTF-8 at byte %zu", i);
            goto fail;
        }
        if (prev >= 0 && utf8proc_grapheme_break_stateful(prev, cp, &state)) {
            st = normalize_grapheme(p, s + gstart, i - gstart, &o);
            if (st != SBERT_OK) goto fail;
            gstart = i;
        }
        prev = cp;
        i += (size_t)k;
    }
    if (n > gstart) {
        st = normalize_grapheme(p, s + gstart, n - gstart, &o);
        if (st != SBERT_OK) goto fail;
    }
    o.buf[o.len] = '\0';
    *out = o.buf;
    *out_len = o.len;
    return SBERT_OK;
fail:
    free(o.buf);
    return st;
}
