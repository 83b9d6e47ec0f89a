/*
 * cli/cmd_predict.c -- `sbert predict` and `sbert rerank`: a CrossEncoder's
 * scores for text pairs (CrossEncoder.predict) and a query's documents
 * ranked (CrossEncoder.rank).
 *
 *   sbert predict --model DIR --input pairs.{jsonl,tsv,csv} [--output OUT] [options]
 *   sbert rerank  --model DIR --query TEXT --documents FILE [--top-k K] [options]
 *
 * predict writes one line per pair, in input order: the score (num_labels 1)
 * or a JSON array of the per-class scores, floats with %.9g; a .npy OUT gets
 * the float32 array [n, num_labels] instead. rerank prints one JSON
 * object per document, best first: {"corpus_id": i, "score": s} (plus
 * "text" with --return-documents). Outputs are written atomically.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const cli_option predict_options[] = {
    {"--model", "DIR",
     "A CrossEncoder: a folder saved by sentence-transformers' CrossEncoder.save (v4 to v6), a Hugging Face "
     "*ForSequenceClassification folder, or a folder saved by sbert. Required."},
    {"--input", "FILE",
     "The pairs: .jsonl (one {\"query\": ..., \"passage\": ...} object per line, its first two text fields in "
     "order, or one [\"query\", \"passage\"] array per line), or .csv/.tsv with a header line (the first two "
     "text columns). Required."},
    {"--output", "OUT",
     "Where to write the scores: '-' (standard output, the default), a .txt/.jsonl file (one line per pair: "
     "a number, or a JSON array per class), or a .npy file (float32 [n, num_labels])."},
    {"--activation", "NAME",
     "Apply this activation instead of the model's: Identity (raw logits), Sigmoid, Tanh, ReLU, Softmax, or "
     "a torch path such as torch.nn.Identity."},
    {"--softmax", NULL, "Softmax over the labels after the activation (apply_softmax=True; num_labels > 1)."},
    {"--max-length", "N", "Truncate each pair to N tokens (longest_first); default: the model's max length."},
    {"--batch-size", "N", "Pairs per forward pass (default 32)."},
    {"--threads", "N", "Worker threads (default: all cores)."},
    CLI_PRECISION_OPTION,
};

const cli_command_spec cli_predict_spec = {
    "predict",
    "sbert predict --model DIR --input PAIRS [options]",
    "Score text pairs with a CrossEncoder (reranker / pair classifier).",
    "Prints CrossEncoder.predict(pairs) for the pairs of PAIRS, one line per pair in input order: the "
    "score after the model's activation (Sigmoid by default for one label), or a JSON array of the scores "
    "of every class.",
    predict_options,
    sizeof predict_options / sizeof predict_options[0],
    "  sbert predict --model output/reranker/final --input pairs.jsonl\n"
    "  sbert predict --model nli-model --input pairs.tsv --softmax --output probs.npy\n",
};

static const cli_option rerank_options[] = {
    {"--model", "DIR", "A CrossEncoder with one label (see 'sbert predict --help'). Required."},
    {"--query", "TEXT", "The query. Required."},
    {"--documents", "FILE", "The documents, one per line ('-' reads standard input). Required."},
    {"--top-k", "K", "Print only the K best documents (default: all)."},
    {"--return-documents", NULL, "Add each document's text (\"text\") to its line."},
    {"--activation", "NAME", "Apply this activation instead of the model's (see 'sbert predict --help')."},
    {"--output", "OUT", "Write to OUT instead of standard output (atomically)."},
    {"--max-length", "N", "Truncate each (query, document) pair to N tokens; default: the model's."},
    {"--batch-size", "N", "Pairs per forward pass (default 32)."},
    {"--threads", "N", "Worker threads (default: all cores)."},
    CLI_PRECISION_OPTION,
};

const cli_command_spec cli_rerank_spec = {
    "rerank",
    "sbert rerank --model DIR --query TEXT --documents FILE [options]",
    "Rank documents for a query with a CrossEncoder.",
    "Scores every document against the query and prints CrossEncoder.rank(query, documents): one JSON "
    "object per line, {\"corpus_id\": i, \"score\": s}, highest score first (ties keep document order); "
    "corpus_id is the 0-based line number in FILE.",
    rerank_options,
    sizeof rerank_options / sizeof rerank_options[0],
    "  sbert rerank --model output/reranker/final --query 'who wrote hamlet' --documents passages.txt "
    "--top-k 5 --return-documents\n",
};

static int has_suffix(const char *s, const char *suffix) {
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

/* --batch-size, --threads, --max-length, --activation into the option structs. */
static int common_options(const cli_command_spec *spec, const cli_args *args, sbert_cross_encoder_options *lo,
                          sbert_predict_options *po) {
    long v;
    int rc;
    const char *s;
    if ((s = cli_get(spec, args, "--batch-size"))) {
        if ((rc = cli_parse_long("--batch-size", s, 1, 1L << 20, &v)) != CLI_EXIT_OK) return rc;
        po->batch_size = (size_t)v;
    }
    if ((s = cli_get(spec, args, "--threads"))) {
        if ((rc = cli_parse_long("--threads", s, 1, 1024, &v)) != CLI_EXIT_OK) return rc;
        lo->num_threads = (int)v;
    }
    if ((s = cli_get(spec, args, "--max-length"))) {
        if ((rc = cli_parse_long("--max-length", s, 2, 1L << 20, &v)) != CLI_EXIT_OK) return rc;
        lo->max_length = (size_t)v;
    }
    po->activation_fn = cli_get(spec, args, "--activation");
    return CLI_EXIT_OK;
}

int cli_cmd_predict(int argc, char **argv) {
    const cli_command_spec *spec = &cli_predict_spec;
    cli_args args;
    int rc = cli_parse(spec, argc, argv, &args);
    if (rc < 0) return CLI_EXIT_OK;
    if (rc != CLI_EXIT_OK) return rc;
    if ((rc = cli_check_precision(cli_get(spec, &args, "--precision"))) != CLI_EXIT_OK) return rc;
    const char *model_dir = cli_get(spec, &args, "--model"), *input = cli_get(spec, &args, "--input");
    const char *output = cli_get(spec, &args, "--output");
    if (!output) output = "-";
    if (!model_dir) return cli_usage_error("'sbert predict' needs --model DIR (see 'sbert predict --help')");
    if (!input) return cli_usage_error("'sbert predict' needs --input FILE (.jsonl, .csv or .tsv pairs)");
    sbert_cross_encoder_options lo = sbert_cross_encoder_options_default();
    sbert_predict_options po = sbert_predict_options_default();
    if ((rc = common_options(spec, &args, &lo, &po)) != CLI_EXIT_OK) return rc;
    po.apply_softmax = cli_get(spec, &args, "--softmax") != NULL;
    int npy = has_suffix(output, ".npy");

    sbert_pair_file pairs;
    sbert_status st = sbert_pair_file_load(input, &pairs);
    if (st != SBERT_OK) return cli_library_failure("cannot read the pairs", st);
    cli_output out;
    if ((rc = cli_output_open(&out, output)) != CLI_EXIT_OK) {
        sbert_pair_file_free(&pairs);
        return rc;
    }
    sbert_model *model = NULL;
    float *scores = NULL;
    st = sbert_cross_encoder_load(model_dir, &lo, &model);
    if (st != SBERT_OK) {
        rc = cli_library_failure("cannot load the CrossEncoder", st);
        goto done;
    }
    if ((rc = cli_apply_precision(model, cli_get(spec, &args, "--precision"))) != CLI_EXIT_OK) goto done;
    size_t L = sbert_cross_encoder_num_labels(model);
    scores = malloc((pairs.n ? pairs.n : 1) * L * sizeof *scores);
    if (!scores) {
        rc = cli_failure("out of memory for %zu x %zu scores", pairs.n, L);
        goto done;
    }
    cli_progress prog;
    cli_progress_init(&prog, "scoring", pairs.n, 256);
    po.progress = cli_progress_update;
    po.progress_user = &prog;
    st = sbert_cross_encoder_predict(model, pairs.first, pairs.second, pairs.n, &po, scores);
    cli_progress_finish(&prog);
    if (st != SBERT_OK) {
        rc = cli_library_failure(input, st);
        goto done;
    }
    int wr = 0;
    if (npy) {
        wr = cli_write_npy_header(out.f, pairs.n, L) != 0 || cli_write_npy_rows(out.f, scores, pairs.n, L) != 0;
    } else if (L > 1) {
        wr = cli_write_jsonl_rows(out.f, scores, pairs.n, L) != 0;
    } else {
        for (size_t i = 0; i < pairs.n && !wr; i++) wr = fprintf(out.f, "%.9g\n", (double)scores[i]) < 0;
    }
    rc = wr ? cli_failure("cannot write '%s'", output) : cli_output_commit(&out);
done:
    if (rc != CLI_EXIT_OK) cli_output_abort(&out);
    free(scores);
    sbert_model_free(model);
    sbert_pair_file_free(&pairs);
    return rc;
}

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c == '\n') fputs("\\n", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c == '\r') fputs("\\r", f);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

int cli_cmd_rerank(int argc, char **argv) {
    const cli_command_spec *spec = &cli_rerank_spec;
    cli_args args;
    int rc = cli_parse(spec, argc, argv, &args);
    if (rc < 0) return CLI_EXIT_OK;
    if (rc != CLI_EXIT_OK) return rc;
    if ((rc = cli_check_precision(cli_get(spec, &args, "--precision"))) != CLI_EXIT_OK) return rc;
    const char *model_dir = cli_get(spec, &args, "--model"), *query = cli_get(spec, &args, "--query");
    const char *docs_path = cli_get(spec, &args, "--documents"), *output = cli_get(spec, &args, "--output");
    if (!output) output = "-";
    if (!model_dir) return cli_usage_error("'sbert rerank' needs --model DIR (see 'sbert rerank --help')");
    if (!query) return cli_usage_error("'sbert rerank' needs --query TEXT");
    if (!docs_path) return cli_usage_error("'sbert rerank' needs --documents FILE (one document per line)");
    sbert_cross_encoder_options lo = sbert_cross_encoder_options_default();
    sbert_predict_options po = sbert_predict_options_default();
    if ((rc = common_options(spec, &args, &lo, &po)) != CLI_EXIT_OK) return rc;
    long top_k = -1;
    const char *s = cli_get(spec, &args, "--top-k");
    if (s && (rc = cli_parse_long("--top-k", s, 1, 1L << 40, &top_k)) != CLI_EXIT_OK) return rc;
    int with_text = cli_get(spec, &args, "--return-documents") != NULL;

    cli_lines docs;
    if ((rc = cli_read_lines(docs_path, &docs)) != CLI_EXIT_OK) return rc;
    if (docs.n == 0) {
        cli_lines_free(&docs);
        return cli_failure("%s: no documents", docs_path);
    }
    cli_output out;
    if ((rc = cli_output_open(&out, output)) != CLI_EXIT_OK) {
        cli_lines_free(&docs);
        return rc;
    }
    sbert_model *model = NULL;
    sbert_rank_hit *hits = malloc(docs.n * sizeof *hits);
    sbert_status st = hits ? sbert_cross_encoder_load(model_dir, &lo, &model) : SBERT_ERR_NOMEM;
    if (!hits) {
        rc = cli_failure("out of memory for %zu documents", docs.n);
        goto done;
    }
    if (st != SBERT_OK) {
        rc = cli_library_failure("cannot load the CrossEncoder", st);
        goto done;
    }
    if ((rc = cli_apply_precision(model, cli_get(spec, &args, "--precision"))) != CLI_EXIT_OK) goto done;
    st = sbert_cross_encoder_rank(model, query, (const char *const *)docs.line, docs.n, &po, hits);
    if (st != SBERT_OK) {
        rc = cli_library_failure("rerank", st);
        goto done;
    }
    size_t k = top_k > 0 && (size_t)top_k < docs.n ? (size_t)top_k : docs.n;
    int wr = 0;
    for (size_t i = 0; i < k && !wr; i++) {
        fprintf(out.f, "{\"corpus_id\": %zu, \"score\": %.9g", hits[i].corpus_id, (double)hits[i].score);
        if (with_text) {
            fputs(", \"text\": ", out.f);
            json_string(out.f, docs.line[hits[i].corpus_id]);
        }
        wr = fputs("}\n", out.f) < 0;
    }
    rc = wr ? cli_failure("cannot write '%s'", output) : cli_output_commit(&out);
done:
    if (rc != CLI_EXIT_OK) cli_output_abort(&out);
    free(hits);
    sbert_model_free(model);
    cli_lines_free(&docs);
    return rc;
}
