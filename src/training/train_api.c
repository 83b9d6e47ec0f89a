/*
 * training/train_api.c -- the public entry point sbert_train(): recipe +
 * overrides in, trainer run, summary out.
 */
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "training/recipe.h"
#include "training/trainer.h"

sbert_status sbert_train(const char *recipe_path, const char *const *args, size_t n_args, const char *log_dir,
                         sbert_train_summary *out) {
    sbert_recipe *r = NULL;
    memset(out, 0, sizeof *out);
    SBERT_TRY(sbert_recipe_load(recipe_path, args, n_args, &r));
    sbert_train_result res;
    sbert_status st = sbert_train_run(r, log_dir, &res);
    sbert_recipe_free(r);
    if (st != SBERT_OK) return st;
    out->baseline = res.baseline;
    out->score = res.score;
    out->delta = res.delta;
    snprintf(out->verdict, sizeof out->verdict, "%s", res.verdict);
    out->steps = res.steps;
    snprintf(out->final_dir, sizeof out->final_dir, "%s", res.final_dir);
    return SBERT_OK;
}
