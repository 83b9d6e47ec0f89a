/*
 * tests/test_mine.c -- hard-negative mining against sentence-transformers'
 * util.mine_hard_negatives (tests/data/mining/, tools/gen_mining_refs.py).
 *
 *  1. torch.topk / Tensor.sort replayed (mining/torch_order.c): the indices
 *     torch returns on tie-heavy arrays, both topk paths (partial_sort when
 *     k * 64 <= n, nth_element + sort otherwise);
 *  2. Python's random.seed + random.sample (mining/pyrandom.c);
 *  3. every mining configuration of refs.json on the embeddings Python used:
 *     the same rows (queries, documents in order, scores within 1e-5, labels)
 *     and the same report lines (statistics within 1.5e-4, every other line
 *     equal), every output format, the filters, range windows, random
 *     sampling, several positives per query, a separate corpus, exact ties,
 *     and the CrossEncoder rescoring path through a callback;
 *  4. `sbert mine` end to end (it encodes with models/all-MiniLM-L6-v2):
 *     CSV and JSONL output, a .txt and a .jsonl corpus, prompts;
 *  5. bad input: a corpus smaller than range_max, --cross-encoder, an unknown
 *     column or format, num_negatives 0, range_min >= range_max.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cjson/cJSON.h>

#include "data/dataset.h"
#include "io/npy.h"
#include "mining/mine.h"
#include "mining/pyrandom.h"
#include "mining/torch_order.h"
#include "test_util.h"

static cJSON *load_json(const char *rel) {
    size_t len;
    char *txt = test_read_file(test_path(rel), &len);
    if (!txt) {
        CHECK(0, "cannot read %s (run tools/gen_mining_refs.py)", rel);
        return NULL;
    }
    cJSON *j = cJSON_Parse(txt);
    free(txt);
    CHECK(j != NULL, "%s is not JSON", rel);
    return j;
}

/* ------------------------------------------------------------ 1 and 2 */

static void test_torch_order(void) {
    cJSON *cases = load_json("tests/data/mining/torch_order.json");
    if (!cases)
        return;
    int n_cases = 0, bad_topk = 0, bad_sort = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases) {
        const cJSON *vs = cJSON_GetObjectItem(c, "vals");
        size_t n = (size_t)cJSON_GetArraySize(vs), k = (size_t)cJSON_GetObjectItem(c, "k")->valueint;
        float *v = malloc(n * sizeof *v);
        sbert_vi *w = malloc(n * sizeof *w), *o = malloc(n * sizeof *o);
        size_t j = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, vs) v[j++] = cJSON_IsNumber(e) ? (float)e->valuedouble : -INFINITY;
        sbert_torch_topk(v, n, k, w, o);
        const cJSON *ti = cJSON_GetObjectItem(c, "topk"), *si = cJSON_GetObjectItem(c, "sort");
        for (j = 0; j < k; j++)
            if (o[j].i != cJSON_GetArrayItem(ti, (int)j)->valueint) {
                bad_topk++;
                break;
            }
        for (j = 0; j < n; j++) {
            w[j].v = v[j];
            w[j].i = (int64_t)j;
        }
        sbert_torch_sort_desc(w, n);
        for (j = 0; j < n; j++)
            if (w[j].i != cJSON_GetArrayItem(si, (int)j)->valueint) {
                bad_sort++;
                break;
            }
        free(v);
        free(w);
        free(o);
        n_cases++;
    }
    CHECK(n_cases >= 100, "torch_order.json has %d cases", n_cases);
    CHECK(bad_topk == 0, "torch.topk tie order: %d of %d cases differ", bad_topk, n_cases);
    CHECK(bad_sort == 0, "Tensor.sort tie order: %d of %d cases differ", bad_sort, n_cases);
    cJSON_Delete(cases);
}

static void test_pyrandom(void) {
    cJSON *cases = load_json("tests/data/mining/pyrandom.json");
    if (!cases)
        return;
    sbert_pyrandom r;
    double last_seed = -1;
    int n = 0, bad = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases) {
        double seed = cJSON_GetObjectItem(c, "seed")->valuedouble;
        if (seed != last_seed) { /* the generator seeds once per seed value, then draws in sequence */
            sbert_pyrandom_seed(&r, (uint64_t)seed);
            last_seed = seed;
        }
        size_t pn = (size_t)cJSON_GetObjectItem(c, "n")->valueint, k = (size_t)cJSON_GetObjectItem(c, "k")->valueint;
        size_t out[64];
        CHECK_OK(sbert_pyrandom_sample_range(&r, pn, k, out));
        const cJSON *s = cJSON_GetObjectItem(c, "sample");
        for (size_t j = 0; j < k; j++)
            if (out[j] != (size_t)cJSON_GetArrayItem(s, (int)j)->valueint) {
                bad++;
                break;
            }
        n++;
    }
    CHECK(n >= 40 && bad == 0, "random.sample: %d of %d draws differ", bad, n);
    cJSON_Delete(cases);
}

/* ------------------------------------------------------------ 3: configs */

typedef struct {
    sbert_dataset *ds;
    const char **a, **p;
    char *corpus_buf;
    const char **corpus;
    size_t n_corpus;
    sbert_mine_data d;
    float *q, *c;
    size_t dim;
} mine_set;

static void set_free(mine_set *s) {
    sbert_mine_data_free(&s->d);
    sbert_dataset_free(s->ds);
    free(s->a);
    free(s->p);
    free(s->corpus_buf);
    free(s->corpus);
    free(s->q);
    free(s->c);
    memset(s, 0, sizeof *s);
}

static int load_set(const char *key, mine_set *s) {
    memset(s, 0, sizeof *s);
    char rel[256];
    snprintf(rel, sizeof rel, "tests/data/mining/%s_pairs.jsonl", key);
    if (sbert_dataset_load(test_path(rel), &s->ds) != SBERT_OK) {
        CHECK(0, "load %s: %s", rel, sbert_last_error());
        return 0;
    }
    size_t n = s->ds->n_rows;
    s->a = malloc(n * sizeof *s->a);
    s->p = malloc(n * sizeof *s->p);
    for (size_t r = 0; r < n; r++) {
        s->a[r] = s->ds->cols[0].text[r];
        s->p[r] = s->ds->cols[1].text[r];
    }
    if (strcmp(key, "trecqa") == 0) {
        size_t len;
        s->corpus_buf = test_read_file(test_path("tests/data/mining/trecqa_corpus.txt"), &len);
        CHECK(s->corpus_buf != NULL, "trecqa_corpus.txt");
        if (!s->corpus_buf)
            return 0;
        s->corpus = malloc(len * sizeof *s->corpus);
        char *line = s->corpus_buf;
        for (char *nl; (nl = strchr(line, '\n')); line = nl + 1) {
            *nl = 0;
            s->corpus[s->n_corpus++] = line;
        }
    }
    CHECK_OK(sbert_mine_data_build(s->a, s->p, n, s->corpus, s->n_corpus, &s->d));
    size_t rows, cols;
    snprintf(rel, sizeof rel, "tests/data/mining/%s_query_emb.npy", key);
    CHECK_OK(sbert_npy_read_f32(test_path(rel), &s->q, &rows, &cols, NULL));
    CHECK(rows == s->d.nq, "%s: %zu query embeddings for %zu unique queries", key, rows, s->d.nq);
    s->dim = cols;
    snprintf(rel, sizeof rel, "tests/data/mining/%s_corpus_emb.npy", key);
    CHECK_OK(sbert_npy_read_f32(test_path(rel), &s->c, &rows, &cols, NULL));
    CHECK(rows == s->d.nc && cols == s->dim, "%s: %zu corpus embeddings for %zu documents", key, rows, s->d.nc);
    return rows == s->d.nc && s->q && s->c;
}

typedef struct {
    char **line;
    size_t n, cap;
} lines;

static void collect(const char *l, void *user) {
    lines *L = user;
    if (strncmp(l, "warning: ", 9) == 0)
        return; /* Python logs these through `logging`, not print */
    if (L->n == L->cap) {
        L->cap = L->cap ? 2 * L->cap : 32;
        L->line = realloc(L->line, L->cap * sizeof *L->line);
    }
    L->line[L->n++] = strdup(l);
}

static void lines_free(lines *L) {
    for (size_t i = 0; i < L->n; i++)
        free(L->line[i]);
    free(L->line);
    memset(L, 0, sizeof *L);
}

static uint32_t fnv1a32(const char *a, const char *b) {
    uint32_t h = 0x811C9DC5u;
    for (const unsigned char *s = (const unsigned char *)a; *s; s++)
        h = (h ^ *s) * 0x01000193u;
    h = (h ^ 0x1f) * 0x01000193u;
    for (const unsigned char *s = (const unsigned char *)b; *s; s++)
        h = (h ^ *s) * 0x01000193u;
    return h;
}

static int g_rescore_calls;

/* the generator's HashCrossEncoder */
static sbert_status hash_rescore(void *user, const char *query, const char *const *docs, size_t n, float *scores) {
    (void)user;
    g_rescore_calls++;
    for (size_t i = 0; i < n; i++)
        scores[i] = (float)((double)(fnv1a32(query, docs[i]) >> 8) / 16777216.0);
    return SBERT_OK;
}

static void options_from(const cJSON *cfg, sbert_mine_options *o) {
    *o = sbert_mine_options_default();
    const cJSON *kw = cJSON_GetObjectItem(cfg, "kwargs"), *e;
    cJSON_ArrayForEach(e, kw) {
        const char *k = e->string;
        if (!strcmp(k, "output_format"))
            o->output_format = e->valuestring;
        else if (!strcmp(k, "sampling_strategy"))
            o->sampling_strategy = e->valuestring;
        else if (!strcmp(k, "output_scores"))
            o->output_scores = cJSON_IsTrue(e);
        else if (!strcmp(k, "include_positives"))
            o->include_positives = cJSON_IsTrue(e);
        else if (!strcmp(k, "num_negatives"))
            o->num_negatives = (size_t)e->valueint;
        else if (!strcmp(k, "range_min"))
            o->range_min = (size_t)e->valueint;
        else if (!strcmp(k, "range_max"))
            o->range_max = (size_t)e->valueint;
        else if (!strcmp(k, "max_score"))
            o->max_score = e->valuedouble;
        else if (!strcmp(k, "min_score"))
            o->min_score = e->valuedouble;
        else if (!strcmp(k, "absolute_margin"))
            o->absolute_margin = e->valuedouble;
        else if (!strcmp(k, "relative_margin"))
            o->relative_margin = e->valuedouble;
        else if (!strcmp(k, "query_prompt"))
            o->query_prompt = e->valuestring;
        else if (!strcmp(k, "corpus_prompt"))
            o->corpus_prompt = e->valuestring;
        else
            CHECK(0, "refs.json: unknown keyword argument '%s'", k);
    }
    o->seed = (uint64_t)cJSON_GetObjectItem(cfg, "seed")->valuedouble;
}

/* Compare table rows with the reference rows ("q", "d", "v"). */
static void compare_rows(const char *name, const sbert_mine_table *t, const cJSON *cfg) {
    const cJSON *rows = cJSON_GetObjectItem(cfg, "rows");
    size_t nref = (size_t)cJSON_GetArraySize(rows);
    CHECK(t->n == nref, "[%s] %zu rows, Python %zu", name, t->n, nref);
    int scores = cJSON_IsTrue(cJSON_GetObjectItem(cfg, "output_scores"));
    size_t bad_rows = 0, first_bad = (size_t)-1;
    double max_err = 0;
    size_t r = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, rows) {
        if (r >= t->n)
            break;
        const cJSON *d = cJSON_GetObjectItem(row, "d"), *v = cJSON_GetObjectItem(row, "v");
        size_t nd = (size_t)cJSON_GetArraySize(d), ne = t->off[r + 1] - t->off[r];
        int ok = (size_t)cJSON_GetObjectItem(row, "q")->valueint == t->q[r] && nd == ne;
        for (size_t j = 0; ok && j < nd; j++)
            ok = cJSON_GetArrayItem(d, (int)j)->valueint == t->doc[t->off[r] + j];
        /* values: the scores, or the labels */
        size_t nv = (size_t)cJSON_GetArraySize(v);
        for (size_t j = 0; ok && j < nv; j++) {
            double ref = cJSON_GetArrayItem(v, (int)j)->valuedouble, got;
            if (scores)
                got = t->val[t->off[r] + j];
            else if (t->format == SBERT_MINE_LABELED_PAIR)
                got = t->label[r];
            else
                got = j == 0 ? 1 : 0;
            double err = fabs(got - ref);
            max_err = test_max_err(max_err, err);
            if (err > 1e-5)
                ok = 0;
        }
        if (!ok) {
            bad_rows++;
            if (first_bad == (size_t)-1)
                first_bad = r;
        }
        r++;
    }
    CHECK(bad_rows == 0, "[%s] %zu of %zu rows differ from Python (first: row %zu)", name, bad_rows, nref, first_bad);
    if (scores)
        CHECK(max_err <= 1e-5, "[%s] scores within 1e-5 of Python (max err %.3g)", name, max_err);
}

/* Report lines: equal, except the statistics rows (4 numbers printed to 4 decimals), within 1.5e-4. */
static void compare_report(const char *name, const lines *got, const cJSON *cfg) {
    const cJSON *ref = cJSON_GetObjectItem(cfg, "report");
    size_t nref = (size_t)cJSON_GetArraySize(ref);
    CHECK(got->n == nref, "[%s] %zu report lines, Python printed %zu", name, got->n, nref);
    for (size_t i = 0; i < nref && i < got->n; i++) {
        const char *want = cJSON_GetArrayItem(ref, (int)i)->valuestring, *have = got->line[i];
        static const char *const stat_rows[] = {"Mean ", "Median", "Std ", "Min ", "25% ", "50% ", "75% ", "Max "};
        int is_stat = 0;
        for (int k = 0; k < 8; k++)
            if (strncmp(want, stat_rows[k], strlen(stat_rows[k])) == 0)
                is_stat = 1;
        if (!is_stat) {
            CHECK(strcmp(want, have) == 0, "[%s] report line %zu:\n  sbert:  '%s'\n  python: '%s'", name, i, have,
                  want);
            continue;
        }
        char w0[16], h0[16];
        double wv[3] = {0}, hv[3] = {0};
        int nw = sscanf(want, "%15s %lf %lf %lf", w0, &wv[0], &wv[1], &wv[2]);
        int nh = sscanf(have, "%15s %lf %lf %lf", h0, &hv[0], &hv[1], &hv[2]);
        int ok = nw == nh && strcmp(w0, h0) == 0 && strlen(want) == strlen(have);
        for (int k = 0; ok && k < nw - 1; k++)
            ok = fabs(wv[k] - hv[k]) <= 1.5e-4 || (isinf(wv[k]) && wv[k] == hv[k]);
        CHECK(ok, "[%s] statistics line %zu:\n  sbert:  '%s'\n  python: '%s'", name, i, have, want);
    }
}

static void test_configs(void) {
    cJSON *refs = load_json("tests/data/mining/refs.json");
    if (!refs)
        return;
    mine_set sets[2];
    int ok_s = load_set("snli", &sets[0]);
    int ok_t = load_set("trecqa", &sets[1]);
    int n_run = 0;
    size_t tie_rows = 0;
    const cJSON *cfg;
    cJSON_ArrayForEach(cfg, cJSON_GetObjectItem(refs, "configs")) {
        const char *name = cJSON_GetObjectItem(cfg, "name")->valuestring;
        if (strncmp(name, "cli_", 4) == 0)
            continue;
        int is_trec = strcmp(cJSON_GetObjectItem(cfg, "data")->valuestring, "trecqa") == 0;
        if (!(is_trec ? ok_t : ok_s))
            continue;
        mine_set *s = &sets[is_trec];
        sbert_mine_options o;
        options_from(cfg, &o);
        lines L = {0};
        o.log = collect;
        o.log_user = &L;
        int ce = cJSON_IsTrue(cJSON_GetObjectItem(cfg, "cross_encoder"));
        sbert_mine_plan plan;
        sbert_status st = sbert_mine_plan_make(&s->d, &o, ce, "corpus", &plan);
        CHECK(st == SBERT_OK, "[%s] plan: %s", name, sbert_last_error());
        if (st != SBERT_OK) {
            lines_free(&L);
            continue;
        }
        const cJSON *rm = cJSON_GetObjectItem(cfg, "range_max");
        CHECK(cJSON_IsNumber(rm) && plan.range_max == (size_t)rm->valueint, "[%s] range_max %zu, Python %d", name,
              plan.range_max, cJSON_IsNumber(rm) ? rm->valueint : -1);
        float *q = malloc(s->d.nq * s->dim * sizeof *q), *c = malloc(s->d.nc * s->dim * sizeof *c);
        memcpy(q, s->q, s->d.nq * s->dim * sizeof *q);
        memcpy(c, s->c, s->d.nc * s->dim * sizeof *c);
        sbert_mine_env env = {0};
        env.sim = "cosine";
        env.corpus_chunk = 64; /* several chunks even on this small corpus */
        env.query_chunk = 50;
        env.log = collect;
        env.log_user = &L;
        if (ce) {
            env.rescore = hash_rescore;
            g_rescore_calls = 0;
        }
        sbert_mine_table t;
        sbert_mine_summary sum;
        memset(&sum, 0, sizeof sum);
        st = sbert_mine_run(&s->d, &plan, q, c, s->dim, &env, &t, &sum);
        CHECK(st == SBERT_OK, "[%s] run: %s", name, sbert_last_error());
        if (st == SBERT_OK) {
            compare_rows(name, &t, cfg);
            compare_report(name, &L, cfg);
            if (ce)
                CHECK(g_rescore_calls == 2 * (int)s->d.nq, "[%s] rescored %d times, expected 2 per query", name,
                      g_rescore_calls);
            tie_rows += sum.n_tie_rows;
            n_run++;
        }
        sbert_mine_table_free(&t);
        free(q);
        free(c);
        lines_free(&L);
    }
    CHECK(n_run >= 20, "%d mining configurations compared", n_run);
    CHECK(tie_rows > 0, "the tie path ran (%zu query rows ranked again for near-equal scores)", tie_rows);
    printf("mining: %d configurations equal to sentence-transformers; %zu rows went through the tie path\n", n_run,
           tie_rows);
    set_free(&sets[0]);
    set_free(&sets[1]);
    cJSON_Delete(refs);
}

/* ------------------------------------------------------------ 4: CLI */

static const char *g_bin;
static char g_tmp[256];

static int run_cmd(const char *cmd) {
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static long index_of(const char **list, size_t n, const char *s) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0)
            return (long)i;
    return -1;
}

/* Read a `sbert mine` output back into a table of indices. */
static int read_output(const char *path, const sbert_mine_data *d, const cJSON *cfg, sbert_mine_table *t) {
    memset(t, 0, sizeof *t);
    const char *fmt = cJSON_GetObjectItem(cfg, "format")->valuestring;
    int scores = cJSON_IsTrue(cJSON_GetObjectItem(cfg, "output_scores"));
    t->output_scores = scores;
    t->format = !strcmp(fmt, "triplet") ? SBERT_MINE_TRIPLET
                : !strcmp(fmt, "n-tuple") ? SBERT_MINE_NTUPLE
                : !strcmp(fmt, "labeled-pair") ? SBERT_MINE_LABELED_PAIR
                                               : SBERT_MINE_LABELED_LIST;
    const cJSON *cols = cJSON_GetObjectItem(cfg, "columns");
    size_t ncol = (size_t)cJSON_GetArraySize(cols), cap = 1 << 16;
    t->q = malloc(cap * sizeof *t->q);
    t->off = malloc((cap + 1) * sizeof *t->off);
    t->doc = malloc(16 * cap * sizeof *t->doc);
    t->val = malloc(16 * cap * sizeof *t->val);
    t->label = malloc(cap);
    t->off[0] = 0;
    size_t ne = 0;
    if (strstr(path, ".csv")) {
        sbert_dataset *ds;
        if (sbert_dataset_load(path, &ds) != SBERT_OK) {
            CHECK(0, "read %s: %s", path, sbert_last_error());
            return 0;
        }
        CHECK(ds->n_cols == ncol, "%s: %zu columns, Python's Dataset has %zu", path, ds->n_cols, ncol);
        for (size_t c = 0; c < ds->n_cols && c < ncol; c++)
            CHECK(!strcmp(ds->cols[c].name, cJSON_GetArrayItem(cols, (int)c)->valuestring), "%s: column %zu is '%s'",
                  path, c, ds->cols[c].name);
        for (size_t r = 0; r < ds->n_rows && r < cap; r++) {
            t->q[r] = (size_t)index_of(d->queries, d->nq, ds->cols[0].text[r]);
            for (size_t c = 1; c < ds->n_cols; c++)
                if (ds->cols[c].kind == SBERT_COL_TEXT)
                    t->doc[ne++] = (int32_t)index_of(d->corpus, d->nc, ds->cols[c].text[r]);
            t->off[r + 1] = ne;
            t->n = r + 1;
        }
        sbert_dataset_free(ds);
        return 1;
    }
    size_t len;
    char *txt = test_read_file(path, &len);
    if (!txt) {
        CHECK(0, "cannot read %s", path);
        return 0;
    }
    char *line = txt;
    for (char *nl; (nl = strchr(line, '\n')) && t->n < cap; line = nl + 1) {
        *nl = 0;
        cJSON *o = cJSON_Parse(line);
        CHECK(o != NULL, "%s: row %zu is not JSON", path, t->n);
        if (!o)
            break;
        size_t r = t->n, c = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, o) {
            const char *want = cJSON_GetArrayItem(cols, (int)c)->valuestring;
            CHECK(c < ncol && !strcmp(e->string, want), "%s: key %zu is '%s', Python's column is '%s'", path, c,
                  e->string, want);
            if (c == 0) {
                t->q[r] = (size_t)index_of(d->queries, d->nq, e->valuestring);
            } else if (cJSON_IsString(e)) {
                t->doc[ne] = (int32_t)index_of(d->corpus, d->nc, e->valuestring);
                t->val[ne++] = 0;
            } else if (cJSON_IsArray(e) && cJSON_IsString(cJSON_GetArrayItem(e, 0))) {
                const cJSON *x;
                cJSON_ArrayForEach(x, e) {
                    t->doc[ne] = (int32_t)index_of(d->corpus, d->nc, x->valuestring);
                    t->val[ne++] = 0;
                }
            } else if (cJSON_IsArray(e)) {
                size_t j = t->off[r];
                const cJSON *x;
                cJSON_ArrayForEach(x, e) t->val[j++] = (float)x->valuedouble;
            } else if (cJSON_IsNumber(e)) {
                t->val[t->off[r]] = (float)e->valuedouble;
                t->label[r] = (unsigned char)(e->valuedouble == 1.0);
            }
            c++;
        }
        t->off[r + 1] = ne;
        t->n++;
        cJSON_Delete(o);
    }
    free(txt);
    return 1;
}

static void test_cli(void) {
    g_bin = getenv("SBERT_BIN");
    if (!g_bin || access(g_bin, X_OK) != 0) {
        CHECK(0, "SBERT_BIN (the sbert binary) is not set or not executable");
        return;
    }
    char model[1024], snli[1024], trec[1024], ctxt[1024], cjsonl[1024];
    snprintf(model, sizeof model, "%s", test_path("models/all-MiniLM-L6-v2"));
    snprintf(snli, sizeof snli, "%s", test_path("tests/data/mining/snli_pairs.jsonl"));
    snprintf(trec, sizeof trec, "%s", test_path("tests/data/mining/trecqa_pairs.jsonl"));
    snprintf(ctxt, sizeof ctxt, "%s", test_path("tests/data/mining/trecqa_corpus.txt"));
    snprintf(cjsonl, sizeof cjsonl, "%s", test_path("tests/data/mining/trecqa_corpus.jsonl"));
    if (!TEST_REQUIRE_FILE(model, TEST_FETCH_MODELS))
        return;
    if (TEST_SANITIZED) {
        test_skip("`sbert mine` end to end (encodes ~900 texts with MiniLM: slow under the sanitizers)");
        return;
    }
    snprintf(g_tmp, sizeof g_tmp, "/tmp/sbert_test_mine_XXXXXX");
    if (!mkdtemp(g_tmp)) {
        CHECK(0, "mkdtemp");
        return;
    }
    cJSON *refs = load_json("tests/data/mining/refs.json");
    mine_set sets[2];
    load_set("snli", &sets[0]);
    load_set("trecqa", &sets[1]);
    const cJSON *cfg;
    int n = 0;
    cJSON_ArrayForEach(cfg, cJSON_GetObjectItem(refs, "configs")) {
        const char *name = cJSON_GetObjectItem(cfg, "name")->valuestring;
        if (strncmp(name, "cli_", 4) != 0)
            continue;
        char cmd[4096], out[512];
        const sbert_mine_data *d;
        if (!strcmp(name, "cli_snli_csv")) {
            snprintf(out, sizeof out, "%s/snli.csv", g_tmp);
            snprintf(cmd, sizeof cmd, "%s mine --model %s --data %s --output %s --threads 2 > %s/log.txt", g_bin,
                     model, snli, out, g_tmp);
            d = &sets[0].d;
        } else if (!strcmp(name, "cli_trec_txt_prompt")) {
            snprintf(out, sizeof out, "%s/trec.jsonl", g_tmp);
            snprintf(cmd, sizeof cmd,
                     "%s mine --model %s --data %s --corpus %s --output %s --output-format n-tuple-scores "
                     "--relative-margin 0.05 --query-prompt 'query: ' --corpus-prompt 'passage: ' --quiet",
                     g_bin, model, trec,
                     ctxt, out);
            d = &sets[1].d;
        } else {
            snprintf(out, sizeof out, "%s/trec_list.jsonl", g_tmp);
            snprintf(cmd, sizeof cmd,
                     "%s mine --model %s --data %s --corpus %s --output %s --output-format labeled-list "
                     "--sampling-strategy random --seed 21 --num-negatives 5 --range-min 3 --range-max 40 --quiet "
                     "--anchor-column question --positive-column answer --corpus-chunk 100",
                     g_bin, model, trec,
                     cjsonl, out);
            d = &sets[1].d;
        }
        int rc = run_cmd(cmd);
        CHECK(rc == 0, "[%s] sbert mine exit %d: %s", name, rc, cmd);
        if (rc != 0)
            continue;
        sbert_mine_table t;
        if (read_output(out, d, cfg, &t))
            compare_rows(name, &t, cfg);
        sbert_mine_table_free(&t);
        n++;
    }
    CHECK(n == 3, "%d CLI configurations run", n);
    /* the report of the CSV run: Python's lines, then where the rows went */
    char path[512];
    snprintf(path, sizeof path, "%s/log.txt", g_tmp);
    size_t len;
    char *log = test_read_file(path, &len);
    CHECK(log && strstr(log, "Setting range_max to 5 based on the provided parameters.") &&
              strstr(log, "Metric       Positive       Negative     Difference") && strstr(log, "Wrote 753 rows"),
          "sbert mine prints the report: %s", log ? log : "(none)");
    free(log);

    /* --cache-folder: the second run reads the embeddings back and writes the same rows */
    char cmd[4096];
    for (int pass = 0; pass < 2; pass++) {
        snprintf(cmd, sizeof cmd,
                 "%s mine --model %s --data %s --output %s/cache%d.jsonl --cache-folder %s/cache > %s/cache%d.txt",
                 g_bin, model, snli, g_tmp, pass, g_tmp, g_tmp, pass);
        CHECK(run_cmd(cmd) == 0, "mine with --cache-folder (pass %d)", pass);
    }
    snprintf(path, sizeof path, "%s/cache1.txt", g_tmp);
    log = test_read_file(path, &len);
    CHECK(log && strstr(log, "[Cache] Loaded corpus embeddings from") && strstr(log, "[Cache] Loaded query embeddings"),
          "the second run loads the cached embeddings: %s", log ? log : "");
    free(log);
    char p0[512], p1[512];
    snprintf(p0, sizeof p0, "%s/cache0.jsonl", g_tmp);
    snprintf(p1, sizeof p1, "%s/cache1.jsonl", g_tmp);
    size_t l0, l1;
    char *f0 = test_read_file(p0, &l0), *f1 = test_read_file(p1, &l1);
    CHECK(f0 && f1 && l0 == l1 && memcmp(f0, f1, l0) == 0 && l0 > 0, "cached and fresh runs write the same rows");
    free(f0);
    free(f1);

    /* bad input */
    snprintf(cmd, sizeof cmd,
             "%s mine --model %s --data %s --output %s/x.jsonl --range-max 400 > /dev/null 2> %s/err.txt", g_bin, model,
             snli, g_tmp, g_tmp);
    CHECK(run_cmd(cmd) == 1, "a range_max above the corpus size fails");
    snprintf(path, sizeof path, "%s/err.txt", g_tmp);
    char *err = test_read_file(path, &len);
    CHECK(err && strstr(err, "the corpus has 251 documents") && strstr(err, "range_max=400") &&
              strstr(err, "snli_pairs.jsonl"),
          "the message names the corpus, its size and range_max: %s", err ? err : "");
    free(err);
    /* --cross-encoder without a filter: mine_hard_negatives does not use it, and the report says so
     * (rescoring itself: tests/test_mine_ce.c) */
    snprintf(cmd, sizeof cmd, "%s mine --model %s --data %s --output %s/x.jsonl --cross-encoder %s > %s/err.txt",
             g_bin, model, snli, g_tmp, model, g_tmp);
    CHECK(run_cmd(cmd) == 0, "--cross-encoder without a filter runs");
    err = test_read_file(path, &len);
    CHECK(err && strstr(err, "the CrossEncoder is not used"), "--cross-encoder without a filter: %s", err ? err : "");
    free(err);
    snprintf(cmd, sizeof cmd, "%s mine --model %s --data %s --output %s/x.jsonl --output-format tripplet 2> %s/err.txt",
             g_bin, model, snli, g_tmp, g_tmp);
    CHECK(run_cmd(cmd) == 2, "a misspelled format is a usage error");
    err = test_read_file(path, &len);
    CHECK(err && strstr(err, "did you mean 'triplet'"), "format suggestion: %s", err ? err : "");
    free(err);
    snprintf(cmd, sizeof cmd,
             "%s mine --model %s --data %s --output %s/x.jsonl --anchor-column query > /dev/null 2> %s/err.txt", g_bin, model,
             snli, g_tmp, g_tmp);
    CHECK(run_cmd(cmd) == 1, "an unknown anchor column fails");
    err = test_read_file(path, &len);
    CHECK(err && strstr(err, "no column 'query'") && strstr(err, "anchor, positive"), "unknown column: %s",
          err ? err : "");
    free(err);
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_tmp);
    run_cmd(cmd);
    set_free(&sets[0]);
    set_free(&sets[1]);
    cJSON_Delete(refs);
}

/* ------------------------------------------------------------ 5: plan errors */

static void test_plan_errors(void) {
    const char *a[] = {"q1", "q2", "q1", "q3"};
    const char *p[] = {"d1", "d2", "d3", "d4"};
    sbert_mine_data d;
    CHECK_OK(sbert_mine_data_build(a, p, 4, NULL, 0, &d));
    CHECK(d.nq == 3 && d.nc == 4 && d.max_positives == 2 && d.n_pairs == 4, "dedup: %zu queries, %zu docs", d.nq,
          d.nc);
    sbert_mine_plan plan;
    sbert_mine_options o = sbert_mine_options_default();
    o.num_negatives = 1;
    o.range_max = 3;
    CHECK_OK(sbert_mine_plan_make(&d, &o, 0, "corpus", &plan));
    o.range_max = 5;
    CHECK(sbert_mine_plan_make(&d, &o, 0, "my.txt", &plan) == SBERT_ERR_INVALID_ARG &&
              strstr(sbert_last_error(), "my.txt") && strstr(sbert_last_error(), "4 documents"),
          "corpus smaller than range_max: %s", sbert_last_error());
    o.range_max = 0; /* derived: 0 + 1 + 2 = 3 */
    CHECK_OK(sbert_mine_plan_make(&d, &o, 0, "corpus", &plan));
    CHECK(plan.range_max == 3 && plan.range_max_derived, "derived range_max %zu", plan.range_max);
    o.num_negatives = 0;
    CHECK(sbert_mine_plan_make(&d, &o, 0, "corpus", &plan) == SBERT_ERR_INVALID_ARG &&
              strstr(sbert_last_error(), "num_negatives must be at least 1"),
          "num_negatives 0: %s", sbert_last_error());
    o.num_negatives = 1;
    o.range_min = 3;
    o.range_max = 3;
    CHECK(sbert_mine_plan_make(&d, &o, 0, "corpus", &plan) == SBERT_ERR_INVALID_ARG &&
              strstr(sbert_last_error(), "range_min must be smaller than range_max"),
          "range_min >= range_max: %s", sbert_last_error());
    o.range_min = 1;
    o.num_negatives = 3;
    CHECK(sbert_mine_plan_make(&d, &o, 0, "corpus", &plan) == SBERT_ERR_INVALID_ARG &&
              strstr(sbert_last_error(), "Cannot mine 3 negatives per query"),
          "window too small: %s", sbert_last_error());
    o = sbert_mine_options_default();
    o.output_format = "triplets";
    CHECK(sbert_mine_plan_make(&d, &o, 0, "corpus", &plan) == SBERT_ERR_INVALID_ARG &&
              strstr(sbert_last_error(), "Invalid output_format: triplets"),
          "bad format: %s", sbert_last_error());
    o = sbert_mine_options_default();
    o.include_positives = 1;
    o.output_format = "n-tuple-scores"; /* include_positives turns it into plain n-tuple first, as Python does */
    o.range_max = 3;
    o.num_negatives = 1;
    CHECK_OK(sbert_mine_plan_make(&d, &o, 0, "corpus", &plan));
    CHECK(plan.format == SBERT_MINE_NTUPLE && !plan.output_scores, "include_positives + n-tuple-scores");
    o = sbert_mine_options_default();
    o.max_score = 0.5;
    o.num_negatives = 1;
    CHECK(sbert_mine_plan_make(&d, &o, 0, "corpus", &plan) == SBERT_ERR_INVALID_ARG,
          "derived range_max 12 > 4 documents fails");
    sbert_mine_data_free(&d);
    CHECK(sbert_mine_data_build(a, p, 0, NULL, 0, &d) == SBERT_ERR_INVALID_ARG &&
              strstr(sbert_last_error(), "empty"),
          "empty dataset: %s", sbert_last_error());
    char b[64];
    sbert_py_float_repr(0.05, b, sizeof b);
    CHECK(!strcmp(b, "0.05"), "repr(0.05) = %s", b);
    sbert_py_float_repr(0.0, b, sizeof b);
    CHECK(!strcmp(b, "0.0"), "repr(0.0) = %s", b);
    sbert_py_float_repr(1e-05, b, sizeof b);
    CHECK(!strcmp(b, "1e-05"), "repr(1e-05) = %s", b);
    sbert_py_float_repr(123456.5, b, sizeof b);
    CHECK(!strcmp(b, "123456.5"), "repr(123456.5) = %s", b);
}

int main(void) {
    test_torch_order();
    test_pyrandom();
    test_plan_errors();
    test_configs();
    test_cli();
    return test_summary();
}
