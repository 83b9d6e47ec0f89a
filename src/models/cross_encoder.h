/*
 * models/cross_encoder.h -- internal view of a CrossEncoder (the public
 * calls are in sbert.h): an sbert_model of kind SBERT_KIND_CROSS_ENCODER
 * whose module list is [Transformer, ClassifierHead]; the head writes the
 * logits [n_pairs, num_labels] where a SentenceTransformer writes its
 * sentence embedding, so training runs the same pipeline
 * (sbert_model_forward_train / sbert_model_backward with pairs packed as
 * sequences).
 *
 * The activation (activation_fn) is applied by predict / rank only, never
 * inside a loss; it lives in the model's config_sentence_transformers
 * settings (m->st_config "activation_fn", a torch class path).
 */
#ifndef SBERT_MODELS_CROSS_ENCODER_H
#define SBERT_MODELS_CROSS_ENCODER_H

#include "models/model.h"
#include "sbert.h"

typedef enum {
    SBERT_CE_ACT_IDENTITY = 0,
    SBERT_CE_ACT_SIGMOID,
    SBERT_CE_ACT_TANH,
    SBERT_CE_ACT_RELU,
    SBERT_CE_ACT_SOFTMAX
} sbert_ce_act;

/* "Sigmoid", "torch.nn.Sigmoid" or "torch.nn.modules.activation.Sigmoid"
 * (and Identity, Tanh, ReLU, Softmax) -> the activation. Anything else is
 * SBERT_ERR_UNSUPPORTED naming it and what is supported. */
sbert_status sbert_ce_act_parse(const char *name, sbert_ce_act *out);
/* The full torch path Python writes ("torch.nn.modules.activation.Sigmoid"). */
const char *sbert_ce_act_path(sbert_ce_act a);
/* y[n, L] = act(x[n, L]) (softmax along each row); y may equal x. */
void sbert_ce_act_apply(sbert_ce_act a, const float *x, float *y, size_t n, size_t L);

/* The model's activation (resolved when it was loaded). */
sbert_ce_act sbert_cross_encoder_act(const sbert_model *m);
/* Replace it (a recipe's activation_fn). */
sbert_status sbert_cross_encoder_set_act(sbert_model *m, sbert_ce_act a);

/* Raw logits of n pairs: out [n, num_labels], no activation (inference mode). */
sbert_status sbert_cross_encoder_logits(sbert_model *m, const char *const *a, const char *const *b, size_t n,
                                        size_t batch_size, float *out);

/* Tokenize n pairs (a[i], b[i]) into one packed batch (longest_first at the
 * model's max length). */
sbert_status sbert_cross_encoder_tokenize_pairs(const sbert_model *m, const char *const *a, const char *const *b,
                                                size_t n, sbert_packed *out);

/* Save in the layout sentence-transformers reads (sbert_model_save calls it
 * for this kind). */
sbert_status sbert_cross_encoder_save_dir(const sbert_model *m, const char *dir);

#endif
