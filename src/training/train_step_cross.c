/*
 * training/train_step_cross.c -- one micro-batch of a CrossEncoder (see
 * ce_train.h): rows of the training data in, the (query, passage) pairs of
 * the loss, their logits, the loss and its gradient back through the model.
 *
 * How each loss sees a batch of B rows (as sentence-transformers builds it):
 *   pointwise  BCE, MSE: pair (col0, col1) per row, S [B, 1], labels [B];
 *              CrossEntropyLoss: S [B, num_labels], class ids [B];
 *   margin     MarginMSELoss: pairs (q, pos) then (q, neg_k) per negative
 *              column, S [B, 1 + n]; labels a margin [B] (one negative), n
 *              margins or n + 1 scores per row (turned into margins);
 *   in-batch   MultipleNegativesRankingLoss (and Cached): per row, its
 *              positive, num_negatives candidates drawn without replacement
 *              from the other rows' positives and negatives (all of them when
 *              num_negatives is None or not smaller than that pool, in
 *              column-major order), then its own negatives: S [B, K];
 *   list       LambdaLoss, ListNet, (P)ListMLE, RankNet, ADRMSE: rows
 *              (query, [docs], [labels]), pairs (query, doc) in order,
 *              S [B, max docs] with -inf labels where a row has fewer.
 * The logits come from one training forward over all pairs packed, or, when
 * there are more pairs than mini_batch_size (the loss's, else
 * per_device_train_batch_size), from gradient caching: each chunk forward
 * without keeping activations (its dropout generator state saved), the loss
 * and the logits' gradient on the whole batch, then each chunk forward again
 * with the same masks and its backward -- the gradients of one big forward
 * with the memory of one chunk.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "models/cross_encoder.h"
#include "training/ce_train.h"
#include "training/trainer_internal.h"

typedef enum { L_POINT, L_CLASSES, L_MARGIN, L_MNRL, L_LIST } ce_layout;

static const struct {
    const char *name;
    ce_layout layout;
    int needs_identity; /* distillation / listwise / pairwise: trained on raw logits */
} CE_LOSSES[] = {
    {"BinaryCrossEntropyLoss", L_POINT, 0},
    {"MSELoss", L_POINT, 1},
    {"CrossEntropyLoss", L_CLASSES, 0},
    {"MarginMSELoss", L_MARGIN, 1},
    {"MultipleNegativesRankingLoss", L_MNRL, 0},
    {"CachedMultipleNegativesRankingLoss", L_MNRL, 0},
    {"LambdaLoss", L_LIST, 1},
    {"ListNetLoss", L_LIST, 1},
    {"ListMLELoss", L_LIST, 1},
    {"PListMLELoss", L_LIST, 1},
    {"RankNetLoss", L_LIST, 1},
    {"ADRMSELoss", L_LIST, 1},
};

struct sbert_ce_train {
    sbert_model *m;
    const sbert_dataset *ds;
    const sbert_loss_def *def;
    sbert_loss_values v;
    ce_layout layout;
    size_t L;          /* num_labels */
    size_t chunk;      /* pairs per forward */
    size_t n_in;       /* input columns */
    int in[64];        /* their dataset indices */
    int label;         /* label column or -1 */
    size_t n_neg;      /* MarginMSE: negative columns */
    char note[256];
    /* step buffers */
    const char **pa, **pb;
    size_t *slot; /* [P] where pair p's logits go in S (row * K + col) */
    size_t cap_p;
    float *S, *G, *Y, *logits, *dlogits;
    size_t cap_s, cap_l;
    sbert_packed batch;
};

static sbert_status nomem(const char *what) { return sbert_fail(SBERT_ERR_NOMEM, "out of memory (%s)", what); }

void sbert_ce_train_free(sbert_ce_train *c) {
    if (!c) return;
    free(c->pa);
    free(c->pb);
    free(c->slot);
    free(c->S);
    free(c->G);
    free(c->Y);
    free(c->logits);
    free(c->dlogits);
    sbert_packed_free(&c->batch);
    free(c);
}

const char *sbert_ce_train_note(const sbert_ce_train *c) { return c ? c->note : ""; }

static int param_index(const sbert_ce_train *c, const char *key) { return sbert_loss_param_index(c->def, key); }

/* ---------------------------------------------------------------- checks */

static sbert_status check_rows(sbert_ce_train *c) {
    const sbert_dataset *ds = c->ds;
    const sbert_column *lab = c->label >= 0 ? &ds->cols[c->label] : NULL;
    const char *name = c->def->name;
    if (c->layout != L_LIST && c->layout != L_MARGIN && lab && sbert_column_is_list(lab))
        return sbert_fail(SBERT_ERR_FORMAT, "%s: %s takes one number per row in '%s', but the column holds lists",
                          ds->path, name, lab->name);
    for (size_t i = 0; i < c->n_in; i++) {
        const sbert_column *col = &ds->cols[c->in[i]];
        int want_list = c->layout == L_LIST && i == 1;
        if (want_list && col->kind != SBERT_COL_TEXT_LIST)
            return sbert_fail(SBERT_ERR_FORMAT,
                              "%s: %s takes rows (query, [documents], [labels]); column '%s' must hold a list of "
                              "texts per row",
                              ds->path, name, col->name);
        if (!want_list && col->kind != SBERT_COL_TEXT)
            return sbert_fail(SBERT_ERR_FORMAT, "%s: column '%s' must hold one text per row for %s", ds->path,
                              col->name, name);
    }
    if (c->layout == L_CLASSES)
        for (size_t r = 0; r < ds->n_rows; r++) {
            double y = lab->num[r];
            if (!(y >= 0 && y < (double)c->L && y == floor(y)))
                return sbert_fail(SBERT_ERR_FORMAT,
                                  "%s:%zu: label %g is not a class id of this model: CrossEntropyLoss takes 0..%zu "
                                  "(num_labels %zu)",
                                  ds->path, ds->line[r], y, c->L - 1, c->L);
        }
    if (c->layout == L_MARGIN) {
        c->n_neg = c->n_in - 2;
        for (size_t r = 0; r < ds->n_rows; r++) {
            size_t k = sbert_column_is_list(lab) ? lab->off[r + 1] - lab->off[r] : 1;
            int ok = sbert_column_is_list(lab) ? (k == c->n_neg || k == c->n_neg + 1) : c->n_neg == 1;
            if (!ok)
                return sbert_fail(SBERT_ERR_FORMAT,
                                  "%s:%zu: MarginMSELoss with %zu negative column%s takes %s in '%s', this row has %zu "
                                  "value%s",
                                  ds->path, ds->line[r], c->n_neg, c->n_neg == 1 ? "" : "s",
                                  c->n_neg == 1 ? "one margin (or [margin] / [positive, negative] scores)"
                                                : "a list of n margins or n + 1 scores (positive first)",
                                  lab->name, k, k == 1 ? "" : "s");
        }
    }
    if (c->layout == L_LIST) {
        const sbert_column *docs = &ds->cols[c->in[1]];
        if (!lab || lab->kind != SBERT_COL_NUMBER_LIST)
            return sbert_fail(SBERT_ERR_FORMAT, "%s: %s takes a list of numeric labels per row (column '%s')", ds->path,
                              name, lab ? lab->name : "labels");
        for (size_t r = 0; r < ds->n_rows; r++) {
            size_t nd = docs->off[r + 1] - docs->off[r], nl = lab->off[r + 1] - lab->off[r];
            if (nd != nl)
                return sbert_fail(SBERT_ERR_FORMAT, "%s:%zu: %zu documents in '%s' but %zu labels in '%s'", ds->path,
                                  ds->line[r], nd, docs->name, nl, lab->name);
            if (nd == 0)
                return sbert_fail(SBERT_ERR_FORMAT, "%s:%zu: '%s' is an empty list (%s needs documents)", ds->path,
                                  ds->line[r], docs->name, name);
            for (size_t k = lab->off[r]; k < lab->off[r + 1]; k++)
                if (!isfinite(lab->nums[k]))
                    return sbert_fail(SBERT_ERR_FORMAT, "%s:%zu: label %zu of '%s' is not a finite number", ds->path,
                                      ds->line[r], k - lab->off[r] + 1, lab->name);
        }
    }
    return SBERT_OK;
}

sbert_status sbert_ce_train_prepare(sbert_model *m, const sbert_dataset *ds, const sbert_ce_train_config *cfg,
                                    sbert_ce_train **out) {
    *out = NULL;
    const char *name = cfg->def->name;
    int li = -1;
    for (size_t i = 0; i < sizeof CE_LOSSES / sizeof CE_LOSSES[0]; i++)
        if (!strcmp(CE_LOSSES[i].name, name)) li = (int)i;
    if (li < 0 || !cfg->def->compute || !(cfg->def->kinds & (1u << SBERT_KIND_CROSS_ENCODER)))
        return sbert_fail(SBERT_ERR_UNSUPPORTED, "%s: %s is not a CrossEncoder loss sbert implements", cfg->origin,
                          name);
    if (!sbert_model_is_cross_encoder(m))
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: the model is not a CrossEncoder", name);
    sbert_ce_train *c = calloc(1, sizeof *c);
    if (!c) return nomem("CrossEncoder training");
    c->m = m;
    c->ds = ds;
    c->def = cfg->def;
    c->v = *cfg->values;
    c->layout = CE_LOSSES[li].layout;
    c->L = sbert_cross_encoder_num_labels(m);
    c->label = sbert_dataset_label_column(ds);
    c->n_in = sbert_dataset_n_inputs(ds);
    sbert_status st = SBERT_OK;
    if (c->n_in > sizeof c->in / sizeof c->in[0])
        st = sbert_fail(SBERT_ERR_FORMAT, "%s: %zu input columns (at most %zu)", ds->path, c->n_in,
                        sizeof c->in / sizeof c->in[0]);
    for (size_t i = 0; st == SBERT_OK && i < c->n_in; i++) c->in[i] = sbert_dataset_input_column(ds, i);

    /* num_labels against the loss: names both. */
    if (st == SBERT_OK && c->layout == L_CLASSES && c->L < 2)
        st = sbert_fail(SBERT_ERR_INVALID_ARG,
                        "%s: CrossEntropyLoss needs a model with num_labels >= 2 (one logit per class), but the model "
                        "has num_labels %zu; set num_labels to the number of classes (BinaryCrossEntropyLoss is the "
                        "loss for num_labels 1)",
                        cfg->origin, c->L);
    if (st == SBERT_OK && c->layout != L_CLASSES && c->L != 1)
        st = sbert_fail(SBERT_ERR_INVALID_ARG,
                        "%s: %s expects a model with num_labels 1 (one score per pair), but the model has num_labels "
                        "%zu (use CrossEntropyLoss for classes)",
                        cfg->origin, name, c->L);
    /* The Sigmoid trap. */
    if (st == SBERT_OK && CE_LOSSES[li].needs_identity && sbert_cross_encoder_act(m) != SBERT_CE_ACT_IDENTITY &&
        !cfg->allow_activation_mismatch)
        st = sbert_fail(SBERT_ERR_INVALID_ARG,
                        "%s: %s trains raw logits and needs the model's activation_fn to be Identity, but it is %s "
                        "(Sigmoid is the default for num_labels 1): predictions saturate near 1.0 and rankings "
                        "collapse while the loss looks healthy. Set activation_fn: Identity (or "
                        "allow_activation_mismatch: true to keep it)",
                        cfg->origin, name, sbert_cross_encoder_activation_fn(m));
    if (st == SBERT_OK) st = check_rows(c);

    /* pos_weight: auto = n_negatives / max(n_positives, 1), a positive being label > 0.5. */
    int pw = param_index(c, "pos_weight");
    if (st == SBERT_OK && pw >= 0 && isnan(c->v.num[pw])) {
        if (c->v.str[pw] && !strcmp(c->v.str[pw], "auto")) {
            size_t pos = 0;
            for (size_t r = 0; r < ds->n_rows; r++) pos += ds->cols[c->label].num[r] > 0.5;
            size_t neg = ds->n_rows - pos;
            c->v.num[pw] = (double)neg / (double)(pos ? pos : 1);
            snprintf(c->note, sizeof c->note, "pos_weight auto = %.6g (%zu negatives / %zu positives, label > 0.5)",
                     c->v.num[pw], neg, pos);
        } else {
            c->v.num[pw] = 1.0; /* None */
        }
    }
    int mb = param_index(c, "mini_batch_size");
    c->chunk = mb >= 0 && !isnan(c->v.num[mb]) ? (size_t)c->v.num[mb] : cfg->default_chunk;
    if (st != SBERT_OK) {
        sbert_ce_train_free(c);
        return st;
    }
    *out = c;
    return SBERT_OK;
}

/* ---------------------------------------------------------------- step */

static sbert_status reserve(sbert_ce_train *c, size_t P, size_t cells) {
    if (P > c->cap_p) {
        size_t cap = P * 2;
        const char **a = realloc(c->pa, cap * sizeof *a);
        if (!a) return nomem("pairs");
        c->pa = a;
        const char **b = realloc(c->pb, cap * sizeof *b);
        if (!b) return nomem("pairs");
        c->pb = b;
        size_t *s = realloc(c->slot, cap * sizeof *s);
        if (!s) return nomem("pairs");
        c->slot = s;
        float *l = realloc(c->logits, cap * c->L * sizeof *l);
        if (!l) return nomem("logits");
        c->logits = l;
        float *d = realloc(c->dlogits, cap * c->L * sizeof *d);
        if (!d) return nomem("logits");
        c->dlogits = d;
        c->cap_p = cap;
    }
    if (cells > c->cap_s) {
        size_t cap = cells * 2;
        float *s = realloc(c->S, cap * sizeof *s), *g = s ? realloc(c->G, cap * sizeof *g) : NULL;
        if (s) c->S = s;
        if (g) c->G = g;
        float *y = g ? realloc(c->Y, cap * sizeof *y) : NULL;
        if (!y) return nomem("score matrix");
        c->Y = y;
        c->cap_s = cap;
    }
    return SBERT_OK;
}

static const char *text_of(const sbert_ce_train *c, size_t input, size_t row) {
    return c->ds->cols[c->in[input]].text[row];
}

/* The pairs of a batch, where their logits go, and the label matrix.
 * *K: the score matrix width. */
static sbert_status build(sbert_ce_train *c, const size_t *rows, size_t B, sbert_rng *rng, size_t *P_out,
                          size_t *K_out) {
    const sbert_dataset *ds = c->ds;
    const sbert_column *lab = c->label >= 0 ? &ds->cols[c->label] : NULL;
    size_t P = 0, K = 1;
    switch (c->layout) {
    case L_POINT:
    case L_CLASSES:
        K = c->layout == L_CLASSES ? c->L : 1;
        SBERT_TRY(reserve(c, B, B * K));
        for (size_t i = 0; i < B; i++) {
            c->pa[P] = text_of(c, 0, rows[i]);
            c->pb[P] = text_of(c, 1, rows[i]);
            c->slot[P++] = i * K;
            c->Y[i] = (float)lab->num[rows[i]];
        }
        break;
    case L_MARGIN: {
        const size_t n = c->n_neg;
        K = n + 1;
        SBERT_TRY(reserve(c, B * K, B * K));
        for (size_t col = 0; col < K; col++)
            for (size_t i = 0; i < B; i++) {
                c->pa[P] = text_of(c, 0, rows[i]);
                c->pb[P] = text_of(c, 1 + col, rows[i]);
                c->slot[P++] = i * K + col;
            }
        for (size_t i = 0; i < B; i++) {
            size_t r = rows[i];
            float *y = c->Y + i * n;
            if (!sbert_column_is_list(lab)) {
                y[0] = (float)lab->num[r];
            } else if (lab->off[r + 1] - lab->off[r] == n + 1) {
                /* scores (positive, negatives...) -> margins positive - negative_k */
                const double *sc = lab->nums + lab->off[r];
                for (size_t k = 0; k < n; k++) y[k] = (float)((float)sc[0] - (float)sc[1 + k]);
            } else {
                for (size_t k = 0; k < n; k++) y[k] = (float)lab->nums[lab->off[r] + k];
            }
        }
        break;
    }
    case L_MNRL: {
        /* candidates: input columns 1..C, flattened column-major (c * B + row) */
        const size_t C = c->n_in - 1, pool = C * (B - 1);
        const int nn = param_index(c, "num_negatives");
        const size_t want = isnan(c->v.num[nn]) ? pool : (size_t)c->v.num[nn];
        const size_t take = want < pool ? want : pool;
        K = 1 + take + (C - 1);
        SBERT_TRY(reserve(c, B * K, B * K));
        size_t *cand = malloc((pool ? pool : 1) * sizeof *cand);
        if (!cand) return nomem("in-batch negatives");
        /* Python's column order: all positives, then each in-batch negative slot, then each hard negative column. */
        for (size_t i = 0; i < B; i++) {
            c->pa[P] = text_of(c, 0, rows[i]);
            c->pb[P] = text_of(c, 1, rows[i]);
            c->slot[P++] = i * K;
        }
        size_t *chosen = malloc((B * (take ? take : 1)) * sizeof *chosen);
        if (!chosen) {
            free(cand);
            return nomem("in-batch negatives");
        }
        for (size_t i = 0; i < B; i++) {
            size_t n = 0;
            for (size_t f = 0; f < C * B; f++)
                if (f % B != i) cand[n++] = f;
            if (take < pool)
                /* uniform draws without replacement, in draw order (torch.multinomial on the mask) */
                for (size_t j = 0; j < take; j++) {
                    size_t k = j + (size_t)sbert_rng_below(rng, n - j);
                    size_t tmp = cand[j];
                    cand[j] = cand[k];
                    cand[k] = tmp;
                }
            memcpy(chosen + i * take, cand, take * sizeof *cand);
        }
        for (size_t j = 0; j < take; j++)
            for (size_t i = 0; i < B; i++) {
                size_t f = chosen[i * take + j];
                c->pa[P] = text_of(c, 0, rows[i]);
                c->pb[P] = text_of(c, 1 + f / B, rows[f % B]);
                c->slot[P++] = i * K + 1 + j;
            }
        for (size_t h = 1; h < C; h++)
            for (size_t i = 0; i < B; i++) {
                c->pa[P] = text_of(c, 0, rows[i]);
                c->pb[P] = text_of(c, 1 + h, rows[i]);
                c->slot[P++] = i * K + 1 + take + (h - 1);
            }
        free(cand);
        free(chosen);
        break;
    }
    case L_LIST: {
        const sbert_column *docs = &ds->cols[c->in[1]];
        size_t total = 0;
        K = 0;
        for (size_t i = 0; i < B; i++) {
            size_t nd = docs->off[rows[i] + 1] - docs->off[rows[i]];
            total += nd;
            K = nd > K ? nd : K;
        }
        SBERT_TRY(reserve(c, total, B * K));
        for (size_t i = 0; i < B; i++) {
            size_t r = rows[i], o = docs->off[r], nd = docs->off[r + 1] - o;
            for (size_t j = 0; j < K; j++) c->Y[i * K + j] = j < nd ? (float)lab->nums[lab->off[r] + j] : -INFINITY;
            for (size_t j = 0; j < nd; j++) {
                c->pa[P] = text_of(c, 0, r);
                c->pb[P] = docs->items[o + j];
                c->slot[P++] = i * K + j;
            }
        }
        break;
    }
    }
    *P_out = P;
    *K_out = K;
    return SBERT_OK;
}

/* Training forward of pairs [s, s + n) into c->logits + s * L (activations kept). */
static sbert_status forward_pairs(sbert_ce_train *c, size_t s, size_t n, sbert_rng *rng) {
    SBERT_TRY(sbert_cross_encoder_tokenize_pairs(c->m, c->pa + s, c->pb + s, n, &c->batch));
    return sbert_model_forward_train(c->m, &c->batch, rng, c->logits + s * c->L);
}

sbert_status sbert_ce_train_step(sbert_ce_train *c, const size_t *rows, size_t B, double loss_weight, sbert_rng *rng,
                                 double *loss_out) {
    size_t P = 0, K = 1;
    SBERT_TRY(build(c, rows, B, rng, &P, &K));
    const size_t L = c->L, chunk = c->chunk && c->chunk < P ? c->chunk : P;
    const size_t n_chunks = (P + chunk - 1) / chunk;
    sbert_rng *snap = n_chunks > 1 ? malloc(n_chunks * sizeof *snap) : NULL;
    if (n_chunks > 1 && !snap) return nomem("gradient caching");
    sbert_status st = SBERT_OK;
    /* 1. logits (one kept forward, or chunks without keeping) */
    if (n_chunks == 1) {
        st = forward_pairs(c, 0, P, rng);
    } else {
        for (size_t k = 0; k < n_chunks && st == SBERT_OK; k++) {
            size_t s = k * chunk, n = P - s < chunk ? P - s : chunk;
            snap[k] = *rng;
            st = forward_pairs(c, s, n, rng);
            sbert_model_release(c->m);
        }
    }
    /* 2. the loss on the score matrix, its gradient per pair */
    if (st == SBERT_OK) {
        memset(c->S, 0, B * K * sizeof *c->S);
        memset(c->G, 0, B * K * sizeof *c->G);
        for (size_t p = 0; p < P; p++) memcpy(c->S + c->slot[p], c->logits + p * L, L * sizeof *c->S);
        const float *cols[1] = {c->S};
        float *grads[1] = {c->G};
        sbert_loss_batch lb = {.cols = cols, .grads = grads, .n_cols = 1, .B = B, .dim = K,
                               .labels = c->layout == L_MNRL ? NULL : c->Y, .v = &c->v};
        double loss = 0;
        st = c->def->compute(&lb, &loss);
        if (st != SBERT_OK) sbert_error_prefix("%s: ", c->def->name);
        *loss_out = loss;
        for (size_t p = 0; st == SBERT_OK && p < P; p++)
            for (size_t j = 0; j < L; j++) c->dlogits[p * L + j] = (float)(c->G[c->slot[p] + j] * loss_weight);
    }
    /* 3. backward */
    if (st == SBERT_OK && n_chunks == 1) {
        st = sbert_model_backward(c->m, c->dlogits);
    } else if (st == SBERT_OK) {
        sbert_rng after = *rng;
        for (size_t k = 0; k < n_chunks && st == SBERT_OK; k++) {
            size_t s = k * chunk, n = P - s < chunk ? P - s : chunk;
            *rng = snap[k];
            st = forward_pairs(c, s, n, rng);
            if (st == SBERT_OK) st = sbert_model_backward(c->m, c->dlogits + s * L);
        }
        *rng = after;
    }
    sbert_model_release(c->m);
    free(snap);
    return st;
}

/* ------------------------------------------------------------ trainer */

sbert_status sbert_trainer_cross_step(sbert_trainer *t, const size_t *rows, size_t B, double loss_weight,
                                      double *loss_out) {
    if (!t->cross) return sbert_fail(SBERT_ERR_INTERNAL, "CrossEncoder step without its training state");
    return sbert_ce_train_step(t->cross, rows, B, loss_weight, &t->dropout_rng, loss_out);
}
