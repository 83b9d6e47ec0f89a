/*
 * losses/losses.h -- sentence-transformers losses on sentence embeddings,
 * each returning the loss value and ACCUMULATING (+=) its gradient with
 * respect to the embeddings it was given, llm.c style. The trainer then
 * back-propagates those gradients through the model.
 *
 * Math follows sentence-transformers v6 (see shared/reference/st_formats.md
 * section B.1). Internally everything is computed in double precision; inputs
 * and gradients are fp32.
 *
 * Embedding columns follow the dataset column order: column 0 is the anchor /
 * query, column 1 the positive, columns 2.. the hard negatives. Each column
 * is [B, dim], row-major.
 */
#ifndef SBERT_LOSSES_H
#define SBERT_LOSSES_H

#include <stddef.h>

#include "sbert.h"

typedef enum {
    SBERT_SIM_COSINE = 0, /* normalize(a) . normalize(b), F.normalize eps 1e-12 */
    SBERT_SIM_DOT = 1
} sbert_sim_fn;

/* MultipleNegativesRankingLoss (directions=("query_to_doc",)):
 *   docs = [pos_0..pos_{B-1}, neg1_0.., neg2_0.., ...]   [(n_cols-1)*B, dim]
 *   S = scale * sim(q, docs)                              [B, (n_cols-1)*B]
 *   loss = mean_i( logsumexp_j S[i,j] - S[i,i] )
 * cols[c]: [B, dim] for c in 0..n_cols-1 (n_cols >= 2).
 * grads[c] (same shapes) receive += dloss/dcols[c]; grads may be NULL (loss only). */
sbert_status sbert_loss_mnrl(const float *const *cols, size_t n_cols, size_t B, size_t dim,
                             double scale, sbert_sim_fn sim, float *const *grads, double *loss);

/* MultipleNegativesSymmetricRankingLoss:
 *   loss = ( CE(scale*sim(q, docs)) + CE(scale*sim(pos, q)) ) / 2
 * where the second (doc_to_query) term uses only the positives column. */
sbert_status sbert_loss_mnrl_symmetric(const float *const *cols, size_t n_cols, size_t B,
                                       size_t dim, double scale, sbert_sim_fn sim,
                                       float *const *grads, double *loss);

/* CoSENTLoss: s_i = scale * cos(u_i, v_i);
 *   loss = log(1 + sum_{(i,j): label_i < label_j} exp(s_i - s_j))
 * u, v: [B, dim]; labels: [B]; gu, gv: [B, dim] accumulate (may be NULL). */
sbert_status sbert_loss_cosent(const float *u, const float *v, const float *labels, size_t B,
                               size_t dim, double scale, float *gu, float *gv, double *loss);

/* TripletLoss distance metrics (TripletDistanceMetric). */
typedef enum { SBERT_TRIPLET_COSINE = 0, SBERT_TRIPLET_EUCLIDEAN, SBERT_TRIPLET_MANHATTAN } sbert_triplet_metric;

/* TripletLoss: loss = mean_i relu(D(a_i, p_i) - D(a_i, n_i) + margin);
 * a, p, n: [B, dim]; ga, gp, gn: [B, dim] accumulate (all NULL: value only). */
sbert_status sbert_loss_triplet(const float *a, const float *p, const float *n, size_t B, size_t dim,
                                sbert_triplet_metric metric, double margin, float *ga, float *gp, float *gn,
                                double *loss);

/* Row-wise L2 normalization as F.normalize(x, p=2, dim=-1, eps=1e-12):
 * y = x / max(||x||, eps). x, y: [n, dim] (may alias). */
void sbert_l2_normalize_rows(const float *x, float *y, size_t n, size_t dim);

#endif
