/*
 * models/packed.c -- packed token ids (see packed.h).
 */
#include "models/packed.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"

void sbert_packed_clear(sbert_packed *p) {
    p->n = p->T = 0;
    if (p->off) p->off[0] = 0;
}

void sbert_packed_free(sbert_packed *p) {
    if (!p) return;
    free(p->ids);
    free(p->types);
    free(p->off);
    memset(p, 0, sizeof *p);
}

static sbert_status reserve(sbert_packed *p, size_t n, size_t T) {
    if (n + 1 > p->cap_n || !p->off) {
        size_t cap = p->cap_n ? p->cap_n : 16;
        while (cap < n + 1) cap *= 2;
        size_t *no = realloc(p->off, cap * sizeof *no);
        if (!no) return sbert_fail(SBERT_ERR_NOMEM, "out of memory (token offsets of %zu texts)", n);
        if (!p->off) no[0] = 0;
        p->off = no;
        p->cap_n = cap;
    }
    if (T > p->cap_T || !p->ids) {
        size_t cap = p->cap_T ? p->cap_T : 256;
        while (cap < T) cap *= 2;
        int32_t *ni = realloc(p->ids, cap * sizeof *ni);
        if (!ni) return sbert_fail(SBERT_ERR_NOMEM, "out of memory (%zu tokens)", T);
        p->ids = ni;
        int32_t *nt = realloc(p->types, cap * sizeof *nt);
        if (!nt) return sbert_fail(SBERT_ERR_NOMEM, "out of memory (%zu tokens)", T);
        p->types = nt;
        p->cap_T = cap;
    }
    return SBERT_OK;
}

sbert_status sbert_packed_append(sbert_packed *p, const sbert_encoding *e) {
    SBERT_TRY(reserve(p, p->n + 1, p->T + e->len));
    size_t T = p->T;
    for (size_t k = 0; k < e->len; k++) {
        if (e->attention_mask && !e->attention_mask[k]) continue;
        p->ids[T] = e->input_ids[k];
        p->types[T] = e->token_type_ids ? e->token_type_ids[k] : 0;
        T++;
    }
    p->T = T;
    p->off[++p->n] = T;
    return SBERT_OK;
}

sbert_status sbert_packed_gather(sbert_packed *dst, const sbert_packed *const *src, size_t n_src,
                                 const size_t *rows, size_t B) {
    size_t T = 0;
    for (size_t c = 0; c < n_src; c++)
        for (size_t i = 0; i < B; i++) T += src[c]->off[rows[i] + 1] - src[c]->off[rows[i]];
    SBERT_TRY(reserve(dst, n_src * B, T));
    sbert_packed_clear(dst);
    size_t o = 0, k = 0;
    dst->off[0] = 0;
    for (size_t c = 0; c < n_src; c++) {
        const sbert_packed *s = src[c];
        for (size_t i = 0; i < B; i++) {
            size_t a = s->off[rows[i]], len = s->off[rows[i] + 1] - a;
            memcpy(dst->ids + o, s->ids + a, len * sizeof *dst->ids);
            memcpy(dst->types + o, s->types + a, len * sizeof *dst->types);
            o += len;
            dst->off[++k] = o;
        }
    }
    dst->n = k;
    dst->T = o;
    return SBERT_OK;
}
