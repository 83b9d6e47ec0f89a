/*
 * evaluation/eval_api.c -- sbert_evaluate(): run an evaluator (or a comma
 * list of them, SequentialEvaluator) over data files with a loaded
 * sbert_model (the `sbert evaluate` command), and the model encoder that the
 * trainer's evaluations use too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "evaluation/evaluators.h"
#include "models/model.h"

static sbert_status encode_cb(void *ctx, const char *const *texts, size_t n, float *out) {
    sbert_model_encode_ctx *c = ctx;
    return sbert_model_encode(c->model, texts, n, &c->opt, out);
}

static sbert_status predict_cb(void *ctx, const char *const *a, const char *const *b, size_t n, float *out) {
    sbert_model_encode_ctx *c = ctx;
    sbert_predict_options o = sbert_predict_options_default();
    o.batch_size = c->opt.batch_size;
    return sbert_cross_encoder_predict(c->model, a, b, n, &o, out);
}

static sbert_status no_encode_cb(void *ctx, const char *const *texts, size_t n, float *out) {
    (void)ctx, (void)texts, (void)n, (void)out;
    return sbert_fail(SBERT_ERR_UNSUPPORTED, "a CrossEncoder scores pairs and does not embed texts: use a "
                                             "CrossEncoder evaluator");
}

void sbert_eval_encoder_for_model(sbert_model *m, size_t batch_size, sbert_model_eval_ctx *ctx,
                                  sbert_eval_encoder *enc) {
    memset(enc, 0, sizeof *enc);
    ctx->plain.model = m;
    ctx->plain.opt = sbert_encode_options_default();
    if (batch_size) ctx->plain.opt.batch_size = batch_size;
    ctx->query = ctx->plain;
    ctx->document = ctx->plain;
    /* encode_query / encode_document: the "query" and "document" prompts
     * apply when the model defines them, as in sentence-transformers v6. */
    if (sbert_model_prompt(m, "query")) ctx->query.opt.prompt_name = "query";
    if (sbert_model_prompt(m, "document")) ctx->document.opt.prompt_name = "document";
    /* ... and the task a Router routes by */
    ctx->query.opt.task = "query";
    ctx->document.opt.task = "document";
    enc->fn = encode_cb;
    enc->ctx = &ctx->plain;
    enc->query_ctx = &ctx->query;
    enc->document_ctx = &ctx->document;
    enc->dim = sbert_model_encode_dim(m, &ctx->plain.opt);
    enc->score_fn = sbert_model_similarity_fn_name(m);
    if (sbert_model_is_cross_encoder(m)) {
        enc->fn = no_encode_cb;
        enc->predict = predict_cb;
        enc->predict_ctx = &ctx->plain;
        enc->num_labels = sbert_cross_encoder_num_labels(m);
    }
    enc->kind_bit = 1u << m->kind;
    enc->classifier = NULL;
}

sbert_status sbert_evaluate(sbert_model *model, const char *evaluator, const char *eval_data, const char *name,
                            size_t batch_size, sbert_eval_summary *out) {
    memset(out, 0, sizeof *out);
    if (!model || !eval_data) return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_evaluate: NULL model or data path");
    sbert_evaluator_set *set = NULL;
    SBERT_TRY(sbert_evaluator_set_load_kind((int)model->kind, evaluator, eval_data,
                                            name ? name : "", 0, &set));
    sbert_model_eval_ctx ctx;
    sbert_eval_encoder enc;
    sbert_eval_encoder_for_model(model, batch_size, &ctx, &enc);
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
