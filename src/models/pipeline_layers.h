/*
 * models/pipeline_layers.h -- embeddings of earlier transformer layers
 * (AdaptiveLayerLoss), see pipeline_layers.c.
 */
#ifndef SBERT_MODELS_PIPELINE_LAYERS_H
#define SBERT_MODELS_PIPELINE_LAYERS_H

#include <stddef.h>

#include "models/model.h"

/* What the re-runs of the modules after the Transformer keep. */
typedef struct {
    size_t n;
    size_t *layer;          /* [n] hidden-state index of each run */
    sbert_features *stages; /* [n][n_mods + 1] */
    void **recs;            /* [n][n_mods] */
} sbert_layer_runs;

/* The transformer's number of layers (0 when the first module is not a
 * Transformer). Hidden states are 0 .. num_layers - 1 (0: the embedding
 * output); the last layer's output is the ordinary forward. */
size_t sbert_model_num_layers(const sbert_model *m);

/* After a kept training forward of n_seq texts: out [n][n_seq, full_dim] the
 * sentence embeddings of hidden states layers[0..n). */
sbert_status sbert_model_forward_layers(sbert_model *m, const size_t *layers, size_t n, sbert_layer_runs *lr,
                                        float *out);
/* Backward of both: dout_final [n_seq, full_dim], dout_layers [n][n_seq,
 * full_dim]. Releases the forward and lr. */
sbert_status sbert_model_backward_layers(sbert_model *m, sbert_layer_runs *lr, const float *dout_final,
                                         const float *dout_layers);
/* Drop lr without a backward. */
void sbert_layer_runs_release(sbert_model *m, sbert_layer_runs *lr);

#endif
