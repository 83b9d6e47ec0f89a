/*
 * modules/transformer.c -- the Hugging Face encoders behind the
 * sentence-transformers Transformer module (BERT, RoBERTa, XLM-RoBERTa,
 * DistilBERT, MPNet), loaded from config.json + model.safetensors and run in
 * fp32 on CPU over packed batches (see transformer.h).
 *
 * All five families share one post-LayerNorm layer:
 *     qkv = x Wqkv^T + bqkv                       [T, 3H]  (Q, K, V fused)
 *     a   = attention(qkv) (+ MPNet relative bias) [T, H]
 *     x   = LN1(a Wo^T + bo + x)
 *     x   = LN2(act(x W1^T + b1) W2^T + b2 + x)
 * and differ only in tensor names, in the embeddings (token types or not,
 * where position ids start) and in MPNet's relative position bias, computed
 * once per forward and shared by all layers as in modeling_mpnet.py.
 *
 * Weights live in one flat fp32 buffer with a table (HF base-model name,
 * offset, shape), the layout the trainer needs. The q/k/v weights of a layer
 * are stored back to back, so the [3H, H] block is both the fused QKV matrix
 * and three ordinary HF tensors; the same holds for the three biases.
 *
 * Checkpoints may carry a model prefix ("bert.", "roberta.", "distilbert.",
 * "mpnet.", ...) and heads (pooler, lm_head, classifier): the prefix is found
 * from the word-embedding tensor and every other tensor is ignored.
 *
 * Training (end of the file): a training-mode forward that keeps every
 * layer's activations (and applies dropout from a seeded sbert_rng), and the
 * backward that turns d(last_hidden_state) into gradients laid out like the
 * flat parameter buffer.
 */
#include "modules/transformer.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/big_alloc.h"
#include "base/error.h"
#include "base/threads.h"
#include "io/file.h"
#include "io/safetensors.h"
#include "kernels/attention.h"
#include "kernels/attention_backward.h"
#include "kernels/bf16_gemm.h"
#include "kernels/cpu_ops.h"
#include "kernels/cpu_ops_backward.h"
#include "kernels/dropout.h"
#include "modules/lora.h"

typedef enum { FAM_BERT, FAM_ROBERTA, FAM_XLMR, FAM_DISTILBERT, FAM_MPNET } family;

#define SUPPORTED_TYPES "bert, roberta, xlm-roberta, distilbert, mpnet"
#define MPNET_BUCKETS 32
#define MPNET_MAX_DISTANCE 128

typedef struct {
    float *qkv_w, *qkv_b; /* [3H, H], [3H] */
    float *o_w, *o_b;     /* [H, H], [H] */
    float *ln1_w, *ln1_b; /* [H] */
    float *ff1_w, *ff1_b; /* [I, H], [I] */
    float *ff2_w, *ff2_b; /* [H, I], [H] */
    float *ln2_w, *ln2_b; /* [H] */
} layer_weights;

/* bf16 copies of a layer's four weight matrices (precision bf16). */
typedef struct {
    uint16_t *qkv, *o, *ff1, *ff2;
} layer_bf16;

struct sbert_transformer {
    char model_type[32];
    family fam;
    size_t H, n_layers, n_heads, I, V, P, n_types;
    float eps;
    sbert_act act;
    int pad_idx;      /* RoBERTa/XLM-R/MPNet: position ids start at pad_idx + 1 */
    int n_rel_bucket; /* MPNet: rows of relative_attention_bias */
    float init_range;  /* initializer_range (new weights of a decoder) */
    float p_hidden, p_attn; /* dropout probabilities (training forward only) */
    int sinus_pos;          /* DistilBERT sinusoidal position table: frozen */
    struct sbert_train_state *train; /* activations of the last training forward */
    struct sbert_lora *lora;         /* LoRA adapters on the linear layers, or NULL */
    int frozen;                      /* the encoder's own tensors get no gradients (LoRA) */
    int train_empty;                 /* the last training forward had no tokens */
    /* Buffers kept between training steps (grown with headroom, never
     * shrunk; base/big_alloc.h), so a step does not map and fault in fresh
     * pages: the activations' floats and keep flags, and the backward's
     * workspace. They start on 64-byte boundaries: malloc puts large blocks
     * 16 bytes past a page boundary, and the forward's column split then made
     * both threads write one cache line at every row's block boundary. */
    void *arena_f, *arena_b, *arena_ws;
    size_t arena_f_cap, arena_b_cap, arena_ws_cap;
    /* The forward's workspace (positions, qkv, attention output, FFN), kept
     * between calls so that encoding one text after another allocates
     * nothing. ws_busy: taken by the forward using it; a second forward
     * running at the same time on another thread gets its own (malloc). */
    void *fwd_ws;
    size_t fwd_ws_cap;
    int fwd_ws_busy;

    float *params; /* flat fp32 buffer */
    int shared;    /* params belong to another handle (sbert_transformer_share) */
    size_t n_floats;
    sbert_transformer_param *table;
    size_t n_table, cap_table;

    float *word, *pos, *type; /* [V,H], [P,H], [n_types,H] or NULL */
    float *emb_ln_w, *emb_ln_b;
    float *rel_bias; /* [n_rel_bucket, n_heads] or NULL */
    layer_weights *layers;
    /* --precision bf16 / bf16 training: the linear layers multiply in bf16
     * (kernels/bf16_gemm.h) with these copies of their weights; NULL: fp32. */
    uint16_t *wbf16;
    layer_bf16 *lbf16;
    int bf16_stale; /* a training forward ran: the optimizer may have moved the fp32 weights since */
};

/* ------------------------------------------------------------------ config */

/* Upper bounds on the sizes a config.json may declare. They are far above
 * any real encoder (BERT-large: hidden 1024, 24 layers, vocab 30522, 512
 * positions; the largest multilingual vocabularies are ~250k) and low enough
 * that every product of them fits a size_t: a corrupt or hostile config is
 * refused naming the key instead of overflowing the parameter count or
 * asking for petabytes. */
#define MAX_HIDDEN (1L << 16)        /* hidden_size / dim, num_attention_heads */
#define MAX_LAYERS 1024L             /* num_hidden_layers / n_layers */
#define MAX_INTERMEDIATE (1L << 18)  /* intermediate_size / hidden_dim */
#define MAX_VOCAB (1L << 24)         /* vocab_size */
#define MAX_POSITIONS (1L << 20)     /* max_position_embeddings */
#define MAX_TYPES (1L << 16)         /* type_vocab_size, relative_attention_num_buckets */

/* 1: an integer, 0: missing or not a number, -1: not a whole number,
 * -2: a whole number beyond +-2^53 (no longer exact in a double, and past
 * any size sbert accepts; converting it to long could be undefined). */
static int json_int(const cJSON *cfg, const char *key, long *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!isfinite(d) || d != floor(d)) return -1;
    if (fabs(d) > 9007199254740992.0) return -2;
    *out = (long)d;
    return 1;
}

/* The integer `key`, required, in [lo, hi]. */
static sbert_status need_int(const cJSON *cfg, const char *path, const char *key, long lo,
                             long hi, long *out) {
    int k = json_int(cfg, key, out);
    if (k == 0)
        return sbert_fail(SBERT_ERR_FORMAT, "%s: \"%s\" is missing or not an integer", path, key);
    if (k == -1)
        return sbert_fail(SBERT_ERR_FORMAT, "%s: \"%s\" is %g, not a whole number", path, key,
                          cJSON_GetObjectItemCaseSensitive(cfg, key)->valuedouble);
    if (k == -2 || *out > hi)
        return sbert_fail(SBERT_ERR_FORMAT,
                          "%s: \"%s\" is %.17g, larger than the %ld sbert accepts: the config "
                          "is corrupt or not an encoder sbert supports",
                          path, key, cJSON_GetObjectItemCaseSensitive(cfg, key)->valuedouble, hi);
    if (*out < lo)
        return sbert_fail(SBERT_ERR_FORMAT, "%s: \"%s\" is %ld, must be at least %ld", path, key,
                          *out, lo);
    return SBERT_OK;
}

/* The integer `key` in [lo, hi], or `dflt` when it is absent or null. */
static sbert_status opt_int(const cJSON *cfg, const char *path, const char *key, long dflt,
                            long lo, long hi, long *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (!v || cJSON_IsNull(v)) {
        *out = dflt;
        return SBERT_OK;
    }
    return need_int(cfg, path, key, lo, hi, out);
}

/* The number `key` in [lo, hi] (as float), or `dflt` when it is absent or null. */
static sbert_status opt_num(const cJSON *cfg, const char *path, const char *key, double dflt,
                            double lo, double hi, float *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    double d = dflt;
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsNumber(v))
            return sbert_fail(SBERT_ERR_FORMAT, "%s: \"%s\" must be a number", path, key);
        d = v->valuedouble;
    }
    if (!(d >= lo && d <= hi)) /* also refuses NaN */
        return sbert_fail(SBERT_ERR_FORMAT, "%s: \"%s\" is %g, must be in [%g, %g]", path, key, d,
                          lo, hi);
    *out = (float)d;
    return SBERT_OK;
}

static const char *opt_str(const cJSON *cfg, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static sbert_status parse_config(sbert_transformer *t, const char *path) {
    cJSON *cfg = NULL;
    SBERT_TRY(sbert_json_load(path, &cfg));
    sbert_status st = SBERT_OK;
    const char *mt = opt_str(cfg, "model_type");
    long H = 0, L = 0, NH = 0, I = 0, V = 0, P = 0, pad = 0;
    if (!mt) {
        st = sbert_fail(SBERT_ERR_FORMAT, "%s: \"model_type\" is missing (supported: %s)", path,
                        SUPPORTED_TYPES);
        goto done;
    }
    if (strcmp(mt, "bert") == 0) t->fam = FAM_BERT;
    else if (strcmp(mt, "roberta") == 0) t->fam = FAM_ROBERTA;
    else if (strcmp(mt, "xlm-roberta") == 0) t->fam = FAM_XLMR;
    else if (strcmp(mt, "distilbert") == 0) t->fam = FAM_DISTILBERT;
    else if (strcmp(mt, "mpnet") == 0) t->fam = FAM_MPNET;
    else {
        st = sbert_fail(SBERT_ERR_UNSUPPORTED, "%s: model_type \"%s\" is not supported (supported: %s)",
                        path, mt, SUPPORTED_TYPES);
        goto done;
    }
    snprintf(t->model_type, sizeof t->model_type, "%s", mt);

    const char *act_name;
    if (t->fam == FAM_DISTILBERT) {
        if ((st = need_int(cfg, path, "dim", 1, MAX_HIDDEN, &H)) ||
            (st = need_int(cfg, path, "n_layers", 0, MAX_LAYERS, &L)) ||
            (st = need_int(cfg, path, "n_heads", 1, MAX_HIDDEN, &NH)) ||
            (st = need_int(cfg, path, "hidden_dim", 1, MAX_INTERMEDIATE, &I)))
            goto done;
        act_name = opt_str(cfg, "activation");
        if (!act_name) act_name = "gelu";
        t->eps = 1e-12f; /* hard-coded in modeling_distilbert.py */
        if ((st = opt_num(cfg, path, "dropout", 0.1, 0.0, 1.0, &t->p_hidden)) ||
            (st = opt_num(cfg, path, "attention_dropout", 0.1, 0.0, 1.0, &t->p_attn)) ||
            (st = opt_int(cfg, path, "pad_token_id", 0, LONG_MIN, MAX_VOCAB, &pad)))
            goto done;
        t->n_types = 0;
    } else {
        if ((st = need_int(cfg, path, "hidden_size", 1, MAX_HIDDEN, &H)) ||
            (st = need_int(cfg, path, "num_hidden_layers", 0, MAX_LAYERS, &L)) ||
            (st = need_int(cfg, path, "num_attention_heads", 1, MAX_HIDDEN, &NH)) ||
            (st = need_int(cfg, path, "intermediate_size", 1, MAX_INTERMEDIATE, &I)))
            goto done;
        act_name = opt_str(cfg, "hidden_act");
        if (!act_name) act_name = "gelu";
        if ((st = opt_num(cfg, path, "hidden_dropout_prob", 0.1, 0.0, 1.0, &t->p_hidden)) ||
            (st = opt_num(cfg, path, "attention_probs_dropout_prob", 0.1, 0.0, 1.0, &t->p_attn)) ||
            (st = opt_num(cfg, path, "layer_norm_eps", 1e-12, 0.0, 1.0, &t->eps)) ||
            (st = opt_num(cfg, path, "initializer_range", 0.02, 0.0, 10.0, &t->init_range)))
            goto done;
        if (t->fam == FAM_MPNET) {
            t->n_types = 0;
            t->pad_idx = 1; /* MPNetEmbeddings hard-codes padding_idx = 1 */
            long nb = 0;
            if ((st = opt_int(cfg, path, "relative_attention_num_buckets", 32, LONG_MIN, MAX_TYPES,
                              &nb)))
                goto done;
            t->n_rel_bucket = (int)(nb < 0 ? -1 : nb);
            if (t->n_rel_bucket < MPNET_BUCKETS) {
                st = sbert_fail(SBERT_ERR_FORMAT,
                                "%s: relative_attention_num_buckets is %d; MPNet uses %d buckets",
                                path, t->n_rel_bucket, MPNET_BUCKETS);
                goto done;
            }
        } else {
            long nt = 0;
            if ((st = opt_int(cfg, path, "type_vocab_size", 2, LONG_MIN, MAX_TYPES, &nt)) ||
                (st = opt_int(cfg, path, "pad_token_id", t->fam == FAM_BERT ? 0 : 1, LONG_MIN,
                              MAX_VOCAB, &pad)))
                goto done;
            if (nt < 1) nt = 1;
            t->n_types = (size_t)nt;
        }
        const char *pet = opt_str(cfg, "position_embedding_type");
        if (pet && strcmp(pet, "absolute") != 0) {
            st = sbert_fail(SBERT_ERR_UNSUPPORTED,
                            "%s: position_embedding_type \"%s\" is not supported (only \"absolute\")",
                            path, pet);
            goto done;
        }
    }
    if ((st = need_int(cfg, path, "vocab_size", 1, MAX_VOCAB, &V)) ||
        (st = need_int(cfg, path, "max_position_embeddings", 1, MAX_POSITIONS, &P)))
        goto done;
    if (t->fam != FAM_MPNET) t->pad_idx = (int)(pad < 0 ? 0 : pad);
    if (H % NH != 0) {
        st = sbert_fail(SBERT_ERR_FORMAT, "%s: hidden size %ld is not a multiple of the %ld heads",
                        path, H, NH);
        goto done;
    }
    if ((st = sbert_act_from_name(act_name, &t->act)) != SBERT_OK) {
        sbert_error_prefix("%s: ", path);
        goto done;
    }
    if (!(t->p_hidden >= 0.0f && t->p_hidden < 1.0f) || !(t->p_attn >= 0.0f && t->p_attn < 1.0f)) {
        st = sbert_fail(SBERT_ERR_FORMAT,
                        "%s: dropout probabilities must be in [0, 1) (hidden %g, attention %g)",
                        path, (double)t->p_hidden, (double)t->p_attn);
        goto done;
    }
    t->H = (size_t)H;
    t->n_layers = (size_t)L;
    t->n_heads = (size_t)NH;
    t->I = (size_t)I;
    t->V = (size_t)V;
    t->P = (size_t)P;
done:
    cJSON_Delete(cfg);
    return st;
}

/* ------------------------------------------------------------ param table */

static sbert_status add_param(sbert_transformer *t, const char *name, int ndim, size_t d0,
                              size_t d1) {
    if (t->n_table == t->cap_table) {
        size_t cap = t->cap_table ? 2 * t->cap_table : 64;
        sbert_transformer_param *nt = realloc(t->table, cap * sizeof *nt);
        if (!nt) return sbert_fail(SBERT_ERR_NOMEM, "transformer: out of memory");
        t->table = nt;
        t->cap_table = cap;
    }
    size_t len = strlen(name);
    if (len >= sizeof t->table[0].name)
        return sbert_fail(SBERT_ERR_INTERNAL, "transformer: parameter name '%s' too long", name);
    sbert_transformer_param *p = &t->table[t->n_table++];
    memset(p, 0, sizeof *p);
    memcpy(p->name, name, len + 1);
    p->ndim = ndim;
    p->shape[0] = (int64_t)d0;
    p->shape[1] = ndim > 1 ? (int64_t)d1 : 1;
    size_t numel = d0, total;
    if ((ndim > 1 && __builtin_mul_overflow(d0, d1, &numel)) ||
        __builtin_add_overflow(t->n_floats, numel, &total) || total > SIZE_MAX / sizeof(float) ||
        d0 > (size_t)INT64_MAX || d1 > (size_t)INT64_MAX) {
        t->n_table--;
        return sbert_fail(SBERT_ERR_FORMAT,
                          "parameter '%s' [%zu, %zu] overflows the parameter count: the config's "
                          "sizes are corrupt",
                          name, d0, ndim > 1 ? d1 : (size_t)1);
    }
    p->numel = numel;
    p->offset = t->n_floats;
    t->n_floats = total;
    return SBERT_OK;
}

/* Add "<base>.weight" [d0, d1] (or [d0] when d1 == 0) and, if with_bias, "<base>.bias" [d0]. */
static sbert_status add_linear(sbert_transformer *t, const char *base, size_t d0, size_t d1,
                               int with_bias) {
    char name[200];
    snprintf(name, sizeof name, "%s.weight", base);
    SBERT_TRY(add_param(t, name, d1 ? 2 : 1, d0, d1));
    if (with_bias) {
        snprintf(name, sizeof name, "%s.bias", base);
        SBERT_TRY(add_param(t, name, 1, d0, 0));
    }
    return SBERT_OK;
}

typedef struct {
    const char *q, *k, *v, *o, *ln1, *ff1, *ff2, *ln2; /* "%zu" = layer index */
} layer_names;

static const layer_names bert_names = {
    "encoder.layer.%zu.attention.self.query", "encoder.layer.%zu.attention.self.key",
    "encoder.layer.%zu.attention.self.value", "encoder.layer.%zu.attention.output.dense",
    "encoder.layer.%zu.attention.output.LayerNorm", "encoder.layer.%zu.intermediate.dense",
    "encoder.layer.%zu.output.dense", "encoder.layer.%zu.output.LayerNorm"};
static const layer_names distil_names = {
    "transformer.layer.%zu.attention.q_lin", "transformer.layer.%zu.attention.k_lin",
    "transformer.layer.%zu.attention.v_lin", "transformer.layer.%zu.attention.out_lin",
    "transformer.layer.%zu.sa_layer_norm", "transformer.layer.%zu.ffn.lin1",
    "transformer.layer.%zu.ffn.lin2", "transformer.layer.%zu.output_layer_norm"};
static const layer_names mpnet_names = {
    "encoder.layer.%zu.attention.attn.q", "encoder.layer.%zu.attention.attn.k",
    "encoder.layer.%zu.attention.attn.v", "encoder.layer.%zu.attention.attn.o",
    "encoder.layer.%zu.attention.LayerNorm", "encoder.layer.%zu.intermediate.dense",
    "encoder.layer.%zu.output.dense", "encoder.layer.%zu.output.LayerNorm"};

static const layer_names *names_of(family f) {
    return f == FAM_DISTILBERT ? &distil_names : f == FAM_MPNET ? &mpnet_names : &bert_names;
}

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#endif
static void layer_name(char *dst, size_t cap, const char *fmt, size_t layer) {
    snprintf(dst, cap, fmt, layer);
}
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

/* Declare every tensor in the flat-buffer order (q, k, v weights adjacent,
 * then q, k, v biases adjacent). Every size product and the running total
 * are overflow-checked (add_param); `path` (config.json) prefixes a failure. */
static sbert_status build_table_unchecked(sbert_transformer *t);
static sbert_status build_table(sbert_transformer *t, const char *path) {
    sbert_status st = build_table_unchecked(t);
    if (st != SBERT_OK) sbert_error_prefix("%s: ", path);
    return st;
}

static sbert_status build_table_unchecked(sbert_transformer *t) {
    const size_t H = t->H, I = t->I;
    SBERT_TRY(add_linear(t, "embeddings.word_embeddings", t->V, H, 0));
    SBERT_TRY(add_linear(t, "embeddings.position_embeddings", t->P, H, 0));
    if (t->n_types) SBERT_TRY(add_linear(t, "embeddings.token_type_embeddings", t->n_types, H, 0));
    SBERT_TRY(add_linear(t, "embeddings.LayerNorm", H, 0, 1));
    if (t->fam == FAM_MPNET)
        SBERT_TRY(add_linear(t, "encoder.relative_attention_bias", (size_t)t->n_rel_bucket,
                             t->n_heads, 0));
    const layer_names *nm = names_of(t->fam);
    char base[160], name[200];
    for (size_t l = 0; l < t->n_layers; l++) {
        const char *qkv[3] = {nm->q, nm->k, nm->v};
        for (int j = 0; j < 3; j++) {
            layer_name(base, sizeof base, qkv[j], l);
            snprintf(name, sizeof name, "%s.weight", base);
            SBERT_TRY(add_param(t, name, 2, H, H));
        }
        for (int j = 0; j < 3; j++) {
            layer_name(base, sizeof base, qkv[j], l);
            snprintf(name, sizeof name, "%s.bias", base);
            SBERT_TRY(add_param(t, name, 1, H, 0));
        }
        layer_name(base, sizeof base, nm->o, l);
        SBERT_TRY(add_linear(t, base, H, H, 1));
        layer_name(base, sizeof base, nm->ln1, l);
        SBERT_TRY(add_linear(t, base, H, 0, 1));
        layer_name(base, sizeof base, nm->ff1, l);
        SBERT_TRY(add_linear(t, base, I, H, 1));
        layer_name(base, sizeof base, nm->ff2, l);
        SBERT_TRY(add_linear(t, base, H, I, 1));
        layer_name(base, sizeof base, nm->ln2, l);
        SBERT_TRY(add_linear(t, base, H, 0, 1));
    }
    return SBERT_OK;
}

/* Point the named views into the flat buffer (table order of build_table). */
static void bind_views(sbert_transformer *t) {
    size_t i = 0;
#define NEXT() (t->params + t->table[i++].offset)
    t->word = NEXT();
    t->pos = NEXT();
    t->type = t->n_types ? NEXT() : NULL;
    t->emb_ln_w = NEXT();
    t->emb_ln_b = NEXT();
    t->rel_bias = t->fam == FAM_MPNET ? NEXT() : NULL;
    for (size_t l = 0; l < t->n_layers; l++) {
        layer_weights *w = &t->layers[l];
        w->qkv_w = NEXT();
        i += 2; /* k, v weights follow contiguously */
        w->qkv_b = NEXT();
        i += 2;
        w->o_w = NEXT();
        w->o_b = NEXT();
        w->ln1_w = NEXT();
        w->ln1_b = NEXT();
        w->ff1_w = NEXT();
        w->ff1_b = NEXT();
        w->ff2_w = NEXT();
        w->ff2_b = NEXT();
        w->ln2_w = NEXT();
        w->ln2_b = NEXT();
    }
#undef NEXT
}

/* ------------------------------------------------------------ weights */

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* The prefix in front of "embeddings.word_embeddings.weight" ("" or "bert." ...). */
static sbert_status find_prefix(const sbert_safetensors *st, char *prefix, size_t cap) {
    const char *key = "embeddings.word_embeddings.weight";
    size_t best = (size_t)-1;
    for (size_t i = 0; i < sbert_st_count(st); i++) {
        const char *n = sbert_st_at(st, i)->name;
        if (!ends_with(n, key)) continue;
        size_t plen = strlen(n) - strlen(key);
        if (plen > 0 && n[plen - 1] != '.') continue;
        if (plen < best && plen < cap) {
            best = plen;
            memcpy(prefix, n, plen);
            prefix[plen] = '\0';
        }
    }
    if (best == (size_t)-1)
        return sbert_fail(SBERT_ERR_FORMAT,
                          "%s: no tensor named 'embeddings.word_embeddings.weight' (with or without "
                          "a model prefix such as 'bert.'): not a supported encoder checkpoint",
                          sbert_st_path(st));
    return SBERT_OK;
}

/* DistilBERT's sinusoidal table (create_sinusoidal_embeddings). out: [P, H]. */
static void sinusoidal(float *out, size_t P, size_t H) {
    for (size_t p = 0; p < P; p++) {
        for (size_t j = 0; j < H; j++) {
            double angle = (double)p / pow(10000.0, 2.0 * (double)(j / 2) / (double)H);
            out[p * H + j] = (float)(j % 2 == 0 ? sin(angle) : cos(angle));
        }
    }
}

/* The checkpoint name of table entry `p` in full[cap] (with the model prefix,
 * or the legacy gamma/beta name), or "" when it is DistilBERT's sinusoidal
 * position table, computed rather than read. */
static sbert_status resolve_name(const sbert_transformer *t, const sbert_safetensors *st,
                                 const char *prefix, const sbert_transformer_param *p, int sinus,
                                 char *full, size_t cap) {
    snprintf(full, cap, "%s%s", prefix, p->name);
    if (sbert_st_find(st, full)) return SBERT_OK;
    /* Old checkpoints name LayerNorm parameters gamma / beta. */
    char legacy[400];
    legacy[0] = '\0';
    if (ends_with(full, "LayerNorm.weight") || ends_with(full, "layer_norm.weight"))
        snprintf(legacy, sizeof legacy, "%.*sgamma", (int)(strlen(full) - 6), full);
    else if (ends_with(full, "LayerNorm.bias") || ends_with(full, "layer_norm.bias"))
        snprintf(legacy, sizeof legacy, "%.*sbeta", (int)(strlen(full) - 4), full);
    if (legacy[0] && sbert_st_find(st, legacy)) {
        snprintf(full, cap, "%s", legacy);
        return SBERT_OK;
    }
    if (sinus && strcmp(p->name, "embeddings.position_embeddings.weight") == 0) {
        full[0] = '\0';
        return SBERT_OK;
    }
    return sbert_fail(SBERT_ERR_FORMAT, "%s: tensor '%s' is missing (model_type %s)",
                      sbert_st_path(st), full, t->model_type);
}

static void shape_str(char *buf, size_t cap, const int64_t *shape, int ndim) {
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

/* Every tensor the config implies is in the checkpoint with that shape:
 * checked before the parameter buffer is allocated, so a config.json that
 * disagrees with model.safetensors fails at once instead of after reserving
 * (possibly gigabytes of) memory for the sizes it claims. */
static sbert_status check_weights(const sbert_transformer *t, const sbert_safetensors *st,
                                  const char *cfg_path, int sinus) {
    char prefix[128], full[400];
    SBERT_TRY(find_prefix(st, prefix, sizeof prefix));
    for (size_t i = 0; i < t->n_table; i++) {
        const sbert_transformer_param *p = &t->table[i];
        SBERT_TRY(resolve_name(t, st, prefix, p, sinus, full, sizeof full));
        if (!full[0]) continue;
        const sbert_st_tensor *e = sbert_st_find(st, full);
        int same = e->ndim == p->ndim;
        for (int k = 0; same && k < p->ndim; k++) same = e->shape[k] == p->shape[k];
        if (!same) {
            char a[128], b[128];
            shape_str(a, sizeof a, e->shape, e->ndim);
            shape_str(b, sizeof b, p->shape, p->ndim);
            return sbert_fail(SBERT_ERR_FORMAT,
                              "%s: tensor '%s' has shape %s but %s implies %s: the config and the "
                              "weights do not belong together",
                              sbert_st_path(st), full, a, cfg_path, b);
        }
    }
    return SBERT_OK;
}

static sbert_status load_weights(sbert_transformer *t, const sbert_safetensors *st, int sinus) {
    char prefix[128], full[400];
    SBERT_TRY(find_prefix(st, prefix, sizeof prefix));
    for (size_t i = 0; i < t->n_table; i++) {
        const sbert_transformer_param *p = &t->table[i];
        float *dst = t->params + p->offset;
        SBERT_TRY(resolve_name(t, st, prefix, p, sinus, full, sizeof full));
        if (!full[0]) {
            sinusoidal(dst, t->P, t->H);
            continue;
        }
        SBERT_TRY(sbert_st_read_f32(st, full, p->shape, p->ndim, dst));
    }
    return SBERT_OK;
}

/* ------------------------------------------------------------ load / free */

sbert_status sbert_transformer_load(const char *dir, sbert_transformer **out) {
    if (!dir || !out) return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_transformer_load: NULL argument");
    *out = NULL;
    char path[4096];
    sbert_transformer *t = calloc(1, sizeof *t);
    sbert_safetensors *st = NULL;
    sbert_status s;
    if (!t) return sbert_fail(SBERT_ERR_NOMEM, "transformer: out of memory");

    if ((s = sbert_path_join(path, sizeof path, dir, "config.json")) != SBERT_OK) goto fail;
    if ((s = parse_config(t, path)) != SBERT_OK) goto fail;
    int sinus = 0;
    if (t->fam == FAM_DISTILBERT) {
        cJSON *cfg = NULL;
        if ((s = sbert_json_load(path, &cfg)) != SBERT_OK) goto fail;
        sinus = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cfg, "sinusoidal_pos_embds"));
        t->sinus_pos = sinus;
        cJSON_Delete(cfg);
    }

    if ((s = build_table(t, path)) != SBERT_OK) goto fail;
    char cfg_path[4096];
    snprintf(cfg_path, sizeof cfg_path, "%s", path);

    if ((s = sbert_path_join(path, sizeof path, dir, "model.safetensors")) != SBERT_OK) goto fail;
    if (!sbert_file_exists(path)) {
        char other[4096];
        if (sbert_path_join(other, sizeof other, dir, "model.safetensors.index.json") == SBERT_OK &&
            sbert_file_exists(other))
            s = sbert_fail(SBERT_ERR_UNSUPPORTED,
                           "%s: sharded checkpoints are not supported; merge the shards into one "
                           "model.safetensors",
                           other);
        else if (sbert_path_join(other, sizeof other, dir, "pytorch_model.bin") == SBERT_OK &&
                 sbert_file_exists(other))
            s = sbert_fail(SBERT_ERR_UNSUPPORTED,
                           "%s: PyTorch pickle checkpoints are not supported; convert it to "
                           "model.safetensors (save_pretrained(..., safe_serialization=True))",
                           other);
        else
            s = sbert_file_check(path); /* "no such file", or what is there instead */
        goto fail;
    }
    if ((s = sbert_st_open(path, &st)) != SBERT_OK) goto fail;
    if ((s = check_weights(t, st, cfg_path, sinus)) != SBERT_OK) goto fail;
    t->params = sbert_big_alloc((t->n_floats ? t->n_floats : 1) * sizeof(float));
    t->layers = calloc(t->n_layers ? t->n_layers : 1, sizeof *t->layers);
    if (!t->params || !t->layers) {
        s = sbert_fail(SBERT_ERR_NOMEM,
                       "%s: out of memory for the %zu parameters (%.1f GiB) that config.json "
                       "describes",
                       dir, t->n_floats, (double)t->n_floats * sizeof(float) / (1024.0 * 1024 * 1024));
        goto fail;
    }
    bind_views(t);

    if ((s = load_weights(t, st, sinus)) != SBERT_OK) goto fail;
    sbert_st_close(st);
    *out = t;
    return SBERT_OK;
fail:
    sbert_st_close(st);
    sbert_transformer_free(t);
    return s;
}

static void train_state_free(struct sbert_train_state *s);

void sbert_transformer_free(sbert_transformer *t) {
    if (!t) return;
    train_state_free(t->train);
    sbert_big_release(&t->arena_f, &t->arena_f_cap);
    sbert_big_release(&t->arena_b, &t->arena_b_cap);
    sbert_big_release(&t->arena_ws, &t->arena_ws_cap);
    sbert_big_release(&t->fwd_ws, &t->fwd_ws_cap);
    if (!t->shared) free(t->params);
    free(t->table);
    free(t->layers);
    free(t->wbf16);
    free(t->lbf16);
    free(t);
}

/* ------------------------------------------------------------ pruning */

sbert_status sbert_transformer_check_layers(size_t n_layers, const size_t *keep, size_t n) {
    if (n == 0)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "the list of layers to keep is empty (the encoder has %zu layers: "
                                                 "give at least one index in 0..%zu)",
                          n_layers, n_layers ? n_layers - 1 : 0);
    for (size_t i = 0; i < n; i++) {
        if (keep[i] >= n_layers)
            return sbert_fail(SBERT_ERR_INVALID_ARG, "layer %zu is out of range: the encoder has %zu layers (0..%zu)",
                              keep[i], n_layers, n_layers ? n_layers - 1 : 0);
        if (i && keep[i] == keep[i - 1])
            return sbert_fail(SBERT_ERR_INVALID_ARG, "layer %zu is listed twice", keep[i]);
        if (i && keep[i] < keep[i - 1])
            return sbert_fail(SBERT_ERR_INVALID_ARG,
                              "layers must be listed in increasing order (%zu after %zu): the kept layers run in "
                              "their original order",
                              keep[i], keep[i - 1]);
    }
    return SBERT_OK;
}

sbert_status sbert_transformer_keep_layers(sbert_transformer *t, const size_t *keep, size_t n) {
    SBERT_TRY(sbert_transformer_check_layers(t->n_layers, keep, n));
    if (t->lora)
        return sbert_fail(SBERT_ERR_UNSUPPORTED, "layers cannot be removed from an encoder with LoRA adapters");
    /* The table is the embeddings (+ MPNet's relative bias), then one block of
     * equal size per layer: the new buffer is that prefix and the kept blocks. */
    size_t per_tab = 0, prefix_tab = 0;
    while (prefix_tab < t->n_table && strncmp(t->table[prefix_tab].name, "encoder.layer.", 14) &&
           strncmp(t->table[prefix_tab].name, "transformer.layer.", 18))
        prefix_tab++;
    per_tab = t->n_layers ? (t->n_table - prefix_tab) / t->n_layers : 0;
    const size_t prefix = prefix_tab < t->n_table ? t->table[prefix_tab].offset : t->n_floats;
    const size_t per = t->n_layers ? (t->n_floats - prefix) / t->n_layers : 0;
    float *np = malloc((prefix + n * per) * sizeof *np);
    layer_weights *nl = calloc(n, sizeof *nl);
    sbert_transformer_param *ntab = malloc((prefix_tab + n * per_tab) * sizeof *ntab);
    if (!np || !nl || !ntab) {
        free(np);
        free(nl);
        free(ntab);
        return sbert_fail(SBERT_ERR_NOMEM, "transformer: out of memory removing layers");
    }
    memcpy(np, t->params, prefix * sizeof *np);
    for (size_t i = 0; i < n; i++) memcpy(np + prefix + i * per, t->params + prefix + keep[i] * per, per * sizeof *np);
    const int bf16 = t->wbf16 != NULL;
    sbert_transformer_set_bf16(t, 0);
    sbert_transformer_release_activations(t);
    free(t->params);
    free(t->layers);
    free(t->table);
    t->params = np;
    t->layers = nl;
    t->table = ntab;
    t->cap_table = prefix_tab + n * per_tab;
    t->n_table = 0;
    t->n_floats = 0;
    t->n_layers = n;
    /* the same sizes as before, so this cannot fail (nor overflow) */
    sbert_status st = build_table_unchecked(t);
    if (st == SBERT_OK && t->n_floats != prefix + n * per)
        st = sbert_fail(SBERT_ERR_INTERNAL, "transformer: the pruned table has %zu floats, expected %zu", t->n_floats,
                        prefix + n * per);
    if (st != SBERT_OK) return st;
    bind_views(t);
    return bf16 ? sbert_transformer_set_bf16(t, 1) : SBERT_OK;
}

/* ------------------------------------------------------------- bf16 */

/* Round the linear weights to bf16 again (after load, after an optimizer step). */
static void bf16_refresh(sbert_transformer *t) {
    const size_t H = t->H, I = t->I;
    for (size_t l = 0; l < t->n_layers; l++) {
        const layer_weights *w = &t->layers[l];
        const layer_bf16 *b = &t->lbf16[l];
        sbert_f32_to_bf16(b->qkv, w->qkv_w, 3 * H * H);
        sbert_f32_to_bf16(b->o, w->o_w, H * H);
        sbert_f32_to_bf16(b->ff1, w->ff1_w, I * H);
        sbert_f32_to_bf16(b->ff2, w->ff2_w, H * I);
    }
}

sbert_status sbert_transformer_set_bf16(sbert_transformer *t, int on) {
    if (!on) {
        free(t->wbf16);
        free(t->lbf16);
        t->wbf16 = NULL;
        t->lbf16 = NULL;
        return SBERT_OK;
    }
    t->bf16_stale = 0;
    if (t->wbf16) {
        bf16_refresh(t);
        return SBERT_OK;
    }
    const size_t H = t->H, I = t->I, per = 4 * H * H + 2 * I * H;
    t->wbf16 = malloc((t->n_layers * per + 1) * sizeof(uint16_t));
    t->lbf16 = calloc(t->n_layers + 1, sizeof(layer_bf16));
    if (!t->wbf16 || !t->lbf16) {
        free(t->wbf16);
        free(t->lbf16);
        t->wbf16 = NULL;
        t->lbf16 = NULL;
        return sbert_fail(SBERT_ERR_NOMEM, "transformer: out of memory for the bf16 weights");
    }
    for (size_t l = 0; l < t->n_layers; l++) {
        uint16_t *p = t->wbf16 + l * per;
        t->lbf16[l] = (layer_bf16){p, p + 3 * H * H, p + 4 * H * H, p + 4 * H * H + I * H};
    }
    bf16_refresh(t);
    return SBERT_OK;
}

int sbert_transformer_bf16(const sbert_transformer *t) { return t->wbf16 != NULL; }

/* An inference forward of at most this many tokens multiplies in fp32 even at
 * precision bf16: there the fp32 small-row kernel (kernels/gemm_small.c) beats
 * oneDNN's bf16 products (bench/bf16, batch 1 = ~13 tokens: fp32 308 vs bf16
 * 265 sentences/s at one thread, 546 vs 237 at two; from batch 4 = ~50 tokens
 * bf16 leads). Training forwards always multiply in bf16 (autocast). */
#define BF16_MIN_ROWS 32

/* Whether this forward multiplies in bf16: a bf16 handle, and training or more than BF16_MIN_ROWS tokens. */
static int bf16_forward(const sbert_transformer *t, size_t T, int train) {
    return t->wbf16 != NULL && (train || T > BF16_MIN_ROWS);
}

/* out[T,N] = in[T,K] . W^T + b, in bf16 when b16 (Wb: W's bf16 copy), else fp32. */
static void lin_fwd(int b16, float *out, const float *in, const float *W, const uint16_t *Wb, const float *b,
                    size_t T, size_t K, size_t N) {
    if (b16) sbert_bf16_linear_forward(out, in, Wb, b, T, K, N);
    else sbert_linear_forward(out, in, W, b, T, K, N);
}

/* ------------------------------------------------------------ accessors */

size_t sbert_transformer_hidden_size(const sbert_transformer *t) { return t->H; }
size_t sbert_transformer_max_position_embeddings(const sbert_transformer *t) { return t->P; }
const char *sbert_transformer_model_type(const sbert_transformer *t) { return t->model_type; }
size_t sbert_transformer_num_layers(const sbert_transformer *t) { return t->n_layers; }
size_t sbert_transformer_num_heads(const sbert_transformer *t) { return t->n_heads; }
size_t sbert_transformer_vocab_size(const sbert_transformer *t) { return t->V; }
int sbert_transformer_frozen_positions(const sbert_transformer *t) { return t->sinus_pos; }
float sbert_transformer_initializer_range(const sbert_transformer *t) { return t->init_range; }
float sbert_transformer_layer_norm_eps(const sbert_transformer *t) { return t->eps; }
int sbert_transformer_hidden_act(const sbert_transformer *t) { return (int)t->act; }
size_t sbert_transformer_intermediate_size(const sbert_transformer *t) { return t->I; }
int sbert_transformer_pad_id(const sbert_transformer *t) { return t->pad_idx; }

size_t sbert_transformer_max_tokens(const sbert_transformer *t) {
    size_t off = (t->fam == FAM_ROBERTA || t->fam == FAM_XLMR || t->fam == FAM_MPNET)
                     ? (size_t)t->pad_idx + 1
                     : 0;
    return t->P > off ? t->P - off : 0;
}

size_t sbert_transformer_num_params(const sbert_transformer *t) { return t->n_table; }
const sbert_transformer_param *sbert_transformer_param_at(const sbert_transformer *t, size_t i) {
    return i < t->n_table ? &t->table[i] : NULL;
}
float *sbert_transformer_params(sbert_transformer *t, size_t *n_floats) {
    if (n_floats) *n_floats = t->n_floats;
    return t->params;
}

/* ------------------------------------------------------------ forward */

int sbert_mpnet_relative_bucket(long relative_position, int num_buckets, int max_distance) {
    /* MPNetEncoder.relative_position_bucket, evaluated in fp32 as torch does. */
    int ret = 0;
    long n = -relative_position;
    num_buckets /= 2;
    if (n < 0) {
        ret += num_buckets;
        n = -n;
    }
    int max_exact = num_buckets / 2;
    if (n < max_exact) return ret + (int)n;
    float r = logf((float)n / (float)max_exact) / (float)log((double)max_distance / max_exact) *
              (float)(num_buckets - max_exact);
    long large = max_exact + (long)r;
    if (large > num_buckets - 1) large = num_buckets - 1;
    return ret + (int)large;
}

/* position id of every token (HF create_position_ids_from_input_ids for the
 * RoBERTa-like families: pad + running count of non-pad tokens, pad tokens get pad). */
static sbert_status positions_and_checks(const sbert_transformer *t, const int32_t *ids,
                                         const int32_t *types, const size_t *offs, size_t n_seq,
                                         int32_t *pos) {
    int roberta_like = t->fam == FAM_ROBERTA || t->fam == FAM_XLMR || t->fam == FAM_MPNET;
    int use_types = t->n_types > 0 && types != NULL;
    for (size_t s = 0; s < n_seq; s++) {
        size_t b = offs[s], e = offs[s + 1];
        long count = 0;
        for (size_t i = b; i < e; i++) {
            if (ids[i] < 0 || (size_t)ids[i] >= t->V)
                return sbert_fail(SBERT_ERR_INVALID_ARG,
                                  "transformer forward: token id %d (sequence %zu, position %zu) is "
                                  "outside the vocabulary of %zu",
                                  (int)ids[i], s, i - b, t->V);
            if (use_types && (types[i] < 0 || (size_t)types[i] >= t->n_types))
                return sbert_fail(SBERT_ERR_INVALID_ARG,
                                  "transformer forward: token type %d (sequence %zu, position %zu) "
                                  "is outside type_vocab_size %zu",
                                  (int)types[i], s, i - b, t->n_types);
            long p;
            if (roberta_like) {
                if (ids[i] == t->pad_idx) {
                    p = t->pad_idx;
                } else {
                    count++;
                    p = t->pad_idx + count;
                }
            } else {
                p = (long)(i - b);
            }
            if (p >= (long)t->P)
                return sbert_fail(SBERT_ERR_INVALID_ARG,
                                  "transformer forward: sequence %zu has %zu tokens, more than the "
                                  "%zu this %s model allows (max_position_embeddings %zu); truncate it",
                                  s, e - b, sbert_transformer_max_tokens(t), t->model_type, t->P);
            pos[i] = (int32_t)p;
        }
    }
    return SBERT_OK;
}

/* ------------------------------------------------------------ training
 *
 * The training forward runs the same kernels in the same order as
 * sbert_transformer_forward (so without dropout its output is bit-identical)
 * and keeps, per layer, what the backward needs: the layer input, qkv, the
 * attention probabilities and output, the residual sums with LayerNorm
 * mean/rstd, the FFN pre-activation and activation, and the dropout keep
 * flags. Dropout (training mode only, when an rng is given and p > 0) sits
 * where Hugging Face puts it:
 *   embeddings: after the LayerNorm                   (hidden p)
 *   attention:  on the softmax probabilities          (attention p)
 *   attention output projection, before residual + LN (hidden p; not DistilBERT)
 *   FFN output projection, before residual + LN       (hidden p)
 * Keep flags are drawn from the rng in that order (embeddings, then per layer
 * attention probs, attention output, FFN output), one uniform per element,
 * kept when u >= p and scaled by 1 / (1 - p) -- deterministic for a seed.
 *
 * The backward walks the layers in reverse with the kernels of
 * kernels/cpu_ops_backward.h and attention_backward.h. Parameter gradients go
 * to the caller's flat buffer at the parameter's own offset (the gradient of
 * the weight at t->params + k is grads[k]), accumulated (+=). MPNet's
 * relative bias gradient is gathered over layers in the expanded
 * [heads, 2*maxL-1] layout and scattered to the bucket table at the end.
 * Embedding rows at the padding index get no gradient (nn.Embedding's
 * padding_idx: word embeddings of every family, position embeddings of the
 * RoBERTa-like ones); DistilBERT's sinusoidal position table is frozen.
 */

typedef struct {
    float *x_in;                /* [T, H] layer input */
    float *qkv;                 /* [T, 3H] */
    float *probs;               /* [np] softmax probabilities (before dropout) */
    uint8_t *att_keep;          /* [np] or NULL */
    float *att;                 /* [T, H] attention output */
    float *sum1, *mean1, *rstd1; /* [T, H], [T], [T] */
    uint8_t *keep1;             /* [T, H] or NULL: dropout on the output projection */
    float *y;                   /* [T, H] LN1 output */
    float *pre, *h;             /* [T, I] FFN pre-activation and activation */
    uint8_t *keep2;             /* [T, H] or NULL: dropout on the FFN output */
    float *sum2, *mean2, *rstd2;
    /* decoder with cross-attention: c = LN_c(z[seq] + y), the FFN's input */
    float *csum, *cmean, *crstd, *cy; /* [T, H], [T], [T], [T, H]; NULL without */
} layer_acts;

struct sbert_train_state {
    size_t T, n_seq, maxL, np, rel_w;
    size_t *offs;                 /* [n_seq + 1] */
    int32_t *ids, *types, *pos;   /* [T] each; types NULL when not given */
    float *emb_sum, *emb_mean, *emb_rstd, *emb_out; /* [T,H], [T], [T], [T,H] */
    uint8_t *emb_keep;            /* [T, H] or NULL */
    float *rel;                   /* [NH, rel_w] or NULL */
    float ks_hidden, ks_attn;     /* 1 / (1 - p) of the masks in use */
    const sbert_transformer_cross *cross; /* decoder: the caller's cross blocks [n_layers], or NULL */
    layer_acts *layers;
    float *fbuf;                  /* all floats (the transformer's arena_f) */
    uint8_t *bbuf;                /* all keep flags (arena_b) */
    size_t bytes;
};

static void train_state_free(struct sbert_train_state *s) {
    if (!s) return;
    free(s->offs);
    free(s->ids);
    free(s->types);
    free(s->pos);
    free(s->layers);
    free(s); /* fbuf and bbuf belong to the transformer's arenas */
}

void sbert_transformer_release_activations(sbert_transformer *t) {
    if (!t) return;
    train_state_free(t->train);
    t->train = NULL;
    t->train_empty = 0;
}

size_t sbert_transformer_activation_bytes(const sbert_transformer *t) {
    return t && t->train ? t->train->bytes : 0;
}

void sbert_transformer_get_dropout(const sbert_transformer *t, float *hidden, float *attention) {
    if (hidden) *hidden = t->p_hidden;
    if (attention) *attention = t->p_attn;
}

sbert_status sbert_transformer_set_dropout(sbert_transformer *t, float hidden, float attention) {
    if (!(hidden >= 0.0f && hidden < 1.0f) || !(attention >= 0.0f && attention < 1.0f))
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "transformer: dropout probabilities must be in [0, 1) (got hidden %g, "
                          "attention %g)",
                          (double)hidden, (double)attention);
    t->p_hidden = hidden;
    t->p_attn = attention;
    return SBERT_OK;
}

/* keep[n] = u >= p (kernels/dropout.h; the seed is one number from rng)
 * and, when x is given, x[n] = keep ? x * ks : 0. */
static void draw_apply_keep(uint8_t *keep, float *x, size_t n, float p, float ks, sbert_rng *rng) {
    sbert_dropout_draw(keep, x, n, p, ks, sbert_rng_next(rng));
}

static void draw_keep(uint8_t *keep, size_t n, float p, sbert_rng *rng) {
    draw_apply_keep(keep, NULL, n, p, 1.0f, rng);
}

/* Allocate the state for T tokens (offsets already validated). */
static sbert_status train_state_alloc(sbert_transformer *t, const size_t *offs, size_t n_seq,
                                      size_t maxL, int drop_h, int drop_a, int cross,
                                      struct sbert_train_state **out) {
    const size_t T = offs[n_seq], H = t->H, I = t->I, NH = t->n_heads, L = t->n_layers;
    struct sbert_train_state *s = calloc(1, sizeof *s);
    if (!s) return sbert_fail(SBERT_ERR_NOMEM, "transformer training forward: out of memory");
    s->T = T;
    s->n_seq = n_seq;
    s->maxL = maxL;
    s->np = sbert_attention_probs_size(offs, n_seq, NH);
    s->rel_w = t->rel_bias ? 2 * maxL - 1 : 0;
    size_t per_layer = T * H /* x_in */ + T * 3 * H + s->np + T * H /* att */ + T * H + 2 * T +
                       T * H /* y */ + 2 * T * I + T * H + 2 * T + (cross ? 2 * T * H + 2 * T : 0);
    /* every buffer below starts on a 64-byte boundary (TAKE rounds to 16 floats) */
    size_t nf = 2 * T * H + 2 * T + NH * s->rel_w + L * per_layer + 16 * (5 + (13 + (cross ? 4 : 0)) * L);
    int emb_drop = drop_h;
    int out_drop1 = drop_h && t->fam != FAM_DISTILBERT;
    size_t nb = (emb_drop ? T * H : 0) +
                L * ((drop_a ? s->np : 0) + (out_drop1 ? T * H : 0) + (drop_h ? T * H : 0));
    s->offs = malloc((n_seq + 1) * sizeof(size_t));
    s->ids = malloc(T * sizeof(int32_t));
    s->types = malloc(T * sizeof(int32_t));
    s->pos = malloc(T * sizeof(int32_t));
    s->layers = calloc(L ? L : 1, sizeof(layer_acts));
    s->fbuf = sbert_big_reserve(&t->arena_f, &t->arena_f_cap, nf * sizeof(float));
    s->bbuf = nb ? sbert_big_reserve(&t->arena_b, &t->arena_b_cap, nb) : NULL;
    if (!s->offs || !s->ids || !s->types || !s->pos || !s->layers || !s->fbuf || (nb && !s->bbuf)) {
        train_state_free(s);
        return sbert_fail(SBERT_ERR_NOMEM,
                          "transformer training forward: out of memory for the activations of %zu "
                          "tokens (%zu MB)",
                          T, nf * sizeof(float) >> 20);
    }
    s->bytes = nf * sizeof(float) + nb;
    float *f = s->fbuf;
    uint8_t *b = s->bbuf;
#define TAKE(n) (f += ((n) + 15) / 16 * 16, f - ((n) + 15) / 16 * 16)
#define TAKEB(n) (b += (n), b - (n))
    s->emb_sum = TAKE(T * H);
    s->emb_out = TAKE(T * H);
    s->emb_mean = TAKE(T);
    s->emb_rstd = TAKE(T);
    s->rel = s->rel_w ? TAKE(NH * s->rel_w) : NULL;
    s->emb_keep = emb_drop ? TAKEB(T * H) : NULL;
    for (size_t l = 0; l < L; l++) {
        layer_acts *a = &s->layers[l];
        a->x_in = TAKE(T * H);
        a->qkv = TAKE(T * 3 * H);
        a->probs = TAKE(s->np);
        a->att = TAKE(T * H);
        a->sum1 = TAKE(T * H);
        a->mean1 = TAKE(T);
        a->rstd1 = TAKE(T);
        a->y = TAKE(T * H);
        a->pre = TAKE(T * I);
        a->h = TAKE(T * I);
        a->sum2 = TAKE(T * H);
        a->mean2 = TAKE(T);
        a->rstd2 = TAKE(T);
        if (cross) {
            a->csum = TAKE(T * H);
            a->cy = TAKE(T * H);
            a->cmean = TAKE(T);
            a->crstd = TAKE(T);
        }
        a->att_keep = drop_a ? TAKEB(s->np) : NULL;
        a->keep1 = out_drop1 ? TAKEB(T * H) : NULL;
        a->keep2 = drop_h ? TAKEB(T * H) : NULL;
    }
#undef TAKE
#undef TAKEB
    s->ks_hidden = drop_h ? 1.0f / (1.0f - t->p_hidden) : 1.0f;
    s->ks_attn = drop_a ? 1.0f / (1.0f - t->p_attn) : 1.0f;
    *out = s;
    return SBERT_OK;
}

/* The one forward pass. train = 0: inference, the layer loop works in place
 * in `out` with one small workspace; train = 1: every layer's activations are
 * kept in t->train for sbert_transformer_backward, with dropout when rng is
 * given. Both modes run the same kernels in the same order, so a training
 * forward without dropout gives bit-identical outputs. */
static sbert_status forward_impl(sbert_transformer *t, const int32_t *input_ids, const int32_t *token_type_ids,
                                 const size_t *seq_offsets, size_t n_seq, int train, sbert_rng *rng, int causal,
                                 const sbert_transformer_cross *cross, float *out) {
    const char *fn = train ? "sbert_transformer_forward_train" : "sbert_transformer_forward";
    if (!t || !seq_offsets || (n_seq && (!input_ids || !out)))
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: NULL argument", fn);
    if (cross && !train) return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: cross-attention needs a training forward", fn);
    if (train) sbert_transformer_release_activations(t);
    if (seq_offsets[0] != 0)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "transformer forward: seq_offsets[0] must be 0");
    size_t maxL = 0;
    for (size_t s = 0; s < n_seq; s++) {
        if (seq_offsets[s + 1] < seq_offsets[s])
            return sbert_fail(SBERT_ERR_INVALID_ARG, "transformer forward: seq_offsets decrease at sequence %zu", s);
        size_t L = seq_offsets[s + 1] - seq_offsets[s];
        if (L > maxL) maxL = L;
    }
    const size_t T = seq_offsets[n_seq], H = t->H, I = t->I, NH = t->n_heads, d = H / NH;
    if (T == 0) {
        if (train) t->train_empty = 1; /* nothing to keep; the backward is then a no-op */
        return SBERT_OK;
    }
    struct sbert_train_state *st = NULL;
    const int drop_h = train && rng && t->p_hidden > 0.0f, drop_a = train && rng && t->p_attn > 0.0f;
    if (train) SBERT_TRY(train_state_alloc(t, seq_offsets, n_seq, maxL, drop_h, drop_a, cross != NULL, &st));
    if (st) st->cross = cross;

    /* Workspace: positions and tmp [T, H] always; in inference mode also qkv
     * [T, 3H], att [T, H], ff [T, I] and the expanded relative bias. */
    const size_t rel_w = t->rel_bias ? 2 * maxL - 1 : 0;
    size_t n_f = T * H + (train ? 0 : T * 3 * H + T * H + T * I + NH * rel_w);
    /* the floats, then (inference) the positions */
    size_t ws_bytes = n_f * sizeof(float) + (train ? 0 : T * sizeof(int32_t));
    float *ws = NULL;
    int own_ws = 0; /* 1: ws is t->fwd_ws, released at the end */
    if (!__atomic_exchange_n(&t->fwd_ws_busy, 1, __ATOMIC_ACQUIRE)) {
        ws = sbert_big_reserve(&t->fwd_ws, &t->fwd_ws_cap, ws_bytes);
        own_ws = 1;
    } else {
        ws = sbert_big_alloc(ws_bytes);
    }
    int32_t *pos = train ? st->pos : ws ? (int32_t *)(ws + n_f) : NULL;
    sbert_status s = SBERT_OK;
    if (!pos || !ws) {
        s = sbert_fail(SBERT_ERR_NOMEM, "transformer forward: out of memory for %zu tokens", T);
        goto done;
    }
    float *tmp = ws, *w_qkv = NULL, *w_att = NULL, *w_ff = NULL, *w_rel = NULL;
    if (!train) {
        w_qkv = tmp + T * H;
        w_att = w_qkv + T * 3 * H;
        w_ff = w_att + T * H;
        w_rel = w_ff + T * I;
    }
    if ((s = positions_and_checks(t, input_ids, token_type_ids, seq_offsets, n_seq, pos)) != SBERT_OK) goto done;
    if (train) {
        memcpy(st->offs, seq_offsets, (n_seq + 1) * sizeof(size_t));
        memcpy(st->ids, input_ids, T * sizeof(int32_t));
        if (token_type_ids) {
            memcpy(st->types, token_type_ids, T * sizeof(int32_t));
        } else {
            free(st->types);
            st->types = NULL;
        }
    }

    /* embeddings: LN(word + pos (+ type)); in training mode the sum, the LN
     * statistics and output are kept, and layer 0's input is dropout(LN). */
    float *e = train ? st->emb_sum : out;
    memset(e, 0, T * H * sizeof(float));
    sbert_embedding_add(e, input_ids, t->word, T, H);
    sbert_embedding_add(e, pos, t->pos, T, H);
    if (t->type) {
        if (token_type_ids) {
            sbert_embedding_add(e, token_type_ids, t->type, T, H);
        } else {
            for (size_t i = 0; i < T; i++)
                for (size_t j = 0; j < H; j++) e[i * H + j] += t->type[j];
        }
    }
    if (train) {
        sbert_layernorm_forward(st->emb_out, st->emb_mean, st->emb_rstd, e, t->emb_ln_w, t->emb_ln_b, T, H, t->eps);
        float *x0 = t->n_layers ? st->layers[0].x_in : out;
        memcpy(x0, st->emb_out, T * H * sizeof(float));
        if (st->emb_keep) {
            draw_apply_keep(st->emb_keep, x0, T * H, t->p_hidden, st->ks_hidden, rng);
        }
    } else {
        sbert_layernorm_forward(out, NULL, NULL, out, t->emb_ln_w, t->emb_ln_b, T, H, t->eps);
    }

    /* MPNet: rel[h, r + maxL - 1] = bias[bucket(r), h] for r = j - i in [-(maxL-1), maxL-1] */
    float *rel = t->rel_bias ? (train ? st->rel : w_rel) : NULL;
    if (rel) {
        for (size_t k = 0; k < rel_w; k++) {
            long r = (long)k - (long)(maxL - 1);
            int b = sbert_mpnet_relative_bucket(r, MPNET_BUCKETS, MPNET_MAX_DISTANCE);
            for (size_t h = 0; h < NH; h++) rel[h * rel_w + k] = t->rel_bias[(size_t)b * NH + h];
        }
    }

    const float scale = (float)(1.0 / sqrt((double)d));
    const int b16 = bf16_forward(t, T, train);
    for (size_t l = 0; l < t->n_layers; l++) {
        const layer_weights *w = &t->layers[l];
        layer_acts *a = train ? &st->layers[l] : NULL;
        /* Inference: everything in place in `out`; training: the kept buffers. */
        float *x_in = a ? a->x_in : out, *qkv = a ? a->qkv : w_qkv, *att = a ? a->att : w_att;
        float *y = a ? a->y : out, *pre = a ? a->pre : w_ff, *hh = a ? a->h : w_ff;
        float *dst = a && l + 1 < t->n_layers ? st->layers[l + 1].x_in : out;
        const layer_bf16 *wb = t->lbf16 ? &t->lbf16[l] : &(layer_bf16){0};
        lin_fwd(b16, qkv, x_in, w->qkv_w, wb->qkv, w->qkv_b, T, H, 3 * H);
        for (int k = SBERT_LIN_Q; k <= SBERT_LIN_V && t->lora; k++)
            if ((s = sbert_lora_forward(t->lora, l, (sbert_lin_kind)k, x_in, T, qkv, 3 * H, train, rng)) != SBERT_OK)
                goto done;
        if (a && a->att_keep) /* the output is the dropout pass's below (never a decoder: no dropout there) */
            s = sbert_attention_probs(a->probs, qkv, seq_offsets, n_seq, NH, d, scale, rel, maxL);
        else
            s = sbert_attention_forward_causal(att, a ? a->probs : NULL, qkv, seq_offsets, n_seq, NH, d, scale, rel,
                                               maxL, causal);
        if (s != SBERT_OK) goto done;
        if (a && a->att_keep) {
            draw_keep(a->att_keep, st->np, t->p_attn, rng);
            if ((s = sbert_attention_dropout_output(att, a->probs, a->att_keep, st->ks_attn, qkv, seq_offsets, n_seq,
                                                    NH, d)) != SBERT_OK)
                goto done;
        }
        lin_fwd(b16, tmp, att, w->o_w, wb->o, w->o_b, T, H, H);
        if (t->lora && (s = sbert_lora_forward(t->lora, l, SBERT_LIN_O, att, T, tmp, H, train, rng)) != SBERT_OK)
            goto done;
        if (a && a->keep1) {
            draw_apply_keep(a->keep1, tmp, T * H, t->p_hidden, st->ks_hidden, rng);
        }
        sbert_add_layernorm_forward(y, a ? a->sum1 : NULL, a ? a->mean1 : NULL, a ? a->rstd1 : NULL, tmp, x_in,
                                    w->ln1_w, w->ln1_b, T, H, t->eps);
        /* decoder: the cross-attention block, c = LN_c(z[sequence] + y) (see transformer.h); c is
         * the feed-forward block's input and residual */
        float *ffin = y;
        if (cross) {
            const sbert_transformer_cross *x = &cross[l];
            for (size_t q = 0; q < n_seq; q++)
                for (size_t i = seq_offsets[q]; i < seq_offsets[q + 1]; i++)
                    memcpy(tmp + i * H, x->z + q * H, H * sizeof(float));
            sbert_add_layernorm_forward(a->cy, a->csum, a->cmean, a->crstd, tmp, y, x->ln_w, x->ln_b, T, H, t->eps);
            ffin = a->cy;
        }
        if (sbert_lora_has(t->lora, l, SBERT_LIN_FF1)) {
            /* the adapter adds to the pre-activation: linear, adapter, then the activation */
            lin_fwd(b16, pre, ffin, w->ff1_w, wb->ff1, w->ff1_b, T, H, I);
            if ((s = sbert_lora_forward(t->lora, l, SBERT_LIN_FF1, ffin, T, pre, I, train, rng)) != SBERT_OK)
                goto done;
            for (size_t i = 0; i < T * I; i++) hh[i] = sbert_act_apply(t->act, pre[i]);
        } else if (b16) {
            sbert_bf16_linear_act_forward(hh, pre, ffin, wb->ff1, w->ff1_b, T, H, I, t->act);
        } else {
            sbert_linear_act_forward(hh, pre, ffin, w->ff1_w, w->ff1_b, T, H, I, t->act);
        }
        lin_fwd(b16, tmp, hh, w->ff2_w, wb->ff2, w->ff2_b, T, I, H);
        if (t->lora && (s = sbert_lora_forward(t->lora, l, SBERT_LIN_FF2, hh, T, tmp, H, train, rng)) != SBERT_OK)
            goto done;
        if (a && a->keep2) {
            draw_apply_keep(a->keep2, tmp, T * H, t->p_hidden, st->ks_hidden, rng);
        }
        sbert_add_layernorm_forward(dst, a ? a->sum2 : NULL, a ? a->mean2 : NULL, a ? a->rstd2 : NULL, tmp, ffin,
                                    w->ln2_w, w->ln2_b, T, H, t->eps);
    }
done:
    if (own_ws) __atomic_store_n(&t->fwd_ws_busy, 0, __ATOMIC_RELEASE);
    else free(ws);
    if (train) {
        if (s == SBERT_OK) t->train = st;
        else train_state_free(st);
    }
    return s;
}

sbert_status sbert_transformer_forward(sbert_transformer *t, const int32_t *input_ids, const int32_t *token_type_ids,
                                       const size_t *seq_offsets, size_t n_seq, float *out) {
    if (t->wbf16 && t->bf16_stale) {
        /* an evaluation between training steps: the bf16 copies follow the last optimizer step */
        bf16_refresh(t);
        t->bf16_stale = 0;
    }
    return forward_impl(t, input_ids, token_type_ids, seq_offsets, n_seq, 0, NULL, 0, NULL, out);
}

sbert_status sbert_transformer_forward_train(sbert_transformer *t, const int32_t *input_ids,
                                             const int32_t *token_type_ids, const size_t *seq_offsets, size_t n_seq,
                                             sbert_rng *rng, float *out) {
    /* bf16 training: the weights may have moved since the last training
     * forward (autocast casts them at every forward too) */
    if (t->wbf16 && t->bf16_stale) bf16_refresh(t);
    if (t->wbf16) t->bf16_stale = 1;
    return forward_impl(t, input_ids, token_type_ids, seq_offsets, n_seq, 1, rng, 0, NULL, out);
}

sbert_status sbert_transformer_forward_decoder(sbert_transformer *t, const int32_t *input_ids,
                                               const size_t *seq_offsets, size_t n_seq,
                                               const sbert_transformer_cross *cross, float *out) {
    if (t->wbf16) return sbert_fail(SBERT_ERR_UNSUPPORTED, "transformer decoder pass: bf16 weights are not supported");
    return forward_impl(t, input_ids, NULL, seq_offsets, n_seq, 1, NULL, 1, cross, out);
}

sbert_status sbert_transformer_share(sbert_transformer *src, sbert_transformer **out) {
    *out = NULL;
    if (src->lora)
        return sbert_fail(SBERT_ERR_UNSUPPORTED, "transformer: a handle sharing the weights of an encoder with LoRA "
                                                 "adapters is not supported");
    sbert_transformer *t = malloc(sizeof *t);
    if (!t) return sbert_fail(SBERT_ERR_NOMEM, "transformer: out of memory");
    *t = *src;
    t->shared = 1;
    t->train = NULL;
    t->train_empty = 0;
    t->arena_f = t->arena_b = t->arena_ws = t->fwd_ws = NULL;
    t->arena_f_cap = t->arena_b_cap = t->arena_ws_cap = t->fwd_ws_cap = 0;
    t->fwd_ws_busy = 0;
    t->wbf16 = NULL;
    t->lbf16 = NULL;
    t->bf16_stale = 0;
    t->table = malloc((src->n_table ? src->n_table : 1) * sizeof *t->table);
    t->layers = calloc(src->n_layers ? src->n_layers : 1, sizeof *t->layers);
    t->cap_table = src->n_table;
    if (!t->table || !t->layers) {
        free(t->table);
        free(t->layers);
        free(t);
        return sbert_fail(SBERT_ERR_NOMEM, "transformer: out of memory");
    }
    memcpy(t->table, src->table, src->n_table * sizeof *t->table);
    bind_views(t);
    *out = t;
    return SBERT_OK;
}

/* grads[k] is the gradient of t->params[k]; none while the encoder is frozen (LoRA). */
#define GRAD(ptr) (t->frozen ? NULL : grads + ((ptr) - t->params))

/* dtable += rows of de for every token whose id is not `skip` (skip < 0: none). */
static void embedding_backward_skip(float *dtable, const int32_t *ids, const float *de, size_t T,
                                    size_t H, long skip, float *scratch) {
    int any = 0;
    for (size_t i = 0; i < T && !any; i++) any = ids[i] == skip;
    if (!any) {
        sbert_embedding_backward(dtable, ids, de, T, H);
        return;
    }
    memcpy(scratch, de, T * H * sizeof(float));
    for (size_t i = 0; i < T; i++)
        if (ids[i] == skip) memset(scratch + i * H, 0, H * sizeof(float));
    sbert_embedding_backward(dtable, ids, scratch, T, H);
}

const float *sbert_transformer_hidden_state(const sbert_transformer *t, size_t l) {
    if (!t || !t->train || l >= t->n_layers) return NULL;
    return t->train->layers[l].x_in;
}

sbert_status sbert_transformer_backward(sbert_transformer *t, const float *d_out, float *grads,
                                        float *d_inputs_embeds) {
    return sbert_transformer_backward_layers(t, d_out, NULL, grads, d_inputs_embeds);
}

sbert_status sbert_transformer_backward_layers(sbert_transformer *t, const float *d_out, const float *const *d_hidden,
                                               float *grads, float *d_inputs_embeds) {
    if (!t || !d_out || !grads)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_transformer_backward: NULL argument");
    struct sbert_train_state *st = t->train;
    if (!st && t->train_empty) return SBERT_OK;
    if (!st)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "transformer backward: no activations kept; call "
                          "sbert_transformer_forward_train first");
    const size_t T = st->T, H = t->H, I = t->I, NH = t->n_heads, d = H / NH;
    const float scale = (float)(1.0 / sqrt((double)d));
    /* work: g, dx, dtmp [T,H]; dy [T,H]; dh, dpre [T,I]; datt [T,H]; dqkv [T,3H]; drel */
    size_t nw = 5 * T * H + 2 * T * I + 3 * T * H + NH * st->rel_w;
    float *ws = sbert_big_reserve(&t->arena_ws, &t->arena_ws_cap, nw * sizeof(float));
    int32_t *zeros = NULL;
    if (!ws) return sbert_fail(SBERT_ERR_NOMEM, "transformer backward: out of memory");
    float *g = ws, *dx = g + T * H, *dtmp = dx + T * H, *dy = dtmp + T * H, *datt = dy + T * H;
    float *dh = datt + T * H, *dpre = dh + T * I, *dqkv = dpre + T * I;
    float *drel = dqkv + 3 * T * H;
    memcpy(g, d_out, T * H * sizeof(float));
    if (st->rel_w) memset(drel, 0, NH * st->rel_w * sizeof(float));
    sbert_status s = SBERT_OK;

    for (size_t l = t->n_layers; l-- > 0;) {
        const layer_weights *w = &t->layers[l];
        const layer_acts *a = &st->layers[l];
        /* g is the gradient of this layer's output = hidden state l + 1 */
        if (d_hidden && l + 1 < t->n_layers && d_hidden[l + 1])
            for (size_t i = 0; i < T * H; i++) g[i] += d_hidden[l + 1][i];
        /* x_out = LN2(drop(h W2^T + b2) + y). The input gradients dtmp, dy,
         * dh, datt and dqkv are written (=) by the first kernel that produces
         * them, the dropout mask folded into the LayerNorm backward, so no
         * buffer is zeroed first (bf16 products accumulate: dh, datt zeroed). */
        sbert_add_layernorm_backward_set(dtmp, a->keep2, st->ks_hidden, dy, GRAD(w->ln2_w), GRAD(w->ln2_b), g,
                                         a->sum2, w->ln2_w, a->mean2, a->rstd2, T, H);
        const layer_bf16 *wb = t->lbf16 ? &t->lbf16[l] : NULL;
        if (wb) {
            memset(dh, 0, T * I * sizeof(float));
            sbert_bf16_linear_backward(dh, GRAD(w->ff2_w), GRAD(w->ff2_b), dtmp, a->h, wb->ff2, T, I, H);
        } else {
            sbert_linear_backward_set(dh, GRAD(w->ff2_w), GRAD(w->ff2_b), dtmp, a->h, w->ff2_w, T, I, H);
        }
        if (t->lora && (s = sbert_lora_backward(t->lora, l, SBERT_LIN_FF2, a->h, dtmp, T, H, dh)) != SBERT_OK)
            goto done;
        /* h = act(y W1^T + b1) */
        const float *ffin = a->cy ? a->cy : a->y; /* the FFN's input (decoder: the cross block's output) */
        if (wb)
            sbert_bf16_linear_act_backward(dy, GRAD(w->ff1_w), GRAD(w->ff1_b), dpre, dh, a->pre, ffin,
                                           wb->ff1, T, H, I, t->act);
        else
            sbert_linear_act_backward(dy, GRAD(w->ff1_w), GRAD(w->ff1_b), dpre, dh, a->pre, ffin,
                                      w->ff1_w, T, H, I, t->act);
        if (t->lora && (s = sbert_lora_backward(t->lora, l, SBERT_LIN_FF1, ffin, dpre, T, I, dy)) != SBERT_OK)
            goto done;
        if (a->cy) {
            /* c = LN_c(z[sequence] + y): dy holds dc; d z[q] is the sum over q's tokens */
            const sbert_transformer_cross *x = &st->cross[l];
            memset(dtmp, 0, T * H * sizeof(float));
            memset(datt, 0, T * H * sizeof(float));
            sbert_add_layernorm_backward(dtmp, datt, x->d_ln_w, x->d_ln_b, dy, a->csum, x->ln_w, a->cmean,
                                         a->crstd, T, H);
            for (size_t q = 0; q < st->n_seq && x->d_z; q++)
                for (size_t i = st->offs[q]; i < st->offs[q + 1]; i++)
                    for (size_t j = 0; j < H; j++) x->d_z[q * H + j] += dtmp[i * H + j];
            memcpy(dy, datt, T * H * sizeof(float));
        }
        /* y = LN1(drop(att Wo^T + bo) + x_in) */
        sbert_add_layernorm_backward_set(dtmp, a->keep1, st->ks_hidden, dx, GRAD(w->ln1_w), GRAD(w->ln1_b), dy,
                                         a->sum1, w->ln1_w, a->mean1, a->rstd1, T, H);
        if (wb) {
            memset(datt, 0, T * H * sizeof(float));
            sbert_bf16_linear_backward(datt, GRAD(w->o_w), GRAD(w->o_b), dtmp, a->att, wb->o, T, H, H);
        } else {
            sbert_linear_backward_set(datt, GRAD(w->o_w), GRAD(w->o_b), dtmp, a->att, w->o_w, T, H, H);
        }
        if (t->lora && (s = sbert_lora_backward(t->lora, l, SBERT_LIN_O, a->att, dtmp, T, H, datt)) != SBERT_OK)
            goto done;
        /* att = attention(qkv), qkv = x_in Wqkv^T + bqkv */
        if ((s = sbert_attention_backward_dropout_set(dqkv, st->rel ? drel : NULL, datt, a->qkv,
                                                      a->probs, a->att_keep, st->ks_attn, st->offs,
                                                      st->n_seq, NH, d, scale, st->maxL)) != SBERT_OK)
            goto done;
        if (wb)
            sbert_bf16_linear_backward(dx, GRAD(w->qkv_w), GRAD(w->qkv_b), dqkv, a->x_in, wb->qkv, T, H, 3 * H);
        else
            sbert_linear_backward(dx, GRAD(w->qkv_w), GRAD(w->qkv_b), dqkv, a->x_in, w->qkv_w, T, H, 3 * H);
        for (int k = SBERT_LIN_Q; k <= SBERT_LIN_V && t->lora; k++)
            if ((s = sbert_lora_backward(t->lora, l, (sbert_lin_kind)k, a->x_in, dqkv, T, 3 * H, dx)) != SBERT_OK)
                goto done;
        float *sw = g;
        g = dx;
        dx = sw;
    }

    /* embeddings: x0 = drop(LN(word + pos (+ type))) = hidden state 0 */
    if (d_hidden && t->n_layers && d_hidden[0])
        for (size_t i = 0; i < T * H; i++) g[i] += d_hidden[0][i];
    if (st->emb_keep) sbert_dropout_apply(g, st->emb_keep, st->ks_hidden, T * H);
    float *de = dx, *scratch = dtmp;
    memset(de, 0, T * H * sizeof(float));
    sbert_layernorm_backward(de, GRAD(t->emb_ln_w), GRAD(t->emb_ln_b), g, st->emb_sum, t->emb_ln_w,
                             st->emb_mean, st->emb_rstd, T, H);
    if (d_inputs_embeds)
        for (size_t i = 0; i < T * H; i++) d_inputs_embeds[i] += de[i];
    if (t->frozen) goto done; /* no table gradients for a frozen encoder */
    embedding_backward_skip(GRAD(t->word), st->ids, de, T, H, t->pad_idx, scratch);
    if (!t->sinus_pos) {
        int roberta_like = t->fam == FAM_ROBERTA || t->fam == FAM_XLMR || t->fam == FAM_MPNET;
        embedding_backward_skip(GRAD(t->pos), st->pos, de, T, H, roberta_like ? t->pad_idx : -1,
                                scratch);
    }
    if (t->type) {
        if (st->types) {
            sbert_embedding_backward(GRAD(t->type), st->types, de, T, H);
        } else {
            zeros = calloc(T, sizeof(int32_t));
            if (!zeros) {
                s = sbert_fail(SBERT_ERR_NOMEM, "transformer backward: out of memory");
                goto done;
            }
            sbert_embedding_backward(GRAD(t->type), zeros, de, T, H);
        }
    }
    if (st->rel) {
        float *grel = GRAD(t->rel_bias);
        for (size_t k = 0; k < st->rel_w; k++) {
            long r = (long)k - (long)(st->maxL - 1);
            int b = sbert_mpnet_relative_bucket(r, MPNET_BUCKETS, MPNET_MAX_DISTANCE);
            for (size_t h = 0; h < NH; h++) grel[(size_t)b * NH + h] += drel[h * st->rel_w + k];
        }
    }
done:
    free(zeros);
    return s;
}
#undef GRAD

/* ------------------------------------------------------------------ LoRA */

sbert_status sbert_transformer_linear(sbert_transformer *t, size_t layer, int kind, sbert_linear_view *v) {
    if (!t || layer >= t->n_layers || kind < 0 || kind >= SBERT_LIN_KINDS)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_transformer_linear: layer %zu / kind %d out of range", layer,
                          kind);
    const layer_names *nm = names_of(t->fam);
    const layer_weights *w = &t->layers[layer];
    const size_t H = t->H, I = t->I;
    memset(v, 0, sizeof *v);
    const char *fmt = NULL;
    switch (kind) {
    case SBERT_LIN_Q:
    case SBERT_LIN_K:
    case SBERT_LIN_V: {
        size_t j = (size_t)(kind - SBERT_LIN_Q);
        fmt = j == 0 ? nm->q : j == 1 ? nm->k : nm->v;
        v->in = H, v->out = H, v->off = j * H, v->ld = 3 * H;
        v->W = w->qkv_w + j * H * H;
        v->b = w->qkv_b + j * H;
        break;
    }
    case SBERT_LIN_O:
        fmt = nm->o;
        v->in = H, v->out = H, v->off = 0, v->ld = H, v->W = w->o_w, v->b = w->o_b;
        break;
    case SBERT_LIN_FF1:
        fmt = nm->ff1;
        v->in = H, v->out = I, v->off = 0, v->ld = I, v->W = w->ff1_w, v->b = w->ff1_b;
        break;
    default:
        fmt = nm->ff2;
        v->in = I, v->out = H, v->off = 0, v->ld = H, v->W = w->ff2_w, v->b = w->ff2_b;
        break;
    }
    layer_name(v->name, sizeof v->name, fmt, layer);
    return SBERT_OK;
}

void sbert_transformer_set_lora(sbert_transformer *t, struct sbert_lora *lora, int freeze_base) {
    t->lora = lora;
    t->frozen = lora ? freeze_base : 0;
}

struct sbert_lora *sbert_transformer_lora(const sbert_transformer *t) { return t ? t->lora : NULL; }
int sbert_transformer_frozen(const sbert_transformer *t) { return t ? t->frozen : 0; }
