/*
 * training/recipe.h -- training recipes: a human-editable file of
 * `key: value` lines (`#` starts a comment, blank lines ignored) whose keys
 * are the sentence-transformers / Hugging Face names (learning_rate,
 * per_device_train_batch_size, loss, ...), plus `--key value` overrides from
 * the command line, which win over the file.
 *
 * Every key is checked against the caller's list of known keys before
 * anything runs: an unknown key is an error that suggests the closest valid
 * name.
 */
#ifndef SBERT_TRAINING_RECIPE_H
#define SBERT_TRAINING_RECIPE_H

#include <stddef.h>
#include <stdint.h>

#include "sbert.h"

typedef struct sbert_recipe sbert_recipe;

/* Parse `path` (NULL: start empty) then apply overrides given as
 * "key=value" strings or as argv-style pairs "--key" "value". Keys are
 * validated against known_keys (NULL-terminated; it must outlive r). */
sbert_status sbert_recipe_load(const char *path, const char *const *args, size_t n_args,
                               const char *const *known_keys, sbert_recipe **out);
void sbert_recipe_free(sbert_recipe *r);

/* Set one key (validated). */
sbert_status sbert_recipe_set(sbert_recipe *r, const char *key, const char *value, const char *origin);

/* Raw value or NULL when unset. */
const char *sbert_recipe_get(const sbert_recipe *r, const char *key);
/* Where a key's value came from ("recipe.yaml:12" or "command line"). */
const char *sbert_recipe_origin(const sbert_recipe *r, const char *key);

/* Typed getters: `def` when unset; a malformed value is an error naming the
 * key, where it came from, and the expected type. */
sbert_status sbert_recipe_string(const sbert_recipe *r, const char *key, const char *def, const char **out);
sbert_status sbert_recipe_double(const sbert_recipe *r, const char *key, double def, double *out);
sbert_status sbert_recipe_int(const sbert_recipe *r, const char *key, int64_t def, int64_t *out);
sbert_status sbert_recipe_bool(const sbert_recipe *r, const char *key, int def, int *out);

/* Closest of `n` candidates to `word` (Levenshtein), or NULL. */
const char *sbert_closest_name(const char *word, const char *const *candidates, size_t n);

/* All set keys in insertion order, for the model card and the log. */
size_t sbert_recipe_count(const sbert_recipe *r);
void sbert_recipe_entry(const sbert_recipe *r, size_t i, const char **key, const char **value);

#endif
