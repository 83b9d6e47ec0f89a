#!/usr/bin/env python3
"""Reference metrics for sbert's evaluators, computed by sentence-transformers'
own EmbeddingSimilarityEvaluator on the same models and data the C test uses.

Writes tests/data/eval/refs.json. Run: python3 tools/gen_eval_refs.py
(needs models/all-MiniLM-L6-v2 from tools/fetch_models.sh)
"""
import json
import os

from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rows(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def main():
    cases = []
    for model_dir, data, name in [("models/all-MiniLM-L6-v2", "tests/data/eval/stsb-dev-500.jsonl", "sts-dev"),
                                  ("tests/data/static/model", "data/stsb-test.jsonl", "sts-test")]:
        model = SentenceTransformer(os.path.join(ROOT, model_dir), device="cpu")
        r = rows(data)
        ev = EmbeddingSimilarityEvaluator([x["sentence1"] for x in r], [x["sentence2"] for x in r],
                                          [x["score"] for x in r], name=name)
        metrics = ev(model)
        cases.append({"model": model_dir, "data": data, "name": name, "primary": ev.primary_metric,
                      "metrics": {k: float(v) for k, v in metrics.items()}})
        print(model_dir, metrics)
    out = os.path.join(ROOT, "tests", "data", "eval", "refs.json")
    with open(out, "w") as f:
        json.dump(cases, f, indent=1)


if __name__ == "__main__":
    main()
