/*
 * training/trainer.c -- the training loop and the run contract (see
 * trainer.h). Model-specific work goes through a small "trainable" record
 * (encode for evaluation; forward/backward for a batch column; the
 * parameter table; save), implemented here for StaticEmbedding.
 */
#define _XOPEN_SOURCE 700
#include "training/trainer.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/error.h"
#include "data/dataset.h"
#include "base/threads.h"
#include "data/sampler.h"
#include "evaluation/evaluators.h"
#include "io/atomic.h"
#include "io/dirs.h"
#include "io/file.h"
#include "io/safetensors.h"
#include "losses/losses.h"
#include "training/optim.h"
#include "training/trainable.h"

/* ------------------------------------------------------------ arguments */

typedef struct {
    const char *run_name, *output_dir, *model, *tokenizer, *train_data, *eval_data, *loss, *evaluator,
        *evaluator_name, *lr_scheduler_type, *batch_sampler, *metric_for_best_model, *resume, *columns,
        *rename_columns, *similarity_fct, *eval_strategy, *save_strategy;
    double num_train_epochs, learning_rate, weight_decay, adam_beta1, adam_beta2, adam_epsilon,
        max_grad_norm, warmup_steps, scale, early_stopping_threshold, logging_steps, eval_steps,
        save_steps;
    int64_t max_steps, batch_size, eval_batch_size, accum, seed, embedding_dim, save_total_limit,
        early_stopping_patience, max_train_samples, max_eval_samples, num_threads, max_seq_length, mini_batch_size;
    int load_best, greater_is_better, greater_set, drop_last, smoke, push_to_hub;
} targs;

static const char *const LOSSES_SUPPORTED[] = {"MultipleNegativesRankingLoss",
                                                "MultipleNegativesSymmetricRankingLoss", "CoSENTLoss",
                                                "CachedMultipleNegativesRankingLoss",
                                                "CachedMultipleNegativesSymmetricRankingLoss"};
static const char *const LOSSES_KNOWN[] = {
    "MultipleNegativesRankingLoss", "MultipleNegativesSymmetricRankingLoss", "CoSENTLoss",
    "CachedMultipleNegativesRankingLoss", "CachedMultipleNegativesSymmetricRankingLoss", "GISTEmbedLoss",
    "CachedGISTEmbedLoss", "AnglELoss", "CosineSimilarityLoss", "ContrastiveLoss", "OnlineContrastiveLoss",
    "TripletLoss", "MatryoshkaLoss", "AdaptiveLayerLoss", "Matryoshka2dLoss", "MSELoss", "MarginMSELoss",
    "DistillKLDivLoss", "SoftmaxLoss", "MegaBatchMarginLoss", "ContrastiveTensionLoss",
    "DenoisingAutoEncoderLoss", "BatchAllTripletLoss", "BatchHardTripletLoss", "BatchSemiHardTripletLoss",
    "BatchHardSoftMarginTripletLoss", "GlobalOrthogonalRegularizationLoss"};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static sbert_status read_args(const sbert_recipe *r, targs *a) {
    memset(a, 0, sizeof *a);
    const char *smoke = getenv("SMOKE_TEST");
    a->smoke = smoke && *smoke && strcmp(smoke, "0") != 0;
    SBERT_TRY(sbert_recipe_string(r, "run_name", "sbert-run", &a->run_name));
    SBERT_TRY(sbert_recipe_string(r, "output_dir", NULL, &a->output_dir));
    SBERT_TRY(sbert_recipe_string(r, "model", NULL, &a->model));
    SBERT_TRY(sbert_recipe_string(r, "tokenizer", NULL, &a->tokenizer));
    SBERT_TRY(sbert_recipe_string(r, "train_data", NULL, &a->train_data));
    SBERT_TRY(sbert_recipe_string(r, "eval_data", NULL, &a->eval_data));
    SBERT_TRY(sbert_recipe_string(r, "loss", "CoSENTLoss", &a->loss));
    SBERT_TRY(sbert_recipe_string(r, "evaluator", "EmbeddingSimilarityEvaluator", &a->evaluator));
    SBERT_TRY(sbert_recipe_string(r, "evaluator_name", "", &a->evaluator_name));
    SBERT_TRY(sbert_recipe_string(r, "lr_scheduler_type", "linear", &a->lr_scheduler_type));
    SBERT_TRY(sbert_recipe_string(r, "batch_sampler", "BATCH_SAMPLER", &a->batch_sampler));
    SBERT_TRY(sbert_recipe_string(r, "metric_for_best_model", NULL, &a->metric_for_best_model));
    SBERT_TRY(sbert_recipe_string(r, "resume_from_checkpoint", NULL, &a->resume));
    SBERT_TRY(sbert_recipe_string(r, "columns", NULL, &a->columns));
    SBERT_TRY(sbert_recipe_string(r, "rename_columns", NULL, &a->rename_columns));
    SBERT_TRY(sbert_recipe_string(r, "similarity_fct", "cos_sim", &a->similarity_fct));
    SBERT_TRY(sbert_recipe_string(r, "eval_strategy", "no", &a->eval_strategy));
    SBERT_TRY(sbert_recipe_string(r, "save_strategy", "steps", &a->save_strategy));
    SBERT_TRY(sbert_recipe_double(r, "num_train_epochs", 3.0, &a->num_train_epochs));
    SBERT_TRY(sbert_recipe_double(r, "learning_rate", 5e-5, &a->learning_rate));
    SBERT_TRY(sbert_recipe_double(r, "weight_decay", 0.0, &a->weight_decay));
    SBERT_TRY(sbert_recipe_double(r, "adam_beta1", 0.9, &a->adam_beta1));
    SBERT_TRY(sbert_recipe_double(r, "adam_beta2", 0.999, &a->adam_beta2));
    SBERT_TRY(sbert_recipe_double(r, "adam_epsilon", 1e-8, &a->adam_epsilon));
    SBERT_TRY(sbert_recipe_double(r, "max_grad_norm", 1.0, &a->max_grad_norm));
    SBERT_TRY(sbert_recipe_double(r, "warmup_steps", 0.0, &a->warmup_steps));
    if (sbert_recipe_get(r, "warmup_ratio") && !sbert_recipe_get(r, "warmup_steps"))
        SBERT_TRY(sbert_recipe_double(r, "warmup_ratio", 0.0, &a->warmup_steps));
    SBERT_TRY(sbert_recipe_double(r, "scale", 20.0, &a->scale));
    SBERT_TRY(sbert_recipe_double(r, "early_stopping_threshold", 0.0, &a->early_stopping_threshold));
    SBERT_TRY(sbert_recipe_double(r, "logging_steps", 500, &a->logging_steps));
    SBERT_TRY(sbert_recipe_double(r, "eval_steps", 0, &a->eval_steps));
    SBERT_TRY(sbert_recipe_double(r, "save_steps", 500, &a->save_steps));
    SBERT_TRY(sbert_recipe_int(r, "max_steps", -1, &a->max_steps));
    SBERT_TRY(sbert_recipe_int(r, "per_device_train_batch_size", 8, &a->batch_size));
    SBERT_TRY(sbert_recipe_int(r, "per_device_eval_batch_size", 8, &a->eval_batch_size));
    SBERT_TRY(sbert_recipe_int(r, "gradient_accumulation_steps", 1, &a->accum));
    SBERT_TRY(sbert_recipe_int(r, "seed", 42, &a->seed));
    SBERT_TRY(sbert_recipe_int(r, "embedding_dim", 256, &a->embedding_dim));
    SBERT_TRY(sbert_recipe_int(r, "save_total_limit", 0, &a->save_total_limit));
    SBERT_TRY(sbert_recipe_int(r, "early_stopping_patience", 0, &a->early_stopping_patience));
    SBERT_TRY(sbert_recipe_int(r, "max_train_samples", 0, &a->max_train_samples));
    SBERT_TRY(sbert_recipe_int(r, "max_eval_samples", 0, &a->max_eval_samples));
    SBERT_TRY(sbert_recipe_int(r, "num_threads", 0, &a->num_threads));
    SBERT_TRY(sbert_recipe_int(r, "max_seq_length", 0, &a->max_seq_length));
    SBERT_TRY(sbert_recipe_int(r, "mini_batch_size", 32, &a->mini_batch_size));
    if (a->mini_batch_size < 1)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: mini_batch_size must be >= 1",
                          sbert_recipe_origin(r, "mini_batch_size"));
    SBERT_TRY(sbert_recipe_bool(r, "load_best_model_at_end", 0, &a->load_best));
    SBERT_TRY(sbert_recipe_bool(r, "dataloader_drop_last", 0, &a->drop_last));
    SBERT_TRY(sbert_recipe_bool(r, "push_to_hub", 0, &a->push_to_hub));
    a->greater_set = sbert_recipe_get(r, "greater_is_better") != NULL;
    SBERT_TRY(sbert_recipe_bool(r, "greater_is_better", 1, &a->greater_is_better));

    if (!a->model)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "recipe: 'model' is required (a model directory, or 'static' with 'tokenizer')");
    if (!a->train_data) return sbert_fail(SBERT_ERR_INVALID_ARG, "recipe: 'train_data' is required (a .jsonl/.csv/.tsv file)");
    if (!a->eval_data)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "recipe: 'eval_data' is required: the run contract evaluates a baseline and the "
                          "trained model on it");
    if (a->batch_size < 1) return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: per_device_train_batch_size must be >= 1",
                                             sbert_recipe_origin(r, "per_device_train_batch_size"));
    if (a->accum < 1) return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: gradient_accumulation_steps must be >= 1",
                                        sbert_recipe_origin(r, "gradient_accumulation_steps"));
    if (a->learning_rate < 0) return sbert_fail(SBERT_ERR_INVALID_ARG, "learning_rate must be >= 0");
    if (strcmp(a->eval_strategy, "no") && strcmp(a->eval_strategy, "steps") && strcmp(a->eval_strategy, "epoch"))
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: eval_strategy must be no, steps or epoch, got '%s'",
                          sbert_recipe_origin(r, "eval_strategy"), a->eval_strategy);
    if (strcmp(a->save_strategy, "no") && strcmp(a->save_strategy, "steps") && strcmp(a->save_strategy, "epoch") &&
        strcmp(a->save_strategy, "best"))
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: save_strategy must be no, steps, epoch or best, got '%s'",
                          sbert_recipe_origin(r, "save_strategy"), a->save_strategy);
    int ok = 0;
    for (size_t i = 0; i < NELEM(LOSSES_SUPPORTED); i++) ok |= strcmp(a->loss, LOSSES_SUPPORTED[i]) == 0;
    if (!ok) {
        for (size_t i = 0; i < NELEM(LOSSES_KNOWN); i++)
            if (strcmp(a->loss, LOSSES_KNOWN[i]) == 0)
                return sbert_fail(SBERT_ERR_UNSUPPORTED,
                                  "%s: loss '%s' is not implemented yet (available: MultipleNegativesRankingLoss, "
                                  "MultipleNegativesSymmetricRankingLoss, CoSENTLoss, "
                                  "CachedMultipleNegativesRankingLoss, CachedMultipleNegativesSymmetricRankingLoss)",
                                  sbert_recipe_origin(r, "loss"), a->loss);
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: unknown loss '%s' (did you mean '%s'?)",
                          sbert_recipe_origin(r, "loss"), a->loss,
                          sbert_closest_name(a->loss, LOSSES_KNOWN, NELEM(LOSSES_KNOWN)));
    }
    /* evaluator / eval_data / evaluator_name (one each, or comma lists of the
     * same length for SequentialEvaluator) are checked, with the data, by
     * sbert_evaluator_set_load in load_data, before the baseline. */
    if (strcmp(a->similarity_fct, "cos_sim") && strcmp(a->similarity_fct, "dot_score"))
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: similarity_fct must be cos_sim or dot_score, got '%s'",
                          sbert_recipe_origin(r, "similarity_fct"), a->similarity_fct);
    return SBERT_OK;
}

/* ------------------------------------------------------------------ log */

typedef struct {
    FILE *file;
} tee_log;

static tee_log g_log;

static void tlog(const char *fmt, ...) SBERT_PRINTF(1, 2);
static void tlog(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
    if (g_log.file) {
        va_start(ap, fmt);
        vfprintf(g_log.file, fmt, ap);
        va_end(ap);
        fflush(g_log.file);
    }
}

/* ---------------------------------------------------------- the trainer */

typedef struct {
    const targs *a;
    const sbert_recipe *recipe;
    sbert_trainable *model;
    sbert_dataset *train;
    void **cols; /* [n_inputs] tokenized train columns (model-specific) */
    size_t n_inputs;
    int label_col;
    sbert_evaluator_set *evals; /* evaluator(s) over eval_data */
    sbert_sampler_type sampler;
    sbert_lr_scheduler_type sched;
    sbert_adamw_config adam;
    sbert_param_segment seg;
    int64_t total_steps, warmup, log_every, eval_every, save_every, steps_per_epoch;
    /* state */
    int64_t global_step, epoch, next_batch;
    double best_metric;
    int64_t best_step, bad_evals;
    int has_best;
    char metric_key[128]; /* "eval_..." */
    char output_dir[4096];
    sbert_eval_result baseline_res, final_res;
    int64_t kill_at_step; /* SBERT_TEST_KILL_AT_STEP (tests only) */
} trainer;

static sbert_status encode_cb(void *ctx, const char *const *texts, size_t n, float *out) {
    sbert_trainable *m = ctx;
    return m->ops->encode(m, texts, n, out);
}

/* The trainer's models (static, transformer) have no "query"/"document"
 * prompts and use cosine similarity, so encode_query / encode_document are
 * plain encode here, as in sentence-transformers. */
static sbert_status evaluate(trainer *t, sbert_eval_result *res) {
    sbert_eval_encoder enc = {encode_cb, t->model, NULL, NULL, t->model->ops->dim(t->model), "cosine"};
    return sbert_evaluator_set_run(t->evals, &enc, res);
}

static void log_eval(const sbert_eval_result *res, double epoch) {
    tlog("{");
    for (size_t i = 0; i < res->n; i++) tlog("'eval_%s': %.6f, ", res->m[i].key, res->m[i].value);
    tlog("'epoch': %.4f}\n", epoch);
}

static double metric_of(const trainer *t, const sbert_eval_result *res) {
    const char *k = t->metric_key;
    if (strncmp(k, "eval_", 5) == 0) k += 5;
    return sbert_eval_get(res, k);
}

static int64_t steps_from(double v, int64_t total) {
    if (v <= 0) return 0;
    if (v < 1) return (int64_t)ceil((double)total * v);
    return (int64_t)v;
}

static sbert_status load_data(trainer *t) {
    const targs *a = t->a;
    SBERT_TRY(sbert_dataset_load(a->train_data, &t->train));
    if (a->columns) {
        char buf[1024];
        snprintf(buf, sizeof buf, "%s", a->columns);
        const char *names[32];
        size_t n = 0;
        for (char *s = strtok(buf, ", "); s && n < 32; s = strtok(NULL, ", ")) names[n++] = s;
        SBERT_TRY(sbert_dataset_select_columns(t->train, names, n));
    }
    if (a->rename_columns) {
        char buf[1024];
        snprintf(buf, sizeof buf, "%s", a->rename_columns);
        for (char *s = strtok(buf, ", "); s; s = strtok(NULL, ", ")) {
            char *colon = strchr(s, ':');
            if (!colon)
                return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: rename_columns entries are old:new, got '%s'",
                                  sbert_recipe_origin(t->recipe, "rename_columns"), s);
            *colon = '\0';
            SBERT_TRY(sbert_dataset_rename_column(t->train, s, colon + 1));
        }
    }
    if (a->smoke) sbert_dataset_truncate(t->train, (size_t)(a->batch_size * 2));
    if (a->max_train_samples > 0) sbert_dataset_truncate(t->train, (size_t)a->max_train_samples);
    t->label_col = sbert_dataset_label_column(t->train);
    t->n_inputs = sbert_dataset_n_inputs(t->train);
    /* Do the columns fit the loss? */
    char have[1024] = "";
    for (size_t c = 0; c < t->train->n_cols; c++) {
        size_t l = strlen(have);
        snprintf(have + l, sizeof have - l, "%s%s", c ? ", " : "", t->train->cols[c].name);
    }
    int cosent = strcmp(a->loss, "CoSENTLoss") == 0;
    if (cosent && (t->n_inputs != 2 || t->label_col < 0))
        return sbert_fail(SBERT_ERR_FORMAT,
                          "%s: CoSENTLoss expects 2 text columns (sentence1, sentence2) and a numeric "
                          "label/score column; the file has columns: %s",
                          a->train_data, have);
    if (!cosent && t->n_inputs < 2)
        return sbert_fail(SBERT_ERR_FORMAT,
                          "%s: %s expects (anchor, positive) or (anchor, positive, negative...) text columns; "
                          "the file has columns: %s",
                          a->train_data, a->loss, have);
    SBERT_TRY(sbert_dataset_check_inputs(t->train));

    /* Evaluation: max_eval_samples (50 under SMOKE_TEST) keeps the first pairs
     * of pair data and the first queries of IR data (whole corpus). */
    size_t max_eval = a->max_eval_samples > 0 ? (size_t)a->max_eval_samples : 0;
    if (a->smoke && (max_eval == 0 || max_eval > 50)) max_eval = 50;
    sbert_status st = sbert_evaluator_set_load(a->evaluator, a->eval_data, a->evaluator_name, max_eval, &t->evals);
    if (st != SBERT_OK) {
        const char *key = sbert_recipe_get(t->recipe, "evaluator") ? "evaluator" : "eval_data";
        sbert_error_prefix("%s (%s): ", sbert_recipe_origin(t->recipe, key), key);
    }
    return st;
}

/* The in-batch-negatives loss on embeddings emb [nc, B, D] -> grads g. */
static sbert_status ranking_loss(trainer *t, const float *emb, size_t nc, size_t B, size_t D, float *g,
                                 double *loss) {
    const float *cols[16];
    float *grads[16];
    for (size_t c = 0; c < nc; c++) { cols[c] = emb + c * B * D; grads[c] = g + c * B * D; }
    sbert_sim_fn sim = strcmp(t->a->similarity_fct, "dot_score") == 0 ? SBERT_SIM_DOT : SBERT_SIM_COSINE;
    if (strstr(t->a->loss, "Symmetric"))
        return sbert_loss_mnrl_symmetric(cols, nc, B, D, t->a->scale, sim, grads, loss);
    return sbert_loss_mnrl(cols, nc, B, D, t->a->scale, sim, grads, loss);
}

/* Copy rows [s, s+nb) of every column between a [nc, B, D] and a [nc, nb, D] buffer. */
static void slice_cols(float *full, float *part, size_t nc, size_t B, size_t s, size_t nb, size_t D, int to_full) {
    for (size_t c = 0; c < nc; c++) {
        float *f = full + (c * B + s) * D, *p = part + c * nb * D;
        if (to_full) memcpy(f, p, nb * D * sizeof *f);
        else memcpy(p, f, nb * D * sizeof *f);
    }
}

/* Cached(MNRL|MNSRL), as GradCache: (1) embed the batch in mini-batches
 * without keeping activations, snapshotting the dropout generator before
 * each; (2) the loss and its gradient on the full batch of embeddings;
 * (3) re-run each mini-batch forward with the same generator state and
 * back-propagate its slice of the cached embedding gradients. The loss and
 * the parameter gradients equal the uncached loss on the same batch, while
 * activations are only ever held for one mini-batch. */
static sbert_status cached_micro_step(trainer *t, const size_t *rows, size_t B, double loss_weight,
                                      double *loss_out) {
    sbert_trainable *m = t->model;
    size_t D = m->ops->dim(m), nc = t->n_inputs, mb = (size_t)t->a->mini_batch_size;
    if (mb > B) mb = B;
    size_t n_mb = (B + mb - 1) / mb;
    float *emb = malloc(nc * B * D * sizeof *emb), *g = calloc(nc * B * D, sizeof *g);
    float *part = malloc(nc * mb * D * sizeof *part);
    sbert_rng *rng = m->ops->rng ? m->ops->rng(m) : NULL;
    sbert_rng *snap = malloc(n_mb * sizeof *snap);
    void *state = NULL;
    sbert_status st = SBERT_OK;
    if (!emb || !g || !part || !snap) { st = sbert_fail(SBERT_ERR_NOMEM, "out of memory in a cached step"); goto done; }
    for (size_t k = 0, s = 0; s < B && st == SBERT_OK; k++, s += mb) {
        size_t nb = B - s < mb ? B - s : mb;
        if (rng) snap[k] = *rng;
        st = m->ops->forward(m, t->cols, nc, rows + s, nb, part, &state);
        if (st != SBERT_OK) break;
        m->ops->state_free(state);
        state = NULL;
        slice_cols(emb, part, nc, B, s, nb, D, 1);
    }
    if (st != SBERT_OK) goto done;
    double loss = 0;
    if ((st = ranking_loss(t, emb, nc, B, D, g, &loss)) != SBERT_OK) goto done;
    *loss_out = loss;
    if (loss_weight != 1.0)
        for (size_t i = 0; i < nc * B * D; i++) g[i] = (float)(g[i] * loss_weight);
    sbert_rng after = rng ? *rng : (sbert_rng){{0, 0, 0, 0}};
    for (size_t k = 0, s = 0; s < B && st == SBERT_OK; k++, s += mb) {
        size_t nb = B - s < mb ? B - s : mb;
        if (rng) *rng = snap[k];
        st = m->ops->forward(m, t->cols, nc, rows + s, nb, part, &state);
        if (st != SBERT_OK) break;
        slice_cols(g, part, nc, B, s, nb, D, 0);
        st = m->ops->backward(m, state, part);
        state = NULL;
    }
    if (rng) *rng = after;
done:
    if (state) m->ops->state_free(state);
    free(emb); free(g); free(part); free(snap);
    return st;
}

/* One micro-batch: forward every column, loss, backward. */
static sbert_status micro_step(trainer *t, const size_t *rows, size_t B, double loss_weight, double *loss_out) {
    if (strncmp(t->a->loss, "Cached", 6) == 0) return cached_micro_step(t, rows, B, loss_weight, loss_out);
    sbert_trainable *m = t->model;
    size_t D = m->ops->dim(m), nc = t->n_inputs;
    if (nc > 16) return sbert_fail(SBERT_ERR_UNSUPPORTED, "at most 16 input columns are supported, got %zu", nc);
    float *emb = malloc(nc * B * D * sizeof *emb), *g = calloc(nc * B * D, sizeof *g);
    float *labels = malloc(B * sizeof *labels);
    void *state = NULL;
    sbert_status st = SBERT_OK;
    if (!emb || !g || !labels) { st = sbert_fail(SBERT_ERR_NOMEM, "out of memory in a training step"); goto done; }
    st = m->ops->forward(m, t->cols, nc, rows, B, emb, &state);
    if (st != SBERT_OK) goto done;
    const float *cols[16];
    float *grads[16];
    for (size_t c = 0; c < nc; c++) { cols[c] = emb + c * B * D; grads[c] = g + c * B * D; }
    double loss = 0;
    sbert_sim_fn sim = strcmp(t->a->similarity_fct, "dot_score") == 0 ? SBERT_SIM_DOT : SBERT_SIM_COSINE;
    if (strcmp(t->a->loss, "CoSENTLoss") == 0) {
        for (size_t i = 0; i < B; i++) labels[i] = (float)t->train->cols[t->label_col].num[rows[i]];
        st = sbert_loss_cosent(cols[0], cols[1], labels, B, D, t->a->scale, grads[0], grads[1], &loss);
    } else if (strcmp(t->a->loss, "MultipleNegativesSymmetricRankingLoss") == 0) {
        st = sbert_loss_mnrl_symmetric(cols, nc, B, D, t->a->scale, sim, grads, &loss);
    } else {
        st = sbert_loss_mnrl(cols, nc, B, D, t->a->scale, sim, grads, &loss);
    }
    if (st != SBERT_OK) goto done;
    *loss_out = loss;
    if (loss_weight != 1.0)
        for (size_t i = 0; i < nc * B * D; i++) g[i] = (float)(g[i] * loss_weight);
    st = m->ops->backward(m, state, g);
    state = NULL;
done:
    if (state) m->ops->state_free(state);
    free(emb); free(g); free(labels);
    return st;
}

/* ----------------------------------------------------------- checkpoints */

static sbert_status save_checkpoint(trainer *t) {
    char dir[4200], tmp[4300], path[4400];
    snprintf(dir, sizeof dir, "%s/checkpoint-%lld", t->output_dir, (long long)t->global_step);
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", dir, (int)getpid());
    sbert_rm_rf(tmp);
    sbert_status st = sbert_mkdir_p(tmp);
    if (st == SBERT_OK) st = t->model->ops->save(t->model, tmp);
    if (st == SBERT_OK) st = t->model->ops->save_optimizer(t->model, tmp);
    if (st == SBERT_OK) {
        char state[2048];
        snprintf(state, sizeof state,
                 "{\n  \"global_step\": %lld,\n  \"epoch\": %lld,\n  \"next_batch\": %lld,\n"
                 "  \"has_best\": %d,\n  \"best_metric\": %.17g,\n  \"best_step\": %lld,\n  \"bad_evals\": %lld,\n"
                 "  \"metric_for_best_model\": \"%s\"\n}\n",
                 (long long)t->global_step, (long long)t->epoch, (long long)t->next_batch, t->has_best, t->has_best ? t->best_metric : 0.0,
                 (long long)t->best_step, (long long)t->bad_evals, t->metric_key);
        st = sbert_write_text_file(tmp, "trainer_state.json", state);
    }
    if (st == SBERT_OK) st = sbert_publish_dir(tmp, dir);
    if (st != SBERT_OK) {
        sbert_rm_rf(tmp);
        sbert_error_prefix("checkpoint at step %lld not written (previous checkpoints are intact): ",
                           (long long)t->global_step);
        return st;
    }
    tlog("Saved checkpoint %s\n", dir);
    if (t->a->save_total_limit > 0) {
        /* Keep the newest save_total_limit checkpoints. */
        DIR *d = opendir(t->output_dir);
        long long steps[4096];
        size_t n = 0;
        struct dirent *de;
        while (d && (de = readdir(d)) && n < 4096) {
            long long s;
            char extra;
            if (sscanf(de->d_name, "checkpoint-%lld%c", &s, &extra) == 1) steps[n++] = s;
        }
        if (d) closedir(d);
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++)
                if (steps[j] > steps[i]) { long long x = steps[i]; steps[i] = steps[j]; steps[j] = x; }
        for (size_t i = (size_t)t->a->save_total_limit; i < n; i++) {
            snprintf(path, sizeof path, "%s/checkpoint-%lld", t->output_dir, steps[i]);
            sbert_rm_rf(path);
        }
    }
    return SBERT_OK;
}

static sbert_status find_latest_checkpoint(const char *out_dir, char *dst, size_t cap) {
    DIR *d = opendir(out_dir);
    if (!d) return sbert_fail(SBERT_ERR_IO, "resume_from_checkpoint: %s: %s", out_dir, strerror(errno));
    long long best = -1;
    struct dirent *de;
    while ((de = readdir(d))) {
        long long s;
        char extra;
        if (sscanf(de->d_name, "checkpoint-%lld%c", &s, &extra) == 1 && s > best) best = s;
    }
    closedir(d);
    if (best < 0) return sbert_fail(SBERT_ERR_IO, "resume_from_checkpoint: no checkpoint-* folder in %s", out_dir);
    snprintf(dst, cap, "%s/checkpoint-%lld", out_dir, best);
    return SBERT_OK;
}

static sbert_status load_checkpoint(trainer *t, const char *dir) {
    SBERT_TRY(t->model->ops->load_weights(t->model, dir));
    SBERT_TRY(t->model->ops->load_optimizer(t->model, dir));
    char path[4400];
    snprintf(path, sizeof path, "%s/trainer_state.json", dir);
    cJSON *j = NULL;
    SBERT_TRY(sbert_json_load(path, &j));
#define JNUM(k) (cJSON_IsNumber(cJSON_GetObjectItem(j, k)) ? cJSON_GetObjectItem(j, k)->valuedouble : 0)
    t->global_step = (int64_t)JNUM("global_step");
    t->epoch = (int64_t)JNUM("epoch");
    t->next_batch = (int64_t)JNUM("next_batch");
    t->has_best = (int)JNUM("has_best");
    t->best_metric = JNUM("best_metric");
    t->best_step = (int64_t)JNUM("best_step");
    t->bad_evals = (int64_t)JNUM("bad_evals");
#undef JNUM
    cJSON_Delete(j);
    tlog("Resumed from %s at step %lld (epoch %lld, batch %lld)\n", dir, (long long)t->global_step,
         (long long)t->epoch, (long long)t->next_batch);
    return SBERT_OK;
}

/* Evaluate during training; track the best model; 1 in *stop for early stopping. */
static sbert_status eval_and_track(trainer *t, double epoch, int *stop) {
    sbert_eval_result res;
    SBERT_TRY(evaluate(t, &res));
    log_eval(&res, epoch);
    double v = metric_of(t, &res);
    int better = !t->has_best || (t->a->greater_is_better ? v > t->best_metric + t->a->early_stopping_threshold
                                                          : v < t->best_metric - t->a->early_stopping_threshold);
    int improved = !t->has_best || (t->a->greater_is_better ? v > t->best_metric : v < t->best_metric);
    if (improved) {
        t->best_metric = v;
        t->best_step = t->global_step;
        t->has_best = 1;
        if (t->a->load_best) {
            char dir[4200], tmp[4300];
            snprintf(dir, sizeof dir, "%s/best-model", t->output_dir);
            snprintf(tmp, sizeof tmp, "%s.tmp.%d", dir, (int)getpid());
            sbert_rm_rf(tmp);
            sbert_status st = sbert_mkdir_p(tmp);
            if (st == SBERT_OK) st = t->model->ops->save(t->model, tmp);
            if (st == SBERT_OK) st = sbert_publish_dir(tmp, dir);
            if (st != SBERT_OK) { sbert_rm_rf(tmp); return st; }
        }
    }
    if (better) t->bad_evals = 0;
    else t->bad_evals++;
    if (t->a->early_stopping_patience > 0 && t->bad_evals >= t->a->early_stopping_patience) {
        tlog("Early stopping: %s did not improve by more than %g for %lld evaluations\n", t->metric_key,
             t->a->early_stopping_threshold, (long long)t->bad_evals);
        *stop = 1;
    }
    return SBERT_OK;
}

static sbert_status train_loop(trainer *t) {
    const targs *a = t->a;
    size_t B = (size_t)a->batch_size;
    double log_loss = 0, log_norm = 0;
    int64_t log_n = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int64_t samples = 0;
    int stop = 0;
    for (; !stop && t->global_step < t->total_steps; t->epoch++, t->next_batch = 0) {
        sbert_batches batches;
        SBERT_TRY(sbert_sampler_epoch(t->train, t->sampler, B, a->drop_last, (uint64_t)a->seed, (uint64_t)t->epoch,
                                      &batches));
        sbert_status st = SBERT_OK;
        int64_t micro = 0;
        double step_loss = 0;
        for (size_t b = (size_t)t->next_batch; b < batches.n_batches && t->global_step < t->total_steps; b++) {
            size_t nb = batches.offsets[b + 1] - batches.offsets[b];
            double loss = 0;
            st = micro_step(t, batches.idx + batches.offsets[b], nb, 1.0 / (double)a->accum, &loss);
            if (st != SBERT_OK) break;
            if (!isfinite(loss)) {
                st = sbert_fail(SBERT_ERR_INTERNAL,
                                "loss became %g at step %lld (epoch %lld, batch %zu): training stopped; the last "
                                "checkpoint in %s is intact",
                                loss, (long long)t->global_step + 1, (long long)t->epoch, b, t->output_dir);
                break;
            }
            step_loss += loss / (double)a->accum;
            samples += (int64_t)nb;
            micro++;
            if (micro % a->accum != 0 && b + 1 < batches.n_batches) continue;
            double lr = a->learning_rate * sbert_lr_lambda(t->sched, t->global_step, t->warmup, t->total_steps);
            double norm = t->model->ops->step(t->model, &t->adam, lr, a->max_grad_norm);
            t->global_step++;
            t->next_batch = (int64_t)b + 1;
            log_loss += step_loss;
            log_norm += norm;
            log_n++;
            step_loss = 0;
            double epoch_f = (double)t->epoch + (double)(b + 1) / (double)batches.n_batches;
            if (t->log_every > 0 && t->global_step % t->log_every == 0) {
                clock_gettime(CLOCK_MONOTONIC, &t1);
                double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
                tlog("{'loss': %.4f, 'grad_norm': %.4f, 'learning_rate': %.6g, 'samples_per_second': %.1f, "
                     "'epoch': %.4f, 'step': %lld}\n",
                     log_loss / (double)log_n, log_norm / (double)log_n, lr, secs > 0 ? (double)samples / secs : 0.0,
                     epoch_f, (long long)t->global_step);
                log_loss = log_norm = 0;
                log_n = 0;
            }
            int at_end = t->global_step == t->total_steps;
            if (!strcmp(a->eval_strategy, "steps") && t->eval_every > 0 && t->global_step % t->eval_every == 0 && !at_end)
                if ((st = eval_and_track(t, epoch_f, &stop)) != SBERT_OK) break;
            if (!strcmp(a->save_strategy, "steps") && t->save_every > 0 && t->global_step % t->save_every == 0)
                if ((st = save_checkpoint(t)) != SBERT_OK) break;
            if (stop) break;
            /* Test hook: die here as a SIGKILL would, to prove resume is exact. */
            if (t->kill_at_step > 0 && t->global_step == t->kill_at_step) raise(SIGKILL);
        }
        sbert_batches_free(&batches);
        SBERT_TRY(st);
        if (!stop && !strcmp(a->eval_strategy, "epoch") && t->global_step < t->total_steps)
            SBERT_TRY(eval_and_track(t, (double)t->epoch + 1, &stop));
        if (!stop && !strcmp(a->save_strategy, "epoch")) SBERT_TRY(save_checkpoint(t));
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    tlog("{'train_runtime': %.2f, 'train_samples_per_second': %.1f, 'train_steps': %lld}\n", secs,
         secs > 0 ? (double)samples / secs : 0.0, (long long)t->global_step);
    return SBERT_OK;
}

const char *sbert_verdict(double delta) {
    if (delta >= 0.005) return "WIN";
    if (delta >= 0) return "MARGINAL";
    return "REGRESSION";
}

static sbert_status write_model_card(trainer *t, const char *dir) {
    const targs *a = t->a;
    char *buf = malloc(65536);
    if (!buf) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    size_t n = 0, cap = 65536;
#define CARD(...) n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, __VA_ARGS__)
    CARD("---\nlibrary_name: sentence-transformers\npipeline_tag: sentence-similarity\ntags:\n- sentence-transformers\n"
         "- sentence-similarity\n- feature-extraction\n- sbert-c\n---\n\n");
    CARD("# %s\n\nA SentenceTransformer model trained with **sbert** (sentence-transformers training in C). "
         "It loads unchanged in Python: `SentenceTransformer(\"path/to/this/folder\")`.\n\n", a->run_name);
    CARD("## Model\n\n- Base model: %s\n- Output dimension: %zu, similarity: cosine\n\n",
         t->model->ops->describe(t->model), t->model->ops->dim(t->model));
    CARD("## Training data\n\n- Train: `%s` (%zu rows; columns:", a->train_data, t->train->n_rows);
    for (size_t c = 0; c < t->train->n_cols; c++) CARD(" `%s`", t->train->cols[c].name);
    CARD(")\n");
    {
        char evs[4096];
        sbert_evaluator_set_describe(t->evals, evs, sizeof evs);
        CARD("%s", evs);
    }
    CARD("\n## Loss\n\n`%s` (scale %g, similarity_fct %s)\n\n", a->loss, a->scale, a->similarity_fct);
    CARD("## Training arguments\n\n| key | value |\n|---|---|\n");
    for (size_t i = 0; i < sbert_recipe_count(t->recipe); i++) {
        const char *k, *v;
        sbert_recipe_entry(t->recipe, i, &k, &v);
        CARD("| `%s` | `%s` |\n", k, v);
    }
    CARD("\n## Evaluation (%s)\n\n| metric | baseline | trained |\n|---|---|---|\n", a->evaluator);
    for (size_t i = 0; i < t->final_res.n; i++)
        CARD("| %s | %.4f | %.4f |\n", t->final_res.m[i].key, sbert_eval_get(&t->baseline_res, t->final_res.m[i].key),
             t->final_res.m[i].value);
    CARD("\nSteps trained: %lld.\n", (long long)t->global_step);
#undef CARD
    if (n >= cap) n = cap - 1;
    char path[4200];
    sbert_status st = sbert_path_join(path, sizeof path, dir, "README.md");
    if (st == SBERT_OK) st = sbert_write_file_atomic(path, buf, n);
    free(buf);
    return st;
}

static void append_experiment(const char *log_dir, const targs *a, double base, double score, const char *verdict,
                              int64_t steps) {
    char path[4200];
    snprintf(path, sizeof path, "%s/experiments.md", log_dir);
    int fresh = !sbert_file_exists(path);
    FILE *f = fopen(path, "a");
    if (!f) { tlog("warning: cannot append to %s: %s\n", path, strerror(errno)); return; }
    if (fresh)
        fprintf(f, "# Experiments\n\n| date (UTC) | run_name | model | loss | steps | baseline | score | delta | verdict |\n"
                   "|---|---|---|---|---|---|---|---|---|\n");
    time_t now = time(NULL);
    struct tm tmv;
    gmtime_r(&now, &tmv);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M", &tmv);
    fprintf(f, "| %s | %s | %s | %s | %lld | %.4f | %.4f | %+.4f | %s |\n", date, a->run_name, a->model, a->loss,
            (long long)steps, base, score, score - base, verdict);
    fclose(f);
}

static void trainer_free(trainer *t) {
    if (t->cols)
        for (size_t c = 0; c < t->n_inputs; c++)
            if (t->cols[c]) t->model->ops->tokens_free(t->cols[c]);
    if (t->model) t->model->ops->free(t->model);
    free(t->cols);
    sbert_dataset_free(t->train);
    sbert_evaluator_set_free(t->evals);
}

static sbert_status run(trainer *t, const char *log_dir, sbert_train_result *res) {
    const targs *a = t->a;
    snprintf(t->output_dir, sizeof t->output_dir, "%s", a->output_dir ? a->output_dir : "");
    if (!a->output_dir) snprintf(t->output_dir, sizeof t->output_dir, "output/%s", a->run_name);
    tlog("sbert %s train: run_name=%s model=%s loss=%s%s\n", sbert_version(), a->run_name, a->model, a->loss,
         a->smoke ? " (SMOKE_TEST: one step on a tiny slice)" : "");
    SBERT_TRY(sbert_sampler_parse(a->batch_sampler, &t->sampler));
    SBERT_TRY(sbert_lr_scheduler_parse(a->lr_scheduler_type, &t->sched));
    if (a->num_threads < 0)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "num_threads must be 0 (all cores) or more, got %lld",
                          (long long)a->num_threads);
    sbert_set_num_threads((int)a->num_threads); /* 0: all online cores */
    tlog("Threads: %d\n", sbert_get_num_threads());
    SBERT_TRY(load_data(t));
    tlog("Train data: %s (%zu rows, %zu input columns%s)\n", a->train_data, t->train->n_rows, t->n_inputs,
         t->label_col >= 0 ? " + label" : "");
    {
        char what[512];
        sbert_evaluator_set_summary(t->evals, what, sizeof what);
        tlog("Eval data: %s (%s)\n", a->eval_data, what);
    }
    sbert_trainable_options topt = {a->model, a->tokenizer, a->embedding_dim, (uint64_t)a->seed, a->max_seq_length};
    SBERT_TRY(sbert_trainable_create(&topt, &t->model));
    tlog("Model: %s\n", t->model->ops->describe(t->model));
    t->n_inputs = sbert_dataset_n_inputs(t->train);
    t->cols = calloc(t->n_inputs, sizeof *t->cols);
    if (!t->cols) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    for (size_t c = 0; c < t->n_inputs; c++)
        SBERT_TRY(t->model->ops->tokenize(t->model,
                                          (const char *const *)t->train->cols[sbert_dataset_input_column(t->train, c)].text,
                                          t->train->n_rows, &t->cols[c]));

    /* Schedule. */
    size_t n_batches = sbert_sampler_len(t->train->n_rows, (size_t)a->batch_size, a->drop_last);
    if (n_batches == 0) return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: fewer rows (%zu) than one batch with dataloader_drop_last",
                                          a->train_data, t->train->n_rows);
    t->steps_per_epoch = (int64_t)((n_batches + (size_t)a->accum - 1) / (size_t)a->accum);
    t->total_steps = a->max_steps > 0 ? a->max_steps : (int64_t)ceil(a->num_train_epochs * (double)t->steps_per_epoch);
    if (a->smoke) t->total_steps = 1;
    if (t->total_steps < 1) return sbert_fail(SBERT_ERR_INVALID_ARG, "no training steps: set num_train_epochs or max_steps");
    t->warmup = sbert_warmup_steps(a->warmup_steps, t->total_steps);
    t->log_every = steps_from(a->logging_steps, t->total_steps);
    t->eval_every = steps_from(a->eval_steps > 0 ? a->eval_steps : a->logging_steps, t->total_steps);
    t->save_every = steps_from(a->save_steps, t->total_steps);
    if (a->load_best && !strcmp(a->eval_strategy, "no"))
        return sbert_fail(SBERT_ERR_INVALID_ARG, "load_best_model_at_end needs eval_strategy steps or epoch");
    if (a->load_best && !strcmp(a->save_strategy, "steps") && !strcmp(a->eval_strategy, "steps") &&
        t->save_every % t->eval_every != 0)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "load_best_model_at_end requires save_steps (%lld) to be a multiple of eval_steps (%lld)",
                          (long long)t->save_every, (long long)t->eval_every);
    t->adam = sbert_adamw_config_default();
    t->adam.beta1 = a->adam_beta1;
    t->adam.beta2 = a->adam_beta2;
    t->adam.eps = a->adam_epsilon;
    t->adam.weight_decay = a->weight_decay;
    tlog("Steps: %lld (%lld per epoch, batch %lld x %lld accumulation), warmup %lld, scheduler %s, lr %g\n",
         (long long)t->total_steps, (long long)t->steps_per_epoch, (long long)a->batch_size, (long long)a->accum,
         (long long)t->warmup, a->lr_scheduler_type, a->learning_rate);

    /* Baseline, and the metric checked before any step. */
    tlog("Evaluating the base model (baseline)...\n");
    SBERT_TRY(evaluate(t, &t->baseline_res));
    log_eval(&t->baseline_res, 0.0);
    if (a->metric_for_best_model) {
        const char *k = a->metric_for_best_model;
        char full[128];
        snprintf(full, sizeof full, "%s%s", strncmp(k, "eval_", 5) ? "eval_" : "", k);
        snprintf(t->metric_key, sizeof t->metric_key, "%s", full);
        if (isnan(metric_of(t, &t->baseline_res))) {
            char avail[1024] = "";
            for (size_t i = 0; i < t->baseline_res.n; i++) {
                size_t l = strlen(avail);
                snprintf(avail + l, sizeof avail - l, "%seval_%s", i ? ", " : "", t->baseline_res.m[i].key);
            }
            return sbert_fail(SBERT_ERR_INVALID_ARG,
                              "metric_for_best_model '%s' is not produced by %s (available: %s)", k, a->evaluator,
                              avail);
        }
    } else {
        snprintf(t->metric_key, sizeof t->metric_key, "eval_%s", t->baseline_res.primary);
    }
    double baseline = metric_of(t, &t->baseline_res);
    tlog("Baseline %s = %.4f\n", t->metric_key, baseline);
    SBERT_TRY(sbert_mkdir_p(t->output_dir));

    if (a->resume && strcasecmp(a->resume, "false") != 0) {
        char dir[4200];
        if (!strcasecmp(a->resume, "true") || !strcasecmp(a->resume, "latest"))
            SBERT_TRY(find_latest_checkpoint(t->output_dir, dir, sizeof dir));
        else
            snprintf(dir, sizeof dir, "%s", a->resume);
        SBERT_TRY(load_checkpoint(t, dir));
    }

    SBERT_TRY(train_loop(t));

    if (a->load_best && t->has_best) {
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/best-model", t->output_dir);
        SBERT_TRY(t->model->ops->load_weights(t->model, dir));
        tlog("Loaded the best model (step %lld, %s = %.4f)\n", (long long)t->best_step, t->metric_key, t->best_metric);
    }
    tlog("Evaluating the trained model...\n");
    SBERT_TRY(evaluate(t, &t->final_res));
    log_eval(&t->final_res, (double)t->epoch);
    double score = metric_of(t, &t->final_res);

    char final_dir[4096], tmp[4300];
    if (snprintf(final_dir, sizeof final_dir, "%s/final", t->output_dir) >= (int)sizeof final_dir)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "output_dir is too long");
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", final_dir, (int)getpid());
    sbert_rm_rf(tmp);
    sbert_status st = sbert_mkdir_p(tmp);
    if (st == SBERT_OK) st = t->model->ops->save(t->model, tmp);
    if (st == SBERT_OK) st = write_model_card(t, tmp);
    if (st == SBERT_OK) st = sbert_publish_dir(tmp, final_dir);
    if (st != SBERT_OK) { sbert_rm_rf(tmp); return st; }
    tlog("Saved the model to %s\n", final_dir);
    const char *verdict = sbert_verdict(score - baseline);
    append_experiment(log_dir, a, baseline, score, verdict, t->global_step);
    if (a->push_to_hub)
        tlog("Hub push: not configured in this build (no Hub client yet); the model stays at %s\n", final_dir);
    else
        tlog("Hub push: skipped (push_to_hub is false; not configured in this build)\n");
    res->baseline = baseline;
    res->score = score;
    res->delta = score - baseline;
    res->verdict = verdict;
    res->steps = t->global_step;
    snprintf(res->final_dir, sizeof res->final_dir, "%s", final_dir);
    tlog("VERDICT: %s | score=%.4f | baseline=%.4f | delta=%+.4f\n", verdict, score, baseline, score - baseline);
    return SBERT_OK;
}

sbert_status sbert_train_run(const sbert_recipe *r, const char *log_dir, sbert_train_result *res) {
    memset(res, 0, sizeof *res);
    targs a;
    SBERT_TRY(read_args(r, &a));
    if (!log_dir) log_dir = "logs";
    SBERT_TRY(sbert_mkdir_p(log_dir));
    char logpath[4200];
    snprintf(logpath, sizeof logpath, "%s/%s.log", log_dir, a.run_name);
    g_log.file = fopen(logpath, "a");
    if (!g_log.file) return sbert_fail(SBERT_ERR_IO, "%s: cannot open the run log: %s", logpath, strerror(errno));
    trainer t;
    memset(&t, 0, sizeof t);
    t.a = &a;
    t.recipe = r;
    const char *kill_at = getenv("SBERT_TEST_KILL_AT_STEP");
    t.kill_at_step = kill_at ? atoll(kill_at) : 0;
    sbert_status st = run(&t, log_dir, res);
    if (st != SBERT_OK) tlog("error: %s\n", sbert_last_error());
    trainer_free(&t);
    fclose(g_log.file);
    g_log.file = NULL;
    return st;
}
