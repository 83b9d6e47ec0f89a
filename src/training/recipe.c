/*
 * training/recipe.c -- recipe files and command-line overrides.
 */
#include "training/recipe.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/error.h"
#include "io/file.h"

typedef struct {
    char *key, *value, *origin;
} entry;

struct sbert_recipe {
    entry *e;
    size_t n, cap;
    const char *const *known; /* NULL-terminated */
};

static size_t levenshtein(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return (size_t)-1 / 2;
    size_t prev[65], cur[65];
    for (size_t j = 0; j <= lb; j++) prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (lb + 1) * sizeof *prev);
    }
    return prev[lb];
}

const char *sbert_closest_name(const char *word, const char *const *cands, size_t n) {
    const char *best = NULL;
    size_t bd = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        size_t d = levenshtein(word, cands[i]);
        if (d < bd) { bd = d; best = cands[i]; }
    }
    return best;
}


static int known(const sbert_recipe *r, const char *key) {
    for (size_t i = 0; r->known[i]; i++)
        if (strcmp(r->known[i], key) == 0) return 1;
    return 0;
}

void sbert_recipe_free(sbert_recipe *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) { free(r->e[i].key); free(r->e[i].value); free(r->e[i].origin); }
    free(r->e);
    free(r);
}

sbert_status sbert_recipe_set(sbert_recipe *r, const char *key, const char *value, const char *origin) {
    if (!known(r, key)) {
        size_t n = 0;
        while (r->known[n]) n++;
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: unknown key '%s' (did you mean '%s'?)", origin, key,
                          sbert_closest_name(key, r->known, n));
    }
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->e[i].key, key) == 0) {
            char *v = strdup(value), *o = strdup(origin);
            if (!v || !o) { free(v); free(o); return sbert_fail(SBERT_ERR_NOMEM, "out of memory"); }
            free(r->e[i].value); free(r->e[i].origin);
            r->e[i].value = v;
            r->e[i].origin = o;
            return SBERT_OK;
        }
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 32;
        entry *ne = realloc(r->e, cap * sizeof *ne);
        if (!ne) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
        r->e = ne;
        r->cap = cap;
    }
    entry *e = &r->e[r->n];
    e->key = strdup(key); e->value = strdup(value); e->origin = strdup(origin);
    if (!e->key || !e->value || !e->origin) {
        free(e->key); free(e->value); free(e->origin);
        return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    }
    r->n++;
    return SBERT_OK;
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
    return s;
}

/* Strip a trailing comment that is not inside quotes; unquote "..." / '...'. */
static char *clean_value(char *v) {
    char q = 0;
    for (char *p = v; *p; p++) {
        if (q) { if (*p == q) q = 0; continue; }
        if (*p == '"' || *p == '\'') q = *p;
        else if (*p == '#' && (p == v || isspace((unsigned char)p[-1]))) { *p = '\0'; break; }
    }
    v = trim(v);
    size_t n = strlen(v);
    if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
        v[n - 1] = '\0';
        v++;
    }
    return v;
}

sbert_status sbert_recipe_load(const char *path, const char *const *args, size_t n_args, const char *const *known_keys,
                               sbert_recipe **out) {
    *out = NULL;
    sbert_recipe *r = calloc(1, sizeof *r);
    if (!r) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    r->known = known_keys;
    sbert_status st = SBERT_OK;
    if (path) {
        char *text = NULL;
        size_t len;
        if ((st = sbert_read_file(path, &text, &len)) != SBERT_OK) { sbert_recipe_free(r); return st; }
        const char *nul = memchr(text, '\0', len);
        if (nul) { /* the line would silently end there */
            size_t at = 1;
            for (const char *p = text; p < nul; p++) at += *p == '\n';
            st = sbert_fail(SBERT_ERR_FORMAT, "%s:%zu: a NUL byte; a recipe must be text", path, at);
            free(text);
            sbert_recipe_free(r);
            return st;
        }
        size_t lineno = 0;
        for (char *line = text, *next; line && st == SBERT_OK; line = next) {
            next = strchr(line, '\n');
            if (next) *next++ = '\0';
            lineno++;
            char *s = trim(line);
            if (!*s || *s == '#') continue;
            char *colon = strchr(s, ':');
            char *eq = strchr(s, '=');
            char *sep = colon && (!eq || colon < eq) ? colon : eq;
            char origin[4200];
            snprintf(origin, sizeof origin, "%s:%zu", path, lineno);
            if (!sep) {
                st = sbert_fail(SBERT_ERR_FORMAT, "%s: expected 'key: value', got '%.80s'", origin, s);
                break;
            }
            *sep = '\0';
            char *key = trim(s), *val = clean_value(sep + 1);
            if (!*key) { st = sbert_fail(SBERT_ERR_FORMAT, "%s: missing key before ':'", origin); break; }
            if (sbert_recipe_get(r, key)) { /* the file would silently keep only the last one */
                st = sbert_fail(SBERT_ERR_FORMAT, "%s: key '%s' is set twice in the recipe (first at %s)",
                                origin, key, sbert_recipe_origin(r, key));
                break;
            }
            st = sbert_recipe_set(r, key, val, origin);
        }
        free(text);
    }
    for (size_t i = 0; i < n_args && st == SBERT_OK; i++) {
        const char *a = args[i];
        char key[256];
        const char *val;
        if (strncmp(a, "--", 2) == 0) a += 2;
        const char *eq = strchr(a, '=');
        if (eq) {
            snprintf(key, sizeof key, "%.*s", (int)(eq - a), a);
            val = eq + 1;
        } else {
            if (i + 1 >= n_args) {
                st = sbert_fail(SBERT_ERR_INVALID_ARG, "command line: --%s needs a value", a);
                break;
            }
            snprintf(key, sizeof key, "%s", a);
            val = args[++i];
        }
        for (char *p = key; *p; p++) if (*p == '-') *p = '_';
        st = sbert_recipe_set(r, key, val, "command line");
    }
    if (st != SBERT_OK) { sbert_recipe_free(r); return st; }
    *out = r;
    return SBERT_OK;
}

const char *sbert_recipe_get(const sbert_recipe *r, const char *key) {
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->e[i].key, key) == 0) return r->e[i].value;
    return NULL;
}

const char *sbert_recipe_origin(const sbert_recipe *r, const char *key) {
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->e[i].key, key) == 0) return r->e[i].origin;
    return "default";
}

sbert_status sbert_recipe_string(const sbert_recipe *r, const char *key, const char *def, const char **out) {
    const char *v = sbert_recipe_get(r, key);
    *out = v ? v : def;
    return SBERT_OK;
}

sbert_status sbert_recipe_double(const sbert_recipe *r, const char *key, double def, double *out) {
    const char *v = sbert_recipe_get(r, key);
    if (!v) { *out = def; return SBERT_OK; }
    char *e;
    errno = 0;
    double d = strtod(v, &e);
    if (e == v || *e || errno == ERANGE || !isfinite(d))
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: %s must be a number, got '%s'", sbert_recipe_origin(r, key),
                          key, v);
    *out = d;
    return SBERT_OK;
}

sbert_status sbert_recipe_int(const sbert_recipe *r, const char *key, int64_t def, int64_t *out) {
    const char *v = sbert_recipe_get(r, key);
    if (!v) { *out = def; return SBERT_OK; }
    char *e;
    errno = 0;
    long long x = strtoll(v, &e, 10);
    if (e == v || *e || errno == ERANGE)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: %s must be an integer, got '%s'", sbert_recipe_origin(r, key),
                          key, v);
    *out = (int64_t)x;
    return SBERT_OK;
}

sbert_status sbert_recipe_bool(const sbert_recipe *r, const char *key, int def, int *out) {
    const char *v = sbert_recipe_get(r, key);
    if (!v) { *out = def; return SBERT_OK; }
    if (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes")) { *out = 1; return SBERT_OK; }
    if (!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no")) { *out = 0; return SBERT_OK; }
    return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: %s must be true or false, got '%s'", sbert_recipe_origin(r, key),
                      key, v);
}

size_t sbert_recipe_count(const sbert_recipe *r) { return r->n; }

void sbert_recipe_entry(const sbert_recipe *r, size_t i, const char **key, const char **value) {
    *key = r->e[i].key;
    *value = r->e[i].value;
}
