/*
 * modules/module.h -- the module contract: what every sentence-transformers
 * module (Transformer, StaticEmbedding, Pooling, Dense, Normalize, and next
 * the classification head, MLM head, SpladePooling, LoRA) implements, so
 * that encode, evaluation and training all run one list of modules.
 *
 * A module
 *   - loads itself from its sub-folder of a model directory (a loader in the
 *     registry below, keyed by the modules.json "type" class name) and saves
 *     itself back into a sub-folder in the layout Python reads;
 *   - runs forward over a batch of features, in inference mode or in training
 *     mode (dropout, and keeping what its backward needs);
 *   - runs backward: the gradient of its outputs in, the gradient of its
 *     inputs out, parameter gradients ACCUMULATED (+=) into the buffers the
 *     parameter table gave it;
 *   - registers its parameters in the model's parameter table
 *     (modules/params.h).
 *
 * Features flow through the list as in Python's features dict: the token ids
 * of a packed batch (no padding: sequence i is tokens offs[i]..offs[i+1]),
 * then token embeddings [T, tok_dim] (after a Transformer), then the sentence
 * embedding [n_seq, dim] (after Pooling or StaticEmbedding; Dense and
 * Normalize map it to a new one). Buffers a module writes come from the run's
 * arena (sbert_run_alloc), so the inputs of every module stay valid until the
 * backward of the same run: a module never overwrites its input.
 */
#ifndef SBERT_MODULES_MODULE_H
#define SBERT_MODULES_MODULE_H

#include <stddef.h>
#include <stdint.h>

#include "base/rng.h"
#include "modules/params.h"
#include "sbert.h"

typedef struct sbert_module sbert_module;
typedef struct sbert_run sbert_run;

/* The features of one batch between two modules. */
typedef struct {
    /* Packed token ids (set before the first module, read-only after). */
    size_t n_seq;          /* sequences in the batch */
    size_t T;              /* tokens: offs[n_seq] */
    const size_t *offs;    /* [n_seq + 1] */
    const int32_t *ids;    /* [T] */
    const int32_t *types;  /* [T] token type ids, or NULL (all 0) */
    size_t prompt_len;     /* leading tokens left out of pooling (include_prompt false) */
    /* Token embeddings: [T, tok_dim] or NULL. */
    float *tok;
    size_t tok_dim;
    /* Set by an MLM head (modules/mlm_head.h): tok holds its transformed
     * hidden states and this module owns the vocabulary decoder, which
     * SpladePooling applies fused per token block (NULL otherwise). */
    const sbert_module *mlm;
    /* Sentence embeddings: [n_seq, dim] or NULL. */
    float *emb;
    size_t dim;
} sbert_features;

/* Gradients with respect to the float features (same shapes; NULL = none). */
typedef struct {
    float *tok; /* [T, tok_dim] */
    float *emb; /* [n_seq, dim] */
} sbert_feature_grads;

/* A forward/backward run: training mode or not, the dropout generator, and
 * an arena that holds every buffer the modules write (freed or reused by the
 * caller after the backward). */
struct sbert_run {
    int train;        /* 1: training mode (dropout; keep what backward needs) */
    sbert_rng *rng;   /* dropout masks in training mode; NULL = no dropout */
    /* arena: blocks of floats handed out in order, kept across runs */
    void **blocks;
    size_t *block_cap;
    size_t n_blocks, used, cap_blocks;
};

/* A buffer of n floats (zeroed when zero != 0) that lives until the run is
 * reset; NULL on out-of-memory (with the message set). */
float *sbert_run_alloc(sbert_run *r, size_t n, int zero);
/* Start a new run reusing the arena's memory. */
void sbert_run_reset(sbert_run *r);
/* Release the arena. */
void sbert_run_free(sbert_run *r);

typedef struct {
    /* The Python class ("Transformer", "Pooling", ...), for messages. */
    const char *class_name;
    /* Forward: read f, set the outputs the module produces (tok or emb) to
     * new buffers from run. In training mode the module keeps what backward
     * needs in *rec (NULL when it needs nothing beyond the features). */
    sbert_status (*forward)(sbert_module *m, sbert_features *f, sbert_run *run, void **rec);
    /* Backward of the last training forward: in/out are the features before
     * and after this module, dout the gradient of its outputs; sets din's
     * fields for its inputs (new zeroed buffers from run; the module's input
     * of token ids gets none). Parameter gradients accumulate (+=). NULL for
     * a module that cannot be trained. */
    sbert_status (*backward)(sbert_module *m, const sbert_features *in, const sbert_features *out,
                             const sbert_feature_grads *dout, sbert_feature_grads *din, sbert_run *run,
                             void *rec);
    void (*rec_free)(sbert_module *m, void *rec);
    /* Register the parameters (names local to the module). NULL: none. */
    sbert_status (*params)(sbert_module *m, sbert_param_table *t);
    /* Write the module's files into dir (which exists). */
    sbert_status (*save)(const sbert_module *m, const char *dir);
    /* Output width: tok_dim for token-level modules, dim for sentence-level. */
    size_t (*out_dim)(const sbert_module *m);
    void (*free)(sbert_module *m);

    /* Input modules only (the first module: Transformer, StaticEmbedding);
     * NULL elsewhere. Tokenize prompt + text (pair: the second text of a
     * pair, or NULL) exactly as the Python module's tokenize does. */
    sbert_status (*tokenize)(const sbert_module *m, const char *prompt, const char *text, const char *pair,
                             sbert_encoding *enc);
    /* Tokens of `prompt` to leave out of pooling (Transformer._get_prompt_length);
     * NULL: 0. */
    sbert_status (*prompt_length)(const sbert_module *m, const char *prompt, size_t *out);
    const sbert_tokenizer *(*tokenizer)(const sbert_module *m);
    /* Tokens per text after truncation (0 = no limit); set: > 0 overrides. */
    size_t (*max_seq_length)(const sbert_module *m);
    void (*set_max_seq_length)(sbert_module *m, size_t n);
} sbert_module_ops;

/* The part every module struct starts with. */
struct sbert_module {
    const sbert_module_ops *ops;
    char *type;   /* modules.json "type" written back on save */
    char *config; /* the config.json text the module was loaded from, written
                     back unchanged on save (NULL: the module writes its own) */
    /* Set by the model when it registers the module's parameters: its rows
     * are pfirst .. pfirst + pcount - 1 of pt, in the order params() added
     * them (a backward finds its gradient buffers there). */
    sbert_param_table *pt;
    size_t pfirst, pcount;
};

/* Set the common fields (strings copied; config may be NULL). */
sbert_status sbert_module_init(sbert_module *m, const sbert_module_ops *ops, const char *type,
                               const char *config);
/* Free the common fields (each module's free calls it). */
void sbert_module_fini(sbert_module *m);
/* Free a module through its ops (NULL is a no-op). */
void sbert_module_free(sbert_module *m);
/* Write m->config (if any) as dir/config.json. */
sbert_status sbert_module_save_config(const sbert_module *m, const char *dir);
/* Read dir/config.json into *text (NULL when absent; malloc'd). */
sbert_status sbert_module_read_config(const char *dir, char **text);

/* ---------------------------------------------------------- registry */

/* What a loader gets: the module's folder, its position, the model
 * directory, and the width of the previous module's output (0 for the
 * first). */
typedef struct {
    const char *dir;        /* the module's folder */
    const char *model_dir;  /* the model directory */
    const char *type;       /* the modules.json "type" string */
    size_t index;           /* position in modules.json */
    size_t in_dim;          /* previous module's output width */
    int read_st_config;     /* 0 for a plain Hugging Face directory; 2: a CrossEncoder's Transformer
                               (sentence_bert_config.json transformer_task sequence-classification) */
} sbert_module_load_ctx;

typedef sbert_status (*sbert_module_loader)(const sbert_module_load_ctx *ctx, sbert_module **out);

typedef enum { SBERT_MODULE_INPUT, SBERT_MODULE_TOKEN, SBERT_MODULE_SENTENCE } sbert_module_level;

typedef struct {
    const char *class_name;   /* "Transformer" */
    sbert_module_loader load;
    sbert_module_level level; /* INPUT: ids in; TOKEN: token embeddings in; SENTENCE: embedding in */
    int produces_sentence;    /* 1: its output is the sentence embedding */
    const char *legacy_type;  /* the type name written for a new module */
} sbert_module_class;

/* The class of a modules.json "type" (legacy sentence_transformers.models.X
 * and the v5.4+/v6 paths), or NULL. */
const sbert_module_class *sbert_module_class_find(const char *type);
/* The class by its short name ("Pooling"), or NULL. */
const sbert_module_class *sbert_module_class_named(const char *class_name);
/* "Transformer, StaticEmbedding, Pooling, Dense, Normalize" (for messages). */
const char *sbert_module_class_list(void);

#endif
