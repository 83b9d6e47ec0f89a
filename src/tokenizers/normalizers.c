/*
 * tokenizers/normalizers.c -- the tokenizer.json "normalizer" components:
 * BertNormalizer, NFC/NFD/NFKC/NFKD, Lowercase, StripAccents, Strip,
 * Replace (String or Regex), Prepend, Nmt, ByteLevel, Precompiled
 * (SentencePiece charsmap, implemented in precompiled.c) and Sequence.
 *
 * Each one maps a UTF-8 string to a new UTF-8 string, exactly as the Rust
 * normalizer of HF tokenizers does (same character classes, same order of
 * steps). Offsets/alignments are not tracked: sbert only needs ids.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "base/error.h"
#include "tokenizers/precompiled.h"
#include "tokenizers/tok_internal.h"
#include "tokenizers/unicode.h"

typedef enum {
    NZ_BERT,
    NZ_NFC,
    NZ_NFD,
    NZ_NFKC,
    NZ_NFKD,
    NZ_LOWERCASE,
    NZ_STRIP_ACCENTS,
    NZ_STRIP,
    NZ_REPLACE,
    NZ_PREPEND,
    NZ_NMT,
    NZ_BYTE_LEVEL,
    NZ_PRECOMPILED,
    NZ_SEQUENCE
} nz_type;

struct tk_normalizer {
    nz_type type;
    /* Bert */
    int clean_text, handle_chinese, strip_accents, lowercase;
    /* Strip */
    int strip_left, strip_right;
    /* Replace / Prepend */
    tk_pattern *pattern;
    char *content;
    size_t content_len;
    sbert_precompiled *precompiled;
    tk_normalizer **children;
    size_t n_children;
};

void tk_normalizer_free(tk_normalizer *nz) {
    if (!nz) return;
    for (size_t i = 0; i < nz->n_children; i++) tk_normalizer_free(nz->children[i]);
    free(nz->children);
    tk_pattern_free(nz->pattern);
    free(nz->content);
    if (nz->precompiled) sbert_precompiled_free(nz->precompiled);
    free(nz);
}

static sbert_status dup_str(const char *s, char **out, size_t *len, const char *name) {
    *len = strlen(s);
    *out = malloc(*len + 1);
    if (!*out) return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", name);
    memcpy(*out, s, *len + 1);
    return SBERT_OK;
}

static sbert_status parse_into(tk_normalizer *nz, const cJSON *j, const char *name,
                               const char *path) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "type");
    if (!cJSON_IsString(t))
        return sbert_fail(SBERT_ERR_FORMAT, "%s: %s.type is missing or not a string", name, path);
    const char *type = t->valuestring;
    if (!strcmp(type, "BertNormalizer")) {
        nz->type = NZ_BERT;
        SBERT_TRY(tk_json_bool(j, "clean_text", 1, &nz->clean_text, name, path));
        SBERT_TRY(tk_json_bool(j, "handle_chinese_chars", 1, &nz->handle_chinese, name, path));
        SBERT_TRY(tk_json_bool(j, "lowercase", 1, &nz->lowercase, name, path));
        /* strip_accents: null means "follow lowercase" */
        SBERT_TRY(tk_json_bool(j, "strip_accents", nz->lowercase, &nz->strip_accents, name, path));
    } else if (!strcmp(type, "NFC")) {
        nz->type = NZ_NFC;
    } else if (!strcmp(type, "NFD")) {
        nz->type = NZ_NFD;
    } else if (!strcmp(type, "NFKC")) {
        nz->type = NZ_NFKC;
    } else if (!strcmp(type, "NFKD")) {
        nz->type = NZ_NFKD;
    } else if (!strcmp(type, "Lowercase")) {
        nz->type = NZ_LOWERCASE;
    } else if (!strcmp(type, "StripAccents")) {
        nz->type = NZ_STRIP_ACCENTS;
    } else if (!strcmp(type, "Nmt")) {
        nz->type = NZ_NMT;
    } else if (!strcmp(type, "ByteLevel")) {
        nz->type = NZ_BYTE_LEVEL;
    } else if (!strcmp(type, "Strip")) {
        nz->type = NZ_STRIP;
        SBERT_TRY(tk_json_bool(j, "strip_left", 1, &nz->strip_left, name, path));
        SBERT_TRY(tk_json_bool(j, "strip_right", 1, &nz->strip_right, name, path));
    } else if (!strcmp(type, "Replace")) {
        nz->type = NZ_REPLACE;
        char sub[512];
        snprintf(sub, sizeof sub, "%s.pattern", path);
        SBERT_TRY(tk_pattern_parse(cJSON_GetObjectItemCaseSensitive(j, "pattern"), name, sub,
                                   &nz->pattern));
        const char *c;
        SBERT_TRY(tk_json_str(j, "content", 0, &c, name, path));
        SBERT_TRY(dup_str(c, &nz->content, &nz->content_len, name));
    } else if (!strcmp(type, "Prepend")) {
        nz->type = NZ_PREPEND;
        const char *c;
        SBERT_TRY(tk_json_str(j, "prepend", 0, &c, name, path));
        SBERT_TRY(dup_str(c, &nz->content, &nz->content_len, name));
    } else if (!strcmp(type, "Precompiled")) {
        nz->type = NZ_PRECOMPILED;
        const char *b64;
        SBERT_TRY(tk_json_str(j, "precompiled_charsmap", 1, &b64, name, path));
        if (b64 && *b64) {
            sbert_status st = sbert_precompiled_create_base64(b64, strlen(b64), &nz->precompiled);
            if (st != SBERT_OK) {
                sbert_error_prefix("%s: %s.precompiled_charsmap: ", name, path);
                return st;
            }
        }
    } else if (!strcmp(type, "Sequence")) {
        nz->type = NZ_SEQUENCE;
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "normalizers");
        if (!cJSON_IsArray(arr))
            return sbert_fail(SBERT_ERR_FORMAT, "%s: %s.normalizers must be a list", name, path);
        size_t n = (size_t)cJSON_GetArraySize(arr);
        nz->children = calloc(n ? n : 1, sizeof *nz->children);
        if (!nz->children) return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", name);
        size_t i = 0;
        for (const cJSON *e = arr->child; e; e = e->next, i++) {
            char sub[512];
            snprintf(sub, sizeof sub, "%s.normalizers[%zu]", path, i);
            SBERT_TRY(tk_normalizer_parse(e, name, sub, &nz->children[i]));
            nz->n_children = i + 1;
        }
    } else {
        return sbert_fail(SBERT_ERR_UNSUPPORTED, "%s: %s.type '%s' is not supported", name, path,
                          type);
    }
    return SBERT_OK;
}

sbert_status tk_normalizer_parse(const cJSON *j, const char *name, const char *path,
                                 tk_normalizer **out) {
    *out = NULL;
    if (!cJSON_IsObject(j))
        return sbert_fail(SBERT_ERR_FORMAT, "%s: %s must be an object", name, path);
    tk_normalizer *nz = calloc(1, sizeof *nz);
    if (!nz) return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", name);
    sbert_status st = parse_into(nz, j, name, path);
    if (st != SBERT_OK) {
        tk_normalizer_free(nz);
        return st;
    }
    *out = nz;
    return SBERT_OK;
}

/* ------------------------------------------------------------- running */

static sbert_status unicode_form(const char *in, size_t n, int options, tk_buf *out) {
    out->n = 0;
    if (n == 0) return tk_buf_put(out, "", 0);
    /* ASCII is invariant under every normalization form. */
    size_t k = 0;
    while (k < n && (unsigned char)in[k] < 0x80) k++;
    if (k == n) return tk_buf_put(out, in, n);
    /* Characters HF's (older) tables do not normalize are copied unchanged and
     * the text between them is normalized piece by piece. */
    int compat = (options & UTF8PROC_COMPAT) != 0;
    size_t start = 0;
    for (size_t i = k; i <= n;) {
        size_t c0 = i;
        int keep = 0;
        if (i < n) {
            uint32_t c = tk_utf8_next(in, &i);
            keep = c >= 0x80 && tk_hf_keeps(c, compat);
            if (!keep) continue;
        } else {
            i++; /* end of text */
        }
        if (c0 > start) {
            utf8proc_uint8_t *dst = NULL;
            utf8proc_ssize_t r =
                utf8proc_map((const utf8proc_uint8_t *)in + start, (utf8proc_ssize_t)(c0 - start),
                             &dst, (utf8proc_option_t)(UTF8PROC_STABLE | options));
            if (r < 0) {
                free(dst);
                return sbert_fail(SBERT_ERR_INVALID_ARG,
                                  "tokenizer: unicode normalization failed: %s", utf8proc_errmsg(r));
            }
            sbert_status st = tk_buf_put(out, (const char *)dst, (size_t)r);
            free(dst);
            SBERT_TRY(st);
        }
        if (keep) SBERT_TRY(tk_buf_put(out, in + c0, i - c0));
        start = i;
    }
    if (!out->p) return tk_buf_put(out, "", 0);
    return SBERT_OK;
}

static sbert_status run_bert(const tk_normalizer *nz, const char *in, size_t n, tk_buf *out) {
    tk_buf tmp = {0};
    sbert_status st = SBERT_OK;
    out->n = 0;
    SBERT_TRY(tk_buf_reserve(out, n + 8));
    /* 1. clean text + 2. chinese chars */
    for (size_t i = 0; i < n && st == SBERT_OK;) {
        uint32_t c = tk_utf8_next(in, &i);
        if (nz->clean_text) {
            if (c == 0 || c == 0xFFFD || (c != '\t' && c != '\n' && c != '\r' && tk_is_other(c)))
                continue;
            if (tk_is_whitespace(c)) c = ' ';
        }
        if (nz->handle_chinese && tk_is_chinese(c)) {
            if ((st = tk_buf_putcp(out, ' ')) != SBERT_OK) break;
            if ((st = tk_buf_putcp(out, c)) != SBERT_OK) break;
            st = tk_buf_putcp(out, ' ');
        } else {
            st = tk_buf_putcp(out, c);
        }
    }
    if (st != SBERT_OK) return st;
    /* 3. strip accents: NFD then drop Mn */
    if (nz->strip_accents) {
        st = unicode_form(out->p, out->n, UTF8PROC_DECOMPOSE, &tmp);
        if (st != SBERT_OK) { tk_buf_free(&tmp); return st; }
        out->n = 0;
        for (size_t i = 0; i < tmp.n && st == SBERT_OK;) {
            size_t s0 = i;
            uint32_t c = tk_utf8_next(tmp.p, &i);
            if (tk_is_mark_nonspacing(c)) continue;
            st = tk_buf_put(out, tmp.p + s0, i - s0);
        }
        tk_buf_free(&tmp);
        if (st != SBERT_OK) return st;
    }
    /* 4. lowercase, in place when it keeps the length (always for ASCII) */
    if (nz->lowercase) {
        size_t i = 0;
        for (; i < out->n; i++) {
            unsigned char c = (unsigned char)out->p[i];
            if (c >= 0x80) break;
            if (c >= 'A' && c <= 'Z') out->p[i] = (char)(c + 32);
        }
        if (i < out->n) {
            SBERT_TRY(tk_buf_put(&tmp, out->p, i));
            while (i < out->n && st == SBERT_OK) {
                uint32_t lo[2];
                uint32_t c = tk_utf8_next(out->p, &i);
                int k = tk_to_lower(c, lo);
                for (int q = 0; q < k && st == SBERT_OK; q++) st = tk_buf_putcp(&tmp, lo[q]);
            }
            if (st == SBERT_OK) {
                out->n = 0;
                st = tk_buf_put(out, tmp.p, tmp.n);
            }
            tk_buf_free(&tmp);
        }
    }
    if (st == SBERT_OK && !out->p) st = tk_buf_put(out, "", 0);
    return st;
}

static sbert_status run_one(const tk_normalizer *nz, const char *in, size_t n, tk_buf *out) {
    sbert_status st = SBERT_OK;
    out->n = 0;
    switch (nz->type) {
    case NZ_BERT: return run_bert(nz, in, n, out);
    case NZ_NFC: return unicode_form(in, n, UTF8PROC_COMPOSE, out);
    case NZ_NFD: return unicode_form(in, n, UTF8PROC_DECOMPOSE, out);
    case NZ_NFKC: return unicode_form(in, n, UTF8PROC_COMPOSE | UTF8PROC_COMPAT, out);
    case NZ_NFKD: return unicode_form(in, n, UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT, out);
    case NZ_LOWERCASE:
        SBERT_TRY(tk_buf_reserve(out, n));
        for (size_t i = 0; i < n && st == SBERT_OK;) {
            uint32_t lo[2];
            int k = tk_to_lower(tk_utf8_next(in, &i), lo);
            for (int q = 0; q < k && st == SBERT_OK; q++) st = tk_buf_putcp(out, lo[q]);
        }
        break;
    case NZ_STRIP_ACCENTS:
        SBERT_TRY(tk_buf_reserve(out, n));
        for (size_t i = 0; i < n && st == SBERT_OK;) {
            size_t s0 = i;
            if (!tk_is_mark(tk_utf8_next(in, &i))) st = tk_buf_put(out, in + s0, i - s0);
        }
        break;
    case NZ_NMT:
        SBERT_TRY(tk_buf_reserve(out, n));
        for (size_t i = 0; i < n && st == SBERT_OK;) {
            uint32_t c = tk_utf8_next(in, &i);
            if ((c >= 1 && c <= 8) || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F ||
                c == 0x8F || c == 0x9F)
                continue;
            if (c == 9 || c == 10 || c == 12 || c == 13 || c == 0x1680 ||
                (c >= 0x200B && c <= 0x200F) || c == 0x2028 || c == 0x2029 || c == 0x2581 ||
                c == 0xFEFF || c == 0xFFFD)
                c = ' ';
            st = tk_buf_putcp(out, c);
        }
        break;
    case NZ_BYTE_LEVEL: {
        /* GPT-2 bytes_to_unicode */
        SBERT_TRY(tk_buf_reserve(out, 2 * n));
        for (size_t i = 0; i < n && st == SBERT_OK; i++)
            st = tk_buf_putcp(out, tk_byte_to_cp((unsigned char)in[i]));
        break;
    }
    case NZ_STRIP: {
        size_t a = 0, b = n;
        if (nz->strip_left) {
            while (a < b) {
                size_t i = a;
                if (!tk_is_whitespace(tk_utf8_next(in, &i))) break;
                a = i;
            }
        }
        if (nz->strip_right) {
            while (b > a) {
                size_t s0 = b - 1;
                while (s0 > a && ((unsigned char)in[s0] & 0xC0) == 0x80) s0--;
                size_t i = s0;
                if (!tk_is_whitespace(tk_utf8_next(in, &i))) break;
                b = s0;
            }
        }
        return tk_buf_put(out, in + a, b - a);
    }
    case NZ_REPLACE: {
        tk_range *m = NULL;
        size_t nm = 0, cap = 0, prev = 0;
        st = tk_pattern_find(nz->pattern, in, n, &m, &nm, &cap);
        for (size_t k = 0; k < nm && st == SBERT_OK; k++) {
            st = tk_buf_put(out, in + prev, m[k].start - prev);
            if (st == SBERT_OK) st = tk_buf_put(out, nz->content, nz->content_len);
            prev = m[k].end;
        }
        if (st == SBERT_OK) st = tk_buf_put(out, in + prev, n - prev);
        free(m);
        return st;
    }
    case NZ_PREPEND:
        if (n > 0) SBERT_TRY(tk_buf_put(out, nz->content, nz->content_len));
        return tk_buf_put(out, in, n);
    case NZ_PRECOMPILED: {
        if (!nz->precompiled) return tk_buf_put(out, in, n);
        char *res = NULL;
        size_t rlen = 0;
        SBERT_TRY(sbert_precompiled_normalize(nz->precompiled, in, n, &res, &rlen));
        st = tk_buf_put(out, res, rlen);
        free(res);
        return st;
    }
    case NZ_SEQUENCE: {
        tk_buf a = {0};
        SBERT_TRY(tk_buf_put(out, in, n));
        for (size_t k = 0; k < nz->n_children && st == SBERT_OK; k++) {
            st = run_one(nz->children[k], out->p, out->n, &a);
            if (st == SBERT_OK) {
                tk_buf t = *out;
                *out = a;
                a = t;
            }
        }
        tk_buf_free(&a);
        return st;
    }
    }
    if (st == SBERT_OK && !out->p) st = tk_buf_put(out, "", 0);
    return st;
}

sbert_status tk_normalize(const tk_normalizer *nz, const char *in, size_t n, tk_buf *out) {
    return run_one(nz, in, n, out);
}
