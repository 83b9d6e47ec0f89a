/*
 * losses/loss.h -- the loss table: every loss sentence-transformers names,
 * with what the trainer needs to know about it without looking inside:
 *
 *   name         the Python class name a recipe's `loss:` gives;
 *   kinds        the model kinds it applies to (a SentenceTransformer loss,
 *                a CrossEncoder loss, ...);
 *   columns      how many text columns it takes and whether it needs a
 *                label column (checked before the baseline, with a message
 *                naming the file and its columns);
 *   params       its parameters, read from recipe keys of the same names
 *                (scale, similarity_fct, triplet_margin, ...) with their
 *                defaults, ranges or choices; a key that belongs to another
 *                loss is refused;
 *   cached       gradient caching (Cached* losses: mini_batch_size);
 *   compute      the function: embeddings (and labels) in, loss value out,
 *                gradients w.r.t. the embeddings ACCUMULATED (+=).
 *
 * Rows with compute == NULL are losses that exist in sentence-transformers
 * but not here yet: the trainer refuses them by name (and says which model
 * type a loss of another kind belongs to). Usage text, "did you mean",
 * column checks, the model card and dispatch all read this table; adding a
 * loss is one new file with its compute function plus one row in
 * loss_table.c.
 */
#ifndef SBERT_LOSSES_LOSS_H
#define SBERT_LOSSES_LOSS_H

#include <stddef.h>
#include <stdint.h>

#include "sbert.h"

typedef enum {
    SBERT_LABEL_NONE = 0, /* no label column (a label column present is an error) */
    SBERT_LABEL_SCORE,    /* a float label/score per row */
    SBERT_LABEL_CLASS     /* an integer class per row */
} sbert_label_kind;

typedef enum { SBERT_LP_NUMBER, SBERT_LP_INT, SBERT_LP_CHOICE } sbert_loss_param_kind;

typedef struct {
    const char *key;             /* recipe key, e.g. "scale" */
    sbert_loss_param_kind kind;
    const char *def;             /* default, as text */
    const char *choices;         /* SBERT_LP_CHOICE: "cos_sim,dot_score"; NUMBER / INT: words also
                                    accepted ("None,auto"), parsed as NAN (the text is in str[]) */
    double lo, hi;               /* NUMBER / INT: allowed range [lo, hi] */
    const char *help;
} sbert_loss_param;

#define SBERT_LOSS_MAX_PARAMS 8

/* The values of a loss's parameters, by position in its params list:
 * num[i] is the number (CHOICE: the index of the choice), str[i] the text. */
typedef struct {
    double num[SBERT_LOSS_MAX_PARAMS];
    const char *str[SBERT_LOSS_MAX_PARAMS];
} sbert_loss_values;

/* One batch of embeddings for a loss:
 * cols[c], grads[c]: [B, dim] for c in 0..n_cols-1 (column order of the data:
 * anchor, positive, negatives...); grads may be NULL (value only);
 * labels: [B] or NULL. */
struct sbert_loss_def;

typedef struct {
    const float *const *cols;
    float *const *grads;
    size_t n_cols, B, dim;
    const float *labels;
    const sbert_loss_values *v;
    /* Training progress, for losses whose weights follow a schedule
     * (SpladeLoss's regularizer ramp): the optimizer step about to be taken
     * (0-based, HF's global_step at on_step_begin) and the total number of
     * steps; total_steps 0 = no schedule (full weights). */
    int64_t step, total_steps;
    /* A wrapper loss (SpladeLoss, CachedSpladeLoss): the wrapped base loss
     * and its parameter values; NULL otherwise. */
    const struct sbert_loss_def *inner;
    const sbert_loss_values *inner_v;
} sbert_loss_batch;

typedef struct sbert_loss_def {
    const char *name;
    unsigned kinds;           /* bit (1u << sbert_model_kind) */
    size_t min_inputs, max_inputs; /* text columns; max_inputs 0 = any number */
    sbert_label_kind label;
    const char *columns;      /* for messages: "(anchor, positive[, negative...])" */
    const sbert_loss_param *params;
    size_t n_params;
    int cached;               /* Cached* loss: gradient caching by mini_batch_size */
    sbert_status (*compute)(const sbert_loss_batch *b, double *loss);
    const char *summary;      /* one line for help and the model card */
    /* A sparse base loss that only runs inside SpladeLoss / CachedSpladeLoss
     * (as in Python, where its forward raises): choosing it as `loss` is an
     * error that says how to wrap it. */
    int wrapped_only;
    /* The model similarity this loss sets when built (SparseCoSENTLoss,
     * SparseAnglELoss, SparseCosineSimilarityLoss: "cosine"), or NULL. */
    const char *model_similarity;
} sbert_loss_def;

/* The row named `name` (case-sensitive, as Python), or NULL. */
const sbert_loss_def *sbert_loss_find(const char *name);
/* The row named `name` for model kind `kind` (sbert_model_kind: the same
 * Python name exists for several kinds, e.g. MultipleNegativesRankingLoss);
 * else the first row of that name, or NULL. */
const sbert_loss_def *sbert_loss_find_kind(const char *name, int kind);
size_t sbert_loss_count(void);
const sbert_loss_def *sbert_loss_at(size_t i);
/* Index of `key` in def's params, or -1. */
int sbert_loss_param_index(const sbert_loss_def *def, const char *key);
/* Parse text as parameter i of def into v (errors name the key and origin). */
sbert_status sbert_loss_param_parse(const sbert_loss_def *def, size_t i, const char *text, const char *origin,
                                    sbert_loss_values *v);
/* Every parameter key any loss reads, NULL-terminated (for the recipe's
 * known keys). */
const char *const *sbert_loss_param_keys(void);

/* Check that a dataset with n_inputs text columns and (has_label) a label
 * column fits def; the message names `file` and lists `columns`. */
sbert_status sbert_loss_check_columns(const sbert_loss_def *def, size_t n_inputs, int has_label, const char *file,
                                      const char *columns);

#endif
