/*
 * training/flow_map.c -- YAML flow mappings in recipe values (see flow_map.h).
 */
#include "training/flow_map.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

int sbert_flow_is_map(const char *text) {
    while (text && isspace((unsigned char)*text)) text++;
    return text && *text == '{';
}

void sbert_flow_free(sbert_flow_map *m) {
    if (!m) return;
    for (size_t i = 0; i < m->n; i++) {
        free(m->keys[i]);
        free(m->values[i]);
        sbert_flow_free(m->sub[i]);
    }
    free(m->keys);
    free(m->values);
    free(m->sub);
    free(m);
}

int sbert_flow_find(const sbert_flow_map *m, const char *key) {
    for (size_t i = 0; m && i < m->n; i++)
        if (!strcmp(m->keys[i], key)) return (int)i;
    return -1;
}

typedef struct {
    const char *s, *start, *where;
} cursor;

static void skip(cursor *c) {
    while (isspace((unsigned char)*c->s)) c->s++;
}

static sbert_status err(cursor *c, const char *what) {
    return sbert_fail(SBERT_ERR_FORMAT, "%s: %s at column %zu of '%.120s'", c->where, what,
                      (size_t)(c->s - c->start) + 1, c->start);
}

/* A scalar ending at one of `stops` (plain) or a quoted one. */
static sbert_status scalar(cursor *c, const char *stops, char **out) {
    skip(c);
    size_t cap = strlen(c->s) + 1, n = 0;
    char *buf = malloc(cap);
    if (!buf) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    if (*c->s == '"' || *c->s == '\'') {
        char q = *c->s++;
        for (;;) {
            if (!*c->s) {
                free(buf);
                return err(c, "unterminated quoted string");
            }
            if (*c->s == q) {
                if (q == '\'' && c->s[1] == '\'') { /* '' inside single quotes */
                    buf[n++] = '\'';
                    c->s += 2;
                    continue;
                }
                c->s++;
                break;
            }
            if (q == '"' && *c->s == '\\' && c->s[1]) {
                c->s++;
                char e = *c->s++;
                buf[n++] = e == 'n' ? '\n' : e == 't' ? '\t' : e;
                continue;
            }
            buf[n++] = *c->s++;
        }
    } else if (*c->s == '[') { /* a flow list, kept as its text: "[a, b]" */
        int depth = 0;
        do {
            if (*c->s == '[') depth++;
            else if (*c->s == ']') depth--;
            buf[n++] = *c->s++;
        } while (*c->s && depth > 0);
        if (depth) {
            free(buf);
            return err(c, "unterminated list");
        }
    } else {
        while (*c->s && !strchr(stops, *c->s)) buf[n++] = *c->s++;
        while (n && isspace((unsigned char)buf[n - 1])) n--;
        if (n == 0) {
            free(buf);
            return err(c, "expected a key or a value");
        }
    }
    buf[n] = '\0';
    *out = buf;
    return SBERT_OK;
}

static sbert_status parse_map(cursor *c, int depth, sbert_flow_map **out) {
    *out = NULL;
    skip(c);
    if (*c->s != '{') return err(c, "expected '{'");
    if (depth > 2) return err(c, "mappings nest at most two deep");
    c->s++;
    sbert_flow_map *m = calloc(1, sizeof *m);
    if (!m) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    sbert_status st = SBERT_OK;
    skip(c);
    if (*c->s == '}') {
        c->s++;
        *out = m;
        return SBERT_OK;
    }
    for (;;) {
        char *key = NULL, *val = NULL;
        sbert_flow_map *sub = NULL;
        if ((st = scalar(c, ":,{}", &key)) != SBERT_OK) break;
        skip(c);
        if (*c->s != ':') {
            free(key);
            st = err(c, "expected ':' after a key");
            break;
        }
        c->s++;
        skip(c);
        if (*c->s == '{') st = parse_map(c, depth + 1, &sub);
        else if (*c->s == ',' || *c->s == '}') st = (val = calloc(1, 1)) ? SBERT_OK : SBERT_ERR_NOMEM; /* empty value */
        else st = scalar(c, ",}", &val);
        if (st == SBERT_OK && sbert_flow_find(m, key) >= 0) st = err(c, "a key is given twice");
        if (st == SBERT_OK) {
            char **nk = realloc(m->keys, (m->n + 1) * sizeof *nk);
            if (nk) m->keys = nk;
            char **nv = realloc(m->values, (m->n + 1) * sizeof *nv);
            if (nv) m->values = nv;
            sbert_flow_map **ns = realloc(m->sub, (m->n + 1) * sizeof *ns);
            if (ns) m->sub = ns;
            if (!nk || !nv || !ns) st = sbert_fail(SBERT_ERR_NOMEM, "out of memory");
        }
        if (st != SBERT_OK) {
            free(key);
            free(val);
            sbert_flow_free(sub);
            break;
        }
        m->keys[m->n] = key;
        m->values[m->n] = val;
        m->sub[m->n] = sub;
        m->n++;
        skip(c);
        if (*c->s == ',') {
            c->s++;
            continue;
        }
        if (*c->s == '}') {
            c->s++;
            break;
        }
        st = err(c, "expected ',' or '}'");
        break;
    }
    if (st != SBERT_OK) {
        sbert_flow_free(m);
        return st;
    }
    *out = m;
    return SBERT_OK;
}

sbert_status sbert_flow_parse(const char *text, const char *where, sbert_flow_map **out) {
    cursor c = {text, text, where};
    SBERT_TRY(parse_map(&c, 0, out));
    skip(&c);
    if (*c.s) {
        sbert_flow_free(*out);
        *out = NULL;
        return err(&c, "unexpected text after the mapping");
    }
    return SBERT_OK;
}
