#!/usr/bin/env python3
"""tools/gen_model_refs.py -- reference embeddings from Python sentence-transformers
for the C SentenceTransformer tests (tests/test_model_*.c, tests/test_pooling.c).

What it writes (all under tests/data/st_models/):

  sentences.txt        206 texts, one per line: 200 real STS-B test sentences (the
                       first 190 distinct ones + the 10 longest), 4 long XQuAD (en)
                       paragraphs that exceed every max_seq_length used here, then an
                       empty text and a whitespace-only one.
  cases.json           the list of parity cases (see below).
  <case>/              one folder per case: the sentence-transformers module configs
                       of the case (modules.json, sentence_bert_config.json,
                       config_sentence_transformers.json, 1_Pooling/config.json,
                       2_Dense/{config.json,model.safetensors}, ...) -- everything
                       except the Hugging Face model files -- plus
                       expected.f32 (float32 little-endian [n, dim], the output of
                       SentenceTransformer(dir, device="cpu").encode(sentences, ...,
                       convert_to_numpy=True)).
  pooling_ref.json     Pooling forward on random token embeddings, every mode,
                       with and without prompt exclusion (for tests/test_pooling.c).
  similarity_ref.json  model.similarity for cosine/dot/euclidean/manhattan on random
                       embeddings.

A case is assembled into a real model directory (by this script and, identically, by
the C test) as: a temp dir holding symlinks to the Hugging Face files of its base model
(tests/data/models/tiny-<family>/, made by tools/gen_tiny_models.py, or the real
models/all-MiniLM-L6-v2, fetched by tools/fetch_models.sh) plus a copy of the case
folder (minus case files). Base "minilm-inplace" means the real MiniLM directory is used
as it is. Files linked from a base: BASE_FILES below.

cases.json entries:
  {"name", "base": "tiny-bert" | ... | "minilm" | "minilm-inplace",
   "encode": {"batch_size", "normalize", "prompt_name", "prompt", "truncate_dim"},
   "n", "dim", "similarity_fn_name", "max_seq_length"}

Cases per family: cls, mean-norm, max-dense-tanh, msqrt-dense-id-norm, wmean-truncdim,
last-short, concat, prompt-exclude, hf (plain Hugging Face directory), v6-saved (written by
sentence-transformers v6's own save()); plus minilm (the real model in place) and
minilm-prompt-dense.

Usage: python3 tools/gen_model_refs.py [case ...]
  (no argument: every case; with names: only those, the others keep their committed
  case.json). SBERT_ALLOW_MISSING=1 skips families whose tiny model is absent.
  Needs torch, sentence-transformers>=6, safetensors, numpy; CI does not run it: its
  outputs are committed.
"""
import json
import os
import shutil
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "st_models")
MODELS = os.path.join(ROOT, "tests", "data", "models")
MINILM = os.path.join(ROOT, "models", "all-MiniLM-L6-v2")
SHARED = os.environ.get("SBERT_SHARED", os.path.join(os.path.dirname(ROOT), "shared"))
STSB = os.path.join(SHARED, "data", "stsb", "sts-test.csv")
XQUAD = os.path.join(SHARED, "data", "xquad", "xquad.en.json")

FAMILIES = ["bert", "roberta", "xlm-roberta", "distilbert", "mpnet"]
BASE_FILES = ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
              "special_tokens_map.json", "vocab.txt", "vocab.json", "merges.txt",
              "sentencepiece.bpe.model"]
CASE_FILES = {"case.json", "expected.f32"}

LEGACY = {
    "Transformer": "sentence_transformers.models.Transformer",
    "Pooling": "sentence_transformers.models.Pooling",
    "Dense": "sentence_transformers.models.Dense",
    "Normalize": "sentence_transformers.models.Normalize",
}
V6 = {
    "Transformer": "sentence_transformers.base.modules.transformer.Transformer",
    "Pooling": "sentence_transformers.sentence_transformer.modules.pooling.Pooling",
    "Dense": "sentence_transformers.base.modules.dense.Dense",
    "Normalize": "sentence_transformers.base.modules.normalize.Normalize",
}
LEGACY_POOL_KEYS = {
    "cls": "pooling_mode_cls_token",
    "max": "pooling_mode_max_tokens",
    "mean": "pooling_mode_mean_tokens",
    "mean_sqrt_len_tokens": "pooling_mode_mean_sqrt_len_tokens",
    "weightedmean": "pooling_mode_weightedmean_tokens",
    "lasttoken": "pooling_mode_lasttoken",
}
ACT = {"tanh": "torch.nn.modules.activation.Tanh", "identity": "torch.nn.modules.linear.Identity"}


# ----------------------------------------------------------------- sentences

def load_sentences():
    rows = []
    with open(STSB, encoding="utf-8") as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            rows += [cols[5], cols[6]]
    seen, uniq = set(), []
    for s in rows:
        s = s.strip()
        if s and s not in seen and "\n" not in s:
            seen.add(s)
            uniq.append(s)
    first = uniq[:190]
    rest = sorted(uniq[190:], key=lambda s: (-len(s), s))[:10]
    with open(XQUAD, encoding="utf-8") as f:
        xq = json.load(f)
    ctx = [p["context"] for a in xq["data"] for p in a["paragraphs"]]
    # four long paragraphs (287..619 MiniLM tokens), no embedded newlines
    long_ctx = [ctx[i].strip() for i in (8, 59, 76, 77)]
    assert all("\n" not in c for c in long_ctx)
    # edge cases: an empty text and a whitespace-only text (both encode to the special
    # tokens alone)
    return first + rest + long_ctx + ["", "   "]


# -------------------------------------------------------------- case configs

def modules_json(stack, names):
    """stack: list of (class, path)."""
    return [{"idx": i, "name": str(i), "path": p, "type": names[c]} for i, (c, p) in enumerate(stack)]


def pooling_config(dim, modes, legacy, include_prompt=True):
    if legacy:
        cfg = {"word_embedding_dimension": dim}
        for m, k in LEGACY_POOL_KEYS.items():
            cfg[k] = m in modes
        cfg["include_prompt"] = include_prompt
        return cfg
    return {"embedding_dimension": dim, "pooling_mode": modes[0] if len(modes) == 1 else modes,
            "include_prompt": include_prompt}


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def write_dense(folder, in_f, out_f, bias, act, seed):
    from safetensors.numpy import save_file

    rng = np.random.RandomState(seed)
    w = (rng.randn(out_f, in_f) * (1.5 / np.sqrt(in_f))).astype(np.float32)
    tensors = {"linear.weight": w}
    if bias:
        tensors["linear.bias"] = (rng.randn(out_f) * 0.1).astype(np.float32)
    os.makedirs(folder, exist_ok=True)
    save_file(tensors, os.path.join(folder, "model.safetensors"))
    write_json(os.path.join(folder, "config.json"),
               {"in_features": in_f, "out_features": out_f, "bias": bias,
                "activation_function": ACT[act]})


def st_config(prompts=None, default_prompt_name=None, sim=None, truncate_dim=None):
    cfg = {"__version__": {"sentence_transformers": "5.0.0", "transformers": "4.53.0",
                           "pytorch": "2.7.1"},
           "model_type": "SentenceTransformer",
           "prompts": prompts if prompts is not None else {"query": "", "document": ""},
           "default_prompt_name": default_prompt_name,
           "similarity_fn_name": sim}
    if truncate_dim is not None:
        cfg["truncate_dim"] = truncate_dim
    return cfg


def enc(batch_size=32, normalize=False, prompt_name=None, prompt=None, truncate_dim=None):
    return {"batch_size": batch_size, "normalize": normalize, "prompt_name": prompt_name,
            "prompt": prompt, "truncate_dim": truncate_dim}


def make_cases(fam_idx, fam, hidden):
    """The case list of one tiny family: (name, builder(folder) -> encode options)."""
    cases = []
    legacy = fam_idx % 2 == 0
    names = LEGACY if legacy else V6
    base = "tiny-" + fam

    def std(folder, modes, max_len=48, post=(), legacy_pool=True, include_prompt=True,
            stcfg=None, sbc_extra=None, sbc_name="sentence_bert_config.json"):
        stack = [("Transformer", ""), ("Pooling", "1_Pooling")]
        for i, p in enumerate(post):
            stack.append((p, "%d_%s" % (i + 2, p)))
        write_json(os.path.join(folder, "modules.json"), modules_json(stack, names))
        sbc = {"max_seq_length": max_len, "do_lower_case": False}
        sbc.update(sbc_extra or {})
        write_json(os.path.join(folder, sbc_name), sbc)
        write_json(os.path.join(folder, "config_sentence_transformers.json"), stcfg or st_config())
        write_json(os.path.join(folder, "1_Pooling", "config.json"),
                   pooling_config(hidden, modes, legacy_pool, include_prompt))
        return stack

    def c_cls(folder):
        # roberta: do_lower_case=True on a cased tokenizer (Python adds a Lowercase normalizer)
        std(folder, ["cls"], sbc_extra={"do_lower_case": fam == "roberta"},
            sbc_name="sentence_bert_config.json" if fam != "distilbert"
            else "sentence_distilbert_config.json")
        return enc()

    def c_mean_norm(folder):
        std(folder, ["mean"], post=["Normalize"])
        # no 2_Normalize folder: an empty folder can't be committed to git, and both
        # Python and C accept it missing (the real all-MiniLM-L6-v2 has none either)
        return enc(batch_size=16)

    def c_max_dense(folder):
        std(folder, ["max"], post=["Dense"], legacy_pool=False,
            stcfg=st_config(sim="dot"))
        write_dense(os.path.join(folder, "2_Dense"), hidden, 16, True, "tanh", 100 + fam_idx)
        return enc()

    def c_msqrt_dense_id_norm(folder):
        std(folder, ["mean_sqrt_len_tokens"], post=["Dense", "Normalize"])
        write_dense(os.path.join(folder, "2_Dense"), hidden, 24, False, "identity", 200 + fam_idx)
        write_json(os.path.join(folder, "3_Normalize", "config.json"),
                   {"module_input_name": "sentence_embedding",
                    "module_output_name": "sentence_embedding"})
        # a literal prompt, kept in pooling (include_prompt=True)
        return enc(prompt="Represent this sentence: ")

    def c_wmean_trunc(folder):
        std(folder, ["weightedmean"], legacy_pool=not legacy,
            stcfg=st_config(truncate_dim=20, sim="euclidean"))
        return enc(normalize=True, batch_size=10)

    def c_last_short(folder):
        std(folder, ["lasttoken"], max_len=16, stcfg=st_config(sim="manhattan"))
        return enc(batch_size=64)

    def c_concat(folder):
        if legacy:
            std(folder, ["cls", "max"])  # legacy bools: concatenated as cls, max
        else:
            std(folder, ["mean", "cls"], legacy_pool=False)  # v6 list: list order
        return enc()

    def c_prompt_exclude(folder):
        prompts = {"query": "query: ", "passage": "passage: ", "document": ""}
        std(folder, ["mean"], include_prompt=False, legacy_pool=legacy,
            stcfg=st_config(prompts=prompts, default_prompt_name="query"))
        # even families: the default prompt (query); odd: an explicit prompt_name
        return enc(prompt_name=None if legacy else "passage")

    def c_hf(folder):
        os.makedirs(folder, exist_ok=True)  # plain Hugging Face dir: no ST files at all
        return enc(batch_size=7)

    def c_v6_saved(folder):
        # A model built and saved by sentence-transformers v6 itself (v6-native layout:
        # max_seq_length only in tokenizer_config.json model_max_length, v6 type names,
        # v6 Pooling/Dense/Normalize configs). Only the ST files are kept; the Hugging
        # Face weights/tokenizer come from the base like every other case.
        import torch
        from sentence_transformers import SentenceTransformer
        from sentence_transformers.base.modules import Dense, Normalize, Transformer
        from sentence_transformers.sentence_transformer.modules import Pooling

        torch.manual_seed(300 + fam_idx)
        mode = ["weightedmean", "cls", "max", "lasttoken", "mean_sqrt_len_tokens"][fam_idx]
        t = Transformer(os.path.join(MODELS, base), max_seq_length=40)
        st = SentenceTransformer(modules=[t, Pooling(hidden, mode),
                                          Dense(hidden, 16, activation_function=torch.nn.Identity()),
                                          Normalize()], device="cpu")
        with tempfile.TemporaryDirectory() as sd:
            st.save(sd)
            for root, _dirs, files in os.walk(sd):
                for fn_ in files:
                    rel = os.path.relpath(os.path.join(root, fn_), sd)
                    if rel in ("config.json", "model.safetensors", "tokenizer.json", "README.md"):
                        continue
                    os.makedirs(os.path.dirname(os.path.join(folder, rel)) or folder, exist_ok=True)
                    shutil.copy(os.path.join(root, fn_), os.path.join(folder, rel))
        return enc(batch_size=20)

    for name, fn in [("cls", c_cls), ("mean-norm", c_mean_norm), ("max-dense-tanh", c_max_dense),
                     ("msqrt-dense-id-norm", c_msqrt_dense_id_norm), ("wmean-truncdim", c_wmean_trunc),
                     ("last-short", c_last_short), ("concat", c_concat),
                     ("prompt-exclude", c_prompt_exclude), ("hf", c_hf), ("v6-saved", c_v6_saved)]:
        cases.append(("%s-%s" % (fam, name), base, fn))
    return cases


def minilm_cases():
    def inplace(folder):
        os.makedirs(folder, exist_ok=True)
        return enc()

    def derived(folder):
        stack = [("Transformer", ""), ("Pooling", "1_Pooling"), ("Dense", "2_Dense"),
                 ("Normalize", "3_Normalize")]
        write_json(os.path.join(folder, "modules.json"), modules_json(stack, V6))
        write_json(os.path.join(folder, "sentence_bert_config.json"),
                   {"max_seq_length": 40, "do_lower_case": False})
        write_json(os.path.join(folder, "config_sentence_transformers.json"),
                   st_config(prompts={"query": "query: ", "document": ""},
                             default_prompt_name="query"))
        write_json(os.path.join(folder, "1_Pooling", "config.json"),
                   {"embedding_dimension": 384, "pooling_mode": ["cls", "mean"],
                    "include_prompt": False})
        write_dense(os.path.join(folder, "2_Dense"), 768, 32, True, "tanh", 7)
        return enc(truncate_dim=16, normalize=True)

    return [("minilm", "minilm-inplace", inplace), ("minilm-prompt-dense", "minilm", derived)]


# ----------------------------------------------------------------- assembly

def base_dir(base):
    if base in ("minilm", "minilm-inplace"):
        return MINILM
    return os.path.join(MODELS, base)


def assemble(case_dir, base, tmp):
    """Build the model directory of a case in tmp; return its path."""
    if base == "minilm-inplace":
        return MINILM
    dest = os.path.join(tmp, os.path.basename(case_dir))
    os.makedirs(dest)
    src = base_dir(base)
    for f in BASE_FILES:
        p = os.path.join(src, f)
        if os.path.exists(p):
            os.symlink(os.path.abspath(p), os.path.join(dest, f))
    for entry in sorted(os.listdir(case_dir)):
        if entry in CASE_FILES:
            continue
        s = os.path.join(case_dir, entry)
        d = os.path.join(dest, entry)
        if os.path.islink(d):
            os.remove(d)
        if os.path.isdir(s):
            shutil.copytree(s, d)
        else:
            shutil.copy(s, d)
    return dest


# ------------------------------------------------------------ small refs

def gen_pooling_ref():
    import torch
    from sentence_transformers.sentence_transformer.modules import Pooling

    rng = np.random.RandomState(11)
    B, T, D = 4, 7, 5
    lengths = [7, 3, 5, 2]
    tok = rng.randn(B, T, D).astype(np.float32)
    mask = np.zeros((B, T), dtype=np.int64)
    for i, n in enumerate(lengths):
        mask[i, :n] = 1
        tok[i, n:] = rng.randn(T - n, D) * 100  # padding garbage must not leak
    modes = ["cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"]
    out = {"lengths": lengths, "dim": D,
           "tokens": [[float(x) for x in tok[i, :n].reshape(-1)] for i, n in enumerate(lengths)],
           "cases": []}

    def enc_vals(a):
        return [("-inf" if np.isneginf(x) else float(x)) for x in a.reshape(-1)]

    combos = [[m] for m in modes] + [["cls", "mean"], ["lasttoken", "max", "weightedmean"]]
    for ms in combos:
        for plen in (0, 2):
            pool = Pooling(D, pooling_mode=ms if len(ms) > 1 else ms[0], include_prompt=plen == 0)
            feats = {"token_embeddings": torch.from_numpy(tok.copy()),
                     "attention_mask": torch.from_numpy(mask.copy())}
            if plen:
                feats["prompt_length"] = plen
            with torch.no_grad():
                emb = pool(feats)["sentence_embedding"].numpy()
            out["cases"].append({"modes": ms, "prompt_length": plen, "include_prompt": plen == 0,
                                 "output": enc_vals(emb)})
    # config parsing: what Pooling.load_config + Pooling(**config) make of each file
    configs = [
        {"word_embedding_dimension": 8, "pooling_mode_cls_token": False,
         "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
         "pooling_mode_mean_sqrt_len_tokens": False},
        {"word_embedding_dimension": 8, "pooling_mode_lasttoken": True, "pooling_mode_cls_token": True,
         "pooling_mode_max_tokens": True, "pooling_mode_weightedmean_tokens": True,
         "pooling_mode_mean_sqrt_len_tokens": True, "pooling_mode_mean_tokens": True,
         "include_prompt": False},
        {"word_embedding_dimension": 8, "pooling_mode_cls_token": False,
         "pooling_mode_mean_tokens": False},
        {"word_embedding_dimension": 8},
        {"embedding_dimension": 16, "pooling_mode": "weightedmean", "include_prompt": True},
        {"embedding_dimension": 16, "pooling_mode": ["lasttoken", "cls", "mean"]},
        {"embedding_dimension": 16, "pooling_mode": ["max"]},
        {"embedding_dimension": 16, "pooling_mode": "cls", "pooling_mode_mean_tokens": True},
    ]
    out["configs"] = []
    with tempfile.TemporaryDirectory() as tmp:
        for cfg in configs:
            with open(os.path.join(tmp, "config.json"), "w") as f:
                json.dump(cfg, f)
            pool = Pooling.load(tmp)
            pm = pool.pooling_mode
            out["configs"].append({"config": cfg, "dim": pool.embedding_dimension,
                                   "modes": [pm] if isinstance(pm, str) else list(pm),
                                   "include_prompt": bool(pool.include_prompt),
                                   "output_dim": pool.get_embedding_dimension()})
    with open(os.path.join(OUT, "pooling_ref.json"), "w") as f:
        json.dump(out, f)


def gen_similarity_ref():
    import torch
    from sentence_transformers import util

    rng = np.random.RandomState(5)
    a = rng.randn(5, 8).astype(np.float32)
    b = rng.randn(4, 8).astype(np.float32)
    a[2] *= 0.0  # a zero row (cosine: eps clamp)
    res = {"a": a.reshape(-1).tolist(), "b": b.reshape(-1).tolist(), "na": 5, "nb": 4, "dim": 8}
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    res["cosine"] = util.cos_sim(ta, tb).numpy().reshape(-1).tolist()
    res["dot"] = util.dot_score(ta, tb).numpy().reshape(-1).tolist()
    res["euclidean"] = util.euclidean_sim(ta, tb).numpy().reshape(-1).tolist()
    res["manhattan"] = util.manhattan_sim(ta, tb).numpy().reshape(-1).tolist()
    with open(os.path.join(OUT, "similarity_ref.json"), "w") as f:
        json.dump(res, f)


# -------------------------------------------------------------------- main

def main():
    import torch
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(0)
    os.makedirs(OUT, exist_ok=True)
    sentences = load_sentences()
    with open(os.path.join(OUT, "sentences.txt"), "w", encoding="utf-8") as f:
        for s in sentences:
            f.write(s + "\n")

    all_cases = []
    for i, fam in enumerate(FAMILIES):
        d = os.path.join(MODELS, "tiny-" + fam)
        if not os.path.exists(os.path.join(d, "model.safetensors")):
            if os.environ.get("SBERT_ALLOW_MISSING"):
                print("warning: skipping %s (missing)" % d)
                continue
            sys.exit("missing %s (run tools/gen_tiny_models.py)" % d)
        with open(os.path.join(d, "config.json")) as f:
            cfg = json.load(f)
        hidden = cfg.get("hidden_size", cfg.get("dim"))
        all_cases += make_cases(i, fam, hidden)
    if not os.path.exists(os.path.join(MINILM, "model.safetensors")):
        sys.exit("missing %s (run tools/fetch_models.sh)" % MINILM)
    all_cases += minilm_cases()

    only = set(sys.argv[1:])
    manifest = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, base, builder in all_cases:
            folder = os.path.join(OUT, name)
            if only and name not in only:
                with open(os.path.join(folder, "case.json")) as f:
                    manifest.append(json.load(f))
                continue
            if os.path.exists(folder):
                shutil.rmtree(folder)
            os.makedirs(folder)
            opts = builder(folder)
            mdir = assemble(folder, base, tmp)
            model = SentenceTransformer(mdir, device="cpu")
            kw = dict(batch_size=opts["batch_size"], normalize_embeddings=opts["normalize"],
                      convert_to_numpy=True)
            if opts["prompt_name"] is not None:
                kw["prompt_name"] = opts["prompt_name"]
            if opts["prompt"] is not None:
                kw["prompt"] = opts["prompt"]
            if opts["truncate_dim"] is not None:
                kw["truncate_dim"] = opts["truncate_dim"]
            emb = model.encode(sentences, **kw).astype("<f4")
            assert emb.shape[0] == len(sentences)
            emb.tofile(os.path.join(folder, "expected.f32"))
            entry = {"name": name, "base": base, "encode": opts, "n": int(emb.shape[0]),
                     "dim": int(emb.shape[1]), "similarity_fn_name": model.similarity_fn_name,
                     "max_seq_length": int(model.max_seq_length),
                     "prompts": dict(model.prompts), "default_prompt_name": model.default_prompt_name,
                     "truncate_dim": model.truncate_dim}
            write_json(os.path.join(folder, "case.json"), entry)
            manifest.append(entry)
            print("%-36s dim %4d  max_seq_length %4d  sim %s" % (name, emb.shape[1],
                                                               model.max_seq_length,
                                                               model.similarity_fn_name))
    write_json(os.path.join(OUT, "cases.json"), manifest)
    gen_pooling_ref()
    gen_similarity_ref()


if __name__ == "__main__":
    main()
