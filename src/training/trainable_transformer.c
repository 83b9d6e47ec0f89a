/*
 * training/trainable_transformer.c -- Transformer + Pooling [+ Dense]
 * [+ Normalize] models behind the trainer interface (trainable.h).
 *
 * The model is loaded with sbert_model_load (a sentence-transformers or a
 * plain Hugging Face directory) and trained in place:
 *
 *   tokenize  each column once with the model's own tokenization
 *             (sbert_model_tokenize: do_lower_case, special tokens,
 *             max_seq_length truncation), ids + token type ids, packed;
 *   forward   the rows of ALL columns of a batch packed into one sequence
 *             batch (sequence c*B + i is row i of column c, no padding):
 *             sbert_transformer_forward_train (dropout from config.json,
 *             masks drawn from a seeded RNG), Pooling, then each Dense /
 *             Normalize keeping its input for the backward;
 *   backward  Normalize, Dense (dW, db, dR), Pooling into d_hidden [T, H],
 *             then sbert_transformer_backward (+=) into the flat gradient
 *             buffer laid out like sbert_transformer_params;
 *   step      global L2 norm over every trainable gradient, torch-style
 *             clipping, AdamW with the Hugging Face decay groups (no decay
 *             for names holding "bias" or a LayerNorm), gradients zeroed.
 *             Frozen tensors (DistilBERT's sinusoidal position table) are
 *             not covered by any segment, so they never move.
 *   save      a directory sentence-transformers loads unchanged: the
 *             source's config/tokenizer files and module configs copied,
 *             sentence_bert_config.json rewritten, model.safetensors with the
 *             encoder weights under their Hugging Face names (tensors the
 *             encoder does not train, e.g. the pooler, copied from the
 *             source), k_Dense/model.safetensors with linear.weight/bias.
 *             A plain HF source gets the ST layout (Transformer + mean
 *             Pooling) as st_formats.md A.1 recommends.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/error.h"
#include "base/rng.h"
#include "io/atomic.h"
#include "io/dirs.h"
#include "io/file.h"
#include "io/safetensors.h"
#include "kernels/pooling_backward.h"
#include "models/sentence_transformer.h"
#include "modules/normalize.h"
#include "training/trainable.h"

#define TT_PATH 4096

/* One Dense module's parameters and gradients. */
typedef struct {
    sbert_dense *d;
    size_t in, out;
    float *W, *b, *R;    /* the module's own buffers */
    float *dW, *db, *dR; /* gradients, same shapes; NULL where the parameter is */
    sbert_adamw_state oW, ob, oR;
} tt_dense;

typedef struct {
    sbert_trainable base;
    sbert_model *model;
    sbert_transformer *tf;
    const sbert_pooling *pool;
    size_t H, pool_dim, out_dim, max_width;
    float *params; /* transformer flat buffer (owned by tf) */
    float *grad;   /* [n_params] */
    size_t n_params;
    sbert_param_segment *segs;
    size_t n_segs;
    int has_frozen; /* some parameters have no segment (not trained) */
    sbert_adamw_state opt;
    tt_dense *dense; /* [n_post], .d NULL for Normalize */
    size_t n_post;
    int plain_hf;    /* the source had no modules.json */
    sbert_rng rng;
    int busy;        /* a training forward is waiting for its backward */
    char source[TT_PATH];
} tt_model;

/* A tokenized column, packed: ids/types[off[i]..off[i+1]). */
typedef struct {
    int32_t *ids, *types;
    size_t *off;
    size_t n;
} tt_tokens;

static void tokens_free(void *p) {
    tt_tokens *t = p;
    if (!t) return;
    free(t->ids);
    free(t->types);
    free(t->off);
    free(t);
}

static sbert_status nomem(const char *what) { return sbert_fail(SBERT_ERR_NOMEM, "out of memory (%s)", what); }

/* ------------------------------------------------------------ interface */

static size_t t_dim(const sbert_trainable *b) { return ((const tt_model *)b)->out_dim; }
static const char *t_describe(const sbert_trainable *b) { return ((const tt_model *)b)->source; }

static sbert_status t_encode(sbert_trainable *b, const char *const *texts, size_t n, float *out) {
    tt_model *m = (tt_model *)b;
    sbert_encode_options o = sbert_encode_options_default();
    return sbert_model_encode(m->model, texts, n, &o, out);
}

static sbert_status t_tokenize(sbert_trainable *b, const char *const *texts, size_t n, void **out) {
    tt_model *m = (tt_model *)b;
    *out = NULL;
    tt_tokens *t = calloc(1, sizeof *t);
    if (!t) return nomem("tokens");
    size_t cap = n * 32 + 16, T = 0;
    t->ids = malloc(cap * sizeof *t->ids);
    t->types = malloc(cap * sizeof *t->types);
    t->off = malloc((n + 1) * sizeof *t->off);
    if (!t->ids || !t->types || !t->off) {
        tokens_free(t);
        return nomem("tokens");
    }
    t->off[0] = 0;
    for (size_t i = 0; i < n; i++) {
        sbert_encoding e;
        sbert_status st = sbert_model_tokenize(m->model, NULL, texts[i], &e);
        if (st != SBERT_OK) {
            tokens_free(t);
            sbert_error_prefix("row %zu: ", i);
            return st;
        }
        if (T + e.len > cap) {
            while (T + e.len > cap) cap *= 2;
            int32_t *ni = realloc(t->ids, cap * sizeof *ni);
            if (ni) t->ids = ni;
            int32_t *nt = ni ? realloc(t->types, cap * sizeof *nt) : NULL;
            if (nt) t->types = nt;
            if (!ni || !nt) {
                sbert_encoding_free(&e);
                tokens_free(t);
                return nomem("tokens");
            }
        }
        for (size_t k = 0; k < e.len; k++) {
            if (e.attention_mask && !e.attention_mask[k]) continue; /* tokenizer.json padding */
            t->ids[T] = e.input_ids[k];
            t->types[T] = e.token_type_ids ? e.token_type_ids[k] : 0;
            T++;
        }
        t->off[i + 1] = T;
        sbert_encoding_free(&e);
    }
    t->n = n;
    *out = t;
    return SBERT_OK;
}

/* What backward needs from a forward. */
typedef struct {
    size_t N, T;          /* sequences (n_cols * B), tokens */
    size_t *off;          /* [N + 1] */
    float *hidden;        /* [T, H] */
    float *pooled;        /* [N, pool_dim] */
    float **post_in;      /* [n_post] inputs of each post module, [N, in_dim] */
    tt_model *m;
} tt_state;

static void t_state_free(void *p) {
    tt_state *s = p;
    if (!s) return;
    if (s->m) {
        s->m->busy = 0;
        sbert_transformer_release_activations(s->m->tf);
        if (s->post_in)
            for (size_t i = 0; i < s->m->n_post; i++) free(s->post_in[i]);
    }
    free(s->post_in);
    free(s->off);
    free(s->hidden);
    free(s->pooled);
    free(s);
}

static sbert_status t_forward(sbert_trainable *b, void *const *tokens, size_t n_cols, const size_t *rows,
                              size_t B, float *out, void **state) {
    tt_model *m = (tt_model *)b;
    *state = NULL;
    if (m->busy)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "transformer training: a forward is still waiting for its backward (one at a time)");
    const size_t N = n_cols * B;
    tt_state *s = calloc(1, sizeof *s);
    if (!s) return nomem("forward state");
    s->N = N;
    s->off = malloc((N + 1) * sizeof *s->off);
    s->post_in = calloc(m->n_post ? m->n_post : 1, sizeof *s->post_in);
    if (!s->off || !s->post_in) {
        t_state_free(s);
        return nomem("forward state");
    }
    s->m = m;
    s->off[0] = 0;
    for (size_t c = 0; c < n_cols; c++) {
        const tt_tokens *tk = tokens[c];
        for (size_t i = 0; i < B; i++) {
            size_t r = rows[i];
            s->off[c * B + i + 1] = s->off[c * B + i] + (tk->off[r + 1] - tk->off[r]);
        }
    }
    const size_t T = s->T = s->off[N];
    int32_t *ids = malloc((T ? T : 1) * sizeof *ids), *types = malloc((T ? T : 1) * sizeof *types);
    s->hidden = malloc((T ? T : 1) * m->H * sizeof *s->hidden);
    s->pooled = malloc((N ? N : 1) * m->max_width * sizeof *s->pooled);
    float *work = malloc((N ? N : 1) * m->max_width * sizeof *work);
    sbert_status st = SBERT_OK;
    if (!ids || !types || !s->hidden || !s->pooled || !work) {
        st = nomem("forward buffers");
        goto done;
    }
    for (size_t c = 0; c < n_cols; c++) {
        const tt_tokens *tk = tokens[c];
        for (size_t i = 0; i < B; i++) {
            size_t r = rows[i], a = tk->off[r], len = tk->off[r + 1] - a, o = s->off[c * B + i];
            memcpy(ids + o, tk->ids + a, len * sizeof *ids);
            memcpy(types + o, tk->types + a, len * sizeof *types);
        }
    }
    m->busy = 1;
    st = sbert_transformer_forward_train(m->tf, ids, types, s->off, N, &m->rng, s->hidden);
    if (st != SBERT_OK) goto done;
    sbert_pooling_forward(m->pool, s->hidden, s->off, N, 0, s->pooled);
    /* Post modules: cur holds the current embeddings [N, dim]. */
    float *cur = work;
    memcpy(cur, s->pooled, N * m->pool_dim * sizeof *cur);
    size_t dim = m->pool_dim;
    for (size_t i = 0; i < m->n_post; i++) {
        const sbert_post_module *pm = sbert_model_post_module(m->model, i);
        s->post_in[i] = malloc((N ? N : 1) * pm->in_dim * sizeof(float));
        if (!s->post_in[i]) {
            st = nomem("post-module inputs");
            goto done;
        }
        memcpy(s->post_in[i], cur, N * pm->in_dim * sizeof(float));
        if (pm->kind == SBERT_MOD_DENSE) {
            sbert_dense_forward(pm->dense, s->post_in[i], N, cur);
            dim = pm->out_dim;
        } else {
            sbert_normalize_rows(cur, N, pm->in_dim);
        }
    }
    memcpy(out, cur, N * dim * sizeof *out);
done:
    free(ids);
    free(types);
    free(work);
    if (st != SBERT_OK) {
        t_state_free(s);
        return st;
    }
    *state = s;
    return SBERT_OK;
}

static sbert_status t_backward(sbert_trainable *b, void *state, const float *dout) {
    tt_model *m = (tt_model *)b;
    tt_state *s = state;
    const size_t N = s->N;
    float *d = malloc((N ? N : 1) * m->max_width * sizeof *d);
    float *dx = malloc((N ? N : 1) * m->max_width * sizeof *dx);
    float *dh = calloc(s->T ? s->T * m->H : 1, sizeof *dh);
    sbert_status st = SBERT_OK;
    if (!d || !dx || !dh) {
        st = nomem("backward buffers");
        goto done;
    }
    memcpy(d, dout, N * m->out_dim * sizeof *d);
    for (size_t i = m->n_post; i-- > 0;) {
        const sbert_post_module *pm = sbert_model_post_module(m->model, i);
        memset(dx, 0, N * pm->in_dim * sizeof *dx);
        if (pm->kind == SBERT_MOD_DENSE) {
            tt_dense *td = &m->dense[i];
            st = sbert_dense_backward(dx, td->dW, td->db, td->dR, d, s->post_in[i], td->W, td->b, td->R,
                                      sbert_dense_use_residual(td->d), sbert_dense_activation(td->d), N,
                                      td->in, td->out);
            if (st != SBERT_OK) goto done;
        } else {
            sbert_normalize_backward(dx, d, s->post_in[i], N, pm->in_dim);
        }
        memcpy(d, dx, N * pm->in_dim * sizeof *d);
    }
    sbert_pooling_backward(m->pool, dh, d, s->hidden, s->off, N, 0);
    st = sbert_transformer_backward(m->tf, dh, m->grad, NULL);
done:
    free(d);
    free(dx);
    free(dh);
    t_state_free(s);
    return st;
}

static double t_step(sbert_trainable *b, const sbert_adamw_config *cfg, double lr, double max_grad_norm) {
    tt_model *m = (tt_model *)b;
    /* Frozen parameters (no segment) take no part in the norm, as in torch. */
    double ss = 0;
    for (size_t k = 0; k < m->n_segs; k++) ss += sbert_grad_sumsq(m->grad + m->segs[k].offset, m->segs[k].size);
    for (size_t i = 0; i < m->n_post; i++) {
        tt_dense *td = &m->dense[i];
        if (!td->d) continue;
        ss += sbert_grad_sumsq(td->dW, td->in * td->out) + sbert_grad_sumsq(td->db, td->out) +
              sbert_grad_sumsq(td->dR, td->in * td->out);
    }
    double norm = sqrt(ss);
    /* torch clip_grad_norm_: scale by max_norm / (norm + 1e-6) when below 1;
     * the scale, the AdamW update and the zeroing are one pass per buffer. */
    float c = 1.0f;
    if (max_grad_norm > 0) {
        double coef = max_grad_norm / (norm + 1e-6);
        if (coef < 1.0) c = (float)coef;
    }
    sbert_adamw_step_fused(&m->opt, cfg, lr, m->params, m->grad, c, 1, m->segs, m->n_segs);
    if (m->has_frozen) memset(m->grad, 0, m->n_params * sizeof *m->grad);
    for (size_t i = 0; i < m->n_post; i++) {
        tt_dense *td = &m->dense[i];
        if (!td->d) continue;
        sbert_param_segment sw = {0, td->in * td->out, 1}, sb = {0, td->out, 0};
        sbert_adamw_step_fused(&td->oW, cfg, lr, td->W, td->dW, c, 1, &sw, 1);
        if (td->b) sbert_adamw_step_fused(&td->ob, cfg, lr, td->b, td->db, c, 1, &sb, 1);
        if (td->R) sbert_adamw_step_fused(&td->oR, cfg, lr, td->R, td->dR, c, 1, &sw, 1);
    }
    return norm;
}

/* ------------------------------------------------------------------ save */

static sbert_status copy_file(const char *src_dir, const char *dst_dir, const char *name, int required) {
    char src[TT_PATH], dst[TT_PATH];
    SBERT_TRY(sbert_path_join(src, sizeof src, src_dir, name));
    if (!sbert_file_exists(src))
        return required ? sbert_fail(SBERT_ERR_IO, "%s: missing, cannot copy it into %s", src, dst_dir) : SBERT_OK;
    SBERT_TRY(sbert_path_join(dst, sizeof dst, dst_dir, name));
    char *data = NULL;
    size_t len = 0;
    SBERT_TRY(sbert_read_file(src, &data, &len));
    sbert_status st = sbert_write_file_atomic(dst, data, len);
    free(data);
    return st;
}

/* Tokenizer and model-config files a model directory may hold. */
static const char *const TOP_FILES[] = {
    "config.json",        "tokenizer.json",     "tokenizer_config.json",  "special_tokens_map.json",
    "vocab.txt",          "vocab.json",         "merges.txt",             "added_tokens.json",
    "sentencepiece.bpe.model", "spiece.model",  "modules.json",           "config_sentence_transformers.json"};

/* Encoder weights -> dir/model.safetensors: the trained table, plus the
 * source's tensors the encoder does not train (pooler, ...), with the
 * base-model prefix stripped so every name is an AutoModel name. */
static sbert_status save_encoder(const tt_model *m, const char *src_dir, const char *dir) {
    size_t np = sbert_transformer_num_params(m->tf);
    char path[TT_PATH];
    SBERT_TRY(sbert_path_join(path, sizeof path, src_dir, "model.safetensors"));
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
    const float *params = m->params;
    for (size_t i = 0; i < np; i++) {
        const sbert_transformer_param *p = sbert_transformer_param_at(m->tf, i);
        e[n].name = p->name;
        e[n].data = params + p->offset;
        e[n].ndim = p->ndim;
        e[n].shape[0] = p->shape[0];
        e[n].shape[1] = p->shape[1];
        n++;
    }
    const char *mt = sbert_transformer_model_type(m->tf);
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
        for (size_t k = 0; k < np && !known; k++) known = strcmp(sbert_transformer_param_at(m->tf, k)->name, name) == 0;
        if (known) continue;
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
    SBERT_TRY(sbert_path_join(path, sizeof path, dir, "model.safetensors"));
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

static sbert_status save_dense(const tt_dense *td, const char *dir) {
    sbert_st_entry e[3];
    memset(e, 0, sizeof e);
    size_t n = 0;
    e[n].name = "linear.weight";
    e[n].data = td->W;
    e[n].ndim = 2;
    e[n].shape[0] = (int64_t)td->out;
    e[n].shape[1] = (int64_t)td->in;
    n++;
    if (td->b) {
        e[n].name = "linear.bias";
        e[n].data = td->b;
        e[n].ndim = 1;
        e[n].shape[0] = (int64_t)td->out;
        n++;
    }
    if (td->R) {
        e[n].name = "residual.weight";
        e[n].data = td->R;
        e[n].ndim = 2;
        e[n].shape[0] = (int64_t)td->out;
        e[n].shape[1] = (int64_t)td->in;
        n++;
    }
    char path[TT_PATH];
    SBERT_TRY(sbert_path_join(path, sizeof path, dir, "model.safetensors"));
    return sbert_st_write(path, e, n, NULL, 0);
}

static sbert_status t_save(const sbert_trainable *b, const char *dir) {
    const tt_model *m = (const tt_model *)b;
    const char *src = sbert_model_dir(m->model);
    SBERT_TRY(sbert_mkdir_p(dir));
    for (size_t i = 0; i < sizeof TOP_FILES / sizeof *TOP_FILES; i++) SBERT_TRY(copy_file(src, dir, TOP_FILES[i], 0));
    char text[512];
    snprintf(text, sizeof text, "{\n  \"max_seq_length\": %zu,\n  \"do_lower_case\": %s\n}\n",
             sbert_model_max_seq_length(m->model), sbert_model_do_lower_case(m->model) ? "true" : "false");
    SBERT_TRY(sbert_write_text_file(dir, "sentence_bert_config.json", text));
    SBERT_TRY(save_encoder(m, src, dir));
    if (m->plain_hf) {
        SBERT_TRY(sbert_write_text_file(dir, "modules.json",
                                        "[\n  {\n    \"idx\": 0,\n    \"name\": \"0\",\n    \"path\": \"\",\n"
                                        "    \"type\": \"sentence_transformers.models.Transformer\"\n  },\n"
                                        "  {\n    \"idx\": 1,\n    \"name\": \"1\",\n    \"path\": \"1_Pooling\",\n"
                                        "    \"type\": \"sentence_transformers.models.Pooling\"\n  }\n]\n"));
        SBERT_TRY(sbert_write_text_file(dir, "config_sentence_transformers.json",
                                        "{\n  \"__version__\": {\n    \"sentence_transformers\": \"5.0.0\",\n"
                                        "    \"transformers\": \"4.53.0\",\n    \"pytorch\": \"2.7.0\"\n  },\n"
                                        "  \"model_type\": \"SentenceTransformer\",\n"
                                        "  \"prompts\": {\n    \"query\": \"\",\n    \"document\": \"\"\n  },\n"
                                        "  \"default_prompt_name\": null,\n  \"similarity_fn_name\": \"cosine\"\n}\n"));
        char pdir[TT_PATH];
        SBERT_TRY(sbert_path_join(pdir, sizeof pdir, dir, "1_Pooling"));
        SBERT_TRY(sbert_mkdir_p(pdir));
        snprintf(text, sizeof text,
                 "{\n  \"word_embedding_dimension\": %zu,\n  \"pooling_mode_cls_token\": false,\n"
                 "  \"pooling_mode_mean_tokens\": true,\n  \"pooling_mode_max_tokens\": false,\n"
                 "  \"pooling_mode_mean_sqrt_len_tokens\": false,\n  \"pooling_mode_weightedmean_tokens\": false,\n"
                 "  \"pooling_mode_lasttoken\": false,\n  \"include_prompt\": true\n}\n",
                 m->H);
        SBERT_TRY(sbert_write_text_file(pdir, "config.json", text));
        return SBERT_OK;
    }
    /* Module folders named in modules.json: copy their configs, write Dense weights. */
    char path[TT_PATH];
    SBERT_TRY(sbert_path_join(path, sizeof path, src, "modules.json"));
    cJSON *mods = NULL;
    SBERT_TRY(sbert_json_load(path, &mods));
    sbert_status st = SBERT_OK;
    const cJSON *mod;
    cJSON_ArrayForEach(mod, mods) {
        const cJSON *p = cJSON_GetObjectItem(mod, "path");
        if (!cJSON_IsString(p) || !*p->valuestring) continue;
        char sdir[TT_PATH], ddir[TT_PATH];
        if ((st = sbert_path_join(sdir, sizeof sdir, src, p->valuestring)) != SBERT_OK) break;
        if ((st = sbert_path_join(ddir, sizeof ddir, dir, p->valuestring)) != SBERT_OK) break;
        if ((st = sbert_mkdir_p(ddir)) != SBERT_OK) break;
        if ((st = copy_file(sdir, ddir, "config.json", 0)) != SBERT_OK) break;
        for (size_t i = 0; i < m->n_post; i++) {
            const sbert_post_module *pm = sbert_model_post_module(m->model, i);
            if (pm->kind == SBERT_MOD_DENSE && pm->path && strcmp(pm->path, p->valuestring) == 0)
                st = save_dense(&m->dense[i], ddir);
        }
        if (st != SBERT_OK) break;
    }
    cJSON_Delete(mods);
    return st;
}

/* ------------------------------------------------------- optimizer state */

typedef struct {
    char name[160];
    sbert_adamw_state *s;
} tt_opt_ref;

/* Every optimizer state with its name prefix; returns the count. */
static size_t opt_refs(tt_model *m, tt_opt_ref *r, size_t cap) {
    size_t n = 0;
    if (n < cap) {
        snprintf(r[n].name, sizeof r[n].name, "encoder");
        r[n++].s = &m->opt;
    }
    for (size_t i = 0; i < m->n_post; i++) {
        tt_dense *td = &m->dense[i];
        if (!td->d) continue;
        if (n < cap) {
            snprintf(r[n].name, sizeof r[n].name, "%zu.linear.weight", i + 2);
            r[n++].s = &td->oW;
        }
        if (td->b && n < cap) {
            snprintf(r[n].name, sizeof r[n].name, "%zu.linear.bias", i + 2);
            r[n++].s = &td->ob;
        }
        if (td->R && n < cap) {
            snprintf(r[n].name, sizeof r[n].name, "%zu.residual.weight", i + 2);
            r[n++].s = &td->oR;
        }
    }
    return n;
}

#define TT_MAX_OPT 64

static sbert_status t_save_optimizer(const sbert_trainable *b, const char *dir) {
    tt_model *m = (tt_model *)b;
    tt_opt_ref r[TT_MAX_OPT];
    size_t n = opt_refs(m, r, TT_MAX_OPT);
    sbert_st_entry e[2 * TT_MAX_OPT];
    char names[2 * TT_MAX_OPT][200];
    memset(e, 0, sizeof e);
    for (size_t i = 0; i < n; i++) {
        snprintf(names[2 * i], sizeof names[0], "%.150s.exp_avg", r[i].name);
        snprintf(names[2 * i + 1], sizeof names[0], "%.150s.exp_avg_sq", r[i].name);
        e[2 * i].name = names[2 * i];
        e[2 * i].data = r[i].s->m;
        e[2 * i + 1].name = names[2 * i + 1];
        e[2 * i + 1].data = r[i].s->v;
        for (int k = 0; k < 2; k++) {
            e[2 * i + k].ndim = 1;
            e[2 * i + k].shape[0] = (int64_t)r[i].s->n;
        }
    }
    /* The step count, and the dropout RNG state so a resumed run draws the
     * masks an uninterrupted one would. */
    char step[32], rng[96];
    snprintf(step, sizeof step, "%lld", (long long)m->opt.step);
    snprintf(rng, sizeof rng, "%016llx%016llx%016llx%016llx", (unsigned long long)m->rng.s[0],
             (unsigned long long)m->rng.s[1], (unsigned long long)m->rng.s[2], (unsigned long long)m->rng.s[3]);
    const char *meta[4] = {"step", step, "dropout_rng", rng};
    char path[TT_PATH];
    SBERT_TRY(sbert_path_join(path, sizeof path, dir, "optimizer.safetensors"));
    return sbert_st_write(path, e, 2 * n, meta, 2);
}

static sbert_status t_load_optimizer(sbert_trainable *b, const char *dir) {
    tt_model *m = (tt_model *)b;
    char path[TT_PATH];
    SBERT_TRY(sbert_path_join(path, sizeof path, dir, "optimizer.safetensors"));
    sbert_safetensors *st = NULL;
    SBERT_TRY(sbert_st_open(path, &st));
    tt_opt_ref r[TT_MAX_OPT];
    size_t n = opt_refs(m, r, TT_MAX_OPT);
    sbert_status s = SBERT_OK;
    const char *step = sbert_st_metadata(st, "step");
    if (!step) s = sbert_fail(SBERT_ERR_FORMAT, "%s: no 'step' in __metadata__", path);
    for (size_t i = 0; i < n && s == SBERT_OK; i++) {
        char name[200];
        int64_t shape[1] = {(int64_t)r[i].s->n};
        snprintf(name, sizeof name, "%.150s.exp_avg", r[i].name);
        s = sbert_st_read_f32(st, name, shape, 1, r[i].s->m);
        snprintf(name, sizeof name, "%.150s.exp_avg_sq", r[i].name);
        if (s == SBERT_OK) s = sbert_st_read_f32(st, name, shape, 1, r[i].s->v);
    }
    const char *rng = sbert_st_metadata(st, "dropout_rng");
    sbert_rng saved_rng = m->rng;
    if (s == SBERT_OK && rng) {
        if (strlen(rng) != 64) s = sbert_fail(SBERT_ERR_FORMAT, "%s: 'dropout_rng' is not 64 hex digits", path);
        for (int k = 0; k < 4 && s == SBERT_OK; k++) {
            char hex[17], *end = NULL;
            memcpy(hex, rng + 16 * k, 16);
            hex[16] = '\0';
            saved_rng.s[k] = (uint64_t)strtoull(hex, &end, 16);
            if (!end || *end) s = sbert_fail(SBERT_ERR_FORMAT, "%s: 'dropout_rng' is not hexadecimal", path);
        }
    }
    if (s == SBERT_OK) {
        for (size_t i = 0; i < n; i++) r[i].s->step = atoll(step);
        m->rng = saved_rng;
    }
    sbert_st_close(st);
    return s;
}

static sbert_status t_load_weights(sbert_trainable *b, const char *dir) {
    tt_model *m = (tt_model *)b;
    sbert_model *other = NULL;
    SBERT_TRY(sbert_model_load(dir, NULL, &other));
    sbert_status st = SBERT_OK;
    size_t n = 0;
    float *src = sbert_transformer_params(sbert_model_transformer(other), &n);
    if (!src || n != m->n_params || sbert_model_n_post_modules(other) != m->n_post) {
        st = sbert_fail(SBERT_ERR_FORMAT, "%s: its modules/weights (%zu floats) do not match the model being trained (%zu)",
                        dir, n, m->n_params);
        goto done;
    }
    memcpy(m->params, src, n * sizeof *src);
    for (size_t i = 0; i < m->n_post; i++) {
        tt_dense *td = &m->dense[i];
        if (!td->d) continue;
        const sbert_post_module *pm = sbert_model_post_module(other, i);
        if (pm->kind != SBERT_MOD_DENSE || pm->in_dim != td->in || pm->out_dim != td->out) {
            st = sbert_fail(SBERT_ERR_FORMAT, "%s: module %zu differs from the model being trained", dir, i + 2);
            goto done;
        }
        memcpy(td->W, sbert_dense_weight(pm->dense), td->in * td->out * sizeof(float));
        if (td->b && sbert_dense_bias(pm->dense)) memcpy(td->b, sbert_dense_bias(pm->dense), td->out * sizeof(float));
        if (td->R && sbert_dense_residual(pm->dense))
            memcpy(td->R, sbert_dense_residual(pm->dense), td->in * td->out * sizeof(float));
    }
done:
    sbert_model_free(other);
    return st;
}

static void t_free(sbert_trainable *b) {
    tt_model *m = (tt_model *)b;
    if (!m) return;
    for (size_t i = 0; m->dense && i < m->n_post; i++) {
        tt_dense *td = &m->dense[i];
        free(td->dW);
        free(td->db);
        free(td->dR);
        sbert_adamw_free(&td->oW);
        sbert_adamw_free(&td->ob);
        sbert_adamw_free(&td->oR);
    }
    free(m->dense);
    free(m->grad);
    free(m->segs);
    sbert_adamw_free(&m->opt);
    sbert_model_free(m->model);
    free(m);
}

static sbert_rng *t_rng(sbert_trainable *b) { return &((tt_model *)b)->rng; }

static const sbert_trainable_ops TRANSFORMER_OPS = {
    t_dim, t_describe, t_encode, t_tokenize, tokens_free, t_forward, t_backward, t_state_free, t_step,
    t_save, t_save_optimizer, t_load_optimizer, t_load_weights, t_free, t_rng};

/* transformers' get_decay_parameter_names: no decay for LayerNorm weights and
 * for any name holding "bias" (which also covers MPNet's relative_attention_bias). */
static int decays(const char *name) {
    char low[160];
    size_t i = 0;
    for (; name[i] && i + 1 < sizeof low; i++) low[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]);
    low[i] = '\0';
    return !(strstr(low, "bias") || strstr(low, "layernorm") || strstr(low, "layer_norm"));
}

/* DistilBERT with sinusoidal_pos_embds: the position table is frozen. */
static int frozen(const char *dir, const char *model_type, const char *name) {
    if (!model_type || strcmp(model_type, "distilbert") || strcmp(name, "embeddings.position_embeddings.weight"))
        return 0;
    char path[TT_PATH];
    if (sbert_path_join(path, sizeof path, dir, "config.json") != SBERT_OK) return 0;
    cJSON *cfg = NULL;
    if (sbert_json_load(path, &cfg) != SBERT_OK) {
        sbert_error_clear();
        return 0;
    }
    int f = cJSON_IsTrue(cJSON_GetObjectItem(cfg, "sinusoidal_pos_embds"));
    cJSON_Delete(cfg);
    return f;
}

sbert_status sbert_trainable_transformer_create(const sbert_trainable_options *opt, sbert_trainable **out) {
    *out = NULL;
    if (!opt || !opt->model) return sbert_fail(SBERT_ERR_INVALID_ARG, "transformer training: no model given");
    if (!sbert_dir_exists(opt->model))
        return sbert_fail(SBERT_ERR_IO, "model '%s': no such directory (give a sentence-transformers or Hugging "
                                        "Face model directory, or model: static)",
                          opt->model);
    tt_model *m = calloc(1, sizeof *m);
    if (!m) return nomem("model");
    m->base.ops = &TRANSFORMER_OPS;
    snprintf(m->source, sizeof m->source, "%s", opt->model);
    sbert_rng_seed(&m->rng, opt->seed);
    sbert_status st = sbert_model_load(opt->model, NULL, &m->model);
    if (st != SBERT_OK) goto fail;
    m->tf = sbert_model_transformer(m->model);
    if (!m->tf) {
        st = sbert_fail(SBERT_ERR_UNSUPPORTED, "model '%s': no Transformer module to train", opt->model);
        goto fail;
    }
    {
        char mp[TT_PATH];
        if ((st = sbert_path_join(mp, sizeof mp, opt->model, "modules.json")) != SBERT_OK) goto fail;
        m->plain_hf = !sbert_file_exists(mp);
    }
    if (opt->max_seq_length > 0) sbert_model_set_max_seq_length(m->model, (size_t)opt->max_seq_length);
    m->pool = sbert_model_pooling(m->model);
    m->H = sbert_transformer_hidden_size(m->tf);
    m->pool_dim = sbert_pooling_output_dim(m->pool);
    m->out_dim = sbert_model_full_dim(m->model);
    m->max_width = m->pool_dim;
    m->params = sbert_transformer_params(m->tf, &m->n_params);
    m->grad = calloc(m->n_params, sizeof *m->grad);
    size_t np = sbert_transformer_num_params(m->tf);
    m->segs = calloc(np ? np : 1, sizeof *m->segs);
    if (!m->grad || !m->segs) {
        st = nomem("gradients");
        goto fail;
    }
    const char *mt = sbert_transformer_model_type(m->tf);
    for (size_t i = 0; i < np; i++) {
        const sbert_transformer_param *p = sbert_transformer_param_at(m->tf, i);
        if (frozen(opt->model, mt, p->name)) {
            m->has_frozen = 1;
            continue;
        }
        m->segs[m->n_segs].offset = p->offset;
        m->segs[m->n_segs].size = p->numel;
        m->segs[m->n_segs].decay = decays(p->name);
        m->n_segs++;
    }
    if ((st = sbert_adamw_init(&m->opt, m->n_params)) != SBERT_OK) goto fail;
    m->n_post = sbert_model_n_post_modules(m->model);
    m->dense = calloc(m->n_post ? m->n_post : 1, sizeof *m->dense);
    if (!m->dense) {
        st = nomem("dense");
        goto fail;
    }
    for (size_t i = 0; i < m->n_post; i++) {
        const sbert_post_module *pm = sbert_model_post_module(m->model, i);
        if (pm->in_dim > m->max_width) m->max_width = pm->in_dim;
        if (pm->out_dim > m->max_width) m->max_width = pm->out_dim;
        if (pm->kind != SBERT_MOD_DENSE) continue;
        tt_dense *td = &m->dense[i];
        td->d = pm->dense;
        td->in = sbert_dense_in_features(td->d);
        td->out = sbert_dense_out_features(td->d);
        td->W = sbert_dense_weight(td->d);
        td->b = sbert_dense_bias(td->d);
        td->R = sbert_dense_residual(td->d);
        size_t nw = td->in * td->out;
        td->dW = calloc(nw, sizeof(float));
        if (!td->dW || sbert_adamw_init(&td->oW, nw) != SBERT_OK) {
            st = nomem("dense gradients");
            goto fail;
        }
        if (td->b && (!(td->db = calloc(td->out, sizeof(float))) || sbert_adamw_init(&td->ob, td->out) != SBERT_OK)) {
            st = nomem("dense gradients");
            goto fail;
        }
        if (td->R && (!(td->dR = calloc(nw, sizeof(float))) || sbert_adamw_init(&td->oR, nw) != SBERT_OK)) {
            st = nomem("dense gradients");
            goto fail;
        }
    }
    *out = &m->base;
    return SBERT_OK;
fail:
    sbert_error_prefix("model '%s': ", opt->model);
    t_free(&m->base);
    return st;
}
