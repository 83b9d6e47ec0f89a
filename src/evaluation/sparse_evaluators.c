/*
 * evaluation/sparse_evaluators.c -- the SparseEncoder evaluators of
 * sentence-transformers (sparse_encoder/evaluation): the dense evaluators on
 * sparse vectors, scored with the model's similarity function (dot for a
 * SparseEncoder unless its config says otherwise), plus the sparsity
 * statistics:
 *
 *   SparseInformationRetrievalEvaluator  the IR metrics of
 *       information_retrieval.c (same data file, same keys and primary
 *       {name}_{fn}_ndcg@10), queries encoded with encode_query and the
 *       corpus with encode_document, then query_active_dims,
 *       query_sparsity_ratio, corpus_active_dims, corpus_sparsity_ratio and
 *       avg_flops = sum_v (share of queries using v) (share of documents
 *       using v);
 *   SparseEmbeddingSimilarityEvaluator   pearson_{fn}, spearman_{fn} of the
 *       pairwise similarities against the gold scores, then active_dims and
 *       sparsity_ratio (the mean over the two encode calls); primary
 *       spearman_{fn};
 *   SparseTripletEvaluator               {fn}_accuracy (sim(a, p) >
 *       sim(a, n)), anchors as queries, positives and negatives as
 *       documents, then {anchor,positive,negative}_{active_dims,sparsity_ratio}.
 *
 * active_dims is Python's torch.mean over the per-row non-zero counts, a
 * float32 value; it is rounded the same way here. Texts are encoded in
 * chunks and kept as sparse rows, so a corpus never needs [n, vocab] floats.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "data/dataset.h"
#include "evaluation/evaluators.h"
#include "evaluation/metrics.h"
#include "evaluation/st_evaluators.h"
#include "models/encode_options.h"

#define CHUNK 256

/* ------------------------------------------------------------ encoding */

static sbert_status encode_rows(const sbert_eval_encoder *enc, void *ctx, const char *const *texts, size_t n,
                                size_t max_active_dims, sbert_sparse_rows *out) {
    memset(out, 0, sizeof *out);
    const size_t dim = enc->dim;
    float *buf = malloc((n < CHUNK ? (n ? n : 1) : CHUNK) * dim * sizeof *buf);
    out->dim = dim;
    out->indptr = calloc(n + 1, sizeof *out->indptr);
    sbert_status st = buf && out->indptr ? SBERT_OK : sbert_fail(SBERT_ERR_NOMEM, "out of memory (sparse evaluation)");
    size_t cap = 0;
    for (size_t s = 0; s < n && st == SBERT_OK; s += CHUNK) {
        size_t k = n - s < CHUNK ? n - s : CHUNK;
        st = enc->fn(ctx ? ctx : enc->ctx, texts + s, k, buf);
        if (st != SBERT_OK) break;
        if (max_active_dims)
            for (size_t i = 0; i < k; i++) sbert_select_max_active_dims(buf + i * dim, dim, max_active_dims);
        size_t add = 0;
        for (size_t i = 0; i < k * dim; i++) add += buf[i] != 0.0f;
        if (out->nnz + add > cap) {
            size_t nc = cap ? cap : 4096;
            while (nc < out->nnz + add) nc *= 2;
            int32_t *ni = realloc(out->indices, nc * sizeof *ni);
            if (ni) out->indices = ni;
            float *nv = ni ? realloc(out->values, nc * sizeof *nv) : NULL;
            if (nv) out->values = nv;
            if (!ni || !nv) {
                st = sbert_fail(SBERT_ERR_NOMEM, "out of memory (%zu sparse values)", out->nnz + add);
                break;
            }
            cap = nc;
        }
        for (size_t i = 0; i < k; i++) {
            const float *row = buf + i * dim;
            for (size_t v = 0; v < dim; v++)
                if (row[v] != 0.0f) {
                    out->indices[out->nnz] = (int32_t)v;
                    out->values[out->nnz++] = row[v];
                }
            out->indptr[++out->n_rows] = out->nnz;
        }
    }
    free(buf);
    if (st != SBERT_OK) sbert_sparse_rows_free(out);
    return st;
}

/* Python's SparseEncoder.sparsity: the float32 mean of the per-row counts. */
static void sparsity(const sbert_sparse_rows *r, double *active, double *ratio) {
    if (r->n_rows == 0 || r->dim == 0) {
        *active = 0.0;
        *ratio = 1.0;
        return;
    }
    *active = (double)(float)((double)r->nnz / (double)r->n_rows);
    *ratio = 1.0 - *active / (double)r->dim;
}

/* fn over rows i of a and j of b ("dot", "cosine", "euclidean" = -L2, "manhattan" = -L1). */
static double pair_score(const char *fn, const sbert_sparse_rows *a, size_t i, const sbert_sparse_rows *b, size_t j) {
    size_t p = a->indptr[i], pe = a->indptr[i + 1], q = b->indptr[j], qe = b->indptr[j + 1];
    double dot = 0, aa = 0, bb = 0, l1 = 0, l2 = 0;
    while (p < pe || q < qe) {
        double x = 0, y = 0;
        if (q >= qe || (p < pe && a->indices[p] < b->indices[q])) x = a->values[p++];
        else if (p >= pe || b->indices[q] < a->indices[p]) y = b->values[q++];
        else {
            x = a->values[p++];
            y = b->values[q++];
        }
        dot += x * y;
        aa += x * x;
        bb += y * y;
        l1 += fabs(x - y);
        l2 += (x - y) * (x - y);
    }
    if (!strcmp(fn, "dot")) return dot;
    if (!strcmp(fn, "cosine")) return dot / (fmax(sqrt(aa), 1e-12) * fmax(sqrt(bb), 1e-12));
    if (!strcmp(fn, "euclidean")) return -sqrt(l2);
    return -l1;
}

static const char *score_fn(const sbert_eval_encoder *enc) {
    const char *fn = enc->score_fn && *enc->score_fn ? enc->score_fn : "dot";
    return !strcmp(fn, "dot_product") ? "dot" : fn;
}

/* ------------------------------------------------------------ IR */

sbert_status sbert_sparse_ir_eval_run(const void *p, const sbert_eval_encoder *enc, const char *name,
                                      sbert_eval_result *out) {
    memset(out, 0, sizeof *out);
    return sbert_sparse_ir_eval_with(enc, p, name, 0, NULL, NULL, out);
}

sbert_status sbert_sparse_ir_eval_with(const sbert_eval_encoder *enc, const sbert_ir_data *d, const char *name,
                                       size_t max_active_dims, double *qcount, double *ccount,
                                       sbert_eval_result *out) {
    const char *fn = score_fn(enc);
    if (strcmp(fn, "dot") && strcmp(fn, "cosine"))
        return sbert_fail(SBERT_ERR_UNSUPPORTED,
                          "SparseInformationRetrievalEvaluator: score function '%s' is not supported here (dot or "
                          "cosine)",
                          fn);
    int cosine = !strcmp(fn, "cosine");
    sbert_sparse_rows q, c;
    memset(&c, 0, sizeof c);
    SBERT_TRY(encode_rows(enc, enc->query_ctx, d->qtexts, d->nq, max_active_dims, &q));
    sbert_status st = encode_rows(enc, enc->document_ctx, d->ctexts, d->nc, max_active_dims, &c);
    const size_t nq = d->nq, nc = d->nc, dim = enc->dim;
    size_t chunk = ((size_t)16 << 20) / (nc ? nc : 1);
    if (chunk < 1) chunk = 1;
    if (chunk > nq) chunk = nq;
    float *scores = st == SBERT_OK ? malloc(chunk * nc * sizeof *scores) : NULL;
    double *dense = st == SBERT_OK ? calloc(dim, sizeof *dense) : NULL;
    double *cnorm = st == SBERT_OK ? malloc((nc ? nc : 1) * sizeof *cnorm) : NULL;
    if (st == SBERT_OK && (!scores || !dense || !cnorm))
        st = sbert_fail(SBERT_ERR_NOMEM, "SparseInformationRetrievalEvaluator: out of memory");
    sbert_ir_config cfg = sbert_ir_config_default();
    sbert_metric part[64], sum[64];
    size_t nsum = 0;
    if (st == SBERT_OK && cosine)
        for (size_t j = 0; j < nc; j++) {
            double s = 0;
            for (size_t k = c.indptr[j]; k < c.indptr[j + 1]; k++) s += (double)c.values[k] * c.values[k];
            cnorm[j] = fmax(sqrt(s), 1e-12);
        }
    for (size_t q0 = 0; q0 < nq && st == SBERT_OK; q0 += chunk) {
        size_t m = nq - q0 < chunk ? nq - q0 : chunk, np = sizeof part / sizeof part[0];
        for (size_t i = 0; i < m; i++) {
            size_t qi = q0 + i;
            double qn = 0;
            for (size_t k = q.indptr[qi]; k < q.indptr[qi + 1]; k++) {
                dense[q.indices[k]] = q.values[k];
                qn += (double)q.values[k] * q.values[k];
            }
            qn = fmax(sqrt(qn), 1e-12);
            for (size_t j = 0; j < nc; j++) {
                double s = 0;
                for (size_t k = c.indptr[j]; k < c.indptr[j + 1]; k++) s += dense[c.indices[k]] * (double)c.values[k];
                scores[i * nc + j] = (float)(cosine ? s / (qn * cnorm[j]) : s);
            }
            for (size_t k = q.indptr[qi]; k < q.indptr[qi + 1]; k++) dense[q.indices[k]] = 0;
        }
        st = sbert_ir_metrics(scores, m, nc, d->cids, d->rel_offsets + q0, d->rel_idx, &cfg, fn, part, &np);
        if (st != SBERT_OK) break;
        for (size_t i = 0; i < np; i++) {
            if (q0 == 0) {
                sum[i] = part[i];
                sum[i].value = 0;
                nsum = np;
            }
            sum[i].value += part[i].value * (double)m;
        }
    }
    if (st == SBERT_OK) {
        for (size_t i = 0; i < nsum; i++)
            sbert_eval_put(out, name, sum[i].key, chunk == nq ? part[i].value : sum[i].value / (double)nq);
        double qa, qr, ca, cr;
        sparsity(&q, &qa, &qr);
        sparsity(&c, &ca, &cr);
        sbert_eval_put(out, name, "query_active_dims", qa);
        sbert_eval_put(out, name, "query_sparsity_ratio", qr);
        sbert_eval_put(out, name, "corpus_active_dims", ca);
        sbert_eval_put(out, name, "corpus_sparsity_ratio", cr);
        /* avg_flops: float32 shares of rows using each dimension, dotted */
        int32_t *cq = calloc(dim, sizeof *cq), *cc = calloc(dim, sizeof *cc);
        if (!cq || !cc) st = sbert_fail(SBERT_ERR_NOMEM, "out of memory");
        double flops = 0;
        if (st == SBERT_OK) {
            for (size_t k = 0; k < q.nnz; k++) cq[q.indices[k]]++;
            for (size_t k = 0; k < c.nnz; k++) cc[c.indices[k]]++;
            for (size_t v = 0; v < dim; v++) {
                if (qcount) qcount[v] += cq[v];
                if (ccount) ccount[v] += cc[v];
            }
            for (size_t v = 0; v < dim; v++)
                if (cq[v] && cc[v]) flops += (double)((float)cq[v] / (float)nq) * (double)((float)cc[v] / (float)nc);
        }
        free(cq);
        free(cc);
        sbert_eval_put(out, name, "avg_flops", (double)(float)flops);
        size_t kmax = 0;
        for (size_t i = 0; i < cfg.n_ndcg; i++)
            if (cfg.ndcg_at_k[i] > kmax) kmax = cfg.ndcg_at_k[i];
        char what[64];
        snprintf(what, sizeof what, "%s_ndcg@%zu", fn, kmax);
        sbert_eval_set_primary(out, name, what);
    }
    free(scores);
    free(dense);
    free(cnorm);
    sbert_sparse_rows_free(&q);
    sbert_sparse_rows_free(&c);
    return st;
}

/* ------------------------------------------------------------ similarity */

/* The rows of a data file: text columns (and the label column, if any). */
typedef struct {
    sbert_dataset *ds;
    const char **t[3];
    const double *gold;
    size_t n;
} rows_data;

void sbert_sparse_rows_eval_free(void *p) {
    rows_data *d = p;
    if (!d) return;
    sbert_dataset_free(d->ds);
    free(d);
}

static sbert_status load_rows(const char *path, size_t max_samples, size_t n_text, int label, const char *who,
                              const char *layout, void **out) {
    *out = NULL;
    rows_data *d = calloc(1, sizeof *d);
    if (!d) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    sbert_status st = sbert_dataset_load(path, &d->ds);
    if (st == SBERT_OK) {
        if (max_samples > 0) sbert_dataset_truncate(d->ds, max_samples);
        int lc = sbert_dataset_label_column(d->ds);
        if (sbert_dataset_n_inputs(d->ds) != n_text || (label ? lc < 0 : lc >= 0))
            st = sbert_fail(SBERT_ERR_FORMAT, "%s: %s expects %s columns", path, who, layout);
        if (st == SBERT_OK) st = sbert_dataset_check_inputs(d->ds);
        if (st == SBERT_OK && d->ds->n_rows == 0) st = sbert_fail(SBERT_ERR_FORMAT, "%s: no rows", path);
        if (st == SBERT_OK) {
            for (size_t c = 0; c < n_text; c++)
                d->t[c] = (const char **)d->ds->cols[sbert_dataset_input_column(d->ds, c)].text;
            d->gold = label ? d->ds->cols[lc].num : NULL;
            d->n = d->ds->n_rows;
        }
    }
    if (st != SBERT_OK) {
        sbert_sparse_rows_eval_free(d);
        return st;
    }
    *out = d;
    return SBERT_OK;
}

sbert_status sbert_sparse_pairs_eval_load(const char *path, size_t max_samples, void **out) {
    return load_rows(path, max_samples, 2, 1, "SparseEmbeddingSimilarityEvaluator", "(sentence1, sentence2, score)",
                     out);
}

sbert_status sbert_sparse_triplets_eval_load(const char *path, size_t max_samples, void **out) {
    return load_rows(path, max_samples, 3, 0, "SparseTripletEvaluator", "(anchor, positive, negative) and no label",
                     out);
}

size_t sbert_sparse_pairs_eval_summary(const void *p, char *buf, size_t cap) {
    return (size_t)snprintf(buf, cap, "%zu pairs", ((const rows_data *)p)->n);
}

size_t sbert_sparse_triplets_eval_summary(const void *p, char *buf, size_t cap) {
    return (size_t)snprintf(buf, cap, "%zu triplets", ((const rows_data *)p)->n);
}

sbert_status sbert_sparse_similarity_eval_run(const void *p, const sbert_eval_encoder *enc, const char *name,
                                              sbert_eval_result *out) {
    memset(out, 0, sizeof *out);
    const rows_data *rd = p;
    const char **s1 = rd->t[0], **s2 = rd->t[1];
    const double *gold = rd->gold;
    size_t n = rd->n;
    const char *fn = score_fn(enc);
    sbert_sparse_rows a, b;
    memset(&b, 0, sizeof b);
    sbert_status st = encode_rows(enc, enc->ctx, s1, n, 0, &a);
    if (st == SBERT_OK) st = encode_rows(enc, enc->ctx, s2, n, 0, &b);
    double *sc = st == SBERT_OK ? malloc(n * sizeof *sc) : NULL;
    if (st == SBERT_OK && !sc) st = sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    if (st == SBERT_OK) {
        /* Python computes the pairwise scores in float32 */
        for (size_t i = 0; i < n; i++) sc[i] = (double)(float)pair_score(fn, &a, i, &b, i);
        char key[64];
        snprintf(key, sizeof key, "pearson_%s", fn);
        sbert_eval_put(out, name, key, sbert_pearson(gold, sc, n));
        snprintf(key, sizeof key, "spearman_%s", fn);
        sbert_eval_put(out, name, key, sbert_spearman(gold, sc, n));
        sbert_eval_set_primary(out, name, key);
        double a1, r1, a2, r2;
        sparsity(&a, &a1, &r1);
        sparsity(&b, &a2, &r2);
        sbert_eval_put(out, name, "active_dims", (a1 + a2) / 2);
        sbert_eval_put(out, name, "sparsity_ratio", (r1 + r2) / 2);
    }
    free(sc);
    sbert_sparse_rows_free(&a);
    sbert_sparse_rows_free(&b);
    return st;
}

/* ------------------------------------------------------------ triplets */

sbert_status sbert_sparse_triplet_eval_run(const void *p, const sbert_eval_encoder *enc, const char *name,
                                           sbert_eval_result *out) {
    memset(out, 0, sizeof *out);
    const rows_data *rd = p;
    const char **ta = rd->t[0], **tp = rd->t[1], **tn = rd->t[2];
    size_t n = rd->n;
    const char *fn = score_fn(enc);
    sbert_sparse_rows r[3];
    memset(r, 0, sizeof r);
    sbert_status st = encode_rows(enc, enc->query_ctx, ta, n, 0, &r[0]);
    if (st == SBERT_OK) st = encode_rows(enc, enc->document_ctx, tp, n, 0, &r[1]);
    if (st == SBERT_OK) st = encode_rows(enc, enc->document_ctx, tn, n, 0, &r[2]);
    if (st == SBERT_OK) {
        size_t good = 0;
        for (size_t i = 0; i < n; i++) {
            float ps = (float)pair_score(fn, &r[0], i, &r[1], i), ns = (float)pair_score(fn, &r[0], i, &r[2], i);
            good += ps > ns;
        }
        char key[64];
        snprintf(key, sizeof key, "%s_accuracy", fn);
        sbert_eval_put(out, name, key, (double)(float)((double)good / (double)n));
        sbert_eval_set_primary(out, name, key);
        static const char *const who[] = {"anchor", "positive", "negative"};
        for (int k = 0; k < 3; k++) {
            double act, ratio;
            sparsity(&r[k], &act, &ratio);
            snprintf(key, sizeof key, "%s_active_dims", who[k]);
            sbert_eval_put(out, name, key, act);
            snprintf(key, sizeof key, "%s_sparsity_ratio", who[k]);
            sbert_eval_put(out, name, key, ratio);
        }
    }
    for (int k = 0; k < 3; k++) sbert_sparse_rows_free(&r[k]);
    return st;
}

/* ------------------------------------------------ wrapped dense evaluators
 *
 * SparseRerankingEvaluator, SparseBinaryClassificationEvaluator and
 * SparseMSEEvaluator subclass the dense evaluators in Python and only change
 * how texts are embedded (max_active_dims, sparsity statistics). Here too:
 * the dense evaluator runs (reranking.c, binary_classification.c,
 * mse_evaluator.c) through an encoder that cuts each vector to its
 * max_active_dims largest values and counts the non-zeros per role (plain,
 * query, document), then the statistics are appended as Python appends them:
 *   Reranking: query_active_dims, query_sparsity_ratio, corpus_active_dims,
 *     corpus_sparsity_ratio (queries via encode_query, documents via
 *     encode_document, one encode call each);
 *   BinaryClassification: active_dims, sparsity_ratio over the distinct
 *     sentences of both columns (Python embeds the set of them once);
 *   MSE: active_dims, sparsity_ratio of the student's target vectors (the
 *     teacher, a SparseEncoder in Python, is cut to max_active_dims too). */

typedef struct {
    const sbert_eval_encoder *inner;
    size_t k;                 /* max_active_dims, 0: none */
    size_t rows[3], nnz[3];   /* per role: 0 plain, 1 query, 2 document */
    int distinct;             /* record (text, nnz) of every row */
    const char **texts;
    size_t *row_nnz, n, cap;
} wrap_state;

typedef struct {
    wrap_state *w;
    void *ctx;
    int role;
} wrap_ctx;

static sbert_status wrap_encode(void *p, const char *const *texts, size_t n, float *out) {
    wrap_ctx *c = p;
    wrap_state *w = c->w;
    const size_t D = w->inner->dim;
    SBERT_TRY(w->inner->fn(c->ctx, texts, n, out));
    if (w->distinct && w->n + n > w->cap) {
        size_t nc = w->cap ? w->cap : 256;
        while (nc < w->n + n) nc *= 2;
        const char **nt = realloc(w->texts, nc * sizeof *nt);
        if (nt) w->texts = nt;
        size_t *nz = nt ? realloc(w->row_nnz, nc * sizeof *nz) : NULL;
        if (nz) w->row_nnz = nz;
        if (!nt || !nz) return sbert_fail(SBERT_ERR_NOMEM, "out of memory (sparse evaluation)");
        w->cap = nc;
    }
    for (size_t i = 0; i < n; i++) {
        float *row = out + i * D;
        if (w->k) sbert_select_max_active_dims(row, D, w->k);
        size_t z = 0;
        for (size_t v = 0; v < D; v++) z += row[v] != 0.0f;
        w->nnz[c->role] += z;
        if (w->distinct) {
            w->texts[w->n] = texts[i];
            w->row_nnz[w->n++] = z;
        }
    }
    w->rows[c->role] += n;
    return SBERT_OK;
}

/* te: enc with every encode call going through w (ctx: three contexts). */
static void wrap_setup(const sbert_eval_encoder *enc, size_t k, int distinct, wrap_state *w, wrap_ctx ctx[3],
                       sbert_eval_encoder *te) {
    memset(w, 0, sizeof *w);
    w->inner = enc;
    w->k = k;
    w->distinct = distinct;
    void *ctxs[3] = {enc->ctx, enc->query_ctx ? enc->query_ctx : enc->ctx,
                     enc->document_ctx ? enc->document_ctx : enc->ctx};
    for (int r = 0; r < 3; r++) ctx[r] = (wrap_ctx){w, ctxs[r], r};
    *te = *enc;
    te->fn = wrap_encode;
    te->ctx = &ctx[0];
    te->query_ctx = &ctx[1];
    te->document_ctx = &ctx[2];
}

static void wrap_free(wrap_state *w) {
    free(w->texts);
    free(w->row_nnz);
}

/* {prefix}active_dims and {prefix}sparsity_ratio of nnz non-zeros over rows rows. */
static void put_sparsity(sbert_eval_result *out, const char *name, const char *prefix, size_t nnz, size_t rows,
                         size_t dim) {
    sbert_sparse_rows r;
    memset(&r, 0, sizeof r);
    r.n_rows = rows;
    r.nnz = nnz;
    r.dim = dim;
    double act, ratio;
    sparsity(&r, &act, &ratio);
    char key[64];
    snprintf(key, sizeof key, "%sactive_dims", prefix);
    sbert_eval_put(out, name, key, act);
    snprintf(key, sizeof key, "%ssparsity_ratio", prefix);
    sbert_eval_put(out, name, key, ratio);
}

/* The data of a wrapped evaluator: the dense evaluator's and max_active_dims. */
typedef struct {
    void *inner;
    size_t k;
} wrapped_data;

static sbert_status wrapped_load(const char *path, size_t max_samples, sbert_eval_opts *opts, int mse,
                                 sbert_status (*load)(const char *, size_t, sbert_eval_opts *, void **), void **out) {
    *out = NULL;
    wrapped_data *d = calloc(1, sizeof *d);
    if (!d) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    sbert_status st = sbert_eval_opt_size(opts, "max_active_dims", 0, 1, 1u << 24, &d->k);
    if (st == SBERT_OK && sbert_eval_opt(opts, "truncate_dim"))
        st = sbert_fail(SBERT_ERR_INVALID_ARG, "truncate_dim does not apply to a SparseEncoder evaluator (use "
                                               "max_active_dims)");
    if (st == SBERT_OK)
        st = mse ? sbert_mse_eval_load_k(path, max_samples, opts, d->k, &d->inner) : load(path, max_samples, opts, &d->inner);
    if (st != SBERT_OK) {
        free(d);
        return st;
    }
    *out = d;
    return SBERT_OK;
}

sbert_status sbert_sparse_reranking_eval_load(const char *path, size_t max_samples, sbert_eval_opts *opts, void **out) {
    return wrapped_load(path, max_samples, opts, 0, sbert_reranking_eval_load, out);
}
sbert_status sbert_sparse_binary_eval_load(const char *path, size_t max_samples, sbert_eval_opts *opts, void **out) {
    return wrapped_load(path, max_samples, opts, 0, sbert_binary_eval_load, out);
}
sbert_status sbert_sparse_mse_eval_load(const char *path, size_t max_samples, sbert_eval_opts *opts, void **out) {
    return wrapped_load(path, max_samples, opts, 1, NULL, out);
}

#define WRAPPED_FREE_SUMMARY(prefix, dense)                                                                        \
    void prefix##_free(void *p) {                                                                                  \
        wrapped_data *d = p;                                                                                       \
        if (!d) return;                                                                                            \
        dense##_free(d->inner);                                                                                    \
        free(d);                                                                                                   \
    }                                                                                                              \
    size_t prefix##_summary(const void *p, char *buf, size_t cap) {                                                \
        return dense##_summary(((const wrapped_data *)p)->inner, buf, cap);                                        \
    }
WRAPPED_FREE_SUMMARY(sbert_sparse_reranking_eval, sbert_reranking_eval)
WRAPPED_FREE_SUMMARY(sbert_sparse_binary_eval, sbert_binary_eval)
WRAPPED_FREE_SUMMARY(sbert_sparse_mse_eval, sbert_mse_eval)

sbert_status sbert_sparse_reranking_eval_run(const void *p, const sbert_eval_encoder *enc, const char *name,
                                             sbert_eval_result *out) {
    const wrapped_data *d = p;
    wrap_state w;
    wrap_ctx ctx[3];
    sbert_eval_encoder te;
    wrap_setup(enc, d->k, 0, &w, ctx, &te);
    sbert_status st = sbert_reranking_eval_run(d->inner, &te, name, out);
    if (st == SBERT_OK) {
        put_sparsity(out, name, "query_", w.nnz[1], w.rows[1], enc->dim);
        put_sparsity(out, name, "corpus_", w.nnz[2], w.rows[2], enc->dim);
    }
    wrap_free(&w);
    return st;
}

typedef struct {
    const char *text;
    size_t nnz;
} text_nnz;

static int cmp_text_nnz(const void *a, const void *b) {
    return strcmp(((const text_nnz *)a)->text, ((const text_nnz *)b)->text);
}

sbert_status sbert_sparse_binary_eval_run(const void *p, const sbert_eval_encoder *enc, const char *name,
                                          sbert_eval_result *out) {
    const wrapped_data *d = p;
    wrap_state w;
    wrap_ctx ctx[3];
    sbert_eval_encoder te;
    wrap_setup(enc, d->k, 1, &w, ctx, &te);
    sbert_status st = sbert_binary_eval_run(d->inner, &te, name, out);
    text_nnz *idx = st == SBERT_OK ? malloc((w.n ? w.n : 1) * sizeof *idx) : NULL;
    if (st == SBERT_OK && !idx) st = sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    if (st == SBERT_OK) {
        /* the distinct sentences (Python: list({*sentences1, *sentences2})) */
        for (size_t i = 0; i < w.n; i++) idx[i] = (text_nnz){w.texts[i], w.row_nnz[i]};
        qsort(idx, w.n, sizeof *idx, cmp_text_nnz);
        size_t rows = 0, nnz = 0;
        for (size_t i = 0; i < w.n; i++)
            if (i == 0 || strcmp(idx[i].text, idx[i - 1].text)) {
                rows++;
                nnz += idx[i].nnz;
            }
        put_sparsity(out, name, "", nnz, rows, enc->dim);
    }
    free(idx);
    wrap_free(&w);
    return st;
}

sbert_status sbert_sparse_mse_eval_run(const void *p, const sbert_eval_encoder *enc, const char *name,
                                       sbert_eval_result *out) {
    const wrapped_data *d = p;
    wrap_state w;
    wrap_ctx ctx[3];
    sbert_eval_encoder te;
    wrap_setup(enc, d->k, 0, &w, ctx, &te);
    sbert_status st = sbert_mse_eval_run(d->inner, &te, name, out);
    if (st == SBERT_OK) put_sparsity(out, name, "", w.nnz[0], w.rows[0], enc->dim);
    wrap_free(&w);
    return st;
}

/* ------------------------------------------------------------ helpers */

void sbert_eval_active_dims_suffix(const sbert_eval_result *r, char *buf, size_t cap) {
    const char *sfx[2] = {"query_active_dims", "corpus_active_dims"};
    double v[2] = {NAN, NAN};
    for (size_t i = 0; i < r->n; i++)
        for (int k = 0; k < 2; k++) {
            size_t a = strlen(r->m[i].key), b = strlen(sfx[k]);
            if (a >= b && !strcmp(r->m[i].key + a - b, sfx[k])) v[k] = r->m[i].value;
        }
    char q[32], c[32];
    if (isnan(v[0])) snprintf(q, sizeof q, "n/a");
    else snprintf(q, sizeof q, "%.1f", v[0]);
    if (isnan(v[1])) snprintf(c, sizeof c, "n/a");
    else snprintf(c, sizeof c, "%.1f", v[1]);
    snprintf(buf, cap, " | query_active=%s corpus_active=%s", q, c);
}
