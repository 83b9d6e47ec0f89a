/*
 * base/strbuf.h -- a growing text buffer for documents built piece by piece
 * (model cards, SVG). An allocation failure is sticky: later appends do
 * nothing and sbert_sb_finish() reports it once.
 */
#ifndef SBERT_BASE_STRBUF_H
#define SBERT_BASE_STRBUF_H

#include <stddef.h>

#include "base/error.h"

typedef struct {
    char *s; /* NUL-terminated when len > 0 */
    size_t len, cap;
    int oom;
} sbert_sb;

void sbert_sb_printf(sbert_sb *b, const char *fmt, ...) SBERT_PRINTF(2, 3);
void sbert_sb_put(sbert_sb *b, const char *s, size_t n);
/* Hand the text over (*out, *len; "" when empty) or fail with
 * SBERT_ERR_NOMEM naming `what`; the buffer is reset either way. */
sbert_status sbert_sb_finish(sbert_sb *b, const char *what, char **out, size_t *len);
void sbert_sb_free(sbert_sb *b);

#endif
