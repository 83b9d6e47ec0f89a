/*
 * tests/test_sparse_errors.c -- bad input around SparseEncoder models, each
 * a clear error naming what is wrong:
 *   - an MLM checkpoint without its head weights (a plain encoder);
 *   - a config.json that is not a masked LM (architectures BertModel);
 *   - a vocabulary size that disagrees between config.json and SpladePooling,
 *     and between config.json and the weights / tokenizer;
 *   - SpladePooling with an unknown strategy / activation / key, or not
 *     after an MLM transformer; an MLM transformer not followed by it;
 *   - encode options that do not apply (normalize / truncate_dim on a
 *     SparseEncoder, max_active_dims on a SentenceTransformer);
 *   - recipes: a sparse base loss alone, FlopsLoss alone, SparseMSELoss /
 *     SparseDistillKLDivLoss on data without their label or columns, list
 *     labels of the wrong width (the base loss's check, naming the file),
 *     a SentenceTransformer loss for a SparseEncoder, a key of no loss of
 *     the run; and SpladeLoss(SparseDistillKLDivLoss) on fitting list labels
 *     trains (one step).
 * (A Router with a missing route: tests/test_sparse_router.c; a sparse
 * evaluator on a dense model: tests/test_sparse_evaluators.c.)
 */
#include "sparse_test_util.h"

static void write_text(const char *dir, const char *name, const char *text) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void overlay(const char *dir, const char *pool_cfg) {
    write_text(dir, "modules.json",
               "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":\"sentence_transformers.sparse_encoder.models."
               "MLMTransformer\"},{\"idx\":1,\"name\":\"1\",\"path\":\"1_SpladePooling\",\"type\":"
               "\"sentence_transformers.sparse_encoder.models.SpladePooling\"}]");
    write_text(dir, "config_sentence_transformers.json", "{\"model_type\": \"SparseEncoder\"}");
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/1_SpladePooling", dir);
    st_mkdirs(sub);
    write_text(sub, "config.json", pool_cfg);
}

static void expect_load_error(const char *dir, sbert_status want, const char *needle, const char *what) {
    sbert_model *m = NULL;
    sbert_status st = sbert_sparse_encoder_load(dir, NULL, &m);
    CHECK(st == want && strstr(sbert_last_error(), needle), "%s: got %s: %s", what, sbert_status_name(st),
          sbert_last_error());
    sbert_model_free(m);
}

/* Replace "from" by "to" in dir/name. */
static void edit(const char *dir, const char *name, const char *from, const char *to) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    size_t len = 0;
    char *s = test_read_file(p, &len);
    if (!s) return;
    char *at = strstr(s, from);
    if (at) {
        FILE *f = fopen(p, "w");
        fwrite(s, 1, (size_t)(at - s), f);
        fputs(to, f);
        fputs(at + strlen(from), f);
        fclose(f);
    }
    free(s);
}

static void models(const char *tmp) {
    char dir[4200], src[4096], dst[4200];
    /* no head: the tiny encoder's weights only */
    snprintf(dir, sizeof dir, "%s/nohead", tmp);
    if (st_assemble_mlm("bert", dir)) {
        snprintf(src, sizeof src, "%s/tiny-bert/model.safetensors", test_path("tests/data/models"));
        snprintf(dst, sizeof dst, "%s/model.safetensors", dir);
        CHECK(st_merge_weights(src, "bert.", NULL, dst), "write the head-less checkpoint");
        expect_load_error(dir, SBERT_ERR_FORMAT, "has no masked-language-model head", "checkpoint without head");
    }
    /* a BertModel config: not a masked LM */
    snprintf(dir, sizeof dir, "%s/notmlm", tmp);
    if (st_assemble_mlm("bert", dir)) {
        edit(dir, "config.json", "BertForMaskedLM", "BertModel");
        expect_load_error(dir, SBERT_ERR_UNSUPPORTED, "is not a masked language model", "BertModel architecture");
    }
    /* SpladePooling width vs vocabulary */
    snprintf(dir, sizeof dir, "%s/dim", tmp);
    if (st_assemble_mlm("bert", dir)) {
        overlay(dir, "{\"pooling_strategy\": \"max\", \"activation_function\": \"relu\", \"word_embedding_dimension\": 30000}");
        expect_load_error(dir, SBERT_ERR_FORMAT, "must agree", "SpladePooling dimension 30000 vs vocab 30522");
        overlay(dir, "{\"pooling_strategy\": \"mean\"}");
        expect_load_error(dir, SBERT_ERR_FORMAT, "pooling_strategy\" must be max or sum", "pooling_strategy mean");
        overlay(dir, "{\"activation_function\": \"gelu\"}");
        expect_load_error(dir, SBERT_ERR_FORMAT, "activation_function\" must be relu or log1p_relu", "activation gelu");
        overlay(dir, "{\"pooling_strategy\": \"max\", \"topk\": 3}");
        expect_load_error(dir, SBERT_ERR_FORMAT, "unknown SpladePooling key \"topk\"", "unknown key");
        overlay(dir, "{\"pooling_strategy\": \"sum\", \"chunk_size\": 8}");
        sbert_model *m = NULL;
        CHECK_OK(sbert_sparse_encoder_load(dir, NULL, &m)); /* chunk_size: accepted, always blocked here */
        if (m) {
            const char *t[] = {"a test"};
            sbert_encode_options o = sbert_encode_options_default();
            float *out = malloc(sbert_model_dim(m) * sizeof *out);
            o.normalize = 1;
            CHECK(sbert_model_encode(m, t, 1, &o, out) == SBERT_ERR_INVALID_ARG &&
                      strstr(sbert_last_error(), "normalize does not apply to a SparseEncoder"),
                  "normalize on a SparseEncoder: %s", sbert_last_error());
            o.normalize = 0;
            o.truncate_dim = 16;
            CHECK(sbert_model_encode(m, t, 1, &o, out) == SBERT_ERR_INVALID_ARG &&
                      strstr(sbert_last_error(), "truncate_dim does not apply"),
                  "truncate_dim on a SparseEncoder: %s", sbert_last_error());
            free(out);
            sbert_model_free(m);
        }
        /* config vocab_size disagreeing with the weights */
        edit(dir, "config.json", "\"vocab_size\": 30522", "\"vocab_size\": 30000");
        overlay(dir, "{\"pooling_strategy\": \"max\"}");
        expect_load_error(dir, SBERT_ERR_FORMAT, "30000", "config vocab_size 30000 vs weights / tokenizer 30522");
    }
    /* SpladePooling after a plain Transformer (no MLM): refused */
    snprintf(dir, sizeof dir, "%s/order", tmp);
    if (st_assemble_mlm("bert", dir)) {
        overlay(dir, "{\"pooling_strategy\": \"max\"}");
        write_text(dir, "modules.json",
                   "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"},"
                   "{\"idx\":1,\"name\":\"1\",\"path\":\"1_SpladePooling\",\"type\":"
                   "\"sentence_transformers.sparse_encoder.models.SpladePooling\"}]");
        expect_load_error(dir, SBERT_ERR_UNSUPPORTED, "must follow a fill-mask Transformer", "SpladePooling after Transformer");
    }
    /* max_active_dims on a dense model */
    const char *minilm = test_path("models/all-MiniLM-L6-v2");
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/model.safetensors", minilm);
    if (TEST_REQUIRE_FILE(probe, TEST_FETCH_MODELS)) {
        sbert_model *d = NULL;
        CHECK_OK(sbert_model_load(minilm, NULL, &d));
        if (d) {
            const char *t[] = {"a test"};
            sbert_encode_options o = sbert_encode_options_default();
            o.max_active_dims = 8;
            float out[384];
            CHECK(sbert_model_encode(d, t, 1, &o, out) == SBERT_ERR_INVALID_ARG &&
                      strstr(sbert_last_error(), "max_active_dims applies to SparseEncoder"),
                  "max_active_dims on a SentenceTransformer: %s", sbert_last_error());
            sbert_model_free(d);
        }
    }
}

static void recipe_expect(const char *tmp, const char *const *args, size_t n, sbert_status want, const char *needle,
                          const char *what) {
    sbert_train_summary s;
    char log[4200];
    snprintf(log, sizeof log, "%s/logs", tmp);
    sbert_status st = sbert_train(NULL, args, n, log, &s);
    CHECK(st == want && strstr(sbert_last_error(), needle), "%s: got %s: %s", what, sbert_status_name(st),
          sbert_last_error());
}

static void recipes(const char *tmp) {
    char model[4200], out[4200], data[4096], ev[4096];
    snprintf(model, sizeof model, "%s/recipe-model", tmp);
    if (!st_assemble_mlm("bert", model)) return;
    snprintf(out, sizeof out, "%s/out", tmp);
    snprintf(data, sizeof data, "%s", test_path("data/allnli-pairs.jsonl"));
    snprintf(ev, sizeof ev, "%s", test_path("tests/data/ir/cranfield-small.json"));
    const char *base[] = {"model", model, "model_type", "SparseEncoder", "train_data", data, "eval_data", ev,
                          "evaluator", "SparseInformationRetrievalEvaluator", "output_dir", out, "max_steps", "1"};
    const size_t nb = sizeof base / sizeof base[0];
    const char *a[32];
    memcpy(a, base, sizeof base);
    a[nb] = "loss";
    a[nb + 1] = "SparseMultipleNegativesRankingLoss";
    recipe_expect(tmp, a, nb + 2, SBERT_ERR_INVALID_ARG, "should not be used alone: write loss: SpladeLoss and base_loss",
                  "a sparse base loss alone");
    a[nb + 1] = "FlopsLoss";
    recipe_expect(tmp, a, nb + 2, SBERT_ERR_INVALID_ARG, "FlopsLoss is not used alone", "FlopsLoss alone");
    a[nb + 1] = "SpladeLoss";
    a[nb + 2] = "base_loss";
    a[nb + 3] = "SparseMSELoss";
    /* SparseMSELoss on (anchor, positive) pairs: the base loss's column check */
    recipe_expect(tmp, a, nb + 4, SBERT_ERR_FORMAT, "SparseMSELoss expects at least 1 text columns",
                  "SparseMSELoss as base without a label column");
    a[nb + 3] = "SparseDistillKLDivLoss";
    recipe_expect(tmp, a, nb + 4, SBERT_ERR_FORMAT, "SparseDistillKLDivLoss expects at least 3 text columns",
                  "SparseDistillKLDivLoss as base on pairs");
    /* teacher scores: 2 a row where 3 candidates need 3, then 3 (trains) */
    char kl[4200];
    snprintf(kl, sizeof kl, "%s/kl.jsonl", tmp);
    for (int pass = 0; pass < 2; pass++) {
        FILE *f = fopen(kl, "w");
        for (int i = 0; f && i < 4; i++)
            fprintf(f, "{\"query\": \"what is a wing %d\", \"pos\": \"a wing lifts\", \"neg1\": \"a cat\", "
                       "\"neg2\": \"the sea\", \"label\": [%s]}\n", i, pass ? "3.5, 1.0, 0.25" : "3.5, 1.0");
        if (f) fclose(f);
        const char *k[32];
        memcpy(k, a, sizeof a);
        k[5] = kl;
        k[nb + 3] = "SparseDistillKLDivLoss";
        k[nb + 4] = "per_device_train_batch_size";
        k[nb + 5] = "4";
        k[nb + 6] = "save_strategy";
        k[nb + 7] = "no";
        if (!pass) {
            recipe_expect(tmp, k, nb + 8, SBERT_ERR_FORMAT, "kl.jsonl: SparseDistillKLDivLoss: DistillKLDivLoss needs a "
                                                            "label column with one teacher score per candidate",
                          "SparseDistillKLDivLoss with 2 scores for 3 candidates");
        } else {
            sbert_train_summary sum;
            char log[4200];
            snprintf(log, sizeof log, "%s/logs", tmp);
            sbert_status st = sbert_train(NULL, k, nb + 8, log, &sum);
            CHECK(st == SBERT_OK, "SpladeLoss(SparseDistillKLDivLoss) on list labels: %s", sbert_last_error());
        }
    }
    a[nb + 3] = "MultipleNegativesRankingLoss";
    recipe_expect(tmp, a, nb + 4, SBERT_ERR_INVALID_ARG, "base_loss of SpladeLoss must be one of",
                  "a dense base loss in SpladeLoss");
    a[nb + 1] = "MultipleNegativesRankingLoss";
    recipe_expect(tmp, a, nb + 2, SBERT_ERR_UNSUPPORTED, "is a SentenceTransformer loss; this run trains a SparseEncoder",
                  "a SentenceTransformer loss for a SparseEncoder");
    a[nb + 1] = "SpladeLoss";
    a[nb + 2] = "triplet_margin";
    a[nb + 3] = "3";
    recipe_expect(tmp, a, nb + 4, SBERT_ERR_INVALID_ARG, "'triplet_margin' is a parameter of SparseTripletLoss",
                  "a key of another base loss");
    a[nb + 2] = "temperature";
    recipe_expect(tmp, a, nb + 4, SBERT_ERR_INVALID_ARG, "'temperature' is a parameter of SparseDistillKLDivLoss",
                  "a key of another base loss (SparseDistillKLDivLoss)");
    a[nb + 2] = "margin";
    recipe_expect(tmp, a, nb + 4, SBERT_ERR_INVALID_ARG, "'margin' is a parameter of",
                  "a key of a SentenceTransformer loss only");
    a[nb + 2] = "temperatur";
    recipe_expect(tmp, a, nb + 4, SBERT_ERR_INVALID_ARG, "unknown key", "a key of no loss");
}

int main(void) {
    const char *tmp = st_tmpdir("serr");
    if (!tmp) return test_summary();
    models(tmp);
    recipes(tmp);
    st_rm_rf(tmp);
    return test_summary();
}
