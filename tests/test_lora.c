/*
 * tests/test_lora.c -- LoRA adapters against PEFT + sentence-transformers
 * (tests/data/lora/, tools/gen_lora_refs.py).
 *
 *  1. PEFT adapters (all-MiniLM-L6-v2: query, value and the three dense
 *     layers; tiny-bert: key, intermediate.dense, use_rslora, the pooler as
 *     modules_to_save) loaded onto the base model give the embeddings
 *     sentence-transformers + peft give (<= 1e-5); saved again they are
 *     PEFT's files (same tensor names and values, the config's r, alpha,
 *     targets); the saved model directory (adapter only, no model.safetensors)
 *     loads with sbert_model_load and encodes the same;
 *  2. merging: the merged weights equal peft's merge_and_unload (<= 1e-6), the
 *     merged model encodes like the adapter (<= 1e-5) and saves as a plain
 *     model;
 *  3. 20 training steps from PEFT's initial adapter (r 8, query/value), MNRL on
 *     fixed AllNLI batches, dropout off, AdamW 1e-3 / decay 0.01, clipping 1.0:
 *     loss and gradient norm of every step, the adapter tensors and the
 *     embeddings after training equal the PEFT loop's; the encoder's own
 *     weights do not move; only the adapter is trainable;
 *  4. bad input: target_modules that match nothing, modules_to_save inside
 *     the encoder, r = 0.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "io/safetensors.h"
#include "losses/losses.h"
#include "models/model.h"
#include "modules/lora.h"
#include "modules/transformer_module.h"
#include "test_util.h"
#include "training/optim.h"
#include "training/optimizer.h"

static cJSON *g_refs;
static char g_tmp[64];

static double emb_err(sbert_model *m, const cJSON *texts, const cJSON *ref) {
    size_t n = (size_t)cJSON_GetArraySize(texts);
    sbert_encode_options o = sbert_encode_options_default();
    size_t D = sbert_model_encode_dim(m, &o);
    const char **t = malloc(n * sizeof *t);
    for (size_t i = 0; i < n; i++)
        t[i] = cJSON_GetArrayItem(texts, (int)i)->valuestring;
    float *out = malloc(n * D * sizeof *out);
    double err = INFINITY;
    if (sbert_model_encode(m, t, n, &o, out) == SBERT_OK) {
        err = 0;
        for (size_t i = 0; i < n; i++) {
            const cJSON *row = cJSON_GetArrayItem(ref, (int)i);
            if ((size_t)cJSON_GetArraySize(row) != D) {
                err = INFINITY;
                break;
            }
            for (size_t j = 0; j < D; j++)
                err = test_max_err(err, fabs((double)out[i * D + j] - cJSON_GetArrayItem(row, (int)j)->valuedouble));
        }
    }
    free(t);
    free(out);
    return err;
}

static sbert_model *load_with_adapter(const char *base_rel, const char *adapter_rel) {
    char base[1024], ad[1024];
    snprintf(base, sizeof base, "%s", test_path(base_rel));
    snprintf(ad, sizeof ad, "%s", test_path(adapter_rel));
    sbert_model *m = NULL;
    if (sbert_model_load(base, NULL, &m) != SBERT_OK) {
        CHECK(0, "load %s: %s", base, sbert_last_error());
        return NULL;
    }
    sbert_status st = sbert_transformer_module_load_adapter(sbert_model_input(m), ad);
    CHECK(st == SBERT_OK, "load adapter %s: %s", ad, sbert_last_error());
    if (st != SBERT_OK) {
        sbert_model_free(m);
        return NULL;
    }
    return m;
}

/* Every tensor of file a equals file b's tensor of the same name (and the names are the same set). */
static void same_tensors(const char *tag, const char *a, const char *b) {
    sbert_safetensors *x = NULL, *y = NULL;
    CHECK_OK(sbert_st_open(a, &x));
    CHECK_OK(sbert_st_open(b, &y));
    if (!x || !y) {
        sbert_st_close(x);
        sbert_st_close(y);
        return;
    }
    CHECK(sbert_st_count(x) == sbert_st_count(y), "[%s] %zu tensors saved, PEFT's file has %zu", tag,
          sbert_st_count(x), sbert_st_count(y));
    size_t bad = 0;
    for (size_t i = 0; i < sbert_st_count(y); i++) {
        const sbert_st_tensor *t = sbert_st_at(y, i), *u = sbert_st_find(x, t->name);
        if (!u || u->ndim != t->ndim || memcmp(u->shape, t->shape, sizeof(int64_t) * (size_t)t->ndim) != 0) {
            bad++;
            if (bad < 3)
                fprintf(stderr, "[%s] tensor %s missing or reshaped\n", tag, t->name);
            continue;
        }
        size_t n = t->nbytes / 4;
        float *p = malloc(n * sizeof *p), *q = malloc(n * sizeof *q);
        sbert_st_read_f32(x, u->name, NULL, 0, p);
        sbert_st_read_f32(y, t->name, NULL, 0, q);
        bad += memcmp(p, q, n * sizeof *p) != 0;
        free(p);
        free(q);
    }
    CHECK(bad == 0, "[%s] %zu tensors differ from PEFT's adapter file", tag, bad);
    sbert_st_close(x);
    sbert_st_close(y);
}

static void test_adapters(void) {
    const cJSON *c;
    int n = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(g_refs, "adapters")) {
        const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
        const char *base_rel = cJSON_GetObjectItem(c, "base")->valuestring;
        const char *dir_rel = cJSON_GetObjectItem(c, "dir")->valuestring;
        char probe[1200];
        snprintf(probe, sizeof probe, "%s/config.json", test_path(base_rel));
        if (!TEST_REQUIRE_FILE(probe, TEST_FETCH_MODELS))
            continue;
        sbert_model *m = load_with_adapter(base_rel, dir_rel);
        if (!m)
            continue;
        const cJSON *texts = cJSON_GetObjectItem(c, "texts"), *ref = cJSON_GetObjectItem(c, "embeddings");
        double e = emb_err(m, texts, ref);
        CHECK(e <= 1e-5, "[%s] embeddings with the adapter within 1e-5 of sentence-transformers + peft (%.3g)", name,
              e);
        printf("[%s] adapter embeddings: max |sbert - ST+peft| = %.3g\n", name, e);
        /* save: PEFT's files, no model.safetensors; loads again */
        char out[256], path[512], ref_path[1200];
        snprintf(out, sizeof out, "%s/%s", g_tmp, name);
        CHECK_OK(sbert_model_save(m, out));
        snprintf(path, sizeof path, "%s/model.safetensors", out);
        CHECK(access(path, F_OK) != 0, "[%s] the saved Transformer holds the adapter only", name);
        snprintf(path, sizeof path, "%s/adapter_model.safetensors", out);
        snprintf(ref_path, sizeof ref_path, "%s/adapter_model.safetensors", test_path(dir_rel));
        same_tensors(name, path, ref_path);
        snprintf(path, sizeof path, "%s/adapter_config.json", out);
        size_t len;
        char *txt = test_read_file(path, &len);
        cJSON *cfg = txt ? cJSON_Parse(txt) : NULL;
        free(txt);
        snprintf(ref_path, sizeof ref_path, "%s/adapter_config.json", test_path(dir_rel));
        txt = test_read_file(ref_path, &len);
        cJSON *want = txt ? cJSON_Parse(txt) : NULL;
        free(txt);
        static const char *const keys[] = {"r", "lora_alpha", "peft_type", "task_type", "use_rslora", "lora_dropout",
                                           "bias"};
        for (int k = 0; cfg && want && k < 7; k++) {
            char *a = cJSON_PrintUnformatted(cJSON_GetObjectItem(cfg, keys[k]));
            char *b = cJSON_PrintUnformatted(cJSON_GetObjectItem(want, keys[k]));
            CHECK(a && b && strcmp(a, b) == 0, "[%s] adapter_config.json %s: %s, PEFT %s", name, keys[k], a ? a : "-",
                  b ? b : "-");
            free(a);
            free(b);
        }
        /* target_modules: every PEFT target is one of sbert's (sbert writes the module names it adapted) */
        const cJSON *tw;
        int all = cfg && want;
        const cJSON *want_tm = want ? cJSON_GetObjectItem(want, "target_modules") : NULL;
        cJSON_ArrayForEach(tw, want_tm) {
            int hit = 0;
            const cJSON *tg;
            cJSON_ArrayForEach(tg, cJSON_GetObjectItem(cfg, "target_modules")) {
                size_t a = strlen(tg->valuestring), b = strlen(tw->valuestring);
                hit |= a >= b && strcmp(tg->valuestring + a - b, tw->valuestring) == 0;
            }
            all &= hit;
        }
        CHECK(all, "[%s] the saved target_modules cover PEFT's", name);
        cJSON_Delete(cfg);
        cJSON_Delete(want);
        sbert_model *m2 = NULL;
        CHECK_OK(sbert_model_load(out, NULL, &m2));
        if (m2) {
            double e2 = emb_err(m2, texts, ref);
            CHECK(e2 <= 1e-5, "[%s] the saved adapter model reloads (embeddings within %.3g)", name, e2);
            sbert_model_free(m2);
        }
        /* merge */
        CHECK_OK(sbert_transformer_module_merge_lora(sbert_model_input(m)));
        const cJSON *mt;
        sbert_param_table *pt = NULL;
        CHECK_OK(sbert_model_params(m, &pt));
        double merr = 0;
        int nm = 0;
        cJSON_ArrayForEach(mt, cJSON_GetObjectItem(c, "merged")) {
            char pn[300];
            snprintf(pn, sizeof pn, "0.%s", mt->string);
            const sbert_param *p = pt ? sbert_params_find(pt, pn) : NULL;
            if (!p) {
                /* outside the encoder (the pooler): checked through the save below */
                continue;
            }
            for (int k = 0; k < cJSON_GetArraySize(mt); k++)
                merr = test_max_err(merr, fabs((double)p->data[k] - cJSON_GetArrayItem(mt, k)->valuedouble));
            nm++;
        }
        CHECK(nm >= 1 && merr <= 1e-6, "[%s] merged weights within 1e-6 of merge_and_unload (%d tensors, %.3g)", name,
              nm, merr);
        double e3 = emb_err(m, texts, ref);
        CHECK(e3 <= 1e-5, "[%s] the merged model encodes like the adapter (%.3g)", name, e3);
        snprintf(out, sizeof out, "%s/%s-merged", g_tmp, name);
        CHECK_OK(sbert_model_save(m, out));
        snprintf(path, sizeof path, "%s/adapter_config.json", out);
        CHECK(access(path, F_OK) != 0, "[%s] the merged model is a plain model", name);
        CHECK_OK(sbert_model_load(out, NULL, &m2));
        if (m2) {
            double e4 = emb_err(m2, texts, ref);
            CHECK(e4 <= 1e-5, "[%s] the saved merged model encodes like the adapter (%.3g)", name, e4);
            sbert_model_free(m2);
        }
        sbert_model_free(m);
        n++;
    }
    CHECK(n == 2, "%d adapters checked", n);
}

static void test_train(void) {
    const cJSON *tr = cJSON_GetObjectItem(g_refs, "train");
    if (TEST_SANITIZED) {
        test_skip("20 LoRA steps on MiniLM (slow under the sanitizers)");
        return;
    }
    sbert_model *m = load_with_adapter(cJSON_GetObjectItem(tr, "base")->valuestring,
                                       cJSON_GetObjectItem(tr, "init")->valuestring);
    if (!m)
        return;
    sbert_param_table *pt = NULL;
    sbert_optimizer opt;
    CHECK_OK(sbert_model_params(m, &pt));
    CHECK_OK(sbert_optimizer_init(&opt, pt));
    size_t trainable = sbert_params_trainable_numel(pt);
    CHECK(trainable == (size_t)cJSON_GetObjectItem(tr, "trainable")->valueint,
          "trainable floats %zu, PEFT's %d (the adapter only)", trainable, cJSON_GetObjectItem(tr, "trainable")->valueint);
    printf("LoRA r8 query/value on MiniLM: %zu of %zu parameters trainable (%.3f%%)\n", trainable,
           sbert_params_numel(pt), 100.0 * (double)trainable / (double)sbert_params_numel(pt));
    /* a checksum of the frozen encoder */
    const sbert_param *qw = sbert_params_find(pt, "0.encoder.layer.0.attention.self.query.weight");
    double before = 0;
    for (size_t i = 0; qw && i < qw->numel; i++)
        before += qw->data[i] * (double)(i % 7 + 1);
    sbert_adamw_config cfg = sbert_adamw_config_default();
    cfg.weight_decay = cJSON_GetObjectItem(tr, "weight_decay")->valuedouble;
    const double lr = cJSON_GetObjectItem(tr, "lr")->valuedouble;
    const cJSON *batches = cJSON_GetObjectItem(tr, "batches"), *losses = cJSON_GetObjectItem(tr, "losses"),
                *norms = cJSON_GetObjectItem(tr, "grad_norms");
    const size_t D = sbert_model_full_dim(m);
    double max_l = 0, max_n = 0;
    int steps = cJSON_GetArraySize(batches);
    for (int s = 0; s < steps; s++) {
        const cJSON *b = cJSON_GetArrayItem(batches, s);
        size_t B = (size_t)cJSON_GetArraySize(cJSON_GetArrayItem(b, 0));
        sbert_packed cols[2], batch;
        memset(cols, 0, sizeof cols);
        memset(&batch, 0, sizeof batch);
        for (int c = 0; c < 2; c++) {
            const char *texts[64];
            for (size_t i = 0; i < B; i++)
                texts[i] = cJSON_GetArrayItem(cJSON_GetArrayItem(b, c), (int)i)->valuestring;
            CHECK_OK(sbert_model_tokenize_column(m, NULL, texts, B, &cols[c]));
        }
        size_t rows[64];
        for (size_t i = 0; i < B; i++)
            rows[i] = i;
        const sbert_packed *src[2] = {&cols[0], &cols[1]};
        CHECK_OK(sbert_packed_gather(&batch, src, 2, rows, B));
        float *out = malloc(2 * B * D * sizeof *out), *g = calloc(2 * B * D, sizeof *g);
        CHECK_OK(sbert_model_forward_train(m, &batch, NULL, out)); /* rng NULL: dropout off */
        const float *cp[2] = {out, out + B * D};
        float *gp[2] = {g, g + B * D};
        double loss = 0;
        CHECK_OK(sbert_loss_mnrl(cp, 2, B, D, 20.0, SBERT_SIM_COSINE, gp, &loss));
        CHECK_OK(sbert_model_backward(m, g));
        double norm = sbert_optimizer_step(&opt, &cfg, lr, 1.0);
        double rl = cJSON_GetArrayItem(losses, s)->valuedouble, rn = cJSON_GetArrayItem(norms, s)->valuedouble;
        double el = fabs(loss - rl) / fmax(fabs(rl), 1e-6), en = fabs(norm - rn) / fmax(fabs(rn), 1e-6);
        CHECK(el <= 1e-3 || fabs(loss - rl) <= 2e-6, "step %d: loss %.8f, PEFT %.8f", s, loss, rl);
        CHECK(en <= 2e-3 || fabs(norm - rn) <= 1e-6, "step %d: grad norm %.8f, PEFT %.8f", s, norm, rn);
        max_l = test_max_err(max_l, fabs(loss - rl));
        max_n = test_max_err(max_n, en);
        free(out);
        free(g);
        sbert_packed_free(&cols[0]);
        sbert_packed_free(&cols[1]);
        sbert_packed_free(&batch);
    }
    printf("20 LoRA steps vs the PEFT loop: max |loss diff| %.3g, max grad-norm rel diff %.3g\n", max_l, max_n);
    double after = 0;
    for (size_t i = 0; qw && i < qw->numel; i++)
        after += qw->data[i] * (double)(i % 7 + 1);
    CHECK(qw && before == after, "the frozen encoder did not move");
    const cJSON *t;
    double terr = 0;
    cJSON_ArrayForEach(t, cJSON_GetObjectItem(tr, "tensors")) {
        char pn[300];
        snprintf(pn, sizeof pn, "0.%s", t->string);
        const sbert_param *p = sbert_params_find(pt, pn);
        CHECK(p != NULL, "adapter tensor %s", pn);
        for (int k = 0; p && k < cJSON_GetArraySize(t); k++)
            terr = test_max_err(terr, fabs((double)p->data[k] - cJSON_GetArrayItem(t, k)->valuedouble));
    }
    CHECK(terr <= 1e-4, "adapter tensors after 20 steps within 1e-4 of PEFT's (%.3g)", terr);
    double e = emb_err(m, cJSON_GetObjectItem(tr, "texts"), cJSON_GetObjectItem(tr, "embeddings"));
    CHECK(e <= 1e-4, "embeddings after 20 steps within 1e-4 of PEFT's (%.3g)", e);
    printf("after 20 steps: adapter tensors max err %.3g, embeddings max err %.3g\n", terr, e);
    sbert_optimizer_free(&opt);
    sbert_model_free(m);
}

static void test_errors(void) {
    sbert_model *m = NULL;
    char base[1024];
    snprintf(base, sizeof base, "%s", test_path("tests/data/models/tiny-bert"));
    CHECK_OK(sbert_model_load(base, NULL, &m));
    if (!m)
        return;
    sbert_lora_config c = sbert_lora_config_default();
    c.target_modules = "query,qery";
    CHECK(sbert_transformer_module_add_lora(sbert_model_input(m), &c) == SBERT_ERR_INVALID_ARG &&
              strstr(sbert_last_error(), "'qery' matches no linear layer") &&
              strstr(sbert_last_error(), "attention.self.query"),
          "a target that matches nothing: %s", sbert_last_error());
    c.target_modules = "query";
    c.modules_to_save = "LayerNorm";
    CHECK(sbert_transformer_module_add_lora(sbert_model_input(m), &c) == SBERT_ERR_UNSUPPORTED &&
              strstr(sbert_last_error(), "inside the encoder"),
          "modules_to_save inside the encoder: %s", sbert_last_error());
    c.modules_to_save = "poolr";
    CHECK(sbert_transformer_module_add_lora(sbert_model_input(m), &c) == SBERT_ERR_INVALID_ARG &&
              strstr(sbert_last_error(), "'poolr' matches no module"),
          "modules_to_save that matches nothing: %s", sbert_last_error());
    c.modules_to_save = NULL;
    c.r = 0;
    CHECK(sbert_transformer_module_add_lora(sbert_model_input(m), &c) == SBERT_ERR_INVALID_ARG, "r = 0: %s",
          sbert_last_error());
    c.r = 4;
    c.target_modules = "all-linear";
    CHECK_OK(sbert_transformer_module_add_lora(sbert_model_input(m), &c));
    sbert_lora *l = sbert_transformer_module_lora(sbert_model_input(m));
    CHECK(l && sbert_lora_n_modules(l) == 2 * 6, "all-linear adapts the 6 linear layers of each of 2 layers (%zu)",
          l ? sbert_lora_n_modules(l) : 0);
    CHECK(sbert_transformer_module_add_lora(sbert_model_input(m), &c) == SBERT_ERR_INVALID_ARG,
          "a second adapter is refused");
    sbert_model_free(m);
}

/* tiny-bert, every linear layer adapted, B random: the adapters' gradients
 * against central finite differences of a fixed linear function of the
 * output (dropout off); then a few steps with lora_dropout on, a save and a
 * reload. Runs under the sanitizers. */
static double probe_loss(sbert_model *m, const sbert_packed *b, const float *w, size_t n) {
    float *out = malloc(n * sizeof *out);
    double l = 0;
    if (sbert_model_forward_train(m, b, NULL, out) == SBERT_OK)
        for (size_t i = 0; i < n; i++) l += (double)out[i] * w[i];
    sbert_model_release(m);
    free(out);
    return l;
}

static void test_tiny_grad(void) {
    char base[1024];
    snprintf(base, sizeof base, "%s", test_path("tests/data/models/tiny-bert"));
    sbert_model *m = NULL;
    CHECK_OK(sbert_model_load(base, NULL, &m));
    if (!m) return;
    sbert_lora_config c = sbert_lora_config_default();
    c.r = 3;
    c.alpha = 5;
    c.target_modules = "all-linear";
    c.modules_to_save = "pooler";
    CHECK_OK(sbert_transformer_module_add_lora(sbert_model_input(m), &c));
    sbert_param_table *pt = NULL;
    CHECK_OK(sbert_model_params(m, &pt));
    if (!pt) {
        sbert_model_free(m);
        return;
    }
    sbert_rng r;
    sbert_rng_seed(&r, 7);
    for (size_t i = 0; i < sbert_params_count(pt); i++) {
        sbert_param *p = sbert_params_at(pt, i);
        if (strstr(p->name, "lora_B"))
            for (size_t k = 0; k < p->numel; k++) p->data[k] = 0.2f * (float)sbert_rng_normal(&r);
    }
    const char *texts[] = {"a man plays a guitar", "the cat sat", "hello world again and again"};
    sbert_packed b;
    memset(&b, 0, sizeof b);
    CHECK_OK(sbert_model_tokenize_column(m, NULL, texts, 3, &b));
    size_t D = sbert_model_full_dim(m), n = 3 * D;
    float *w = malloc(n * sizeof *w), *out = malloc(n * sizeof *out);
    for (size_t i = 0; i < n; i++) w[i] = (float)sbert_rng_normal(&r);
    CHECK_OK(sbert_model_forward_train(m, &b, NULL, out));
    CHECK_OK(sbert_model_backward(m, w)); /* dL/dout = w */
    double worst = 0;
    int checked = 0;
    for (size_t i = 0; i < sbert_params_count(pt); i++) {
        sbert_param *p = sbert_params_at(pt, i);
        if (!strstr(p->name, "lora_")) continue;
        for (int k = 0; k < 2; k++) {
            size_t j = (size_t)(sbert_rng_uniform(&r) * (double)p->numel);
            float keep = p->data[j];
            const float h = 1e-2f;
            p->data[j] = keep + h;
            double lp = probe_loss(m, &b, w, n);
            p->data[j] = keep - h;
            double lm = probe_loss(m, &b, w, n);
            p->data[j] = keep;
            double fd = (lp - lm) / (2.0 * h), an = p->grad[j];
            double err = fabs(fd - an) / fmax(fabs(fd) + fabs(an), 1e-2);
            worst = test_max_err(worst, err);
            checked++;
        }
    }
    CHECK(checked >= 40 && worst <= 2e-2,
          "LoRA gradients of all six linear kinds against finite differences: %d entries, worst rel err %.3g", checked,
          worst);
    printf("LoRA gradient check (tiny-bert, all-linear): %d entries, worst relative error %.3g\n", checked, worst);
    /* a few steps with dropout on: the encoder stays, the adapters move; save and reload */
    sbert_model_free(m);
    m = NULL;
    CHECK_OK(sbert_model_load(base, NULL, &m));
    if (!m) {
        free(w);
        free(out);
        sbert_packed_free(&b);
        return;
    }
    c.dropout = 0.2;
    CHECK_OK(sbert_transformer_module_add_lora(sbert_model_input(m), &c));
    CHECK_OK(sbert_model_params(m, &pt));
    sbert_optimizer opt;
    CHECK_OK(sbert_optimizer_init(&opt, pt));
    sbert_adamw_config cfg = sbert_adamw_config_default();
    const sbert_param *enc = sbert_params_find(pt, "0.encoder.layer.1.output.dense.weight");
    float enc0 = enc ? enc->data[5] : 0;
    for (int s = 0; s < 3; s++) {
        CHECK_OK(sbert_model_forward_train(m, &b, &r, out));
        CHECK_OK(sbert_model_backward(m, w));
        double norm = sbert_optimizer_step(&opt, &cfg, 1e-2, 1.0);
        CHECK(isfinite(norm) && norm > 0, "step %d with lora_dropout: grad norm %g", s, norm);
    }
    CHECK(enc && enc->data[5] == enc0, "the encoder stays frozen");
    const sbert_param *bp = sbert_params_find(pt, "0.encoder.layer.0.intermediate.dense.lora_B.weight");
    double moved = 0;
    for (size_t k = 0; bp && k < bp->numel; k++) moved += fabs(bp->data[k]);
    CHECK(moved > 0, "the adapters moved (|B| %g)", moved);
    char dir[256];
    snprintf(dir, sizeof dir, "%s/tiny-trained", g_tmp);
    CHECK_OK(sbert_model_save(m, dir));
    sbert_model *m2 = NULL;
    CHECK_OK(sbert_model_load(dir, NULL, &m2));
    if (m2) {
        sbert_encode_options o = sbert_encode_options_default();
        float *e1 = malloc(n * sizeof *e1), *e2 = malloc(n * sizeof *e2);
        CHECK_OK(sbert_model_encode(m, texts, 3, &o, e1));
        CHECK_OK(sbert_model_encode(m2, texts, 3, &o, e2));
        double d = 0;
        for (size_t i = 0; i < n; i++) d = test_max_err(d, fabs((double)e1[i] - e2[i]));
        CHECK(d <= 1e-6, "the trained adapter saves and reloads (%.3g)", d);
        free(e1);
        free(e2);
        sbert_model_free(m2);
    }
    sbert_optimizer_free(&opt);
    sbert_model_free(m);
    sbert_packed_free(&b);
    free(w);
    free(out);
}

int main(void) {
    size_t len;
    char *txt = test_read_file(test_path("tests/data/lora/refs.json"), &len);
    if (!TEST_REQUIRE_FILE(test_path("tests/data/lora/refs.json"), "run tools/gen_lora_refs.py"))
        return test_summary();
    g_refs = cJSON_Parse(txt);
    free(txt);
    snprintf(g_tmp, sizeof g_tmp, "/tmp/sbert_test_lora_XXXXXX");
    CHECK(mkdtemp(g_tmp) != NULL, "mkdtemp");
    test_errors();
    test_tiny_grad();
    test_adapters();
    test_train();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_tmp);
    CHECK(system(cmd) == 0, "cleanup");
    cJSON_Delete(g_refs);
    return test_summary();
}
