/*
 * training/plot.h -- training curves as an SVG image, drawn from a
 * log_history (the Hugging Face Trainer's list in trainer_state.json, which
 * the sbert trainer writes too).
 *
 * One panel per series, in this order: the training loss ("loss"), each
 * evaluation metric ("eval_*", the baseline at step 0 included), each test
 * metric ("test_*"), then "learning_rate" and "grad_norm"; each against the
 * step, with axes, ticks, a grid, the series name as title and y label and
 * "step" as x label. A series is one <polyline> (plus a <circle> per point)
 * whose attributes carry what a reader needs to map its pixels back to
 * values:
 *
 *   <polyline data-series="eval_sts-dev_spearman_cosine" data-n="5"
 *             data-domain="x0 x1 y0 y1" data-area="left top width height"
 *             points="px,py ..."/>
 *
 *   px = left + (step - x0) / (x1 - x0) * width
 *   py = top + height - (value - y0) / (y1 - y0) * height
 *
 * Non-finite values are left out (data-n counts the points drawn). Steps
 * are sorted (stable), so a resumed run's history draws in order.
 */
#ifndef SBERT_TRAINING_PLOT_H
#define SBERT_TRAINING_PLOT_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "sbert.h"

/* The SVG of a log_history array into *svg (malloc'd, NUL-terminated,
 * *len bytes). title: the image's heading (NULL: "Training curves"). */
sbert_status sbert_plot_history_svg(const cJSON *log_history, const char *title, char **svg, size_t *len);

#endif
