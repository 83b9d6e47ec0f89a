/*
 * tests/test_transformer_backward.c -- the whole-encoder backward
 * (sbert_transformer_forward_train / sbert_transformer_backward) on the tiny
 * random models of tests/data/models/tiny-{bert,roberta,xlm-roberta,
 * distilbert,mpnet}.
 *
 * 1. Against torch autograd (tests/data/backward/<family>/grad_ref.*, written
 *    by tools/gen_transformer_grads.py: float64 autograd of
 *    loss = sum(last_hidden_state * R) in eval mode): the gradient of every
 *    parameter of the encoder (the used rows of the word and position tables)
 *    and of the word-embedding output (inputs_embeds). Error per tensor =
 *    max |ours - torch| / max(|torch|, 1e-3 * max|torch| of the tensor).
 *    The real all-MiniLM-L6-v2 (models/, tools/fetch_models.sh; missing is a
 *    failure) is checked the same way on two sequences and a subset of its
 *    parameters (tests/data/backward/minilm).
 * 2. Central finite differences of the fp32 C forward itself (loss summed in
 *    double) along a random direction of every parameter tensor, eval mode
 *    and with dropout (the same seed redraws the same masks, so the loss is a
 *    smooth function of the weights).
 * 3. The training forward without dropout is bit-identical to
 *    sbert_transformer_forward; dropout is deterministic for a seed and
 *    changes with it; a second backward doubles the gradient; two runs are
 *    bit-identical; backward without a training forward is refused; an empty
 *    batch is a no-op.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/rng.h"
#include "base/threads.h"
#include "io/file.h"
#include "modules/transformer.h"
#include "test_util.h"

/* max rel error vs torch: tiny models (2 layers of 32; measured <= 5.1e-4,
 * mpnet's position table); the real 6-layer, 384-wide MiniLM accumulates more
 * fp32 round-off (measured 9.5e-4). About twice the measured error: a
 * LayerNorm eps of 1e-5 instead of 1e-12 gives 2e-2 on tiny-bert. */
#define TOL_TORCH 1e-3
#define TOL_TORCH_MINILM 2e-3
/* max |diff| of the forward's last_hidden_state against torch's (float64)
 * one: measured <= 2.4e-6 (MiniLM), tiny models <= 1.7e-6 */
#define TOL_FORWARD 5e-6

typedef struct {
    sbert_transformer *t;
    int32_t *ids, *types; /* types NULL when the reference has none */
    size_t offs[32], n_seq, T, H;
    float *R, *last_hidden, *d_emb; /* [T, H] each */
    cJSON *meta;
    float *bin;
    size_t bin_n;
} fixture;

static const cJSON *tensor_meta(const fixture *f, const char *name) {
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(f->meta, "tensors"), *e;
    cJSON_ArrayForEach(e, ts) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(e, "name");
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0) return e;
    }
    return NULL;
}

static float *tensor_data(const fixture *f, const cJSON *e, size_t *numel) {
    size_t off = (size_t)cJSON_GetObjectItemCaseSensitive(e, "offset")->valuedouble, n = 1;
    const cJSON *d;
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(e, "shape")) n *= (size_t)d->valuedouble;
    if (off + n > f->bin_n) return NULL;
    *numel = n;
    return f->bin + off;
}

static int load_fixture(const char *family, fixture *f) {
    memset(f, 0, sizeof *f);
    char dir[256], path[512];
    if (!strcmp(family, "minilm"))
        snprintf(dir, sizeof dir, "models/all-MiniLM-L6-v2");
    else
        snprintf(dir, sizeof dir, "tests/data/models/tiny-%s", family);
    sbert_status st = sbert_transformer_load(test_path(dir), &f->t);
    CHECK(st == SBERT_OK, "%s: load: %s", family, sbert_last_error());
    if (st != SBERT_OK) return 0;
    snprintf(path, sizeof path, "tests/data/backward/%s/grad_ref.json", family);
    st = sbert_json_load(test_path(path), &f->meta);
    CHECK(st == SBERT_OK, "%s: %s", path, sbert_last_error());
    if (st != SBERT_OK) return 0;
    snprintf(path, sizeof path, "tests/data/backward/%s/grad_ref.bin", family);
    size_t len = 0;
    char *raw = test_read_file(test_path(path), &len);
    CHECK(raw != NULL, "cannot read %s", path);
    if (!raw) return 0;
    f->bin = malloc(len + 4);
    memcpy(f->bin, raw, len);
    free(raw);
    f->bin_n = len / 4;
    f->H = (size_t)cJSON_GetObjectItemCaseSensitive(f->meta, "hidden_size")->valuedouble;
    f->T = (size_t)cJSON_GetObjectItemCaseSensitive(f->meta, "tokens")->valuedouble;
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(f->meta, "input_ids");
    const cJSON *types = cJSON_GetObjectItemCaseSensitive(f->meta, "token_type_ids");
    f->ids = malloc(f->T * sizeof(int32_t));
    f->types = cJSON_IsArray(types) ? malloc(f->T * sizeof(int32_t)) : NULL;
    const cJSON *seq;
    size_t t = 0, s = 0;
    cJSON_ArrayForEach(seq, ids) {
        const cJSON *tok;
        const cJSON *tseq = f->types ? cJSON_GetArrayItem(types, (int)s) : NULL;
        int k = 0;
        cJSON_ArrayForEach(tok, seq) {
            f->ids[t] = (int32_t)tok->valuedouble;
            if (f->types) f->types[t] = (int32_t)cJSON_GetArrayItem(tseq, k)->valuedouble;
            t++, k++;
        }
        f->offs[++s] = t;
    }
    f->n_seq = s;
    CHECK(t == f->T && sbert_transformer_hidden_size(f->t) == f->H, "%s: reference sizes", family);
    size_t n;
    f->R = tensor_data(f, tensor_meta(f, "R"), &n);
    f->last_hidden = tensor_data(f, tensor_meta(f, "last_hidden"), &n);
    f->d_emb = tensor_data(f, tensor_meta(f, "inputs_embeds"), &n);
    return t == f->T && f->R && f->last_hidden && f->d_emb;
}

static void free_fixture(fixture *f) {
    sbert_transformer_free(f->t);
    free(f->ids);
    free(f->types);
    cJSON_Delete(f->meta);
    free(f->bin);
}

static const sbert_transformer_param *find_param(const sbert_transformer *t, const char *name) {
    for (size_t i = 0; i < sbert_transformer_num_params(t); i++)
        if (strcmp(sbert_transformer_param_at(t, i)->name, name) == 0)
            return sbert_transformer_param_at(t, i);
    return NULL;
}

/* max |a - ref| / max(|ref|, 1e-3 max|ref|) */
static double rel_err(const float *a, const float *ref, size_t n) {
    double scale = 0.0, m = 0.0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(ref[i]));
    double fl = scale * 1e-3 > 1e-30 ? scale * 1e-3 : 1e-30;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - ref[i]) / fmax(fabs(ref[i]), fl);
        if (d != d) return 1e30;
        m = fmax(m, d);
    }
    return m;
}

static sbert_status fwd(fixture *f, sbert_rng *rng, float *out) {
    return sbert_transformer_forward_train(f->t, f->ids, f->types, f->offs, f->n_seq, rng, out);
}

/* loss = sum(out * R) of a training forward (rng re-seeded with `seed` when drop). */
static double loss_at(fixture *f, int drop, uint64_t seed, float *out) {
    sbert_rng rng;
    sbert_rng_seed(&rng, seed);
    if (fwd(f, drop ? &rng : NULL, out) != SBERT_OK) return NAN;
    double s = 0.0;
    for (size_t i = 0; i < f->T * f->H; i++) s += (double)out[i] * f->R[i];
    return s;
}

static void test_against_torch(const char *family) {
    fixture f;
    if (!load_fixture(family, &f)) {
        free_fixture(&f);
        return;
    }
    const size_t T = f.T, H = f.H;
    const double tol = strcmp(family, "minilm") ? TOL_TORCH : TOL_TORCH_MINILM;
    size_t n_floats = 0;
    float *params = sbert_transformer_params(f.t, &n_floats);
    (void)params;
    float *out = calloc(T * H, sizeof(float)), *out_inf = calloc(T * H, sizeof(float));
    float *grads = calloc(n_floats, sizeof(float)), *d_emb = calloc(T * H, sizeof(float));

    /* backward before any training forward is refused */
    CHECK(sbert_transformer_backward(f.t, f.R, grads, NULL) == SBERT_ERR_INVALID_ARG,
          "%s: backward without a training forward not refused", family);

    CHECK_OK(sbert_transformer_forward(f.t, f.ids, f.types, f.offs, f.n_seq, out_inf));
    CHECK_OK(fwd(&f, NULL, out));
    CHECK(memcmp(out, out_inf, T * H * sizeof(float)) == 0,
          "%s: training forward without dropout differs from the inference forward", family);
    double md = 0.0;
    for (size_t i = 0; i < T * H; i++) md = test_max_err(md, fabs((double)out[i] - f.last_hidden[i]));
    CHECK(md <= TOL_FORWARD, "%s: forward differs from torch by %.3g", family, md);

    CHECK_OK(sbert_transformer_backward(f.t, f.R, grads, d_emb));
    /* the largest reference gradient of all, to judge tensors whose true gradient is 0 */
    double gscale = 0.0;
    {
        const cJSON *e0;
        cJSON_ArrayForEach(e0, cJSON_GetObjectItemCaseSensitive(f.meta, "tensors")) {
            size_t n0 = 0;
            const float *r0 = tensor_data(&f, e0, &n0);
            const char *nm = cJSON_GetObjectItemCaseSensitive(e0, "name")->valuestring;
            if (!r0 || !strcmp(nm, "R") || !strcmp(nm, "last_hidden")) continue;
            for (size_t k = 0; k < n0; k++) gscale = fmax(gscale, fabs(r0[k]));
        }
    }
    double worst = 0.0, worst_zero = 0.0;
    char worst_name[128] = "";
    size_t n_checked = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(f.meta, "tensors")) {
        const char *name = cJSON_GetObjectItemCaseSensitive(e, "name")->valuestring;
        if (!strcmp(name, "R") || !strcmp(name, "last_hidden") || !strcmp(name, "inputs_embeds"))
            continue;
        size_t n = 0;
        const float *ref = tensor_data(&f, e, &n);
        const sbert_transformer_param *p = find_param(f.t, name);
        CHECK(p != NULL && ref != NULL, "%s: parameter %s not in the model table", family, name);
        if (!p || !ref) continue;
        const cJSON *rows = cJSON_GetObjectItemCaseSensitive(e, "rows");
        float *ours = malloc(n * sizeof(float));
        if (cJSON_IsArray(rows)) {
            size_t width = (size_t)p->shape[1], k = 0;
            const cJSON *r;
            cJSON_ArrayForEach(r, rows) {
                memcpy(ours + k * width, grads + p->offset + (size_t)r->valuedouble * width,
                       width * sizeof(float));
                k++;
            }
            CHECK(k * width == n, "%s: %s rows", family, name);
        } else {
            CHECK(n == p->numel, "%s: %s has %zu elements, reference %zu", family, name, p->numel, n);
            memcpy(ours, grads + p->offset, (n < p->numel ? n : p->numel) * sizeof(float));
        }
        double rmax = 0.0, omax = 0.0;
        for (size_t k = 0; k < n; k++) rmax = fmax(rmax, fabs(ref[k])), omax = test_max_err(omax, fabs(ours[k]));
        if (rmax < 1e-9 * gscale) {
            /* a gradient that is zero in exact arithmetic (the key bias: softmax
             * ignores a constant added to a row of scores): ours must be
             * round-off small against the largest gradient of the model */
            CHECK(omax < 1e-5 * gscale, "%s: d %s should be ~0, max |g| %.3g (model max %.3g)",
                  family, name, omax, gscale);
            worst_zero = fmax(worst_zero, omax / gscale);
            n_checked++;
            free(ours);
            continue;
        }
        double err = rel_err(ours, ref, n);
        CHECK(err < tol, "%s: d %s differs from torch autograd (max rel err %.3g)", family, name,
              err);
        if (err > worst) {
            worst = err;
            snprintf(worst_name, sizeof worst_name, "%s", name);
        }
        n_checked++;
        free(ours);
    }
    CHECK(n_checked >= 12, "%s: only %zu parameter gradients in the reference", family, n_checked);
    double emb_err = rel_err(d_emb, f.d_emb, T * H);
    CHECK(emb_err < tol, "%s: d inputs_embeds differs from torch (max rel err %.3g)", family,
          emb_err);
    printf("  %-12s forward max|d| %.2e; %zu parameter gradients vs torch: max rel err %.3e (%s); "
           "inputs_embeds %.3e; zero-gradient tensors max |g|/gmax %.1e\n",
           family, md, n_checked, worst, worst_name, emb_err, worst_zero);

    /* += : a second backward of the same forward doubles everything */
    float *g2 = calloc(n_floats, sizeof(float));
    CHECK_OK(sbert_transformer_backward(f.t, f.R, g2, NULL));
    CHECK_OK(sbert_transformer_backward(f.t, f.R, g2, NULL));
    float *twice = malloc(n_floats * sizeof(float));
    for (size_t i = 0; i < n_floats; i++) twice[i] = 2.0f * grads[i];
    double dd = rel_err(g2, twice, n_floats);
    CHECK(dd < 1e-5, "%s: second backward does not double the gradient (%.3g)", family, dd);

    /* determinism: a second forward + backward is bit-identical */
    float *g3 = calloc(n_floats, sizeof(float));
    CHECK_OK(fwd(&f, NULL, out));
    CHECK_OK(sbert_transformer_backward(f.t, f.R, g3, NULL));
    CHECK(memcmp(g3, grads, n_floats * sizeof(float)) == 0, "%s: two backward runs differ",
          family);

    free(out), free(out_inf), free(grads), free(d_emb), free(g2), free(twice), free(g3);
    free_fixture(&f);
}

/* Finite differences through the C forward, one directional derivative per
 * parameter tensor: u = random signs on every element (on the used rows of
 * the word and position tables), h = 1e-3 per element, and
 *     (L(w + h u) - L(w - h u)) / 2h   vs   sum_k g_k u_k.
 * A single-element difference of the fp32 forward drowns in round-off (the
 * loss carries ~1e-5 of noise); moving all elements at once gives a signal
 * ~sqrt(n) times larger at the same step. Tolerance 1e-2 of
 * max(|numeric|, 0.05 sum_k |g_k|, 2): the absolute floor (2e-2 of
 * allowed error) covers the noise for tensors whose true gradient is ~0 (the
 * key biases: softmax ignores a per-row constant). DistilBERT (ReLU) uses
 * h = 2e-4, a floor of 5 and a tolerance of 2e-2 (see below). */
static void test_finite_differences(const char *family, int drop) {
    fixture f;
    if (!load_fixture(family, &f)) {
        free_fixture(&f);
        return;
    }
    const size_t T = f.T, H = f.H;
    const uint64_t seed = 99;
    /* DistilBERT's ReLU: a step of 1e-3 crosses kinks (even a float64 torch
     * difference is off by 2-3% there), so a smaller step and, for the larger
     * fp32 noise that brings, a larger absolute floor */
    const int relu = !strcmp(family, "distilbert");
    const double h = relu ? 2e-4 : 1e-3, floor_abs = relu ? 5.0 : 2.0, tol = relu ? 2e-2 : 1e-2;
    size_t n_floats = 0;
    float *params = sbert_transformer_params(f.t, &n_floats);
    float *out = calloc(T * H, sizeof(float)), *grads = calloc(n_floats, sizeof(float));
    if (drop) CHECK_OK(sbert_transformer_set_dropout(f.t, 0.2f, 0.2f));
    loss_at(&f, drop, seed, out);
    CHECK_OK(sbert_transformer_backward(f.t, f.R, grads, NULL));
    /* rows of the position table in use: 0..maxL-1, shifted by pad+1 for the RoBERTa-like */
    const char *mt = sbert_transformer_model_type(f.t);
    size_t pos0 = (!strcmp(mt, "roberta") || !strcmp(mt, "xlm-roberta") || !strcmp(mt, "mpnet")) ? 2 : 0;
    size_t maxL = 0;
    for (size_t s = 0; s < f.n_seq; s++) maxL = f.offs[s + 1] - f.offs[s] > maxL ? f.offs[s + 1] - f.offs[s] : maxL;
    sbert_rng pick;
    sbert_rng_seed(&pick, 5);
    double worst = 0.0;
    char worst_name[160] = "";
    for (size_t i = 0; i < sbert_transformer_num_params(f.t); i++) {
        const sbert_transformer_param *p = sbert_transformer_param_at(f.t, i);
        size_t width = (size_t)p->shape[1];
        uint8_t *use = calloc(p->numel, 1);
        if (strstr(p->name, "word_embeddings")) {
            for (size_t k = 0; k < T; k++) memset(use + (size_t)f.ids[k] * width, 1, width);
        } else if (strstr(p->name, "position_embeddings")) {
            memset(use + pos0 * width, 1, maxL * width);
        } else {
            memset(use, 1, p->numel);
        }
        float *w = params + p->offset, *save = malloc(p->numel * sizeof(float));
        signed char *u = malloc(p->numel);
        memcpy(save, w, p->numel * sizeof(float));
        double ana = 0.0, gabs = 0.0;
        for (size_t k = 0; k < p->numel; k++) {
            u[k] = use[k] ? (sbert_rng_below(&pick, 2) ? 1 : -1) : 0;
            ana += (double)grads[p->offset + k] * u[k];
            gabs += fabs(grads[p->offset + k]) * (u[k] != 0);
        }
        for (size_t k = 0; k < p->numel; k++) w[k] = (float)(save[k] + h * u[k]);
        double lp = loss_at(&f, drop, seed, out);
        for (size_t k = 0; k < p->numel; k++) w[k] = (float)(save[k] - h * u[k]);
        double lm = loss_at(&f, drop, seed, out);
        memcpy(w, save, p->numel * sizeof(float));
        double num = (lp - lm) / (2.0 * h);
        double err = fabs(ana - num) / fmax(fabs(num), fmax(0.05 * gabs, floor_abs));
        if (err > worst) {
            worst = err;
            snprintf(worst_name, sizeof worst_name, "%s", p->name);
        }
        CHECK(err < tol, "%s%s: d %s along a random direction: analytic %.6g, finite difference %.6g",
              family, drop ? " (dropout)" : "", p->name, ana, num);
        free(use), free(save), free(u);
    }
    printf("  %-12s finite differences%s: %zu tensors, max rel err %.3e (%s)\n", family,
           drop ? " with dropout 0.2" : "", sbert_transformer_num_params(f.t), worst, worst_name);
    free(out), free(grads);
    free_fixture(&f);
}

static void test_dropout(void) {
    fixture f;
    if (!load_fixture("bert", &f)) {
        free_fixture(&f);
        return;
    }
    const size_t T = f.T, H = f.H;
    size_t n_floats = 0;
    sbert_transformer_params(f.t, &n_floats);
    float ph = -1, pa = -1;
    sbert_transformer_get_dropout(f.t, &ph, &pa);
    /* tiny-bert/config.json: hidden_dropout_prob 0.1, attention_probs_dropout_prob 0.1 */
    CHECK(fabsf(ph - 0.1f) < 1e-7f && fabsf(pa - 0.1f) < 1e-7f,
          "dropout from config.json: %g %g", (double)ph, (double)pa);
    CHECK(sbert_transformer_set_dropout(f.t, 1.0f, 0.1f) == SBERT_ERR_INVALID_ARG,
          "dropout 1.0 not refused");
    float *a = calloc(T * H, 4), *b = calloc(T * H, 4), *c = calloc(T * H, 4), *e = calloc(T * H, 4);
    float *ga = calloc(n_floats, 4), *gb = calloc(n_floats, 4);
    sbert_rng r1, r2, r3;
    sbert_rng_seed(&r1, 1), sbert_rng_seed(&r2, 1), sbert_rng_seed(&r3, 2);
    CHECK_OK(fwd(&f, &r1, a));
    CHECK_OK(sbert_transformer_backward(f.t, f.R, ga, NULL));
    CHECK_OK(fwd(&f, &r2, b));
    CHECK_OK(sbert_transformer_backward(f.t, f.R, gb, NULL));
    CHECK(memcmp(a, b, T * H * 4) == 0 && memcmp(ga, gb, n_floats * 4) == 0,
          "dropout: the same seed gives different outputs or gradients");
    CHECK(memcmp(&r1, &r2, sizeof r1) == 0, "dropout: the rng advanced differently");
    CHECK_OK(fwd(&f, &r3, c));
    CHECK(memcmp(a, c, T * H * 4) != 0, "dropout: another seed gives the same output");
    CHECK_OK(fwd(&f, NULL, e));
    CHECK(memcmp(a, e, T * H * 4) != 0, "dropout: training output equals the eval output");
    /* p = 0 with an rng: exactly eval mode, and the rng is not consumed */
    CHECK_OK(sbert_transformer_set_dropout(f.t, 0.0f, 0.0f));
    sbert_rng r4, r5;
    sbert_rng_seed(&r4, 3), sbert_rng_seed(&r5, 3);
    CHECK_OK(fwd(&f, &r4, b));
    CHECK(memcmp(b, e, T * H * 4) == 0 && memcmp(&r4, &r5, sizeof r4) == 0,
          "dropout 0: differs from eval mode or consumed random numbers");
    CHECK(sbert_transformer_activation_bytes(f.t) > 0, "no activations kept");
    sbert_transformer_release_activations(f.t);
    CHECK(sbert_transformer_activation_bytes(f.t) == 0, "activations not released");
    CHECK(sbert_transformer_backward(f.t, f.R, ga, NULL) == SBERT_ERR_INVALID_ARG,
          "backward after release not refused");
    /* an empty batch: the training forward keeps nothing and the backward adds nothing */
    const size_t empty_offs[1] = {0};
    float *gz = calloc(n_floats, 4);
    CHECK_OK(sbert_transformer_forward_train(f.t, f.ids, NULL, empty_offs, 0, &r1, a));
    CHECK_OK(sbert_transformer_backward(f.t, f.R, gz, NULL));
    int allzero = 1;
    for (size_t i = 0; i < n_floats; i++) allzero &= gz[i] == 0.0f;
    CHECK(allzero, "empty batch: backward changed the gradients");
    free(gz);
    free(a), free(b), free(c), free(e), free(ga), free(gb);
    free_fixture(&f);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    sbert_set_num_threads(2);
    static const char *fams[] = {"bert", "roberta", "xlm-roberta", "distilbert", "mpnet"};
    printf("against torch autograd (float64, eval mode):\n");
    for (size_t i = 0; i < 5; i++) test_against_torch(fams[i]);
    char minilm[4096];
    snprintf(minilm, sizeof minilm, "%s", test_path("models/all-MiniLM-L6-v2/model.safetensors"));
    if (TEST_REQUIRE_FILE(minilm, TEST_FETCH_MODELS)) test_against_torch("minilm");
    printf("finite differences through the fp32 C forward:\n");
    for (size_t i = 0; i < 5; i++) test_finite_differences(fams[i], 0);
    test_finite_differences("bert", 1);
    test_finite_differences("mpnet", 1);
    test_dropout();
    return test_summary();
}
