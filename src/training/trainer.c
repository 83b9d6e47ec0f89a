/*
 * training/trainer.c -- the run contract and the training loop (see
 * trainer.h). The model is a module list (models/model.h): the trainer
 * tokenizes each input column once through it, feeds it packed batches,
 * takes the loss from the loss table (losses/loss.h) and steps AdamW over its
 * parameter table; it never looks inside a module.
 */
#define _XOPEN_SOURCE 700
#include "training/trainer.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/error.h"
#include "base/threads.h"
#include "io/dirs.h"
#include "io/file.h"
#include "io/hf_cache.h"
#include "modules/static_warmstart.h"
#include "modules/transformer_module.h"
#include "training/trainer_internal.h"

const char *sbert_verdict(double delta) {
    if (delta >= 0.005) return "WIN";
    if (delta >= 0) return "MARGINAL";
    return "REGRESSION";
}

/* ------------------------------------------------------------ evaluation */

static sbert_status run_evals(sbert_trainer *t, const sbert_evaluator_set *set, sbert_eval_result *res) {
    sbert_model_eval_ctx ctx;
    sbert_eval_encoder enc;
    sbert_eval_encoder_for_model(t->model, (size_t)t->a->eval_batch_size, &ctx, &enc);
    if (t->classifier.state) enc.classifier = &t->classifier;
    return sbert_evaluator_set_run(set, &enc, res);
}

/* One entry of the run's log_history (trainer_state.json), as the Hugging
 * Face Trainer keeps it; full precision. */
static cJSON *history_entry(sbert_trainer *t, double epoch) {
    cJSON *e = cJSON_CreateObject();
    if (!e) return NULL;
    if (!t->history) t->history = cJSON_CreateArray();
    if (!t->history) {
        cJSON_Delete(e);
        return NULL;
    }
    cJSON_AddItemToArray(t->history, e);
    cJSON_AddNumberToObject(e, "epoch", epoch);
    cJSON_AddNumberToObject(e, "step", (double)t->global_step);
    return e;
}

static void log_metrics(sbert_trainer *t, const char *prefix, const sbert_eval_result *res, double epoch) {
    cJSON *e = history_entry(t, epoch);
    sbert_log(t->log, "{");
    for (size_t i = 0; i < res->n; i++) {
        sbert_log(t->log, "'%s_%s': %.6f, ", prefix, res->m[i].key, res->m[i].value);
        char key[160];
        snprintf(key, sizeof key, "%s_%s", prefix, res->m[i].key);
        if (e) cJSON_AddNumberToObject(e, key, res->m[i].value);
    }
    sbert_log(t->log, "'epoch': %.4f}\n", epoch);
    sbert_report_entry(t, e);
}

static double metric_of(const sbert_trainer *t, const sbert_eval_result *res) {
    const char *k = t->metric_key;
    if (strncmp(k, "eval_", 5) == 0) k += 5;
    return sbert_eval_get(res, k);
}

/* Evaluate during training; track the best model; *stop for early stopping. */
static sbert_status eval_and_track(sbert_trainer *t, int *stop) {
    sbert_eval_result res;
    char losses[2048];
    SBERT_TRY(sbert_train_eval_losses(t, losses, sizeof losses));
    if (*losses) sbert_log(t->log, "{%s'epoch': %.4f}\n", losses, t->epoch_f);
    SBERT_TRY(run_evals(t, t->evals, &res));
    log_metrics(t, "eval", &res, t->epoch_f);
    const sbert_train_args *a = t->a;
    double v = metric_of(t, &res);
    int better = !t->has_best || (a->greater_is_better ? v > t->best_metric + a->early_stopping_threshold
                                                        : v < t->best_metric - a->early_stopping_threshold);
    int improved = !t->has_best || (a->greater_is_better ? v > t->best_metric : v < t->best_metric);
    if (improved) {
        t->best_metric = v;
        t->best_step = t->global_step;
        t->has_best = 1;
        if (a->load_best || !strcmp(a->save_strategy, "best")) {
            char dir[4200];
            snprintf(dir, sizeof dir, "%s/best-model", t->output_dir);
            sbert_status st = sbert_checkpoint_publish_model(t, dir, 0);
            if (st != SBERT_OK) {
                sbert_error_prefix("best model at step %lld not written (previous checkpoints are intact): ",
                                   (long long)t->global_step);
                return st;
            }
        }
        if (!strcmp(a->save_strategy, "best")) SBERT_TRY(sbert_checkpoint_save(t));
    }
    if (better) t->bad_evals = 0;
    else t->bad_evals++;
    if (a->early_stopping_patience > 0 && t->bad_evals >= a->early_stopping_patience) {
        sbert_log(t->log, "Early stopping: %s did not improve by more than %g for %lld evaluations\n", t->metric_key,
                  a->early_stopping_threshold, (long long)t->bad_evals);
        *stop = 1;
    }
    return SBERT_OK;
}

/* ------------------------------------------------------------------ data */

static int64_t steps_from(double v, int64_t total) {
    if (v <= 0) return 0;
    if (v < 1) return (int64_t)ceil((double)total * v);
    return (int64_t)v;
}

static sbert_status load_data(sbert_trainer *t) {
    const sbert_train_args *a = t->a;
    /* the training datasets, their losses, prompts and eval_dataset (train_sets.c) */
    SBERT_TRY(sbert_train_sets_load(t));

    /* Evaluation: max_eval_samples (50 under SMOKE_TEST) keeps the first pairs
     * of pair data and the first queries of IR data (whole corpus). */
    size_t max_eval = a->max_eval_samples > 0 ? (size_t)a->max_eval_samples : 0;
    if (a->smoke && (max_eval == 0 || max_eval > (size_t)a->smoke_eval_samples)) max_eval = (size_t)a->smoke_eval_samples;
    sbert_status st =
        sbert_evaluator_set_load_kind(a->kind, a->evaluator, a->eval_data, a->evaluator_name, max_eval, &t->evals);
    if (st == SBERT_OK && a->main_score_function) {
        st = sbert_evaluator_set_main_score(t->evals, a->main_score_function);
        if (st != SBERT_OK) {
            sbert_error_prefix("%s: ", sbert_recipe_origin(t->recipe, "main_score_function"));
            return st;
        }
    }
    if (st != SBERT_OK) {
        const char *key = sbert_recipe_get(t->recipe, "evaluator") ? "evaluator" : "eval_data";
        sbert_error_prefix("%s (%s): ", sbert_recipe_origin(t->recipe, key), key);
        return st;
    }
    if (a->test_data) {
        st = sbert_evaluator_set_load_kind(a->kind, a->test_evaluator ? a->test_evaluator : a->evaluator, a->test_data,
                                           a->evaluator_name, a->smoke ? (size_t)a->smoke_eval_samples : 0, &t->tests);
        if (st != SBERT_OK) sbert_error_prefix("%s (test_data): ", sbert_recipe_origin(t->recipe, "test_data"));
    }
    return st;
}

/* ------------------------------------------------------------------ model */

static sbert_status load_model(sbert_trainer *t) {
    const sbert_train_args *a = t->a;
    int is_static = !strcasecmp(a->model, "static") || !strcasecmp(a->model, "StaticEmbedding");
    if (is_static && sbert_model_kind_parse(a->model_type) != SBERT_KIND_SENTENCE_TRANSFORMER)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: model: static builds a SentenceTransformer, not a %s",
                          sbert_recipe_origin(t->recipe, "model"), a->model_type);
    if (is_static && a->warmstart) {
        if (a->tokenizer)
            return sbert_fail(SBERT_ERR_INVALID_ARG,
                              "%s: with warmstart the tokenizer comes from the warm start ('%s'); remove 'tokenizer'",
                              sbert_recipe_origin(t->recipe, "tokenizer"), a->warmstart);
        SBERT_TRY(sbert_static_warmstart(a->warmstart, (size_t)a->embedding_dim,
                                         sbert_recipe_get(t->recipe, "embedding_dim") != NULL, NULL, NULL, &t->model,
                                         t->model_desc, sizeof t->model_desc));
    } else if (is_static) {
        if (!a->tokenizer)
            return sbert_fail(SBERT_ERR_INVALID_ARG,
                              "recipe: model 'static' needs 'tokenizer' (a tokenizer.json file) and 'embedding_dim'");
        SBERT_TRY(sbert_model_new_static(a->tokenizer, (size_t)a->embedding_dim, (uint64_t)a->seed, &t->model));
        snprintf(t->model_desc, sizeof t->model_desc, "StaticEmbedding (random init, dim %lld) over %s",
                 (long long)a->embedding_dim, a->tokenizer);
    } else {
        static const char *const only_static[] = {"tokenizer", "embedding_dim", "warmstart"};
        for (int i = 0; i < 3; i++)
            if (sbert_recipe_get(t->recipe, only_static[i]))
                return sbert_fail(SBERT_ERR_INVALID_ARG,
                                  "%s: '%s' only applies to model: static (a new StaticEmbedding); '%s' brings its "
                                  "own",
                                  sbert_recipe_origin(t->recipe, only_static[i]), only_static[i], a->model);
        if (!sbert_dir_exists(a->model) && !sbert_hf_is_model_id(a->model))
            return sbert_fail(SBERT_ERR_IO,
                              "model '%s': no such directory (give a sentence-transformers or Hugging Face model "
                              "directory, a model id in the Hugging Face cache, or model: static)",
                              a->model);
        if (a->revision && sbert_dir_exists(a->model))
            return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: revision applies to a model id; '%s' is a local directory",
                              sbert_recipe_origin(t->recipe, "revision"), a->model);
        if (a->kind == SBERT_KIND_CROSS_ENCODER) {
            sbert_cross_encoder_options o = sbert_cross_encoder_options_default();
            o.num_labels = (size_t)a->num_labels;
            o.seed = (uint64_t)a->seed;
            o.activation_fn = a->activation_fn;
            o.revision = a->revision;
            sbert_status st = sbert_cross_encoder_load(a->model, &o, &t->model);
            if (st != SBERT_OK && a->activation_fn && strstr(sbert_last_error(), "activation_fn '"))
                sbert_error_prefix("%s: ", sbert_recipe_origin(t->recipe, "activation_fn"));
            SBERT_TRY(st);
            snprintf(t->model_desc, sizeof t->model_desc, "%s as a CrossEncoder (num_labels %zu, activation_fn %s)",
                     a->model, sbert_cross_encoder_num_labels(t->model), sbert_cross_encoder_activation_fn(t->model));
        } else {
            sbert_load_options lo = {0, a->revision};
            SBERT_TRY(sbert_model_load_kind(a->model, (sbert_model_kind)a->kind, &lo, &t->model));
            snprintf(t->model_desc, sizeof t->model_desc, "%s", a->model);
        }
    }
    SBERT_TRY(sbert_train_student_layers(t)); /* layers_to_keep */
    SBERT_TRY(sbert_train_model_dtype(t));    /* model_kwargs torch_dtype */
    /* SparseCoSENTLoss & co. set the model's similarity to cosine when built. */
    if (a->inner_loss_def && a->inner_loss_def->model_similarity)
        snprintf(t->model->sim_name, sizeof t->model->sim_name, "%s", a->inner_loss_def->model_similarity);
    if (a->max_seq_length > 0) {
        sbert_status st = sbert_model_set_max_seq_length(t->model, (size_t)a->max_seq_length);
        if (st != SBERT_OK) {
            sbert_error_prefix("%s: ", sbert_recipe_origin(t->recipe, "max_seq_length"));
            return st;
        }
    }
    if (a->lora_r > 0) {
        sbert_lora_config lc = sbert_lora_config_default();
        lc.r = (size_t)a->lora_r;
        lc.alpha = a->lora_alpha;
        lc.dropout = a->lora_dropout;
        lc.use_rslora = a->lora_use_rslora;
        lc.target_modules = a->lora_target_modules;
        lc.modules_to_save = a->lora_modules_to_save;
        lc.seed = (uint64_t)a->seed;
        sbert_status st = sbert_transformer_module_add_lora(sbert_model_input(t->model), &lc);
        if (st != SBERT_OK) {
            sbert_error_prefix("%s: ", sbert_recipe_origin(t->recipe, "lora_r"));
            return st;
        }
        size_t len = strlen(t->model_desc);
        snprintf(t->model_desc + len, sizeof t->model_desc - len, " + LoRA (r %lld, alpha %g, %zu modules)",
                 (long long)a->lora_r, a->lora_alpha, sbert_lora_n_modules(sbert_transformer_module_lora(sbert_model_input(t->model))));
    } else {
        static const char *const lora_keys[] = {"lora_target_modules", "lora_modules_to_save", "lora_merge"};
        for (int i = 0; i < 3; i++)
            if (sbert_recipe_get(t->recipe, lora_keys[i]))
                return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: '%s' needs lora_r > 0 (LoRA adapters)",
                                  sbert_recipe_origin(t->recipe, lora_keys[i]), lora_keys[i]);
    }
    SBERT_TRY(sbert_train_teacher_student(t));
    if (a->bf16) {
        /* HF autocast: bf16 products in the linear layers, fp32 everything else */
        if (a->lora_r > 0)
            return sbert_fail(SBERT_ERR_UNSUPPORTED, "%s: bf16: true with LoRA is not implemented (the adapters "
                              "would stay fp32): train LoRA with bf16: false", sbert_recipe_origin(t->recipe, "bf16"));
        const char *used = NULL;
        sbert_status st = sbert_model_set_precision(t->model, "bf16", &used);
        if (st != SBERT_OK) {
            sbert_error_prefix("%s: ", sbert_recipe_origin(t->recipe, "bf16"));
            return st;
        }
        size_t len = strlen(t->model_desc);
        if (!strcmp(used, "bf16")) {
            snprintf(t->model_desc + len, sizeof t->model_desc - len, ", bf16 linear layers (%s)", sbert_bf16_cpu());
        } else {
            const char *why = sbert_bf16_unavailable_reason();
            snprintf(t->model_desc + len, sizeof t->model_desc - len, ", fp32");
            sbert_log(t->log, "Note: bf16: true runs in fp32 here: %s\n", why ? why : "bf16 is unavailable");
        }
    }
    SBERT_TRY(sbert_model_params(t->model, &t->params));
    SBERT_TRY(sbert_optimizer_init(&t->opt, t->params));
    sbert_rng_seed(&t->dropout_rng, (uint64_t)a->seed);
    return SBERT_OK;
}

/* ------------------------------------------------------------------ loop */

/* A progress bar on a terminal (stderr), redrawn after every step and wiped
 * before a log line; nothing at all when stderr is not a terminal. */
typedef struct {
    int on, drawn;
} progress;

static void progress_clear(progress *p) {
    if (p->on && p->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        p->drawn = 0;
    }
}

static void progress_draw(progress *p, int64_t step, int64_t total, double loss, double secs, double samples) {
    if (!p->on) return;
    const int width = 24;
    int fill = total > 0 ? (int)((double)width * (double)step / (double)total) : 0;
    char bar[32];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '=' : (i == fill ? '>' : ' ');
    bar[width] = '\0';
    double eta = step > 0 ? secs * (double)(total - step) / (double)step : 0;
    fprintf(stderr, "\r\033[K[%s] %lld/%lld steps  loss %.4f  %.0f samples/s  ETA %02d:%02d", bar, (long long)step,
            (long long)total, loss, secs > 0 ? samples / secs : 0.0, (int)(eta / 60), (int)eta % 60);
    fflush(stderr);
    p->drawn = 1;
}

static double seconds_since(const struct timespec *t0) {
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0->tv_nsec);
}

static sbert_status train_loop(sbert_trainer *t) {
    const sbert_train_args *a = t->a;
    double log_loss = 0, log_norm = 0, lr = 0;
    int64_t log_n = 0, samples = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int stop = 0;
    int eval_steps = !strcmp(a->eval_strategy, "steps"), save_steps = !strcmp(a->save_strategy, "steps");
    progress bar = {isatty(STDERR_FILENO), 0};
    for (; !stop && t->global_step < t->total_steps; t->epoch++, t->next_batch = 0) {
        sbert_epoch_plan plan;
        SBERT_TRY(sbert_train_epoch_plan(t, (uint64_t)t->epoch, &plan));
        sbert_batches batches = plan.b;
        sbert_status st = SBERT_OK;
        int64_t micro = 0;
        double step_loss = 0;
        size_t window = (size_t)a->accum; /* micro-batches in the current accumulation window */
        for (size_t b = (size_t)t->next_batch; b < batches.n_batches && t->global_step < t->total_steps; b++) {
            size_t nb = batches.offsets[b + 1] - batches.offsets[b];
            double loss = 0;
            /* As transformers 5: the last window of an epoch may hold fewer than
             * gradient_accumulation_steps batches, and its loss (and gradient)
             * is the mean over the batches it has. */
            if (micro % a->accum == 0) {
                size_t left = batches.n_batches - b;
                window = left < (size_t)a->accum ? left : (size_t)a->accum;
            }
            t->cur_set = plan.set[b];
            st = sbert_trainer_micro_step(t, batches.idx + batches.offsets[b], nb, 1.0 / (double)window, &loss);
            if (st != SBERT_OK) break;
            if (!isfinite(loss)) {
                st = sbert_fail(SBERT_ERR_INTERNAL,
                                "loss became %g at step %lld (epoch %lld, batch %zu): training stopped; the last "
                                "checkpoint in %s is intact (try a lower learning_rate)",
                                loss, (long long)t->global_step + 1, (long long)t->epoch, b, t->output_dir);
                break;
            }
            step_loss += loss / (double)window;
            samples += (int64_t)nb;
            micro++;
            if (micro % a->accum != 0 && b + 1 < batches.n_batches) continue;
            lr = a->learning_rate * sbert_lr_lambda(t->sched, t->global_step, t->warmup, t->total_steps);
            double norm = sbert_train_optimizer_step(t, lr);
            t->global_step++;
            t->next_batch = (int64_t)b + 1;
            log_loss += step_loss;
            log_norm = norm; /* the Hugging Face Trainer logs the last step's norm */
            log_n++;
            step_loss = 0;
            t->epoch_f = (double)t->epoch + (double)(b + 1) / (double)batches.n_batches;
            progress_clear(&bar);
            if ((t->log_every > 0 && t->global_step % t->log_every == 0) ||
                (a->logging_first_step && t->global_step == 1)) {
                double secs = seconds_since(&t0);
                cJSON *e = history_entry(t, t->epoch_f);
                if (e) {
                    cJSON_AddNumberToObject(e, "loss", log_loss / (double)log_n);
                    cJSON_AddNumberToObject(e, "grad_norm", log_norm);
                    cJSON_AddNumberToObject(e, "learning_rate", lr);
                    sbert_report_entry(t, e);
                }
                sbert_log(t->log,
                          "{'loss': %.8g, 'grad_norm': %.6g, 'learning_rate': %.8g, 'samples_per_second': %.1f, "
                          "'epoch': %.4f, 'step': %lld}\n",
                          log_loss / (double)log_n, log_norm, lr,
                          secs > 0 ? (double)samples / secs : 0.0, t->epoch_f, (long long)t->global_step);
                log_loss = log_norm = 0;
                log_n = 0;
            }
            /* As the Hugging Face Trainer: every eval_steps / save_steps, the last step included. */
            if (eval_steps && t->eval_every > 0 && t->global_step % t->eval_every == 0)
                if ((st = eval_and_track(t, &stop)) != SBERT_OK) break;
            if (save_steps && t->save_every > 0 && t->global_step % t->save_every == 0)
                if ((st = sbert_checkpoint_save(t)) != SBERT_OK) break;
            progress_draw(&bar, t->global_step, t->total_steps, loss, seconds_since(&t0), (double)samples);
            if (stop) break;
            /* Test hook: die here as a SIGKILL would, to prove resume is exact. */
            if (a->kill_at_step > 0 && t->global_step == a->kill_at_step) raise(SIGKILL);
        }
        progress_clear(&bar);
        int epoch_done = st == SBERT_OK && !stop && t->next_batch >= (int64_t)batches.n_batches;
        sbert_epoch_plan_free(&plan);
        SBERT_TRY(st);
        if (epoch_done && !strcmp(a->eval_strategy, "epoch")) SBERT_TRY(eval_and_track(t, &stop));
        if (epoch_done && !strcmp(a->save_strategy, "epoch")) SBERT_TRY(sbert_checkpoint_save(t));
    }
    double secs = seconds_since(&t0);
    t->train_seconds = secs;
    sbert_log(t->log, "{'train_runtime': %.2f, 'train_samples_per_second': %.1f, 'train_steps': %lld}\n", secs,
              secs > 0 ? (double)samples / secs : 0.0, (long long)t->global_step);
    return SBERT_OK;
}

/* ------------------------------------------------------------------ run */

static sbert_status schedule(sbert_trainer *t) {
    const sbert_train_args *a = t->a;
    SBERT_TRY(sbert_sampler_parse(a->batch_sampler, &t->sampler));
    SBERT_TRY(sbert_lr_scheduler_parse(a->lr_scheduler_type, &t->sched));
    size_t n_batches = sbert_train_batches_per_epoch(t);
    if (n_batches == 0)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: no batch in an epoch (dataloader_drop_last with fewer rows than "
                                                 "a batch?)",
                          a->train_data);
    t->steps_per_epoch = (int64_t)((n_batches + (size_t)a->accum - 1) / (size_t)a->accum);
    double total = a->max_steps > 0 ? (double)a->max_steps : ceil(a->num_train_epochs * (double)t->steps_per_epoch);
    if (total > 1e12)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: num_train_epochs %g gives %.3g steps; that is not a run",
                          sbert_recipe_origin(t->recipe, "num_train_epochs"), a->num_train_epochs, total);
    t->total_steps = (int64_t)total;
    if (a->smoke) t->total_steps = 1;
    if (t->total_steps < 1)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "no training steps: set num_train_epochs or max_steps");
    t->warmup = sbert_warmup_steps(a->warmup_steps, t->total_steps);
    t->log_every = steps_from(a->logging_steps, t->total_steps);
    t->eval_every = steps_from(a->eval_steps > 0 ? a->eval_steps : a->logging_steps, t->total_steps);
    t->save_every = steps_from(a->save_steps, t->total_steps);
    if (a->load_best && !strcmp(a->eval_strategy, "no"))
        return sbert_fail(SBERT_ERR_INVALID_ARG, "load_best_model_at_end needs eval_strategy steps or epoch");
    if (!strcmp(a->save_strategy, "best") && !strcmp(a->eval_strategy, "no"))
        return sbert_fail(SBERT_ERR_INVALID_ARG, "save_strategy best needs eval_strategy steps or epoch");
    if (a->load_best && !strcmp(a->save_strategy, "steps") && !strcmp(a->eval_strategy, "steps") && t->eval_every > 0 &&
        t->save_every % t->eval_every != 0)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "load_best_model_at_end requires save_steps (%lld) to be a multiple of eval_steps (%lld)",
                          (long long)t->save_every, (long long)t->eval_every);
    t->adam = sbert_adamw_config_default();
    t->adam.beta1 = a->adam_beta1;
    t->adam.beta2 = a->adam_beta2;
    t->adam.eps = a->adam_epsilon;
    t->adam.weight_decay = a->weight_decay;
    return SBERT_OK;
}

static sbert_status pick_metric(sbert_trainer *t) {
    const sbert_train_args *a = t->a;
    if (!a->metric_for_best_model) {
        snprintf(t->metric_key, sizeof t->metric_key, "eval_%s", t->baseline_res.primary);
        return SBERT_OK;
    }
    const char *k = a->metric_for_best_model;
    snprintf(t->metric_key, sizeof t->metric_key, "%s%s", strncmp(k, "eval_", 5) ? "eval_" : "", k);
    if (!isnan(metric_of(t, &t->baseline_res))) return SBERT_OK;
    char avail[1024] = "";
    for (size_t i = 0; i < t->baseline_res.n; i++) {
        size_t l = strlen(avail);
        snprintf(avail + l, sizeof avail - l, "%seval_%s", i ? ", " : "", t->baseline_res.m[i].key);
    }
    return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: metric_for_best_model '%s' is not produced by %s (available: %s)",
                      sbert_recipe_origin(t->recipe, "metric_for_best_model"), k, a->evaluator, avail);
}

static sbert_status run(sbert_trainer *t, const char *log_dir, sbert_train_result *res) {
    const sbert_train_args *a = t->a;
    snprintf(t->output_dir, sizeof t->output_dir, "%s", a->output_dir ? a->output_dir : "");
    if (!a->output_dir && snprintf(t->output_dir, sizeof t->output_dir, "output/%s", a->run_name) >=
                              (int)sizeof t->output_dir)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "run_name is too long");
    sbert_log(t->log, "sbert %s train: run_name=%s model=%s loss=%s%s\n", sbert_version(), a->run_name, a->model,
              a->loss, a->smoke ? " (SMOKE_TEST: one step on a tiny slice)" : "");
    sbert_set_num_threads((int)a->num_threads); /* 0: all online cores */
    sbert_log(t->log, "Threads: %d\n", sbert_get_num_threads());
    SBERT_TRY(load_data(t));
    for (size_t i = 0; i < t->n_sets; i++) {
        const sbert_train_set *s = &t->sets[i];
        char lname[300];
        sbert_log(t->log, "Train data%s%s: %s (%zu rows, %zu input columns%s%s), loss %s\n", s->name[0] ? " " : "",
                  s->name, s->path, s->ds->n_rows, s->n_inputs, s->label_col >= 0 ? " + label" : "",
                  s->label_width > 1 ? " list" : "", sbert_loss_spec_name(&a->losses[s->loss], lname, sizeof lname));
        if (s->eval_ds)
            sbert_log(t->log, "Eval loss data%s%s: %s (%zu rows)\n", s->name[0] ? " " : "", s->name,
                      s->eval_ds->path, s->eval_ds->n_rows);
    }
    {
        char what[512];
        sbert_evaluator_set_summary(t->evals, what, sizeof what);
        sbert_log(t->log, "Eval data: %s (%s)\n", a->eval_data, what);
    }
    SBERT_TRY(load_model(t));
    sbert_log(t->log, "Model: %s (", t->model_desc);
    for (size_t i = 0; i < t->model->n_mods; i++)
        sbert_log(t->log, "%s%s", i ? " -> " : "", t->model->mods[i]->ops->class_name);
    sbert_log(t->log, "), %zu parameters, %zu trainable (%.4f%%)\n", sbert_params_numel(t->params),
              sbert_params_trainable_numel(t->params),
              100.0 * (double)sbert_params_trainable_numel(t->params) / (double)(sbert_params_numel(t->params) ? sbert_params_numel(t->params) : 1));
    SBERT_TRY(sbert_train_sets_prepare(t));
    sbert_train_teacher_free(t); /* its labels are in the data now */
    if (a->kind == SBERT_KIND_CROSS_ENCODER) {
        /* Pairs are tokenized per batch (which pairs a row makes depends on the loss). */
        sbert_ce_train_config cc = {a->loss_def, &a->loss_values, (size_t)a->batch_size, a->allow_activation_mismatch,
                                    sbert_recipe_origin(t->recipe, "loss")};
        SBERT_TRY(sbert_ce_train_prepare(t->model, t->train, &cc, &t->cross));
        if (*sbert_ce_train_note(t->cross)) sbert_log(t->log, "Loss: %s\n", sbert_ce_train_note(t->cross));
    }
    SBERT_TRY(schedule(t));
    sbert_log(t->log, "Steps: %lld (%lld per epoch, batch %lld x %lld accumulation), warmup %lld, scheduler %s, lr %g\n",
              (long long)t->total_steps, (long long)t->steps_per_epoch, (long long)a->batch_size, (long long)a->accum,
              (long long)t->warmup, a->lr_scheduler_type, a->learning_rate);

    SBERT_TRY(sbert_mkdir_p(t->output_dir));
    SBERT_TRY(sbert_checkpoint_lock(t));
    sbert_checkpoint_cleanup(t);
    SBERT_TRY(sbert_report_open(t));

    /* Baseline, and the metric checked before any step. */
    sbert_log(t->log, "Evaluating the base model (baseline)...\n");
    SBERT_TRY(run_evals(t, t->evals, &t->baseline_res));
    log_metrics(t, "eval", &t->baseline_res, 0.0);
    SBERT_TRY(pick_metric(t));
    double baseline = metric_of(t, &t->baseline_res);
    sbert_log(t->log, "Baseline %s = %.4f\n", t->metric_key, baseline);

    if (a->resume && strcasecmp(a->resume, "false") != 0) {
        char dir[4200];
        if (!strcasecmp(a->resume, "true") || !strcasecmp(a->resume, "latest"))
            SBERT_TRY(sbert_checkpoint_find_latest(t->output_dir, dir, sizeof dir));
        else
            snprintf(dir, sizeof dir, "%s", a->resume);
        SBERT_TRY(sbert_checkpoint_load(t, dir));
    }

    SBERT_TRY(train_loop(t));

    if (a->load_best && t->has_best) {
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/best-model", t->output_dir);
        SBERT_TRY(sbert_model_load_weights(t->model, dir));
        sbert_log(t->log, "Loaded the best model (step %lld, %s = %.4f)\n", (long long)t->best_step, t->metric_key,
                  t->best_metric);
    }
    sbert_log(t->log, "Evaluating the trained model...\n");
    SBERT_TRY(run_evals(t, t->evals, &t->final_res));
    log_metrics(t, "eval", &t->final_res, t->epoch_f);
    double score = metric_of(t, &t->final_res);
    if (t->tests) {
        SBERT_TRY(run_evals(t, t->tests, &t->test_res));
        t->has_test = 1;
        log_metrics(t, "test", &t->test_res, t->epoch_f);
    }

    char final_dir[4096];
    if (snprintf(final_dir, sizeof final_dir, "%s/%s", t->output_dir, a->smoke ? "final-smoke" : "final") >=
        (int)sizeof final_dir)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "output_dir is too long");
    SBERT_TRY(sbert_checkpoint_publish_model(t, final_dir, 1));
    SBERT_TRY(sbert_checkpoint_write_state(t, final_dir));
    if (a->save_in_bf16) SBERT_TRY(sbert_model_dir_to_bf16(final_dir));
    sbert_log(t->log, "Saved the model to %s%s\n", final_dir, a->save_in_bf16 ? " (weights in bf16)" : "");
    if (a->lora_merge && a->lora_r > 0) {
        /* the adapter folded into the weights: a plain model for servers without PEFT */
        char merged[4200];
        snprintf(merged, sizeof merged, "%s/%s", t->output_dir, a->smoke ? "final-merged-smoke" : "final-merged");
        SBERT_TRY(sbert_transformer_module_merge_lora(sbert_model_input(t->model)));
        SBERT_TRY(sbert_checkpoint_publish_model(t, merged, 1));
        sbert_log(t->log, "Saved the merged model (base + adapter) to %s\n", merged);
    }
    const char *verdict = sbert_verdict(score - baseline);
    sbert_experiment_row row = {a->run_name, a->model, a->loss, verdict, t->global_step, baseline, score, a->smoke};
    sbert_experiments_append(t->log, log_dir, &row);
    if (a->push_to_hub)
        sbert_log(t->log,
                  "Hub push: skipped, not fatal: this build has no Hub client (no network access); the model stays "
                  "at %s%s%s%s\n",
                  final_dir, a->hub_model_id ? " (target: " : "", a->hub_model_id ? a->hub_model_id : "",
                  a->hub_model_id ? (a->hub_private_repo ? ", private)" : ")") : "");
    else
        sbert_log(t->log, "Hub push: skipped (push_to_hub is false)\n");
    {
        char logp[4200];
        snprintf(logp, sizeof logp, "%s/%s.log", log_dir, a->run_name);
        if (t->model->kind == SBERT_KIND_CROSS_ENCODER)
            sbert_log(t->log, "Model: %s   Log: %s\nTry it: sbert predict --model %s --input pairs.jsonl\n", final_dir,
                      logp, final_dir);
        else
            sbert_log(t->log,
                      "Model: %s   Log: %s\nTry it: sbert encode --model %s --input - --output - <<< \"A first "
                      "sentence.\"\n",
                      final_dir, logp, final_dir);
    }
    res->baseline = baseline;
    res->score = score;
    res->delta = score - baseline;
    res->verdict = verdict;
    res->steps = t->global_step;
    snprintf(res->final_dir, sizeof res->final_dir, "%s", final_dir);
    /* SparseEncoder: the active dims of the final evaluation (the skill's
     * "| query_active=<v> corpus_active=<v>", picked by key suffix). */
    char active[160] = "";
    if (t->model->kind == SBERT_KIND_SPARSE_ENCODER) sbert_eval_active_dims_suffix(&t->final_res, active, sizeof active);
    sbert_log(t->log, "VERDICT: %s | score=%.4f | baseline=%.4f | delta=%+.4f%s\n", verdict, score, baseline,
              score - baseline, active);
    return SBERT_OK;
}

static void trainer_free(sbert_trainer *t) {
    sbert_train_sets_free(t);
    sbert_train_teacher_free(t);
    sbert_packed_free(&t->batch);
    sbert_ce_train_free(t->cross);
    sbert_optimizer_free(&t->opt);
    sbert_model_free(t->model);
    sbert_evaluator_set_free(t->evals);
    sbert_evaluator_set_free(t->tests);
    cJSON_Delete(t->history);
    sbert_report_close(t);
    sbert_checkpoint_unlock(t);
}

sbert_status sbert_train_run(const sbert_recipe *r, const sbert_train_options *opt, sbert_train_result *res) {
    memset(res, 0, sizeof *res);
    sbert_train_args a;
    memset(&a, 0, sizeof a);
    a.smoke = opt && opt->smoke;
    a.kill_at_step = opt ? opt->kill_at_step : 0;
    SBERT_TRY(sbert_train_args_read(r, &a));
    const char *log_dir = opt && opt->log_dir ? opt->log_dir : "logs";
    sbert_run_log log;
    SBERT_TRY(sbert_run_log_open(&log, log_dir, a.run_name));
    sbert_trainer *t = calloc(1, sizeof *t);
    if (!t) {
        sbert_run_log_close(&log);
        return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    }
    t->a = &a;
    t->recipe = r;
    t->log = &log;
    t->lock_fd = -1;
    sbert_status st = run(t, log_dir, res);
    /* The caller prints the error once; the log file keeps it too. */
    if (st != SBERT_OK) sbert_log_file(&log, "error: %s\n", sbert_last_error());
    trainer_free(t);
    free(t);
    sbert_run_log_close(&log);
    return st;
}
