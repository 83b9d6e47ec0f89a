/*
 * tests/test_sparse_grads.c -- gradients of SpladePooling (fused with the
 * MLM decoder) and of the MLM head, against PyTorch autograd
 * (tests/data/sparse/grads.json, tools/gen_sparse_refs.py part grads).
 *
 *   1. The fused pooling alone (sbert_splade_forward/backward) on random
 *      u [11, 6], W [40, 6], b [40], three sequences, loss = sum(emb * R):
 *      emb, du, dW, db for max / sum x relu / log1p_relu (1e-5 relative to
 *      the largest reference value).
 *   2. The tiny-bert masked LM + SpladePooling through the model's training
 *      forward/backward (dropout 0), loss = sum(emb * R) with
 *      R[s, v] = sin(0.37 s + 0.011 v + 0.5): the loss, the head transform's
 *      gradients, two encoder tensors, the position embeddings' first rows,
 *      sampled rows of the word-embedding gradient (the tied decoder's
 *      gradient flows there) and of the decoder bias, and their sums of
 *      squares.
 */
#include <math.h>

#include "models/model.h"
#include "modules/splade_pooling.h"
#include "sparse_test_util.h"

static double g_worst = 0;

/* max |a - ref| / max(1e-3, max |ref|) over n values. */
static double rel_err(const float *a, const cJSON *ref, size_t n, const char *what, double tol) {
    double mx = 0, e = 0;
    size_t k = 0;
    for (const cJSON *x = ref->child; x && k < n; x = x->next, k++) mx = fmax(mx, fabs(x->valuedouble));
    CHECK(k == n && cJSON_GetArraySize(ref) == (int)n, "%s: %d reference values, expected %zu", what,
          cJSON_GetArraySize(ref), n);
    k = 0;
    for (const cJSON *x = ref->child; x && k < n; x = x->next, k++) e = test_max_err(e, fabs(a[k] - x->valuedouble));
    e /= fmax(mx, 1e-3);
    CHECK(e <= tol, "%s: relative error %.3g > %.1g", what, e, tol);
    g_worst = test_max_err(g_worst, e);
    return e;
}

static float *floats(const cJSON *a, size_t *n) {
    size_t cnt = (size_t)cJSON_GetArraySize(a), i = 0;
    float *v = malloc((cnt ? cnt : 1) * sizeof *v);
    for (const cJSON *x = a->child; x; x = x->next) v[i++] = (float)x->valuedouble;
    if (n) *n = cnt;
    return v;
}

static void test_pool_alone(const cJSON *ref) {
    const cJSON *in = cJSON_GetObjectItem(ref, "pool_inputs");
    size_t T = (size_t)cJSON_GetObjectItem(in, "T")->valueint, H = (size_t)cJSON_GetObjectItem(in, "H")->valueint,
           V = (size_t)cJSON_GetObjectItem(in, "V")->valueint;
    size_t offs[8], n_seq = 0;
    for (const cJSON *x = cJSON_GetObjectItem(in, "offs")->child; x; x = x->next) offs[n_seq++] = (size_t)x->valueint;
    n_seq--;
    float *u = floats(cJSON_GetObjectItem(in, "u"), NULL), *W = floats(cJSON_GetObjectItem(in, "W"), NULL);
    float *b = floats(cJSON_GetObjectItem(in, "b"), NULL), *R = floats(cJSON_GetObjectItem(in, "R"), NULL);
    for (const cJSON *c = cJSON_GetObjectItem(ref, "pool")->child; c; c = c->next) {
        sbert_splade_config cfg = {!strcmp(cJSON_GetObjectItem(c, "strategy")->valuestring, "sum") ? SBERT_SPLADE_SUM
                                                                                                      : SBERT_SPLADE_MAX,
                                   !strcmp(cJSON_GetObjectItem(c, "activation")->valuestring, "log1p_relu")
                                       ? SBERT_SPLADE_LOG1P_RELU
                                       : SBERT_SPLADE_RELU,
                                   V};
        float *dW = calloc(V * H, sizeof *dW), *db = calloc(V, sizeof *db), *du = calloc(T * H, sizeof *du);
        float *emb = calloc(n_seq * V, sizeof *emb), *zsel = calloc(n_seq * V, sizeof *zsel);
        int32_t *arg = calloc(n_seq * V, sizeof *arg);
        sbert_mlm_decoder d = {W, b, V, H, dW, db, NULL};
        sbert_splade_forward(&cfg, &d, u, offs, n_seq, emb, arg, zsel);
        sbert_splade_backward(&cfg, &d, u, offs, n_seq, R, arg, zsel, du);
        char what[128];
        const char *tag = cfg.strategy == SBERT_SPLADE_SUM ? (cfg.activation ? "sum/log1p_relu" : "sum/relu")
                                                           : (cfg.activation ? "max/log1p_relu" : "max/relu");
        snprintf(what, sizeof what, "pool %s emb", tag);
        rel_err(emb, cJSON_GetObjectItem(c, "emb"), n_seq * V, what, 1e-5);
        snprintf(what, sizeof what, "pool %s du", tag);
        rel_err(du, cJSON_GetObjectItem(c, "du"), T * H, what, 1e-5);
        snprintf(what, sizeof what, "pool %s dW", tag);
        rel_err(dW, cJSON_GetObjectItem(c, "dW"), V * H, what, 1e-5);
        snprintf(what, sizeof what, "pool %s db", tag);
        rel_err(db, cJSON_GetObjectItem(c, "db"), V, what, 1e-5);
        free(dW);
        free(db);
        free(du);
        free(emb);
        free(zsel);
        free(arg);
    }
    free(u);
    free(W);
    free(b);
    free(R);
}

static void write_text(const char *dir, const char *name, const char *text) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* The tiny-bert MLM + SpladePooling(strategy, activation) folder. */
static int make_model(const char *dir, const char *strategy, const char *activation) {
    if (!st_assemble_mlm("bert", dir)) return 0;
    write_text(dir, "modules.json",
               "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":\"sentence_transformers.sparse_encoder.models."
               "MLMTransformer\"},{\"idx\":1,\"name\":\"1\",\"path\":\"1_SpladePooling\",\"type\":"
               "\"sentence_transformers.sparse_encoder.models.SpladePooling\"}]");
    write_text(dir, "config_sentence_transformers.json", "{\"model_type\": \"SparseEncoder\"}");
    char sub[4200], cfg[256];
    snprintf(sub, sizeof sub, "%s/1_SpladePooling", dir);
    st_mkdirs(sub);
    snprintf(cfg, sizeof cfg, "{\"pooling_strategy\": \"%s\", \"activation_function\": \"%s\"}", strategy, activation);
    write_text(sub, "config.json", cfg);
    return 1;
}

static void test_model(const cJSON *ref) {
    const cJSON *sents = cJSON_GetObjectItem(ref, "sentences");
    const char *texts[8];
    size_t n = 0;
    for (const cJSON *s = sents->child; s; s = s->next) texts[n++] = s->valuestring;
    const cJSON *ids = cJSON_GetObjectItem(ref, "sample_ids");
    for (const cJSON *c = cJSON_GetObjectItem(ref, "model")->child; c; c = c->next) {
        const char *strat = cJSON_GetObjectItem(c, "strategy")->valuestring,
                   *act = cJSON_GetObjectItem(c, "activation")->valuestring;
        const char *tmp = st_tmpdir("sgrad");
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/m", tmp);
        sbert_model *m = NULL;
        sbert_param_table *pt = NULL;
        if (!make_model(dir, strat, act)) {
            CHECK(0, "assemble the tiny-bert MLM");
            st_rm_rf(tmp);
            continue;
        }
        CHECK_OK(sbert_sparse_encoder_load(dir, NULL, &m));
        if (m) CHECK_OK(sbert_model_params(m, &pt));
        if (!m || !pt) {
            sbert_model_free(m);
            st_rm_rf(tmp);
            continue;
        }
        sbert_packed batch;
        memset(&batch, 0, sizeof batch);
        CHECK_OK(sbert_model_tokenize_column(m, NULL, texts, n, &batch));
        size_t V = sbert_model_full_dim(m);
        float *emb = malloc(n * V * sizeof *emb), *R = malloc(n * V * sizeof *R);
        for (size_t s = 0; s < n; s++)
            for (size_t v = 0; v < V; v++) R[s * V + v] = (float)sin(0.37 * (double)s + 0.011 * (double)v + 0.5);
        CHECK_OK(sbert_model_forward_train(m, &batch, NULL, emb));
        double loss = 0;
        for (size_t i = 0; i < n * V; i++) loss += (double)emb[i] * R[i];
        CHECK_OK(sbert_model_backward(m, R));
        double lref = cJSON_GetObjectItem(c, "loss")->valuedouble;
        CHECK(fabs(loss - lref) <= 1e-5 * fmax(1, fabs(lref)), "%s/%s: loss %.8f, reference %.8f", strat, act, loss,
              lref);
        char what[256];
        for (const cJSON *f = cJSON_GetObjectItem(c, "full")->child; f; f = f->next) {
            const char *name = f->string;
            char ours[256];
            snprintf(ours, sizeof ours, "0.%s", strncmp(name, "bert.", 5) ? name : name + 5);
            sbert_param *p = sbert_params_find(pt, ours);
            CHECK(p != NULL, "no parameter %s", ours);
            if (!p) continue;
            snprintf(what, sizeof what, "%s/%s d%s", strat, act, name);
            rel_err(p->grad, f, (size_t)cJSON_GetArraySize(f), what, 1e-5);
        }
        sbert_param *we = sbert_params_find(pt, "0.embeddings.word_embeddings.weight");
        sbert_param *bias = sbert_params_find(pt, "0.cls.predictions.bias");
        CHECK(we && bias, "word embeddings / decoder bias parameters");
        if (we && bias) {
            size_t H = (size_t)we->shape[1], k = 0;
            float *rows = malloc((size_t)cJSON_GetArraySize(ids) * H * sizeof *rows);
            float *bs = malloc((size_t)cJSON_GetArraySize(ids) * sizeof *bs);
            for (const cJSON *x = ids->child; x; x = x->next, k++) {
                memcpy(rows + k * H, we->grad + (size_t)x->valueint * H, H * sizeof *rows);
                bs[k] = bias->grad[x->valueint];
            }
            /* flatten the reference rows */
            cJSON *flat = cJSON_CreateArray();
            for (const cJSON *r = cJSON_GetObjectItem(c, "word_emb_rows")->child; r; r = r->next)
                for (const cJSON *x = r->child; x; x = x->next) cJSON_AddItemToArray(flat, cJSON_CreateNumber(x->valuedouble));
            snprintf(what, sizeof what, "%s/%s dword_embeddings (sampled rows)", strat, act);
            rel_err(rows, flat, k * H, what, 1e-5);
            cJSON_Delete(flat);
            snprintf(what, sizeof what, "%s/%s dcls.predictions.bias (sampled)", strat, act);
            rel_err(bs, cJSON_GetObjectItem(c, "bias_sample"), k, what, 1e-5);
            double s1 = 0, s2 = 0;
            for (size_t i = 0; i < we->numel; i++) s1 += (double)we->grad[i] * we->grad[i];
            for (size_t i = 0; i < bias->numel; i++) s2 += (double)bias->grad[i] * bias->grad[i];
            double r1 = cJSON_GetObjectItem(c, "word_emb_sumsq")->valuedouble,
                   r2 = cJSON_GetObjectItem(c, "bias_sumsq")->valuedouble;
            CHECK(fabs(s1 - r1) <= 1e-4 * r1, "%s/%s: |dword_embeddings|^2 %.8g, reference %.8g", strat, act, s1, r1);
            CHECK(fabs(s2 - r2) <= 1e-4 * r2, "%s/%s: |dbias|^2 %.8g, reference %.8g", strat, act, s2, r2);
            free(rows);
            free(bs);
        }
        sbert_packed_free(&batch);
        free(emb);
        free(R);
        sbert_model_free(m);
        st_rm_rf(tmp);
    }
}

int main(void) {
    cJSON *ref = st_load_json(test_path("tests/data/sparse/grads.json"));
    if (ref) {
        test_pool_alone(ref);
        test_model(ref);
    }
    cJSON_Delete(ref);
    printf("worst gradient error (relative to the largest reference value): %.3g\n", g_worst);
    return test_summary();
}
