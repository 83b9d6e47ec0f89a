/*
 * training/trainable.h -- what the trainer needs from a model, whatever its
 * kind: encode for evaluation; tokenize once, then forward a batch column in
 * training mode and backward the gradient of its embeddings; one optimizer
 * step (clipping included); save the model and the optimizer state; restore
 * them. One implementation per model kind:
 *
 *   trainable_static.c   StaticEmbedding (lazy AdamW over the rows a batch touches)
 *
 * The trainer owns the schedule, the losses, evaluation and checkpoints; it
 * never looks inside a model.
 */
#ifndef SBERT_TRAINING_TRAINABLE_H
#define SBERT_TRAINING_TRAINABLE_H

#include <stddef.h>
#include <stdint.h>

#include "sbert.h"
#include "training/optim.h"

typedef struct sbert_trainable sbert_trainable;

typedef struct {
    /* Output dimension of encode/forward. */
    size_t (*dim)(const sbert_trainable *m);
    /* What the model was built from, for logs and the model card. */
    const char *(*describe)(const sbert_trainable *m);
    /* Eval mode: texts -> out [n, dim]. */
    sbert_status (*encode)(sbert_trainable *m, const char *const *texts, size_t n, float *out);
    /* Tokenize a whole column once; *tokens is opaque, freed by tokens_free. */
    sbert_status (*tokenize)(sbert_trainable *m, const char *const *texts, size_t n, void **tokens);
    void (*tokens_free)(void *tokens);
    /* Train mode: rows [B] of a tokenized column -> out [B, dim]; *state keeps
     * what backward needs. */
    sbert_status (*forward)(sbert_trainable *m, const void *tokens, const size_t *rows, size_t B, float *out,
                            void **state);
    /* Accumulate the parameter gradients for dout [B, dim]; frees state. */
    sbert_status (*backward)(sbert_trainable *m, void *state, const float *dout);
    void (*state_free)(void *state);
    /* Clip to max_grad_norm (<= 0: no clipping), AdamW at `lr`, zero the
     * gradients. Returns the gradient norm before clipping. */
    double (*step)(sbert_trainable *m, const sbert_adamw_config *cfg, double lr, double max_grad_norm);
    /* The model in the sentence-transformers layout, into existing dir. */
    sbert_status (*save)(const sbert_trainable *m, const char *dir);
    /* Optimizer state (moments, step count) into dir / back from dir. */
    sbert_status (*save_optimizer)(const sbert_trainable *m, const char *dir);
    sbert_status (*load_optimizer)(sbert_trainable *m, const char *dir);
    /* Weights from a directory written by save(). */
    sbert_status (*load_weights)(sbert_trainable *m, const char *dir);
    void (*free)(sbert_trainable *m);
} sbert_trainable_ops;

struct sbert_trainable {
    const sbert_trainable_ops *ops;
};

/* StaticEmbedding: `model` is "static" (new table over `tokenizer` with
 * embedding_dim, N(0,1) init from `seed`) or a model directory holding a
 * StaticEmbedding module. */
sbert_status sbert_trainable_static_create(const char *model, const char *tokenizer, int64_t embedding_dim,
                                           uint64_t seed, sbert_trainable **out);

#endif
