#!/usr/bin/env python3
"""tools/make_bienc_data.py -- bundled data for the issue-10 recipes, derived from the bundled SNLI
triplets (data/snli-triplets-{train,dev}.jsonl; SNLI 1.0, CC BY-SA 4.0, see data/SOURCE.txt):

  data/snli-binary-train.jsonl  (sentence1, sentence2, label): label 1 = entailed hypothesis,
  data/snli-binary-dev.jsonl     0 = contradicting hypothesis; two rows per triplet
  data/snli-nli-train.jsonl     (premise, hypothesis, label): the SNLI classes of those rows,
  data/snli-nli-dev.jsonl        0 entailment, 2 contradiction (SoftmaxLoss / LabelAccuracyEvaluator)
  data/snli-sentences.jsonl     (text): the distinct premises and hypotheses of the train triplets,
                                 unlabelled (ContrastiveTension, TSDAE-style runs)
Python standard library only. Run: python3 tools/make_bienc_data.py
"""
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(name):
    with open(os.path.join(ROOT, "data", name), encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def write(name, rows):
    with open(os.path.join(ROOT, "data", name), "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def main():
    for split in ("train", "dev"):
        trip = read(f"snli-triplets-{split}.jsonl")
        binary, nli = [], []
        for t in trip:
            binary.append({"sentence1": t["anchor"], "sentence2": t["positive"], "label": 1})
            binary.append({"sentence1": t["anchor"], "sentence2": t["negative"], "label": 0})
            nli.append({"premise": t["anchor"], "hypothesis": t["positive"], "label": 0})
            nli.append({"premise": t["anchor"], "hypothesis": t["negative"], "label": 2})
        write(f"snli-binary-{split}.jsonl", binary)
        write(f"snli-nli-{split}.jsonl", nli)
    seen, sents = set(), []
    for t in read("snli-triplets-train.jsonl"):
        for s in (t["anchor"], t["positive"], t["negative"]):
            if s not in seen:
                seen.add(s)
                sents.append({"text": s})
    write("snli-sentences.jsonl", sents)


if __name__ == "__main__":
    main()
