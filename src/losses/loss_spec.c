/*
 * losses/loss_spec.c -- a loss as a recipe names it (see loss_spec.h).
 */
#include "losses/loss_spec.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "losses/loss_util.h"
#include "training/recipe.h"

static void trim_copy(char *dst, size_t cap, const char *s, size_t n) {
    while (n && isspace((unsigned char)*s)) s++, n--;
    while (n && isspace((unsigned char)s[n - 1])) n--;
    if (n >= cap) n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

/* "A, B, C" of the usable losses of `kinds`. */
static void available(unsigned kinds, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sbert_loss_count() && n < cap; i++) {
        const sbert_loss_def *d = sbert_loss_at(i);
        if (d->compute && (d->kinds & kinds))
            n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", d->name);
    }
}

static const char *kind_word(unsigned kinds) {
    return kinds & 1u ? "SentenceTransformer" : kinds & 2u ? "CrossEncoder" : "SparseEncoder";
}

/* The usable table row named `name` for `kinds`. */
static sbert_status find_def(const char *name, const char *where, unsigned kinds, const sbert_loss_def **out) {
    char avail[2048];
    available(kinds, avail, sizeof avail);
    const sbert_loss_def *d = sbert_loss_find(name);
    if (!d) {
        const char *names[160];
        size_t nn = 0;
        for (size_t i = 0; i < sbert_loss_count() && nn < 160; i++) names[nn++] = sbert_loss_at(i)->name;
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: unknown loss '%s' (did you mean '%s'? available: %s)", where,
                          name, sbert_closest_name(name, names, nn), avail);
    }
    if (!(d->kinds & kinds))
        return sbert_fail(SBERT_ERR_UNSUPPORTED,
                          "%s: %s is a %s loss; this run trains a %s (set model_type: %s to train one; available "
                          "here: %s)",
                          where, name, kind_word(d->kinds), kind_word(kinds), kind_word(d->kinds), avail);
    if (!d->compute)
        return sbert_fail(SBERT_ERR_UNSUPPORTED, "%s: loss '%s' is not implemented yet (available: %s)", where, name,
                          avail);
    *out = d;
    return SBERT_OK;
}

static sbert_status read_values(const sbert_loss_def *d, const sbert_loss_keys *keys, sbert_loss_values *v) {
    memset(v, 0, sizeof *v);
    for (size_t i = 0; i < d->n_params; i++) {
        const char *t = keys ? keys->get(keys->ctx, d->params[i].key) : NULL;
        const char *origin = t ? keys->origin(keys->ctx, d->params[i].key) : "default";
        SBERT_TRY(sbert_loss_param_parse(d, i, t ? t : d->params[i].def, origin, v));
    }
    return SBERT_OK;
}

static double param_of(const sbert_loss_def *d, const sbert_loss_values *v, const char *key, double def) {
    int i = sbert_loss_param_index(d, key);
    return i < 0 ? def : v->num[i];
}

static const char *param_text(const sbert_loss_def *d, const sbert_loss_values *v, const char *key) {
    int i = sbert_loss_param_index(d, key);
    return i < 0 ? NULL : v->str[i];
}

static sbert_status read_wrapper(sbert_loss_spec *s, const sbert_loss_keys *keys, const char *where) {
    const sbert_loss_def *w = s->wrapper;
    SBERT_TRY(read_values(w, keys, &s->wvalues));
    s->matryoshka = sbert_loss_param_index(w, "matryoshka_dims") >= 0;
    s->adaptive = sbert_loss_param_index(w, "n_layers_per_step") >= 0;
    if (s->matryoshka) {
        const char *dt = param_text(w, &s->wvalues, "matryoshka_dims");
        const char *origin = keys ? keys->origin(keys->ctx, "matryoshka_dims") : where;
        if (!dt || !*dt || (keys && !keys->get(keys->ctx, "matryoshka_dims")))
            return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: %s needs matryoshka_dims (e.g. '[384, 256, 128, 64]')", where,
                              w->name);
        double dims[SBERT_MATRYOSHKA_MAX_DIMS], wts[SBERT_MATRYOSHKA_MAX_DIMS];
        size_t nd = 0, nw = 0;
        if (!sbert_loss_parse_list(dt, dims, SBERT_MATRYOSHKA_MAX_DIMS, &nd) || nd == 0)
            return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: matryoshka_dims: you must provide at least one dimension",
                              origin);
        for (size_t i = 0; i < nd; i++) {
            wts[i] = 1.0;
            if (dims[i] <= 0 || dims[i] != floor(dims[i]))
                return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: matryoshka_dims: all dimensions must be integers > 0",
                                  origin);
        }
        const char *wt = keys ? keys->get(keys->ctx, "matryoshka_weights") : NULL;
        if (wt && strcmp(wt, "None")) {
            if (!sbert_loss_parse_list(wt, wts, SBERT_MATRYOSHKA_MAX_DIMS, &nw) || nw != nd)
                return sbert_fail(SBERT_ERR_INVALID_ARG,
                                  "%s: matryoshka_weights must be the same length as matryoshka_dims (%zu)",
                                  keys->origin(keys->ctx, "matryoshka_weights"), nd);
        }
        /* sorted by dim, descending, weights along (Python's sorted(..., reverse=True) is stable) */
        for (size_t i = 1; i < nd; i++)
            for (size_t j = i; j > 0 && dims[j] > dims[j - 1]; j--) {
                double t = dims[j];
                dims[j] = dims[j - 1];
                dims[j - 1] = t;
                t = wts[j];
                wts[j] = wts[j - 1];
                wts[j - 1] = t;
            }
        memcpy(s->dims, dims, nd * sizeof *dims);
        memcpy(s->weights, wts, nd * sizeof *wts);
        s->n_dims = nd;
        s->n_dims_per_step = (int64_t)param_of(w, &s->wvalues, "n_dims_per_step", -1);
    }
    if (s->adaptive) {
        s->n_layers_per_step = (int64_t)param_of(w, &s->wvalues, "n_layers_per_step", 1);
        s->last_layer_weight = param_of(w, &s->wvalues, "last_layer_weight", 1);
        s->prior_layers_weight = param_of(w, &s->wvalues, "prior_layers_weight", 1);
        s->kl_div_weight = param_of(w, &s->wvalues, "kl_div_weight", 1);
        s->kl_temperature = param_of(w, &s->wvalues, "kl_temperature", 0.3);
        s->layer_weighting = (int)param_of(w, &s->wvalues, "layer_weighting", 0);
    }
    return SBERT_OK;
}

sbert_status sbert_loss_spec_parse(const char *text, const char *where, unsigned kinds, const sbert_loss_keys *keys,
                                   sbert_loss_spec *out) {
    memset(out, 0, sizeof *out);
    trim_copy(out->text, sizeof out->text, text, strlen(text));
    char main[256] = "", add[256] = "";
    const char *plus = strchr(out->text, '+');
    if (plus) {
        trim_copy(main, sizeof main, out->text, (size_t)(plus - out->text));
        trim_copy(add, sizeof add, plus + 1, strlen(plus + 1));
        if (strchr(add, '+'))
            return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: '%s': at most one loss can be added with '+'", where, text);
    } else {
        snprintf(main, sizeof main, "%s", out->text);
    }
    char inner[256] = "";
    char *open = strchr(main, '(');
    if (open) {
        char *close = strrchr(main, ')');
        if (!close || close < open || close[1])
            return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: '%s': write a wrapped loss as Wrapper(InnerLoss)", where,
                              text);
        trim_copy(inner, sizeof inner, open + 1, (size_t)(close - open - 1));
        char wname[256];
        trim_copy(wname, sizeof wname, main, (size_t)(open - main));
        SBERT_TRY(find_def(wname, where, kinds, &out->wrapper));
        if (!(out->wrapper->needs & SBERT_LOSS_WRAPPER))
            return sbert_fail(SBERT_ERR_INVALID_ARG,
                              "%s: '%s' does not wrap another loss (the wrappers are MatryoshkaLoss, AdaptiveLayerLoss "
                              "and Matryoshka2dLoss)",
                              where, wname);
        if (strchr(inner, '('))
            return sbert_fail(SBERT_ERR_INVALID_ARG,
                              "%s: '%s': one wrapper at a time (Matryoshka2dLoss is MatryoshkaLoss inside "
                              "AdaptiveLayerLoss)",
                              where, text);
        SBERT_TRY(find_def(inner, where, kinds, &out->def));
    } else {
        SBERT_TRY(find_def(main, where, kinds, &out->def));
        if (out->def->needs & SBERT_LOSS_WRAPPER)
            return sbert_fail(SBERT_ERR_INVALID_ARG,
                              "%s: %s wraps another loss: write it as %s(MultipleNegativesRankingLoss) (or another "
                              "inner loss)",
                              where, main, main);
    }
    if (out->def->needs & SBERT_LOSS_WRAPPER)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: '%s': a wrapper cannot be the inner loss", where, text);
    if ((out->def->needs & SBERT_LOSS_DECODER) && (out->wrapper || *add))
        return sbert_fail(SBERT_ERR_UNSUPPORTED,
                          "%s: '%s': %s takes no wrapper and nothing added with '+' (its loss is the decoder's "
                          "cross-entropy, not a function of the embeddings)",
                          where, text, out->def->name);
    SBERT_TRY(read_values(out->def, keys, &out->values));
    if (out->wrapper) SBERT_TRY(read_wrapper(out, keys, where));
    if (*add) {
        SBERT_TRY(find_def(add, where, kinds, &out->added));
        if (out->added->needs &
                (SBERT_LOSS_WRAPPER | SBERT_LOSS_NEEDS_GUIDE | SBERT_LOSS_NEEDS_COPY | SBERT_LOSS_DECODER) ||
            out->added->state_size || out->added->label != SBERT_LABEL_NONE)
            return sbert_fail(SBERT_ERR_INVALID_ARG,
                              "%s: '%s' can only be added with '+' when it needs nothing but the embeddings (e.g. "
                              "GlobalOrthogonalRegularizationLoss)",
                              where, add);
        SBERT_TRY(read_values(out->added, keys, &out->avalues));
    }
    if (!out->matryoshka && keys)
        for (const char *k = "matryoshka_dims"; k; k = NULL)
            if (keys->get(keys->ctx, k))
                return sbert_fail(SBERT_ERR_INVALID_ARG,
                                  "%s: matryoshka_dims needs the loss wrapped in MatryoshkaLoss: write loss: "
                                  "MatryoshkaLoss(%s)",
                                  keys->origin(keys->ctx, k), out->def->name);
    return SBERT_OK;
}

int sbert_loss_spec_uses_key(const sbert_loss_spec *s, const char *key) {
    return sbert_loss_param_index(s->def, key) >= 0 || (s->wrapper && sbert_loss_param_index(s->wrapper, key) >= 0) ||
           (s->added && sbert_loss_param_index(s->added, key) >= 0);
}

sbert_status sbert_loss_check_data(const sbert_loss_def *def, const sbert_loss_values *v, size_t n_inputs,
                                   int has_label, size_t label_width, size_t dim, const char *file,
                                   const char *columns) {
    SBERT_TRY(sbert_loss_check_columns(def, n_inputs, has_label, file, columns));
    const char *why = def->check ? def->check(v, n_inputs, has_label, label_width, dim) : NULL;
    /* a base loss that reuses another's check (SparseMSELoss: MSELoss's) is named first */
    int named = why && def->wrapped_only && strncmp(why, def->name, strlen(def->name)) != 0;
    if (why) return sbert_fail(SBERT_ERR_FORMAT, "%s: %s%s%s (columns: %s)", file, named ? def->name : "",
                               named ? ": " : "", why, columns);
    if (!def->check && has_label && label_width > 1)
        return sbert_fail(SBERT_ERR_FORMAT, "%s: %s takes one number per row as its label, the label column holds "
                                            "lists of %zu (columns: %s)",
                          file, def->name, label_width, columns);
    return SBERT_OK;
}

sbert_status sbert_loss_spec_check(const sbert_loss_spec *s, size_t n_inputs, int has_label, size_t label_width,
                                   size_t dim, const char *file, const char *columns) {
    SBERT_TRY(sbert_loss_check_data(s->def, &s->values, n_inputs, has_label, label_width, dim, file, columns));
    if (s->matryoshka)
        for (size_t i = 0; i < s->n_dims; i++)
            if (dim && s->dims[i] > (double)dim)
                return sbert_fail(SBERT_ERR_INVALID_ARG,
                                  "matryoshka_dims: %g is greater than the model's embedding dimension %zu",
                                  s->dims[i], dim);
    return SBERT_OK;
}

sbert_status sbert_loss_spec_compute(const sbert_loss_spec *s, const sbert_loss_batch *b, double *loss) {
    sbert_loss_batch lb = *b;
    lb.v = &s->values;
    double l = 0;
    if (s->matryoshka)
        SBERT_TRY(sbert_loss_matryoshka(s->def, &s->values, &lb, s->dims, s->weights, s->n_dims, s->n_dims_per_step,
                                        &l));
    else
        SBERT_TRY(s->def->compute(&lb, &l));
    if (s->added) {
        sbert_loss_batch ab = *b;
        ab.v = &s->avalues;
        double a = 0;
        SBERT_TRY(s->added->compute(&ab, &a));
        l += a;
    }
    *loss = l;
    return SBERT_OK;
}

const char *sbert_loss_spec_name(const sbert_loss_spec *s, char *buf, size_t cap) {
    if (s->wrapper)
        snprintf(buf, cap, "%s(%s)%s%s", s->wrapper->name, s->def->name, s->added ? " + " : "",
                 s->added ? s->added->name : "");
    else
        snprintf(buf, cap, "%s%s%s", s->def->name, s->added ? " + " : "", s->added ? s->added->name : "");
    return buf;
}

/* ------------------------------------------------------ AdaptiveLayerLoss */

double sbert_adaptive_layer_weight(int layer_weighting, size_t layer) {
    if (layer_weighting == 1) return 1.0 / (1.0 + log(1.0 + (double)layer));
    if (layer_weighting == 2) return 1.0 / (1.0 + (double)layer);
    return 1.0;
}

double sbert_adaptive_layer_kl(const float *final_emb, const float *layer_emb, size_t n, size_t D, double T,
                               double weight, float *glayer) {
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        const float *f = final_emb + i * D, *e = layer_emb + i * D;
        double mf = -INFINITY, me = -INFINITY;
        for (size_t k = 0; k < D; k++) {
            if (f[k] / T > mf) mf = f[k] / T;
            if (e[k] / T > me) me = e[k] / T;
        }
        double zf = 0, ze = 0;
        for (size_t k = 0; k < D; k++) {
            zf += exp(f[k] / T - mf);
            ze += exp(e[k] / T - me);
        }
        double lzf = mf + log(zf), lze = me + log(ze);
        for (size_t k = 0; k < D; k++) {
            double lp = f[k] / T - lzf, p = exp(lp), lq = e[k] / T - lze;
            if (p > 0) total += p * (lp - lq);
            if (glayer) glayer[i * D + k] += (float)(weight * (exp(lq) - p) / T / (double)n);
        }
    }
    return total / (double)n;
}
