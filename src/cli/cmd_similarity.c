/*
 * cli/cmd_similarity.c -- `sbert similarity`: the similarity matrix between
 * two lists of texts.
 *
 *   sbert similarity --model DIR --input A --input2 B [options]
 *
 * Encodes the lines of A ([na, dim]) and of B ([nb, dim]) and prints the
 * [na, nb] matrix model.similarity(emb_a, emb_b) would give: one row per line
 * of A, nb values separated by spaces, "%.6f". The function is the model's
 * similarity_fn_name (cosine unless config_sentence_transformers.json says
 * dot, euclidean or manhattan); --similarity overrides it.
 *
 * --output FILE.npy writes the matrix as a float32 array [na, nb] (numpy.load
 * reads it), --output FILE.jsonl one JSON array of nb floats per line of A
 * ("%.9g", exact float32); both are written atomically, as encode's output.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const cli_option similarity_options[] = {
    {"--model", "DIR", "A sentence-transformers model directory or a Hugging Face model id in the local cache. Required."},
    {"--input", "A", "First texts, one per line ('-' = standard input); one output row each. "
                     "Required."},
    {"--input2", "B", "Second texts, one per line; one output column each. Required."},
    {"--similarity", "FN",
     "cosine, dot, euclidean (negative L2 distance) or manhattan (negative L1 distance). "
     "Default: the model's similarity_fn_name."},
    {"--batch-size", "N", "Texts per forward pass (default 32)."},
    {"--prompt-name", "NAME", "Prompt (from the model's prompts) for the texts of A."},
    {"--prompt-name2", "NAME", "Prompt (from the model's prompts) for the texts of B."},
    {"--threads", "N", "Worker threads for the model (default: all cores)."},
    CLI_PRECISION_OPTION,
    {"--revision", "REV",
     "With a Hugging Face model id as --model: the branch, tag or commit in the local cache (default: main)."},
    {"--output", "OUT",
     "Write the matrix to OUT instead of printing it: a name ending in .npy (float32 array "
     "[na, nb], for numpy.load) or .jsonl (one JSON array of nb values per line of A, exact "
     "float32). Written atomically: OUT appears only when everything succeeded."},
};

const cli_command_spec cli_similarity_spec = {
    "similarity",
    "sbert similarity --model DIR --input A --input2 B [options]",
    "Print the similarity matrix between the lines of two files.",
    "Encodes every line of A and of B and prints the [na, nb] similarity matrix: row i holds "
    "the scores of line i of A against every line of B, separated by spaces, with 6 "
    "decimals.",
    similarity_options,
    sizeof similarity_options / sizeof similarity_options[0],
    "  sbert similarity --model models/all-MiniLM-L6-v2 --input queries.txt --input2 docs.txt\n"
    "  sbert similarity --model DIR --input a.txt --input2 b.txt --similarity dot\n"
    "  sbert similarity --model DIR --input queries.txt --input2 docs.txt --output scores.npy\n",
};

static int encode_file(sbert_model *model, const char *path, const cli_lines *lines,
                       const sbert_encode_options *eo, size_t dim, float **out) {
    *out = malloc((lines->n ? lines->n : 1) * dim * sizeof **out);
    if (!*out)
        return cli_failure("out of memory for %zu x %zu embeddings of '%s'", lines->n, dim, path);
    cli_progress prog;
    cli_progress_init(&prog, path, lines->n, 256);
    sbert_encode_options o = *eo;
    o.progress = cli_progress_update;
    o.progress_user = &prog;
    sbert_status st = SBERT_OK;
    if (lines->n > 0)
        st = sbert_model_encode(model, (const char *const *)lines->line, lines->n, &o, *out);
    cli_progress_finish(&prog);
    if (st != SBERT_OK) {
        char what[300];
        snprintf(what, sizeof what, "encoding '%.200s'",
                 strcmp(path, "-") == 0 ? "<stdin>" : path);
        return cli_library_failure_lines(what, st, path, 1);
    }
    return CLI_EXIT_OK;
}

int cli_cmd_similarity(int argc, char **argv) {
    const cli_command_spec *spec = &cli_similarity_spec;
    cli_args args;
    int rc = cli_parse(spec, argc, argv, &args);
    if (rc < 0)
        return CLI_EXIT_OK;
    if (rc != CLI_EXIT_OK)
        return rc;
    if ((rc = cli_check_precision(cli_get(spec, &args, "--precision"))) != CLI_EXIT_OK) return rc;
    const char *model_dir = cli_get(spec, &args, "--model");
    const char *in_a = cli_get(spec, &args, "--input");
    const char *in_b = cli_get(spec, &args, "--input2");
    const char *fn = cli_get(spec, &args, "--similarity");
    const char *output = cli_get(spec, &args, "--output");
    if (!model_dir)
        return cli_usage_error("'sbert similarity' needs --model DIR");
    if (!in_a || !in_b)
        return cli_usage_error("'sbert similarity' needs --input A and --input2 B");
    if (strcmp(in_a, "-") == 0 && strcmp(in_b, "-") == 0)
        return cli_usage_error("--input and --input2 cannot both read standard input");
    int npy = 0;
    if (output) {
        size_t lo_ = strlen(output);
        npy = lo_ >= 4 && strcmp(output + lo_ - 4, ".npy") == 0;
        if (!npy && !(lo_ >= 6 && strcmp(output + lo_ - 6, ".jsonl") == 0))
            return cli_usage_error("--output '%s': the name must end in .npy or .jsonl (without "
                                   "--output the matrix is printed as text)",
                                   output);
    }
    static const char *const fns[] = {"cosine", "dot", "euclidean", "manhattan"};
    if (fn) {
        int known = 0;
        for (size_t i = 0; i < 4; i++)
            known |= strcmp(fn, fns[i]) == 0;
        if (!known) {
            const char *close = cli_closest(fn, fns, 4);
            return cli_usage_error("--similarity '%s' is not one of cosine, dot, euclidean, "
                                   "manhattan%s%s%s",
                                   fn, close ? "; did you mean '" : "", close ? close : "",
                                   close ? "'?" : "");
        }
    }
    sbert_encode_options eo = sbert_encode_options_default();
    sbert_load_options lo = {0};
    lo.revision = cli_get(spec, &args, "--revision");
    const char *s;
    long v;
    if ((s = cli_get(spec, &args, "--batch-size"))) {
        if ((rc = cli_parse_long("--batch-size", s, 1, 1L << 20, &v)) != CLI_EXIT_OK)
            return rc;
        eo.batch_size = (size_t)v;
    }
    if ((s = cli_get(spec, &args, "--threads"))) {
        if ((rc = cli_parse_long("--threads", s, 1, 1024, &v)) != CLI_EXIT_OK)
            return rc;
        lo.num_threads = (int)v;
    }
    const char *prompt_a = cli_get(spec, &args, "--prompt-name");
    const char *prompt_b = cli_get(spec, &args, "--prompt-name2");

    cli_lines a, b;
    memset(&b, 0, sizeof b);
    if ((rc = cli_read_lines(in_a, &a)) != CLI_EXIT_OK)
        return rc;
    if ((rc = cli_read_lines(in_b, &b)) != CLI_EXIT_OK) {
        cli_lines_free(&a);
        return rc;
    }
    cli_output out;
    memset(&out, 0, sizeof out);
    if (output && (rc = cli_output_open(&out, output)) != CLI_EXIT_OK) {
        cli_lines_free(&a);
        cli_lines_free(&b);
        return rc;
    }
    sbert_model *model = NULL;
    float *ea = NULL, *eb = NULL, *sim = NULL;
    sbert_status st = sbert_model_load_auto(model_dir, &lo, &model);
    if (st != SBERT_OK) {
        rc = cli_library_failure("cannot load the model", st);
        goto done;
    }
    if ((rc = cli_apply_precision(model, cli_get(spec, &args, "--precision"))) != CLI_EXIT_OK) goto done;
    const char *const prompts[2] = {prompt_a, prompt_b};
    for (int i = 0; i < 2; i++) {
        if (prompts[i] && !sbert_model_prompt(model, prompts[i])) {
            rc = cli_failure("%s '%s': the model in '%s' has no prompt of that name",
                             i ? "--prompt-name2" : "--prompt-name", prompts[i], model_dir);
            goto done;
        }
    }
    if (!fn)
        fn = sbert_model_similarity_fn_name(model);
    if (!fn)
        fn = "cosine";

    eo.prompt_name = prompt_a;
    size_t dim = sbert_model_encode_dim(model, &eo);
    if ((rc = encode_file(model, in_a, &a, &eo, dim, &ea)) != CLI_EXIT_OK)
        goto done;
    eo.prompt_name = prompt_b;
    if ((rc = encode_file(model, in_b, &b, &eo, dim, &eb)) != CLI_EXIT_OK)
        goto done;
    size_t cells = 1;
    if (a.n && b.n && (__builtin_mul_overflow(a.n, b.n, &cells) || cells > SIZE_MAX / sizeof *sim))
        cells = 0; /* too large to allocate */
    sim = cells ? malloc(cells * sizeof *sim) : NULL;
    if (!sim) {
        rc = cli_failure("out of memory for a %zu x %zu similarity matrix", a.n, b.n);
        goto done;
    }
    if (a.n > 0 && b.n > 0) {
        st = sbert_similarity(fn, ea, a.n, eb, b.n, dim, sim);
        if (st != SBERT_OK) {
            rc = cli_library_failure("computing the similarity matrix", st);
            goto done;
        }
    }
    if (output) {
        int wr = npy ? (cli_write_npy_header(out.f, a.n, b.n) != 0 ||
                        (a.n && b.n && cli_write_npy_rows(out.f, sim, a.n, b.n) != 0))
                     : (a.n && b.n && cli_write_jsonl_rows(out.f, sim, a.n, b.n) != 0);
        if (wr) {
            rc = cli_write_failure(output, errno);
            goto done;
        }
        if (!npy && b.n == 0) /* one (empty) row per line of A */
            for (size_t i = 0; i < a.n && !wr; i++)
                wr = fputs("[]\n", out.f) == EOF;
        if (wr) {
            rc = cli_write_failure(output, errno);
            goto done;
        }
        rc = cli_output_commit(&out);
        goto done;
    }
    for (size_t i = 0; i < a.n; i++) {
        for (size_t j = 0; j < b.n; j++)
            printf(j ? " %.6f" : "%.6f", (double)sim[i * b.n + j]);
        putchar('\n');
    }
    if (fflush(stdout) != 0 || ferror(stdout))
        rc = cli_write_failure("-", errno);

done:
    if (rc != CLI_EXIT_OK && output)
        cli_output_abort(&out);
    free(ea);
    free(eb);
    free(sim);
    sbert_model_free(model);
    cli_lines_free(&a);
    cli_lines_free(&b);
    return rc;
}
