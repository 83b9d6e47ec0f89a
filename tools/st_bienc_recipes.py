#!/usr/bin/env python3
"""tools/st_bienc_recipes.py -- recipes/matryoshka.yaml and recipes/multi_dataset.yaml run by
sentence-transformers 6.2.0 itself (SentenceTransformerTrainer, same data, loss, evaluators and
arguments), to compare the final metrics of `sbert train` with Python's. Batch order and dropout
masks come from each library's own generator, so runs agree up to seed noise; several seeds give
that spread.

Run: /work/venv/bin/python tools/st_bienc_recipes.py matryoshka|multi_dataset [seed ...]
Environment: N_TRAIN (rows per dataset, default 2000 as the recipes), EVAL_STRATEGY (steps as the
recipes; "no" evaluates only before and after training).
Prints one JSON line per seed: {"recipe", "seed", "baseline": {...}, "final": {...}}.
"""
import json
import os
import sys
import tempfile

import torch
from datasets import Dataset, DatasetDict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def jl(name, n=None):
    with open(os.path.join(ROOT, "data", name), encoding="utf-8") as f:
        rows = [json.loads(l) for l in f if l.strip()]
    return rows[:n] if n else rows


N_TRAIN = int(os.environ.get("N_TRAIN", "2000"))
EVAL_STRATEGY = os.environ.get("EVAL_STRATEGY", "steps")


def run(recipe, seed):
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
    from sentence_transformers.sentence_transformer import losses as L
    from sentence_transformers.sentence_transformer.evaluation import (EmbeddingSimilarityEvaluator,
                                                                       SequentialEvaluator)
    from sentence_transformers.sentence_transformer.training_args import (BatchSamplers,
                                                                          SentenceTransformerTrainingArguments)
    model = SentenceTransformer(os.path.join(ROOT, "models", "all-MiniLM-L6-v2"), device="cpu")
    sts = jl("stsb-dev.jsonl")
    s1, s2, sc = [r["sentence1"] for r in sts], [r["sentence2"] for r in sts], [r["score"] for r in sts]
    if recipe == "matryoshka":
        train = Dataset.from_list(jl("snli-triplets-train.jsonl", N_TRAIN))
        loss = L.MatryoshkaLoss(model, L.MultipleNegativesRankingLoss(model), [384, 256, 128, 64])
        evaluator = SequentialEvaluator(
            [EmbeddingSimilarityEvaluator(s1, s2, sc, name=f"sts-dev-{d}", truncate_dim=None if d == 384 else d,
                                          batch_size=64) for d in (384, 256, 128, 64)],
            main_score_function=lambda scores: scores[0])
        eval_dataset = None
    else:
        train = DatasetDict({"all-nli": Dataset.from_list(jl("snli-triplets-train.jsonl", N_TRAIN)),
                             "stsb": Dataset.from_list(jl("stsb-train.jsonl", N_TRAIN))})
        eval_dataset = DatasetDict({"all-nli": Dataset.from_list(jl("snli-triplets-dev.jsonl", 500)),
                                    "stsb": Dataset.from_list(jl("stsb-dev.jsonl", 500))})
        loss = {"all-nli": L.MultipleNegativesRankingLoss(model), "stsb": L.CoSENTLoss(model)}
        # max_eval_samples: 500 in the recipe keeps the first 500 evaluator pairs too
        evaluator = EmbeddingSimilarityEvaluator(s1[:500], s2[:500], sc[:500], name="sts-dev", batch_size=64)
    baseline = evaluator(model)
    with tempfile.TemporaryDirectory() as out:
        args = SentenceTransformerTrainingArguments(
            output_dir=out, num_train_epochs=1, per_device_train_batch_size=32, per_device_eval_batch_size=64,
            learning_rate=2e-5, warmup_steps=0.1, weight_decay=0.01, batch_sampler=BatchSamplers.NO_DUPLICATES,
            eval_strategy=EVAL_STRATEGY, eval_steps=0.5, save_strategy="no", logging_steps=0.1, seed=seed,
            report_to="none", dataloader_drop_last=False)
        trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=train, eval_dataset=eval_dataset,
                                             loss=loss, evaluator=evaluator)
        trainer.train()
    final = evaluator(model)
    return {"recipe": recipe, "seed": seed, "baseline": baseline, "final": final}


def main():
    torch.set_num_threads(2)
    recipe = sys.argv[1]
    seeds = [int(s) for s in sys.argv[2:]] or [12]
    for seed in seeds:
        print(json.dumps(run(recipe, seed)), flush=True)


if __name__ == "__main__":
    main()
