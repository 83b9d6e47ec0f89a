/*
 * evaluation/rrf.c -- ReciprocalRankFusionEvaluator (sentence-transformers
 * sparse_encoder/evaluation/reciprocal_rank_fusion.py): hybrid search from
 * two first-stage rankings, no model involved. The data file is a JSON
 * object
 *   {"dense_samples":  [{"query_id", "query", "positive": text | [texts],
 *                        "documents": [texts, best first]}, ...],
 *    "sparse_samples": [the same queries, in the same order]}
 * For each query the dense ranking, the sparse ranking and their fusion
 * (score(doc) = 1 / (rrf_k + dense rank) + 1 / (rrf_k + sparse rank), ranks
 * from 1, a document absent from a list gets nothing from it; sorted by
 * score, ties in first-seen order, dense documents first) are measured as
 * Python does: relevance = the document text is a positive, positives not
 * retrieved are appended after the list as relevant; with the scores
 * n, n-1, ..., 1: mrr@at_k, sklearn ndcg@at_k and average precision (0, 0, 0
 * when no positive was retrieved). Keys dense_map, dense_mrr@k,
 * dense_ndcg@k, sparse_map, sparse_mrr@k, sparse_ndcg@k, map, mrr@k,
 * ndcg@k (primary). Options: at_k (10), rrf_k (60).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/error.h"
#include "evaluation/st_evaluators.h"
#include "io/file.h"

typedef struct {
    cJSON *json;
    const cJSON *dense, *sparse;
    size_t n, at_k, rrf_k, max_docs;
} rrf_data;

void sbert_rrf_eval_free(void *p) {
    rrf_data *d = p;
    if (!d) return;
    cJSON_Delete(d->json);
    free(d);
}

/* A sample's positive texts: a string or a list of strings. */
static int is_texts(const cJSON *v) {
    if (cJSON_IsString(v)) return 1;
    if (!cJSON_IsArray(v)) return 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, v) if (!cJSON_IsString(e)) return 0;
    return 1;
}

static sbert_status check_sample(const char *path, const char *list, size_t i, const cJSON *s, size_t *max_docs) {
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(s, "query"), *p = cJSON_GetObjectItemCaseSensitive(s, "positive"),
                *docs = cJSON_GetObjectItemCaseSensitive(s, "documents"),
                *id = cJSON_GetObjectItemCaseSensitive(s, "query_id");
    if (!cJSON_IsObject(s) || !id)
        return sbert_fail(SBERT_ERR_FORMAT, "%s: %s[%zu]: sample is missing 'query_id'", path, list, i);
    if (!cJSON_IsString(q) || !is_texts(p) || !cJSON_IsArray(docs) || !is_texts(docs))
        return sbert_fail(SBERT_ERR_FORMAT,
                          "%s: %s[%zu]: a sample is {\"query_id\", \"query\": text, \"positive\": text or [texts], "
                          "\"documents\": [texts]}",
                          path, list, i);
    size_t nd = (size_t)cJSON_GetArraySize(docs) + (cJSON_IsArray(p) ? (size_t)cJSON_GetArraySize(p) : 1);
    if (nd > *max_docs) *max_docs = nd;
    return SBERT_OK;
}

sbert_status sbert_rrf_eval_load(const char *path, size_t max_samples, sbert_eval_opts *opts, void **out) {
    *out = NULL;
    rrf_data *d = calloc(1, sizeof *d);
    if (!d) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    sbert_status st = sbert_eval_opt_size(opts, "at_k", 10, 1, 1u << 20, &d->at_k);
    if (st == SBERT_OK) st = sbert_eval_opt_size(opts, "rrf_k", 60, 0, 1u << 30, &d->rrf_k);
    char *text = NULL;
    size_t len = 0;
    if (st == SBERT_OK) st = sbert_read_file(path, &text, &len);
    if (st == SBERT_OK) {
        d->json = cJSON_ParseWithLength(text, len);
        d->dense = cJSON_GetObjectItemCaseSensitive(d->json, "dense_samples");
        d->sparse = cJSON_GetObjectItemCaseSensitive(d->json, "sparse_samples");
        if (!d->json || !cJSON_IsArray(d->dense) || !cJSON_IsArray(d->sparse))
            st = sbert_fail(SBERT_ERR_FORMAT,
                            "%s: ReciprocalRankFusionEvaluator reads a JSON object {\"dense_samples\": [...], "
                            "\"sparse_samples\": [...]}",
                            path);
    }
    free(text);
    if (st == SBERT_OK) {
        size_t nd = (size_t)cJSON_GetArraySize(d->dense), ns = (size_t)cJSON_GetArraySize(d->sparse);
        if (nd != ns)
            st = sbert_fail(SBERT_ERR_FORMAT, "%s: dense samples (%zu) and sparse samples (%zu) must have the same length",
                            path, nd, ns);
        d->n = max_samples && max_samples < nd ? max_samples : nd;
        if (st == SBERT_OK && d->n == 0) st = sbert_fail(SBERT_ERR_FORMAT, "%s: no samples", path);
    }
    for (size_t i = 0; st == SBERT_OK && i < d->n; i++) {
        const cJSON *a = cJSON_GetArrayItem(d->dense, (int)i), *b = cJSON_GetArrayItem(d->sparse, (int)i);
        st = check_sample(path, "dense_samples", i, a, &d->max_docs);
        if (st == SBERT_OK) st = check_sample(path, "sparse_samples", i, b, &d->max_docs);
        if (st == SBERT_OK) {
            char *x = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(a, "query_id"));
            char *y = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(b, "query_id"));
            if (!x || !y) st = sbert_fail(SBERT_ERR_NOMEM, "out of memory");
            else if (strcmp(x, y))
                st = sbert_fail(SBERT_ERR_FORMAT, "%s: query_id mismatch at index %zu: %s != %s", path, i, x, y);
            cJSON_free(x);
            cJSON_free(y);
        }
    }
    if (st != SBERT_OK) {
        sbert_rrf_eval_free(d);
        return st;
    }
    *out = d;
    return SBERT_OK;
}

/* 1 when text is one of the positives. */
static int is_positive(const cJSON *pos, const char *text) {
    if (cJSON_IsString(pos)) return !strcmp(pos->valuestring, text);
    const cJSON *e;
    cJSON_ArrayForEach(e, pos) if (!strcmp(e->valuestring, text)) return 1;
    return 0;
}

/* mrr@k, ndcg@k, ap of a ranked list of n documents (rel[] 0/1) with
 * the missing positives appended; rel and sc have room for them. */
static void list_metrics(double *rel, double *sc, size_t n, size_t n_pos, size_t at_k, double m[3]) {
    size_t hits = 0;
    for (size_t j = 0; j < n; j++) hits += rel[j] > 0;
    m[0] = m[1] = m[2] = 0;
    if (hits == 0) return;
    for (size_t j = hits; j < n_pos; j++) rel[n++] = 1;
    for (size_t j = 0; j < n; j++) sc[j] = (double)(n - j);
    for (size_t r = 0; r < n && r < at_k; r++)
        if (rel[r] > 0) {
            m[0] = 1.0 / (double)(r + 1);
            break;
        }
    m[1] = sbert_ndcg_of_scores(rel, sc, n, at_k);
    m[2] = sbert_average_precision(sc, rel, n);
}

typedef struct {
    const char *doc;
    double score;
    size_t order;
} fused;

static int cmp_fused(const void *a, const void *b) {
    const fused *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* The rank (from 1) of doc in docs as Python's {doc: rank} holds it (the last occurrence), or 0. */
static size_t rank_of(const cJSON *docs, const char *doc) {
    size_t r = 0, k = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, docs) {
        k++;
        if (!strcmp(e->valuestring, doc)) r = k;
    }
    return r;
}

sbert_status sbert_rrf_eval_run(const void *p, const sbert_eval_encoder *enc, const char *name,
                                sbert_eval_result *out) {
    (void)enc; /* the rankings are given */
    const rrf_data *d = p;
    const size_t cap = 2 * d->max_docs + 1;
    double *rel = malloc(cap * sizeof *rel), *sc = malloc(cap * sizeof *sc);
    fused *f = malloc(cap * sizeof *f);
    if (!rel || !sc || !f) {
        free(rel);
        free(sc);
        free(f);
        return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    }
    double sum[3][3] = {{0}};
    for (size_t i = 0; i < d->n; i++) {
        const cJSON *ds = cJSON_GetArrayItem(d->dense, (int)i), *ss = cJSON_GetArrayItem(d->sparse, (int)i);
        const cJSON *pos = cJSON_GetObjectItemCaseSensitive(ds, "positive");
        size_t n_pos = cJSON_IsString(pos) ? 1 : (size_t)cJSON_GetArraySize(pos);
        const cJSON *lists[2] = {cJSON_GetObjectItemCaseSensitive(ds, "documents"),
                                 cJSON_GetObjectItemCaseSensitive(ss, "documents")};
        double m[3];
        size_t nf = 0;
        for (int l = 0; l < 2; l++) {
            size_t n = 0;
            const cJSON *e;
            cJSON_ArrayForEach(e, lists[l]) {
                rel[n++] = is_positive(pos, e->valuestring);
                /* the fused list: distinct documents, dense ones first, first-seen order */
                size_t k = 0;
                while (k < nf && strcmp(f[k].doc, e->valuestring)) k++;
                if (k == nf) f[nf++] = (fused){e->valuestring, 0, nf};
            }
            list_metrics(rel, sc, n, n_pos, d->at_k, m);
            for (int k = 0; k < 3; k++) sum[l][k] += m[k];
        }
        for (size_t k = 0; k < nf; k++) {
            size_t rd = rank_of(lists[0], f[k].doc), rs = rank_of(lists[1], f[k].doc);
            double s = 0.0;
            if (rd) s += 1.0 / (double)(d->rrf_k + rd);
            if (rs) s += 1.0 / (double)(d->rrf_k + rs);
            f[k].score = s;
        }
        qsort(f, nf, sizeof *f, cmp_fused);
        for (size_t k = 0; k < nf; k++) rel[k] = is_positive(pos, f[k].doc);
        list_metrics(rel, sc, nf, n_pos, d->at_k, m);
        for (int k = 0; k < 3; k++) sum[2][k] += m[k];
    }
    free(rel);
    free(sc);
    free(f);
    static const char *const prefix[3] = {"dense_", "sparse_", ""};
    for (int l = 0; l < 3; l++) {
        char key[64];
        snprintf(key, sizeof key, "%smap", prefix[l]);
        sbert_eval_put(out, name, key, sum[l][2] / (double)d->n);
        snprintf(key, sizeof key, "%smrr@%zu", prefix[l], d->at_k);
        sbert_eval_put(out, name, key, sum[l][0] / (double)d->n);
        snprintf(key, sizeof key, "%sndcg@%zu", prefix[l], d->at_k);
        sbert_eval_put(out, name, key, sum[l][1] / (double)d->n);
        if (l == 2) sbert_eval_set_primary(out, name, key);
    }
    return SBERT_OK;
}

size_t sbert_rrf_eval_summary(const void *p, char *buf, size_t cap) {
    return (size_t)snprintf(buf, cap, "%zu queries with dense and sparse rankings", ((const rrf_data *)p)->n);
}
