#!/usr/bin/env python3
"""tools/gen_train_refs.py -- reference values for tests/test_train_transformer.c.

Training parity for Transformer models: sentence-transformers trains a small
model for a few steps with a plain PyTorch loop, and the C test repeats the
same steps with the transformer trainable and compares.

Each case is a model directory assembled from
  * a base model's weight and tokenizer files (tests/data/models/<base>, or
    models/all-MiniLM-L6-v2 which tools/fetch_models.sh unpacks), and
  * an overlay written here to tests/data/train/<case>/: config.json with
    every dropout probability set to 0, modules.json, sentence_bert_config.json,
    config_sentence_transformers.json, 1_Pooling/config.json, and for a Dense
    case k_Dense/{config.json, model.safetensors} (initialised from a fixed seed).

The loop (per case): rows of data/allnli-triplets.jsonl in file order,
batches of B (anchor, positive, negative), MultipleNegativesRankingLoss
(scale 20, cosine), torch.optim.AdamW(lr, betas (.9, .999), eps 1e-8,
weight_decay 0.01 on transformers' get_decay_parameter_names, 0 elsewhere),
get_linear_schedule_with_warmup(warmup, total), clip_grad_norm_(1.0):
    loss(features) -> backward -> clip -> opt.step -> sched.step -> zero_grad

tests/data/train/<case>/ref.json records the batches' texts, the loss of
every step, the gradient norm (before clipping) of every step, and after the
last step: a few named tensors (full for small ones, sampled rows for the
word embeddings) and the eval-mode embeddings of a few sentences.

Run from the repository root:  python3 tools/gen_train_refs.py
"""
import json
import os
import shutil
import sys
import tempfile

import numpy as np
import torch
from safetensors.torch import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "train")
BASE_FILES = ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
              "special_tokens_map.json", "vocab.txt"]

EVAL_SENTENCES = [
    "A man is playing a guitar.",
    "Two dogs run through the snow.",
    "The stock market fell sharply today.",
    "A woman slices an onion in the kitchen.",
]

CASES = [
    # name, base dir, dense (out, activation) or None, normalize, batch, steps, warmup, lr, tensors
    dict(name="bert-mean", base="tests/data/models/tiny-bert", dense=None, normalize=False, batch=8, steps=10,
         warmup=2, lr=5e-4, max_seq_length=64,
         tensors=["encoder.layer.0.attention.self.query.weight", "encoder.layer.1.output.dense.weight",
                  "encoder.layer.1.output.LayerNorm.weight", "embeddings.LayerNorm.bias",
                  "encoder.layer.0.intermediate.dense.bias", "embeddings.token_type_embeddings.weight"]),
    dict(name="bert-dense-norm", base="tests/data/models/tiny-bert", dense=(16, "torch.nn.modules.activation.Tanh"),
         normalize=True, batch=8, steps=10, warmup=2, lr=5e-4, max_seq_length=64,
         tensors=["encoder.layer.1.attention.output.dense.weight", "encoder.layer.0.output.LayerNorm.bias"]),
    dict(name="mpnet-mean", base="tests/data/models/tiny-mpnet", dense=None, normalize=False, batch=8, steps=6,
         warmup=2, lr=5e-4, max_seq_length=64,
         tensors=["encoder.layer.0.attention.attn.q.weight", "encoder.relative_attention_bias.weight",
                  "encoder.layer.1.output.LayerNorm.weight"]),
    dict(name="minilm", base="models/all-MiniLM-L6-v2", dense=None, normalize=True, batch=8, steps=20,
         warmup=2, lr=2e-5, max_seq_length=64, optional=True,
         tensors=["encoder.layer.5.output.dense.bias", "encoder.layer.0.attention.self.key.bias",
                  "embeddings.LayerNorm.weight"]),
]


def read_triplets(n):
    rows = []
    with open(os.path.join(ROOT, "data", "allnli-triplets.jsonl"), encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            rows.append([d["anchor"], d["positive"], d["negative"]])
            if len(rows) == n:
                break
    return rows


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def write_overlay(case, base):
    """tests/data/train/<case>/ minus ref.json."""
    odir = os.path.join(OUT, case["name"])
    if os.path.isdir(odir):
        shutil.rmtree(odir)
    os.makedirs(odir)
    with open(os.path.join(base, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    for k in ("hidden_dropout_prob", "attention_probs_dropout_prob", "dropout", "attention_dropout"):
        if k in cfg:
            cfg[k] = 0.0
    if cfg["model_type"] == "bert" or cfg["model_type"] == "mpnet":
        cfg["hidden_dropout_prob"] = 0.0
        cfg["attention_probs_dropout_prob"] = 0.0
    write_json(os.path.join(odir, "config.json"), cfg)
    hidden = cfg["hidden_size"]
    mods = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    write_json(os.path.join(odir, "1_Pooling", "config.json"),
               {"word_embedding_dimension": hidden, "pooling_mode_cls_token": False,
                "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
                "pooling_mode_mean_sqrt_len_tokens": False, "pooling_mode_weightedmean_tokens": False,
                "pooling_mode_lasttoken": False, "include_prompt": True})
    k = 2
    if case["dense"]:
        out, act = case["dense"]
        mods.append({"idx": k, "name": str(k), "path": f"{k}_Dense", "type": "sentence_transformers.models.Dense"})
        write_json(os.path.join(odir, f"{k}_Dense", "config.json"),
                   {"in_features": hidden, "out_features": out, "bias": True, "activation_function": act})
        g = torch.Generator().manual_seed(1234)
        bound = 1.0 / hidden ** 0.5
        w = (torch.rand(out, hidden, generator=g) * 2 - 1) * bound
        b = (torch.rand(out, generator=g) * 2 - 1) * bound
        save_file({"linear.weight": w.contiguous(), "linear.bias": b.contiguous()},
                  os.path.join(odir, f"{k}_Dense", "model.safetensors"))
        k += 1
    if case["normalize"]:
        mods.append({"idx": k, "name": str(k), "path": f"{k}_Normalize",
                     "type": "sentence_transformers.models.Normalize"})
    write_json(os.path.join(odir, "modules.json"), mods)
    write_json(os.path.join(odir, "sentence_bert_config.json"),
               {"max_seq_length": case["max_seq_length"], "do_lower_case": False})
    write_json(os.path.join(odir, "config_sentence_transformers.json"),
               {"model_type": "SentenceTransformer", "prompts": {"query": "", "document": ""},
                "default_prompt_name": None, "similarity_fn_name": "cosine"})
    return odir


def assemble(base, overlay, dst):
    """What the C test does: base files, then the overlay on top."""
    for f in BASE_FILES:
        if os.path.exists(os.path.join(base, f)):
            shutil.copy(os.path.join(base, f), os.path.join(dst, f))
    for dirpath, _, files in os.walk(overlay):
        rel = os.path.relpath(dirpath, overlay)
        os.makedirs(os.path.join(dst, rel), exist_ok=True)
        for f in files:
            if f != "ref.json":
                shutil.copy(os.path.join(dirpath, f), os.path.join(dst, rel, f))


def run_case(case):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from transformers import Trainer, get_linear_schedule_with_warmup

    base = os.path.join(ROOT, case["base"])
    if not os.path.isdir(base):
        print(f"skip {case['name']}: {base} missing", file=sys.stderr)
        return
    odir = write_overlay(case, base)
    B, steps = case["batch"], case["steps"]
    rows = read_triplets(B * steps)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        assemble(base, odir, tmp)
        model = SentenceTransformer(tmp, device="cpu")
        model.train()
        loss_fn = MultipleNegativesRankingLoss(model, scale=20.0)
        decay = set(Trainer.get_decay_parameter_names(None, model))
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        groups = [{"params": [p for n, p in named if n in decay], "weight_decay": 0.01},
                  {"params": [p for n, p in named if n not in decay], "weight_decay": 0.0}]
        opt = torch.optim.AdamW(groups, lr=case["lr"], betas=(0.9, 0.999), eps=1e-8)
        sched = get_linear_schedule_with_warmup(opt, case["warmup"], steps)
        losses, norms, batches = [], [], []
        for s in range(steps):
            batch = rows[s * B:(s + 1) * B]
            cols = [[r[c] for r in batch] for c in range(3)]
            batches.append(cols)
            feats = [model.tokenize(c) for c in cols]
            loss = loss_fn(feats, None)
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            losses.append(float(loss.item()))
            norms.append(float(norm))
        model.eval()
        with torch.no_grad():
            emb = model.encode(EVAL_SENTENCES, convert_to_numpy=True, batch_size=32)
        sd = model[0].auto_model.state_dict()
        tensors = {}
        for name in case["tensors"]:
            t = sd[name].detach().float().numpy()
            tensors[name] = {"shape": list(t.shape), "values": [float(x) for x in t.reshape(-1)]}
        # Sampled word-embedding rows: the first batch's anchor tokens and a row no batch used.
        we = sd["embeddings.word_embeddings.weight"].detach().float().numpy()
        ids = sorted(set(model.tokenize(batches[0][0])["input_ids"].reshape(-1).tolist()))[:12]
        ids.append(we.shape[0] - 1)
        rows_out = {"ids": ids, "values": [[float(x) for x in we[i]] for i in ids]}
        dense = None
        if case["dense"]:
            lin = model[2].linear
            dense = {"weight": [float(x) for x in lin.weight.detach().numpy().reshape(-1)],
                     "bias": [float(x) for x in lin.bias.detach().numpy().reshape(-1)]}
        # Parameter movement, to show the test is not trivially satisfied.
        ref = {"case": case["name"], "base": case["base"], "batch": B, "steps": steps, "warmup": case["warmup"],
               "lr": case["lr"], "scale": 20.0, "weight_decay": 0.01, "max_grad_norm": 1.0,
               "batches": batches, "losses": losses, "grad_norms": norms,
               "eval_sentences": EVAL_SENTENCES, "eval_embeddings": [[float(x) for x in r] for r in emb],
               "tensors": tensors, "word_embeddings": rows_out, "dense": dense}
        write_json(os.path.join(odir, "ref.json"), ref)
        print(f"{case['name']}: losses {losses[0]:.6f} .. {losses[-1]:.6f}")


def main():
    torch.set_num_threads(2)
    only = sys.argv[1:]
    for case in CASES:
        if only and case["name"] not in only:
            continue
        run_case(case)


if __name__ == "__main__":
    main()
