/*
 * tests/test_static_warmstart.c -- StaticEmbedding warm starts against
 * sentence-transformers' StaticEmbedding.from_model2vec / from_distillation
 * (tests/data/static_warmstart/, tools/gen_static_warmstart_refs.py).
 *
 *  - model2vec directories (a vocabulary-quantized one: float16 embeddings,
 *    int64 mapping, float64 weights; a plain float32 one): the table equals
 *    Python's exactly, text embeddings within 1e-6;
 *  - distillation of tests/data/models/tiny-bert (PCA to 16) and of
 *    all-MiniLM-L6-v2 (PCA to 256): the vocabulary (size, token <-> id, the
 *    added tokens, truncation), the token ids of texts, the sampled table rows
 *    and the text embeddings, within the float32 PCA tolerance: 3e-5 x the
 *    largest |value| of the table plus the noise Python's own float32 PCA
 *    shows against a float64 one (pca_f64_max_dev in refs.json). Signs follow
 *    model2vec's rule (largest |score| positive), so no sign is left free;
 *  - bad input: a BPE teacher, a bad remove pattern, a SIF coefficient out of
 *    range, a warm start that is neither kind of directory, a model2vec width
 *    that disagrees with embedding_dim.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "io/npy.h"
#include "models/model.h"
#include "modules/static_embedding.h"
#include "modules/static_warmstart.h"
#include "test_util.h"

static cJSON *g_refs;

static float *load_npy(const char *name, size_t *rows, size_t *cols) {
    char rel[256];
    snprintf(rel, sizeof rel, "tests/data/static_warmstart/%s", name);
    float *d = NULL;
    if (sbert_npy_read_f32(test_path(rel), &d, rows, cols, NULL) != SBERT_OK) {
        CHECK(0, "%s: %s", rel, sbert_last_error());
        return NULL;
    }
    return d;
}

static double encode_err(sbert_model *m, const cJSON *c, const char *emb_file) {
    const cJSON *texts = cJSON_GetObjectItem(c, "texts");
    size_t n = (size_t)cJSON_GetArraySize(texts), rows, cols;
    float *ref = load_npy(emb_file, &rows, &cols);
    if (!ref)
        return INFINITY;
    const char **t = malloc(n * sizeof *t);
    for (size_t i = 0; i < n; i++)
        t[i] = cJSON_GetArrayItem(texts, (int)i)->valuestring;
    sbert_encode_options o = sbert_encode_options_default();
    float *out = malloc(n * cols * sizeof *out);
    double err = INFINITY;
    if (rows == n && sbert_model_encode_dim(m, &o) == cols && sbert_model_encode(m, t, n, &o, out) == SBERT_OK) {
        err = 0;
        for (size_t i = 0; i < n * cols; i++)
            err = test_max_err(err, fabs((double)out[i] - ref[i]));
    }
    free(t);
    free(out);
    free(ref);
    return err;
}

static void test_model2vec(void) {
    const cJSON *c;
    int n = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(g_refs, "model2vec")) {
        const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
        char dir[1024];
        snprintf(dir, sizeof dir, "%s", test_path(cJSON_GetObjectItem(c, "dir")->valuestring));
        CHECK(sbert_is_model2vec_dir(dir), "[%s] recognised as a model2vec directory", name);
        sbert_model *m = NULL;
        CHECK_OK(sbert_static_from_model2vec(dir, &m));
        if (!m)
            continue;
        size_t rows, cols;
        float *w = load_npy(cJSON_GetObjectItem(c, "weights_file")->valuestring, &rows, &cols);
        sbert_static_embedding *e = sbert_static_module_table(sbert_model_input(m));
        CHECK(e && w && e->vocab == rows && e->dim == cols, "[%s] table %zux%zu, Python %zux%zu", name,
              e ? e->vocab : 0, e ? e->dim : 0, rows, cols);
        if (e && w && e->vocab == rows && e->dim == cols) {
            size_t diff = 0;
            for (size_t i = 0; i < rows * cols; i++)
                diff += e->weight[i] != w[i];
            CHECK(diff == 0, "[%s] %zu of %zu table values differ from from_model2vec's", name, diff, rows * cols);
        }
        double err = encode_err(m, c, cJSON_GetObjectItem(c, "text_emb_file")->valuestring);
        CHECK(err <= 1e-6, "[%s] text embeddings within 1e-6 of Python's (max err %.3g)", name, err);
        free(w);
        /* the recipe path: the width must agree with embedding_dim when given */
        sbert_model *m2 = NULL;
        char desc[256];
        CHECK(sbert_static_warmstart(dir, 999, 1, NULL, NULL, &m2, desc, sizeof desc) == SBERT_ERR_INVALID_ARG &&
                  strstr(sbert_last_error(), "embedding_dim: 24"),
              "[%s] width mismatch: %s", name, sbert_last_error());
        CHECK_OK(sbert_static_warmstart(dir, 256, 0, NULL, NULL, &m2, desc, sizeof desc));
        CHECK(m2 && sbert_model_full_dim(m2) == 24 && strstr(desc, "model2vec"), "[%s] warm start: %s", name, desc);
        sbert_model_free(m2);
        sbert_model_free(m);
        n++;
    }
    CHECK(n == 2, "%d model2vec directories checked", n);
}

static void test_distill_case(const cJSON *c) {
    const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
    char teacher[1024];
    snprintf(teacher, sizeof teacher, "%s", test_path(cJSON_GetObjectItem(c, "teacher")->valuestring));
    if (!TEST_REQUIRE_FILE(teacher, TEST_FETCH_MODELS))
        return;
    sbert_distill_options o = sbert_distill_options_default();
    o.pca_dims = (size_t)cJSON_GetObjectItem(c, "pca_dims")->valueint;
    sbert_model *m = NULL;
    CHECK_OK(sbert_static_from_distillation(teacher, &o, &m));
    if (!m)
        return;
    sbert_static_embedding *e = sbert_static_module_table(sbert_model_input(m));
    size_t ntok = (size_t)cJSON_GetObjectItem(c, "n_tokens")->valueint, dim = (size_t)cJSON_GetObjectItem(c, "dim")->valueint;
    CHECK(e && e->vocab == ntok && e->dim == dim, "[%s] table %zux%zu, Python %zux%zu", name, e ? e->vocab : 0,
          e ? e->dim : 0, ntok, dim);
    const sbert_tokenizer *tok = sbert_model_tokenizer(m);
    CHECK(sbert_tokenizer_vocab_size(tok) == ntok, "[%s] vocabulary of %zu tokens, Python %zu", name,
          sbert_tokenizer_vocab_size(tok), ntok);
    /* sampled token <-> id */
    const cJSON *ids = cJSON_GetObjectItem(c, "sample_ids"), *toks = cJSON_GetObjectItem(c, "sample_tokens");
    size_t ns = (size_t)cJSON_GetArraySize(ids), bad_ids = 0;
    for (size_t i = 0; i < ns; i++)
        bad_ids += sbert_tokenizer_token_to_id(tok, cJSON_GetArrayItem(toks, (int)i)->valuestring) !=
                   cJSON_GetArrayItem(ids, (int)i)->valueint;
    CHECK(bad_ids == 0, "[%s] %zu of %zu sampled tokens have another id than in Python's tokenizer", name, bad_ids, ns);
    CHECK(sbert_tokenizer_token_to_id(tok, "[CLS]") < 0 && sbert_tokenizer_token_to_id(tok, "[unused5]") < 0 &&
              sbert_tokenizer_token_to_id(tok, "[UNK]") >= 0,
          "[%s] [CLS] and [unusedN] removed, [UNK] kept", name);
    /* token ids of texts (no special tokens, the truncation Python sets) */
    const cJSON *texts = cJSON_GetObjectItem(c, "texts"), *tids = cJSON_GetObjectItem(c, "text_ids");
    size_t bad_text = 0;
    for (int i = 0; i < cJSON_GetArraySize(texts); i++) {
        sbert_encoding enc;
        if (sbert_model_tokenize(m, NULL, cJSON_GetArrayItem(texts, i)->valuestring, NULL, &enc) != SBERT_OK) {
            bad_text++;
            continue;
        }
        const cJSON *want = cJSON_GetArrayItem(tids, i);
        int same = enc.len == (size_t)cJSON_GetArraySize(want);
        for (size_t k = 0; same && k < enc.len; k++)
            same = enc.input_ids[k] == cJSON_GetArrayItem(want, (int)k)->valueint;
        bad_text += !same;
        sbert_encoding_free(&enc);
    }
    CHECK(bad_text == 0, "[%s] %zu texts tokenize differently from Python's distilled tokenizer", name, bad_text);
    /* table rows */
    size_t rows, cols;
    float *v = load_npy(cJSON_GetObjectItem(c, "vectors_file")->valuestring, &rows, &cols);
    double tol = 3e-5 * cJSON_GetObjectItem(c, "table_max_abs")->valuedouble +
                 cJSON_GetObjectItem(c, "pca_f64_max_dev")->valuedouble;
    double err = INFINITY;
    if (v && e && rows == ns && cols == e->dim) {
        err = 0;
        for (size_t i = 0; i < ns; i++) {
            size_t id = (size_t)cJSON_GetArrayItem(ids, (int)i)->valueint;
            for (size_t k = 0; k < cols; k++)
                err = test_max_err(err, fabs((double)e->weight[id * cols + k] - v[i * cols + k]));
        }
    }
    CHECK(err <= tol, "[%s] sampled table rows within %.3g of from_distillation's (max err %.3g)", name, tol, err);
    printf("[%s] distilled %zu tokens x %zu: max |sbert - ST| = %.3g (tolerance %.3g; Python's float32 vs float64 "
           "PCA: %.3g)\n",
           name, ntok, dim, err, tol, cJSON_GetObjectItem(c, "pca_f64_max_dev")->valuedouble);
    double terr = encode_err(m, c, cJSON_GetObjectItem(c, "text_emb_file")->valuestring);
    CHECK(terr <= tol, "[%s] text embeddings within %.3g (max err %.3g)", name, tol, terr);
    free(v);
    sbert_model_free(m);
}

static void test_distill(void) {
    const cJSON *c;
    int n = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(g_refs, "distill")) {
        const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
        if (strcmp(name, "tiny") != 0 && TEST_SANITIZED) {
            test_skip("distilling %s (29.5k forward passes through MiniLM: too slow under the sanitizers)", name);
            continue;
        }
        test_distill_case(c);
        n++;
    }
    CHECK(n >= 1, "%d distillations checked", n);
}

static void test_errors(void) {
    sbert_model *m = NULL;
    sbert_distill_options o = sbert_distill_options_default();
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", test_path("tests/data/models/tiny-roberta"));
    CHECK(sbert_static_from_distillation(dir, &o, &m) == SBERT_ERR_UNSUPPORTED &&
              strstr(sbert_last_error(), "WordPiece"),
          "BPE teacher: %s", sbert_last_error());
    snprintf(dir, sizeof dir, "%s", test_path("tests/data/models/tiny-bert"));
    o.token_remove_pattern = "[unused";
    CHECK(sbert_static_from_distillation(dir, &o, &m) == SBERT_ERR_INVALID_ARG &&
              strstr(sbert_last_error(), "token_remove_pattern"),
          "bad pattern: %s", sbert_last_error());
    o = sbert_distill_options_default();
    o.sif_coefficient = 1.5;
    CHECK(sbert_static_from_distillation(dir, &o, &m) == SBERT_ERR_INVALID_ARG &&
              strstr(sbert_last_error(), "SIF coefficient"),
          "bad SIF: %s", sbert_last_error());
    o = sbert_distill_options_default();
    o.token_remove_pattern = ".*";
    CHECK(sbert_static_from_distillation(dir, &o, &m) == SBERT_ERR_INVALID_ARG &&
              strstr(sbert_last_error(), "vocabulary is empty"),
          "everything removed: %s", sbert_last_error());
    char desc[256];
    CHECK(sbert_static_warmstart("/nonexistent/warm", 64, 1, NULL, NULL, &m, desc, sizeof desc) == SBERT_ERR_IO &&
              strstr(sbert_last_error(), "model2vec"),
          "missing warm start: %s", sbert_last_error());
    CHECK(!sbert_is_model2vec_dir(test_path("models/all-MiniLM-L6-v2")), "a bi-encoder is not a model2vec dir");
    /* PCA pieces: skipped when pca_dims >= the number of rows, width kept when above the width */
    float x[4 * 3] = {1, 2, 3, 4, 5, 6, 7, 8, 10, 0, 1, 0}, y[4 * 3];
    size_t k = 9;
    CHECK_OK(sbert_distill_pca(x, 2, 3, 2, y, &k));
    CHECK(k == 0, "pca_dims >= tokens: no PCA (k=%zu)", k);
    CHECK_OK(sbert_distill_pca(x, 4, 3, 8, y, &k));
    CHECK(k == 3, "pca_dims above the width keeps the width (k=%zu)", k);
    CHECK_OK(sbert_distill_pca(x, 4, 3, 2, y, &k));
    CHECK(k == 2, "pca to 2: k=%zu", k);
    for (size_t c = 0; c < 2; c++) {
        float best = 0;
        for (size_t i = 0; i < 4; i++)
            if (fabsf(y[i * 2 + c]) > fabsf(best))
                best = y[i * 2 + c];
        CHECK(best > 0, "component %zu: the largest |score| is positive (%g)", c, best);
    }
}

int main(void) {
    size_t len;
    char *txt = test_read_file(test_path("tests/data/static_warmstart/refs.json"), &len);
    if (!TEST_REQUIRE_FILE(test_path("tests/data/static_warmstart/refs.json"), "run tools/gen_static_warmstart_refs.py"))
        return test_summary();
    g_refs = cJSON_Parse(txt);
    free(txt);
    CHECK(g_refs != NULL, "refs.json parses");
    if (g_refs) {
        test_model2vec();
        test_distill();
        test_errors();
    }
    cJSON_Delete(g_refs);
    return test_summary();
}
