/*
 * training/train_args.h -- the training arguments: one table of recipe keys
 * (the sentence-transformers / Hugging Face names) with type, default, range
 * and help, read into one struct. Every key in the table is read by the
 * trainer; Hugging Face arguments that mean nothing here are either a
 * documented no-op (dataloader_num_workers) or accepted only with the value
 * that matches what sbert does (fp16: false) and refused otherwise with a
 * message saying why; the parameters of the losses come from the loss table
 * (scale, similarity_fct, ...) and a key that belongs to another loss than
 * the one chosen is refused. `sbert train --help` prints this table.
 */
#ifndef SBERT_TRAINING_TRAIN_ARGS_H
#define SBERT_TRAINING_TRAIN_ARGS_H

#include <stddef.h>
#include <stdint.h>

#include "losses/loss.h"
#include "losses/loss_spec.h"
#include "training/recipe.h"

/* Named training datasets in one run (train_data: {name: file, ...}). */
#define SBERT_TRAIN_MAX_SETS 16

typedef struct {
    /* run */
    const char *run_name, *output_dir;
    /* model */
    const char *model, *model_type, *tokenizer, *revision;
    const char *warmstart; /* model: static -- a model2vec directory or a teacher to distill */
    /* LoRA (modules/lora.h): lora_r > 0 trains adapters on a frozen Transformer */
    int64_t lora_r;
    double lora_alpha, lora_dropout;
    const char *lora_target_modules, *lora_modules_to_save;
    int lora_use_rslora, lora_merge;
    int64_t embedding_dim, max_seq_length;
    int kind; /* sbert_model_kind of model_type */
    /* CrossEncoder */
    int64_t num_labels;
    const char *activation_fn;
    int allow_activation_mismatch;
    /* data */
    const char *train_data, *eval_data, *test_data, *columns, *rename_columns, *eval_dataset, *prompts;
    int64_t max_train_samples, max_eval_samples;
    int dae_dataset;  /* denoising_auto_encoder_dataset: (text) -> (noisy, text) */
    double del_ratio; /* its deletion chance */
    int64_t smoke_train_samples, smoke_eval_samples; /* SMOKE_TEST slice sizes (the skill's per-template sizes) */
    /* loss (its parameters are in loss_values, by the loss table's order);
     * losses[i] is the loss of the dataset named loss_names[i] ("" when one
     * loss serves every dataset); loss_def / loss_values are losses[0]'s base
     * loss */
    const char *loss, *guide_model;
    const char *teacher_model, *teacher_column; /* distillation labels from a teacher (teacher.c) */
    int teacher_pca;                            /* project a wider teacher's labels by PCA (teacher.c) */
    const char *layers_to_keep;                 /* the student keeps only these encoder layers (student.c) */
    const char *model_kwargs;                   /* {torch_dtype: ...} as given (student.c) */
    int model_dtype;                            /* its torch_dtype: SBERT_DTYPE_* */
    const sbert_loss_def *loss_def;
    sbert_loss_values loss_values;
    sbert_loss_spec losses[SBERT_TRAIN_MAX_SETS];
    char loss_names[SBERT_TRAIN_MAX_SETS][64];
    size_t n_losses;
    /* A wrapper loss's base loss (SparseEncoder: SpladeLoss base_loss), or NULL. */
    const sbert_loss_def *inner_loss_def;
    sbert_loss_values inner_loss_values;
    /* evaluation */
    const char *evaluator, *evaluator_name, *test_evaluator, *main_score_function;
    /* training arguments */
    double num_train_epochs, learning_rate, weight_decay, adam_beta1, adam_beta2, adam_epsilon, max_grad_norm,
        warmup_steps, warmup_ratio, early_stopping_threshold, logging_steps, eval_steps, save_steps;
    int64_t max_steps, batch_size, eval_batch_size, accum, seed, save_total_limit, early_stopping_patience,
        num_threads, dataloader_num_workers;
    const char *lr_scheduler_type, *batch_sampler, *multi_dataset_batch_sampler, *eval_strategy, *save_strategy, *metric_for_best_model, *resume,
        *hub_model_id;
    int load_best, greater_is_better, greater_set, drop_last, push_to_hub, hub_private_repo, logging_first_step;
    int bf16, save_in_bf16; /* bf16 autocast of the linear layers; final model saved as BF16 */
    const char *report_to; /* as given; report_tensorboard is what it asks for */
    int report_tensorboard;
    /* options of the run, not recipe keys */
    int smoke;            /* SMOKE_TEST: one step on a tiny slice */
    int64_t kill_at_step; /* tests: SIGKILL after this step (0: never) */
} sbert_train_args;

/* model_kwargs torch_dtype (dtype): unset, float32, bfloat16, auto (the checkpoint's). */
enum { SBERT_DTYPE_UNSET, SBERT_DTYPE_FLOAT32, SBERT_DTYPE_BFLOAT16, SBERT_DTYPE_AUTO };

/* Read and check every key of r. */
sbert_status sbert_train_args_read(const sbert_recipe *r, sbert_train_args *a);

/* The keys of the table with the values a run used (for the model card). */
typedef enum { SBERT_ARG_STR, SBERT_ARG_NUM, SBERT_ARG_INT, SBERT_ARG_BOOL } sbert_arg_kind;
typedef struct {
    const char *key;
    sbert_arg_kind kind;
    const char *str; /* STR: NULL when unset */
    double num;      /* NUM */
    int64_t i;       /* INT; BOOL: 0 or 1 */
    int non_default; /* the value differs from the table's default */
} sbert_train_arg_value;
size_t sbert_train_arg_count(void);
/* Key i (table order) of a; 0 past the end. */
int sbert_train_arg_get(const sbert_train_args *a, size_t i, sbert_train_arg_value *out);

/* Every key a recipe may hold, NULL-terminated. */
const char *const *sbert_train_known_keys(void);

/* The recipe keys with defaults, the losses and the evaluators, for
 * `sbert train --help`. Returns the length needed (like snprintf). */
size_t sbert_train_args_help(char *buf, size_t cap);

#endif
