/*
 * tests/sparse_test_util.h -- helpers shared by the SparseEncoder tests:
 * assembling the tiny masked-language models of tests/data/sparse/ (see
 * tools/gen_sparse_refs.py) into model folders, copying files, reading the
 * reference JSON.
 *
 * A tiny MLM folder = tests/data/sparse/tiny-<family>/config.json
 *   + tests/data/models/tiny-<family>/{tokenizer.json, tokenizer_config.json}
 *   + model.safetensors: the tiny encoder's tensors under the base-model
 *     prefix and the head tensors of tests/data/sparse/tiny-<family>/head.safetensors,
 *     written as F32 (the values Python used).
 */
#ifndef SBERT_TESTS_SPARSE_TEST_UTIL_H
#define SBERT_TESTS_SPARSE_TEST_UTIL_H

/* Paths are composed into fixed buffers far larger than any test path. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "io/file.h"
#include "io/safetensors.h"
#include "test_util.h"

static inline int st_copy_file(const char *src, const char *dst) {
    FILE *in = fopen(src, "rb");
    if (!in) return 0;
    FILE *out = fopen(dst, "wb");
    if (!out) {
        fclose(in);
        return 0;
    }
    char buf[65536];
    size_t n;
    int ok = 1;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n) ok = 0;
    fclose(in);
    if (fclose(out) != 0) ok = 0;
    return ok;
}

static inline void st_mkdirs(const char *path) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(tmp, 0755);
            *p = '/';
        }
    mkdir(tmp, 0755);
}

/* The base-model prefix of a tiny family. */
static inline const char *st_family_prefix(const char *family) {
    if (!strcmp(family, "bert")) return "bert.";
    if (!strcmp(family, "distilbert")) return "distilbert.";
    if (!strcmp(family, "mpnet")) return "mpnet.";
    return "roberta.";
}

/* Write every tensor of the listed safetensors files (F16/F32 read as F32)
 * into one F32 file; names get `prefix` unless they start with it (files[0]
 * only). Returns 1 on success. */
static inline int st_merge_weights(const char *enc_path, const char *prefix, const char *head_path, const char *out_path) {
    sbert_safetensors *a = NULL, *b = NULL;
    if (sbert_st_open(enc_path, &a) != SBERT_OK) return 0;
    if (head_path && sbert_st_open(head_path, &b) != SBERT_OK) {
        sbert_st_close(a);
        return 0;
    }
    size_t na = sbert_st_count(a), nb = b ? sbert_st_count(b) : 0, n = 0;
    sbert_st_entry *e = calloc(na + nb, sizeof *e);
    float **bufs = calloc(na + nb, sizeof *bufs);
    char **names = calloc(na + nb, sizeof *names);
    int ok = e && bufs && names;
    for (size_t f = 0; f < 2 && ok; f++) {
        sbert_safetensors *s = f ? b : a;
        size_t cnt = f ? nb : na;
        for (size_t i = 0; i < cnt && ok; i++) {
            const sbert_st_tensor *t = sbert_st_at(s, i);
            if (t->dtype != SBERT_DT_F32 && t->dtype != SBERT_DT_F16) continue;
            size_t numel = 1;
            for (int k = 0; k < t->ndim; k++) numel *= (size_t)t->shape[k];
            bufs[n] = malloc((numel ? numel : 1) * sizeof(float));
            names[n] = malloc(strlen(t->name) + strlen(prefix) + 1);
            if (!bufs[n] || !names[n]) {
                ok = 0;
                break;
            }
            if (f == 0 && strncmp(t->name, prefix, strlen(prefix)) != 0) sprintf(names[n], "%s%s", prefix, t->name);
            else strcpy(names[n], t->name);
            if (sbert_st_read_f32(s, t->name, NULL, 0, bufs[n]) != SBERT_OK) ok = 0;
            e[n].name = names[n];
            e[n].data = bufs[n];
            e[n].ndim = t->ndim;
            for (int k = 0; k < t->ndim; k++) e[n].shape[k] = t->shape[k];
            n++;
        }
    }
    if (ok && sbert_st_write(out_path, e, n, NULL, 0) != SBERT_OK) ok = 0;
    for (size_t i = 0; i < n; i++) {
        free(bufs[i]);
        free(names[i]);
    }
    free(bufs);
    free(names);
    free(e);
    sbert_st_close(a);
    if (b) sbert_st_close(b);
    return ok;
}

/* Assemble tiny-<family>'s MLM folder into dest. Returns 1 on success. */
static inline int st_assemble_mlm(const char *family, const char *dest) {
    char src[4096], dst[4096], head[4096];
    st_mkdirs(dest);
    snprintf(src, sizeof src, "%s/tiny-%s/config.json", test_path("tests/data/sparse"), family);
    snprintf(dst, sizeof dst, "%s/config.json", dest);
    if (!TEST_REQUIRE_FILE(src, "run tools/gen_sparse_refs.py") || !st_copy_file(src, dst)) return 0;
    static const char *const tok[] = {"tokenizer.json", "tokenizer_config.json"};
    for (int i = 0; i < 2; i++) {
        snprintf(src, sizeof src, "%s/tiny-%s/%s", test_path("tests/data/models"), family, tok[i]);
        snprintf(dst, sizeof dst, "%s/%s", dest, tok[i]);
        if (!TEST_REQUIRE_FILE(src, "run tools/gen_tiny_models.py") || !st_copy_file(src, dst)) return 0;
    }
    snprintf(src, sizeof src, "%s/tiny-%s/model.safetensors", test_path("tests/data/models"), family);
    snprintf(head, sizeof head, "%s/tiny-%s/head.safetensors", test_path("tests/data/sparse"), family);
    snprintf(dst, sizeof dst, "%s/model.safetensors", dest);
    return st_merge_weights(src, st_family_prefix(family), head, dst);
}

/* Copy the files of a plain folder (not recursive). */
static inline int st_copy_dir_files(const char *src_dir, const char *dest, const char *const *names, size_t n) {
    st_mkdirs(dest);
    for (size_t i = 0; i < n; i++) {
        char src[4096], dst[4096];
        snprintf(src, sizeof src, "%s/%s", src_dir, names[i]);
        snprintf(dst, sizeof dst, "%s/%s", dest, names[i]);
        if (access(src, F_OK) != 0) continue;
        if (!st_copy_file(src, dst)) return 0;
    }
    return 1;
}

/* A fresh temporary directory (static buffer per call site: copy it). */
static inline const char *st_tmpdir(const char *tag) {
    static char buf[8][256];
    static int slot = 0;
    char *b = buf[slot++ % 8];
    snprintf(b, 256, "/tmp/sbert-%s-XXXXXX", tag);
    if (!mkdtemp(b)) return NULL;
    return b;
}

static inline void st_rm_rf(const char *path) {
    char cmd[4200];
    if (strncmp(path, "/tmp/sbert-", 11) != 0) return; /* only our own temp dirs */
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", path);
}

/* The JSON file at path (NULL + a failure when missing or malformed). */
static inline cJSON *st_load_json(const char *path) {
    cJSON *j = NULL;
    if (!TEST_REQUIRE_FILE(path, "run tools/gen_sparse_refs.py")) return NULL;
    if (sbert_json_load(path, &j) != SBERT_OK) {
        CHECK(0, "%s: %s", path, sbert_last_error());
        return NULL;
    }
    return j;
}

/* Compare sparse rows with ref rows [{"indices", "values"}]: same indices,
 * values within tol relative to max(1, |ref|). Returns the max error. */
static inline double st_compare_rows(const sbert_sparse_rows *r, const cJSON *rows, const char *what, double tol) {
    double maxe = 0;
    int n = cJSON_GetArraySize(rows);
    CHECK((size_t)n == r->n_rows, "%s: %zu rows, reference %d", what, r->n_rows, n);
    for (int i = 0; i < n && (size_t)i < r->n_rows; i++) {
        const cJSON *row = cJSON_GetArrayItem(rows, i);
        const cJSON *idx = cJSON_GetObjectItem(row, "indices"), *val = cJSON_GetObjectItem(row, "values");
        size_t nn = (size_t)cJSON_GetArraySize(idx), a = r->indptr[i], have = r->indptr[i + 1] - a;
        CHECK(nn == have, "%s row %d: %zu active dims, reference %zu", what, i, have, nn);
        if (nn != have) continue;
        size_t k = 0;
        for (const cJSON *x = idx->child, *y = val->child; x && y; x = x->next, y = y->next, k++) {
            if (r->indices[a + k] != (int32_t)x->valueint) {
                CHECK(0, "%s row %d: active dim %zu is %d, reference %d", what, i, k, (int)r->indices[a + k],
                      x->valueint);
                break;
            }
            double ref = y->valuedouble, d = fabs((double)r->values[a + k] - ref) / (fabs(ref) > 1 ? fabs(ref) : 1);
            maxe = test_max_err(maxe, d);
        }
    }
    CHECK(maxe <= tol, "%s: max error %.3g > %.1g", what, maxe, tol);
    return maxe;
}

#endif
