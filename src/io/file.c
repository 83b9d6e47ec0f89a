/*
 * io/file.c -- whole-file reads and JSON parsing with precise error messages.
 */
#include "io/file.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/error.h"

sbert_status sbert_read_file(const char *path, char **out, size_t *len) {
    *out = NULL;
    if (len) *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return sbert_fail(SBERT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return sbert_fail(SBERT_ERR_IO, "%s: not a regular file", path);
    }
    size_t n = (size_t)sb.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        return sbert_fail(SBERT_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, n + 1);
    }
    size_t got = n ? fread(buf, 1, n, f) : 0;
    int err = ferror(f);
    fclose(f);
    if (got != n || err) {
        free(buf);
        return sbert_fail(SBERT_ERR_IO, "%s: short read (%zu of %zu bytes)", path, got, n);
    }
    buf[n] = '\0';
    *out = buf;
    if (len) *len = n;
    return SBERT_OK;
}

sbert_status sbert_json_parse(const char *text, size_t len, const char *name, cJSON **out) {
    const char *end = NULL;
    *out = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!*out) {
        size_t off = end && end >= text ? (size_t)(end - text) : 0;
        size_t line = 1, col = 1;
        for (size_t i = 0; i < off && i < len; i++) {
            if (text[i] == '\n') { line++; col = 1; } else col++;
        }
        return sbert_fail(SBERT_ERR_FORMAT, "%s: invalid JSON near line %zu, column %zu", name,
                          line, col);
    }
    return SBERT_OK;
}

sbert_status sbert_json_load(const char *path, cJSON **out) {
    char *text;
    size_t len;
    *out = NULL;
    SBERT_TRY(sbert_read_file(path, &text, &len));
    sbert_status st = sbert_json_parse(text, len, path, out);
    free(text);
    return st;
}

int sbert_file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

int sbert_dir_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

sbert_status sbert_path_join(char *dst, size_t cap, const char *dir, const char *name) {
    int n = (dir && *dir) ? snprintf(dst, cap, "%s/%s", dir, name) : snprintf(dst, cap, "%s", name);
    if (n < 0 || (size_t)n >= cap)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "path too long: %s/%s", dir ? dir : "", name);
    return SBERT_OK;
}

sbert_status sbert_json_size(const cJSON *o, const char *key, const char *path, size_t *out, int *present) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *present = 0;
    if (!v || cJSON_IsNull(v)) return SBERT_OK;
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble != floor(v->valuedouble))
        return sbert_fail(SBERT_ERR_FORMAT, "%s: \"%s\" must be a non-negative integer", path, key);
    *out = v->valuedouble > 1e15 ? (size_t)1e15 : (size_t)v->valuedouble;
    *present = 1;
    return SBERT_OK;
}
