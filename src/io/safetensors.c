/*
 * io/safetensors.c -- the safetensors container: a validating, mmap-based
 * reader and an atomic F32 writer.
 *
 * File layout (see reference/st_formats.md A.4):
 *   bytes 0..7   N, u64 little-endian, N <= 100,000,000
 *   bytes 8..8+N a JSON object, starting with '{', maybe right-padded with spaces:
 *                {"__metadata__": {"k": "v"}, "name": {"dtype": "F32",
 *                 "shape": [d0, ...], "data_offsets": [begin, end]}, ...}
 *   the rest     the data buffer, little-endian, row-major; offsets are
 *                relative to its start, `end` exclusive.
 *
 * Reading. The file is mapped read-only (never read into memory as a whole:
 * weight files run to gigabytes) and every rule Python's `safetensors`
 * enforces is checked before the handle is returned, so later code can trust
 * tensor->data and tensor->nbytes:
 *   - at least 8 bytes; N within the limit and 8 + N <= file size;
 *   - the header is valid UTF-8 JSON, an object starting with '{', only
 *     whitespace after it;
 *   - `__metadata__` (optional) maps strings to strings only;
 *   - each tensor has a known dtype string, a shape of non-negative integers
 *     and data_offsets [b, e] with b <= e <= data size;
 *   - prod(shape) x dtype bits / 8 == e - b (overflow checked; sub-byte types
 *     must end on a byte boundary);
 *   - no duplicate names (cJSON keeps duplicates, we look for them);
 *   - sorted by offset the tensors tile the data buffer exactly: no overlap,
 *     no hole, and 8 + N + last end == file size.
 * Every error names the file and the tensor or key at fault.
 *
 * Conversion. sbert_st_read_f32 turns F32, F16 (subnormals, inf and NaN
 * included), BF16 (a 16-bit shift) and F64 into fp32, checking the shape the
 * caller expects.
 *
 * Writing. sbert_st_write lays out F32 tensors as the reference writer does:
 * sorted by name (all F32, so alignment order = name order), packed, header
 * with "__metadata__" first and padded with spaces to a multiple of 8 so the
 * data starts 8-aligned; the file is replaced atomically (io/atomic.h).
 *
 * Byte order: the data is little-endian and so is every host sbert supports;
 * a compile-time check refuses big-endian builds.
 */
#include "io/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/error.h"
#include "io/file.h"
#include "io/atomic.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "sbert's safetensors code assumes a little-endian host"
#endif

#define ST_MAX_HEADER 100000000ULL
/* Largest integer a JSON number (a double in cJSON) holds exactly. */
#define ST_MAX_JSON_INT 9007199254740992.0

struct sbert_safetensors {
    char *path;
    const unsigned char *base; /* start of the file image */
    size_t size;               /* file size */
    void *map;                 /* non-NULL when we own an mmap of `size` bytes */
    cJSON *header;             /* names, dtype strings and metadata point into it */
    sbert_st_tensor *tensors;  /* `n`, in data-offset order */
    size_t n;
    size_t *by_name; /* indices into tensors, sorted by name */
    cJSON *metadata; /* the __metadata__ object or NULL */
};

/* ------------------------------------------------------------- dtypes */

static const struct {
    const char *name;
    sbert_dtype dt;
    int bits;
} k_dtypes[] = {
    {"F32", SBERT_DT_F32, 32},   {"F16", SBERT_DT_F16, 16},
    {"BF16", SBERT_DT_BF16, 16}, {"F64", SBERT_DT_F64, 64},
    {"I64", SBERT_DT_I64, 64},   {"I32", SBERT_DT_I32, 32},
    {"I16", SBERT_DT_I16, 16},   {"I8", SBERT_DT_I8, 8},
    {"U64", SBERT_DT_U64, 64},   {"U32", SBERT_DT_U32, 32},
    {"U16", SBERT_DT_U16, 16},   {"U8", SBERT_DT_U8, 8},
    {"BOOL", SBERT_DT_BOOL, 8},  {"F8_E5M2", SBERT_DT_OTHER, 8},
    {"F8_E4M3", SBERT_DT_OTHER, 8}, {"F8_E8M0", SBERT_DT_OTHER, 8},
    {"F8_E4M3FNUZ", SBERT_DT_OTHER, 8}, {"F8_E5M2FNUZ", SBERT_DT_OTHER, 8},
    {"C64", SBERT_DT_OTHER, 64}, {"F6_E2M3", SBERT_DT_OTHER, 6},
    {"F6_E3M2", SBERT_DT_OTHER, 6}, {"F4", SBERT_DT_OTHER, 4},
};
#define N_DTYPES (sizeof k_dtypes / sizeof k_dtypes[0])

int sbert_dtype_bits(sbert_dtype dt) {
    if (dt == SBERT_DT_OTHER) return 0;
    for (size_t i = 0; i < N_DTYPES; i++)
        if (k_dtypes[i].dt == dt) return k_dtypes[i].bits;
    return 0;
}

const char *sbert_dtype_name(sbert_dtype dt) {
    if (dt == SBERT_DT_OTHER) return "OTHER";
    for (size_t i = 0; i < N_DTYPES; i++)
        if (k_dtypes[i].dt == dt) return k_dtypes[i].name;
    return "?";
}

/* ------------------------------------------------------------- helpers */

static uint64_t load_u64_le(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* 1 if p[0..n) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
static int utf8_valid(const unsigned char *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        if (c < 0x80) { i++; continue; }
        size_t len;
        unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) len = 2;
        else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else return 0;
        if (n - i < len) return 0;
        if (p[i + 1] < lo || p[i + 1] > hi) return 0;
        for (size_t k = 2; k < len; k++)
            if (p[i + k] < 0x80 || p[i + k] > 0xBF) return 0;
        i += len;
    }
    return 1;
}

/* A JSON number that is a non-negative integer exactly representable. */
static int json_uint(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= 0.0) || d > ST_MAX_JSON_INT || d != (double)(uint64_t)d) return 0;
    *out = (uint64_t)d;
    return 1;
}

/* "[2, 3]" into buf. */
static const char *fmt_shape(char *buf, size_t cap, const int64_t *shape, int ndim) {
    size_t used = 0;
    buf[0] = '\0';
    used += (size_t)snprintf(buf + used, cap - used, "[");
    for (int i = 0; i < ndim && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%lld", i ? ", " : "",
                                 (long long)shape[i]);
    if (used < cap) snprintf(buf + used, cap - used, "]");
    return buf;
}

static int cmp_by_offset(const void *a, const void *b) {
    const sbert_st_tensor *x = a, *y = b;
    if (x->data != y->data) return (const char *)x->data < (const char *)y->data ? -1 : 1;
    if (x->nbytes != y->nbytes) return x->nbytes < y->nbytes ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* qsort has no context argument in C11: by_name sorting uses this table. */
static _Thread_local const sbert_st_tensor *g_sort_tensors;
static int cmp_index_by_name(const void *a, const void *b) {
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    return strcmp(g_sort_tensors[i].name, g_sort_tensors[j].name);
}

static int cmp_str_ptr(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The n keys of object `obj` (__metadata__) are distinct: sort and compare
 * neighbours (a quadratic scan would let a large header stall the reader). */
static sbert_status check_unique_keys(const char *path, const cJSON *obj, size_t n) {
    if (n < 2) return SBERT_OK;
    const char **keys = malloc(n * sizeof *keys);
    if (!keys) return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", path);
    size_t i = 0;
    for (const cJSON *m = obj->child; m && i < n; m = m->next) keys[i++] = m->string;
    qsort(keys, n, sizeof *keys, cmp_str_ptr);
    sbert_status s = SBERT_OK;
    for (i = 1; i < n; i++) {
        if (strcmp(keys[i - 1], keys[i]) == 0) {
            s = sbert_fail(SBERT_ERR_FORMAT, "%s: duplicate __metadata__ key '%s'", path, keys[i]);
            break;
        }
    }
    free(keys);
    return s;
}

/* ------------------------------------------------------------- reading */

/* Validate the header of the image already set in st->base/st->size and
 * fill the tensor table. */
static sbert_status st_parse(sbert_safetensors *st) {
    const char *path = st->path;
    const unsigned char *img = st->base;
    size_t size = st->size;
    if (size < 8)
        return sbert_fail(SBERT_ERR_FORMAT,
                          "%s: not a safetensors file: %zu bytes, shorter than the 8-byte header "
                          "length",
                          path, size);
    uint64_t hlen = load_u64_le(img);
    if (hlen > ST_MAX_HEADER)
        return sbert_fail(SBERT_ERR_FORMAT,
                          "%s: header length %llu exceeds the limit of %llu bytes (not a "
                          "safetensors file?)",
                          path, (unsigned long long)hlen, ST_MAX_HEADER);
    if (hlen > size - 8)
        return sbert_fail(SBERT_ERR_FORMAT,
                          "%s: header length %llu runs past the end of the file (%zu bytes; "
                          "truncated?)",
                          path, (unsigned long long)hlen, size);
    const unsigned char *hdr = img + 8;
    size_t hsize = (size_t)hlen;
    if (hsize == 0 || hdr[0] != '{')
        return sbert_fail(SBERT_ERR_FORMAT, "%s: header does not start with '{'", path);
    if (!utf8_valid(hdr, hsize))
        return sbert_fail(SBERT_ERR_FORMAT, "%s: header is not valid UTF-8", path);

    const char *end = NULL;
    st->header = cJSON_ParseWithLengthOpts((const char *)hdr, hsize, &end, 0);
    if (!st->header) {
        size_t off = end && end >= (const char *)hdr ? (size_t)(end - (const char *)hdr) : 0;
        return sbert_fail(SBERT_ERR_FORMAT, "%s: header is not valid JSON (error near byte %zu)",
                          path, off + 8);
    }
    for (const char *q = end; q && q < (const char *)hdr + hsize; q++) {
        if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r')
            return sbert_fail(SBERT_ERR_FORMAT,
                              "%s: unexpected bytes after the header JSON at byte %zu", path,
                              (size_t)(q - (const char *)hdr) + 8);
    }
    if (!cJSON_IsObject(st->header))
        return sbert_fail(SBERT_ERR_FORMAT, "%s: header is not a JSON object", path);

    size_t data_size = size - 8 - hsize;
    const unsigned char *data = hdr + hsize;

    size_t count = 0;
    for (cJSON *e = st->header->child; e; e = e->next) count++;
    st->tensors = calloc(count ? count : 1, sizeof *st->tensors);
    st->by_name = calloc(count ? count : 1, sizeof *st->by_name);
    if (!st->tensors || !st->by_name)
        return sbert_fail(SBERT_ERR_NOMEM, "%s: cannot allocate a table of %zu tensors", path,
                          count);
    size_t n = 0;
    int seen_meta = 0;
    for (cJSON *e = st->header->child; e; e = e->next) {
        const char *name = e->string;
        if (!name) return sbert_fail(SBERT_ERR_FORMAT, "%s: header entry without a name", path);
        if (strcmp(name, "__metadata__") == 0) {
            if (seen_meta)
                return sbert_fail(SBERT_ERR_FORMAT, "%s: duplicate key '__metadata__' in header",
                                  path);
            seen_meta = 1;
            if (cJSON_IsNull(e)) continue;
            if (!cJSON_IsObject(e))
                return sbert_fail(SBERT_ERR_FORMAT, "%s: '__metadata__' is not an object", path);
            size_t nm = 0;
            for (cJSON *m = e->child; m; m = m->next, nm++) {
                if (!cJSON_IsString(m))
                    return sbert_fail(SBERT_ERR_FORMAT,
                                      "%s: __metadata__ key '%s' has a non-string value (metadata "
                                      "maps strings to strings only)",
                                      path, m->string ? m->string : "");
            }
            SBERT_TRY(check_unique_keys(path, e, nm));
            st->metadata = e;
            continue;
        }
        if (!cJSON_IsObject(e))
            return sbert_fail(SBERT_ERR_FORMAT, "%s: tensor '%s': header entry is not an object",
                              path, name);
        sbert_st_tensor *t = &st->tensors[n];
        t->name = name;

        cJSON *jd = cJSON_GetObjectItemCaseSensitive(e, "dtype");
        if (!cJSON_IsString(jd))
            return sbert_fail(SBERT_ERR_FORMAT, "%s: tensor '%s': missing or non-string 'dtype'",
                              path, name);
        int bits = 0;
        for (size_t k = 0; k < N_DTYPES; k++) {
            if (strcmp(jd->valuestring, k_dtypes[k].name) == 0) {
                t->dtype = k_dtypes[k].dt;
                t->dtype_name = k_dtypes[k].name;
                bits = k_dtypes[k].bits;
                break;
            }
        }
        if (!bits)
            return sbert_fail(SBERT_ERR_FORMAT, "%s: tensor '%s': unknown dtype \"%.40s\"", path,
                              name, jd->valuestring);

        cJSON *js = cJSON_GetObjectItemCaseSensitive(e, "shape");
        if (!cJSON_IsArray(js))
            return sbert_fail(SBERT_ERR_FORMAT, "%s: tensor '%s': missing or non-array 'shape'",
                              path, name);
        int ndim = cJSON_GetArraySize(js);
        if (ndim > SBERT_ST_MAX_DIMS)
            return sbert_fail(SBERT_ERR_UNSUPPORTED,
                              "%s: tensor '%s' has %d dimensions; sbert supports at most %d", path,
                              name, ndim, SBERT_ST_MAX_DIMS);
        t->ndim = ndim;
        uint64_t numel = 1;
        int overflow = 0, i = 0;
        for (cJSON *d = js->child; d; d = d->next, i++) {
            uint64_t v;
            if (!json_uint(d, &v) || v > (uint64_t)INT64_MAX)
                return sbert_fail(SBERT_ERR_FORMAT,
                                  "%s: tensor '%s': shape entry %d is not a non-negative integer",
                                  path, name, i);
            t->shape[i] = (int64_t)v;
            if (__builtin_mul_overflow(numel, v, &numel)) overflow = 1;
        }

        cJSON *jo = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
        uint64_t b, en;
        if (!cJSON_IsArray(jo) || cJSON_GetArraySize(jo) != 2 || !json_uint(jo->child, &b) ||
            !json_uint(jo->child->next, &en))
            return sbert_fail(SBERT_ERR_FORMAT,
                              "%s: tensor '%s': 'data_offsets' must be [begin, end] with "
                              "non-negative integers",
                              path, name);
        if (b > en)
            return sbert_fail(SBERT_ERR_FORMAT,
                              "%s: tensor '%s': data_offsets [%llu, %llu] has begin > end", path,
                              name, (unsigned long long)b, (unsigned long long)en);
        if (en > data_size)
            return sbert_fail(SBERT_ERR_FORMAT,
                              "%s: tensor '%s': data_offsets [%llu, %llu] out of range: the data "
                              "area has %zu bytes",
                              path, name, (unsigned long long)b, (unsigned long long)en,
                              data_size);
        uint64_t nbits;
        if (overflow || __builtin_mul_overflow(numel, (uint64_t)bits, &nbits)) {
            char sb[256];
            return sbert_fail(SBERT_ERR_FORMAT,
                              "%s: tensor '%s': shape %s is too large (element count overflows)",
                              path, name, fmt_shape(sb, sizeof sb, t->shape, t->ndim));
        }
        if (nbits % 8 != 0)
            return sbert_fail(SBERT_ERR_FORMAT,
                              "%s: tensor '%s': %s data of %llu elements does not end on a byte "
                              "boundary",
                              path, name, t->dtype_name, (unsigned long long)numel);
        if (nbits / 8 != en - b) {
            char sb[256];
            return sbert_fail(SBERT_ERR_FORMAT,
                              "%s: tensor '%s': shape %s of %s needs %llu bytes but data_offsets "
                              "[%llu, %llu] span %llu",
                              path, name, fmt_shape(sb, sizeof sb, t->shape, t->ndim),
                              t->dtype_name, (unsigned long long)(nbits / 8),
                              (unsigned long long)b, (unsigned long long)en,
                              (unsigned long long)(en - b));
        }
        t->nbytes = (size_t)(en - b);
        t->data = data + b;
        n++;
    }
    st->n = n;

    /* Duplicates: sort an index by name and compare neighbours. */
    for (size_t i = 0; i < n; i++) st->by_name[i] = i;
    g_sort_tensors = st->tensors;
    qsort(st->by_name, n, sizeof *st->by_name, cmp_index_by_name);
    for (size_t i = 1; i < n; i++) {
        const char *a = st->tensors[st->by_name[i - 1]].name;
        if (strcmp(a, st->tensors[st->by_name[i]].name) == 0)
            return sbert_fail(SBERT_ERR_FORMAT, "%s: duplicate tensor name '%s' in header", path,
                              a);
    }

    /* Coverage: in offset order each tensor begins where the previous ended. */
    qsort(st->tensors, n, sizeof *st->tensors, cmp_by_offset);
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        const sbert_st_tensor *t = &st->tensors[i];
        size_t b = (size_t)((const unsigned char *)t->data - data);
        if (b < pos)
            return sbert_fail(SBERT_ERR_FORMAT,
                              "%s: tensor '%s' (bytes %zu..%zu) overlaps tensor '%s' (which ends at "
                              "%zu)",
                              path, t->name, b, b + t->nbytes, st->tensors[i - 1].name, pos);
        if (b > pos)
            return sbert_fail(SBERT_ERR_FORMAT,
                              "%s: hole in the data area: bytes %zu..%zu are not covered by any "
                              "tensor (before tensor '%s')",
                              path, pos, b, t->name);
        pos = b + t->nbytes;
    }
    if (pos != data_size)
        return sbert_fail(SBERT_ERR_FORMAT,
                          "%s: the tensors cover %zu bytes of data but the file holds %zu after "
                          "the header (hole or trailing bytes at the end)",
                          path, pos, data_size);
    /* Offsets moved: rebuild the name index over the new order. */
    for (size_t i = 0; i < n; i++) st->by_name[i] = i;
    g_sort_tensors = st->tensors;
    qsort(st->by_name, n, sizeof *st->by_name, cmp_index_by_name);
    return SBERT_OK;
}

static sbert_safetensors *st_new(const char *name) {
    sbert_safetensors *st = calloc(1, sizeof *st);
    if (!st) return NULL;
    st->path = strdup(name ? name : "<memory>");
    if (!st->path) {
        free(st);
        return NULL;
    }
    return st;
}

sbert_status sbert_st_open_memory(const void *data, size_t len, const char *name,
                                  sbert_safetensors **out) {
    *out = NULL;
    sbert_safetensors *st = st_new(name);
    if (!st) return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", name ? name : "<memory>");
    st->base = data;
    st->size = len;
    sbert_status s = st_parse(st);
    if (s != SBERT_OK) {
        sbert_st_close(st);
        return s;
    }
    *out = st;
    return SBERT_OK;
}

sbert_status sbert_st_open(const char *path, sbert_safetensors **out) {
    *out = NULL;
    /* O_NONBLOCK: opening a named pipe must not wait for a writer (fstat
     * then refuses it); it changes nothing for a regular file. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return sbert_open_failure(path, errno);
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        int e = errno;
        close(fd);
        return sbert_open_failure(path, e);
    }
    sbert_safetensors *st = st_new(path);
    if (!st) {
        close(fd);
        return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", path);
    }
    st->size = (size_t)sb.st_size;
    if (st->size > 0) {
        void *m = mmap(NULL, st->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            int e = errno;
            close(fd);
            sbert_st_close(st);
            return sbert_fail(SBERT_ERR_IO, "%s: mmap of %zu bytes failed: %s", path,
                              (size_t)sb.st_size, strerror(e));
        }
        st->map = m;
        st->base = m;
    } else {
        static const unsigned char empty[1];
        st->base = empty;
    }
    close(fd);
    sbert_status s = st_parse(st);
    if (s != SBERT_OK) {
        sbert_st_close(st);
        return s;
    }
    *out = st;
    return SBERT_OK;
}

void sbert_st_close(sbert_safetensors *st) {
    if (!st) return;
    if (st->map) munmap(st->map, st->size);
    cJSON_Delete(st->header);
    free(st->tensors);
    free(st->by_name);
    free(st->path);
    free(st);
}

const char *sbert_st_path(const sbert_safetensors *st) { return st ? st->path : NULL; }

size_t sbert_st_count(const sbert_safetensors *st) { return st ? st->n : 0; }

const sbert_st_tensor *sbert_st_at(const sbert_safetensors *st, size_t i) {
    return st && i < st->n ? &st->tensors[i] : NULL;
}

const sbert_st_tensor *sbert_st_find(const sbert_safetensors *st, const char *name) {
    if (!st || !name) return NULL;
    size_t lo = 0, hi = st->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const sbert_st_tensor *t = &st->tensors[st->by_name[mid]];
        int c = strcmp(name, t->name);
        if (c == 0) return t;
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return NULL;
}

const char *sbert_st_metadata(const sbert_safetensors *st, const char *key) {
    if (!st || !st->metadata || !key) return NULL;
    cJSON *v = cJSON_GetObjectItemCaseSensitive(st->metadata, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* IEEE half -> single, exact for every input (subnormals, inf, NaN payload). */
static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu;
    uint32_t mant = h & 0x3FFu;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                e++;
                mant <<= 1;
            } while (!(mant & 0x400u));
            mant &= 0x3FFu;
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | (mant << 13);
        }
    } else if (exp == 0x1F) {
        bits = sign | 0x7F800000u | (mant << 13);
    } else {
        bits = sign | ((exp - 15 + 127) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

sbert_status sbert_st_read_f32(const sbert_safetensors *st, const char *name,
                               const int64_t *shape, int ndim, float *dst) {
    if (!st || !name) return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_st_read_f32: NULL argument");
    const sbert_st_tensor *t = sbert_st_find(st, name);
    if (!t) return sbert_fail(SBERT_ERR_FORMAT, "%s: tensor '%s' not found", st->path, name);
    if (shape) {
        int same = ndim == t->ndim;
        for (int i = 0; same && i < ndim; i++) same = shape[i] == t->shape[i];
        if (!same) {
            char a[256], b[256];
            return sbert_fail(SBERT_ERR_FORMAT, "%s: tensor '%s' has shape %s but expected %s",
                              st->path, name, fmt_shape(a, sizeof a, t->shape, t->ndim),
                              fmt_shape(b, sizeof b, shape, ndim < 0 ? 0 : ndim));
        }
    }
    const unsigned char *src = t->data;
    size_t count;
    switch (t->dtype) {
    case SBERT_DT_F32:
        if (t->nbytes) memcpy(dst, src, t->nbytes);
        return SBERT_OK;
    case SBERT_DT_F16:
        count = t->nbytes / 2;
        for (size_t i = 0; i < count; i++) {
            uint16_t h = (uint16_t)(src[2 * i] | (src[2 * i + 1] << 8));
            dst[i] = f16_to_f32(h);
        }
        return SBERT_OK;
    case SBERT_DT_BF16:
        count = t->nbytes / 2;
        for (size_t i = 0; i < count; i++) {
            uint32_t bits = ((uint32_t)src[2 * i] | ((uint32_t)src[2 * i + 1] << 8)) << 16;
            memcpy(&dst[i], &bits, 4);
        }
        return SBERT_OK;
    case SBERT_DT_F64:
        count = t->nbytes / 8;
        for (size_t i = 0; i < count; i++) {
            double d;
            memcpy(&d, src + 8 * i, 8);
            dst[i] = (float)d;
        }
        return SBERT_OK;
    default:
        return sbert_fail(SBERT_ERR_UNSUPPORTED,
                          "%s: tensor '%s' has dtype %s, which cannot be read as float32",
                          st->path, name, t->dtype_name);
    }
}

/* ------------------------------------------------------------- writing */

/* Append to a growing buffer. */
typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

/* A JSON string literal, escaped the way serde_json does. */
static void sb_json_string(sbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char tmp[8];
        switch (*p) {
        case '"': sb_put(b, "\\\"", 2); break;
        case '\\': sb_put(b, "\\\\", 2); break;
        case '\n': sb_put(b, "\\n", 2); break;
        case '\r': sb_put(b, "\\r", 2); break;
        case '\t': sb_put(b, "\\t", 2); break;
        case '\b': sb_put(b, "\\b", 2); break;
        case '\f': sb_put(b, "\\f", 2); break;
        default:
            if (*p < 0x20) {
                snprintf(tmp, sizeof tmp, "\\u%04x", *p);
                sb_put(b, tmp, 6);
            } else {
                sb_put(b, (const char *)p, 1);
            }
        }
    }
    sb_put(b, "\"", 1);
}

static _Thread_local const sbert_st_entry *g_sort_entries;
static int cmp_entry_index(const void *a, const void *b) {
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    return strcmp(g_sort_entries[i].name, g_sort_entries[j].name);
}

sbert_status sbert_st_write(const char *path, const sbert_st_entry *entries, size_t n,
                            const char *const *meta_kv, size_t n_meta) {
    if (!path || (n && !entries) || (n_meta && !meta_kv))
        return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_st_write: NULL argument");
    /* Validate the entries and the metadata. */
    const char *format = "pt";
    for (size_t k = 0; k < n_meta; k++) {
        const char *key = meta_kv[2 * k], *val = meta_kv[2 * k + 1];
        if (!key || !val)
            return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: metadata pair %zu has a NULL key or value",
                              path, k);
        if (!utf8_valid((const unsigned char *)key, strlen(key)) ||
            !utf8_valid((const unsigned char *)val, strlen(val)))
            return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: metadata key '%s' or its value is not UTF-8",
                              path, key);
        for (size_t j = 0; j < k; j++)
            if (strcmp(meta_kv[2 * j], key) == 0)
                return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: duplicate metadata key '%s'", path,
                                  key);
        if (strcmp(key, "format") == 0) format = val;
    }
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    if (!order) return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", path);
    sbert_status s = SBERT_OK;
    for (size_t i = 0; i < n; i++) {
        const sbert_st_entry *e = &entries[i];
        order[i] = i;
        if (!e->name || !*e->name || strcmp(e->name, "__metadata__") == 0 ||
            !utf8_valid((const unsigned char *)e->name, strlen(e->name))) {
            s = sbert_fail(SBERT_ERR_INVALID_ARG, "%s: tensor %zu has an invalid name '%s'", path,
                           i, e->name ? e->name : "(null)");
            goto done;
        }
        if (e->ndim < 0 || e->ndim > SBERT_ST_MAX_DIMS) {
            s = sbert_fail(SBERT_ERR_INVALID_ARG, "%s: tensor '%s' has %d dimensions (0..%d)", path,
                           e->name, e->ndim, SBERT_ST_MAX_DIMS);
            goto done;
        }
        uint64_t numel = 1, nb;
        for (int d = 0; d < e->ndim; d++) {
            if (e->shape[d] < 0 || __builtin_mul_overflow(numel, (uint64_t)e->shape[d], &numel)) {
                s = sbert_fail(SBERT_ERR_INVALID_ARG, "%s: tensor '%s' has an invalid shape", path,
                               e->name);
                goto done;
            }
        }
        if (__builtin_mul_overflow(numel, (uint64_t)4, &nb) || nb > SIZE_MAX ||
            (nb && !e->data)) {
            s = sbert_fail(SBERT_ERR_INVALID_ARG, "%s: tensor '%s': no data or too large", path,
                           e->name);
            goto done;
        }
    }
    g_sort_entries = entries;
    qsort(order, n, sizeof *order, cmp_entry_index);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(entries[order[i - 1]].name, entries[order[i]].name) == 0) {
            s = sbert_fail(SBERT_ERR_INVALID_ARG, "%s: duplicate tensor name '%s'", path,
                           entries[order[i]].name);
            goto done;
        }
    }

    /* Header: __metadata__ first, then the tensors in offset (= name) order. */
    sbuf h = {0};
    sb_str(&h, "{\"__metadata__\":{\"format\":");
    sb_json_string(&h, format);
    for (size_t k = 0; k < n_meta; k++) {
        if (strcmp(meta_kv[2 * k], "format") == 0) continue;
        sb_str(&h, ",");
        sb_json_string(&h, meta_kv[2 * k]);
        sb_str(&h, ":");
        sb_json_string(&h, meta_kv[2 * k + 1]);
    }
    sb_str(&h, "}");
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        const sbert_st_entry *e = &entries[order[i]];
        char tmp[64];
        uint64_t numel = 1;
        sb_str(&h, ",");
        sb_json_string(&h, e->name);
        sb_str(&h, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int d = 0; d < e->ndim; d++) {
            snprintf(tmp, sizeof tmp, "%s%lld", d ? "," : "", (long long)e->shape[d]);
            sb_str(&h, tmp);
            numel *= (uint64_t)e->shape[d];
        }
        snprintf(tmp, sizeof tmp, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                 (unsigned long long)(off + numel * 4));
        sb_str(&h, tmp);
        off += numel * 4;
    }
    sb_str(&h, "}");
    while (h.len % 8) sb_str(&h, " ");
    if (h.oom) {
        free(h.p);
        s = sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory building the header", path);
        goto done;
    }

    sbert_atomic_file *af = sbert_atomic_open(path, &s);
    if (!af) {
        free(h.p);
        goto done;
    }
    unsigned char lenbuf[8];
    uint64_t hl = h.len;
    for (int i = 0; i < 8; i++) lenbuf[i] = (unsigned char)(hl >> (8 * i));
    s = sbert_atomic_write(af, lenbuf, 8);
    if (s == SBERT_OK) s = sbert_atomic_write(af, h.p, h.len);
    free(h.p);
    for (size_t i = 0; i < n && s == SBERT_OK; i++) {
        const sbert_st_entry *e = &entries[order[i]];
        size_t numel = 1;
        for (int d = 0; d < e->ndim; d++) numel *= (size_t)e->shape[d];
        if (numel) s = sbert_atomic_write(af, e->data, numel * sizeof(float));
    }
    if (s != SBERT_OK) {
        sbert_atomic_abort(af);
        goto done;
    }
    s = sbert_atomic_commit(af);
done:
    free(order);
    return s;
}
