/*
 * tests/test_train_setup.h -- the trainer state a step-parity test needs
 * (model, parameter table, AdamW with the reference's weight decay, the
 * dropout and loss generators), without a recipe: the tests then drive
 * sbert_trainer_micro_step and sbert_train_optimizer_step themselves.
 */
#ifndef SBERT_TEST_TRAIN_SETUP_H
#define SBERT_TEST_TRAIN_SETUP_H

#include <cjson/cJSON.h>

#include "test_fs.h"
#include "test_util.h"
#include "training/trainer_internal.h"

/* tests/data/models/tiny-bert's weights and tokenizer copied into dst (the
 * base under a reference overlay). 1 on success. */
static inline int test_copy_tiny_bert(const char *dst) {
    static const char *const base_files[] = {"config.json", "model.safetensors", "tokenizer.json",
                                             "tokenizer_config.json"};
    for (size_t i = 0; i < 4; i++) {
        char s[1024], t[1024];
        snprintf(s, sizeof s, "%s/%s", test_path("tests/data/models/tiny-bert"), base_files[i]);
        snprintf(t, sizeof t, "%s/%s", dst, base_files[i]);
        if (!test_copy_file(s, t)) {
            CHECK(0, "copy %s", s);
            return 0;
        }
    }
    return 1;
}

/* The parameter table and optimizer of t->model, weight_decay from ref.json,
 * the dropout and loss generators. */
static inline void test_train_optimizer_setup(sbert_trainer *t, const cJSON *ref) {
    CHECK_OK(sbert_model_params(t->model, &t->params));
    CHECK_OK(sbert_optimizer_init(&t->opt, t->params));
    t->adam = sbert_adamw_config_default();
    t->adam.weight_decay = cJSON_GetObjectItem(ref, "weight_decay")->valuedouble;
    sbert_rng_seed(&t->dropout_rng, 1);
    sbert_rng_seed(&t->loss_rng, 2);
}

/* The one training set of t: datap loaded, its columns counted, the
 * per-column arrays allocated (the caller tokenizes). NULL on failure. */
static inline sbert_train_set *test_train_one_set(sbert_trainer *t, const char *datap) {
    t->sets = calloc(1, sizeof *t->sets);
    t->n_sets = 1;
    sbert_train_set *s = &t->sets[0];
    CHECK_OK(sbert_dataset_load(datap, &s->ds));
    if (!s->ds) return NULL;
    s->n_inputs = sbert_dataset_n_inputs(s->ds);
    s->label_col = sbert_dataset_label_column(s->ds);
    s->label_width = s->label_col >= 0 ? 1 : 0;
    s->cols = calloc(s->n_inputs, sizeof *s->cols);
    s->prompts = calloc(s->n_inputs, sizeof *s->prompts);
    s->prompt_len = calloc(s->n_inputs, sizeof *s->prompt_len);
    return s;
}

/* t->a = a; a's max_grad_norm from ref.json; the model of `dir` with its
 * parameters and optimizer (test_train_optimizer_setup). 1 on success. */
static inline int test_train_setup(sbert_trainer *t, sbert_train_args *a, const cJSON *ref, const char *dir) {
    a->max_grad_norm = cJSON_GetObjectItem(ref, "max_grad_norm")->valuedouble;
    a->eval_batch_size = 32;
    t->a = a;
    CHECK_OK(sbert_model_load(dir, NULL, &t->model));
    if (!t->model) return 0;
    test_train_optimizer_setup(t, ref);
    return 1;
}

/* Step `step` against ref.json's "losses" (1e-4 relative) and "grad_norms"
 * (1e-3 relative); the worst errors so far in *worst_loss, *worst_norm. */
static inline void test_check_step(const char *name, int64_t step, double loss, double norm, const cJSON *ref,
                                   double *worst_loss, double *worst_norm) {
    double wl = cJSON_GetArrayItem(cJSON_GetObjectItem(ref, "losses"), (int)step)->valuedouble;
    double wn = cJSON_GetArrayItem(cJSON_GetObjectItem(ref, "grad_norms"), (int)step)->valuedouble;
    double el = fabs(loss - wl) / fmax(fabs(wl), 1e-6), en = fabs(norm - wn) / fmax(fabs(wn), 1e-6);
    CHECK(el <= 1e-4, "%s step %lld: loss %.9g, sentence-transformers %.9g (rel %.2e)", name, (long long)step, loss,
          wl, el);
    CHECK(en <= 1e-3, "%s step %lld: grad norm %.9g, sentence-transformers %.9g (rel %.2e)", name, (long long)step,
          norm, wn, en);
    *worst_loss = test_max_err(*worst_loss, el);
    *worst_norm = test_max_err(*worst_norm, en);
}

/* The largest |difference| between the {name: {"values": [...]}} tensors of
 * `tensors` and the rows "<prefix><name>" of table p (a missing row fails). */
static inline double test_ref_tensors_err(const char *what, const cJSON *tensors, sbert_param_table *p,
                                          const char *prefix) {
    double worst = 0;
    const cJSON *ten;
    cJSON_ArrayForEach(ten, tensors) {
        char pname[256];
        snprintf(pname, sizeof pname, "%s%s", prefix, ten->string);
        sbert_param *q = sbert_params_find(p, pname);
        CHECK(q != NULL, "%s: parameter %s", what, pname);
        const cJSON *vals = cJSON_GetObjectItem(ten, "values");
        CHECK(!q || (size_t)cJSON_GetArraySize(vals) == q->numel, "%s: %s size", what, pname);
        for (size_t i = 0; q && i < q->numel && i < (size_t)cJSON_GetArraySize(vals); i++)
            worst = test_max_err(worst, fabs(q->data[i] - cJSON_GetArrayItem(vals, (int)i)->valuedouble));
    }
    return worst;
}

#endif
