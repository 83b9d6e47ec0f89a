/*
 * tests/test_trainer_contract.c -- what the trainer promises beyond the math,
 * on a small StaticEmbedding run (bundled data, a second or less each):
 *
 *   keys     every key is read or refused: keys of another model type or
 *            another loss, HF arguments that mean nothing here, ranges
 *            (warmup_ratio, max_seq_length, num_train_epochs), test_data;
 *   columns  a Cached loss on a file with 19 text columns trains (it used to
 *            crash) and equals the uncached loss; a loss whose columns the
 *            file lacks is refused before the baseline;
 *   schedule evaluation at every eval_steps including the last step, and at
 *            the end of every epoch with eval_strategy epoch;
 *   files    checkpoint rotation renames before deleting (a folder named
 *            checkpoint-N is complete), leftovers of killed runs are removed,
 *            output_dir is locked against a second run, resume validates
 *            trainer_state.json, SMOKE_TEST saves apart and is marked;
 *   CLI      a usage error exits 2 and is printed once.
 */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "test_util.h"

static char g_tmp[256];

/* A small static run: extra overrides appended. */
static sbert_status train(const char *out, const char *const *extra, size_t n_extra, sbert_train_summary *s) {
    const char *base[] = {"--model", "static", "--tokenizer", test_path("data/bert-base-uncased-tokenizer.json"),
                          "--embedding_dim", "16", "--train_data", test_path("data/allnli-triplets.jsonl"),
                          "--eval_data", test_path("data/stsb-dev.jsonl"), "--evaluator_name", "sts-dev",
                          "--loss", "MultipleNegativesRankingLoss", "--max_train_samples", "128",
                          "--max_eval_samples", "60", "--per_device_train_batch_size", "16", "--max_steps", "4",
                          "--learning_rate", "0.1", "--save_strategy", "no", "--logging_steps", "1",
                          "--output_dir", out, "--run_name", "contract", "--seed", "5"};
    const char *args[96];
    size_t n = 0;
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++) args[n++] = base[i];
    for (size_t i = 0; i < n_extra; i++) args[n++] = extra[i];
    char logdir[512];
    snprintf(logdir, sizeof logdir, "%s/logs", g_tmp);
    return sbert_train(NULL, args, n, logdir, s);
}

static void expect_fail(const char *what, const char *const *extra, size_t n, sbert_status want, const char *needle) {
    char out[512];
    snprintf(out, sizeof out, "%s/bad", g_tmp);
    sbert_train_summary s;
    sbert_status st = train(out, extra, n, &s);
    CHECK(st == want && strstr(sbert_last_error(), needle), "%s: expected %s with '%s', got %s: %s", what,
          sbert_status_name(want), needle, sbert_status_name(st), sbert_last_error());
}

static char *read_log(void) {
    char p[600];
    snprintf(p, sizeof p, "%s/logs/contract.log", g_tmp);
    return test_read_file(p, NULL);
}

static void clear_log(void) {
    char p[600];
    snprintf(p, sizeof p, "%s/logs/contract.log", g_tmp);
    unlink(p);
}

/* Occurrences of needle in text. */
static int count(const char *text, const char *needle) {
    int n = 0;
    for (const char *p = text; p && (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

static int exists(const char *dir, const char *name) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

static void test_keys(void) {
    const char *a1[] = {"--model_type", "CrossEncoder"};
    expect_fail("model_type CrossEncoder on a static model", a1, 2, SBERT_ERR_INVALID_ARG,
                "model_type CrossEncoder needs an encoder directory");
    const char *a2[] = {"--matryoshka_dims", "16,8"};
    expect_fail("matryoshka_dims without MatryoshkaLoss", a2, 2, SBERT_ERR_INVALID_ARG, "write loss: MatryoshkaLoss(MultipleNegativesRankingLoss)");
    const char *a3[] = {"--bf16", "true"};
    expect_fail("bf16 true on a StaticEmbedding model", a3, 2, SBERT_ERR_UNSUPPORTED, "has no transformer encoder");
    const char *a4[] = {"--report_to", "wandb"};
    expect_fail("report_to wandb", a4, 2, SBERT_ERR_UNSUPPORTED, "sbert reports to: tensorboard");
    const char *a5[] = {"--test_data", "/does/not/exist.jsonl"};
    expect_fail("test_data missing", a5, 2, SBERT_ERR_IO, "/does/not/exist.jsonl");
    const char *a6[] = {"--hub_model_id", "me/model"};
    expect_fail("hub_model_id without push", a6, 2, SBERT_ERR_INVALID_ARG, "only used with push_to_hub");
    const char *a7[] = {"--warmup_ratio", "5"};
    expect_fail("warmup_ratio 5", a7, 2, SBERT_ERR_INVALID_ARG, "warmup_ratio must be in [0, 1], got 5");
    const char *a8[] = {"--max_seq_length", "-7"};
    expect_fail("max_seq_length -7", a8, 2, SBERT_ERR_INVALID_ARG, "max_seq_length must be in [0,");
    const char *a9[] = {"--num_train_epochs", "1e300", "--max_steps", "-1"};
    expect_fail("num_train_epochs 1e300", a9, 4, SBERT_ERR_INVALID_ARG, "num_train_epochs must be in [0,");
    const char *a10[] = {"--triplet_margin", "1"};
    expect_fail("a key of another loss", a10, 2, SBERT_ERR_INVALID_ARG,
                "'triplet_margin' is a parameter of TripletLoss, not of MultipleNegativesRankingLoss");
    const char *a11[] = {"--loss", "BinaryCrossEntropyLoss"};
    expect_fail("a CrossEncoder loss", a11, 2, SBERT_ERR_UNSUPPORTED, "BinaryCrossEntropyLoss is a CrossEncoder loss");
    const char *a12[] = {"--loss", "SpladeLoss"};
    expect_fail("a SparseEncoder loss", a12, 2, SBERT_ERR_UNSUPPORTED, "SpladeLoss is a SparseEncoder loss");
    const char *a13[] = {"--lerning_rate", "0.1"};
    expect_fail("unknown key", a13, 2, SBERT_ERR_INVALID_ARG, "did you mean 'learning_rate'?");
    const char *a14[] = {"--max_seq_length", "64"};
    expect_fail("max_seq_length on a static model", a14, 2, SBERT_ERR_INVALID_ARG,
                "max_seq_length does not apply to a StaticEmbedding model");
    const char *a15[] = {"--loss", "CoSENTLoss"};
    expect_fail("columns vs loss", a15, 2, SBERT_ERR_FORMAT, "CoSENTLoss expects 2 text columns");
    /* Accepted: the value that matches what sbert does, and documented no-ops. */
    char out[512];
    snprintf(out, sizeof out, "%s/ok", g_tmp);
    const char *ok[] = {"--bf16", "false", "--gradient_checkpointing", "false", "--report_to", "none",
                        "--dataloader_num_workers", "4", "--optim", "adamw_torch"};
    sbert_train_summary s;
    CHECK_OK(train(out, ok, sizeof ok / sizeof *ok, &s));
}

/* 19 text columns (anchor, positive, 17 negatives): the Cached loss equals
 * the uncached one (StaticEmbedding has no dropout). */
static void test_many_columns(void) {
    char path[600];
    snprintf(path, sizeof path, "%s/wide.jsonl", g_tmp);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "write %s", path);
    if (!f) return;
    static const char *const words[] = {"a man plays guitar", "a woman reads a book", "children run in a park",
                                        "a dog sleeps", "the sun is setting", "people ride bikes", "a cat jumps",
                                        "two men talk", "a girl sings", "the bus is late"};
    for (int r = 0; r < 32; r++) {
        fputc('{', f);
        for (int c = 0; c < 19; c++)
            fprintf(f, "%s\"c%02d\": \"%s %d\"", c ? ", " : "", c, words[(r + c * 3) % 10], r * 19 + c);
        fputs("}\n", f);
    }
    fclose(f);
    char out[2][512];
    sbert_train_summary s[2];
    const char *losses[2] = {"MultipleNegativesRankingLoss", "CachedMultipleNegativesRankingLoss"};
    for (int k = 0; k < 2; k++) {
        snprintf(out[k], sizeof out[k], "%s/wide%d", g_tmp, k);
        const char *extra[] = {"--train_data", path, "--loss", losses[k], "--mini_batch_size", "5"};
        CHECK_OK(train(out[k], extra, k ? 6 : 4, &s[k]));
    }
    char pa[600], pb[600];
    snprintf(pa, sizeof pa, "%s/final/model.safetensors", out[0]);
    snprintf(pb, sizeof pb, "%s/final/model.safetensors", out[1]);
    sbert_safetensors *a = NULL, *b = NULL;
    CHECK_OK(sbert_st_open(pa, &a));
    CHECK_OK(sbert_st_open(pb, &b));
    double maxd = 1e30;
    if (a && b) {
        const sbert_st_tensor *x = sbert_st_find(a, "embedding.weight"), *y = sbert_st_find(b, "embedding.weight");
        if (x && y && x->nbytes == y->nbytes) {
            maxd = 0;
            const float *p = x->data, *q = y->data;
            for (size_t i = 0; i < x->nbytes / 4; i++) maxd = test_max_err(maxd, fabs((double)p[i] - q[i]));
        }
    }
    /* the same math in another order of summation: a few ulp of the 0.1-lr updates */
    CHECK(maxd < 1e-5, "19 columns: CachedMNRL vs MNRL weights differ by %.3g", maxd);
    printf("19 input columns: CachedMultipleNegativesRankingLoss (mini_batch_size 5) vs MNRL: max |diff| %.3g\n", maxd);
    sbert_st_close(a);
    sbert_st_close(b);
}

static void test_schedule(void) {
    char out[512];
    snprintf(out, sizeof out, "%s/sched", g_tmp);
    sbert_train_summary s;
    clear_log();
    const char *steps[] = {"--eval_strategy", "steps", "--eval_steps", "2", "--save_strategy", "steps",
                           "--save_steps", "2", "--load_best_model_at_end", "true"};
    CHECK_OK(train(out, steps, sizeof steps / sizeof *steps, &s));
    char *log = read_log();
    const char *mid = log ? strstr(log, "Baseline ") : NULL, *end = mid ? strstr(mid, "Evaluating the trained") : NULL;
    int n_eval = 0;
    if (mid && end) {
        char *part = strndup(mid, (size_t)(end - mid));
        n_eval = count(part, "'eval_sts-dev_spearman_cosine'");
        free(part);
    }
    CHECK(n_eval == 2, "max_steps 4, eval_steps 2: evaluated at steps 2 and 4 (as the HF Trainer), got %d", n_eval);
    CHECK(log && !strstr(log, "'epoch': 1.0000}"), "the final eval reports the fractional epoch, not 1.0");
    free(log);

    snprintf(out, sizeof out, "%s/epochs", g_tmp);
    clear_log();
    const char *epochs[] = {"--max_steps", "-1", "--num_train_epochs", "2", "--max_train_samples", "48",
                            "--eval_strategy", "epoch"};
    CHECK_OK(train(out, epochs, sizeof epochs / sizeof *epochs, &s));
    log = read_log();
    mid = log ? strstr(log, "Baseline ") : NULL;
    end = mid ? strstr(mid, "Evaluating the trained") : NULL;
    n_eval = 0;
    if (mid && end) {
        char *part = strndup(mid, (size_t)(end - mid));
        n_eval = count(part, "'eval_sts-dev_spearman_cosine'");
        free(part);
    }
    CHECK(n_eval == 2, "num_train_epochs 2, eval_strategy epoch: both epochs evaluated, got %d", n_eval);
    free(log);
}

static void test_files(void) {
    char out[512];
    snprintf(out, sizeof out, "%s/files", g_tmp);
    mkdir(out, 0755);
    /* leftovers of a killed run */
    static const char *const junk[] = {"checkpoint-2.tmp.99999", "final.tmp.99999", "best-model.tmp.1",
                                       "checkpoint-4.deleting.42"};
    for (size_t i = 0; i < 4; i++) {
        char p[700];
        snprintf(p, sizeof p, "%s/%s", out, junk[i]);
        mkdir(p, 0755);
    }
    sbert_train_summary s;
    const char *rot[] = {"--max_steps", "8", "--save_strategy", "steps", "--save_steps", "2", "--save_total_limit",
                         "2"};
    CHECK_OK(train(out, rot, sizeof rot / sizeof *rot, &s));
    for (size_t i = 0; i < 4; i++) CHECK(!exists(out, junk[i]), "the leftover %s is removed", junk[i]);
    CHECK(exists(out, "checkpoint-6") && exists(out, "checkpoint-8") && !exists(out, "checkpoint-2") &&
              !exists(out, "checkpoint-4"),
          "save_total_limit 2 keeps checkpoint-6 and checkpoint-8 only");
    DIR *d = opendir(out);
    int stray = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp.") || strstr(e->d_name, ".deleting.")) stray++;
    if (d) closedir(d);
    CHECK(stray == 0, "no temporary or half-deleted folder remains (%d)", stray);

    /* trainer_state.json is checked before a resume trusts it */
    char state[700];
    snprintf(state, sizeof state, "%s/checkpoint-8/trainer_state.json", out);
    static const char *const bad_states[] = {"{}", "{\"global_step\": -5, \"epoch\": 1e30}",
                                             "{\"global_step\": 6, \"epoch\": 0, \"next_batch\": 6, \"has_best\": 0, "
                                             "\"best_metric\": 0, \"best_step\": 0, \"bad_evals\": 0}"};
    static const char *const needles[] = {"\"global_step\" must be", "\"global_step\" must be",
                                          "does not match the checkpoint folder checkpoint-8"};
    for (int k = 0; k < 3; k++) {
        FILE *f = fopen(state, "w");
        if (f) {
            fputs(bad_states[k], f);
            fclose(f);
        }
        const char *res[] = {"--max_steps", "10", "--resume_from_checkpoint", "latest"};
        sbert_status st = train(out, res, 4, &s);
        CHECK(st == SBERT_ERR_FORMAT && strstr(sbert_last_error(), needles[k]) &&
                  strstr(sbert_last_error(), "trainer_state.json"),
              "bad trainer_state.json %d refused: %s", k, sbert_last_error());
    }

    /* a second run on a locked output_dir fails naming the holder */
    char lock[700];
    snprintf(lock, sizeof lock, "%s/.sbert.lock", out);
    int fd = open(lock, O_RDWR | O_CREAT, 0644);
    CHECK(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0, "take the lock");
    if (fd >= 0) {
        char pid[32];
        int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
        CHECK(ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)n, 0) == n, "write the pid");
    }
    pid_t child = fork();
    if (child == 0) { /* another process, as a second `sbert train` would be */
        sbert_train_summary cs;
        sbert_status st = train(out, NULL, 0, &cs);
        char want[64];
        snprintf(want, sizeof want, "(pid %d", (int)getppid());
        _exit(st == SBERT_ERR_IO && strstr(sbert_last_error(), "in use by another training run") &&
                      strstr(sbert_last_error(), want)
                  ? 0
                  : 1);
    }
    int status = 0;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a run on a locked output_dir fails naming the pid");
    if (fd >= 0) close(fd);
    CHECK_OK(train(out, NULL, 0, &s)); /* the lock is free again */

    /* SMOKE_TEST: one step, saved apart, marked in experiments.md */
    setenv("SMOKE_TEST", "1", 1);
    sbert_status st = train(out, NULL, 0, &s);
    unsetenv("SMOKE_TEST");
    CHECK_OK(st);
    CHECK(s.steps == 1 && strstr(s.final_dir, "final-smoke"), "smoke run: %lld steps into %s", (long long)s.steps,
          s.final_dir);
    char exp[600];
    snprintf(exp, sizeof exp, "%s/logs/experiments.md", g_tmp);
    char *text = test_read_file(exp, NULL);
    CHECK(text && strstr(text, "| smoke |") && strstr(text, "| yes |") && strstr(text, "| no |"),
          "experiments.md marks smoke runs");
    free(text);
}

/* The CLI: a usage error exits 2, its message appears once (stderr only). */
static void test_cli(void) {
    const char *bin = getenv("SBERT_BIN");
    CHECK(bin && access(bin, X_OK) == 0, "SBERT_BIN (the sbert binary) is set and built");
    if (!bin || access(bin, X_OK) != 0) return;
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd %s && '%s' train --model static --lerning_rate 0.1 >%s/out.txt 2>%s/err.txt",
             g_tmp, bin, g_tmp, g_tmp);
    int rc = system(cmd);
    CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 2, "an unknown key exits 2 (got %d)", WEXITSTATUS(rc));
    char p[600];
    snprintf(p, sizeof p, "%s/out.txt", g_tmp);
    char *out = test_read_file(p, NULL);
    snprintf(p, sizeof p, "%s/err.txt", g_tmp);
    char *err = test_read_file(p, NULL);
    CHECK(err && count(err, "unknown key 'lerning_rate'") == 1 && out && !strstr(out, "lerning_rate"),
          "the error is printed once, on stderr: [%s] [%s]", out ? out : "", err ? err : "");
    free(out);
    free(err);
    /* a failure after the start (missing training file) is printed once too */
    snprintf(cmd, sizeof cmd,
             "cd %s && '%s' train --model static --tokenizer %s --train_data /nope.jsonl --eval_data %s "
             "--log-dir %s/clilogs >%s/out.txt 2>%s/err.txt",
             g_tmp, bin, test_path("data/bert-base-uncased-tokenizer.json"), test_path("data/stsb-dev.jsonl"), g_tmp,
             g_tmp, g_tmp);
    rc = system(cmd);
    CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 1, "a missing file exits 1 (got %d)", WEXITSTATUS(rc));
    snprintf(p, sizeof p, "%s/out.txt", g_tmp);
    out = test_read_file(p, NULL);
    snprintf(p, sizeof p, "%s/err.txt", g_tmp);
    err = test_read_file(p, NULL);
    CHECK(err && count(err, "/nope.jsonl") == 1 && out && !strstr(out, "/nope.jsonl: "),
          "the error is printed once, on stderr: [%s] [%s]", out ? out : "", err ? err : "");
    free(out);
    free(err);
}

int main(void) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/sbert_contract_%d", (int)getpid());
    CHECK(mkdir(g_tmp, 0700) == 0, "mkdir %s", g_tmp);
    test_keys();
    test_many_columns();
    test_schedule();
    test_files();
    test_cli();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_tmp);
    CHECK(system(cmd) == 0, "cleanup");
    return test_summary();
}
