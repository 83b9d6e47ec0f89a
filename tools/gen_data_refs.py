#!/usr/bin/env python3
"""Small data files and NO_DUPLICATES reference batches, written by
sentence-transformers' own NoDuplicatesBatchSampler.

Writes tests/data/datasets/:
  snli_pairs.jsonl     300 (premise, hypothesis, label) rows from SNLI test (premises repeat)
  snli_pairs.csv/.tsv  the same rows as CSV (RFC 4180 quoting) and TSV
  nodup_ref.json       a fixed permutation and the batches ST's sampler yields for it
                       (batch_size 16, drop_last False and True)
Run: python3 tools/gen_data_refs.py  (needs torch, datasets, sentence-transformers)
"""
import csv
import gzip
import json
import os

import numpy as np
import torch
from datasets import Dataset
from sentence_transformers.base.sampler import NoDuplicatesBatchSampler

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "datasets")
SNLI = os.path.join(ROOT, "..", "shared", "data", "snli", "test.tsv")


def main():
    rows = []
    with open(SNLI, encoding="utf-8") as f:
        next(f)
        for line in f:
            p, h, lab = line.rstrip("\n").split("\t")
            rows.append({"premise": p, "hypothesis": h, "label": int(lab)})
            if len(rows) == 300:
                break
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "snli_pairs.jsonl"), "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    with open(os.path.join(OUT, "snli_pairs.csv"), "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["premise", "hypothesis", "label"])
        for r in rows:
            w.writerow([r["premise"], r["hypothesis"], r["label"]])
    with gzip.open(os.path.join(OUT, "snli_pairs.tsv.gz"), "wt", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(["premise", "hypothesis", "label"])
        for r in rows:
            w.writerow([r["premise"], r["hypothesis"], r["label"]])

    ds = Dataset.from_list(rows)
    perm = np.random.default_rng(3).permutation(len(rows)).astype(np.int32)
    ref = {"perm": perm.tolist(), "batch_size": 16}
    real_randperm = torch.randperm
    for drop_last in (False, True):
        torch.randperm = lambda n, generator=None, dtype=None: torch.tensor(perm, dtype=dtype)
        try:
            s = NoDuplicatesBatchSampler(ds, batch_size=16, drop_last=drop_last, valid_label_columns=["label"])
            vals = lambda i: {str(v) for k, v in s.dataset[i].items()}
            overlap = lambda a, b: not a.isdisjoint(b)
            batches = [list(map(int, b)) for b in s._iter_one_pass(vals, overlap)]
        finally:
            torch.randperm = real_randperm
        ref["drop_last" if drop_last else "keep_last"] = batches
    with open(os.path.join(OUT, "nodup_ref.json"), "w") as f:
        json.dump(ref, f)
    print("wrote", OUT, [len(ref["keep_last"]), len(ref["drop_last"])])


if __name__ == "__main__":
    main()
