/*
 * io/npy.c -- float32 matrices in NumPy's .npy format (see npy.h).
 *
 * The header is a Python dict literal. The reader parses the small subset
 * numpy.save emits -- quoted keys, quoted strings, True/False and tuples of
 * integers -- and rejects anything else with a message naming the file.
 */
#include "io/npy.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "io/atomic.h"
#include "io/file.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "sbert's .npy code assumes a little-endian host"
#endif

static const char k_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

sbert_status sbert_npy_write_f32(const char *path, const float *data, size_t rows, size_t cols) {
    size_t n;
    if (__builtin_mul_overflow(rows, cols, &n) || n > SIZE_MAX / sizeof(float))
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: matrix [%zu, %zu] is too large", path, rows,
                          cols);
    if (n && !data) return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: NULL data", path);
    char dict[128];
    int dl = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }",
                      rows, cols);
    /* 10 bytes of preamble + dict + padding + '\n' = multiple of 64. */
    size_t total = 10 + (size_t)dl + 1;
    size_t padded = (total + 63) / 64 * 64;
    size_t hlen = padded - 10;
    unsigned char hdr[256];
    memcpy(hdr, k_magic, 6);
    hdr[6] = 1;
    hdr[7] = 0;
    hdr[8] = (unsigned char)(hlen & 0xFF);
    hdr[9] = (unsigned char)(hlen >> 8);
    memcpy(hdr + 10, dict, (size_t)dl);
    memset(hdr + 10 + dl, ' ', hlen - (size_t)dl - 1);
    hdr[padded - 1] = '\n';

    sbert_status st;
    sbert_atomic_file *af = sbert_atomic_open(path, &st);
    if (!af) return st;
    st = sbert_atomic_write(af, hdr, padded);
    if (st == SBERT_OK && n) st = sbert_atomic_write(af, data, n * sizeof(float));
    if (st != SBERT_OK) {
        sbert_atomic_abort(af);
        return st;
    }
    return sbert_atomic_commit(af);
}

/* ---- header dict parsing ---- */

typedef struct {
    const char *p, *end;
} cursor;

static void skip_ws(cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int eat(cursor *c, char ch) {
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A '...' or "..." literal without escapes, copied into buf. */
static int parse_quoted(cursor *c, char *buf, size_t cap) {
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return 0;
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || n + 1 >= cap) return 0;
        buf[n++] = *c->p++;
    }
    if (c->p >= c->end) return 0;
    c->p++;
    buf[n] = '\0';
    return 1;
}

static int parse_word(cursor *c, const char *w) {
    skip_ws(c);
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) >= n && memcmp(c->p, w, n) == 0) {
        c->p += n;
        return 1;
    }
    return 0;
}

/* "(a, b)", "(n,)" or "()" -> dims; returns the rank or -1. */
static int parse_shape(cursor *c, uint64_t *dims, int max) {
    if (!eat(c, '(')) return -1;
    int nd = 0;
    for (;;) {
        skip_ws(c);
        if (eat(c, ')')) return nd;
        if (c->p >= c->end || *c->p < '0' || *c->p > '9' || nd == max) return -1;
        uint64_t v = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            if (v > (UINT64_MAX - 9) / 10) return -1;
            v = v * 10 + (uint64_t)(*c->p - '0');
            c->p++;
        }
        dims[nd++] = v;
        if (!eat(c, ',')) {
            if (eat(c, ')')) return nd;
            return -1;
        }
    }
}

sbert_status sbert_npy_read_f32(const char *path, float **data, size_t *rows, size_t *cols,
                                int *ndim_out) {
    *data = NULL;
    *rows = *cols = 0;
    if (ndim_out) *ndim_out = 0;
    char *buf;
    size_t len;
    SBERT_TRY(sbert_read_file(path, &buf, &len));
    sbert_status st = sbert_npy_parse_f32(buf, len, path, data, rows, cols, ndim_out);
    free(buf);
    return st;
}

sbert_status sbert_npy_parse_f32(const void *image, size_t len, const char *path, float **data,
                                 size_t *rows, size_t *cols, int *ndim_out) {
    *data = NULL;
    *rows = *cols = 0;
    if (ndim_out) *ndim_out = 0;
    const char *buf = image;
    sbert_status st = SBERT_OK;
    const unsigned char *u = (const unsigned char *)buf;
    if (len < 10 || memcmp(buf, k_magic, 6) != 0) {
        st = sbert_fail(SBERT_ERR_FORMAT, "%s: not a .npy file (bad magic)", path);
        goto done;
    }
    size_t hlen, pre;
    if (u[6] == 1 && u[7] == 0) {
        hlen = (size_t)u[8] | ((size_t)u[9] << 8);
        pre = 10;
    } else if ((u[6] == 2 || u[6] == 3) && u[7] == 0) {
        if (len < 12) {
            st = sbert_fail(SBERT_ERR_FORMAT, "%s: truncated .npy preamble", path);
            goto done;
        }
        hlen = (size_t)u[8] | ((size_t)u[9] << 8) | ((size_t)u[10] << 16) | ((size_t)u[11] << 24);
        pre = 12;
    } else {
        st = sbert_fail(SBERT_ERR_UNSUPPORTED, "%s: .npy format version %u.%u is not supported",
                        path, u[6], u[7]);
        goto done;
    }
    if (hlen > len - pre) {
        st = sbert_fail(SBERT_ERR_FORMAT, "%s: .npy header length %zu runs past the end of the file",
                        path, hlen);
        goto done;
    }
    cursor c = {buf + pre, buf + pre + hlen};
    int have_descr = 0, have_order = 0, nd = -1;
    uint64_t dims[8];
    if (!eat(&c, '{')) {
        st = sbert_fail(SBERT_ERR_FORMAT, "%s: .npy header is not a dict", path);
        goto done;
    }
    while (!eat(&c, '}')) {
        char key[32], val[32];
        if (!parse_quoted(&c, key, sizeof key) || !eat(&c, ':')) {
            st = sbert_fail(SBERT_ERR_FORMAT, "%s: malformed .npy header dict", path);
            goto done;
        }
        if (strcmp(key, "descr") == 0) {
            if (!parse_quoted(&c, val, sizeof val)) {
                st = sbert_fail(SBERT_ERR_FORMAT, "%s: .npy 'descr' is not a string", path);
                goto done;
            }
            if (strcmp(val, "<f4") != 0) {
                st = sbert_fail(SBERT_ERR_UNSUPPORTED,
                                "%s: .npy dtype '%s' is not supported (expected little-endian "
                                "float32 '<f4')",
                                path, val);
                goto done;
            }
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (parse_word(&c, "True")) {
                st = sbert_fail(SBERT_ERR_UNSUPPORTED,
                                "%s: .npy array is in Fortran order; save it C-contiguous", path);
                goto done;
            }
            if (!parse_word(&c, "False")) {
                st = sbert_fail(SBERT_ERR_FORMAT, "%s: .npy 'fortran_order' is not a boolean",
                                path);
                goto done;
            }
            have_order = 1;
        } else if (strcmp(key, "shape") == 0) {
            nd = parse_shape(&c, dims, 8);
            if (nd < 0) {
                st = sbert_fail(SBERT_ERR_FORMAT, "%s: .npy 'shape' is not a tuple of integers",
                                path);
                goto done;
            }
            if (nd > 2) {
                st = sbert_fail(SBERT_ERR_UNSUPPORTED,
                                "%s: .npy array has %d dimensions; a matrix (1 or 2) is expected",
                                path, nd);
                goto done;
            }
        } else {
            st = sbert_fail(SBERT_ERR_FORMAT, "%s: unexpected key '%s' in .npy header", path, key);
            goto done;
        }
        if (!eat(&c, ',')) {
            if (eat(&c, '}')) break;
            st = sbert_fail(SBERT_ERR_FORMAT, "%s: malformed .npy header dict", path);
            goto done;
        }
    }
    skip_ws(&c);
    if (c.p != c.end) {
        st = sbert_fail(SBERT_ERR_FORMAT, "%s: unexpected bytes after the .npy header dict", path);
        goto done;
    }
    if (!have_descr || !have_order || nd < 0) {
        st = sbert_fail(SBERT_ERR_FORMAT, "%s: .npy header lacks %s", path,
                        !have_descr ? "'descr'" : !have_order ? "'fortran_order'" : "'shape'");
        goto done;
    }
    uint64_t r = nd >= 1 ? dims[0] : 1, k = nd == 2 ? dims[1] : 1, count, nbytes;
    if (__builtin_mul_overflow(r, k, &count) || __builtin_mul_overflow(count, (uint64_t)4, &nbytes) ||
        nbytes != len - pre - hlen) {
        st = sbert_fail(SBERT_ERR_FORMAT,
                        "%s: .npy shape (%llu, %llu) needs %llu data bytes but the file has %zu",
                        path, (unsigned long long)r, (unsigned long long)k,
                        (unsigned long long)(count * 4), len - pre - hlen);
        goto done;
    }
    if (count) {
        *data = malloc((size_t)nbytes);
        if (!*data) {
            st = sbert_fail(SBERT_ERR_NOMEM, "%s: cannot allocate %llu bytes", path,
                            (unsigned long long)nbytes);
            goto done;
        }
        memcpy(*data, buf + pre + hlen, (size_t)nbytes);
    }
    *rows = (size_t)r;
    *cols = (size_t)k;
    if (ndim_out) *ndim_out = nd;
done:
    return st;
}
