/*
 * models/sparse_encode.c -- the SparseEncoder side of the public API:
 * loading by model_type, encode_query / encode_document options,
 * max_active_dims, sparse rows (CSR), dot products between them and decoding
 * a vector into its top tokens (SparseEncoder.decode).
 *
 * Encoding runs the model's module list through sbert_model_encode (the
 * pipeline), one chunk of texts at a time, and keeps only the non-zeros, so a
 * large corpus never needs [n, vocab] floats at once.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/error.h"
#include "io/file.h"
#include "models/model.h"
#include "models/sparse_encoder.h"
#include "modules/router.h"

/* ------------------------------------------------------------ sparse rows */

void sbert_sparse_rows_free(sbert_sparse_rows *r) {
    if (!r) return;
    free(r->indptr);
    free(r->indices);
    free(r->values);
    memset(r, 0, sizeof *r);
}

/* Append the non-zeros of n dense rows [n, dim]. */
static sbert_status append_dense(sbert_sparse_rows *r, size_t *cap, const float *dense, size_t n, size_t dim) {
    size_t add = 0;
    for (size_t i = 0; i < n * dim; i++) add += dense[i] != 0.0f;
    if (r->nnz + add > *cap) {
        size_t nc = *cap ? *cap : 1024;
        while (nc < r->nnz + add) nc *= 2;
        int32_t *ni = realloc(r->indices, nc * sizeof *ni);
        if (ni) r->indices = ni;
        float *nv = ni ? realloc(r->values, nc * sizeof *nv) : NULL;
        if (nv) r->values = nv;
        if (!ni || !nv) return sbert_fail(SBERT_ERR_NOMEM, "out of memory (%zu sparse values)", r->nnz + add);
        *cap = nc;
    }
    for (size_t i = 0; i < n; i++) {
        const float *row = dense + i * dim;
        for (size_t v = 0; v < dim; v++) {
            if (row[v] == 0.0f) continue;
            r->indices[r->nnz] = (int32_t)v;
            r->values[r->nnz++] = row[v];
        }
        r->indptr[++r->n_rows] = r->nnz;
    }
    return SBERT_OK;
}

sbert_status sbert_sparse_from_dense(const float *dense, size_t n, size_t dim, sbert_sparse_rows *out) {
    if (!out) return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_sparse_from_dense: out is NULL");
    memset(out, 0, sizeof *out);
    if (n && !dense) return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_sparse_from_dense: dense is NULL");
    out->dim = dim;
    out->indptr = calloc(n + 1, sizeof *out->indptr);
    if (!out->indptr) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    size_t cap = 0;
    sbert_status st = append_dense(out, &cap, dense, n, dim);
    if (st != SBERT_OK) sbert_sparse_rows_free(out);
    return st;
}

typedef struct {
    sbert_progress_fn fn;
    void *user;
    size_t base, total;
} progress_wrap;

static void progress_cb(size_t done, size_t total, void *user) {
    progress_wrap *p = user;
    (void)total;
    p->fn(p->base + done, p->total, p->user);
}

sbert_status sbert_sparse_encode(sbert_model *m, const char *const *texts, size_t n, const sbert_encode_options *opt_in,
                                 sbert_sparse_rows *out) {
    if (!out) return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_sparse_encode: out is NULL");
    memset(out, 0, sizeof *out);
    if (!m) return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_sparse_encode: model is NULL");
    sbert_encode_options opt = opt_in ? *opt_in : sbert_encode_options_default();
    size_t bs = opt.batch_size ? opt.batch_size : 32;
    size_t chunk = bs * 16 < 4096 ? bs * 16 : 4096;
    size_t dim = sbert_model_encode_dim(m, &opt);
    out->dim = dim;
    out->indptr = calloc(n + 1, sizeof *out->indptr);
    float *dense = malloc((chunk < n ? chunk : n ? n : 1) * dim * sizeof *dense);
    sbert_status st = out->indptr && dense ? SBERT_OK : sbert_fail(SBERT_ERR_NOMEM, "out of memory (sparse encode)");
    progress_wrap pw = {opt.progress, opt.progress_user, 0, n};
    if (opt.progress) {
        opt.progress = progress_cb;
        opt.progress_user = &pw;
    }
    size_t cap = 0;
    for (size_t s = 0; s < n && st == SBERT_OK; s += chunk) {
        size_t k = n - s < chunk ? n - s : chunk;
        pw.base = s;
        st = sbert_model_encode(m, texts + s, k, &opt, dense);
        if (st != SBERT_OK && s) sbert_error_prefix("texts %zu..%zu: ", s, s + k - 1);
        if (st == SBERT_OK) st = append_dense(out, &cap, dense, k, dim);
    }
    free(dense);
    if (st != SBERT_OK) sbert_sparse_rows_free(out);
    return st;
}

sbert_status sbert_sparse_dot(const sbert_sparse_rows *a, const sbert_sparse_rows *b, float *out) {
    if (!a || !b || (!out && a->n_rows && b->n_rows))
        return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_sparse_dot: NULL argument");
    if (a->dim != b->dim)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_sparse_dot: dimensions differ (%zu and %zu)", a->dim, b->dim);
    double *q = calloc(a->dim ? a->dim : 1, sizeof *q);
    if (!q) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < a->n_rows; i++) {
        for (size_t k = a->indptr[i]; k < a->indptr[i + 1]; k++) q[a->indices[k]] = a->values[k];
        for (size_t j = 0; j < b->n_rows; j++) {
            double s = 0;
            for (size_t k = b->indptr[j]; k < b->indptr[j + 1]; k++) s += q[b->indices[k]] * (double)b->values[k];
            out[i * b->n_rows + j] = (float)s;
        }
        for (size_t k = a->indptr[i]; k < a->indptr[i + 1]; k++) q[a->indices[k]] = 0;
    }
    free(q);
    return SBERT_OK;
}

static int cmp_tw(const void *x, const void *y) {
    const sbert_token_weight *p = x, *q = y;
    if (p->weight != q->weight) return p->weight > q->weight ? -1 : 1;
    return p->id < q->id ? -1 : (p->id > q->id);
}

sbert_status sbert_sparse_decode(const sbert_model *m, const sbert_sparse_rows *r, size_t row, size_t top_k,
                                 sbert_token_weight *out, size_t *n_out) {
    if (!r || !out || !n_out) return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_sparse_decode: NULL argument");
    *n_out = 0;
    if (row >= r->n_rows) return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_sparse_decode: row %zu of %zu", row, r->n_rows);
    size_t a = r->indptr[row], e = r->indptr[row + 1], n = e - a;
    sbert_token_weight *all = malloc((n ? n : 1) * sizeof *all);
    if (!all) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    const sbert_tokenizer *tok = m ? sbert_model_tokenizer(m) : NULL;
    for (size_t k = 0; k < n; k++) {
        all[k].id = r->indices[a + k];
        all[k].weight = r->values[a + k];
        all[k].token = tok ? sbert_tokenizer_id_to_token(tok, all[k].id) : NULL;
    }
    qsort(all, n, sizeof *all, cmp_tw);
    size_t keep = top_k && top_k < n ? top_k : n;
    memcpy(out, all, keep * sizeof *out);
    *n_out = keep;
    free(all);
    return SBERT_OK;
}
