/*
 * io/file.c -- whole-file reads and JSON parsing with precise error messages.
 */
#include "io/file.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"

sbert_status sbert_read_file(const char *path, char **out, size_t *len) {
    *out = NULL;
    if (len) *len = 0;
    /* O_NONBLOCK: opening a named pipe must not wait for a writer (fstat
     * then refuses it); it changes nothing for a regular file. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return sbert_open_failure(path, errno);
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        int e = errno;
        close(fd);
        return sbert_open_failure(path, e);
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        int e = errno;
        fclose(f);
        return sbert_open_failure(path, e);
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
    if (lstat(path, &sb) == 0) return 1;
    return errno != ENOENT && errno != ENOTDIR;
}

int sbert_dir_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* The kind of a non-regular, non-directory entry. */
static const char *kind_of(mode_t m) {
    if (S_ISFIFO(m)) return "a named pipe";
    if (S_ISSOCK(m)) return "a socket";
    if (S_ISCHR(m) || S_ISBLK(m)) return "a device";
    return "not a regular file";
}

const char *sbert_path_problem(const char *path, char *buf, size_t cap) {
    struct stat sb, lb;
    if (!cap) return buf;
    if (stat(path, &sb) == 0) {
        if (S_ISREG(sb.st_mode)) snprintf(buf, cap, "is a regular file");
        else if (S_ISDIR(sb.st_mode)) snprintf(buf, cap, "is a directory, not a file");
        else snprintf(buf, cap, "is %s, not a regular file", kind_of(sb.st_mode));
        return buf;
    }
    int e = errno;
    if (e == ELOOP) {
        snprintf(buf, cap, "is a symbolic link loop (too many levels of symbolic links), not a file");
    } else if (e == ENOENT && lstat(path, &lb) == 0 && S_ISLNK(lb.st_mode)) {
        char target[1024];
        ssize_t n = readlink(path, target, sizeof target - 1);
        if (n < 0) n = 0;
        target[n] = '\0';
        snprintf(buf, cap, "is a symbolic link to '%s', which does not exist", target);
    } else if (e == ENOENT) {
        snprintf(buf, cap, "no such file");
    } else if (e == ENOTDIR) {
        snprintf(buf, cap, "no such file (a component of the path is not a directory)");
    } else if (e == EACCES) {
        snprintf(buf, cap, "permission denied (on the file or a directory above it)");
    } else {
        snprintf(buf, cap, "cannot access: %s", strerror(e));
    }
    return buf;
}

sbert_status sbert_file_check(const char *path) {
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) return SBERT_OK;
    char why[1200];
    return sbert_fail(SBERT_ERR_IO, "%s: %s", path, sbert_path_problem(path, why, sizeof why));
}

sbert_status sbert_open_failure(const char *path, int err) {
    sbert_status st = sbert_file_check(path);
    if (st != SBERT_OK) return st;
    return sbert_fail(SBERT_ERR_IO, "%s: cannot open: %s", path, strerror(err ? err : EIO));
}

sbert_status sbert_dir_check(const char *path) {
    struct stat sb;
    if (stat(path, &sb) == 0) {
        if (S_ISDIR(sb.st_mode)) return SBERT_OK;
        if (S_ISREG(sb.st_mode))
            return sbert_fail(SBERT_ERR_IO, "%s: is a regular file, not a directory", path);
        return sbert_fail(SBERT_ERR_IO, "%s: is %s, not a directory", path, kind_of(sb.st_mode));
    }
    char why[1200];
    sbert_path_problem(path, why, sizeof why);
    if (strncmp(why, "no such file", 12) == 0)
        return sbert_fail(SBERT_ERR_IO, "%s: no such directory%s", path, why + 12);
    return sbert_fail(SBERT_ERR_IO, "%s: %s", path, why);
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
