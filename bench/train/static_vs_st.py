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
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from side_by_side import ROOT, ST_PREAMBLE, run_child, sbert_samples_per_second, print_table, thread_env  # noqa: E402

ST_CHILD = ST_PREAMBLE + r"""
from tokenizers import Tokenizer
from sentence_transformers.sentence_transformer.modules import StaticEmbedding
tok = Tokenizer.from_file(cfg["tokenizer"])
model = SentenceTransformer(modules=[StaticEmbedding(tok, embedding_dim=256)], device="cpu")
ds = load_dataset("json", data_files=cfg["data"], split="train")
args = SentenceTransformerTrainingArguments(output_dir=cfg["out"], num_train_epochs=cfg["epochs"],
    per_device_train_batch_size=cfg["batch"], learning_rate=0.2, warmup_steps=0.1, batch_sampler="no_duplicates",
    save_strategy="no", eval_strategy="no", logging_steps=1000, report_to=[], seed=12, dataloader_num_workers=0)
trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=ds, loss=MultipleNegativesRankingLoss(model))
out = trainer.train()
print("RESULT", json.dumps({"samples_per_second": out.metrics["train_samples_per_second"], "runtime": out.metrics["train_runtime"]}))
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=128)
    a = ap.parse_args()
    data = os.path.join(ROOT, "data", "allnli-triplets.jsonl")
    tokf = os.path.join(ROOT, "data", "bert-base-uncased-tokenizer.json")
    env = thread_env(a.threads)
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
        sb = {"samples_per_second": sbert_samples_per_second(out)}
    print_table(f"StaticEmbedding MNRL training, {a.epochs} epoch(s), batch {a.batch}, {a.threads} threads, data/allnli-triplets.jsonl",
                st["samples_per_second"], st_rss, sb["samples_per_second"], sb_rss)


if __name__ == "__main__":
    main()
