/*
 * tests/test_precompiled.c -- the SentencePiece Precompiled normalizer against HF tokenizers.
 *
 * tests/data/tokenizers/xlmr-unigram/precompiled.jsonl was written by
 * tools/gen_unigram_refs.py with tokenizers.normalizers.Precompiled(charsmap).normalize_str:
 * one {"in", "out"} per line for every code point the nmt_nfkc charsmap changes, runs of those
 * characters, random grapheme-building mixtures, edge cases and real multilingual lines.
 * Every line must match byte for byte. Corrupt blobs must be refused (or fail cleanly), never
 * read out of bounds (this test also runs under ASan).
 */
#include <cjson/cJSON.h>
#include <stdint.h>

#include "test_util.h"
#include "test_ref_json.h"
#include "tokenizers/precompiled.h"

static char *load_charsmap_b64(void) {
    char *txt = test_read_file(test_path("tests/data/tokenizers/xlmr-unigram/tokenizer.json"), NULL);
    CHECK(txt != NULL, "cannot read tokenizer.json");
    if (!txt) return NULL;
    cJSON *j = cJSON_Parse(txt);
    free(txt);
    CHECK(j != NULL, "tokenizer.json does not parse");
    if (!j) return NULL;
    cJSON *norms = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "normalizer"), "normalizers");
    cJSON *cm = cJSON_GetObjectItem(cJSON_GetArrayItem(norms, 0), "precompiled_charsmap");
    char *r = NULL;
    if (cJSON_IsString(cm)) {
        size_t n = strlen(cm->valuestring);
        r = malloc(n + 1);
        if (r) memcpy(r, cm->valuestring, n + 1);
    }
    CHECK(r != NULL, "no precompiled_charsmap in tokenizer.json");
    cJSON_Delete(j);
    return r;
}

static void test_reference(const sbert_precompiled *p) {
    char *txt = test_read_file(test_path("tests/data/tokenizers/xlmr-unigram/precompiled.jsonl"), NULL);
    CHECK(txt != NULL, "cannot read precompiled.jsonl");
    if (!txt) return;
    int lines = 0, mismatches = 0, changed = 0;
    for (char *line = txt; *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        cJSON *j = cJSON_Parse(line);
        CHECK(j != NULL, "line %d does not parse", lines + 1);
        if (j) {
            char *own_in, *own_want;
            size_t in_len, want_len;
            const char *in = ref_str(j, "in", &in_len, &own_in);
            const char *want = ref_str(j, "out", &want_len, &own_want);
            char *got = NULL;
            size_t got_len = 0;
            sbert_status st = sbert_precompiled_normalize(p, in, in_len, &got, &got_len);
            if (st != SBERT_OK || got_len != want_len || memcmp(got, want, got_len) != 0) {
                if (mismatches < 10)
                    fprintf(stderr, "line %d: in=\"%s\" want=\"%s\" got=\"%s\" (%s)\n", lines + 1, in, want,
                            got ? got : "", sbert_last_error());
                mismatches++;
            }
            if (in_len != want_len || memcmp(in, want, in_len) != 0) changed++;
            free(got);
            free(own_in);
            free(own_want);
            cJSON_Delete(j);
        }
        lines++;
        line = nl ? nl + 1 : line + strlen(line);
    }
    printf("precompiled: %d lines (%d changed by the normalizer), %d mismatches\n", lines, changed,
           mismatches);
    CHECK(lines > 6000, "only %d reference lines", lines);
    CHECK(changed > 5000, "only %d lines are changed by the normalizer", changed);
    CHECK(mismatches == 0, "%d of %d lines differ from HF tokenizers", mismatches, lines);
    free(txt);
}

/* Input containing NUL bytes: a NUL ends a lookup key; U+0000 is copied as is. */
static void test_nul(const sbert_precompiled *p) {
    const char in[] = "a\0\xef\xbd\x86"; /* "a", NUL, U+FF46 (full-width f -> "f") */
    char *got = NULL;
    size_t len = 0;
    CHECK_OK(sbert_precompiled_normalize(p, in, sizeof in - 1, &got, &len));
    CHECK(got && len == 3 && memcmp(got, "a\0f", 3) == 0, "NUL handling: got %zu bytes", len);
    free(got);
    CHECK(sbert_precompiled_normalize(p, "\xff", 1, &got, &len) == SBERT_ERR_INVALID_ARG,
          "invalid UTF-8 input must be refused");
    CHECK_OK(sbert_precompiled_normalize(p, "", 0, &got, &len));
    CHECK(got && len == 0 && got[0] == '\0', "empty input gives an empty string");
    free(got);
}

static void test_corrupt(const char *b64) {
    sbert_precompiled *p = NULL;
    /* base64 errors */
    CHECK(sbert_precompiled_create_base64("AAA*", 4, &p) == SBERT_ERR_FORMAT && !p, "bad base64 char");
    CHECK(sbert_precompiled_create_base64("A", 1, &p) == SBERT_ERR_FORMAT, "bad base64 length");
    CHECK(strstr(sbert_last_error(), "precompiled_charsmap") != NULL, "message names the key: %s",
          sbert_last_error());
    /* header errors */
    const uint8_t short_blob[3] = {1, 2, 3};
    CHECK(sbert_precompiled_create(short_blob, 3, &p) == SBERT_ERR_FORMAT, "blob shorter than header");
    const uint8_t too_big[8] = {0x10, 0, 0, 0, 0, 0, 0, 0};
    CHECK(sbert_precompiled_create(too_big, 8, &p) == SBERT_ERR_FORMAT, "trie size past the end");
    const uint8_t odd[9] = {3, 0, 0, 0, 0, 0, 0, 0, 0};
    CHECK(sbert_precompiled_create(odd, 9, &p) == SBERT_ERR_FORMAT, "trie size not a multiple of 4");
    const uint8_t empty[4] = {0, 0, 0, 0};
    CHECK(sbert_precompiled_create(empty, 4, &p) == SBERT_ERR_FORMAT, "empty trie");
    const uint8_t bad_pool[10] = {4, 0, 0, 0, 0, 0, 0, 0, 0xC3, 0x28};
    CHECK(sbert_precompiled_create(bad_pool, 10, &p) == SBERT_ERR_FORMAT, "pool not UTF-8");

    /* A one-unit trie whose root points far outside the array: creation succeeds (sizes are
     * consistent), every lookup must fail cleanly instead of reading out of bounds. */
    const uint8_t wild[8] = {4, 0, 0, 0, 0x00, 0xFC, 0xFF, 0x7F};
    CHECK_OK(sbert_precompiled_create(wild, 8, &p));
    if (p) {
        char *got = NULL;
        size_t len = 0;
        CHECK(sbert_precompiled_normalize(p, "abc", 3, &got, &len) == SBERT_ERR_FORMAT && !got,
              "walk out of the trie must be a format error");
        sbert_precompiled_free(p);
        p = NULL;
    }

    /* Flip bytes of the real blob: each variant either loads and normalizes some text without
     * error-free garbage reads (ASan checks that), or is refused. */
    size_t n = strlen(b64);
    char *copy = malloc(n + 1);
    int refused = 0, loaded = 0;
    for (int k = 0; k < 200 && copy; k++) {
        memcpy(copy, b64, n + 1);
        size_t pos = (size_t)k * 7919u % n;
        copy[pos] = copy[pos] == 'A' ? '/' : 'A';
        if (k % 10 == 0) copy[(size_t)k * 31u % 8u] = "ABCD/+9z"[k % 8]; /* hit the header too */
        if (sbert_precompiled_create_base64(copy, n, &p) != SBERT_OK) {
            refused++;
            continue;
        }
        loaded++;
        char *got = NULL;
        size_t len = 0;
        const char *text = "Ｈｅｌｌｏ ﬁ ① e\xcc\x81 日本語 \xe2\x84\xa2";
        if (sbert_precompiled_normalize(p, text, strlen(text), &got, &len) == SBERT_OK)
            CHECK(got && strlen(got) <= len, "output is NUL-terminated");
        free(got);
        sbert_precompiled_free(p);
        p = NULL;
    }
    /* truncations of the real blob */
    for (size_t cut = 0; cut < n && copy; cut += n / 37 + 1) {
        size_t m = cut & ~(size_t)3;
        if (sbert_precompiled_create_base64(b64, m, &p) == SBERT_OK) {
            char *got = NULL;
            size_t len = 0;
            sbert_precompiled_normalize(p, "ｆｕｌｌ", strlen("ｆｕｌｌ"), &got, &len);
            free(got);
            sbert_precompiled_free(p);
            p = NULL;
        } else {
            refused++;
        }
    }
    printf("corrupted charsmaps: %d refused, %d loaded\n", refused, loaded);
    CHECK(refused > 0, "some corrupted blobs must be refused");
    free(copy);
}

int main(void) {
    char *b64 = load_charsmap_b64();
    if (!b64) return test_summary();
    sbert_precompiled *p = NULL;
    CHECK_OK(sbert_precompiled_create_base64(b64, strlen(b64), &p));
    if (p) {
        test_reference(p);
        test_nul(p);
        sbert_precompiled_free(p);
    }
    test_corrupt(b64);
    free(b64);
    return test_summary();
}
