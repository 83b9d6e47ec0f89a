/*
 * fuzz/fuzz_dataset.c -- libFuzzer target for the dataset loader
 * (data/dataset.h): JSONL, JSON, CSV, TSV, plain or gzipped.
 *
 * Input: byte 0 picks the file name (0 .jsonl, 1 .csv, 2 .tsv, 3 .json,
 * 4 .csv.gz and 5 .jsonl.gz written gzip-compressed, 6 .tsv.gz written as is:
 * zlib reads plain files transparently); the rest is the file's content.
 * When it loads, the invariants a trainer relies on are checked (every row
 * has every column, numbers are finite where the label must be, line numbers
 * grow) and the column helpers and both batch samplers run on it.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "data/dataset.h"
#include "data/sampler.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const sbert_dataset *ds) {
    if (ds->n_rows == 0 || ds->n_cols == 0) abort();
    for (size_t c = 0; c < ds->n_cols; c++) {
        const sbert_column *col = &ds->cols[c];
        if (!col->name) abort();
        if ((col->kind == SBERT_COL_TEXT) != (col->text != NULL)) abort();
        if ((col->kind == SBERT_COL_NUMBER) != (col->num != NULL)) abort();
        for (size_t r = 0; r < ds->n_rows; r++) {
            if (col->text && !col->text[r]) abort();
            if (col->text) (void)strlen(col->text[r]);
            if (col->num) (void)col->num[r];
        }
    }
    for (size_t r = 1; r < ds->n_rows; r++)
        if (ds->line[r] <= ds->line[r - 1]) abort();
    /* numbers (labels above all) are finite: 1e999 must not load as inf */
    for (size_t c = 0; c < ds->n_cols; c++)
        for (size_t r = 0; ds->cols[c].num && r < ds->n_rows; r++)
            if (!isfinite(ds->cols[c].num[r])) abort();
    (void)sbert_dataset_label_column(ds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > (1u << 20)) return 0;
    static const char *const names[] = {"d.jsonl", "d.csv", "d.tsv", "d.json",
                                        "d.csv.gz", "d.jsonl.gz", "d.tsv.gz"};
    unsigned sel = data[0] % 7;
    const char *path = fuzz_path(fuzz_dir(), names[sel]);
    if (sel == 4 || sel == 5) {
        gzFile g = gzopen(path, "wb1");
        if (!g) abort();
        if (size > 1 && gzwrite(g, data + 1, (unsigned)(size - 1)) != (int)(size - 1)) abort();
        if (gzclose(g) != Z_OK) abort();
    } else {
        fuzz_write(path, data + 1, size - 1);
    }
    sbert_dataset *ds = NULL;
    if (sbert_dataset_load(path, &ds) != SBERT_OK) {
        if (ds) abort(); /* nothing half-built escapes a failure */
        return 0;
    }
    check(ds);
    (void)sbert_dataset_check_inputs(ds);
    size_t n_in = sbert_dataset_n_inputs(ds);
    for (size_t i = 0; i < n_in; i++)
        if (sbert_dataset_input_column(ds, i) < 0) abort();
    /* samplers (NO_DUPLICATES needs text inputs) */
    sbert_batches b;
    memset(&b, 0, sizeof b);
    if (sbert_sampler_epoch(ds, SBERT_SAMPLER_BATCH, 3, 0, 42, 0, &b) == SBERT_OK) {
        if (b.n_batches == 0 || b.offsets[b.n_batches] != ds->n_rows) abort();
        sbert_batches_free(&b);
    }
    memset(&b, 0, sizeof b);
    if (sbert_sampler_epoch(ds, SBERT_SAMPLER_NO_DUPLICATES, 2, 1, 7, 1, &b) == SBERT_OK) {
        for (size_t k = 0; k < b.n_batches; k++)
            if (b.offsets[k + 1] < b.offsets[k]) abort();
        for (size_t k = 0; b.n_batches && k < b.offsets[b.n_batches]; k++) /* no batch: offsets NULL */
            if (b.idx[k] >= ds->n_rows) abort();
        sbert_batches_free(&b);
    }
    /* renaming the first column to "score" converts it (or fails cleanly) */
    char first[64];
    snprintf(first, sizeof first, "%s", ds->cols[0].name);
    if (sbert_dataset_rename_column(ds, first, "score") == SBERT_OK) check(ds);
    const char *keep = ds->cols[ds->n_cols - 1].name;
    if (sbert_dataset_select_columns(ds, &keep, 1) == SBERT_OK) {
        if (ds->n_cols != 1) abort();
        check(ds);
    }
    sbert_dataset_truncate(ds, 1);
    check(ds);
    sbert_dataset_free(ds);
    return 0;
}
