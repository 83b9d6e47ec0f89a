/*
 * evaluation/evaluators.c -- evaluators that encode text and score it with
 * the metric math of evaluation/metrics.c: EmbeddingSimilarityEvaluator,
 * InformationRetrievalEvaluator (with its JSON data loader) and the
 * evaluator set behind SequentialEvaluator / comma-listed recipes.
 */
#include "evaluation/evaluators.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/error.h"
#include "data/dataset.h"
#include "io/file.h"

double sbert_eval_get(const sbert_eval_result *r, const char *key) {
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->m[i].key, key) == 0) return r->m[i].value;
    return NAN;
}

static void put(sbert_eval_result *r, const char *name, const char *what, double v) {
    if (r->n >= sizeof r->m / sizeof r->m[0]) return; /* SBERT_EVAL_MAX_METRICS is far above any evaluator list */
    char *key = r->m[r->n].key;
    size_t cap = sizeof r->m[0].key;
    int w = name && *name ? snprintf(key, cap, "%s_%s", name, what) : snprintf(key, cap, "%s", what);
    if (w < 0 || (size_t)w >= cap) key[cap - 1] = '\0'; /* names are checked to fit before this */
    r->m[r->n++].value = v;
}

sbert_status sbert_eval_embedding_similarity(sbert_encode_fn enc, void *ctx, size_t dim,
                                             const char *const *s1, const char *const *s2,
                                             const double *gold, size_t n, const char *name,
                                             sbert_eval_result *out) {
    memset(out, 0, sizeof *out);
    if (n < 2) return sbert_fail(SBERT_ERR_INVALID_ARG, "EmbeddingSimilarityEvaluator needs at least 2 pairs, got %zu", n);
    float *a = malloc(n * dim * sizeof *a), *b = malloc(n * dim * sizeof *b);
    double *cs = malloc(n * sizeof *cs);
    sbert_status st = SBERT_OK;
    if (!a || !b || !cs) { st = sbert_fail(SBERT_ERR_NOMEM, "EmbeddingSimilarityEvaluator: out of memory"); goto done; }
    if ((st = enc(ctx, s1, n, a)) != SBERT_OK) goto done;
    if ((st = enc(ctx, s2, n, b)) != SBERT_OK) goto done;
    for (size_t i = 0; i < n; i++) {
        /* pairwise_cos_sim: normalize each row (eps 1e-12), then dot. Computed in
         * double; sentence-transformers uses float32 here (differences ~1e-7). */
        double aa = 0, bb = 0, ab = 0;
        for (size_t k = 0; k < dim; k++) {
            double x = a[i * dim + k], y = b[i * dim + k];
            aa += x * x; bb += y * y; ab += x * y;
        }
        cs[i] = ab / (fmax(sqrt(aa), 1e-12) * fmax(sqrt(bb), 1e-12));
    }
    put(out, name, "pearson_cosine", sbert_pearson(cs, gold, n));
    put(out, name, "spearman_cosine", sbert_spearman(cs, gold, n));
    if (name && *name) snprintf(out->primary, sizeof out->primary, "%s_spearman_cosine", name);
    else snprintf(out->primary, sizeof out->primary, "spearman_cosine");
done:
    free(a); free(b); free(cs);
    return st;
}

/* ------------------------------------------------ InformationRetrieval */

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
    for (size_t i = 0; i < nsum; i++) put(out, name, sum[i].key, chunk == nq ? part[i].value : sum[i].value / (double)nq);
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

/* ------------------------------------------------------ evaluator sets */

enum { EV_SIMILARITY, EV_IR };
#define SET_MAX 8

typedef struct {
    int kind;
    char name[48];
    char path[1024];
    sbert_dataset *ds; /* EV_SIMILARITY */
    const char **s1, **s2;
    const double *gold;
    size_t n;
    sbert_ir_data ir; /* EV_IR */
} set_entry;

struct sbert_evaluator_set {
    size_t n;
    set_entry e[SET_MAX];
};

static const char *const KIND_NAMES[] = {"EmbeddingSimilarityEvaluator", "InformationRetrievalEvaluator"};

/* Split a comma list into trimmed items (in place in buf). */
static size_t split_list(char *buf, char **items, size_t max) {
    size_t n = 0;
    char *s = buf;
    for (;;) {
        char *comma = strchr(s, ',');
        if (comma) *comma = '\0';
        while (*s == ' ' || *s == '\t') s++;
        size_t l = strlen(s);
        while (l && (s[l - 1] == ' ' || s[l - 1] == '\t')) s[--l] = '\0';
        if (n < max) items[n] = s;
        n++;
        if (!comma) break;
        s = comma + 1;
    }
    return n;
}

void sbert_evaluator_set_free(sbert_evaluator_set *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) {
        sbert_dataset_free(s->e[i].ds);
        sbert_ir_data_free(&s->e[i].ir);
    }
    free(s);
}

static sbert_status load_entry(set_entry *e, size_t max_samples) {
    if (e->kind == EV_IR) {
        SBERT_TRY(sbert_ir_data_load(e->path, &e->ir));
        sbert_ir_data_truncate(&e->ir, max_samples);
        return SBERT_OK;
    }
    SBERT_TRY(sbert_dataset_load(e->path, &e->ds));
    if (max_samples > 0) sbert_dataset_truncate(e->ds, max_samples);
    int label = sbert_dataset_label_column(e->ds);
    if (sbert_dataset_n_inputs(e->ds) != 2 || label < 0)
        return sbert_fail(SBERT_ERR_FORMAT,
                          "%s: EmbeddingSimilarityEvaluator expects (sentence1, sentence2, score) columns", e->path);
    SBERT_TRY(sbert_dataset_check_inputs(e->ds));
    e->s1 = (const char **)e->ds->cols[sbert_dataset_input_column(e->ds, 0)].text;
    e->s2 = (const char **)e->ds->cols[sbert_dataset_input_column(e->ds, 1)].text;
    e->gold = e->ds->cols[label].num;
    e->n = e->ds->n_rows;
    return SBERT_OK;
}

sbert_status sbert_evaluator_set_load(const char *evaluators, const char *data, const char *names,
                                      size_t max_samples, sbert_evaluator_set **out) {
    *out = NULL;
    if (!evaluators || !*evaluators) evaluators = "EmbeddingSimilarityEvaluator";
    if (!data || !*data) return sbert_fail(SBERT_ERR_INVALID_ARG, "evaluation data: no file given");
    if (!names) names = "";
    char eb[1024], db[8192], nb[1024];
    if (strlen(evaluators) >= sizeof eb || strlen(data) >= sizeof db || strlen(names) >= sizeof nb)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "evaluator, data or name list is too long");
    strcpy(eb, evaluators); strcpy(db, data); strcpy(nb, names);
    char *ev[SET_MAX], *dv[SET_MAX], *nv[SET_MAX];
    size_t ne = split_list(eb, ev, SET_MAX), nd = split_list(db, dv, SET_MAX);
    size_t nn = *names ? split_list(nb, nv, SET_MAX) : 0;
    if (ne > SET_MAX)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "at most %d evaluators can run in sequence, got %zu", SET_MAX, ne);
    for (size_t i = 0; i < ne; i++) {
        if (!strcmp(ev[i], "SequentialEvaluator"))
            return sbert_fail(SBERT_ERR_INVALID_ARG,
                              "SequentialEvaluator is written as a comma list of evaluators with one data file "
                              "and one name each, e.g. evaluator: EmbeddingSimilarityEvaluator,"
                              "InformationRetrievalEvaluator, eval_data: sts.jsonl,ir.json, evaluator_name: "
                              "sts-dev,cranfield");
        int k = -1;
        for (int j = 0; j < 2; j++) if (!strcmp(ev[i], KIND_NAMES[j])) k = j;
        if (k < 0) {
            static const char *const later[] = {"BinaryClassificationEvaluator", "TripletEvaluator",
                                                "ParaphraseMiningEvaluator", "NanoBEIREvaluator",
                                                "MSEEvaluator", "TranslationEvaluator", "RerankingEvaluator"};
            for (size_t j = 0; j < sizeof later / sizeof later[0]; j++)
                if (!strcmp(ev[i], later[j]))
                    return sbert_fail(SBERT_ERR_UNSUPPORTED,
                                      "evaluator '%s' is not implemented yet (available: "
                                      "EmbeddingSimilarityEvaluator, InformationRetrievalEvaluator, or a comma "
                                      "list of them)",
                                      ev[i]);
            return sbert_fail(SBERT_ERR_UNSUPPORTED,
                              "unknown evaluator '%s' (available: EmbeddingSimilarityEvaluator, "
                              "InformationRetrievalEvaluator, or a comma list of them)",
                              *ev[i] ? ev[i] : "(empty)");
        }
    }
    if (nd != ne)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "%zu evaluator%s (%s) but %zu evaluation data file%s (%s): give one file per evaluator, "
                          "in the same order",
                          ne, ne == 1 ? "" : "s", evaluators, nd, nd == 1 ? "" : "s", data);
    if (ne > 1 && nn == 0)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "%zu evaluators (%s) need one evaluator name each (a comma list such as "
                          "sts-dev,cranfield), or their metric keys would collide",
                          ne, evaluators);
    if (nn && nn != ne)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%zu evaluator%s (%s) but %zu evaluator name%s (%s)", ne,
                          ne == 1 ? "" : "s", evaluators, nn, nn == 1 ? "" : "s", names);
    for (size_t i = 0; i < nn; i++) {
        if (!*nv[i] && ne > 1)
            return sbert_fail(SBERT_ERR_INVALID_ARG, "evaluator name %zu of '%s' is empty", i + 1, names);
        if (strlen(nv[i]) >= sizeof ((set_entry *)0)->name)
            return sbert_fail(SBERT_ERR_INVALID_ARG, "evaluator name '%s' is longer than %zu characters", nv[i],
                              sizeof ((set_entry *)0)->name - 1);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(nv[i], nv[j]))
                return sbert_fail(SBERT_ERR_INVALID_ARG,
                                  "evaluator name '%s' is given twice in '%s'; names must differ so the metric "
                                  "keys do", nv[i], names);
    }
    for (size_t i = 0; i < nd; i++) {
        if (!*dv[i]) return sbert_fail(SBERT_ERR_INVALID_ARG, "evaluation data file %zu of '%s' is empty", i + 1, data);
        if (strlen(dv[i]) >= sizeof ((set_entry *)0)->path)
            return sbert_fail(SBERT_ERR_INVALID_ARG, "evaluation data path '%s' is too long", dv[i]);
    }
    sbert_evaluator_set *s = calloc(1, sizeof *s);
    if (!s) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    sbert_status st = SBERT_OK;
    for (size_t i = 0; i < ne && st == SBERT_OK; i++) {
        set_entry *e = &s->e[i];
        s->n = i + 1;
        e->kind = !strcmp(ev[i], KIND_NAMES[EV_IR]) ? EV_IR : EV_SIMILARITY;
        snprintf(e->name, sizeof e->name, "%s", nn ? nv[i] : "");
        snprintf(e->path, sizeof e->path, "%s", dv[i]);
        st = load_entry(e, max_samples);
    }
    if (st != SBERT_OK) { sbert_evaluator_set_free(s); return st; }
    *out = s;
    return SBERT_OK;
}

sbert_status sbert_evaluator_set_run(const sbert_evaluator_set *s, const sbert_eval_encoder *enc,
                                     sbert_eval_result *out) {
    memset(out, 0, sizeof *out);
    sbert_eval_result *r = malloc(sizeof *r);
    if (!r) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    sbert_status st = SBERT_OK;
    for (size_t i = 0; i < s->n && st == SBERT_OK; i++) {
        const set_entry *e = &s->e[i];
        if (e->kind == EV_IR)
            st = sbert_eval_information_retrieval(enc, &e->ir, e->name, r);
        else
            st = sbert_eval_embedding_similarity(enc->fn, enc->ctx, enc->dim, e->s1, e->s2, e->gold, e->n, e->name,
                                                 r);
        if (st != SBERT_OK) {
            sbert_error_prefix("%s (%s): ", KIND_NAMES[e->kind], e->path);
            break;
        }
        if (out->n + r->n > SBERT_EVAL_MAX_METRICS) {
            st = sbert_fail(SBERT_ERR_INVALID_ARG, "the evaluators produce more than %d metrics",
                            SBERT_EVAL_MAX_METRICS);
            break;
        }
        memcpy(out->m + out->n, r->m, r->n * sizeof r->m[0]);
        out->n += r->n;
        memcpy(out->primary, r->primary, sizeof out->primary);
    }
    free(r);
    return st;
}

#define APPENDF(...) n += (size_t)snprintf(buf + (n < cap ? n : cap), n < cap ? cap - n : 0, __VA_ARGS__)

size_t sbert_evaluator_set_describe(const sbert_evaluator_set *s, char *buf, size_t cap) {
    size_t n = 0;
    if (cap) buf[0] = '\0';
    for (size_t i = 0; i < s->n; i++) {
        const set_entry *e = &s->e[i];
        APPENDF("- Evaluation: `%s` (%s%s%s%s, ", e->path, KIND_NAMES[e->kind], *e->name ? " `" : "", e->name,
                *e->name ? "`" : "");
        if (e->kind == EV_IR) APPENDF("%zu queries, %zu documents)\n", e->ir.nq, e->ir.nc);
        else APPENDF("%zu pairs)\n", e->n);
    }
    return n;
}

size_t sbert_evaluator_set_summary(const sbert_evaluator_set *s, char *buf, size_t cap) {
    size_t n = 0;
    if (cap) buf[0] = '\0';
    for (size_t i = 0; i < s->n; i++) {
        const set_entry *e = &s->e[i];
        if (e->kind == EV_IR) APPENDF("%s%zu queries x %zu documents", i ? "; " : "", e->ir.nq, e->ir.nc);
        else APPENDF("%s%zu pairs", i ? "; " : "", e->n);
    }
    return n;
}
