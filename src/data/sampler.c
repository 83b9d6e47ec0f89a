/*
 * data/sampler.c -- BATCH_SAMPLER and NO_DUPLICATES batch samplers.
 *
 * NO_DUPLICATES keeps the not-yet-used positions of the permutation in a
 * singly linked list; each batch walks the list from its head, skipping rows
 * that clash with the batch (they keep their place for later batches), so
 * the order matches sentence-transformers' implementation exactly. The set of
 * values in the current batch is an open-addressing table of 64-bit hashes.
 */
#include "data/sampler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/error.h"
#include "base/rng.h"

sbert_status sbert_sampler_parse(const char *name, sbert_sampler_type *out) {
    const char *n = strncasecmp(name, "BatchSamplers.", 14) == 0 ? name + 14 : name;
    if (strcasecmp(n, "BATCH_SAMPLER") == 0) { *out = SBERT_SAMPLER_BATCH; return SBERT_OK; }
    if (strcasecmp(n, "NO_DUPLICATES") == 0) { *out = SBERT_SAMPLER_NO_DUPLICATES; return SBERT_OK; }
    if (strcasecmp(n, "NO_DUPLICATES_HASHED") == 0) { *out = SBERT_SAMPLER_NO_DUPLICATES_HASHED; return SBERT_OK; }
    if (strcasecmp(n, "GROUP_BY_LABEL") == 0) { *out = SBERT_SAMPLER_GROUP_BY_LABEL; return SBERT_OK; }
    return sbert_fail(SBERT_ERR_INVALID_ARG,
                      "batch_sampler '%s' is not supported (use BATCH_SAMPLER, NO_DUPLICATES, NO_DUPLICATES_HASHED or "
                      "GROUP_BY_LABEL)",
                      name);
}

void sbert_batches_free(sbert_batches *b) {
    free(b->idx);
    free(b->offsets);
    memset(b, 0, sizeof *b);
}

size_t sbert_sampler_len(size_t n, size_t bs, int drop_last) {
    return drop_last ? n / bs : (n + bs - 1) / bs;
}

/* Growable batch list. */
typedef struct {
    sbert_batches *b;
    size_t cap_idx, cap_off;
} batch_builder;

static sbert_status bb_push_batch(batch_builder *bb, const size_t *rows, size_t n) {
    sbert_batches *b = bb->b;
    size_t used = b->offsets ? b->offsets[b->n_batches] : 0;
    if (!b->offsets) {
        bb->cap_off = 64;
        b->offsets = malloc(bb->cap_off * sizeof *b->offsets);
        if (!b->offsets) return sbert_fail(SBERT_ERR_NOMEM, "sampler: out of memory");
        b->offsets[0] = 0;
    }
    if (b->n_batches + 2 > bb->cap_off) {
        size_t *no = realloc(b->offsets, bb->cap_off * 2 * sizeof *no);
        if (!no) return sbert_fail(SBERT_ERR_NOMEM, "sampler: out of memory");
        b->offsets = no;
        bb->cap_off *= 2;
    }
    if (used + n > bb->cap_idx) {
        size_t cap = bb->cap_idx ? bb->cap_idx : 1024;
        while (cap < used + n) cap *= 2;
        size_t *ni = realloc(b->idx, cap * sizeof *ni);
        if (!ni) return sbert_fail(SBERT_ERR_NOMEM, "sampler: out of memory");
        b->idx = ni;
        bb->cap_idx = cap;
    }
    memcpy(b->idx + used, rows, n * sizeof *rows);
    b->n_batches++;
    b->offsets[b->n_batches] = used + n;
    return SBERT_OK;
}

static uint64_t hash_text(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    h ^= h >> 29; /* finalize a little for the table index */
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return h ? h : 1; /* 0 marks an empty slot */
}

typedef struct {
    uint64_t *slot;
    size_t mask;
    size_t *used; /* indices of occupied slots, to clear fast */
    size_t n_used;
} hash_set;

static int hs_contains(const hash_set *s, uint64_t h) {
    for (size_t i = h & s->mask;; i = (i + 1) & s->mask) {
        if (s->slot[i] == 0) return 0;
        if (s->slot[i] == h) return 1;
    }
}

static void hs_insert(hash_set *s, uint64_t h) {
    size_t i = h & s->mask;
    while (s->slot[i] != 0) {
        if (s->slot[i] == h) return;
        i = (i + 1) & s->mask;
    }
    s->slot[i] = h;
    s->used[s->n_used++] = i;
}

static void hs_clear(hash_set *s) {
    for (size_t k = 0; k < s->n_used; k++) s->slot[s->used[k]] = 0;
    s->n_used = 0;
}

/* Row hashes [n_rows, n_in] of the input columns. */
static sbert_status row_hashes(const sbert_dataset *ds, uint64_t **out, size_t *n_in) {
    int label = sbert_dataset_label_column(ds);
    size_t k = 0;
    *n_in = sbert_dataset_n_inputs(ds);
    uint64_t *h = malloc((ds->n_rows * *n_in + 1) * sizeof *h);
    if (!h) return sbert_fail(SBERT_ERR_NOMEM, "sampler: out of memory hashing %zu rows", ds->n_rows);
    for (size_t r = 0; r < ds->n_rows; r++)
        for (size_t c = 0; c < ds->n_cols; c++) {
            if ((int)c == label) continue;
            const sbert_column *col = &ds->cols[c];
            if (col->kind == SBERT_COL_TEXT) h[k++] = hash_text(col->text[r]);
            else if (sbert_column_is_list(col)) {
                /* a list: one hash of its items (FNV-style fold of the item hashes) */
                uint64_t x = 1469598103934665603ull;
                for (size_t i = col->off[r]; i < col->off[r + 1]; i++) {
                    char buf[64];
                    if (col->kind == SBERT_COL_NUMBER_LIST) snprintf(buf, sizeof buf, "%.17g", col->nums[i]);
                    x = (x ^ hash_text(col->kind == SBERT_COL_TEXT_LIST ? col->items[i] : buf)) * 1099511628211ull;
                }
                h[k++] = x ? x : 1;
            } else {
                char buf[64];
                snprintf(buf, sizeof buf, "%.17g", ds->cols[c].num[r]);
                h[k++] = hash_text(buf);
            }
        }
    *out = h;
    return SBERT_OK;
}

static sbert_status nodup_pass(const uint64_t *hashes, size_t n_in, size_t n_rows, const size_t *perm,
                               size_t bs, int drop_last, batch_builder *bb, size_t stop_after) {
    size_t tcap = 16;
    while (tcap < 2 * bs * (n_in ? n_in : 1)) tcap *= 2;
    hash_set set = {calloc(tcap, sizeof(uint64_t)), tcap - 1, malloc(bs * (n_in ? n_in : 1) * sizeof(size_t)), 0};
    ptrdiff_t *next = malloc((n_rows ? n_rows : 1) * sizeof *next);
    size_t *batch = malloc(bs * sizeof *batch);
    sbert_status st = SBERT_OK;
    if (!set.slot || !set.used || !next || !batch) {
        st = sbert_fail(SBERT_ERR_NOMEM, "sampler: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n_rows; i++) next[i] = i + 1 < n_rows ? (ptrdiff_t)(i + 1) : -1;
    ptrdiff_t head = n_rows ? 0 : -1;
    while (head != -1 && bb->b->n_batches < stop_after) {
        size_t nb = 0;
        int full = 0;
        ptrdiff_t cur = head, prev = -1;
        hs_clear(&set);
        while (cur != -1) {
            ptrdiff_t nx = next[cur];
            size_t row = perm[cur];
            const uint64_t *hv = hashes + row * n_in;
            int clash = 0;
            for (size_t k = 0; k < n_in && !clash; k++) clash = hs_contains(&set, hv[k]);
            if (clash) {
                prev = cur;
                cur = nx;
                continue;
            }
            batch[nb++] = row;
            if (prev == -1) head = nx;
            else next[prev] = nx;
            if (nb == bs) {
                full = 1;
                break;
            }
            for (size_t k = 0; k < n_in; k++) hs_insert(&set, hv[k]);
            cur = nx;
        }
        if (full || !drop_last) {
            if (nb && (st = bb_push_batch(bb, batch, nb)) != SBERT_OK) goto done;
        }
        if (!full && nb == 0) break; /* nothing fits (cannot happen with a fresh batch) */
    }
done:
    free(set.slot);
    free(set.used);
    free(next);
    free(batch);
    return st;
}

sbert_status sbert_no_duplicates_pass(const sbert_dataset *ds, const size_t *perm, size_t batch_size,
                                      int drop_last, sbert_batches *out) {
    uint64_t *h;
    size_t n_in;
    SBERT_TRY(row_hashes(ds, &h, &n_in));
    batch_builder bb = {out, 0, out->offsets ? out->n_batches + 1 : 0};
    if (out->offsets) { /* continue an existing list: capacities are at least the sizes */
        bb.cap_idx = out->offsets[out->n_batches];
        bb.cap_off = out->n_batches + 1;
    }
    sbert_status st = nodup_pass(h, n_in, ds->n_rows, perm, batch_size, drop_last, &bb, SIZE_MAX);
    free(h);
    return st;
}

/* ------------------------------------------------------ GROUP_BY_LABEL */

typedef struct {
    double label;
    size_t *rows, n; /* rows of the label in file order; n cut to even later */
} label_group;

static const double *g_sort_labels; /* qsort has no context argument; sampling is single-threaded */

static int cmp_label_row(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    double lx = g_sort_labels[x], ly = g_sort_labels[y];
    if (lx != ly) return lx < ly ? -1 : 1;
    return x < y ? -1 : x > y;
}

static int cmp_group_first(const void *a, const void *b) {
    size_t x = ((const label_group *)a)->rows[0], y = ((const label_group *)b)->rows[0];
    return x < y ? -1 : x > y;
}

static void groups_free(label_group *g, size_t n) {
    for (size_t i = 0; i < n; i++) free(g[i].rows);
    free(g);
}

/* Groups of >= 2 rows in first-occurrence order. */
static sbert_status label_groups(const sbert_dataset *ds, size_t bs, label_group **out, size_t *n_out) {
    *out = NULL;
    *n_out = 0;
    if (bs < 4 || bs % 2)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "%s: batch_sampler GROUP_BY_LABEL needs an even per_device_train_batch_size >= 4, got %zu",
                          ds->path, bs);
    int lc = sbert_dataset_label_column(ds);
    if (lc < 0 || ds->cols[lc].kind != SBERT_COL_NUMBER) {
        char cols[1024] = "";
        size_t o = 0;
        for (size_t c = 0; c < ds->n_cols && o < sizeof cols; c++)
            o += (size_t)snprintf(cols + o, sizeof cols - o, "%s%s", c ? ", " : "", ds->cols[c].name);
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "%s: batch_sampler GROUP_BY_LABEL groups rows by their label, but the data has no label "
                          "column holding one number a row (label/labels/score/scores; columns: %s)",
                          ds->path, cols);
    }
    const double *lab = ds->cols[lc].num;
    label_group *g = NULL;
    size_t ng = 0;
    /* rows sorted by (label, row): runs of one label; groups then ordered by
     * their first row (Python's dict insertion order) */
    const size_t n = ds->n_rows;
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    if (!order) return sbert_fail(SBERT_ERR_NOMEM, "sampler: out of memory");
    for (size_t r = 0; r < n; r++) order[r] = r;
    g_sort_labels = lab;
    qsort(order, n, sizeof *order, cmp_label_row);
    size_t runs = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || lab[order[i]] != lab[order[i - 1]]) runs++;
    g = calloc(runs ? runs : 1, sizeof *g);
    if (!g) {
        free(order);
        return sbert_fail(SBERT_ERR_NOMEM, "sampler: out of memory");
    }
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && lab[order[j]] == lab[order[i]]) j++;
        label_group *q = &g[ng++];
        q->label = lab[order[i]];
        q->n = j - i;
        q->rows = malloc(q->n * sizeof *q->rows);
        if (!q->rows) {
            free(order);
            groups_free(g, ng);
            return sbert_fail(SBERT_ERR_NOMEM, "sampler: out of memory");
        }
        memcpy(q->rows, order + i, q->n * sizeof *q->rows); /* ascending rows: file order */
        i = j;
    }
    free(order);
    qsort(g, ng, sizeof *g, cmp_group_first);
    size_t keep = 0;
    for (size_t k = 0; k < ng; k++) {
        if (g[k].n >= 2) g[keep++] = g[k];
        else free(g[k].rows);
    }
    if (keep < 2) {
        groups_free(g, keep);
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "%s: batch_sampler GROUP_BY_LABEL needs at least 2 distinct labels with >= 2 rows each, but "
                          "only %zu label(s) qualify",
                          ds->path, keep);
    }
    *out = g;
    *n_out = keep;
    return SBERT_OK;
}

static int cmp_size_desc(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

static size_t group_by_label_len(const label_group *g, size_t ng, size_t bs, int drop_last) {
    size_t *pairs = malloc(ng * sizeof *pairs);
    if (!pairs) return 0;
    for (size_t k = 0; k < ng; k++) pairs[k] = g[k].n / 2;
    qsort(pairs, ng, sizeof *pairs, cmp_size_desc);
    size_t cap = pairs[1], stream = 0;
    for (size_t k = 0; k < ng; k++) stream += 2 * (pairs[k] < cap ? pairs[k] : cap);
    free(pairs);
    size_t n = stream / bs;
    if (!drop_last && stream % bs >= 4) n++;
    return n;
}

static sbert_status group_by_label_epoch(const sbert_dataset *ds, size_t bs, int drop_last, sbert_rng *rng,
                                         batch_builder *bb) {
    label_group *g;
    size_t ng;
    SBERT_TRY(label_groups(ds, bs, &g, &ng));
    size_t total = 0;
    for (size_t k = 0; k < ng; k++) total += g[k].n;
    size_t *head = calloc(ng, sizeof *head), *alive = malloc(ng * sizeof *alive), *perm = malloc(total * sizeof *perm);
    size_t *batch = malloc((bs + 2 * ng + 2) * sizeof *batch);
    sbert_status st = SBERT_OK;
    if (!head || !alive || !perm || !batch) {
        st = sbert_fail(SBERT_ERR_NOMEM, "sampler: out of memory");
        goto done;
    }
    /* shuffle within each label, cut to an even count */
    for (size_t k = 0; k < ng; k++) {
        sbert_rng_permutation(rng, perm, g[k].n);
        size_t even = g[k].n / 2 * 2;
        size_t *q = malloc((even ? even : 1) * sizeof *q);
        if (!q) {
            st = sbert_fail(SBERT_ERR_NOMEM, "sampler: out of memory");
            goto done;
        }
        for (size_t i = 0; i < even; i++) q[i] = g[k].rows[perm[i]];
        free(g[k].rows);
        g[k].rows = q;
        g[k].n = even;
    }
    size_t n_alive = ng, nb = 0;
    for (size_t k = 0; k < ng; k++) alive[k] = k;
    ptrdiff_t last = -1;
    while (n_alive >= 2 && st == SBERT_OK) {
        sbert_rng_permutation(rng, perm, n_alive);
        size_t *order = perm + n_alive; /* scratch after the permutation (total >= 2 * n_alive) */
        for (size_t i = 0; i < n_alive; i++) order[i] = alive[perm[i]];
        if (nb && (ptrdiff_t)order[0] == last) {
            size_t t0 = order[0];
            order[0] = order[1];
            order[1] = t0;
        }
        for (size_t i = 0; i < n_alive && st == SBERT_OK; i++) {
            label_group *q = &g[order[i]];
            batch[nb++] = q->rows[head[order[i]]++];
            batch[nb++] = q->rows[head[order[i]]++];
            if (nb >= bs) {
                st = bb_push_batch(bb, batch, bs);
                memmove(batch, batch + bs, (nb - bs) * sizeof *batch);
                nb -= bs;
            }
        }
        last = (ptrdiff_t)order[n_alive - 1];
        size_t m = 0;
        for (size_t i = 0; i < n_alive; i++)
            if (head[order[i]] < g[order[i]].n) alive[m++] = order[i];
        n_alive = m;
    }
    if (st == SBERT_OK && !drop_last && nb >= 4) st = bb_push_batch(bb, batch, nb);
done:
    free(head);
    free(alive);
    free(perm);
    free(batch);
    groups_free(g, ng);
    return st;
}

sbert_status sbert_sampler_len_for(const sbert_dataset *ds, sbert_sampler_type type, size_t bs, int drop_last,
                                   size_t *out) {
    if (bs == 0) return sbert_fail(SBERT_ERR_INVALID_ARG, "batch size must be at least 1");
    if (type != SBERT_SAMPLER_GROUP_BY_LABEL) {
        *out = sbert_sampler_len(ds->n_rows, bs, drop_last);
        return SBERT_OK;
    }
    label_group *g;
    size_t ng;
    SBERT_TRY(label_groups(ds, bs, &g, &ng));
    *out = group_by_label_len(g, ng, bs, drop_last);
    groups_free(g, ng);
    return SBERT_OK;
}

sbert_status sbert_sampler_epoch(const sbert_dataset *ds, sbert_sampler_type type, size_t bs,
                                 int drop_last, uint64_t seed, uint64_t epoch, sbert_batches *out) {
    memset(out, 0, sizeof *out);
    if (bs == 0) return sbert_fail(SBERT_ERR_INVALID_ARG, "batch size must be at least 1");
    size_t n = ds->n_rows;
    size_t *perm = malloc((n ? n : 1) * sizeof *perm);
    if (!perm) return sbert_fail(SBERT_ERR_NOMEM, "sampler: out of memory");
    sbert_rng rng;
    sbert_rng_seed(&rng, seed + epoch);
    sbert_rng_permutation(&rng, perm, n);
    batch_builder bb = {out, 0, 0};
    sbert_status st = SBERT_OK;
    if (type == SBERT_SAMPLER_GROUP_BY_LABEL) {
        st = group_by_label_epoch(ds, bs, drop_last, &rng, &bb);
    } else if (type == SBERT_SAMPLER_BATCH) {
        for (size_t b = 0; b < n && st == SBERT_OK; b += bs) {
            size_t m = n - b < bs ? n - b : bs;
            if (m < bs && drop_last) break;
            st = bb_push_batch(&bb, perm + b, m);
        }
    } else {
        uint64_t *h;
        size_t n_in;
        st = row_hashes(ds, &h, &n_in);
        if (st == SBERT_OK) {
            size_t expected = sbert_sampler_len(n, bs, drop_last);
            st = nodup_pass(h, n_in, n, perm, bs, drop_last, &bb, SIZE_MAX);
            /* Top up a short epoch with at most two more passes. */
            for (int pass = 0; pass < 2 && st == SBERT_OK && out->n_batches > 0 && out->n_batches < expected;
                 pass++) {
                sbert_rng_permutation(&rng, perm, n);
                st = nodup_pass(h, n_in, n, perm, bs, drop_last, &bb, expected);
            }
            free(h);
        }
    }
    free(perm);
    if (st != SBERT_OK) sbert_batches_free(out);
    return st;
}
