/*
 * cli/cmd_search.c -- `sbert search`: the top-k documents of a corpus for
 * each query (util.semantic_search / the retrieval of
 * InformationRetrievalEvaluator).
 *
 *   sbert search --model DIR --queries Q --corpus C [--top-k K] [options]
 *
 * Queries are encoded with encode_query (task "query": a Router's query
 * route and the model's "query" prompt), corpus lines with encode_document.
 * SparseEncoder models are kept as sparse rows and scored with the dot
 * product over the non-zeros (the corpus never needs [n, vocab] floats);
 * dense models with the model's similarity function, in query chunks. Ties
 * go to the lower corpus line. Output: one JSON object per query,
 * {"query": i, "hits": [{"corpus_id": j, "score": s}, ...]}, best first
 * (0-based line numbers).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const cli_option search_options[] = {
    {"--model", "DIR", "A sentence-transformers SentenceTransformer or SparseEncoder directory. Required."},
    {"--queries", "FILE", "Queries, one per line ('-' = standard input). Required."},
    {"--corpus", "FILE", "Documents, one per line. Required."},
    {"--top-k", "K", "Hits per query (default 10)."},
    {"--output", "OUT", "Where to write the JSON lines (default '-': standard output); written atomically."},
    {"--sparse", NULL, "Load --model as a SparseEncoder (a plain *ForMaskedLM folder: MLM + SpladePooling)."},
    {"--max-active-dims", "N", "SparseEncoder: keep the N largest values of every vector."},
    {"--batch-size", "N", "Texts per forward pass (default 32)."},
    {"--threads", "N", "Worker threads for the model (default: all cores)."},
    CLI_PRECISION_OPTION,
};

const cli_command_spec cli_search_spec = {
    "search",
    "sbert search --model DIR --queries Q --corpus C [--top-k K] [options]",
    "Retrieve the top-k corpus lines for each query (dot product for SparseEncoders).",
    "Encodes the queries with encode_query and the corpus with encode_document and prints, for "
    "each query, the K best documents as {\"query\": i, \"hits\": [{\"corpus_id\": j, \"score\": s}, "
    "...]} (0-based line numbers, best first, ties to the lower line). SparseEncoder vectors stay "
    "sparse; the score is the model's similarity function (dot for a SparseEncoder).",
    search_options,
    sizeof search_options / sizeof search_options[0],
    "  sbert search --model splade-dir --queries q.txt --corpus docs.txt --top-k 5\n"
    "  sbert search --model models/all-MiniLM-L6-v2 --queries q.txt --corpus docs.txt\n",
};

typedef struct {
    float s;
    size_t j;
} hit;

/* Keep the best k of (score, j): hits[0..*n) sorted best first. */
static void push_hit(hit *h, size_t *n, size_t k, float s, size_t j) {
    if (*n == k && !(s > h[k - 1].s)) return;
    size_t i = *n < k ? (*n)++ : k - 1;
    while (i > 0 && s > h[i - 1].s) {
        h[i] = h[i - 1];
        i--;
    }
    h[i].s = s;
    h[i].j = j;
}

static int write_hits(FILE *f, size_t q, const hit *h, size_t n) {
    if (fprintf(f, "{\"query\": %zu, \"hits\": [", q) < 0) return -1;
    for (size_t i = 0; i < n; i++)
        if (fprintf(f, "%s{\"corpus_id\": %zu, \"score\": %.9g}", i ? ", " : "", h[i].j, (double)h[i].s) < 0) return -1;
    return fputs("]}\n", f) == EOF ? -1 : 0;
}

int cli_cmd_search(int argc, char **argv) {
    const cli_command_spec *spec = &cli_search_spec;
    cli_args args;
    int rc = cli_parse(spec, argc, argv, &args);
    if (rc < 0) return CLI_EXIT_OK;
    if (rc != CLI_EXIT_OK) return rc;
    if ((rc = cli_check_precision(cli_get(spec, &args, "--precision"))) != CLI_EXIT_OK) return rc;
    const char *model_dir = cli_get(spec, &args, "--model"), *qpath = cli_get(spec, &args, "--queries"),
               *cpath = cli_get(spec, &args, "--corpus"), *output = cli_get(spec, &args, "--output");
    if (!model_dir || !qpath || !cpath)
        return cli_usage_error("'sbert search' needs --model DIR, --queries FILE and --corpus FILE");
    if (!output) output = "-";
    long v;
    const char *s;
    size_t top_k = 10;
    if ((s = cli_get(spec, &args, "--top-k"))) {
        if ((rc = cli_parse_long("--top-k", s, 1, 1L << 24, &v)) != CLI_EXIT_OK) return rc;
        top_k = (size_t)v;
    }
    sbert_load_options lo = {0};
    if ((s = cli_get(spec, &args, "--threads"))) {
        if ((rc = cli_parse_long("--threads", s, 1, 1024, &v)) != CLI_EXIT_OK) return rc;
        lo.num_threads = (int)v;
    }
    size_t batch = 0, mad = 0;
    if ((s = cli_get(spec, &args, "--batch-size"))) {
        if ((rc = cli_parse_long("--batch-size", s, 1, 1L << 20, &v)) != CLI_EXIT_OK) return rc;
        batch = (size_t)v;
    }
    if ((s = cli_get(spec, &args, "--max-active-dims"))) {
        if ((rc = cli_parse_long("--max-active-dims", s, 1, 1L << 24, &v)) != CLI_EXIT_OK) return rc;
        mad = (size_t)v;
    }
    cli_lines ql, cl;
    if ((rc = cli_read_lines(qpath, &ql)) != CLI_EXIT_OK) return rc;
    if ((rc = cli_read_lines(cpath, &cl)) != CLI_EXIT_OK) {
        cli_lines_free(&ql);
        return rc;
    }
    cli_output out;
    if ((rc = cli_output_open(&out, output)) != CLI_EXIT_OK) {
        cli_lines_free(&ql);
        cli_lines_free(&cl);
        return rc;
    }
    sbert_model *model = NULL;
    sbert_sparse_rows qs, cs;
    memset(&qs, 0, sizeof qs);
    memset(&cs, 0, sizeof cs);
    float *qd = NULL, *cd = NULL, *scores = NULL;
    hit *h = malloc(top_k * sizeof *h);
    sbert_status st = cli_get(spec, &args, "--sparse") ? sbert_sparse_encoder_load(model_dir, &lo, &model)
                                                       : sbert_model_load_auto(model_dir, &lo, &model);
    if (st != SBERT_OK) {
        rc = cli_library_failure("cannot load the model", st);
        goto done;
    }
    if ((rc = cli_apply_precision(model, cli_get(spec, &args, "--precision"))) != CLI_EXIT_OK) goto done;
    int sparse = !strcmp(sbert_model_type(model), "SparseEncoder");
    if (mad && !sparse) {
        rc = cli_failure("--max-active-dims needs a SparseEncoder; '%s' is a %s", model_dir, sbert_model_type(model));
        goto done;
    }
    sbert_encode_options oq = sbert_encode_options_for_task(model, "query"),
                         od = sbert_encode_options_for_task(model, "document");
    if (batch) oq.batch_size = od.batch_size = batch;
    oq.max_active_dims = od.max_active_dims = mad;
    size_t nq = ql.n, nc = cl.n;
    if (!h) {
        rc = cli_failure("out of memory");
        goto done;
    }
    if (sparse) {
        if ((st = sbert_sparse_encode(model, (const char *const *)ql.line, nq, &oq, &qs)) != SBERT_OK ||
            (st = sbert_sparse_encode(model, (const char *const *)cl.line, nc, &od, &cs)) != SBERT_OK) {
            rc = cli_library_failure("encoding", st);
            goto done;
        }
        scores = malloc((nc ? nc : 1) * sizeof *scores);
        sbert_sparse_rows one = qs;
        for (size_t i = 0; i < nq && rc == CLI_EXIT_OK; i++) {
            /* one query row against the whole corpus */
            one.n_rows = 1;
            size_t base = qs.indptr[i];
            size_t ip[2] = {0, qs.indptr[i + 1] - base};
            one.indptr = ip;
            one.indices = qs.indices + base;
            one.values = qs.values + base;
            one.nnz = ip[1];
            if (!scores || (st = sbert_sparse_dot(&one, &cs, scores)) != SBERT_OK) {
                rc = scores ? cli_library_failure("scoring", st) : cli_failure("out of memory");
                break;
            }
            size_t nh = 0;
            for (size_t j = 0; j < nc; j++) push_hit(h, &nh, top_k, scores[j], j);
            if (write_hits(out.f, i, h, nh) != 0) rc = cli_failure("cannot write '%s'", output);
        }
    } else {
        size_t dim = sbert_model_encode_dim(model, &oq);
        qd = malloc((nq ? nq : 1) * dim * sizeof *qd);
        cd = malloc((nc ? nc : 1) * dim * sizeof *cd);
        scores = malloc((nc ? nc : 1) * sizeof *scores);
        if (!qd || !cd || !scores) {
            rc = cli_failure("out of memory for %zu + %zu embeddings", nq, nc);
            goto done;
        }
        if ((nq && (st = sbert_model_encode(model, (const char *const *)ql.line, nq, &oq, qd)) != SBERT_OK) ||
            (nc && (st = sbert_model_encode(model, (const char *const *)cl.line, nc, &od, cd)) != SBERT_OK)) {
            rc = cli_library_failure("encoding", st);
            goto done;
        }
        for (size_t i = 0; i < nq && rc == CLI_EXIT_OK; i++) {
            if ((st = sbert_similarity(sbert_model_similarity_fn_name(model), qd + i * dim, 1, cd, nc, dim, scores)) !=
                SBERT_OK) {
                rc = cli_library_failure("scoring", st);
                break;
            }
            size_t nh = 0;
            for (size_t j = 0; j < nc; j++) push_hit(h, &nh, top_k, scores[j], j);
            if (write_hits(out.f, i, h, nh) != 0) rc = cli_failure("cannot write '%s'", output);
        }
    }
    if (rc == CLI_EXIT_OK) rc = cli_output_commit(&out);
done:
    if (rc != CLI_EXIT_OK) cli_output_abort(&out);
    free(h);
    free(qd);
    free(cd);
    free(scores);
    sbert_sparse_rows_free(&qs);
    sbert_sparse_rows_free(&cs);
    sbert_model_free(model);
    cli_lines_free(&ql);
    cli_lines_free(&cl);
    return rc;
}
