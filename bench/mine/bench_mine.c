/*
 * bench/mine/bench_mine.c -- the sbert side of the mining benchmark
 * (bench/mine/bench.py): mine hard negatives for the pairs (q_i, d_i) on
 * given embeddings, as sentence-transformers' mine_hard_negatives does with
 * its encode replaced by lookups, so both sides time the search and the
 * mining, not the model.
 *
 *   bench_mine Q.npy C.npy OUT.jsonl THREADS [QUERY_CHUNK CORPUS_CHUNK]
 *
 * Query i's positive is document i (the positives are the corpus). Prints one
 * JSON line: seconds for data + search + mining, seconds for writing the
 * output, rows, and the peak RSS (getrusage, KiB).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "base/threads.h"
#include "io/npy.h"
#include "mining/mine.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: bench_mine Q.npy C.npy OUT.jsonl THREADS [QUERY_CHUNK CORPUS_CHUNK]\n");
        return 2;
    }
    sbert_set_num_threads(atoi(argv[4]));
    float *q = NULL, *c = NULL;
    size_t nq, nc, dq, dc;
    if (sbert_npy_read_f32(argv[1], &q, &nq, &dq, NULL) != SBERT_OK ||
        sbert_npy_read_f32(argv[2], &c, &nc, &dc, NULL) != SBERT_OK || nq != nc || dq != dc) {
        fprintf(stderr, "bench_mine: %s\n", sbert_last_error());
        return 1;
    }
    double t0 = now();
    char *names = malloc(nq * 2 * 16);
    const char **a = malloc(nq * sizeof *a), **p = malloc(nq * sizeof *p);
    for (size_t i = 0; i < nq; i++) {
        snprintf(names + (2 * i) * 16, 16, "q%zu", i);
        snprintf(names + (2 * i + 1) * 16, 16, "d%zu", i);
        a[i] = names + (2 * i) * 16;
        p[i] = names + (2 * i + 1) * 16;
    }
    sbert_mine_data d;
    sbert_mine_plan plan;
    sbert_mine_options o = sbert_mine_options_default();
    sbert_mine_env env = {0};
    env.sim = "cosine";
    if (argc >= 7) {
        env.query_chunk = (size_t)atol(argv[5]);
        env.corpus_chunk = (size_t)atol(argv[6]);
    }
    sbert_mine_table t;
    sbert_mine_summary sum;
    if (sbert_mine_data_build(a, p, nq, NULL, 0, &d) != SBERT_OK ||
        sbert_mine_plan_make(&d, &o, 0, "corpus", &plan) != SBERT_OK ||
        sbert_mine_run(&d, &plan, q, c, dq, &env, &t, &sum) != SBERT_OK) {
        fprintf(stderr, "bench_mine: %s\n", sbert_last_error());
        return 1;
    }
    double t1 = now();
    if (sbert_mine_write(&t, &d, "anchor", "positive", argv[3]) != SBERT_OK) {
        fprintf(stderr, "bench_mine: %s\n", sbert_last_error());
        return 1;
    }
    double t2 = now();
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"seconds\": %.3f, \"write_seconds\": %.3f, \"rows\": %zu, \"range_max\": %zu, \"tie_rows\": %zu, "
           "\"peak_rss_kib\": %ld}\n",
           t1 - t0, t2 - t1, t.n, plan.range_max, sum.n_tie_rows, ru.ru_maxrss);
    sbert_mine_table_free(&t);
    sbert_mine_data_free(&d);
    free(q);
    free(c);
    free(a);
    free(p);
    free(names);
    return 0;
}
