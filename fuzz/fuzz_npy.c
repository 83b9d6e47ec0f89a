/*
 * fuzz/fuzz_npy.c -- libFuzzer target for the .npy reader (io/npy.h).
 *
 * The input is a whole .npy file image given to sbert_npy_parse_f32. When it
 * parses, the matrix must account for exactly the bytes after the header and
 * every value is touched (ASan checks the allocation); writing it back with
 * sbert_npy_write_f32 is not done here (it fsyncs: too slow per input).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    float *m = NULL;
    size_t rows = 0, cols = 0;
    int nd = -1;
    if (sbert_npy_parse_f32(data, size, "fuzz.npy", &m, &rows, &cols, &nd) != SBERT_OK) {
        if (m) abort(); /* no allocation escapes a failure */
        return 0;
    }
    if (nd < 0 || nd > 2 || rows * cols * 4 > size) abort();
    if ((rows * cols == 0) != (m == NULL)) abort();
    volatile float acc = 0.0f;
    for (size_t i = 0; i < rows * cols; i++) acc += m[i];
    (void)acc;
    free(m);
    return 0;
}
