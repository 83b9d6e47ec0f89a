#!/usr/bin/env python3
"""Reference values for the CrossEncoder losses and evaluators, computed by
sentence-transformers' own classes (cross_encoder.losses, cross_encoder.evaluation).

Run: python3 tools/gen_ce_loss_refs.py   (needs torch + sentence-transformers; offline)

Losses -> tests/data/cross_encoder/losses.json
  Each loss object of sentence-transformers 6.2 is called with a stand-in CrossEncoder
  (FakeCE below) whose logits for every (query, document) pair are free parameters: the
  loss value and the gradient of every pair's logit come from the real loss code through
  autograd (float32, as in training). A case records the score matrix the C loss takes
  (S [B, K]: row i holds the logits of query i's candidates in the layout
  sentence-transformers builds: pointwise [B, 1] / [B, C]; MarginMSE [positive,
  negatives...] with margins; MultipleNegativesRankingLoss [positive, the other rows'
  candidates in column-major order (num_negatives None), own hard negatives]; list losses
  [B, max docs] with null labels as padding), the labels, the recipe parameters (the
  strings sbert's recipe keys take), the loss and dL/dS.

Classification heads -> tests/data/cross_encoder/heads.json (see head_cases).

Evaluators -> tests/data/cross_encoder/eval/{*.jsonl,*.json} (the data files, from TrecQA
  test, SNLI validation and STS-B dev) and tests/data/cross_encoder/eval/refs.json:
  per case the evaluator, its data file, the scores the model "predicts" for each pair (a
  seeded generator, some rounded to create ties; the stand-in model returns them from
  predict) and the metrics dict the evaluator returned, with its primary metric.
"""
import csv
import json
import os
import random

import numpy as np
import torch
import torch.nn as nn
from sentence_transformers import CrossEncoder
from sentence_transformers.cross_encoder import losses as L
from sentence_transformers.cross_encoder.evaluation import (CrossEncoderClassificationEvaluator,
                                                            CrossEncoderCorrelationEvaluator,
                                                            CrossEncoderRerankingEvaluator)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("SBERT_SHARED", os.path.join(os.path.dirname(ROOT), "shared", "data"))
OUT = os.path.join(ROOT, "tests", "data", "cross_encoder")


class FakeCE(CrossEncoder):
    """A CrossEncoder whose logits are a table of parameters, one row per pair."""

    def __init__(self, pairs, num_labels=1, seed=0, scale=2.0):
        nn.Module.__init__(self)
        g = torch.Generator().manual_seed(seed)
        self.key = {tuple(p): i for i, p in enumerate(pairs)}
        self.table = nn.Parameter((torch.randn(len(pairs), num_labels, generator=g) * scale).float())
        self._nl = num_labels

    @property
    def num_labels(self):
        return self._nl

    @property
    def device(self):
        return torch.device("cpu")

    def preprocess(self, pairs, prompt=None, task=None, **kw):
        return {"idx": torch.tensor([self.key[tuple(p)] for p in pairs], dtype=torch.long)}

    def forward(self, features, **kw):
        return {"scores": self.table[features["idx"]]}

    def logit(self, a, b):
        return self.table[self.key[(a, b)]]

    def grad(self, a, b):
        return self.table.grad[self.key[(a, b)]]


def f(x):
    return [float(v) for v in x]


def run_loss(model, loss, inputs, labels):
    model.table.grad = None
    v = loss(inputs, labels)
    v.backward()
    return float(v)


def pointwise_cases(out):
    B = 6
    q = [f"q{i}" for i in range(B)]
    d = [f"d{i}" for i in range(B)]
    pairs = list(zip(q, d))
    y = torch.tensor([1.0, 0.0, 1.0, 0.0, 0.0, 0.7])
    for params, kw in [({}, {}), ({"pos_weight": "3.0"}, {"pos_weight": torch.tensor(3.0)})]:
        m = FakeCE(pairs, seed=1)
        loss = L.BinaryCrossEntropyLoss(m, **kw)
        v = run_loss(m, loss, [q, d], y)
        out.append({"loss": "BinaryCrossEntropyLoss", "params": params, "B": B, "K": 1,
                    "S": [f(m.logit(a, b)) for a, b in pairs], "Y": f(y), "value": v,
                    "grad": [f(m.grad(a, b)) for a, b in pairs]})
    m = FakeCE(pairs, seed=2)
    v = run_loss(m, L.MSELoss(m), [q, d], y * 3)
    out.append({"loss": "MSELoss", "params": {}, "B": B, "K": 1, "S": [f(m.logit(a, b)) for a, b in pairs],
                "Y": f(y * 3), "value": v, "grad": [f(m.grad(a, b)) for a, b in pairs]})
    m = FakeCE(pairs, num_labels=3, seed=3)
    cls = torch.tensor([0, 2, 1, 1, 0, 2])
    v = run_loss(m, L.CrossEntropyLoss(m), [q, d], cls)
    out.append({"loss": "CrossEntropyLoss", "params": {}, "B": B, "K": 3, "S": [f(m.logit(a, b)) for a, b in pairs],
                "Y": [float(c) for c in cls], "value": v, "grad": [f(m.grad(a, b)) for a, b in pairs]})


def margin_cases(out):
    B = 4
    q = [f"q{i}" for i in range(B)]
    p = [f"p{i}" for i in range(B)]
    n1 = [f"n{i}a" for i in range(B)]
    n2 = [f"n{i}b" for i in range(B)]
    pairs = [(a, x) for col in (p, n1, n2) for a, x in zip(q, col)]
    g = torch.Generator().manual_seed(5)
    for what, labels, cols in [
        ("margins", torch.randn(B, 2, generator=g) * 2, [p, n1, n2]),
        ("scores", torch.randn(B, 3, generator=g) * 3, [p, n1, n2]),
        ("one negative", torch.randn(B, generator=g), [p, n1]),
    ]:
        m = FakeCE(pairs, seed=6)
        v = run_loss(m, L.MarginMSELoss(m), [q] + cols, labels)
        if labels.dim() == 1:
            margins = labels.unsqueeze(1)
        elif labels.shape[1] == len(cols):
            margins = labels[:, 0].unsqueeze(1) - labels[:, 1:]
        else:
            margins = labels
        S = [[float(m.logit(q[i], c[i])) for c in cols] for i in range(B)]
        G = [[float(m.grad(q[i], c[i])) for c in cols] for i in range(B)]
        out.append({"loss": "MarginMSELoss", "what": what, "params": {}, "B": B, "K": len(cols), "S": S,
                    "Y": [f(r) for r in margins], "labels_given": labels.tolist(), "value": v, "grad": G})


def mnrl_cases(out):
    B = 4
    q = [f"q{i}" for i in range(B)]
    p = [f"p{i}" for i in range(B)]
    n = [f"n{i}" for i in range(B)]
    cands = [p, n]
    pairs = [(a, x) for a in q for col in cands for x in col]
    for params, kw in [({"num_negatives": "None"}, {"num_negatives": None}),
                       ({"num_negatives": "6", "scale": "5", "loss_activation_fn": "Identity"},
                        {"num_negatives": 6, "scale": 5.0, "activation_fn": nn.Identity()}),
                       ({"num_negatives": "None", "scale": "0", "loss_activation_fn": "None"},
                        {"num_negatives": None, "scale": 0, "activation_fn": None})]:
        for name, cls in (("MultipleNegativesRankingLoss", L.MultipleNegativesRankingLoss),
                          ("CachedMultipleNegativesRankingLoss", L.CachedMultipleNegativesRankingLoss)):
            m = FakeCE(pairs, seed=7)
            extra = {"mini_batch_size": 3} if "Cached" in name else {}
            loss = cls(m, **kw, **extra)
            v = run_loss(m, loss, [q, p, n], None)
            flat = [x for col in cands for x in col]
            S, G = [], []
            for i in range(B):
                row = [p[i]] + [flat[f_] for f_ in range(len(flat)) if f_ % B != i] + [n[i]]
                S.append([float(m.logit(q[i], x)) for x in row])
                G.append([float(m.grad(q[i], x)) for x in row])
            pr = dict(params)
            if extra:
                pr["mini_batch_size"] = "3"
            out.append({"loss": name, "params": pr, "B": B, "K": len(S[0]), "S": S, "Y": None, "value": v,
                        "grad": G})


def list_cases(out):
    docs_per = [4, 2, 3]
    B, M = len(docs_per), max(docs_per)
    q = [f"q{i}" for i in range(B)]
    docs = [[f"d{i}_{j}" for j in range(k)] for i, k in enumerate(docs_per)]
    graded = [torch.tensor([3.0, 1.0, 0.0, 0.0]), torch.tensor([1.0, 0.0]), torch.tensor([2.0, 2.0, 0.0])]
    distinct = [torch.tensor([0.9, 0.1, 0.5, 0.3]), torch.tensor([0.2, 0.8]), torch.tensor([0.4, 0.7, 0.1])]
    pairs = [(q[i], d) for i in range(B) for d in docs[i]]
    Lam = L.LambdaLoss
    cases = [
        ("LambdaLoss", {}, lambda m: Lam(m), graded),
        ("LambdaLoss", {"weighting_scheme": "NDCGLoss2Scheme"}, lambda m: Lam(m, weighting_scheme=L.NDCGLoss2Scheme()), graded),
        ("LambdaLoss", {"weighting_scheme": "LambdaRankScheme", "reduction_log": "natural"},
         lambda m: Lam(m, weighting_scheme=L.LambdaRankScheme(), reduction_log="natural"), graded),
        ("LambdaLoss", {"weighting_scheme": "NDCGLoss1Scheme"}, lambda m: Lam(m, weighting_scheme=L.NDCGLoss1Scheme()), graded),
        ("LambdaLoss", {"weighting_scheme": "NoWeightingScheme", "sigma": "2"},
         lambda m: Lam(m, weighting_scheme=L.NoWeightingScheme(), sigma=2.0), distinct),
        ("LambdaLoss", {"k": "2", "mu": "5"}, lambda m: Lam(m, k=2, weighting_scheme=L.NDCGLoss2PPScheme(mu=5.0)), graded),
        ("RankNetLoss", {}, lambda m: L.RankNetLoss(m), graded),
        ("ListNetLoss", {}, lambda m: L.ListNetLoss(m), graded),
        ("ListMLELoss", {}, lambda m: L.ListMLELoss(m), graded),
        ("ListMLELoss", {"respect_input_order": "false"}, lambda m: L.ListMLELoss(m, respect_input_order=False), distinct),
        ("PListMLELoss", {}, lambda m: L.PListMLELoss(m), graded),
        ("PListMLELoss", {"respect_input_order": "false"}, lambda m: L.PListMLELoss(m, respect_input_order=False), distinct),
        ("ADRMSELoss", {}, lambda m: L.ADRMSELoss(m), graded),
        ("ADRMSELoss", {"alpha": "2.5"}, lambda m: L.ADRMSELoss(m, alpha=2.5), distinct),
    ]
    for k, (name, params, make, labels) in enumerate(cases):
        m = FakeCE(pairs, seed=10 + k)
        v = run_loss(m, make(m), [q, docs], labels)
        S = [[float(m.logit(q[i], docs[i][j])) if j < len(docs[i]) else 0.0 for j in range(M)] for i in range(B)]
        Y = [[float(labels[i][j]) if j < len(docs[i]) else None for j in range(M)] for i in range(B)]
        G = [[float(m.grad(q[i], docs[i][j])) if j < len(docs[i]) else 0.0 for j in range(M)] for i in range(B)]
        out.append({"loss": name, "params": params, "B": B, "K": M, "S": S, "Y": Y, "value": v, "grad": G})


# ------------------------------------------------------------------ evaluators

class ScoreModel:
    """What the evaluators call: predict(pairs) -> the scores of a table."""

    def __init__(self, table, num_labels):
        self.table = table
        self.num_labels = num_labels

        class Card:
            def set_evaluation_metrics(self, *a, **k):
                pass

        self.model_card_data = Card()

    def predict(self, pairs, **kw):
        return np.array([self.table[(a, b)] for a, b in pairs], dtype=np.float32)


def trecqa(split):
    groups = {}
    with open(os.path.join(SHARED, "trecqa-answer-selection", f"{split}.csv"), encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            groups.setdefault(row["qtext"], []).append((row["atext"], int(row["label"])))
    return groups


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")


def evaluator_cases():
    ev_dir = os.path.join(OUT, "eval")
    os.makedirs(ev_dir, exist_ok=True)
    rnd = random.Random(1234)
    # queries with at least 3 candidates (sklearn's ndcg_score refuses a single document)
    groups = [g for g in trecqa("test").items() if len(g[1]) >= 3][:30]
    table = {}

    def score(a, b, ties=False):
        if (a, b) not in table:
            v = rnd.gauss(0, 1)
            table[(a, b)] = float(np.float32(round(v, 1) if ties else v))
        return table[(a, b)]

    def untie_best_positive(qt, pos, cands):
        # np.argsort's order of tied scores is implementation-defined (SIMD sorts), which
        # makes MRR undefined when the best positive ties another candidate: keep that one
        # score unique (ties elsewhere still exercise NDCG's tie averaging and MAP).
        if not pos:
            return
        best = max(pos, key=lambda a: table[(qt, a)])
        if any(table[(qt, a)] == table[(qt, best)] for a in cands if a != best):
            table[(qt, best)] = float(np.float32(table[(qt, best)] + 0.05))

    refs = []
    # 1. positive / negative samples (one query without a positive scores 0)
    samples = []
    for qi, (qt, cands) in enumerate(groups[:20]):
        pos = [a for a, l in cands if l == 1]
        neg = [a for a, l in cands if l == 0]
        if qi == 3:
            pos = []
        samples.append({"query": qt, "positive": pos, "negative": neg})
        for a in pos + neg:
            score(qt, a, ties=qi % 4 == 1)
        untie_best_positive(qt, pos, pos + neg)
    write_jsonl(os.path.join(ev_dir, "rerank_neg.jsonl"), samples)
    # 2. documents (a first-stage ranking): shuffled candidates, some positives missing
    dsamples = []
    for qi, (qt, cands) in enumerate(groups[10:30]):
        pos = [a for a, l in cands if l == 1]
        docs = [a for a, _ in cands]
        rnd.shuffle(docs)
        if qi % 5 == 2 and pos:
            docs = [x for x in docs if x != pos[0]]
        dsamples.append({"query": qt, "positive": pos, "documents": docs})
        for a in pos + docs:
            score(qt, a, ties=qi % 3 == 0)
        untie_best_positive(qt, pos, pos + docs)
        untie_best_positive(qt, [a for a in docs if a in pos], docs)
    write_jsonl(os.path.join(ev_dir, "rerank_docs.jsonl"), dsamples)
    with open(os.path.join(ev_dir, "rerank_docs_opts.json"), "w", encoding="utf-8") as fh:
        json.dump({"samples": dsamples, "at_k": 5, "always_rerank_positives": False}, fh, ensure_ascii=False)
    # 3. a local corpus with a first-stage ranking (NanoBEIR style, rerank_k 6)
    corpus, queries, rel, rankings = {}, {}, {}, {}
    ids = {}
    for qi, (qt, cands) in enumerate(groups[:12]):
        qid = f"q{qi}"
        queries[qid] = qt
        for a, _ in cands:
            if a not in ids:
                ids[a] = f"c{len(ids)}"
                corpus[ids[a]] = a
        rel[qid] = [ids[a] for a, l in cands if l == 1]
        order = [ids[a] for a, _ in cands]
        rnd.shuffle(order)
        rankings[qid] = order
    with open(os.path.join(ev_dir, "rerank_corpus.json"), "w", encoding="utf-8") as fh:
        json.dump({"queries": queries, "corpus": corpus, "relevant_docs": rel, "rankings": rankings, "rerank_k": 6},
                  fh, ensure_ascii=False)
    csamples = []
    for qid, qt in queries.items():
        if not rel[qid]:
            continue
        csamples.append({"query": qt, "positive": [corpus[c] for c in rel[qid]],
                         "documents": [corpus[c] for c in rankings[qid][:6]]})
        for c in rel[qid] + rankings[qid][:6]:
            score(qt, corpus[c])

    model = ScoreModel(table, 1)
    for file, samp, kw in [("rerank_neg.jsonl", samples, {}), ("rerank_docs.jsonl", dsamples, {}),
                           ("rerank_docs_opts.json", dsamples, {"at_k": 5, "always_rerank_positives": False}),
                           ("rerank_corpus.json", csamples, {})]:
        ev = CrossEncoderRerankingEvaluator(samp, name="trecqa", **kw)
        metrics = ev(model)
        refs.append({"evaluator": "CrossEncoderRerankingEvaluator", "file": file, "name": "trecqa",
                     "num_labels": 1, "metrics": metrics, "primary": ev.primary_metric})

    # 4. binary classification on TrecQA pairs (Sigmoid-like scores in (0, 1), ties)
    rows = []
    for qt, cands in groups[:8]:
        for a, l in cands:
            rows.append({"sentence1": qt, "sentence2": a, "label": l})
    write_jsonl(os.path.join(ev_dir, "classify_binary.jsonl"), rows)
    btable = {}
    for i, r in enumerate(rows):
        v = 1 / (1 + np.exp(-rnd.gauss(0, 2)))
        btable[(r["sentence1"], r["sentence2"])] = float(np.float32(round(v, 2) if i % 3 == 0 else v))
    ev = CrossEncoderClassificationEvaluator([[r["sentence1"], r["sentence2"]] for r in rows],
                                             [r["label"] for r in rows], name="trec-cls")
    metrics = ev(ScoreModel(btable, 1))
    refs.append({"evaluator": "CrossEncoderClassificationEvaluator", "file": "classify_binary.jsonl",
                 "name": "trec-cls", "num_labels": 1, "metrics": metrics, "primary": ev.primary_metric,
                 "scores": [[r["sentence1"], r["sentence2"], btable[(r["sentence1"], r["sentence2"])]] for r in rows]})
    # 5. 3-class NLI on SNLI validation
    nrows = []
    with open(os.path.join(SHARED, "snli", "validation.tsv"), encoding="utf-8") as fh:
        for r in csv.DictReader(fh, delimiter="\t"):
            if r["label"] in ("0", "1", "2") and len(nrows) < 60:
                nrows.append({"premise": r["premise"], "hypothesis": r["hypothesis"], "label": int(r["label"])})
    write_jsonl(os.path.join(ev_dir, "classify_nli.jsonl"), nrows)
    ntable = {}
    for r in nrows:
        ntable[(r["premise"], r["hypothesis"])] = [float(np.float32(rnd.gauss(0, 1))) for _ in range(3)]
    ev = CrossEncoderClassificationEvaluator([[r["premise"], r["hypothesis"]] for r in nrows],
                                             [r["label"] for r in nrows], name="nli")
    metrics = ev(ScoreModel(ntable, 3))
    refs.append({"evaluator": "CrossEncoderClassificationEvaluator", "file": "classify_nli.jsonl", "name": "nli",
                 "num_labels": 3, "metrics": metrics, "primary": ev.primary_metric,
                 "scores": [[r["premise"], r["hypothesis"], ntable[(r["premise"], r["hypothesis"])]] for r in nrows]})
    # 6. correlation on STS-B dev
    srows = []
    with open(os.path.join(ROOT, "tests", "data", "eval", "stsb-dev-500.jsonl"), encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            if len(srows) < 60:
                srows.append(r)
    keys = list(srows[0].keys())
    write_jsonl(os.path.join(ev_dir, "correlation.jsonl"), srows)
    stable = {}
    for i, r in enumerate(srows):
        stable[(r[keys[0]], r[keys[1]])] = float(np.float32(r[keys[2]] + rnd.gauss(0, 0.2) if i % 4 else 0.5))
    ev = CrossEncoderCorrelationEvaluator([[r[keys[0]], r[keys[1]]] for r in srows], [r[keys[2]] for r in srows],
                                          name="sts")
    metrics = ev(ScoreModel(stable, 1))
    refs.append({"evaluator": "CrossEncoderCorrelationEvaluator", "file": "correlation.jsonl", "name": "sts",
                 "num_labels": 1, "metrics": metrics, "primary": ev.primary_metric,
                 "scores": [[r[keys[0]], r[keys[1]], stable[(r[keys[0]], r[keys[1]])]] for r in srows]})
    # the rerank scores
    rerank_scores = [[a, b, v] for (a, b), v in table.items()]
    for r in refs:
        if r["evaluator"] == "CrossEncoderRerankingEvaluator":
            r["scores"] = "rerank_scores"
    for r in refs:
        r["metrics"] = {k: float(v) for k, v in r["metrics"].items()}
    with open(os.path.join(ev_dir, "refs.json"), "w", encoding="utf-8") as fh:
        json.dump({"generator": "tools/gen_ce_loss_refs.py", "rerank_scores": rerank_scores, "cases": refs}, fh,
                  ensure_ascii=False, indent=0)


def head_cases():
    """Every classification-head style run by transformers' own modules (eval mode): the
    first-token states x [n, H] in, logits out, gradients of all four tensors and of x for a
    fixed d(logits). -> tests/data/cross_encoder/heads.json"""
    from transformers import BertConfig, DistilBertConfig, ElectraConfig, MPNetConfig, RobertaConfig
    from transformers.models.bert.modeling_bert import BertPooler
    from transformers.models.electra.modeling_electra import ElectraClassificationHead
    from transformers.models.mpnet.modeling_mpnet import MPNetClassificationHead
    from transformers.models.roberta.modeling_roberta import RobertaClassificationHead
    H, n = 8, 5
    out = []
    for family, L in (("bert", 1), ("roberta", 3), ("mpnet", 2), ("electra", 1), ("distilbert", 3)):
        g = torch.Generator().manual_seed(len(out) + 40)
        if family == "bert":
            cfg = BertConfig(hidden_size=H, num_labels=L)
            pooler, cls = BertPooler(cfg), nn.Linear(H, L)
            mods = {"bert.pooler.dense": pooler.dense, "classifier": cls}
            fwd = lambda x: cls(pooler(x))
        elif family == "distilbert":
            cfg = DistilBertConfig(dim=H, num_labels=L)
            pre, cls = nn.Linear(H, H), nn.Linear(H, L)
            mods = {"pre_classifier": pre, "classifier": cls}
            fwd = lambda x: cls(torch.relu(pre(x[:, 0])))
        else:
            Cfg, Head = {"roberta": (RobertaConfig, RobertaClassificationHead),
                         "mpnet": (MPNetConfig, MPNetClassificationHead),
                         "electra": (ElectraConfig, ElectraClassificationHead)}[family]
            cfg = Cfg(hidden_size=H, num_labels=L)
            head = Head(cfg)
            mods = {"classifier.dense": head.dense, "classifier.out_proj": head.out_proj}
            fwd = head
        for m in mods.values():
            with torch.no_grad():
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
        for m in mods.values():
            m.eval()
        if hasattr(fwd, "eval"):
            fwd.eval()
        x = (torch.randn(n, 1, H, generator=g) * 1.5).requires_grad_(True)
        logits = fwd(x)
        dl = torch.randn(n, L, generator=g)
        (logits * dl).sum().backward()
        cfgd = cfg.to_dict()
        rec = {"family": family, "config": {k: v for k, v in cfgd.items() if isinstance(v, (int, float, str)) or v is None},
               "n": n, "H": H, "L": L, "x": x.detach().reshape(n, H).tolist(), "logits": logits.tolist(),
               "dlogits": dl.tolist(), "dx": x.grad.reshape(n, H).tolist(), "tensors": {}}
        for prefix, m in mods.items():
            for pn in ("weight", "bias"):
                p = getattr(m, pn)
                rec["tensors"][f"{prefix}.{pn}"] = {"value": p.detach().flatten().tolist(),
                                                    "grad": p.grad.flatten().tolist()}
        out.append(rec)
    with open(os.path.join(OUT, "heads.json"), "w") as fh:
        json.dump({"generator": "tools/gen_ce_loss_refs.py", "cases": out}, fh)


def main():
    torch.manual_seed(0)
    head_cases()
    cases = []
    pointwise_cases(cases)
    margin_cases(cases)
    mnrl_cases(cases)
    list_cases(cases)
    import sentence_transformers
    with open(os.path.join(OUT, "losses.json"), "w") as fh:
        json.dump({"generator": "tools/gen_ce_loss_refs.py",
                   "versions": {"sentence_transformers": sentence_transformers.__version__, "torch": torch.__version__},
                   "cases": cases}, fh, indent=0)
    evaluator_cases()
    print(f"{len(cases)} loss cases")


if __name__ == "__main__":
    main()
