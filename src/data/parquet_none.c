/*
 * data/parquet_none.c -- data/parquet.h when the build has no Parquet reader
 * (SBERT_PARQUET off: CMake did not find pyarrow's Arrow/Parquet C++ libraries).
 */
#include <stdio.h>
#include <string.h>

#include "data/parquet.h"

#ifndef SBERT_HAVE_PARQUET
int sbert_pq_available(void) { return 0; }

int sbert_pq_read(const char *path, sbert_pq_table *out, char *err, size_t errcap) {
    memset(out, 0, sizeof *out);
    snprintf(err, errcap,
             "%s: this build of sbert has no Parquet reader (it uses Apache Arrow's, from the pyarrow package: "
             "pip install pyarrow, then rebuild); or convert the file to .jsonl",
             path);
    return -1;
}

void sbert_pq_free(sbert_pq_table *t) { (void)t; }
#endif
