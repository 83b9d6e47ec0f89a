#!/usr/bin/env python3
"""tools/gen_mining_ce_refs.py -- references for `sbert mine --cross-encoder` (tests/test_mine_ce.c):
sentence-transformers 6.2.0's util.mine_hard_negatives(..., cross_encoder=CrossEncoder(...)) run end to
end (real encode with models/all-MiniLM-L6-v2, real CrossEncoder predict) on the TrecQA mining data of
tests/data/mining/ (trecqa_pairs.jsonl, separate corpus trecqa_corpus.txt).

The CrossEncoder is tests/data/cross_encoder/tiny-bert-l1 (BertForSequenceClassification, one label,
Sigmoid; the folder CrossEncoder.save wrote, rebuilt from saved/ + head.safetensors + the tiny-bert
weights exactly as tests/test_ce_util.h rebuilds it). Its scores replace the bi-encoder's for the
candidates and the positives when a filter is set (margins, max_score, min_score); without a filter
mine_hard_negatives does not use it.

Writes tests/data/mining/ce/refs.json: {"versions", "configs": [{"name", "kwargs", "columns",
"n_rows", "report", "file"}]} and tests/data/mining/ce/<name>.jsonl, the returned Dataset's rows as
JSON lines (what `sbert mine` writes).
Run: /work/venv/bin/python tools/gen_mining_ce_refs.py [config ...]  (named configs only: the others'
entries in refs.json are kept)
"""
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MINING = os.path.join(ROOT, "tests", "data", "mining")
OUT = os.path.join(MINING, "ce")
MODEL = os.path.join(ROOT, "models", "all-MiniLM-L6-v2")
CE_NAME = "tiny-bert-l1"

CONFIGS = [
    ("ce_pair_absmargin", {"output_format": "labeled-pair", "output_scores": True, "absolute_margin": 0.0,
                           "range_max": 20}),
    ("ce_ntuple_relmargin", {"output_format": "n-tuple", "output_scores": True, "num_negatives": 2,
                             "relative_margin": 0.001, "range_max": 15}),
    ("ce_triplet_max", {"output_scores": True, "max_score": 0.8905, "range_max": 25, "num_negatives": 2}),
    ("ce_list_min_derived", {"output_format": "labeled-list", "output_scores": True, "min_score": 0.45,
                             "num_negatives": 2}),
    ("ce_unused_no_filter", {"output_format": "n-tuple", "output_scores": True, "num_negatives": 2}),
]


def build_ce(dst):
    from safetensors.torch import load_file, save_file
    src = os.path.join(ROOT, "tests", "data", "cross_encoder", CE_NAME)
    with open(os.path.join(src, "ref.json"), encoding="utf-8") as f:
        ref = json.load(f)
    os.makedirs(dst, exist_ok=True)
    for name in os.listdir(os.path.join(src, "saved")):
        shutil.copy(os.path.join(src, "saved", name), os.path.join(dst, name))
    shutil.copy(os.path.join(ROOT, ref["tokenizer_json"]), os.path.join(dst, "tokenizer.json"))
    base = load_file(os.path.join(ROOT, ref["weights"]["base_file"]))
    head = load_file(os.path.join(src, "head.safetensors"))
    tensors = {}
    for t in ref["weights"]["tensors"]:
        tensors[t["name"]] = (head if t["source"] == "head" else base)[t["source_key"]].float().contiguous()
    save_file(tensors, os.path.join(dst, "model.safetensors"))


def main():
    from datasets import Dataset
    from sentence_transformers import CrossEncoder, SentenceTransformer, __version__ as st_version
    from sentence_transformers.util import mine_hard_negatives
    import transformers

    torch.set_num_threads(2)
    with open(os.path.join(MINING, "trecqa_pairs.jsonl"), encoding="utf-8") as f:
        rows = [json.loads(l) for l in f if l.strip()]
    with open(os.path.join(MINING, "trecqa_corpus.txt"), encoding="utf-8") as f:
        corpus = [l.rstrip("\n").rstrip("\r") for l in f]
    model = SentenceTransformer(MODEL, device="cpu")
    os.makedirs(OUT, exist_ok=True)
    only = sys.argv[1:]
    out = []
    old = {}
    if only and os.path.exists(os.path.join(OUT, "refs.json")):
        with open(os.path.join(OUT, "refs.json"), encoding="utf-8") as f:
            old = {c["name"]: c for c in json.load(f)["configs"]}
    with tempfile.TemporaryDirectory() as tmp:
        build_ce(tmp)
        ce = CrossEncoder(tmp, device="cpu")
        for name, kw in CONFIGS:
            if only and name not in only:
                out.append(old[name])
                continue
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                res = mine_hard_negatives(Dataset.from_list(rows), model, corpus=corpus, cross_encoder=ce,
                                          verbose=True, **kw)
            path = os.path.join(OUT, f"{name}.jsonl")
            with open(path, "w", encoding="utf-8") as f:
                for r in res:
                    f.write(json.dumps(r, ensure_ascii=False) + "\n")
            out.append({"name": name, "kwargs": kw, "columns": res.column_names, "n_rows": len(res),
                        "report": [l for l in buf.getvalue().splitlines() if l.strip()],
                        "file": os.path.relpath(path, ROOT)})
            print(f"{name}: {len(res)} rows")
    with open(os.path.join(OUT, "refs.json"), "w", encoding="utf-8") as f:
        json.dump({"generator": "tools/gen_mining_ce_refs.py", "cross_encoder": CE_NAME,
                   "versions": {"sentence_transformers": st_version, "torch": torch.__version__,
                                "transformers": transformers.__version__, "python": sys.version.split()[0]},
                   "configs": out}, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
