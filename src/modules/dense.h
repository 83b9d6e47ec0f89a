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

#include "modules/module.h"
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

/* The derivative of a Dense activation at the pre-activation x
 * (LeakyReLU: slope 0.01; ELU: alpha 1; GELU: exact erf, as torch.nn.GELU()). */
float sbert_activation_grad(sbert_activation a, float x);

/* Backward of  y = act(x W^T + b)  [+ x  |  + x R^T]:
 * x:  [n, in], the forward input;      dy: [n, out];
 * W:  [out, in];  b: [out] or NULL;    R: [out, in] or NULL;
 * use_residual: 0 = none, 1 = "+ x" when R is NULL (needs in == out) or "+ x R^T";
 * dx: [n, in] (+=) or NULL; dW: [out, in] (+=) or NULL; db: [out] (+=) or NULL;
 * dR: [out, in] (+=) or NULL.
 * The pre-activation is recomputed (one sgemm over n sentence rows), so the
 * forward needs to keep nothing but x. Fails only on out-of-memory, or
 * SBERT_ERR_INVALID_ARG for use_residual without R and in != out. */
sbert_status sbert_dense_backward(float *dx, float *dW, float *db, float *dR, const float *dy,
                                  const float *x, const float *W, const float *b, const float *R,
                                  int use_residual, sbert_activation act, size_t n, size_t in,
                                  size_t out);

/* ---- the Dense module (module.h): sentence embedding -> sentence embedding.
 * An sbert_dense is a module: (sbert_module *)d is valid. Parameters:
 * linear.weight, linear.bias (when bias), residual.weight (when kept). */

/* Loader for modules.json entries of type Dense (in_features must equal ctx->in_dim). */
sbert_status sbert_dense_module_load(const sbert_module_load_ctx *ctx, sbert_module **out);

#endif
