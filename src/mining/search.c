/*
 * mining/search.c -- the streamed exact top-k search (see search.h).
 */
#include "mining/search.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "base/error.h"
#include "base/threads.h"
#include "mining/torch_order.h"

enum { SIM_COSINE = 0, SIM_DOT = 1, SIM_EUCLIDEAN = 2, SIM_MANHATTAN = 3 };

/* Two candidate scores this close may be ordered differently by torch's
 * float arithmetic and ours; such a row is ranked again exactly. */
#define NEAR_TIE 1e-6f

int sbert_search_sim_id(const char *name) {
    static const char *const names[] = {"cosine", "dot", "euclidean", "manhattan"};
    for (int i = 0; i < 4; i++)
        if (name && strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

/* F.normalize(x, p=2, dim=-1): x / max(||x||, 1e-12) */
static void normalize_rows(float *x, size_t n, size_t dim) {
    for (size_t r = 0; r < n; r++) {
        float *v = x + r * dim;
        double s = 0;
        for (size_t j = 0; j < dim; j++)
            s += (double)v[j] * v[j];
        float norm = (float)sqrt(s);
        if (norm < 1e-12f)
            norm = 1e-12f;
        for (size_t j = 0; j < dim; j++)
            v[j] /= norm;
    }
}

/* One score with a fixed-order kernel: identical vectors give identical scores. */
static float score_one(int sim, const float *a, const float *b, size_t dim) {
    double s = 0;
    switch (sim) {
    case SIM_COSINE:
    case SIM_DOT:
        for (size_t j = 0; j < dim; j++)
            s += (double)a[j] * b[j];
        return (float)s;
    case SIM_EUCLIDEAN:
        for (size_t j = 0; j < dim; j++) {
            double d = (double)a[j] - b[j];
            s += d * d;
        }
        return (float)-sqrt(s);
    default:
        for (size_t j = 0; j < dim; j++)
            s += fabs((double)a[j] - b[j]);
        return (float)-s;
    }
}

/* ---------------------------------------------------- per-query heaps */

typedef struct {
    float v;
    int32_t i;
} cand;

/* a ranks below b: lower score, or the same score and a later document */
static inline int worse(const cand *a, const cand *b) { return a->v < b->v || (a->v == b->v && a->i > b->i); }

static void sift_down(cand *h, size_t n, size_t p) {
    for (;;) {
        size_t l = 2 * p + 1, m = p;
        if (l < n && worse(&h[l], &h[m]))
            m = l;
        if (l + 1 < n && worse(&h[l + 1], &h[m]))
            m = l + 1;
        if (m == p)
            return;
        cand t = h[p];
        h[p] = h[m];
        h[m] = t;
        p = m;
    }
}

static void sift_up(cand *h, size_t c) {
    while (c > 0) {
        size_t p = (c - 1) / 2;
        if (!worse(&h[c], &h[p]))
            return;
        cand t = h[p];
        h[p] = h[c];
        h[c] = t;
        c = p;
    }
}

static int cmp_best_first(const void *pa, const void *pb) {
    const cand *a = pa, *b = pb;
    if (worse(b, a))
        return -1;
    if (worse(a, b))
        return 1;
    return 0;
}

/* ---------------------------------------------------------- the search */

typedef struct {
    const float *q, *c;
    size_t nq, nc, dim, k, cap, qb, cb;
    int sim;
    const float *qn2, *cn2; /* squared norms (euclidean) */
    float *out_v;
    int32_t *out_i;
    atomic_int failed;
    atomic_size_t n_fallback;
} search_ctx;

static void block_scores(const search_ctx *s, size_t q0, size_t nqb, size_t c0, size_t ncb, float *S) {
    const float *Q = s->q + q0 * s->dim, *C = s->c + c0 * s->dim;
    if (s->sim == SIM_MANHATTAN) {
        for (size_t r = 0; r < nqb; r++)
            for (size_t j = 0; j < ncb; j++)
                S[r * ncb + j] = score_one(SIM_MANHATTAN, Q + r * s->dim, C + j * s->dim, s->dim);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nqb, (int)ncb, (int)s->dim, 1.0f, Q, (int)s->dim, C,
                (int)s->dim, 0.0f, S, (int)ncb);
    if (s->sim == SIM_EUCLIDEAN) {
        for (size_t r = 0; r < nqb; r++)
            for (size_t j = 0; j < ncb; j++) {
                float d2 = s->qn2[q0 + r] + s->cn2[c0 + j] - 2.0f * S[r * ncb + j];
                S[r * ncb + j] = -sqrtf(d2 > 0 ? d2 : 0);
            }
    }
}

/* torch.topk over the whole row of query qi, written to out (k entries) */
static int exact_row(const search_ctx *s, size_t qi, float **row, sbert_vi **work, sbert_vi **top, float *ov,
                     int32_t *oi) {
    if (!*row) {
        *row = malloc(s->nc * sizeof **row);
        *work = malloc(s->nc * sizeof **work);
        *top = malloc(s->k * sizeof **top);
        if (!*row || !*work || !*top)
            return -1;
    }
    const float *qv = s->q + qi * s->dim;
    for (size_t j = 0; j < s->nc; j++)
        (*row)[j] = score_one(s->sim, qv, s->c + j * s->dim, s->dim);
    sbert_torch_topk(*row, s->nc, s->k, *work, *top);
    for (size_t t = 0; t < s->k; t++) {
        ov[t] = (*top)[t].v;
        oi[t] = (int32_t)(*top)[t].i;
    }
    return 0;
}

static void search_range(void *vctx, size_t b_begin, size_t b_end) {
    search_ctx *s = vctx;
    float *S = malloc(s->qb * s->cb * sizeof *S);
    cand *heaps = malloc(s->qb * s->cap * sizeof *heaps);
    size_t *hn = malloc(s->qb * sizeof *hn);
    float *row = NULL;
    sbert_vi *work = NULL, *top = NULL;
    if (!S || !heaps || !hn) {
        atomic_store(&s->failed, 1);
        goto done;
    }
    for (size_t b = b_begin; b < b_end && !atomic_load(&s->failed); b++) {
        size_t q0 = b * s->qb, nqb = s->nq - q0 < s->qb ? s->nq - q0 : s->qb;
        memset(hn, 0, nqb * sizeof *hn);
        for (size_t c0 = 0; c0 < s->nc; c0 += s->cb) {
            size_t ncb = s->nc - c0 < s->cb ? s->nc - c0 : s->cb;
            block_scores(s, q0, nqb, c0, ncb, S);
            for (size_t r = 0; r < nqb; r++) {
                cand *h = heaps + r * s->cap;
                size_t n = hn[r];
                const float *sr = S + r * ncb;
                size_t j = 0;
                for (; j < ncb && n < s->cap; j++) {
                    h[n].v = sr[j];
                    h[n].i = (int32_t)(c0 + j);
                    sift_up(h, n);
                    n++;
                }
                float thr = n ? h[0].v : -INFINITY;
                for (; j < ncb; j++) {
                    if (sr[j] < thr)
                        continue;
                    cand x = {sr[j], (int32_t)(c0 + j)};
                    if (!worse(&h[0], &x))
                        continue;
                    h[0] = x;
                    sift_down(h, n, 0);
                    thr = h[0].v;
                }
                hn[r] = n;
            }
        }
        for (size_t r = 0; r < nqb; r++) {
            cand *h = heaps + r * s->cap;
            size_t n = hn[r];
            qsort(h, n, sizeof *h, cmp_best_first);
            int tie = 0;
            for (size_t t = 0; t + 1 < n && !tie; t++)
                if (h[t].v - h[t + 1].v <= NEAR_TIE)
                    tie = 1;
            float *ov = s->out_v + (q0 + r) * s->k;
            int32_t *oi = s->out_i + (q0 + r) * s->k;
            if (tie) {
                if (exact_row(s, q0 + r, &row, &work, &top, ov, oi) != 0) {
                    atomic_store(&s->failed, 1);
                    goto done;
                }
                atomic_fetch_add(&s->n_fallback, 1);
                continue;
            }
            for (size_t t = 0; t < s->k; t++) {
                ov[t] = h[t].v;
                oi[t] = h[t].i;
            }
        }
    }
done:
    free(S);
    free(heaps);
    free(hn);
    free(row);
    free(work);
    free(top);
}

sbert_status sbert_search_topk(float *q, size_t nq, float *c, size_t nc, size_t dim, const char *sim, size_t k,
                               sbert_search_options *opt, float *out_v, int32_t *out_i) {
    int sid = sbert_search_sim_id(sim);
    if (sid < 0)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "similarity function '%s' is not one of cosine, dot, euclidean, "
                                                 "manhattan", sim ? sim : "(null)");
    if (k < 1 || k > nc)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "top-k search: k=%zu must be in [1, %zu] (the corpus size)", k, nc);
    if (nc > (size_t)INT32_MAX)
        return sbert_fail(SBERT_ERR_UNSUPPORTED, "top-k search: a corpus of %zu documents is above 2^31", nc);
    if (nq == 0)
        return SBERT_OK;
    search_ctx s;
    memset(&s, 0, sizeof s);
    s.q = q;
    s.c = c;
    s.nq = nq;
    s.nc = nc;
    s.dim = dim;
    s.k = k;
    s.cap = k + 1 < nc ? k + 1 : nc;
    s.qb = opt && opt->query_block ? opt->query_block : 256;
    s.cb = opt && opt->corpus_chunk ? opt->corpus_chunk : 4096;
    if (s.cb > nc)
        s.cb = nc;
    if (s.qb > nq)
        s.qb = nq;
    s.sim = sid;
    s.out_v = out_v;
    s.out_i = out_i;
    float *qn2 = NULL, *cn2 = NULL;
    if (sid == SIM_COSINE) {
        normalize_rows(q, nq, dim);
        normalize_rows(c, nc, dim);
    } else if (sid == SIM_EUCLIDEAN) {
        qn2 = malloc(nq * sizeof *qn2);
        cn2 = malloc(nc * sizeof *cn2);
        if (!qn2 || !cn2) {
            free(qn2);
            free(cn2);
            return sbert_fail(SBERT_ERR_NOMEM, "top-k search: out of memory (norms of %zu + %zu vectors)", nq, nc);
        }
        for (size_t r = 0; r < nq; r++)
            qn2[r] = score_one(SIM_DOT, q + r * dim, q + r * dim, dim);
        for (size_t r = 0; r < nc; r++)
            cn2[r] = score_one(SIM_DOT, c + r * dim, c + r * dim, dim);
        s.qn2 = qn2;
        s.cn2 = cn2;
    }
    atomic_init(&s.failed, 0);
    atomic_init(&s.n_fallback, 0);
    size_t n_blocks = (nq + s.qb - 1) / s.qb;
    sbert_parallel_for(n_blocks, search_range, &s);
    free(qn2);
    free(cn2);
    if (atomic_load(&s.failed))
        return sbert_fail(SBERT_ERR_NOMEM, "top-k search: out of memory (%zu x %zu score block, k=%zu)", s.qb, s.cb,
                          k);
    if (opt)
        opt->n_fallback = atomic_load(&s.n_fallback);
    return SBERT_OK;
}

sbert_status sbert_search_pairwise(const float *a, const float *b, size_t n, size_t dim, const char *sim, float *out) {
    int sid = sbert_search_sim_id(sim);
    if (sid < 0)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "similarity function '%s' is not one of cosine, dot, euclidean, "
                                                 "manhattan", sim ? sim : "(null)");
    for (size_t r = 0; r < n; r++) {
        const float *u = a + r * dim, *v = b + r * dim;
        if (sid != SIM_COSINE) {
            out[r] = score_one(sid, u, v, dim);
            continue;
        }
        /* pairwise_cos_sim: F.normalize both, then the dot product */
        double su = 0, sv = 0, s = 0;
        for (size_t j = 0; j < dim; j++) {
            su += (double)u[j] * u[j];
            sv += (double)v[j] * v[j];
        }
        float nu = (float)sqrt(su), nv = (float)sqrt(sv);
        if (nu < 1e-12f)
            nu = 1e-12f;
        if (nv < 1e-12f)
            nv = 1e-12f;
        for (size_t j = 0; j < dim; j++)
            s += (double)(u[j] / nu) * (double)(v[j] / nv);
        out[r] = (float)s;
    }
    return SBERT_OK;
}
