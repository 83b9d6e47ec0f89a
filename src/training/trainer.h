/*
 * training/trainer.h -- the training loop and the run contract of the
 * train-sentence-transformers skill:
 *
 *   1. evaluate the base model (the baseline);
 *   2. train: log loss, learning rate, gradient norm and samples/s; evaluate
 *      and checkpoint on schedule (checkpoints are written to a temporary
 *      folder and renamed into place, so a crash never leaves a torn one);
 *   3. restore the best model when load_best_model_at_end, evaluate again;
 *   4. save output_dir/final in the sentence-transformers layout with a
 *      model card, append to logs/experiments.md, run the (non-fatal) Hub
 *      push step;
 *   5. print `VERDICT: WIN|MARGINAL|REGRESSION | score=... | baseline=... |
 *      delta=...` as the last line (WIN >= +0.005, MARGINAL in [0, 0.005)).
 *
 * Everything printed is also appended to logs/{run_name}.log. SMOKE_TEST=1 in
 * the environment runs one step on a tiny slice.
 *
 * Model kinds trained today: StaticEmbedding (from a tokenizer, random init,
 * or an existing static model directory).
 */
#ifndef SBERT_TRAINING_TRAINER_H
#define SBERT_TRAINING_TRAINER_H

#include "training/recipe.h"

typedef struct {
    double baseline, score, delta;
    const char *verdict; /* "WIN", "MARGINAL", "REGRESSION" */
    int64_t steps;
    char final_dir[4096];
} sbert_train_result;

/* Run a recipe. `log_dir` is where {run_name}.log and experiments.md go
 * ("logs" when NULL). */
sbert_status sbert_train_run(const sbert_recipe *r, const char *log_dir, sbert_train_result *res);

/* The VERDICT word for a delta. */
const char *sbert_verdict(double delta);

#endif
