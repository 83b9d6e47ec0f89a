/*
 * losses/splade.c -- SpladeLoss / CachedSpladeLoss and the adapters of the
 * sparse base losses (loss-table calls -> sparse_losses.c / losses.h).
 *
 * SpladeLoss(base, document_regularizer_weight w_d, query_regularizer_weight
 * w_q, thresholds, use_document_regularizer_only), as
 * sparse_encoder/losses/splade.py:
 *   loss = base(columns, labels)
 *        + w_d(step) * FLOPS(columns 1.. stacked)   (all columns with
 *                                                     use_document_regularizer_only)
 *        + w_q(step) * FLOPS(column 0)
 * where w(step) follows SpladeRegularizerWeightSchedulerCallback, which
 * SparseEncoderTrainer adds whenever the loss is a SpladeLoss: quadratic
 * from 0 to the configured weight over the first third of the training
 * steps (warmup = int(total / 3), at least 1), constant after.
 * CachedSpladeLoss computes the same value and gradients with the
 * embeddings of the batch gathered mini-batch by mini-batch (GradCache,
 * training/train_step.c).
 */
#include <math.h>
#include <string.h>

#include "base/error.h"
#include "losses/loss.h"
#include "losses/sparse_losses.h"
#include "losses/splade.h"

/* Positions of SpladeLoss's parameters in its row (loss_table.c). */
enum { SP_BASE = 0, SP_DOC_W, SP_QUERY_W, SP_DOC_T, SP_QUERY_T, SP_DOC_ONLY };

sbert_status sbert_loss_splade(const sbert_loss_batch *b, double *loss) {
    if (!b->inner || !b->inner_v || !b->inner->compute)
        return sbert_fail(SBERT_ERR_INTERNAL, "SpladeLoss: no base loss");
    sbert_loss_batch ib = *b;
    ib.v = b->inner_v;
    ib.inner = NULL;
    ib.inner_v = NULL;
    double base = 0;
    SBERT_TRY(b->inner->compute(&ib, &base));
    const double third = 1.0 / 3.0;
    double wd = sbert_splade_weight(b->v->num[SP_DOC_W], b->step, b->total_steps, third, 1);
    double wq = sbert_splade_weight(b->v->num[SP_QUERY_W], b->step, b->total_steps, third, 1);
    double td = b->v->num[SP_DOC_T], tq = b->v->num[SP_QUERY_T];
    int doc_only = b->v->num[SP_DOC_ONLY] == 1;
    double reg;
    if (doc_only) {
        reg = sbert_loss_flops(b->cols, b->grads, b->n_cols, b->B, b->dim, td, wd);
    } else {
        reg = b->n_cols > 1 ? sbert_loss_flops(b->cols + 1, b->grads ? b->grads + 1 : NULL, b->n_cols - 1, b->B, b->dim,
                                               td, wd)
                            : 0.0;
        reg += sbert_loss_flops(b->cols, b->grads, 1, b->B, b->dim, tq, wq);
    }
    if (isnan(reg)) return sbert_fail(SBERT_ERR_NOMEM, "SpladeLoss: out of memory in the FLOPS regularizer");
    *loss = base + reg;
    return SBERT_OK;
}

sbert_status sbert_loss_flops_standalone(const sbert_loss_batch *b, double *loss) {
    (void)b;
    (void)loss;
    return sbert_fail(SBERT_ERR_UNSUPPORTED, "FlopsLoss is not intended to be used directly: it is SpladeLoss's "
                                             "regularizer (loss: SpladeLoss)");
}

/* ------------------------------------------------------------ base losses */

sbert_status sbert_loss_sparse_mnrl_adapter(const sbert_loss_batch *b, double *loss) {
    sbert_sim_fn sim = b->v->num[1] == 0 ? SBERT_SIM_DOT : SBERT_SIM_COSINE; /* "dot_score,cos_sim" */
    return sbert_loss_mnrl(b->cols, b->n_cols, b->B, b->dim, b->v->num[0], sim, b->grads, loss);
}

sbert_status sbert_loss_sparse_margin_mse_adapter(const sbert_loss_batch *b, double *loss) {
    if (!b->labels) return sbert_fail(SBERT_ERR_INVALID_ARG, "SparseMarginMSELoss needs a label column");
    sbert_pair_sim sim = b->v->num[0] == 0 ? SBERT_PAIR_DOT : SBERT_PAIR_COS;
    return sbert_sparse_loss_margin_mse(b->cols, b->n_cols, b->B, b->dim, b->labels, 1, sim, b->grads, loss);
}

sbert_status sbert_loss_sparse_triplet_adapter(const sbert_loss_batch *b, double *loss) {
    static const sbert_triplet_metric metrics[] = {SBERT_TRIPLET_EUCLIDEAN, SBERT_TRIPLET_COSINE,
                                                   SBERT_TRIPLET_MANHATTAN};
    return sbert_loss_triplet(b->cols[0], b->cols[1], b->cols[2], b->B, b->dim, metrics[(int)b->v->num[0]],
                              b->v->num[1], b->grads ? b->grads[0] : NULL, b->grads ? b->grads[1] : NULL,
                              b->grads ? b->grads[2] : NULL, loss);
}

sbert_status sbert_loss_sparse_cosent_adapter(const sbert_loss_batch *b, double *loss) {
    return sbert_loss_cosent(b->cols[0], b->cols[1], b->labels, b->B, b->dim, b->v->num[0],
                             b->grads ? b->grads[0] : NULL, b->grads ? b->grads[1] : NULL, loss);
}

sbert_status sbert_loss_sparse_angle_adapter(const sbert_loss_batch *b, double *loss) {
    return sbert_sparse_loss_angle(b->cols[0], b->cols[1], b->labels, b->B, b->dim, b->v->num[0],
                            b->grads ? b->grads[0] : NULL, b->grads ? b->grads[1] : NULL, loss);
}

sbert_status sbert_loss_sparse_cosine_adapter(const sbert_loss_batch *b, double *loss) {
    return sbert_sparse_loss_cosine_similarity(b->cols[0], b->cols[1], b->labels, b->B, b->dim,
                                        b->grads ? b->grads[0] : NULL, b->grads ? b->grads[1] : NULL, loss);
}
