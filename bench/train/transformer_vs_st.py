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

The two sides are alternated over --repeats runs (median and spread
reported). Also printed: the model FLOPs per sample (from the data's average
token counts), the GFLOP/s each side achieves, one core's sgemm rate on the
step's shapes (build/gemm_bench train, built by bench/encode/run.sh) and,
with --profile, the share of sbert's time in matrix products (perf).

Usage: python3 bench/train/transformer_vs_st.py [--threads 2] [--steps 30] [--batch 32] [--repeats 3] [--profile] [--bf16]
--bf16: both sides with bf16 autocast (sentence-transformers bf16=True on CPU,
sbert `bf16: true`).
Needs: torch, sentence-transformers, datasets (not installed in CI; run by hand).
"""
import argparse
import json
import os
import re
import statistics
import subprocess
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


def model_flops_per_sample(model, data, max_seq_length):
    """Multiply-add FLOPs of one training sample (forward + backward: 3x the
    forward's matrix products, and the attention's L^2 products), from the
    dataset's average token counts under the model's tokenizer."""
    from tokenizers import Tokenizer
    with open(os.path.join(model, "config.json")) as f:
        cfg = json.load(f)
    H, I, NL = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    tok = Tokenizer.from_file(os.path.join(model, "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_seq_length)
    n, tokens, sq = 0, 0, 0
    with open(data, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            for col in ("anchor", "positive"):
                L = len(tok.encode(row[col]).ids)
                tokens += L
                sq += L * L
            n += 1
    per_token = 3 * 2 * NL * H * (4 * H + 2 * I)   # QKV, out, FF1, FF2; fwd + 2 bwd
    attn = 3 * 2 * 2 * NL * H                      # QK^T and PV per L^2, fwd + 2 bwd
    return (tokens * per_token + sq * attn) / n, tokens / n


def sgemm_peak(batch, tokens_per_sample):
    """One core's cblas_sgemm rate on the step's shapes (bench/encode/gemm_bench.c)."""
    exe = os.path.join(ROOT, "build", "gemm_bench")
    if not os.path.exists(exe):
        return None
    T = int(round(batch * tokens_per_sample))
    p = subprocess.run([exe, "train", str(T)], capture_output=True, text=True)
    m = re.search(r"all 12 \(x6 layers\)\s+[0-9.]+\s+([0-9.]+)", p.stdout)
    return float(m.group(1)) if m else None


def gemm_share(cmd, env):
    """Share of the sbert process's CPU samples in matrix-product code (perf
    record -e cpu-clock): OpenBLAS kernels, their packing copies, sbert's
    small-row kernel. None when perf is not usable."""
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "perf.data")
        p = subprocess.run(["perf", "record", "-q", "-e", "cpu-clock", "-F", "1000", "-o", data, "--"]
                           + cmd, env=env, capture_output=True, text=True)
        if p.returncode != 0:
            return None
        rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--sort",
                              "symbol"], capture_output=True, text=True).stdout
    kernel = copies = small = 0.0
    for line in rep.splitlines():
        m = re.match(r"\s+([0-9.]+)%\s+\[[.k]\]\s+(\S+)", line)
        if not m:
            continue
        pct, sym = float(m.group(1)), m.group(2)
        if sym.startswith("sgemm_") and "copy" in sym:
            copies += pct
        elif sym.startswith(("sgemm_", "dgemm_")):
            kernel += pct
        elif sym.startswith("gemm_small"):
            small += pct
    return kernel, copies, small


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3,
                    help="alternated runs of each side (median and spread reported)")
    ap.add_argument("--profile", action="store_true",
                    help="one more sbert run under perf: share of time in matrix products")
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast on both sides")
    a = ap.parse_args()
    model = minilm_dir()
    data = os.path.join(ROOT, "data", "allnli-pairs.jsonl")
    env = thread_env(a.threads)
    print(f"# load average before (1/5/15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    st_runs, sb_runs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        cfg = {"threads": a.threads, "model": model, "data": data, "out": tmp + "/st", "steps": a.steps,
               "batch": a.batch, "max_seq_length": 128, "bf16": a.bf16}
        cmd = [os.path.join(ROOT, "build", "sbert"), "train", os.path.join(ROOT, "recipes", "sentence_transformer.yaml"),
               "--model", model, "--train_data", data, "--loss", "MultipleNegativesRankingLoss", "--scale", "20",
               "--max_seq_length", "128", "--per_device_train_batch_size", str(a.batch),
               "--batch_sampler", "NO_DUPLICATES", "--max_steps", str(a.steps), "--learning_rate", "2e-5",
               "--warmup_ratio", "0.1", "--weight_decay", "0.01", "--eval_strategy", "no",
               "--save_strategy", "no", "--load_best_model_at_end", "false", "--max_eval_samples", "64",
               "--logging_steps", "1000", "--num_threads", str(a.threads), "--output_dir", tmp + "/sb",
               "--run_name", "bench-minilm-mnrl", "--bf16", "true" if a.bf16 else "false"]
        for r in range(a.repeats):  # alternate which side goes first
            for side in (("st", "sbert") if r % 2 == 0 else ("sbert", "st")):
                if side == "st":
                    out, rss = run_child([sys.executable, "-c", ST_CHILD, json.dumps(cfg)], env)
                    st_runs.append((json.loads(out.split("RESULT", 1)[1].splitlines()[0])["samples_per_second"], rss))
                else:
                    out, rss = run_child(cmd, env)
                    sb_runs.append((sbert_samples_per_second(out), rss))
                print(f"#   run {r + 1} {side}: {(st_runs if side == 'st' else sb_runs)[-1][0]:.1f} samples/s",
                      flush=True)
        share = gemm_share(cmd, env) if a.profile else None
    med = lambda v: statistics.median(v)  # noqa: E731
    st_sps, sb_sps = [x[0] for x in st_runs], [x[0] for x in sb_runs]
    print_table(f"all-MiniLM-L6-v2 MNRL fine-tuning, {a.steps} steps, batch {a.batch}, max_seq_length 128, "
                f"{a.threads} threads, data/allnli-pairs.jsonl{', bf16 autocast' if a.bf16 else ''}; median of "
                f"{a.repeats} alternated runs",
                med(st_sps), med([x[1] for x in st_runs]), med(sb_sps), med([x[1] for x in sb_runs]))
    print(f"spread (min-max samples/s): sentence-transformers {min(st_sps):.1f}-{max(st_sps):.1f}, "
          f"sbert {min(sb_sps):.1f}-{max(sb_sps):.1f}")
    flops, tps = model_flops_per_sample(model, data, 128)
    achieved = med(sb_sps) * flops * 1e-9
    print(f"model FLOPs per sample (fwd + bwd, {tps:.1f} tokens per pair on average): {flops * 1e-9:.2f} GFLOP")
    print(f"achieved: sbert {achieved:.1f} GFLOP/s ({achieved / a.threads:.1f} per thread), "
          f"sentence-transformers {med(st_sps) * flops * 1e-9:.1f} GFLOP/s")
    peak = sgemm_peak(a.batch, tps)
    if peak:
        print(f"sgemm peak on the step's shapes (one core, build/gemm_bench train): {peak:.1f} GFLOP/s; "
              f"sbert reaches {achieved / (a.threads * peak) * 100:.0f}% of {a.threads} x that")
    if share:
        k, c, sm = share
        print(f"share of sbert's CPU time (perf, one extra run): OpenBLAS kernels {k:.1f}%, their packing "
              f"{c:.1f}%, sbert's small-row kernel {sm:.1f}% -> matrix products {k + c + sm:.1f}%")
    print(f"# load average after (1/5/15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
