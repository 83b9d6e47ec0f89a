/*
 * data/pair_file.c -- a file of (query, passage) pairs for
 * CrossEncoder.predict (`sbert predict`, sbert_pair_file_load in sbert.h):
 *   .jsonl  one JSON object per line (the first two text fields, in key
 *           order, through the dataset loader), or one ["query", "passage"]
 *           array per line;
 *   .csv / .tsv (optionally .gz) with a header line: the first two text
 *           columns (a label/score column is left out, as the column rules
 *           say).
 * A line that does not hold two texts is an error naming the file and line;
 * empty texts are allowed (predict scores them as Python does).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "base/error.h"
#include "data/dataset.h"
#include "io/file.h"

typedef struct {
    sbert_dataset *ds;  /* csv / tsv / jsonl objects */
    char *buf;          /* jsonl arrays: the file */
    char **texts;       /* jsonl arrays: [2n] copies */
    const char **a, **b;
} pair_priv;

void sbert_pair_file_free(sbert_pair_file *f) {
    if (!f || !f->priv) return;
    pair_priv *p = f->priv;
    sbert_dataset_free(p->ds);
    if (p->texts)
        for (size_t i = 0; i < 2 * f->n; i++) free(p->texts[i]);
    free(p->texts);
    free(p->buf);
    free(p->a);
    free(p->b);
    free(p);
    memset(f, 0, sizeof *f);
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcasecmp(s + a - b, suffix) == 0;
}

/* JSONL of ["query", "passage"] arrays. */
static sbert_status load_arrays(const char *path, pair_priv *p, sbert_pair_file *f) {
    size_t len = 0, cap = 0, n = 0;
    SBERT_TRY(sbert_read_file(path, &p->buf, &len));
    char *s = p->buf, *end = p->buf + len;
    size_t line = 0;
    while (s < end) {
        char *nl = memchr(s, '\n', (size_t)(end - s));
        char *le = nl ? nl : end;
        line++;
        char *q = s;
        while (q < le && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
        s = nl ? nl + 1 : end;
        if (q == le) continue;
        cJSON *arr = cJSON_ParseWithLength(q, (size_t)(le - q));
        int ok = cJSON_IsArray(arr) && cJSON_GetArraySize(arr) == 2 && cJSON_IsString(cJSON_GetArrayItem(arr, 0)) &&
                 cJSON_IsString(cJSON_GetArrayItem(arr, 1));
        if (!ok) {
            int size = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : -1;
            cJSON_Delete(arr);
            if (size >= 0 && size != 2)
                return sbert_fail(SBERT_ERR_FORMAT, "%s:%zu: a pair needs two texts, this array has %d", path, line,
                                  size);
            return sbert_fail(SBERT_ERR_FORMAT, "%s:%zu: expected a [\"query\", \"passage\"] array of two strings",
                              path, line);
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            char **nt = realloc(p->texts, 2 * cap * sizeof *nt);
            if (!nt) {
                cJSON_Delete(arr);
                return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", path);
            }
            p->texts = nt;
        }
        p->texts[2 * n] = strdup(cJSON_GetArrayItem(arr, 0)->valuestring);
        p->texts[2 * n + 1] = strdup(cJSON_GetArrayItem(arr, 1)->valuestring);
        f->n = ++n;
        cJSON_Delete(arr);
        if (!p->texts[2 * n - 2] || !p->texts[2 * n - 1]) return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", path);
    }
    if (n == 0) return sbert_fail(SBERT_ERR_FORMAT, "%s: no pairs", path);
    p->a = malloc(n * sizeof *p->a);
    p->b = malloc(n * sizeof *p->b);
    if (!p->a || !p->b) return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < n; i++) {
        p->a[i] = p->texts[2 * i];
        p->b[i] = p->texts[2 * i + 1];
    }
    return SBERT_OK;
}

/* Does the first non-blank line of a .jsonl file start with '['? */
static int first_is_array(const char *path) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return 0;
    int c;
    while ((c = fgetc(fp)) != EOF && (c == ' ' || c == '\t' || c == '\r' || c == '\n')) {
    }
    fclose(fp);
    return c == '[';
}

static sbert_status load_table(const char *path, pair_priv *p, sbert_pair_file *f) {
    SBERT_TRY(sbert_dataset_load(path, &p->ds));
    size_t ni = sbert_dataset_n_inputs(p->ds);
    if (ni != 2) {
        char cols[512] = "";
        size_t o = 0;
        for (size_t c = 0; c < p->ds->n_cols && o < sizeof cols; c++)
            o += (size_t)snprintf(cols + o, sizeof cols - o, "%s%s", c ? ", " : "", p->ds->cols[c].name);
        return sbert_fail(SBERT_ERR_FORMAT,
                          "%s: a pair file needs two text columns (query, passage); it has %zu input column%s (%s)",
                          path, ni, ni == 1 ? "" : "s", cols);
    }
    /* Empty texts are fine here (predict scores them, as Python does). */
    for (size_t i = 0; i < 2; i++) {
        const sbert_column *c = &p->ds->cols[sbert_dataset_input_column(p->ds, i)];
        if (c->kind != SBERT_COL_TEXT)
            return sbert_fail(SBERT_ERR_FORMAT, "%s: column '%s' holds numbers, not text", path, c->name);
    }
    f->n = p->ds->n_rows;
    p->a = malloc(f->n * sizeof *p->a);
    p->b = malloc(f->n * sizeof *p->b);
    if (!p->a || !p->b) return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", path);
    const sbert_column *ca = &p->ds->cols[sbert_dataset_input_column(p->ds, 0)];
    const sbert_column *cb = &p->ds->cols[sbert_dataset_input_column(p->ds, 1)];
    for (size_t i = 0; i < f->n; i++) {
        p->a[i] = ca->text[i];
        p->b[i] = cb->text[i];
    }
    return SBERT_OK;
}

sbert_status sbert_pair_file_load(const char *path, sbert_pair_file *out) {
    if (!out || !path) return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_pair_file_load: NULL argument");
    memset(out, 0, sizeof *out);
    pair_priv *p = calloc(1, sizeof *p);
    if (!p) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    out->priv = p;
    int arrays = (ends_with(path, ".jsonl") || ends_with(path, ".json")) && first_is_array(path);
    sbert_status st = arrays ? load_arrays(path, p, out) : load_table(path, p, out);
    if (st != SBERT_OK) {
        sbert_pair_file_free(out);
        return st;
    }
    out->first = p->a;
    out->second = p->b;
    return SBERT_OK;
}
