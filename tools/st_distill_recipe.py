#!/usr/bin/env python3
"""tools/st_distill_recipe.py -- recipes/distillation.yaml run by sentence-transformers 6.2.0
itself, as the skill's distillation template does it: the teacher (all-MiniLM-L6-v2) encodes the
unique SNLI sentences once (label = teacher.encode(text), batch 256), the student is a 384-wide
StaticEmbedding on the bert-base-uncased tokenizer with a Normalize appended (the teacher ends in
one), MSELoss, STS-B dev EmbeddingSimilarityEvaluator("sts-dev"), the recipe's arguments (1 epoch,
batch 128, lr 0.2, linear schedule, warmup 0.1). Both the student's random initial table and the
batch order come from each library's own generator, so runs agree up to seed noise; several seeds
give that spread.

Compare with:
  sbert train recipes/distillation.yaml --eval_strategy no --save_strategy no \
      --load_best_model_at_end false --seed N --output_dir DIR

Run: /work/venv/bin/python tools/st_distill_recipe.py [seed ...]
Environment: THREADS (torch threads, default 2).
Prints one JSON line per seed: {"recipe", "seed", "teacher", "baseline", "final"}.
"""
import json
import os
import sys
import tempfile

import torch
from datasets import Dataset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEACHER = os.path.join(ROOT, "models", "all-MiniLM-L6-v2")


def jl(name):
    with open(os.path.join(ROOT, "data", name), encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def run(seed, teacher, train, evaluator):
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
    from sentence_transformers.sentence_transformer import losses as L
    from sentence_transformers.sentence_transformer.modules import Normalize, StaticEmbedding
    from sentence_transformers.sentence_transformer.training_args import SentenceTransformerTrainingArguments
    from tokenizers import Tokenizer

    torch.manual_seed(seed)  # the student's random table
    tok = Tokenizer.from_file(os.path.join(ROOT, "data", "bert-base-uncased-tokenizer.json"))
    student = SentenceTransformer(modules=[StaticEmbedding(tok, embedding_dim=384), Normalize()], device="cpu")
    baseline = evaluator(student)
    with tempfile.TemporaryDirectory() as out:
        args = SentenceTransformerTrainingArguments(
            output_dir=out, num_train_epochs=1, per_device_train_batch_size=128, per_device_eval_batch_size=128,
            learning_rate=0.2, lr_scheduler_type="linear", warmup_steps=0.1, eval_strategy="no",
            save_strategy="no", logging_steps=0.1, seed=seed, report_to="none")
        trainer = SentenceTransformerTrainer(model=student, args=args, train_dataset=train,
                                             loss=L.MSELoss(student))
        trainer.train()
    final = evaluator(student)
    return {"recipe": "distillation", "seed": seed, "baseline": baseline, "final": final}


def main():
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator

    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    seeds = [int(s) for s in sys.argv[1:]] or [12]
    teacher = SentenceTransformer(TEACHER, device="cpu")
    texts = [r["text"] for r in jl("snli-sentences.jsonl")]
    train = Dataset.from_dict({"text": texts, "label": list(teacher.encode(texts, batch_size=256))})
    dev = jl("stsb-dev.jsonl")
    evaluator = EmbeddingSimilarityEvaluator([r["sentence1"] for r in dev], [r["sentence2"] for r in dev],
                                             [r["score"] for r in dev], name="sts-dev")
    teacher_score = evaluator(teacher)
    for seed in seeds:
        r = run(seed, teacher, train, evaluator)
        r["teacher"] = teacher_score
        print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
