/*
 * training/optimizer.h -- AdamW over a model's parameter table
 * (modules/params.h): one flat pair of moment buffers laid out like the
 * table's gradient buffer, one step count, global-norm clipping over every
 * trainable row, then the update and the zeroing of the gradients.
 *
 * Every trainable tensor gets torch.optim.AdamW's update (training/optim.h)
 * with the Hugging Face decay groups (the row's decay flag) -- row-sparse
 * ones (StaticEmbedding) too, over all their rows, as torch does with
 * nn.EmbeddingBag's dense gradient; for those the gradient norm only visits
 * the rows a batch touched (the others are zero). Frozen rows are never
 * updated and take no part in the norm, as in torch.
 */
#ifndef SBERT_TRAINING_OPTIMIZER_H
#define SBERT_TRAINING_OPTIMIZER_H

#include "modules/params.h"
#include "training/optim.h"

typedef struct {
    sbert_param_table *t;
    float *m, *v; /* [numel] */
    size_t n;
    int64_t step; /* optimizer steps taken */
    sbert_param_segment *segs; /* scratch: one per table row */
    /* Per table row: NULL, or for an embedding table (a 2-D tensor of at
     * least SBERT_OPTIM_LIVE_ROWS rows) one flag per row, 0 while the row's
     * moments are all exactly 0 (training/optim.h: such a row with a zero
     * gradient only decays). */
    unsigned char **live;
} sbert_optimizer;

#define SBERT_OPTIM_LIVE_ROWS 4096

sbert_status sbert_optimizer_init(sbert_optimizer *o, sbert_param_table *t);
void sbert_optimizer_free(sbert_optimizer *o);

/* After the moments were written from outside (a checkpoint): the live
 * flags again from the moments' values. */
void sbert_optimizer_moments_changed(sbert_optimizer *o);

/* The global L2 norm of the trainable gradients. */
double sbert_optimizer_grad_norm(const sbert_optimizer *o);
/* Clip to max_grad_norm (<= 0: no clipping; torch's clip_grad_norm_ rule),
 * one AdamW step at `lr`, gradients zeroed. Returns the norm before clipping. */
double sbert_optimizer_step(sbert_optimizer *o, const sbert_adamw_config *cfg, double lr, double max_grad_norm);

/* dir/optimizer.safetensors: the moments ("exp_avg", "exp_avg_sq", flat),
 * the step count and the extra metadata pairs meta[2i], meta[2i+1]. */
sbert_status sbert_optimizer_save(const sbert_optimizer *o, const char *dir, const char *const *meta, size_t n_meta);
/* Back from dir; *file (when not NULL) receives the opened file so the
 * caller can read its own metadata, and must be closed with sbert_st_close. */
struct sbert_safetensors;
sbert_status sbert_optimizer_load(sbert_optimizer *o, const char *dir, struct sbert_safetensors **file);

#endif
