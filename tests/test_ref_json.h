/*
 * tests/test_ref_json.h -- reading reference records written by the Python
 * generators: string fields that hold U+0000 come with a "<key>_hex" sibling
 * (cJSON stops at NUL), decoded here.
 */
#ifndef SBERT_TEST_REF_JSON_H
#define SBERT_TEST_REF_JSON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

/* The string field `key` of a reference record and its byte length. Strings holding U+0000 come
 * with "<key>_hex" (cJSON stops at NUL); those are decoded into *owned (free it). */
static inline const char *ref_str(const cJSON *o, const char *key, size_t *len, char **owned) {
    char hk[64];
    snprintf(hk, sizeof hk, "%s_hex", key);
    const cJSON *h = cJSON_GetObjectItem(o, hk);
    *owned = NULL;
    if (cJSON_IsString(h)) {
        size_t n = strlen(h->valuestring) / 2;
        char *b = malloc(n + 1);
        for (size_t i = 0; b && i < n; i++) {
            unsigned v = 0;
            sscanf(h->valuestring + 2 * i, "%2x", &v);
            b[i] = (char)v;
        }
        if (b) b[n] = '\0';
        *owned = b;
        *len = b ? n : 0;
        return b ? b : "";
    }
    const cJSON *s = cJSON_GetObjectItem(o, key);
    const char *v = cJSON_IsString(s) ? s->valuestring : "";
    *len = strlen(v);
    return v;
}

#endif
