/*
 * tests/test_tokenizer_errors.c -- the tokenizer loader and encoder on bad
 * input: every failure must return the right status with a message that names
 * the file and the problem, and never crash or leak (run under ASan in CI).
 *
 * Also checks the API edges that tests/test_tokenizer.c does not: invalid
 * UTF-8 (the byte offset is reported), NULL arguments, max_length smaller
 * than the special tokens, and token_to_id / vocab_size on a tiny tokenizer
 * whose expected values are visible in the JSON below.
 */
#include "test_util.h"

/* A minimal valid WordPiece tokenizer; %s slots replace parts of it. */
static const char *TINY =
    "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,"
    "\"added_tokens\":[{\"id\":0,\"content\":\"[UNK]\",\"single_word\":false,\"lstrip\":false,"
    "\"rstrip\":false,\"normalized\":false,\"special\":true}],"
    "\"normalizer\":%s,\"pre_tokenizer\":%s,\"post_processor\":null,\"decoder\":null,"
    "\"model\":%s}";

static const char *TINY_MODEL =
    "{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\","
    "\"max_input_chars_per_word\":100,\"vocab\":{\"[UNK]\":0,\"a\":1,\"##b\":2}}";

static sbert_status load(const char *norm, const char *pre, const char *model,
                         sbert_tokenizer **tok) {
    char buf[4096];
    snprintf(buf, sizeof buf, TINY, norm, pre, model);
    return sbert_tokenizer_load_from_memory(buf, strlen(buf), "tokenizer.json", tok);
}

static void expect_fail(sbert_status st, sbert_status want, const char *needle, const char *what) {
    CHECK(st == want, "%s: status %s, want %s (%s)", what, sbert_status_name(st),
          sbert_status_name(want), sbert_last_error());
    CHECK(strstr(sbert_last_error(), needle) != NULL, "%s: message '%s' lacks '%s'", what,
          sbert_last_error(), needle);
}

int main(void) {
    sbert_tokenizer *tok = (sbert_tokenizer *)1;

    /* missing file */
    sbert_status st = sbert_tokenizer_load("/nonexistent/dir/tokenizer.json", &tok);
    expect_fail(st, SBERT_ERR_IO, "/nonexistent/dir/tokenizer.json", "missing file");
    CHECK(tok == NULL, "out must be NULL after a failed load");

    /* invalid JSON */
    const char *bad = "{\"model\": {\"type\": \"WordPiece\", ";
    st = sbert_tokenizer_load_from_memory(bad, strlen(bad), "broken.json", &tok);
    expect_fail(st, SBERT_ERR_FORMAT, "broken.json", "invalid JSON");

    /* no model */
    const char *nomodel = "{\"version\":\"1.0\"}";
    st = sbert_tokenizer_load_from_memory(nomodel, strlen(nomodel), "nomodel.json", &tok);
    expect_fail(st, SBERT_ERR_FORMAT, "'model' is missing", "no model");

    /* unknown component types name the JSON path */
    st = load("null", "null", "{\"type\":\"Foo\",\"vocab\":{}}", &tok);
    expect_fail(st, SBERT_ERR_UNSUPPORTED, "model.type 'Foo' is not supported", "unknown model");
    st = load("null", "{\"type\":\"FixedLength\",\"length\":5}", TINY_MODEL, &tok);
    expect_fail(st, SBERT_ERR_UNSUPPORTED, "tokenizer.json: pre_tokenizer.type 'FixedLength' is not supported",
                "unknown pre-tokenizer");
    st = load("null",
              "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Whitespace\"},"
              "{\"type\":\"UnicodeScripts\"}]}",
              TINY_MODEL, &tok);
    expect_fail(st, SBERT_ERR_UNSUPPORTED, "pre_tokenizer.pretokenizers[1].type 'UnicodeScripts'",
                "unknown nested pre-tokenizer");
    st = load("{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Bogus\"}]}", "null", TINY_MODEL, &tok);
    expect_fail(st, SBERT_ERR_UNSUPPORTED, "normalizer.normalizers[0].type 'Bogus'", "unknown normalizer");

    /* a vocab entry of the wrong type names the token */
    st = load("null", "null",
              "{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"vocab\":{\"[UNK]\":0,\"oops\":\"7\"}}",
              &tok);
    expect_fail(st, SBERT_ERR_FORMAT, "model.vocab['oops']", "vocab entry type");
    st = load("null", "null", "{\"type\":\"WordPiece\",\"vocab\":[1,2]}", &tok);
    expect_fail(st, SBERT_ERR_FORMAT, "model.vocab must be an object", "vocab not an object");

    /* BPE merges naming tokens outside the vocab, or malformed */
    st = load("null", "null",
              "{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[\"a c\"]}", &tok);
    expect_fail(st, SBERT_ERR_FORMAT, "model.merges[0]: token 'c' is not in the vocab", "merge token");
    st = load("null", "null",
              "{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1},\"merges\":[[\"a\",\"b\"]]}", &tok);
    expect_fail(st, SBERT_ERR_FORMAT, "merged token 'ab' is not in the vocab", "merge result");
    st = load("null", "null", "{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a\"]}", &tok);
    expect_fail(st, SBERT_ERR_FORMAT, "model.merges[0]", "merge without space");

    /* bad regex, bad behavior */
    st = load("null",
              "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(\"},\"behavior\":\"Isolated\",\"invert\":false}",
              TINY_MODEL, &tok);
    CHECK(st != SBERT_OK && strstr(sbert_last_error(), "pre_tokenizer.pattern.Regex"),
          "bad regex: %s", sbert_last_error());
    st = load("null",
              "{\"type\":\"Split\",\"pattern\":{\"String\":\" \"},\"behavior\":\"Sideways\",\"invert\":false}",
              TINY_MODEL, &tok);
    expect_fail(st, SBERT_ERR_FORMAT, "pre_tokenizer.behavior 'Sideways'", "bad behavior");

    /* Unigram vocab entries must be [piece, score] */
    st = load("null", "null", "{\"type\":\"Unigram\",\"unk_id\":0,\"vocab\":[[\"a\",-1.0],[\"b\"]]}", &tok);
    expect_fail(st, SBERT_ERR_FORMAT, "model.vocab[1] must be [piece, score]", "unigram vocab");

    /* template referring to an undeclared special token */
    {
        char buf[4096];
        snprintf(buf, sizeof buf,
                 "{\"added_tokens\":[],\"post_processor\":{\"type\":\"TemplateProcessing\","
                 "\"single\":[{\"SpecialToken\":{\"id\":\"[CLS]\",\"type_id\":0}}],\"pair\":[],"
                 "\"special_tokens\":{}},\"model\":%s}",
                 TINY_MODEL);
        st = sbert_tokenizer_load_from_memory(buf, strlen(buf), "tpl.json", &tok);
        expect_fail(st, SBERT_ERR_FORMAT, "special token '[CLS]' is missing", "template special");
    }

    /* a good tiny tokenizer */
    st = load("{\"type\":\"Lowercase\"}", "{\"type\":\"WhitespaceSplit\"}", TINY_MODEL, &tok);
    CHECK_OK(st);
    if (st == SBERT_OK) {
        CHECK(sbert_tokenizer_vocab_size(tok) == 3, "vocab size %zu", sbert_tokenizer_vocab_size(tok));
        CHECK(sbert_tokenizer_token_to_id(tok, "##b") == 2, "token_to_id ##b");
        CHECK(sbert_tokenizer_token_to_id(tok, "zzz") == -1, "token_to_id absent");
        sbert_tokenize_options o = sbert_tokenize_options_default();
        sbert_encoding enc;
        /* "AB a x": "ab" -> a ##b ; "a" -> a ; "x" -> [UNK] */
        CHECK_OK(sbert_tokenizer_encode(tok, "AB a x", 6, NULL, 0, &o, &enc));
        CHECK(enc.len == 4 && enc.input_ids[0] == 1 && enc.input_ids[1] == 2 &&
                  enc.input_ids[2] == 1 && enc.input_ids[3] == 0,
              "tiny encode gave %zu ids", enc.len);
        sbert_encoding_free(&enc);
        CHECK(enc.input_ids == NULL && enc.len == 0, "encoding_free resets");

        /* invalid UTF-8 names the byte offset */
        const char bad_utf8[] = "ab\xC3\x28zz";
        st = sbert_tokenizer_encode(tok, bad_utf8, 6, NULL, 0, &o, &enc);
        expect_fail(st, SBERT_ERR_INVALID_ARG, "byte offset 2", "invalid UTF-8");
        const char overlong[] = "a\xC0\xAF";
        st = sbert_tokenizer_encode(tok, "a", 1, overlong, 3, &o, &enc);
        expect_fail(st, SBERT_ERR_INVALID_ARG, "pair text is not valid UTF-8", "invalid UTF-8 pair");
        const char surrogate[] = "\xED\xA0\x80";
        st = sbert_tokenizer_encode(tok, surrogate, 3, NULL, 0, &o, &enc);
        expect_fail(st, SBERT_ERR_INVALID_ARG, "byte offset 0", "surrogate");
        const char truncated[] = "abc\xE2\x82";
        st = sbert_tokenizer_encode(tok, truncated, 5, NULL, 0, &o, &enc);
        expect_fail(st, SBERT_ERR_INVALID_ARG, "byte offset 3", "truncated sequence");

        /* NULL arguments */
        st = sbert_tokenizer_encode(tok, NULL, 3, NULL, 0, &o, &enc);
        CHECK(st == SBERT_ERR_INVALID_ARG, "NULL text with length");
        st = sbert_tokenizer_encode(NULL, "a", 1, NULL, 0, &o, &enc);
        CHECK(st == SBERT_ERR_INVALID_ARG, "NULL tokenizer");

        /* only_second without a pair */
        o.max_length = 1;
        o.strategy = SBERT_TRUNCATE_ONLY_SECOND;
        st = sbert_tokenizer_encode(tok, "a a a", 5, NULL, 0, &o, &enc);
        expect_fail(st, SBERT_ERR_INVALID_ARG, "second sequence", "only_second without pair");
        sbert_tokenizer_free(tok);
    }

    /* max_length smaller than the special tokens of the post-processor */
    {
        char buf[4096];
        snprintf(buf, sizeof buf,
                 "{\"added_tokens\":[],\"post_processor\":{\"type\":\"BertProcessing\","
                 "\"sep\":[\"##b\",2],\"cls\":[\"a\",1]},\"model\":%s}",
                 TINY_MODEL);
        CHECK_OK(sbert_tokenizer_load_from_memory(buf, strlen(buf), "bert.json", &tok));
        sbert_tokenize_options o = sbert_tokenize_options_default();
        o.max_length = 2;
        sbert_encoding enc;
        st = sbert_tokenizer_encode(tok, "a", 1, "a", 1, &o, &enc);
        expect_fail(st, SBERT_ERR_INVALID_ARG, "max_length 2 is smaller than the 3 special tokens",
                    "max_length too small");
        sbert_tokenizer_free(tok);
    }
    sbert_tokenizer_free(NULL);
    sbert_encoding_free(NULL);
    return test_summary();
}
