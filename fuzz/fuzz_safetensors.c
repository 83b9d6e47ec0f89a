/*
 * fuzz/fuzz_safetensors.c -- libFuzzer target for the safetensors reader.
 *
 * The input is taken as a whole safetensors file image and opened with
 * sbert_st_open_memory (the same validation sbert_st_open runs on a mapped
 * file). When it validates, every tensor is looked up by name and every
 * float tensor converted with sbert_st_read_f32, with and without the shape
 * check, so a header that passes validation but lies about sizes would be
 * caught by ASan as an out-of-bounds read. Invariants the validator promises
 * are asserted: tensors tile the data area in order and end at the file end.
 *
 * Build: CC=clang cmake -S . -B build-fuzz -DSBERT_FUZZ=ON && cmake --build build-fuzz
 * Run:   fuzz/run.sh build-fuzz   (seeds in fuzz/corpus/fuzz_safetensors/)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sbert_safetensors *st = NULL;
    if (sbert_st_open_memory(data, size, "fuzz.safetensors", &st) != SBERT_OK) return 0;
    size_t n = sbert_st_count(st);
    const uint8_t *expect = NULL;
    for (size_t i = 0; i < n; i++) {
        const sbert_st_tensor *t = sbert_st_at(st, i);
        if (expect && (const uint8_t *)t->data != expect) abort(); /* tiling broken */
        expect = (const uint8_t *)t->data + t->nbytes;
        if (sbert_st_find(st, t->name) != t) abort(); /* names are unique */
        if (t->dtype != SBERT_DT_F32 && t->dtype != SBERT_DT_F16 && t->dtype != SBERT_DT_BF16 &&
            t->dtype != SBERT_DT_F64)
            continue;
        size_t numel = t->nbytes * 8 / (size_t)sbert_dtype_bits(t->dtype);
        if (numel > (1u << 22)) continue; /* keep each run cheap */
        float *dst = malloc((numel ? numel : 1) * sizeof(float));
        if (!dst) continue;
        if (sbert_st_read_f32(st, t->name, t->shape, t->ndim, dst) != SBERT_OK) abort();
        int64_t wrong[1] = {-1};
        if (sbert_st_read_f32(st, t->name, wrong, 1, dst) == SBERT_OK) abort();
        free(dst);
    }
    if (expect && expect != data + size) abort(); /* must end at the end of the file */
    (void)sbert_st_metadata(st, "format");
    sbert_st_close(st);
    return 0;
}
