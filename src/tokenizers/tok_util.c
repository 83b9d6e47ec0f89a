/*
 * tokenizers/tok_util.c -- the small containers the tokenizer pipeline is
 * built on: growable byte/id buffers, piece lists, an open-addressing
 * string->id hash table for vocabularies, typed JSON field readers whose
 * errors name the JSON path, and Split/Replace patterns (literal strings, or
 * regexes compiled with PCRE2 in UTF+UCP mode, iterated like Oniguruma's
 * find_iter in HF tokenizers).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "tokenizers/tok_internal.h"
#include "tokenizers/unicode.h"

/* ------------------------------------------------------------- buffers */

sbert_status tk_buf_reserve(tk_buf *b, size_t extra) {
    if (b->n + extra + 1 <= b->cap) return SBERT_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->n + extra + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) return sbert_fail(SBERT_ERR_NOMEM, "tokenizer: out of memory (%zu bytes)", cap);
    b->p = p;
    b->cap = cap;
    return SBERT_OK;
}

sbert_status tk_buf_put(tk_buf *b, const char *s, size_t n) {
    SBERT_TRY(tk_buf_reserve(b, n));
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return SBERT_OK;
}

sbert_status tk_buf_putcp(tk_buf *b, uint32_t cp) {
    SBERT_TRY(tk_buf_reserve(b, 4));
    b->n += tk_utf8_encode(cp, b->p + b->n);
    b->p[b->n] = '\0';
    return SBERT_OK;
}

void tk_buf_free(tk_buf *b) {
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

sbert_status tk_ids_push(tk_ids *a, int32_t id) {
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        int32_t *v = realloc(a->v, cap * sizeof *v);
        if (!v) return sbert_fail(SBERT_ERR_NOMEM, "tokenizer: out of memory");
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = id;
    return SBERT_OK;
}

void tk_ids_free(tk_ids *a) {
    free(a->v);
    a->v = NULL;
    a->n = a->cap = 0;
}

sbert_status tk_pieces_add(tk_pieces *p, const char *s, size_t n, size_t orig) {
    if (n == 0) return SBERT_OK;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 32;
        tk_span *v = realloc(p->v, cap * sizeof *v);
        if (!v) return sbert_fail(SBERT_ERR_NOMEM, "tokenizer: out of memory");
        p->v = v;
        p->cap = cap;
    }
    size_t off = p->text.n;
    SBERT_TRY(tk_buf_put(&p->text, s, n));
    p->v[p->n].off = off;
    p->v[p->n].len = n;
    p->v[p->n].orig = orig;
    p->n++;
    return SBERT_OK;
}

void tk_pieces_clear(tk_pieces *p) {
    p->n = 0;
    p->text.n = 0;
}

void tk_pieces_free(tk_pieces *p) {
    tk_buf_free(&p->text);
    free(p->v);
    p->v = NULL;
    p->n = p->cap = 0;
}

/* ---------------------------------------------------------- hash table */

uint32_t tk_hash(const char *s, size_t n) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

static sbert_status vocab_grow(tk_vocab *v) {
    size_t cap = v->cap ? v->cap * 2 : 1024;
    tk_vent *slots = malloc(cap * sizeof *slots);
    if (!slots) return sbert_fail(SBERT_ERR_NOMEM, "tokenizer: out of memory");
    for (size_t i = 0; i < cap; i++) slots[i].id = -1;
    for (size_t i = 0; i < v->cap; i++) {
        if (v->slots[i].id < 0) continue;
        size_t j = v->slots[i].hash & (cap - 1);
        while (slots[j].id >= 0) j = (j + 1) & (cap - 1);
        slots[j] = v->slots[i];
    }
    free(v->slots);
    v->slots = slots;
    v->cap = cap;
    return SBERT_OK;
}

sbert_status tk_vocab_put(tk_vocab *v, const char *key, size_t len, int32_t id) {
    if (id < 0) return sbert_fail(SBERT_ERR_FORMAT, "tokenizer: negative token id %d", (int)id);
    if (len > 0xFFFFFFFFu || v->keys.n + len > 0xFFFFFFFFu)
        return sbert_fail(SBERT_ERR_FORMAT, "tokenizer: vocabulary too large");
    if ((v->n + 1) * 2 > v->cap) SBERT_TRY(vocab_grow(v));
    uint32_t h = tk_hash(key, len);
    size_t j = h & (v->cap - 1);
    while (v->slots[j].id >= 0) {
        tk_vent *e = &v->slots[j];
        if (e->hash == h && e->len == len && memcmp(v->keys.p + e->off, key, len) == 0) {
            e->id = id;
            return SBERT_OK;
        }
        j = (j + 1) & (v->cap - 1);
    }
    size_t off = v->keys.n;
    SBERT_TRY(tk_buf_put(&v->keys, key, len));
    v->slots[j].off = (uint32_t)off;
    v->slots[j].len = (uint32_t)len;
    v->slots[j].hash = h;
    v->slots[j].id = id;
    v->n++;
    return SBERT_OK;
}

int32_t tk_vocab_get(const tk_vocab *v, const char *key, size_t len) {
    if (!v->cap) return -1;
    uint32_t h = tk_hash(key, len);
    size_t j = h & (v->cap - 1);
    while (v->slots[j].id >= 0) {
        const tk_vent *e = &v->slots[j];
        if (e->hash == h && e->len == len && memcmp(v->keys.p + e->off, key, len) == 0)
            return e->id;
        j = (j + 1) & (v->cap - 1);
    }
    return -1;
}

void tk_vocab_free(tk_vocab *v) {
    free(v->slots);
    tk_buf_free(&v->keys);
    memset(v, 0, sizeof *v);
}

sbert_status tk_vocab_from_json(const cJSON *j, const char *name, const char *path, tk_vocab *v) {
    if (!cJSON_IsObject(j))
        return sbert_fail(SBERT_ERR_FORMAT, "%s: %s must be an object {token: id}", name, path);
    for (const cJSON *e = j->child; e; e = e->next) {
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > 2147483647.0 ||
            e->valuedouble != (double)(int32_t)e->valuedouble)
            return sbert_fail(SBERT_ERR_FORMAT,
                              "%s: %s['%s'] must be a non-negative integer token id", name, path,
                              e->string ? e->string : "?");
        SBERT_TRY(tk_vocab_put(v, e->string, strlen(e->string), (int32_t)e->valuedouble));
    }
    return SBERT_OK;
}

/* --------------------------------------------------------- JSON helpers */

sbert_status tk_json_bool(const cJSON *o, const char *key, int dflt, int *out, const char *name,
                          const char *path) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) { *out = dflt; return SBERT_OK; }
    if (!cJSON_IsBool(v))
        return sbert_fail(SBERT_ERR_FORMAT, "%s: %s.%s must be true or false", name, path, key);
    *out = cJSON_IsTrue(v);
    return SBERT_OK;
}

sbert_status tk_json_str(const cJSON *o, const char *key, int optional, const char **out,
                         const char *name, const char *path) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) {
        *out = NULL;
        if (optional) return SBERT_OK;
        return sbert_fail(SBERT_ERR_FORMAT, "%s: %s.%s is missing", name, path, key);
    }
    if (!cJSON_IsString(v))
        return sbert_fail(SBERT_ERR_FORMAT, "%s: %s.%s must be a string", name, path, key);
    *out = v->valuestring;
    return SBERT_OK;
}

sbert_status tk_json_int(const cJSON *o, const char *key, long dflt, long *out, const char *name,
                         const char *path) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) { *out = dflt; return SBERT_OK; }
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(long)v->valuedouble)
        return sbert_fail(SBERT_ERR_FORMAT, "%s: %s.%s must be an integer", name, path, key);
    *out = (long)v->valuedouble;
    return SBERT_OK;
}

/* ------------------------------------------------------------ patterns */

struct tk_pattern {
    char *literal; /* String pattern (NULL for a regex) */
    size_t literal_len;
    pcre2_code *re;
};

sbert_status tk_pattern_parse(const cJSON *j, const char *name, const char *path,
                              tk_pattern **out) {
    *out = NULL;
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "String");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "Regex");
    if (!cJSON_IsObject(j) || (!cJSON_IsString(s) && !cJSON_IsString(r)))
        return sbert_fail(SBERT_ERR_FORMAT,
                          "%s: %s must be {\"String\": ...} or {\"Regex\": ...}", name, path);
    tk_pattern *p = calloc(1, sizeof *p);
    if (!p) return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", name);
    if (cJSON_IsString(s)) {
        p->literal_len = strlen(s->valuestring);
        p->literal = malloc(p->literal_len + 1);
        if (!p->literal) { free(p); return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", name); }
        memcpy(p->literal, s->valuestring, p->literal_len + 1);
    } else {
        int err;
        PCRE2_SIZE eoff;
        p->re = pcre2_compile((PCRE2_SPTR)r->valuestring, PCRE2_ZERO_TERMINATED,
                              PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &err, &eoff, NULL);
        if (!p->re) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(err, msg, sizeof msg);
            free(p);
            return sbert_fail(SBERT_ERR_UNSUPPORTED, "%s: %s.Regex '%s' does not compile at offset %zu: %s",
                              name, path, r->valuestring, (size_t)eoff, (const char *)msg);
        }
        pcre2_jit_compile(p->re, PCRE2_JIT_COMPLETE); /* optional speed-up */
    }
    *out = p;
    return SBERT_OK;
}

static sbert_status push_range(tk_range **m, size_t *nm, size_t *cap, size_t a, size_t b) {
    if (*nm == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        tk_range *v = realloc(*m, c * sizeof *v);
        if (!v) return sbert_fail(SBERT_ERR_NOMEM, "tokenizer: out of memory");
        *m = v;
        *cap = c;
    }
    (*m)[*nm].start = a;
    (*m)[*nm].end = b;
    (*nm)++;
    return SBERT_OK;
}

sbert_status tk_pattern_find(const tk_pattern *p, const char *s, size_t n, tk_range **m,
                             size_t *nm, size_t *cap) {
    *nm = 0;
    if (p->literal) {
        if (p->literal_len == 0) return SBERT_OK;
        size_t i = 0;
        while (i + p->literal_len <= n) {
            const char *f = memmem(s + i, n - i, p->literal, p->literal_len);
            if (!f) break;
            size_t a = (size_t)(f - s);
            SBERT_TRY(push_range(m, nm, cap, a, a + p->literal_len));
            i = a + p->literal_len;
        }
        return SBERT_OK;
    }
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(p->re, NULL);
    if (!md) return sbert_fail(SBERT_ERR_NOMEM, "tokenizer: out of memory");
    size_t last_end = 0;
    int have_last = 0;
    size_t last_match_end = 0;
    sbert_status st = SBERT_OK;
    while (last_end <= n) {
        int rc = pcre2_match(p->re, (PCRE2_SPTR)s, n, last_end, PCRE2_NO_UTF_CHECK, md, NULL);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT) /* deep backtracking: use the interpreter */
            rc = pcre2_match(p->re, (PCRE2_SPTR)s, n, last_end, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT,
                             md, NULL);
        if (rc < 0) {
            if (rc != PCRE2_ERROR_NOMATCH) {
                PCRE2_UCHAR msg[256];
                pcre2_get_error_message(rc, msg, sizeof msg);
                st = sbert_fail(SBERT_ERR_UNSUPPORTED, "tokenizer: regex match failed: %s",
                                (const char *)msg);
            }
            break;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t a = ov[0], b = ov[1];
        if (a == b && have_last && last_match_end == b) {
            /* no empty match right after the previous match: step one char */
            if (last_end >= n) break;
            last_end += tk_utf8_len((unsigned char)s[last_end]);
            continue;
        }
        last_end = b;
        last_match_end = b;
        have_last = 1;
        if ((st = push_range(m, nm, cap, a, b)) != SBERT_OK) break;
    }
    pcre2_match_data_free(md);
    return st;
}

void tk_pattern_free(tk_pattern *p) {
    if (!p) return;
    free(p->literal);
    if (p->re) pcre2_code_free(p->re);
    free(p);
}
