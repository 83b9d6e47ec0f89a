/*
 * training/trainable.h -- what the trainer needs from a model, whatever its
 * kind: encode for evaluation; tokenize once, then forward a batch column in
 * training mode and backward the gradient of its embeddings; one optimizer
 * step (clipping included); save the model and the optimizer state; restore
 * them. One implementation per model kind:
 *
 *   trainable_static.c        StaticEmbedding (lazy AdamW over the rows a batch touches)
 *   trainable_transformer.c   Transformer + Pooling [+ Dense] [+ Normalize]
 *
 * The trainer owns the schedule, the losses, evaluation and checkpoints; it
 * never looks inside a model.
 */
#ifndef SBERT_TRAINING_TRAINABLE_H
#define SBERT_TRAINING_TRAINABLE_H

#include <stddef.h>
#include <stdint.h>

#include "base/rng.h"
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
    /* Train mode, all input columns of a batch at once (a transformer packs
     * them into one forward): rows [B] of each tokenized column
     * tokens[0..n_cols) -> out [n_cols, B, dim] (column c at out + c*B*dim);
     * *state keeps what backward needs. */
    sbert_status (*forward)(sbert_trainable *m, void *const *tokens, size_t n_cols, const size_t *rows, size_t B,
                            float *out, void **state);
    /* Accumulate the parameter gradients for dout [n_cols, B, dim]; frees state. */
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
    /* The generator behind dropout, or NULL when the model has none. Gradient
     * caching snapshots it before a mini-batch's first forward and restores it
     * for the re-forward, so both passes draw the same masks. */
    sbert_rng *(*rng)(sbert_trainable *m);
} sbert_trainable_ops;

struct sbert_trainable {
    const sbert_trainable_ops *ops;
};

/* Options that build a model for training. */
typedef struct {
    const char *model;     /* "static", or a model directory */
    const char *tokenizer; /* tokenizer.json for model "static" */
    int64_t embedding_dim; /* for model "static" */
    uint64_t seed;         /* init and dropout */
    int64_t max_seq_length;/* > 0: override the model's */
} sbert_trainable_options;

/* Pick the implementation for opt->model: "static" or a directory with a
 * StaticEmbedding module -> StaticEmbedding; any other model directory ->
 * Transformer pipeline. */
sbert_status sbert_trainable_create(const sbert_trainable_options *opt, sbert_trainable **out);

/* Transformer + Pooling [+ Dense] [+ Normalize] from a sentence-transformers
 * or plain Hugging Face model directory. */
sbert_status sbert_trainable_transformer_create(const sbert_trainable_options *opt, sbert_trainable **out);

/* StaticEmbedding: `model` is "static" (new table over `tokenizer` with
 * embedding_dim, N(0,1) init from `seed`) or a model directory holding a
 * StaticEmbedding module. */
sbert_status sbert_trainable_static_create(const char *model, const char *tokenizer, int64_t embedding_dim,
                                           uint64_t seed, sbert_trainable **out);

#endif
