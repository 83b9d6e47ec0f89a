/*
 * tests/test_tensorboard.c -- report_to tensorboard (src/training/tensorboard.c,
 * src/training/report.c):
 *
 *   bytes      the events of tests/data/tensorboard/fixture.json, written today
 *              with the same fixed wall times, equal fixture.tfevents byte for
 *              byte: the file tools/gen_tensorboard_refs.py found equal to what
 *              torch's SummaryWriter and transformers' TensorBoardCallback write,
 *              and that TensorBoard's EventAccumulator read back (read.json);
 *   structure  this test's own TFRecord/protobuf reader: length and data CRCs
 *              (CRC-32C, masked), the file_version record, every scalar's tag,
 *              step, wall time and float32 value equal what TensorBoard read;
 *   naming     events.out.tfevents.{time:010d}.{host}.{pid}.{uid};
 *              {output_dir}/runs/{%b%d_%H-%M-%S}_{host}; rewrite_logs tags;
 *   training   a StaticEmbedding run with report_to tensorboard writes one event
 *              file under output_dir/runs/ holding every number of the final
 *              log_history under its Trainer tag at its step; "all" and
 *              "[tensorboard]" do the same, $TENSORBOARD_LOGGING_DIR moves it,
 *              "none" writes nothing, other integrations are refused by name.
 */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "io/dirs.h"
#include "tensorboard_fixture.h"
#include "test_util.h"

static char g_tmp[256];

/* ----------------------------------------------------- a small reader */

typedef struct {
    double wall;
    int64_t step;
    char tag[512];
    float value;
    int has_value;
    char version[64];
    char writer[64];
} tb_event;

static int rd_varint(const uint8_t *p, size_t n, size_t *pos, uint64_t *v) {
    *v = 0;
    for (int shift = 0; shift < 64 && *pos < n; shift += 7) {
        uint8_t b = p[(*pos)++];
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return 1;
    }
    return 0;
}

/* One length-delimited field's bounds; 0 on a malformed message. */
static int rd_bytes(const uint8_t *p, size_t n, size_t *pos, const uint8_t **data, size_t *len) {
    uint64_t l;
    if (!rd_varint(p, n, pos, &l) || l > n - *pos) return 0;
    *data = p + *pos;
    *len = (size_t)l;
    *pos += (size_t)l;
    return 1;
}

/* Decode an Event; only the fields sbert writes are allowed. */
static int decode_event(const uint8_t *p, size_t n, tb_event *e) {
    memset(e, 0, sizeof *e);
    size_t pos = 0;
    while (pos < n) {
        uint64_t key;
        if (!rd_varint(p, n, &pos, &key)) return 0;
        unsigned field = (unsigned)(key >> 3), wire = (unsigned)(key & 7);
        const uint8_t *d;
        size_t l;
        if (field == 1 && wire == 1 && n - pos >= 8) {
            memcpy(&e->wall, p + pos, 8);
            pos += 8;
        } else if (field == 2 && wire == 0) {
            uint64_t v;
            if (!rd_varint(p, n, &pos, &v)) return 0;
            e->step = (int64_t)v;
        } else if (field == 3 && wire == 2 && rd_bytes(p, n, &pos, &d, &l) && l < sizeof e->version) {
            memcpy(e->version, d, l);
        } else if (field == 10 && wire == 2 && rd_bytes(p, n, &pos, &d, &l)) {
            size_t q = 0;
            const uint8_t *w;
            size_t wl;
            uint64_t k;
            if (!rd_varint(d, l, &q, &k) || k != ((1 << 3) | 2) || !rd_bytes(d, l, &q, &w, &wl) || q != l ||
                wl >= sizeof e->writer)
                return 0;
            memcpy(e->writer, w, wl);
        } else if (field == 5 && wire == 2 && rd_bytes(p, n, &pos, &d, &l)) {
            /* Summary { value (1) { tag (1), simple_value (2) } }: exactly one value. */
            size_t q = 0, vl, r = 0;
            const uint8_t *v;
            uint64_t k;
            if (!rd_varint(d, l, &q, &k) || k != ((1 << 3) | 2) || !rd_bytes(d, l, &q, &v, &vl) || q != l) return 0;
            while (r < vl) {
                const uint8_t *t;
                size_t tl;
                if (!rd_varint(v, vl, &r, &k)) return 0;
                if (k == ((1 << 3) | 2) && rd_bytes(v, vl, &r, &t, &tl) && tl < sizeof e->tag) {
                    memcpy(e->tag, t, tl);
                } else if (k == ((2 << 3) | 5) && vl - r >= 4) {
                    memcpy(&e->value, v + r, 4);
                    r += 4;
                    e->has_value = 1;
                } else {
                    return 0;
                }
            }
        } else {
            return 0;
        }
    }
    return 1;
}

/* Split a TFRecord file, checking both CRCs of each record. Returns the
 * number of events decoded into ev (cap), or -1 on a bad record. */
static int read_events(const uint8_t *p, size_t n, tb_event *ev, int cap) {
    size_t pos = 0;
    int k = 0;
    while (pos < n) {
        if (n - pos < 12) return -1;
        uint64_t len = 0;
        for (int i = 0; i < 8; i++) len |= (uint64_t)p[pos + i] << (8 * i);
        uint32_t hc = 0, dc = 0;
        for (int i = 0; i < 4; i++) hc |= (uint32_t)p[pos + 8 + i] << (8 * i);
        if (hc != sbert_tb_masked_crc(p + pos, 8) || len > n - pos - 16) return -1;
        for (int i = 0; i < 4; i++) dc |= (uint32_t)p[pos + 12 + len + i] << (8 * i);
        if (dc != sbert_tb_masked_crc(p + pos + 12, (size_t)len)) return -1;
        if (k == cap || !decode_event(p + pos + 12, (size_t)len, &ev[k])) return -1;
        k++;
        pos += 12 + (size_t)len + 4;
    }
    return k;
}

/* The single regular file in dir whose name starts with prefix, into out. */
static int find_file(const char *dir, const char *prefix, char *out, size_t cap) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int found = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (!strncmp(de->d_name, prefix, strlen(prefix))) {
            snprintf(out, cap, "%s/%s", dir, de->d_name);
            found++;
        }
    closedir(d);
    return found;
}

/* ----------------------------------------------------------- the tests */

static void test_crc(void) {
    /* The CRC-32C check value (RFC 3720 B.4 / the Castagnoli polynomial's standard check). */
    CHECK(sbert_crc32c("123456789", 9) == 0xe3069283u, "crc32c('123456789') = %08x", sbert_crc32c("123456789", 9));
    CHECK(sbert_crc32c("", 0) == 0, "crc32c('') = 0");
    uint8_t zeros[32] = {0};
    CHECK(sbert_crc32c(zeros, 32) == 0x8a9136aau, "crc32c(32 zero bytes) = %08x", sbert_crc32c(zeros, 32));
    uint32_t c = sbert_crc32c("a", 1);
    CHECK(sbert_tb_masked_crc("a", 1) == ((c >> 15) | (c << 17)) + 0xa282ead8u, "masked crc");
}

static void test_fixture_bytes(void) {
    const char *fixture = test_path("tests/data/tensorboard/fixture.json");
    const char *ref = test_path("tests/data/tensorboard/fixture.tfevents");
    if (!TEST_REQUIRE_FILE(fixture, "run tools/gen_tensorboard_refs.py")) return;
    if (!TEST_REQUIRE_FILE(ref, "run tools/gen_tensorboard_refs.py")) return;
    char logdir[512], path[4400];
    snprintf(logdir, sizeof logdir, "%s/fixture/deeper", g_tmp);
    CHECK_OK(tb_fixture_write(fixture, logdir, path, sizeof path));
    size_t n = 0, m = 0;
    uint8_t *mine = (uint8_t *)test_read_file(path, &n);
    uint8_t *want = (uint8_t *)test_read_file(test_path("tests/data/tensorboard/fixture.tfevents"), &m);
    CHECK(mine && want && n == m && !memcmp(mine, want, n),
          "the fixture written today (%zu bytes) equals fixture.tfevents (%zu bytes)", n, m);
    /* The name: events.out.tfevents.1700000000.{host}.{pid}.{uid} */
    char host[256] = "", name[600];
    gethostname(host, sizeof host - 1);
    const char *base = strrchr(path, '/') + 1;
    int uid = -1;
    snprintf(name, sizeof name, "events.out.tfevents.1700000000.%s.%d.", host, (int)getpid());
    CHECK(!strncmp(base, name, strlen(name)) && sscanf(base + strlen(name), "%d", &uid) == 1 && uid >= 0,
          "event file name %s (want %s{uid})", base, name);
    /* A second writer in the same process gets the next uid. */
    char path2[4400];
    CHECK_OK(tb_fixture_write(fixture, logdir, path2, sizeof path2));
    int uid2 = -1;
    CHECK(sscanf(strrchr(path2, '/') + 1 + strlen(name), "%d", &uid2) == 1 && uid2 == uid + 1, "uid %d then %d",
          uid, uid2);
    free(mine);
    free(want);
}

/* The committed file, read by this test's reader, against what TensorBoard read. */
static void test_structure(void) {
    size_t n = 0, jn = 0;
    uint8_t *data = (uint8_t *)test_read_file(test_path("tests/data/tensorboard/fixture.tfevents"), &n);
    char *json = test_read_file(test_path("tests/data/tensorboard/read.json"), &jn);
    cJSON *read = json ? cJSON_Parse(json) : NULL;
    if (!data || !read) {
        CHECK(0, "fixture.tfevents and read.json (tools/gen_tensorboard_refs.py)");
        free(data);
        free(json);
        cJSON_Delete(read);
        return;
    }
    tb_event ev[64];
    int k = read_events(data, n, ev, 64);
    int records = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(read, "records"));
    CHECK(k == records, "%d records read, TensorBoard read %d", k, records);
    CHECK(k > 0 && !strcmp(ev[0].version, "brain.Event:2") && !strcmp(ev[0].writer, "sbert") &&
              ev[0].wall == 1700000000.5 && !ev[0].has_value,
          "first record: file_version brain.Event:2, writer sbert, wall time (got '%s', '%s', %.17g)",
          k > 0 ? ev[0].version : "", k > 0 ? ev[0].writer : "", k > 0 ? ev[0].wall : 0.0);
    /* Every scalar TensorBoard read, in order per tag, is in the file. */
    int matched = 0, total = 0;
    const cJSON *scalars = cJSON_GetObjectItem(read, "scalars");
    for (const cJSON *tag = scalars ? scalars->child : NULL; tag; tag = tag->next) {
        int from = 1;
        for (const cJSON *row = tag->child; row; row = row->next) {
            total++;
            double w = cJSON_GetArrayItem(row, 0)->valuedouble;
            int64_t s = (int64_t)cJSON_GetArrayItem(row, 1)->valuedouble;
            double v = tb_fixture_number(cJSON_GetArrayItem(row, 2));
            for (int i = from; i < k; i++) {
                if (strcmp(ev[i].tag, tag->string)) continue;
                int same = ev[i].has_value && (isnan(v) ? isnan(ev[i].value) : (double)ev[i].value == v);
                CHECK(ev[i].wall == w && ev[i].step == s && same, "%s: (%.17g, %lld, %.9g) vs TensorBoard (%.17g, %lld, %.9g)",
                      tag->string, ev[i].wall, (long long)ev[i].step, ev[i].value, w, (long long)s, v);
                matched++;
                from = i + 1;
                break;
            }
        }
    }
    CHECK(matched == total && total == k - 1, "%d of %d scalars matched (%d records)", matched, total, k);
    /* A flipped byte anywhere is caught by a CRC. */
    int caught = 0;
    for (size_t i = 0; i < n; i += 7) {
        data[i] ^= 0x10;
        if (read_events(data, n, ev, 64) < 0) caught++;
        data[i] ^= 0x10;
    }
    CHECK(caught == (int)((n + 6) / 7), "every corrupted copy is rejected (%d of %zu)", caught, (n + 6) / 7);
    free(data);
    free(json);
    cJSON_Delete(read);
}

static void test_naming(void) {
    char tag[64];
    sbert_tb_tag("loss", tag, sizeof tag);
    CHECK(!strcmp(tag, "train/loss"), "loss -> %s", tag);
    sbert_tb_tag("eval_sts-dev_spearman_cosine", tag, sizeof tag);
    CHECK(!strcmp(tag, "eval/sts-dev_spearman_cosine"), "eval_ -> %s", tag);
    sbert_tb_tag("test_sts_pearson_cosine", tag, sizeof tag);
    CHECK(!strcmp(tag, "test/sts_pearson_cosine"), "test_ -> %s", tag);
    sbert_tb_tag("evaluation", tag, sizeof tag);
    CHECK(!strcmp(tag, "train/evaluation"), "evaluation -> %s", tag);
    setenv("TZ", "UTC", 1);
    tzset();
    char dir[512], host[256] = "", want[600];
    gethostname(host, sizeof host - 1);
    CHECK_OK(sbert_tb_default_logdir("out/x", (time_t)1700000000, dir, sizeof dir)); /* 2023-11-14 22:13:20 UTC */
    snprintf(want, sizeof want, "out/x/runs/Nov14_22-13-20_%s", host);
    CHECK(!strcmp(dir, want), "default logdir %s (want %s)", dir, want);
    CHECK_OK(sbert_tb_default_logdir("o", (time_t)1704067199, dir, sizeof dir)); /* 2023-12-31 23:59:59 */
    snprintf(want, sizeof want, "o/runs/Dec31_23-59-59_%s", host);
    CHECK(!strcmp(dir, want), "default logdir %s (want %s)", dir, want);
    unsetenv("TZ");
    tzset();
    /* A log directory that cannot be made is an error naming it. */
    char blocker[512], bad[600];
    snprintf(blocker, sizeof blocker, "%s/blocker", g_tmp);
    FILE *f = fopen(blocker, "w");
    if (f) fclose(f);
    snprintf(bad, sizeof bad, "%s/runs", blocker);
    sbert_tb_writer *w = NULL;
    sbert_status st = sbert_tb_open(bad, 1.0, &w);
    CHECK(st == SBERT_ERR_IO && w == NULL && strstr(sbert_last_error(), blocker), "unwritable logdir: %s: %s",
          sbert_status_name(st), sbert_last_error());
}

static sbert_status train(const char *out, const char *report_to) {
    const char *args[] = {"--model", "static", "--tokenizer", test_path("data/bert-base-uncased-tokenizer.json"),
                          "--embedding_dim", "16", "--train_data", test_path("data/allnli-triplets.jsonl"),
                          "--eval_data", test_path("data/stsb-dev.jsonl"), "--evaluator_name", "sts-dev",
                          "--loss", "MultipleNegativesRankingLoss", "--max_train_samples", "96",
                          "--max_eval_samples", "40", "--per_device_train_batch_size", "16", "--max_steps", "4",
                          "--learning_rate", "0.1", "--save_strategy", "no", "--logging_steps", "1",
                          "--eval_strategy", "steps", "--eval_steps", "2", "--output_dir", out, "--run_name",
                          "tb", "--report_to", report_to};
    char logdir[512];
    snprintf(logdir, sizeof logdir, "%s/logs", g_tmp);
    sbert_train_summary s;
    return sbert_train(NULL, args, sizeof args / sizeof args[0], logdir, &s);
}

/* The event file of a run in dir (found under runs/<one dir>/ unless flat). */
static int run_event_file(const char *out, int flat, char *path, size_t cap) {
    char runs[600], sub[1200];
    if (flat) return find_file(out, "events.out.tfevents.", path, cap) == 1;
    snprintf(runs, sizeof runs, "%s/runs", out);
    if (find_file(runs, "", sub, sizeof sub) != 3) return 0; /* ".", "..", the run */
    DIR *d = opendir(runs);
    struct dirent *de;
    int ok = 0;
    while (d && (de = readdir(d)))
        if (de->d_name[0] != '.') {
            snprintf(sub, sizeof sub, "%s/%s", runs, de->d_name);
            ok = find_file(sub, "events.out.tfevents.", path, cap) == 1;
        }
    if (d) closedir(d);
    return ok;
}

/* Every number of final/trainer_state.json's log_history is in the event file. */
static void check_run(const char *what, const char *out, const char *events_path) {
    char state[700];
    snprintf(state, sizeof state, "%s/final/trainer_state.json", out);
    size_t n = 0;
    char *text = test_read_file(state, NULL);
    uint8_t *data = (uint8_t *)test_read_file(events_path, &n);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    tb_event *ev = calloc(512, sizeof *ev);
    int k = data && ev ? read_events(data, n, ev, 512) : -1;
    CHECK(j && k > 1, "%s: trainer_state.json and a readable event file (%d records)", what, k);
    int values = 0, found = 0;
    const cJSON *h = j ? cJSON_GetObjectItem(j, "log_history") : NULL;
    for (const cJSON *e = h ? h->child : NULL; e; e = e->next) {
        int64_t step = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(e, "step"));
        for (const cJSON *it = e->child; it; it = it->next) {
            if (!strcmp(it->string, "step")) continue;
            char tag[256];
            sbert_tb_tag(it->string, tag, sizeof tag);
            values++;
            for (int i = 1; i < k; i++)
                if (ev[i].step == step && !strcmp(ev[i].tag, tag) && ev[i].value == (float)it->valuedouble) {
                    found++;
                    break;
                }
        }
    }
    CHECK(values > 10 && found == values && k - 1 == values,
          "%s: %d of %d log_history values found in %d scalar events", what, found, values, k - 1);
    int tags = 0;
    for (int i = 1; i < k; i++)
        tags |= (!strcmp(ev[i].tag, "train/loss") ? 1 : 0) | (!strcmp(ev[i].tag, "train/learning_rate") ? 2 : 0) |
                (!strcmp(ev[i].tag, "train/grad_norm") ? 4 : 0) | (!strcmp(ev[i].tag, "train/epoch") ? 8 : 0) |
                (!strcmp(ev[i].tag, "eval/sts-dev_spearman_cosine") ? 16 : 0);
    CHECK(tags == 31, "%s: loss, learning_rate, grad_norm, epoch and eval tags present (%d)", what, tags);
    free(ev);
    free(data);
    free(text);
    cJSON_Delete(j);
}

static void test_training(void) {
    char out[512], path[2400];
    snprintf(out, sizeof out, "%s/run-tb", g_tmp);
    CHECK_OK(train(out, "tensorboard"));
    CHECK(run_event_file(out, 0, path, sizeof path), "one event file under %s/runs/<run>/", out);
    check_run("report_to tensorboard", out, path);

    snprintf(out, sizeof out, "%s/run-all", g_tmp);
    CHECK_OK(train(out, "[all]"));
    CHECK(run_event_file(out, 0, path, sizeof path), "report_to [all]: an event file under %s/runs", out);

    char env[512];
    snprintf(out, sizeof out, "%s/run-env", g_tmp);
    snprintf(env, sizeof env, "%s/tb-env", g_tmp);
    setenv("TENSORBOARD_LOGGING_DIR", env, 1);
    CHECK_OK(train(out, "tensorboard"));
    unsetenv("TENSORBOARD_LOGGING_DIR");
    CHECK(run_event_file(env, 1, path, sizeof path), "TENSORBOARD_LOGGING_DIR: the event file in %s", env);
    check_run("TENSORBOARD_LOGGING_DIR", out, path);

    snprintf(out, sizeof out, "%s/run-none", g_tmp);
    CHECK_OK(train(out, "none"));
    char runs[600];
    snprintf(runs, sizeof runs, "%s/runs", out);
    CHECK(access(runs, F_OK) != 0, "report_to none: no runs/ folder");

    sbert_status st = train(out, "wandb");
    CHECK(st == SBERT_ERR_UNSUPPORTED && strstr(sbert_last_error(), "report_to = 'wandb'") &&
              strstr(sbert_last_error(), "not available in sbert") && strstr(sbert_last_error(), "tensorboard"),
          "report_to wandb: %s", sbert_last_error());
    st = train(out, "tensorbored");
    CHECK(st == SBERT_ERR_UNSUPPORTED && strstr(sbert_last_error(), "unknown integration"), "report_to typo: %s",
          sbert_last_error());
    st = train(out, "none,tensorboard");
    CHECK(st == SBERT_ERR_INVALID_ARG && strstr(sbert_last_error(), "'none' cannot be combined"),
          "report_to none,tensorboard: %s", sbert_last_error());
}

int main(void) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/sbert_test_tb_XXXXXX");
    if (!mkdtemp(g_tmp)) {
        perror("mkdtemp");
        return 1;
    }
    test_crc();
    test_fixture_bytes();
    test_structure();
    test_naming();
    test_training();
    sbert_rm_rf(g_tmp);
    return test_summary();
}
