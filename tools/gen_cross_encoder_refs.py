#!/usr/bin/env python3
"""Reference data for a CrossEncoder implementation, written by sentence-transformers'
own CrossEncoder (save / load / predict / rank) on tiny random sequence-classification
models and on all-MiniLM-L6-v2 with a fresh head.

Run: python3 tools/gen_cross_encoder_refs.py [--full DIR]
  (needs torch, transformers, sentence-transformers, tests/data/models/tiny-* from
  tools/gen_tiny_models.py and models/all-MiniLM-L6-v2 from tools/fetch_models.sh;
  offline). --full DIR also leaves the complete folders CrossEncoder.save wrote in
  DIR/<model name>/ (the MiniLM one is ~90 MB: never commit it).

Models (tests/data/cross_encoder/<name>/):
  tiny-<family>-l<N>  family in bert, roberta, xlm-roberta, distilbert, mpnet; N = num_labels
                      1 or 3. <Family>ForSequenceClassification built by transformers from
                      tests/data/models/tiny-<family> (same config, same encoder weights: the
                      fp16-rounded values, upcast to fp32), num_labels N (N = 3 gets
                      id2label {0: contradiction, 1: entailment, 2: neutral}); the head
                      parameters that the tiny encoder lacks are drawn N(0, 0.2^2) from a
                      seeded generator and rounded to fp16 values. Wrapped as
                      CrossEncoder(folder, max_length=24), saved with CrossEncoder.save, and
                      RE-LOADED from the saved folder; every reference below comes from the
                      re-loaded model.
  minilm-l1           CrossEncoder("models/all-MiniLM-L6-v2", num_labels=1) (offline; ST logs
                      "Converting SentenceTransformer model ... to CrossEncoder"): the
                      encoder + pooler of all-MiniLM-L6-v2, classifier.weight/bias overwritten
                      with seeded N(0, 0.1^2) values; max_length left at its default.

Files per model:
  head.safetensors    F32: the tensors of the saved model.safetensors that are NOT in the base
                      encoder file (tiny: classifier.*, pre_classifier.* (distilbert),
                      classifier.dense/out_proj.* (roberta, xlm-roberta, mpnet); minilm:
                      classifier.*), under the names they have in the saved file.
  saved/              the small files CrossEncoder.save wrote, byte for byte: config.json,
                      modules.json, sentence_bert_config.json,
                      config_sentence_transformers.json, tokenizer_config.json (+
                      special_tokens_map.json when written). Not committed: model.safetensors,
                      tokenizer.json, README.md (listed in ref.json "saved_files").
                      To rebuild an equivalent folder: these files + the base tokenizer.json
                      ("tokenizer_json" in ref.json) + a model.safetensors made of ref.json
                      "weights" (each tensor from the base file or head.safetensors, as F32).
                      The saved tokenizer.json is transformers' re-serialisation of the base
                      one: "tokenizer_json_differences" lists where the JSON differs (BERT
                      family: only /model/type "WordPiece" added; XLM-R: transformers 5
                      rebuilds the normalizer / pre-tokenizer, see the report) and
                      "base_tokenizer_mismatches" the pairs on which the base tokenizer.json
                      (tokenizers library, longest_first at max_seq_length) gives other ids
                      than the CrossEncoder's own tokenizer (empty = the base file is a
                      faithful stand-in for these pairs).
  ref.json
    {"generator", "versions": {sentence_transformers, transformers, torch},
     "name", "family", "architecture" (config.json architectures[0]), "num_labels",
     "id2label", "max_seq_length" (of the re-loaded model), "activation_fn" (fullname of
     the default activation), "base_model" (folder the encoder came from),
     "tokenizer_json" (path of the tokenizer.json to use), "head_file",
     "saved_files": [{"name", "size", "committed"}],
     "tokenizer_json_differences": [{"path", "base", "saved"}], "base_tokenizer_mismatches": [i],
     "config_has_sentence_transformers_block": false in 6.x (see layouts.json),
     "saved_config_sentence_transformers": parsed config_sentence_transformers.json,
     "saved_sentence_bert_config": parsed sentence_bert_config.json,
     "weights": {"saved_dtype": "F32", "base_file", "base_dtype",
                 "tensors": [{"name", "shape", "source": "base" | "head", "source_key"}]},
     "model_inputs": names of the features the HF model's forward() receives,
     "pairs_file": "tests/data/cross_encoder/pairs.json",
     "features": [{"input_ids": [...], "token_type_ids": [...] | null}] per pair:
                 CrossEncoder.preprocess([pair]) of that pair alone (no padding; the
                 attention mask is all ones), i.e. the model's tokenizer with
                 truncation="longest_first" at max_seq_length,
     "logits": [[num_labels]] per pair: the model run on that pair alone (batch 1),
     "predict_default": predict(pairs) (batch 32, ST's length-sorted padded batches; the
                 default activation: Sigmoid for num_labels 1, Identity for 3) -> [n] or [n, 3],
     "predict_identity": predict(pairs, activation_fn=torch.nn.Identity()),
     "predict_softmax": predict(pairs, apply_softmax=True) (num_labels 3 only),
     "rank": {"query", "documents" (indices into pairs.json rank_documents),
              "default": rank(query, docs) -> [{"corpus_id", "score"}] sorted,
              "top3_docs": rank(query, docs, top_k=3, return_documents=True),
              "identity": rank(query, docs, activation_fn=Identity())}
             or {"error": message} for num_labels != 1 (rank() refuses those)}
  Values are float32 results printed as doubles. Batched predict may differ from the
  batch-1 logits by ~1e-7 (padding changes the summation order).

tests/data/cross_encoder/pairs.json
  {"pairs": [[query, passage], ...] with "pair_sources" (where each text came from),
   "rank_query", "rank_documents": [...]}
  Real text: TrecQA (test.csv: a question and its 10 candidate answer sentences) and XQuAD
  (en, de: questions, answers, contexts), plus a pair with an empty query, one with an
  empty passage and one where both sides are long (longest_first trims both).

tests/data/cross_encoder/layouts.json
  How sentence-transformers 6 picks the activation when loading folders of other layouts
  (tiny-bert-l1 weights): [{"layout", "what", "activation_fn", "num_labels",
  "max_seq_length", "predict": first 4 pairs}] for: the folder as saved (v6: modules.json +
  config_sentence_transformers.json "activation_fn"); a plain HF folder (no
  sentence-transformers files); an HF folder whose config.json has the v4/v5 block
  "sentence_transformers": {"activation_fn": ..., "version": ...}; an HF folder with the
  pre-v4 key "sbert_ce_default_activation_function"; a v6 folder whose activation_fn is not
  under "torch." (ignored with a warning unless trust_remote_code: the default is used).
"""
import argparse
import csv
import hashlib
import inspect
import json
import os
import shutil
import sys
import tempfile

import sentence_transformers
import torch
import transformers
from safetensors import safe_open
from safetensors.torch import save_file
from sentence_transformers import CrossEncoder
from sentence_transformers.util import fullname
from tokenizers import Tokenizer
from transformers import AutoModelForSequenceClassification

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("SBERT_SHARED", os.path.join(os.path.dirname(ROOT), "shared"))
OUT = os.path.join(ROOT, "tests", "data", "cross_encoder")
TINY = os.path.join(ROOT, "tests", "data", "models")
MINILM = os.path.join(ROOT, "models", "all-MiniLM-L6-v2")
FAMILIES = ["bert", "roberta", "xlm-roberta", "distilbert", "mpnet"]
SEED = 2468
MAX_LEN = 24
VERSIONS = {"sentence_transformers": sentence_transformers.__version__,
            "transformers": transformers.__version__, "torch": torch.__version__}
SMALL_FILES = ["config.json", "modules.json", "sentence_bert_config.json",
               "config_sentence_transformers.json", "tokenizer_config.json", "special_tokens_map.json"]
ID2LABEL3 = {0: "contradiction", 1: "entailment", 2: "neutral"}


def rel(p):
    return os.path.relpath(p, ROOT)


def write_json(path, obj, indent=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=indent)
        f.write("\n")
    os.replace(path + ".tmp", path)


def make_pairs():
    groups = {}
    with open(os.path.join(SHARED, "data", "trecqa-answer-selection", "test.csv"), encoding="utf-8") as f:
        for r in csv.DictReader(f):
            groups.setdefault(r["qtext"], []).append(r["atext"])
    qs = list(groups)
    rank_q = qs[0]  # "What do practitioners of Wicca worship ?" with 10 candidates
    docs = groups[rank_q][:10]
    assert len(docs) == 10
    en = json.load(open(os.path.join(SHARED, "data", "xquad", "xquad.en.json"), encoding="utf-8"))
    de = json.load(open(os.path.join(SHARED, "data", "xquad", "xquad.de.json"), encoding="utf-8"))
    p0 = en["data"][0]["paragraphs"][0]
    p1 = en["data"][1]["paragraphs"][0]
    d0 = de["data"][0]["paragraphs"][0]
    pairs, src = [], []

    def add(q, p, s):
        pairs.append([q, p])
        src.append(s)

    for i, d in enumerate(docs[:6]):
        add(rank_q, d, f"trecqa test.csv: question 0, candidate {i}")
    fl = qs[2]  # Florence Nightingale
    add(fl, groups[fl][0], "trecqa test.csv: question 2, candidate 0")
    add(qs[3], groups[qs[3]][0], "trecqa test.csv: question 3, candidate 0")
    add(p0["qas"][0]["question"], p0["context"], "xquad.en: article 0 paragraph 0, question 0 / context")
    add(p0["qas"][1]["question"], p0["context"], "xquad.en: article 0 paragraph 0, question 1 / context")
    add(p1["qas"][0]["question"], p1["context"], "xquad.en: article 1 paragraph 0, question 0 / context")
    add(p0["qas"][0]["question"], p0["qas"][0]["answers"][0]["text"], "xquad.en: question 0 / its answer")
    add(p1["qas"][1]["question"], p1["qas"][1]["answers"][0]["text"], "xquad.en: article 1 question 1 / answer")
    add(d0["qas"][0]["question"], d0["context"], "xquad.de: article 0 paragraph 0, question 0 / context")
    add(d0["qas"][2]["question"], d0["qas"][2]["answers"][0]["text"], "xquad.de: question 2 / its answer")
    add("", p1["qas"][0]["answers"][0]["text"] + ".", "empty query / xquad.en answer")
    add(p1["qas"][2]["question"], "", "xquad.en question / empty passage")
    add(p0["context"], p1["context"], "xquad.en context / context (both long)")
    add(qs[5], groups[qs[5]][0], "trecqa test.csv: question 5, candidate 0")
    add(p1["qas"][3]["question"], p1["qas"][3]["answers"][0]["text"], "xquad.en: article 1 question 3 / answer")
    return {"pairs": pairs, "pair_sources": src, "rank_query": rank_q, "rank_documents": docs,
            "rank_source": "trecqa test.csv: question 0 and its 10 candidate answers"}


def json_diff(a, b, path=""):
    """Paths where two parsed JSON values differ: [{"path", "base", "saved"}]."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in list(a) + [k for k in b if k not in a]:
            out += json_diff(a.get(k), b.get(k), f"{path}/{k}")
        return out
    def short(v):
        if isinstance(v, (dict, list)):
            return "<%s>" % type(v).__name__
        if isinstance(v, str) and len(v) > 120:
            return "<string of %d chars>" % len(v)
        return v

    if a != b:
        return [{"path": path, "base": short(a), "saved": short(b)}]
    return []


def safetensors_index(path):
    with safe_open(path, "pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}


def file_dtype(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        h = json.loads(f.read(n))
    return sorted({v["dtype"] for k, v in h.items() if k != "__metadata__"})


def head_keys(model, base):
    """Saved-state keys not present in the base encoder file (with or without the prefix)."""
    prefix = model.base_model_prefix + "."
    out = []
    for k in model.state_dict():
        stripped = k[len(prefix):] if k.startswith(prefix) else k
        if k not in base and stripped not in base:
            out.append(k)
    return out


def save_folder_files(folder):
    return [{"name": os.path.relpath(os.path.join(r, f), folder),
             "size": os.path.getsize(os.path.join(r, f))}
            for r, _, fs in sorted(os.walk(folder)) for f in sorted(fs)]


def weights_map(saved_dir, base_file, head):
    saved = safetensors_index(os.path.join(saved_dir, "model.safetensors"))
    base = safetensors_index(base_file)
    tensors = []
    for name, t in saved.items():
        assert t.dtype == torch.float32, (name, t.dtype)
        if name in head:
            src, key = "head", name
            ref = head[name]
        else:
            key = None
            for cand in (name, name.split(".", 1)[1] if "." in name else name):
                if cand in base:
                    key = cand
                    break
            assert key is not None, f"{name}: not in base nor head"
            src, ref = "base", base[key]
        assert torch.equal(t, ref.float()), f"{name}: saved tensor differs from {src}:{key}"
        tensors.append({"name": name, "shape": list(t.shape), "source": src, "source_key": key})
    return {"saved_dtype": "F32", "base_file": rel(base_file), "base_dtype": file_dtype(base_file),
            "tensors": tensors}


def run_refs(ce, pdata, num_labels):
    pairs = pdata["pairs"]
    feats, logits = [], []
    sig = set(inspect.signature(ce.model.forward).parameters)
    consumed = None
    with torch.no_grad():
        for q, p in pairs:
            f = ce.preprocess([[q, p]])
            assert int(f["attention_mask"].min()) == 1
            feats.append({"input_ids": f["input_ids"][0].tolist(),
                          "token_type_ids": f["token_type_ids"][0].tolist() if "token_type_ids" in f else None})
            if consumed is None:
                consumed = [k for k in f if k in sig]
            logits.append(ce(f)["scores"][0].double().tolist())
    ref = {"model_inputs": consumed, "features": feats, "logits": logits,
           "predict_default": ce.predict(pairs).astype("float64").tolist(),
           "predict_identity": ce.predict(pairs, activation_fn=torch.nn.Identity()).astype("float64").tolist()}
    if num_labels > 1:
        ref["predict_softmax"] = ce.predict(pairs, apply_softmax=True).astype("float64").tolist()
    q, docs = pdata["rank_query"], pdata["rank_documents"]
    if num_labels == 1:
        ref["rank"] = {"query": q, "documents": list(range(len(docs))),
                       "default": ce.rank(q, docs),
                       "top3_docs": ce.rank(q, docs, top_k=3, return_documents=True),
                       "identity": ce.rank(q, docs, activation_fn=torch.nn.Identity())}
    else:
        try:
            ce.rank(q, docs)
            ref["rank"] = {"error": None}
        except ValueError as e:
            ref["rank"] = {"error": f"ValueError: {e}"}
    # batched and single-pair logits agree
    ident = torch.tensor(ref["predict_identity"]).reshape(len(pairs), -1)
    assert torch.allclose(ident, torch.tensor(logits), atol=1e-5), (ident, logits)
    return ref


def finish(name, ce_saved_dir, ce, pdata, meta, full_dir):
    dest = os.path.join(OUT, name)
    if os.path.exists(dest):
        shutil.rmtree(dest)
    os.makedirs(os.path.join(dest, "saved"))
    files = save_folder_files(ce_saved_dir)
    for f in files:
        f["committed"] = f["name"] in SMALL_FILES
        if f["committed"]:
            shutil.copyfile(os.path.join(ce_saved_dir, f["name"]), os.path.join(dest, "saved", f["name"]))
    # tokenizer.json: the saved one is the base one re-serialised (checked)
    with open(os.path.join(ce_saved_dir, "tokenizer.json"), encoding="utf-8") as f:
        tj_saved = json.load(f)
    with open(os.path.join(ROOT, meta["tokenizer_json"]), encoding="utf-8") as f:
        tj_base = json.load(f)
    tj_diff = json_diff(tj_base, tj_saved)
    with open(os.path.join(ce_saved_dir, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    with open(os.path.join(ce_saved_dir, "config_sentence_transformers.json"), encoding="utf-8") as f:
        cst = json.load(f)
    with open(os.path.join(ce_saved_dir, "sentence_bert_config.json"), encoding="utf-8") as f:
        sbc = json.load(f)
    head = meta.pop("head")
    save_file({k: v.float().contiguous() for k, v in head.items()}, os.path.join(dest, "head.safetensors"))
    os.chmod(os.path.join(dest, "head.safetensors"), 0o644)
    ref = {"generator": "tools/gen_cross_encoder_refs.py", "versions": VERSIONS, "name": name, **meta,
           "architecture": cfg["architectures"][0], "num_labels": ce.num_labels,
           "id2label": cfg.get("id2label"), "config_has_sentence_transformers_block": "sentence_transformers" in cfg,
           "max_seq_length": ce.max_seq_length, "activation_fn": fullname(ce.activation_fn),
           "head_file": rel(os.path.join(dest, "head.safetensors")), "saved_files": files,
           "tokenizer_json_differences": tj_diff,
           "saved_config_sentence_transformers": cst, "saved_sentence_bert_config": sbc,
           "weights": weights_map(ce_saved_dir, os.path.join(ROOT, meta["base_weights"]), head),
           "pairs_file": rel(os.path.join(OUT, "pairs.json"))}
    ref.update(run_refs(ce, pdata, ce.num_labels))
    # Does the base tokenizer.json (what a C test would load) give the same ids as the
    # tokenizer the re-loaded CrossEncoder uses (= the saved tokenizer.json)?
    tok = Tokenizer.from_file(os.path.join(ROOT, meta["tokenizer_json"]))
    tok.no_padding()
    tok.enable_truncation(max_length=ce.max_seq_length, strategy="longest_first")
    bad = []
    for i, ((q, p), f) in enumerate(zip(pdata["pairs"], ref["features"])):
        e = tok.encode(q, p)
        if e.ids != f["input_ids"] or (f["token_type_ids"] is not None and e.type_ids != f["token_type_ids"]):
            bad.append(i)
    ref["base_tokenizer_mismatches"] = bad
    if bad:
        print(f"  WARNING {name}: {meta['tokenizer_json']} differs from the saved tokenizer on pairs {bad}")
    write_json(os.path.join(dest, "ref.json"), ref)
    if full_dir:
        fd = os.path.join(full_dir, name)
        if os.path.exists(fd):
            shutil.rmtree(fd)
        shutil.copytree(ce_saved_dir, fd)
    size = sum(os.path.getsize(os.path.join(dest, r, f)) for r, _, fs in os.walk(dest) for f in fs)
    print(f"{name}: {ref['architecture']}, labels {ce.num_labels}, max_seq_length {ce.max_seq_length}, "
          f"{ref['activation_fn']}, {size} bytes committed; logits[0] {ref['logits'][0]}")
    return ref


def seeded_gen(name):
    return torch.Generator().manual_seed(SEED + int(hashlib.sha256(name.encode()).hexdigest()[:6], 16))


def gen_tiny(family, num_labels, pdata, tmp, full_dir):
    name = f"tiny-{family}-l{num_labels}"
    src = os.path.join(TINY, "tiny-" + family)
    base_file = os.path.join(src, "model.safetensors")
    base = safetensors_index(base_file)
    kw = {"num_labels": num_labels}
    if num_labels == 3:
        kw.update(id2label=ID2LABEL3, label2id={v: k for k, v in ID2LABEL3.items()})
    model = AutoModelForSequenceClassification.from_pretrained(src, dtype=torch.float32, **kw)
    keys = head_keys(model, base)
    g = seeded_gen(name)
    sd = model.state_dict()
    with torch.no_grad():
        for k in keys:
            sd[k].copy_((0.2 * torch.randn(sd[k].shape, generator=g)).half().float())
    hf = os.path.join(tmp, name + "-hf")
    model.save_pretrained(hf)
    for f in os.listdir(src):
        if f.startswith("tokenizer") or f == "special_tokens_map.json":
            shutil.copy(os.path.join(src, f), hf)
    ce = CrossEncoder(hf, max_length=MAX_LEN, device="cpu")
    saved = os.path.join(tmp, name)
    ce.save(saved)
    ce = CrossEncoder(saved, device="cpu")
    assert ce.max_seq_length == MAX_LEN
    head = {k: sd[k].detach().clone() for k in keys}
    meta = {"family": family, "base_model": rel(src), "base_weights": rel(base_file),
            "tokenizer_json": rel(os.path.join(src, "tokenizer.json")), "head": head,
            "built_with": f"CrossEncoder(<HF folder>, max_length={MAX_LEN}); save(); CrossEncoder(<saved>)"}
    return finish(name, saved, ce, pdata, meta, full_dir), saved


def gen_minilm(pdata, tmp, full_dir):
    name = "minilm-l1"
    ce = CrossEncoder(MINILM, num_labels=1, device="cpu", local_files_only=True)
    g = seeded_gen(name)
    clf = ce.model.classifier
    with torch.no_grad():
        clf.weight.copy_(0.1 * torch.randn(clf.weight.shape, generator=g))
        clf.bias.copy_(0.1 * torch.randn(clf.bias.shape, generator=g))
    saved = os.path.join(tmp, name)
    ce.save(saved)
    ce = CrossEncoder(saved, device="cpu")
    head = {"classifier.weight": clf.weight.detach().clone(), "classifier.bias": clf.bias.detach().clone()}
    meta = {"family": "bert", "base_model": rel(MINILM), "base_weights": rel(os.path.join(MINILM, "model.safetensors")),
            "tokenizer_json": rel(os.path.join(MINILM, "tokenizer.json")), "head": head,
            "built_with": 'CrossEncoder("models/all-MiniLM-L6-v2", num_labels=1); classifier overwritten; '
                          "save(); CrossEncoder(<saved>)"}
    return finish(name, saved, ce, pdata, meta, full_dir)


def gen_layouts(saved_bert_l1, pdata, tmp):
    """Activation resolution for other folder layouts (weights of tiny-bert-l1)."""
    pairs = pdata["pairs"][:4]
    out = []

    def load(path, layout, what, **kw):
        ce = CrossEncoder(path, device="cpu", **kw)
        out.append({"layout": layout, "what": what, "activation_fn": fullname(ce.activation_fn),
                    "num_labels": ce.num_labels, "max_seq_length": ce.max_seq_length,
                    "predict": ce.predict(pairs).astype("float64").tolist()})

    load(saved_bert_l1, "v6", "folder as CrossEncoder.save wrote it")
    hf = os.path.join(tmp, "layout-hf")
    shutil.copytree(saved_bert_l1, hf)
    for f in ("modules.json", "sentence_bert_config.json", "config_sentence_transformers.json", "README.md"):
        os.remove(os.path.join(hf, f))
    load(hf, "hf", "plain transformers folder: no modules.json / ST configs")
    with open(os.path.join(hf, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    v5 = os.path.join(tmp, "layout-v5")
    shutil.copytree(hf, v5)
    write_json(os.path.join(v5, "config.json"),
               {**cfg, "sentence_transformers": {"activation_fn": "torch.nn.modules.linear.Identity",
                                                 "version": "5.1.0"}}, indent=2)
    load(v5, "v4/v5", 'config.json "sentence_transformers": {"activation_fn": '
                      '"torch.nn.modules.linear.Identity", "version": "5.1.0"}')
    v3 = os.path.join(tmp, "layout-v3")
    shutil.copytree(hf, v3)
    write_json(os.path.join(v3, "config.json"),
               {**cfg, "sbert_ce_default_activation_function": "torch.nn.modules.activation.Tanh"}, indent=2)
    load(v3, "pre-v4", 'config.json "sbert_ce_default_activation_function": "torch.nn.modules.activation.Tanh"')
    v6u = os.path.join(tmp, "layout-v6-untrusted")
    shutil.copytree(saved_bert_l1, v6u)
    p = os.path.join(v6u, "config_sentence_transformers.json")
    with open(p, encoding="utf-8") as f:
        cst = json.load(f)
    cst["activation_fn"] = "mypackage.activations.Custom"
    write_json(p, cst, indent=2)
    load(v6u, "v6", 'config_sentence_transformers.json "activation_fn": "mypackage.activations.Custom" '
                    "(not torch.*, trust_remote_code False)")
    v6i = os.path.join(tmp, "layout-v6-identity")
    shutil.copytree(saved_bert_l1, v6i)
    cst["activation_fn"] = "torch.nn.modules.linear.Identity"
    write_json(os.path.join(v6i, "config_sentence_transformers.json"), cst, indent=2)
    load(v6i, "v6", 'config_sentence_transformers.json "activation_fn": "torch.nn.modules.linear.Identity"')
    write_json(os.path.join(OUT, "layouts.json"),
               {"generator": "tools/gen_cross_encoder_refs.py", "versions": VERSIONS,
                "model": "tiny-bert-l1", "pairs": "first 4 of pairs.json", "cases": out}, indent=1)
    for c in out:
        print(f"  layout {c['layout']}: {c['what'][:60]} -> {c['activation_fn']}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", help="also keep the complete saved folders here")
    ap.add_argument("models", nargs="*", help="subset: tiny-<family>-l<N>, minilm-l1, layouts")
    a = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.manual_seed(SEED)
    pdata = make_pairs()
    write_json(os.path.join(OUT, "pairs.json"), pdata, indent=1)
    want = set(a.models)
    tmp = tempfile.mkdtemp(prefix="sbert_ce_refs_")
    try:
        saved_bert = None
        for fam in FAMILIES:
            for nl in (1, 3):
                nm = f"tiny-{fam}-l{nl}"
                if want and nm not in want and not (nm == "tiny-bert-l1" and "layouts" in want):
                    continue
                _, saved = gen_tiny(fam, nl, pdata, tmp, a.full)
                if nm == "tiny-bert-l1":
                    saved_bert = saved
        if not want or "layouts" in want:
            gen_layouts(saved_bert, pdata, tmp)
        if not want or "minilm-l1" in want:
            gen_minilm(pdata, tmp, a.full)
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    sys.exit(main())
