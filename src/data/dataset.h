/*
 * data/dataset.h -- training and evaluation data from local files, with the
 * sentence-transformers column rules.
 *
 * Formats (chosen by extension, optionally followed by .gz):
 *   .jsonl / .json  one JSON object per line; columns are the keys of the
 *                   first row, in order; every row must have the same keys
 *   .csv            comma separated, first line is the header, RFC 4180 quoting
 *   .tsv            tab separated, first line is the header, same quoting
 *
 * Column rules (sentence-transformers base/data_collator.py): the label is
 * the first column found among "label", "labels", "score", "scores"; every
 * other column, in file order, is an input (column 0 the anchor, column 1 the
 * positive, 2.. negatives). Recipes may select and rename columns.
 *
 * Errors name the file, the line and the column.
 */
#ifndef SBERT_DATA_DATASET_H
#define SBERT_DATA_DATASET_H

#include <stddef.h>

#include "sbert.h"

/* TEXT_LIST / NUMBER_LIST: a JSON array per row (JSONL only), e.g. the
 * documents and labels of a listwise row (query, [docs], [scores]); the kind
 * comes from the first row whose array is not empty. Lists may have
 * different lengths in different rows (ragged); whether lengths must agree
 * across columns is up to the consumer. */
typedef enum {
    SBERT_COL_TEXT = 0,
    SBERT_COL_NUMBER = 1,
    SBERT_COL_TEXT_LIST = 2,
    SBERT_COL_NUMBER_LIST = 3
} sbert_column_kind;

/* A NUMBER_LIST label also comes from a CSV/TSV cell written as a JSON list
 * ("[0.1, 0.2]", one length for every row) and from a Parquet list column:
 * teacher embeddings for MSELoss, teacher scores for MarginMSELoss /
 * DistillKLDivLoss, listwise labels for CrossEncoder list losses. */
typedef struct {
    char *name;
    sbert_column_kind kind;
    char **text;  /* [n_rows] when kind == TEXT (NUL-terminated UTF-8) */
    double *num;  /* [n_rows] when kind == NUMBER */
    /* Lists: row r holds items off[r] .. off[r+1] of items (TEXT_LIST) or
     * nums (NUMBER_LIST). */
    size_t *off;   /* [n_rows + 1] */
    char **items;  /* TEXT_LIST */
    double *nums;  /* NUMBER_LIST */
} sbert_column;

typedef struct {
    char *path;
    size_t n_rows, n_cols;
    sbert_column *cols;
    size_t *line; /* [n_rows] 1-based line of each row in the file, for messages */
} sbert_dataset;

/* Load `path`. The label column (if any) is converted to numbers: a value
 * that is not a number is an error naming file, line, column and value. */
sbert_status sbert_dataset_load(const char *path, sbert_dataset **out);
void sbert_dataset_free(sbert_dataset *ds);

/* Index of the label column (label/labels/score/scores), or -1. */
int sbert_dataset_label_column(const sbert_dataset *ds);
/* Number of input (non-label) columns and the index of input i. */
size_t sbert_dataset_n_inputs(const sbert_dataset *ds);
int sbert_dataset_input_column(const sbert_dataset *ds, size_t i);
/* Index of the named column, or -1. */
int sbert_dataset_find_column(const sbert_dataset *ds, const char *name);

/* Keep only `names`, in that order (an unknown name is an error listing the
 * columns the file has). */
sbert_status sbert_dataset_select_columns(sbert_dataset *ds, const char *const *names, size_t n);
sbert_status sbert_dataset_rename_column(sbert_dataset *ds, const char *from, const char *to);

/* Every input cell must be a non-empty string: the first violation is an
 * error naming file, line and column. List columns are refused (inputs and
 * label): only CrossEncoder list losses take them. */
sbert_status sbert_dataset_check_inputs(const sbert_dataset *ds);
/* The same, with list columns allowed (allow_lists != 0): every item of a
 * text list must be a non-empty string too. */
sbert_status sbert_dataset_check_inputs_ex(const sbert_dataset *ds, int allow_lists);
/* 1 for a TEXT_LIST / NUMBER_LIST column. */
int sbert_column_is_list(const sbert_column *c);
/* Numbers a row: 1 for NUMBER; for NUMBER_LIST the common length of the
 * n_rows lists (row r at nums + off[r]), 0 when they differ (ragged) or the
 * column is empty; 0 for text columns. */
size_t sbert_column_width(const sbert_column *c, size_t n_rows);

/* Insert a text column named `name` at position `at` (0..n_cols) whose
 * row r is texts[r] (copied; n_rows texts). */
sbert_status sbert_dataset_insert_text_column(sbert_dataset *ds, size_t at, const char *name,
                                              const char *const *texts);

/* Keep rows [0, n) only (SMOKE_TEST slices, max_samples). */
void sbert_dataset_truncate(sbert_dataset *ds, size_t n);

#endif
