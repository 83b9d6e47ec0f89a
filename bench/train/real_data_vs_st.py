#!/usr/bin/env python3
"""bench/train: real-data quality parity with sentence-transformers.

Fine-tunes all-MiniLM-L6-v2 (models/, tools/fetch_models.sh) for one epoch
with the same recipe on both sides and evaluates every model on the STS-B
test split with sentence-transformers' own EmbeddingSimilarityEvaluator
(sbert's saved model is loaded in Python for that, so this also checks that
Python reads what sbert writes):

  cosent-stsb  CoSENTLoss (scale 20) on data/stsb-train.jsonl (5,749 scored
               pairs), batch 16, BATCH_SAMPLER
  mnrl-snli    MultipleNegativesRankingLoss (scale 20) on
               data/allnli-triplets.jsonl (6,339 SNLI triplets), batch 32,
               NO_DUPLICATES

Both: AdamW lr 2e-5, 10% linear warmup, weight decay 0.01, max_grad_norm 1,
dropout on, seed S, no evaluation during training. The two sides train on
the SAME batches: bench/train/batch_order.c prints the batches sbert's
trainer draws for the seed, and sentence-transformers' trainer is given them
in place of its own sampler. What is left to differ is the dropout masks
(torch's generator vs sbert's) and rounding. The issue's bar: sbert's STS-B
test Spearman within +-0.005 of sentence-transformers'.

With --no-dropout both sides load a copy of the model whose config.json sets
hidden_dropout_prob and attention_probs_dropout_prob to 0: the control run,
where only rounding is left to differ.

Usage: python3 bench/train/real_data_vs_st.py [--tasks cosent-stsb,mnrl-snli]
           [--seeds 12] [--threads 2] [--limit N] [--no-dropout] [--json OUT]
Needs: torch, sentence-transformers, datasets (not in CI; run by hand).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from side_by_side import ROOT, build_driver, minilm_dir, thread_env  # noqa: E402

TASKS = {
    "cosent-stsb": {"data": "data/stsb-train.jsonl", "loss": "CoSENTLoss", "batch": 16,
                    "sampler": "BATCH_SAMPLER"},
    "mnrl-snli": {"data": "data/allnli-triplets.jsonl", "loss": "MultipleNegativesRankingLoss", "batch": 32,
                  "sampler": "NO_DUPLICATES"},
}

ST_CHILD = r"""
import json, sys, torch
from datasets import load_dataset
from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentence_transformers.sentence_transformer import losses
from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator
cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg["threads"])
test = load_dataset("json", data_files=cfg["test"], split="train")
ev = EmbeddingSimilarityEvaluator(test["sentence1"], test["sentence2"], test["score"], name="sts-test")
def spearman(model):
    return float(next(v for k, v in ev(model).items() if k.endswith("spearman_cosine")))
if cfg.get("evaluate_only"):
    print("RESULT", json.dumps({"after": spearman(SentenceTransformer(cfg["evaluate_only"], device="cpu"))}))
    sys.exit(0)
batches = json.load(open(cfg["batches"]))

class FixedBatches:
    # the batches sbert's trainer draws (bench/train/batch_order.c)
    def __init__(self, b): self.b = b
    def __iter__(self): return iter([list(x) for x in self.b])
    def __len__(self): return len(self.b)
    def set_epoch(self, epoch): pass

class Trainer(SentenceTransformerTrainer):
    def get_batch_sampler(self, dataset, *args, **kwargs):
        return FixedBatches(batches)

model = SentenceTransformer(cfg["model"], device="cpu")
train = load_dataset("json", data_files=cfg["data"], split="train")
base = spearman(model)
loss = getattr(losses, cfg["loss"])(model, scale=20.0)
args = SentenceTransformerTrainingArguments(output_dir=cfg["out"], num_train_epochs=1,
    per_device_train_batch_size=cfg["batch"], learning_rate=2e-5, warmup_steps=0.1, weight_decay=0.01,
    lr_scheduler_type="linear", max_grad_norm=1.0, save_strategy="no", eval_strategy="no", logging_steps=50,
    report_to=[], seed=cfg["seed"], dataloader_num_workers=0)
trainer = Trainer(model=model, args=args, train_dataset=train, loss=loss)
out = trainer.train()
print("RESULT", json.dumps({"baseline": base, "after": spearman(model), "steps": out.global_step,
                            "train_loss": out.training_loss}))
"""


def run(cmd, env):
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.stderr.write(p.stdout[-3000:] + p.stderr[-3000:])
        raise SystemExit(f"command failed: {' '.join(cmd[:3])}")
    return p.stdout


def st_result(out):
    return json.loads(out.split("RESULT", 1)[1].splitlines()[0])


def build_batch_order(tmp):
    return build_driver("bench/train/batch_order.c", os.path.join(tmp, "batch_order"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", default="cosent-stsb,mnrl-snli")
    ap.add_argument("--seeds", default="12")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="train on the first N rows only")
    ap.add_argument("--json", default="", help="append each result as a JSON line here")
    ap.add_argument("--no-dropout", action="store_true", help="train a copy of the model with dropout 0")
    a = ap.parse_args()
    model = minilm_dir()
    test = os.path.join(ROOT, "data", "stsb-test.jsonl")
    env = thread_env(a.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        order = build_batch_order(tmp)
        if a.no_dropout:
            copy = os.path.join(tmp, "model-dropout0")
            shutil.copytree(model, copy)
            with open(os.path.join(copy, "config.json")) as f:
                config = json.load(f)
            config["hidden_dropout_prob"] = config["attention_probs_dropout_prob"] = 0.0
            with open(os.path.join(copy, "config.json"), "w") as f:
                json.dump(config, f, indent=2)
            model = copy
        for task in a.tasks.split(","):
            t = TASKS[task]
            data = os.path.join(ROOT, t["data"])
            if a.limit:
                data = os.path.join(tmp, task + ".jsonl")
                with open(os.path.join(ROOT, t["data"])) as f, open(data, "w") as g:
                    for i, line in zip(range(a.limit), f):
                        g.write(line)
            for seed in [int(s) for s in a.seeds.split(",")]:
                batches = os.path.join(tmp, f"{task}-{seed}.json")
                with open(batches, "w") as f:
                    f.write(run([order, data, t["sampler"], str(t["batch"]), str(seed)], env))
                cfg = {"threads": a.threads, "model": model, "data": data, "test": test, "batches": batches,
                       "loss": t["loss"], "batch": t["batch"], "seed": seed, "out": os.path.join(tmp, "st")}
                st = st_result(run([sys.executable, "-c", ST_CHILD, json.dumps(cfg)], env))
                out_dir = os.path.join(tmp, f"sb-{task}-{seed}")
                cmd = [os.path.join(ROOT, "build", "sbert"), "train",
                       os.path.join(ROOT, "recipes", "sentence_transformer.yaml"), "--model", model,
                       "--train_data", data, "--eval_data", test, "--evaluator_name", "sts-test",
                       "--metric_for_best_model", "eval_sts-test_spearman_cosine", "--loss", t["loss"],
                       "--scale", "20", "--per_device_train_batch_size", str(t["batch"]),
                       "--batch_sampler", t["sampler"], "--num_train_epochs", "1", "--learning_rate", "2e-5",
                       "--warmup_ratio", "0.1", "--weight_decay", "0.01", "--max_grad_norm", "1",
                       "--eval_strategy", "no", "--save_strategy", "no", "--load_best_model_at_end", "false",
                       "--seed", str(seed), "--num_threads", str(a.threads), "--output_dir", out_dir,
                       "--run_name", f"parity-{task}-{seed}"]
                out = run(cmd, env)
                m = re.search(r"VERDICT: \w+ \| score=([0-9.\-]+) \| baseline=([0-9.\-]+)", out)
                sb_own = {"after": float(m.group(1)), "baseline": float(m.group(2))}
                ecfg = dict(cfg, evaluate_only=os.path.join(out_dir, "final"))
                sb = st_result(run([sys.executable, "-c", ST_CHILD, json.dumps(ecfg)], env))
                row = {"task": task, "seed": seed, "rows": a.limit or None, "dropout": not a.no_dropout,
                       "steps": st["steps"],
                       "st_baseline": st["baseline"], "st_after": st["after"],
                       "sbert_after_in_st": sb["after"], "sbert_own_baseline": sb_own["baseline"],
                       "sbert_own_after": sb_own["after"], "delta": sb["after"] - st["after"]}
                rows.append(row)
                print(json.dumps(row), flush=True)
                if a.json:
                    with open(a.json, "a") as f:
                        f.write(json.dumps(row) + "\n")
    print(f"\n{'task':12s}{'seed':>6s}{'baseline':>10s}{'ST after':>10s}{'sbert after':>13s}{'delta':>9s}")
    for r in rows:
        print(f"{r['task']:12s}{r['seed']:6d}{r['st_baseline']:10.4f}{r['st_after']:10.4f}"
              f"{r['sbert_after_in_st']:13.4f}{r['delta']:+9.4f}")
    worst = max(abs(r["delta"]) for r in rows)
    print(f"worst |delta| {worst:.4f} (bar: 0.005) -> {'within' if worst <= 0.005 else 'OUTSIDE'}")


if __name__ == "__main__":
    main()
