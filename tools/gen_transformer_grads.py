#!/usr/bin/env python3
"""tools/gen_transformer_grads.py -- torch autograd gradients through the tiny
random encoders, for tests/test_transformer_backward.c.

For each tiny model in tests/data/models/tiny-<family>/ (written by
tools/gen_tiny_models.py) this loads the model with transformers' AutoModel,
converts it to float64 (so the reference has no round-off of its own) in eval
mode (dropout off), runs a few of the sequences of that model's ref.json one
at a time (batch 1, no padding: what the C packed forward computes), and
backpropagates
    loss = sum over sequences s of sum(last_hidden_state_s * R_s)
for a fixed random R [T, H] (float32 values). Written to
tests/data/backward/<family>/:
  grad_ref.json  {"generator", "model", "seqs": [indices into ref.json],
                  "input_ids": [[..]..], "token_type_ids": [[..]..] | null,
                  "hidden_size", "tokens",
                  "tensors": [{"name", "offset", "shape", "rows"}]}
  grad_ref.bin   float32 little-endian, the tensors back to back:
      "R"               [T, H]   the loss weights
      "last_hidden"     [T, H]   the forward output (float64 -> float32)
      "inputs_embeds"   [T, H]   d loss / d word-embedding output of each token
      then d loss / d parameter for every parameter of the base model, named
      as save_pretrained names them without the model prefix; the big tables
      (word and position embeddings) keep only the rows listed in "rows"
      (the ids that occur), every other tensor is stored whole.

Also "minilm": the real all-MiniLM-L6-v2 under models/ on two short sequences,
with a subset of the parameters (MINILM_PARAMS) to keep the files small.

Usage: python3 tools/gen_transformer_grads.py [family ...]
  families: bert roberta xlm-roberta distilbert mpnet minilm (default: all)
Needs torch + transformers (not CI: the small outputs are committed).
"""
import json
import os
import sys

import numpy as np
import torch
from transformers import AutoModel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(ROOT, "tests", "data", "models")
OUT = os.path.join(ROOT, "tests", "data", "backward")
FAMILIES = ["bert", "roberta", "xlm-roberta", "distilbert", "mpnet", "minilm"]
SEQS = [0, 1, 4, 6]  # lengths 1, 5, 20, 35 in the tiny models' ref.json
# The real all-MiniLM-L6-v2 (models/, tools/fetch_models.sh): sequences 0 and 1
# of tests/data/models/minilm-ref/ref.json (9 and 20 tokens) and, to keep the
# file small, only these parameters (plus the used embedding rows):
MINILM_SEQS = [0, 1]
MINILM_PARAMS = {
    "embeddings.token_type_embeddings.weight", "embeddings.LayerNorm.weight",
    "embeddings.LayerNorm.bias", "encoder.layer.0.attention.self.query.bias",
    "encoder.layer.0.attention.self.value.bias", "encoder.layer.0.attention.output.LayerNorm.weight",
    "encoder.layer.3.intermediate.dense.bias", "encoder.layer.5.attention.self.value.bias",
    "encoder.layer.5.output.dense.bias", "encoder.layer.5.output.LayerNorm.weight",
}
SEED = 4242
BIG_TABLES = ("embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight")


def gen(family):
    if family == "minilm":
        src = os.path.join(ROOT, "models", "all-MiniLM-L6-v2")
        ref = json.load(open(os.path.join(MODELS, "minilm-ref", "ref.json")))
        seqs = MINILM_SEQS
    else:
        src = os.path.join(MODELS, "tiny-" + family)
        ref = json.load(open(os.path.join(src, "ref.json")))
        seqs = SEQS
    ids = [ref["input_ids"][i] for i in seqs]
    types = None
    if ref.get("token_type_ids"):
        types = [ref["token_type_ids"][i] for i in seqs]
    model = AutoModel.from_pretrained(src, dtype=torch.float32).double()
    model.eval()
    H = model.config.hidden_size if hasattr(model.config, "hidden_size") else model.config.dim
    T = sum(len(s) for s in ids)
    rng = np.random.default_rng(SEED)
    R = rng.uniform(-1, 1, size=(T, H)).astype(np.float32)

    captured = []

    def hook(_mod, _inp, out):
        out.retain_grad()
        captured.append(out)

    handle = model.embeddings.word_embeddings.register_forward_hook(hook)
    hidden = []
    t0 = 0
    model.zero_grad()
    for k, seq in enumerate(ids):
        kw = {"input_ids": torch.tensor([seq]), "attention_mask": torch.ones(1, len(seq), dtype=torch.long)}
        if types is not None:
            kw["token_type_ids"] = torch.tensor([types[k]])
        out = model(**kw).last_hidden_state[0]
        r = torch.tensor(R[t0:t0 + len(seq)], dtype=torch.float64)
        (out * r).sum().backward()
        hidden.append(out.detach())
        t0 += len(seq)
    handle.remove()
    d_emb = torch.cat([c.grad[0] for c in captured], dim=0)

    blobs, tensors = [], []
    offset = 0

    def put(name, arr, rows=None):
        nonlocal offset
        a = np.ascontiguousarray(arr, dtype=np.float32)
        tensors.append({"name": name, "offset": offset, "shape": list(a.shape), "rows": rows})
        blobs.append(a.tobytes())
        offset += a.size

    put("R", R)
    put("last_hidden", torch.cat(hidden, 0).numpy())
    put("inputs_embeds", d_emb.numpy())
    prefix = model.base_model_prefix + "."
    used_ids = sorted({i for s in ids for i in s})
    for name, p in model.named_parameters():
        if name.startswith(prefix):
            name = name[len(prefix):]
        if name.startswith("pooler."):
            continue  # not part of the sentence-transformers encoder
        if family == "minilm" and name not in MINILM_PARAMS and name not in BIG_TABLES:
            continue
        g = p.grad
        if g is None:
            g = torch.zeros_like(p)
        g = g.numpy()
        if name == BIG_TABLES[0]:
            put(name, g[used_ids], used_ids)
        elif name == BIG_TABLES[1]:
            n = int(np.nonzero(np.abs(g).sum(1))[0].max()) + 2 if np.abs(g).sum() > 0 else 4
            rows = list(range(min(n, g.shape[0])))
            put(name, g[rows], rows)
        else:
            put(name, g)
    dest = os.path.join(OUT, family)
    os.makedirs(dest, exist_ok=True)
    with open(os.path.join(dest, "grad_ref.bin"), "wb") as fh:
        for b in blobs:
            fh.write(b)
    meta = {
        "generator": "tools/gen_transformer_grads.py (torch %s, float64 autograd, eval mode)"
                     % torch.__version__,
        "model": os.path.relpath(src, ROOT),
        "seqs": seqs, "input_ids": ids, "token_type_ids": types,
        "hidden_size": H, "tokens": T, "tensors": tensors,
    }
    with open(os.path.join(dest, "grad_ref.json"), "w") as fh:
        json.dump(meta, fh, indent=0)
    print(family, "tokens", T, "floats", offset, "->", dest)


def main():
    fams = sys.argv[1:] or FAMILIES
    for f in fams:
        gen(f)


if __name__ == "__main__":
    main()
