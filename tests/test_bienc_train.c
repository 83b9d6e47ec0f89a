/*
 * tests/test_bienc_train.c -- 20 training steps with the losses of issue 10
 * against sentence-transformers 6.2.0 (tests/data/bienc/train/, made by
 * tools/gen_bienc_train_refs.py): tiny-bert with dropout 0, the same batches
 * in the same order, AdamW + linear warmup + clipping as the Hugging Face
 * Trainer. Each step goes through the trainer's own step code
 * (sbert_trainer_micro_step: train_step.c, adaptive_step.c) and the grouped
 * optimizer step, so the loss specs, gradient caching, the guide model and
 * the earlier-layer re-pooling are what is checked:
 *   MatryoshkaLoss(MNRL), MatryoshkaLoss(CachedMNRL), GISTEmbedLoss (guide
 *   all-MiniLM-L6-v2), BatchHardTripletLoss, AdaptiveLayerLoss(MNRL),
 *   Matryoshka2dLoss(MNRL), and MNRL with per-column prompts under a Pooling
 *   with include_prompt false (each column its own prompt length: the
 *   step's per-column units), and SoftmaxLoss, whose classifier is the
 *   loss's own parameter: stepped by AdamW with the model but left out of
 *   the gradient norm and the clipping (the Trainer clips model.parameters()
 *   only), started from Python's initial values ("state_init") and compared
 *   after the last step ("state_tensors").
 * Per step: the loss (1e-4 relative) and the gradient norm before clipping
 * (1e-3 relative); after the last step, five weight tensors (1e-4 absolute).
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <sys/stat.h>

#include "test_fs.h"
#include "test_train_setup.h"
#include "io/file.h"
#include "test_util.h"
#include "training/trainer_internal.h"

typedef struct {
    const cJSON *params;
} keys_ctx;
static const char *get_key(void *ctx, const char *key) {
    const cJSON *v = cJSON_GetObjectItem(((keys_ctx *)ctx)->params, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}
static const char *origin_key(void *ctx, const char *key) { return "ref.json"; }

static void run_case(const char *name) {
    char dir[512], refp[600], datap[600];
    snprintf(dir, sizeof dir, "%s", test_path("tests/data/bienc/train"));
    snprintf(refp, sizeof refp, "%s/%s/ref.json", dir, name);
    snprintf(datap, sizeof datap, "%s/%s/data.jsonl", dir, name);
    if (!TEST_REQUIRE_FILE(refp, "run tools/gen_bienc_train_refs.py")) return;
    cJSON *ref = NULL;
    (void)sbert_json_load(refp, &ref); /* ref stays NULL on failure */
    CHECK(ref != NULL, "%s: ref.json parses", name);
    if (!ref) return;
    char tmp[] = "/tmp/sbert_bienc_train_XXXXXX";
    CHECK(mkdtemp(tmp) != NULL, "mkdtemp");
    test_copy_tiny_bert(tmp);
    char overlay[600];
    snprintf(overlay, sizeof overlay, "%s/%s", dir, name);
    test_copy_tree(overlay, tmp);

    sbert_train_args *a = calloc(1, sizeof *a);
    sbert_trainer *t = calloc(1, sizeof *t);
    keys_ctx kc = {cJSON_GetObjectItem(ref, "params")};
    sbert_loss_keys keys = {get_key, origin_key, &kc};
    CHECK_OK(sbert_loss_spec_parse(cJSON_GetObjectItem(ref, "loss")->valuestring, name, 1u, &keys, &a->losses[0]));
    a->n_losses = 1;
    if (!test_train_setup(t, a, ref, tmp)) goto out;
    if (a->losses[0].def->needs & SBERT_LOSS_NEEDS_GUIDE) {
        const char *g = test_path("models/all-MiniLM-L6-v2");
        if (!TEST_REQUIRE_FILE(g, TEST_FETCH_MODELS)) goto out;
        CHECK_OK(sbert_model_load(g, NULL, &t->guide));
    }
    t->losses = calloc(1, sizeof *t->losses);
    t->losses[0].spec = &a->losses[0];
    t->n_losses = 1;
    sbert_train_set *s = test_train_one_set(t, datap);
    if (!s) goto out;
    const cJSON *state_init = cJSON_GetObjectItem(ref, "state_init");
    if (state_init) {
        /* the loss's own parameters, from Python's initial values */
        sbert_train_loss *L = &t->losses[0];
        sbert_rng init;
        sbert_rng_seed(&init, 1);
        CHECK_OK(sbert_loss_state_create(L->spec->def, &L->spec->values, sbert_model_dim(t->model), 3, &init,
                                         &L->state));
        if (!L->state) goto out;
        for (size_t r = 0; r < sbert_params_count(L->state->params); r++) {
            sbert_param *p = sbert_params_at(L->state->params, r);
            const cJSON *vals = cJSON_GetObjectItem(state_init, p->name);
            CHECK(cJSON_GetArraySize(vals) == (int)p->numel, "%s: state %s has %zu values, reference %d", name,
                  p->name, p->numel, cJSON_GetArraySize(vals));
            for (size_t i = 0; i < p->numel && i < (size_t)cJSON_GetArraySize(vals); i++)
                p->data[i] = (float)cJSON_GetArrayItem(vals, (int)i)->valuedouble;
        }
        CHECK_OK(sbert_optimizer_init(&L->state_opt, L->state->params));
    }
    const cJSON *prompts = cJSON_GetObjectItem(ref, "prompts");
    for (size_t c = 0; c < s->n_inputs; c++) {
        const sbert_column *col = &s->ds->cols[sbert_dataset_input_column(s->ds, c)];
        const cJSON *p = cJSON_GetObjectItem(prompts, col->name);
        if (cJSON_IsString(p)) {
            s->prompts[c] = strdup(p->valuestring);
            CHECK_OK(sbert_model_prompt_length(t->model, s->prompts[c], &s->prompt_len[c]));
            /* "query: " leaves [CLS] query : out of pooling, "search document: " 4 tokens: two
             * prompt lengths, so the step embeds the columns one by one (units) */
            CHECK(s->prompt_len[c] == (c == 0 ? 3u : 4u), "%s: prompt '%s' is %zu tokens", name, s->prompts[c],
                  s->prompt_len[c]);
        }
        CHECK_OK(sbert_model_tokenize_column(t->model, s->prompts[c], (const char *const *)col->text, s->ds->n_rows,
                                             &s->cols[c]));
    }
    const size_t B = (size_t)cJSON_GetObjectItem(ref, "batch")->valueint;
    const int64_t steps = cJSON_GetObjectItem(ref, "steps")->valueint, warmup = cJSON_GetObjectItem(ref, "warmup")->valueint;
    const double lr = cJSON_GetObjectItem(ref, "lr")->valuedouble;
    double worst_loss = 0, worst_norm = 0;
    for (int64_t step = 0; step < steps; step++) {
        size_t rows[64];
        for (size_t i = 0; i < B; i++) rows[i] = (size_t)step * B + i;
        double loss = 0;
        sbert_status st = sbert_trainer_micro_step(t, rows, B, 1.0, &loss);
        CHECK(st == SBERT_OK, "%s step %lld: %s", name, (long long)step, sbert_last_error());
        if (st != SBERT_OK) break;
        double norm = sbert_train_optimizer_step(t, lr * sbert_lr_lambda(SBERT_SCHED_LINEAR, step, warmup, steps));
        test_check_step(name, step, loss, norm, ref, &worst_loss, &worst_norm);
    }
    double worst_w = test_ref_tensors_err(name, cJSON_GetObjectItem(ref, "tensors"), t->params, "0."), moved = 0;
    CHECK(worst_w <= 1e-4, "%s: weights after %lld steps differ by %.2e", name, (long long)steps, worst_w);
    if (t->losses[0].state) {
        double worst_s = test_ref_tensors_err(name, cJSON_GetObjectItem(ref, "state_tensors"), t->losses[0].state->params, "");
        CHECK(worst_s <= 1e-4, "%s: the loss's own parameters after %lld steps differ by %.2e", name, (long long)steps,
              worst_s);
        printf("%-18s the loss's own parameters after %lld steps: abs err <= %.2e\n", name, (long long)steps, worst_s);
    }
    /* the steps moved the weights (a loss with zero gradient would pass the rest) */
    {
        sbert_model *fresh = NULL;
        CHECK_OK(sbert_model_load(tmp, NULL, &fresh));
        sbert_param_table *fp = NULL;
        if (fresh) CHECK_OK(sbert_model_params(fresh, &fp));
        for (size_t r = 0; fp && r < sbert_params_count(fp); r++) {
            const sbert_param *q = sbert_params_at_const(fp, r), *p = sbert_params_find(t->params, q->name);
            for (size_t i = 0; p && i < q->numel; i++) moved = fmax(moved, fabs(p->data[i] - q->data[i]));
        }
        sbert_model_free(fresh);
    }
    CHECK(moved > 1e-3, "%s: the weights moved (max change %.2e)", name, moved);
    printf("%-18s %lld steps: loss rel err <= %.2e, grad norm rel err <= %.2e, weights abs err <= %.2e (moved %.2e)\n",
           name, (long long)steps, worst_loss, worst_norm, worst_w, moved);
out:
    sbert_train_sets_free(t);
    sbert_optimizer_free(&t->opt);
    sbert_packed_free(&t->batch);
    sbert_model_free(t->model);
    free(t);
    free(a);
    cJSON_Delete(ref);
    test_rm_tree(tmp);
}

int main(void) {
    static const char *const cases[] = {"matryoshka_mnrl", "matryoshka_cached", "gist",           "batch_hard",
                                        "adaptive_mnrl",   "matryoshka2d",      "prompts_no_pool", "softmax_clip"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(cases[i]);
    return test_summary();
}
