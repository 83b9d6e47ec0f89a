#!/usr/bin/env python3
"""bench/cross_encoder: CrossEncoder training and predict speed, sbert vs
sentence-transformers, with each process's peak RSS.

  training  a reranker from all-MiniLM-L6-v2 (a new one-label head), BinaryCrossEntropyLoss
            on TrecQA train pairs (data/trecqa-train-pairs.jsonl), batch 32, --steps steps,
            AdamW lr 2e-5, 10% warmup, dropout on, no evaluation or checkpoints in the timed
            loop; samples/s = sentence-transformers' train_samples_per_second and sbert's
            train_samples_per_second log line (pairs per second).
  predict   the same starting CrossEncoder (sentence-transformers builds and saves it; both
            sides load that folder) scores the first --pairs pairs of TrecQA test with
            batch_size 32: best of --repeats runs after a warm-up, model load not timed
            (CrossEncoder.predict vs bench_predict.c -> sbert_cross_encoder_predict);
            the scores agree (max |delta| printed).

Usage: python3 bench/cross_encoder/bench.py [--threads 2] [--steps 30] [--pairs 1000] [--repeats 3]
Needs torch, sentence-transformers, datasets (not in CI; run by hand). The goals (issue):
training >= 2x, predict >= 1.5x, memory <= 0.5x. Numbers are meaningless on a busy machine:
check the load average printed first.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "train"))
from side_by_side import (ROOT, build_driver, minilm_dir, print_table, run_child,  # noqa: E402
                          sbert_samples_per_second, thread_env)

TRAIN = os.path.join(ROOT, "data", "trecqa-train-pairs.jsonl")

ST_TRAIN = r"""
import json, sys, torch
from datasets import load_dataset
from sentence_transformers import CrossEncoder
from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments, losses
cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg["threads"])
model = CrossEncoder(cfg["model"], device="cpu")
ds = load_dataset("json", data_files=cfg["data"], split="train")
args = CrossEncoderTrainingArguments(output_dir=cfg["out"], max_steps=cfg["steps"], per_device_train_batch_size=32,
    learning_rate=2e-5, warmup_steps=0.1, weight_decay=0.01, lr_scheduler_type="linear", max_grad_norm=1.0,
    save_strategy="no", eval_strategy="no", logging_steps=1000, report_to=[], seed=12, dataloader_num_workers=0)
trainer = CrossEncoderTrainer(model=model, args=args, train_dataset=ds, loss=losses.BinaryCrossEntropyLoss(model))
out = trainer.train()
print("RESULT", json.dumps({"samples_per_second": out.metrics["train_samples_per_second"]}))
"""

ST_PREDICT = r"""
import json, sys, time, torch, numpy as np
from sentence_transformers import CrossEncoder
cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg["threads"])
if cfg.get("init"):
    torch.manual_seed(12)
    CrossEncoder(cfg["model"], num_labels=1, device="cpu").save(cfg["init"])
    sys.exit(0)
model = CrossEncoder(cfg["model"], device="cpu")
pairs = [json.loads(l) for l in open(cfg["pairs"], encoding="utf-8")]
model.predict(pairs[:8], batch_size=32)
k = cfg.get("request", 0)
best, lat = 1e30, []
for _ in range(cfg["repeats"]):
    t = time.perf_counter()
    if k:  # one predict call per request of k pairs, as a reranker serves one query
        s = []
        for b in range(0, len(pairs), k):
            t1 = time.perf_counter()
            s.append(model.predict(pairs[b:b + k], batch_size=k, convert_to_numpy=True))
            lat.append(time.perf_counter() - t1)
        s = np.concatenate(s)
    else:
        s = model.predict(pairs, batch_size=32, convert_to_numpy=True)
    best = min(best, time.perf_counter() - t)
np.save(cfg["out"], s)
r = {"n": len(pairs), "seconds": best}
if k:
    r["p50_ms"], r["p99_ms"] = 1e3 * float(np.percentile(lat, 50)), 1e3 * float(np.percentile(lat, 99))
print("RESULT", json.dumps(r))
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--pairs", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument("--requests", default="1,10",
                    help="request sizes k: one predict call per k pairs, p50/p99 latency (empty: none)")
    a = ap.parse_args()
    print("load average:", open("/proc/loadavg").read().split()[:3], "cores:", os.cpu_count())
    env = thread_env(a.threads)
    model = minilm_dir()
    with tempfile.TemporaryDirectory() as tmp:
        if not a.skip_train:
            cfg = {"threads": a.threads, "model": model, "data": TRAIN, "out": tmp + "/st", "steps": a.steps}
            out, st_rss = run_child([sys.executable, "-c", ST_TRAIN, json.dumps(cfg)], env)
            st = json.loads(out.split("RESULT", 1)[1].splitlines()[0])
            cmd = [os.path.join(ROOT, "build", "sbert"), "train", os.path.join(ROOT, "recipes", "cross_encoder.yaml"),
                   "--model", model, "--train_data", TRAIN, "--pos_weight", "None", "--max_steps", str(a.steps),
                   "--eval_strategy", "no", "--save_strategy", "no", "--load_best_model_at_end", "false",
                   "--max_eval_samples", "4", "--logging_steps", "1000", "--num_threads", str(a.threads),
                   "--output_dir", tmp + "/sb", "--run_name", "bench-ce-bce", "--log-dir", tmp + "/logs"]
            out, sb_rss = run_child(cmd, env)
            print_table(f"CrossEncoder training (all-MiniLM-L6-v2, BCE, TrecQA pairs), {a.steps} steps, batch 32, "
                        f"{a.threads} threads", st["samples_per_second"], st_rss, sbert_samples_per_second(out), sb_rss)
        init = os.path.join(tmp, "init")
        subprocess.run([sys.executable, "-c", ST_PREDICT, json.dumps({"threads": a.threads, "model": model,
                                                                     "init": init})], env=env, check=True,
                       capture_output=True)
        pairs = os.path.join(tmp, "pairs.jsonl")
        n = 0
        with open(os.path.join(ROOT, "data", "trecqa-test-rerank.jsonl"), encoding="utf-8") as f, \
                open(pairs, "w", encoding="utf-8") as g:
            for line in f:
                s = json.loads(line)
                for d in s["positive"] + s["negative"]:
                    if n < a.pairs:
                        g.write(json.dumps([s["query"], d]) + "\n")
                        n += 1
        cfg = {"threads": a.threads, "model": init, "pairs": pairs, "repeats": a.repeats, "out": tmp + "/st.npy"}
        out, st_rss = run_child([sys.executable, "-c", ST_PREDICT, json.dumps(cfg)], env)
        st = json.loads(out.split("RESULT", 1)[1].splitlines()[0])
        exe = build_driver("bench/cross_encoder/bench_predict.c", os.path.join(tmp, "bench_predict"))
        out, sb_rss = run_child([exe, init, pairs, "32", str(a.threads), str(a.repeats)], env)
        sb = json.loads(out.strip().splitlines()[0])
        o = subprocess.run([os.path.join(ROOT, "build", "sbert"), "predict", "--model", init, "--input", pairs,
                            "--output", tmp + "/sb.npy", "--threads", str(a.threads)], env=env, check=True)
        d = float(np.abs(np.load(tmp + "/sb.npy").reshape(-1) - np.load(tmp + "/st.npy").reshape(-1)).max())
        print_table(f"CrossEncoder predict, {n} TrecQA test pairs, batch 32, {a.threads} threads (pairs/s; "
                    f"max |score delta| {d:.2e})", n / st["seconds"], st_rss, n / sb["seconds"], sb_rss)
        for k in [int(x) for x in a.requests.split(",") if x]:
            sts, sbs = [], []
            for r in range(a.repeats):  # alternate which side goes first
                for side in (("st", "sbert") if r % 2 == 0 else ("sbert", "st")):
                    if side == "st":
                        c = dict(cfg, request=k, repeats=1)
                        out, _ = run_child([sys.executable, "-c", ST_PREDICT, json.dumps(c)], env)
                        sts.append(json.loads(out.split("RESULT", 1)[1].splitlines()[0]))
                    else:
                        out, _ = run_child([exe, init, pairs, str(k), str(a.threads), "1", str(k)], env)
                        sbs.append(json.loads(out.strip().splitlines()[0]))
            med = lambda v, key: float(np.median([x[key] for x in v]))  # noqa: E731
            rng = lambda v: f"{min(n / x['seconds'] for x in v):.0f}-{max(n / x['seconds'] for x in v):.0f}"  # noqa: E731
            print(f"\nCrossEncoder predict in requests of {k} pair(s) (one call each), {n} pairs, {a.threads} threads, "
                  f"median of {a.repeats} alternated runs [min-max pairs/s]")
            print(f"  sentence-transformers  {n / med(sts, 'seconds'):8.1f} pairs/s [{rng(sts)}]  "
                  f"p50 {med(sts, 'p50_ms'):.2f} ms  p99 {med(sts, 'p99_ms'):.2f} ms")
            print(f"  sbert                  {n / med(sbs, 'seconds'):8.1f} pairs/s [{rng(sbs)}]  "
                  f"p50 {med(sbs, 'p50_ms'):.2f} ms  p99 {med(sbs, 'p99_ms'):.2f} ms")
            print(f"  ratio sbert/ST pairs/s {med(sts, 'seconds') / med(sbs, 'seconds'):.2f}x")
        print("load average after:", open("/proc/loadavg").read().split()[:3])


if __name__ == "__main__":
    main()
