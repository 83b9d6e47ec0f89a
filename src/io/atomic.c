/*
 * io/atomic.c -- crash-safe file replacement: temporary file in the same
 * directory, fflush + fsync, rename over the target, fsync of the directory.
 * See atomic.h for the contract. POSIX only.
 */
#include "io/atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "io/file.h"

struct sbert_atomic_file {
    char *path; /* final name */
    char *tmp;  /* <path>.tmp.<pid> */
    FILE *f;
    unsigned long long written; /* bytes passed through sbert_atomic_write */
    int failed;                 /* a write already failed: commit must not rename */
};

static _Thread_local long long g_fail_after = -1;

void sbert_atomic_test_fail_after(long long after_bytes) { g_fail_after = after_bytes; }

sbert_atomic_file *sbert_atomic_open(const char *path, sbert_status *st) {
    sbert_status dummy;
    if (!st) st = &dummy;
    if (!path || !*path) {
        *st = sbert_fail(SBERT_ERR_INVALID_ARG, "atomic write: empty path");
        return NULL;
    }
    sbert_atomic_file *af = calloc(1, sizeof *af);
    size_t n = strlen(path);
    size_t cap = n + 32;
    if (af) af->path = malloc(n + 1);
    if (af) af->tmp = malloc(cap);
    if (!af || !af->path || !af->tmp) {
        if (af) { free(af->path); free(af->tmp); }
        free(af);
        *st = sbert_fail(SBERT_ERR_NOMEM, "%s: cannot allocate an atomic-write handle", path);
        return NULL;
    }
    memcpy(af->path, path, n + 1);
    snprintf(af->tmp, cap, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(af->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        int e = errno;
        *st = sbert_fail(SBERT_ERR_IO, "%s: cannot create temporary file %s: %s", path, af->tmp,
                         strerror(e));
        free(af->path); free(af->tmp); free(af);
        return NULL;
    }
    af->f = fdopen(fd, "wb");
    if (!af->f) {
        int e = errno;
        close(fd);
        unlink(af->tmp);
        *st = sbert_fail(SBERT_ERR_IO, "%s: fdopen failed: %s", path, strerror(e));
        free(af->path); free(af->tmp); free(af);
        return NULL;
    }
    *st = SBERT_OK;
    return af;
}

FILE *sbert_atomic_stream(sbert_atomic_file *af) { return af ? af->f : NULL; }

const char *sbert_atomic_path(const sbert_atomic_file *af) { return af ? af->path : NULL; }

sbert_status sbert_atomic_write(sbert_atomic_file *af, const void *data, size_t n) {
    if (!af) return sbert_fail(SBERT_ERR_INVALID_ARG, "atomic write: NULL handle");
    if (af->failed) return sbert_fail(SBERT_ERR_IO, "%s: write after a failed write", af->path);
    size_t want = n;
    int injected = 0;
    if (g_fail_after >= 0 && af->written + n > (unsigned long long)g_fail_after) {
        want = (size_t)((unsigned long long)g_fail_after - af->written);
        injected = 1;
    }
    size_t got = want ? fwrite(data, 1, want, af->f) : 0;
    af->written += got;
    if (injected || got != want) {
        af->failed = 1;
        if (injected)
            return sbert_fail(SBERT_ERR_IO, "%s: write failed after %llu bytes (injected failure)",
                              af->path, af->written);
        return sbert_fail(SBERT_ERR_IO, "%s: write failed after %llu bytes: %s", af->path,
                          af->written, strerror(errno));
    }
    return SBERT_OK;
}

static void atomic_free(sbert_atomic_file *af) {
    free(af->path);
    free(af->tmp);
    free(af);
}

void sbert_atomic_abort(sbert_atomic_file *af) {
    if (!af) return;
    if (af->f) fclose(af->f);
    unlink(af->tmp);
    atomic_free(af);
}

/* fsync the directory holding `path` so that the rename is durable. Some
 * filesystems refuse fsync on directories (EINVAL); that is not an error. */
static sbert_status fsync_parent_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir;
    if (!slash) {
        dir = strdup(".");
    } else if (slash == path) {
        dir = strdup("/");
    } else {
        dir = strndup(path, (size_t)(slash - path));
    }
    if (!dir) return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        free(dir);
        return SBERT_OK; /* the file is in place; durability of the rename is best effort */
    }
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0 && e != EINVAL && e != EROFS && e != EBADF) {
        sbert_status st = sbert_fail(SBERT_ERR_IO, "%s: fsync of directory %s failed: %s", path,
                                     dir, strerror(e));
        free(dir);
        return st;
    }
    free(dir);
    return SBERT_OK;
}

sbert_status sbert_atomic_commit(sbert_atomic_file *af) {
    if (!af) return sbert_fail(SBERT_ERR_INVALID_ARG, "atomic commit: NULL handle");
    sbert_status st = SBERT_OK;
    FILE *f = af->f;
    af->f = NULL;
    if (af->failed) {
        st = sbert_fail(SBERT_ERR_IO, "%s: not replaced because a write failed", af->path);
        fclose(f);
        goto fail;
    }
    errno = 0;
    int flush_failed = fflush(f) != 0;
    int e = errno;
    if (flush_failed || ferror(f)) {
        /* A write through the raw stream may have failed earlier: its errno
         * is gone unless the flush failed too. */
        st = sbert_fail(SBERT_ERR_IO, "%s: write failed: %s", af->path,
                        e ? strerror(e) : "an earlier write to the file failed (disk full?)");
        fclose(f);
        goto fail;
    }
    if (g_fail_after >= 0) {
        long pos = ftell(f);
        if (pos < 0 || (long long)pos > g_fail_after) {
            st = sbert_fail(SBERT_ERR_IO, "%s: write failed after %lld bytes (injected failure)",
                            af->path, g_fail_after);
            fclose(f);
            goto fail;
        }
    }
    if (fsync(fileno(f)) != 0 && errno != EINVAL) {
        st = sbert_fail(SBERT_ERR_IO, "%s: fsync failed: %s", af->path, strerror(errno));
        fclose(f);
        goto fail;
    }
    if (fclose(f) != 0) {
        st = sbert_fail(SBERT_ERR_IO, "%s: close failed: %s", af->path, strerror(errno));
        goto fail;
    }
    if (rename(af->tmp, af->path) != 0) {
        st = sbert_fail(SBERT_ERR_IO, "%s: cannot rename %s over it: %s", af->path, af->tmp,
                        strerror(errno));
        goto fail;
    }
    st = fsync_parent_dir(af->path);
    atomic_free(af);
    return st;
fail:
    unlink(af->tmp);
    atomic_free(af);
    return st;
}

sbert_status sbert_write_file_atomic(const char *path, const void *data, size_t n) {
    sbert_status st;
    sbert_atomic_file *af = sbert_atomic_open(path, &st);
    if (!af) return st;
    st = sbert_atomic_write(af, data, n);
    if (st != SBERT_OK) {
        sbert_atomic_abort(af);
        return st;
    }
    return sbert_atomic_commit(af);
}

sbert_status sbert_copy_file_atomic(const char *src_dir, const char *dst_dir, const char *name) {
    char src[4096], dst[4096];
    SBERT_TRY(sbert_path_join(src, sizeof src, src_dir, name));
    if (!sbert_file_exists(src)) return SBERT_OK;
    SBERT_TRY(sbert_path_join(dst, sizeof dst, dst_dir, name));
    if (strcmp(src, dst) == 0) return SBERT_OK;
    char *data = NULL;
    size_t len = 0;
    SBERT_TRY(sbert_read_file(src, &data, &len));
    sbert_status st = sbert_write_file_atomic(dst, data, len);
    free(data);
    return st;
}
