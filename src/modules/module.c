/*
 * modules/module.c -- the parts of the module contract every module shares:
 * the run arena, the common fields, and config.json passthrough.
 */
#include "modules/module.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "io/atomic.h"
#include "io/file.h"

float *sbert_run_alloc(sbert_run *r, size_t n, int zero) {
    if (r->used == r->cap_blocks) {
        size_t cap = r->cap_blocks ? 2 * r->cap_blocks : 16;
        void **nb = realloc(r->blocks, cap * sizeof *nb);
        if (!nb) goto nomem;
        r->blocks = nb;
        size_t *nc = realloc(r->block_cap, cap * sizeof *nc);
        if (!nc) goto nomem;
        r->block_cap = nc;
        for (size_t i = r->cap_blocks; i < cap; i++) {
            r->blocks[i] = NULL;
            r->block_cap[i] = 0;
        }
        r->cap_blocks = cap;
    }
    if (r->used == r->n_blocks) r->n_blocks++;
    size_t bytes = (n ? n : 1) * sizeof(float);
    if (r->block_cap[r->used] < bytes) {
        free(r->blocks[r->used]);
        r->blocks[r->used] = malloc(bytes);
        r->block_cap[r->used] = r->blocks[r->used] ? bytes : 0;
        if (!r->blocks[r->used]) goto nomem;
    }
    float *p = r->blocks[r->used++];
    if (zero) memset(p, 0, n * sizeof(float));
    return p;
nomem:
    sbert_fail(SBERT_ERR_NOMEM, "out of memory for a batch buffer of %zu floats", n);
    return NULL;
}

void sbert_run_reset(sbert_run *r) { r->used = 0; }

void sbert_run_free(sbert_run *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n_blocks; i++) free(r->blocks[i]);
    free(r->blocks);
    free(r->block_cap);
    r->blocks = NULL;
    r->block_cap = NULL;
    r->n_blocks = r->used = r->cap_blocks = 0;
}

static char *dupstr(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

sbert_status sbert_module_init(sbert_module *m, const sbert_module_ops *ops, const char *type,
                               const char *config) {
    m->ops = ops;
    m->type = dupstr(type);
    m->config = dupstr(config);
    if (!m->type || (config && !m->config)) return sbert_fail(SBERT_ERR_NOMEM, "out of memory (module)");
    return SBERT_OK;
}

void sbert_module_fini(sbert_module *m) {
    free(m->type);
    free(m->config);
    m->type = m->config = NULL;
}

void sbert_module_free(sbert_module *m) {
    if (m) m->ops->free(m);
}

sbert_status sbert_module_save_config(const sbert_module *m, const char *dir) {
    if (!m->config) return SBERT_OK;
    char path[4096];
    SBERT_TRY(sbert_path_join(path, sizeof path, dir, "config.json"));
    return sbert_write_file_atomic(path, m->config, strlen(m->config));
}

sbert_status sbert_module_read_config(const char *dir, char **text) {
    *text = NULL;
    char path[4096];
    SBERT_TRY(sbert_path_join(path, sizeof path, dir, "config.json"));
    if (!sbert_file_exists(path)) return SBERT_OK;
    size_t len = 0;
    return sbert_read_file(path, text, &len);
}
