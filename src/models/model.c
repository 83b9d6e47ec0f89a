/*
 * models/model.c -- a model directory in, a model (kind + module list +
 * settings) out, and back (see model.h).
 *
 * Loading (sentence-transformers v5/v6 rules, st_formats.md A.1):
 *   - modules.json lists the modules in pipeline order; each "type" names a
 *     class in the module registry (modules/registry.c) whose loader reads
 *     the module's folder. Both the legacy type names
 *     (sentence_transformers.models.X) and the v5.4+/v6 ones are accepted.
 *     The pipeline must start with an input module (Transformer or
 *     StaticEmbedding) and end in a sentence embedding.
 *   - A directory without modules.json but with config.json is a plain
 *     Hugging Face model: Transformer + mean Pooling, as Python builds it.
 *   - config_sentence_transformers.json: prompts (merged over the defaults
 *     {"query": "", "document": ""}), default_prompt_name,
 *     similarity_fn_name (default cosine), truncate_dim, model_type.
 */
#include "models/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/threads.h"
#include "io/atomic.h"
#include "io/dirs.h"
#include "io/file.h"
#include "io/hf_cache.h"
#include "modules/pooling.h"
#include "modules/static_embedding.h"
#include "modules/transformer_module.h"

#define PATH_CAP 4096

/* ------------------------------------------------------------ kinds */

static const char *const KIND_NAMES[SBERT_KIND_COUNT] = {"SentenceTransformer", "CrossEncoder", "SparseEncoder"};

const char *sbert_model_kind_name(sbert_model_kind k) {
    return (unsigned)k < SBERT_KIND_COUNT ? KIND_NAMES[k] : "?";
}

int sbert_model_kind_parse(const char *name) {
    for (int i = 0; i < SBERT_KIND_COUNT; i++)
        if (strcmp(name, KIND_NAMES[i]) == 0) return i;
    return -1;
}

/* ------------------------------------------------------------ accessors */

sbert_module *sbert_model_input(const sbert_model *m) { return m->n_mods ? m->mods[0] : NULL; }

sbert_module *sbert_model_find_module(const sbert_model *m, const char *class_name) {
    for (size_t i = 0; i < m->n_mods; i++)
        if (strcmp(m->mods[i]->ops->class_name, class_name) == 0) return m->mods[i];
    return NULL;
}

size_t sbert_model_full_dim(const sbert_model *m) { return m->full_dim; }
size_t sbert_model_truncate_dim(const sbert_model *m) { return m->truncate_dim; }
const char *sbert_model_dir(const sbert_model *m) { return m->dir; }

size_t sbert_model_dim(const sbert_model *m) {
    if (!m) return 0;
    return m->truncate_dim && m->truncate_dim < m->full_dim ? m->truncate_dim : m->full_dim;
}

size_t sbert_model_max_seq_length(const sbert_model *m) {
    const sbert_module *in = m ? sbert_model_input(m) : NULL;
    return in && in->ops->max_seq_length ? in->ops->max_seq_length(in) : 0;
}

sbert_status sbert_model_set_max_seq_length(sbert_model *m, size_t n) {
    sbert_module *in = sbert_model_input(m);
    if (!in->ops->set_max_seq_length)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "max_seq_length does not apply to a %s model (it has no truncation)",
                          in->ops->class_name);
    if (n == 0) return sbert_fail(SBERT_ERR_INVALID_ARG, "max_seq_length must be at least 1");
    in->ops->set_max_seq_length(in, n);
    return SBERT_OK;
}

sbert_status sbert_model_keep_layers(sbert_model *m, const size_t *layers, size_t n) {
    if (!m || (!layers && n)) return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_model_keep_layers: NULL argument");
    if (m->kind != SBERT_KIND_SENTENCE_TRANSFORMER)
        return sbert_fail(SBERT_ERR_UNSUPPORTED, "keeping layers is implemented for SentenceTransformer models, not a %s",
                          sbert_model_kind_name(m->kind));
    sbert_module *in = sbert_model_input(m);
    if (!sbert_transformer_module_encoder(in))
        return sbert_fail(SBERT_ERR_UNSUPPORTED, "keeping layers needs a transformer encoder; this model's first module "
                                                 "is a %s",
                          in ? in->ops->class_name : "(none)");
    return sbert_transformer_module_keep_layers(in, layers, n);
}

const char *sbert_model_similarity_fn_name(const sbert_model *m) { return m ? m->sim_name : "cosine"; }

const sbert_tokenizer *sbert_model_tokenizer(const sbert_model *m) {
    const sbert_module *in = m ? sbert_model_input(m) : NULL;
    return in && in->ops->tokenizer ? in->ops->tokenizer(in) : NULL;
}

const char *sbert_model_prompt(const sbert_model *m, const char *name) {
    if (!m || !name) return NULL;
    for (size_t i = 0; i < m->n_prompts; i++)
        if (strcmp(m->prompts[i].name, name) == 0) return m->prompts[i].text;
    return NULL;
}

const char *sbert_model_default_prompt_name(const sbert_model *m) { return m ? m->default_prompt_name : NULL; }


void sbert_model_free(sbert_model *m) {
    if (!m) return;
    sbert_model_release(m);
    for (size_t i = 0; i < m->n_mods; i++) {
        sbert_module_free(m->mods[i]);
        free(m->mod_names[i]);
        free(m->mod_paths[i]);
    }
    free(m->mods);
    free(m->mod_names);
    free(m->mod_paths);
    cJSON_Delete(m->st_config);
    for (size_t i = 0; i < m->n_prompts; i++) {
        free(m->prompts[i].name);
        free(m->prompts[i].text);
    }
    free(m->prompts);
    free(m->default_prompt_name);
    sbert_params_free(m->params);
    sbert_run_free(&m->run);
    free(m->stages);
    free(m->recs);
    free(m->dir);
    free(m);
}

/* --------------------------------------------------------------- helpers */

static char *dupstr(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

static sbert_status nomem(const char *what) { return sbert_fail(SBERT_ERR_NOMEM, "out of memory (%s)", what); }

/* Append a module with its modules.json name and path (module freed on failure). */
sbert_status sbert_model_add_module(sbert_model *m, sbert_module *mod, const char *name, const char *path) {
    sbert_module **nm = realloc(m->mods, (m->n_mods + 1) * sizeof *nm);
    if (nm) m->mods = nm;
    char **nn = nm ? realloc(m->mod_names, (m->n_mods + 1) * sizeof *nn) : NULL;
    if (nn) m->mod_names = nn;
    char **np = nn ? realloc(m->mod_paths, (m->n_mods + 1) * sizeof *np) : NULL;
    if (np) m->mod_paths = np;
    char *a = np ? dupstr(name) : NULL, *b = a ? dupstr(path) : NULL;
    if (!b) {
        free(a);
        sbert_module_free(mod);
        return nomem("modules");
    }
    m->mods[m->n_mods] = mod;
    m->mod_names[m->n_mods] = a;
    m->mod_paths[m->n_mods] = b;
    m->n_mods++;
    m->full_dim = mod->ops->out_dim(mod);
    return SBERT_OK;
}

static sbert_status set_prompt(sbert_model *m, const char *name, const char *text) {
    for (size_t i = 0; i < m->n_prompts; i++) {
        if (strcmp(m->prompts[i].name, name) == 0) {
            char *t = dupstr(text);
            if (!t) return nomem("prompt");
            free(m->prompts[i].text);
            m->prompts[i].text = t;
            return SBERT_OK;
        }
    }
    sbert_prompt *np = realloc(m->prompts, (m->n_prompts + 1) * sizeof *np);
    if (!np) return nomem("prompts");
    m->prompts = np;
    char *n = dupstr(name), *t = dupstr(text);
    if (!n || !t) {
        free(n);
        free(t);
        return nomem("prompt");
    }
    m->prompts[m->n_prompts].name = n;
    m->prompts[m->n_prompts].text = t;
    m->n_prompts++;
    return SBERT_OK;
}

sbert_status sbert_model_set_prompt(sbert_model *m, const char *name, const char *text) {
    return set_prompt(m, name, text);
}

sbert_status sbert_model_set_default_prompt_name(sbert_model *m, const char *name) {
    if (name && !sbert_model_prompt(m, name))
        return sbert_fail(SBERT_ERR_INVALID_ARG, "default_prompt_name '%s' is not one of the model's prompts", name);
    char *d = name ? dupstr(name) : NULL;
    if (name && !d) return nomem("default_prompt_name");
    free(m->default_prompt_name);
    m->default_prompt_name = d;
    return SBERT_OK;
}

sbert_status sbert_model_new_empty(const char *dir, sbert_model_kind kind, sbert_model **out) {
    sbert_model *m = calloc(1, sizeof *m);
    if (!m) return nomem("model");
    m->dir = dupstr(dir);
    m->kind = kind;
    snprintf(m->sim_name, sizeof m->sim_name, "cosine");
    sbert_status st = m->dir ? SBERT_OK : nomem("model path");
    /* SentenceTransformer's default prompts. */
    if (st == SBERT_OK) st = set_prompt(m, "query", "");
    if (st == SBERT_OK) st = set_prompt(m, "document", "");
    if (st != SBERT_OK) {
        sbert_model_free(m);
        return st;
    }
    *out = m;
    return SBERT_OK;
}

/* ------------------------------------------- config_sentence_transformers */

sbert_status sbert_model_read_st_config(sbert_model *m) {
    char path[PATH_CAP];
    SBERT_TRY(sbert_path_join(path, sizeof path, m->dir, "config_sentence_transformers.json"));
    if (!sbert_file_exists(path)) return SBERT_OK;
    SBERT_TRY(sbert_json_load(path, &m->st_config));
    const cJSON *cfg = m->st_config;
    if (!cJSON_IsObject(cfg)) return sbert_fail(SBERT_ERR_FORMAT, "%s: not a JSON object", path);
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(cfg, "model_type");
    if (mt && !cJSON_IsNull(mt) && !(cJSON_IsString(mt) && sbert_model_kind_parse(mt->valuestring) == (int)m->kind))
        return sbert_fail(SBERT_ERR_UNSUPPORTED, "%s: model_type \"%s\" cannot be loaded as a %s", path,
                          cJSON_IsString(mt) ? mt->valuestring : "(not a string)", sbert_model_kind_name(m->kind));
    const cJSON *prompts = cJSON_GetObjectItemCaseSensitive(cfg, "prompts");
    if (prompts && !cJSON_IsNull(prompts)) {
        if (!cJSON_IsObject(prompts)) return sbert_fail(SBERT_ERR_FORMAT, "%s: \"prompts\" must be an object", path);
        const cJSON *p;
        cJSON_ArrayForEach(p, prompts) {
            if (cJSON_IsNull(p)) {
                /* None placeholders become "" (as the Python defaults). */
                if (!sbert_model_prompt(m, p->string)) SBERT_TRY(set_prompt(m, p->string, ""));
            } else if (!cJSON_IsString(p)) {
                return sbert_fail(SBERT_ERR_FORMAT, "%s: prompts[\"%s\"] must be a string", path, p->string);
            } else {
                SBERT_TRY(set_prompt(m, p->string, p->valuestring));
            }
        }
    }
    const cJSON *dpn = cJSON_GetObjectItemCaseSensitive(cfg, "default_prompt_name");
    if (dpn && !cJSON_IsNull(dpn)) {
        if (!cJSON_IsString(dpn))
            return sbert_fail(SBERT_ERR_FORMAT, "%s: \"default_prompt_name\" must be a string", path);
        if (!sbert_model_prompt(m, dpn->valuestring))
            return sbert_fail(SBERT_ERR_FORMAT, "%s: default_prompt_name \"%s\" is not a key of \"prompts\"", path,
                              dpn->valuestring);
        m->default_prompt_name = dupstr(dpn->valuestring);
        if (!m->default_prompt_name) return nomem("default_prompt_name");
    }
    /* Python keeps a saved similarity_fn_name only when it supports it
     * (cosine, dot, euclidean, manhattan) and silently ignores anything else
     * (e.g. a multi-vector "maxsim"), leaving the default cosine. */
    const cJSON *sim = cJSON_GetObjectItemCaseSensitive(cfg, "similarity_fn_name");
    if (cJSON_IsString(sim)) {
        static const char *const ok[] = {"cosine", "dot", "euclidean", "manhattan"};
        for (int i = 0; i < 4; i++)
            if (strcmp(sim->valuestring, ok[i]) == 0) snprintf(m->sim_name, sizeof m->sim_name, "%s", ok[i]);
    }
    int has_td = 0;
    SBERT_TRY(sbert_json_size(cfg, "truncate_dim", path, &m->truncate_dim, &has_td));
    if (has_td && m->truncate_dim == 0)
        return sbert_fail(SBERT_ERR_FORMAT, "%s: \"truncate_dim\" must be positive", path);
    return SBERT_OK;
}

/* ---------------------------------------------------------- modules.json */

/* Reject "..", absolute paths and the like (Python's _validate_relative_path). */
static int safe_rel_path(const char *p) {
    if (p[0] == '/' || p[0] == '\\') return 0;
    const char *s = p;
    while (*s) {
        const char *e = s;
        while (*e && *e != '/' && *e != '\\') e++;
        if (e - s == 2 && s[0] == '.' && s[1] == '.') return 0;
        s = *e ? e + 1 : e;
    }
    return 1;
}

/* Where the features stand between modules: token ids, token embeddings,
 * or a sentence embedding. */
enum { AT_IDS, AT_TOKENS, AT_SENTENCE };

sbert_status sbert_model_load_modules_json(sbert_model *m, const char *modules_path) {
    cJSON *mods = NULL;
    SBERT_TRY(sbert_json_load(modules_path, &mods));
    sbert_status st = SBERT_OK;
    if (!cJSON_IsArray(mods) || cJSON_GetArraySize(mods) == 0) {
        st = sbert_fail(SBERT_ERR_FORMAT, "%s: expected a non-empty JSON list of modules", modules_path);
        goto done;
    }
    /* Python loads in list order (idx is informational). */
    int i = 0, at = AT_IDS;
    size_t cur_dim = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, mods) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(e, "type");
        const cJSON *pathj = cJSON_GetObjectItemCaseSensitive(e, "path");
        const cJSON *namej = cJSON_GetObjectItemCaseSensitive(e, "name");
        if (!cJSON_IsObject(e) || !cJSON_IsString(type) || !cJSON_IsString(pathj)) {
            st = sbert_fail(SBERT_ERR_FORMAT, "%s: entry %d must be an object with string \"type\" and \"path\"",
                            modules_path, i);
            goto done;
        }
        if (!safe_rel_path(pathj->valuestring)) {
            st = sbert_fail(SBERT_ERR_FORMAT, "%s: entry %d: path \"%s\" leaves the model directory", modules_path, i,
                            pathj->valuestring);
            goto done;
        }
        char sub[PATH_CAP];
        if (pathj->valuestring[0]) {
            if ((st = sbert_path_join(sub, sizeof sub, m->dir, pathj->valuestring)) != SBERT_OK) goto done;
        } else {
            snprintf(sub, sizeof sub, "%s", m->dir);
        }
        const sbert_module_class *cls = sbert_module_class_find(type->valuestring);
        if (!cls) {
            st = sbert_fail(SBERT_ERR_UNSUPPORTED,
                            "%s: entry %d: module type \"%s\" is not supported (sbert handles %s)", modules_path, i,
                            type->valuestring, sbert_module_class_list());
            goto done;
        }
        /* Where the class may stand: input modules first and once; a token
         * module after a Transformer; a sentence module after a sentence
         * embedding exists. */
        int fits = cls->level == SBERT_MODULE_INPUT ? at == AT_IDS
                   : cls->level == SBERT_MODULE_TOKEN ? at == AT_TOKENS
                                                      : at == AT_SENTENCE;
        if (!fits) {
            if (cls->level == SBERT_MODULE_INPUT || at == AT_IDS)
                st = sbert_fail(SBERT_ERR_UNSUPPORTED,
                                "%s: entry %d (\"%s\"): the Transformer (or StaticEmbedding) must be the first module "
                                "and appear once",
                                modules_path, i, type->valuestring);
            else if (at == AT_TOKENS)
                st = sbert_fail(SBERT_ERR_UNSUPPORTED,
                                "%s: entry %d (\"%s\"): sbert expects Pooling right after the Transformer",
                                modules_path, i, type->valuestring);
            else
                st = sbert_fail(SBERT_ERR_UNSUPPORTED,
                                "%s: entry %d (\"%s\"): a %s module needs token embeddings, but the pipeline already "
                                "produced the sentence embedding",
                                modules_path, i, type->valuestring, cls->class_name);
            goto done;
        }
        sbert_module_load_ctx ctx = {sub, m->dir, type->valuestring, (size_t)i, cur_dim, 1};
        sbert_module *mod = NULL;
        if ((st = cls->load(&ctx, &mod)) != SBERT_OK) goto done;
        char name[32];
        snprintf(name, sizeof name, "%d", i);
        if ((st = sbert_model_add_module(m, mod, cJSON_IsString(namej) ? namej->valuestring : name, pathj->valuestring)) !=
            SBERT_OK)
            goto done;
        cur_dim = mod->ops->out_dim(mod);
        at = cls->produces_sentence ? AT_SENTENCE : AT_TOKENS;
        i++;
    }
    if (at != AT_SENTENCE)
        st = sbert_fail(SBERT_ERR_UNSUPPORTED, "%s: no Pooling module: sbert needs one to produce sentence embeddings",
                        modules_path);
done:
    cJSON_Delete(mods);
    return st;
}

/* A plain Hugging Face model: Transformer + mean Pooling. */
static sbert_status load_plain_hf(sbert_model *m) {
    sbert_module_load_ctx ctx = {m->dir, m->dir, "sentence_transformers.models.Transformer", 0, 0, 0};
    sbert_module *tf = NULL;
    SBERT_TRY(sbert_transformer_module_load(&ctx, &tf));
    SBERT_TRY(sbert_model_add_module(m, tf, "0", ""));
    sbert_pooling p;
    memset(&p, 0, sizeof p);
    p.dim = tf->ops->out_dim(tf);
    p.n_modes = 1;
    p.modes[0] = SBERT_POOL_MEAN;
    p.include_prompt = 1;
    sbert_module *pool = NULL;
    SBERT_TRY(sbert_pooling_module_new(&p, &pool));
    return sbert_model_add_module(m, pool, "1", "1_Pooling");
}

/* A SentenceTransformer directory: modules.json, or a plain Hugging Face model. */
sbert_status sbert_st_load_dir(sbert_model *m) {
    char modules_path[PATH_CAP], config_path[PATH_CAP];
    SBERT_TRY(sbert_path_join(modules_path, sizeof modules_path, m->dir, "modules.json"));
    SBERT_TRY(sbert_path_join(config_path, sizeof config_path, m->dir, "config.json"));
    if (sbert_file_exists(modules_path)) {
        SBERT_TRY(sbert_model_read_st_config(m));
        return sbert_model_load_modules_json(m, modules_path);
    }
    if (sbert_file_exists(config_path)) return load_plain_hf(m);
    return sbert_fail(SBERT_ERR_IO,
                      "%s: neither modules.json (a sentence-transformers model) nor config.json (a Hugging Face "
                      "model) found",
                      m->dir);
}

sbert_status sbert_model_new_static(const char *tokenizer_json, size_t dim, uint64_t seed, sbert_model **out) {
    *out = NULL;
    sbert_model *m = NULL;
    SBERT_TRY(sbert_model_new_empty("", SBERT_KIND_SENTENCE_TRANSFORMER, &m));
    sbert_module *mod = NULL;
    sbert_status st = sbert_static_module_new(tokenizer_json, dim, seed, &mod);
    if (st == SBERT_OK) st = sbert_model_add_module(m, mod, "0", "");
    if (st != SBERT_OK) {
        sbert_model_free(m);
        return st;
    }
    *out = m;
    return SBERT_OK;
}

/* ---------------------------------------------------------- tokenization */

sbert_status sbert_model_tokenize(const sbert_model *m, const char *prompt, const char *text, const char *pair,
                                  sbert_encoding *enc) {
    if (!m || !text || !enc) return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_model_tokenize: NULL argument");
    const sbert_module *in = sbert_model_input(m);
    return in->ops->tokenize(in, prompt, text, pair, enc);
}

sbert_status sbert_model_tokenize_column(const sbert_model *m, const char *prompt, const char *const *texts,
                                         size_t n, sbert_packed *out) {
    sbert_packed_clear(out);
    for (size_t i = 0; i < n; i++) {
        sbert_encoding e;
        sbert_status st = sbert_model_tokenize(m, prompt, texts[i], NULL, &e);
        if (st != SBERT_OK) {
            sbert_error_prefix("row %zu: ", i);
            return st;
        }
        st = sbert_packed_append(out, &e);
        sbert_encoding_free(&e);
        SBERT_TRY(st);
    }
    return SBERT_OK;
}

sbert_status sbert_model_prompt_length(const sbert_model *m, const char *prompt, size_t *out) {
    *out = 0;
    const sbert_module *pool = sbert_model_find_module(m, "Pooling");
    const sbert_pooling *p = pool ? sbert_pooling_module_config(pool) : NULL;
    const sbert_module *in = sbert_model_input(m);
    if (!prompt || !*prompt || !p || p->include_prompt || !in->ops->prompt_length) return SBERT_OK;
    return in->ops->prompt_length(in, prompt, out);
}

/* ------------------------------------------------------------------ save */

static sbert_status save_st_config(const sbert_model *m, const char *dir) {
    cJSON *cfg = m->st_config ? cJSON_Duplicate(m->st_config, 1) : cJSON_CreateObject();
    if (!cfg) return nomem("config_sentence_transformers.json");
    /* The fields sbert owns; anything else the source held is kept. */
    static const char *const owned[] = {"__version__", "model_type", "prompts", "default_prompt_name",
                                        "similarity_fn_name"};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++) cJSON_DeleteItemFromObjectCaseSensitive(cfg, owned[i]);
    cJSON *ver = cJSON_CreateObject();
    cJSON *prompts = cJSON_CreateObject();
    sbert_status st = ver && prompts ? SBERT_OK : nomem("config_sentence_transformers.json");
    if (st == SBERT_OK) {
        /* The layout version written (what sentence-transformers checks), and
         * the tool that wrote it; no torch or transformers was involved. */
        cJSON_AddStringToObject(ver, "sentence_transformers", "5.0.0");
        cJSON_AddStringToObject(ver, "sbert", sbert_version());
        cJSON_AddItemToObject(cfg, "__version__", ver);
        ver = NULL;
        cJSON_AddStringToObject(cfg, "model_type", sbert_model_kind_name(m->kind));
        for (size_t i = 0; i < m->n_prompts; i++) cJSON_AddStringToObject(prompts, m->prompts[i].name, m->prompts[i].text);
        cJSON_AddItemToObject(cfg, "prompts", prompts);
        prompts = NULL;
        if (m->default_prompt_name) cJSON_AddStringToObject(cfg, "default_prompt_name", m->default_prompt_name);
        else cJSON_AddNullToObject(cfg, "default_prompt_name");
        cJSON_AddStringToObject(cfg, "similarity_fn_name", m->sim_name);
        char *text = cJSON_Print(cfg);
        if (!text) st = nomem("config_sentence_transformers.json");
        else st = sbert_write_text_file(dir, "config_sentence_transformers.json", text);
        cJSON_free(text);
    }
    cJSON_Delete(ver);
    cJSON_Delete(prompts);
    cJSON_Delete(cfg);
    return st;
}

sbert_status sbert_st_save_dir(const sbert_model *m, const char *dir) {
    SBERT_TRY(sbert_mkdir_p(dir));
    cJSON *list = cJSON_CreateArray();
    if (!list) return nomem("modules.json");
    sbert_status st = SBERT_OK;
    for (size_t i = 0; i < m->n_mods && st == SBERT_OK; i++) {
        char sub[PATH_CAP];
        if (m->mod_paths[i][0]) st = sbert_path_join(sub, sizeof sub, dir, m->mod_paths[i]);
        else snprintf(sub, sizeof sub, "%s", dir);
        if (st == SBERT_OK) st = sbert_mkdir_p(sub);
        if (st == SBERT_OK) st = m->mods[i]->ops->save(m->mods[i], sub);
        if (st != SBERT_OK) {
            sbert_error_prefix("saving module %zu (%s): ", i, m->mods[i]->ops->class_name);
            break;
        }
        cJSON *e = cJSON_CreateObject();
        if (!e) {
            st = nomem("modules.json");
            break;
        }
        cJSON_AddNumberToObject(e, "idx", (double)i);
        cJSON_AddStringToObject(e, "name", m->mod_names[i]);
        cJSON_AddStringToObject(e, "path", m->mod_paths[i]);
        cJSON_AddStringToObject(e, "type", m->mods[i]->type);
        cJSON_AddItemToArray(list, e);
    }
    if (st == SBERT_OK) {
        char *text = cJSON_Print(list);
        if (!text) st = nomem("modules.json");
        else st = sbert_write_text_file(dir, "modules.json", text);
        cJSON_free(text);
    }
    cJSON_Delete(list);
    SBERT_TRY(st);
    return save_st_config(m, dir);
}
