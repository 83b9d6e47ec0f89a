/*
 * modules/lora.c -- LoRA adapters on the encoder's linear layers (see
 * lora.h): targets, initialisation, the forward/backward hooks the encoder
 * calls, PEFT's files, merging.
 */
#include "modules/lora.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <cjson/cJSON.h>

#include "base/error.h"
#include "io/atomic.h"
#include "io/file.h"
#include "io/safetensors.h"
#include "modules/transformer.h"

#define MAX_NAMES 64

typedef struct {
    size_t layer;
    sbert_lin_kind kind;
    sbert_linear_view v; /* name, in, out, off, ld, W, b */
    float *A, *B;        /* [r, in], [out, r] */
    float *gA, *gB;      /* gradient rows in the parameter table */
    /* training forward */
    float *u;            /* [T, r] = dropout(x) A^T */
    float *xd;           /* [T, in] dropout(x) (dropout > 0 only) */
    unsigned char *keep; /* [T, in] dropout keep mask */
    int dropped;         /* the last training forward used xd / keep */
    size_t T, cap_u, cap_xd, cap_keep;
} lora_slot;

struct sbert_lora {
    sbert_lora_config cfg;
    char *targets_str, *save_str; /* owned copies of the config lists */
    char *targets[MAX_NAMES], *saves[MAX_NAMES];
    size_t n_targets, n_saves;
    int all_linear;
    float scaling;
    struct sbert_transformer *t;
    lora_slot *slots;
    size_t n_slots;
    int *map; /* [n_layers * KINDS] slot index or -1 */
    size_t n_layers;
    /* modules_to_save tensors the encoder does not hold, as loaded from an adapter file */
    sbert_st_entry *extra;
    char (*extra_names)[256];
    size_t n_extra;
};

sbert_lora_config sbert_lora_config_default(void) {
    sbert_lora_config c;
    memset(&c, 0, sizeof c);
    c.r = 8;
    c.alpha = 8;
    c.dropout = 0;
    c.seed = 42;
    return c;
}

/* Split a comma list into trimmed, non-empty names (in place in `s`). */
static size_t split_list(char *s, char **out, size_t cap) {
    size_t n = 0;
    for (char *p = s; p && *p && n < cap;) {
        char *c = strchr(p, ',');
        if (c)
            *c = 0;
        while (*p == ' ')
            p++;
        size_t l = strlen(p);
        while (l && p[l - 1] == ' ')
            p[--l] = 0;
        if (l)
            out[n++] = p;
        p = c ? c + 1 : NULL;
    }
    return n;
}

/* PEFT: target matches when the name equals it or ends with "." + target. */
static int name_matches(const char *name, const char *target) {
    size_t a = strlen(name), b = strlen(target);
    if (a == b)
        return strcmp(name, target) == 0;
    return a > b && name[a - b - 1] == '.' && strcmp(name + a - b, target) == 0;
}

/* modules_to_save: the module name ends with the entry (PEFT's plain endswith). */
static int ends_with(const char *name, const char *suffix) {
    size_t a = strlen(name), b = strlen(suffix);
    return a >= b && strcmp(name + a - b, suffix) == 0;
}

/* The part of a module name after its layer index ("attention.self.query"). */
static const char *short_name(const char *name) {
    const char *p = strstr(name, ".layer.");
    if (!p)
        return name;
    p += 7;
    while (*p >= '0' && *p <= '9')
        p++;
    return *p == '.' ? p + 1 : p;
}

/* The module of a parameter name: everything before the last '.'. */
static void module_of(const char *param, char *out, size_t cap) {
    snprintf(out, cap, "%s", param);
    char *d = strrchr(out, '.');
    if (d)
        *d = 0;
}

void sbert_lora_free(sbert_lora *l) {
    if (!l)
        return;
    for (size_t i = 0; i < l->n_slots; i++) {
        free(l->slots[i].A);
        free(l->slots[i].B);
        free(l->slots[i].u);
        free(l->slots[i].xd);
        free(l->slots[i].keep);
    }
    free(l->slots);
    free(l->map);
    for (size_t i = 0; i < l->n_extra; i++)
        free((float *)l->extra[i].data);
    free(l->extra);
    free(l->extra_names);
    free(l->targets_str);
    free(l->save_str);
    free(l);
}

static sbert_status lora_new(struct sbert_transformer *t, const sbert_lora_config *cfg, sbert_lora **out) {
    *out = NULL;
    if (cfg->r == 0)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "LoRA: r must be at least 1");
    if (!(cfg->dropout >= 0 && cfg->dropout < 1))
        return sbert_fail(SBERT_ERR_INVALID_ARG, "LoRA: lora_dropout must be in [0, 1), got %g", cfg->dropout);
    if (!isfinite(cfg->alpha) || cfg->alpha <= 0)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "LoRA: lora_alpha must be a positive number, got %g", cfg->alpha);
    if (sbert_transformer_lora(t))
        return sbert_fail(SBERT_ERR_INVALID_ARG, "LoRA: the encoder already has an adapter");
    sbert_lora *l = calloc(1, sizeof *l);
    if (!l)
        return sbert_fail(SBERT_ERR_NOMEM, "LoRA: out of memory");
    l->cfg = *cfg;
    l->t = t;
    l->scaling = (float)(cfg->use_rslora ? cfg->alpha / sqrt((double)cfg->r) : cfg->alpha / (double)cfg->r);
    l->n_layers = sbert_transformer_num_layers(t);
    l->map = malloc((l->n_layers * SBERT_LIN_KINDS + 1) * sizeof *l->map);
    l->slots = calloc(l->n_layers * SBERT_LIN_KINDS + 1, sizeof *l->slots);
    if (!l->map || !l->slots) {
        sbert_lora_free(l);
        return sbert_fail(SBERT_ERR_NOMEM, "LoRA: out of memory");
    }
    for (size_t i = 0; i < l->n_layers * SBERT_LIN_KINDS; i++)
        l->map[i] = -1;
    const char *mt = sbert_transformer_model_type(t);
    const char *targets = cfg->target_modules;
    if (!targets || !*targets) {
        if (!strcmp(mt, "bert") || !strcmp(mt, "roberta") || !strcmp(mt, "xlm-roberta"))
            targets = "query,value"; /* PEFT's TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING */
        else {
            sbert_lora_free(l);
            return sbert_fail(SBERT_ERR_INVALID_ARG,
                              "LoRA: PEFT has no default target_modules for model_type '%s'; set target_modules "
                              "(e.g. the attention projections)",
                              mt);
        }
    }
    l->targets_str = strdup(targets);
    l->save_str = cfg->modules_to_save ? strdup(cfg->modules_to_save) : NULL;
    if (!l->targets_str || (cfg->modules_to_save && !l->save_str)) {
        sbert_lora_free(l);
        return sbert_fail(SBERT_ERR_NOMEM, "LoRA: out of memory");
    }
    l->n_targets = split_list(l->targets_str, l->targets, MAX_NAMES);
    l->n_saves = l->save_str ? split_list(l->save_str, l->saves, MAX_NAMES) : 0;
    l->all_linear = l->n_targets == 1 && strcmp(l->targets[0], "all-linear") == 0;
    l->cfg.target_modules = NULL;
    l->cfg.modules_to_save = NULL;
    *out = l;
    return SBERT_OK;
}

/* Create the slots of every targeted linear layer (A, B allocated, zero). */
static sbert_status make_slots(sbert_lora *l) {
    struct sbert_transformer *t = l->t;
    int *used = calloc(l->n_targets + 1, sizeof *used);
    if (!used)
        return sbert_fail(SBERT_ERR_NOMEM, "LoRA: out of memory");
    char all[2048] = "";
    sbert_status st = SBERT_OK;
    for (size_t layer = 0; layer < l->n_layers && st == SBERT_OK; layer++)
        for (int k = 0; k < SBERT_LIN_KINDS && st == SBERT_OK; k++) {
            sbert_linear_view v;
            if ((st = sbert_transformer_linear(t, layer, k, &v)) != SBERT_OK)
                break;
            if (layer == 0) {
                size_t len = strlen(all);
                snprintf(all + len, sizeof all - len, "%s%s", len ? ", " : "", short_name(v.name));
            }
            int hit = l->all_linear;
            for (size_t i = 0; i < l->n_targets && !l->all_linear; i++)
                if (name_matches(v.name, l->targets[i])) {
                    hit = 1;
                    used[i] = 1;
                }
            /* modules_to_save win over adapters (PEFT excludes them from the targets) */
            for (size_t i = 0; i < l->n_saves && hit; i++)
                if (ends_with(v.name, l->saves[i]))
                    hit = 0;
            if (!hit)
                continue;
            lora_slot *s = &l->slots[l->n_slots];
            s->layer = layer;
            s->kind = (sbert_lin_kind)k;
            s->v = v;
            s->A = calloc(l->cfg.r * v.in, sizeof *s->A);
            s->B = calloc(v.out * l->cfg.r, sizeof *s->B);
            if (!s->A || !s->B) {
                st = sbert_fail(SBERT_ERR_NOMEM, "LoRA: out of memory for the adapter of %s", v.name);
                break;
            }
            l->map[layer * SBERT_LIN_KINDS + (size_t)k] = (int)l->n_slots;
            l->n_slots++;
        }
    for (size_t i = 0; i < l->n_targets && st == SBERT_OK && !l->all_linear; i++)
        if (!used[i])
            st = sbert_fail(SBERT_ERR_INVALID_ARG,
                            "LoRA: target_modules entry '%s' matches no linear layer of the encoder (per layer: %s; "
                            "a name matches when it is the module's full name or its last parts)",
                            l->targets[i], all);
    free(used);
    if (st == SBERT_OK && l->n_slots == 0)
        st = sbert_fail(SBERT_ERR_INVALID_ARG, "LoRA: no linear layer to adapt (target_modules: %s)", l->targets_str);
    return st;
}

/* modules_to_save entries must name some module: of the encoder, or one of
 * the source file's other tensors (the pooler). */
static sbert_status check_saves(const sbert_lora *l, const char *const *extra, size_t n_extra) {
    for (size_t i = 0; i < l->n_saves; i++) {
        int found = 0;
        char mod[256];
        for (size_t p = 0; p < sbert_transformer_num_params(l->t); p++) {
            module_of(sbert_transformer_param_at(l->t, p)->name, mod, sizeof mod);
            if (ends_with(mod, l->saves[i]))
                return sbert_fail(SBERT_ERR_UNSUPPORTED,
                                  "LoRA: modules_to_save '%s' names a module inside the encoder (%s): training "
                                  "encoder modules in full next to adapters is not supported yet (modules outside "
                                  "it, such as the pooler, are)",
                                  l->saves[i], mod);
        }
        for (size_t p = 0; p < n_extra && !found; p++) {
            module_of(extra[p], mod, sizeof mod);
            /* the module or one of its parents ("pooler" for pooler.dense.weight) */
            for (char *d = mod; d && !found;) {
                found = ends_with(mod, l->saves[i]);
                d = strrchr(mod, '.');
                if (d)
                    *d = 0;
            }
        }
        if (!found)
            return sbert_fail(SBERT_ERR_INVALID_ARG, "LoRA: modules_to_save entry '%s' matches no module of the model",
                              l->saves[i]);
    }
    return SBERT_OK;
}

sbert_status sbert_lora_attach_ex(struct sbert_transformer *t, const sbert_lora_config *cfg, const char *const *extra,
                                  size_t n_extra, sbert_lora **out) {
    sbert_lora *l = NULL;
    SBERT_TRY(lora_new(t, cfg, &l));
    sbert_status st = make_slots(l);
    if (st == SBERT_OK)
        st = check_saves(l, extra, n_extra);
    if (st != SBERT_OK) {
        sbert_lora_free(l);
        return st;
    }
    /* A: kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)); B: 0 */
    sbert_rng rng;
    sbert_rng_seed(&rng, cfg->seed);
    for (size_t i = 0; i < l->n_slots; i++) {
        lora_slot *s = &l->slots[i];
        float bound = 1.0f / sqrtf((float)s->v.in);
        for (size_t j = 0; j < l->cfg.r * s->v.in; j++)
            s->A[j] = (2.0f * sbert_rng_uniform_f(&rng) - 1.0f) * bound;
    }
    sbert_transformer_set_lora(t, l, 1);
    *out = l;
    return SBERT_OK;
}

sbert_status sbert_lora_attach(struct sbert_transformer *t, const sbert_lora_config *cfg, sbert_lora **out) {
    return sbert_lora_attach_ex(t, cfg, NULL, 0, out);
}

/* ------------------------------------------------------------- table */

sbert_status sbert_lora_params(sbert_lora *l, sbert_param_table *t) {
    char name[256];
    for (size_t i = 0; i < l->n_slots; i++) {
        lora_slot *s = &l->slots[i];
        snprintf(name, sizeof name, "%s.lora_A.weight", s->v.name);
        SBERT_TRY(sbert_param_add(t, name, s->A, l->cfg.r, s->v.in, 1, 1));
        snprintf(name, sizeof name, "%s.lora_B.weight", s->v.name);
        SBERT_TRY(sbert_param_add(t, name, s->B, s->v.out, l->cfg.r, 1, 1));
    }
    return SBERT_OK;
}

int sbert_lora_saves_param(const sbert_lora *l, const char *name) {
    char mod[256];
    module_of(name, mod, sizeof mod);
    for (size_t i = 0; i < l->n_saves; i++)
        if (ends_with(mod, l->saves[i]))
            return 1;
    return 0;
}

void sbert_lora_bind_grads(sbert_lora *l, sbert_param_table *t, size_t first) {
    for (size_t i = 0; i < l->n_slots; i++) {
        l->slots[i].gA = sbert_params_at(t, first + 2 * i)->grad;
        l->slots[i].gB = sbert_params_at(t, first + 2 * i + 1)->grad;
    }
}

size_t sbert_lora_numel(const sbert_lora *l) {
    size_t n = 0;
    for (size_t i = 0; i < l->n_slots; i++)
        n += l->cfg.r * (l->slots[i].v.in + l->slots[i].v.out);
    return n;
}

size_t sbert_lora_n_modules(const sbert_lora *l) { return l->n_slots; }

/* ------------------------------------------------------------- hooks */

static lora_slot *slot_of(const sbert_lora *l, size_t layer, sbert_lin_kind kind) {
    if (!l || layer >= l->n_layers)
        return NULL;
    int i = l->map[layer * SBERT_LIN_KINDS + (size_t)kind];
    return i < 0 ? NULL : &l->slots[i];
}

int sbert_lora_has(const sbert_lora *l, size_t layer, sbert_lin_kind kind) { return slot_of(l, layer, kind) != NULL; }

static float *grow(float **p, size_t *cap, size_t n) {
    if (n > *cap) {
        float *q = realloc(*p, n * sizeof *q);
        if (!q)
            return NULL;
        *p = q;
        *cap = n;
    }
    return *p;
}

sbert_status sbert_lora_forward(sbert_lora *l, size_t layer, sbert_lin_kind kind, const float *x, size_t T,
                                float *out, size_t ld, int train, sbert_rng *rng) {
    lora_slot *s = slot_of(l, layer, kind);
    if (!s || T == 0)
        return SBERT_OK;
    const size_t r = l->cfg.r, in = s->v.in, n_out = s->v.out;
    float *u = NULL, *tmp = NULL;
    const float *xin = x;
    int drop = train && rng && l->cfg.dropout > 0;
    if (drop) {
        float *xd = grow(&s->xd, &s->cap_xd, T * in);
        if (T * in > s->cap_keep) {
            unsigned char *k = realloc(s->keep, T * in);
            if (!k)
                return sbert_fail(SBERT_ERR_NOMEM, "LoRA forward: out of memory");
            s->keep = k;
            s->cap_keep = T * in;
        }
        if (!xd)
            return sbert_fail(SBERT_ERR_NOMEM, "LoRA forward: out of memory");
        const float keep = 1.0f - (float)l->cfg.dropout, ks = 1.0f / keep;
        for (size_t i = 0; i < T * in; i++) {
            s->keep[i] = sbert_rng_uniform_f(rng) < keep;
            xd[i] = s->keep[i] ? x[i] * ks : 0.0f;
        }
        xin = xd;
    }
    if (train) {
        u = grow(&s->u, &s->cap_u, T * r);
        s->T = T;
    } else {
        u = tmp = malloc(T * r * sizeof *u);
    }
    if (!u)
        return sbert_fail(SBERT_ERR_NOMEM, "LoRA forward: out of memory");
    /* u [T, r] = xin A^T; out[:, off..] += scaling * u B^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)r, (int)in, 1.0f, xin, (int)in, s->A, (int)in,
                0.0f, u, (int)r);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)n_out, (int)r, l->scaling, u, (int)r, s->B,
                (int)r, 1.0f, out + s->v.off, (int)ld);
    if (train)
        s->dropped = drop; /* without dropout the backward reads x itself */
    free(tmp);
    return SBERT_OK;
}

sbert_status sbert_lora_backward(sbert_lora *l, size_t layer, sbert_lin_kind kind, const float *x, const float *dout,
                                 size_t T, size_t ld, float *din) {
    lora_slot *s = slot_of(l, layer, kind);
    if (!s || T == 0)
        return SBERT_OK;
    if (s->T != T || !s->u)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "LoRA backward: no training forward kept for %s", s->v.name);
    const size_t r = l->cfg.r, in = s->v.in, n_out = s->v.out;
    const float *xin = s->dropped ? s->xd : x;
    const float *dy = dout + s->v.off;
    float *du = malloc(T * r * sizeof *du);
    if (!du)
        return sbert_fail(SBERT_ERR_NOMEM, "LoRA backward: out of memory");
    /* dB [out, r] += scaling * dy^T u */
    if (s->gB)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n_out, (int)r, (int)T, l->scaling, dy, (int)ld, s->u,
                    (int)r, 1.0f, s->gB, (int)r);
    /* du [T, r] = scaling * dy B */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)r, (int)n_out, l->scaling, dy, (int)ld, s->B,
                (int)r, 0.0f, du, (int)r);
    /* dA [r, in] += du^T xin */
    if (s->gA)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)r, (int)in, (int)T, 1.0f, du, (int)r, xin, (int)in,
                    1.0f, s->gA, (int)in);
    /* din [T, in] += dropout'(du A) */
    if (din) {
        if (s->dropped) {
            float *dx = malloc(T * in * sizeof *dx);
            if (!dx) {
                free(du);
                return sbert_fail(SBERT_ERR_NOMEM, "LoRA backward: out of memory");
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)in, (int)r, 1.0f, du, (int)r, s->A,
                        (int)in, 0.0f, dx, (int)in);
            const float ks = 1.0f / (1.0f - (float)l->cfg.dropout);
            for (size_t i = 0; i < T * in; i++)
                if (s->keep[i])
                    din[i] += dx[i] * ks;
            free(dx);
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)in, (int)r, 1.0f, du, (int)r, s->A,
                        (int)in, 1.0f, din, (int)in);
        }
    }
    free(du);
    return SBERT_OK;
}

/* --------------------------------------------------------------- merge */

void sbert_lora_merge(sbert_lora *l) {
    for (size_t i = 0; i < l->n_slots; i++) {
        lora_slot *s = &l->slots[i];
        /* W [out, in] (rows of the fused matrix, stride in) += scaling * B A */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)s->v.out, (int)s->v.in, (int)l->cfg.r, l->scaling,
                    s->B, (int)l->cfg.r, s->A, (int)s->v.in, 1.0f, s->v.W, (int)s->v.in);
        memset(s->B, 0, s->v.out * l->cfg.r * sizeof *s->B);
    }
}

/* ---------------------------------------------------------------- save */

sbert_status sbert_lora_save(const sbert_lora *l, const char *dir, const char *base_model,
                             const char *src_safetensors) {
    /* adapter_config.json: PEFT's LoraConfig fields for what sbert trains */
    cJSON *c = cJSON_CreateObject();
    cJSON_AddNullToObject(c, "auto_mapping");
    cJSON_AddStringToObject(c, "base_model_name_or_path", base_model ? base_model : "");
    cJSON_AddStringToObject(c, "bias", "none");
    cJSON_AddBoolToObject(c, "fan_in_fan_out", 0);
    cJSON_AddBoolToObject(c, "inference_mode", 1);
    cJSON_AddBoolToObject(c, "init_lora_weights", 1);
    cJSON_AddNullToObject(c, "layers_pattern");
    cJSON_AddNullToObject(c, "layers_to_transform");
    cJSON_AddNumberToObject(c, "lora_alpha", l->cfg.alpha);
    cJSON_AddNumberToObject(c, "lora_dropout", l->cfg.dropout);
    cJSON *mts = l->n_saves ? cJSON_CreateArray() : cJSON_CreateNull();
    for (size_t i = 0; i < l->n_saves; i++)
        cJSON_AddItemToArray(mts, cJSON_CreateString(l->saves[i]));
    cJSON_AddItemToObject(c, "modules_to_save", mts);
    cJSON_AddStringToObject(c, "peft_type", "LORA");
    cJSON_AddNumberToObject(c, "r", (double)l->cfg.r);
    cJSON_AddItemToObject(c, "rank_pattern", cJSON_CreateObject());
    cJSON_AddItemToObject(c, "alpha_pattern", cJSON_CreateObject());
    cJSON_AddNullToObject(c, "revision");
    /* the targets as the module names' last parts PEFT would match again */
    cJSON *tm = cJSON_CreateArray();
    for (size_t i = 0; i < l->n_slots; i++) {
        const char *nm = short_name(l->slots[i].v.name);
        int dup = 0;
        for (int k = 0; k < cJSON_GetArraySize(tm) && !dup; k++)
            dup = strcmp(cJSON_GetArrayItem(tm, k)->valuestring, nm) == 0;
        if (!dup)
            cJSON_AddItemToArray(tm, cJSON_CreateString(nm));
    }
    cJSON_AddItemToObject(c, "target_modules", tm);
    cJSON_AddStringToObject(c, "task_type", "FEATURE_EXTRACTION");
    cJSON_AddBoolToObject(c, "use_dora", 0);
    cJSON_AddBoolToObject(c, "use_rslora", l->cfg.use_rslora);
    char *txt = cJSON_Print(c);
    cJSON_Delete(c);
    if (!txt)
        return sbert_fail(SBERT_ERR_NOMEM, "LoRA: out of memory writing adapter_config.json");
    char path[4096];
    sbert_status st = sbert_path_join(path, sizeof path, dir, "adapter_config.json");
    if (st == SBERT_OK)
        st = sbert_write_file_atomic(path, txt, strlen(txt));
    free(txt);
    SBERT_TRY(st);

    /* adapter_model.safetensors */
    size_t np = sbert_transformer_num_params(l->t), cap = 2 * l->n_slots + np + 64;
    sbert_st_entry *e = calloc(cap, sizeof *e);
    char (*names)[256] = calloc(cap, sizeof *names);
    float **owned = calloc(cap, sizeof *owned);
    size_t n = 0, n_owned = 0;
    sbert_safetensors *src = NULL;
    if (!e || !names || !owned) {
        st = sbert_fail(SBERT_ERR_NOMEM, "LoRA: out of memory saving the adapter");
        goto done;
    }
    for (size_t i = 0; i < l->n_slots; i++) {
        const lora_slot *s = &l->slots[i];
        snprintf(names[n], sizeof names[n], "base_model.model.%s.lora_A.weight", s->v.name);
        e[n].name = names[n];
        e[n].data = s->A;
        e[n].ndim = 2;
        e[n].shape[0] = (int64_t)l->cfg.r;
        e[n].shape[1] = (int64_t)s->v.in;
        n++;
        snprintf(names[n], sizeof names[n], "base_model.model.%s.lora_B.weight", s->v.name);
        e[n].name = names[n];
        e[n].data = s->B;
        e[n].ndim = 2;
        e[n].shape[0] = (int64_t)s->v.out;
        e[n].shape[1] = (int64_t)l->cfg.r;
        n++;
    }
    size_t nf = 0;
    const float *params = sbert_transformer_params(l->t, &nf);
    for (size_t p = 0; p < np; p++) {
        const sbert_transformer_param *q = sbert_transformer_param_at(l->t, p);
        if (!sbert_lora_saves_param(l, q->name))
            continue;
        snprintf(names[n], sizeof names[n], "base_model.model.%s", q->name);
        e[n].name = names[n];
        e[n].data = params + q->offset;
        e[n].ndim = q->ndim;
        e[n].shape[0] = q->shape[0];
        e[n].shape[1] = q->shape[1];
        n++;
    }
    /* modules_to_save the encoder does not hold (the pooler): as loaded, else from the source */
    for (size_t i = 0; i < l->n_extra && n + 1 < cap; i++) {
        e[n] = l->extra[i];
        snprintf(names[n], sizeof names[n], "%s", l->extra_names[i]);
        e[n].name = names[n];
        n++;
    }
    if (l->n_saves && !l->n_extra && src_safetensors && sbert_file_exists(src_safetensors)) {
        if ((st = sbert_st_open(src_safetensors, &src)) != SBERT_OK)
            goto done;
        const char *mt = sbert_transformer_model_type(l->t);
        for (size_t i = 0; i < sbert_st_count(src) && n + 1 < cap; i++) {
            const sbert_st_tensor *t = sbert_st_at(src, i);
            const char *nm = t->name;
            size_t ml = strlen(mt);
            if (!strncmp(nm, mt, ml) && nm[ml] == '.')
                nm += ml + 1;
            int held = 0;
            for (size_t p = 0; p < np && !held; p++)
                held = strcmp(sbert_transformer_param_at(l->t, p)->name, nm) == 0;
            if (held || !sbert_lora_saves_param(l, nm))
                continue;
            char mod[256];
            module_of(nm, mod, sizeof mod);
            size_t numel = 1;
            for (int k = 0; k < t->ndim; k++)
                numel *= (size_t)t->shape[k];
            owned[n_owned] = malloc((numel ? numel : 1) * sizeof(float));
            if (!owned[n_owned]) {
                st = sbert_fail(SBERT_ERR_NOMEM, "LoRA: out of memory");
                goto done;
            }
            if ((st = sbert_st_read_f32(src, t->name, NULL, 0, owned[n_owned])) != SBERT_OK)
                goto done;
            snprintf(names[n], sizeof names[n], "base_model.model.%s", nm);
            e[n].name = names[n];
            e[n].data = owned[n_owned++];
            e[n].ndim = t->ndim;
            for (int k = 0; k < t->ndim; k++)
                e[n].shape[k] = t->shape[k];
            n++;
        }
    }
    if ((st = sbert_path_join(path, sizeof path, dir, "adapter_model.safetensors")) == SBERT_OK)
        st = sbert_st_write(path, e, n, NULL, 0);
done:
    sbert_st_close(src);
    for (size_t i = 0; i < n_owned; i++)
        free(owned[i]);
    free(owned);
    free(names);
    free(e);
    return st;
}

/* ---------------------------------------------------------------- load */

sbert_status sbert_lora_load(struct sbert_transformer *t, const char *dir, sbert_lora **out) {
    *out = NULL;
    char path[4096];
    SBERT_TRY(sbert_path_join(path, sizeof path, dir, "adapter_config.json"));
    cJSON *c = NULL;
    SBERT_TRY(sbert_json_load(path, &c));
    sbert_status st = SBERT_OK;
    char targets[2048] = "", saves[1024] = "";
    sbert_lora_config cfg = sbert_lora_config_default();
    const cJSON *v;
#define CFG_FAIL(...)                                         \
    do {                                                      \
        st = sbert_fail(SBERT_ERR_UNSUPPORTED, __VA_ARGS__);  \
        goto done;                                            \
    } while (0)
    v = cJSON_GetObjectItem(c, "peft_type");
    if (!cJSON_IsString(v) || strcmp(v->valuestring, "LORA") != 0)
        CFG_FAIL("%s: peft_type '%s' is not supported (LORA only)", path, cJSON_IsString(v) ? v->valuestring : "?");
    v = cJSON_GetObjectItem(c, "r");
    if (!cJSON_IsNumber(v) || v->valuedouble < 1) {
        st = sbert_fail(SBERT_ERR_FORMAT, "%s: 'r' must be a positive integer", path);
        goto done;
    }
    cfg.r = (size_t)v->valuedouble;
    v = cJSON_GetObjectItem(c, "lora_alpha");
    if (cJSON_IsNumber(v))
        cfg.alpha = v->valuedouble;
    v = cJSON_GetObjectItem(c, "lora_dropout");
    if (cJSON_IsNumber(v))
        cfg.dropout = v->valuedouble;
    cfg.use_rslora = cJSON_IsTrue(cJSON_GetObjectItem(c, "use_rslora"));
    if (cJSON_IsTrue(cJSON_GetObjectItem(c, "use_dora")))
        CFG_FAIL("%s: use_dora is not supported", path);
    if (cJSON_IsTrue(cJSON_GetObjectItem(c, "fan_in_fan_out")))
        CFG_FAIL("%s: fan_in_fan_out is not supported", path);
    v = cJSON_GetObjectItem(c, "bias");
    if (cJSON_IsString(v) && strcmp(v->valuestring, "none") != 0)
        CFG_FAIL("%s: bias '%s' is not supported (none only)", path, v->valuestring);
    static const char *const must_be_empty[] = {"rank_pattern", "alpha_pattern"};
    for (int i = 0; i < 2; i++) {
        v = cJSON_GetObjectItem(c, must_be_empty[i]);
        if (cJSON_IsObject(v) && v->child)
            CFG_FAIL("%s: %s is not supported", path, must_be_empty[i]);
    }
    v = cJSON_GetObjectItem(c, "layers_to_transform");
    if (v && !cJSON_IsNull(v))
        CFG_FAIL("%s: layers_to_transform is not supported", path);
    v = cJSON_GetObjectItem(c, "target_modules");
    if (cJSON_IsString(v))
        CFG_FAIL("%s: target_modules as a regular expression is not supported; list the modules", path);
    const cJSON *e;
    cJSON_ArrayForEach(e, v) {
        if (!cJSON_IsString(e))
            continue;
        size_t len = strlen(targets);
        snprintf(targets + len, sizeof targets - len, "%s%s", len ? "," : "", e->valuestring);
    }
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(c, "modules_to_save")) {
        if (!cJSON_IsString(e))
            continue;
        size_t len = strlen(saves);
        snprintf(saves + len, sizeof saves - len, "%s%s", len ? "," : "", e->valuestring);
    }
    cfg.target_modules = targets;
    cfg.modules_to_save = saves[0] ? saves : NULL;
    sbert_lora *l = NULL;
    if ((st = lora_new(t, &cfg, &l)) != SBERT_OK)
        goto done;
    if ((st = make_slots(l)) != SBERT_OK) {
        sbert_lora_free(l);
        goto done;
    }
    for (size_t i = 0; i < l->n_saves; i++)
        for (size_t p = 0; p < sbert_transformer_num_params(t); p++) {
            char mod[256];
            module_of(sbert_transformer_param_at(t, p)->name, mod, sizeof mod);
            if (ends_with(mod, l->saves[i])) {
                st = sbert_fail(SBERT_ERR_UNSUPPORTED,
                                "%s: modules_to_save '%s' names a module inside the encoder (%s): not supported yet",
                                path, l->saves[i], mod);
                sbert_lora_free(l);
                goto done;
            }
        }
    /* weights */
    sbert_safetensors *sf = NULL;
    if ((st = sbert_path_join(path, sizeof path, dir, "adapter_model.safetensors")) != SBERT_OK ||
        (st = sbert_st_open(path, &sf)) != SBERT_OK) {
        sbert_lora_free(l);
        goto done;
    }
    char name[320];
    for (size_t i = 0; i < l->n_slots && st == SBERT_OK; i++) {
        lora_slot *s = &l->slots[i];
        int64_t sa[2] = {(int64_t)cfg.r, (int64_t)s->v.in}, sb[2] = {(int64_t)s->v.out, (int64_t)cfg.r};
        snprintf(name, sizeof name, "base_model.model.%s.lora_A.weight", s->v.name);
        st = sbert_st_read_f32(sf, name, sa, 2, s->A);
        snprintf(name, sizeof name, "base_model.model.%s.lora_B.weight", s->v.name);
        if (st == SBERT_OK)
            st = sbert_st_read_f32(sf, name, sb, 2, s->B);
    }
    /* modules_to_save tensors the encoder holds: into the encoder */
    size_t nf = 0;
    float *params = sbert_transformer_params(t, &nf);
    for (size_t p = 0; p < sbert_transformer_num_params(t) && st == SBERT_OK; p++) {
        const sbert_transformer_param *q = sbert_transformer_param_at(t, p);
        if (!sbert_lora_saves_param(l, q->name))
            continue;
        snprintf(name, sizeof name, "base_model.model.%s", q->name);
        if (sbert_st_find(sf, name))
            st = sbert_st_read_f32(sf, name, q->shape, q->ndim, params + q->offset);
    }
    /* the other tensors of the file: modules_to_save outside the encoder, kept for saving */
    size_t nt = sbert_st_count(sf);
    l->extra = calloc(nt + 1, sizeof *l->extra);
    l->extra_names = calloc(nt + 1, sizeof *l->extra_names);
    if (!l->extra || !l->extra_names)
        st = sbert_fail(SBERT_ERR_NOMEM, "LoRA: out of memory");
    for (size_t i = 0; i < nt && st == SBERT_OK; i++) {
        const sbert_st_tensor *x = sbert_st_at(sf, i);
        int mine = 0; /* an adapter of the encoder's, already read; other adapters (the pooler's) ride along */
        for (size_t k = 0; k < l->n_slots && !mine; k++) {
            char nm[320];
            snprintf(nm, sizeof nm, "base_model.model.%s.lora_A.weight", l->slots[k].v.name);
            mine = strcmp(nm, x->name) == 0;
            snprintf(nm, sizeof nm, "base_model.model.%s.lora_B.weight", l->slots[k].v.name);
            mine |= strcmp(nm, x->name) == 0;
        }
        if (mine)
            continue;
        size_t numel = 1;
        for (int k = 0; k < x->ndim; k++)
            numel *= (size_t)x->shape[k];
        float *buf = malloc((numel ? numel : 1) * sizeof *buf);
        if (!buf) {
            st = sbert_fail(SBERT_ERR_NOMEM, "LoRA: out of memory");
            break;
        }
        if ((st = sbert_st_read_f32(sf, x->name, NULL, 0, buf)) != SBERT_OK) {
            free(buf);
            break;
        }
        sbert_st_entry *en = &l->extra[l->n_extra];
        snprintf(l->extra_names[l->n_extra], sizeof l->extra_names[l->n_extra], "%s", x->name);
        en->data = buf;
        en->ndim = x->ndim;
        for (int k = 0; k < x->ndim; k++)
            en->shape[k] = x->shape[k];
        l->n_extra++;
    }
    sbert_st_close(sf);
    if (st != SBERT_OK) {
        sbert_lora_free(l);
        goto done;
    }
    sbert_transformer_set_lora(t, l, 1);
    *out = l;
done:
#undef CFG_FAIL
    cJSON_Delete(c);
    return st;
}
