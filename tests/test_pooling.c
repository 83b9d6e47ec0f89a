/*
 * tests/test_pooling.c -- Pooling, Dense, Normalize and sbert_similarity
 * against Python sentence-transformers (reference values from
 * tools/gen_model_refs.py):
 *   - tests/data/st_models/pooling_ref.json: Pooling forward on random token
 *     embeddings of 4 sequences (lengths 7, 3, 5, 2) for every mode, two
 *     concatenations, with and without include_prompt=false (prompt length
 *     2, which masks all of the length-2 sequence: the edge cases); and
 *     what Pooling.load makes of legacy/v6 config files;
 *   - tests/data/st_models/similarity_ref.json: util.cos_sim / dot_score /
 *     euclidean_sim / manhattan_sim (a zero row included);
 *   - a committed Dense layer (bert-max-dense-tanh) loaded from its folder.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "modules/dense.h"
#include "modules/normalize.h"
#include "modules/pooling.h"
#include "test_util.h"

static cJSON *load_json(const char *rel) {
    size_t len = 0;
    char *txt = test_read_file(test_path(rel), &len);
    CHECK(txt != NULL, "cannot read %s (run tools/gen_model_refs.py)", rel);
    if (!txt) return NULL;
    cJSON *j = cJSON_ParseWithLength(txt, len);
    free(txt);
    CHECK(j != NULL, "%s: invalid JSON", rel);
    return j;
}

static double json_num(const cJSON *v) {
    if (cJSON_IsString(v) && strcmp(v->valuestring, "-inf") == 0) return -INFINITY;
    return v->valuedouble;
}

static void test_forward(const cJSON *ref) {
    const cJSON *lengths = cJSON_GetObjectItem(ref, "lengths");
    const cJSON *tokens = cJSON_GetObjectItem(ref, "tokens");
    size_t dim = (size_t)cJSON_GetObjectItem(ref, "dim")->valuedouble;
    size_t nseq = (size_t)cJSON_GetArraySize(lengths);
    size_t offs[16];
    offs[0] = 0;
    for (size_t i = 0; i < nseq; i++)
        offs[i + 1] = offs[i] + (size_t)cJSON_GetArrayItem(lengths, (int)i)->valuedouble;
    float *tok = malloc(offs[nseq] * dim * sizeof *tok);
    for (size_t i = 0; i < nseq; i++) {
        const cJSON *row = cJSON_GetArrayItem(tokens, (int)i);
        for (size_t k = 0; k < (size_t)cJSON_GetArraySize(row); k++)
            tok[offs[i] * dim + k] = (float)cJSON_GetArrayItem(row, (int)k)->valuedouble;
    }
    const cJSON *c;
    int ncases = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(ref, "cases")) {
        sbert_pooling p;
        memset(&p, 0, sizeof p);
        p.dim = dim;
        const cJSON *m;
        char label[128] = "";
        cJSON_ArrayForEach(m, cJSON_GetObjectItem(c, "modes")) {
            int found = 0;
            for (int k = 0; k < SBERT_POOL_NMODES; k++) {
                if (strcmp(m->valuestring, sbert_pooling_mode_name((sbert_pooling_mode)k)) == 0) {
                    p.modes[p.n_modes++] = (sbert_pooling_mode)k;
                    found = 1;
                }
            }
            CHECK(found, "mode name %s known", m->valuestring);
            strncat(label, m->valuestring, sizeof label - strlen(label) - 2);
            strcat(label, "+");
        }
        p.include_prompt = cJSON_IsTrue(cJSON_GetObjectItem(c, "include_prompt"));
        size_t plen = (size_t)cJSON_GetObjectItem(c, "prompt_length")->valuedouble;
        size_t odim = sbert_pooling_output_dim(&p);
        const cJSON *exp = cJSON_GetObjectItem(c, "output");
        CHECK((size_t)cJSON_GetArraySize(exp) == nseq * odim, "%s: output size", label);
        float *out = malloc(nseq * odim * sizeof *out);
        sbert_pooling_forward(&p, tok, offs, nseq, plen, out);
        double maxd = 0;
        int inf_ok = 1;
        for (size_t k = 0; k < nseq * odim; k++) {
            double e = json_num(cJSON_GetArrayItem(exp, (int)k));
            if (isinf(e) || isinf(out[k])) {
                if (!(isinf(e) && isinf(out[k]) && (e < 0) == (out[k] < 0))) inf_ok = 0;
                continue;
            }
            double d = fabs(e - out[k]);
            maxd = test_max_err(maxd, d);
        }
        CHECK(maxd <= 1e-6, "pooling %s prompt_length %zu: max |delta| %.3g", label, plen, maxd);
        CHECK(inf_ok, "pooling %s prompt_length %zu: -inf entries agree", label, plen);
        free(out);
        ncases++;
    }
    CHECK(ncases >= 16, "pooling forward cases: %d", ncases);
    free(tok);
}

static void test_configs(const cJSON *ref) {
    const cJSON *c;
    int n = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(ref, "configs")) {
        sbert_pooling p;
        CHECK_OK(sbert_pooling_from_json(cJSON_GetObjectItem(c, "config"), "config", &p));
        CHECK(p.dim == (size_t)cJSON_GetObjectItem(c, "dim")->valuedouble, "config %d: dim %zu", n,
              p.dim);
        CHECK(sbert_pooling_output_dim(&p) ==
                  (size_t)cJSON_GetObjectItem(c, "output_dim")->valuedouble,
              "config %d: output dim %zu", n, sbert_pooling_output_dim(&p));
        CHECK(p.include_prompt == cJSON_IsTrue(cJSON_GetObjectItem(c, "include_prompt")),
              "config %d: include_prompt", n);
        const cJSON *modes = cJSON_GetObjectItem(c, "modes");
        CHECK(p.n_modes == (size_t)cJSON_GetArraySize(modes), "config %d: %zu modes", n, p.n_modes);
        for (size_t k = 0; k < p.n_modes && k < (size_t)cJSON_GetArraySize(modes); k++)
            CHECK(strcmp(sbert_pooling_mode_name(p.modes[k]),
                         cJSON_GetArrayItem(modes, (int)k)->valuestring) == 0,
                  "config %d: mode %zu is %s", n, k, sbert_pooling_mode_name(p.modes[k]));
        n++;
    }
    CHECK(n >= 8, "pooling configs: %d", n);

    /* Invalid configs are errors naming the file. */
    static const char *const bad[] = {
        "{\"embedding_dimension\": 8, \"pooling_mode\": \"median\"}",
        "{\"pooling_mode\": \"mean\"}",
        "{\"embedding_dimension\": 8, \"pooling_mode\": []}",
        "{\"embedding_dimension\": -3}",
        "[1, 2]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cJSON *j = cJSON_Parse(bad[i]);
        sbert_pooling p;
        sbert_status st = sbert_pooling_from_json(j, "x/1_Pooling/config.json", &p);
        CHECK(st == SBERT_ERR_FORMAT, "bad pooling config %zu rejected (%s)", i,
              sbert_status_name(st));
        CHECK(strstr(sbert_last_error(), "x/1_Pooling/config.json") != NULL,
              "message names the file: %s", sbert_last_error());
        cJSON_Delete(j);
    }
}

static void test_similarity(void) {
    cJSON *ref = load_json("tests/data/st_models/similarity_ref.json");
    if (!ref) return;
    size_t na = (size_t)cJSON_GetObjectItem(ref, "na")->valuedouble;
    size_t nb = (size_t)cJSON_GetObjectItem(ref, "nb")->valuedouble;
    size_t dim = (size_t)cJSON_GetObjectItem(ref, "dim")->valuedouble;
    float *a = malloc(na * dim * sizeof *a), *b = malloc(nb * dim * sizeof *b);
    float *out = malloc(na * nb * sizeof *out);
    for (size_t i = 0; i < na * dim; i++)
        a[i] = (float)cJSON_GetArrayItem(cJSON_GetObjectItem(ref, "a"), (int)i)->valuedouble;
    for (size_t i = 0; i < nb * dim; i++)
        b[i] = (float)cJSON_GetArrayItem(cJSON_GetObjectItem(ref, "b"), (int)i)->valuedouble;
    static const char *const fns[] = {"cosine", "dot", "euclidean", "manhattan"};
    for (int f = 0; f < 4; f++) {
        CHECK_OK(sbert_similarity(fns[f], a, na, b, nb, dim, out));
        const cJSON *exp = cJSON_GetObjectItem(ref, fns[f]);
        double maxd = 0;
        for (size_t i = 0; i < na * nb; i++) {
            double d = fabs(cJSON_GetArrayItem(exp, (int)i)->valuedouble - out[i]);
            maxd = test_max_err(maxd, d);
        }
        CHECK(maxd <= 1e-5, "similarity %s: max |delta| %.3g", fns[f], maxd);
    }
    CHECK(sbert_similarity("jaccard", a, na, b, nb, dim, out) == SBERT_ERR_INVALID_ARG,
          "unknown similarity function rejected");
    CHECK(strstr(sbert_last_error(), "jaccard") != NULL, "message names it: %s",
          sbert_last_error());
    free(a);
    free(b);
    free(out);
    cJSON_Delete(ref);
}

static void test_dense_and_normalize(void) {
    /* The committed Dense of the bert-max-dense-tanh case: 32 -> 16, Tanh, bias. */
    sbert_dense *d = NULL;
    CHECK_OK(sbert_dense_load(test_path("tests/data/st_models/bert-max-dense-tanh/2_Dense"), &d));
    if (d) {
        cJSON *cfg = load_json("tests/data/st_models/bert-max-dense-tanh/2_Dense/config.json");
        if (cfg) {
            CHECK(sbert_dense_in_features(d) ==
                      (size_t)cJSON_GetObjectItem(cfg, "in_features")->valuedouble,
                  "in_features");
            CHECK(sbert_dense_out_features(d) ==
                      (size_t)cJSON_GetObjectItem(cfg, "out_features")->valuedouble,
                  "out_features");
            cJSON_Delete(cfg);
        }
        CHECK(sbert_dense_activation(d) == SBERT_DENSE_ACT_TANH, "activation Tanh");
        /* Tanh output of any input lies in [-1, 1]. */
        size_t in = sbert_dense_in_features(d), out = sbert_dense_out_features(d);
        float *x = malloc(3 * in * sizeof *x), *y = malloc(3 * out * sizeof *y);
        for (size_t i = 0; i < 3 * in; i++) x[i] = (float)sin((double)i) * 5.0f;
        sbert_dense_forward(d, x, 3, y);
        int in_range = 1;
        for (size_t i = 0; i < 3 * out; i++)
            if (!(y[i] >= -1.0f && y[i] <= 1.0f)) in_range = 0;
        CHECK(in_range, "tanh range");
        free(x);
        free(y);
        sbert_dense_free(d);
    }
    sbert_activation act;
    CHECK_OK(sbert_activation_parse("torch.nn.modules.linear.Identity", &act));
    CHECK(act == SBERT_DENSE_ACT_IDENTITY, "Identity");
    CHECK(sbert_activation_parse("my.custom.Act", &act) == SBERT_ERR_UNSUPPORTED,
          "custom activation rejected");

    float v[6] = {3, 4, 0, 0, 0, 0};
    sbert_normalize_rows(v, 2, 3);
    CHECK_NEAR(v[0], 0.6, 1e-7, "normalize x");
    CHECK_NEAR(v[1], 0.8, 1e-7, "normalize y");
    CHECK(v[3] == 0 && v[4] == 0 && v[5] == 0, "zero row stays zero");
}

int main(void) {
    cJSON *ref = load_json("tests/data/st_models/pooling_ref.json");
    if (ref) {
        test_forward(ref);
        test_configs(ref);
        cJSON_Delete(ref);
    }
    test_similarity();
    test_dense_and_normalize();
    return test_summary();
}
