#!/usr/bin/env python3
"""Reference values for sbert's losses and evaluator metrics, written by
sentence-transformers / PyTorch / scipy themselves.

Writes tests/data/losses/refs.json:
  losses:  inputs (embedding columns, labels), the loss value and the gradient
           of the loss w.r.t. every column (torch autograd, float64 inputs so
           the reference is exact to ~1e-12; sbert computes in double as well)
  metrics: pearson/spearman (scipy) and InformationRetrievalEvaluator
           compute_metrics output on fixed score matrices (with ties).
Run: python3 tools/gen_loss_metric_refs.py   (needs torch, scipy, sentence-transformers)
"""
import json
import os

import numpy as np
import torch
from scipy.stats import pearsonr, spearmanr
from sentence_transformers import util
from sentence_transformers.sentence_transformer.losses import (
    CoSENTLoss,
    MultipleNegativesRankingLoss,
    MultipleNegativesSymmetricRankingLoss,
)
from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "losses", "refs.json")
rng = np.random.default_rng(1234)


def f32(a):
    """float32 values (what sbert's fp32 embeddings hold), kept as float64 for torch."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def loss_case(name, loss, cols, labels, params):
    ts = [torch.tensor(c, requires_grad=True) for c in cols]
    lab = torch.tensor(labels) if labels is not None else None
    value = loss.compute_loss_from_embeddings(ts, lab)
    value.backward()
    return {
        "name": name,
        "params": params,
        "cols": [c.tolist() for c in cols],
        "labels": None if labels is None else list(map(float, labels)),
        "loss": float(value),
        "grads": [t.grad.numpy().tolist() for t in ts],
    }


def main():
    torch.set_default_dtype(torch.float64)
    B, D = 8, 16
    cases = []
    cols3 = [f32(rng.normal(size=(B, D))) for _ in range(3)]
    cases.append(loss_case("mnrl_cos_pairs", MultipleNegativesRankingLoss(None), cols3[:2], None,
                           {"scale": 20.0, "sim": "cosine"}))
    cases.append(loss_case("mnrl_cos_triplets", MultipleNegativesRankingLoss(None), cols3, None,
                           {"scale": 20.0, "sim": "cosine"}))
    cases.append(loss_case("mnrl_dot_pairs",
                           MultipleNegativesRankingLoss(None, scale=1.0, similarity_fct=util.dot_score),
                           [c * 0.3 for c in cols3[:2]], None, {"scale": 1.0, "sim": "dot"}))
    cases.append(loss_case("mnrl_cos_scale5_4cols", MultipleNegativesRankingLoss(None, scale=5.0),
                           cols3 + [f32(rng.normal(size=(B, D)))], None, {"scale": 5.0, "sim": "cosine"}))
    cases.append(loss_case("mnsrl_cos_pairs", MultipleNegativesSymmetricRankingLoss(None), cols3[:2], None,
                           {"scale": 20.0, "sim": "cosine"}))
    labels = f32(np.round(rng.uniform(0, 5, size=B) * 2) / 2)  # ties included
    cases.append(loss_case("cosent", CoSENTLoss(None), cols3[:2], labels, {"scale": 20.0}))
    cases.append(loss_case("cosent_scale10", CoSENTLoss(None, scale=10.0), cols3[1:], labels, {"scale": 10.0}))

    # Correlations, with ties in both vectors.
    x = f32(np.round(rng.normal(size=60), 1))
    y = f32(x * 0.5 + np.round(rng.normal(size=60), 1))
    corr = {"x": x.tolist(), "y": y.tolist(), "pearson": float(pearsonr(x, y)[0]),
            "spearman": float(spearmanr(x, y)[0])}

    # Information retrieval metrics on a fixed score matrix (ties by rounding).
    nq, nc = 12, 40
    q = torch.tensor(f32(rng.normal(size=(nq, D))), dtype=torch.float32)
    c = torch.tensor(f32(rng.normal(size=(nc, D))), dtype=torch.float32)
    scores = util.cos_sim(q, c)
    scores = torch.round(scores * 20) / 20  # many ties: tie-break by corpus id matters
    corpus_ids = [f"d{(i * 7) % nc:02d}" for i in range(nc)]
    query_ids = [f"q{i}" for i in range(nq)]
    relevant = {}
    for i in range(nq):
        if i == 3:
            continue  # a query without relevant docs is dropped by the evaluator
        k = int(rng.integers(1, 4))
        relevant[query_ids[i]] = set(corpus_ids[j] for j in rng.choice(nc, size=k, replace=False))
    ev = InformationRetrievalEvaluator(
        queries=dict(zip(query_ids, ["q"] * nq)), corpus=dict(zip(corpus_ids, ["c"] * nc)),
        relevant_docs=relevant, mrr_at_k=[3, 10], ndcg_at_k=[5, 10], accuracy_at_k=[1, 3, 5, 10],
        precision_recall_at_k=[1, 3, 5, 10], map_at_k=[10, 100])
    kept = [i for i in range(nq) if query_ids[i] in relevant]
    results = [[{"corpus_id": corpus_ids[j], "score": float(scores[i, j])} for j in range(nc)] for i in kept]
    m = ev.compute_metrics(results)
    flat = {}
    for group, per_k in m.items():
        what = group.split("@")[0]
        for k, v in per_k.items():
            flat[f"cosine_{what}@{k}"] = float(v)
    ir = {"scores": scores.numpy().astype(np.float64).tolist(), "corpus_ids": corpus_ids,
          "relevant": [sorted(corpus_ids.index(cid) for cid in relevant.get(qid, ())) for qid in query_ids],
          "mrr_at_k": [3, 10], "ndcg_at_k": [5, 10], "accuracy_at_k": [1, 3, 5, 10],
          "precision_recall_at_k": [1, 3, 5, 10], "map_at_k": [10, 100], "metrics": flat}

    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT + ".tmp", "w") as f:
        json.dump({"losses": cases, "correlation": corr, "ir": ir}, f)
    os.replace(OUT + ".tmp", OUT)
    print("wrote", OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
