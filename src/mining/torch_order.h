/*
 * mining/torch_order.h -- torch.topk and torch.sort on CPU, tie order included.
 *
 * sentence-transformers' mine_hard_negatives ranks candidates with
 * torch.topk(largest=True, sorted=True) and re-sorts sampled negatives with
 * Tensor.sort(descending=True). Neither is stable: equal scores come out in
 * whatever order the C++ standard library's algorithms leave them, and that
 * order decides which of two tied documents becomes a negative. To give the
 * same rows, this file replays those algorithms step for step:
 *
 *   topk   (ATen TopKImpl.h) on n values, k of them:
 *            k * 64 <= n: std::partial_sort(first, first + k, last)
 *            otherwise:   std::nth_element(first, first + k - 1, last), then
 *                         std::sort(first, first + k - 1)
 *   sort   (ATen SortingKernel.cpp, stable=False): std::sort over all n
 *
 * with the comparator "a before b" = (isnan(a) && !isnan(b)) || a > b, over
 * (value, index) pairs that start in index order -- and std::sort,
 * std::nth_element, std::partial_sort as GNU libstdc++ implements them
 * (introsort with a threshold of 16 and a median-of-three pivot moved to the
 * front, introselect, heap select + sort_heap; bits/stl_algo.h, stl_heap.h).
 * The tests check these against torch itself on tie-heavy inputs
 * (tests/test_mine.c).
 */
#ifndef SBERT_MINING_TORCH_ORDER_H
#define SBERT_MINING_TORCH_ORDER_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    float v;
    int64_t i;
} sbert_vi;

/* std::sort / std::nth_element / std::partial_sort over a[0..n) with the
 * "largest first" comparator above. */
void sbert_stl_sort_desc(sbert_vi *a, size_t n);
void sbert_stl_nth_element_desc(sbert_vi *a, size_t nth, size_t n);
void sbert_stl_partial_sort_desc(sbert_vi *a, size_t middle, size_t n);

/* torch.topk(values[0..n), k, largest=True, sorted=True): out[0..k) holds
 * (value, index) pairs, index into `values`. work: n entries of scratch.
 * 1 <= k <= n. */
void sbert_torch_topk(const float *values, size_t n, size_t k, sbert_vi *work, sbert_vi *out);

/* Tensor.sort(descending=True) of a[0..n) in place (a[j].i = j on entry for
 * the indices torch would return; any payload is carried along). */
void sbert_torch_sort_desc(sbert_vi *a, size_t n);

#endif
