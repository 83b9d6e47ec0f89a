/*
 * tokenizers/wordpiece.c -- the WordPiece and WordLevel models.
 *
 * WordPiece (BERT): greedy longest-match-first over one pre-tokenized word.
 * Pieces after the first carry continuing_subword_prefix ("##"). A word with
 * more than max_input_chars_per_word characters, or with any position where
 * no vocab piece matches, becomes the single unk_token -- as HF tokenizers'
 * WordPiece::tokenize.
 *
 * WordLevel: the whole word is looked up; unknown words become unk_token.
 */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "tokenizers/tok_internal.h"
#include "tokenizers/unicode.h"

struct tk_wordpiece {
    tk_vocab vocab;
    int32_t unk_id; /* -1 if unk_token is not in the vocab */
    char *unk_token;
    char *prefix;
    size_t prefix_len;
    long max_chars;
};

void tk_wordpiece_free(tk_wordpiece *w) {
    if (!w) return;
    tk_vocab_free(&w->vocab);
    free(w->unk_token);
    free(w->prefix);
    free(w);
}

static char *xstrdup(const char *s) {
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (p) memcpy(p, s, n + 1);
    return p;
}

sbert_status tk_wordpiece_parse(const cJSON *j, const char *name, tk_wordpiece **out) {
    *out = NULL;
    tk_wordpiece *w = calloc(1, sizeof *w);
    if (!w) return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", name);
    const char *unk, *prefix;
    sbert_status st = tk_json_str(j, "unk_token", 1, &unk, name, "model");
    if (st == SBERT_OK) st = tk_json_str(j, "continuing_subword_prefix", 1, &prefix, name, "model");
    if (st == SBERT_OK) st = tk_json_int(j, "max_input_chars_per_word", 100, &w->max_chars, name, "model");
    if (st == SBERT_OK)
        st = tk_vocab_from_json(cJSON_GetObjectItemCaseSensitive(j, "vocab"), name, "model.vocab",
                                &w->vocab);
    if (st == SBERT_OK) {
        w->unk_token = xstrdup(unk ? unk : "[UNK]");
        w->prefix = xstrdup(prefix ? prefix : "##");
        if (!w->unk_token || !w->prefix) st = sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", name);
    }
    if (st != SBERT_OK) {
        tk_wordpiece_free(w);
        return st;
    }
    w->prefix_len = strlen(w->prefix);
    w->unk_id = tk_vocab_get(&w->vocab, w->unk_token, strlen(w->unk_token));
    *out = w;
    return SBERT_OK;
}

static sbert_status push_unk(const tk_wordpiece *w, tk_ids *ids) {
    if (w->unk_id < 0)
        return sbert_fail(SBERT_ERR_FORMAT,
                          "tokenizer: WordPiece unk_token '%s' is not in the vocabulary",
                          w->unk_token);
    return tk_ids_push(ids, w->unk_id);
}

sbert_status tk_wordpiece_tokenize(const tk_wordpiece *w, const char *s, size_t n, tk_ids *ids) {
    long nchars = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) nchars++;
    if (nchars > w->max_chars) return push_unk(w, ids);
    size_t mark = ids->n;
    char stackbuf[256];
    char *buf = stackbuf;
    size_t need = w->prefix_len + n;
    if (need > sizeof stackbuf) {
        buf = malloc(need);
        if (!buf) return sbert_fail(SBERT_ERR_NOMEM, "tokenizer: out of memory");
    }
    memcpy(buf, w->prefix, w->prefix_len);
    sbert_status st = SBERT_OK;
    size_t start = 0;
    int bad = 0;
    while (start < n) {
        size_t end = n;
        int32_t found = -1;
        while (start < end) {
            if (start > 0) {
                memcpy(buf + w->prefix_len, s + start, end - start);
                found = tk_vocab_get(&w->vocab, buf, w->prefix_len + end - start);
            } else {
                found = tk_vocab_get(&w->vocab, s, end);
            }
            if (found >= 0) break;
            /* drop the last character */
            end--;
            while (end > start && ((unsigned char)s[end] & 0xC0) == 0x80) end--;
        }
        if (found < 0) { bad = 1; break; }
        if ((st = tk_ids_push(ids, found)) != SBERT_OK) break;
        start = end;
    }
    if (buf != stackbuf) free(buf);
    if (st != SBERT_OK) return st;
    if (bad) {
        ids->n = mark;
        return push_unk(w, ids);
    }
    return SBERT_OK;
}

const tk_vocab *tk_wordpiece_vocab(const tk_wordpiece *w) { return &w->vocab; }

/* ----------------------------------------------------------- WordLevel */

struct tk_wordlevel {
    tk_vocab vocab;
    int32_t unk_id;
    char *unk_token;
};

void tk_wordlevel_free(tk_wordlevel *w) {
    if (!w) return;
    tk_vocab_free(&w->vocab);
    free(w->unk_token);
    free(w);
}

sbert_status tk_wordlevel_parse(const cJSON *j, const char *name, tk_wordlevel **out) {
    *out = NULL;
    tk_wordlevel *w = calloc(1, sizeof *w);
    if (!w) return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", name);
    const char *unk;
    sbert_status st = tk_json_str(j, "unk_token", 1, &unk, name, "model");
    if (st == SBERT_OK)
        st = tk_vocab_from_json(cJSON_GetObjectItemCaseSensitive(j, "vocab"), name, "model.vocab",
                                &w->vocab);
    if (st == SBERT_OK) {
        w->unk_token = xstrdup(unk ? unk : "<unk>");
        if (!w->unk_token) st = sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", name);
    }
    if (st != SBERT_OK) {
        tk_wordlevel_free(w);
        return st;
    }
    w->unk_id = tk_vocab_get(&w->vocab, w->unk_token, strlen(w->unk_token));
    *out = w;
    return SBERT_OK;
}

sbert_status tk_wordlevel_tokenize(const tk_wordlevel *w, const char *s, size_t n, tk_ids *ids) {
    int32_t id = tk_vocab_get(&w->vocab, s, n);
    if (id < 0) id = w->unk_id;
    if (id < 0)
        return sbert_fail(SBERT_ERR_FORMAT,
                          "tokenizer: WordLevel unk_token '%s' is not in the vocabulary",
                          w->unk_token);
    return tk_ids_push(ids, id);
}

const tk_vocab *tk_wordlevel_vocab(const tk_wordlevel *w) { return &w->vocab; }
