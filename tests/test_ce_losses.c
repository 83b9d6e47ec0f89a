/*
 * tests/test_ce_losses.c -- the CrossEncoder losses and evaluators against
 * sentence-transformers 6.2.0 (tools/gen_ce_loss_refs.py):
 *   - every CE loss row of the loss table (BinaryCrossEntropyLoss with and
 *     without pos_weight, CrossEntropyLoss, MSELoss, MarginMSELoss from
 *     margins / scores / one negative, MultipleNegativesRankingLoss and its
 *     Cached variant with Sigmoid / Identity / no activation, LambdaLoss with
 *     every weighting scheme, k, mu, sigma and reduction_log, RankNetLoss,
 *     ListNetLoss, ListMLELoss and PListMLELoss in both orders, ADRMSELoss)
 *     called through the table with its recipe parameters: loss value and
 *     the gradient of every logit (1e-5 relative);
 *   - the CrossEncoder evaluators on the scores sentence-transformers saw
 *     (a stand-in predict): every metric within 1e-6, the same keys, the
 *     same primary metric (reranking with negatives, with documents, with
 *     options, on a local corpus; binary and 3-class classification;
 *     correlation).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "evaluation/evaluators.h"
#include "io/file.h"
#include "losses/loss.h"
#include "models/model.h"
#include "test_util.h"

static double g_max_loss = 0, g_max_grad = 0, g_max_metric = 0;

static void fill(const cJSON *m, float *out, size_t B, size_t K) {
    for (size_t i = 0; i < B; i++) {
        const cJSON *r = cJSON_GetArrayItem(m, (int)i);
        for (size_t j = 0; j < K; j++) {
            const cJSON *v = cJSON_IsArray(r) ? cJSON_GetArrayItem(r, (int)j) : r;
            out[i * K + j] = cJSON_IsNumber(v) ? (float)v->valuedouble : -INFINITY;
        }
    }
}

static void test_losses(void) {
    const char *p = test_path("tests/data/cross_encoder/losses.json");
    if (!TEST_REQUIRE_FILE(p, "run tools/gen_ce_loss_refs.py")) return;
    cJSON *j = NULL;
    CHECK_OK(sbert_json_load(p, &j));
    const cJSON *c;
    int n = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(j, "cases")) {
        const char *name = cJSON_GetObjectItem(c, "loss")->valuestring;
        const sbert_loss_def *def = sbert_loss_find_kind(name, SBERT_KIND_CROSS_ENCODER);
        CHECK(def && def->compute && (def->kinds & (1u << SBERT_KIND_CROSS_ENCODER)), "%s: no CrossEncoder row", name);
        if (!def || !def->compute) continue;
        const cJSON *params = cJSON_GetObjectItem(c, "params");
        sbert_loss_values v;
        memset(&v, 0, sizeof v);
        int ok = 1;
        for (size_t k = 0; k < def->n_params; k++) {
            const cJSON *s = cJSON_GetObjectItem(params, def->params[k].key);
            ok &= sbert_loss_param_parse(def, k, s ? s->valuestring : def->params[k].def, "test", &v) == SBERT_OK;
        }
        CHECK(ok, "%s: parameters: %s", name, sbert_last_error());
        const size_t B = (size_t)cJSON_GetObjectItem(c, "B")->valueint, K = (size_t)cJSON_GetObjectItem(c, "K")->valueint;
        float *S = malloc(B * K * sizeof *S), *G = calloc(B * K, sizeof *G), *R = malloc(B * K * sizeof *R);
        float *Y = malloc(B * K * sizeof *Y);
        fill(cJSON_GetObjectItem(c, "S"), S, B, K);
        fill(cJSON_GetObjectItem(c, "grad"), R, B, K);
        const cJSON *yj = cJSON_GetObjectItem(c, "Y");
        int per_cell = cJSON_IsArray(cJSON_GetArrayItem(yj, 0));
        size_t ycols = 1;
        if (per_cell) ycols = (size_t)cJSON_GetArraySize(cJSON_GetArrayItem(yj, 0));
        if (cJSON_IsArray(yj)) fill(yj, Y, B, ycols);
        /* BCE's pos_weight None is resolved by the trainer's preparation: 1. */
        int pw = sbert_loss_param_index(def, "pos_weight");
        if (pw >= 0 && isnan(v.num[pw])) v.num[pw] = 1.0;
        const float *cols[1] = {S};
        float *grads[1] = {G};
        sbert_loss_batch lb = {.cols = cols, .grads = grads, .n_cols = 1, .B = B, .dim = K,
                               .labels = cJSON_IsArray(yj) ? Y : NULL, .v = &v};
        double loss = 0;
        CHECK_OK(def->compute(&lb, &loss));
        double want = cJSON_GetObjectItem(c, "value")->valuedouble;
        double el = fabs(loss - want) / fmax(fabs(want), 1e-6);
        double gmax = 0, gerr = 0;
        for (size_t i = 0; i < B * K; i++) {
            gmax = fmax(gmax, fabs(R[i]));
            gerr = test_max_err(gerr, fabs(G[i] - R[i]));
        }
        double eg = gerr / fmax(gmax, 1e-12);
        const cJSON *what = cJSON_GetObjectItem(c, "what");
        char *ps = cJSON_PrintUnformatted(params);
        CHECK(el <= 1e-5, "%s %s%s: loss %.9g, sentence-transformers %.9g (rel %.2e)", name, ps,
              what ? what->valuestring : "", loss, want, el);
        CHECK(eg <= 1e-5, "%s %s%s: gradient rel error %.2e", name, ps, what ? what->valuestring : "", eg);
        cJSON_free(ps);
        g_max_loss = test_max_err(g_max_loss, el);
        g_max_grad = test_max_err(g_max_grad, eg);
        /* value only (no gradient buffers) gives the same loss */
        double loss2 = 0;
        sbert_loss_batch lb2 = lb;
        lb2.grads = NULL;
        CHECK_OK(def->compute(&lb2, &loss2));
        CHECK(loss2 == loss, "%s: value-only loss differs", name);
        free(S), free(G), free(R), free(Y);
        n++;
    }
    CHECK(n == 27, "%d loss cases ran, expected 27", n);
    cJSON_Delete(j);
}

/* ---------------------------------------------------------- evaluators */

typedef struct {
    const cJSON *scores; /* [[a, b, score or [scores]], ...] */
    size_t L;
    int missing;
} score_table;

static sbert_status lookup(void *ctx, const char *const *a, const char *const *b, size_t n, float *out) {
    score_table *t = ctx;
    for (size_t i = 0; i < n; i++) {
        const cJSON *e, *hit = NULL;
        cJSON_ArrayForEach(e, t->scores) {
            if (!strcmp(cJSON_GetArrayItem(e, 0)->valuestring, a[i]) &&
                !strcmp(cJSON_GetArrayItem(e, 1)->valuestring, b[i])) {
                hit = cJSON_GetArrayItem(e, 2);
                break;
            }
        }
        if (!hit) {
            t->missing++;
            for (size_t j = 0; j < t->L; j++) out[i * t->L + j] = 0;
            continue;
        }
        for (size_t j = 0; j < t->L; j++)
            out[i * t->L + j] = (float)(cJSON_IsArray(hit) ? cJSON_GetArrayItem(hit, (int)j)->valuedouble : hit->valuedouble);
    }
    return SBERT_OK;
}

static void test_evaluators(void) {
    const char *p = test_path("tests/data/cross_encoder/eval/refs.json");
    if (!TEST_REQUIRE_FILE(p, "run tools/gen_ce_loss_refs.py")) return;
    cJSON *j = NULL;
    CHECK_OK(sbert_json_load(p, &j));
    const cJSON *c;
    int n = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(j, "cases")) {
        const char *ev = cJSON_GetObjectItem(c, "evaluator")->valuestring;
        const char *file = cJSON_GetObjectItem(c, "file")->valuestring;
        char rel[512];
        snprintf(rel, sizeof rel, "tests/data/cross_encoder/eval/%s", file);
        const sbert_evaluator_def *def = sbert_evaluator_find(ev);
        CHECK(def && def->run && (def->kinds & (1u << SBERT_KIND_CROSS_ENCODER)), "%s: not in the table", ev);
        if (!def || !def->run) continue;
        void *data = NULL;
        CHECK_OK(def->load(test_path(rel), 0, &data));
        if (!data) continue;
        const cJSON *sc = cJSON_GetObjectItem(c, "scores");
        score_table t = {cJSON_IsString(sc) ? cJSON_GetObjectItem(j, sc->valuestring) : sc,
                         (size_t)cJSON_GetObjectItem(c, "num_labels")->valueint, 0};
        sbert_eval_encoder enc;
        memset(&enc, 0, sizeof enc);
        enc.predict = lookup;
        enc.predict_ctx = &t;
        enc.num_labels = t.L;
        sbert_eval_result res;
        CHECK_OK(def->run(data, &enc, cJSON_GetObjectItem(c, "name")->valuestring, &res));
        CHECK(t.missing == 0, "%s %s: %d pairs scored that sentence-transformers did not score", ev, file, t.missing);
        const cJSON *m = cJSON_GetObjectItem(c, "metrics"), *kv;
        size_t k = 0;
        double worst = 0;
        cJSON_ArrayForEach(kv, m) {
            double got = sbert_eval_get(&res, kv->string);
            double d = fabs(got - kv->valuedouble);
            CHECK(d <= 1e-6, "%s %s: %s = %.12g, sentence-transformers %.12g", ev, file, kv->string, got,
                  kv->valuedouble);
            CHECK(k < res.n && !strcmp(res.m[k].key, kv->string), "%s %s: metric %zu is %s, expected %s", ev, file, k,
                  k < res.n ? res.m[k].key : "(none)", kv->string);
            worst = test_max_err(worst, d);
            k++;
        }
        CHECK(k == res.n, "%s %s: %zu metrics, sentence-transformers has %zu", ev, file, res.n, k);
        CHECK(!strcmp(res.primary, cJSON_GetObjectItem(c, "primary")->valuestring), "%s %s: primary %s, expected %s",
              ev, file, res.primary, cJSON_GetObjectItem(c, "primary")->valuestring);
        g_max_metric = test_max_err(g_max_metric, worst);
        def->free(data);
        n++;
    }
    CHECK(n == 7, "%d evaluator cases ran, expected 7", n);
    cJSON_Delete(j);
}

/* Which evaluators and losses each model kind may use, and what it says otherwise. */
static void test_kinds(void) {
    sbert_evaluator_set *s = NULL;
    CHECK(sbert_evaluator_set_load_kind(SBERT_KIND_SENTENCE_TRANSFORMER, "CrossEncoderRerankingEvaluator", "x.jsonl", "",
                                        0, &s) == SBERT_ERR_UNSUPPORTED &&
              strstr(sbert_last_error(), "is a CrossEncoder evaluator, not one for a SentenceTransformer"),
          "CE evaluator for a SentenceTransformer: %s", sbert_last_error());
    CHECK(sbert_evaluator_set_load_kind(SBERT_KIND_CROSS_ENCODER, "TripletEvaluator", "x.jsonl", "", 0, &s) ==
                  SBERT_ERR_UNSUPPORTED &&
              strstr(sbert_last_error(), "not one for a CrossEncoder"),
          "ST evaluator for a CrossEncoder: %s", sbert_last_error());
    const sbert_loss_def *st = sbert_loss_find_kind("MultipleNegativesRankingLoss", SBERT_KIND_SENTENCE_TRANSFORMER);
    const sbert_loss_def *ce = sbert_loss_find_kind("MultipleNegativesRankingLoss", SBERT_KIND_CROSS_ENCODER);
    CHECK(st && ce && st != ce && (ce->kinds & (1u << SBERT_KIND_CROSS_ENCODER)) &&
              (st->kinds & (1u << SBERT_KIND_SENTENCE_TRANSFORMER)),
          "MultipleNegativesRankingLoss has one row per kind");
    CHECK(sbert_loss_find("MultipleNegativesRankingLoss") == st, "the plain lookup stays the SentenceTransformer row");
    /* bad parameter values name the key */
    sbert_loss_values v;
    const sbert_loss_def *bce = sbert_loss_find_kind("BinaryCrossEntropyLoss", SBERT_KIND_CROSS_ENCODER);
    CHECK(sbert_loss_param_parse(bce, 0, "lots", "recipe.yaml:4", &v) == SBERT_ERR_INVALID_ARG &&
              strstr(sbert_last_error(), "pos_weight must be a number or one of None,auto"),
          "pos_weight 'lots': %s", sbert_last_error());
    const sbert_loss_def *lam = sbert_loss_find_kind("LambdaLoss", SBERT_KIND_CROSS_ENCODER);
    CHECK(sbert_loss_param_parse(lam, 0, "NDCG3", "recipe.yaml:5", &v) == SBERT_ERR_INVALID_ARG &&
              strstr(sbert_last_error(), "weighting_scheme of LambdaLoss must be one of"),
          "weighting_scheme NDCG3: %s", sbert_last_error());
}

int main(void) {
    test_losses();
    test_evaluators();
    test_kinds();
    printf("CE losses: max rel loss error %.2e, max rel gradient error %.2e; evaluators: max metric error %.2e\n",
           g_max_loss, g_max_grad, g_max_metric);
    return test_summary();
}
