/*
 * tests/test_safetensors.c -- the safetensors reader and writer, and atomic
 * file replacement, against Python's `safetensors` in both directions.
 *
 *  1. Files written by Python (tools/gen_safetensors_refs.py, committed under
 *     tests/data/safetensors/): every tensor's dtype, shape, metadata and
 *     fp32 value (bit-exact: F16 subnormals/inf/NaN, BF16, F64 rounding) and
 *     raw I64 values must match expected.json.
 *     The real all-MiniLM-L6-v2 model.safetensors (models/, from
 *     tools/fetch_models.sh) is read whole and checked tensor by tensor
 *     against sums and edge values Python computed (minilm_summary.json).
 *  2. Round trip: sbert_st_write then sbert_st_open gives bit-identical data,
 *     a header padded to 8 bytes, tensors in name order.
 *  3. The reverse: Python's safetensors.numpy.load_file reads what sbert
 *     wrote (values compared bit-exactly with a raw dump, metadata compared),
 *     and re-serialising it with Python gives byte-identical files. Needs
 *     python3 + numpy + safetensors: when missing the test FAILS (make deps
 *     installs them).
 *  4. Malformed files: each violation of the format gives SBERT_ERR_FORMAT
 *     and a message naming the file and the problem.
 *  5. Atomic writes: a missing directory fails cleanly; an injected failure
 *     midway leaves the previous file intact and no temporary behind.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/atomic.h"
#include "io/file.h"
#include "io/safetensors.h"
#include "test_util.h"

static char g_dir[64];

static const char *tmp_path(const char *name) {
    static char buf[8][512];
    static int slot = 0;
    char *b = buf[slot++ & 7];
    snprintf(b, sizeof buf[0], "%s/%s", g_dir, name);
    return b;
}

static int write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(data, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* ------------------------------------------------ 1. files written by Python */

static void check_reference_file(const char *fname, const cJSON *exp, long *n_values,
                                 long *n_tensors) {
    char rel[256];
    snprintf(rel, sizeof rel, "tests/data/safetensors/%s.safetensors", fname);
    const char *path = test_path(rel);
    sbert_safetensors *st = NULL;
    CHECK_OK(sbert_st_open(path, &st));
    if (!st) return;
    const cJSON *tensors = cJSON_GetObjectItemCaseSensitive(exp, "tensors");
    CHECK((int)sbert_st_count(st) == cJSON_GetArraySize(tensors), "%s: %zu tensors, expected %d",
          fname, sbert_st_count(st), cJSON_GetArraySize(tensors));
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(exp, "metadata");
    for (const cJSON *m = meta ? meta->child : NULL; m; m = m->next) {
        const char *v = sbert_st_metadata(st, m->string);
        CHECK(v && strcmp(v, m->valuestring) == 0, "%s: metadata '%s' = '%s', expected '%s'",
              fname, m->string, v ? v : "(null)", m->valuestring);
    }
    CHECK(sbert_st_metadata(st, "no such key") == NULL, "absent metadata key");
    /* sbert_st_at lists tensors in data order: offsets strictly tile the buffer. */
    for (size_t i = 1; i < sbert_st_count(st); i++) {
        const sbert_st_tensor *a = sbert_st_at(st, i - 1), *b = sbert_st_at(st, i);
        CHECK((const char *)a->data + a->nbytes == (const char *)b->data,
              "%s: tensor %zu does not follow tensor %zu", fname, i, i - 1);
    }
    CHECK(sbert_st_at(st, sbert_st_count(st)) == NULL, "at(count) is NULL");

    for (const cJSON *e = tensors ? tensors->child : NULL; e; e = e->next) {
        const char *name = e->string;
        const sbert_st_tensor *t = sbert_st_find(st, name);
        CHECK(t != NULL, "%s: tensor '%s' not found", fname, name);
        if (!t) continue;
        (*n_tensors)++;
        const char *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype")->valuestring;
        CHECK(strcmp(t->dtype_name, dt) == 0, "%s/%s: dtype %s, expected %s", fname, name,
              t->dtype_name, dt);
        CHECK(strcmp(sbert_dtype_name(t->dtype), dt) == 0, "%s/%s: dtype enum", fname, name);
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
        int64_t shp[SBERT_ST_MAX_DIMS];
        int nd = cJSON_GetArraySize(shape);
        size_t numel = 1;
        for (int i = 0; i < nd; i++) {
            shp[i] = (int64_t)cJSON_GetArrayItem(shape, i)->valuedouble;
            numel *= (size_t)shp[i];
        }
        CHECK(t->ndim == nd, "%s/%s: ndim %d, expected %d", fname, name, t->ndim, nd);
        for (int i = 0; i < nd && i < t->ndim; i++)
            CHECK(t->shape[i] == shp[i], "%s/%s: dim %d = %lld, expected %lld", fname, name, i,
                  (long long)t->shape[i], (long long)shp[i]);
        CHECK(t->nbytes == numel * (size_t)sbert_dtype_bits(t->dtype) / 8, "%s/%s: nbytes %zu",
              fname, name, t->nbytes);

        const cJSON *bits = cJSON_GetObjectItemCaseSensitive(e, "f32_bits");
        const cJSON *ints = cJSON_GetObjectItemCaseSensitive(e, "int_values");
        float *dst = malloc((numel ? numel : 1) * sizeof(float));
        if (bits) {
            CHECK((size_t)cJSON_GetArraySize(bits) == numel, "%s/%s: expected.json count", fname,
                  name);
            CHECK_OK(sbert_st_read_f32(st, name, shp, nd, dst));
            CHECK_OK(sbert_st_read_f32(st, name, NULL, 0, dst)); /* no shape check */
            size_t i = 0, bad = 0;
            for (const cJSON *b = bits->child; b && i < numel; b = b->next, i++) {
                uint32_t want = (uint32_t)strtoul(b->valuestring, NULL, 16);
                if (f32_bits(dst[i]) != want) {
                    if (bad++ < 5)
                        CHECK(0, "%s/%s[%zu]: bits %08x, expected %08x (%g)", fname, name, i,
                              f32_bits(dst[i]), want, (double)dst[i]);
                }
                (*n_values)++;
            }
            CHECK(bad == 0, "%s/%s: %zu of %zu values differ", fname, name, bad, numel);
        } else {
            CHECK(ints != NULL, "%s/%s: expected.json has no values", fname, name);
            size_t i = 0, bad = 0;
            for (const cJSON *v = ints ? ints->child : NULL; v && i < numel; v = v->next, i++) {
                int64_t got;
                memcpy(&got, (const char *)t->data + 8 * i, 8);
                if (got != strtoll(v->valuestring, NULL, 10)) bad++;
                (*n_values)++;
            }
            CHECK(i == numel && bad == 0, "%s/%s: %zu int64 values differ", fname, name, bad);
            /* I64 cannot be read as fp32. */
            sbert_status s = sbert_st_read_f32(st, name, NULL, 0, dst);
            CHECK(s == SBERT_ERR_UNSUPPORTED && strstr(sbert_last_error(), "I64") &&
                      strstr(sbert_last_error(), name),
                  "%s/%s: read_f32 of I64 -> %s: %s", fname, name, sbert_status_name(s),
                  sbert_last_error());
        }
        free(dst);
    }
    sbert_st_close(st);
}

static void test_python_written_files(void) {
    cJSON *exp = NULL;
    CHECK_OK(sbert_json_load(test_path("tests/data/safetensors/expected.json"), &exp));
    if (!exp) return;
    long n_values = 0, n_tensors = 0;
    int n_files = 0;
    for (const cJSON *f = exp->child; f; f = f->next, n_files++)
        check_reference_file(f->string, f, &n_values, &n_tensors);
    CHECK(n_files == 6, "expected.json lists %d files", n_files);
    printf("python-written files: %d files, %ld tensors, %ld values compared bit-exactly\n",
           n_files, n_tensors, n_values);
    cJSON_Delete(exp);

    /* Errors from read_f32 on a good file. */
    const char *path = test_path("tests/data/safetensors/f32.safetensors");
    sbert_safetensors *st = NULL;
    CHECK_OK(sbert_st_open(path, &st));
    if (!st) return;
    float buf[64];
    sbert_status s = sbert_st_read_f32(st, "nope", NULL, 0, buf);
    CHECK(s == SBERT_ERR_FORMAT && strstr(sbert_last_error(), path) &&
              strstr(sbert_last_error(), "'nope' not found"),
          "missing tensor: %s", sbert_last_error());
    int64_t wrong[2] = {5, 3};
    s = sbert_st_read_f32(st, "weight", wrong, 2, buf);
    CHECK(s == SBERT_ERR_FORMAT && strstr(sbert_last_error(), path) &&
              strstr(sbert_last_error(), "tensor 'weight' has shape [3, 5] but expected [5, 3]"),
          "shape mismatch: %s", sbert_last_error());
    int64_t rank[1] = {15};
    s = sbert_st_read_f32(st, "weight", rank, 1, buf);
    CHECK(s == SBERT_ERR_FORMAT && strstr(sbert_last_error(), "has shape [3, 5] but expected [15]"),
          "rank mismatch: %s", sbert_last_error());
    s = sbert_st_read_f32(st, "scalar", rank, 0, buf);
    CHECK(s == SBERT_OK && buf[0] == 2.5f, "rank-0 read: %s", sbert_last_error());
    CHECK(strcmp(sbert_st_path(st), path) == 0, "sbert_st_path");
    sbert_st_close(st);

    /* The in-memory opener sees the same file. */
    size_t len;
    char *img = test_read_file(test_path("tests/data/safetensors/mixed.safetensors"), &len);
    CHECK(img != NULL, "read mixed.safetensors");
    if (img) {
        CHECK_OK(sbert_st_open_memory(img, len, "mixed(mem)", &st));
        if (st) {
            CHECK(sbert_st_count(st) == 14, "memory open: %zu tensors", sbert_st_count(st));
            sbert_st_close(st);
        }
        free(img);
    }
}

/* The real all-MiniLM-L6-v2 weights (models/, fetched by tools/fetch_models.sh,
 * which `make test` runs): every tensor against the summary Python produced. */
static void test_real_model(void) {
    const char *path = test_path("models/all-MiniLM-L6-v2/model.safetensors");
    cJSON *exp = NULL;
    CHECK_OK(sbert_json_load(test_path("tests/data/safetensors/minilm_summary.json"), &exp));
    sbert_safetensors *st = NULL;
    sbert_status s = sbert_st_open(path, &st);
    CHECK(s == SBERT_OK, "%s (run tools/fetch_models.sh or `make models`)", sbert_last_error());
    if (!exp || !st) {
        cJSON_Delete(exp);
        sbert_st_close(st);
        return;
    }
    CHECK((int)sbert_st_count(st) == cJSON_GetArraySize(exp), "MiniLM: %zu tensors, expected %d",
          sbert_st_count(st), cJSON_GetArraySize(exp));
    double worst = 0.0;
    size_t n_values = 0, n_tensors = 0;
    for (const cJSON *e = exp->child; e; e = e->next) {
        const sbert_st_tensor *t = sbert_st_find(st, e->string);
        CHECK(t != NULL, "MiniLM: '%s' missing", e->string);
        if (!t) continue;
        n_tensors++;
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
        int64_t shp[SBERT_ST_MAX_DIMS];
        int nd = cJSON_GetArraySize(shape);
        size_t numel = 1;
        for (int i = 0; i < nd && i < SBERT_ST_MAX_DIMS; i++) {
            shp[i] = (int64_t)cJSON_GetArrayItem(shape, i)->valuedouble;
            numel *= (size_t)shp[i];
        }
        const char *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype")->valuestring;
        CHECK(strcmp(t->dtype_name, dt) == 0, "MiniLM '%s': dtype %s", e->string, t->dtype_name);
        double sum = 0.0, want = cJSON_GetObjectItemCaseSensitive(e, "sum")->valuedouble;
        double abs_sum = cJSON_GetObjectItemCaseSensitive(e, "abs_sum")->valuedouble;
        if (t->dtype == SBERT_DT_I64) {
            CHECK(t->nbytes == numel * 8, "MiniLM '%s': size", e->string);
            for (size_t i = 0; i < t->nbytes / 8; i++) {
                int64_t v;
                memcpy(&v, (const char *)t->data + 8 * i, 8);
                sum += (double)v;
            }
            CHECK(sum == want, "MiniLM '%s': int sum %.0f, expected %.0f", e->string, sum, want);
            continue;
        }
        float *dst = malloc(numel * sizeof(float));
        s = sbert_st_read_f32(st, e->string, shp, nd, dst);
        CHECK(s == SBERT_OK, "MiniLM '%s': %s", e->string, sbert_last_error());
        if (s == SBERT_OK) {
            for (size_t i = 0; i < numel; i++) sum += dst[i];
            /* Summation order differs from numpy's pairwise sum: allow rounding. */
            double err = fabs(sum - want) / (abs_sum > 0 ? abs_sum : 1.0);
            if (err > worst) worst = err;
            CHECK(err < 1e-10, "MiniLM '%s': sum %.17g, expected %.17g", e->string, sum, want);
            const cJSON *head = cJSON_GetObjectItemCaseSensitive(e, "head_bits");
            const cJSON *tail = cJSON_GetObjectItemCaseSensitive(e, "tail_bits");
            size_t nh = (size_t)cJSON_GetArraySize(head), nt = (size_t)cJSON_GetArraySize(tail);
            for (size_t i = 0; i < nh && i < numel; i++)
                CHECK(f32_bits(dst[i]) == (uint32_t)strtoul(
                                              cJSON_GetArrayItem(head, (int)i)->valuestring, NULL, 16),
                      "MiniLM '%s'[%zu] bits", e->string, i);
            for (size_t i = 0; i < nt && i < numel; i++)
                CHECK(f32_bits(dst[numel - nt + i]) ==
                          (uint32_t)strtoul(cJSON_GetArrayItem(tail, (int)i)->valuestring, NULL, 16),
                      "MiniLM '%s'[-%zu] bits", e->string, nt - i);
            n_values += numel;
        }
        free(dst);
    }
    printf("real model: %zu tensors, %zu values read; worst relative sum error %.3g\n", n_tensors,
           n_values, worst);
    cJSON_Delete(exp);
    sbert_st_close(st);
}

/* ------------------------------------------------ 2. round trip */

typedef struct {
    sbert_st_entry e[6];
    float *bufs[6];
    size_t n;
} entry_set;

/* Tensors with awkward values: a random bit-pattern sweep (NaNs with payloads,
 * subnormals, infinities), a scalar, an empty tensor, a name needing escapes. */
static void make_entries(entry_set *s) {
    static const struct {
        const char *name;
        int ndim;
        int64_t shape[3];
    } specs[6] = {
        {"encoder.layer.0.weight", 2, {7, 5, 0}},
        {"bias", 1, {9, 0, 0}},
        {"a.scalar", 0, {0, 0, 0}},
        {"z.empty", 2, {0, 4, 0}},
        {"quote\"and\\slash\xc3\xa9", 3, {2, 1, 3}},
        {"b", 1, {1, 0, 0}},
    };
    uint32_t x = 0x12345678u;
    s->n = 6;
    for (size_t i = 0; i < 6; i++) {
        sbert_st_entry *e = &s->e[i];
        e->name = specs[i].name;
        e->ndim = specs[i].ndim;
        size_t numel = 1;
        for (int d = 0; d < e->ndim; d++) {
            e->shape[d] = specs[i].shape[d];
            numel *= (size_t)e->shape[d];
        }
        s->bufs[i] = malloc((numel ? numel : 1) * sizeof(float));
        for (size_t k = 0; k < numel; k++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            memcpy(&s->bufs[i][k], &x, 4);
        }
        e->data = numel ? s->bufs[i] : NULL;
    }
}

static void free_entries(entry_set *s) {
    for (size_t i = 0; i < s->n; i++) free(s->bufs[i]);
}

static void test_round_trip(entry_set *es) {
    const char *path = tmp_path("rt.safetensors");
    const char *meta[] = {"producer", "sbert test", "note", "line\nbreak \"q\""};
    CHECK_OK(sbert_st_write(path, es->e, es->n, meta, 2));
    CHECK(access(tmp_path("rt.safetensors.tmp"), F_OK) != 0, "no temp file left");

    size_t len;
    unsigned char *img = (unsigned char *)test_read_file(path, &len);
    CHECK(img && len >= 8, "read back");
    if (!img) return;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | img[i];
    CHECK(hlen % 8 == 0, "header length %llu is a multiple of 8", (unsigned long long)hlen);
    CHECK(memcmp(img + 8, "{\"__metadata__\":{\"format\":\"pt\"", 30) == 0,
          "header starts with __metadata__ and format pt: %.40s", img + 8);
    CHECK(img[8 + hlen - 1] == ' ' || img[8 + hlen - 1] == '}', "header padded with spaces");
    free(img);

    sbert_safetensors *st = NULL;
    CHECK_OK(sbert_st_open(path, &st));
    if (!st) return;
    CHECK(sbert_st_count(st) == es->n, "round trip count %zu", sbert_st_count(st));
    CHECK(sbert_st_metadata(st, "format") && strcmp(sbert_st_metadata(st, "format"), "pt") == 0,
          "format=pt");
    CHECK(sbert_st_metadata(st, "note") &&
              strcmp(sbert_st_metadata(st, "note"), "line\nbreak \"q\"") == 0,
          "escaped metadata survives");
    /* Name order = offset order. */
    for (size_t i = 1; i < sbert_st_count(st); i++)
        CHECK(strcmp(sbert_st_at(st, i - 1)->name, sbert_st_at(st, i)->name) < 0,
              "tensor %zu out of name order", i);
    size_t n_values = 0;
    for (size_t i = 0; i < es->n; i++) {
        const sbert_st_entry *e = &es->e[i];
        const sbert_st_tensor *t = sbert_st_find(st, e->name);
        CHECK(t != NULL, "round trip: '%s' missing", e->name);
        if (!t) continue;
        CHECK(t->dtype == SBERT_DT_F32 && t->ndim == e->ndim, "'%s' dtype/ndim", e->name);
        size_t numel = 1;
        for (int d = 0; d < e->ndim; d++) numel *= (size_t)e->shape[d];
        float *dst = malloc((numel ? numel : 1) * sizeof(float));
        CHECK_OK(sbert_st_read_f32(st, e->name, e->shape, e->ndim, dst));
        CHECK(numel == 0 || memcmp(dst, e->data, numel * 4) == 0, "'%s' not bit-identical",
              e->name);
        n_values += numel;
        free(dst);
    }
    printf("round trip: %zu tensors, %zu values bit-identical\n", es->n, n_values);
    sbert_st_close(st);

    /* Writer argument checks. */
    sbert_st_entry dup[2] = {es->e[0], es->e[0]};
    sbert_status s = sbert_st_write(tmp_path("dup.safetensors"), dup, 2, NULL, 0);
    CHECK(s == SBERT_ERR_INVALID_ARG && strstr(sbert_last_error(), "duplicate tensor name"),
          "duplicate names rejected: %s", sbert_last_error());
    CHECK(access(tmp_path("dup.safetensors"), F_OK) != 0, "nothing written on bad input");
    sbert_st_entry neg = es->e[1];
    neg.shape[0] = -3;
    s = sbert_st_write(tmp_path("neg.safetensors"), &neg, 1, NULL, 0);
    CHECK(s == SBERT_ERR_INVALID_ARG, "negative dim rejected");
    sbert_st_entry meta_name = es->e[1];
    meta_name.name = "__metadata__";
    s = sbert_st_write(tmp_path("neg.safetensors"), &meta_name, 1, NULL, 0);
    CHECK(s == SBERT_ERR_INVALID_ARG, "tensor named __metadata__ rejected");

    /* An empty file (no tensors) is valid. */
    CHECK_OK(sbert_st_write(tmp_path("none.safetensors"), NULL, 0, NULL, 0));
    CHECK_OK(sbert_st_open(tmp_path("none.safetensors"), &st));
    if (st) {
        CHECK(sbert_st_count(st) == 0, "no tensors");
        sbert_st_close(st);
    }
}

/* ------------------------------------------------ 3. Python reads what we wrote */

static const char *k_py =
    "import sys, json\n"
    "try:\n"
    "    import numpy as np\n"
    "    from safetensors import safe_open\n"
    "    from safetensors.numpy import load_file, save\n"
    "except Exception as e:\n"
    "    print('PYTHON MODULES MISSING: %s' % e); sys.exit(3)\n"
    "path, raw, shapes, plain = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]\n"
    "d = load_file(path)\n"
    "assert sorted(d) == sorted(shapes), (sorted(d), sorted(shapes))\n"
    "blob = open(raw, 'rb').read(); off = 0; n = 0\n"
    "for k in sorted(shapes):\n"
    "    a = d[k]\n"
    "    assert a.dtype == np.float32, (k, a.dtype)\n"
    "    assert list(a.shape) == shapes[k], (k, a.shape, shapes[k])\n"
    "    b = a.tobytes(); assert b == blob[off:off+len(b)], 'values of %r differ' % k\n"
    "    off += len(b); n += a.size\n"
    "assert off == len(blob)\n"
    "with safe_open(path, 'np') as f:\n"
    "    m = f.metadata()\n"
    "assert m == {'format': 'pt', 'producer': 'sbert test', 'note': 'line\\nbreak \"q\"'}, m\n"
    "src = open(plain, 'rb').read()\n"
    "again = save(load_file(plain), metadata={'format': 'pt'})\n"
    "assert again == src, 'python re-serialisation differs from sbert bytes'\n"
    "print('python: %d tensors, %d values bit-identical, re-serialised bytes identical' % (len(d), n))\n";

static void test_python_reads_ours(entry_set *es) {
    const char *path = tmp_path("rt.safetensors");
    const char *plain = tmp_path("plain.safetensors");
    const char *raw = tmp_path("rt.raw");
    const char *script = tmp_path("check.py");
    /* `plain`: the same tensors, only {"format":"pt"} metadata, so Python's
     * writer must reproduce it byte for byte. Names with escapes are excluded
     * (serde and sbert escape non-ASCII identically, but keep it simple). */
    CHECK_OK(sbert_st_write(plain, es->e, 4, NULL, 0));
    /* The raw dump, in name order, written independently of the writer. */
    size_t order[6];
    for (size_t i = 0; i < es->n; i++) order[i] = i;
    for (size_t i = 0; i < es->n; i++)
        for (size_t j = i + 1; j < es->n; j++)
            if (strcmp(es->e[order[j]].name, es->e[order[i]].name) < 0) {
                size_t t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
    FILE *f = fopen(raw, "wb");
    char shapes[1024];
    size_t sl = (size_t)snprintf(shapes, sizeof shapes, "{");
    for (size_t i = 0; i < es->n && f; i++) {
        const sbert_st_entry *e = &es->e[order[i]];
        size_t numel = 1;
        for (int d = 0; d < e->ndim; d++) numel *= (size_t)e->shape[d];
        if (numel) fwrite(e->data, 4, numel, f);
        /* JSON key: escape quote and backslash. */
        sl += (size_t)snprintf(shapes + sl, sizeof shapes - sl, "%s\"", i ? ", " : "");
        for (const char *c = e->name; *c; c++) {
            if (*c == '"' || *c == '\\') shapes[sl++] = '\\';
            shapes[sl++] = *c;
        }
        sl += (size_t)snprintf(shapes + sl, sizeof shapes - sl, "\": [");
        for (int d = 0; d < e->ndim; d++)
            sl += (size_t)snprintf(shapes + sl, sizeof shapes - sl, "%s%lld", d ? ", " : "",
                                   (long long)e->shape[d]);
        sl += (size_t)snprintf(shapes + sl, sizeof shapes - sl, "]");
    }
    snprintf(shapes + sl, sizeof shapes - sl, "}");
    CHECK(f && fclose(f) == 0, "write raw dump");
    CHECK(write_bytes(script, k_py, strlen(k_py)), "write script");
    /* Shell-quote the JSON argument ('...' with ' -> '\''; it has none). */
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "python3 '%s' '%s' '%s' '%s' '%s'", script, path, raw, shapes, plain);
    fflush(stdout);
    int rc = system(cmd);
    int code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    CHECK(code == 0,
          "Python could not read sbert's safetensors file (exit %d)%s", code,
          code == 127 || code == 3
              ? ": python3 with numpy and safetensors is required for this test "
                "(`make deps` or `pip install numpy safetensors`)"
              : "");
}

/* ------------------------------------------------ 4. malformed files */

static void put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* [N][header][data_len zero bytes], N = declared (or strlen(header) if ~0). */
static const char *make_st(const char *name, const char *header, size_t data_len,
                           uint64_t declared) {
    const char *path = tmp_path(name);
    size_t hl = strlen(header);
    unsigned char *buf = calloc(1, 8 + hl + data_len);
    put_u64(buf, declared == UINT64_MAX ? hl : declared);
    memcpy(buf + 8, header, hl);
    write_bytes(path, buf, 8 + hl + data_len);
    free(buf);
    return path;
}

static void expect_bad(const char *path, sbert_status want, const char *needle) {
    sbert_safetensors *st = NULL;
    sbert_status s = sbert_st_open(path, &st);
    const char *msg = sbert_last_error();
    CHECK(s == want && st == NULL && strstr(msg, path) && strstr(msg, needle),
          "%s: got %s \"%s\", expected %s containing \"%s\"", path, sbert_status_name(s), msg,
          sbert_status_name(want), needle);
    if (st) sbert_st_close(st);
}

static void test_malformed(void) {
    const uint64_t A = UINT64_MAX;
    const char *p;
    /* Too short / header length problems. */
    p = tmp_path("short.safetensors");
    write_bytes(p, "\x10\0\0\0\0", 5);
    expect_bad(p, SBERT_ERR_FORMAT, "shorter than the 8-byte");
    p = tmp_path("empty.safetensors");
    write_bytes(p, "", 0);
    expect_bad(p, SBERT_ERR_FORMAT, "shorter than the 8-byte");
    expect_bad(make_st("beyond.safetensors", "{}", 0, 1000), SBERT_ERR_FORMAT,
               "runs past the end of the file");
    expect_bad(make_st("huge.safetensors", "{}", 0, 100000001ULL), SBERT_ERR_FORMAT,
               "exceeds the limit");
    expect_bad(make_st("huge2.safetensors", "{}", 0, UINT64_MAX - 3), SBERT_ERR_FORMAT,
               "exceeds the limit");
    /* Header content. */
    expect_bad(make_st("notjson.safetensors", "{\"a\": [1, 2", 0, A), SBERT_ERR_FORMAT,
               "not valid JSON");
    expect_bad(make_st("notobj.safetensors", "[1, 2]  ", 0, A), SBERT_ERR_FORMAT,
               "does not start with '{'");
    expect_bad(make_st("zerolen.safetensors", "", 0, A), SBERT_ERR_FORMAT,
               "does not start with '{'");
    expect_bad(make_st("trail.safetensors", "{} x", 0, A), SBERT_ERR_FORMAT,
               "unexpected bytes after the header");
    expect_bad(make_st("utf8.safetensors", "{\"\xff\": 1}", 0, A), SBERT_ERR_FORMAT, "UTF-8");
    /* Trailing spaces (the writer's padding) are fine. */
    sbert_safetensors *st = NULL;
    CHECK_OK(sbert_st_open(make_st("pad.safetensors",
                                   "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}   ",
                                   4, A),
                           &st));
    if (st) sbert_st_close(st);
    /* Entries. */
    expect_bad(make_st("dtype.safetensors",
                       "{\"w\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, A),
               SBERT_ERR_FORMAT, "tensor 'w': unknown dtype \"F33\"");
    expect_bad(make_st("nodtype.safetensors", "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                       A),
               SBERT_ERR_FORMAT, "tensor 'w': missing or non-string 'dtype'");
    expect_bad(make_st("entry.safetensors", "{\"w\": 3}", 0, A), SBERT_ERR_FORMAT,
               "tensor 'w': header entry is not an object");
    expect_bad(make_st("negshape.safetensors",
                       "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, A),
               SBERT_ERR_FORMAT, "tensor 'w': shape entry 0 is not a non-negative integer");
    expect_bad(make_st("fracshape.safetensors",
                       "{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, A),
               SBERT_ERR_FORMAT, "shape entry 0");
    expect_bad(make_st("range.safetensors",
                       "{\"w\":{\"dtype\":\"F32\",\"shape\":[25],\"data_offsets\":[0,100]}}", 8, A),
               SBERT_ERR_FORMAT, "tensor 'w': data_offsets [0, 100] out of range");
    expect_bad(make_st("backwards.safetensors",
                       "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", 8, A),
               SBERT_ERR_FORMAT, "tensor 'w': data_offsets [8, 4] has begin > end");
    expect_bad(make_st("offs.safetensors",
                       "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, A),
               SBERT_ERR_FORMAT, "tensor 'w': 'data_offsets' must be [begin, end]");
    expect_bad(make_st("mismatch.safetensors",
                       "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, A),
               SBERT_ERR_FORMAT, "tensor 'w': shape [3] of F32 needs 12 bytes but data_offsets");
    expect_bad(make_st("overflow.safetensors",
                       "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],"
                       "\"data_offsets\":[0,0]}}",
                       0, A),
               SBERT_ERR_FORMAT, "tensor 'w': shape [4294967296, 4294967296, 16] is too large");
    expect_bad(make_st("overflow2.safetensors",
                       "{\"w\":{\"dtype\":\"F64\",\"shape\":[1125899906842624,1125899906842624],"
                       "\"data_offsets\":[0,0]}}",
                       0, A),
               SBERT_ERR_FORMAT, "tensor 'w': shape [1125899906842624, 1125899906842624] is too large");
    expect_bad(make_st("f4.safetensors",
                       "{\"w\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", 2, A),
               SBERT_ERR_FORMAT, "does not end on a byte boundary");
    expect_bad(make_st("overlap.safetensors",
                       "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                       12, A),
               SBERT_ERR_FORMAT, "tensor 'b' (bytes 4..12) overlaps tensor 'a'");
    expect_bad(make_st("hole.safetensors",
                       "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                       "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
                       12, A),
               SBERT_ERR_FORMAT, "hole in the data area: bytes 4..8");
    expect_bad(make_st("tail.safetensors",
                       "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, A),
               SBERT_ERR_FORMAT, "cover 4 bytes of data but the file holds 8");
    expect_bad(make_st("dup.safetensors",
                       "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                       "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                       8, A),
               SBERT_ERR_FORMAT, "duplicate tensor name 'a'");
    expect_bad(make_st("metaval.safetensors", "{\"__metadata__\":{\"format\":\"pt\",\"n\":1}}", 0,
                       A),
               SBERT_ERR_FORMAT, "__metadata__ key 'n' has a non-string value");
    expect_bad(make_st("metadup.safetensors",
                       "{\"__metadata__\":{\"format\":\"pt\",\"k\":\"1\",\"k\":\"2\"}}", 0, A),
               SBERT_ERR_FORMAT, "duplicate __metadata__ key 'k'");
    expect_bad(make_st("metaobj.safetensors", "{\"__metadata__\":[\"x\"]}", 0, A),
               SBERT_ERR_FORMAT, "'__metadata__' is not an object");
    expect_bad(make_st("rank9.safetensors",
                       "{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],"
                       "\"data_offsets\":[0,4]}}",
                       4, A),
               SBERT_ERR_UNSUPPORTED, "tensor 'w' has 9 dimensions");

    /* A real file cut short: the last tensor's offsets leave the file. */
    size_t len;
    char *img = test_read_file(test_path("tests/data/safetensors/f32.safetensors"), &len);
    if (img) {
        p = tmp_path("truncated.safetensors");
        write_bytes(p, img, len - 4);
        expect_bad(p, SBERT_ERR_FORMAT, "out of range");
        p = tmp_path("truncated_hdr.safetensors");
        write_bytes(p, img, 40);
        expect_bad(p, SBERT_ERR_FORMAT, "runs past the end of the file");
        free(img);
    }
    /* Missing file: an I/O error naming it. */
    p = tmp_path("does-not-exist.safetensors");
    expect_bad(p, SBERT_ERR_IO, "no such file");
    /* Not a file: each says what is there instead (it used to be "file not
     * found" from the model loader, or "not a regular file"). */
    {
        char loop_a[1024], loop_b[1024], dir[1024], dangling[1024], fifo[1024];
        snprintf(loop_a, sizeof loop_a, "%s", tmp_path("loop_a.safetensors"));
        snprintf(loop_b, sizeof loop_b, "%s", tmp_path("loop_b.safetensors"));
        snprintf(dir, sizeof dir, "%s", tmp_path("dir.safetensors"));
        snprintf(dangling, sizeof dangling, "%s", tmp_path("dangling.safetensors"));
        snprintf(fifo, sizeof fifo, "%s", tmp_path("fifo.safetensors"));
        CHECK(symlink(loop_b, loop_a) == 0 && symlink(loop_a, loop_b) == 0, "symlink loop");
        CHECK(mkdir(dir, 0755) == 0, "mkdir");
        CHECK(symlink(tmp_path("nowhere.safetensors"), dangling) == 0, "dangling symlink");
        CHECK(mkfifo(fifo, 0644) == 0, "mkfifo");
        expect_bad(loop_a, SBERT_ERR_IO, "symbolic link loop");
        expect_bad(dir, SBERT_ERR_IO, "is a directory, not a file");
        expect_bad(dangling, SBERT_ERR_IO, "symbolic link to '");
        CHECK(strstr(sbert_last_error(), "nowhere.safetensors', which does not exist") != NULL,
              "dangling link names its target: %s", sbert_last_error());
        expect_bad(fifo, SBERT_ERR_IO, "named pipe, not a regular file");
        /* sbert_read_file (config.json, tokenizer.json...) says the same */
        char *text = NULL;
        CHECK(sbert_read_file(dir, &text, NULL) == SBERT_ERR_IO && !text &&
                  strstr(sbert_last_error(), "is a directory, not a file"),
              "sbert_read_file on a directory: %s", sbert_last_error());
        CHECK(sbert_read_file(loop_b, &text, NULL) == SBERT_ERR_IO && !text &&
                  strstr(sbert_last_error(), "symbolic link loop"),
              "sbert_read_file on a link loop: %s", sbert_last_error());
        /* present-but-not-a-file counts as present (so optional files are
         * not silently skipped); only absence is absence */
        CHECK(sbert_file_exists(loop_a) && sbert_file_exists(dir) && sbert_file_exists(dangling) &&
                  !sbert_file_exists(tmp_path("nowhere.safetensors")),
              "sbert_file_exists: present unless absent");
        CHECK(sbert_dir_check(dir) == SBERT_OK, "sbert_dir_check on a directory");
        CHECK(sbert_dir_check(loop_a) == SBERT_ERR_IO && strstr(sbert_last_error(), "symbolic link loop"),
              "sbert_dir_check on a loop: %s", sbert_last_error());
        CHECK(sbert_dir_check(tmp_path("nowhere")) == SBERT_ERR_IO &&
                  strstr(sbert_last_error(), "no such directory"),
              "sbert_dir_check on nothing: %s", sbert_last_error());
        unlink(loop_a);
        unlink(loop_b);
        rmdir(dir);
        unlink(dangling);
        unlink(fifo);
    }

    /* Empty tensors and scalars, and an empty-data file, are valid. */
    CHECK_OK(sbert_st_open(make_st("okempty.safetensors",
                                   "{\"e\":{\"dtype\":\"BF16\",\"shape\":[0,7],\"data_offsets\":[0,0]},"
                                   "\"s\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[0,8]},"
                                   "\"z\":{\"dtype\":\"I8\",\"shape\":[0],\"data_offsets\":[8,8]},"
                                   "\"__metadata__\":null}",
                                   8, A),
                           &st));
    if (st) {
        CHECK(sbert_st_count(st) == 3, "okempty: 3 tensors");
        const sbert_st_tensor *e = sbert_st_find(st, "e");
        CHECK(e && e->nbytes == 0 && e->ndim == 2 && e->shape[1] == 7, "empty tensor shape");
        float v = 1.0f;
        CHECK_OK(sbert_st_read_f32(st, "s", NULL, 0, &v));
        CHECK(v == 0.0f, "scalar reads 0");
        sbert_st_close(st);
    }
}

/* ------------------------------------------------ 5. atomic writes */

static void test_atomic(entry_set *es) {
    /* Into a directory that does not exist: I/O error naming the path. */
    const char *p = tmp_path("no/such/dir/x.safetensors");
    sbert_status s = sbert_st_write(p, es->e, es->n, NULL, 0);
    CHECK(s == SBERT_ERR_IO && strstr(sbert_last_error(), p), "missing directory: %s %s",
          sbert_status_name(s), sbert_last_error());
    s = sbert_write_file_atomic(p, "x", 1);
    CHECK(s == SBERT_ERR_IO && strstr(sbert_last_error(), "cannot create temporary file"),
          "missing directory (raw): %s", sbert_last_error());

    /* Replace an existing file; then fail midway and check it is untouched. */
    const char *target = tmp_path("keep.safetensors");
    CHECK_OK(sbert_st_write(target, es->e, 2, NULL, 0));
    size_t len0;
    char *before = test_read_file(target, &len0);
    char tmpname[600];
    snprintf(tmpname, sizeof tmpname, "%s.tmp.%ld", target, (long)getpid());
    long long cuts[] = {0, 5, 8, 100, (long long)len0 - 1};
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        sbert_atomic_test_fail_after(cuts[c]);
        s = sbert_st_write(target, es->e, es->n, NULL, 0);
        sbert_atomic_test_fail_after(-1);
        CHECK(s == SBERT_ERR_IO && strstr(sbert_last_error(), "injected") &&
                  strstr(sbert_last_error(), target),
              "injected failure after %lld bytes: %s %s", cuts[c], sbert_status_name(s),
              sbert_last_error());
        size_t len1;
        char *after = test_read_file(target, &len1);
        CHECK(after && before && len1 == len0 && memcmp(after, before, len0) == 0,
              "old file intact after a failure at byte %lld", cuts[c]);
        free(after);
        CHECK(access(tmpname, F_OK) != 0, "temporary file removed after failure at %lld",
              cuts[c]);
    }
    /* Failure through the raw stream is caught at commit. */
    sbert_atomic_file *af = sbert_atomic_open(target, &s);
    CHECK(af != NULL, "atomic open");
    if (af) {
        fputs("partial content", sbert_atomic_stream(af));
        sbert_atomic_test_fail_after(4);
        s = sbert_atomic_commit(af);
        sbert_atomic_test_fail_after(-1);
        CHECK(s == SBERT_ERR_IO, "commit with injected failure fails");
        size_t len1;
        char *after = test_read_file(target, &len1);
        CHECK(after && len1 == len0 && memcmp(after, before, len0) == 0, "intact after commit failure");
        free(after);
        CHECK(access(tmpname, F_OK) != 0, "temp removed after commit failure");
    }
    /* Abort leaves the target alone. */
    af = sbert_atomic_open(target, &s);
    if (af) {
        CHECK_OK(sbert_atomic_write(af, "garbage", 7));
        CHECK(access(tmpname, F_OK) == 0, "temporary file exists while writing");
        sbert_atomic_abort(af);
        size_t len1;
        char *after = test_read_file(target, &len1);
        CHECK(after && len1 == len0 && memcmp(after, before, len0) == 0, "intact after abort");
        free(after);
        CHECK(access(tmpname, F_OK) != 0, "temp removed after abort");
    }
    /* And a successful replacement. */
    CHECK_OK(sbert_write_file_atomic(target, "hello", 5));
    size_t len2;
    char *now = test_read_file(target, &len2);
    CHECK(now && len2 == 5 && memcmp(now, "hello", 5) == 0, "replaced");
    free(now);
    free(before);
    /* Rename over a directory fails and cleans up. */
    const char *d = tmp_path("adir");
    mkdir(d, 0700);
    s = sbert_write_file_atomic(d, "x", 1);
    CHECK(s == SBERT_ERR_IO && strstr(sbert_last_error(), "rename"), "rename over dir: %s",
          sbert_last_error());
    snprintf(tmpname, sizeof tmpname, "%s.tmp.%ld", d, (long)getpid());
    CHECK(access(tmpname, F_OK) != 0, "temp removed after rename failure");
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/sbert_test_st_XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    entry_set es;
    make_entries(&es);
    test_python_written_files();
    test_real_model();
    test_round_trip(&es);
    test_python_reads_ours(&es);
    test_malformed();
    test_atomic(&es);
    free_entries(&es);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return test_summary();
}
