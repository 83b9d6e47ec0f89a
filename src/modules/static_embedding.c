/*
 * modules/static_embedding.c -- token-bag mean embeddings, forward and
 * backward, loaded from and saved to sentence-transformers' layout, and the
 * StaticEmbedding module wrapper.
 */
#include "modules/static_embedding.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/rng.h"
#include "io/atomic.h"
#include "io/file.h"
#include "io/safetensors.h"

static sbert_status alloc_table(size_t vocab, size_t dim, sbert_static_embedding **out) {
    sbert_static_embedding *e = calloc(1, sizeof *e);
    if (!e) return sbert_fail(SBERT_ERR_NOMEM, "StaticEmbedding: out of memory");
    size_t cells = vocab * dim;
    e->weight = malloc((cells ? cells : 1) * sizeof *e->weight);
    if (!e->weight) {
        free(e);
        return sbert_fail(SBERT_ERR_NOMEM, "StaticEmbedding: cannot allocate a %zu x %zu table", vocab, dim);
    }
    e->vocab = vocab;
    e->dim = dim;
    *out = e;
    return SBERT_OK;
}

sbert_status sbert_static_embedding_create(size_t vocab, size_t dim, uint64_t seed,
                                           sbert_static_embedding **out) {
    if (vocab == 0 || dim == 0)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "StaticEmbedding: vocab (%zu) and embedding_dim (%zu) must be > 0",
                          vocab, dim);
    SBERT_TRY(alloc_table(vocab, dim, out));
    sbert_rng r;
    sbert_rng_seed(&r, seed);
    for (size_t i = 0; i < vocab * dim; i++) (*out)->weight[i] = (float)sbert_rng_normal(&r);
    return SBERT_OK;
}

sbert_status sbert_static_embedding_load(const char *dir, sbert_static_embedding **out) {
    *out = NULL;
    char path[4096];
    SBERT_TRY(sbert_path_join(path, sizeof path, dir, "model.safetensors"));
    sbert_safetensors *st = NULL;
    SBERT_TRY(sbert_st_open(path, &st));
    const char *key = "embedding.weight";
    const sbert_st_tensor *t = sbert_st_find(st, key);
    if (!t) t = sbert_st_find(st, key = "embeddings");
    sbert_status s = SBERT_OK;
    if (!t)
        s = sbert_fail(SBERT_ERR_FORMAT, "%s: no tensor 'embedding.weight' (or 'embeddings') for StaticEmbedding", path);
    else if (t->ndim != 2 || t->shape[0] <= 0 || t->shape[1] <= 0)
        s = sbert_fail(SBERT_ERR_FORMAT, "%s: tensor '%s' must be 2-D [vocab, dim]", path, key);
    if (s == SBERT_OK) s = alloc_table((size_t)t->shape[0], (size_t)t->shape[1], out);
    if (s == SBERT_OK) s = sbert_st_read_f32(st, key, t->shape, 2, (*out)->weight);
    sbert_st_close(st);
    if (s != SBERT_OK) {
        sbert_static_embedding_free(*out);
        *out = NULL;
    }
    return s;
}

sbert_status sbert_static_embedding_save(const sbert_static_embedding *e, const char *dir) {
    char path[4096];
    SBERT_TRY(sbert_path_join(path, sizeof path, dir, "model.safetensors"));
    sbert_st_entry ent;
    memset(&ent, 0, sizeof ent);
    ent.name = "embedding.weight";
    ent.data = e->weight;
    ent.ndim = 2;
    ent.shape[0] = (int64_t)e->vocab;
    ent.shape[1] = (int64_t)e->dim;
    return sbert_st_write(path, &ent, 1, NULL, 0);
}

void sbert_static_embedding_free(sbert_static_embedding *e) {
    if (!e) return;
    free(e->weight);
    free(e);
}

sbert_status sbert_static_embedding_forward(const sbert_static_embedding *e, const int32_t *ids,
                                            const size_t *offsets, size_t n_seq, float *out) {
    size_t D = e->dim;
    for (size_t s = 0; s < n_seq; s++) {
        float *o = out + s * D;
        memset(o, 0, D * sizeof *o);
        size_t n = offsets[s + 1] - offsets[s];
        for (size_t t = offsets[s]; t < offsets[s + 1]; t++) {
            if (ids[t] < 0 || (size_t)ids[t] >= e->vocab)
                return sbert_fail(SBERT_ERR_INVALID_ARG,
                                  "StaticEmbedding: token id %d in text %zu is outside the table (vocab %zu)",
                                  ids[t], s, e->vocab);
            const float *w = e->weight + (size_t)ids[t] * D;
            for (size_t k = 0; k < D; k++) o[k] += w[k];
        }
        if (n > 0)
            for (size_t k = 0; k < D; k++) o[k] /= (float)n;
    }
    return SBERT_OK;
}

void sbert_static_embedding_backward(const sbert_static_embedding *e, const int32_t *ids,
                                     const size_t *offsets, size_t n_seq, const float *dout,
                                     float *grad, int32_t *touched, size_t *n_touched,
                                     unsigned char *mark) {
    size_t D = e->dim;
    for (size_t s = 0; s < n_seq; s++) {
        size_t n = offsets[s + 1] - offsets[s];
        if (n == 0) continue;
        float inv = 1.0f / (float)n;
        const float *g = dout + s * D;
        for (size_t t = offsets[s]; t < offsets[s + 1]; t++) {
            int32_t id = ids[t];
            float *gr = grad + (size_t)id * D;
            for (size_t k = 0; k < D; k++) gr[k] += g[k] * inv;
            if (!mark[id]) {
                mark[id] = 1;
                touched[(*n_touched)++] = id;
            }
        }
    }
}

/* ------------------------------------------------------------ module */

typedef struct {
    sbert_module base;
    sbert_static_embedding *emb;
    sbert_tokenizer *tok;
    char *tok_json; /* tokenizer.json as read, saved back unchanged */
    size_t tok_json_len;
} static_module;

static sbert_status sm_forward(sbert_module *mod, sbert_features *f, sbert_run *run, void **rec) {
    static_module *m = (static_module *)mod;
    (void)rec;
    float *out = sbert_run_alloc(run, f->n_seq * m->emb->dim, 0);
    if (!out) return SBERT_ERR_NOMEM;
    SBERT_TRY(sbert_static_embedding_forward(m->emb, f->ids, f->offs, f->n_seq, out));
    f->emb = out;
    f->dim = m->emb->dim;
    return SBERT_OK;
}

static sbert_status sm_backward(sbert_module *mod, const sbert_features *in, const sbert_features *out,
                                const sbert_feature_grads *dout, sbert_feature_grads *din, sbert_run *run,
                                void *rec) {
    static_module *m = (static_module *)mod;
    (void)out;
    (void)din;
    (void)run;
    (void)rec;
    sbert_param *p = sbert_params_at(mod->pt, mod->pfirst);
    sbert_static_embedding_backward(m->emb, in->ids, in->offs, in->n_seq, dout->emb, p->grad, p->touched,
                                    &p->n_touched, p->mark);
    return SBERT_OK;
}

static sbert_status sm_params(sbert_module *mod, sbert_param_table *t) {
    static_module *m = (static_module *)mod;
    return sbert_param_add_sparse(t, "embedding.weight", m->emb->weight, m->emb->vocab, m->emb->dim, -1);
}

static sbert_status sm_save(const sbert_module *mod, const char *dir) {
    const static_module *m = (const static_module *)mod;
    char path[4096];
    SBERT_TRY(sbert_path_join(path, sizeof path, dir, "tokenizer.json"));
    SBERT_TRY(sbert_write_file_atomic(path, m->tok_json, m->tok_json_len));
    return sbert_static_embedding_save(m->emb, dir);
}

static size_t sm_out_dim(const sbert_module *mod) { return ((const static_module *)mod)->emb->dim; }

static void sm_free(sbert_module *mod) {
    static_module *m = (static_module *)mod;
    if (!m) return;
    sbert_module_fini(mod);
    sbert_static_embedding_free(m->emb);
    sbert_tokenizer_free(m->tok);
    free(m->tok_json);
    free(m);
}

/* StaticEmbedding.tokenize: prompt + text, no special tokens, no padding;
 * only a truncation written in tokenizer.json applies. */
static sbert_status sm_tokenize(const sbert_module *mod, const char *prompt, const char *text, const char *pair,
                                sbert_encoding *enc) {
    const static_module *m = (const static_module *)mod;
    if (pair) return sbert_fail(SBERT_ERR_UNSUPPORTED, "StaticEmbedding encodes single texts, not pairs");
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
    to.max_length = 0;
    sbert_status st = sbert_tokenizer_encode(m->tok, joined ? joined : text, pl + tl, NULL, 0, &to, enc);
    free(joined);
    return st;
}

static const sbert_tokenizer *sm_tokenizer(const sbert_module *mod) { return ((const static_module *)mod)->tok; }
static size_t sm_max_seq_length(const sbert_module *mod) {
    (void)mod;
    return 0;
}

static const sbert_module_ops STATIC_OPS = {
    .class_name = "StaticEmbedding",
    .forward = sm_forward,
    .backward = sm_backward,
    .params = sm_params,
    .save = sm_save,
    .out_dim = sm_out_dim,
    .free = sm_free,
    .tokenize = sm_tokenize,
    .tokenizer = sm_tokenizer,
    .max_seq_length = sm_max_seq_length,
};

sbert_static_embedding *sbert_static_module_table(sbert_module *mod) {
    return mod && mod->ops == &STATIC_OPS ? ((static_module *)mod)->emb : NULL;
}

/* Read the tokenizer; *m->emb is checked against its vocabulary when set. */
static sbert_status sm_tokenizer_load(static_module *m, const char *path) {
    SBERT_TRY(sbert_read_file(path, &m->tok_json, &m->tok_json_len));
    SBERT_TRY(sbert_tokenizer_load_from_memory(m->tok_json, m->tok_json_len, path, &m->tok));
    if (m->emb && m->emb->vocab < sbert_tokenizer_vocab_size(m->tok))
        return sbert_fail(SBERT_ERR_FORMAT,
                          "%s: the tokenizer has %zu tokens but the embedding table only %zu rows (a table stored "
                          "transposed, or the wrong tokenizer?)",
                          path, sbert_tokenizer_vocab_size(m->tok), m->emb->vocab);
    return SBERT_OK;
}

sbert_status sbert_static_module_load(const sbert_module_load_ctx *ctx, sbert_module **out) {
    *out = NULL;
    static_module *m = calloc(1, sizeof *m);
    if (!m) return sbert_fail(SBERT_ERR_NOMEM, "out of memory (StaticEmbedding)");
    char path[4096];
    sbert_status st = sbert_module_init(&m->base, &STATIC_OPS, ctx->type, NULL);
    if (st == SBERT_OK) st = sbert_static_embedding_load(ctx->dir, &m->emb);
    if (st == SBERT_OK) st = sbert_path_join(path, sizeof path, ctx->dir, "tokenizer.json");
    if (st == SBERT_OK) st = sm_tokenizer_load(m, path);
    if (st != SBERT_OK) {
        sm_free(&m->base);
        return st;
    }
    *out = &m->base;
    return SBERT_OK;
}

sbert_status sbert_static_module_new(const char *tokenizer_json, size_t dim, uint64_t seed, sbert_module **out) {
    *out = NULL;
    static_module *m = calloc(1, sizeof *m);
    if (!m) return sbert_fail(SBERT_ERR_NOMEM, "out of memory (StaticEmbedding)");
    sbert_status st = sbert_module_init(&m->base, &STATIC_OPS, "sentence_transformers.models.StaticEmbedding", NULL);
    if (st == SBERT_OK) st = sm_tokenizer_load(m, tokenizer_json);
    if (st == SBERT_OK) st = sbert_static_embedding_create(sbert_tokenizer_vocab_size(m->tok), dim, seed, &m->emb);
    if (st != SBERT_OK) {
        sm_free(&m->base);
        return st;
    }
    *out = &m->base;
    return SBERT_OK;
}
