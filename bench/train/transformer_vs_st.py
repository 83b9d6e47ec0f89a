#!/usr/bin/env python3
"""bench/train: fine-tuning all-MiniLM-L6-v2 with MultipleNegativesRankingLoss,
sbert vs sentence-transformers, side by side on this machine: the same model
(models/all-MiniLM-L6-v2, tools/fetch_models.sh), max_seq_length 128, the
same real (anchor, positive) pairs (data/allnli-pairs.jsonl, SNLI), batch 32,
NO_DUPLICATES batches, AdamW lr 2e-5 with 10% linear warmup, weight decay
0.01, dropout on (training mode), the same number of optimizer steps, no
evaluation or checkpoints inside the timed loop. Each side runs in its own
process; the script prints training samples/s (sentence-transformers' own
train_samples_per_second; sbert's train_samples_per_second log line, both
over the whole training loop) and each process's peak RSS, then the ratios.

Usage: python3 bench/train/transformer_vs_st.py [--threads 2] [--steps 30] [--batch 32] [--bf16]
--bf16: both sides with bf16 autocast (sentence-transformers bf16=True on CPU,
sbert `bf16: true`).
Needs: torch, sentence-transformers, datasets (not installed in CI; run by hand).
"""
import argparse
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from side_by_side import ROOT, ST_PREAMBLE, minilm_dir, run_child, sbert_samples_per_second, print_table, thread_env  # noqa: E402

ST_CHILD = ST_PREAMBLE + r"""
model = SentenceTransformer(cfg["model"], device="cpu")
model.max_seq_length = cfg["max_seq_length"]
ds = load_dataset("json", data_files=cfg["data"], split="train")
args = SentenceTransformerTrainingArguments(output_dir=cfg["out"], max_steps=cfg["steps"],
    per_device_train_batch_size=cfg["batch"], learning_rate=2e-5, warmup_ratio=0.1, weight_decay=0.01,
    lr_scheduler_type="linear", max_grad_norm=1.0, batch_sampler="no_duplicates", save_strategy="no",
    eval_strategy="no", logging_steps=1000, report_to=[], seed=12, dataloader_num_workers=0,
    bf16=cfg.get("bf16", False), use_cpu=True)
trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=ds,
                                     loss=MultipleNegativesRankingLoss(model, scale=20.0))
out = trainer.train()
print("RESULT", json.dumps({"samples_per_second": out.metrics["train_samples_per_second"]}))
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast on both sides")
    a = ap.parse_args()
    model = minilm_dir()
    data = os.path.join(ROOT, "data", "allnli-pairs.jsonl")
    env = thread_env(a.threads)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = {"threads": a.threads, "model": model, "data": data, "out": tmp + "/st", "steps": a.steps,
               "batch": a.batch, "max_seq_length": 128, "bf16": a.bf16}
        out, st_rss = run_child([sys.executable, "-c", ST_CHILD, json.dumps(cfg)], env)
        st = json.loads(out.split("RESULT", 1)[1].splitlines()[0])
        cmd = [os.path.join(ROOT, "build", "sbert"), "train", os.path.join(ROOT, "recipes", "sentence_transformer.yaml"),
               "--model", model, "--train_data", data, "--loss", "MultipleNegativesRankingLoss", "--scale", "20",
               "--max_seq_length", "128", "--per_device_train_batch_size", str(a.batch),
               "--batch_sampler", "NO_DUPLICATES", "--max_steps", str(a.steps), "--learning_rate", "2e-5",
               "--warmup_ratio", "0.1", "--weight_decay", "0.01", "--eval_strategy", "no",
               "--save_strategy", "no", "--load_best_model_at_end", "false", "--max_eval_samples", "64",
               "--logging_steps", "1000", "--num_threads", str(a.threads), "--output_dir", tmp + "/sb",
               "--run_name", "bench-minilm-mnrl", "--bf16", "true" if a.bf16 else "false"]
        out, sb_rss = run_child(cmd, env)
        sb = {"samples_per_second": sbert_samples_per_second(out)}
    print_table(f"all-MiniLM-L6-v2 MNRL fine-tuning, {a.steps} steps, batch {a.batch}, max_seq_length 128, "
                f"{a.threads} threads, data/allnli-pairs.jsonl{', bf16 autocast' if a.bf16 else ''}",
                st["samples_per_second"], st_rss, sb["samples_per_second"], sb_rss)


if __name__ == "__main__":
    main()
