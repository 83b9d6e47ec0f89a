/*
 * models/cross_encoder.c -- CrossEncoder models: a transformer over a
 * (query, passage) pair and a classification head (modules/classifier_head.c),
 * loaded from and saved to the layouts sentence-transformers reads, and
 * predict / rank (CrossEncoder.predict, CrossEncoder.rank).
 *
 * Loading (st_formats.md A.2; the activation rules were checked against
 * sentence-transformers 6.2.0, tests/data/cross_encoder/layouts.json):
 *   - modules.json with config_sentence_transformers.json model_type
 *     "CrossEncoder" (v5.4+/v6): one Transformer module whose
 *     sentence_bert_config.json says transformer_task
 *     "sequence-classification"; the folder it names is a Hugging Face
 *     *ForSequenceClassification checkpoint;
 *   - modules.json of another model type (a SentenceTransformer): converted
 *     as Python converts it, a new head on the Transformer's encoder, the
 *     SentenceTransformer's sentence_bert_config.json ignored;
 *   - no modules.json: a plain Hugging Face folder.
 *   num_labels: the checkpoint's id2label (or num_labels; 2 when neither, as
 *   transformers), 1 when the architecture is not a *ForSequenceClassification
 *   (Python's rule), or what the caller asks for.
 *   activation_fn, first found: the caller's; config_sentence_transformers.json
 *   "activation_fn"; config.json "sentence_transformers"."activation_fn"
 *   (v4-v5.3); config.json "sbert_ce_default_activation_function" (pre-v4);
 *   else Sigmoid for num_labels 1, Identity otherwise. A saved path that does
 *   not start with "torch." is skipped (Python ignores it without
 *   trust_remote_code and uses the next rule); a torch path sbert does not
 *   implement is an error naming the file and the key.
 *
 * Saving writes both layouts at once (see sbert_cross_encoder_save in
 * sbert.h): sentence-transformers v6 reads modules.json and
 * config_sentence_transformers.json, v4-v5.3 read config.json and its
 * "sentence_transformers" block; the weights are one model.safetensors with
 * the *ForSequenceClassification names ("bert.encoder...", "classifier.weight").
 */
#include "models/cross_encoder.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/error.h"
#include "base/threads.h"
#include "io/atomic.h"
#include "io/dirs.h"
#include "io/file.h"
#include "io/hf_cache.h"
#include "io/safetensors.h"
#include "modules/classifier_head.h"
#include "modules/transformer.h"
#include "modules/transformer_module.h"

#define PATH_CAP 4096
#define CE_TRANSFORMER_TYPE "sentence_transformers.base.modules.transformer.Transformer"

static sbert_status nomem(const char *what) { return sbert_fail(SBERT_ERR_NOMEM, "out of memory (%s)", what); }

/* ------------------------------------------------------------ activation */

static const struct {
    const char *name, *path;
    sbert_ce_act act;
} ACTS[] = {
    {"Identity", "torch.nn.modules.linear.Identity", SBERT_CE_ACT_IDENTITY},
    {"Sigmoid", "torch.nn.modules.activation.Sigmoid", SBERT_CE_ACT_SIGMOID},
    {"Tanh", "torch.nn.modules.activation.Tanh", SBERT_CE_ACT_TANH},
    {"ReLU", "torch.nn.modules.activation.ReLU", SBERT_CE_ACT_RELU},
    {"Softmax", "torch.nn.modules.activation.Softmax", SBERT_CE_ACT_SOFTMAX},
};
#define N_ACTS (sizeof ACTS / sizeof ACTS[0])

sbert_status sbert_ce_act_parse(const char *name, sbert_ce_act *out) {
    for (size_t i = 0; i < N_ACTS; i++) {
        size_t n = strlen(ACTS[i].name);
        size_t l = strlen(name);
        if (!strcmp(name, ACTS[i].name) || !strcmp(name, ACTS[i].path) ||
            (!strncmp(name, "torch.nn.", 9) && l == 9 + n && !strcmp(name + 9, ACTS[i].name))) {
            *out = ACTS[i].act;
            return SBERT_OK;
        }
    }
    return sbert_fail(SBERT_ERR_UNSUPPORTED,
                      "activation_fn '%s' is not supported (sbert implements Identity, Sigmoid, Tanh, ReLU and "
                      "Softmax, by name or as torch.nn.<Name> / torch.nn.modules.activation.<Name>)",
                      name);
}

const char *sbert_ce_act_path(sbert_ce_act a) {
    for (size_t i = 0; i < N_ACTS; i++)
        if (ACTS[i].act == a) return ACTS[i].path;
    return "?";
}

void sbert_ce_act_apply(sbert_ce_act a, const float *x, float *y, size_t n, size_t L) {
    for (size_t i = 0; i < n; i++) {
        const float *xr = x + i * L;
        float *yr = y + i * L;
        if (a == SBERT_CE_ACT_SOFTMAX) {
            /* nn.Softmax() with dim None on [n, L] softmaxes along dim 1. */
            double mx = -INFINITY, s = 0;
            for (size_t j = 0; j < L; j++) mx = xr[j] > mx ? xr[j] : mx;
            double e[64], *ep = L <= 64 ? e : NULL;
            for (size_t j = 0; j < L; j++) {
                double v = exp((double)xr[j] - mx);
                if (ep) ep[j] = v;
                s += v;
            }
            for (size_t j = 0; j < L; j++) yr[j] = (float)((ep ? ep[j] : exp((double)xr[j] - mx)) / s);
            continue;
        }
        for (size_t j = 0; j < L; j++) {
            double v = xr[j];
            switch (a) {
            case SBERT_CE_ACT_SIGMOID: v = 1.0 / (1.0 + exp(-v)); break;
            case SBERT_CE_ACT_TANH: v = tanh(v); break;
            case SBERT_CE_ACT_RELU: v = v > 0 ? v : 0; break;
            default: break;
            }
            yr[j] = (float)v;
        }
    }
}

/* ------------------------------------------------------------- accessors */

static sbert_module *head_of(const sbert_model *m) {
    return m && m->kind == SBERT_KIND_CROSS_ENCODER && m->n_mods == 2 ? m->mods[1] : NULL;
}

int sbert_model_is_cross_encoder(const sbert_model *m) { return head_of(m) != NULL; }

size_t sbert_cross_encoder_num_labels(const sbert_model *m) {
    const sbert_head_config *c = sbert_classifier_head_config(head_of(m));
    return c ? c->num_labels : 0;
}

const char *sbert_cross_encoder_activation_fn(const sbert_model *m) {
    const cJSON *a = m && m->st_config ? cJSON_GetObjectItemCaseSensitive(m->st_config, "activation_fn") : NULL;
    return cJSON_IsString(a) ? a->valuestring : NULL;
}

sbert_ce_act sbert_cross_encoder_act(const sbert_model *m) {
    sbert_ce_act a = SBERT_CE_ACT_IDENTITY;
    const char *p = sbert_cross_encoder_activation_fn(m);
    if (p && sbert_ce_act_parse(p, &a) != SBERT_OK) a = SBERT_CE_ACT_IDENTITY; /* set by us: always parses */
    return a;
}

sbert_status sbert_cross_encoder_set_act(sbert_model *m, sbert_ce_act a) {
    if (!m->st_config && !(m->st_config = cJSON_CreateObject())) return nomem("CrossEncoder settings");
    cJSON_DeleteItemFromObjectCaseSensitive(m->st_config, "activation_fn");
    if (!cJSON_AddStringToObject(m->st_config, "activation_fn", sbert_ce_act_path(a))) return nomem("activation_fn");
    return SBERT_OK;
}

/* ------------------------------------------------------------------ load */

typedef struct {
    size_t num_labels;
    uint64_t seed;
    const char *activation_fn;
} ce_open_options;

/* A saved activation path (key `key` of `file`): *found = 1 and *out set when
 * it applies; a path Python would not import (not torch.*) is skipped. */
static sbert_status saved_activation(const cJSON *v, const char *file, const char *key, int *found,
                                     sbert_ce_act *out) {
    *found = 0;
    if (!v || cJSON_IsNull(v)) return SBERT_OK;
    if (!cJSON_IsString(v)) return sbert_fail(SBERT_ERR_FORMAT, "%s: \"%s\" must be a string", file, key);
    if (strncmp(v->valuestring, "torch.", 6) != 0) return SBERT_OK; /* Python: untrusted, default used */
    sbert_status st = sbert_ce_act_parse(v->valuestring, out);
    if (st != SBERT_OK) {
        sbert_error_prefix("%s: \"%s\": ", file, key);
        return st;
    }
    *found = 1;
    return SBERT_OK;
}

/* model_type of config_sentence_transformers.json in dir ("" when absent). */
static sbert_status peek_model_type(const char *dir, char *out, size_t cap) {
    char path[PATH_CAP];
    out[0] = '\0';
    SBERT_TRY(sbert_path_join(path, sizeof path, dir, "config_sentence_transformers.json"));
    if (!sbert_file_exists(path)) return SBERT_OK;
    cJSON *j = NULL;
    SBERT_TRY(sbert_json_load(path, &j));
    const cJSON *mt = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, "model_type") : NULL;
    if (cJSON_IsString(mt)) snprintf(out, cap, "%s", mt->valuestring);
    cJSON_Delete(j);
    return SBERT_OK;
}

/* The Transformer entry of modules.json: its path. For a CrossEncoder the
 * list must be exactly that one module. */
static sbert_status modules_transformer_path(const char *modules_path, int cross_encoder, char *out, size_t cap) {
    cJSON *mods = NULL;
    SBERT_TRY(sbert_json_load(modules_path, &mods));
    sbert_status st = SBERT_OK;
    int n = cJSON_IsArray(mods) ? cJSON_GetArraySize(mods) : 0;
    const cJSON *e = n ? cJSON_GetArrayItem(mods, 0) : NULL;
    const cJSON *type = cJSON_IsObject(e) ? cJSON_GetObjectItemCaseSensitive(e, "type") : NULL;
    const cJSON *path = cJSON_IsObject(e) ? cJSON_GetObjectItemCaseSensitive(e, "path") : NULL;
    const sbert_module_class *cls = cJSON_IsString(type) ? sbert_module_class_find(type->valuestring) : NULL;
    if (n == 0 || !cJSON_IsString(path) || !cJSON_IsString(type)) {
        st = sbert_fail(SBERT_ERR_FORMAT, "%s: expected a list of modules with string \"type\" and \"path\"",
                        modules_path);
    } else if (!cls || strcmp(cls->class_name, "Transformer") != 0) {
        st = sbert_fail(SBERT_ERR_UNSUPPORTED,
                        "%s: the first module is \"%s\"; a CrossEncoder needs a Transformer (sequence-classification)",
                        modules_path, type->valuestring);
    } else if (cross_encoder && n != 1) {
        const cJSON *t2 = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(mods, 1), "type");
        st = sbert_fail(SBERT_ERR_UNSUPPORTED,
                        "%s: %d modules; sbert reads CrossEncoders made of one Transformer with its "
                        "sequence-classification head (module 1 is \"%s\": custom score modules such as Dense or "
                        "LogitScore are not supported yet)",
                        modules_path, n, cJSON_IsString(t2) ? t2->valuestring : "?");
    } else if (path->valuestring[0] == '/' || strstr(path->valuestring, "..")) {
        st = sbert_fail(SBERT_ERR_FORMAT, "%s: module path \"%s\" leaves the model directory", modules_path,
                        path->valuestring);
    } else {
        snprintf(out, cap, "%s", path->valuestring);
    }
    cJSON_Delete(mods);
    return st;
}

static int is_seq_cls(const cJSON *cfg) {
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(cfg, "architectures"), *a;
    cJSON_ArrayForEach(a, arch) {
        if (!cJSON_IsString(a)) continue;
        size_t l = strlen(a->valuestring), k = strlen("ForSequenceClassification");
        if (l >= k && !strcmp(a->valuestring + l - k, "ForSequenceClassification")) return 1;
    }
    return 0;
}

/* num_labels of a *ForSequenceClassification config (transformers' rules). */
static sbert_status config_num_labels(const cJSON *cfg, const char *path, size_t *out) {
    const cJSON *id2 = cJSON_GetObjectItemCaseSensitive(cfg, "id2label");
    const cJSON *nl = cJSON_GetObjectItemCaseSensitive(cfg, "num_labels");
    if (cJSON_IsObject(id2) && cJSON_GetArraySize(id2) > 0) {
        *out = (size_t)cJSON_GetArraySize(id2);
    } else if (nl && !cJSON_IsNull(nl)) {
        int present = 0;
        SBERT_TRY(sbert_json_size(cfg, "num_labels", path, out, &present));
    } else {
        *out = 2; /* PretrainedConfig's default */
    }
    if (*out == 0) return sbert_fail(SBERT_ERR_FORMAT, "%s: num_labels must be at least 1", path);
    return SBERT_OK;
}

static sbert_status ce_open(sbert_model *m, const ce_open_options *o) {
    char modules_path[PATH_CAP], tf_rel[PATH_CAP] = "", tf_dir[PATH_CAP], path[PATH_CAP];
    SBERT_TRY(sbert_path_join(modules_path, sizeof modules_path, m->dir, "modules.json"));
    int mode = 0; /* Transformer module: 0 plain HF folder, 2 a CrossEncoder's (sentence_bert_config.json read) */
    int native = 0;
    if (sbert_file_exists(modules_path)) {
        char mt[64];
        SBERT_TRY(peek_model_type(m->dir, mt, sizeof mt));
        native = !strcmp(mt, "CrossEncoder");
        SBERT_TRY(modules_transformer_path(modules_path, native, tf_rel, sizeof tf_rel));
        if (native) {
            SBERT_TRY(sbert_model_read_st_config(m));
            mode = 2;
        }
    } else {
        SBERT_TRY(sbert_path_join(path, sizeof path, m->dir, "config.json"));
        if (!sbert_file_exists(path))
            return sbert_fail(SBERT_ERR_IO,
                              "%s: neither modules.json (a sentence-transformers model) nor config.json (a Hugging "
                              "Face model) found",
                              m->dir);
    }
    if (tf_rel[0]) SBERT_TRY(sbert_path_join(tf_dir, sizeof tf_dir, m->dir, tf_rel));
    else snprintf(tf_dir, sizeof tf_dir, "%s", m->dir);

    /* The classification config. */
    char cfg_path[PATH_CAP];
    SBERT_TRY(sbert_path_join(cfg_path, sizeof cfg_path, tf_dir, "config.json"));
    if (!sbert_file_exists(cfg_path))
        return sbert_fail(SBERT_ERR_IO, "%s: missing (the Hugging Face config of the CrossEncoder)", cfg_path);
    cJSON *cfg = NULL;
    SBERT_TRY(sbert_json_load(cfg_path, &cfg));
    sbert_status st = cJSON_IsObject(cfg) ? SBERT_OK : sbert_fail(SBERT_ERR_FORMAT, "%s: not a JSON object", cfg_path);
    const int seq_cls = st == SBERT_OK && is_seq_cls(cfg);
    size_t num_labels = o->num_labels;
    if (st == SBERT_OK && !num_labels) {
        if (seq_cls) st = config_num_labels(cfg, cfg_path, &num_labels);
        else num_labels = 1; /* Python: not a *ForSequenceClassification and num_labels not given */
    }
    sbert_head_config hc;
    if (st == SBERT_OK) st = sbert_head_config_from_hf(cfg, cfg_path, num_labels, &hc);

    /* The encoder, then the head. */
    sbert_module *tf = NULL, *head = NULL;
    if (st == SBERT_OK) {
        sbert_module_load_ctx ctx = {tf_dir, m->dir, CE_TRANSFORMER_TYPE, 0, 0, mode};
        st = sbert_transformer_module_load(&ctx, &tf);
        if (st == SBERT_OK) st = sbert_model_add_module(m, tf, "0", tf_rel);
    }
    if (st == SBERT_OK && tf->ops->out_dim(tf) != hc.hidden)
        st = sbert_fail(SBERT_ERR_FORMAT, "%s: hidden size %zu, but the encoder has %zu", cfg_path, hc.hidden,
                        tf->ops->out_dim(tf));
    if (st == SBERT_OK) st = sbert_classifier_head_new(&hc, &head);
    if (st == SBERT_OK) {
        sbert_safetensors *w = NULL;
        st = sbert_path_join(path, sizeof path, tf_dir, "model.safetensors");
        if (st == SBERT_OK) st = sbert_st_open(path, &w);
        /* A *ForSequenceClassification checkpoint must hold its head (with the
         * number of labels asked for); an encoder gets a new one. */
        if (st == SBERT_OK) st = sbert_classifier_head_fill(head, w, seq_cls, o->seed, NULL);
        if (w) sbert_st_close(w);
        if (st == SBERT_OK) st = sbert_model_add_module(m, head, "1", "");
        else sbert_module_free(head);
    }

    /* The activation. */
    sbert_ce_act act = num_labels == 1 ? SBERT_CE_ACT_SIGMOID : SBERT_CE_ACT_IDENTITY;
    int found = 0;
    if (st == SBERT_OK && o->activation_fn) {
        st = sbert_ce_act_parse(o->activation_fn, &act);
        found = 1;
    }
    if (st == SBERT_OK && !found && native && m->st_config) {
        char stc[PATH_CAP];
        st = sbert_path_join(stc, sizeof stc, m->dir, "config_sentence_transformers.json");
        if (st == SBERT_OK)
            st = saved_activation(cJSON_GetObjectItemCaseSensitive(m->st_config, "activation_fn"), stc,
                                  "activation_fn", &found, &act);
    }
    if (st == SBERT_OK && !found) {
        const cJSON *blk = cJSON_GetObjectItemCaseSensitive(cfg, "sentence_transformers");
        if (cJSON_IsObject(blk) && cJSON_GetObjectItemCaseSensitive(blk, "activation_fn"))
            st = saved_activation(cJSON_GetObjectItemCaseSensitive(blk, "activation_fn"), cfg_path,
                                  "sentence_transformers.activation_fn", &found, &act);
        else
            st = saved_activation(cJSON_GetObjectItemCaseSensitive(cfg, "sbert_ce_default_activation_function"),
                                  cfg_path, "sbert_ce_default_activation_function", &found, &act);
    }
    if (st == SBERT_OK) st = sbert_cross_encoder_set_act(m, act);
    cJSON_Delete(cfg);
    return st;
}

sbert_status sbert_cross_encoder_load_dir(sbert_model *m) {
    ce_open_options o = {0, 0, NULL};
    return ce_open(m, &o);
}

sbert_cross_encoder_options sbert_cross_encoder_options_default(void) {
    sbert_cross_encoder_options o;
    memset(&o, 0, sizeof o);
    return o;
}

sbert_status sbert_cross_encoder_load(const char *dir, const sbert_cross_encoder_options *opt, sbert_model **out) {
    if (!out) return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_cross_encoder_load: out is NULL");
    *out = NULL;
    if (!dir || !*dir) return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_cross_encoder_load: empty path");
    sbert_cross_encoder_options d = sbert_cross_encoder_options_default();
    if (!opt) opt = &d;
    char resolved[4096];
    if (!sbert_dir_exists(dir) && sbert_hf_is_model_id(dir)) {
        SBERT_TRY(sbert_hf_resolve(dir, opt->revision, resolved, sizeof resolved));
        dir = resolved;
    }
    if (!sbert_dir_exists(dir)) return sbert_fail(SBERT_ERR_IO, "%s: model directory does not exist", dir);
    if (opt->num_threads > 0) sbert_set_num_threads(opt->num_threads);
    sbert_model *m = NULL;
    SBERT_TRY(sbert_model_new_empty(dir, SBERT_KIND_CROSS_ENCODER, &m));
    ce_open_options o = {opt->num_labels, opt->seed, opt->activation_fn};
    sbert_status st = ce_open(m, &o);
    if (st == SBERT_OK && opt->max_length) st = sbert_model_set_max_seq_length(m, opt->max_length);
    if (st != SBERT_OK) {
        sbert_error_prefix("loading CrossEncoder %s: ", dir);
        sbert_model_free(m);
        return st;
    }
    *out = m;
    return SBERT_OK;
}

/* --------------------------------------------------------------- predict */

sbert_predict_options sbert_predict_options_default(void) {
    sbert_predict_options o;
    memset(&o, 0, sizeof o);
    o.batch_size = 32;
    return o;
}

/* Pairs a[i], b[i] into out; messages count pairs from `first`. */
static sbert_status tokenize_pairs(const sbert_model *m, const char *const *a, const char *const *b, size_t n,
                                   size_t first, sbert_packed *out) {
    sbert_packed_clear(out);
    for (size_t i = 0; i < n; i++) {
        sbert_encoding e;
        sbert_status st = sbert_model_tokenize(m, NULL, a[i], b[i], &e);
        if (st != SBERT_OK) {
            sbert_error_prefix("pair %zu: ", first + i);
            return st;
        }
        st = sbert_packed_append(out, &e);
        sbert_encoding_free(&e);
        SBERT_TRY(st);
    }
    return SBERT_OK;
}

sbert_status sbert_cross_encoder_tokenize_pairs(const sbert_model *m, const char *const *a, const char *const *b,
                                                size_t n, sbert_packed *out) {
    return tokenize_pairs(m, a, b, n, 0, out);
}

static sbert_status check_ce(const sbert_model *m, const char *fn) {
    if (!head_of(m))
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: the model is not a CrossEncoder (load it with "
                                                 "sbert_cross_encoder_load)",
                          fn);
    if (m->default_prompt_name && *m->default_prompt_name && sbert_model_prompt(m, m->default_prompt_name) &&
        *sbert_model_prompt(m, m->default_prompt_name))
        return sbert_fail(SBERT_ERR_UNSUPPORTED, "%s: CrossEncoder prompts (default_prompt_name \"%s\") are not "
                                                 "supported yet",
                          fn, m->default_prompt_name);
    return SBERT_OK;
}

static sbert_status logits_range(sbert_model *m, const char *const *a, const char *const *b, size_t n, size_t bs,
                                 float *out, sbert_progress_fn progress, void *user) {
    const size_t L = sbert_cross_encoder_num_labels(m);
    if (bs == 0) bs = 32;
    sbert_packed batch;
    memset(&batch, 0, sizeof batch);
    sbert_run run;
    memset(&run, 0, sizeof run);
    sbert_status st = SBERT_OK;
    for (size_t s = 0; s < n && st == SBERT_OK; s += bs) {
        size_t nb = n - s < bs ? n - s : bs;
        if ((st = tokenize_pairs(m, a + s, b + s, nb, s, &batch)) != SBERT_OK) break;
        sbert_run_reset(&run);
        sbert_features f;
        memset(&f, 0, sizeof f);
        f.n_seq = batch.n;
        f.T = batch.off[batch.n];
        f.offs = batch.off;
        f.ids = batch.ids;
        f.types = batch.types;
        for (size_t i = 0; i < m->n_mods && st == SBERT_OK; i++) {
            void *rec = NULL;
            st = m->mods[i]->ops->forward(m->mods[i], &f, &run, &rec);
            if (st != SBERT_OK) sbert_error_prefix("%s: ", m->mods[i]->ops->class_name);
        }
        if (st == SBERT_OK) memcpy(out + s * L, f.emb, nb * L * sizeof *out);
        if (st == SBERT_OK && progress) progress(s + nb, n, user);
    }
    sbert_packed_free(&batch);
    sbert_run_free(&run);
    return st;
}

sbert_status sbert_cross_encoder_logits(sbert_model *m, const char *const *a, const char *const *b, size_t n,
                                        size_t batch_size, float *out) {
    SBERT_TRY(check_ce(m, "CrossEncoder"));
    return logits_range(m, a, b, n, batch_size, out, NULL, NULL);
}

sbert_status sbert_cross_encoder_predict(sbert_model *m, const char *const *queries, const char *const *docs,
                                         size_t n, const sbert_predict_options *opt, float *out) {
    SBERT_TRY(check_ce(m, "sbert_cross_encoder_predict"));
    if (n == 0) return SBERT_OK;
    if (!queries || !docs || !out)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_cross_encoder_predict: queries, docs or out is NULL");
    for (size_t i = 0; i < n; i++)
        if (!queries[i] || !docs[i])
            return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_cross_encoder_predict: pair %zu has a NULL text", i);
    sbert_predict_options o = opt ? *opt : sbert_predict_options_default();
    sbert_ce_act act = sbert_cross_encoder_act(m);
    if (o.activation_fn) SBERT_TRY(sbert_ce_act_parse(o.activation_fn, &act));
    const size_t L = sbert_cross_encoder_num_labels(m);
    SBERT_TRY(logits_range(m, queries, docs, n, o.batch_size, out, o.progress, o.progress_user));
    /* As CrossEncoder._inference: activation on the fp32 logits, then the
     * optional softmax over the labels. */
    sbert_ce_act_apply(act, out, out, n, L);
    if (o.apply_softmax && L > 1) sbert_ce_act_apply(SBERT_CE_ACT_SOFTMAX, out, out, n, L);
    return SBERT_OK;
}

static int hit_cmp(const void *x, const void *y) {
    const sbert_rank_hit *a = x, *b = y;
    if (a->score != b->score) return a->score < b->score ? 1 : -1;
    return a->corpus_id < b->corpus_id ? -1 : (a->corpus_id > b->corpus_id); /* Python's stable sort */
}

sbert_status sbert_cross_encoder_rank(sbert_model *m, const char *query, const char *const *docs, size_t n,
                                      const sbert_predict_options *opt, sbert_rank_hit *out) {
    SBERT_TRY(check_ce(m, "sbert_cross_encoder_rank"));
    if (sbert_cross_encoder_num_labels(m) != 1)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "CrossEncoder.rank() only works for models with num_labels=1 (this one has %zu). Consider "
                          "using predict with input pairs instead.",
                          sbert_cross_encoder_num_labels(m));
    if (n == 0) return SBERT_OK;
    if (!query || !docs || !out) return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_cross_encoder_rank: NULL argument");
    const char **q = malloc(n * sizeof *q);
    float *s = malloc(n * sizeof *s);
    sbert_status st = q && s ? SBERT_OK : nomem("rank");
    if (st == SBERT_OK) {
        for (size_t i = 0; i < n; i++) q[i] = query;
        st = sbert_cross_encoder_predict(m, q, docs, n, opt, s);
    }
    if (st == SBERT_OK) {
        for (size_t i = 0; i < n; i++) out[i] = (sbert_rank_hit){i, s[i]};
        qsort(out, n, sizeof *out, hit_cmp);
    }
    free(q);
    free(s);
    return st;
}

/* ------------------------------------------------------------------ save */

static sbert_status write_json(const char *dir, const char *name, const cJSON *j) {
    char *text = cJSON_Print(j);
    if (!text) return nomem(name);
    sbert_status st = sbert_write_text_file(dir, name, text);
    cJSON_free(text);
    return st;
}

/* The source folder of the Transformer (tokenizer and config files). */
static sbert_status source_dir(const sbert_model *m, char *out, size_t cap) {
    if (m->mod_paths[0][0]) return sbert_path_join(out, cap, m->dir, m->mod_paths[0]);
    snprintf(out, cap, "%s", m->dir);
    return SBERT_OK;
}

/* config.json: the source's, as a *ForSequenceClassification config with the
 * current labels and the v4-v5.3 "sentence_transformers" block. */
static sbert_status save_config(const sbert_model *m, const sbert_head_config *hc, const char *src, const char *dir) {
    char path[PATH_CAP];
    SBERT_TRY(sbert_path_join(path, sizeof path, src, "config.json"));
    cJSON *cfg = NULL;
    SBERT_TRY(sbert_json_load(path, &cfg));
    sbert_status st = SBERT_OK;
    /* Keep the source's labels when their number matches. */
    cJSON *id2 = cJSON_GetObjectItemCaseSensitive(cfg, "id2label");
    int keep = is_seq_cls(cfg) && cJSON_IsObject(id2) && (size_t)cJSON_GetArraySize(id2) == hc->num_labels;
    cJSON *new_id2 = cJSON_CreateObject(), *new_l2i = cJSON_CreateObject();
    if (!new_id2 || !new_l2i) st = nomem("config.json");
    for (size_t i = 0; st == SBERT_OK && i < hc->num_labels; i++) {
        char key[32], label[64];
        snprintf(key, sizeof key, "%zu", i);
        const cJSON *l = keep ? cJSON_GetObjectItemCaseSensitive(id2, key) : NULL;
        if (cJSON_IsString(l)) snprintf(label, sizeof label, "%s", l->valuestring);
        else snprintf(label, sizeof label, "LABEL_%zu", i);
        if (!cJSON_AddStringToObject(new_id2, key, label) || !cJSON_AddNumberToObject(new_l2i, label, (double)i))
            st = nomem("config.json");
    }
    static const char *const drop[] = {"architectures", "id2label", "label2id", "num_labels", "sentence_transformers",
                                       "sbert_ce_default_activation_function"};
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++) cJSON_DeleteItemFromObjectCaseSensitive(cfg, drop[i]);
    cJSON *arch = cJSON_CreateArray(), *blk = cJSON_CreateObject();
    if (st == SBERT_OK && (!arch || !blk)) st = nomem("config.json");
    if (st == SBERT_OK) {
        cJSON_AddItemToArray(arch, cJSON_CreateString(hc->architecture));
        cJSON_AddItemToObject(cfg, "architectures", arch);
        arch = NULL;
        cJSON_AddItemToObject(cfg, "id2label", new_id2);
        cJSON_AddItemToObject(cfg, "label2id", new_l2i);
        new_id2 = new_l2i = NULL;
        cJSON_AddStringToObject(blk, "activation_fn", sbert_ce_act_path(sbert_cross_encoder_act(m)));
        cJSON_AddStringToObject(blk, "version", "5.0.0");
        cJSON_AddItemToObject(cfg, "sentence_transformers", blk);
        blk = NULL;
        st = write_json(dir, "config.json", cfg);
    }
    cJSON_Delete(arch);
    cJSON_Delete(blk);
    cJSON_Delete(new_id2);
    cJSON_Delete(new_l2i);
    cJSON_Delete(cfg);
    return st;
}

/* tokenizer_config.json with model_max_length = the current max length
 * (where a v6 CrossEncoder keeps it). */
static sbert_status save_tokenizer_config(const sbert_model *m, const char *src, const char *dir) {
    char path[PATH_CAP];
    SBERT_TRY(sbert_path_join(path, sizeof path, src, "tokenizer_config.json"));
    cJSON *tc = NULL;
    if (sbert_file_exists(path)) SBERT_TRY(sbert_json_load(path, &tc));
    else tc = cJSON_CreateObject();
    if (!cJSON_IsObject(tc)) {
        cJSON_Delete(tc);
        return tc ? sbert_fail(SBERT_ERR_FORMAT, "%s: not a JSON object", path) : nomem("tokenizer_config.json");
    }
    cJSON_DeleteItemFromObjectCaseSensitive(tc, "model_max_length");
    cJSON_AddNumberToObject(tc, "model_max_length", (double)sbert_model_max_seq_length(m));
    sbert_status st = write_json(dir, "tokenizer_config.json", tc);
    cJSON_Delete(tc);
    return st;
}

/* model.safetensors: the encoder under "<prefix>name" and the head. */
static sbert_status save_weights(const sbert_model *m, const char *dir) {
    sbert_transformer *tf = sbert_transformer_module_encoder(m->mods[0]);
    sbert_module *head = m->mods[1];
    const sbert_head_config *hc = sbert_classifier_head_config(head);
    const size_t np = sbert_transformer_num_params(tf);
    sbert_st_entry *e = calloc(np + 4, sizeof *e);
    char(*names)[192] = calloc(np, sizeof *names);
    sbert_status st = e && names ? SBERT_OK : nomem("model.safetensors");
    size_t n_floats = 0, n = 0;
    const float *params = st == SBERT_OK ? sbert_transformer_params(tf, &n_floats) : NULL;
    for (size_t i = 0; st == SBERT_OK && i < np; i++) {
        const sbert_transformer_param *p = sbert_transformer_param_at(tf, i);
        snprintf(names[i], sizeof names[i], "%s%s", hc->prefix, p->name);
        e[n].name = names[i];
        e[n].data = params + p->offset;
        e[n].ndim = p->ndim;
        e[n].shape[0] = p->shape[0];
        e[n].shape[1] = p->shape[1];
        n++;
    }
    for (int i = 0; st == SBERT_OK && i < 4; i++) {
        size_t numel;
        int64_t shape[2];
        int ndim;
        e[n].data = sbert_classifier_head_tensor(head, i, &numel, shape, &ndim);
        e[n].name = hc->names[i];
        e[n].ndim = ndim;
        e[n].shape[0] = shape[0];
        e[n].shape[1] = shape[1];
        n++;
    }
    char path[PATH_CAP];
    if (st == SBERT_OK) st = sbert_path_join(path, sizeof path, dir, "model.safetensors");
    if (st == SBERT_OK) st = sbert_st_write(path, e, n, NULL, 0);
    free(e);
    free(names);
    return st;
}

static sbert_status save_st_files(const sbert_model *m, const char *dir) {
    /* modules.json: the v6 CrossEncoder layout. */
    cJSON *mods = cJSON_CreateArray(), *e = cJSON_CreateObject();
    cJSON *sbc = cJSON_CreateObject(), *mc = cJSON_CreateObject(), *txt = cJSON_CreateObject();
    cJSON *stc = m->st_config ? cJSON_Duplicate(m->st_config, 1) : cJSON_CreateObject();
    cJSON *ver = cJSON_CreateObject();
    sbert_status st = mods && e && sbc && mc && txt && stc && ver ? SBERT_OK : nomem("CrossEncoder config files");
    if (st == SBERT_OK) {
        cJSON_AddNumberToObject(e, "idx", 0);
        cJSON_AddStringToObject(e, "name", "0");
        cJSON_AddStringToObject(e, "path", "");
        cJSON_AddStringToObject(e, "type", CE_TRANSFORMER_TYPE);
        cJSON_AddItemToArray(mods, e);
        e = NULL;
        st = write_json(dir, "modules.json", mods);
    }
    if (st == SBERT_OK) {
        cJSON_AddStringToObject(sbc, "transformer_task", "sequence-classification");
        cJSON_AddStringToObject(txt, "method", "forward");
        cJSON_AddStringToObject(txt, "method_output_name", "logits");
        cJSON_AddItemToObject(mc, "text", txt);
        txt = NULL;
        cJSON_AddItemToObject(sbc, "modality_config", mc);
        mc = NULL;
        cJSON_AddStringToObject(sbc, "module_output_name", "scores");
        st = write_json(dir, "sentence_bert_config.json", sbc);
    }
    if (st == SBERT_OK) {
        static const char *const owned[] = {"__version__", "activation_fn", "model_type", "prompts",
                                            "default_prompt_name", "similarity_fn_name"};
        for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++)
            cJSON_DeleteItemFromObjectCaseSensitive(stc, owned[i]);
        cJSON_AddStringToObject(ver, "sentence_transformers", "5.0.0");
        cJSON_AddStringToObject(ver, "sbert", sbert_version());
        cJSON_AddItemToObject(stc, "__version__", ver);
        ver = NULL;
        cJSON_AddStringToObject(stc, "activation_fn", sbert_ce_act_path(sbert_cross_encoder_act(m)));
        cJSON_AddStringToObject(stc, "model_type", "CrossEncoder");
        cJSON *prompts = cJSON_AddObjectToObject(stc, "prompts");
        for (size_t i = 0; prompts && i < m->n_prompts; i++)
            if (*m->prompts[i].text) cJSON_AddStringToObject(prompts, m->prompts[i].name, m->prompts[i].text);
        if (m->default_prompt_name) cJSON_AddStringToObject(stc, "default_prompt_name", m->default_prompt_name);
        else cJSON_AddNullToObject(stc, "default_prompt_name");
        st = prompts ? write_json(dir, "config_sentence_transformers.json", stc) : nomem("prompts");
    }
    cJSON_Delete(mods);
    cJSON_Delete(e);
    cJSON_Delete(sbc);
    cJSON_Delete(mc);
    cJSON_Delete(txt);
    cJSON_Delete(stc);
    cJSON_Delete(ver);
    return st;
}

sbert_status sbert_cross_encoder_save_dir(const sbert_model *m, const char *dir) {
    if (!head_of(m)) return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_cross_encoder_save: not a CrossEncoder");
    static const char *const TOK_FILES[] = {"tokenizer.json", "special_tokens_map.json", "vocab.txt",
                                            "vocab.json",     "merges.txt",              "added_tokens.json",
                                            "sentencepiece.bpe.model", "spiece.model"};
    char src[PATH_CAP];
    SBERT_TRY(source_dir(m, src, sizeof src));
    SBERT_TRY(sbert_mkdir_p(dir));
    for (size_t i = 0; i < sizeof TOK_FILES / sizeof TOK_FILES[0]; i++) SBERT_TRY(sbert_copy_file_atomic(src, dir, TOK_FILES[i]));
    SBERT_TRY(save_tokenizer_config(m, src, dir));
    SBERT_TRY(save_config(m, sbert_classifier_head_config(m->mods[1]), src, dir));
    SBERT_TRY(save_weights(m, dir));
    return save_st_files(m, dir);
}

sbert_status sbert_cross_encoder_save(const sbert_model *m, const char *dir) {
    if (!m || !dir || !*dir) return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_cross_encoder_save: NULL argument");
    sbert_status st = sbert_cross_encoder_save_dir(m, dir);
    if (st != SBERT_OK) sbert_error_prefix("saving CrossEncoder to %s: ", dir);
    return st;
}
