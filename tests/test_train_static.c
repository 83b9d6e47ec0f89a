/*
 * tests/test_train_static.c -- the trainer and the run contract on a
 * StaticEmbedding model with bundled real data (data/):
 *   - a run prints a baseline, trains, and ends its log with the VERDICT line;
 *     the final model is saved in the sentence-transformers layout;
 *   - a run killed with SIGKILL mid-training and resumed from its last
 *     checkpoint ends bit-identical to an uninterrupted run;
 *   - SMOKE_TEST=1 runs exactly one step;
 *   - bad recipes and data fail before training with messages that say what
 *     is wrong; a failed checkpoint write leaves the previous one intact.
 */
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/atomic.h"
#include "modules/static_embedding.h"
#include "test_util.h"

static char g_tmp[256];

/* Common small, fast settings; extra overrides appended. */
static sbert_status train(const char *out, const char *const *extra, size_t n_extra, sbert_train_summary *s) {
    const char *base[] = {"--output_dir", out,
                          "--run_name", "test-static",
                          "--max_train_samples", "512",
                          "--max_eval_samples", "200",
                          "--per_device_train_batch_size", "32",
                          "--embedding_dim", "32",
                          "--max_steps", "24",
                          "--learning_rate", "0.1",
                          "--eval_steps", "8",
                          "--save_steps", "8",
                          "--logging_steps", "4",
                          "--save_total_limit", "0"};
    const char *args[64];
    size_t n = 0;
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++) args[n++] = base[i];
    for (size_t i = 0; i < n_extra; i++) args[n++] = extra[i];
    char logdir[512];
    snprintf(logdir, sizeof logdir, "%s/logs", g_tmp);
    return sbert_train(test_path("recipes/static_embedding.yaml"), args, n, logdir, s);
}

static int same_file(const char *a, const char *b) {
    size_t la, lb;
    char *x = test_read_file(a, &la), *y = test_read_file(b, &lb);
    int same = x && y && la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return same;
}

static void expect_fail(const char *what, const char *const *extra, size_t n, const char *needle) {
    char out[512];
    snprintf(out, sizeof out, "%s/bad", g_tmp);
    sbert_train_summary s;
    sbert_status st = train(out, extra, n, &s);
    CHECK(st != SBERT_OK && strstr(sbert_last_error(), needle), "%s: expected an error with '%s', got %d: %s", what,
          needle, st, sbert_last_error());
}

int main(void) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/sbert_train_test_%d", (int)getpid());
    CHECK(mkdir(g_tmp, 0700) == 0, "mkdir %s", g_tmp);
    if (chdir(test_path("")) != 0) return 1; /* recipe paths are relative to the repo */
    char a[512], b[512], path_a[600], path_b[600];
    snprintf(a, sizeof a, "%s/run-a", g_tmp);
    snprintf(b, sizeof b, "%s/run-b", g_tmp);

    /* 1. An uninterrupted run. */
    sbert_train_summary sa;
    CHECK_OK(train(a, NULL, 0, &sa));
    CHECK(sa.steps == 24, "steps %lld", (long long)sa.steps);
    CHECK(strcmp(sa.verdict, sa.delta >= 0.005 ? "WIN" : sa.delta >= 0 ? "MARGINAL" : "REGRESSION") == 0,
          "verdict %s for delta %f", sa.verdict, sa.delta);
    const char *files[] = {"modules.json", "config_sentence_transformers.json", "model.safetensors", "tokenizer.json",
                           "README.md"};
    for (size_t i = 0; i < 5; i++) {
        snprintf(path_a, sizeof path_a, "%s/final/%s", a, files[i]);
        CHECK(access(path_a, F_OK) == 0, "final model has %s", files[i]);
    }
    char logpath[600];
    snprintf(logpath, sizeof logpath, "%s/logs/test-static.log", g_tmp);
    char *log = test_read_file(logpath, NULL);
    CHECK(log && strstr(log, "Baseline eval_sts-dev_spearman_cosine"), "log has the baseline");
    if (log) {
        char *last = log + strlen(log) - 1;
        while (last > log && last[-1] != '\n') last--;
        CHECK(strncmp(last, "VERDICT: ", 9) == 0 && strstr(last, "| score=") && strstr(last, "| baseline=") &&
                  strstr(last, "| delta="), "the log ends with the VERDICT line: %s", last);
    }
    free(log);
    snprintf(logpath, sizeof logpath, "%s/logs/experiments.md", g_tmp);
    log = test_read_file(logpath, NULL);
    CHECK(log && strstr(log, "| test-static |"), "experiments.md has the run");
    free(log);
    sbert_static_embedding *e = NULL;
    snprintf(path_a, sizeof path_a, "%s/final", a);
    CHECK_OK(sbert_static_embedding_load(path_a, &e));
    CHECK(e && e->dim == 32, "final table loads");
    sbert_static_embedding_free(e);

    /* 2. Killed mid-training (after the checkpoint at step 16), resumed: bit-identical. */
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("SBERT_TEST_KILL_AT_STEP", "19", 1);
        sbert_train_summary s;
        train(b, NULL, 0, &s);
        _exit(0); /* not reached when the hook fires */
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the child was killed (status %d)", status);
    snprintf(path_b, sizeof path_b, "%s/final", b);
    CHECK(access(path_b, F_OK) != 0, "the killed run saved no final model");
    const char *resume[] = {"--resume_from_checkpoint", "latest"};
    sbert_train_summary sb;
    CHECK_OK(train(b, resume, 2, &sb));
    snprintf(path_a, sizeof path_a, "%s/final/model.safetensors", a);
    snprintf(path_b, sizeof path_b, "%s/final/model.safetensors", b);
    CHECK(same_file(path_a, path_b), "resumed run ends bit-identical to the uninterrupted one");
    CHECK(sb.score == sa.score, "same final score %.9f vs %.9f", sb.score, sa.score);

    /* 3. SMOKE_TEST=1: one step. */
    setenv("SMOKE_TEST", "1", 1);
    char c[512];
    snprintf(c, sizeof c, "%s/run-smoke", g_tmp);
    sbert_train_summary sc;
    CHECK_OK(train(c, NULL, 0, &sc));
    CHECK(sc.steps == 1, "smoke test ran %lld steps", (long long)sc.steps);
    unsetenv("SMOKE_TEST");

    /* 4. Bad input. */
    const char *cosent[] = {"--loss", "CoSENTLoss"};
    expect_fail("columns vs loss", cosent, 2, "CoSENTLoss expects 2 text columns");
    expect_fail("columns vs loss lists the file's columns", cosent, 2, "anchor, positive, negative");
    const char *typo[] = {"--loss", "MultipleNegativeRankingLoss"};
    expect_fail("unknown loss", typo, 2, "did you mean 'MultipleNegativesRankingLoss'");
    const char *key[] = {"--learning_rat", "0.1"};
    expect_fail("unknown key", key, 2, "did you mean 'learning_rate'");
    const char *steps[] = {"--save_steps", "5"};
    expect_fail("save_steps vs eval_steps", steps, 2, "save_steps (5) to be a multiple of eval_steps (8)");
    const char *metric[] = {"--metric_for_best_model", "eval_sts-dev_ndcg@10"};
    expect_fail("metric not produced", metric, 2, "available: eval_sts-dev_pearson_cosine, eval_sts-dev_spearman_cosine");
    const char *num[] = {"--learning_rate", "fast"};
    expect_fail("non-numeric value", num, 2, "learning_rate must be a number");
    const char *threads[] = {"--num_threads", "-2"};
    expect_fail("negative num_threads", threads, 2, "num_threads must be in [0, 4096], got -2");
    const char *nan[] = {"--scale", "1e300"};
    expect_fail("NaN loss", nan, 2, "nan at step ");
    expect_fail("NaN loss keeps the checkpoint", nan, 2, "checkpoint in");

    /* 5. A failed checkpoint write leaves the previous checkpoint intact. */
    char d[512], ck[600], ck_copy[600], cmd[1400];
    snprintf(d, sizeof d, "%s/run-fail", g_tmp);
    const char *first[] = {"--max_steps", "8"};
    sbert_train_summary sd;
    CHECK_OK(train(d, first, 2, &sd));
    snprintf(ck, sizeof ck, "%s/checkpoint-8/model.safetensors", d);
    snprintf(ck_copy, sizeof ck_copy, "%s/ck8-copy.safetensors", g_tmp);
    snprintf(cmd, sizeof cmd, "cp %s %s", ck, ck_copy);
    CHECK(system(cmd) == 0, "copy checkpoint");
    const char *more[] = {"--max_steps", "16", "--resume_from_checkpoint", "latest"};
    sbert_atomic_test_fail_after(1000);
    sbert_status st = train(d, more, 4, &sd);
    sbert_atomic_test_fail_after(-1);
    CHECK(st != SBERT_OK && strstr(sbert_last_error(), "previous checkpoints are intact"),
          "failed checkpoint write reported: %s", sbert_last_error());
    CHECK(same_file(ck, ck_copy), "checkpoint-8 untouched");
    snprintf(ck, sizeof ck, "%s/checkpoint-16", d);
    CHECK(access(ck, F_OK) != 0, "no torn checkpoint-16");

    snprintf(cmd, sizeof cmd, "rm -rf %s", g_tmp);
    CHECK(system(cmd) == 0, "cleanup");
    return test_summary();
}
