/*
 * tests/test_distill.c -- knowledge distillation and make-multilingual
 * training from a teacher model (recipe key teacher_model,
 * src/training/teacher.c) against sentence-transformers 6.2.0
 * (tests/data/distill/, made by tools/gen_distill_refs.py):
 *   - the labels: the teacher's embeddings of the source column, computed by
 *     the trainer's own labelling code, equal teacher.encode(...);
 *   - the student: a Normalize appended when the teacher ends in one;
 *   - 20 MSELoss steps on the same batches (tiny-bert, dropout 0, AdamW +
 *     linear warmup + clipping as the Hugging Face Trainer) through the
 *     trainer's step code: per-step losses (rel <= 1e-5), gradient norms
 *     (rel <= 1e-4) and five weight tensors after the last step;
 *   distill: (sentence) rows, teacher tiny-distilbert + Normalize;
 *   multilingual: (english, non_english) XQuAD en/de rows, both columns
 *     towards teacher(english) (ParallelSentencesDataset semantics);
 *   distill_pca: a 48-wide teacher (Dense 32 -> 48 + Normalize) for the
 *     32-wide student with teacher_pca: the skill's PCA-initialised
 *     Dense(48 -> 32, bias=False) appended to the teacher (sklearn PCA,
 *     fitted in float64 on both sides), no Normalize appended.
 *   margin_mse: the skill's pattern 2, MarginMSE from a CrossEncoder
 *     teacher: the tiny CrossEncoder of tests/test_mine_ce.c scores
 *     (question, answer, negative_1, negative_2) TrecQA rows; the labels are
 *     CrossEncoder.predict differences [s(q, pos) - s(q, neg_j)] (abs <=
 *     1e-5) and 20 MarginMSELoss steps follow them (losses rel <= 5e-5, the
 *     margins being differences of nearly equal dot products).
 * Plus the refusals: a width mismatch (with the fix in the message), a
 * dataset that already has a label, an unknown teacher_column; for a
 * CrossEncoder teacher, another loss, teacher_column, too few columns, and
 * a SentenceTransformer teacher with MarginMSELoss. And MSEEvaluator with
 * teacher_pca: its teacher (the same teacher_model) is projected through the
 * same PCA Dense as the labels.
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <sys/stat.h>

#include "test_ce_util.h"
#include "test_fs.h"
#include "test_train_setup.h"
#include "io/file.h"
#include "test_util.h"
#include "training/trainer_internal.h"

static const char *const BASE_FILES[] = {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"};

/* dst = the model files of base + the overlay dir. */
static void assemble(const char *base, const char *overlay, const char *dst) {
    mkdir(dst, 0755);
    for (size_t i = 0; i < 4; i++) {
        char s[1024], t[1024];
        snprintf(s, sizeof s, "%s/%s", base, BASE_FILES[i]);
        snprintf(t, sizeof t, "%s/%s", dst, BASE_FILES[i]);
        CHECK(test_copy_file(s, t), "copy %s", s);
    }
    test_copy_tree(overlay, dst);
}

typedef struct {
    sbert_train_args *a;
    sbert_trainer *t;
    char tmp[64], student[128], teacher[128];
} fixture;

/* When set: (source, target) rows of an MSEEvaluator(teacher_model=<the
 * fixture's teacher>) that fixture_make hands to the trainer before the
 * teacher meets the student (teacher_pca projects its teacher then). */
static const char *g_fixture_eval_data;

static void fixture_free(fixture *f) {
    if (f->t) {
        sbert_evaluator_set_free(f->t->evals);
        sbert_train_sets_free(f->t);
        sbert_train_teacher_free(f->t);
        sbert_optimizer_free(&f->t->opt);
        sbert_packed_free(&f->t->batch);
        sbert_model_free(f->t->model);
        free(f->t);
    }
    free(f->a);
    test_rm_tree(f->tmp);
}

/* The student and teacher of `name` assembled in a temporary folder, a
 * trainer with MSELoss and teacher_model set, the data loaded and labelled. */
static int fixture_make(fixture *f, const char *name, const char *datap) {
    memset(f, 0, sizeof *f);
    snprintf(f->tmp, sizeof f->tmp, "/tmp/sbert_distill_XXXXXX");
    if (!mkdtemp(f->tmp)) return 0;
    char ov[1024], base[1024];
    snprintf(f->student, sizeof f->student, "%s/student", f->tmp);
    snprintf(f->teacher, sizeof f->teacher, "%s/teacher", f->tmp);
    snprintf(base, sizeof base, "%s", test_path("tests/data/models/tiny-bert"));
    snprintf(ov, sizeof ov, "%s/%s/student", test_path("tests/data/distill"), name);
    assemble(base, ov, f->student);
    const int margin = strstr(name, "margin") != NULL;
    if (margin) {
        /* the CrossEncoder teacher of tests/test_mine_ce.c */
        cJSON *ceref = ce_ref("tiny-bert-l1");
        int ok = ceref && ce_build_folder("tiny-bert-l1", ceref, f->teacher);
        cJSON_Delete(ceref);
        if (!ok) return 0;
    } else {
        snprintf(base, sizeof base, "%s", test_path("tests/data/models/tiny-distilbert"));
        snprintf(ov, sizeof ov, "%s/%s/teacher", test_path("tests/data/distill"), name);
        assemble(base, ov, f->teacher);
    }
    f->a = calloc(1, sizeof *f->a);
    f->t = calloc(1, sizeof *f->t);
    sbert_train_args *a = f->a;
    sbert_trainer *t = f->t;
    a->max_grad_norm = 1.0;
    a->eval_batch_size = 32;
    a->teacher_model = f->teacher;
    a->teacher_pca = strstr(name, "pca") != NULL; /* the teacher is 48 wide: PCA to the student's 32 */
    a->model = f->student;
    CHECK_OK(sbert_loss_spec_parse(margin ? "MarginMSELoss" : "MSELoss", name, 1u, NULL, &a->losses[0]));
    a->n_losses = 1;
    t->a = a;
    t->losses = calloc(1, sizeof *t->losses);
    t->losses[0].spec = &a->losses[0];
    t->n_losses = 1;
    t->sets = calloc(1, sizeof *t->sets);
    t->n_sets = 1;
    sbert_train_set *s = &t->sets[0];
    CHECK_OK(sbert_dataset_load(datap, &s->ds));
    if (!s->ds) return 0;
    /* the trainer's labelling: teacher(first input column) -> label */
    CHECK_OK(sbert_train_teacher_label(t, s->ds, "data.jsonl"));
    CHECK_OK(sbert_model_load(f->student, NULL, &t->model));
    if (!t->model) return 0;
    if (g_fixture_eval_data) {
        char spec[256];
        snprintf(spec, sizeof spec, "MSEEvaluator(teacher_model=%s)", f->teacher);
        CHECK_OK(sbert_evaluator_set_load_kind(SBERT_KIND_SENTENCE_TRANSFORMER, spec, g_fixture_eval_data, "", 0, &t->evals));
    }
    CHECK_OK(sbert_train_teacher_student(t));
    return 1;
}

static void run_case(const char *name) {
    char refp[1024], datap[1024];
    snprintf(refp, sizeof refp, "%s/%s/ref.json", test_path("tests/data/distill"), name);
    snprintf(datap, sizeof datap, "%s/%s/data.jsonl", test_path("tests/data/distill"), name);
    if (!TEST_REQUIRE_FILE(refp, "run tools/gen_distill_refs.py")) return;
    cJSON *ref = NULL;
    (void)sbert_json_load(refp, &ref); /* ref stays NULL on failure */
    CHECK(ref != NULL, "%s: ref.json parses", name);
    if (!ref) return;
    fixture f;
    if (!fixture_make(&f, name, datap)) {
        fixture_free(&f);
        cJSON_Delete(ref);
        return;
    }
    sbert_trainer *t = f.t;
    sbert_train_set *s = &t->sets[0];
    /* the student's modules: Normalize appended after a Normalize teacher */
    const cJSON *mods = cJSON_GetObjectItem(ref, "student_modules");
    CHECK((size_t)cJSON_GetArraySize(mods) == t->model->n_mods, "%s: student has %zu modules, sentence-transformers %d",
          name, t->model->n_mods, cJSON_GetArraySize(mods));
    for (size_t i = 0; i < t->model->n_mods && i < (size_t)cJSON_GetArraySize(mods); i++)
        CHECK(!strcmp(t->model->mods[i]->ops->class_name, cJSON_GetArrayItem(mods, (int)i)->valuestring),
              "%s: student module %zu is %s, sentence-transformers %s", name, i, t->model->mods[i]->ops->class_name,
              cJSON_GetArrayItem(mods, (int)i)->valuestring);
    /* the labels */
    s->n_inputs = sbert_dataset_n_inputs(s->ds);
    s->label_col = sbert_dataset_label_column(s->ds);
    CHECK(s->label_col >= 0, "%s: the teacher added a label column", name);
    if (s->label_col < 0) goto out;
    const sbert_column *lc = &s->ds->cols[s->label_col];
    s->label_width = sbert_column_width(lc, s->ds->n_rows);
    const cJSON *labels = cJSON_GetObjectItem(ref, "labels");
    CHECK((size_t)cJSON_GetArraySize(labels) == s->ds->n_rows, "%s: %zu labelled rows", name, s->ds->n_rows);
    double worst_label = 0;
    for (size_t i = 0; i < s->ds->n_rows && i < (size_t)cJSON_GetArraySize(labels); i++) {
        const cJSON *row = cJSON_GetArrayItem(labels, (int)i);
        CHECK((size_t)cJSON_GetArraySize(row) == s->label_width, "%s: label width", name);
        for (size_t k = 0; k < s->label_width && k < (size_t)cJSON_GetArraySize(row); k++)
            worst_label = test_max_err(worst_label, fabs(lc->nums[lc->off[i] + k] - cJSON_GetArrayItem(row, (int)k)->valuedouble));
    }
    const double label_tol = strstr(name, "margin") ? 1e-5 : 2e-6; /* CrossEncoder.predict differences */
    CHECK(worst_label <= label_tol, "%s: teacher labels differ from sentence-transformers' by %.2e", name,
          worst_label);

    test_train_optimizer_setup(t, ref);
    s->cols = calloc(s->n_inputs, sizeof *s->cols);
    s->prompts = calloc(s->n_inputs, sizeof *s->prompts);
    s->prompt_len = calloc(s->n_inputs, sizeof *s->prompt_len);
    for (size_t c = 0; c < s->n_inputs; c++) {
        const sbert_column *col = &s->ds->cols[sbert_dataset_input_column(s->ds, c)];
        CHECK_OK(sbert_model_tokenize_column(t->model, NULL, (const char *const *)col->text, s->ds->n_rows, &s->cols[c]));
    }
    const size_t B = (size_t)cJSON_GetObjectItem(ref, "batch")->valueint;
    const int64_t steps = cJSON_GetObjectItem(ref, "steps")->valueint, warmup = cJSON_GetObjectItem(ref, "warmup")->valueint;
    const double lr = cJSON_GetObjectItem(ref, "lr")->valuedouble;
    const cJSON *losses = cJSON_GetObjectItem(ref, "losses"), *norms = cJSON_GetObjectItem(ref, "grad_norms");
    double worst_loss = 0, worst_norm = 0;
    /* MarginMSE's residuals are differences of nearly equal dot products: near convergence (loss ~0.01) float32
     * rounding of the margins shows as ~2e-5 relative in the loss while the weights agree to 1e-7 */
    const double loss_tol = strstr(name, "margin") ? 5e-5 : 1e-5;
    for (int64_t step = 0; step < steps; step++) {
        size_t rows[64];
        if (B > 64) break;
        for (size_t i = 0; i < B; i++) rows[i] = (size_t)step * B + i;
        double loss = 0;
        sbert_status st = sbert_trainer_micro_step(t, rows, B, 1.0, &loss);
        CHECK(st == SBERT_OK, "%s step %lld: %s", name, (long long)step, sbert_last_error());
        if (st != SBERT_OK) break;
        double norm = sbert_train_optimizer_step(t, lr * sbert_lr_lambda(SBERT_SCHED_LINEAR, step, warmup, steps));
        double wl = cJSON_GetArrayItem(losses, (int)step)->valuedouble, wn = cJSON_GetArrayItem(norms, (int)step)->valuedouble;
        double el = fabs(loss - wl) / fmax(fabs(wl), 1e-6), en = fabs(norm - wn) / fmax(fabs(wn), 1e-6);
        CHECK(el <= loss_tol, "%s step %lld: loss %.9g, sentence-transformers %.9g (rel %.2e)", name, (long long)step, loss,
              wl, el);
        CHECK(en <= 1e-4, "%s step %lld: grad norm %.9g, sentence-transformers %.9g (rel %.2e)", name,
              (long long)step, norm, wn, en);
        worst_loss = test_max_err(worst_loss, el);
        worst_norm = test_max_err(worst_norm, en);
    }
    double worst_w = 0;
    const cJSON *ten;
    cJSON_ArrayForEach(ten, cJSON_GetObjectItem(ref, "tensors")) {
        char pname[256];
        snprintf(pname, sizeof pname, "0.%s", ten->string);
        sbert_param *p = sbert_params_find(t->params, pname);
        CHECK(p != NULL, "%s: parameter %s", name, pname);
        if (!p) continue;
        const cJSON *vals = cJSON_GetObjectItem(ten, "values");
        CHECK((size_t)cJSON_GetArraySize(vals) == p->numel, "%s: %s size", name, pname);
        for (size_t i = 0; i < p->numel && i < (size_t)cJSON_GetArraySize(vals); i++)
            worst_w = test_max_err(worst_w, fabs(p->data[i] - cJSON_GetArrayItem(vals, (int)i)->valuedouble));
    }
    CHECK(worst_w <= 1e-6, "%s: weights after %lld steps differ by %.2e", name, (long long)steps, worst_w);
    printf("%-13s labels abs err <= %.2e; %lld steps: loss rel err <= %.2e, grad norm rel err <= %.2e, weights abs err "
           "<= %.2e\n",
           name, worst_label, (long long)steps, worst_loss, worst_norm, worst_w);
out:
    fixture_free(&f);
    cJSON_Delete(ref);
}

/* A teacher wider than the student, a dataset with a label, an unknown teacher_column. */
static void refusals(void) {
    char datap[1024];
    snprintf(datap, sizeof datap, "%s/distill/data.jsonl", test_path("tests/data/distill"));
    if (!TEST_REQUIRE_FILE(datap, "run tools/gen_distill_refs.py")) return;
    fixture f;
    if (fixture_make(&f, "distill", datap)) {
        /* the same labels again: the dataset has a label column now */
        sbert_status st = sbert_train_teacher_label(f.t, f.t->sets[0].ds, "data.jsonl");
        CHECK(st == SBERT_ERR_INVALID_ARG && strstr(sbert_last_error(), "already has a label column"),
              "a labelled dataset is refused: %s", sbert_last_error());
        /* width mismatch: pretend the teacher is 48 wide */
        f.t->teacher_dim = 48;
        st = sbert_train_teacher_student(f.t);
        CHECK(st == SBERT_ERR_INVALID_ARG && strstr(sbert_last_error(), "gives 48-dimensional") &&
                  strstr(sbert_last_error(), "Dense(48 -> 32, bias=False)") && strstr(sbert_last_error(), "PCA"),
              "a width mismatch is refused with the fix: %s", sbert_last_error());
    }
    fixture_free(&f);
    sbert_dataset *ds = NULL;
    CHECK_OK(sbert_dataset_load(datap, &ds));
    sbert_train_args a = {0};
    sbert_trainer t = {0};
    a.teacher_model = "/nonexistent";
    a.teacher_column = "english";
    t.a = &a;
    sbert_status st = ds ? sbert_train_teacher_label(&t, ds, "data.jsonl") : SBERT_ERR_IO;
    CHECK(st == SBERT_ERR_INVALID_ARG && strstr(sbert_last_error(), "teacher_column 'english' is not a column") &&
              strstr(sbert_last_error(), "sentence"),
          "an unknown teacher_column is refused naming the columns: %s", sbert_last_error());
    sbert_dataset_free(ds);
}

/* Recipe keys: teacher_column without teacher_model, teacher_model for a CrossEncoder. */
static void recipe_keys(void) {
    static const char *const a1[] = {"--model=x", "--train_data=t.jsonl", "--eval_data=e.jsonl",
                                     "--loss=MSELoss", "--teacher_column=english"};
    static const char *const a2[] = {"--model=x", "--train_data=t.jsonl", "--eval_data=e.jsonl",
                                     "--model_type=CrossEncoder", "--loss=MSELoss",
                                     "--activation_fn=Identity", "--teacher_model=models/all-MiniLM-L6-v2"};
    static const char *const a3[] = {"--model=x", "--train_data=t.jsonl", "--eval_data=e.jsonl", "--loss=MSELoss",
                                     "--teacher_model=models/all-MiniLM-L6-v2", "--teacher_column=english"};
    static const char *const a4[] = {"--model=x", "--train_data=t.jsonl", "--eval_data=e.jsonl", "--loss=MSELoss",
                                     "--teacher_pca=true"};
    const struct {
        const char *const *args;
        size_t n;
        const char *want;
    } cases[] = {{a4, 5, "teacher_pca needs teacher_model"},
                 {a1, 5, "teacher_column needs teacher_model"},
                 {a2, 7, "teacher_model (embedding labels from a teacher) is for SentenceTransformer training"},
                 {a3, 6, NULL}};
    for (size_t i = 0; i < 4; i++) {
        sbert_recipe *r = NULL;
        CHECK_OK(sbert_recipe_load(NULL, cases[i].args, cases[i].n, sbert_train_known_keys(), &r));
        if (!r) continue;
        sbert_train_args a;
        memset(&a, 0, sizeof a);
        sbert_status st = sbert_train_args_read(r, &a);
        if (cases[i].want)
            CHECK(st != SBERT_OK && strstr(sbert_last_error(), cases[i].want), "recipe case %zu refused: %s", i,
                  sbert_last_error());
        else
            CHECK(st == SBERT_OK && a.teacher_model && !strcmp(a.teacher_column, "english"),
                  "teacher_model + teacher_column read: %s", st == SBERT_OK ? "" : sbert_last_error());
        sbert_recipe_free(r);
    }
}

/* sbert_train end to end: a 2-step run with teacher_model (the saved student has the appended
 * Normalize), and a teacher wider than the student refused before the baseline. */
static void train_runs(void) {
    char datap[1024], evalp[1024], minilm[1024];
    snprintf(datap, sizeof datap, "%s/distill/data.jsonl", test_path("tests/data/distill"));
    snprintf(evalp, sizeof evalp, "%s", test_path("data/stsb-dev.jsonl"));
    snprintf(minilm, sizeof minilm, "%s", test_path("models/all-MiniLM-L6-v2"));
    if (!TEST_REQUIRE_FILE(datap, "run tools/gen_distill_refs.py") || !TEST_REQUIRE_FILE(minilm, TEST_FETCH_MODELS))
        return;
    fixture f;
    if (!fixture_make(&f, "distill", datap)) {
        fixture_free(&f);
        return;
    }
    char out[256], kv[8][1200];
    snprintf(out, sizeof out, "%s/run", f.tmp);
    snprintf(kv[0], sizeof kv[0], "model=%s", f.student);
    snprintf(kv[1], sizeof kv[1], "teacher_model=%s", f.teacher);
    snprintf(kv[2], sizeof kv[2], "train_data=%s", datap);
    snprintf(kv[3], sizeof kv[3], "eval_data=%s", evalp);
    snprintf(kv[4], sizeof kv[4], "output_dir=%s", out);
    const char *args[] = {kv[0], kv[1], kv[2], kv[3], kv[4], "loss=MSELoss", "max_steps=2", "max_eval_samples=20",
                          "run_name=test-distill", "save_strategy=no", "num_threads=2"};
    sbert_train_summary sum;
    sbert_status st = sbert_train(NULL, args, sizeof args / sizeof args[0], f.tmp, &sum);
    CHECK(st == SBERT_OK && sum.steps == 2, "a 2-step distillation run: %s", st == SBERT_OK ? "" : sbert_last_error());
    char mj[600];
    snprintf(mj, sizeof mj, "%s/final/modules.json", out);
    char *m = test_read_file(mj, NULL);
    CHECK(m && strstr(m, "Normalize"), "the saved student ends in the appended Normalize: %s", m ? m : "(none)");
    free(m);
    /* all-MiniLM-L6-v2 (384) teaching a 32-wide student */
    snprintf(kv[1], sizeof kv[1], "teacher_model=%s", minilm);
    snprintf(kv[4], sizeof kv[4], "output_dir=%s/run2", f.tmp);
    st = sbert_train(NULL, args, sizeof args / sizeof args[0], f.tmp, &sum);
    CHECK(st != SBERT_OK && strstr(sbert_last_error(), "gives 384-dimensional embeddings") &&
              strstr(sbert_last_error(), "Dense(384 -> 32, bias=False)"),
          "a 384-wide teacher for a 32-wide student is refused with the fix: %s", sbert_last_error());
    fixture_free(&f);
}

/* A CrossEncoder teacher with another loss, teacher_column or pairs; a
 * SentenceTransformer teacher with MarginMSELoss. */
static void margin_refusals(void) {
    char datap[1024];
    snprintf(datap, sizeof datap, "%s/margin_mse/data.jsonl", test_path("tests/data/distill"));
    if (!TEST_REQUIRE_FILE(datap, "run tools/gen_distill_refs.py")) return;
    fixture f;
    if (!fixture_make(&f, "margin_mse", datap)) {
        fixture_free(&f);
        return;
    }
    const char *pairs_rows = "{\"question\": \"who\", \"answer\": \"me\"}\n";
    char pairs[256];
    snprintf(pairs, sizeof pairs, "%s/pairs.jsonl", f.tmp);
    FILE *pf = fopen(pairs, "w");
    if (pf) {
        fputs(pairs_rows, pf);
        fclose(pf);
    }
    struct {
        const char *loss, *column, *data, *want;
    } cases[] = {
        {"MSELoss", NULL, datap, "is a CrossEncoder: its scores make MarginMSELoss labels"},
        {"MarginMSELoss", "question", datap, "teacher_column does not apply to a CrossEncoder teacher"},
        {"MarginMSELoss", NULL, pairs, "scores (query, positive, negative...) rows for MarginMSELoss; pairs.jsonl has 2"},
    };
    for (size_t i = 0; i < 3; i++) {
        sbert_train_args a = {0};
        sbert_trainer t = {0};
        a.teacher_model = f.teacher;
        a.teacher_column = cases[i].column;
        CHECK_OK(sbert_loss_spec_parse(cases[i].loss, "case", 1u, NULL, &a.losses[0]));
        a.n_losses = 1;
        t.a = &a;
        sbert_dataset *ds = NULL;
        CHECK_OK(sbert_dataset_load(cases[i].data, &ds));
        sbert_status st = ds ? sbert_train_teacher_label(&t, ds, "pairs.jsonl") : SBERT_ERR_IO;
        CHECK(st != SBERT_OK && strstr(sbert_last_error(), cases[i].want), "CrossEncoder teacher case %zu refused: %s",
              i, sbert_last_error());
        sbert_train_teacher_free(&t);
        sbert_dataset_free(ds);
    }
    /* an embedding teacher with MarginMSELoss */
    char st_teacher[1024];
    snprintf(st_teacher, sizeof st_teacher, "%s", test_path("tests/data/models/tiny-bert"));
    sbert_train_args a = {0};
    sbert_trainer t = {0};
    a.teacher_model = st_teacher;
    CHECK_OK(sbert_loss_spec_parse("MarginMSELoss", "case", 1u, NULL, &a.losses[0]));
    a.n_losses = 1;
    t.a = &a;
    sbert_dataset *ds = NULL;
    CHECK_OK(sbert_dataset_load(pairs, &ds));
    sbert_status st = ds ? sbert_train_teacher_label(&t, ds, "pairs.jsonl") : SBERT_ERR_IO;
    CHECK(st != SBERT_OK && strstr(sbert_last_error(), "takes score margins from a CrossEncoder teacher"),
          "a SentenceTransformer teacher with MarginMSELoss is refused: %s", sbert_last_error());
    sbert_train_teacher_free(&t);
    sbert_dataset_free(ds);
    /* sbert_train end to end with the CrossEncoder teacher (the run logs the labels) */
    char out[256], kv[5][1200];
    snprintf(out, sizeof out, "%s/run", f.tmp);
    snprintf(kv[0], sizeof kv[0], "model=%s", f.student);
    snprintf(kv[1], sizeof kv[1], "teacher_model=%s", f.teacher);
    snprintf(kv[2], sizeof kv[2], "train_data=%s", datap);
    snprintf(kv[3], sizeof kv[3], "eval_data=%s", test_path("data/stsb-dev.jsonl"));
    snprintf(kv[4], sizeof kv[4], "output_dir=%s", out);
    const char *args[] = {kv[0], kv[1], kv[2], kv[3], kv[4], "loss=MarginMSELoss", "max_steps=2",
                          "max_train_samples=16", "max_eval_samples=20", "run_name=test-distill-margin",
                          "save_strategy=no", "num_threads=2"};
    sbert_train_summary sum;
    st = sbert_train(NULL, args, sizeof args / sizeof args[0], f.tmp, &sum);
    CHECK(st == SBERT_OK && sum.steps == 2, "a 2-step MarginMSE run from the CrossEncoder teacher: %s",
          st == SBERT_OK ? "" : sbert_last_error());
    fixture_free(&f);
}

/* MSEEvaluator(teacher_model=<the teacher>) in a teacher_pca run scores against the projected teacher:
 * with (sentence, sentence) rows its value is -100 * mean((label - student)^2) over sentence-transformers'
 * projected labels (ref.json) and the untrained student's embeddings. */
static void mse_evaluator_pca(void) {
    char datap[1024], refp[1024], dir[64], evalp[128];
    snprintf(datap, sizeof datap, "%s/distill_pca/data.jsonl", test_path("tests/data/distill"));
    snprintf(refp, sizeof refp, "%s/distill_pca/ref.json", test_path("tests/data/distill"));
    if (!TEST_REQUIRE_FILE(refp, "run tools/gen_distill_refs.py")) return;
    cJSON *ref = NULL;
    (void)sbert_json_load(refp, &ref); /* ref stays NULL on failure */
    sbert_dataset *ds = NULL;
    CHECK_OK(sbert_dataset_load(datap, &ds));
    snprintf(dir, sizeof dir, "/tmp/sbert_distill_eval_XXXXXX");
    if (!ref || !ds || !mkdtemp(dir)) {
        cJSON_Delete(ref);
        sbert_dataset_free(ds);
        return;
    }
    enum { N = 10 };
    const sbert_column *sc = &ds->cols[sbert_dataset_input_column(ds, 0)];
    snprintf(evalp, sizeof evalp, "%s/mse-eval.jsonl", dir);
    FILE *ef = fopen(evalp, "w");
    for (size_t i = 0; ef && i < N; i++) {
        cJSON *row = cJSON_CreateObject();
        cJSON_AddStringToObject(row, "source", sc->text[i]);
        cJSON_AddStringToObject(row, "target", sc->text[i]);
        char *line = cJSON_PrintUnformatted(row);
        fprintf(ef, "%s\n", line);
        cJSON_free(line);
        cJSON_Delete(row);
    }
    if (ef) fclose(ef);
    g_fixture_eval_data = evalp;
    fixture f;
    if (fixture_make(&f, "distill_pca", datap) && f.t->evals) {
        sbert_model_eval_ctx ctx;
        sbert_eval_encoder enc;
        sbert_eval_encoder_for_model(f.t->model, 32, &ctx, &enc);
        sbert_eval_result res;
        CHECK_OK(sbert_evaluator_set_run(f.t->evals, &enc, &res));
        double got = sbert_eval_get(&res, "negative_mse");
        const size_t D = 32;
        float emb[N * 32];
        sbert_encode_options o = sbert_encode_options_default();
        CHECK_OK(sbert_model_encode(f.t->model, (const char *const *)sc->text, N, &o, emb));
        const cJSON *labels = cJSON_GetObjectItem(ref, "labels");
        double sum = 0;
        for (size_t i = 0; i < N; i++)
            for (size_t k = 0; k < D; k++) {
                double r = cJSON_GetArrayItem(cJSON_GetArrayItem(labels, (int)i), (int)k)->valuedouble - emb[i * D + k];
                sum += r * r;
            }
        double want = -100.0 * sum / (double)(N * D);
        CHECK(fabs(got - want) <= 1e-4 * fmax(fabs(want), 1e-3),
              "MSEEvaluator with teacher_pca: negative_mse %.9g, against the projected teacher %.9g", got, want);
        printf("MSEEvaluator with teacher_pca: negative_mse %.6g (projected teacher: %.6g)\n", got, want);
    } else {
        CHECK(0, "the teacher_pca fixture with an MSEEvaluator: %s", sbert_last_error());
    }
    g_fixture_eval_data = NULL;
    fixture_free(&f);
    cJSON_Delete(ref);
    sbert_dataset_free(ds);
    test_rm_tree(dir);
}

int main(void) {
    recipe_keys();
    train_runs();
    run_case("distill");
    run_case("multilingual");
    run_case("distill_pca");
    run_case("margin_mse");
    refusals();
    margin_refusals();
    mse_evaluator_pca();
    return test_summary();
}
