/*
 * tests/tensorboard_fixture.h -- write the events of
 * tests/data/tensorboard/fixture.json with sbert's TensorBoard writer
 * (src/training/tensorboard.c). Shared by tests/test_tensorboard.c and the
 * driver that tools/gen_tensorboard_refs.py compiles (tools/tb_fixture.c),
 * so the file TensorBoard read when the references were made and the file
 * the test writes today come from the same code path.
 *
 * fixture.json: {"wall_time": W, "events": [E...]} where W stamps the
 * file_version event and each E is either
 *   {"kind": "scalar", "wall_time": w, "step": s, "tag": "...", "value": v}
 *   {"kind": "history", "wall_time": w, "entry": {log_history entry}}
 * A value may be the string "nan", "inf" or "-inf".
 */
#ifndef SBERT_TESTS_TENSORBOARD_FIXTURE_H
#define SBERT_TESTS_TENSORBOARD_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/error.h"
#include "io/file.h"
#include "training/tensorboard.h"

static double tb_fixture_number(const cJSON *v) {
    if (cJSON_IsString(v)) return strtod(v->valuestring, NULL); /* "nan", "inf", "-inf" */
    return cJSON_IsNumber(v) ? v->valuedouble : 0.0;
}

/* The event file written goes to path_out (cap bytes). */
static sbert_status tb_fixture_write(const char *fixture_json, const char *logdir, char *path_out, size_t cap) {
    cJSON *j = NULL;
    SBERT_TRY(sbert_json_load(fixture_json, &j));
    sbert_tb_writer *w = NULL;
    sbert_status st = sbert_tb_open(logdir, tb_fixture_number(cJSON_GetObjectItem(j, "wall_time")), &w);
    const cJSON *events = cJSON_GetObjectItem(j, "events");
    for (const cJSON *e = events ? events->child : NULL; e && st == SBERT_OK; e = e->next) {
        const char *kind = cJSON_GetStringValue(cJSON_GetObjectItem(e, "kind"));
        double wall = tb_fixture_number(cJSON_GetObjectItem(e, "wall_time"));
        if (kind && !strcmp(kind, "scalar"))
            st = sbert_tb_add_scalar(w, cJSON_GetStringValue(cJSON_GetObjectItem(e, "tag")),
                                     tb_fixture_number(cJSON_GetObjectItem(e, "value")),
                                     (int64_t)tb_fixture_number(cJSON_GetObjectItem(e, "step")), wall);
        else if (kind && !strcmp(kind, "history"))
            st = sbert_tb_add_history_entry(w, cJSON_GetObjectItem(e, "entry"), wall);
        else
            st = sbert_fail(SBERT_ERR_FORMAT, "%s: an event of unknown kind", fixture_json);
    }
    if (w) snprintf(path_out, cap, "%s", sbert_tb_path(w));
    sbert_tb_close(w);
    cJSON_Delete(j);
    return st;
}

#endif
