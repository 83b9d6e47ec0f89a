/*
 * tests/test_triplet.c -- TripletLoss and TripletEvaluator, added through the
 * loss and evaluator tables alone, against sentence-transformers 6.2.0
 * (tests/data/triplet/, made by tools/gen_triplet_refs.py):
 *   - the loss value and the gradients w.r.t. anchor, positive and negative
 *     for EUCLIDEAN, COSINE and MANHATTAN at several margins, on ordinary
 *     rows and on degenerate ones (positive == anchor, a zero anchor), called
 *     the way the trainer calls it (sbert_loss_find + parameter parsing);
 *   - TripletEvaluator on all-MiniLM-L6-v2 and 200 real SNLI dev triplets:
 *     the metric keys, values and primary metric;
 *   - the table's parameter checks (an unknown distance metric).
 */
#include <cjson/cJSON.h>

#include "losses/loss.h"
#include "test_util.h"

/* rows [n][dim] of a JSON matrix into out. */
static void read_matrix(const cJSON *m, float *out, size_t B, size_t dim) {
    for (size_t i = 0; i < B; i++)
        for (size_t k = 0; k < dim; k++)
            out[i * dim + k] = (float)cJSON_GetArrayItem(cJSON_GetArrayItem(m, (int)i), (int)k)->valuedouble;
}

/* max |got - want| over [B, dim], relative to max |want| (at least 1). */
static double rel_err(const float *got, const cJSON *want, size_t B, size_t dim) {
    double err = 0, scale = 1;
    for (size_t i = 0; i < B; i++)
        for (size_t k = 0; k < dim; k++) {
            double w = cJSON_GetArrayItem(cJSON_GetArrayItem(want, (int)i), (int)k)->valuedouble;
            if (fabs(w) > scale) scale = fabs(w);
        }
    for (size_t i = 0; i < B; i++)
        for (size_t k = 0; k < dim; k++) {
            double w = cJSON_GetArrayItem(cJSON_GetArrayItem(want, (int)i), (int)k)->valuedouble;
            err = test_max_err(err, fabs(got[i * dim + k] - w));
        }
    return err / scale;
}

static void test_loss(void) {
    size_t len = 0;
    char *txt = test_read_file(test_path("tests/data/triplet/loss_ref.json"), &len);
    CHECK(txt != NULL, "tests/data/triplet/loss_ref.json missing (run tools/gen_triplet_refs.py)");
    if (!txt) return;
    cJSON *ref = cJSON_Parse(txt);
    free(txt);
    const sbert_loss_def *def = sbert_loss_find("TripletLoss");
    CHECK(def && def->compute && def->min_inputs == 3, "TripletLoss is in the loss table");
    if (!ref || !def) return;
    const cJSON *inputs = cJSON_GetObjectItem(ref, "inputs");
    size_t n_cases = 0;
    double worst_loss = 0, worst_grad = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(ref, "cases")) {
        /* the float64 cases: the inputs are float32-exact, sbert computes in double */
        if (strcmp(cJSON_GetObjectItem(c, "dtype")->valuestring, "float64")) continue;
        const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
        const cJSON *in = cJSON_GetObjectItem(inputs, cJSON_GetObjectItem(c, "inputs")->valuestring);
        size_t B = (size_t)cJSON_GetObjectItem(in, "B")->valueint, D = (size_t)cJSON_GetObjectItem(in, "dim")->valueint;
        float *a = malloc(B * D * sizeof *a), *p = malloc(B * D * sizeof *p), *n = malloc(B * D * sizeof *n);
        float *g = calloc(3 * B * D, sizeof *g);
        read_matrix(cJSON_GetObjectItem(in, "anchor"), a, B, D);
        read_matrix(cJSON_GetObjectItem(in, "positive"), p, B, D);
        read_matrix(cJSON_GetObjectItem(in, "negative"), n, B, D);
        sbert_loss_values v;
        memset(&v, 0, sizeof v);
        char margin[64];
        snprintf(margin, sizeof margin, "%.17g", cJSON_GetObjectItem(c, "triplet_margin")->valuedouble);
        CHECK_OK(sbert_loss_param_parse(def, 0, cJSON_GetObjectItem(c, "distance_metric")->valuestring, name, &v));
        CHECK_OK(sbert_loss_param_parse(def, 1, margin, name, &v));
        const float *cols[3] = {a, p, n};
        float *grads[3] = {g, g + B * D, g + 2 * B * D};
        sbert_loss_batch lb = {.cols = cols, .grads = grads, .n_cols = 3, .B = B, .dim = D, .v = &v};
        double loss = 0;
        CHECK_OK(def->compute(&lb, &loss));
        double want = cJSON_GetObjectItem(c, "loss")->valuedouble;
        double el = fabs(loss - want) / fmax(fabs(want), 1e-12);
        /* 1e-6 relative: sentence-transformers' value from torch in float64 */
        CHECK(el <= 1e-6, "%s: loss %.12g, want %.12g (rel %.2e)", name, loss, want, el);
        static const char *const keys[3] = {"grad_anchor", "grad_positive", "grad_negative"};
        for (int k = 0; k < 3; k++) {
            double eg = rel_err(grads[k], cJSON_GetObjectItem(c, keys[k]), B, D);
            /* 1e-6 of the largest gradient entry: fp32 gradients of a float64 reference */
            CHECK(eg <= 1e-6, "%s: %s differs by %.2e (relative to its largest entry)", name, keys[k], eg);
            worst_grad = test_max_err(worst_grad, eg);
        }
        /* value only (grads NULL) gives the same loss */
        sbert_loss_batch lv = {.cols = cols, .n_cols = 3, .B = B, .dim = D, .v = &v};
        double loss2 = 0;
        CHECK_OK(def->compute(&lv, &loss2));
        CHECK(loss2 == loss, "%s: the loss without gradients is the same", name);
        worst_loss = test_max_err(worst_loss, el);
        n_cases++;
        free(a);
        free(p);
        free(n);
        free(g);
    }
    CHECK(n_cases >= 10, "ran %zu float64 cases", n_cases);
    printf("TripletLoss: %zu cases (3 metrics, 7 margins, degenerate rows), loss rel err %.2e, grads rel err %.2e\n",
           n_cases, worst_loss, worst_grad);
    cJSON_Delete(ref);

    sbert_loss_values v;
    CHECK(sbert_loss_param_parse(def, 0, "HAMMING", "recipe.yaml:3", &v) == SBERT_ERR_INVALID_ARG &&
              strstr(sbert_last_error(), "EUCLIDEAN,COSINE,MANHATTAN") && strstr(sbert_last_error(), "recipe.yaml:3"),
          "an unknown distance metric is refused naming the choices: %s", sbert_last_error());
    CHECK(sbert_loss_param_parse(def, 1, "five", "recipe.yaml:4", &v) == SBERT_ERR_INVALID_ARG &&
              strstr(sbert_last_error(), "triplet_margin"),
          "a non-numeric margin is refused: %s", sbert_last_error());
}

static void test_evaluator(void) {
    size_t len = 0;
    char *txt = test_read_file(test_path("tests/data/triplet/evaluator_ref.json"), &len);
    CHECK(txt != NULL, "tests/data/triplet/evaluator_ref.json missing (run tools/gen_triplet_refs.py)");
    if (!txt) return;
    cJSON *ref = cJSON_Parse(txt);
    free(txt);
    const char *model_dir = test_path("models/all-MiniLM-L6-v2");
    sbert_model *m = NULL;
    CHECK_OK(sbert_model_load(model_dir, NULL, &m));
    if (!m) {
        printf("models/all-MiniLM-L6-v2 is needed: run tools/fetch_models.sh\n");
        cJSON_Delete(ref);
        return;
    }
    const char *data = test_path("tests/data/triplet/snli-dev-200.jsonl");
    const cJSON *run;
    size_t checked = 0;
    cJSON_ArrayForEach(run, cJSON_GetObjectItem(ref, "runs")) {
        const char *label = cJSON_GetObjectItem(run, "label")->valuestring;
        /* the model's own similarity function, margin 0: the runs sbert's evaluator covers */
        if (strcmp(label, "default") && strcmp(label, "no_name")) continue;
        const char *name = strcmp(label, "no_name") ? "snli-dev" : "";
        sbert_eval_summary s;
        CHECK_OK(sbert_evaluate(m, "TripletEvaluator", data, name, 32, &s));
        const cJSON *metrics = cJSON_GetObjectItem(run, "metrics");
        CHECK(s.n == (size_t)cJSON_GetArraySize(metrics), "%s: %zu metrics, want %d", label, s.n,
              cJSON_GetArraySize(metrics));
        const cJSON *mv;
        cJSON_ArrayForEach(mv, metrics) {
            int found = 0;
            for (size_t i = 0; i < s.n; i++)
                if (!strcmp(s.metrics[i].key, mv->string)) {
                    found = 1;
                    /* 1e-6: sentence-transformers takes a float32 mean of the 0/1 hits */
                    CHECK(fabs(s.metrics[i].value - mv->valuedouble) <= 1e-6, "%s: %s = %.9f, want %.9f", label,
                          mv->string, s.metrics[i].value, mv->valuedouble);
                }
            CHECK(found, "%s: metric %s present", label, mv->string);
        }
        CHECK(!strcmp(s.primary, cJSON_GetObjectItem(run, "primary_metric")->valuestring), "%s: primary %s", label,
              s.primary);
        checked++;
    }
    CHECK(checked == 2, "checked the default and unnamed runs");
    sbert_eval_summary s;
    CHECK(sbert_evaluate(m, "TripletEvaluator", test_path("data/stsb-dev.jsonl"), "x", 32, &s) == SBERT_ERR_FORMAT &&
              strstr(sbert_last_error(), "anchor, positive, negative"),
          "pairs with scores are refused: %s", sbert_last_error());
    printf("TripletEvaluator: all-MiniLM-L6-v2 on 200 SNLI dev triplets, metrics within 1e-6 of sentence-transformers\n");
    sbert_model_free(m);
    cJSON_Delete(ref);
}

int main(void) {
    test_loss();
    test_evaluator();
    return test_summary();
}
