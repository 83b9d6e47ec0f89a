/*
 * tokenizers/unigram.c -- the Unigram tokenizer model (SentencePiece unigram).
 *
 * The model is a list of pieces with log-probability scores. Tokenizing a word
 * picks the segmentation with the highest total score (Viterbi), as HF
 * tokenizers' Unigram::encode_optimized does, with the same tie-breaking:
 *
 *   - positions are visited left to right, one UTF-8 character at a time;
 *     from each position every vocab piece that is a prefix of the rest of the
 *     word is tried, shortest first; a candidate replaces the best path ending
 *     at its end position only if that has none yet or the candidate's score
 *     is strictly greater;
 *   - when no piece covers exactly the one character at a position, an unk
 *     candidate of score (min piece score - 10) covers that character (an
 *     error if the model has no unk id and that candidate would be taken);
 *   - backtracking from the end, consecutive nodes whose id is the unk id
 *     (an unknown character, or a piece spelling the unk token) are fused
 *     into one string;
 *   - each resulting string is then looked up as a whole: found -> its id;
 *     not found -> with byte_fallback, one <0xNN> piece per byte if all those
 *     pieces exist, otherwise the unk id.
 * Duplicate pieces behave as in HF: the last id of a spelling wins.
 *
 * Pieces live in a byte trie built once (breadth-first, so the children of a
 * node are consecutive nodes sorted by byte): the prefix search from a
 * position walks at most as many nodes as the longest piece has bytes. The
 * root has a direct 256-entry table; deeper nodes binary-search their
 * children. Tokenizing allocates only a per-call Viterbi table, so one model
 * may be used from several threads at once.
 */
#include "tokenizers/unigram.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "base/error.h"

#define UNK_PENALTY 10.0

typedef struct {
    uint32_t first_child; /* index of the first child node (children are consecutive) */
    uint16_t n_children;  /* 0..256 */
    uint8_t label;        /* byte on the edge from the parent */
    int32_t id;           /* piece id ending here, or -1 */
} trie_node;

struct sbert_unigram {
    char **pieces;   /* [n] NUL-terminated copies */
    size_t *lens;    /* [n] byte lengths */
    double *scores;  /* [n] */
    size_t n;
    int32_t unk_id;
    int byte_fallback;
    double min_score;
    trie_node *nodes; /* [n_nodes], node 0 is the root */
    size_t n_nodes;
    uint32_t root_child[256]; /* node index of the root's child per byte, 0 = none */
    int32_t byte_ids[256];    /* id of <0xNN>, or -1 */
};

/* ------------------------------------------------------------ the trie */

typedef struct {
    const char *p;
    size_t len;
    uint32_t id;
} sort_piece;

static int cmp_piece(const void *a, const void *b) {
    const sort_piece *x = a, *y = b;
    int c = memcmp(x->p, y->p, x->len < y->len ? x->len : y->len);
    if (c) return c;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return x->id < y->id ? -1 : (x->id > y->id ? 1 : 0); /* equal spellings: the last id is last */
}

/* Child of `node` labelled c, or 0. */
static uint32_t trie_child(const sbert_unigram *u, uint32_t node, uint8_t c) {
    if (node == 0) return u->root_child[c];
    const trie_node *t = &u->nodes[node];
    uint32_t lo = t->first_child, hi = t->first_child + t->n_children;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        uint8_t l = u->nodes[mid].label;
        if (l == c) return mid;
        if (l < c)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* Exact lookup of s[0..n): the id (last one of equal spellings) or -1. */
static int32_t trie_find(const sbert_unigram *u, const char *s, size_t n) {
    uint32_t node = 0;
    for (size_t i = 0; i < n; i++) {
        node = trie_child(u, node, (uint8_t)s[i]);
        if (!node) return -1;
    }
    return node ? u->nodes[node].id : -1; /* the empty string is never a piece match */
}

/* Breadth-first build over the pieces sorted bytewise. A queue entry is a node
 * with the range [lo, hi) of sorted pieces below it and its depth. */
typedef struct {
    uint32_t node, lo, hi;
    size_t depth;
} build_item;

static sbert_status build_trie(sbert_unigram *u) {
    size_t total = 1;
    for (size_t i = 0; i < u->n; i++) total += u->lens[i];
    if (total > UINT32_MAX / 2)
        return sbert_fail(SBERT_ERR_UNSUPPORTED, "Unigram model: vocabulary too large (%zu bytes)", total);
    sort_piece *order = malloc((u->n ? u->n : 1) * sizeof *order);
    u->nodes = malloc(total * sizeof *u->nodes);
    build_item *queue = malloc(total * sizeof *queue);
    if (!order || !u->nodes || !queue) {
        free(order);
        free(queue);
        return sbert_fail(SBERT_ERR_NOMEM, "Unigram model: out of memory building the trie");
    }
    for (size_t i = 0; i < u->n; i++) order[i] = (sort_piece){u->pieces[i], u->lens[i], (uint32_t)i};
    qsort(order, u->n, sizeof *order, cmp_piece);

    u->nodes[0] = (trie_node){0, 0, 0, -1};
    u->n_nodes = 1;
    size_t qhead = 0, qtail = 0;
    queue[qtail++] = (build_item){0, 0, (uint32_t)u->n, 0};
    while (qhead < qtail) {
        build_item it = queue[qhead++];
        uint32_t lo = it.lo;
        /* pieces that end exactly here come first in sorted order; the last has the highest id */
        while (lo < it.hi && order[lo].len == it.depth) {
            if (it.depth > 0) u->nodes[it.node].id = (int32_t)order[lo].id;
            lo++;
        }
        u->nodes[it.node].first_child = (uint32_t)u->n_nodes;
        while (lo < it.hi) {
            uint8_t c = (uint8_t)order[lo].p[it.depth];
            uint32_t end = lo;
            while (end < it.hi && (uint8_t)order[end].p[it.depth] == c) end++;
            uint32_t child = (uint32_t)u->n_nodes++;
            u->nodes[child] = (trie_node){0, 0, c, -1};
            u->nodes[it.node].n_children++;
            if (it.node == 0) u->root_child[c] = child;
            queue[qtail++] = (build_item){child, lo, end, it.depth + 1};
            lo = end;
        }
    }
    free(order);
    free(queue);
    return SBERT_OK;
}

/* ---------------------------------------------------------- create/free */

static int valid_utf8(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0) return 0;
        i += (size_t)k;
    }
    return 1;
}

sbert_status sbert_unigram_create(const char *const *pieces, const double *scores, size_t n,
                                  int32_t unk_id, int byte_fallback, sbert_unigram **out) {
    *out = NULL;
    if (n && (!pieces || !scores))
        return sbert_fail(SBERT_ERR_INVALID_ARG, "Unigram model: NULL pieces or scores");
    if (unk_id >= 0 && n == 0)
        return sbert_fail(SBERT_ERR_FORMAT, "Unigram model: the vocabulary is empty but unk_id is %d",
                          (int)unk_id);
    if (unk_id >= 0 && (size_t)unk_id >= n)
        return sbert_fail(SBERT_ERR_FORMAT,
                          "Unigram model: unk_id %d is outside the vocabulary of %zu pieces", (int)unk_id, n);
    if (n > (size_t)INT32_MAX)
        return sbert_fail(SBERT_ERR_UNSUPPORTED, "Unigram model: %zu pieces is too many", n);
    sbert_unigram *u = calloc(1, sizeof *u);
    if (!u) return sbert_fail(SBERT_ERR_NOMEM, "Unigram model: out of memory");
    u->n = n;
    u->unk_id = unk_id < 0 ? -1 : unk_id;
    u->byte_fallback = byte_fallback != 0;
    u->min_score = INFINITY;
    u->pieces = calloc(n ? n : 1, sizeof *u->pieces);
    u->lens = malloc((n ? n : 1) * sizeof *u->lens);
    u->scores = malloc((n ? n : 1) * sizeof *u->scores);
    sbert_status st = SBERT_OK;
    if (!u->pieces || !u->lens || !u->scores) {
        st = sbert_fail(SBERT_ERR_NOMEM, "Unigram model: out of memory for %zu pieces", n);
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        if (!pieces[i]) {
            st = sbert_fail(SBERT_ERR_INVALID_ARG, "Unigram model: piece %zu is NULL", i);
            goto fail;
        }
        size_t len = strlen(pieces[i]);
        if (!valid_utf8(pieces[i], len)) {
            st = sbert_fail(SBERT_ERR_FORMAT, "Unigram model: piece %zu is not valid UTF-8", i);
            goto fail;
        }
        if (isnan(scores[i])) {
            st = sbert_fail(SBERT_ERR_FORMAT, "Unigram model: piece %zu ('%s') has a NaN score", i, pieces[i]);
            goto fail;
        }
        u->pieces[i] = malloc(len + 1);
        if (!u->pieces[i]) {
            st = sbert_fail(SBERT_ERR_NOMEM, "Unigram model: out of memory for piece %zu", i);
            goto fail;
        }
        memcpy(u->pieces[i], pieces[i], len + 1);
        u->lens[i] = len;
        u->scores[i] = scores[i];
        if (scores[i] < u->min_score) u->min_score = scores[i];
    }
    st = build_trie(u);
    if (st != SBERT_OK) goto fail;
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        u->byte_ids[b] = trie_find(u, name, 6);
    }
    *out = u;
    return SBERT_OK;
fail:
    sbert_unigram_free(u);
    return st;
}

void sbert_unigram_free(sbert_unigram *u) {
    if (!u) return;
    if (u->pieces)
        for (size_t i = 0; i < u->n; i++) free(u->pieces[i]);
    free(u->pieces);
    free(u->lens);
    free(u->scores);
    free(u->nodes);
    free(u);
}

size_t sbert_unigram_vocab_size(const sbert_unigram *u) { return u ? u->n : 0; }

int32_t sbert_unigram_token_to_id(const sbert_unigram *u, const char *token) {
    if (!u || !token) return -1;
    return trie_find(u, token, strlen(token));
}

const char *sbert_unigram_id_to_token(const sbert_unigram *u, int32_t id) {
    if (!u || id < 0 || (size_t)id >= u->n) return NULL;
    return u->pieces[id];
}

/* ------------------------------------------------------------- tokenize */

typedef struct {
    double score;  /* best total score of a path ending here */
    size_t start;  /* where the last piece of that path starts */
    int32_t id;    /* that piece's id (maybe unk) */
    int reached;   /* 0: no path ends here yet */
} best_node;

static int push_id(int32_t **ids, size_t *len, size_t *cap, int32_t id) {
    if (*len == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        int32_t *p = realloc(*ids, c * sizeof *p);
        if (!p) return 0;
        *ids = p;
        *cap = c;
    }
    (*ids)[(*len)++] = id;
    return 1;
}

/* Byte length of the UTF-8 character starting with lead byte c (1 for a stray byte). */
static size_t utf8_len(uint8_t c) {
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0) return 2;
    if ((c & 0xF0) == 0xE0) return 3;
    if ((c & 0xF8) == 0xF0) return 4;
    return 1;
}

/* Append the id(s) of the string s[0..n) as HF's Unigram::tokenize does: the piece id, or its
 * bytes as <0xNN> pieces (byte_fallback), or unk. */
static sbert_status emit(const sbert_unigram *u, const char *s, size_t n, int32_t **ids, size_t *len,
                         size_t *cap) {
    int32_t id = trie_find(u, s, n);
    if (id < 0 && u->byte_fallback) {
        size_t i = 0;
        while (i < n && u->byte_ids[(uint8_t)s[i]] >= 0) i++;
        if (i == n) {
            for (i = 0; i < n; i++)
                if (!push_id(ids, len, cap, u->byte_ids[(uint8_t)s[i]])) goto nomem;
            return SBERT_OK;
        }
    }
    if (id < 0) {
        if (u->unk_id < 0)
            return sbert_fail(SBERT_ERR_INVALID_ARG,
                              "Unigram model: '%.*s' is not in the vocabulary and the model has no unk_id",
                              (int)(n > 64 ? 64 : n), s);
        id = u->unk_id;
    }
    if (!push_id(ids, len, cap, id)) goto nomem;
    return SBERT_OK;
nomem:
    return sbert_fail(SBERT_ERR_NOMEM, "Unigram model: out of memory");
}

sbert_status sbert_unigram_tokenize(const sbert_unigram *u, const char *s, size_t n,
                                    int32_t **ids, size_t *len, size_t *cap) {
    if (!u || (!s && n) || !ids || !len || !cap)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "Unigram model: NULL argument");
    if (n == 0) return SBERT_OK;
    const size_t len0 = *len; /* restored on failure: a failed call appends nothing */
    best_node local[128];
    best_node *best = n + 1 <= 128 ? local : malloc((n + 1) * sizeof *best);
    /* segments found by backtracking: [start, end) pairs, end first */
    size_t local_seg[2 * 64];
    size_t *seg = NULL;
    sbert_status st = SBERT_OK;
    if (!best) return sbert_fail(SBERT_ERR_NOMEM, "Unigram model: out of memory for a %zu-byte word", n);
    for (size_t i = 0; i <= n; i++) best[i].reached = 0, best[i].score = 0.0, best[i].id = 0, best[i].start = 0;
    best[0].reached = 1;
    const double unk_score = u->min_score - UNK_PENALTY;
    const uint8_t *b = (const uint8_t *)s;

    for (size_t pos = 0; pos < n;) {
        size_t mblen = utf8_len(b[pos]);
        if (mblen > n - pos) mblen = n - pos;
        double here = best[pos].score;
        int has_single = 0;
        uint32_t node = 0;
        for (size_t k = pos; k < n; k++) {
            node = trie_child(u, node, b[k]);
            if (!node) break;
            int32_t id = u->nodes[node].id;
            if (id < 0) continue;
            size_t end = k + 1;
            double cand = u->scores[id] + here;
            best_node *t = &best[end];
            if (!t->reached || cand > t->score) {
                t->score = cand;
                t->start = pos;
                t->id = id;
                t->reached = 1;
            }
            if (end - pos == mblen) has_single = 1;
        }
        if (!has_single) {
            best_node *t = &best[pos + mblen];
            double cand = unk_score + here;
            if (!t->reached || cand > t->score) {
                if (u->unk_id < 0) {
                    st = sbert_fail(SBERT_ERR_INVALID_ARG,
                                    "Unigram model: character at byte %zu of '%.*s' is not in the vocabulary "
                                    "and the model has no unk_id",
                                    pos, (int)(n > 64 ? 64 : n), s);
                    goto done;
                }
                t->score = cand;
                t->start = pos;
                t->id = u->unk_id;
                t->reached = 1;
            }
        }
        pos += mblen;
    }

    /* Backtrack: collect the pieces end-to-start, fusing runs of unk nodes. */
    size_t nseg = 0, seg_cap = 64;
    seg = local_seg;
    size_t unk_end = 0; /* end of the pending fused unk run, or 0 (an unk run never ends at 0) */
    for (size_t end = n; end > 0;) {
        const best_node *t = &best[end];
        if (!t->reached || t->start >= end) {
            st = sbert_fail(SBERT_ERR_INTERNAL, "Unigram model: broken Viterbi path at byte %zu", end);
            goto done;
        }
        if (nseg + 2 > seg_cap) {
            size_t c = seg_cap * 2;
            size_t *p = seg == local_seg ? malloc(2 * c * sizeof *p) : realloc(seg, 2 * c * sizeof *p);
            if (!p) {
                st = sbert_fail(SBERT_ERR_NOMEM, "Unigram model: out of memory");
                goto done;
            }
            if (seg == local_seg) memcpy(p, local_seg, sizeof local_seg);
            seg = p;
            seg_cap = c;
        }
        if (u->unk_id >= 0 && t->id == u->unk_id) {
            if (!unk_end) unk_end = end;
        } else {
            if (unk_end) {
                seg[2 * nseg] = end;
                seg[2 * nseg + 1] = unk_end;
                nseg++;
                unk_end = 0;
            }
            seg[2 * nseg] = t->start;
            seg[2 * nseg + 1] = end;
            nseg++;
        }
        end = t->start;
    }
    if (unk_end) {
        seg[2 * nseg] = 0;
        seg[2 * nseg + 1] = unk_end;
        nseg++;
    }
    for (size_t i = nseg; i-- > 0;) {
        st = emit(u, s + seg[2 * i], seg[2 * i + 1] - seg[2 * i], ids, len, cap);
        if (st != SBERT_OK) goto done;
    }
done:
    if (best != local) free(best);
    if (seg && seg != local_seg) free(seg);
    if (st != SBERT_OK) *len = len0;
    return st;
}
