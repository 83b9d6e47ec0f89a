#!/usr/bin/env python3
"""Build the bundled CrossEncoder recipe data under data/ from ../shared/data (see each
source's SOURCE.txt there). The outputs are committed; rerunning rewrites them identically.

  data/trecqa-train-pairs.jsonl   TrecQA train (Wang et al. 2007; jacana split): (query, answer,
                                  label) rows, label 1 = the sentence answers the question; every
                                  candidate of the file kept (its negatives are the hard negatives)
  data/trecqa-dev-rerank.jsonl    TrecQA dev / test as CrossEncoderRerankingEvaluator samples
  data/trecqa-test-rerank.jsonl   {"query", "positive": [...], "negative": [...]} (questions with
                                  at least 2 candidates: sklearn's ndcg_score refuses one)
  data/xquad-en-lists-train.jsonl XQuAD en (Artetxe et al. 2019), articles 0-39: per question its
                                  paragraph split into sentences, (query, [sentences], [labels]) with
                                  label 1 for the sentence holding the answer span (LambdaLoss rows)
  data/xquad-en-rerank-dev.jsonl  articles 40-47: reranking samples {"query", "positive", "negative"}
  data/xquad-en-distill-train.jsonl  articles 0-39: (query, positive sentence, negative sentence,
                                  scores [teacher(q, pos), teacher(q, neg)]); the teacher is the
                                  bi-encoder all-MiniLM-L6-v2 (cosine x 10, models/all-MiniLM-L6-v2),
                                  a stand-in for a stronger CrossEncoder teacher (none is available
                                  offline); negatives: the other sentences of the paragraph
  data/snli-labeled-train.jsonl   SNLI 1.0 (CC BY-SA 4.0): (premise, hypothesis, label) rows, labels
  data/snli-labeled-dev.jsonl     0 entailment, 1 neutral, 2 contradiction; train = the first 6000
                                  labelled rows of the test split, dev = 1000 of validation

Run: python3 tools/make_ce_data.py (the teacher scores need sentence-transformers).
"""
import csv
import json
import os
import random
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared", "data")
OUT = os.path.join(ROOT, "data")


def write_jsonl(name, rows):
    path = os.path.join(OUT, name)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    os.replace(path + ".tmp", path)
    print(name, len(rows), os.path.getsize(path), "bytes")


def trecqa():
    for split in ("train", "dev", "test"):
        groups = {}
        with open(os.path.join(SHARED, "trecqa-answer-selection", f"{split}.csv"), encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        for r in rows:
            groups.setdefault(r["qtext"], []).append((r["atext"], int(r["label"])))
        if split == "train":
            write_jsonl("trecqa-train-pairs.jsonl",
                        [{"query": r["qtext"], "answer": r["atext"], "label": int(r["label"])} for r in rows])
        else:
            write_jsonl(f"trecqa-{split}-rerank.jsonl",
                        [{"query": q, "positive": [a for a, l in c if l], "negative": [a for a, l in c if not l]}
                         for q, c in groups.items() if len(c) >= 2])


SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def sentences(context):
    """Sentences of a paragraph with their start offsets."""
    out, pos = [], 0
    for s in SENT.split(context):
        start = context.index(s, pos)
        out.append((start, s))
        pos = start + len(s)
    return out


def xquad():
    data = json.load(open(os.path.join(SHARED, "xquad", "xquad.en.json"), encoding="utf-8"))["data"]
    lists, dev, triples = [], [], []
    rnd = random.Random(11)
    for ai, art in enumerate(data):
        for para in art["paragraphs"]:
            sents = sentences(para["context"])
            if len(sents) < 2:
                continue
            for qa in para["qas"]:
                a0 = qa["answers"][0]["answer_start"]
                labels = [1 if st <= a0 < st + len(s) + 1 else 0 for st, s in sents]
                if sum(labels) != 1:
                    continue
                texts = [s for _, s in sents]
                if ai < 40:
                    lists.append({"query": qa["question"], "documents": texts, "labels": labels})
                    pos = texts[labels.index(1)]
                    neg = rnd.choice([t for t, l in zip(texts, labels) if not l])
                    triples.append({"query": qa["question"], "positive": pos, "negative": neg})
                else:
                    dev.append({"query": qa["question"], "positive": [t for t, l in zip(texts, labels) if l],
                                "negative": [t for t, l in zip(texts, labels) if not l]})
    write_jsonl("xquad-en-lists-train.jsonl", lists)
    write_jsonl("xquad-en-rerank-dev.jsonl", dev)
    # teacher scores: the bi-encoder's cosine similarity x 10
    from sentence_transformers import SentenceTransformer
    teacher = SentenceTransformer(os.path.join(ROOT, "models", "all-MiniLM-L6-v2"), device="cpu")
    q = teacher.encode([t["query"] for t in triples], normalize_embeddings=True, batch_size=64)
    p = teacher.encode([t["positive"] for t in triples], normalize_embeddings=True, batch_size=64)
    n = teacher.encode([t["negative"] for t in triples], normalize_embeddings=True, batch_size=64)
    for i, t in enumerate(triples):
        t["scores"] = [round(float((q[i] * p[i]).sum()) * 10, 4), round(float((q[i] * n[i]).sum()) * 10, 4)]
    write_jsonl("xquad-en-distill-train.jsonl", triples)


def snli():
    def rows(split, n):
        out = []
        with open(os.path.join(SHARED, "snli", f"{split}.tsv"), encoding="utf-8") as f:
            for r in csv.DictReader(f, delimiter="\t"):
                if r["label"] in ("0", "1", "2"):
                    out.append({"premise": r["premise"], "hypothesis": r["hypothesis"], "label": int(r["label"])})
                if len(out) == n:
                    break
        return out

    write_jsonl("snli-labeled-train.jsonl", rows("test", 6000))
    write_jsonl("snli-labeled-dev.jsonl", rows("validation", 1000))


if __name__ == "__main__":
    trecqa()
    xquad()
    snli()
