/*
 * modules/transformer_module.c -- the sentence-transformers `Transformer`
 * module: a Hugging Face encoder (modules/transformer.c) with its tokenizer
 * and the settings of sentence_bert_config.json, behind the module contract.
 *
 * Load (st_formats.md A.1): the module folder (usually the model root) holds
 * config.json, model.safetensors, tokenizer.json, tokenizer_config.json and
 * sentence_bert_config.json (or a legacy sentence_<family>_config.json).
 * max_seq_length: processor_kwargs / tokenizer_args model_max_length, else
 * sentence_bert_config max_seq_length, else tokenizer_config.json
 * model_max_length capped at what the position embeddings allow.
 *
 * Tokenize: prompt prepended as a raw string, do_lower_case, special tokens,
 * longest_first truncation to max_seq_length (Transformer.preprocess).
 *
 * Save: the config and tokenizer files copied from the source folder,
 * sentence_bert_config.json rewritten with the current settings (other keys
 * kept), model.safetensors with the encoder weights under their AutoModel
 * names plus the source tensors the encoder does not train (the pooler).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <utf8proc.h>

#include "base/error.h"
#include "io/atomic.h"
#include "io/dirs.h"
#include "io/file.h"
#include "io/safetensors.h"
#include "modules/lora.h"
#include "modules/transformer.h"
#include "modules/transformer_module.h"

#define PATH_CAP 4096

typedef struct {
    sbert_module base;
    sbert_transformer *t;
    sbert_tokenizer *tok;
    char *src_dir;          /* folder the module was loaded from */
    char *base_dir;         /* where the encoder weights came from (the base model of an adapter), or NULL = src_dir */
    sbert_lora *lora;       /* LoRA adapters (modules/lora.h), or NULL */
    cJSON *sbc;             /* sentence_bert_config.json as loaded, or NULL */
    size_t max_seq_length;  /* as configured */
    size_t max_tokens;      /* what the position embeddings allow */
    int do_lower_case;
    int pruned;             /* layers were removed: config.json is rewritten with the new count */
    const float *const *layer_grads; /* for the next backward: gradients of earlier hidden states, or NULL */
} tf_module;

static sbert_status nomem(const char *what) { return sbert_fail(SBERT_ERR_NOMEM, "out of memory (%s)", what); }

/* ------------------------------------------------------------ tokenize */

/* Lower-case UTF-8 text code point by code point (what the Lowercase
 * normalizer Python prepends for do_lower_case=True does, up to the few
 * characters whose full lowercase mapping has several code points). */
static sbert_status lowercase_utf8(const char *s, size_t n, char **out, size_t *out_len) {
    char *buf = malloc(n * 2 + 4);
    if (!buf) return nomem("lowercase");
    size_t o = 0, i = 0;
    while (i < n) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0) {
            free(buf);
            return sbert_fail(SBERT_ERR_INVALID_ARG, "invalid UTF-8 at byte offset %zu", i);
        }
        o += (size_t)utf8proc_encode_char(utf8proc_tolower(cp), (utf8proc_uint8_t *)buf + o);
        i += (size_t)k;
    }
    buf[o] = '\0';
    *out = buf;
    *out_len = o;
    return SBERT_OK;
}

/* text (n bytes), lower-cased when the module says so: *s points at the text
 * to encode, *owned is what to free. */
static sbert_status prepare(const tf_module *m, const char *text, size_t n, const char **s, size_t *len,
                            char **owned) {
    *owned = NULL;
    *s = text;
    *len = n;
    if (!m->do_lower_case) return SBERT_OK;
    SBERT_TRY(lowercase_utf8(text, n, owned, len));
    *s = *owned;
    return SBERT_OK;
}

static sbert_status tm_tokenize(const sbert_module *mod, const char *prompt, const char *text, const char *pair,
                                sbert_encoding *enc) {
    const tf_module *m = (const tf_module *)mod;
    size_t pl = prompt ? strlen(prompt) : 0, tl = strlen(text);
    char *joined = NULL, *low1 = NULL, *low2 = NULL;
    const char *s = text;
    size_t n = tl;
    if (pl) {
        joined = malloc(pl + tl + 1);
        if (!joined) return nomem("prompt + text");
        memcpy(joined, prompt, pl);
        memcpy(joined + pl, text, tl + 1);
        s = joined;
        n = pl + tl;
    }
    const char *p2 = pair;
    size_t n2 = pair ? strlen(pair) : 0;
    sbert_status st = prepare(m, s, n, &s, &n, &low1);
    if (st == SBERT_OK && pair) st = prepare(m, pair, n2, &p2, &n2, &low2);
    if (st == SBERT_OK) {
        sbert_tokenize_options to = sbert_tokenize_options_default();
        to.add_special_tokens = 1;
        to.max_length = (long)(m->max_seq_length < m->max_tokens ? m->max_seq_length : m->max_tokens);
        to.strategy = SBERT_TRUNCATE_LONGEST_FIRST;
        st = sbert_tokenizer_encode(m->tok, s, n, p2, n2, &to, enc);
    }
    free(joined);
    free(low1);
    free(low2);
    return st;
}

/* The prompt length (tokens excluded from pooling when include_prompt is
 * false): the prompt tokenized alone with special tokens, minus one when the
 * tokenizer appends a trailing special token (as Transformer._get_prompt_length). */
static sbert_status tm_prompt_length(const sbert_module *mod, const char *prompt, size_t *out) {
    const tf_module *m = (const tf_module *)mod;
    *out = 0;
    if (!prompt || !*prompt) return SBERT_OK;
    sbert_encoding with = {0}, without = {0};
    SBERT_TRY(tm_tokenize(mod, NULL, prompt, NULL, &with));
    size_t len = with.len;
    if (len > 0) {
        /* Does the post-processor append a special token? Compare with the
         * encoding without special tokens: a trailing token that the plain
         * encoding does not end with was added (SEP, </s>, EOS). */
        sbert_tokenize_options to = sbert_tokenize_options_default();
        to.add_special_tokens = 0;
        to.max_length = -1;
        const char *s;
        char *lower = NULL;
        size_t n;
        sbert_status st = prepare(m, prompt, strlen(prompt), &s, &n, &lower);
        if (st == SBERT_OK) st = sbert_tokenizer_encode(m->tok, s, n, NULL, 0, &to, &without);
        free(lower);
        if (st != SBERT_OK) {
            sbert_encoding_free(&with);
            return st;
        }
        if (with.len > without.len &&
            (without.len == 0 || with.input_ids[len - 1] != without.input_ids[without.len - 1]))
            len--;
    }
    sbert_encoding_free(&with);
    sbert_encoding_free(&without);
    *out = len;
    return SBERT_OK;
}

static const sbert_tokenizer *tm_tokenizer(const sbert_module *mod) { return ((const tf_module *)mod)->tok; }
static size_t tm_max_seq_length(const sbert_module *mod) { return ((const tf_module *)mod)->max_seq_length; }
static void tm_set_max_seq_length(sbert_module *mod, size_t n) {
    if (n > 0) ((tf_module *)mod)->max_seq_length = n;
}

/* ------------------------------------------------------------ forward */

static sbert_status tm_forward(sbert_module *mod, sbert_features *f, sbert_run *run, void **rec) {
    tf_module *m = (tf_module *)mod;
    (void)rec;
    const size_t H = sbert_transformer_hidden_size(m->t);
    float *tok = sbert_run_alloc(run, f->T * H, 0);
    if (!tok) return SBERT_ERR_NOMEM;
    if (run->train)
        SBERT_TRY(sbert_transformer_forward_train(m->t, f->ids, f->types, f->offs, f->n_seq, run->rng, tok));
    else
        SBERT_TRY(sbert_transformer_forward(m->t, f->ids, f->types, f->offs, f->n_seq, tok));
    f->tok = tok;
    f->tok_dim = H;
    return SBERT_OK;
}

static sbert_status tm_backward(sbert_module *mod, const sbert_features *in, const sbert_features *out,
                                const sbert_feature_grads *dout, sbert_feature_grads *din, sbert_run *run,
                                void *rec) {
    tf_module *m = (tf_module *)mod;
    (void)in;
    (void)out;
    (void)din;
    (void)run;
    (void)rec;
    /* The module's rows are its flat buffer in order: their gradients are
     * one buffer laid out like sbert_transformer_params. */
    float *grads = sbert_params_at(mod->pt, mod->pfirst)->grad;
    if (m->lora) sbert_lora_bind_grads(m->lora, mod->pt, mod->pfirst + sbert_transformer_num_params(m->t));
    sbert_status st = sbert_transformer_backward_layers(m->t, dout->tok, m->layer_grads, grads, NULL);
    m->layer_grads = NULL;
    sbert_transformer_release_activations(m->t);
    return st;
}

static void tm_rec_free(sbert_module *mod, void *rec) {
    (void)rec;
    sbert_transformer_release_activations(((tf_module *)mod)->t);
}

static sbert_status tm_params(sbert_module *mod, sbert_param_table *t) {
    tf_module *m = (tf_module *)mod;
    size_t n = 0;
    float *base = sbert_transformer_params(m->t, &n);
    int sinus = sbert_transformer_frozen_positions(m->t);
    for (size_t i = 0; i < sbert_transformer_num_params(m->t); i++) {
        const sbert_transformer_param *p = sbert_transformer_param_at(m->t, i);
        int frozen = (sinus && strcmp(p->name, "embeddings.position_embeddings.weight") == 0) || m->lora;
        SBERT_TRY(sbert_param_add(t, p->name, base + p->offset, (size_t)p->shape[0],
                                  p->ndim > 1 ? (size_t)p->shape[1] : 0, !frozen, -1));
    }
    if (m->lora) SBERT_TRY(sbert_lora_params(m->lora, t)); /* the adapters, after the frozen encoder */
    return SBERT_OK;
}

static size_t tm_out_dim(const sbert_module *mod) {
    return sbert_transformer_hidden_size(((const tf_module *)mod)->t);
}

static void tm_free(sbert_module *mod) {
    tf_module *m = (tf_module *)mod;
    if (!m) return;
    sbert_module_fini(mod);
    sbert_transformer_free(m->t);
    sbert_lora_free(m->lora);
    sbert_tokenizer_free(m->tok);
    cJSON_Delete(m->sbc);
    free(m->src_dir);
    free(m->base_dir);
    free(m);
}

/* ------------------------------------------------------------------ save */

/* Tokenizer and model-config files a Transformer folder may hold. */
static const char *const TF_FILES[] = {"config.json",       "tokenizer.json",  "tokenizer_config.json",
                                       "special_tokens_map.json", "vocab.txt", "vocab.json",
                                       "merges.txt",        "added_tokens.json", "sentencepiece.bpe.model",
                                       "spiece.model"};

/* Encoder weights -> dir/model.safetensors: the trained table, plus the
 * source's tensors the encoder does not train (pooler, ...), with the
 * base-model prefix stripped so every name is an AutoModel name. */
static sbert_status save_weights(const tf_module *m, const char *dir) {
    sbert_transformer *tf = m->t;
    size_t np = sbert_transformer_num_params(tf), n_floats = 0;
    char path[PATH_CAP];
    SBERT_TRY(sbert_path_join(path, sizeof path, m->base_dir ? m->base_dir : m->src_dir, "model.safetensors"));
    sbert_safetensors *src = NULL;
    if (sbert_file_exists(path)) SBERT_TRY(sbert_st_open(path, &src));
    size_t n_src = src ? sbert_st_count(src) : 0;
    sbert_st_entry *e = calloc(np + n_src + 1, sizeof *e);
    float **extra = calloc(n_src + 1, sizeof *extra);
    char **names = calloc(n_src + 1, sizeof *names);
    sbert_status st = SBERT_OK;
    size_t n = 0, n_extra = 0;
    if (!e || !extra || !names) {
        st = nomem("save table");
        goto done;
    }
    const float *params = sbert_transformer_params(tf, &n_floats);
    for (size_t i = 0; i < np; i++) {
        const sbert_transformer_param *p = sbert_transformer_param_at(tf, i);
        e[n].name = p->name;
        e[n].data = params + p->offset;
        e[n].ndim = p->ndim;
        e[n].shape[0] = p->shape[0];
        e[n].shape[1] = p->shape[1];
        n++;
    }
    const char *mt = sbert_transformer_model_type(tf);
    for (size_t i = 0; i < n_src; i++) {
        const sbert_st_tensor *t = sbert_st_at(src, i);
        const char *name = t->name;
        /* Strip "<prefix>." where the rest is an encoder name ("bert.pooler..."). */
        const char *dot = strchr(name, '.');
        if (dot && (strncmp(name, "bert.", 5) == 0 || strncmp(name, "roberta.", 8) == 0 ||
                    strncmp(name, "distilbert.", 11) == 0 || strncmp(name, "mpnet.", 6) == 0 ||
                    (mt && strncmp(name, mt, strlen(mt)) == 0 && name[strlen(mt)] == '.')))
            name = dot + 1;
        int known = 0;
        for (size_t k = 0; k < np && !known; k++) known = strcmp(sbert_transformer_param_at(tf, k)->name, name) == 0;
        if (known) continue;
        if (m->pruned && (!strncmp(name, "encoder.layer.", 14) || !strncmp(name, "transformer.layer.", 18)))
            continue; /* a layer that was removed */
        if (strncmp(name, "embeddings.", 11) && strncmp(name, "encoder.", 8) && strncmp(name, "pooler.", 7) &&
            strncmp(name, "transformer.", 12))
            continue; /* heads (lm_head, cls, classifier) are not part of AutoModel */
        if (t->dtype != SBERT_DT_F32 && t->dtype != SBERT_DT_F16 && t->dtype != SBERT_DT_BF16 &&
            t->dtype != SBERT_DT_F64)
            continue; /* buffers such as position_ids */
        size_t numel = 1;
        for (int k = 0; k < t->ndim; k++) numel *= (size_t)t->shape[k];
        extra[n_extra] = malloc((numel ? numel : 1) * sizeof(float));
        names[n_extra] = malloc(strlen(name) + 1);
        if (!extra[n_extra] || !names[n_extra]) {
            free(extra[n_extra]);
            free(names[n_extra]);
            st = nomem("save");
            goto done;
        }
        strcpy(names[n_extra], name);
        if ((st = sbert_st_read_f32(src, t->name, NULL, 0, extra[n_extra])) != SBERT_OK) {
            n_extra++;
            goto done;
        }
        e[n].name = names[n_extra];
        e[n].data = extra[n_extra];
        e[n].ndim = t->ndim;
        for (int k = 0; k < t->ndim; k++) e[n].shape[k] = t->shape[k];
        n++;
        n_extra++;
    }
    if ((st = sbert_path_join(path, sizeof path, dir, "model.safetensors")) == SBERT_OK)
        st = sbert_st_write(path, e, n, NULL, 0);
done:
    for (size_t i = 0; i < n_extra; i++) {
        free(extra[i]);
        free(names[i]);
    }
    free(extra);
    free(names);
    free(e);
    if (src) sbert_st_close(src);
    return st;
}

/* config.json of a pruned encoder: the source's, with num_hidden_layers
 * (DistilBERT: n_layers) set to the layers kept. */
static sbert_status save_pruned_config(const tf_module *m, const char *dir) {
    char path[PATH_CAP];
    SBERT_TRY(sbert_path_join(path, sizeof path, m->src_dir, "config.json"));
    cJSON *cfg = NULL;
    SBERT_TRY(sbert_json_load(path, &cfg));
    const char *key = strcmp(sbert_transformer_model_type(m->t), "distilbert") ? "num_hidden_layers" : "n_layers";
    cJSON_DeleteItemFromObjectCaseSensitive(cfg, key);
    cJSON_AddNumberToObject(cfg, key, (double)sbert_transformer_num_layers(m->t));
    char *text = cJSON_Print(cfg);
    cJSON_Delete(cfg);
    if (!text) return nomem("config.json");
    sbert_status st = sbert_write_text_file(dir, "config.json", text);
    cJSON_free(text);
    return st;
}

static sbert_status tm_save(const sbert_module *mod, const char *dir) {
    const tf_module *m = (const tf_module *)mod;
    /* With an adapter, no config.json: transformers takes a folder with one for a
     * complete model and would look for its weights there (the base model has them). */
    for (size_t i = m->lora || m->pruned ? 1 : 0; i < sizeof TF_FILES / sizeof *TF_FILES; i++)
        SBERT_TRY(sbert_copy_file_atomic(m->src_dir, dir, TF_FILES[i]));
    if (m->pruned) SBERT_TRY(save_pruned_config(m, dir));
    /* sentence_bert_config.json: the loaded keys, with the current settings. */
    cJSON *sbc = m->sbc ? cJSON_Duplicate(m->sbc, 1) : cJSON_CreateObject();
    if (!sbc) return nomem("sentence_bert_config.json");
    cJSON_DeleteItemFromObjectCaseSensitive(sbc, "max_seq_length");
    cJSON_DeleteItemFromObjectCaseSensitive(sbc, "do_lower_case");
    /* A model_max_length in the tokenizer kwargs would override max_seq_length on reload. */
    static const char *const kw[] = {"processor_kwargs", "tokenizer_args", "tokenizer_kwargs"};
    for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++) {
        cJSON *o = cJSON_GetObjectItemCaseSensitive(sbc, kw[i]);
        if (cJSON_IsObject(o)) cJSON_DeleteItemFromObjectCaseSensitive(o, "model_max_length");
    }
    cJSON_AddNumberToObject(sbc, "max_seq_length", (double)m->max_seq_length);
    cJSON_AddBoolToObject(sbc, "do_lower_case", m->do_lower_case);
    char *text = cJSON_Print(sbc);
    cJSON_Delete(sbc);
    if (!text) return nomem("sentence_bert_config.json");
    sbert_status st = sbert_write_text_file(dir, "sentence_bert_config.json", text);
    cJSON_free(text);
    SBERT_TRY(st);
    if (m->lora) {
        /* PEFT's layout: the adapter only; the encoder comes from the base model */
        char src[PATH_CAP], base[PATH_CAP];
        const char *bd = m->base_dir ? m->base_dir : m->src_dir;
        if (!realpath(bd, base)) snprintf(base, sizeof base, "%s", bd);
        SBERT_TRY(sbert_path_join(src, sizeof src, base, "model.safetensors"));
        return sbert_lora_save(m->lora, dir, base, src);
    }
    return save_weights(m, dir);
}

/* ------------------------------------------------------------------ load */

/* The tokenizer_args / processor_kwargs "model_max_length", if any. */
static sbert_status kwargs_max_length(const cJSON *sbc, const char *path, size_t *out, int *present) {
    *present = 0;
    static const char *const keys[] = {"processor_kwargs", "tokenizer_args", "tokenizer_kwargs"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const cJSON *kw = cJSON_GetObjectItemCaseSensitive(sbc, keys[i]);
        if (!cJSON_IsObject(kw)) continue;
        SBERT_TRY(sbert_json_size(kw, "model_max_length", path, out, present));
        if (*present) return SBERT_OK;
    }
    return SBERT_OK;
}

/* sentence_bert_config.json (or a legacy name) -> settings. */
static sbert_status read_sbc(tf_module *m, const char *dir, int mode, size_t *msl, int *has_msl, size_t *kw_len,
                             int *has_kw) {
    static const char *const names[] = {"sentence_bert_config.json",       "sentence_roberta_config.json",
                                        "sentence_distilbert_config.json", "sentence_camembert_config.json",
                                        "sentence_albert_config.json",     "sentence_xlm-roberta_config.json",
                                        "sentence_xlnet_config.json"};
    char path[PATH_CAP];
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !m->sbc; i++) {
        SBERT_TRY(sbert_path_join(path, sizeof path, dir, names[i]));
        if (sbert_file_exists(path)) SBERT_TRY(sbert_json_load(path, &m->sbc));
    }
    if (!m->sbc) return SBERT_OK;
    if (!cJSON_IsObject(m->sbc)) return sbert_fail(SBERT_ERR_FORMAT, "%s: not a JSON object", path);
    SBERT_TRY(sbert_json_size(m->sbc, "max_seq_length", path, msl, has_msl));
    SBERT_TRY(kwargs_max_length(m->sbc, path, kw_len, has_kw));
    const cJSON *lc = cJSON_GetObjectItemCaseSensitive(m->sbc, "do_lower_case");
    if (lc && !cJSON_IsNull(lc)) {
        if (!cJSON_IsBool(lc)) return sbert_fail(SBERT_ERR_FORMAT, "%s: \"do_lower_case\" must be true or false", path);
        m->do_lower_case = cJSON_IsTrue(lc);
    }
    /* mode 2: the Transformer of a CrossEncoder (sequence-classification;
     * the head is a module of its own, modules/classifier_head.c). */
    const char *want = mode == 2 ? "sequence-classification" : "feature-extraction";
    const cJSON *task = cJSON_GetObjectItemCaseSensitive(m->sbc, "transformer_task");
    if (mode == 2 && !cJSON_IsString(task))
        return sbert_fail(SBERT_ERR_FORMAT, "%s: a CrossEncoder needs transformer_task \"sequence-classification\"",
                          path);
    if (task && cJSON_IsString(task) && strcmp(task->valuestring, want) != 0)
        return sbert_fail(SBERT_ERR_UNSUPPORTED, "%s: transformer_task \"%s\" is not supported by a %s (only %s)", path,
                          task->valuestring, mode == 2 ? "CrossEncoder" : "SentenceTransformer", want);
    return SBERT_OK;
}

static sbert_status tm_load_into(tf_module *m, const char *dir, int read_st_config) {
    char path[PATH_CAP];
    m->src_dir = malloc(strlen(dir) + 1);
    if (!m->src_dir) return nomem("module path");
    strcpy(m->src_dir, dir);
    char ad[PATH_CAP], weights[PATH_CAP];
    SBERT_TRY(sbert_path_join(ad, sizeof ad, dir, "adapter_config.json"));
    SBERT_TRY(sbert_path_join(weights, sizeof weights, dir, "model.safetensors"));
    const int adapter = sbert_file_exists(ad) && !sbert_file_exists(weights);
    SBERT_TRY(sbert_path_join(path, sizeof path, dir, "config.json"));
    if (!adapter && !sbert_file_exists(path))
        return sbert_fail(SBERT_ERR_IO, "%s: missing (the Hugging Face config of the Transformer)", path);
    SBERT_TRY(sbert_path_join(path, sizeof path, dir, "tokenizer.json"));
    if (!sbert_file_exists(path))
        return sbert_fail(SBERT_ERR_IO,
                          "%s: missing; sbert needs the fast-tokenizer file tokenizer.json (in Python: "
                          "AutoTokenizer.from_pretrained(dir).save_pretrained(dir) writes it)",
                          path);
    SBERT_TRY(sbert_tokenizer_load(path, &m->tok));
    if (adapter) {
        /* a PEFT adapter: the encoder from base_model_name_or_path, then the adapter */
        cJSON *ac = NULL;
        SBERT_TRY(sbert_json_load(ad, &ac));
        const cJSON *b = cJSON_GetObjectItem(ac, "base_model_name_or_path");
        sbert_status st2 = SBERT_OK;
        if (!cJSON_IsString(b) || !b->valuestring[0])
            st2 = sbert_fail(SBERT_ERR_FORMAT, "%s: no base_model_name_or_path to load the adapter onto", ad);
        else if (!sbert_dir_exists(b->valuestring))
            st2 = sbert_fail(SBERT_ERR_IO,
                             "%s: the adapter's base model '%s' is not a local directory (sbert loads base models "
                             "from disk)",
                             ad, b->valuestring);
        else if ((m->base_dir = malloc(strlen(b->valuestring) + 1)) == NULL)
            st2 = nomem("base path");
        if (st2 == SBERT_OK) {
            strcpy(m->base_dir, b->valuestring);
            st2 = sbert_transformer_load(m->base_dir, &m->t);
        }
        cJSON_Delete(ac);
        SBERT_TRY(st2);
        SBERT_TRY(sbert_lora_load(m->t, dir, &m->lora));
    } else {
        SBERT_TRY(sbert_transformer_load(dir, &m->t));
    }
    m->max_tokens = sbert_transformer_max_tokens(m->t);

    size_t msl = 0, kw_len = 0;
    int has_msl = 0, has_kw = 0;
    if (read_st_config) SBERT_TRY(read_sbc(m, dir, read_st_config, &msl, &has_msl, &kw_len, &has_kw));
    if (has_kw) {
        m->max_seq_length = kw_len;
    } else if (has_msl) {
        m->max_seq_length = msl;
    } else {
        /* tokenizer_config.json model_max_length (transformers' default when
         * absent is "very large"), capped at what the position embeddings
         * allow (Python caps at max_position_embeddings, i.e. 514 rather than
         * 512 for RoBERTa-style models, where longer inputs would fail). */
        size_t tml = (size_t)1e15;
        SBERT_TRY(sbert_path_join(path, sizeof path, dir, "tokenizer_config.json"));
        if (sbert_file_exists(path)) {
            cJSON *tc = NULL;
            SBERT_TRY(sbert_json_load(path, &tc));
            const cJSON *v = cJSON_IsObject(tc) ? cJSON_GetObjectItemCaseSensitive(tc, "model_max_length") : NULL;
            if (cJSON_IsNumber(v) && v->valuedouble >= 1)
                tml = v->valuedouble > 1e15 ? (size_t)1e15 : (size_t)v->valuedouble;
            cJSON_Delete(tc);
        }
        m->max_seq_length = tml < m->max_tokens ? tml : m->max_tokens;
    }
    if (m->max_seq_length == 0) return sbert_fail(SBERT_ERR_FORMAT, "%s: max_seq_length is 0", dir);
    return SBERT_OK;
}

static const sbert_module_ops TRANSFORMER_OPS = {
    .class_name = "Transformer",
    .forward = tm_forward,
    .backward = tm_backward,
    .rec_free = tm_rec_free,
    .params = tm_params,
    .save = tm_save,
    .out_dim = tm_out_dim,
    .free = tm_free,
    .tokenize = tm_tokenize,
    .prompt_length = tm_prompt_length,
    .tokenizer = tm_tokenizer,
    .max_seq_length = tm_max_seq_length,
    .set_max_seq_length = tm_set_max_seq_length,
};

sbert_status sbert_transformer_module_load(const sbert_module_load_ctx *ctx, sbert_module **out) {
    *out = NULL;
    tf_module *m = calloc(1, sizeof *m);
    if (!m) return nomem("Transformer");
    sbert_status st = sbert_module_init(&m->base, &TRANSFORMER_OPS, ctx->type, NULL);
    if (st == SBERT_OK) st = tm_load_into(m, ctx->dir, ctx->read_st_config);
    if (st != SBERT_OK) {
        tm_free(&m->base);
        return st;
    }
    *out = &m->base;
    return SBERT_OK;
}

sbert_transformer *sbert_transformer_module_encoder(sbert_module *m) {
    return m && m->ops == &TRANSFORMER_OPS ? ((tf_module *)m)->t : NULL;
}

void sbert_transformer_module_set_layer_grads(sbert_module *m, const float *const *d_hidden) {
    if (m && m->ops == &TRANSFORMER_OPS) ((tf_module *)m)->layer_grads = d_hidden;
}

int sbert_transformer_module_do_lower_case(const sbert_module *m) {
    return m && m->ops == &TRANSFORMER_OPS ? ((const tf_module *)m)->do_lower_case : 0;
}

/* ------------------------------------------------------------------ LoRA */

sbert_status sbert_transformer_module_add_lora(sbert_module *mod, const sbert_lora_config *cfg) {
    sbert_transformer *enc = sbert_transformer_module_encoder(mod);
    if (!enc)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "LoRA: the model's first module is a %s, not a Transformer",
                          mod ? mod->ops->class_name : "(none)");
    tf_module *m = (tf_module *)mod;
    if (m->lora) return sbert_fail(SBERT_ERR_INVALID_ARG, "LoRA: the Transformer already has an adapter");
    /* the source file's tensors the encoder does not hold (the pooler) may be modules_to_save */
    char path[PATH_CAP];
    SBERT_TRY(sbert_path_join(path, sizeof path, m->base_dir ? m->base_dir : m->src_dir, "model.safetensors"));
    sbert_safetensors *src = NULL;
    if (sbert_file_exists(path)) SBERT_TRY(sbert_st_open(path, &src));
    size_t n = src ? sbert_st_count(src) : 0;
    const char **names = calloc(n + 1, sizeof *names);
    if (!names) {
        sbert_st_close(src);
        return nomem("LoRA");
    }
    const char *mt = sbert_transformer_model_type(enc);
    for (size_t i = 0; i < n; i++) {
        const char *nm = sbert_st_at(src, i)->name;
        size_t ml = strlen(mt);
        if (!strncmp(nm, mt, ml) && nm[ml] == '.') nm += ml + 1;
        names[i] = nm;
    }
    sbert_status st = sbert_lora_attach_ex(enc, cfg, names, n, &m->lora);
    free(names);
    sbert_st_close(src);
    return st;
}

sbert_lora *sbert_transformer_module_lora(sbert_module *mod) {
    return sbert_transformer_module_encoder(mod) ? ((tf_module *)mod)->lora : NULL;
}

sbert_status sbert_transformer_module_merge_lora(sbert_module *mod) {
    tf_module *m = sbert_transformer_module_encoder(mod) ? (tf_module *)mod : NULL;
    if (!m || !m->lora) return sbert_fail(SBERT_ERR_INVALID_ARG, "LoRA merge: the model has no adapter");
    sbert_lora_merge(m->lora);
    sbert_transformer_set_lora(m->t, NULL, 0);
    sbert_lora_free(m->lora);
    m->lora = NULL;
    return SBERT_OK;
}

sbert_status sbert_transformer_module_load_adapter(sbert_module *mod, const char *dir) {
    if (!sbert_transformer_module_encoder(mod))
        return sbert_fail(SBERT_ERR_INVALID_ARG, "LoRA: the model's first module is not a Transformer");
    tf_module *m = (tf_module *)mod;
    if (m->lora) return sbert_fail(SBERT_ERR_INVALID_ARG, "LoRA: the Transformer already has an adapter");
    return sbert_lora_load(m->t, dir, &m->lora);
}

/* ------------------------------------------------------------------ pruning */

sbert_status sbert_transformer_module_keep_layers(sbert_module *mod, const size_t *keep, size_t n) {
    sbert_transformer *enc = sbert_transformer_module_encoder(mod);
    if (!enc)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "keeping layers: the model's first module is a %s, not a Transformer",
                          mod ? mod->ops->class_name : "(none)");
    tf_module *m = (tf_module *)mod;
    if (m->lora)
        return sbert_fail(SBERT_ERR_UNSUPPORTED, "keeping layers: the Transformer has a LoRA adapter; prune the base "
                                                 "model first");
    SBERT_TRY(sbert_transformer_keep_layers(enc, keep, n));
    m->pruned = 1;
    return SBERT_OK;
}
