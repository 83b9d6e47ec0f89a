/*
 * models/encode_options.c -- an encode's options against the model: the
 * prompt of encode_query / encode_document, the rules that differ by kind
 * (normalize and truncate_dim are dense-only, max_active_dims sparse-only),
 * the Router route for the task, and max_active_dims itself.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/error.h"
#include "models/encode_options.h"
#include "models/model.h"
#include "modules/router.h"

sbert_encode_options sbert_encode_options_for_task(const sbert_model *m, const char *task) {
    sbert_encode_options o = sbert_encode_options_default();
    o.task = task;
    if (!m || !task) return o;
    /* encode_query: the "query" prompt; encode_document: the first of
     * "document", "passage", "corpus" (SparseEncoder / SentenceTransformer). */
    if (!strcmp(task, "query")) {
        if (sbert_model_prompt(m, "query")) o.prompt_name = "query";
    } else if (!strcmp(task, "document")) {
        static const char *const names[] = {"document", "passage", "corpus"};
        for (int i = 0; i < 3 && !o.prompt_name; i++)
            if (sbert_model_prompt(m, names[i])) o.prompt_name = names[i];
    }
    return o;
}

sbert_status sbert_model_encode_prepare(sbert_model *m, const sbert_encode_options *opt, size_t *mad) {
    *mad = 0;
    if (m->kind == SBERT_KIND_SPARSE_ENCODER) {
        if (opt->normalize)
            return sbert_fail(SBERT_ERR_INVALID_ARG,
                              "normalize does not apply to a SparseEncoder (SparseEncoder.encode has no "
                              "normalize_embeddings; its vectors are compared with the dot product)");
        if (opt->truncate_dim)
            return sbert_fail(SBERT_ERR_INVALID_ARG, "truncate_dim does not apply to a SparseEncoder (use "
                                                     "max_active_dims to keep the largest values)");
        *mad = opt->max_active_dims;
        if (!*mad && m->st_config) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(m->st_config, "max_active_dims");
            if (cJSON_IsNumber(v) && v->valuedouble >= 1) *mad = (size_t)v->valuedouble;
        }
    } else if (opt->max_active_dims) {
        return sbert_fail(SBERT_ERR_INVALID_ARG, "max_active_dims applies to SparseEncoder models, not to a %s",
                          sbert_model_kind_name(m->kind));
    }
    for (size_t i = 0; i < m->n_mods; i++)
        if (sbert_module_is_router(m->mods[i])) SBERT_TRY(sbert_router_select(m->mods[i], opt->task));
    return SBERT_OK;
}

typedef struct {
    float a;
    uint32_t i;
} absval;

static int cmp_abs_desc(const void *x, const void *y) {
    const absval *p = x, *q = y;
    if (p->a != q->a) return p->a > q->a ? -1 : 1;
    return p->i < q->i ? -1 : (p->i > q->i);
}

void sbert_select_max_active_dims(float *row, size_t dim, size_t k) {
    size_t nnz = 0;
    for (size_t v = 0; v < dim; v++) nnz += row[v] != 0.0f;
    if (nnz <= k) return;
    absval *a = malloc(nnz * sizeof *a);
    if (!a) {
        /* no memory for the selection: keep values above a threshold found by bisection */
        float lo = 0.0f, hi = 0.0f;
        for (size_t v = 0; v < dim; v++) hi = fmaxf(hi, fabsf(row[v]));
        for (int it = 0; it < 64; it++) {
            float mid = 0.5f * (lo + hi);
            size_t c = 0;
            for (size_t v = 0; v < dim; v++) c += fabsf(row[v]) >= mid;
            if (c > k) lo = mid;
            else hi = mid;
        }
        for (size_t v = 0; v < dim; v++)
            if (fabsf(row[v]) < hi) row[v] = 0.0f;
        return;
    }
    size_t n = 0;
    for (size_t v = 0; v < dim; v++)
        if (row[v] != 0.0f) a[n++] = (absval){fabsf(row[v]), (uint32_t)v};
    qsort(a, n, sizeof *a, cmp_abs_desc);
    for (size_t j = k; j < n; j++) row[a[j].i] = 0.0f;
    free(a);
}

