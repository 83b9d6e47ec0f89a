/*
 * tests/test_model_card.c -- the README.md of a trained model
 * (src/training/model_card.c) against the card sentence-transformers 6
 * writes (tests/data/model_card/st_card.json, tools/gen_model_card_refs.py):
 *
 *   front matter  the README is "---\n" YAML "\n---\n" markdown; the YAML
 *                 (read by this test's block-YAML reader) has only
 *                 sentence-transformers' keys, in its order; tags with
 *                 dataset_size:N and loss:Name; pipeline_tag, library_name;
 *                 datasets (the data files); metrics and a model-index whose
 *                 values equal the final evaluation in trainer_state.json;
 *   base_model    an id only where one is known: a model id found in the
 *                 Hugging Face cache, or a folder inside that cache's layout
 *                 (with the snapshot's commit); none for a local folder or a
 *                 new StaticEmbedding;
 *   body          sentence-transformers' headings in its order; the usage
 *                 snippets (Python, sbert; encode_query for query columns);
 *                 the evaluation table with the baseline; hyperparameters;
 *                 the training logs; training_curves.svg beside the card,
 *                 well-formed and referenced; versions that are true (sbert's,
 *                 no PyTorch or Transformers version).
 */
#define _XOPEN_SOURCE 700
#include <ctype.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "io/dirs.h"
#include "test_util.h"
#include "xml_check.h"

static char g_tmp[256];

/* ------------------------------------------ a block-YAML reader (subset) */

/* What PyYAML's block style and sbert write: mappings "key: value" / "key:"
 * + an indented (or, for a sequence, same-indent) block, sequences "- item"
 * (an item may open a mapping), plain, 'single' and "double" quoted scalars.
 * The tree is built from cJSON nodes (objects keep key order). */
typedef struct {
    int indent;
    char *text; /* the line without indentation */
} yline;

static char *yaml_scalar(const char *s) {
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) n--;
    char *out = malloc(n + 1), *o = out;
    if (!out) return NULL;
    if (n >= 2 && s[0] == '\'' && s[n - 1] == '\'') {
        for (size_t i = 1; i + 1 < n; i++) {
            *o++ = s[i];
            if (s[i] == '\'' && s[i + 1] == '\'') i++;
        }
    } else if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        for (size_t i = 1; i + 1 < n; i++) {
            if (s[i] == '\\' && i + 2 < n) {
                i++;
                *o++ = s[i] == 'n' ? '\n' : s[i];
            } else {
                *o++ = s[i];
            }
        }
    } else {
        memcpy(o, s, n);
        o += n;
    }
    *o = '\0';
    return out;
}

/* "key: value" or "key:" -> key length, *value at the value ("" when none); 0 when not a key line. */
static size_t yaml_key(const char *s, const char **value) {
    if (*s == '\'' || *s == '"' || *s == '-') return 0;
    for (const char *p = s; *p; p++) {
        if (*p == ':' && (p[1] == ' ' || p[1] == '\0')) {
            *value = p[1] ? p + 2 : p + 1;
            return (size_t)(p - s);
        }
        if (*p == ' ' && p[1] == '#') return 0;
    }
    return 0;
}

static cJSON *yaml_block(yline *l, size_t n, size_t *i, int indent);

static cJSON *yaml_value(yline *l, size_t n, size_t *i, int indent, const char *inline_value) {
    if (*inline_value) {
        char *s = yaml_scalar(inline_value);
        cJSON *v = cJSON_CreateString(s ? s : "");
        free(s);
        return v;
    }
    if (*i < n && (l[*i].indent > indent || (l[*i].indent == indent && l[*i].text[0] == '-')))
        return yaml_block(l, n, i, l[*i].indent);
    return cJSON_CreateNull();
}

static cJSON *yaml_block(yline *l, size_t n, size_t *i, int indent) {
    if (*i >= n) return cJSON_CreateNull();
    if (l[*i].text[0] == '-' && (l[*i].text[1] == ' ' || !l[*i].text[1])) {
        cJSON *seq = cJSON_CreateArray();
        while (*i < n && l[*i].indent == indent && l[*i].text[0] == '-') {
            const char *item = l[*i].text[1] ? l[*i].text + 2 : "";
            const char *v;
            if (yaml_key(item, &v)) {
                /* "- key: value" opens a mapping two columns in */
                l[*i].indent = indent + 2;
                l[*i].text = (char *)item;
                cJSON_AddItemToArray(seq, yaml_block(l, n, i, indent + 2));
            } else {
                (*i)++;
                cJSON_AddItemToArray(seq, yaml_value(l, n, i, indent, item));
            }
        }
        return seq;
    }
    cJSON *map = cJSON_CreateObject();
    while (*i < n && l[*i].indent == indent) {
        const char *v;
        size_t kl = yaml_key(l[*i].text, &v);
        if (!kl) break;
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)kl, l[*i].text);
        (*i)++;
        cJSON_AddItemToObject(map, key, yaml_value(l, n, i, indent, v));
    }
    return map;
}

/* Parse the front matter text; NULL when a line is left over (not the subset). */
static cJSON *yaml_parse(char *text) {
    yline lines[2048];
    size_t n = 0;
    for (char *save = NULL, *s = strtok_r(text, "\n", &save); s && n < 2048; s = strtok_r(NULL, "\n", &save)) {
        int ind = 0;
        while (s[ind] == ' ') ind++;
        if (!s[ind] || s[ind] == '#') continue;
        lines[n++] = (yline){ind, s + ind};
    }
    size_t i = 0;
    cJSON *root = yaml_block(lines, n, &i, 0);
    if (i != n) {
        fprintf(stderr, "yaml: line %zu not read: %s\n", i, i < n ? lines[i].text : "");
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

/* ------------------------------------------------------------- the card */

typedef struct {
    char *text;    /* the whole README */
    char *yaml;    /* a copy of the front matter */
    const char *body;
    cJSON *meta;
} card;

static int card_load(const char *final_dir, card *c) {
    memset(c, 0, sizeof *c);
    char path[700];
    snprintf(path, sizeof path, "%s/README.md", final_dir);
    c->text = test_read_file(path, NULL);
    CHECK(c->text && !strncmp(c->text, "---\n", 4), "%s starts with a YAML front matter", path);
    if (!c->text || strncmp(c->text, "---\n", 4)) return 0;
    const char *end = strstr(c->text + 4, "\n---\n");
    CHECK(end != NULL, "the front matter ends with ---");
    if (!end) return 0;
    c->yaml = strndup(c->text + 4, (size_t)(end - c->text - 4) + 1);
    c->body = end + 5;
    char *copy = strdup(c->yaml);
    c->meta = copy ? yaml_parse(copy) : NULL;
    free(copy);
    CHECK(cJSON_IsObject(c->meta), "the front matter is a YAML mapping");
    return cJSON_IsObject(c->meta);
}

static void card_free(card *c) {
    free(c->text);
    free(c->yaml);
    cJSON_Delete(c->meta);
}

static const char *sv(const cJSON *v) {
    const char *s = cJSON_GetStringValue(v);
    return s ? s : "";
}

static int has_string(const cJSON *arr, const char *s) {
    for (const cJSON *it = arr ? arr->child : NULL; it; it = it->next)
        if (cJSON_IsString(it) && !strcmp(it->valuestring, s)) return 1;
    return 0;
}

static cJSON *st_ref(void) {
    char *t = test_read_file(test_path("tests/data/model_card/st_card.json"), NULL);
    cJSON *j = t ? cJSON_Parse(t) : NULL;
    free(t);
    CHECK(j != NULL, "tests/data/model_card/st_card.json (tools/gen_model_card_refs.py)");
    return j;
}

/* Keys only from sentence-transformers' list, in its order. */
static void check_key_order(const cJSON *meta, const cJSON *ref, const char *what) {
    const cJSON *order = cJSON_GetObjectItem(ref, "yaml_key_order");
    int pos = -1, ok = 1;
    for (const cJSON *k = meta->child; k; k = k->next) {
        int at = -1, i = 0;
        for (const cJSON *o = order ? order->child : NULL; o; o = o->next, i++)
            if (!strcmp(o->valuestring, k->string)) at = i;
        if (at < 0 || at < pos) {
            ok = 0;
            fprintf(stderr, "%s: YAML key '%s' is %s\n", what, k->string, at < 0 ? "not one sentence-transformers writes" : "out of order");
        }
        pos = at > pos ? at : pos;
    }
    CHECK(ok, "%s: YAML keys are sentence-transformers' keys in its order", what);
}

/* Every required heading of sentence-transformers' card, in order, outside code fences. */
static void check_headings(const char *body, const cJSON *ref, const char *what) {
    const cJSON *req = cJSON_GetObjectItem(ref, "required_headings");
    const char *p = body;
    int n = 0;
    for (const cJSON *h = req ? req->child : NULL; h; h = h->next, n++) {
        size_t hl = strlen(h->valuestring);
        const char *found = NULL;
        int fence = 0;
        for (const char *line = p; *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : line + strlen(line)) {
            if (!strncmp(line, "```", 3)) fence = !fence;
            if (!fence && !strncmp(line, h->valuestring, hl) && (line[hl] == '\n' || !line[hl])) {
                found = line;
                break;
            }
        }
        CHECK(found, "%s: heading '%s' (in sentence-transformers' order)", what, h->valuestring);
        if (found) p = found + hl;
    }
    CHECK(n > 10, "%s: %d required headings", what, n);
}

/* The last evaluation in final/trainer_state.json's log_history. */
static cJSON *last_eval(const char *final_dir) {
    char path[700];
    snprintf(path, sizeof path, "%s/trainer_state.json", final_dir);
    char *t = test_read_file(path, NULL);
    cJSON *j = t ? cJSON_Parse(t) : NULL, *out = NULL;
    free(t);
    const cJSON *h = j ? cJSON_GetObjectItem(j, "log_history") : NULL;
    for (const cJSON *e = h ? h->child : NULL; e; e = e->next)
        for (const cJSON *k = e->child; k; k = k->next)
            if (!strncmp(k->string, "eval_", 5) && strcmp(k->string, "eval_loss")) {
                cJSON_Delete(out);
                out = cJSON_Duplicate(e, 1);
                break;
            }
    cJSON_Delete(j);
    return out;
}

static void check_common(const card *c, const char *final_dir, const cJSON *ref, const char *what, size_t rows,
                         const char *loss, const char *train_path) {
    check_key_order(c->meta, ref, what);
    check_headings(c->body, ref, what);
    const cJSON *tags = cJSON_GetObjectItem(c->meta, "tags");
    char want[128];
    static const char *const fixed[] = {"sentence-transformers", "sentence-similarity", "feature-extraction", "dense",
                                        "generated_from_trainer"};
    for (int i = 0; i < 5; i++) CHECK(has_string(tags, fixed[i]), "%s: tag %s", what, fixed[i]);
    snprintf(want, sizeof want, "dataset_size:%zu", rows);
    CHECK(has_string(tags, want), "%s: tag %s", what, want);
    snprintf(want, sizeof want, "loss:%s", loss);
    CHECK(has_string(tags, want), "%s: tag %s", what, want);
    CHECK(!strcmp(sv(cJSON_GetObjectItem(c->meta, "pipeline_tag")), "sentence-similarity"),
          "%s: pipeline_tag", what);
    CHECK(!strcmp(sv(cJSON_GetObjectItem(c->meta, "library_name")), "sentence-transformers"),
          "%s: library_name", what);
    CHECK(has_string(cJSON_GetObjectItem(c->meta, "datasets"), train_path), "%s: datasets lists %s", what, train_path);
    /* model-index: every metric of the final evaluation, with its value. */
    cJSON *ev = last_eval(final_dir);
    const cJSON *mi = cJSON_GetArrayItem(cJSON_GetObjectItem(c->meta, "model-index"), 0);
    const cJSON *res = cJSON_GetArrayItem(cJSON_GetObjectItem(mi, "results"), 0);
    const cJSON *ds = cJSON_GetObjectItem(res, "dataset");
    const char *ds_type = cJSON_GetStringValue(cJSON_GetObjectItem(ds, "type"));
    CHECK(ev && ds_type, "%s: a final evaluation and a model-index entry", what);
    int n = 0, same = 0;
    const cJSON *metrics = cJSON_GetObjectItem(res, "metrics");
    for (const cJSON *m = metrics ? metrics->child : NULL; m && ev && ds_type; m = m->next, n++) {
        char key[256];
        const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(m, "type"));
        const char *value = cJSON_GetStringValue(cJSON_GetObjectItem(m, "value"));
        snprintf(key, sizeof key, "eval_%s_%s", ds_type, type ? type : "");
        const cJSON *v = cJSON_GetObjectItem(ev, key);
        /* trainer_state.json is written by cJSON, whose %.15g may be 1 ulp off the
         * double; the card has the shortest exact repr. */
        same += cJSON_IsNumber(v) && value && fabs(strtod(value, NULL) - v->valuedouble) <= 4e-16 * fabs(v->valuedouble);
        CHECK(has_string(cJSON_GetObjectItem(c->meta, "metrics"), type ? type : ""), "%s: metrics lists %s", what,
              type ? type : "?");
    }
    CHECK(n >= 2 && same == n, "%s: %d of %d model-index values equal the final evaluation", what, same, n);
    cJSON_Delete(ev);
    /* Body pieces. */
    CHECK(strstr(c->body, "```python\nfrom sentence_transformers import SentenceTransformer") &&
              strstr(c->body, "### Direct Usage (sbert)") && strstr(c->body, "sbert similarity --model"),
          "%s: usage in Python and with sbert", what);
    CHECK(strstr(c->body, "# tensor([["), "%s: the usage snippet shows the model's similarity matrix", what);
    CHECK(strstr(c->body, "| Metric") && strstr(c->body, "| Baseline"), "%s: the evaluation table with the baseline",
          what);
    snprintf(want, sizeof want, "* Loss: [<code>%s</code>]", loss);
    CHECK(strstr(c->body, want) != NULL, "%s: the loss", what);
    CHECK(strstr(c->body, "#### All Hyperparameters") && strstr(c->body, "- `learning_rate`: "), "%s: hyperparameters",
          what);
    CHECK(strstr(c->body, "| Epoch") && strstr(c->body, "| Training Loss"), "%s: training logs", what);
    snprintf(want, sizeof want, "- sbert: %s\n", sbert_version());
    CHECK(strstr(c->body, want) != NULL, "%s: sbert's version", what);
    int fake = 0;
    for (const char *p = c->body; (p = strstr(p, "PyTorch: ")); p++) fake |= isdigit((unsigned char)p[9]);
    for (const char *p = c->body; (p = strstr(p, "Transformers: ")); p++) fake |= isdigit((unsigned char)p[14]);
    CHECK(!fake, "%s: no PyTorch or Transformers version claimed", what);
    /* training_curves.svg beside the card */
    char svgp[700], err[256] = "";
    snprintf(svgp, sizeof svgp, "%s/training_curves.svg", final_dir);
    char *svg = test_read_file(svgp, NULL);
    CHECK(svg && xml_well_formed(svg, err, sizeof err) && strstr(svg, "data-series=\"loss\""),
          "%s: training_curves.svg well-formed with the loss curve: %s", what, err);
    free(svg);
    CHECK(strstr(c->body, "![Training curves](training_curves.svg)") != NULL, "%s: the card shows the curves", what);
}

static sbert_status train(const char *out, const char *const *extra, size_t n_extra) {
    const char *base[] = {"--eval_data", test_path("data/stsb-dev.jsonl"), "--evaluator_name", "sts-dev",
                          "--max_eval_samples", "40", "--per_device_train_batch_size", "16", "--max_steps", "4",
                          "--learning_rate", "0.05", "--logging_steps", "1", "--eval_strategy", "steps",
                          "--eval_steps", "2", "--save_steps", "2", "--output_dir", out, "--run_name", "card"};
    const char *args[96];
    size_t n = 0;
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++) args[n++] = base[i];
    for (size_t i = 0; i < n_extra; i++) args[n++] = extra[i];
    char logdir[512];
    snprintf(logdir, sizeof logdir, "%s/logs", g_tmp);
    sbert_train_summary s;
    return sbert_train(NULL, args, n, logdir, &s);
}

static void test_static(const cJSON *ref) {
    char out[512], final_dir[600];
    snprintf(out, sizeof out, "%s/static", g_tmp);
    const char *train_path = test_path("data/stsb-train.jsonl");
    char train_copy[4096], test_copy[4096];
    snprintf(train_copy, sizeof train_copy, "%s", train_path);
    snprintf(test_copy, sizeof test_copy, "%s", test_path("data/stsb-test.jsonl"));
    const char *extra[] = {"--model", "static", "--tokenizer", test_path("data/bert-base-uncased-tokenizer.json"),
                           "--embedding_dim", "16", "--train_data", train_copy, "--loss", "CoSENTLoss",
                           "--max_train_samples", "64", "--load_best_model_at_end", "true", "--test_data", test_copy};
    CHECK_OK(train(out, extra, sizeof extra / sizeof extra[0]));
    snprintf(final_dir, sizeof final_dir, "%s/final", out);
    card c;
    if (card_load(final_dir, &c)) {
        check_common(&c, final_dir, ref, "static", 64, "CoSENTLoss", train_copy);
        CHECK(!cJSON_GetObjectItem(c.meta, "base_model"), "static: no base_model");
        CHECK(strstr(c.body, "# SentenceTransformer\n") && strstr(c.body, "- **Initialization:** StaticEmbedding"),
              "static: title and initialization");
        const cJSON *ref_task = cJSON_GetObjectItem(ref, "model_index_task");
        const cJSON *res = cJSON_GetArrayItem(
            cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(c.meta, "model-index"), 0), "results"), 0);
        char *a = cJSON_PrintUnformatted(cJSON_GetObjectItem(res, "task")), *b = cJSON_PrintUnformatted(ref_task);
        char *d1 = cJSON_PrintUnformatted(cJSON_GetObjectItem(res, "dataset")),
             *d2 = cJSON_PrintUnformatted(cJSON_GetObjectItem(ref, "model_index_dataset"));
        CHECK(a && b && !strcmp(a, b), "static: model-index task %s (sentence-transformers: %s)", a, b);
        CHECK(d1 && d2 && !strcmp(d1, d2), "static: model-index dataset %s (sentence-transformers: %s)", d1, d2);
        free(a), free(b), free(d1), free(d2);
        CHECK(strstr(c.body, "#### Semantic Similarity (test)") != NULL, "static: the test evaluation");
        CHECK(strstr(c.body, "* The bold row denotes the saved checkpoint.") != NULL,
              "static: the best step's row is bold (load_best_model_at_end)");
        CHECK(strstr(c.body, "- `load_best_model_at_end`: True") && strstr(c.body, "- `max_steps`: 4"),
              "static: non-default hyperparameters");
        CHECK(strstr(c.body, "* Size: 64 training samples") && strstr(c.body, "<code>sentence1</code>, <code>sentence2</code>, and <code>score</code>"),
              "static: training dataset size and columns");
        CHECK(strstr(c.body, "\"scale\": 20.0") != NULL, "static: the loss parameters");
    }
    card_free(&c);
}

/* The model from the Hugging Face cache (tests/data/hf_cache): by id, and by a path inside the cache. */
static void test_hf_id(const cJSON *ref) {
    char cache[4096], snap[4400];
    snprintf(cache, sizeof cache, "%s", test_path("tests/data/hf_cache/hub"));
    const char *main_commit = "53b19b1ae4d5303f0952c941772122516df0f151";
    snprintf(snap, sizeof snap, "%s/models--sbert-tests--micro-bert/snapshots/%s", cache, main_commit);
    if (!TEST_REQUIRE_FILE(snap, "tests/data/hf_cache (tools/gen_hf_cache_refs.py)")) return;
    setenv("HF_HUB_CACHE", cache, 1);
    char triplets[4096];
    snprintf(triplets, sizeof triplets, "%s", test_path("data/allnli-triplets.jsonl"));
    for (int by_path = 0; by_path < 2; by_path++) {
        char out[512], final_dir[600];
        snprintf(out, sizeof out, "%s/hf%d", g_tmp, by_path);
        const char *extra[] = {"--model", by_path ? snap : "sbert-tests/micro-bert", "--train_data", triplets,
                               "--rename_columns", "anchor:query", "--loss", "MultipleNegativesRankingLoss",
                               "--max_train_samples", "32"};
        CHECK_OK(train(out, extra, sizeof extra / sizeof extra[0]));
        snprintf(final_dir, sizeof final_dir, "%s/final", out);
        card c;
        const char *what = by_path ? "a folder in the cache" : "a model id";
        if (card_load(final_dir, &c)) {
            check_common(&c, final_dir, ref, what, 32, "MultipleNegativesRankingLoss", triplets);
            CHECK(!strcmp(sv(cJSON_GetObjectItem(c.meta, "base_model")), "sbert-tests/micro-bert"),
                  "%s: base_model is the id", what);
            char want[256];
            snprintf(want, sizeof want, "- **Base model:** [sbert-tests/micro-bert](https://huggingface.co/sbert-tests/micro-bert) <!-- at revision %s -->",
                     main_commit);
            CHECK(strstr(c.body, want) != NULL, "%s: base model with its revision", what);
            CHECK(strstr(c.body, "# SentenceTransformer based on sbert-tests/micro-bert\n") &&
                      strstr(c.yaml, "- name: SentenceTransformer based on sbert-tests/micro-bert"),
                  "%s: model name", what);
            CHECK(strstr(c.body, "(0): Transformer({") && strstr(c.body, "Pooling({"), "%s: the architecture", what);
            CHECK(strstr(c.body, "model.encode_query(queries)") && strstr(c.body, "--input queries.txt"),
                  "%s: a query column gives the retrieval usage snippet", what);
        }
        card_free(&c);
    }
    unsetenv("HF_HUB_CACHE");
}

/* A plain local folder is not an id. */
static void test_local_path(const cJSON *ref) {
    char model[4096], out[512], final_dir[600], data[4096];
    snprintf(model, sizeof model, "%s", test_path("tests/data/models/tiny-bert"));
    snprintf(data, sizeof data, "%s", test_path("data/stsb-train.jsonl"));
    snprintf(out, sizeof out, "%s/local", g_tmp);
    const char *extra[] = {"--model", model, "--train_data", data, "--loss", "CoSENTLoss", "--max_train_samples", "32"};
    CHECK_OK(train(out, extra, sizeof extra / sizeof extra[0]));
    snprintf(final_dir, sizeof final_dir, "%s/final", out);
    card c;
    if (card_load(final_dir, &c)) {
        check_common(&c, final_dir, ref, "local folder", 32, "CoSENTLoss", data);
        CHECK(!cJSON_GetObjectItem(c.meta, "base_model"), "local folder: no base_model");
        char want[4200];
        snprintf(want, sizeof want, "- **Started from:** `%s`", model);
        CHECK(strstr(c.body, want) != NULL, "local folder: named in the text");
    }
    card_free(&c);
}

static void test_yaml_reader(void) {
    char text[] = "a: 1\nb:\n- x\n- 'it''s'\nc:\n  d: \"q\"\n  e:\n  - f: 2\n    g: h\n";
    cJSON *y = yaml_parse(text);
    char *s = y ? cJSON_PrintUnformatted(y) : NULL;
    CHECK(s && !strcmp(s, "{\"a\":\"1\",\"b\":[\"x\",\"it's\"],\"c\":{\"d\":\"q\",\"e\":[{\"f\":\"2\",\"g\":\"h\"}]}}"),
          "the test's YAML reader: %s", s ? s : "(null)");
    free(s);
    cJSON_Delete(y);
    char bad[] = "a: 1\n  b: 2\n";
    y = yaml_parse(bad);
    CHECK(y == NULL, "the test's YAML reader refuses what it does not read");
    cJSON_Delete(y);
}

int main(void) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/sbert_test_card_XXXXXX");
    if (!mkdtemp(g_tmp)) {
        perror("mkdtemp");
        return 1;
    }
    test_yaml_reader();
    cJSON *ref = st_ref();
    if (ref) {
        test_static(ref);
        test_hf_id(ref);
        test_local_path(ref);
    }
    cJSON_Delete(ref);
    sbert_rm_rf(g_tmp);
    return test_summary();
}
