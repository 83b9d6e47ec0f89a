/*
 * tests/test_hf_cache.c -- model ids resolved through the Hugging Face
 * cache (tests/data/hf_cache/, laid out by tools/gen_hf_cache_refs.py and
 * checked there with huggingface_hub's readers and sentence-transformers
 * loading the id offline):
 *   - "sbert-tests/micro-bert" loads from $HF_HUB_CACHE (and from $HF_HOME/hub)
 *     and encodes like sentence-transformers at revision main, at the tag v1
 *     and at v1's commit hash;
 *   - a local directory of the id's name wins over the cache;
 *   - an id in no cache fails naming the id and every path searched; a
 *     revision that does not exist likewise;
 *   - a recipe's model: takes an id and revision: picks the revision.
 */
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "test_util.h"

static cJSON *g_ref;

static void check_encode(const char *what, const char *id, const char *revision, const char *want_rev) {
    sbert_model *m = NULL;
    sbert_load_options lo = {.num_threads = 1, .revision = revision};
    CHECK_OK(sbert_model_load(id, &lo, &m));
    if (!m) return;
    const cJSON *sents = cJSON_GetObjectItem(g_ref, "sentences");
    const cJSON *want = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(g_ref, "revisions"), want_rev),
                                            "embeddings");
    size_t n = (size_t)cJSON_GetArraySize(sents), dim = sbert_model_dim(m);
    const char *texts[8];
    for (size_t i = 0; i < n; i++) texts[i] = cJSON_GetArrayItem(sents, (int)i)->valuestring;
    float *e = malloc(n * dim * sizeof *e);
    sbert_encode_options o = sbert_encode_options_default();
    CHECK_OK(sbert_model_encode(m, texts, n, &o, e));
    double err = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < dim; k++)
            err = test_max_err(err, fabs(e[i * dim + k] - cJSON_GetArrayItem(cJSON_GetArrayItem(want, (int)i), (int)k)->valuedouble));
    /* the micro model's embeddings, as sentence-transformers encodes them */
    CHECK(err <= 1e-6, "%s: embeddings %.3e from sentence-transformers' at %s", what, err, want_rev);
    free(e);
    sbert_model_free(m);
}

int main(void) {
    char *txt = test_read_file(test_path("tests/data/hf_cache/ref.json"), NULL);
    CHECK(txt != NULL, "tests/data/hf_cache/ref.json missing (run tools/gen_hf_cache_refs.py)");
    if (!txt) return test_summary();
    g_ref = cJSON_Parse(txt);
    free(txt);
    const char *id = cJSON_GetObjectItem(g_ref, "repo_id")->valuestring;
    char cache[4096], home[4096];
    snprintf(cache, sizeof cache, "%s", test_path("tests/data/hf_cache/hub"));
    snprintf(home, sizeof home, "%s", test_path("tests/data/hf_cache"));
    unsetenv("HF_HUB_CACHE");
    unsetenv("HUGGINGFACE_HUB_CACHE");

    setenv("HF_HUB_CACHE", cache, 1);
    check_encode("HF_HUB_CACHE, main", id, NULL, "main");
    check_encode("HF_HUB_CACHE, tag v1", id, "v1", "v1");
    const char *v1_commit = cJSON_GetObjectItem(cJSON_GetObjectItem(g_ref, "commits"), "v1")->valuestring;
    check_encode("HF_HUB_CACHE, v1's commit hash", id, v1_commit, "v1");
    unsetenv("HF_HUB_CACHE");
    setenv("HF_HOME", home, 1);
    check_encode("HF_HOME/hub, main", id, NULL, "main");

    /* The CLI: --model ID --revision REV. */
    const char *bin = getenv("SBERT_BIN");
    CHECK(bin && access(bin, X_OK) == 0, "SBERT_BIN is set and built");
    if (bin) {
        char cmd[8192];
        snprintf(cmd, sizeof cmd, "echo '%s' | HF_HOME='%s' '%s' encode --model %s --revision v1 --input - --output -",
                 cJSON_GetArrayItem(cJSON_GetObjectItem(g_ref, "sentences"), 0)->valuestring, home, bin, id);
        FILE *p = popen(cmd, "r");
        char line[4096] = "";
        if (p) {
            if (!fgets(line, sizeof line, p)) line[0] = '\0';
            pclose(p);
        }
        cJSON *row = cJSON_Parse(line);
        const cJSON *want = cJSON_GetArrayItem(
            cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(g_ref, "revisions"), "v1"), "embeddings"), 0);
        double err = row ? 0 : INFINITY;
        for (int k = 0; row && k < cJSON_GetArraySize(want); k++)
            err = test_max_err(err, fabs(cJSON_GetArrayItem(row, k)->valuedouble - cJSON_GetArrayItem(want, k)->valuedouble));
        CHECK(err <= 1e-6, "sbert encode --model ID --revision v1: %.3e from sentence-transformers (%s)", err, line);
        cJSON_Delete(row);
    }

    /* Unknown revision and unknown id: the message names what was searched. */
    sbert_model *m = NULL;
    sbert_load_options lo = {.num_threads = 1, .revision = "v9"};
    sbert_status st = sbert_model_load(id, &lo, &m);
    CHECK(st == SBERT_ERR_IO && m == NULL && strstr(sbert_last_error(), "revision v9") &&
              strstr(sbert_last_error(), "refs/v9"),
          "a missing revision names it and the path searched: %s", sbert_last_error());
    st = sbert_model_load("nobody/no-such-model", NULL, &m);
    CHECK(st == SBERT_ERR_IO && strstr(sbert_last_error(), "nobody/no-such-model") &&
              strstr(sbert_last_error(), "models--nobody--no-such-model/refs/main"),
          "a missing id names it and the paths searched: %s", sbert_last_error());

    /* A local directory of that name wins. */
    char tmp[] = "/tmp/sbert_hfcache_XXXXXX";
    CHECK(mkdtemp(tmp) != NULL, "mkdtemp");
    char cwd[4096];
    CHECK(getcwd(cwd, sizeof cwd) != NULL, "getcwd");
    CHECK(chdir(tmp) == 0, "chdir");
    mkdir("sbert-tests", 0755);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cp -rL '%s/%s' sbert-tests/micro-bert", home,
             cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(g_ref, "revisions"), "v1"), "snapshot")
                 ->valuestring);
    CHECK(system(cmd) == 0, "copy the v1 snapshot to ./sbert-tests/micro-bert");
    check_encode("local directory wins over the cache's main", id, NULL, "v1");

    /* A recipe: model id + revision. */
    const char *args[] = {"--model", id, "--revision", "v1", "--train_data", test_path("data/allnli-triplets.jsonl"),
                          "--eval_data", test_path("data/stsb-dev.jsonl"), "--loss", "MultipleNegativesRankingLoss",
                          "--max_train_samples", "16", "--max_eval_samples", "20", "--max_steps", "1",
                          "--per_device_train_batch_size", "8", "--output_dir", "out", "--run_name", "hf-id",
                          "--save_strategy", "no"};
    CHECK(system("rm -rf sbert-tests") == 0, "remove the local copy");
    sbert_train_summary sum;
    CHECK_OK(sbert_train(NULL, args, sizeof args / sizeof *args, "logs", &sum));
    char *log = test_read_file("logs/hf-id.log", NULL);
    CHECK(log && strstr(log, "Model: sbert-tests/micro-bert"), "the run trained the id");
    free(log);
    CHECK(chdir(cwd) == 0, "chdir back");
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    CHECK(system(cmd) == 0, "cleanup");
    unsetenv("HF_HOME");
    cJSON_Delete(g_ref);
    return test_summary();
}
