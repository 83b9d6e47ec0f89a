/*
 * tokenizers/tok_internal.h -- the pieces the HF tokenizer.json pipeline is
 * built from, shared by the files of src/tokenizers/.
 *
 * An encode call runs, for the text (and again for the pair text):
 *
 *   raw UTF-8 --added tokens (normalized=false)--> segments
 *     each text segment --normalizer--> normalized text
 *       --added tokens (normalized=true)--> segments
 *         each text segment --pre-tokenizer--> words   (tk_pieces)
 *           each word --model (WordPiece/BPE/Unigram/WordLevel)--> ids
 *   ids(A), ids(B) --truncation--> --post-processor--> sbert_encoding
 *
 * Components are small tagged structs parsed from the JSON by *_parse
 * functions; every parse error names the JSON path (e.g.
 * "tokenizer.json: pre_tokenizer.pretokenizers[1].type 'X' is not supported").
 *
 * Helpers here: a growable byte buffer (tk_buf), a growable id array
 * (tk_ids), a list of text pieces that share one buffer (tk_pieces) and a
 * string->id hash table (tk_vocab).
 */
#ifndef SBERT_TOKENIZERS_TOK_INTERNAL_H
#define SBERT_TOKENIZERS_TOK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "sbert.h"

/* ------------------------------------------------------------- buffers */

typedef struct {
    char *p;
    size_t n, cap;
} tk_buf;

sbert_status tk_buf_reserve(tk_buf *b, size_t extra);
sbert_status tk_buf_put(tk_buf *b, const char *s, size_t n);
/* Append code point `cp` encoded as UTF-8. */
sbert_status tk_buf_putcp(tk_buf *b, uint32_t cp);
void tk_buf_free(tk_buf *b);

typedef struct {
    int32_t *v;
    size_t n, cap;
} tk_ids;

sbert_status tk_ids_push(tk_ids *a, int32_t id);
void tk_ids_free(tk_ids *a);

/* A list of pieces of text stored back to back in `text`. `orig` is the
 * byte offset in the original input the piece starts at (used by the
 * Metaspace "first" prepend scheme). */
typedef struct {
    size_t off, len, orig;
} tk_span;

typedef struct {
    tk_buf text;
    tk_span *v;
    size_t n, cap;
} tk_pieces;

/* Append a piece copied from s[0..n). Empty pieces are dropped. */
sbert_status tk_pieces_add(tk_pieces *p, const char *s, size_t n, size_t orig);
void tk_pieces_clear(tk_pieces *p);
void tk_pieces_free(tk_pieces *p);

/* ---------------------------------------------------------- hash table */

typedef struct {
    uint32_t off, len, hash;
    int32_t id; /* -1: empty slot */
} tk_vent;

typedef struct {
    tk_vent *slots;
    size_t cap, n;
    tk_buf keys;
} tk_vocab;

/* Insert or overwrite. */
sbert_status tk_vocab_put(tk_vocab *v, const char *key, size_t len, int32_t id);
/* -1 when absent. */
int32_t tk_vocab_get(const tk_vocab *v, const char *key, size_t len);
void tk_vocab_free(tk_vocab *v);
uint32_t tk_hash(const char *s, size_t n);

/* --------------------------------------------------------- JSON helpers */

/* Fetch an optional member; type errors name `path.key`. */
sbert_status tk_json_bool(const cJSON *o, const char *key, int dflt, int *out, const char *name,
                          const char *path);
/* String member (NULL if absent or null when `optional`). */
sbert_status tk_json_str(const cJSON *o, const char *key, int optional, const char **out,
                         const char *name, const char *path);
sbert_status tk_json_int(const cJSON *o, const char *key, long dflt, long *out, const char *name,
                         const char *path);

/* ------------------------------------------------------------ patterns */

/* A Split / Replace pattern: {"String": s} (literal) or {"Regex": r}
 * (PCRE2 with UTF + UCP, standing in for Oniguruma). */
typedef struct tk_pattern tk_pattern;
typedef struct {
    size_t start, end;
} tk_range;

sbert_status tk_pattern_parse(const cJSON *j, const char *name, const char *path,
                              tk_pattern **out);
/* All non-overlapping matches in s[0..n), left to right, as Oniguruma's
 * find_iter reports them. *m (capacity *cap) is realloc'd as needed. */
sbert_status tk_pattern_find(const tk_pattern *p, const char *s, size_t n, tk_range **m,
                             size_t *nm, size_t *cap);
void tk_pattern_free(tk_pattern *p);

/* ---------------------------------------------------------- components */

typedef struct tk_normalizer tk_normalizer;
sbert_status tk_normalizer_parse(const cJSON *j, const char *name, const char *path,
                                 tk_normalizer **out);
/* out is overwritten with the normalized form of in[0..n). */
sbert_status tk_normalize(const tk_normalizer *nz, const char *in, size_t n, tk_buf *out);
void tk_normalizer_free(tk_normalizer *nz);

typedef struct tk_pretok tk_pretok;
sbert_status tk_pretok_parse(const cJSON *j, const char *name, const char *path, tk_pretok **out);
/* Split every piece of `in` into `out` (cleared first). `in` may be modified. */
sbert_status tk_pretokenize(const tk_pretok *pt, tk_pieces *in, tk_pieces *out);
void tk_pretok_free(tk_pretok *pt);
/* 1 if a Metaspace with prepend_scheme "first" is inside: the pipeline must
 * then track where each piece starts in the original text. */
int tk_pretok_uses_first(const tk_pretok *pt);

typedef struct tk_model tk_model;
sbert_status tk_model_parse(const cJSON *j, const char *name, tk_model **out);
/* Append the ids of one pre-tokenized word s[0..n) to *ids. */
sbert_status tk_model_tokenize(const tk_model *m, const char *s, size_t n, tk_ids *ids);
int32_t tk_model_token_to_id(const tk_model *m, const char *s, size_t n);
size_t tk_model_vocab_size(const tk_model *m);
void tk_model_free(tk_model *m);

/* Models (wordpiece.c, bpe.c); tk_model dispatches to them. */
typedef struct tk_wordpiece tk_wordpiece;
sbert_status tk_wordpiece_parse(const cJSON *j, const char *name, tk_wordpiece **out);
sbert_status tk_wordpiece_tokenize(const tk_wordpiece *w, const char *s, size_t n, tk_ids *ids);
const tk_vocab *tk_wordpiece_vocab(const tk_wordpiece *w);
void tk_wordpiece_free(tk_wordpiece *w);

typedef struct tk_wordlevel tk_wordlevel;
sbert_status tk_wordlevel_parse(const cJSON *j, const char *name, tk_wordlevel **out);
sbert_status tk_wordlevel_tokenize(const tk_wordlevel *w, const char *s, size_t n, tk_ids *ids);
const tk_vocab *tk_wordlevel_vocab(const tk_wordlevel *w);
void tk_wordlevel_free(tk_wordlevel *w);

typedef struct tk_bpe tk_bpe;
sbert_status tk_bpe_parse(const cJSON *j, const char *name, tk_bpe **out);
sbert_status tk_bpe_tokenize(const tk_bpe *b, const char *s, size_t n, tk_ids *ids);
const tk_vocab *tk_bpe_vocab(const tk_bpe *b);
void tk_bpe_free(tk_bpe *b);

/* Parse a JSON object {token: id, ...} into a vocab (errors name path). */
sbert_status tk_vocab_from_json(const cJSON *j, const char *name, const char *path, tk_vocab *v);

typedef struct tk_post tk_post;
sbert_status tk_post_parse(const cJSON *j, const char *name, const char *path, tk_post **out);
/* Number of special tokens added for a single text (pair=0) or a pair. */
size_t tk_post_added(const tk_post *p, int pair);
/* Combine the ids of A (and B, may be NULL) into `out` (ids, type ids,
 * attention mask). p may be NULL (plain concatenation, type ids 0 / 1). */
sbert_status tk_post_apply(const tk_post *p, const tk_ids *a, const tk_ids *b, int add_special,
                           sbert_encoding *out);
void tk_post_free(tk_post *p);

#endif
