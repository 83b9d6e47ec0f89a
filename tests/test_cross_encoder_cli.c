/*
 * tests/test_cross_encoder_cli.c -- `sbert predict` and `sbert rerank` on
 * the sentence-transformers reference CrossEncoders (tests/data/cross_encoder):
 * the printed scores equal the library's predict (to the 9 digits printed)
 * and sentence-transformers' values; rerank prints CrossEncoder.rank's order
 * with texts and top-k; the .npy output; bad inputs (a pair file with one
 * column, an array of one text, an unknown activation, rank on 3 labels)
 * exit 1 naming the file and line and leave no output file.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "io/dirs.h"
#include "io/file.h"
#include "test_ce_util.h"
#include "test_util.h"

static const char *g_bin;
static char g_tmp[256];

static char *slurp(const char *path) {
    char *d = NULL;
    size_t n = 0;
    if (sbert_read_file(path, &d, &n) != SBERT_OK) return NULL;
    return d;
}

static int run_cli(const char *args, char **out, char **err) {
    char cmd[16384], so[512], se[512];
    snprintf(so, sizeof so, "%s/stdout", g_tmp);
    snprintf(se, sizeof se, "%s/stderr", g_tmp);
    snprintf(cmd, sizeof cmd, "'%s' %s >'%s' 2>'%s'", g_bin, args, so, se);
    int st = system(cmd);
    int rc = st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    char *o = slurp(so), *e = slurp(se);
    if (out) *out = o;
    else free(o);
    if (err) *err = e;
    else free(e);
    return rc;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* The pairs of pairs.json as a JSONL file of arrays and a TSV file with a header. */
static size_t write_pairs(const cJSON *pairs, const char *jsonl, const char *tsv) {
    FILE *a = fopen(jsonl, "wb"), *b = fopen(tsv, "wb");
    fprintf(b, "query\tpassage\n");
    const cJSON *p;
    size_t n = 0;
    cJSON_ArrayForEach(p, cJSON_GetObjectItem(pairs, "pairs")) {
        char *s = cJSON_PrintUnformatted(p);
        fprintf(a, "%s\n", s);
        cJSON_free(s);
        const char *q = cJSON_GetArrayItem(p, 0)->valuestring, *d = cJSON_GetArrayItem(p, 1)->valuestring;
        int plain = !strpbrk(q, "\t\n\"") && !strpbrk(d, "\t\n\"");
        if (plain) fprintf(b, "%s\t%s\n", q, d);
        else {
            /* RFC 4180 quoting */
            fputc('"', b);
            for (const char *c = q; *c; c++) fprintf(b, *c == '"' ? "\"\"" : "%c", *c);
            fputs("\"\t\"", b);
            for (const char *c = d; *c; c++) fprintf(b, *c == '"' ? "\"\"" : "%c", *c);
            fputs("\"\n", b);
        }
        n++;
    }
    fclose(a);
    fclose(b);
    return n;
}

static void test_predict(const cJSON *pairs) {
    cJSON *ref1 = ce_ref("tiny-bert-l1"), *ref3 = ce_ref("tiny-roberta-l3");
    char d1[512], d3[512], jsonl[512], tsv[512], args[8192];
    snprintf(d1, sizeof d1, "%s/m1", g_tmp);
    snprintf(d3, sizeof d3, "%s/m3", g_tmp);
    snprintf(jsonl, sizeof jsonl, "%s/pairs.jsonl", g_tmp);
    snprintf(tsv, sizeof tsv, "%s/pairs.tsv", g_tmp);
    if (!ref1 || !ref3 || !ce_build_folder("tiny-bert-l1", ref1, d1) || !ce_build_folder("tiny-roberta-l3", ref3, d3))
        goto out;
    size_t n = write_pairs(pairs, jsonl, tsv);
    /* One score per line, as predict(pairs) with the default Sigmoid. */
    for (int f = 0; f < 2; f++) {
        char *o = NULL, *e = NULL;
        snprintf(args, sizeof args, "predict --model '%s' --input '%s' --batch-size 5", d1, f ? tsv : jsonl);
        int rc = run_cli(args, &o, &e);
        CHECK(rc == 0, "predict (%s) exit %d: %s", f ? "tsv" : "jsonl", rc, e ? e : "");
        const cJSON *want = cJSON_GetObjectItem(ref1, "predict_default");
        size_t k = 0;
        double m = 0;
        for (char *s = o, *nl; s && *s; s = nl + 1, k++) {
            nl = strchr(s, '\n');
            if (!nl) break;
            m = test_max_err(m, fabs(strtod(s, NULL) - cJSON_GetArrayItem(want, (int)k)->valuedouble));
        }
        CHECK(k == n && m <= 1e-5, "predict (%s): %zu lines, max diff %.3g", f ? "tsv" : "jsonl", k, m);
        free(o);
        free(e);
    }
    /* Per-class scores with --softmax, as JSON arrays. */
    {
        char *o = NULL, *e = NULL;
        snprintf(args, sizeof args, "predict --model '%s' --input '%s' --softmax", d3, jsonl);
        CHECK(run_cli(args, &o, &e) == 0, "predict --softmax: %s", e ? e : "");
        const cJSON *want = cJSON_GetObjectItem(ref3, "predict_softmax");
        size_t k = 0;
        double m = 0;
        for (char *s = o, *nl; s && *s; s = nl + 1, k++) {
            nl = strchr(s, '\n');
            if (!nl) break;
            *nl = '\0';
            cJSON *row = cJSON_Parse(s);
            for (int j = 0; j < 3; j++)
                m = test_max_err(m, fabs(cJSON_GetArrayItem(row, j)->valuedouble -
                                         cJSON_GetArrayItem(cJSON_GetArrayItem(want, (int)k), j)->valuedouble));
            cJSON_Delete(row);
        }
        CHECK(k == n && m <= 1e-5, "predict --softmax: %zu rows, max diff %.3g", k, m);
        free(o);
        free(e);
    }
    /* .npy output and --activation Identity */
    {
        char npy[512];
        snprintf(npy, sizeof npy, "%s/s.npy", g_tmp);
        snprintf(args, sizeof args, "predict --model '%s' --input '%s' --activation torch.nn.Identity --output '%s'", d1,
                 jsonl, npy);
        char *e = NULL;
        CHECK(run_cli(args, NULL, &e) == 0, "predict --output .npy: %s", e ? e : "");
        free(e);
        char *d = NULL;
        size_t len = 0;
        if (sbert_read_file(npy, &d, &len) == SBERT_OK && len == 128 + n * 4) {
            const float *v = (const float *)(d + 128);
            double m = 0;
            const cJSON *want = cJSON_GetObjectItem(ref1, "predict_identity");
            for (size_t i = 0; i < n; i++) m = test_max_err(m, fabs(v[i] - cJSON_GetArrayItem(want, (int)i)->valuedouble));
            CHECK(m <= 1e-5, "predict .npy (Identity): max diff %.3g", m);
        } else {
            CHECK(0, "predict .npy: %zu bytes", len);
        }
        free(d);
    }
    /* rerank: CrossEncoder.rank order, top-k, texts. */
    {
        const cJSON *rank = cJSON_GetObjectItem(ref1, "rank");
        char docs[512];
        snprintf(docs, sizeof docs, "%s/docs.txt", g_tmp);
        FILE *f = fopen(docs, "wb");
        const cJSON *all = cJSON_GetObjectItem(pairs, "rank_documents"), *i;
        cJSON_ArrayForEach(i, cJSON_GetObjectItem(rank, "documents")) fprintf(f, "%s\n",
                                                                            cJSON_GetArrayItem(all, i->valueint)->valuestring);
        fclose(f);
        char qfile[512];
        snprintf(qfile, sizeof qfile, "%s/q.txt", g_tmp);
        write_text(qfile, cJSON_GetObjectItem(rank, "query")->valuestring);
        char *o = NULL, *e = NULL;
        snprintf(args, sizeof args, "rerank --model '%s' --query \"$(cat '%s')\" --documents '%s' --top-k 3 "
                                    "--return-documents",
                 d1, qfile, docs);
        CHECK(run_cli(args, &o, &e) == 0, "rerank: %s", e ? e : "");
        const cJSON *want = cJSON_GetObjectItem(rank, "top3_docs");
        size_t k = 0;
        int ok = 1;
        for (char *s = o, *nl; s && *s; s = nl + 1, k++) {
            nl = strchr(s, '\n');
            if (!nl) break;
            *nl = '\0';
            cJSON *h = cJSON_Parse(s);
            const cJSON *w = cJSON_GetArrayItem(want, (int)k);
            ok &= h && cJSON_GetObjectItem(h, "corpus_id")->valueint == cJSON_GetObjectItem(w, "corpus_id")->valueint &&
                  fabs(cJSON_GetObjectItem(h, "score")->valuedouble - cJSON_GetObjectItem(w, "score")->valuedouble) <=
                      1e-5 &&
                  !strcmp(cJSON_GetObjectItem(h, "text")->valuestring, cJSON_GetObjectItem(w, "text")->valuestring);
            cJSON_Delete(h);
        }
        CHECK(ok && k == 3, "rerank --top-k 3 --return-documents: %zu lines, matching %d\n%s", k, ok, o ? o : "");
        free(o);
        free(e);
        /* rank() refuses num_labels != 1 */
        snprintf(args, sizeof args, "rerank --model '%s' --query q --documents '%s'", d3, docs);
        CHECK(run_cli(args, NULL, &e) == 1 && e && strstr(e, "num_labels=1"), "rerank on 3 labels: %s", e ? e : "");
        free(e);
    }
    /* sbert evaluate with a CrossEncoder evaluator loads the model as a CrossEncoder. */
    {
        char *o = NULL, *e = NULL;
        snprintf(args, sizeof args,
                 "evaluate --model '%s' --evaluator CrossEncoderCorrelationEvaluator --data '%s' --name sts", d1,
                 test_path("tests/data/cross_encoder/eval/correlation.jsonl"));
        CHECK(run_cli(args, &o, &e) == 0 && o && strstr(o, "\"sts_spearman\"") && strstr(o, "\"sts_pearson\"") &&
                  strstr(o, "sts_spearman") < strstr(o, "sts_pearson"),
              "evaluate CrossEncoderCorrelationEvaluator: %s %s", o ? o : "", e ? e : "");
        free(o);
        free(e);
    }
    /* Bad inputs: exit 1, the file and line named, no output written. */
    {
        char bad[512], outp[512];
        snprintf(bad, sizeof bad, "%s/one.tsv", g_tmp);
        snprintf(outp, sizeof outp, "%s/never.txt", g_tmp);
        write_text(bad, "query\nhow are you\n");
        char *e = NULL;
        snprintf(args, sizeof args, "predict --model '%s' --input '%s' --output '%s'", d1, bad, outp);
        CHECK(run_cli(args, NULL, &e) == 1 && e && strstr(e, "one.tsv") && strstr(e, "two text columns"),
              "one-column pair file: %s", e ? e : "");
        CHECK(!sbert_file_exists(outp), "a failed predict left %s", outp);
        free(e);
        snprintf(bad, sizeof bad, "%s/short.jsonl", g_tmp);
        write_text(bad, "[\"a\", \"b\"]\n[\"only one\"]\n");
        snprintf(args, sizeof args, "predict --model '%s' --input '%s'", d1, bad);
        CHECK(run_cli(args, NULL, &e) == 1 && e && strstr(e, "short.jsonl:2") && strstr(e, "two texts"),
              "array of one text: %s", e ? e : "");
        free(e);
        snprintf(args, sizeof args, "predict --model '%s' --input '%s' --activation Swish", d1, jsonl);
        CHECK(run_cli(args, NULL, &e) == 1 && e && strstr(e, "Swish"), "unknown activation: %s", e ? e : "");
        free(e);
        snprintf(args, sizeof args, "predict --model '%s'", d1);
        CHECK(run_cli(args, NULL, &e) == 2, "predict without --input is a usage error");
        free(e);
    }
out:
    cJSON_Delete(ref1);
    cJSON_Delete(ref3);
}

int main(void) {
    g_bin = getenv("SBERT_BIN");
    if (!g_bin || access(g_bin, X_OK) != 0) {
        CHECK(0, "SBERT_BIN (the sbert binary) is not set or not executable: %s", g_bin ? g_bin : "(unset)");
        return test_summary();
    }
    snprintf(g_tmp, sizeof g_tmp, "/tmp/sbert-ce-cli-XXXXXX");
    if (!mkdtemp(g_tmp)) {
        CHECK(0, "mkdtemp");
        return test_summary();
    }
    cJSON *pairs = ce_pairs();
    if (pairs) test_predict(pairs);
    cJSON_Delete(pairs);
    sbert_rm_rf(g_tmp);
    return test_summary();
}
