/*
 * sbert.h -- the public interface of libsbert.
 *
 * sbert loads, runs (and, later, trains) sentence-transformers models in C.
 * Everything a program needs is declared here; the `sbert` command-line tool
 * is built on this header alone.
 *
 * Conventions
 *  - Opaque handles come in create/free pairs (sbert_model_load / sbert_model_free).
 *  - Every fallible call returns an sbert_status. On failure a human-readable
 *    message naming the file, row or key at fault is available from
 *    sbert_last_error() (per thread) until the next failing call.
 *  - The library never calls exit() and never prints unless asked to.
 *  - Shapes are written next to each array argument: [n, dim] is row-major.
 */
#ifndef SBERT_H
#define SBERT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SBERT_VERSION "0.1.0"

/* ---------------------------------------------------------------- status */

typedef enum {
    SBERT_OK = 0,
    SBERT_ERR_IO = 1,          /* a file is missing, unreadable or unwritable */
    SBERT_ERR_FORMAT = 2,      /* a file exists but its content is malformed */
    SBERT_ERR_INVALID_ARG = 3, /* a caller passed a bad value */
    SBERT_ERR_NOMEM = 4,       /* an allocation failed */
    SBERT_ERR_UNSUPPORTED = 5, /* valid input that sbert does not handle (yet) */
    SBERT_ERR_INTERNAL = 6     /* a bug: please report it */
} sbert_status;

/* The message of the last failure on this thread ("" if none). */
const char *sbert_last_error(void);
/* A short name for a status code ("io error", "format error", ...). */
const char *sbert_status_name(sbert_status st);
/* The library version, e.g. "0.1.0". */
const char *sbert_version(void);

/* ------------------------------------------------------------- tokenizer */

typedef struct sbert_tokenizer sbert_tokenizer;

typedef enum {
    SBERT_TRUNCATE_LONGEST_FIRST = 0, /* HF "longest_first" / "LongestFirst" */
    SBERT_TRUNCATE_ONLY_FIRST = 1,
    SBERT_TRUNCATE_ONLY_SECOND = 2
} sbert_truncation_strategy;

typedef struct {
    int add_special_tokens;             /* 1: apply the post-processor (CLS/SEP...) */
    long max_length;                    /* >0: truncate to this many tokens (specials included);
                                           0: use the truncation in tokenizer.json, if any;
                                           <0: never truncate */
    sbert_truncation_strategy strategy; /* used when max_length > 0 */
} sbert_tokenize_options;

/* Defaults: add_special_tokens=1, max_length=0, LONGEST_FIRST. */
sbert_tokenize_options sbert_tokenize_options_default(void);

/* One encoded text or text pair; all arrays have `len` entries. */
typedef struct {
    int32_t *input_ids;
    int32_t *token_type_ids;
    int32_t *attention_mask;
    size_t len;
} sbert_encoding;

/* Load a Hugging Face tokenizer.json file. */
sbert_status sbert_tokenizer_load(const char *tokenizer_json_path, sbert_tokenizer **out);
/* Load from an in-memory tokenizer.json (`name` is used in error messages). */
sbert_status sbert_tokenizer_load_from_memory(const char *json, size_t json_len, const char *name,
                                              sbert_tokenizer **out);
void sbert_tokenizer_free(sbert_tokenizer *tok);

/* Encode `text` (UTF-8, `text_len` bytes) and, when `pair` is not NULL, the
 * pair text. Invalid UTF-8 gives SBERT_ERR_INVALID_ARG naming the byte offset.
 * `out` must be released with sbert_encoding_free. */
sbert_status sbert_tokenizer_encode(const sbert_tokenizer *tok, const char *text, size_t text_len,
                                    const char *pair, size_t pair_len,
                                    const sbert_tokenize_options *opt, sbert_encoding *out);
void sbert_encoding_free(sbert_encoding *enc);

/* Vocabulary size including added tokens; id of a token string or -1. */
size_t sbert_tokenizer_vocab_size(const sbert_tokenizer *tok);
int32_t sbert_tokenizer_token_to_id(const sbert_tokenizer *tok, const char *token);

/* ----------------------------------------------------------------- model */

/* A SentenceTransformer: tokenizer + module pipeline (Transformer, Pooling,
 * Dense, Normalize), loaded from a sentence-transformers directory or a plain
 * Hugging Face model directory (Transformer + mean Pooling). */
typedef struct sbert_model sbert_model;

typedef struct {
    int num_threads;      /* 0: all cores */
    const char *revision; /* for a model id: the branch, tag or commit in the
                             Hugging Face cache (NULL: "main") */
} sbert_load_options;

/* `dir` is a model directory, or a Hugging Face model id ("org/name") found
 * in the local Hugging Face cache ($HF_HUB_CACHE, else $HF_HOME/hub, else
 * ~/.cache/huggingface/hub; sbert never downloads). A local directory of
 * that name wins. */
sbert_status sbert_model_load(const char *dir, const sbert_load_options *opt, sbert_model **out);
void sbert_model_free(sbert_model *model);

/* Compute precision of a loaded model (any kind): "fp32" (the default) or
 * "bf16" ("bfloat16"): the transformer encoder's linear layers multiply in
 * bf16 with fp32 accumulation, as torch's autocast runs nn.Linear; weights
 * are rounded to bf16 once, here; everything else stays fp32 (README,
 * "Precision"). bf16 needs the oneDNN build and a CPU with AVX512-BF16 or
 * AMX-BF16: elsewhere the model stays fp32 and *used (may be NULL) is
 * "fp32" -- sbert_bf16_unavailable_reason() says why. A model without a
 * transformer encoder (StaticEmbedding) refuses bf16 (SBERT_ERR_UNSUPPORTED);
 * another name is SBERT_ERR_INVALID_ARG. */
sbert_status sbert_model_set_precision(sbert_model *model, const char *precision, const char **used);
/* NULL when bf16 products run on this machine, else why not (one sentence). */
const char *sbert_bf16_unavailable_reason(void);
/* The CPU's bf16 instructions: "AMX-BF16", "AVX512-BF16" or "none". */
const char *sbert_bf16_cpu(void);

/* Save a loaded model (any kind) into `dir` in the layout Python reads,
 * with its weights in `dtype`: "fp32" (NULL) or "bf16" -- every F32 tensor
 * written as BF16 (round to nearest even) and config.json saying
 * "torch_dtype": "bfloat16", as a model saved by torch in bf16; Python's
 * sentence-transformers loads it (in bf16) and sbert loads it (into fp32).
 * The directory appears complete or not at all. */
sbert_status sbert_model_save_dtype(const sbert_model *model, const char *dir, const char *dtype);
/* Rewrite an already saved model directory's weights in bf16, in place
 * (each file atomically): what sbert_model_save_dtype(..., "bf16") does
 * after saving. */
sbert_status sbert_model_dir_to_bf16(const char *dir);

/* Layer pruning of a SentenceTransformer's transformer encoder (the skill's
 * "copy the teacher, keep layers 0, 3, 6 and 9, then distil";
 * sentence-transformers' model_distillation_layer_reduction.py): keep only
 * the encoder layers layers[0..n) -- strictly increasing indices below
 * sbert_model_num_layers -- renumbered 0..n-1. A save then writes
 * config.json with num_hidden_layers = n (DistilBERT: n_layers) and only the
 * kept layers' tensors, a folder sentence-transformers loads as its own
 * pruned copy. An empty, unsorted, repeating or out-of-range list is
 * SBERT_ERR_INVALID_ARG naming the index; a model without a Transformer
 * first module, a CrossEncoder, a SparseEncoder or an encoder with a LoRA
 * adapter SBERT_ERR_UNSUPPORTED. Call it before training starts. */
sbert_status sbert_model_keep_layers(sbert_model *model, const size_t *layers, size_t n);
/* Layers of the model's transformer encoder; 0 when it has none. */
size_t sbert_model_num_layers(const sbert_model *model);

/* Output dimension of encode() (after the model's truncate_dim, if any). */
size_t sbert_model_dim(const sbert_model *model);
/* Tokens per text after truncation; 0 means no limit (StaticEmbedding). */
size_t sbert_model_max_seq_length(const sbert_model *model);
/* "cosine", "dot", "euclidean" or "manhattan". */
const char *sbert_model_similarity_fn_name(const sbert_model *model);
/* The model's tokenizer (owned by the model). */
const sbert_tokenizer *sbert_model_tokenizer(const sbert_model *model);
/* The prompt stored under `name` in config_sentence_transformers.json, or NULL. */
const char *sbert_model_prompt(const sbert_model *model, const char *name);
/* default_prompt_name, or NULL. */
const char *sbert_model_default_prompt_name(const sbert_model *model);

typedef void (*sbert_progress_fn)(size_t done, size_t total, void *user);

typedef struct {
    size_t batch_size;       /* 0: 32, as sentence-transformers */
    int normalize;           /* 1: L2-normalize the output (normalize_embeddings=True) */
    const char *prompt_name; /* a key of the model's prompts, or NULL */
    const char *prompt;      /* a literal prompt (wins over prompt_name), or NULL */
    size_t truncate_dim;     /* 0: the model's own truncate_dim (or none) */
    sbert_progress_fn progress;
    void *progress_user;
    const char *task;        /* "query" / "document" (a Router's route, as encode_query /
                                encode_document pass it), or NULL */
    size_t max_active_dims;  /* SparseEncoder: keep the k largest values per vector
                                (0: the model's own max_active_dims, or all) */
} sbert_encode_options;

sbert_encode_options sbert_encode_options_default(void);

/* Encode n texts. `out` is [n, dim] with dim = the output dimension for these
 * options (sbert_model_encode_dim). */
sbert_status sbert_model_encode(sbert_model *model, const char *const *texts, size_t n,
                                const sbert_encode_options *opt, float *out);
size_t sbert_model_encode_dim(const sbert_model *model, const sbert_encode_options *opt);

/* Similarity matrix out [na, nb] between a [na, dim] and b [nb, dim] with the
 * named function ("cosine", "dot", "euclidean" = -L2 distance,
 * "manhattan" = -L1 distance), as model.similarity does. */
sbert_status sbert_similarity(const char *fn_name, const float *a, size_t na, const float *b,
                              size_t nb, size_t dim, float *out);

/* ----------------------------------------------------------- CrossEncoder */

/* A CrossEncoder (reranker) scores a (query, passage) pair jointly: a
 * transformer over the pair and a classification head (num_labels scores).
 * It is an sbert_model of another kind: load it with
 * sbert_cross_encoder_load, free it with sbert_model_free. Directories read:
 * what CrossEncoder.save writes in sentence-transformers v5.4+/v6
 * (modules.json + config_sentence_transformers.json "activation_fn"), a
 * plain Hugging Face *ForSequenceClassification folder (with or without the
 * config.json "sentence_transformers" block of v4-v5.3, or the pre-v4
 * "sbert_ce_default_activation_function"), and any encoder directory
 * (BERT, RoBERTa, XLM-R, DistilBERT, MPNet; a SentenceTransformer folder is
 * converted as Python converts it): the head is then new, initialised as
 * transformers does (N(0, initializer_range^2) weights, zero biases) from
 * `seed`. */
typedef struct {
    int num_threads;           /* 0: all cores */
    size_t num_labels;         /* 0: the checkpoint's (1 for an encoder without a classification head) */
    uint64_t seed;             /* initialisation of a new head */
    const char *activation_fn; /* NULL: the saved one, else Sigmoid (num_labels 1) / Identity; or
                                  "Identity", "Sigmoid", "Tanh", "ReLU", "Softmax" or their torch paths */
    size_t max_length;         /* 0: the model's (tokenizer_config.json model_max_length) */
    const char *revision;      /* for a Hugging Face model id in the local cache (NULL: "main") */
} sbert_cross_encoder_options;

sbert_cross_encoder_options sbert_cross_encoder_options_default(void);
sbert_status sbert_cross_encoder_load(const char *dir, const sbert_cross_encoder_options *opt, sbert_model **out);
/* 1 for a model loaded by sbert_cross_encoder_load. */
int sbert_model_is_cross_encoder(const sbert_model *model);
size_t sbert_cross_encoder_num_labels(const sbert_model *model);
/* The activation predict applies, as a torch path ("torch.nn.modules.activation.Sigmoid"). */
const char *sbert_cross_encoder_activation_fn(const sbert_model *model);

typedef struct {
    size_t batch_size;         /* pairs per forward pass; 0: 32 */
    const char *activation_fn; /* NULL: the model's; or a name / torch path as above */
    int apply_softmax;         /* 1: softmax over the labels after the activation (num_labels > 1) */
    sbert_progress_fn progress;
    void *progress_user;
} sbert_predict_options;

sbert_predict_options sbert_predict_options_default(void);
/* CrossEncoder.predict: scores of n pairs (queries[i], docs[i]).
 * out: [n, num_labels] (num_labels 1: [n]). */
sbert_status sbert_cross_encoder_predict(sbert_model *model, const char *const *queries, const char *const *docs,
                                         size_t n, const sbert_predict_options *opt, float *out);

typedef struct {
    size_t corpus_id; /* index into docs */
    float score;
} sbert_rank_hit;

/* CrossEncoder.rank: the n documents scored against `query`, sorted by score
 * (highest first; ties keep document order). out: [n]; keep the first top_k.
 * Needs num_labels 1. */
sbert_status sbert_cross_encoder_rank(sbert_model *model, const char *query, const char *const *docs, size_t n,
                                      const sbert_predict_options *opt, sbert_rank_hit *out);

/* A file of text pairs for predict: .jsonl (one object per line, its first
 * two text fields in key order, or one ["query", "passage"] array per line),
 * .csv / .tsv with a header line (the first two text columns; a label/score
 * column is ignored). Errors name the file and line. */
typedef struct {
    const char *const *first;  /* [n] */
    const char *const *second; /* [n] */
    size_t n;
    void *priv;
} sbert_pair_file;

sbert_status sbert_pair_file_load(const char *path, sbert_pair_file *out);
void sbert_pair_file_free(sbert_pair_file *f);

/* Save a CrossEncoder into dir (created if missing) in the layout every
 * sentence-transformers version loads: the Hugging Face
 * *ForSequenceClassification files (config.json with id2label and the
 * "sentence_transformers": {"activation_fn"} block, model.safetensors with
 * the full names, the tokenizer files, tokenizer_config.json
 * model_max_length) plus the v6 modules.json, sentence_bert_config.json and
 * config_sentence_transformers.json. */
sbert_status sbert_cross_encoder_save(const sbert_model *model, const char *dir);
/* --------------------------------------------------------- SparseEncoder */

/* A SparseEncoder (SPLADE): a masked-language-model transformer whose
 * vocabulary logits are pooled into one weight per token of the vocabulary
 * (SpladePooling), or a Router with a query route (SparseStaticEmbedding,
 * IDF weights) and a document route. Loaded from a sentence-transformers
 * SparseEncoder directory or a plain Hugging Face *ForMaskedLM directory;
 * the same sbert_model handle: sbert_model_encode gives the dense
 * [n, vocab] rows (dot product is its similarity), sbert_sparse_encode the
 * non-zeros only. encode_query / encode_document are encode options
 * (sbert_encode_options_for_task). */
sbert_status sbert_sparse_encoder_load(const char *dir, const sbert_load_options *opt, sbert_model **out);
/* Load `dir` as the model_type its config_sentence_transformers.json names
 * (SentenceTransformer when it names none). */
sbert_status sbert_model_load_auto(const char *dir, const sbert_load_options *opt, sbert_model **out);
/* "SentenceTransformer", "CrossEncoder" or "SparseEncoder". */
const char *sbert_model_type(const sbert_model *model);

/* encode_query (task "query") / encode_document (task "document"): the
 * default options with the task set and the prompt SparseEncoder /
 * SentenceTransformer pick for it (the "query" prompt; for documents the
 * first of "document", "passage", "corpus" the model has). */
sbert_encode_options sbert_encode_options_for_task(const sbert_model *model, const char *task);

/* Sparse rows (CSR): row i holds indices[indptr[i] .. indptr[i+1]) (token
 * ids, ascending) with values[...] (non-zero). */
typedef struct {
    size_t n_rows, dim, nnz;
    size_t *indptr;   /* [n_rows + 1] */
    int32_t *indices; /* [nnz] */
    float *values;    /* [nnz] */
} sbert_sparse_rows;

/* Encode n texts into sparse rows (free with sbert_sparse_rows_free). */
sbert_status sbert_sparse_encode(sbert_model *model, const char *const *texts, size_t n,
                                 const sbert_encode_options *opt, sbert_sparse_rows *out);
void sbert_sparse_rows_free(sbert_sparse_rows *rows);
/* Dense [n, dim] rows -> sparse rows (exact zeros dropped). */
sbert_status sbert_sparse_from_dense(const float *dense, size_t n, size_t dim, sbert_sparse_rows *out);
/* Dot products out [a->n_rows, b->n_rows] (same dim). */
sbert_status sbert_sparse_dot(const sbert_sparse_rows *a, const sbert_sparse_rows *b, float *out);

typedef struct {
    int32_t id;
    const char *token; /* the vocabulary string (owned by the model's tokenizer), or NULL */
    float weight;
} sbert_token_weight;

/* The top_k (0: all) non-zeros of row `row`, by weight descending (ties:
 * lower id first), with their token strings, as SparseEncoder.decode;
 * *n_out receives how many were written (out has room for top_k, or for
 * the row's non-zeros when top_k is 0). */
sbert_status sbert_sparse_decode(const sbert_model *model, const sbert_sparse_rows *rows, size_t row,
                                 size_t top_k, sbert_token_weight *out, size_t *n_out);

/* The vocabulary string of `id` ("##ing", "Ġthe", ...) or NULL. */
const char *sbert_tokenizer_id_to_token(const sbert_tokenizer *tok, int32_t id);

/* ------------------------------------------------------------ evaluation */

typedef struct {
    char key[96]; /* sentence-transformers metric key, e.g. "sts-dev_spearman_cosine" */
    double value;
} sbert_metric_value;

typedef struct {
    sbert_metric_value metrics[128]; /* an IR evaluator alone gives 15 */
    size_t n;
    char primary[96]; /* key of the primary metric */
} sbert_eval_summary;

/* Evaluate `model` on a data file with a sentence-transformers evaluator:
 *   "EmbeddingSimilarityEvaluator" on (sentence1, sentence2, score) rows
 *     (.jsonl/.csv/.tsv); primary "{name}_spearman_cosine";
 *   "InformationRetrievalEvaluator" on a JSON file {"queries": {qid: text},
 *     "corpus": {cid: text}, "relevant_docs": {qid: [cid, ...]}}, scored with
 *     the model's similarity function, queries/documents encoded with the
 *     model's "query"/"document" prompts when it has them (encode_query /
 *     encode_document); primary "{name}_{fn}_ndcg@10";
 *   a comma list of those (SequentialEvaluator): `eval_data` and `name` are
 *     then comma lists of the same length (names distinct); metrics merged in
 *     order, primary = the last evaluator's.
 * `name` prefixes the metric keys ("" for none, one evaluator only). */
sbert_status sbert_evaluate(sbert_model *model, const char *evaluator, const char *eval_data,
                            const char *name, size_t batch_size, sbert_eval_summary *out);

/* ---------------------------------------------------------------- mining */

/* A line of a long-running job's report (no trailing newline). */
typedef void (*sbert_log_fn)(const char *line, void *user);

/* Hard-negative mining, as sentence-transformers' util.mine_hard_negatives
 * (same option names, same defaults). Floating-point filters are off when NAN. */
typedef struct {
    const char *anchor_column;   /* NULL: the dataset's first column */
    const char *positive_column; /* NULL: its second column */
    const char *corpus_path;     /* extra candidate documents (the positives are always added);
                                    NULL: the positives are the corpus. One text per line
                                    (.txt), or a .jsonl/.csv/.tsv file (corpus_column) */
    const char *corpus_column;   /* column of a .jsonl/.csv/.tsv corpus; NULL: "text", or the
                                    file's only column */
    size_t range_min;            /* skip the range_min closest candidates (0) */
    size_t range_max;            /* consider candidates up to this rank; 0: derived as
                                    sentence-transformers does */
    double max_score, min_score; /* NAN: off */
    double absolute_margin, relative_margin; /* NAN: off */
    size_t num_negatives;        /* 3 */
    const char *sampling_strategy; /* "top" (default) or "random" */
    uint64_t seed;               /* "random": draws what random.seed(seed) then
                                    mine_hard_negatives draws in Python (default 0) */
    const char *query_prompt_name, *query_prompt;   /* as encode_query(prompt_name=, prompt=) */
    const char *corpus_prompt_name, *corpus_prompt; /* as encode_document(...) */
    int include_positives;       /* 1: positives stay candidates (forces "n-tuple") */
    const char *output_format;   /* "triplet" (default), "n-tuple", "n-tuple-scores",
                                    "labeled-pair", "labeled-list" */
    int output_scores;           /* 1: add the similarity scores */
    size_t batch_size;           /* encode batch (0: 32) */
    size_t query_chunk;          /* queries per search block (0: 256) */
    size_t corpus_chunk;         /* documents per streamed search chunk (0: 4096) */
    const char *cross_encoder;   /* a CrossEncoder directory (num_labels 1): when a filter is set,
                                    its predict() scores replace the retriever's for the candidates
                                    and the positives (filters, ranking, output scores); NULL: none */
    const char *cache_folder;    /* keep/reuse the embeddings as .npy files here (NULL: off) */
    sbert_log_fn log;            /* the report, line by line (NULL: silent) */
    void *log_user;
    sbert_progress_fn progress;  /* encoding progress (NULL: none) */
    void *progress_user;
} sbert_mine_options;

sbert_mine_options sbert_mine_options_default(void);

/* What a mining run found (the statistics sentence-transformers prints). */
typedef struct {
    size_t n_rows;        /* dataset rows */
    size_t n_queries;     /* unique anchors */
    size_t n_corpus;      /* documents searched (deduplicated, positives included) */
    size_t range_max;     /* the range_max used */
    size_t n_output;      /* rows written */
    char output_format[16];
    int output_scores;
    size_t count[2];      /* positive scores, negative scores */
    double stats[3][8];   /* [positive, negative, difference][mean, median, std, min, 25%, 50%, 75%, max] */
    size_t skipped[4];    /* [absolute_margin, relative_margin, max_score, min_score] */
    double skipped_ratio[4];
    size_t missing;       /* rows that could not get enough negatives */
    double missing_ratio;
    size_t n_tie_rows;    /* queries ranked again exactly because of (near-)equal scores */
} sbert_mine_summary;

/* Mine hard negatives for the (anchor, positive) rows of `dataset_path`
 * (.jsonl/.csv/.tsv) with `model` and write the result to `output_path`
 * (.jsonl: one JSON object per row; .csv/.tsv: a header and one line per row,
 * list values as JSON arrays), with the columns sentence-transformers' Dataset
 * has. Fails before encoding anything when an option is out of range. */
sbert_status sbert_mine_hard_negatives(sbert_model *model, const char *dataset_path,
                                       const sbert_mine_options *opt, const char *output_path,
                                       sbert_mine_summary *out);

/* -------------------------------------------------------------- training */

typedef struct {
    double baseline; /* primary metric of the base model */
    double score;    /* primary metric after training */
    double delta;    /* score - baseline */
    char verdict[16];/* "WIN" (>= +0.005), "MARGINAL" ([0, 0.005)), "REGRESSION" (< 0) */
    int64_t steps;   /* optimizer steps taken */
    char final_dir[4096]; /* where the trained model was saved */
} sbert_train_summary;

/* Run a training recipe (a `key: value` file; NULL for none) with
 * command-line overrides (argv-style "--key" "value" or "key=value").
 * Prints the run log to stdout and appends it to {log_dir}/{run_name}.log
 * (log_dir NULL: "logs"); the last line printed is the VERDICT line. */
sbert_status sbert_train(const char *recipe_path, const char *const *args, size_t n_args,
                         const char *log_dir, sbert_train_summary *out);

/* The recipe keys with their defaults, the losses with their parameters and
 * the evaluators (what `sbert train --help` prints), written into buf as
 * snprintf would; returns the length it needed. */
size_t sbert_train_help(char *buf, size_t cap);

/* Draw the training curves of a run as an SVG image written (atomically) to
 * svg_path: the training loss, every evaluation metric, then the learning
 * rate and the gradient norm, each against the step, from the log_history
 * of `trainer_state` -- a trainer_state.json, or a folder holding one (a
 * model saved by sbert_train, a checkpoint). */
sbert_status sbert_plot_training_curves(const char *trainer_state, const char *svg_path);

#ifdef __cplusplus
}
#endif
#endif /* SBERT_H */
