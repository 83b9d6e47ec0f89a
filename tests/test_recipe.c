/*
 * tests/test_recipe.c -- recipe files (training/recipe.h): the syntax
 * (comments, quotes, "key: value" and "key = value", CRLF), overrides winning
 * over the file, and the files that must be refused with file:line: an
 * unknown key (with a suggestion), a line without a separator, a key set
 * twice (the first would be silently dropped), a NUL byte (the rest of its
 * line would be silently dropped), and not a file at all.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"
#include "training/recipe.h"
#include "training/train_args.h"

static char g_tmp[] = "/tmp/sbert_test_recipe_XXXXXX";

static const char *write_recipe(const char *name, const char *text, size_t len) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", g_tmp, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL, "create %s", path);
    if (f) {
        fwrite(text, 1, len, f);
        fclose(f);
    }
    return path;
}

static void expect_bad(const char *name, const char *text, size_t len, const char *needle) {
    const char *path = write_recipe(name, text, len);
    sbert_recipe *r = NULL;
    sbert_status st = sbert_recipe_load(path, NULL, 0, sbert_train_known_keys(), &r);
    CHECK(st != SBERT_OK && r == NULL && strstr(sbert_last_error(), needle),
          "%s: want an error containing \"%s\", got %s: %s", name, needle, sbert_status_name(st),
          sbert_last_error());
    sbert_recipe_free(r);
}

int main(void) {
    CHECK(mkdtemp(g_tmp) != NULL, "mkdtemp");
    static const char good[] =
        "# a comment\r\n"
        "model: models/x   # trailing comment\r\n"
        "learning_rate = \"2e-5\"\n"
        "\n"
        "prompts: 'q: # not a comment'\n"
        "seed: 7\n";
    const char *path = write_recipe("good.yaml", good, sizeof good - 1);
    const char *over[] = {"--seed", "12", "num_train_epochs=3"};
    sbert_recipe *r = NULL;
    CHECK_OK(sbert_recipe_load(path, over, 3, sbert_train_known_keys(), &r));
    if (r) {
        const char *s = NULL;
        double d = 0;
        int64_t n = 0;
        CHECK_OK(sbert_recipe_string(r, "model", NULL, &s));
        CHECK(s && strcmp(s, "models/x") == 0, "model = '%s'", s ? s : "(null)");
        CHECK_OK(sbert_recipe_double(r, "learning_rate", 0, &d));
        CHECK(d == 2e-5, "learning_rate %g (quotes removed)", d);
        CHECK_OK(sbert_recipe_string(r, "prompts", NULL, &s));
        CHECK(s && strcmp(s, "q: # not a comment") == 0, "a quoted '#' is kept: '%s'", s ? s : "");
        CHECK_OK(sbert_recipe_int(r, "seed", 0, &n));
        CHECK(n == 12 && strcmp(sbert_recipe_origin(r, "seed"), "command line") == 0,
              "the override wins: seed %lld from %s", (long long)n, sbert_recipe_origin(r, "seed"));
        CHECK(strstr(sbert_recipe_origin(r, "model"), "good.yaml:2") != NULL, "origin file:line: %s",
              sbert_recipe_origin(r, "model"));
        CHECK_OK(sbert_recipe_int(r, "num_train_epochs", 0, &n));
        CHECK(n == 3, "key=value override");
        CHECK(sbert_recipe_double(r, "model", 0, &d) == SBERT_ERR_INVALID_ARG &&
                  strstr(sbert_last_error(), "good.yaml:2"),
              "a typed getter on text names where it came from: %s", sbert_last_error());
        sbert_recipe_free(r);
    }

    expect_bad("unknown.yaml", "learnig_rate: 1\n", 16, "unknown.yaml:1: unknown key 'learnig_rate' (did you mean 'learning_rate'?)");
    expect_bad("nosep.yaml", "seed: 1\njust words\n", 19, "nosep.yaml:2: expected 'key: value'");
    expect_bad("twice.yaml", "seed: 1\nmodel: m\nseed: 2\n", 25,
               "twice.yaml:3: key 'seed' is set twice in the recipe (first at ");
    CHECK(strstr(sbert_last_error(), "twice.yaml:1)") != NULL, "names the first line: %s", sbert_last_error());
    expect_bad("nul.yaml", "seed: 1\nmodel: m\0 hidden\n", 25, "nul.yaml:2: a NUL byte");
    char dir[600];
    snprintf(dir, sizeof dir, "%s/adir.yaml", g_tmp);
    mkdir(dir, 0755);
    sbert_recipe *rd = NULL;
    CHECK(sbert_recipe_load(dir, NULL, 0, sbert_train_known_keys(), &rd) == SBERT_ERR_IO && !rd &&
              strstr(sbert_last_error(), "is a directory, not a file"),
          "a directory: %s", sbert_last_error());
    rmdir(dir);

    /* overrides: an unknown key, a missing value */
    const char *bad_over[] = {"--learning-rte", "1"};
    CHECK(sbert_recipe_load(NULL, bad_over, 2, sbert_train_known_keys(), &r) == SBERT_ERR_INVALID_ARG &&
              strstr(sbert_last_error(), "did you mean 'learning_rate'"),
          "unknown override: %s", sbert_last_error());
    const char *no_val[] = {"--seed"};
    CHECK(sbert_recipe_load(NULL, no_val, 1, sbert_train_known_keys(), &r) == SBERT_ERR_INVALID_ARG &&
              strstr(sbert_last_error(), "--seed needs a value"),
          "override without a value: %s", sbert_last_error());

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    CHECK(system(cmd) == 0, "cleanup");
    return test_summary();
}
