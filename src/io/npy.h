/*
 * io/npy.h -- NumPy .npy files holding a float32 matrix: the format
 * `sbert encode --output x.npy` writes and numpy.load() reads.
 *
 * Writing produces format version 1.0: the magic "\x93NUMPY", version 1.0,
 * a u16 little-endian header length, the header dict
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (rows, cols), }
 * padded with spaces and ended by '\n' so that the data starts at a multiple
 * of 64 bytes, then rows*cols little-endian float32 values, row-major. The
 * file is replaced atomically (io/atomic.h).
 *
 * Reading accepts versions 1.0, 2.0 and 3.0 with descr '<f4' (what numpy
 * writes for float32 on little-endian hosts), C order, and a 0-D, 1-D or 2-D
 * shape; the data must fill the rest of the file exactly.
 */
#ifndef SBERT_IO_NPY_H
#define SBERT_IO_NPY_H

#include <stddef.h>

#include "sbert.h"

/* data: [rows, cols] row-major. */
sbert_status sbert_npy_write_f32(const char *path, const float *data, size_t rows, size_t cols);

/* *data: [rows, cols], malloc'd (free with free(); NULL when rows*cols == 0).
 * A 1-D array of n values reads as rows = n, cols = 1, a 0-D one as 1 x 1;
 * *ndim (if not NULL) receives the stored rank (0, 1 or 2). Errors name the file and the field. */
sbert_status sbert_npy_read_f32(const char *path, float **data, size_t *rows, size_t *cols,
                                int *ndim);

/* The same on an in-memory image of a .npy file (`path` names it in
 * messages); the values are copied out, `image` is not kept. */
sbert_status sbert_npy_parse_f32(const void *image, size_t len, const char *path, float **data,
                                 size_t *rows, size_t *cols, int *ndim);

#endif
