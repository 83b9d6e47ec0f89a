/*
 * tests/test_npy.c -- the .npy writer and reader against numpy.
 *
 *  - files numpy.save wrote (tools/gen_safetensors_refs.py, committed under
 *    tests/data/safetensors/) read back bit-exactly, 1-D and 2-D, format
 *    versions 1.0 and 2.0; Fortran order and float64 are refused clearly;
 *  - sbert_npy_write_f32 of the same matrix produces a file byte-identical to
 *    numpy.save's;
 *  - numpy.load reads what sbert wrote (python3 + numpy required: the test
 *    FAILS without them);
 *  - malformed headers and truncated data give SBERT_ERR_FORMAT naming the
 *    file; writing into a missing directory fails cleanly.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/file.h"
#include "io/npy.h"
#include "test_util.h"

static char g_dir[64];

static const char *tmp_path(const char *name) {
    static char buf[8][512];
    static int slot = 0;
    char *b = buf[slot++ & 7];
    snprintf(b, sizeof buf[0], "%s/%s", g_dir, name);
    return b;
}

static int write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(data, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

static void test_numpy_files(void) {
    cJSON *exp = NULL;
    CHECK_OK(sbert_json_load(test_path("tests/data/safetensors/npy_expected.json"), &exp));
    if (!exp) return;
    int files = 0;
    size_t values = 0;
    for (const cJSON *f = exp->child; f; f = f->next, files++) {
        char rel[256];
        snprintf(rel, sizeof rel, "tests/data/safetensors/%s", f->string);
        const char *path = test_path(rel);
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(f, "shape");
        const cJSON *bits = cJSON_GetObjectItemCaseSensitive(f, "f32_bits");
        int nd_want = cJSON_GetArraySize(shape);
        size_t r_want = (size_t)cJSON_GetArrayItem(shape, 0)->valuedouble;
        size_t c_want = nd_want == 2 ? (size_t)cJSON_GetArrayItem(shape, 1)->valuedouble : 1;
        float *data = NULL;
        size_t r = 0, c = 0;
        int nd = -1;
        CHECK_OK(sbert_npy_read_f32(path, &data, &r, &c, &nd));
        CHECK(r == r_want && c == c_want && nd == nd_want, "%s: shape %zu x %zu (nd %d)",
              f->string, r, c, nd);
        size_t i = 0, bad = 0;
        for (const cJSON *b = bits->child; b && data && i < r * c; b = b->next, i++) {
            uint32_t u;
            memcpy(&u, &data[i], 4);
            if (u != (uint32_t)strtoul(b->valuestring, NULL, 16)) bad++;
        }
        CHECK(i == r_want * c_want && bad == 0, "%s: %zu of %zu values differ", f->string, bad, i);
        values += i;
        free(data);
    }
    CHECK(files == 3, "npy_expected.json has %d files", files);
    printf("numpy-written files: %d read, %zu values bit-exact\n", files, values);

    /* Byte-identical writer: same matrix as numpy_2d.npy. */
    float *m = NULL;
    size_t r = 0, c = 0;
    const char *ref = test_path("tests/data/safetensors/numpy_2d.npy");
    CHECK_OK(sbert_npy_read_f32(ref, &m, &r, &c, NULL));
    if (m) {
        const char *out = tmp_path("same.npy");
        CHECK_OK(sbert_npy_write_f32(out, m, r, c));
        size_t la, lb;
        char *a = test_read_file(ref, &la), *b = test_read_file(out, &lb);
        CHECK(a && b && la == lb && memcmp(a, b, la) == 0,
              "sbert's .npy differs from numpy.save's (%zu vs %zu bytes)", lb, la);
        free(a);
        free(b);
        free(m);
    }

    /* What sbert refuses. */
    const char *p = test_path("tests/data/safetensors/numpy_fortran.npy");
    sbert_status s = sbert_npy_read_f32(p, &m, &r, &c, NULL);
    CHECK(s == SBERT_ERR_UNSUPPORTED && strstr(sbert_last_error(), "Fortran") &&
              strstr(sbert_last_error(), p),
          "fortran: %s", sbert_last_error());
    p = test_path("tests/data/safetensors/numpy_f8.npy");
    s = sbert_npy_read_f32(p, &m, &r, &c, NULL);
    CHECK(s == SBERT_ERR_UNSUPPORTED && strstr(sbert_last_error(), "'<f8'"), "f8: %s",
          sbert_last_error());
    cJSON_Delete(exp);
}

static const char *k_py =
    "import sys\n"
    "try:\n"
    "    import numpy as np\n"
    "except Exception as e:\n"
    "    print('PYTHON MODULE MISSING: %s' % e); sys.exit(3)\n"
    "a = np.load(sys.argv[1]); raw = open(sys.argv[2], 'rb').read()\n"
    "r, c = int(sys.argv[3]), int(sys.argv[4])\n"
    "assert a.dtype == np.float32 and a.shape == (r, c), (a.dtype, a.shape)\n"
    "assert a.flags['C_CONTIGUOUS']\n"
    "assert a.tobytes() == raw, 'values differ'\n"
    "e = np.load(sys.argv[5]); assert e.shape == (0, 7) and e.dtype == np.float32, e.shape\n"
    "print('numpy: loaded %dx%d, bit-identical; empty (0, 7) ok' % (r, c))\n";

static void test_write_read(void) {
    const size_t R = 37, C = 11;
    float *m = malloc(R * C * sizeof(float));
    uint32_t x = 0x9e3779b9u;
    for (size_t i = 0; i < R * C; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        memcpy(&m[i], &x, 4);
    }
    const char *path = tmp_path("emb.npy");
    CHECK_OK(sbert_npy_write_f32(path, m, R, C));
    size_t len;
    unsigned char *img = (unsigned char *)test_read_file(path, &len);
    CHECK(img && len > 10, "read written npy");
    if (img) {
        size_t hl = img[8] | (img[9] << 8);
        CHECK((10 + hl) % 64 == 0, "header padded to 64 bytes (%zu)", 10 + hl);
        CHECK(img[10 + hl - 1] == '\n', "header ends with newline");
        CHECK(len == 10 + hl + R * C * 4, "file size %zu", len);
        CHECK(memcmp(img + 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (37, 11), }",
                     61) == 0,
              "header dict: %.61s", img + 10);
        free(img);
    }
    float *back = NULL;
    size_t r = 0, c = 0;
    CHECK_OK(sbert_npy_read_f32(path, &back, &r, &c, NULL));
    CHECK(back && r == R && c == C && memcmp(back, m, R * C * 4) == 0, "round trip bit-identical");
    free(back);

    /* Empty matrix. */
    const char *ep = tmp_path("empty.npy");
    CHECK_OK(sbert_npy_write_f32(ep, NULL, 0, 7));
    back = (float *)1;
    CHECK_OK(sbert_npy_read_f32(ep, &back, &r, &c, NULL));
    CHECK(back == NULL && r == 0 && c == 7, "empty round trip");

    /* numpy reads it. */
    const char *raw = tmp_path("emb.raw");
    CHECK(write_bytes(raw, m, R * C * 4), "raw dump");
    const char *script = tmp_path("check.py");
    CHECK(write_bytes(script, k_py, strlen(k_py)), "script");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "python3 '%s' '%s' '%s' %zu %zu '%s'", script, path, raw, R, C, ep);
    fflush(stdout);
    int rc = system(cmd);
    int code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    CHECK(code == 0, "numpy could not load sbert's .npy (exit %d)%s", code,
          code == 127 || code == 3
              ? ": python3 with numpy is required for this test (`make deps` or `pip install "
                "numpy`)"
              : "");
    free(m);

    /* Missing directory. */
    const char *bad = tmp_path("no/dir/x.npy");
    float one = 1.0f;
    sbert_status s = sbert_npy_write_f32(bad, &one, 1, 1);
    CHECK(s == SBERT_ERR_IO && strstr(sbert_last_error(), bad), "missing dir: %s",
          sbert_last_error());
}

static void expect_bad(const char *name, const void *bytes, size_t n, sbert_status want,
                       const char *needle) {
    const char *p = tmp_path(name);
    write_bytes(p, bytes, n);
    float *d = NULL;
    size_t r, c;
    sbert_status s = sbert_npy_read_f32(p, &d, &r, &c, NULL);
    CHECK(s == want && d == NULL && strstr(sbert_last_error(), p) &&
              strstr(sbert_last_error(), needle),
          "%s: %s \"%s\", expected \"%s\"", name, sbert_status_name(s), sbert_last_error(), needle);
    free(d);
}

/* A v1.0 file with the given header dict (padded to 64) and data bytes. */
static size_t build(unsigned char *buf, const char *dict, size_t data_bytes) {
    size_t dl = strlen(dict);
    size_t total = (10 + dl + 1 + 63) / 64 * 64;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)((total - 10) & 0xFF);
    buf[9] = (unsigned char)((total - 10) >> 8);
    memcpy(buf + 10, dict, dl);
    memset(buf + 10 + dl, ' ', total - 10 - dl - 1);
    buf[total - 1] = '\n';
    memset(buf + total, 0, data_bytes);
    return total + data_bytes;
}

static void test_malformed(void) {
    unsigned char buf[1024];
    size_t n;
    expect_bad("magic.npy", "NUMPY\x01\x00xxxxxxxx", 14, SBERT_ERR_FORMAT, "bad magic");
    expect_bad("short.npy", "\x93NUM", 4, SBERT_ERR_FORMAT, "bad magic");
    expect_bad("version.npy", "\x93NUMPY\x07\x00\x10\x00{}", 12, SBERT_ERR_UNSUPPORTED,
               "version 7.0");
    expect_bad("hlen.npy", "\x93NUMPY\x01\x00\xff\x00{}", 12, SBERT_ERR_FORMAT,
               "runs past the end");
    n = build(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 20);
    expect_bad("trunc.npy", buf, n, SBERT_ERR_FORMAT, "needs 24 data bytes but the file has 20");
    n = build(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 28);
    expect_bad("long.npy", buf, n, SBERT_ERR_FORMAT, "needs 24 data bytes but the file has 28");
    n = build(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }", 0);
    expect_bad("shape.npy", buf, n, SBERT_ERR_FORMAT, "'shape' is not a tuple");
    n = build(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }", 96);
    expect_bad("rank3.npy", buf, n, SBERT_ERR_UNSUPPORTED, "3 dimensions");
    n = build(buf, "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", 4);
    expect_bad("bigendian.npy", buf, n, SBERT_ERR_UNSUPPORTED, "'>f4'");
    n = build(buf, "{'descr': '<f4', 'shape': (1,), }", 4);
    expect_bad("noorder.npy", buf, n, SBERT_ERR_FORMAT, "lacks 'fortran_order'");
    n = build(buf, "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,), }", 4);
    expect_bad("bool.npy", buf, n, SBERT_ERR_FORMAT, "not a boolean");
    n = build(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", 4);
    expect_bad("extra.npy", buf, n, SBERT_ERR_FORMAT, "unexpected key 'x'");
    n = build(buf, "['descr']", 0);
    expect_bad("notdict.npy", buf, n, SBERT_ERR_FORMAT, "not a dict");
    n = build(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999), }",
              0);
    expect_bad("huge.npy", buf, n, SBERT_ERR_FORMAT, "needs");
    /* Accepted variants: 0-D, 1-D, keys in another order, no trailing comma. */
    n = build(buf, "{\"shape\": (), \"fortran_order\": False, \"descr\": \"<f4\"}", 4);
    memcpy(buf + n - 4, "\x00\x00\x80\x3f", 4); /* 1.0f */
    const char *p = tmp_path("scalar.npy");
    write_bytes(p, buf, n);
    float *d = NULL;
    size_t r, c;
    int nd = -1;
    CHECK_OK(sbert_npy_read_f32(p, &d, &r, &c, &nd));
    CHECK(d && r == 1 && c == 1 && nd == 0 && d[0] == 1.0f, "0-D array");
    free(d);
}

/* A write that fails for real (not the injected failure): in a child with a
 * 64 KiB file size limit (RLIMIT_FSIZE, SIGXFSZ ignored -- what a full disk
 * looks like to write(2), with EFBIG instead of ENOSPC), writing a 1 MiB
 * matrix must fail with the reason ("File too large"), leave no file at the
 * target and no temporary file beside it. The child reports through its exit
 * code: 0 ok, 1 wrong status, 2 reason missing from the message, 3 a file
 * left behind. */
static void test_write_failure_reason(void) {
    const char *target = tmp_path("limited.npy");
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {64 * 1024, 64 * 1024};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(9);
        size_t rows = 1024, cols = 256;
        float *m = calloc(rows * cols, sizeof *m);
        if (!m) _exit(9);
        sbert_status st = sbert_npy_write_f32(target, m, rows, cols);
        free(m);
        if (st != SBERT_ERR_IO) _exit(1);
        const char *msg = sbert_last_error();
        fprintf(stderr, "  child: %s\n", msg);
        if (!strstr(msg, target) || !strstr(msg, "File too large")) _exit(2);
        if (access(target, F_OK) == 0) _exit(3);
        char tmp[600];
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld", target, (long)getpid());
        if (access(tmp, F_OK) == 0) _exit(3);
        _exit(0);
    }
    int ws = 0;
    waitpid(pid, &ws, 0);
    int code = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    CHECK(code == 0, "a write past RLIMIT_FSIZE: child exit %d (1 status, 2 reason missing, 3 file left)",
          code);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/sbert_test_npy_XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_numpy_files();
    test_write_read();
    test_malformed();
    test_write_failure_reason();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return test_summary();
}
