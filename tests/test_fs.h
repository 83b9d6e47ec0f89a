/*
 * tests/test_fs.h -- file-tree helpers for tests that build a model folder
 * from a reference overlay in their temporary directory.
 */
#ifndef SBERT_TEST_FS_H
#define SBERT_TEST_FS_H

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* 1 when src was copied to dst. */
static inline int test_copy_file(const char *src, const char *dst) {
    FILE *in = fopen(src, "rb"), *out = in ? fopen(dst, "wb") : NULL;
    if (!in || !out) {
        if (in) fclose(in);
        return 0;
    }
    char buf[1 << 16];
    size_t n;
    int ok = 1;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) ok &= fwrite(buf, 1, n, out) == n;
    fclose(in);
    return fclose(out) == 0 && ok;
}

/* dst gets src's files, recursively (a reference overlay), minus its
 * ref.json and data.jsonl. */
static inline void test_copy_tree(const char *src, const char *dst) {
    DIR *d = opendir(src);
    if (!d) return;
    mkdir(dst, 0755);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, "ref.json") || !strcmp(e->d_name, "data.jsonl")) continue;
        char s[1024], t[1024];
        if (snprintf(s, sizeof s, "%s/%s", src, e->d_name) >= (int)sizeof s ||
            snprintf(t, sizeof t, "%s/%s", dst, e->d_name) >= (int)sizeof t)
            continue; /* a path this long is not in a test's overlay */
        struct stat st;
        if (stat(s, &st) == 0 && S_ISDIR(st.st_mode)) test_copy_tree(s, t);
        else test_copy_file(s, t);
    }
    closedir(d);
}

/* rm -rf path. */
static inline void test_rm_tree(const char *path) {
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char p[1024];
            if (snprintf(p, sizeof p, "%s/%s", path, e->d_name) < (int)sizeof p) test_rm_tree(p);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

#endif
