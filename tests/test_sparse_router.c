/*
 * tests/test_sparse_router.c -- an inference-free SPLADE model saved by
 * sentence-transformers 6.2.0 (tests/data/sparse/router, tools/gen_sparse_refs.py
 * part router): Router.for_query_document with SparseStaticEmbedding
 * (frozen IDF-like weights, its own tokenizer) for queries and the tiny-bert
 * masked LM + SpladePooling(max, log1p_relu) for documents.
 *
 * The saved folder is rebuilt from the committed small files plus the
 * tiny-bert tokenizer.json, the assembled MLM weights and idf.safetensors;
 * then encode_query, encode_document and plain encode (the default route,
 * document) must give Python's non-zeros (identical active dimensions,
 * 1e-5), and model.similarity(q, d) (dot) must match. The model saved by
 * sbert reloads and encodes bit-identically, and a Router whose route is
 * missing, or a task no route answers, is a clear error.
 */
#include "models/model.h"
#include "sparse_test_util.h"

static int build_router(const cJSON *ref, const char *dir) {
    const char *base = test_path("tests/data/sparse/router/saved");
    char base_copy[4096];
    snprintf(base_copy, sizeof base_copy, "%s", base);
    for (const cJSON *f = cJSON_GetObjectItem(ref, "files")->child; f; f = f->next) {
        char src[4200], dst[4200];
        snprintf(src, sizeof src, "%s/%s", base_copy, f->valuestring);
        snprintf(dst, sizeof dst, "%s/%s", dir, f->valuestring);
        char *slash = strrchr(dst, '/');
        *slash = '\0';
        st_mkdirs(dst);
        *slash = '/';
        if (!st_copy_file(src, dst)) return 0;
    }
    char p[4200], q[4200];
    /* document route: the assembled MLM weights + tokenizer */
    char tmpm[4200];
    snprintf(tmpm, sizeof tmpm, "%s/.mlm", dir);
    if (!st_assemble_mlm("bert", tmpm)) return 0;
    snprintf(p, sizeof p, "%s/model.safetensors", tmpm);
    snprintf(q, sizeof q, "%s/document_0_Transformer/model.safetensors", dir);
    if (rename(p, q) != 0) return 0;
    snprintf(p, sizeof p, "%s/tokenizer.json", tmpm);
    snprintf(q, sizeof q, "%s/document_0_Transformer/tokenizer.json", dir);
    if (!st_copy_file(p, q)) return 0;
    snprintf(q, sizeof q, "%s/query_0_SparseStaticEmbedding/tokenizer.json", dir);
    if (!st_copy_file(p, q)) return 0;
    /* query route: the static weights as F32 */
    char idf[4200];
    snprintf(idf, sizeof idf, "%s", test_path("tests/data/sparse/router/idf.safetensors"));
    snprintf(q, sizeof q, "%s/query_0_SparseStaticEmbedding/model.safetensors", dir);
    if (!st_merge_weights(idf, "", NULL, q)) return 0;
    st_rm_rf(tmpm); /* only removes /tmp/sbert-* paths: this is one */
    return 1;
}

static void check_errors(const char *dir) {
    /* A route that names a module id not in "types". */
    char p[4200];
    snprintf(p, sizeof p, "%s/router_config.json", dir);
    cJSON *rc = st_load_json(p);
    if (!rc) return;
    char *orig = cJSON_Print(rc);
    cJSON *q = cJSON_GetObjectItem(cJSON_GetObjectItem(rc, "structure"), "query");
    cJSON_ReplaceItemInArray(q, 0, cJSON_CreateString("query_0_Missing"));
    char *bad = cJSON_Print(rc);
    FILE *f = fopen(p, "w");
    fputs(bad, f);
    fclose(f);
    sbert_model *m = NULL;
    sbert_status st = sbert_model_load_auto(dir, NULL, &m);
    CHECK(st == SBERT_ERR_FORMAT && strstr(sbert_last_error(), "query_0_Missing") &&
              strstr(sbert_last_error(), "not in \"types\""),
          "a route naming a missing module: %s", sbert_last_error());
    sbert_model_free(m);
    /* A task no route answers. */
    f = fopen(p, "w");
    fputs(orig, f);
    fclose(f);
    m = NULL;
    CHECK_OK(sbert_model_load_auto(dir, NULL, &m));
    if (m) {
        const char *t[] = {"hello"};
        sbert_encode_options o = sbert_encode_options_default();
        o.task = "passage";
        float *out = malloc(sbert_model_dim(m) * sizeof *out);
        st = sbert_model_encode(m, t, 1, &o, out);
        CHECK(st == SBERT_ERR_INVALID_ARG && strstr(sbert_last_error(), "no route for task 'passage'") &&
                  strstr(sbert_last_error(), "task='query'"),
              "unknown task: %s", sbert_last_error());
        free(out);
        sbert_model_free(m);
    }
    free(orig);
    free(bad);
    cJSON_Delete(rc);
}

int main(void) {
    cJSON *ref = st_load_json(test_path("tests/data/sparse/router/ref.json"));
    const char *tmp = st_tmpdir("router");
    if (!ref || !tmp) return test_summary();
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/m", tmp);
    CHECK(build_router(ref, dir), "assemble the Router model");
    sbert_model *m = NULL;
    CHECK_OK(sbert_model_load_auto(dir, NULL, &m));
    if (m) {
        CHECK(!strcmp(sbert_model_type(m), "SparseEncoder"), "model type %s", sbert_model_type(m));
        const char *texts[16];
        size_t n = 0;
        for (const cJSON *s = cJSON_GetObjectItem(ref, "sentences")->child; s; s = s->next) texts[n++] = s->valuestring;
        sbert_encode_options oq = sbert_encode_options_for_task(m, "query");
        sbert_encode_options od = sbert_encode_options_for_task(m, "document");
        sbert_encode_options oe = sbert_encode_options_default();
        sbert_sparse_rows q, d, e;
        CHECK_OK(sbert_sparse_encode(m, texts, n, &oq, &q));
        CHECK_OK(sbert_sparse_encode(m, texts, n, &od, &d));
        CHECK_OK(sbert_sparse_encode(m, texts, n, &oe, &e));
        st_compare_rows(&q, cJSON_GetObjectItem(ref, "query_rows"), "encode_query", 1e-5);
        st_compare_rows(&d, cJSON_GetObjectItem(ref, "document_rows"), "encode_document", 1e-5);
        st_compare_rows(&e, cJSON_GetObjectItem(ref, "encode_rows"), "encode (default route)", 1e-5);
        float *sim = malloc(n * n * sizeof *sim);
        CHECK_OK(sbert_sparse_dot(&q, &d, sim));
        double e_sim = 0;
        size_t k = 0;
        for (const cJSON *r = cJSON_GetObjectItem(ref, "similarity")->child; r; r = r->next)
            for (const cJSON *x = r->child; x; x = x->next, k++)
                e_sim = test_max_err(e_sim, fabs(sim[k] - x->valuedouble) / fmax(1, fabs(x->valuedouble)));
        CHECK(k == n * n && e_sim <= 1e-5, "similarity(q, d): error %.3g", e_sim);
        printf("router: similarity error %.3g\n", e_sim);
        /* save -> reload */
        char saved[4300];
        snprintf(saved, sizeof saved, "%s/saved", tmp);
        CHECK_OK(sbert_model_save(m, saved));
        sbert_model *m2 = NULL;
        CHECK_OK(sbert_model_load_auto(saved, NULL, &m2));
        if (m2) {
            sbert_sparse_rows q2;
            CHECK_OK(sbert_sparse_encode(m2, texts, n, &oq, &q2));
            int same = q2.nnz == q.nnz;
            for (size_t i = 0; same && i < q.nnz; i++) same = q.values[i] == q2.values[i] && q.indices[i] == q2.indices[i];
            CHECK(same, "the saved Router model encodes queries differently");
            sbert_sparse_rows_free(&q2);
            sbert_model_free(m2);
        }
        free(sim);
        sbert_sparse_rows_free(&q);
        sbert_sparse_rows_free(&d);
        sbert_sparse_rows_free(&e);
        sbert_model_free(m);
        check_errors(dir);
    }
    cJSON_Delete(ref);
    st_rm_rf(tmp);
    return test_summary();
}
