/*
 * modules/normalize.h -- the sentence-transformers `Normalize` module:
 * L2-normalizes each sentence embedding, x / max(||x||_2, 1e-12), exactly
 * torch.nn.functional.normalize(x, p=2, dim=-1).
 *
 * Directory `<k>_Normalize/`: v5 writes nothing (the folder is often empty or
 * missing, which is fine); v6 writes config.json with module_input_name /
 * module_output_name, of which only "sentence_embedding" is supported.
 */
#ifndef SBERT_MODULES_NORMALIZE_H
#define SBERT_MODULES_NORMALIZE_H

#include <stddef.h>

#include "modules/module.h"
#include "sbert.h"

/* Check `dir`/config.json if it exists (a missing dir or file is fine). */
sbert_status sbert_normalize_load(const char *dir);

/* x: [n, dim], normalized in place. */
void sbert_normalize_rows(float *x, size_t n, size_t dim);

/* Backward of  y = x / max(||x||_2, 1e-12)  row-wise:
 *   ||x|| >= 1e-12:  dx += (dy - y (y . dy)) / ||x||
 *   ||x|| <  1e-12:  dx += dy / 1e-12    (torch: clamp_min passes no gradient to the norm)
 * dx, dy, x: [n, dim]; x is the forward INPUT; dx must not alias dy or x. */
void sbert_normalize_backward(float *dx, const float *dy, const float *x, size_t n, size_t dim);

/* ---- the Normalize module (module.h) */
sbert_status sbert_normalize_module_load(const sbert_module_load_ctx *ctx, sbert_module **out);
/* A new Normalize module over embeddings of width dim. */
sbert_status sbert_normalize_module_new(size_t dim, sbert_module **out);

#endif
