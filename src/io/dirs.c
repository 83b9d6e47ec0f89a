/*
 * io/dirs.c -- directory helpers (see dirs.h).
 */
#define _XOPEN_SOURCE 700
#include "io/dirs.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "io/atomic.h"
#include "io/file.h"

sbert_status sbert_mkdir_p(const char *path) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "path too long: %s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return sbert_fail(SBERT_ERR_IO, "%s: cannot create directory: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return sbert_fail(SBERT_ERR_IO, "%s: cannot create directory: %s", buf, strerror(errno));
    if (!sbert_dir_exists(buf)) return sbert_fail(SBERT_ERR_IO, "%s: exists and is not a directory", buf);
    return SBERT_OK;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

void sbert_rm_rf(const char *path) { nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS); }

sbert_status sbert_publish_dir(const char *tmp, const char *dir) {
    char old[4200];
    snprintf(old, sizeof old, "%s.old.%d", dir, (int)getpid());
    int had = sbert_dir_exists(dir);
    if (had && rename(dir, old) != 0)
        return sbert_fail(SBERT_ERR_IO, "%s: cannot move the previous version aside: %s", dir, strerror(errno));
    if (rename(tmp, dir) != 0) {
        sbert_status st = sbert_fail(SBERT_ERR_IO, "%s: cannot publish: %s", dir, strerror(errno));
        if (had) (void)rename(old, dir);
        return st;
    }
    if (had) sbert_rm_rf(old);
    return SBERT_OK;
}

sbert_status sbert_write_text_file(const char *dir, const char *name, const char *text) {
    char path[4200];
    SBERT_TRY(sbert_path_join(path, sizeof path, dir, name));
    return sbert_write_file_atomic(path, text, strlen(text));
}
