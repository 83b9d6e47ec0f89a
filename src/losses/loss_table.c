/*
 * losses/loss_table.c -- the rows of the loss table (see loss.h) and the
 * adapters from a table call (sbert_loss_batch) to each loss function.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/error.h"
#include "losses/ce_losses.h"
#include "losses/loss.h"
#include "losses/losses.h"
#include "losses/splade.h"
#include "losses/st_losses.h"
#include "models/model.h"

#define ST (1u << SBERT_KIND_SENTENCE_TRANSFORMER)
#define CE (1u << SBERT_KIND_CROSS_ENCODER)
#define SE (1u << SBERT_KIND_SPARSE_ENCODER)
#define NP(a) (sizeof(a) / sizeof((a)[0]))

/* Rows may leave the trailing fields of sbert_loss_def (check, needs,
 * state_size/init, wrapped_only, model_similarity) out: they are 0 / NULL. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

/* ------------------------------------------------------------ parameters */

static const sbert_loss_param P_MNRL[] = {
    {"scale", SBERT_LP_NUMBER, "20.0", NULL, 0, DBL_MAX, "multiplier of the similarities (inverse temperature)"},
    {"similarity_fct", SBERT_LP_CHOICE, "cos_sim", "cos_sim,dot_score", 0, 0, "similarity function"},
};
static const sbert_loss_param P_CACHED_MNRL[] = {
    {"scale", SBERT_LP_NUMBER, "20.0", NULL, 0, DBL_MAX, "multiplier of the similarities (inverse temperature)"},
    {"similarity_fct", SBERT_LP_CHOICE, "cos_sim", "cos_sim,dot_score", 0, 0, "similarity function"},
    {"mini_batch_size", SBERT_LP_INT, "32", NULL, 1, 1e9, "rows per forward pass (activations held for one)"},
};
static const sbert_loss_param P_COSENT[] = {
    {"scale", SBERT_LP_NUMBER, "20.0", NULL, 0, DBL_MAX, "multiplier of the cosine similarities"},
};
static const sbert_loss_param P_TRIPLET[] = {
    {"distance_metric", SBERT_LP_CHOICE, "EUCLIDEAN", "EUCLIDEAN,COSINE,MANHATTAN", 0, 0,
     "TripletDistanceMetric"},
    {"triplet_margin", SBERT_LP_NUMBER, "5", NULL, -1e6, 1e6, "the margin between d(a, p) and d(a, n)"},
};

/* SparseEncoder (losses/splade.c); SpladeLoss's base_loss choices are the rows below. */
#define SPARSE_BASES                                                                                          \
    "SparseMultipleNegativesRankingLoss,SparseMarginMSELoss,SparseMSELoss,SparseDistillKLDivLoss,"            \
    "SparseTripletLoss,SparseCoSENTLoss,SparseCosineSimilarityLoss,SparseAnglELoss"
#define SPLADE_PARAMS                                                                                          \
    {"base_loss", SBERT_LP_CHOICE, "SparseMultipleNegativesRankingLoss", SPARSE_BASES, 0, 0,                  \
     "the wrapped loss (its own keys apply too)"},                                                             \
        {"document_regularizer_weight", SBERT_LP_NUMBER, "3e-5", NULL, 0, 1e6,                                 \
         "FLOPS weight of the documents (columns 1..), ramped up quadratically over the first third"},         \
        {"query_regularizer_weight", SBERT_LP_NUMBER, "5e-5", NULL, 0, 1e6,                                    \
         "FLOPS weight of the queries (column 0), ramped up the same way"},                                    \
        {"document_regularizer_threshold", SBERT_LP_NUMBER, "-1", NULL, -1, 1e9,                               \
         "only document vectors with more active dims are regularized (-1: all)"},                             \
        {"query_regularizer_threshold", SBERT_LP_NUMBER, "-1", NULL, -1, 1e9,                                  \
         "only query vectors with more active dims are regularized (-1: all)"},                                \
    {                                                                                                          \
        "use_document_regularizer_only", SBERT_LP_CHOICE, "false", "false,true", 0, 0,                         \
            "treat every column as a document (symmetric data)"                                                \
    }
static const sbert_loss_param P_SPLADE[] = {SPLADE_PARAMS};
static const sbert_loss_param P_CACHED_SPLADE[] = {
    SPLADE_PARAMS,
    {"mini_batch_size", SBERT_LP_INT, "32", NULL, 1, 1e9, "rows per forward pass (activations held for one)"},
};
static const sbert_loss_param P_SMNRL[] = {
    {"scale", SBERT_LP_NUMBER, "1.0", NULL, 0, DBL_MAX, "multiplier of the similarities (SPLADE: 1)"},
    {"similarity_fct", SBERT_LP_CHOICE, "dot_score", "dot_score,cos_sim", 0, 0, "similarity function"},
};
static const sbert_loss_param P_SMARGIN[] = {
    {"similarity_fct", SBERT_LP_CHOICE, "pairwise_dot_score", "pairwise_dot_score,pairwise_cos_sim", 0, 0,
     "pairwise similarity"},
};
static const sbert_loss_param P_STRIPLET[] = {
    {"distance_metric", SBERT_LP_CHOICE, "EUCLIDEAN", "EUCLIDEAN,COSINE,MANHATTAN", 0, 0,
     "TripletDistanceMetric"},
    {"triplet_margin", SBERT_LP_NUMBER, "5", NULL, -1e6, 1e6, "the margin between d(a, p) and d(a, n)"},
};
static const sbert_loss_param P_SCOSENT[] = {
    {"scale", SBERT_LP_NUMBER, "20.0", NULL, 0, DBL_MAX, "multiplier of the similarities"},
};

/* CrossEncoder losses (ce_losses.h). */
static const sbert_loss_param P_CE_BCE[] = {
    {"pos_weight", SBERT_LP_NUMBER, "None", "None,auto", 0, 1e9,
     "weight of positive pairs (BCEWithLogitsLoss pos_weight); None: 1; auto: n_negatives / max(n_positives, 1) "
     "of the training data, a positive being label > 0.5 (the skill's template)"},
};
static const sbert_loss_param P_CE_MNRL[] = {
    {"scale", SBERT_LP_NUMBER, "10.0", NULL, 0, DBL_MAX, "multiplier of the activated scores (0: none)"},
    {"num_negatives", SBERT_LP_INT, "4", "None", 0, 1e9, "in-batch negatives sampled per query (None: all)"},
    {"loss_activation_fn", SBERT_LP_CHOICE, "Sigmoid", "Sigmoid,Identity,None", 0, 0,
     "the loss's activation_fn on the logits (not the model's)"},
};
static const sbert_loss_param P_CE_CMNRL[] = {
    {"scale", SBERT_LP_NUMBER, "10.0", NULL, 0, DBL_MAX, "multiplier of the activated scores (0: none)"},
    {"num_negatives", SBERT_LP_INT, "4", "None", 0, 1e9, "in-batch negatives sampled per query (None: all)"},
    {"loss_activation_fn", SBERT_LP_CHOICE, "Sigmoid", "Sigmoid,Identity,None", 0, 0,
     "the loss's activation_fn on the logits (not the model's)"},
    {"mini_batch_size", SBERT_LP_INT, "32", NULL, 1, 1e9, "pairs per forward pass (activations held for one)"},
};
#define P_LIST_MBS                                                                                                  \
    {"mini_batch_size", SBERT_LP_INT, "None", "None", 1, 1e9,                                                       \
     "pairs per forward pass (None: per_device_train_batch_size); larger lists are gradient-cached"}
static const sbert_loss_param P_CE_LAMBDA[] = {
    {"weighting_scheme", SBERT_LP_CHOICE, "NDCGLoss2PPScheme",
     "NDCGLoss2PPScheme,NDCGLoss2Scheme,LambdaRankScheme,NDCGLoss1Scheme,NoWeightingScheme", 0, 0,
     "the pair weighting"},
    {"mu", SBERT_LP_NUMBER, "10.0", NULL, 0, 1e9, "NDCGLoss2PPScheme's weight of the NDCGLoss2 term"},
    {"k", SBERT_LP_INT, "None", "None", 1, 1e9, "rank cutoff of the pairs and of maxDCG (None: all)"},
    {"sigma", SBERT_LP_NUMBER, "1.0", NULL, -1e9, 1e9, "score difference multiplier"},
    {"eps", SBERT_LP_NUMBER, "1e-10", NULL, 0, 1, "floor of maxDCG"},
    {"reduction_log", SBERT_LP_CHOICE, "binary", "binary,natural", 0, 0, "log base of the pair losses"},
    P_LIST_MBS,
};
static const sbert_loss_param P_CE_RANKNET[] = {
    {"k", SBERT_LP_INT, "None", "None", 1, 1e9, "rank cutoff of the pairs (None: all)"},
    {"sigma", SBERT_LP_NUMBER, "1.0", NULL, -1e9, 1e9, "score difference multiplier"},
    {"eps", SBERT_LP_NUMBER, "1e-10", NULL, 0, 1, "floor of maxDCG"},
    {"reduction_log", SBERT_LP_CHOICE, "binary", "binary,natural", 0, 0, "log base of the pair losses"},
    P_LIST_MBS,
};
static const sbert_loss_param P_CE_LISTNET[] = {P_LIST_MBS};
static const sbert_loss_param P_CE_LISTMLE[] = {
    P_LIST_MBS,
    {"respect_input_order", SBERT_LP_CHOICE, "true", "true,false", 0, 0,
     "true: the documents' order is the gold ranking; false: sort them by label"},
};
static const sbert_loss_param P_CE_ADRMSE[] = {
    {"alpha", SBERT_LP_NUMBER, "1.0", NULL, -1e9, 1e9, "sharpness of the approximate ranks"},
    P_LIST_MBS,
};
static const sbert_loss_param P_ANGLE[] = {
    {"scale", SBERT_LP_NUMBER, "20.0", NULL, 0, DBL_MAX, "multiplier of the angle similarities"},
};
#define SIAMESE_METRICS "COSINE_DISTANCE,EUCLIDEAN,MANHATTAN"
static const sbert_loss_param P_CONTRASTIVE[] = {
    {"distance_metric", SBERT_LP_CHOICE, "COSINE_DISTANCE", SIAMESE_METRICS, 0, 0, "SiameseDistanceMetric"},
    {"margin", SBERT_LP_NUMBER, "0.5", NULL, -1e6, 1e6, "negative pairs should be at least this far apart"},
    {"size_average", SBERT_LP_BOOL, "true", NULL, 0, 0, "mean over the batch (false: sum)"},
};
static const sbert_loss_param P_ONLINE_CONTRASTIVE[] = {
    {"distance_metric", SBERT_LP_CHOICE, "COSINE_DISTANCE", SIAMESE_METRICS, 0, 0, "SiameseDistanceMetric"},
    {"margin", SBERT_LP_NUMBER, "0.5", NULL, -1e6, 1e6, "negative pairs should be at least this far apart"},
};
#define BATCH_METRICS "euclidean_distance,cosine_distance,eucledian_distance"
static const sbert_loss_param P_BATCH_TRIPLET[] = {
    {"distance_metric", SBERT_LP_CHOICE, "euclidean_distance", BATCH_METRICS, 0, 0,
     "BatchHardTripletLossDistanceFunction"},
    {"margin", SBERT_LP_NUMBER, "5", NULL, -1e6, 1e6, "the triplet margin"},
};
static const sbert_loss_param P_BATCH_SOFT[] = {
    {"distance_metric", SBERT_LP_CHOICE, "euclidean_distance", BATCH_METRICS, 0, 0,
     "BatchHardTripletLossDistanceFunction"},
};
#define PAIRWISE_SIMS "pairwise_dot_score,pairwise_cos_sim"
static const sbert_loss_param P_MARGIN_MSE[] = {
    {"similarity_fct", SBERT_LP_CHOICE, "pairwise_dot_score", PAIRWISE_SIMS, 0, 0, "similarity of query and passage"},
};
static const sbert_loss_param P_DISTILL_KL[] = {
    {"similarity_fct", SBERT_LP_CHOICE, "pairwise_dot_score", PAIRWISE_SIMS, 0, 0, "similarity of query and passage"},
    {"temperature", SBERT_LP_NUMBER, "1.0", NULL, 1e-300, DBL_MAX, "softmax temperature of student and teacher"},
    {"student_temperature", SBERT_LP_NUMBER, "None", NULL, 1e-300, DBL_MAX, "student temperature (None: temperature)"},
    {"teacher_temperature", SBERT_LP_NUMBER, "None", NULL, 1e-300, DBL_MAX, "teacher temperature (None: temperature)"},
};
/* SparseDistillKLDivLoss: DistillKLDivLoss's parameters with temperature 2. */
static const sbert_loss_param P_SDISTILL_KL[] = {
    {"similarity_fct", SBERT_LP_CHOICE, "pairwise_dot_score", PAIRWISE_SIMS, 0, 0, "similarity of query and passage"},
    {"temperature", SBERT_LP_NUMBER, "2.0", NULL, 1e-300, DBL_MAX, "softmax temperature of student and teacher"},
    {"student_temperature", SBERT_LP_NUMBER, "None", NULL, 1e-300, DBL_MAX, "student temperature (None: temperature)"},
    {"teacher_temperature", SBERT_LP_NUMBER, "None", NULL, 1e-300, DBL_MAX, "teacher temperature (None: temperature)"},
};
static const sbert_loss_param P_MEGA_BATCH[] = {
    {"positive_margin", SBERT_LP_NUMBER, "0.8", NULL, -1e6, 1e6, "anchors should be at least this similar to positives"},
    {"negative_margin", SBERT_LP_NUMBER, "0.3", NULL, -1e6, 1e6, "and at most this similar to the hardest negative"},
    {"mini_batch_size", SBERT_LP_INT, "50", NULL, 1, 1e9, "rows per forward pass (activations held for one)"},
};
static const sbert_loss_param P_GOR[] = {
    {"similarity_fct", SBERT_LP_CHOICE, "cos_sim", "cos_sim,dot_score", 0, 0, "similarity function"},
    {"mean_weight", SBERT_LP_NUMBER, "1.0", NULL, 0, DBL_MAX, "weight of the squared mean similarity"},
    {"second_moment_weight", SBERT_LP_NUMBER, "1.0", NULL, 0, DBL_MAX, "weight of the second-moment term"},
    {"aggregation", SBERT_LP_CHOICE, "mean", "mean,sum", 0, 0, "how the columns' terms combine"},
};
static const sbert_loss_param P_GIST[] = {
    {"temperature", SBERT_LP_NUMBER, "0.01", NULL, 1e-300, DBL_MAX, "divides the similarities"},
    {"margin_strategy", SBERT_LP_CHOICE, "absolute", "absolute,relative", 0, 0, "how margin applies"},
    {"margin", SBERT_LP_NUMBER, "0.0", NULL, -1e6, 1e6, "negatives within margin of the positive (guide) are dropped"},
    {"contrast_anchors", SBERT_LP_BOOL, "true", NULL, 0, 0, "anchor-anchor similarities as negatives"},
    {"contrast_positives", SBERT_LP_BOOL, "true", NULL, 0, 0, "positive-positive similarities as negatives"},
};
static const sbert_loss_param P_CACHED_GIST[] = {
    {"temperature", SBERT_LP_NUMBER, "0.01", NULL, 1e-300, DBL_MAX, "divides the similarities"},
    {"margin_strategy", SBERT_LP_CHOICE, "absolute", "absolute,relative", 0, 0, "how margin applies"},
    {"margin", SBERT_LP_NUMBER, "0.0", NULL, -1e6, 1e6, "negatives within margin of the positive (guide) are dropped"},
    {"contrast_anchors", SBERT_LP_BOOL, "true", NULL, 0, 0, "anchor-anchor similarities as negatives"},
    {"contrast_positives", SBERT_LP_BOOL, "true", NULL, 0, 0, "positive-positive similarities as negatives"},
    {"mini_batch_size", SBERT_LP_INT, "32", NULL, 1, 1e9, "rows per forward pass (activations held for one)"},
};
static const sbert_loss_param P_SOFTMAX[] = {
    {"num_labels", SBERT_LP_INT, "None", NULL, 1, 1e6, "classes (None: 1 + the largest label in the data)"},
    {"concatenation_sent_rep", SBERT_LP_BOOL, "true", NULL, 0, 0, "classifier input has u and v"},
    {"concatenation_sent_difference", SBERT_LP_BOOL, "true", NULL, 0, 0, "classifier input has |u - v|"},
    {"concatenation_sent_multiplication", SBERT_LP_BOOL, "false", NULL, 0, 0, "classifier input has u * v"},
};
static const sbert_loss_param P_CT_INBATCH[] = {
    {"scale", SBERT_LP_NUMBER, "20.0", NULL, 1e-300, DBL_MAX, "initial exp(logit_scale) (trained)"},
    {"similarity_fct", SBERT_LP_CHOICE, "cos_sim", "cos_sim,dot_score", 0, 0, "similarity function"},
};
#define P_DIMS {"matryoshka_dims", SBERT_LP_LIST, "None", NULL, 1, 1e7, "embedding widths trained, e.g. [384, 256, 128, 64]"}
#define P_WEIGHTS {"matryoshka_weights", SBERT_LP_LIST, "None", NULL, -1e12, 1e12, "weight of each dim (None: all 1)"}
#define P_LAYERS_REST                                                                                               \
    {"last_layer_weight", SBERT_LP_NUMBER, "1.0", NULL, -1e12, 1e12, "weight of the final layer's loss"},             \
    {"prior_layers_weight", SBERT_LP_NUMBER, "1.0", NULL, -1e12, 1e12, "weight of the earlier layers' losses"},       \
    {"kl_div_weight", SBERT_LP_NUMBER, "1.0", NULL, -1e12, 1e12, "weight of the KL term towards the final layer"},    \
    {"kl_temperature", SBERT_LP_NUMBER, "0.3", NULL, -1e12, 1e12, "temperature of the KL term (<= 0: no KL)"},       \
    {"layer_weighting", SBERT_LP_CHOICE, "uniform", "uniform,log,linear", 0, 0, "weight of layer l"}
static const sbert_loss_param P_MATRYOSHKA[] = {
    P_DIMS,
    P_WEIGHTS,
    {"n_dims_per_step", SBERT_LP_INT, "-1", NULL, -1, 1e6, "dims drawn per step (-1 or 0: all)"},
};
static const sbert_loss_param P_ADAPTIVE[] = {
    {"n_layers_per_step", SBERT_LP_INT, "1", NULL, -1, 1e6, "earlier layers drawn per step (<= 0: all)"},
    P_LAYERS_REST,
};
static const sbert_loss_param P_MATRYOSHKA2D[] = {
    P_DIMS,
    P_WEIGHTS,
    {"n_dims_per_step", SBERT_LP_INT, "1", NULL, -1, 1e6, "dims drawn per step (-1 or 0: all)"},
    {"n_layers_per_step", SBERT_LP_INT, "1", NULL, -1, 1e6, "earlier layers drawn per step (<= 0: all)"},
    P_LAYERS_REST,
};

/* ------------------------------------------------------------ adapters */

static sbert_status wrapper_only(const sbert_loss_batch *b, double *loss) {
    return sbert_fail(SBERT_ERR_INVALID_ARG, "a wrapper loss is written Wrapper(InnerLoss) and run by the loss spec");
}

static const char *angle_check(const sbert_loss_values *v, size_t n_inputs, int has_label, size_t w, size_t dim) {
    if (n_inputs == 2 && !has_label) return "AnglELoss requires a label column (a score per pair) for pairs";
    return w > 1 ? "AnglELoss takes one score per row" : NULL;
}

static const char *ct_check(const sbert_loss_values *v, size_t n_inputs, int has_label, size_t w, size_t dim) {
    return w > 1 ? "ContrastiveTensionLoss takes one 0/1 label per row" : NULL;
}


static sbert_status mnrl(const sbert_loss_batch *b, double *loss) {
    sbert_sim_fn sim = b->v->num[1] == 1 ? SBERT_SIM_DOT : SBERT_SIM_COSINE;
    return sbert_loss_mnrl(b->cols, b->n_cols, b->B, b->dim, b->v->num[0], sim, b->grads, loss);
}

static sbert_status mnsrl(const sbert_loss_batch *b, double *loss) {
    sbert_sim_fn sim = b->v->num[1] == 1 ? SBERT_SIM_DOT : SBERT_SIM_COSINE;
    return sbert_loss_mnrl_symmetric(b->cols, b->n_cols, b->B, b->dim, b->v->num[0], sim, b->grads, loss);
}

static sbert_status cosent(const sbert_loss_batch *b, double *loss) {
    return sbert_loss_cosent(b->cols[0], b->cols[1], b->labels, b->B, b->dim, b->v->num[0],
                             b->grads ? b->grads[0] : NULL, b->grads ? b->grads[1] : NULL, loss);
}

static sbert_status triplet(const sbert_loss_batch *b, double *loss) {
    static const sbert_triplet_metric metrics[] = {SBERT_TRIPLET_EUCLIDEAN, SBERT_TRIPLET_COSINE,
                                                   SBERT_TRIPLET_MANHATTAN};
    return sbert_loss_triplet(b->cols[0], b->cols[1], b->cols[2], b->B, b->dim, metrics[(int)b->v->num[0]],
                              b->v->num[1], b->grads ? b->grads[0] : NULL, b->grads ? b->grads[1] : NULL,
                              b->grads ? b->grads[2] : NULL, loss);
}

/* CrossEncoder adapters. A CE loss gets the score matrix of its batch as
 * cols[0] = S [B, dim] (grads[0] the same shape, may be NULL) and labels as
 * train_step_cross.c lays them out: BCE/MSE [B] (dim 1), CrossEntropy [B]
 * class ids (dim = num_labels), MarginMSE [B, dim - 1] margins, MNRL none,
 * list losses [B, dim] with -inf where a row has no document. */
static float *g0(const sbert_loss_batch *b) { return b->grads ? b->grads[0] : NULL; }
static sbert_ce_loss_act loss_act(double v) {
    return v == 0 ? SBERT_CE_LOSS_ACT_SIGMOID : v == 1 ? SBERT_CE_LOSS_ACT_IDENTITY : SBERT_CE_LOSS_ACT_NONE;
}
static sbert_status ce_bce(const sbert_loss_batch *b, double *loss) {
    double pw = isnan(b->v->num[0]) ? 1.0 : b->v->num[0]; /* "auto" is resolved by the trainer */
    return sbert_ce_loss_bce(b->cols[0], b->labels, b->B, pw, g0(b), loss);
}
static sbert_status ce_ce(const sbert_loss_batch *b, double *loss) {
    return sbert_ce_loss_cross_entropy(b->cols[0], b->labels, b->B, b->dim, g0(b), loss);
}
static sbert_status ce_mse(const sbert_loss_batch *b, double *loss) {
    return sbert_ce_loss_mse(b->cols[0], b->labels, b->B, g0(b), loss);
}
static sbert_status ce_margin_mse(const sbert_loss_batch *b, double *loss) {
    return sbert_ce_loss_margin_mse(b->cols[0], b->labels, b->B, b->dim - 1, g0(b), loss);
}
static sbert_status ce_mnrl(const sbert_loss_batch *b, double *loss) {
    return sbert_ce_loss_mnrl(b->cols[0], b->B, b->dim, b->v->num[0], loss_act(b->v->num[2]), g0(b), loss);
}
static sbert_status ce_lambda_with(const sbert_loss_batch *b, sbert_lambda_scheme scheme, double mu, size_t first,
                                   double *loss) {
    const double *v = b->v->num;
    sbert_lambda_config c = {scheme, mu, isnan(v[first]) ? 0 : (size_t)v[first], v[first + 1], v[first + 2],
                             v[first + 3] == 0, };
    return sbert_ce_loss_lambda(b->cols[0], b->labels, b->B, b->dim, &c, g0(b), loss);
}
static sbert_status ce_lambda(const sbert_loss_batch *b, double *loss) {
    return ce_lambda_with(b, (sbert_lambda_scheme)(int)b->v->num[0], b->v->num[1], 2, loss);
}
static sbert_status ce_ranknet(const sbert_loss_batch *b, double *loss) {
    return ce_lambda_with(b, SBERT_LAMBDA_NONE, 0, 0, loss);
}
static sbert_status ce_listnet(const sbert_loss_batch *b, double *loss) {
    return sbert_ce_loss_listnet(b->cols[0], b->labels, b->B, b->dim, g0(b), loss);
}
static sbert_status ce_listmle(const sbert_loss_batch *b, double *loss) {
    return sbert_ce_loss_plistmle(b->cols[0], b->labels, b->B, b->dim, 0, b->v->num[1] == 0, g0(b), loss);
}
static sbert_status ce_plistmle(const sbert_loss_batch *b, double *loss) {
    return sbert_ce_loss_plistmle(b->cols[0], b->labels, b->B, b->dim, 1, b->v->num[1] == 0, g0(b), loss);
}
static sbert_status ce_adrmse(const sbert_loss_batch *b, double *loss) {
    return sbert_ce_loss_adrmse(b->cols[0], b->labels, b->B, b->dim, b->v->num[0], g0(b), loss);
}

/* DenoisingAutoEncoderLoss needs the original text's tokens and a decoder
 * pass: the trainer runs it itself (training/train_step.c,
 * losses/denoising_auto_encoder.c); embeddings alone cannot give it. */
static const sbert_loss_param P_DAE[] = {
    {"decoder_name_or_path", SBERT_LP_TEXT, "None", NULL, 0, 0,
     "the decoder's model (only the default None: built from the model itself, tied)"},
    {"tie_encoder_decoder", SBERT_LP_BOOL, "true", NULL, 0, 0,
     "the decoder shares every weight it has in common with the encoder (only true)"},
};
static sbert_status dae_stub(const sbert_loss_batch *b, double *loss) {
    (void)b;
    (void)loss;
    return sbert_fail(SBERT_ERR_INVALID_ARG, "DenoisingAutoEncoderLoss runs through its decoder in the trainer's "
                                             "step; it cannot be computed from embeddings alone");
}

/* ------------------------------------------------------------ the table */

#define APN "(anchor, positive[, negative...])"

static const sbert_loss_def LOSSES[] = {
    /* SentenceTransformer losses implemented here */
    {"MultipleNegativesRankingLoss", ST, 2, 0, SBERT_LABEL_NONE, APN, P_MNRL, NP(P_MNRL), 0, mnrl,
     "in-batch negatives: cross-entropy of each anchor against every positive and negative of the batch"},
    {"MultipleNegativesSymmetricRankingLoss", ST, 2, 0, SBERT_LABEL_NONE, APN, P_MNRL, NP(P_MNRL), 0, mnsrl,
     "MultipleNegativesRankingLoss in both directions (anchor->positive and positive->anchor)"},
    {"CachedMultipleNegativesRankingLoss", ST, 2, 0, SBERT_LABEL_NONE, APN, P_CACHED_MNRL, NP(P_CACHED_MNRL), 1,
     mnrl, "MultipleNegativesRankingLoss with gradient caching: large batches in mini_batch_size memory"},
    {"CachedMultipleNegativesSymmetricRankingLoss", ST, 2, 0, SBERT_LABEL_NONE, APN, P_CACHED_MNRL,
     NP(P_CACHED_MNRL), 1, mnsrl, "MultipleNegativesSymmetricRankingLoss with gradient caching"},
    {"CoSENTLoss", ST, 2, 2, SBERT_LABEL_SCORE, "(sentence1, sentence2)", P_COSENT,
     NP(P_COSENT), 0, cosent, "ranks the pairs' cosine similarities in the order of their scores"},
    {"TripletLoss", ST, 3, 3, SBERT_LABEL_NONE, "(anchor, positive, negative)", P_TRIPLET, NP(P_TRIPLET), 0,
     triplet, "relu(d(anchor, positive) - d(anchor, negative) + triplet_margin)"},
    {"GISTEmbedLoss", ST, 2, 3, SBERT_LABEL_NONE, APN, P_GIST, NP(P_GIST), 0, sbert_loss_gist,
     "in-batch negatives minus those a guide model (guide_model) finds as similar as the positive", NULL,
     SBERT_LOSS_NEEDS_GUIDE},
    {"CachedGISTEmbedLoss", ST, 2, 0, SBERT_LABEL_NONE, APN, P_CACHED_GIST, NP(P_CACHED_GIST), 1, sbert_loss_gist,
     "GISTEmbedLoss with gradient caching", NULL, SBERT_LOSS_NEEDS_GUIDE},
    {"AnglELoss", ST, 2, 0, SBERT_LABEL_OPTIONAL, "(sentence1, sentence2) with a score, or (anchor, positive, negative...)",
     P_ANGLE, NP(P_ANGLE), 0, sbert_loss_angle, "CoSENTLoss on the angle similarity in complex space", angle_check},
    {"CosineSimilarityLoss", ST, 2, 2, SBERT_LABEL_SCORE, "(sentence1, sentence2)", NULL, 0, 0,
     sbert_loss_cosine_similarity, "mean squared error of cos(u, v) and the score (scores in [0, 1])"},
    {"ContrastiveLoss", ST, 2, 2, SBERT_LABEL_SCORE, "(sentence1, sentence2) with a 0/1 label", P_CONTRASTIVE,
     NP(P_CONTRASTIVE), 0, sbert_loss_contrastive, "pulls label-1 pairs together, pushes label-0 pairs past margin"},
    {"OnlineContrastiveLoss", ST, 2, 2, SBERT_LABEL_SCORE, "(sentence1, sentence2) with a 0/1 label",
     P_ONLINE_CONTRASTIVE, NP(P_ONLINE_CONTRASTIVE), 0, sbert_loss_online_contrastive,
     "ContrastiveLoss on the batch's hard positives and hard negatives only (a sum)"},
    {"MatryoshkaLoss", ST, 0, 0, SBERT_LABEL_NONE, "(those of the inner loss)", P_MATRYOSHKA, NP(P_MATRYOSHKA), 0, wrapper_only,
     "MatryoshkaLoss(Inner): the inner loss at every width in matryoshka_dims", NULL, SBERT_LOSS_WRAPPER},
    {"Matryoshka2dLoss", ST, 0, 0, SBERT_LABEL_NONE, "(those of the inner loss)", P_MATRYOSHKA2D, NP(P_MATRYOSHKA2D), 0, wrapper_only,
     "Matryoshka2dLoss(Inner): AdaptiveLayerLoss(MatryoshkaLoss(Inner))", NULL,
     SBERT_LOSS_WRAPPER | SBERT_LOSS_LAYERS},
    {"AdaptiveLayerLoss", ST, 0, 0, SBERT_LABEL_NONE, "(those of the inner loss)", P_ADAPTIVE, NP(P_ADAPTIVE), 0, wrapper_only,
     "AdaptiveLayerLoss(Inner): the inner loss on earlier layers too, plus a KL term to the last", NULL,
     SBERT_LOSS_WRAPPER | SBERT_LOSS_LAYERS},
    {"MSELoss", ST, 1, 0, SBERT_LABEL_SCORE, "(text...) with the teacher embedding as a list label", NULL, 0, 0,
     sbert_loss_mse, "mean squared error between the embeddings and teacher embeddings", sbert_loss_mse_check},
    {"MarginMSELoss", ST, 3, 0, SBERT_LABEL_SCORE, "(query, positive, negative...) with teacher margins",
     P_MARGIN_MSE, NP(P_MARGIN_MSE), 0, sbert_loss_margin_mse,
     "mean squared error between sim(q, p) - sim(q, n) and the teacher's margin", sbert_loss_margin_mse_check},
    {"DistillKLDivLoss", ST, 3, 0, SBERT_LABEL_SCORE, "(query, candidate_1, ..., candidate_n) with teacher scores",
     P_DISTILL_KL, NP(P_DISTILL_KL), 0, sbert_loss_distill_kl,
     "KL divergence between the teacher's and the student's softmax over the candidates", sbert_loss_distill_kl_check},
    {"SoftmaxLoss", ST, 2, 2, SBERT_LABEL_CLASS, "(sentence1, sentence2) with a class label", P_SOFTMAX,
     NP(P_SOFTMAX), 0, sbert_loss_softmax, "a linear classifier on (u, v, |u - v|) trained with cross-entropy",
     sbert_loss_softmax_check, 0, sbert_loss_softmax_state_size, sbert_loss_softmax_state_init},
    {"MegaBatchMarginLoss", ST, 2, 2, SBERT_LABEL_NONE, "(anchor, positive)", P_MEGA_BATCH, NP(P_MEGA_BATCH), 1,
     sbert_loss_mega_batch_margin, "margins to the positive and to the hardest in-batch negative"},
    {"ContrastiveTensionLoss", ST, 2, 2, SBERT_LABEL_OPTIONAL, "(text1, text2) [with a 0/1 label]", NULL, 0, 0,
     sbert_loss_contrastive_tension,
     "two model copies: binary cross-entropy of r1 . r2 (label: equal texts when there is no label column)", ct_check,
     SBERT_LOSS_NEEDS_COPY | SBERT_LOSS_ID_LABELS},
    {"ContrastiveTensionLossInBatchNegatives", ST, 1, 1, SBERT_LABEL_NONE, "(text)", P_CT_INBATCH, NP(P_CT_INBATCH),
     0, sbert_loss_contrastive_tension_inbatch,
     "two model copies: symmetric in-batch cross-entropy of sim(r1, r2) * exp(logit_scale)", NULL,
     SBERT_LOSS_NEEDS_COPY | SBERT_LOSS_COPY_BOTH, sbert_loss_ct_inbatch_state_size, sbert_loss_ct_inbatch_state_init},
    {"DenoisingAutoEncoderLoss", ST, 2, 2, SBERT_LABEL_NONE,
     "(damaged, original) (or one text column with denoising_auto_encoder_dataset: true)", P_DAE, NP(P_DAE), 0,
     dae_stub,
     "TSDAE: a BERT decoder tied to the encoder rebuilds the original text from the damaged text's embedding "
     "(cross-entropy of the next tokens)", NULL, SBERT_LOSS_DECODER},
    {"BatchAllTripletLoss", ST, 1, 1, SBERT_LABEL_CLASS, "(text) with a class label", P_BATCH_TRIPLET,
     NP(P_BATCH_TRIPLET), 0, sbert_loss_batch_all_triplet,
     "every valid (anchor, positive, negative) triplet of the batch (use batch_sampler GROUP_BY_LABEL)"},
    {"BatchHardTripletLoss", ST, 1, 1, SBERT_LABEL_CLASS, "(text) with a class label", P_BATCH_TRIPLET,
     NP(P_BATCH_TRIPLET), 0, sbert_loss_batch_hard_triplet,
     "the hardest positive and negative of each anchor (use batch_sampler GROUP_BY_LABEL)"},
    {"BatchSemiHardTripletLoss", ST, 1, 1, SBERT_LABEL_CLASS, "(text) with a class label", P_BATCH_TRIPLET,
     NP(P_BATCH_TRIPLET), 0, sbert_loss_batch_semi_hard_triplet,
     "semi-hard negatives: the closest negative farther than the positive (use GROUP_BY_LABEL)"},
    {"BatchHardSoftMarginTripletLoss", ST, 1, 1, SBERT_LABEL_CLASS, "(text) with a class label", P_BATCH_SOFT,
     NP(P_BATCH_SOFT), 0, sbert_loss_batch_hard_soft_margin_triplet,
     "BatchHardTripletLoss with softplus instead of a margin (use GROUP_BY_LABEL)"},
    {"GlobalOrthogonalRegularizationLoss", ST, 1, 0, SBERT_LABEL_NONE, "(text...)", P_GOR, NP(P_GOR), 0,
     sbert_loss_gor, "spreads the batch over the sphere; usually added: 'Loss + GlobalOrthogonalRegularizationLoss'"},
    /* CrossEncoder losses (ce_losses.h; the step that feeds them is training/train_step_cross.c) */
    {"BinaryCrossEntropyLoss", CE, 2, 2, SBERT_LABEL_SCORE, "(query, passage)", P_CE_BCE, NP(P_CE_BCE), 0, ce_bce,
     "BCEWithLogitsLoss of each pair's logit against its label in [0, 1] (num_labels 1)"},
    {"CrossEntropyLoss", CE, 2, 2, SBERT_LABEL_CLASS, "(sentence1, sentence2)", NULL, 0, 0, ce_ce,
     "softmax cross-entropy of each pair's num_labels logits against its class id"},
    {"MultipleNegativesRankingLoss", CE, 2, 0, SBERT_LABEL_NONE, "(query, positive[, negative...])", P_CE_MNRL,
     NP(P_CE_MNRL), 0, ce_mnrl,
     "each query's positive against num_negatives in-batch candidates and its own negatives: cross-entropy of "
     "scale * activation(logits)"},
    {"CachedMultipleNegativesRankingLoss", CE, 2, 0, SBERT_LABEL_NONE, "(query, positive[, negative...])", P_CE_CMNRL,
     NP(P_CE_CMNRL), 1, ce_mnrl, "MultipleNegativesRankingLoss with gradient caching over mini_batch_size pairs"},
    {"MSELoss", CE, 2, 2, SBERT_LABEL_SCORE, "(query, passage)", NULL, 0, 0, ce_mse,
     "mean squared error of each pair's logit against a teacher score (distillation; Identity activation)"},
    {"MarginMSELoss", CE, 3, 0, SBERT_LABEL_SCORE, "(query, positive, negative...)", NULL, 0, 0, ce_margin_mse,
     "MSE of logit(q, pos) - logit(q, neg) against the teacher's margins (a number, [n] margins or [n+1] scores)"},
    {"LambdaLoss", CE, 2, 2, SBERT_LABEL_SCORE, "(query, [documents]) + [labels]", P_CE_LAMBDA, NP(P_CE_LAMBDA), 0,
     ce_lambda, "listwise LambdaLoss framework (NDCGLoss2++ weighting by default)"},
    {"ListNetLoss", CE, 2, 2, SBERT_LABEL_SCORE, "(query, [documents]) + [labels]", P_CE_LISTNET, NP(P_CE_LISTNET), 0,
     ce_listnet, "cross-entropy between softmax(logits) and softmax(labels) per query"},
    {"ListMLELoss", CE, 2, 2, SBERT_LABEL_SCORE, "(query, [documents]) + [labels]", P_CE_LISTMLE, NP(P_CE_LISTMLE), 0,
     ce_listmle, "negative log-likelihood of the gold ranking (Plackett-Luce)"},
    {"PListMLELoss", CE, 2, 2, SBERT_LABEL_SCORE, "(query, [documents]) + [labels]", P_CE_LISTMLE, NP(P_CE_LISTMLE),
     0, ce_plistmle, "position-aware ListMLE (weights 2^(n - rank) - 1, normalised)"},
    {"RankNetLoss", CE, 2, 2, SBERT_LABEL_SCORE, "(query, [documents]) + [labels]", P_CE_RANKNET, NP(P_CE_RANKNET), 0,
     ce_ranknet, "pairwise logistic loss over the document pairs of each query (LambdaLoss without weights)"},
    {"ADRMSELoss", CE, 2, 2, SBERT_LABEL_SCORE, "(query, [documents]) + [labels]", P_CE_ADRMSE, NP(P_CE_ADRMSE), 0,
     ce_adrmse, "discounted squared error between true and approximate (sigmoid) ranks"},
    /* SparseEncoder losses (losses/splade.c, losses/sparse_losses.c). The
     * base losses run only inside SpladeLoss / CachedSpladeLoss (base_loss);
     * its column and label rules are the base loss's. */
    {"SpladeLoss", SE, 1, 0, SBERT_LABEL_NONE, "(the base loss's columns)", P_SPLADE, NP(P_SPLADE), 0,
     sbert_loss_splade,
     "base_loss + FLOPS regularisation of queries and documents (weights ramped up over the first third)"},
    {"CachedSpladeLoss", SE, 1, 0, SBERT_LABEL_NONE, "(the base loss's columns)", P_CACHED_SPLADE,
     NP(P_CACHED_SPLADE), 1, sbert_loss_splade, "SpladeLoss with gradient caching (mini_batch_size)"},
    {"FlopsLoss", SE, 1, 0, SBERT_LABEL_NONE, NULL, NULL, 0, 0, sbert_loss_flops_standalone,
     "the FLOPS regularizer (sum over the vocabulary of the squared mean activation); SpladeLoss's", .wrapped_only = 1},
    {"SparseMultipleNegativesRankingLoss", SE, 2, 0, SBERT_LABEL_NONE, APN, P_SMNRL, NP(P_SMNRL), 0,
     sbert_loss_sparse_mnrl_adapter, "MultipleNegativesRankingLoss with scale 1 and the dot product", .wrapped_only = 1},
    {"SparseMarginMSELoss", SE, 3, 3, SBERT_LABEL_SCORE, "(query, positive, negative) + score margin", P_SMARGIN,
     NP(P_SMARGIN), 0, sbert_loss_sparse_margin_mse_adapter,
     "MSE between sim(q, pos) - sim(q, neg) and the teacher's margin", .wrapped_only = 1},
    /* SparseMSELoss and SparseDistillKLDivLoss subclass MSELoss and
     * DistillKLDivLoss in Python: the same functions and label checks
     * (losses/distillation.c); SparseDistillKLDivLoss's temperature defaults
     * to 2. */
    {"SparseMSELoss", SE, 1, 0, SBERT_LABEL_SCORE, "(text...) with the teacher embedding as a list label", NULL, 0, 0,
     sbert_loss_mse, "MSELoss: mean squared error to teacher embeddings (a list label: [dim] or one per column)",
     sbert_loss_mse_check, .wrapped_only = 1},
    {"SparseDistillKLDivLoss", SE, 3, 0, SBERT_LABEL_SCORE, "(query, candidate_1, ..., candidate_n) with teacher scores",
     P_SDISTILL_KL, NP(P_SDISTILL_KL), 0, sbert_loss_distill_kl,
     "DistillKLDivLoss: KL divergence between the teacher's and the student's softmax over the candidates",
     sbert_loss_distill_kl_check, .wrapped_only = 1},
    {"SparseTripletLoss", SE, 3, 3, SBERT_LABEL_NONE, "(anchor, positive, negative)", P_STRIPLET, NP(P_STRIPLET), 0,
     sbert_loss_sparse_triplet_adapter, "TripletLoss (euclidean, margin 5)", .wrapped_only = 1},
    {"SparseCoSENTLoss", SE, 2, 2, SBERT_LABEL_SCORE, "(sentence1, sentence2)", P_SCOSENT, NP(P_SCOSENT), 0,
     sbert_loss_sparse_cosent_adapter, "CoSENTLoss on cosine similarities (sets the model's similarity to cosine)",
     .wrapped_only = 1, .model_similarity = "cosine"},
    {"SparseCosineSimilarityLoss", SE, 2, 2, SBERT_LABEL_SCORE, "(sentence1, sentence2)", NULL, 0, 0,
     sbert_loss_sparse_cosine_adapter, "MSE between cos(u, v) and the label (sets the model's similarity to cosine)",
     .wrapped_only = 1, .model_similarity = "cosine"},
    {"SparseAnglELoss", SE, 2, 2, SBERT_LABEL_SCORE, "(sentence1, sentence2)", P_SCOSENT, NP(P_SCOSENT), 0,
     sbert_loss_sparse_angle_adapter, "CoSENTLoss on angle similarities (sets the model's similarity to cosine)",
     .wrapped_only = 1, .model_similarity = "cosine"},
    {"CSRLoss", SE, 0, 0, SBERT_LABEL_NONE, NULL, NULL, 0, 0, NULL, NULL},
};

size_t sbert_loss_count(void) { return NP(LOSSES); }
const sbert_loss_def *sbert_loss_at(size_t i) { return i < NP(LOSSES) ? &LOSSES[i] : NULL; }

const sbert_loss_def *sbert_loss_find(const char *name) {
    for (size_t i = 0; i < NP(LOSSES); i++)
        if (strcmp(LOSSES[i].name, name) == 0) return &LOSSES[i];
    return NULL;
}

const sbert_loss_def *sbert_loss_find_kind(const char *name, int kind) {
    for (size_t i = 0; i < NP(LOSSES); i++)
        if (strcmp(LOSSES[i].name, name) == 0 && (LOSSES[i].kinds & (1u << kind))) return &LOSSES[i];
    return sbert_loss_find(name);
}

int sbert_loss_param_index(const sbert_loss_def *def, const char *key) {
    for (size_t i = 0; i < def->n_params; i++)
        if (strcmp(def->params[i].key, key) == 0) return (int)i;
    return -1;
}

static int choice_index(const char *choices, const char *text, size_t *out) {
    size_t k = 0;
    for (const char *c = choices; c && *c; k++) {
        const char *e = strchr(c, ',');
        size_t len = e ? (size_t)(e - c) : strlen(c);
        if (strlen(text) == len && strncmp(text, c, len) == 0) {
            *out = k;
            return 1;
        }
        c = e ? e + 1 : NULL;
    }
    return 0;
}

/* A list of numbers: "768,512", "[768, 512]"; *n numbers into out (cap). */
int sbert_loss_parse_list(const char *text, double *out, size_t cap, size_t *n) {
    *n = 0;
    const char *s = text;
    while (*s == ' ' || *s == '[' || *s == '(') s++;
    if (!*s || *s == ']' || *s == ')') return 0;
    for (;;) {
        char *end;
        errno = 0;
        double d = strtod(s, &end);
        if (end == s || errno == ERANGE || !isfinite(d) || *n == cap) return 0;
        out[(*n)++] = d;
        s = end;
        while (*s == ' ') s++;
        if (*s == ',') {
            s++;
            while (*s == ' ') s++;
            continue;
        }
        while (*s == ' ' || *s == ']' || *s == ')') s++;
        return *s == '\0';
    }
}

sbert_status sbert_loss_param_parse(const sbert_loss_def *def, size_t i, const char *text, const char *origin,
                                    sbert_loss_values *v) {
    const sbert_loss_param *p = &def->params[i];
    v->str[i] = text;
    if (p->def && !strcmp(p->def, "None") && (!strcmp(text, "None") || !strcasecmp(text, "null"))) {
        v->num[i] = NAN; /* unset (Python's None) */
        return SBERT_OK;
    }
    if (p->kind == SBERT_LP_CHOICE) {
        size_t k;
        const char *dot = strrchr(text, '.');
        if (choice_index(p->choices, text, &k) || (dot && choice_index(p->choices, dot + 1, &k))) {
            v->num[i] = (double)k;
            return SBERT_OK;
        }
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: %s of %s must be one of %s, got '%s'", origin, p->key, def->name,
                          p->choices, text);
    }
    if (p->kind == SBERT_LP_BOOL) {
        if (!strcasecmp(text, "true") || !strcmp(text, "1") || !strcasecmp(text, "yes")) v->num[i] = 1;
        else if (!strcasecmp(text, "false") || !strcmp(text, "0") || !strcasecmp(text, "no")) v->num[i] = 0;
        else
            return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: %s of %s must be true or false, got '%s'", origin, p->key,
                              def->name, text);
        return SBERT_OK;
    }
    if (p->kind == SBERT_LP_TEXT) {
        v->num[i] = 1;
        return SBERT_OK;
    }
    if (p->kind == SBERT_LP_LIST) {
        double vals[64];
        size_t n = 0;
        if (!sbert_loss_parse_list(text, vals, 64, &n))
            return sbert_fail(SBERT_ERR_INVALID_ARG,
                              "%s: %s of %s must be a list of at most 64 numbers such as '768,512,256' or "
                              "'[768, 512, 256]', got '%s'",
                              origin, p->key, def->name, text);
        for (size_t k = 0; k < n; k++)
            if (vals[k] < p->lo || vals[k] > p->hi || (p->lo >= 1 && vals[k] != floor(vals[k])))
                return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: %s of %s: every value must be %s in [%g, %g], got %g",
                                  origin, p->key, def->name, p->lo >= 1 ? "an integer" : "a number", p->lo, p->hi,
                                  vals[k]);
        v->num[i] = (double)n;
        return SBERT_OK;
    }
    /* A number that may also be one of the words in choices ("None", "auto"): NAN. */
    for (const char *c = p->choices; c && *c;) {
        const char *e = strchr(c, ',');
        size_t len = e ? (size_t)(e - c) : strlen(c);
        if (strlen(text) == len && strncmp(text, c, len) == 0) {
            v->num[i] = NAN;
            return SBERT_OK;
        }
        c = e ? e + 1 : NULL;
    }
    char *end;
    errno = 0;
    double d = strtod(text, &end);
    if (end == text || *end || errno == ERANGE || !isfinite(d))
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: %s must be a number%s%s, got '%s'", origin, p->key,
                          p->choices ? " or one of " : "", p->choices ? p->choices : "", text);
    if (p->kind == SBERT_LP_INT && d != floor(d))
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: %s must be an integer, got '%s'", origin, p->key, text);
    if (d < p->lo || d > p->hi)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: %s of %s must be in [%g, %g], got %s", origin, p->key,
                          def->name, p->lo, p->hi, text);
    v->num[i] = d;
    return SBERT_OK;
}

const char *const *sbert_loss_param_keys(void) {
    static const char *keys[192];
    static size_t n = 0;
    if (n == 0) {
        for (size_t i = 0; i < NP(LOSSES); i++)
            for (size_t j = 0; j < LOSSES[i].n_params; j++) {
                size_t k = 0;
                while (k < n && strcmp(keys[k], LOSSES[i].params[j].key)) k++;
                if (k == n && n + 1 < NP(keys)) keys[n++] = LOSSES[i].params[j].key;
            }
        keys[n] = NULL;
    }
    return keys;
}

sbert_status sbert_loss_check_columns(const sbert_loss_def *def, size_t n_inputs, int has_label, const char *file,
                                      const char *columns) {
    int ok = n_inputs >= def->min_inputs && (def->max_inputs == 0 || n_inputs <= def->max_inputs);
    if (def->label == SBERT_LABEL_NONE && has_label) ok = 0;
    if (def->label != SBERT_LABEL_NONE && def->label != SBERT_LABEL_OPTIONAL && !has_label) ok = 0;
    if (ok) return SBERT_OK;
    const char *label = def->label == SBERT_LABEL_NONE       ? "and no label column"
                        : def->label == SBERT_LABEL_SCORE    ? "and a numeric label/score column"
                        : def->label == SBERT_LABEL_OPTIONAL ? "and an optional label column"
                                                             : "and an integer label column";
    char count[64];
    if (def->max_inputs == def->min_inputs) snprintf(count, sizeof count, "%zu", def->min_inputs);
    else if (def->max_inputs == 0) snprintf(count, sizeof count, "at least %zu", def->min_inputs);
    else snprintf(count, sizeof count, "%zu to %zu", def->min_inputs, def->max_inputs);
    return sbert_fail(SBERT_ERR_FORMAT,
                      "%s: %s expects %s text columns %s %s; the file has %zu text column%s%s (columns: %s)", file,
                      def->name, count, def->columns ? def->columns : "", label, n_inputs, n_inputs == 1 ? "" : "s",
                      has_label ? " and a label" : "", columns);
}
