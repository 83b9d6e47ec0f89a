/*
 * cli/precision.c -- the --precision option shared by the commands that run
 * a model (encode, similarity, evaluate, search, predict, rank).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cli_check_precision(const char *value) {
    if (!value) return CLI_EXIT_OK;
    static const char *const names[] = {"fp32", "bf16", "float32", "bfloat16"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(value, names[i])) return CLI_EXIT_OK;
    if (!strcmp(value, "fp16") || !strcmp(value, "float16"))
        return cli_usage_error("--precision %s is not implemented (use fp32 or bf16)", value);
    const char *near = cli_closest(value, names, 2);
    return cli_usage_error("--precision: '%s' is not a precision (fp32 or bf16)%s%s%s", value,
                           near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
}

int cli_apply_precision(sbert_model *model, const char *value) {
    if (!value) return CLI_EXIT_OK;
    const char *used = NULL;
    sbert_status st = sbert_model_set_precision(model, value, &used);
    if (st != SBERT_OK) return cli_library_failure("--precision", st);
    if ((!strcmp(value, "bf16") || !strcmp(value, "bfloat16")) && strcmp(used, "bf16") != 0) {
        const char *why = sbert_bf16_unavailable_reason();
        fprintf(stderr, "sbert: note: running in fp32, not bf16: %s\n", why ? why : "bf16 is unavailable");
    }
    return CLI_EXIT_OK;
}
