/*
 * tests/test_static_embedding.c -- StaticEmbedding against sentence-
 * transformers (tools/gen_static_refs.py): the model ST saved loads here,
 * tokenization without special tokens gives ST's ids, the token-bag mean
 * gives ST's embeddings, backward gives torch's gradient rows, and a table
 * saved here loads back bit-identical.
 */
#include <cjson/cJSON.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/file.h"
#include "modules/static_embedding.h"
#include "test_util.h"

int main(void) {
    cJSON *r = NULL;
    CHECK_OK(sbert_json_load(test_path("tests/data/static/refs.json"), &r));
    sbert_static_embedding *e = NULL;
    CHECK_OK(sbert_static_embedding_load(test_path("tests/data/static/model"), &e));
    if (!r || !e) return test_summary();
    CHECK(e->vocab == 8002 && e->dim == 8, "table %zux%zu", e->vocab, e->dim);

    const cJSON *jids = cJSON_GetObjectItem(r, "ids"), *joff = cJSON_GetObjectItem(r, "offsets");
    size_t T = (size_t)cJSON_GetArraySize(jids), n = (size_t)cJSON_GetArraySize(joff) - 1, D = e->dim;
    int32_t *ids = malloc(T * sizeof *ids);
    size_t *off = malloc((n + 1) * sizeof *off), k = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, jids) ids[k++] = v->valueint;
    k = 0;
    cJSON_ArrayForEach(v, joff) off[k++] = (size_t)v->valueint;

    /* Our tokenizer gives ST's ids (add_special_tokens=False, no truncation). */
    sbert_tokenizer *tok = NULL;
    CHECK_OK(sbert_tokenizer_load(test_path("tests/data/static/model/tokenizer.json"), &tok));
    size_t mism = 0;
    sbert_tokenize_options opt = sbert_tokenize_options_default();
    opt.add_special_tokens = 0;
    opt.max_length = -1;
    for (size_t s = 0; tok && s < n; s++) {
        const char *text = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "sentences"), (int)s)->valuestring;
        sbert_encoding enc;
        if (sbert_tokenizer_encode(tok, text, strlen(text), NULL, 0, &opt, &enc) != SBERT_OK) { mism++; continue; }
        int same = enc.len == off[s + 1] - off[s];
        for (size_t t = 0; same && t < enc.len; t++) same = enc.input_ids[t] == ids[off[s] + t];
        mism += !same;
        sbert_encoding_free(&enc);
    }
    CHECK(mism == 0, "tokenization: %zu of %zu texts differ from ST", mism, n);
    sbert_tokenizer_free(tok);

    float *emb = malloc(n * D * sizeof *emb);
    CHECK_OK(sbert_static_embedding_forward(e, ids, off, n, emb));
    double maxd = 0;
    k = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, cJSON_GetObjectItem(r, "embeddings")) cJSON_ArrayForEach(v, row)
        maxd = test_max_err(maxd, fabs(emb[k++] - v->valuedouble));
    CHECK(maxd <= 1e-6, "embeddings: max |diff| %.3g", maxd);
    printf("StaticEmbedding forward: %zu texts, max |diff| vs ST %.3g\n", n, maxd);

    /* The same model through the public API (sbert_model_load + encode). */
    sbert_model *model = NULL;
    CHECK_OK(sbert_model_load(test_path("tests/data/static/model"), NULL, &model));
    if (model) {
        CHECK(sbert_model_dim(model) == D && sbert_model_max_seq_length(model) == 0, "static model dim/max len");
        const char **texts = malloc(n * sizeof *texts);
        for (size_t s = 0; s < n; s++)
            texts[s] = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "sentences"), (int)s)->valuestring;
        float *emb2 = malloc(n * D * sizeof *emb2);
        CHECK_OK(sbert_model_encode(model, texts, n, NULL, emb2));
        double maxm = 0;
        k = 0;
        cJSON_ArrayForEach(row, cJSON_GetObjectItem(r, "embeddings")) cJSON_ArrayForEach(v, row)
            maxm = test_max_err(maxm, fabs(emb2[k++] - v->valuedouble));
        CHECK(maxm <= 1e-6, "sbert_model_encode on the static model: max |diff| %.3g", maxm);
        free(texts);
        free(emb2);
        sbert_model_free(model);
    }

    float *R = malloc(n * D * sizeof *R), *grad = calloc(e->vocab * D, sizeof *grad);
    int32_t *touched = malloc(e->vocab * sizeof *touched);
    unsigned char *mark = calloc(e->vocab, 1);
    k = 0;
    cJSON_ArrayForEach(row, cJSON_GetObjectItem(r, "R")) cJSON_ArrayForEach(v, row) R[k++] = (float)v->valuedouble;
    size_t nt = 0;
    sbert_static_embedding_backward(e, ids, off, n, R, grad, touched, &nt, mark);
    CHECK(nt == (size_t)cJSON_GetArraySize(cJSON_GetObjectItem(r, "touched")), "touched %zu rows", nt);
    double maxg = 0;
    size_t i = 0;
    cJSON_ArrayForEach(row, cJSON_GetObjectItem(r, "grad_rows")) {
        int id = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "touched"), (int)i++)->valueint;
        CHECK(mark[id], "row %d marked", id);
        size_t c = 0;
        cJSON_ArrayForEach(v, row) maxg = test_max_err(maxg, fabs(grad[(size_t)id * D + c++] - v->valuedouble));
    }
    CHECK(maxg <= 1e-6, "gradient rows: max |diff| %.3g", maxg);

    /* Save here, load back: identical table. */
    char dir[128];
    snprintf(dir, sizeof dir, "/tmp/sbert_static_%d", (int)getpid());
    CHECK(mkdir(dir, 0700) == 0, "mkdir %s", dir);
    CHECK_OK(sbert_static_embedding_save(e, dir));
    sbert_static_embedding *e2 = NULL;
    CHECK_OK(sbert_static_embedding_load(dir, &e2));
    CHECK(e2 && e2->vocab == e->vocab && memcmp(e2->weight, e->weight, e->vocab * D * sizeof(float)) == 0,
          "save/load round trip");
    sbert_static_embedding_free(e2);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "cleanup");

    int32_t badid = (int32_t)e->vocab;
    size_t boff[2] = {0, 1};
    CHECK(sbert_static_embedding_forward(e, &badid, boff, 1, emb) == SBERT_ERR_INVALID_ARG &&
              strstr(sbert_last_error(), "outside the table"), "bad id: %s", sbert_last_error());
    free(ids); free(off); free(emb); free(R); free(grad); free(touched); free(mark);
    sbert_static_embedding_free(e);
    cJSON_Delete(r);
    return test_summary();
}
