/*
 * tests/test_util.h -- the tiny harness every tests/test_*.c uses.
 *
 *   CHECK(cond, "fmt", ...)   records a pass or a failure (with file:line)
 *   CHECK_OK(expr)            expr must return SBERT_OK; prints sbert_last_error()
 *   CHECK_NEAR(a, b, tol, ...)
 *   return test_summary();    prints "N passed, N failed", exit code 0 iff none failed
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

#include "sbert.h"

static int g_test_pass = 0, g_test_fail = 0;

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

static inline int test_summary(void) {
    printf("%d passed, %d failed\n", g_test_pass, g_test_fail);
    return g_test_fail == 0 ? 0 : 1;
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
