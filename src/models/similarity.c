/*
 * models/similarity.c -- sbert_similarity: the score matrix between two sets
 * of embeddings, as SentenceTransformer.similarity computes it:
 *   cosine    : normalize(a) . normalize(b)^T (rows scaled by 1/max(||x||, 1e-12))
 *   dot       : a . b^T
 *   euclidean : -||a_i - b_j||_2   (torch.cdist p=2, negated)
 *   manhattan : -||a_i - b_j||_1   (torch.cdist p=1, negated)
 * Distances are accumulated in double, then rounded to float.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "base/error.h"
#include "modules/normalize.h"
#include "sbert.h"

typedef enum { SIM_COSINE, SIM_DOT, SIM_EUCLIDEAN, SIM_MANHATTAN } sim_fn;

static int parse_fn(const char *name, sim_fn *fn) {
    if (!name) return 0;
    if (strcmp(name, "cosine") == 0) *fn = SIM_COSINE;
    else if (strcmp(name, "dot") == 0 || strcmp(name, "dot_product") == 0) *fn = SIM_DOT;
    else if (strcmp(name, "euclidean") == 0) *fn = SIM_EUCLIDEAN;
    else if (strcmp(name, "manhattan") == 0) *fn = SIM_MANHATTAN;
    else return 0;
    return 1;
}

sbert_status sbert_similarity(const char *fn_name, const float *a, size_t na, const float *b,
                              size_t nb, size_t dim, float *out) {
    sim_fn fn;
    if (!parse_fn(fn_name, &fn))
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "similarity function \"%s\" is not one of cosine, dot, euclidean, "
                          "manhattan",
                          fn_name ? fn_name : "(null)");
    if ((na && !a) || (nb && !b) || (na && nb && !out))
        return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_similarity: NULL array");
    if (na == 0 || nb == 0) return SBERT_OK;
    if (dim == 0) {
        memset(out, 0, na * nb * sizeof *out);
        return SBERT_OK;
    }
    if (fn == SIM_COSINE || fn == SIM_DOT) {
        const float *x = a, *y = b;
        float *an = NULL, *bn = NULL;
        if (fn == SIM_COSINE) {
            an = malloc(na * dim * sizeof *an);
            bn = malloc(nb * dim * sizeof *bn);
            if (!an || !bn) {
                free(an);
                free(bn);
                return sbert_fail(SBERT_ERR_NOMEM, "sbert_similarity: out of memory (%zu x %zu)",
                                  na + nb, dim);
            }
            memcpy(an, a, na * dim * sizeof *an);
            memcpy(bn, b, nb * dim * sizeof *bn);
            sbert_normalize_rows(an, na, dim);
            sbert_normalize_rows(bn, nb, dim);
            x = an;
            y = bn;
        }
        /* out[na, nb] = x[na, dim] . y[nb, dim]^T */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)na, (int)nb, (int)dim, 1.0f, x,
                    (int)dim, y, (int)dim, 0.0f, out, (int)nb);
        free(an);
        free(bn);
        return SBERT_OK;
    }
    for (size_t i = 0; i < na; i++) {
        const float *ai = a + i * dim;
        for (size_t j = 0; j < nb; j++) {
            const float *bj = b + j * dim;
            double s = 0.0;
            if (fn == SIM_EUCLIDEAN) {
                for (size_t d = 0; d < dim; d++) {
                    double t = (double)ai[d] - bj[d];
                    s += t * t;
                }
                s = sqrt(s);
            } else {
                for (size_t d = 0; d < dim; d++) s += fabs((double)ai[d] - bj[d]);
            }
            out[i * nb + j] = (float)-s;
        }
    }
    return SBERT_OK;
}
