/*
 * base/strbuf.c -- see strbuf.h.
 */
#include "base/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int grow(sbert_sb *b, size_t need) {
    if (b->oom) return 0;
    if (b->len + need < b->cap) return 1;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap <= b->len + need) {
        if (cap > ((size_t)-1) / 2) {
            b->oom = 1;
            return 0;
        }
        cap *= 2;
    }
    char *s = realloc(b->s, cap);
    if (!s) {
        b->oom = 1;
        return 0;
    }
    b->s = s;
    b->cap = cap;
    return 1;
}

void sbert_sb_put(sbert_sb *b, const char *s, size_t n) {
    if (!grow(b, n)) return;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void sbert_sb_printf(sbert_sb *b, const char *fmt, ...) {
    if (b->oom) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    if (!grow(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

sbert_status sbert_sb_finish(sbert_sb *b, const char *what, char **out, size_t *len) {
    *out = NULL;
    *len = 0;
    if (!b->oom && !b->s) sbert_sb_put(b, "", 0);
    if (b->oom) {
        sbert_sb_free(b);
        return sbert_fail(SBERT_ERR_NOMEM, "out of memory (%s)", what);
    }
    *out = b->s;
    *len = b->len;
    memset(b, 0, sizeof *b);
    return SBERT_OK;
}

void sbert_sb_free(sbert_sb *b) {
    free(b->s);
    memset(b, 0, sizeof *b);
}
