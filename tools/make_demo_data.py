#!/usr/bin/env python3
"""Build the bundled demo / recipe data under data/ from ../shared/data
(standard library only; the outputs are committed, so users and CI need no
download).

  data/allnli-triplets.jsonl  (anchor, positive, negative) from SNLI test+validation:
                              premise, an entailment hypothesis, a contradiction hypothesis
  data/allnli-pairs.jsonl     (anchor, positive) entailment pairs from the same rows
  data/snli-triplets-train.jsonl, data/snli-triplets-dev.jsonl
                              a train/dev split of the same kind of triplets for recipes
                              (TripletLoss + TripletEvaluator), disjoint by premise: dev = the
                              first 500 triplets of SNLI validation (whole premise groups, file
                              order); train = SNLI test triplets, then the remaining validation
                              triplets, first 5000 kept. (allnli-triplets.jsonl holds both splits,
                              so it overlaps the dev file; do not pair the two.)
  data/stsb-train.jsonl       STS-B train (sentence1, sentence2, score in [0, 1])
  data/stsb-dev.jsonl         STS-B dev, same columns
  data/stsb-test.jsonl        STS-B test, same columns
  data/bert-base-uncased-tokenizer.json   the bert-base-uncased tokenizer (for static models)
  data/cranfield-ir.json      Cranfield 1400 as InformationRetrievalEvaluator data:
                              {"queries": {qid: text}, "corpus": {cid: text},
                               "relevant_docs": {qid: [cid, ...]}}
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


def _smart_records(path):
    """Records of a SMART file: list of (id, {field letter: text})."""
    recs, cur, field = [], None, None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith(".I "):
                cur = (line[3:].strip(), {})
                recs.append(cur)
                field = None
            elif len(line) == 2 and line[0] == "." and line[1].isalpha():
                field = line[1]
                cur[1][field] = []
            elif field is not None:
                cur[1][field].append(line)
    return [(i, {k: " ".join(" ".join(v).split()) for k, v in d.items()}) for i, d in recs]


def build_cranfield():
    """Cranfield 1400 for InformationRetrievalEvaluator.

    Corpus text is the .W abstract (it already starts with the title). Query k of
    cran.qry is qrels query k (cran.qry's .I numbers are not contiguous; see the
    shared SOURCE.txt). Relevance: the evaluator is binary, so a document counts
    as relevant when its Cleverdon code is 1..4 (complete answer .. minimum
    interest); code -1 (= 5, "of no interest", one row per query in this copy)
    is not relevant, as ir_datasets defines it and as users filtering score > 0
    would do. Queries left without a relevant document are dropped."""
    src = os.path.join(SHARED, "cranfield")
    corpus = {i: d.get("W", "") for i, d in _smart_records(os.path.join(src, "cran.all.1400"))}
    queries = {}
    for k, (_, d) in enumerate(_smart_records(os.path.join(src, "cran.qry")), start=1):
        queries[str(k)] = d.get("W", "")
    rel = {}
    with open(os.path.join(src, "cranqrel"), encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) != 3:
                continue
            q, d, code = parts[0], parts[1], int(parts[2])
            if 1 <= code <= 4 and d in corpus:
                rel.setdefault(q, [])
                if d not in rel[q]:
                    rel[q].append(d)
    queries = {q: t for q, t in queries.items() if q in rel}
    rel = {q: rel[q] for q in queries}
    path = os.path.join(OUT, "cranfield-ir.json")
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump({"queries": queries, "corpus": corpus, "relevant_docs": rel}, f, ensure_ascii=False)
        f.write("\n")
    os.replace(path + ".tmp", path)
    print("cranfield-ir.json", len(queries), "queries", len(corpus), "docs",
          sum(len(v) for v in rel.values()), "relevant pairs")


def snli_triplets(split):
    """(anchor, positive, negative) triplets of one SNLI split, premise groups in file order:
    every entailment hypothesis with contradiction hypothesis i % n_contradictions."""
    groups = defaultdict(lambda: {"0": [], "2": []})
    with open(os.path.join(SHARED, "snli", f"{split}.tsv"), encoding="utf-8") as f:
        next(f)
        for line in f:
            p, h, lab = line.rstrip("\n").split("\t")
            if lab in ("0", "2"):
                groups[p][lab].append(h)
    out = []
    for p, g in groups.items():
        if g["2"]:
            out.append([{"anchor": p, "positive": pos, "negative": g["2"][i % len(g["2"])]}
                        for i, pos in enumerate(g["0"])])
    return out  # one list per premise


def build_snli_split(n_dev=500, n_train=5000):
    val = snli_triplets("validation")
    dev, k = [], 0
    while k < len(val) and len(dev) < n_dev:
        dev.extend(val[k])
        k += 1
    dev_premises = {r["anchor"] for r in dev}
    train = [r for grp in snli_triplets("test") + val[k:] for r in grp if r["anchor"] not in dev_premises]
    write_jsonl("snli-triplets-dev.jsonl", dev)
    write_jsonl("snli-triplets-train.jsonl", train[:n_train])


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
    build_cranfield()
    build_snli_split()


if __name__ == "__main__":
    main()
