/*
 * training/train_sets.c -- what the trainer trains on: one dataset, or
 * several named ones (multi-dataset training, as SentenceTransformerTrainer
 * with a DatasetDict), each with
 *   - its columns selected / renamed / ordered (columns, rename_columns: a
 *     string for every dataset or {name: ...} per dataset),
 *   - its loss (loss: one for all, or {name: loss}),
 *   - its prompts (prompts: a string, {column: prompt}, {dataset: prompt}
 *     or {dataset: {column: prompt}}, resolved as the data collator does),
 *   - its eval-loss data (eval_dataset: a file, or {name: file}),
 * and the losses' own state: SoftmaxLoss's classifier, ContrastiveTension's
 * trained model copy, GISTEmbedLoss's guide model.
 *
 * The names must match across train_data, loss, eval_dataset and prompts
 * ({dataset: ...}); a mismatch is an error before the baseline, naming what
 * is missing on which side.
 *
 * Batches: each comes from one dataset. One epoch draws every set's batches
 * with its batch_sampler, then orders them with multi_dataset_batch_sampler:
 * PROPORTIONAL (default: the set of each batch drawn at random from a list
 * holding set i once per batch it advertises, so every batch is used once per
 * epoch) or ROUND_ROBIN (sets in turn until one runs out, so min_i len_i *
 * n_sets batches).
 */
#define _XOPEN_SOURCE 700
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/error.h"
#include "io/dirs.h"
#include "io/file.h"
#include "io/safetensors.h"
#include "losses/denoising_auto_encoder.h"
#include "training/flow_map.h"
#include "training/trainer_internal.h"

/* ------------------------------------------------------------ helpers */

static sbert_status nomem(void) { return sbert_fail(SBERT_ERR_NOMEM, "out of memory"); }

static const char *origin_of(const sbert_trainer *t, const char *key) { return sbert_recipe_origin(t->recipe, key); }

/* A recipe value that may be a mapping: parsed into *map (NULL when a plain value). */
static sbert_status maybe_map(const sbert_trainer *t, const char *key, const char *value, sbert_flow_map **map) {
    *map = NULL;
    if (!value || !sbert_flow_is_map(value)) return SBERT_OK;
    char where[4200];
    snprintf(where, sizeof where, "%s (%s)", origin_of(t, key), key);
    return sbert_flow_parse(value, where, map);
}

static void names_of_sets(const sbert_trainer *t, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < t->n_sets && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? ", " : "", t->sets[i].name);
}

static void column_names(const sbert_dataset *ds, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = '\0';
    for (size_t c = 0; c < ds->n_cols && n < cap; c++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", c ? ", " : "", ds->cols[c].name);
}

/* Apply "a,b" / "[a, b]" column selection to ds. */
static sbert_status select_columns(sbert_dataset *ds, const char *list, const char *origin) {
    char buf[1024];
    if (strlen(list) >= sizeof buf) return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: columns: list is too long", origin);
    snprintf(buf, sizeof buf, "%s", list);
    const char *names[64];
    size_t n = 0;
    for (char *s = strtok(buf, ", []\"'"); s; s = strtok(NULL, ", []\"'")) {
        if (n == 64) return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: columns: more than 64 names", origin);
        names[n++] = s;
    }
    sbert_status st = sbert_dataset_select_columns(ds, names, n);
    if (st != SBERT_OK) sbert_error_prefix("%s (columns): ", origin);
    return st;
}

/* Apply "old:new,old2:new2" renames to ds. */
static sbert_status rename_columns(sbert_dataset *ds, const char *list, const char *origin) {
    char buf[1024];
    if (strlen(list) >= sizeof buf)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: rename_columns: list is too long", origin);
    snprintf(buf, sizeof buf, "%s", list);
    for (char *s = strtok(buf, ", "); s; s = strtok(NULL, ", ")) {
        char *colon = strchr(s, ':');
        if (!colon)
            return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: rename_columns entries are old:new, got '%s'", origin, s);
        *colon = '\0';
        sbert_status st = sbert_dataset_rename_column(ds, s, colon + 1);
        if (st != SBERT_OK) {
            sbert_error_prefix("%s (rename_columns): ", origin);
            return st;
        }
    }
    return SBERT_OK;
}

/* The per-dataset value of a key that is a string for all or {name: value}:
 * *text (a scalar), or *sub (a nested mapping), or neither (nothing for it). */
static void per_set(const sbert_flow_map *m, const char *all, const char *name, const char **text,
                    const sbert_flow_map **sub) {
    *text = NULL;
    *sub = NULL;
    if (!m) {
        *text = all;
        return;
    }
    int k = sbert_flow_find(m, name);
    if (k < 0) return;
    *text = m->values[k];
    *sub = m->sub[k];
}

/* Every key of m must be a set name. */
static sbert_status keys_are_sets(const sbert_trainer *t, const sbert_flow_map *m, const char *key) {
    for (size_t i = 0; m && i < m->n; i++) {
        size_t k = 0;
        while (k < t->n_sets && strcmp(t->sets[k].name, m->keys[i])) k++;
        if (k == t->n_sets) {
            char names[1024];
            names_of_sets(t, names, sizeof names);
            return sbert_fail(SBERT_ERR_INVALID_ARG,
                              "%s: %s names dataset '%s', which train_data does not have (datasets: %s); the names "
                              "must match exactly",
                              origin_of(t, key), key, m->keys[i], names);
        }
    }
    return SBERT_OK;
}

/* columns and rename_columns for the set named `name` (file `path`). */
static sbert_status map_columns(sbert_trainer *t, sbert_dataset *ds, const char *name, const sbert_flow_map *cm,
                                const sbert_flow_map *rm) {
    const sbert_train_args *a = t->a;
    const char *text;
    const sbert_flow_map *sub;
    per_set(cm, a->columns, name, &text, &sub);
    if (sub) return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: columns of '%s' must be a list", origin_of(t, "columns"), name);
    if (text) SBERT_TRY(select_columns(ds, text, origin_of(t, "columns")));
    per_set(rm, a->rename_columns, name, &text, &sub);
    if (text) SBERT_TRY(rename_columns(ds, text, origin_of(t, "rename_columns")));
    for (size_t i = 0; sub && i < sub->n; i++) {
        if (!sub->values[i])
            return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: rename_columns of '%s': '%s' must map to a new name",
                              origin_of(t, "rename_columns"), name, sub->keys[i]);
        sbert_status st = sbert_dataset_rename_column(ds, sub->keys[i], sub->values[i]);
        if (st != SBERT_OK) {
            sbert_error_prefix("%s (rename_columns): ", origin_of(t, "rename_columns"));
            return st;
        }
    }
    return SBERT_OK;
}

/* Numbers a row of the label column: 1 for a number, the lists' length for
 * a list column (0 when the lists differ in length: CrossEncoder listwise
 * labels), 0 without a label. */
static size_t label_width(const sbert_dataset *ds, int label_col) {
    return label_col < 0 ? 0 : sbert_column_width(&ds->cols[label_col], ds->n_rows);
}

/* ------------------------------------------------------------ prompts */

/* The prompt of column `col` of set `s`, as the data collator resolves it. */
static sbert_status resolve_prompt(const sbert_trainer *t, const sbert_flow_map *pm, const sbert_train_set *s,
                                   const char *col, const char **out) {
    *out = NULL;
    const char *prompts = t->a->prompts;
    if (!prompts) return SBERT_OK;
    if (!pm) { /* one string for every column */
        *out = prompts;
        return SBERT_OK;
    }
    const sbert_flow_map *m = pm;
    int multi = t->n_sets > 1 || t->sets[0].name[0];
    if (multi) {
        int k = sbert_flow_find(pm, s->name);
        if (k >= 0) {
            if (!pm->sub[k]) { /* {dataset: prompt} */
                *out = pm->values[k];
                return SBERT_OK;
            }
            m = pm->sub[k];
        } else if (pm->n && pm->sub[0]) {
            return SBERT_OK; /* nested mapping without this dataset: no prompts */
        }
    } else if (pm->n && pm->sub[0]) {
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "%s: prompts is a nested mapping {dataset: {column: prompt}}, but train_data is one file, "
                          "not {name: file, ...}",
                          origin_of(t, "prompts"));
    }
    int k = sbert_flow_find(m, col);
    if (k >= 0 && m->values[k]) *out = m->values[k];
    return SBERT_OK;
}

/* Every key of the prompts mapping must name a dataset or a column. */
static sbert_status check_prompt_keys(const sbert_trainer *t, const sbert_flow_map *pm) {
    for (size_t i = 0; pm && i < pm->n; i++) {
        int found = 0;
        for (size_t s = 0; s < t->n_sets && !found; s++) {
            const sbert_train_set *set = &t->sets[s];
            if (set->name[0] && !strcmp(set->name, pm->keys[i])) {
                found = 1;
                for (size_t j = 0; pm->sub[i] && j < pm->sub[i]->n; j++)
                    if (sbert_dataset_find_column(set->ds, pm->sub[i]->keys[j]) < 0) {
                        char cols[1024];
                        column_names(set->ds, cols, sizeof cols);
                        return sbert_fail(SBERT_ERR_INVALID_ARG,
                                          "%s: prompts of dataset '%s' name column '%s', which %s does not have "
                                          "(columns: %s)",
                                          origin_of(t, "prompts"), set->name, pm->sub[i]->keys[j], set->path, cols);
                    }
            }
            if (!pm->sub[i] && sbert_dataset_find_column(set->ds, pm->keys[i]) >= 0) found = 1;
        }
        if (!found) {
            char where[1200] = "";
            size_t o = 0;
            for (size_t s = 0; s < t->n_sets && o < sizeof where; s++) {
                char cols[512];
                column_names(t->sets[s].ds, cols, sizeof cols);
                o += (size_t)snprintf(where + o, sizeof where - o, "%s%s%s%s (%s)", s ? "; " : "",
                                      t->sets[s].name[0] ? "dataset " : "", t->sets[s].name, t->sets[s].path, cols);
            }
            return sbert_fail(SBERT_ERR_INVALID_ARG,
                              "%s: prompts names '%s', which is neither a dataset nor a column of the training data "
                              "(%s)",
                              origin_of(t, "prompts"), pm->keys[i], where);
        }
    }
    return SBERT_OK;
}

/* ------------------------------------------------------------ loading */

/* denoising_auto_encoder_dataset: one text column `text` becomes (noisy, text), noisy = text with words
 * deleted (DenoisingAutoEncoderDataset.delete), drawn from the seed and salt. */
static sbert_status add_noise_column(const sbert_trainer *t, sbert_dataset *ds, uint64_t salt) {
    const sbert_train_args *a = t->a;
    if (!a->dae_dataset) return SBERT_OK;
    if (sbert_dataset_n_inputs(ds) != 1 || sbert_dataset_label_column(ds) >= 0) {
        char have[1024];
        column_names(ds, have, sizeof have);
        return sbert_fail(SBERT_ERR_FORMAT,
                          "%s: denoising_auto_encoder_dataset needs data with one text column and no label (it adds "
                          "the noisy copy as the first column), this file has: %s",
                          ds->path, have);
    }
    const sbert_column *col = &ds->cols[sbert_dataset_input_column(ds, 0)];
    if (col->kind != SBERT_COL_TEXT)
        return sbert_fail(SBERT_ERR_FORMAT, "%s: denoising_auto_encoder_dataset: column '%s' must hold texts",
                          ds->path, col->name);
    char **noisy = calloc(ds->n_rows ? ds->n_rows : 1, sizeof *noisy);
    if (!noisy) return nomem();
    sbert_rng rng;
    sbert_rng_seed(&rng, ((uint64_t)a->seed ^ 0x64616544ULL) + salt);
    sbert_status st = SBERT_OK;
    for (size_t r = 0; r < ds->n_rows && st == SBERT_OK; r++)
        st = sbert_dae_delete_noise(col->text[r] ? col->text[r] : "", a->del_ratio, &rng, &noisy[r]);
    if (st == SBERT_OK) st = sbert_dataset_insert_text_column(ds, 0, "noisy", (const char *const *)noisy);
    for (size_t r = 0; r < ds->n_rows; r++) free(noisy[r]);
    free(noisy);
    return st;
}

static sbert_status load_set(sbert_trainer *t, sbert_train_set *s, const char *name, const char *path,
                             const sbert_flow_map *cm, const sbert_flow_map *rm) {
    const sbert_train_args *a = t->a;
    snprintf(s->name, sizeof s->name, "%s", name);
    snprintf(s->path, sizeof s->path, "%s", path);
    SBERT_TRY(sbert_dataset_load(path, &s->ds));
    SBERT_TRY(map_columns(t, s->ds, name, cm, rm));
    if (a->smoke)
        sbert_dataset_truncate(s->ds, (size_t)(a->smoke_train_samples > 0 ? a->smoke_train_samples : a->batch_size * 2));
    if (a->max_train_samples > 0) sbert_dataset_truncate(s->ds, (size_t)a->max_train_samples);
    SBERT_TRY(add_noise_column(t, s->ds, 7919u * (uint64_t)(s - t->sets)));
    {
        char what[1200];
        snprintf(what, sizeof what, "train_data %s%s%s", path, name[0] ? " of dataset " : "", name);
        SBERT_TRY(sbert_train_teacher_label(t, s->ds, what));
    }
    s->label_col = sbert_dataset_label_column(s->ds);
    s->n_inputs = sbert_dataset_n_inputs(s->ds);
    s->label_width = label_width(s->ds, s->label_col);
    return SBERT_OK;
}

static sbert_status check_set(sbert_trainer *t, sbert_train_set *s, size_t dim) {
    char have[1024];
    column_names(s->ds, have, sizeof have);
    char file[1200];
    snprintf(file, sizeof file, "%s%s%s", s->path, s->name[0] ? " (dataset " : "", s->name[0] ? s->name : "");
    if (s->name[0]) strcat(file, ")");
    /* A CrossEncoder loss reads its own label shapes (lists for listwise
     * losses, margins for MarginMSELoss); SpladeLoss takes its base loss's
     * columns. */
    const sbert_train_args *a = t->a;
    if (a->inner_loss_def)
        SBERT_TRY(sbert_loss_check_data(a->inner_loss_def, &a->inner_loss_values, s->n_inputs, s->label_col >= 0,
                                        s->label_width, dim, file, have));
    else if (a->kind == SBERT_KIND_CROSS_ENCODER)
        SBERT_TRY(sbert_loss_check_columns(a->loss_def, s->n_inputs, s->label_col >= 0, file, have));
    else
        SBERT_TRY(sbert_loss_spec_check(&a->losses[s->loss], s->n_inputs, s->label_col >= 0, s->label_width, dim,
                                        file, have));
    if (dim) return SBERT_OK;
    SBERT_TRY(sbert_dataset_check_inputs_ex(s->ds, a->kind == SBERT_KIND_CROSS_ENCODER));
    if (a->kind != SBERT_KIND_CROSS_ENCODER && s->label_col >= 0 &&
        s->ds->cols[s->label_col].kind == SBERT_COL_NUMBER_LIST && s->label_width == 0)
        return sbert_fail(SBERT_ERR_FORMAT, "%s: the lists of label column '%s' differ in length (or are empty); "
                                            "every row needs the same number of values",
                          file, s->ds->cols[s->label_col].name);
    if (s->ds->n_rows == 0) return sbert_fail(SBERT_ERR_FORMAT, "%s: no training rows", s->path);
    return SBERT_OK;
}

sbert_status sbert_train_sets_load(sbert_trainer *t) {
    const sbert_train_args *a = t->a;
    sbert_flow_map *tm = NULL, *cm = NULL, *rm = NULL, *em = NULL, *pm = NULL;
    sbert_status st = maybe_map(t, "train_data", a->train_data, &tm);
    if (st == SBERT_OK) st = maybe_map(t, "columns", a->columns, &cm);
    if (st == SBERT_OK) st = maybe_map(t, "rename_columns", a->rename_columns, &rm);
    if (st == SBERT_OK) st = maybe_map(t, "eval_dataset", a->eval_dataset, &em);
    if (st == SBERT_OK) st = maybe_map(t, "prompts", a->prompts, &pm);
    if (st != SBERT_OK) goto done;
    if (a->kind == SBERT_KIND_CROSS_ENCODER && (tm || pm)) {
        st = sbert_fail(SBERT_ERR_UNSUPPORTED,
                        "%s: %s for CrossEncoder training is not supported in sbert yet (one train_data file, no "
                        "prompts)",
                        origin_of(t, tm ? "train_data" : "prompts"), tm ? "several named datasets" : "prompts");
        goto done;
    }
    size_t n = tm ? tm->n : 1;
    if (n == 0 || n > SBERT_TRAIN_MAX_SETS) {
        st = sbert_fail(SBERT_ERR_INVALID_ARG, "%s: train_data must name 1 to %d datasets",
                        origin_of(t, "train_data"), SBERT_TRAIN_MAX_SETS);
        goto done;
    }
    t->sets = calloc(n, sizeof *t->sets);
    if (!t->sets) {
        st = nomem();
        goto done;
    }
    t->n_sets = n;
    if (!tm && (cm || rm || em))
        st = sbert_fail(SBERT_ERR_INVALID_ARG,
                        "%s: %s is a {dataset: ...} mapping, but train_data is one file, not {name: file, ...}",
                        origin_of(t, cm ? "columns" : rm ? "rename_columns" : "eval_dataset"),
                        cm ? "columns" : rm ? "rename_columns" : "eval_dataset");
    for (size_t i = 0; st == SBERT_OK && i < n; i++) {
        const char *name = tm ? tm->keys[i] : "", *path = tm ? tm->values[i] : a->train_data;
        if (tm) {
            size_t k = 0;
            while (name[k] && (isalnum((unsigned char)name[k]) || strchr("_.-", name[k]))) k++;
            if (!path || !*path || name[k] || strlen(name) >= sizeof t->sets[i].name)
                st = sbert_fail(SBERT_ERR_INVALID_ARG,
                                "%s: train_data entries are name: file, with names of letters, digits, '_', '.', "
                                "'-' (got '%s')",
                                origin_of(t, "train_data"), name);
        }
        if (st == SBERT_OK) st = load_set(t, &t->sets[i], name, path, cm, rm);
    }
    if (st != SBERT_OK) goto done;
    if (cm) st = keys_are_sets(t, cm, "columns");
    if (st == SBERT_OK && rm) st = keys_are_sets(t, rm, "rename_columns");
    /* the loss of each set: names must match */
    if (st == SBERT_OK) {
        int mapped = a->n_losses > 1 || a->loss_names[0][0];
        if (mapped && !tm)
            st = sbert_fail(SBERT_ERR_INVALID_ARG,
                            "%s: loss is a {dataset: loss} mapping, but train_data is one file, not {name: file, ...}",
                            origin_of(t, "loss"));
        for (size_t i = 0; st == SBERT_OK && i < n; i++) {
            t->sets[i].loss = 0;
            if (!mapped) continue;
            size_t k = 0;
            while (k < a->n_losses && strcmp(a->loss_names[k], t->sets[i].name)) k++;
            if (k == a->n_losses) {
                st = sbert_fail(SBERT_ERR_INVALID_ARG,
                                "%s: dataset '%s' of train_data has no loss in the loss mapping; the names of "
                                "train_data, loss and eval_dataset must match exactly",
                                origin_of(t, "loss"), t->sets[i].name);
                break;
            }
            t->sets[i].loss = k;
        }
        for (size_t k = 0; st == SBERT_OK && mapped && k < a->n_losses; k++) {
            size_t i = 0;
            while (i < n && strcmp(a->loss_names[k], t->sets[i].name)) i++;
            if (i == n) {
                char names[1024];
                names_of_sets(t, names, sizeof names);
                st = sbert_fail(SBERT_ERR_INVALID_ARG,
                                "%s: loss names dataset '%s', which train_data does not have (datasets: %s); the "
                                "names must match exactly",
                                origin_of(t, "loss"), a->loss_names[k], names);
            }
        }
    }
    for (size_t i = 0; st == SBERT_OK && i < n; i++) st = check_set(t, &t->sets[i], 0);
    if (st == SBERT_OK && pm) st = check_prompt_keys(t, pm);
    if (st != SBERT_OK) goto done;
    /* prompts of every input column */
    for (size_t i = 0; st == SBERT_OK && i < n; i++) {
        sbert_train_set *s = &t->sets[i];
        s->prompts = calloc(s->n_inputs ? s->n_inputs : 1, sizeof *s->prompts);
        s->prompt_len = calloc(s->n_inputs ? s->n_inputs : 1, sizeof *s->prompt_len);
        if (!s->prompts || !s->prompt_len) {
            st = nomem();
            break;
        }
        for (size_t c = 0; c < s->n_inputs && st == SBERT_OK; c++) {
            const char *p = NULL;
            st = resolve_prompt(t, pm, s, s->ds->cols[sbert_dataset_input_column(s->ds, c)].name, &p);
            if (st == SBERT_OK && p && *p && !(s->prompts[c] = strdup(p))) st = nomem();
        }
    }
    /* eval_dataset */
    if (st == SBERT_OK && a->eval_dataset) {
        if (em) st = keys_are_sets(t, em, "eval_dataset");
        for (size_t i = 0; st == SBERT_OK && i < n; i++) {
            sbert_train_set *s = &t->sets[i];
            const char *path = NULL;
            const sbert_flow_map *sub = NULL;
            per_set(em, a->eval_dataset, s->name, &path, &sub);
            if (em && (!path || sub)) {
                st = sbert_fail(SBERT_ERR_INVALID_ARG,
                                "%s: eval_dataset has no file for dataset '%s'; the names of train_data, loss and "
                                "eval_dataset must match exactly",
                                origin_of(t, "eval_dataset"), s->name);
                break;
            }
            st = sbert_dataset_load(path, &s->eval_ds);
            if (st == SBERT_OK) st = map_columns(t, s->eval_ds, s->name, cm, rm);
            if (st == SBERT_OK && a->smoke)
                sbert_dataset_truncate(s->eval_ds, (size_t)(a->smoke_eval_samples > 0 ? a->smoke_eval_samples : 50));
            if (st == SBERT_OK && a->max_eval_samples > 0)
                sbert_dataset_truncate(s->eval_ds, (size_t)a->max_eval_samples);
            if (st == SBERT_OK) st = add_noise_column(t, s->eval_ds, 104729u + 7919u * i);
            if (st == SBERT_OK) {
                char what[1200];
                snprintf(what, sizeof what, "eval_dataset %s", path);
                st = sbert_train_teacher_label(t, s->eval_ds, what);
            }
            if (st != SBERT_OK) break;
            s->eval_label_col = sbert_dataset_label_column(s->eval_ds);
            s->eval_label_width = label_width(s->eval_ds, s->eval_label_col);
            char have[1024];
            column_names(s->eval_ds, have, sizeof have);
            if (a->kind == SBERT_KIND_CROSS_ENCODER)
                st = sbert_fail(SBERT_ERR_UNSUPPORTED, "%s: eval_dataset (an eval loss) for CrossEncoder training "
                                                       "is not supported in sbert yet",
                                origin_of(t, "eval_dataset"));
            else if (a->inner_loss_def)
                st = sbert_loss_check_data(a->inner_loss_def, &a->inner_loss_values, sbert_dataset_n_inputs(s->eval_ds),
                                           s->eval_label_col >= 0, s->eval_label_width, 0, path, have);
            else
                st = sbert_loss_spec_check(&a->losses[s->loss], sbert_dataset_n_inputs(s->eval_ds),
                                           s->eval_label_col >= 0, s->eval_label_width, 0, path, have);
            if (st == SBERT_OK && sbert_dataset_n_inputs(s->eval_ds) != s->n_inputs)
                st = sbert_fail(SBERT_ERR_FORMAT, "%s: %zu input columns, but its training data %s has %zu", path,
                                sbert_dataset_n_inputs(s->eval_ds), s->path, s->n_inputs);
            if (st == SBERT_OK) st = sbert_dataset_check_inputs_ex(s->eval_ds, 0);
        }
    }
    if (st == SBERT_OK) {
        t->train = t->sets[0].ds;
        t->n_inputs = t->sets[0].n_inputs;
        t->label_col = t->sets[0].label_col;
    }
done:
    sbert_flow_free(tm);
    sbert_flow_free(cm);
    sbert_flow_free(rm);
    sbert_flow_free(em);
    sbert_flow_free(pm);
    return st;
}

/* ------------------------------------------------------------ prepare */

static sbert_status tokenize_set_cols(sbert_trainer *t, const sbert_train_set *s, sbert_dataset *ds,
                                      sbert_packed **out) {
    *out = calloc(s->n_inputs ? s->n_inputs : 1, sizeof **out);
    if (!*out) return nomem();
    for (size_t c = 0; c < s->n_inputs; c++) {
        const sbert_column *col = &ds->cols[sbert_dataset_input_column(ds, c)];
        sbert_status st = sbert_model_tokenize_column(t->model, s->prompts[c], (const char *const *)col->text,
                                                      ds->n_rows, &(*out)[c]);
        if (st != SBERT_OK) {
            sbert_error_prefix("%s: column '%s': ", ds->path, col->name);
            return st;
        }
    }
    return SBERT_OK;
}

/* Save the training prompts on the model (config_sentence_transformers.json),
 * so that encode and the evaluators use what training used. */
static sbert_status persist_prompts(sbert_trainer *t) {
    const char *p = t->a->prompts;
    if (!p) return SBERT_OK;
    if (!sbert_flow_is_map(p)) {
        /* one prompt for every text: the query and document prompts, and the default */
        SBERT_TRY(sbert_model_set_prompt(t->model, "query", p));
        SBERT_TRY(sbert_model_set_prompt(t->model, "document", p));
        return sbert_model_set_default_prompt_name(t->model, "query");
    }
    /* per column: saved under the column's name; the first input column's
     * prompt is also the query prompt and the second's the document prompt
     * (encode_query / encode_document, as the evaluators call them) */
    for (size_t i = 0; i < t->n_sets; i++) {
        const sbert_train_set *s = &t->sets[i];
        for (size_t c = 0; c < s->n_inputs; c++) {
            if (!s->prompts[c]) continue;
            const char *col = s->ds->cols[sbert_dataset_input_column(s->ds, c)].name;
            SBERT_TRY(sbert_model_set_prompt(t->model, col, s->prompts[c]));
            if (i == 0 && c == 0) SBERT_TRY(sbert_model_set_prompt(t->model, "query", s->prompts[c]));
            if (i == 0 && c == 1) SBERT_TRY(sbert_model_set_prompt(t->model, "document", s->prompts[c]));
        }
    }
    return SBERT_OK;
}

/* 1 + the largest class label of the sets trained with loss k (0: none). */
static size_t n_classes(const sbert_trainer *t, size_t k) {
    double mx = -1;
    for (size_t i = 0; i < t->n_sets; i++) {
        const sbert_train_set *s = &t->sets[i];
        if (s->loss != k || s->label_col < 0 || s->ds->cols[s->label_col].kind != SBERT_COL_NUMBER) continue;
        for (size_t r = 0; r < s->ds->n_rows; r++)
            if (s->ds->cols[s->label_col].num[r] > mx) mx = s->ds->cols[s->label_col].num[r];
    }
    return mx < 0 ? 0 : (size_t)mx + 1;
}

sbert_status sbert_train_sets_prepare(sbert_trainer *t) {
    const sbert_train_args *a = t->a;
    const size_t D = t->model->full_dim;
    sbert_rng_seed(&t->loss_rng, (uint64_t)a->seed ^ 0x6c6f7373ULL);
    /* losses */
    t->n_losses = a->n_losses;
    t->losses = calloc(t->n_losses, sizeof *t->losses);
    if (!t->losses) return nomem();
    int need_guide = 0;
    for (size_t k = 0; k < t->n_losses; k++) {
        sbert_train_loss *L = &t->losses[k];
        L->spec = &a->losses[k];
        snprintf(L->name, sizeof L->name, "%s", a->loss_names[k]);
        const sbert_loss_def *d = L->spec->def;
        need_guide |= (d->needs & SBERT_LOSS_NEEDS_GUIDE) != 0;
        if (d->state_size) {
            sbert_rng init;
            sbert_rng_seed(&init, (uint64_t)a->seed + 17 * (k + 1));
            SBERT_TRY(sbert_loss_state_create(d, &L->spec->values, D, n_classes(t, k), &init, &L->state));
            SBERT_TRY(sbert_optimizer_init(&L->state_opt, L->state->params));
            if (!t->classifier.state && !strcmp(d->name, "SoftmaxLoss")) {
                t->classifier.values = &L->spec->values;
                t->classifier.state = L->state->params;
            }
            sbert_log(t->log, "%s%s%s: its own parameters: %zu (", d->name, L->name[0] ? " of " : "", L->name,
                      L->state->n);
            for (size_t r = 0; r < sbert_params_count(L->state->params); r++) {
                const sbert_param *p = sbert_params_at_const(L->state->params, r);
                sbert_log(t->log, "%s%s [%lld%s%lld]", r ? ", " : "", p->name, (long long)p->shape[0],
                          p->ndim > 1 ? ", " : "", p->ndim > 1 ? (long long)p->shape[1] : 0LL);
            }
            sbert_log(t->log, ")\n");
        }
        if (d->needs & SBERT_LOSS_DECODER) {
            /* DenoisingAutoEncoderLoss: the decoder (its new weights are the loss's state) */
            sbert_rng init;
            sbert_rng_seed(&init, (uint64_t)a->seed + 17 * (k + 1));
            const char *key = sbert_recipe_get(t->recipe, "decoder_name_or_path")  ? "decoder_name_or_path"
                              : sbert_recipe_get(t->recipe, "tie_encoder_decoder") ? "tie_encoder_decoder"
                                                                                   : "loss";
            SBERT_TRY(sbert_dae_create(t->model, d, &L->spec->values, origin_of(t, key), &init, &L->state, &L->dae));
            SBERT_TRY(sbert_optimizer_init(&L->state_opt, L->state->params));
            sbert_log(t->log,
                      "%s%s%s: a decoder tied to the encoder (causal self-attention, cross-attention to the "
                      "embedding, LM head on the word embeddings); its own parameters: %zu in %zu tensors "
                      "(cross-attention value/output + LayerNorm per layer, LM head transform + bias; %zu of them "
                      "from the checkpoint, the others new)\n",
                      d->name, L->name[0] ? " of " : "", L->name, L->state->n, sbert_params_count(L->state->params),
                      sbert_dae_n_loaded(L->dae));
        }
        if (d->needs & SBERT_LOSS_NEEDS_COPY) {
            if (!sbert_dir_exists(a->model))
                return sbert_fail(SBERT_ERR_UNSUPPORTED,
                                  "%s trains a copy of the model and needs a model directory (model: %s)", d->name,
                                  a->model);
            SBERT_TRY(sbert_model_load(a->model, NULL, &L->copy));
            if (a->max_seq_length > 0) SBERT_TRY(sbert_model_set_max_seq_length(L->copy, (size_t)a->max_seq_length));
            SBERT_TRY(sbert_model_params(L->copy, &L->copy_params));
            SBERT_TRY(sbert_optimizer_init(&L->copy_opt, L->copy_params));
            sbert_log(t->log, "%s: a trained copy of the model (model1) embeds the first column\n", d->name);
        }
    }
    if (need_guide) {
        if (!sbert_dir_exists(a->guide_model))
            return sbert_fail(SBERT_ERR_IO, "%s: guide_model '%s': no such directory", origin_of(t, "guide_model"),
                              a->guide_model);
        sbert_status st = sbert_model_load(a->guide_model, NULL, &t->guide);
        if (st != SBERT_OK) {
            sbert_error_prefix("%s: guide_model: ", origin_of(t, "guide_model"));
            return st;
        }
        sbert_log(t->log, "Guide model: %s (dim %zu)\n", a->guide_model, t->guide->full_dim);
    }
    /* data: checks that need the width, tokenization, prompts */
    for (size_t i = 0; i < t->n_sets; i++) {
        sbert_train_set *s = &t->sets[i];
        SBERT_TRY(check_set(t, s, D));
        /* a CrossEncoder's pairs are tokenized per batch (training/ce_train) */
        for (size_t c = 0; a->kind != SBERT_KIND_CROSS_ENCODER && c < s->n_inputs; c++)
            SBERT_TRY(sbert_model_prompt_length(t->model, s->prompts[c], &s->prompt_len[c]));
        if (a->kind != SBERT_KIND_CROSS_ENCODER) SBERT_TRY(tokenize_set_cols(t, s, s->ds, &s->cols));
        if (s->eval_ds) SBERT_TRY(tokenize_set_cols(t, s, s->eval_ds, &s->eval_cols));
        sbert_sampler_type smp;
        SBERT_TRY(sbert_sampler_parse(a->batch_sampler, &smp));
        sbert_status st = sbert_sampler_len_for(s->ds, smp, (size_t)a->batch_size, a->drop_last, &s->n_batches);
        if (st != SBERT_OK) {
            sbert_error_prefix("%s: ", origin_of(t, "batch_sampler"));
            return st;
        }
        if (s->n_batches == 0)
            return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: fewer rows (%zu) than one batch (%lld)%s", s->path,
                              s->ds->n_rows, (long long)a->batch_size,
                              a->drop_last ? " with dataloader_drop_last" : "");
        if (s->prompts)
            for (size_t c = 0; c < s->n_inputs; c++)
                if (s->prompts[c])
                    sbert_log(t->log, "Prompt%s%s column '%s': \"%s\"%s\n", s->name[0] ? " of " : "",
                              s->name, s->ds->cols[sbert_dataset_input_column(s->ds, c)].name, s->prompts[c],
                              s->prompt_len[c] ? " (its tokens left out of pooling: include_prompt false)" : "");
    }
    t->cols = t->sets[0].cols;
    if (strcasecmp(a->multi_dataset_batch_sampler, "ROUND_ROBIN") == 0 ||
        strcasecmp(a->multi_dataset_batch_sampler, "MultiDatasetBatchSamplers.ROUND_ROBIN") == 0)
        t->multi_round_robin = 1;
    else if (strcasecmp(a->multi_dataset_batch_sampler, "PROPORTIONAL") &&
             strcasecmp(a->multi_dataset_batch_sampler, "MultiDatasetBatchSamplers.PROPORTIONAL"))
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: multi_dataset_batch_sampler must be PROPORTIONAL or ROUND_ROBIN, got '%s'",
                          origin_of(t, "multi_dataset_batch_sampler"), a->multi_dataset_batch_sampler);
    if (t->n_sets > 1)
        sbert_log(t->log, "Datasets: %zu, multi_dataset_batch_sampler %s\n", t->n_sets,
                  t->multi_round_robin ? "ROUND_ROBIN" : "PROPORTIONAL");
    return persist_prompts(t);
}

void sbert_train_sets_free(sbert_trainer *t) {
    for (size_t i = 0; t->sets && i < t->n_sets; i++) {
        sbert_train_set *s = &t->sets[i];
        for (size_t c = 0; s->cols && c < s->n_inputs; c++) sbert_packed_free(&s->cols[c]);
        for (size_t c = 0; s->eval_cols && c < s->n_inputs; c++) sbert_packed_free(&s->eval_cols[c]);
        for (size_t c = 0; s->prompts && c < s->n_inputs; c++) free(s->prompts[c]);
        free(s->cols);
        free(s->eval_cols);
        free(s->prompts);
        free(s->prompt_len);
        sbert_dataset_free(s->ds);
        sbert_dataset_free(s->eval_ds);
    }
    free(t->sets);
    t->sets = NULL;
    t->n_sets = 0;
    for (size_t k = 0; t->losses && k < t->n_losses; k++) {
        sbert_train_loss *L = &t->losses[k];
        if (L->state) sbert_optimizer_free(&L->state_opt);
        sbert_loss_state_free(L->state);
        if (L->copy) sbert_optimizer_free(&L->copy_opt);
        sbert_model_free(L->copy);
        sbert_dae_free(L->dae);
    }
    free(t->losses);
    t->losses = NULL;
    sbert_model_free(t->guide);
    t->guide = NULL;
    /* aliases of sets[0] */
    t->train = NULL;
    t->cols = NULL;
    t->n_inputs = 0;
}

/* ------------------------------------------------------------ batches */

size_t sbert_train_batches_per_epoch(const sbert_trainer *t) {
    if (t->n_sets == 1) return t->sets[0].n_batches;
    size_t sum = 0, mn = (size_t)-1;
    for (size_t i = 0; i < t->n_sets; i++) {
        sum += t->sets[i].n_batches;
        if (t->sets[i].n_batches < mn) mn = t->sets[i].n_batches;
    }
    return t->multi_round_robin ? mn * t->n_sets : sum;
}

void sbert_epoch_plan_free(sbert_epoch_plan *p) {
    free(p->set);
    sbert_batches_free(&p->b);
    memset(p, 0, sizeof *p);
}

sbert_status sbert_train_epoch_plan(sbert_trainer *t, uint64_t epoch, sbert_epoch_plan *out) {
    memset(out, 0, sizeof *out);
    const sbert_train_args *a = t->a;
    sbert_sampler_type smp;
    SBERT_TRY(sbert_sampler_parse(a->batch_sampler, &smp));
    const size_t n = t->n_sets, B = (size_t)a->batch_size;
    sbert_batches *per = calloc(n, sizeof *per);
    if (!per) return nomem();
    sbert_status st = SBERT_OK;
    for (size_t i = 0; i < n && st == SBERT_OK; i++)
        st = sbert_sampler_epoch(t->sets[i].ds, smp, B, a->drop_last, (uint64_t)a->seed + 7919u * i, epoch, &per[i]);
    if (st == SBERT_OK && n == 1) {
        out->b = per[0];
        memset(&per[0], 0, sizeof per[0]);
        out->set = calloc(out->b.n_batches ? out->b.n_batches : 1, sizeof *out->set);
        if (!out->set) st = nomem();
    } else if (st == SBERT_OK) {
        /* the order of sets */
        size_t total = 0;
        for (size_t i = 0; i < n; i++) total += t->sets[i].n_batches;
        size_t *order = malloc((total ? total : 1) * sizeof *order), n_order = 0;
        size_t *next = calloc(n, sizeof *next);
        size_t cap_idx = 0;
        for (size_t i = 0; i < n; i++) cap_idx += per[i].offsets ? per[i].offsets[per[i].n_batches] : 0;
        out->set = malloc((total ? total : 1) * sizeof *out->set);
        out->b.offsets = malloc((total + 1) * sizeof *out->b.offsets);
        out->b.idx = malloc((cap_idx ? cap_idx : 1) * sizeof *out->b.idx);
        if (!order || !next || !out->set || !out->b.offsets || !out->b.idx) {
            st = nomem();
        } else if (t->multi_round_robin) {
            /* zip of the sets' batches: stops when any runs out */
            size_t mn = (size_t)-1;
            for (size_t i = 0; i < n; i++)
                if (per[i].n_batches < mn) mn = per[i].n_batches;
            for (size_t k = 0; k < mn; k++)
                for (size_t i = 0; i < n; i++) order[n_order++] = i;
        } else {
            for (size_t i = 0; i < n; i++)
                for (size_t k = 0; k < t->sets[i].n_batches; k++) order[n_order++] = i;
            size_t *perm = malloc((n_order ? n_order : 1) * sizeof *perm), *tmp = malloc((n_order ? n_order : 1) * sizeof *tmp);
            if (!perm || !tmp) {
                st = nomem();
            } else {
                sbert_rng rng;
                sbert_rng_seed(&rng, ((uint64_t)a->seed + epoch) ^ 0x6d756c7469ULL);
                sbert_rng_permutation(&rng, perm, n_order);
                for (size_t k = 0; k < n_order; k++) tmp[k] = order[perm[k]];
                memcpy(order, tmp, n_order * sizeof *order);
            }
            free(perm);
            free(tmp);
        }
        out->b.offsets[0] = 0;
        for (size_t k = 0; st == SBERT_OK && k < n_order; k++) {
            size_t i = order[k];
            if (next[i] >= per[i].n_batches) continue; /* a sampler that yields fewer batches than it advertises */
            size_t b0 = per[i].offsets[next[i]], b1 = per[i].offsets[next[i] + 1], used = out->b.offsets[out->b.n_batches];
            memcpy(out->b.idx + used, per[i].idx + b0, (b1 - b0) * sizeof *out->b.idx);
            out->set[out->b.n_batches] = i;
            out->b.n_batches++;
            out->b.offsets[out->b.n_batches] = used + (b1 - b0);
            next[i]++;
        }
        free(order);
        free(next);
    }
    for (size_t i = 0; i < n; i++) sbert_batches_free(&per[i]);
    free(per);
    if (st != SBERT_OK) sbert_epoch_plan_free(out);
    return st;
}

/* ------------------------------------------------------------ optimizer */

/* The Hugging Face Trainer measures and clips model.parameters() only, then
 * steps every parameter in the optimizer -- which, as sentence-transformers
 * builds it (get_optimizer_cls_and_kwargs over the loss module), also holds
 * the loss's own parameters: SoftmaxLoss's classifier, the logit scale of
 * ContrastiveTensionLossInBatchNegatives, ContrastiveTensionLoss's trained
 * copy (model1), DenoisingAutoEncoderLoss's decoder-only weights. Those are
 * stepped with their gradients as they are: not in the norm, not clipped. */
double sbert_train_optimizer_step(sbert_trainer *t, double lr) {
    double norm = sbert_optimizer_step(&t->opt, &t->adam, lr, t->a->max_grad_norm);
    for (size_t k = 0; k < t->n_losses; k++) {
        if (t->losses[k].state) sbert_optimizer_step(&t->losses[k].state_opt, &t->adam, lr, 0);
        if (t->losses[k].copy) sbert_optimizer_step(&t->losses[k].copy_opt, &t->adam, lr, 0);
    }
    return norm;
}

/* ------------------------------------------------------------ guide */

sbert_status sbert_train_guide_embed(sbert_trainer *t, const sbert_train_set *s, size_t c, const size_t *rows,
                                     size_t B, float *out) {
    const sbert_column *col = &s->ds->cols[sbert_dataset_input_column(s->ds, c)];
    const char **texts = malloc(B * sizeof *texts);
    if (!texts) return nomem();
    for (size_t i = 0; i < B; i++) texts[i] = col->text[rows[i]];
    sbert_encode_options o = sbert_encode_options_default();
    o.batch_size = (size_t)t->a->eval_batch_size;
    o.prompt = s->prompts[c] ? s->prompts[c] : "";
    o.truncate_dim = t->guide->full_dim; /* the whole sentence_embedding, as the loss sees it */
    sbert_status st = sbert_model_encode(t->guide, texts, B, &o, out);
    free(texts);
    if (st != SBERT_OK) sbert_error_prefix("guide model: ");
    return st;
}

/* ------------------------------------------------------------ checkpoints */

/* dir/<file>: the rows of table p (and the moments of o). */
static sbert_status save_table(const sbert_param_table *p, const sbert_optimizer *o, const char *dir,
                               const char *file) {
    size_t n = sbert_params_count(p);
    sbert_st_entry *e = calloc(3 * n, sizeof *e);
    char (*names)[224] = calloc(3 * n, sizeof *names);
    if (!e || !names) {
        free(e);
        free(names);
        return nomem();
    }
    for (size_t i = 0; i < n; i++) {
        const sbert_param *q = sbert_params_at_const(p, i);
        for (int k = 0; k < 3; k++) {
            sbert_st_entry *x = &e[3 * i + k];
            snprintf(names[3 * i + k], sizeof names[0], "%s%s", k == 0 ? "" : k == 1 ? "exp_avg." : "exp_avg_sq.",
                     q->name);
            x->name = names[3 * i + k];
            x->data = k == 0 ? q->data : k == 1 ? o->m + q->offset : o->v + q->offset;
            x->ndim = q->ndim;
            x->shape[0] = q->shape[0];
            x->shape[1] = q->shape[1];
        }
    }
    char step[32], path[4400];
    snprintf(step, sizeof step, "%lld", (long long)o->step);
    const char *meta[2] = {"step", step};
    sbert_status st = sbert_path_join(path, sizeof path, dir, file);
    if (st == SBERT_OK) st = sbert_st_write(path, e, 3 * n, meta, 1);
    free(e);
    free(names);
    return st;
}

static sbert_status load_table(sbert_param_table *p, sbert_optimizer *o, const char *dir, const char *file) {
    char path[4400];
    SBERT_TRY(sbert_path_join(path, sizeof path, dir, file));
    sbert_safetensors *f = NULL;
    SBERT_TRY(sbert_st_open(path, &f));
    sbert_status st = SBERT_OK;
    for (size_t i = 0; i < sbert_params_count(p) && st == SBERT_OK; i++) {
        sbert_param *q = sbert_params_at(p, i);
        char name[256];
        int64_t shape[2] = {q->shape[0], q->shape[1]};
        st = sbert_st_read_f32(f, q->name, shape, q->ndim, q->data);
        snprintf(name, sizeof name, "exp_avg.%s", q->name);
        if (st == SBERT_OK) st = sbert_st_read_f32(f, name, shape, q->ndim, o->m + q->offset);
        snprintf(name, sizeof name, "exp_avg_sq.%s", q->name);
        if (st == SBERT_OK) st = sbert_st_read_f32(f, name, shape, q->ndim, o->v + q->offset);
    }
    const char *step = sbert_st_metadata(f, "step");
    if (st == SBERT_OK && step) o->step = strtoll(step, NULL, 10);
    sbert_st_close(f);
    sbert_optimizer_moments_changed(o);
    return st;
}

static void extras_file(const sbert_train_loss *L, const char *what, char *buf, size_t cap) {
    snprintf(buf, cap, "%s%s%s.safetensors", what, L->name[0] ? "_" : "", L->name);
}

sbert_status sbert_train_extras_save(sbert_trainer *t, const char *dir) {
    for (size_t k = 0; k < t->n_losses; k++) {
        const sbert_train_loss *L = &t->losses[k];
        char file[200];
        if (L->state) {
            extras_file(L, "loss_state", file, sizeof file);
            SBERT_TRY(save_table(L->state->params, &L->state_opt, dir, file));
        }
        if (L->copy) {
            extras_file(L, "loss_model_copy", file, sizeof file);
            SBERT_TRY(save_table(L->copy_params, &L->copy_opt, dir, file));
        }
    }
    return SBERT_OK;
}

sbert_status sbert_train_extras_load(sbert_trainer *t, const char *dir) {
    for (size_t k = 0; k < t->n_losses; k++) {
        sbert_train_loss *L = &t->losses[k];
        char file[200];
        if (L->state) {
            extras_file(L, "loss_state", file, sizeof file);
            SBERT_TRY(load_table(L->state->params, &L->state_opt, dir, file));
        }
        if (L->copy) {
            extras_file(L, "loss_model_copy", file, sizeof file);
            SBERT_TRY(load_table(L->copy_params, &L->copy_opt, dir, file));
        }
    }
    return SBERT_OK;
}
