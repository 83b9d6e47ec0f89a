/*
 * tests/test_bienc_data.c -- data, samplers and multi-dataset training of
 * issue 10:
 *   samplers over >= 100k rows: GROUP_BY_LABEL batches hold pairs of rows of
 *     one label, >= 2 labels a batch, even sizes >= 4, each row at most once
 *     an epoch, as many batches as advertised, different epochs differ;
 *     NO_DUPLICATES_HASHED never puts equal texts in one batch; the
 *     PROPORTIONAL and ROUND_ROBIN multi-dataset orders take each batch from
 *     one dataset, PROPORTIONAL every batch of every set once an epoch and
 *     mixed, ROUND_ROBIN in turn min_i len_i * n_sets batches;
 *   list-valued label columns (JSONL arrays, CSV "[..]" cells), and the
 *     errors for lists of texts and nested lists naming file, line, column;
 *   the recipe's {name: value} flow mappings;
 *   .parquet through Apache Arrow's reader: the same rows as the JSONL
 *   twins, a list label, integer labels; a struct column, a list of texts
 *   and a null refused naming file, column (and row);
 *   end to end (tiny-bert, a few steps): two named datasets with a loss each
 *     log eval_{name}_loss and save the prompts; the key rules fail before
 *     the baseline naming what is wrong: names that differ between
 *     train_data, loss and eval_dataset; a loss whose columns a dataset
 *     lacks; GROUP_BY_LABEL on data without labels; a prompt for a column
 *     that does not exist.
 */
#define _XOPEN_SOURCE 700
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"
#include "data/parquet.h"
#include "training/flow_map.h"
#include "training/trainer_internal.h"

static char g_tmp[256];

static const char *tmp_file(const char *name) {
    static char buf[4][512];
    static int k = 0;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_tmp, name);
    return buf[k];
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* n rows {"text": "t<k>", "label": c}: texts repeat (k = i % n_texts), classes i % n_classes */
static void write_rows(const char *path, size_t n, size_t n_texts, size_t n_classes) {
    FILE *f = fopen(path, "w");
    for (size_t i = 0; f && i < n; i++)
        fprintf(f, "{\"text\": \"t%zu\", \"other\": \"o%zu\", \"label\": %zu}\n", i % n_texts, (i * 7) % n_texts,
                i % n_classes);
    if (f) fclose(f);
}

static void test_group_by_label(void) {
    const char *p = tmp_file("labels.jsonl");
    const size_t N = 100003;
    write_rows(p, N, N, 997);
    sbert_dataset *ds = NULL;
    CHECK_OK(sbert_dataset_load(p, &ds));
    if (!ds) return;
    int lc = sbert_dataset_label_column(ds);
    size_t n_adv = 0;
    CHECK_OK(sbert_sampler_len_for(ds, SBERT_SAMPLER_GROUP_BY_LABEL, 32, 0, &n_adv));
    unsigned char *seen = calloc(N, 1);
    size_t first_batch0 = 0;
    for (uint64_t epoch = 0; epoch < 2; epoch++) {
        sbert_batches b;
        CHECK_OK(sbert_sampler_epoch(ds, SBERT_SAMPLER_GROUP_BY_LABEL, 32, 0, 5, epoch, &b));
        CHECK(b.n_batches == n_adv, "GROUP_BY_LABEL epoch %llu: %zu batches, advertised %zu",
              (unsigned long long)epoch, b.n_batches, n_adv);
        memset(seen, 0, N);
        size_t bad = 0, rows = 0;
        for (size_t k = 0; k < b.n_batches; k++) {
            size_t o = b.offsets[k], n = b.offsets[k + 1] - o;
            if (n < 4 || n % 2 || (n != 32 && k + 1 != b.n_batches)) bad++;
            double l0 = ds->cols[lc].num[b.idx[o]];
            int two_labels = 0;
            for (size_t i = 0; i + 1 < n; i += 2) {
                /* rows come in pairs of one label */
                if (ds->cols[lc].num[b.idx[o + i]] != ds->cols[lc].num[b.idx[o + i + 1]]) bad++;
                if (ds->cols[lc].num[b.idx[o + i]] != l0) two_labels = 1;
            }
            if (!two_labels) bad++;
            for (size_t i = 0; i < n; i++) {
                if (seen[b.idx[o + i]]) bad++;
                seen[b.idx[o + i]] = 1;
                rows++;
            }
        }
        CHECK(bad == 0, "GROUP_BY_LABEL over %zu rows: %zu violations (pairs of one label, >= 2 labels, even sizes, "
                        "each row once)", N, bad);
        CHECK(rows > N * 9 / 10, "GROUP_BY_LABEL used %zu of %zu rows", rows, N);
        if (epoch == 0) first_batch0 = b.idx[0];
        else CHECK(b.idx[0] != first_batch0 || b.idx[1] != b.idx[1] + 0, "epochs differ");
        sbert_batches_free(&b);
    }
    free(seen);
    /* errors */
    CHECK(sbert_sampler_len_for(ds, SBERT_SAMPLER_GROUP_BY_LABEL, 7, 0, &n_adv) == SBERT_ERR_INVALID_ARG &&
              strstr(sbert_last_error(), "even"),
          "odd batch size refused: %s", sbert_last_error());
    sbert_dataset_free(ds);
    const char *q = tmp_file("nolabel.jsonl");
    write_text(q, "{\"text\": \"a\"}\n{\"text\": \"b\"}\n");
    CHECK_OK(sbert_dataset_load(q, &ds));
    CHECK(sbert_sampler_len_for(ds, SBERT_SAMPLER_GROUP_BY_LABEL, 8, 0, &n_adv) == SBERT_ERR_INVALID_ARG &&
              strstr(sbert_last_error(), "nolabel.jsonl") && strstr(sbert_last_error(), "no label column") &&
              strstr(sbert_last_error(), "text"),
          "GROUP_BY_LABEL without labels: %s", sbert_last_error());
    sbert_dataset_free(ds);
    sbert_sampler_type ty;
    CHECK_OK(sbert_sampler_parse("BatchSamplers.GROUP_BY_LABEL", &ty));
    CHECK(ty == SBERT_SAMPLER_GROUP_BY_LABEL, "BatchSamplers.GROUP_BY_LABEL parses");
    CHECK(sbert_sampler_parse("GROUPED", &ty) == SBERT_ERR_INVALID_ARG && strstr(sbert_last_error(), "GROUP_BY_LABEL"),
          "an unknown sampler lists the choices");
}

static void test_no_duplicates_hashed(void) {
    const char *p = tmp_file("dups.jsonl");
    const size_t N = 100000;
    write_rows(p, N, 5000, 3); /* every text 20 times */
    sbert_dataset *ds = NULL;
    CHECK_OK(sbert_dataset_load(p, &ds));
    if (!ds) return;
    sbert_batches b;
    CHECK_OK(sbert_sampler_epoch(ds, SBERT_SAMPLER_NO_DUPLICATES_HASHED, 64, 0, 3, 0, &b));
    size_t clashes = 0, rows = 0;
    for (size_t k = 0; k < b.n_batches; k++) {
        size_t o = b.offsets[k], n = b.offsets[k + 1] - o;
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++) {
                const char *a1 = ds->cols[0].text[b.idx[o + i]], *a2 = ds->cols[1].text[b.idx[o + i]];
                const char *b1 = ds->cols[0].text[b.idx[o + j]], *b2 = ds->cols[1].text[b.idx[o + j]];
                if (!strcmp(a1, b1) || !strcmp(a2, b2) || !strcmp(a1, b2) || !strcmp(a2, b1)) clashes++;
            }
        rows += n;
    }
    CHECK(clashes == 0, "NO_DUPLICATES_HASHED: %zu pairs of equal texts in one batch", clashes);
    CHECK(b.n_batches >= N / 64, "NO_DUPLICATES_HASHED: %zu batches, %zu rows", b.n_batches, rows);
    printf("samplers: GROUP_BY_LABEL and NO_DUPLICATES_HASHED over 100k rows: no violation (%zu batches)\n",
           b.n_batches);
    sbert_batches_free(&b);
    sbert_dataset_free(ds);
}

static void test_multi_dataset_plan(void) {
    const char *pa = tmp_file("a.jsonl"), *pb = tmp_file("b.jsonl");
    write_rows(pa, 70000, 70000, 5);
    write_rows(pb, 30001, 30001, 5);
    sbert_train_args a;
    memset(&a, 0, sizeof a);
    a.batch_size = 16;
    a.batch_sampler = "BATCH_SAMPLER";
    a.seed = 3;
    sbert_trainer t;
    memset(&t, 0, sizeof t);
    t.a = &a;
    sbert_train_set sets[2];
    memset(sets, 0, sizeof sets);
    CHECK_OK(sbert_dataset_load(pa, &sets[0].ds));
    CHECK_OK(sbert_dataset_load(pb, &sets[1].ds));
    if (!sets[0].ds || !sets[1].ds) return;
    for (int i = 0; i < 2; i++) sets[i].n_batches = sbert_sampler_len(sets[i].ds->n_rows, 16, 0);
    t.sets = sets;
    t.n_sets = 2;
    for (int rr = 0; rr < 2; rr++) {
        t.multi_round_robin = rr;
        sbert_epoch_plan plan;
        CHECK_OK(sbert_train_epoch_plan(&t, 0, &plan));
        size_t want = rr ? 2 * sets[1].n_batches : sets[0].n_batches + sets[1].n_batches;
        CHECK(plan.b.n_batches == want && sbert_train_batches_per_epoch(&t) == want,
              "%s: %zu batches, want %zu", rr ? "ROUND_ROBIN" : "PROPORTIONAL", plan.b.n_batches, want);
        size_t count[2] = {0, 0}, switches = 0, bad = 0;
        unsigned char *seen[2] = {calloc(70000, 1), calloc(30001, 1)};
        for (size_t k = 0; k < plan.b.n_batches; k++) {
            size_t s = plan.set[k];
            count[s]++;
            if (k && plan.set[k] != plan.set[k - 1]) switches++;
            if (rr && s != k % 2) bad++;
            for (size_t i = plan.b.offsets[k]; i < plan.b.offsets[k + 1]; i++) {
                if (plan.b.idx[i] >= sets[s].ds->n_rows || seen[s][plan.b.idx[i]]) bad++;
                else seen[s][plan.b.idx[i]] = 1;
            }
        }
        CHECK(bad == 0, "%s: %zu violations (rows from their own dataset, once; turns in order)",
              rr ? "ROUND_ROBIN" : "PROPORTIONAL", bad);
        if (!rr)
            CHECK(count[0] == sets[0].n_batches && count[1] == sets[1].n_batches && switches > plan.b.n_batches / 4,
                  "PROPORTIONAL uses every batch once and mixes the sets (%zu, %zu, %zu switches)", count[0],
                  count[1], switches);
        else
            CHECK(count[0] == count[1] && count[1] == sets[1].n_batches, "ROUND_ROBIN stops with the smaller set");
        free(seen[0]);
        free(seen[1]);
        sbert_epoch_plan_free(&plan);
    }
    printf("multi-dataset: PROPORTIONAL and ROUND_ROBIN over 100k rows in 2 datasets: no violation\n");
    sbert_dataset_free(sets[0].ds);
    sbert_dataset_free(sets[1].ds);
}

static void test_list_labels(void) {
    const char *p = tmp_file("teacher.jsonl");
    write_text(p, "{\"text\": \"a\", \"label\": [0.5, -1, 2]}\n{\"text\": \"b\", \"label\": [1, 2, 3]}\n");
    sbert_dataset *ds = NULL;
    CHECK_OK(sbert_dataset_load(p, &ds));
    if (ds) {
        int lc = sbert_dataset_label_column(ds);
        CHECK(lc >= 0 && ds->cols[lc].kind == SBERT_COL_NUMBER_LIST && sbert_column_width(&ds->cols[lc], ds->n_rows) == 3 &&
                  ds->cols[lc].nums[1] == -1 && ds->cols[lc].nums[5] == 3,
              "a JSONL list label is read as 3 numbers a row");
        sbert_dataset_free(ds);
    }
    const char *c = tmp_file("teacher.csv");
    write_text(c, "text,scores\na,\"[1, 2]\"\nb,\"[3, 4.5]\"\n");
    CHECK_OK(sbert_dataset_load(c, &ds));
    if (ds) {
        int lc = sbert_dataset_label_column(ds);
        CHECK(lc >= 0 && ds->cols[lc].kind == SBERT_COL_NUMBER_LIST && sbert_column_width(&ds->cols[lc], ds->n_rows) == 2 &&
                  ds->cols[lc].nums[3] == 4.5,
              "a CSV list label");
        sbert_dataset_free(ds);
    }
    /* ragged lists load (CrossEncoder listwise labels); their width is 0 and
     * a SentenceTransformer run refuses them (test_bienc_train) */
    write_text(p, "{\"text\": \"a\", \"label\": [1, 2]}\n{\"text\": \"b\", \"label\": [1]}\n");
    CHECK_OK(sbert_dataset_load(p, &ds));
    if (ds) {
        int lc = sbert_dataset_label_column(ds);
        CHECK(lc >= 0 && sbert_column_width(&ds->cols[lc], ds->n_rows) == 0, "ragged lists have no common width");
        sbert_dataset_free(ds);
    }
    write_text(p, "{\"query\": \"a\", \"docs\": [\"x\", \"y\"]}\n");
    CHECK_OK(sbert_dataset_load(p, &ds));
    if (ds) {
        CHECK(sbert_dataset_check_inputs(ds) == SBERT_ERR_FORMAT && strstr(sbert_last_error(), "'docs'") &&
                  strstr(sbert_last_error(), "lists of texts"),
              "a list of texts as an input: %s", sbert_last_error());
        sbert_dataset_free(ds);
    }
    write_text(p, "{\"query\": \"a\", \"label\": [[1], [2]]}\n");
    CHECK(sbert_dataset_load(p, &ds) == SBERT_ERR_FORMAT && strstr(sbert_last_error(), "'label'") &&
              strstr(sbert_last_error(), "not a number"),
          "a nested list: %s", sbert_last_error());
    write_text(p, "{\"query\": \"a\", \"x\": [1, 2]}\n");
    CHECK_OK(sbert_dataset_load(p, &ds));
    if (ds) {
        CHECK(sbert_dataset_check_inputs(ds) == SBERT_ERR_FORMAT && strstr(sbert_last_error(), "'x'") &&
                  strstr(sbert_last_error(), "lists"),
              "a list column that is not the label is not an input: %s", sbert_last_error());
        sbert_dataset_free(ds);
    }
}

static void test_flow_map(void) {
    sbert_flow_map *m = NULL;
    CHECK_OK(sbert_flow_parse("{all-nli: data/a.jsonl, 'st sb': \"x, y\", nested: {anchor: \"query: \", p: ''}, "
                              "cols: [a, b]}",
                              "r:1", &m));
    if (m) {
        CHECK(m->n == 4 && !strcmp(m->keys[1], "st sb") && !strcmp(m->values[1], "x, y") && m->sub[2] &&
                  !strcmp(m->sub[2]->values[0], "query: ") && !strcmp(m->sub[2]->values[1], "") &&
                  !strcmp(m->values[3], "[a, b]"),
              "flow mapping read");
        sbert_flow_free(m);
    }
    CHECK(sbert_flow_parse("{a: 1, a: 2}", "r:2", &m) == SBERT_ERR_FORMAT && strstr(sbert_last_error(), "twice"),
          "a key twice: %s", sbert_last_error());
    CHECK(sbert_flow_parse("{a: \"x}", "r:3", &m) == SBERT_ERR_FORMAT && strstr(sbert_last_error(), "r:3"),
          "unterminated quote: %s", sbert_last_error());
    CHECK(sbert_flow_parse("{a b}", "r:4", &m) == SBERT_ERR_FORMAT, "no colon");
}

/* Two datasets hold the same cells. */
static int same_data(const sbert_dataset *a, const sbert_dataset *b) {
    if (a->n_rows != b->n_rows || a->n_cols != b->n_cols) return 0;
    for (size_t c = 0; c < a->n_cols; c++) {
        const sbert_column *x = &a->cols[c], *y = &b->cols[c];
        if (strcmp(x->name, y->name) || x->kind != y->kind ||
            sbert_column_width(x, a->n_rows) != sbert_column_width(y, b->n_rows))
            return 0;
        for (size_t r = 0; r < a->n_rows; r++) {
            if (x->kind == SBERT_COL_TEXT && strcmp(x->text[r], y->text[r])) return 0;
            if (x->kind == SBERT_COL_NUMBER && x->num[r] != y->num[r]) return 0;
            for (size_t k = 0; x->kind == SBERT_COL_NUMBER_LIST && k < sbert_column_width(x, a->n_rows); k++)
                if (x->nums[x->off[r] + k] != y->nums[y->off[r] + k]) return 0;
        }
    }
    return 1;
}

static void test_parquet(void) {
    sbert_dataset *pq = NULL, *jl = NULL;
    const char *sp = test_path("tests/data/bienc/parquet/scored.parquet");
    if (!sbert_pq_available()) {
        CHECK(sbert_dataset_load(sp, &pq) == SBERT_ERR_FORMAT && strstr(sbert_last_error(), "scored.parquet") &&
                  strstr(sbert_last_error(), "pyarrow"),
              "a build without the Parquet reader says how to get it: %s", sbert_last_error());
        test_skip("Parquet reader not built (configure with -DSBERT_PYTHON=<python with pyarrow>)");
        return;
    }
    static const char *const pairs[][2] = {{"scored.parquet", "scored.jsonl"}, {"teacher.parquet", "teacher.jsonl"}};
    for (int i = 0; i < 2; i++) {
        char a[600], b[600];
        snprintf(a, sizeof a, "tests/data/bienc/parquet/%s", pairs[i][0]);
        snprintf(b, sizeof b, "tests/data/bienc/parquet/%s", pairs[i][1]);
        CHECK_OK(sbert_dataset_load(test_path(a), &pq));
        CHECK_OK(sbert_dataset_load(test_path(b), &jl));
        CHECK(pq && jl && same_data(pq, jl), "%s holds what %s holds", pairs[i][0], pairs[i][1]);
        if (i == 1 && pq) {
            int lc = sbert_dataset_label_column(pq);
            CHECK(lc >= 0 && pq->cols[lc].kind == SBERT_COL_NUMBER_LIST && sbert_column_width(&pq->cols[lc], pq->n_rows) == 4, "a list label from Parquet");
        }
        sbert_dataset_free(pq);
        sbert_dataset_free(jl);
        pq = jl = NULL;
    }
    CHECK_OK(sbert_dataset_load(test_path("tests/data/bienc/parquet/ints.parquet"), &pq));
    CHECK(pq && pq->cols[1].kind == SBERT_COL_NUMBER && pq->cols[1].num[1] == 2, "integer labels");
    sbert_dataset_free(pq);
    static const char *const bad[][3] = {
        {"bad_struct.parquet", "'meta'", "struct"},
        {"bad_listtext.parquet", "'docs'", "list of texts"},
        {"bad_null.parquet", "'text'", "row 2"},
    };
    for (int i = 0; i < 3; i++) {
        char p[600];
        snprintf(p, sizeof p, "tests/data/bienc/parquet/%s", bad[i][0]);
        pq = NULL;
        CHECK(sbert_dataset_load(test_path(p), &pq) == SBERT_ERR_FORMAT && strstr(sbert_last_error(), bad[i][0]) &&
                  strstr(sbert_last_error(), bad[i][1]) && strstr(sbert_last_error(), bad[i][2]),
              "%s refused naming the file, column and problem: %s", bad[i][0], sbert_last_error());
    }
    printf("parquet: Apache Arrow's reader gives the same rows as JSONL; bad types refused\n");
}

/* ------------------------------------------------------------ end to end */

static sbert_status train(const char *const *extra, size_t n_extra, sbert_train_summary *s) {
    static char model[512], out[512], logdir[512];
    snprintf(model, sizeof model, "%s", test_path("tests/data/models/tiny-bert"));
    snprintf(out, sizeof out, "%s/out", g_tmp);
    snprintf(logdir, sizeof logdir, "%s/logs", g_tmp);
    const char *base[] = {"--model", model, "--eval_data", test_path("data/stsb-dev.jsonl"), "--evaluator_name",
                          "sts-dev", "--max_train_samples", "48", "--max_eval_samples", "24",
                          "--per_device_train_batch_size", "8", "--max_steps", "4", "--save_strategy", "no",
                          "--logging_steps", "1", "--eval_strategy", "steps", "--eval_steps", "2", "--output_dir",
                          out, "--run_name", "bienc", "--seed", "3"};
    const char *args[64];
    size_t n = 0;
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++) args[n++] = base[i];
    for (size_t i = 0; i < n_extra; i++) args[n++] = extra[i];
    return sbert_train(NULL, args, n, logdir, s);
}

static void expect_fail(const char *what, const char *const *extra, size_t n, const char *n1, const char *n2) {
    sbert_train_summary s;
    sbert_status st = train(extra, n, &s);
    CHECK(st != SBERT_OK && strstr(sbert_last_error(), n1) && (!n2 || strstr(sbert_last_error(), n2)),
          "%s: expected an error with '%s'%s%s, got %s: %s", what, n1, n2 ? " and " : "", n2 ? n2 : "",
          sbert_status_name(st), sbert_last_error());
}

static void test_end_to_end(void) {
    if (!TEST_REQUIRE_FILE(test_path("tests/data/models/tiny-bert/model.safetensors"), "it is committed")) return;
    static char td[2048], ed[2048];
    snprintf(td, sizeof td, "{all-nli: %s, stsb: %s}", test_path("data/allnli-triplets.jsonl"),
             test_path("data/stsb-train.jsonl"));
    snprintf(ed, sizeof ed, "{all-nli: %s, stsb: %s}", test_path("data/snli-triplets-dev.jsonl"),
             test_path("data/stsb-dev.jsonl"));
    const char *ok[] = {"--train_data", td, "--loss", "{all-nli: MultipleNegativesRankingLoss, stsb: CoSENTLoss}",
                        "--eval_dataset", ed, "--prompts",
                        "{all-nli: {anchor: 'query: ', positive: 'passage: '}, stsb: ''}",
                        "--multi_dataset_batch_sampler", "ROUND_ROBIN", "--batch_sampler", "NO_DUPLICATES"};
    sbert_train_summary s;
    sbert_status st = train(ok, sizeof ok / sizeof ok[0], &s);
    CHECK(st == SBERT_OK, "multi-dataset run: %s", sbert_last_error());
    char p[700];
    snprintf(p, sizeof p, "%s/logs/bienc.log", g_tmp);
    char *log = test_read_file(p, NULL);
    CHECK(log && strstr(log, "'eval_all-nli_loss': ") && strstr(log, "'eval_stsb_loss': ") &&
              strstr(log, "multi_dataset_batch_sampler ROUND_ROBIN") && strstr(log, "loss CoSENTLoss"),
          "the log has both eval losses and the sampler");
    free(log);
    snprintf(p, sizeof p, "%s/out/final/config_sentence_transformers.json", g_tmp);
    char *cfg = test_read_file(p, NULL);
    CHECK(cfg && strstr(cfg, "\"anchor\":\t\"query: \"") && strstr(cfg, "\"query\":\t\"query: \"") &&
              strstr(cfg, "\"document\":\t\"passage: \""),
          "the prompts are saved with the model: %s", cfg ? cfg : "(missing)");
    free(cfg);

    /* the key rules, before the baseline */
    const char *bad_loss[] = {"--train_data", td, "--loss", "{all-nli: MultipleNegativesRankingLoss, sts: CoSENTLoss}"};
    expect_fail("loss names differ", bad_loss, 4, "dataset 'stsb'", "no loss");
    static char td2[2048];
    snprintf(td2, sizeof td2, "{all-nli: %s, snli: %s}", test_path("data/allnli-triplets.jsonl"),
             test_path("data/snli-triplets-train.jsonl"));
    const char *bad_eval[] = {"--train_data", td2, "--loss", "MultipleNegativesRankingLoss", "--eval_dataset",
                              "{all-nli: x.jsonl, sts: y.jsonl}"};
    expect_fail("eval names differ", bad_eval, 6, "'sts'", "must match");
    const char *bad_cols[] = {"--train_data", td, "--loss", "CoSENTLoss"};
    expect_fail("a loss whose columns a dataset lacks", bad_cols, 4, "allnli-triplets.jsonl (dataset all-nli)",
                "CoSENTLoss expects 2");
    const char *bad_gbl2[] = {"--train_data", test_path("data/allnli-triplets.jsonl"), "--loss",
                              "MultipleNegativesRankingLoss", "--batch_sampler", "GROUP_BY_LABEL"};
    expect_fail("GROUP_BY_LABEL without labels", bad_gbl2, 6, "no label column", "allnli-triplets.jsonl");
    const char *bad_prompt[] = {"--train_data", td, "--loss", "{all-nli: MultipleNegativesRankingLoss, stsb: CoSENTLoss}",
                                "--prompts", "{all-nli: {query: 'q: '}}"};
    expect_fail("a prompt for a column that does not exist", bad_prompt, 6, "column 'query'", "dataset 'all-nli'");
    const char *bad_prompt2[] = {"--train_data", test_path("data/stsb-train.jsonl"), "--prompts", "{text: 'q: '}"};
    expect_fail("a prompt for a column (single dataset)", bad_prompt2, 4, "'text'", "stsb-train.jsonl");
    const char *bad_guide[] = {"--train_data", test_path("data/allnli-triplets.jsonl"), "--loss", "GISTEmbedLoss"};
    expect_fail("GIST without a guide", bad_guide, 4, "guide_model", NULL);
    const char *bad_teacher[] = {"--train_data", test_path("data/stsb-train.jsonl"), "--loss", "MSELoss"};
    expect_fail("MSELoss with a scalar label", bad_teacher, 4, "teacher embedding", "stsb-train.jsonl");
}

static int same_file(const char *a, const char *b) {
    size_t la = 0, lb = 0;
    char *x = test_read_file(a, &la), *y = test_read_file(b, &lb);
    int same = x && y && la == lb && !memcmp(x, y, la);
    free(x);
    free(y);
    return same;
}

/* A run resumed from a checkpoint ends where an uninterrupted one does, with
 * the loss's own parameters (SoftmaxLoss's classifier; the ContrastiveTension
 * copy and logit_scale) saved and restored. */
static void test_resume_with_loss_state(const char *loss, const char *data, const char *file) {
    if (!TEST_REQUIRE_FILE(test_path(data), "run tools/make_bienc_data.py")) return;
    char out1[512], out2[512], ck[600];
    snprintf(out1, sizeof out1, "%s/r1", g_tmp);
    snprintf(out2, sizeof out2, "%s/r2", g_tmp);
    snprintf(ck, sizeof ck, "%s/checkpoint-2", out1);
    const char *a1[] = {"--train_data", test_path(data), "--loss", loss, "--save_strategy", "steps", "--save_steps", "2",
                        "--output_dir", out1};
    sbert_train_summary s;
    /* base args: max_steps 4, eval every 2 */
    sbert_status st = train(a1, 10, &s);
    CHECK(st == SBERT_OK, "%s: run: %s", loss, sbert_last_error());
    char p1[700], p2[700], ls[700];
    snprintf(ls, sizeof ls, "%s/%s", ck, file);
    CHECK(access(ls, F_OK) == 0, "%s: the checkpoint holds %s", loss, file);
    const char *a2[] = {"--train_data", test_path(data), "--loss", loss, "--save_strategy", "no", "--output_dir", out2,
                        "--resume_from_checkpoint", ck};
    st = train(a2, 10, &s);
    CHECK(st == SBERT_OK, "%s: resumed run: %s", loss, sbert_last_error());
    snprintf(p1, sizeof p1, "%s/final/model.safetensors", out1);
    snprintf(p2, sizeof p2, "%s/final/model.safetensors", out2);
    CHECK(same_file(p1, p2), "%s: the resumed run ends with the same weights", loss);
    /* and a run whose checkpoint lost the loss state cannot resume */
    unlink(ls);
    char out3[512];
    snprintf(out3, sizeof out3, "%s/r3", g_tmp);
    const char *a3[] = {"--train_data", test_path(data), "--loss", loss, "--save_strategy", "no", "--output_dir", out3,
                        "--resume_from_checkpoint", ck};
    st = train(a3, 10, &s);
    CHECK(st != SBERT_OK && strstr(sbert_last_error(), file), "%s: a checkpoint without %s is refused: %s", loss, file,
          sbert_last_error());
}

int main(void) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/sbert_bienc_data_XXXXXX");
    if (!mkdtemp(g_tmp)) {
        perror("mkdtemp");
        return 1;
    }
    test_flow_map();
    test_list_labels();
    test_parquet();
    test_group_by_label();
    test_no_duplicates_hashed();
    test_multi_dataset_plan();
    test_end_to_end();
    test_resume_with_loss_state("SoftmaxLoss", "data/snli-nli-train.jsonl", "loss_state.safetensors");
    test_resume_with_loss_state("ContrastiveTensionLossInBatchNegatives", "data/snli-sentences.jsonl",
                                "loss_model_copy.safetensors");
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_tmp);
    return test_summary();
}
