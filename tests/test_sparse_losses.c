/*
 * tests/test_sparse_losses.c -- the SparseEncoder losses against
 * sentence-transformers 6.2.0 / PyTorch float64 (tests/data/sparse/losses.json,
 * tools/gen_sparse_refs.py part losses): FlopsLoss (with and without a
 * threshold), SpladeLoss around SparseMultipleNegativesRankingLoss (with
 * thresholds, document-only), SparseMNRL (cos_sim, scale 20),
 * SparseMarginMSELoss (dot, cosine, 2 negatives as margins and as scores),
 * SparseMSELoss, SparseDistillKLDivLoss (temperatures) -- the table rows,
 * which are MSELoss / DistillKLDivLoss of losses/distillation.c --,
 * SparseTripletLoss,
 * SparseCoSENTLoss, SparseCosineSimilarityLoss, SparseAnglELoss (even and odd
 * width): the loss within 1e-6 relative and every gradient within 1e-6 of its
 * largest entry (fp32 results of float64 references). The table's SpladeLoss
 * row (base_loss + weights) gives the same as the direct call, the regularizer
 * ramp is SpladeRegularizerWeightSchedulerCallback's, and the sparse base losses
 * alone are refused in recipes. tests/data/sparse/distill_losses.json
 * (tools/gen_sparse_eval_refs.py): SpladeLoss around SparseMSELoss (teacher
 * [B, D] broadcast, [B, 2, D] per column, one column with the document
 * regularizer only) and SparseDistillKLDivLoss (dot with the default
 * temperature 2; cosine with three temperatures), same tolerances.
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
    } else if (!strcmp(name, "mse") || !strncmp(name, "distill-kl", 10)) {
        /* SparseMSELoss / SparseDistillKLDivLoss: the table rows (MSELoss /
         * DistillKLDivLoss of losses/distillation.c), list labels of nl / B values a row */
        const sbert_loss_def *d = sbert_loss_find(!strcmp(name, "mse") ? "SparseMSELoss" : "SparseDistillKLDivLoss");
        char t[32], ts[32], tt[32];
        const cJSON *x;
        snprintf(t, sizeof t, "%.17g", (x = cJSON_GetObjectItem(c, "temperature")) ? x->valuedouble : 2.0);
        snprintf(ts, sizeof ts, "%s", "None");
        snprintf(tt, sizeof tt, "%s", "None");
        if ((x = cJSON_GetObjectItem(c, "student_temperature"))) snprintf(ts, sizeof ts, "%.17g", x->valuedouble);
        if ((x = cJSON_GetObjectItem(c, "teacher_temperature"))) snprintf(tt, sizeof tt, "%.17g", x->valuedouble);
        const char *kv[] = {"temperature", t, "student_temperature", ts, "teacher_temperature", tt};
        sbert_loss_values v;
        CHECK_OK(table_values(d, kv, 6, &v));
        CHECK(d->wrapped_only && d->check, "%s: a wrapped-only base loss with a label check", d->name);
        sbert_loss_batch b = {.cols = cc, .grads = grads, .n_cols = nc, .B = B, .dim = D, .labels = lab,
                              .label_width = nl / B, .v = &v};
        st = d->compute(&b, &loss);
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

/* tests/data/sparse/distill_losses.json (tools/gen_sparse_eval_refs.py part
 * losses): SpladeLoss(SparseMSELoss) and SpladeLoss(SparseDistillKLDivLoss)
 * through the loss table -- SpladeLoss's row with base_loss, the base row
 * as `inner` -- with list labels of label_width values a row. */
static void run_splade_distill_case(const cJSON *c) {
    const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
    const char *base_name = cJSON_GetObjectItem(c, "base")->valuestring;
    size_t B = (size_t)cJSON_GetObjectItem(c, "B")->valueint, D = (size_t)cJSON_GetObjectItem(c, "dim")->valueint;
    const cJSON *cj = cJSON_GetObjectItem(c, "cols");
    size_t nc = (size_t)cJSON_GetArraySize(cj), nl = 0;
    float *cols[8], *grads[8];
    for (size_t k = 0; k < nc; k++) {
        cols[k] = floats(cJSON_GetArrayItem(cj, (int)k), NULL);
        grads[k] = calloc(B * D, sizeof(float));
    }
    float *lab = floats(cJSON_GetObjectItem(c, "labels"), &nl);
    const sbert_loss_def *sp = sbert_loss_find("SpladeLoss"), *base = sbert_loss_find(base_name);
    CHECK(base && base->compute && base->wrapped_only, "%s: a wrapped base loss row", base_name);
    char wd[32], wq[32], t[32] = "2.0", ts[32] = "None", tt[32] = "None";
    const cJSON *x;
    snprintf(wd, sizeof wd, "%.17g", cJSON_GetObjectItem(c, "w_d")->valuedouble);
    snprintf(wq, sizeof wq, "%.17g", cJSON_GetObjectItem(c, "w_q")->valuedouble);
    if ((x = cJSON_GetObjectItem(c, "temperature"))) snprintf(t, sizeof t, "%.17g", x->valuedouble);
    if ((x = cJSON_GetObjectItem(c, "student_temperature"))) snprintf(ts, sizeof ts, "%.17g", x->valuedouble);
    if ((x = cJSON_GetObjectItem(c, "teacher_temperature"))) snprintf(tt, sizeof tt, "%.17g", x->valuedouble);
    const cJSON *sim = cJSON_GetObjectItem(c, "similarity_fct");
    const char *kv[] = {"base_loss", base_name, "document_regularizer_weight", wd, "query_regularizer_weight", wq,
                        "use_document_regularizer_only", cJSON_IsTrue(cJSON_GetObjectItem(c, "doc_only")) ? "true" : "false"};
    const char *bkv[] = {"temperature", t, "student_temperature", ts, "teacher_temperature", tt, "similarity_fct",
                         sim ? sim->valuestring : "pairwise_dot_score"};
    sbert_loss_values v, bv;
    CHECK_OK(table_values(sp, kv, 8, &v));
    CHECK_OK(table_values(base, bkv, 8, &bv));
    CHECK(!strcmp(v.str[0], base_name), "base_loss parsed");
    double loss = NAN;
    size_t lw = (size_t)cJSON_GetObjectItem(c, "label_width")->valueint;
    CHECK(lw * B == nl, "%s: %zu labels for %zu rows of %zu", name, nl, B, lw);
    /* the column check the trainer runs: the label width fits */
    CHECK(base->check(&bv, nc, 1, lw, D) == NULL, "%s: check refuses the reference's labels: %s", name,
          base->check(&bv, nc, 1, lw, D));
    sbert_loss_batch b = {.cols = (const float *const *)cols, .grads = grads, .n_cols = nc, .B = B, .dim = D,
                          .labels = lab, .label_width = lw, .v = &v, .inner = base, .inner_v = &bv};
    sbert_status st = sp->compute(&b, &loss);
    CHECK(st == SBERT_OK, "%s: %s", name, sbert_last_error());
    if (st == SBERT_OK) check_case(c, name, loss, grads, nc, B, D);
    const cJSON *raw = cJSON_GetObjectItem(c, "python_splade_forward_base_loss");
    if (raw && cJSON_IsNumber(raw))
        printf("%s: Python 6.2.0's SpladeLoss.forward pairs columns with label rows (base loss %.9g); sbert reads the "
               "label as EmbedDistillLoss.forward does (base loss %.9g)\n",
               name, raw->valuedouble, cJSON_GetObjectItem(cJSON_GetObjectItem(c, "parts"), "base_loss")->valuedouble);
    for (size_t k = 0; k < nc; k++) {
        free(cols[k]);
        free(grads[k]);
    }
    free(lab);
}

/* The label checks of the two base losses: a width that fits no rule is refused. */
static void test_label_checks(void) {
    const sbert_loss_def *m = sbert_loss_find("SparseMSELoss"), *k = sbert_loss_find("SparseDistillKLDivLoss");
    sbert_loss_values v;
    memset(&v, 0, sizeof v);
    CHECK(m->check(&v, 2, 1, 30522, 30522) == NULL && m->check(&v, 2, 1, 2 * 30522, 30522) == NULL,
          "SparseMSELoss takes [vocab] or one [vocab] per column");
    CHECK(m->check(&v, 2, 1, 768, 30522) != NULL, "SparseMSELoss refuses a teacher of another width");
    CHECK(m->check(&v, 2, 0, 0, 30522) != NULL, "SparseMSELoss needs a label");
    CHECK(k->check(&v, 4, 1, 3, 0) == NULL, "SparseDistillKLDivLoss: one score per candidate");
    CHECK(k->check(&v, 4, 1, 2, 0) != NULL && k->check(&v, 2, 1, 1, 0) != NULL,
          "SparseDistillKLDivLoss refuses a wrong score count and a single candidate");
    CHECK(!strcmp(k->params[1].key, "temperature") && !strcmp(k->params[1].def, "2.0"),
          "SparseDistillKLDivLoss's temperature defaults to 2 (DistillKLDivLoss's to 1)");
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
    ref = st_load_json(test_path("tests/data/sparse/distill_losses.json"));
    if (ref)
        for (const cJSON *c = cJSON_GetObjectItem(ref, "cases")->child; c; c = c->next) run_splade_distill_case(c);
    CHECK(ref != NULL, "tests/data/sparse/distill_losses.json");
    cJSON_Delete(ref);
    test_label_checks();
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
