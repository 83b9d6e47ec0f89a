/*
 * modules/lora.h -- LoRA adapters on the linear layers of a Transformer's
 * encoder, as PEFT's LoraConfig / LoraLayer (peft 0.21) put them on a
 * Hugging Face model: for a targeted nn.Linear W [out, in],
 *
 *     y = x W^T + b + scaling * dropout(x) A^T B^T,   A [r, in], B [out, r],
 *     scaling = lora_alpha / r  (lora_alpha / sqrt(r) with use_rslora),
 *
 * A drawn like nn.init.kaiming_uniform_(a=sqrt(5)) (uniform in +-1/sqrt(in)),
 * B zero, so a new adapter leaves the model unchanged. Only the adapters (and
 * the modules_to_save) train: the encoder is frozen, its backward computes no
 * weight gradients (modules/transformer.c consults the adapter at each linear
 * layer).
 *
 * Targets follow PEFT's matching on module names (the AutoModel names:
 * "encoder.layer.3.attention.self.query"): a target names a module when the
 * name equals it or ends with "." + target; the default for BERT / RoBERTa /
 * XLM-R is query, value (PEFT's mapping); "all-linear" takes every linear
 * layer of the encoder. modules_to_save: a module whose name ends with the
 * entry trains in full and is saved with the adapter.
 *
 * On disk, PEFT's layout: adapter_config.json (LoraConfig, task_type
 * FEATURE_EXTRACTION) and adapter_model.safetensors with
 * "base_model.model.<module>.lora_A.weight" / ".lora_B.weight" and
 * "base_model.model.<module>.<param>" for the modules_to_save.
 */
#ifndef SBERT_MODULES_LORA_H
#define SBERT_MODULES_LORA_H

#include <stddef.h>
#include <stdint.h>

#include "base/rng.h"
#include "modules/params.h"
#include "sbert.h"

struct sbert_transformer;

typedef struct {
    size_t r;                    /* rank (> 0) */
    double alpha;                /* lora_alpha */
    double dropout;              /* lora_dropout in [0, 1) */
    int use_rslora;              /* scaling alpha / sqrt(r) */
    const char *target_modules;  /* comma list, "all-linear", or NULL (PEFT's default) */
    const char *modules_to_save; /* comma list or NULL */
    uint64_t seed;               /* A's initialisation */
} sbert_lora_config;

/* PEFT's LoraConfig defaults: r 8, alpha 8, dropout 0, no rslora. */
sbert_lora_config sbert_lora_config_default(void);

/* The linear sublayers of a layer, in the order the encoder runs them. */
typedef enum { SBERT_LIN_Q = 0, SBERT_LIN_K, SBERT_LIN_V, SBERT_LIN_O, SBERT_LIN_FF1, SBERT_LIN_FF2, SBERT_LIN_KINDS } sbert_lin_kind;

typedef struct sbert_lora sbert_lora;

/* Attach new adapters to `t` (replacing none: t must have none). Errors: a
 * target that matches no linear layer (the message lists them), a target or
 * module_to_save that matches nothing, r = 0, dropout out of range. */
sbert_status sbert_lora_attach(struct sbert_transformer *t, const sbert_lora_config *cfg, sbert_lora **out);
/* The same, where modules_to_save may also name the modules of `extra`
 * (tensor names the encoder does not hold, e.g. "pooler.dense.weight"). */
sbert_status sbert_lora_attach_ex(struct sbert_transformer *t, const sbert_lora_config *cfg, const char *const *extra,
                                  size_t n_extra, sbert_lora **out);
/* Attach the adapter saved in `dir` (adapter_config.json +
 * adapter_model.safetensors) to `t`: its A and B, and the modules_to_save
 * tensors the encoder holds (copied into the encoder). */
sbert_status sbert_lora_load(struct sbert_transformer *t, const char *dir, sbert_lora **out);
void sbert_lora_free(sbert_lora *l);

/* Register the adapter's tensors (trainable) in the parameter table: two
 * rows per adapted module, "<module>.lora_A.weight" / ".lora_B.weight". */
sbert_status sbert_lora_params(sbert_lora *l, sbert_param_table *t);
/* 1 when the encoder tensor `name` belongs to a module_to_save (it trains). */
int sbert_lora_saves_param(const sbert_lora *l, const char *name);
/* Point the adapters' gradients at the table rows they registered (first is
 * the row of the first adapter tensor). */
void sbert_lora_bind_grads(sbert_lora *l, sbert_param_table *t, size_t first);

/* Trainable floats (adapters + modules_to_save) and their count of adapted modules. */
size_t sbert_lora_numel(const sbert_lora *l);
size_t sbert_lora_n_modules(const sbert_lora *l);

/* ---- the encoder's hooks (modules/transformer.c) */

/* 1 when layer `layer`'s linear `kind` has an adapter. */
int sbert_lora_has(const sbert_lora *l, size_t layer, sbert_lin_kind kind);
/* out[T, ld] (columns off.. off + n_out of the linear output) += scaling *
 * dropout(x) A^T B^T, x [T, in]. train: keep what the backward needs
 * (dropout masks drawn from rng when dropout > 0 and rng != NULL). */
sbert_status sbert_lora_forward(sbert_lora *l, size_t layer, sbert_lin_kind kind, const float *x, size_t T,
                                float *out, size_t ld, int train, sbert_rng *rng);
/* Backward of the same: dout [T, ld] (its columns off..), x [T, in];
 * gradients of A and B (+=) and din [T, in] (+=). */
sbert_status sbert_lora_backward(sbert_lora *l, size_t layer, sbert_lin_kind kind, const float *x, const float *dout,
                                 size_t T, size_t ld, float *din);

/* ---- save, merge */

/* adapter_config.json + adapter_model.safetensors into dir. base_model is
 * written as base_model_name_or_path; src_safetensors (may be NULL) is the
 * encoder's source file, for modules_to_save the encoder does not hold. */
sbert_status sbert_lora_save(const sbert_lora *l, const char *dir, const char *base_model,
                             const char *src_safetensors);
/* Fold every adapter into its base weight: W += scaling * B A. The adapters
 * stay attached with B = 0 (the model is unchanged). */
void sbert_lora_merge(sbert_lora *l);

#endif
