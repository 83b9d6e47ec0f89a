/*
 * training/checkpoint.c -- checkpoints and what keeps them whole:
 *
 *   - a checkpoint (model + optimizer + trainer_state.json) is written into
 *     "checkpoint-N.tmp.PID" and renamed into place: a folder named
 *     checkpoint-N is always complete;
 *   - retention (save_total_limit) renames an old checkpoint to
 *     "checkpoint-N.deleting.PID" before deleting it, so a kill during the
 *     deletion never leaves a half-deleted checkpoint under its real name;
 *   - a run takes an exclusive lock on output_dir (flock on
 *     output_dir/.sbert.lock, released by the kernel even on SIGKILL); a
 *     second run on the same directory fails naming the holder's pid;
 *   - holding the lock, a run removes the *.tmp.* and *.deleting.* folders
 *     that killed runs left behind;
 *   - resume validates trainer_state.json against the checkpoint's name, the
 *     schedule and the data before trusting it.
 */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/error.h"
#include "io/dirs.h"
#include "io/file.h"
#include "io/safetensors.h"
#include "training/trainer_internal.h"

/* ------------------------------------------------------------ lock */

sbert_status sbert_checkpoint_lock(sbert_trainer *t) {
    char path[4200];
    snprintf(path, sizeof path, "%s/.sbert.lock", t->output_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return sbert_fail(SBERT_ERR_IO, "%s: cannot create the output_dir lock: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char buf[32] = "";
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        buf[n > 0 ? n : 0] = '\0';
        close(fd);
        return sbert_fail(SBERT_ERR_IO,
                          "output_dir %s is in use by another training run (pid %s); wait for it or choose another "
                          "output_dir",
                          t->output_dir, *buf ? buf : "unknown");
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
        /* The lock holds without the pid; only the message of a second run is poorer. */
    }
    t->lock_fd = fd;
    return SBERT_OK;
}

void sbert_checkpoint_unlock(sbert_trainer *t) {
    if (t->lock_fd > 0) {
        flock(t->lock_fd, LOCK_UN);
        close(t->lock_fd);
    }
    t->lock_fd = -1;
}

void sbert_checkpoint_cleanup(sbert_trainer *t) {
    DIR *d = opendir(t->output_dir);
    if (!d) return;
    struct dirent *de;
    char path[4400];
    while ((de = readdir(d))) {
        if (!strstr(de->d_name, ".tmp.") && !strstr(de->d_name, ".deleting.")) continue;
        snprintf(path, sizeof path, "%s/%s", t->output_dir, de->d_name);
        sbert_log(t->log, "Removing %s (left by an interrupted run)\n", path);
        sbert_rm_rf(path);
    }
    closedir(d);
}

/* ------------------------------------------------------------ save */

sbert_status sbert_checkpoint_publish_model(sbert_trainer *t, const char *dir, int with_card) {
    char tmp[4400];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", dir, (int)getpid());
    sbert_rm_rf(tmp);
    sbert_status st = sbert_mkdir_p(tmp);
    if (st == SBERT_OK) st = sbert_model_save(t->model, tmp);
    if (st == SBERT_OK && with_card) st = sbert_model_card_write(t, tmp);
    if (st == SBERT_OK) st = sbert_publish_dir(tmp, dir);
    if (st != SBERT_OK) sbert_rm_rf(tmp);
    return st;
}

/* "checkpoint-N" exactly: N, else -1. */
static long long checkpoint_step(const char *name) {
    long long s;
    int used = 0;
    if (sscanf(name, "checkpoint-%lld%n", &s, &used) == 1 && name[used] == '\0' && s >= 0) return s;
    return -1;
}

static int cmp_desc(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Keep the newest save_total_limit checkpoints. */
static void rotate(sbert_trainer *t) {
    DIR *d = opendir(t->output_dir);
    if (!d) return;
    long long *steps = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        long long s = checkpoint_step(de->d_name);
        if (s < 0) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            long long *ns = realloc(steps, cap * sizeof *ns);
            if (!ns) break;
            steps = ns;
        }
        steps[n++] = s;
    }
    closedir(d);
    if (steps) qsort(steps, n, sizeof *steps, cmp_desc);
    for (size_t i = (size_t)t->a->save_total_limit; i < n; i++) {
        char path[4400], gone[4500];
        snprintf(path, sizeof path, "%s/checkpoint-%lld", t->output_dir, steps[i]);
        snprintf(gone, sizeof gone, "%s.deleting.%d", path, (int)getpid());
        /* Out of its name first (one rename), then away. */
        if (rename(path, gone) == 0) sbert_rm_rf(gone);
        else sbert_log(t->log, "warning: cannot remove old checkpoint %s: %s\n", path, strerror(errno));
    }
    free(steps);
}

sbert_status sbert_checkpoint_save(sbert_trainer *t) {
    char dir[4200], tmp[4300];
    snprintf(dir, sizeof dir, "%s/checkpoint-%lld", t->output_dir, (long long)t->global_step);
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", dir, (int)getpid());
    sbert_rm_rf(tmp);
    sbert_status st = sbert_mkdir_p(tmp);
    if (st == SBERT_OK) st = sbert_model_save(t->model, tmp);
    if (st == SBERT_OK) {
        /* The dropout generator, so a resumed run draws the masks an
         * uninterrupted one would. */
        char rng[80];
        snprintf(rng, sizeof rng, "%016llx%016llx%016llx%016llx", (unsigned long long)t->dropout_rng.s[0],
                 (unsigned long long)t->dropout_rng.s[1], (unsigned long long)t->dropout_rng.s[2],
                 (unsigned long long)t->dropout_rng.s[3]);
        const char *meta[2] = {"dropout_rng", rng};
        st = sbert_optimizer_save(&t->opt, tmp, meta, 1);
    }
    if (st == SBERT_OK) st = sbert_train_extras_save(t, tmp); /* the losses' own parameters */
    if (st == SBERT_OK) st = sbert_checkpoint_write_state(t, tmp);
    if (st == SBERT_OK) st = sbert_publish_dir(tmp, dir);
    if (st != SBERT_OK) {
        sbert_rm_rf(tmp);
        sbert_error_prefix("checkpoint at step %lld not written (previous checkpoints are intact): ",
                           (long long)t->global_step);
        return st;
    }
    sbert_log(t->log, "Saved checkpoint %s\n", dir);
    if (t->a->save_total_limit > 0) rotate(t);
    return SBERT_OK;
}

sbert_status sbert_checkpoint_write_state(const sbert_trainer *t, const char *dir) {
    cJSON *j = cJSON_CreateObject();
    if (!j) return sbert_fail(SBERT_ERR_NOMEM, "out of memory (trainer_state.json)");
    cJSON_AddNumberToObject(j, "global_step", (double)t->global_step);
    cJSON_AddNumberToObject(j, "epoch", (double)t->epoch);
    cJSON_AddNumberToObject(j, "next_batch", (double)t->next_batch);
    cJSON_AddNumberToObject(j, "has_best", t->has_best);
    cJSON_AddNumberToObject(j, "best_metric", t->has_best ? t->best_metric : 0.0);
    cJSON_AddNumberToObject(j, "best_step", (double)t->best_step);
    cJSON_AddNumberToObject(j, "bad_evals", (double)t->bad_evals);
    cJSON_AddStringToObject(j, "metric_for_best_model", t->metric_key);
    cJSON_AddNumberToObject(j, "total_steps", (double)t->total_steps);
    cJSON_AddNumberToObject(j, "epochs_done", t->epoch_f);
    cJSON *h = t->history ? cJSON_Duplicate(t->history, 1) : cJSON_CreateArray();
    if (h) cJSON_AddItemToObject(j, "log_history", h);
    /* %.17g for every number: cJSON_Print writes doubles round-trip exact. */
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    if (!text) return sbert_fail(SBERT_ERR_NOMEM, "out of memory (trainer_state.json)");
    sbert_status st = sbert_write_text_file(dir, "trainer_state.json", text);
    cJSON_free(text);
    return st;
}

/* ------------------------------------------------------------ resume */

sbert_status sbert_checkpoint_find_latest(const char *out_dir, char *dst, size_t cap) {
    DIR *d = opendir(out_dir);
    if (!d) return sbert_fail(SBERT_ERR_IO, "resume_from_checkpoint: %s: %s", out_dir, strerror(errno));
    long long best = -1;
    struct dirent *de;
    while ((de = readdir(d))) {
        long long s = checkpoint_step(de->d_name);
        if (s > best) best = s;
    }
    closedir(d);
    if (best < 0) return sbert_fail(SBERT_ERR_IO, "resume_from_checkpoint: no checkpoint-* folder in %s", out_dir);
    snprintf(dst, cap, "%s/checkpoint-%lld", out_dir, best);
    return SBERT_OK;
}

/* A whole number in [lo, hi] under `key`; the message names the file. */
static sbert_status state_int(const cJSON *j, const char *path, const char *key, long long lo, long long hi,
                              long long *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < (double)lo ||
        v->valuedouble > (double)hi)
        return sbert_fail(SBERT_ERR_FORMAT, "%s: \"%s\" must be a whole number in [%lld, %lld]", path, key, lo, hi);
    *out = (long long)v->valuedouble;
    return SBERT_OK;
}

static sbert_status read_state(sbert_trainer *t, const char *dir) {
    char path[4400];
    snprintf(path, sizeof path, "%s/trainer_state.json", dir);
    cJSON *j = NULL;
    SBERT_TRY(sbert_json_load(path, &j));
    sbert_status st = cJSON_IsObject(j) ? SBERT_OK : sbert_fail(SBERT_ERR_FORMAT, "%s: not a JSON object", path);
    long long step = 0, epoch = 0, next = 0, has_best = 0, best_step = 0, bad = 0;
    size_t n_batches = sbert_train_batches_per_epoch(t);
    if (st == SBERT_OK) st = state_int(j, path, "global_step", 0, t->total_steps, &step);
    if (st == SBERT_OK) st = state_int(j, path, "epoch", 0, (long long)t->total_steps + 1, &epoch);
    if (st == SBERT_OK) st = state_int(j, path, "next_batch", 0, (long long)n_batches, &next);
    if (st == SBERT_OK) st = state_int(j, path, "has_best", 0, 1, &has_best);
    if (st == SBERT_OK) st = state_int(j, path, "best_step", 0, step, &best_step);
    if (st == SBERT_OK) st = state_int(j, path, "bad_evals", 0, 1000000000LL, &bad);
    const cJSON *bm = cJSON_GetObjectItemCaseSensitive(j, "best_metric");
    if (st == SBERT_OK && (!cJSON_IsNumber(bm) || !isfinite(bm->valuedouble)))
        st = sbert_fail(SBERT_ERR_FORMAT, "%s: \"best_metric\" must be a finite number", path);
    /* The folder's name and the state must agree. */
    const char *base = strrchr(dir, '/');
    base = base ? base + 1 : dir;
    long long named = checkpoint_step(base);
    if (st == SBERT_OK && named >= 0 && named != step)
        st = sbert_fail(SBERT_ERR_FORMAT, "%s: global_step %lld does not match the checkpoint folder %s", path, step,
                        base);
    /* A resumed step sits where the data would put it. */
    if (st == SBERT_OK && t->steps_per_epoch > 0 && epoch * t->steps_per_epoch > step + t->steps_per_epoch)
        st = sbert_fail(SBERT_ERR_FORMAT, "%s: epoch %lld is past global_step %lld (%lld steps per epoch)", path,
                        epoch, step, (long long)t->steps_per_epoch);
    if (st == SBERT_OK) {
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "log_history");
        if (cJSON_IsArray(h)) {
            cJSON_Delete(t->history);
            t->history = cJSON_Duplicate(h, 1);
        }
        t->global_step = step;
        t->epoch = epoch;
        t->next_batch = next;
        t->has_best = (int)has_best;
        t->best_metric = bm->valuedouble;
        t->best_step = best_step;
        t->bad_evals = bad;
    }
    cJSON_Delete(j);
    return st;
}

sbert_status sbert_checkpoint_load(sbert_trainer *t, const char *dir) {
    SBERT_TRY(read_state(t, dir));
    SBERT_TRY(sbert_model_load_weights(t->model, dir));
    sbert_safetensors *f = NULL;
    SBERT_TRY(sbert_optimizer_load(&t->opt, dir, &f));
    const char *rng = sbert_st_metadata(f, "dropout_rng");
    sbert_status st = SBERT_OK;
    if (rng) {
        sbert_rng r = t->dropout_rng;
        if (strlen(rng) != 64) st = sbert_fail(SBERT_ERR_FORMAT, "%s: 'dropout_rng' is not 64 hex digits", dir);
        for (int k = 0; k < 4 && st == SBERT_OK; k++) {
            char hex[17], *end = NULL;
            memcpy(hex, rng + 16 * k, 16);
            hex[16] = '\0';
            r.s[k] = (uint64_t)strtoull(hex, &end, 16);
            if (!end || *end) st = sbert_fail(SBERT_ERR_FORMAT, "%s: 'dropout_rng' is not hexadecimal", dir);
        }
        if (st == SBERT_OK) t->dropout_rng = r;
    }
    sbert_st_close(f);
    SBERT_TRY(st);
    SBERT_TRY(sbert_train_extras_load(t, dir));
    if (t->opt.step != t->global_step)
        return sbert_fail(SBERT_ERR_FORMAT, "%s: the optimizer took %lld steps but trainer_state.json says %lld", dir,
                          (long long)t->opt.step, (long long)t->global_step);
    sbert_log(t->log, "Resumed from %s at step %lld (epoch %lld, batch %lld)\n", dir, (long long)t->global_step,
              (long long)t->epoch, (long long)t->next_batch);
    return SBERT_OK;
}
