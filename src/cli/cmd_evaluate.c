/*
 * cli/cmd_evaluate.c -- `sbert evaluate`: a sentence-transformers evaluator
 * on a model and a data file.
 *
 *   sbert evaluate --model DIR --data FILE [--evaluator NAME] [--name NAME]
 *
 * Evaluators: EmbeddingSimilarityEvaluator (pairs with scores),
 * InformationRetrievalEvaluator (a JSON file of queries, corpus and
 * relevant_docs), or a comma list of them (SequentialEvaluator) with one
 * --data file and one --name per evaluator.
 *
 * Prints the metrics as one JSON object (the dict the Python evaluator
 * returns, same keys: "{name}_spearman_cosine", ...), one key per line, with
 * the primary metric first, values printed with %.17g (null when not finite).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const cli_option evaluate_options[] = {
    {"--model", "DIR", "The model to evaluate: a sentence-transformers directory or a Hugging Face model id in the local cache. Required."},
    {"--data", "FILE",
     "Evaluation data. EmbeddingSimilarityEvaluator: .jsonl/.csv/.tsv rows of (sentence1, sentence2, "
     "score), scores in [0, 1]. InformationRetrievalEvaluator: a JSON file {\"queries\": {qid: text}, "
     "\"corpus\": {cid: text}, \"relevant_docs\": {qid: [cid, ...]}}. With several evaluators, a comma "
     "list of files in the same order. Required."},
    {"--evaluator", "NAME",
     "The evaluator class: EmbeddingSimilarityEvaluator (default), InformationRetrievalEvaluator, TripletEvaluator; "
     "for a CrossEncoder model CrossEncoderRerankingEvaluator, CrossEncoderClassificationEvaluator or "
     "CrossEncoderCorrelationEvaluator; or a "
     "comma list of them run in sequence (metrics merged; the primary metric is the last one's)."},
    {"--name", "NAME",
     "Prefix of the metric keys, as the evaluator's name= (default: none); with several evaluators, "
     "one distinct name each, comma-separated."},
    {"--batch-size", "N", "Texts per forward pass (default 32)."},
    {"--threads", "N", "Worker threads for the model (default: all cores)."},
    CLI_PRECISION_OPTION,
    {"--revision", "REV",
     "With a Hugging Face model id as --model: the branch, tag or commit in the local cache (default: main)."},
};

const cli_command_spec cli_evaluate_spec = {
    "evaluate",
    "sbert evaluate --model DIR --data FILE [options]",
    "Evaluate a model on a data set (metrics as JSON).",
    "Runs a sentence-transformers evaluator and prints its metrics as a JSON object with "
    "the keys Python uses (e.g. \"sts-test_spearman_cosine\"), the primary metric first.",
    evaluate_options,
    sizeof evaluate_options / sizeof evaluate_options[0],
    "  sbert evaluate --model models/all-MiniLM-L6-v2 --data data/stsb-test.jsonl "
    "--name sts-test\n"
    "  sbert evaluate --model models/all-MiniLM-L6-v2 --evaluator InformationRetrievalEvaluator "
    "--data data/cranfield-ir.json --name cranfield\n"
    "  sbert evaluate --model models/all-MiniLM-L6-v2 --evaluator "
    "EmbeddingSimilarityEvaluator,InformationRetrievalEvaluator --data "
    "data/stsb-dev.jsonl,data/cranfield-ir.json --name sts-dev,cranfield\n",
};

static void print_json_string(const char *s) {
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

int cli_cmd_evaluate(int argc, char **argv) {
    const cli_command_spec *spec = &cli_evaluate_spec;
    cli_args args;
    int rc = cli_parse(spec, argc, argv, &args);
    if (rc < 0)
        return CLI_EXIT_OK;
    if (rc != CLI_EXIT_OK)
        return rc;
    if ((rc = cli_check_precision(cli_get(spec, &args, "--precision"))) != CLI_EXIT_OK) return rc;
    const char *model_dir = cli_get(spec, &args, "--model");
    const char *data = cli_get(spec, &args, "--data");
    const char *evaluator = cli_get(spec, &args, "--evaluator");
    const char *name = cli_get(spec, &args, "--name");
    if (!model_dir || !data)
        return cli_usage_error("'sbert evaluate' needs --model DIR and --data FILE (see 'sbert "
                               "evaluate --help')");
    sbert_load_options lo = {0};
    lo.revision = cli_get(spec, &args, "--revision");
    size_t batch = 32;
    const char *s;
    long v;
    if ((s = cli_get(spec, &args, "--batch-size"))) {
        if ((rc = cli_parse_long("--batch-size", s, 1, 1L << 20, &v)) != CLI_EXIT_OK)
            return rc;
        batch = (size_t)v;
    }
    if ((s = cli_get(spec, &args, "--threads"))) {
        if ((rc = cli_parse_long("--threads", s, 1, 1024, &v)) != CLI_EXIT_OK)
            return rc;
        lo.num_threads = (int)v;
    }
    sbert_model *model = NULL;
    /* CrossEncoder evaluators take a CrossEncoder (their names say so); any
     * other loads as the model_type its folder names. */
    int cross = evaluator && strstr(evaluator, "CrossEncoder") != NULL;
    sbert_status st;
    if (cross) {
        sbert_cross_encoder_options co = sbert_cross_encoder_options_default();
        co.num_threads = lo.num_threads;
        co.revision = lo.revision;
        st = sbert_cross_encoder_load(model_dir, &co, &model);
    } else {
        st = sbert_model_load_auto(model_dir, &lo, &model);
    }
    if (st != SBERT_OK)
        return cli_library_failure("cannot load the model", st);
    if ((rc = cli_apply_precision(model, cli_get(spec, &args, "--precision"))) != CLI_EXIT_OK) {
        sbert_model_free(model);
        return rc;
    }
    sbert_eval_summary sum;
    memset(&sum, 0, sizeof sum);
    st = sbert_evaluate(model, evaluator ? evaluator : "EmbeddingSimilarityEvaluator", data,
                        name ? name : "", batch, &sum);
    sbert_model_free(model);
    if (st != SBERT_OK)
        return cli_library_failure("evaluation failed", st);
    /* primary metric first, then the others in the evaluator's order */
    printf("{\n");
    size_t printed = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < sum.n && i < sizeof sum.metrics / sizeof sum.metrics[0]; i++) {
            int is_primary = strcmp(sum.metrics[i].key, sum.primary) == 0;
            if (is_primary != (pass == 0))
                continue;
            printf("%s  ", printed ? ",\n" : "");
            print_json_string(sum.metrics[i].key);
            if (isfinite(sum.metrics[i].value))
                printf(": %.17g", sum.metrics[i].value);
            else
                printf(": null"); /* JSON has no NaN (e.g. constant scores) */
            printed++;
        }
    }
    printf("\n}\n");
    if (fflush(stdout) != 0 || ferror(stdout))
        return cli_failure("cannot write to standard output");
    return CLI_EXIT_OK;
}
