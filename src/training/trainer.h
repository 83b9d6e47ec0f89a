/*
 * training/trainer.h -- the training loop and the run contract of the
 * train-sentence-transformers skill:
 *
 *   1. evaluate the base model (the baseline);
 *   2. train: log loss, learning rate, gradient norm and samples/s; evaluate
 *      and checkpoint on schedule, as the Hugging Face Trainer does (the
 *      last step too); checkpoints are written to a temporary folder and
 *      renamed into place, so a crash never leaves a torn one;
 *   3. restore the best model when load_best_model_at_end, evaluate again
 *      (and on test_data when given);
 *   4. save output_dir/final in the sentence-transformers layout with a
 *      model card (a SMOKE_TEST run saves output_dir/final-smoke instead),
 *      append to logs/experiments.md, run the (non-fatal) Hub push step;
 *   5. print `VERDICT: WIN|MARGINAL|REGRESSION | score=... | baseline=... |
 *      delta=...` as the last line (WIN >= +0.005, MARGINAL in [0, 0.005)).
 *
 * Everything printed is also appended to {log_dir}/{run_name}.log.
 */
#ifndef SBERT_TRAINING_TRAINER_H
#define SBERT_TRAINING_TRAINER_H

#include "training/recipe.h"

typedef struct {
    const char *log_dir;  /* {run_name}.log and experiments.md ("logs" when NULL) */
    int smoke;            /* one step on a tiny slice */
    int64_t kill_at_step; /* tests: raise SIGKILL right after this step (0: never) */
} sbert_train_options;

typedef struct {
    double baseline, score, delta;
    const char *verdict; /* "WIN", "MARGINAL", "REGRESSION" */
    int64_t steps;
    char final_dir[4096];
} sbert_train_result;

/* Run a recipe. */
sbert_status sbert_train_run(const sbert_recipe *r, const sbert_train_options *opt, sbert_train_result *res);

/* The VERDICT word for a delta. */
const char *sbert_verdict(double delta);

#endif
