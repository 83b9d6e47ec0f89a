/*
 * data/dataset.c -- JSONL / CSV / TSV (optionally gzipped) loading into
 * column arrays, plus the sentence-transformers column rules.
 *
 * Strings live in a chunked arena owned by the dataset, so a million-row file
 * costs a handful of allocations.
 */
#include "data/dataset.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <zlib.h>

#include "base/error.h"
#include "io/file.h"
#include "tokenizers/unicode.h"
#include "data/parquet.h"

/* ------------------------------------------------------------------ arena */

typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    char data[];
} arena_block;

typedef struct {
    sbert_dataset pub;
    arena_block *blocks;
    size_t cap_rows;
} dataset_impl;

static char *arena_strndup(dataset_impl *d, const char *s, size_t n) {
    arena_block *b = d->blocks;
    if (!b || b->cap - b->used < n + 1) {
        size_t cap = n + 1 > (1u << 20) ? n + 1 : (1u << 20);
        arena_block *nb = malloc(sizeof *nb + cap);
        if (!nb) return NULL;
        nb->next = d->blocks;
        nb->used = 0;
        nb->cap = cap;
        d->blocks = b = nb;
    }
    char *p = b->data + b->used;
    memcpy(p, s, n);
    p[n] = '\0';
    b->used += n + 1;
    return p;
}

/* ------------------------------------------------------------- utilities */

static const char *const LABEL_NAMES[] = {"label", "labels", "score", "scores"};

size_t sbert_column_width(const sbert_column *c, size_t n_rows) {
    if (c->kind == SBERT_COL_NUMBER) return 1;
    if (c->kind != SBERT_COL_NUMBER_LIST || !c->off || n_rows == 0) return 0;
    size_t w = c->off[1] - c->off[0];
    for (size_t r = 1; r < n_rows; r++)
        if (c->off[r + 1] - c->off[r] != w) return 0;
    return w;
}

int sbert_column_is_list(const sbert_column *c) {
    return c->kind == SBERT_COL_TEXT_LIST || c->kind == SBERT_COL_NUMBER_LIST;
}

void sbert_dataset_free(sbert_dataset *ds) {
    if (!ds) return;
    dataset_impl *d = (dataset_impl *)ds;
    for (size_t c = 0; c < ds->n_cols; c++) {
        free(ds->cols[c].name);
        free(ds->cols[c].text);
        free(ds->cols[c].num);
        free(ds->cols[c].off);
        free(ds->cols[c].items);
        free(ds->cols[c].nums);
    }
    free(ds->cols);
    free(ds->line);
    free(ds->path);
    arena_block *b = d->blocks;
    while (b) {
        arena_block *n = b->next;
        free(b);
        b = n;
    }
    free(d);
}

int sbert_dataset_find_column(const sbert_dataset *ds, const char *name) {
    for (size_t c = 0; c < ds->n_cols; c++)
        if (strcmp(ds->cols[c].name, name) == 0) return (int)c;
    return -1;
}

int sbert_dataset_label_column(const sbert_dataset *ds) {
    for (size_t k = 0; k < sizeof LABEL_NAMES / sizeof LABEL_NAMES[0]; k++) {
        int c = sbert_dataset_find_column(ds, LABEL_NAMES[k]);
        if (c >= 0) return c;
    }
    return -1;
}

size_t sbert_dataset_n_inputs(const sbert_dataset *ds) {
    return ds->n_cols - (sbert_dataset_label_column(ds) >= 0 ? 1 : 0);
}

int sbert_dataset_input_column(const sbert_dataset *ds, size_t i) {
    int label = sbert_dataset_label_column(ds);
    for (size_t c = 0; c < ds->n_cols; c++) {
        if ((int)c == label) continue;
        if (i == 0) return (int)c;
        i--;
    }
    return -1;
}

/* "a, b, c" list of column names for messages. */
static void column_list(const sbert_dataset *ds, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = '\0';
    for (size_t c = 0; c < ds->n_cols && n + 1 < cap; c++) {
        int w = snprintf(buf + n, cap - n, "%s%s", c ? ", " : "", ds->cols[c].name);
        if (w < 0) break;
        n += (size_t)w;
    }
}

static sbert_status read_all(const char *path, char **out, size_t *len) {
    /* A directory opens fine and fails at the first read: say what it is. */
    if (sbert_dir_exists(path)) return sbert_file_check(path);
    gzFile f = gzopen(path, "rb");
    if (!f) return sbert_open_failure(path, errno);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) { gzclose(f); return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", path); }
        if (cap - n < (1 << 16)) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) { free(buf); buf = NULL; continue; }
            buf = nb;
            cap *= 2;
        }
        int got = gzread(f, buf + n, (unsigned)(cap - n - 1));
        if (got < 0) {
            int errnum;
            const char *msg = gzerror(f, &errnum);
            sbert_status st = sbert_fail(SBERT_ERR_IO, "%s: read error: %s", path, msg);
            free(buf);
            gzclose(f);
            return st;
        }
        if (got == 0) break;
        n += (size_t)got;
    }
    gzclose(f);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return SBERT_OK;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcasecmp(s + a - b, suffix) == 0;
}

static sbert_status add_row_capacity(dataset_impl *d) {
    sbert_dataset *ds = &d->pub;
    if (ds->n_rows < d->cap_rows) return SBERT_OK;
    size_t cap = d->cap_rows ? d->cap_rows * 2 : 1024;
    for (size_t c = 0; c < ds->n_cols; c++) {
        char **t = realloc(ds->cols[c].text, cap * sizeof *t);
        if (!t) return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory at row %zu", ds->path, ds->n_rows);
        ds->cols[c].text = t;
        if (ds->cols[c].off) {
            size_t *o = realloc(ds->cols[c].off, (cap + 1) * sizeof *o);
            if (!o) return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory at row %zu", ds->path, ds->n_rows);
            ds->cols[c].off = o;
        }
    }
    size_t *l = realloc(ds->line, cap * sizeof *l);
    if (!l) return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory at row %zu", ds->path, ds->n_rows);
    ds->line = l;
    d->cap_rows = cap;
    return SBERT_OK;
}

static sbert_status add_column(dataset_impl *d, const char *name, size_t line) {
    sbert_dataset *ds = &d->pub;
    for (size_t c = 0; c < ds->n_cols; c++)
        if (strcmp(ds->cols[c].name, name) == 0)
            return sbert_fail(SBERT_ERR_FORMAT, "%s:%zu: duplicate column name '%s'", ds->path, line, name);
    sbert_column *nc = realloc(ds->cols, (ds->n_cols + 1) * sizeof *nc);
    if (!nc) return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", ds->path);
    ds->cols = nc;
    memset(&nc[ds->n_cols], 0, sizeof nc[0]);
    nc[ds->n_cols].name = strdup(name);
    if (!nc[ds->n_cols].name) return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", ds->path);
    ds->n_cols++;
    return SBERT_OK;
}

/* -------------------------------------------------------------- CSV / TSV */

/* Parse one record starting at *p; fields are unescaped into the arena.
 * Returns the number of fields in *nf, advancing *p and *line. */
static sbert_status csv_record(dataset_impl *d, const char **p, const char *end, char sep,
                               size_t *line, char ***fields, size_t *nf, size_t *cap) {
    const char *s = *p;
    size_t start_line = *line;
    char *tmp = NULL;
    size_t tcap = 0;
    *nf = 0;
    for (;;) {
        size_t tn = 0;
        if (s < end && *s == '"') {
            s++;
            for (;;) {
                if (s >= end) {
                    free(tmp);
                    return sbert_fail(SBERT_ERR_FORMAT, "%s:%zu: unterminated quoted field",
                                      d->pub.path, start_line);
                }
                char ch = *s++;
                if (ch == '"') {
                    if (s < end && *s == '"') s++;
                    else break;
                }
                if (ch == '\n') (*line)++;
                if (tn + 1 >= tcap) {
                    tcap = tcap ? tcap * 2 : 256;
                    char *nt = realloc(tmp, tcap);
                    if (!nt) { free(tmp); return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", d->pub.path); }
                    tmp = nt;
                }
                tmp[tn++] = ch;
            }
            if (s < end && *s != sep && *s != '\n' && *s != '\r') {
                free(tmp);
                return sbert_fail(SBERT_ERR_FORMAT,
                                  "%s:%zu: unexpected character after a closing quote in field %zu",
                                  d->pub.path, *line, *nf + 1);
            }
        } else {
            const char *f = s;
            while (s < end && *s != sep && *s != '\n' && !(*s == '\r' && (s + 1 >= end || s[1] == '\n')))
                s++;
            tn = (size_t)(s - f);
            if (tn + 1 > tcap) {
                tcap = tn + 1;
                char *nt = realloc(tmp, tcap);
                if (!nt) { free(tmp); return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", d->pub.path); }
                tmp = nt;
            }
            memcpy(tmp, f, tn);
        }
        if (*nf >= *cap) {
            *cap = *cap ? *cap * 2 : 8;
            char **nfld = realloc(*fields, *cap * sizeof *nfld);
            if (!nfld) { free(tmp); return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", d->pub.path); }
            *fields = nfld;
        }
        char *cell = arena_strndup(d, tmp ? tmp : "", tn);
        if (!cell) { free(tmp); return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", d->pub.path); }
        (*fields)[(*nf)++] = cell;
        if (s < end && *s == sep) { s++; continue; }
        if (s < end && *s == '\r') s++;
        if (s < end && *s == '\n') s++;
        (*line)++;
        break;
    }
    free(tmp);
    *p = s;
    return SBERT_OK;
}

static sbert_status load_csv(dataset_impl *d, const char *buf, size_t len, char sep) {
    sbert_dataset *ds = &d->pub;
    const char *p = buf, *end = buf + len;
    size_t line = 1, nf = 0, cap = 0;
    char **fields = NULL;
    sbert_status st = SBERT_OK;
    if (len >= 3 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB && (unsigned char)p[2] == 0xBF)
        p += 3; /* UTF-8 BOM */
    if (p >= end) { st = sbert_fail(SBERT_ERR_FORMAT, "%s: the file is empty (a header line is required)", ds->path); goto done; }
    if ((st = csv_record(d, &p, end, sep, &line, &fields, &nf, &cap)) != SBERT_OK) goto done;
    for (size_t i = 0; i < nf; i++) {
        if (!fields[i][0]) { st = sbert_fail(SBERT_ERR_FORMAT, "%s:1: header column %zu has no name", ds->path, i + 1); goto done; }
        if ((st = add_column(d, fields[i], 1)) != SBERT_OK) goto done;
    }
    while (p < end) {
        size_t row_line = line;
        if (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n')) { /* blank line */
            p += *p == '\r' ? 2 : 1;
            line++;
            continue;
        }
        if ((st = csv_record(d, &p, end, sep, &line, &fields, &nf, &cap)) != SBERT_OK) goto done;
        if (nf != ds->n_cols) {
            st = sbert_fail(SBERT_ERR_FORMAT, "%s:%zu: row has %zu fields but the header has %zu (%s)",
                            ds->path, row_line, nf, ds->n_cols, sep == '\t' ? "tab separated" : "comma separated");
            goto done;
        }
        if ((st = add_row_capacity(d)) != SBERT_OK) goto done;
        for (size_t c = 0; c < nf; c++) ds->cols[c].text[ds->n_rows] = fields[c];
        ds->line[ds->n_rows++] = row_line;
    }
done:
    free(fields);
    return st;
}

/* ------------------------------------------------------------------ JSONL */

/* Append "'name'" to a bounded list ("a, b, ..."); "..." once it is full. */
static void list_add(char *buf, size_t cap, size_t *n, const char *name) {
    if (*n + 1 >= cap) return;
    int w = snprintf(buf + *n, cap - *n, "%s'%.80s'", *n ? ", " : "", name);
    if (w < 0 || (size_t)w >= cap - *n) {
        /* truncated: end the list with "..." */
        if (cap > 4) memcpy(buf + cap - 4, "...", 4);
        *n = cap - 1;
        return;
    }
    *n += (size_t)w;
}

/* A row must have exactly the keys of the first row (in any order, each
 * once): the message names the file, the line and the keys that differ. */
static sbert_status check_same_keys(dataset_impl *d, const cJSON *obj, size_t line) {
    sbert_dataset *ds = &d->pub;
    char missing[512], extra[512];
    size_t nm = 0, ne = 0, n_keys = 0;
    missing[0] = extra[0] = '\0';
    const cJSON *it;
    cJSON_ArrayForEach(it, obj) {
        n_keys++;
        const char *k = it->string ? it->string : "";
        int known = 0;
        for (size_t c = 0; c < ds->n_cols && !known; c++) known = strcmp(ds->cols[c].name, k) == 0;
        int dup = 0;
        for (const cJSON *o = obj->child; o && o != it && !dup; o = o->next)
            dup = o->string && strcmp(o->string, k) == 0;
        if (dup)
            return sbert_fail(SBERT_ERR_FORMAT, "%s:%zu: key '%.80s' appears twice in the row", ds->path,
                              line, k);
        if (!known) list_add(extra, sizeof extra, &ne, k);
    }
    for (size_t c = 0; c < ds->n_cols; c++)
        if (!cJSON_GetObjectItemCaseSensitive(obj, ds->cols[c].name))
            list_add(missing, sizeof missing, &nm, ds->cols[c].name);
    if (nm == 0 && ne == 0 && n_keys == ds->n_cols) return SBERT_OK;
    char first[1024];
    size_t nf = 0;
    first[0] = '\0';
    for (size_t c = 0; c < ds->n_cols; c++) list_add(first, sizeof first, &nf, ds->cols[c].name);
    return sbert_fail(SBERT_ERR_FORMAT,
                      "%s:%zu: the row's keys differ from the first row's (%s): %s%s%s%s%s; every "
                      "row must have the same keys",
                      ds->path, line, first, nm ? "missing " : "", missing, nm && ne ? "; " : "",
                      ne ? "unexpected " : "", extra);
}

/* A CSV/TSV list cell: an array of numbers (a list of texts or a nested list is an error). */
static sbert_status check_list(const sbert_dataset *ds, const cJSON *v, size_t line, size_t c) {
    if (!cJSON_IsArray(v))
        return sbert_fail(SBERT_ERR_FORMAT, "%s:%zu: column '%s' must be a list of numbers in every row", ds->path,
                          line, ds->cols[c].name);
    const cJSON *e;
    cJSON_ArrayForEach(e, v) {
        if (cJSON_IsNumber(e)) continue;
        if (cJSON_IsString(e))
            return sbert_fail(SBERT_ERR_FORMAT,
                              "%s:%zu: column '%s' holds a list of texts; a SentenceTransformer input column holds one "
                              "text per row (give each text its own column: anchor, positive, negative_1, ...)",
                              ds->path, line, ds->cols[c].name);
        return sbert_fail(SBERT_ERR_FORMAT, "%s:%zu: column '%s' must be a list of numbers (it holds %s)", ds->path,
                          line, ds->cols[c].name, cJSON_IsArray(e) ? "a nested list" : "a non-number");
    }
    if (cJSON_GetArraySize(v) == 0)
        return sbert_fail(SBERT_ERR_FORMAT, "%s:%zu: column '%s' holds an empty list", ds->path, line,
                          ds->cols[c].name);
    return SBERT_OK;
}

/* The numeric cells are staged in *nums_io ([rows, cols]); the caller frees it. */
/* A list column whose first rows held only empty lists: kind not known yet. */
#define LIST_PENDING ((sbert_column_kind)99)

typedef struct {
    size_t n, cap;
} list_fill;

/* Append the JSON array v (row ds->n_rows, file line `line`) to list column c. */
static sbert_status add_list(dataset_impl *d, size_t c, const cJSON *v, size_t line, list_fill *lf) {
    sbert_dataset *ds = &d->pub;
    sbert_column *col = &ds->cols[c];
    if (!cJSON_IsArray(v))
        return sbert_fail(SBERT_ERR_FORMAT, "%s:%zu: column '%s' must be a list in every row (the first row has one)",
                          ds->path, line, col->name);
    size_t k = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, v) {
        k++;
        if (col->kind == LIST_PENDING) col->kind = cJSON_IsString(it) ? SBERT_COL_TEXT_LIST : SBERT_COL_NUMBER_LIST;
        int text = col->kind == SBERT_COL_TEXT_LIST;
        if (text ? !cJSON_IsString(it) : !(cJSON_IsNumber(it) || cJSON_IsBool(it)))
            return sbert_fail(SBERT_ERR_FORMAT, "%s:%zu: column '%s': item %zu of the list is not a %s (the column is "
                              "a list of %s)",
                              ds->path, line, col->name, k, text ? "string" : "number", text ? "texts" : "numbers");
        if (lf->n == lf->cap) {
            size_t cap = lf->cap ? 2 * lf->cap : 256;
            if (text) {
                char **ni = realloc(col->items, cap * sizeof *ni);
                if (!ni) return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", ds->path);
                col->items = ni;
            } else {
                double *nn = realloc(col->nums, cap * sizeof *nn);
                if (!nn) return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", ds->path);
                col->nums = nn;
            }
            lf->cap = cap;
        }
        if (text) {
            col->items[lf->n] = arena_strndup(d, it->valuestring, strlen(it->valuestring));
            if (!col->items[lf->n]) return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", ds->path);
        } else {
            col->nums[lf->n] = cJSON_IsBool(it) ? (cJSON_IsTrue(it) ? 1.0 : 0.0) : it->valuedouble;
        }
        lf->n++;
    }
    col->off[ds->n_rows + 1] = lf->n;
    return SBERT_OK;
}

static sbert_status load_jsonl_rows(dataset_impl *d, char *buf, size_t len, double **nums_io) {
    sbert_dataset *ds = &d->pub;
    list_fill items[256];
    memset(items, 0, sizeof items);
    size_t line = 0;
    char *p = buf, *end = buf + len;
    /* Numeric columns are first stored as text pointers to a marker and
     * converted at the end; track kinds from the first row. */
    double *nums = NULL;
    size_t nums_cap = 0;
    *nums_io = NULL;
    sbert_status st = SBERT_OK;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        line++;
        char *q = p;
        while (q < le && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
        if (q == le) { p = nl ? nl + 1 : end; continue; }
        cJSON *obj = cJSON_ParseWithLength(q, (size_t)(le - q));
        if (!obj || !cJSON_IsObject(obj)) {
            cJSON_Delete(obj);
            return sbert_fail(SBERT_ERR_FORMAT, "%s:%zu: not a JSON object", ds->path, line);
        }
        if (ds->n_rows == 0 && ds->n_cols == 0) {
            const cJSON *it;
            cJSON_ArrayForEach(it, obj) {
                if ((st = add_column(d, it->string, line)) != SBERT_OK) { cJSON_Delete(obj); return st; }
                sbert_column *col = &ds->cols[ds->n_cols - 1];
                if (cJSON_IsArray(it)) {
                    /* a list column; its item kind comes from the first item seen */
                    col->kind = LIST_PENDING;
                    col->off = calloc(1, sizeof *col->off);
                    if (!col->off) { cJSON_Delete(obj); return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", ds->path); }
                } else {
                    col->kind = cJSON_IsString(it) ? SBERT_COL_TEXT : SBERT_COL_NUMBER;
                }
            }
            if (ds->n_cols == 0) { cJSON_Delete(obj); return sbert_fail(SBERT_ERR_FORMAT, "%s:%zu: empty object", ds->path, line); }
            if (ds->n_cols > sizeof items / sizeof items[0]) { cJSON_Delete(obj); return sbert_fail(SBERT_ERR_FORMAT, "%s:%zu: more than %zu columns", ds->path, line, sizeof items / sizeof items[0]); }
        }
        if ((st = check_same_keys(d, obj, line)) != SBERT_OK) { cJSON_Delete(obj); return st; }
        if ((st = add_row_capacity(d)) != SBERT_OK) { cJSON_Delete(obj); return st; }
        if (nums_cap < d->cap_rows * ds->n_cols) {
            nums_cap = d->cap_rows * ds->n_cols;
            double *nn = realloc(nums, nums_cap * sizeof *nn);
            if (!nn) { cJSON_Delete(obj); return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", ds->path); }
            nums = nn;
            *nums_io = nums;
        }
        for (size_t c = 0; c < ds->n_cols; c++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, ds->cols[c].name);
            if (!v) {
                cJSON_Delete(obj);
                return sbert_fail(SBERT_ERR_FORMAT, "%s:%zu: key '%s' is missing", ds->path, line, ds->cols[c].name);
            }
            if (ds->cols[c].off) {
                if ((st = add_list(d, c, v, line, &items[c])) != SBERT_OK) { cJSON_Delete(obj); return st; }
                ds->cols[c].text[ds->n_rows] = NULL;
            } else if (ds->cols[c].kind == SBERT_COL_TEXT) {
                if (!cJSON_IsString(v)) {
                    cJSON_Delete(obj);
                        return sbert_fail(SBERT_ERR_FORMAT, "%s:%zu: column '%s' must be a string in every row",
                                      ds->path, line, ds->cols[c].name);
                }
                char *cell = arena_strndup(d, v->valuestring, strlen(v->valuestring));
                if (!cell) { cJSON_Delete(obj); return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", ds->path); }
                ds->cols[c].text[ds->n_rows] = cell;
            } else {
                if (!cJSON_IsNumber(v) && !cJSON_IsBool(v)) {
                    cJSON_Delete(obj);
                        return sbert_fail(SBERT_ERR_FORMAT, "%s:%zu: column '%s' must be a number in every row",
                                      ds->path, line, ds->cols[c].name);
                }
                if (cJSON_IsNumber(v) && !isfinite(v->valuedouble)) {
                    cJSON_Delete(obj);
                    return sbert_fail(SBERT_ERR_FORMAT, "%s:%zu: column '%s' holds a number too large for a double",
                                      ds->path, line, ds->cols[c].name);
                }
                nums[ds->n_rows * ds->n_cols + c] = cJSON_IsBool(v) ? (cJSON_IsTrue(v) ? 1.0 : 0.0) : v->valuedouble;
                ds->cols[c].text[ds->n_rows] = NULL;
            }
        }
        ds->line[ds->n_rows++] = line;
        cJSON_Delete(obj);
        p = nl ? nl + 1 : end;
    }
    for (size_t c = 0; c < ds->n_cols; c++) {
        if (ds->cols[c].off) {
            /* lists that were all empty: texts, or numbers for a label column */
            if (ds->cols[c].kind == LIST_PENDING) {
                int is_label = 0;
                for (size_t k = 0; k < sizeof LABEL_NAMES / sizeof LABEL_NAMES[0]; k++)
                    is_label |= strcmp(ds->cols[c].name, LABEL_NAMES[k]) == 0;
                ds->cols[c].kind = is_label ? SBERT_COL_NUMBER_LIST : SBERT_COL_TEXT_LIST;
            }
            free(ds->cols[c].text);
            ds->cols[c].text = NULL;
            continue;
        }
        if (ds->cols[c].kind != SBERT_COL_NUMBER) continue;
        ds->cols[c].num = malloc((ds->n_rows ? ds->n_rows : 1) * sizeof(double));
        if (!ds->cols[c].num) return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", ds->path);
        for (size_t r = 0; r < ds->n_rows; r++) ds->cols[c].num[r] = nums[r * ds->n_cols + c];
        free(ds->cols[c].text);
        ds->cols[c].text = NULL;
    }
    return SBERT_OK;
}

static sbert_status load_jsonl(dataset_impl *d, char *buf, size_t len) {
    double *nums = NULL;
    sbert_status st = load_jsonl_rows(d, buf, len, &nums);
    free(nums);
    return st;
}

/* A CSV/TSV label cell written as a JSON list ("[0.1, 0.2]") into out (width
 * numbers; *width set from the first row when 0). */
static sbert_status parse_list_cell(const sbert_dataset *ds, size_t r, const sbert_column *col, size_t *width,
                                    double *out, size_t cap) {
    cJSON *v = cJSON_Parse(col->text[r]);
    sbert_status st = SBERT_OK;
    if (!v || !cJSON_IsArray(v)) {
        st = sbert_fail(SBERT_ERR_FORMAT, "%s:%zu: column '%s' starts with '[' but is not a JSON list: '%.60s'",
                        ds->path, ds->line[r], col->name, col->text[r]);
    } else if ((st = check_list(ds, v, ds->line[r], (size_t)(col - ds->cols))) == SBERT_OK) {
        size_t n = (size_t)cJSON_GetArraySize(v);
        if (*width == 0) *width = n;
        if (n != *width) {
            st = sbert_fail(SBERT_ERR_FORMAT, "%s:%zu: column '%s' holds %zu numbers; the first row has %zu", ds->path,
                            ds->line[r], col->name, n, *width);
        } else if (out) {
            size_t k = 0;
            const cJSON *e;
            cJSON_ArrayForEach(e, v) if (k < cap) out[k++] = e->valuedouble;
        }
    }
    cJSON_Delete(v);
    return st;
}

/* Convert the label column of a text-loaded file to numbers (or lists). */
static sbert_status convert_label(sbert_dataset *ds) {
    int c = sbert_dataset_label_column(ds);
    if (c < 0 || ds->cols[c].kind == SBERT_COL_NUMBER || ds->cols[c].kind == SBERT_COL_NUMBER_LIST) return SBERT_OK;
    sbert_column *col = &ds->cols[c];
    if (col->kind == SBERT_COL_TEXT_LIST)
        return sbert_fail(SBERT_ERR_FORMAT, "%s:%zu: column '%s' is the label: its lists must hold numbers, not texts",
                          ds->path, ds->n_rows ? ds->line[0] : (size_t)1, col->name);
    if (ds->n_rows && col->text[0][strspn(col->text[0], " \t")] == '[') {
        /* lists of numbers written as JSON in a CSV/TSV cell: one width for every row */
        size_t w = 0;
        SBERT_TRY(parse_list_cell(ds, 0, col, &w, NULL, 0));
        double *nums = malloc(ds->n_rows * w * sizeof *nums);
        size_t *off = malloc((ds->n_rows + 1) * sizeof *off);
        if (!nums || !off) {
            free(nums);
            free(off);
            return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", ds->path);
        }
        for (size_t r = 0; r < ds->n_rows; r++) {
            off[r] = r * w;
            sbert_status st = parse_list_cell(ds, r, col, &w, nums + r * w, w);
            if (st != SBERT_OK) {
                free(nums);
                free(off);
                return st;
            }
        }
        off[ds->n_rows] = ds->n_rows * w;
        free(col->text);
        col->text = NULL;
        col->nums = nums;
        col->off = off;
        col->kind = SBERT_COL_NUMBER_LIST;
        return SBERT_OK;
    }
    double *num = malloc((ds->n_rows ? ds->n_rows : 1) * sizeof *num);
    if (!num) return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", ds->path);
    for (size_t r = 0; r < ds->n_rows; r++) {
        const char *s = col->text[r];
        char *e = NULL;
        errno = 0;
        double v = strtod(s, &e);
        while (e && (*e == ' ' || *e == '\t')) e++;
        if (!*s || !e || *e || errno == ERANGE || !isfinite(v)) {
            free(num);
            return sbert_fail(SBERT_ERR_FORMAT,
                              "%s:%zu: column '%s' is the label and must be numeric, but holds '%.60s'",
                              ds->path, ds->line[r], col->name, s);
        }
        num[r] = v;
    }
    free(col->text);
    col->text = NULL;
    col->num = num;
    col->kind = SBERT_COL_NUMBER;
    return SBERT_OK;
}

/* A .parquet file through data/parquet.h: texts into the arena, numbers and
 * lists of numbers as columns; the line of row r is r + 1 for messages. */
static sbert_status load_parquet(const char *path, sbert_dataset **out) {
    sbert_pq_table pt;
    char err[1024];
    if (sbert_pq_read(path, &pt, err, sizeof err) != 0) return sbert_fail(SBERT_ERR_FORMAT, "%s", err);
    dataset_impl *d = calloc(1, sizeof *d);
    sbert_dataset *ds = d ? &d->pub : NULL;
    sbert_status st = d && (ds->path = strdup(path)) ? SBERT_OK : sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    for (size_t c = 0; st == SBERT_OK && c < pt.n_cols; c++) st = add_column(d, pt.cols[c].name, 0);
    size_t n = pt.n_rows;
    if (st == SBERT_OK) {
        d->cap_rows = n ? n : 1;
        ds->line = malloc(d->cap_rows * sizeof *ds->line);
        if (!ds->line) st = sbert_fail(SBERT_ERR_NOMEM, "out of memory");
        for (size_t r = 0; st == SBERT_OK && r < n; r++) ds->line[r] = r + 1;
    }
    for (size_t c = 0; st == SBERT_OK && c < pt.n_cols; c++) {
        sbert_pq_column *pc = &pt.cols[c];
        sbert_column *col = &ds->cols[c];
        if (pc->kind == 0) {
            col->kind = SBERT_COL_TEXT;
            col->text = malloc(d->cap_rows * sizeof *col->text);
            if (!col->text) st = sbert_fail(SBERT_ERR_NOMEM, "out of memory");
            for (size_t r = 0; st == SBERT_OK && r < n; r++)
                if (!(col->text[r] = arena_strndup(d, pc->text[r], strlen(pc->text[r]))))
                    st = sbert_fail(SBERT_ERR_NOMEM, "out of memory");
        } else if (pc->kind == 1) {
            col->kind = SBERT_COL_NUMBER;
            col->num = pc->num; /* taken over */
            pc->num = NULL;
            if (!col->num && n) st = sbert_fail(SBERT_ERR_NOMEM, "out of memory");
        } else {
            /* lists of numbers: pc->width a row */
            col->kind = SBERT_COL_NUMBER_LIST;
            col->nums = pc->num; /* taken over */
            pc->num = NULL;
            col->off = malloc((n + 1) * sizeof *col->off);
            if (!col->off || (!col->nums && n)) st = sbert_fail(SBERT_ERR_NOMEM, "out of memory");
            for (size_t r = 0; st == SBERT_OK && r <= n; r++) col->off[r] = r * pc->width;
        }
    }
    if (st == SBERT_OK) ds->n_rows = n;
    sbert_pq_free(&pt);
    if (st == SBERT_OK && n == 0) st = sbert_fail(SBERT_ERR_FORMAT, "%s: no data rows", path);
    if (st == SBERT_OK) st = convert_label(ds);
    if (st != SBERT_OK) {
        if (ds) sbert_dataset_free(ds);
        return st;
    }
    *out = ds;
    return SBERT_OK;
}

/* Every text cell must be UTF-8 (the tokenizers refuse anything else, and by
 * then only a batch index would be known): the message names file, line and
 * column. */
static sbert_status check_utf8(const sbert_dataset *ds) {
    for (size_t c = 0; c < ds->n_cols; c++) {
        if (ds->cols[c].kind != SBERT_COL_TEXT) continue;
        for (size_t r = 0; r < ds->n_rows; r++) {
            const char *s = ds->cols[c].text[r];
            size_t bad = 0;
            if (!tk_utf8_valid(s, strlen(s), &bad))
                return sbert_fail(SBERT_ERR_FORMAT,
                                  "%s:%zu: column '%s' is not valid UTF-8 (byte 0x%02X at byte %zu "
                                  "of the value); the file must be UTF-8 text",
                                  ds->path, ds->line[r], ds->cols[c].name,
                                  (unsigned)(unsigned char)s[bad], bad + 1);
        }
    }
    return SBERT_OK;
}

sbert_status sbert_dataset_load(const char *path, sbert_dataset **out) {
    *out = NULL;
    char base[4096];
    snprintf(base, sizeof base, "%s", path);
    if (ends_with(base, ".gz")) base[strlen(base) - 3] = '\0';
    enum { JSONL, CSV, TSV } fmt;
    if (ends_with(path, ".parquet")) return load_parquet(path, out);
    if (ends_with(base, ".jsonl") || ends_with(base, ".json")) fmt = JSONL;
    else if (ends_with(base, ".csv")) fmt = CSV;
    else if (ends_with(base, ".tsv")) fmt = TSV;
    else
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "%s: unknown data format (use a .jsonl, .json, .csv or .tsv file, optionally .gz, or .parquet)",
                          path);
    dataset_impl *d = calloc(1, sizeof *d);
    if (!d) return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", path);
    d->pub.path = strdup(path);
    char *buf = NULL;
    size_t len = 0;
    sbert_status st = d->pub.path ? read_all(path, &buf, &len) : sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    if (st == SBERT_OK) {
        st = fmt == JSONL ? load_jsonl(d, buf, len) : load_csv(d, buf, len, fmt == TSV ? '\t' : ',');
        free(buf);
    }
    if (st == SBERT_OK && d->pub.n_rows == 0)
        st = sbert_fail(SBERT_ERR_FORMAT, "%s: no data rows", path);
    if (st == SBERT_OK) st = convert_label(&d->pub);
    if (st == SBERT_OK) st = check_utf8(&d->pub);
    if (st != SBERT_OK) {
        sbert_dataset_free(&d->pub);
        return st;
    }
    *out = &d->pub;
    return SBERT_OK;
}

sbert_status sbert_dataset_insert_text_column(sbert_dataset *ds, size_t at, const char *name,
                                              const char *const *texts) {
    dataset_impl *d = (dataset_impl *)ds;
    if (at > ds->n_cols) at = ds->n_cols;
    if (sbert_dataset_find_column(ds, name) >= 0)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: a column named '%s' exists already", ds->path, name);
    sbert_column c;
    memset(&c, 0, sizeof c);
    c.kind = SBERT_COL_TEXT;
    c.name = strdup(name);
    c.text = malloc((ds->n_rows ? ds->n_rows : 1) * sizeof *c.text);
    sbert_column *cols = realloc(ds->cols, (ds->n_cols + 1) * sizeof *cols);
    if (cols) ds->cols = cols;
    int ok = c.name && c.text && cols;
    for (size_t r = 0; ok && r < ds->n_rows; r++) ok = (c.text[r] = arena_strndup(d, texts[r], strlen(texts[r]))) != NULL;
    if (!ok) {
        free(c.name);
        free(c.text);
        return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    }
    memmove(ds->cols + at + 1, ds->cols + at, (ds->n_cols - at) * sizeof *ds->cols);
    ds->cols[at] = c;
    ds->n_cols++;
    return SBERT_OK;
}

sbert_status sbert_dataset_select_columns(sbert_dataset *ds, const char *const *names, size_t n) {
    if (n == 0) return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: select_columns needs at least one column", ds->path);
    int *idx = malloc(n * sizeof *idx);
    if (!idx) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        idx[i] = sbert_dataset_find_column(ds, names[i]);
        for (size_t j = 0; j < i; j++)
            if (idx[j] == idx[i] && idx[i] >= 0) {
                free(idx);
                return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: column '%s' selected twice", ds->path, names[i]);
            }
        if (idx[i] < 0) {
            char list[1024];
            column_list(ds, list, sizeof list);
            free(idx);
            return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: no column named '%s' (the file has: %s)", ds->path,
                              names[i], list);
        }
    }
    sbert_column *cols = malloc(n * sizeof *cols);
    if (!cols) { free(idx); return sbert_fail(SBERT_ERR_NOMEM, "out of memory"); }
    for (size_t i = 0; i < n; i++) cols[i] = ds->cols[idx[i]];
    for (size_t c = 0; c < ds->n_cols; c++) {
        int kept = 0;
        for (size_t i = 0; i < n; i++) kept |= idx[i] == (int)c;
        if (!kept) {
            free(ds->cols[c].name);
            free(ds->cols[c].text);
            free(ds->cols[c].num);
            free(ds->cols[c].off);
            free(ds->cols[c].items);
            free(ds->cols[c].nums);
        }
    }
    free(ds->cols);
    free(idx);
    ds->cols = cols;
    ds->n_cols = n;
    return SBERT_OK;
}

sbert_status sbert_dataset_rename_column(sbert_dataset *ds, const char *from, const char *to) {
    int c = sbert_dataset_find_column(ds, from);
    if (c < 0) {
        char list[1024];
        column_list(ds, list, sizeof list);
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: cannot rename '%s': no such column (the file has: %s)",
                          ds->path, from, list);
    }
    int other = sbert_dataset_find_column(ds, to);
    if (other >= 0 && other != c)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: cannot rename '%s' to '%s': that column exists", ds->path,
                          from, to);
    char *n = strdup(to);
    if (!n) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    free(ds->cols[c].name);
    ds->cols[c].name = n;
    /* A column renamed to label/score becomes the numeric label. */
    return convert_label(ds);
}

sbert_status sbert_dataset_check_inputs(const sbert_dataset *ds) { return sbert_dataset_check_inputs_ex(ds, 0); }

sbert_status sbert_dataset_check_inputs_ex(const sbert_dataset *ds, int allow_lists) {
    int label = sbert_dataset_label_column(ds);
    for (size_t c = 0; c < ds->n_cols; c++) {
        const sbert_column *col = &ds->cols[c];
        /* a label of lists of numbers is the loss's to check (teacher
         * embeddings, teacher scores, listwise labels) */
        if (sbert_column_is_list(col) && !allow_lists && !((int)c == label && col->kind == SBERT_COL_NUMBER_LIST))
            return sbert_fail(SBERT_ERR_FORMAT,
                              col->kind == SBERT_COL_TEXT_LIST
                                  ? "%s: column '%s' holds lists of texts; a SentenceTransformer input column holds "
                                    "one text per row (give each text its own column: anchor, positive, negative_1, "
                                    "...); only CrossEncoder list losses (LambdaLoss, ListNetLoss, ...) take lists of "
                                    "documents"
                                  : "%s: column '%s' holds lists of numbers; only the label column (label, labels, "
                                    "score, scores) may",
                              ds->path, col->name);
        if ((int)c == label) continue;
        if (col->kind == SBERT_COL_TEXT_LIST) {
            for (size_t r = 0; r < ds->n_rows; r++)
                for (size_t k = col->off[r]; k < col->off[r + 1]; k++) {
                    const char *q = col->items[k];
                    while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r') q++;
                    if (!*q)
                        return sbert_fail(SBERT_ERR_FORMAT, "%s:%zu: column '%s': item %zu is an empty string",
                                          ds->path, ds->line[r], col->name, k - col->off[r] + 1);
                }
            continue;
        }
        if (ds->cols[c].kind != SBERT_COL_TEXT)
            return sbert_fail(SBERT_ERR_FORMAT, "%s: column '%s' is an input but holds %s, not text%s", ds->path,
                              ds->cols[c].name, ds->cols[c].kind == SBERT_COL_NUMBER_LIST ? "lists of numbers" : "numbers",
                              ds->cols[c].kind == SBERT_COL_NUMBER_LIST
                                  ? " (only the label column, named label/labels/score/scores, may hold lists)"
                                  : "");
        for (size_t r = 0; r < ds->n_rows; r++) {
            const char *s = ds->cols[c].text[r];
            const char *q = s;
            while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r') q++;
            if (!*q)
                return sbert_fail(SBERT_ERR_FORMAT, "%s:%zu: column '%s' is an empty string", ds->path,
                                  ds->line[r], ds->cols[c].name);
        }
    }
    return SBERT_OK;
}

void sbert_dataset_truncate(sbert_dataset *ds, size_t n) {
    if (n < ds->n_rows) ds->n_rows = n;
}
