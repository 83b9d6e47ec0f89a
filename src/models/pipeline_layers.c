/*
 * models/pipeline_layers.c -- the embeddings of earlier transformer layers
 * for AdaptiveLayerLoss: after a training forward (sbert_model_forward_train*),
 * the hidden states of chosen layers go through the rest of the pipeline
 * (Pooling, Dense, Normalize...) again, as sentence-transformers re-pools
 * all_layer_embeddings[l]; the backward sends each layer's gradient back
 * through those modules and into the transformer where that hidden state is
 * produced, then runs the ordinary backward of the final output.
 */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "models/model.h"
#include "models/pipeline_layers.h"
#include "modules/transformer_module.h"

void sbert_layer_runs_release(sbert_model *m, sbert_layer_runs *lr) {
    for (size_t j = 0; lr->recs && j < lr->n; j++)
        for (size_t i = 1; i < m->n_mods; i++)
            if (m->mods[i]->ops->rec_free) m->mods[i]->ops->rec_free(m->mods[i], lr->recs[j * m->n_mods + i]);
    free(lr->layer);
    free(lr->stages);
    free(lr->recs);
    memset(lr, 0, sizeof *lr);
}

size_t sbert_model_num_layers(const sbert_model *m) {
    sbert_transformer *t = m && m->n_mods ? sbert_transformer_module_encoder(m->mods[0]) : NULL;
    return t ? sbert_transformer_num_layers(t) : 0;
}

sbert_status sbert_model_forward_layers(sbert_model *m, const size_t *layers, size_t n, sbert_layer_runs *lr,
                                        float *out) {
    memset(lr, 0, sizeof *lr);
    sbert_transformer *t = m->n_mods ? sbert_transformer_module_encoder(m->mods[0]) : NULL;
    if (!t) return sbert_fail(SBERT_ERR_UNSUPPORTED, "AdaptiveLayerLoss needs a model whose first module is a Transformer");
    if (!m->busy) return sbert_fail(SBERT_ERR_INVALID_ARG, "earlier layers: no training forward is kept");
    const size_t M = m->n_mods;
    lr->layer = malloc((n ? n : 1) * sizeof *lr->layer);
    lr->stages = calloc((n ? n : 1) * (M + 1), sizeof *lr->stages);
    lr->recs = calloc((n ? n : 1) * M, sizeof *lr->recs);
    if (!lr->layer || !lr->stages || !lr->recs) {
        sbert_layer_runs_release(m, lr);
        return sbert_fail(SBERT_ERR_NOMEM, "out of memory (earlier layers)");
    }
    lr->n = n;
    for (size_t j = 0; j < n; j++) {
        const float *h = sbert_transformer_hidden_state(t, layers[j]);
        if (!h) {
            sbert_layer_runs_release(m, lr);
            return sbert_fail(SBERT_ERR_INVALID_ARG, "layer %zu: the model has %zu layers", layers[j],
                              sbert_transformer_num_layers(t));
        }
        lr->layer[j] = layers[j];
        sbert_features f = m->stages[1]; /* after the transformer, with layer j's hidden state */
        f.tok = (float *)h;
        sbert_features *stg = lr->stages + j * (M + 1);
        for (size_t i = 1; i < M; i++) {
            stg[i] = f;
            void *rec = NULL;
            sbert_status st = m->mods[i]->ops->forward(m->mods[i], &f, &m->run, &rec);
            lr->recs[j * M + i] = rec;
            if (st != SBERT_OK) {
                sbert_error_prefix("%s (layer %zu): ", m->mods[i]->ops->class_name, layers[j]);
                sbert_layer_runs_release(m, lr);
                return st;
            }
        }
        stg[M] = f;
        if (!f.emb) {
            sbert_layer_runs_release(m, lr);
            return sbert_fail(SBERT_ERR_UNSUPPORTED, "the modules after the Transformer produce no sentence embedding");
        }
        memcpy(out + j * f.n_seq * m->full_dim, f.emb, f.n_seq * m->full_dim * sizeof *out);
    }
    return SBERT_OK;
}

sbert_status sbert_model_backward_layers(sbert_model *m, sbert_layer_runs *lr, const float *dout_final,
                                         const float *dout_layers) {
    sbert_transformer *t = sbert_transformer_module_encoder(m->mods[0]);
    const size_t M = m->n_mods, L = t ? sbert_transformer_num_layers(t) : 0;
    const float **dh = calloc(L ? L : 1, sizeof *dh);
    sbert_status st = dh ? SBERT_OK : sbert_fail(SBERT_ERR_NOMEM, "out of memory (earlier layers)");
    const size_t n_seq = m->stages[M].n_seq, T = m->stages[1].T, H = m->stages[1].tok_dim;
    for (size_t j = 0; j < lr->n && st == SBERT_OK; j++) {
        sbert_features *stg = lr->stages + j * (M + 1);
        sbert_feature_grads g = {NULL, (float *)(dout_layers + j * n_seq * m->full_dim)};
        for (size_t i = M; i-- > 1 && st == SBERT_OK;) {
            sbert_module *mod = m->mods[i];
            sbert_feature_grads din = {NULL, NULL};
            st = mod->ops->backward(mod, &stg[i], &stg[i + 1], &g, &din, &m->run, lr->recs[j * M + i]);
            if (st != SBERT_OK) sbert_error_prefix("%s backward (layer %zu): ", mod->ops->class_name, lr->layer[j]);
            g = din;
        }
        if (st != SBERT_OK) break;
        if (!g.tok) {
            st = sbert_fail(SBERT_ERR_INTERNAL, "earlier layers: no token gradient reached the transformer");
            break;
        }
        size_t l = lr->layer[j];
        if (!dh[l]) {
            dh[l] = g.tok;
        } else { /* the same layer twice: add up (into a fresh buffer of the run) */
            float *sum = sbert_run_alloc(&m->run, T * H, 0);
            if (!sum) {
                st = SBERT_ERR_NOMEM;
                break;
            }
            for (size_t k = 0; k < T * H; k++) sum[k] = dh[l][k] + g.tok[k];
            dh[l] = sum;
        }
    }
    if (st == SBERT_OK) {
        sbert_transformer_module_set_layer_grads(m->mods[0], dh);
        st = sbert_model_backward(m, dout_final);
        sbert_transformer_module_set_layer_grads(m->mods[0], NULL);
    }
    sbert_layer_runs_release(m, lr);
    if (st != SBERT_OK) sbert_model_release(m);
    free(dh);
    return st;
}
