#!/usr/bin/env python3
"""Reference runs of sentence-transformers' own SentenceTransformerTrainer,
for tests/test_trainer_parity.c: `sbert train` with the same arguments must
log the same losses, learning rates and evaluations, pick the same best
model, and end with the same weights.

Run: python3 tools/gen_trainer_refs.py  (needs torch, sentence-transformers,
datasets, models/all-MiniLM-L6-v2 and build/libsbert.a; outputs committed
under tests/data/trainer_parity/).

What makes the two runs comparable:
  * the batches: sbert's sampler (BATCH_SAMPLER, seed, epoch) is printed by
    bench/train/batch_order.c and given to the trainer in place of its own
    sampler, one list per epoch;
  * no dropout: the MiniLM copy's config.json sets both dropout
    probabilities to 0 (the overlay config is committed); StaticEmbedding has
    none;
  * the same starting weights: MiniLM from models/; the static model is made
    here (random init, seed) and committed, and sbert trains from it.
Everything else is the trainer's own: AdamW (torch), the schedule and its
warmup rounding, gradient accumulation (including a short last step of an
epoch), clipping, evaluation every eval_steps, checkpointing,
load_best_model_at_end, the log_history.

Recorded per case (ref.json): the arguments (as sbert recipe overrides and as
SentenceTransformerTrainingArguments), log_history (loss, grad_norm,
learning_rate -- the rate used at that step, as transformers 5 logs it --,
epoch, step, and the eval metrics), the best checkpoint, the final metrics
after load_best_model_at_end, the per-micro-batch losses (compute_loss), the
rate each optimizer step used, and final.safetensors with tensors of the
final model (MiniLM: a few encoder tensors and word-embedding rows; static:
the whole table).

Cases:
  minilm  all-MiniLM-L6-v2 (dropout 0), MNRL on 40 SNLI triplets, batch 8,
          gradient_accumulation_steps 2 (5 batches per epoch: steps of 2, 2
          and 1 batches), 2 epochs, warmup_ratio 0.2, linear, lr 1e-4,
          weight decay 0.01, eval/save every 2 steps, load_best_model_at_end,
          EmbeddingSimilarityEvaluator on 100 STS-B dev pairs;
  static  StaticEmbedding (dim 16 over a 3,000-word WordPiece tokenizer),
          MNRL on the same triplets, batch 8, 2 epochs, warmup_steps 2,
          cosine, lr 0.1, weight decay 0.01.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "trainer_parity")

MINILM_TENSORS = ["encoder.layer.0.attention.self.query.weight", "encoder.layer.5.output.dense.bias",
                  "encoder.layer.3.attention.output.LayerNorm.weight", "embeddings.LayerNorm.bias"]

CASES = {
    "minilm": {
        "model": "minilm-dropout0",
        "sbert": {"loss": "MultipleNegativesRankingLoss", "per_device_train_batch_size": "8",
                  "gradient_accumulation_steps": "2", "num_train_epochs": "2", "warmup_ratio": "0.2",
                  "lr_scheduler_type": "linear", "learning_rate": "1e-4", "weight_decay": "0.01",
                  "max_grad_norm": "1.0", "eval_strategy": "steps", "eval_steps": "2", "save_strategy": "steps",
                  "save_steps": "2", "load_best_model_at_end": "true",
                  "metric_for_best_model": "eval_sts-dev_spearman_cosine", "logging_steps": "1", "seed": "12",
                  "batch_sampler": "BATCH_SAMPLER", "evaluator": "EmbeddingSimilarityEvaluator",
                  "evaluator_name": "sts-dev", "per_device_eval_batch_size": "32"},
        "hf": dict(per_device_train_batch_size=8, gradient_accumulation_steps=2, num_train_epochs=2,
                   warmup_steps=0.2, lr_scheduler_type="linear", learning_rate=1e-4, weight_decay=0.01,
                   max_grad_norm=1.0, eval_strategy="steps", eval_steps=2, save_strategy="steps", save_steps=2,
                   load_best_model_at_end=True, metric_for_best_model="eval_sts-dev_spearman_cosine",
                   logging_steps=1, seed=12),
    },
    "static": {
        "model": "static-init",
        "sbert": {"loss": "MultipleNegativesRankingLoss", "per_device_train_batch_size": "8",
                  "num_train_epochs": "2", "warmup_steps": "2", "lr_scheduler_type": "cosine",
                  "learning_rate": "0.1", "weight_decay": "0.01", "max_grad_norm": "1.0",
                  "eval_strategy": "epoch", "save_strategy": "no", "logging_steps": "1", "seed": "5",
                  "batch_sampler": "BATCH_SAMPLER", "evaluator": "EmbeddingSimilarityEvaluator",
                  "evaluator_name": "sts-dev", "per_device_eval_batch_size": "32"},
        "hf": dict(per_device_train_batch_size=8, num_train_epochs=2, warmup_steps=2, lr_scheduler_type="cosine",
                   learning_rate=0.1, weight_decay=0.01, max_grad_norm=1.0, eval_strategy="epoch",
                   save_strategy="no", logging_steps=1, seed=5),
    },
}


def build_batch_order(tmp):
    exe = os.path.join(tmp, "batch_order")
    libs = subprocess.run(["pkg-config", "--libs", "libcjson", "libutf8proc", "libpcre2-8", "openblas", "zlib"],
                          capture_output=True, text=True, check=True).stdout.split()
    subprocess.run(["cc", "-O2", os.path.join(ROOT, "bench/train/batch_order.c"), "-I" + ROOT + "/include",
                    "-I" + ROOT + "/src", os.path.join(ROOT, "build/libsbert.a")] + libs +
                   ["-lpthread", "-lm", "-o", exe], check=True)
    return exe


def batch_order(exe, data, batch, seed, epoch):
    out = subprocess.run([exe, data, "BATCH_SAMPLER", str(batch), str(seed), str(epoch)], capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out)


def write_data():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(ROOT, "data", "allnli-triplets.jsonl")) as f:
        rows = [next(f) for _ in range(40)]
    with open(os.path.join(OUT, "triplets.jsonl"), "w") as f:
        f.writelines(rows)
    with open(os.path.join(ROOT, "data", "stsb-dev.jsonl")) as f:
        rows = [next(f) for _ in range(100)]
    with open(os.path.join(OUT, "sts-dev.jsonl"), "w") as f:
        f.writelines(rows)


def make_minilm_overlay():
    src = os.path.join(ROOT, "models", "all-MiniLM-L6-v2", "config.json")
    with open(src) as f:
        config = json.load(f)
    config["hidden_dropout_prob"] = config["attention_probs_dropout_prob"] = 0.0
    d = os.path.join(OUT, "minilm-dropout0-overlay")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f, indent=2)


def minilm_copy(tmp):
    d = os.path.join(tmp, "minilm-dropout0")
    shutil.copytree(os.path.join(ROOT, "models", "all-MiniLM-L6-v2"), d)
    shutil.copy(os.path.join(OUT, "minilm-dropout0-overlay", "config.json"), os.path.join(d, "config.json"))
    return d


def make_static_init():
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(ROOT, "tests", "data", "tokenizers", "syn-wordpiece-cased",
                                           "tokenizer.json"))
    torch.manual_seed(7)
    emb = StaticEmbedding(tok, embedding_dim=16)
    model = SentenceTransformer(modules=[emb], device="cpu")
    d = os.path.join(OUT, "static-init")
    shutil.rmtree(d, ignore_errors=True)
    model.save(d)
    for extra in ("README.md",):
        p = os.path.join(d, extra)
        if os.path.exists(p):
            os.remove(p)


def run_case(name, case, exe, tmp):
    import torch
    from datasets import load_dataset
    from safetensors.torch import save_file
    from sentence_transformers import (SentenceTransformer, SentenceTransformerTrainer,
                                       SentenceTransformerTrainingArguments)
    from sentence_transformers.sentence_transformer import losses
    from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator

    torch.set_num_threads(2)
    data = os.path.join(OUT, "triplets.jsonl")
    hf = dict(case["hf"])
    epochs = int(hf["num_train_epochs"])
    orders = [batch_order(exe, data, hf["per_device_train_batch_size"], hf["seed"], e) for e in range(epochs)]
    model_dir = minilm_copy(tmp) if case["model"] == "minilm-dropout0" else os.path.join(OUT, "static-init")
    model = SentenceTransformer(model_dir, device="cpu")
    train = load_dataset("json", data_files=data, split="train")
    dev = load_dataset("json", data_files=os.path.join(OUT, "sts-dev.jsonl"), split="train")
    ev = EmbeddingSimilarityEvaluator(dev["sentence1"], dev["sentence2"], dev["score"], name="sts-dev",
                                      batch_size=32)
    loss = losses.MultipleNegativesRankingLoss(model)

    class FixedBatches:
        def __init__(self):
            self.epoch = 0

        def __iter__(self):
            return iter([list(x) for x in orders[min(self.epoch, len(orders) - 1)]])

        def __len__(self):
            return len(orders[0])

        def set_epoch(self, epoch):
            self.epoch = epoch

    micro_losses, step_lrs = [], []

    class Trainer(SentenceTransformerTrainer):
        def get_batch_sampler(self, dataset, *args, **kwargs):
            return FixedBatches()

        def compute_loss(self, *args, **kwargs):
            out = super().compute_loss(*args, **kwargs)
            value = out[0] if isinstance(out, tuple) else out
            if self.model.training:
                micro_losses.append(float(value.detach()))
            return out

        def create_optimizer(self, *args, **kwargs):
            opt = super().create_optimizer(*args, **kwargs)
            orig = opt.step

            def step(*a, **k):
                step_lrs.append(opt.param_groups[0]["lr"])
                return orig(*a, **k)
            opt.step = step
            return opt

    args = SentenceTransformerTrainingArguments(output_dir=os.path.join(tmp, name + "-out"), report_to=[],
                                                dataloader_num_workers=0, dataloader_drop_last=False,
                                                use_cpu=True, **hf)
    trainer = Trainer(model=model, args=args, train_dataset=train, loss=loss, evaluator=ev)
    baseline = ev(model)
    trainer.train()
    final_metrics = ev(model)
    state = trainer.state
    best = state.best_model_checkpoint
    ref = {
        "generator": "tools/gen_trainer_refs.py",
        "versions": versions(),
        "model": case["model"],
        "sbert_args": case["sbert"],
        "hf_args": hf,
        "batches": orders,
        "baseline": baseline,
        "log_history": state.log_history,
        "global_step": state.global_step,
        "best_metric": state.best_metric,
        "best_step": int(best.rsplit("-", 1)[1]) if best else None,
        "final_metrics": final_metrics,
        "micro_losses": micro_losses,
        "step_lrs": step_lrs,
    }
    tensors = {}
    sd = model.state_dict()
    if case["model"] == "minilm-dropout0":
        for t in MINILM_TENSORS:
            tensors[t] = sd["0.model." + t].detach().clone().contiguous()
        ids = sorted({int(i) for i in model.tokenize(train["anchor"][:12])["input_ids"].flatten().tolist()})[:60]
        ref["word_rows"] = ids
        tensors["word_rows"] = sd["0.model.embeddings.word_embeddings.weight"][ids].detach().clone().contiguous()
    else:
        tensors["embedding.weight"] = sd["0.embedding.weight"].detach().clone().contiguous()
    save_file(tensors, os.path.join(OUT, name + "-final.safetensors"))
    with open(os.path.join(OUT, name + "-ref.json"), "w") as f:
        json.dump(ref, f, indent=1)
    print(name, "steps", state.global_step, "best", ref["best_step"], "final", final_metrics)


def versions():
    import sentence_transformers
    import torch
    import transformers
    return {"sentence_transformers": sentence_transformers.__version__, "transformers": transformers.__version__,
            "torch": torch.__version__}


def main():
    write_data()
    make_minilm_overlay()
    make_static_init()
    with tempfile.TemporaryDirectory() as tmp:
        exe = build_batch_order(tmp)
        for name in sys.argv[1:] or CASES:
            run_case(name, CASES[name], exe, tmp)


if __name__ == "__main__":
    main()
