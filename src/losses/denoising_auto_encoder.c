/*
 * losses/denoising_auto_encoder.c -- DenoisingAutoEncoderLoss (TSDAE), as
 * sentence-transformers 6.2 builds it with its defaults
 * (decoder_name_or_path None, tie_encoder_decoder True):
 *
 *   reps    = model(damaged)["sentence_embedding"]            [B, H]
 *   decoder = BertLMHeadModel(config with is_decoder, add_cross_attention),
 *             every weight it shares with the encoder TIED (the same
 *             tensor: _tie_encoder_decoder_weights), the LM head's output
 *             projection tied to the word embeddings
 *   logits  = decoder(input_ids = original[:, :-1], attention_mask None,
 *                     encoder_hidden_states = reps[:, None])
 *   loss    = CrossEntropy(logits, original[:, 1:], ignore_index = pad id)
 *
 * The decoder pass runs on a second transformer handle over the encoder's
 * own weights (sbert_transformer_share), so its gradients land in the
 * encoder's gradient buffer next to the encoder pass's. It is causal and
 * has no padding mask; padded rows only add ignored labels after a
 * sequence's end, so the packed pass over each sequence's own tokens gives
 * Python's loss. It runs without dropout: from_pretrained leaves the
 * decoder in eval mode and the trainer only switches the SentenceTransformer
 * to train mode.
 *
 * The cross-attention block attends to ONE key (reps[s]); its softmax is 1,
 * so its context is the value projection of reps at every position and the
 * block adds z[s] = (reps[s] Wv^T + bv) Wo^T + bo before its LayerNorm
 * (modules/transformer.h). Its query and key projections then change
 * nothing and get exactly zero gradients in PyTorch: they are left out.
 *
 * The loss's own parameters (a sealed table, trained by the same AdamW and
 * kept in checkpoints, not saved with the model -- sentence-transformers
 * saves only the SentenceTransformer): per layer the cross block's value
 * and output projections and its LayerNorm, and the LM head's transform
 * (dense, hidden_act, LayerNorm) and vocabulary bias. Logits are computed
 * in blocks of rows, so no [tokens, vocab] matrix exists at once.
 */
#include "losses/denoising_auto_encoder.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/threads.h"
#include "io/file.h"
#include "io/safetensors.h"
#include "kernels/cpu_ops.h"
#include "kernels/cpu_ops_backward.h"
#include "modules/transformer.h"
#include "modules/transformer_module.h"

/* Rows of logits computed at once: at most this many floats. */
#define DAE_BLOCK_FLOATS ((size_t)1 << 22)

typedef struct {
    float *vw, *vb, *ow, *ob, *lnw, *lnb; /* [H,H], [H], [H,H], [H], [H], [H] */
    float *g_vw, *g_vb, *g_ow, *g_ob, *g_lnw, *g_lnb;
} dae_layer;

struct sbert_dae {
    sbert_transformer *enc, *dec; /* dec shares enc's weights */
    size_t H, L, V;
    sbert_act act;
    float eps;
    int pad;
    size_t word_off;           /* of the word embeddings in the encoder's flat buffer */
    size_t n_loaded;           /* state tensors taken from the model's checkpoint */
    const float *word;         /* [V, H] */
    dae_layer *layers;         /* [L] */
    float *tw, *tb, *tlnw, *tlnb, *bias;          /* LM head: [H,H], [H], [H], [H], [V] */
    float *g_tw, *g_tb, *g_tlnw, *g_tlnb, *g_bias;
};

static sbert_status nomem(void) { return sbert_fail(SBERT_ERR_NOMEM, "DenoisingAutoEncoderLoss: out of memory"); }

size_t sbert_dae_n_loaded(const sbert_dae *d) { return d->n_loaded; }

void sbert_dae_free(sbert_dae *d) {
    if (!d) return;
    sbert_transformer_free(d->dec);
    free(d->layers);
    free(d);
}

float *sbert_dae_encoder_grads(sbert_model *m) {
    sbert_module *mod = m && m->n_mods ? m->mods[0] : NULL;
    if (!mod || !sbert_transformer_module_encoder(mod) || !mod->pt) return NULL;
    return sbert_params_at(mod->pt, mod->pfirst)->grad;
}

/* ------------------------------------------------------------ the state */

typedef struct {
    char name[160];
    size_t d0, d1; /* d1 0: a vector */
    int init;      /* 0 zeros, 1 ones, 2 normal */
    float **view;
} dae_row;

/* The checkpoint's tensor for row `name` (with or without the "bert." of
 * the decoder's base model, LayerNorm weight / bias also under their legacy
 * names gamma / beta, "cls.predictions.bias" also as the decoder's own
 * bias), or NULL. */
static const char *find_in_checkpoint(const sbert_safetensors *f, const char *name, char *buf, size_t cap) {
    if (!f) return NULL;
    for (int strip = 0; strip < 2; strip++) {
        const char *n = name;
        if (strip) {
            if (strncmp(name, "bert.", 5)) break;
            n = name + 5;
        }
        if (sbert_st_find(f, n)) {
            snprintf(buf, cap, "%s", n);
            return buf;
        }
        size_t len = strlen(n);
        const char *legacy = NULL;
        if (len > 17 && !strcmp(n + len - 17, ".LayerNorm.weight")) legacy = "gamma";
        if (len > 15 && !strcmp(n + len - 15, ".LayerNorm.bias")) legacy = "beta";
        if (legacy) {
            size_t keep = len - (legacy[0] == 'g' ? 6 : 4); /* up to "LayerNorm." */
            snprintf(buf, cap, "%.*s%s", (int)keep, n, legacy);
            if (sbert_st_find(f, buf)) return buf;
        }
    }
    if (!strcmp(name, "cls.predictions.bias")) {
        snprintf(buf, cap, "cls.predictions.decoder.bias");
        if (sbert_st_find(f, buf)) return buf;
    }
    return NULL;
}

sbert_status sbert_dae_create(sbert_model *m, const sbert_loss_def *def, const sbert_loss_values *v,
                              const char *origin, sbert_rng *rng, sbert_loss_state **state_out, sbert_dae **out) {
    *state_out = NULL;
    *out = NULL;
    int ti = sbert_loss_param_index(def, "tie_encoder_decoder"), di = sbert_loss_param_index(def, "decoder_name_or_path");
    if (di >= 0 && !isnan(v->num[di]))
        return sbert_fail(SBERT_ERR_UNSUPPORTED,
                          "%s: decoder_name_or_path '%s' of DenoisingAutoEncoderLoss: only the default (None: the "
                          "decoder is built from the model's own config and weights, tied to them) is supported in "
                          "sbert; remove the key (with tie_encoder_decoder true sentence-transformers ignores it too)",
                          origin, v->str[di]);
    if (ti >= 0 && v->num[ti] == 0)
        return sbert_fail(SBERT_ERR_UNSUPPORTED,
                          "%s: tie_encoder_decoder false of DenoisingAutoEncoderLoss (a separate decoder, which "
                          "sentence-transformers loads from decoder_name_or_path) is not supported in sbert; use the "
                          "default true",
                          origin);
    sbert_module *mod = m->n_mods ? m->mods[0] : NULL;
    sbert_transformer *enc = mod ? sbert_transformer_module_encoder(mod) : NULL;
    if (!enc)
        return sbert_fail(SBERT_ERR_UNSUPPORTED,
                          "DenoisingAutoEncoderLoss needs a model whose first module is a Transformer (this one starts "
                          "with %s): its decoder is built from that transformer",
                          mod ? mod->ops->class_name : "nothing");
    const char *mt = sbert_transformer_model_type(enc);
    if (strcmp(mt, "bert") != 0)
        return sbert_fail(SBERT_ERR_UNSUPPORTED,
                          "DenoisingAutoEncoderLoss: the decoder is a BertLMHeadModel built from the encoder's "
                          "config; model_type '%s' is not supported for it in sbert (only bert: BERT, MiniLM, bge...; "
                          "transformers has no causal-LM decoder for distilbert or mpnet at all)",
                          mt);
    if (sbert_transformer_lora(enc))
        return sbert_fail(SBERT_ERR_UNSUPPORTED, "DenoisingAutoEncoderLoss with LoRA adapters is not supported in "
                                                 "sbert (the decoder shares the encoder's weights)");
    const size_t H = sbert_transformer_hidden_size(enc), L = sbert_transformer_num_layers(enc),
                 V = sbert_transformer_vocab_size(enc);
    if (m->full_dim != H)
        return sbert_fail(SBERT_ERR_UNSUPPORTED,
                          "DenoisingAutoEncoderLoss: the sentence embedding (%zu wide) is the decoder's cross-attention "
                          "input and must be as wide as the transformer's hidden size (%zu); drop the Dense module or "
                          "train without it",
                          m->full_dim, H);
    sbert_dae *d = calloc(1, sizeof *d);
    sbert_loss_state *s = calloc(1, sizeof *s);
    dae_row *rows = calloc(6 * L + 5, sizeof *rows);
    sbert_safetensors *ck = NULL;
    sbert_status st = d && s && rows ? SBERT_OK : nomem();
    if (st == SBERT_OK) {
        d->layers = calloc(L ? L : 1, sizeof *d->layers);
        if (!d->layers) st = nomem();
    }
    if (st != SBERT_OK) goto fail;
    d->enc = enc;
    d->H = H;
    d->L = L;
    d->V = V;
    d->act = (sbert_act)sbert_transformer_hidden_act(enc);
    d->eps = sbert_transformer_layer_norm_eps(enc);
    d->pad = sbert_transformer_pad_id(enc);
    for (size_t i = 0; i < sbert_transformer_num_params(enc); i++) {
        const sbert_transformer_param *p = sbert_transformer_param_at(enc, i);
        if (!strcmp(p->name, "embeddings.word_embeddings.weight")) d->word_off = p->offset;
    }
    d->word = sbert_transformer_params(enc, NULL) + d->word_off;
    /* the rows, in the order of the flat block */
    size_t nr = 0;
    for (size_t l = 0; l < L; l++) {
        dae_layer *y = &d->layers[l];
        const char *pre = "bert.encoder.layer";
#define ROW(fmt, a, b, ini, v)                                                                                         \
    do {                                                                                                               \
        snprintf(rows[nr].name, sizeof rows[nr].name, fmt, pre, l);                                                    \
        rows[nr].d0 = (a), rows[nr].d1 = (b), rows[nr].init = (ini), rows[nr].view = (v);                              \
        nr++;                                                                                                          \
    } while (0)
        ROW("%s.%zu.crossattention.self.value.weight", H, H, 2, &y->vw);
        ROW("%s.%zu.crossattention.self.value.bias", H, 0, 0, &y->vb);
        ROW("%s.%zu.crossattention.output.dense.weight", H, H, 2, &y->ow);
        ROW("%s.%zu.crossattention.output.dense.bias", H, 0, 0, &y->ob);
        ROW("%s.%zu.crossattention.output.LayerNorm.weight", H, 0, 1, &y->lnw);
        ROW("%s.%zu.crossattention.output.LayerNorm.bias", H, 0, 0, &y->lnb);
#undef ROW
    }
    {
        static const char *const head[] = {"cls.predictions.transform.dense.weight", "cls.predictions.transform.dense.bias",
                                           "cls.predictions.transform.LayerNorm.weight",
                                           "cls.predictions.transform.LayerNorm.bias", "cls.predictions.bias"};
        float **views[] = {&d->tw, &d->tb, &d->tlnw, &d->tlnb, &d->bias};
        const size_t d0[] = {H, H, H, H, V}, d1[] = {H, 0, 0, 0, 0};
        const int ini[] = {2, 0, 1, 0, 0};
        for (int k = 0; k < 5; k++, nr++) {
            snprintf(rows[nr].name, sizeof rows[nr].name, "%s", head[k]);
            rows[nr].d0 = d0[k], rows[nr].d1 = d1[k], rows[nr].init = ini[k], rows[nr].view = views[k];
        }
    }
    for (size_t r = 0; r < nr; r++) s->n += rows[r].d0 * (rows[r].d1 ? rows[r].d1 : 1);
    s->data = malloc(s->n * sizeof *s->data);
    if (!s->data) {
        st = nomem();
        goto fail;
    }
    /* weights the model's checkpoint already holds (a *ForMaskedLM / *LMHeadModel one) are loaded */
    {
        char path[4096], sub[4096];
        const char *rel = m->mod_paths && m->mod_paths[0] ? m->mod_paths[0] : "";
        if (sbert_path_join(sub, sizeof sub, m->dir, rel) == SBERT_OK &&
            sbert_path_join(path, sizeof path, *rel ? sub : m->dir, "model.safetensors") == SBERT_OK &&
            sbert_file_exists(path) && sbert_st_open(path, &ck) != SBERT_OK)
            ck = NULL; /* the model loaded from it already: a failure here only means new weights */
    }
    if ((st = sbert_params_create(&s->params)) != SBERT_OK) goto fail;
    float *p = s->data;
    const float range = sbert_transformer_initializer_range(enc);
    size_t loaded = 0;
    for (size_t r = 0; r < nr; r++) {
        size_t n = rows[r].d0 * (rows[r].d1 ? rows[r].d1 : 1);
        char alt[200];
        const char *cn = find_in_checkpoint(ck, rows[r].name, alt, sizeof alt);
        int64_t shape[2] = {(int64_t)rows[r].d0, (int64_t)rows[r].d1};
        if (cn && sbert_st_read_f32(ck, cn, shape, rows[r].d1 ? 2 : 1, p) == SBERT_OK) {
            loaded++;
        } else {
            for (size_t i = 0; i < n; i++)
                p[i] = rows[r].init == 0 ? 0.0f : rows[r].init == 1 ? 1.0f : (float)(sbert_rng_normal(rng) * range);
        }
        *rows[r].view = p;
        if ((st = sbert_param_add(s->params, rows[r].name, p, rows[r].d0, rows[r].d1, 1, -1)) != SBERT_OK) goto fail;
        p += n;
    }
    if ((st = sbert_params_seal(s->params)) != SBERT_OK) goto fail;
    /* gradient views */
    for (size_t l = 0; l < L; l++) {
        dae_layer *y = &d->layers[l];
        float **g[6] = {&y->g_vw, &y->g_vb, &y->g_ow, &y->g_ob, &y->g_lnw, &y->g_lnb};
        for (size_t k = 0; k < 6; k++) *g[k] = sbert_params_at(s->params, 6 * l + k)->grad;
    }
    {
        float **g[5] = {&d->g_tw, &d->g_tb, &d->g_tlnw, &d->g_tlnb, &d->g_bias};
        for (size_t k = 0; k < 5; k++) *g[k] = sbert_params_at(s->params, 6 * L + k)->grad;
    }
    if ((st = sbert_transformer_share(enc, &d->dec)) != SBERT_OK) goto fail;
    d->n_loaded = loaded;
    sbert_st_close(ck);
    free(rows);
    *state_out = s;
    *out = d;
    return SBERT_OK;
fail:
    sbert_st_close(ck);
    free(rows);
    sbert_loss_state_free(s);
    sbert_dae_free(d);
    return st;
}

sbert_status sbert_dae_state_load(sbert_loss_state *s, const char *path) {
    sbert_safetensors *f = NULL;
    SBERT_TRY(sbert_st_open(path, &f));
    sbert_status st = SBERT_OK;
    for (size_t i = 0; i < sbert_params_count(s->params) && st == SBERT_OK; i++) {
        sbert_param *q = sbert_params_at(s->params, i);
        int64_t shape[2] = {q->shape[0], q->shape[1]};
        st = sbert_st_read_f32(f, q->name, shape, q->ndim, q->data);
    }
    sbert_st_close(f);
    return st;
}

/* ------------------------------------------------------------ the loss */

/* Cross-entropy of a block of logit rows (rows split over the pool). */
typedef struct {
    float *logits;       /* [nb, V]: in: logits; out (grad): d loss / d logits, 0 for ignored rows */
    const int32_t *lab;  /* [nb] */
    double *row_loss;    /* [nb]: -log softmax at the label (0 for ignored rows) */
    size_t V;
    int pad, grad;
    double ginv;         /* the gradient's scale: grad_scale / counted labels */
} ce_ctx;

static void ce_rows(void *vctx, size_t i0, size_t i1) {
    const ce_ctx *c = vctx;
    const size_t V = c->V;
    for (size_t i = i0; i < i1; i++) {
        float *row = c->logits + i * V;
        const int32_t y = c->lab[i];
        c->row_loss[i] = 0;
        if (y == c->pad) {
            if (c->grad) memset(row, 0, V * sizeof(float));
            continue;
        }
        float mx = row[0];
        for (size_t k = 1; k < V; k++) mx = row[k] > mx ? row[k] : mx;
        double se = 0;
        for (size_t k = 0; k < V; k++) se += exp((double)row[k] - mx);
        const double lse = mx + log(se);
        c->row_loss[i] = lse - row[y];
        if (c->grad) {
            for (size_t k = 0; k < V; k++) row[k] = (float)(exp((double)row[k] - lse) * c->ginv);
            row[y] -= (float)c->ginv;
        }
    }
}

sbert_status sbert_dae_loss(sbert_dae *d, const float *reps, size_t B, const sbert_packed *target, float *enc_grads,
                            float *d_reps, double grad_scale, double *loss) {
    const size_t H = d->H, L = d->L, V = d->V;
    const int grad = enc_grads != NULL;
    if (target->n != B)
        return sbert_fail(SBERT_ERR_INTERNAL, "DenoisingAutoEncoderLoss: %zu target texts for %zu embeddings",
                          target->n, B);
    /* decoder input ids[:-1], labels ids[1:] of every sequence */
    size_t T = 0;
    for (size_t i = 0; i < B; i++) {
        size_t n = target->off[i + 1] - target->off[i];
        T += n > 1 ? n - 1 : 0;
    }
    size_t blk = DAE_BLOCK_FLOATS / V;
    if (blk == 0) blk = 1;
    if (blk > T) blk = T ? T : 1;
    int32_t *ids = malloc((T ? T : 1) * sizeof *ids), *lab = malloc((T ? T : 1) * sizeof *lab);
    size_t *off = malloc((B + 1) * sizeof *off);
    sbert_transformer_cross *cross = calloc(L ? L : 1, sizeof *cross);
    /* v, z, dz: [L, B, H]; hidden, pre, act, h, dh, da, dhidden: [T, H]; mean, rstd [T]; logits [blk, V] */
    size_t nf = 3 * L * B * H + 7 * T * H + 2 * T + blk * V + B * H;
    float *buf = calloc(nf ? nf : 1, sizeof *buf);
    double *row_loss = malloc(blk * sizeof *row_loss);
    sbert_status st = ids && lab && off && cross && buf && row_loss ? SBERT_OK : nomem();
    if (st != SBERT_OK) goto done;
    float *vv = buf, *zz = vv + L * B * H, *dz = zz + L * B * H, *hid = dz + L * B * H, *pre = hid + T * H,
          *act = pre + T * H, *hh = act + T * H, *dh = hh + T * H, *da = dh + T * H, *dhid = da + T * H,
          *mean = dhid + T * H, *rstd = mean + T, *logits = rstd + T, *dv = logits + blk * V;
    off[0] = 0;
    for (size_t i = 0, t = 0; i < B; i++) {
        size_t b = target->off[i], n = target->off[i + 1] - b;
        for (size_t j = 0; j + 1 < n; j++, t++) {
            ids[t] = target->ids[b + j];
            lab[t] = target->ids[b + j + 1];
        }
        off[i + 1] = t;
    }
    /* the cross blocks: z = (reps Wv^T + bv) Wo^T + bo per layer */
    for (size_t l = 0; l < L; l++) {
        const dae_layer *y = &d->layers[l];
        sbert_linear_forward(vv + l * B * H, reps, y->vw, y->vb, B, H, H);
        sbert_linear_forward(zz + l * B * H, vv + l * B * H, y->ow, y->ob, B, H, H);
        cross[l] = (sbert_transformer_cross){zz + l * B * H, y->lnw, y->lnb, grad ? dz + l * B * H : NULL,
                                             grad ? y->g_lnw : NULL, grad ? y->g_lnb : NULL};
    }
    if ((st = sbert_transformer_forward_decoder(d->dec, ids, off, B, cross, hid)) != SBERT_OK) goto done;
    /* LM head transform: h = LN(act(hidden Wt^T + bt)) */
    sbert_linear_act_forward(act, pre, hid, d->tw, d->tb, T, H, H, d->act);
    sbert_layernorm_forward(hh, mean, rstd, act, d->tlnw, d->tlnb, T, H, d->eps);
    /* cross-entropy over the labels that are not the pad id, logits by blocks of rows */
    size_t count = 0;
    for (size_t t = 0; t < T; t++) count += lab[t] != d->pad;
    double sum = 0;
    const double inv = count ? 1.0 / (double)count : 0.0, ginv = inv * grad_scale;
    float *dword = grad ? enc_grads + d->word_off : NULL;
    for (size_t r0 = 0; r0 < T; r0 += blk) {
        size_t nb = T - r0 < blk ? T - r0 : blk;
        /* logits[nb, V] = h E^T + bias */
        for (size_t i = 0; i < nb; i++) memcpy(logits + i * V, d->bias, V * sizeof(float));
        sbert_sgemm(0, 1, nb, V, H, 1.0f, hh + r0 * H, H, d->word, H, 1.0f, logits, V);
        ce_ctx cc = {logits, lab + r0, row_loss, V, d->pad, grad, ginv};
        sbert_parallel_for(nb, ce_rows, &cc);
        for (size_t i = 0; i < nb; i++) sum += row_loss[i];
        if (!grad) continue;
        /* the vocabulary projection's backward: dh += dlogits E; dE += dlogits^T h; dbias += column sums */
        sbert_linear_backward(dh + r0 * H, dword, d->g_bias, logits, hh + r0 * H, d->word, nb, H, V);
    }
    *loss = count ? sum * inv : NAN;
    if (!grad) goto done;
    /* back through the transform into d(hidden) */
    sbert_layernorm_backward(da, d->g_tlnw, d->g_tlnb, dh, act, d->tlnw, mean, rstd, T, H);
    sbert_linear_act_backward(dhid, d->g_tw, d->g_tb, dh /* scratch: dh is used up */, da, pre, hid, d->tw, T, H, H,
                              d->act);
    if ((st = sbert_transformer_backward(d->dec, dhid, enc_grads, NULL)) != SBERT_OK) goto done;
    /* back through z = (reps Wv^T + bv) Wo^T + bo */
    for (size_t l = 0; l < L; l++) {
        dae_layer *y = &d->layers[l];
        memset(dv, 0, B * H * sizeof(float));
        sbert_linear_backward(dv, y->g_ow, y->g_ob, dz + l * B * H, vv + l * B * H, y->ow, B, H, H);
        sbert_linear_backward(d_reps, y->g_vw, y->g_vb, dv, reps, y->vw, B, H, H);
    }
done:
    sbert_transformer_release_activations(d->dec);
    free(ids);
    free(lab);
    free(off);
    free(cross);
    free(buf);
    free(row_loss);
    return st;
}

/* ------------------------------------------------------------ noise */

sbert_status sbert_dae_delete_noise(const char *text, double del_ratio, sbert_rng *rng, char **out) {
    *out = NULL;
    size_t len = strlen(text), n = 0;
    /* the words: [start, end) pairs */
    size_t *w = malloc((len / 2 + 2) * 2 * sizeof *w);
    unsigned char *keep = malloc(len / 2 + 2);
    char *res = malloc(len + 1);
    if (!w || !keep || !res) {
        free(w);
        free(keep);
        free(res);
        return nomem();
    }
    for (size_t i = 0; i < len;) {
        while (i < len && isspace((unsigned char)text[i])) i++;
        if (i == len) break;
        size_t b = i;
        while (i < len && !isspace((unsigned char)text[i])) i++;
        w[2 * n] = b;
        w[2 * n + 1] = i;
        n++;
    }
    if (n == 0) {
        memcpy(res, text, len + 1);
    } else {
        size_t kept = 0;
        for (size_t k = 0; k < n; k++) kept += keep[k] = sbert_rng_uniform(rng) > del_ratio;
        if (!kept) keep[sbert_rng_below(rng, n)] = 1;
        size_t o = 0;
        for (size_t k = 0; k < n; k++) {
            if (!keep[k]) continue;
            if (o) res[o++] = ' ';
            memcpy(res + o, text + w[2 * k], w[2 * k + 1] - w[2 * k]);
            o += w[2 * k + 1] - w[2 * k];
        }
        res[o] = '\0';
    }
    free(w);
    free(keep);
    *out = res;
    return SBERT_OK;
}
