#!/usr/bin/env python3
"""tools/gen_prune_refs.py -- references for layer pruning (recipe key layers_to_keep,
`sbert prune`, sbert_model_keep_layers; tests/test_prune.c).

sentence-transformers 6.2.0 prunes a copy of a model as its
model_distillation_layer_reduction.py example does (and the skill's "copy the teacher, keep
layers 0, 3, 6 and 9"):

    student = SentenceTransformer(teacher_dir)
    auto = student[0].auto_model
    auto.encoder.layer = torch.nn.ModuleList([l for i, l in enumerate(auto.encoder.layer) if i in keep])
    auto.config.num_hidden_layers = len(keep)          # DistilBERT: transformer.layer, n_layers

then encodes a few sentences with the pruned copy, saves it and loads it back (the embeddings
of the reloaded copy are checked to equal the in-memory ones, and the saved config.json's layer
count is recorded).

Cases: minilm (models/all-MiniLM-L6-v2, keep [0, 2, 4]); the tiny BERT, DistilBERT and MPNet
SentenceTransformers of tests/data/st_models (base model from tests/data/models + overlay;
2 layers each, keep [1] or [0]).

Writes tests/data/prune/refs.json:
  {"versions", "sentences": [...], "cases": [{"name", "model" (a folder, or null), "base",
   "overlay", "keep", "layers_before", "config_key", "saved_layers", "dim",
   "embeddings": [[...] per sentence]}]}
Run: /work/venv/bin/python tools/gen_prune_refs.py
"""
import json
import os
import shutil
import sys
import tempfile

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "prune")

CASES = [
    dict(name="minilm", model="models/all-MiniLM-L6-v2", keep=[0, 2, 4]),
    dict(name="bert", base="tests/data/models/tiny-bert", overlay="tests/data/st_models/bert-mean-norm", keep=[1]),
    dict(name="distilbert", base="tests/data/models/tiny-distilbert",
         overlay="tests/data/st_models/distilbert-mean-norm", keep=[0]),
    dict(name="mpnet", base="tests/data/models/tiny-mpnet", overlay="tests/data/st_models/mpnet-mean-norm",
         keep=[1]),
]


def assemble(case, dst):
    if case.get("model"):
        shutil.copytree(os.path.join(ROOT, case["model"]), dst)
    else:  # base model files + the st_models overlay, as tools/gen_distill_refs.py assembles its models
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from gen_distill_refs import assemble as assemble_overlay
        assemble_overlay(os.path.join(ROOT, case["overlay"]), os.path.join(ROOT, case["base"]), dst)


def prune(model, keep):
    auto = model[0].auto_model
    if hasattr(auto, "encoder"):
        holder, key = auto.encoder, "num_hidden_layers"
    else:  # DistilBERT
        holder, key = auto.transformer, "n_layers"
    before = len(holder.layer)
    holder.layer = torch.nn.ModuleList([l for i, l in enumerate(holder.layer) if i in keep])
    setattr(auto.config, key, len(keep))
    return before, key


def main():
    import sentence_transformers
    import transformers
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(2)
    with open(os.path.join(ROOT, "tests", "data", "st_models", "sentences.txt"), encoding="utf-8") as f:
        sentences = [l.rstrip("\n") for l in f][:8]
    cases = []
    for case in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            src, saved = os.path.join(tmp, "src"), os.path.join(tmp, "saved")
            assemble(case, src)
            model = SentenceTransformer(src, device="cpu")
            before, key = prune(model, case["keep"])
            emb = model.encode(sentences, convert_to_numpy=True, batch_size=4)
            model.save(saved)
            with open(os.path.join(saved, "config.json"), encoding="utf-8") as f:
                saved_layers = json.load(f)[key]
            again = SentenceTransformer(saved, device="cpu").encode(sentences, convert_to_numpy=True, batch_size=4)
            diff = float(np.abs(again - emb).max())
            assert diff <= 1e-6, f"{case['name']}: the reloaded pruned copy differs by {diff}"
            assert saved_layers == len(case["keep"])
        cases.append({"name": case["name"], "model": case.get("model"), "base": case.get("base"),
                      "overlay": case.get("overlay"), "keep": case["keep"], "layers_before": before,
                      "config_key": key, "saved_layers": saved_layers, "dim": int(emb.shape[1]),
                      "embeddings": [[float(x) for x in row] for row in emb]})
        print(f"{case['name']}: {before} -> {len(case['keep'])} layers, reload diff {diff:.1e}")
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "refs.json"), "w", encoding="utf-8") as f:
        json.dump({"versions": {"sentence_transformers": sentence_transformers.__version__,
                                "transformers": transformers.__version__, "torch": torch.__version__},
                   "sentences": sentences, "cases": cases}, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
