/*
 * mining/mine.c -- the mining algorithm on computed embeddings (see mine.h):
 * deduplication, the option plan, candidate filtering and sampling, the rows
 * of each output format and the statistics report, each step as
 * sentence-transformers' mine_hard_negatives does it (util/hard_negatives.py,
 * v6.2.0), with the float32 arithmetic of its tensors.
 */
#include "mining/mine.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "mining/pyrandom.h"
#include "mining/search.h"
#include "mining/torch_order.h"

/* ------------------------------------------------------------ string set */

typedef struct {
    const char **key;
    size_t *val;
    size_t cap;
} str_map;

static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static sbert_status map_init(str_map *m, size_t n) {
    size_t cap = 16;
    while (cap < 2 * n + 1)
        cap <<= 1;
    m->key = calloc(cap, sizeof *m->key);
    m->val = malloc(cap * sizeof *m->val);
    m->cap = cap;
    if (!m->key || !m->val)
        return sbert_fail(SBERT_ERR_NOMEM, "mining: out of memory (a table of %zu texts)", n);
    return SBERT_OK;
}

static void map_free(str_map *m) {
    free(m->key);
    free(m->val);
}

/* The value stored for s; when absent, stores `v` and returns it. */
static size_t map_get_or_add(str_map *m, const char *s, size_t v, int *added) {
    size_t i = (size_t)fnv1a(s) & (m->cap - 1);
    while (m->key[i]) {
        if (strcmp(m->key[i], s) == 0) {
            *added = 0;
            return m->val[i];
        }
        i = (i + 1) & (m->cap - 1);
    }
    m->key[i] = s;
    m->val[i] = v;
    *added = 1;
    return v;
}

/* ------------------------------------------------------------------ data */

void sbert_mine_data_free(sbert_mine_data *d) {
    if (!d)
        return;
    free(d->queries);
    free(d->corpus);
    free(d->pos_off);
    free(d->pos_idx);
    memset(d, 0, sizeof *d);
}

sbert_status sbert_mine_data_build(const char *const *anchors, const char *const *positives, size_t n_rows,
                                   const char *const *corpus, size_t n_corpus, sbert_mine_data *out) {
    memset(out, 0, sizeof *out);
    if (n_rows == 0)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "The dataset is empty. Please provide a non-empty dataset.");
    if (!corpus) {
        corpus = positives;
        n_corpus = n_rows;
    }
    sbert_status st = SBERT_OK;
    str_map cm = {0}, qm = {0};
    size_t *row_q = NULL, *row_p = NULL, *count = NULL, *fill = NULL;
    sbert_mine_data d;
    memset(&d, 0, sizeof d);
    d.n_rows = n_rows;
    if ((st = map_init(&cm, n_corpus + n_rows)) != SBERT_OK || (st = map_init(&qm, n_rows)) != SBERT_OK)
        goto done;
    d.corpus = malloc((n_corpus + n_rows) * sizeof *d.corpus);
    d.queries = malloc(n_rows * sizeof *d.queries);
    row_q = malloc(n_rows * sizeof *row_q);
    row_p = malloc(n_rows * sizeof *row_p);
    if (!d.corpus || !d.queries || !row_q || !row_p) {
        st = sbert_fail(SBERT_ERR_NOMEM, "mining: out of memory (%zu rows, %zu documents)", n_rows, n_corpus);
        goto done;
    }
    /* corpus = list(dict.fromkeys(corpus + positives)) */
    int added;
    for (size_t i = 0; i < n_corpus + n_rows; i++) {
        const char *t = i < n_corpus ? corpus[i] : positives[i - n_corpus];
        map_get_or_add(&cm, t, d.nc, &added);
        if (added)
            d.corpus[d.nc++] = t;
    }
    /* queries = list(dict.fromkeys(queries)) */
    for (size_t r = 0; r < n_rows; r++) {
        row_q[r] = map_get_or_add(&qm, anchors[r], d.nq, &added);
        if (added)
            d.queries[d.nq++] = anchors[r];
        row_p[r] = map_get_or_add(&cm, positives[r], 0, &added);
    }
    /* rows per anchor (groupby().count()) and each query's unique positives in row order */
    count = calloc(d.nq, sizeof *count);
    fill = calloc(d.nq + 1, sizeof *fill);
    d.pos_off = calloc(d.nq + 1, sizeof *d.pos_off);
    d.pos_idx = malloc(n_rows * sizeof *d.pos_idx);
    if (!count || !fill || !d.pos_off || !d.pos_idx) {
        st = sbert_fail(SBERT_ERR_NOMEM, "mining: out of memory (%zu queries)", d.nq);
        goto done;
    }
    for (size_t r = 0; r < n_rows; r++)
        count[row_q[r]]++;
    for (size_t q = 0; q < d.nq; q++) {
        d.pos_off[q + 1] = d.pos_off[q] + count[q];
        if (count[q] > d.max_positives)
            d.max_positives = count[q];
    }
    d.mean_positives = (double)n_rows / (double)d.nq;
    for (size_t r = 0; r < n_rows; r++) {
        size_t q = row_q[r], *p = d.pos_idx + d.pos_off[q];
        int seen = 0;
        for (size_t t = 0; t < fill[q]; t++)
            if (p[t] == row_p[r]) {
                seen = 1;
                break;
            }
        if (!seen)
            p[fill[q]++] = row_p[r];
    }
    /* compact: drop the room left by duplicate positives */
    size_t w = 0;
    for (size_t q = 0; q < d.nq; q++) {
        size_t start = d.pos_off[q];
        d.pos_off[q] = w;
        for (size_t t = 0; t < fill[q]; t++)
            d.pos_idx[w++] = d.pos_idx[start + t];
    }
    d.pos_off[d.nq] = w;
    d.n_pairs = w;
done:
    map_free(&cm);
    map_free(&qm);
    free(row_q);
    free(row_p);
    free(count);
    free(fill);
    if (st != SBERT_OK) {
        sbert_mine_data_free(&d);
        return st;
    }
    *out = d;
    return SBERT_OK;
}

/* ---------------------------------------------------------------- report */

static void logf_(const sbert_mine_env *env, const char *fmt, ...) SBERT_PRINTF(2, 3);
static void logf_(const sbert_mine_env *env, const char *fmt, ...) {
    if (!env || !env->log)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    env->log(buf, env->log_user);
}

void sbert_py_float_repr(double v, char *buf, size_t cap) {
    if (isnan(v)) {
        snprintf(buf, cap, "nan");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, cap, v > 0 ? "inf" : "-inf");
        return;
    }
    char tmp[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    /* Python: exponent form only below 1e-4 or from 1e16; "1e-05" like %g */
    double a = fabs(v);
    if (strchr(tmp, 'e') && a >= 1e-4 && a < 1e16) {
        /* %g chose an exponent for a number Python writes in full */
        int digits = 0;
        for (const char *s = tmp; *s && *s != 'e'; s++)
            if (*s >= '0' && *s <= '9')
                digits++;
        int exp10 = (int)floor(log10(a));
        int decimals = digits - 1 - exp10;
        snprintf(tmp, sizeof tmp, "%.*f", decimals > 0 ? decimals : 0, v);
    }
    if (!strchr(tmp, '.') && !strchr(tmp, 'e') && !strchr(tmp, 'n'))
        snprintf(buf, cap, "%s.0", tmp);
    else
        snprintf(buf, cap, "%s", tmp);
}

/* "{:,}" of a count */
static void fmt_count(size_t v, char *buf, size_t cap) {
    char d[32];
    int n = snprintf(d, sizeof d, "%zu", v);
    size_t o = 0;
    for (int i = 0; i < n && o + 2 < cap; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = d[i];
    }
    buf[o] = 0;
}

/* "{:.4f}" of a float32 value (or "inf"/"-inf"/"nan" as Python writes them) */
static void fmt_stat(double v, char *buf, size_t cap) {
    if (isnan(v))
        snprintf(buf, cap, "nan");
    else if (isinf(v))
        snprintf(buf, cap, v > 0 ? "inf" : "-inf");
    else
        snprintf(buf, cap, "%.4f", v);
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y ? 1 : 0;
}

/* mean, median (lower middle, as torch.median), std (unbiased), min, the 25/50/75%
 * quantiles (linear), max of v [n] (sorted in place). Empty: nan, nan, nan, inf,
 * inf, inf, inf, -inf as the Python report prints them. */
static void describe(float *v, size_t n, double out[8]) {
    if (n == 0) {
        double e[8] = {NAN, NAN, NAN, INFINITY, INFINITY, INFINITY, INFINITY, -INFINITY};
        memcpy(out, e, sizeof e);
        return;
    }
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    double mean = s / (double)n, ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += ((double)v[i] - mean) * ((double)v[i] - mean);
    qsort(v, n, sizeof *v, cmp_float);
    out[0] = (float)mean;
    out[1] = v[(n - 1) / 2];
    out[2] = n > 1 ? (float)sqrt(ss / (double)(n - 1)) : NAN;
    out[3] = v[0];
    static const double qs[3] = {0.25, 0.5, 0.75};
    for (int k = 0; k < 3; k++) {
        double pos = qs[k] * (double)(n - 1);
        size_t lo = (size_t)floor(pos), hi = lo + 1 < n ? lo + 1 : lo;
        double w = pos - (double)lo;
        out[4 + k] = (float)((double)v[lo] + ((double)v[hi] - v[lo]) * w);
    }
    out[7] = v[n - 1];
}

/* ------------------------------------------------------------------ plan */

static const char *const FORMAT_NAMES[] = {"triplet", "n-tuple", "labeled-pair", "labeled-list"};

sbert_status sbert_mine_plan_make(const sbert_mine_data *d, const sbert_mine_options *opt, int has_rescorer,
                                  const char *corpus_name, sbert_mine_plan *plan) {
    sbert_mine_env env = {0};
    env.log = opt->log;
    env.log_user = opt->log_user;
    memset(plan, 0, sizeof *plan);
    plan->range_min = opt->range_min;
    plan->num_negatives = opt->num_negatives;
    plan->max_score = opt->max_score;
    plan->min_score = opt->min_score;
    plan->absolute_margin = opt->absolute_margin;
    plan->relative_margin = opt->relative_margin;
    plan->include_positives = opt->include_positives;
    plan->output_scores = opt->output_scores;
    plan->seed = opt->seed;
    const char *strategy = opt->sampling_strategy ? opt->sampling_strategy : "top";
    if (strcmp(strategy, "top") == 0)
        plan->random = 0;
    else if (strcmp(strategy, "random") == 0)
        plan->random = 1;
    else
        return sbert_fail(SBERT_ERR_INVALID_ARG, "sampling_strategy '%s' is not one of 'top', 'random'", strategy);
    const double fl[4] = {opt->max_score, opt->min_score, opt->absolute_margin, opt->relative_margin};
    static const char *const fl_names[4] = {"max_score", "min_score", "absolute_margin", "relative_margin"};
    for (int i = 0; i < 4; i++)
        if (isinf(fl[i]))
            return sbert_fail(SBERT_ERR_INVALID_ARG, "%s must be a finite number (NAN turns it off)", fl_names[i]);
    const char *fmt = opt->output_format ? opt->output_format : "triplet";
    char fmtbuf[32];
    snprintf(fmtbuf, sizeof fmtbuf, "%s", fmt);
    if (opt->include_positives) {
        if (opt->range_min != 0 || opt->range_max != 0 || !isnan(opt->max_score) || !isnan(opt->min_score) ||
            !isnan(opt->absolute_margin) || !isnan(opt->relative_margin) || plan->random)
            logf_(&env, "warning: When using `include_positives=True`, updating `range_min`, `range_max`, "
                        "`max_score`, `min_score`, `absolute_margin`, `relative_margin`, or `sampling_strategy` "
                        "from the default values may still discard the positive values.");
        if (strcmp(fmtbuf, "n-tuple") != 0) {
            logf_(&env, "warning: When using `include_positives=True`, `output_format` will be set to "
                        "`\"n-tuple\"` to ensure that the ranking order is preserved.");
            snprintf(fmtbuf, sizeof fmtbuf, "n-tuple");
        }
    }
    if (strcmp(fmtbuf, "n-tuple-scores") == 0) {
        logf_(&env, "warning: `output_format=\"n-tuple-scores\"` is deprecated. Use `output_format=\"n-tuple\"` "
                    "with `output_scores=True` instead for equivalent output formats.");
        snprintf(fmtbuf, sizeof fmtbuf, "n-tuple");
        plan->output_scores = 1;
    }
    int f = -1;
    for (int i = 0; i < 4; i++)
        if (strcmp(fmtbuf, FORMAT_NAMES[i]) == 0)
            f = i;
    if (f < 0)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "Invalid output_format: %s. Must be one of 'triplet', 'n-tuple', 'n-tuple-scores', "
                          "'labeled-pair', or 'labeled-list'.",
                          fmt);
    plan->format = (sbert_mine_format)f;
    if (opt->num_negatives < 1)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "num_negatives must be at least 1, got num_negatives=%zu.",
                          opt->num_negatives);
    if (opt->range_max == 0) {
        int filtered = !isnan(opt->absolute_margin) || !isnan(opt->relative_margin) || !isnan(opt->max_score) ||
                       (has_rescorer && !isnan(opt->min_score));
        plan->range_max = opt->range_min + opt->num_negatives * (filtered ? 10 : 1) + d->max_positives;
        plan->range_max_derived = 1;
        logf_(&env, "Setting range_max to %zu based on the provided parameters.", plan->range_max);
    } else {
        plan->range_max = opt->range_max;
    }
    if (d->nq != d->n_rows)
        logf_(&env, "Found %zu unique queries out of %zu total queries.", d->nq, d->n_rows);
    if (d->max_positives > 1)
        logf_(&env, "Found an average of %.3f positives per query.", d->mean_positives);
    if (plan->range_min >= plan->range_max)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "range_min must be smaller than range_max, got range_min=%zu and range_max=%zu.",
                          plan->range_min, plan->range_max);
    if (plan->num_negatives > plan->range_max - plan->range_min)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "Cannot mine %zu negatives per query: only %zu candidates remain after skipping the first "
                          "range_min=%zu of range_max=%zu. Consider decreasing num_negatives or range_min, or "
                          "increasing range_max.",
                          plan->num_negatives, plan->range_max - plan->range_min, plan->range_min, plan->range_max);
    if (d->nc < plan->range_max)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "%s: the corpus has %zu documents (deduplicated, positives included), fewer than "
                          "range_max=%zu%s: every query would rank the whole corpus. Lower range_max (or "
                          "num_negatives/range_min it is derived from) to at most %zu, or add documents.",
                          corpus_name ? corpus_name : "corpus", d->nc, plan->range_max,
                          plan->range_max_derived ? " (derived from range_min + num_negatives + max_positives)" : "",
                          d->nc);
    return SBERT_OK;
}

/* ------------------------------------------------------------------- run */

void sbert_mine_table_free(sbert_mine_table *t) {
    if (!t)
        return;
    free(t->q);
    free(t->off);
    free(t->doc);
    free(t->val);
    free(t->label);
    memset(t, 0, sizeof *t);
}

/* growable output */
typedef struct {
    sbert_mine_table *t;
    size_t cap_rows, cap_ent, n_ent;
} table_builder;

static int tb_row(table_builder *b, size_t q, unsigned char label) {
    sbert_mine_table *t = b->t;
    if (t->n + 1 >= b->cap_rows) {
        size_t nc = b->cap_rows ? 2 * b->cap_rows : 1024;
        size_t *nq = realloc(t->q, nc * sizeof *nq);
        if (!nq)
            return -1;
        t->q = nq;
        size_t *no = realloc(t->off, (nc + 1) * sizeof *no);
        if (!no)
            return -1;
        t->off = no;
        unsigned char *nl = realloc(t->label, nc);
        if (!nl)
            return -1;
        t->label = nl;
        b->cap_rows = nc;
    }
    if (t->n == 0)
        t->off[0] = 0;
    t->q[t->n] = q;
    t->label[t->n] = label;
    t->n++;
    t->off[t->n] = b->n_ent;
    return 0;
}

static int tb_ent(table_builder *b, int32_t doc, float val) {
    sbert_mine_table *t = b->t;
    if (b->n_ent >= b->cap_ent) {
        size_t nc = b->cap_ent ? 2 * b->cap_ent : 4096;
        int32_t *nd = realloc(t->doc, nc * sizeof *nd);
        if (!nd)
            return -1;
        t->doc = nd;
        float *nv = realloc(t->val, nc * sizeof *nv);
        if (!nv)
            return -1;
        t->val = nv;
        b->cap_ent = nc;
    }
    t->doc[b->n_ent] = doc;
    t->val[b->n_ent] = val;
    b->n_ent++;
    t->off[t->n] = b->n_ent;
    return 0;
}

/* growable float list for the statistics */
typedef struct {
    float *v;
    size_t n, cap;
} flist;

static int fl_push(flist *l, float x) {
    if (l->n == l->cap) {
        size_t nc = l->cap ? 2 * l->cap : 1024;
        float *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv)
            return -1;
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = x;
    return 0;
}

sbert_status sbert_mine_run(const sbert_mine_data *d, const sbert_mine_plan *p, float *qemb, float *cemb, size_t dim,
                            const sbert_mine_env *env, sbert_mine_table *out, sbert_mine_summary *sum) {
    memset(out, 0, sizeof *out);
    const size_t nq = d->nq, nc = d->nc, N = p->num_negatives;
    const size_t K = p->range_max + d->max_positives; /* columns of the candidate matrix */
    const size_t kk = K < nc ? K : nc;                  /* documents the search returns */
    const size_t W = p->range_max - p->range_min;      /* the window after range_min */
    sbert_status st = SBERT_OK;
    float *cv = NULL, *pos = NULL, *minpos = NULL, *sv = NULL, *row = NULL, *negv = NULL;
    int32_t *ci = NULL, *si = NULL, *negi = NULL;
    sbert_vi *work = NULL, *top = NULL;
    size_t *pick = NULL;
    flist fneg = {0}, fdiff = {0};
    float *fpos = NULL;
    table_builder tb = {out, 0, 0, 0};

    if (nq > SIZE_MAX / (K ? K : 1) / sizeof(float))
        return sbert_fail(SBERT_ERR_NOMEM, "mining: %zu queries x %zu candidates does not fit in memory", nq, K);
    cv = malloc(nq * K * sizeof *cv);
    ci = malloc(nq * K * sizeof *ci);
    sv = malloc(nq * kk * sizeof *sv);
    si = malloc(nq * kk * sizeof *si);
    pos = malloc((d->n_pairs ? d->n_pairs : 1) * sizeof *pos);
    minpos = malloc((nq ? nq : 1) * sizeof *minpos);
    row = malloc(K * sizeof *row);
    work = malloc(K * sizeof *work);
    top = malloc(K * sizeof *top);
    negv = malloc(nq * N * sizeof *negv);
    negi = malloc(nq * N * sizeof *negi);
    pick = malloc((N + W) * sizeof *pick);
    if (!cv || !ci || !sv || !si || !pos || !minpos || !row || !work || !top || !negv || !negi || !pick) {
        st = sbert_fail(SBERT_ERR_NOMEM, "mining: out of memory (%zu queries x %zu candidates)", nq, K);
        goto done;
    }

    /* positive scores: similarity_pairwise(query, positive), before the search
     * normalizes the embeddings in place */
    for (size_t q = 0; q < nq; q++)
        for (size_t t = d->pos_off[q]; t < d->pos_off[q + 1]; t++)
            if ((st = sbert_search_pairwise(qemb + q * dim, cemb + d->pos_idx[t] * dim, 1, dim, env->sim,
                                            &pos[t])) != SBERT_OK)
                goto done;

    /* the K best documents of each query, padded with (-inf, -1) as Python pads */
    sbert_search_options so = {env->query_chunk, env->corpus_chunk, 0};
    if ((st = sbert_search_topk(qemb, nq, cemb, nc, dim, env->sim, kk, &so, sv, si)) != SBERT_OK)
        goto done;
    sum->n_tie_rows = so.n_fallback;
    for (size_t q = 0; q < nq; q++)
        for (size_t t = 0; t < K; t++) {
            cv[q * K + t] = t < kk ? sv[q * kk + t] : -INFINITY;
            ci[q * K + t] = t < kk ? si[q * kk + t] : -1;
        }
    free(sv);
    free(si);
    sv = NULL;
    si = NULL;

    /* rescoring by a CrossEncoder, only when a filter will use the scores */
    int filters = !isnan(p->absolute_margin) || !isnan(p->relative_margin) || !isnan(p->max_score) ||
                  !isnan(p->min_score);
    if (env->rescore && filters) {
        const char **docs = malloc((K ? K : 1) * sizeof *docs);
        if (!docs) {
            st = sbert_fail(SBERT_ERR_NOMEM, "mining: out of memory");
            goto done;
        }
        for (size_t q = 0; q < nq && st == SBERT_OK; q++) {
            size_t n = 0;
            for (size_t t = 0; t < K && ci[q * K + t] >= 0; t++)
                docs[n++] = d->corpus[ci[q * K + t]];
            if (n)
                st = env->rescore(env->rescore_user, d->queries[q], docs, n, cv + q * K);
            size_t np = d->pos_off[q + 1] - d->pos_off[q];
            for (size_t t = 0; t < np && st == SBERT_OK; t++)
                docs[t] = d->corpus[d->pos_idx[d->pos_off[q] + t]];
            if (st == SBERT_OK && np)
                st = env->rescore(env->rescore_user, d->queries[q], docs, np, pos + d->pos_off[q]);
        }
        free(docs);
        if (st != SBERT_OK)
            goto done;
    }
    for (size_t e = 0; e < nq * K; e++)
        if (ci[e] == -1)
            cv[e] = -INFINITY;

    if (!p->include_positives)
        for (size_t q = 0; q < nq; q++)
            for (size_t t = 0; t < K; t++)
                for (size_t u = d->pos_off[q]; u < d->pos_off[q + 1]; u++)
                    if ((size_t)ci[q * K + t] == d->pos_idx[u] && ci[q * K + t] >= 0)
                        cv[q * K + t] = -INFINITY;

    size_t num_candidates = nq * K;
    for (int i = 0; i < 4; i++) {
        sum->skipped[i] = 0;
        sum->skipped_ratio[i] = 0;
    }
    if (!isnan(p->absolute_margin) || !isnan(p->relative_margin)) {
        /* the lowest (hardest) positive score of each query */
        for (size_t q = 0; q < nq; q++) {
            float m = INFINITY;
            for (size_t t = d->pos_off[q]; t < d->pos_off[q + 1]; t++)
                if (pos[t] < m)
                    m = pos[t];
            minpos[q] = m;
        }
        if (!isnan(p->absolute_margin)) {
            float am = (float)p->absolute_margin;
            size_t skipped = 0;
            for (size_t q = 0; q < nq; q++)
                for (size_t t = 0; t < K; t++) {
                    float *v = &cv[q * K + t];
                    float s = *v + am;
                    if (s > minpos[q]) {
                        *v = -INFINITY;
                        skipped++;
                    }
                }
            if (skipped) {
                sum->skipped[0] = skipped;
                sum->skipped_ratio[0] = (double)skipped / (double)num_candidates;
                num_candidates -= skipped;
            }
        }
        if (!isnan(p->relative_margin)) {
            float rm = (float)p->relative_margin;
            size_t skipped = 0;
            for (size_t q = 0; q < nq; q++) {
                float thr = minpos[q] - fabsf(minpos[q]) * rm;
                for (size_t t = 0; t < K; t++)
                    if (cv[q * K + t] > thr) {
                        cv[q * K + t] = -INFINITY;
                        skipped++;
                    }
            }
            if (skipped) {
                sum->skipped[1] = skipped;
                sum->skipped_ratio[1] = (double)skipped / (double)num_candidates;
                num_candidates -= skipped;
            }
        }
    }
    if (!isnan(p->max_score)) {
        float ms = (float)p->max_score;
        size_t skipped = 0;
        for (size_t e = 0; e < nq * K; e++)
            if (cv[e] > ms) {
                cv[e] = -INFINITY;
                skipped++;
            }
        if (skipped) {
            sum->skipped[2] = skipped;
            sum->skipped_ratio[2] = (double)skipped / (double)num_candidates;
        }
    }
    if (!isnan(p->min_score)) {
        /* already-removed candidates (-inf) are below min_score too and count again, as in Python */
        float ms = (float)p->min_score;
        size_t skipped = 0;
        for (size_t e = 0; e < nq * K; e++)
            if (cv[e] < ms) {
                cv[e] = -INFINITY;
                skipped++;
            }
        if (skipped) {
            sum->skipped[3] = skipped;
            sum->skipped_ratio[3] = (double)skipped / (double)num_candidates;
        }
    }

    /* torch.topk(scores, range_max), drop range_min, then top / random */
    sbert_pyrandom rng;
    if (p->random)
        sbert_pyrandom_seed(&rng, p->seed);
    for (size_t q = 0; q < nq; q++) {
        sbert_torch_topk(cv + q * K, K, p->range_max, work, top);
        const sbert_vi *win = top + p->range_min;
        float *ov = negv + q * N;
        int32_t *oi = negi + q * N;
        if (!p->random) {
            for (size_t j = 0; j < N; j++) {
                ov[j] = win[j].v;
                oi[j] = ci[q * K + win[j].i];
            }
            continue;
        }
        size_t n_inf = 0;
        for (size_t j = 0; j < W; j++)
            if (isinf(win[j].v))
                n_inf++;
        size_t options = W - n_inf < N ? N : W - n_inf;
        if ((st = sbert_pyrandom_sample_range(&rng, options, N, pick)) != SBERT_OK)
            goto done;
        sbert_vi *s = work; /* the sampled values, re-sorted by Tensor.sort(descending=True) */
        for (size_t j = 0; j < N; j++) {
            s[j].v = win[pick[j]].v;
            s[j].i = (int64_t)j;
        }
        sbert_torch_sort_desc(s, N);
        for (size_t j = 0; j < N; j++) {
            ov[j] = s[j].v;
            oi[j] = ci[q * K + win[pick[s[j].i]].i];
        }
    }
    logf_(env, "Negative candidates mined, preparing dataset...");

    /* the rows of the output format, and the negative / difference scores of the report */
    out->format = p->format;
    out->output_scores = p->output_scores;
    out->num_negatives = N;
    size_t max_possible = 0;
#define OOM_IF(x)                                                                        \
    do {                                                                                 \
        if (x) {                                                                         \
            st = sbert_fail(SBERT_ERR_NOMEM, "mining: out of memory building the output"); \
            goto done;                                                                   \
        }                                                                                \
    } while (0)
    switch (p->format) {
    case SBERT_MINE_TRIPLET:
        for (size_t q = 0; q < nq; q++)
            for (size_t t = d->pos_off[q]; t < d->pos_off[q + 1]; t++)
                for (size_t j = 0; j < N; j++) {
                    float nv = negv[q * N + j];
                    if (nv == -INFINITY)
                        continue;
                    OOM_IF(tb_row(&tb, q, 0) || tb_ent(&tb, (int32_t)d->pos_idx[t], pos[t]) ||
                           tb_ent(&tb, negi[q * N + j], nv));
                    OOM_IF(fl_push(&fneg, nv) || fl_push(&fdiff, pos[t] - nv));
                }
        max_possible = d->n_pairs * N;
        break;
    case SBERT_MINE_LABELED_PAIR:
        for (size_t q = 0; q < nq; q++) {
            for (size_t t = d->pos_off[q]; t < d->pos_off[q + 1]; t++)
                OOM_IF(tb_row(&tb, q, 1) || tb_ent(&tb, (int32_t)d->pos_idx[t], pos[t]));
            for (size_t j = 0; j < N; j++) {
                float nv = negv[q * N + j];
                if (nv == -INFINITY)
                    continue;
                OOM_IF(tb_row(&tb, q, 0) || tb_ent(&tb, negi[q * N + j], nv));
            }
            for (size_t t = d->pos_off[q]; t < d->pos_off[q + 1]; t++)
                for (size_t j = 0; j < N; j++) {
                    float nv = negv[q * N + j];
                    if (nv != -INFINITY)
                        OOM_IF(fl_push(&fneg, nv) || fl_push(&fdiff, pos[t] - nv));
                }
        }
        max_possible = nq * N + d->n_rows;
        break;
    case SBERT_MINE_NTUPLE:
        for (size_t q = 0; q < nq; q++)
            for (size_t t = d->pos_off[q]; t < d->pos_off[q + 1]; t++) {
                int all = 1;
                for (size_t j = 0; j < N; j++)
                    if (negv[q * N + j] == -INFINITY)
                        all = 0;
                if (!all)
                    continue;
                OOM_IF(tb_row(&tb, q, 0) || tb_ent(&tb, (int32_t)d->pos_idx[t], pos[t]));
                for (size_t j = 0; j < N; j++) {
                    OOM_IF(tb_ent(&tb, negi[q * N + j], negv[q * N + j]));
                    OOM_IF(fl_push(&fneg, negv[q * N + j]) || fl_push(&fdiff, pos[t] - negv[q * N + j]));
                }
            }
        max_possible = d->n_pairs;
        break;
    case SBERT_MINE_LABELED_LIST:
        for (size_t q = 0; q < nq; q++)
            for (size_t t = d->pos_off[q]; t < d->pos_off[q + 1]; t++) {
                int any = 0;
                for (size_t j = 0; j < N; j++)
                    if (negv[q * N + j] != -INFINITY)
                        any = 1;
                for (size_t j = 0; j < N; j++) {
                    float nv = negv[q * N + j];
                    if (nv != -INFINITY)
                        OOM_IF(fl_push(&fneg, nv) || fl_push(&fdiff, pos[t] - nv));
                }
                if (!any)
                    continue;
                OOM_IF(tb_row(&tb, q, 0) || tb_ent(&tb, (int32_t)d->pos_idx[t], pos[t]));
                for (size_t j = 0; j < N; j++)
                    if (negv[q * N + j] != -INFINITY)
                        OOM_IF(tb_ent(&tb, negi[q * N + j], negv[q * N + j]));
            }
        max_possible = d->n_pairs;
        break;
    }
#undef OOM_IF

    /* the report */
    sum->n_rows = d->n_rows;
    sum->n_queries = nq;
    sum->n_corpus = nc;
    sum->range_max = p->range_max;
    sum->n_output = out->n;
    snprintf(sum->output_format, sizeof sum->output_format, "%s", FORMAT_NAMES[p->format]);
    sum->output_scores = p->output_scores;
    sum->count[0] = d->n_pairs;
    sum->count[1] = fneg.n;
    fpos = malloc((d->n_pairs ? d->n_pairs : 1) * sizeof *fpos);
    if (!fpos) {
        st = sbert_fail(SBERT_ERR_NOMEM, "mining: out of memory");
        goto done;
    }
    memcpy(fpos, pos, d->n_pairs * sizeof *fpos);
    describe(fpos, d->n_pairs, sum->stats[0]);
    describe(fneg.v, fneg.n, sum->stats[1]);
    describe(fdiff.v, fdiff.n, sum->stats[2]);
    sum->missing = max_possible > out->n ? max_possible - out->n : 0;
    sum->missing_ratio = max_possible ? (double)sum->missing / (double)max_possible : 0;

    if (env->log) {
        char a[64], b[64], c[64];
        logf_(env, "%-6s %14s %14s %14s", "Metric", "Positive", "Negative", "Difference");
        fmt_count(sum->count[0], a, sizeof a);
        fmt_count(sum->count[1], b, sizeof b);
        logf_(env, "%-6s %14s %14s %14s", "Count", a, b, "");
        static const char *const names[8] = {"Mean", "Median", "Std", "Min", "25%", "50%", "75%", "Max"};
        for (int m = 0; m < 8; m++) {
            fmt_stat(sum->stats[0][m], a, sizeof a);
            fmt_stat(sum->stats[1][m], b, sizeof b);
            fmt_stat(sum->stats[2][m], c, sizeof c);
            logf_(env, "%-6s %14s %14s %14s", names[m], a, b, c);
        }
        static const char *const pnames[4] = {"absolute_margin", "relative_margin", "max_score", "min_score"};
        const double pvals[4] = {p->absolute_margin, p->relative_margin, p->max_score, p->min_score};
        for (int i = 0; i < 4; i++) {
            if (!sum->skipped[i])
                continue;
            fmt_count(sum->skipped[i], a, sizeof a);
            sbert_py_float_repr(pvals[i], b, sizeof b);
            logf_(env, "Skipped %s potential negatives (%.2f%%) due to the %s of %s.", a,
                  sum->skipped_ratio[i] * 100.0, pnames[i], b);
        }
        if (sum->missing) {
            const char *sol[5];
            int ns = 0;
            sol[ns++] = "range_max";
            if (p->range_min > 0)
                sol[ns++] = "range_min";
            if (!isnan(p->absolute_margin))
                sol[ns++] = "absolute_margin";
            if (!isnan(p->relative_margin))
                sol[ns++] = "relative_margin";
            if (!isnan(p->max_score))
                sol[ns++] = "max_score";
            char cons[160] = "";
            for (int i = 0; i < ns; i++) {
                size_t l = strlen(cons);
                snprintf(cons + l, sizeof cons - l, "%s%s", i == 0 ? "" : (i == ns - 1 ? " and " : ", "), sol[i]);
            }
            logf_(env,
                  "Could not find enough negatives for %zu samples (%.2f%%). Consider adjusting the %s parameter%s "
                  "if you'd like to find more valid negatives.",
                  sum->missing, sum->missing_ratio * 100.0, cons, ns > 1 ? "s" : "");
        }
    }

done:
    free(cv);
    free(ci);
    free(sv);
    free(si);
    free(pos);
    free(minpos);
    free(row);
    free(work);
    free(top);
    free(negv);
    free(negi);
    free(pick);
    free(fneg.v);
    free(fdiff.v);
    free(fpos);
    if (st != SBERT_OK)
        sbert_mine_table_free(out);
    return st;
}
