/*
 * losses/denoising_auto_encoder.h -- DenoisingAutoEncoderLoss (TSDAE):
 * rows (damaged sentence, original sentence); the model embeds the damaged
 * one (its whole pipeline: the sentence embedding), and a decoder rebuilds
 * the original from that one vector. See denoising_auto_encoder.c.
 */
#ifndef SBERT_LOSSES_DENOISING_AUTO_ENCODER_H
#define SBERT_LOSSES_DENOISING_AUTO_ENCODER_H

#include <stddef.h>
#include <stdint.h>

#include "base/rng.h"
#include "losses/loss.h"
#include "models/model.h"
#include "models/packed.h"

typedef struct sbert_dae sbert_dae;

/* The decoder of model m (a SentenceTransformer whose first module is a BERT
 * Transformer, sentence embedding as wide as its hidden size) for the loss
 * row `def` with values v (tie_encoder_decoder, decoder_name_or_path; a
 * value other than the default is refused naming `origin`). *state_out: the
 * loss's own parameters (cross-attention value/output projections and
 * LayerNorm per layer, the LM head's transform and bias), taken from the
 * model's checkpoint when it holds them (a *ForMaskedLM / *LMHeadModel
 * checkpoint), else initialised as transformers does (N(0,
 * initializer_range) weights, zero biases, unit LayerNorm) from rng. The
 * caller owns both (sbert_loss_state_free, sbert_dae_free). */
sbert_status sbert_dae_create(sbert_model *m, const sbert_loss_def *def, const sbert_loss_values *v,
                              const char *origin, sbert_rng *rng, sbert_loss_state **state_out, sbert_dae **out);
void sbert_dae_free(sbert_dae *d);
/* How many of the state's tensors came from the model's checkpoint. */
size_t sbert_dae_n_loaded(const sbert_dae *d);

/* Test hook: overwrite every row of the state with the tensor of the same
 * name in the safetensors file `path` (the reference generator's initial
 * decoder-only weights). */
sbert_status sbert_dae_state_load(sbert_loss_state *s, const char *path);

/* The loss of one batch.
 * reps:   [B, H] the model's embeddings of the damaged texts;
 * target: the original texts' token ids, B sequences (the decoder reads
 *         ids[:-1] of each and predicts ids[1:]);
 * enc_grads: the encoder's gradient buffer laid out like its flat parameter
 *         buffer (the decoder shares those weights: its gradients add
 *         there, the LM head's output projection being the word embeddings),
 *         or NULL for the value only;
 * d_reps: [B, H] (+=) or NULL;
 * grad_scale: every gradient is that of grad_scale * loss (gradient
 *         accumulation's 1 / steps);
 * The state's gradients (the table's grad buffers) accumulate (+=) too when
 * enc_grads is given. *loss: cross-entropy averaged over the labels that
 * are not the pad id, over the whole batch. */
sbert_status sbert_dae_loss(sbert_dae *d, const float *reps, size_t B, const sbert_packed *target, float *enc_grads,
                            float *d_reps, double grad_scale, double *loss);

/* The encoder's gradient buffer of model m (its Transformer module's rows),
 * or NULL before sbert_model_params. */
float *sbert_dae_encoder_grads(sbert_model *m);

/* DenoisingAutoEncoderDataset's deletion noise on whitespace-separated
 * words: each word is kept when a uniform draw from rng exceeds del_ratio
 * (one is kept at random when none is), the kept words joined by single
 * spaces. Python splits with nltk's word_tokenize and rejoins with
 * TreebankWordDetokenizer, which treats punctuation as words of its own;
 * here punctuation stays attached to its word. Text without words is
 * returned unchanged. *out: malloc'd. */
sbert_status sbert_dae_delete_noise(const char *text, double del_ratio, sbert_rng *rng, char **out);

#endif
