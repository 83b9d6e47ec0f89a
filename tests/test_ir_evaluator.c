/*
 * tests/test_ir_evaluator.c -- InformationRetrievalEvaluator and evaluator
 * lists (SequentialEvaluator):
 *   - sbert_evaluate gives the metrics sentence-transformers' own
 *     InformationRetrievalEvaluator computed (tools/gen_ir_refs.py ->
 *     tests/data/ir/refs.json): all-MiniLM-L6-v2 on a Cranfield subset
 *     (tests/data/ir/cranfield-small.json: 20 queries, 173 documents), the
 *     StaticEmbedding test model on all of data/cranfield-ir.json (225
 *     queries, 1400 documents), and on a tiny set whose scores tie exactly
 *     (tests/data/ir/ties.json: only the corpus-id tie-break decides);
 *   - a comma list of evaluators merges their metrics in order and takes the
 *     last one's primary metric; bad lists are refused with clear messages;
 *   - bad IR data (missing keys, a relevant id absent from the corpus, empty
 *     queries, ...) is refused with messages naming the file and the id;
 *   - `sbert evaluate --evaluator InformationRetrievalEvaluator` ($SBERT_BIN)
 *     prints the same metrics as JSON, the primary first;
 *   - a short static-embedding training run evaluates with IR metrics and
 *     validates metric_for_best_model against the IR keys.
 */
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "io/file.h"
#include "sbert.h"
#include "test_util.h"

static char g_tmp[256];

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "cannot write %s", path);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

/* sbert_evaluate on `text` written to a temp file fails with `want` and a message holding needle. */
static void expect_bad(sbert_model *m, const char *what, const char *text, const char *needle) {
    char path[512];
    snprintf(path, sizeof path, "%s/bad.json", g_tmp);
    write_text(path, text);
    sbert_eval_summary s;
    sbert_status st = sbert_evaluate(m, "InformationRetrievalEvaluator", path, "x", 32, &s);
    CHECK(st == SBERT_ERR_FORMAT && strstr(sbert_last_error(), needle) && strstr(sbert_last_error(), path),
          "%s: expected a format error naming the file and '%s', got %d: %s", what, needle, st, sbert_last_error());
    unlink(path);
}

static void expect_list_error(sbert_model *m, const char *evs, const char *data, const char *names,
                              const char *needle) {
    sbert_eval_summary s;
    sbert_status st = sbert_evaluate(m, evs, data, names, 32, &s);
    CHECK(st != SBERT_OK && strstr(sbert_last_error(), needle), "evaluators '%s' data '%s' names '%s': want '%s', got %d: %s",
          evs, data, names, needle, st, sbert_last_error());
}

static void check_parity(void) {
    size_t len;
    char *text = test_read_file(test_path("tests/data/ir/refs.json"), &len);
    CHECK(text != NULL, "tests/data/ir/refs.json missing (run tools/gen_ir_refs.py)");
    if (!text) return;
    cJSON *refs = cJSON_Parse(text);
    free(text);
    const cJSON *c;
    double worst = 0;
    int n_cases = 0;
    cJSON_ArrayForEach(c, refs) {
        const char *model_dir = cJSON_GetObjectItem(c, "model")->valuestring;
        const char *data = cJSON_GetObjectItem(c, "data")->valuestring;
        const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
        char mpath[4096], dpath[4096];
        snprintf(mpath, sizeof mpath, "%s", test_path(model_dir));
        snprintf(dpath, sizeof dpath, "%s", test_path(data));
        if (!TEST_REQUIRE_FILE(mpath, strncmp(model_dir, "models/", 7) == 0
                                          ? TEST_FETCH_MODELS
                                          : "it is committed under tests/data: restore it (git checkout)"))
            continue;
        sbert_model *m = NULL;
        CHECK_OK(sbert_model_load(mpath, NULL, &m));
        if (!m) continue;
        n_cases++;
        sbert_eval_summary s;
        CHECK_OK(sbert_evaluate(m, "InformationRetrievalEvaluator", dpath, name, 32, &s));
        const cJSON *want = cJSON_GetObjectItem(c, "metrics");
        CHECK(s.n == (size_t)cJSON_GetArraySize(want), "%s: %zu metrics, reference has %d", model_dir, s.n,
              cJSON_GetArraySize(want));
        CHECK(strcmp(s.primary, cJSON_GetObjectItem(c, "primary")->valuestring) == 0, "%s: primary %s", model_dir,
              s.primary);
        /* same keys in the same order as the Python dict */
        size_t i = 0;
        const cJSON *w;
        cJSON_ArrayForEach(w, want) {
            if (i >= s.n) break;
            CHECK(strcmp(s.metrics[i].key, w->string) == 0, "%s: key %zu is %s, reference %s", model_dir, i,
                  s.metrics[i].key, w->string);
            double d = fabs(s.metrics[i].value - w->valuedouble);
            if (d > worst) worst = d;
            printf("%-26s %-34s sbert %.12f  ST %.12f  |diff| %.2e\n", model_dir, s.metrics[i].key,
                   s.metrics[i].value, w->valuedouble, d);
            CHECK(d <= 1e-6, "%s %s: %.12f vs %.12f", model_dir, s.metrics[i].key, s.metrics[i].value,
                  w->valuedouble);
            i++;
        }
        sbert_model_free(m);
    }
    CHECK(n_cases == 3, "tests/data/ir/refs.json: %d cases checked, want 3 (MiniLM on Cranfield, the "
          "static model on Cranfield and on ties)", n_cases);
    printf("max |diff| over all IR metrics: %.3e\n", worst);
    cJSON_Delete(refs);
}

static void check_sequential_and_errors(void) {
    sbert_model *m = NULL;
    CHECK_OK(sbert_model_load(test_path("tests/data/static/model"), NULL, &m));
    if (!m) return;
    char sts[4096], ties[4096], both[8300];
    snprintf(sts, sizeof sts, "%s", test_path("tests/data/eval/stsb-dev-500.jsonl"));
    snprintf(ties, sizeof ties, "%s", test_path("tests/data/ir/ties.json"));
    snprintf(both, sizeof both, "%s,%s", sts, ties);
    sbert_eval_summary a, b, ab;
    CHECK_OK(sbert_evaluate(m, "EmbeddingSimilarityEvaluator", sts, "sts-dev", 32, &a));
    CHECK_OK(sbert_evaluate(m, "InformationRetrievalEvaluator", ties, "ties", 32, &b));
    CHECK_OK(sbert_evaluate(m, "EmbeddingSimilarityEvaluator, InformationRetrievalEvaluator", both, "sts-dev,ties", 32,
                            &ab));
    /* SequentialEvaluator adds sequential_score (main_score_function(scores), the last one's by default) */
    CHECK(ab.n == a.n + b.n + 1 && a.n == 2 && b.n == 15, "merged %zu metrics from %zu + %zu + sequential_score", ab.n,
          a.n, b.n);
    {
        double bp = NAN;
        for (size_t i = 0; i < b.n; i++)
            if (!strcmp(b.metrics[i].key, b.primary)) bp = b.metrics[i].value;
        CHECK(ab.n == a.n + b.n + 1 && !strcmp(ab.metrics[ab.n - 1].key, "sequential_score") &&
                  ab.metrics[ab.n - 1].value == bp,
              "sequential_score is last and equals the last evaluator's primary score");
    }
    for (size_t i = 0; i < ab.n && i < a.n + b.n; i++) {
        const sbert_metric_value *w = i < a.n ? &a.metrics[i] : &b.metrics[i - a.n];
        CHECK(strcmp(ab.metrics[i].key, w->key) == 0 && ab.metrics[i].value == w->value, "merged metric %zu: %s", i,
              ab.metrics[i].key);
    }
    CHECK(strcmp(ab.primary, "ties_cosine_ndcg@10") == 0, "sequential primary is the last one's: %s", ab.primary);

    /* list validation */
    expect_list_error(m, "EmbeddingSimilarityEvaluator,InformationRetrievalEvaluator", sts, "a,b",
                      "2 evaluators (EmbeddingSimilarityEvaluator,InformationRetrievalEvaluator) but 1 evaluation data file");
    expect_list_error(m, "EmbeddingSimilarityEvaluator,InformationRetrievalEvaluator", both, "",
                      "need one evaluator name each");
    expect_list_error(m, "EmbeddingSimilarityEvaluator,InformationRetrievalEvaluator", both, "same,same",
                      "evaluator name 'same' is given twice");
    expect_list_error(m, "EmbeddingSimilarityEvaluator,InformationRetrievalEvaluator", both, "only-one",
                      "but 1 evaluator name");
    expect_list_error(m, "SequentialEvaluator", both, "a,b", "comma list");
    expect_list_error(m, "BinaryClassificationEvaluator", sts, "", "labels are 0 or 1"); /* STS scores are not 0/1 labels */
    expect_list_error(m, "InformationRetrievalEvaluator", sts, "", sts); /* a JSONL file is not IR JSON */

    /* bad IR data */
    expect_bad(m, "not an object", "[1, 2]", "must be a JSON object with \"queries\"");
    expect_bad(m, "missing corpus", "{\"queries\": {\"q\": \"a\"}, \"relevant_docs\": {\"q\": [\"d\"]}}",
               "missing key \"corpus\"");
    expect_bad(m, "missing relevant_docs", "{\"queries\": {\"q\": \"a\"}, \"corpus\": {\"d\": \"b\"}}",
               "missing key \"relevant_docs\"");
    expect_bad(m, "empty queries", "{\"queries\": {}, \"corpus\": {\"d\": \"b\"}, \"relevant_docs\": {}}",
               "\"queries\" is empty");
    expect_bad(m, "empty corpus", "{\"queries\": {\"q\": \"a\"}, \"corpus\": {}, \"relevant_docs\": {}}",
               "\"corpus\" is empty");
    expect_bad(m, "relevant id absent",
               "{\"queries\": {\"q1\": \"a\"}, \"corpus\": {\"d1\": \"b\"}, \"relevant_docs\": {\"q1\": [\"d1\", \"d7\"]}}",
               "relevant_docs[\"q1\"] names document \"d7\", which is not in \"corpus\"");
    expect_bad(m, "unknown query id",
               "{\"queries\": {\"q1\": \"a\"}, \"corpus\": {\"d1\": \"b\"}, \"relevant_docs\": {\"q9\": [\"d1\"]}}",
               "query id \"q9\", which is not in \"queries\"");
    expect_bad(m, "no relevant docs",
               "{\"queries\": {\"q1\": \"a\"}, \"corpus\": {\"d1\": \"b\"}, \"relevant_docs\": {\"q1\": []}}",
               "no query has a relevant document");
    expect_bad(m, "text not a string", "{\"queries\": {\"q1\": 5}, \"corpus\": {\"d1\": \"b\"}, \"relevant_docs\": {}}",
               "\"queries\"[\"q1\"] must be a text string");
    expect_bad(m, "duplicate corpus id",
               "{\"queries\": {\"q1\": \"a\"}, \"corpus\": {\"d1\": \"b\", \"d1\": \"c\"}, \"relevant_docs\": {\"q1\": [\"d1\"]}}",
               "has the id \"d1\" twice");
    expect_bad(m, "relevant not a list",
               "{\"queries\": {\"q1\": \"a\"}, \"corpus\": {\"d1\": \"b\"}, \"relevant_docs\": {\"q1\": \"d1\"}}",
               "relevant_docs[\"q1\"] must be a list of corpus ids");
    sbert_model_free(m);
}

/* The CLI prints sbert_evaluate's metrics as JSON, primary first. */
static void check_cli(void) {
    const char *bin = getenv("SBERT_BIN");
    if (!bin || !*bin || access(bin, X_OK) != 0) {
        CHECK(0, "SBERT_BIN (the sbert binary; CTest sets it) is not set or not executable: %s",
              bin ? bin : "(unset)");
        return;
    }
    char ties[4096], model[4096], cmd[9000];
    snprintf(ties, sizeof ties, "%s", test_path("tests/data/ir/ties.json"));
    snprintf(model, sizeof model, "%s", test_path("tests/data/static/model"));
    snprintf(cmd, sizeof cmd, "'%s' evaluate --model '%s' --evaluator InformationRetrievalEvaluator --data '%s' --name ties",
             bin, model, ties);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL, "popen %s", cmd);
    if (!p) return;
    char out[8192];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int rc = pclose(p);
    CHECK(rc == 0, "sbert evaluate exit status %d", rc);
    cJSON *got = cJSON_Parse(out);
    CHECK(got != NULL, "sbert evaluate printed JSON: %s", out);
    sbert_model *m = NULL;
    CHECK_OK(sbert_model_load(model, NULL, &m));
    sbert_eval_summary s;
    if (got && m && sbert_evaluate(m, "InformationRetrievalEvaluator", ties, "ties", 32, &s) == SBERT_OK) {
        CHECK(cJSON_GetArraySize(got) == (int)s.n && got->child && strcmp(got->child->string, s.primary) == 0,
              "CLI: %d keys, first %s", cJSON_GetArraySize(got), got->child ? got->child->string : "-");
        for (size_t i = 0; i < s.n; i++) {
            const cJSON *v = cJSON_GetObjectItem(got, s.metrics[i].key);
            CHECK(v && v->valuedouble == s.metrics[i].value, "CLI value of %s", s.metrics[i].key);
        }
    }
    sbert_model_free(m);
    cJSON_Delete(got);
}

/* A short static training run whose evaluator is IR (and, second, a list). */
static void check_training(void) {
    char out[512], logdir[512];
    snprintf(out, sizeof out, "%s/train-ir", g_tmp);
    snprintf(logdir, sizeof logdir, "%s/logs", g_tmp);
    char ties[4096], sts[4096], both[8300];
    snprintf(ties, sizeof ties, "%s", test_path("tests/data/ir/ties.json"));
    snprintf(sts, sizeof sts, "%s", test_path("tests/data/eval/stsb-dev-500.jsonl"));
    snprintf(both, sizeof both, "%s,%s", sts, ties);
    const char *args[] = {"--output_dir", out, "--run_name", "test-ir", "--max_train_samples", "256",
                          "--per_device_train_batch_size", "32", "--embedding_dim", "32", "--max_steps", "8",
                          "--learning_rate", "0.1", "--eval_steps", "4", "--save_steps", "4", "--logging_steps", "4",
                          "--save_total_limit", "0", "--evaluator", "InformationRetrievalEvaluator", "--eval_data",
                          ties, "--evaluator_name", "ties",
                          "--metric_for_best_model", "eval_ties_cosine_ndcg@10"}; /* the recipe names an STS key */
    size_t n = sizeof args / sizeof args[0];
    if (chdir(test_path("")) != 0) { CHECK(0, "chdir"); return; }
    sbert_train_summary s;
    size_t len;
    CHECK_OK(sbert_train(test_path("recipes/static_embedding.yaml"), args, n, logdir, &s));
    CHECK(s.steps == 8, "steps %lld", (long long)s.steps);
    char logp[700];
    snprintf(logp, sizeof logp, "%s/test-ir.log", logdir);
    char *log = test_read_file(logp, &len);
    CHECK(log && strstr(log, "Baseline eval_ties_cosine_ndcg@10 = ") && strstr(log, "'eval_ties_cosine_map@100': ") &&
              strstr(log, "Eval data: ") && strstr(log, "(4 queries x 8 documents)"),
          "the run log shows the IR primary metric and data");
    free(log);
    CHECK(s.baseline >= 0 && s.baseline <= 1 && s.score >= 0 && s.score <= 1, "ndcg in [0,1]: %f %f", s.baseline,
          s.score);
    char card[4200];
    snprintf(card, sizeof card, "%s/README.md", s.final_dir);
    char *text = test_read_file(card, &len);
    CHECK(text && strstr(text, "| cosine_map@100 ") && strstr(text, "* Dataset: `ties`") &&
              strstr(text, "InformationRetrievalEvaluator</code>]") && strstr(text, "(4 queries x 8 documents)") &&
              strstr(text, "type: information-retrieval"),
          "model card lists the IR metrics and data");
    free(text);

    /* a list: metric_for_best_model may name any evaluator's key */
    const char *args2[] = {"--output_dir", out, "--run_name", "test-ir2", "--max_train_samples", "128",
                           "--per_device_train_batch_size", "32", "--embedding_dim", "32", "--max_steps", "4",
                           "--learning_rate", "0.1", "--eval_steps", "4", "--save_steps", "4",
                           "--logging_steps", "4", "--save_total_limit", "0",
                           "--evaluator", "EmbeddingSimilarityEvaluator,InformationRetrievalEvaluator",
                           "--eval_data", both, "--evaluator_name", "sts-dev,ties",
                           "--metric_for_best_model", "eval_sts-dev_spearman_cosine"};
    CHECK_OK(sbert_train(test_path("recipes/static_embedding.yaml"), args2, sizeof args2 / sizeof args2[0], logdir, &s));
    snprintf(logp, sizeof logp, "%s/test-ir2.log", logdir);
    log = test_read_file(logp, &len);
    CHECK(log && strstr(log, "Baseline eval_sts-dev_spearman_cosine = ") && strstr(log, "'eval_ties_cosine_ndcg@10': ") &&
              strstr(log, "(500 pairs; 4 queries x 8 documents)"),
          "the list run logs both evaluators and tracks the chosen metric");
    free(log);
    /* an unknown metric is refused before training, listing the IR keys */
    args2[sizeof args2 / sizeof args2[0] - 1] = "eval_ties_cosine_ndcg@5";
    sbert_status st = sbert_train(test_path("recipes/static_embedding.yaml"), args2, sizeof args2 / sizeof args2[0],
                                  logdir, &s);
    CHECK(st != SBERT_OK && strstr(sbert_last_error(), "eval_ties_cosine_ndcg@10") &&
              strstr(sbert_last_error(), "eval_sts-dev_pearson_cosine"),
          "unknown metric_for_best_model lists the keys: %s", sbert_last_error());
    /* list errors reach the recipe user */
    args2[sizeof args2 / sizeof args2[0] - 3] = "sts-dev";
    st = sbert_train(test_path("recipes/static_embedding.yaml"), args2, sizeof args2 / sizeof args2[0], logdir, &s);
    CHECK(st != SBERT_OK && strstr(sbert_last_error(), "but 1 evaluator name"), "names: %s", sbert_last_error());
}

int main(void) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/sbert_ir_test_XXXXXX");
    if (!mkdtemp(g_tmp)) {
        CHECK(0, "mkdtemp %s failed", g_tmp);
        return test_summary();
    }
    check_parity();
    check_sequential_and_errors();
    check_cli();
    check_training();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_tmp);
    if (system(cmd) != 0) printf("could not remove %s\n", g_tmp);
    return test_summary();
}
