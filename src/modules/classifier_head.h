/*
 * modules/classifier_head.h -- the sequence-classification head of a
 * CrossEncoder: what Hugging Face's *ForSequenceClassification puts on top
 * of the encoder, behind the module contract (modules/module.h). It reads
 * the first token of every sequence ([CLS] / <s>) from the token embeddings
 * and writes the logits [n_seq, num_labels] as the sequence output (the
 * features' `emb`), so the model pipeline, the training forward/backward and
 * the parameter table work unchanged.
 *
 * One shape, four styles (x = hidden state of the first token):
 *   POOLER      BERT:           logits = classifier(drop(tanh(pooler.dense(x))))
 *   DENSE_TANH  RoBERTa, XLM-R, logits = out_proj(drop(tanh(dense(drop(x)))))
 *               MPNet
 *   PRE_RELU    DistilBERT:     logits = classifier(drop(relu(pre_classifier(x))))
 *   DENSE_GELU  ELECTRA:        logits = out_proj(drop(gelu(dense(drop(x)))))
 * The parameters are W1 [H, H], b1 [H], W2 [L, H], b2 [L], registered (and
 * saved) under their names in the Hugging Face checkpoint
 * ("bert.pooler.dense.weight", "classifier.out_proj.bias", ...).
 *
 * Dropout (training mode with a generator): BERT's classifier_dropout (else
 * hidden_dropout_prob) before the classifier; RoBERTa/XLM-R/ELECTRA the same
 * before dense and before out_proj; MPNet hidden_dropout_prob at both
 * places; DistilBERT seq_classif_dropout (0.2) before the classifier.
 *
 * A fresh head is initialised as transformers' _init_weights does it:
 * weights N(0, initializer_range^2), biases 0, drawn from a seeded generator
 * (the values differ from torch's; the distribution is the same).
 */
#ifndef SBERT_MODULES_CLASSIFIER_HEAD_H
#define SBERT_MODULES_CLASSIFIER_HEAD_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "io/safetensors.h"
#include "modules/module.h"

typedef enum {
    SBERT_HEAD_POOLER = 0,
    SBERT_HEAD_DENSE_TANH,
    SBERT_HEAD_PRE_RELU,
    SBERT_HEAD_DENSE_GELU
} sbert_head_style;

typedef struct {
    sbert_head_style style;
    size_t hidden, num_labels;
    float p_pre, p_mid;       /* dropout before the first / before the output layer */
    char names[4][64];        /* W1, b1, W2, b2 in the HF checkpoint */
    char architecture[64];    /* "BertForSequenceClassification", ... */
    char prefix[32];          /* base-model prefix of the encoder tensors: "bert.", "roberta.", ... */
    double initializer_range; /* for fresh heads */
} sbert_head_config;

/* The head config of a Hugging Face config.json (parsed, at `path` for
 * messages) for `num_labels` labels: style, sizes, dropouts, tensor names,
 * architecture. An unsupported model_type is SBERT_ERR_UNSUPPORTED naming it. */
sbert_status sbert_head_config_from_hf(const cJSON *config, const char *path, size_t num_labels,
                                       sbert_head_config *out);

/* A head with zeroed parameters (fill it with sbert_classifier_head_fill). */
sbert_status sbert_classifier_head_new(const sbert_head_config *cfg, sbert_module **out);

/* Fill the parameters: each tensor from `st` (when not NULL) under its name
 * (the BERT pooler also as "pooler.dense.*", as a plain BertModel stores
 * it); a tensor st does not hold is an error naming it when require_all,
 * otherwise drawn fresh (weights N(0, initializer_range^2) from `seed`,
 * biases 0). *n_fresh (may be NULL) receives how many were drawn. */
sbert_status sbert_classifier_head_fill(sbert_module *m, const sbert_safetensors *st, int require_all, uint64_t seed,
                                        size_t *n_fresh);

/* The head's config, or NULL when m is not a classifier head. */
const sbert_head_config *sbert_classifier_head_config(const sbert_module *m);
/* Parameter i (0..3: W1, b1, W2, b2): data, element count and shape. */
float *sbert_classifier_head_tensor(sbert_module *m, int i, size_t *numel, int64_t shape[2], int *ndim);

/* Head forward on the first-token states alone (tests and tools):
 * x [n, H] -> logits [n, L], no dropout. */
void sbert_classifier_head_apply(const sbert_module *m, const float *x, size_t n, float *logits);

#endif
