/*
 * tests/test_bienc_losses.c -- the SentenceTransformer losses of issue 10,
 * run through the loss table and loss specs exactly as the trainer runs them
 * (recipe keys -> sbert_loss_spec_parse -> sbert_loss_spec_compute), against
 * sentence-transformers 6.2.0 in float64 (tests/data/bienc/loss_ref.json,
 * made by tools/gen_bienc_loss_refs.py): the loss value and the gradient of
 * every embedding column (and of the loss's own parameters: SoftmaxLoss's
 * classifier, ContrastiveTensionLossInBatchNegatives' logit_scale).
 * Tolerances: loss 1e-6 relative; gradients 1e-5 of the largest entry
 * (they are fp32).
 * Also: the spec parser's errors (unknown loss, a wrapper without its inner
 * loss, matryoshka_dims without MatryoshkaLoss, wrong-kind loss, bad lists).
 */
#include <cjson/cJSON.h>

#include "losses/loss_spec.h"
#include "test_util.h"

typedef struct {
    const cJSON *params;
} keys_ctx;

static const char *get_key(void *ctx, const char *key) {
    const cJSON *v = cJSON_GetObjectItem(((keys_ctx *)ctx)->params, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}
static const char *origin_key(void *ctx, const char *key) { return "case"; }

static float *matrix(const cJSON *m, size_t B, size_t dim) {
    float *out = malloc(B * dim * sizeof *out);
    for (size_t i = 0; i < B; i++)
        for (size_t k = 0; k < dim; k++)
            out[i * dim + k] = (float)cJSON_GetArrayItem(cJSON_GetArrayItem(m, (int)i), (int)k)->valuedouble;
    return out;
}

/* max |got - want| / max(max |want|, 1e-3) */
static double rel_err(const float *got, const double *want, size_t n) {
    double err = 0, scale = 1e-3;
    for (size_t i = 0; i < n; i++)
        if (fabs(want[i]) > scale) scale = fabs(want[i]);
    for (size_t i = 0; i < n; i++) err = test_max_err(err, fabs(got[i] - want[i]));
    return err / scale;
}

static double *flat_matrix(const cJSON *m, size_t B, size_t dim) {
    double *out = malloc(B * dim * sizeof *out);
    for (size_t i = 0; i < B; i++)
        for (size_t k = 0; k < dim; k++)
            out[i * dim + k] = cJSON_GetArrayItem(cJSON_GetArrayItem(m, (int)i), (int)k)->valuedouble;
    return out;
}

static void run_case(const cJSON *c, double *worst_loss, double *worst_grad) {
    const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
    const char *text = cJSON_GetObjectItem(c, "loss_name")->valuestring;
    keys_ctx kc = {cJSON_GetObjectItem(c, "params")};
    sbert_loss_keys keys = {get_key, origin_key, &kc};
    sbert_loss_spec spec;
    sbert_status st = sbert_loss_spec_parse(text, name, 1u, &keys, &spec);
    CHECK(st == SBERT_OK, "%s: parse '%s': %s", name, text, sbert_last_error());
    if (st != SBERT_OK) return;
    const size_t B = (size_t)cJSON_GetObjectItem(c, "B")->valueint, D = (size_t)cJSON_GetObjectItem(c, "dim")->valueint;
    const cJSON *cols_j = cJSON_GetObjectItem(c, "cols");
    const size_t nc = (size_t)cJSON_GetArraySize(cols_j);
    float *cols[8] = {0}, *grads[8] = {0}, *guide[8] = {0};
    for (size_t k = 0; k < nc; k++) {
        cols[k] = matrix(cJSON_GetArrayItem(cols_j, (int)k), B, D);
        grads[k] = calloc(B * D, sizeof(float));
    }
    const cJSON *lab_j = cJSON_GetObjectItem(c, "labels");
    size_t lw = (size_t)cJSON_GetObjectItem(c, "label_width")->valueint;
    float *labels = NULL;
    if (cJSON_IsArray(lab_j)) {
        size_t n = (size_t)cJSON_GetArraySize(lab_j);
        labels = malloc(n * sizeof *labels);
        for (size_t i = 0; i < n; i++) labels[i] = (float)cJSON_GetArrayItem(lab_j, (int)i)->valuedouble;
    }
    const cJSON *guide_j = cJSON_GetObjectItem(c, "guide");
    size_t gd = (size_t)cJSON_GetObjectItem(c, "guide_dim")->valueint;
    if (cJSON_IsArray(guide_j))
        for (size_t k = 0; k < nc; k++) guide[k] = matrix(cJSON_GetArrayItem(guide_j, (int)k), B, gd);
    /* the loss's own parameters, set to the reference's values */
    sbert_loss_state *state = NULL;
    const cJSON *state_j = cJSON_GetObjectItem(c, "state");
    if (spec.def->state_size) {
        sbert_rng rng;
        sbert_rng_seed(&rng, 1);
        CHECK_OK(sbert_loss_state_create(spec.def, &spec.values, D, 3, &rng, &state));
        CHECK(state && cJSON_IsObject(state_j), "%s: state made and given", name);
        for (size_t r = 0; state && r < sbert_params_count(state->params); r++) {
            sbert_param *p = sbert_params_at(state->params, r);
            const cJSON *vals = cJSON_GetObjectItem(state_j, p->name);
            CHECK(cJSON_GetArraySize(vals) == (int)p->numel, "%s: state row %s has %zu values, reference %d", name,
                  p->name, p->numel, cJSON_GetArraySize(vals));
            for (size_t i = 0; i < p->numel && i < (size_t)cJSON_GetArraySize(vals); i++)
                p->data[i] = (float)cJSON_GetArrayItem(vals, (int)i)->valuedouble;
        }
    }
    sbert_rng rng;
    sbert_rng_seed(&rng, 7);
    sbert_loss_batch b = {.cols = (const float *const *)cols, .grads = grads, .n_cols = nc, .B = B, .dim = D,
                          .labels = labels, .label_width = lw, .guide = guide[0] ? (const float *const *)guide : NULL,
                          .guide_dim = gd, .state = state ? state->params : NULL, .rng = &rng};
    double loss = 0;
    st = sbert_loss_spec_compute(&spec, &b, &loss);
    CHECK(st == SBERT_OK, "%s: compute: %s", name, sbert_last_error());
    double want = cJSON_GetObjectItem(c, "loss")->valuedouble;
    double el = fabs(loss - want) / fmax(fabs(want), 1e-12);
    if (fabs(want) < 1e-12) el = fabs(loss - want);
    CHECK(el <= 1e-6, "%s: loss %.12g, want %.12g (rel %.2e)", name, loss, want, el);
    *worst_loss = test_max_err(*worst_loss, el);
    const cJSON *g_j = cJSON_GetObjectItem(c, "grads");
    for (size_t k = 0; k < nc; k++) {
        double *w = flat_matrix(cJSON_GetArrayItem(g_j, (int)k), B, D);
        double eg = rel_err(grads[k], w, B * D);
        CHECK(eg <= 1e-5, "%s: gradient of column %zu differs by %.2e (of its largest entry)", name, k, eg);
        *worst_grad = test_max_err(*worst_grad, eg);
        free(w);
    }
    if (state) {
        const cJSON *sg = cJSON_GetObjectItem(c, "state_grads");
        for (size_t r = 0; r < sbert_params_count(state->params); r++) {
            sbert_param *p = sbert_params_at(state->params, r);
            const cJSON *vals = cJSON_GetObjectItem(sg, p->name);
            double *w = malloc(p->numel * sizeof *w);
            for (size_t i = 0; i < p->numel; i++) w[i] = cJSON_GetArrayItem(vals, (int)i)->valuedouble;
            double eg = rel_err(p->grad, w, p->numel);
            CHECK(eg <= 1e-5, "%s: gradient of %s differs by %.2e", name, p->name, eg);
            *worst_grad = test_max_err(*worst_grad, eg);
            free(w);
        }
    }
    /* the value without gradients is the same */
    sbert_loss_batch bv = b;
    bv.grads = NULL;
    double loss2 = 0;
    sbert_rng_seed(&rng, 7);
    CHECK_OK(sbert_loss_spec_compute(&spec, &bv, &loss2));
    CHECK(fabs(loss2 - loss) <= 1e-12 * fmax(1, fabs(loss)), "%s: value-only loss %.15g vs %.15g", name, loss2, loss);
    for (size_t k = 0; k < nc; k++) {
        free(cols[k]);
        free(grads[k]);
        free(guide[k]);
    }
    free(labels);
    sbert_loss_state_free(state);
}

static void test_refs(void) {
    const char *path = test_path("tests/data/bienc/loss_ref.json");
    if (!TEST_REQUIRE_FILE(path, "run tools/gen_bienc_loss_refs.py")) return;
    size_t len = 0;
    char *txt = test_read_file(path, &len);
    cJSON *ref = cJSON_Parse(txt);
    free(txt);
    CHECK(ref != NULL, "loss_ref.json parses");
    if (!ref) return;
    double worst_loss = 0, worst_grad = 0;
    size_t n = 0;
    const cJSON *c;
    char seen[4096] = "";
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(ref, "cases")) {
        run_case(c, &worst_loss, &worst_grad);
        n++;
        const char *ln = cJSON_GetObjectItem(c, "loss_name")->valuestring;
        if (!strstr(seen, ln) && strlen(seen) + strlen(ln) + 3 < sizeof seen) {
            strcat(seen, ln);
            strcat(seen, "; ");
        }
    }
    CHECK(n >= 70, "ran %zu cases", n);
    printf("%zu cases, loss rel err <= %.2e, gradient err <= %.2e of the largest entry\nlosses: %s\n", n, worst_loss,
           worst_grad, seen);
    cJSON_Delete(ref);
}

static const char *get_none(void *ctx, const char *key) {
    const char *const *kv = ctx;
    for (size_t i = 0; kv[i]; i += 2)
        if (!strcmp(kv[i], key)) return kv[i + 1];
    return NULL;
}

static void expect_error(const char *text, const char *const *kv, unsigned kinds, const char *needle) {
    sbert_loss_keys keys = {get_none, origin_key, (void *)kv};
    sbert_loss_spec s;
    sbert_status st = sbert_loss_spec_parse(text, "recipe.yaml:4", kinds, &keys, &s);
    CHECK(st != SBERT_OK && strstr(sbert_last_error(), needle), "'%s' refused mentioning '%s': %s", text, needle,
          st == SBERT_OK ? "(accepted)" : sbert_last_error());
}

static void test_spec_errors(void) {
    static const char *const none[] = {NULL};
    static const char *const dims[] = {"matryoshka_dims", "[8, 4]", NULL};
    static const char *const bad_dims[] = {"matryoshka_dims", "[8, -4]", NULL};
    static const char *const bad_w[] = {"matryoshka_dims", "[8, 4]", "matryoshka_weights", "[1]", NULL};
    expect_error("MultipleNegativeRankingLoss", none, 1u, "MultipleNegativesRankingLoss");
    expect_error("MatryoshkaLoss", dims, 1u, "MatryoshkaLoss(MultipleNegativesRankingLoss)");
    expect_error("MatryoshkaLoss(MultipleNegativesRankingLoss)", none, 1u, "matryoshka_dims");
    expect_error("MultipleNegativesRankingLoss", dims, 1u, "MatryoshkaLoss(MultipleNegativesRankingLoss)");
    expect_error("MatryoshkaLoss(MultipleNegativesRankingLoss)", bad_dims, 1u, "matryoshka_dims");
    expect_error("MatryoshkaLoss(MultipleNegativesRankingLoss)", bad_w, 1u, "same length");
    expect_error("CoSENTLoss(MultipleNegativesRankingLoss)", dims, 1u, "does not wrap");
    expect_error("BinaryCrossEntropyLoss", none, 1u, "CrossEncoder");
    expect_error("MultipleNegativesRankingLoss + SoftmaxLoss", none, 1u, "can only be added");
    expect_error("CSRLoss", none, 4u, "not implemented");
    expect_error("MatryoshkaLoss(DenoisingAutoEncoderLoss)", dims, 1u, "takes no wrapper");
    /* a good one reads its keys */
    sbert_loss_keys keys = {get_none, origin_key, (void *)dims};
    sbert_loss_spec s;
    CHECK_OK(sbert_loss_spec_parse(" MatryoshkaLoss( MultipleNegativesRankingLoss ) ", "r", 1u, &keys, &s));
    CHECK(s.matryoshka && s.n_dims == 2 && s.dims[0] == 8 && s.dims[1] == 4 && s.weights[1] == 1,
          "dims read and sorted");
    CHECK(sbert_loss_spec_uses_key(&s, "scale") && sbert_loss_spec_uses_key(&s, "n_dims_per_step") &&
              !sbert_loss_spec_uses_key(&s, "margin"),
          "keys used by the spec");
    /* a data shape the loss cannot take */
    static const char *const no[] = {NULL};
    sbert_loss_keys k2 = {get_none, origin_key, (void *)no};
    CHECK_OK(sbert_loss_spec_parse("DistillKLDivLoss", "r", 1u, &k2, &s));
    CHECK(sbert_loss_spec_check(&s, 3, 1, 5, 8, "train.jsonl", "query, pos, neg, label") != SBERT_OK &&
              strstr(sbert_last_error(), "train.jsonl") && strstr(sbert_last_error(), "teacher score"),
          "label width checked: %s", sbert_last_error());
    CHECK_OK(sbert_loss_spec_parse("BatchHardTripletLoss", "r", 1u, &k2, &s));
    CHECK(sbert_loss_spec_check(&s, 1, 0, 0, 8, "train.jsonl", "text") != SBERT_OK &&
              strstr(sbert_last_error(), "train.jsonl") && strstr(sbert_last_error(), "label"),
          "a batch triplet loss without labels: %s", sbert_last_error());
}

int main(void) {
    test_refs();
    test_spec_errors();
    return test_summary();
}
