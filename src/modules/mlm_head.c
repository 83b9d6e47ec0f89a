/*
 * modules/mlm_head.c -- the MLM Transformer module (see mlm_head.h): the
 * plain Transformer module (encoder, tokenizer, truncation) plus the
 * *ForMaskedLM head's transform, with the vocabulary decoder handed to
 * SpladePooling through sbert_features.mlm.
 */
#include "modules/mlm_head.h"

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
#include "kernels/bf16_gemm.h"
#include "kernels/cpu_ops.h"
#include "kernels/cpu_ops_backward.h"
#include "modules/transformer.h"
#include "modules/transformer_module.h"

#define PATH_CAP 4096

typedef enum { FAM_BERT = 0, FAM_ROBERTA, FAM_DISTILBERT, FAM_MPNET } head_family;

/* HF names of the head tensors per family: transform dense, LayerNorm,
 * decoder bias, untied decoder weight; and the base-model prefix. */
static const struct {
    const char *prefix, *dense, *ln, *bias, *decoder;
} NAMES[] = {
    [FAM_BERT] = {"bert.", "cls.predictions.transform.dense", "cls.predictions.transform.LayerNorm",
                  "cls.predictions.bias", "cls.predictions.decoder.weight"},
    [FAM_ROBERTA] = {"roberta.", "lm_head.dense", "lm_head.layer_norm", "lm_head.bias", "lm_head.decoder.weight"},
    [FAM_DISTILBERT] = {"distilbert.", "vocab_transform", "vocab_layer_norm", "vocab_projector.bias",
                        "vocab_projector.weight"},
    [FAM_MPNET] = {"mpnet.", "lm_head.dense", "lm_head.layer_norm", "lm_head.bias", "lm_head.decoder.weight"},
};

/* Head parameters, in registration order (offsets into head[]). */
enum { P_DENSE_W = 0, P_DENSE_B, P_LN_W, P_LN_B, P_BIAS, P_DEC, P_COUNT };

typedef struct {
    sbert_module base;
    sbert_module *inner;   /* the Transformer module: encoder + tokenizer */
    sbert_transformer *t;  /* its encoder */
    head_family fam;
    char prefix[32];       /* "bert.", or "xlm-roberta"'s "roberta." */
    size_t H, V;
    sbert_act act;
    float eps;
    int tied;
    float *head;           /* flat: dense W [H,H], dense b [H], ln w [H], ln b [H], bias [V], (untied) dec [V,H] */
    size_t off[P_COUNT], len[P_COUNT];
    size_t word_emb_row;   /* index of embeddings.word_embeddings.weight among the encoder's rows */
    const float *word_emb; /* [V, H] in the encoder's buffer */
    size_t head_first;     /* first row of the head in the table (after the encoder) */
    char *src_dir;
    cJSON *sbc;            /* sentence_bert_config.json as loaded, or NULL */
    int do_lower_case;
    uint16_t *dec_bf16;    /* precision bf16: the decoder weight in bf16, or NULL */
    int dec_stale;         /* a training forward ran since dec_bf16 was made */
} mlm_module;

/* What a training forward keeps. */
typedef struct {
    float *hidden, *pre, *act, *mean, *rstd; /* run-arena buffers */
    void *inner_rec;
} mlm_rec;

static sbert_status nomem(const char *what) { return sbert_fail(SBERT_ERR_NOMEM, "out of memory (%s)", what); }

static const sbert_module_ops MLM_OPS;

int sbert_module_is_mlm(const sbert_module *m) { return m && m->ops == &MLM_OPS; }

static const float *dec_weight(const mlm_module *m) { return m->tied ? m->word_emb : m->head + m->off[P_DEC]; }

sbert_status sbert_mlm_set_bf16(sbert_module *mod, int on) {
    if (!sbert_module_is_mlm(mod)) return SBERT_OK;
    mlm_module *m = (mlm_module *)mod;
    if (!on) {
        free(m->dec_bf16);
        m->dec_bf16 = NULL;
        return SBERT_OK;
    }
    if (!m->dec_bf16 && !(m->dec_bf16 = malloc(m->V * m->H * sizeof(uint16_t) + 2)))
        return nomem("bf16 decoder weight");
    sbert_f32_to_bf16(m->dec_bf16, dec_weight(m), m->V * m->H);
    m->dec_stale = 0;
    return SBERT_OK;
}

sbert_transformer *sbert_mlm_encoder(sbert_module *m) { return sbert_module_is_mlm(m) ? ((mlm_module *)m)->t : NULL; }

size_t sbert_mlm_vocab_size(const sbert_module *m) { return sbert_module_is_mlm(m) ? ((const mlm_module *)m)->V : 0; }

sbert_status sbert_mlm_decoder_of(const sbert_module *mod, sbert_mlm_decoder *d) {
    if (!sbert_module_is_mlm(mod))
        return sbert_fail(SBERT_ERR_INVALID_ARG, "SpladePooling needs the MLM head of a fill-mask Transformer (or "
                                                 "MLMTransformer) right before it");
    const mlm_module *m = (const mlm_module *)mod;
    memset(d, 0, sizeof *d);
    d->V = m->V;
    d->H = m->H;
    d->b = m->head + m->off[P_BIAS];
    d->W = dec_weight(m);
    d->Wb = m->dec_bf16;
    if (mod->pt) {
        sbert_param_table *pt = mod->pt;
        d->db = sbert_params_at(pt, m->head_first + P_BIAS)->grad;
        d->dW = m->tied ? sbert_params_at(pt, m->inner->pfirst + m->word_emb_row)->grad
                        : sbert_params_at(pt, m->head_first + P_DEC)->grad;
    }
    return SBERT_OK;
}

/* ------------------------------------------------------------ tokenize */

static sbert_status lowercase_utf8(const char *s, char **out) {
    size_t n = strlen(s);
    char *buf = malloc(n * 4 + 4);
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
    return SBERT_OK;
}

static sbert_status mm_tokenize(const sbert_module *mod, const char *prompt, const char *text, const char *pair,
                                sbert_encoding *enc) {
    const mlm_module *m = (const mlm_module *)mod;
    if (!m->do_lower_case) return m->inner->ops->tokenize(m->inner, prompt, text, pair, enc);
    /* do_lower_case: lower-casing prompt and text apart equals lower-casing
     * their concatenation (code point by code point). */
    char *lp = NULL, *lt = NULL, *l2 = NULL;
    sbert_status st = prompt ? lowercase_utf8(prompt, &lp) : SBERT_OK;
    if (st == SBERT_OK) st = lowercase_utf8(text, &lt);
    if (st == SBERT_OK && pair) st = lowercase_utf8(pair, &l2);
    if (st == SBERT_OK) st = m->inner->ops->tokenize(m->inner, lp, lt, l2, enc);
    free(lp);
    free(lt);
    free(l2);
    return st;
}

static const sbert_tokenizer *mm_tokenizer(const sbert_module *mod) {
    const mlm_module *m = (const mlm_module *)mod;
    return m->inner->ops->tokenizer(m->inner);
}
static size_t mm_max_seq_length(const sbert_module *mod) {
    const mlm_module *m = (const mlm_module *)mod;
    return m->inner->ops->max_seq_length(m->inner);
}
static void mm_set_max_seq_length(sbert_module *mod, size_t n) {
    mlm_module *m = (mlm_module *)mod;
    m->inner->ops->set_max_seq_length(m->inner, n);
}

/* ------------------------------------------------------------ forward */

static sbert_status mm_forward(sbert_module *mod, sbert_features *f, sbert_run *run, void **rec) {
    mlm_module *m = (mlm_module *)mod;
    if (m->dec_bf16 && m->dec_stale) sbert_f32_to_bf16(m->dec_bf16, dec_weight(m), m->V * m->H);
    m->dec_stale = m->dec_bf16 && run->train; /* the optimizer may move the weight before the next forward */
    void *inner_rec = NULL;
    sbert_status st = m->inner->ops->forward(m->inner, f, run, &inner_rec);
    if (st != SBERT_OK) {
        if (inner_rec && m->inner->ops->rec_free) m->inner->ops->rec_free(m->inner, inner_rec);
        return st;
    }
    const size_t T = f->T, H = m->H;
    const float *hidden = f->tok;
    const float *h = m->head;
    float *pre = run->train ? sbert_run_alloc(run, T * H, 0) : NULL;
    float *a = sbert_run_alloc(run, T * H, 0);
    float *u = sbert_run_alloc(run, T * H, 0);
    float *mean = run->train ? sbert_run_alloc(run, T ? T : 1, 0) : NULL;
    float *rstd = run->train ? sbert_run_alloc(run, T ? T : 1, 0) : NULL;
    if (!a || !u || (run->train && (!pre || !mean || !rstd))) {
        if (inner_rec && m->inner->ops->rec_free) m->inner->ops->rec_free(m->inner, inner_rec);
        return SBERT_ERR_NOMEM;
    }
    if (T) {
        /* u = LayerNorm(act(hidden . Wt^T + bt)) */
        sbert_linear_act_forward(a, pre ? pre : a, hidden, h + m->off[P_DENSE_W], h + m->off[P_DENSE_B], T, H, H,
                                 m->act);
        sbert_layernorm_forward(u, mean, rstd, a, h + m->off[P_LN_W], h + m->off[P_LN_B], T, H, m->eps);
    }
    f->tok = u;
    f->tok_dim = H;
    f->mlm = mod;
    if (run->train) {
        mlm_rec *r = malloc(sizeof *r);
        if (!r) {
            if (inner_rec && m->inner->ops->rec_free) m->inner->ops->rec_free(m->inner, inner_rec);
            return nomem("MLM head");
        }
        r->hidden = (float *)hidden;
        r->pre = pre;
        r->act = a;
        r->mean = mean;
        r->rstd = rstd;
        r->inner_rec = inner_rec;
        *rec = r;
    } else if (inner_rec && m->inner->ops->rec_free) {
        m->inner->ops->rec_free(m->inner, inner_rec);
    }
    return SBERT_OK;
}

static sbert_status mm_backward(sbert_module *mod, const sbert_features *in, const sbert_features *out,
                                const sbert_feature_grads *dout, sbert_feature_grads *din, sbert_run *run,
                                void *rec) {
    mlm_module *m = (mlm_module *)mod;
    mlm_rec *r = rec;
    (void)out;
    if (!r) return sbert_fail(SBERT_ERR_INTERNAL, "MLM head backward without a training forward");
    const size_t T = in->T, H = m->H;
    sbert_param_table *pt = mod->pt;
    const float *h = m->head;
    float *da = sbert_run_alloc(run, T * H, 1);
    float *dh = sbert_run_alloc(run, T * H, 1);
    float *scratch = sbert_run_alloc(run, T * H, 0);
    if (!da || !dh || !scratch) return SBERT_ERR_NOMEM;
    if (T && dout->tok) {
        sbert_layernorm_backward(da, sbert_params_at(pt, m->head_first + P_LN_W)->grad,
                                 sbert_params_at(pt, m->head_first + P_LN_B)->grad, dout->tok, r->act,
                                 h + m->off[P_LN_W], r->mean, r->rstd, T, H);
        sbert_linear_act_backward(dh, sbert_params_at(pt, m->head_first + P_DENSE_W)->grad,
                                  sbert_params_at(pt, m->head_first + P_DENSE_B)->grad, scratch, da, r->pre, r->hidden,
                                  h + m->off[P_DENSE_W], T, H, H, m->act);
    }
    sbert_features mid = *in;
    mid.tok = r->hidden;
    mid.tok_dim = H;
    mid.mlm = NULL;
    sbert_feature_grads g = {dh, NULL};
    sbert_status st = m->inner->ops->backward(m->inner, in, &mid, &g, din, run, r->inner_rec);
    r->inner_rec = NULL; /* the inner backward released its forward */
    return st;
}

static void mm_rec_free(sbert_module *mod, void *rec) {
    mlm_module *m = (mlm_module *)mod;
    mlm_rec *r = rec;
    if (m->inner->ops->rec_free) m->inner->ops->rec_free(m->inner, r ? r->inner_rec : NULL);
    free(r);
}

/* ------------------------------------------------------------ params */

static const char *HEAD_SUFFIX[P_COUNT] = {".weight", ".bias", ".weight", ".bias", "", ""};

static void head_name(const mlm_module *m, int p, char *buf, size_t cap) {
    switch (p) {
    case P_DENSE_W:
    case P_DENSE_B: snprintf(buf, cap, "%s%s", NAMES[m->fam].dense, HEAD_SUFFIX[p]); break;
    case P_LN_W:
    case P_LN_B: snprintf(buf, cap, "%s%s", NAMES[m->fam].ln, HEAD_SUFFIX[p]); break;
    case P_BIAS:
        /* Untied, the decoder Linear's own bias is applied (transformers ties
         * it to the head's `bias` only together with the word embeddings). */
        if (!m->tied && m->fam != FAM_DISTILBERT)
            snprintf(buf, cap, "%.*sbias", (int)(strlen(NAMES[m->fam].decoder) - 6), NAMES[m->fam].decoder);
        else
            snprintf(buf, cap, "%s", NAMES[m->fam].bias);
        break;
    default: snprintf(buf, cap, "%s", NAMES[m->fam].decoder); break;
    }
}

static sbert_status mm_params(sbert_module *mod, sbert_param_table *t) {
    mlm_module *m = (mlm_module *)mod;
    size_t first = sbert_params_count(t);
    if (m->inner->ops->params) SBERT_TRY(m->inner->ops->params(m->inner, t));
    m->inner->pt = t;
    m->inner->pfirst = first;
    m->inner->pcount = sbert_params_count(t) - first;
    m->head_first = sbert_params_count(t);
    int np = m->tied ? P_DEC : P_COUNT;
    for (int p = 0; p < np; p++) {
        char name[160];
        head_name(m, p, name, sizeof name);
        int mat = p == P_DENSE_W || p == P_DEC;
        size_t d0 = p == P_DENSE_W ? m->H : p == P_DEC || p == P_BIAS ? m->V : m->H;
        SBERT_TRY(sbert_param_add(t, name, m->head + m->off[p], d0, mat ? m->H : 0, 1, -1));
    }
    return SBERT_OK;
}

static size_t mm_out_dim(const sbert_module *mod) { return ((const mlm_module *)mod)->H; }

static void mm_free(sbert_module *mod) {
    mlm_module *m = (mlm_module *)mod;
    if (!m) return;
    sbert_module_fini(mod);
    sbert_module_free(m->inner);
    free(m->head);
    free(m->dec_bf16);
    free(m->src_dir);
    cJSON_Delete(m->sbc);
    free(m);
}

/* ------------------------------------------------------------ save */

static const char *const TF_FILES[] = {"config.json",       "tokenizer.json",    "tokenizer_config.json",
                                       "special_tokens_map.json", "vocab.txt", "vocab.json",
                                       "merges.txt",        "added_tokens.json", "sentencepiece.bpe.model",
                                       "spiece.model"};

static sbert_status save_weights(const mlm_module *m, const char *dir) {
    size_t ne = sbert_transformer_num_params(m->t);
    sbert_st_entry *e = calloc(ne + P_COUNT, sizeof *e);
    char (*names)[200] = calloc(ne + P_COUNT, sizeof *names);
    if (!e || !names) {
        free(e);
        free(names);
        return nomem("save table");
    }
    size_t nf = 0, n = 0;
    const float *params = sbert_transformer_params(m->t, &nf);
    for (size_t i = 0; i < ne; i++) {
        const sbert_transformer_param *p = sbert_transformer_param_at(m->t, i);
        /* DistilBERT's sinusoidal table is a buffer Python rebuilds: saved
         * all the same (save_pretrained writes it too). */
        snprintf(names[n], sizeof names[n], "%s%s", m->prefix, p->name);
        e[n].name = names[n];
        e[n].data = params + p->offset;
        e[n].ndim = p->ndim;
        e[n].shape[0] = p->shape[0];
        e[n].shape[1] = p->shape[1];
        n++;
    }
    int np = m->tied ? P_DEC : P_COUNT;
    for (int p = 0; p < np; p++) {
        head_name(m, p, names[n], sizeof names[n]);
        e[n].name = names[n];
        e[n].data = m->head + m->off[p];
        int mat = p == P_DENSE_W || p == P_DEC;
        e[n].ndim = mat ? 2 : 1;
        e[n].shape[0] = (int64_t)(p == P_DEC || p == P_BIAS ? m->V : m->H);
        e[n].shape[1] = mat ? (int64_t)m->H : 0;
        n++;
    }
    char path[PATH_CAP];
    sbert_status st = sbert_path_join(path, sizeof path, dir, "model.safetensors");
    if (st == SBERT_OK) st = sbert_st_write(path, e, n, NULL, 0);
    free(e);
    free(names);
    return st;
}

static sbert_status mm_save(const sbert_module *mod, const char *dir) {
    const mlm_module *m = (const mlm_module *)mod;
    for (size_t i = 0; i < sizeof TF_FILES / sizeof *TF_FILES; i++) SBERT_TRY(sbert_copy_file_atomic(m->src_dir, dir, TF_FILES[i]));
    cJSON *sbc = m->sbc ? cJSON_Duplicate(m->sbc, 1) : cJSON_CreateObject();
    if (!sbc) return nomem("sentence_bert_config.json");
    cJSON_DeleteItemFromObjectCaseSensitive(sbc, "max_seq_length");
    cJSON_DeleteItemFromObjectCaseSensitive(sbc, "do_lower_case");
    static const char *const kw[] = {"processor_kwargs", "tokenizer_args", "tokenizer_kwargs"};
    for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++) {
        cJSON *o = cJSON_GetObjectItemCaseSensitive(sbc, kw[i]);
        if (cJSON_IsObject(o)) cJSON_DeleteItemFromObjectCaseSensitive(o, "model_max_length");
    }
    cJSON_AddNumberToObject(sbc, "max_seq_length", (double)mm_max_seq_length(mod));
    cJSON_AddBoolToObject(sbc, "do_lower_case", m->do_lower_case);
    char *text = cJSON_Print(sbc);
    cJSON_Delete(sbc);
    if (!text) return nomem("sentence_bert_config.json");
    sbert_status st = sbert_write_text_file(dir, "sentence_bert_config.json", text);
    cJSON_free(text);
    SBERT_TRY(st);
    return save_weights(m, dir);
}

static const sbert_module_ops MLM_OPS = {
    .class_name = "MLMTransformer",
    .forward = mm_forward,
    .backward = mm_backward,
    .rec_free = mm_rec_free,
    .params = mm_params,
    .save = mm_save,
    .out_dim = mm_out_dim,
    .free = mm_free,
    .tokenize = mm_tokenize,
    .prompt_length = NULL,
    .tokenizer = mm_tokenizer,
    .max_seq_length = mm_max_seq_length,
    .set_max_seq_length = mm_set_max_seq_length,
};

/* ------------------------------------------------------------ load */

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Read head tensor `name` (or its gamma/beta alias) of the given shape. */
static sbert_status read_head(const sbert_safetensors *st, const char *name, const int64_t *shape, int ndim,
                              float *dst, const char *fam_name) {
    const char *use = name;
    char legacy[200];
    if (!sbert_st_find(st, name)) {
        legacy[0] = '\0';
        if (ends_with(name, "LayerNorm.weight") || ends_with(name, "layer_norm.weight"))
            snprintf(legacy, sizeof legacy, "%.*sgamma", (int)(strlen(name) - 6), name);
        else if (ends_with(name, "LayerNorm.bias") || ends_with(name, "layer_norm.bias"))
            snprintf(legacy, sizeof legacy, "%.*sbeta", (int)(strlen(name) - 4), name);
        else if (ends_with(name, ".bias") && !ends_with(name, "decoder.bias") && strstr(name, "dense") == NULL &&
                 strstr(name, "transform") == NULL) {
            /* cls.predictions.bias is tied to cls.predictions.decoder.bias: some
             * checkpoints store only the latter. */
            snprintf(legacy, sizeof legacy, "%.*sdecoder.bias", (int)(strlen(name) - 4), name);
        }
        if (legacy[0] && sbert_st_find(st, legacy)) use = legacy;
        else
            return sbert_fail(SBERT_ERR_FORMAT,
                              "%s: tensor '%s' is missing: this checkpoint has no masked-language-model head (a "
                              "SparseEncoder needs a %sForMaskedLM checkpoint; a plain encoder saved by AutoModel "
                              "has none)",
                              sbert_st_path(st), name, fam_name);
    }
    return sbert_st_read_f32(st, use, shape, ndim, dst);
}

static const char *family_class(head_family f) {
    switch (f) {
    case FAM_BERT: return "Bert";
    case FAM_ROBERTA: return "Roberta";
    case FAM_DISTILBERT: return "DistilBert";
    default: return "MPNet";
    }
}

/* config.json: the head's activation, eps and whether the decoder is tied. */
static sbert_status read_head_config(mlm_module *m, const char *dir) {
    char path[PATH_CAP];
    SBERT_TRY(sbert_path_join(path, sizeof path, dir, "config.json"));
    cJSON *cfg = NULL;
    SBERT_TRY(sbert_json_load(path, &cfg));
    sbert_status st = SBERT_OK;
    const cJSON *tie = cJSON_GetObjectItemCaseSensitive(cfg, "tie_word_embeddings");
    m->tied = !(cJSON_IsBool(tie) && cJSON_IsFalse(tie));
    const char *act = "gelu";
    if (m->fam == FAM_BERT || m->fam == FAM_DISTILBERT) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(cfg, m->fam == FAM_BERT ? "hidden_act" : "activation");
        if (cJSON_IsString(a)) act = a->valuestring;
    }
    st = sbert_act_from_name(act, &m->act);
    if (st != SBERT_OK) sbert_error_prefix("%s: ", path);
    m->eps = 1e-12f;
    if (m->fam != FAM_DISTILBERT) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(cfg, "layer_norm_eps");
        if (cJSON_IsNumber(e)) m->eps = (float)e->valuedouble;
    }
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(cfg, "architectures");
    if (st == SBERT_OK && cJSON_IsArray(arch) && cJSON_GetArraySize(arch) > 0) {
        const cJSON *a0 = cJSON_GetArrayItem(arch, 0);
        if (cJSON_IsString(a0) && !ends_with(a0->valuestring, "ForMaskedLM"))
            st = sbert_fail(SBERT_ERR_UNSUPPORTED,
                            "%s: architecture %s is not a masked language model: a SparseEncoder (SPLADE) needs a "
                            "*ForMaskedLM checkpoint (CSR models, a dense encoder + SparseAutoEncoder, are not "
                            "supported)",
                            path, a0->valuestring);
    }
    cJSON_Delete(cfg);
    return st;
}

static sbert_status read_sbc(mlm_module *m, const char *dir) {
    char path[PATH_CAP];
    SBERT_TRY(sbert_path_join(path, sizeof path, dir, "sentence_bert_config.json"));
    if (!sbert_file_exists(path)) return SBERT_OK;
    SBERT_TRY(sbert_json_load(path, &m->sbc));
    if (!cJSON_IsObject(m->sbc)) return sbert_fail(SBERT_ERR_FORMAT, "%s: not a JSON object", path);
    size_t msl = 0, kwl = 0;
    int has_msl = 0, has_kw = 0;
    SBERT_TRY(sbert_json_size(m->sbc, "max_seq_length", path, &msl, &has_msl));
    static const char *const keys[] = {"processor_kwargs", "tokenizer_args", "tokenizer_kwargs"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0] && !has_kw; i++) {
        const cJSON *kw = cJSON_GetObjectItemCaseSensitive(m->sbc, keys[i]);
        if (cJSON_IsObject(kw)) SBERT_TRY(sbert_json_size(kw, "model_max_length", path, &kwl, &has_kw));
    }
    if (has_kw) msl = kwl, has_msl = 1;
    if (has_msl) {
        if (msl == 0) return sbert_fail(SBERT_ERR_FORMAT, "%s: max_seq_length is 0", path);
        m->inner->ops->set_max_seq_length(m->inner, msl);
    }
    const cJSON *lc = cJSON_GetObjectItemCaseSensitive(m->sbc, "do_lower_case");
    if (lc && !cJSON_IsNull(lc)) {
        if (!cJSON_IsBool(lc)) return sbert_fail(SBERT_ERR_FORMAT, "%s: \"do_lower_case\" must be true or false", path);
        m->do_lower_case = cJSON_IsTrue(lc);
    }
    const cJSON *task = cJSON_GetObjectItemCaseSensitive(m->sbc, "transformer_task");
    if (task && !cJSON_IsNull(task) && !(cJSON_IsString(task) && strcmp(task->valuestring, "fill-mask") == 0))
        return sbert_fail(SBERT_ERR_FORMAT, "%s: transformer_task must be \"fill-mask\" for an MLM Transformer", path);
    return SBERT_OK;
}

static sbert_status mm_load_into(mlm_module *m, const sbert_module_load_ctx *ctx) {
    const char *dir = ctx->dir;
    m->src_dir = malloc(strlen(dir) + 1);
    if (!m->src_dir) return nomem("module path");
    strcpy(m->src_dir, dir);
    /* The encoder and tokenizer through the plain Transformer module; the
     * sentence-transformers settings are read here (fill-mask is not a
     * SentenceTransformer task). */
    sbert_module_load_ctx ic = *ctx;
    ic.read_st_config = 0;
    SBERT_TRY(sbert_transformer_module_load(&ic, &m->inner));
    m->t = sbert_transformer_module_encoder(m->inner);
    const char *mt = sbert_transformer_model_type(m->t);
    if (!strcmp(mt, "bert")) m->fam = FAM_BERT;
    else if (!strcmp(mt, "roberta") || !strcmp(mt, "xlm-roberta")) m->fam = FAM_ROBERTA;
    else if (!strcmp(mt, "distilbert")) m->fam = FAM_DISTILBERT;
    else if (!strcmp(mt, "mpnet")) m->fam = FAM_MPNET;
    else return sbert_fail(SBERT_ERR_UNSUPPORTED, "%s: model_type %s has no supported MLM head", dir, mt);
    snprintf(m->prefix, sizeof m->prefix, "%s", NAMES[m->fam].prefix);
    if (ctx->read_st_config) SBERT_TRY(read_sbc(m, dir));
    SBERT_TRY(read_head_config(m, dir));
    m->H = sbert_transformer_hidden_size(m->t);
    m->V = sbert_transformer_vocab_size(m->t);
    /* The tokenizer must not produce ids past the vocabulary. */
    size_t tv = sbert_tokenizer_vocab_size(m->inner->ops->tokenizer(m->inner));
    if (tv > m->V)
        return sbert_fail(SBERT_ERR_FORMAT,
                          "%s: the tokenizer has %zu tokens but config.json vocab_size is %zu: they must agree (the "
                          "MLM head scores vocab_size tokens)",
                          dir, tv, m->V);
    size_t H = m->H, V = m->V, o = 0;
    size_t lens[P_COUNT] = {H * H, H, H, H, V, m->tied ? 0 : V * H};
    for (int p = 0; p < P_COUNT; p++) {
        m->off[p] = o;
        m->len[p] = lens[p];
        o += lens[p];
    }
    m->head = malloc(o * sizeof *m->head);
    if (!m->head) return nomem("MLM head");
    /* The word embeddings in the encoder's buffer. */
    size_t nf = 0;
    const float *base = sbert_transformer_params(m->t, &nf);
    int found = 0;
    for (size_t i = 0; i < sbert_transformer_num_params(m->t); i++) {
        const sbert_transformer_param *p = sbert_transformer_param_at(m->t, i);
        if (strcmp(p->name, "embeddings.word_embeddings.weight") == 0) {
            m->word_emb_row = i;
            m->word_emb = base + p->offset;
            found = 1;
        }
    }
    if (!found) return sbert_fail(SBERT_ERR_INTERNAL, "%s: no word embeddings in the encoder", dir);

    char path[PATH_CAP];
    SBERT_TRY(sbert_path_join(path, sizeof path, dir, "model.safetensors"));
    sbert_safetensors *st = NULL;
    SBERT_TRY(sbert_st_open(path, &st));
    sbert_status s = SBERT_OK;
    const char *fc = family_class(m->fam);
    int64_t sHH[2] = {(int64_t)H, (int64_t)H}, sH[1] = {(int64_t)H}, sV[1] = {(int64_t)V},
            sVH[2] = {(int64_t)V, (int64_t)H};
    char name[200];
    for (int p = 0; p < P_COUNT && s == SBERT_OK; p++) {
        if (p == P_DEC && m->tied) break;
        head_name(m, p, name, sizeof name);
        const int64_t *shape = p == P_DENSE_W ? sHH : p == P_BIAS ? sV : p == P_DEC ? sVH : sH;
        int nd = p == P_DENSE_W || p == P_DEC ? 2 : 1;
        s = read_head(st, name, shape, nd, m->head + m->off[p], fc);
        if (s != SBERT_OK && p == P_DEC)
            sbert_error_prefix("config.json says tie_word_embeddings false, so the decoder weight must be stored: ");
    }
    sbert_st_close(st);
    return s;
}

sbert_status sbert_mlm_module_load(const sbert_module_load_ctx *ctx, sbert_module **out) {
    *out = NULL;
    mlm_module *m = calloc(1, sizeof *m);
    if (!m) return nomem("MLMTransformer");
    sbert_status st = sbert_module_init(&m->base, &MLM_OPS, ctx->type, NULL);
    if (st == SBERT_OK) st = mm_load_into(m, ctx);
    if (st != SBERT_OK) {
        mm_free(&m->base);
        return st;
    }
    *out = &m->base;
    return SBERT_OK;
}

/* ------------------------------------------------------------ dispatch */

sbert_status sbert_transformer_task_load(const sbert_module_load_ctx *ctx, sbert_module **out) {
    if (ctx->read_st_config) {
        char path[PATH_CAP];
        SBERT_TRY(sbert_path_join(path, sizeof path, ctx->dir, "sentence_bert_config.json"));
        if (sbert_file_exists(path)) {
            cJSON *sbc = NULL;
            SBERT_TRY(sbert_json_load(path, &sbc));
            const cJSON *task = cJSON_IsObject(sbc) ? cJSON_GetObjectItemCaseSensitive(sbc, "transformer_task") : NULL;
            int fill = cJSON_IsString(task) && strcmp(task->valuestring, "fill-mask") == 0;
            cJSON_Delete(sbc);
            if (fill) return sbert_mlm_module_load(ctx, out);
        }
    }
    return sbert_transformer_module_load(ctx, out);
}
