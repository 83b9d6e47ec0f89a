/*
 * kernels/pca.c -- see pca.h.
 */
#include "kernels/pca.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

/* LAPACK (OpenBLAS ships it): symmetric eigendecomposition, divide and conquer. */
extern void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
                    double *work, const int *lwork, int *iwork, const int *liwork, int *info);

sbert_status sbert_pca_components(double *x, size_t n, size_t d, size_t k, double *comp) {
    if (n < 2 || k > d) return sbert_fail(SBERT_ERR_INVALID_ARG, "PCA: %zu rows, %zu of %zu components", n, k, d);
    double *mean = calloc(d, sizeof *mean), *cov = malloc(d * d * sizeof *cov), *w = malloc(d * sizeof *w);
    double *work = NULL;
    int *iwork = NULL;
    sbert_status st = SBERT_OK;
    if (!mean || !cov || !w) {
        st = sbert_fail(SBERT_ERR_NOMEM, "PCA: out of memory (%zu x %zu)", d, d);
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < d; c++) mean[c] += x[i * d + c];
    for (size_t c = 0; c < d; c++) mean[c] /= (double)n;
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < d; c++) x[i * d + c] -= mean[c];
    /* cov = Xc^T Xc / (n - 1) */
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d, (int)d, (int)n, 1.0 / (double)(n - 1), x, (int)d, x,
                (int)d, 0.0, cov, (int)d);
    /* eigh: row-major cov is its own transpose; LAPACK sees the same symmetric matrix */
    int nd = (int)d, lwork = -1, liwork = -1, info = 0, iwq = 0;
    double wq = 0;
    dsyevd_("V", "L", &nd, cov, &nd, w, &wq, &lwork, &iwq, &liwork, &info);
    lwork = (int)wq;
    liwork = iwq;
    work = malloc((size_t)(lwork > 1 ? lwork : 1) * sizeof *work);
    iwork = malloc((size_t)(liwork > 1 ? liwork : 1) * sizeof *iwork);
    if (!work || !iwork) {
        st = sbert_fail(SBERT_ERR_NOMEM, "PCA: out of memory (eigensolver workspace)");
        goto done;
    }
    dsyevd_("V", "L", &nd, cov, &nd, w, work, &lwork, iwork, &liwork, &info);
    if (info != 0) {
        st = sbert_fail(SBERT_ERR_INTERNAL, "PCA: the eigensolver (dsyevd) failed with info=%d", info);
        goto done;
    }
    /* LAPACK's column-major eigenvectors: vector j is cov[j*d .. j*d + d) in
     * the row-major buffer, ascending eigenvalues: component c = vector d-1-c */
    for (size_t c = 0; c < k; c++) memcpy(comp + c * d, cov + (d - 1 - c) * d, d * sizeof *comp);
done:
    free(mean);
    free(cov);
    free(w);
    free(work);
    free(iwork);
    return st;
}
