/*
 * cli/cmd_train.c -- `sbert train`: run a training recipe.
 *
 *   sbert train [RECIPE] [--log-dir DIR] [--KEY VALUE | KEY=VALUE ...]
 *
 * A thin wrapper over sbert_train(): RECIPE is a `key: value` file (see
 * recipes/), and every other argument is an override with the
 * sentence-transformers / Hugging Face key names (--learning_rate 0.1,
 * num_train_epochs=2). The library checks every key (an unknown one is an
 * error that suggests the closest name), prints the run log to stdout and
 * ends it with the VERDICT line; this command prints nothing after it.
 * --log-dir is the tool's own option (where {run_name}.log is appended;
 * default "logs").
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const cli_option train_options[] = {
    {"RECIPE", NULL,
     "A recipe file of `key: value` lines (e.g. recipes/static_embedding.yaml). Optional: "
     "without it every setting comes from the overrides."},
    {"--KEY VALUE", NULL,
     "Override one recipe key, with the names sentence-transformers and Hugging Face use: "
     "--learning_rate 0.05, --num_train_epochs 2, --per_device_train_batch_size 64, "
     "--output_dir DIR, --max_steps N, ... KEY=VALUE works too. Unknown keys are an error "
     "naming the closest valid key."},
    {"--log-dir", "DIR", "Append the run log to DIR/{run_name}.log (default: logs)."},
};

const cli_command_spec cli_train_spec = {
    "train",
    "sbert train [RECIPE] [--log-dir DIR] [--KEY VALUE | KEY=VALUE ...]",
    "Train or fine-tune a model from a recipe (prints the log and a VERDICT).",
    "Runs a training recipe: evaluates the starting model (the baseline), trains, evaluates "
    "again, saves the model in the sentence-transformers layout under output_dir, and ends "
    "the log with a VERDICT line comparing the final score with the baseline. Set "
    "SMOKE_TEST=1 in the environment for a one-step run on a tiny slice.",
    train_options,
    sizeof train_options / sizeof train_options[0],
    "  sbert train recipes/static_embedding.yaml\n"
    "  sbert train recipes/static_embedding.yaml --learning_rate 0.1 --output_dir output/x\n"
    "  SMOKE_TEST=1 sbert train recipes/static_embedding.yaml\n",
};

int cli_cmd_train(int argc, char **argv) {
    const char *recipe = NULL, *log_dir = NULL;
    const char **over = malloc((size_t)(argc > 0 ? argc : 1) * sizeof *over);
    size_t n = 0;
    if (!over)
        return cli_failure("out of memory");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            cli_print_help(&cli_train_spec, stdout);
            /* The recipe keys, losses and evaluators, from the library's tables. */
            size_t need = sbert_train_help(NULL, 0);
            char *text = malloc(need + 1);
            if (text) {
                sbert_train_help(text, need + 1);
                printf("\n%s", text);
                free(text);
            }
            free(over);
            return CLI_EXIT_OK;
        }
        if (strcmp(a, "--log-dir") == 0 || strncmp(a, "--log-dir=", 10) == 0) {
            const char *v = a[9] == '=' ? a + 10 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v || !*v) {
                free(over);
                return cli_usage_error("option '--log-dir' needs a value (DIR)");
            }
            log_dir = v;
            continue;
        }
        if (a[0] == '-' && a[1] == '-' && a[2] != '\0') {
            /* --key value (the value is required; the library checks the key) */
            over[n++] = a;
            if (!strchr(a, '=')) {
                if (i + 1 >= argc) {
                    free(over);
                    return cli_usage_error("override '%s' needs a value", a);
                }
                over[n++] = argv[++i];
            }
            continue;
        }
        if (a[0] == '-') {
            free(over);
            return cli_usage_error("unknown option '%s' for 'sbert train' (overrides are "
                                   "--KEY VALUE; see 'sbert train --help')",
                                   a);
        }
        if (strchr(a, '=')) {
            over[n++] = a;
            continue;
        }
        if (recipe) {
            free(over);
            return cli_usage_error("more than one recipe given ('%s' and '%s')", recipe, a);
        }
        recipe = a;
    }
    if (!recipe && n == 0) {
        free(over);
        return cli_usage_error("'sbert train' needs a recipe file or overrides (see 'sbert "
                               "train --help')");
    }
    /* The library prints the run log to stdout: keep it ordered with ours. */
    fflush(stdout);
    sbert_train_summary summary;
    sbert_status st = sbert_train(recipe, over, n, log_dir, &summary);
    free(over);
    fflush(stdout);
    if (st != SBERT_OK) {
        /* A bad recipe key or value is a usage error (exit 2); a failure while
         * running (data, model files, a diverging loss) exits 1. */
        int rc = cli_library_failure("training failed", st);
        return st == SBERT_ERR_INVALID_ARG ? CLI_EXIT_USAGE : rc;
    }
    return CLI_EXIT_OK;
}
