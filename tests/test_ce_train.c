/*
 * tests/test_ce_train.c -- training a CrossEncoder matches sentence-transformers
 * 6.2 + PyTorch step for step (tools/gen_ce_train_refs.py).
 *
 * Each case rebuilds a reference CrossEncoder folder (tests/test_ce_util.h),
 * overlays its config.json with every dropout at 0, and runs the same steps
 * as the Python loop through sbert's CrossEncoder step
 * (training/train_step_cross.c: the pairs of the loss, one training forward
 * or gradient-cached chunks, the loss from the loss table, backward) and
 * AdamW over the parameter table (clip 1.0, linear warmup, weight decay 0.01
 * on the Hugging Face decay names), on consecutive rows of the case's data:
 *   bce     BinaryCrossEntropyLoss(pos_weight 3), tiny BERT, 20 steps
 *   lambda  LambdaLoss (NDCGLoss2++), ragged lists of 2-6 documents, tiny
 *           BERT, 20 steps, logits in gradient-cached chunks of 7 pairs
 *   mnrl    MultipleNegativesRankingLoss (all in-batch negatives), 6 steps
 *   nli     CrossEntropyLoss, 3 labels, tiny RoBERTa, 6 steps
 *   margin  MarginMSELoss from teacher scores, tiny DistilBERT, 6 steps
 * Checked: the loss of every step (1e-4 relative), the gradient norm
 * (1e-3 relative), the head and a few encoder tensors of the saved model
 * (1e-4 max abs), the eval-mode logits of the last batch's pairs (1e-4).
 *
 * LambdaLoss depends on score differences only, so the gradient of the last
 * bias (a shift of every logit) is 0 in exact arithmetic; torch's fp32 sum
 * leaves ~1e-9 of rounding there, which AdamW (eps 1e-8) turns into steps
 * of up to lr. That bias is therefore only held to AdamW's bound (lr per
 * step), and the logits are compared up to one common shift.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "io/safetensors.h"
#include "losses/loss.h"
#include "models/cross_encoder.h"
#include "test_ce_util.h"
#include "test_util.h"
#include "training/ce_train.h"
#include "training/optimizer.h"

static const char *const CASES[] = {"bce", "lambda", "mnrl", "nli", "margin"};

static void run_case(const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "tests/data/cross_encoder/train/%s/ref.json", name);
    const char *rp = test_path(rel);
    if (!TEST_REQUIRE_FILE(rp, "run tools/gen_ce_train_refs.py")) return;
    cJSON *ref = NULL;
    CHECK_OK(sbert_json_load(rp, &ref));
    const char *model_name = cJSON_GetObjectItem(ref, "model")->valuestring;
    cJSON *mref = ce_ref(model_name);
    const char *dir = ce_tmpdir("train");
    sbert_model *m = NULL;
    sbert_dataset *ds = NULL;
    sbert_ce_train *ct = NULL;
    sbert_optimizer opt;
    memset(&opt, 0, sizeof opt);
    if (!ref || !mref || !dir || !ce_build_folder(model_name, mref, dir)) goto out;
    char src[512], dst[4200];
    snprintf(src, sizeof src, "tests/data/cross_encoder/train/%s/config.json", name);
    snprintf(dst, sizeof dst, "%s/config.json", dir);
    CHECK(ce_copy(test_path(src), dst), "%s: overlay config.json", name);
    /* The ranking losses need Identity (the Sigmoid trap check); predict's activation does not enter training. */
    sbert_cross_encoder_options lo = sbert_cross_encoder_options_default();
    const char *loss_name = cJSON_GetObjectItem(ref, "loss")->valuestring;
    if (!strcmp(loss_name, "LambdaLoss") || !strcmp(loss_name, "MarginMSELoss")) lo.activation_fn = "Identity";
    CHECK_OK(sbert_cross_encoder_load(dir, &lo, &m));
    snprintf(src, sizeof src, "tests/data/cross_encoder/train/%s/data.jsonl", name);
    CHECK_OK(sbert_dataset_load(test_path(src), &ds));
    if (!m || !ds) goto out;
    const sbert_loss_def *def = sbert_loss_find_kind(loss_name, SBERT_KIND_CROSS_ENCODER);
    sbert_loss_values v;
    memset(&v, 0, sizeof v);
    const cJSON *params = cJSON_GetObjectItem(ref, "params");
    for (size_t k = 0; k < def->n_params; k++) {
        const cJSON *s = cJSON_GetObjectItem(params, def->params[k].key);
        CHECK_OK(sbert_loss_param_parse(def, k, s ? s->valuestring : def->params[k].def, "test", &v));
    }
    sbert_ce_train_config cc = {def, &v, (size_t)cJSON_GetObjectItem(ref, "chunk")->valueint, 0, "test"};
    CHECK_OK(sbert_ce_train_prepare(m, ds, &cc, &ct));
    sbert_param_table *pt = NULL;
    CHECK_OK(sbert_model_params(m, &pt));
    CHECK_OK(sbert_optimizer_init(&opt, pt));
    if (!ct || !pt) goto out;
    sbert_adamw_config cfg = sbert_adamw_config_default();
    cfg.weight_decay = cJSON_GetObjectItem(ref, "weight_decay")->valuedouble;
    const size_t B = (size_t)cJSON_GetObjectItem(ref, "batch")->valueint;
    const int64_t steps = cJSON_GetObjectItem(ref, "steps")->valueint;
    const int64_t warmup = cJSON_GetObjectItem(ref, "warmup")->valueint;
    const double lr = cJSON_GetObjectItem(ref, "lr")->valuedouble;
    const cJSON *losses = cJSON_GetObjectItem(ref, "losses"), *norms = cJSON_GetObjectItem(ref, "grad_norms");
    sbert_rng rng;
    sbert_rng_seed(&rng, 42);
    size_t rows[64];
    double max_l = 0, max_n = 0;
    for (int64_t s = 0; s < steps; s++) {
        for (size_t i = 0; i < B; i++) rows[i] = (size_t)s * B + i;
        double loss = 0;
        CHECK_OK(sbert_ce_train_step(ct, rows, B, 1.0, &rng, &loss));
        double norm = sbert_optimizer_step(&opt, &cfg, lr * sbert_lr_lambda(SBERT_SCHED_LINEAR, s, warmup, steps), 1.0);
        double rl = cJSON_GetArrayItem(losses, (int)s)->valuedouble, rn = cJSON_GetArrayItem(norms, (int)s)->valuedouble;
        double el = fabs(loss - rl) / fmax(fabs(rl), 1e-6), en = fabs(norm - rn) / fmax(fabs(rn), 1e-6);
        CHECK(el <= 1e-4, "%s step %lld: loss %.8f, sentence-transformers %.8f (rel %.2e)", name, (long long)s, loss, rl,
              el);
        CHECK(en <= 1e-3, "%s step %lld: grad norm %.8f, reference %.8f (rel %.2e)", name, (long long)s, norm, rn, en);
        max_l = test_max_err(max_l, el);
        max_n = test_max_err(max_n, en);
    }
    /* The weights, as saved. */
    const char *saved = ce_tmpdir("trained");
    CHECK_OK(sbert_cross_encoder_save(m, saved));
    char sp[4200];
    snprintf(sp, sizeof sp, "%s/model.safetensors", saved);
    sbert_safetensors *st = NULL;
    CHECK_OK(sbert_st_open(sp, &st));
    double max_w = 0;
    size_t nt = 0;
    const int shift_free = !strcmp(loss_name, "LambdaLoss");
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItem(ref, "tensors")) {
        const sbert_st_tensor *x = st ? sbert_st_find(st, t->string) : NULL;
        CHECK(x != NULL, "%s: saved model has no tensor %s", name, t->string);
        if (!x) continue;
        size_t n = (size_t)cJSON_GetArraySize(t);
        float *buf = malloc(n * sizeof *buf);
        CHECK_OK(sbert_st_read_f32(st, t->string, NULL, 0, buf));
        double e = 0;
        for (size_t i = 0; i < n; i++) e = test_max_err(e, fabs(buf[i] - cJSON_GetArrayItem(t, (int)i)->valuedouble));
        if (shift_free && strstr(t->string, "classifier") && strstr(t->string, "bias") && n == 1) {
            CHECK(e <= lr * (double)steps, "%s: %s differs by %.3g, more than AdamW can move it", name, t->string, e);
            free(buf);
            continue;
        }
        CHECK(e <= 1e-4, "%s: %s differs by %.3g after training", name, t->string, e);
        max_w = test_max_err(max_w, e);
        free(buf);
        nt++;
    }
    CHECK(nt >= 4, "%s: only %zu tensors compared", name, nt);
    sbert_st_close(st);
    sbert_rm_rf(saved);
    /* eval-mode logits of the last batch's pairs */
    const cJSON *pairs = cJSON_GetObjectItem(ref, "pairs"), *pred = cJSON_GetObjectItem(ref, "predict");
    size_t np = (size_t)cJSON_GetArraySize(pairs), L = sbert_cross_encoder_num_labels(m);
    const char **qa = malloc(np * sizeof *qa), **da = malloc(np * sizeof *da);
    float *out = malloc(np * L * sizeof *out);
    for (size_t i = 0; i < np; i++) {
        qa[i] = cJSON_GetArrayItem(cJSON_GetArrayItem(pairs, (int)i), 0)->valuestring;
        da[i] = cJSON_GetArrayItem(cJSON_GetArrayItem(pairs, (int)i), 1)->valuestring;
    }
    CHECK_OK(sbert_cross_encoder_logits(m, qa, da, np, 32, out));
    double max_p = 0;
    for (size_t i = 0; i < np; i++)
        for (size_t j = 0; j < L; j++) {
            const cJSON *r = cJSON_GetArrayItem(pred, (int)i);
            double w = cJSON_IsArray(r) ? cJSON_GetArrayItem(r, (int)j)->valuedouble : r->valuedouble;
            double w0 = cJSON_IsArray(cJSON_GetArrayItem(pred, 0)) ? 0 : cJSON_GetArrayItem(pred, 0)->valuedouble;
            double d = shift_free ? (out[i * L + j] - out[0]) - (w - w0) : out[i * L + j] - w;
            max_p = test_max_err(max_p, fabs(d));
        }
    CHECK(max_p <= 1e-4, "%s: logits after training differ by %.3g", name, max_p);
    printf("%-7s %lld steps: max rel loss err %.2e, grad norm %.2e; weights %.2e; logits %.2e\n", name,
           (long long)steps, max_l, max_n, max_w, max_p);
    free(qa);
    free(da);
    free(out);
out:
    sbert_ce_train_free(ct);
    sbert_optimizer_free(&opt);
    sbert_dataset_free(ds);
    sbert_model_free(m);
    if (dir) sbert_rm_rf(dir);
    cJSON_Delete(mref);
    cJSON_Delete(ref);
}

int main(void) {
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) run_case(CASES[i]);
    return test_summary();
}
