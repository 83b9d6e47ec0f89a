/*
 * data/parquet.h -- Parquet files through Apache Arrow's Parquet reader (C++,
 * from the pyarrow wheel: libparquet / libarrow and their headers), behind a
 * small C interface; built when CMake finds pyarrow (SBERT_PARQUET), else
 * .parquet files are refused with a message saying how to get it.
 *
 * A column must hold texts (string), numbers (integer, floating point,
 * boolean) or lists of numbers of one length (list / large_list /
 * fixed_size_list); any other type (a struct, a map, a list of texts, a
 * nested list, binary...) and null cells are errors naming the file, the
 * column (and the row).
 */
#ifndef SBERT_DATA_PARQUET_H
#define SBERT_DATA_PARQUET_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    char *name;
    int kind;     /* 0 text, 1 number, 2 list of numbers */
    size_t width; /* numbers per row (kind 2) */
    char **text;  /* [n_rows] (kind 0), malloc'd */
    double *num;  /* [n_rows] (kind 1) or [n_rows * width] (kind 2) */
} sbert_pq_column;

typedef struct {
    size_t n_rows, n_cols;
    sbert_pq_column *cols;
} sbert_pq_table;

/* 1 when this build reads Parquet. */
int sbert_pq_available(void);
/* Read `path`; 0 on success, else -1 with a message in err. */
int sbert_pq_read(const char *path, sbert_pq_table *out, char *err, size_t errcap);
void sbert_pq_free(sbert_pq_table *t);

#ifdef __cplusplus
}
#endif

#endif
