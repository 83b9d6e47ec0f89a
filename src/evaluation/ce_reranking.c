/*
 * evaluation/ce_reranking.c -- CrossEncoderRerankingEvaluator
 * (sentence-transformers v6.2): per query, rerank its candidates with the
 * model's predict and measure MRR@k, NDCG@k and MAP (ce_metrics.c).
 *
 * A sample is {"query", "positive": [...], "negative": [...]} (candidates:
 * positives then negatives) or {"query", "positive": [...], "documents":
 * [...]} (a first-stage ranking: its own metrics are reported as base_*;
 * always_rerank_positives puts the positives first and drops them from the
 * documents, else only the documents are reranked). A query without a
 * relevant candidate scores 0. Metrics: map, mrr@{k}, ndcg@{k} (primary),
 * plus base_map, base_mrr@{k}, base_ndcg@{k} with documents.
 *
 * Data files:
 *   .jsonl   one sample per line (through the dataset loader: "positive"
 *            may be a text or a list of texts);
 *   .json    {"samples": [...], "at_k": 10, "always_rerank_positives": true},
 *            or a local corpus in the NanoBEIR style: {"queries": {qid: text},
 *            "corpus": {cid: text}, "relevant_docs": {qid: [cid]},
 *            "rankings": {qid: [cid, ...]} (a first-stage ranking, best
 *            first), "rerank_k": 100, "at_k": 10, "always_rerank_positives":
 *            true}: each query with relevant documents becomes a sample with
 *            its relevant documents as positives and the top rerank_k of its
 *            ranking as documents (as CrossEncoderNanoBEIREvaluator builds
 *            them from the BM25 rankings).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "base/error.h"
#include "data/dataset.h"
#include "evaluation/ce_metrics.h"
#include "evaluation/evaluators.h"
#include "io/file.h"

typedef struct {
    const char *query;
    const char **pos, **cand; /* cand: negatives, or documents */
    size_t n_pos, n_cand;
    int docs;                 /* cand are documents (a first-stage ranking) */
} sample;

typedef struct {
    sample *s;
    size_t n;
    size_t at_k;
    int always_rerank_positives;
    size_t rerank_k; /* local corpus: documents per query (0: not one) */
    /* storage */
    sbert_dataset *ds;
    cJSON *json;
    const char **ptrs; /* all pos/cand pointer arrays, one block */
} rerank_data;

static sbert_status nomem(void) { return sbert_fail(SBERT_ERR_NOMEM, "out of memory (CrossEncoderRerankingEvaluator)"); }

void sbert_ce_rerank_eval_free(void *ptr) {
    rerank_data *d = ptr;
    if (!d) return;
    sbert_dataset_free(d->ds);
    cJSON_Delete(d->json);
    free(d->ptrs);
    free(d->s);
    free(d);
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcasecmp(s + a - b, suf) == 0;
}

/* Pointer arrays for `total` strings. */
static sbert_status alloc_ptrs(rerank_data *d, size_t total) {
    d->ptrs = malloc((total ? total : 1) * sizeof *d->ptrs);
    return d->ptrs ? SBERT_OK : nomem();
}

/* ------------------------------------------------------------- JSONL */

static sbert_status load_jsonl(rerank_data *d, const char *path) {
    SBERT_TRY(sbert_dataset_load(path, &d->ds));
    sbert_dataset *ds = d->ds;
    int q = sbert_dataset_find_column(ds, "query"), p = sbert_dataset_find_column(ds, "positive");
    int ng = sbert_dataset_find_column(ds, "negative"), dc = sbert_dataset_find_column(ds, "documents");
    if (q < 0 || p < 0 || (ng < 0) == (dc < 0))
        return sbert_fail(SBERT_ERR_FORMAT,
                          "%s: CrossEncoderRerankingEvaluator samples need \"query\", \"positive\" and exactly one of "
                          "\"negative\" and \"documents\"",
                          path);
    int c = ng >= 0 ? ng : dc;
    const sbert_column *cq = &ds->cols[q], *cp = &ds->cols[p], *cc = &ds->cols[c];
    if (cq->kind != SBERT_COL_TEXT) return sbert_fail(SBERT_ERR_FORMAT, "%s: \"query\" must be a text", path);
    if (cp->kind != SBERT_COL_TEXT && cp->kind != SBERT_COL_TEXT_LIST)
        return sbert_fail(SBERT_ERR_FORMAT, "%s: \"positive\" must be a text or a list of texts", path);
    if (cc->kind != SBERT_COL_TEXT && cc->kind != SBERT_COL_TEXT_LIST)
        return sbert_fail(SBERT_ERR_FORMAT, "%s: \"%s\" must be a list of texts", path, cc->name);
    d->n = ds->n_rows;
    d->s = calloc(d->n ? d->n : 1, sizeof *d->s);
    if (!d->s) return nomem();
    size_t total = 0;
    for (size_t r = 0; r < d->n; r++)
        total += (cp->off ? cp->off[r + 1] - cp->off[r] : 1) + (cc->off ? cc->off[r + 1] - cc->off[r] : 1);
    SBERT_TRY(alloc_ptrs(d, total));
    size_t k = 0;
    for (size_t r = 0; r < d->n; r++) {
        sample *s = &d->s[r];
        s->query = cq->text[r];
        s->docs = c == dc;
        s->pos = d->ptrs + k;
        if (cp->off)
            for (size_t i = cp->off[r]; i < cp->off[r + 1]; i++) d->ptrs[k++] = cp->items[i];
        else
            d->ptrs[k++] = cp->text[r];
        s->n_pos = (size_t)(d->ptrs + k - s->pos);
        s->cand = d->ptrs + k;
        if (cc->off)
            for (size_t i = cc->off[r]; i < cc->off[r + 1]; i++) d->ptrs[k++] = cc->items[i];
        else
            d->ptrs[k++] = cc->text[r];
        s->n_cand = (size_t)(d->ptrs + k - s->cand);
    }
    return SBERT_OK;
}

/* ------------------------------------------------------------- JSON */

/* Texts of a JSON string or array of strings; *n set; appends to ptrs[*k]. */
static sbert_status texts_of(const cJSON *v, const char *path, size_t si, const char *key, rerank_data *d, size_t *k,
                             const char ***first, size_t *n) {
    *first = d->ptrs + *k;
    if (cJSON_IsString(v)) {
        d->ptrs[(*k)++] = v->valuestring;
    } else if (cJSON_IsArray(v)) {
        const cJSON *it;
        cJSON_ArrayForEach(it, v) {
            if (!cJSON_IsString(it))
                return sbert_fail(SBERT_ERR_FORMAT, "%s: sample %zu: \"%s\" must hold texts", path, si, key);
            d->ptrs[(*k)++] = it->valuestring;
        }
    } else {
        return sbert_fail(SBERT_ERR_FORMAT, "%s: sample %zu: \"%s\" must be a text or a list of texts", path, si, key);
    }
    *n = (size_t)(d->ptrs + *k - *first);
    return SBERT_OK;
}

static size_t count_texts(const cJSON *v) { return cJSON_IsArray(v) ? (size_t)cJSON_GetArraySize(v) : 1; }

static sbert_status options(rerank_data *d, const cJSON *j, const char *path) {
    int present = 0;
    SBERT_TRY(sbert_json_size(j, "at_k", path, &d->at_k, &present));
    if (present && d->at_k == 0) return sbert_fail(SBERT_ERR_FORMAT, "%s: \"at_k\" must be at least 1", path);
    if (!present) d->at_k = 10;
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "always_rerank_positives");
    if (a && !cJSON_IsBool(a)) return sbert_fail(SBERT_ERR_FORMAT, "%s: \"always_rerank_positives\" must be true or false", path);
    if (a) d->always_rerank_positives = cJSON_IsTrue(a);
    static const char *const known[] = {"samples", "at_k", "always_rerank_positives", "queries", "corpus",
                                        "relevant_docs", "rankings", "rerank_k"};
    const cJSON *it;
    cJSON_ArrayForEach(it, j) {
        int ok = 0;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) ok |= !strcmp(it->string, known[i]);
        if (!ok)
            return sbert_fail(SBERT_ERR_FORMAT,
                              "%s: unknown key \"%s\" (CrossEncoderRerankingEvaluator reads samples, at_k, "
                              "always_rerank_positives, or queries/corpus/relevant_docs/rankings/rerank_k)",
                              path, it->string);
    }
    return SBERT_OK;
}

static sbert_status load_samples(rerank_data *d, const cJSON *arr, const char *path) {
    if (!cJSON_IsArray(arr)) return sbert_fail(SBERT_ERR_FORMAT, "%s: \"samples\" must be a list", path);
    d->n = (size_t)cJSON_GetArraySize(arr);
    d->s = calloc(d->n ? d->n : 1, sizeof *d->s);
    if (!d->s) return nomem();
    size_t total = 0, i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, arr) {
        total += count_texts(cJSON_GetObjectItemCaseSensitive(e, "positive"));
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "negative");
        if (!c) c = cJSON_GetObjectItemCaseSensitive(e, "documents");
        total += count_texts(c);
    }
    SBERT_TRY(alloc_ptrs(d, total));
    size_t k = 0;
    cJSON_ArrayForEach(e, arr) {
        sample *s = &d->s[i];
        const cJSON *q = cJSON_GetObjectItemCaseSensitive(e, "query");
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(e, "positive");
        const cJSON *ng = cJSON_GetObjectItemCaseSensitive(e, "negative");
        const cJSON *dc = cJSON_GetObjectItemCaseSensitive(e, "documents");
        if (!cJSON_IsString(q))
            return sbert_fail(SBERT_ERR_FORMAT, "%s: sample %zu: CrossEncoderRerankingEvaluator requires a 'query' key",
                              path, i);
        if (!p)
            return sbert_fail(SBERT_ERR_FORMAT,
                              "%s: sample %zu: CrossEncoderRerankingEvaluator requires a 'positive' key", path, i);
        if (!ng == !dc)
            return sbert_fail(SBERT_ERR_FORMAT,
                              "%s: sample %zu: CrossEncoderRerankingEvaluator requires exactly one of 'negative' and "
                              "'documents'",
                              path, i);
        s->query = q->valuestring;
        s->docs = dc != NULL;
        SBERT_TRY(texts_of(p, path, i, "positive", d, &k, &s->pos, &s->n_pos));
        SBERT_TRY(texts_of(ng ? ng : dc, path, i, ng ? "negative" : "documents", d, &k, &s->cand, &s->n_cand));
        i++;
    }
    return SBERT_OK;
}

/* A local corpus: each query's relevant documents and the top rerank_k of its ranking. */
static sbert_status load_corpus(rerank_data *d, const cJSON *j, const char *path) {
    const cJSON *queries = cJSON_GetObjectItemCaseSensitive(j, "queries");
    const cJSON *corpus = cJSON_GetObjectItemCaseSensitive(j, "corpus");
    const cJSON *rel = cJSON_GetObjectItemCaseSensitive(j, "relevant_docs");
    const cJSON *rank = cJSON_GetObjectItemCaseSensitive(j, "rankings");
    if (!cJSON_IsObject(queries) || !cJSON_IsObject(corpus) || !cJSON_IsObject(rel) || !cJSON_IsObject(rank))
        return sbert_fail(SBERT_ERR_FORMAT,
                          "%s: a local reranking corpus needs the objects \"queries\", \"corpus\", \"relevant_docs\" "
                          "and \"rankings\" (first-stage ranking per query)",
                          path);
    int present = 0;
    d->rerank_k = 100;
    SBERT_TRY(sbert_json_size(j, "rerank_k", path, &d->rerank_k, &present));
    if (d->rerank_k == 0) return sbert_fail(SBERT_ERR_FORMAT, "%s: \"rerank_k\" must be at least 1", path);
    size_t nq = 0, total = 0;
    const cJSON *q;
    cJSON_ArrayForEach(q, queries) {
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(rel, q->string);
        if (!cJSON_IsArray(r) || cJSON_GetArraySize(r) == 0) continue;
        const cJSON *rk = cJSON_GetObjectItemCaseSensitive(rank, q->string);
        if (!cJSON_IsArray(rk))
            return sbert_fail(SBERT_ERR_FORMAT, "%s: query \"%s\" has relevant documents but no list in \"rankings\"",
                              path, q->string);
        size_t nr = (size_t)cJSON_GetArraySize(rk);
        total += (size_t)cJSON_GetArraySize(r) + (nr < d->rerank_k ? nr : d->rerank_k);
        nq++;
    }
    d->s = calloc(nq ? nq : 1, sizeof *d->s);
    if (!d->s) return nomem();
    SBERT_TRY(alloc_ptrs(d, total));
    size_t k = 0, i = 0;
    cJSON_ArrayForEach(q, queries) {
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(rel, q->string);
        if (!cJSON_IsArray(r) || cJSON_GetArraySize(r) == 0) continue;
        if (!cJSON_IsString(q)) return sbert_fail(SBERT_ERR_FORMAT, "%s: query \"%s\" is not a text", path, q->string);
        sample *s = &d->s[i++];
        s->query = q->valuestring;
        s->docs = 1;
        for (int pass = 0; pass < 2; pass++) {
            const cJSON *ids = pass ? cJSON_GetObjectItemCaseSensitive(rank, q->string) : r, *id;
            const char **first = d->ptrs + k;
            size_t taken = 0;
            cJSON_ArrayForEach(id, ids) {
                if (pass && taken == d->rerank_k) break;
                const cJSON *t = cJSON_IsString(id) ? cJSON_GetObjectItemCaseSensitive(corpus, id->valuestring) : NULL;
                if (!cJSON_IsString(t))
                    return sbert_fail(SBERT_ERR_FORMAT, "%s: query \"%s\": %s id %s%s%s is not a text of \"corpus\"",
                                      path, q->string, pass ? "ranked" : "relevant", cJSON_IsString(id) ? "\"" : "",
                                      cJSON_IsString(id) ? id->valuestring : "(not a string)",
                                      cJSON_IsString(id) ? "\"" : "");
                d->ptrs[k++] = t->valuestring;
                taken++;
            }
            if (pass) {
                s->cand = first;
                s->n_cand = taken;
            } else {
                s->pos = first;
                s->n_pos = taken;
            }
        }
    }
    d->n = nq;
    return SBERT_OK;
}

sbert_status sbert_ce_rerank_eval_load(const char *path, size_t max_samples, void **out) {
    *out = NULL;
    rerank_data *d = calloc(1, sizeof *d);
    if (!d) return nomem();
    d->at_k = 10;
    d->always_rerank_positives = 1;
    sbert_status st;
    if (ends_with(path, ".json")) {
        st = sbert_json_load(path, &d->json);
        if (st == SBERT_OK && !cJSON_IsObject(d->json))
            st = sbert_fail(SBERT_ERR_FORMAT, "%s: expected a JSON object (or use .jsonl for one sample per line)", path);
        if (st == SBERT_OK) st = options(d, d->json, path);
        if (st == SBERT_OK) {
            const cJSON *samples = cJSON_GetObjectItemCaseSensitive(d->json, "samples");
            st = samples ? load_samples(d, samples, path) : load_corpus(d, d->json, path);
        }
    } else {
        st = load_jsonl(d, path);
    }
    if (st == SBERT_OK && max_samples && max_samples < d->n) d->n = max_samples;
    if (st == SBERT_OK && d->n == 0) st = sbert_fail(SBERT_ERR_FORMAT, "%s: no samples", path);
    if (st != SBERT_OK) {
        sbert_ce_rerank_eval_free(d);
        return st;
    }
    *out = d;
    return SBERT_OK;
}

size_t sbert_ce_rerank_eval_summary(const void *ptr, char *buf, size_t cap) {
    const rerank_data *d = ptr;
    size_t cand = 0;
    for (size_t i = 0; i < d->n; i++) cand += d->s[i].n_pos + d->s[i].n_cand;
    if (d->rerank_k)
        return (size_t)snprintf(buf, cap, "%zu queries, top %zu of a first-stage ranking reranked", d->n, d->rerank_k);
    return (size_t)snprintf(buf, cap, "%zu queries, %zu candidates", d->n, cand);
}

static int in_list(const char *s, const char *const *l, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s, l[i])) return 1;
    return 0;
}

sbert_status sbert_ce_rerank_eval_run(const void *ptr, const sbert_eval_encoder *enc, const char *name,
                                      sbert_eval_result *out) {
    const rerank_data *d = ptr;
    memset(out, 0, sizeof *out);
    if (!enc->predict)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "CrossEncoderRerankingEvaluator needs a CrossEncoder (it reranks with "
                                                 "predict)");
    if (enc->num_labels != 1)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "CrossEncoderRerankingEvaluator needs num_labels 1 (the model has %zu)",
                          enc->num_labels);
    /* Candidates and relevance of every sample, and the pairs to score. */
    size_t total = 0;
    for (size_t i = 0; i < d->n; i++) total += d->s[i].n_pos + d->s[i].n_cand;
    const char **qa = malloc((total ? total : 1) * sizeof *qa), **da = malloc((total ? total : 1) * sizeof *da);
    int *rel = malloc((total ? total : 1) * sizeof *rel);
    size_t *start = malloc((d->n + 1) * sizeof *start);
    int *skip = calloc(d->n ? d->n : 1, sizeof *skip);
    float *scores = malloc((total ? total : 1) * sizeof *scores);
    double *sc = malloc((total + 1) * sizeof *sc);
    double sums[6] = {0, 0, 0, 0, 0, 0}; /* map, mrr, ndcg, base map, mrr, ndcg */
    int any_docs = 0;
    sbert_status st = qa && da && rel && start && skip && scores && sc ? SBERT_OK : nomem();
    size_t P = 0;
    for (size_t i = 0; st == SBERT_OK && i < d->n; i++) {
        const sample *s = &d->s[i];
        start[i] = P;
        if (s->docs) {
            any_docs = 1;
            /* base ranking: the documents' order, missing positives appended as relevant */
            size_t n = 0, hits = 0;
            for (size_t j = 0; j < s->n_cand; j++) {
                rel[P + n] = in_list(s->cand[j], s->pos, s->n_pos);
                hits += (size_t)rel[P + n++];
            }
            if (hits > 0) {
                for (size_t j = hits; j < s->n_pos; j++) rel[P + n++] = 1;
                for (size_t j = 0; j < n; j++) sc[j] = (double)(n - j);
                double mrr, ndcg, ap;
                st = sbert_rerank_metrics(rel + P, sc, n, d->at_k, &mrr, &ndcg, &ap);
                sums[3] += ap, sums[4] += mrr, sums[5] += ndcg;
            }
            if (d->always_rerank_positives) {
                size_t n2 = 0;
                for (size_t j = 0; j < s->n_pos; j++, n2++) da[P + n2] = s->pos[j], rel[P + n2] = 1;
                for (size_t j = 0; j < s->n_cand; j++)
                    if (!in_list(s->cand[j], s->pos, s->n_pos)) da[P + n2] = s->cand[j], rel[P + n2++] = 0;
                P += n2;
            } else {
                for (size_t j = 0; j < s->n_cand; j++) {
                    da[P + j] = s->cand[j];
                    rel[P + j] = in_list(s->cand[j], s->pos, s->n_pos);
                }
                P += s->n_cand;
            }
        } else {
            for (size_t j = 0; j < s->n_pos; j++) da[P + j] = s->pos[j], rel[P + j] = 1;
            for (size_t j = 0; j < s->n_cand; j++) da[P + s->n_pos + j] = s->cand[j], rel[P + s->n_pos + j] = 0;
            P += s->n_pos + s->n_cand;
        }
        int any = 0;
        for (size_t j = start[i]; j < P; j++) any |= rel[j];
        if (!any) {
            skip[i] = 1; /* no relevant candidate: 0 for every metric, nothing scored */
            P = start[i];
        }
        for (size_t j = start[i]; j < P; j++) qa[j] = s->query;
    }
    if (st == SBERT_OK) start[d->n] = P;
    if (st == SBERT_OK && P) st = enc->predict(enc->predict_ctx, qa, da, P, scores);
    for (size_t i = 0; st == SBERT_OK && i < d->n; i++) {
        if (skip[i]) continue;
        size_t n = start[i + 1] - start[i];
        for (size_t j = 0; j < n; j++) sc[j] = scores[start[i] + j];
        double mrr, ndcg, ap;
        st = sbert_rerank_metrics(rel + start[i], sc, n, d->at_k, &mrr, &ndcg, &ap);
        sums[0] += ap, sums[1] += mrr, sums[2] += ndcg;
    }
    if (st == SBERT_OK) {
        char k1[32], k2[32], k3[40], k4[40];
        snprintf(k1, sizeof k1, "mrr@%zu", d->at_k);
        snprintf(k2, sizeof k2, "ndcg@%zu", d->at_k);
        snprintf(k3, sizeof k3, "base_mrr@%zu", d->at_k);
        snprintf(k4, sizeof k4, "base_ndcg@%zu", d->at_k);
        const double nq = (double)d->n;
        sbert_eval_put(out, name, "map", sums[0] / nq);
        sbert_eval_put(out, name, k1, sums[1] / nq);
        sbert_eval_put(out, name, k2, sums[2] / nq);
        if (any_docs) {
            /* Python averages the base metrics over the samples with documents. */
            size_t nd = 0;
            for (size_t i = 0; i < d->n; i++) nd += d->s[i].docs != 0;
            sbert_eval_put(out, name, "base_map", sums[3] / (double)nd);
            sbert_eval_put(out, name, k3, sums[4] / (double)nd);
            sbert_eval_put(out, name, k4, sums[5] / (double)nd);
        }
        sbert_eval_set_primary(out, name, k2);
    }
    free(qa), free(da), free(rel), free(start), free(skip), free(scores), free(sc);
    return st;
}
