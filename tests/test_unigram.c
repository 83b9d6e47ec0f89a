/*
 * tests/test_unigram.c -- the Unigram model against HF tokenizers' Unigram.
 *
 * Reference files (tools/gen_unigram_refs.py, tests/data/tokenizers/xlmr-unigram/):
 *   unigram_words.jsonl     {"word", "ids"}: tokenizer.json's model.tokenize(word) for the
 *                           pre-tokenized words of ~5,000 real multilingual lines plus words of
 *                           unknown characters (fused unks) and special-token spellings;
 *   unigram_words_bf.jsonl  the same with the byte_fallback model (tokenizer_bf.json);
 *   unigram_small.jsonl     tiny vocabularies exercising ties, duplicate pieces, fused unks, a
 *                           missing unk id (null ids = HF refuses), byte fallback, empty pieces.
 * Every word must give exactly HF's ids.
 */
#include <cjson/cJSON.h>
#include <stdint.h>

#include "test_util.h"
#include "test_ref_json.h"
#include "tokenizers/unigram.h"

/* Build a model from a JSON vocab [[piece, score], ...]. */
static sbert_unigram *model_from_json(const cJSON *vocab, int32_t unk_id, int byte_fallback) {
    int n = cJSON_GetArraySize(vocab);
    const char **pieces = malloc((size_t)(n ? n : 1) * sizeof *pieces);
    double *scores = malloc((size_t)(n ? n : 1) * sizeof *scores);
    for (int i = 0; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(vocab, i);
        pieces[i] = cJSON_GetArrayItem(e, 0)->valuestring;
        scores[i] = cJSON_GetArrayItem(e, 1)->valuedouble;
    }
    sbert_unigram *u = NULL;
    CHECK_OK(sbert_unigram_create(pieces, scores, (size_t)n, unk_id, byte_fallback, &u));
    free(pieces);
    free(scores);
    return u;
}

static sbert_unigram *load_model(const char *rel, cJSON **json_out) {
    char *txt = test_read_file(test_path(rel), NULL);
    CHECK(txt != NULL, "cannot read %s", rel);
    if (!txt) return NULL;
    cJSON *j = cJSON_Parse(txt);
    free(txt);
    CHECK(j != NULL, "%s does not parse", rel);
    if (!j) return NULL;
    cJSON *m = cJSON_GetObjectItem(j, "model");
    cJSON *unk = cJSON_GetObjectItem(m, "unk_id");
    int32_t unk_id = cJSON_IsNumber(unk) ? (int32_t)unk->valueint : -1;
    int bf = cJSON_IsTrue(cJSON_GetObjectItem(m, "byte_fallback"));
    sbert_unigram *u = model_from_json(cJSON_GetObjectItem(m, "vocab"), unk_id, bf);
    *json_out = j;
    return u;
}

static int ids_equal(const cJSON *want, const int32_t *got, size_t n) {
    if ((size_t)cJSON_GetArraySize(want) != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (cJSON_GetArrayItem(want, (int)i)->valueint != got[i]) return 0;
    return 1;
}

static void check_words(const sbert_unigram *u, const char *rel, int min_lines) {
    char *txt = test_read_file(test_path(rel), NULL);
    CHECK(txt != NULL, "cannot read %s", rel);
    if (!txt || !u) {
        free(txt);
        return;
    }
    int lines = 0, mismatches = 0;
    size_t total_ids = 0, unk_words = 0;
    int32_t *ids = NULL;
    size_t cap = 0;
    for (char *line = txt; *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        cJSON *j = cJSON_Parse(line);
        if (!j) {
            CHECK(0, "%s line %d does not parse", rel, lines + 1);
        } else {
            char *owned;
            size_t wlen;
            const char *w = ref_str(j, "word", &wlen, &owned);
            cJSON *want = cJSON_GetObjectItem(j, "ids");
            size_t len = 0;
            sbert_status st = sbert_unigram_tokenize(u, w, wlen, &ids, &len, &cap);
            if (st != SBERT_OK || !ids_equal(want, ids, len)) {
                if (mismatches < 10) {
                    char *ws = cJSON_PrintUnformatted(want);
                    fprintf(stderr, "%s line %d: word \"%s\" want %s got", rel, lines + 1, w, ws);
                    for (size_t i = 0; i < len; i++) fprintf(stderr, " %d", ids[i]);
                    fprintf(stderr, " (%s)\n", st == SBERT_OK ? "ok" : sbert_last_error());
                    free(ws);
                }
                mismatches++;
            }
            for (size_t i = 0; i < len; i++)
                if (ids[i] == 3) {
                    unk_words++;
                    break;
                }
            total_ids += len;
            free(owned);
            cJSON_Delete(j);
        }
        lines++;
        line = nl ? nl + 1 : line + strlen(line);
    }
    printf("%s: %d words, %zu ids, %zu words with unk, %d mismatches\n", rel, lines, total_ids, unk_words,
           mismatches);
    CHECK(lines >= min_lines, "%s: only %d words", rel, lines);
    CHECK(mismatches == 0, "%s: %d of %d words differ from HF tokenizers", rel, mismatches, lines);
    free(ids);
    free(txt);
}

static void check_small(void) {
    const char *rel = "tests/data/tokenizers/xlmr-unigram/unigram_small.jsonl";
    char *txt = test_read_file(test_path(rel), NULL);
    CHECK(txt != NULL, "cannot read %s", rel);
    if (!txt) return;
    int models = 0, words = 0, refused = 0;
    for (char *line = txt; *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        cJSON *j = cJSON_Parse(line);
        CHECK(j != NULL, "%s line %d does not parse", rel, models + 1);
        if (j) {
            cJSON *unk = cJSON_GetObjectItem(j, "unk_id");
            sbert_unigram *u =
                model_from_json(cJSON_GetObjectItem(j, "vocab"), cJSON_IsNumber(unk) ? (int32_t)unk->valueint : -1,
                                cJSON_IsTrue(cJSON_GetObjectItem(j, "byte_fallback")));
            cJSON *ws = cJSON_GetObjectItem(j, "words"), *all = cJSON_GetObjectItem(j, "ids");
            for (int k = 0; u && k < cJSON_GetArraySize(ws); k++) {
                const char *w = cJSON_GetArrayItem(ws, k)->valuestring;
                cJSON *want = cJSON_GetArrayItem(all, k);
                int32_t *ids = NULL;
                size_t len = 0, cap = 0;
                sbert_status st = sbert_unigram_tokenize(u, w, strlen(w), &ids, &len, &cap);
                if (cJSON_IsNull(want)) {
                    refused++;
                    CHECK(st != SBERT_OK && len == 0, "model %d word \"%s\": HF refuses it, sbert gave %zu ids",
                          models, w, len);
                    CHECK(strstr(sbert_last_error(), "unk") != NULL, "message says why: %s", sbert_last_error());
                } else {
                    CHECK(st == SBERT_OK && ids_equal(want, ids, len), "model %d word \"%s\": ids differ (%s)",
                          models, w, st == SBERT_OK ? "ok" : sbert_last_error());
                }
                free(ids);
                words++;
            }
            sbert_unigram_free(u);
            cJSON_Delete(j);
        }
        models++;
        line = nl ? nl + 1 : line + strlen(line);
    }
    printf("%s: %d models, %d words (%d refused by HF)\n", rel, models, words, refused);
    CHECK(models >= 8 && words >= 35 && refused >= 1, "small cases incomplete");
    free(txt);
}

static void check_api(const sbert_unigram *u, const cJSON *json) {
    if (!u) return;
    const cJSON *vocab = cJSON_GetObjectItem(cJSON_GetObjectItem(json, "model"), "vocab");
    size_t n = (size_t)cJSON_GetArraySize(vocab);
    CHECK(sbert_unigram_vocab_size(u) == n, "vocab size %zu, want %zu", sbert_unigram_vocab_size(u), n);
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = cJSON_GetArrayItem(cJSON_GetArrayItem(vocab, (int)i), 0)->valuestring;
        const char *q = sbert_unigram_id_to_token(u, (int32_t)i);
        if (!q || strcmp(p, q) != 0 || sbert_unigram_token_to_id(u, p) != (int32_t)i) bad++;
    }
    CHECK(bad == 0, "%d pieces do not round-trip through token_to_id/id_to_token", bad);
    CHECK(sbert_unigram_id_to_token(u, -1) == NULL && sbert_unigram_id_to_token(u, (int32_t)n) == NULL,
          "out-of-range ids give NULL");
    CHECK(sbert_unigram_token_to_id(u, "no-such-piece-\xe2\x98\x83") == -1, "absent piece gives -1");
    CHECK(sbert_unigram_token_to_id(u, "") == -1, "empty piece gives -1");

    /* appending: ids go after what is already in the array */
    int32_t *ids = NULL;
    size_t len = 0, cap = 0;
    CHECK_OK(sbert_unigram_tokenize(u, "\xe2\x96\x81hello", 8, &ids, &len, &cap));
    size_t first = len;
    CHECK_OK(sbert_unigram_tokenize(u, "\xe2\x96\x81hello", 8, &ids, &len, &cap));
    CHECK(len == 2 * first && first > 0 && memcmp(ids, ids + first, first * sizeof *ids) == 0,
          "second call appends the same ids");
    CHECK_OK(sbert_unigram_tokenize(u, "", 0, &ids, &len, &cap));
    CHECK(len == 2 * first, "empty word adds nothing");
    free(ids);

    /* a long word (heap Viterbi table) gives the same ids as its parts would not; just check that
     * it works and covers the input: every id is valid */
    size_t big = 5000;
    char *w = malloc(big + 1);
    for (size_t i = 0; i < big; i++) w[i] = "abcdefgh xyz"[i % 12];
    w[big] = '\0';
    ids = NULL;
    len = cap = 0;
    CHECK_OK(sbert_unigram_tokenize(u, w, big, &ids, &len, &cap));
    int ok = len > 0;
    for (size_t i = 0; i < len; i++) ok &= ids[i] >= 0 && (size_t)ids[i] < n;
    CHECK(ok, "long word: %zu ids, all valid", len);
    free(ids);
    free(w);
}

static void check_bad_create(void) {
    sbert_unigram *u = NULL;
    const char *pieces[] = {"<unk>", "a", "\xff"};
    double scores[] = {0.0, -1.0, -2.0};
    CHECK(sbert_unigram_create(pieces, scores, 2, 2, 0, &u) == SBERT_ERR_FORMAT && !u, "unk_id out of range");
    CHECK(strstr(sbert_last_error(), "unk_id") != NULL, "message names unk_id: %s", sbert_last_error());
    CHECK(sbert_unigram_create(pieces, scores, 0, 0, 0, &u) == SBERT_ERR_FORMAT, "empty vocab with unk");
    CHECK(sbert_unigram_create(pieces, scores, 3, 0, 0, &u) == SBERT_ERR_FORMAT, "invalid UTF-8 piece");
    CHECK(strstr(sbert_last_error(), "piece 2") != NULL, "message names the piece: %s", sbert_last_error());
    CHECK_OK(sbert_unigram_create(pieces, scores, 0, -1, 0, &u));
    if (u) {
        int32_t *ids = NULL;
        size_t len = 0, cap = 0;
        CHECK(sbert_unigram_tokenize(u, "a", 1, &ids, &len, &cap) != SBERT_OK && len == 0,
              "empty model without unk refuses text");
        free(ids);
        sbert_unigram_free(u);
    }
}

int main(void) {
    cJSON *j = NULL, *jbf = NULL;
    sbert_unigram *u = load_model("tests/data/tokenizers/xlmr-unigram/tokenizer.json", &j);
    check_words(u, "tests/data/tokenizers/xlmr-unigram/unigram_words.jsonl", 4000);
    check_api(u, j);
    sbert_unigram_free(u);
    cJSON_Delete(j);

    u = load_model("tests/data/tokenizers/xlmr-unigram/tokenizer_bf.json", &jbf);
    check_words(u, "tests/data/tokenizers/xlmr-unigram/unigram_words_bf.jsonl", 1500);
    sbert_unigram_free(u);
    cJSON_Delete(jbf);

    check_small();
    check_bad_create();
    return test_summary();
}
