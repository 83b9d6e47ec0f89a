/*
 * losses/ce_losses.h -- the CrossEncoder losses of sentence-transformers v6
 * (cross_encoder/losses, st_formats.md B.2) on the logits the model produced,
 * each returning the loss value and ACCUMULATING (+=) its gradient with
 * respect to those logits. The activation a loss applies itself
 * (activation_fn of the loss, Identity by default; Sigmoid for
 * MultipleNegativesRankingLoss) is part of the loss; the model's
 * activation_fn (predict's) never is.
 *
 * Everything is computed in double precision from fp32 logits.
 *
 * Shapes: a score matrix S [B, K] row-major holds the logits of row (query)
 * i's candidates in S[i, 0..K); list losses mark padding by a non-finite
 * label (-inf), as Python's labels_matrix does, and ignore S there.
 */
#ifndef SBERT_LOSSES_CE_LOSSES_H
#define SBERT_LOSSES_CE_LOSSES_H

#include <stddef.h>

#include "sbert.h"

/* Activations a CE loss may apply to the logits first. */
typedef enum { SBERT_CE_LOSS_ACT_IDENTITY = 0, SBERT_CE_LOSS_ACT_SIGMOID = 1, SBERT_CE_LOSS_ACT_NONE = 2 } sbert_ce_loss_act;

/* BinaryCrossEntropyLoss = nn.BCEWithLogitsLoss(pos_weight) on x [n] with
 * targets y [n] in [0, 1], mean over n:
 *   -[pw * y * log s(x) + (1 - y) * log(1 - s(x))]   (pos_weight 1 = None). */
sbert_status sbert_ce_loss_bce(const float *x, const float *y, size_t n, double pos_weight, float *g, double *loss);

/* CrossEntropyLoss: nn.CrossEntropyLoss(x [n, C], class [n]) (mean). The
 * classes are whole numbers in [0, C) (checked: SBERT_ERR_INVALID_ARG
 * naming the row otherwise). */
sbert_status sbert_ce_loss_cross_entropy(const float *x, const float *cls, size_t n, size_t C, float *g,
                                         double *loss);

/* MSELoss: mean((x - y)^2) over n. */
sbert_status sbert_ce_loss_mse(const float *x, const float *y, size_t n, float *g, double *loss);

/* MarginMSELoss: S [B, 1 + m] (column 0 the positive's logit, 1..m the
 * negatives'), margins [B, m]: mean over B*m of ((S0 - Sk) - margin_k)^2. */
sbert_status sbert_ce_loss_margin_mse(const float *S, const float *margins, size_t B, size_t m, float *g,
                                      double *loss);

/* MultipleNegativesRankingLoss (CE): S [B, K] with column 0 the positive;
 * z = scale * act(S) (scale 0: none), loss = CrossEntropy(z, target 0). */
sbert_status sbert_ce_loss_mnrl(const float *S, size_t B, size_t K, double scale, sbert_ce_loss_act act, float *g,
                                double *loss);

/* LambdaLoss weighting schemes. */
typedef enum {
    SBERT_LAMBDA_NDCG2PP = 0, /* NDCGLoss2PPScheme(mu) */
    SBERT_LAMBDA_NDCG2,       /* NDCGLoss2Scheme */
    SBERT_LAMBDA_LAMBDARANK,  /* LambdaRankScheme */
    SBERT_LAMBDA_NDCG1,       /* NDCGLoss1Scheme */
    SBERT_LAMBDA_NONE         /* NoWeightingScheme (RankNetLoss) */
} sbert_lambda_scheme;

typedef struct {
    sbert_lambda_scheme scheme;
    double mu;        /* NDCGLoss2PPScheme */
    size_t k;         /* 0: None (all) */
    double sigma, eps;
    int binary_log;   /* reduction_log "binary" (1) or "natural" (0) */
} sbert_lambda_config;

/* LambdaLoss / RankNetLoss on S [B, M] with labels Y [B, M] (-inf padding). */
sbert_status sbert_ce_loss_lambda(const float *S, const float *Y, size_t B, size_t M, const sbert_lambda_config *c,
                                  float *g, double *loss);

/* ListNetLoss: mean over rows of CE(S_i, softmax(Y_i)) (padding: -1e16 logits, weight 0). */
sbert_status sbert_ce_loss_listnet(const float *S, const float *Y, size_t B, size_t M, float *g, double *loss);

/* PListMLELoss (lambda_weight 1: PListMLELambdaWeight; 0: ListMLELoss) with
 * respect_input_order (1: the input order is the gold ranking; 0: sorted by
 * label, descending). */
sbert_status sbert_ce_loss_plistmle(const float *S, const float *Y, size_t B, size_t M, int lambda_weight,
                                    int respect_input_order, float *g, double *loss);

/* ADRMSELoss(alpha). */
sbert_status sbert_ce_loss_adrmse(const float *S, const float *Y, size_t B, size_t M, double alpha, float *g,
                                  double *loss);

#endif
