/*
 * modules/mlm_head.h -- a masked-language-model Transformer: the
 * sentence-transformers `MLMTransformer` (legacy) or `Transformer` with
 * transformer_task "fill-mask" (v6), i.e. a Hugging Face *ForMaskedLM
 * checkpoint (BERT, DistilBERT, RoBERTa / XLM-RoBERTa, MPNet) behind the
 * module contract, for SparseEncoder (SPLADE) models.
 *
 * The MLM head is
 *   h   = encoder(ids)                         [T, H]   last hidden state
 *   u   = LayerNorm(act(h . Wt^T + bt))        [T, H]   the head's transform
 *   z   = u . E^T + b                          [T, V]   logits, E the decoder
 * where E is tied to the word embeddings (tie_word_embeddings, the default:
 * the decoder weight is then usually not stored) or a tensor of its own.
 * This module computes h and u only and hands the decoder (E, b) to the next
 * module through sbert_features.mlm: SpladePooling multiplies by E^T one
 * block of tokens at a time and pools at once, so the [T, V] logits never
 * exist as a whole, in the forward or in the backward. The decoder's
 * gradient flows into the word embeddings when tied.
 *
 * Head tensors by family (HF names; old checkpoints may name LayerNorm
 * parameters gamma / beta):
 *   bert        cls.predictions.transform.{dense,LayerNorm}.*, cls.predictions.bias
 *               (act: hidden_act; eps: layer_norm_eps)
 *   roberta,    lm_head.{dense,layer_norm}.*, lm_head.bias (act: gelu)
 *   xlm-roberta,
 *   mpnet
 *   distilbert  vocab_transform.*, vocab_layer_norm.*, vocab_projector.bias
 *               (act: activation; eps 1e-12)
 * An untied decoder is cls.predictions.decoder.weight / lm_head.decoder.weight /
 * vocab_projector.weight.
 *
 * Save writes the layout Python reads back with AutoModelForMaskedLM: config
 * and tokenizer files copied, sentence_bert_config.json (transformer_task
 * kept as loaded), model.safetensors with the encoder under the family's
 * base-model prefix ("bert.", ...) and the head under its HF names; a tied
 * decoder is not stored (as save_pretrained does).
 */
#ifndef SBERT_MODULES_MLM_HEAD_H
#define SBERT_MODULES_MLM_HEAD_H

#include <stddef.h>
#include <stdint.h>

#include "modules/module.h"

/* The vocabulary decoder of an MLM head: logits = u . W^T + b. */
typedef struct {
    const float *W; /* [V, H]: the word embeddings when tied */
    const float *b; /* [V] */
    size_t V, H;
    float *dW, *db; /* their gradient buffers (+=); NULL before the parameters are registered */
    const uint16_t *Wb; /* W in bf16 (precision bf16: the forward's logits in bf16 products), or NULL */
} sbert_mlm_decoder;

/* Loader for an MLMTransformer (legacy type) or a fill-mask Transformer
 * folder: config.json, model.safetensors (with the MLM head), tokenizer.json
 * and sentence_bert_config.json (when ctx->read_st_config). */
sbert_status sbert_mlm_module_load(const sbert_module_load_ctx *ctx, sbert_module **out);

/* The decoder of an MLM module (SBERT_ERR_INVALID_ARG for another module). */
sbert_status sbert_mlm_decoder_of(const sbert_module *m, sbert_mlm_decoder *out);

/* 1 when m is an MLM module. */
int sbert_module_is_mlm(const sbert_module *m);

/* precision bf16 (models/precision.c): keep a bf16 copy of the decoder
 * weight for SpladePooling's forward products (its backward stays fp32);
 * on = 0 drops it. No-op for another module. */
sbert_status sbert_mlm_set_bf16(sbert_module *m, int on);

/* The encoder inside an MLM module (NULL for another module). */
struct sbert_transformer;
struct sbert_transformer *sbert_mlm_encoder(sbert_module *m);

/* The vocabulary size (config vocab_size) of an MLM module (0 for another). */
size_t sbert_mlm_vocab_size(const sbert_module *m);

/* The `Transformer` row of the registry: reads transformer_task from the
 * folder's sentence_bert_config.json and loads a fill-mask Transformer as an
 * MLM module, anything else as the plain Transformer module. */
sbert_status sbert_transformer_task_load(const sbert_module_load_ctx *ctx, sbert_module **out);

#endif
