/*
 * modules/static_embedding.c -- token-bag mean embeddings, forward and
 * backward, loaded from and saved to sentence-transformers' layout.
 */
#include "modules/static_embedding.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/rng.h"
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
