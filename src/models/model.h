/*
 * models/model.h -- internal view of a model (the public handle is
 * sbert_model in sbert.h): a KIND plus a LIST OF MODULES (modules/module.h),
 * the first of which owns the tokenizer, plus the settings of
 * config_sentence_transformers.json (prompts, default prompt, similarity
 * function, truncate_dim).
 *
 * Encode, evaluation and training all run that one list:
 *   sbert_model_encode          inference (models/pipeline.c);
 *   sbert_model_forward_train   training forward over a packed batch, keeping
 *                               what backward needs inside the model;
 *   sbert_model_backward        the gradient of the output embeddings in,
 *                               parameter gradients (+=) out;
 *   sbert_model_params          the parameter table (modules/params.h);
 *   sbert_model_save            each module saves itself into its folder,
 *                               plus modules.json and
 *                               config_sentence_transformers.json.
 * The trainer never looks inside a module.
 */
#ifndef SBERT_MODELS_MODEL_H
#define SBERT_MODELS_MODEL_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "base/rng.h"
#include "models/packed.h"
#include "modules/module.h"
#include "modules/params.h"
#include "sbert.h"

typedef enum {
    SBERT_KIND_SENTENCE_TRANSFORMER = 0,
    SBERT_KIND_CROSS_ENCODER,
    SBERT_KIND_SPARSE_ENCODER,
    SBERT_KIND_COUNT
} sbert_model_kind;

/* "SentenceTransformer", "CrossEncoder", "SparseEncoder". */
const char *sbert_model_kind_name(sbert_model_kind k);
/* The kind named `name`, or -1. */
int sbert_model_kind_parse(const char *name);

typedef struct {
    char *name;
    char *text;
} sbert_prompt;

struct sbert_model {
    char *dir;                 /* the directory it was loaded from ("" for a new model) */
    sbert_model_kind kind;
    sbert_module **mods;       /* [n_mods], mods[0] the input module */
    char **mod_names, **mod_paths; /* modules.json "name" and "path" of each */
    size_t n_mods;
    cJSON *st_config;          /* config_sentence_transformers.json as loaded, or NULL */
    sbert_prompt *prompts;
    size_t n_prompts;
    char *default_prompt_name;
    char sim_name[16];
    size_t truncate_dim;       /* 0: none */
    size_t full_dim;           /* width of the last module's output */
    /* training */
    sbert_param_table *params; /* built and sealed by sbert_model_params */
    sbert_run run;             /* buffers of the last training forward */
    sbert_features *stages;    /* [n_mods + 1]: features before module i / after the last */
    void **recs;               /* [n_mods] what each module kept for its backward */
    int busy;                  /* a training forward waits for its backward */
};

/* Load `dir` as a model of `kind` (sbert_model_load is the SentenceTransformer case). */
sbert_status sbert_model_load_kind(const char *dir, sbert_model_kind kind, const sbert_load_options *opt,
                                   sbert_model **out);

/* ---- for the loaders of each kind */

/* An empty model of `kind` for directory `dir` (default prompts, cosine). */
sbert_status sbert_model_new_empty(const char *dir, sbert_model_kind kind, sbert_model **out);
/* Append a module with its modules.json name and path; full_dim becomes its
 * output width. The module is freed on failure. */
sbert_status sbert_model_add_module(sbert_model *m, sbert_module *mod, const char *name, const char *path);
/* config_sentence_transformers.json of m->dir, if present: prompts, default
 * prompt, similarity function, truncate_dim; its model_type must be m->kind. */
sbert_status sbert_model_read_st_config(sbert_model *m);
/* The modules listed in modules.json, through the module registry. */
sbert_status sbert_model_load_modules_json(sbert_model *m, const char *modules_path);
/* Per kind: read m->dir into m (model.c, cross_encoder.c, sparse_encoder.c;
 * load.c picks one). */
sbert_status sbert_st_load_dir(sbert_model *m);
sbert_status sbert_cross_encoder_load_dir(sbert_model *m);
sbert_status sbert_sparse_encoder_load_dir(sbert_model *m);

/* A new StaticEmbedding model over `tokenizer_json` with a [vocab, dim]
 * table drawn from N(0, 1) with `seed`. */
sbert_status sbert_model_new_static(const char *tokenizer_json, size_t dim, uint64_t seed, sbert_model **out);

/* Set (or replace) the prompt `name`; saved in config_sentence_transformers.json. */
sbert_status sbert_model_set_prompt(sbert_model *m, const char *name, const char *text);
/* default_prompt_name (NULL: none); it must name one of the prompts. */
sbert_status sbert_model_set_default_prompt_name(sbert_model *m, const char *name);

/* The input module (mods[0]). */
sbert_module *sbert_model_input(const sbert_model *m);
/* The first module of class `class_name` ("Pooling"), or NULL. */
sbert_module *sbert_model_find_module(const sbert_model *m, const char *class_name);
/* The width of the pipeline output before any truncate_dim. */
size_t sbert_model_full_dim(const sbert_model *m);
/* The model's own truncate_dim from config_sentence_transformers.json (0 = none). */
size_t sbert_model_truncate_dim(const sbert_model *m);
/* The directory the model was loaded from. */
const char *sbert_model_dir(const sbert_model *m);
/* Override max_seq_length (> 0). SBERT_ERR_INVALID_ARG when the input
 * module has none (StaticEmbedding). */
sbert_status sbert_model_set_max_seq_length(sbert_model *m, size_t max_seq_length);

/* Tokenize one text (pair: the second text, or NULL) with an optional
 * prompt exactly as encode() does (the input module's rules). enc is filled
 * as sbert_tokenizer_encode does (free with sbert_encoding_free); padding a
 * tokenizer.json may ask for shows up as attention_mask 0. */
sbert_status sbert_model_tokenize(const sbert_model *m, const char *prompt, const char *text, const char *pair,
                                  sbert_encoding *enc);
/* Tokenize n texts into a packed column (ids, types, offsets). A failing
 * text is named by its index ("row 12: ..."). */
sbert_status sbert_model_tokenize_column(const sbert_model *m, const char *prompt, const char *const *texts,
                                         size_t n, sbert_packed *out);
/* Tokens of the prompt left out of pooling when a Pooling has
 * include_prompt false (0 otherwise). */
sbert_status sbert_model_prompt_length(const sbert_model *m, const char *prompt, size_t *out);

/* ---- training (models/pipeline.c) */

/* The parameter table of every module, rows named "<module index>.<name>",
 * built and sealed (gradients allocated, zero) on the first call. */
sbert_status sbert_model_params(sbert_model *m, sbert_param_table **out);

/* Training forward over a packed batch (any number of sequences, e.g. the
 * rows of several columns laid end to end): out [batch->n, full_dim].
 * rng: dropout masks (NULL: none). What backward needs stays in the model
 * until sbert_model_backward or sbert_model_release. One at a time. */
sbert_status sbert_model_forward_train(sbert_model *m, const sbert_packed *batch, sbert_rng *rng, float *out);
/* The same, with the first prompt_len tokens of every sequence left out of
 * pooling (a prompt under a Pooling with include_prompt false). */
sbert_status sbert_model_forward_train_prompt(sbert_model *m, const sbert_packed *batch, size_t prompt_len,
                                              sbert_rng *rng, float *out);
/* Backward of the last training forward: dout [n, full_dim]; parameter
 * gradients accumulate in the table's buffers. Releases the forward. */
sbert_status sbert_model_backward(sbert_model *m, const float *dout);
/* Drop what the last training forward kept (no backward). */
void sbert_model_release(sbert_model *m);

/* Save into `dir` (created if missing) in the sentence-transformers layout:
 * each module into its folder, modules.json, config_sentence_transformers.json.
 * Files are written atomically one by one; callers that need the whole
 * directory to appear at once save into a temporary folder and publish it. */
sbert_status sbert_model_save(const sbert_model *m, const char *dir);
/* The SentenceTransformer / SparseEncoder layout (modules.json + module
 * folders); sbert_model_save (load.c) uses it for every kind but CrossEncoder. */
sbert_status sbert_st_save_dir(const sbert_model *m, const char *dir);
/* Copy the weights of the model saved in `dir` (same architecture) into m,
 * matched by parameter name and shape. */
sbert_status sbert_model_load_weights(sbert_model *m, const char *dir);

#endif
