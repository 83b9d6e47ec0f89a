/*
 * io/safetensors.h -- reading (mmap, fully validated) and writing (8-byte
 * aligned, atomic) safetensors files.
 *
 * Format: u64 LE header length N, N bytes of JSON header
 *   {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *    "__metadata__": {"k": "v"}}
 * then the data buffer; offsets are relative to the buffer start.
 */
#ifndef SBERT_IO_SAFETENSORS_H
#define SBERT_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "sbert.h"

typedef enum {
    SBERT_DT_F32, SBERT_DT_F16, SBERT_DT_BF16, SBERT_DT_F64,
    SBERT_DT_I64, SBERT_DT_I32, SBERT_DT_I16, SBERT_DT_I8,
    SBERT_DT_U64, SBERT_DT_U32, SBERT_DT_U16, SBERT_DT_U8,
    SBERT_DT_BOOL, SBERT_DT_OTHER /* a known 8-bit float etc.: loadable, not convertible */
} sbert_dtype;

#define SBERT_ST_MAX_DIMS 8

typedef struct {
    const char *name;
    sbert_dtype dtype;
    const char *dtype_name; /* as written in the file, e.g. "BF16" */
    int ndim;
    int64_t shape[SBERT_ST_MAX_DIMS];
    size_t nbytes;
    const void *data; /* points into the mapping */
} sbert_st_tensor;

typedef struct sbert_safetensors sbert_safetensors;

/* Map and validate `path`. Every header check is done here: declared length
 * within the file, JSON object, known dtype, offsets inside the data area,
 * shape x dtype size = byte range, no overlap, no holes, no duplicates. */
sbert_status sbert_st_open(const char *path, sbert_safetensors **out);
/* The same checks on an in-memory image of a file (for fuzzing and tests).
 * `data` is borrowed, not copied: it must outlive the handle. `name` is used
 * in messages and returned by sbert_st_path(). */
sbert_status sbert_st_open_memory(const void *data, size_t len, const char *name,
                                  sbert_safetensors **out);
void sbert_st_close(sbert_safetensors *st);
const char *sbert_st_path(const sbert_safetensors *st);

/* Tensors are numbered in the order their data lies in the file (offset
 * order); sbert_st_at returns NULL past the end. Tensor pointers, names and
 * data stay valid until sbert_st_close. */
size_t sbert_st_count(const sbert_safetensors *st);
const sbert_st_tensor *sbert_st_at(const sbert_safetensors *st, size_t i);
/* NULL if absent. */
const sbert_st_tensor *sbert_st_find(const sbert_safetensors *st, const char *name);
/* A __metadata__ value, or NULL. */
const char *sbert_st_metadata(const sbert_safetensors *st, const char *key);

/* Size in bits of one element of `dt` (0 for SBERT_DT_OTHER: see the tensor's
 * nbytes instead) and the canonical dtype string ("F32", ...). */
int sbert_dtype_bits(sbert_dtype dt);
const char *sbert_dtype_name(sbert_dtype dt);

/* Copy tensor `name` into dst as fp32 (F32, F16, BF16, F64 accepted). When
 * `shape` is not NULL the tensor must have exactly that shape; otherwise the
 * error names the file, the tensor, the expected and the actual shape. A
 * missing tensor is an error naming the file and the tensor. */
sbert_status sbert_st_read_f32(const sbert_safetensors *st, const char *name, const int64_t *shape,
                               int ndim, float *dst);

/* One tensor to write (fp32 data, row-major). */
typedef struct {
    const char *name;
    const float *data;
    int ndim;
    int64_t shape[SBERT_ST_MAX_DIMS];
} sbert_st_entry;

/* Write an F32 safetensors file atomically (temp file + fsync + rename), data
 * 8-byte aligned, header padded with spaces to a multiple of 8, tensors sorted
 * by name, "__metadata__": {"format": "pt"} plus the `n_meta` extra
 * key/value pairs in meta_kv ([k0, v0, k1, v1, ...]). */
sbert_status sbert_st_write(const char *path, const sbert_st_entry *entries, size_t n,
                            const char *const *meta_kv, size_t n_meta);

#endif
