/*
 * training/tensorboard.c -- TensorBoard event files (see tensorboard.h): the
 * CRC-32C, the few protobuf wire-format pieces an Event needs, TFRecord
 * framing and the writer.
 */
#define _XOPEN_SOURCE 700
#include "training/tensorboard.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "io/dirs.h"

/* ------------------------------------------------------------ CRC-32C */

uint32_t sbert_crc32c(const void *data, size_t n) {
    static uint32_t table[256];
    static int ready = 0; /* the table is the same whoever fills it: a benign race */
    if (!ready) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
            table[i] = c;
        }
        ready = 1;
    }
    const uint8_t *p = data;
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < n; i++) crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return crc ^ 0xffffffffu;
}

uint32_t sbert_tb_masked_crc(const void *data, size_t n) {
    uint32_t crc = sbert_crc32c(data, n);
    return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

/* ------------------------------------------------- protobuf wire format */

/* A bounded output buffer: len counts every byte, stored or not. */
typedef struct {
    uint8_t *buf;
    size_t cap, len;
} pb;

static void pb_byte(pb *o, uint8_t b) {
    if (o->len < o->cap) o->buf[o->len] = b;
    o->len++;
}

static void pb_varint(pb *o, uint64_t v) {
    while (v >= 0x80) {
        pb_byte(o, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    pb_byte(o, (uint8_t)v);
}

static size_t varint_len(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Field key: (number << 3) | wire type (0 varint, 1 fixed64, 2 bytes, 5 fixed32). */
static void pb_key(pb *o, unsigned field, unsigned wire) { pb_varint(o, ((uint64_t)field << 3) | wire); }

static void pb_fixed(pb *o, uint64_t bits, int nbytes) {
    for (int i = 0; i < nbytes; i++) pb_byte(o, (uint8_t)(bits >> (8 * i)));
}

static void pb_double(pb *o, unsigned field, double v) {
    uint64_t bits;
    memcpy(&bits, &v, 8);
    pb_key(o, field, 1);
    pb_fixed(o, bits, 8);
}

static void pb_float(pb *o, unsigned field, float v) {
    uint32_t bits;
    memcpy(&bits, &v, 4);
    pb_key(o, field, 5);
    pb_fixed(o, bits, 4);
}

static void pb_bytes(pb *o, unsigned field, const void *data, size_t n) {
    pb_key(o, field, 2);
    pb_varint(o, n);
    for (size_t i = 0; i < n; i++) pb_byte(o, ((const uint8_t *)data)[i]);
}

/* proto3 leaves a zero scalar out (a -0.0 double is not zero to protobuf). */
static void event_head(pb *o, double wall_time, int64_t step) {
    uint64_t bits;
    memcpy(&bits, &wall_time, 8);
    if (bits != 0) pb_double(o, 1, wall_time);
    if (step != 0) {
        pb_key(o, 2, 0);
        pb_varint(o, (uint64_t)step); /* int64: a negative step takes 10 bytes, as protobuf */
    }
}

size_t sbert_tb_event_file_version(uint8_t *buf, size_t cap, double wall_time) {
    pb o = {buf, cap, 0};
    event_head(&o, wall_time, 0);
    static const char version[] = "brain.Event:2", writer[] = "sbert";
    pb_bytes(&o, 3, version, sizeof version - 1);
    /* source_metadata (10) { writer (1) } */
    pb_key(&o, 10, 2);
    pb_varint(&o, 1 + varint_len(sizeof writer - 1) + (sizeof writer - 1));
    pb_bytes(&o, 1, writer, sizeof writer - 1);
    return o.len;
}

size_t sbert_tb_event_scalar(uint8_t *buf, size_t cap, double wall_time, int64_t step, const char *tag,
                             float value) {
    pb o = {buf, cap, 0};
    event_head(&o, wall_time, step);
    size_t tn = strlen(tag);
    /* Summary.Value { tag (1), simple_value (2): in a oneof, so written even when 0 } */
    size_t value_len = 1 + varint_len(tn) + tn + 1 + 4;
    size_t summary_len = 1 + varint_len(value_len) + value_len;
    pb_key(&o, 5, 2);
    pb_varint(&o, summary_len);
    pb_key(&o, 1, 2);
    pb_varint(&o, value_len);
    pb_bytes(&o, 1, tag, tn);
    pb_float(&o, 2, value);
    return o.len;
}

/* ------------------------------------------------------------- naming */

sbert_status sbert_tb_default_logdir(const char *output_dir, time_t now, char *out, size_t cap) {
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    if (!localtime_r(&now, &tm)) return sbert_fail(SBERT_ERR_INTERNAL, "tensorboard: the clock is out of range");
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0) snprintf(host, sizeof host, "localhost");
    int n = snprintf(out, cap, "%s/runs/%s%02d_%02d-%02d-%02d_%s", output_dir, months[tm.tm_mon % 12], tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, host);
    if (n < 0 || (size_t)n >= cap)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "tensorboard: the log directory under %s is too long", output_dir);
    return SBERT_OK;
}

void sbert_tb_tag(const char *key, char *out, size_t cap) {
    if (!strncmp(key, "eval_", 5)) snprintf(out, cap, "eval/%s", key + 5);
    else if (!strncmp(key, "test_", 5)) snprintf(out, cap, "test/%s", key + 5);
    else snprintf(out, cap, "train/%s", key);
}

/* ------------------------------------------------------------- writer */

struct sbert_tb_writer {
    FILE *f;
    char path[4352];
};

double sbert_tb_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One TFRecord around data[n]. */
static sbert_status write_record(sbert_tb_writer *w, const uint8_t *data, size_t n) {
    uint8_t head[12], foot[4];
    for (int i = 0; i < 8; i++) head[i] = (uint8_t)((uint64_t)n >> (8 * i));
    uint32_t hc = sbert_tb_masked_crc(head, 8), dc = sbert_tb_masked_crc(data, n);
    for (int i = 0; i < 4; i++) {
        head[8 + i] = (uint8_t)(hc >> (8 * i));
        foot[i] = (uint8_t)(dc >> (8 * i));
    }
    errno = 0;
    if (fwrite(head, 1, 12, w->f) != 12 || fwrite(data, 1, n, w->f) != n || fwrite(foot, 1, 4, w->f) != 4 ||
        fflush(w->f) != 0)
        return sbert_fail(SBERT_ERR_IO, "%s: cannot write the TensorBoard event: %s", w->path,
                          strerror(errno ? errno : EIO));
    return SBERT_OK;
}

sbert_status sbert_tb_open(const char *logdir, double wall_time, sbert_tb_writer **out) {
    static int uid = 0; /* tensorboard's _global_uid: writers opened by this process */
    *out = NULL;
    SBERT_TRY(sbert_mkdir_p(logdir));
    sbert_tb_writer *w = calloc(1, sizeof *w);
    if (!w) return sbert_fail(SBERT_ERR_NOMEM, "out of memory (tensorboard writer)");
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0) snprintf(host, sizeof host, "localhost");
    int n = snprintf(w->path, sizeof w->path, "%s/events.out.tfevents.%010lld.%s.%d.%d", logdir,
                     (long long)floor(wall_time), host, (int)getpid(), uid++);
    if (n < 0 || (size_t)n >= sizeof w->path) {
        free(w);
        return sbert_fail(SBERT_ERR_INVALID_ARG, "tensorboard: the log directory %s is too long", logdir);
    }
    w->f = fopen(w->path, "wb");
    if (!w->f) {
        sbert_status st = sbert_fail(SBERT_ERR_IO, "%s: cannot create the TensorBoard event file: %s", w->path,
                                     strerror(errno));
        free(w);
        return st;
    }
    uint8_t buf[128];
    size_t len = sbert_tb_event_file_version(buf, sizeof buf, wall_time);
    sbert_status st = write_record(w, buf, len);
    if (st != SBERT_OK) {
        sbert_tb_close(w);
        return st;
    }
    *out = w;
    return SBERT_OK;
}

sbert_status sbert_tb_add_scalar(sbert_tb_writer *w, const char *tag, double value, int64_t step, double wall_time) {
    uint8_t small[512];
    size_t len = sbert_tb_event_scalar(small, sizeof small, wall_time, step, tag, (float)value);
    if (len <= sizeof small) return write_record(w, small, len);
    uint8_t *big = malloc(len);
    if (!big) return sbert_fail(SBERT_ERR_NOMEM, "out of memory (tensorboard event)");
    sbert_tb_event_scalar(big, len, wall_time, step, tag, (float)value);
    sbert_status st = write_record(w, big, len);
    free(big);
    return st;
}

sbert_status sbert_tb_add_history_entry(sbert_tb_writer *w, const cJSON *entry, double wall_time) {
    const cJSON *step = cJSON_GetObjectItemCaseSensitive(entry, "step");
    int64_t s = cJSON_IsNumber(step) ? (int64_t)step->valuedouble : 0;
    char tag[256];
    const cJSON *epoch = NULL;
    for (const cJSON *it = entry ? entry->child : NULL; it; it = it->next) {
        if (!it->string || !cJSON_IsNumber(it) || !strcmp(it->string, "step")) continue;
        if (!strcmp(it->string, "epoch")) {
            epoch = it;
            continue;
        }
        sbert_tb_tag(it->string, tag, sizeof tag);
        SBERT_TRY(sbert_tb_add_scalar(w, tag, it->valuedouble, s, wall_time));
    }
    if (epoch) SBERT_TRY(sbert_tb_add_scalar(w, "train/epoch", epoch->valuedouble, s, wall_time));
    return SBERT_OK;
}

const char *sbert_tb_path(const sbert_tb_writer *w) { return w->path; }

void sbert_tb_close(sbert_tb_writer *w) {
    if (!w) return;
    if (w->f) fclose(w->f);
    free(w);
}
