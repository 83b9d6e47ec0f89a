#!/usr/bin/env python3
"""Training parity for CrossEncoders: sentence-transformers 6.2 trains a tiny CrossEncoder
for a few steps with a plain PyTorch loop; tests/test_ce_train.c repeats the same steps
through sbert's CrossEncoder step (training/train_step_cross.c) and compares.

Run: python3 tools/gen_ce_train_refs.py   (needs torch + sentence-transformers; offline)

Per case, tests/data/cross_encoder/train/<case>/:
  config.json  the reference model's config.json with every dropout set to 0 (the C test
               rebuilds the reference folder as tests/test_ce_util.h does and overlays it)
  data.jsonl   the training rows, in order (batches are consecutive rows)
  ref.json     {"model", "loss", "params" (recipe strings), "batch", "steps", "lr", "warmup",
                "weight_decay", "losses": [per step], "grad_norms": [per step, before clipping],
                "tensors": {name in the saved model.safetensors: flat values after training},
                "pairs": [[q, d], ...], "predict": [...] (eval-mode logits after training)}
The loop: the sentence-transformers loss object on the batch's columns ->
backward -> clip_grad_norm_(1.0) -> AdamW(lr, (0.9, 0.999), 1e-8, weight_decay 0.01 on
transformers' decay parameter names) -> linear warmup schedule -> zero_grad.

Cases: BinaryCrossEntropyLoss (pos_weight 3) and LambdaLoss (NDCGLoss2PP, ragged lists)
for 20 steps on tiny BERT; MultipleNegativesRankingLoss (num_negatives None) on tiny
BERT, CrossEntropyLoss (3 labels, SNLI) on tiny RoBERTa and MarginMSELoss (teacher scores)
on tiny DistilBERT for 6 steps each.
"""
import csv
import json
import os
import random
import shutil
import tempfile

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from sentence_transformers import CrossEncoder
from sentence_transformers.cross_encoder import losses as L
from transformers import Trainer, get_linear_schedule_with_warmup

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("SBERT_SHARED", os.path.join(os.path.dirname(ROOT), "shared", "data"))
CE = os.path.join(ROOT, "tests", "data", "cross_encoder")
OUT = os.path.join(CE, "train")


def build_folder(name, dst):
    """The folder CrossEncoder.save wrote, rebuilt from the committed reference files."""
    ref = json.load(open(os.path.join(CE, name, "ref.json")))
    os.makedirs(dst, exist_ok=True)
    saved = os.path.join(CE, name, "saved")
    for f in os.listdir(saved):
        shutil.copy(os.path.join(saved, f), dst)
    shutil.copy(os.path.join(ROOT, ref["tokenizer_json"]), os.path.join(dst, "tokenizer.json"))
    w = ref["weights"]
    tensors = {}
    with safe_open(os.path.join(ROOT, w["base_file"]), "pt") as base, \
            safe_open(os.path.join(CE, name, "head.safetensors"), "pt") as head:
        for t in w["tensors"]:
            src = head if t["source"] == "head" else base
            tensors[t["name"]] = src.get_tensor(t["source_key"]).float().contiguous()
    save_file(tensors, os.path.join(dst, "model.safetensors"), metadata={"format": "pt"})
    return ref


def no_dropout(dst):
    p = os.path.join(dst, "config.json")
    cfg = json.load(open(p))
    for k in ("hidden_dropout_prob", "attention_probs_dropout_prob", "dropout", "attention_dropout",
              "seq_classif_dropout", "qa_dropout"):
        if k in cfg:
            cfg[k] = 0.0
    cfg["classifier_dropout"] = 0.0 if cfg.get("model_type") != "distilbert" else cfg.get("classifier_dropout")
    json.dump(cfg, open(p, "w"), indent=2)
    return cfg


def trecqa(split):
    with open(os.path.join(SHARED, "trecqa-answer-selection", f"{split}.csv"), encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def case_data(case):
    rows = trecqa("train")
    rnd = random.Random(7)
    kind = case["kind"]
    if kind == "bce":
        return [{"query": r["qtext"], "answer": r["atext"], "label": float(r["label"])} for r in rows[:160]]
    groups = {}
    for r in rows:
        groups.setdefault(r["qtext"], []).append((r["atext"], float(r["label"])))
    if kind == "lambda":
        out = []
        for q, c in groups.items():
            k = 2 + len(out) % 5  # ragged lists of 2..6 documents
            c = c[:k]
            # graded labels: relevance 2 for answers, a teacher-like 0/1 for the rest
            out.append({"query": q, "docs": [a for a, _ in c],
                        "labels": [2.0 if l > 0 else float(rnd.random() < 0.3) for _, l in c]})
        return out[:80]
    if kind in ("mnrl", "margin"):
        out = []
        for q, c in groups.items():
            pos = [a for a, l in c if l > 0]
            neg = [a for a, l in c if l == 0]
            if pos and neg:
                row = {"query": q, "positive": pos[0], "negative": neg[0]}
                if kind == "margin":
                    row["scores"] = [round(rnd.uniform(2, 8), 3), round(rnd.uniform(-4, 3), 3)]
                out.append(row)
        return out[:24]
    if kind == "nli":
        out = []
        with open(os.path.join(SHARED, "snli", "validation.tsv"), encoding="utf-8") as fh:
            for r in csv.DictReader(fh, delimiter="\t"):
                if r["label"] in ("0", "1", "2"):
                    out.append({"premise": r["premise"], "hypothesis": r["hypothesis"], "label": int(r["label"])})
                if len(out) == 48:
                    break
        return out
    raise ValueError(kind)


def batch_inputs(kind, rows):
    if kind == "bce":
        return [[r["query"] for r in rows], [r["answer"] for r in rows]], torch.tensor([r["label"] for r in rows])
    if kind == "lambda":
        return [[r["query"] for r in rows], [r["docs"] for r in rows]], [torch.tensor(r["labels"]) for r in rows]
    if kind == "mnrl":
        return [[r["query"] for r in rows], [r["positive"] for r in rows], [r["negative"] for r in rows]], None
    if kind == "margin":
        return ([[r["query"] for r in rows], [r["positive"] for r in rows], [r["negative"] for r in rows]],
                torch.tensor([r["scores"] for r in rows]))
    if kind == "nli":
        return [[r["premise"] for r in rows], [r["hypothesis"] for r in rows]], torch.tensor([r["label"] for r in rows])
    raise ValueError(kind)


CASES = [
    dict(name="bce", kind="bce", model="tiny-bert-l1", loss="BinaryCrossEntropyLoss", params={"pos_weight": "3.0"},
         make=lambda m: L.BinaryCrossEntropyLoss(m, pos_weight=torch.tensor(3.0)), batch=8, steps=20, lr=5e-4,
         warmup=2, chunk=0),
    dict(name="lambda", kind="lambda", model="tiny-bert-l1", loss="LambdaLoss", params={},
         make=lambda m: L.LambdaLoss(m), batch=4, steps=20, lr=5e-4, warmup=2, chunk=7),
    dict(name="mnrl", kind="mnrl", model="tiny-bert-l1", loss="MultipleNegativesRankingLoss",
         params={"num_negatives": "None"}, make=lambda m: L.MultipleNegativesRankingLoss(m, num_negatives=None),
         batch=4, steps=6, lr=5e-4, warmup=1, chunk=0),
    dict(name="nli", kind="nli", model="tiny-roberta-l3", loss="CrossEntropyLoss", params={},
         make=lambda m: L.CrossEntropyLoss(m), batch=8, steps=6, lr=5e-4, warmup=1, chunk=0),
    dict(name="margin", kind="margin", model="tiny-distilbert-l1", loss="MarginMSELoss", params={},
         make=lambda m: L.MarginMSELoss(m), batch=4, steps=6, lr=5e-4, warmup=1, chunk=0),
]


def run(case, tmp):
    folder = os.path.join(tmp, case["name"])
    build_folder(case["model"], folder)
    no_dropout(folder)
    out_dir = os.path.join(OUT, case["name"])
    os.makedirs(out_dir, exist_ok=True)
    shutil.copy(os.path.join(folder, "config.json"), os.path.join(out_dir, "config.json"))
    rows = case_data(case)
    with open(os.path.join(out_dir, "data.jsonl"), "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    torch.manual_seed(0)
    model = CrossEncoder(folder, device="cpu")
    model.train()
    loss_fn = case["make"](model)
    named = list(model.named_parameters())
    decay = set(Trainer.get_decay_parameter_names(None, model))
    groups = [{"params": [p for n, p in named if n in decay], "weight_decay": 0.01},
              {"params": [p for n, p in named if n not in decay], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=case["lr"], betas=(0.9, 0.999), eps=1e-8)
    sched = get_linear_schedule_with_warmup(opt, case["warmup"], case["steps"])
    B = case["batch"]
    losses, norms = [], []
    for s in range(case["steps"]):
        inputs, labels = batch_inputs(case["kind"], rows[s * B:(s + 1) * B])
        loss = loss_fn(inputs, labels)
        loss.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)))
        opt.step()
        sched.step()
        opt.zero_grad()
        losses.append(float(loss))
    model.eval()
    with tempfile.TemporaryDirectory() as sd:
        model.save(sd)
        tensors = {}
        with safe_open(os.path.join(sd, "model.safetensors"), "pt") as f:
            keys = list(f.keys())
            want = [k for k in keys if "classifier" in k or "pooler" in k] + \
                   [k for k in keys if k.endswith("encoder.layer.0.attention.self.query.weight") or
                    k.endswith("layer.1.output.dense.weight") or k.endswith("transformer.layer.1.ffn.lin2.weight") or
                    k.endswith("embeddings.LayerNorm.bias") or k.endswith("embeddings.LayerNorm.weight")]
            for k in want:
                tensors[k] = [float(v) for v in f.get_tensor(k).float().flatten()]
    pairs = [[inputs[0][i], inputs[1][i] if isinstance(inputs[1][i], str) else inputs[1][i][0]]
             for i in range(len(inputs[0]))]
    with torch.no_grad():
        pred = model.predict(pairs, activation_fn=torch.nn.Identity(), convert_to_numpy=True).tolist()
    ref = {"generator": "tools/gen_ce_train_refs.py", "model": case["model"], "loss": case["loss"],
           "params": case["params"], "batch": B, "steps": case["steps"], "lr": case["lr"], "warmup": case["warmup"],
           "weight_decay": 0.01, "max_grad_norm": 1.0, "chunk": case["chunk"], "losses": losses, "grad_norms": norms,
           "tensors": tensors, "pairs": pairs, "predict": pred}
    json.dump(ref, open(os.path.join(out_dir, "ref.json"), "w"), indent=0)
    print(f"{case['name']}: losses {losses[0]:.5f} -> {losses[-1]:.5f}")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            run(case, tmp)


if __name__ == "__main__":
    main()
