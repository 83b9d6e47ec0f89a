/*
 * cli/cmd_tokenize.c -- `sbert tokenize`: token ids for one text (or text
 * pair) per line, as JSON lines.
 *
 *   sbert tokenize (--model DIR | --tokenizer FILE) --input FILE [--pair FILE2]
 *                  [--max-length N | --no-truncation] [--no-special-tokens]
 *
 * Output, one object per input line, on standard output (or --output):
 *   {"input_ids":[...],"token_type_ids":[...],"attention_mask":[...]}
 *
 * Truncation follows the tool the user would compare with:
 *   --model DIR       the model's max_seq_length, longest_first, as
 *                     SentenceTransformer.tokenize does;
 *   --tokenizer FILE  the truncation stored in tokenizer.json, as
 *                     tokenizers.Tokenizer.from_file(FILE).encode does.
 * No padding is added: every line is its own sequence (a "padding" section of
 * tokenizer.json, which HF applies as Fixed(N) padding, is not applied).
 * --max-length N overrides both; --no-truncation turns truncation off.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const cli_option tokenize_options[] = {
    {"--model", "DIR",
     "Use the tokenizer of this sentence-transformers model and truncate to its "
     "max_seq_length, as SentenceTransformer.tokenize does."},
    {"--revision", "REV",
     "With a Hugging Face model id as --model: the branch, tag or commit in the local cache (default: main)."},
    {"--tokenizer", "FILE",
     "Use this Hugging Face tokenizer.json with its own truncation setting, as "
     "tokenizers.Tokenizer.from_file(FILE) does (its padding setting is not applied: no "
     "padding is ever added). Give exactly one of --model and --tokenizer."},
    {"--input", "FILE", "Texts, one per line (UTF-8); '-' reads standard input. Required."},
    {"--pair", "FILE2",
     "Second texts of sentence pairs, one per line; line i of FILE2 is paired with line i of "
     "FILE, so both files must have the same number of lines."},
    {"--max-length", "N", "Truncate every encoding to N tokens (special tokens included)."},
    {"--no-truncation", NULL, "Never truncate."},
    {"--no-special-tokens", NULL,
     "Do not add special tokens ([CLS], [SEP], <s>, ...): add_special_tokens=False."},
    {"--output", "OUT", "Write the JSON lines to OUT (atomically) instead of standard output."},
};

const cli_command_spec cli_tokenize_spec = {
    "tokenize",
    "sbert tokenize (--model DIR | --tokenizer FILE) --input FILE [--pair FILE2] [options]",
    "Show the token ids of texts or text pairs (JSON lines).",
    "Prints one JSON object per input line: "
    "{\"input_ids\":[...],\"token_type_ids\":[...],\"attention_mask\":[...]}. The ids equal "
    "those of Hugging Face tokenizers for the same tokenizer.json.",
    tokenize_options,
    sizeof tokenize_options / sizeof tokenize_options[0],
    "  sbert tokenize --model models/all-MiniLM-L6-v2 --input sentences.txt\n"
    "  sbert tokenize --tokenizer tokenizer.json --input questions.txt --pair passages.txt\n"
    "  echo 'Hello world' | sbert tokenize --tokenizer tokenizer.json --input - "
    "--no-special-tokens\n",
};

static int write_ids(FILE *f, const char *key, const int32_t *v, size_t n, int first) {
    if (fprintf(f, "%s\"%s\":[", first ? "" : ",", key) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (fprintf(f, i ? ",%ld" : "%ld", (long)v[i]) < 0)
            return -1;
    return fputc(']', f) == EOF ? -1 : 0;
}

int cli_cmd_tokenize(int argc, char **argv) {
    const cli_command_spec *spec = &cli_tokenize_spec;
    cli_args args;
    int rc = cli_parse(spec, argc, argv, &args);
    if (rc < 0)
        return CLI_EXIT_OK;
    if (rc != CLI_EXIT_OK)
        return rc;

    const char *model_dir = cli_get(spec, &args, "--model");
    const char *tok_path = cli_get(spec, &args, "--tokenizer");
    const char *input = cli_get(spec, &args, "--input");
    const char *pair = cli_get(spec, &args, "--pair");
    const char *output = cli_get(spec, &args, "--output");
    if (!model_dir == !tok_path)
        return cli_usage_error("'sbert tokenize' needs exactly one of --model DIR and "
                               "--tokenizer FILE (see 'sbert tokenize --help')");
    if (!input)
        return cli_usage_error("'sbert tokenize' needs --input FILE ('-' for standard input)");
    if (pair && strcmp(pair, "-") == 0 && strcmp(input, "-") == 0)
        return cli_usage_error("--input and --pair cannot both read standard input");

    sbert_tokenize_options to = sbert_tokenize_options_default();
    const char *s;
    long v;
    int no_trunc = cli_get(spec, &args, "--no-truncation") != NULL;
    if ((s = cli_get(spec, &args, "--max-length"))) {
        if (no_trunc)
            return cli_usage_error("--max-length and --no-truncation exclude each other");
        if ((rc = cli_parse_long("--max-length", s, 1, LONG_MAX, &v)) != CLI_EXIT_OK)
            return rc;
        to.max_length = v;
    }
    if (no_trunc)
        to.max_length = -1;
    to.add_special_tokens = cli_get(spec, &args, "--no-special-tokens") == NULL;

    cli_lines a, b;
    memset(&b, 0, sizeof b);
    if ((rc = cli_read_lines(input, &a)) != CLI_EXIT_OK)
        return rc;
    if (pair) {
        if ((rc = cli_read_lines(pair, &b)) != CLI_EXIT_OK) {
            cli_lines_free(&a);
            return rc;
        }
        if (a.n != b.n) {
            rc = cli_failure("--input '%s' has %zu lines but --pair '%s' has %zu lines; "
                             "line i of both files forms pair i, so the counts must match",
                             input, a.n, pair, b.n);
            cli_lines_free(&a);
            cli_lines_free(&b);
            return rc;
        }
    }

    cli_output out;
    memset(&out, 0, sizeof out);
    sbert_model *model = NULL;
    sbert_tokenizer *own_tok = NULL;
    const sbert_tokenizer *tok = NULL;
    sbert_status st;
    if (model_dir) {
        sbert_load_options lo = {0};
        lo.revision = cli_get(spec, &args, "--revision");
        lo.num_threads = 1;
        st = sbert_model_load_auto(model_dir, &lo, &model);
        if (st != SBERT_OK) {
            rc = cli_library_failure("cannot load the model", st);
            goto done;
        }
        tok = sbert_model_tokenizer(model);
        if (to.max_length == 0) {
            size_t msl = sbert_model_max_seq_length(model);
            to.max_length = msl > 0 && msl <= (size_t)LONG_MAX ? (long)msl : -1;
        }
    } else {
        st = sbert_tokenizer_load(tok_path, &own_tok);
        if (st != SBERT_OK) {
            rc = cli_library_failure("cannot load the tokenizer", st);
            goto done;
        }
        tok = own_tok;
    }

    if ((rc = cli_output_open(&out, output ? output : "-")) != CLI_EXIT_OK)
        goto done;
    for (size_t i = 0; i < a.n; i++) {
        sbert_encoding enc;
        memset(&enc, 0, sizeof enc);
        st = sbert_tokenizer_encode(tok, a.line[i], a.len[i], pair ? b.line[i] : NULL,
                                    pair ? b.len[i] : 0, &to, &enc);
        if (st != SBERT_OK) {
            char what[300];
            snprintf(what, sizeof what, "tokenizing line %zu of '%.200s'", i + 1,
                     strcmp(input, "-") == 0 ? "<stdin>" : input);
            rc = cli_library_failure(what, st);
            goto done;
        }
        int wr = fputc('{', out.f) == EOF ||
                 write_ids(out.f, "input_ids", enc.input_ids, enc.len, 1) != 0 ||
                 write_ids(out.f, "token_type_ids", enc.token_type_ids, enc.len, 0) != 0 ||
                 write_ids(out.f, "attention_mask", enc.attention_mask, enc.len, 0) != 0 ||
                 fputs("}\n", out.f) == EOF;
        int e = errno;
        sbert_encoding_free(&enc);
        if (wr) {
            rc = cli_write_failure(output ? output : "-", e);
            goto done;
        }
    }
    rc = cli_output_commit(&out);

done:
    if (rc != CLI_EXIT_OK)
        cli_output_abort(&out);
    sbert_tokenizer_free(own_tok);
    sbert_model_free(model);
    cli_lines_free(&a);
    cli_lines_free(&b);
    return rc;
}
