/*
 * evaluation/eval_api.c -- sbert_evaluate(): run an evaluator over a data
 * file with a loaded sbert_model (the `sbert eval` command).
 */
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "data/dataset.h"
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
    if (!evaluator || strcmp(evaluator, "EmbeddingSimilarityEvaluator") != 0)
        return sbert_fail(SBERT_ERR_UNSUPPORTED, "evaluator '%s' is not available yet (use EmbeddingSimilarityEvaluator)",
                          evaluator ? evaluator : "(null)");
    sbert_dataset *ds = NULL;
    SBERT_TRY(sbert_dataset_load(eval_data, &ds));
    int label = sbert_dataset_label_column(ds);
    sbert_status st = SBERT_OK;
    if (sbert_dataset_n_inputs(ds) != 2 || label < 0)
        st = sbert_fail(SBERT_ERR_FORMAT,
                        "%s: EmbeddingSimilarityEvaluator expects (sentence1, sentence2, score) columns", eval_data);
    if (st == SBERT_OK) st = sbert_dataset_check_inputs(ds);
    if (st == SBERT_OK) {
        model_ctx ctx = {model, sbert_encode_options_default()};
        if (batch_size) ctx.opt.batch_size = batch_size;
        sbert_eval_result r;
        const char *const *s1 = (const char *const *)ds->cols[sbert_dataset_input_column(ds, 0)].text;
        const char *const *s2 = (const char *const *)ds->cols[sbert_dataset_input_column(ds, 1)].text;
        st = sbert_eval_embedding_similarity(encode_cb, &ctx, sbert_model_encode_dim(model, &ctx.opt), s1, s2,
                                             ds->cols[label].num, ds->n_rows, name ? name : "", &r);
        if (st == SBERT_OK) {
            for (size_t i = 0; i < r.n && i < sizeof out->metrics / sizeof out->metrics[0]; i++) {
                snprintf(out->metrics[i].key, sizeof out->metrics[i].key, "%s", r.m[i].key);
                out->metrics[i].value = r.m[i].value;
            }
            out->n = r.n;
            snprintf(out->primary, sizeof out->primary, "%s", r.primary);
        }
    }
    sbert_dataset_free(ds);
    return st;
}
