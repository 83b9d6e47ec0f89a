/*
 * modules/static_warmstart.c -- StaticEmbedding from a teacher by
 * distillation, or from a model2vec directory (see static_warmstart.h).
 */
#include "modules/static_warmstart.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <cblas.h>
#include <cjson/cJSON.h>
#include <pcre2.h>

#include "base/error.h"
#include "kernels/pca.h"
#include "io/file.h"
#include "io/dirs.h"
#include "io/safetensors.h"
#include "modules/static_embedding.h"

/* LAPACK (OpenBLAS exports it): the symmetric eigensolver numpy.linalg.eigh uses. */

static void say(const sbert_distill_options *o, const char *fmt, ...) SBERT_PRINTF(2, 3);
static void say(const sbert_distill_options *o, const char *fmt, ...) {
    if (!o || !o->log)
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    o->log(buf, o->log_user);
}

sbert_distill_options sbert_distill_options_default(void) {
    sbert_distill_options o;
    memset(&o, 0, sizeof o);
    o.pca_dims = 256;
    o.sif_coefficient = 1e-4;
    o.token_remove_pattern = "\\[unused\\d+\\]";
    o.batch_size = 256;
    return o;
}

/* ------------------------------------------------------------ vocabulary */

typedef struct {
    const char *tok;
    int32_t id;
} vocab_ent;

static int cmp_id(const void *a, const void *b) {
    int32_t x = ((const vocab_ent *)a)->id, y = ((const vocab_ent *)b)->id;
    return x < y ? -1 : x > y;
}

sbert_status sbert_distill_vocabulary(const char *text, size_t len, const char *name, const char *remove_pattern,
                                      const char *pad_fallback, long model_max_length, int32_t **keep_out,
                                      size_t *n_keep, char **tok_json) {
    *keep_out = NULL;
    *tok_json = NULL;
    *n_keep = 0;
    cJSON *j = cJSON_ParseWithLength(text, len);
    if (!j)
        return sbert_fail(SBERT_ERR_FORMAT, "%s: not valid JSON", name);
    sbert_status st = SBERT_OK;
    vocab_ent *ents = NULL;
    int32_t *keep = NULL;
    pcre2_code *re = NULL;
    pcre2_match_data *md = NULL;
    cJSON *model = cJSON_GetObjectItem(j, "model");
    cJSON *type = cJSON_GetObjectItem(model, "type"), *vocab = cJSON_GetObjectItem(model, "vocab");
    /* a model without "type" is a WordPiece when it has WordPiece's fields (HF tokenizers infers it) */
    int wordpiece = cJSON_IsString(type) ? strcmp(type->valuestring, "WordPiece") == 0
                                         : cJSON_GetObjectItem(model, "max_input_chars_per_word") &&
                                               !cJSON_GetObjectItem(model, "merges");
    if (!wordpiece || !cJSON_IsObject(vocab)) {
        st = sbert_fail(SBERT_ERR_UNSUPPORTED,
                        "%s: distilling a StaticEmbedding is supported for WordPiece vocabularies (BERT family) "
                        "only; this tokenizer's model is '%s'",
                        name, cJSON_IsString(type) ? type->valuestring : "(no type)");
        goto done;
    }
    const char *unk = cJSON_GetStringValue(cJSON_GetObjectItem(model, "unk_token"));
    const cJSON *padding = cJSON_GetObjectItem(j, "padding");
    const char *pad = cJSON_IsObject(padding) ? cJSON_GetStringValue(cJSON_GetObjectItem(padding, "pad_token")) : NULL;
    if (!pad)
        pad = pad_fallback;
    if (remove_pattern) {
        int err;
        PCRE2_SIZE off;
        re = pcre2_compile((PCRE2_SPTR)remove_pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP | PCRE2_ANCHORED,
                           &err, &off, NULL);
        if (!re) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(err, msg, sizeof msg);
            st = sbert_fail(SBERT_ERR_INVALID_ARG, "token_remove_pattern '%s': %s at offset %zu", remove_pattern,
                            (const char *)msg, (size_t)off);
            goto done;
        }
        md = pcre2_match_data_create_from_pattern(re, NULL);
    }
    size_t nv = (size_t)cJSON_GetArraySize(vocab);
    ents = malloc((nv ? nv : 1) * sizeof *ents);
    keep = malloc((nv ? nv : 1) * sizeof *keep);
    if (!ents || !keep) {
        st = sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory (%zu tokens)", name, nv);
        goto done;
    }
    size_t n = 0;
    for (const cJSON *e = vocab->child; e; e = e->next) {
        if (!cJSON_IsNumber(e)) {
            st = sbert_fail(SBERT_ERR_FORMAT, "%s: model.vocab[\"%s\"] is not a number", name, e->string);
            goto done;
        }
        ents[n].tok = e->string;
        ents[n].id = (int32_t)e->valuedouble;
        n++;
    }
    qsort(ents, n, sizeof *ents, cmp_id);
    const cJSON *added = cJSON_GetObjectItem(j, "added_tokens");
    cJSON *new_vocab = cJSON_CreateObject();
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *t = ents[i].tok;
        int drop = 0;
        const cJSON *a;
        cJSON_ArrayForEach(a, added) {
            const char *c = cJSON_GetStringValue(cJSON_GetObjectItem(a, "content"));
            if (c && strcmp(c, t) == 0 && !(unk && strcmp(t, unk) == 0) && !(pad && strcmp(t, pad) == 0))
                drop = 1;
        }
        if (!drop && re && pcre2_match(re, (PCRE2_SPTR)t, PCRE2_ZERO_TERMINATED, 0, 0, md, NULL) >= 0)
            drop = 1;
        if (drop)
            continue;
        keep[k] = ents[i].id;
        cJSON_AddItemToObject(new_vocab, t, cJSON_CreateNumber((double)k));
        k++;
    }
    if (k == 0) {
        cJSON_Delete(new_vocab);
        st = sbert_fail(SBERT_ERR_INVALID_ARG,
                        "%s: The vocabulary is empty after preprocessing. Please check your token_remove_pattern.", name);
        goto done;
    }
    /* added tokens: the unknown and padding tokens, renumbered */
    cJSON *new_added = cJSON_CreateArray();
    const cJSON *a;
    cJSON_ArrayForEach(a, added) {
        const char *c = cJSON_GetStringValue(cJSON_GetObjectItem(a, "content"));
        if (!c || !((unk && strcmp(c, unk) == 0) || (pad && strcmp(c, pad) == 0)))
            continue;
        const cJSON *id = cJSON_GetObjectItem(new_vocab, c);
        if (!id)
            continue;
        cJSON *copy = cJSON_Duplicate(a, 1);
        cJSON_ReplaceItemInObject(copy, "id", cJSON_CreateNumber(id->valuedouble));
        cJSON_AddItemToArray(new_added, copy);
    }
    cJSON_ReplaceItemInObject(model, "vocab", new_vocab);
    cJSON_ReplaceItemInObject(j, "added_tokens", new_added);
    cJSON_ReplaceItemInObject(j, "post_processor", cJSON_CreateNull());
    cJSON_ReplaceItemInObject(j, "padding", cJSON_CreateNull());
    if (model_max_length > 0) {
        cJSON *tr = cJSON_CreateObject();
        cJSON_AddStringToObject(tr, "direction", "Right");
        cJSON_AddNumberToObject(tr, "max_length", (double)model_max_length);
        cJSON_AddStringToObject(tr, "strategy", "LongestFirst");
        cJSON_AddNumberToObject(tr, "stride", 0);
        cJSON_ReplaceItemInObject(j, "truncation", tr);
    }
    *tok_json = cJSON_PrintUnformatted(j);
    if (!*tok_json) {
        st = sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory writing the new tokenizer", name);
        goto done;
    }
    *keep_out = keep;
    keep = NULL;
    *n_keep = k;
done:
    free(ents);
    free(keep);
    if (md)
        pcre2_match_data_free(md);
    if (re)
        pcre2_code_free(re);
    cJSON_Delete(j);
    return st;
}

/* ------------------------------------------------------------------- PCA */

sbert_status sbert_distill_pca(float *x, size_t n, size_t d, size_t pca_dims, float *out, size_t *k_out) {
    *k_out = 0;
    size_t k = pca_dims > d ? d : pca_dims;
    if (k >= n)
        return SBERT_OK; /* model2vec: "larger than the number of tokens ... Not applying PCA" */
    /* In double precision: numpy runs model2vec's PCA in float32, whose own
     * error (against exact arithmetic) is what separates two float32
     * implementations; the exact decomposition sits within that error of it. */
    double *xc = malloc(n * d * sizeof *xc), *comp = malloc(k * d * sizeof *comp), *sc = malloc(n * k * sizeof *sc);
    sbert_status st = SBERT_OK;
    if (!xc || !comp || !sc) {
        st = sbert_fail(SBERT_ERR_NOMEM, "PCA: out of memory (%zu x %zu)", n, d);
        goto done;
    }
    for (size_t i = 0; i < n * d; i++) xc[i] = (double)x[i];
    if ((st = sbert_pca_components(xc, n, d, k, comp)) != SBERT_OK) goto done;
    /* scores = Xc @ components^T */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)k, (int)d, 1.0, xc, (int)d, comp, (int)d, 0.0, sc,
                (int)k);
    /* sign: the largest |score| of each component positive (first one on ties, as argmax) */
    for (size_t c = 0; c < k; c++) {
        size_t arg = 0;
        double best = -1;
        for (size_t i = 0; i < n; i++) {
            double a = fabs(sc[i * k + c]);
            if (a > best) {
                best = a;
                arg = i;
            }
        }
        double v = sc[arg * k + c];
        double sg = v > 0 ? 1.0 : v < 0 ? -1.0 : 0.0;
        for (size_t i = 0; i < n; i++)
            out[i * k + c] = (float)(sc[i * k + c] * sg);
    }
    *k_out = k;
done:
    free(xc);
    free(comp);
    free(sc);
    return st;
}

/* ---------------------------------------------------------- distillation */

/* The teacher's special tokens around one text: ids before and after it. */
static sbert_status special_wrap(const sbert_tokenizer *tok, int32_t *pre, size_t *npre, int32_t *post, size_t *npost) {
    sbert_tokenize_options with = sbert_tokenize_options_default(), without = with;
    without.add_special_tokens = 0;
    with.max_length = without.max_length = -1;
    sbert_encoding a, b;
    SBERT_TRY(sbert_tokenizer_encode(tok, "hello", 5, NULL, 0, &with, &a));
    sbert_status st = sbert_tokenizer_encode(tok, "hello", 5, NULL, 0, &without, &b);
    if (st != SBERT_OK) {
        sbert_encoding_free(&a);
        return st;
    }
    size_t at = (size_t)-1;
    for (size_t i = 0; i + b.len <= a.len && at == (size_t)-1; i++)
        if (memcmp(a.input_ids + i, b.input_ids, b.len * sizeof *b.input_ids) == 0)
            at = i;
    if (at == (size_t)-1 || at > 8 || a.len - at - b.len > 8) {
        sbert_encoding_free(&a);
        sbert_encoding_free(&b);
        return sbert_fail(SBERT_ERR_UNSUPPORTED, "distillation: cannot find the teacher's special tokens around a text");
    }
    *npre = at;
    *npost = a.len - at - b.len;
    memcpy(pre, a.input_ids, at * sizeof *pre);
    memcpy(post, a.input_ids + at + b.len, *npost * sizeof *post);
    sbert_encoding_free(&a);
    sbert_encoding_free(&b);
    return SBERT_OK;
}

/* model_max_length (0 when absent or huge) and pad_token from dir/tokenizer_config.json. */
static long tokenizer_config(const char *dir, char *pad, size_t pad_cap) {
    char path[4096];
    pad[0] = 0;
    if (sbert_path_join(path, sizeof path, dir, "tokenizer_config.json") != SBERT_OK || !sbert_file_exists(path))
        return 0;
    cJSON *j = NULL;
    if (sbert_json_load(path, &j) != SBERT_OK) {
        sbert_error_clear();
        return 0;
    }
    const cJSON *v = cJSON_GetObjectItem(j, "model_max_length");
    long r = cJSON_IsNumber(v) && v->valuedouble > 0 && v->valuedouble < 1e9 ? (long)v->valuedouble : 0;
    const cJSON *p = cJSON_GetObjectItem(j, "pad_token");
    if (cJSON_IsObject(p))
        p = cJSON_GetObjectItem(p, "content");
    if (cJSON_IsString(p))
        snprintf(pad, pad_cap, "%s", p->valuestring);
    cJSON_Delete(j);
    return r;
}

/* Build a StaticEmbedding model over tokenizer text `tok_json` with rows w [vocab, dim]. */
static sbert_status static_model_from(const char *tok_json, size_t tok_len, const float *w, size_t vocab, size_t dim,
                                      sbert_model **out) {
    char tmp[] = "/tmp/sbert-tokenizer-XXXXXX";
    int fd = mkstemp(tmp);
    if (fd < 0)
        return sbert_fail(SBERT_ERR_IO, "cannot create a temporary tokenizer file in /tmp");
    size_t off = 0;
    while (off < tok_len) {
        ssize_t wr = write(fd, tok_json + off, tok_len - off);
        if (wr <= 0)
            break;
        off += (size_t)wr;
    }
    close(fd);
    sbert_status st = off == tok_len ? sbert_model_new_static(tmp, dim, 0, out)
                                     : sbert_fail(SBERT_ERR_IO, "cannot write the temporary tokenizer file %s", tmp);
    unlink(tmp);
    SBERT_TRY(st);
    sbert_static_embedding *e = sbert_static_module_table(sbert_model_input(*out));
    if (!e || e->vocab != vocab || e->dim != dim) {
        sbert_model_free(*out);
        *out = NULL;
        return sbert_fail(SBERT_ERR_FORMAT, "the tokenizer has %zu tokens but the table %zu rows",
                          e ? e->vocab : 0, vocab);
    }
    memcpy(e->weight, w, vocab * dim * sizeof *w);
    return SBERT_OK;
}

sbert_status sbert_static_from_distillation(const char *teacher_dir, const sbert_distill_options *opt_in,
                                            sbert_model **out) {
    *out = NULL;
    sbert_distill_options opt = opt_in ? *opt_in : sbert_distill_options_default();
    if (!isnan(opt.sif_coefficient) && !(opt.sif_coefficient > 0 && opt.sif_coefficient < 1))
        return sbert_fail(SBERT_ERR_INVALID_ARG, "SIF coefficient must be a value > 0 and < 1.0 (got %g).",
                          opt.sif_coefficient);
    sbert_model *t = NULL;
    sbert_status st = sbert_model_load(teacher_dir, NULL, &t);
    if (st != SBERT_OK) {
        sbert_error_prefix("distillation teacher: ");
        return st;
    }
    char *text = NULL, *tok_json = NULL;
    size_t len = 0, n = 0;
    int32_t *keep = NULL;
    float *x = NULL, *y = NULL;
    sbert_run run;
    memset(&run, 0, sizeof run);
    size_t *offs = NULL;
    int32_t *ids = NULL;
    sbert_module *tr = sbert_model_input(t);
    if (strcmp(tr->ops->class_name, "Transformer") != 0) {
        st = sbert_fail(SBERT_ERR_UNSUPPORTED, "%s: the teacher's first module is a %s, not a Transformer", teacher_dir,
                        tr->ops->class_name);
        goto done;
    }
    char path[4096];
    if ((st = sbert_path_join(path, sizeof path, sbert_model_dir(t), "tokenizer.json")) != SBERT_OK ||
        (st = sbert_read_file(path, &text, &len)) != SBERT_OK)
        goto done;
    char pad[256];
    long max_len = tokenizer_config(sbert_model_dir(t), pad, sizeof pad);
    if ((st = sbert_distill_vocabulary(text, len, path, opt.token_remove_pattern, pad[0] ? pad : NULL, max_len, &keep,
                                       &n, &tok_json)) != SBERT_OK)
        goto done;
    int32_t pre[8], post[8];
    size_t npre = 0, npost = 0;
    if ((st = special_wrap(sbert_model_tokenizer(t), pre, &npre, post, &npost)) != SBERT_OK)
        goto done;
    size_t d = tr->ops->out_dim(tr), L = npre + 1 + npost, bs = opt.batch_size ? opt.batch_size : 256;
    say(&opt, "Distilling %zu tokens from %s (width %zu) ...", n, teacher_dir, d);
    x = malloc(n * d * sizeof *x);
    offs = malloc((bs + 1) * sizeof *offs);
    ids = malloc(bs * L * sizeof *ids);
    if (!x || !offs || !ids) {
        st = sbert_fail(SBERT_ERR_NOMEM, "distillation: out of memory (%zu x %zu)", n, d);
        goto done;
    }
    for (size_t b0 = 0; b0 < n; b0 += bs) {
        size_t nb = n - b0 < bs ? n - b0 : bs;
        for (size_t i = 0; i < nb; i++) {
            offs[i] = i * L;
            memcpy(ids + i * L, pre, npre * sizeof *ids);
            ids[i * L + npre] = keep[b0 + i];
            memcpy(ids + i * L + npre + 1, post, npost * sizeof *ids);
        }
        offs[nb] = nb * L;
        sbert_features f;
        memset(&f, 0, sizeof f);
        f.n_seq = nb;
        f.T = nb * L;
        f.offs = offs;
        f.ids = ids;
        sbert_run_reset(&run);
        void *rec = NULL;
        if ((st = tr->ops->forward(tr, &f, &run, &rec)) != SBERT_OK)
            goto done;
        /* mean over every position (model2vec's mean pooling: mask / length, then the sum) */
        float inv = 1.0f / (float)L;
        for (size_t i = 0; i < nb; i++)
            for (size_t c = 0; c < d; c++) {
                float s = 0;
                for (size_t p = 0; p < L; p++)
                    s += f.tok[(i * L + p) * f.tok_dim + c] * inv;
                x[(b0 + i) * d + c] = isfinite(s) ? s : 0.0f;
            }
    }
    size_t k = 0, dim = d;
    if (opt.pca_dims) {
        if (opt.pca_dims > d)
            say(&opt, "PCA dimension (%zu) is larger than the number of dimensions in the embeddings (%zu). "
                      "Applying PCA, but not reducing dimensionality.",
                opt.pca_dims, d);
        size_t kk = opt.pca_dims > d ? d : opt.pca_dims;
        y = malloc(n * kk * sizeof *y);
        if (!y) {
            st = sbert_fail(SBERT_ERR_NOMEM, "distillation: out of memory");
            goto done;
        }
        if ((st = sbert_distill_pca(x, n, d, opt.pca_dims, y, &k)) != SBERT_OK)
            goto done;
        if (k == 0)
            say(&opt, "PCA dimension (%zu) is larger than the number of tokens in the vocabulary (%zu). Not applying "
                      "PCA.",
                opt.pca_dims, n);
    }
    float *rows = x;
    if (k) {
        rows = y;
        dim = k;
    }
    if (!isnan(opt.sif_coefficient)) {
        double total = 0;
        for (size_t i = 0; i < n; i++)
            total += 1.0 / (double)(i + 2);
        for (size_t i = 0; i < n; i++) {
            double p = (1.0 / (double)(i + 2)) / total;
            double wgt = opt.sif_coefficient / (opt.sif_coefficient + p);
            for (size_t c = 0; c < dim; c++)
                rows[i * dim + c] = (float)((double)rows[i * dim + c] * wgt);
        }
    }
    st = static_model_from(tok_json, strlen(tok_json), rows, n, dim, out);
done:
    sbert_run_free(&run);
    free(offs);
    free(ids);
    free(x);
    free(y);
    free(keep);
    free(text);
    free(tok_json);
    sbert_model_free(t);
    return st;
}

/* -------------------------------------------------------------- model2vec */

int sbert_is_model2vec_dir(const char *dir) {
    char p[4096];
    if (sbert_path_join(p, sizeof p, dir, "modules.json") == SBERT_OK && sbert_file_exists(p))
        return 0;
    if (sbert_path_join(p, sizeof p, dir, "tokenizer.json") != SBERT_OK || !sbert_file_exists(p))
        return 0;
    if (sbert_path_join(p, sizeof p, dir, "model.safetensors") != SBERT_OK || !sbert_file_exists(p))
        return 0;
    sbert_safetensors *st = NULL;
    if (sbert_st_open(p, &st) != SBERT_OK) {
        sbert_error_clear();
        return 0;
    }
    int r = sbert_st_find(st, "embeddings") != NULL;
    sbert_st_close(st);
    return r;
}

sbert_status sbert_static_from_model2vec(const char *dir, sbert_model **out) {
    *out = NULL;
    char p[4096];
    SBERT_TRY(sbert_path_join(p, sizeof p, dir, "model.safetensors"));
    sbert_safetensors *sf = NULL;
    SBERT_TRY(sbert_st_open(p, &sf));
    sbert_status st = SBERT_OK;
    float *emb = NULL, *rows = NULL;
    double *wts = NULL;
    char *tok = NULL;
    size_t toklen = 0;
    const sbert_st_tensor *e = sbert_st_find(sf, "embeddings");
    const sbert_st_tensor *mp = sbert_st_find(sf, "mapping"), *wt = sbert_st_find(sf, "weights");
    if (!e || e->ndim != 2) {
        st = sbert_fail(SBERT_ERR_FORMAT, "%s: a model2vec model needs a 2-D tensor 'embeddings'", p);
        goto done;
    }
    size_t nr = (size_t)e->shape[0], dim = (size_t)e->shape[1], vocab = nr;
    if (mp) {
        if (mp->ndim != 1 || (mp->dtype != SBERT_DT_I64 && mp->dtype != SBERT_DT_I32)) {
            st = sbert_fail(SBERT_ERR_FORMAT, "%s: 'mapping' must be a 1-D int64 or int32 tensor", p);
            goto done;
        }
        vocab = (size_t)mp->shape[0];
    }
    if (wt && (wt->ndim != 1 || (size_t)wt->shape[0] != vocab)) {
        st = sbert_fail(SBERT_ERR_FORMAT, "%s: 'weights' must be 1-D with one value per token (%zu)", p, vocab);
        goto done;
    }
    emb = malloc(nr * dim * sizeof *emb);
    rows = malloc(vocab * dim * sizeof *rows);
    if (!emb || !rows) {
        st = sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", p);
        goto done;
    }
    if ((st = sbert_st_read_f32(sf, "embeddings", e->shape, 2, emb)) != SBERT_OK)
        goto done;
    if (wt) {
        float *wf = malloc(vocab * sizeof *wf);
        wts = malloc(vocab * sizeof *wts);
        if (!wf || !wts) {
            free(wf);
            st = sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", p);
            goto done;
        }
        if (wt->dtype == SBERT_DT_F64) {
            memcpy(wts, wt->data, vocab * sizeof *wts);
        } else if ((st = sbert_st_read_f32(sf, "weights", wt->shape, 1, wf)) == SBERT_OK) {
            for (size_t i = 0; i < vocab; i++)
                wts[i] = wf[i];
        }
        free(wf);
        if (st != SBERT_OK)
            goto done;
    }
    for (size_t t = 0; t < vocab; t++) {
        size_t src = t;
        if (mp) {
            int64_t v = mp->dtype == SBERT_DT_I64 ? ((const int64_t *)mp->data)[t] : ((const int32_t *)mp->data)[t];
            if (v < 0 || (size_t)v >= nr) {
                st = sbert_fail(SBERT_ERR_FORMAT, "%s: mapping[%zu] = %lld is outside the %zu embeddings", p, t,
                                (long long)v, nr);
                goto done;
            }
            src = (size_t)v;
        }
        for (size_t c = 0; c < dim; c++) {
            float v = emb[src * dim + c];
            if (wts) {
                /* (embeddings.float() * weights).to(float32): in the wider of the two types */
                v = wt->dtype == SBERT_DT_F64 ? (float)((double)v * wts[t]) : v * (float)wts[t];
            }
            rows[t * dim + c] = v;
        }
    }
    if ((st = sbert_path_join(p, sizeof p, dir, "tokenizer.json")) != SBERT_OK ||
        (st = sbert_read_file(p, &tok, &toklen)) != SBERT_OK)
        goto done;
    {
        /* StaticEmbedding calls tokenizer.no_padding() */
        cJSON *j = cJSON_ParseWithLength(tok, toklen);
        if (!j) {
            st = sbert_fail(SBERT_ERR_FORMAT, "%s: not valid JSON", p);
            goto done;
        }
        cJSON_ReplaceItemInObject(j, "padding", cJSON_CreateNull());
        char *t2 = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        if (!t2) {
            st = sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", p);
            goto done;
        }
        free(tok);
        tok = t2;
        toklen = strlen(tok);
    }
    st = static_model_from(tok, toklen, rows, vocab, dim, out);
done:
    sbert_st_close(sf);
    free(emb);
    free(rows);
    free(wts);
    free(tok);
    return st;
}

sbert_status sbert_static_warmstart(const char *source, size_t dim, int dim_given, sbert_log_fn log, void *log_user,
                                    sbert_model **out, char *desc, size_t desc_cap) {
    *out = NULL;
    if (sbert_is_model2vec_dir(source)) {
        SBERT_TRY(sbert_static_from_model2vec(source, out));
        size_t w = sbert_model_full_dim(*out);
        if (dim_given && w != dim) {
            sbert_model_free(*out);
            *out = NULL;
            return sbert_fail(SBERT_ERR_INVALID_ARG,
                              "warmstart '%s': the model2vec table has %zu columns but embedding_dim is %zu; set "
                              "embedding_dim: %zu (or leave it out)",
                              source, w, dim, w);
        }
        snprintf(desc, desc_cap, "StaticEmbedding (warm start from the model2vec model %s, dim %zu)", source, w);
        return SBERT_OK;
    }
    if (!sbert_dir_exists(source))
        return sbert_fail(SBERT_ERR_IO,
                          "warmstart '%s': no such directory (give a model2vec directory, or a bi-encoder directory to "
                          "distill from)",
                          source);
    sbert_distill_options o = sbert_distill_options_default();
    o.pca_dims = dim;
    o.log = log;
    o.log_user = log_user;
    SBERT_TRY(sbert_static_from_distillation(source, &o, out));
    snprintf(desc, desc_cap, "StaticEmbedding (warm start: distilled from %s, PCA to %zu, SIF 1e-4)", source,
             sbert_model_full_dim(*out));
    return SBERT_OK;
}
