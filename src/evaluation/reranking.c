/*
 * evaluation/reranking.c -- RerankingEvaluator (sentence-transformers): for
 * each sample {"query": text, "positive": [texts], "negative": [texts]}
 * (a JSONL file, one sample a line; a lone string counts as a list of one;
 * samples without a positive or a negative are dropped), the query
 * (encode_query) is scored against its positives and negatives
 * (encode_document) with cosine similarity; per query
 *   mrr@k   1 / rank of the first relevant document within the top k
 *   ndcg@k  sklearn ndcg_score (linear gain, log2 discount, ties averaged)
 *   ap      sklearn average_precision_score over all its documents
 * and the means: keys map, mrr@{at_k}, ndcg@{at_k}; primary ndcg@{at_k}.
 * Options: at_k (10), truncate_dim.
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
    float s;
    size_t i;
} sidx;

static int cmp_sidx(const void *a, const void *b) {
    const sidx *x = a, *y = b;
    if (x->s != y->s) return x->s < y->s ? 1 : -1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* sklearn ndcg_score([rel], [scores], k) for one query (ties averaged). */
static double ndcg_one(const double *rel, const sidx *sorted, size_t n, size_t k) {
    double *disc = malloc(n * sizeof *disc);
    if (!disc) return NAN;
    double cum = 0;
    for (size_t i = 0; i < n; i++) disc[i] = i < k ? 1.0 / log2((double)i + 2.0) : 0.0;
    /* DCG with tie averaging: each group of equal scores shares its gains */
    double dcg = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        double g = 0, dsum = 0;
        while (j < n && sorted[j].s == sorted[i].s) {
            g += rel[sorted[j].i];
            dsum += disc[j];
            j++;
        }
        dcg += g / (double)(j - i) * dsum;
        i = j;
    }
    /* ideal: gains sorted descending */
    double *gains = malloc(n * sizeof *gains);
    if (!gains) {
        free(disc);
        return NAN;
    }
    size_t np = 0;
    for (size_t i = 0; i < n; i++)
        if (rel[i] > 0) gains[np++] = rel[i];
    for (size_t i = 0; i < np; i++) cum += gains[i] * disc[i];
    free(gains);
    free(disc);
    return cum > 0 ? dcg / cum : 0.0;
}

double sbert_ndcg_of_scores(const double *rel, const double *scores, size_t n, size_t k) {
    sidx *s = malloc((n ? n : 1) * sizeof *s);
    if (!s) return NAN;
    for (size_t j = 0; j < n; j++) s[j] = (sidx){(float)scores[j], j};
    qsort(s, n, sizeof *s, cmp_sidx);
    double v = ndcg_one(rel, s, n, k);
    free(s);
    return v;
}

sbert_status sbert_reranking_metrics(const float *q, size_t nq, const float *docs, const size_t *doc_off,
                                     const size_t *n_pos, size_t dim, size_t at_k, double out[3]) {
    double map = 0, mrr = 0, ndcg = 0;
    size_t maxn = 0;
    for (size_t i = 0; i < nq; i++)
        if (doc_off[i + 1] - doc_off[i] > maxn) maxn = doc_off[i + 1] - doc_off[i];
    sidx *s = malloc((maxn ? maxn : 1) * sizeof *s);
    double *sc = malloc((maxn ? maxn : 1) * sizeof *sc), *rel = malloc((maxn ? maxn : 1) * sizeof *rel);
    if (!s || !sc || !rel) {
        free(s);
        free(sc);
        free(rel);
        return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < nq; i++) {
        size_t n = doc_off[i + 1] - doc_off[i];
        for (size_t j = 0; j < n; j++) {
            s[j].s = sbert_pair_score(q + i * dim, docs + (doc_off[i] + j) * dim, dim, 0);
            s[j].i = j;
            sc[j] = s[j].s;
            rel[j] = j < n_pos[i];
        }
        qsort(s, n, sizeof *s, cmp_sidx);
        double m = 0;
        for (size_t r = 0; r < n && r < at_k; r++)
            if (s[r].i < n_pos[i]) {
                m = 1.0 / (double)(r + 1);
                break;
            }
        mrr += m;
        ndcg += ndcg_one(rel, s, n, at_k);
        map += sbert_average_precision(sc, rel, n);
    }
    free(s);
    free(sc);
    free(rel);
    out[0] = map / (double)nq;
    out[1] = mrr / (double)nq;
    out[2] = ndcg / (double)nq;
    return SBERT_OK;
}

/* ------------------------------------------------------------ the evaluator */

typedef struct {
    cJSON **samples;
    size_t n;
    size_t at_k;
    const char **queries, **docs; /* [n], [doc_off[n]] */
    size_t *doc_off, *n_pos;
} rerank_data;

void sbert_reranking_eval_free(void *p) {
    rerank_data *d = p;
    if (!d) return;
    for (size_t i = 0; i < d->n; i++) cJSON_Delete(d->samples[i]);
    free(d->samples);
    free(d->queries);
    free(d->docs);
    free(d->doc_off);
    free(d->n_pos);
    free(d);
}

/* texts of a sample's "positive" / "negative" (a string or a list of strings) */
static sbert_status texts_of(const cJSON *v, const char *path, size_t line, const char *key, const char ***out,
                             size_t *n, size_t *cap) {
    if (cJSON_IsString(v)) {
        if (*n == *cap) {
            *cap = *cap ? 2 * *cap : 256;
            const char **nt = realloc(*out, *cap * sizeof *nt);
            if (!nt) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
            *out = nt;
        }
        (*out)[(*n)++] = v->valuestring;
        return SBERT_OK;
    }
    if (!cJSON_IsArray(v))
        return sbert_fail(SBERT_ERR_FORMAT, "%s:%zu: \"%s\" must be a text or a list of texts", path, line, key);
    const cJSON *e;
    cJSON_ArrayForEach(e, v) {
        if (!cJSON_IsString(e))
            return sbert_fail(SBERT_ERR_FORMAT, "%s:%zu: \"%s\" must hold texts only", path, line, key);
        SBERT_TRY(texts_of(e, path, line, key, out, n, cap));
    }
    return SBERT_OK;
}

sbert_status sbert_reranking_eval_load(const char *path, size_t max_samples, sbert_eval_opts *opts, void **out) {
    *out = NULL;
    rerank_data *d = calloc(1, sizeof *d);
    if (!d) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    sbert_status st = sbert_eval_opt_size(opts, "at_k", 10, 1, 1u << 20, &d->at_k);
    char *text = NULL;
    size_t len = 0;
    if (st == SBERT_OK) st = sbert_read_file(path, &text, &len);
    size_t cap = 0, dcap = 0, nd = 0, line = 0;
    for (char *s = text, *nl; st == SBERT_OK && s && *s; s = nl ? nl + 1 : NULL) {
        nl = strchr(s, '\n');
        if (nl) *nl = '\0';
        line++;
        if (!*s || strspn(s, " \t\r") == strlen(s)) continue;
        if (max_samples && d->n == max_samples) break;
        cJSON *o = cJSON_Parse(s);
        const cJSON *qv = o ? cJSON_GetObjectItemCaseSensitive(o, "query") : NULL;
        const cJSON *pv = o ? cJSON_GetObjectItemCaseSensitive(o, "positive") : NULL;
        const cJSON *nv = o ? cJSON_GetObjectItemCaseSensitive(o, "negative") : NULL;
        if (!o || !cJSON_IsString(qv) || !pv || !nv) {
            cJSON_Delete(o);
            st = sbert_fail(SBERT_ERR_FORMAT,
                            "%s:%zu: a RerankingEvaluator sample is {\"query\": text, \"positive\": [texts], "
                            "\"negative\": [texts]}",
                            path, line);
            break;
        }
        size_t n0 = nd;
        st = texts_of(pv, path, line, "positive", &d->docs, &nd, &dcap);
        size_t np = nd - n0;
        if (st == SBERT_OK) st = texts_of(nv, path, line, "negative", &d->docs, &nd, &dcap);
        if (st != SBERT_OK || np == 0 || nd - n0 == np) { /* no positive or no negative: dropped */
            nd = n0;
            cJSON_Delete(o);
            continue;
        }
        if (d->n == cap) {
            cap = cap ? 2 * cap : 64;
            cJSON **ns = realloc(d->samples, cap * sizeof *ns);
            const char **nq = realloc(d->queries, cap * sizeof *nq);
            size_t *no = realloc(d->doc_off, (cap + 1) * sizeof *no), *npp = realloc(d->n_pos, cap * sizeof *npp);
            if (ns) d->samples = ns;
            if (nq) d->queries = nq;
            if (no) d->doc_off = no;
            if (npp) d->n_pos = npp;
            if (!ns || !nq || !no || !npp) {
                cJSON_Delete(o);
                st = sbert_fail(SBERT_ERR_NOMEM, "out of memory");
                break;
            }
        }
        d->samples[d->n] = o;
        d->queries[d->n] = qv->valuestring;
        d->doc_off[d->n] = n0;
        d->n_pos[d->n] = np;
        d->n++;
        d->doc_off[d->n] = nd;
    }
    free(text);
    if (st == SBERT_OK && d->n == 0)
        st = sbert_fail(SBERT_ERR_FORMAT, "%s: no sample with both a positive and a negative", path);
    if (st != SBERT_OK) {
        sbert_reranking_eval_free(d);
        return st;
    }
    *out = d;
    return SBERT_OK;
}

sbert_status sbert_reranking_eval_run(const void *p, const sbert_eval_encoder *enc, const char *name,
                                      sbert_eval_result *out) {
    const rerank_data *d = p;
    const size_t D = enc->dim, nd = d->doc_off[d->n];
    float *q = malloc(d->n * D * sizeof *q), *docs = malloc(nd * D * sizeof *docs);
    sbert_status st = q && docs ? SBERT_OK : sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    if (st == SBERT_OK) st = enc->fn(enc->query_ctx ? enc->query_ctx : enc->ctx, d->queries, d->n, q);
    if (st == SBERT_OK) st = enc->fn(enc->document_ctx ? enc->document_ctx : enc->ctx, d->docs, nd, docs);
    double m[3];
    if (st == SBERT_OK) st = sbert_reranking_metrics(q, d->n, docs, d->doc_off, d->n_pos, D, d->at_k, m);
    if (st == SBERT_OK) {
        char k1[32], k2[32];
        snprintf(k1, sizeof k1, "mrr@%zu", d->at_k);
        snprintf(k2, sizeof k2, "ndcg@%zu", d->at_k);
        sbert_eval_put(out, name, "map", m[0]);
        sbert_eval_put(out, name, k1, m[1]);
        sbert_eval_put(out, name, k2, m[2]);
        sbert_eval_set_primary(out, name, k2);
    }
    free(q);
    free(docs);
    return st;
}

size_t sbert_reranking_eval_summary(const void *p, char *buf, size_t cap) {
    const rerank_data *d = p;
    return (size_t)snprintf(buf, cap, "%zu queries, %zu candidates", d->n, d->doc_off[d->n]);
}
