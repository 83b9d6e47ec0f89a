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
    size_t n, truncate_dim;
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

sbert_status sbert_nano_beir_eval_load(const char *path, size_t max_samples, sbert_eval_opts *opts, void **out) {
    *out = NULL;
    nano_data *d = calloc(1, sizeof *d);
    if (!d) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    sbert_status st = sbert_eval_opt_size(opts, "truncate_dim", 0, 1, 1u << 24, &d->truncate_dim);
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
        if (d->truncate_dim)
            snprintf(d->names[i], sizeof d->names[i], "%.*s_%zu", (int)(l < 100 ? l : 100), base, d->truncate_dim);
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

sbert_status sbert_nano_beir_eval_run(const void *p, const sbert_eval_encoder *enc, const char *name,
                                      sbert_eval_result *out) {
    const nano_data *d = p;
    sbert_eval_result *r = malloc(sizeof *r);
    double *sum = calloc(SBERT_EVAL_MAX_METRICS, sizeof *sum);
    char (*keys)[96] = calloc(SBERT_EVAL_MAX_METRICS, sizeof *keys);
    size_t nk = 0;
    sbert_status st = r && sum && keys ? SBERT_OK : sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    char agg[128], primary_metric[96] = "";
    if (d->truncate_dim) snprintf(agg, sizeof agg, "%s_mean_%zu", name && *name ? name : "NanoBEIR", d->truncate_dim);
    else snprintf(agg, sizeof agg, "%s_mean", name && *name ? name : "NanoBEIR");
    for (size_t i = 0; st == SBERT_OK && i < d->n; i++) {
        memset(r, 0, sizeof *r);
        st = sbert_eval_information_retrieval(enc, &d->data[i], d->names[i], r);
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
    free(r);
    free(sum);
    free(keys);
    return st;
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
