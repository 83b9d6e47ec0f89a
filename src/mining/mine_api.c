/*
 * mining/mine_api.c -- sbert_mine_hard_negatives (sbert.h): the dataset and
 * corpus files in, the embeddings (encode_query / encode_document semantics,
 * optionally cached as .npy), the algorithm of mine.c, the output file out
 * (JSON lines or CSV/TSV with the columns sentence-transformers' Dataset has).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "data/dataset.h"
#include "io/atomic.h"
#include "io/dirs.h"
#include "io/file.h"
#include "io/npy.h"
#include "mining/mine.h"
#include "models/model.h"

sbert_mine_options sbert_mine_options_default(void) {
    sbert_mine_options o;
    memset(&o, 0, sizeof o);
    o.max_score = NAN;
    o.min_score = NAN;
    o.absolute_margin = NAN;
    o.relative_margin = NAN;
    o.num_negatives = 3;
    o.sampling_strategy = "top";
    o.output_format = "triplet";
    o.batch_size = 32;
    return o;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int is_dataset_file(const char *p) {
    static const char *const ext[] = {".jsonl", ".json", ".csv", ".tsv"};
    char base[4096];
    snprintf(base, sizeof base, "%s", p);
    if (ends_with(base, ".gz"))
        base[strlen(base) - 3] = 0;
    for (int i = 0; i < 4; i++)
        if (ends_with(base, ext[i]))
            return 1;
    return 0;
}

/* ------------------------------------------------------------ the corpus */

typedef struct {
    char *buf;           /* .txt: the file */
    sbert_dataset *ds;   /* a dataset file */
    const char **texts;
    size_t n;
} corpus_texts;

static void corpus_free(corpus_texts *c) {
    free(c->buf);
    sbert_dataset_free(c->ds);
    free(c->texts);
    memset(c, 0, sizeof *c);
}

static sbert_status load_corpus(const char *path, const char *column, corpus_texts *c) {
    memset(c, 0, sizeof *c);
    if (is_dataset_file(path)) {
        SBERT_TRY(sbert_dataset_load(path, &c->ds));
        int col = -1;
        if (column) {
            col = sbert_dataset_find_column(c->ds, column);
            if (col < 0) {
                char names[1024] = "";
                for (size_t i = 0; i < c->ds->n_cols; i++) {
                    size_t l = strlen(names);
                    snprintf(names + l, sizeof names - l, "%s%s", i ? ", " : "", c->ds->cols[i].name);
                }
                return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: no column '%s' (the file has: %s); set corpus_column",
                                  path, column, names);
            }
        } else if ((col = sbert_dataset_find_column(c->ds, "text")) < 0) {
            if (c->ds->n_cols != 1)
                return sbert_fail(SBERT_ERR_INVALID_ARG,
                                  "%s: the corpus has %zu columns and none is named 'text': name the one holding the "
                                  "documents with corpus_column (--corpus-column)",
                                  path, c->ds->n_cols);
            col = 0;
        }
        const sbert_column *cc = &c->ds->cols[col];
        if (cc->kind != SBERT_COL_TEXT)
            return sbert_fail(SBERT_ERR_FORMAT, "%s: corpus column '%s' holds numbers, not texts", path, cc->name);
        c->n = c->ds->n_rows;
        c->texts = malloc((c->n ? c->n : 1) * sizeof *c->texts);
        if (!c->texts)
            return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", path);
        for (size_t i = 0; i < c->n; i++)
            c->texts[i] = cc->text[i];
        return SBERT_OK;
    }
    /* one document per line; the line end ("\n" or "\r\n") is not part of it */
    size_t len;
    SBERT_TRY(sbert_read_file(path, &c->buf, &len));
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (c->buf[i] == '\n')
            n++;
    if (len && c->buf[len - 1] != '\n')
        n++;
    c->texts = malloc((n ? n : 1) * sizeof *c->texts);
    if (!c->texts)
        return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory (%zu lines)", path, n);
    size_t start = 0;
    for (size_t i = 0; i <= len && c->n < n; i++) {
        if (i == len || c->buf[i] == '\n') {
            size_t end = i;
            if (end > start && c->buf[end - 1] == '\r')
                end--;
            if (memchr(c->buf + start, 0, end - start))
                return sbert_fail(SBERT_ERR_FORMAT, "%s:%zu: a NUL byte in the line", path, c->n + 1);
            c->buf[end] = 0;
            c->texts[c->n++] = c->buf + start;
            start = i + 1;
        }
    }
    if (c->n == 0)
        return sbert_fail(SBERT_ERR_FORMAT, "%s: the corpus file is empty", path);
    return SBERT_OK;
}

/* ------------------------------------------------------------- encoding */

static uint64_t fnv_bytes(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}

static uint64_t fnv_str(uint64_t h, const char *s) {
    if (!s)
        return fnv_bytes(h, "\1", 1);
    return fnv_bytes(fnv_bytes(h, s, strlen(s)), "", 1);
}

/* Encode texts [n] into out [n, dim] (normalized), through the cache when set. */
static sbert_status embed(sbert_model *model, const sbert_mine_options *opt, int is_query, const char *const *texts,
                          size_t n, size_t dim, float *out) {
    sbert_encode_options eo = sbert_encode_options_default();
    eo.batch_size = opt->batch_size ? opt->batch_size : 32;
    eo.normalize = 1;
    eo.progress = opt->progress;
    eo.progress_user = opt->progress_user;
    const char *what = is_query ? "query" : "corpus";
    eo.prompt = is_query ? opt->query_prompt : opt->corpus_prompt;
    eo.prompt_name = is_query ? opt->query_prompt_name : opt->corpus_prompt_name;
    if (!eo.prompt && !eo.prompt_name) {
        /* encode_query / encode_document: the model's own query / document prompt */
        if (is_query && sbert_model_prompt(model, "query"))
            eo.prompt_name = "query";
        if (!is_query) {
            static const char *const cand[] = {"document", "passage", "corpus"};
            for (int i = 0; i < 3 && !eo.prompt_name; i++)
                if (sbert_model_prompt(model, cand[i]))
                    eo.prompt_name = cand[i];
        }
    }
    char cache_path[4096] = "";
    if (opt->cache_folder) {
        uint64_t h = 1469598103934665603ull;
        h = fnv_str(h, "sbert-mine-v1");
        h = fnv_str(h, sbert_model_dir(model));
        h = fnv_str(h, eo.prompt);
        h = fnv_str(h, eo.prompt_name);
        for (size_t i = 0; i < n; i++)
            h = fnv_str(h, texts[i]);
        snprintf(cache_path, sizeof cache_path, "%s/%s_embeddings_%016llx.npy", opt->cache_folder, what,
                 (unsigned long long)h);
        if (sbert_file_exists(cache_path)) {
            float *data = NULL;
            size_t rows, cols;
            SBERT_TRY(sbert_npy_read_f32(cache_path, &data, &rows, &cols, NULL));
            if (rows != n || cols != dim) {
                free(data);
                return sbert_fail(SBERT_ERR_FORMAT,
                                  "%s: cached embeddings have shape (%zu, %zu), expected (%zu, %zu); delete the file",
                                  cache_path, rows, cols, n, dim);
            }
            memcpy(out, data, n * dim * sizeof *out);
            free(data);
            if (opt->log) {
                char line[4200];
                snprintf(line, sizeof line, "[Cache] Loaded %s embeddings from %s (shape=(%zu, %zu))", what,
                         cache_path, n, dim);
                opt->log(line, opt->log_user);
            }
            return SBERT_OK;
        }
    }
    sbert_status st = sbert_model_encode(model, texts, n, &eo, out);
    if (st != SBERT_OK) {
        sbert_error_prefix("encoding the %s: ", is_query ? "queries" : "corpus");
        return st;
    }
    if (cache_path[0]) {
        SBERT_TRY(sbert_mkdir_p(opt->cache_folder));
        SBERT_TRY(sbert_npy_write_f32(cache_path, out, n, dim));
        if (opt->log) {
            char line[4200];
            snprintf(line, sizeof line, "[Cache] Saved %s embeddings to %s", what, cache_path);
            opt->log(line, opt->log_user);
        }
    }
    return SBERT_OK;
}

/* --------------------------------------------------------------- output */

static void put_json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        case '\b':
            fputs("\\b", f);
            break;
        case '\f':
            fputs("\\f", f);
            break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

static void put_float(FILE *f, float v) {
    char b[64];
    if (!isfinite(v)) { /* JSON has no inf/nan */
        fputs("null", f);
        return;
    }
    sbert_py_float_repr((double)v, b, sizeof b);
    fputs(b, f);
}

/* A CSV/TSV cell: quoted when it holds the separator, a quote or a line end. */
static void put_cell(FILE *f, const char *s, char sep) {
    if (!strchr(s, sep) && !strchr(s, '"') && !strchr(s, '\n') && !strchr(s, '\r')) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* A list cell of a CSV/TSV file: the JSON array, written to a memory buffer first. */
typedef enum { CELL_DOCS, CELL_VALS, CELL_LABELS } list_kind;

static sbert_status put_list_cell(FILE *f, const sbert_mine_table *t, const sbert_mine_data *d, size_t r,
                                  list_kind k, char sep) {
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return sbert_fail(SBERT_ERR_NOMEM, "mining: out of memory writing a list cell");
    fputc('[', m);
    for (size_t e = t->off[r]; e < t->off[r + 1]; e++) {
        if (e > t->off[r])
            fputs(", ", m);
        if (k == CELL_DOCS)
            put_json_string(m, d->corpus[t->doc[e]]);
        else if (k == CELL_VALS)
            put_float(m, t->val[e]);
        else
            fputs(e == t->off[r] ? "1" : "0", m);
    }
    fputc(']', m);
    fclose(m);
    put_cell(f, buf, sep);
    free(buf);
    return SBERT_OK;
}

sbert_status sbert_mine_write(const sbert_mine_table *t, const sbert_mine_data *d, const char *anchor_column,
                              const char *positive_column, const char *path) {
    int jsonl = ends_with(path, ".jsonl") || ends_with(path, ".json");
    char sep = ends_with(path, ".tsv") ? '\t' : ',';
    if (!jsonl && !ends_with(path, ".csv") && !ends_with(path, ".tsv"))
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: the output file must end in .jsonl, .json, .csv or .tsv", path);
    /* column names, as the Python Dataset has them */
    const char *cols[64];
    char negnames[32][32];
    size_t nc = 0;
    cols[nc++] = anchor_column;
    cols[nc++] = positive_column;
    switch (t->format) {
    case SBERT_MINE_TRIPLET:
        cols[nc++] = "negative";
        if (t->output_scores)
            cols[nc++] = "scores";
        break;
    case SBERT_MINE_NTUPLE:
        if (t->num_negatives > 32)
            return sbert_fail(SBERT_ERR_UNSUPPORTED, "mining: n-tuple output with more than 32 negatives");
        for (size_t j = 0; j < t->num_negatives; j++) {
            snprintf(negnames[j], sizeof negnames[j], "negative_%zu", j + 1);
            cols[nc++] = negnames[j];
        }
        if (t->output_scores)
            cols[nc++] = "scores";
        break;
    case SBERT_MINE_LABELED_PAIR:
        cols[nc++] = t->output_scores ? "score" : "label";
        break;
    case SBERT_MINE_LABELED_LIST:
        cols[nc++] = t->output_scores ? "scores" : "labels";
        break;
    }
    sbert_status st;
    sbert_atomic_file *af = sbert_atomic_open(path, &st);
    if (!af)
        return st;
    FILE *f = sbert_atomic_stream(af);
    if (!jsonl) {
        for (size_t i = 0; i < nc; i++) {
            if (i)
                fputc(sep, f);
            put_cell(f, cols[i], sep);
        }
        fputc('\n', f);
    }
    for (size_t r = 0; r < t->n; r++) {
        size_t e0 = t->off[r], ne = t->off[r + 1] - e0;
        size_t c = 0;
        if (jsonl) {
            fputc('{', f);
            put_json_string(f, cols[c++]);
            fputs(": ", f);
            put_json_string(f, d->queries[t->q[r]]);
        } else {
            put_cell(f, d->queries[t->q[r]], sep);
            c++;
        }
#define KEY()                                 \
    do {                                      \
        if (jsonl) {                          \
            fputs(", ", f);                   \
            put_json_string(f, cols[c++]);    \
            fputs(": ", f);                   \
        } else {                              \
            fputc(sep, f);                    \
            c++;                              \
        }                                     \
    } while (0)
        if (t->format == SBERT_MINE_LABELED_LIST) {
            KEY();
            if (jsonl) {
                fputc('[', f);
                for (size_t e = 0; e < ne; e++) {
                    if (e)
                        fputs(", ", f);
                    put_json_string(f, d->corpus[t->doc[e0 + e]]);
                }
                fputc(']', f);
            } else if ((st = put_list_cell(f, t, d, r, CELL_DOCS, sep)) != SBERT_OK) {
                break;
            }
            KEY();
            if (jsonl) {
                fputc('[', f);
                for (size_t e = 0; e < ne; e++) {
                    if (e)
                        fputs(", ", f);
                    if (t->output_scores)
                        put_float(f, t->val[e0 + e]);
                    else
                        fputs(e == 0 ? "1" : "0", f);
                }
                fputc(']', f);
            } else if ((st = put_list_cell(f, t, d, r, t->output_scores ? CELL_VALS : CELL_LABELS, sep)) !=
                       SBERT_OK) {
                break;
            }
        } else {
            for (size_t e = 0; e < ne; e++) {
                KEY();
                if (jsonl)
                    put_json_string(f, d->corpus[t->doc[e0 + e]]);
                else
                    put_cell(f, d->corpus[t->doc[e0 + e]], sep);
            }
            if (t->format == SBERT_MINE_LABELED_PAIR) {
                KEY();
                if (t->output_scores)
                    put_float(f, t->val[e0]);
                else
                    fputs(t->label[r] ? "1" : "0", f);
            } else if (t->output_scores) {
                KEY();
                if (jsonl) {
                    fputc('[', f);
                    for (size_t e = 0; e < ne; e++) {
                        if (e)
                            fputs(", ", f);
                        put_float(f, t->val[e0 + e]);
                    }
                    fputc(']', f);
                } else if ((st = put_list_cell(f, t, d, r, CELL_VALS, sep)) != SBERT_OK) {
                    break;
                }
            }
        }
#undef KEY
        fputs(jsonl ? "}\n" : "\n", f);
    }
    if (st != SBERT_OK) {
        sbert_atomic_abort(af);
        return st;
    }
    return sbert_atomic_commit(af);
}

/* ------------------------------------------------------ CrossEncoder oracle */

/* mine_hard_negatives' cross_encoder: scores = cross_encoder.predict([(query, doc) ...],
 * batch_size=batch_size) -- the model's own activation (Sigmoid for one label by default). */
typedef struct {
    sbert_model *ce;
    size_t batch_size;
    const char **queries; /* [cap] the query repeated */
    size_t cap;
} ce_oracle;

static sbert_status ce_rescore(void *user, const char *query, const char *const *docs, size_t n, float *scores) {
    ce_oracle *o = user;
    if (n > o->cap) {
        const char **q = realloc(o->queries, n * sizeof *q);
        if (!q)
            return sbert_fail(SBERT_ERR_NOMEM, "mining: out of memory (CrossEncoder pairs)");
        o->queries = q;
        o->cap = n;
    }
    for (size_t i = 0; i < n; i++)
        o->queries[i] = query;
    sbert_predict_options po = sbert_predict_options_default();
    po.batch_size = o->batch_size;
    sbert_status st = sbert_cross_encoder_predict(o->ce, o->queries, docs, n, &po, scores);
    if (st != SBERT_OK)
        sbert_error_prefix("rescoring with the CrossEncoder: ");
    return st;
}

static sbert_status ce_oracle_open(const sbert_mine_options *opt, ce_oracle *o) {
    memset(o, 0, sizeof *o);
    sbert_cross_encoder_options co = sbert_cross_encoder_options_default();
    sbert_status st = sbert_cross_encoder_load(opt->cross_encoder, &co, &o->ce);
    if (st != SBERT_OK) {
        sbert_error_prefix("cross_encoder '%s': ", opt->cross_encoder);
        return st;
    }
    if (sbert_cross_encoder_num_labels(o->ce) != 1) {
        size_t nl = sbert_cross_encoder_num_labels(o->ce);
        sbert_model_free(o->ce);
        o->ce = NULL;
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "cross_encoder '%s' has %zu labels; rescoring needs one relevance score per pair "
                          "(num_labels 1)",
                          opt->cross_encoder, nl);
    }
    o->batch_size = opt->batch_size ? opt->batch_size : 32;
    return SBERT_OK;
}

static void ce_oracle_close(ce_oracle *o) {
    sbert_model_free(o->ce);
    free(o->queries);
    memset(o, 0, sizeof *o);
}

/* ------------------------------------------------------------------ API */

static sbert_status text_column(const sbert_dataset *ds, const char *name, int fallback, const char *what, int *out) {
    int col;
    if (name) {
        col = sbert_dataset_find_column(ds, name);
        if (col < 0) {
            char names[1024] = "";
            for (size_t i = 0; i < ds->n_cols; i++) {
                size_t l = strlen(names);
                snprintf(names + l, sizeof names - l, "%s%s", i ? ", " : "", ds->cols[i].name);
            }
            return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: no column '%s' for the %s (the file has: %s)", ds->path,
                              name, what, names);
        }
    } else {
        if ((size_t)fallback >= ds->n_cols)
            return sbert_fail(SBERT_ERR_FORMAT,
                              "%s: Dataset must contain at least two columns to select the positive column "
                              "automatically (it has %zu)",
                              ds->path, ds->n_cols);
        col = fallback;
    }
    if (ds->cols[col].kind != SBERT_COL_TEXT)
        return sbert_fail(SBERT_ERR_FORMAT, "%s: the %s column '%s' holds numbers, not texts", ds->path, what,
                          ds->cols[col].name);
    *out = col;
    return SBERT_OK;
}

sbert_status sbert_mine_hard_negatives(sbert_model *model, const char *dataset_path, const sbert_mine_options *opt_in,
                                       const char *output_path, sbert_mine_summary *out) {
    sbert_mine_options opt = opt_in ? *opt_in : sbert_mine_options_default();
    sbert_mine_summary sum;
    memset(&sum, 0, sizeof sum);
    if (out)
        memset(out, 0, sizeof *out);
    if (!model || !dataset_path || !output_path)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_mine_hard_negatives: model, dataset_path and output_path "
                                                 "are required");
    sbert_status st;
    ce_oracle oracle = {0};
    sbert_dataset *ds = NULL;
    corpus_texts corpus = {0};
    sbert_mine_data d = {0};
    sbert_mine_table table = {0};
    float *qe = NULL, *ce = NULL;
    const char **anchors = NULL, **positives = NULL;
    if ((st = sbert_dataset_load(dataset_path, &ds)) != SBERT_OK)
        goto done;
    int ac, pc;
    if ((st = text_column(ds, opt.anchor_column, 0, "anchor", &ac)) != SBERT_OK ||
        (st = text_column(ds, opt.positive_column, 1, "positive", &pc)) != SBERT_OK)
        goto done;
    anchors = malloc(ds->n_rows * sizeof *anchors + 1);
    positives = malloc(ds->n_rows * sizeof *positives + 1);
    if (!anchors || !positives) {
        st = sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", dataset_path);
        goto done;
    }
    for (size_t r = 0; r < ds->n_rows; r++) {
        anchors[r] = ds->cols[ac].text[r];
        positives[r] = ds->cols[pc].text[r];
    }
    if (opt.corpus_path && (st = load_corpus(opt.corpus_path, opt.corpus_column, &corpus)) != SBERT_OK)
        goto done;
    if (!opt.corpus_path && opt.corpus_column) {
        st = sbert_fail(SBERT_ERR_INVALID_ARG, "corpus_column '%s' is set but there is no corpus file (corpus_path)",
                        opt.corpus_column);
        goto done;
    }
    if ((st = sbert_mine_data_build(anchors, positives, ds->n_rows, opt.corpus_path ? corpus.texts : NULL, corpus.n,
                                    &d)) != SBERT_OK) {
        sbert_error_prefix("%s: ", dataset_path);
        goto done;
    }
    sbert_mine_plan plan;
    char corpus_name[4200];
    if (opt.corpus_path)
        snprintf(corpus_name, sizeof corpus_name, "%s (with the positives of %s)", opt.corpus_path, dataset_path);
    else
        snprintf(corpus_name, sizeof corpus_name, "%s (its positives are the corpus)", dataset_path);
    if ((st = sbert_mine_plan_make(&d, &opt, opt.cross_encoder != NULL, corpus_name, &plan)) != SBERT_OK)
        goto done;
    if (opt.cross_encoder) {
        if ((st = ce_oracle_open(&opt, &oracle)) != SBERT_OK)
            goto done;
        int filters = !isnan(plan.absolute_margin) || !isnan(plan.relative_margin) || !isnan(plan.max_score) ||
                      !isnan(plan.min_score);
        if (!filters && opt.log)
            opt.log("Note: the CrossEncoder is not used: mine_hard_negatives rescores the candidates only when a "
                    "filter uses the scores (absolute_margin, relative_margin, max_score or min_score)",
                    opt.log_user);
    }
    sbert_encode_options eo = sbert_encode_options_default();
    size_t dim = sbert_model_encode_dim(model, &eo);
    qe = malloc(d.nq * dim * sizeof *qe);
    ce = malloc(d.nc * dim * sizeof *ce);
    if (!qe || !ce) {
        st = sbert_fail(SBERT_ERR_NOMEM, "mining: out of memory for the embeddings (%zu + %zu x %zu floats)", d.nq,
                        d.nc, dim);
        goto done;
    }
    if ((st = embed(model, &opt, 0, d.corpus, d.nc, dim, ce)) != SBERT_OK ||
        (st = embed(model, &opt, 1, d.queries, d.nq, dim, qe)) != SBERT_OK)
        goto done;
    sbert_mine_env env = {0};
    env.sim = sbert_model_similarity_fn_name(model);
    env.query_chunk = opt.query_chunk;
    env.corpus_chunk = opt.corpus_chunk;
    env.log = opt.log;
    env.log_user = opt.log_user;
    if (oracle.ce) {
        env.rescore = ce_rescore;
        env.rescore_user = &oracle;
    }
    if ((st = sbert_mine_run(&d, &plan, qe, ce, dim, &env, &table, &sum)) != SBERT_OK)
        goto done;
    if ((st = sbert_mine_write(&table, &d, ds->cols[ac].name, ds->cols[pc].name, output_path)) != SBERT_OK)
        goto done;
    if (out)
        *out = sum;
done:
    ce_oracle_close(&oracle);
    free(qe);
    free(ce);
    free(anchors);
    free(positives);
    sbert_mine_table_free(&table);
    sbert_mine_data_free(&d);
    corpus_free(&corpus);
    sbert_dataset_free(ds);
    return st;
}
