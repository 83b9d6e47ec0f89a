/*
 * modules/transformer.h -- the Hugging Face encoder behind the
 * sentence-transformers `Transformer` module: BERT (MiniLM, bge), RoBERTa,
 * XLM-RoBERTa, DistilBERT and MPNet, fp32 on CPU.
 *
 * The forward pass runs over a *packed* batch: the tokens of all sequences
 * laid end to end, seq_offsets[i]..seq_offsets[i+1] being sequence i. No
 * padding exists, so no compute is spent on it; the result for each real
 * token equals Python's padded, masked forward.
 */
#ifndef SBERT_MODULES_TRANSFORMER_H
#define SBERT_MODULES_TRANSFORMER_H

#include <stddef.h>
#include <stdint.h>

#include "base/rng.h"
#include "sbert.h"

typedef struct sbert_transformer sbert_transformer;

/* Load config.json + model.safetensors from `dir` (a plain HF model directory
 * or the root of a sentence-transformers directory). Accepts weight names with
 * or without the base-model prefix ("bert.", "roberta.", ...). Errors name the
 * file and the problem: unsupported architecture/model_type, missing tensor,
 * shape that disagrees with config.json. */
sbert_status sbert_transformer_load(const char *dir, sbert_transformer **out);
void sbert_transformer_free(sbert_transformer *t);

size_t sbert_transformer_hidden_size(const sbert_transformer *t);
size_t sbert_transformer_max_position_embeddings(const sbert_transformer *t);
/* config.json model_type: "bert", "roberta", "xlm-roberta", "distilbert", "mpnet". */
const char *sbert_transformer_model_type(const sbert_transformer *t);
/* Largest sequence length the position embeddings allow (e.g. 512 for RoBERTa's 514). */
size_t sbert_transformer_max_tokens(const sbert_transformer *t);

/* input_ids, token_type_ids: [T] with T = seq_offsets[n_seq];
 * token_type_ids may be NULL (all zeros).
 * out: [T, hidden] = last_hidden_state for every real token. */
sbert_status sbert_transformer_forward(sbert_transformer *t, const int32_t *input_ids,
                                       const int32_t *token_type_ids, const size_t *seq_offsets,
                                       size_t n_seq, float *out);

/* Precision of the linear layers' products. on = 1: bf16 inputs, fp32
 * accumulation (kernels/bf16_gemm.h), from bf16 copies of the weights made
 * now (and again at each training forward, as the optimizer moves the fp32
 * master weights); embeddings, LayerNorm, softmax, attention, activations
 * and the residual stream stay fp32. The caller checks
 * sbert_bf16_unavailable() first. on = 0: back to fp32. */
sbert_status sbert_transformer_set_bf16(sbert_transformer *t, int on);
int sbert_transformer_bf16(const sbert_transformer *t);

/* ---- additions (helper "fwd"): sizes, the flat parameter buffer, MPNet buckets ---- */

size_t sbert_transformer_num_layers(const sbert_transformer *t);
size_t sbert_transformer_num_heads(const sbert_transformer *t);
size_t sbert_transformer_vocab_size(const sbert_transformer *t);

/* One tensor of the flat fp32 parameter buffer. `name` is the Hugging Face
 * base-model name without prefix ("embeddings.word_embeddings.weight",
 * "encoder.layer.0.attention.self.query.weight", ...): what AutoModel's
 * save_pretrained writes. shape[1] is 1 for vectors (ndim 1). A layer's
 * q/k/v weights are adjacent (together the fused [3H, H] QKV matrix), and so
 * are its q/k/v biases. */
typedef struct {
    char name[128];
    size_t offset; /* in floats, from the start of sbert_transformer_params() */
    size_t numel;
    int ndim;
    int64_t shape[2];
} sbert_transformer_param;

size_t sbert_transformer_num_params(const sbert_transformer *t);
/* NULL when i is out of range. */
const sbert_transformer_param *sbert_transformer_param_at(const sbert_transformer *t, size_t i);
/* The flat buffer (n_floats floats); writable, e.g. for an optimizer step. */
float *sbert_transformer_params(sbert_transformer *t, size_t *n_floats);

/* MPNet's relative_position_bucket(relative_position = key pos - query pos),
 * bidirectional, log-spaced beyond num_buckets/4 (MPNet: 32 buckets, 128). */
int sbert_mpnet_relative_bucket(long relative_position, int num_buckets, int max_distance);

/* ---- training (helper "bwd"): training-mode forward, backward, dropout ----
 *
 * sbert_transformer_forward_train runs the encoder like sbert_transformer_forward
 * and keeps every layer's activations inside `t` (until the next training
 * forward, sbert_transformer_release_activations or free);
 * sbert_transformer_backward then turns d(last_hidden_state) into parameter
 * gradients. One training forward at a time per handle. */

/* Dropout probabilities read from config.json (hidden_dropout_prob and
 * attention_probs_dropout_prob; DistilBERT: dropout and attention_dropout;
 * 0.1 when absent). */
void sbert_transformer_get_dropout(const sbert_transformer *t, float *hidden, float *attention);
/* Override them, each in [0, 1) (SBERT_ERR_INVALID_ARG otherwise). */
sbert_status sbert_transformer_set_dropout(sbert_transformer *t, float hidden, float attention);

/* Training forward. Arguments and out [T, H] as sbert_transformer_forward.
 * rng: NULL = eval mode (no dropout; out is bit-identical to
 * sbert_transformer_forward); otherwise dropout with the probabilities above,
 * keep masks drawn from rng in a fixed order (same seed, same masks). A
 * probability of 0 draws nothing. */
sbert_status sbert_transformer_forward_train(sbert_transformer *t, const int32_t *input_ids,
                                             const int32_t *token_type_ids,
                                             const size_t *seq_offsets, size_t n_seq,
                                             sbert_rng *rng, float *out);

/* Backward of the last training forward.
 * d_out: [T, H], the gradient of the loss with respect to last_hidden_state;
 * grads: [n_floats] (+=), laid out like sbert_transformer_params (the gradient
 *        of params[k] is grads[k]; the table gives names and offsets);
 * d_inputs_embeds: NULL or [T, H] (+=), the gradient with respect to the
 *        word-embedding output of each token (HF's inputs_embeds).
 * Padding-index rows of the embedding tables get no gradient (as
 * nn.Embedding(padding_idx=...)); DistilBERT's sinusoidal table is frozen.
 * May be called more than once for the same forward (gradients add up).
 * SBERT_ERR_INVALID_ARG when no training forward is kept. */
sbert_status sbert_transformer_backward(sbert_transformer *t, const float *d_out, float *grads,
                                        float *d_inputs_embeds);

/* Hidden state l (Hugging Face's hidden_states[l]: 0 the embedding output,
 * l the output of layer l - 1) of the kept training forward, [T, H], for
 * l < num_layers (the last one is the forward's output); NULL otherwise. */
const float *sbert_transformer_hidden_state(const sbert_transformer *t, size_t l);
/* sbert_transformer_backward with gradients of earlier hidden states too:
 * d_hidden[l] (l < num_layers; NULL entries or d_hidden NULL: none) is added
 * where hidden state l is produced (AdaptiveLayerLoss). */
sbert_status sbert_transformer_backward_layers(sbert_transformer *t, const float *d_out, const float *const *d_hidden,
                                               float *grads, float *d_inputs_embeds);

/* Forget the kept activations now. Their buffers (and the backward's
 * workspace) stay with the handle, grown to the largest step so far, for the
 * next training step; sbert_transformer_free releases them. */
void sbert_transformer_release_activations(sbert_transformer *t);
/* Bytes taken by the kept activations (0 when none). */
size_t sbert_transformer_activation_bytes(const sbert_transformer *t);
/* 1 when the position table is DistilBERT's frozen sinusoidal one. */
int sbert_transformer_frozen_positions(const sbert_transformer *t);

/* ---- layer pruning (the skill's "copy the teacher, keep layers 0, 3, 6 and 9") ----
 *
 * keep [n]: layer indices, strictly increasing, each < the number of layers,
 * n >= 1. sbert_transformer_check_layers says what is wrong with a list
 * (empty, out of range, listed twice, out of order) without naming where it
 * came from; the caller prefixes that. sbert_transformer_keep_layers rebuilds
 * the flat parameter buffer and its table with only those layers, renumbered
 * 0..n-1 in the kept order (as sentence-transformers' layer-reduction example
 * replaces auto_model.encoder.layer and sets config.num_hidden_layers); bf16
 * copies are remade, kept training activations dropped. Refused with LoRA. */
sbert_status sbert_transformer_check_layers(size_t n_layers, const size_t *keep, size_t n);
sbert_status sbert_transformer_keep_layers(sbert_transformer *t, const size_t *keep, size_t n);

/* ---- decoder pass (DenoisingAutoEncoderLoss: BertLMHeadModel with is_decoder
 * and add_cross_attention over the same weights) ----
 *
 * A decoder layer is the encoder layer with causal self-attention (token i
 * of a sequence sees tokens 0..i; no padding mask) and a cross-attention
 * block between the self-attention block and the feed-forward block. Its
 * keys and values are ONE encoder vector per sequence (encoder_hidden_states
 * = reps[:, None]): the softmax over a single key is 1, so the block's
 * output before its residual is the same vector for every token of a
 * sequence,
 *     z[s] = (reps[s] Wv^T + bv) Wo^T + bo        (the caller computes it)
 *     c_t  = LayerNorm(z[s(t)] + y_t)              (here; y: the self-attention block's output)
 * and c is the feed-forward block's input and residual. Its query and key
 * projections do not change the output (and get exactly zero gradients in
 * PyTorch), so they take no part. */
typedef struct {
    const float *z;           /* [n_seq, H] */
    const float *ln_w, *ln_b; /* [H]: the block's LayerNorm (eps: layer_norm_eps) */
    float *d_z;               /* [n_seq, H] (+=) by the backward; may be NULL */
    float *d_ln_w, *d_ln_b;   /* [H] (+=) by the backward; may be NULL */
} sbert_transformer_cross;

/* A handle over the SAME weights as src (no copy; src must outlive it) with
 * its own activations and workspaces, for a second pass whose activations
 * must not replace src's (the decoder of DenoisingAutoEncoderLoss with
 * tie_encoder_decoder). Its backward writes gradients at the same offsets,
 * so passing src's gradient buffer adds both passes' gradients. Refused
 * while src has LoRA adapters. Free with sbert_transformer_free. */
sbert_status sbert_transformer_share(sbert_transformer *src, sbert_transformer **out);

/* Decoder training forward, without dropout (sentence-transformers leaves
 * the decoder in eval mode: from_pretrained's default) and with token type 0:
 * causal self-attention, and when cross is not NULL the cross-attention
 * block of each layer (cross: [num_layers], which must live until the
 * backward). out [T, H]. sbert_transformer_backward then also fills the
 * cross blocks' d_z, d_ln_w and d_ln_b. Refused on bf16 weights. */
sbert_status sbert_transformer_forward_decoder(sbert_transformer *t, const int32_t *input_ids,
                                               const size_t *seq_offsets, size_t n_seq,
                                               const sbert_transformer_cross *cross, float *out);
/* config.json's initializer_range (0.02 when absent), for new weights. */
float sbert_transformer_initializer_range(const sbert_transformer *t);
/* config.json's layer_norm_eps and hidden_act. */
float sbert_transformer_layer_norm_eps(const sbert_transformer *t);
int sbert_transformer_hidden_act(const sbert_transformer *t); /* an sbert_act (kernels/cpu_ops.h) */
size_t sbert_transformer_intermediate_size(const sbert_transformer *t);
/* config.json's pad_token_id (BERT: 0 when absent). */
int sbert_transformer_pad_id(const sbert_transformer *t);

/* ---- LoRA (modules/lora.h): the encoder's linear sublayers and the adapter hook ---- */

/* One linear sublayer of a layer: kind 0..5 = query, key, value, attention
 * output, feed-forward in, feed-forward out (sbert_lin_kind). W points at its
 * [out, in] rows (q/k/v: rows of the fused [3H, H] matrix); its output is
 * columns off .. off + out of the encoder's [T, ld] product. */
typedef struct {
    char name[160]; /* AutoModel module name, e.g. "encoder.layer.0.attention.self.query" */
    size_t in, out, off, ld;
    float *W, *b;
} sbert_linear_view;

sbert_status sbert_transformer_linear(sbert_transformer *t, size_t layer, int kind, sbert_linear_view *out);

struct sbert_lora;
/* Attach an adapter (NULL detaches; the caller owns it). freeze_base: the
 * backward computes no gradient for the encoder's own tensors. */
void sbert_transformer_set_lora(sbert_transformer *t, struct sbert_lora *lora, int freeze_base);
struct sbert_lora *sbert_transformer_lora(const sbert_transformer *t);
/* 1 while the encoder's own tensors are frozen (LoRA). */
int sbert_transformer_frozen(const sbert_transformer *t);

#endif
