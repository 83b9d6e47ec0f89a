/*
 * mining/torch_order.c -- GNU libstdc++'s std::sort, std::nth_element and
 * std::partial_sort, replayed step for step over (value, index) pairs, and
 * torch.topk / Tensor.sort on CPU built from them (see torch_order.h for why
 * the tie order matters). Index arithmetic mirrors bits/stl_algo.h and
 * bits/stl_heap.h: same pivots, same swaps, same comparisons in the same
 * order, so equal values end up where the C++ library puts them.
 */
#include "mining/torch_order.h"

#include <math.h>

/* "a comes first": NaN first, then larger values. */
static inline int before(const sbert_vi *a, const sbert_vi *b) {
    return (isnan(a->v) && !isnan(b->v)) || a->v > b->v;
}

static inline void swap_vi(sbert_vi *a, sbert_vi *b) {
    sbert_vi t = *a;
    *a = *b;
    *b = t;
}

/* floor(log2(n)), n > 0 (std::__lg) */
static size_t lg(size_t n) {
    size_t r = 0;
    while (n >>= 1)
        r++;
    return r;
}

/* ---------------------------------------------------------------- heaps */

/* std::__push_heap(first, hole, top, value) */
static void push_heap_hole(sbert_vi *first, ptrdiff_t hole, ptrdiff_t top, sbert_vi value) {
    ptrdiff_t parent = (hole - 1) / 2;
    while (hole > top && before(&first[parent], &value)) {
        first[hole] = first[parent];
        hole = parent;
        parent = (hole - 1) / 2;
    }
    first[hole] = value;
}

/* std::__adjust_heap(first, hole, len, value) */
static void adjust_heap(sbert_vi *first, ptrdiff_t hole, ptrdiff_t len, sbert_vi value) {
    const ptrdiff_t top = hole;
    ptrdiff_t child = hole;
    while (child < (len - 1) / 2) {
        child = 2 * (child + 1);
        if (before(&first[child], &first[child - 1]))
            child--;
        first[hole] = first[child];
        hole = child;
    }
    if ((len & 1) == 0 && child == (len - 2) / 2) {
        child = 2 * (child + 1);
        first[hole] = first[child - 1];
        hole = child - 1;
    }
    push_heap_hole(first, hole, top, value);
}

/* std::__pop_heap(first, last, result) */
static void pop_heap_into(sbert_vi *first, ptrdiff_t len, sbert_vi *result) {
    sbert_vi value = *result;
    *result = *first;
    adjust_heap(first, 0, len, value);
}

/* std::__make_heap(first, first + len) */
static void make_heap(sbert_vi *first, ptrdiff_t len) {
    if (len < 2)
        return;
    ptrdiff_t parent = (len - 2) / 2;
    for (;;) {
        sbert_vi value = first[parent];
        adjust_heap(first, parent, len, value);
        if (parent == 0)
            return;
        parent--;
    }
}

/* std::__sort_heap(first, first + len) */
static void sort_heap(sbert_vi *first, ptrdiff_t len) {
    while (len > 1) {
        len--;
        pop_heap_into(first, len, &first[len]);
    }
}

/* std::__heap_select(first, middle, last) */
static void heap_select(sbert_vi *first, ptrdiff_t middle, ptrdiff_t last) {
    make_heap(first, middle);
    for (ptrdiff_t i = middle; i < last; i++)
        if (before(&first[i], &first[0]))
            pop_heap_into(first, middle, &first[i]);
}

/* ------------------------------------------------------ insertion sorts */

/* std::__unguarded_linear_insert(last) */
static void unguarded_linear_insert(sbert_vi *last) {
    sbert_vi val = *last;
    sbert_vi *next = last - 1;
    while (before(&val, next)) {
        *last = *next;
        last = next;
        next--;
    }
    *last = val;
}

/* std::__insertion_sort(first, last) */
static void insertion_sort(sbert_vi *first, sbert_vi *last) {
    if (first == last)
        return;
    for (sbert_vi *i = first + 1; i != last; i++) {
        if (before(i, first)) {
            sbert_vi val = *i;
            for (sbert_vi *p = i; p != first; p--)
                *p = *(p - 1);
            *first = val;
        } else {
            unguarded_linear_insert(i);
        }
    }
}

enum { S_THRESHOLD = 16 };

/* std::__final_insertion_sort(first, last) */
static void final_insertion_sort(sbert_vi *first, sbert_vi *last) {
    if (last - first > S_THRESHOLD) {
        insertion_sort(first, first + S_THRESHOLD);
        for (sbert_vi *i = first + S_THRESHOLD; i != last; i++)
            unguarded_linear_insert(i);
    } else {
        insertion_sort(first, last);
    }
}

/* ------------------------------------------------------------ partition */

/* std::__move_median_to_first(result, a, b, c) */
static void move_median_to_first(sbert_vi *result, sbert_vi *a, sbert_vi *b, sbert_vi *c) {
    if (before(a, b)) {
        if (before(b, c))
            swap_vi(result, b);
        else if (before(a, c))
            swap_vi(result, c);
        else
            swap_vi(result, a);
    } else if (before(a, c)) {
        swap_vi(result, a);
    } else if (before(b, c)) {
        swap_vi(result, c);
    } else {
        swap_vi(result, b);
    }
}

/* std::__unguarded_partition(first, last, pivot) */
static sbert_vi *unguarded_partition(sbert_vi *first, sbert_vi *last, const sbert_vi *pivot) {
    for (;;) {
        while (before(first, pivot))
            first++;
        last--;
        while (before(pivot, last))
            last--;
        if (!(first < last))
            return first;
        swap_vi(first, last);
        first++;
    }
}

/* std::__unguarded_partition_pivot(first, last) */
static sbert_vi *unguarded_partition_pivot(sbert_vi *first, sbert_vi *last) {
    sbert_vi *mid = first + (last - first) / 2;
    move_median_to_first(first, first + 1, mid, last - 1);
    return unguarded_partition(first + 1, last, first);
}

/* std::__introsort_loop(first, last, depth_limit) */
static void introsort_loop(sbert_vi *first, sbert_vi *last, size_t depth_limit) {
    while (last - first > S_THRESHOLD) {
        if (depth_limit == 0) {
            /* std::__partial_sort(first, last, last) */
            heap_select(first, last - first, last - first);
            sort_heap(first, last - first);
            return;
        }
        depth_limit--;
        sbert_vi *cut = unguarded_partition_pivot(first, last);
        introsort_loop(cut, last, depth_limit);
        last = cut;
    }
}

void sbert_stl_sort_desc(sbert_vi *a, size_t n) {
    if (n == 0)
        return;
    introsort_loop(a, a + n, lg(n) * 2);
    final_insertion_sort(a, a + n);
}

void sbert_stl_nth_element_desc(sbert_vi *a, size_t nth_i, size_t n) {
    if (n == 0 || nth_i == n)
        return;
    sbert_vi *first = a, *last = a + n, *nth = a + nth_i;
    size_t depth_limit = lg(n) * 2;
    while (last - first > 3) {
        if (depth_limit == 0) {
            heap_select(first, nth + 1 - first, last - first);
            swap_vi(first, nth);
            return;
        }
        depth_limit--;
        sbert_vi *cut = unguarded_partition_pivot(first, last);
        if (cut <= nth)
            first = cut;
        else
            last = cut;
    }
    insertion_sort(first, last);
}

void sbert_stl_partial_sort_desc(sbert_vi *a, size_t middle, size_t n) {
    heap_select(a, (ptrdiff_t)middle, (ptrdiff_t)n);
    sort_heap(a, (ptrdiff_t)middle);
}

void sbert_torch_topk(const float *values, size_t n, size_t k, sbert_vi *work, sbert_vi *out) {
    for (size_t j = 0; j < n; j++) {
        work[j].v = values[j];
        work[j].i = (int64_t)j;
    }
    if (k * 64 <= n) {
        sbert_stl_partial_sort_desc(work, k, n);
    } else {
        sbert_stl_nth_element_desc(work, k - 1, n);
        sbert_stl_sort_desc(work, k - 1);
    }
    for (size_t j = 0; j < k; j++)
        out[j] = work[j];
}

void sbert_torch_sort_desc(sbert_vi *a, size_t n) { sbert_stl_sort_desc(a, n); }
