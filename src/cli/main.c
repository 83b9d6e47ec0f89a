/*
 * cli/main.c -- entry point of the `sbert` command-line tool.
 *
 *   sbert --help | --version
 *   sbert help [COMMAND]
 *   sbert COMMAND [options]      (COMMAND --help describes every option)
 *
 * Commands: encode, tokenize, similarity, evaluate, train, plot, mine (one file each,
 * cmd_*.c), predict and rerank (cmd_predict.c). This file
 * only dispatches: it finds the command (suggesting the closest name for a
 * typo), prints the overview help and the version.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct {
    const cli_command_spec *spec;
    int (*run)(int argc, char **argv);
} command;

static const command commands[] = {
    {&cli_encode_spec, cli_cmd_encode},
    {&cli_tokenize_spec, cli_cmd_tokenize},
    {&cli_similarity_spec, cli_cmd_similarity},
    {&cli_evaluate_spec, cli_cmd_evaluate},
    {&cli_train_spec, cli_cmd_train},
    {&cli_predict_spec, cli_cmd_predict},
    {&cli_rerank_spec, cli_cmd_rerank},
    {&cli_plot_spec, cli_cmd_plot},
    {&cli_search_spec, cli_cmd_search},
    {&cli_mine_spec, cli_cmd_mine},
    {&cli_convert_spec, cli_cmd_convert},
    {&cli_prune_spec, cli_cmd_prune},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void print_overview(FILE *f) {
    fprintf(f,
            "sbert %s -- sentence-transformers models in C\n"
            "\n"
            "usage: sbert COMMAND [options]\n"
            "       sbert COMMAND --help     describe every option of COMMAND\n"
            "       sbert --version\n"
            "\n"
            "commands:\n",
            sbert_version());
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-12s %s\n", commands[i].spec->name, commands[i].spec->summary);
    fprintf(f, "\n"
               "A model is a sentence-transformers directory as saved by\n"
               "SentenceTransformer.save() (modules.json, config.json, model.safetensors,\n"
               "tokenizer.json, ...). Input files hold one text per line.\n"
               "\n"
               "exit status: 0 success, 1 failure (the message says what and where),\n"
               "             2 usage error (unknown command or option, bad value)\n");
}

static const command *find_command(const char *name) {
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].spec->name, name) == 0)
            return &commands[i];
    return NULL;
}

static int unknown_command(const char *name) {
    const char *names[N_COMMANDS + 1];
    for (size_t i = 0; i < N_COMMANDS; i++)
        names[i] = commands[i].spec->name;
    names[N_COMMANDS] = "help";
    if (name[0] == '-') {
        static const char *const globals[] = {"--help", "--version"};
        const char *close = cli_closest(name, globals, 2);
        if (close)
            return cli_usage_error("unknown option '%s'; did you mean '%s'? (see 'sbert --help')",
                                   name, close);
        return cli_usage_error("unknown option '%s'; a command comes first (see 'sbert --help')",
                               name);
    }
    const char *close = cli_closest(name, names, N_COMMANDS + 1);
    if (close)
        return cli_usage_error("unknown command '%s'; did you mean '%s'? (see 'sbert --help')",
                               name, close);
    return cli_usage_error("unknown command '%s' (commands: encode, tokenize, similarity, "
                           "evaluate, train, predict, rerank, plot, mine; see 'sbert --help')",
                           name);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        print_overview(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        print_overview(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("sbert %s\n", sbert_version());
        return CLI_EXIT_OK;
    }
    if (strcmp(cmd, "help") == 0) {
        if (argc < 3) {
            print_overview(stdout);
            return CLI_EXIT_OK;
        }
        const command *c = find_command(argv[2]);
        if (!c)
            return unknown_command(argv[2]);
        cli_print_help(c->spec, stdout);
        return CLI_EXIT_OK;
    }
    const command *c = find_command(cmd);
    if (!c)
        return unknown_command(cmd);
    return c->run(argc - 1, argv + 1);
}
