/*
 * tokenizers/bpe.c -- the BPE model (GPT-2 / RoBERTa / ModernBERT style and
 * classic BPE with continuing_subword_prefix / end_of_word_suffix).
 *
 * Loading: merges come as ["a b", ...] (legacy) or [["a", "b"], ...]; merge
 * rank = list index. Each merge (a, b) is stored in a hash table keyed by the
 * id pair, giving (rank, id of a + b-without-prefix).
 *
 * Tokenizing one word is a port of HF tokenizers' BPE::merge_word +
 * Word::merge_all:
 *   1. every character becomes a symbol (with prefix/suffix added at the
 *      inner/last positions); characters not in the vocab become <0xNN> byte
 *      tokens (byte_fallback) or unk (consecutive unks fused with fuse_unk);
 *   2. a binary min-heap of (rank, position) holds the mergeable adjacent
 *      pairs; the lowest rank (leftmost on ties) is merged, stale entries are
 *      skipped, and the new neighbours are pushed. O(n log n) per word.
 * With ignore_merges a word that is itself in the vocab is taken whole.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "tokenizers/tok_internal.h"
#include "tokenizers/unicode.h"

typedef struct {
    uint64_t key; /* (a << 32) | b ; UINT64_MAX = empty */
    uint32_t rank;
    int32_t new_id;
} merge_ent;

struct tk_bpe {
    tk_vocab vocab;
    merge_ent *merges;
    size_t mcap;
    int32_t unk_id; /* -1: no unk token */
    char *unk_token;
    char *prefix, *suffix;
    size_t prefix_len, suffix_len;
    int fuse_unk, byte_fallback, ignore_merges;
    int32_t byte_ids[256]; /* <0xNN> ids, -1 when absent */
};

void tk_bpe_free(tk_bpe *b) {
    if (!b) return;
    tk_vocab_free(&b->vocab);
    free(b->merges);
    free(b->unk_token);
    free(b->prefix);
    free(b->suffix);
    free(b);
}

static inline uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

static const merge_ent *merge_get(const tk_bpe *b, int32_t a, int32_t c) {
    if (!b->mcap) return NULL;
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)c;
    size_t j = mix64(key) & (b->mcap - 1);
    while (b->merges[j].key != UINT64_MAX) {
        if (b->merges[j].key == key) return &b->merges[j];
        j = (j + 1) & (b->mcap - 1);
    }
    return NULL;
}

static void merge_put(tk_bpe *b, int32_t a, int32_t c, uint32_t rank, int32_t new_id) {
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)c;
    size_t j = mix64(key) & (b->mcap - 1);
    while (b->merges[j].key != UINT64_MAX && b->merges[j].key != key) j = (j + 1) & (b->mcap - 1);
    b->merges[j].key = key; /* a repeated pair keeps the last rank, as a Rust HashMap collect */
    b->merges[j].rank = rank;
    b->merges[j].new_id = new_id;
}

static char *opt_dup(const char *s, size_t *len) {
    if (!s) { *len = 0; return NULL; }
    *len = strlen(s);
    char *p = malloc(*len + 1);
    if (p) memcpy(p, s, *len + 1);
    return p;
}

static sbert_status add_merge(tk_bpe *b, const char *name, size_t i, const char *x, size_t xl,
                              const char *y, size_t yl, tk_buf *tmp) {
    int32_t a = tk_vocab_get(&b->vocab, x, xl);
    int32_t c = tk_vocab_get(&b->vocab, y, yl);
    if (a < 0 || c < 0)
        return sbert_fail(SBERT_ERR_FORMAT, "%s: model.merges[%zu]: token '%.*s' is not in the vocab",
                          name, i, a < 0 ? (int)xl : (int)yl, a < 0 ? x : y);
    size_t pl = b->prefix_len <= yl ? b->prefix_len : 0;
    tmp->n = 0;
    SBERT_TRY(tk_buf_put(tmp, x, xl));
    SBERT_TRY(tk_buf_put(tmp, y + pl, yl - pl));
    int32_t nid = tk_vocab_get(&b->vocab, tmp->p, tmp->n);
    if (nid < 0)
        return sbert_fail(SBERT_ERR_FORMAT,
                          "%s: model.merges[%zu]: merged token '%s' is not in the vocab", name, i,
                          tmp->p);
    merge_put(b, a, c, (uint32_t)i, nid);
    return SBERT_OK;
}

static sbert_status parse_into(tk_bpe *b, const cJSON *j, const char *name) {
    const char *unk, *prefix, *suffix;
    SBERT_TRY(tk_json_str(j, "unk_token", 1, &unk, name, "model"));
    SBERT_TRY(tk_json_str(j, "continuing_subword_prefix", 1, &prefix, name, "model"));
    SBERT_TRY(tk_json_str(j, "end_of_word_suffix", 1, &suffix, name, "model"));
    SBERT_TRY(tk_json_bool(j, "fuse_unk", 0, &b->fuse_unk, name, "model"));
    SBERT_TRY(tk_json_bool(j, "byte_fallback", 0, &b->byte_fallback, name, "model"));
    SBERT_TRY(tk_json_bool(j, "ignore_merges", 0, &b->ignore_merges, name, "model"));
    const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(j, "dropout");
    if (cJSON_IsNumber(dropout) && dropout->valuedouble > 0.0)
        return sbert_fail(SBERT_ERR_UNSUPPORTED,
                          "%s: model.dropout %g is not supported (random BPE dropout)", name,
                          dropout->valuedouble);
    size_t ul;
    b->unk_token = opt_dup(unk, &ul);
    b->prefix = opt_dup(prefix, &b->prefix_len);
    b->suffix = opt_dup(suffix, &b->suffix_len);
    if ((unk && !b->unk_token) || (prefix && !b->prefix) || (suffix && !b->suffix))
        return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", name);
    SBERT_TRY(tk_vocab_from_json(cJSON_GetObjectItemCaseSensitive(j, "vocab"), name, "model.vocab",
                                 &b->vocab));
    b->unk_id = unk ? tk_vocab_get(&b->vocab, unk, ul) : -1;
    for (int k = 0; k < 256; k++) {
        char t[8];
        snprintf(t, sizeof t, "<0x%02X>", k);
        b->byte_ids[k] = tk_vocab_get(&b->vocab, t, 6);
    }
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(j, "merges");
    if (merges && !cJSON_IsNull(merges) && !cJSON_IsArray(merges))
        return sbert_fail(SBERT_ERR_FORMAT, "%s: model.merges must be a list", name);
    size_t nm = merges ? (size_t)cJSON_GetArraySize(merges) : 0;
    b->mcap = 16;
    while (b->mcap < 2 * nm + 2) b->mcap *= 2;
    b->merges = malloc(b->mcap * sizeof *b->merges);
    if (!b->merges) return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", name);
    for (size_t k = 0; k < b->mcap; k++) b->merges[k].key = UINT64_MAX;
    tk_buf tmp = {0};
    sbert_status st = SBERT_OK;
    size_t rank = 0, i = 0;
    for (const cJSON *e = merges ? merges->child : NULL; e && st == SBERT_OK; e = e->next, i++) {
        if (cJSON_IsString(e)) {
            const char *s = e->valuestring;
            if (!strncmp(s, "#version", 8)) continue;
            const char *sp = strchr(s, ' ');
            if (!sp || strchr(sp + 1, ' '))
                st = sbert_fail(SBERT_ERR_FORMAT,
                                "%s: model.merges[%zu] '%s' must be two tokens separated by one space",
                                name, i, s);
            else
                st = add_merge(b, name, rank, s, (size_t)(sp - s), sp + 1, strlen(sp + 1), &tmp);
        } else if (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2 && cJSON_IsString(e->child) &&
                   cJSON_IsString(e->child->next)) {
            const char *x = e->child->valuestring, *y = e->child->next->valuestring;
            st = add_merge(b, name, rank, x, strlen(x), y, strlen(y), &tmp);
        } else {
            st = sbert_fail(SBERT_ERR_FORMAT,
                            "%s: model.merges[%zu] must be \"a b\" or [\"a\", \"b\"]", name, i);
        }
        rank++;
    }
    tk_buf_free(&tmp);
    return st;
}

sbert_status tk_bpe_parse(const cJSON *j, const char *name, tk_bpe **out) {
    *out = NULL;
    tk_bpe *b = calloc(1, sizeof *b);
    if (!b) return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", name);
    sbert_status st = parse_into(b, j, name);
    if (st != SBERT_OK) {
        tk_bpe_free(b);
        return st;
    }
    *out = b;
    return SBERT_OK;
}

const tk_vocab *tk_bpe_vocab(const tk_bpe *b) { return &b->vocab; }

/* ------------------------------------------------------------ tokenize */

typedef struct {
    int32_t c;
    int32_t prev, next;
    uint32_t len; /* 0: merged away */
} symbol;

typedef struct {
    uint32_t rank;
    uint32_t pos;
    int32_t new_id;
} hent;

static inline int h_less(const hent *x, const hent *y) {
    return x->rank < y->rank || (x->rank == y->rank && x->pos < y->pos);
}

static void h_push(hent *h, size_t *n, hent e) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!h_less(&e, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = e;
}

static hent h_pop(hent *h, size_t *n) {
    hent top = h[0];
    hent last = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= *n) break;
        size_t c = l;
        if (l + 1 < *n && h_less(&h[l + 1], &h[l])) c = l + 1;
        if (!h_less(&h[c], &last)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n > 0) h[i] = last;
    return top;
}

typedef struct {
    symbol *sym;
    size_t n, cap;
    uint32_t unk_len;
    int32_t unk;
    int has_unk;
} word;

static sbert_status w_add(word *w, int32_t id, uint32_t len) {
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        symbol *s = realloc(w->sym, cap * sizeof *s);
        if (!s) return sbert_fail(SBERT_ERR_NOMEM, "tokenizer: out of memory");
        w->sym = s;
        w->cap = cap;
    }
    symbol *s = &w->sym[w->n];
    s->c = id;
    s->prev = (int32_t)w->n - 1;
    s->next = -1;
    s->len = len;
    if (w->n > 0) w->sym[w->n - 1].next = (int32_t)w->n;
    w->n++;
    return SBERT_OK;
}

sbert_status tk_bpe_tokenize(const tk_bpe *b, const char *s, size_t n, tk_ids *ids) {
    if (n == 0) return SBERT_OK;
    if (b->ignore_merges) {
        int32_t id = tk_vocab_get(&b->vocab, s, n);
        if (id >= 0) return tk_ids_push(ids, id);
    }
    word w = {0};
    tk_buf tmp = {0};
    hent *heap = NULL;
    sbert_status st = SBERT_OK;
    int have_unk = 0;
    int32_t unk_id = 0;
    uint32_t unk_len = 0;
    for (size_t i = 0; i < n && st == SBERT_OK;) {
        size_t a = i;
        i += tk_utf8_len((unsigned char)s[i]);
        if (i > n) i = n;
        const char *piece = s + a;
        size_t plen = i - a;
        int first = a == 0, last = i >= n;
        if ((!first && b->prefix) || (last && b->suffix)) {
            tmp.n = 0;
            if (!first && b->prefix) st = tk_buf_put(&tmp, b->prefix, b->prefix_len);
            if (st == SBERT_OK) st = tk_buf_put(&tmp, piece, plen);
            if (st == SBERT_OK && last && b->suffix) st = tk_buf_put(&tmp, b->suffix, b->suffix_len);
            if (st != SBERT_OK) break;
            piece = tmp.p;
            plen = tmp.n;
        }
        int32_t id = tk_vocab_get(&b->vocab, piece, plen);
        if (id >= 0) {
            if (have_unk) {
                if ((st = w_add(&w, unk_id, unk_len)) != SBERT_OK) break;
                have_unk = 0;
            }
            st = w_add(&w, id, (uint32_t)(i - a));
            continue;
        }
        if (b->byte_fallback) {
            int all = 1;
            for (size_t q = 0; q < plen; q++)
                if (b->byte_ids[(unsigned char)piece[q]] < 0) all = 0;
            if (all) {
                for (size_t q = 0; q < plen && st == SBERT_OK; q++)
                    st = w_add(&w, b->byte_ids[(unsigned char)piece[q]], 1);
                continue;
            }
        }
        if (b->unk_token) {
            if (b->unk_id < 0) {
                st = sbert_fail(SBERT_ERR_FORMAT,
                                "tokenizer: BPE unk_token '%s' is not in the vocabulary",
                                b->unk_token);
                break;
            }
            if (have_unk && b->fuse_unk) {
                unk_len += (uint32_t)(i - a);
            } else {
                if (have_unk && (st = w_add(&w, unk_id, unk_len)) != SBERT_OK) break;
                have_unk = 1;
                unk_id = b->unk_id;
                unk_len = (uint32_t)(i - a);
            }
        }
    }
    if (st == SBERT_OK && have_unk) st = w_add(&w, unk_id, unk_len);
    tk_buf_free(&tmp);
    /* merge_all: each merge pops one entry and pushes at most two, so the heap
     * never holds more than 3n entries. */
    size_t hn = 0;
    if (st == SBERT_OK && w.n > 1) {
        heap = malloc((w.n * 3 + 4) * sizeof *heap);
        if (!heap) st = sbert_fail(SBERT_ERR_NOMEM, "tokenizer: out of memory");
        for (size_t i = 0; st == SBERT_OK && i + 1 < w.n; i++) {
            const merge_ent *m = merge_get(b, w.sym[i].c, w.sym[i + 1].c);
            if (m) h_push(heap, &hn, (hent){m->rank, (uint32_t)i, m->new_id});
        }
        while (st == SBERT_OK && hn > 0) {
            hent top = h_pop(heap, &hn);
            symbol *cur = &w.sym[top.pos];
            if (cur->len == 0 || cur->next < 0) continue;
            int32_t rpos = cur->next;
            symbol right = w.sym[rpos];
            const merge_ent *m = merge_get(b, cur->c, right.c);
            if (!m || m->new_id != top.new_id) continue; /* stale entry */
            cur->c = top.new_id;
            cur->len += right.len;
            cur->next = right.next;
            w.sym[rpos].len = 0;
            if (right.next >= 0) w.sym[right.next].prev = (int32_t)top.pos;
            if (cur->prev >= 0) {
                const merge_ent *pm = merge_get(b, w.sym[cur->prev].c, cur->c);
                if (pm) h_push(heap, &hn, (hent){pm->rank, (uint32_t)cur->prev, pm->new_id});
            }
            if (cur->next >= 0) {
                const merge_ent *nm = merge_get(b, cur->c, w.sym[cur->next].c);
                if (nm) h_push(heap, &hn, (hent){nm->rank, top.pos, nm->new_id});
            }
        }
    }
    free(heap);
    if (st == SBERT_OK) {
        for (int32_t i = w.n ? 0 : -1; i >= 0 && st == SBERT_OK; i = w.sym[i].next)
            st = tk_ids_push(ids, w.sym[i].c);
    }
    free(w.sym);
    return st;
}
