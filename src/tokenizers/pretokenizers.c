/*
 * tokenizers/pretokenizers.c -- the tokenizer.json "pre_tokenizer"
 * components: BertPreTokenizer, Whitespace, WhitespaceSplit, ByteLevel,
 * Metaspace, Split, Punctuation, Digits, CharDelimiterSplit and Sequence.
 *
 * A pre-tokenizer turns each piece of text into smaller pieces ("words").
 * All splitting goes through one place, split_apply(), which is a port of
 * NormalizedString::split in HF tokenizers: the piece is cut into a list of
 * (range, is_match) covering it, then the SplitDelimiterBehavior (Removed,
 * Isolated, MergedWithPrevious, MergedWithNext, Contiguous) folds that list
 * into the output pieces; empty pieces are dropped.
 *
 * The GPT-2 regex of ByteLevel
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * is matched by hand (gpt2_next) rather than through a regex engine: it is
 * the hot loop of every byte-level BPE tokenizer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "base/error.h"
#include "tokenizers/tok_internal.h"
#include "tokenizers/unicode.h"

typedef enum { B_REMOVED, B_ISOLATED, B_MERGED_PREV, B_MERGED_NEXT, B_CONTIGUOUS } behavior;

typedef enum {
    PT_BERT,
    PT_WHITESPACE,
    PT_WHITESPACE_SPLIT,
    PT_BYTE_LEVEL,
    PT_METASPACE,
    PT_SPLIT,
    PT_PUNCTUATION,
    PT_DIGITS,
    PT_DELIMITER,
    PT_SEQUENCE
} pt_type;

typedef enum { PREPEND_ALWAYS, PREPEND_FIRST, PREPEND_NEVER } prepend_scheme;

struct tk_pretok {
    pt_type type;
    behavior behavior;
    int add_prefix_space, use_regex; /* ByteLevel */
    uint32_t replacement;            /* Metaspace */
    char rep_utf8[4];
    size_t rep_len;
    prepend_scheme prepend;
    int split;
    int invert;                      /* Split */
    tk_pattern *pattern;
    int individual_digits;           /* Digits */
    uint32_t delimiter;              /* CharDelimiterSplit */
    tk_pretok **children;
    size_t n_children;
};

void tk_pretok_free(tk_pretok *pt) {
    if (!pt) return;
    for (size_t i = 0; i < pt->n_children; i++) tk_pretok_free(pt->children[i]);
    free(pt->children);
    tk_pattern_free(pt->pattern);
    free(pt);
}

static sbert_status parse_behavior(const cJSON *j, const char *name, const char *path,
                                   behavior dflt, behavior *out) {
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(j, "behavior");
    if (!b || cJSON_IsNull(b)) { *out = dflt; return SBERT_OK; }
    const char *s = cJSON_IsString(b) ? b->valuestring : "";
    if (!strcmp(s, "Removed")) *out = B_REMOVED;
    else if (!strcmp(s, "Isolated")) *out = B_ISOLATED;
    else if (!strcmp(s, "MergedWithPrevious")) *out = B_MERGED_PREV;
    else if (!strcmp(s, "MergedWithNext")) *out = B_MERGED_NEXT;
    else if (!strcmp(s, "Contiguous")) *out = B_CONTIGUOUS;
    else
        return sbert_fail(SBERT_ERR_FORMAT,
                          "%s: %s.behavior '%s' is not one of Removed, Isolated, "
                          "MergedWithPrevious, MergedWithNext, Contiguous",
                          name, path, s);
    return SBERT_OK;
}

/* One UTF-8 character string -> its code point (error if not exactly one char). */
static sbert_status one_char(const char *s, const char *name, const char *path, const char *key,
                             uint32_t *out) {
    size_t n = strlen(s), bad, i = 0;
    if (n == 0 || !tk_utf8_valid(s, n, &bad))
        return sbert_fail(SBERT_ERR_FORMAT, "%s: %s.%s must be one character", name, path, key);
    *out = tk_utf8_next(s, &i);
    if (i != n)
        return sbert_fail(SBERT_ERR_FORMAT, "%s: %s.%s must be one character, got '%s'", name,
                          path, key, s);
    return SBERT_OK;
}

static sbert_status parse_into(tk_pretok *pt, const cJSON *j, const char *name, const char *path) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "type");
    if (!cJSON_IsString(t))
        return sbert_fail(SBERT_ERR_FORMAT, "%s: %s.type is missing or not a string", name, path);
    const char *type = t->valuestring;
    if (!strcmp(type, "BertPreTokenizer")) {
        pt->type = PT_BERT;
    } else if (!strcmp(type, "Whitespace")) {
        pt->type = PT_WHITESPACE;
    } else if (!strcmp(type, "WhitespaceSplit")) {
        pt->type = PT_WHITESPACE_SPLIT;
    } else if (!strcmp(type, "ByteLevel")) {
        pt->type = PT_BYTE_LEVEL;
        SBERT_TRY(tk_json_bool(j, "add_prefix_space", 1, &pt->add_prefix_space, name, path));
        SBERT_TRY(tk_json_bool(j, "use_regex", 1, &pt->use_regex, name, path));
    } else if (!strcmp(type, "Metaspace")) {
        pt->type = PT_METASPACE;
        const char *rep, *scheme;
        SBERT_TRY(tk_json_str(j, "replacement", 0, &rep, name, path));
        SBERT_TRY(one_char(rep, name, path, "replacement", &pt->replacement));
        pt->rep_len = tk_utf8_encode(pt->replacement, pt->rep_utf8);
        SBERT_TRY(tk_json_str(j, "prepend_scheme", 1, &scheme, name, path));
        pt->prepend = PREPEND_ALWAYS;
        if (scheme) {
            if (!strcmp(scheme, "always")) pt->prepend = PREPEND_ALWAYS;
            else if (!strcmp(scheme, "first")) pt->prepend = PREPEND_FIRST;
            else if (!strcmp(scheme, "never")) pt->prepend = PREPEND_NEVER;
            else
                return sbert_fail(SBERT_ERR_FORMAT,
                                  "%s: %s.prepend_scheme '%s' is not always, first or never",
                                  name, path, scheme);
        }
        int aps;
        SBERT_TRY(tk_json_bool(j, "add_prefix_space", -1, &aps, name, path));
        if (aps == 0) {
            if (scheme && pt->prepend != PREPEND_NEVER)
                return sbert_fail(SBERT_ERR_FORMAT,
                                  "%s: %s.add_prefix_space does not match prepend_scheme", name,
                                  path);
            pt->prepend = PREPEND_NEVER;
        }
        SBERT_TRY(tk_json_bool(j, "split", 1, &pt->split, name, path));
    } else if (!strcmp(type, "Split")) {
        pt->type = PT_SPLIT;
        char sub[512];
        snprintf(sub, sizeof sub, "%s.pattern", path);
        SBERT_TRY(tk_pattern_parse(cJSON_GetObjectItemCaseSensitive(j, "pattern"), name, sub,
                                   &pt->pattern));
        if (!cJSON_GetObjectItemCaseSensitive(j, "behavior"))
            return sbert_fail(SBERT_ERR_FORMAT, "%s: %s.behavior is missing", name, path);
        SBERT_TRY(parse_behavior(j, name, path, B_REMOVED, &pt->behavior));
        SBERT_TRY(tk_json_bool(j, "invert", 0, &pt->invert, name, path));
    } else if (!strcmp(type, "Punctuation")) {
        pt->type = PT_PUNCTUATION;
        SBERT_TRY(parse_behavior(j, name, path, B_ISOLATED, &pt->behavior));
    } else if (!strcmp(type, "Digits")) {
        pt->type = PT_DIGITS;
        SBERT_TRY(tk_json_bool(j, "individual_digits", 0, &pt->individual_digits, name, path));
    } else if (!strcmp(type, "CharDelimiterSplit")) {
        pt->type = PT_DELIMITER;
        const char *d;
        SBERT_TRY(tk_json_str(j, "delimiter", 0, &d, name, path));
        SBERT_TRY(one_char(d, name, path, "delimiter", &pt->delimiter));
    } else if (!strcmp(type, "Sequence")) {
        pt->type = PT_SEQUENCE;
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "pretokenizers");
        if (!cJSON_IsArray(arr))
            return sbert_fail(SBERT_ERR_FORMAT, "%s: %s.pretokenizers must be a list", name, path);
        size_t n = (size_t)cJSON_GetArraySize(arr);
        pt->children = calloc(n ? n : 1, sizeof *pt->children);
        if (!pt->children) return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", name);
        size_t i = 0;
        for (const cJSON *e = arr->child; e; e = e->next, i++) {
            char sub[512];
            snprintf(sub, sizeof sub, "%s.pretokenizers[%zu]", path, i);
            SBERT_TRY(tk_pretok_parse(e, name, sub, &pt->children[i]));
            pt->n_children = i + 1;
        }
    } else {
        return sbert_fail(SBERT_ERR_UNSUPPORTED, "%s: %s.type '%s' is not supported", name, path,
                          type);
    }
    return SBERT_OK;
}

sbert_status tk_pretok_parse(const cJSON *j, const char *name, const char *path, tk_pretok **out) {
    *out = NULL;
    if (!cJSON_IsObject(j))
        return sbert_fail(SBERT_ERR_FORMAT, "%s: %s must be an object", name, path);
    tk_pretok *pt = calloc(1, sizeof *pt);
    if (!pt) return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", name);
    sbert_status st = parse_into(pt, j, name, path);
    if (st != SBERT_OK) {
        tk_pretok_free(pt);
        return st;
    }
    *out = pt;
    return SBERT_OK;
}

/* ---------------------------------------------------------- splitting */

typedef struct {
    size_t start, end;
    int is_match;
} match;

typedef struct {
    match *v;
    size_t n, cap;
} matches;

static sbert_status m_push(matches *m, size_t a, size_t b, int is_match) {
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 32;
        match *v = realloc(m->v, cap * sizeof *v);
        if (!v) return sbert_fail(SBERT_ERR_NOMEM, "tokenizer: out of memory");
        m->v = v;
        m->cap = cap;
    }
    m->v[m->n].start = a;
    m->v[m->n].end = b;
    m->v[m->n].is_match = is_match;
    m->n++;
    return SBERT_OK;
}

/* Fold `m` (covering s[0..n)) with the behavior and append the resulting
 * pieces to out. m->v is rewritten. */
static sbert_status split_apply(const char *s, size_t orig, matches *m, behavior b,
                                tk_pieces *out) {
    size_t k = 0; /* output count, folded in place */
    match *v = m->v;
    switch (b) {
    case B_ISOLATED:
        for (size_t i = 0; i < m->n; i++) v[i].is_match = 0;
        k = m->n;
        break;
    case B_REMOVED:
        k = m->n; /* is_match pieces are dropped below */
        break;
    case B_CONTIGUOUS: {
        int prev = 0;
        for (size_t i = 0; i < m->n; i++) {
            int im = v[i].is_match;
            if (im == prev && k > 0) {
                v[k - 1].end = v[i].end;
            } else {
                v[k] = v[i];
                v[k].is_match = 0;
                k++;
            }
            prev = im;
        }
        break;
    }
    case B_MERGED_PREV: {
        int prev = 0;
        for (size_t i = 0; i < m->n; i++) {
            int im = v[i].is_match;
            if (im && !prev && k > 0) {
                v[k - 1].end = v[i].end;
            } else {
                v[k] = v[i];
                v[k].is_match = 0;
                k++;
            }
            prev = im;
        }
        break;
    }
    case B_MERGED_NEXT: {
        /* fold from the right, output kept at the end of the array */
        int prev = 0;
        size_t top = m->n; /* v[top..n) is the (reversed) accumulator */
        for (size_t ii = m->n; ii-- > 0;) {
            match cur = v[ii];
            if (cur.is_match && !prev && top < m->n) {
                v[top].start = cur.start;
            } else {
                top--;
                v[top] = cur;
                v[top].is_match = 0;
            }
            prev = cur.is_match;
        }
        for (size_t i = top; i < m->n; i++) v[k++] = v[i];
        break;
    }
    }
    for (size_t i = 0; i < k; i++) {
        if (v[i].is_match) continue;
        SBERT_TRY(tk_pieces_add(out, s + v[i].start, v[i].end - v[i].start, orig + v[i].start));
    }
    return SBERT_OK;
}

typedef int (*char_pred)(uint32_t c, const tk_pretok *pt);

static int pred_ws(uint32_t c, const tk_pretok *pt) { (void)pt; return tk_is_whitespace(c); }
static int pred_punct(uint32_t c, const tk_pretok *pt) { (void)pt; return tk_is_punctuation(c); }
static int pred_digit(uint32_t c, const tk_pretok *pt) { (void)pt; return tk_is_numeric(c); }
static int pred_delim(uint32_t c, const tk_pretok *pt) { return c == pt->delimiter; }
static int pred_rep(uint32_t c, const tk_pretok *pt) { return c == pt->replacement; }

/* Pattern for a char predicate, as HF's `impl Pattern for Fn(char) -> bool`. */
static sbert_status pred_matches(const char *s, size_t n, char_pred p, const tk_pretok *pt,
                                 matches *m) {
    m->n = 0;
    size_t last = 0;
    for (size_t i = 0; i < n;) {
        size_t b = i;
        uint32_t c = tk_utf8_next(s, &i);
        if (p(c, pt)) {
            if (last < b) SBERT_TRY(m_push(m, last, b, 0));
            SBERT_TRY(m_push(m, b, i, 1));
            last = i;
        }
    }
    if (n > last) SBERT_TRY(m_push(m, last, n, 0));
    return SBERT_OK;
}

static sbert_status split_pred(const tk_pieces *in, char_pred p, const tk_pretok *pt, behavior b,
                               matches *m, tk_pieces *out) {
    for (size_t k = 0; k < in->n; k++) {
        const char *s = in->text.p + in->v[k].off;
        SBERT_TRY(pred_matches(s, in->v[k].len, p, pt, m));
        SBERT_TRY(split_apply(s, in->v[k].orig, m, b, out));
    }
    return SBERT_OK;
}

/* ------------------------------------------------------------ GPT-2 regex */

static inline int is_L(uint32_t c) {
    if (c < 0x80) return (c | 32) >= 'a' && (c | 32) <= 'z';
    int k = utf8proc_category((utf8proc_int32_t)c);
    return k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO;
}
static inline int is_N(uint32_t c) { return tk_is_numeric(c); }
static inline int is_S(uint32_t c) { return tk_is_whitespace(c); }

static uint32_t peek(const char *s, size_t n, size_t i, size_t *next) {
    if (i >= n) { *next = i; return 0xFFFFFFFFu; }
    *next = i;
    return tk_utf8_next(s, next);
}

/* End of the match starting at i (there is always one: \s+ or a char class). */
static size_t gpt2_next(const char *s, size_t n, size_t i) {
    size_t j;
    uint32_t c = peek(s, n, i, &j);
    if (c == '\'' && j < n) {
        char a = s[j], b = j + 1 < n ? s[j + 1] : 0;
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return j + 1;
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
            return j + 2;
    }
    uint32_t d = c;
    size_t after = j;
    if (c == ' ') { /* optional leading space */
        size_t j2;
        uint32_t c2 = peek(s, n, j, &j2);
        if (c2 != 0xFFFFFFFFu && !is_S(c2)) {
            d = c2;
            after = j2;
        }
    }
    if (d != 0xFFFFFFFFu && !is_S(d)) {
        int cls = is_L(d) ? 1 : is_N(d) ? 2 : 3;
        size_t e = after, nx;
        for (;;) {
            uint32_t x = peek(s, n, e, &nx);
            if (x == 0xFFFFFFFFu) break;
            int ok = cls == 1 ? is_L(x) : cls == 2 ? is_N(x) : (!is_S(x) && !is_L(x) && !is_N(x));
            if (!ok) break;
            e = nx;
        }
        return e;
    }
    /* whitespace run */
    size_t e = i, last_start = i, nx;
    int count = 0;
    for (;;) {
        uint32_t x = peek(s, n, e, &nx);
        if (x == 0xFFFFFFFFu || !is_S(x)) break;
        last_start = e;
        e = nx;
        count++;
    }
    if (e >= n) return e;            /* \s+(?!\S) at end of text */
    if (count >= 2) return last_start; /* leave one space for the next word */
    return e;                        /* \s+ */
}

static sbert_status byte_level(const tk_pretok *pt, tk_pieces *in, tk_pieces *out, matches *m,
                               tk_buf *tmp, tk_buf *map) {
    for (size_t k = 0; k < in->n; k++) {
        const char *s = in->text.p + in->v[k].off;
        size_t n = in->v[k].len;
        if (pt->add_prefix_space && s[0] != ' ') {
            tmp->n = 0;
            SBERT_TRY(tk_buf_put(tmp, " ", 1));
            SBERT_TRY(tk_buf_put(tmp, s, n));
            s = tmp->p;
            n = tmp->n;
        }
        m->n = 0;
        if (pt->use_regex) {
            for (size_t i = 0; i < n;) {
                size_t e = gpt2_next(s, n, i);
                SBERT_TRY(m_push(m, i, e, 0));
                i = e;
            }
        } else {
            SBERT_TRY(m_push(m, 0, n, 0));
        }
        for (size_t q = 0; q < m->n; q++) {
            /* map every byte to the byte-level alphabet */
            size_t a = m->v[q].start, b = m->v[q].end;
            if (a == b) continue;
            map->n = 0;
            SBERT_TRY(tk_buf_reserve(map, 2 * (b - a)));
            for (size_t i = a; i < b; i++)
                map->n += tk_utf8_encode(tk_byte_to_cp((unsigned char)s[i]), map->p + map->n);
            SBERT_TRY(tk_pieces_add(out, map->p, map->n, in->v[k].orig + a));
        }
    }
    return SBERT_OK;
}

static sbert_status metaspace(const tk_pretok *pt, tk_pieces *in, tk_pieces *out, matches *m,
                              tk_buf *tmp) {
    for (size_t k = 0; k < in->n; k++) {
        const char *s = in->text.p + in->v[k].off;
        size_t n = in->v[k].len;
        tmp->n = 0;
        int starts_rep = n >= pt->rep_len && !memcmp(s, pt->rep_utf8, pt->rep_len);
        /* a leading ' ' becomes the replacement too */
        if (n > 0 && s[0] == ' ') starts_rep = 1;
        if (!starts_rep && (pt->prepend == PREPEND_ALWAYS ||
                            (pt->prepend == PREPEND_FIRST && in->v[k].orig == 0)))
            SBERT_TRY(tk_buf_put(tmp, pt->rep_utf8, pt->rep_len));
        for (size_t i = 0; i < n; i++) {
            if (s[i] == ' ')
                SBERT_TRY(tk_buf_put(tmp, pt->rep_utf8, pt->rep_len));
            else
                SBERT_TRY(tk_buf_put(tmp, s + i, 1));
        }
        if (pt->split) {
            SBERT_TRY(pred_matches(tmp->p, tmp->n, pred_rep, pt, m));
            SBERT_TRY(split_apply(tmp->p, in->v[k].orig, m, B_MERGED_NEXT, out));
        } else {
            SBERT_TRY(tk_pieces_add(out, tmp->p, tmp->n, in->v[k].orig));
        }
    }
    return SBERT_OK;
}

static sbert_status whitespace(tk_pieces *in, tk_pieces *out) {
    /* \w+|[^\w\s]+ ; everything else (whitespace) is removed */
    for (size_t k = 0; k < in->n; k++) {
        const char *s = in->text.p + in->v[k].off;
        size_t n = in->v[k].len;
        size_t i = 0;
        while (i < n) {
            size_t j = i;
            uint32_t c = tk_utf8_next(s, &j);
            if (tk_is_whitespace(c)) { i = j; continue; }
            int w = tk_is_word(c);
            size_t e = j;
            while (e < n) {
                size_t nx = e;
                uint32_t x = tk_utf8_next(s, &nx);
                if (w ? !tk_is_word(x) : (tk_is_word(x) || tk_is_whitespace(x))) break;
                e = nx;
            }
            SBERT_TRY(tk_pieces_add(out, s + i, e - i, in->v[k].orig + i));
            i = e;
        }
    }
    return SBERT_OK;
}

static sbert_status split_pattern(const tk_pretok *pt, tk_pieces *in, tk_pieces *out, matches *m) {
    tk_range *r = NULL;
    size_t nr = 0, cap = 0;
    sbert_status st = SBERT_OK;
    for (size_t k = 0; k < in->n && st == SBERT_OK; k++) {
        const char *s = in->text.p + in->v[k].off;
        size_t n = in->v[k].len;
        if ((st = tk_pattern_find(pt->pattern, s, n, &r, &nr, &cap)) != SBERT_OK) break;
        m->n = 0;
        size_t prev = 0;
        for (size_t q = 0; q < nr && st == SBERT_OK; q++) {
            if (prev != r[q].start) st = m_push(m, prev, r[q].start, pt->invert);
            if (st == SBERT_OK) st = m_push(m, r[q].start, r[q].end, !pt->invert);
            prev = r[q].end;
        }
        if (st == SBERT_OK && prev != n) st = m_push(m, prev, n, pt->invert);
        if (st == SBERT_OK) st = split_apply(s, in->v[k].orig, m, pt->behavior, out);
    }
    free(r);
    return st;
}

static sbert_status run(const tk_pretok *pt, tk_pieces *in, tk_pieces *out, matches *m,
                        tk_buf *tmp) {
    tk_pieces_clear(out);
    switch (pt->type) {
    case PT_BERT: {
        tk_pieces mid = {0};
        sbert_status st = split_pred(in, pred_ws, pt, B_REMOVED, m, &mid);
        if (st == SBERT_OK) st = split_pred(&mid, pred_punct, pt, B_ISOLATED, m, out);
        tk_pieces_free(&mid);
        return st;
    }
    case PT_WHITESPACE_SPLIT: return split_pred(in, pred_ws, pt, B_REMOVED, m, out);
    case PT_PUNCTUATION: return split_pred(in, pred_punct, pt, pt->behavior, m, out);
    case PT_DIGITS:
        return split_pred(in, pred_digit, pt, pt->individual_digits ? B_ISOLATED : B_CONTIGUOUS,
                          m, out);
    case PT_DELIMITER: return split_pred(in, pred_delim, pt, B_REMOVED, m, out);
    case PT_WHITESPACE: return whitespace(in, out);
    case PT_BYTE_LEVEL: {
        tk_buf map = {0};
        sbert_status st = byte_level(pt, in, out, m, tmp, &map);
        tk_buf_free(&map);
        return st;
    }
    case PT_METASPACE: return metaspace(pt, in, out, m, tmp);
    case PT_SPLIT: return split_pattern(pt, in, out, m);
    case PT_SEQUENCE: {
        tk_pieces a = {0};
        sbert_status st = SBERT_OK;
        /* out <- in, then ping-pong */
        for (size_t k = 0; k < in->n && st == SBERT_OK; k++)
            st = tk_pieces_add(out, in->text.p + in->v[k].off, in->v[k].len, in->v[k].orig);
        for (size_t c = 0; c < pt->n_children && st == SBERT_OK; c++) {
            st = run(pt->children[c], out, &a, m, tmp);
            if (st == SBERT_OK) {
                tk_pieces t = *out;
                *out = a;
                a = t;
            }
        }
        tk_pieces_free(&a);
        return st;
    }
    }
    return sbert_fail(SBERT_ERR_INTERNAL, "tokenizer: bad pre-tokenizer type");
}

int tk_pretok_uses_first(const tk_pretok *pt) {
    if (!pt) return 0;
    if (pt->type == PT_METASPACE) return pt->prepend == PREPEND_FIRST;
    for (size_t i = 0; i < pt->n_children; i++)
        if (tk_pretok_uses_first(pt->children[i])) return 1;
    return 0;
}

sbert_status tk_pretokenize(const tk_pretok *pt, tk_pieces *in, tk_pieces *out) {
    matches m = {0};
    tk_buf tmp = {0};
    sbert_status st = run(pt, in, out, &m, &tmp);
    free(m.v);
    tk_buf_free(&tmp);
    return st;
}
