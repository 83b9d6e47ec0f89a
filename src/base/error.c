/*
 * base/error.c -- the per-thread error message behind sbert_last_error().
 */
#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define SBERT_ERR_CAP 2048

static _Thread_local char g_err[SBERT_ERR_CAP];

sbert_status sbert_fail(sbert_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_err, sizeof g_err, fmt, ap);
    va_end(ap);
    return st;
}

void sbert_error_prefix(const char *fmt, ...) {
    char prefix[SBERT_ERR_CAP];
    char old[SBERT_ERR_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, g_err, sizeof old);
    size_t np = strlen(prefix);
    memcpy(g_err, prefix, np + 1);
    if (np + 1 < sizeof g_err) {
        size_t room = sizeof g_err - np - 1;
        size_t no = strlen(old);
        if (no > room) no = room;
        memcpy(g_err + np, old, no);
        g_err[np + no] = '\0';
    }
}

void sbert_error_clear(void) { g_err[0] = '\0'; }

const char *sbert_last_error(void) { return g_err; }

const char *sbert_status_name(sbert_status st) {
    switch (st) {
    case SBERT_OK: return "ok";
    case SBERT_ERR_IO: return "io error";
    case SBERT_ERR_FORMAT: return "format error";
    case SBERT_ERR_INVALID_ARG: return "invalid argument";
    case SBERT_ERR_NOMEM: return "out of memory";
    case SBERT_ERR_UNSUPPORTED: return "unsupported";
    case SBERT_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

const char *sbert_version(void) { return SBERT_VERSION; }
