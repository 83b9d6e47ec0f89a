/*
 * cli/cmd_plot.c -- `sbert plot`: training curves of a run as an SVG image.
 *
 *   sbert plot --input PATH --output FILE.svg
 *
 * PATH is a trainer_state.json or a folder holding one (output_dir/final,
 * a checkpoint-N folder). A thin wrapper over sbert_plot_training_curves().
 */
#include <string.h>

#include "cli.h"

static const cli_option plot_options[] = {
    {"--input", "PATH",
     "A trainer_state.json, or a folder holding one: a model saved by `sbert train` "
     "(output_dir/final) or a checkpoint (output_dir/checkpoint-N). Required."},
    {"--output", "FILE", "The SVG image to write (replaced atomically). Required."},
};

const cli_command_spec cli_plot_spec = {
    "plot",
    "sbert plot --input PATH --output FILE.svg",
    "Draw the loss and evaluation curves of a training run (SVG).",
    "Reads the log_history of a trainer_state.json and draws one panel per series: the "
    "training loss, each evaluation metric (the baseline at step 0 included), each test "
    "metric, the learning rate and the gradient norm, each against the step. `sbert train` "
    "also writes this image as training_curves.svg into the final model folder.",
    plot_options,
    sizeof plot_options / sizeof plot_options[0],
    "  sbert plot --input output/minilm-stsb/final --output curves.svg\n"
    "  sbert plot --input output/minilm-stsb/checkpoint-200/trainer_state.json --output c.svg\n",
};

int cli_cmd_plot(int argc, char **argv) {
    const cli_command_spec *spec = &cli_plot_spec;
    cli_args args;
    int rc = cli_parse(spec, argc, argv, &args);
    if (rc < 0)
        return CLI_EXIT_OK;
    if (rc != CLI_EXIT_OK)
        return rc;
    const char *in = cli_get(spec, &args, "--input");
    const char *out = cli_get(spec, &args, "--output");
    if (!in || !out)
        return cli_usage_error("'sbert plot' needs --input PATH and --output FILE.svg (see 'sbert plot --help')");
    if (strcmp(out, "-") == 0)
        return cli_usage_error("--output: give a file name (the SVG is written atomically, not to standard output)");
    sbert_status st = sbert_plot_training_curves(in, out);
    if (st != SBERT_OK)
        return cli_library_failure("cannot plot", st);
    return CLI_EXIT_OK;
}
