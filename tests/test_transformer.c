/*
 * tests/test_transformer.c -- the encoder forward pass against transformers.
 *
 * For every tiny random model in tests/data/models/tiny-<family>/ (made by
 * tools/gen_tiny_models.py: bert, roberta, xlm-roberta, distilbert, mpnet)
 * all reference sequences run packed in one batch and each one alone; every
 * component of last_hidden_state must match the reference computed by
 * transformers (fp32, each sequence alone, no padding) within TOL_TINY. The real
 * all-MiniLM-L6-v2 (models/, from tools/fetch_models.sh) is checked the same
 * way on rows kept in tests/data/models/minilm-ref, within TOL_MINILM; its
 * absence is a failure.
 * Also: the parameter count equals the Python model's, MPNet's relative
 * position buckets equal torch's, and malformed inputs fail with messages
 * naming the file/tensor/token.
 */
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/threads.h"
#include "io/file.h"
#include "io/safetensors.h"
#include "modules/transformer.h"
#include "test_util.h"

/* max |diff| of last_hidden_state against transformers. Measured (x86-64,
 * OpenBLAS): tiny models <= 2.3e-6 (mpnet, each sequence alone), real
 * all-MiniLM-L6-v2 2.3e-6 (hidden states of magnitude up to ~10). About twice
 * that, so a real change shows: setting the LayerNorm eps of one LayerNorm of
 * each layer from 1e-12 to 1e-5 moves tiny-bert by 8.8e-6 and MiniLM by 6e-5. */
#define TOL_TINY 5e-6
#define TOL_MINILM 5e-6

typedef struct {
    size_t n_seq, T, H;
    int32_t *ids, *types; /* [T]; types NULL when the reference has none */
    size_t *offs;         /* [n_seq + 1] */
    float *ref;           /* [rows, H] */
    size_t rows;
    size_t **row_index; /* minilm-ref: per sequence the kept rows (NULL: all rows kept) */
    size_t *n_rows;
    long n_params;
    cJSON *json;
} ref_data;

static void ref_free(ref_data *r) {
    free(r->ids);
    free(r->types);
    free(r->offs);
    free(r->ref);
    if (r->row_index) {
        for (size_t s = 0; s < r->n_seq; s++) free(r->row_index[s]);
        free(r->row_index);
    }
    free(r->n_rows);
    cJSON_Delete(r->json);
    memset(r, 0, sizeof *r);
}

static int ref_load(const char *dir, ref_data *r) {
    memset(r, 0, sizeof *r);
    char path[4096];
    snprintf(path, sizeof path, "%s/ref.json", dir);
    if (sbert_json_load(path, &r->json) != SBERT_OK) {
        fprintf(stderr, "%s\n", sbert_last_error());
        return 0;
    }
    cJSON *ids = cJSON_GetObjectItem(r->json, "input_ids");
    cJSON *types = cJSON_GetObjectItem(r->json, "token_type_ids");
    cJSON *ri = cJSON_GetObjectItem(r->json, "row_index");
    r->H = (size_t)cJSON_GetObjectItem(r->json, "hidden_size")->valueint;
    r->rows = (size_t)cJSON_GetObjectItem(r->json, "rows")->valueint;
    cJSON *np = cJSON_GetObjectItem(r->json, "n_params");
    r->n_params = np ? (long)np->valuedouble : -1;
    r->n_seq = (size_t)cJSON_GetArraySize(ids);
    r->offs = calloc(r->n_seq + 1, sizeof(size_t));
    for (size_t s = 0; s < r->n_seq; s++)
        r->offs[s + 1] = r->offs[s] + (size_t)cJSON_GetArraySize(cJSON_GetArrayItem(ids, (int)s));
    r->T = r->offs[r->n_seq];
    r->ids = malloc(r->T * sizeof(int32_t));
    if (cJSON_IsArray(types)) r->types = malloc(r->T * sizeof(int32_t));
    for (size_t s = 0; s < r->n_seq; s++) {
        cJSON *a = cJSON_GetArrayItem(ids, (int)s);
        cJSON *b = r->types ? cJSON_GetArrayItem(types, (int)s) : NULL;
        for (size_t i = 0; i < r->offs[s + 1] - r->offs[s]; i++) {
            r->ids[r->offs[s] + i] = (int32_t)cJSON_GetArrayItem(a, (int)i)->valueint;
            if (b) r->types[r->offs[s] + i] = (int32_t)cJSON_GetArrayItem(b, (int)i)->valueint;
        }
    }
    if (cJSON_IsArray(ri)) {
        r->row_index = calloc(r->n_seq, sizeof(size_t *));
        r->n_rows = calloc(r->n_seq, sizeof(size_t));
        for (size_t s = 0; s < r->n_seq; s++) {
            cJSON *a = cJSON_GetArrayItem(ri, (int)s);
            r->n_rows[s] = (size_t)cJSON_GetArraySize(a);
            r->row_index[s] = malloc(r->n_rows[s] * sizeof(size_t));
            for (size_t k = 0; k < r->n_rows[s]; k++)
                r->row_index[s][k] = (size_t)cJSON_GetArrayItem(a, (int)k)->valueint;
        }
    }
    /* the rows compare() walks must be exactly the rows stored (and not none) */
    size_t want_rows = 0;
    for (size_t s = 0; s < r->n_seq; s++)
        want_rows += r->row_index ? r->n_rows[s] : r->offs[s + 1] - r->offs[s];
    if (r->n_seq == 0 || r->rows == 0 || want_rows != r->rows) {
        fprintf(stderr, "%s/ref.json: %zu sequences, \"rows\" %zu, the sequences give %zu rows\n",
                dir, r->n_seq, r->rows, want_rows);
        return 0;
    }
    snprintf(path, sizeof path, "%s/ref_hidden.bin", dir);
    size_t len = 0;
    char *bin = test_read_file(path, &len);
    if (!bin || len != r->rows * r->H * sizeof(float)) {
        fprintf(stderr, "%s: expected %zu bytes, got %zu\n", path, r->rows * r->H * sizeof(float),
                len);
        free(bin);
        return 0;
    }
    r->ref = malloc(len);
    memcpy(r->ref, bin, len);
    free(bin);
    return 1;
}

/* max |out - ref| over the reference rows of sequences [s0, s1) of a forward
 * whose output rows start at sequence s0 (out row of token i of seq s: offs[s]-offs[s0]+i). */
static double compare(const ref_data *r, const float *out, size_t s0, size_t s1) {
    double worst = 0.0;
    size_t ref_row = 0;
    for (size_t s = 0; s < r->n_seq; s++) {
        size_t L = r->offs[s + 1] - r->offs[s];
        size_t nk = r->row_index ? r->n_rows[s] : L;
        for (size_t k = 0; k < nk; k++, ref_row++) {
            if (s < s0 || s >= s1) continue;
            size_t i = r->row_index ? r->row_index[s][k] : k;
            const float *o = out + (r->offs[s] - r->offs[s0] + i) * r->H;
            const float *e = r->ref + ref_row * r->H;
            for (size_t j = 0; j < r->H; j++) {
                double dlt = fabs((double)o[j] - (double)e[j]);
                if (dlt > worst || dlt != dlt) worst = dlt != dlt ? 1e30 : dlt;
            }
        }
    }
    return worst;
}

static void check_model(const char *model_dir, const char *ref_dir, const char *label,
                        double tol) {
    ref_data r;
    if (!ref_load(ref_dir, &r)) {
        CHECK(0, "%s: cannot read the reference in %s", label, ref_dir);
        ref_free(&r);
        return;
    }
    sbert_transformer *t = NULL;
    CHECK_OK(sbert_transformer_load(model_dir, &t));
    if (!t) {
        ref_free(&r);
        return;
    }
    CHECK(sbert_transformer_hidden_size(t) == r.H, "%s: hidden size %zu, reference %zu", label,
          sbert_transformer_hidden_size(t), r.H);
    if (r.n_params > 0) {
        size_t nf = 0;
        sbert_transformer_params(t, &nf);
        CHECK((long)nf == r.n_params, "%s: %zu parameters loaded, transformers has %ld", label, nf,
              r.n_params);
    }
    /* all sequences packed together */
    float *out = malloc(r.T * r.H * sizeof(float));
    CHECK_OK(sbert_transformer_forward(t, r.ids, r.types, r.offs, r.n_seq, out));
    double packed = compare(&r, out, 0, r.n_seq);
    CHECK(packed <= tol, "%s packed: max |diff| %.3g > %.g", label, packed, tol);
    /* each sequence alone */
    double alone = 0.0;
    for (size_t s = 0; s < r.n_seq; s++) {
        size_t offs1[2] = {0, r.offs[s + 1] - r.offs[s]};
        CHECK_OK(sbert_transformer_forward(t, r.ids + r.offs[s], r.types ? r.types + r.offs[s] : NULL,
                                           offs1, 1, out));
        double d = compare(&r, out, s, s + 1);
        if (d > alone) alone = d;
    }
    CHECK(alone <= tol, "%s alone: max |diff| %.3g > %.g", label, alone, tol);
    printf("%-18s %zu seqs, %zu tokens: max |diff| packed %.3g, alone %.3g\n", label, r.n_seq, r.T,
           packed, alone);
    free(out);
    sbert_transformer_free(t);
    ref_free(&r);
}

/* MPNet buckets against torch's relative_position_bucket for -520..520. */
static void check_mpnet_buckets(void) {
    cJSON *j = NULL;
    CHECK_OK(sbert_json_load(test_path("tests/data/models/tiny-mpnet/ref.json"), &j));
    if (!j) return;
    cJSON *b = cJSON_GetObjectItem(j, "rel_buckets");
    int first = cJSON_GetObjectItem(j, "rel_bucket_first")->valueint;
    int n = cJSON_GetArraySize(b), bad = 0;
    CHECK(n > 1000, "rel_buckets has %d entries", n);
    for (int i = 0; i < n; i++) {
        int want = cJSON_GetArrayItem(b, i)->valueint;
        int got = sbert_mpnet_relative_bucket(first + i, 32, 128);
        if (got != want && bad++ < 5)
            fprintf(stderr, "bucket(%d) = %d, torch %d\n", first + i, got, want);
    }
    CHECK(bad == 0, "%d MPNet buckets differ from torch", bad);
    cJSON_Delete(j);
}

static int write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fputs(text, f);
    fclose(f);
    return 1;
}

static int contains(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

/* A temp model dir: config.json text + a symlink to tiny-bert's weights. */
static void make_dir(char *dir, size_t cap, const char *config) {
    snprintf(dir, cap, "/tmp/sbert_test_transformer_XXXXXX");
    if (!mkdtemp(dir)) {
        dir[0] = '\0';
        return;
    }
    char p[4200];
    snprintf(p, sizeof p, "%s/config.json", dir);
    write_text(p, config);
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    char target[4096];
    snprintf(target, sizeof target, "%s", test_path("tests/data/models/tiny-bert/model.safetensors"));
    if (target[0] != '/') {
        char cwd[2048];
        if (getcwd(cwd, sizeof cwd)) {
            char abs[4096 + 2048 + 2];
            snprintf(abs, sizeof abs, "%s/%s", cwd, target);
            if (symlink(abs, p) != 0) dir[0] = '\0';
            return;
        }
    }
    if (symlink(target, p) != 0) dir[0] = '\0';
}

static void remove_dir(const char *dir) {
    char p[4200];
    snprintf(p, sizeof p, "%s/config.json", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    unlink(p);
    rmdir(dir);
}

static const char *bert_cfg_fmt =
    "{\"model_type\": \"%s\", \"hidden_size\": %d, \"num_hidden_layers\": 2, "
    "\"num_attention_heads\": 4, \"intermediate_size\": 64, \"hidden_act\": \"%s\", "
    "\"max_position_embeddings\": 512, \"type_vocab_size\": 2, \"vocab_size\": 30522}";

static void check_errors(void) {
    char dir[256], cfg[1024];
    sbert_transformer *t = NULL;

    snprintf(cfg, sizeof cfg, bert_cfg_fmt, "gpt2", 32, "gelu");
    make_dir(dir, sizeof dir, cfg);
    CHECK(dir[0], "temp dir");
    CHECK(sbert_transformer_load(dir, &t) == SBERT_ERR_UNSUPPORTED && t == NULL,
          "gpt2 must be unsupported");
    CHECK(contains(sbert_last_error(), "gpt2") && contains(sbert_last_error(), "distilbert") &&
              contains(sbert_last_error(), "config.json"),
          "message lists the supported types: %s", sbert_last_error());
    remove_dir(dir);

    /* hidden 48 against a 32-wide checkpoint: names tensor and both shapes */
    snprintf(cfg, sizeof cfg, bert_cfg_fmt, "bert", 48, "gelu");
    make_dir(dir, sizeof dir, cfg);
    CHECK(sbert_transformer_load(dir, &t) == SBERT_ERR_FORMAT && t == NULL, "shape mismatch fails");
    CHECK(contains(sbert_last_error(), "model.safetensors") &&
              contains(sbert_last_error(), "embeddings.word_embeddings.weight") &&
              contains(sbert_last_error(), "48") && contains(sbert_last_error(), "32"),
          "shape message: %s", sbert_last_error());
    remove_dir(dir);

    /* three layers in config, two in the file: names the missing tensor */
    char cfg3[1024];
    snprintf(cfg3, sizeof cfg3, "%s", cfg);
    snprintf(cfg, sizeof cfg, bert_cfg_fmt, "bert", 32, "gelu");
    char *p = strstr(cfg, "\"num_hidden_layers\": 2");
    if (p) p[strlen("\"num_hidden_layers\": ")] = '3';
    make_dir(dir, sizeof dir, cfg);
    CHECK(sbert_transformer_load(dir, &t) == SBERT_ERR_FORMAT, "missing layer fails");
    CHECK(contains(sbert_last_error(), "encoder.layer.2.attention.self.query.weight"),
          "missing-tensor message: %s", sbert_last_error());
    remove_dir(dir);

    snprintf(cfg, sizeof cfg, bert_cfg_fmt, "bert", 32, "swiglu_x");
    make_dir(dir, sizeof dir, cfg);
    CHECK(sbert_transformer_load(dir, &t) == SBERT_ERR_UNSUPPORTED, "unknown activation fails");
    CHECK(contains(sbert_last_error(), "swiglu_x"), "activation message: %s", sbert_last_error());
    remove_dir(dir);

    CHECK(sbert_transformer_load("/nonexistent/dir", &t) != SBERT_OK && t == NULL,
          "missing dir fails");

    /* forward-time checks */
    CHECK_OK(sbert_transformer_load(test_path("tests/data/models/tiny-roberta"), &t));
    if (t) {
        CHECK(sbert_transformer_max_tokens(t) == 512, "roberta max tokens %zu",
              sbert_transformer_max_tokens(t));
        CHECK(strcmp(sbert_transformer_model_type(t), "roberta") == 0, "model type");
        int32_t ids[3] = {0, 60000, 2};
        size_t offs[2] = {0, 3};
        float out[3 * 32];
        CHECK(sbert_transformer_forward(t, ids, NULL, offs, 1, out) == SBERT_ERR_INVALID_ARG,
              "id out of range fails");
        CHECK(contains(sbert_last_error(), "60000"), "id message: %s", sbert_last_error());
        size_t n = 513;
        int32_t *long_ids = malloc(n * sizeof(int32_t));
        float *long_out = malloc(n * 32 * sizeof(float));
        for (size_t i = 0; i < n; i++) long_ids[i] = 100;
        size_t offs2[2] = {0, n};
        CHECK(sbert_transformer_forward(t, long_ids, NULL, offs2, 1, long_out) == SBERT_ERR_INVALID_ARG,
              "513 tokens must fail for roberta");
        offs2[1] = 512;
        CHECK_OK(sbert_transformer_forward(t, long_ids, NULL, offs2, 1, long_out));
        free(long_ids);
        free(long_out);
        sbert_transformer_free(t);
    }
}

/* Two threads running forwards on one model at the same time (one gets the
 * model's kept workspace, the other its own): every output equals the
 * single-threaded one, bit for bit, and repeated calls reuse the workspace
 * without carrying anything over. */
typedef struct {
    sbert_transformer *t;
    const ref_data *r;
    const float *want;
    int same;
} conc_arg;

static void *conc_worker(void *va) {
    conc_arg *a = va;
    float *out = malloc(a->r->T * a->r->H * sizeof(float));
    a->same = out != NULL;
    for (int i = 0; i < 40 && a->same; i++) {
        if (sbert_transformer_forward(a->t, a->r->ids, a->r->types, a->r->offs, a->r->n_seq, out) != SBERT_OK ||
            memcmp(out, a->want, a->r->T * a->r->H * sizeof(float)) != 0)
            a->same = 0;
    }
    free(out);
    return NULL;
}

static void check_concurrent(void) {
    const char *dir = test_path("tests/data/models/tiny-bert");
    ref_data r;
    if (!ref_load(dir, &r)) {
        CHECK(0, "tiny-bert: cannot read the reference");
        ref_free(&r);
        return;
    }
    sbert_transformer *t = NULL;
    CHECK_OK(sbert_transformer_load(dir, &t));
    if (!t) {
        ref_free(&r);
        return;
    }
    sbert_set_num_threads(1);
    float *want = malloc(r.T * r.H * sizeof(float));
    CHECK_OK(sbert_transformer_forward(t, r.ids, r.types, r.offs, r.n_seq, want));
    /* a shorter call in between must not change the next full one */
    size_t offs1[2] = {0, r.offs[1]};
    float *tmp = malloc(r.T * r.H * sizeof(float));
    CHECK_OK(sbert_transformer_forward(t, r.ids, r.types, offs1, 1, tmp));
    CHECK_OK(sbert_transformer_forward(t, r.ids, r.types, r.offs, r.n_seq, tmp));
    CHECK(memcmp(tmp, want, r.T * r.H * sizeof(float)) == 0, "workspace reuse: same output");
    conc_arg a[2] = {{t, &r, want, 0}, {t, &r, want, 0}};
    pthread_t th[2];
    int started = 0;
    for (int i = 0; i < 2; i++) started += pthread_create(&th[i], NULL, conc_worker, &a[i]) == 0;
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    CHECK(started == 2 && a[0].same && a[1].same,
          "two threads on one model at once: outputs equal the single-threaded ones");
    sbert_set_num_threads(0);
    free(want);
    free(tmp);
    sbert_transformer_free(t);
    ref_free(&r);
}

/* The param table covers the flat buffer exactly, q/k/v adjacent. */
static void check_table(void) {
    sbert_transformer *t = NULL;
    CHECK_OK(sbert_transformer_load(test_path("tests/data/models/tiny-bert"), &t));
    if (!t) return;
    size_t nf = 0, next = 0;
    sbert_transformer_params(t, &nf);
    int ok = 1;
    for (size_t i = 0; i < sbert_transformer_num_params(t); i++) {
        const sbert_transformer_param *p = sbert_transformer_param_at(t, i);
        if (p->offset != next) ok = 0;
        next = p->offset + p->numel;
        if (strcmp(p->name, "encoder.layer.1.attention.self.query.weight") == 0) {
            const sbert_transformer_param *k = sbert_transformer_param_at(t, i + 1);
            CHECK(k && strcmp(k->name, "encoder.layer.1.attention.self.key.weight") == 0 &&
                      k->offset == p->offset + 32 * 32,
                  "key weight follows query weight");
        }
    }
    CHECK(ok && next == nf, "param table tiles the buffer (%zu of %zu)", next, nf);
    CHECK(sbert_transformer_param_at(t, sbert_transformer_num_params(t)) == NULL, "out of range");
    sbert_transformer_free(t);
}

/* DistilBERT with sinusoidal_pos_embds and no position table in the file:
 * the table is computed, equal to transformers' create_sinusoidal_embeddings. */
static void check_sinusoidal(void) {
    cJSON *kr = NULL;
    CHECK_OK(sbert_json_load(test_path("tests/data/models/kernel-ref/ref.json"), &kr));
    sbert_safetensors *st = NULL;
    char src[4096];
    snprintf(src, sizeof src, "%s", test_path("tests/data/models/tiny-distilbert/model.safetensors"));
    CHECK_OK(sbert_st_open(src, &st));
    char dir[] = "/tmp/sbert_test_sinus_XXXXXX";
    if (!kr || !st || !mkdtemp(dir)) {
        CHECK(0, "sinusoidal setup");
        cJSON_Delete(kr);
        sbert_st_close(st);
        return;
    }
    size_t n = sbert_st_count(st), m = 0;
    sbert_st_entry *e = calloc(n, sizeof *e);
    float **bufs = calloc(n, sizeof *bufs);
    for (size_t i = 0; i < n; i++) {
        const sbert_st_tensor *t = sbert_st_at(st, i);
        if (strcmp(t->name, "embeddings.position_embeddings.weight") == 0) continue;
        size_t numel = 1;
        for (int d = 0; d < t->ndim; d++) numel *= (size_t)t->shape[d];
        bufs[m] = malloc((numel ? numel : 1) * sizeof(float));
        CHECK_OK(sbert_st_read_f32(st, t->name, NULL, 0, bufs[m]));
        e[m].name = t->name;
        e[m].data = bufs[m];
        e[m].ndim = t->ndim;
        for (int d = 0; d < t->ndim; d++) e[m].shape[d] = t->shape[d];
        m++;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    CHECK_OK(sbert_st_write(path, e, m, NULL, 0));
    snprintf(path, sizeof path, "%s/config.json", dir);
    write_text(path, "{\"model_type\": \"distilbert\", \"dim\": 32, \"n_layers\": 2, \"n_heads\": 4, "
                     "\"hidden_dim\": 64, \"activation\": \"relu\", \"vocab_size\": 30522, "
                     "\"max_position_embeddings\": 512, \"sinusoidal_pos_embds\": true}");
    sbert_transformer *t = NULL;
    CHECK_OK(sbert_transformer_load(dir, &t));
    if (t) {
        const float *params = sbert_transformer_params(t, NULL);
        const float *pos = NULL;
        for (size_t i = 0; i < sbert_transformer_num_params(t); i++) {
            const sbert_transformer_param *p = sbert_transformer_param_at(t, i);
            if (strcmp(p->name, "embeddings.position_embeddings.weight") == 0) pos = params + p->offset;
        }
        cJSON *want = cJSON_GetObjectItem(kr, "sinusoid");
        int cnt = cJSON_GetArraySize(want);
        double worst = 0;
        for (int i = 0; pos && i < cnt; i++) {
            double d = fabs(pos[i] - cJSON_GetArrayItem(want, i)->valuedouble);
            worst = test_max_err(worst, d);
        }
        CHECK(pos && cnt == 8 * 32 && worst <= 1e-6, "sinusoidal table: max |diff| %.3g", worst);
        sbert_transformer_free(t);
    }
    /* without sinusoidal_pos_embds the missing table is an error naming it */
    write_text(path, "{\"model_type\": \"distilbert\", \"dim\": 32, \"n_layers\": 2, \"n_heads\": 4, "
                     "\"hidden_dim\": 64, \"vocab_size\": 30522, \"max_position_embeddings\": 512}");
    CHECK(sbert_transformer_load(dir, &t) == SBERT_ERR_FORMAT, "missing position table fails");
    CHECK(contains(sbert_last_error(), "embeddings.position_embeddings.weight"), "message: %s",
          sbert_last_error());
    unlink(path);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    unlink(path);
    rmdir(dir);
    for (size_t i = 0; i < m; i++) free(bufs[i]);
    free(bufs);
    free(e);
    sbert_st_close(st);
    cJSON_Delete(kr);
}

int main(void) {
    static const char *fams[] = {"bert", "roberta", "xlm-roberta", "distilbert", "mpnet"};
    char model[4096], label[64];
    for (int threads = 1; threads <= 2; threads++) {
        sbert_set_num_threads(threads);
        for (size_t i = 0; i < sizeof fams / sizeof fams[0]; i++) {
            snprintf(model, sizeof model, "tests/data/models/tiny-%s", fams[i]);
            snprintf(model, sizeof model, "%s", test_path(model));
            snprintf(label, sizeof label, "tiny-%s/%dt", fams[i], threads);
            check_model(model, model, label, TOL_TINY);
        }
    }
    check_mpnet_buckets();
    check_table();
    check_concurrent();
    check_errors();
    check_sinusoidal();

    char minilm[4096];
    snprintf(minilm, sizeof minilm, "%s", test_path("models/all-MiniLM-L6-v2"));
    char mref[4096];
    snprintf(mref, sizeof mref, "%s", test_path("tests/data/models/minilm-ref"));
    char cfgp[4200];
    snprintf(cfgp, sizeof cfgp, "%s/model.safetensors", minilm);
    if (TEST_REQUIRE_FILE(cfgp, TEST_FETCH_MODELS)) {
        sbert_set_num_threads(0);
        check_model(minilm, mref, "all-MiniLM-L6-v2", TOL_MINILM);
    }
    return test_summary();
}
