/*
 * cli/cmd_mine.c -- `sbert mine`: hard-negative mining
 * (sentence-transformers' util.mine_hard_negatives) over a data file.
 *
 *   sbert mine --model DIR --data PAIRS.jsonl --output OUT.jsonl [options]
 *
 * The options are mine_hard_negatives' arguments with dashes
 * (--range-max, --relative-margin, --output-format, ...) and the same
 * defaults. The report Python prints (range_max, unique queries, the score
 * statistics, what each filter skipped) goes to standard output.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const cli_option mine_options[] = {
    {"--model", "DIR", "The retriever: a sentence-transformers model directory or a Hugging Face model id in the "
                       "local cache. Required."},
    {"--data", "FILE",
     "The (anchor, positive) pairs: a .jsonl/.csv/.tsv file; the first two columns unless --anchor-column / "
     "--positive-column name others. Anchors may repeat (several positives per query). Required."},
    {"--output", "OUT",
     "Where to write the mined dataset: .jsonl (one JSON object per row), .csv or .tsv (header + rows; list "
     "values as JSON arrays). Written atomically. Required."},
    {"--anchor-column", "NAME", "The anchor/query column (default: the first column)."},
    {"--positive-column", "NAME", "The positive column (default: the second column)."},
    {"--corpus", "FILE",
     "Extra candidate documents: one per line (.txt) or a .jsonl/.csv/.tsv file (--corpus-column). The "
     "positives are always added. Default: the positives are the corpus."},
    {"--corpus-column", "NAME", "The column of a .jsonl/.csv/.tsv --corpus (default: 'text', or its only column)."},
    {"--num-negatives", "N", "Negatives per query (default 3)."},
    {"--range-min", "N", "Skip the N closest candidates (default 0)."},
    {"--range-max", "N",
     "Consider candidates up to rank N (default: derived as sentence-transformers does, range_min + "
     "num_negatives + max positives per query, with 10 x num_negatives when a margin or --max-score is set). "
     "The corpus must hold at least N documents."},
    {"--max-score", "X", "Skip candidates scoring above X (likely false negatives)."},
    {"--min-score", "X", "Skip candidates scoring below X."},
    {"--absolute-margin", "X", "Keep a candidate only if its score <= positive score - X."},
    {"--relative-margin", "X", "Keep a candidate only if its score <= positive score - |positive score| x X."},
    {"--sampling-strategy", "S", "'top' (the hardest first, default) or 'random' (drawn within the window)."},
    {"--seed", "N",
     "Seed of 'random' sampling: the negatives Python draws after random.seed(N) (default 0)."},
    {"--output-format", "F",
     "triplet (default; one row per negative), n-tuple (one row per query, negative_1..N), labeled-pair "
     "(anchor, text, label 1/0), labeled-list (anchor, [texts], [labels]), or n-tuple-scores (= n-tuple "
     "--output-scores)."},
    {"--output-scores", NULL,
     "Add the similarity scores: a 'scores' column (triplet, n-tuple), 'score' instead of 'label' "
     "(labeled-pair), 'scores' instead of 'labels' (labeled-list)."},
    {"--include-positives", NULL,
     "Keep the positives among the candidates (for reranking evaluation sets; forces n-tuple)."},
    {"--query-prompt-name", "NAME", "Encode the anchors with the model's prompt NAME (default: its 'query' prompt)."},
    {"--query-prompt", "TEXT", "Encode the anchors with this literal prompt (wins over --query-prompt-name)."},
    {"--corpus-prompt-name", "NAME",
     "Encode the corpus with the model's prompt NAME (default: its 'document' prompt)."},
    {"--corpus-prompt", "TEXT", "Encode the corpus with this literal prompt."},
    {"--cross-encoder", "DIR",
     "Rescore the candidates and the positives with a CrossEncoder (one label; its predict() scores, with "
     "its activation) when a filter is set (--absolute-margin, --relative-margin, --max-score, --min-score): "
     "its scores then replace the retriever's for the filters, the choice of negatives and --output-scores, "
     "as mine_hard_negatives(cross_encoder=...) does. Without a filter it is not used (a note says so)."},
    {"--cache-folder", "DIR",
     "Keep the query and corpus embeddings there as .npy files and reuse them on the next run with the same "
     "model, prompts and texts."},
    {"--batch-size", "N", "Texts per forward pass when encoding (default 32)."},
    {"--query-chunk", "N", "Queries per block of the exact search (default 256)."},
    {"--corpus-chunk", "N",
     "Documents per streamed chunk of the exact search (default 4096): memory for scores is threads x "
     "query-chunk x corpus-chunk floats, whatever the corpus size."},
    {"--threads", "N", "Worker threads (default: all cores)."},
    {"--revision", "REV", "With a Hugging Face model id as --model: the branch, tag or commit in the local cache."},
    {"--quiet", NULL, "Do not print the report."},
};

const cli_command_spec cli_mine_spec = {
    "mine",
    "sbert mine --model DIR --data FILE --output OUT [options]",
    "Mine hard negatives for (anchor, positive) pairs.",
    "Adds hard negatives to (anchor, positive) pairs as sentence-transformers' "
    "util.mine_hard_negatives does (same options, same rows for the same embeddings): every anchor is "
    "searched exactly against the corpus, the positives are removed from its candidates, the filters "
    "apply, and the negatives are taken from ranks [range_min, range_max). Prints the score statistics "
    "Python prints.",
    mine_options,
    sizeof mine_options / sizeof mine_options[0],
    "  sbert mine --model models/all-MiniLM-L6-v2 --data pairs.jsonl --output triplets.jsonl\n"
    "  sbert mine --model models/all-MiniLM-L6-v2 --data pairs.jsonl --output hard.jsonl \\\n"
    "      --range-min 10 --range-max 100 --relative-margin 0.05 --num-negatives 5 --output-format n-tuple\n"
    "  sbert mine --model models/all-MiniLM-L6-v2 --data qa.csv --corpus passages.txt --output pairs.csv \\\n"
    "      --output-format labeled-pair --sampling-strategy random --seed 12\n",
};

static int parse_double(const char *opt, const char *text, double *out) {
    errno = 0;
    char *end = NULL;
    double v = strtod(text, &end);
    if (end == text || *end != '\0' || text[0] == ' ' || errno == ERANGE || !isfinite(v))
        return cli_usage_error("option '%s': '%s' is not a finite number", opt, text);
    *out = v;
    return CLI_EXIT_OK;
}

static void print_line(const char *line, void *user) {
    fprintf((FILE *)user, "%s\n", line);
}

int cli_cmd_mine(int argc, char **argv) {
    const cli_command_spec *spec = &cli_mine_spec;
    cli_args args;
    int rc = cli_parse(spec, argc, argv, &args);
    if (rc < 0)
        return CLI_EXIT_OK;
    if (rc != CLI_EXIT_OK)
        return rc;
    const char *model_dir = cli_get(spec, &args, "--model");
    const char *data = cli_get(spec, &args, "--data");
    const char *output = cli_get(spec, &args, "--output");
    if (!model_dir || !data || !output)
        return cli_usage_error("'sbert mine' needs --model DIR, --data FILE and --output OUT (see 'sbert mine "
                               "--help')");
    sbert_mine_options o = sbert_mine_options_default();
    o.anchor_column = cli_get(spec, &args, "--anchor-column");
    o.positive_column = cli_get(spec, &args, "--positive-column");
    o.corpus_path = cli_get(spec, &args, "--corpus");
    o.corpus_column = cli_get(spec, &args, "--corpus-column");
    o.query_prompt_name = cli_get(spec, &args, "--query-prompt-name");
    o.query_prompt = cli_get(spec, &args, "--query-prompt");
    o.corpus_prompt_name = cli_get(spec, &args, "--corpus-prompt-name");
    o.corpus_prompt = cli_get(spec, &args, "--corpus-prompt");
    o.cross_encoder = cli_get(spec, &args, "--cross-encoder");
    o.cache_folder = cli_get(spec, &args, "--cache-folder");
    o.include_positives = cli_get(spec, &args, "--include-positives") != NULL;
    o.output_scores = cli_get(spec, &args, "--output-scores") != NULL;
    const char *s;
    if ((s = cli_get(spec, &args, "--sampling-strategy"))) {
        if (strcmp(s, "top") != 0 && strcmp(s, "random") != 0)
            return cli_usage_error("option '--sampling-strategy': '%s' is not one of top, random", s);
        o.sampling_strategy = s;
    }
    if ((s = cli_get(spec, &args, "--output-format"))) {
        static const char *const fmts[] = {"triplet", "n-tuple", "n-tuple-scores", "labeled-pair", "labeled-list"};
        int ok = 0;
        for (int i = 0; i < 5; i++)
            ok |= strcmp(s, fmts[i]) == 0;
        if (!ok) {
            const char *close = cli_closest(s, fmts, 5);
            if (close)
                return cli_usage_error("option '--output-format': '%s' is not a format; did you mean '%s'?", s,
                                       close);
            return cli_usage_error("option '--output-format': '%s' is not one of triplet, n-tuple, n-tuple-scores, "
                                   "labeled-pair, labeled-list",
                                   s);
        }
        o.output_format = s;
    }
    static const struct {
        const char *name;
        long min;
    } sizes[] = {{"--num-negatives", 1}, {"--range-min", 0},  {"--range-max", 1},  {"--batch-size", 1},
                 {"--query-chunk", 1},   {"--corpus-chunk", 1}, {"--threads", 1}, {"--seed", 0}};
    long v[8] = {0};
    int given[8] = {0};
    for (int i = 0; i < 8; i++)
        if ((s = cli_get(spec, &args, sizes[i].name))) {
            if ((rc = cli_parse_long(sizes[i].name, s, sizes[i].min, LONG_MAX, &v[i])) != CLI_EXIT_OK)
                return rc;
            given[i] = 1;
        }
    if (given[0])
        o.num_negatives = (size_t)v[0];
    if (given[1])
        o.range_min = (size_t)v[1];
    if (given[2])
        o.range_max = (size_t)v[2];
    if (given[3])
        o.batch_size = (size_t)v[3];
    if (given[4])
        o.query_chunk = (size_t)v[4];
    if (given[5])
        o.corpus_chunk = (size_t)v[5];
    if (given[7])
        o.seed = (uint64_t)v[7];
    static const char *const fnames[4] = {"--max-score", "--min-score", "--absolute-margin", "--relative-margin"};
    double *fvals[4] = {&o.max_score, &o.min_score, &o.absolute_margin, &o.relative_margin};
    for (int i = 0; i < 4; i++)
        if ((s = cli_get(spec, &args, fnames[i])) && (rc = parse_double(fnames[i], s, fvals[i])) != CLI_EXIT_OK)
            return rc;
    FILE *report = stdout;
    if (strcmp(output, "-") == 0)
        return cli_usage_error("option '--output': '-' is not supported; give a .jsonl, .csv or .tsv file name");
    if (!cli_get(spec, &args, "--quiet")) {
        o.log = print_line;
        o.log_user = report;
    }
    sbert_load_options lo = {0};
    lo.revision = cli_get(spec, &args, "--revision");
    if (given[6])
        lo.num_threads = (int)v[6];
    sbert_model *model = NULL;
    sbert_status st = sbert_model_load(model_dir, &lo, &model);
    if (st != SBERT_OK)
        return cli_library_failure("cannot load the model", st);
    sbert_mine_summary sum;
    st = sbert_mine_hard_negatives(model, data, &o, output, &sum);
    sbert_model_free(model);
    if (st != SBERT_OK)
        return cli_library_failure("mining failed", st);
    if (!cli_get(spec, &args, "--quiet"))
        fprintf(report, "Wrote %zu rows (%s%s) to %s\n", sum.n_output, sum.output_format,
                sum.output_scores ? ", with scores" : "", output);
    if (fflush(stdout) != 0 || ferror(stdout))
        return cli_failure("cannot write to standard output");
    return CLI_EXIT_OK;
}
