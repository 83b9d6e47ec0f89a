/*
 * fuzz/fuzz_util.h -- what the file-based fuzz targets share: a private
 * temporary directory (in /dev/shm when there is one, removed at exit) and
 * writing a fuzz input into a file there.
 */
#ifndef SBERT_FUZZ_UTIL_H
#define SBERT_FUZZ_UTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_fuzz_dir[256];

static int fuzz_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    remove(p);
    return 0;
}

static void fuzz_cleanup(void) {
    if (g_fuzz_dir[0]) nftw(g_fuzz_dir, fuzz_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Create the directory once; abort when it cannot be (nothing else can run). */
static const char *fuzz_dir(void) {
    if (g_fuzz_dir[0]) return g_fuzz_dir;
    struct stat sb;
    const char *base = stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) && access("/dev/shm", W_OK) == 0
                           ? "/dev/shm"
                           : "/tmp";
    snprintf(g_fuzz_dir, sizeof g_fuzz_dir, "%s/sbert_fuzz_XXXXXX", base);
    if (!mkdtemp(g_fuzz_dir)) abort();
    atexit(fuzz_cleanup);
    return g_fuzz_dir;
}

/* dir/name (static buffer, one of 4 in rotation). */
static const char *fuzz_path(const char *dir, const char *name) {
    static char buf[4][1024];
    static int k = 0;
    char *b = buf[k++ & 3];
    snprintf(b, sizeof buf[0], "%s/%s", dir, name);
    return b;
}

static void fuzz_write(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (n && fwrite(data, 1, n, f) != n) abort();
    if (fclose(f) != 0) abort();
}

#endif
