/*
 * training/run_log.c -- the run's log and logs/experiments.md (see run_log.h).
 */
#define _XOPEN_SOURCE 700
#include "training/run_log.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "io/dirs.h"
#include "io/file.h"

sbert_status sbert_run_log_open(sbert_run_log *l, const char *dir, const char *run_name) {
    l->file = NULL;
    SBERT_TRY(sbert_mkdir_p(dir));
    char path[4200];
    if (snprintf(path, sizeof path, "%s/%s.log", dir, run_name) >= (int)sizeof path)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "log directory or run_name is too long");
    l->file = fopen(path, "a");
    if (!l->file) return sbert_fail(SBERT_ERR_IO, "%s: cannot open the run log: %s", path, strerror(errno));
    return SBERT_OK;
}

void sbert_run_log_close(sbert_run_log *l) {
    if (l->file) fclose(l->file);
    l->file = NULL;
}

void sbert_log(sbert_run_log *l, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
    if (l && l->file) {
        va_start(ap, fmt);
        vfprintf(l->file, fmt, ap);
        va_end(ap);
        fflush(l->file);
    }
}

void sbert_log_file(sbert_run_log *l, const char *fmt, ...) {
    if (!l || !l->file) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(l->file, fmt, ap);
    va_end(ap);
    fflush(l->file);
}

void sbert_experiments_append(sbert_run_log *l, const char *dir, const sbert_experiment_row *r) {
    char path[4200];
    snprintf(path, sizeof path, "%s/experiments.md", dir);
    int fresh = !sbert_file_exists(path);
    FILE *f = fopen(path, "a");
    if (!f) {
        sbert_log(l, "warning: cannot append to %s: %s\n", path, strerror(errno));
        return;
    }
    if (fresh)
        fprintf(f, "# Experiments\n\n| date (UTC) | run_name | model | loss | steps | baseline | score | delta | verdict "
                   "| smoke |\n|---|---|---|---|---|---|---|---|---|---|\n");
    time_t now = time(NULL);
    struct tm tmv;
    gmtime_r(&now, &tmv);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M", &tmv);
    fprintf(f, "| %s | %s | %s | %s | %lld | %.4f | %.4f | %+.4f | %s | %s |\n", date, r->run_name, r->model, r->loss,
            (long long)r->steps, r->baseline, r->score, r->score - r->baseline, r->verdict, r->smoke ? "yes" : "no");
    if (fclose(f) != 0) sbert_log(l, "warning: cannot append to %s: %s\n", path, strerror(errno));
}
