/*
 * tests/test_ce_trainer.c -- `sbert train` with model_type CrossEncoder: the
 * run contract on a tiny BERT encoder with a new head (baseline, evaluation
 * during training, best model, VERDICT, a final model that loads back as a
 * CrossEncoder with the right activation, a CrossEncoder model card),
 * early stopping on by default, a resumed run ending bit-identical to an
 * uninterrupted one, list rows for LambdaLoss, and the refusals: a list
 * column with non-numeric scores, lists of different lengths in one row,
 * num_labels that does not fit the loss, the Sigmoid trap (and its override
 * key), an unknown activation, class ids out of range, margins of the wrong
 * length, CrossEncoder keys on a SentenceTransformer run -- each naming the
 * file and line or the key, before anything is written.
 */
#define _XOPEN_SOURCE 700
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/dirs.h"
#include "io/file.h"
#include "test_util.h"

static char g_tmp[256];

static sbert_status train(const char *out, const char *train_data, const char *const *extra, size_t n_extra,
                          sbert_train_summary *s) {
    char model[4096], eval[4096], data[4096]; /* test_path's buffers rotate */
    snprintf(data, sizeof data, "%s", train_data);
    snprintf(model, sizeof model, "%s", test_path("tests/data/models/tiny-bert"));
    snprintf(eval, sizeof eval, "%s", test_path("tests/data/cross_encoder/eval/rerank_neg.jsonl"));
    const char *base[] = {"--model_type", "CrossEncoder", "--model", model,
                          "--train_data", data, "--eval_data",
                          eval, "--evaluator_name", "trecqa",
                          "--max_eval_samples", "8", "--per_device_train_batch_size", "8", "--max_steps", "4",
                          "--learning_rate", "1e-4", "--save_strategy", "no", "--logging_steps", "2", "--output_dir",
                          out, "--run_name", "ce-contract", "--seed", "3"};
    const char *args[96];
    size_t n = 0;
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++) args[n++] = base[i];
    for (size_t i = 0; i < n_extra; i++) args[n++] = extra[i];
    char logdir[512];
    snprintf(logdir, sizeof logdir, "%s/logs", g_tmp);
    return sbert_train(NULL, args, n, logdir, s);
}

static const char *bce_data(void) {
    static char p[4096];
    snprintf(p, sizeof p, "%s", test_path("tests/data/cross_encoder/train/bce/data.jsonl"));
    return p;
}

static void expect_fail(const char *what, const char *data, const char *const *extra, size_t n, sbert_status want,
                        const char *needle, const char *needle2) {
    char out[512];
    snprintf(out, sizeof out, "%s/bad", g_tmp);
    sbert_rm_rf(out);
    sbert_train_summary s;
    sbert_status st = train(out, data, extra, n, &s);
    CHECK(st == want && strstr(sbert_last_error(), needle) && (!needle2 || strstr(sbert_last_error(), needle2)),
          "%s: expected %s with '%s'%s%s, got %s: %s", what, sbert_status_name(want), needle, needle2 ? " and " : "",
          needle2 ? needle2 : "", sbert_status_name(st), sbert_last_error());
    CHECK(access(out, F_OK) != 0, "%s: the failed run wrote %s", what, out);
}

static char *read_text(const char *path) {
    char *d = NULL;
    size_t n = 0;
    return sbert_read_file(path, &d, &n) == SBERT_OK ? d : NULL;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_bce_run(void) {
    char out[512], p[4200];
    snprintf(out, sizeof out, "%s/bce", g_tmp);
    const char *extra[] = {"--pos_weight", "auto", "--eval_strategy", "steps", "--eval_steps", "2",
                           "--load_best_model_at_end", "true", "--save_strategy", "steps", "--save_steps", "2"};
    sbert_train_summary s;
    CHECK_OK(train(out, bce_data(), extra, sizeof extra / sizeof *extra, &s));
    CHECK(s.steps == 4 && s.baseline > 0 && s.baseline < 1, "bce run: %lld steps, baseline %g", (long long)s.steps,
          s.baseline);
    snprintf(p, sizeof p, "%s/logs/ce-contract.log", g_tmp);
    char *log = read_text(p);
    CHECK(log && strstr(log, "pos_weight auto = ") && strstr(log, "VERDICT:") &&
              strstr(log, "eval_trecqa_ndcg@10") && strstr(log, "as a CrossEncoder (num_labels 1"),
          "bce run log:\n%s", log ? log : "(none)");
    free(log);
    sbert_model *m = NULL;
    CHECK_OK(sbert_cross_encoder_load(s.final_dir, NULL, &m));
    if (m) {
        CHECK(!strcmp(sbert_cross_encoder_activation_fn(m), "torch.nn.modules.activation.Sigmoid"),
              "final model activation %s", sbert_cross_encoder_activation_fn(m));
        sbert_model_free(m);
    }
    snprintf(p, sizeof p, "%s/README.md", s.final_dir);
    char *card = read_text(p);
    CHECK(card && strstr(card, "pipeline_tag: text-ranking") && strstr(card, "CrossEncoder(") &&
              strstr(card, "loss:BinaryCrossEntropyLoss"),
          "CrossEncoder model card");
    free(card);
    snprintf(p, sizeof p, "%s/best-model/model.safetensors", out);
    CHECK(access(p, F_OK) == 0, "best model saved");
}

/* A run resumed from its step-2 checkpoint ends where an uninterrupted run does (dropout on). */
static void test_resume(void) {
    char a[512], b[512], ck[1024], pa[4200], pb[4200];
    snprintf(a, sizeof a, "%s/full", g_tmp);
    snprintf(b, sizeof b, "%s/resumed", g_tmp);
    const char *ex1[] = {"--save_strategy", "steps", "--save_steps", "2", "--loss", "MultipleNegativesRankingLoss",
                         "--columns", "query,answer", "--num_negatives", "3"};
    sbert_train_summary s1, s2;
    CHECK_OK(train(a, bce_data(), ex1, sizeof ex1 / sizeof *ex1, &s1));
    snprintf(ck, sizeof ck, "%s/checkpoint-2", a);
    const char *ex2[] = {"--save_strategy", "steps", "--save_steps", "2", "--loss", "MultipleNegativesRankingLoss",
                         "--columns", "query,answer", "--num_negatives", "3", "--resume_from_checkpoint", ck};
    CHECK_OK(train(b, bce_data(), ex2, sizeof ex2 / sizeof *ex2, &s2));
    snprintf(pa, sizeof pa, "%s/model.safetensors", s1.final_dir);
    snprintf(pb, sizeof pb, "%s/model.safetensors", s2.final_dir);
    char *da = NULL, *db = NULL;
    size_t na = 0, nb = 0;
    CHECK_OK(sbert_read_file(pa, &da, &na));
    CHECK_OK(sbert_read_file(pb, &db, &nb));
    CHECK(da && db && na == nb && memcmp(da, db, na) == 0, "resumed CrossEncoder run differs from the uninterrupted one");
    free(da);
    free(db);
}

static void test_lists(void) {
    char out[512];
    snprintf(out, sizeof out, "%s/lambda", g_tmp);
    char lam[4096];
    snprintf(lam, sizeof lam, "%s", test_path("tests/data/cross_encoder/train/lambda/data.jsonl"));
    const char *extra[] = {"--loss", "LambdaLoss", "--activation_fn", "Identity", "--mini_batch_size", "5",
                           "--per_device_train_batch_size", "4"};
    sbert_train_summary s;
    CHECK_OK(train(out, lam, extra, sizeof extra / sizeof *extra, &s));
    sbert_model *m = NULL;
    CHECK_OK(sbert_cross_encoder_load(s.final_dir, NULL, &m));
    if (m) {
        CHECK(!strcmp(sbert_cross_encoder_activation_fn(m), "torch.nn.modules.linear.Identity"),
              "LambdaLoss model saved with activation %s", sbert_cross_encoder_activation_fn(m));
        sbert_model_free(m);
    }
    /* the trap, and its override */
    const char *trap[] = {"--loss", "LambdaLoss"};
    expect_fail("LambdaLoss with Sigmoid", lam, trap, 2, SBERT_ERR_INVALID_ARG, "needs the model's activation_fn to be "
                                                                                "Identity",
                "allow_activation_mismatch");
    char out2[512];
    snprintf(out2, sizeof out2, "%s/lambda-sigmoid", g_tmp);
    const char *ovr[] = {"--loss", "LambdaLoss", "--allow_activation_mismatch", "true", "--max_steps", "1"};
    CHECK_OK(train(out2, lam, ovr, sizeof ovr / sizeof *ovr, &s));
    /* bad list rows */
    char bad[512];
    snprintf(bad, sizeof bad, "%s/bad-scores.jsonl", g_tmp);
    write_text(bad, "{\"query\": \"q1\", \"docs\": [\"a\", \"b\"], \"labels\": [1, 0]}\n"
                    "{\"query\": \"q2\", \"docs\": [\"c\", \"d\"], \"labels\": [1, \"high\"]}\n");
    const char *ide[] = {"--loss", "ListNetLoss", "--activation_fn", "Identity"};
    expect_fail("non-numeric list score", bad, ide, 4, SBERT_ERR_FORMAT, "bad-scores.jsonl:2", "not a number");
    snprintf(bad, sizeof bad, "%s/bad-len.jsonl", g_tmp);
    write_text(bad, "{\"query\": \"q1\", \"docs\": [\"a\", \"b\"], \"labels\": [1, 0]}\n"
                    "{\"query\": \"q2\", \"docs\": [\"c\", \"d\", \"e\"], \"labels\": [1, 0]}\n");
    expect_fail("lists of different lengths", bad, ide, 4, SBERT_ERR_FORMAT, "bad-len.jsonl:2",
                "3 documents in 'docs' but 2 labels");
    /* a list column for a loss that takes one text per row */
    const char *bce[] = {"--loss", "BinaryCrossEntropyLoss"};
    expect_fail("lists for a pair loss", lam, bce, 2, SBERT_ERR_FORMAT, "holds lists", NULL);
}

static void test_refusals(void) {
    const char *a1[] = {"--num_labels", "3", "--loss", "BinaryCrossEntropyLoss"};
    expect_fail("num_labels 3 with BCE", bce_data(), a1, 4, SBERT_ERR_INVALID_ARG, "BinaryCrossEntropyLoss expects",
                "num_labels 3");
    const char *a2[] = {"--loss", "CrossEntropyLoss"};
    expect_fail("CrossEntropyLoss with 1 label", bce_data(), a2, 2, SBERT_ERR_INVALID_ARG,
                "CrossEntropyLoss needs a model with num_labels >= 2", "num_labels 1");
    char bad[512];
    snprintf(bad, sizeof bad, "%s/classes.jsonl", g_tmp);
    write_text(bad, "{\"s1\": \"a\", \"s2\": \"b\", \"label\": 1}\n{\"s1\": \"c\", \"s2\": \"d\", \"label\": 5}\n");
    const char *a3[] = {"--loss", "CrossEntropyLoss", "--num_labels", "3"};
    expect_fail("class id out of range", bad, a3, 4, SBERT_ERR_FORMAT, "classes.jsonl:2", "label 5");
    const char *a4[] = {"--activation_fn", "torch.nn.modules.activation.Softsign"};
    expect_fail("unknown activation", bce_data(), a4, 2, SBERT_ERR_UNSUPPORTED, "activation_fn", "Softsign");
    snprintf(bad, sizeof bad, "%s/margins.jsonl", g_tmp);
    write_text(bad, "{\"q\": \"a\", \"p\": \"b\", \"n\": \"c\", \"scores\": [5, 1]}\n"
                    "{\"q\": \"a\", \"p\": \"b\", \"n\": \"c\", \"scores\": [5, 1, 2]}\n");
    const char *a5[] = {"--loss", "MarginMSELoss", "--activation_fn", "Identity"};
    expect_fail("margins of the wrong length", bad, a5, 4, SBERT_ERR_FORMAT, "margins.jsonl:2", "3 values");
    const char *a6[] = {"--model_type", "SentenceTransformer", "--activation_fn", "Identity", "--loss",
                        "MultipleNegativesRankingLoss", "--columns", "query,answer"};
    expect_fail("CrossEncoder key on a SentenceTransformer", bce_data(), a6, 8, SBERT_ERR_INVALID_ARG,
                "'activation_fn' is a CrossEncoder key", NULL);
    const char *a7[] = {"--model_type", "SentenceTransformer", "--loss", "LambdaLoss"};
    expect_fail("CrossEncoder loss on a SentenceTransformer", bce_data(), a7, 4, SBERT_ERR_UNSUPPORTED,
                "LambdaLoss is a CrossEncoder loss", "set model_type: CrossEncoder");
    const char *a8[] = {"--evaluator", "TripletEvaluator"};
    expect_fail("SentenceTransformer evaluator", bce_data(), a8, 2, SBERT_ERR_UNSUPPORTED,
                "not one for a CrossEncoder", NULL);
}

int main(void) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/sbert-ce-trainer-XXXXXX");
    if (!mkdtemp(g_tmp)) {
        CHECK(0, "mkdtemp");
        return test_summary();
    }
    if (TEST_REQUIRE_FILE(bce_data(), "run tools/gen_ce_train_refs.py")) {
        test_bce_run();
        test_resume();
        test_lists();
        test_refusals();
    }
    sbert_rm_rf(g_tmp);
    return test_summary();
}
