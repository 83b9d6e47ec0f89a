/*
 * training/train_args.c -- the table of recipe keys and its reader (see
 * train_args.h).
 */
#include "training/train_args.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/error.h"
#include "evaluation/evaluators.h"
#include "models/model.h"
#include "training/flow_map.h"

typedef enum { K_STR, K_NUM, K_INT, K_BOOL } key_kind;

typedef struct {
    const char *key;
    key_kind kind;
    const char *def; /* NULL: no default (unset) */
    size_t off;      /* into sbert_train_args */
    double lo, hi;   /* K_NUM / K_INT range */
    const char *help;
} arg_def;

#define A(f) offsetof(sbert_train_args, f)
#define BIG 1e15

static const arg_def ARGS[] = {
    /* run */
    {"run_name", K_STR, "sbert-run", A(run_name), 0, 0, "name of the run: logs/{run_name}.log"},
    {"output_dir", K_STR, NULL, A(output_dir), 0, 0, "where checkpoints and the final model go (output/{run_name})"},
    /* model */
    {"model", K_STR, NULL, A(model), 0, 0,
     "a model directory, a Hugging Face model id in the local cache, or 'static' (a new StaticEmbedding)"},
    {"revision", K_STR, NULL, A(revision), 0, 0,
     "for a Hugging Face model id: the branch, tag or commit in the local cache (main)"},
    {"model_type", K_STR, "SentenceTransformer", A(model_type), 0, 0,
     "the model kind trained: SentenceTransformer, CrossEncoder or SparseEncoder"},
    {"num_labels", K_INT, "0", A(num_labels), 0, 1e6,
     "CrossEncoder: labels of the head (0: the checkpoint's; 1 for an encoder without a head)"},
    {"activation_fn", K_STR, NULL, A(activation_fn), 0, 0,
     "CrossEncoder: the activation predict applies (Identity, Sigmoid, ...; default: the model's)"},
    {"allow_activation_mismatch", K_BOOL, "false", A(allow_activation_mismatch), 0, 0,
     "CrossEncoder: let a distillation / listwise / pairwise loss train a model whose activation_fn is not "
     "Identity"},
    {"tokenizer", K_STR, NULL, A(tokenizer), 0, 0, "tokenizer.json for model: static"},
    {"embedding_dim", K_INT, "256", A(embedding_dim), 1, 1e6, "table width for model: static"},
    {"warmstart", K_STR, NULL, A(warmstart), 0, 0,
     "model: static -- start from a model2vec directory, or distil a bi-encoder directory (PCA to embedding_dim)"},
    {"lora_r", K_INT, "0", A(lora_r), 0, 65536, "LoRA rank: > 0 trains adapters on a frozen Transformer (PEFT layout)"},
    {"lora_alpha", K_NUM, "8", A(lora_alpha), 1e-9, 1e9, "LoRA alpha (scaling = alpha / r)"},
    {"lora_dropout", K_NUM, "0", A(lora_dropout), 0, 0.999999, "dropout on the adapters' input"},
    {"lora_target_modules", K_STR, NULL, A(lora_target_modules), 0, 0,
     "comma list of module names (e.g. query,key,value,dense) or all-linear; default PEFT's (query,value)"},
    {"lora_modules_to_save", K_STR, NULL, A(lora_modules_to_save), 0, 0,
     "comma list of modules saved in full with the adapter (e.g. pooler)"},
    {"lora_use_rslora", K_BOOL, "false", A(lora_use_rslora), 0, 0, "scaling = alpha / sqrt(r)"},
    {"lora_merge", K_BOOL, "false", A(lora_merge), 0, 0,
     "also save the adapter merged into the weights as a plain model ({output_dir}/final-merged)"},
    {"layers_to_keep", K_STR, NULL, A(layers_to_keep), 0, 0,
     "layer pruning: the student keeps only these encoder layers of model, e.g. [0, 3, 6, 9] (model = a copy of "
     "the teacher; increasing indices; config.json's num_hidden_layers becomes their count)"},
    {"model_kwargs", K_STR, NULL, A(model_kwargs), 0, 0,
     "{torch_dtype: float32 | bfloat16 | auto}: bfloat16 needs bf16: true (sbert trains fp32 master weights with "
     "bf16 products; evaluation then runs in bf16 too); other keys are refused"},
    {"max_seq_length", K_INT, "0", A(max_seq_length), 0, 1e7, "tokens per text after truncation (0: the model's)"},
    /* data */
    {"train_data", K_STR, NULL, A(train_data), 0, 0,
     "training data: .jsonl/.csv/.tsv/.parquet (columns by position), or {name: file, ...} for several datasets"},
    {"eval_data", K_STR, NULL, A(eval_data), 0, 0, "evaluator data (comma list with a list of evaluators)"},
    {"test_data", K_STR, NULL, A(test_data), 0, 0, "optional: evaluated once after training with test_evaluator"},
    {"columns", K_STR, NULL, A(columns), 0, 0, "keep and order train_data's columns: 'anchor,positive'"},
    {"rename_columns", K_STR, NULL, A(rename_columns), 0, 0, "rename train_data's columns: 'old:new,old2:new2'"},
    {"eval_dataset", K_STR, NULL, A(eval_dataset), 0, 0,
     "data whose loss is logged at each evaluation (eval_loss; {name: file} gives eval_{name}_loss)"},
    {"prompts", K_STR, NULL, A(prompts), 0, 0,
     "prompt prepended to the inputs: a string, {column: prompt}, {dataset: prompt} or {dataset: {column: prompt}}"},
    {"denoising_auto_encoder_dataset", K_BOOL, "false", A(dae_dataset), 0, 0,
     "DenoisingAutoEncoderLoss: data with one text column becomes (noisy, text), the noisy text that text with "
     "words deleted (DenoisingAutoEncoderDataset; whitespace words, not nltk's), drawn once from seed"},
    {"del_ratio", K_NUM, "0.6", A(del_ratio), 0, 1, "denoising_auto_encoder_dataset: the chance of deleting a word"},
    {"max_train_samples", K_INT, "0", A(max_train_samples), 0, BIG, "keep the first N training rows (0: all)"},
    {"max_eval_samples", K_INT, "0", A(max_eval_samples), 0, BIG, "keep the first N evaluation rows/queries"},
    {"smoke_train_samples", K_INT, "0", A(smoke_train_samples), 0, BIG,
     "SMOKE_TEST: training rows kept (0: two batches)"},
    {"smoke_eval_samples", K_INT, "50", A(smoke_eval_samples), 1, BIG, "SMOKE_TEST: evaluation rows/queries kept"},
    /* loss */
    {"loss", K_STR, "CoSENTLoss", A(loss), 0, 0,
     "the loss class (see the list below), Wrapper(Inner), Loss + GlobalOrthogonalRegularizationLoss, or {dataset: loss}"},
    {"guide_model", K_STR, NULL, A(guide_model), 0, 0, "the guide model directory of GISTEmbedLoss / CachedGISTEmbedLoss"},
    {"teacher_model", K_STR, NULL, A(teacher_model), 0, 0,
     "distillation: a SentenceTransformer whose embeddings of teacher_column become the label of every training "
     "and eval_dataset row (MSELoss; make-multilingual: both columns learn the teacher's English embedding)"},
    {"teacher_column", K_STR, NULL, A(teacher_column), 0, 0,
     "the column the teacher encodes (default: the first input column)"},
    {"teacher_pca", K_BOOL, "false", A(teacher_pca), 0, 0,
     "a teacher wider than the student: project its labels with a PCA-initialised Dense(teacher_dim -> "
     "student_dim, bias=False) fitted on the first 20,000 (the skill's fix)"},
    /* evaluation */
    {"evaluator", K_STR, "EmbeddingSimilarityEvaluator", A(evaluator), 0, 0,
     "the evaluator class, or a comma list (SequentialEvaluator); options as Name(truncate_dim=256, ...)"},
    {"evaluator_name", K_STR, "", A(evaluator_name), 0, 0, "metric key prefix (one per evaluator)"},
    {"main_score_function", K_STR, NULL, A(main_score_function), 0, 0,
     "SequentialEvaluator's sequential_score: first (scores[0]), last (default), mean, max, min or mean_odd "
     "(mean of scores[1::2], the make-multilingual template's)"},
    {"test_evaluator", K_STR, NULL, A(test_evaluator), 0, 0, "evaluator for test_data (default: evaluator)"},
    /* training arguments */
    {"num_train_epochs", K_NUM, "3", A(num_train_epochs), 0, 1e6, "epochs (fractional allowed)"},
    {"max_steps", K_INT, "-1", A(max_steps), -1, 1e12, "optimizer steps; > 0 overrides num_train_epochs"},
    {"per_device_train_batch_size", K_INT, "8", A(batch_size), 1, 1e7, "rows per batch"},
    {"per_device_eval_batch_size", K_INT, "8", A(eval_batch_size), 1, 1e7, "texts per encode batch in evaluation"},
    {"gradient_accumulation_steps", K_INT, "1", A(accum), 1, 1e6, "batches per optimizer step"},
    {"learning_rate", K_NUM, "5e-5", A(learning_rate), 0, 1e3, "peak learning rate"},
    {"weight_decay", K_NUM, "0", A(weight_decay), 0, 1e3, "AdamW weight decay (not on biases and LayerNorm)"},
    {"adam_beta1", K_NUM, "0.9", A(adam_beta1), 0, 0.999999, "AdamW beta1"},
    {"adam_beta2", K_NUM, "0.999", A(adam_beta2), 0, 0.999999999, "AdamW beta2"},
    {"adam_epsilon", K_NUM, "1e-8", A(adam_epsilon), 0, 1, "AdamW epsilon"},
    {"max_grad_norm", K_NUM, "1.0", A(max_grad_norm), 0, 1e9, "gradient clipping (0: none)"},
    {"lr_scheduler_type", K_STR, "linear", A(lr_scheduler_type), 0, 0,
     "linear, cosine, constant, constant_with_warmup"},
    {"warmup_steps", K_NUM, "0", A(warmup_steps), 0, 1e12, "warmup steps; a value below 1 is a fraction of the total"},
    {"warmup_ratio", K_NUM, "0", A(warmup_ratio), 0, 1, "warmup as a fraction of the total steps (if no warmup_steps)"},
    {"seed", K_INT, "42", A(seed), 0, 9.2e18, "seed of the initialization, the sampler and dropout"},
    {"batch_sampler", K_STR, "BATCH_SAMPLER", A(batch_sampler), 0, 0,
     "BATCH_SAMPLER, NO_DUPLICATES, NO_DUPLICATES_HASHED or GROUP_BY_LABEL"},
    {"multi_dataset_batch_sampler", K_STR, "PROPORTIONAL", A(multi_dataset_batch_sampler), 0, 0,
     "with several train datasets: PROPORTIONAL or ROUND_ROBIN"},
    {"dataloader_drop_last", K_BOOL, "false", A(drop_last), 0, 0, "drop the last incomplete batch"},
    {"dataloader_num_workers", K_INT, "0", A(dataloader_num_workers), 0, 1024,
     "accepted for compatibility; a no-op (batches are built in the training thread)"},
    {"eval_strategy", K_STR, "no", A(eval_strategy), 0, 0, "no, steps or epoch"},
    {"eval_steps", K_NUM, "0", A(eval_steps), 0, 1e12, "evaluate every N steps (< 1: a fraction; 0: logging_steps)"},
    {"save_strategy", K_STR, "steps", A(save_strategy), 0, 0, "no, steps, epoch or best"},
    {"save_steps", K_NUM, "500", A(save_steps), 0, 1e12, "checkpoint every N steps (< 1: a fraction)"},
    {"save_total_limit", K_INT, "0", A(save_total_limit), 0, 1e9, "keep only the newest N checkpoints (0: all)"},
    {"logging_steps", K_NUM, "500", A(logging_steps), 0, 1e12, "log every N steps (< 1: a fraction)"},
    {"logging_first_step", K_BOOL, "false", A(logging_first_step), 0, 0, "also log the first step"},
    {"load_best_model_at_end", K_BOOL, "false", A(load_best), 0, 0, "restore the best evaluated model at the end"},
    {"metric_for_best_model", K_STR, NULL, A(metric_for_best_model), 0, 0,
     "the eval metric that picks the best model (default: the evaluator's primary)"},
    {"greater_is_better", K_BOOL, "true", A(greater_is_better), 0, 0, "direction of metric_for_best_model"},
    {"early_stopping_patience", K_INT, "0", A(early_stopping_patience), 0, 1e9,
     "stop after N evaluations without improvement (0: never)"},
    {"early_stopping_threshold", K_NUM, "0", A(early_stopping_threshold), 0, 1e9, "improvement that counts"},
    {"resume_from_checkpoint", K_STR, NULL, A(resume), 0, 0, "a checkpoint folder, or true/latest"},
    {"num_threads", K_INT, "0", A(num_threads), 0, 4096, "worker threads (0: all cores)"},
    {"bf16", K_BOOL, "false", A(bf16), 0, 0,
     "as HF autocast: the encoder's linear layers multiply in bf16 (fp32 accumulation); fp32 master weights, "
     "optimizer state, LayerNorm, softmax and loss (needs AVX512-BF16/AMX-BF16, else fp32 with a note)"},
    {"save_in_bf16", K_BOOL, "false", A(save_in_bf16), 0, 0,
     "save the final model's weights as BF16 (half the size; checkpoints stay fp32 for resuming)"},
    {"push_to_hub", K_BOOL, "false", A(push_to_hub), 0, 0, "push the model to the Hub at the end (non-fatal)"},
    {"hub_model_id", K_STR, NULL, A(hub_model_id), 0, 0, "the Hub repository for push_to_hub"},
    {"hub_private_repo", K_BOOL, "false", A(hub_private_repo), 0, 0, "make the Hub repository private"},
    {"report_to", K_STR, "none", A(report_to), 0, 0,
     "none, tensorboard or all: TensorBoard event files in {output_dir}/runs/{date}_{host} (or "
     "$TENSORBOARD_LOGGING_DIR)"},
};
#define N_ARGS (sizeof ARGS / sizeof ARGS[0])

/* Hugging Face / sentence-transformers keys that mean nothing to sbert or
 * are not supported yet: accepted only with the value that matches what
 * sbert does (ok, NULL: none), refused otherwise with `why`. */
static const struct {
    const char *key;
    const char *ok;
    const char *why;
} REFUSED[] = {
    {"fp16", "false", "fp16 training is not supported: sbert trains in fp32"},
    {"tf32", "false", "tf32 is a GPU setting: sbert trains in fp32 on the CPU"},
    {"gradient_checkpointing", "false",
     "gradient checkpointing is not supported: use a Cached* loss (mini_batch_size) to fit large batches"},
    {"torch_compile", "false", "torch_compile has no meaning here (no torch)"},
    {"optim", "adamw_torch", "optim: sbert implements adamw_torch (AdamW, decoupled weight decay) only"},
    {"main_similarity", NULL, "main_similarity is not supported yet (evaluators use the model's similarity function)"},
};
#define N_REFUSED (sizeof REFUSED / sizeof REFUSED[0])

const char *const *sbert_train_known_keys(void) {
    static const char *keys[N_ARGS + N_REFUSED + 64];
    static size_t n = 0;
    if (n == 0) {
        for (size_t i = 0; i < N_ARGS; i++) keys[n++] = ARGS[i].key;
        for (size_t i = 0; i < N_REFUSED; i++) keys[n++] = REFUSED[i].key;
        for (const char *const *k = sbert_loss_param_keys(); *k && n + 1 < sizeof keys / sizeof keys[0]; k++)
            keys[n++] = *k;
        keys[n] = NULL;
    }
    return keys;
}

static int parse_bool(const char *v, int *out) {
    if (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes")) return *out = 1, 1;
    if (!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no")) return *out = 0, 1;
    return 0;
}

static sbert_status read_one(const sbert_recipe *r, const arg_def *d, sbert_train_args *a) {
    const char *v = sbert_recipe_get(r, d->key);
    const char *origin = sbert_recipe_origin(r, d->key);
    if (!v) v = d->def;
    char *base = (char *)a + d->off;
    if (d->kind == K_STR) {
        *(const char **)base = v;
        return SBERT_OK;
    }
    if (!v) return SBERT_OK;
    if (d->kind == K_BOOL) {
        if (!parse_bool(v, (int *)base))
            return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: %s must be true or false, got '%s'", origin, d->key, v);
        return SBERT_OK;
    }
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end || errno == ERANGE || !isfinite(x))
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: %s must be a%s, got '%s'", origin, d->key,
                          d->kind == K_INT ? "n integer" : " number", v);
    if (d->kind == K_INT && x != floor(x))
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: %s must be an integer, got '%s'", origin, d->key, v);
    if (x < d->lo || x > d->hi)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: %s must be in [%g, %g], got %s", origin, d->key, d->lo, d->hi, v);
    if (d->kind == K_INT) *(int64_t *)base = (int64_t)x;
    else *(double *)base = x;
    return SBERT_OK;
}

static int one_of(const char *v, const char *const *list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v, list[i])) return 1;
    return 0;
}

/* A loss name that is not usable here: say why. */
static sbert_status bad_loss(const sbert_recipe *r, const char *name, int kind) {
    const char *origin = sbert_recipe_origin(r, "loss");
    char avail[1024] = "";
    size_t n = 0;
    const char *names[128];
    size_t nn = 0;
    for (size_t i = 0; i < sbert_loss_count(); i++) {
        const sbert_loss_def *d = sbert_loss_at(i);
        if (nn < 128) names[nn++] = d->name;
        if (d->compute && !d->wrapped_only && (d->kinds & (1u << kind)) && n < sizeof avail)
            n += (size_t)snprintf(avail + n, sizeof avail - n, "%s%s", n ? ", " : "", d->name);
    }
    const sbert_loss_def *d = sbert_loss_find_kind(name, kind);
    if (!d)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: unknown loss '%s' (did you mean '%s'? available: %s)", origin,
                          name, sbert_closest_name(name, names, nn), avail);
    if (!(d->kinds & (1u << kind))) {
        const char *other = d->kinds & (1u << SBERT_KIND_CROSS_ENCODER)        ? "CrossEncoder"
                            : d->kinds & (1u << SBERT_KIND_SENTENCE_TRANSFORMER) ? "SentenceTransformer"
                                                                                : "SparseEncoder";
        return sbert_fail(SBERT_ERR_UNSUPPORTED, "%s: %s is a %s loss; this run trains a %s (set model_type: %s to "
                                                 "train one; available here: %s)",
                          origin, name, other, sbert_model_kind_name(kind), other, avail);
    }
    return sbert_fail(SBERT_ERR_UNSUPPORTED, "%s: loss '%s' is not implemented yet (available: %s)", origin, name,
                      avail);
}

/* report_to: "none", "all", "tensorboard", or a list of them ("a,b" or
 * "[a, b]"), as the Hugging Face TrainingArguments take it. "all" means every
 * integration sbert has: TensorBoard. */
static sbert_status read_report_to(const sbert_recipe *r, sbert_train_args *a) {
    static const char *const other[] = {"azure_ml", "clearml", "codecarbon", "comet_ml", "dagshub", "dvclive",
                                        "flyte",    "mlflow",  "neptune",    "swanlab",  "trackio", "wandb"};
    char buf[256];
    if (strlen(a->report_to) >= sizeof buf)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: report_to is too long", sbert_recipe_origin(r, "report_to"));
    snprintf(buf, sizeof buf, "%s", a->report_to);
    char *s = buf, *end = buf + strlen(buf);
    while (*s == ' ') s++;
    while (end > s && end[-1] == ' ') *--end = '\0';
    if (*s == '[' && end > s && end[-1] == ']') {
        s++;
        *--end = '\0';
    }
    a->report_tensorboard = 0;
    int n = 0, none = 0;
    for (char *save = NULL, *v = strtok_r(s, ", '\"", &save); v; v = strtok_r(NULL, ", '\"", &save), n++) {
        if (!strcmp(v, "none")) none = 1;
        else if (!strcmp(v, "tensorboard") || !strcmp(v, "all")) a->report_tensorboard = 1;
        else {
            int known = one_of(v, other, sizeof other / sizeof other[0]);
            return sbert_fail(SBERT_ERR_UNSUPPORTED,
                              "%s: report_to = '%s': %s; sbert reports to: tensorboard (or none; all = tensorboard)",
                              sbert_recipe_origin(r, "report_to"), a->report_to,
                              known ? "that integration is not available in sbert (no Python, no network client)"
                                    : "unknown integration");
        }
    }
    if (none && n > 1)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: report_to = '%s': 'none' cannot be combined with others",
                          sbert_recipe_origin(r, "report_to"), a->report_to);
    return SBERT_OK;
}

/* The parameters of def from the recipe (defaults where absent). */
static sbert_status read_params(const sbert_recipe *r, const sbert_loss_def *d, sbert_loss_values *v) {
    memset(v, 0, sizeof *v);
    for (size_t i = 0; i < d->n_params; i++) {
        const char *x = sbert_recipe_get(r, d->params[i].key);
        const char *origin = x ? sbert_recipe_origin(r, d->params[i].key) : "default";
        SBERT_TRY(sbert_loss_param_parse(d, i, x ? x : d->params[i].def, origin, v));
    }
    return SBERT_OK;
}

/* The loss, its parameters (and a wrapped base loss's: SpladeLoss), and
 * keys that belong to other losses. */
static sbert_status read_loss_kind(const sbert_recipe *r, sbert_train_args *a) {
    const int kind = a->kind;
    const sbert_loss_def *d = sbert_loss_find_kind(a->loss, kind);
    if (!d || !d->compute || !(d->kinds & (1u << kind))) return bad_loss(r, a->loss, kind);
    if (d->wrapped_only)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          !strcmp(d->name, "FlopsLoss")
                              ? "%s: FlopsLoss is not used alone: it is the regularizer SpladeLoss adds (loss: "
                                "SpladeLoss%s)"
                              : "%s: %s should not be used alone: write loss: SpladeLoss and base_loss: %s (SpladeLoss "
                                "adds the FLOPS regularizer that keeps the vectors sparse)",
                          sbert_recipe_origin(r, "loss"), !strcmp(d->name, "FlopsLoss") ? "" : d->name, d->name);
    a->loss_def = d;
    SBERT_TRY(read_params(r, d, &a->loss_values));
    a->inner_loss_def = NULL;
    int bi = sbert_loss_param_index(d, "base_loss");
    if (bi >= 0) {
        const sbert_loss_def *in = sbert_loss_find_kind(a->loss_values.str[bi], kind);
        const char *origin = sbert_recipe_get(r, "base_loss") ? sbert_recipe_origin(r, "base_loss") : "default";
        if (!in || !in->compute)
            return sbert_fail(SBERT_ERR_UNSUPPORTED, "%s: base_loss %s: %s", origin, a->loss_values.str[bi],
                              in && in->summary ? in->summary : "not implemented yet");
        a->inner_loss_def = in;
        SBERT_TRY(read_params(r, in, &a->inner_loss_values));
    }
    const sbert_loss_def *in = a->inner_loss_def;
    for (const char *const *k = sbert_loss_param_keys(); *k; k++) {
        if (!sbert_recipe_get(r, *k) || sbert_loss_param_index(d, *k) >= 0 || (in && sbert_loss_param_index(in, *k) >= 0))
            continue;
        /* a CrossEncoder's num_labels is the model's (its head), not SoftmaxLoss's */
        if (kind == SBERT_KIND_CROSS_ENCODER && !strcmp(*k, "num_labels")) continue;
        /* The losses that take this key: those for this kind of model, else any. */
        char users[256] = "";
        size_t n = 0;
        for (int same_kind = 1; same_kind >= 0 && n == 0; same_kind--)
            for (size_t i = 0; i < sbert_loss_count() && n < sizeof users; i++) {
                const sbert_loss_def *o = sbert_loss_at(i);
                if (o->compute && sbert_loss_param_index(o, *k) >= 0 && (!same_kind || (o->kinds & d->kinds)))
                    n += (size_t)snprintf(users + n, sizeof users - n, "%s%s", n ? ", " : "", o->name);
            }
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: '%s' is a parameter of %s, not of %s%s%s; remove it",
                          sbert_recipe_origin(r, *k), *k, users, d->name, in ? " or " : "", in ? in->name : "");
    }
    /* one loss spec for the data checks and the step (no wrapper) */
    a->n_losses = 1;
    a->loss_names[0][0] = '\0';
    memset(&a->losses[0], 0, sizeof a->losses[0]);
    snprintf(a->losses[0].text, sizeof a->losses[0].text, "%s", d->name);
    a->losses[0].def = d;
    a->losses[0].values = a->loss_values;
    if (a->guide_model)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: guide_model is only used by GISTEmbedLoss and CachedGISTEmbedLoss, not %s; remove it",
                          sbert_recipe_origin(r, "guide_model"), d->name);
    return SBERT_OK;
}

static const char *recipe_get(void *ctx, const char *key) { return sbert_recipe_get(ctx, key); }
static const char *recipe_origin(void *ctx, const char *key) { return sbert_recipe_origin(ctx, key); }

/* The loss (one, or one per dataset), its parameters, and keys that belong
 * to other losses. */
static sbert_status read_loss_st(const sbert_recipe *r, sbert_train_args *a) {
    sbert_loss_keys keys = {recipe_get, recipe_origin, (void *)r};
    const unsigned st_kind = 1u << SBERT_KIND_SENTENCE_TRANSFORMER;
    const char *origin = sbert_recipe_origin(r, "loss");
    a->n_losses = 0;
    if (sbert_flow_is_map(a->loss)) {
        char where[4200];
        snprintf(where, sizeof where, "%s (loss)", origin);
        sbert_flow_map *m = NULL;
        SBERT_TRY(sbert_flow_parse(a->loss, where, &m));
        sbert_status st = SBERT_OK;
        if (m->n == 0) st = sbert_fail(SBERT_ERR_INVALID_ARG, "%s: the loss mapping is empty", where);
        if (m->n > SBERT_TRAIN_MAX_SETS)
            st = sbert_fail(SBERT_ERR_INVALID_ARG, "%s: at most %d losses", where, SBERT_TRAIN_MAX_SETS);
        for (size_t i = 0; st == SBERT_OK && i < m->n; i++) {
            if (!m->values[i] || strlen(m->keys[i]) >= sizeof a->loss_names[0]) {
                st = sbert_fail(SBERT_ERR_INVALID_ARG, "%s: the loss of dataset '%s' must be a loss name", where,
                                m->keys[i]);
                break;
            }
            snprintf(a->loss_names[i], sizeof a->loss_names[i], "%s", m->keys[i]);
            st = sbert_loss_spec_parse(m->values[i], where, st_kind, &keys, &a->losses[i]);
            if (st == SBERT_OK) a->n_losses = i + 1;
        }
        sbert_flow_free(m);
        SBERT_TRY(st);
    } else {
        SBERT_TRY(sbert_loss_spec_parse(a->loss, origin, st_kind, &keys, &a->losses[0]));
        a->loss_names[0][0] = '\0';
        a->n_losses = 1;
    }
    a->loss_def = a->losses[0].def;
    a->loss_values = a->losses[0].values;
    for (const char *const *k = sbert_loss_param_keys(); *k; k++) {
        if (!sbert_recipe_get(r, *k)) continue;
        int used = 0;
        for (size_t i = 0; i < a->n_losses; i++) used |= sbert_loss_spec_uses_key(&a->losses[i], *k);
        if (used) continue;
        char users[512] = "";
        size_t n = 0;
        /* the losses that take it: SentenceTransformer ones, else any */
        for (int same_kind = 1; same_kind >= 0 && n == 0; same_kind--)
            for (size_t i = 0; i < sbert_loss_count() && n < sizeof users; i++) {
                const sbert_loss_def *o = sbert_loss_at(i);
                if (o->compute && sbert_loss_param_index(o, *k) >= 0 && (!same_kind || (o->kinds & st_kind)))
                    n += (size_t)snprintf(users + n, sizeof users - n, "%s%s", n ? ", " : "", o->name);
            }
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: '%s' is a parameter of %s, not of %s; remove it",
                          sbert_recipe_origin(r, *k), *k, users, a->loss);
    }
    int needs_guide = 0;
    for (size_t i = 0; i < a->n_losses; i++) needs_guide |= (a->losses[i].def->needs & SBERT_LOSS_NEEDS_GUIDE) != 0;
    if (needs_guide && !a->guide_model)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "%s: %s needs a guide model: set guide_model to a model directory (e.g. "
                          "models/all-MiniLM-L6-v2)",
                          origin, a->loss);
    if (!needs_guide && a->guide_model)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "%s: guide_model is only used by GISTEmbedLoss and CachedGISTEmbedLoss, not %s; remove it",
                          sbert_recipe_origin(r, "guide_model"), a->loss);
    return SBERT_OK;
}

/* SentenceTransformer losses are specs (wrappers, one per dataset); the
 * CrossEncoder and SparseEncoder ones a table row (with SpladeLoss's
 * base_loss). */
static sbert_status read_loss(const sbert_recipe *r, sbert_train_args *a) {
    if (a->kind == SBERT_KIND_SENTENCE_TRANSFORMER) return read_loss_st(r, a);
    if (sbert_flow_is_map(a->loss))
        return sbert_fail(SBERT_ERR_UNSUPPORTED, "%s: a loss per dataset ({name: loss}) is supported for "
                                                 "SentenceTransformer training only",
                          sbert_recipe_origin(r, "loss"));
    return read_loss_kind(r, a);
}

/* model_kwargs: a mapping of SentenceTransformer(model_kwargs=...) keys; only
 * torch_dtype (transformers 5: dtype) means something here. What each value
 * does for training is decided once the model is known (student.c). */
static sbert_status read_model_kwargs(const sbert_recipe *r, sbert_train_args *a) {
    a->model_dtype = SBERT_DTYPE_UNSET;
    if (!a->model_kwargs) return SBERT_OK;
    const char *origin = sbert_recipe_origin(r, "model_kwargs");
    if (!sbert_flow_is_map(a->model_kwargs))
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: model_kwargs must be a mapping such as {torch_dtype: bfloat16}, "
                                                 "got '%s'",
                          origin, a->model_kwargs);
    char where[4200];
    snprintf(where, sizeof where, "%s (model_kwargs)", origin);
    sbert_flow_map *m = NULL;
    SBERT_TRY(sbert_flow_parse(a->model_kwargs, where, &m));
    sbert_status st = SBERT_OK;
    for (size_t i = 0; st == SBERT_OK && i < m->n; i++) {
        const char *k = m->keys[i], *v = m->values[i];
        if (strcmp(k, "torch_dtype") && strcmp(k, "dtype")) {
            st = sbert_fail(SBERT_ERR_UNSUPPORTED,
                            "%s: model_kwargs '%s' is not supported: sbert reads only torch_dtype (or dtype) there; "
                            "remove it",
                            origin, k);
            break;
        }
        if (a->model_dtype != SBERT_DTYPE_UNSET) {
            st = sbert_fail(SBERT_ERR_INVALID_ARG, "%s: model_kwargs gives torch_dtype twice (torch_dtype and dtype)",
                            origin);
            break;
        }
        if (v && !strncmp(v, "torch.", 6)) v += 6;
        if (v && (!strcmp(v, "float32") || !strcmp(v, "float"))) a->model_dtype = SBERT_DTYPE_FLOAT32;
        else if (v && (!strcmp(v, "bfloat16") || !strcmp(v, "bf16"))) a->model_dtype = SBERT_DTYPE_BFLOAT16;
        else if (v && !strcmp(v, "auto")) a->model_dtype = SBERT_DTYPE_AUTO;
        else if (v && (!strcmp(v, "float16") || !strcmp(v, "half") || !strcmp(v, "fp16")))
            st = sbert_fail(SBERT_ERR_UNSUPPORTED, "%s: model_kwargs %s '%s': fp16 is not implemented (float32, or "
                                                   "bfloat16 with bf16: true)",
                            origin, k, m->values[i]);
        else
            st = sbert_fail(SBERT_ERR_INVALID_ARG, "%s: model_kwargs %s must be float32, bfloat16 or auto, got '%s'",
                            origin, k, v ? m->values[i] : "a mapping");
    }
    sbert_flow_free(m);
    return st;
}

sbert_status sbert_train_args_read(const sbert_recipe *r, sbert_train_args *a) {
    int smoke = a->smoke;
    int64_t kill = a->kill_at_step;
    memset(a, 0, sizeof *a);
    a->smoke = smoke;
    a->kill_at_step = kill;
    for (size_t i = 0; i < N_ARGS; i++) SBERT_TRY(read_one(r, &ARGS[i], a));
    a->greater_set = sbert_recipe_get(r, "greater_is_better") != NULL;
    for (size_t i = 0; i < N_REFUSED; i++) {
        const char *v = sbert_recipe_get(r, REFUSED[i].key);
        if (!v) continue;
        int b = 0, okb = 0;
        int same = REFUSED[i].ok && (!strcasecmp(v, REFUSED[i].ok) ||
                                     (parse_bool(v, &b) && parse_bool(REFUSED[i].ok, &okb) && b == okb));
        if (!same)
            return sbert_fail(SBERT_ERR_UNSUPPORTED, "%s: %s = '%s': %s", sbert_recipe_origin(r, REFUSED[i].key),
                              REFUSED[i].key, v, REFUSED[i].why);
    }
    if (!a->model)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "recipe: 'model' is required (a model directory, or 'static' with "
                                                 "'tokenizer')");
    if (!a->train_data)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "recipe: 'train_data' is required (a .jsonl/.csv/.tsv/.parquet file, or {name: file, ...})");
    if (!a->eval_data)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "recipe: 'eval_data' is required: the run contract evaluates a "
                                                 "baseline and the trained model on it");
    int kind = sbert_model_kind_parse(a->model_type);
    if (kind < 0)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: model_type must be SentenceTransformer, CrossEncoder or "
                                                 "SparseEncoder, got '%s'",
                          sbert_recipe_origin(r, "model_type"), a->model_type);
    a->kind = kind;
    static const char *const ce_keys[] = {"num_labels", "activation_fn", "allow_activation_mismatch"};
    for (size_t i = 0; kind != SBERT_KIND_CROSS_ENCODER && i < sizeof ce_keys / sizeof ce_keys[0]; i++)
        /* num_labels is SoftmaxLoss's too: the loss keys check it for a SentenceTransformer */
        if (sbert_recipe_get(r, ce_keys[i]) && !(kind == SBERT_KIND_SENTENCE_TRANSFORMER && i == 0))
            return sbert_fail(SBERT_ERR_INVALID_ARG,
                              "%s: '%s' is a CrossEncoder key; this run trains a %s (set model_type: CrossEncoder)",
                              sbert_recipe_origin(r, ce_keys[i]), ce_keys[i], a->model_type);
    if (kind == SBERT_KIND_CROSS_ENCODER) {
        if (!strcasecmp(a->model, "static") || !strcasecmp(a->model, "StaticEmbedding"))
            return sbert_fail(SBERT_ERR_INVALID_ARG,
                              "%s: model_type CrossEncoder needs an encoder directory (a CrossEncoder, a Hugging Face "
                              "model or a SentenceTransformer to convert), not model: %s",
                              sbert_recipe_origin(r, "model"), a->model);
        if (!sbert_recipe_get(r, "evaluator")) a->evaluator = "CrossEncoderRerankingEvaluator";
        /* CrossEncoderTrainer's default loss: BCE for one label, cross-entropy for classes. */
        if (!sbert_recipe_get(r, "loss")) a->loss = a->num_labels >= 2 ? "CrossEntropyLoss" : "BinaryCrossEntropyLoss";
        /* The skill: CrossEncoders peak mid-training, so early stopping is on by default. */
        if (!sbert_recipe_get(r, "early_stopping_patience")) a->early_stopping_patience = 3;
    }
    static const char *const strategies[] = {"no", "steps", "epoch", "best"};
    if (!one_of(a->eval_strategy, strategies, 3))
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: eval_strategy must be no, steps or epoch, got '%s'",
                          sbert_recipe_origin(r, "eval_strategy"), a->eval_strategy);
    if (!one_of(a->save_strategy, strategies, 4))
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: save_strategy must be no, steps, epoch or best, got '%s'",
                          sbert_recipe_origin(r, "save_strategy"), a->save_strategy);
    if (sbert_recipe_get(r, "warmup_ratio") && sbert_recipe_get(r, "warmup_steps"))
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: give warmup_steps or warmup_ratio, not both",
                          sbert_recipe_origin(r, "warmup_ratio"));
    if (sbert_recipe_get(r, "warmup_ratio")) a->warmup_steps = a->warmup_ratio;
    if (a->test_evaluator && !a->test_data)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: test_evaluator needs test_data",
                          sbert_recipe_origin(r, "test_evaluator"));
    if (a->hub_model_id && !a->push_to_hub)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: hub_model_id is only used with push_to_hub: true",
                          sbert_recipe_origin(r, "hub_model_id"));
    SBERT_TRY(read_report_to(r, a));
    SBERT_TRY(read_model_kwargs(r, a));
    if (sbert_recipe_get(r, "teacher_pca") && !a->teacher_model)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: teacher_pca needs teacher_model (the teacher it projects)",
                          sbert_recipe_origin(r, "teacher_pca"));
    if (a->teacher_column && !a->teacher_model)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: teacher_column needs teacher_model (the teacher that encodes it)",
                          sbert_recipe_origin(r, "teacher_column"));
    if (a->teacher_model && kind != SBERT_KIND_SENTENCE_TRANSFORMER)
        return sbert_fail(SBERT_ERR_UNSUPPORTED,
                          "%s: teacher_model (embedding labels from a teacher) is for SentenceTransformer training; a "
                          "%s distils from precomputed scores in the data (label column)",
                          sbert_recipe_origin(r, "teacher_model"), a->model_type);
    return read_loss(r, a);
}

size_t sbert_train_arg_count(void) { return N_ARGS; }

int sbert_train_arg_get(const sbert_train_args *a, size_t i, sbert_train_arg_value *out) {
    if (i >= N_ARGS) return 0;
    const arg_def *d = &ARGS[i];
    const char *base = (const char *)a + d->off;
    memset(out, 0, sizeof *out);
    out->key = d->key;
    switch (d->kind) {
    case K_STR:
        out->kind = SBERT_ARG_STR;
        out->str = *(const char *const *)base;
        out->non_default = (out->str == NULL) != (d->def == NULL) || (out->str && strcmp(out->str, d->def));
        break;
    case K_NUM:
        out->kind = SBERT_ARG_NUM;
        out->num = *(const double *)base;
        out->non_default = d->def ? out->num != strtod(d->def, NULL) : 1;
        break;
    case K_INT:
        out->kind = SBERT_ARG_INT;
        out->i = *(const int64_t *)base;
        out->non_default = d->def ? (double)out->i != strtod(d->def, NULL) : 1;
        break;
    case K_BOOL: {
        int def = 0;
        out->kind = SBERT_ARG_BOOL;
        out->i = *(const int *)base;
        out->non_default = !(d->def && parse_bool(d->def, &def) && def == out->i);
        break;
    }
    }
    return 1;
}

#define APPENDF(...) n += (size_t)snprintf(buf + (n < cap ? n : cap), n < cap ? cap - n : 0, __VA_ARGS__)

size_t sbert_train_args_help(char *buf, size_t cap) {
    size_t n = 0;
    if (cap) buf[0] = '\0';
    APPENDF("Recipe keys (default in brackets):\n");
    for (size_t i = 0; i < N_ARGS; i++)
        APPENDF("  %-30s %s%s%s%s\n", ARGS[i].key, ARGS[i].help, ARGS[i].def ? " [" : "",
                ARGS[i].def ? (*ARGS[i].def ? ARGS[i].def : "\"\"") : "", ARGS[i].def ? "]" : "");
    APPENDF("\nKeys accepted only as shown (anything else is refused with the reason):\n");
    for (size_t i = 0; i < N_REFUSED; i++)
        APPENDF("  %-30s %s\n", REFUSED[i].key, REFUSED[i].ok ? REFUSED[i].ok : "(not supported yet)");
    static const int kinds[3] = {SBERT_KIND_SENTENCE_TRANSFORMER, SBERT_KIND_CROSS_ENCODER,
                                 SBERT_KIND_SPARSE_ENCODER};
    static const char *const how[3] = {"", ", model_type: CrossEncoder",
                                       ", model_type: SparseEncoder; a base loss goes in SpladeLoss's base_loss"};
    for (int kk = 0; kk < 3; kk++) {
        APPENDF("\nLosses (%s%s) and their keys:\n", sbert_model_kind_name(kinds[kk]), how[kk]);
        for (size_t i = 0; i < sbert_loss_count(); i++) {
            const sbert_loss_def *d = sbert_loss_at(i);
            if (!d->compute || !(d->kinds & (1u << kinds[kk])) || !d->summary) continue;
            APPENDF("  %s%s: %s%s%s\n", d->name, d->wrapped_only ? " (base_loss)" : "", d->summary,
                    d->columns ? "; columns " : "", d->columns ? d->columns : "");
            for (size_t k = 0; k < d->n_params; k++)
                APPENDF("      %-26s %s [%s]%s%s\n", d->params[k].key, d->params[k].help, d->params[k].def,
                        d->params[k].choices ? (d->params[k].kind == SBERT_LP_CHOICE ? " one of " : " or ") : "",
                        d->params[k].choices ? d->params[k].choices : "");
        }
    }
    for (int kk = 0; kk < 3; kk++) {
        APPENDF("\nEvaluators (%s; comma lists run as a SequentialEvaluator):\n", sbert_model_kind_name(kinds[kk]));
        for (size_t i = 0; i < sbert_evaluator_count(); i++) {
            const sbert_evaluator_def *d = sbert_evaluator_at(i);
            if (d->run && (d->kinds & (1u << kinds[kk]))) APPENDF("  %s: %s\n", d->name, d->data_help);
        }
    }
    APPENDF("\nVERDICT: WIN when the score beats the baseline by >= 0.005, MARGINAL in [0, 0.005), REGRESSION "
            "below; a SparseEncoder run adds the final query / corpus active dimensions.\n");
    return n;
}
