/*
 * modules/transformer_module.h -- the sentence-transformers `Transformer`
 * module (a Hugging Face encoder, its tokenizer and sentence_bert_config.json)
 * behind the module contract of module.h. It is the input module of a
 * transformer model: it tokenizes (prompt, do_lower_case, special tokens,
 * longest_first truncation to max_seq_length) and maps the token ids of a
 * packed batch to token embeddings [T, hidden]. Its parameters are the
 * encoder's flat buffer, registered in order under their AutoModel names;
 * DistilBERT's sinusoidal position table is registered frozen.
 */
#ifndef SBERT_MODULES_TRANSFORMER_MODULE_H
#define SBERT_MODULES_TRANSFORMER_MODULE_H

#include "modules/module.h"
#include "modules/transformer.h"

/* Loader: ctx->dir holds config.json, model.safetensors, tokenizer.json and
 * (when ctx->read_st_config) sentence_bert_config.json. */
sbert_status sbert_transformer_module_load(const sbert_module_load_ctx *ctx, sbert_module **out);
/* The encoder of a Transformer module, or NULL for another module. */
sbert_transformer *sbert_transformer_module_encoder(sbert_module *m);
/* Gradients of earlier hidden states ([num_layers] of [T, hidden], NULL
 * entries: none) that the next backward adds in (AdaptiveLayerLoss); the
 * array must live until that backward. */
void sbert_transformer_module_set_layer_grads(sbert_module *m, const float *const *d_hidden);
/* do_lower_case from sentence_bert_config.json (0 for another module). */
int sbert_transformer_module_do_lower_case(const sbert_module *m);

/* Keep only layers keep[0..n) of the encoder (sbert_transformer_keep_layers);
 * the module then saves config.json with the new num_hidden_layers (n_layers
 * for DistilBERT) and no tensors of the removed layers. Refused with LoRA. */
sbert_status sbert_transformer_module_keep_layers(sbert_module *m, const size_t *keep, size_t n);

/* ---- LoRA (modules/lora.h) */
#include "modules/lora.h"
/* Attach new adapters to a Transformer module's encoder: the encoder freezes,
 * the module registers the adapters as its trainable parameters (call before
 * sbert_model_params) and saves in PEFT's layout. */
sbert_status sbert_transformer_module_add_lora(sbert_module *m, const sbert_lora_config *cfg);
/* Attach the PEFT adapter saved in `dir` (adapter_config.json,
 * adapter_model.safetensors). */
sbert_status sbert_transformer_module_load_adapter(sbert_module *m, const char *dir);
/* The module's adapters, or NULL. */
sbert_lora *sbert_transformer_module_lora(sbert_module *m);
/* Fold the adapters into the encoder's weights and drop them: the module
 * then saves (and trains) as a plain Transformer. */
sbert_status sbert_transformer_module_merge_lora(sbert_module *m);

#endif
