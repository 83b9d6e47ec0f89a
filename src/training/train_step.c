/*
 * training/train_step.c -- one micro-batch. For models that map each text to
 * a vector (SentenceTransformer, SparseEncoder; a CrossEncoder's pair step is
 * in train_step_cross.c): the rows of the batch's set (t->cur_set) go
 * through the model column by column, the loss spec of the set gives the
 * loss and the gradient of every embedding, and that goes back through the
 * model.
 *
 * Which model embeds what ("embedding columns"): every input column goes
 * through the model being trained, except for ContrastiveTension losses,
 * whose first column goes through the trained copy (model1):
 *   ContrastiveTensionLoss                   [copy(col 0), model(col 1)]
 *   ContrastiveTensionLossInBatchNegatives   [copy(col 0), model(col 0)]
 *
 * Two ways to run a model's embedding columns:
 *   - at once: all its columns packed into one batch (text c*B + i is row i
 *     of column c), one training forward kept for the backward -- when the
 *     loss is not Cached* and every column has the same prompt length;
 *   - by units (gradient caching, GradCache): each column in mini-batches
 *     of mini_batch_size rows (Cached* losses; the whole batch otherwise)
 *     embedded without keeping activations, snapshotting the dropout
 *     generator before each; then the loss and its gradient on all the
 *     embeddings; then each unit re-run with the same generator state and
 *     its slice of the gradient back-propagated. The loss and the gradients
 *     equal the one-forward ones; only one unit's activations are held at a
 *     time, and columns with different prompt lengths (include_prompt false)
 *     each get their own.
 * The copy model runs without dropout (Python's deepcopy keeps the loaded
 * transformer in eval mode), the guide model (GISTEmbedLoss) in inference.
 *
 * DenoisingAutoEncoderLoss has a step of its own (sbert_trainer_dae_step):
 * the model embeds column 0 (the damaged text), the loss's decoder rebuilds
 * column 1 (the original) from that embedding and sends its gradients into
 * the shared weights, the loss's state and the embedding, which then goes
 * back through the model.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "losses/denoising_auto_encoder.h"
#include "training/trainer_internal.h"

typedef struct {
    sbert_model *m;
    size_t col;        /* input column of the set */
    size_t prompt_len;
    int is_main;
} emb_col;

static size_t plan_cols(const sbert_trainer *t, const sbert_train_set *s, const sbert_train_loss *L, emb_col *v) {
    unsigned needs = L->spec->def->needs;
    if (needs & SBERT_LOSS_NEEDS_COPY) {
        v[0] = (emb_col){L->copy, 0, s->prompt_len[0], 0};
        size_t c1 = needs & SBERT_LOSS_COPY_BOTH ? 0 : 1;
        v[1] = (emb_col){t->model, c1, s->prompt_len[c1], 1};
        return 2;
    }
    for (size_t c = 0; c < s->n_inputs; c++) v[c] = (emb_col){t->model, c, s->prompt_len[c], 1};
    return s->n_inputs;
}

/* Labels of rows[B] into *out ([B * width]; NULL when the loss takes none). */
static sbert_status batch_labels(const sbert_train_set *s, const sbert_train_loss *L, const sbert_dataset *ds,
                                 const sbert_packed *cols, int label_col, size_t width, const size_t *rows, size_t B,
                                 float **out, size_t *w_out) {
    *out = NULL;
    *w_out = 1;
    if (label_col >= 0) {
        const sbert_column *col = &ds->cols[label_col];
        const int list = col->kind == SBERT_COL_NUMBER_LIST;
        size_t w = list ? width : 1;
        if (list && w == 0)
            return sbert_fail(SBERT_ERR_FORMAT, "%s: the lists of label column '%s' differ in length; this loss "
                                                "needs one length in every row",
                              ds->path, col->name);
        float *lab = malloc(B * w * sizeof *lab);
        if (!lab) return sbert_fail(SBERT_ERR_NOMEM, "out of memory in a training step");
        for (size_t i = 0; i < B; i++)
            for (size_t k = 0; k < w; k++)
                lab[i * w + k] = (float)(list ? col->nums[col->off[rows[i]] + k] : col->num[rows[i]]);
        *out = lab;
        *w_out = w;
        return SBERT_OK;
    }
    if (L->spec->def->needs & SBERT_LOSS_ID_LABELS) {
        /* ContrastiveTensionLoss without labels: 1 where both texts tokenize alike */
        float *lab = malloc(B * sizeof *lab);
        if (!lab) return sbert_fail(SBERT_ERR_NOMEM, "out of memory in a training step");
        for (size_t i = 0; i < B; i++) {
            size_t r = rows[i], n0 = cols[0].off[r + 1] - cols[0].off[r], n1 = cols[1].off[r + 1] - cols[1].off[r];
            lab[i] = n0 == n1 && !memcmp(cols[0].ids + cols[0].off[r], cols[1].ids + cols[1].off[r],
                                         n0 * sizeof(int32_t));
        }
        *out = lab;
    }
    (void)s;
    return SBERT_OK;
}

/* rows [s, s+nb) of embedding columns idx[0..k) of a [nv, B, D] buffer to/from a [k, nb, D] one. */
static void slice(float *full, float *part, const size_t *idx, size_t k, size_t B, size_t s, size_t nb, size_t D,
                  int to_full) {
    for (size_t j = 0; j < k; j++) {
        float *f = full + (idx[j] * B + s) * D, *p = part + j * nb * D;
        if (to_full) memcpy(f, p, nb * D * sizeof *f);
        else memcpy(p, f, nb * D * sizeof *f);
    }
}

/* Forward of rows[nb] of the set columns of embedding columns idx[0..k) of
 * one model, packed into `batch`. */
static sbert_status forward_cols(sbert_trainer *t, const sbert_packed *cols, const emb_col *v, const size_t *idx,
                                 size_t k, const size_t *rows, size_t nb, sbert_packed *batch, float *out) {
    const sbert_packed *src[64];
    for (size_t j = 0; j < k; j++) src[j] = &cols[v[idx[j]].col];
    SBERT_TRY(sbert_packed_gather(batch, src, k, rows, nb));
    const emb_col *e = &v[idx[0]];
    return sbert_model_forward_train_prompt(e->m, batch, e->prompt_len, e->is_main ? &t->dropout_rng : NULL, out);
}

typedef struct {
    size_t idx[64], k; /* embedding columns of this model */
    int kept;          /* one forward held for the backward */
    sbert_packed batch;
} model_run;

sbert_status sbert_trainer_dae_step(sbert_trainer *t, const sbert_train_set *s, sbert_train_loss *L,
                                    const sbert_packed *cols, const size_t *rows, size_t B, double w, int train,
                                    double *loss_out) {
    const size_t D = t->model->full_dim;
    float *emb = malloc(B * D * sizeof *emb), *g = calloc(B * D, sizeof *g);
    sbert_packed batch, target;
    memset(&batch, 0, sizeof batch);
    memset(&target, 0, sizeof target);
    const sbert_packed *src0[1] = {&cols[0]}, *src1[1] = {&cols[1]};
    float *enc_grads = train ? sbert_dae_encoder_grads(t->model) : NULL;
    sbert_status st = emb && g ? SBERT_OK : sbert_fail(SBERT_ERR_NOMEM, "out of memory in a training step");
    if (st == SBERT_OK && train && !enc_grads)
        st = sbert_fail(SBERT_ERR_INTERNAL, "DenoisingAutoEncoderLoss: the model has no gradient buffer");
    if (st == SBERT_OK) st = sbert_packed_gather(&batch, src0, 1, rows, B);
    if (st == SBERT_OK) st = sbert_packed_gather(&target, src1, 1, rows, B);
    if (st == SBERT_OK)
        st = sbert_model_forward_train_prompt(t->model, &batch, s->prompt_len[0], train ? &t->dropout_rng : NULL, emb);
    if (st == SBERT_OK) {
        st = sbert_dae_loss(L->dae, emb, B, &target, enc_grads, train ? g : NULL, w, loss_out);
        if (st == SBERT_OK && train) st = sbert_model_backward(t->model, g);
        else sbert_model_release(t->model);
    }
    sbert_packed_free(&batch);
    sbert_packed_free(&target);
    free(emb);
    free(g);
    return st;
}

/* The loss of rows[B] of set s with gradient back into the models (grads
 * scaled by w); *loss_out the loss value. */
static sbert_status set_step(sbert_trainer *t, const size_t *rows, size_t B, double w, double *loss_out) {
    sbert_train_set *s = &t->sets[t->cur_set];
    sbert_train_loss *L = &t->losses[s->loss];
    const sbert_loss_spec *spec = L->spec;
    const size_t D = t->model->full_dim;
    if (spec->adaptive) return sbert_trainer_adaptive_step(t, rows, B, w, loss_out);
    if (L->dae) return sbert_trainer_dae_step(t, s, L, s->cols, rows, B, w, 1, loss_out);
    emb_col v[64];
    if (s->n_inputs > 64) return sbert_fail(SBERT_ERR_INVALID_ARG, "at most 64 input columns");
    const size_t nv = plan_cols(t, s, L, v);
    /* group by model: 0 main, 1 copy */
    model_run runs[2];
    memset(runs, 0, sizeof runs);
    for (size_t j = 0; j < nv; j++) {
        model_run *r = &runs[v[j].is_main ? 0 : 1];
        r->idx[r->k++] = j;
    }
    int mbi = sbert_loss_param_index(spec->def, "mini_batch_size");
    size_t mb = spec->def->cached && mbi >= 0 ? (size_t)spec->values.num[mbi] : B;
    if (mb > B) mb = B;
    if (mb == 0) mb = 1;
    for (int r = 0; r < 2; r++) {
        if (!runs[r].k) continue;
        int same = 1;
        for (size_t j = 1; j < runs[r].k; j++) same &= v[runs[r].idx[j]].prompt_len == v[runs[r].idx[0]].prompt_len;
        runs[r].kept = !spec->def->cached && same;
    }
    size_t n_units = 0;
    for (int r = 0; r < 2; r++)
        if (runs[r].k && !runs[r].kept) n_units += runs[r].k * ((B + mb - 1) / mb);
    float *emb = malloc(nv * B * D * sizeof *emb), *g = calloc(nv * B * D, sizeof *g);
    float *part = malloc(nv * B * D * sizeof *part);
    sbert_rng *snap = malloc((n_units ? n_units : 1) * sizeof *snap);
    float *guide = NULL, *labels = NULL;
    size_t lw = 1;
    sbert_status st = SBERT_OK;
    if (!emb || !g || !part || !snap) {
        st = sbert_fail(SBERT_ERR_NOMEM, "out of memory in a training step (batch %zu x %zu columns)", B, nv);
        goto done;
    }
    /* embeddings: units first (no activations kept), then the kept forwards */
    size_t u = 0;
    for (int r = 0; r < 2 && st == SBERT_OK; r++) {
        if (!runs[r].k || runs[r].kept) continue;
        for (size_t j = 0; j < runs[r].k && st == SBERT_OK; j++)
            for (size_t s0 = 0; s0 < B && st == SBERT_OK; s0 += mb, u++) {
                size_t nb = B - s0 < mb ? B - s0 : mb;
                size_t one = runs[r].idx[j];
                snap[u] = t->dropout_rng;
                st = forward_cols(t, s->cols, v, &one, 1, rows + s0, nb, &runs[r].batch, part);
                sbert_model_release(v[one].m);
                if (st == SBERT_OK) slice(emb, part, &one, 1, B, s0, nb, D, 1);
            }
    }
    for (int r = 0; r < 2 && st == SBERT_OK; r++) {
        if (!runs[r].k || !runs[r].kept) continue;
        st = forward_cols(t, s->cols, v, runs[r].idx, runs[r].k, rows, B, &runs[r].batch, part);
        if (st == SBERT_OK) slice(emb, part, runs[r].idx, runs[r].k, B, 0, B, D, 1);
    }
    if (st != SBERT_OK) goto done;
    /* the guide's embeddings of the same texts */
    size_t GD = t->guide ? t->guide->full_dim : 0;
    if (spec->def->needs & SBERT_LOSS_NEEDS_GUIDE) {
        guide = malloc(s->n_inputs * B * GD * sizeof *guide);
        if (!guide) {
            st = sbert_fail(SBERT_ERR_NOMEM, "out of memory in a training step");
            goto done;
        }
        for (size_t c = 0; c < s->n_inputs && st == SBERT_OK; c++)
            st = sbert_train_guide_embed(t, s, c, rows, B, guide + c * B * GD);
        if (st != SBERT_OK) goto done;
    }
    if ((st = batch_labels(s, L, s->ds, s->cols, s->label_col, s->label_width, rows, B, &labels, &lw)) != SBERT_OK)
        goto done;
    {
        const float *cols[64], *gcols[64];
        float *grads[64];
        for (size_t j = 0; j < nv; j++) {
            cols[j] = emb + j * B * D;
            grads[j] = g + j * B * D;
        }
        for (size_t c = 0; guide && c < s->n_inputs; c++) gcols[c] = guide + c * B * GD;
        /* the loss's own gradients are scaled by w too: (old / w + new) * w */
        sbert_param_table *stp = L->state ? L->state->params : NULL;
        if (stp && w != 1.0)
            for (size_t r = 0; r < sbert_params_count(stp); r++) {
                sbert_param *p = sbert_params_at(stp, r);
                for (size_t i = 0; i < p->numel; i++) p->grad[i] = (float)(p->grad[i] / w);
            }
        /* step: the optimizer step about to be taken (SpladeLoss's regularizer ramp);
         * inner: SpladeLoss's base loss */
        sbert_loss_batch lb = {.cols = cols, .grads = grads, .n_cols = nv, .B = B, .dim = D, .labels = labels,
                               .label_width = lw, .guide = guide ? gcols : NULL, .guide_dim = GD, .state = stp,
                               .rng = &t->loss_rng, .step = t->global_step, .total_steps = t->total_steps,
                               .inner = t->a->inner_loss_def,
                               .inner_v = t->a->inner_loss_def ? &t->a->inner_loss_values : NULL};
        double loss = 0;
        st = sbert_loss_spec_compute(spec, &lb, &loss);
        if (stp && w != 1.0)
            for (size_t r = 0; r < sbert_params_count(stp); r++) {
                sbert_param *p = sbert_params_at(stp, r);
                for (size_t i = 0; i < p->numel; i++) p->grad[i] = (float)(p->grad[i] * w);
            }
        if (st != SBERT_OK) goto done;
        *loss_out = loss;
    }
    if (w != 1.0)
        for (size_t i = 0; i < nv * B * D; i++) g[i] = (float)(g[i] * w);
    /* backward: the kept forwards, then the units again */
    for (int r = 0; r < 2 && st == SBERT_OK; r++) {
        if (!runs[r].k || !runs[r].kept) continue;
        slice(g, part, runs[r].idx, runs[r].k, B, 0, B, D, 0);
        st = sbert_model_backward(v[runs[r].idx[0]].m, part);
    }
    sbert_rng after = t->dropout_rng;
    u = 0;
    for (int r = 0; r < 2 && st == SBERT_OK; r++) {
        if (!runs[r].k || runs[r].kept) continue;
        for (size_t j = 0; j < runs[r].k && st == SBERT_OK; j++)
            for (size_t s0 = 0; s0 < B && st == SBERT_OK; s0 += mb, u++) {
                size_t nb = B - s0 < mb ? B - s0 : mb;
                size_t one = runs[r].idx[j];
                t->dropout_rng = snap[u];
                if ((st = forward_cols(t, s->cols, v, &one, 1, rows + s0, nb, &runs[r].batch, part)) != SBERT_OK)
                    break;
                slice(g, part, &one, 1, B, s0, nb, D, 0);
                st = sbert_model_backward(v[one].m, part);
            }
    }
    t->dropout_rng = after;
done:
    for (int r = 0; r < 2; r++) {
        if (runs[r].k) sbert_model_release(v[runs[r].idx[0]].m);
        sbert_packed_free(&runs[r].batch);
    }
    free(emb);
    free(g);
    free(part);
    free(snap);
    free(guide);
    free(labels);
    return st;
}

sbert_status sbert_trainer_micro_step(sbert_trainer *t, const size_t *rows, size_t B, double loss_weight,
                                      double *loss_out) {
    if (t->model->kind == SBERT_KIND_CROSS_ENCODER) return sbert_trainer_cross_step(t, rows, B, loss_weight, loss_out);
    return set_step(t, rows, B, loss_weight, loss_out);
}

/* ------------------------------------------------------------ eval loss */

/* The loss of set s's eval_dataset in batches of eval_batch_size (no
 * dropout, no gradients), the mean weighted by batch size as the Hugging
 * Face evaluation loop takes it. */
static sbert_status eval_loss(sbert_trainer *t, sbert_train_set *s, double *out) {
    sbert_train_loss *L = &t->losses[s->loss];
    const size_t D = t->model->full_dim, n = s->eval_ds->n_rows;
    const size_t EB = (size_t)t->a->eval_batch_size;
    emb_col v[64];
    const size_t nv = plan_cols(t, s, L, v);
    size_t GD = t->guide ? t->guide->full_dim : 0;
    float *emb = malloc(nv * EB * D * sizeof *emb), *guide = NULL;
    size_t *rows = malloc(EB * sizeof *rows);
    sbert_packed batch;
    memset(&batch, 0, sizeof batch);
    sbert_status st = emb && rows ? SBERT_OK : sbert_fail(SBERT_ERR_NOMEM, "out of memory (eval loss)");
    if (st == SBERT_OK && (L->spec->def->needs & SBERT_LOSS_NEEDS_GUIDE) &&
        !(guide = malloc(s->n_inputs * EB * GD * sizeof *guide)))
        st = sbert_fail(SBERT_ERR_NOMEM, "out of memory (eval loss)");
    double total = 0;
    sbert_train_set es = *s; /* the eval data seen as a set (same prompts and loss) */
    es.ds = s->eval_ds;
    es.cols = s->eval_cols;
    es.label_col = s->eval_label_col;
    es.label_width = s->eval_label_width;
    for (size_t r0 = 0; r0 < n && st == SBERT_OK; r0 += EB) {
        size_t B = n - r0 < EB ? n - r0 : EB;
        for (size_t i = 0; i < B; i++) rows[i] = r0 + i;
        if (L->dae) { /* DenoisingAutoEncoderLoss: the decoder's loss, no gradients */
            double l = 0;
            st = sbert_trainer_dae_step(t, &es, L, s->eval_cols, rows, B, 1.0, 0, &l);
            total += l * (double)B;
            continue;
        }
        for (size_t j = 0; j < nv && st == SBERT_OK; j++) {
            const sbert_packed *src[1] = {&s->eval_cols[v[j].col]};
            st = sbert_packed_gather(&batch, src, 1, rows, B);
            if (st == SBERT_OK)
                st = sbert_model_forward_train_prompt(v[j].m, &batch, v[j].prompt_len, NULL, emb + j * B * D);
            sbert_model_release(v[j].m);
        }
        for (size_t c = 0; guide && c < s->n_inputs && st == SBERT_OK; c++)
            st = sbert_train_guide_embed(t, &es, c, rows, B, guide + c * B * GD);
        float *labels = NULL;
        size_t lw = 1;
        if (st == SBERT_OK)
            st = batch_labels(&es, L, es.ds, es.cols, es.label_col, es.label_width, rows, B, &labels, &lw);
        if (st == SBERT_OK) {
            const float *cols[64], *gcols[64];
            for (size_t j = 0; j < nv; j++) cols[j] = emb + j * B * D;
            for (size_t c = 0; guide && c < s->n_inputs; c++) gcols[c] = guide + c * B * GD;
            sbert_loss_batch lb = {.cols = cols, .n_cols = nv, .B = B, .dim = D, .labels = labels, .label_width = lw,
                                   .guide = guide ? gcols : NULL, .guide_dim = GD,
                                   .state = L->state ? L->state->params : NULL, .rng = &t->loss_rng,
                                   .step = t->global_step, .total_steps = t->total_steps,
                                   .inner = t->a->inner_loss_def,
                                   .inner_v = t->a->inner_loss_def ? &t->a->inner_loss_values : NULL};
            double l = 0;
            st = sbert_loss_spec_compute(L->spec, &lb, &l);
            total += l * (double)B;
        }
        free(labels);
    }
    free(emb);
    free(guide);
    free(rows);
    sbert_packed_free(&batch);
    if (st != SBERT_OK) {
        sbert_error_prefix("eval_dataset %s: ", s->eval_ds->path);
        return st;
    }
    *out = total / (double)(n ? n : 1);
    return SBERT_OK;
}

sbert_status sbert_train_eval_losses(sbert_trainer *t, char *buf, size_t cap) {
    size_t o = 0;
    if (cap) buf[0] = '\0';
    for (size_t i = 0; i < t->n_sets; i++) {
        sbert_train_set *s = &t->sets[i];
        if (!s->eval_ds) continue;
        double l = 0;
        SBERT_TRY(eval_loss(t, s, &l));
        if (o < cap)
            o += (size_t)snprintf(buf + o, cap - o, "'eval%s%s_loss': %.6f, ", s->name[0] ? "_" : "", s->name, l);
    }
    return SBERT_OK;
}
