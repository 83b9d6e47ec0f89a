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
#include "models/model.h"
#include "training/ce_train.h"
#include "training/optimizer.h"
#include "training/run_log.h"
#include "training/tensorboard.h"
#include "training/train_args.h"

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
} sbert_trainer;

/* train_step.c: one micro-batch of rows [B] (forward, loss, backward);
 * gradients are scaled by loss_weight (1 / gradient_accumulation_steps). */
sbert_status sbert_trainer_micro_step(sbert_trainer *t, const size_t *rows, size_t B, double loss_weight,
                                      double *loss_out);

/* train_step_cross.c: the same for a CrossEncoder (pairs in, scores out). */
sbert_status sbert_trainer_cross_step(sbert_trainer *t, const size_t *rows, size_t B, double loss_weight,
                                      double *loss_out);

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
