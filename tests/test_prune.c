/*
 * tests/test_prune.c -- layer pruning (sbert_model_keep_layers, recipe key
 * layers_to_keep, `sbert prune`) against sentence-transformers 6.2.0
 * (tests/data/prune/refs.json, made by tools/gen_prune_refs.py: the pruned
 * copy of its model_distillation_layer_reduction.py example):
 *   - for all-MiniLM-L6-v2 (keep 0, 2, 4) and the tiny BERT, DistilBERT and
 *     MPNet SentenceTransformers: the pruned model's embeddings, and those of
 *     its saved folder loaded again, equal the Python pruned copy's
 *     (abs <= 1e-5); the saved config.json says num_hidden_layers (n_layers)
 *     = the kept count and model.safetensors holds no removed layer;
 *   - bad lists (empty, out of range, repeated, unsorted) are refused saying
 *     which, through the library, the recipe key and the command;
 *   - a 1-step training run with layers_to_keep saves a pruned model.
 */
#include <cjson/cJSON.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "io/safetensors.h"
#include "test_fs.h"
#include "io/file.h"
#include "test_util.h"

static const char *const BASE_FILES[] = {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"};
static char g_tmp[64];

/* The case's model folder: models/... as is, or base + overlay assembled in dst. */
static const char *case_dir(const cJSON *c, const char *dst) {
    const cJSON *m = cJSON_GetObjectItem(c, "model");
    if (cJSON_IsString(m)) {
        static char p[1024];
        snprintf(p, sizeof p, "%s", test_path(m->valuestring));
        return TEST_REQUIRE_FILE(p, TEST_FETCH_MODELS) ? p : NULL;
    }
    mkdir(dst, 0755);
    for (size_t i = 0; i < 4; i++) {
        char s[1024], t[1024];
        snprintf(s, sizeof s, "%s/%s", test_path(cJSON_GetObjectItem(c, "base")->valuestring), BASE_FILES[i]);
        snprintf(t, sizeof t, "%s/%s", dst, BASE_FILES[i]);
        CHECK(test_copy_file(s, t), "copy %s", s);
    }
    test_copy_tree(test_path(cJSON_GetObjectItem(c, "overlay")->valuestring), dst);
    return dst;
}

/* max |encode(model) - ref| over the sentences. */
static double encode_err(sbert_model *m, const char *const *sent, size_t n, const cJSON *emb, size_t dim) {
    float *e = calloc(n * dim, sizeof *e);
    sbert_encode_options o = sbert_encode_options_default();
    CHECK(sbert_model_encode_dim(m, &o) == dim, "embedding width %zu, sentence-transformers %zu",
          sbert_model_encode_dim(m, &o), dim);
    double err = 0;
    if (sbert_model_encode_dim(m, &o) == dim && sbert_model_encode(m, sent, n, &o, e) == SBERT_OK) {
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < dim; k++)
                err = test_max_err(err, fabs(e[i * dim + k] - cJSON_GetArrayItem(cJSON_GetArrayItem(emb, (int)i),
                                                                                   (int)k)->valuedouble));
    } else {
        err = INFINITY;
    }
    free(e);
    return err;
}

static void run_case(const cJSON *c, const char *const *sent, size_t n) {
    const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
    char src[256], saved[256];
    snprintf(src, sizeof src, "%s/%s-src", g_tmp, name);
    snprintf(saved, sizeof saved, "%s/%s-pruned", g_tmp, name);
    const char *dir = case_dir(c, src);
    if (!dir) return;
    const cJSON *keepj = cJSON_GetObjectItem(c, "keep"), *emb = cJSON_GetObjectItem(c, "embeddings");
    size_t keep[16], nk = (size_t)cJSON_GetArraySize(keepj), dim = (size_t)cJSON_GetObjectItem(c, "dim")->valueint;
    for (size_t i = 0; i < nk && i < 16; i++) keep[i] = (size_t)cJSON_GetArrayItem(keepj, (int)i)->valueint;
    sbert_model *m = NULL;
    CHECK_OK(sbert_model_load(dir, NULL, &m));
    if (!m) return;
    CHECK(sbert_model_num_layers(m) == (size_t)cJSON_GetObjectItem(c, "layers_before")->valueint,
          "%s: %zu layers before pruning", name, sbert_model_num_layers(m));
    CHECK_OK(sbert_model_keep_layers(m, keep, nk));
    CHECK(sbert_model_num_layers(m) == nk, "%s: %zu layers after pruning, want %zu", name, sbert_model_num_layers(m),
          nk);
    double e1 = encode_err(m, sent, n, emb, dim);
    CHECK(e1 <= 1e-5, "%s: pruned embeddings differ from sentence-transformers' pruned copy by %.2e", name, e1);
    CHECK_OK(sbert_model_save_dtype(m, saved, "fp32"));
    sbert_model_free(m);
    m = NULL;
    /* the saved folder: config.json's layer count, no removed layer's tensors, same embeddings */
    char p[512];
    snprintf(p, sizeof p, "%s/config.json", saved);
    char *txt = test_read_file(p, NULL);
    cJSON *cfg = txt ? cJSON_Parse(txt) : NULL;
    free(txt);
    const char *key = cJSON_GetObjectItem(c, "config_key")->valuestring;
    const cJSON *nl = cfg ? cJSON_GetObjectItem(cfg, key) : NULL;
    CHECK(cJSON_IsNumber(nl) && nl->valueint == cJSON_GetObjectItem(c, "saved_layers")->valueint,
          "%s: saved config.json %s = %d, sentence-transformers saves %d", name, key, nl ? nl->valueint : -1,
          cJSON_GetObjectItem(c, "saved_layers")->valueint);
    cJSON_Delete(cfg);
    snprintf(p, sizeof p, "%s/model.safetensors", saved);
    sbert_safetensors *st = NULL;
    CHECK_OK(sbert_st_open(p, &st));
    size_t stray = 0;
    for (size_t i = 0; st && i < sbert_st_count(st); i++) {
        const char *tn = sbert_st_at(st, i)->name, *l = strstr(tn, "layer.");
        if (l && (size_t)atoi(l + 6) >= nk) stray++;
    }
    CHECK(st && stray == 0, "%s: the saved weights hold %zu tensors of removed layers", name, stray);
    sbert_st_close(st);
    CHECK_OK(sbert_model_load(saved, NULL, &m));
    double e2 = m ? encode_err(m, sent, n, emb, dim) : INFINITY;
    CHECK(e2 <= 1e-5, "%s: the saved pruned model's embeddings differ by %.2e", name, e2);
    sbert_model_free(m);
    printf("%-11s %zu -> %zu layers: embeddings abs err %.2e, after save + load %.2e\n", name,
           (size_t)cJSON_GetObjectItem(c, "layers_before")->valueint, nk, e1, e2);
}

/* The library's refusals, each naming what is wrong. */
static void bad_lists(const char *dir) {
    sbert_model *m = NULL;
    CHECK_OK(sbert_model_load(dir, NULL, &m));
    if (!m) return;
    static const size_t out_of_range[] = {0, 2}, twice[] = {1, 1}, unsorted[] = {1, 0};
    const struct {
        const size_t *k;
        size_t n;
        const char *want;
    } cases[] = {{out_of_range, 0, "is empty"},
                 {out_of_range, 2, "layer 2 is out of range: the encoder has 2 layers (0..1)"},
                 {twice, 2, "layer 1 is listed twice"},
                 {unsorted, 2, "increasing order"}};
    for (size_t i = 0; i < 4; i++) {
        sbert_status st = sbert_model_keep_layers(m, cases[i].k, cases[i].n);
        CHECK(st == SBERT_ERR_INVALID_ARG && strstr(sbert_last_error(), cases[i].want), "bad list %zu refused: %s", i,
              sbert_last_error());
    }
    CHECK(sbert_model_num_layers(m) == 2, "a refused list leaves the model whole");
    sbert_model_free(m);
}

/* sbert_train with layers_to_keep: refusals naming the key, and a 1-step run that saves a pruned model. */
static void recipe_runs(const char *dir) {
    char kv[4][1200], out[256];
    snprintf(out, sizeof out, "%s/run", g_tmp);
    snprintf(kv[0], sizeof kv[0], "model=%s", dir);
    snprintf(kv[1], sizeof kv[1], "train_data=%s", test_path("data/stsb-train.jsonl"));
    snprintf(kv[2], sizeof kv[2], "eval_data=%s", test_path("data/stsb-dev.jsonl"));
    snprintf(kv[3], sizeof kv[3], "output_dir=%s", out);
    const struct {
        const char *v, *want;
    } bad[] = {{"layers_to_keep=[0, 2]", "layers_to_keep: layer 2 is out of range"},
               {"layers_to_keep=[]", "layers_to_keep is empty"},
               {"layers_to_keep=[1, 1]", "layers_to_keep: layer 1 is listed twice"},
               {"layers_to_keep=[1, 0]", "layers_to_keep: layers must be listed in increasing order"},
               {"layers_to_keep=[0.5]", "'0.5' is not a layer index"},
               {"layers_to_keep=one", "layers_to_keep must be a list of layer indices"},
               {"layers_to_keep=[1]", NULL}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *args[] = {kv[0], kv[1], kv[2], kv[3], bad[i].v, "loss=CoSENTLoss", "max_steps=1",
                              "max_train_samples=16", "max_eval_samples=20", "run_name=test-prune",
                              "save_strategy=no", "num_threads=2"};
        sbert_train_summary sum;
        sbert_status st = sbert_train(NULL, args, sizeof args / sizeof args[0], g_tmp, &sum);
        if (bad[i].want) {
            CHECK(st != SBERT_OK && strstr(sbert_last_error(), bad[i].want), "%s refused: %s", bad[i].v,
                  sbert_last_error());
            continue;
        }
        CHECK(st == SBERT_OK, "a 1-step run with %s: %s", bad[i].v, st == SBERT_OK ? "" : sbert_last_error());
        char p[512];
        snprintf(p, sizeof p, "%s/final/config.json", out);
        char *txt = test_read_file(p, NULL);
        CHECK(txt && strstr(txt, "\"num_hidden_layers\":\t1"), "the trained student saves num_hidden_layers 1: %s",
              txt ? txt : "(no config.json)");
        free(txt);
        sbert_model *m = NULL;
        snprintf(p, sizeof p, "%s/final", out);
        CHECK_OK(sbert_model_load(p, NULL, &m));
        CHECK(m && sbert_model_num_layers(m) == 1, "the saved student has 1 layer");
        sbert_model_free(m);
    }
}

/* `sbert prune`: usage errors (exit 2), a bad index (exit 1 naming --layers), and a pruned copy. */
static void cli(const char *dir) {
    const char *bin = getenv("SBERT_BIN");
    if (!bin || access(bin, X_OK) != 0) {
        CHECK(0, "SBERT_BIN (the sbert binary) is not set or not executable: %s", bin ? bin : "(unset)");
        return;
    }
    const struct {
        const char *layers;
        int rc;
        const char *want;
    } cases[] = {{"0,x", 2, "--layers: '0,x' is not a list"},
                 {"[]", 2, "--layers is empty"},
                 {"0,5", 1, "layer 5 is out of range"},
                 {"1", 0, NULL}};
    for (size_t i = 0; i < 4; i++) {
        char cmd[3000], errp[300];
        snprintf(errp, sizeof errp, "%s/cli.err", g_tmp);
        snprintf(cmd, sizeof cmd, "'%s' prune --model '%s' --layers '%s' --output '%s/cli-out' 2>'%s'", bin, dir,
                 cases[i].layers, g_tmp, errp);
        int rc = system(cmd);
        rc = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
        char *err = test_read_file(errp, NULL);
        CHECK(rc == cases[i].rc && (!cases[i].want || (err && strstr(err, cases[i].want))),
              "sbert prune --layers %s: exit %d (want %d): %s", cases[i].layers, rc, cases[i].rc, err ? err : "");
        free(err);
    }
    char p[512];
    snprintf(p, sizeof p, "%s/cli-out", g_tmp);
    sbert_model *m = NULL;
    CHECK_OK(sbert_model_load(p, NULL, &m));
    CHECK(m && sbert_model_num_layers(m) == 1, "sbert prune wrote a 1-layer model");
    sbert_model_free(m);
}

int main(void) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/sbert_prune_XXXXXX");
    if (!mkdtemp(g_tmp)) return 1;
    char refp[1024];
    snprintf(refp, sizeof refp, "%s", test_path("tests/data/prune/refs.json"));
    if (!TEST_REQUIRE_FILE(refp, "run tools/gen_prune_refs.py")) return test_summary();
    cJSON *ref = NULL;
    (void)sbert_json_load(refp, &ref); /* ref stays NULL on failure */
    CHECK(ref != NULL, "refs.json parses");
    if (!ref) return test_summary();
    const cJSON *sj = cJSON_GetObjectItem(ref, "sentences");
    size_t n = (size_t)cJSON_GetArraySize(sj);
    const char *sent[64];
    for (size_t i = 0; i < n && i < 64; i++) sent[i] = cJSON_GetArrayItem(sj, (int)i)->valuestring;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(ref, "cases")) run_case(c, sent, n);
    char bert[256];
    snprintf(bert, sizeof bert, "%s/bert-src", g_tmp); /* the tiny BERT assembled by its case */
    bad_lists(bert);
    recipe_runs(bert);
    cli(bert);
    cJSON_Delete(ref);
    test_rm_tree(g_tmp);
    return test_summary();
}
