/*
 * modules/sparse_static_embedding.c -- SparseStaticEmbedding (see
 * sparse_static_embedding.h): load, tokenize, forward/backward, save.
 */
#include "modules/sparse_static_embedding.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/error.h"
#include "io/atomic.h"
#include "io/dirs.h"
#include "io/file.h"
#include "io/safetensors.h"

#define PATH_CAP 4096

typedef struct {
    sbert_module base;
    sbert_tokenizer *tok;
    float *weight; /* [V] */
    size_t V;
    int frozen;
    long max_length; /* tokenizer_config.json model_max_length; -1: none */
    char *src_dir;
} sse_module;

static const sbert_module_ops SSE_OPS;

int sbert_module_is_sparse_static(const sbert_module *m) { return m && m->ops == &SSE_OPS; }

static sbert_status sse_tokenize(const sbert_module *mod, const char *prompt, const char *text, const char *pair,
                                 sbert_encoding *enc) {
    const sse_module *m = (const sse_module *)mod;
    if (pair) return sbert_fail(SBERT_ERR_UNSUPPORTED, "SparseStaticEmbedding does not take text pairs");
    size_t pl = prompt ? strlen(prompt) : 0, tl = strlen(text);
    char *joined = NULL;
    if (pl) {
        joined = malloc(pl + tl + 1);
        if (!joined) return sbert_fail(SBERT_ERR_NOMEM, "out of memory (prompt + text)");
        memcpy(joined, prompt, pl);
        memcpy(joined + pl, text, tl + 1);
    }
    sbert_tokenize_options to = sbert_tokenize_options_default();
    to.add_special_tokens = 0;
    to.max_length = m->max_length;
    sbert_status st = sbert_tokenizer_encode(m->tok, joined ? joined : text, pl + tl, NULL, 0, &to, enc);
    free(joined);
    return st;
}

static const sbert_tokenizer *sse_tokenizer(const sbert_module *mod) { return ((const sse_module *)mod)->tok; }

static size_t sse_max_seq_length(const sbert_module *mod) {
    const sse_module *m = (const sse_module *)mod;
    return m->max_length > 0 ? (size_t)m->max_length : 0;
}

/* emb[s, v] = weight[v] for every v among sequence s's ids. */
static sbert_status sse_forward(sbert_module *mod, sbert_features *f, sbert_run *run, void **rec) {
    sse_module *m = (sse_module *)mod;
    (void)rec;
    float *emb = sbert_run_alloc(run, f->n_seq * m->V, 1);
    if (!emb) return SBERT_ERR_NOMEM;
    for (size_t s = 0; s < f->n_seq; s++) {
        float *e = emb + s * m->V;
        for (size_t t = f->offs[s]; t < f->offs[s + 1]; t++) {
            int32_t id = f->ids[t];
            if (id < 0 || (size_t)id >= m->V)
                return sbert_fail(SBERT_ERR_FORMAT, "SparseStaticEmbedding: token id %d is outside the %zu weights",
                                  (int)id, m->V);
            e[id] = m->weight[id];
        }
    }
    f->emb = emb;
    f->dim = m->V;
    f->tok = NULL;
    f->tok_dim = 0;
    return SBERT_OK;
}

/* dweight[v] += sum over sequences containing v of dout[s, v]. */
static sbert_status sse_backward(sbert_module *mod, const sbert_features *in, const sbert_features *out,
                                 const sbert_feature_grads *dout, sbert_feature_grads *din, sbert_run *run,
                                 void *rec) {
    sse_module *m = (sse_module *)mod;
    (void)out;
    (void)din;
    (void)rec;
    if (m->frozen) return SBERT_OK;
    float *g = sbert_params_at(mod->pt, mod->pfirst)->grad;
    unsigned char *seen = calloc(m->V, 1);
    (void)run;
    if (!seen) return sbert_fail(SBERT_ERR_NOMEM, "out of memory (SparseStaticEmbedding backward)");
    for (size_t s = 0; s < in->n_seq; s++) {
        for (size_t t = in->offs[s]; t < in->offs[s + 1]; t++) {
            int32_t id = in->ids[t];
            if (seen[id]) continue;
            seen[id] = 1;
            g[id] += dout->emb[s * m->V + (size_t)id];
        }
        for (size_t t = in->offs[s]; t < in->offs[s + 1]; t++) seen[in->ids[t]] = 0;
    }
    free(seen);
    return SBERT_OK;
}

static sbert_status sse_params(sbert_module *mod, sbert_param_table *t) {
    sse_module *m = (sse_module *)mod;
    return sbert_param_add(t, "weight", m->weight, m->V, 0, !m->frozen, -1);
}

static size_t sse_out_dim(const sbert_module *mod) { return ((const sse_module *)mod)->V; }

static void sse_free(sbert_module *mod) {
    sse_module *m = (sse_module *)mod;
    if (!m) return;
    sbert_module_fini(mod);
    sbert_tokenizer_free(m->tok);
    free(m->weight);
    free(m->src_dir);
    free(m);
}

static sbert_status sse_save(const sbert_module *mod, const char *dir) {
    const sse_module *m = (const sse_module *)mod;
    static const char *const files[] = {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                                        "vocab.txt",      "vocab.json",            "merges.txt",
                                        "added_tokens.json"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) SBERT_TRY(sbert_copy_file_atomic(m->src_dir, dir, files[i]));
    SBERT_TRY(sbert_write_text_file(dir, "config.json", m->frozen ? "{\n    \"frozen\": true\n}" : "{\n    \"frozen\": false\n}"));
    char path[PATH_CAP];
    SBERT_TRY(sbert_path_join(path, sizeof path, dir, "model.safetensors"));
    sbert_st_entry e;
    memset(&e, 0, sizeof e);
    e.name = "weight";
    e.data = m->weight;
    e.ndim = 1;
    e.shape[0] = (int64_t)m->V;
    return sbert_st_write(path, &e, 1, NULL, 0);
}

static const sbert_module_ops SSE_OPS = {
    .class_name = "SparseStaticEmbedding",
    .forward = sse_forward,
    .backward = sse_backward,
    .params = sse_params,
    .save = sse_save,
    .out_dim = sse_out_dim,
    .free = sse_free,
    .tokenize = sse_tokenize,
    .tokenizer = sse_tokenizer,
    .max_seq_length = sse_max_seq_length,
};

static sbert_status sse_load_into(sse_module *m, const char *dir) {
    char path[PATH_CAP];
    m->src_dir = malloc(strlen(dir) + 1);
    if (!m->src_dir) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    strcpy(m->src_dir, dir);
    /* config.json: frozen (and a "path" to an idf.json, not supported). */
    SBERT_TRY(sbert_path_join(path, sizeof path, dir, "config.json"));
    if (sbert_file_exists(path)) {
        cJSON *cfg = NULL;
        SBERT_TRY(sbert_json_load(path, &cfg));
        sbert_status st = cJSON_IsObject(cfg) ? SBERT_OK : sbert_fail(SBERT_ERR_FORMAT, "%s: not a JSON object", path);
        for (const cJSON *e = st == SBERT_OK ? cfg->child : NULL; e && st == SBERT_OK; e = e->next) {
            if (!strcmp(e->string, "frozen")) {
                if (!cJSON_IsBool(e)) st = sbert_fail(SBERT_ERR_FORMAT, "%s: \"frozen\" must be true or false", path);
                else m->frozen = cJSON_IsTrue(e);
            } else if (!strcmp(e->string, "path")) {
                st = sbert_fail(SBERT_ERR_UNSUPPORTED,
                                "%s: \"path\" (IDF weights from a JSON file) is not supported; save the model with "
                                "SparseEncoder.save() to get model.safetensors",
                                path);
            } else {
                st = sbert_fail(SBERT_ERR_FORMAT, "%s: unknown SparseStaticEmbedding key \"%s\" (known: frozen)", path,
                                e->string);
            }
        }
        cJSON_Delete(cfg);
        SBERT_TRY(st);
    }
    SBERT_TRY(sbert_path_join(path, sizeof path, dir, "tokenizer.json"));
    if (!sbert_file_exists(path))
        return sbert_fail(SBERT_ERR_IO, "%s: missing (SparseStaticEmbedding keeps its own tokenizer)", path);
    SBERT_TRY(sbert_tokenizer_load(path, &m->tok));
    /* Truncation: tokenizer_config.json model_max_length (none when absent or "very large"). */
    m->max_length = -1;
    SBERT_TRY(sbert_path_join(path, sizeof path, dir, "tokenizer_config.json"));
    if (sbert_file_exists(path)) {
        cJSON *tc = NULL;
        SBERT_TRY(sbert_json_load(path, &tc));
        const cJSON *v = cJSON_IsObject(tc) ? cJSON_GetObjectItemCaseSensitive(tc, "model_max_length") : NULL;
        if (cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble < 1e12) m->max_length = (long)v->valuedouble;
        cJSON_Delete(tc);
    }
    SBERT_TRY(sbert_path_join(path, sizeof path, dir, "model.safetensors"));
    sbert_safetensors *st = NULL;
    SBERT_TRY(sbert_st_open(path, &st));
    const sbert_st_tensor *w = sbert_st_find(st, "weight");
    sbert_status s = SBERT_OK;
    if (!w || w->ndim != 1)
        s = sbert_fail(SBERT_ERR_FORMAT, "%s: needs a 1-D tensor 'weight' (one weight per vocabulary token)", path);
    if (s == SBERT_OK) {
        m->V = (size_t)w->shape[0];
        size_t tv = sbert_tokenizer_vocab_size(m->tok);
        if (tv != m->V)
            s = sbert_fail(SBERT_ERR_FORMAT,
                           "%s: 'weight' has %zu entries but the tokenizer has %zu tokens: they must agree", path, m->V,
                           tv);
    }
    if (s == SBERT_OK) {
        m->weight = malloc((m->V ? m->V : 1) * sizeof *m->weight);
        s = m->weight ? sbert_st_read_f32(st, "weight", NULL, 0, m->weight)
                      : sbert_fail(SBERT_ERR_NOMEM, "out of memory (SparseStaticEmbedding)");
    }
    sbert_st_close(st);
    return s;
}

sbert_status sbert_sparse_static_load(const sbert_module_load_ctx *ctx, sbert_module **out) {
    *out = NULL;
    sse_module *m = calloc(1, sizeof *m);
    if (!m) return sbert_fail(SBERT_ERR_NOMEM, "out of memory (SparseStaticEmbedding)");
    sbert_status st = sbert_module_init(&m->base, &SSE_OPS, ctx->type, NULL);
    if (st == SBERT_OK) st = sse_load_into(m, ctx->dir);
    if (st != SBERT_OK) {
        sse_free(&m->base);
        return st;
    }
    *out = &m->base;
    return SBERT_OK;
}
