/*
 * cli/sparse_io.c -- writing SparseEncoder output (sparse rows from
 * sbert_sparse_encode):
 *
 *   .jsonl   one JSON object per text: {"<token id>": weight, ...} in
 *            ascending id order, or {"<token>": weight, ...} (--tokens), or
 *            with --decode K the K largest as [["token", weight], ...]
 *            (SparseEncoder.decode(e, top_k=K));
 *   .npz     a scipy.sparse CSR matrix as scipy.sparse.save_npz writes it
 *            (uncompressed zip of data.npy float32, indices.npy int32,
 *            indptr.npy int64, format.npy b'csr', shape.npy int64 (2,)):
 *            scipy.sparse.load_npz(path) reads it back.
 * Weights are printed with %.9g (float32 round trip).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "cli.h"

/* A JSON string literal of s (UTF-8 passed through, controls escaped). */
static int put_json_string(FILE *f, const char *s) {
    if (fputc('"', f) == EOF) return -1;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int rc;
        if (*p == '"' || *p == '\\') rc = fprintf(f, "\\%c", *p);
        else if (*p < 0x20) rc = fprintf(f, "\\u%04x", *p);
        else rc = fputc(*p, f) == EOF ? -1 : 1;
        if (rc < 0) return -1;
    }
    return fputc('"', f) == EOF ? -1 : 0;
}

int cli_write_sparse_jsonl(FILE *f, const sbert_model *model, const sbert_sparse_rows *r, int tokens, size_t decode_k) {
    sbert_token_weight *tw = NULL;
    if (decode_k || tokens) {
        size_t most = 0;
        for (size_t i = 0; i < r->n_rows; i++)
            if (r->indptr[i + 1] - r->indptr[i] > most) most = r->indptr[i + 1] - r->indptr[i];
        tw = malloc((most ? most : 1) * sizeof *tw);
        if (!tw) return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < r->n_rows && rc == 0; i++) {
        if (decode_k) {
            size_t n = 0;
            if (sbert_sparse_decode(model, r, i, decode_k, tw, &n) != SBERT_OK) rc = -1;
            if (rc == 0 && fputc('[', f) == EOF) rc = -1;
            for (size_t k = 0; k < n && rc == 0; k++) {
                if (fputs(k ? ",[" : "[", f) == EOF) rc = -1;
                if (rc == 0) rc = tw[k].token ? put_json_string(f, tw[k].token) : (fprintf(f, "\"%d\"", (int)tw[k].id) < 0 ? -1 : 0);
                if (rc == 0 && fprintf(f, ",%.9g]", (double)tw[k].weight) < 0) rc = -1;
            }
            if (rc == 0 && fputs("]\n", f) == EOF) rc = -1;
            continue;
        }
        if (fputc('{', f) == EOF) rc = -1;
        const sbert_tokenizer *tok = tokens ? sbert_model_tokenizer(model) : NULL;
        for (size_t k = r->indptr[i]; k < r->indptr[i + 1] && rc == 0; k++) {
            if (k > r->indptr[i] && fputc(',', f) == EOF) rc = -1;
            const char *t = tok ? sbert_tokenizer_id_to_token(tok, r->indices[k]) : NULL;
            if (rc == 0) rc = t ? put_json_string(f, t) : (fprintf(f, "\"%d\"", (int)r->indices[k]) < 0 ? -1 : 0);
            if (rc == 0 && fprintf(f, ":%.9g", (double)r->values[k]) < 0) rc = -1;
        }
        if (rc == 0 && fputs("}\n", f) == EOF) rc = -1;
    }
    free(tw);
    return rc;
}

/* ------------------------------------------------------------ .npz */

typedef struct {
    unsigned char *p;
    size_t n, cap;
} buf_t;

static int bput(buf_t *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        size_t c = b->cap ? b->cap * 2 : 4096;
        while (c < b->n + n) c *= 2;
        unsigned char *np = realloc(b->p, c);
        if (!np) return -1;
        b->p = np;
        b->cap = c;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
    return 0;
}

static int put16(buf_t *b, unsigned v) {
    unsigned char x[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    return bput(b, x, 2);
}
static int put32(buf_t *b, uint32_t v) {
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
    return bput(b, x, 4);
}

/* One .npy file in memory: header for descr/shape, then the raw little-endian data. */
static int npy(buf_t *b, const char *descr, const char *shape, const void *data, size_t bytes) {
    char dict[200];
    int dl = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape);
    if (dl < 0 || (size_t)dl >= sizeof dict) return -1;
    size_t total = 10 + (size_t)dl + 1, padded = (total + 63) / 64 * 64, hlen = padded - 10;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    if (bput(b, pre, 10) || bput(b, dict, (size_t)dl)) return -1;
    for (size_t i = (size_t)dl; i + 1 < hlen; i++)
        if (bput(b, " ", 1)) return -1;
    if (bput(b, "\n", 1)) return -1;
    return bytes ? bput(b, data, bytes) : 0;
}

int cli_write_sparse_npz(FILE *f, const sbert_sparse_rows *r) {
    const char *names[5] = {"indices.npy", "indptr.npy", "format.npy", "shape.npy", "data.npy"};
    buf_t files[5];
    memset(files, 0, sizeof files);
    char shape[64];
    int rc = 0;
    int64_t *indptr = malloc((r->n_rows + 1) * sizeof *indptr);
    if (!indptr) return -1;
    for (size_t i = 0; i <= r->n_rows; i++) indptr[i] = (int64_t)r->indptr[i];
    int64_t shp[2] = {(int64_t)r->n_rows, (int64_t)r->dim};
    snprintf(shape, sizeof shape, "(%zu,)", r->nnz);
    rc |= npy(&files[0], "<i4", shape, r->indices, r->nnz * sizeof(int32_t));
    snprintf(shape, sizeof shape, "(%zu,)", r->n_rows + 1);
    rc |= npy(&files[1], "<i8", shape, indptr, (r->n_rows + 1) * sizeof(int64_t));
    rc |= npy(&files[2], "|S3", "()", "csr", 3);
    rc |= npy(&files[3], "<i8", "(2,)", shp, sizeof shp);
    snprintf(shape, sizeof shape, "(%zu,)", r->nnz);
    rc |= npy(&files[4], "<f4", shape, r->values, r->nnz * sizeof(float));
    free(indptr);
    /* A stored (uncompressed) zip, as numpy.savez writes; zip64 is not needed below 4 GB. */
    buf_t z = {0}, cd = {0};
    uint32_t offs[5];
    for (int k = 0; k < 5 && rc == 0; k++) {
        if (files[k].n > 0xFFFFFFFFu || z.n > 0xFFFFFFFFu) {
            rc = -1;
            break;
        }
        uint32_t crc = (uint32_t)crc32(0L, files[k].p, (uInt)files[k].n);
        size_t nl = strlen(names[k]);
        offs[k] = (uint32_t)z.n;
        rc |= put32(&z, 0x04034b50) | put16(&z, 20) | put16(&z, 0) | put16(&z, 0) | put16(&z, 0) | put16(&z, 0x21) |
              put32(&z, crc) | put32(&z, (uint32_t)files[k].n) | put32(&z, (uint32_t)files[k].n) |
              put16(&z, (unsigned)nl) | put16(&z, 0) | bput(&z, names[k], nl) | bput(&z, files[k].p, files[k].n);
        rc |= put32(&cd, 0x02014b50) | put16(&cd, 20) | put16(&cd, 20) | put16(&cd, 0) | put16(&cd, 0) |
              put16(&cd, 0) | put16(&cd, 0x21) | put32(&cd, crc) | put32(&cd, (uint32_t)files[k].n) |
              put32(&cd, (uint32_t)files[k].n) | put16(&cd, (unsigned)nl) | put16(&cd, 0) | put16(&cd, 0) |
              put16(&cd, 0) | put16(&cd, 0) | put32(&cd, 0) | put32(&cd, offs[k]) | bput(&cd, names[k], nl);
    }
    uint32_t cd_off = (uint32_t)z.n;
    if (rc == 0)
        rc |= bput(&z, cd.p, cd.n) | put32(&z, 0x06054b50) | put16(&z, 0) | put16(&z, 0) | put16(&z, 5) |
              put16(&z, 5) | put32(&z, (uint32_t)cd.n) | put32(&z, cd_off) | put16(&z, 0);
    if (rc == 0 && fwrite(z.p, 1, z.n, f) != z.n) rc = -1;
    for (int k = 0; k < 5; k++) free(files[k].p);
    free(z.p);
    free(cd.p);
    return rc;
}
