/*
 * tests/test_ce_util.h -- CrossEncoder reference folders for the tests.
 *
 * tools/gen_cross_encoder_refs.py commits, per model, the small files
 * CrossEncoder.save wrote (saved/), the head tensors (head.safetensors) and
 * ref.json, whose "weights" list says where every tensor of the saved
 * model.safetensors comes from (the base encoder file or the head file).
 * ce_build_folder rebuilds the folder Python saved in a temp directory:
 * the files of saved/ + the base tokenizer.json + a model.safetensors (F32) made of
 * those tensors under their saved names.
 */
#ifndef SBERT_TEST_CE_UTIL_H
#define SBERT_TEST_CE_UTIL_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "io/atomic.h"
#include "io/dirs.h"
#include "io/file.h"
#include "io/safetensors.h"
#include "test_util.h"

static inline int ce_copy(const char *src, const char *dst) {
    char *data = NULL;
    size_t len = 0;
    if (sbert_read_file(src, &data, &len) != SBERT_OK) return 0;
    int ok = sbert_write_file_atomic(dst, data, len) == SBERT_OK;
    free(data);
    return ok;
}

/* tests/data/cross_encoder/<name>/ref.json, parsed (NULL + a failure when missing). */
static inline cJSON *ce_ref(const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "tests/data/cross_encoder/%s/ref.json", name);
    const char *p = test_path(rel);
    if (!TEST_REQUIRE_FILE(p, "run tools/gen_cross_encoder_refs.py")) return NULL;
    cJSON *j = NULL;
    if (sbert_json_load(p, &j) != SBERT_OK) {
        CHECK(0, "%s: %s", p, sbert_last_error());
        return NULL;
    }
    return j;
}

/* Rebuild model `name` into dir (created). 1 on success. */
static inline int ce_build_folder(const char *name, const cJSON *ref, const char *dir) {
    char src[4096], dst[4096], rel[512];
    if (sbert_mkdir_p(dir) != SBERT_OK) return 0;
    snprintf(rel, sizeof rel, "tests/data/cross_encoder/%s/saved", name);
    snprintf(src, sizeof src, "%s", test_path(rel));
    DIR *d = opendir(src);
    if (!d) {
        CHECK(0, "%s: cannot open", src);
        return 0;
    }
    struct dirent *de;
    int ok = 1;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char a[4600], b[4600];
        snprintf(a, sizeof a, "%s/%s", src, de->d_name);
        snprintf(b, sizeof b, "%s/%s", dir, de->d_name);
        ok &= ce_copy(a, b);
    }
    closedir(d);
    const cJSON *tj = cJSON_GetObjectItem(ref, "tokenizer_json");
    snprintf(dst, sizeof dst, "%s/tokenizer.json", dir);
    if (!TEST_REQUIRE_FILE(test_path(tj->valuestring), TEST_FETCH_MODELS)) return 0;
    ok &= ce_copy(test_path(tj->valuestring), dst);
    const cJSON *w = cJSON_GetObjectItem(ref, "weights");
    const char *base_file = cJSON_GetObjectItem(w, "base_file")->valuestring;
    snprintf(rel, sizeof rel, "tests/data/cross_encoder/%s/head.safetensors", name);
    sbert_safetensors *base = NULL, *head = NULL;
    if (!TEST_REQUIRE_FILE(test_path(base_file), TEST_FETCH_MODELS)) return 0;
    if (sbert_st_open(test_path(base_file), &base) != SBERT_OK || sbert_st_open(test_path(rel), &head) != SBERT_OK) {
        CHECK(0, "%s", sbert_last_error());
        sbert_st_close(base);
        return 0;
    }
    const cJSON *tensors = cJSON_GetObjectItem(w, "tensors"), *t;
    size_t n = (size_t)cJSON_GetArraySize(tensors), k = 0;
    sbert_st_entry *e = calloc(n, sizeof *e);
    float **bufs = calloc(n, sizeof *bufs);
    cJSON_ArrayForEach(t, tensors) {
        const cJSON *shape = cJSON_GetObjectItem(t, "shape");
        size_t numel = 1;
        e[k].ndim = cJSON_GetArraySize(shape);
        for (int i = 0; i < e[k].ndim; i++) {
            e[k].shape[i] = (int64_t)cJSON_GetArrayItem(shape, i)->valuedouble;
            numel *= (size_t)e[k].shape[i];
        }
        bufs[k] = malloc(numel * sizeof(float));
        const sbert_safetensors *from = strcmp(cJSON_GetObjectItem(t, "source")->valuestring, "head") ? base : head;
        if (sbert_st_read_f32(from, cJSON_GetObjectItem(t, "source_key")->valuestring, e[k].shape, e[k].ndim,
                              bufs[k]) != SBERT_OK) {
            CHECK(0, "%s", sbert_last_error());
            ok = 0;
        }
        e[k].name = cJSON_GetObjectItem(t, "name")->valuestring;
        e[k].data = bufs[k];
        k++;
    }
    snprintf(dst, sizeof dst, "%s/model.safetensors", dir);
    if (ok && sbert_st_write(dst, e, n, NULL, 0) != SBERT_OK) {
        CHECK(0, "%s", sbert_last_error());
        ok = 0;
    }
    for (size_t i = 0; i < n; i++) free(bufs[i]);
    free(bufs);
    free(e);
    sbert_st_close(base);
    sbert_st_close(head);
    return ok;
}

/* pairs.json, parsed. */
static inline cJSON *ce_pairs(void) {
    const char *p = test_path("tests/data/cross_encoder/pairs.json");
    if (!TEST_REQUIRE_FILE(p, "run tools/gen_cross_encoder_refs.py")) return NULL;
    cJSON *j = NULL;
    if (sbert_json_load(p, &j) != SBERT_OK) return NULL;
    return j;
}

/* A fresh temp directory (static buffer per slot). */
static inline const char *ce_tmpdir(const char *tag) {
    static char buf[4][256];
    static int slot = 0;
    char *b = buf[slot++ & 3];
    snprintf(b, 256, "/tmp/sbert-ce-%s-XXXXXX", tag);
    if (!mkdtemp(b)) {
        CHECK(0, "mkdtemp failed");
        return NULL;
    }
    return b;
}

#endif
