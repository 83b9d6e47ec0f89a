/*
 * tests/test_model_errors.c -- sbert_model_load / sbert_model_encode on bad
 * input: every failure must return a non-zero status and a message that
 * names the file (and the key, tensor or module) at fault.
 *
 * Model directories are built in a temp dir from the tiny BERT of
 * tests/data/models/tiny-bert (symlinked) and the committed configs of the
 * tests/data/st_models/bert-max-dense-tanh case, then broken one way each.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "test_util.h"

static char g_tmp[] = "/tmp/sbert_model_errors_XXXXXX";
static int g_n = 0;

/* snprintf(dst, cap, "%s/%s", a, b), failing the test on truncation. */
static void pjoin(char *dst, size_t cap, const char *a, const char *b) {
    int r = snprintf(dst, cap, "%s/%s", a, b);
    CHECK(r >= 0 && (size_t)r < cap, "path too long: %s/%s", a, b);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL, "cannot write %s", path);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static void copy_to(const char *src, const char *dst) {
    size_t len = 0;
    char *d = test_read_file(src, &len);
    CHECK(d != NULL, "cannot read %s", src);
    if (!d) return;
    FILE *f = fopen(dst, "wb");
    if (f) {
        fwrite(d, 1, len, f);
        fclose(f);
    }
    free(d);
}

/* A fresh model dir: the tiny-bert HF files (minus `skip`) plus the
 * bert-max-dense-tanh case configs (Transformer, Pooling max, Dense 32->16). */
static const char *make_dir(const char *skip) {
    static char dir[4096];
    snprintf(dir, sizeof dir, "%s/m%d", g_tmp, g_n++);
    mkdir(dir, 0755);
    static const char *const hf[] = {"config.json", "model.safetensors", "tokenizer.json",
                                     "tokenizer_config.json"};
    for (int i = 0; i < 4; i++) {
        if (skip && strcmp(skip, hf[i]) == 0) continue;
        char s[4096], t[4096];
        pjoin(s, sizeof s, test_path("tests/data/models/tiny-bert"), hf[i]);
        pjoin(t, sizeof t, dir, hf[i]);
        CHECK(symlink(s, t) == 0, "symlink %s", s);
    }
    static const char *const st[] = {"modules.json", "sentence_bert_config.json",
                                     "config_sentence_transformers.json", "1_Pooling/config.json",
                                     "2_Dense/config.json", "2_Dense/model.safetensors"};
    char sub[4096];
    pjoin(sub, sizeof sub, dir, "1_Pooling");
    mkdir(sub, 0755);
    pjoin(sub, sizeof sub, dir, "2_Dense");
    mkdir(sub, 0755);
    for (int i = 0; i < 6; i++) {
        if (skip && strcmp(skip, st[i]) == 0) continue;
        char s[4096], t[4096];
        pjoin(s, sizeof s, test_path("tests/data/st_models/bert-max-dense-tanh"), st[i]);
        pjoin(t, sizeof t, dir, st[i]);
        copy_to(s, t);
    }
    return dir;
}

static char *path_in(const char *dir, const char *rel) {
    static char p[4096];
    pjoin(p, sizeof p, dir, rel);
    return p;
}

/* Load must fail with `want` and the message must contain every needle. */
static void expect_fail(const char *dir, sbert_status want, const char *what, const char *n1,
                        const char *n2) {
    sbert_model *m = NULL;
    sbert_status st = sbert_model_load(dir, NULL, &m);
    CHECK(st == want, "%s: status %s, want %s (%s)", what, sbert_status_name(st),
          sbert_status_name(want), sbert_last_error());
    CHECK(m == NULL, "%s: no model returned", what);
    const char *msg = sbert_last_error();
    CHECK(n1 == NULL || strstr(msg, n1) != NULL, "%s: message names '%s': %s", what, n1, msg);
    CHECK(n2 == NULL || strstr(msg, n2) != NULL, "%s: message names '%s': %s", what, n2, msg);
    if (m) sbert_model_free(m);
}

/* A model dir whose config.json is tiny-bert's with `key` set to the JSON
 * text `raw` (added when absent). */
static const char *dir_with_config(const char *key, const char *raw) {
    const char *d = make_dir("config.json");
    char *text = test_read_file(test_path("tests/data/models/tiny-bert/config.json"), NULL);
    cJSON *cfg = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECK(cfg != NULL, "tiny-bert config.json parses");
    if (!cfg) return d;
    if (cJSON_GetObjectItemCaseSensitive(cfg, key))
        cJSON_ReplaceItemInObjectCaseSensitive(cfg, key, cJSON_CreateRaw(raw));
    else
        cJSON_AddItemToObject(cfg, key, cJSON_CreateRaw(raw));
    char *out = cJSON_Print(cfg);
    write_text(path_in(d, "config.json"), out);
    free(out);
    cJSON_Delete(cfg);
    return d;
}

/* Absurd sizes in config.json are refused naming the file and the key,
 * before any size product is formed (hidden_size 2^61 used to overflow the
 * parameter count: "out of memory for 8000031312000000128 parameters"). */
static void test_config_sizes(void) {
    static const struct {
        const char *key, *raw, *needle;
    } cases[] = {
        {"hidden_size", "2305843009213693952", "larger than"},
        {"hidden_size", "1000000000", "larger than"},
        {"hidden_size", "1e300", "larger than"},
        {"hidden_size", "32.5", "not a whole number"},
        {"max_position_embeddings", "4000000000000", "larger than"},
        {"vocab_size", "1e30", "larger than"},
        {"vocab_size", "18446744073709551616", "larger than"},
        {"intermediate_size", "9007199254740993", "larger than"},
        {"num_hidden_layers", "100000000", "larger than"},
        {"num_attention_heads", "4294967296", "larger than"},
        {"type_vocab_size", "1e19", "larger than"},
        {"pad_token_id", "1e20", "larger than"},
        {"layer_norm_eps", "1e300", "must be in"},
        {"hidden_dropout_prob", "-1e300", "must be in"},
        {"attention_probs_dropout_prob", "\"0.1\"", "must be a number"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *d = dir_with_config(cases[i].key, cases[i].raw);
        char what[160];
        snprintf(what, sizeof what, "config.json %s = %s", cases[i].key, cases[i].raw);
        expect_fail(d, SBERT_ERR_FORMAT, what, "config.json", cases[i].key);
        CHECK(strstr(sbert_last_error(), cases[i].needle) != NULL, "%s: says '%s': %s", what,
              cases[i].needle, sbert_last_error());
        CHECK(strstr(sbert_last_error(), "out of memory") == NULL, "%s: not 'out of memory'", what);
    }
    /* plausible sizes that disagree with the weights: refused before the
     * parameter buffer is allocated, naming the tensor and both shapes */
    const char *dw = dir_with_config("intermediate_size", "200000");
    expect_fail(dw, SBERT_ERR_FORMAT, "config/weights mismatch", "model.safetensors",
                "has shape [64, 32] but");
    CHECK(strstr(sbert_last_error(), "config.json implies [200000, 32]") != NULL,
          "names config.json and the implied shape: %s", sbert_last_error());
    /* in range and null keep working: pad_token_id null = the default */
    const char *d = dir_with_config("pad_token_id", "null");
    sbert_model *m = NULL;
    CHECK_OK(sbert_model_load(d, NULL, &m));
    sbert_model_free(m);
}

int main(void) {
    CHECK(mkdtemp(g_tmp) != NULL, "mkdtemp");

    /* The intact directory loads. */
    const char *ok = make_dir(NULL);
    sbert_model *m = NULL;
    CHECK_OK(sbert_model_load(ok, NULL, &m));
    if (m) {
        /* Encode-time argument errors. */
        sbert_encode_options o = sbert_encode_options_default();
        float out[2 * 64];
        const char *texts[2] = {"a man is eating", NULL};
        CHECK(sbert_model_encode(m, texts, 2, &o, out) == SBERT_ERR_INVALID_ARG,
              "NULL text rejected");
        CHECK(strstr(sbert_last_error(), "text 1") != NULL, "names the text: %s",
              sbert_last_error());
        const char *bad_utf8[2] = {"fine", "bad \xff byte"};
        sbert_status st = sbert_model_encode(m, bad_utf8, 2, &o, out);
        CHECK(st != SBERT_OK, "invalid UTF-8 rejected");
        CHECK(strstr(sbert_last_error(), "text 1") != NULL, "names the text: %s",
              sbert_last_error());
        o.prompt_name = "nonexistent";
        texts[1] = "b";
        CHECK(sbert_model_encode(m, texts, 2, &o, out) == SBERT_ERR_INVALID_ARG,
              "unknown prompt name rejected");
        CHECK(strstr(sbert_last_error(), "nonexistent") != NULL, "names the prompt: %s",
              sbert_last_error());
        o = sbert_encode_options_default();
        CHECK_OK(sbert_model_encode(m, texts, 0, &o, out));
        sbert_model_free(m);
    }

    expect_fail("/nonexistent/sbert/model", SBERT_ERR_IO, "missing directory",
                "/nonexistent/sbert/model", "does not exist");

    char empty[4096];
    pjoin(empty, sizeof empty, g_tmp, "empty");
    mkdir(empty, 0755);
    expect_fail(empty, SBERT_ERR_IO, "no modules.json, no config.json", "modules.json",
                "config.json");

    const char *d = make_dir("tokenizer.json");
    expect_fail(d, SBERT_ERR_IO, "missing tokenizer.json", "tokenizer.json", d);

    d = make_dir("modules.json");
    write_text(path_in(d, "modules.json"),
               "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":\"sentence_transformers.models."
               "Transformer\"},{\"idx\":1,\"name\":\"1\",\"path\":\"1_Pooling\",\"type\":"
               "\"sentence_transformers.models.Pooling\"},{\"idx\":2,\"name\":\"2\",\"path\":"
               "\"2_Custom\",\"type\":\"my_package.modules.Custom\"}]");
    expect_fail(d, SBERT_ERR_UNSUPPORTED, "unknown module type", "my_package.modules.Custom",
                "modules.json");

    d = make_dir("modules.json");
    write_text(path_in(d, "modules.json"), "[{\"idx\":0, \"path\": ");
    expect_fail(d, SBERT_ERR_FORMAT, "malformed modules.json", "modules.json", NULL);

    d = make_dir("modules.json");
    write_text(path_in(d, "modules.json"),
               "[{\"idx\":0,\"name\":\"0\",\"path\":\"1_Pooling\",\"type\":\"sentence_transformers."
               "models.Pooling\"}]");
    expect_fail(d, SBERT_ERR_UNSUPPORTED, "Pooling first", "Transformer", "modules.json");

    d = make_dir("modules.json");
    write_text(path_in(d, "modules.json"),
               "[{\"idx\":0,\"name\":\"0\",\"path\":\"../../etc\",\"type\":\"sentence_transformers."
               "models.Transformer\"}]");
    expect_fail(d, SBERT_ERR_FORMAT, "path escaping the directory", "../../etc", NULL);

    /* Dense weights [16, 32] but config says out_features 8. */
    d = make_dir("2_Dense/config.json");
    write_text(path_in(d, "2_Dense/config.json"),
               "{\"in_features\": 32, \"out_features\": 8, \"bias\": true, \"activation_function\": "
               "\"torch.nn.modules.activation.Tanh\"}");
    expect_fail(d, SBERT_ERR_FORMAT, "Dense shape vs config", "2_Dense", "linear.weight");

    /* Dense in_features that is not the Pooling output (32). */
    d = make_dir("2_Dense/config.json");
    write_text(path_in(d, "2_Dense/config.json"),
               "{\"in_features\": 16, \"out_features\": 16, \"bias\": true}");
    expect_fail(d, SBERT_ERR_FORMAT, "Dense in_features vs pooling", "in_features", "2_Dense");

    /* Only a PyTorch pickle. */
    d = make_dir("2_Dense/model.safetensors");
    write_text(path_in(d, "2_Dense/pytorch_model.bin"), "not really a pickle");
    expect_fail(d, SBERT_ERR_UNSUPPORTED, "Dense pytorch_model.bin", "pytorch_model.bin",
                "safetensors");

    d = make_dir("2_Dense/config.json");
    write_text(path_in(d, "2_Dense/config.json"),
               "{\"in_features\": 32, \"out_features\": 16, \"activation_function\": "
               "\"mypkg.Swish\"}");
    expect_fail(d, SBERT_ERR_UNSUPPORTED, "unknown activation", "mypkg.Swish", "2_Dense");

    d = make_dir("1_Pooling/config.json");
    write_text(path_in(d, "1_Pooling/config.json"),
               "{\"word_embedding_dimension\": 48, \"pooling_mode_mean_tokens\": true}");
    expect_fail(d, SBERT_ERR_FORMAT, "Pooling dim vs hidden size", "1_Pooling", "48");

    d = make_dir("config_sentence_transformers.json");
    write_text(path_in(d, "config_sentence_transformers.json"), "{\"model_type\": \"CrossEncoder\"}");
    expect_fail(d, SBERT_ERR_UNSUPPORTED, "model_type CrossEncoder",
                "config_sentence_transformers.json", "CrossEncoder");

    d = make_dir("config_sentence_transformers.json");
    write_text(path_in(d, "config_sentence_transformers.json"),
               "{\"prompts\": {\"query\": \"q: \"}, \"default_prompt_name\": \"passage\"}");
    expect_fail(d, SBERT_ERR_FORMAT, "default_prompt_name not in prompts",
                "config_sentence_transformers.json", "passage");

    d = make_dir("config.json");
    expect_fail(d, SBERT_ERR_IO, "Transformer without config.json", "config.json", d);

    test_config_sizes();

    /* model.safetensors that is not a file: say what it is, not "file not found" */
    d = make_dir("model.safetensors");
    CHECK(mkdir(path_in(d, "model.safetensors"), 0755) == 0, "mkdir model.safetensors");
    expect_fail(d, SBERT_ERR_IO, "model.safetensors is a directory", "model.safetensors",
                "is a directory, not a file");
    d = make_dir("model.safetensors");
    {
        char a[4096], b[4096];
        pjoin(a, sizeof a, d, "model.safetensors");
        pjoin(b, sizeof b, d, "loop.safetensors");
        CHECK(symlink(b, a) == 0 && symlink(a, b) == 0, "symlink loop");
    }
    expect_fail(d, SBERT_ERR_IO, "model.safetensors is a symlink loop", "model.safetensors",
                "symbolic link loop");
    d = make_dir("model.safetensors");
    expect_fail(d, SBERT_ERR_IO, "model.safetensors absent", "model.safetensors", "no such file");
    /* an optional file that is present but a directory is an error, not skipped */
    d = make_dir("config_sentence_transformers.json");
    CHECK(mkdir(path_in(d, "config_sentence_transformers.json"), 0755) == 0, "mkdir");
    expect_fail(d, SBERT_ERR_IO, "config_sentence_transformers.json is a directory",
                "config_sentence_transformers.json", "is a directory, not a file");
    d = make_dir("tokenizer.json");
    CHECK(mkdir(path_in(d, "tokenizer.json"), 0755) == 0, "mkdir");
    expect_fail(d, SBERT_ERR_IO, "tokenizer.json is a directory", "tokenizer.json",
                "is a directory, not a file");

    /* Clean up. */
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    CHECK(system(cmd) == 0, "cleanup");
    return test_summary();
}
