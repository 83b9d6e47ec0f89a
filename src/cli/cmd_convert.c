/*
 * cli/cmd_convert.c -- `sbert convert`: save a model again, its weights in
 * bf16 (or fp32), in the layout Python reads (sbert_model_save_dtype).
 */
#include <string.h>

#include "cli.h"

static const cli_option convert_options[] = {
    {"--model", "DIR", "The model to convert: a SentenceTransformer, CrossEncoder or SparseEncoder folder. Required."},
    {"--output", "DIR", "Where to save it (replaced as a whole, atomically). Required."},
    {"--dtype", "T",
     "bf16 (default): every float32 tensor saved as bfloat16 and config.json's torch_dtype set to bfloat16, as "
     "torch saves a model it holds in bf16 (half the size; sentence-transformers loads it in bf16); fp32: "
     "float32 weights."},
    {"--revision", "REV", "For a Hugging Face model id in the local cache: the branch, tag or commit."},
};

const cli_command_spec cli_convert_spec = {
    "convert",
    "sbert convert --model DIR --output DIR [--dtype bf16|fp32]",
    "Save a model with its weights in bf16 (save_in_bf16) or fp32.",
    "Loads --model (its kind from config_sentence_transformers.json) and saves it into --output with the "
    "weights in --dtype. The result loads in Python's sentence-transformers (SentenceTransformer, CrossEncoder "
    "or SparseEncoder) and in sbert (which computes in fp32, or in bf16 with --precision bf16).",
    convert_options,
    sizeof convert_options / sizeof convert_options[0],
    "  sbert convert --model models/all-MiniLM-L6-v2 --output minilm-bf16\n",
};

int cli_cmd_convert(int argc, char **argv) {
    const cli_command_spec *spec = &cli_convert_spec;
    cli_args args;
    int rc = cli_parse(spec, argc, argv, &args);
    if (rc < 0) return CLI_EXIT_OK;
    if (rc != CLI_EXIT_OK) return rc;
    const char *in = cli_get(spec, &args, "--model"), *out = cli_get(spec, &args, "--output");
    const char *dtype = cli_get(spec, &args, "--dtype");
    if (!in || !out)
        return cli_usage_error("'sbert convert' needs --model DIR and --output DIR (see 'sbert convert --help')");
    if (!dtype) dtype = "bf16";
    if (strcmp(dtype, "bf16") && strcmp(dtype, "bfloat16") && strcmp(dtype, "fp32") && strcmp(dtype, "float32"))
        return cli_usage_error("--dtype: '%s' is not supported (bf16 or fp32)", dtype);
    sbert_load_options lo = {0};
    lo.revision = cli_get(spec, &args, "--revision");
    sbert_model *model = NULL;
    sbert_status st = sbert_model_load_auto(in, &lo, &model);
    if (st != SBERT_OK) return cli_library_failure("cannot load the model", st);
    st = sbert_model_save_dtype(model, out, dtype);
    sbert_model_free(model);
    if (st != SBERT_OK) return cli_library_failure("cannot save the model", st);
    return CLI_EXIT_OK;
}
