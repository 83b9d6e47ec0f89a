/*
 * models/pipeline.c -- running a model's module list: encode (inference),
 * the training forward and its backward, the parameter table, and loading
 * weights back from a saved model (see model.h).
 *
 * Encoding mirrors SentenceTransformer.encode: texts are sorted by length
 * (longest first; the output keeps the input order), cut into batches of
 * batch_size, tokenized by the input module (prompt prepended as a raw
 * string), packed (no padding), run through every module, truncated to
 * truncate_dim and finally L2-normalized when asked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "models/model.h"
#include "models/encode_options.h"
#include "modules/normalize.h"

static sbert_status nomem(const char *what) { return sbert_fail(SBERT_ERR_NOMEM, "out of memory (%s)", what); }

/* Features of a packed batch before the first module. */
static sbert_features features_of(const sbert_packed *p, size_t prompt_len) {
    sbert_features f;
    memset(&f, 0, sizeof f);
    f.n_seq = p->n;
    f.T = p->n ? p->off[p->n] : 0;
    f.offs = p->off;
    f.ids = p->ids;
    f.types = p->types;
    f.prompt_len = prompt_len;
    return f;
}

/* Every module in order; stages (when not NULL) receives the features
 * before each module and after the last, recs what each kept. */
static sbert_status run_modules(sbert_model *m, sbert_features *f, sbert_run *run, sbert_features *stages,
                                void **recs) {
    for (size_t i = 0; i < m->n_mods; i++) {
        if (stages) stages[i] = *f;
        void *rec = NULL;
        sbert_status st = m->mods[i]->ops->forward(m->mods[i], f, run, &rec);
        if (recs) recs[i] = rec;
        if (st != SBERT_OK) {
            sbert_error_prefix("%s: ", m->mods[i]->ops->class_name);
            return st;
        }
    }
    if (stages) stages[m->n_mods] = *f;
    return SBERT_OK;
}

/* ---------------------------------------------------------------- encode */

sbert_encode_options sbert_encode_options_default(void) {
    sbert_encode_options o;
    memset(&o, 0, sizeof o);
    o.batch_size = 32;
    return o;
}

size_t sbert_model_encode_dim(const sbert_model *m, const sbert_encode_options *opt) {
    if (!m) return 0;
    size_t td = opt && opt->truncate_dim ? opt->truncate_dim : m->truncate_dim;
    return td && td < m->full_dim ? td : m->full_dim;
}

/* Python len(str): the number of code points. */
static size_t utf8_chars(const char *s) {
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) n++;
    return n;
}

typedef struct {
    size_t idx, len;
} len_idx;

static int cmp_len_desc(const void *a, const void *b) {
    const len_idx *x = a, *y = b;
    if (x->len != y->len) return x->len < y->len ? 1 : -1;
    return x->idx < y->idx ? -1 : (x->idx > y->idx);
}

/* The prompt as SentenceTransformer._resolve_prompt picks it (NULL: none). */
static sbert_status resolve_prompt(const sbert_model *m, const sbert_encode_options *opt, const char **out) {
    const char *prompt = opt->prompt;
    if (!prompt) {
        if (opt->prompt_name) {
            prompt = sbert_model_prompt(m, opt->prompt_name);
            if (!prompt) {
                char keys[512] = "";
                size_t o = 0;
                for (size_t i = 0; i < m->n_prompts && o < sizeof keys; i++)
                    o += (size_t)snprintf(keys + o, sizeof keys - o, "%s'%s'", i ? ", " : "", m->prompts[i].name);
                return sbert_fail(SBERT_ERR_INVALID_ARG, "prompt name '%s' not found in the model's prompts (%s)",
                                  opt->prompt_name, keys);
            }
        } else if (m->default_prompt_name) {
            prompt = sbert_model_prompt(m, m->default_prompt_name);
        }
    }
    *out = prompt && *prompt ? prompt : NULL;
    return SBERT_OK;
}

sbert_status sbert_model_encode(sbert_model *m, const char *const *texts, size_t n, const sbert_encode_options *opt_in,
                                float *out) {
    if (!m) return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_model_encode: model is NULL");
    if (n == 0) return SBERT_OK;
    if (!texts || !out) return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_model_encode: texts or out is NULL");
    for (size_t i = 0; i < n; i++)
        if (!texts[i]) return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_model_encode: text %zu is NULL", i);
    sbert_encode_options opt = opt_in ? *opt_in : sbert_encode_options_default();
    size_t bs = opt.batch_size ? opt.batch_size : 32;
    if (bs > n) bs = n;

    const char *prompt = NULL;
    SBERT_TRY(resolve_prompt(m, &opt, &prompt));
    /* Kind rules, the Router's route for opt.task, max_active_dims. */
    size_t max_active_dims = 0;
    SBERT_TRY(sbert_model_encode_prepare(m, &opt, &max_active_dims));
    size_t prompt_len = 0;
    SBERT_TRY(sbert_model_prompt_length(m, prompt, &prompt_len));
    const size_t out_dim = sbert_model_encode_dim(m, &opt);

    len_idx *order = malloc(n * sizeof *order);
    sbert_packed batch;
    memset(&batch, 0, sizeof batch);
    sbert_run run;
    memset(&run, 0, sizeof run);
    sbert_status st = SBERT_OK;
    if (!order) {
        st = nomem("encode buffers");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        order[i].idx = i;
        order[i].len = utf8_chars(texts[i]);
    }
    qsort(order, n, sizeof *order, cmp_len_desc);

    for (size_t start = 0; start < n; start += bs) {
        size_t nb = n - start < bs ? n - start : bs;
        sbert_packed_clear(&batch);
        for (size_t j = 0; j < nb; j++) {
            size_t ti = order[start + j].idx;
            sbert_encoding e;
            st = sbert_model_tokenize(m, prompt, texts[ti], NULL, &e);
            if (st != SBERT_OK) {
                sbert_error_prefix("text %zu: ", ti);
                goto done;
            }
            st = sbert_packed_append(&batch, &e);
            sbert_encoding_free(&e);
            if (st != SBERT_OK) goto done;
        }
        sbert_run_reset(&run);
        sbert_features f = features_of(&batch, prompt_len);
        if ((st = run_modules(m, &f, &run, NULL, NULL)) != SBERT_OK) goto done;
        for (size_t j = 0; j < nb; j++) {
            float *dst = out + order[start + j].idx * out_dim;
            memcpy(dst, f.emb + j * m->full_dim, out_dim * sizeof *dst);
            if (opt.normalize) sbert_normalize_rows(dst, 1, out_dim);
            if (max_active_dims) sbert_select_max_active_dims(dst, out_dim, max_active_dims);
        }
        if (opt.progress) opt.progress(start + nb, n, opt.progress_user);
    }
done:
    free(order);
    sbert_packed_free(&batch);
    sbert_run_free(&run);
    return st;
}

/* ------------------------------------------------------------ parameters */

/* Register every module's parameters into t, named "<index>.<name>". */
static sbert_status build_params(sbert_model *m, sbert_param_table *t) {
    for (size_t i = 0; i < m->n_mods; i++) {
        sbert_module *mod = m->mods[i];
        size_t first = sbert_params_count(t);
        if (mod->ops->params) SBERT_TRY(mod->ops->params(mod, t));
        char prefix[32];
        snprintf(prefix, sizeof prefix, "%zu", i);
        SBERT_TRY(sbert_params_prefix(t, first, prefix));
        mod->pt = t;
        mod->pfirst = first;
        mod->pcount = sbert_params_count(t) - first;
    }
    return SBERT_OK;
}

sbert_status sbert_model_params(sbert_model *m, sbert_param_table **out) {
    if (!m->params) {
        sbert_param_table *t = NULL;
        SBERT_TRY(sbert_params_create(&t));
        sbert_status st = build_params(m, t);
        if (st == SBERT_OK) st = sbert_params_seal(t);
        if (st != SBERT_OK) {
            sbert_params_free(t);
            for (size_t i = 0; i < m->n_mods; i++) m->mods[i]->pt = NULL;
            return st;
        }
        m->params = t;
    }
    *out = m->params;
    return SBERT_OK;
}

sbert_status sbert_model_load_weights(sbert_model *m, const char *dir) {
    sbert_param_table *mine = NULL, *theirs = NULL;
    SBERT_TRY(sbert_model_params(m, &mine));
    sbert_model *other = NULL;
    SBERT_TRY(sbert_model_load_kind(dir, m->kind, NULL, &other));
    sbert_status st = sbert_params_create(&theirs);
    if (st == SBERT_OK) st = build_params(other, theirs);
    if (st == SBERT_OK && other->n_mods != m->n_mods)
        st = sbert_fail(SBERT_ERR_FORMAT, "%s: %zu modules, the model being trained has %zu", dir, other->n_mods,
                        m->n_mods);
    for (size_t i = 0; st == SBERT_OK && i < sbert_params_count(mine); i++) {
        sbert_param *p = sbert_params_at(mine, i);
        const sbert_param *q = sbert_params_find(theirs, p->name);
        if (!q)
            st = sbert_fail(SBERT_ERR_FORMAT, "%s: no parameter '%s' (saved from a different model?)", dir, p->name);
        else if (q->numel != p->numel || q->shape[0] != p->shape[0] || q->shape[1] != p->shape[1])
            st = sbert_fail(SBERT_ERR_FORMAT, "%s: parameter '%s' is [%lld, %lld], the model being trained has [%lld, %lld]",
                            dir, p->name, (long long)q->shape[0], (long long)q->shape[1], (long long)p->shape[0],
                            (long long)p->shape[1]);
        else
            memcpy(p->data, q->data, p->numel * sizeof *p->data);
    }
    sbert_params_free(theirs);
    sbert_model_free(other);
    return st;
}

/* ------------------------------------------------------------- training */

void sbert_model_release(sbert_model *m) {
    if (!m || !m->busy) return;
    for (size_t i = 0; i < m->n_mods; i++)
        if (m->mods[i]->ops->rec_free) m->mods[i]->ops->rec_free(m->mods[i], m->recs[i]);
    m->busy = 0;
}

sbert_status sbert_model_forward_train(sbert_model *m, const sbert_packed *batch, sbert_rng *rng, float *out) {
    return sbert_model_forward_train_prompt(m, batch, 0, rng, out);
}

sbert_status sbert_model_forward_train_prompt(sbert_model *m, const sbert_packed *batch, size_t prompt_len,
                                              sbert_rng *rng, float *out) {
    if (m->busy)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "training forward: the last one is still waiting for its backward");
    sbert_param_table *pt = NULL;
    SBERT_TRY(sbert_model_params(m, &pt));
    if (!m->stages) {
        m->stages = calloc(m->n_mods + 1, sizeof *m->stages);
        m->recs = calloc(m->n_mods, sizeof *m->recs);
        if (!m->stages || !m->recs) return nomem("training forward");
    }
    sbert_run_reset(&m->run);
    m->run.train = 1;
    m->run.rng = rng;
    sbert_features f = features_of(batch, prompt_len);
    m->busy = 1;
    sbert_status st = run_modules(m, &f, &m->run, m->stages, m->recs);
    if (st != SBERT_OK) {
        sbert_model_release(m);
        return st;
    }
    memcpy(out, f.emb, batch->n * m->full_dim * sizeof *out);
    return SBERT_OK;
}

sbert_status sbert_model_backward(sbert_model *m, const float *dout) {
    if (!m->busy) return sbert_fail(SBERT_ERR_INVALID_ARG, "backward: no training forward is waiting for it");
    sbert_feature_grads g = {NULL, (float *)dout};
    sbert_status st = SBERT_OK;
    for (size_t i = m->n_mods; i-- > 0;) {
        sbert_module *mod = m->mods[i];
        if (!mod->ops->backward) {
            st = sbert_fail(SBERT_ERR_UNSUPPORTED, "module %zu (%s) cannot be trained", i, mod->ops->class_name);
            break;
        }
        sbert_feature_grads din = {NULL, NULL};
        st = mod->ops->backward(mod, &m->stages[i], &m->stages[i + 1], &g, &din, &m->run, m->recs[i]);
        if (st != SBERT_OK) {
            sbert_error_prefix("%s backward: ", mod->ops->class_name);
            break;
        }
        g = din;
    }
    sbert_model_release(m);
    return st;
}
