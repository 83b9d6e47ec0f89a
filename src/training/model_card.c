/*
 * training/model_card.c -- README.md of a trained model: YAML metadata as
 * sentence-transformers writes it (library_name, pipeline_tag, tags with the
 * loss, base_model), usage in Python and with sbert, the data, the loss and
 * its parameters (from the loss table), the evaluation before and after
 * training, and the training arguments as given.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "io/atomic.h"
#include "io/file.h"
#include "training/trainer_internal.h"

sbert_status sbert_model_card_write(const sbert_trainer *t, const char *dir) {
    const sbert_train_args *a = t->a;
    size_t cap = 1 << 17, n = 0;
    char *buf = malloc(cap);
    if (!buf) return sbert_fail(SBERT_ERR_NOMEM, "out of memory (model card)");
#define CARD(...) n += (size_t)snprintf(buf + (n < cap ? n : cap), n < cap ? cap - n : 0, __VA_ARGS__)
    const char *kind = sbert_model_kind_name(t->model->kind);
    CARD("---\nlibrary_name: sentence-transformers\npipeline_tag: sentence-similarity\ntags:\n- sentence-transformers\n"
         "- sentence-similarity\n- feature-extraction\n");
    for (size_t k = 0; k < a->n_losses; k++) {
        const sbert_loss_spec *sp = &a->losses[k];
        CARD("- loss:%s\n", sp->wrapper ? sp->wrapper->name : sp->def->name);
        if (sp->wrapper) CARD("- loss:%s\n", sp->def->name);
        if (sp->added) CARD("- loss:%s\n", sp->added->name);
    }
    CARD("- sbert\n");
    if (strcmp(a->model, "static") && strcmp(a->model, "StaticEmbedding")) CARD("base_model: %s\n", a->model);
    CARD("---\n\n# %s\n\nA %s model trained with **sbert** (sentence-transformers training in C).\n\n", a->run_name,
         kind);
    CARD("## Usage\n\nPython (sentence-transformers):\n\n```python\nfrom sentence_transformers import "
         "SentenceTransformer\n\nmodel = SentenceTransformer(\"path/to/this/folder\")\nembeddings = "
         "model.encode([\"A first sentence.\", \"A second one.\"])\n```\n\nsbert:\n\n```sh\nsbert encode --model "
         "path/to/this/folder --input sentences.txt --output embeddings.npy\n```\n\n");
    CARD("## Model\n\n- Base model: %s\n- Modules:", t->model_desc);
    for (size_t i = 0; i < t->model->n_mods; i++) CARD("%s %s", i ? " ->" : "", t->model->mods[i]->ops->class_name);
    CARD("\n- Output dimension: %zu, similarity: %s\n", t->model->full_dim, t->model->sim_name);
    if (sbert_model_max_seq_length(t->model)) CARD("- Maximum sequence length: %zu tokens\n", sbert_model_max_seq_length(t->model));
    CARD("\n## Training data\n\n");
    for (size_t i = 0; i < t->n_sets; i++) {
        const sbert_train_set *s = &t->sets[i];
        char lname[300];
        CARD("- Train%s%s: `%s` (%zu rows; columns:", s->name[0] ? " " : "", s->name, s->path, s->ds->n_rows);
        for (size_t c = 0; c < s->ds->n_cols; c++) CARD(" `%s`", s->ds->cols[c].name);
        CARD("; loss `%s`)\n", sbert_loss_spec_name(&a->losses[s->loss], lname, sizeof lname));
    }
    if (t->n_sets > 1) CARD("- multi_dataset_batch_sampler: %s\n", t->multi_round_robin ? "ROUND_ROBIN" : "PROPORTIONAL");
    {
        char evs[4096];
        sbert_evaluator_set_describe(t->evals, evs, sizeof evs);
        CARD("%s", evs);
    }
    CARD("\n## Loss\n");
    for (size_t k = 0; k < a->n_losses; k++) {
        const sbert_loss_spec *sp = &a->losses[k];
        char lname[300];
        CARD("\n%s%s%s`%s`: %s", a->loss_names[k][0] ? "- " : "", a->loss_names[k], a->loss_names[k][0] ? ": " : "",
             sbert_loss_spec_name(sp, lname, sizeof lname), sp->def->summary ? sp->def->summary : "");
        for (size_t i = 0; i < sp->def->n_params; i++)
            CARD("%s`%s` = %s", i ? ", " : "; ", sp->def->params[i].key, sp->values.str[i]);
        for (size_t i = 0; sp->wrapper && i < sp->wrapper->n_params; i++)
            if (sp->wvalues.str[i]) CARD("; `%s` = %s", sp->wrapper->params[i].key, sp->wvalues.str[i]);
    }
    CARD("\n\n## Evaluation\n\n| metric | baseline | trained |\n|---|---|---|\n");
    for (size_t i = 0; i < t->final_res.n; i++)
        CARD("| %s | %.4f | %.4f |\n", t->final_res.m[i].key, sbert_eval_get(&t->baseline_res, t->final_res.m[i].key),
             t->final_res.m[i].value);
    if (t->has_test) {
        CARD("\nTest (`%s`):\n\n| metric | value |\n|---|---|\n", a->test_data);
        for (size_t i = 0; i < t->test_res.n; i++) CARD("| %s | %.4f |\n", t->test_res.m[i].key, t->test_res.m[i].value);
    }
    CARD("\nSteps trained: %lld%s.\n\n## Training arguments\n\n| key | value |\n|---|---|\n", (long long)t->global_step,
         a->smoke ? " (SMOKE_TEST run)" : "");
    for (size_t i = 0; i < sbert_recipe_count(t->recipe); i++) {
        const char *k, *v;
        sbert_recipe_entry(t->recipe, i, &k, &v);
        CARD("| `%s` | `%s` |\n", k, v);
    }
    CARD("\n## Versions\n\n- sbert %s (C; no Python, torch or transformers involved in training)\n", sbert_version());
#undef CARD
    if (n >= cap) n = cap - 1;
    char path[4200];
    sbert_status st = sbert_path_join(path, sizeof path, dir, "README.md");
    if (st == SBERT_OK) st = sbert_write_file_atomic(path, buf, n);
    free(buf);
    return st;
}
