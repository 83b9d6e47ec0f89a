/*
 * tests/test_data.c -- JSONL/CSV/TSV(.gz) loading, the column rules, bad
 * input messages, and the batch samplers (NO_DUPLICATES against batches
 * written by sentence-transformers' NoDuplicatesBatchSampler for the same
 * permutation: tools/gen_data_refs.py).
 */
#include <errno.h>
#include <cjson/cJSON.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/dataset.h"
#include "data/sampler.h"
#include "io/file.h"
#include "test_util.h"

static char g_tmp[256];

static const char *write_tmp(const char *name, const char *content) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", g_tmp, name);
    FILE *f = fopen(path, "wb");
    fputs(content, f);
    fclose(f);
    return path;
}

static void expect_error(const char *name, const char *content, const char *needle) {
    sbert_dataset *ds = NULL;
    sbert_status st = sbert_dataset_load(write_tmp(name, content), &ds);
    CHECK(st != SBERT_OK && strstr(sbert_last_error(), needle) != NULL,
          "%s: expected an error containing '%s', got status %d: %s", name, needle, st, sbert_last_error());
    sbert_dataset_free(ds);
}

static void check_same(const sbert_dataset *a, const sbert_dataset *b, const char *what) {
    CHECK(a->n_rows == b->n_rows && a->n_cols == b->n_cols, "%s: shape %zux%zu vs %zux%zu", what, a->n_rows,
          a->n_cols, b->n_rows, b->n_cols);
    if (a->n_rows != b->n_rows || a->n_cols != b->n_cols) return;
    size_t bad = 0;
    for (size_t c = 0; c < a->n_cols; c++) {
        CHECK(strcmp(a->cols[c].name, b->cols[c].name) == 0, "%s: column %zu name", what, c);
        CHECK(a->cols[c].kind == b->cols[c].kind, "%s: column %zu kind", what, c);
        for (size_t r = 0; r < a->n_rows; r++)
            bad += a->cols[c].kind == SBERT_COL_TEXT ? strcmp(a->cols[c].text[r], b->cols[c].text[r]) != 0
                                                     : a->cols[c].num[r] != b->cols[c].num[r];
    }
    CHECK(bad == 0, "%s: %zu cells differ", what, bad);
}

static void check_batches(const sbert_batches *got, const cJSON *want, const char *what) {
    CHECK(got->n_batches == (size_t)cJSON_GetArraySize(want), "%s: %zu batches, reference %d", what,
          got->n_batches, cJSON_GetArraySize(want));
    size_t b = 0, bad = 0;
    const cJSON *batch, *v;
    cJSON_ArrayForEach(batch, want) {
        if (b >= got->n_batches) break;
        size_t k = got->offsets[b];
        if ((size_t)cJSON_GetArraySize(batch) != got->offsets[b + 1] - got->offsets[b]) bad++;
        else cJSON_ArrayForEach(v, batch) bad += got->idx[k++] != (size_t)v->valueint;
        b++;
    }
    CHECK(bad == 0, "%s: %zu batches differ from sentence-transformers", what, bad);
}

int main(void) {
    /* a fresh private directory (mkdtemp: never one left over by an earlier run) */
    snprintf(g_tmp, sizeof g_tmp, "/tmp/sbert_test_data_XXXXXX");
    if (!mkdtemp(g_tmp)) {
        CHECK(0, "mkdtemp %s: %s", g_tmp, strerror(errno));
        return test_summary();
    }
    sbert_dataset *j = NULL, *c = NULL, *t = NULL;
    CHECK_OK(sbert_dataset_load(test_path("tests/data/datasets/snli_pairs.jsonl"), &j));
    CHECK_OK(sbert_dataset_load(test_path("tests/data/datasets/snli_pairs.csv"), &c));
    CHECK_OK(sbert_dataset_load(test_path("tests/data/datasets/snli_pairs.tsv.gz"), &t));
    if (!j || !c || !t) return test_summary();
    CHECK(j->n_rows == 300 && j->n_cols == 3, "jsonl shape %zux%zu", j->n_rows, j->n_cols);
    CHECK(sbert_dataset_label_column(j) == 2 && sbert_dataset_n_inputs(j) == 2, "label column found");
    CHECK(sbert_dataset_input_column(j, 1) == 1, "input 1 is column 1");
    check_same(j, c, "jsonl vs csv");
    check_same(j, t, "jsonl vs tsv.gz");
    CHECK_OK(sbert_dataset_check_inputs(j));

    /* select + rename: put hypothesis first, rename premise -> anchor. */
    const char *sel[] = {"hypothesis", "premise"};
    CHECK_OK(sbert_dataset_select_columns(c, sel, 2));
    CHECK(c->n_cols == 2 && sbert_dataset_label_column(c) == -1, "selected 2 columns, no label");
    CHECK_OK(sbert_dataset_rename_column(c, "premise", "anchor"));
    CHECK(sbert_dataset_find_column(c, "anchor") == 1, "renamed");
    const char *bad_sel[] = {"hypotesis"};
    CHECK(sbert_dataset_select_columns(c, bad_sel, 1) == SBERT_ERR_INVALID_ARG &&
              strstr(sbert_last_error(), "hypotesis") && strstr(sbert_last_error(), "hypothesis"),
          "unknown column lists the available ones: %s", sbert_last_error());

    /* NO_DUPLICATES: same batches as sentence-transformers for the same permutation. */
    cJSON *ref = NULL;
    CHECK_OK(sbert_json_load(test_path("tests/data/datasets/nodup_ref.json"), &ref));
    if (ref) {
        size_t perm[300], i = 0;
        const cJSON *v;
        cJSON_ArrayForEach(v, cJSON_GetObjectItem(ref, "perm")) perm[i++] = (size_t)v->valueint;
        size_t bs = (size_t)cJSON_GetObjectItem(ref, "batch_size")->valueint;
        sbert_batches b = {0};
        CHECK_OK(sbert_no_duplicates_pass(j, perm, bs, 0, &b));
        check_batches(&b, cJSON_GetObjectItem(ref, "keep_last"), "NO_DUPLICATES keep_last");
        sbert_batches_free(&b);
        CHECK_OK(sbert_no_duplicates_pass(j, perm, bs, 1, &b));
        check_batches(&b, cJSON_GetObjectItem(ref, "drop_last"), "NO_DUPLICATES drop_last");
        sbert_batches_free(&b);
        cJSON_Delete(ref);
    }

    /* Epoch samplers: deterministic per (seed, epoch); BATCH_SAMPLER is a permutation. */
    sbert_batches e1 = {0}, e2 = {0}, e3 = {0};
    CHECK_OK(sbert_sampler_epoch(j, SBERT_SAMPLER_BATCH, 32, 0, 42, 0, &e1));
    CHECK(e1.n_batches == 10 && e1.offsets[10] == 300, "BATCH_SAMPLER: %zu batches", e1.n_batches);
    int seen[300] = {0}, dup = 0;
    for (size_t k = 0; k < e1.offsets[e1.n_batches]; k++) dup += seen[e1.idx[k]]++ > 0;
    CHECK(dup == 0, "BATCH_SAMPLER covers each row once");
    CHECK_OK(sbert_sampler_epoch(j, SBERT_SAMPLER_BATCH, 32, 0, 42, 0, &e2));
    CHECK(memcmp(e1.idx, e2.idx, 300 * sizeof(size_t)) == 0, "same seed and epoch, same order");
    CHECK_OK(sbert_sampler_epoch(j, SBERT_SAMPLER_BATCH, 32, 1, 42, 1, &e3));
    CHECK(e3.n_batches == 9 && memcmp(e1.idx, e3.idx, 288 * sizeof(size_t)) != 0,
          "next epoch reshuffles; drop_last drops the tail");
    sbert_batches_free(&e1); sbert_batches_free(&e2); sbert_batches_free(&e3);
    CHECK_OK(sbert_sampler_epoch(j, SBERT_SAMPLER_NO_DUPLICATES, 16, 0, 42, 0, &e1));
    int clashes = 0;
    for (size_t b = 0; b < e1.n_batches; b++)
        for (size_t x = e1.offsets[b]; x < e1.offsets[b + 1]; x++)
            for (size_t y = x + 1; y < e1.offsets[b + 1]; y++)
                for (int cx = 0; cx < 2; cx++)
                    for (int cy = 0; cy < 2; cy++)
                        clashes += strcmp(j->cols[cx].text[e1.idx[x]], j->cols[cy].text[e1.idx[y]]) == 0;
    CHECK(clashes == 0 && e1.n_batches >= 19, "NO_DUPLICATES epoch: %zu batches, %d clashes", e1.n_batches, clashes);
    sbert_batches_free(&e1);
    sbert_sampler_type ty;
    CHECK(sbert_sampler_parse("no_duplicate", &ty) == SBERT_ERR_INVALID_ARG, "unknown sampler rejected");

    /* Bad input: each message names the file, the line and what is wrong. */
    expect_error("fields.csv", "a,b,label\nx,y,1\nx,y\n", ":3: row has 2 fields but the header has 3");
    expect_error("label.tsv", "a\tb\tscore\nx\ty\t0.5\nx\ty\thigh\n", ":3: column 'score' is the label and must be numeric, but holds 'high'");
    expect_error("quote.csv", "a,b\n\"x,y\n", "unterminated quoted field");
    expect_error("obj.jsonl", "{\"a\": \"x\"}\n[1, 2]\n", ":2: not a JSON object");
    expect_error("keys.jsonl", "{\"a\": \"x\", \"b\": \"y\"}\n{\"a\": \"x\", \"c\": \"y\"}\n",
                 "keys.jsonl:2: the row's keys differ from the first row's ('a', 'b'): missing 'b'; unexpected 'c'");
    /* A row with more or fewer keys than the first (this used to read the
     * size of an already deleted object: a crash, exit 139). */
    expect_error("morekeys.jsonl",
                 "{\"a\": \"x\", \"b\": \"y\"}\n\n{\"b\": \"y\", \"a\": \"x\"}\n{\"a\": \"x\", \"b\": \"y\", \"label\": 1}\n",
                 "morekeys.jsonl:4: the row's keys differ from the first row's ('a', 'b'): unexpected 'label'");
    expect_error("fewerkeys.jsonl", "{\"a\": \"x\", \"b\": \"y\", \"score\": 0.5}\n{\"score\": 1, \"a\": \"x\"}\n",
                 "fewerkeys.jsonl:2: the row's keys differ from the first row's ('a', 'b', 'score'): missing 'b'");
    expect_error("dupkeys.jsonl", "{\"a\": \"x\", \"b\": \"y\"}\n{\"a\": \"x\", \"a\": \"y\"}\n",
                 "dupkeys.jsonl:2: key 'a' appears twice in the row");
    expect_error("dupfirst.jsonl", "{\"a\": \"x\", \"a\": \"y\"}\n", "dupfirst.jsonl:1: duplicate column name 'a'");
    expect_error("type.jsonl", "{\"a\": \"x\"}\n{\"a\": 3}\n", ":2: column 'a' must be a string");
    expect_error("utf8.csv", "a,b\nok,fine\nok,bad \xc3\x28\n", "utf8.csv:3: column 'b' is not valid UTF-8 (byte 0xC3 at byte 5");
    expect_error("utf8.jsonl", "{\"a\": \"x\"}\n{\"a\": \"\xff\"}\n", "utf8.jsonl:2: column 'a' is not valid UTF-8 (byte 0xFF at byte 1");
    expect_error("inf.jsonl", "{\"a\": \"x\", \"score\": 0.5}\n{\"a\": \"y\", \"score\": 1e999}\n",
                 "inf.jsonl:2: column 'score' holds a number too large for a double");
    expect_error("empty.csv", "", "empty");
    expect_error("rows.csv", "a,b\n", "no data rows");
    expect_error("data.parquet", "x", "data.parquet"); /* not a Parquet file, or no Parquet reader in this build */
    expect_error("data.xlsx", "x", "unknown data format");
    sbert_dataset *d = NULL;
    CHECK(sbert_dataset_load("/nonexistent/train.jsonl", &d) == SBERT_ERR_IO &&
              strstr(sbert_last_error(), "/nonexistent/train.jsonl"), "missing file named: %s", sbert_last_error());
    {
        char dirp[600];
        snprintf(dirp, sizeof dirp, "%s/adir.jsonl", g_tmp);
        mkdir(dirp, 0755);
        CHECK(sbert_dataset_load(dirp, &d) == SBERT_ERR_IO && !d &&
                  strstr(sbert_last_error(), "adir.jsonl: is a directory, not a file"),
              "a directory named like a dataset: %s", sbert_last_error());
        rmdir(dirp);
    }
    CHECK_OK(sbert_dataset_load(write_tmp("blank.jsonl", "{\"anchor\": \"a\", \"positive\": \"  \"}\n"), &d));
    if (d) {
        CHECK(sbert_dataset_check_inputs(d) == SBERT_ERR_FORMAT &&
                  strstr(sbert_last_error(), ":1: column 'positive' is an empty string"),
              "empty string named: %s", sbert_last_error());
        sbert_dataset_free(d);
    }
    CHECK_OK(sbert_dataset_load(write_tmp("quoted.csv", "a,label\r\n\"he said \"\"hi\"\"\nok\",2.5\r\n"), &d));
    if (d) {
        CHECK(strcmp(d->cols[0].text[0], "he said \"hi\"\nok") == 0 && d->cols[1].num[0] == 2.5,
              "RFC 4180 quotes, CRLF and embedded newline");
        sbert_dataset_free(d);
    }
    sbert_dataset_free(j); sbert_dataset_free(c); sbert_dataset_free(t);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_tmp);
    CHECK(system(cmd) == 0, "cleanup");
    return test_summary();
}
