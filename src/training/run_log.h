/*
 * training/run_log.h -- the run's log: every line to stdout and appended
 * to logs/{run_name}.log (a handle the trainer owns; no global state), and
 * the one-line record of each run in logs/experiments.md.
 */
#ifndef SBERT_TRAINING_RUN_LOG_H
#define SBERT_TRAINING_RUN_LOG_H

#include <stdint.h>
#include <stdio.h>

#include "base/error.h"
#include "sbert.h"

typedef struct {
    FILE *file; /* the run's log file, or NULL */
} sbert_run_log;

/* Open {dir}/{run_name}.log for appending (dir created). */
sbert_status sbert_run_log_open(sbert_run_log *l, const char *dir, const char *run_name);
void sbert_run_log_close(sbert_run_log *l);
/* printf to stdout and the log file. */
void sbert_log(sbert_run_log *l, const char *fmt, ...) SBERT_PRINTF(2, 3);
/* printf to the log file only (errors: the caller prints them once). */
void sbert_log_file(sbert_run_log *l, const char *fmt, ...) SBERT_PRINTF(2, 3);

typedef struct {
    const char *run_name, *model, *loss, *verdict;
    int64_t steps;
    double baseline, score;
    int smoke;
} sbert_experiment_row;

/* Append a row to {dir}/experiments.md (a table with a header when new).
 * A failure is logged as a warning: the run itself succeeded. */
void sbert_experiments_append(sbert_run_log *l, const char *dir, const sbert_experiment_row *row);

#endif
