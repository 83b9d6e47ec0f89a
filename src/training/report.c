/*
 * training/report.c -- report_to: where the trainer's log_history goes
 * besides the log. With "tensorboard" (or "all"), as the Hugging Face
 * TensorBoardCallback: one event file per run in
 * $TENSORBOARD_LOGGING_DIR when set, else in
 * {output_dir}/runs/{%b%d_%H-%M-%S}_{hostname}; every log_history entry is
 * written under the Trainer's tags (train/loss, train/learning_rate,
 * train/grad_norm, train/epoch, eval/..., test/...) at its step, and
 * flushed. A resumed run opens a new file, as the Trainer does.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/error.h"
#include "training/trainer_internal.h"

sbert_status sbert_report_open(sbert_trainer *t) {
    if (!t->a->report_tensorboard) return SBERT_OK;
    char dir[4400];
    const char *env = getenv("TENSORBOARD_LOGGING_DIR");
    if (env && *env) {
        if (env[0] == '~' && (env[1] == '/' || env[1] == '\0') && getenv("HOME"))
            snprintf(dir, sizeof dir, "%s%s", getenv("HOME"), env + 1); /* os.path.expanduser */
        else
            snprintf(dir, sizeof dir, "%s", env);
    } else {
        SBERT_TRY(sbert_tb_default_logdir(t->output_dir, time(NULL), dir, sizeof dir));
    }
    sbert_status st = sbert_tb_open(dir, sbert_tb_now(), &t->tb);
    if (st != SBERT_OK) {
        sbert_error_prefix("report_to tensorboard: ");
        return st;
    }
    sbert_log(t->log, "TensorBoard: %s\n", sbert_tb_path(t->tb));
    return SBERT_OK;
}

void sbert_report_entry(sbert_trainer *t, const cJSON *entry) {
    if (!t->tb || !entry) return;
    if (sbert_tb_add_history_entry(t->tb, entry, sbert_tb_now()) != SBERT_OK) {
        sbert_log(t->log, "warning: report_to tensorboard stopped: %s (training goes on)\n", sbert_last_error());
        sbert_tb_close(t->tb);
        t->tb = NULL;
    }
}

void sbert_report_close(sbert_trainer *t) {
    sbert_tb_close(t->tb);
    t->tb = NULL;
}
