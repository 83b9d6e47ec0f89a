/*
 * mining/search.h -- exact top-k search of every query against a corpus,
 * streaming the corpus in chunks: never an n x m score matrix.
 *
 * The queries are cut into blocks (one thread works on a run of blocks);
 * for each block the corpus is streamed in chunks of `corpus_chunk`
 * documents: one BLAS product gives the [query_block, corpus_chunk] scores,
 * and each query keeps its best k + 1 candidates in a heap. Memory is
 * threads x (query_block x corpus_chunk + query_block x (k + 1)) scores on
 * top of the embeddings and the [nq, k] result, whatever the corpus size.
 *
 * The result is what torch.topk(similarity(q, C), k) returns, equal scores
 * included: when two of a query's best k + 1 scores are within 1e-6 of each
 * other (identical embeddings, e.g. texts that differ only in case), the
 * query's whole row is recomputed with a per-document kernel (identical
 * vectors give identical scores) and ranked by torch's own algorithm
 * (torch_order.h), so ties come out in torch's order.
 *
 * Similarities (sentence-transformers util): "cosine" (both sides
 * re-normalized as cos_sim does, then dot), "dot", "euclidean" (-L2
 * distance), "manhattan" (-L1 distance).
 */
#ifndef SBERT_MINING_SEARCH_H
#define SBERT_MINING_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "sbert.h"

typedef struct {
    size_t query_block;  /* queries per BLAS block (0: 256) */
    size_t corpus_chunk; /* documents per streamed chunk (0: 4096) */
    size_t n_fallback;   /* out: queries whose row was recomputed because of near-ties */
} sbert_search_options;

/* "cosine" -> 0, "dot" -> 1, "euclidean" -> 2, "manhattan" -> 3, else -1. */
int sbert_search_sim_id(const char *name);

/* q [nq, dim], c [nc, dim]: for cosine both are normalized in place first.
 * out_v / out_i [nq, k]: the k best documents of each query, best first
 * (1 <= k <= nc). */
sbert_status sbert_search_topk(float *q, size_t nq, float *c, size_t nc, size_t dim, const char *sim, size_t k,
                               sbert_search_options *opt, float *out_v, int32_t *out_i);

/* The similarity of pairs (similarity_pairwise): out[i] = sim(a[i], b[i]),
 * a, b [n, dim] (not modified). */
sbert_status sbert_search_pairwise(const float *a, const float *b, size_t n, size_t dim, const char *sim, float *out);

#endif
