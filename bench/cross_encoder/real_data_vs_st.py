#!/usr/bin/env python3
"""bench/cross_encoder: real-data quality parity of CrossEncoder training with
sentence-transformers.

A reranker from all-MiniLM-L6-v2 (models/, tools/fetch_models.sh) is fine-tuned for one
epoch with BinaryCrossEntropyLoss on TrecQA train (data/trecqa-train-pairs.jsonl: 4,718
(question, sentence, label) rows, the file's negatives as hard negatives, pos_weight =
n_negatives / n_positives) and evaluated on TrecQA test (data/trecqa-test-rerank.jsonl,
81 questions) with sentence-transformers' own CrossEncoderRerankingEvaluator (ndcg@10);
sbert's trained model is loaded in Python for that, so this also checks that Python reads
what sbert writes.

Both sides start from the SAME CrossEncoder (sentence-transformers builds it from
all-MiniLM-L6-v2 with a seeded new head and saves it; sbert loads that folder) and train on
the SAME batches (bench/train/batch_order.c prints the batches sbert's trainer draws;
sentence-transformers' trainer gets them instead of its own sampler): batch 32, AdamW lr
2e-5, 10% linear warmup, weight decay 0.01, max_grad_norm 1, dropout on, no evaluation
inside training. What differs: dropout masks (torch's generator vs sbert's) and rounding.
sentence-transformers is run with several dropout seeds (--st-seeds) on the same batches
to measure its own seed-to-seed spread, the yardstick when |delta| exceeds 0.005.

Usage: python3 bench/cross_encoder/real_data_vs_st.py [--seed 12] [--st-seeds 1,2,3]
           [--threads 2] [--json OUT]
Needs torch, sentence-transformers, datasets (not in CI; run by hand). Timings printed
are not a benchmark (see bench/cross_encoder/bench.py).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "train"))
from side_by_side import ROOT, minilm_dir, thread_env  # noqa: E402
from real_data_vs_st import build_batch_order, run, st_result  # noqa: E402

TRAIN = os.path.join(ROOT, "data", "trecqa-train-pairs.jsonl")
TEST = os.path.join(ROOT, "data", "trecqa-test-rerank.jsonl")

ST_CHILD = r"""
import json, sys, time, torch
from datasets import load_dataset
from sentence_transformers import CrossEncoder
from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments, losses
from sentence_transformers.cross_encoder.evaluation import CrossEncoderRerankingEvaluator
cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg["threads"])
samples = [json.loads(l) for l in open(cfg["test"], encoding="utf-8")]
ev = CrossEncoderRerankingEvaluator(samples, name="trecqa-test", batch_size=64)
def ndcg(model):
    m = ev(model)
    return {k.split("trecqa-test_")[1]: float(v) for k, v in m.items()}
if cfg.get("init"):
    torch.manual_seed(cfg["seed"])
    model = CrossEncoder(cfg["model"], num_labels=1, device="cpu")
    model.save(cfg["init"])
    print("RESULT", json.dumps({"baseline": ndcg(model)}))
    sys.exit(0)
if cfg.get("evaluate_only"):
    print("RESULT", json.dumps({"after": ndcg(CrossEncoder(cfg["evaluate_only"], device="cpu"))}))
    sys.exit(0)
batches = json.load(open(cfg["batches"]))

class FixedBatches:
    def __init__(self, b): self.b = b
    def __iter__(self): return iter([list(x) for x in self.b])
    def __len__(self): return len(self.b)
    def set_epoch(self, epoch): pass

class Trainer(CrossEncoderTrainer):
    def get_batch_sampler(self, dataset, *args, **kwargs):
        return FixedBatches(batches)

model = CrossEncoder(cfg["model"], device="cpu")
train = load_dataset("json", data_files=cfg["data"], split="train")
pos = sum(1 for l in train["label"] if l > 0.5)
loss = losses.BinaryCrossEntropyLoss(model, pos_weight=torch.tensor((len(train) - pos) / max(pos, 1)))
args = CrossEncoderTrainingArguments(output_dir=cfg["out"], num_train_epochs=1, per_device_train_batch_size=32,
    learning_rate=2e-5, warmup_steps=0.1, weight_decay=0.01, lr_scheduler_type="linear", max_grad_norm=1.0,
    save_strategy="no", eval_strategy="no", logging_steps=50, report_to=[], seed=cfg["dropout_seed"],
    dataloader_num_workers=0)
trainer = Trainer(model=model, args=args, train_dataset=train, loss=loss)
t0 = time.time()
out = trainer.train()
print("RESULT", json.dumps({"after": ndcg(model), "steps": out.global_step, "train_loss": out.training_loss,
                            "seconds": time.time() - t0}))
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=12, help="head initialisation and sbert's sampler/dropout seed")
    ap.add_argument("--st-seeds", default="1,2,3", help="sentence-transformers dropout seeds (same batches)")
    ap.add_argument("--sbert-seeds", default="", help="extra sbert dropout seeds (--seed for the batches stays)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    env = thread_env(a.threads)
    with tempfile.TemporaryDirectory() as tmp:
        init = os.path.join(tmp, "init")
        base = st_result(run([sys.executable, "-c", ST_CHILD, json.dumps(
            {"threads": a.threads, "model": minilm_dir(), "init": init, "seed": a.seed, "test": TEST})], env))
        order = build_batch_order(tmp)
        batches = os.path.join(tmp, "batches.json")
        with open(batches, "w") as f:
            f.write(run([order, TRAIN, "BATCH_SAMPLER", "32", str(a.seed)], env))
        st_runs = []
        for ds in [int(s) for s in a.st_seeds.split(",") if s]:
            cfg = {"threads": a.threads, "model": init, "data": TRAIN, "test": TEST, "batches": batches,
                   "dropout_seed": ds, "out": os.path.join(tmp, "st")}
            r = st_result(run([sys.executable, "-c", ST_CHILD, json.dumps(cfg)], env))
            st_runs.append(r)
            print(f"sentence-transformers (dropout seed {ds}): ndcg@10 {r['after']['ndcg@10']:.4f} "
                  f"map {r['after']['map']:.4f} ({r['steps']} steps, {r['seconds']:.0f} s)", flush=True)
        sb_runs = []
        for ds in [a.seed] + [int(s) for s in a.sbert_seeds.split(",") if s]:
            out_dir = os.path.join(tmp, f"sb-{ds}")
            cmd = [os.path.join(ROOT, "build", "sbert"), "train", os.path.join(ROOT, "recipes", "cross_encoder.yaml"),
                   "--model", init, "--train_data", TRAIN, "--eval_data", TEST, "--test_data", TEST,
                   "--evaluator_name", "trecqa-test", "--metric_for_best_model", "eval_trecqa-test_ndcg@10",
                   "--eval_strategy", "no", "--save_strategy", "no", "--load_best_model_at_end", "false",
                   "--early_stopping_patience", "0", "--seed", str(a.seed), "--num_threads", str(a.threads),
                   "--output_dir", out_dir, "--run_name", f"ce-parity-{ds}", "--log-dir", os.path.join(tmp, "logs")]
            if ds != a.seed:
                # same batches, other dropout masks: a copy of the batch order cannot be forced on sbert's own
                # sampler, so only the seed of the batches is kept; report these runs apart
                cmd[cmd.index("--seed") + 1] = str(ds)
            run(cmd, env)
            r = st_result(run([sys.executable, "-c", ST_CHILD, json.dumps(
                {"threads": a.threads, "test": TEST, "evaluate_only": os.path.join(out_dir, "final")})], env))
            sb_runs.append((ds, r))
            print(f"sbert (seed {ds}{', other batches' if ds != a.seed else ', same batches'}): ndcg@10 "
                  f"{r['after']['ndcg@10']:.4f} map {r['after']['map']:.4f}", flush=True)
    st_nd = [r["after"]["ndcg@10"] for r in st_runs]
    sb_nd = sb_runs[0][1]["after"]["ndcg@10"]
    mean = sum(st_nd) / len(st_nd)
    spread = max(st_nd) - min(st_nd)
    row = {"baseline_ndcg@10": base["baseline"]["ndcg@10"], "st_ndcg@10": st_nd, "st_mean": mean,
           "st_spread": spread, "sbert_ndcg@10": sb_nd, "delta_vs_st_mean": sb_nd - mean,
           "sbert_other_seeds": [(s, r["after"]["ndcg@10"]) for s, r in sb_runs[1:]]}
    print(json.dumps(row))
    inside = min(st_nd) - 0.005 <= sb_nd <= max(st_nd) + 0.005
    print(f"baseline {row['baseline_ndcg@10']:.4f}; sentence-transformers {mean:.4f} (seeds {st_nd}, spread "
          f"{spread:.4f}); sbert {sb_nd:.4f}: delta {sb_nd - mean:+.4f} -> "
          f"{'within +-0.005' if abs(sb_nd - mean) <= 0.005 else ('within ST seed spread +-0.005' if inside else 'OUTSIDE')}")
    if a.json:
        with open(a.json, "a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
