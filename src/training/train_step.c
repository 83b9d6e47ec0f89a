/*
 * training/train_step.c -- one micro-batch. For models that map each text to
 * a vector (SentenceTransformer, SparseEncoder; a CrossEncoder's pair step is
 * in train_step_cross.c): the rows of every input column
 * packed into one batch (text c*B + i is row i of column c), one training
 * forward of the model, the loss from the loss table, its gradient back
 * through the model. Cached* losses (gradient caching, GradCache):
 *   1. embed the batch in mini-batches of mini_batch_size rows without
 *      keeping activations, snapshotting the dropout generator before each;
 *   2. the loss and its gradient on the full batch of embeddings;
 *   3. re-run each mini-batch forward with the same generator state and
 *      back-propagate its slice of the cached embedding gradients.
 * The loss and the parameter gradients equal the uncached loss on the same
 * batch, while activations are only held for one mini-batch at a time.
 */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "training/trainer_internal.h"

/* The loss of the embeddings emb [nc, B, D] (column c at emb + c*B*D);
 * gradients into g (same layout, zeroed by the caller). */
static sbert_status loss_of(sbert_trainer *t, const float *emb, size_t B, const size_t *rows, float *g, double *loss) {
    const size_t nc = t->n_inputs, D = t->model->full_dim;
    const float **cols = malloc(nc * sizeof *cols);
    float **grads = malloc(nc * sizeof *grads);
    float *labels = t->label_col >= 0 ? malloc(B * sizeof *labels) : NULL;
    sbert_status st = SBERT_OK;
    if (!cols || !grads || (t->label_col >= 0 && !labels)) {
        st = sbert_fail(SBERT_ERR_NOMEM, "out of memory in a training step");
        goto done;
    }
    for (size_t c = 0; c < nc; c++) {
        cols[c] = emb + c * B * D;
        grads[c] = g + c * B * D;
    }
    if (labels)
        for (size_t i = 0; i < B; i++) labels[i] = (float)t->train->cols[t->label_col].num[rows[i]];
    sbert_loss_batch lb = {.cols = cols, .grads = grads, .n_cols = nc, .B = B, .dim = D, .labels = labels, .v = &t->a->loss_values};
    st = t->a->loss_def->compute(&lb, loss);
done:
    free(cols);
    free(grads);
    free(labels);
    return st;
}

static void scale(float *g, size_t n, double w) {
    if (w != 1.0)
        for (size_t i = 0; i < n; i++) g[i] = (float)(g[i] * w);
}

/* Copy rows [s, s+nb) of every column between a [nc, B, D] and a [nc, nb, D] buffer. */
static void slice_cols(float *full, float *part, size_t nc, size_t B, size_t s, size_t nb, size_t D, int to_full) {
    for (size_t c = 0; c < nc; c++) {
        float *f = full + (c * B + s) * D, *p = part + c * nb * D;
        if (to_full) memcpy(f, p, nb * D * sizeof *f);
        else memcpy(p, f, nb * D * sizeof *f);
    }
}

/* A forward of rows [nb] of every column into out [nc, nb, D]. */
static sbert_status forward_rows(sbert_trainer *t, const size_t *rows, size_t nb, float *out) {
    const sbert_packed **sp = malloc(t->n_inputs * sizeof *sp);
    if (!sp) return sbert_fail(SBERT_ERR_NOMEM, "out of memory in a training step");
    for (size_t c = 0; c < t->n_inputs; c++) sp[c] = &t->cols[c];
    sbert_status st = sbert_packed_gather(&t->batch, sp, t->n_inputs, rows, nb);
    free((void *)sp);
    SBERT_TRY(st);
    return sbert_model_forward_train(t->model, &t->batch, &t->dropout_rng, out);
}

static sbert_status cached_step(sbert_trainer *t, const size_t *rows, size_t B, double w, double *loss_out) {
    const size_t nc = t->n_inputs, D = t->model->full_dim;
    int mbi = sbert_loss_param_index(t->a->loss_def, "mini_batch_size");
    size_t mb = mbi >= 0 ? (size_t)t->a->loss_values.num[mbi] : B;
    if (mb > B) mb = B;
    size_t n_mb = (B + mb - 1) / mb;
    float *emb = malloc(nc * B * D * sizeof *emb), *g = calloc(nc * B * D, sizeof *g);
    float *part = malloc(nc * mb * D * sizeof *part);
    sbert_rng *snap = malloc(n_mb * sizeof *snap);
    sbert_status st = SBERT_OK;
    if (!emb || !g || !part || !snap) {
        st = sbert_fail(SBERT_ERR_NOMEM, "out of memory in a cached step (batch %zu x %zu columns)", B, nc);
        goto done;
    }
    for (size_t k = 0, s = 0; s < B; k++, s += mb) {
        size_t nb = B - s < mb ? B - s : mb;
        snap[k] = t->dropout_rng;
        if ((st = forward_rows(t, rows + s, nb, part)) != SBERT_OK) goto done;
        sbert_model_release(t->model);
        slice_cols(emb, part, nc, B, s, nb, D, 1);
    }
    double loss = 0;
    if ((st = loss_of(t, emb, B, rows, g, &loss)) != SBERT_OK) goto done;
    *loss_out = loss;
    scale(g, nc * B * D, w);
    sbert_rng after = t->dropout_rng;
    for (size_t k = 0, s = 0; s < B && st == SBERT_OK; k++, s += mb) {
        size_t nb = B - s < mb ? B - s : mb;
        t->dropout_rng = snap[k];
        if ((st = forward_rows(t, rows + s, nb, part)) != SBERT_OK) break;
        slice_cols(g, part, nc, B, s, nb, D, 0);
        st = sbert_model_backward(t->model, part);
    }
    t->dropout_rng = after;
done:
    sbert_model_release(t->model);
    free(emb);
    free(g);
    free(part);
    free(snap);
    return st;
}

/* Models that map each text to a vector (SentenceTransformer, SparseEncoder). */
static sbert_status embedding_step(sbert_trainer *t, const size_t *rows, size_t B, double loss_weight,
                                   double *loss_out) {
    if (t->a->loss_def->cached) return cached_step(t, rows, B, loss_weight, loss_out);
    const size_t nc = t->n_inputs, D = t->model->full_dim;
    float *emb = malloc(nc * B * D * sizeof *emb), *g = calloc(nc * B * D, sizeof *g);
    sbert_status st = SBERT_OK;
    if (!emb || !g) {
        st = sbert_fail(SBERT_ERR_NOMEM, "out of memory in a training step (batch %zu x %zu columns)", B, nc);
        goto done;
    }
    if ((st = forward_rows(t, rows, B, emb)) != SBERT_OK) goto done;
    double loss = 0;
    if ((st = loss_of(t, emb, B, rows, g, &loss)) != SBERT_OK) goto done;
    *loss_out = loss;
    scale(g, nc * B * D, loss_weight);
    st = sbert_model_backward(t->model, g);
done:
    sbert_model_release(t->model);
    free(emb);
    free(g);
    return st;
}

sbert_status sbert_trainer_micro_step(sbert_trainer *t, const size_t *rows, size_t B, double loss_weight,
                                      double *loss_out) {
    if (t->model->kind == SBERT_KIND_CROSS_ENCODER) return sbert_trainer_cross_step(t, rows, B, loss_weight, loss_out);
    return embedding_step(t, rows, B, loss_weight, loss_out);
}
