/*
 * fuzz/fuzz_recipe.c -- libFuzzer target for recipe files
 * (training/recipe.h: `key: value` lines, comments, quotes, overrides).
 *
 * Input: up to the first 0xFF byte is written as the recipe file and loaded
 * with sbert_recipe_load; the rest is split at NUL bytes into command-line
 * override arguments ("--key value" / "key=value"). When it loads, every key
 * is read back with each typed getter (which must fail cleanly on text of
 * the wrong type), and every entry is checked to be a known key with a
 * non-NULL value.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "training/recipe.h"
#include "training/train_args.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > (1u << 18)) return 0;
    const uint8_t *sep = memchr(data, 0xFF, size);
    size_t flen = sep ? (size_t)(sep - data) : size;
    const char *path = fuzz_path(fuzz_dir(), "recipe.yaml");
    fuzz_write(path, data, flen);

    /* overrides: NUL-separated strings after the 0xFF */
    char *tail = NULL;
    const char *args[16];
    size_t n_args = 0;
    if (sep) {
        size_t tl = size - flen - 1;
        tail = malloc(tl + 1);
        if (!tail) abort();
        memcpy(tail, sep + 1, tl);
        tail[tl] = '\0';
        for (char *p = tail; n_args < 16 && p <= tail + tl;) {
            args[n_args++] = p;
            p += strlen(p) + 1;
        }
    }
    sbert_recipe *r = NULL;
    if (sbert_recipe_load(path, args, n_args, sbert_train_known_keys(), &r) != SBERT_OK) {
        if (r) abort();
        free(tail);
        return 0;
    }
    const char *const *keys = sbert_train_known_keys();
    for (size_t i = 0; keys[i]; i++) {
        const char *s;
        double d;
        int64_t n;
        int b;
        (void)sbert_recipe_string(r, keys[i], "x", &s);
        (void)sbert_recipe_double(r, keys[i], 0.5, &d);
        (void)sbert_recipe_int(r, keys[i], 3, &n);
        (void)sbert_recipe_bool(r, keys[i], 1, &b);
        (void)sbert_recipe_origin(r, keys[i]);
    }
    for (size_t i = 0; i < sbert_recipe_count(r); i++) {
        const char *k, *v;
        sbert_recipe_entry(r, i, &k, &v);
        if (!k || !v) abort();
        int known = 0;
        for (size_t j = 0; keys[j] && !known; j++) known = strcmp(keys[j], k) == 0;
        if (!known) abort(); /* an unknown key was accepted */
        if (sbert_recipe_get(r, k) != v) abort();
    }
    size_t n_keys = 0;
    while (keys[n_keys]) n_keys++;
    (void)sbert_closest_name("learnng_rate", keys, n_keys);
    sbert_recipe_free(r);
    free(tail);
    return 0;
}
