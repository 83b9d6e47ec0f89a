/*
 * training/adaptive_step.c -- the step of AdaptiveLayerLoss and
 * Matryoshka2dLoss (sentence-transformers AdaptiveLayerLoss):
 *   loss = last_layer_weight * inner(final embeddings)
 *        + sum over the chosen layers l of
 *            prior_layers_weight * w(l) / n_chosen * inner(embeddings of layer l)
 *          + kl_div_weight * kl_temperature * KL(softmax(final / T) || log_softmax(layer l / T))
 * where "inner" is the wrapped loss (MatryoshkaLoss(...) for Matryoshka2dLoss),
 * the layers are hidden states 0 .. L-1 (0 the embedding output; the final
 * layer excluded), n_layers_per_step of them drawn each step (all when <= 0
 * or >= L), w(l) from layer_weighting, the KL over the embeddings of all
 * columns concatenated (batchmean), the final embeddings detached in it.
 * Earlier layers' embeddings come from re-running the modules after the
 * Transformer on their hidden states (models/pipeline_layers.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "models/pipeline_layers.h"
#include "training/trainer_internal.h"

/* inner loss of `cols` with gradients weight * d/dcols added into gout [nc*B*D]. */
static sbert_status weighted(const sbert_loss_spec *spec, sbert_loss_batch *lb, const float *emb, double weight,
                             float *gtmp, float *gout, double *loss) {
    const size_t nc = lb->n_cols, B = lb->B, D = lb->dim;
    const float *cols[64];
    float *grads[64];
    for (size_t c = 0; c < nc; c++) {
        cols[c] = emb + c * B * D;
        grads[c] = gtmp + c * B * D;
    }
    memset(gtmp, 0, nc * B * D * sizeof *gtmp);
    lb->cols = cols;
    lb->grads = weight != 0 ? grads : NULL;
    sbert_param_table *stp = lb->state;
    if (stp && weight != 0) /* the loss's own gradients scaled by weight: (old / weight + new) * weight */
        for (size_t r = 0; r < sbert_params_count(stp); r++) {
            sbert_param *p = sbert_params_at(stp, r);
            for (size_t i = 0; i < p->numel; i++) p->grad[i] = (float)(p->grad[i] / weight);
        }
    sbert_status st = sbert_loss_spec_compute(spec, lb, loss);
    if (stp && weight != 0)
        for (size_t r = 0; r < sbert_params_count(stp); r++) {
            sbert_param *p = sbert_params_at(stp, r);
            for (size_t i = 0; i < p->numel; i++) p->grad[i] = (float)(p->grad[i] * weight);
        }
    if (st == SBERT_OK && weight != 0)
        for (size_t i = 0; i < nc * B * D; i++) gout[i] += (float)(weight * gtmp[i]);
    lb->cols = NULL;
    lb->grads = NULL;
    return st;
}

sbert_status sbert_trainer_adaptive_step(sbert_trainer *t, const size_t *rows, size_t B, double w, double *loss_out) {
    sbert_train_set *s = &t->sets[t->cur_set];
    sbert_train_loss *L = &t->losses[s->loss];
    const sbert_loss_spec *spec = L->spec;
    const size_t nc = s->n_inputs, D = t->model->full_dim, N = nc * B;
    if (spec->def->cached || (spec->def->needs & SBERT_LOSS_NEEDS_COPY))
        return sbert_fail(SBERT_ERR_UNSUPPORTED, "%s is not compatible with %s", spec->wrapper->name, spec->def->name);
    for (size_t c = 1; c < nc; c++)
        if (s->prompt_len[c] != s->prompt_len[0])
            return sbert_fail(SBERT_ERR_UNSUPPORTED,
                              "%s: the columns' prompts leave different numbers of tokens out of pooling; give every "
                              "column the same prompt or use include_prompt true",
                              spec->wrapper->name);
    const size_t Lmax = sbert_model_num_layers(t->model);
    if (Lmax == 0)
        return sbert_fail(SBERT_ERR_UNSUPPORTED, "%s needs a model whose first module is a Transformer",
                          spec->wrapper->name);
    /* the layers of this step: all, or n_layers_per_step drawn (random.sample order) */
    size_t layers[512], n_sel = Lmax < 512 ? Lmax : 512;
    for (size_t l = 0; l < n_sel; l++) layers[l] = l;
    if (spec->n_layers_per_step > 0 && (size_t)spec->n_layers_per_step < Lmax) {
        for (size_t i = 0; i < (size_t)spec->n_layers_per_step; i++) {
            size_t j = i + (size_t)sbert_rng_below(&t->loss_rng, n_sel - i);
            size_t tmp = layers[i];
            layers[i] = layers[j];
            layers[j] = tmp;
        }
        n_sel = (size_t)spec->n_layers_per_step;
    }
    float *emb = malloc(N * D * sizeof *emb), *lay = malloc(n_sel * N * D * sizeof *lay);
    float *gf = calloc(N * D, sizeof *gf), *gl = calloc(n_sel * N * D, sizeof *gl), *gtmp = malloc(N * D * sizeof *gtmp);
    float *guide = NULL, *labels = NULL;
    size_t lw = 1, GD = t->guide ? t->guide->full_dim : 0;
    sbert_layer_runs lr;
    memset(&lr, 0, sizeof lr);
    int kept = 0;
    sbert_status st = emb && lay && gf && gl && gtmp ? SBERT_OK : sbert_fail(SBERT_ERR_NOMEM, "out of memory (%s)",
                                                                             spec->wrapper->name);
    if (st == SBERT_OK) {
        const sbert_packed *src[64];
        for (size_t c = 0; c < nc; c++) src[c] = &s->cols[c];
        st = sbert_packed_gather(&t->batch, src, nc, rows, B);
        if (st == SBERT_OK)
            st = sbert_model_forward_train_prompt(t->model, &t->batch, s->prompt_len[0], &t->dropout_rng, emb);
        kept = st == SBERT_OK;
    }
    if (st == SBERT_OK) st = sbert_model_forward_layers(t->model, layers, n_sel, &lr, lay);
    if (st == SBERT_OK && (spec->def->needs & SBERT_LOSS_NEEDS_GUIDE)) {
        guide = malloc(nc * B * GD * sizeof *guide);
        if (!guide) st = sbert_fail(SBERT_ERR_NOMEM, "out of memory");
        for (size_t c = 0; c < nc && st == SBERT_OK; c++)
            st = sbert_train_guide_embed(t, s, c, rows, B, guide + c * B * GD);
    }
    if (st == SBERT_OK && s->label_col >= 0) {
        const sbert_column *col = &s->ds->cols[s->label_col];
        const int list = col->kind == SBERT_COL_NUMBER_LIST;
        lw = list ? s->label_width : 1;
        labels = malloc(B * (lw ? lw : 1) * sizeof *labels);
        if (!labels) st = sbert_fail(SBERT_ERR_NOMEM, "out of memory");
        for (size_t i = 0; labels && i < B; i++)
            for (size_t k = 0; k < lw; k++)
                labels[i * lw + k] = (float)(list ? col->nums[col->off[rows[i]] + k] : col->num[rows[i]]);
    }
    double total = 0;
    if (st == SBERT_OK) {
        const float *gcols[64];
        for (size_t c = 0; guide && c < nc; c++) gcols[c] = guide + c * B * GD;
        sbert_loss_batch lb = {.n_cols = nc, .B = B, .dim = D, .labels = labels, .label_width = lw,
                               .guide = guide ? gcols : NULL, .guide_dim = GD,
                               .state = L->state ? L->state->params : NULL, .rng = &t->loss_rng};
        double l = 0;
        st = weighted(spec, &lb, emb, spec->last_layer_weight * w, gtmp, gf, &l);
        total = l * spec->last_layer_weight;
        const double T = spec->kl_temperature;
        for (size_t j = 0; j < n_sel && st == SBERT_OK; j++) {
            double lw_j = sbert_adaptive_layer_weight(spec->layer_weighting, layers[j]) / (double)n_sel *
                          spec->prior_layers_weight;
            float *ej = lay + j * N * D, *gj = gl + j * N * D;
            st = weighted(spec, &lb, ej, lw_j * w, gtmp, gj, &l);
            total += l * lw_j;
            if (st == SBERT_OK && T > 0) {
                double kl = sbert_adaptive_layer_kl(emb, ej, N, D, T, T * spec->kl_div_weight * w, gj);
                total += kl * T * spec->kl_div_weight;
            }
        }
    }
    if (st == SBERT_OK) {
        *loss_out = total;
        st = sbert_model_backward_layers(t->model, &lr, gf, gl);
        kept = 0;
    }
    if (lr.n) sbert_layer_runs_release(t->model, &lr);
    if (kept) sbert_model_release(t->model);
    free(emb);
    free(lay);
    free(gf);
    free(gl);
    free(gtmp);
    free(guide);
    free(labels);
    return st;
}
