/*
 * training/trainer_internal.h -- the trainer's state, shared by the files
 * that split it by concern:
 *
 *   trainer.c     the run contract: arguments, data, baseline, the loop and
 *                 its schedule (log / eval / save), best model, early
 *                 stopping, the final evaluation, saving, the VERDICT;
 *   train_step.c  one micro-batch: forward, the loss from the loss table,
 *                 backward; gradient caching for Cached* losses;
 *   checkpoint.c  checkpoints, resume (validated), retention, the
 *                 output_dir lock and the cleanup of interrupted writes;
 *   model_card.c  the README.md of a saved model (and its training_curves.svg);
 *   report.c      report_to: TensorBoard event files (tensorboard.c).
 */
#ifndef SBERT_TRAINING_TRAINER_INTERNAL_H
#define SBERT_TRAINING_TRAINER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "base/rng.h"
#include "data/dataset.h"
#include "data/sampler.h"
#include "evaluation/evaluators.h"
#include "evaluation/st_evaluators.h"
#include "models/model.h"
#include "training/ce_train.h"
#include "losses/loss_spec.h"
#include "training/optimizer.h"
#include "training/run_log.h"
#include "training/tensorboard.h"
#include "training/train_args.h"

/* One loss object of the run: the one loss, or one per entry of a
 * {dataset: loss} mapping (training/train_sets.c). */
typedef struct {
    const sbert_loss_spec *spec;
    char name[64];                 /* its dataset name in a loss mapping ("" for one loss) */
    sbert_loss_state *state;       /* the loss's own parameters (SoftmaxLoss...), or NULL */
    sbert_optimizer state_opt;
    sbert_model *copy;             /* ContrastiveTension's model1 (a trained copy), or NULL */
    struct sbert_dae *dae;         /* DenoisingAutoEncoderLoss's decoder (its weights: state), or NULL */
    sbert_param_table *copy_params;
    sbert_optimizer copy_opt;
} sbert_train_loss;

/* One named training dataset (train_data: {name: file}; one unnamed set
 * otherwise), tokenized once, with its loss, prompts and eval-loss data. */
typedef struct {
    char name[64];
    char path[1024];
    sbert_dataset *ds;
    sbert_packed *cols;            /* [n_inputs] */
    size_t n_inputs;
    int label_col;
    size_t label_width;
    size_t loss;                   /* index into trainer->losses */
    char **prompts;                /* [n_inputs]: the prompt of each input column, or NULL */
    size_t *prompt_len;            /* [n_inputs]: prompt tokens left out of pooling */
    size_t n_batches;              /* batches one epoch of its sampler advertises */
    /* eval_dataset: its loss is logged at each evaluation */
    sbert_dataset *eval_ds;
    sbert_packed *eval_cols;
    int eval_label_col;
    size_t eval_label_width;
} sbert_train_set;

/* A batch of an epoch: rows of one set. */
typedef struct {
    size_t *set;     /* [n_batches] */
    sbert_batches b; /* the rows (indices into that set's dataset) */
} sbert_epoch_plan;

typedef struct {
    const sbert_train_args *a;
    const sbert_recipe *recipe;
    sbert_run_log *log;
    /* model and optimizer */
    sbert_model *model;
    sbert_param_table *params;
    sbert_optimizer opt;
    sbert_rng dropout_rng;
    char model_desc[4200];
    /* data */
    sbert_dataset *train;
    sbert_packed *cols; /* [n_inputs] tokenized input columns */
    size_t n_inputs;
    int label_col;
    sbert_evaluator_set *evals, *tests;
    sbert_ce_train *cross; /* CrossEncoder: pairs, labels and checks of the loss (train_step_cross.c) */
    /* schedule */
    sbert_sampler_type sampler;
    sbert_lr_scheduler_type sched;
    sbert_adamw_config adam;
    int64_t total_steps, warmup, log_every, eval_every, save_every, steps_per_epoch;
    /* state (saved in checkpoints) */
    int64_t global_step, epoch, next_batch;
    double best_metric;
    int64_t best_step, bad_evals;
    int has_best;
    /* bookkeeping */
    double epoch_f;       /* fractional epochs done */
    char metric_key[128]; /* "eval_..." */
    char output_dir[4096];
    int lock_fd;
    sbert_eval_result baseline_res, final_res, test_res;
    int has_test;
    cJSON *history;       /* log_history: every logged step and evaluation */
    sbert_tb_writer *tb;  /* report_to tensorboard (report.c), else NULL */
    double train_seconds; /* the training loop's wall time (this process) */
    /* step buffers */
    sbert_packed batch;
    /* training sets and losses (train_sets.c); train/cols/n_inputs/label_col
     * above alias sets[0] */
    sbert_train_set *sets;
    size_t n_sets, cur_set;        /* cur_set: the set of the batch being stepped */
    sbert_train_loss *losses;
    size_t n_losses;
    sbert_model *guide;            /* GISTEmbedLoss's guide model, or NULL */
    sbert_model *teacher;          /* teacher_model while labels are computed (teacher.c), or NULL */
    size_t teacher_dim;            /* its embedding width */
    int teacher_normalize;         /* it ends in Normalize */
    int teacher_ce;                /* it is a CrossEncoder: MarginMSELoss margins (teacher.c) */
    sbert_rng loss_rng;            /* random choices inside losses (n_dims_per_step) */
    int multi_round_robin;         /* multi_dataset_batch_sampler ROUND_ROBIN */
    sbert_eval_classifier classifier; /* SoftmaxLoss's, for LabelAccuracyEvaluator (state NULL: none) */
} sbert_trainer;

/* train_step.c: one micro-batch of rows [B] (forward, loss, backward);
 * gradients are scaled by loss_weight (1 / gradient_accumulation_steps). */
sbert_status sbert_trainer_micro_step(sbert_trainer *t, const size_t *rows, size_t B, double loss_weight,
                                      double *loss_out);

/* adaptive_step.c: the step of AdaptiveLayerLoss / Matryoshka2dLoss (the
 * loss on earlier layers too). */
sbert_status sbert_trainer_adaptive_step(sbert_trainer *t, const size_t *rows, size_t B, double loss_weight,
                                         double *loss_out);

/* train_step.c: DenoisingAutoEncoderLoss on rows[B] of the packed columns
 * cols (0 damaged, 1 original) of set s: the model embeds column 0 (with
 * dropout when train), the decoder rebuilds column 1; train: gradients
 * (scaled by loss_weight) into the model and the loss's state. */
sbert_status sbert_trainer_dae_step(sbert_trainer *t, const sbert_train_set *s, sbert_train_loss *L,
                                    const sbert_packed *cols, const size_t *rows, size_t B, double loss_weight,
                                    int train, double *loss_out);

/* train_step_cross.c: the same for a CrossEncoder (pairs in, scores out). */
sbert_status sbert_trainer_cross_step(sbert_trainer *t, const size_t *rows, size_t B, double loss_weight,
                                      double *loss_out);

/* teacher.c: teacher_model -- the teacher's embeddings of the source column
 * (teacher_column, default the first input) as the label column of ds
 * (`what` names it in messages); nothing without teacher_model. */
sbert_status sbert_train_teacher_label(sbert_trainer *t, sbert_dataset *ds, const char *what);
/* After the student is loaded, before its parameter table: a Normalize
 * appended when the teacher ends in one, and the width check. */
sbert_status sbert_train_teacher_student(sbert_trainer *t);
void sbert_train_teacher_free(sbert_trainer *t);
/* student.c: layers_to_keep (the loaded model keeps only those encoder
 * layers) and model_kwargs torch_dtype (accepted, or refused with the reason,
 * once the model is known). */
sbert_status sbert_train_student_layers(sbert_trainer *t);
sbert_status sbert_train_model_dtype(sbert_trainer *t);

/* train_sets.c: the named datasets, their losses, prompts and eval data. */
sbert_status sbert_train_sets_load(sbert_trainer *t);
/* After the model is loaded: tokenize, prompts' lengths, loss states, the
 * CT copy model, the guide model, checks that need the model's width. */
sbert_status sbert_train_sets_prepare(sbert_trainer *t);
void sbert_train_sets_free(sbert_trainer *t);
/* Batches one epoch advertises over every set (the multi-dataset sampler). */
size_t sbert_train_batches_per_epoch(const sbert_trainer *t);
/* The batches of epoch `epoch`, each from one set. */
sbert_status sbert_train_epoch_plan(sbert_trainer *t, uint64_t epoch, sbert_epoch_plan *out);
void sbert_epoch_plan_free(sbert_epoch_plan *p);
/* One optimizer step over the model and every parameter the losses own. */
double sbert_train_optimizer_step(sbert_trainer *t, double lr);
/* Log the eval_dataset losses ("'eval_loss': x" / "'eval_{name}_loss': x"). */
sbert_status sbert_train_eval_losses(sbert_trainer *t, char *buf, size_t cap);
/* Loss states and copies in checkpoints. */
sbert_status sbert_train_extras_save(sbert_trainer *t, const char *dir);
sbert_status sbert_train_extras_load(sbert_trainer *t, const char *dir);
/* The guide's embeddings of the texts of rows[B] of input column c of set s
 * (with that column's prompt) into out [B, guide dim]. */
sbert_status sbert_train_guide_embed(sbert_trainer *t, const sbert_train_set *s, size_t c, const size_t *rows,
                                     size_t B, float *out);

/* checkpoint.c */
sbert_status sbert_checkpoint_lock(sbert_trainer *t);
void sbert_checkpoint_unlock(sbert_trainer *t);
/* Remove the *.tmp.* / *.deleting.* folders interrupted runs left behind. */
void sbert_checkpoint_cleanup(sbert_trainer *t);
sbert_status sbert_checkpoint_save(sbert_trainer *t);
sbert_status sbert_checkpoint_find_latest(const char *out_dir, char *dst, size_t cap);
sbert_status sbert_checkpoint_load(sbert_trainer *t, const char *dir);
/* dir/trainer_state.json: the state a resume needs and the log_history. */
sbert_status sbert_checkpoint_write_state(const sbert_trainer *t, const char *dir);
/* Save the model (and README) into tmp, then publish as dir. */
sbert_status sbert_checkpoint_publish_model(sbert_trainer *t, const char *dir, int with_card);

/* report.c: report_to integrations. Open them (before the baseline); pass
 * each log_history entry once it is complete; close at the end. A write
 * failure during the run is logged once as a warning and stops that
 * integration; the training goes on. */
sbert_status sbert_report_open(sbert_trainer *t);
void sbert_report_entry(sbert_trainer *t, const cJSON *entry);
void sbert_report_close(sbert_trainer *t);

/* model_card.c: README.md in dir. */
sbert_status sbert_model_card_write(const sbert_trainer *t, const char *dir);

#endif
