/*
 * models/save_bf16.c -- a saved model directory's weights in bf16, as
 * `model.to(torch.bfloat16)` followed by `save_pretrained` /
 * `SentenceTransformer.save` writes them: every F32 tensor of every
 * *.safetensors file (the directory's own and those of its module
 * sub-folders: 2_Dense/, ...) becomes a BF16 tensor (rounded to nearest
 * even, as torch rounds), other dtypes are kept; each Hugging Face
 * config.json (one with "model_type") says "torch_dtype": "bfloat16" (and
 * "dtype" when it already has that key), so transformers loads the encoder
 * in bf16 with its default dtype="auto" as it would a checkpoint torch saved
 * in bf16. sbert itself reads BF16 tensors back into its fp32 buffers.
 *
 * The rewritten files keep safetensors' layout: tensors ordered by dtype
 * width (widest first) then name, packed, header padded with spaces to a
 * multiple of 8. Each file is replaced atomically.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/error.h"
#include "io/atomic.h"
#include "io/dirs.h"
#include "io/file.h"
#include "io/safetensors.h"
#include "kernels/bf16_gemm.h"
#include "models/model.h"

typedef struct {
    const sbert_st_tensor *t;
    sbert_dtype out;
    size_t nbytes; /* written */
} tens;

static int cmp_tens(const void *a, const void *b) {
    const tens *x = a, *y = b;
    int bx = sbert_dtype_bits(x->out), by = sbert_dtype_bits(y->out);
    if (bx != by) return by - bx;
    return strcmp(x->t->name, y->t->name);
}

static sbert_status nomem(const char *path) { return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", path); }

/* Rewrite one safetensors file with its F32 tensors as BF16. */
static sbert_status file_to_bf16(const char *path) {
    sbert_safetensors *st = NULL;
    SBERT_TRY(sbert_st_open(path, &st));
    size_t n = sbert_st_count(st);
    tens *v = calloc(n ? n : 1, sizeof *v);
    cJSON *h = cJSON_CreateObject();
    char *hdr = NULL;
    uint16_t *buf = NULL;
    sbert_atomic_file *af = NULL;
    sbert_status s = v && h ? SBERT_OK : nomem(path);
    for (size_t i = 0; s == SBERT_OK && i < n; i++) {
        v[i].t = sbert_st_at(st, i);
        v[i].out = v[i].t->dtype == SBERT_DT_F32 ? SBERT_DT_BF16 : v[i].t->dtype;
        v[i].nbytes = v[i].t->dtype == SBERT_DT_F32 ? v[i].t->nbytes / 2 : v[i].t->nbytes;
    }
    if (s == SBERT_OK) qsort(v, n, sizeof *v, cmp_tens);
    const char *fmt = sbert_st_metadata(st, "format");
    if (s == SBERT_OK) {
        cJSON *meta = cJSON_AddObjectToObject(h, "__metadata__");
        if (!meta || !cJSON_AddStringToObject(meta, "format", fmt ? fmt : "pt")) s = nomem(path);
    }
    size_t off = 0;
    for (size_t i = 0; s == SBERT_OK && i < n; i++) {
        cJSON *e = cJSON_AddObjectToObject(h, v[i].t->name);
        cJSON *shape = e ? cJSON_AddArrayToObject(e, "shape") : NULL, *offs = NULL;
        if (!e || !cJSON_AddStringToObject(e, "dtype", sbert_dtype_name(v[i].out)) || !shape) {
            s = nomem(path);
            break;
        }
        for (int d = 0; d < v[i].t->ndim; d++)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)v[i].t->shape[d]));
        offs = cJSON_AddArrayToObject(e, "data_offsets");
        if (!offs) {
            s = nomem(path);
            break;
        }
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(off + v[i].nbytes)));
        off += v[i].nbytes;
    }
    if (s == SBERT_OK && !(hdr = cJSON_PrintUnformatted(h))) s = nomem(path);
    if (s == SBERT_OK) af = sbert_atomic_open(path, &s);
    if (s == SBERT_OK) {
        size_t hl = strlen(hdr), padded = (hl + 7) / 8 * 8;
        unsigned char len8[8];
        for (int k = 0; k < 8; k++) len8[k] = (unsigned char)((uint64_t)padded >> (8 * k));
        s = sbert_atomic_write(af, len8, 8);
        if (s == SBERT_OK) s = sbert_atomic_write(af, hdr, hl);
        if (s == SBERT_OK && padded > hl) s = sbert_atomic_write(af, "        ", padded - hl);
    }
    for (size_t i = 0; s == SBERT_OK && i < n; i++) {
        if (v[i].t->dtype != SBERT_DT_F32) {
            s = sbert_atomic_write(af, v[i].t->data, v[i].nbytes);
            continue;
        }
        size_t cnt = v[i].t->nbytes / 4;
        uint16_t *nb = realloc(buf, (cnt ? cnt : 1) * sizeof *buf);
        if (!nb) {
            s = nomem(path);
            break;
        }
        buf = nb;
        float *tmp = malloc((cnt ? cnt : 1) * sizeof(float)); /* the mapping may be unaligned */
        if (!tmp) {
            s = nomem(path);
            break;
        }
        memcpy(tmp, v[i].t->data, cnt * sizeof(float));
        sbert_f32_to_bf16(buf, tmp, cnt);
        free(tmp);
        s = sbert_atomic_write(af, buf, cnt * sizeof *buf);
    }
    if (af) {
        if (s == SBERT_OK) s = sbert_atomic_commit(af);
        else sbert_atomic_abort(af);
    }
    free(buf);
    free(hdr);
    cJSON_Delete(h);
    free(v);
    sbert_st_close(st);
    return s;
}

/* config.json of a Hugging Face model: say the weights are bf16. */
static sbert_status config_to_bf16(const char *dir) {
    char path[4200];
    SBERT_TRY(sbert_path_join(path, sizeof path, dir, "config.json"));
    if (!sbert_file_exists(path)) return SBERT_OK;
    cJSON *c = NULL;
    SBERT_TRY(sbert_json_load(path, &c));
    sbert_status s = SBERT_OK;
    if (cJSON_IsObject(c) && cJSON_GetObjectItemCaseSensitive(c, "model_type")) {
        const char *keys[2] = {"torch_dtype", "dtype"};
        for (int k = 0; k < 2; k++) {
            int had = cJSON_GetObjectItemCaseSensitive(c, keys[k]) != NULL;
            if (k == 1 && !had) continue;
            cJSON *val = cJSON_CreateString("bfloat16");
            if (!val) {
                s = nomem(path);
                break;
            }
            if (had) cJSON_ReplaceItemInObjectCaseSensitive(c, keys[k], val);
            else cJSON_AddItemToObject(c, keys[k], val);
        }
        char *text = s == SBERT_OK ? cJSON_Print(c) : NULL;
        if (s == SBERT_OK && !text) s = nomem(path);
        if (s == SBERT_OK) {
            size_t len = strlen(text);
            char *t2 = realloc(text, len + 2);
            if (t2) {
                text = t2;
                text[len] = '\n';
                text[len + 1] = 0;
            }
            s = sbert_write_file_atomic(path, text, strlen(text));
        }
        free(text);
    }
    cJSON_Delete(c);
    return s;
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* dir's *.safetensors and config.json, then (depth 1) its sub-folders'. */
static sbert_status dir_to_bf16(const char *dir, int depth) {
    DIR *d = opendir(dir);
    if (!d) return sbert_fail(SBERT_ERR_IO, "%s: cannot open the model folder", dir);
    sbert_status s = SBERT_OK;
    struct dirent *e;
    while (s == SBERT_OK && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[4200];
        if ((s = sbert_path_join(path, sizeof path, dir, e->d_name)) != SBERT_OK) break;
        if (ends_with(e->d_name, ".safetensors") && sbert_file_exists(path)) s = file_to_bf16(path);
        else if (depth > 0 && sbert_dir_exists(path)) s = dir_to_bf16(path, depth - 1);
    }
    closedir(d);
    if (s == SBERT_OK) s = config_to_bf16(dir);
    return s;
}

sbert_status sbert_model_dir_to_bf16(const char *dir) {
    if (!dir) return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_model_dir_to_bf16: NULL dir");
    SBERT_TRY(sbert_dir_check(dir));
    return dir_to_bf16(dir, 1);
}

sbert_status sbert_model_save_dtype(const sbert_model *model, const char *dir, const char *dtype) {
    if (!model || !dir) return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_model_save_dtype: NULL argument");
    int bf16;
    if (!dtype || !strcmp(dtype, "fp32") || !strcmp(dtype, "float32")) bf16 = 0;
    else if (!strcmp(dtype, "bf16") || !strcmp(dtype, "bfloat16")) bf16 = 1;
    else
        return sbert_fail(SBERT_ERR_INVALID_ARG, "save dtype '%s' is not supported (fp32 or bf16; fp16 is not "
                          "implemented)", dtype);
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp-save", dir) >= (int)sizeof tmp)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: path too long", dir);
    sbert_rm_rf(tmp);
    sbert_status s = sbert_mkdir_p(tmp);
    if (s == SBERT_OK) s = sbert_model_save(model, tmp);
    if (s == SBERT_OK && bf16) s = sbert_model_dir_to_bf16(tmp);
    if (s == SBERT_OK) s = sbert_publish_dir(tmp, dir);
    if (s != SBERT_OK) sbert_rm_rf(tmp);
    return s;
}
