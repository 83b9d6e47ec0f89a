/*
 * tokenizers/postprocessors.c -- the tokenizer.json "post_processor"
 * components: TemplateProcessing, BertProcessing, RobertaProcessing,
 * ByteLevel (ids unchanged) and Sequence.
 *
 * They run after truncation and add the special tokens ([CLS] A [SEP] B
 * [SEP], <s> A </s></s> B </s>, ...) and the token type ids. As in HF
 * tokenizers, the ids of text A start with type id 0 and those of B with 1;
 * Roberta resets every type id to 0, a template sets the type id of each
 * piece, Bert adds 0 around A and 1 after B. Without add_special_tokens a
 * template still sets the type ids of A and B.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "tokenizers/tok_internal.h"

typedef enum { PP_TEMPLATE, PP_BERT, PP_ROBERTA, PP_BYTE_LEVEL, PP_SEQUENCE } pp_type;

typedef struct {
    int is_seq;       /* 1: $A / $B, 0: special token */
    int seq;          /* 0 = A, 1 = B */
    uint32_t type_id;
    int32_t *ids;     /* special token ids */
    size_t n_ids;
} piece;

struct tk_post {
    pp_type type;
    piece *single, *pair;
    size_t n_single, n_pair;
    int32_t cls, sep;
    tk_post **children;
    size_t n_children;
};

static void free_pieces(piece *p, size_t n) {
    for (size_t i = 0; i < n; i++) free(p[i].ids);
    free(p);
}

void tk_post_free(tk_post *p) {
    if (!p) return;
    free_pieces(p->single, p->n_single);
    free_pieces(p->pair, p->n_pair);
    for (size_t i = 0; i < p->n_children; i++) tk_post_free(p->children[i]);
    free(p->children);
    free(p);
}

static sbert_status parse_template(const cJSON *arr, const cJSON *specials, const char *name,
                                   const char *path, piece **out, size_t *n_out) {
    if (!cJSON_IsArray(arr))
        return sbert_fail(SBERT_ERR_FORMAT, "%s: %s must be a list of pieces", name, path);
    size_t n = (size_t)cJSON_GetArraySize(arr), i = 0;
    piece *p = calloc(n ? n : 1, sizeof *p);
    if (!p) return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", name);
    *out = p;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        *n_out = i + 1;
        const cJSON *sq = cJSON_GetObjectItemCaseSensitive(e, "Sequence");
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(e, "SpecialToken");
        const cJSON *body = sq ? sq : sp;
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(body, "id");
        const cJSON *tid = cJSON_GetObjectItemCaseSensitive(body, "type_id");
        if (!body || !cJSON_IsString(id) || !cJSON_IsNumber(tid) || tid->valuedouble < 0)
            return sbert_fail(SBERT_ERR_FORMAT,
                              "%s: %s[%zu] must be {\"Sequence\"|\"SpecialToken\": {\"id\", \"type_id\"}}",
                              name, path, i);
        p[i].type_id = (uint32_t)tid->valuedouble;
        if (sq) {
            p[i].is_seq = 1;
            if (!strcmp(id->valuestring, "A")) p[i].seq = 0;
            else if (!strcmp(id->valuestring, "B")) p[i].seq = 1;
            else
                return sbert_fail(SBERT_ERR_FORMAT, "%s: %s[%zu].Sequence.id '%s' must be A or B",
                                  name, path, i, id->valuestring);
        } else {
            const cJSON *tok = cJSON_GetObjectItemCaseSensitive(specials, id->valuestring);
            const cJSON *ids = cJSON_GetObjectItemCaseSensitive(tok, "ids");
            if (!cJSON_IsArray(ids))
                return sbert_fail(SBERT_ERR_FORMAT,
                                  "%s: %s[%zu]: special token '%s' is missing from "
                                  "post_processor.special_tokens",
                                  name, path, i, id->valuestring);
            size_t k = (size_t)cJSON_GetArraySize(ids), q = 0;
            p[i].ids = malloc((k ? k : 1) * sizeof *p[i].ids);
            if (!p[i].ids) return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", name);
            for (const cJSON *x = ids->child; x; x = x->next, q++) {
                if (!cJSON_IsNumber(x) || x->valuedouble < 0)
                    return sbert_fail(SBERT_ERR_FORMAT,
                                      "%s: post_processor.special_tokens['%s'].ids[%zu] must be a "
                                      "token id",
                                      name, id->valuestring, q);
                p[i].ids[q] = (int32_t)x->valuedouble;
            }
            p[i].n_ids = k;
        }
    }
    return SBERT_OK;
}

static sbert_status parse_pair_tok(const cJSON *j, const char *key, const char *name,
                                   const char *path, int32_t *id) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != 2 || !cJSON_IsNumber(a->child->next))
        return sbert_fail(SBERT_ERR_FORMAT, "%s: %s.%s must be [token, id]", name, path, key);
    *id = (int32_t)a->child->next->valuedouble;
    return SBERT_OK;
}

static sbert_status parse_into(tk_post *p, const cJSON *j, const char *name, const char *path) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "type");
    if (!cJSON_IsString(t))
        return sbert_fail(SBERT_ERR_FORMAT, "%s: %s.type is missing or not a string", name, path);
    const char *type = t->valuestring;
    char sub[512];
    if (!strcmp(type, "TemplateProcessing")) {
        p->type = PP_TEMPLATE;
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(j, "special_tokens");
        snprintf(sub, sizeof sub, "%s.single", path);
        SBERT_TRY(parse_template(cJSON_GetObjectItemCaseSensitive(j, "single"), sp, name, sub,
                                 &p->single, &p->n_single));
        snprintf(sub, sizeof sub, "%s.pair", path);
        SBERT_TRY(parse_template(cJSON_GetObjectItemCaseSensitive(j, "pair"), sp, name, sub,
                                 &p->pair, &p->n_pair));
    } else if (!strcmp(type, "BertProcessing") || !strcmp(type, "RobertaProcessing")) {
        p->type = type[0] == 'B' ? PP_BERT : PP_ROBERTA;
        SBERT_TRY(parse_pair_tok(j, "cls", name, path, &p->cls));
        SBERT_TRY(parse_pair_tok(j, "sep", name, path, &p->sep));
    } else if (!strcmp(type, "ByteLevel")) {
        p->type = PP_BYTE_LEVEL;
    } else if (!strcmp(type, "Sequence")) {
        p->type = PP_SEQUENCE;
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "processors");
        if (!cJSON_IsArray(arr))
            return sbert_fail(SBERT_ERR_FORMAT, "%s: %s.processors must be a list", name, path);
        size_t n = (size_t)cJSON_GetArraySize(arr), i = 0;
        p->children = calloc(n ? n : 1, sizeof *p->children);
        if (!p->children) return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", name);
        for (const cJSON *e = arr->child; e; e = e->next, i++) {
            snprintf(sub, sizeof sub, "%s.processors[%zu]", path, i);
            SBERT_TRY(tk_post_parse(e, name, sub, &p->children[i]));
            p->n_children = i + 1;
        }
    } else {
        return sbert_fail(SBERT_ERR_UNSUPPORTED, "%s: %s.type '%s' is not supported", name, path,
                          type);
    }
    return SBERT_OK;
}

sbert_status tk_post_parse(const cJSON *j, const char *name, const char *path, tk_post **out) {
    *out = NULL;
    if (!cJSON_IsObject(j))
        return sbert_fail(SBERT_ERR_FORMAT, "%s: %s must be an object", name, path);
    tk_post *p = calloc(1, sizeof *p);
    if (!p) return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", name);
    sbert_status st = parse_into(p, j, name, path);
    if (st != SBERT_OK) {
        tk_post_free(p);
        return st;
    }
    *out = p;
    return SBERT_OK;
}

size_t tk_post_added(const tk_post *p, int pair) {
    if (!p) return 0;
    size_t n = 0;
    switch (p->type) {
    case PP_TEMPLATE: {
        const piece *t = pair ? p->pair : p->single;
        size_t nt = pair ? p->n_pair : p->n_single;
        for (size_t i = 0; i < nt; i++)
            if (!t[i].is_seq) n += t[i].n_ids;
        return n;
    }
    case PP_BERT: return pair ? 3 : 2;
    case PP_ROBERTA: return pair ? 4 : 2;
    case PP_BYTE_LEVEL: return 0;
    case PP_SEQUENCE:
        for (size_t i = 0; i < p->n_children; i++) n += tk_post_added(p->children[i], pair);
        return n;
    }
    return 0;
}

/* The encodings flowing through the processors: up to two (A, B). */
typedef struct {
    tk_ids ids[2], types[2];
    size_t count;
} encs;

static sbert_status put(tk_ids *ids, tk_ids *types, int32_t id, int32_t type) {
    SBERT_TRY(tk_ids_push(ids, id));
    return tk_ids_push(types, type);
}

static sbert_status process(const tk_post *p, encs *e, int add) {
    switch (p->type) {
    case PP_BYTE_LEVEL: return SBERT_OK;
    case PP_SEQUENCE:
        for (size_t i = 0; i < p->n_children; i++) SBERT_TRY(process(p->children[i], e, add));
        return SBERT_OK;
    case PP_ROBERTA:
        for (size_t k = 0; k < e->count; k++)
            for (size_t i = 0; i < e->types[k].n; i++) e->types[k].v[i] = 0;
        /* fall through */
    case PP_BERT: {
        if (!add) return SBERT_OK;
        encs o = {0};
        sbert_status st = SBERT_OK;
        o.count = e->count;
        st = put(&o.ids[0], &o.types[0], p->cls, 0);
        for (size_t i = 0; st == SBERT_OK && i < e->ids[0].n; i++)
            st = put(&o.ids[0], &o.types[0], e->ids[0].v[i], e->types[0].v[i]);
        if (st == SBERT_OK) st = put(&o.ids[0], &o.types[0], p->sep, 0);
        if (e->count > 1) {
            int32_t t = p->type == PP_BERT ? 1 : 0;
            if (st == SBERT_OK && p->type == PP_ROBERTA) st = put(&o.ids[1], &o.types[1], p->sep, 0);
            for (size_t i = 0; st == SBERT_OK && i < e->ids[1].n; i++)
                st = put(&o.ids[1], &o.types[1], e->ids[1].v[i], e->types[1].v[i]);
            if (st == SBERT_OK) st = put(&o.ids[1], &o.types[1], p->sep, t);
        }
        for (size_t k = 0; k < 2; k++) {
            tk_ids_free(&e->ids[k]);
            tk_ids_free(&e->types[k]);
        }
        *e = o;
        return st;
    }
    case PP_TEMPLATE: {
        const piece *t = e->count > 1 ? p->pair : p->single;
        size_t nt = e->count > 1 ? p->n_pair : p->n_single;
        encs o = {0};
        sbert_status st = SBERT_OK;
        o.count = 1;
        for (size_t i = 0; i < nt && st == SBERT_OK; i++) {
            if (t[i].is_seq) {
                size_t k = (size_t)t[i].seq;
                if (k >= e->count) continue;
                for (size_t q = 0; q < e->ids[k].n && st == SBERT_OK; q++)
                    st = put(&o.ids[0], &o.types[0], e->ids[k].v[q], (int32_t)t[i].type_id);
            } else if (add) {
                for (size_t q = 0; q < t[i].n_ids && st == SBERT_OK; q++)
                    st = put(&o.ids[0], &o.types[0], t[i].ids[q], (int32_t)t[i].type_id);
            }
        }
        for (size_t k = 0; k < 2; k++) {
            tk_ids_free(&e->ids[k]);
            tk_ids_free(&e->types[k]);
        }
        *e = o;
        return st;
    }
    }
    return SBERT_OK;
}

sbert_status tk_post_apply(const tk_post *p, const tk_ids *a, const tk_ids *b, int add_special,
                           sbert_encoding *out) {
    memset(out, 0, sizeof *out);
    encs e = {0};
    sbert_status st = SBERT_OK;
    e.count = b ? 2 : 1;
    for (size_t k = 0; k < e.count && st == SBERT_OK; k++) {
        const tk_ids *src = k == 0 ? a : b;
        for (size_t i = 0; i < src->n && st == SBERT_OK; i++)
            st = put(&e.ids[k], &e.types[k], src->v[i], (int32_t)k);
    }
    if (st == SBERT_OK && p) st = process(p, &e, add_special);
    if (st == SBERT_OK) {
        size_t n = 0;
        for (size_t k = 0; k < e.count; k++) n += e.ids[k].n;
        out->input_ids = malloc((n ? n : 1) * sizeof(int32_t));
        out->token_type_ids = malloc((n ? n : 1) * sizeof(int32_t));
        out->attention_mask = malloc((n ? n : 1) * sizeof(int32_t));
        if (!out->input_ids || !out->token_type_ids || !out->attention_mask) {
            free(out->input_ids);
            free(out->token_type_ids);
            free(out->attention_mask);
            memset(out, 0, sizeof *out);
            st = sbert_fail(SBERT_ERR_NOMEM, "tokenizer: out of memory");
        } else {
            size_t j = 0;
            for (size_t k = 0; k < e.count; k++)
                for (size_t i = 0; i < e.ids[k].n; i++, j++) {
                    out->input_ids[j] = e.ids[k].v[i];
                    out->token_type_ids[j] = e.types[k].v[i];
                    out->attention_mask[j] = 1;
                }
            out->len = n;
        }
    }
    for (size_t k = 0; k < 2; k++) {
        tk_ids_free(&e.ids[k]);
        tk_ids_free(&e.types[k]);
    }
    return st;
}
