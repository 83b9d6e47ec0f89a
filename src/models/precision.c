/*
 * models/precision.c -- sbert_model_set_precision: the compute precision of
 * a loaded model's transformer encoders ("fp32" or "bf16"), and the save of
 * a model directory's weights in bf16.
 *
 * bf16 means what torch's autocast means for nn.Linear: the encoder's
 * linear layers (Q/K/V, attention output, both feed-forward layers) multiply
 * bf16 inputs with bf16 copies of their weights, accumulating in fp32
 * (kernels/bf16_gemm.h); the embeddings, LayerNorm, attention scores and
 * softmax, activations, residuals, pooling, Dense/Normalize modules, heads
 * and the SPLADE vocabulary decoder stay fp32. Where bf16 products cannot run
 * (no oneDNN in the build, a CPU without AVX512-BF16 / AMX-BF16) the model
 * stays fp32 and *used says so; the caller tells the user.
 */
#include <string.h>

#include "base/error.h"
#include "kernels/bf16_gemm.h"
#include "models/model.h"
#include "modules/mlm_head.h"
#include "modules/transformer_module.h"

static sbert_transformer *encoder_of(sbert_module *m) {
    sbert_transformer *t = sbert_transformer_module_encoder(m);
    return t ? t : sbert_mlm_encoder(m);
}

/* 1: bf16, 0: fp32, -1: not a precision name. */
static int parse_precision(const char *p) {
    if (!p) return -1;
    if (!strcmp(p, "bf16") || !strcmp(p, "bfloat16") || !strcmp(p, "torch.bfloat16")) return 1;
    if (!strcmp(p, "fp32") || !strcmp(p, "float32") || !strcmp(p, "torch.float32")) return 0;
    return -1;
}

sbert_status sbert_model_set_precision(sbert_model *model, const char *precision, const char **used) {
    if (used) *used = "fp32";
    if (!model) return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_model_set_precision: NULL model");
    int bf16 = parse_precision(precision);
    if (bf16 < 0)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "precision '%s' is not supported (use fp32 or bf16; fp16 is not implemented)",
                          precision ? precision : "(null)");
    size_t n_enc = 0;
    for (size_t i = 0; i < model->n_mods; i++)
        if (encoder_of(model->mods[i])) n_enc++;
    if (bf16 && n_enc == 0)
        return sbert_fail(SBERT_ERR_UNSUPPORTED,
                          "precision bf16: this model has no transformer encoder (its first module is %s); bf16 "
                          "applies to the encoder's linear layers -- run it in fp32",
                          model->n_mods ? model->mods[0]->ops->class_name : "none");
    int on = bf16 && sbert_bf16_unavailable() == NULL;
    for (size_t i = 0; i < model->n_mods; i++) {
        sbert_transformer *t = encoder_of(model->mods[i]);
        if (t) SBERT_TRY(sbert_transformer_set_bf16(t, on));
        SBERT_TRY(sbert_mlm_set_bf16(model->mods[i], on)); /* SPLADE: the vocabulary decoder's forward */
    }
    if (used) *used = on ? "bf16" : "fp32";
    return SBERT_OK;
}

const char *sbert_bf16_unavailable_reason(void) { return sbert_bf16_unavailable(); }

const char *sbert_bf16_cpu(void) { return sbert_bf16_isa_name(sbert_bf16_cpu_isa()); }
