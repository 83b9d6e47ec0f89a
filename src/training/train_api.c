/*
 * training/train_api.c -- the public entry points sbert_train() (recipe +
 * overrides in, trainer run, summary out) and sbert_train_help().
 *
 * The run's environment is read here, once, into the trainer's options:
 * SMOKE_TEST (the skill's smoke-test mode: one step on a tiny slice) and
 * SBERT_TEST_KILL_AT_STEP (the test suite's crash injection: SIGKILL right
 * after that step, to prove that resuming is exact).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "training/recipe.h"
#include "training/train_args.h"
#include "training/trainer.h"

sbert_status sbert_train(const char *recipe_path, const char *const *args, size_t n_args, const char *log_dir,
                         sbert_train_summary *out) {
    sbert_recipe *r = NULL;
    memset(out, 0, sizeof *out);
    SBERT_TRY(sbert_recipe_load(recipe_path, args, n_args, sbert_train_known_keys(), &r));
    const char *smoke = getenv("SMOKE_TEST");
    const char *kill = getenv("SBERT_TEST_KILL_AT_STEP");
    sbert_train_options opt = {log_dir, smoke && *smoke && strcmp(smoke, "0") != 0, kill ? atoll(kill) : 0};
    sbert_train_result res;
    sbert_status st = sbert_train_run(r, &opt, &res);
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

size_t sbert_train_help(char *buf, size_t cap) {
    char one[1];
    return buf && cap ? sbert_train_args_help(buf, cap) : sbert_train_args_help(one, sizeof one);
}
