/*
 * evaluation/eval_api.c -- sbert_evaluate(): run an evaluator (or a comma
 * list of them, SequentialEvaluator) over data files with a loaded
 * sbert_model (the `sbert evaluate` command).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "evaluation/evaluators.h"

typedef struct {
    sbert_model *model;
    sbert_encode_options opt;
} model_ctx;

static sbert_status encode_cb(void *ctx, const char *const *texts, size_t n, float *out) {
    model_ctx *c = ctx;
    return sbert_model_encode(c->model, texts, n, &c->opt, out);
}

sbert_status sbert_evaluate(sbert_model *model, const char *evaluator, const char *eval_data, const char *name,
                            size_t batch_size, sbert_eval_summary *out) {
    memset(out, 0, sizeof *out);
    if (!model || !eval_data) return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_evaluate: NULL model or data path");
    sbert_evaluator_set *set = NULL;
    SBERT_TRY(sbert_evaluator_set_load(evaluator, eval_data, name ? name : "", 0, &set));
    /* encode / encode_query / encode_document: the "query" and "document"
     * prompts apply when the model defines them, as in sentence-transformers v6. */
    model_ctx plain = {model, sbert_encode_options_default()};
    if (batch_size) plain.opt.batch_size = batch_size;
    model_ctx query = plain, doc = plain;
    if (sbert_model_prompt(model, "query")) query.opt.prompt_name = "query";
    if (sbert_model_prompt(model, "document")) doc.opt.prompt_name = "document";
    sbert_eval_encoder enc = {encode_cb, &plain, &query, &doc, sbert_model_encode_dim(model, &plain.opt),
                              sbert_model_similarity_fn_name(model)};
    sbert_eval_result *r = malloc(sizeof *r);
    sbert_status st = r ? sbert_evaluator_set_run(set, &enc, r) : sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    if (st == SBERT_OK) {
        size_t cap = sizeof out->metrics / sizeof out->metrics[0];
        for (size_t i = 0; i < r->n && i < cap; i++) {
            snprintf(out->metrics[i].key, sizeof out->metrics[i].key, "%s", r->m[i].key);
            out->metrics[i].value = r->m[i].value;
        }
        out->n = r->n < cap ? r->n : cap;
        snprintf(out->primary, sizeof out->primary, "%s", r->primary);
    }
    free(r);
    sbert_evaluator_set_free(set);
    return st;
}
