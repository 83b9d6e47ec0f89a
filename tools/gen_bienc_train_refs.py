#!/usr/bin/env python3
"""tools/gen_bienc_train_refs.py -- 20-step training parity references for the
losses of issue 10 (tests/test_bienc_train.c): sentence-transformers 6.2.0
trains tests/data/models/tiny-bert (dropout set to 0) with each loss on fixed
batches in a plain PyTorch loop, and the C test repeats the steps through the
trainer's own step code (train_step.c / adaptive_step.c) and compares.

Cases (B = 8 rows a batch, 20 steps, AdamW lr 5e-4 betas (.9, .999) eps 1e-8,
weight_decay 0.01 on transformers' get_decay_parameter_names, linear schedule
with 2 warmup steps, clip_grad_norm_ 1.0):
  matryoshka_mnrl      MatryoshkaLoss(MultipleNegativesRankingLoss, [32, 16, 8], weights [1, .5, .25])
                       on (anchor, positive, negative) of data/allnli-triplets.jsonl
  matryoshka_cached    MatryoshkaLoss(CachedMultipleNegativesRankingLoss(mini_batch_size=3), [32, 8])
  gist                 GISTEmbedLoss(guide = models/all-MiniLM-L6-v2, same vocabulary: it embeds the
                       student's token ids) on triplets
  batch_hard           BatchHardTripletLoss (euclidean, margin 5) on (text, label): the anchor and the
                       positive of 4 triplets per batch, label = the triplet's number
  adaptive_mnrl        AdaptiveLayerLoss(MultipleNegativesRankingLoss, n_layers_per_step=-1: every
                       earlier layer) on (anchor, positive)
  prompts_no_pool      MultipleNegativesRankingLoss with prompts {anchor: "query: ", positive: "search document: "}
                       and Pooling include_prompt false (the prompt tokens left out of the mean)
  matryoshka2d         Matryoshka2dLoss(MultipleNegativesRankingLoss, [32, 16], n_dims_per_step=-1,
                       n_layers_per_step=-1, layer_weighting="linear") on (anchor, positive)
  softmax_clip         SoftmaxLoss(num_labels=3) on (premise, hypothesis, label) of data/snli-nli-train.jsonl:
                       the classifier is the loss's own parameter, in the optimizer (as sentence-transformers'
                       get_optimizer_cls_and_kwargs puts loss_model.named_parameters() there) but left out of
                       the gradient norm and its clipping (the Trainer clips model.parameters() only); its
                       initial values go to ref.json ("state_init") and its final ones to "state_tensors"

tests/data/bienc/train/<case>/: config.json (dropout 0), modules.json, 1_Pooling/config.json,
sentence_bert_config.json, config_sentence_transformers.json (the overlay on tiny-bert's
weights and tokenizer), data.jsonl (the batches' rows in order) and ref.json:
  {"case", "loss", "params": {recipe key: text}, "batch", "steps", "warmup", "lr", "weight_decay",
   "max_grad_norm", "losses": [per step], "grad_norms": [per step, before clipping],
   "tensors": {name: {"shape", "values"}} after the last step}
Run: /work/venv/bin/python tools/gen_bienc_train_refs.py [case...]
"""
import json
import os
import shutil
import sys
import tempfile

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "bienc", "train")
BASE = os.path.join(ROOT, "tests", "data", "models", "tiny-bert")
BASE_FILES = ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]
B, STEPS, WARMUP, LR = 8, 20, 2, 5e-4
TENSORS = ["encoder.layer.0.attention.self.query.weight", "encoder.layer.1.output.dense.weight",
           "encoder.layer.1.output.LayerNorm.weight", "embeddings.LayerNorm.bias",
           "encoder.layer.0.intermediate.dense.bias"]

CASES = [
    dict(name="matryoshka_mnrl", loss="MatryoshkaLoss(MultipleNegativesRankingLoss)", cols=3,
         params={"matryoshka_dims": "[32, 16, 8]", "matryoshka_weights": "[1, 0.5, 0.25]"}),
    dict(name="matryoshka_cached", loss="MatryoshkaLoss(CachedMultipleNegativesRankingLoss)", cols=3,
         params={"matryoshka_dims": "[32, 8]", "mini_batch_size": "3"}),
    dict(name="gist", loss="GISTEmbedLoss", cols=3, params={"guide_model": "models/all-MiniLM-L6-v2"}),
    dict(name="batch_hard", loss="BatchHardTripletLoss", cols=1, params={}),
    dict(name="adaptive_mnrl", loss="AdaptiveLayerLoss(MultipleNegativesRankingLoss)", cols=2,
         params={"n_layers_per_step": "-1"}),
    dict(name="prompts_no_pool", loss="MultipleNegativesRankingLoss", cols=2, params={},
         prompts={"anchor": "query: ", "positive": "search document: "}, include_prompt=False),
    dict(name="matryoshka2d", loss="Matryoshka2dLoss(MultipleNegativesRankingLoss)", cols=2,
         params={"matryoshka_dims": "[32, 16]", "n_dims_per_step": "-1", "n_layers_per_step": "-1",
                 "layer_weighting": "linear"}),
    dict(name="softmax_clip", loss="SoftmaxLoss", cols=2, params={"num_labels": "3"}, nli=True),
]


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for d in rows:
            f.write(json.dumps(d) + "\n")


def hf_step(model, opt, sched):
    """What the Hugging Face Trainer does after the backward: clip model.parameters() (only the model's), step,
    schedule, zero; returns the norm before clipping."""
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    sched.step()
    opt.zero_grad()
    return float(norm)


def overlay(odir, include_prompt=True):
    with open(os.path.join(BASE, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    cfg["hidden_dropout_prob"] = 0.0
    cfg["attention_probs_dropout_prob"] = 0.0
    write_json(os.path.join(odir, "config.json"), cfg)
    write_json(os.path.join(odir, "modules.json"),
               [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}])
    write_json(os.path.join(odir, "1_Pooling", "config.json"),
               {"word_embedding_dimension": cfg["hidden_size"], "pooling_mode_cls_token": False,
                "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
                "pooling_mode_mean_sqrt_len_tokens": False, "pooling_mode_weightedmean_tokens": False,
                "pooling_mode_lasttoken": False, "include_prompt": include_prompt})
    write_json(os.path.join(odir, "sentence_bert_config.json"), {"max_seq_length": 64, "do_lower_case": False})
    write_json(os.path.join(odir, "config_sentence_transformers.json"),
               {"model_type": "SentenceTransformer", "prompts": {"query": "", "document": ""},
                "default_prompt_name": None, "similarity_fn_name": "cosine"})


def assemble(odir, dst):
    for f in BASE_FILES:
        shutil.copy(os.path.join(BASE, f), os.path.join(dst, f))
    for dirpath, _, files in os.walk(odir):
        rel = os.path.relpath(dirpath, odir)
        os.makedirs(os.path.join(dst, rel), exist_ok=True)
        for f in files:
            if f not in ("ref.json", "data.jsonl"):
                shutil.copy(os.path.join(dirpath, f), os.path.join(dst, rel, f))


def triplets(n):
    rows = []
    with open(os.path.join(ROOT, "data", "allnli-triplets.jsonl"), encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            rows.append(d)
            if len(rows) == n:
                break
    return rows


def make_loss(case, model):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import losses as L
    n = case["name"]
    if n == "matryoshka_mnrl":
        return L.MatryoshkaLoss(model, L.MultipleNegativesRankingLoss(model), [32, 16, 8], [1, 0.5, 0.25])
    if n == "matryoshka_cached":
        return L.MatryoshkaLoss(model, L.CachedMultipleNegativesRankingLoss(model, mini_batch_size=3), [32, 8])
    if n == "gist":
        guide = SentenceTransformer(os.path.join(ROOT, "models", "all-MiniLM-L6-v2"), device="cpu")
        loss = L.GISTEmbedLoss(model, guide)
        assert not loss.must_retokenize  # same vocabulary, guide max_seq_length 256 >= 64: the student's ids
        return loss
    if n == "prompts_no_pool":
        return L.MultipleNegativesRankingLoss(model)
    if n == "batch_hard":
        return L.BatchHardTripletLoss(model)
    if n == "adaptive_mnrl":
        return L.AdaptiveLayerLoss(model, L.MultipleNegativesRankingLoss(model), n_layers_per_step=-1)
    if n == "softmax_clip":
        return L.SoftmaxLoss(model, model.get_embedding_dimension(), num_labels=3)
    if n == "matryoshka2d":
        return L.Matryoshka2dLoss(model, L.MultipleNegativesRankingLoss(model), [32, 16], n_dims_per_step=-1,
                                  n_layers_per_step=-1, layer_weighting="linear")
    raise ValueError(n)


def run_case(case):
    from sentence_transformers import SentenceTransformer
    from transformers import Trainer, get_linear_schedule_with_warmup

    odir = os.path.join(OUT, case["name"])
    if os.path.isdir(odir):
        shutil.rmtree(odir)
    overlay(odir, case.get("include_prompt", True))
    if case.get("nli"):
        data = []
        with open(os.path.join(ROOT, "data", "snli-nli-train.jsonl"), encoding="utf-8") as f:
            for line in f:
                data.append(json.loads(line))
                if len(data) == STEPS * B:
                    break
    elif case["cols"] == 1:
        src = triplets(STEPS * B // 2)
        data = []
        for k in range(0, len(src), B // 2):
            for j, d in enumerate(src[k:k + B // 2]):
                data.append({"text": d["anchor"], "label": k + j})
            for j, d in enumerate(src[k:k + B // 2]):
                data.append({"text": d["positive"], "label": k + j})
    else:
        keys = ["anchor", "positive", "negative"][:case["cols"]]
        data = [{k: d[k] for k in keys} for d in triplets(STEPS * B)]
    write_jsonl(os.path.join(odir, "data.jsonl"), data)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        assemble(odir, tmp)
        model = SentenceTransformer(tmp, device="cpu")
        model._bienc_dir = tmp
        loss_fn = make_loss(case, model)
        model.train()
        # as sentence-transformers' get_optimizer_cls_and_kwargs: every parameter of the loss module (the
        # model's and the loss's own), decay names from the loss module
        decay = set(Trainer.get_decay_parameter_names(None, loss_fn))
        named = [(n, p) for n, p in loss_fn.named_parameters() if p.requires_grad]
        # the loss's own parameters: neither the model's nor a (frozen, never stepped) guide model's
        mine = {id(p) for p in model.parameters()}
        own = {n: p for n, p in loss_fn.named_parameters() if id(p) not in mine and not n.startswith("guide.")}
        state_init = {n: [float(x) for x in p.detach().reshape(-1)] for n, p in own.items()}
        groups = [{"params": [p for n, p in named if n in decay], "weight_decay": 0.01},
                  {"params": [p for n, p in named if n not in decay], "weight_decay": 0.0}]
        opt = torch.optim.AdamW(groups, lr=LR, betas=(0.9, 0.999), eps=1e-8)
        sched = get_linear_schedule_with_warmup(opt, WARMUP, STEPS)
        losses, norms = [], []
        text_cols = [k for k in data[0] if k != "label"]
        for s in range(STEPS):
            batch = data[s * B:(s + 1) * B]
            prompts = case.get("prompts", {})
            feats = [model.preprocess([r[c] for r in batch], prompt=prompts.get(c)) for c in text_cols]
            labels = torch.tensor([r["label"] for r in batch]) if "label" in data[0] else None
            loss = loss_fn(feats, labels)
            loss.backward()
            norms.append(hf_step(model, opt, sched))
            losses.append(float(loss.item()))
        sd = model[0].auto_model.state_dict()
        tensors = {n: {"shape": list(sd[n].shape), "values": [float(x) for x in sd[n].detach().reshape(-1)]}
                   for n in TENSORS}
        ref = {"case": case["name"], "loss": case["loss"], "params": case["params"],
               "prompts": case.get("prompts", {}), "batch": B, "steps": STEPS,
               "warmup": WARMUP, "lr": LR, "weight_decay": 0.01, "max_grad_norm": 1.0, "losses": losses,
               "grad_norms": norms, "tensors": tensors}
        if own:
            ref["state_init"] = state_init
            ref["state_tensors"] = {n: {"shape": list(p.shape), "values": [float(x) for x in p.detach().reshape(-1)]}
                                    for n, p in own.items()}
        write_json(os.path.join(odir, "ref.json"), ref)
        print(f"{case['name']}: losses {losses[0]:.6f} .. {losses[-1]:.6f}, grad norms {min(norms):.3f} .. "
              f"{max(norms):.3f}")


def main():
    torch.set_num_threads(2)
    only = sys.argv[1:]
    for case in CASES:
        if not only or case["name"] in only:
            run_case(case)


if __name__ == "__main__":
    main()
