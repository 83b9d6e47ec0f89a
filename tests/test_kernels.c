/*
 * tests/test_kernels.c -- the CPU kernels and the thread pool.
 *
 * Kernel outputs are compared with torch's on the inputs stored in
 * tests/data/models/kernel-ref/ref.json (tools/gen_tiny_models.py kernels):
 * every activation transformers names, LayerNorm (two eps; also on rows of
 * tiny variance, where the eps decides the output), residual + LayerNorm,
 * softmax, linear (+GELU) and packed multi-head attention with and without a
 * relative position bias. The pool is checked for full coverage of
 * odd ranges, nested calls, and bit-identical attention across thread counts;
 * the cost-balanced split, the pool-split sgemm (bit-identical to one
 * cblas_sgemm call) and the GELU loops' exp approximation. The forward's
 * products (linear, linear + GELU with the activation as epilogue) are
 * checked against a double-precision reference with every copy of the
 * small-row kernel (AVX-512, AVX2, none = BLAS), row counts on both sides of
 * the kernel's limit, odd K and N, at 1 and 3 threads.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>

#include "base/threads.h"
#include "io/file.h"
#include "kernels/act_math.h"
#include "kernels/attention.h"
#include "kernels/attention_backward.h"
#include "kernels/simd.h"
#include "kernels/cpu_ops.h"
#include "kernels/cpu_ops_backward.h"
#include "kernels/gemm_small.h"
#include "test_util.h"

static cJSON *g_ref;

/* A float array from the reference (malloc'd); *n = its length. */
static float *arr(const char *key, size_t *n) {
    cJSON *a = cJSON_GetObjectItem(g_ref, key);
    if (!cJSON_IsArray(a)) {
        CHECK(0, "reference key %s missing", key);
        *n = 0;
        return calloc(1, sizeof(float));
    }
    *n = (size_t)cJSON_GetArraySize(a);
    float *v = malloc((*n ? *n : 1) * sizeof(float));
    size_t i = 0;
    cJSON *e;
    cJSON_ArrayForEach(e, a) v[i++] = (float)e->valuedouble;
    return v;
}

static size_t num(const char *key) {
    cJSON *v = cJSON_GetObjectItem(g_ref, key);
    return cJSON_IsNumber(v) ? (size_t)v->valuedouble : 0;
}

static double maxdiff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d != d) return 1e30;
        if (d > m) m = d;
    }
    return m;
}

static void test_activations(void) {
    static const char *names[] = {"gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast",
                                  "relu", "silu", "quick_gelu"};
    size_t n, m;
    float *x = arr("act_x", &n);
    float *out = malloc(n * sizeof(float));
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        char key[64];
        snprintf(key, sizeof key, "act_%s", names[k]);
        float *want = arr(key, &m);
        sbert_act act;
        CHECK_OK(sbert_act_from_name(names[k], &act));
        sbert_act_forward(out, x, n, act);
        double d = maxdiff(out, want, n);
        CHECK(m == n && d <= 2e-6, "%s: max |diff| %.3g", names[k], d);
        printf("act %-18s max |diff| %.3g\n", names[k], d);
        free(want);
    }
    sbert_act a;
    CHECK(sbert_act_from_name("swiglu", &a) == SBERT_ERR_UNSUPPORTED, "unknown activation");
    CHECK(strstr(sbert_last_error(), "swiglu") != NULL, "message names it: %s", sbert_last_error());
    free(x);
    free(out);
}

static void test_layernorm(void) {
    size_t n, nw, nb, nr;
    size_t T = num("ln_T"), C = num("ln_C");
    float *x = arr("ln_x", &n), *w = arr("ln_w", &nw), *b = arr("ln_b", &nb), *r = arr("ln_r", &nr);
    CHECK(n == T * C && nw == C && nb == C, "layernorm shapes");
    float *out = malloc(n * sizeof(float)), *mean = malloc(T * sizeof(float)),
          *rstd = malloc(T * sizeof(float)), *sum = malloc(n * sizeof(float));
    const char *keys[2] = {"ln_out_1e-12", "ln_out_1e-5"};
    const float eps[2] = {1e-12f, 1e-5f};
    for (int k = 0; k < 2; k++) {
        size_t m;
        float *want = arr(keys[k], &m);
        sbert_layernorm_forward(out, mean, rstd, x, w, b, T, C, eps[k]);
        double d = maxdiff(out, want, n);
        CHECK(d <= 2e-6, "%s: max |diff| %.3g", keys[k], d);
        printf("%-18s max |diff| %.3g\n", keys[k], d);
        free(want);
    }
    /* saved statistics: mean of row 0 recomputed in double */
    double m0 = 0;
    for (size_t j = 0; j < C; j++) m0 += x[j];
    m0 /= (double)C;
    CHECK_NEAR(mean[0], m0, 1e-5, "saved mean %g vs %g", mean[0], m0);
    CHECK(rstd[0] > 0, "saved rstd");
    /* in place */
    size_t m;
    float *want = arr("ln_out_1e-12", &m);
    float *y = malloc(n * sizeof(float));
    memcpy(y, x, n * sizeof(float));
    sbert_layernorm_forward(y, NULL, NULL, y, w, b, T, C, 1e-12f);
    CHECK(maxdiff(y, want, n) <= 2e-6, "in-place layernorm");
    free(want);
    /* residual + layernorm, keeping the sum */
    want = arr("addln_out", &m);
    sbert_add_layernorm_forward(out, sum, NULL, NULL, x, r, w, b, T, C, 1e-12f);
    double d = maxdiff(out, want, n);
    CHECK(d <= 2e-6, "add+layernorm: max |diff| %.3g", d);
    CHECK(sum[3] == x[3] + r[3], "sum kept");
    free(want);
    free(x), free(w), free(b), free(r), free(out), free(mean), free(rstd), free(sum), free(y);
}

/* LayerNorm on rows of tiny variance (std 1e-1, 1e-2, 1e-3, 1e-4): there eps
 * decides the output (the rows above, of std ~2, cannot tell eps 1e-12 from
 * 1e-5: the outputs differ by ~1e-6). Each eps must match torch's output for
 * that eps, and the two references must be far apart, so passing 1e-5 where
 * 1e-12 is meant (or the reverse) fails. */
static void test_layernorm_eps(void) {
    size_t n, nw, nb;
    size_t T = num("ln_small_T"), C = num("ln_small_C");
    float *x = arr("ln_small_x", &n), *w = arr("ln_small_w", &nw), *b = arr("ln_small_b", &nb);
    CHECK(T == 4 && n == T * C && nw == C && nb == C, "small-variance layernorm shapes");
    size_t m12, m5;
    float *want12 = arr("ln_small_out_1e-12", &m12), *want5 = arr("ln_small_out_1e-5", &m5);
    float *out = malloc((n ? n : 1) * sizeof(float)), *sum = malloc((n ? n : 1) * sizeof(float));
    float *zero = calloc(n ? n : 1, sizeof(float));
    const double apart = m12 == n && m5 == n ? maxdiff(want12, want5, n) : 0;
    /* torch: eps 1e-12 and 1e-5 differ by 1.8 here */
    CHECK(apart > 0.5, "the eps 1e-12 and 1e-5 references differ by only %.3g", apart);
    const float eps[2] = {1e-12f, 1e-5f};
    const float *want[2] = {want12, want5};
    for (int k = 0; k < 2 && m12 == n && m5 == n; k++) {
        sbert_layernorm_forward(out, NULL, NULL, x, w, b, T, C, eps[k]);
        double d = maxdiff(out, want[k], n), other = maxdiff(out, want[1 - k], n);
        /* measured 2.4e-7 (outputs are O(1)); a different eps, even 1e-10 for
         * 1e-12, moves the std-1e-4 row by > 1e-3 */
        CHECK(d <= 1e-6, "small variance, eps %g: max |diff| %.3g", eps[k], d);
        CHECK(other > 0.5, "small variance, eps %g: only %.3g from the other eps' output", eps[k],
              other);
        printf("ln small var eps %-6g max |diff| %.3g (other eps: %.3g)\n", eps[k], d, other);
        /* the fused residual form takes the same eps path (a + 0) */
        sbert_add_layernorm_forward(out, sum, NULL, NULL, x, zero, w, b, T, C, eps[k]);
        d = maxdiff(out, want[k], n);
        CHECK(d <= 1e-6, "add+layernorm, small variance, eps %g: max |diff| %.3g", eps[k], d);
    }
    free(x), free(w), free(b), free(want12), free(want5), free(out), free(sum), free(zero);
}

static void test_softmax_linear(void) {
    size_t n, m;
    size_t R = num("sm_R"), C = num("sm_C");
    float *x = arr("sm_x", &n), *want = arr("sm_out", &m);
    float *out = malloc(n * sizeof(float));
    sbert_softmax_forward(out, x, R, C);
    double d = maxdiff(out, want, n);
    CHECK(n == R * C && d <= 5e-7, "softmax: max |diff| %.3g", d);
    printf("softmax            max |diff| %.3g\n", d);
    free(x), free(want), free(out);

    size_t T = num("lin_T"), K = num("lin_K"), N = num("lin_N"), nx, nw, nb, no, ng;
    float *lx = arr("lin_x", &nx), *W = arr("lin_W", &nw), *b = arr("lin_b", &nb);
    float *lo = arr("lin_out", &no), *lg = arr("lin_gelu", &ng);
    CHECK(nx == T * K && nw == N * K && nb == N && no == T * N, "linear shapes");
    float *y = malloc(T * N * sizeof(float)), *pre = malloc(T * N * sizeof(float));
    sbert_linear_forward(y, lx, W, b, T, K, N);
    d = maxdiff(y, lo, T * N);
    CHECK(d <= 1e-5, "linear: max |diff| %.3g", d);
    printf("linear             max |diff| %.3g\n", d);
    sbert_linear_act_forward(y, pre, lx, W, b, T, K, N, SBERT_ACT_GELU);
    d = maxdiff(y, lg, T * N);
    CHECK(d <= 1e-5, "linear+gelu: max |diff| %.3g", d);
    CHECK(maxdiff(pre, lo, T * N) <= 1e-5, "pre-activation kept");
    sbert_linear_act_forward(y, y, lx, W, b, T, K, N, SBERT_ACT_GELU); /* in place */
    CHECK(maxdiff(y, lg, T * N) <= 1e-5, "linear+gelu in place");
    sbert_linear_forward(y, lx, W, NULL, T, K, N); /* no bias: out - b = reference */
    for (size_t t = 0; t < T; t++)
        for (size_t j = 0; j < N; j++) y[t * N + j] += b[j];
    CHECK(maxdiff(y, lo, T * N) <= 1e-5, "linear without bias");
    float s[3] = {1, 2, 3}, u[3] = {0.5f, -1, 4}, o[3];
    sbert_add_forward(o, s, u, 3);
    CHECK(o[0] == 1.5f && o[1] == 1.0f && o[2] == 7.0f, "add");
    free(lx), free(W), free(b), free(lo), free(lg), free(y), free(pre);

    /* odd sizes, every row count 1..30: covers the small-T kernel (tails in K
     * and N) and the BLAS path, at 1 and 3 threads */
    T = num("lin2_T"), K = num("lin2_K"), N = num("lin2_N");
    lx = arr("lin2_x", &nx), W = arr("lin2_W", &nw), b = arr("lin2_b", &nb), lo = arr("lin2_out", &no);
    CHECK(nx == T * K && nw == N * K && no == T * N, "linear2 shapes");
    y = malloc(T * N * sizeof(float));
    double worst = 0;
    for (int th = 1; th <= 3; th += 2) {
        sbert_set_num_threads(th);
        for (size_t rows = 1; rows <= T; rows++) {
            sbert_linear_forward(y, lx, W, b, rows, K, N);
            d = maxdiff(y, lo, rows * N);
            if (d > worst) worst = d;
        }
    }
    sbert_set_num_threads(0);
    CHECK(worst <= 1e-5, "linear odd sizes: max |diff| %.3g", worst);
    printf("linear odd sizes   max |diff| %.3g\n", worst);
    free(lx), free(W), free(b), free(lo), free(y);
}

static void test_attention(void) {
    cJSON *lens = cJSON_GetObjectItem(g_ref, "att_lens");
    size_t n_seq = (size_t)cJSON_GetArraySize(lens);
    size_t *offs = calloc(n_seq + 1, sizeof(size_t));
    for (size_t s = 0; s < n_seq; s++)
        offs[s + 1] = offs[s] + (size_t)cJSON_GetArrayItem(lens, (int)s)->valueint;
    size_t T = offs[n_seq], heads = num("att_heads"), d = num("att_d"), H = heads * d;
    size_t maxL = num("att_max_len"), nq, nb, n1, n2;
    float *qkv = arr("att_qkv", &nq), *bias = arr("att_bias", &nb);
    float *want = arr("att_out", &n1), *want_b = arr("att_out_bias", &n2);
    CHECK(nq == T * 3 * H && nb == heads * (2 * maxL - 1) && n1 == T * H, "attention shapes");
    float *out = malloc(T * H * sizeof(float)), *out2 = malloc(T * H * sizeof(float));
    size_t np = sbert_attention_probs_size(offs, n_seq, heads);
    float *probs = malloc(np * sizeof(float));
    float scale = 1.0f / sqrtf((float)d);

    CHECK_OK(sbert_attention_forward(out, NULL, qkv, offs, n_seq, heads, d, scale, NULL, 0));
    double dd = maxdiff(out, want, T * H);
    CHECK(dd <= 2e-6, "attention: max |diff| %.3g", dd);
    printf("attention          max |diff| %.3g\n", dd);
    CHECK_OK(sbert_attention_forward(out, probs, qkv, offs, n_seq, heads, d, scale, bias, maxL));
    dd = maxdiff(out, want_b, T * H);
    CHECK(dd <= 2e-6, "attention+bias: max |diff| %.3g", dd);
    printf("attention+bias     max |diff| %.3g\n", dd);
    /* every saved probability row sums to 1; sequence of length 1 has P = 1 */
    size_t rows = 0, bad = 0, at = 0;
    for (size_t s = 0; s < n_seq; s++) {
        size_t L = offs[s + 1] - offs[s];
        for (size_t h = 0; h < heads; h++)
            for (size_t i = 0; i < L; i++, rows++) {
                double sum = 0;
                for (size_t j = 0; j < L; j++) sum += probs[at++];
                if (fabs(sum - 1.0) > 1e-5) bad++;
            }
    }
    CHECK(bad == 0 && at == np, "%zu of %zu probability rows do not sum to 1", bad, rows);
    CHECK(probs[0] == 1.0f, "length-1 sequence attends to itself");
    /* too long for the bias table */
    CHECK(sbert_attention_forward(out, NULL, qkv, offs, n_seq, heads, d, scale, bias, maxL - 1) ==
              SBERT_ERR_INVALID_ARG,
          "sequence longer than the bias table fails");
    /* same bits for any thread count */
    int same = 1;
    for (int th = 1; th <= 4; th++) {
        sbert_set_num_threads(th);
        CHECK_OK(sbert_attention_forward(out2, NULL, qkv, offs, n_seq, heads, d, scale, bias, maxL));
        CHECK_OK(sbert_attention_forward(out, NULL, qkv, offs, n_seq, heads, d, scale, bias, maxL));
        if (memcmp(out, out2, T * H * sizeof(float)) != 0) same = 0;
        if (th == 1) memcpy(want, out, T * H * sizeof(float));
        else if (memcmp(want, out, T * H * sizeof(float)) != 0) same = 0;
    }
    CHECK(same, "attention is bit-identical across runs and thread counts");
    sbert_set_num_threads(0);
    free(offs), free(qkv), free(bias), free(want), free(want_b), free(out), free(out2), free(probs);
}

/* ---- attention: AVX-512 copies against the portable ones ---- */

static uint64_t g_att_seed = 0x9e3779b97f4a7c15ull;
static float att_rand(void) { /* uniform in [-1, 1), xorshift64 */
    g_att_seed ^= g_att_seed << 13, g_att_seed ^= g_att_seed >> 7, g_att_seed ^= g_att_seed << 17;
    return (float)(g_att_seed >> 40) * 0x1.0p-23f - 1.0f;
}

/* max |a - b| over the array, relative to the array's largest |b| */
static double rel_arr_diff(const float *a, const float *b, size_t n) {
    double md = 0.0, mb = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= md)) md = d; /* NaN counts as a difference */
        if (fabs((double)b[i]) > mb) mb = fabs((double)b[i]);
    }
    return md / (mb > 0.0 ? mb : 1.0);
}

/* Every attention kernel (forward with and without probs, probs only, the
 * dropout output, the backward in set and += modes with the relative-bias
 * gradient) run by its AVX-512 copy and by the portable one on the same
 * random inputs: lengths 1, 5, 16, 17, 31, 40, 300 (from 32 on, the
 * portable forward takes its sgemm path; the AVX-512 dropout output its
 * row-at-a-time loop past 256), head_dim 32 and 24 (not a multiple of 16),
 * causal or not, relative bias or not, dropout flags or not. The AVX-512
 * copies sum in another order (and fuse multiply-adds), so they agree to
 * 1e-5 of each array's largest magnitude, not bit for bit. */
static void test_attention_copies(void) {
    if (!sbert_attention_avx512()) {
        printf("attention copies   skipped: no AVX-512 on this CPU\n");
        return;
    }
    const size_t lens[7] = {1, 5, 16, 17, 31, 40, 300}, n_seq = 7, nh = 3, rml = 300, bw = 2 * rml - 1;
    size_t offs[8] = {0};
    for (size_t s = 0; s < n_seq; s++) offs[s + 1] = offs[s] + lens[s];
    const size_t T = offs[n_seq], np = sbert_attention_probs_size(offs, n_seq, nh);
    double worst[6] = {0}; /* out, probs, dropout out, dqkv set, dqkv +=, drel_bias */
    int cases = 0, probs_only_same = 1;
    const size_t dims[2] = {32, 24};
    for (int di = 0; di < 2; di++) {
        const size_t d = dims[di], H = nh * d, W3 = 3 * H;
        float *qkv = malloc(T * W3 * sizeof(float)), *bias = malloc(nh * bw * sizeof(float));
        float *dout = malloc(T * H * sizeof(float)), *acc0 = malloc(T * W3 * sizeof(float));
        float *out[2], *probs[2], *dq_set[2], *dq_acc[2], *db[2], *dro[2];
        uint8_t *keep = malloc(np);
        for (int k = 0; k < 2; k++) {
            out[k] = malloc(T * H * sizeof(float)), dro[k] = malloc(T * H * sizeof(float));
            probs[k] = malloc(np * sizeof(float));
            dq_set[k] = malloc(T * W3 * sizeof(float)), dq_acc[k] = malloc(T * W3 * sizeof(float));
            db[k] = malloc(nh * bw * sizeof(float));
        }
        for (size_t i = 0; i < T * W3; i++) qkv[i] = 2.0f * att_rand(), acc0[i] = att_rand();
        for (size_t i = 0; i < nh * bw; i++) bias[i] = att_rand();
        for (size_t i = 0; i < T * H; i++) dout[i] = att_rand();
        for (size_t i = 0; i < np; i++) keep[i] = att_rand() > -0.8f; /* dropout p = 0.1 */
        const float scale = 1.0f / sqrtf((float)d), ks = 1.0f / 0.9f;
        for (int variant = 0; variant < 8; variant++) {
            const int causal = variant & 1, use_bias = (variant >> 1) & 1, use_drop = (variant >> 2) & 1;
            const float *rb = use_bias ? bias : NULL;
            const uint8_t *kp = use_drop ? keep : NULL;
            for (int k = 0; k < 2; k++) { /* k = 0: AVX-512, 1: portable */
                sbert_attention_avx512_cap(k == 0);
                CHECK_OK(sbert_attention_forward_causal(out[k], probs[k], qkv, offs, n_seq, nh, d, scale, rb,
                                                        rml, causal));
                if (!causal) {
                    float *p2 = malloc(np * sizeof(float));
                    CHECK_OK(sbert_attention_probs(p2, qkv, offs, n_seq, nh, d, scale, rb, rml));
                    probs_only_same &= memcmp(p2, probs[k], np * sizeof(float)) == 0;
                    free(p2);
                }
                CHECK_OK(sbert_attention_dropout_output(dro[k], probs[0], keep, ks, qkv, offs,
                                                        n_seq, nh, d));
                /* the backward of both copies from the same probabilities */
                memset(db[k], 0, nh * bw * sizeof(float));
                memcpy(dq_set[k], acc0, T * W3 * sizeof(float));
                CHECK_OK(sbert_attention_backward_dropout_set(dq_set[k], use_bias ? db[k] : NULL, dout, qkv,
                                                              probs[0], kp, ks, offs, n_seq, nh, d, scale,
                                                              rml));
                memcpy(dq_acc[k], acc0, T * W3 * sizeof(float));
                CHECK_OK(sbert_attention_backward_dropout(dq_acc[k], NULL, dout, qkv, probs[0], kp, ks, offs,
                                                          n_seq, nh, d, scale, rml));
            }
            double e[6] = {rel_arr_diff(out[0], out[1], T * H),  rel_arr_diff(probs[0], probs[1], np),
                           rel_arr_diff(dro[0], dro[1], T * H),  rel_arr_diff(dq_set[0], dq_set[1], T * W3),
                           rel_arr_diff(dq_acc[0], dq_acc[1], T * W3),
                           use_bias ? rel_arr_diff(db[0], db[1], nh * bw) : 0.0};
            for (int k = 0; k < 6; k++) {
                CHECK(e[k] <= 1e-5, "attention copies d %zu causal %d bias %d dropout %d: array %d differs by %.3g",
                      d, causal, use_bias, use_drop, k, e[k]);
                if (e[k] > worst[k]) worst[k] = e[k];
            }
            cases++;
        }
        sbert_attention_avx512_cap(1);
        free(qkv), free(bias), free(dout), free(acc0), free(keep);
        for (int k = 0; k < 2; k++) free(out[k]), free(dro[k]), free(probs[k]), free(dq_set[k]), free(dq_acc[k]), free(db[k]);
    }
    CHECK(cases == 16, "every attention variant ran");
    CHECK(probs_only_same, "sbert_attention_probs gives sbert_attention_forward's probabilities bit for bit");
    printf("attention copies   max rel diff: out %.2g probs %.2g dropout-out %.2g dqkv %.2g (+= %.2g) "
           "drel_bias %.2g\n", worst[0], worst[1], worst[2], worst[3], worst[4], worst[5]);
}

/* ---- thread pool ---- */

typedef struct {
    int *hits;
    size_t inner_n;
    int *inner_hits;
} cover_ctx;

static void cover(void *vctx, size_t b, size_t e) {
    cover_ctx *c = vctx;
    for (size_t i = b; i < e; i++) c->hits[i]++;
}

static void inner(void *vctx, size_t b, size_t e) {
    int *h = vctx;
    for (size_t i = b; i < e; i++) h[i]++;
}

static void nested(void *vctx, size_t b, size_t e) {
    cover_ctx *c = vctx;
    for (size_t i = b; i < e; i++) {
        c->hits[i]++;
        /* runs serially inside a chunk; each outer item owns its row of inner_hits */
        sbert_parallel_for(c->inner_n, inner, c->inner_hits + i * c->inner_n);
    }
}

static void test_threads(void) {
    sbert_set_num_threads(3);
    CHECK(sbert_get_num_threads() == 3, "get_num_threads %d", sbert_get_num_threads());
    static const size_t sizes[] = {1, 2, 3, 7, 100, 1001};
    int ok = 1;
    for (int th = 1; th <= 4; th++) {
        sbert_set_num_threads(th);
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            size_t n = sizes[k];
            int *hits = calloc(n, sizeof(int));
            cover_ctx c = {hits, 0, NULL};
            for (int rep = 0; rep < 20; rep++) sbert_parallel_for(n, cover, &c);
            sbert_parallel_for_min(n, 50, cover, &c);
            for (size_t i = 0; i < n; i++)
                if (hits[i] != 21) ok = 0;
            free(hits);
        }
    }
    CHECK(ok, "every index visited exactly once per call");
    sbert_set_num_threads(2);
    size_t n = 9, m = 5;
    int *hits = calloc(n, sizeof(int)), *ih = calloc(n * m, sizeof(int));
    cover_ctx c = {hits, m, ih};
    sbert_parallel_for(n, nested, &c);
    int nok = 1;
    for (size_t i = 0; i < n; i++) nok &= hits[i] == 1;
    for (size_t i = 0; i < n * m; i++) nok &= ih[i] == 1;
    CHECK(nok, "nested parallel_for covers everything once");
    free(hits), free(ih);
    sbert_parallel_for(0, cover, &c); /* no-op */
    sbert_set_num_threads(0);
    CHECK(sbert_get_num_threads() >= 1, "all cores");
}

/* Cost-balanced split: every item once, and with 2 threads over items whose
 * costs are all at the front, the split lands where the cost halves. */
typedef struct {
    int *hits;
    size_t calls, first_end;
} cost_cover_ctx;

static void cost_cover(void *vctx, size_t b, size_t e) {
    cost_cover_ctx *c = vctx;
    for (size_t i = b; i < e; i++) __atomic_add_fetch(&c->hits[i], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&c->calls, 1, __ATOMIC_RELAXED);
    if (b == 0) c->first_end = e;
}

static void test_parallel_for_cost(void) {
    size_t n = 40;
    size_t cum[41];
    int ok = 1;
    for (int th = 1; th <= 4; th++) {
        sbert_set_num_threads(th);
        for (int shape = 0; shape < 3; shape++) {
            cum[0] = 0;
            for (size_t i = 0; i < n; i++) {
                size_t cost = shape == 0 ? 1 : shape == 1 ? (i < 10 ? 100 : 1) : (i % 7 == 0 ? 0 : i);
                cum[i + 1] = cum[i] + cost;
            }
            int hits[40] = {0};
            cost_cover_ctx c = {hits, 0, 0};
            sbert_parallel_for_cost(n, cum, 0, cost_cover, &c);
            for (size_t i = 0; i < n; i++) ok &= hits[i] == 1;
            ok &= c.calls >= 1 && c.calls <= (size_t)th;
            if (th == 2 && shape == 1)
                CHECK(c.first_end == 6, "2 threads, 10 heavy items first: first part ends at %zu, want 6",
                      c.first_end);
            if (th == 2 && shape == 0) CHECK(c.first_end == 20, "uniform costs: split at %zu", c.first_end);
        }
    }
    CHECK(ok, "parallel_for_cost visits every item exactly once, in at most one part per thread");
    sbert_set_num_threads(2);
    int hits[40] = {0};
    cost_cover_ctx c = {hits, 0, 0};
    sbert_parallel_for_cost(n, cum, cum[n] + 1, cost_cover, &c);
    CHECK(c.calls == 1 && c.first_end == n, "below min_total: one serial call (%zu calls)", c.calls);
    sbert_set_num_threads(0);
}

/* sbert_sgemm (rows over the pool) against one cblas_sgemm call, every
 * transpose combination, odd sizes, 1..3 threads: equal to rounding, and the
 * same bits when repeated at the same thread count. */
static void test_sgemm(void) {
    const size_t M = 77, N = 45, K = 130;
    float *A = malloc(M * K * sizeof(float)), *B = malloc(K * N * sizeof(float));
    float *C0 = malloc(M * N * sizeof(float)), *C1 = malloc(M * N * sizeof(float));
    float *C2 = malloc(M * N * sizeof(float));
    uint32_t x = 12345;
    for (size_t i = 0; i < M * K; i++) A[i] = (float)((x = x * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
    for (size_t i = 0; i < K * N; i++) B[i] = (float)((x = x * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
    int same = 1;
    double worst = 0;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int th = 1; th <= 3; th++) {
                size_t lda = ta ? M : K, ldb = tb ? K : N;
                for (size_t i = 0; i < M * N; i++) C0[i] = C1[i] = C2[i] = 0.25f * (float)(i % 5);
                cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                            (int)M, (int)N, (int)K, 0.5f, A, (int)lda, B, (int)ldb, 1.0f, C0, (int)N);
                sbert_set_num_threads(th);
                sbert_sgemm(ta, tb, M, N, K, 0.5f, A, lda, B, ldb, 1.0f, C1, N);
                sbert_sgemm(ta, tb, M, N, K, 0.5f, A, lda, B, ldb, 1.0f, C2, N);
                for (size_t i = 0; i < M * N; i++) {
                    same &= C1[i] == C2[i];
                    worst = test_max_err(worst, fabs((double)C0[i] - C1[i]));
                }
            }
    CHECK(same, "sbert_sgemm repeats bit for bit at a given thread count");
    /* the double-precision twin, against cblas_dgemm */
    double *Ad = malloc(M * K * sizeof(double)), *Bd = malloc(K * N * sizeof(double));
    double *D0 = malloc(M * N * sizeof(double)), *D1 = malloc(M * N * sizeof(double));
    for (size_t i = 0; i < M * K; i++) Ad[i] = A[i];
    for (size_t i = 0; i < K * N; i++) Bd[i] = B[i];
    double dworst = 0;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int th = 1; th <= 3; th++) {
                size_t lda = ta ? M : K, ldb = tb ? K : N;
                for (size_t i = 0; i < M * N; i++) D0[i] = D1[i] = 0.25 * (double)(i % 5);
                cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                            (int)M, (int)N, (int)K, 0.5, Ad, (int)lda, Bd, (int)ldb, 1.0, D0, (int)N);
                sbert_set_num_threads(th);
                sbert_dgemm(ta, tb, M, N, K, 0.5, Ad, lda, Bd, ldb, 1.0, D1, N);
                for (size_t i = 0; i < M * N; i++) dworst = test_max_err(dworst, fabs(D0[i] - D1[i]));
            }
    CHECK(dworst <= 1e-13, "sbert_dgemm vs one cblas_dgemm call: max |diff| %.3g", dworst);
    free(Ad), free(Bd), free(D0), free(D1);
    CHECK(worst <= 2e-6, "sbert_sgemm vs one cblas_sgemm call: max |diff| %.3g (sums of 130 terms ~0.1)", worst);
    sbert_set_num_threads(0);
    free(A), free(B), free(C0), free(C1), free(C2);
}

/* The GELU loops' exp: relative error against exp in double over [-100, 0]. */
static void test_exp_nonpos(void) {
    double worst = 0, worst_tail = 0;
    for (int i = 0; i <= 200000; i++) {
        float x = -100.0f * (float)i / 200000.0f;
        double want = exp((double)x), got = sbert_exp_nonpos(x);
        if (x >= -87.0f) worst = test_max_err(worst, fabs(got - want) / want);
        else worst_tail = test_max_err(worst_tail, got < 0 ? 1.0 : got);
    }
    CHECK(worst_tail < 2e-38, "below -87 exp clamps to a tiny nonnegative value (largest %g)", worst_tail);
    CHECK(worst <= 4e-7, "sbert_exp_nonpos: max relative error %.3g over [-87, 0]", worst);
    printf("sbert_exp_nonpos: max relative error %.3g over [-87, 0]\n", worst);
}

/* The formula of sbert_exp_nonpos before it was made NaN-safe (its clamp and
 * int conversion were undefined for NaN), kept here to check that the guards
 * change no finite result: only called on x <= 88, where it is defined. */
static float exp_nonpos_unguarded(float x) {
    x = x < -87.0f ? -87.0f : x;
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693145751953125f;
    r = r - n * 1.428606765330187e-06f;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* NaN in, NaN out, no undefined behaviour (UBSan runs this under make
 * test-asan), infinities handled, finite results bit-identical to the
 * unguarded formula, and the vectorized GELU backward loop propagates NaN
 * (a training step with --learning_rate 1e9 reaches it with NaN inputs). */
static void test_exp_nonpos_special(void) {
    float qnan = nanf(""), neg_nan = -nanf("");
    uint32_t payload_bits = 0x7fa00001u; /* a signalling-looking NaN with a payload */
    float payload;
    memcpy(&payload, &payload_bits, sizeof payload);
    const float nans[] = {qnan, neg_nan, payload};
    for (size_t i = 0; i < 3; i++)
        CHECK(isnan(sbert_exp_nonpos(nans[i])), "sbert_exp_nonpos(NaN #%zu) is NaN, got %g", i,
              (double)sbert_exp_nonpos(nans[i]));
    float ninf = sbert_exp_nonpos(-INFINITY);
    CHECK(ninf >= 0.0f && ninf < 2e-38f, "sbert_exp_nonpos(-inf) = %g (the -87 clamp)", (double)ninf);
    CHECK(isinf(sbert_exp_nonpos(INFINITY)) && isinf(sbert_exp_nonpos(1e30f)),
          "sbert_exp_nonpos(+inf), (1e30) = +inf (clamped, no exponent overflow)");
    /* every 127th float bit pattern in [-100, 0] and (0, 88]: bit-identical */
    size_t differ = 0, n = 0;
    for (uint32_t b = 0x80000000u; b <= 0xC2C80000u; b += 127, n++) { /* -0 .. -100 */
        float x;
        memcpy(&x, &b, sizeof x);
        float a = sbert_exp_nonpos(x), w = exp_nonpos_unguarded(x);
        differ += memcmp(&a, &w, sizeof a) != 0;
    }
    for (uint32_t b = 1; b <= 0x42B00000u; b += 127, n++) { /* 0 .. 88 */
        float x;
        memcpy(&x, &b, sizeof x);
        float a = sbert_exp_nonpos(x), w = exp_nonpos_unguarded(x);
        differ += memcmp(&a, &w, sizeof a) != 0;
    }
    CHECK(differ == 0, "sbert_exp_nonpos bit-identical to the unguarded formula on %zu finite inputs "
          "(%zu differ)", n, differ);
    /* the vectorized GELU backward: NaN stays NaN, its neighbours unchanged */
    enum { N = 67 };
    float pre[N], dout[N], d1[N], d2[N];
    for (int i = 0; i < N; i++) {
        pre[i] = -3.0f + 0.09f * (float)i;
        dout[i] = 1.0f;
    }
    sbert_act_backward(d1, dout, pre, N, SBERT_ACT_GELU); /* accumulates: start from 0 */
    memset(d1, 0, sizeof d1);
    sbert_act_backward(d1, dout, pre, N, SBERT_ACT_GELU);
    pre[5] = qnan;
    pre[40] = neg_nan;
    memset(d2, 0, sizeof d2);
    sbert_act_backward(d2, dout, pre, N, SBERT_ACT_GELU);
    int ok = isnan(d2[5]) && isnan(d2[40]);
    for (int i = 0; i < N; i++)
        if (i != 5 && i != 40) ok &= memcmp(&d1[i], &d2[i], sizeof d1[i]) == 0;
    CHECK(ok, "GELU backward: NaN pre-activations give NaN gradients, the others are unchanged");
    CHECK(isnan(sbert_act_grad(SBERT_ACT_GELU, qnan)), "sbert_act_grad(GELU, NaN) is NaN");
}

/* Deterministic pseudo-random values in [-0.5, 0.5). */
static void fill(float *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (float)((seed >> 8) & 0xFFFF) / 65536.0f - 0.5f;
    }
}

static void test_linear_copies(void) {
    /* K: a tail for both copies (K % 16 = 13, K % 8 = 5) and an exact one;
     * N: a tail of weight rows (N % 4 = 2) over three 32-column blocks */
    static const size_t Ks[] = {45, 64}, Ts[] = {1, 2, 3, 5, 6, 7, 12, 13, 19, 24, 25, 50, 300};
    const size_t N = 70, maxT = 300, maxK = 64;
    float *x = malloc(maxT * maxK * sizeof(float)), *W = malloc(N * maxK * sizeof(float));
    float *b = malloc(N * sizeof(float)), *y = malloc(maxT * N * sizeof(float));
    float *pre = malloc(maxT * N * sizeof(float)), *y1 = malloc(maxT * N * sizeof(float));
    float *lin = malloc(maxT * N * sizeof(float));
    double *ref = malloc(maxT * N * sizeof(double));
    fill(x, maxT * maxK, 1);
    fill(W, N * maxK, 2);
    fill(b, N, 3);
    int top = sbert_gemm_small_level();
    double worst = 0, worst_act = 0;
    int same_threads = 1, pre_kept = 1, untouched = 1, runs = 0;
    for (size_t ik = 0; ik < sizeof Ks / sizeof Ks[0]; ik++) {
        size_t K = Ks[ik];
        for (size_t t = 0; t < maxT; t++)
            for (size_t n = 0; n < N; n++) {
                double acc = b[n];
                for (size_t k = 0; k < K; k++) acc += (double)x[t * K + k] * W[n * K + k];
                ref[t * N + n] = acc;
            }
        for (int level = SBERT_SMALL_NONE; level <= top; level++) {
            sbert_gemm_small_cap(level);
            for (size_t it = 0; it < sizeof Ts / sizeof Ts[0]; it++) {
                size_t T = Ts[it];
                for (int th = 1; th <= 3; th += 2) {
                    sbert_set_num_threads(th);
                    /* rows past T must stay untouched */
                    for (size_t i = T * N; i < maxT * N; i++) y[i] = 12345.0f;
                    sbert_linear_forward(y, x, W, b, T, K, N);
                    for (size_t i = T * N; i < maxT * N; i++) untouched &= y[i] == 12345.0f;
                    for (size_t i = 0; i < T * N; i++) {
                        double d = fabs(y[i] - ref[i]);
                        if (!(d <= worst)) worst = d; /* NaN-aware */
                    }
                    /* the small-row kernel's sums do not depend on the column split */
                    if (th == 1) memcpy(y1, y, T * N * sizeof(float));
                    else if (level > SBERT_SMALL_NONE && T <= sbert_gemm_small_max_rows())
                        same_threads &= memcmp(y1, y, T * N * sizeof(float)) == 0;
                    memcpy(lin, y, T * N * sizeof(float));
                    sbert_linear_act_forward(y, pre, x, W, b, T, K, N, SBERT_ACT_GELU);
                    for (size_t i = 0; i < T * N; i++) {
                        pre_kept &= pre[i] == lin[i];
                        double g = 0.5 * ref[i] * (1.0 + erf(ref[i] / sqrt(2.0)));
                        double d = fabs(y[i] - g);
                        if (!(d <= worst_act)) worst_act = d;
                    }
                    runs++;
                }
            }
        }
    }
    sbert_gemm_small_cap(SBERT_SMALL_AVX512);
    sbert_set_num_threads(0);
    CHECK(runs == 2 * 13 * 2 * (top + 1), "every copy ran (%d runs, top level %d)", runs, top);
    CHECK(untouched, "linear writes no row past T");
    CHECK(worst <= 2e-6, "linear, every copy / row count / thread count: max |diff| %.3g", worst);
    CHECK(worst_act <= 2e-6, "linear + GELU epilogue: max |diff| %.3g", worst_act);
    CHECK(same_threads, "linear, small-row kernel: bit-identical at 1 and 3 threads");
    CHECK(pre_kept, "linear + GELU keeps the pre-activation, equal to linear's output");
    printf("linear copies      max |diff| %.3g (+GELU %.3g), small-row copies up to level %d\n", worst,
           worst_act, top);
    free(x), free(W), free(b), free(y), free(pre), free(y1), free(lin), free(ref);
}

int main(void) {
    CHECK_OK(sbert_json_load(test_path("tests/data/models/kernel-ref/ref.json"), &g_ref));
    if (!g_ref) return test_summary();
    test_threads();
    test_parallel_for_cost();
    test_sgemm();
    test_exp_nonpos();
    test_exp_nonpos_special();
    test_activations();
    test_layernorm();
    test_layernorm_eps();
    test_softmax_linear();
    test_linear_copies();
    test_attention();
    test_attention_copies();
    cJSON_Delete(g_ref);
    return test_summary();
}
