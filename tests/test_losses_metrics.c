/*
 * tests/test_losses_metrics.c -- losses (value + gradient) and evaluator
 * metrics against values written by sentence-transformers / PyTorch / scipy
 * (tools/gen_loss_metric_refs.py -> tests/data/losses/refs.json).
 */
#include <cjson/cJSON.h>

#include "evaluation/metrics.h"
#include "io/file.h"
#include "losses/losses.h"
#include "test_util.h"

/* Flatten a JSON [rows][cols] array into a malloc'd float array. */
static float *mat_f32(const cJSON *m, size_t *rows, size_t *cols) {
    *rows = (size_t)cJSON_GetArraySize(m);
    *cols = (size_t)cJSON_GetArraySize(cJSON_GetArrayItem(m, 0));
    float *out = malloc(*rows * *cols * sizeof *out);
    size_t i = 0;
    const cJSON *row, *v;
    cJSON_ArrayForEach(row, m) cJSON_ArrayForEach(v, row) out[i++] = (float)v->valuedouble;
    return out;
}

static void check_loss_case(const cJSON *c) {
    const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
    const cJSON *params = cJSON_GetObjectItem(c, "params");
    double scale = cJSON_GetObjectItem(params, "scale")->valuedouble;
    const cJSON *jcols = cJSON_GetObjectItem(c, "cols"), *jgrads = cJSON_GetObjectItem(c, "grads");
    size_t n_cols = (size_t)cJSON_GetArraySize(jcols), B = 0, D = 0;
    float *cols[8] = {0}, *grads[8] = {0}, *want[8] = {0};
    for (size_t k = 0; k < n_cols; k++) {
        cols[k] = mat_f32(cJSON_GetArrayItem(jcols, (int)k), &B, &D);
        want[k] = mat_f32(cJSON_GetArrayItem(jgrads, (int)k), &B, &D);
        grads[k] = calloc(B * D, sizeof(float));
    }
    double loss = 0;
    if (strncmp(name, "cosent", 6) == 0) {
        float *labels = malloc(B * sizeof *labels);
        const cJSON *v;
        size_t i = 0;
        cJSON_ArrayForEach(v, cJSON_GetObjectItem(c, "labels")) labels[i++] = (float)v->valuedouble;
        CHECK_OK(sbert_loss_cosent(cols[0], cols[1], labels, B, D, scale, grads[0], grads[1], &loss));
        free(labels);
    } else {
        const char *simname = cJSON_GetObjectItem(params, "sim")->valuestring;
        sbert_sim_fn sim = strcmp(simname, "dot") == 0 ? SBERT_SIM_DOT : SBERT_SIM_COSINE;
        const float *const *cc = (const float *const *)cols;
        if (strncmp(name, "mnsrl", 5) == 0)
            CHECK_OK(sbert_loss_mnrl_symmetric(cc, n_cols, B, D, scale, sim, grads, &loss));
        else
            CHECK_OK(sbert_loss_mnrl(cc, n_cols, B, D, scale, sim, grads, &loss));
    }
    double ref = cJSON_GetObjectItem(c, "loss")->valuedouble;
    CHECK(fabs(loss - ref) <= 1e-6 * fmax(1.0, fabs(ref)), "%s: loss %.9g vs reference %.9g", name,
          loss, ref);
    double maxd = 0, maxg = 0;
    for (size_t k = 0; k < n_cols; k++)
        for (size_t i = 0; i < B * D; i++) {
            maxd = test_max_err(maxd, fabs(grads[k][i] - want[k][i]));
            maxg = fmax(maxg, fabs(want[k][i]));
        }
    CHECK(maxd <= 1e-6 * fmax(1.0, maxg), "%s: gradient max |diff| %.3g (max |g| %.3g)", name, maxd,
          maxg);
    /* Loss-only call gives the same value and touches no gradient. */
    double loss2 = 0;
    if (strncmp(name, "mnrl", 4) == 0) {
        CHECK_OK(sbert_loss_mnrl((const float *const *)cols, n_cols, B, D, scale,
                                 strstr(name, "dot") ? SBERT_SIM_DOT : SBERT_SIM_COSINE, NULL, &loss2));
        CHECK(loss2 == loss, "%s: loss without gradients %.17g != %.17g", name, loss2, loss);
    }
    printf("%-24s loss %.9f (ref %.9f)  grad max|diff| %.2e\n", name, loss, ref, maxd);
    for (size_t k = 0; k < n_cols; k++) { free(cols[k]); free(grads[k]); free(want[k]); }
}

static void check_ir(const cJSON *ir) {
    size_t nq, nc;
    float *scores = mat_f32(cJSON_GetObjectItem(ir, "scores"), &nq, &nc);
    const char **ids = malloc(nc * sizeof *ids);
    for (size_t i = 0; i < nc; i++)
        ids[i] = cJSON_GetArrayItem(cJSON_GetObjectItem(ir, "corpus_ids"), (int)i)->valuestring;
    size_t *off = malloc((nq + 1) * sizeof *off), *rel = malloc(nq * nc * sizeof *rel), n = 0;
    const cJSON *row, *v;
    size_t q = 0;
    off[0] = 0;
    cJSON_ArrayForEach(row, cJSON_GetObjectItem(ir, "relevant")) {
        cJSON_ArrayForEach(v, row) rel[n++] = (size_t)v->valueint;
        off[++q] = n;
    }
    sbert_ir_config cfg;
    memset(&cfg, 0, sizeof cfg);
#define KLIST(field, count, key)                                               \
    cJSON_ArrayForEach(v, cJSON_GetObjectItem(ir, key)) cfg.field[cfg.count++] = (size_t)v->valueint;
    KLIST(mrr_at_k, n_mrr, "mrr_at_k")
    KLIST(ndcg_at_k, n_ndcg, "ndcg_at_k")
    KLIST(accuracy_at_k, n_accuracy, "accuracy_at_k")
    KLIST(precision_recall_at_k, n_precision_recall, "precision_recall_at_k")
    KLIST(map_at_k, n_map, "map_at_k")
    sbert_metric m[64];
    size_t nm = 64;
    CHECK_OK(sbert_ir_metrics(scores, nq, nc, ids, off, rel, &cfg, "cosine", m, &nm));
    const cJSON *want = cJSON_GetObjectItem(ir, "metrics");
    CHECK(nm == (size_t)cJSON_GetArraySize(want), "IR: %zu metrics, reference has %d", nm,
          cJSON_GetArraySize(want));
    for (size_t i = 0; i < nm; i++) {
        const cJSON *w = cJSON_GetObjectItem(want, m[i].key);
        CHECK(w != NULL, "IR: metric %s not in reference", m[i].key);
        if (w) CHECK_NEAR(m[i].value, w->valuedouble, 1e-12, "IR %s: %.15g vs %.15g", m[i].key,
                          m[i].value, w->valuedouble);
    }
    /* Too small an output array is an error, not an overflow. */
    nm = 3;
    CHECK(sbert_ir_metrics(scores, nq, nc, ids, off, rel, &cfg, "cosine", m, &nm) ==
              SBERT_ERR_INVALID_ARG, "IR: small output rejected");
    free(scores); free(ids); free(off); free(rel);
}

int main(void) {
    cJSON *root = NULL;
    CHECK_OK(sbert_json_load(test_path("tests/data/losses/refs.json"), &root));
    if (!root) return test_summary();
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(root, "losses")) check_loss_case(c);

    const cJSON *corr = cJSON_GetObjectItem(root, "correlation");
    size_t n = (size_t)cJSON_GetArraySize(cJSON_GetObjectItem(corr, "x"));
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++) {
        x[i] = cJSON_GetArrayItem(cJSON_GetObjectItem(corr, "x"), (int)i)->valuedouble;
        y[i] = cJSON_GetArrayItem(cJSON_GetObjectItem(corr, "y"), (int)i)->valuedouble;
    }
    CHECK_NEAR(sbert_pearson(x, y, n), cJSON_GetObjectItem(corr, "pearson")->valuedouble, 1e-12,
               "pearson %.15g", sbert_pearson(x, y, n));
    CHECK_NEAR(sbert_spearman(x, y, n), cJSON_GetObjectItem(corr, "spearman")->valuedouble, 1e-12,
               "spearman %.15g", sbert_spearman(x, y, n));
    CHECK(isnan(sbert_pearson(x, x, 1)), "pearson of one value is NaN");
    free(x); free(y);

    check_ir(cJSON_GetObjectItem(root, "ir"));

    /* Bad arguments give errors that say what is wrong. */
    double loss;
    const float *one[1] = {NULL};
    CHECK(sbert_loss_mnrl(one, 1, 4, 4, 20, SBERT_SIM_COSINE, NULL, &loss) == SBERT_ERR_INVALID_ARG &&
              strstr(sbert_last_error(), "at least 2 columns"),
          "MNRL with one column: %s", sbert_last_error());
    cJSON_Delete(root);
    return test_summary();
}
