/*
 * evaluation/paraphrase_mining.c -- ParaphraseMiningEvaluator
 * (sentence-transformers): a JSON file {"sentences_map": {id: text},
 * "duplicates_list": [[id1, id2], ...]} (optionally "duplicates_dict":
 * {id1: {id2: true}}); with add_transitive_closure the duplicate graph is
 * closed transitively. paraphrase_mining: every sentence's top_k most
 * cosine-similar others (top_k + 1 taken, itself dropped), unordered pairs
 * once, at most max_pairs kept (the highest), ranked by score descending;
 * sweeping the ranking (ties together):
 *   average_precision = sum over the points where new gold pairs appear of
 *     precision * (new gold pairs), divided by the number of gold pairs;
 *   best f1 with its precision, recall and threshold (the midpoint to the
 *     next score).
 * Keys average_precision (primary), f1, precision, recall, threshold.
 * Options: top_k (100), max_pairs (500000), add_transitive_closure (false),
 * truncate_dim.
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
    size_t i, j;
} pair;

static int cmp_pair_desc(const void *a, const void *b) {
    const pair *x = a, *y = b;
    if (x->s != y->s) return x->s < y->s ? 1 : -1;
    if (x->i != y->i) return x->i < y->i ? -1 : 1;
    return x->j < y->j ? -1 : x->j > y->j;
}

typedef struct {
    float s;
    size_t j;
} nb;

static int cmp_nb(const void *a, const void *b) {
    const nb *x = a, *y = b;
    if (x->s != y->s) return x->s < y->s ? 1 : -1;
    return x->j < y->j ? -1 : x->j > y->j;
}

sbert_status sbert_paraphrase_mining_metrics(const float *emb, size_t n, size_t dim, const unsigned char *dup,
                                             size_t n_dup_pairs, size_t top_k, size_t max_pairs, double out[5]) {
    nb *row = malloc((n ? n : 1) * sizeof *row);
    unsigned char *queued = calloc(n ? n * n : 1, 1);
    pair *pairs = NULL;
    size_t np = 0, cap = 0;
    sbert_status st = row && queued ? SBERT_OK : sbert_fail(SBERT_ERR_NOMEM, "out of memory (%zu sentences)", n);
    for (size_t i = 0; st == SBERT_OK && i < n; i++) {
        for (size_t j = 0; j < n; j++) row[j] = (nb){sbert_pair_score(emb + i * dim, emb + j * dim, dim, 0), j};
        size_t k1 = top_k + 1 < n ? top_k + 1 : n;
        qsort(row, n, sizeof *row, cmp_nb);
        size_t taken = 0;
        for (size_t r = 0; r < k1 && taken < top_k; r++) {
            size_t j = row[r].j;
            if (j == i) continue;
            taken++;
            size_t a = i < j ? i : j, b = i < j ? j : i;
            if (queued[a * n + b]) continue;
            queued[a * n + b] = 1;
            if (np == cap) {
                cap = cap ? 2 * cap : 1024;
                pair *nppair = realloc(pairs, cap * sizeof *nppair);
                if (!nppair) {
                    st = sbert_fail(SBERT_ERR_NOMEM, "out of memory");
                    break;
                }
                pairs = nppair;
            }
            pairs[np++] = (pair){row[r].s, a, b};
        }
    }
    if (st == SBERT_OK) {
        qsort(pairs, np, sizeof *pairs, cmp_pair_desc);
        if (np > max_pairs) np = max_pairs; /* the heap keeps the highest max_pairs */
        double n_extract = 0, n_correct = 0, prev = 0, ap = 0, best_f1 = 0, best_p = 0, best_r = 0, thr = 0;
        for (size_t k = 0; k < np; k++) {
            n_extract++;
            if (dup[pairs[k].i * n + pairs[k].j]) n_correct++;
            if (k + 1 < np && pairs[k + 1].s == pairs[k].s) continue;
            if (n_correct > prev) {
                double p = n_correct / n_extract, r = n_dup_pairs ? n_correct / (double)n_dup_pairs : 0.0;
                double f1 = 2 * p * r / (p + r);
                ap += p * (n_correct - prev);
                if (f1 > best_f1) {
                    best_f1 = f1;
                    best_p = p;
                    best_r = r;
                    thr = ((double)pairs[k].s + (double)pairs[k + 1 < np ? k + 1 : np - 1].s) / 2;
                }
            }
            prev = n_correct;
        }
        out[0] = n_dup_pairs ? ap / (double)n_dup_pairs : 0.0;
        out[1] = best_f1;
        out[2] = best_p;
        out[3] = best_r;
        out[4] = thr;
    }
    free(row);
    free(queued);
    free(pairs);
    return st;
}

/* ------------------------------------------------------------ the evaluator */

typedef struct {
    cJSON *json;
    const char **ids, **texts;
    size_t n, n_dup, top_k, max_pairs;
    unsigned char *dup; /* [n, n] */
} pm_data;

void sbert_paraphrase_eval_free(void *p) {
    pm_data *d = p;
    if (!d) return;
    cJSON_Delete(d->json);
    free(d->ids);
    free(d->texts);
    free(d->dup);
    free(d);
}

static long find(const pm_data *d, const char *id) {
    for (size_t i = 0; i < d->n; i++)
        if (!strcmp(d->ids[i], id)) return (long)i;
    return -1;
}

sbert_status sbert_paraphrase_eval_load(const char *path, size_t max_samples, sbert_eval_opts *opts, void **out) {
    *out = NULL;
    pm_data *d = calloc(1, sizeof *d);
    if (!d) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    const char *tc = sbert_eval_opt(opts, "add_transitive_closure");
    int closure = tc && (!strcmp(tc, "true") || !strcmp(tc, "True") || !strcmp(tc, "1"));
    sbert_status st = sbert_eval_opt_size(opts, "top_k", 100, 1, 1u << 24, &d->top_k);
    if (st == SBERT_OK) st = sbert_eval_opt_size(opts, "max_pairs", 500000, 1, (size_t)1 << 40, &d->max_pairs);
    if (st == SBERT_OK) st = sbert_json_load(path, &d->json);
    const cJSON *sm = st == SBERT_OK ? cJSON_GetObjectItemCaseSensitive(d->json, "sentences_map") : NULL;
    const cJSON *dl = st == SBERT_OK ? cJSON_GetObjectItemCaseSensitive(d->json, "duplicates_list") : NULL;
    const cJSON *dd = st == SBERT_OK ? cJSON_GetObjectItemCaseSensitive(d->json, "duplicates_dict") : NULL;
    if (st == SBERT_OK && (!cJSON_IsObject(sm) || (!cJSON_IsArray(dl) && !cJSON_IsObject(dd))))
        st = sbert_fail(SBERT_ERR_FORMAT,
                        "%s: ParaphraseMiningEvaluator data is {\"sentences_map\": {id: text}, \"duplicates_list\": "
                        "[[id1, id2], ...]} (or \"duplicates_dict\": {id1: {id2: true}})",
                        path);
    if (st == SBERT_OK) {
        size_t n = (size_t)cJSON_GetArraySize(sm);
        if (max_samples && n > max_samples) n = max_samples;
        d->ids = malloc((n ? n : 1) * sizeof *d->ids);
        d->texts = malloc((n ? n : 1) * sizeof *d->texts);
        d->dup = calloc(n ? n * n : 1, 1);
        if (!d->ids || !d->texts || !d->dup) st = sbert_fail(SBERT_ERR_NOMEM, "out of memory (%zu sentences)", n);
        const cJSON *e;
        cJSON_ArrayForEach(e, sm) {
            if (st != SBERT_OK || d->n == n) break;
            if (!cJSON_IsString(e)) {
                st = sbert_fail(SBERT_ERR_FORMAT, "%s: sentences_map[\"%s\"] must be a text", path, e->string);
                break;
            }
            d->ids[d->n] = e->string;
            d->texts[d->n++] = e->valuestring;
        }
    }
    const cJSON *e;
    if (st == SBERT_OK && cJSON_IsArray(dl))
        cJSON_ArrayForEach(e, dl) {
            const cJSON *a = cJSON_GetArrayItem(e, 0), *b = cJSON_GetArrayItem(e, 1);
            if (!cJSON_IsString(a) || !cJSON_IsString(b)) {
                st = sbert_fail(SBERT_ERR_FORMAT, "%s: duplicates_list entries are [id1, id2]", path);
                break;
            }
            long i = find(d, a->valuestring), j = find(d, b->valuestring);
            if (i >= 0 && j >= 0) d->dup[i * d->n + j] = d->dup[j * d->n + i] = 1; /* ids outside the map: ignored */
        }
    if (st == SBERT_OK && cJSON_IsObject(dd))
        cJSON_ArrayForEach(e, dd) {
            const cJSON *f;
            cJSON_ArrayForEach(f, e) {
                long i = find(d, e->string), j = find(d, f->string);
                if (i >= 0 && j >= 0 && cJSON_IsTrue(f)) d->dup[i * d->n + j] = 1;
            }
        }
    if (st == SBERT_OK && closure) { /* connected components */
        size_t n = d->n;
        size_t *comp = malloc((n ? n : 1) * sizeof *comp), *stack = malloc((n ? n : 1) * sizeof *stack);
        if (!comp || !stack) st = sbert_fail(SBERT_ERR_NOMEM, "out of memory");
        for (size_t i = 0; st == SBERT_OK && i < n; i++) comp[i] = (size_t)-1;
        for (size_t i = 0; st == SBERT_OK && i < n; i++) {
            if (comp[i] != (size_t)-1) continue;
            size_t sp = 0;
            stack[sp++] = i;
            comp[i] = i;
            while (sp) {
                size_t a = stack[--sp];
                for (size_t b = 0; b < n; b++)
                    if ((d->dup[a * n + b] || d->dup[b * n + a]) && comp[b] == (size_t)-1) {
                        comp[b] = i;
                        stack[sp++] = b;
                    }
            }
        }
        for (size_t i = 0; st == SBERT_OK && i < n; i++)
            for (size_t j = 0; j < n; j++)
                if (i != j && comp[i] == comp[j]) d->dup[i * n + j] = 1;
        free(comp);
        free(stack);
    }
    if (st == SBERT_OK) {
        for (size_t i = 0; i < d->n; i++)
            for (size_t j = i + 1; j < d->n; j++) {
                unsigned char v = d->dup[i * d->n + j] || d->dup[j * d->n + i];
                d->dup[i * d->n + j] = d->dup[j * d->n + i] = v;
                d->n_dup += v;
            }
    }
    if (st != SBERT_OK) {
        sbert_paraphrase_eval_free(d);
        return st;
    }
    *out = d;
    return SBERT_OK;
}

sbert_status sbert_paraphrase_eval_run(const void *p, const sbert_eval_encoder *enc, const char *name,
                                       sbert_eval_result *out) {
    const pm_data *d = p;
    float *e = malloc((d->n ? d->n : 1) * enc->dim * sizeof *e);
    if (!e) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    sbert_status st = enc->fn(enc->ctx, d->texts, d->n, e);
    double m[5];
    if (st == SBERT_OK) st = sbert_paraphrase_mining_metrics(e, d->n, enc->dim, d->dup, d->n_dup, d->top_k, d->max_pairs, m);
    if (st == SBERT_OK) {
        static const char *const keys[5] = {"average_precision", "f1", "precision", "recall", "threshold"};
        for (int k = 0; k < 5; k++) sbert_eval_put(out, name, keys[k], m[k]);
        sbert_eval_set_primary(out, name, "average_precision");
    }
    free(e);
    return st;
}

size_t sbert_paraphrase_eval_summary(const void *p, char *buf, size_t cap) {
    const pm_data *d = p;
    return (size_t)snprintf(buf, cap, "%zu sentences, %zu duplicate pairs", d->n, d->n_dup);
}
