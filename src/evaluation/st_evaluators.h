/*
 * evaluation/st_evaluators.h -- the SentenceTransformer evaluators of issue
 * 10 (one file each) and their metric math on given embeddings, so tests can
 * check the math against sentence-transformers on the very same embeddings:
 *
 *   binary_classification.c  BinaryClassificationEvaluator
 *   reranking.c              RerankingEvaluator
 *   mse_evaluator.c          MSEEvaluator
 *   paraphrase_mining.c      ParaphraseMiningEvaluator
 *   translation.c            TranslationEvaluator
 *   label_accuracy.c         LabelAccuracyEvaluator
 *   nano_beir.c              NanoBEIREvaluator over local IR collections
 *
 * Scores are float32 as sentence-transformers computes them on float32
 * embeddings (here in double, then rounded to float); the metrics are
 * double.
 */
#ifndef SBERT_EVALUATION_ST_EVALUATORS_H
#define SBERT_EVALUATION_ST_EVALUATORS_H

#include <stddef.h>

#include "data/dataset.h"
#include "evaluation/evaluators.h"

/* (sentence1, sentence2, number) rows of one evaluation file, shared by
 * EmbeddingSimilarityEvaluator, BinaryClassificationEvaluator and
 * LabelAccuracyEvaluator (labeled_pairs.c). s1, s2 and labels point into ds's
 * columns (no copies). */
typedef struct {
    sbert_dataset *ds;
    const char **s1, **s2;
    const double *labels;
    size_t n;
} sbert_labeled_pairs;

/* Load path (first max_samples rows when > 0) as two text columns and a
 * number label; otherwise an error "<path>: <evaluator> expects (sentence1,
 * sentence2, <label_name>) columns". */
sbert_status sbert_labeled_pairs_load(const char *path, size_t max_samples, const char *evaluator,
                                      const char *label_name, sbert_labeled_pairs *out);
void sbert_labeled_pairs_free(sbert_labeled_pairs *p);

/* Similarity functions by name: 0 cosine, 1 dot, 2 euclidean, 3 manhattan, -1 unknown. */
int sbert_sim_fn_index(const char *name);
/* Pairwise score of rows a, b [dim]: cosine (F.normalize eps 1e-12), dot, or
 * for euclidean / manhattan the DISTANCE (lower = closer), rounded to float. */
float sbert_pair_score(const float *a, const float *b, size_t dim, int fn);

/* sklearn average_precision_score(labels, scores): labels 0/1, ties grouped. */
double sbert_average_precision(const double *scores, const double *labels, size_t n);

/* BinaryClassificationEvaluator metrics of one function on pairs (e1[i],
 * e2[i]) [n, dim] with labels 0/1: out = {accuracy, accuracy_threshold, f1,
 * f1_threshold, precision, recall, ap, mcc}. */
sbert_status sbert_binary_classification_metrics(const float *e1, const float *e2, const double *labels, size_t n,
                                                 size_t dim, int fn, double out[8]);

/* RerankingEvaluator: queries q [nq, dim]; the documents of query i are
 * rows doc_off[i] .. doc_off[i+1] of docs, the first n_pos[i] relevant;
 * cosine scores. out = {map, mrr@at_k, ndcg@at_k}, means over the queries. */
sbert_status sbert_reranking_metrics(const float *q, size_t nq, const float *docs, const size_t *doc_off,
                                     const size_t *n_pos, size_t dim, size_t at_k, double out[3]);

/* sklearn ndcg_score([rel], [scores], k) for one query (ties averaged;
 * scores compared as float32, as RerankingEvaluator's are). NAN: no memory. */
double sbert_ndcg_of_scores(const double *rel, const double *scores, size_t n, size_t k);

/* TranslationEvaluator: out = {src2trg_accuracy, trg2src_accuracy,
 * mean_accuracy}; a match counts when the texts are equal. */
sbert_status sbert_translation_metrics(const float *src, const float *trg, const char *const *src_text,
                                       const char *const *trg_text, size_t n, size_t dim, double out[3]);

/* ParaphraseMiningEvaluator on embeddings [n, dim]: dup is an n x n 0/1
 * matrix (symmetric), n_dup_pairs the number of gold pairs; out =
 * {average_precision, f1, precision, recall, threshold}. */
sbert_status sbert_paraphrase_mining_metrics(const float *emb, size_t n, size_t dim, const unsigned char *dup,
                                             size_t n_dup_pairs, size_t top_k, size_t max_pairs, double out[5]);

/* LabelAccuracyEvaluator: the classifier of a SoftmaxLoss. */
typedef struct {
    const void *values;      /* const sbert_loss_values * of the SoftmaxLoss */
    const void *state;       /* const sbert_param_table * (classifier.weight, classifier.bias) */
} sbert_eval_classifier;

/* The evaluator table's functions. */
#define SBERT_EVAL_DECL(prefix)                                                                                    \
    sbert_status prefix##_load(const char *path, size_t max_samples, sbert_eval_opts *opts, void **data);         \
    void prefix##_free(void *data);                                                                                \
    sbert_status prefix##_run(const void *data, const sbert_eval_encoder *enc, const char *name,                   \
                              sbert_eval_result *out);                                                             \
    size_t prefix##_summary(const void *data, char *buf, size_t cap);
SBERT_EVAL_DECL(sbert_binary_eval)
SBERT_EVAL_DECL(sbert_reranking_eval)
SBERT_EVAL_DECL(sbert_mse_eval)
SBERT_EVAL_DECL(sbert_paraphrase_eval)
SBERT_EVAL_DECL(sbert_translation_eval)
SBERT_EVAL_DECL(sbert_label_accuracy_eval)
SBERT_EVAL_DECL(sbert_nano_beir_eval)
/* SparseEncoder evaluators that wrap the ones above (sparse_evaluators.c,
 * nano_beir.c, rrf.c). */
SBERT_EVAL_DECL(sbert_sparse_reranking_eval)
SBERT_EVAL_DECL(sbert_sparse_binary_eval)
SBERT_EVAL_DECL(sbert_sparse_mse_eval)
SBERT_EVAL_DECL(sbert_sparse_nano_beir_eval)
SBERT_EVAL_DECL(sbert_rrf_eval)

/* MSEEvaluator's loader with the teacher model's vectors cut to their
 * max_active_dims largest values (0: none; SparseMSEEvaluator). */
sbert_status sbert_mse_eval_load_k(const char *path, size_t max_samples, sbert_eval_opts *opts,
                                   size_t max_active_dims, void **data);
/* teacher_pca (training/teacher.c): an MSEEvaluator whose teacher_model is
 * `teacher_model` (the same directory) and dfull wide gets its teacher
 * embeddings projected as the labels are, x -> comp [k, dfull] . x (the PCA
 * Dense appended to the teacher); truncate_dim then cuts the projection.
 * 1: projected, 0: another evaluator's teacher (left alone), -1: out of memory. */
int sbert_mse_eval_project(void *data, const char *teacher_model, const double *comp, size_t dfull, size_t k);

/* SparseInformationRetrievalEvaluator on one collection, the vectors cut
 * to max_active_dims (0: none); qcount / ccount [dim] (or NULL): += the
 * number of query / corpus vectors using each dimension (avg_flops over
 * several collections). */
sbert_status sbert_sparse_ir_eval_with(const sbert_eval_encoder *enc, const sbert_ir_data *d, const char *name,
                                       size_t max_active_dims, double *qcount, double *ccount,
                                       sbert_eval_result *out);

#endif
