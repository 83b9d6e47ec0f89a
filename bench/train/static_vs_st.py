#!/usr/bin/env python3
"""bench/train: StaticEmbedding training, sbert vs sentence-transformers, side
by side on this machine: same tokenizer, same data (data/allnli-triplets.jsonl),
same loss (MultipleNegativesRankingLoss), batch size, epochs, learning rate and
sampler. Prints training samples/s and peak RSS of each, and the ratios.

Usage: python3 bench/train/static_vs_st.py [--threads 2] [--epochs 1] [--batch 128]
Needs: torch, sentence-transformers, datasets (not installed in CI; run by hand).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ST_CHILD = r"""
import json, sys, time, torch
from datasets import load_dataset
from tokenizers import Tokenizer
from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
from sentence_transformers.sentence_transformer.modules import StaticEmbedding
cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg["threads"])
tok = Tokenizer.from_file(cfg["tokenizer"])
model = SentenceTransformer(modules=[StaticEmbedding(tok, embedding_dim=256)], device="cpu")
ds = load_dataset("json", data_files=cfg["data"], split="train")
args = SentenceTransformerTrainingArguments(output_dir=cfg["out"], num_train_epochs=cfg["epochs"],
    per_device_train_batch_size=cfg["batch"], learning_rate=0.2, warmup_steps=0.1, batch_sampler="no_duplicates",
    save_strategy="no", eval_strategy="no", logging_steps=1000, report_to=[], seed=12, dataloader_num_workers=0)
trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=ds, loss=MultipleNegativesRankingLoss(model))
t0 = time.time()
out = trainer.train()
print("RESULT", json.dumps({"samples_per_second": out.metrics["train_samples_per_second"], "runtime": out.metrics["train_runtime"]}))
"""


# Runs a command and reports that command's own peak RSS (a fresh wrapper per
# command, so one side's memory never masks the other's).
WRAP = r"""
import resource, subprocess, sys
p = subprocess.run(sys.argv[1:])
print("RSS_KB", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, flush=True)
sys.exit(p.returncode)
"""


def run_child(cmd, env):
    p = subprocess.run([sys.executable, "-c", WRAP] + cmd, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.stderr.write(p.stdout[-3000:] + p.stderr[-3000:])
        raise SystemExit(f"command failed: {cmd[:3]}")
    rss_mb = int(re.search(r"RSS_KB (\d+)", p.stdout).group(1)) / 1024.0
    return p.stdout, rss_mb


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=128)
    a = ap.parse_args()
    data = os.path.join(ROOT, "data", "allnli-triplets.jsonl")
    tokf = os.path.join(ROOT, "data", "bert-base-uncased-tokenizer.json")
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), OPENBLAS_NUM_THREADS=str(a.threads))
    with tempfile.TemporaryDirectory() as tmp:
        # sentence-transformers (each side in its own process so peak RSS is its own)
        cfg = {"threads": a.threads, "tokenizer": tokf, "data": data, "out": tmp + "/st", "epochs": a.epochs, "batch": a.batch}
        out, st_rss = run_child([sys.executable, "-c", ST_CHILD, json.dumps(cfg)], env)
        st = json.loads(out.split("RESULT", 1)[1].splitlines()[0])
        sbert = os.path.join(ROOT, "build", "sbert")
        cmd = [sbert, "train", os.path.join(ROOT, "recipes", "static_embedding.yaml"), "--output_dir", tmp + "/sb",
               "--num_train_epochs", str(a.epochs), "--per_device_train_batch_size", str(a.batch),
               "--eval_strategy", "no", "--save_strategy", "no", "--load_best_model_at_end", "false",
               "--num_threads", str(a.threads), "--run_name", "bench-static"]
        out, sb_rss = run_child(cmd, env)
        m = re.search(r"'train_samples_per_second': ([0-9.]+)", out)
        sb = {"samples_per_second": float(m.group(1))}
    print(f"StaticEmbedding MNRL training, {a.epochs} epoch(s), batch {a.batch}, {a.threads} threads, data/allnli-triplets.jsonl")
    print(f"{'':24s}{'samples/s':>12s}{'peak RSS MB':>14s}")
    print(f"{'sentence-transformers':24s}{st['samples_per_second']:12.1f}{st_rss:14.0f}")
    print(f"{'sbert':24s}{sb['samples_per_second']:12.1f}{sb_rss:14.0f}")
    print(f"ratio sbert/ST: samples/s {sb['samples_per_second'] / st['samples_per_second']:.2f}x, "
          f"memory {sb_rss / st_rss:.2f}x")


if __name__ == "__main__":
    main()
