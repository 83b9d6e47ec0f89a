/*
 * evaluation/nano_beir.c -- NanoBEIREvaluator over local IR collections: the
 * data is a directory of InformationRetrievalEvaluator JSON files (one
 * collection each, named by the file name without .json, in name order) or
 * a comma-free list of such files joined with '+'. Each collection is
 * evaluated as InformationRetrievalEvaluator named after it (with
 * "_{truncate_dim}" when truncated), then every metric is averaged over the
 * collections (np.mean) under "{name}_mean" ("NanoBEIR_mean" when the
 * evaluator has no name; "_{truncate_dim}" appended when truncated), as
 * sentence-transformers' NanoBEIREvaluator does with its 13 Hub datasets:
 *   {collection}_cosine_ndcg@10, ..., NanoBEIR_mean_cosine_ndcg@10 (primary).
 * Options: truncate_dim.
 *
 * SparseNanoBEIREvaluator: the same over SparseInformationRetrievalEvaluator
 * (sparse_evaluators.c), option max_active_dims (appended as "_{k}" to the
 * collection and aggregate names, as truncate_dim is), and the aggregate's
 * sparsity statistics replaced as Python replaces them: query_* / corpus_*
 * active dims and sparsity ratios weighted by each collection's number of
 * queries / documents, avg_flops the dot product of the mean query and mean
 * document usage vectors over all collections.
 */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/error.h"
#include "evaluation/st_evaluators.h"

#define NANO_MAX 32

typedef struct {
    size_t n, truncate_dim, max_active_dims;
    int sparse;
    char names[NANO_MAX][128];
    sbert_ir_data data[NANO_MAX];
} nano_data;

void sbert_nano_beir_eval_free(void *p) {
    nano_data *d = p;
    if (!d) return;
    for (size_t i = 0; i < d->n; i++) sbert_ir_data_free(&d->data[i]);
    free(d);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static sbert_status nano_load(const char *path, size_t max_samples, sbert_eval_opts *opts, int sparse, void **out) {
    *out = NULL;
    nano_data *d = calloc(1, sizeof *d);
    if (!d) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    d->sparse = sparse;
    sbert_status st = sparse ? sbert_eval_opt_size(opts, "max_active_dims", 0, 1, 1u << 24, &d->max_active_dims)
                             : sbert_eval_opt_size(opts, "truncate_dim", 0, 1, 1u << 24, &d->truncate_dim);
    if (st == SBERT_OK && sparse && sbert_eval_opt(opts, "truncate_dim"))
        st = sbert_fail(SBERT_ERR_INVALID_ARG, "truncate_dim does not apply to SparseNanoBEIREvaluator (use "
                                               "max_active_dims)");
    char *files[NANO_MAX];
    size_t nf = 0;
    struct stat sb;
    if (st == SBERT_OK && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        DIR *dir = opendir(path);
        struct dirent *e;
        while (dir && (e = readdir(dir))) {
            size_t l = strlen(e->d_name);
            if (l < 6 || strcmp(e->d_name + l - 5, ".json")) continue;
            if (nf == NANO_MAX) {
                st = sbert_fail(SBERT_ERR_INVALID_ARG, "%s: more than %d collections", path, NANO_MAX);
                break;
            }
            if (!(files[nf] = malloc(strlen(path) + l + 2))) break;
            sprintf(files[nf++], "%s/%s", path, e->d_name);
        }
        if (dir) closedir(dir);
        qsort(files, nf, sizeof *files, cmp_str);
    } else if (st == SBERT_OK) {
        char buf[4096];
        snprintf(buf, sizeof buf, "%s", path);
        for (char *t = strtok(buf, "+"); t && nf < NANO_MAX; t = strtok(NULL, "+")) files[nf++] = strdup(t);
    }
    if (st == SBERT_OK && nf == 0)
        st = sbert_fail(SBERT_ERR_INVALID_ARG,
                        "%s: NanoBEIREvaluator reads a directory of InformationRetrievalEvaluator .json files (or "
                        "files joined with '+'); none found",
                        path);
    for (size_t i = 0; st == SBERT_OK && i < nf; i++) {
        const char *base = strrchr(files[i], '/');
        base = base ? base + 1 : files[i];
        size_t l = strlen(base);
        if (l > 5 && !strcmp(base + l - 5, ".json")) l -= 5;
        size_t suffix = d->truncate_dim ? d->truncate_dim : d->max_active_dims;
        if (suffix)
            snprintf(d->names[i], sizeof d->names[i], "%.*s_%zu", (int)(l < 100 ? l : 100), base, suffix);
        else
            snprintf(d->names[i], sizeof d->names[i], "%.*s", (int)(l < 120 ? l : 120), base);
        st = sbert_ir_data_load(files[i], &d->data[i]);
        if (st == SBERT_OK) {
            d->n = i + 1;
            if (max_samples) sbert_ir_data_truncate(&d->data[i], max_samples);
        }
    }
    for (size_t i = 0; i < nf; i++) free(files[i]);
    if (st != SBERT_OK) {
        sbert_nano_beir_eval_free(d);
        return st;
    }
    *out = d;
    return SBERT_OK;
}

sbert_status sbert_nano_beir_eval_load(const char *path, size_t max_samples, sbert_eval_opts *opts, void **out) {
    return nano_load(path, max_samples, opts, 0, out);
}

sbert_status sbert_sparse_nano_beir_eval_load(const char *path, size_t max_samples, sbert_eval_opts *opts,
                                              void **out) {
    return nano_load(path, max_samples, opts, 1, out);
}

/* One collection through the (Sparse)InformationRetrievalEvaluator. */
static sbert_status nano_one(const nano_data *d, size_t i, const sbert_eval_encoder *enc, double *qcount,
                             double *ccount, sbert_eval_result *r) {
    if (!d->sparse) return sbert_eval_information_retrieval(enc, &d->data[i], d->names[i], r);
    return sbert_sparse_ir_eval_with(enc, &d->data[i], d->names[i], d->max_active_dims, qcount, ccount, r);
}

/* The value of the metric of collection i ending in `what`, or NAN. */
static double metric_of(const sbert_eval_result *out, const char *collection, const char *what) {
    char key[256];
    snprintf(key, sizeof key, "%s_%s", collection, what);
    return sbert_eval_get(out, key);
}

/* SparseNanoBEIREvaluator's aggregate sparsity statistics, in place of the means. */
static void sparse_aggregate(const nano_data *d, const char *agg, const double *qcount, const double *ccount,
                             size_t dim, sbert_eval_result *out) {
    static const char *const keys[4] = {"query_active_dims", "query_sparsity_ratio", "corpus_active_dims",
                                        "corpus_sparsity_ratio"};
    size_t nq = 0, nc = 0;
    for (size_t i = 0; i < d->n; i++) {
        nq += d->data[i].nq;
        nc += d->data[i].nc;
    }
    char key[256];
    for (int k = 0; k < 4; k++) {
        double s = 0;
        for (size_t i = 0; i < d->n; i++)
            s += metric_of(out, d->names[i], keys[k]) * (double)(k < 2 ? d->data[i].nq : d->data[i].nc);
        snprintf(key, sizeof key, "%s_%s", agg, keys[k]);
        for (size_t m = 0; m < out->n; m++)
            if (!strcmp(out->m[m].key, key)) out->m[m].value = s / (double)(k < 2 ? nq : nc);
    }
    double flops = 0;
    for (size_t v = 0; v < dim; v++) flops += (qcount[v] / (double)nq) * (ccount[v] / (double)nc);
    snprintf(key, sizeof key, "%s_avg_flops", agg);
    for (size_t m = 0; m < out->n; m++)
        if (!strcmp(out->m[m].key, key)) out->m[m].value = (double)(float)flops;
}

sbert_status sbert_sparse_nano_beir_eval_run(const void *p, const sbert_eval_encoder *enc, const char *name,
                                             sbert_eval_result *out) {
    return sbert_nano_beir_eval_run(p, enc, name, out);
}

sbert_status sbert_nano_beir_eval_run(const void *p, const sbert_eval_encoder *enc, const char *name,
                                      sbert_eval_result *out) {
    const nano_data *d = p;
    double *qcount = d->sparse ? calloc(enc->dim ? enc->dim : 1, sizeof *qcount) : NULL;
    double *ccount = d->sparse ? calloc(enc->dim ? enc->dim : 1, sizeof *ccount) : NULL;
    if (d->sparse && (!qcount || !ccount)) {
        free(qcount);
        free(ccount);
        return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    }
    sbert_eval_result *r = malloc(sizeof *r);
    double *sum = calloc(SBERT_EVAL_MAX_METRICS, sizeof *sum);
    char (*keys)[96] = calloc(SBERT_EVAL_MAX_METRICS, sizeof *keys);
    size_t nk = 0;
    sbert_status st = r && sum && keys ? SBERT_OK : sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    char agg[128], primary_metric[96] = "";
    size_t suffix = d->truncate_dim ? d->truncate_dim : d->max_active_dims;
    if (suffix) snprintf(agg, sizeof agg, "%s_mean_%zu", name && *name ? name : "NanoBEIR", suffix);
    else snprintf(agg, sizeof agg, "%s_mean", name && *name ? name : "NanoBEIR");
    for (size_t i = 0; st == SBERT_OK && i < d->n; i++) {
        memset(r, 0, sizeof *r);
        st = nano_one(d, i, enc, qcount, ccount, r);
        if (st != SBERT_OK) {
            sbert_error_prefix("collection %s: ", d->names[i]);
            break;
        }
        size_t pre = strlen(d->names[i]) + 1;
        for (size_t k = 0; k < r->n; k++) {
            sbert_eval_put(out, "", r->m[k].key, r->m[k].value);
            const char *metric = r->m[k].key + pre;
            if (i == 0) {
                snprintf(keys[nk], sizeof keys[0], "%s", metric);
                sum[nk++] = r->m[k].value;
            } else {
                for (size_t j = 0; j < nk; j++)
                    if (!strcmp(keys[j], metric)) sum[j] += r->m[k].value;
            }
        }
        if (i == 0) snprintf(primary_metric, sizeof primary_metric, "%s", r->primary + pre);
    }
    for (size_t j = 0; st == SBERT_OK && j < nk; j++) sbert_eval_put(out, agg, keys[j], sum[j] / (double)d->n);
    if (st == SBERT_OK) sbert_eval_set_primary(out, agg, primary_metric);
    if (st == SBERT_OK && d->sparse) sparse_aggregate(d, agg, qcount, ccount, enc->dim, out);
    free(qcount);
    free(ccount);
    free(r);
    free(sum);
    free(keys);
    return st;
}

void sbert_sparse_nano_beir_eval_free(void *p) { sbert_nano_beir_eval_free(p); }
size_t sbert_sparse_nano_beir_eval_summary(const void *p, char *buf, size_t cap) {
    return sbert_nano_beir_eval_summary(p, buf, cap);
}

size_t sbert_nano_beir_eval_summary(const void *p, char *buf, size_t cap) {
    const nano_data *d = p;
    size_t q = 0, c = 0;
    for (size_t i = 0; i < d->n; i++) {
        q += d->data[i].nq;
        c += d->data[i].nc;
    }
    return (size_t)snprintf(buf, cap, "%zu collections, %zu queries, %zu documents", d->n, q, c);
}
