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

#include "sbert.h"

/* Check `dir`/config.json if it exists (a missing dir or file is fine). */
sbert_status sbert_normalize_load(const char *dir);

/* x: [n, dim], normalized in place. */
void sbert_normalize_rows(float *x, size_t n, size_t dim);

#endif
