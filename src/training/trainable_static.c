/*
 * training/trainable_static.c -- the StaticEmbedding model behind the
 * trainer interface (trainable.h).
 *
 * Tokenization follows sentence-transformers' StaticEmbedding: no special
 * tokens, no padding, only the truncation written in tokenizer.json. The
 * optimizer is a lazy AdamW: only the rows a step touched get an update
 * (their moments too), with the bias correction of the global step; rows no
 * batch used stay exactly as they were, which is what makes static training
 * fast on CPU.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "base/error.h"
#include "io/atomic.h"
#include "io/dirs.h"
#include "io/file.h"
#include "io/safetensors.h"
#include "modules/static_embedding.h"
#include "training/trainable.h"

typedef struct {
    sbert_trainable base;
    sbert_tokenizer *tok;
    char *tok_json;
    size_t tok_json_len;
    sbert_static_embedding *emb;
    float *grad;         /* [vocab, dim] */
    int32_t *touched;    /* rows with a gradient since the last step */
    size_t n_touched;
    unsigned char *mark; /* [vocab] */
    sbert_adamw_state opt;
    char source[4096];
} static_model;

/* Token ids of a column, packed: ids[off[i]..off[i+1]). */
typedef struct {
    int32_t *ids;
    size_t *off;
    size_t n;
} packed_ids;


static void packed_free(packed_ids *p) {
    if (!p) return;
    free(p->ids);
    free(p->off);
    free(p);
}

static sbert_status tokenize_texts(const sbert_tokenizer *tok, const char *const *texts, size_t n,
                                   packed_ids **out) {
    packed_ids *p = calloc(1, sizeof *p);
    if (!p) return sbert_fail(SBERT_ERR_NOMEM, "out of memory tokenizing");
    sbert_tokenize_options opt = sbert_tokenize_options_default();
    opt.add_special_tokens = 0;
    size_t cap = n * 16 + 16, T = 0;
    p->ids = malloc(cap * sizeof *p->ids);
    p->off = malloc((n + 1) * sizeof *p->off);
    if (!p->ids || !p->off) { packed_free(p); return sbert_fail(SBERT_ERR_NOMEM, "out of memory tokenizing"); }
    p->off[0] = 0;
    for (size_t i = 0; i < n; i++) {
        sbert_encoding e;
        sbert_status st = sbert_tokenizer_encode(tok, texts[i], strlen(texts[i]), NULL, 0, &opt, &e);
        if (st != SBERT_OK) { packed_free(p); return st; }
        if (T + e.len > cap) {
            while (T + e.len > cap) cap *= 2;
            int32_t *ni = realloc(p->ids, cap * sizeof *ni);
            if (!ni) { sbert_encoding_free(&e); packed_free(p); return sbert_fail(SBERT_ERR_NOMEM, "out of memory tokenizing"); }
            p->ids = ni;
        }
        memcpy(p->ids + T, e.input_ids, e.len * sizeof *e.input_ids);
        T += e.len;
        p->off[i + 1] = T;
        sbert_encoding_free(&e);
    }
    p->n = n;
    *out = p;
    return SBERT_OK;
}

static size_t s_dim(const sbert_trainable *b) { return ((const static_model *)b)->emb->dim; }
static const char *s_describe(const sbert_trainable *b) { return ((const static_model *)b)->source; }

static sbert_status s_encode(sbert_trainable *b, const char *const *texts, size_t n, float *out) {
    static_model *m = (static_model *)b;
    packed_ids *p;
    SBERT_TRY(tokenize_texts(m->tok, texts, n, &p));
    sbert_status st = sbert_static_embedding_forward(m->emb, p->ids, p->off, n, out);
    packed_free(p);
    return st;
}

static sbert_status s_tokenize(sbert_trainable *b, const char *const *texts, size_t n, void **tokens) {
    packed_ids *p;
    SBERT_TRY(tokenize_texts(((static_model *)b)->tok, texts, n, &p));
    *tokens = p;
    return SBERT_OK;
}

static void s_tokens_free(void *tokens) { packed_free(tokens); }

/* Forward state: the packed ids of every column of the batch. */
typedef struct {
    packed_ids *col[16];
    size_t n_cols;
} static_batch;

static void s_state_free(void *state) {
    static_batch *sb = state;
    if (!sb) return;
    for (size_t c = 0; c < sb->n_cols; c++) packed_free(sb->col[c]);
    free(sb);
}

static sbert_status s_forward(sbert_trainable *b, void *const *tokens, size_t n_cols, const size_t *rows, size_t B,
                              float *out, void **state) {
    static_model *m = (static_model *)b;
    if (n_cols > 16) return sbert_fail(SBERT_ERR_UNSUPPORTED, "at most 16 input columns, got %zu", n_cols);
    static_batch *sb = calloc(1, sizeof *sb);
    if (!sb) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    sb->n_cols = n_cols;
    for (size_t c = 0; c < n_cols; c++) {
        const packed_ids *src = tokens[c];
        size_t T = 0;
        for (size_t i = 0; i < B; i++) T += src->off[rows[i] + 1] - src->off[rows[i]];
        packed_ids *s = sb->col[c] = calloc(1, sizeof *s);
        if (s) {
            s->ids = malloc((T ? T : 1) * sizeof *s->ids);
            s->off = malloc((B + 1) * sizeof *s->off);
        }
        if (!s || !s->ids || !s->off) { s_state_free(sb); return sbert_fail(SBERT_ERR_NOMEM, "out of memory"); }
        s->off[0] = 0;
        for (size_t i = 0; i < B; i++) {
            size_t a0 = src->off[rows[i]], a1 = src->off[rows[i] + 1];
            memcpy(s->ids + s->off[i], src->ids + a0, (a1 - a0) * sizeof *s->ids);
            s->off[i + 1] = s->off[i] + (a1 - a0);
        }
        s->n = B;
        sbert_status st = sbert_static_embedding_forward(m->emb, s->ids, s->off, B, out + c * B * m->emb->dim);
        if (st != SBERT_OK) { s_state_free(sb); return st; }
    }
    *state = sb;
    return SBERT_OK;
}

static sbert_status s_backward(sbert_trainable *b, void *state, const float *dout) {
    static_model *m = (static_model *)b;
    static_batch *sb = state;
    for (size_t c = 0; c < sb->n_cols; c++) {
        packed_ids *s = sb->col[c];
        sbert_static_embedding_backward(m->emb, s->ids, s->off, s->n, dout + c * s->n * m->emb->dim, m->grad,
                                        m->touched, &m->n_touched, m->mark);
    }
    s_state_free(sb);
    return SBERT_OK;
}

static double s_step(sbert_trainable *b, const sbert_adamw_config *cfg, double lr, double max_grad_norm) {
    static_model *m = (static_model *)b;
    size_t D = m->emb->dim;
    double ss = 0;
    for (size_t k = 0; k < m->n_touched; k++) {
        const float *g = m->grad + (size_t)m->touched[k] * D;
        for (size_t i = 0; i < D; i++) ss += (double)g[i] * g[i];
    }
    double norm = sqrt(ss);
    if (max_grad_norm > 0) {
        double coef = max_grad_norm / (norm + 1e-6);
        if (coef < 1.0)
            for (size_t k = 0; k < m->n_touched; k++) {
                float *g = m->grad + (size_t)m->touched[k] * D;
                for (size_t i = 0; i < D; i++) g[i] *= (float)coef;
            }
    }
    /* Each touched row gets one AdamW update with the global step's bias correction. */
    int64_t step = m->opt.step;
    for (size_t k = 0; k < m->n_touched; k++) {
        sbert_param_segment seg = {(size_t)m->touched[k] * D, D, 1};
        m->opt.step = step;
        sbert_adamw_step(&m->opt, cfg, lr, m->emb->weight, m->grad, &seg, 1);
    }
    m->opt.step = step + 1;
    for (size_t k = 0; k < m->n_touched; k++) {
        memset(m->grad + (size_t)m->touched[k] * D, 0, D * sizeof(float));
        m->mark[m->touched[k]] = 0;
    }
    m->n_touched = 0;
    return norm;
}

static sbert_status s_save(const sbert_trainable *b, const char *dir) {
    const static_model *m = (const static_model *)b;
    SBERT_TRY(sbert_mkdir_p(dir));
    SBERT_TRY(sbert_write_text_file(dir, "modules.json",
                                    "[\n  {\n    \"idx\": 0,\n    \"name\": \"0\",\n    \"path\": \"\",\n"
                                    "    \"type\": \"sentence_transformers.models.StaticEmbedding\"\n  }\n]\n"));
    SBERT_TRY(sbert_write_text_file(dir, "config_sentence_transformers.json",
                                    "{\n  \"__version__\": {\n    \"sentence_transformers\": \"5.0.0\",\n"
                                    "    \"transformers\": \"4.53.0\",\n    \"pytorch\": \"2.7.0\"\n  },\n"
                                    "  \"default_prompt_name\": null,\n  \"model_type\": \"SentenceTransformer\",\n"
                                    "  \"prompts\": {\n    \"document\": \"\",\n    \"query\": \"\"\n  },\n"
                                    "  \"similarity_fn_name\": \"cosine\"\n}\n"));
    char path[4200];
    SBERT_TRY(sbert_path_join(path, sizeof path, dir, "tokenizer.json"));
    SBERT_TRY(sbert_write_file_atomic(path, m->tok_json, m->tok_json_len));
    return sbert_static_embedding_save(m->emb, dir);
}

static sbert_status s_save_optimizer(const sbert_trainable *b, const char *dir) {
    const static_model *m = (const static_model *)b;
    sbert_st_entry e[2];
    memset(e, 0, sizeof e);
    e[0].name = "exp_avg";
    e[0].data = m->opt.m;
    e[1].name = "exp_avg_sq";
    e[1].data = m->opt.v;
    for (int i = 0; i < 2; i++) {
        e[i].ndim = 2;
        e[i].shape[0] = (int64_t)m->emb->vocab;
        e[i].shape[1] = (int64_t)m->emb->dim;
    }
    char step[32];
    snprintf(step, sizeof step, "%lld", (long long)m->opt.step);
    const char *meta[2] = {"step", step};
    char path[4200];
    SBERT_TRY(sbert_path_join(path, sizeof path, dir, "optimizer.safetensors"));
    return sbert_st_write(path, e, 2, meta, 1);
}

static sbert_status s_load_optimizer(sbert_trainable *b, const char *dir) {
    static_model *m = (static_model *)b;
    char path[4200];
    SBERT_TRY(sbert_path_join(path, sizeof path, dir, "optimizer.safetensors"));
    sbert_safetensors *st = NULL;
    SBERT_TRY(sbert_st_open(path, &st));
    int64_t shape[2] = {(int64_t)m->emb->vocab, (int64_t)m->emb->dim};
    sbert_status s = sbert_st_read_f32(st, "exp_avg", shape, 2, m->opt.m);
    if (s == SBERT_OK) s = sbert_st_read_f32(st, "exp_avg_sq", shape, 2, m->opt.v);
    const char *step = sbert_st_metadata(st, "step");
    if (s == SBERT_OK && !step) s = sbert_fail(SBERT_ERR_FORMAT, "%s: no 'step' in __metadata__", path);
    if (s == SBERT_OK) m->opt.step = atoll(step);
    sbert_st_close(st);
    return s;
}

static sbert_status s_load_weights(sbert_trainable *b, const char *dir) {
    static_model *m = (static_model *)b;
    sbert_static_embedding *e = NULL;
    SBERT_TRY(sbert_static_embedding_load(dir, &e));
    sbert_status st = SBERT_OK;
    if (e->vocab != m->emb->vocab || e->dim != m->emb->dim)
        st = sbert_fail(SBERT_ERR_FORMAT, "%s: table is %zux%zu, the model being trained is %zux%zu", dir, e->vocab,
                        e->dim, m->emb->vocab, m->emb->dim);
    else
        memcpy(m->emb->weight, e->weight, e->vocab * e->dim * sizeof(float));
    sbert_static_embedding_free(e);
    return st;
}

static void s_free(sbert_trainable *b) {
    static_model *m = (static_model *)b;
    if (!m) return;
    sbert_tokenizer_free(m->tok);
    free(m->tok_json);
    sbert_static_embedding_free(m->emb);
    free(m->grad);
    free(m->touched);
    free(m->mark);
    sbert_adamw_free(&m->opt);
    free(m);
}

static const sbert_trainable_ops STATIC_OPS = {
    s_dim, s_describe, s_encode, s_tokenize, s_tokens_free, s_forward, s_backward, s_state_free, s_step,
    s_save, s_save_optimizer, s_load_optimizer, s_load_weights, s_free, NULL};

/* The StaticEmbedding module folder of a model directory. */
static sbert_status find_static_module(const char *dir, char *module_dir, size_t cap) {
    char path[4096];
    SBERT_TRY(sbert_path_join(path, sizeof path, dir, "modules.json"));
    cJSON *mods = NULL;
    SBERT_TRY(sbert_json_load(path, &mods));
    sbert_status st = sbert_fail(SBERT_ERR_UNSUPPORTED,
                                 "%s: no StaticEmbedding module", path);
    const cJSON *mod;
    cJSON_ArrayForEach(mod, mods) {
        const cJSON *type = cJSON_GetObjectItem(mod, "type"), *p = cJSON_GetObjectItem(mod, "path");
        if (cJSON_IsString(type) && strstr(type->valuestring, "StaticEmbedding") &&
            !strstr(type->valuestring, "Sparse")) {
            st = sbert_path_join(module_dir, cap, dir, cJSON_IsString(p) ? p->valuestring : "");
            break;
        }
    }
    cJSON_Delete(mods);
    return st;
}

sbert_status sbert_trainable_create(const sbert_trainable_options *opt, sbert_trainable **out) {
    *out = NULL;
    int is_static = strcasecmp(opt->model, "static") == 0 || strcasecmp(opt->model, "StaticEmbedding") == 0;
    if (!is_static && sbert_dir_exists(opt->model)) {
        char mdir[4096];
        is_static = find_static_module(opt->model, mdir, sizeof mdir) == SBERT_OK;
        sbert_error_clear();
    }
    if (is_static)
        return sbert_trainable_static_create(opt->model, opt->tokenizer, opt->embedding_dim, opt->seed, out);
    return sbert_trainable_transformer_create(opt, out);
}

sbert_status sbert_trainable_static_create(const char *model, const char *tokenizer, int64_t embedding_dim,
                                           uint64_t seed, sbert_trainable **out) {
    *out = NULL;
    static_model *m = calloc(1, sizeof *m);
    if (!m) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    m->base.ops = &STATIC_OPS;
    char tokpath[4096];
    sbert_status st = SBERT_OK;
    if (strcasecmp(model, "static") == 0 || strcasecmp(model, "StaticEmbedding") == 0) {
        if (!tokenizer) {
            st = sbert_fail(SBERT_ERR_INVALID_ARG,
                            "recipe: model 'static' needs 'tokenizer' (a tokenizer.json file) and 'embedding_dim'");
            goto fail;
        }
        snprintf(tokpath, sizeof tokpath, "%s", tokenizer);
        snprintf(m->source, sizeof m->source, "StaticEmbedding (random init, dim %lld) over %s",
                 (long long)embedding_dim, tokenizer);
    } else {
        if (!sbert_dir_exists(model)) {
            st = sbert_fail(SBERT_ERR_IO, "model '%s': no such directory (or use model: static)", model);
            goto fail;
        }
        char mdir[4096];
        if ((st = find_static_module(model, mdir, sizeof mdir)) != SBERT_OK) goto fail;
        if ((st = sbert_path_join(tokpath, sizeof tokpath, mdir, "tokenizer.json")) != SBERT_OK) goto fail;
        if ((st = sbert_static_embedding_load(mdir, &m->emb)) != SBERT_OK) goto fail;
        snprintf(m->source, sizeof m->source, "%s", model);
    }
    if ((st = sbert_read_file(tokpath, &m->tok_json, &m->tok_json_len)) != SBERT_OK) goto fail;
    if ((st = sbert_tokenizer_load_from_memory(m->tok_json, m->tok_json_len, tokpath, &m->tok)) != SBERT_OK) goto fail;
    if (!m->emb) {
        if (embedding_dim < 1) { st = sbert_fail(SBERT_ERR_INVALID_ARG, "embedding_dim must be >= 1"); goto fail; }
        st = sbert_static_embedding_create(sbert_tokenizer_vocab_size(m->tok), (size_t)embedding_dim, seed, &m->emb);
        if (st != SBERT_OK) goto fail;
    } else if (m->emb->vocab < sbert_tokenizer_vocab_size(m->tok)) {
        st = sbert_fail(SBERT_ERR_FORMAT, "%s: the tokenizer has %zu tokens but the embedding table only %zu rows",
                        tokpath, sbert_tokenizer_vocab_size(m->tok), m->emb->vocab);
        goto fail;
    }
    size_t V = m->emb->vocab, D = m->emb->dim;
    m->grad = calloc(V * D, sizeof *m->grad);
    m->touched = malloc(V * sizeof *m->touched);
    m->mark = calloc(V, 1);
    if (!m->grad || !m->touched || !m->mark) {
        st = sbert_fail(SBERT_ERR_NOMEM, "out of memory for the gradient table");
        goto fail;
    }
    if ((st = sbert_adamw_init(&m->opt, V * D)) != SBERT_OK) goto fail;
    *out = &m->base;
    return SBERT_OK;
fail:
    s_free(&m->base);
    return st;
}
