#!/usr/bin/env python3
"""Reference token ids for sbert's tokenizer tests (tests/test_tokenizer*.c).

Writes, under tests/data/tokenizers/:
  inputs.jsonl                one case per line, shared by every tokenizer:
                              {"text": str, "pair": str?, "max_length": int?,
                               "strategy": "longest_first"|"only_first"|"only_second"?,
                               "add_special": false?}
  <name>/tokenizer.json       the synthetic tokenizers (built here with HF `tokenizers`),
                              roberta-base (built from vocab.json + merges.txt with
                              transformers' RobertaTokenizerFast) and all-MiniLM-L6-v2's copy
  <name>/expected.txt         one line per case of inputs.jsonl (the first `n_cases` lines
                              for the synthetic tokenizers): "ids" or "ids|type_ids"
                              (type ids written only when some is non-zero), space-separated,
                              or "ERROR" when HF tokenizers raised an error.
  tokenizers.txt              name, path of tokenizer.json, number of cases, vocab size
                              (with added tokens) and a few token_to_id probes

Semantics of a case (the C test mirrors this): max_length absent -> the tokenizer's own
truncation from tokenizer.json (sbert max_length=0); present -> enable_truncation(max_length,
strategy, direction = tokenizer.json's direction or Right). Padding is always off.

bert-base-uncased and ModernBERT are copied from ../shared/data/tokenizers into
tests/data/tokenizers/<name>/tokenizer.json (provenance and licences:
tests/data/tokenizers/SOURCE.txt), so the C test never reads outside the repository.

Usage: python3 tools/gen_tokenizer_refs.py   (needs tokenizers, transformers; ~1 min)
       python3 tools/gen_tokenizer_refs.py --unicode-tables
           prints the exception tables of src/tokenizers/unicode.c: the code points where
           HF tokenizers' Unicode tables (the Rust `unicode_categories` and
           `unicode-normalization-alignments` crates, Unicode ~8) disagree with the system
           utf8proc about punctuation, "other" (Cc/Cf/Co), Mn, Mark, NF(K)C/D and
           lowercase (~2 min).
"""
import csv
import json
import os
import random
import sys

from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors, models, trainers
from tokenizers import Regex, AddedToken

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared", "data"))
OUT = os.path.join(ROOT, "tests", "data", "tokenizers")

rng = random.Random(1234)


# ----------------------------------------------------------------- inputs

def read_stsb():
    rows = []
    for split in ("train", "dev", "test"):
        with open(os.path.join(SHARED, "stsb", f"sts-{split}.csv"), encoding="utf-8") as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) >= 7:
                    rows.append((parts[5], parts[6]))
    return rows


def read_snli():
    rows = []
    with open(os.path.join(SHARED, "snli", "test.tsv"), encoding="utf-8") as f:
        r = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(r)
        for parts in r:
            if len(parts) >= 2:
                rows.append((parts[0], parts[1]))
    return rows


def read_xquad(lang):
    d = json.load(open(os.path.join(SHARED, "xquad", f"xquad.{lang}.json"), encoding="utf-8"))
    ctx, qs = [], []
    for art in d["data"]:
        for p in art["paragraphs"]:
            ctx.append(p["context"])
            for q in p["qas"]:
                qs.append(q["question"])
    return ctx, qs


EDGE = [
    "", " ", "   ", "\n\t \r\n", "\u3000", "a", "A.", "Hello, world!",
    "Café naïve résumé façade coöperate", "ÀÉÎÕÜ àéîõü Ñandú", "e\u0301 vs \u00e9",
    "我爱北京天安门", "東京は日本の首都です。", "안녕하세요 세계", "中文English混合123",
    "I love 🍕 and 🥲 🫠 👨‍👩‍👧 family ❤️ ✓", "😀😃😄😁",
    "a\x00b\x01c\u200bd\ufeffe\u00adf\x7fg", "line1\nline2\tcol\r\nend", "x\u0085y\u2028z",
    "a" * 150, "supercalifragilistic" * 8, "x" * 101, "y" * 100, "é" * 120,
    "1234567890 3.14159 1,000,000 -42 +7 0x1F 2024-01-01",
    "https://example.com/path?q=1&r=two#frag user@mail.org",
    "def f(x): return x**2 + 1  # comment; {a: [1, 2]}",
    "don't I'll we're they've she'd it's DON'T I'M",
    "  leading and trailing  ", "multiple     spaces\t\ttabs", "a    b",
    "مرحبا بالعالم", "שלום עולם", "สวัสดีชาวโลก", "नमस्ते दुनिया", "Привет, мир!",
    "İstanbul ıi İI", "Straße groß", "ΟΔΥΣΣΕΥΣ Ὀδυσσεύς", "ＡＢＣ１２３ ｱｲｳ", "ﬁne ﬂow Ⅻ ½ ²",
    "x² + y² = z² ∑∫√∞ ≤≥≠", "[CLS] hello [SEP] [MASK] <mask> <s> </s> [UNK] <unk> <pad>",
    "hello[MASK]world", "the <mask> sat", " <mask>", "<mask>", "[MASK]", "[SEP][SEP]",
    "|||IP_ADDRESS||| and |||EMAIL_ADDRESS|||", "tab\tseparated\tvalues",
    "Ⓐⓑⓒ 🅰🅱 ᴀʙᴄ", "—–-‐ “quoted” ‘single’ «guillemets» …", "¿Qué? ¡Sí!",
    "100% $5 €10 £3 ¥7 #hash @at &amp; *star*", "a_b_c snake_case CamelCase kebab-case",
    "\u0300\u0301 leading marks", "\ud7a3\ud7a4", "\U0001F1FA\U0001F1F8 flags \U0001F3F3\uFE0F",
    "ǅ ǈ ǋ title-case digraphs", "ΣΑΣ σας", "ꙮ ߷ ᐁ",
    "hello  <ent>  world <ent>s x<ent>", "hello world", "Hello World HELLO WORLD",
    "   \u00a0\u00a0non-breaking\u00a0spaces", "zero\u200dwidth\u200cjoiners",
    "2\u20443 fraction ⅔ ① ②", "\u0661\u0662\u0663 arabic digits \u0966\u0967",
    "<0x41> byte <0xFF> tokens", "▁ metaspace ▁▁ char", "Ġ G-dot ĠĠ",
    "end with space ", " start with space", "????!!!!....", "''''", "' s 'll 're",
    # characters assigned after HF's Unicode tables (see unicode.c hf_* tables)
    "a\u061db\u2e43c \u0890d\u08e2e \u1734f\u1acfg \U00011f43h\u166di\u1cf2j \U00011944k",
    "\u0301abc starts with a mark", "\x01\x02abc starts with controls",
    "\U0001f16c \u32ff \U0001e030 \ua7cb\ua7f2 \U00011938 newer than HF's tables",
]


def random_texts(n, seed):
    """Random mixes of scripts, symbols, marks, controls and special-token strings.
    (U+11F00.. is left out: Kawi digits are Unicode 15, which Oniguruma knows and PCRE2 10.42
    does not, so regex \\d differs there.)"""
    r = random.Random(seed)
    blocks = [(0x20, 0x7E)] * 6 + [
        (0x0, 0x20), (0x7F, 0xFF), (0x100, 0x24F), (0x250, 0x36F), (0x370, 0x4FF), (0x590, 0x6FF),
        (0x900, 0x97F), (0xE00, 0xE7F), (0x1100, 0x11FF), (0x1E00, 0x1EFF), (0x2000, 0x206F),
        (0x2070, 0x23FF), (0x2460, 0x24FF), (0x2E80, 0x2FDF), (0x3000, 0x31FF), (0x3400, 0x4DBF),
        (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0xE000, 0xE0FF), (0xF900, 0xFAFF), (0xFB00, 0xFDFF),
        (0xFE00, 0xFE6F), (0xFF00, 0xFFEF), (0x10000, 0x1007F), (0x11000, 0x11EFF),
        (0x1D400, 0x1D7FF), (0x1F000, 0x1FAFF), (0x20000, 0x2A6DF), (0xE0000, 0xE007F)]
    words = ["the", "don't", "I'm", "[MASK]", "<mask>", "<s>", "[CLS]", "hello", "  ", "\n", "\t",
             "123", "3.5", "e\u0301", "\u0130", "<ent>", "hello world"]
    out = []
    for _ in range(n):
        parts = []
        for _ in range(r.randint(0, 10)):
            if r.random() < 0.3:
                parts.append(r.choice(words))
            else:
                a, b = r.choice(blocks)
                parts.append("".join(chr(c if not 0xD800 <= c <= 0xDFFF else 0x41)
                                     for c in (r.randint(a, b) for _ in range(r.randint(1, 5)))))
            if r.random() < 0.5:
                parts.append(" ")
        out.append("".join(parts))
    return out


def build_inputs():
    stsb = read_stsb()
    snli = read_snli()
    cases = []
    seen = set()

    def add(case):
        key = json.dumps(case, sort_keys=True, ensure_ascii=False)
        if key not in seen:
            seen.add(key)
            cases.append(case)

    for e in EDGE:
        add({"text": e})
    for t in random_texts(120, 7):
        add({"text": t})
    # mixed-in synthetic-friendly real lines first (the synthetic tokenizers and MiniLM use these)
    en_ctx, en_q = read_xquad("en")
    de_ctx, de_q = read_xquad("de")
    es_ctx, es_q = read_xquad("es")
    tat = {}
    for lang in ("cmn", "jpn", "kor", "rus", "ell", "tha", "ara", "hin", "tur", "vie"):
        with open(os.path.join(SHARED, "tatoeba-laser", f"tatoeba.{lang}-eng.{lang}"),
                  encoding="utf-8") as f:
            tat[lang] = [l.rstrip("\n") for l in f if l.strip()]
    zh_q = [l for lang in tat for l in tat[lang][:40]]
    sts_sents = [s for pair in stsb for s in pair]
    rng.shuffle(sts_sents)
    snli_sents = [s for pair in snli for s in pair]
    rng.shuffle(snli_sents)
    for s in sts_sents[:120]:
        add({"text": s})
    for q in en_q[:20] + de_q[:20] + es_q[:20] + zh_q[:20]:
        add({"text": q})
    for c in en_ctx[:3] + de_ctx[:1] + es_ctx[:1]:
        add({"text": c})
    long_text = " ".join(en_ctx[10:16])  # > 512 tokens
    add({"text": long_text})
    pairs = stsb[:]
    rng.shuffle(pairs)
    snli_pairs = snli[:]
    rng.shuffle(snli_pairs)
    for a, b in pairs[:50]:
        add({"text": a, "pair": b})
    for a, b in snli_pairs[:30]:
        add({"text": a, "pair": b})
    for ml in (16, 32):
        for a, b in pairs[120:170]:
            add({"text": a, "pair": b, "max_length": ml, "strategy": "longest_first"})
    for a, b in pairs[220:240]:
        add({"text": a, "pair": b, "max_length": 24, "strategy": "only_first"})
    for a, b in pairs[260:280]:
        add({"text": a, "pair": b, "max_length": 24, "strategy": "only_second"})
    for q, c in zip(en_q[60:70], en_ctx[20:30]):
        add({"text": q, "pair": c, "max_length": 64, "strategy": "longest_first"})
        add({"text": c, "pair": q, "max_length": 48, "strategy": "longest_first"})
    for s in sts_sents[500:520]:
        add({"text": s, "max_length": 8})
        add({"text": s, "add_special": False})
    add({"text": long_text, "max_length": 512})
    add({"text": long_text, "max_length": 100, "add_special": False})
    add({"text": "", "pair": ""})
    add({"text": "", "pair": "x", "max_length": 16})
    add({"text": "Café 🍕 [MASK]", "pair": "我爱 <mask> naïve"})
    for e in EDGE[:40]:
        add({"text": "pair edge", "pair": e})
    n_synth = len(cases)
    # the bulk of real lines (run through the real tokenizers only)
    for s in sts_sents[540:3000]:
        add({"text": s})
    for s in snli_sents[:1000]:
        add({"text": s})
    for q in en_q[80:330] + de_q[60:310] + es_q[60:310]:
        add({"text": q})
    for lang in tat:
        for l in tat[lang][40:70]:
            add({"text": l})
    for c in en_ctx[40:44] + de_ctx[40:43] + es_ctx[40:43]:
        add({"text": c})
    for a, b in pairs[300:500]:
        add({"text": a, "pair": b})
    for ml in (16, 32):
        for a, b in snli_pairs[60:160]:
            add({"text": a, "pair": b, "max_length": ml, "strategy": "longest_first"})
    return cases, n_synth


# ---------------------------------------------------------- reference run

def encode_case(tok, case, trunc_direction):
    tok.no_padding()
    orig_trunc = tok.truncation
    try:
        if "max_length" in case:
            tok.enable_truncation(case["max_length"], strategy=case.get("strategy", "longest_first"),
                                  direction=trunc_direction)
        enc = tok.encode(case["text"], case.get("pair"),
                         add_special_tokens=case.get("add_special", True))
    except Exception:
        return "ERROR"
    finally:
        if orig_trunc is None:
            tok.no_truncation()
        else:
            tok.enable_truncation(orig_trunc["max_length"], stride=orig_trunc["stride"],
                                  strategy=orig_trunc["strategy"], direction=orig_trunc["direction"])
    assert all(m == 1 for m in enc.attention_mask)
    line = " ".join(map(str, enc.ids))
    if any(enc.type_ids):
        line += "|" + " ".join(map(str, enc.type_ids))
    return line


PROBES = ["[CLS]", "[SEP]", "[MASK]", "<s>", "</s>", "<mask>", "<unk>", "[UNK]", "the", "Ġthe",
          "##ing", "hello", "<ent>", "▁the", "<0x41>"]


def apply_override(j, override):
    """override: {"a.b.c": value} -> j["a"]["b"]["c"] = value (the C test does the same)."""
    for key, value in override.items():
        parts = key.split(".")
        o = j
        for k in parts[:-1]:
            o = o[k]
        o[parts[-1]] = value
    return j


def run_tokenizer(name, path, cases, n, listing, override=None):
    j = json.load(open(path, encoding="utf-8"))
    if override:
        j = apply_override(j, override)
        tmp = os.path.join(OUT, name, "tmp-tokenizer.json")
        os.makedirs(os.path.dirname(tmp), exist_ok=True)
        json.dump(j, open(tmp, "w", encoding="utf-8"), ensure_ascii=False)
        tok = Tokenizer.from_file(tmp)
        os.remove(tmp)
    else:
        tok = Tokenizer.from_file(path)
    direction = (j.get("truncation") or {}).get("direction", "Right").lower()
    out_dir = os.path.join(OUT, name)
    os.makedirs(out_dir, exist_ok=True)
    n_err = 0
    with open(os.path.join(out_dir, "expected.txt"), "w", encoding="utf-8") as f:
        for case in cases[:n]:
            line = encode_case(tok, case, direction)
            n_err += line == "ERROR"
            f.write(line + "\n")
    probes = []
    for p in PROBES:
        i = tok.token_to_id(p)
        probes.append(f"{p}={-1 if i is None else i}")
    rel = os.path.relpath(path, ROOT)
    ov = json.dumps(override, ensure_ascii=False) if override else "-"
    listing.append(f"{name}\t{rel}\t{n}\t{tok.get_vocab_size(with_added_tokens=True)}\t{ov}\t" +
                   " ".join(probes))
    print(f"{name}: {n} cases, {n_err} errors, vocab {tok.get_vocab_size(True)}", file=sys.stderr)


# ------------------------------------------------------ synthetic tokenizers

def corpus():
    return [s for pair in read_stsb()[:4000] for s in pair]


def save(tok, name):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, "tokenizer.json")
    tok.save(p, pretty=False)
    return p


def synth_tokenizers():
    texts = corpus()
    made = []

    # 1. cased WordPiece with NFKC/Replace/Strip, WhitespaceSplit+Punctuation+Digits, template
    #    pairs, added tokens (single_word, lstrip/rstrip, normalized) and truncation in the file.
    wp = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=30))
    wp.normalizer = normalizers.Sequence([
        normalizers.NFKC(), normalizers.Replace(Regex(r"\s{2,}"), " "),
        normalizers.Replace("``", '"'), normalizers.Strip()])
    wp.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation("isolated"),
        pre_tokenizers.Digits(individual_digits=True)])
    wp.train_from_iterator(texts, trainers.WordPieceTrainer(
        vocab_size=3000, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]))
    wp.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", wp.token_to_id("[CLS]")), ("[SEP]", wp.token_to_id("[SEP]"))])
    wp.add_tokens([AddedToken("<ent>", single_word=True), AddedToken("hello world", normalized=True)])
    wp.add_special_tokens([AddedToken("[MASK]", lstrip=True, rstrip=True)])
    wp.enable_truncation(40, strategy="longest_first")
    made.append(("syn-wordpiece-cased", save(wp, "syn-wordpiece-cased"), None))

    # 2. BPE with byte_fallback + unk + fuse_unk, Metaspace(prepend first), NFD/StripAccents/Lowercase
    bpe = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    bpe.normalizer = normalizers.Sequence([normalizers.NFD(), normalizers.StripAccents(),
                                           normalizers.Lowercase()])
    bpe.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=True)
    byte_toks = [f"<0x{b:02X}>" for b in range(256) if b < 0x80]  # ASCII only: others -> unk
    bpe.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=2500, special_tokens=["<unk>", "<s>", "</s>", "<mask>"] + byte_toks,
        show_progress=False))
    bpe.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", bpe.token_to_id("<s>")), ("</s>", bpe.token_to_id("</s>"))])
    bpe.add_special_tokens([AddedToken("<mask>", lstrip=True)])
    made.append(("syn-bpe-metaspace", save(bpe, "syn-bpe-metaspace"), None))

    # 3. byte-level BPE used under five Split behaviours (+ invert, + String pattern)
    bl = Tokenizer(models.BPE())
    bl.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    bl.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=4000, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    variants = [
        ("removed", Regex(r"\s+|\d"), "removed", False),
        ("isolated", Regex(r"\s+|\d"), "isolated", False),
        ("merged_prev", Regex(r"[\p{P}\s]"), "merged_with_previous", False),
        ("merged_next", Regex(r"[\p{P}\s]"), "merged_with_next", False),
        ("contiguous", Regex(r"\p{P}|\d"), "contiguous", False),
        ("invert", Regex(r"\p{L}+"), "isolated", True),
        ("string", " ", "merged_with_next", False),
    ]
    base = save(bl, "syn-bytelevel-bpe")
    made.append(("syn-bytelevel-bpe", base, None))
    for tag, pat, beh, inv in variants:
        bl.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(pat, beh, invert=inv),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
        bl.post_processor = processors.ByteLevel(trim_offsets=False)
        jj = json.loads(bl.to_str())
        made.append((f"syn-split-{tag}", base, {"pre_tokenizer": jj["pre_tokenizer"],
                                                "post_processor": jj["post_processor"]}))
    # ignore_merges + ByteLevel(add_prefix_space, regex) + NFKC on the same model
    made.append(("syn-bpe-ignore-merges", base, {
        "model.ignore_merges": True, "normalizer": {"type": "NFKC"},
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                          "use_regex": True}}))

    # less common components, on the first 300 cases only (keeps the data small)
    made.append(("syn-misc-a", base, {
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Strip", "strip_left": True, "strip_right": False}, {"type": "StripAccents"},
            {"type": "Replace", "pattern": {"Regex": "[0-9]+"}, "content": "#"}]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Punctuation", "behavior": "MergedWithNext"},
            {"type": "CharDelimiterSplit", "delimiter": " "},
            {"type": "Metaspace", "replacement": "_", "prepend_scheme": "never", "split": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
             "use_regex": False}]}}, 300))
    made.append(("syn-misc-b", base, {
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Strip", "strip_left": False, "strip_right": True}, {"type": "ByteLevel"}]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"String": "\u0120"}, "behavior": "MergedWithPrevious",
             "invert": False},
            {"type": "Punctuation", "behavior": "Contiguous"},
            {"type": "Digits", "individual_digits": False}]},
        "post_processor": {"type": "BertProcessing", "sep": ["!", 0], "cls": ["\"", 1]}}, 300))

    # Qwen2/Qwen3's pre-tokenizer: Split(Regex, Isolated) + ByteLevel(no regex), NFC
    qwen_re = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")
    made.append(("syn-qwen-split", base, {
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": qwen_re}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
             "use_regex": False}]}}, 300))

    # 4. WordLevel with Whitespace pre-tokenizer, NFKD + Lowercase + StripAccents, BertProcessing
    wl = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    wl.normalizer = normalizers.Sequence([normalizers.NFKD(), normalizers.Lowercase(),
                                          normalizers.StripAccents()])
    wl.pre_tokenizer = pre_tokenizers.Whitespace()
    wl.train_from_iterator(texts, trainers.WordLevelTrainer(
        vocab_size=4000, special_tokens=["[UNK]", "[CLS]", "[SEP]"], show_progress=False))
    wl.post_processor = processors.BertProcessing(("[SEP]", wl.token_to_id("[SEP]")),
                                                  ("[CLS]", wl.token_to_id("[CLS]")))
    made.append(("syn-wordlevel-whitespace", save(wl, "syn-wordlevel-whitespace"), None))

    # 5. classic BPE with ## prefix and </w> suffix, BertNormalizer(cased, strip accents), Prepend,
    #    BertPreTokenizer, Sequence[Template, ByteLevel] post-processor, Left truncation in file.
    cb = Tokenizer(models.BPE(unk_token="[UNK]", continuing_subword_prefix="##",
                              end_of_word_suffix="</w>"))
    cb.normalizer = normalizers.Sequence([
        normalizers.BertNormalizer(lowercase=False, strip_accents=True),
        normalizers.Replace("e", "E"), normalizers.Prepend("_")])
    cb.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.BertPreTokenizer(),
                                                pre_tokenizers.Digits(individual_digits=False)])
    cb.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=3000, special_tokens=["[UNK]", "[CLS]", "[SEP]"], continuing_subword_prefix="##",
        end_of_word_suffix="</w>", show_progress=False))
    cb.post_processor = processors.Sequence([
        processors.TemplateProcessing(
            single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
            special_tokens=[("[CLS]", cb.token_to_id("[CLS]")), ("[SEP]", cb.token_to_id("[SEP]"))]),
        processors.ByteLevel(trim_offsets=False)])
    cb.enable_truncation(20, strategy="only_first", direction="left")
    made.append(("syn-bpe-suffix", save(cb, "syn-bpe-suffix"), None))

    # 6. Metaspace (always, no split) + Nmt + NFKC + Replace regex + Roberta post-processor
    made.append(("syn-metaspace-always", os.path.join(OUT, "syn-bpe-metaspace", "tokenizer.json"), {
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Nmt"}, {"type": "NFKC"},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": "▁"},
            {"type": "Lowercase"}]},
        "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always",
                          "split": False},
        "post_processor": {"type": "RobertaProcessing", "sep": ["</s>", bpe.token_to_id("</s>")],
                           "cls": ["<s>", bpe.token_to_id("<s>")], "trim_offsets": True,
                           "add_prefix_space": True}}))
    return made


def unicode_tables():
    import ctypes
    import ctypes.util
    lib = ctypes.CDLL(ctypes.util.find_library("utf8proc") or "libutf8proc.so.2")
    lib.utf8proc_category.restype = ctypes.c_int
    lib.utf8proc_category.argtypes = [ctypes.c_int32]
    lib.utf8proc_unicode_version.restype = ctypes.c_char_p
    bpt = pre_tokenizers.BertPreTokenizer()
    clean = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=False,
                                       strip_accents=False, lowercase=False)
    strip = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False,
                                       strip_accents=True, lowercase=False)
    sa = normalizers.StripAccents()
    hf_nfd = normalizers.NFD()
    sets = {k: ([], []) for k in ("punct", "other", "mn", "mark")}  # (HF yes/utf8proc no, HF no/utf8proc yes)
    for c in range(0x80, 0x110000):
        if 0xD800 <= c <= 0xDFFF:
            continue
        ch, k = chr(c), lib.utf8proc_category(c)
        checks = [("punct", not ch.isspace() and len(bpt.pre_tokenize_str("a" + ch + "a")) == 3,
                   12 <= k <= 18 and not ch.isspace()),
                  ("other", clean.normalize_str("a" + ch + "a") == "aa", k in (26, 27, 28, 29))]
        if hf_nfd.normalize_str(ch) == ch:  # marks as they reach the filters after HF's NFD
            checks.append(("mn", strip.normalize_str("a" + ch + "a") == "aa", k == 6))
            checks.append(("mark", sa.normalize_str("a" + ch + "a") == "aa", k in (6, 7, 8)))
        for name, hf, mine in checks:
            if hf and not mine:
                sets[name][0].append(c)
            elif mine and not hf:
                sets[name][1].append(c)

    # Unicode normalization and lowercase: characters HF leaves alone that utf8proc changes
    lib.utf8proc_NFD.restype = ctypes.c_char_p
    lib.utf8proc_NFC.restype = ctypes.c_char_p
    lib.utf8proc_NFKD.restype = ctypes.c_char_p
    lib.utf8proc_NFKC.restype = ctypes.c_char_p
    lib.utf8proc_tolower.restype = ctypes.c_int32
    lib.utf8proc_tolower.argtypes = [ctypes.c_int32]
    hf_forms = {"NFD": normalizers.NFD(), "NFC": normalizers.NFC(), "NFKD": normalizers.NFKD(),
                "NFKC": normalizers.NFKC()}
    canon_keep, compat_keep, unexplained = [], [], []
    lower_pairs = []
    low = normalizers.Lowercase()
    for c in range(0x80, 0x110000):
        if 0xD800 <= c <= 0xDFFF:
            continue
        ch = chr(c)
        b = ch.encode("utf-8")
        for form, hf in hf_forms.items():
            mine = getattr(lib, "utf8proc_" + form)(b).decode("utf-8")
            theirs = hf.normalize_str(ch)
            if mine != theirs:
                if theirs == ch:
                    (compat_keep if form.startswith("NFK") else canon_keep).append(c)
                else:
                    unexplained.append((form, c))
        h = low.normalize_str(ch)
        u = "i\u0307" if c == 0x130 else chr(lib.utf8proc_tolower(c))
        if h != u:
            if len(h) != 1:
                unexplained.append(("lower", c))
            else:
                lower_pairs.append((c, ord(h)))
    sets["nfc_keep"] = (sorted(set(canon_keep)), [])
    sets["nfkc_keep"] = (sorted(set(compat_keep) | set(canon_keep)), [])
    if unexplained:
        print(f"/* WARNING: {len(unexplained)} unexplained differences: {unexplained[:20]} */")

    def ranges(cs):
        out = []
        for c in cs:
            if out and out[-1][1] == c - 1:
                out[-1][1] = c
            else:
                out.append([c, c])
        return out

    print(f"/* generated by tools/gen_tokenizer_refs.py --unicode-tables against utf8proc "
          f"(Unicode {lib.utf8proc_unicode_version().decode()}) */")
    for name, (yes, no) in sets.items():
        for tag, cs in (("yes", yes), ("no", no)):
            if name.endswith("_keep") and tag == "no":
                continue
            r = ranges(cs)
            items = [f"{{0x{a:X}, 0x{b:X}}}" for a, b in r] or ["{0, 0}"]
            lines = ["    " + ", ".join(items[i:i + 5]) + "," for i in range(0, len(items), 5)]
            print(f"static const tk_urange hf_{name}_{tag}[] = {{")
            print("\n".join(lines))
            print("};")
    items = [f"{{0x{a:X}, 0x{b:X}}}" for a, b in lower_pairs] or ["{0, 0}"]
    print("static const tk_urange hf_lower[] = { /* {code point, HF lowercase} */")
    print("\n".join("    " + ", ".join(items[i:i + 5]) + "," for i in range(0, len(items), 5)))
    print("};")


def main():
    if "--unicode-tables" in sys.argv:
        unicode_tables()
        return
    os.makedirs(OUT, exist_ok=True)
    cases, n_synth = build_inputs()
    with open(os.path.join(OUT, "inputs.jsonl"), "w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    print(f"{len(cases)} cases ({n_synth} run through the synthetic tokenizers)", file=sys.stderr)

    # roberta-base tokenizer.json from vocab.json + merges.txt (offline)
    from transformers import RobertaTokenizerFast
    rdir = os.path.join(SHARED, "tokenizers", "roberta-base")
    rt = RobertaTokenizerFast(vocab=os.path.join(rdir, "vocab.json"),
                              merges=os.path.join(rdir, "merges.txt"))
    os.makedirs(os.path.join(OUT, "roberta-base"), exist_ok=True)
    rpath = os.path.join(OUT, "roberta-base", "tokenizer.json")
    rj = json.loads(rt.backend_tokenizer.to_str())
    # legacy "a b" merges: half the size, and exercises the legacy form (no token has a space)
    assert all(" " not in a and " " not in b for a, b in rj["model"]["merges"])
    rj["model"]["merges"] = [f"{a} {b}" for a, b in rj["model"]["merges"]]
    with open(rpath, "w", encoding="utf-8") as f:
        json.dump(rj, f, ensure_ascii=False, separators=(",", ":"))

    # all-MiniLM-L6-v2's tokenizer.json (truncation 128 + padding in the file)
    mpath_src = os.path.join(ROOT, "models", "all-MiniLM-L6-v2", "tokenizer.json")
    os.makedirs(os.path.join(OUT, "all-MiniLM-L6-v2"), exist_ok=True)
    mpath = os.path.join(OUT, "all-MiniLM-L6-v2", "tokenizer.json")
    with open(mpath_src, "rb") as src, open(mpath, "wb") as dst:
        dst.write(src.read())

    # bert-base-uncased and ModernBERT: byte-for-byte copies of the shared files
    copied = {}
    for name in ("bert-base-uncased", "ModernBERT"):
        os.makedirs(os.path.join(OUT, name), exist_ok=True)
        copied[name] = os.path.join(OUT, name, "tokenizer.json")
        with open(os.path.join(SHARED, "tokenizers", name, "tokenizer.json"), "rb") as src, \
                open(copied[name], "wb") as dst:
            dst.write(src.read())

    listing = []
    real = [
        ("bert-base-uncased", copied["bert-base-uncased"]),
        ("ModernBERT", copied["ModernBERT"]),
        ("roberta-base", rpath),
        ("all-MiniLM-L6-v2", mpath),
    ]
    for name, path in real:
        # MiniLM equals bert-base-uncased up to its truncation: the short list is enough
        n = n_synth if name == "all-MiniLM-L6-v2" else len(cases)
        run_tokenizer(name, path, cases, n, listing)
    for entry in synth_tokenizers():
        name, path, override = entry[:3]
        n = entry[3] if len(entry) > 3 else n_synth
        run_tokenizer(name, path, cases, n, listing, override)
    with open(os.path.join(OUT, "tokenizers.txt"), "w", encoding="utf-8") as f:
        f.write("# name\ttokenizer.json (relative to the repo root)\tcases\tvocab_size\t"
                "override (JSON: dotted key -> value, or -)\tprobes (token=id)\n")
        for l in listing:
            f.write(l + "\n")


if __name__ == "__main__":
    main()
