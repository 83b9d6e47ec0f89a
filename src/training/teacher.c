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
 *   - teacher and student widths must agree. With teacher_pca: true a
 *     wider teacher gets the skill's projection: a PCA fitted on the first
 *     20,000 teacher labels of the training data (the template's
 *     teacher.encode(train_sentences[:20000])) gives
 *     Dense(teacher_dim -> student_dim, bias=False) whose weight is the
 *     first student_dim principal components (sklearn's PCA: covariance
 *     eigenvectors, largest variance first, each signed so that its
 *     largest-magnitude entry is positive -- svd_flip), and every label
 *     becomes W x (the Dense appended to the teacher: no centring). Without
 *     it a mismatch is refused with the fix.
 *
 * A CrossEncoder teacher (the skill's distillation pattern 2, MarginMSE from
 * a CE teacher): teacher_model names a CrossEncoder folder (model_type
 * CrossEncoder in config_sentence_transformers.json, or a Hugging Face
 * *ForSequenceClassification checkpoint) with one label, and the loss is
 * MarginMSELoss. The rows are (query, positive, negative_1..k); the teacher
 * scores every (query, positive) and (query, negative_j) pair once, as
 * CrossEncoder.predict does (the model's own activation: Sigmoid by default,
 * Identity for a model saved with it), and the label is the list
 * [score(q, pos) - score(q, neg_j) for j = 1..k] in float32 -- what
 * MarginMSELoss takes. teacher_column and teacher_pca do not apply.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <cjson/cJSON.h>
#include <math.h>

#include "base/error.h"
#include "io/file.h"
#include "kernels/pca.h"
#include "modules/normalize.h"
#include "training/trainer_internal.h"

/* LAPACK (OpenBLAS exports it): the symmetric eigensolver. */

static const char *origin(const sbert_trainer *t, const char *key) {
    return t->recipe ? sbert_recipe_origin(t->recipe, key) : key;
}

/* A CrossEncoder folder: config_sentence_transformers.json model_type
 * CrossEncoder, or a Hugging Face *ForSequenceClassification config.json. */
static int is_cross_encoder_dir(const char *dir) {
    static const struct {
        const char *file, *key, *suffix;
    } probes[] = {{"config_sentence_transformers.json", "model_type", "CrossEncoder"},
                  {"config.json", "architectures", "ForSequenceClassification"}};
    int yes = 0;
    for (size_t i = 0; i < 2 && !yes; i++) {
        char path[4200];
        cJSON *cfg = NULL;
        if (sbert_path_join(path, sizeof path, dir, probes[i].file) != SBERT_OK || !sbert_file_exists(path)) continue;
        if (sbert_json_load(path, &cfg) != SBERT_OK) {
            sbert_error_clear();
            continue;
        }
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, probes[i].key);
        if (cJSON_IsArray(v)) v = cJSON_GetArrayItem(v, 0);
        if (cJSON_IsString(v)) {
            size_t a = strlen(v->valuestring), b = strlen(probes[i].suffix);
            yes = a >= b && !strcmp(v->valuestring + a - b, probes[i].suffix);
        }
        cJSON_Delete(cfg);
    }
    return yes;
}

/* The losses a teacher's labels go to: MarginMSELoss for a CrossEncoder
 * teacher (score margins), anything but it for an embedding teacher. */
static sbert_status check_teacher_loss(const sbert_trainer *t, int ce) {
    const sbert_train_args *a = t->a;
    for (size_t i = 0; i < a->n_losses; i++) {
        const char *name = a->losses[i].def ? a->losses[i].def->name : "";
        int margin = !strcmp(name, "MarginMSELoss");
        if (ce && !margin)
            return sbert_fail(SBERT_ERR_INVALID_ARG,
                              "%s: teacher_model '%s' is a CrossEncoder: its scores make MarginMSELoss labels "
                              "(score(query, positive) - score(query, negative)), and the loss is %s; set loss: "
                              "MarginMSELoss, or give a SentenceTransformer teacher for embedding distillation",
                              origin(t, "teacher_model"), a->teacher_model, name);
        if (!ce && margin)
            return sbert_fail(SBERT_ERR_INVALID_ARG,
                              "%s: MarginMSELoss with teacher_model takes score margins from a CrossEncoder teacher; "
                              "'%s' is not one (no model_type CrossEncoder, no *ForSequenceClassification "
                              "architecture). Give a CrossEncoder, or margins in a label column without "
                              "teacher_model",
                              origin(t, "teacher_model"), a->teacher_model);
    }
    if (ce && a->teacher_column)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "%s: teacher_column does not apply to a CrossEncoder teacher: it scores the (query, "
                          "positive, negative...) input columns; remove it",
                          origin(t, "teacher_column"));
    if (ce && a->teacher_pca)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "%s: teacher_pca projects teacher embeddings; a CrossEncoder teacher gives scores; remove it",
                          origin(t, "teacher_pca"));
    return SBERT_OK;
}

static sbert_status load_cross_teacher(sbert_trainer *t) {
    const char *dir = t->a->teacher_model;
    SBERT_TRY(check_teacher_loss(t, 1));
    sbert_cross_encoder_options co = sbert_cross_encoder_options_default();
    sbert_status st = sbert_cross_encoder_load(dir, &co, &t->teacher);
    if (st != SBERT_OK) {
        sbert_error_prefix("%s: teacher_model: ", origin(t, "teacher_model"));
        return st;
    }
    size_t nl = sbert_cross_encoder_num_labels(t->teacher);
    if (nl != 1) {
        sbert_model_free(t->teacher);
        t->teacher = NULL;
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "%s: teacher_model '%s' is a CrossEncoder with %zu labels; MarginMSELoss margins need one "
                          "relevance score per pair (num_labels 1)",
                          origin(t, "teacher_model"), dir, nl);
    }
    t->teacher_ce = 1;
    if (t->log)
        sbert_log(t->log, "Teacher: %s (CrossEncoder, activation %s): MarginMSELoss labels are its score margins\n",
                  dir, sbert_cross_encoder_activation_fn(t->teacher));
    return SBERT_OK;
}

static sbert_status load_teacher(sbert_trainer *t) {
    if (t->teacher) return SBERT_OK;
    const char *dir = t->a->teacher_model;
    if (is_cross_encoder_dir(dir)) return load_cross_teacher(t);
    SBERT_TRY(check_teacher_loss(t, 0));
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

/* Append a list-valued column "label" to ds: nums [n_rows * width] (taken). */
static sbert_status add_label_column(sbert_dataset *ds, double *nums, size_t width) {
    const size_t n = ds->n_rows;
    size_t *off = malloc((n + 1) * sizeof *off);
    char *name = strdup("label");
    sbert_column *cols = realloc(ds->cols, (ds->n_cols + 1) * sizeof *cols);
    if (cols) ds->cols = cols;
    if (!off || !name || !cols) {
        free(off);
        free(name);
        free(nums);
        return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i <= n; i++) off[i] = i * width;
    sbert_column *c = &ds->cols[ds->n_cols++];
    memset(c, 0, sizeof *c);
    c->name = name;
    c->kind = SBERT_COL_NUMBER_LIST;
    c->off = off;
    c->nums = nums;
    return SBERT_OK;
}

/* A CrossEncoder teacher: label = [score(q, pos) - score(q, neg_j)] per row. */
static sbert_status cross_teacher_label(sbert_trainer *t, sbert_dataset *ds, const char *what) {
    const char *where = origin(t, "teacher_model");
    const size_t ni = sbert_dataset_n_inputs(ds), n = ds->n_rows;
    if (ni < 3)
        return sbert_fail(SBERT_ERR_FORMAT,
                          "%s: the CrossEncoder teacher scores (query, positive, negative...) rows for MarginMSELoss; "
                          "%s has %zu input column%s",
                          where, what, ni, ni == 1 ? "" : "s");
    SBERT_TRY(sbert_dataset_check_inputs(ds));
    for (size_t c = 0; c < ni; c++) {
        const sbert_column *col = &ds->cols[sbert_dataset_input_column(ds, c)];
        if (col->kind != SBERT_COL_TEXT)
            return sbert_fail(SBERT_ERR_FORMAT, "%s: the CrossEncoder teacher scores text, and column '%s' of %s is not",
                              where, col->name, what);
    }
    const size_t k = ni - 2, m = n * (k + 1);
    const char **q = malloc((m ? m : 1) * sizeof *q), **d = malloc((m ? m : 1) * sizeof *d);
    float *sc = malloc((m ? m : 1) * sizeof *sc);
    double *nums = malloc((n * k > 0 ? n * k : 1) * sizeof *nums);
    sbert_status st = q && d && sc && nums ? SBERT_OK : sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    const sbert_column *qc = &ds->cols[sbert_dataset_input_column(ds, 0)];
    for (size_t c = 1; st == SBERT_OK && c < ni; c++) {
        const sbert_column *dc = &ds->cols[sbert_dataset_input_column(ds, c)];
        for (size_t i = 0; i < n; i++) {
            q[(c - 1) * n + i] = qc->text[i];
            d[(c - 1) * n + i] = dc->text[i];
        }
    }
    sbert_predict_options po = sbert_predict_options_default();
    if (st == SBERT_OK && m) {
        st = sbert_cross_encoder_predict(t->teacher, q, d, m, &po, sc);
        if (st != SBERT_OK) sbert_error_prefix("%s: teacher_model on %s: ", where, what);
    }
    for (size_t i = 0; st == SBERT_OK && i < n; i++)
        for (size_t j = 0; j < k; j++) nums[i * k + j] = (double)(sc[i] - sc[(j + 1) * n + i]); /* float32, as torch */
    free(q);
    free(d);
    free(sc);
    if (st != SBERT_OK) {
        free(nums);
        return st;
    }
    SBERT_TRY(add_label_column(ds, nums, k)); /* moves ds->cols: qc is stale from here */
    if (t->log) {
        const char *qn = ds->cols[sbert_dataset_input_column(ds, 0)].name;
        sbert_log(t->log, "Teacher labels: %s, CrossEncoder margins score(%s, %s) - score(%s, negative) -> label (%zu "
                          "rows x %zu)\n",
                  what, qn, ds->cols[sbert_dataset_input_column(ds, 1)].name, qn, n, k);
    }
    return SBERT_OK;
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
    if (t->teacher_ce || (!t->teacher && is_cross_encoder_dir(a->teacher_model))) {
        SBERT_TRY(load_teacher(t));
        return cross_teacher_label(t, ds, what);
    }
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
    double *nums = malloc((n ? n : 1) * D * sizeof *nums);
    if (!emb || !nums) {
        free(emb);
        free(nums);
        return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    }
    sbert_encode_options o = sbert_encode_options_default();
    sbert_status st = n ? sbert_model_encode(t->teacher, (const char *const *)ds->cols[src].text, n, &o, emb) : SBERT_OK;
    if (st != SBERT_OK) {
        sbert_error_prefix("%s: teacher_model on %s, column '%s': ", where, what, ds->cols[src].name);
        free(emb);
        free(nums);
        return st;
    }
    for (size_t i = 0; i < n * D; i++) nums[i] = emb[i];
    free(emb);
    SBERT_TRY(add_label_column(ds, nums, D));
    if (t->log)
        sbert_log(t->log, "Teacher labels: %s, column '%s' -> label (%zu rows x %zu)\n", what, ds->cols[src].name, n, D);
    return SBERT_OK;
}

/* The first k principal components comp [k, d] of x [n, d] (double, centered
 * in place), as sklearn's PCA(n_components=k).fit(x).components_ with
 * svd_flip's signs: each component's largest |entry| positive. */
static sbert_status pca_components(double *x, size_t n, size_t d, size_t k, double *comp) {
    sbert_status st = sbert_pca_components(x, n, d, k, comp);
    if (st != SBERT_OK) {
        sbert_error_prefix("teacher_pca: ");
        return st;
    }
    for (size_t c = 0; c < k; c++) {
        double *v = comp + c * d;
        size_t arg = 0;
        for (size_t j = 1; j < d; j++)
            if (fabs(v[j]) > fabs(v[arg])) arg = j;
        if (v[arg] < 0)
            for (size_t j = 0; j < d; j++) v[j] = -v[j];
    }
    return SBERT_OK;
}

/* Replace the label column of ds (width d) by comp [k, d] @ label. */
static sbert_status project_labels(sbert_dataset *ds, const double *comp, size_t d, size_t k) {
    if (!ds) return SBERT_OK;
    int lc = sbert_dataset_label_column(ds);
    if (lc < 0) return SBERT_OK;
    sbert_column *c = &ds->cols[lc];
    const size_t n = ds->n_rows;
    double *nums = malloc((n ? n : 1) * k * sizeof *nums);
    if (!nums) return sbert_fail(SBERT_ERR_NOMEM, "teacher_pca: out of memory");
    if (n) cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)k, (int)d, 1.0, c->nums, (int)d, comp, (int)d,
                       0.0, nums, (int)k);
    free(c->nums);
    c->nums = nums;
    for (size_t i = 0; i <= n; i++) c->off[i] = i * k;
    return SBERT_OK;
}

/* The skill's PCA projection of the teacher to the student's width k. */
static sbert_status teacher_pca(sbert_trainer *t, size_t k) {
    const size_t d = t->teacher_dim, cap = 20000;
    size_t n = 0;
    for (size_t i = 0; i < t->n_sets && n < cap; i++) n += t->sets[i].ds->n_rows < cap - n ? t->sets[i].ds->n_rows : cap - n;
    if (n < 2 || n < k)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "%s: teacher_pca needs at least %zu training rows to fit %zu components (there are %zu)",
                          origin(t, "teacher_pca"), k > 2 ? k : 2, k, n);
    double *x = malloc(n * d * sizeof *x), *comp = malloc(k * d * sizeof *comp);
    sbert_status st = x && comp ? SBERT_OK : sbert_fail(SBERT_ERR_NOMEM, "teacher_pca: out of memory");
    size_t r = 0;
    for (size_t i = 0; st == SBERT_OK && i < t->n_sets && r < n; i++) {
        const sbert_dataset *ds = t->sets[i].ds;
        const sbert_column *c = &ds->cols[sbert_dataset_label_column(ds)];
        size_t m = ds->n_rows < n - r ? ds->n_rows : n - r;
        memcpy(x + r * d, c->nums, m * d * sizeof *x);
        r += m;
    }
    if (st == SBERT_OK) st = pca_components(x, n, d, k, comp);
    for (size_t i = 0; st == SBERT_OK && i < t->n_sets; i++) {
        sbert_train_set *s = &t->sets[i];
        st = project_labels(s->ds, comp, d, k);
        if (st == SBERT_OK) st = project_labels(s->eval_ds, comp, d, k);
        s->label_width = k;
        if (s->eval_ds) s->eval_label_width = k;
    }
    /* MSEEvaluator(teacher_model=<the same teacher>) compares with the projected teacher too */
    int ne = 0;
    for (int j = 0; st == SBERT_OK && j < 2; j++) {
        int got = sbert_evaluator_set_project_teacher(j ? t->tests : t->evals, t->a->teacher_model, comp, d, k);
        if (got < 0) st = sbert_fail(SBERT_ERR_NOMEM, "teacher_pca: out of memory");
        else ne += got;
    }
    if (st == SBERT_OK && ne)
        sbert_log(t->log, "Teacher: %d MSEEvaluator%s of this teacher score against the projected embeddings\n", ne,
                  ne == 1 ? "" : "s");
    free(x);
    free(comp);
    if (st == SBERT_OK)
        sbert_log(t->log, "Teacher: PCA-initialised Dense(%zu -> %zu, bias=False) fitted on %zu teacher embeddings; the "
                          "labels are its outputs\n",
                  d, k, n);
    return st;
}

sbert_status sbert_train_teacher_student(sbert_trainer *t) {
    const sbert_train_args *a = t->a;
    if (!a->teacher_model) return SBERT_OK;
    SBERT_TRY(load_teacher(t));
    if (t->teacher_ce) return SBERT_OK; /* score margins: no width to match */
    sbert_model *m = t->model;
    const sbert_encode_options o = sbert_encode_options_default();
    size_t sd = sbert_model_encode_dim(m, &o);
    if (sd < t->teacher_dim && a->teacher_pca) {
        SBERT_TRY(teacher_pca(t, sd));
        t->teacher_dim = sd;
        t->teacher_normalize = 0; /* the teacher now ends in the Dense projection */
    }
    if (t->teacher_normalize && !sbert_model_find_module(m, "Normalize")) {
        sbert_module *norm = NULL;
        SBERT_TRY(sbert_normalize_module_new(sbert_model_full_dim(m), &norm));
        char name[32], path[48];
        snprintf(name, sizeof name, "%zu", m->n_mods);
        snprintf(path, sizeof path, "%zu_Normalize", m->n_mods);
        SBERT_TRY(sbert_model_add_module(m, norm, name, path));
        sbert_log(t->log, "Student: appended Normalize (the teacher ends in Normalize; its labels are unit vectors)\n");
    }
    if (sd != t->teacher_dim && a->teacher_pca)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "%s: teacher_pca projects a wider teacher down; the teacher '%s' gives %zu dimensions, "
                          "fewer than the student's %zu: pick a narrower student",
                          origin(t, "teacher_pca"), a->teacher_model, t->teacher_dim, sd);
    if (sd != t->teacher_dim)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "%s: the teacher '%s' gives %zu-dimensional embeddings, the student '%s' %zu; MSELoss needs "
                          "equal widths. Set teacher_pca: true (a PCA-initialised Dense(%zu -> %zu, bias=False) "
                          "appended to the teacher, as the skill does), or give as teacher_model a teacher ending in "
                          "such a projection, or pick a student of width %zu",
                          origin(t, "teacher_model"), a->teacher_model, t->teacher_dim, a->model,
                          sd, t->teacher_dim, sd, t->teacher_dim);
    return SBERT_OK;
}
