/*
 * modules/dense.h -- the sentence-transformers `Dense` module: a linear layer
 * plus activation applied to the sentence embedding,
 *     y = act(x W^T + b)  [+ x, or x R^T, when use_residual].
 *
 * Directory `<k>_Dense/`:
 *   config.json: in_features, out_features, bias (default true),
 *     activation_function (a torch path; default Tanh), use_residual
 *     (v6, default false), module_input_name/module_output_name (v5.4+;
 *     only "sentence_embedding" is supported);
 *   model.safetensors: linear.weight [out, in], linear.bias [out],
 *     residual.weight [out, in] (only with use_residual and in != out).
 * The pre-safetensors pytorch_model.bin format is not supported (the error
 * says so and how to convert).
 *
 * Activations: torch.nn.modules.activation.{Tanh, ReLU, Sigmoid, GELU, SiLU,
 * LeakyReLU (slope 0.01), ELU (alpha 1)}, torch.nn.modules.linear.Identity.
 */
#ifndef SBERT_MODULES_DENSE_H
#define SBERT_MODULES_DENSE_H

#include <stddef.h>

#include "sbert.h"

typedef enum {
    SBERT_DENSE_ACT_IDENTITY = 0,
    SBERT_DENSE_ACT_TANH,
    SBERT_DENSE_ACT_RELU,
    SBERT_DENSE_ACT_SIGMOID,
    SBERT_DENSE_ACT_GELU,
    SBERT_DENSE_ACT_SILU,
    SBERT_DENSE_ACT_LEAKY_RELU,
    SBERT_DENSE_ACT_ELU
} sbert_activation;

typedef struct sbert_dense sbert_dense;

/* Parse a torch activation path ("torch.nn.modules.activation.Tanh", also
 * the short "torch.nn.Tanh"). Unknown paths give SBERT_ERR_UNSUPPORTED. */
sbert_status sbert_activation_parse(const char *path, sbert_activation *out);
const char *sbert_activation_name(sbert_activation a);

/* Load `dir`/config.json and `dir`/model.safetensors. Errors name the file and
 * the key or tensor (e.g. a weight whose shape disagrees with the config). */
sbert_status sbert_dense_load(const char *dir, sbert_dense **out);
void sbert_dense_free(sbert_dense *d);

size_t sbert_dense_in_features(const sbert_dense *d);
size_t sbert_dense_out_features(const sbert_dense *d);
sbert_activation sbert_dense_activation(const sbert_dense *d);

/* x: [n, in_features] -> y: [n, out_features]; x and y must not overlap. */
void sbert_dense_forward(const sbert_dense *d, const float *x, size_t n, float *y);

/* Parameters, for training (helper "ttrain"): W [out, in]; b [out] or NULL
 * (bias=false); R [out, in] or NULL (only with use_residual and in != out).
 * Writable: an optimizer updates them in place. */
float *sbert_dense_weight(sbert_dense *d);
float *sbert_dense_bias(sbert_dense *d);
float *sbert_dense_residual(sbert_dense *d);
/* use_residual from config.json (0 or 1). */
int sbert_dense_use_residual(const sbert_dense *d);

#endif
