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

#include "base/rng.h"
#include "modules/params.h"
#include "sbert.h"

typedef enum {
    SBERT_LABEL_NONE = 0, /* no label column (a label column present is an error) */
    SBERT_LABEL_SCORE,    /* a float label/score per row (or a list of floats, see label_width) */
    SBERT_LABEL_CLASS,    /* an integer class per row */
    SBERT_LABEL_OPTIONAL  /* a label column may be there or not (the loss's check says when) */
} sbert_label_kind;

/* NUMBER: a float (a default "None" means unset: NAN); INT: an integer;
 * CHOICE: one of a comma list (num = its index; "Prefix.NAME" is read as
 * NAME, as Python writes enum members); BOOL: true/false (num 1/0); LIST: a
 * list of numbers ("768,512" or "[768, 512]", kept as text in str); TEXT: any
 * text, kept in str (num 1; a default "None" given as None: NAN). */
typedef enum { SBERT_LP_NUMBER, SBERT_LP_INT, SBERT_LP_CHOICE, SBERT_LP_BOOL, SBERT_LP_LIST, SBERT_LP_TEXT } sbert_loss_param_kind;

typedef struct {
    const char *key;             /* recipe key, e.g. "scale" */
    sbert_loss_param_kind kind;
    const char *def;             /* default, as text */
    const char *choices;         /* SBERT_LP_CHOICE: "cos_sim,dot_score"; NUMBER / INT: words also
                                    accepted ("None,auto"), parsed as NAN (the text is in str[]) */
    double lo, hi;               /* NUMBER / INT: allowed range [lo, hi] */
    const char *help;
} sbert_loss_param;

#define SBERT_LOSS_MAX_PARAMS 12

/* The values of a loss's parameters, by position in its params list:
 * num[i] is the number (CHOICE: the index of the choice), str[i] the text. */
typedef struct {
    double num[SBERT_LOSS_MAX_PARAMS];
    const char *str[SBERT_LOSS_MAX_PARAMS];
} sbert_loss_values;

/* One batch of embeddings for a loss:
 * cols[c], grads[c]: [B, dim] for c in 0..n_cols-1 (column order of the data:
 * anchor, positive, negatives...); grads may be NULL (value only);
 * labels: [B * label_width] or NULL (label_width 0 or 1: one value a row; a
 * list-valued label column -- teacher embeddings, teacher scores -- has
 * label_width values a row);
 * guide: losses with SBERT_LOSS_NEEDS_GUIDE: the guide model's embeddings of
 * the same texts, guide[c] [B, guide_dim];
 * state: losses with state_init: their own parameters (SoftmaxLoss's
 * classifier, ContrastiveTensionLossInBatchNegatives' logit_scale) in the
 * rows state_init registered, gradients accumulated (+=) into each row's grad;
 * rng: random choices inside a loss (MatryoshkaLoss n_dims_per_step), or NULL;
 * step/total_steps, inner/inner_v: see below. */
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
    size_t label_width;
    const float *const *guide;
    size_t guide_dim;
    sbert_param_table *state;
    sbert_rng *rng;
} sbert_loss_batch;

/* What a loss needs from the trainer besides the embeddings (def->needs). */
#define SBERT_LOSS_NEEDS_GUIDE 1u /* a guide model (recipe key guide_model) embeds each column too */
#define SBERT_LOSS_NEEDS_COPY 2u  /* ContrastiveTension: column 0 goes through a trained copy of the model */
#define SBERT_LOSS_COPY_BOTH 4u   /* ...InBatchNegatives: column 0 through the copy AND the model (2 columns) */
#define SBERT_LOSS_ID_LABELS 8u   /* no label column: label = 1 where the two columns' token ids are equal */
#define SBERT_LOSS_WRAPPER 16u    /* wraps another loss: MatryoshkaLoss(...), see losses/loss_spec.h */
#define SBERT_LOSS_LAYERS 32u     /* needs the embeddings of earlier layers (AdaptiveLayerLoss) */
#define SBERT_LOSS_DECODER 64u    /* DenoisingAutoEncoderLoss: a decoder rebuilds column 1's tokens from column 0's
                                     embedding (losses/denoising_auto_encoder.h; the trainer's own step) */

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
    /* Optional: NULL when the data fits, else why not (a static message).
     * label_width: values per row of the label column (1 for a scalar). */
    const char *(*check)(const sbert_loss_values *v, size_t n_inputs, int has_label, size_t label_width,
                         size_t dim);
    unsigned needs;           /* SBERT_LOSS_NEEDS_* */
    /* Optional (with state_size): the loss's own parameters. state_size
     * says how many floats they take; state_init fills data (initialized
     * from rng as torch would, in distribution) and registers its rows into
     * t pointing into data. dim: the embedding width; n_labels: the number of
     * classes the data holds (0: unknown). */
    size_t (*state_size)(const sbert_loss_values *v, size_t dim, size_t n_labels);
    sbert_status (*state_init)(const sbert_loss_values *v, size_t dim, size_t n_labels, sbert_rng *rng, float *data,
                               sbert_param_table *t);
    /* A sparse base loss that only runs inside SpladeLoss / CachedSpladeLoss
     * (as in Python, where its forward raises): choosing it as `loss` is an
     * error that says how to wrap it. */
    int wrapped_only;
    /* The model similarity this loss sets when built (SparseCoSENTLoss,
     * SparseAnglELoss, SparseCosineSimilarityLoss: "cosine"), or NULL. */
    const char *model_similarity;
} sbert_loss_def;

/* A loss's own parameters (SoftmaxLoss's classifier, ...): a sealed
 * parameter table over one block of floats. */
typedef struct {
    sbert_param_table *params;
    float *data;
    size_t n;
} sbert_loss_state;

/* The state of def (NULL in *out when def has none). */
sbert_status sbert_loss_state_create(const sbert_loss_def *def, const sbert_loss_values *v, size_t dim,
                                     size_t n_labels, sbert_rng *rng, sbert_loss_state **out);
void sbert_loss_state_free(sbert_loss_state *s);

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
/* Parse a LIST parameter's text ("768,512" or "[768, 512]") into at most
 * cap numbers; 1 on success. */
int sbert_loss_parse_list(const char *text, double *out, size_t cap, size_t *n);

/* Every parameter key any loss reads, NULL-terminated (for the recipe's
 * known keys). */
const char *const *sbert_loss_param_keys(void);

/* Check that a dataset with n_inputs text columns and (has_label) a label
 * column fits def; the message names `file` and lists `columns`. */
sbert_status sbert_loss_check_columns(const sbert_loss_def *def, size_t n_inputs, int has_label, const char *file,
                                      const char *columns);

#endif
