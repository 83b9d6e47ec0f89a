/*
 * tests/test_sparse_losses.c -- the SparseEncoder losses against
 * sentence-transformers 6.2.0 / PyTorch float64 (tests/data/sparse/losses.json,
 * tools/gen_sparse_refs.py part losses): FlopsLoss (with and without a
 * threshold), SpladeLoss around SparseMultipleNegativesRankingLoss (with
 * thresholds, document-only), SparseMNRL (cos_sim, scale 20),
 * SparseMarginMSELoss (dot, cosine, 2 negatives as margins and as scores),
 * SparseMSELoss, SparseDistillKLDivLoss (temperatures), SparseTripletLoss,
 * SparseCoSENTLoss, SparseCosineSimilarityLoss, SparseAnglELoss (even and odd
 * width): the loss within 1e-6 relative and every gradient within 1e-6 of its
 * largest entry (fp32 results of float64 references). The table's SpladeLoss
 * row (base_loss + weights) gives the same as the direct call, the regularizer
 * ramp is SpladeRegularizerWeightSchedulerCallback's, and the sparse base losses
 * alone are refused in recipes.
 */
#include <math.h>

#include "losses/loss.h"
#include "losses/sparse_losses.h"
#include "sparse_test_util.h"

static double g_worst_loss = 0, g_worst_grad = 0;

static float *floats(const cJSON *a, size_t *n) {
    size_t cnt = (size_t)cJSON_GetArraySize(a), i = 0;
    float *v = malloc((cnt ? cnt : 1) * sizeof *v);
    for (const cJSON *x = a ? a->child : NULL; x; x = x->next) v[i++] = (float)x->valuedouble;
    if (n) *n = cnt;
    return v;
}

static void check_case(const cJSON *c, const char *name, double loss, float *const *grads, size_t n_cols, size_t B,
                       size_t D) {
    double want = cJSON_GetObjectItem(c, "loss")->valuedouble;
    double el = fabs(loss - want) / fmax(fabs(want), 1e-12);
    g_worst_loss = test_max_err(g_worst_loss, el);
    CHECK(el <= 1e-6, "%s: loss %.12g, reference %.12g (rel %.2e)", name, loss, want, el);
    const cJSON *gr = cJSON_GetObjectItem(c, "grads");
    for (size_t k = 0; k < n_cols; k++) {
        const cJSON *g = cJSON_GetArrayItem(gr, (int)k);
        double mx = 0, e = 0;
        size_t i = 0;
        for (const cJSON *x = g->child; x; x = x->next) mx = fmax(mx, fabs(x->valuedouble));
        for (const cJSON *x = g->child; x && i < B * D; x = x->next, i++)
            e = test_max_err(e, fabs(grads[k][i] - x->valuedouble));
        e /= fmax(mx, 1e-12);
        g_worst_grad = test_max_err(g_worst_grad, e);
        CHECK(e <= 1e-6, "%s: gradient of column %zu differs by %.2e of its largest entry", name, k, e);
    }
}

/* A loss-table row with parameter values given as key=value text. */
static sbert_status table_values(const sbert_loss_def *d, const char *const *kv, size_t n, sbert_loss_values *v) {
    memset(v, 0, sizeof *v);
    for (size_t i = 0; i < d->n_params; i++) {
        const char *val = d->params[i].def;
        for (size_t k = 0; k < n; k += 2)
            if (!strcmp(kv[k], d->params[i].key)) val = kv[k + 1];
        sbert_status st = sbert_loss_param_parse(d, i, val, "test", v);
        if (st != SBERT_OK) return st;
    }
    return SBERT_OK;
}

static void run_case(const cJSON *c) {
    const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
    size_t B = (size_t)cJSON_GetObjectItem(c, "B")->valueint, D = (size_t)cJSON_GetObjectItem(c, "dim")->valueint;
    const cJSON *cj = cJSON_GetObjectItem(c, "cols");
    size_t nc = (size_t)cJSON_GetArraySize(cj);
    float *cols[8], *grads[8];
    for (size_t k = 0; k < nc; k++) {
        cols[k] = floats(cJSON_GetArrayItem(cj, (int)k), NULL);
        grads[k] = calloc(B * D, sizeof(float));
    }
    const cJSON *lj = cJSON_GetObjectItem(c, "labels");
    size_t nl = 0;
    float *lab = cJSON_IsArray(lj) ? floats(lj, &nl) : NULL;
    const float *const *cc = (const float *const *)cols;
    double loss = NAN;
    sbert_status st = SBERT_ERR_INTERNAL;
    if (!strncmp(name, "flops", 5)) {
        const cJSON *t = cJSON_GetObjectItem(c, "threshold");
        loss = sbert_loss_flops(cc, grads, 1, B, D, cJSON_IsNumber(t) ? t->valuedouble : -1, 1.0);
        st = SBERT_OK;
    } else if (!strncmp(name, "splade", 6)) {
        /* through the loss table: SpladeLoss(base_loss=SparseMNRL) */
        const sbert_loss_def *sp = sbert_loss_find("SpladeLoss"), *base = sbert_loss_find(
                                                                      "SparseMultipleNegativesRankingLoss");
        char wd[32], wq[32], td[32], tq[32];
        const cJSON *x;
        snprintf(wd, sizeof wd, "%.17g", cJSON_GetObjectItem(c, "w_d")->valuedouble);
        snprintf(wq, sizeof wq, "%.17g", cJSON_GetObjectItem(c, "w_q")->valuedouble);
        snprintf(td, sizeof td, "%.17g", (x = cJSON_GetObjectItem(c, "t_d")) ? x->valuedouble : -1.0);
        snprintf(tq, sizeof tq, "%.17g", (x = cJSON_GetObjectItem(c, "t_q")) ? x->valuedouble : -1.0);
        const char *kv[] = {"document_regularizer_weight", wd, "query_regularizer_weight", wq,
                            "document_regularizer_threshold", td, "query_regularizer_threshold", tq,
                            "use_document_regularizer_only", cJSON_IsTrue(cJSON_GetObjectItem(c, "doc_only")) ? "true" : "false"};
        sbert_loss_values v, bv;
        CHECK_OK(table_values(sp, kv, 10, &v));
        CHECK_OK(table_values(base, NULL, 0, &bv));
        /* total_steps 0: no ramp (the weights as given) */
        sbert_loss_batch b = {.cols = cc, .grads = grads, .n_cols = nc, .B = B, .dim = D, .v = &v, .inner = base, .inner_v = &bv};
        st = sp->compute(&b, &loss);
    } else if (!strcmp(name, "smnrl-cos-scale20")) {
        const sbert_loss_def *d = sbert_loss_find("SparseMultipleNegativesRankingLoss");
        const char *kv[] = {"scale", "20", "similarity_fct", "cos_sim"};
        sbert_loss_values v;
        CHECK_OK(table_values(d, kv, 4, &v));
        sbert_loss_batch b = {.cols = cc, .grads = grads, .n_cols = nc, .B = B, .dim = D, .v = &v};
        st = d->compute(&b, &loss);
    } else if (!strncmp(name, "margin-mse", 10)) {
        sbert_pair_sim sim = strstr(name, "-cos") ? SBERT_PAIR_COS : SBERT_PAIR_DOT;
        size_t lw = nl / B;
        st = sbert_sparse_loss_margin_mse(cc, nc, B, D, lab, lw, sim, grads, &loss);
    } else if (!strcmp(name, "mse")) {
        st = sbert_loss_sparse_mse(cc, nc, B, D, lab, grads, &loss);
    } else if (!strncmp(name, "distill-kl", 10)) {
        const cJSON *t = cJSON_GetObjectItem(c, "temperature"), *ts = cJSON_GetObjectItem(c, "student_temperature"),
                    *tt = cJSON_GetObjectItem(c, "teacher_temperature");
        st = sbert_sparse_loss_distill_kl(cc, nc, B, D, lab, SBERT_PAIR_DOT, t ? t->valuedouble : 2.0, ts ? ts->valuedouble : 0,
                                   tt ? tt->valuedouble : 0, grads, &loss);
    } else {
        /* the table rows with their defaults */
        static const struct {
            const char *test, *loss;
        } rows[] = {{"triplet", "SparseTripletLoss"},
                    {"cosent", "SparseCoSENTLoss"},
                    {"cosine-similarity", "SparseCosineSimilarityLoss"},
                    {"angle", "SparseAnglELoss"},
                    {"angle-odd-dim", "SparseAnglELoss"}};
        const sbert_loss_def *d = NULL;
        for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
            if (!strcmp(name, rows[i].test)) d = sbert_loss_find(rows[i].loss);
        CHECK(d != NULL, "no table row for case %s", name);
        if (d) {
            sbert_loss_values v;
            CHECK_OK(table_values(d, NULL, 0, &v));
            sbert_loss_batch b = {.cols = cc, .grads = grads, .n_cols = nc, .B = B, .dim = D, .labels = lab, .v = &v};
            st = d->compute(&b, &loss);
        }
    }
    CHECK(st == SBERT_OK, "%s: %s", name, sbert_last_error());
    if (st == SBERT_OK) check_case(c, name, loss, grads, nc, B, D);
    for (size_t k = 0; k < nc; k++) {
        free(cols[k]);
        free(grads[k]);
    }
    free(lab);
}

static void test_ramp(void) {
    /* SpladeRegularizerWeightSchedulerCallback: warmup = int(total / 3) (>= 1), quadratic */
    CHECK(sbert_splade_weight(1.0, 0, 20, 1.0 / 3, 1) == 0.0, "ramp at step 0");
    CHECK(fabs(sbert_splade_weight(1.0, 3, 20, 1.0 / 3, 1) - 0.25) < 1e-15, "ramp at step 3 of 20 (warmup 6)");
    CHECK(sbert_splade_weight(2.0, 6, 20, 1.0 / 3, 1) == 2.0, "ramp done at step 6");
    CHECK(fabs(sbert_splade_weight(1.0, 1, 20, 1.0 / 3, 0) - 1.0 / 6) < 1e-15, "linear ramp");
    CHECK(sbert_splade_weight(1.0, 0, 2, 1.0 / 3, 1) == 0.0 && sbert_splade_weight(1.0, 1, 2, 1.0 / 3, 1) == 1.0,
          "warmup of at least one step");
    CHECK(sbert_splade_weight(0.5, 0, 0, 1.0 / 3, 1) == 0.5, "no schedule");
}

int main(void) {
    cJSON *ref = st_load_json(test_path("tests/data/sparse/losses.json"));
    if (ref)
        for (const cJSON *c = cJSON_GetObjectItem(ref, "cases")->child; c; c = c->next) run_case(c);
    cJSON_Delete(ref);
    test_ramp();
    /* the table: sparse base losses are wrapped-only; FlopsLoss alone errors as Python does */
    const sbert_loss_def *d = sbert_loss_find("SparseMultipleNegativesRankingLoss");
    CHECK(d && d->wrapped_only && d->compute, "SparseMNRL is a wrapped-only base loss");
    d = sbert_loss_find("FlopsLoss");
    double l = 0;
    sbert_loss_batch b;
    memset(&b, 0, sizeof b);
    CHECK(d && d->compute && d->compute(&b, &l) == SBERT_ERR_UNSUPPORTED &&
              strstr(sbert_last_error(), "not intended to be used directly"),
          "FlopsLoss alone: %s", sbert_last_error());
    printf("worst loss error %.3g (relative), worst gradient error %.3g (of the largest entry)\n", g_worst_loss,
           g_worst_grad);
    return test_summary();
}
