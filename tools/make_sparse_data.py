#!/usr/bin/env python3
"""tools/make_sparse_data.py -- the bundled data of the SparseEncoder recipes (data/SOURCE.txt),
built from the project's shared data folder (../shared/data):

  data/xquad-en-train-pairs.jsonl  XQuAD en (SQuAD v1.1 dev content, CC BY-SA 4.0): (anchor = question,
                                   positive = its paragraph) for the questions of articles 0..35
                                   (file order); the training pairs of recipes/sparse_encoder.yaml
  data/xquad-en-ir-dev.json        InformationRetrievalEvaluator data: the questions of articles
                                   36..47 as queries, all 240 paragraphs as the corpus, each question's
                                   own paragraph as its relevant document
  data/trecqa-margin-train.jsonl   TrecQA train (Wang et al. 2007 / jacana; research use): (query,
                                   positive, negative, label) with up to 4 (positive, negative) pairs
                                   per question, label = cos(q, pos) - cos(q, neg) under the teacher
                                   all-MiniLM-L6-v2 (models/, tools/fetch_models.sh), computed with
                                   sentence-transformers: the margins of recipes/sparse_encoder_distillation.yaml
  data/trecqa-ir-dev.json          TrecQA dev as IR data: questions with a correct answer sentence as
                                   queries, every dev answer sentence as the corpus, label-1
                                   sentences relevant

Run from the repository root: python3 tools/make_sparse_data.py (needs sentence-transformers for
the teacher margins).
"""
import csv
import json
import os
import random

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("SBERT_SHARED", os.path.join(os.path.dirname(ROOT), "shared"))


def xquad():
    with open(os.path.join(SHARED, "data", "xquad", "xquad.en.json"), encoding="utf-8") as f:
        data = json.load(f)["data"]
    pairs, queries, corpus, rel = [], {}, {}, {}
    for ai, art in enumerate(data):
        for pi, para in enumerate(art["paragraphs"]):
            pid = f"p{ai:02d}-{pi:02d}"
            corpus[pid] = para["context"]
            for qa in para["qas"]:
                if ai < 36:
                    pairs.append({"anchor": qa["question"], "positive": para["context"]})
                else:
                    queries[qa["id"]] = qa["question"]
                    rel[qa["id"]] = [pid]
    with open(os.path.join(ROOT, "data", "xquad-en-train-pairs.jsonl"), "w", encoding="utf-8") as f:
        for p in pairs:
            f.write(json.dumps(p, ensure_ascii=False) + "\n")
    with open(os.path.join(ROOT, "data", "xquad-en-ir-dev.json"), "w", encoding="utf-8") as f:
        json.dump({"queries": queries, "corpus": corpus, "relevant_docs": rel}, f, ensure_ascii=False)
    print(f"xquad: {len(pairs)} train pairs; dev {len(queries)} queries x {len(corpus)} paragraphs")


def read_trecqa(split):
    with open(os.path.join(SHARED, "data", "trecqa-answer-selection", f"{split}.csv"), encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    groups = {}
    for r in rows:
        groups.setdefault(r["qtext"], []).append((r["atext"], int(r["label"])))
    return groups


def trecqa():
    from sentence_transformers import SentenceTransformer

    teacher = SentenceTransformer(os.path.join(ROOT, "models", "all-MiniLM-L6-v2"), device="cpu")
    rng = random.Random(12)
    out = []
    for q, cands in read_trecqa("train").items():
        pos = [a for a, l in cands if l == 1]
        neg = [a for a, l in cands if l == 0]
        if not pos or not neg:
            continue
        for k in range(min(4, len(pos) * len(neg))):
            out.append((q, pos[k % len(pos)], rng.choice(neg)))
    qs = teacher.encode([r[0] for r in out], convert_to_tensor=True, normalize_embeddings=True)
    ps = teacher.encode([r[1] for r in out], convert_to_tensor=True, normalize_embeddings=True)
    ns = teacher.encode([r[2] for r in out], convert_to_tensor=True, normalize_embeddings=True)
    margins = ((qs * ps).sum(1) - (qs * ns).sum(1)).tolist()
    with open(os.path.join(ROOT, "data", "trecqa-margin-train.jsonl"), "w", encoding="utf-8") as f:
        for (q, p, n), m in zip(out, margins):
            f.write(json.dumps({"query": q, "positive": p, "negative": n, "label": round(m, 6)},
                               ensure_ascii=False) + "\n")
    queries, corpus, rel, seen = {}, {}, {}, {}
    for qi, (q, cands) in enumerate(read_trecqa("dev").items()):
        rels = []
        for a, l in cands:
            if a not in seen:
                seen[a] = f"s{len(seen):04d}"
                corpus[seen[a]] = a
            if l == 1:
                rels.append(seen[a])
        if rels:
            queries[f"q{qi:03d}"] = q
            rel[f"q{qi:03d}"] = rels
    with open(os.path.join(ROOT, "data", "trecqa-ir-dev.json"), "w", encoding="utf-8") as f:
        json.dump({"queries": queries, "corpus": corpus, "relevant_docs": rel}, f, ensure_ascii=False)
    print(f"trecqa: {len(out)} margin rows; dev {len(queries)} queries x {len(corpus)} sentences")


if __name__ == "__main__":
    xquad()
    trecqa()
