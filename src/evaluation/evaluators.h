/*
 * evaluation/evaluators.h -- sentence-transformers evaluators over any
 * encoder given as a callback (the trainer's model, or a loaded sbert_model),
 * and the evaluator table.
 *
 * The table (evaluators.c) has one row per evaluator: its Python class name,
 * the model kinds it applies to, what its data file holds, a loader, the
 * function that runs it, and a one-line summary of its data. The set below
 * (SequentialEvaluator), `sbert evaluate`, the trainer, usage text and the
 * model card all read the table; adding an evaluator is one new file with
 * its load/run functions plus one row.
 *
 *   EmbeddingSimilarityEvaluator (embedding_similarity.c): pairs (s1, s2)
 *   with gold scores; pairwise cosine similarity; metrics
 *   {name}_pearson_cosine, {name}_spearman_cosine; primary spearman.
 *
 *   InformationRetrievalEvaluator (information_retrieval.c): queries, a
 *   corpus and the relevant corpus ids of each query (a JSON file, see
 *   sbert_ir_data_load). Queries and corpus are encoded, scored with the
 *   model's similarity function (cosine unless the model says "dot"), ranked
 *   by (-score, corpus id) and measured with sbert_ir_metrics and the default
 *   k lists; keys {name}_{fn}_{accuracy|precision|recall|ndcg|mrr|map}@{k};
 *   primary {name}_{fn}_ndcg@10. sentence-transformers v6 encodes queries
 *   with encode_query and the corpus with encode_document, i.e. with the
 *   model's "query" / "document" prompts when it has them: sbert_evaluate
 *   does the same through sbert_eval_encoder's query_ctx / document_ctx.
 *
 *   TripletEvaluator (triplet_evaluator.c): (anchor, positive, negative)
 *   rows; accuracy = share of triplets with sim(a, p) > sim(a, n) under the
 *   model's similarity function; key {name}_{fn}_accuracy (primary).
 *
 *   SequentialEvaluator: an sbert_evaluator_set runs several evaluators in
 *   order and merges their metrics; the primary metric is the last
 *   evaluator's, as SequentialEvaluator's default main_score_function.
 *   Written as comma lists ("EmbeddingSimilarityEvaluator,
 *   InformationRetrievalEvaluator" with "a.jsonl,b.json" and
 *   "sts-dev,cranfield"); see sbert_evaluator_set_load.
 */
#ifndef SBERT_EVALUATION_EVALUATORS_H
#define SBERT_EVALUATION_EVALUATORS_H

#include <stddef.h>

#include "evaluation/metrics.h"

/* Encode n texts into out [n, dim]. */
typedef sbert_status (*sbert_encode_fn)(void *ctx, const char *const *texts, size_t n, float *out);

#define SBERT_EVAL_MAX_METRICS 256

typedef struct {
    sbert_metric m[SBERT_EVAL_MAX_METRICS];
    size_t n;
    char primary[96]; /* key of the primary metric */
} sbert_eval_result;

/* Value of `key` in r, or NAN. */
double sbert_eval_get(const sbert_eval_result *r, const char *key);
/* Append metric "{name}_{what}" (or "{what}" when name is empty). */
void sbert_eval_put(sbert_eval_result *r, const char *name, const char *what, double v);
/* Set the primary key to "{name}_{what}" (or "{what}"). */
void sbert_eval_set_primary(sbert_eval_result *r, const char *name, const char *what);

sbert_status sbert_eval_embedding_similarity(sbert_encode_fn enc, void *ctx, size_t dim,
                                             const char *const *s1, const char *const *s2,
                                             const double *gold, size_t n, const char *name,
                                             sbert_eval_result *out);

/* How an evaluator reaches the model. fn(ctx, ...) encodes plain texts;
 * queries go through query_ctx and corpus documents through document_ctx
 * when those are not NULL (encode_query / encode_document). score_fn is the
 * model's similarity function name ("cosine", "dot"); NULL means cosine. */
/* Score n pairs (a[i], b[i]) with a CrossEncoder: out [n, num_labels] after
 * the model's activation (CrossEncoder.predict). */
typedef sbert_status (*sbert_predict_fn)(void *ctx, const char *const *a, const char *const *b, size_t n, float *out);

typedef struct {
    sbert_encode_fn fn;
    void *ctx, *query_ctx, *document_ctx;
    size_t dim;
    const char *score_fn;
    /* CrossEncoder evaluators: predict (NULL for an embedding model). */
    sbert_predict_fn predict;
    void *predict_ctx;
    size_t num_labels;
    /* 1u << sbert_model_kind of the model behind fn (0: unknown, no check):
     * an evaluator of another kind (a Sparse* evaluator on a dense model) is
     * refused by sbert_evaluator_set_run. */
    unsigned kind_bit;
    /* LabelAccuracyEvaluator: the SoftmaxLoss classifier of a training run
     * (an sbert_eval_classifier, evaluation/st_evaluators.h), or NULL. */
    const void *classifier;
} sbert_eval_encoder;

/* InformationRetrievalEvaluator data, loaded from a JSON file:
 *   {"queries":       {"<qid>": "query text", ...},
 *    "corpus":        {"<cid>": "document text", ...},
 *    "relevant_docs": {"<qid>": ["<cid>", ...], ...}}
 * Every id in relevant_docs must be a key of queries / corpus. Only queries
 * with at least one relevant document are kept (the evaluator drops the
 * others), in file order; duplicate relevant ids count once (a set). */
typedef struct {
    size_t nq, nc;
    const char **qids, **qtexts;  /* [nq] */
    const char **cids, **ctexts;  /* [nc] */
    size_t *rel_offsets;          /* [nq+1] */
    size_t *rel_idx;              /* [rel_offsets[nq]] corpus indices */
    void *json;                   /* owns the strings */
} sbert_ir_data;

sbert_status sbert_ir_data_load(const char *path, sbert_ir_data *out);
void sbert_ir_data_free(sbert_ir_data *d);
/* Keep the first n queries (the corpus stays whole); n = 0 keeps all. */
void sbert_ir_data_truncate(sbert_ir_data *d, size_t n);

sbert_status sbert_eval_information_retrieval(const sbert_eval_encoder *enc, const sbert_ir_data *d,
                                              const char *name, sbert_eval_result *out);

/* How evaluators reach a loaded model: plain encode, encode_query (the
 * model's "query" prompt, when it has one) and encode_document. ctx holds
 * the three contexts and must outlive enc. */
typedef struct {
    sbert_model *model;
    sbert_encode_options opt;
} sbert_model_encode_ctx;
typedef struct {
    sbert_model_encode_ctx plain, query, document;
} sbert_model_eval_ctx;
/* For a CrossEncoder, enc->predict scores pairs with sbert_cross_encoder_predict
 * (the model's activation) in batches of batch_size, and enc->fn refuses. */
void sbert_eval_encoder_for_model(sbert_model *m, size_t batch_size, sbert_model_eval_ctx *ctx,
                                  sbert_eval_encoder *enc);

/* ------------------------------------------------------ options */

/* Options written after an evaluator's class name in a list:
 *   "BinaryClassificationEvaluator(similarity_fn_names=[cosine, dot], truncate_dim=128)"
 * Every evaluator takes truncate_dim (the embeddings cut to their first
 * truncate_dim values before scoring, as encode(truncate_dim=...)); the
 * others are the evaluator's own (see its data_help). An option that no one
 * reads is an error naming it. */
#define SBERT_EVAL_MAX_OPTS 16
typedef struct {
    size_t n;
    char key[SBERT_EVAL_MAX_OPTS][48];
    char value[SBERT_EVAL_MAX_OPTS][512];
    int used[SBERT_EVAL_MAX_OPTS];
} sbert_eval_opts;

/* The text of option `key` (marked as read), or NULL. */
const char *sbert_eval_opt(sbert_eval_opts *o, const char *key);
/* An integer option (def when absent), checked to lie in [lo, hi]. */
sbert_status sbert_eval_opt_size(sbert_eval_opts *o, const char *key, size_t def, size_t lo, size_t hi, size_t *out);
/* A list option "[a, b]" / "a" into items (at most cap, each < 64 chars). */
sbert_status sbert_eval_opt_list(sbert_eval_opts *o, const char *key, char (*items)[64], size_t cap, size_t *n);

/* ------------------------------------------------------ the table */

typedef struct {
    const char *name;      /* the Python class, e.g. "TripletEvaluator" */
    unsigned kinds;        /* model kinds it applies to: bit (1u << sbert_model_kind) */
    const char *data_help; /* what its data file holds */
    /* Load `path`; max_samples > 0 keeps the first rows / queries. */
    sbert_status (*load)(const char *path, size_t max_samples, void **data);
    void (*free)(void *data);
    sbert_status (*run)(const void *data, const sbert_eval_encoder *enc, const char *name, sbert_eval_result *out);
    /* "1500 pairs", "225 queries x 1400 documents" */
    size_t (*summary)(const void *data, char *buf, size_t cap);
    /* Optional: load with options (used instead of load when present). */
    sbert_status (*load_opts)(const char *path, size_t max_samples, sbert_eval_opts *opts, void **data);
} sbert_evaluator_def;

/* The row named `name`, or NULL; rows with run == NULL exist in
 * sentence-transformers but not here yet. */
const sbert_evaluator_def *sbert_evaluator_find(const char *name);
size_t sbert_evaluator_count(void);
const sbert_evaluator_def *sbert_evaluator_at(size_t i);

/* The loaders/runners of each evaluator (one file each). */
sbert_status sbert_similarity_eval_load(const char *path, size_t max_samples, void **data);
void sbert_similarity_eval_free(void *data);
sbert_status sbert_similarity_eval_run(const void *data, const sbert_eval_encoder *enc, const char *name,
                                       sbert_eval_result *out);
size_t sbert_similarity_eval_summary(const void *data, char *buf, size_t cap);
sbert_status sbert_ir_eval_load(const char *path, size_t max_samples, void **data);
void sbert_ir_eval_free(void *data);
sbert_status sbert_ir_eval_run(const void *data, const sbert_eval_encoder *enc, const char *name,
                               sbert_eval_result *out);
size_t sbert_ir_eval_summary(const void *data, char *buf, size_t cap);
sbert_status sbert_triplet_eval_load(const char *path, size_t max_samples, void **data);
void sbert_triplet_eval_free(void *data);
sbert_status sbert_triplet_eval_run(const void *data, const sbert_eval_encoder *enc, const char *name,
                                    sbert_eval_result *out);
size_t sbert_triplet_eval_summary(const void *data, char *buf, size_t cap);

/* CrossEncoder evaluators (ce_reranking.c, ce_classification.c, ce_correlation.c):
 *   CrossEncoderRerankingEvaluator: samples {"query", "positive": [..],
 *     "negative": [..] | "documents": [..]} as JSONL rows, or a JSON object
 *     {"samples": [...], "at_k": 10, "always_rerank_positives": true}, or a
 *     local corpus in the NanoBEIR style {"queries", "corpus",
 *     "relevant_docs", "rankings": {qid: [cid, ...]}, "rerank_k": 100}
 *     (each query's first-stage top rerank_k documents reranked); keys map,
 *     mrr@k, ndcg@k (primary) and base_* with documents;
 *   CrossEncoderClassificationEvaluator: (sentence1, sentence2, label) rows;
 *     num_labels 1: accuracy, accuracy_threshold, f1, f1_threshold,
 *     precision, recall, average_precision (primary); more labels: f1_macro
 *     (primary), f1_micro, f1_weighted;
 *   CrossEncoderCorrelationEvaluator: (sentence1, sentence2, score) rows;
 *     pearson, spearman (primary). */
sbert_status sbert_ce_rerank_eval_load(const char *path, size_t max_samples, void **data);
void sbert_ce_rerank_eval_free(void *data);
sbert_status sbert_ce_rerank_eval_run(const void *data, const sbert_eval_encoder *enc, const char *name,
                                      sbert_eval_result *out);
size_t sbert_ce_rerank_eval_summary(const void *data, char *buf, size_t cap);
sbert_status sbert_ce_class_eval_load(const char *path, size_t max_samples, void **data);
void sbert_ce_pairs_eval_free(void *data);
sbert_status sbert_ce_class_eval_run(const void *data, const sbert_eval_encoder *enc, const char *name,
                                     sbert_eval_result *out);
size_t sbert_ce_pairs_eval_summary(const void *data, char *buf, size_t cap);
sbert_status sbert_ce_corr_eval_load(const char *path, size_t max_samples, void **data);
sbert_status sbert_ce_corr_eval_run(const void *data, const sbert_eval_encoder *enc, const char *name,
                                    sbert_eval_result *out);
/* SparseEncoder evaluators (sparse_evaluators.c): the dense ones on sparse
 * vectors, scored with the model's similarity (dot for SparseEncoders), plus
 * active-dimension statistics ({name}_query_active_dims, ...). */
sbert_status sbert_sparse_ir_eval_run(const void *data, const sbert_eval_encoder *enc, const char *name,
                                      sbert_eval_result *out);
sbert_status sbert_sparse_similarity_eval_run(const void *data, const sbert_eval_encoder *enc, const char *name,
                                              sbert_eval_result *out);
sbert_status sbert_sparse_triplet_eval_run(const void *data, const sbert_eval_encoder *enc, const char *name,
                                           sbert_eval_result *out);
sbert_status sbert_sparse_pairs_eval_load(const char *path, size_t max_samples, void **data);
sbert_status sbert_sparse_triplets_eval_load(const char *path, size_t max_samples, void **data);
void sbert_sparse_rows_eval_free(void *data);
size_t sbert_sparse_pairs_eval_summary(const void *data, char *buf, size_t cap);
size_t sbert_sparse_triplets_eval_summary(const void *data, char *buf, size_t cap);
/* " | query_active=<v> corpus_active=<v>" from the metrics ending in
 * query_active_dims / corpus_active_dims ("n/a" when absent), for the
 * VERDICT line of a SparseEncoder run. */
void sbert_eval_active_dims_suffix(const sbert_eval_result *r, char *buf, size_t cap);

/* Several evaluators run in order (SequentialEvaluator). */
typedef struct sbert_evaluator_set sbert_evaluator_set;

/* evaluators: one class name or a comma list; data: one file per evaluator
 * (comma list, same length); names: "" (only with one evaluator) or one
 * name per evaluator, distinct. max_samples > 0 keeps the first rows of
 * pair data / the first queries of IR data. Errors say which entry is wrong. */
sbert_status sbert_evaluator_set_load(const char *evaluators, const char *data, const char *names,
                                      size_t max_samples, sbert_evaluator_set **out);
/* The same for a model of kind `kind` (sbert_model_kind): its evaluators only. */
sbert_status sbert_evaluator_set_load_kind(int kind, const char *evaluators, const char *data, const char *names,
                                           size_t max_samples, sbert_evaluator_set **out);
void sbert_evaluator_set_free(sbert_evaluator_set *s);
/* teacher_pca: the MSEEvaluators of s whose teacher_model is teacher_model
 * (d wide) score against its embeddings projected by comp [k, d], as the
 * training labels are. Returns how many were projected, -1 when out of memory. */
int sbert_evaluator_set_project_teacher(sbert_evaluator_set *s, const char *teacher_model, const double *comp,
                                        size_t d, size_t k);
/* SequentialEvaluator's main_score_function: "last" (the default), "first"
 * (the skill's scores[0]), "mean", "max" or "min" over the evaluators'
 * primary scores. A metric "sequential_score" is added when several
 * evaluators run; the primary key is the chosen evaluator's primary for
 * first/last, and "sequential_score" for mean/max/min. */
sbert_status sbert_evaluator_set_main_score(sbert_evaluator_set *s, const char *fn);

/* Run every evaluator; metrics merged in order, primary per main_score_function. */
sbert_status sbert_evaluator_set_run(const sbert_evaluator_set *s, const sbert_eval_encoder *enc,
                                     sbert_eval_result *out);
/* One line per evaluator ("- `file`: EmbeddingSimilarityEvaluator `name`, 1500 pairs")
 * into buf; returns the length it needed. */
size_t sbert_evaluator_set_describe(const sbert_evaluator_set *s, char *buf, size_t cap);
/* Short summary for logs ("1500 pairs; 225 queries x 1400 documents"). */
size_t sbert_evaluator_set_summary(const sbert_evaluator_set *s, char *buf, size_t cap);
/* "EmbeddingSimilarityEvaluator, TripletEvaluator" into buf; returns buf. */
const char *sbert_evaluator_set_names(const sbert_evaluator_set *s, char *buf, size_t cap);

#endif
