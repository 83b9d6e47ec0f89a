#!/usr/bin/env python3
"""Reference values for sbert's LoRA adapters (src/modules/lora.c), written by
PEFT + sentence-transformers.

Run: /work/venv/bin/python tools/gen_lora_refs.py  (needs torch,
sentence-transformers, peft and models/all-MiniLM-L6-v2; outputs are committed
under tests/data/lora/).

peft 0.21.2 (the newest release) is installed; transformers 5.24 asks for
peft >= 0.22 in its own integration (SentenceTransformer.add_adapter /
load_adapter refuse 0.21.2), so this generator uses PEFT directly on the
Transformer's AutoModel: get_peft_model / PeftModel.from_pretrained on
st[0].auto_model. The adapter files are PEFT's own (save_pretrained).

Writes tests/data/lora/
  minilm_adapter/   a PEFT adapter on all-MiniLM-L6-v2: r 4, alpha 8, target_modules
                    query, value, dense (the attention output, intermediate and output
                    dense layers: every kind of linear layer), A and B random
                    (seed 3) so the adapter changes the embeddings
  tiny_adapter/     a PEFT adapter on tests/data/models/tiny-bert: r 2, alpha 6,
                    use_rslora, target_modules key, intermediate.dense,
                    modules_to_save pooler (the pooler's weights, changed, ride along)
  train_init/       the adapter peft creates (r 8, alpha 16, query, value; B = 0)
                    before the 20 training steps
  refs.json         {"adapters": [{"name", "base", "dir", "texts", "embeddings",
                                   "merged": {tensor: [first values]}}],
                     "train": {"base", "init", "batches", "lr", "weight_decay",
                               "losses", "grad_norms", "tensors": {name: values},
                               "texts", "embeddings", "trainable", "total"}}

The 20 steps: MultipleNegativesRankingLoss (scale 20, cosine) on fixed
(anchor, positive) batches of 8 AllNLI pairs, dropout off (eval mode), every
trainable LoRA tensor in one AdamW group (lr 1e-3, weight_decay 0.01),
clip_grad_norm_ 1.0, constant learning rate.
"""
import json
import os

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "lora")
MINILM = os.path.join(ROOT, "models", "all-MiniLM-L6-v2")
TINY = os.path.join(ROOT, "tests", "data", "models", "tiny-bert")
TEXTS = ["A man is playing a guitar.", "The weather is lovely today!", "unbelievably quick brown foxes",
         "What is the capital of France?", "token-bag models average rows", "a"]


def st_model(path):
    from sentence_transformers import SentenceTransformer
    return SentenceTransformer(path, device="cpu")


def randomize(pm, seed, scale):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in pm.named_parameters():
            if "lora_" in n or "modules_to_save" in n:
                p.copy_(p + scale * torch.randn(p.shape, generator=g))


def adapter_case(name, base, cfg_kwargs, seed, merged_names):
    from peft import LoraConfig, TaskType, get_peft_model
    st = st_model(base)
    am = st[0].auto_model
    pm = get_peft_model(am, LoraConfig(task_type=TaskType.FEATURE_EXTRACTION, inference_mode=False, **cfg_kwargs))
    randomize(pm, seed, 0.05)
    d = os.path.join(OUT, f"{name}_adapter")
    pm.save_pretrained(d)
    # sbert's loader wants the base path as written; keep it relative to the repo root
    cfgp = os.path.join(d, "adapter_config.json")
    c = json.load(open(cfgp))
    c["base_model_name_or_path"] = os.path.relpath(base, ROOT)
    json.dump(c, open(cfgp, "w"), indent=2)
    if os.path.exists(os.path.join(d, "README.md")):
        os.remove(os.path.join(d, "README.md"))
    st[0].auto_model = pm
    pm.eval()
    emb = st.encode(TEXTS, convert_to_numpy=True)
    merged = pm.merge_and_unload()
    sd = merged.state_dict()
    mvals = {k: sd[k].flatten()[:64].tolist() for k in merged_names}
    return {"name": name, "base": os.path.relpath(base, ROOT), "dir": os.path.relpath(d, ROOT), "texts": TEXTS,
            "embeddings": emb.tolist(), "merged": mvals}


def train_case():
    from peft import LoraConfig, TaskType, get_peft_model
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    torch.manual_seed(11)
    st = st_model(MINILM)
    pm = get_peft_model(st[0].auto_model, LoraConfig(task_type=TaskType.FEATURE_EXTRACTION, inference_mode=False,
                                                     r=8, lora_alpha=16, lora_dropout=0.0,
                                                     target_modules=["query", "value"]))
    d = os.path.join(OUT, "train_init")
    pm.save_pretrained(d)
    c = json.load(open(os.path.join(d, "adapter_config.json")))
    c["base_model_name_or_path"] = os.path.relpath(MINILM, ROOT)
    json.dump(c, open(os.path.join(d, "adapter_config.json"), "w"), indent=2)
    if os.path.exists(os.path.join(d, "README.md")):
        os.remove(os.path.join(d, "README.md"))
    st[0].auto_model = pm
    total = sum(p.numel() for p in pm.parameters())
    params = [p for p in pm.parameters() if p.requires_grad]
    trainable = sum(p.numel() for p in params)
    rows = [json.loads(l) for l in open(os.path.join(ROOT, "data", "allnli-triplets.jsonl"))][:160]
    cols = list(rows[0].keys())
    batches = [[[r[cols[0]] for r in rows[8 * s:8 * s + 8]], [r[cols[1]] for r in rows[8 * s:8 * s + 8]]]
               for s in range(20)]
    loss_fn = MultipleNegativesRankingLoss(st)
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01)
    st.eval()  # dropout off
    losses, norms = [], []
    for a, p in batches:
        fa, fp = st.tokenize(a), st.tokenize(p)
        loss = loss_fn([fa, fp], None)
        opt.zero_grad()
        loss.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(params, 1.0)))
        opt.step()
        losses.append(float(loss))
    names = ["base_model.model.encoder.layer.0.attention.self.query.lora_A.default.weight",
             "base_model.model.encoder.layer.0.attention.self.query.lora_B.default.weight",
             "base_model.model.encoder.layer.5.attention.self.value.lora_B.default.weight"]
    sd = dict(pm.named_parameters())
    tensors = {n.replace(".default", "").replace("base_model.model.", ""): sd[n].detach().flatten()[:200].tolist()
               for n in names}
    with torch.no_grad():
        emb = st.encode(TEXTS, convert_to_numpy=True)
    return {"base": os.path.relpath(MINILM, ROOT), "init": os.path.relpath(d, ROOT), "batches": batches,
            "lr": 1e-3, "weight_decay": 0.01, "max_grad_norm": 1.0, "losses": losses, "grad_norms": norms,
            "tensors": tensors, "texts": TEXTS, "embeddings": emb.tolist(), "trainable": trainable, "total": total}


def main():
    import peft
    import sentence_transformers
    import transformers

    os.makedirs(OUT, exist_ok=True)
    adapters = [
        adapter_case("minilm", MINILM, {"r": 4, "lora_alpha": 8, "lora_dropout": 0.0,
                                        "target_modules": ["query", "value", "dense"]}, 3,
                     ["encoder.layer.0.attention.self.query.weight", "encoder.layer.2.intermediate.dense.weight",
                      "encoder.layer.5.output.dense.weight", "encoder.layer.1.attention.output.dense.weight"]),
        adapter_case("tiny", TINY, {"r": 2, "lora_alpha": 6, "lora_dropout": 0.0, "use_rslora": True,
                                    "target_modules": ["key", "intermediate.dense"], "modules_to_save": ["pooler"]},
                     5, ["encoder.layer.1.attention.self.key.weight", "pooler.dense.weight"]),
    ]
    train = train_case()
    print("train losses", [round(x, 5) for x in train["losses"]])
    with open(os.path.join(OUT, "refs.json"), "w") as f:
        json.dump({"generator": "tools/gen_lora_refs.py",
                   "versions": {"peft": peft.__version__, "sentence_transformers": sentence_transformers.__version__,
                                "transformers": transformers.__version__, "torch": torch.__version__},
                   "adapters": adapters, "train": train}, f)


if __name__ == "__main__":
    main()
