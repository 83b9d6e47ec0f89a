/*
 * cli/cmd_prune.c -- `sbert prune`: a copy of a SentenceTransformer with only
 * some of its encoder layers (sbert_model_keep_layers), the skill's "copy
 * the teacher, keep layers 0, 3, 6 and 9" as a command; the result is a
 * student for distillation (recipe key layers_to_keep does the same inside a
 * training run).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_LAYERS 1024

static const cli_option prune_options[] = {
    {"--model", "DIR", "The SentenceTransformer to copy (a transformer encoder). Required."},
    {"--layers", "LIST",
     "The encoder layers to keep, comma-separated and increasing, e.g. 0,3,6,9 (or [0, 3, 6, 9]). Required."},
    {"--output", "DIR", "Where to save the pruned copy (replaced as a whole, atomically). Required."},
    {"--revision", "REV", "For a Hugging Face model id in the local cache: the branch, tag or commit."},
};

const cli_command_spec cli_prune_spec = {
    "prune",
    "sbert prune --model DIR --layers 0,3,6,9 --output DIR",
    "Copy a model keeping only some encoder layers (a distillation student).",
    "Loads --model, keeps the encoder layers listed in --layers (renumbered from 0, in order) and saves the copy "
    "into --output with config.json's num_hidden_layers set to their count, as sentence-transformers' "
    "layer-reduction example does (auto_model.encoder.layer = the kept layers). The copy loads in Python's "
    "sentence-transformers and in sbert; distil the original into it (teacher_model) to recover its quality.",
    prune_options,
    sizeof prune_options / sizeof prune_options[0],
    "  sbert prune --model models/all-MiniLM-L6-v2 --layers 0,2,4 --output minilm-l3\n",
};

/* "0,3,6,9" / "[0, 3, 6, 9]" -> out [*n]; 0 on a syntax error. */
static int parse_layers(const char *text, size_t *out, size_t *n) {
    *n = 0;
    const char *s = text;
    while (*s == ' ' || *s == '[') s++;
    while (*s && *s != ']') {
        if (*s < '0' || *s > '9' || *n == MAX_LAYERS) return 0;
        errno = 0;
        char *end;
        unsigned long v = strtoul(s, &end, 10);
        if (errno || v > 1000000000UL) return 0;
        out[(*n)++] = (size_t)v;
        s = end;
        while (*s == ' ') s++;
        if (*s == ',') {
            s++;
            while (*s == ' ') s++;
            if (!*s || *s == ']') return 0;
        } else if (*s && *s != ']') {
            return 0;
        }
    }
    if (*s == ']') s++;
    while (*s == ' ') s++;
    return *s == '\0';
}

int cli_cmd_prune(int argc, char **argv) {
    const cli_command_spec *spec = &cli_prune_spec;
    cli_args args;
    int rc = cli_parse(spec, argc, argv, &args);
    if (rc < 0) return CLI_EXIT_OK;
    if (rc != CLI_EXIT_OK) return rc;
    const char *in = cli_get(spec, &args, "--model"), *out = cli_get(spec, &args, "--output");
    const char *layers = cli_get(spec, &args, "--layers");
    if (!in || !out || !layers)
        return cli_usage_error("'sbert prune' needs --model DIR, --layers LIST and --output DIR (see 'sbert prune "
                               "--help')");
    size_t keep[MAX_LAYERS], n = 0;
    if (!parse_layers(layers, keep, &n))
        return cli_usage_error("--layers: '%s' is not a list of layer indices such as 0,3,6,9", layers);
    if (n == 0) return cli_usage_error("--layers is empty: list the encoder layers to keep, e.g. 0,3,6,9");
    sbert_load_options lo = {0};
    lo.revision = cli_get(spec, &args, "--revision");
    sbert_model *model = NULL;
    sbert_status st = sbert_model_load(in, &lo, &model);
    if (st != SBERT_OK) return cli_library_failure("cannot load the model", st);
    st = sbert_model_keep_layers(model, keep, n);
    if (st != SBERT_OK) {
        sbert_model_free(model);
        return cli_library_failure("--layers", st);
    }
    st = sbert_model_save_dtype(model, out, "fp32");
    sbert_model_free(model);
    if (st != SBERT_OK) return cli_library_failure("cannot save the model", st);
    return CLI_EXIT_OK;
}
