/*
 * modules/classifier_head.c -- the sequence-classification head of a
 * CrossEncoder (see classifier_head.h): config, fresh initialisation,
 * loading from a checkpoint, forward and backward over the first token of
 * every packed sequence, and the module wrapper.
 */
#include "modules/classifier_head.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/rng.h"
#include "kernels/cpu_ops.h"
#include "kernels/cpu_ops_backward.h"

typedef struct {
    sbert_module base;
    sbert_head_config cfg;
    float *params; /* W1 [H,H] | b1 [H] | W2 [L,H] | b2 [L] */
    float *w1, *b1, *w2, *b2;
} head_module;

/* What the backward of one training forward needs (buffers in the run arena). */
typedef struct {
    size_t n;
    float *xd;  /* [n, H] first-token states after the first dropout */
    float *pre; /* [n, H] pre-activation */
    float *hd;  /* [n, H] activation after the second dropout */
    float *m1;  /* [n, H] dropout scale before dense, or NULL */
    float *m2;  /* [n, H] dropout scale before the output layer, or NULL */
} head_rec;

static sbert_status nomem(const char *what) { return sbert_fail(SBERT_ERR_NOMEM, "out of memory (%s)", what); }

/* --------------------------------------------------------------- config */

static double num_or(const cJSON *cfg, const char *key, double dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

sbert_status sbert_head_config_from_hf(const cJSON *config, const char *path, size_t num_labels,
                                       sbert_head_config *out) {
    memset(out, 0, sizeof *out);
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(config, "model_type");
    if (!cJSON_IsString(mt))
        return sbert_fail(SBERT_ERR_FORMAT, "%s: \"model_type\" is missing (a CrossEncoder needs the encoder family)",
                          path);
    const char *t = mt->valuestring;
    const char *hkey = "hidden_size";
    double hidden_p = num_or(config, "hidden_dropout_prob", 0.1);
    const cJSON *cd = cJSON_GetObjectItemCaseSensitive(config, "classifier_dropout");
    double cls_p = cJSON_IsNumber(cd) ? cd->valuedouble : hidden_p;
    const char *dense_names[4] = {"classifier.dense.weight", "classifier.dense.bias", "classifier.out_proj.weight",
                                  "classifier.out_proj.bias"};
    const char *const *names = dense_names;
    if (!strcmp(t, "bert")) {
        static const char *const n[4] = {"bert.pooler.dense.weight", "bert.pooler.dense.bias", "classifier.weight",
                                         "classifier.bias"};
        names = n;
        out->style = SBERT_HEAD_POOLER;
        out->p_mid = (float)cls_p;
        snprintf(out->architecture, sizeof out->architecture, "BertForSequenceClassification");
        snprintf(out->prefix, sizeof out->prefix, "bert.");
    } else if (!strcmp(t, "roberta") || !strcmp(t, "xlm-roberta") || !strcmp(t, "camembert")) {
        out->style = SBERT_HEAD_DENSE_TANH;
        out->p_pre = out->p_mid = (float)cls_p;
        snprintf(out->architecture, sizeof out->architecture, "%s",
                 !strcmp(t, "roberta")       ? "RobertaForSequenceClassification"
                 : !strcmp(t, "xlm-roberta") ? "XLMRobertaForSequenceClassification"
                                             : "CamembertForSequenceClassification");
        snprintf(out->prefix, sizeof out->prefix, "roberta.");
    } else if (!strcmp(t, "mpnet")) {
        out->style = SBERT_HEAD_DENSE_TANH;
        out->p_pre = out->p_mid = (float)hidden_p; /* MPNetClassificationHead: hidden_dropout_prob */
        snprintf(out->architecture, sizeof out->architecture, "MPNetForSequenceClassification");
        snprintf(out->prefix, sizeof out->prefix, "mpnet.");
    } else if (!strcmp(t, "electra")) {
        out->style = SBERT_HEAD_DENSE_GELU;
        out->p_pre = out->p_mid = (float)cls_p;
        snprintf(out->architecture, sizeof out->architecture, "ElectraForSequenceClassification");
        snprintf(out->prefix, sizeof out->prefix, "electra.");
    } else if (!strcmp(t, "distilbert")) {
        static const char *const n[4] = {"pre_classifier.weight", "pre_classifier.bias", "classifier.weight",
                                         "classifier.bias"};
        names = n;
        hkey = "dim";
        out->style = SBERT_HEAD_PRE_RELU;
        out->p_mid = (float)num_or(config, "seq_classif_dropout", 0.2);
        snprintf(out->architecture, sizeof out->architecture, "DistilBertForSequenceClassification");
        snprintf(out->prefix, sizeof out->prefix, "distilbert.");
    } else {
        return sbert_fail(SBERT_ERR_UNSUPPORTED,
                          "%s: model_type \"%s\" has no supported sequence-classification head (supported: bert, "
                          "roberta, xlm-roberta, camembert, distilbert, mpnet, electra)",
                          path, t);
    }
    for (int i = 0; i < 4; i++) snprintf(out->names[i], sizeof out->names[i], "%s", names[i]);
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(config, hkey);
    if (!cJSON_IsNumber(h) || h->valuedouble < 1 || h->valuedouble != floor(h->valuedouble))
        return sbert_fail(SBERT_ERR_FORMAT, "%s: \"%s\" must be a positive integer", path, hkey);
    out->hidden = (size_t)h->valuedouble;
    if (num_labels == 0) return sbert_fail(SBERT_ERR_FORMAT, "%s: num_labels must be at least 1", path);
    out->num_labels = num_labels;
    out->initializer_range = num_or(config, "initializer_range", 0.02);
    if (!(out->p_pre >= 0 && out->p_pre < 1) || !(out->p_mid >= 0 && out->p_mid < 1))
        return sbert_fail(SBERT_ERR_FORMAT, "%s: classifier dropout must be in [0, 1)", path);
    return SBERT_OK;
}

/* ------------------------------------------------------------ activation */

static float act_f(sbert_head_style s, float x) {
    switch (s) {
    case SBERT_HEAD_PRE_RELU: return x > 0 ? x : 0.0f;
    case SBERT_HEAD_DENSE_GELU: return sbert_act_apply(SBERT_ACT_GELU, x);
    default: return tanhf(x);
    }
}

/* d act / d pre at pre = x (y = act(x)). */
static float act_d(sbert_head_style s, float x, float y) {
    switch (s) {
    case SBERT_HEAD_PRE_RELU: return x > 0 ? 1.0f : 0.0f;
    case SBERT_HEAD_DENSE_GELU: return sbert_act_grad(SBERT_ACT_GELU, x);
    default: return 1.0f - y * y;
    }
}

/* --------------------------------------------------------------- module */

static head_module *as_head(sbert_module *m) { return (head_module *)m; }

/* Dropout scales [n] (0 or 1/(1-p)) drawn from rng. */
static void draw_mask(float *mask, size_t n, float p, sbert_rng *rng) {
    const float ks = 1.0f / (1.0f - p);
    for (size_t i = 0; i < n; i++) mask[i] = sbert_rng_uniform_f(rng) >= p ? ks : 0.0f;
}

static void mul(float *x, const float *mask, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] *= mask[i];
}

static sbert_status hm_forward(sbert_module *mod, sbert_features *f, sbert_run *run, void **rec) {
    head_module *m = as_head(mod);
    const size_t H = m->cfg.hidden, L = m->cfg.num_labels, n = f->n_seq;
    if (!f->tok || f->tok_dim != H)
        return sbert_fail(SBERT_ERR_INTERNAL, "classifier head: token embeddings of width %zu, expected %zu",
                          f->tok_dim, H);
    float *xd = sbert_run_alloc(run, n * H, 0);
    float *pre = xd ? sbert_run_alloc(run, n * H, 0) : NULL;
    float *hd = pre ? sbert_run_alloc(run, n * H, 0) : NULL;
    float *logits = hd ? sbert_run_alloc(run, n * L, 0) : NULL;
    if (!logits) return SBERT_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        if (f->offs[i + 1] <= f->offs[i])
            return sbert_fail(SBERT_ERR_INVALID_ARG, "classifier head: sequence %zu has no tokens", i);
        memcpy(xd + i * H, f->tok + f->offs[i] * H, H * sizeof *xd);
    }
    const int drop = run->train && run->rng;
    float *m1 = NULL, *m2 = NULL;
    if (drop && m->cfg.p_pre > 0) {
        if (!(m1 = sbert_run_alloc(run, n * H, 0))) return SBERT_ERR_NOMEM;
        draw_mask(m1, n * H, m->cfg.p_pre, run->rng);
        mul(xd, m1, n * H);
    }
    sbert_linear_forward(pre, xd, m->w1, m->b1, n, H, H);
    for (size_t k = 0; k < n * H; k++) hd[k] = act_f(m->cfg.style, pre[k]);
    if (drop && m->cfg.p_mid > 0) {
        if (!(m2 = sbert_run_alloc(run, n * H, 0))) return SBERT_ERR_NOMEM;
        draw_mask(m2, n * H, m->cfg.p_mid, run->rng);
        mul(hd, m2, n * H);
    }
    sbert_linear_forward(logits, hd, m->w2, m->b2, n, H, L);
    f->emb = logits;
    f->dim = L;
    if (run->train) {
        head_rec *r = malloc(sizeof *r);
        if (!r) return nomem("classifier head");
        *r = (head_rec){n, xd, pre, hd, m1, m2};
        *rec = r;
    }
    return SBERT_OK;
}

static sbert_status hm_backward(sbert_module *mod, const sbert_features *in, const sbert_features *out,
                                const sbert_feature_grads *dout, sbert_feature_grads *din, sbert_run *run,
                                void *rec) {
    head_module *m = as_head(mod);
    head_rec *r = rec;
    (void)out;
    if (!r) return sbert_fail(SBERT_ERR_INTERNAL, "classifier head backward without a training forward");
    const size_t H = m->cfg.hidden, L = m->cfg.num_labels, n = r->n;
    float *gw1 = sbert_params_at(mod->pt, mod->pfirst)->grad, *gb1 = sbert_params_at(mod->pt, mod->pfirst + 1)->grad;
    float *gw2 = sbert_params_at(mod->pt, mod->pfirst + 2)->grad, *gb2 = sbert_params_at(mod->pt, mod->pfirst + 3)->grad;
    float *dh = sbert_run_alloc(run, n * H, 1);
    float *dx = dh ? sbert_run_alloc(run, n * H, 1) : NULL;
    float *dtok = dx ? sbert_run_alloc(run, in->T * H, 1) : NULL;
    if (!dtok) return SBERT_ERR_NOMEM;
    /* logits = hd W2^T + b2 */
    sbert_linear_backward(dh, gw2, gb2, dout->emb, r->hd, m->w2, n, H, L);
    if (r->m2) mul(dh, r->m2, n * H);
    /* hd = act(pre): dpre = dh * act'(pre), reusing dh */
    for (size_t k = 0; k < n * H; k++) {
        float y = act_f(m->cfg.style, r->pre[k]);
        dh[k] *= act_d(m->cfg.style, r->pre[k], y);
    }
    /* pre = xd W1^T + b1 */
    sbert_linear_backward(dx, gw1, gb1, dh, r->xd, m->w1, n, H, H);
    if (r->m1) mul(dx, r->m1, n * H);
    for (size_t i = 0; i < n; i++) memcpy(dtok + in->offs[i] * H, dx + i * H, H * sizeof *dtok);
    din->tok = dtok;
    return SBERT_OK;
}

static void hm_rec_free(sbert_module *mod, void *rec) {
    (void)mod;
    free(rec);
}

static sbert_status hm_params(sbert_module *mod, sbert_param_table *t) {
    head_module *m = as_head(mod);
    const size_t H = m->cfg.hidden, L = m->cfg.num_labels;
    SBERT_TRY(sbert_param_add(t, m->cfg.names[0], m->w1, H, H, 1, -1));
    SBERT_TRY(sbert_param_add(t, m->cfg.names[1], m->b1, H, 0, 1, -1));
    SBERT_TRY(sbert_param_add(t, m->cfg.names[2], m->w2, L, H, 1, -1));
    return sbert_param_add(t, m->cfg.names[3], m->b2, L, 0, 1, -1);
}

/* The CrossEncoder writes the whole folder (its model.safetensors holds the
 * encoder and these tensors together, models/cross_encoder.c): nothing of
 * the head's own. */
static sbert_status hm_save(const sbert_module *mod, const char *dir) {
    (void)mod;
    (void)dir;
    return SBERT_OK;
}

static size_t hm_out_dim(const sbert_module *mod) { return ((const head_module *)mod)->cfg.num_labels; }

static void hm_free(sbert_module *mod) {
    head_module *m = as_head(mod);
    if (!m) return;
    sbert_module_fini(mod);
    free(m->params);
    free(m);
}

static const sbert_module_ops HEAD_OPS = {
    .class_name = "ClassifierHead",
    .forward = hm_forward,
    .backward = hm_backward,
    .rec_free = hm_rec_free,
    .params = hm_params,
    .save = hm_save,
    .out_dim = hm_out_dim,
    .free = hm_free,
};

sbert_status sbert_classifier_head_new(const sbert_head_config *cfg, sbert_module **out) {
    *out = NULL;
    head_module *m = calloc(1, sizeof *m);
    if (!m) return nomem("classifier head");
    sbert_status st = sbert_module_init(&m->base, &HEAD_OPS, "ClassifierHead", NULL);
    const size_t H = cfg->hidden, L = cfg->num_labels;
    m->cfg = *cfg;
    if (st == SBERT_OK && !(m->params = calloc(H * H + H + L * H + L, sizeof *m->params)))
        st = nomem("classifier head parameters");
    if (st != SBERT_OK) {
        hm_free(&m->base);
        return st;
    }
    m->w1 = m->params;
    m->b1 = m->w1 + H * H;
    m->w2 = m->b1 + H;
    m->b2 = m->w2 + L * H;
    *out = &m->base;
    return SBERT_OK;
}

const sbert_head_config *sbert_classifier_head_config(const sbert_module *m) {
    return m && m->ops == &HEAD_OPS ? &((const head_module *)m)->cfg : NULL;
}

float *sbert_classifier_head_tensor(sbert_module *mod, int i, size_t *numel, int64_t shape[2], int *ndim) {
    head_module *m = as_head(mod);
    const size_t H = m->cfg.hidden, L = m->cfg.num_labels;
    const size_t rows[4] = {H, H, L, L};
    *ndim = (i % 2 == 0) ? 2 : 1;
    shape[0] = (int64_t)rows[i];
    shape[1] = *ndim == 2 ? (int64_t)H : 0;
    *numel = rows[i] * (*ndim == 2 ? H : 1);
    float *const data[4] = {m->w1, m->b1, m->w2, m->b2};
    return data[i];
}

sbert_status sbert_classifier_head_fill(sbert_module *mod, const sbert_safetensors *st, int require_all, uint64_t seed,
                                        size_t *n_fresh) {
    head_module *m = as_head(mod);
    sbert_rng rng;
    sbert_rng_seed(&rng, seed);
    size_t fresh = 0;
    for (int i = 0; i < 4; i++) {
        size_t numel;
        int64_t shape[2];
        int ndim;
        float *dst = sbert_classifier_head_tensor(mod, i, &numel, shape, &ndim);
        const char *name = m->cfg.names[i];
        if (st && !sbert_st_find(st, name) && m->cfg.style == SBERT_HEAD_POOLER &&
            sbert_st_find(st, name + strlen("bert.")))
            name += strlen("bert."); /* a plain BertModel checkpoint: "pooler.dense.weight" */
        if (st && sbert_st_find(st, name)) {
            SBERT_TRY(sbert_st_read_f32(st, name, shape, ndim, dst));
            continue;
        }
        if (require_all)
            return sbert_fail(SBERT_ERR_FORMAT, "%s: tensor '%s' of the %s head is missing",
                              st ? sbert_st_path(st) : "(no weights file)", m->cfg.names[i], m->cfg.architecture);
        /* transformers' _init_weights for nn.Linear: weight ~ N(0, initializer_range^2), bias = 0. */
        for (size_t k = 0; k < numel; k++)
            dst[k] = ndim == 2 ? (float)(sbert_rng_normal(&rng) * m->cfg.initializer_range) : 0.0f;
        fresh++;
    }
    if (n_fresh) *n_fresh = fresh;
    return SBERT_OK;
}

void sbert_classifier_head_apply(const sbert_module *mod, const float *x, size_t n, float *logits) {
    const head_module *m = (const head_module *)mod;
    const size_t H = m->cfg.hidden, L = m->cfg.num_labels;
    float *h = malloc((n > 0 ? n * H : 1) * sizeof *h);
    if (!h) return;
    sbert_linear_forward(h, x, m->w1, m->b1, n, H, H);
    for (size_t k = 0; k < n * H; k++) h[k] = act_f(m->cfg.style, h[k]);
    sbert_linear_forward(logits, h, m->w2, m->b2, n, H, L);
    free(h);
}
