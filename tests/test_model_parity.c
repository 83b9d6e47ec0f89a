/*
 * tests/test_model_parity.c -- SentenceTransformer encode() against Python
 * sentence-transformers, case by case (tests/data/st_models/cases.json, made
 * by tools/gen_model_refs.py).
 *
 * Each case is a module stack (every Pooling mode, concatenations,
 * include_prompt=false with a prompt, Dense Tanh/Identity, Normalize,
 * prompts, truncate_dim, legacy and v6 config names, a plain Hugging Face
 * directory, a directory written by sentence-transformers v6's own save())
 * on a tiny random model of each family (bert, roberta,
 * xlm-roberta, distilbert, mpnet) or on the real all-MiniLM-L6-v2. The
 * model directory is assembled in a temp dir exactly as the generator did:
 * symlinks to the base model's Hugging Face files plus a copy of the case's
 * committed module configs. The 206 texts of sentences.txt (200 STS-B
 * sentences, 4 long XQuAD paragraphs, "" and "   ") are encoded with
 * the case's options and compared with Python's embeddings (expected.f32).
 *
 * Target: max |delta| per component within the case's tolerance (case_tol():
 * 1e-6 for the real all-MiniLM-L6-v2 as published, the README's parity claim).
 * The max |delta| of every case is printed. Loading-side facts (dim, max_seq_length, similarity function,
 * prompts, truncate_dim) are compared with what Python reported.
 *
 * SBERT_PARITY_CASE=<name> runs one case only.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "models/model.h"
#include "test_util.h"

/* Tolerances, max |delta| per component, from what was measured (x86-64,
 * OpenBLAS, 1-2 threads) with a margin of 2-3x:
 *  - "minilm": the real all-MiniLM-L6-v2 as published (mean pooling +
 *    Normalize): measured 3.2e-7. The README claims ~3e-7; 1e-6 is the bound
 *    the project stands by. A LayerNorm eps of 1e-5 instead of 1e-12 in one
 *    LayerNorm per layer moves it by 5.8e-6, eps 1e-7 in all of them by
 *    1.07e-6: both fail here (at the old 1e-5 both passed).
 *  - other MiniLM cases (a random Dense 384->16 on top, then Normalize: a
 *    16-component unit vector magnifies round-off): measured 1.3e-6.
 *  - tiny random models (weights of std 0.2, so activations and round-off are
 *    larger than in a trained model): measured <= 2.4e-6 (mpnet-max-dense-tanh). */
#define TOL_MINILM 1e-6
#define TOL_MINILM_DENSE 3e-6
#define TOL_TINY 5e-6

static double case_tol(const char *name, const char *base) {
    if (strcmp(name, "minilm") == 0) return TOL_MINILM;
    if (strncmp(base, "minilm", 6) == 0) return TOL_MINILM_DENSE;
    return TOL_TINY;
}

/* snprintf(dst, cap, "%s/%s", a, b), failing the test on truncation. */
static void pjoin(char *dst, size_t cap, const char *a, const char *b) {
    int r = snprintf(dst, cap, "%s/%s", a, b);
    CHECK(r >= 0 && (size_t)r < cap, "path too long: %s/%s", a, b);
}

static const char *const BASE_FILES[] = {
    "config.json",  "model.safetensors", "tokenizer.json", "tokenizer_config.json",
    "special_tokens_map.json", "vocab.txt", "vocab.json", "merges.txt",
    "sentencepiece.bpe.model"};

static int copy_file(const char *src, const char *dst) {
    size_t len = 0;
    char *data = test_read_file(src, &len);
    if (!data) return -1;
    FILE *f = fopen(dst, "wb");
    int rc = f && fwrite(data, 1, len, f) == len ? 0 : -1;
    if (f) fclose(f);
    free(data);
    return rc;
}

/* Copy src into dst recursively, skipping the case's own files. */
static int copy_tree(const char *src, const char *dst, int top) {
    DIR *d = opendir(src);
    if (!d) return -1;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if (top && (strcmp(e->d_name, "case.json") == 0 || strcmp(e->d_name, "expected.f32") == 0))
            continue;
        char s[4096], t[4096];
        pjoin(s, sizeof s, src, e->d_name);
        pjoin(t, sizeof t, dst, e->d_name);
        struct stat stt;
        if (stat(s, &stt) != 0) {
            rc = -1;
        } else if (S_ISDIR(stt.st_mode)) {
            if (mkdir(t, 0755) != 0 && errno != EEXIST) rc = -1;
            if (rc == 0) rc = copy_tree(s, t, 0);
        } else {
            unlink(t); /* may be a symlink to a base file */
            rc = copy_file(s, t);
        }
    }
    closedir(d);
    return rc;
}

static void remove_tree(const char *path) {
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            char p[4096];
            pjoin(p, sizeof p, path, e->d_name);
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
                remove_tree(p);
            else
                unlink(p);
        }
        closedir(d);
    }
    rmdir(path);
}

/* Build the model directory of a case under tmp; returns 0 on success. */
static int assemble(const char *case_name, const char *base, const char *tmp, char *out,
                    size_t cap) {
    if (strcmp(base, "minilm-inplace") == 0) {
        snprintf(out, cap, "%s", test_path("models/all-MiniLM-L6-v2"));
        return 0;
    }
    char src[4096];
    if (strcmp(base, "minilm") == 0)
        snprintf(src, sizeof src, "%s", test_path("models/all-MiniLM-L6-v2"));
    else
        pjoin(src, sizeof src, test_path("tests/data/models"), base);
    pjoin(out, cap, tmp, case_name);
    if (mkdir(out, 0755) != 0) return -1;
    for (size_t i = 0; i < sizeof BASE_FILES / sizeof BASE_FILES[0]; i++) {
        char s[4096], t[4096];
        pjoin(s, sizeof s, src, BASE_FILES[i]);
        pjoin(t, sizeof t, out, BASE_FILES[i]);
        if (access(s, F_OK) == 0 && symlink(s, t) != 0) return -1;
    }
    char cdir[4096];
    pjoin(cdir, sizeof cdir, test_path("tests/data/st_models"), case_name);
    return copy_tree(cdir, out, 1);
}

/* sentences.txt -> array of lines. */
static char **read_lines(const char *path, size_t *n) {
    size_t len = 0;
    char *txt = test_read_file(path, &len);
    *n = 0;
    if (!txt) return NULL;
    size_t cap = 256;
    char **v = malloc(cap * sizeof *v);
    char *p = txt;
    while (*p) {
        char *e = strchr(p, '\n');
        if (e) *e = '\0';
        if (*n == cap) v = realloc(v, (cap *= 2) * sizeof *v);
        v[(*n)++] = strdup(p);
        if (!e) break;
        p = e + 1;
    }
    free(txt);
    return v;
}

static const char *jstr(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItem(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static size_t g_progress_calls, g_progress_last;
static void progress(size_t done, size_t total, void *user) {
    (void)user;
    g_progress_calls++;
    if (done <= total) g_progress_last = done;
}

static void run_case(const cJSON *c, char **texts, size_t n_texts, const char *tmp) {
    const char *name = jstr(c, "name"), *base = jstr(c, "base");
    size_t n = (size_t)cJSON_GetObjectItem(c, "n")->valuedouble;
    size_t dim = (size_t)cJSON_GetObjectItem(c, "dim")->valuedouble;
    CHECK(n == n_texts, "%s: %zu texts in the reference, %zu in sentences.txt", name, n, n_texts);
    if (n != n_texts) return;

    if (strncmp(base, "minilm", 6) == 0 &&
        !TEST_REQUIRE_FILE(test_path("models/all-MiniLM-L6-v2/model.safetensors"), TEST_FETCH_MODELS))
        return;
    const double tol = case_tol(name, base);
    char dir[4096];
    int rc = assemble(name, base, tmp, dir, sizeof dir);
    CHECK(rc == 0, "%s: cannot assemble the model directory in %s", name, tmp);
    if (rc != 0) return;

    sbert_model *m = NULL;
    CHECK_OK(sbert_model_load(dir, NULL, &m));
    if (!m) return;

    const cJSON *eo = cJSON_GetObjectItem(c, "encode");
    sbert_encode_options opt = sbert_encode_options_default();
    opt.batch_size = (size_t)cJSON_GetObjectItem(eo, "batch_size")->valuedouble;
    opt.normalize = cJSON_IsTrue(cJSON_GetObjectItem(eo, "normalize"));
    opt.prompt_name = jstr(eo, "prompt_name");
    opt.prompt = jstr(eo, "prompt");
    const cJSON *td = cJSON_GetObjectItem(eo, "truncate_dim");
    if (cJSON_IsNumber(td)) opt.truncate_dim = (size_t)td->valuedouble;
    opt.progress = progress;
    g_progress_calls = g_progress_last = 0;

    /* What Python reported about the loaded model. */
    CHECK(sbert_model_encode_dim(m, &opt) == dim, "%s: encode dim %zu, Python %zu", name,
          sbert_model_encode_dim(m, &opt), dim);
    size_t msl = (size_t)cJSON_GetObjectItem(c, "max_seq_length")->valuedouble;
    CHECK(sbert_model_max_seq_length(m) == msl, "%s: max_seq_length %zu, Python %zu", name,
          sbert_model_max_seq_length(m), msl);
    CHECK(strcmp(sbert_model_similarity_fn_name(m), jstr(c, "similarity_fn_name")) == 0,
          "%s: similarity %s, Python %s", name, sbert_model_similarity_fn_name(m),
          jstr(c, "similarity_fn_name"));
    const cJSON *mtd = cJSON_GetObjectItem(c, "truncate_dim");
    CHECK(sbert_model_truncate_dim(m) == (cJSON_IsNumber(mtd) ? (size_t)mtd->valuedouble : 0),
          "%s: model truncate_dim %zu", name, sbert_model_truncate_dim(m));
    const char *dpn = jstr(c, "default_prompt_name");
    const char *mdpn = sbert_model_default_prompt_name(m);
    CHECK((dpn == NULL && mdpn == NULL) || (dpn && mdpn && strcmp(dpn, mdpn) == 0),
          "%s: default_prompt_name %s, Python %s", name, mdpn ? mdpn : "null", dpn ? dpn : "null");
    const cJSON *pr;
    cJSON_ArrayForEach(pr, cJSON_GetObjectItem(c, "prompts")) {
        const char *mine = sbert_model_prompt(m, pr->string);
        CHECK(mine && strcmp(mine, pr->valuestring) == 0, "%s: prompt %s = '%s', Python '%s'",
              name, pr->string, mine ? mine : "(none)", pr->valuestring);
    }

    float *out = malloc(n * dim * sizeof *out);
    CHECK_OK(sbert_model_encode(m, (const char *const *)texts, n, &opt, out));
    CHECK(g_progress_last == n && g_progress_calls == (n + opt.batch_size - 1) / opt.batch_size,
          "%s: progress called %zu times, last done=%zu", name, g_progress_calls,
          g_progress_last);

    char rel[512];
    snprintf(rel, sizeof rel, "tests/data/st_models/%s/expected.f32", name);
    size_t len = 0;
    float *exp = (float *)test_read_file(test_path(rel), &len);
    CHECK(exp && len == n * dim * sizeof(float), "%s: %s has %zu bytes, want %zu", name, rel, len,
          n * dim * sizeof(float));
    if (exp && len == n * dim * sizeof(float)) {
        double maxd = 0;
        size_t worst = 0;
        for (size_t i = 0; i < n * dim; i++) {
            double d = fabs((double)exp[i] - out[i]);
            if (!(d <= maxd)) { /* also catches NaN */
                maxd = isnan(d) ? INFINITY : d;
                worst = i;
            }
        }
        printf("%-34s dim %4zu  max|delta| %.3g (tolerance %.0e)%s\n", name, dim, maxd, tol,
               maxd <= tol ? "" : "  <-- FAIL");
        CHECK(maxd <= tol,
              "%s: max |delta| %.3g > %.0e at text %zu component %zu (C %.8g, Python %.8g)", name,
              maxd, tol, worst / dim, worst % dim, out[worst], exp[worst]);
    }
    free(exp);
    free(out);
    sbert_model_free(m);
}

int main(void) {
    size_t n_texts = 0;
    char **texts = read_lines(test_path("tests/data/st_models/sentences.txt"), &n_texts);
    CHECK(texts && n_texts >= 200, "sentences.txt: %zu texts", n_texts);
    size_t len = 0;
    char *txt = test_read_file(test_path("tests/data/st_models/cases.json"), &len);
    cJSON *cases = txt ? cJSON_ParseWithLength(txt, len) : NULL;
    free(txt);
    CHECK(cJSON_IsArray(cases), "tests/data/st_models/cases.json readable");

    char tmp[] = "/tmp/sbert_parity_XXXXXX";
    CHECK(mkdtemp(tmp) != NULL, "mkdtemp");
    const char *only = getenv("SBERT_PARITY_CASE");
    int ran = 0;
    const cJSON *c;
    if (texts && cases) {
        cJSON_ArrayForEach(c, cases) {
            if (only && *only && strcmp(only, jstr(c, "name")) != 0) continue;
            run_case(c, texts, n_texts, tmp);
            ran++;
        }
    }
    if (only && *only)
        CHECK(ran == 1, "SBERT_PARITY_CASE=%s: no such case in cases.json", only);
    else
        CHECK(ran >= 52, "ran %d cases", ran);
    remove_tree(tmp);
    cJSON_Delete(cases);
    for (size_t i = 0; i < n_texts; i++) free(texts[i]);
    free(texts);
    return test_summary();
}
