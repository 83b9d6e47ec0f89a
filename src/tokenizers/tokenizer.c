/*
 * tokenizers/tokenizer.c -- loading a Hugging Face tokenizer.json and the
 * public tokenizer API of sbert.h (sbert_tokenizer_load, _encode, ...).
 *
 * The encode pipeline follows HF tokenizers' TokenizerImpl::encode:
 *   1. added tokens with normalized=false are cut out of the raw text
 *      (leftmost-longest match, honouring single_word / lstrip / rstrip);
 *   2. every remaining segment is normalized on its own, then the added
 *      tokens with normalized=true are cut out of the normalized text;
 *   3. every remaining segment is pre-tokenized into words and each word
 *      is run through the model (WordPiece, BPE, Unigram or WordLevel);
 *   4. A and B are truncated (the post-processor's special tokens count
 *      against max_length; longest_first as in HF's truncate_encodings);
 *   5. the post-processor adds special tokens and type ids.
 * Added-token ids follow HF's AddedVocabulary::add_tokens: the model's id if
 * the content is in the model vocab, otherwise the next free id after it.
 * Padding is never applied (attention_mask is all ones).
 */
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "io/file.h"
#include "tokenizers/tok_internal.h"
#include "tokenizers/unicode.h"
#include "tokenizers/unigram.h"

/* ---------------------------------------------------------------- model */

typedef enum { M_WORDPIECE, M_BPE, M_WORDLEVEL, M_UNIGRAM } model_type;

struct tk_model {
    model_type type;
    tk_wordpiece *wp;
    tk_bpe *bpe;
    tk_wordlevel *wl;
    sbert_unigram *uni;
};

void tk_model_free(tk_model *m) {
    if (!m) return;
    tk_wordpiece_free(m->wp);
    tk_bpe_free(m->bpe);
    tk_wordlevel_free(m->wl);
    if (m->uni) sbert_unigram_free(m->uni);
    free(m);
}

static sbert_status parse_unigram(const cJSON *j, const char *name, tk_model *m) {
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(j, "vocab");
    if (!cJSON_IsArray(vocab))
        return sbert_fail(SBERT_ERR_FORMAT, "%s: model.vocab must be a list of [piece, score]", name);
    long unk_id;
    int byte_fallback;
    SBERT_TRY(tk_json_int(j, "unk_id", -1, &unk_id, name, "model"));
    SBERT_TRY(tk_json_bool(j, "byte_fallback", 0, &byte_fallback, name, "model"));
    size_t n = (size_t)cJSON_GetArraySize(vocab), i = 0;
    const char **pieces = malloc((n ? n : 1) * sizeof *pieces);
    double *scores = malloc((n ? n : 1) * sizeof *scores);
    sbert_status st = SBERT_OK;
    if (!pieces || !scores) st = sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", name);
    for (const cJSON *e = vocab->child; e && st == SBERT_OK; e = e->next, i++) {
        if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) != 2 || !cJSON_IsString(e->child) ||
            !cJSON_IsNumber(e->child->next)) {
            st = sbert_fail(SBERT_ERR_FORMAT, "%s: model.vocab[%zu] must be [piece, score]", name, i);
            break;
        }
        pieces[i] = e->child->valuestring;
        scores[i] = e->child->next->valuedouble;
    }
    if (st == SBERT_OK && unk_id >= (long)n)
        st = sbert_fail(SBERT_ERR_FORMAT, "%s: model.unk_id %ld is outside the vocab (%zu pieces)",
                        name, unk_id, n);
    if (st == SBERT_OK) {
        st = sbert_unigram_create(pieces, scores, n, (int32_t)unk_id, byte_fallback, &m->uni);
        if (st != SBERT_OK) sbert_error_prefix("%s: model: ", name);
    }
    free(pieces);
    free(scores);
    return st;
}

sbert_status tk_model_parse(const cJSON *j, const char *name, tk_model **out) {
    *out = NULL;
    if (!cJSON_IsObject(j)) return sbert_fail(SBERT_ERR_FORMAT, "%s: model must be an object", name);
    tk_model *m = calloc(1, sizeof *m);
    if (!m) return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", name);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "type");
    const char *type = cJSON_IsString(t) ? t->valuestring : NULL;
    if (!type) {
        /* Old files have no model.type: guess from the fields, as HF does. */
        if (cJSON_GetObjectItemCaseSensitive(j, "merges")) type = "BPE";
        else if (cJSON_GetObjectItemCaseSensitive(j, "continuing_subword_prefix")) type = "WordPiece";
        else if (cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "vocab"))) type = "Unigram";
        else type = "WordLevel";
    }
    sbert_status st;
    if (!strcmp(type, "WordPiece")) {
        m->type = M_WORDPIECE;
        st = tk_wordpiece_parse(j, name, &m->wp);
    } else if (!strcmp(type, "BPE")) {
        m->type = M_BPE;
        st = tk_bpe_parse(j, name, &m->bpe);
    } else if (!strcmp(type, "WordLevel")) {
        m->type = M_WORDLEVEL;
        st = tk_wordlevel_parse(j, name, &m->wl);
    } else if (!strcmp(type, "Unigram")) {
        m->type = M_UNIGRAM;
        st = parse_unigram(j, name, m);
    } else {
        st = sbert_fail(SBERT_ERR_UNSUPPORTED, "%s: model.type '%s' is not supported", name, type);
    }
    if (st != SBERT_OK) {
        tk_model_free(m);
        return st;
    }
    *out = m;
    return SBERT_OK;
}

sbert_status tk_model_tokenize(const tk_model *m, const char *s, size_t n, tk_ids *ids) {
    switch (m->type) {
    case M_WORDPIECE: return tk_wordpiece_tokenize(m->wp, s, n, ids);
    case M_BPE: return tk_bpe_tokenize(m->bpe, s, n, ids);
    case M_WORDLEVEL: return tk_wordlevel_tokenize(m->wl, s, n, ids);
    case M_UNIGRAM: return sbert_unigram_tokenize(m->uni, s, n, &ids->v, &ids->n, &ids->cap);
    }
    return sbert_fail(SBERT_ERR_INTERNAL, "tokenizer: bad model type");
}

static const tk_vocab *model_vocab(const tk_model *m) {
    switch (m->type) {
    case M_WORDPIECE: return tk_wordpiece_vocab(m->wp);
    case M_BPE: return tk_bpe_vocab(m->bpe);
    case M_WORDLEVEL: return tk_wordlevel_vocab(m->wl);
    case M_UNIGRAM: return NULL;
    }
    return NULL;
}

int32_t tk_model_token_to_id(const tk_model *m, const char *s, size_t n) {
    const tk_vocab *v = model_vocab(m);
    if (v) return tk_vocab_get(v, s, n);
    char stackbuf[256];
    char *b = n < sizeof stackbuf ? stackbuf : malloc(n + 1);
    if (!b) return -1;
    memcpy(b, s, n);
    b[n] = '\0';
    int32_t id = (strlen(b) == n) ? sbert_unigram_token_to_id(m->uni, b) : -1;
    if (b != stackbuf) free(b);
    return id;
}

size_t tk_model_vocab_size(const tk_model *m) {
    const tk_vocab *v = model_vocab(m);
    return v ? v->n : sbert_unigram_vocab_size(m->uni);
}

/* --------------------------------------------------------- added tokens */

typedef struct {
    char *content;   /* as matched: normalized content when normalized=1 */
    size_t len;
    char *raw;       /* content as written in tokenizer.json */
    int32_t id;
    int single_word, lstrip, rstrip, normalized, special;
} added_tok;

/* A byte trie over the contents of one set of added tokens. */
typedef struct {
    int32_t child, sibling, tok; /* tok: index into added[], -1 if none */
    unsigned char byte;
} tnode;

typedef struct {
    tnode *v;
    size_t n, cap;
    uint8_t first[256]; /* bytes a match can start with */
} trie;

static sbert_status trie_node(trie *t, unsigned char byte, int32_t *out) {
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        tnode *v = realloc(t->v, cap * sizeof *v);
        if (!v) return sbert_fail(SBERT_ERR_NOMEM, "tokenizer: out of memory");
        t->v = v;
        t->cap = cap;
    }
    t->v[t->n] = (tnode){-1, -1, -1, byte};
    *out = (int32_t)t->n++;
    return SBERT_OK;
}

static sbert_status trie_add(trie *t, const char *s, size_t n, int32_t tok) {
    int32_t node;
    if (t->n == 0) SBERT_TRY(trie_node(t, 0, &node));
    node = 0;
    if (n == 0) return SBERT_OK;
    t->first[(unsigned char)s[0]] = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int32_t ch = t->v[node].child;
        while (ch >= 0 && t->v[ch].byte != c) ch = t->v[ch].sibling;
        if (ch < 0) {
            SBERT_TRY(trie_node(t, c, &ch));
            t->v[ch].sibling = t->v[node].child;
            t->v[node].child = ch;
        }
        node = ch;
    }
    t->v[node].tok = tok;
    return SBERT_OK;
}

/* Longest token matching at s[i..n): returns the token index (or -1), *end. */
static int32_t trie_longest(const trie *t, const char *s, size_t n, size_t i, size_t *end) {
    int32_t best = -1, node = 0;
    for (size_t k = i; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        int32_t ch = t->v[node].child;
        while (ch >= 0 && t->v[ch].byte != c) ch = t->v[ch].sibling;
        if (ch < 0) break;
        node = ch;
        if (t->v[node].tok >= 0) {
            best = t->v[node].tok;
            *end = k + 1;
        }
    }
    return best;
}

/* ------------------------------------------------------------ tokenizer */

struct sbert_tokenizer {
    char *name;
    tk_normalizer *normalizer;
    tk_pretok *pretok;
    tk_model *model;
    tk_post *post;
    added_tok *added;
    size_t n_added;
    trie trie_raw, trie_norm;
    size_t vocab_size;
    /* truncation from tokenizer.json */
    int trunc_enabled;
    long trunc_max;
    sbert_truncation_strategy trunc_strategy;
    int trunc_left;
    int track_orig; /* Metaspace "first" needs original offsets */
    /* id -> token string, built on the first sbert_tokenizer_id_to_token */
    const char **id_tok;
    size_t id_tok_n;
    char *id_tok_buf;
};

void sbert_tokenizer_free(sbert_tokenizer *tok) {
    if (!tok) return;
    tk_normalizer_free(tok->normalizer);
    tk_pretok_free(tok->pretok);
    tk_model_free(tok->model);
    tk_post_free(tok->post);
    for (size_t i = 0; i < tok->n_added; i++) {
        free(tok->added[i].content);
        free(tok->added[i].raw);
    }
    free(tok->added);
    free(tok->trie_raw.v);
    free(tok->trie_norm.v);
    free(tok->name);
    free((void *)tok->id_tok);
    free(tok->id_tok_buf);
    free(tok);
}

static sbert_status parse_added(sbert_tokenizer *tok, const cJSON *arr) {
    const char *name = tok->name;
    if (!arr || cJSON_IsNull(arr)) return SBERT_OK;
    if (!cJSON_IsArray(arr)) return sbert_fail(SBERT_ERR_FORMAT, "%s: added_tokens must be a list", name);
    size_t n = (size_t)cJSON_GetArraySize(arr), i = 0;
    tok->added = calloc(n ? n : 1, sizeof *tok->added);
    if (!tok->added) return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", name);
    size_t model_n = tk_model_vocab_size(tok->model);
    uint32_t next_id = (uint32_t)model_n;
    tk_buf norm = {0};
    sbert_status st = SBERT_OK;
    for (const cJSON *e = arr->child; e && st == SBERT_OK; e = e->next, i++) {
        char path[64];
        snprintf(path, sizeof path, "added_tokens[%zu]", i);
        const char *content;
        added_tok a = {0};
        if (!cJSON_IsObject(e)) {
            st = sbert_fail(SBERT_ERR_FORMAT, "%s: %s must be an object", name, path);
            break;
        }
        if ((st = tk_json_str(e, "content", 0, &content, name, path)) != SBERT_OK) break;
        int special;
        if ((st = tk_json_bool(e, "special", 0, &special, name, path)) != SBERT_OK) break;
        a.special = special;
        if ((st = tk_json_bool(e, "single_word", 0, &a.single_word, name, path)) != SBERT_OK) break;
        if ((st = tk_json_bool(e, "lstrip", 0, &a.lstrip, name, path)) != SBERT_OK) break;
        if ((st = tk_json_bool(e, "rstrip", 0, &a.rstrip, name, path)) != SBERT_OK) break;
        if ((st = tk_json_bool(e, "normalized", !special, &a.normalized, name, path)) != SBERT_OK) break;
        size_t clen = strlen(content);
        if (clen == 0) continue; /* HF ignores empty added tokens */
        size_t bad;
        if (!tk_utf8_valid(content, clen, &bad)) {
            st = sbert_fail(SBERT_ERR_FORMAT, "%s: %s.content is not valid UTF-8", name, path);
            break;
        }
        /* id: an earlier added token with this content, else the model's, else the next free */
        int32_t id = -1;
        for (size_t k = 0; k < tok->n_added; k++)
            if (!strcmp(tok->added[k].raw, content)) id = tok->added[k].id;
        if (id < 0) id = tk_model_token_to_id(tok->model, content, clen);
        if (id < 0) {
            /* Account for earlier added ids beyond the model vocab (HF: max + 1). */
            for (size_t k = 0; k < tok->n_added; k++)
                if ((uint32_t)tok->added[k].id >= next_id) next_id = (uint32_t)tok->added[k].id + 1;
            id = (int32_t)next_id++;
        }
        a.id = id;
        a.raw = malloc(clen + 1);
        if (!a.raw) { st = sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", name); break; }
        memcpy(a.raw, content, clen + 1);
        const char *match = content;
        size_t mlen = clen;
        if (a.normalized && tok->normalizer) {
            if ((st = tk_normalize(tok->normalizer, content, clen, &norm)) != SBERT_OK) {
                free(a.raw);
                break;
            }
            match = norm.p;
            mlen = norm.n;
        }
        a.content = malloc(mlen + 1);
        if (!a.content) {
            free(a.raw);
            st = sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", name);
            break;
        }
        memcpy(a.content, match, mlen);
        a.content[mlen] = '\0';
        a.len = mlen;
        /* A repeated content replaces the earlier entry. */
        size_t slot = tok->n_added;
        for (size_t k = 0; k < tok->n_added; k++)
            if (!strcmp(tok->added[k].raw, content)) slot = k;
        if (slot < tok->n_added) {
            free(tok->added[slot].content);
            free(tok->added[slot].raw);
        } else {
            tok->n_added++;
        }
        tok->added[slot] = a;
    }
    tk_buf_free(&norm);
    if (st != SBERT_OK) return st;
    for (size_t k = 0; k < tok->n_added; k++) {
        added_tok *a = &tok->added[k];
        SBERT_TRY(trie_add(a->normalized ? &tok->trie_norm : &tok->trie_raw, a->content, a->len,
                           (int32_t)k));
    }
    /* vocab size = |model vocab ∪ added contents| */
    tok->vocab_size = model_n;
    for (size_t k = 0; k < tok->n_added; k++)
        if (tk_model_token_to_id(tok->model, tok->added[k].raw, strlen(tok->added[k].raw)) < 0)
            tok->vocab_size++;
    return SBERT_OK;
}

static sbert_status parse_truncation(sbert_tokenizer *tok, const cJSON *t) {
    const char *name = tok->name;
    if (!t || cJSON_IsNull(t)) return SBERT_OK;
    if (!cJSON_IsObject(t)) return sbert_fail(SBERT_ERR_FORMAT, "%s: truncation must be an object or null", name);
    SBERT_TRY(tk_json_int(t, "max_length", 512, &tok->trunc_max, name, "truncation"));
    if (tok->trunc_max < 0)
        return sbert_fail(SBERT_ERR_FORMAT, "%s: truncation.max_length must be >= 0", name);
    const char *s, *dir;
    SBERT_TRY(tk_json_str(t, "strategy", 1, &s, name, "truncation"));
    SBERT_TRY(tk_json_str(t, "direction", 1, &dir, name, "truncation"));
    tok->trunc_strategy = SBERT_TRUNCATE_LONGEST_FIRST;
    if (s && !strcmp(s, "OnlyFirst")) tok->trunc_strategy = SBERT_TRUNCATE_ONLY_FIRST;
    else if (s && !strcmp(s, "OnlySecond")) tok->trunc_strategy = SBERT_TRUNCATE_ONLY_SECOND;
    else if (s && strcmp(s, "LongestFirst"))
        return sbert_fail(SBERT_ERR_FORMAT,
                          "%s: truncation.strategy '%s' is not LongestFirst, OnlyFirst or OnlySecond",
                          name, s);
    if (dir && strcmp(dir, "Left") && strcmp(dir, "Right"))
        return sbert_fail(SBERT_ERR_FORMAT, "%s: truncation.direction '%s' is not Left or Right", name, dir);
    tok->trunc_left = dir && !strcmp(dir, "Left");
    tok->trunc_enabled = 1;
    return SBERT_OK;
}

static sbert_status load_json(const cJSON *root, sbert_tokenizer *tok) {
    const char *name = tok->name;
    if (!cJSON_IsObject(root)) return sbert_fail(SBERT_ERR_FORMAT, "%s: top level must be an object", name);
    const cJSON *j;
    j = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!j) return sbert_fail(SBERT_ERR_FORMAT, "%s: 'model' is missing", name);
    SBERT_TRY(tk_model_parse(j, name, &tok->model));
    j = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    if (j && !cJSON_IsNull(j)) SBERT_TRY(tk_normalizer_parse(j, name, "normalizer", &tok->normalizer));
    j = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    if (j && !cJSON_IsNull(j)) SBERT_TRY(tk_pretok_parse(j, name, "pre_tokenizer", &tok->pretok));
    j = cJSON_GetObjectItemCaseSensitive(root, "post_processor");
    if (j && !cJSON_IsNull(j)) SBERT_TRY(tk_post_parse(j, name, "post_processor", &tok->post));
    SBERT_TRY(parse_truncation(tok, cJSON_GetObjectItemCaseSensitive(root, "truncation")));
    SBERT_TRY(parse_added(tok, cJSON_GetObjectItemCaseSensitive(root, "added_tokens")));
    tok->track_orig = tk_pretok_uses_first(tok->pretok);
    return SBERT_OK;
}

static sbert_status load_common(cJSON *root, const char *name, sbert_tokenizer **out) {
    sbert_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok) return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", name);
    size_t nl = strlen(name);
    tok->name = malloc(nl + 1);
    if (!tok->name) {
        free(tok);
        return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", name);
    }
    memcpy(tok->name, name, nl + 1);
    sbert_status st = load_json(root, tok);
    if (st != SBERT_OK) {
        sbert_tokenizer_free(tok);
        return st;
    }
    *out = tok;
    return SBERT_OK;
}

sbert_status sbert_tokenizer_load(const char *path, sbert_tokenizer **out) {
    if (!out) return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_tokenizer_load: out is NULL");
    *out = NULL;
    if (!path) return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_tokenizer_load: path is NULL");
    cJSON *root = NULL;
    SBERT_TRY(sbert_json_load(path, &root));
    sbert_status st = load_common(root, path, out);
    cJSON_Delete(root);
    return st;
}

sbert_status sbert_tokenizer_load_from_memory(const char *json, size_t json_len, const char *name,
                                              sbert_tokenizer **out) {
    if (!out) return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_tokenizer_load_from_memory: out is NULL");
    *out = NULL;
    if (!name) name = "tokenizer.json";
    if (!json) return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: json is NULL", name);
    cJSON *root = NULL;
    SBERT_TRY(sbert_json_parse(json, json_len, name, &root));
    sbert_status st = load_common(root, name, out);
    cJSON_Delete(root);
    return st;
}

size_t sbert_tokenizer_vocab_size(const sbert_tokenizer *tok) { return tok ? tok->vocab_size : 0; }

int32_t sbert_tokenizer_token_to_id(const sbert_tokenizer *tok, const char *token) {
    if (!tok || !token) return -1;
    for (size_t k = 0; k < tok->n_added; k++)
        if (!strcmp(tok->added[k].raw, token)) return tok->added[k].id;
    return tk_model_token_to_id(tok->model, token, strlen(token));
}

sbert_tokenize_options sbert_tokenize_options_default(void) {
    sbert_tokenize_options o;
    o.add_special_tokens = 1;
    o.max_length = 0;
    o.strategy = SBERT_TRUNCATE_LONGEST_FIRST;
    return o;
}

void sbert_encoding_free(sbert_encoding *enc) {
    if (!enc) return;
    free(enc->input_ids);
    free(enc->token_type_ids);
    free(enc->attention_mask);
    memset(enc, 0, sizeof *enc);
}

/* ---------------------------------------------------------------- encode */

typedef struct {
    size_t start, end;
    int32_t tok; /* added token index, -1 for text */
} seg;

typedef struct {
    seg *v;
    size_t n, cap;
} segs;

static sbert_status seg_push(segs *s, size_t a, size_t b, int32_t tok) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        seg *v = realloc(s->v, cap * sizeof *v);
        if (!v) return sbert_fail(SBERT_ERR_NOMEM, "tokenizer: out of memory");
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = (seg){a, b, tok};
    return SBERT_OK;
}

static int last_is_word(const char *s, size_t end) {
    if (end == 0) return 0;
    size_t b = end - 1;
    while (b > 0 && ((unsigned char)s[b] & 0xC0) == 0x80) b--;
    return tk_is_word(tk_utf8_next(s, &b));
}

static int first_is_word(const char *s, size_t n, size_t start) {
    if (start >= n) return 0;
    return tk_is_word(tk_utf8_next(s, &start));
}

/* HF AddedVocabulary::find_matches over s[0..n) with one trie. */
static sbert_status find_added(const sbert_tokenizer *tok, const trie *t, const char *s, size_t n,
                               segs *out) {
    out->n = 0;
    size_t start_offset = 0;
    if (t->n > 0) {
        for (size_t i = 0; i < n;) {
            size_t end = 0;
            int32_t k = t->first[(unsigned char)s[i]] ? trie_longest(t, s, n, i, &end) : -1;
            if (k < 0) {
                i++;
                continue;
            }
            const added_tok *a = &tok->added[k];
            size_t start = i, stop = end;
            i = end; /* non-overlapping iteration continues after the raw match */
            if (a->single_word) {
                int start_space = start == 0 || !last_is_word(s, start);
                int stop_space = stop == n || !first_is_word(s, n, stop);
                if (!start_space || !stop_space) continue;
            }
            if (a->lstrip) {
                size_t ns = start;
                while (ns > 0) {
                    size_t b = ns - 1;
                    while (b > 0 && ((unsigned char)s[b] & 0xC0) == 0x80) b--;
                    size_t q = b;
                    if (!tk_is_whitespace(tk_utf8_next(s, &q))) break;
                    ns = b;
                }
                start = ns > start_offset ? ns : start_offset;
            }
            if (a->rstrip) {
                while (stop < n) {
                    size_t q = stop;
                    if (!tk_is_whitespace(tk_utf8_next(s, &q))) break;
                    stop = q;
                }
            }
            if (start_offset < start) SBERT_TRY(seg_push(out, start_offset, start, -1));
            SBERT_TRY(seg_push(out, start, stop, k));
            start_offset = stop;
        }
    }
    if (start_offset < n) SBERT_TRY(seg_push(out, start_offset, n, -1));
    return SBERT_OK;
}

typedef struct {
    tk_buf norm, probe;
    segs raw, sub;
    tk_pieces a, b;
} scratch;

static void scratch_free(scratch *w) {
    tk_buf_free(&w->norm);
    tk_buf_free(&w->probe);
    free(w->raw.v);
    free(w->sub.v);
    tk_pieces_free(&w->a);
    tk_pieces_free(&w->b);
}

/* Pre-tokenize + model one text segment; append ids. */
static sbert_status run_text(const sbert_tokenizer *tok, const char *s, size_t n, size_t orig,
                             scratch *w, tk_ids *ids) {
    if (n == 0) return SBERT_OK;
    if (!tok->pretok) return tk_model_tokenize(tok->model, s, n, ids);
    tk_pieces_clear(&w->a);
    SBERT_TRY(tk_pieces_add(&w->a, s, n, orig));
    SBERT_TRY(tk_pretokenize(tok->pretok, &w->a, &w->b));
    for (size_t k = 0; k < w->b.n; k++)
        SBERT_TRY(tk_model_tokenize(tok->model, w->b.text.p + w->b.v[k].off, w->b.v[k].len, ids));
    return SBERT_OK;
}

static sbert_status encode_one(const sbert_tokenizer *tok, const char *text, size_t n, scratch *w,
                               tk_ids *ids) {
    SBERT_TRY(find_added(tok, &tok->trie_raw, text, n, &w->raw));
    for (size_t r = 0; r < w->raw.n; r++) {
        const seg *sg = &w->raw.v[r];
        if (sg->tok >= 0) {
            SBERT_TRY(tk_ids_push(ids, tok->added[sg->tok].id));
            continue;
        }
        const char *s = text + sg->start;
        size_t len = sg->end - sg->start;
        size_t lead = 0;
        if (tok->normalizer && tok->track_orig) {
            /* HF's offsets_original(): where the first normalized character comes
             * from. Characters the normalizer drops at the start move it right
             * (probed one character at a time: linear, and exact for the
             * character-wise normalizers that drop characters). */
            for (size_t i = 0; i < len;) {
                size_t next = i;
                tk_utf8_next(s, &next);
                SBERT_TRY(tk_normalize(tok->normalizer, s + i, next - i, &w->probe));
                if (w->probe.n > 0) {
                    lead = i;
                    break;
                }
                i = next;
            }
        }
        if (tok->normalizer) {
            SBERT_TRY(tk_normalize(tok->normalizer, s, len, &w->norm));
            s = w->norm.p ? w->norm.p : "";
            len = w->norm.n;
        }
        if (len == 0) continue;
        SBERT_TRY(find_added(tok, &tok->trie_norm, s, len, &w->sub));
        for (size_t q = 0; q < w->sub.n; q++) {
            const seg *sb = &w->sub.v[q];
            if (sb->tok >= 0)
                SBERT_TRY(tk_ids_push(ids, tok->added[sb->tok].id));
            else
                SBERT_TRY(run_text(tok, s + sb->start, sb->end - sb->start,
                                   sg->start + lead + sb->start, w, ids));
        }
    }
    return SBERT_OK;
}

static void truncate_to(tk_ids *a, size_t len, int left) {
    if (a->n <= len) return;
    if (left) memmove(a->v, a->v + (a->n - len), len * sizeof *a->v);
    a->n = len;
}

/* HF truncate_encodings with max_length already reduced by the added tokens. */
static sbert_status do_truncate(tk_ids *a, tk_ids *b, size_t max_len,
                                sbert_truncation_strategy strategy, int left) {
    if (max_len == 0) {
        a->n = 0;
        if (b) b->n = 0;
        return SBERT_OK;
    }
    size_t total = a->n + (b ? b->n : 0);
    if (total <= max_len) return SBERT_OK;
    size_t to_remove = total - max_len;
    if (strategy == SBERT_TRUNCATE_LONGEST_FIRST) {
        if (!b) {
            truncate_to(a, total - to_remove, left);
            return SBERT_OK;
        }
        size_t n1 = a->n, n2 = b->n;
        int swap = 0;
        if (n1 > n2) {
            swap = 1;
            size_t t = n1; n1 = n2; n2 = t;
        }
        if (n1 > max_len) n2 = n1;
        else n2 = n1 > max_len - n1 ? n1 : max_len - n1;
        if (n1 + n2 > max_len) {
            n1 = max_len / 2;
            n2 = n1 + max_len % 2;
        }
        if (swap) {
            size_t t = n1; n1 = n2; n2 = t;
        }
        truncate_to(a, n1, left);
        truncate_to(b, n2, left);
        return SBERT_OK;
    }
    tk_ids *target = strategy == SBERT_TRUNCATE_ONLY_FIRST ? a : b;
    if (!target)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "tokenizer: truncation only_second needs a second sequence");
    if (target->n <= to_remove)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "tokenizer: truncation to %zu tokens: the %s sequence (%zu tokens) is "
                          "too short to remove %zu tokens",
                          max_len, target == a ? "first" : "second", target->n, to_remove);
    truncate_to(target, target->n - to_remove, left);
    return SBERT_OK;
}

sbert_status sbert_tokenizer_encode(const sbert_tokenizer *tok, const char *text, size_t text_len,
                                    const char *pair, size_t pair_len,
                                    const sbert_tokenize_options *opt, sbert_encoding *out) {
    if (!out) return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_tokenizer_encode: out is NULL");
    memset(out, 0, sizeof *out);
    if (!tok) return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_tokenizer_encode: tokenizer is NULL");
    if (!text && text_len)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_tokenizer_encode: text is NULL");
    if (!pair && pair_len)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "sbert_tokenizer_encode: pair is NULL");
    sbert_tokenize_options dflt = sbert_tokenize_options_default();
    if (!opt) opt = &dflt;
    size_t bad;
    if (text && !tk_utf8_valid(text, text_len, &bad))
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "%s: text is not valid UTF-8 (bad byte 0x%02X at byte offset %zu)",
                          tok->name, (unsigned)(unsigned char)text[bad], bad);
    if (pair && !tk_utf8_valid(pair, pair_len, &bad))
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "%s: pair text is not valid UTF-8 (bad byte 0x%02X at byte offset %zu)",
                          tok->name, (unsigned)(unsigned char)pair[bad], bad);
    scratch w;
    memset(&w, 0, sizeof w);
    tk_ids a = {0}, b = {0};
    sbert_status st = encode_one(tok, text ? text : "", text_len, &w, &a);
    if (st == SBERT_OK && pair) st = encode_one(tok, pair, pair_len, &w, &b);
    scratch_free(&w);
    /* truncation */
    if (st == SBERT_OK) {
        long max_len = 0;
        sbert_truncation_strategy strategy = opt->strategy;
        int enabled = 0;
        if (opt->max_length > 0) {
            enabled = 1;
            max_len = opt->max_length;
        } else if (opt->max_length == 0 && tok->trunc_enabled) {
            enabled = 1;
            max_len = tok->trunc_max;
            strategy = tok->trunc_strategy;
        }
        if (enabled) {
            size_t added = opt->add_special_tokens ? tk_post_added(tok->post, pair != NULL) : 0;
            if ((size_t)max_len < added)
                st = sbert_fail(SBERT_ERR_INVALID_ARG,
                                "%s: max_length %ld is smaller than the %zu special tokens added",
                                tok->name, max_len, added);
            else
                st = do_truncate(&a, pair ? &b : NULL, (size_t)max_len - added, strategy,
                                 tok->trunc_left);
        }
    }
    if (st == SBERT_OK)
        st = tk_post_apply(tok->post, &a, pair ? &b : NULL, opt->add_special_tokens, out);
    tk_ids_free(&a);
    tk_ids_free(&b);
    return st;
}

/* ------------------------------------------------------ id -> token */

static pthread_mutex_t g_id_tok_lock = PTHREAD_MUTEX_INITIALIZER;

/* The id -> string table: the model vocabulary, then the added tokens'
 * contents over it (what convert_ids_to_tokens returns). */
static int build_id_tok(sbert_tokenizer *tok) {
    const tk_vocab *v = model_vocab(tok->model);
    size_t n = 0;
    if (v) {
        for (size_t i = 0; i < v->cap; i++)
            if (v->slots[i].id >= 0 && (size_t)v->slots[i].id + 1 > n) n = (size_t)v->slots[i].id + 1;
    } else {
        n = sbert_unigram_vocab_size(tok->model->uni);
    }
    for (size_t k = 0; k < tok->n_added; k++)
        if (tok->added[k].id >= 0 && (size_t)tok->added[k].id + 1 > n) n = (size_t)tok->added[k].id + 1;
    const char **t = calloc(n ? n : 1, sizeof *t);
    char *buf = NULL;
    if (!t) return 0;
    if (v) {
        size_t bytes = 0;
        for (size_t i = 0; i < v->cap; i++)
            if (v->slots[i].id >= 0) bytes += v->slots[i].len + 1;
        buf = malloc(bytes ? bytes : 1);
        if (!buf) {
            free(t);
            return 0;
        }
        size_t o = 0;
        for (size_t i = 0; i < v->cap; i++) {
            const tk_vent *e = &v->slots[i];
            if (e->id < 0) continue;
            memcpy(buf + o, v->keys.p + e->off, e->len);
            buf[o + e->len] = '\0';
            t[e->id] = buf + o;
            o += e->len + 1;
        }
    } else {
        for (size_t i = 0; i < n; i++) t[i] = sbert_unigram_id_to_token(tok->model->uni, (int32_t)i);
    }
    for (size_t k = 0; k < tok->n_added; k++)
        if (tok->added[k].id >= 0) t[tok->added[k].id] = tok->added[k].raw;
    tok->id_tok = t;
    tok->id_tok_buf = buf;
    tok->id_tok_n = n;
    return 1;
}

const char *sbert_tokenizer_id_to_token(const sbert_tokenizer *ctok, int32_t id) {
    if (!ctok || id < 0) return NULL;
    sbert_tokenizer *tok = (sbert_tokenizer *)ctok; /* the table is a cache */
    pthread_mutex_lock(&g_id_tok_lock);
    int ok = tok->id_tok != NULL || build_id_tok(tok);
    pthread_mutex_unlock(&g_id_tok_lock);
    if (!ok || (size_t)id >= tok->id_tok_n) return NULL;
    return tok->id_tok[id];
}
