/*
 * models/sentence_transformer.c -- loading a SentenceTransformer model
 * directory and encoding texts with it (sbert_model_* in sbert.h).
 *
 * Loading (sentence-transformers v5/v6 rules, st_formats.md A.1):
 *   - modules.json lists the modules; the Transformer comes first (its
 *     folder, usually the root, holds config.json, model.safetensors,
 *     tokenizer.json, tokenizer_config.json and sentence_bert_config.json or
 *     a legacy sentence_<family>_config.json), then Pooling, then any Dense /
 *     Normalize. Both the legacy type names (sentence_transformers.models.X)
 *     and the v5.4+/v6 ones (sentence_transformers.base.modules...,
 *     sentence_transformers.sentence_transformer.modules...) are accepted.
 *   - A directory without modules.json but with config.json is a plain
 *     Hugging Face model: Transformer + mean Pooling, as Python builds it.
 *   - config_sentence_transformers.json: prompts (merged over the defaults
 *     {"query": "", "document": ""}), default_prompt_name,
 *     similarity_fn_name (default cosine), truncate_dim, model_type.
 *   - max_seq_length: processor_kwargs/tokenizer_args model_max_length, else
 *     sentence_bert_config max_seq_length, else tokenizer_config.json
 *     model_max_length capped at what the position embeddings allow.
 *
 * Encoding mirrors SentenceTransformer.encode: texts are sorted by length
 * (longest first; the output keeps the input order), cut into batches of
 * batch_size, prompt prepended as a raw string, tokenized with longest_first
 * truncation to max_seq_length, run through the Transformer as one packed
 * batch (no padding), pooled, passed through Dense/Normalize, truncated to
 * truncate_dim and finally L2-normalized when asked.
 */
#include "models/sentence_transformer.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <utf8proc.h>

#include "base/error.h"
#include "base/threads.h"
#include "io/file.h"
#include "modules/normalize.h"
#include "modules/static_embedding.h"

#define PATH_CAP 4096

typedef struct {
    char *name;
    char *text;
} prompt_entry;

struct sbert_model {
    char *dir;
    sbert_tokenizer *tok;
    sbert_transformer *tf;
    sbert_static_embedding *static_emb; /* a StaticEmbedding model instead of tf + pool */
    sbert_pooling pool;
    sbert_post_module *post;
    size_t n_post;
    size_t full_dim;
    size_t max_seq_length;  /* as configured */
    size_t max_tokens;      /* what the position embeddings allow */
    int do_lower_case;
    prompt_entry *prompts;
    size_t n_prompts;
    char *default_prompt_name;
    char sim_name[16];
    size_t truncate_dim; /* 0: none */
};

/* ------------------------------------------------------------ accessors */

sbert_transformer *sbert_model_transformer(sbert_model *m) { return m->tf; }
const sbert_pooling *sbert_model_pooling(const sbert_model *m) { return &m->pool; }
size_t sbert_model_n_post_modules(const sbert_model *m) { return m->n_post; }
const sbert_post_module *sbert_model_post_module(const sbert_model *m, size_t i) {
    return i < m->n_post ? &m->post[i] : NULL;
}
size_t sbert_model_full_dim(const sbert_model *m) { return m->full_dim; }
size_t sbert_model_truncate_dim(const sbert_model *m) { return m->truncate_dim; }
int sbert_model_do_lower_case(const sbert_model *m) { return m->do_lower_case; }

size_t sbert_model_dim(const sbert_model *m) {
    if (!m) return 0;
    return m->truncate_dim && m->truncate_dim < m->full_dim ? m->truncate_dim : m->full_dim;
}
size_t sbert_model_max_seq_length(const sbert_model *m) { return m ? m->max_seq_length : 0; }
const char *sbert_model_similarity_fn_name(const sbert_model *m) {
    return m ? m->sim_name : "cosine";
}
const sbert_tokenizer *sbert_model_tokenizer(const sbert_model *m) { return m ? m->tok : NULL; }

const char *sbert_model_prompt(const sbert_model *m, const char *name) {
    if (!m || !name) return NULL;
    for (size_t i = 0; i < m->n_prompts; i++)
        if (strcmp(m->prompts[i].name, name) == 0) return m->prompts[i].text;
    return NULL;
}
const char *sbert_model_default_prompt_name(const sbert_model *m) {
    return m ? m->default_prompt_name : NULL;
}

void sbert_model_free(sbert_model *m) {
    if (!m) return;
    sbert_tokenizer_free(m->tok);
    sbert_transformer_free(m->tf);
    sbert_static_embedding_free(m->static_emb);
    for (size_t i = 0; i < m->n_post; i++) {
        sbert_dense_free(m->post[i].dense);
        free(m->post[i].path);
    }
    free(m->post);
    for (size_t i = 0; i < m->n_prompts; i++) {
        free(m->prompts[i].name);
        free(m->prompts[i].text);
    }
    free(m->prompts);
    free(m->default_prompt_name);
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

static sbert_status nomem(const char *what) {
    return sbert_fail(SBERT_ERR_NOMEM, "out of memory (%s)", what);
}

/* A JSON number that is a non-negative integer (or null -> *present = 0). */
static sbert_status json_size(const cJSON *o, const char *key, const char *path, size_t *out,
                              int *present) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *present = 0;
    if (!v || cJSON_IsNull(v)) return SBERT_OK;
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble != floor(v->valuedouble))
        return sbert_fail(SBERT_ERR_FORMAT, "%s: \"%s\" must be a non-negative integer", path, key);
    *out = v->valuedouble > 1e15 ? (size_t)1e15 : (size_t)v->valuedouble;
    *present = 1;
    return SBERT_OK;
}

/* Load a JSON file if it exists; *out = NULL when it does not. */
static sbert_status json_load_optional(const char *dir, const char *file, char *path_out,
                                       cJSON **out) {
    *out = NULL;
    SBERT_TRY(sbert_path_join(path_out, PATH_CAP, dir, file));
    if (!sbert_file_exists(path_out)) return SBERT_OK;
    return sbert_json_load(path_out, out);
}

/* Module class of a modules.json "type": the part after the last dot,
 * provided the string is a sentence_transformers path. */
typedef enum { MT_TRANSFORMER, MT_POOLING, MT_DENSE, MT_NORMALIZE, MT_STATIC, MT_UNKNOWN } module_type;

static module_type classify_type(const char *type) {
    static const struct {
        const char *name;
        module_type t;
    } known[] = {
        {"sentence_transformers.models.Transformer", MT_TRANSFORMER},
        {"sentence_transformers.models.transformer.Transformer", MT_TRANSFORMER},
        {"sentence_transformers.models.Transformer.Transformer", MT_TRANSFORMER},
        {"sentence_transformers.base.modules.transformer.Transformer", MT_TRANSFORMER},
        {"sentence_transformers.base.modules.Transformer", MT_TRANSFORMER},
        {"sentence_transformers.models.Pooling", MT_POOLING},
        {"sentence_transformers.models.Pooling.Pooling", MT_POOLING},
        {"sentence_transformers.models.pooling.Pooling", MT_POOLING},
        {"sentence_transformers.sentence_transformer.modules.pooling.Pooling", MT_POOLING},
        {"sentence_transformers.sentence_transformer.modules.Pooling", MT_POOLING},
        {"sentence_transformers.models.Dense", MT_DENSE},
        {"sentence_transformers.models.Dense.Dense", MT_DENSE},
        {"sentence_transformers.models.dense.Dense", MT_DENSE},
        {"sentence_transformers.base.modules.dense.Dense", MT_DENSE},
        {"sentence_transformers.base.modules.Dense", MT_DENSE},
        {"sentence_transformers.sentence_transformer.modules.dense.Dense", MT_DENSE},
        {"sentence_transformers.models.Normalize", MT_NORMALIZE},
        {"sentence_transformers.models.Normalize.Normalize", MT_NORMALIZE},
        {"sentence_transformers.models.normalize.Normalize", MT_NORMALIZE},
        {"sentence_transformers.base.modules.normalize.Normalize", MT_NORMALIZE},
        {"sentence_transformers.base.modules.Normalize", MT_NORMALIZE},
        {"sentence_transformers.sentence_transformer.modules.normalize.Normalize", MT_NORMALIZE},
        {"sentence_transformers.models.StaticEmbedding", MT_STATIC},
        {"sentence_transformers.models.StaticEmbedding.StaticEmbedding", MT_STATIC},
        {"sentence_transformers.sentence_transformer.modules.static_embedding.StaticEmbedding", MT_STATIC},
        {"sentence_transformers.sentence_transformer.modules.StaticEmbedding", MT_STATIC},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(type, known[i].name) == 0) return known[i].t;
    return MT_UNKNOWN;
}

/* ---------------------------------------------------- Transformer module */

/* The tokenizer_args / processor_kwargs "model_max_length", if any. */
static sbert_status kwargs_max_length(const cJSON *sbc, const char *path, size_t *out,
                                      int *present) {
    *present = 0;
    static const char *const keys[] = {"processor_kwargs", "tokenizer_args", "tokenizer_kwargs"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const cJSON *kw = cJSON_GetObjectItemCaseSensitive(sbc, keys[i]);
        if (!cJSON_IsObject(kw)) continue;
        SBERT_TRY(json_size(kw, "model_max_length", path, out, present));
        if (*present) return SBERT_OK;
    }
    return SBERT_OK;
}

/* Load the Transformer module rooted at `tdir`: tokenizer, weights, config. */
static sbert_status load_transformer(sbert_model *m, const char *tdir, int read_st_config) {
    char path[PATH_CAP];
    SBERT_TRY(sbert_path_join(path, sizeof path, tdir, "config.json"));
    if (!sbert_file_exists(path))
        return sbert_fail(SBERT_ERR_IO, "%s: missing (the Hugging Face config of the Transformer)",
                          path);
    SBERT_TRY(sbert_path_join(path, sizeof path, tdir, "tokenizer.json"));
    if (!sbert_file_exists(path))
        return sbert_fail(SBERT_ERR_IO,
                          "%s: missing; sbert needs the fast-tokenizer file tokenizer.json (in "
                          "Python: AutoTokenizer.from_pretrained(dir).save_pretrained(dir) writes it)",
                          path);
    SBERT_TRY(sbert_tokenizer_load(path, &m->tok));
    SBERT_TRY(sbert_transformer_load(tdir, &m->tf));
    m->max_tokens = sbert_transformer_max_tokens(m->tf);

    /* Settings from sentence_bert_config.json (or a legacy name). */
    size_t msl = 0, kw_len = 0;
    int has_msl = 0, has_kw = 0;
    m->do_lower_case = 0;
    if (read_st_config) {
        static const char *const names[] = {
            "sentence_bert_config.json",      "sentence_roberta_config.json",
            "sentence_distilbert_config.json", "sentence_camembert_config.json",
            "sentence_albert_config.json",     "sentence_xlm-roberta_config.json",
            "sentence_xlnet_config.json"};
        cJSON *sbc = NULL;
        for (size_t i = 0; i < sizeof names / sizeof names[0] && !sbc; i++)
            SBERT_TRY(json_load_optional(tdir, names[i], path, &sbc));
        if (sbc) {
            sbert_status st = SBERT_OK;
            if (!cJSON_IsObject(sbc)) st = sbert_fail(SBERT_ERR_FORMAT, "%s: not a JSON object", path);
            if (st == SBERT_OK) st = json_size(sbc, "max_seq_length", path, &msl, &has_msl);
            if (st == SBERT_OK) st = kwargs_max_length(sbc, path, &kw_len, &has_kw);
            if (st == SBERT_OK) {
                const cJSON *lc = cJSON_GetObjectItemCaseSensitive(sbc, "do_lower_case");
                if (lc && !cJSON_IsNull(lc)) {
                    if (!cJSON_IsBool(lc))
                        st = sbert_fail(SBERT_ERR_FORMAT, "%s: \"do_lower_case\" must be true or false",
                                        path);
                    else
                        m->do_lower_case = cJSON_IsTrue(lc);
                }
            }
            if (st == SBERT_OK) {
                const cJSON *task = cJSON_GetObjectItemCaseSensitive(sbc, "transformer_task");
                if (task && cJSON_IsString(task) &&
                    strcmp(task->valuestring, "feature-extraction") != 0)
                    st = sbert_fail(SBERT_ERR_UNSUPPORTED,
                                    "%s: transformer_task \"%s\" is not supported by a "
                                    "SentenceTransformer (only feature-extraction)",
                                    path, task->valuestring);
            }
            cJSON_Delete(sbc);
            SBERT_TRY(st);
        }
    }
    if (has_kw) {
        m->max_seq_length = kw_len;
    } else if (has_msl) {
        m->max_seq_length = msl;
    } else {
        /* tokenizer_config.json model_max_length (transformers' default when
         * absent is "very large"), capped at what the position embeddings
         * allow (Python caps at max_position_embeddings, i.e. 514 rather than
         * 512 for RoBERTa-style models, where longer inputs would fail). */
        size_t tml = (size_t)1e15;
        cJSON *tc = NULL;
        SBERT_TRY(json_load_optional(tdir, "tokenizer_config.json", path, &tc));
        if (tc && cJSON_IsObject(tc)) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(tc, "model_max_length");
            if (cJSON_IsNumber(v) && v->valuedouble >= 1)
                tml = v->valuedouble > 1e15 ? (size_t)1e15 : (size_t)v->valuedouble;
        }
        cJSON_Delete(tc);
        m->max_seq_length = tml < m->max_tokens ? tml : m->max_tokens;
    }
    if (m->max_seq_length == 0)
        return sbert_fail(SBERT_ERR_FORMAT, "%s: max_seq_length is 0", tdir);
    return SBERT_OK;
}

/* ------------------------------------------- config_sentence_transformers */

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
    prompt_entry *np = realloc(m->prompts, (m->n_prompts + 1) * sizeof *np);
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

static sbert_status load_st_config(sbert_model *m) {
    char path[PATH_CAP];
    cJSON *cfg = NULL;
    SBERT_TRY(json_load_optional(m->dir, "config_sentence_transformers.json", path, &cfg));
    if (!cfg) return SBERT_OK;
    sbert_status st = SBERT_OK;
    if (!cJSON_IsObject(cfg)) {
        st = sbert_fail(SBERT_ERR_FORMAT, "%s: not a JSON object", path);
        goto done;
    }
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(cfg, "model_type");
    if (mt && !cJSON_IsNull(mt) &&
        !(cJSON_IsString(mt) && strcmp(mt->valuestring, "SentenceTransformer") == 0)) {
        st = sbert_fail(SBERT_ERR_UNSUPPORTED,
                        "%s: model_type \"%s\" cannot be loaded as a SentenceTransformer", path,
                        cJSON_IsString(mt) ? mt->valuestring : "(not a string)");
        goto done;
    }
    const cJSON *prompts = cJSON_GetObjectItemCaseSensitive(cfg, "prompts");
    if (prompts && !cJSON_IsNull(prompts)) {
        if (!cJSON_IsObject(prompts)) {
            st = sbert_fail(SBERT_ERR_FORMAT, "%s: \"prompts\" must be an object", path);
            goto done;
        }
        const cJSON *p;
        cJSON_ArrayForEach(p, prompts) {
            if (cJSON_IsNull(p)) {
                /* None placeholders become "" (as the Python defaults). */
                if (!sbert_model_prompt(m, p->string)) st = set_prompt(m, p->string, "");
            } else if (!cJSON_IsString(p)) {
                st = sbert_fail(SBERT_ERR_FORMAT, "%s: prompts[\"%s\"] must be a string", path,
                                p->string);
            } else {
                st = set_prompt(m, p->string, p->valuestring);
            }
            if (st != SBERT_OK) goto done;
        }
    }
    const cJSON *dpn = cJSON_GetObjectItemCaseSensitive(cfg, "default_prompt_name");
    if (dpn && !cJSON_IsNull(dpn)) {
        if (!cJSON_IsString(dpn)) {
            st = sbert_fail(SBERT_ERR_FORMAT, "%s: \"default_prompt_name\" must be a string", path);
            goto done;
        }
        if (!sbert_model_prompt(m, dpn->valuestring)) {
            st = sbert_fail(SBERT_ERR_FORMAT,
                            "%s: default_prompt_name \"%s\" is not a key of \"prompts\"", path,
                            dpn->valuestring);
            goto done;
        }
        m->default_prompt_name = dupstr(dpn->valuestring);
        if (!m->default_prompt_name) {
            st = nomem("default_prompt_name");
            goto done;
        }
    }
    /* Python keeps a saved similarity_fn_name only when it supports it
     * (cosine, dot, euclidean, manhattan) and silently ignores anything else
     * (e.g. a multi-vector "maxsim"), leaving the default cosine. */
    const cJSON *sim = cJSON_GetObjectItemCaseSensitive(cfg, "similarity_fn_name");
    if (cJSON_IsString(sim)) {
        static const char *const ok[] = {"cosine", "dot", "euclidean", "manhattan"};
        for (int i = 0; i < 4; i++)
            if (strcmp(sim->valuestring, ok[i]) == 0)
                snprintf(m->sim_name, sizeof m->sim_name, "%s", ok[i]);
    }
    int has_td = 0;
    st = json_size(cfg, "truncate_dim", path, &m->truncate_dim, &has_td);
    if (st == SBERT_OK && has_td && m->truncate_dim == 0)
        st = sbert_fail(SBERT_ERR_FORMAT, "%s: \"truncate_dim\" must be positive", path);
done:
    cJSON_Delete(cfg);
    return st;
}

/* ---------------------------------------------------------- modules.json */

static sbert_status add_post(sbert_model *m, sbert_post_module pm) {
    sbert_post_module *np = realloc(m->post, (m->n_post + 1) * sizeof *np);
    if (!np) {
        sbert_dense_free(pm.dense);
        free(pm.path);
        return nomem("modules");
    }
    m->post = np;
    m->post[m->n_post++] = pm;
    return SBERT_OK;
}

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

static sbert_status load_modules(sbert_model *m, const char *modules_path) {
    cJSON *mods = NULL;
    SBERT_TRY(sbert_json_load(modules_path, &mods));
    sbert_status st = SBERT_OK;
    if (!cJSON_IsArray(mods) || cJSON_GetArraySize(mods) == 0) {
        st = sbert_fail(SBERT_ERR_FORMAT, "%s: expected a non-empty JSON list of modules",
                        modules_path);
        goto done;
    }
    /* Python loads in list order (idx is informational). */
    int i = 0, have_pool = 0;
    size_t cur_dim = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, mods) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(e, "type");
        const cJSON *pathj = cJSON_GetObjectItemCaseSensitive(e, "path");
        if (!cJSON_IsObject(e) || !cJSON_IsString(type) || !cJSON_IsString(pathj)) {
            st = sbert_fail(SBERT_ERR_FORMAT,
                            "%s: entry %d must be an object with string \"type\" and \"path\"",
                            modules_path, i);
            goto done;
        }
        if (!safe_rel_path(pathj->valuestring)) {
            st = sbert_fail(SBERT_ERR_FORMAT, "%s: entry %d: path \"%s\" leaves the model directory",
                            modules_path, i, pathj->valuestring);
            goto done;
        }
        char sub[PATH_CAP];
        if (pathj->valuestring[0]) {
            st = sbert_path_join(sub, sizeof sub, m->dir, pathj->valuestring);
            if (st != SBERT_OK) goto done;
        } else {
            snprintf(sub, sizeof sub, "%s", m->dir);
        }
        module_type mt = classify_type(type->valuestring);
        if (mt == MT_UNKNOWN) {
            st = sbert_fail(SBERT_ERR_UNSUPPORTED,
                            "%s: entry %d: module type \"%s\" is not supported (sbert handles "
                            "Transformer, StaticEmbedding, Pooling, Dense and Normalize)",
                            modules_path, i, type->valuestring);
            goto done;
        }
        if (i == 0 && mt == MT_STATIC) {
            /* StaticEmbedding: tokenizer.json + table in its folder; it
             * produces the sentence embedding itself (no Pooling). */
            char tokpath[PATH_CAP];
            st = sbert_path_join(tokpath, sizeof tokpath, sub, "tokenizer.json");
            if (st == SBERT_OK) st = sbert_tokenizer_load(tokpath, &m->tok);
            if (st == SBERT_OK) st = sbert_static_embedding_load(sub, &m->static_emb);
            if (st != SBERT_OK) goto done;
            cur_dim = m->static_emb->dim;
            m->max_seq_length = 0;
            have_pool = 1;
            i++;
            continue;
        }
        if ((i == 0) != (mt == MT_TRANSFORMER || mt == MT_STATIC) || (i > 0 && mt == MT_STATIC)) {
            st = sbert_fail(SBERT_ERR_UNSUPPORTED,
                            "%s: entry %d (\"%s\"): the Transformer (or StaticEmbedding) must be the "
                            "first module and appear once",
                            modules_path, i, type->valuestring);
            goto done;
        }
        if (!m->static_emb && (i == 1) != (mt == MT_POOLING)) {
            st = sbert_fail(SBERT_ERR_UNSUPPORTED,
                            "%s: entry %d (\"%s\"): sbert expects Pooling right after the "
                            "Transformer, and only there",
                            modules_path, i, type->valuestring);
            goto done;
        }
        switch (mt) {
        case MT_TRANSFORMER:
            st = load_transformer(m, sub, 1);
            if (st == SBERT_OK) cur_dim = sbert_transformer_hidden_size(m->tf);
            break;
        case MT_POOLING:
            st = sbert_pooling_load(sub, &m->pool);
            if (st == SBERT_OK && m->pool.dim != cur_dim)
                st = sbert_fail(SBERT_ERR_FORMAT,
                                "%s/config.json: embedding dimension %zu disagrees with the "
                                "Transformer's hidden_size %zu",
                                sub, m->pool.dim, cur_dim);
            if (st == SBERT_OK) {
                cur_dim = sbert_pooling_output_dim(&m->pool);
                have_pool = 1;
            }
            break;
        case MT_DENSE: {
            sbert_post_module pm = {SBERT_MOD_DENSE, NULL, cur_dim, 0, NULL};
            st = sbert_dense_load(sub, &pm.dense);
            if (st != SBERT_OK) break;
            if (sbert_dense_in_features(pm.dense) != cur_dim) {
                st = sbert_fail(SBERT_ERR_FORMAT,
                                "%s/config.json: in_features %zu disagrees with the dimension "
                                "of the previous module's output (%zu)",
                                sub, sbert_dense_in_features(pm.dense), cur_dim);
                sbert_dense_free(pm.dense);
                break;
            }
            pm.out_dim = sbert_dense_out_features(pm.dense);
            pm.path = dupstr(pathj->valuestring);
            if (!pm.path) {
                sbert_dense_free(pm.dense);
                st = nomem("module path");
                break;
            }
            cur_dim = pm.out_dim;
            st = add_post(m, pm);
            break;
        }
        case MT_NORMALIZE: {
            st = sbert_normalize_load(sub);
            if (st != SBERT_OK) break;
            sbert_post_module pm = {SBERT_MOD_NORMALIZE, NULL, cur_dim, cur_dim, NULL};
            pm.path = dupstr(pathj->valuestring);
            if (!pm.path) {
                st = nomem("module path");
                break;
            }
            st = add_post(m, pm);
            break;
        }
        default:
            break;
        }
        if (st != SBERT_OK) goto done;
        i++;
    }
    if (!have_pool) {
        st = sbert_fail(SBERT_ERR_UNSUPPORTED,
                        "%s: no Pooling module: sbert needs one to produce sentence embeddings",
                        modules_path);
        goto done;
    }
    m->full_dim = cur_dim;
done:
    cJSON_Delete(mods);
    return st;
}

sbert_status sbert_model_load(const char *dir, const sbert_load_options *opt, sbert_model **out) {
    if (!out) return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_model_load: out is NULL");
    *out = NULL;
    if (!dir || !*dir) return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_model_load: empty path");
    if (!sbert_dir_exists(dir))
        return sbert_fail(SBERT_ERR_IO, "%s: model directory does not exist", dir);
    /* The library's thread count (kernels and OpenBLAS); 0 keeps the current one. */
    if (opt && opt->num_threads > 0) sbert_set_num_threads(opt->num_threads);

    sbert_model *m = calloc(1, sizeof *m);
    if (!m) return nomem("model");
    m->dir = dupstr(dir);
    sbert_status st = m->dir ? SBERT_OK : nomem("model path");
    snprintf(m->sim_name, sizeof m->sim_name, "cosine");
    /* SentenceTransformer's default prompts. */
    if (st == SBERT_OK) st = set_prompt(m, "query", "");
    if (st == SBERT_OK) st = set_prompt(m, "document", "");

    char modules_path[PATH_CAP], config_path[PATH_CAP];
    if (st == SBERT_OK) st = sbert_path_join(modules_path, sizeof modules_path, dir, "modules.json");
    if (st == SBERT_OK) st = sbert_path_join(config_path, sizeof config_path, dir, "config.json");
    if (st == SBERT_OK) {
        if (sbert_file_exists(modules_path)) {
            st = load_st_config(m);
            if (st == SBERT_OK) st = load_modules(m, modules_path);
        } else if (sbert_file_exists(config_path)) {
            /* A plain Hugging Face model: Transformer + mean Pooling. */
            st = load_transformer(m, dir, 0);
            if (st == SBERT_OK) {
                memset(&m->pool, 0, sizeof m->pool);
                m->pool.dim = sbert_transformer_hidden_size(m->tf);
                m->pool.n_modes = 1;
                m->pool.modes[0] = SBERT_POOL_MEAN;
                m->pool.include_prompt = 1;
                m->full_dim = m->pool.dim;
            }
        } else {
            st = sbert_fail(SBERT_ERR_IO,
                            "%s: neither modules.json (a sentence-transformers model) nor "
                            "config.json (a Hugging Face model) found",
                            dir);
        }
    }
    if (st != SBERT_OK) {
        sbert_error_prefix("loading model %s: ", dir);
        sbert_model_free(m);
        return st;
    }
    *out = m;
    return SBERT_OK;
}

/* ---------------------------------------------------------------- encode */

sbert_encode_options sbert_encode_options_default(void) {
    sbert_encode_options o;
    memset(&o, 0, sizeof o);
    o.batch_size = 32;
    return o;
}

size_t sbert_model_encode_dim(const sbert_model *m, const sbert_encode_options *opt) {
    if (!m) return 0;
    size_t td = opt && opt->truncate_dim ? opt->truncate_dim : m->truncate_dim;
    return td && td < m->full_dim ? td : m->full_dim;
}

/* Lower-case UTF-8 text code point by code point (what the Lowercase
 * normalizer Python prepends for do_lower_case=True does, up to the few
 * characters whose full lowercase mapping has several code points). */
static sbert_status lowercase_utf8(const char *s, size_t n, char **out, size_t *out_len) {
    char *buf = malloc(n * 2 + 4);
    if (!buf) return nomem("lowercase");
    size_t o = 0, i = 0;
    while (i < n) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
                                              (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0) {
            free(buf);
            return sbert_fail(SBERT_ERR_INVALID_ARG, "invalid UTF-8 at byte offset %zu", i);
        }
        o += (size_t)utf8proc_encode_char(utf8proc_tolower(cp), (utf8proc_uint8_t *)buf + o);
        i += (size_t)k;
    }
    buf[o] = '\0';
    *out = buf;
    *out_len = o;
    return SBERT_OK;
}

/* Tokenize prompt + text the way Transformer.preprocess does. */
static sbert_status tokenize_text(const sbert_model *m, const char *prompt, const char *text,
                                  sbert_encoding *enc) {
    size_t pl = prompt ? strlen(prompt) : 0, tl = strlen(text);
    char *joined = NULL, *lower = NULL;
    const char *s = text;
    size_t n = tl;
    if (pl) {
        joined = malloc(pl + tl + 1);
        if (!joined) return nomem("prompt + text");
        memcpy(joined, prompt, pl);
        memcpy(joined + pl, text, tl + 1);
        s = joined;
        n = pl + tl;
    }
    sbert_status st = SBERT_OK;
    if (m->do_lower_case) {
        st = lowercase_utf8(s, n, &lower, &n);
        if (st == SBERT_OK) s = lower;
    }
    if (st == SBERT_OK) {
        sbert_tokenize_options to = sbert_tokenize_options_default();
        to.add_special_tokens = 1;
        to.max_length = (long)(m->max_seq_length < m->max_tokens ? m->max_seq_length : m->max_tokens);
        to.strategy = SBERT_TRUNCATE_LONGEST_FIRST;
        st = sbert_tokenizer_encode(m->tok, s, n, NULL, 0, &to, enc);
    }
    free(joined);
    free(lower);
    return st;
}

/* StaticEmbedding.preprocess: prompt + text, no special tokens, no padding;
 * only a truncation written in tokenizer.json applies. */
static sbert_status tokenize_static(const sbert_model *m, const char *prompt, const char *text,
                                    sbert_encoding *enc) {
    size_t pl = prompt ? strlen(prompt) : 0, tl = strlen(text);
    char *joined = NULL;
    if (pl) {
        joined = malloc(pl + tl + 1);
        if (!joined) return nomem("prompt + text");
        memcpy(joined, prompt, pl);
        memcpy(joined + pl, text, tl + 1);
    }
    sbert_tokenize_options to = sbert_tokenize_options_default();
    to.add_special_tokens = 0;
    to.max_length = 0;
    sbert_status st = sbert_tokenizer_encode(m->tok, joined ? joined : text, pl + tl, NULL, 0, &to, enc);
    free(joined);
    return st;
}

const char *sbert_model_dir(const sbert_model *m) { return m->dir; }

void sbert_model_set_max_seq_length(sbert_model *m, size_t max_seq_length) {
    if (m && max_seq_length > 0) m->max_seq_length = max_seq_length;
}

sbert_status sbert_model_tokenize(const sbert_model *m, const char *prompt, const char *text,
                                  sbert_encoding *enc) {
    if (!m || !text || !enc) return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_model_tokenize: NULL argument");
    return m->static_emb ? tokenize_static(m, prompt, text, enc) : tokenize_text(m, prompt, text, enc);
}

sbert_status sbert_model_prompt_length(const sbert_model *m, const char *prompt, size_t *out) {
    *out = 0;
    if (!prompt || !*prompt) return SBERT_OK;
    sbert_encoding with = {0}, without = {0};
    SBERT_TRY(tokenize_text(m, NULL, prompt, &with));
    size_t len = with.len;
    if (len > 0) {
        /* Does the post-processor append a special token? Compare with the
         * encoding without special tokens: a trailing token that the plain
         * encoding does not end with was added (SEP, </s>, EOS). */
        sbert_tokenize_options to = sbert_tokenize_options_default();
        to.add_special_tokens = 0;
        to.max_length = -1;
        const char *s = prompt;
        char *lower = NULL;
        size_t n = strlen(prompt);
        sbert_status st = SBERT_OK;
        if (m->do_lower_case) {
            st = lowercase_utf8(prompt, n, &lower, &n);
            s = lower;
        }
        if (st == SBERT_OK) st = sbert_tokenizer_encode(m->tok, s, n, NULL, 0, &to, &without);
        free(lower);
        if (st != SBERT_OK) {
            sbert_encoding_free(&with);
            return st;
        }
        if (with.len > without.len &&
            (without.len == 0 || with.input_ids[len - 1] != without.input_ids[without.len - 1]))
            len--;
    }
    sbert_encoding_free(&with);
    sbert_encoding_free(&without);
    *out = len;
    return SBERT_OK;
}

/* Tokens with attention_mask 1 (all of them without a mask). */
static size_t real_tokens(const sbert_encoding *e) {
    if (!e->attention_mask) return e->len;
    size_t n = 0;
    for (size_t k = 0; k < e->len; k++) n += e->attention_mask[k] != 0;
    return n;
}

/* Python len(str): the number of code points. */
static size_t utf8_chars(const char *s) {
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) n++;
    return n;
}

typedef struct {
    size_t idx, len;
} len_idx;

static int cmp_len_desc(const void *a, const void *b) {
    const len_idx *x = a, *y = b;
    if (x->len != y->len) return x->len < y->len ? 1 : -1;
    return x->idx < y->idx ? -1 : (x->idx > y->idx);
}

/* Run Dense / Normalize modules on emb [n, full widths]; buffers a/b are
 * [n, max_width]. Returns the buffer holding the result. */
static float *run_post(const sbert_model *m, float *a, float *b, size_t n) {
    float *cur = a, *nxt = b;
    for (size_t i = 0; i < m->n_post; i++) {
        const sbert_post_module *pm = &m->post[i];
        if (pm->kind == SBERT_MOD_DENSE) {
            sbert_dense_forward(pm->dense, cur, n, nxt);
            float *t = cur;
            cur = nxt;
            nxt = t;
        } else {
            sbert_normalize_rows(cur, n, pm->in_dim);
        }
    }
    return cur;
}

sbert_status sbert_model_encode(sbert_model *m, const char *const *texts, size_t n,
                                const sbert_encode_options *opt_in, float *out) {
    if (!m) return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_model_encode: model is NULL");
    if (n == 0) return SBERT_OK;
    if (!texts || !out)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_model_encode: texts or out is NULL");
    for (size_t i = 0; i < n; i++)
        if (!texts[i])
            return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_model_encode: text %zu is NULL", i);
    sbert_encode_options opt = opt_in ? *opt_in : sbert_encode_options_default();
    size_t bs = opt.batch_size ? opt.batch_size : 32;
    if (bs > n) bs = n; /* buffers below are sized by the batch */

    /* Resolve the prompt as SentenceTransformer._resolve_prompt does. */
    const char *prompt = opt.prompt;
    if (!prompt) {
        if (opt.prompt_name) {
            prompt = sbert_model_prompt(m, opt.prompt_name);
            if (!prompt) {
                char keys[512] = "";
                size_t o = 0;
                for (size_t i = 0; i < m->n_prompts && o < sizeof keys; i++)
                    o += (size_t)snprintf(keys + o, sizeof keys - o, "%s'%s'", i ? ", " : "",
                                          m->prompts[i].name);
                return sbert_fail(SBERT_ERR_INVALID_ARG,
                                  "prompt name '%s' not found in the model's prompts (%s)",
                                  opt.prompt_name, keys);
            }
        } else if (m->default_prompt_name) {
            prompt = sbert_model_prompt(m, m->default_prompt_name);
        }
    }
    if (prompt && !*prompt) prompt = NULL;
    size_t prompt_len = 0;
    if (prompt && !m->static_emb && !m->pool.include_prompt)
        SBERT_TRY(sbert_model_prompt_length(m, prompt, &prompt_len));

    const size_t out_dim = sbert_model_encode_dim(m, &opt);
    const size_t hidden = m->static_emb ? 1 : sbert_transformer_hidden_size(m->tf);
    size_t width = m->static_emb ? m->static_emb->dim : sbert_pooling_output_dim(&m->pool);
    for (size_t i = 0; i < m->n_post; i++)
        if (m->post[i].out_dim > width) width = m->post[i].out_dim;

    len_idx *order = malloc(n * sizeof *order);
    sbert_encoding *encs = calloc(bs, sizeof *encs);
    size_t *offs = malloc((bs + 1) * sizeof *offs);
    float *pa = malloc(bs * width * sizeof *pa), *pb = malloc(bs * width * sizeof *pb);
    int32_t *ids = NULL, *types = NULL;
    float *hid = NULL;
    size_t cap_tokens = 0;
    sbert_status st = SBERT_OK;
    if (!order || !encs || !offs || !pa || !pb) {
        st = nomem("encode buffers");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        order[i].idx = i;
        order[i].len = utf8_chars(texts[i]);
    }
    qsort(order, n, sizeof *order, cmp_len_desc);

    for (size_t start = 0; start < n; start += bs) {
        size_t nb = n - start < bs ? n - start : bs;
        size_t total = 0;
        offs[0] = 0;
        for (size_t j = 0; j < nb; j++) {
            size_t ti = order[start + j].idx;
            st = m->static_emb ? tokenize_static(m, prompt, texts[ti], &encs[j])
                               : tokenize_text(m, prompt, texts[ti], &encs[j]);
            if (st != SBERT_OK) {
                sbert_error_prefix("text %zu: ", ti);
                goto done;
            }
            total += real_tokens(&encs[j]);
            offs[j + 1] = total;
        }
        if (total > cap_tokens) {
            free(ids);
            free(types);
            free(hid);
            ids = malloc(total * sizeof *ids);
            types = malloc(total * sizeof *types);
            hid = malloc(total * hidden * sizeof *hid);
            cap_tokens = total;
            if (!ids || !types || !hid) {
                cap_tokens = 0;
                st = nomem("token buffers");
                goto done;
            }
        }
        for (size_t j = 0; j < nb; j++) {
            /* Pack the real tokens (attention_mask 1): padding that a
             * tokenizer.json "padding" block may add is dropped here. */
            const sbert_encoding *e = &encs[j];
            size_t o = offs[j];
            for (size_t k = 0; k < e->len; k++) {
                if (e->attention_mask && !e->attention_mask[k]) continue;
                ids[o] = e->input_ids[k];
                types[o] = e->token_type_ids ? e->token_type_ids[k] : 0;
                o++;
            }
            sbert_encoding_free(&encs[j]);
            memset(&encs[j], 0, sizeof encs[j]);
        }
        if (m->static_emb) {
            st = sbert_static_embedding_forward(m->static_emb, ids, offs, nb, pa);
            if (st != SBERT_OK) goto done;
        } else {
            st = sbert_transformer_forward(m->tf, ids, types, offs, nb, hid);
            if (st != SBERT_OK) goto done;
            sbert_pooling_forward(&m->pool, hid, offs, nb, prompt_len, pa);
        }
        float *res = run_post(m, pa, pb, nb);
        for (size_t j = 0; j < nb; j++) {
            float *dst = out + order[start + j].idx * out_dim;
            memcpy(dst, res + j * m->full_dim, out_dim * sizeof *dst);
        }
        if (opt.normalize) {
            for (size_t j = 0; j < nb; j++)
                sbert_normalize_rows(out + order[start + j].idx * out_dim, 1, out_dim);
        }
        if (opt.progress) opt.progress(start + nb, n, opt.progress_user);
    }
done:
    if (encs)
        for (size_t j = 0; j < bs; j++)
            if (encs[j].input_ids) sbert_encoding_free(&encs[j]);
    free(order);
    free(encs);
    free(offs);
    free(pa);
    free(pb);
    free(ids);
    free(types);
    free(hid);
    return st;
}
