/*
 * cli/args.c -- option parsing and help text for the `sbert` subcommands.
 *
 * Each command describes its options in a table (cli_option: name, metavar,
 * help). cli_parse() walks argv against that table:
 *
 *   --name VALUE  or  --name=VALUE   an option that takes a value
 *   --flag                           a flag (giving it a value is an error)
 *   -h / --help                      print the command's help, exit 0
 *
 * Anything else is a usage error with exit code 2: an unknown option (with
 * the closest known name suggested, by edit distance), a missing value, a
 * repeated option, a stray positional argument. Numbers are parsed strictly
 * (the whole argument, in range) by cli_parse_long().
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* ------------------------------------------------------------- messages */

static void vmessage(const char *fmt, va_list ap) {
    fputs("sbert: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

int cli_usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
    return CLI_EXIT_USAGE;
}

int cli_failure(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
    return CLI_EXIT_FAILURE;
}

int cli_library_failure(const char *what, sbert_status st) {
    const char *msg = sbert_last_error();
    if (msg && *msg)
        return cli_failure("%s: %s", what, msg);
    return cli_failure("%s: %s", what, sbert_status_name(st));
}

int cli_library_failure_lines(const char *what, sbert_status st, const char *path,
                              size_t first_line) {
    const char *msg = sbert_last_error();
    if (msg && strncmp(msg, "text ", 5) == 0 && msg[5] >= '0' && msg[5] <= '9') {
        char *end = NULL;
        errno = 0;
        unsigned long long k = strtoull(msg + 5, &end, 10);
        if (errno == 0 && end && end[0] == ':' && end[1] == ' ' && k < (unsigned long long)SIZE_MAX - first_line)
            return cli_failure("%s: %s:%zu: %s", what, strcmp(path, "-") == 0 ? "<stdin>" : path,
                               first_line + (size_t)k, end + 2);
    }
    return cli_library_failure(what, st);
}

int cli_write_failure(const char *path, int err) {
    if (!path || strcmp(path, "-") == 0)
        return cli_failure("cannot write to standard output: %s", strerror(err ? err : EIO));
    return cli_failure("cannot write '%s': %s", path, strerror(err ? err : EIO));
}

/* ---------------------------------------------------------- suggestions */

size_t cli_edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) /* long junk: never close to a name */
        return (size_t)-1;
    size_t prev[65], cur[65];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            size_t m = sub < del ? sub : del;
            cur[j] = m < ins ? m : ins;
        }
        memcpy(prev, cur, (lb + 1) * sizeof prev[0]);
    }
    return prev[lb];
}

const char *cli_closest(const char *typed, const char *const *candidates, size_t n) {
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    size_t tl = strlen(typed);
    for (size_t i = 0; i < n; i++) {
        size_t d = cli_edit_distance(typed, candidates[i]);
        /* A typed prefix of a name ("--batch" for "--batch-size") is close too. */
        if (tl >= 3 && strncmp(typed, candidates[i], tl) == 0 && d > 1)
            d = 1;
        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
    }
    /* Close enough: at most a third of the length, and never more than 3 edits. */
    size_t limit = tl / 3;
    if (limit < 1)
        limit = 1;
    if (limit > 3)
        limit = 3;
    return best_d <= limit ? best : NULL;
}

/* -------------------------------------------------------------- parsing */

static int find_option(const cli_command_spec *spec, const char *name, size_t name_len) {
    for (size_t i = 0; i < spec->n_options; i++) {
        if (strlen(spec->options[i].name) == name_len &&
            strncmp(spec->options[i].name, name, name_len) == 0)
            return (int)i;
    }
    return -1;
}

static int unknown_option(const cli_command_spec *spec, const char *arg, size_t len) {
    const char *names[CLI_MAX_OPTIONS + 1];
    size_t n = 0;
    for (size_t i = 0; i < spec->n_options && n < CLI_MAX_OPTIONS; i++)
        names[n++] = spec->options[i].name;
    names[n++] = "--help";
    char typed[128];
    snprintf(typed, sizeof typed, "%.*s", (int)(len < sizeof typed - 1 ? len : sizeof typed - 1),
             arg);
    const char *close = cli_closest(typed, names, n);
    if (close)
        return cli_usage_error("unknown option '%s' for 'sbert %s'; did you mean '%s'? (see "
                               "'sbert %s --help')",
                               typed, spec->name, close, spec->name);
    return cli_usage_error("unknown option '%s' for 'sbert %s' (see 'sbert %s --help')", typed,
                           spec->name, spec->name);
}

int cli_parse(const cli_command_spec *spec, int argc, char **argv, cli_args *out) {
    memset(out, 0, sizeof *out);
    if (spec->n_options > CLI_MAX_OPTIONS)
        return cli_usage_error("internal: too many options for '%s'", spec->name);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            cli_print_help(spec, stdout);
            return -1;
        }
        if (arg[0] != '-' || strcmp(arg, "-") == 0)
            return cli_usage_error("unexpected argument '%s' for 'sbert %s': every input is "
                                   "given with an option (see 'sbert %s --help')",
                                   arg, spec->name, spec->name);
        if (arg[1] != '-')
            return unknown_option(spec, arg, strlen(arg));
        const char *eq = strchr(arg, '=');
        size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
        int k = find_option(spec, arg, name_len);
        if (k < 0)
            return unknown_option(spec, arg, name_len);
        const cli_option *o = &spec->options[k];
        if (out->value[k])
            return cli_usage_error("option '%s' given more than once", o->name);
        if (!o->metavar) {
            if (eq)
                return cli_usage_error("option '%s' is a flag and takes no value (got '%s')",
                                       o->name, eq + 1);
            out->value[k] = "";
            continue;
        }
        if (eq) {
            out->value[k] = eq + 1;
        } else {
            /* The next argument is the value, unless it is missing or is
             * itself an option ("--input --output x"); "-" (stdin) is a value. */
            if (i + 1 >= argc || (argv[i + 1][0] == '-' && argv[i + 1][1] == '-' &&
                                  argv[i + 1][2] != '\0'))
                return cli_usage_error("option '%s' needs a value (%s)", o->name, o->metavar);
            out->value[k] = argv[++i];
        }
        if (out->value[k][0] == '\0')
            return cli_usage_error("option '%s' needs a non-empty value (%s)", o->name,
                                   o->metavar);
    }
    return CLI_EXIT_OK;
}

const char *cli_get(const cli_command_spec *spec, const cli_args *args, const char *name) {
    int k = find_option(spec, name, strlen(name));
    return k < 0 ? NULL : args->value[k];
}

int cli_parse_long(const char *opt, const char *text, long min, long max, long *out) {
    errno = 0;
    char *end = NULL;
    long v = strtol(text, &end, 10);
    if (end == text || *end != '\0' || text[0] == ' ' || text[0] == '\t')
        return cli_usage_error("option '%s': '%s' is not a whole number", opt, text);
    if (errno == ERANGE || v < min || v > max) {
        if (max == LONG_MAX)
            return cli_usage_error("option '%s': %s is out of range (must be at least %ld)", opt,
                                   text, min);
        return cli_usage_error("option '%s': %s is out of range (must be %ld to %ld)", opt, text,
                               min, max);
    }
    *out = v;
    return CLI_EXIT_OK;
}

/* ----------------------------------------------------------------- help */

/* Print `text` wrapped at `width` columns, every line indented by `indent`
 * spaces except the first, which continues at column `col`. */
static void print_wrapped(FILE *f, const char *text, size_t indent, size_t col, size_t width) {
    const char *p = text;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        size_t wl = strcspn(p, " \n");
        if (col > indent && col + 1 + wl > width) {
            fprintf(f, "\n%*s", (int)indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', f);
            col++;
        }
        fwrite(p, 1, wl, f);
        col += wl;
        p += wl;
        if (*p == '\n') {
            fprintf(f, "\n%*s", (int)indent, "");
            col = indent;
            p++;
        }
    }
    fputc('\n', f);
}

void cli_print_help(const cli_command_spec *spec, FILE *f) {
    fprintf(f, "usage: %s\n\n", spec->usage);
    if (spec->details) {
        print_wrapped(f, spec->details, 0, 0, 78);
        fputc('\n', f);
    }
    fprintf(f, "options:\n");
    const size_t col = 28;
    for (size_t i = 0; i < spec->n_options; i++) {
        const cli_option *o = &spec->options[i];
        char head[96];
        int hl = snprintf(head, sizeof head, "  %s%s%s", o->name, o->metavar ? " " : "",
                          o->metavar ? o->metavar : "");
        if (hl < 0)
            hl = 0;
        if ((size_t)hl + 2 > col) {
            fprintf(f, "%s\n%*s", head, (int)col, "");
        } else {
            fprintf(f, "%-*s", (int)col, head);
        }
        print_wrapped(f, o->help, col, col, 78);
    }
    fprintf(f, "%-*s", (int)col, "  -h, --help");
    print_wrapped(f, "Show this help and exit.", col, col, 78);
    if (spec->examples)
        fprintf(f, "\nexamples:\n%s", spec->examples);
}
