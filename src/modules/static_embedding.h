/*
 * modules/static_embedding.h -- sentence-transformers' StaticEmbedding: a
 * trainable [vocab, dim] table whose sentence embedding is the mean of the
 * rows of the text's token ids (nn.EmbeddingBag, mode "mean"; tokens come from
 * the tokenizer without special tokens and without truncation).
 *
 * On disk (type sentence_transformers.models.StaticEmbedding): the module
 * folder holds model.safetensors with "embedding.weight" [vocab, dim] (the
 * model2vec key "embeddings" is accepted too) and tokenizer.json.
 *
 * Training touches only the rows a batch uses: backward returns the set of
 * touched rows so the optimizer can update just those (lazy AdamW).
 */
#ifndef SBERT_MODULES_STATIC_EMBEDDING_H
#define SBERT_MODULES_STATIC_EMBEDDING_H

#include <stddef.h>
#include <stdint.h>

#include "modules/module.h"
#include "sbert.h"

typedef struct {
    size_t vocab, dim;
    float *weight; /* [vocab, dim] */
} sbert_static_embedding;

/* A new table with N(0, 1) entries (nn.EmbeddingBag's default init). */
sbert_status sbert_static_embedding_create(size_t vocab, size_t dim, uint64_t seed,
                                           sbert_static_embedding **out);
/* Load model.safetensors from the module folder `dir`. */
sbert_status sbert_static_embedding_load(const char *dir, sbert_static_embedding **out);
/* Write dir/model.safetensors ("embedding.weight"), atomically. The caller
 * writes tokenizer.json beside it. */
sbert_status sbert_static_embedding_save(const sbert_static_embedding *e, const char *dir);
void sbert_static_embedding_free(sbert_static_embedding *e);

/* ids [T] packed, sequence i = ids[offsets[i] .. offsets[i+1]);
 * out [n_seq, dim] = mean of the rows (zeros for an empty sequence).
 * An id outside [0, vocab) is an error naming the id and the sequence. */
sbert_status sbert_static_embedding_forward(const sbert_static_embedding *e, const int32_t *ids,
                                            const size_t *offsets, size_t n_seq, float *out);

/* dout [n_seq, dim] -> grad [vocab, dim] += d mean / d rows. Each row whose
 * gradient changed is appended once to touched (capacity vocab; *n_touched
 * in/out) using mark [vocab] (zeroed by the caller, left set for the rows). */
void sbert_static_embedding_backward(const sbert_static_embedding *e, const int32_t *ids,
                                     const size_t *offsets, size_t n_seq, const float *dout,
                                     float *grad, int32_t *touched, size_t *n_touched,
                                     unsigned char *mark);

/* ---- the StaticEmbedding module (module.h): the input module of a static
 * model. It owns its tokenizer (tokenizer.json in its folder), tokenizes
 * without special tokens and without truncation (only what tokenizer.json
 * itself asks), and registers "embedding.weight" as a row-sparse parameter:
 * a step updates only the rows its batch used. */
sbert_status sbert_static_module_load(const sbert_module_load_ctx *ctx, sbert_module **out);
/* A new module over the tokenizer file `tokenizer_json` with a
 * [vocab, dim] table drawn from N(0, 1) with `seed`. */
sbert_status sbert_static_module_new(const char *tokenizer_json, size_t dim, uint64_t seed, sbert_module **out);
/* The table of a StaticEmbedding module, or NULL for another module. */
sbert_static_embedding *sbert_static_module_table(sbert_module *m);

#endif
