/*
 * kernels/pca.h -- principal components in double precision: the sample
 * covariance of the centered data through BLAS and its eigenvectors through
 * LAPACK (dsyevd). What sign each component gets is the caller's rule
 * (sklearn's svd_flip on the components for the teacher projection,
 * model2vec's largest-score rule for the static warm start).
 */
#ifndef SBERT_KERNELS_PCA_H
#define SBERT_KERNELS_PCA_H

#include <stddef.h>

#include "sbert.h"

/* x [n, d] (row-major, n >= 2) is centered in place (its column means
 * subtracted); comp [k, d] gets the k leading unit eigenvectors of
 * x^T x / (n - 1), largest eigenvalue first, each with the sign LAPACK
 * returns. k <= d. Errors say "PCA: ..." (out of memory, eigensolver). */
sbert_status sbert_pca_components(double *x, size_t n, size_t d, size_t k, double *comp);

#endif
