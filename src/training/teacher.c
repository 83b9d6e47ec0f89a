/*
 * training/teacher.c -- knowledge distillation and make-multilingual labels
 * from a teacher model (recipe key teacher_model), as the skill's
 * distillation and make_multilingual templates compute them:
 *
 *   train_dataset = train_dataset.map(lambda b: {"label": teacher.encode(b[source])})
 *
 * For every training dataset (and eval_dataset) without a label column, the
 * teacher encodes the source column -- teacher_column, default the first
 * input column ("sentence" in distillation, "english" in make-multilingual)
 * -- once, before training, and the embeddings become a list-valued "label"
 * column. Every input column is then trained towards them with MSELoss:
 * (english, non_english) rows give both sides the teacher's English
 * embedding (ParallelSentencesDataset semantics).
 *
 * The teacher encodes as SentenceTransformer.encode does by default (its
 * default prompt, its truncate_dim, no normalize_embeddings: a Normalize
 * module of the teacher's own applies).
 *
 * After the student is loaded (sbert_train_teacher_student):
 *   - a teacher ending in Normalize gets a Normalize appended to a student
 *     that has none (the templates' check: MSE against unit-norm targets
 *     otherwise fights student norms of 5-10);
 *   - teacher and student widths must agree: a mismatch is refused with
 *     the fix (a Dense(teacher_dim -> student_dim) projection appended to
 *     the teacher, PCA-initialised as the skill describes, or a student of
 *     the teacher's width). sbert does not build that projection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "modules/normalize.h"
#include "training/trainer_internal.h"

static const char *origin(const sbert_trainer *t, const char *key) {
    return t->recipe ? sbert_recipe_origin(t->recipe, key) : key;
}

static sbert_status load_teacher(sbert_trainer *t) {
    if (t->teacher) return SBERT_OK;
    const char *dir = t->a->teacher_model;
    sbert_status st = sbert_model_load(dir, NULL, &t->teacher);
    if (st != SBERT_OK) {
        sbert_error_prefix("%s: teacher_model: ", origin(t, "teacher_model"));
        return st;
    }
    if (t->teacher->kind != SBERT_KIND_SENTENCE_TRANSFORMER) {
        sbert_model_free(t->teacher);
        t->teacher = NULL;
        return sbert_fail(SBERT_ERR_UNSUPPORTED, "%s: teacher_model '%s' is not a SentenceTransformer (embedding "
                                                 "distillation needs dense teacher embeddings)",
                          origin(t, "teacher_model"), dir);
    }
    sbert_encode_options o = sbert_encode_options_default();
    t->teacher_dim = sbert_model_encode_dim(t->teacher, &o);
    const sbert_model *m = t->teacher;
    t->teacher_normalize = m->n_mods > 0 && !strcmp(m->mods[m->n_mods - 1]->ops->class_name, "Normalize");
    if (t->log)
        sbert_log(t->log, "Teacher: %s (width %zu%s)\n", dir, t->teacher_dim,
                  t->teacher_normalize ? ", ends in Normalize" : "");
    return SBERT_OK;
}

void sbert_train_teacher_free(sbert_trainer *t) {
    sbert_model_free(t->teacher);
    t->teacher = NULL;
}

sbert_status sbert_train_teacher_label(sbert_trainer *t, sbert_dataset *ds, const char *what) {
    const sbert_train_args *a = t->a;
    if (!a->teacher_model) return SBERT_OK;
    const char *where = origin(t, "teacher_model");
    int lc = sbert_dataset_label_column(ds);
    if (lc >= 0)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "%s: %s already has a label column '%s', and teacher_model computes the label from the "
                          "teacher; remove one of them",
                          where, what, ds->cols[lc].name);
    int src = -1;
    if (a->teacher_column) {
        src = sbert_dataset_find_column(ds, a->teacher_column);
        if (src < 0) {
            char have[1024];
            size_t n = 0;
            have[0] = '\0';
            for (size_t c = 0; c < ds->n_cols && n < sizeof have; c++)
                n += (size_t)snprintf(have + n, sizeof have - n, "%s%s", c ? ", " : "", ds->cols[c].name);
            return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: teacher_column '%s' is not a column of %s (columns: %s)",
                              origin(t, "teacher_column"), a->teacher_column, what, have);
        }
    } else if (sbert_dataset_n_inputs(ds) > 0) {
        src = sbert_dataset_input_column(ds, 0);
    }
    if (src < 0 || ds->cols[src].kind != SBERT_COL_TEXT)
        return sbert_fail(SBERT_ERR_FORMAT, "%s: the teacher encodes a text column, and %s has %s", where, what,
                          src < 0 ? "none" : "a list or number column there");
    SBERT_TRY(sbert_dataset_check_inputs(ds));
    SBERT_TRY(load_teacher(t));
    const size_t n = ds->n_rows, D = t->teacher_dim;
    float *emb = malloc((n ? n : 1) * D * sizeof *emb);
    size_t *off = malloc((n + 1) * sizeof *off);
    double *nums = malloc((n ? n : 1) * D * sizeof *nums);
    char *name = strdup("label");
    sbert_column *cols = realloc(ds->cols, (ds->n_cols + 1) * sizeof *cols);
    if (cols) ds->cols = cols;
    if (!emb || !off || !nums || !name || !cols) {
        free(emb);
        free(off);
        free(nums);
        free(name);
        return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    }
    sbert_encode_options o = sbert_encode_options_default();
    sbert_status st = n ? sbert_model_encode(t->teacher, (const char *const *)ds->cols[src].text, n, &o, emb) : SBERT_OK;
    if (st != SBERT_OK) {
        sbert_error_prefix("%s: teacher_model on %s, column '%s': ", where, what, ds->cols[src].name);
        free(emb);
        free(off);
        free(nums);
        free(name);
        return st;
    }
    for (size_t i = 0; i <= n; i++) off[i] = i * D;
    for (size_t i = 0; i < n * D; i++) nums[i] = emb[i];
    free(emb);
    sbert_column *c = &ds->cols[ds->n_cols++];
    memset(c, 0, sizeof *c);
    c->name = name;
    c->kind = SBERT_COL_NUMBER_LIST;
    c->off = off;
    c->nums = nums;
    if (t->log)
        sbert_log(t->log, "Teacher labels: %s, column '%s' -> label (%zu rows x %zu)\n", what, ds->cols[src].name, n, D);
    return SBERT_OK;
}

sbert_status sbert_train_teacher_student(sbert_trainer *t) {
    const sbert_train_args *a = t->a;
    if (!a->teacher_model) return SBERT_OK;
    SBERT_TRY(load_teacher(t));
    sbert_model *m = t->model;
    const sbert_encode_options o = sbert_encode_options_default();
    if (t->teacher_normalize && !sbert_model_find_module(m, "Normalize")) {
        sbert_module *norm = NULL;
        SBERT_TRY(sbert_normalize_module_new(sbert_model_full_dim(m), &norm));
        char name[32], path[48];
        snprintf(name, sizeof name, "%zu", m->n_mods);
        snprintf(path, sizeof path, "%zu_Normalize", m->n_mods);
        SBERT_TRY(sbert_model_add_module(m, norm, name, path));
        sbert_log(t->log, "Student: appended Normalize (the teacher ends in Normalize; its labels are unit vectors)\n");
    }
    size_t sd = sbert_model_encode_dim(m, &o);
    if (sd != t->teacher_dim)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "%s: the teacher '%s' gives %zu-dimensional embeddings, the student '%s' %zu; MSELoss needs "
                          "equal widths. Append a Dense(%zu -> %zu, bias=False) projection to the teacher (the skill "
                          "fits it by PCA on ~20k teacher embeddings) and give that model as teacher_model, or pick a "
                          "student of width %zu",
                          origin(t, "teacher_model"), a->teacher_model, t->teacher_dim, a->model,
                          sd, t->teacher_dim, sd, t->teacher_dim);
    return SBERT_OK;
}
