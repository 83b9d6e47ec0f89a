/*
 * cli/cli.h -- what the pieces of the `sbert` command-line tool share.
 *
 * The tool is a client of the public header (include/sbert.h) and libc only:
 * it never reaches into the library's internals, so everything it does a
 * user program can do too.
 *
 *   main.c            command table, `sbert --help`, `sbert --version`, dispatch
 *   args.c            option tables, parsing (--name VALUE / --name=VALUE),
 *                     "did you mean" suggestions, number parsing, help text
 *   textio.c          one-text-per-line input files, atomic output files,
 *                     the .npy / .jsonl writers, the progress bar
 *   cmd_encode.c      `sbert encode`
 *   cmd_tokenize.c    `sbert tokenize`
 *   cmd_similarity.c  `sbert similarity`
 *   cmd_evaluate.c    `sbert evaluate`
 *   cmd_train.c       `sbert train`
 *   cmd_predict.c     `sbert predict`, `sbert rerank` (CrossEncoders)
 *   cmd_plot.c        `sbert plot`
 *   cmd_mine.c        `sbert mine`
 *
 * Exit codes: 0 success, 1 a failure while running (a file that cannot be
 * read or written, a model the library rejects: the library's message is
 * printed), 2 a usage error (unknown command or option, a missing value, a
 * bad number). Every message goes to stderr as "sbert: error: ...".
 */
#ifndef SBERT_CLI_H
#define SBERT_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "sbert.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAILURE 1
#define CLI_EXIT_USAGE 2

#if defined(__GNUC__)
#define CLI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CLI_PRINTF(a, b)
#endif

/* ------------------------------------------------------------- messages */

/* Print "sbert: error: <msg>" on stderr and return CLI_EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) CLI_PRINTF(1, 2);
/* Print "sbert: error: <msg>" on stderr and return CLI_EXIT_FAILURE. */
int cli_failure(const char *fmt, ...) CLI_PRINTF(1, 2);
/* Print "sbert: error: <what>: <sbert_last_error()>" and return CLI_EXIT_FAILURE. */
int cli_library_failure(const char *what, sbert_status st);
/* The same for a library call over lines first_line.. of `path`: a message
 * that starts "text K: " (K counting from 0 within the call, as
 * sbert_model_encode names its texts) is printed as "PATH:LINE: ..." with the
 * real line number of the input file. */
int cli_library_failure_lines(const char *what, sbert_status st, const char *path,
                              size_t first_line);
/* "sbert: error: cannot write 'PATH': <strerror(err)>" ("standard output" for
 * "-"); err 0 means the reason is unknown (EIO). Returns CLI_EXIT_FAILURE. */
int cli_write_failure(const char *path, int err);

/* Levenshtein distance between two short strings (bytes). */
size_t cli_edit_distance(const char *a, const char *b);
/* --precision (cli/precision.c): the option's help, a check of its value
 * before the model loads (CLI_EXIT_USAGE for an unknown one), and its
 * application after (sbert_model_set_precision; a note on stderr, once, when
 * bf16 falls back to fp32). Both return CLI_EXIT_OK for a NULL value. */
#define CLI_PRECISION_OPTION                                                                       \
    {"--precision", "P",                                                                         \
     "Compute precision: fp32 (default) or bf16 -- the encoder's matrix products in bf16 with "  \
     "fp32 accumulation, as torch autocast (needs AVX512-BF16 or AMX-BF16; elsewhere fp32, with " \
     "a note)."}
int cli_check_precision(const char *value);
int cli_apply_precision(sbert_model *model, const char *value);

/* The candidate closest to `typed`, or NULL when none is close enough to suggest. */
const char *cli_closest(const char *typed, const char *const *candidates, size_t n);

/* -------------------------------------------------------------- options */

/* One option of a command. `metavar` is NULL for a flag (no value). */
typedef struct {
    const char *name;    /* "--batch-size" */
    const char *metavar; /* "N", "FILE", ... or NULL for a flag */
    const char *help;    /* one or more sentences; wrapped by the help printer */
} cli_option;

typedef struct {
    const char *name;    /* "encode" */
    const char *usage;   /* "sbert encode --model DIR --input FILE --output OUT [options]" */
    const char *summary; /* one line, for `sbert --help` */
    const char *details; /* a paragraph printed after the usage line, or NULL */
    const cli_option *options;
    size_t n_options;
    const char *examples; /* printed at the end of the help, or NULL */
} cli_command_spec;

#define CLI_MAX_OPTIONS 32

/* The result of parsing: value[i] for options[i] (NULL when not given; ""
 * for a flag that was given). */
typedef struct {
    const char *value[CLI_MAX_OPTIONS];
} cli_args;

/* Parse argv[1..argc-1] (argv[0] is the command name) against spec.
 * Returns -1 when --help / -h was given (the help has been printed to stdout),
 * CLI_EXIT_OK on success, CLI_EXIT_USAGE on error (the message is printed). */
int cli_parse(const cli_command_spec *spec, int argc, char **argv, cli_args *out);
/* The value of option `name` (which must be in spec), or NULL. */
const char *cli_get(const cli_command_spec *spec, const cli_args *args, const char *name);
/* Print the command's full help. */
void cli_print_help(const cli_command_spec *spec, FILE *f);

/* Parse `text` as a whole number in [min, max] for option `opt`.
 * Returns CLI_EXIT_OK or CLI_EXIT_USAGE (message printed). */
int cli_parse_long(const char *opt, const char *text, long min, long max, long *out);

/* ----------------------------------------------------------- text input */

/* The lines of one input file: line[i] is NUL-terminated, len[i] bytes. */
typedef struct {
    char *buf;
    char **line; /* [n] */
    size_t *len; /* [n] */
    size_t n;
} cli_lines;

/* Read `path` ("-" = stdin), one text per line. Only the line terminator
 * ("\n" or "\r\n") is removed; a final line without "\n" counts; a NUL byte or
 * invalid UTF-8 in a line is an error naming the file and the line (and the
 * byte). Returns CLI_EXIT_OK or CLI_EXIT_FAILURE (message printed). */
int cli_read_lines(const char *path, cli_lines *out);
void cli_lines_free(cli_lines *l);

/* ---------------------------------------------------------- file output */

/* An output file written atomically: data goes to a temporary file in the
 * same directory that is renamed over `path` only by cli_output_commit(), so
 * a failure never leaves a partial or clobbered file. "-" writes to stdout. */
typedef struct {
    FILE *f;
    char *final_path; /* NULL for stdout */
    char *tmp_path;
} cli_output;

int cli_output_open(cli_output *o, const char *path);
/* Flush, sync, close and rename into place. On failure the temp file is removed. */
int cli_output_commit(cli_output *o);
/* Close and remove the temporary file (safe to call after a failed commit or twice). */
void cli_output_abort(cli_output *o);

/* The 64-byte-aligned .npy v1.0 header (as numpy writes it) for a little-endian float32 array
 * of shape [rows, cols]. */
int cli_write_npy_header(FILE *f, size_t rows, size_t cols);
/* Append rows x cols floats as little-endian float32 ([rows, cols]). */
int cli_write_npy_rows(FILE *f, const float *data, size_t rows, size_t cols);
/* Append one JSON array per row, floats printed with %.9g ([rows, cols]). */
int cli_write_jsonl_rows(FILE *f, const float *data, size_t rows, size_t cols);

/* SparseEncoder output (sparse_io.c): one JSON object per row
 * {"<id>": w, ...} ({"<token>": w} with tokens; with decode_k > 0 the
 * top decode_k as [["token", w], ...]), or a scipy.sparse .npz (CSR). */
int cli_write_sparse_jsonl(FILE *f, const sbert_model *model, const sbert_sparse_rows *r, int tokens, size_t decode_k);
int cli_write_sparse_npz(FILE *f, const sbert_sparse_rows *r);

/* -------------------------------------------------------------- progress */

/* A progress bar on stderr, shown only when stderr is a terminal and the
 * job has more than `min_total` items. */
typedef struct {
    int enabled;
    size_t base;  /* items finished before the current library call */
    size_t total; /* items in the whole job */
    const char *label;
    int last_percent;
} cli_progress;

void cli_progress_init(cli_progress *p, const char *label, size_t total, size_t min_total);
/* An sbert_progress_fn: `user` is a cli_progress*, `done` counts within the current call. */
void cli_progress_update(size_t done, size_t total, void *user);
void cli_progress_finish(cli_progress *p);

/* -------------------------------------------------------------- commands */

extern const cli_command_spec cli_encode_spec;
extern const cli_command_spec cli_convert_spec;
extern const cli_command_spec cli_tokenize_spec;
extern const cli_command_spec cli_similarity_spec;
extern const cli_command_spec cli_evaluate_spec;
extern const cli_command_spec cli_train_spec;
extern const cli_command_spec cli_predict_spec;
extern const cli_command_spec cli_rerank_spec;
extern const cli_command_spec cli_plot_spec;
extern const cli_command_spec cli_search_spec;
extern const cli_command_spec cli_mine_spec;
extern const cli_command_spec cli_prune_spec;

int cli_cmd_encode(int argc, char **argv);
int cli_cmd_tokenize(int argc, char **argv);
int cli_cmd_similarity(int argc, char **argv);
int cli_cmd_evaluate(int argc, char **argv);
int cli_cmd_train(int argc, char **argv);
int cli_cmd_predict(int argc, char **argv);
int cli_cmd_rerank(int argc, char **argv);
int cli_cmd_plot(int argc, char **argv);
int cli_cmd_search(int argc, char **argv);
int cli_cmd_mine(int argc, char **argv);
int cli_cmd_convert(int argc, char **argv);
int cli_cmd_prune(int argc, char **argv);

#endif
