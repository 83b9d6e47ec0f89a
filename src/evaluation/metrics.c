/*
 * evaluation/metrics.c -- correlation and retrieval metrics, matching
 * scipy.stats and sentence-transformers' InformationRetrievalEvaluator.
 */
#include "evaluation/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

double sbert_pearson(const double *x, const double *y, size_t n) {
    if (n < 2) return NAN;
    double mx = 0, my = 0;
    for (size_t i = 0; i < n; i++) { mx += x[i]; my += y[i]; }
    mx /= (double)n;
    my /= (double)n;
    double sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < n; i++) {
        double dx = x[i] - mx, dy = y[i] - my;
        sxy += dx * dy; sxx += dx * dx; syy += dy * dy;
    }
    if (sxx == 0 || syy == 0) return NAN;
    double r = sxy / sqrt(sxx * syy);
    return r > 1 ? 1 : (r < -1 ? -1 : r);
}

typedef struct {
    double v;
    size_t i;
} vi_pair;

static int cmp_vi(const void *a, const void *b) {
    const vi_pair *p = a, *q = b;
    if (p->v < q->v) return -1;
    if (p->v > q->v) return 1;
    return p->i < q->i ? -1 : (p->i > q->i);
}

sbert_status sbert_rank_average(const double *x, size_t n, double *rank) {
    vi_pair *p = malloc((n ? n : 1) * sizeof *p);
    if (!p) return sbert_fail(SBERT_ERR_NOMEM, "ranking %zu values: out of memory", n);
    for (size_t i = 0; i < n; i++) { p[i].v = x[i]; p[i].i = i; }
    qsort(p, n, sizeof *p, cmp_vi);
    for (size_t a = 0; a < n;) {
        size_t b = a + 1;
        while (b < n && p[b].v == p[a].v) b++;
        double r = 0.5 * (double)(a + 1 + b); /* mean of ranks a+1 .. b */
        for (size_t k = a; k < b; k++) rank[p[k].i] = r;
        a = b;
    }
    free(p);
    return SBERT_OK;
}

double sbert_spearman(const double *x, const double *y, size_t n) {
    if (n < 2) return NAN;
    double *rx = malloc(n * sizeof *rx), *ry = malloc(n * sizeof *ry);
    double r = NAN;
    if (rx && ry && sbert_rank_average(x, n, rx) == SBERT_OK &&
        sbert_rank_average(y, n, ry) == SBERT_OK)
        r = sbert_pearson(rx, ry, n);
    free(rx);
    free(ry);
    return r;
}

sbert_ir_config sbert_ir_config_default(void) {
    sbert_ir_config c;
    memset(&c, 0, sizeof c);
    c.mrr_at_k[0] = 10; c.n_mrr = 1;
    c.ndcg_at_k[0] = 10; c.n_ndcg = 1;
    size_t ks[4] = {1, 3, 5, 10};
    for (int i = 0; i < 4; i++) { c.accuracy_at_k[i] = ks[i]; c.precision_recall_at_k[i] = ks[i]; }
    c.n_accuracy = 4; c.n_precision_recall = 4;
    c.map_at_k[0] = 100; c.n_map = 1;
    return c;
}

/* Ranking context for qsort: scores of one query and the corpus ids. */
typedef struct {
    float score;
    size_t idx;
    const char *id;
} hit;

static int cmp_hit(const void *a, const void *b) {
    const hit *p = a, *q = b;
    if (p->score > q->score) return -1;
    if (p->score < q->score) return 1;
    return strcmp(p->id, q->id);
}

static size_t max_in(const size_t *k, size_t n, size_t m) {
    for (size_t i = 0; i < n; i++) if (k[i] > m) m = k[i];
    return m;
}

static sbert_status push(sbert_metric *out, size_t cap, size_t *n, const char *fn,
                         const char *what, size_t k, double v) {
    if (*n >= cap)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "IR metrics: output holds only %zu metrics", cap);
    snprintf(out[*n].key, sizeof out[*n].key, "%s_%s@%zu", fn, what, k);
    out[*n].value = v;
    (*n)++;
    return SBERT_OK;
}

sbert_status sbert_ir_metrics(const float *scores, size_t nq, size_t nc,
                              const char *const *corpus_ids, const size_t *rel_offsets,
                              const size_t *rel_idx, const sbert_ir_config *cfg,
                              const char *fn_name, sbert_metric *out, size_t *n_out) {
    size_t cap = *n_out;
    *n_out = 0;
    size_t max_k = 0;
    max_k = max_in(cfg->mrr_at_k, cfg->n_mrr, max_k);
    max_k = max_in(cfg->ndcg_at_k, cfg->n_ndcg, max_k);
    max_k = max_in(cfg->accuracy_at_k, cfg->n_accuracy, max_k);
    max_k = max_in(cfg->precision_recall_at_k, cfg->n_precision_recall, max_k);
    max_k = max_in(cfg->map_at_k, cfg->n_map, max_k);
    /* Per-metric sums over evaluated queries, indexed like the k lists. */
    double acc[8] = {0}, prec[8] = {0}, rec[8] = {0}, ndcg[8] = {0}, mrr[8] = {0}, map[8] = {0};
    hit *h = malloc((nc ? nc : 1) * sizeof *h);
    unsigned char *is_rel = calloc(nc ? nc : 1, 1);
    if (!h || !is_rel) {
        free(h); free(is_rel);
        return sbert_fail(SBERT_ERR_NOMEM, "IR metrics: out of memory (corpus %zu)", nc);
    }
    size_t n_eval = 0;
    for (size_t q = 0; q < nq; q++) {
        size_t nrel = rel_offsets[q + 1] - rel_offsets[q];
        if (nrel == 0) continue;
        n_eval++;
        for (size_t r = rel_offsets[q]; r < rel_offsets[q + 1]; r++) is_rel[rel_idx[r]] = 1;
        for (size_t c = 0; c < nc; c++) {
            h[c].score = scores[q * nc + c]; h[c].idx = c; h[c].id = corpus_ids[c];
        }
        qsort(h, nc, sizeof *h, cmp_hit);
        size_t top = max_k < nc ? max_k : nc;
        for (size_t i = 0; i < cfg->n_accuracy; i++) {
            size_t k = cfg->accuracy_at_k[i];
            for (size_t j = 0; j < k && j < top; j++)
                if (is_rel[h[j].idx]) { acc[i] += 1; break; }
        }
        for (size_t i = 0; i < cfg->n_precision_recall; i++) {
            size_t k = cfg->precision_recall_at_k[i], correct = 0;
            for (size_t j = 0; j < k && j < top; j++) correct += is_rel[h[j].idx];
            prec[i] += (double)correct / (double)k;
            rec[i] += (double)correct / (double)nrel;
        }
        for (size_t i = 0; i < cfg->n_mrr; i++) {
            size_t k = cfg->mrr_at_k[i];
            for (size_t j = 0; j < k && j < top; j++)
                if (is_rel[h[j].idx]) { mrr[i] += 1.0 / (double)(j + 1); break; }
        }
        for (size_t i = 0; i < cfg->n_ndcg; i++) {
            size_t k = cfg->ndcg_at_k[i];
            double dcg = 0, idcg = 0;
            for (size_t j = 0; j < k && j < top; j++)
                if (is_rel[h[j].idx]) dcg += 1.0 / log2((double)j + 2);
            for (size_t j = 0; j < k && j < nrel; j++) idcg += 1.0 / log2((double)j + 2);
            ndcg[i] += dcg / idcg;
        }
        for (size_t i = 0; i < cfg->n_map; i++) {
            size_t k = cfg->map_at_k[i], correct = 0;
            double sum = 0;
            for (size_t j = 0; j < k && j < top; j++)
                if (is_rel[h[j].idx]) { correct++; sum += (double)correct / (double)(j + 1); }
            map[i] += sum / (double)(k < nrel ? k : nrel);
        }
        for (size_t r = rel_offsets[q]; r < rel_offsets[q + 1]; r++) is_rel[rel_idx[r]] = 0;
    }
    free(h);
    free(is_rel);
    if (n_eval == 0)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "IR metrics: no query has a relevant document (relevant_docs is empty)");
    double d = (double)n_eval;
    for (size_t i = 0; i < cfg->n_accuracy; i++)
        SBERT_TRY(push(out, cap, n_out, fn_name, "accuracy", cfg->accuracy_at_k[i], acc[i] / d));
    for (size_t i = 0; i < cfg->n_precision_recall; i++)
        SBERT_TRY(push(out, cap, n_out, fn_name, "precision", cfg->precision_recall_at_k[i], prec[i] / d));
    for (size_t i = 0; i < cfg->n_precision_recall; i++)
        SBERT_TRY(push(out, cap, n_out, fn_name, "recall", cfg->precision_recall_at_k[i], rec[i] / d));
    for (size_t i = 0; i < cfg->n_ndcg; i++)
        SBERT_TRY(push(out, cap, n_out, fn_name, "ndcg", cfg->ndcg_at_k[i], ndcg[i] / d));
    for (size_t i = 0; i < cfg->n_mrr; i++)
        SBERT_TRY(push(out, cap, n_out, fn_name, "mrr", cfg->mrr_at_k[i], mrr[i] / d));
    for (size_t i = 0; i < cfg->n_map; i++)
        SBERT_TRY(push(out, cap, n_out, fn_name, "map", cfg->map_at_k[i], map[i] / d));
    return SBERT_OK;
}
