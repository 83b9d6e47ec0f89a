/*
 * tests/test_cli.c -- the `sbert` command-line tool, run as a user would.
 *
 * The binary ($SBERT_BIN, set by CTest) is run through the shell with its
 * stdout/stderr captured to files in a private temp directory. Its results
 * are compared with what the library itself returns in this process for the
 * same inputs and options:
 *
 *   encode      .npy read back by python3 + numpy (format, dtype, shape) and
 *               by this test (bytes) must equal sbert_model_encode bit for bit;
 *               .jsonl / stdout parsed back (%.9g round-trips float32, so also
 *               bit-identical); --normalize, --prompt, --truncate-dim, stdin.
 *   tokenize    JSON lines parsed with cJSON must equal sbert_tokenizer_encode
 *               (--model: max_seq_length truncation; --tokenizer: the file's
 *               own settings; --pair; --no-special-tokens; --max-length).
 *   similarity  the printed matrix must equal sbert_similarity on the
 *               library's embeddings to the printed precision (%.6f).
 *   evaluate    the printed JSON must equal sbert_evaluate (40 STS-B rows of
 *               data/stsb-test.jsonl) exactly, primary metric first.
 *   train       a small StaticEmbedding recipe run must end with the VERDICT
 *               line and save the same final/model.safetensors, byte for
 *               byte, as sbert_train with the same arguments.
 *   failures    missing input, an empty model directory, a model without
 *               tokenizer.json, a truncated model.safetensors, unknown
 *               options/commands, bad numbers, missing values, --pair with a
 *               different line count, invalid UTF-8 (named by file and line,
 *               also past the first 4,096-line chunk), a NUL byte, a write
 *               failing mid-way (ulimit -f, /dev/full: the reason is
 *               printed): each must
 *               exit 1 or 2 (not crash), print "sbert: error:" naming the
 *               culprit, and leave the output file absent or untouched.
 *
 * Models: models/all-MiniLM-L6-v2 (tools/fetch_models.sh; `make test` fetches
 * it) and the tiny random models of tests/data/models (tiny-bert, -distilbert,
 * -mpnet, -roberta, -xlm-roberta: plain HF directories); a missing one is a
 * failure.
 */
#include <dirent.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "test_util.h"

/* A string for messages, never NULL. */
#define STR(x) ((x) ? (x) : "(none)")

static const char *g_bin;
static char g_tmp[64];
static const char *g_minilm;

/* Real sentences (STS-B test split), plus edge cases: an empty line, a
 * "\r\n" line end, non-ASCII text, and a text longer than 256 tokens. */
static const char *k_sentences[] = {
    "A girl is styling her hair.",
    "A woman is playing an electric guitar.",
    "Green and white bird perched on tree branch.",
    "Two boys playing a game of flag football.",
    "A girl is talking to her dad on a cellphone.",
    "It very much depends on the grant in question.",
    "",
    "Ein Mann spielt Gitarre \xc3\xbc\x62\x65r der Br\xc3\xbc\x63ke \xe2\x80\x94 caf\xc3\xa9 na\xc3\xaf\x76\x65 "
    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
    "  leading and trailing spaces are kept  ",
    NULL, /* filled with a long text at start-up */
};
#define N_SENT (sizeof k_sentences / sizeof k_sentences[0])
static char g_long[4096];

/* ---------------------------------------------------------------- helpers */

static const char *tmp_path(const char *name) {
    static char buf[8][512];
    static int slot = 0;
    char *b = buf[slot++ & 7];
    snprintf(b, sizeof buf[0], "%s/%s", g_tmp, name);
    return b;
}

/* dst[512] = g_tmp/name, for paths kept across calls. */
static void tpath(char *dst, const char *name) {
    snprintf(dst, 512, "%s/%s", g_tmp, name);
}

static int write_file(const char *path, const char *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, len, f);
    fclose(f);
    return w == len ? 0 : -1;
}

/* Write the sentences, one per line; line 2 ends in "\r\n", the last has no "\n". */
static void write_sentences(const char *path) {
    FILE *f = fopen(path, "wb");
    for (size_t i = 0; i < N_SENT; i++)
        fprintf(f, "%s%s", k_sentences[i], i == 1 ? "\r\n" : (i + 1 < N_SENT ? "\n" : ""));
    fclose(f);
}

/* Run `sbert ARGS` (a shell fragment) with stdout/stderr captured. Returns the
 * exit code, or 128+signal if it crashed. *out / *err are malloc'd (may be NULL). */
static int run_cli(const char *args, char **out, char **err) {
    char cmd[8192], so[512], se[512];
    tpath(so, "stdout");
    tpath(se, "stderr");
    snprintf(cmd, sizeof cmd, "'%s' %s >'%s' 2>'%s'", g_bin, args, so, se);
    int st = system(cmd);
    int rc = st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    char *o = test_read_file(so, NULL);
    char *e = test_read_file(se, NULL);
    if (out)
        *out = o;
    else
        free(o);
    if (err)
        *err = e;
    else
        free(e);
    return rc;
}

static int file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* No ".NAME.tmp-XXXXXX" left behind by an aborted atomic write in `dir`. */
static int count_temp_files(const char *dir) {
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strstr(e->d_name, ".tmp-") != NULL;
    closedir(d);
    return n;
}

/* Parse a .npy float32 [rows, cols] file written by sbert (header + data). */
static float *read_npy(const char *path, size_t *rows, size_t *cols) {
    size_t len = 0;
    char *buf = test_read_file(path, &len);
    if (!buf || len < 10 || memcmp(buf, "\x93NUMPY\x01\x00", 8) != 0) {
        free(buf);
        return NULL;
    }
    size_t hlen = (unsigned char)buf[8] | ((size_t)(unsigned char)buf[9] << 8);
    const char *shape = strstr(buf + 10, "'shape': (");
    if (10 + hlen > len || !shape || !strstr(buf + 10, "'descr': '<f4'") ||
        sscanf(shape, "'shape': (%zu, %zu)", rows, cols) != 2 ||
        len - 10 - hlen != *rows * *cols * 4) {
        free(buf);
        return NULL;
    }
    float *v = malloc(*rows * *cols * sizeof *v + 1);
    memcpy(v, buf + 10 + hlen, *rows * *cols * 4);
    free(buf);
    return v;
}

/* Parse JSON lines of float arrays ("[a,b,...]" per line) into [rows, cols].
 * Numbers are read with strtof, so "%.9g" text gives back the exact float32. */
static float *parse_jsonl(const char *text, size_t *rows, size_t *cols) {
    *rows = *cols = 0;
    size_t cap = 0, n = 0;
    float *v = NULL;
    const char *p = text;
    while (*p) {
        if (*p++ != '[')
            goto bad;
        size_t k = 0;
        for (;;) {
            char *end;
            float x = strtof(p, &end);
            if (end == p)
                goto bad;
            if (n == cap) {
                cap = cap ? cap * 2 : 1024;
                v = realloc(v, cap * sizeof *v);
            }
            v[n++] = x;
            k++;
            p = end;
            if (*p == ',') {
                p++;
                continue;
            }
            if (*p == ']')
                break;
            goto bad;
        }
        if (p[1] != '\n')
            goto bad;
        p += 2;
        if (*rows == 0)
            *cols = k;
        if (k != *cols)
            goto bad;
        (*rows)++;
    }
    return v ? v : malloc(1);
bad:
    free(v);
    return NULL;
}

static int python_has_numpy(void) {
    return system("python3 -c 'import numpy' >/dev/null 2>&1") == 0;
}

/* ---------------------------------------------------------------- general */

static void test_help_version(void) {
    char *out = NULL, *err = NULL;
    int rc = run_cli("--version", &out, NULL);
    char want[64];
    snprintf(want, sizeof want, "sbert %s\n", sbert_version());
    CHECK(rc == 0 && out && strcmp(out, want) == 0, "--version: rc %d, '%s'", rc, STR(out));
    free(out);

    rc = run_cli("--help", &out, NULL);
    CHECK(rc == 0 && out && strstr(out, "encode") && strstr(out, "tokenize") &&
              strstr(out, "similarity"),
          "--help lists the commands (rc %d)", rc);
    free(out);

    static const char *encode_opts[] = {"--model", "--input", "--output", "--batch-size",
                                        "--normalize", "--prompt-name", "--prompt ",
                                        "--truncate-dim", "--threads", "--help"};
    rc = run_cli("encode --help", &out, NULL);
    CHECK(rc == 0 && out, "encode --help rc %d", rc);
    for (size_t i = 0; out && i < sizeof encode_opts / sizeof *encode_opts; i++)
        CHECK(strstr(out, encode_opts[i]) != NULL, "encode --help describes %s", encode_opts[i]);
    free(out);

    static const char *tok_opts[] = {"--model", "--tokenizer", "--input", "--pair",
                                     "--max-length", "--no-special-tokens"};
    rc = run_cli("tokenize --help", &out, NULL);
    CHECK(rc == 0 && out, "tokenize --help rc %d", rc);
    for (size_t i = 0; out && i < sizeof tok_opts / sizeof *tok_opts; i++)
        CHECK(strstr(out, tok_opts[i]) != NULL, "tokenize --help describes %s", tok_opts[i]);
    free(out);

    rc = run_cli("similarity --help", &out, NULL);
    CHECK(rc == 0 && out && strstr(out, "--input2") && strstr(out, "--model"),
          "similarity --help rc %d", rc);
    free(out);

    /* usage errors: exit 2 with a suggestion */
    rc = run_cli("encdoe --model x", NULL, &err);
    CHECK(rc == 2 && err && strstr(err, "sbert: error:") && strstr(err, "'encode'"),
          "unknown command suggests encode: rc %d, %s", rc, STR(err));
    free(err);
    rc = run_cli("", NULL, &err);
    CHECK(rc == 2, "no command: rc %d", rc);
    free(err);
}

/* ----------------------------------------------------------------- encode */

/* `real`: a trained model, whose scores must rank paraphrases first. */
static void test_encode(const char *model_dir, const char *tag, int real) {
    char args[4096];
    char *out = NULL, *err = NULL;
    char in[512];
    tpath(in, "sentences.txt");
    write_sentences(in);

    sbert_load_options lo = {.num_threads = 2};
    sbert_model *model = NULL;
    CHECK_OK(sbert_model_load(model_dir, &lo, &model));
    if (!model)
        return;

    /* .npy, batch 4, compared with the library bit for bit */
    sbert_encode_options eo = sbert_encode_options_default();
    eo.batch_size = 4;
    size_t dim = sbert_model_encode_dim(model, &eo);
    float *ref = malloc(N_SENT * dim * sizeof *ref);
    CHECK_OK(sbert_model_encode(model, k_sentences, N_SENT, &eo, ref));

    char npy[512];
    tpath(npy, "emb.npy");
    snprintf(args, sizeof args, "encode --model '%s' --input '%s' --output '%s' --batch-size 4 "
             "--threads 2", model_dir, in, npy);
    int rc = run_cli(args, NULL, &err);
    CHECK(rc == 0, "[%s] encode .npy: rc %d: %s", tag, rc, STR(err));
    free(err);
    size_t rows = 0, cols = 0;
    float *got = read_npy(npy, &rows, &cols);
    CHECK(got && rows == N_SENT && cols == dim, "[%s] npy shape [%zu, %zu], want [%zu, %zu]", tag,
          rows, cols, (size_t)N_SENT, dim);
    if (got && rows == N_SENT && cols == dim)
        CHECK(memcmp(got, ref, N_SENT * dim * sizeof(float)) == 0,
              "[%s] npy equals sbert_model_encode bit for bit", tag);
    free(got);

    /* numpy reads the file as float32 [n, dim] equal to the library's output */
    char raw[512];
    tpath(raw, "ref.f32");
    write_file(raw, (const char *)ref, N_SENT * dim * sizeof(float));
    if (python_has_numpy()) {
        char py[4096];
        snprintf(py, sizeof py,
                 "python3 -c \"import numpy as np, sys; a = np.load('%s'); "
                 "b = np.fromfile('%s', dtype='<f4').reshape(%zu, %zu); "
                 "sys.exit(0 if a.dtype == np.float32 and a.shape == b.shape and "
                 "np.array_equal(a, b) else 1)\"",
                 npy, raw, (size_t)N_SENT, dim);
        CHECK(system(py) == 0, "[%s] numpy.load(out.npy) equals the library output", tag);
    } else {
        CHECK(0, "python3 with numpy is needed to check the .npy output (make deps)");
    }

    /* .jsonl with --normalize */
    sbert_encode_options en = eo;
    en.normalize = 1;
    float *ref_n = malloc(N_SENT * dim * sizeof *ref_n);
    CHECK_OK(sbert_model_encode(model, k_sentences, N_SENT, &en, ref_n));
    char jl[512];
    tpath(jl, "emb.jsonl");
    snprintf(args, sizeof args, "encode --model '%s' --input '%s' --output '%s' --batch-size=4 "
             "--normalize --threads 2", model_dir, in, jl);
    rc = run_cli(args, NULL, &err);
    CHECK(rc == 0, "[%s] encode .jsonl: rc %d: %s", tag, rc, STR(err));
    free(err);
    char *text = test_read_file(jl, NULL);
    got = text ? parse_jsonl(text, &rows, &cols) : NULL;
    CHECK(got && rows == N_SENT && cols == dim, "[%s] jsonl parsed [%zu, %zu]", tag, rows, cols);
    if (got && rows == N_SENT && cols == dim) {
        double maxd = 0, norm = 0;
        for (size_t i = 0; i < N_SENT * dim; i++) {
            double d = fabs((double)got[i] - (double)ref_n[i]);
            maxd = d > maxd ? d : maxd;
        }
        for (size_t j = 0; j < dim; j++)
            norm += (double)got[j] * got[j];
        CHECK(maxd == 0, "[%s] jsonl equals the library (--normalize): max |d| %g", tag, maxd);
        CHECK_NEAR(sqrt(norm), 1.0, 1e-5, "[%s] --normalize gives unit norm (%g)", tag,
                   sqrt(norm));
    }
    free(got);
    free(text);

    /* stdin in, JSON lines on stdout, with a literal prompt */
    sbert_encode_options ep = eo;
    ep.prompt = "query: ";
    float *ref_p = malloc(N_SENT * dim * sizeof *ref_p);
    CHECK_OK(sbert_model_encode(model, k_sentences, N_SENT, &ep, ref_p));
    snprintf(args, sizeof args, "encode --model '%s' --input - --output - --batch-size 4 "
             "--prompt 'query: ' --threads 2 <'%s'", model_dir, in);
    rc = run_cli(args, &out, &err);
    CHECK(rc == 0, "[%s] encode stdin->stdout: rc %d: %s", tag, rc, STR(err));
    got = out ? parse_jsonl(out, &rows, &cols) : NULL;
    CHECK(got && rows == N_SENT && cols == dim, "[%s] stdout jsonl [%zu, %zu]", tag, rows, cols);
    if (got && rows == N_SENT && cols == dim) {
        CHECK(memcmp(got, ref_p, N_SENT * dim * sizeof(float)) == 0,
              "[%s] --prompt output equals the library's", tag);
        CHECK(memcmp(got, ref, N_SENT * dim * sizeof(float)) != 0,
              "[%s] --prompt changes the embeddings", tag);
    }
    free(got);
    free(out);
    free(err);

    /* --truncate-dim (half the dimension, at most 32) */
    const size_t td = dim >= 64 ? 32 : dim / 2;
    sbert_encode_options et = eo;
    et.truncate_dim = td;
    size_t tdim = sbert_model_encode_dim(model, &et);
    CHECK(tdim == td, "[%s] encode_dim with truncate_dim %zu = %zu", tag, td, tdim);
    float *ref_t = malloc(N_SENT * td * sizeof *ref_t);
    CHECK_OK(sbert_model_encode(model, k_sentences, N_SENT, &et, ref_t));
    char npy_t[512];
    tpath(npy_t, "emb_truncated.npy");
    snprintf(args, sizeof args, "encode --model '%s' --input '%s' --output '%s' --batch-size 4 "
             "--truncate-dim %zu --threads 2", model_dir, in, npy_t, td);
    rc = run_cli(args, NULL, &err);
    CHECK(rc == 0, "[%s] encode --truncate-dim: rc %d: %s", tag, rc, STR(err));
    free(err);
    got = read_npy(npy_t, &rows, &cols);
    CHECK(got && rows == N_SENT && cols == td, "[%s] truncated npy [%zu, %zu]", tag, rows, cols);
    if (got && rows == N_SENT && cols == td)
        CHECK(memcmp(got, ref_t, N_SENT * td * sizeof(float)) == 0,
              "[%s] --truncate-dim output equals the library's", tag);
    free(got);

    /* similarity: the printed matrix against sbert_similarity */
    char b_in[512];
    tpath(b_in, "b.txt");
    static const char *b_texts[] = {"A girl is brushing her hair.",
                                    "A man is playing an acoustic guitar.",
                                    "Two boys are playing flag football."};
    const char *b_file = "A girl is brushing her hair.\nA man is playing an acoustic guitar.\n"
                         "Two boys are playing flag football.\n";
    write_file(b_in, b_file, strlen(b_file));
    float *eb = malloc(3 * dim * sizeof *eb);
    float *sim = malloc(N_SENT * 3 * sizeof *sim);
    CHECK_OK(sbert_model_encode(model, b_texts, 3, &eo, eb));
    const char *fn = sbert_model_similarity_fn_name(model);
    CHECK_OK(sbert_similarity(fn ? fn : "cosine", ref, N_SENT, eb, 3, dim, sim));
    snprintf(args, sizeof args, "similarity --model '%s' --input '%s' --input2 '%s' "
             "--batch-size 4 --threads 2", model_dir, in, b_in);
    rc = run_cli(args, &out, &err);
    CHECK(rc == 0, "[%s] similarity: rc %d: %s", tag, rc, STR(err));
    if (rc == 0 && out) {
        const char *p = out;
        size_t nvals = 0, nlines = 0;
        double maxd = 0;
        for (size_t i = 0; i < N_SENT; i++) {
            for (size_t j = 0; j < 3; j++) {
                char *end;
                double v = strtod(p, &end);
                if (end == p)
                    break;
                nvals++;
                double d = fabs(v - sim[i * 3 + j]);
                maxd = d > maxd ? d : maxd;
                p = end;
            }
            if (*p == '\n') {
                nlines++;
                p++;
            }
        }
        CHECK(nvals == N_SENT * 3 && nlines == N_SENT && *p == '\0',
              "[%s] similarity prints %zu x 3 values on %zu lines (got %zu values, %zu lines)",
              tag, (size_t)N_SENT, (size_t)N_SENT, nvals, nlines);
        CHECK(maxd <= 1e-6, "[%s] similarity matrix = sbert_similarity: max |d| %g", tag,
              maxd);
        /* the paraphrase pairs score highest in their column */
        if (real)
            CHECK(sim[0 * 3 + 0] > sim[1 * 3 + 0] && sim[1 * 3 + 1] > sim[0 * 3 + 1] &&
                      sim[3 * 3 + 2] > sim[2 * 3 + 2],
                  "[%s] paraphrases are closest", tag);
    }
    free(out);
    free(err);

    /* similarity --output: .npy [n, 3] float32 and .jsonl rows, the same matrix */
    static const char *const sim_outs[2] = {"sim.npy", "sim.jsonl"};
    for (int k = 0; k < 2; k++) {
        char so[512];
        tpath(so, sim_outs[k]);
        unlink(so);
        snprintf(args, sizeof args, "similarity --model '%s' --input '%s' --input2 '%s' "
                 "--batch-size 4 --threads 2 --output '%s'", model_dir, in, b_in, so);
        rc = run_cli(args, &out, &err);
        CHECK(rc == 0 && out && !*out, "[%s] similarity --output %s: rc %d, nothing printed: %s",
              tag, sim_outs[k], rc, STR(err));
        size_t sr = 0, sc = 0;
        float *v = NULL;
        if (k == 0) {
            v = read_npy(so, &sr, &sc);
        } else {
            char *stext = test_read_file(so, NULL);
            v = stext ? parse_jsonl(stext, &sr, &sc) : NULL;
            free(stext);
        }
        CHECK(v && sr == N_SENT && sc == 3, "[%s] %s holds [%zu, 3], got [%zu, %zu]", tag,
              sim_outs[k], (size_t)N_SENT, sr, sc);
        double maxd = 0;
        for (size_t i = 0; v && sr == N_SENT && sc == 3 && i < N_SENT * 3; i++)
            maxd = fmax(maxd, fabs((double)v[i] - (double)sim[i]));
        CHECK(v && maxd <= 1e-6, "[%s] %s = sbert_similarity: max |d| %g", tag, sim_outs[k], maxd);
        free(v);
        free(out);
        free(err);
        CHECK(count_temp_files(g_tmp) == 0, "[%s] no temporary file left by %s", tag, sim_outs[k]);
    }

    free(eb);
    free(sim);
    free(ref);
    free(ref_n);
    free(ref_p);
    free(ref_t);
    sbert_model_free(model);
}

/* --------------------------------------------------------------- tokenize */

/* Compare one JSON line {"input_ids":[..],"token_type_ids":[..],"attention_mask":[..]}
 * with an encoding. */
static int same_encoding(const char *line, size_t len, const sbert_encoding *e) {
    cJSON *o = cJSON_ParseWithLength(line, len);
    if (!o)
        return 0;
    static const char *keys[3] = {"input_ids", "token_type_ids", "attention_mask"};
    const int32_t *want[3] = {e->input_ids, e->token_type_ids, e->attention_mask};
    int ok = cJSON_GetArraySize(o) == 3;
    for (int k = 0; ok && k < 3; k++) {
        cJSON *a = cJSON_GetObjectItemCaseSensitive(o, keys[k]);
        ok = cJSON_IsArray(a) && (size_t)cJSON_GetArraySize(a) == e->len;
        size_t i = 0;
        cJSON *it;
        cJSON_ArrayForEach(it, a) {
            if (!ok)
                break;
            ok = cJSON_IsNumber(it) && it->valuedouble == (double)want[k][i++];
        }
    }
    cJSON_Delete(o);
    return ok;
}

/* Run `sbert tokenize ARGS` and compare every line with the library encoding
 * of k_sentences (paired with `pairs` when not NULL) under `opt`. */
static void check_tokenize(const char *tag, const char *args, const sbert_tokenizer *tok,
                           const char *const *pairs, const sbert_tokenize_options *opt) {
    char *out = NULL, *err = NULL;
    int rc = run_cli(args, &out, &err);
    CHECK(rc == 0, "[%s] tokenize rc %d: %s", tag, rc, STR(err));
    const char *p = out;
    size_t n = 0, bad = 0, longest = 0;
    while (p && *p && n < N_SENT) {
        const char *nl = strchr(p, '\n');
        size_t ll = nl ? (size_t)(nl - p) : strlen(p);
        sbert_encoding e;
        memset(&e, 0, sizeof e);
        const char *pr = pairs ? pairs[n] : NULL;
        sbert_status st = sbert_tokenizer_encode(tok, k_sentences[n], strlen(k_sentences[n]), pr,
                                                 pr ? strlen(pr) : 0, opt, &e);
        if (st != SBERT_OK || !same_encoding(p, ll, &e)) {
            bad++;
            fprintf(stderr, "  [%s] line %zu differs: %.*s\n", tag, n + 1, (int)(ll > 200 ? 200 : ll),
                    p);
        }
        longest = e.len > longest ? e.len : longest;
        sbert_encoding_free(&e);
        n++;
        p = nl ? nl + 1 : NULL;
    }
    CHECK(n == N_SENT && (!p || !*p), "[%s] %zu lines for %zu inputs", tag, n, (size_t)N_SENT);
    CHECK(bad == 0, "[%s] %zu of %zu lines differ from sbert_tokenizer_encode", tag, bad, n);
    if (opt->max_length > 0)
        CHECK(longest <= (size_t)opt->max_length, "[%s] longest %zu <= max_length %ld", tag,
              longest, opt->max_length);
    free(out);
    free(err);
}

static void test_tokenize(void) {
    char args[4096];
    char in[512];
    tpath(in, "sentences.txt");
    write_sentences(in);
    sbert_load_options lo = {.num_threads = 1};
    sbert_model *model = NULL;
    CHECK_OK(sbert_model_load(g_minilm, &lo, &model));
    if (!model)
        return;
    const sbert_tokenizer *mtok = sbert_model_tokenizer(model);

    /* --model: the model's max_seq_length (256 for MiniLM), longest_first */
    sbert_tokenize_options o = sbert_tokenize_options_default();
    o.max_length = (long)sbert_model_max_seq_length(model);
    CHECK(o.max_length == 256, "MiniLM max_seq_length %ld", o.max_length);
    snprintf(args, sizeof args, "tokenize --model '%s' --input '%s'", g_minilm, in);
    check_tokenize("model", args, mtok, NULL, &o);

    /* --model --max-length 16 --no-special-tokens */
    sbert_tokenize_options o2 = o;
    o2.max_length = 16;
    o2.add_special_tokens = 0;
    snprintf(args, sizeof args, "tokenize --model '%s' --input '%s' --max-length 16 "
             "--no-special-tokens", g_minilm, in);
    check_tokenize("model-16-nospecial", args, mtok, NULL, &o2);

    /* --tokenizer FILE: the file's own truncation (128 for MiniLM's tokenizer.json) */
    char tjson[1024];
    snprintf(tjson, sizeof tjson, "%s/tokenizer.json", g_minilm);
    sbert_tokenizer *tok = NULL;
    CHECK_OK(sbert_tokenizer_load(tjson, &tok));
    if (tok) {
        sbert_tokenize_options d = sbert_tokenize_options_default();
        snprintf(args, sizeof args, "tokenize --tokenizer '%s' --input '%s'", tjson, in);
        check_tokenize("tokenizer", args, tok, NULL, &d);

        /* pairs */
        const char *pairs[N_SENT];
        char pbuf[N_SENT][64];
        FILE *f = fopen(tmp_path("pairs.txt"), "wb");
        for (size_t i = 0; i < N_SENT; i++) {
            snprintf(pbuf[i], sizeof pbuf[i], "The second text number %zu.", i);
            pairs[i] = pbuf[i];
            fprintf(f, "%s\n", pbuf[i]);
        }
        fclose(f);
        snprintf(args, sizeof args, "tokenize --tokenizer '%s' --input '%s' --pair '%s'", tjson,
                 in, tmp_path("pairs.txt"));
        check_tokenize("tokenizer-pair", args, tok, pairs, &d);
        sbert_tokenize_options d2 = d;
        d2.max_length = 20;
        snprintf(args, sizeof args, "tokenize --tokenizer '%s' --input '%s' --pair '%s' "
                 "--max-length=20", tjson, in, tmp_path("pairs.txt"));
        check_tokenize("tokenizer-pair-20", args, tok, pairs, &d2);

        /* --pair with a different number of lines: exit 1, both files and counts named */
        write_file(tmp_path("pairs3.txt"), "a\nb\nc\n", 6);
        char *err = NULL, *out = NULL;
        snprintf(args, sizeof args, "tokenize --tokenizer '%s' --input '%s' --pair '%s'", tjson,
                 in, tmp_path("pairs3.txt"));
        int rc = run_cli(args, &out, &err);
        char cnt[32];
        snprintf(cnt, sizeof cnt, "%zu", (size_t)N_SENT);
        CHECK(rc == 1 && err && strstr(err, "sbert: error:") && strstr(err, "sentences.txt") &&
                  strstr(err, "pairs3.txt") && strstr(err, cnt) && strstr(err, " 3 "),
              "--pair count mismatch: rc %d, %s", rc, STR(err));
        CHECK(out && out[0] == '\0', "nothing printed on a count mismatch");
        free(err);
        free(out);
        sbert_tokenizer_free(tok);
    }
    sbert_model_free(model);
}

/* --------------------------------------------------------------- failures */

/* Run a command that must fail: exit `want_rc`, "sbert: error:" and `needle`
 * on stderr, and `out_path` unchanged (absent, or still holding "keep"). */
static void expect_failure(const char *tag, const char *args, int want_rc, const char *needle,
                           const char *out_path, int out_preexists) {
    if (out_path) {
        unlink(out_path);
        if (out_preexists)
            write_file(out_path, "keep", 4);
    }
    char *err = NULL;
    int rc = run_cli(args, NULL, &err);
    CHECK(rc == want_rc, "[%s] exit %d, want %d (stderr: %s)", tag, rc, want_rc, STR(err));
    CHECK(err && strstr(err, "sbert: error:"), "[%s] message on stderr: %s", tag, STR(err));
    if (needle)
        CHECK(err && strstr(err, needle), "[%s] message names '%s': %s", tag, needle, STR(err));
    if (out_path) {
        if (out_preexists) {
            char *c = test_read_file(out_path, NULL);
            CHECK(c && strcmp(c, "keep") == 0, "[%s] existing output untouched", tag);
            free(c);
        } else {
            CHECK(!file_exists(out_path), "[%s] no output file created", tag);
        }
        CHECK(count_temp_files(g_tmp) == 0, "[%s] no temporary file left behind", tag);
    }
    free(err);
}

/* Make dir/ with links to every file of the model except `skip`. */
static void make_model_copy(const char *dir, const char *skip) {
    mkdir(dir, 0755);
    DIR *d = opendir(g_minilm);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, skip) == 0)
            continue;
        char src[1024], dst[1024];
        snprintf(src, sizeof src, "%s/%s", g_minilm, e->d_name);
        snprintf(dst, sizeof dst, "%s/%s", dir, e->d_name);
        if (symlink(src, dst) != 0)
            fprintf(stderr, "symlink %s failed\n", dst);
    }
    if (d)
        closedir(d);
}

static void test_failures(void) {
    char args[4096];
    char in[512];
    tpath(in, "sentences.txt");
    write_sentences(in);
    char out[512];
    tpath(out, "fail.npy");

    snprintf(args, sizeof args, "encode --model '%s' --input '%s' --output '%s'", g_minilm,
             tmp_path("no-such-file.txt"), out);
    expect_failure("missing input", args, 1, "no-such-file.txt", out, 0);
    expect_failure("missing input, existing output", args, 1, "no-such-file.txt", out, 1);

    char empty[512];
    tpath(empty, "empty-model");
    mkdir(empty, 0755);
    snprintf(args, sizeof args, "encode --model '%s' --input '%s' --output '%s'", empty, in, out);
    expect_failure("empty model dir", args, 1, "empty-model", out, 1);

    char notok[512];
    tpath(notok, "model-no-tokenizer");
    make_model_copy(notok, "tokenizer.json");
    snprintf(args, sizeof args, "encode --model '%s' --input '%s' --output '%s'", notok, in, out);
    expect_failure("no tokenizer.json", args, 1, "tokenizer", out, 0);

    /* a truncated model.safetensors: the first 1 MiB of the real file */
    char trunc[512];
    tpath(trunc, "model-truncated");
    make_model_copy(trunc, "model.safetensors");
    char src[1024], dst[1024];
    snprintf(src, sizeof src, "%s/model.safetensors", g_minilm);
    snprintf(dst, sizeof dst, "%s/model.safetensors", trunc);
    size_t len = 0;
    char *st = test_read_file(src, &len);
    CHECK(st && len > (1u << 20), "read %s", src);
    if (st && len > (1u << 20))
        write_file(dst, st, 1u << 20);
    free(st);
    snprintf(args, sizeof args, "encode --model '%s' --input '%s' --output '%s'", trunc, in, out);
    expect_failure("truncated safetensors", args, 1, "model.safetensors", out, 1);
    expect_failure("truncated safetensors (new output)", args, 1, "model.safetensors", out, 0);
    snprintf(args, sizeof args, "similarity --model '%s' --input '%s' --input2 '%s'", trunc, in,
             in);
    expect_failure("similarity, truncated safetensors", args, 1, "model.safetensors", NULL, 0);

    /* usage errors: exit 2 */
    snprintf(args, sizeof args, "encode --model '%s' --input '%s' --output '%s' --bacth-size 4",
             g_minilm, in, out);
    expect_failure("unknown option", args, 2, "did you mean '--batch-size'", out, 1);
    snprintf(args, sizeof args, "encode --model '%s' --input '%s' --output '%s' --batch-size 0",
             g_minilm, in, out);
    expect_failure("batch size 0", args, 2, "--batch-size", out, 0);
    snprintf(args, sizeof args, "encode --model '%s' --input '%s' --output '%s' --threads 2x",
             g_minilm, in, out);
    expect_failure("bad number", args, 2, "'2x' is not a whole number", out, 0);
    snprintf(args, sizeof args, "encode --model '%s' --input '%s' --output '%s' --batch-size",
             g_minilm, in, out);
    expect_failure("missing value", args, 2, "needs a value", out, 0);
    snprintf(args, sizeof args, "encode --model '%s' --input '%s' --output '%s'", g_minilm, in,
             tmp_path("out.txt"));
    expect_failure("bad output extension", args, 2, ".npy or .jsonl", tmp_path("out.txt"), 0);
    snprintf(args, sizeof args, "encode --input '%s' --output '%s'", in, out);
    expect_failure("no --model", args, 2, "--model", out, 0);
    snprintf(args, sizeof args, "encode --model '%s' --input '%s' --output '%s' --normalize=1",
             g_minilm, in, out);
    expect_failure("flag with a value", args, 2, "--normalize", out, 0);
    snprintf(args, sizeof args, "tokenize --model '%s' --tokenizer x --input '%s'", g_minilm, in);
    expect_failure("--model and --tokenizer", args, 2, "exactly one", NULL, 0);
    snprintf(args, sizeof args, "similarity --model '%s' --input '%s' --input2 '%s' "
             "--similarity cosin", g_minilm, in, in);
    expect_failure("unknown similarity", args, 2, "did you mean 'cosine'", NULL, 0);

    /* bad text: invalid UTF-8 and a NUL byte */
    char bad[512];
    tpath(bad, "bad-utf8.txt");
    write_file(bad, "fine\nbroken \xc3\x28 here\n", 20);
    snprintf(args, sizeof args, "encode --model '%s' --input '%s' --output '%s'", g_minilm, bad,
             out);
    expect_failure("invalid UTF-8", args, 1, "bad-utf8.txt:2: the line is not valid UTF-8 (byte 0xC3 at byte 8", out, 1);
    /* beyond the first 4,096-line encode chunk: the real line is named, not
     * "text 3" of the second chunk */
    {
        char big[512];
        tpath(big, "bad-utf8-4100.txt");
        FILE *f = fopen(big, "wb");
        for (int i = 1; i <= 4105; i++)
            fprintf(f, i == 4100 ? "broken \xed\xa0\x80 surrogate %d\n" : "line %d\n", i);
        fclose(f);
        snprintf(args, sizeof args, "encode --model '%s' --input '%s' --output '%s'", g_minilm, big,
                 out);
        expect_failure("invalid UTF-8 at line 4100", args, 1, "bad-utf8-4100.txt:4100: the line is not valid UTF-8", out, 0);
        snprintf(args, sizeof args, "similarity --model '%s' --input '%s' --input2 '%s'", g_minilm,
                 in, big);
        expect_failure("similarity, invalid UTF-8 at line 4100", args, 1, "bad-utf8-4100.txt:4100:", NULL, 0);
        snprintf(args, sizeof args, "similarity --model '%s' --input - --input2 '%s' < '%s'",
                 g_minilm, in, big);
        expect_failure("similarity, invalid UTF-8 on stdin", args, 1, "<stdin>:4100:", NULL, 0);
        snprintf(args, sizeof args, "tokenize --model '%s' --input '%s'", g_minilm, big);
        expect_failure("tokenize, invalid UTF-8 at line 4100", args, 1, "bad-utf8-4100.txt:4100:", NULL, 0);
    }
    char nul[512];
    tpath(nul, "nul.txt");
    write_file(nul, "fine\nnul \0 byte\n", 16);
    snprintf(args, sizeof args, "encode --model '%s' --input '%s' --output '%s'", g_minilm, nul,
             out);
    expect_failure("NUL byte", args, 1, "nul.txt:2", out, 0);

    /* a write that fails mid-way says why (it said only "cannot write"): a
     * file size limit (ulimit -f, SIGXFSZ ignored) stands in for a full disk,
     * and /dev/full for standard output */
    {
        char big_in[512];
        tpath(big_in, "many.txt");
        FILE *f = fopen(big_in, "wb");
        for (int i = 0; i < 64; i++)
            fprintf(f, "sentence number %d\n", i);
        fclose(f);
        static const char *const outs[2] = {"limited.npy", "limited.jsonl"};
        for (int k = 0; k < 2; k++) {
            char lim[512], so[512], se[512], cmd[4096];
            tpath(lim, outs[k]);
            tpath(so, "stdout");
            tpath(se, "stderr");
            unlink(lim);
            snprintf(cmd, sizeof cmd,
                     "sh -c 'trap \"\" XFSZ; ulimit -f 16; exec \"$0\" \"$@\"' '%s' encode "
                     "--model '%s' --input '%s' --output '%s' >'%s' 2>'%s'",
                     g_bin, g_minilm, big_in, lim, so, se);
            int ws = system(cmd);
            int rc = ws == -1 ? -1 : WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
            char *e = test_read_file(se, NULL);
            CHECK(rc == 1 && e && strstr(e, "sbert: error: cannot write '") &&
                      strstr(e, outs[k]) && strstr(e, "File too large"),
                  "[%s past ulimit -f] exit 1 naming the file and the reason: rc %d, %s", outs[k],
                  rc, STR(e));
            free(e);
            CHECK(!file_exists(lim) && count_temp_files(g_tmp) == 0,
                  "[%s past ulimit -f] no output and no temporary file left", outs[k]);
        }
        if (file_exists("/dev/full")) {
            snprintf(args, sizeof args, "encode --model '%s' --input '%s' --output - >/dev/full",
                     g_minilm, big_in);
            char cmd[8192], se[512];
            tpath(se, "stderr");
            snprintf(cmd, sizeof cmd, "'%s' %s 2>'%s'", g_bin, args, se);
            int ws = system(cmd);
            int rc = ws == -1 ? -1 : WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
            char *e = test_read_file(se, NULL);
            CHECK(rc == 1 && e && strstr(e, "cannot write to standard output: No space left on device"),
                  "[stdout to /dev/full] exit 1 with the reason: rc %d, %s", rc, STR(e));
            free(e);
            snprintf(cmd, sizeof cmd, "'%s' similarity --model '%s' --input '%s' --input2 '%s' "
                     ">/dev/full 2>'%s'", g_bin, g_minilm, big_in, big_in, se);
            ws = system(cmd);
            rc = ws == -1 ? -1 : WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
            e = test_read_file(se, NULL);
            CHECK(rc == 1 && e && strstr(e, "cannot write to standard output: No space left on device"),
                  "[similarity to /dev/full] exit 1 with the reason: rc %d, %s", rc, STR(e));
            free(e);
        }
    }

    /* an empty input gives an empty [0, dim] array */
    write_file(tmp_path("empty.txt"), "", 0);
    snprintf(args, sizeof args, "encode --model '%s' --input '%s' --output '%s'", g_minilm,
             tmp_path("empty.txt"), out);
    char *err = NULL;
    int rc = run_cli(args, NULL, &err);
    CHECK(rc == 0, "empty input: rc %d: %s", rc, STR(err));
    free(err);
    size_t rows = 9, cols = 0;
    float *v = read_npy(out, &rows, &cols);
    CHECK(v && rows == 0 && cols == 384, "empty input gives [0, 384], got [%zu, %zu]", rows, cols);
    free(v);
}

/* ---------------------------------------------------- evaluate and train */

static void test_evaluate(void) {
    /* 40 real STS-B test rows (bundled data/), sbert evaluate vs sbert_evaluate */
    size_t len = 0;
    char *all = test_read_file(test_path("data/stsb-test.jsonl"), &len);
    CHECK(all != NULL, "data/stsb-test.jsonl is readable");
    if (!all)
        return;
    char *p = all;
    for (int i = 0; i < 40 && p; i++) {
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    char data[512];
    tpath(data, "eval40.jsonl");
    write_file(data, all, p ? (size_t)(p - all) : len);
    free(all);

    sbert_load_options lo = {.num_threads = 2};
    sbert_model *model = NULL;
    CHECK_OK(sbert_model_load(g_minilm, &lo, &model));
    if (!model)
        return;
    sbert_eval_summary want;
    memset(&want, 0, sizeof want);
    CHECK_OK(sbert_evaluate(model, "EmbeddingSimilarityEvaluator", data, "sts-test", 32, &want));
    sbert_model_free(model);

    char args[2048];
    char *out = NULL, *err = NULL;
    snprintf(args, sizeof args, "evaluate --model '%s' --data '%s' --name sts-test --threads 2",
             g_minilm, data);
    int rc = run_cli(args, &out, &err);
    CHECK(rc == 0, "evaluate: rc %d: %s", rc, STR(err));
    cJSON *o = out ? cJSON_Parse(out) : NULL;
    CHECK(o && cJSON_IsObject(o), "evaluate prints a JSON object: %s", STR(out));
    if (o && want.n > 0) {
        CHECK((size_t)cJSON_GetArraySize(o) == want.n, "evaluate: %d metrics, want %zu",
              cJSON_GetArraySize(o), want.n);
        CHECK(o->child && strcmp(o->child->string, want.primary) == 0,
              "the primary metric %s comes first", want.primary);
        for (size_t i = 0; i < want.n; i++) {
            cJSON *v = cJSON_GetObjectItemCaseSensitive(o, want.metrics[i].key);
            CHECK(cJSON_IsNumber(v) && v->valuedouble == want.metrics[i].value,
                  "evaluate %s = %.17g (library %.17g)", want.metrics[i].key,
                  v ? v->valuedouble : -99.0, want.metrics[i].value);
        }
        CHECK(strstr(want.primary, "sts-test_") == want.primary, "keys carry the name: %s",
              want.primary);
    }
    cJSON_Delete(o);
    free(out);
    free(err);

    snprintf(args, sizeof args, "evaluate --model '%s' --data '%s'", g_minilm,
             tmp_path("no-such-data.jsonl"));
    expect_failure("evaluate, missing data", args, 1, "no-such-data.jsonl", NULL, 0);
}

/* The small, fast StaticEmbedding run of tests/test_train_static.c. */
#define TRAIN_ARGS                                                                           \
    "--run_name", "cli-train", "--max_train_samples", "256", "--max_eval_samples", "100",   \
        "--per_device_train_batch_size", "32", "--embedding_dim", "32", "--max_steps", "8", \
        "--learning_rate", "0.1", "--eval_steps", "4", "--save_steps", "4",                 \
        "--logging_steps", "4", "--save_total_limit", "0", "--num_threads", "1"

static void test_train(void) {
    static const char *const targs[] = {TRAIN_ARGS};
    const size_t nt = sizeof targs / sizeof targs[0];
    char recipe[1024], out_cli[512], out_lib[512], logs[512], args[4096];
    snprintf(recipe, sizeof recipe, "%s", test_path("recipes/static_embedding.yaml"));
    tpath(out_cli, "train-cli");
    tpath(out_lib, "train-lib");
    tpath(logs, "train-logs");

    size_t off = (size_t)snprintf(args, sizeof args, "train '%s' --log-dir '%s' --output_dir '%s'",
                                  recipe, logs, out_cli);
    for (size_t i = 0; i < nt; i++)
        off += (size_t)snprintf(args + off, sizeof args - off, " %s", targs[i]);
    char *out = NULL, *err = NULL;
    int rc = run_cli(args, &out, &err);
    CHECK(rc == 0, "train: rc %d: %s", rc, STR(err));
    /* the last line printed is the VERDICT line */
    const char *last = NULL;
    if (out) {
        size_t l = strlen(out);
        while (l > 0 && out[l - 1] == '\n')
            out[--l] = '\0';
        last = strrchr(out, '\n');
        last = last ? last + 1 : out;
    }
    CHECK(last && strncmp(last, "VERDICT: ", 9) == 0, "train ends with the VERDICT line: %s",
          STR(last));
    CHECK(out && strstr(out, "\nThreads: 1\n"), "train applies --num_threads 1 (logs 'Threads: 1')");
    free(out);
    free(err);

    /* the same run through the library gives the same model, byte for byte */
    const char *largs[64];
    size_t n = 0;
    largs[n++] = "--output_dir";
    largs[n++] = out_lib;
    for (size_t i = 0; i < nt; i++)
        largs[n++] = targs[i];
    sbert_train_summary sum;
    CHECK_OK(sbert_train(recipe, largs, n, logs, &sum));
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/final/model.safetensors", out_cli);
    snprintf(b, sizeof b, "%s/final/model.safetensors", out_lib);
    size_t la = 0, lb = 0;
    char *x = test_read_file(a, &la), *y = test_read_file(b, &lb);
    CHECK(x && y && la == lb && memcmp(x, y, la) == 0,
          "sbert train and sbert_train write the same final/model.safetensors (%zu vs %zu bytes)",
          la, lb);
    free(x);
    free(y);
    snprintf(a, sizeof a, "%s/final/modules.json", out_cli);
    CHECK(file_exists(a), "train saved %s", a);

    /* an unknown key: a usage error (exit 2, as the README promises), the closest key suggested */
    snprintf(args, sizeof args, "train '%s' --output_dir '%s' --learnign_rate 0.1", recipe,
             tmp_path("train-bad"));
    expect_failure("train, unknown key", args, 2, "learning_rate", NULL, 0);
    snprintf(args, sizeof args, "train '%s' --output_dir", recipe);
    expect_failure("train, missing value", args, 2, "needs a value", NULL, 0);
}

static void remove_tree(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

int main(void) {
    g_bin = getenv("SBERT_BIN");
    if (!g_bin || !*g_bin || access(g_bin, X_OK) != 0) {
        CHECK(0, "SBERT_BIN (the sbert binary) is not set or not executable: %s",
              g_bin ? g_bin : "(unset)");
        return test_summary();
    }
    snprintf(g_tmp, sizeof g_tmp, "/tmp/sbert_cli_XXXXXX");
    if (!mkdtemp(g_tmp)) {
        CHECK(0, "mkdtemp failed");
        return test_summary();
    }
    /* > 256 word pieces: exercises truncation to max_seq_length */
    size_t off = 0;
    for (int i = 0; i < 60; i++)
        off += (size_t)snprintf(g_long + off, sizeof g_long - off,
                                "sentence %d of a long paragraph, ", i);
    k_sentences[N_SENT - 1] = g_long;

    /* recipes name their data relative to the repository (as CTest runs us) */
    if (chdir(test_path("")) != 0) {
        CHECK(0, "cannot enter %s", test_path(""));
        return test_summary();
    }
    static char minilm[1024];
    snprintf(minilm, sizeof minilm, "%s", test_path("models/all-MiniLM-L6-v2"));
    g_minilm = minilm;
    char probe[1100];
    snprintf(probe, sizeof probe, "%s/model.safetensors", g_minilm);

    test_help_version();
    if (TEST_REQUIRE_FILE(probe, TEST_FETCH_MODELS)) {
        test_encode(g_minilm, "MiniLM", 1);
        test_tokenize();
        test_failures();
        test_evaluate();
        test_train();
    }
    /* the tiny random models of tests/data/models (plain HF directories) */
    static const char *tiny[] = {"tiny-bert", "tiny-distilbert", "tiny-mpnet", "tiny-roberta",
                                 "tiny-xlm-roberta"};
    for (size_t i = 0; i < sizeof tiny / sizeof tiny[0]; i++) {
        char rel[256], dir[1024], probe_cfg[1100];
        snprintf(rel, sizeof rel, "tests/data/models/%s", tiny[i]);
        snprintf(dir, sizeof dir, "%s", test_path(rel));
        snprintf(probe_cfg, sizeof probe_cfg, "%s/config.json", dir);
        if (TEST_REQUIRE_FILE(probe_cfg, "it is committed under tests/data/models (tools/gen_tiny_models.py)"))
            test_encode(dir, tiny[i], 0);
    }
    remove_tree(g_tmp);
    return test_summary();
}
