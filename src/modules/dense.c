/*
 * modules/dense.c -- the sentence-transformers Dense module: config and
 * safetensors loading, the forward pass y = act(x W^T + b) (+ residual)
 * with the matmul done by BLAS, its backward, saving, and the module
 * wrapper.
 */
#include "modules/dense.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <cjson/cJSON.h>

#include "base/error.h"
#include "io/file.h"
#include "io/dirs.h"
#include "io/safetensors.h"

struct sbert_dense {
    sbert_module base; /* first: an sbert_dense is a module */
    size_t in, out;
    int has_bias;
    int use_residual;
    sbert_activation act;
    float *w;        /* [out, in] */
    float *b;        /* [out] or NULL */
    float *residual; /* [out, in] when use_residual && in != out, else NULL */
};

static const struct {
    const char *cls;
    sbert_activation act;
} k_acts[] = {
    {"Identity", SBERT_DENSE_ACT_IDENTITY}, {"Tanh", SBERT_DENSE_ACT_TANH},       {"ReLU", SBERT_DENSE_ACT_RELU},
    {"Sigmoid", SBERT_DENSE_ACT_SIGMOID},   {"GELU", SBERT_DENSE_ACT_GELU},       {"SiLU", SBERT_DENSE_ACT_SILU},
    {"LeakyReLU", SBERT_DENSE_ACT_LEAKY_RELU}, {"ELU", SBERT_DENSE_ACT_ELU},
};

sbert_status sbert_activation_parse(const char *path, sbert_activation *out) {
    /* Accepted prefixes: torch.nn.modules.activation., torch.nn.modules.linear., torch.nn. */
    static const char *const prefixes[] = {"torch.nn.modules.activation.",
                                           "torch.nn.modules.linear.", "torch.nn."};
    for (size_t p = 0; p < sizeof prefixes / sizeof prefixes[0]; p++) {
        size_t n = strlen(prefixes[p]);
        if (strncmp(path, prefixes[p], n) != 0) continue;
        const char *cls = path + n;
        for (size_t i = 0; i < sizeof k_acts / sizeof k_acts[0]; i++) {
            if (strcmp(cls, k_acts[i].cls) != 0) continue;
            /* Identity lives in torch.nn.modules.linear, the rest in .activation. */
            if (p < 2 && (p == 1) != (k_acts[i].act == SBERT_DENSE_ACT_IDENTITY)) break;
            *out = k_acts[i].act;
            return SBERT_OK;
        }
    }
    return sbert_fail(SBERT_ERR_UNSUPPORTED,
                      "unsupported activation_function \"%s\" (supported: "
                      "torch.nn.modules.activation.{Tanh,ReLU,Sigmoid,GELU,SiLU,LeakyReLU,ELU}, "
                      "torch.nn.modules.linear.Identity)",
                      path);
}

const char *sbert_activation_name(sbert_activation a) {
    for (size_t i = 0; i < sizeof k_acts / sizeof k_acts[0]; i++)
        if (k_acts[i].act == a) return k_acts[i].cls;
    return "?";
}

void sbert_dense_free(sbert_dense *d) {
    if (!d) return;
    sbert_module_fini(&d->base);
    free(d->w);
    free(d->b);
    free(d->residual);
    free(d);
}

size_t sbert_dense_in_features(const sbert_dense *d) { return d->in; }
size_t sbert_dense_out_features(const sbert_dense *d) { return d->out; }
sbert_activation sbert_dense_activation(const sbert_dense *d) { return d->act; }

static sbert_status get_size(const cJSON *cfg, const char *key, const char *path, size_t *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (!v) return sbert_fail(SBERT_ERR_FORMAT, "%s: missing \"%s\"", path, key);
    if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 1e7 ||
        v->valuedouble != floor(v->valuedouble))
        return sbert_fail(SBERT_ERR_FORMAT, "%s: \"%s\" must be a positive integer", path, key);
    *out = (size_t)v->valuedouble;
    return SBERT_OK;
}

static sbert_status get_bool(const cJSON *cfg, const char *key, const char *path, int dflt,
                             int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    *out = dflt;
    if (!v || cJSON_IsNull(v)) return SBERT_OK;
    if (!cJSON_IsBool(v))
        return sbert_fail(SBERT_ERR_FORMAT, "%s: \"%s\" must be true or false", path, key);
    *out = cJSON_IsTrue(v);
    return SBERT_OK;
}

static sbert_status parse_config(sbert_dense *d, const cJSON *cfg, const char *path) {
    if (!cJSON_IsObject(cfg)) return sbert_fail(SBERT_ERR_FORMAT, "%s: not a JSON object", path);
    SBERT_TRY(get_size(cfg, "in_features", path, &d->in));
    SBERT_TRY(get_size(cfg, "out_features", path, &d->out));
    SBERT_TRY(get_bool(cfg, "bias", path, 1, &d->has_bias));
    SBERT_TRY(get_bool(cfg, "use_residual", path, 0, &d->use_residual));
    d->act = SBERT_DENSE_ACT_TANH; /* Python's default */
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(cfg, "activation_function");
    if (act && !cJSON_IsNull(act)) {
        if (!cJSON_IsString(act))
            return sbert_fail(SBERT_ERR_FORMAT, "%s: \"activation_function\" must be a string", path);
        sbert_status st = sbert_activation_parse(act->valuestring, &d->act);
        if (st != SBERT_OK) {
            sbert_error_prefix("%s: ", path);
            return st;
        }
    }
    static const char *const io_keys[] = {"module_input_name", "module_output_name"};
    for (int i = 0; i < 2; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, io_keys[i]);
        if (v && !cJSON_IsNull(v) &&
            !(cJSON_IsString(v) && strcmp(v->valuestring, "sentence_embedding") == 0))
            return sbert_fail(SBERT_ERR_UNSUPPORTED,
                              "%s: \"%s\" other than \"sentence_embedding\" is not supported", path,
                              io_keys[i]);
    }
    return SBERT_OK;
}

static sbert_status load_weights(sbert_dense *d, const char *dir) {
    char path[4096];
    SBERT_TRY(sbert_path_join(path, sizeof path, dir, "model.safetensors"));
    if (!sbert_file_exists(path)) {
        char bin[4096];
        SBERT_TRY(sbert_path_join(bin, sizeof bin, dir, "pytorch_model.bin"));
        if (sbert_file_exists(bin))
            return sbert_fail(SBERT_ERR_UNSUPPORTED,
                              "%s: PyTorch pickle weights are not supported; convert them to "
                              "model.safetensors (in Python: load the model with "
                              "sentence-transformers and save it again)",
                              bin);
        return sbert_fail(SBERT_ERR_IO, "%s: missing (the Dense weights)", path);
    }
    sbert_safetensors *st = NULL;
    SBERT_TRY(sbert_st_open(path, &st));
    sbert_status rc = SBERT_OK;
    int64_t wshape[2] = {(int64_t)d->out, (int64_t)d->in};
    int64_t bshape[1] = {(int64_t)d->out};
    d->w = malloc(d->out * d->in * sizeof *d->w);
    if (d->has_bias) d->b = malloc(d->out * sizeof *d->b);
    int need_res = d->use_residual && d->in != d->out;
    if (need_res) d->residual = malloc(d->out * d->in * sizeof *d->residual);
    if (!d->w || (d->has_bias && !d->b) || (need_res && !d->residual)) {
        rc = sbert_fail(SBERT_ERR_NOMEM, "%s: cannot allocate the Dense weights (%zu x %zu)", path,
                        d->out, d->in);
        goto done;
    }
    rc = sbert_st_read_f32(st, "linear.weight", wshape, 2, d->w);
    if (rc != SBERT_OK) goto done;
    if (d->has_bias) {
        rc = sbert_st_read_f32(st, "linear.bias", bshape, 1, d->b);
        if (rc != SBERT_OK) goto done;
    }
    if (need_res) {
        rc = sbert_st_read_f32(st, "residual.weight", wshape, 2, d->residual);
        if (rc != SBERT_OK) goto done;
    }
done:
    if (rc != SBERT_OK) {
        char cfg[4096];
        if (sbert_path_join(cfg, sizeof cfg, dir, "config.json") == SBERT_OK)
            sbert_error_prefix("Dense (config %s: in_features=%zu, out_features=%zu): ", cfg, d->in,
                               d->out);
    }
    sbert_st_close(st);
    return rc;
}

sbert_status sbert_dense_load(const char *dir, sbert_dense **out) {
    *out = NULL;
    char path[4096];
    SBERT_TRY(sbert_path_join(path, sizeof path, dir, "config.json"));
    cJSON *cfg = NULL;
    SBERT_TRY(sbert_json_load(path, &cfg));
    sbert_dense *d = calloc(1, sizeof *d);
    if (!d) {
        cJSON_Delete(cfg);
        return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", path);
    }
    sbert_status st = parse_config(d, cfg, path);
    cJSON_Delete(cfg);
    if (st == SBERT_OK) st = load_weights(d, dir);
    if (st != SBERT_OK) {
        sbert_dense_free(d);
        return st;
    }
    *out = d;
    return SBERT_OK;
}

static float activate(sbert_activation a, float x) {
    switch (a) {
    case SBERT_DENSE_ACT_IDENTITY: return x;
    case SBERT_DENSE_ACT_TANH: return tanhf(x);
    case SBERT_DENSE_ACT_RELU: return x > 0.0f ? x : 0.0f;
    case SBERT_DENSE_ACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case SBERT_DENSE_ACT_GELU: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752440f));
    case SBERT_DENSE_ACT_SILU: return x / (1.0f + expf(-x));
    case SBERT_DENSE_ACT_LEAKY_RELU: return x >= 0.0f ? x : 0.01f * x;
    case SBERT_DENSE_ACT_ELU: return x > 0.0f ? x : expm1f(x);
    }
    return x;
}

void sbert_dense_forward(const sbert_dense *d, const float *x, size_t n, float *y) {
    if (n == 0) return;
    const size_t in = d->in, out = d->out;
    if (d->has_bias) {
        for (size_t i = 0; i < n; i++) memcpy(y + i * out, d->b, out * sizeof *y);
    }
    /* y[n, out] (+)= x[n, in] . W[out, in]^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)out, (int)in, 1.0f, x,
                (int)in, d->w, (int)in, d->has_bias ? 1.0f : 0.0f, y, (int)out);
    for (size_t i = 0; i < n * out; i++) y[i] = activate(d->act, y[i]);
    if (d->use_residual) {
        if (d->residual) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)out, (int)in, 1.0f,
                        x, (int)in, d->residual, (int)in, 1.0f, y, (int)out);
        } else {
            for (size_t i = 0; i < n * out; i++) y[i] += x[i];
        }
    }
}

float *sbert_dense_weight(sbert_dense *d) { return d->w; }
float *sbert_dense_bias(sbert_dense *d) { return d->b; }
float *sbert_dense_residual(sbert_dense *d) { return d->residual; }
int sbert_dense_use_residual(const sbert_dense *d) { return d->use_residual; }

/* ------------------------------------------------------------ backward */

float sbert_activation_grad(sbert_activation a, float x) {
    switch (a) {
    case SBERT_DENSE_ACT_IDENTITY: return 1.0f;
    case SBERT_DENSE_ACT_TANH: {
        float t = tanhf(x);
        return 1.0f - t * t;
    }
    case SBERT_DENSE_ACT_RELU: return x > 0.0f ? 1.0f : 0.0f;
    case SBERT_DENSE_ACT_SIGMOID: {
        float s = 1.0f / (1.0f + expf(-x));
        return s * (1.0f - s);
    }
    case SBERT_DENSE_ACT_GELU:
        return 0.5f * (1.0f + erff(x * 0.70710678118654752440f)) +
               x * 0.39894228040143267794f * expf(-0.5f * x * x);
    case SBERT_DENSE_ACT_SILU: {
        float s = 1.0f / (1.0f + expf(-x));
        return s * (1.0f + x * (1.0f - s));
    }
    case SBERT_DENSE_ACT_LEAKY_RELU: return x > 0.0f ? 1.0f : 0.01f;
    case SBERT_DENSE_ACT_ELU: return x > 0.0f ? 1.0f : expf(x);
    }
    return 1.0f;
}

sbert_status sbert_dense_backward(float *dx, float *dW, float *db, float *dR, const float *dy,
                                  const float *x, const float *W, const float *b, const float *R,
                                  int use_residual, sbert_activation act, size_t n, size_t in,
                                  size_t out) {
    if (n == 0 || out == 0) return SBERT_OK;
    if (use_residual && !R && in != out)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "dense backward: an identity residual needs in_features == out_features "
                          "(%zu != %zu)",
                          in, out);
    float *dpre = malloc(n * out * sizeof(float));
    if (!dpre) return sbert_fail(SBERT_ERR_NOMEM, "dense backward: out of memory");
    /* pre[n, out] = x . W^T + b, recomputed exactly as the forward does */
    if (b)
        for (size_t i = 0; i < n; i++) memcpy(dpre + i * out, b, out * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)out, (int)in, 1.0f, x,
                (int)in, W, (int)in, b ? 1.0f : 0.0f, dpre, (int)out);
    for (size_t i = 0; i < n * out; i++) dpre[i] = dy[i] * sbert_activation_grad(act, dpre[i]);
    if (dx)
        /* dx[n, in] += dpre[n, out] . W[out, in] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)in, (int)out, 1.0f,
                    dpre, (int)out, W, (int)in, 1.0f, dx, (int)in);
    if (dW)
        /* dW[out, in] += dpre^T . x */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)out, (int)in, (int)n, 1.0f, dpre,
                    (int)out, x, (int)in, 1.0f, dW, (int)in);
    if (db) {
        for (size_t j = 0; j < out; j++) {
            double s = 0.0;
            for (size_t i = 0; i < n; i++) s += dpre[i * out + j];
            db[j] += (float)s;
        }
    }
    free(dpre);
    if (use_residual) {
        if (R) {
            if (dx)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)in, (int)out,
                            1.0f, dy, (int)out, R, (int)in, 1.0f, dx, (int)in);
            if (dR)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)out, (int)in, (int)n,
                            1.0f, dy, (int)out, x, (int)in, 1.0f, dR, (int)in);
        } else if (dx) {
            for (size_t i = 0; i < n * in; i++) dx[i] += dy[i];
        }
    }
    return SBERT_OK;
}

/* ------------------------------------------------------------ module */

/* What backward needs: nothing beyond the features (x is the input). */

static sbert_status dm_forward(sbert_module *mod, sbert_features *f, sbert_run *run, void **rec) {
    sbert_dense *d = (sbert_dense *)mod;
    (void)rec;
    if (!f->emb || f->dim != d->in)
        return sbert_fail(SBERT_ERR_INTERNAL, "Dense: expects sentence embeddings of width %zu, got %zu", d->in,
                          f->dim);
    float *y = sbert_run_alloc(run, f->n_seq * d->out, 0);
    if (!y) return SBERT_ERR_NOMEM;
    sbert_dense_forward(d, f->emb, f->n_seq, y);
    f->emb = y;
    f->dim = d->out;
    return SBERT_OK;
}

static sbert_status dm_backward(sbert_module *mod, const sbert_features *in, const sbert_features *out,
                                const sbert_feature_grads *dout, sbert_feature_grads *din, sbert_run *run,
                                void *rec) {
    sbert_dense *d = (sbert_dense *)mod;
    (void)out;
    (void)rec;
    din->emb = sbert_run_alloc(run, in->n_seq * d->in, 1);
    if (!din->emb) return SBERT_ERR_NOMEM;
    sbert_param *pw = sbert_params_at(mod->pt, mod->pfirst);
    sbert_param *pb = d->b ? sbert_params_at(mod->pt, mod->pfirst + 1) : NULL;
    sbert_param *pr = d->residual ? sbert_params_at(mod->pt, mod->pfirst + 1 + (d->b != NULL)) : NULL;
    return sbert_dense_backward(din->emb, pw->grad, pb ? pb->grad : NULL, pr ? pr->grad : NULL, dout->emb, in->emb,
                                d->w, d->b, d->residual, d->use_residual, d->act, in->n_seq, d->in, d->out);
}

static sbert_status dm_params(sbert_module *mod, sbert_param_table *t) {
    sbert_dense *d = (sbert_dense *)mod;
    SBERT_TRY(sbert_param_add(t, "linear.weight", d->w, d->out, d->in, 1, -1));
    if (d->b) SBERT_TRY(sbert_param_add(t, "linear.bias", d->b, d->out, 0, 1, -1));
    if (d->residual) SBERT_TRY(sbert_param_add(t, "residual.weight", d->residual, d->out, d->in, 1, -1));
    return SBERT_OK;
}

static sbert_status dm_save(const sbert_module *mod, const char *dir) {
    const sbert_dense *d = (const sbert_dense *)mod;
    if (mod->config) {
        SBERT_TRY(sbert_module_save_config(mod, dir));
    } else {
        char text[1024];
        snprintf(text, sizeof text,
                 "{\n  \"in_features\": %zu,\n  \"out_features\": %zu,\n  \"bias\": %s,\n"
                 "  \"activation_function\": \"torch.nn.modules.%s.%s\"%s\n}\n",
                 d->in, d->out, d->b ? "true" : "false", d->act == SBERT_DENSE_ACT_IDENTITY ? "linear" : "activation",
                 sbert_activation_name(d->act), d->use_residual ? ",\n  \"use_residual\": true" : "");
        SBERT_TRY(sbert_write_text_file(dir, "config.json", text));
    }
    sbert_st_entry e[3];
    size_t n = 0;
    memset(e, 0, sizeof e);
    e[n].name = "linear.weight";
    e[n].data = d->w;
    e[n].ndim = 2;
    e[n].shape[0] = (int64_t)d->out;
    e[n++].shape[1] = (int64_t)d->in;
    if (d->b) {
        e[n].name = "linear.bias";
        e[n].data = d->b;
        e[n].ndim = 1;
        e[n++].shape[0] = (int64_t)d->out;
    }
    if (d->residual) {
        e[n].name = "residual.weight";
        e[n].data = d->residual;
        e[n].ndim = 2;
        e[n].shape[0] = (int64_t)d->out;
        e[n++].shape[1] = (int64_t)d->in;
    }
    char path[4096];
    SBERT_TRY(sbert_path_join(path, sizeof path, dir, "model.safetensors"));
    return sbert_st_write(path, e, n, NULL, 0);
}

static size_t dm_out_dim(const sbert_module *mod) { return ((const sbert_dense *)mod)->out; }

static void dm_free(sbert_module *mod) { sbert_dense_free((sbert_dense *)mod); }

static const sbert_module_ops DENSE_OPS = {
    .class_name = "Dense",
    .forward = dm_forward,
    .backward = dm_backward,
    .params = dm_params,
    .save = dm_save,
    .out_dim = dm_out_dim,
    .free = dm_free,
};

sbert_status sbert_dense_module_load(const sbert_module_load_ctx *ctx, sbert_module **out) {
    *out = NULL;
    sbert_dense *d = NULL;
    SBERT_TRY(sbert_dense_load(ctx->dir, &d));
    char *config = NULL;
    sbert_status st = SBERT_OK;
    if (d->in != ctx->in_dim)
        st = sbert_fail(SBERT_ERR_FORMAT,
                        "%s/config.json: in_features %zu disagrees with the dimension of the previous module's output "
                        "(%zu)",
                        ctx->dir, d->in, ctx->in_dim);
    if (st == SBERT_OK) st = sbert_module_read_config(ctx->dir, &config);
    if (st == SBERT_OK) st = sbert_module_init(&d->base, &DENSE_OPS, ctx->type, config);
    free(config);
    if (st != SBERT_OK) {
        sbert_dense_free(d);
        return st;
    }
    *out = &d->base;
    return SBERT_OK;
}
