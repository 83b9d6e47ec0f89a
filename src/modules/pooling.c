/*
 * modules/pooling.c -- the sentence-transformers Pooling module: config
 * parsing, the forward pass over packed sequences and its backward, and the
 * module wrapper (load, save, forward/backward over features).
 *
 * Semantics follow sentence-transformers v6 `Pooling._forward_padded` with
 * right padding (see pooling.h for the edge cases). Sums are accumulated in
 * double and rounded once to float, which stays within a few ulp of torch's
 * float32 reductions.
 */
#include "modules/pooling.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "io/dirs.h"
#include "io/file.h"

static const char *const k_mode_names[SBERT_POOL_NMODES] = {
    "cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"};

/* Legacy bool keys, in Python's concatenation order (same order as the enum). */
static const char *const k_legacy_keys[SBERT_POOL_NMODES] = {
    "pooling_mode_cls_token",         "pooling_mode_max_tokens",
    "pooling_mode_mean_tokens",       "pooling_mode_mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"};

const char *sbert_pooling_mode_name(sbert_pooling_mode m) {
    return (unsigned)m < SBERT_POOL_NMODES ? k_mode_names[m] : "?";
}

static int mode_from_name(const char *s, sbert_pooling_mode *m) {
    for (int i = 0; i < SBERT_POOL_NMODES; i++) {
        if (strcmp(s, k_mode_names[i]) == 0) {
            *m = (sbert_pooling_mode)i;
            return 1;
        }
    }
    return 0;
}

/* Python truthiness of a JSON value (bools, numbers; null/absent = false). */
static int json_truthy(const cJSON *v) {
    if (!v) return 0;
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
    if (cJSON_IsNumber(v)) return v->valuedouble != 0.0;
    if (cJSON_IsString(v)) return v->valuestring[0] != '\0';
    return 0;
}

static sbert_status add_mode_name(const cJSON *item, const char *name, sbert_pooling *out) {
    if (!cJSON_IsString(item))
        return sbert_fail(SBERT_ERR_FORMAT, "%s: \"pooling_mode\" entries must be strings", name);
    if (out->n_modes >= SBERT_POOL_MAX_MODES)
        return sbert_fail(SBERT_ERR_FORMAT, "%s: more than %d pooling modes", name,
                          SBERT_POOL_MAX_MODES);
    sbert_pooling_mode m;
    if (!mode_from_name(item->valuestring, &m))
        return sbert_fail(SBERT_ERR_FORMAT,
                          "%s: invalid pooling mode \"%s\" (valid: cls, max, mean, "
                          "mean_sqrt_len_tokens, weightedmean, lasttoken)",
                          name, item->valuestring);
    out->modes[out->n_modes++] = m;
    return SBERT_OK;
}

sbert_status sbert_pooling_from_json(const cJSON *cfg, const char *name, sbert_pooling *out) {
    memset(out, 0, sizeof *out);
    out->include_prompt = 1;
    if (!cJSON_IsObject(cfg)) return sbert_fail(SBERT_ERR_FORMAT, "%s: not a JSON object", name);

    const cJSON *dim = cJSON_GetObjectItemCaseSensitive(cfg, "embedding_dimension");
    if (!dim) dim = cJSON_GetObjectItemCaseSensitive(cfg, "word_embedding_dimension");
    if (!dim)
        return sbert_fail(SBERT_ERR_FORMAT,
                          "%s: missing \"word_embedding_dimension\" (or \"embedding_dimension\")", name);
    if (!cJSON_IsNumber(dim) || dim->valuedouble < 1 || dim->valuedouble > 1e7 ||
        dim->valuedouble != floor(dim->valuedouble))
        return sbert_fail(SBERT_ERR_FORMAT, "%s: \"%s\" must be a positive integer", name, dim->string);
    out->dim = (size_t)dim->valuedouble;

    const cJSON *mode = cJSON_GetObjectItemCaseSensitive(cfg, "pooling_mode");
    if (mode && !cJSON_IsNull(mode)) {
        if (cJSON_IsString(mode)) {
            SBERT_TRY(add_mode_name(mode, name, out));
        } else if (cJSON_IsArray(mode)) {
            const cJSON *it;
            cJSON_ArrayForEach(it, mode) SBERT_TRY(add_mode_name(it, name, out));
            if (out->n_modes == 0)
                return sbert_fail(SBERT_ERR_FORMAT, "%s: \"pooling_mode\" is an empty list", name);
        } else {
            return sbert_fail(SBERT_ERR_FORMAT, "%s: \"pooling_mode\" must be a string or a list",
                              name);
        }
    } else {
        for (int i = 0; i < SBERT_POOL_NMODES; i++)
            if (json_truthy(cJSON_GetObjectItemCaseSensitive(cfg, k_legacy_keys[i])))
                out->modes[out->n_modes++] = (sbert_pooling_mode)i;
        if (out->n_modes == 0) out->modes[out->n_modes++] = SBERT_POOL_MEAN;
    }

    const cJSON *inc = cJSON_GetObjectItemCaseSensitive(cfg, "include_prompt");
    if (inc && !cJSON_IsNull(inc)) {
        if (!cJSON_IsBool(inc))
            return sbert_fail(SBERT_ERR_FORMAT, "%s: \"include_prompt\" must be true or false", name);
        out->include_prompt = cJSON_IsTrue(inc);
    }
    return SBERT_OK;
}

sbert_status sbert_pooling_load(const char *dir, sbert_pooling *out) {
    char path[4096];
    SBERT_TRY(sbert_path_join(path, sizeof path, dir, "config.json"));
    cJSON *cfg = NULL;
    SBERT_TRY(sbert_json_load(path, &cfg));
    sbert_status st = sbert_pooling_from_json(cfg, path, out);
    cJSON_Delete(cfg);
    return st;
}

size_t sbert_pooling_output_dim(const sbert_pooling *p) { return p->n_modes * p->dim; }

/* One sequence. tok: [len, dim] (the sequence's own rows); tokens [lo, len)
 * take part in pooling (lo = prompt tokens masked out). out: [n_modes * dim]. */
static void pool_one(const sbert_pooling *p, const float *tok, size_t len, size_t lo, float *out) {
    const size_t dim = p->dim;
    size_t n_valid = lo < len ? len - lo : 0;
    for (size_t mi = 0; mi < p->n_modes; mi++) {
        float *o = out + mi * dim;
        switch (p->modes[mi]) {
        case SBERT_POOL_CLS: {
            /* argmax of the mask: first unmasked position, 0 if none. */
            size_t idx = n_valid ? lo : 0;
            if (len == 0) {
                memset(o, 0, dim * sizeof *o);
            } else {
                memcpy(o, tok + idx * dim, dim * sizeof *o);
            }
            break;
        }
        case SBERT_POOL_MAX:
            for (size_t d = 0; d < dim; d++) o[d] = -INFINITY;
            for (size_t t = lo; t < len; t++) {
                const float *r = tok + t * dim;
                for (size_t d = 0; d < dim; d++)
                    if (r[d] > o[d]) o[d] = r[d];
            }
            break;
        case SBERT_POOL_MEAN:
        case SBERT_POOL_MEAN_SQRT_LEN: {
            double cnt = n_valid > 0 ? (double)n_valid : 1e-9;
            /* torch divides float32 sum by float32 clamp(count) (or its sqrt). */
            float den = p->modes[mi] == SBERT_POOL_MEAN ? (float)cnt : sqrtf((float)cnt);
            for (size_t d = 0; d < dim; d++) {
                double s = 0.0;
                for (size_t t = lo; t < len; t++) s += tok[t * dim + d];
                o[d] = (float)s / den;
            }
            break;
        }
        case SBERT_POOL_WEIGHTEDMEAN: {
            /* weights: position + 1 (positions of the unpadded sequence). */
            double wsum = 0.0;
            for (size_t t = lo; t < len; t++) wsum += (double)(t + 1);
            float den = wsum > 0 ? (float)wsum : 1e-9f;
            for (size_t d = 0; d < dim; d++) {
                double s = 0.0;
                for (size_t t = lo; t < len; t++) s += (double)(t + 1) * tok[t * dim + d];
                o[d] = (float)s / den;
            }
            break;
        }
        case SBERT_POOL_LASTTOKEN:
            if (n_valid) {
                memcpy(o, tok + (len - 1) * dim, dim * sizeof *o);
            } else {
                memset(o, 0, dim * sizeof *o);
            }
            break;
        default:
            memset(o, 0, dim * sizeof *o);
            break;
        }
    }
}

void sbert_pooling_forward(const sbert_pooling *p, const float *tok, const size_t *seq_offsets,
                           size_t n_seq, size_t prompt_length, float *out) {
    size_t lo = p->include_prompt ? 0 : prompt_length;
    size_t odim = sbert_pooling_output_dim(p);
    for (size_t i = 0; i < n_seq; i++) {
        size_t b = seq_offsets[i], e = seq_offsets[i + 1];
        pool_one(p, tok + b * p->dim, e - b, lo, out + i * odim);
    }
}

/* ------------------------------------------------------------ backward */

/* One sequence: dt [len, dim] (+=), tok [len, dim], g [n_modes * dim]. */
static void pool_one_backward(const sbert_pooling *p, float *dt, const float *g, const float *tok,
                              size_t len, size_t lo) {
    const size_t dim = p->dim;
    const size_t n_valid = lo < len ? len - lo : 0;
    for (size_t mi = 0; mi < p->n_modes; mi++) {
        const float *go = g + mi * dim;
        switch (p->modes[mi]) {
        case SBERT_POOL_CLS: {
            if (len == 0) break;
            size_t idx = n_valid ? lo : 0;
            float *r = dt + idx * dim;
            for (size_t d = 0; d < dim; d++) r[d] += go[d];
            break;
        }
        case SBERT_POOL_MAX:
            if (!n_valid) break;
            for (size_t d = 0; d < dim; d++) {
                /* first maximum, as torch.max(dim) returns */
                size_t best = lo;
                float bv = tok[lo * dim + d];
                for (size_t t = lo + 1; t < len; t++) {
                    float v = tok[t * dim + d];
                    if (v > bv) {
                        bv = v;
                        best = t;
                    }
                }
                dt[best * dim + d] += go[d];
            }
            break;
        case SBERT_POOL_MEAN:
        case SBERT_POOL_MEAN_SQRT_LEN: {
            if (!n_valid) break;
            /* the forward divides by float(count) or sqrtf(float(count)) */
            float den = p->modes[mi] == SBERT_POOL_MEAN ? (float)n_valid : sqrtf((float)n_valid);
            for (size_t t = lo; t < len; t++) {
                float *r = dt + t * dim;
                for (size_t d = 0; d < dim; d++) r[d] += go[d] / den;
            }
            break;
        }
        case SBERT_POOL_WEIGHTEDMEAN: {
            if (!n_valid) break;
            double wsum = 0.0;
            for (size_t t = lo; t < len; t++) wsum += (double)(t + 1);
            float den = (float)wsum;
            for (size_t t = lo; t < len; t++) {
                float w = (float)(t + 1);
                float *r = dt + t * dim;
                for (size_t d = 0; d < dim; d++) r[d] += go[d] * w / den;
            }
            break;
        }
        case SBERT_POOL_LASTTOKEN:
            if (n_valid) {
                float *r = dt + (len - 1) * dim;
                for (size_t d = 0; d < dim; d++) r[d] += go[d];
            }
            break;
        default: break;
        }
    }
}

void sbert_pooling_backward(const sbert_pooling *p, float *dtok, const float *dout,
                            const float *tok, const size_t *seq_offsets, size_t n_seq,
                            size_t prompt_length) {
    const size_t lo = p->include_prompt ? 0 : prompt_length;
    const size_t odim = sbert_pooling_output_dim(p);
    for (size_t i = 0; i < n_seq; i++) {
        size_t b = seq_offsets[i], e = seq_offsets[i + 1];
        pool_one_backward(p, dtok + b * p->dim, dout + i * odim, tok + b * p->dim, e - b, lo);
    }
}

/* ------------------------------------------------------------ module */

typedef struct {
    sbert_module base;
    sbert_pooling p;
} pooling_module;

static sbert_status pm_forward(sbert_module *mod, sbert_features *f, sbert_run *run, void **rec) {
    pooling_module *m = (pooling_module *)mod;
    (void)rec;
    if (!f->tok || f->tok_dim != m->p.dim)
        return sbert_fail(SBERT_ERR_INTERNAL, "Pooling: expects token embeddings of width %zu", m->p.dim);
    size_t od = sbert_pooling_output_dim(&m->p);
    float *emb = sbert_run_alloc(run, f->n_seq * od, 0);
    if (!emb) return SBERT_ERR_NOMEM;
    sbert_pooling_forward(&m->p, f->tok, f->offs, f->n_seq, f->prompt_len, emb);
    f->emb = emb;
    f->dim = od;
    return SBERT_OK;
}

static sbert_status pm_backward(sbert_module *mod, const sbert_features *in, const sbert_features *out,
                                const sbert_feature_grads *dout, sbert_feature_grads *din, sbert_run *run,
                                void *rec) {
    pooling_module *m = (pooling_module *)mod;
    (void)out;
    (void)rec;
    din->tok = sbert_run_alloc(run, in->T * in->tok_dim, 1);
    if (!din->tok) return SBERT_ERR_NOMEM;
    sbert_pooling_backward(&m->p, din->tok, dout->emb, in->tok, in->offs, in->n_seq, in->prompt_len);
    return SBERT_OK;
}

static sbert_status pm_save(const sbert_module *mod, const char *dir) {
    const pooling_module *m = (const pooling_module *)mod;
    if (mod->config) return sbert_module_save_config(mod, dir);
    /* The legacy layout, which every sentence-transformers version reads. */
    char text[1024];
    size_t n = (size_t)snprintf(text, sizeof text, "{\n  \"word_embedding_dimension\": %zu", m->p.dim);
    int on[SBERT_POOL_NMODES] = {0};
    for (size_t i = 0; i < m->p.n_modes; i++) on[m->p.modes[i]] = 1;
    for (int i = 0; i < SBERT_POOL_NMODES; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, ",\n  \"%s\": %s", k_legacy_keys[i], on[i] ? "true" : "false");
    snprintf(text + n, sizeof text - n, ",\n  \"include_prompt\": %s\n}\n", m->p.include_prompt ? "true" : "false");
    return sbert_write_text_file(dir, "config.json", text);
}

static size_t pm_out_dim(const sbert_module *mod) {
    return sbert_pooling_output_dim(&((const pooling_module *)mod)->p);
}

static void pm_free(sbert_module *mod) {
    if (!mod) return;
    sbert_module_fini(mod);
    free(mod);
}

static const sbert_module_ops POOLING_OPS = {
    .class_name = "Pooling",
    .forward = pm_forward,
    .backward = pm_backward,
    .save = pm_save,
    .out_dim = pm_out_dim,
    .free = pm_free,
};

static sbert_status pm_make(const sbert_pooling *p, const char *type, const char *config, sbert_module **out) {
    pooling_module *m = calloc(1, sizeof *m);
    if (!m) return sbert_fail(SBERT_ERR_NOMEM, "out of memory (Pooling)");
    m->p = *p;
    sbert_status st = sbert_module_init(&m->base, &POOLING_OPS, type, config);
    if (st != SBERT_OK) {
        pm_free(&m->base);
        return st;
    }
    *out = &m->base;
    return SBERT_OK;
}

sbert_status sbert_pooling_module_new(const sbert_pooling *p, sbert_module **out) {
    return pm_make(p, "sentence_transformers.models.Pooling", NULL, out);
}

sbert_status sbert_pooling_module_load(const sbert_module_load_ctx *ctx, sbert_module **out) {
    *out = NULL;
    char path[4096];
    SBERT_TRY(sbert_path_join(path, sizeof path, ctx->dir, "config.json"));
    char *text = NULL;
    size_t len = 0;
    SBERT_TRY(sbert_read_file(path, &text, &len));
    cJSON *cfg = NULL;
    sbert_pooling p;
    sbert_status st = sbert_json_parse(text, len, path, &cfg);
    if (st == SBERT_OK) st = sbert_pooling_from_json(cfg, path, &p);
    cJSON_Delete(cfg);
    if (st == SBERT_OK && p.dim != ctx->in_dim)
        st = sbert_fail(SBERT_ERR_FORMAT,
                        "%s: embedding dimension %zu disagrees with the previous module's output width %zu", path,
                        p.dim, ctx->in_dim);
    if (st == SBERT_OK) st = pm_make(&p, ctx->type, text, out);
    free(text);
    return st;
}

const sbert_pooling *sbert_pooling_module_config(const sbert_module *m) {
    return m && m->ops == &POOLING_OPS ? &((const pooling_module *)m)->p : NULL;
}
