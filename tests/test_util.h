/*
 * tests/test_util.h -- the tiny harness every tests/test_*.c uses.
 *
 *   CHECK(cond, "fmt", ...)   records a pass or a failure (with file:line)
 *   CHECK_OK(expr)            expr must return SBERT_OK; prints sbert_last_error()
 *   CHECK_NEAR(a, b, tol, ...)
 *   m = test_max_err(m, d)    running max of errors that turns a NaN into +inf
 *   TEST_REQUIRE_FILE(path, "how to get it")
 *                             1 if path exists, else a failure (never a skip) saying how to get it
 *   test_skip("fmt", ...)     an optional part that cannot run here (say, too slow under the
 *                             sanitizers): printed, and counted
 *   return test_summary();    prints "N passed, N failed, N skipped"; exit code 1 when a
 *                             check failed or when no check ran at all, TEST_SKIP_CODE (77,
 *                             CTest's SKIP_RETURN_CODE: the ctest summary lists the test as
 *                             "Skipped") when something was skipped, else 0
 *
 * Nothing is ever skipped silently: a missing model or data file is a failure
 * whose message says how to get it (TEST_FETCH_MODELS for models/). Skipping
 * is only for genuinely optional parts, and it shows in the ctest summary.
 * TEST_SANITIZED is 1 in the sanitizer build (make test-asan).
 *
 * Paths: test_path("tests/data/x") resolves against $SBERT_ROOT (the source
 * tree, set by CTest), so tests run from any directory.
 */
#ifndef SBERT_TEST_UTIL_H
#define SBERT_TEST_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "sbert.h"

static int g_test_pass = 0, g_test_fail = 0, g_test_skip = 0;

/* The exit code CTest reads as "skipped" (SKIP_RETURN_CODE in CMakeLists.txt). */
#define TEST_SKIP_CODE 77

/* How to get models/all-MiniLM-L6-v2, for failure messages. */
#define TEST_FETCH_MODELS "run tools/fetch_models.sh (or `make models`; `make test` does it)"

#if defined(__SANITIZE_ADDRESS__)
#define TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_SANITIZED 1
#endif
#endif
#ifndef TEST_SANITIZED
#define TEST_SANITIZED 0
#endif

#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        if (cond) {                                                       \
            g_test_pass++;                                                \
        } else {                                                          \
            g_test_fail++;                                                \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);          \
            fprintf(stderr, __VA_ARGS__);                                 \
            fputc('\n', stderr);                                          \
        }                                                                 \
    } while (0)

#define CHECK_OK(expr)                                                                  \
    do {                                                                                \
        sbert_status check_st_ = (expr);                                                \
        CHECK(check_st_ == SBERT_OK, "%s -> %s: %s", #expr, sbert_status_name(check_st_), \
              sbert_last_error());                                                      \
    } while (0)

#define CHECK_NEAR(a, b, tol, ...)                                   \
    do {                                                             \
        double check_a_ = (a), check_b_ = (b);                       \
        CHECK(fabs(check_a_ - check_b_) <= (tol), __VA_ARGS__);      \
    } while (0)

/* An optional part that does not run here; the test then exits TEST_SKIP_CODE (if nothing failed). */
#define test_skip(...)                      \
    do {                                    \
        g_test_skip++;                      \
        printf("SKIPPED: ");                \
        printf(__VA_ARGS__);                \
        putchar('\n');                      \
    } while (0)

/* 1 when `path` exists; otherwise a failure naming the path and what to do. */
static inline int test_require_file_at(const char *file, int line, const char *path,
                                       const char *how) {
    if (access(path, F_OK) == 0) return 1;
    g_test_fail++;
    fprintf(stderr, "FAIL %s:%d: %s is missing: %s\n", file, line, path, how);
    return 0;
}
#define TEST_REQUIRE_FILE(path, how) test_require_file_at(__FILE__, __LINE__, (path), (how))

/* max(m, d) for error maxima: a NaN d makes it +inf, so the tolerance check
 * on the result fails (`if (d > m) m = d` and fmax() silently drop NaNs). */
static inline double test_max_err(double m, double d) {
    return d <= m ? m : (d != d ? INFINITY : d);
}

static inline int test_summary(void) {
    printf("%d passed, %d failed, %d skipped\n", g_test_pass, g_test_fail, g_test_skip);
    if (g_test_fail) return 1;
    if (g_test_pass == 0 && g_test_skip == 0) {
        fprintf(stderr, "FAIL: no check ran\n");
        return 1;
    }
    return g_test_skip ? TEST_SKIP_CODE : 0;
}

/* $SBERT_ROOT/rel (or ./rel). Returns a static buffer: copy it if you keep it. */
static inline const char *test_path(const char *rel) {
    static char buf[4][4096];
    static int slot = 0;
    const char *root = getenv("SBERT_ROOT");
    char *b = buf[slot++ & 3];
    const char *r = root && *root ? root : ".";
    size_t nr = strlen(r), nl = strlen(rel);
    if (nr + 1 + nl + 1 > sizeof buf[0]) { /* too long: fail loudly rather than truncate */
        fprintf(stderr, "test_path: path too long: %s/%s\n", r, rel);
        abort();
    }
    memcpy(b, r, nr);
    b[nr] = '/';
    memcpy(b + nr + 1, rel, nl + 1);
    return b;
}

/* Read a whole file into a NUL-terminated malloc'd buffer (NULL on failure). */
static inline char *test_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) { free(p); p = NULL; }
    fclose(f);
    if (p) { p[n] = '\0'; if (len) *len = (size_t)n; }
    return p;
}

#endif
