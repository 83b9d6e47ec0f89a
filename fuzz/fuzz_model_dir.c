/*
 * fuzz/fuzz_model_dir.c -- libFuzzer target for model directories: the
 * sentence-transformers configs (modules.json, sentence_bert_config.json,
 * config_sentence_transformers.json, 1_Pooling/config.json,
 * 2_Dense/config.json, 2_Dense/model.safetensors) and the Hugging Face
 * config.json, loaded through sbert_model_load.
 *
 * A model directory is built once in a private temp dir around the tiny BERT
 * of tests/data/models/tiny-bert, cut to its first 3,200 vocabulary entries
 * so that each load is fast (fuzz/data/tiny-model.safetensors, tiny-config.json
 * and the WordPiece tokenizer tiny-tokenizer.json), with the
 * Transformer -> Pooling(max) -> Dense(32->16, tanh) layout of
 * tests/data/st_models/bert-max-dense-tanh. Byte 0 of the input picks one of
 * those files and the rest replaces it (the others are restored first). A
 * model that loads must report a sane dimension and encode texts into it
 * (plain, normalized, truncated) without a memory error.
 *
 * Data are found under SBERT_SOURCE_DIR (compiled in), or $SBERT_ROOT.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "sbert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifndef SBERT_SOURCE_DIR
#define SBERT_SOURCE_DIR "."
#endif

static const char *const k_files[] = {
    "config.json",         "modules.json",          "sentence_bert_config.json",
    "config_sentence_transformers.json", "1_Pooling/config.json", "2_Dense/config.json",
    "2_Dense/model.safetensors",         "tokenizer_config.json",
};
#define N_FILES (sizeof k_files / sizeof k_files[0])

static char g_model[512];
static char *g_orig[N_FILES];
static size_t g_orig_len[N_FILES];

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fuzz_model_dir: cannot read %s (set SBERT_ROOT to the repository)\n", path);
        abort();
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) abort();
    fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

static void setup(void) {
    const char *root = getenv("SBERT_ROOT");
    if (!root || !*root) root = SBERT_SOURCE_DIR;
    snprintf(g_model, sizeof g_model, "%s/model", fuzz_dir());
    mkdir(g_model, 0755);
    mkdir(fuzz_path(g_model, "1_Pooling"), 0755);
    mkdir(fuzz_path(g_model, "2_Dense"), 0755);
    char src[1024];
    snprintf(src, sizeof src, "%s/fuzz/data/tiny-model.safetensors", root);
    if (symlink(src, fuzz_path(g_model, "model.safetensors")) != 0) abort();
    size_t len;
    snprintf(src, sizeof src, "%s/fuzz/data/tiny-tokenizer.json", root);
    char *tok = slurp(src, &len);
    fuzz_write(fuzz_path(g_model, "tokenizer.json"), tok, len);
    free(tok);
    for (size_t i = 0; i < N_FILES; i++) {
        if (strcmp(k_files[i], "config.json") == 0)
            snprintf(src, sizeof src, "%s/fuzz/data/tiny-config.json", root);
        else if (strcmp(k_files[i], "tokenizer_config.json") == 0)
            snprintf(src, sizeof src, "%s/tests/data/models/tiny-bert/%s", root, k_files[i]);
        else
            snprintf(src, sizeof src, "%s/tests/data/st_models/bert-max-dense-tanh/%s", root, k_files[i]);
        g_orig[i] = slurp(src, &g_orig_len[i]);
        fuzz_write(fuzz_path(g_model, k_files[i]), g_orig[i], g_orig_len[i]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_model[0]) setup();
    if (size < 1 || size > (1u << 18)) return 0;
    size_t which = data[0] % N_FILES;
    for (size_t i = 0; i < N_FILES; i++)
        if (i == which)
            fuzz_write(fuzz_path(g_model, k_files[i]), data + 1, size - 1);
        else
            fuzz_write(fuzz_path(g_model, k_files[i]), g_orig[i], g_orig_len[i]);
    sbert_load_options lo = {1};
    sbert_model *m = NULL;
    if (sbert_model_load(g_model, &lo, &m) != SBERT_OK) {
        if (m) abort();
        return 0;
    }
    sbert_encode_options o = sbert_encode_options_default();
    size_t dim = sbert_model_encode_dim(m, &o);
    if (dim == 0 || dim > (1u << 20)) abort();
    const char *texts[2] = {"A man is playing a guitar.", ""};
    float *emb = malloc(2 * dim * sizeof *emb);
    if (!emb) abort();
    if (sbert_model_encode(m, texts, 2, &o, emb) == SBERT_OK) {
        volatile float acc = 0;
        for (size_t i = 0; i < 2 * dim; i++) acc += emb[i]; /* every value written (MSan/ASan) */
        (void)acc;
    }
    o.normalize = 1;
    o.truncate_dim = 3; /* may be more than the model's own truncate_dim: ask again */
    size_t dim3 = sbert_model_encode_dim(m, &o);
    if (dim3 == 0 || dim3 > 3) abort();
    if (dim3 <= 2 * dim && sbert_model_encode(m, texts, 1, &o, emb) == SBERT_OK) (void)emb[0];
    float sim[4];
    const char *fn = sbert_model_similarity_fn_name(m);
    if (dim3 <= 2 * dim) (void)sbert_similarity(fn ? fn : "cosine", emb, 1, emb, 1, dim3, sim);
    (void)sbert_model_prompt(m, "query");
    (void)sbert_model_default_prompt_name(m);
    (void)sbert_model_max_seq_length(m);
    free(emb);
    sbert_model_free(m);
    return 0;
}
