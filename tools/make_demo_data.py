#!/usr/bin/env python3
"""Build the bundled demo / recipe data under data/ from ../shared/data
(standard library only; the outputs are committed, so users and CI need no
download).

  data/allnli-triplets.jsonl  (anchor, positive, negative) from SNLI test+validation:
                              premise, an entailment hypothesis, a contradiction hypothesis
  data/allnli-pairs.jsonl     (anchor, positive) entailment pairs from the same rows
  data/stsb-train.jsonl       STS-B train (sentence1, sentence2, score in [0, 1])
  data/stsb-dev.jsonl         STS-B dev, same columns
  data/stsb-test.jsonl        STS-B test, same columns
  data/bert-base-uncased-tokenizer.json   the bert-base-uncased tokenizer (for static models)
"""
import json
import os
import shutil
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared", "data")
OUT = os.path.join(ROOT, "data")


def write_jsonl(name, rows):
    path = os.path.join(OUT, name)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    os.replace(path + ".tmp", path)
    print(name, len(rows))


def main():
    os.makedirs(OUT, exist_ok=True)
    groups = defaultdict(lambda: {"0": [], "2": []})
    for split in ("validation", "test"):
        with open(os.path.join(SHARED, "snli", f"{split}.tsv"), encoding="utf-8") as f:
            next(f)
            for line in f:
                p, h, lab = line.rstrip("\n").split("\t")
                if lab in ("0", "2"):
                    groups[p][lab].append(h)
    triplets, pairs = [], []
    for p, g in groups.items():
        for i, pos in enumerate(g["0"]):
            pairs.append({"anchor": p, "positive": pos})
            if g["2"]:
                triplets.append({"anchor": p, "positive": pos, "negative": g["2"][i % len(g["2"])]})
    write_jsonl("allnli-triplets.jsonl", triplets)
    write_jsonl("allnli-pairs.jsonl", pairs)
    for split in ("train", "dev", "test"):
        rows = []
        with open(os.path.join(SHARED, "stsb", f"sts-{split}.csv"), encoding="utf-8") as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                rows.append({"sentence1": parts[5], "sentence2": parts[6], "score": float(parts[4]) / 5.0})
        write_jsonl(f"stsb-{split}.jsonl", rows)
    shutil.copyfile(os.path.join(SHARED, "tokenizers", "bert-base-uncased", "tokenizer.json"),
                    os.path.join(OUT, "bert-base-uncased-tokenizer.json"))


if __name__ == "__main__":
    main()
