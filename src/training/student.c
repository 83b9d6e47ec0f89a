/*
 * training/student.c -- what a recipe does to the trained model right after
 * loading it, beyond the loader's own options:
 *
 *   layers_to_keep: [0, 3, 6, 9] -- layer pruning (the skill's distillation
 *     docstring: "copy the teacher, keep layers 0, 3, 6 and 9, then distil";
 *     sentence-transformers' model_distillation_layer_reduction.py keeps the
 *     auto_model.encoder.layer entries in layers_to_keep and sets
 *     config.num_hidden_layers). With model = the teacher's directory the
 *     student is a pruned copy of the teacher; any transformer model works.
 *     The list must be non-empty, increasing, without repeats, each index
 *     below the encoder's layer count.
 *
 *   model_kwargs: {torch_dtype: ...} -- SentenceTransformer(model_kwargs=...).
 *     float32 is what sbert does. bfloat16 makes Python hold, run and update
 *     the weights in bf16 (pure-bf16 training); sbert has no bf16 weights: it
 *     keeps fp32 master weights and AdamW state and runs the encoder's linear
 *     layers in bf16 with bf16: true (autocast). So bfloat16 is accepted only
 *     together with bf16: true -- evaluation and training then multiply in
 *     bf16 -- and refused alone, naming bf16: true. auto takes the
 *     checkpoint's config.json torch_dtype (dtype) and follows the same
 *     rules. Other model_kwargs keys are refused when the recipe is read
 *     (train_args.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/error.h"
#include "io/file.h"
#include "losses/loss.h"
#include "training/trainer_internal.h"

#define MAX_KEEP 1024

static const char *origin(const sbert_trainer *t, const char *key) {
    return t->recipe ? sbert_recipe_origin(t->recipe, key) : key;
}

sbert_status sbert_train_student_layers(sbert_trainer *t) {
    const char *v = t->a->layers_to_keep;
    if (!v) return SBERT_OK;
    const char *where = origin(t, "layers_to_keep");
    if (t->a->lora_r > 0)
        return sbert_fail(SBERT_ERR_UNSUPPORTED,
                          "%s: layers_to_keep with LoRA (lora_r) is not supported: the adapter is saved against the "
                          "unpruned base model. Prune first (sbert prune --model DIR --layers %s --output DIR2) and "
                          "train the adapter on DIR2",
                          where, v);
    const char *s = v;
    while (*s == ' ' || *s == '[') s++;
    if (!*s || *s == ']')
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "%s: layers_to_keep is empty: list the encoder layers the student keeps, e.g. [0, 3, 6, 9]",
                          where);
    double *vals = malloc(MAX_KEEP * sizeof *vals);
    size_t *keep = malloc(MAX_KEEP * sizeof *keep), n = 0;
    sbert_status st = vals && keep ? SBERT_OK : sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    if (st == SBERT_OK && !sbert_loss_parse_list(v, vals, MAX_KEEP, &n))
        st = sbert_fail(SBERT_ERR_INVALID_ARG,
                        "%s: layers_to_keep must be a list of layer indices such as [0, 3, 6, 9], got '%s'", where, v);
    for (size_t i = 0; st == SBERT_OK && i < n; i++) {
        if (vals[i] < 0 || vals[i] != floor(vals[i]) || vals[i] > 1e9)
            st = sbert_fail(SBERT_ERR_INVALID_ARG, "%s: layers_to_keep: '%g' is not a layer index (0, 1, 2, ...)",
                            where, vals[i]);
        else
            keep[i] = (size_t)vals[i];
    }
    size_t before = sbert_model_num_layers(t->model);
    if (st == SBERT_OK) {
        st = sbert_model_keep_layers(t->model, keep, n);
        if (st != SBERT_OK) sbert_error_prefix("%s: layers_to_keep: ", where);
    }
    if (st == SBERT_OK) {
        size_t len = strlen(t->model_desc);
        snprintf(t->model_desc + len, sizeof t->model_desc - len, ", layers %s of %zu kept", v, before);
    }
    free(vals);
    free(keep);
    return st;
}

/* The checkpoint's torch_dtype (or dtype) from config.json at the model root
 * or in its first module's folder; "" when none says. */
static void checkpoint_dtype(const sbert_model *m, char *out, size_t cap) {
    out[0] = '\0';
    if (!sbert_model_dir(m) || !*sbert_model_dir(m)) return; /* a new StaticEmbedding: float32 */
    static const char *const files[] = {"config.json", "0_Transformer/config.json"};
    for (size_t i = 0; i < 2 && !out[0]; i++) {
        char path[4200];
        if (sbert_path_join(path, sizeof path, sbert_model_dir(m), files[i]) != SBERT_OK || !sbert_file_exists(path))
            continue;
        cJSON *cfg = NULL;
        if (sbert_json_load(path, &cfg) != SBERT_OK) {
            sbert_error_clear();
            continue;
        }
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(cfg, "torch_dtype");
        if (!cJSON_IsString(d)) d = cJSON_GetObjectItemCaseSensitive(cfg, "dtype");
        if (cJSON_IsString(d)) snprintf(out, cap, "%s", d->valuestring);
        cJSON_Delete(cfg);
    }
}

sbert_status sbert_train_model_dtype(sbert_trainer *t) {
    const sbert_train_args *a = t->a;
    if (a->model_dtype == SBERT_DTYPE_UNSET || a->model_dtype == SBERT_DTYPE_FLOAT32) return SBERT_OK;
    const char *where = origin(t, "model_kwargs");
    const char *what = "bfloat16";
    if (a->model_dtype == SBERT_DTYPE_AUTO) {
        char dt[64];
        checkpoint_dtype(t->model, dt, sizeof dt);
        if (!strncmp(dt, "torch.", 6)) memmove(dt, dt + 6, strlen(dt + 6) + 1);
        if (!strcmp(dt, "float16"))
            return sbert_fail(SBERT_ERR_UNSUPPORTED,
                              "%s: model_kwargs torch_dtype auto: '%s' is saved in float16, and fp16 is not "
                              "implemented; give torch_dtype float32",
                              where, a->model);
        if (strcmp(dt, "bfloat16")) return SBERT_OK; /* float32 (or unsaid): what sbert does */
        what = "auto (the checkpoint is bfloat16)";
    }
    if (!a->bf16)
        return sbert_fail(SBERT_ERR_UNSUPPORTED,
                          "%s: model_kwargs torch_dtype %s would load, run and update the weights in bf16 (pure-bf16 "
                          "training); sbert keeps fp32 master weights and optimizer state. Add bf16: true (autocast: "
                          "the encoder's linear layers multiply in bf16, in training and evaluation; save_in_bf16: "
                          "true saves bf16 weights), or use torch_dtype float32",
                          where, what);
    sbert_log(t->log, "model_kwargs torch_dtype %s with bf16: true: the encoder's linear layers multiply in bf16 in "
                      "training and evaluation; the weights and AdamW state stay fp32 (not pure-bf16)\n",
              what);
    return SBERT_OK;
}
