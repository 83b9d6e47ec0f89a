/*
 * base/error.h -- setting and reading the per-thread error message.
 *
 * Library code reports a failure with
 *     return sbert_fail(SBERT_ERR_FORMAT, "%s: tensor '%s' ...", path, name);
 * which stores the formatted message for sbert_last_error() and returns the
 * status. sbert_error_prefix() prepends context ("loading model X: ") to the
 * current message as an error travels up.
 */
#ifndef SBERT_BASE_ERROR_H
#define SBERT_BASE_ERROR_H

#include "sbert.h"

#if defined(__GNUC__)
#define SBERT_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SBERT_PRINTF(a, b)
#endif

/* Store the message and return `st`. */
sbert_status sbert_fail(sbert_status st, const char *fmt, ...) SBERT_PRINTF(2, 3);
/* Prepend formatted context to the current message. Returns nothing. */
void sbert_error_prefix(const char *fmt, ...) SBERT_PRINTF(1, 2);
/* Clear the current message. */
void sbert_error_clear(void);

/* Propagate a failing status: `SBERT_TRY(f(x));` */
#define SBERT_TRY(expr)                     \
    do {                                    \
        sbert_status sbert_try_st_ = (expr); \
        if (sbert_try_st_ != SBERT_OK)      \
            return sbert_try_st_;           \
    } while (0)

#endif
