/*
 * tests/test_cross_encoder.c -- CrossEncoder loading, pair tokenization,
 * predict, rank and save against what sentence-transformers 6.2.0 produced
 * (tests/data/cross_encoder, tools/gen_cross_encoder_refs.py):
 *   - tiny BERT, RoBERTa, XLM-R, DistilBERT and MPNet *ForSequenceClassification
 *     models with 1 and 3 labels, and all-MiniLM-L6-v2 with a head made by
 *     sentence-transformers: token ids of every pair identical to the
 *     CrossEncoder's tokenizer (longest_first at max_length, RoBERTa's
 *     </s></s> join, BERT's token_type_ids), logits per pair, predict with
 *     the default / Identity / softmax activations, rank (default, top-k with
 *     documents, Identity; the num_labels != 1 refusal);
 *   - the activation sentence-transformers picks for each folder layout
 *     (layouts.json: v6, plain HF, the v4-v5 config.json block, the pre-v4
 *     key, an untrusted path, an explicit Identity);
 *   - save -> load gives the same predictions, in both layouts' files;
 *   - a new head on a plain encoder (seeded, HF's init), bad inputs;
 *   - every head style's forward and backward (BERT pooler, RoBERTa, MPNet,
 *     ELECTRA, DistilBERT) against transformers' own head modules (heads.json).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/dirs.h"
#include "io/file.h"
#include "models/cross_encoder.h"
#include "modules/classifier_head.h"
#include "modules/params.h"
#include "test_ce_util.h"
#include "test_util.h"

static const char *const MODELS[] = {"tiny-bert-l1",       "tiny-bert-l3",        "tiny-roberta-l1",
                                     "tiny-roberta-l3",    "tiny-xlm-roberta-l1", "tiny-xlm-roberta-l3",
                                     "tiny-distilbert-l1", "tiny-distilbert-l3",  "tiny-mpnet-l1",
                                     "tiny-mpnet-l3",      "minilm-l1"};

static double g_max_logit = 0, g_max_pred = 0;

static void read_pairs(const cJSON *pairs, const char ***a, const char ***b, size_t *n) {
    const cJSON *ps = cJSON_GetObjectItem(pairs, "pairs"), *p;
    *n = (size_t)cJSON_GetArraySize(ps);
    *a = malloc(*n * sizeof **a);
    *b = malloc(*n * sizeof **b);
    size_t i = 0;
    cJSON_ArrayForEach(p, ps) {
        (*a)[i] = cJSON_GetArrayItem(p, 0)->valuestring;
        (*b)[i] = cJSON_GetArrayItem(p, 1)->valuestring;
        i++;
    }
}

/* max |got - want| over an [n] or [n, L] reference. */
static double max_diff(const float *got, const cJSON *want, size_t n, size_t L) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        const cJSON *r = cJSON_GetArrayItem(want, (int)i);
        for (size_t j = 0; j < L; j++) {
            double w = cJSON_IsArray(r) ? cJSON_GetArrayItem(r, (int)j)->valuedouble : r->valuedouble;
            m = test_max_err(m, fabs(got[i * L + j] - w));
        }
    }
    return m;
}

static void check_rank(sbert_model *m, const cJSON *pairs, const cJSON *rank, const char *name) {
    const cJSON *docs_idx = cJSON_GetObjectItem(rank, "documents");
    const cJSON *all_docs = cJSON_GetObjectItem(pairs, "rank_documents");
    size_t nd = (size_t)cJSON_GetArraySize(docs_idx);
    const char **docs = malloc(nd * sizeof *docs);
    for (size_t i = 0; i < nd; i++)
        docs[i] = cJSON_GetArrayItem(all_docs, cJSON_GetArrayItem(docs_idx, (int)i)->valueint)->valuestring;
    const char *q = cJSON_GetObjectItem(rank, "query")->valuestring;
    sbert_rank_hit *hits = malloc(nd * sizeof *hits);
    static const char *const cases[] = {"default", "top3_docs", "identity"};
    for (int c = 0; c < 3; c++) {
        sbert_predict_options o = sbert_predict_options_default();
        if (c == 2) o.activation_fn = "torch.nn.Identity";
        CHECK_OK(sbert_cross_encoder_rank(m, q, docs, nd, &o, hits));
        const cJSON *want = cJSON_GetObjectItem(rank, cases[c]);
        size_t nw = (size_t)cJSON_GetArraySize(want);
        CHECK(nw == (c == 1 ? 3 : nd), "%s rank %s: %zu hits", name, cases[c], nw);
        double err = 0;
        int order_ok = 1;
        for (size_t i = 0; i < nw; i++) {
            const cJSON *h = cJSON_GetArrayItem(want, (int)i);
            order_ok &= hits[i].corpus_id == (size_t)cJSON_GetObjectItem(h, "corpus_id")->valueint;
            err = test_max_err(err, fabs(hits[i].score - cJSON_GetObjectItem(h, "score")->valuedouble));
            const cJSON *text = cJSON_GetObjectItem(h, "text");
            if (text) order_ok &= !strcmp(text->valuestring, docs[hits[i].corpus_id]);
        }
        CHECK(order_ok, "%s rank %s: order or texts differ from sentence-transformers", name, cases[c]);
        CHECK(err <= 1e-5, "%s rank %s: scores differ by %.3g", name, cases[c], err);
        g_max_pred = test_max_err(g_max_pred, err);
    }
    free(hits);
    free(docs);
}

static void test_model(const char *name, const cJSON *pairs) {
    cJSON *ref = ce_ref(name);
    if (!ref) return;
    const char *dir = ce_tmpdir("load");
    if (!dir || !ce_build_folder(name, ref, dir)) {
        cJSON_Delete(ref);
        return;
    }
    sbert_model *m = NULL;
    CHECK_OK(sbert_cross_encoder_load(dir, NULL, &m));
    if (!m) goto out;
    const size_t L = (size_t)cJSON_GetObjectItem(ref, "num_labels")->valueint;
    CHECK(sbert_model_is_cross_encoder(m), "%s: not a CrossEncoder", name);
    CHECK(sbert_cross_encoder_num_labels(m) == L, "%s: num_labels %zu, want %zu", name,
          sbert_cross_encoder_num_labels(m), L);
    CHECK(!strcmp(sbert_cross_encoder_activation_fn(m), cJSON_GetObjectItem(ref, "activation_fn")->valuestring),
          "%s: activation %s", name, sbert_cross_encoder_activation_fn(m));
    CHECK(sbert_model_max_seq_length(m) == (size_t)cJSON_GetObjectItem(ref, "max_seq_length")->valueint,
          "%s: max_seq_length %zu", name, sbert_model_max_seq_length(m));

    const char **a, **b;
    size_t n;
    read_pairs(pairs, &a, &b, &n);
    /* Pair token ids. */
    const cJSON *feats = cJSON_GetObjectItem(ref, "features");
    int ids_ok = 1;
    for (size_t i = 0; i < n; i++) {
        sbert_encoding e;
        if (sbert_model_tokenize(m, NULL, a[i], b[i], &e) != SBERT_OK) {
            CHECK(0, "%s pair %zu: %s", name, i, sbert_last_error());
            continue;
        }
        const cJSON *f = cJSON_GetArrayItem(feats, (int)i);
        const cJSON *ids = cJSON_GetObjectItem(f, "input_ids"), *tt = cJSON_GetObjectItem(f, "token_type_ids");
        int ok = (size_t)cJSON_GetArraySize(ids) == e.len;
        for (size_t k = 0; ok && k < e.len; k++) {
            ok &= e.input_ids[k] == cJSON_GetArrayItem(ids, (int)k)->valueint;
            if (cJSON_IsArray(tt)) ok &= e.token_type_ids[k] == cJSON_GetArrayItem(tt, (int)k)->valueint;
        }
        if (!ok) fprintf(stderr, "%s pair %zu: ids differ (len %zu vs %d)\n", name, i, e.len, cJSON_GetArraySize(ids));
        ids_ok &= ok;
        sbert_encoding_free(&e);
    }
    CHECK(ids_ok, "%s: pair token ids differ from the CrossEncoder's tokenizer", name);

    /* Logits, one pair at a time (the reference ran batch 1). */
    float *out = malloc(n * L * sizeof *out);
    for (size_t i = 0; i < n; i++) CHECK_OK(sbert_cross_encoder_logits(m, a + i, b + i, 1, 1, out + i * L));
    double dl = max_diff(out, cJSON_GetObjectItem(ref, "logits"), n, L);
    CHECK(dl <= 1e-5, "%s: logits differ by %.3g", name, dl);
    g_max_logit = test_max_err(g_max_logit, dl);
    /* predict: default activation, Identity, softmax. */
    sbert_predict_options o = sbert_predict_options_default();
    CHECK_OK(sbert_cross_encoder_predict(m, a, b, n, &o, out));
    double dp = max_diff(out, cJSON_GetObjectItem(ref, "predict_default"), n, L);
    CHECK(dp <= 1e-5, "%s: predict differs by %.3g", name, dp);
    g_max_pred = test_max_err(g_max_pred, dp);
    o.activation_fn = "Identity";
    o.batch_size = 7;
    CHECK_OK(sbert_cross_encoder_predict(m, a, b, n, &o, out));
    dp = max_diff(out, cJSON_GetObjectItem(ref, "predict_identity"), n, L);
    CHECK(dp <= 1e-5, "%s: predict (Identity) differs by %.3g", name, dp);
    g_max_pred = test_max_err(g_max_pred, dp);
    if (L > 1) {
        o = sbert_predict_options_default();
        o.apply_softmax = 1;
        CHECK_OK(sbert_cross_encoder_predict(m, a, b, n, &o, out));
        dp = max_diff(out, cJSON_GetObjectItem(ref, "predict_softmax"), n, L);
        CHECK(dp <= 1e-5, "%s: predict (softmax) differs by %.3g", name, dp);
        g_max_pred = test_max_err(g_max_pred, dp);
    }
    /* rank */
    const cJSON *rank = cJSON_GetObjectItem(ref, "rank");
    if (cJSON_GetObjectItem(rank, "error")) {
        sbert_rank_hit h[2];
        CHECK(sbert_cross_encoder_rank(m, "q", a, 2, NULL, h) == SBERT_ERR_INVALID_ARG &&
                  strstr(sbert_last_error(), "only works for models with num_labels=1"),
              "%s: rank must refuse num_labels %zu: %s", name, L, sbert_last_error());
    } else {
        check_rank(m, pairs, rank, name);
    }

    /* Save -> load: the same predictions, every file of both layouts. */
    if (strcmp(name, "minilm-l1") != 0) {
        const char *dir2 = ce_tmpdir("save");
        CHECK_OK(sbert_cross_encoder_save(m, dir2));
        static const char *const files[] = {"config.json",       "model.safetensors",         "tokenizer.json",
                                            "tokenizer_config.json", "modules.json", "sentence_bert_config.json",
                                            "config_sentence_transformers.json"};
        for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
            char p[4200];
            snprintf(p, sizeof p, "%s/%s", dir2, files[i]);
            CHECK(sbert_file_exists(p), "%s: save wrote no %s", name, files[i]);
        }
        sbert_model *m2 = NULL;
        CHECK_OK(sbert_cross_encoder_load(dir2, NULL, &m2));
        if (m2) {
            float *out2 = malloc(n * L * sizeof *out2);
            o = sbert_predict_options_default();
            CHECK_OK(sbert_cross_encoder_predict(m, a, b, n, &o, out));
            CHECK_OK(sbert_cross_encoder_predict(m2, a, b, n, &o, out2));
            CHECK(memcmp(out, out2, n * L * sizeof *out) == 0, "%s: predictions change after save + load", name);
            CHECK(!strcmp(sbert_cross_encoder_activation_fn(m2), sbert_cross_encoder_activation_fn(m)),
                  "%s: activation after save + load: %s", name, sbert_cross_encoder_activation_fn(m2));
            CHECK(sbert_model_max_seq_length(m2) == sbert_model_max_seq_length(m), "%s: max length after reload",
                  name);
            /* The v4-v5.3 view of the same folder: config.json alone. */
            char p[4200];
            snprintf(p, sizeof p, "%s/modules.json", dir2);
            remove(p);
            snprintf(p, sizeof p, "%s/config_sentence_transformers.json", dir2);
            remove(p);
            sbert_model *m3 = NULL;
            CHECK_OK(sbert_cross_encoder_load(dir2, NULL, &m3));
            if (m3) {
                CHECK(!strcmp(sbert_cross_encoder_activation_fn(m3), sbert_cross_encoder_activation_fn(m)),
                      "%s: HF-layout activation %s", name, sbert_cross_encoder_activation_fn(m3));
                CHECK_OK(sbert_cross_encoder_predict(m3, a, b, n, &o, out2));
                CHECK(memcmp(out, out2, n * L * sizeof *out) == 0, "%s: HF-layout predictions differ", name);
            }
            sbert_model_free(m3);
            free(out2);
        }
        sbert_model_free(m2);
        sbert_rm_rf(dir2);
    }
    free(out);
    free(a);
    free(b);
out:
    sbert_model_free(m);
    sbert_rm_rf(dir);
    cJSON_Delete(ref);
}

/* Rewrite dir/config.json with `key` set to a string value (or removed when value is NULL). */
static void set_config_key(const char *dir, const char *file, const char *key, const char *value, int as_block) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    cJSON *j = NULL;
    if (sbert_json_load(p, &j) != SBERT_OK) return;
    cJSON_DeleteItemFromObject(j, key);
    if (value && as_block) {
        cJSON *blk = cJSON_AddObjectToObject(j, key);
        cJSON_AddStringToObject(blk, "activation_fn", value);
        cJSON_AddStringToObject(blk, "version", "5.1.0");
    } else if (value) {
        cJSON_AddStringToObject(j, key, value);
    }
    char *t = cJSON_Print(j);
    sbert_write_file_atomic(p, t, strlen(t));
    cJSON_free(t);
    cJSON_Delete(j);
}

static void strip_st_files(const char *dir) {
    static const char *const f[] = {"modules.json", "config_sentence_transformers.json", "sentence_bert_config.json"};
    for (int i = 0; i < 3; i++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/%s", dir, f[i]);
        remove(p);
    }
}

static void test_layouts(const cJSON *pairs) {
    const char *lp = test_path("tests/data/cross_encoder/layouts.json");
    if (!TEST_REQUIRE_FILE(lp, "run tools/gen_cross_encoder_refs.py")) return;
    cJSON *lay = NULL, *ref = ce_ref("tiny-bert-l1");
    CHECK_OK(sbert_json_load(lp, &lay));
    if (!lay || !ref) goto out;
    const char **a, **b;
    size_t n;
    read_pairs(pairs, &a, &b, &n);
    const cJSON *c;
    int k = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(lay, "cases")) {
        const char *layout = cJSON_GetObjectItem(c, "layout")->valuestring;
        const char *what = cJSON_GetObjectItem(c, "what")->valuestring;
        const char *dir = ce_tmpdir("layout");
        if (!dir || !ce_build_folder("tiny-bert-l1", ref, dir)) break;
        if (!strcmp(layout, "hf")) {
            strip_st_files(dir);
        } else if (!strcmp(layout, "v4/v5")) {
            strip_st_files(dir);
            set_config_key(dir, "config.json", "sentence_transformers", "torch.nn.modules.linear.Identity", 1);
        } else if (!strcmp(layout, "pre-v4")) {
            strip_st_files(dir);
            set_config_key(dir, "config.json", "sbert_ce_default_activation_function",
                           "torch.nn.modules.activation.Tanh", 0);
        } else if (strstr(what, "mypackage")) {
            set_config_key(dir, "config_sentence_transformers.json", "activation_fn", "mypackage.activations.Custom", 0);
        } else if (strstr(what, "Identity")) {
            set_config_key(dir, "config_sentence_transformers.json", "activation_fn", "torch.nn.modules.linear.Identity",
                           0);
        }
        sbert_model *m = NULL;
        CHECK_OK(sbert_cross_encoder_load(dir, NULL, &m));
        if (m) {
            const char *want = cJSON_GetObjectItem(c, "activation_fn")->valuestring;
            CHECK(!strcmp(sbert_cross_encoder_activation_fn(m), want), "layout %s (%s): activation %s, want %s",
                  layout, what, sbert_cross_encoder_activation_fn(m), want);
            float out[4];
            CHECK_OK(sbert_cross_encoder_predict(m, a, b, 4, NULL, out));
            double d = max_diff(out, cJSON_GetObjectItem(c, "predict"), 4, 1);
            CHECK(d <= 1e-5, "layout %s (%s): predict differs by %.3g", layout, what, d);
            CHECK(sbert_model_max_seq_length(m) == 24, "layout %s: max length %zu", layout,
                  sbert_model_max_seq_length(m));
        }
        sbert_model_free(m);
        sbert_rm_rf(dir);
        k++;
    }
    CHECK(k == 6, "layouts.json: %d cases ran, expected 6", k);
    free(a);
    free(b);
out:
    cJSON_Delete(lay);
    cJSON_Delete(ref);
}

/* A new head on plain encoders: HF's initialisation from the seed. */
static void test_new_head(void) {
    static const char *const fams[] = {"bert", "roberta", "xlm-roberta", "distilbert", "mpnet"};
    for (int f = 0; f < 5; f++) {
        char rel[128];
        snprintf(rel, sizeof rel, "tests/data/models/tiny-%s", fams[f]);
        const char *dir = test_path(rel);
        if (!TEST_REQUIRE_FILE(dir, "run tools/gen_tiny_models.py")) continue;
        sbert_cross_encoder_options o = sbert_cross_encoder_options_default();
        o.seed = 7;
        sbert_model *m1 = NULL, *m2 = NULL, *m3 = NULL;
        CHECK_OK(sbert_cross_encoder_load(dir, &o, &m1));
        CHECK_OK(sbert_cross_encoder_load(dir, &o, &m2));
        o.seed = 8;
        o.num_labels = 3;
        CHECK_OK(sbert_cross_encoder_load(dir, &o, &m3));
        if (!m1 || !m2 || !m3) {
            sbert_model_free(m1);
            sbert_model_free(m2);
            sbert_model_free(m3);
            continue;
        }
        CHECK(sbert_cross_encoder_num_labels(m1) == 1 && sbert_cross_encoder_num_labels(m3) == 3,
              "%s: new head num_labels", fams[f]);
        CHECK(!strcmp(sbert_cross_encoder_activation_fn(m1), "torch.nn.modules.activation.Sigmoid") &&
                  !strcmp(sbert_cross_encoder_activation_fn(m3), "torch.nn.modules.linear.Identity"),
              "%s: default activations", fams[f]);
        const sbert_head_config *hc = sbert_classifier_head_config(m1->mods[1]);
        size_t numel;
        int64_t shape[2];
        int nd;
        float *w1 = sbert_classifier_head_tensor(m1->mods[1], 2, &numel, shape, &nd);
        float *w2 = sbert_classifier_head_tensor(m2->mods[1], 2, &numel, shape, &nd);
        float *b1 = sbert_classifier_head_tensor(m1->mods[1], 3, &numel, shape, &nd);
        CHECK(memcmp(w1, w2, hc->hidden * sizeof *w1) == 0, "%s: same seed, different head", fams[f]);
        CHECK(b1[0] == 0.0f, "%s: output bias must start at 0", fams[f]);
        float *d1 = sbert_classifier_head_tensor(m1->mods[1], 0, &numel, shape, &nd);
        double s = 0, s2 = 0;
        for (size_t i = 0; i < numel; i++) {
            s += d1[i];
            s2 += (double)d1[i] * d1[i];
        }
        double sd = sqrt(s2 / (double)numel - (s / (double)numel) * (s / (double)numel));
        if (hc->style == SBERT_HEAD_POOLER)
            CHECK(sd > 0.03, "bert: the pooler must come from the encoder checkpoint (std %.3g)", sd);
        else
            CHECK(fabs(sd - hc->initializer_range) < 0.2 * hc->initializer_range,
                  "%s: fresh dense weights std %.4f, want %.4f", fams[f], sd, hc->initializer_range);
        /* A saved new CrossEncoder is a *ForSequenceClassification checkpoint. */
        const char *out = ce_tmpdir("new");
        CHECK_OK(sbert_cross_encoder_save(m3, out));
        sbert_model *m4 = NULL;
        CHECK_OK(sbert_cross_encoder_load(out, NULL, &m4));
        if (m4) {
            const char *qa[2] = {"a question", "another one"}, *da[2] = {"an answer", "a passage here"};
            float p3[6], p4[6];
            CHECK_OK(sbert_cross_encoder_predict(m3, qa, da, 2, NULL, p3));
            CHECK_OK(sbert_cross_encoder_predict(m4, qa, da, 2, NULL, p4));
            CHECK(memcmp(p3, p4, sizeof p3) == 0 && sbert_cross_encoder_num_labels(m4) == 3,
                  "%s: new CrossEncoder changes after save + load", fams[f]);
            char p[4200];
            snprintf(p, sizeof p, "%s/config.json", out);
            cJSON *cfg = NULL;
            CHECK_OK(sbert_json_load(p, &cfg));
            const cJSON *arch = cJSON_GetArrayItem(cJSON_GetObjectItem(cfg, "architectures"), 0);
            CHECK(arch && !strcmp(arch->valuestring, hc->architecture), "%s: saved architectures", fams[f]);
            CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(cfg, "id2label")) == 3, "%s: saved id2label", fams[f]);
            cJSON_Delete(cfg);
        }
        sbert_model_free(m4);
        sbert_rm_rf(out);
        sbert_model_free(m1);
        sbert_model_free(m2);
        sbert_model_free(m3);
    }
}

static void test_bad_input(void) {
    cJSON *ref = ce_ref("tiny-bert-l1");
    if (!ref) return;
    const char *dir = ce_tmpdir("bad");
    if (!dir || !ce_build_folder("tiny-bert-l1", ref, dir)) {
        cJSON_Delete(ref);
        return;
    }
    sbert_model *m = NULL;
    /* num_labels that does not fit the checkpoint's head */
    sbert_cross_encoder_options o = sbert_cross_encoder_options_default();
    o.num_labels = 3;
    CHECK(sbert_cross_encoder_load(dir, &o, &m) == SBERT_ERR_FORMAT && strstr(sbert_last_error(), "classifier.weight"),
          "num_labels 3 on a 1-label head: %s", sbert_last_error());
    /* an activation sbert does not implement: the file and the key */
    set_config_key(dir, "config_sentence_transformers.json", "activation_fn", "torch.nn.modules.activation.Hardtanh", 0);
    CHECK(sbert_cross_encoder_load(dir, NULL, &m) == SBERT_ERR_UNSUPPORTED &&
              strstr(sbert_last_error(), "config_sentence_transformers.json") &&
              strstr(sbert_last_error(), "activation_fn") && strstr(sbert_last_error(), "Hardtanh"),
          "unknown torch activation: %s", sbert_last_error());
    set_config_key(dir, "config_sentence_transformers.json", "activation_fn", "torch.nn.modules.activation.Sigmoid", 0);
    o = sbert_cross_encoder_options_default();
    o.activation_fn = "Softplus";
    CHECK(sbert_cross_encoder_load(dir, &o, &m) == SBERT_ERR_UNSUPPORTED && strstr(sbert_last_error(), "Softplus"),
          "unknown activation option: %s", sbert_last_error());
    CHECK_OK(sbert_cross_encoder_load(dir, NULL, &m));
    if (m) {
        const char *qa[1] = {"q"}, *da[1] = {"d"};
        float out[1];
        sbert_predict_options po = sbert_predict_options_default();
        po.activation_fn = "torch.nn.Mish";
        CHECK(sbert_cross_encoder_predict(m, qa, da, 1, &po, out) == SBERT_ERR_UNSUPPORTED,
              "predict with an unknown activation: %s", sbert_last_error());
        CHECK(sbert_cross_encoder_predict(m, qa, NULL, 1, NULL, out) == SBERT_ERR_INVALID_ARG, "NULL docs");
        sbert_model_free(m);
    }
    /* a SentenceTransformer handle is not a CrossEncoder */
    sbert_model *st = NULL;
    CHECK_OK(sbert_model_load(test_path("tests/data/models/tiny-bert"), NULL, &st));
    if (st) {
        const char *qa[1] = {"q"}, *da[1] = {"d"};
        float out[1];
        CHECK(sbert_cross_encoder_predict(st, qa, da, 1, NULL, out) == SBERT_ERR_INVALID_ARG &&
                  strstr(sbert_last_error(), "not a CrossEncoder"),
              "predict on a SentenceTransformer: %s", sbert_last_error());
        sbert_model_free(st);
    }
    /* loading a CrossEncoder folder as a SentenceTransformer names the model type */
    CHECK(sbert_model_load(dir, NULL, &st) != SBERT_OK && strstr(sbert_last_error(), "CrossEncoder"),
          "CrossEncoder as SentenceTransformer: %s", sbert_last_error());
    sbert_rm_rf(dir);
    cJSON_Delete(ref);
}

static void read_floats(const cJSON *a, float *out, size_t n) {
    const cJSON *r;
    size_t k = 0;
    cJSON_ArrayForEach(r, a) {
        if (cJSON_IsArray(r)) {
            const cJSON *v;
            cJSON_ArrayForEach(v, r) if (k < n) out[k++] = (float)v->valuedouble;
        } else if (k < n) {
            out[k++] = (float)r->valuedouble;
        }
    }
}

static void test_heads(void) {
    const char *p = test_path("tests/data/cross_encoder/heads.json");
    if (!TEST_REQUIRE_FILE(p, "run tools/gen_ce_loss_refs.py")) return;
    cJSON *j = NULL;
    CHECK_OK(sbert_json_load(p, &j));
    const cJSON *c;
    int n_cases = 0;
    double worst_f = 0, worst_b = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(j, "cases")) {
        const char *fam = cJSON_GetObjectItem(c, "family")->valuestring;
        const size_t n = (size_t)cJSON_GetObjectItem(c, "n")->valueint, H = (size_t)cJSON_GetObjectItem(c, "H")->valueint;
        const size_t L = (size_t)cJSON_GetObjectItem(c, "L")->valueint;
        sbert_head_config hc;
        CHECK_OK(sbert_head_config_from_hf(cJSON_GetObjectItem(c, "config"), "heads.json", L, &hc));
        sbert_module *h = NULL;
        CHECK_OK(sbert_classifier_head_new(&hc, &h));
        if (!h) continue;
        const cJSON *tensors = cJSON_GetObjectItem(c, "tensors");
        for (int i = 0; i < 4; i++) {
            size_t numel;
            int64_t shape[2];
            int nd;
            float *dst = sbert_classifier_head_tensor(h, i, &numel, shape, &nd);
            const cJSON *t = cJSON_GetObjectItem(tensors, hc.names[i]);
            CHECK(t != NULL, "%s: head tensor %s not in the reference", fam, hc.names[i]);
            if (t) read_floats(cJSON_GetObjectItem(t, "value"), dst, numel);
        }
        sbert_param_table *pt = NULL;
        CHECK_OK(sbert_params_create(&pt));
        CHECK_OK(h->ops->params(h, pt));
        CHECK_OK(sbert_params_seal(pt));
        h->pt = pt;
        h->pfirst = 0;
        h->pcount = 4;
        float *x = malloc(n * H * sizeof *x), *want = malloc(n * L * sizeof *want), *dl = malloc(n * L * sizeof *dl);
        float *dx = malloc(n * H * sizeof *dx);
        size_t *offs = malloc((n + 1) * sizeof *offs);
        int32_t *ids = calloc(n, sizeof *ids);
        read_floats(cJSON_GetObjectItem(c, "x"), x, n * H);
        read_floats(cJSON_GetObjectItem(c, "logits"), want, n * L);
        read_floats(cJSON_GetObjectItem(c, "dlogits"), dl, n * L);
        read_floats(cJSON_GetObjectItem(c, "dx"), dx, n * H);
        for (size_t i = 0; i <= n; i++) offs[i] = i;
        sbert_features f;
        memset(&f, 0, sizeof f);
        f.n_seq = n;
        f.T = n;
        f.offs = offs;
        f.ids = ids;
        f.tok = x;
        f.tok_dim = H;
        sbert_features in = f;
        sbert_run run;
        memset(&run, 0, sizeof run);
        run.train = 1;
        void *rec = NULL;
        CHECK_OK(h->ops->forward(h, &f, &run, &rec));
        double ef = 0;
        for (size_t i = 0; i < n * L; i++) ef = test_max_err(ef, fabs(f.emb[i] - want[i]));
        CHECK(ef <= 1e-5, "%s head: logits differ by %.3g from transformers", fam, ef);
        sbert_feature_grads dout = {NULL, dl}, din = {NULL, NULL};
        CHECK_OK(h->ops->backward(h, &in, &f, &dout, &din, &run, rec));
        double eb = 0;
        for (size_t i = 0; din.tok && i < n * H; i++) eb = test_max_err(eb, fabs(din.tok[i] - dx[i]));
        for (int i = 0; i < 4; i++) {
            const cJSON *t = cJSON_GetObjectItem(tensors, hc.names[i]);
            const sbert_param *pp = sbert_params_at_const(pt, (size_t)i);
            float *g = malloc(pp->numel * sizeof *g);
            if (t) read_floats(cJSON_GetObjectItem(t, "grad"), g, pp->numel);
            for (size_t k = 0; t && k < pp->numel; k++) eb = test_max_err(eb, fabs(pp->grad[k] - g[k]));
            free(g);
        }
        CHECK(din.tok && eb <= 1e-5, "%s head: gradients differ by %.3g from transformers", fam, eb);
        worst_f = test_max_err(worst_f, ef);
        worst_b = test_max_err(worst_b, eb);
        h->ops->rec_free(h, rec);
        sbert_run_free(&run);
        sbert_params_free(pt);
        sbert_module_free(h);
        free(x), free(want), free(dl), free(dx), free(offs), free(ids);
        n_cases++;
    }
    CHECK(n_cases == 5, "%d head cases ran, expected 5", n_cases);
    printf("heads vs transformers: forward %.3g, backward %.3g\n", worst_f, worst_b);
    cJSON_Delete(j);
}

int main(void) {
    test_heads();
    cJSON *pairs = ce_pairs();
    if (!pairs) return test_summary();
    for (size_t i = 0; i < sizeof MODELS / sizeof MODELS[0]; i++) test_model(MODELS[i], pairs);
    printf("max |logit - sentence-transformers| = %.3g, max |predict/rank - sentence-transformers| = %.3g\n",
           g_max_logit, g_max_pred);
    test_layouts(pairs);
    test_new_head();
    test_bad_input();
    cJSON_Delete(pairs);
    return test_summary();
}
