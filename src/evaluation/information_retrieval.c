/*
 * evaluation/information_retrieval.c -- InformationRetrievalEvaluator: its
 * JSON data ({"queries", "corpus", "relevant_docs"}), encoding queries with
 * encode_query and the corpus with encode_document, scoring with the model's
 * similarity function and the retrieval metrics of metrics.c (primary
 * {name}_{fn}_ndcg@10).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/error.h"
#include "evaluation/evaluators.h"
#include "io/file.h"


void sbert_ir_data_free(sbert_ir_data *d) {
    if (!d) return;
    free(d->qids); free(d->qtexts); free(d->cids); free(d->ctexts);
    free(d->rel_offsets); free(d->rel_idx);
    cJSON_Delete(d->json);
    memset(d, 0, sizeof *d);
}

void sbert_ir_data_truncate(sbert_ir_data *d, size_t n) {
    if (n > 0 && n < d->nq) d->nq = n;
}

/* Sorted index of string ids for lookups and duplicate checks. */
typedef struct {
    const char *id;
    size_t idx;
} id_entry;

static int cmp_id(const void *a, const void *b) {
    return strcmp(((const id_entry *)a)->id, ((const id_entry *)b)->id);
}

static long find_id(const id_entry *ix, size_t n, const char *id) {
    id_entry key = {id, 0};
    const id_entry *e = bsearch(&key, ix, n, sizeof *ix, cmp_id);
    return e ? (long)e->idx : -1;
}

/* Strings of a JSON object {id: text} into ids/texts [n]; sorted index into *ix. */
static sbert_status load_text_map(const char *path, const cJSON *obj, const char *what, const char ***ids,
                                  const char ***texts, size_t *n, id_entry **ix) {
    size_t cnt = (size_t)cJSON_GetArraySize(obj);
    *n = cnt;
    *ids = malloc((cnt ? cnt : 1) * sizeof **ids);
    *texts = malloc((cnt ? cnt : 1) * sizeof **texts);
    *ix = malloc((cnt ? cnt : 1) * sizeof **ix);
    if (!*ids || !*texts || !*ix) return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory (%zu %s)", path, cnt, what);
    size_t i = 0;
    for (const cJSON *e = obj->child; e; e = e->next, i++) {
        if (!cJSON_IsString(e) || !e->valuestring)
            return sbert_fail(SBERT_ERR_FORMAT, "%s: \"%s\"[\"%s\"] must be a text string", path, what, e->string);
        (*ids)[i] = e->string;
        (*texts)[i] = e->valuestring;
        (*ix)[i].id = e->string;
        (*ix)[i].idx = i;
    }
    qsort(*ix, cnt, sizeof **ix, cmp_id);
    for (i = 1; i < cnt; i++)
        if (strcmp((*ix)[i - 1].id, (*ix)[i].id) == 0)
            return sbert_fail(SBERT_ERR_FORMAT, "%s: \"%s\" has the id \"%s\" twice", path, what, (*ix)[i].id);
    return SBERT_OK;
}

static sbert_status ir_parse(const char *path, cJSON *root, sbert_ir_data *d, id_entry **qix, id_entry **cix) {
    static const char *const keys[] = {"queries", "corpus", "relevant_docs"};
    if (!cJSON_IsObject(root))
        return sbert_fail(SBERT_ERR_FORMAT,
                          "%s: InformationRetrievalEvaluator data must be a JSON object with \"queries\", "
                          "\"corpus\" and \"relevant_docs\"",
                          path);
    const cJSON *part[3];
    for (int i = 0; i < 3; i++) {
        part[i] = cJSON_GetObjectItemCaseSensitive(root, keys[i]);
        if (!part[i])
            return sbert_fail(SBERT_ERR_FORMAT,
                              "%s: missing key \"%s\" (InformationRetrievalEvaluator data is {\"queries\": {qid: "
                              "text}, \"corpus\": {cid: text}, \"relevant_docs\": {qid: [cid, ...]}})",
                              path, keys[i]);
        if (!cJSON_IsObject(part[i]))
            return sbert_fail(SBERT_ERR_FORMAT, "%s: \"%s\" must be a JSON object keyed by id", path, keys[i]);
    }
    const char **qids = NULL, **qtexts = NULL;
    size_t nq_all = 0;
    sbert_status st = load_text_map(path, part[0], "queries", &qids, &qtexts, &nq_all, qix);
    if (st == SBERT_OK) st = load_text_map(path, part[1], "corpus", &d->cids, &d->ctexts, &d->nc, cix);
    if (st == SBERT_OK && nq_all == 0) st = sbert_fail(SBERT_ERR_FORMAT, "%s: \"queries\" is empty", path);
    if (st == SBERT_OK && d->nc == 0) st = sbert_fail(SBERT_ERR_FORMAT, "%s: \"corpus\" is empty", path);
    if (st != SBERT_OK) { free(qids); free(qtexts); return st; }
    /* relevant_docs: check every id, then gather per query in queries' order. */
    size_t total = 0;
    const cJSON **rel_of = calloc(nq_all, sizeof *rel_of);
    if (!rel_of) { free(qids); free(qtexts); return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", path); }
    for (const cJSON *e = part[2]->child; e && st == SBERT_OK; e = e->next) {
        long q = find_id(*qix, nq_all, e->string);
        if (q < 0) {
            st = sbert_fail(SBERT_ERR_FORMAT, "%s: relevant_docs has query id \"%s\", which is not in \"queries\"",
                            path, e->string);
            break;
        }
        if (!cJSON_IsArray(e)) {
            st = sbert_fail(SBERT_ERR_FORMAT, "%s: relevant_docs[\"%s\"] must be a list of corpus ids", path,
                            e->string);
            break;
        }
        if (rel_of[q]) {
            st = sbert_fail(SBERT_ERR_FORMAT, "%s: relevant_docs has the query id \"%s\" twice", path, e->string);
            break;
        }
        rel_of[q] = e;
        for (const cJSON *c = e->child; c; c = c->next) {
            if (!cJSON_IsString(c) || !c->valuestring) {
                st = sbert_fail(SBERT_ERR_FORMAT, "%s: relevant_docs[\"%s\"] must hold corpus ids as strings", path,
                                e->string);
                break;
            }
            if (find_id(*cix, d->nc, c->valuestring) < 0) {
                st = sbert_fail(SBERT_ERR_FORMAT,
                                "%s: relevant_docs[\"%s\"] names document \"%s\", which is not in \"corpus\"", path,
                                e->string, c->valuestring);
                break;
            }
            total++;
        }
    }
    if (st == SBERT_OK) {
        d->qids = malloc(nq_all * sizeof *d->qids);
        d->qtexts = malloc(nq_all * sizeof *d->qtexts);
        d->rel_offsets = malloc((nq_all + 1) * sizeof *d->rel_offsets);
        d->rel_idx = malloc((total ? total : 1) * sizeof *d->rel_idx);
        if (!d->qids || !d->qtexts || !d->rel_offsets || !d->rel_idx)
            st = sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", path);
    }
    if (st == SBERT_OK) {
        size_t nq = 0, nr = 0;
        d->rel_offsets[0] = 0;
        for (size_t q = 0; q < nq_all; q++) {
            if (!rel_of[q]) continue;
            size_t start = nr;
            for (const cJSON *c = rel_of[q]->child; c; c = c->next) {
                size_t ci = (size_t)find_id(*cix, d->nc, c->valuestring);
                int dup = 0;
                for (size_t r = start; r < nr; r++) dup |= d->rel_idx[r] == ci;
                if (!dup) d->rel_idx[nr++] = ci;
            }
            if (nr == start) continue; /* no relevant document: dropped, as the evaluator does */
            d->qids[nq] = qids[q];
            d->qtexts[nq] = qtexts[q];
            d->rel_offsets[++nq] = nr;
        }
        d->nq = nq;
        if (nq == 0)
            st = sbert_fail(SBERT_ERR_FORMAT, "%s: no query has a relevant document in \"relevant_docs\"", path);
    }
    free(rel_of); free(qids); free(qtexts);
    return st;
}

sbert_status sbert_ir_data_load(const char *path, sbert_ir_data *out) {
    memset(out, 0, sizeof *out);
    cJSON *root = NULL;
    SBERT_TRY(sbert_json_load(path, &root));
    out->json = root;
    id_entry *qix = NULL, *cix = NULL;
    sbert_status st = ir_parse(path, root, out, &qix, &cix);
    free(qix); free(cix);
    if (st != SBERT_OK) sbert_ir_data_free(out);
    return st;
}

static sbert_status run_encode(const sbert_eval_encoder *enc, void *ctx, const char *const *texts, size_t n,
                               float *out) {
    return enc->fn(ctx ? ctx : enc->ctx, texts, n, out);
}

sbert_status sbert_eval_information_retrieval(const sbert_eval_encoder *enc, const sbert_ir_data *d,
                                              const char *name, sbert_eval_result *out) {
    memset(out, 0, sizeof *out);
    const char *fn = enc->score_fn && *enc->score_fn ? enc->score_fn : "cosine";
    if (!strcmp(fn, "dot_product")) fn = "dot";
    if (strcmp(fn, "cosine") && strcmp(fn, "dot") && strcmp(fn, "euclidean") && strcmp(fn, "manhattan"))
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "InformationRetrievalEvaluator: score function '%s' is not cosine, dot, euclidean or "
                          "manhattan", fn);
    size_t nq = d->nq, nc = d->nc, dim = enc->dim;
    if (nq == 0 || nc == 0)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "InformationRetrievalEvaluator: no queries or no corpus");
    /* Query chunks keep the score matrix under ~256 MB for large corpora. */
    size_t chunk = ((size_t)64 << 20) / nc;
    if (chunk < 1) chunk = 1;
    if (chunk > nq) chunk = nq;
    float *qe = malloc(nq * dim * sizeof *qe), *ce = malloc(nc * dim * sizeof *ce);
    float *scores = malloc(chunk * nc * sizeof *scores);
    sbert_status st = SBERT_OK;
    sbert_ir_config cfg = sbert_ir_config_default();
    sbert_metric part[64], sum[64];
    size_t nsum = 0;
    if (!qe || !ce || !scores) {
        st = sbert_fail(SBERT_ERR_NOMEM, "InformationRetrievalEvaluator: out of memory (%zu queries, %zu documents)",
                        nq, nc);
        goto done;
    }
    if ((st = run_encode(enc, enc->query_ctx, d->qtexts, nq, qe)) != SBERT_OK) goto done;
    if ((st = run_encode(enc, enc->document_ctx, d->ctexts, nc, ce)) != SBERT_OK) goto done;
    for (size_t q0 = 0; q0 < nq; q0 += chunk) {
        size_t m = nq - q0 < chunk ? nq - q0 : chunk, np = sizeof part / sizeof part[0];
        if ((st = sbert_similarity(fn, qe + q0 * dim, m, ce, nc, dim, scores)) != SBERT_OK) goto done;
        if ((st = sbert_ir_metrics(scores, m, nc, d->cids, d->rel_offsets + q0, d->rel_idx, &cfg, fn, part, &np)) !=
            SBERT_OK)
            goto done;
        /* every kept query has a relevant document, so chunk means weigh by m */
        for (size_t i = 0; i < np; i++) {
            if (q0 == 0) { sum[i] = part[i]; sum[i].value = 0; nsum = np; }
            sum[i].value += part[i].value * (double)m;
        }
    }
    /* one chunk: the means as computed (no extra rounding from * nq / nq) */
    for (size_t i = 0; i < nsum; i++) sbert_eval_put(out, name, sum[i].key, chunk == nq ? part[i].value : sum[i].value / (double)nq);
    {
        size_t kmax = 0;
        for (size_t i = 0; i < cfg.n_ndcg; i++) if (cfg.ndcg_at_k[i] > kmax) kmax = cfg.ndcg_at_k[i];
        if (name && *name) snprintf(out->primary, sizeof out->primary, "%s_%s_ndcg@%zu", name, fn, kmax);
        else snprintf(out->primary, sizeof out->primary, "%s_ndcg@%zu", fn, kmax);
    }
done:
    free(qe); free(ce); free(scores);
    return st;
}


/* ------------------------------------------------------------ table row */

void sbert_ir_eval_free(void *p) {
    if (!p) return;
    sbert_ir_data_free(p);
    free(p);
}

sbert_status sbert_ir_eval_load(const char *path, size_t max_samples, void **out) {
    *out = NULL;
    sbert_ir_data *d = calloc(1, sizeof *d);
    if (!d) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    sbert_status st = sbert_ir_data_load(path, d);
    if (st != SBERT_OK) {
        free(d);
        return st;
    }
    sbert_ir_data_truncate(d, max_samples);
    *out = d;
    return SBERT_OK;
}

sbert_status sbert_ir_eval_run(const void *p, const sbert_eval_encoder *enc, const char *name, sbert_eval_result *out) {
    return sbert_eval_information_retrieval(enc, p, name, out);
}

size_t sbert_ir_eval_summary(const void *p, char *buf, size_t cap) {
    const sbert_ir_data *d = p;
    return (size_t)snprintf(buf, cap, "%zu queries x %zu documents", d->nq, d->nc);
}
