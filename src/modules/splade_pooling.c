/*
 * modules/splade_pooling.c -- SpladePooling fused with the MLM decoder (see
 * splade_pooling.h): the blocked forward, its backward, and the module
 * wrapper (config, load, save).
 */
#include "modules/splade_pooling.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/error.h"
#include "base/threads.h"
#include "io/dirs.h"
#include "io/file.h"
#include "kernels/bf16_gemm.h"
#include "kernels/cpu_ops.h"

/* Tokens per block: the logits buffer is [BLOCK, V] (64 x 30522 floats = 7.8 MB). */
#define BLOCK 64

/* f(z) for z > 0, rounded as torch does it (float log1p, twice for log1p_relu). */
static inline float act_f(sbert_splade_activation a, float z) {
    float y = log1pf(z);
    return a == SBERT_SPLADE_LOG1P_RELU ? log1pf(y) : y;
}

/* f'(z) for z > 0. */
static inline float act_df(sbert_splade_activation a, float z) {
    float g = 1.0f / (1.0f + z);
    if (a == SBERT_SPLADE_LOG1P_RELU) g *= 1.0f / (1.0f + log1pf(z));
    return g;
}

/* ------------------------------------------------------------ forward */

typedef struct {
    const sbert_splade_config *c;
    const float *L, *b;  /* [rows, V] block logits (no bias), [V] bias */
    const size_t *seq;   /* [rows] sequence of each row */
    size_t rows, V;
    float *zbuf;         /* max: [n_seq, V] best logit so far */
    int32_t *arg;        /* max: [n_seq, V] or NULL */
    double *acc;         /* sum: [n_seq, V] */
    size_t t0;           /* first token of the block */
} pool_ctx;

static void pool_cols(void *vctx, size_t v0, size_t v1) {
    pool_ctx *p = vctx;
    const size_t V = p->V;
    for (size_t r = 0; r < p->rows; r++) {
        const float *z = p->L + r * V;
        size_t s = p->seq[r];
        if (p->c->strategy == SBERT_SPLADE_MAX) {
            float *zb = p->zbuf + s * V;
            int32_t *am = p->arg ? p->arg + s * V : NULL;
            for (size_t v = v0; v < v1; v++) {
                float zz = z[v] + p->b[v];
                if (zz > zb[v]) {
                    zb[v] = zz;
                    if (am) am[v] = (int32_t)(p->t0 + r);
                }
            }
        } else {
            double *a = p->acc + s * V;
            for (size_t v = v0; v < v1; v++) {
                float zz = z[v] + p->b[v];
                if (zz > 0.0f) a[v] += (double)act_f(p->c->activation, zz);
            }
        }
    }
}

/* The sequence of every token of [t0, t1) into seq[]. */
static void seq_of_block(const size_t *offs, size_t n_seq, size_t t0, size_t t1, size_t *s_io, size_t *seq) {
    size_t s = *s_io;
    for (size_t t = t0; t < t1; t++) {
        while (s + 1 < n_seq && offs[s + 1] <= t) s++;
        seq[t - t0] = s;
    }
    *s_io = s;
}

void sbert_splade_forward(const sbert_splade_config *c, const sbert_mlm_decoder *d, const float *u,
                          const size_t *offs, size_t n_seq, float *out, int32_t *arg, float *zsel) {
    const size_t V = d->V, H = d->H, T = n_seq ? offs[n_seq] : 0;
    float *L = malloc((size_t)BLOCK * V * sizeof *L);
    size_t seq[BLOCK];
    double *acc = NULL;
    float *zbuf = zsel ? zsel : out;
    if (c->strategy == SBERT_SPLADE_SUM) {
        acc = calloc(n_seq * V + 1, sizeof *acc);
    } else {
        memset(zbuf, 0, n_seq * V * sizeof *zbuf);
        if (arg)
            for (size_t i = 0; i < n_seq * V; i++) arg[i] = -1;
    }
    if (!L || (c->strategy == SBERT_SPLADE_SUM && !acc)) {
        /* Out of memory in a kernel that cannot fail otherwise: a NaN output
         * the caller's checks report (the module wrapper allocates first). */
        for (size_t i = 0; i < n_seq * V; i++) out[i] = NAN;
        free(L);
        free(acc);
        return;
    }
    size_t s_cur = 0;
    for (size_t t0 = 0; t0 < T; t0 += BLOCK) {
        size_t rows = T - t0 < BLOCK ? T - t0 : BLOCK;
        if (d->Wb) sbert_bf16_gemm_bb(0, 1, rows, V, H, u + t0 * H, H, d->Wb, H, 0.0f, L, V); /* precision bf16 */
        else sbert_sgemm(0, 1, rows, V, H, 1.0f, u + t0 * H, H, d->W, H, 0.0f, L, V);
        seq_of_block(offs, n_seq, t0, t0 + rows, &s_cur, seq);
        pool_ctx p = {c, L, d->b, seq, rows, V, zbuf, arg, acc, t0};
        sbert_parallel_for_min(V, 512, pool_cols, &p);
    }
    if (c->strategy == SBERT_SPLADE_SUM) {
        for (size_t i = 0; i < n_seq * V; i++) out[i] = (float)acc[i];
    } else {
        for (size_t i = 0; i < n_seq * V; i++) out[i] = zbuf[i] > 0.0f ? act_f(c->activation, zbuf[i]) : 0.0f;
    }
    free(L);
    free(acc);
}

/* ------------------------------------------------------------ backward */

typedef struct {
    const sbert_splade_config *c;
    const sbert_mlm_decoder *d;
    const float *u, *dout, *zsel;
    const int32_t *arg;
    const size_t *offs;
    size_t n_seq;
    float *du;
} maxb_ctx;

/* dW[v] += g u[arg], db[v] += g for v in [v0, v1). */
static void maxb_cols(void *vctx, size_t v0, size_t v1) {
    maxb_ctx *p = vctx;
    const size_t V = p->d->V, H = p->d->H;
    for (size_t v = v0; v < v1; v++) {
        for (size_t s = 0; s < p->n_seq; s++) {
            int32_t t = p->arg[s * V + v];
            if (t < 0) continue;
            float g = p->dout[s * V + v] * act_df(p->c->activation, p->zsel[s * V + v]);
            if (p->d->db) p->d->db[v] += g;
            if (p->d->dW) {
                float *dw = p->d->dW + v * H;
                const float *uu = p->u + (size_t)t * H;
                for (size_t k = 0; k < H; k++) dw[k] += g * uu[k];
            }
        }
    }
}

/* du[arg] += g W[v] for the sequences [s0, s1) (their tokens are disjoint). */
static void maxb_seqs(void *vctx, size_t s0, size_t s1) {
    maxb_ctx *p = vctx;
    const size_t V = p->d->V, H = p->d->H;
    for (size_t s = s0; s < s1; s++) {
        for (size_t v = 0; v < V; v++) {
            int32_t t = p->arg[s * V + v];
            if (t < 0) continue;
            float g = p->dout[s * V + v] * act_df(p->c->activation, p->zsel[s * V + v]);
            float *dd = p->du + (size_t)t * H;
            const float *w = p->d->W + v * H;
            for (size_t k = 0; k < H; k++) dd[k] += g * w[k];
        }
    }
}

typedef struct {
    const sbert_splade_config *c;
    float *L;            /* [rows, V]: logits in, D = dout * f'(z) out */
    const float *b, *dout;
    const size_t *seq;
    size_t rows, V;
    float *db;
} sumb_ctx;

static void sumb_cols(void *vctx, size_t v0, size_t v1) {
    sumb_ctx *p = vctx;
    const size_t V = p->V;
    for (size_t r = 0; r < p->rows; r++) {
        float *z = p->L + r * V;
        const float *g = p->dout + p->seq[r] * V;
        for (size_t v = v0; v < v1; v++) {
            float zz = z[v] + p->b[v];
            z[v] = zz > 0.0f ? g[v] * act_df(p->c->activation, zz) : 0.0f;
        }
    }
    if (p->db)
        for (size_t v = v0; v < v1; v++) {
            float s = 0.0f;
            for (size_t r = 0; r < p->rows; r++) s += p->L[r * V + v];
            p->db[v] += s;
        }
}

void sbert_splade_backward(const sbert_splade_config *c, const sbert_mlm_decoder *d, const float *u,
                           const size_t *offs, size_t n_seq, const float *dout, const int32_t *arg,
                           const float *zsel, float *du) {
    const size_t V = d->V, H = d->H, T = n_seq ? offs[n_seq] : 0;
    if (c->strategy == SBERT_SPLADE_MAX) {
        maxb_ctx p = {c, d, u, dout, zsel, arg, offs, n_seq, du};
        if (d->dW || d->db) sbert_parallel_for_min(V, 256, maxb_cols, &p);
        if (du) sbert_parallel_for(n_seq, maxb_seqs, &p);
        return;
    }
    float *L = malloc((size_t)BLOCK * V * sizeof *L);
    size_t seq[BLOCK];
    if (!L) {
        if (du)
            for (size_t i = 0; i < T * H; i++) du[i] = NAN;
        return;
    }
    size_t s_cur = 0;
    for (size_t t0 = 0; t0 < T; t0 += BLOCK) {
        size_t rows = T - t0 < BLOCK ? T - t0 : BLOCK;
        if (d->Wb) sbert_bf16_gemm_bb(0, 1, rows, V, H, u + t0 * H, H, d->Wb, H, 0.0f, L, V); /* precision bf16 */
        else sbert_sgemm(0, 1, rows, V, H, 1.0f, u + t0 * H, H, d->W, H, 0.0f, L, V);
        seq_of_block(offs, n_seq, t0, t0 + rows, &s_cur, seq);
        sumb_ctx p = {c, L, d->b, dout, seq, rows, V, d->db};
        sbert_parallel_for_min(V, 512, sumb_cols, &p);
        if (du) sbert_sgemm(0, 0, rows, H, V, 1.0f, L, V, d->W, H, 1.0f, du + t0 * H, H);
        if (d->dW) sbert_sgemm(1, 0, V, H, rows, 1.0f, L, V, u + t0 * H, H, 1.0f, d->dW, H);
    }
    free(L);
}

/* ------------------------------------------------------------ module */

typedef struct {
    sbert_module base;
    sbert_splade_config c;
    size_t dim; /* output width: c.dim, or the decoder's V once known */
} splade_module;

typedef struct {
    int32_t *arg;
    float *zsel;
} splade_rec;

static const sbert_module_ops SPLADE_OPS;

int sbert_module_is_splade_pooling(const sbert_module *m) { return m && m->ops == &SPLADE_OPS; }

const sbert_splade_config *sbert_splade_pooling_config(const sbert_module *m) {
    return sbert_module_is_splade_pooling(m) ? &((const splade_module *)m)->c : NULL;
}

void sbert_splade_pooling_set_dim(sbert_module *m, size_t dim) {
    if (sbert_module_is_splade_pooling(m)) ((splade_module *)m)->dim = dim;
}

static sbert_status sp_forward(sbert_module *mod, sbert_features *f, sbert_run *run, void **rec) {
    splade_module *m = (splade_module *)mod;
    sbert_mlm_decoder d;
    if (!f->mlm)
        return sbert_fail(SBERT_ERR_UNSUPPORTED, "SpladePooling needs the MLM head of a fill-mask Transformer (or "
                                                 "MLMTransformer) right before it");
    SBERT_TRY(sbert_mlm_decoder_of(f->mlm, &d));
    if (f->tok_dim != d.H)
        return sbert_fail(SBERT_ERR_INTERNAL, "SpladePooling: token width %zu, decoder width %zu", f->tok_dim, d.H);
    if (m->dim != d.V)
        return sbert_fail(SBERT_ERR_FORMAT,
                          "SpladePooling: embedding dimension %zu disagrees with the MLM vocabulary size %zu", m->dim,
                          d.V);
    float *emb = sbert_run_alloc(run, f->n_seq * d.V, 0);
    if (!emb) return SBERT_ERR_NOMEM;
    int32_t *arg = NULL;
    float *zsel = NULL;
    if (run->train && m->c.strategy == SBERT_SPLADE_MAX) {
        arg = (int32_t *)sbert_run_alloc(run, f->n_seq * d.V, 0); /* int32 and float have the same size */
        zsel = sbert_run_alloc(run, f->n_seq * d.V, 0);
        if (!arg || !zsel) return SBERT_ERR_NOMEM;
    }
    sbert_splade_forward(&m->c, &d, f->tok, f->offs, f->n_seq, emb, arg, zsel);
    if (run->train) {
        splade_rec *r = malloc(sizeof *r);
        if (!r) return sbert_fail(SBERT_ERR_NOMEM, "out of memory (SpladePooling)");
        r->arg = arg;
        r->zsel = zsel;
        *rec = r;
    }
    f->emb = emb;
    f->dim = d.V;
    return SBERT_OK;
}

static sbert_status sp_backward(sbert_module *mod, const sbert_features *in, const sbert_features *out,
                                const sbert_feature_grads *dout, sbert_feature_grads *din, sbert_run *run,
                                void *rec) {
    splade_module *m = (splade_module *)mod;
    splade_rec *r = rec;
    (void)out;
    sbert_mlm_decoder d;
    SBERT_TRY(sbert_mlm_decoder_of(in->mlm, &d));
    din->tok = sbert_run_alloc(run, in->T * d.H, 1);
    if (!din->tok) return SBERT_ERR_NOMEM;
    if (m->c.strategy == SBERT_SPLADE_MAX && (!r || !r->arg))
        return sbert_fail(SBERT_ERR_INTERNAL, "SpladePooling backward without a training forward");
    sbert_splade_backward(&m->c, &d, in->tok, in->offs, in->n_seq, dout->emb, r ? r->arg : NULL, r ? r->zsel : NULL,
                          din->tok);
    return SBERT_OK;
}

static void sp_rec_free(sbert_module *mod, void *rec) {
    (void)mod;
    free(rec);
}

static const char *const STRATEGIES[] = {"max", "sum"};
static const char *const ACTIVATIONS[] = {"relu", "log1p_relu"};

static sbert_status sp_save(const sbert_module *mod, const char *dir) {
    const splade_module *m = (const splade_module *)mod;
    char text[512];
    if (m->dim)
        snprintf(text, sizeof text,
                 "{\n  \"pooling_strategy\": \"%s\",\n  \"activation_function\": \"%s\",\n  "
                 "\"word_embedding_dimension\": %zu\n}\n",
                 STRATEGIES[m->c.strategy], ACTIVATIONS[m->c.activation], m->dim);
    else
        snprintf(text, sizeof text,
                 "{\n  \"pooling_strategy\": \"%s\",\n  \"activation_function\": \"%s\",\n  "
                 "\"word_embedding_dimension\": null\n}\n",
                 STRATEGIES[m->c.strategy], ACTIVATIONS[m->c.activation]);
    return sbert_write_text_file(dir, "config.json", text);
}

static size_t sp_out_dim(const sbert_module *mod) { return ((const splade_module *)mod)->dim; }

static void sp_free(sbert_module *mod) {
    if (!mod) return;
    sbert_module_fini(mod);
    free(mod);
}

static const sbert_module_ops SPLADE_OPS = {
    .class_name = "SpladePooling",
    .forward = sp_forward,
    .backward = sp_backward,
    .rec_free = sp_rec_free,
    .save = sp_save,
    .out_dim = sp_out_dim,
    .free = sp_free,
};

static sbert_status sp_make(const sbert_splade_config *c, const char *type, sbert_module **out) {
    splade_module *m = calloc(1, sizeof *m);
    if (!m) return sbert_fail(SBERT_ERR_NOMEM, "out of memory (SpladePooling)");
    m->c = *c;
    m->dim = c->dim;
    sbert_status st = sbert_module_init(&m->base, &SPLADE_OPS, type, NULL);
    if (st != SBERT_OK) {
        sp_free(&m->base);
        return st;
    }
    *out = &m->base;
    return SBERT_OK;
}

sbert_status sbert_splade_pooling_new(const sbert_splade_config *c, sbert_module **out) {
    return sp_make(c, "sentence_transformers.sparse_encoder.models.SpladePooling", out);
}

static sbert_status parse_choice(const cJSON *cfg, const char *key, const char *const *names, int n, int def,
                                 const char *path, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    *out = def;
    if (!v || cJSON_IsNull(v)) return SBERT_OK;
    if (cJSON_IsString(v))
        for (int i = 0; i < n; i++)
            if (strcmp(v->valuestring, names[i]) == 0) {
                *out = i;
                return SBERT_OK;
            }
    return sbert_fail(SBERT_ERR_FORMAT, "%s: \"%s\" must be %s or %s, got %s", path, key, names[0], names[1],
                      cJSON_IsString(v) ? v->valuestring : "(not a string)");
}

sbert_status sbert_splade_pooling_load(const sbert_module_load_ctx *ctx, sbert_module **out) {
    *out = NULL;
    char path[4096];
    SBERT_TRY(sbert_path_join(path, sizeof path, ctx->dir, "config.json"));
    cJSON *cfg = NULL;
    SBERT_TRY(sbert_json_load(path, &cfg));
    sbert_status st = SBERT_OK;
    sbert_splade_config c;
    memset(&c, 0, sizeof c);
    int strat = 0, act = 0;
    if (!cJSON_IsObject(cfg)) st = sbert_fail(SBERT_ERR_FORMAT, "%s: not a JSON object", path);
    if (st == SBERT_OK) st = parse_choice(cfg, "pooling_strategy", STRATEGIES, 2, 0, path, &strat);
    if (st == SBERT_OK) st = parse_choice(cfg, "activation_function", ACTIVATIONS, 2, 0, path, &act);
    for (const cJSON *e = cJSON_IsObject(cfg) ? cfg->child : NULL; e && st == SBERT_OK; e = e->next) {
        static const char *const known[] = {"pooling_strategy", "activation_function", "word_embedding_dimension",
                                            "embedding_dimension", "chunk_size"};
        int ok = 0;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) ok |= strcmp(e->string, known[i]) == 0;
        if (!ok)
            st = sbert_fail(SBERT_ERR_FORMAT,
                            "%s: unknown SpladePooling key \"%s\" (known: pooling_strategy, activation_function, "
                            "word_embedding_dimension / embedding_dimension, chunk_size)",
                            path, e->string);
    }
    int has_w = 0, has_e = 0;
    size_t w = 0, e = 0;
    if (st == SBERT_OK) {
        const cJSON *wj = cJSON_GetObjectItemCaseSensitive(cfg, "word_embedding_dimension");
        const cJSON *ej = cJSON_GetObjectItemCaseSensitive(cfg, "embedding_dimension");
        if (!cJSON_IsNull(wj)) st = sbert_json_size(cfg, "word_embedding_dimension", path, &w, &has_w);
        if (st == SBERT_OK && !cJSON_IsNull(ej)) st = sbert_json_size(cfg, "embedding_dimension", path, &e, &has_e);
    }
    if (st == SBERT_OK && has_w && has_e && w != e)
        st = sbert_fail(SBERT_ERR_FORMAT, "%s: word_embedding_dimension %zu and embedding_dimension %zu disagree",
                        path, w, e);
    cJSON_Delete(cfg);
    SBERT_TRY(st);
    c.strategy = (sbert_splade_strategy)strat;
    c.activation = (sbert_splade_activation)act;
    c.dim = has_e ? e : has_w ? w : 0;
    return sp_make(&c, ctx->type, out);
}

/* Every SpladePooling must follow an MLM module; its width is the MLM
 * vocabulary (a configured width that disagrees is an error). */
sbert_status sbert_sparse_check_pipeline(sbert_module **mods, size_t n, const char *where) {
    for (size_t i = 0; i < n; i++) {
        sbert_module *mod = mods[i];
        if (sbert_module_is_mlm(mod) && (i + 1 >= n || !sbert_module_is_splade_pooling(mods[i + 1])))
            return sbert_fail(SBERT_ERR_UNSUPPORTED,
                              "%s: module %zu is a fill-mask (MLM) transformer, so module %zu must be SpladePooling "
                              "(sbert computes the vocabulary logits inside SpladePooling)",
                              where, i, i + 1);
        if (!sbert_module_is_splade_pooling(mod)) continue;
        if (i == 0 || !sbert_module_is_mlm(mods[i - 1]))
            return sbert_fail(SBERT_ERR_UNSUPPORTED,
                              "%s: module %zu (SpladePooling) must follow a fill-mask Transformer / MLMTransformer",
                              where, i);
        size_t V = sbert_mlm_vocab_size(mods[i - 1]);
        const sbert_splade_config *c = sbert_splade_pooling_config(mod);
        if (c->dim && c->dim != V)
            return sbert_fail(SBERT_ERR_FORMAT,
                              "%s: SpladePooling (module %zu) says embedding dimension %zu, but the MLM vocabulary "
                              "(config.json vocab_size) is %zu: they must agree",
                              where, i, c->dim, V);
        sbert_splade_pooling_set_dim(mod, V);
    }
    return SBERT_OK;
}
