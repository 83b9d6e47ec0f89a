#!/usr/bin/env python3
"""tools/st_multilingual_recipe.py -- recipes/make_multilingual.yaml run by sentence-transformers
6.2.0 itself, as the skill's make_multilingual template does it (SentenceTransformerTrainer, a
DatasetDict with one dataset per language pair, label = teacher.encode(english), MSELoss, per
language MSEEvaluator + TranslationEvaluator in a SequentialEvaluator scored by the mean of the
translation accuracies), to compare the final score of `sbert train` with Python's. Batch order
comes from each library's own generator, so runs agree up to seed noise.

Run: /work/venv/bin/python tools/st_multilingual_recipe.py [seed ...]
Environment: EPOCHS (default 3, as the recipe), EVAL_STRATEGY (steps as the recipe; "no" evaluates
only before and after training), THREADS (torch threads, default 2).
Prints one JSON line per seed: {"recipe", "seed", "epochs", "baseline": {...}, "final": {...}}.
"""
import json
import os
import sys
import tempfile

import numpy as np
import torch
from datasets import Dataset, DatasetDict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EPOCHS = float(os.environ.get("EPOCHS", "3"))
EVAL_STRATEGY = os.environ.get("EVAL_STRATEGY", "steps")
MODEL = os.path.join(ROOT, "models", "all-MiniLM-L6-v2")


def jl(name):
    with open(os.path.join(ROOT, "data", name), encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def run(seed):
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
    from sentence_transformers.sentence_transformer import losses as L
    from sentence_transformers.sentence_transformer.evaluation import (MSEEvaluator, SequentialEvaluator,
                                                                       TranslationEvaluator)
    from sentence_transformers.sentence_transformer.training_args import SentenceTransformerTrainingArguments
    teacher = SentenceTransformer(MODEL, device="cpu")
    student = SentenceTransformer(MODEL, device="cpu")
    student.max_seq_length = 128
    train = {}
    for lang in ("de", "es"):
        rows = jl(f"xquad-parallel-en-{lang}.jsonl")
        ds = Dataset.from_list(rows)
        ds = ds.map(lambda b: {"label": teacher.encode(b["english"], batch_size=64)}, batched=True, batch_size=10000)
        train[f"en-{lang}"] = ds
    train = DatasetDict(train)
    evaluators = []
    for lang in ("de", "es"):
        rows = jl(f"tatoeba-{'deu' if lang == 'de' else 'spa'}-eng.jsonl")
        src, trg = [r["english"] for r in rows], [r["non_english"] for r in rows]
        evaluators.append(MSEEvaluator(src, trg, name=f"mse-en-{lang}", teacher_model=teacher, batch_size=64))
        evaluators.append(TranslationEvaluator(src, trg, name=f"translation-en-{lang}", batch_size=64))
    evaluator = SequentialEvaluator(evaluators, main_score_function=lambda scores: float(np.mean(scores[1::2])))
    baseline = evaluator(student)
    with tempfile.TemporaryDirectory() as out:
        args = SentenceTransformerTrainingArguments(
            output_dir=out, num_train_epochs=EPOCHS, per_device_train_batch_size=64, per_device_eval_batch_size=64,
            learning_rate=2e-5, warmup_ratio=0.1, weight_decay=0.01, eval_strategy=EVAL_STRATEGY, eval_steps=0.5,
            save_strategy="no", logging_steps=0.1, seed=seed, report_to="none")
        trainer = SentenceTransformerTrainer(model=student, args=args, train_dataset=train, loss=L.MSELoss(student),
                                             evaluator=evaluator)
        trainer.train()
    final = evaluator(student)
    return {"recipe": "make_multilingual", "seed": seed, "epochs": EPOCHS, "baseline": baseline, "final": final}


def main():
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    seeds = [int(s) for s in sys.argv[1:]] or [12]
    for seed in seeds:
        print(json.dumps(run(seed)), flush=True)


if __name__ == "__main__":
    main()
