/*
 * tests/test_mine_ce.c -- `sbert mine --cross-encoder`: hard-negative mining
 * with a CrossEncoder rescoring the candidates, against sentence-transformers
 * 6.2.0's util.mine_hard_negatives(..., cross_encoder=CrossEncoder(...))
 * (tests/data/mining/ce/, made by tools/gen_mining_ce_refs.py): the real
 * encode with all-MiniLM-L6-v2, the real predict of the tiny BERT
 * CrossEncoder tests/data/cross_encoder/tiny-bert-l1 (one label, Sigmoid),
 * TrecQA pairs with a separate corpus. Per configuration (labeled-pair with
 * an absolute margin, n-tuple with a relative margin, triplet with
 * max_score, labeled-list with min_score and the range_max a rescorer
 * derives, and no filter: the CrossEncoder unused), the rows
 * sbert_mine_hard_negatives writes equal Python's: the same texts in the
 * same order, scores within 1e-5 (CrossEncoder predict parity is ~2e-6).
 * Also: a CrossEncoder with several labels is refused.
 */
#include <cjson/cJSON.h>
#include <math.h>

#include "test_ce_util.h"
#include "test_util.h"

static double g_worst;

static int same_value(const cJSON *a, const cJSON *b, const char *where) {
    if (cJSON_IsString(a) || cJSON_IsString(b)) {
        int ok = cJSON_IsString(a) && cJSON_IsString(b) && !strcmp(a->valuestring, b->valuestring);
        CHECK(ok, "%s: '%s' vs Python '%s'", where, cJSON_IsString(a) ? a->valuestring : "?",
              cJSON_IsString(b) ? b->valuestring : "?");
        return ok;
    }
    if (cJSON_IsNumber(a) && cJSON_IsNumber(b)) {
        double e = fabs(a->valuedouble - b->valuedouble);
        g_worst = test_max_err(g_worst, e);
        CHECK(e <= 1e-5, "%s: %.9g vs Python %.9g", where, a->valuedouble, b->valuedouble);
        return e <= 1e-5;
    }
    if (cJSON_IsArray(a) && cJSON_IsArray(b)) {
        int n = cJSON_GetArraySize(a), ok = n == cJSON_GetArraySize(b);
        CHECK(ok, "%s: %d items vs Python %d", where, n, cJSON_GetArraySize(b));
        for (int i = 0; ok && i < n; i++) ok &= same_value(cJSON_GetArrayItem(a, i), cJSON_GetArrayItem(b, i), where);
        return ok;
    }
    CHECK(0, "%s: different JSON kinds", where);
    return 0;
}

/* Every line of `got` equals the line of `want` (keys in order). Returns the rows. */
static size_t compare_files(const char *name, const char *got, const char *want) {
    size_t lg, lw;
    char *g = test_read_file(got, &lg), *w = test_read_file(want, &lw);
    CHECK(g && w, "%s: read %s and %s", name, got, want);
    size_t rows = 0;
    char *sg = NULL, *sw = NULL;
    for (char *a = g ? strtok_r(g, "\n", &sg) : NULL, *b = w ? strtok_r(w, "\n", &sw) : NULL; a || b;
         a = strtok_r(NULL, "\n", &sg), b = strtok_r(NULL, "\n", &sw)) {
        rows++;
        CHECK(a && b, "%s: row %zu: sbert has %s, Python has %s", name, rows, a ? "it" : "none", b ? "it" : "none");
        if (!a || !b) break;
        cJSON *ja = cJSON_Parse(a), *jb = cJSON_Parse(b);
        CHECK(ja && jb, "%s: row %zu parses", name, rows);
        const cJSON *x = ja ? ja->child : NULL, *y = jb ? jb->child : NULL;
        for (; x || y; x = x ? x->next : NULL, y = y ? y->next : NULL) {
            char where[256];
            snprintf(where, sizeof where, "%s row %zu column %s", name, rows, y ? y->string : "?");
            CHECK(x && y && !strcmp(x->string, y->string), "%s: column %s vs Python %s", where, x ? x->string : "-",
                  y ? y->string : "-");
            if (!x || !y) break;
            if (!same_value(x, y, where)) break;
        }
        cJSON_Delete(ja);
        cJSON_Delete(jb);
    }
    free(g);
    free(w);
    return rows;
}

static void line_log(const char *line, void *user) {
    char *buf = user;
    size_t n = strlen(buf);
    snprintf(buf + n, 65536 - n, "%s\n", line);
}

int main(void) {
    const char *refp = test_path("tests/data/mining/ce/refs.json");
    if (!TEST_REQUIRE_FILE(refp, "run tools/gen_mining_ce_refs.py")) return test_summary();
    char model_dir[1024], data[1024], corpus[1024];
    snprintf(model_dir, sizeof model_dir, "%s", test_path("models/all-MiniLM-L6-v2"));
    snprintf(data, sizeof data, "%s", test_path("tests/data/mining/trecqa_pairs.jsonl"));
    snprintf(corpus, sizeof corpus, "%s", test_path("tests/data/mining/trecqa_corpus.txt"));
    if (!TEST_REQUIRE_FILE(model_dir, TEST_FETCH_MODELS)) return test_summary();
    if (TEST_SANITIZED) {
        test_skip("mining with a CrossEncoder end to end (encodes ~430 texts with MiniLM: slow under the sanitizers)");
        return test_summary();
    }
    cJSON *refs = NULL;
    CHECK_OK(sbert_json_load(refp, &refs));
    cJSON *ceref = ce_ref(cJSON_GetObjectItem(refs, "cross_encoder")->valuestring);
    const char *ce_dir = ce_tmpdir("mine");
    if (!refs || !ceref || !ce_dir ||
        !ce_build_folder(cJSON_GetObjectItem(refs, "cross_encoder")->valuestring, ceref, ce_dir))
        return test_summary();
    sbert_model *model = NULL;
    CHECK_OK(sbert_model_load(model_dir, NULL, &model));
    char out[512];
    snprintf(out, sizeof out, "%s/out.jsonl", ce_dir);
    static char log[65536];
    const cJSON *cfg;
    int n = 0;
    cJSON_ArrayForEach(cfg, cJSON_GetObjectItem(refs, "configs")) {
        const char *name = cJSON_GetObjectItem(cfg, "name")->valuestring;
        const cJSON *kw = cJSON_GetObjectItem(cfg, "kwargs"), *v;
        sbert_mine_options o = sbert_mine_options_default();
        o.corpus_path = corpus;
        o.cross_encoder = ce_dir;
        o.log = line_log;
        o.log_user = log;
        log[0] = '\0';
        if ((v = cJSON_GetObjectItem(kw, "output_format"))) o.output_format = v->valuestring;
        if ((v = cJSON_GetObjectItem(kw, "output_scores"))) o.output_scores = cJSON_IsTrue(v);
        if ((v = cJSON_GetObjectItem(kw, "num_negatives"))) o.num_negatives = (size_t)v->valuedouble;
        if ((v = cJSON_GetObjectItem(kw, "range_max"))) o.range_max = (size_t)v->valuedouble;
        if ((v = cJSON_GetObjectItem(kw, "absolute_margin"))) o.absolute_margin = v->valuedouble;
        if ((v = cJSON_GetObjectItem(kw, "relative_margin"))) o.relative_margin = v->valuedouble;
        if ((v = cJSON_GetObjectItem(kw, "max_score"))) o.max_score = v->valuedouble;
        if ((v = cJSON_GetObjectItem(kw, "min_score"))) o.min_score = v->valuedouble;
        sbert_mine_summary sum;
        sbert_status st = sbert_mine_hard_negatives(model, data, &o, out, &sum);
        CHECK(st == SBERT_OK, "[%s] mining: %s", name, sbert_last_error());
        if (st != SBERT_OK) continue;
        size_t rows = compare_files(name, out, test_path(cJSON_GetObjectItem(cfg, "file")->valuestring));
        CHECK(rows == (size_t)cJSON_GetObjectItem(cfg, "n_rows")->valueint, "[%s] %zu rows, Python %d", name, rows,
              cJSON_GetObjectItem(cfg, "n_rows")->valueint);
        /* the report: the range_max line Python printed */
        const cJSON *line;
        cJSON_ArrayForEach(line, cJSON_GetObjectItem(cfg, "report"))
            if (!strncmp(line->valuestring, "Setting range_max", 17))
                CHECK(strstr(log, line->valuestring) != NULL, "[%s] report has '%s': %s", name, line->valuestring, log);
        int unused = strstr(log, "the CrossEncoder is not used") != NULL;
        CHECK(unused == !strcmp(name, "ce_unused_no_filter"), "[%s] the unused-CrossEncoder note %s", name,
              unused ? "printed" : "missing");
        printf("%-22s %zu rows equal to sentence-transformers'\n", name, rows);
        n++;
    }
    CHECK(n == 5, "%d configurations run", n);
    printf("CrossEncoder-rescored mining: scores within %.2e of sentence-transformers\n", g_worst);

    /* a CrossEncoder with 3 labels is refused */
    char cfgp[600];
    snprintf(cfgp, sizeof cfgp, "%s/config.json", ce_dir);
    char *txt = test_read_file(cfgp, NULL);
    cJSON *c = txt ? cJSON_Parse(txt) : NULL;
    free(txt);
    if (c) {
        cJSON *id2 = cJSON_CreateObject();
        cJSON_AddStringToObject(id2, "0", "a");
        cJSON_AddStringToObject(id2, "1", "b");
        cJSON_AddStringToObject(id2, "2", "c");
        cJSON_ReplaceItemInObject(c, "id2label", id2);
        cJSON *l2i = cJSON_CreateObject();
        cJSON_AddNumberToObject(l2i, "a", 0);
        cJSON_AddNumberToObject(l2i, "b", 1);
        cJSON_AddNumberToObject(l2i, "c", 2);
        cJSON_ReplaceItemInObject(c, "label2id", l2i);
        char *s = cJSON_Print(c);
        FILE *f = fopen(cfgp, "w");
        if (f) {
            fputs(s, f);
            fclose(f);
        }
        free(s);
        cJSON_Delete(c);
        sbert_mine_options o = sbert_mine_options_default();
        o.corpus_path = corpus;
        o.cross_encoder = ce_dir;
        o.min_score = 0.1;
        sbert_status st = sbert_mine_hard_negatives(model, data, &o, out, NULL);
        CHECK(st != SBERT_OK && (strstr(sbert_last_error(), "labels") || strstr(sbert_last_error(), "classifier")),
              "a CrossEncoder with 3 labels is refused: %s", sbert_last_error());
    }
    sbert_model_free(model);
    cJSON_Delete(refs);
    cJSON_Delete(ceref);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", ce_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", ce_dir);
    return test_summary();
}
