/*
 * mining/mine.h -- hard-negative mining, the algorithm of
 * sentence-transformers' util.mine_hard_negatives (v6.2) on embeddings that
 * are already computed. mine_api.c reads the files, encodes and writes; this
 * part is what tests compare with Python row for row.
 *
 * The steps, as Python runs them:
 *  1. data: queries = the anchors deduplicated in order of first appearance;
 *     corpus = dict.fromkeys(corpus + positives) (the positives when there is
 *     no separate corpus); each query's positives = the corpus indices of its
 *     rows' positives, deduplicated in order; max_positives = the most rows
 *     one anchor has (pandas groupby().count(), duplicates included).
 *  2. plan: range_max derived when not given (range_min + num_negatives +
 *     max_positives, or range_min + 10 * num_negatives + max_positives when a
 *     margin, max_score, or a rescorer with min_score is set); the option
 *     checks and their messages; include_positives forces "n-tuple";
 *     "n-tuple-scores" is "n-tuple" with scores.
 *  3. run: the top range_max + max_positives documents of each query by the
 *     model's similarity (torch.topk order, search.h); the positive pairs'
 *     scores (similarity_pairwise); optional rescoring by a CrossEncoder
 *     callback when a filter is set; positives masked (unless
 *     include_positives); absolute_margin, relative_margin (against each
 *     query's lowest positive score), max_score, min_score set candidates to
 *     -inf and are counted as Python counts them; torch.topk(range_max) of
 *     what is left; the first range_min dropped; "top" keeps the first
 *     num_negatives, "random" draws them with Python's random.sample and
 *     re-sorts them with Tensor.sort; then the rows of the output format and
 *     the statistics.
 */
#ifndef SBERT_MINING_MINE_H
#define SBERT_MINING_MINE_H

#include <stddef.h>
#include <stdint.h>

#include "sbert.h"

typedef struct {
    const char **queries; /* [nq] unique anchors (pointers into the caller's texts) */
    size_t nq;
    const char **corpus;  /* [nc] deduplicated corpus + positives */
    size_t nc;
    size_t *pos_off;      /* [nq + 1] */
    size_t *pos_idx;      /* [n_pairs] corpus index of each (query, positive) pair */
    size_t n_pairs;
    size_t n_rows;        /* dataset rows */
    size_t max_positives; /* most rows of one anchor */
    double mean_positives;/* rows per unique anchor */
} sbert_mine_data;

/* anchors/positives [n_rows]; corpus [n_corpus] or NULL (the positives). The
 * texts must outlive the data. */
sbert_status sbert_mine_data_build(const char *const *anchors, const char *const *positives, size_t n_rows,
                                   const char *const *corpus, size_t n_corpus, sbert_mine_data *out);
void sbert_mine_data_free(sbert_mine_data *d);

typedef enum {
    SBERT_MINE_TRIPLET = 0,
    SBERT_MINE_NTUPLE,
    SBERT_MINE_LABELED_PAIR,
    SBERT_MINE_LABELED_LIST
} sbert_mine_format;

typedef struct {
    size_t range_min, range_max, num_negatives;
    int range_max_derived;
    double max_score, min_score, absolute_margin, relative_margin; /* NAN: off */
    int random;
    uint64_t seed;
    int include_positives, output_scores;
    sbert_mine_format format;
} sbert_mine_plan;

/* Check the options against the data as sentence-transformers does (and the
 * corpus size: fewer documents than range_max is an error naming
 * `corpus_name`), derive range_max, normalise the format. Warnings and the
 * "Setting range_max" line go to log. has_rescorer: a CrossEncoder will
 * rescore (it changes the derived range_max with min_score). */
sbert_status sbert_mine_plan_make(const sbert_mine_data *d, const sbert_mine_options *opt, int has_rescorer,
                                  const char *corpus_name, sbert_mine_plan *plan);

/* A CrossEncoder oracle: scores[i] = score of (query, docs[i]), i < n. */
typedef sbert_status (*sbert_mine_rescore_fn)(void *user, const char *query, const char *const *docs, size_t n,
                                              float *scores);

/* The output rows. Row r: query q[r] and the documents doc[off[r]..off[r+1])
 * with their scores val[...] (the anchor-positive score first where the format
 * has a positive); label[r] is 1 for a labeled-pair row holding a positive. */
typedef struct {
    sbert_mine_format format;
    int output_scores;
    size_t num_negatives; /* n-tuple width */
    size_t n;
    size_t *q, *off;
    int32_t *doc;
    float *val;
    unsigned char *label;
} sbert_mine_table;

void sbert_mine_table_free(sbert_mine_table *t);

typedef struct {
    const char *sim;      /* the model's similarity function */
    size_t query_chunk, corpus_chunk;
    sbert_mine_rescore_fn rescore;
    void *rescore_user;
    sbert_log_fn log;
    void *log_user;
} sbert_mine_env;

/* Run the plan on q [nq, dim] and c [nc, dim] (encode's normalized
 * embeddings of d->queries and d->corpus; both are overwritten). Fills the
 * table and the summary's statistics and writes the report to env->log. */
sbert_status sbert_mine_run(const sbert_mine_data *d, const sbert_mine_plan *p, float *q, float *c, size_t dim,
                            const sbert_mine_env *env, sbert_mine_table *out, sbert_mine_summary *sum);

/* Write the table as .jsonl / .json (JSON lines) or .csv / .tsv, atomically. */
sbert_status sbert_mine_write(const sbert_mine_table *t, const sbert_mine_data *d, const char *anchor_column,
                              const char *positive_column, const char *path);

/* Python's repr() of a float (shortest round-trip digits, ".0" when integral). */
void sbert_py_float_repr(double v, char *buf, size_t cap);

#endif
