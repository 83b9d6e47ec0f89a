/*
 * tests/test_backward.c -- every backward kernel against central finite
 * differences of a double-precision reference forward.
 *
 * For each op: random fp32 inputs, a random output weighting R, and the loss
 *     L = sum(out * R)
 * so the output gradient is R. The analytic fp32 backward (kernels/
 * cpu_ops_backward.h, attention_backward.h, pooling_backward.h) is compared
 * with (L(x + h e_i) - L(x - h e_i)) / 2h computed by a double-precision
 * forward written here from the math (h = 1e-5; the FD error is ~1e-10), on
 * every input and parameter element (or a random subset of big tensors).
 * The error of one element is |analytic - numeric| / max(|numeric|, 1e-3 *
 * max|numeric| of that tensor); the maximum per op is printed and must stay
 * below 1e-3 (fp32 round-off is ~1e-6). Where a forward from the library
 * exists, the double reference forward is first checked against it, so the
 * reference encodes the library's conventions (rel-bias index, pooling masks).
 *
 * Attention is also checked with dropout on the probabilities (a fixed keep
 * mask, p = 0.3). Also checked: += semantics (a second backward call doubles the gradient),
 * determinism (two runs bit-identical; attention also across thread counts),
 * and the max-pooling tie rule (the first maximal token gets the gradient,
 * as torch.max(dim) does: torch.tensor([[[1.,2.],[3.,2.],[3.,.5]]]).max(1)
 * sends the gradient to rows 1 and 0).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "modules/dense.h"
#include "modules/normalize.h"
#include "modules/pooling.h"

#include <cjson/cJSON.h>

#include "base/rng.h"
#include "base/threads.h"
#include "io/file.h"
#include "kernels/attention.h"
#include "kernels/attention_backward.h"
#include "kernels/cpu_ops.h"
#include "kernels/cpu_ops_backward.h"
#include "test_util.h"

#define FD_H 1e-5
#define TOL 1e-3

static sbert_rng g_rng;

/* ------------------------------------------------------------------------ */
/* helpers */

static float *frand(size_t n, float lo, float hi) {
    float *v = malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) v[i] = lo + (hi - lo) * (float)sbert_rng_uniform(&g_rng);
    return v;
}

static float *fzero(size_t n) { return calloc(n ? n : 1, sizeof(float)); }

static double *to_double(const float *x, size_t n) {
    double *d = malloc((n ? n : 1) * sizeof(double));
    for (size_t i = 0; i < n; i++) d[i] = x[i];
    return d;
}

typedef double (*loss_fn)(void *ctx);

/* Compare the analytic gradient ga [n] with central differences of f with
 * respect to xd [n] (xd is perturbed in place and restored). `count` elements
 * are checked: all when count >= n, else a random subset. Returns the max error. */
static double fd_check(const char *op, const char *what, loss_fn f, void *ctx, double *xd,
                       const float *ga, size_t n, size_t count) {
    size_t m = count < n ? count : n;
    size_t *idx = malloc((m ? m : 1) * sizeof(size_t));
    double *num = malloc((m ? m : 1) * sizeof(double));
    for (size_t k = 0; k < m; k++) idx[k] = count < n ? (size_t)sbert_rng_below(&g_rng, n) : k;
    double scale = 0.0;
    for (size_t k = 0; k < m; k++) {
        size_t i = idx[k];
        double save = xd[i];
        xd[i] = save + FD_H;
        double lp = f(ctx);
        xd[i] = save - FD_H;
        double lm = f(ctx);
        xd[i] = save;
        num[k] = (lp - lm) / (2 * FD_H);
        if (fabs(num[k]) > scale) scale = fabs(num[k]);
    }
    double floor_ = scale * 1e-3 > 1e-12 ? scale * 1e-3 : 1e-12;
    double worst = 0.0;
    size_t worst_i = 0;
    for (size_t k = 0; k < m; k++) {
        double den = fabs(num[k]) > floor_ ? fabs(num[k]) : floor_;
        double e = fabs((double)ga[idx[k]] - num[k]) / den;
        if (e != e) e = 1e30;
        if (e > worst) {
            worst = e;
            worst_i = k;
        }
    }
    printf("  %-34s %-8s max rel err %.3e  (%zu of %zu elems, |g|max %.3g)\n", op, what, worst, m,
           n, scale);
    CHECK(worst < TOL, "%s d%s: element %zu analytic %.8g numeric %.8g (rel err %.3g)", op, what,
          m ? idx[worst_i] : 0, m ? (double)ga[idx[worst_i]] : 0.0, m ? num[worst_i] : 0.0, worst);
    free(idx);
    free(num);
    return worst;
}

/* max |a - b| / max(|b|, floor) for two float arrays (for += and forward checks). */
static double rel_diff(const float *a, const float *b, size_t n) {
    double scale = 0.0, m = 0.0;
    for (size_t i = 0; i < n; i++) scale = fabs(b[i]) > scale ? fabs(b[i]) : scale;
    double fl = scale * 1e-3 > 1e-30 ? scale * 1e-3 : 1e-30;
    for (size_t i = 0; i < n; i++) {
        double den = fabs(b[i]) > fl ? fabs(b[i]) : fl;
        double d = fabs((double)a[i] - (double)b[i]) / den;
        if (d != d) return 1e30;
        if (d > m) m = d;
    }
    return m;
}

/* A second backward into the same buffer must double it: g2 (after two calls)
 * vs 2 * g1 (after one). */
static void check_doubled(const char *op, const float *g1, const float *g2, size_t n) {
    float *twice = calloc(n ? n : 1, sizeof(float));
    for (size_t i = 0; i < n; i++) twice[i] = 2.0f * g1[i];
    double d = rel_diff(g2, twice, n);
    int nonzero = 0;
    for (size_t i = 0; i < n; i++) nonzero |= g1[i] != 0.0f;
    CHECK(d < 1e-5 && nonzero, "%s: second backward call does not double the gradient (%.3g)", op,
          d);
    free(twice);
}

/* ------------------------------------------------------------------------ */
/* double-precision reference activations */

static double act_d(sbert_act a, double x) {
    switch (a) {
    case SBERT_ACT_IDENTITY: return x;
    case SBERT_ACT_GELU: return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    case SBERT_ACT_GELU_TANH:
        return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
    case SBERT_ACT_RELU: return x > 0 ? x : 0.0;
    case SBERT_ACT_SILU: return x / (1.0 + exp(-x));
    case SBERT_ACT_QUICK_GELU: return x / (1.0 + exp(-1.702 * x));
    }
    return x;
}

static double dense_act_d(sbert_activation a, double x) {
    switch (a) {
    case SBERT_DENSE_ACT_IDENTITY: return x;
    case SBERT_DENSE_ACT_TANH: return tanh(x);
    case SBERT_DENSE_ACT_RELU: return x > 0 ? x : 0.0;
    case SBERT_DENSE_ACT_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case SBERT_DENSE_ACT_GELU: return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    case SBERT_DENSE_ACT_SILU: return x / (1.0 + exp(-x));
    case SBERT_DENSE_ACT_LEAKY_RELU: return x >= 0 ? x : 0.01 * x;
    case SBERT_DENSE_ACT_ELU: return x > 0 ? x : expm1(x);
    }
    return x;
}

/* ------------------------------------------------------------------------ */
/* embedding */

typedef struct {
    const int32_t *ids;
    double *table;
    const float *R;
    size_t T, C;
} emb_ctx;

static double emb_loss(void *v) {
    emb_ctx *c = v;
    double s = 0.0;
    for (size_t t = 0; t < c->T; t++)
        for (size_t j = 0; j < c->C; j++) s += c->table[c->ids[t] * c->C + j] * c->R[t * c->C + j];
    return s;
}

static void test_embedding(void) {
    const size_t V = 7, C = 5, T = 9;
    const int32_t ids[9] = {3, 0, 3, 6, 1, 3, 0, 2, 5}; /* repeated ids: scatter-add */
    float *table = frand(V * C, -1, 1), *R = frand(T * C, -1, 1), *g = fzero(V * C);
    sbert_embedding_backward(g, ids, R, T, C);
    emb_ctx c = {ids, to_double(table, V * C), R, T, C};
    fd_check("embedding", "table", emb_loss, &c, c.table, g, V * C, SIZE_MAX);
    float *g2 = fzero(V * C);
    sbert_embedding_backward(g2, ids, R, T, C);
    sbert_embedding_backward(g2, ids, R, T, C);
    check_doubled("embedding", g, g2, V * C);
    /* row 4 is never used: its gradient stays exactly zero */
    int zero = 1;
    for (size_t j = 0; j < C; j++) zero &= g[4 * C + j] == 0.0f;
    CHECK(zero, "embedding: an unused row received gradient");
    free(table), free(R), free(g), free(g2), free(c.table);
}

/* ------------------------------------------------------------------------ */
/* linear (+ activation) */

typedef struct {
    double *in, *W, *b;
    const float *R;
    size_t T, K, N;
    sbert_act act;
} lin_ctx;

static double lin_loss(void *v) {
    lin_ctx *c = v;
    double s = 0.0;
    for (size_t t = 0; t < c->T; t++)
        for (size_t n = 0; n < c->N; n++) {
            double a = c->b[n];
            for (size_t k = 0; k < c->K; k++) a += c->in[t * c->K + k] * c->W[n * c->K + k];
            s += act_d(c->act, a) * c->R[t * c->N + n];
        }
    return s;
}

static void linear_case(size_t T, size_t K, size_t N, sbert_act act, size_t count) {
    char op[64];
    snprintf(op, sizeof op, "linear%s%s [%zux%zu->%zu]", act == SBERT_ACT_IDENTITY ? "" : "+",
             act == SBERT_ACT_IDENTITY ? "" : sbert_act_name(act), T, K, N);
    float *in = frand(T * K, -1, 1), *W = frand(N * K, -0.5f, 0.5f), *b = frand(N, -0.5f, 0.5f);
    float *R = frand(T * N, -1, 1);
    float *din = fzero(T * K), *dW = fzero(N * K), *db = fzero(N);
    /* check the reference against the library forward */
    float *out = fzero(T * N), *pre = fzero(T * N);
    sbert_linear_act_forward(out, pre, in, W, b, T, K, N, act);
    lin_ctx c = {to_double(in, T * K), to_double(W, N * K), to_double(b, N), R, T, K, N, act};
    if (act == SBERT_ACT_IDENTITY) {
        sbert_linear_backward(din, dW, db, R, in, W, T, K, N);
    } else {
        float *scratch = fzero(T * N);
        sbert_linear_act_backward(din, dW, db, scratch, R, pre, in, W, T, K, N, act);
        free(scratch);
    }
    double fl = 0.0;
    for (size_t i = 0; i < T * N; i++) fl += (double)out[i] * R[i];
    double ref = lin_loss(&c);
    CHECK(fabs(fl - ref) <= 1e-4 * (1 + fabs(ref)), "%s: forward loss %.8g vs reference %.8g", op,
          fl, ref);
    fd_check(op, "in", lin_loss, &c, c.in, din, T * K, count);
    fd_check(op, "W", lin_loss, &c, c.W, dW, N * K, count);
    fd_check(op, "b", lin_loss, &c, c.b, db, N, count);
    if (act == SBERT_ACT_IDENTITY) {
        float *din2 = fzero(T * K), *dW2 = fzero(N * K), *db2 = fzero(N);
        for (int rep = 0; rep < 2; rep++) sbert_linear_backward(din2, dW2, db2, R, in, W, T, K, N);
        check_doubled("linear din", din, din2, T * K);
        check_doubled("linear dW", dW, dW2, N * K);
        check_doubled("linear db", db, db2, N);
        free(din2), free(dW2), free(db2);
    }
    free(in), free(W), free(b), free(R), free(din), free(dW), free(db), free(out), free(pre);
    free(c.in), free(c.W), free(c.b);
}

static void test_linear(void) {
    linear_case(5, 7, 6, SBERT_ACT_IDENTITY, SIZE_MAX);
    linear_case(37, 300, 41, SBERT_ACT_IDENTITY, 200); /* K beyond one BLAS block */
    linear_case(6, 8, 5, SBERT_ACT_GELU, SIZE_MAX);
    linear_case(6, 8, 5, SBERT_ACT_GELU_TANH, SIZE_MAX);
}

/* ------------------------------------------------------------------------ */
/* element-wise activations and add */

typedef struct {
    double *x;
    const float *R;
    size_t n;
    sbert_act act;
} act_ctx;

static double act_loss(void *v) {
    act_ctx *c = v;
    double s = 0.0;
    for (size_t i = 0; i < c->n; i++) s += act_d(c->act, c->x[i]) * c->R[i];
    return s;
}

static void test_activations(void) {
    static const sbert_act acts[] = {SBERT_ACT_IDENTITY, SBERT_ACT_GELU, SBERT_ACT_GELU_TANH,
                                     SBERT_ACT_RELU,     SBERT_ACT_SILU, SBERT_ACT_QUICK_GELU};
    const size_t n = 200;
    for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
        float *x = frand(n, -4, 4), *R = frand(n, -1, 1), *g = fzero(n), *g2 = fzero(n);
        for (size_t i = 0; i < n; i++)
            if (fabsf(x[i]) < 1e-2f) x[i] = 0.5f; /* keep FD away from ReLU's kink */
        sbert_act_backward(g, R, x, n, acts[a]);
        act_ctx c = {to_double(x, n), R, n, acts[a]};
        char op[64];
        snprintf(op, sizeof op, "act %s", sbert_act_name(acts[a]));
        fd_check(op, "x", act_loss, &c, c.x, g, n, SIZE_MAX);
        /* the reference activation agrees with the library's forward */
        double md = 0.0;
        for (size_t i = 0; i < n; i++) {
            double d = fabs((double)sbert_act_apply(acts[a], x[i]) - act_d(acts[a], c.x[i]));
            md = d > md ? d : md;
        }
        CHECK(md < 1e-5, "%s: reference forward differs from the library by %.3g", op, md);
        sbert_act_backward(g2, R, x, n, acts[a]);
        sbert_act_backward(g2, R, x, n, acts[a]);
        check_doubled(op, g, g2, n);
        free(x), free(R), free(g), free(g2), free(c.x);
    }
    /* add: da = db = dout, accumulated, aliasing allowed */
    const size_t m = 50;
    float *R = frand(m, -1, 1), *da = frand(m, -1, 1), *db = fzero(m), *da0 = malloc(m * 4);
    memcpy(da0, da, m * sizeof(float));
    sbert_add_backward(da, db, R, m);
    int ok = 1;
    for (size_t i = 0; i < m; i++) ok &= da[i] == da0[i] + R[i] && db[i] == R[i];
    CHECK(ok, "add backward: da != da0 + dout or db != dout");
    float *dd = fzero(m);
    sbert_add_backward(dd, dd, R, m);
    ok = 1;
    for (size_t i = 0; i < m; i++) ok &= dd[i] == 2.0f * R[i];
    CHECK(ok, "add backward with da == db: not 2 * dout");
    free(R), free(da), free(db), free(da0), free(dd);
}

/* ------------------------------------------------------------------------ */
/* LayerNorm, residual + LayerNorm */

typedef struct {
    double *a, *r, *w, *b; /* r NULL: plain LayerNorm of a */
    const float *R;
    size_t T, C;
    double eps;
} ln_ctx;

static double ln_loss(void *v) {
    ln_ctx *c = v;
    double s = 0.0;
    double *x = malloc(c->C * sizeof(double));
    for (size_t t = 0; t < c->T; t++) {
        double m = 0.0, var = 0.0;
        for (size_t j = 0; j < c->C; j++) {
            x[j] = c->a[t * c->C + j] + (c->r ? c->r[t * c->C + j] : 0.0);
            m += x[j];
        }
        m /= (double)c->C;
        for (size_t j = 0; j < c->C; j++) var += (x[j] - m) * (x[j] - m);
        var /= (double)c->C;
        double rs = 1.0 / sqrt(var + c->eps);
        for (size_t j = 0; j < c->C; j++)
            s += ((x[j] - m) * rs * c->w[j] + c->b[j]) * c->R[t * c->C + j];
    }
    free(x);
    return s;
}

static void layernorm_case(size_t T, size_t C, float eps, int residual) {
    char op[64];
    snprintf(op, sizeof op, "%s [%zux%zu eps %g]", residual ? "add+layernorm" : "layernorm", T, C,
             (double)eps);
    float *a = frand(T * C, -2, 2), *r = frand(T * C, -1, 1), *w = frand(C, 0.5f, 1.5f);
    float *b = frand(C, -0.5f, 0.5f), *R = frand(T * C, -1, 1);
    float *out = fzero(T * C), *sum = fzero(T * C), *mean = fzero(T), *rstd = fzero(T);
    float *da = fzero(T * C), *dr = fzero(T * C), *dw = fzero(C), *db = fzero(C);
    if (residual) {
        sbert_add_layernorm_forward(out, sum, mean, rstd, a, r, w, b, T, C, eps);
        sbert_add_layernorm_backward(da, dr, dw, db, R, sum, w, mean, rstd, T, C);
    } else {
        sbert_layernorm_forward(out, mean, rstd, a, w, b, T, C, eps);
        sbert_layernorm_backward(da, dw, db, R, a, w, mean, rstd, T, C);
    }
    ln_ctx c = {to_double(a, T * C), residual ? to_double(r, T * C) : NULL, to_double(w, C),
                to_double(b, C), R, T, C, eps};
    double fl = 0.0;
    for (size_t i = 0; i < T * C; i++) fl += (double)out[i] * R[i];
    double ref = ln_loss(&c);
    CHECK(fabs(fl - ref) <= 1e-4 * (1 + fabs(ref)), "%s: forward loss %.8g vs reference %.8g", op,
          fl, ref);
    size_t count = T * C > 400 ? 150 : SIZE_MAX;
    fd_check(op, "in", ln_loss, &c, c.a, da, T * C, count);
    if (residual) fd_check(op, "resid", ln_loss, &c, c.r, dr, T * C, count);
    fd_check(op, "w", ln_loss, &c, c.w, dw, C, count);
    fd_check(op, "b", ln_loss, &c, c.b, db, C, count);
    /* += semantics */
    float *da2 = fzero(T * C), *dw2 = fzero(C), *db2 = fzero(C), *dr2 = fzero(T * C);
    for (int rep = 0; rep < 2; rep++) {
        if (residual)
            sbert_add_layernorm_backward(da2, dr2, dw2, db2, R, sum, w, mean, rstd, T, C);
        else
            sbert_layernorm_backward(da2, dw2, db2, R, a, w, mean, rstd, T, C);
    }
    check_doubled(op, da, da2, T * C);
    check_doubled(op, dw, dw2, C);
    check_doubled(op, db, db2, C);
    if (residual) {
        check_doubled(op, dr, dr2, T * C);
        /* da == dr (both summands the same buffer) gets twice the input gradient */
        float *dd = fzero(T * C);
        sbert_add_layernorm_backward(dd, dd, NULL, NULL, R, sum, w, mean, rstd, T, C);
        check_doubled("add+layernorm da==dr", da, dd, T * C);
        free(dd);
    }
    free(a), free(r), free(w), free(b), free(R), free(out), free(sum), free(mean), free(rstd);
    free(da), free(dr), free(dw), free(db), free(da2), free(dw2), free(db2), free(dr2);
    free(c.a), free(c.r), free(c.w), free(c.b);
}

static void test_layernorm(void) {
    layernorm_case(4, 16, 1e-5f, 0);
    layernorm_case(3, 10, 1e-12f, 0);
    layernorm_case(40, 384, 1e-12f, 0); /* several threads' rows and column chunks */
    layernorm_case(5, 12, 1e-5f, 1);
    layernorm_case(40, 384, 1e-12f, 1);
}

/* ------------------------------------------------------------------------ */
/* softmax */

typedef struct {
    double *x;
    const float *R;
    size_t Rn, C;
} sm_ctx;

static double sm_loss(void *v) {
    sm_ctx *c = v;
    double s = 0.0;
    for (size_t r = 0; r < c->Rn; r++) {
        const double *x = c->x + r * c->C;
        double mx = x[0], z = 0.0;
        for (size_t j = 1; j < c->C; j++) mx = x[j] > mx ? x[j] : mx;
        for (size_t j = 0; j < c->C; j++) z += exp(x[j] - mx);
        for (size_t j = 0; j < c->C; j++) s += exp(x[j] - mx) / z * c->R[r * c->C + j];
    }
    return s;
}

static void test_softmax(void) {
    const size_t Rn = 4, C = 9;
    float *x = frand(Rn * C, -3, 3), *R = frand(Rn * C, -1, 1), *y = fzero(Rn * C);
    float *g = fzero(Rn * C), *g2 = fzero(Rn * C);
    sbert_softmax_forward(y, x, Rn, C);
    sbert_softmax_backward(g, R, y, Rn, C);
    sm_ctx c = {to_double(x, Rn * C), R, Rn, C};
    fd_check("softmax", "x", sm_loss, &c, c.x, g, Rn * C, SIZE_MAX);
    sbert_softmax_backward(g2, R, y, Rn, C);
    sbert_softmax_backward(g2, R, y, Rn, C);
    check_doubled("softmax", g, g2, Rn * C);
    free(x), free(R), free(y), free(g), free(g2), free(c.x);
}

/* ------------------------------------------------------------------------ */
/* attention */

typedef struct {
    double *qkv, *bias; /* bias NULL: none */
    const float *R;
    const size_t *offs;
    size_t n_seq, nh, hd, rel_max_len;
    double scale;
    double *out;         /* [T, H] filled by every evaluation */
    const uint8_t *keep; /* dropout keep flags (probs layout) or NULL */
    double keep_scale;
} att_ctx;

static double att_loss(void *v) {
    att_ctx *c = v;
    const size_t H = c->nh * c->hd, W3 = 3 * H, bw = c->rel_max_len ? 2 * c->rel_max_len - 1 : 1;
    double s = 0.0;
    size_t pb = 0; /* start of this (sequence, head) in the probs layout */
    for (size_t sq = 0; sq < c->n_seq; sq++) {
        size_t t0 = c->offs[sq], L = c->offs[sq + 1] - t0;
        double *p = malloc((L ? L : 1) * sizeof(double));
        for (size_t h = 0; h < c->nh; h++) {
            for (size_t i = 0; i < L; i++) {
                const double *q = c->qkv + (t0 + i) * W3 + h * c->hd;
                double mx = -INFINITY, z = 0.0;
                for (size_t j = 0; j < L; j++) {
                    const double *k = c->qkv + (t0 + j) * W3 + H + h * c->hd;
                    double a = 0.0;
                    for (size_t cc = 0; cc < c->hd; cc++) a += q[cc] * k[cc];
                    a *= c->scale;
                    if (c->bias) a += c->bias[h * bw + (j + c->rel_max_len - 1 - i)];
                    p[j] = a;
                    mx = a > mx ? a : mx;
                }
                for (size_t j = 0; j < L; j++) z += (p[j] = exp(p[j] - mx));
                for (size_t j = 0; j < L; j++)
                    if (c->keep) p[j] *= c->keep[pb + h * L * L + i * L + j] ? c->keep_scale : 0.0;
                for (size_t cc = 0; cc < c->hd; cc++) {
                    double o = 0.0;
                    for (size_t j = 0; j < L; j++)
                        o += p[j] / z * c->qkv[(t0 + j) * W3 + 2 * H + h * c->hd + cc];
                    c->out[(t0 + i) * H + h * c->hd + cc] = o;
                    s += o * c->R[(t0 + i) * H + h * c->hd + cc];
                }
            }
        }
        free(p);
        pb += c->nh * L * L;
    }
    return s;
}

static void attention_case(const size_t *offs, size_t n_seq, size_t nh, size_t hd, int use_bias,
                           size_t rel_max_len, size_t count, int use_drop) {
    const size_t T = offs[n_seq], H = nh * hd, bw = rel_max_len ? 2 * rel_max_len - 1 : 1;
    char op[64];
    snprintf(op, sizeof op, "attention%s%s [T%zu %zux%zu]", use_bias ? "+relbias" : "",
             use_drop ? "+dropout" : "", T, nh, hd);
    float *qkv = frand(T * 3 * H, -1.5f, 1.5f), *bias = frand(nh * bw, -1, 1);
    float *R = frand(T * H, -1, 1), *out = fzero(T * H);
    const size_t np = sbert_attention_probs_size(offs, n_seq, nh);
    float *probs = fzero(np);
    float scale = 1.0f / sqrtf((float)hd);
    uint8_t *keep = NULL;
    const float ks = 1.0f / (1.0f - 0.3f); /* dropout p = 0.3 */
    CHECK_OK(sbert_attention_forward(out, probs, qkv, offs, n_seq, nh, hd, scale,
                                     use_bias ? bias : NULL, rel_max_len));
    if (use_drop) {
        keep = malloc(np);
        for (size_t i = 0; i < np; i++) keep[i] = sbert_rng_uniform(&g_rng) >= 0.3;
        CHECK_OK(sbert_attention_dropout_output(out, probs, keep, ks, qkv, offs, n_seq, nh, hd));
    }
    float *dqkv = fzero(T * 3 * H), *dbias = fzero(nh * bw);
    CHECK_OK(sbert_attention_backward_dropout(dqkv, use_bias ? dbias : NULL, R, qkv, probs, keep,
                                              ks, offs, n_seq, nh, hd, scale, rel_max_len));
    att_ctx c = {to_double(qkv, T * 3 * H), use_bias ? to_double(bias, nh * bw) : NULL, R, offs,
                 n_seq, nh, hd, rel_max_len, scale, calloc(T * H, sizeof(double)), keep, ks};
    att_loss(&c);
    double md = 0.0;
    for (size_t i = 0; i < T * H; i++) {
        double d = fabs(out[i] - c.out[i]);
        md = d > md ? d : md;
    }
    CHECK(md < 1e-5, "%s: reference forward differs from sbert_attention_forward by %.3g", op, md);
    fd_check(op, "qkv", att_loss, &c, c.qkv, dqkv, T * 3 * H, count);
    if (use_bias) fd_check(op, "relbias", att_loss, &c, c.bias, dbias, nh * bw, count);
    /* += */
    float *dqkv2 = fzero(T * 3 * H), *dbias2 = fzero(nh * bw);
    for (int rep = 0; rep < 2; rep++)
        CHECK_OK(sbert_attention_backward_dropout(dqkv2, use_bias ? dbias2 : NULL, R, qkv, probs,
                                                  keep, ks, offs, n_seq, nh, hd, scale,
                                                  rel_max_len));
    check_doubled(op, dqkv, dqkv2, T * 3 * H);
    if (use_bias) check_doubled(op, dbias, dbias2, nh * bw);
    free(qkv), free(bias), free(R), free(out), free(probs), free(dqkv), free(dbias);
    free(dqkv2), free(dbias2), free(c.qkv), free(c.bias), free(c.out), free(keep);
}

/* Bit-identical gradients across repeated runs and thread counts. */
static void attention_determinism(void) {
    const size_t offs[6] = {0, 17, 18, 58, 71, 100};
    const size_t n_seq = 5, nh = 4, hd = 8, H = nh * hd, T = offs[n_seq], rml = 40, bw = 2 * rml - 1;
    float *qkv = frand(T * 3 * H, -1, 1), *bias = frand(nh * bw, -1, 1), *R = frand(T * H, -1, 1);
    float *out = fzero(T * H), *probs = fzero(sbert_attention_probs_size(offs, n_seq, nh));
    float scale = 1.0f / sqrtf((float)hd);
    CHECK_OK(sbert_attention_forward(out, probs, qkv, offs, n_seq, nh, hd, scale, bias, rml));
    float *ref_q = NULL, *ref_b = NULL;
    int same = 1;
    int saved_threads = sbert_get_num_threads();
    const int threads[4] = {1, 2, 3, 2};
    for (int k = 0; k < 4; k++) {
        sbert_set_num_threads(threads[k]);
        float *dq = fzero(T * 3 * H), *db = fzero(nh * bw);
        CHECK_OK(sbert_attention_backward(dq, db, R, qkv, probs, offs, n_seq, nh, hd, scale, rml));
        if (!ref_q) {
            ref_q = dq;
            ref_b = db;
        } else {
            same &= memcmp(ref_q, dq, T * 3 * H * sizeof(float)) == 0;
            same &= memcmp(ref_b, db, nh * bw * sizeof(float)) == 0;
            free(dq), free(db);
        }
    }
    sbert_set_num_threads(saved_threads);
    CHECK(same, "attention backward: gradients differ between runs / thread counts");
    /* a sequence longer than the bias table is refused */
    float *dq = fzero(T * 3 * H), *db = fzero(nh * bw);
    CHECK(sbert_attention_backward(dq, db, R, qkv, probs, offs, n_seq, nh, hd, scale, 20) ==
              SBERT_ERR_INVALID_ARG,
          "attention backward: sequence longer than rel_max_len not refused");
    free(qkv), free(bias), free(R), free(out), free(probs), free(ref_q), free(ref_b), free(dq),
        free(db);
}

static void test_attention(void) {
    const size_t offs[4] = {0, 1, 5, 11}; /* lengths 1, 4, 6 */
    attention_case(offs, 3, 2, 3, 0, 0, SIZE_MAX, 0);
    attention_case(offs, 3, 2, 3, 1, 7, SIZE_MAX, 0);
    attention_case(offs, 3, 2, 3, 1, 7, SIZE_MAX, 1);
    const size_t offs2[3] = {0, 23, 50};
    attention_case(offs2, 2, 3, 8, 1, 32, 300, 0);
    attention_case(offs2, 2, 3, 8, 0, 0, 300, 1);
    attention_determinism();
}

/* ------------------------------------------------------------------------ */
/* row-wise determinism of the kernels on several threads */

static void test_kernel_determinism(void) {
    const size_t T = 300, C = 384, V = 50;
    float *x = frand(T * C, -2, 2), *w = frand(C, 0.5f, 1.5f), *b = frand(C, -1, 1);
    float *R = frand(T * C, -1, 1), *out = fzero(T * C), *mean = fzero(T), *rstd = fzero(T);
    int32_t *ids = malloc(T * sizeof(int32_t));
    for (size_t t = 0; t < T; t++) ids[t] = (int32_t)sbert_rng_below(&g_rng, V);
    sbert_layernorm_forward(out, mean, rstd, x, w, b, T, C, 1e-12f);
    int saved = sbert_get_num_threads();
    float *r1[4] = {0}, *r2[4] = {0};
    for (int run = 0; run < 2; run++) {
        float **r = run ? r2 : r1;
        sbert_set_num_threads(2);
        r[0] = fzero(T * C), r[1] = fzero(C), r[2] = fzero(C), r[3] = fzero(V * C);
        sbert_layernorm_backward(r[0], r[1], r[2], R, x, w, mean, rstd, T, C);
        sbert_embedding_backward(r[3], ids, R, T, C);
    }
    sbert_set_num_threads(saved);
    int same = memcmp(r1[0], r2[0], T * C * 4) == 0 && memcmp(r1[1], r2[1], C * 4) == 0 &&
               memcmp(r1[2], r2[2], C * 4) == 0 && memcmp(r1[3], r2[3], V * C * 4) == 0;
    CHECK(same, "layernorm / embedding backward: two runs differ");
    for (int k = 0; k < 4; k++) free(r1[k]), free(r2[k]);
    free(x), free(w), free(b), free(R), free(out), free(mean), free(rstd), free(ids);
}

/* ------------------------------------------------------------------------ */
/* pooling */

typedef struct {
    const sbert_pooling *p;
    double *tok;
    const float *R;
    const size_t *offs;
    size_t n_seq, prompt_length;
    double *out; /* [n_seq, odim] filled by every evaluation */
} pool_ctx;

static double pool_loss(void *v) {
    pool_ctx *c = v;
    const size_t dim = c->p->dim, odim = sbert_pooling_output_dim(c->p);
    const size_t lo = c->p->include_prompt ? 0 : c->prompt_length;
    double s = 0.0;
    for (size_t i = 0; i < c->n_seq; i++) {
        const size_t b = c->offs[i], len = c->offs[i + 1] - b, nv = lo < len ? len - lo : 0;
        const double *tk = c->tok + b * dim;
        for (size_t mi = 0; mi < c->p->n_modes; mi++) {
            for (size_t d = 0; d < dim; d++) {
                double o = 0.0;
                switch (c->p->modes[mi]) {
                case SBERT_POOL_CLS: o = len ? tk[(nv ? lo : 0) * dim + d] : 0.0; break;
                case SBERT_POOL_MAX:
                    o = -INFINITY;
                    for (size_t t = lo; t < len; t++) o = tk[t * dim + d] > o ? tk[t * dim + d] : o;
                    break;
                case SBERT_POOL_MEAN:
                case SBERT_POOL_MEAN_SQRT_LEN: {
                    double cnt = nv ? (double)nv : 1e-9;
                    for (size_t t = lo; t < len; t++) o += tk[t * dim + d];
                    o /= c->p->modes[mi] == SBERT_POOL_MEAN ? cnt : sqrt(cnt);
                    break;
                }
                case SBERT_POOL_WEIGHTEDMEAN: {
                    double ws = 0.0;
                    for (size_t t = lo; t < len; t++) {
                        o += (double)(t + 1) * tk[t * dim + d];
                        ws += (double)(t + 1);
                    }
                    o /= ws > 0 ? ws : 1e-9;
                    break;
                }
                case SBERT_POOL_LASTTOKEN: o = nv ? tk[(len - 1) * dim + d] : 0.0; break;
                default: break;
                }
                c->out[i * odim + mi * dim + d] = o;
                if (isfinite(o)) s += o * c->R[i * odim + mi * dim + d];
            }
        }
    }
    return s;
}

static void pooling_case(const sbert_pooling_mode *modes, size_t n_modes, int include_prompt,
                         size_t prompt_length) {
    const size_t dim = 6, offs[5] = {0, 1, 4, 9, 16}, n_seq = 4, T = offs[n_seq];
    sbert_pooling p;
    memset(&p, 0, sizeof p);
    p.dim = dim;
    p.n_modes = n_modes;
    p.include_prompt = include_prompt;
    char op[96];
    int k = snprintf(op, sizeof op, "pooling");
    for (size_t i = 0; i < n_modes; i++) {
        p.modes[i] = modes[i];
        k += snprintf(op + k, sizeof op - (size_t)k, "%s%s", i ? "+" : " ",
                      sbert_pooling_mode_name(modes[i]));
    }
    if (!include_prompt) snprintf(op + k, sizeof op - (size_t)k, " (prompt %zu)", prompt_length);
    const size_t odim = sbert_pooling_output_dim(&p);
    float *tok = frand(T * dim, -2, 2), *R = frand(n_seq * odim, -1, 1), *out = fzero(n_seq * odim);
    float *g = fzero(T * dim), *g2 = fzero(T * dim);
    sbert_pooling_forward(&p, tok, offs, n_seq, prompt_length, out);
    sbert_pooling_backward(&p, g, R, tok, offs, n_seq, prompt_length);
    pool_ctx c = {&p, to_double(tok, T * dim), R, offs, n_seq, prompt_length,
                  calloc(n_seq * odim, sizeof(double))};
    pool_loss(&c);
    double md = 0.0;
    for (size_t i = 0; i < n_seq * odim; i++) {
        double d = isinf(c.out[i]) && isinf(out[i]) && (c.out[i] > 0) == (out[i] > 0)
                       ? 0.0
                       : fabs(out[i] - c.out[i]);
        if (d != d) d = 1e30;
        md = d > md ? d : md;
    }
    CHECK(md < 1e-5, "%s: reference forward differs from sbert_pooling_forward by %.3g", op, md);
    fd_check(op, "tok", pool_loss, &c, c.tok, g, T * dim, SIZE_MAX);
    sbert_pooling_backward(&p, g2, R, tok, offs, n_seq, prompt_length);
    sbert_pooling_backward(&p, g2, R, tok, offs, n_seq, prompt_length);
    check_doubled(op, g, g2, T * dim);
    free(tok), free(R), free(out), free(g), free(g2), free(c.tok), free(c.out);
}

static void test_pooling(void) {
    for (int m = 0; m < SBERT_POOL_NMODES; m++) {
        sbert_pooling_mode mode = (sbert_pooling_mode)m;
        pooling_case(&mode, 1, 1, 0);
        pooling_case(&mode, 1, 0, 2); /* sequence 0 (1 token) is all prompt */
    }
    const sbert_pooling_mode all[6] = {SBERT_POOL_CLS,          SBERT_POOL_MAX,
                                       SBERT_POOL_MEAN,         SBERT_POOL_MEAN_SQRT_LEN,
                                       SBERT_POOL_WEIGHTEDMEAN, SBERT_POOL_LASTTOKEN};
    pooling_case(all, 6, 1, 0);
    pooling_case(all, 6, 0, 3);
    const sbert_pooling_mode v6[3] = {SBERT_POOL_MEAN, SBERT_POOL_CLS, SBERT_POOL_MAX};
    pooling_case(v6, 3, 1, 0);

    /* max ties: the first maximal token takes the gradient (torch.max(dim)) */
    sbert_pooling p;
    memset(&p, 0, sizeof p);
    p.dim = 2, p.n_modes = 1, p.modes[0] = SBERT_POOL_MAX, p.include_prompt = 1;
    const float tok[8] = {1, 2, 3, 2, 3, 0.5f, 2, 2};
    const size_t offs[2] = {0, 4};
    const float dout[2] = {1, 1};
    float g[8] = {0};
    sbert_pooling_backward(&p, g, dout, tok, offs, 1, 0);
    /* torch: x.max(dim=1).values.sum().backward() -> grad rows [0,1],[1,0],[0,0],[0,0] */
    const float want[8] = {0, 1, 1, 0, 0, 0, 0, 0};
    CHECK(memcmp(g, want, sizeof g) == 0, "max pooling ties: gradient not on the first maximum");
}

/* ------------------------------------------------------------------------ */
/* Dense */

typedef struct {
    double *x, *W, *b, *Rw; /* b, Rw may be NULL */
    const float *R;
    int use_residual;
    sbert_activation act;
    size_t n, in, out;
} dense_ctx;

static double dense_loss(void *v) {
    dense_ctx *c = v;
    double s = 0.0;
    for (size_t i = 0; i < c->n; i++)
        for (size_t o = 0; o < c->out; o++) {
            double a = c->b ? c->b[o] : 0.0;
            for (size_t k = 0; k < c->in; k++) a += c->x[i * c->in + k] * c->W[o * c->in + k];
            double y = dense_act_d(c->act, a);
            if (c->use_residual) {
                if (c->Rw) {
                    for (size_t k = 0; k < c->in; k++)
                        y += c->x[i * c->in + k] * c->Rw[o * c->in + k];
                } else {
                    y += c->x[i * c->in + o];
                }
            }
            s += y * c->R[i * c->out + o];
        }
    return s;
}

static void dense_case(sbert_activation act, size_t in, size_t out, int has_bias, int use_residual) {
    const size_t n = 4;
    char op[96];
    snprintf(op, sizeof op, "dense %s [%zu->%zu]%s%s", sbert_activation_name(act), in, out,
             has_bias ? "" : " nobias",
             use_residual ? (in == out ? " +x" : " +xR") : "");
    float *x = frand(n * in, -1.5f, 1.5f), *W = frand(out * in, -0.8f, 0.8f);
    float *b = frand(out, -0.5f, 0.5f), *Rw = frand(out * in, -0.5f, 0.5f);
    float *R = frand(n * out, -1, 1);
    float *dx = fzero(n * in), *dW = fzero(out * in), *db = fzero(out), *dR = fzero(out * in);
    const float *Rp = use_residual && in != out ? Rw : NULL;
    CHECK_OK(sbert_dense_backward(dx, dW, has_bias ? db : NULL, dR, R, x, W, has_bias ? b : NULL,
                                  Rp, use_residual, act, n, in, out));
    dense_ctx c = {to_double(x, n * in), to_double(W, out * in),
                   has_bias ? to_double(b, out) : NULL, Rp ? to_double(Rw, out * in) : NULL,
                   R, use_residual, act, n, in, out};
    fd_check(op, "x", dense_loss, &c, c.x, dx, n * in, SIZE_MAX);
    fd_check(op, "W", dense_loss, &c, c.W, dW, out * in, SIZE_MAX);
    if (has_bias) fd_check(op, "b", dense_loss, &c, c.b, db, out, SIZE_MAX);
    if (Rp) fd_check(op, "Rres", dense_loss, &c, c.Rw, dR, out * in, SIZE_MAX);
    float *dx2 = fzero(n * in), *dW2 = fzero(out * in);
    for (int rep = 0; rep < 2; rep++)
        CHECK_OK(sbert_dense_backward(dx2, dW2, NULL, NULL, R, x, W, has_bias ? b : NULL, Rp,
                                      use_residual, act, n, in, out));
    check_doubled(op, dx, dx2, n * in);
    check_doubled(op, dW, dW2, out * in);
    free(x), free(W), free(b), free(Rw), free(R), free(dx), free(dW), free(db), free(dR);
    free(dx2), free(dW2), free(c.x), free(c.W), free(c.b), free(c.Rw);
}

static void test_dense(void) {
    static const sbert_activation acts[] = {SBERT_DENSE_ACT_TANH, SBERT_DENSE_ACT_IDENTITY, SBERT_DENSE_ACT_RELU,
                                            SBERT_DENSE_ACT_SIGMOID, SBERT_DENSE_ACT_GELU, SBERT_DENSE_ACT_SILU,
                                            SBERT_DENSE_ACT_LEAKY_RELU, SBERT_DENSE_ACT_ELU};
    for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) dense_case(acts[a], 7, 5, 1, 0);
    dense_case(SBERT_DENSE_ACT_TANH, 6, 6, 0, 0);
    dense_case(SBERT_DENSE_ACT_TANH, 6, 6, 1, 1); /* identity residual */
    dense_case(SBERT_DENSE_ACT_GELU, 7, 5, 1, 1); /* projected residual */
    float d0 = 0;
    CHECK(sbert_dense_backward(&d0, NULL, NULL, NULL, &d0, &d0, &d0, NULL, NULL, 1,
                               SBERT_DENSE_ACT_TANH, 1, 1, 2) == SBERT_ERR_INVALID_ARG,
          "dense backward: identity residual with in != out not refused");
}

/* ------------------------------------------------------------------------ */
/* Normalize */

typedef struct {
    double *x;
    const float *R;
    size_t n, dim;
} norm_ctx;

static double norm_loss(void *v) {
    norm_ctx *c = v;
    double s = 0.0;
    for (size_t i = 0; i < c->n; i++) {
        double ss = 0.0;
        for (size_t d = 0; d < c->dim; d++) ss += c->x[i * c->dim + d] * c->x[i * c->dim + d];
        double nr = sqrt(ss);
        if (nr < 1e-12) nr = 1e-12;
        for (size_t d = 0; d < c->dim; d++) s += c->x[i * c->dim + d] / nr * c->R[i * c->dim + d];
    }
    return s;
}

static void test_normalize(void) {
    const size_t n = 4, dim = 7;
    float *x = frand(n * dim, -2, 2), *R = frand(n * dim, -1, 1), *dx = fzero(n * dim);
    float *dx2 = fzero(n * dim);
    sbert_normalize_backward(dx, R, x, n, dim);
    norm_ctx c = {to_double(x, n * dim), R, n, dim};
    fd_check("normalize", "x", norm_loss, &c, c.x, dx, n * dim, SIZE_MAX);
    sbert_normalize_backward(dx2, R, x, n, dim);
    sbert_normalize_backward(dx2, R, x, n, dim);
    check_doubled("normalize", dx, dx2, n * dim);
    /* a row with norm below 1e-12: y = x / 1e-12, so dx = dy / 1e-12 */
    float xs[3] = {1e-14f, -2e-14f, 3e-14f}, Rs[3] = {0.5f, -1, 0.25f}, gs[3] = {0};
    sbert_normalize_backward(gs, Rs, xs, 1, 3);
    norm_ctx cs = {to_double(xs, 3), Rs, 1, 3};
    /* FD with a step that keeps the norm below the clamp */
    double num0;
    {
        double s = cs.x[0];
        cs.x[0] = s + 1e-15;
        double lp = norm_loss(&cs);
        cs.x[0] = s - 1e-15;
        double lm = norm_loss(&cs);
        cs.x[0] = s;
        num0 = (lp - lm) / 2e-15;
    }
    printf("  %-34s %-8s analytic %.6g numeric %.6g\n", "normalize (norm < 1e-12)", "x[0]",
           (double)gs[0], num0);
    CHECK(fabs(gs[0] - num0) <= 1e-3 * fabs(num0), "normalize tiny row: %.8g vs %.8g",
          (double)gs[0], num0);
    free(x), free(R), free(dx), free(dx2), free(c.x), free(cs.x);
}

/* ------------------------------------------------------------------------ */
/* a whole post-LN encoder block against torch autograd
 * (tests/data/backward/block_ref.json, tools/gen_backward_refs.py) */

static cJSON *g_block;

static float *jarr(const char *key, size_t want) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(g_block, key);
    float *v = fzero(want);
    if (!cJSON_IsArray(a) || (size_t)cJSON_GetArraySize(a) != want) {
        CHECK(0, "block_ref.json: \"%s\" missing or not %zu numbers", key, want);
        return v;
    }
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a) v[i++] = (float)e->valuedouble;
    return v;
}

static size_t jnum(const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(g_block, key);
    return cJSON_IsNumber(v) ? (size_t)v->valuedouble : 0;
}

/* analytic fp32 gradient vs torch's float64 one: max rel error (floor 1e-3 * max|ref|) */
static void cmp_torch(const char *what, const float *g, const char *key, size_t n) {
    float *ref = jarr(key, n);
    double d = rel_diff(g, ref, n);
    printf("  %-34s %-8s max rel err %.3e vs torch autograd (%zu elems)\n", "encoder block", what, d,
           n);
    CHECK(d < TOL, "encoder block: d%s differs from torch autograd (max rel err %.3g)", what, d);
    free(ref);
}

static void test_block_vs_torch(void) {
    if (sbert_json_load(test_path("tests/data/backward/block_ref.json"), &g_block) != SBERT_OK) {
        CHECK(0, "cannot load tests/data/backward/block_ref.json: %s", sbert_last_error());
        return;
    }
    const cJSON *lens = cJSON_GetObjectItemCaseSensitive(g_block, "lens");
    size_t n_seq = (size_t)cJSON_GetArraySize(lens), offs[16] = {0};
    CHECK(n_seq > 0 && n_seq < 16, "block_ref.json: bad lens");
    if (!(n_seq > 0 && n_seq < 16)) return;
    for (size_t i = 0; i < n_seq; i++)
        offs[i + 1] = offs[i] + (size_t)cJSON_GetArrayItem(lens, (int)i)->valuedouble;
    const size_t T = offs[n_seq], H = jnum("H"), NH = jnum("heads"), I = jnum("inter");
    const size_t RM = jnum("rel_max_len"), BW = 2 * RM - 1, hd = H / NH;
    const float eps = (float)cJSON_GetObjectItemCaseSensitive(g_block, "eps")->valuedouble;
    const float scale = 1.0f / sqrtf((float)hd);
    float *x = jarr("x", T * H), *Wqkv = jarr("Wqkv", 3 * H * H), *bqkv = jarr("bqkv", 3 * H);
    float *rb = jarr("relbias", NH * BW), *Wo = jarr("Wo", H * H), *bo = jarr("bo", H);
    float *l1w = jarr("ln1_w", H), *l1b = jarr("ln1_b", H), *W1 = jarr("W1", I * H);
    float *c1 = jarr("c1", I), *W2 = jarr("W2", H * I), *c2 = jarr("c2", H);
    float *l2w = jarr("ln2_w", H), *l2b = jarr("ln2_b", H), *Rz = jarr("Rz", T * H);
    /* forward, keeping what the backward needs */
    float *qkv = fzero(T * 3 * H), *att = fzero(T * H), *ao = fzero(T * H), *y = fzero(T * H);
    float *sum1 = fzero(T * H), *m1 = fzero(T), *r1 = fzero(T), *pre = fzero(T * I);
    float *hh = fzero(T * I), *f = fzero(T * H), *z = fzero(T * H), *sum2 = fzero(T * H);
    float *m2 = fzero(T), *r2 = fzero(T);
    float *probs = fzero(sbert_attention_probs_size(offs, n_seq, NH));
    sbert_linear_forward(qkv, x, Wqkv, bqkv, T, H, 3 * H);
    CHECK_OK(sbert_attention_forward(att, probs, qkv, offs, n_seq, NH, hd, scale, rb, RM));
    sbert_linear_forward(ao, att, Wo, bo, T, H, H);
    sbert_add_layernorm_forward(y, sum1, m1, r1, x, ao, l1w, l1b, T, H, eps);
    sbert_linear_act_forward(hh, pre, y, W1, c1, T, H, I, SBERT_ACT_GELU);
    sbert_linear_forward(f, hh, W2, c2, T, I, H);
    sbert_add_layernorm_forward(z, sum2, m2, r2, y, f, l2w, l2b, T, H, eps);
    float *zref = jarr("z", T * H);
    double zd = 0.0;
    for (size_t i = 0; i < T * H; i++) zd = test_max_err(zd, fabs((double)z[i] - zref[i]));
    printf("  %-34s %-8s max |dz| %.3e vs torch\n", "encoder block", "forward", zd);
    CHECK(zd < 1e-4, "encoder block forward differs from torch by %.3g", zd);
    /* backward */
    float *dx = fzero(T * H), *dWqkv = fzero(3 * H * H), *dbqkv = fzero(3 * H);
    float *drb = fzero(NH * BW), *dWo = fzero(H * H), *dbo = fzero(H), *dl1w = fzero(H);
    float *dl1b = fzero(H), *dW1 = fzero(I * H), *dc1 = fzero(I), *dW2 = fzero(H * I);
    float *dc2 = fzero(H), *dl2w = fzero(H), *dl2b = fzero(H);
    float *dy = fzero(T * H), *df = fzero(T * H), *dh = fzero(T * I), *scratch = fzero(T * I);
    float *dao = fzero(T * H), *datt = fzero(T * H), *dqkv = fzero(T * 3 * H);
    sbert_add_layernorm_backward(dy, df, dl2w, dl2b, Rz, sum2, l2w, m2, r2, T, H);
    sbert_linear_backward(dh, dW2, dc2, df, hh, W2, T, I, H);
    sbert_linear_act_backward(dy, dW1, dc1, scratch, dh, pre, y, W1, T, H, I, SBERT_ACT_GELU);
    sbert_add_layernorm_backward(dx, dao, dl1w, dl1b, dy, sum1, l1w, m1, r1, T, H);
    sbert_linear_backward(datt, dWo, dbo, dao, att, Wo, T, H, H);
    CHECK_OK(sbert_attention_backward(dqkv, drb, datt, qkv, probs, offs, n_seq, NH, hd, scale, RM));
    sbert_linear_backward(dx, dWqkv, dbqkv, dqkv, x, Wqkv, T, H, 3 * H);
    cmp_torch("x", dx, "d_x", T * H);
    cmp_torch("Wqkv", dWqkv, "d_Wqkv", 3 * H * H);
    cmp_torch("bqkv", dbqkv, "d_bqkv", 3 * H);
    cmp_torch("relbias", drb, "d_relbias", NH * BW);
    cmp_torch("Wo", dWo, "d_Wo", H * H);
    cmp_torch("bo", dbo, "d_bo", H);
    cmp_torch("ln1_w", dl1w, "d_ln1_w", H);
    cmp_torch("ln1_b", dl1b, "d_ln1_b", H);
    cmp_torch("W1", dW1, "d_W1", I * H);
    cmp_torch("c1", dc1, "d_c1", I);
    cmp_torch("W2", dW2, "d_W2", H * I);
    cmp_torch("c2", dc2, "d_c2", H);
    cmp_torch("ln2_w", dl2w, "d_ln2_w", H);
    cmp_torch("ln2_b", dl2b, "d_ln2_b", H);
    float *all[] = {x, Wqkv, bqkv, rb, Wo, bo, l1w, l1b, W1, c1, W2, c2, l2w, l2b, Rz, qkv, att,
                    ao, y, sum1, m1, r1, pre, hh, f, z, sum2, m2, r2, probs, zref, dx, dWqkv,
                    dbqkv, drb, dWo, dbo, dl1w, dl1b, dW1, dc1, dW2, dc2, dl2w, dl2b, dy, df, dh,
                    scratch, dao, datt, dqkv};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
    cJSON_Delete(g_block);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    sbert_rng_seed(&g_rng, 12345);
    sbert_set_num_threads(2);
    printf("finite-difference checks (h = %g, tolerance %g):\n", FD_H, TOL);
    test_embedding();
    test_linear();
    test_activations();
    test_layernorm();
    test_softmax();
    test_attention();
    test_kernel_determinism();
    test_pooling();
    test_dense();
    test_normalize();
    test_block_vs_torch();
    return test_summary();
}
