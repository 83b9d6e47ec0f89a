/*
 * modules/normalize.c -- the sentence-transformers Normalize module (L2 row
 * normalization, its backward, the check of its optional v6 config.json)
 * and the module wrapper.
 */
#include "modules/normalize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/error.h"
#include "io/file.h"

sbert_status sbert_normalize_load(const char *dir) {
    char path[4096];
    SBERT_TRY(sbert_path_join(path, sizeof path, dir, "config.json"));
    if (!sbert_file_exists(path)) return SBERT_OK;
    cJSON *cfg = NULL;
    SBERT_TRY(sbert_json_load(path, &cfg));
    sbert_status st = SBERT_OK;
    if (!cJSON_IsObject(cfg)) {
        st = sbert_fail(SBERT_ERR_FORMAT, "%s: not a JSON object", path);
    } else {
        static const char *const keys[] = {"module_input_name", "module_output_name"};
        for (int i = 0; i < 2 && st == SBERT_OK; i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, keys[i]);
            if (v && !cJSON_IsNull(v) &&
                !(cJSON_IsString(v) && strcmp(v->valuestring, "sentence_embedding") == 0))
                st = sbert_fail(SBERT_ERR_UNSUPPORTED,
                                "%s: \"%s\" other than \"sentence_embedding\" is not supported",
                                path, keys[i]);
        }
    }
    cJSON_Delete(cfg);
    return st;
}

void sbert_normalize_rows(float *x, size_t n, size_t dim) {
    for (size_t i = 0; i < n; i++) {
        float *r = x + i * dim;
        double ss = 0.0;
        for (size_t d = 0; d < dim; d++) ss += (double)r[d] * r[d];
        float norm = (float)sqrt(ss);
        if (norm < 1e-12f) norm = 1e-12f;
        for (size_t d = 0; d < dim; d++) r[d] /= norm;
    }
}

void sbert_normalize_backward(float *dx, const float *dy, const float *x, size_t n, size_t dim) {
    for (size_t i = 0; i < n; i++) {
        const float *xr = x + i * dim, *g = dy + i * dim;
        float *o = dx + i * dim;
        double ss = 0.0;
        for (size_t d = 0; d < dim; d++) ss += (double)xr[d] * xr[d];
        /* same rounding as the forward: the norm is a float */
        float norm = (float)sqrt(ss);
        if (norm < 1e-12f) {
            for (size_t d = 0; d < dim; d++) o[d] += g[d] / 1e-12f;
            continue;
        }
        /* y . dy with y = x / norm */
        double yg = 0.0;
        for (size_t d = 0; d < dim; d++) yg += (double)(xr[d] / norm) * g[d];
        const float fyg = (float)yg;
        for (size_t d = 0; d < dim; d++) o[d] += (g[d] - (xr[d] / norm) * fyg) / norm;
    }
}

/* ------------------------------------------------------------ module */

typedef struct {
    sbert_module base;
    size_t dim;
} normalize_module;

static sbert_status nm_forward(sbert_module *mod, sbert_features *f, sbert_run *run, void **rec) {
    (void)mod;
    (void)rec;
    float *y = sbert_run_alloc(run, f->n_seq * f->dim, 0);
    if (!y) return SBERT_ERR_NOMEM;
    memcpy(y, f->emb, f->n_seq * f->dim * sizeof *y);
    sbert_normalize_rows(y, f->n_seq, f->dim);
    f->emb = y;
    return SBERT_OK;
}

static sbert_status nm_backward(sbert_module *mod, const sbert_features *in, const sbert_features *out,
                                const sbert_feature_grads *dout, sbert_feature_grads *din, sbert_run *run,
                                void *rec) {
    (void)mod;
    (void)out;
    (void)rec;
    din->emb = sbert_run_alloc(run, in->n_seq * in->dim, 1);
    if (!din->emb) return SBERT_ERR_NOMEM;
    sbert_normalize_backward(din->emb, dout->emb, in->emb, in->n_seq, in->dim);
    return SBERT_OK;
}

static sbert_status nm_save(const sbert_module *mod, const char *dir) { return sbert_module_save_config(mod, dir); }

static size_t nm_out_dim(const sbert_module *mod) { return ((const normalize_module *)mod)->dim; }

static void nm_free(sbert_module *mod) {
    if (!mod) return;
    sbert_module_fini(mod);
    free(mod);
}

static const sbert_module_ops NORMALIZE_OPS = {
    .class_name = "Normalize",
    .forward = nm_forward,
    .backward = nm_backward,
    .save = nm_save,
    .out_dim = nm_out_dim,
    .free = nm_free,
};

static sbert_status nm_make(size_t dim, const char *type, const char *config, sbert_module **out) {
    normalize_module *m = calloc(1, sizeof *m);
    if (!m) return sbert_fail(SBERT_ERR_NOMEM, "out of memory (Normalize)");
    m->dim = dim;
    sbert_status st = sbert_module_init(&m->base, &NORMALIZE_OPS, type, config);
    if (st != SBERT_OK) {
        nm_free(&m->base);
        return st;
    }
    *out = &m->base;
    return SBERT_OK;
}

sbert_status sbert_normalize_module_new(size_t dim, sbert_module **out) {
    return nm_make(dim, "sentence_transformers.models.Normalize", NULL, out);
}

sbert_status sbert_normalize_module_load(const sbert_module_load_ctx *ctx, sbert_module **out) {
    *out = NULL;
    SBERT_TRY(sbert_normalize_load(ctx->dir));
    char *config = NULL;
    if (sbert_dir_exists(ctx->dir)) SBERT_TRY(sbert_module_read_config(ctx->dir, &config));
    sbert_status st = nm_make(ctx->in_dim, ctx->type, config, out);
    free(config);
    return st;
}
