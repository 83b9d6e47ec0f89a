/*
 * io/hf_cache.c -- model ids ("sentence-transformers/all-MiniLM-L6-v2")
 * resolved through the Hugging Face cache that huggingface_hub lays out (see
 * hf_cache.h).
 */
#include "io/hf_cache.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "io/file.h"

int sbert_hf_is_model_id(const char *s) {
    if (!s || !*s || s[0] == '/' || s[0] == '.' || s[0] == '~') return 0;
    const char *slash = strchr(s, '/');
    if (!slash || slash == s || !slash[1] || strchr(slash + 1, '/')) return 0;
    for (const char *p = s; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.' || *p == '/')) return 0;
    return strstr(s, "..") == NULL && strstr(s, "--") == NULL;
}

/* The cache roots in the order huggingface_hub uses them. */
static size_t cache_roots(char roots[3][4096]) {
    const char *v;
    size_t n = 0;
    if ((v = getenv("HF_HUB_CACHE")) && *v) snprintf(roots[n++], 4096, "%s", v);
    else if ((v = getenv("HUGGINGFACE_HUB_CACHE")) && *v) snprintf(roots[n++], 4096, "%s", v);
    else if ((v = getenv("HF_HOME")) && *v) snprintf(roots[n++], 4096, "%s/hub", v);
    else if ((v = getenv("XDG_CACHE_HOME")) && *v) snprintf(roots[n++], 4096, "%s/huggingface/hub", v);
    else if ((v = getenv("HOME")) && *v) snprintf(roots[n++], 4096, "%s/.cache/huggingface/hub", v);
    return n;
}

static int is_commit_hash(const char *s) {
    size_t n = strlen(s);
    if (n != 40) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i])) return 0;
    return 1;
}

sbert_status sbert_hf_resolve(const char *id, const char *revision, char *out, size_t cap) {
    if (!revision || !*revision) revision = "main";
    if (strchr(revision, '/') && !strncmp(revision, "refs/", 5)) revision += 5;
    if (strstr(revision, "..")) return sbert_fail(SBERT_ERR_INVALID_ARG, "revision '%s' is not a valid name", revision);
    char roots[3][4096], searched[8192] = "";
    size_t nr = cache_roots(roots), ns = 0;
    char repo[512];
    snprintf(repo, sizeof repo, "models--%s", id);
    for (char *p = repo + 8; *p; p++)
        if (*p == '/') {
            memmove(p + 2, p + 1, strlen(p + 1) + 1);
            p[0] = p[1] = '-';
            p++;
        }
    for (size_t r = 0; r < nr; r++) {
        char snap[8800], ref[8800];
        char hash[128] = "";
        if (is_commit_hash(revision)) {
            snprintf(hash, sizeof hash, "%s", revision);
        } else {
            if (sbert_path_join(ref, sizeof ref, roots[r], repo) != SBERT_OK ||
                sbert_path_join(ref + strlen(ref), sizeof ref - strlen(ref), "/refs", revision) != SBERT_OK)
                return SBERT_ERR_INVALID_ARG;
            ns += (size_t)snprintf(searched + ns, ns < sizeof searched ? sizeof searched - ns : 0, "%s%s",
                                   ns ? ", " : "", ref);
            char *text = NULL;
            size_t len = 0;
            if (!sbert_file_exists(ref) || sbert_read_file(ref, &text, &len) != SBERT_OK) {
                sbert_error_clear();
                free(text);
                continue;
            }
            size_t k = 0;
            while (k < len && k + 1 < sizeof hash && !isspace((unsigned char)text[k])) {
                hash[k] = text[k];
                k++;
            }
            hash[k] = '\0';
            free(text);
            if (!is_commit_hash(hash)) {
                return sbert_fail(SBERT_ERR_FORMAT, "%s: not a commit hash (a damaged Hugging Face cache?)", ref);
            }
        }
        if (sbert_path_join(snap, sizeof snap, roots[r], repo) != SBERT_OK ||
            sbert_path_join(snap + strlen(snap), sizeof snap - strlen(snap), "/snapshots", hash) != SBERT_OK)
            return SBERT_ERR_INVALID_ARG;
        ns += (size_t)snprintf(searched + ns, ns < sizeof searched ? sizeof searched - ns : 0, "%s%s", ns ? ", " : "",
                               snap);
        if (sbert_dir_exists(snap)) {
            if (strlen(snap) >= cap) return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: path too long", snap);
            snprintf(out, cap, "%s", snap);
            return SBERT_OK;
        }
    }
    return sbert_fail(SBERT_ERR_IO,
                      "model '%s' (revision %s): not a local directory and not in the Hugging Face cache (searched: "
                      "%s; set HF_HUB_CACHE or HF_HOME, or download it once with huggingface_hub)",
                      id, revision, ns ? searched : "no cache directory: HOME, HF_HOME and HF_HUB_CACHE are unset");
}
