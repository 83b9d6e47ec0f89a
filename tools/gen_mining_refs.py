#!/usr/bin/env python3
"""Reference outputs for `sbert mine` (src/mining/), written by
sentence-transformers' util.mine_hard_negatives itself.

Run: /work/venv/bin/python tools/gen_mining_refs.py  (needs torch,
sentence-transformers 6.2, datasets and models/all-MiniLM-L6-v2; outputs are
committed under tests/data/mining/).

What it writes
  snli_pairs.jsonl      240 SNLI validation entailment pairs (premise, hypothesis)
                        plus 12 rows that make ties: the upper-cased copy of another
                        row's hypothesis (all-MiniLM-L6-v2 lowercases, so both copies
                        have the same embedding and tie exactly in every ranking)
                        and one duplicated row (deduplicated positives)
  trecqa_pairs.jsonl    TrecQA dev (question, answer) pairs with label 1: several
                        positives per question (up to 17)
  trecqa_corpus.txt     200 TrecQA dev answers with label 0, 10 upper-cased copies of
                        positives and a duplicate line: the separate corpus
  trecqa_corpus.jsonl   the same corpus as a {"id", "text"} file
  {snli,trecqa}_{query,corpus}_emb.npy
                        the float32 embeddings sentence-transformers used
                        (encode_query / encode_document, normalize_embeddings=True)
                        of the deduplicated queries and corpus, in the order
                        mine_hard_negatives builds them
  refs.json             per configuration: the keyword arguments, the rows of the
                        returned Dataset as indices (query index, corpus indices,
                        scores / labels), its column names and the report lines it
                        printed
  torch_order.json      tie-heavy arrays with torch.topk / Tensor.sort indices
  pyrandom.json         random.seed(s); random.sample(range(n), k) draws

The mining configurations run on the stored embeddings (encode_query /
encode_document replaced by lookups into them), so the C test compares the
algorithm on the same inputs. The "cli" configurations run the real encode
(with prompts) and are compared with what `sbert mine` writes when it encodes
with its own all-MiniLM-L6-v2 (embeddings within ~3e-7).

`sampling_strategy="random"` draws from Python's global `random`; each
configuration calls random.seed(seed) right before mine_hard_negatives, and
sbert's seed option replays the same draws. The "cross_encoder" configuration
passes an object with a CrossEncoder's predict() whose score is a hash of the
two texts (FNV-1a 32, (h >> 8) / 2^24): it checks the rescoring path (which
candidates and positives are rescored, the derived range_max) without a model.
"""
import contextlib
import csv
import io
import json
import os
import random
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "mining")
MODEL = os.path.join(ROOT, "models", "all-MiniLM-L6-v2")
SHARED = os.path.join(ROOT, "..", "shared", "data")
if not os.path.isdir(SHARED):
    SHARED = "/work/shared/data"


def fnv1a32(s):
    h = 0x811C9DC5
    for b in s.encode("utf-8"):
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


class HashCrossEncoder:
    """Stands in for a CrossEncoder: predict(pairs) -> a hash score per pair."""

    def predict(self, pairs, batch_size=32, convert_to_tensor=False, pool=None, **kw):
        v = [(fnv1a32(q + "\x1f" + d) >> 8) / float(1 << 24) for q, d in pairs]
        return torch.tensor(v, dtype=torch.float32)


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def make_data():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(SHARED, "snli", "validation.tsv"), encoding="utf-8") as f:
        ent = [r for r in csv.DictReader(f, delimiter="\t") if r["label"] == "0"]
    snli = [{"anchor": r["premise"], "positive": r["hypothesis"]} for r in ent[:240]]
    for k in range(11):
        extra = ent[240 + k]
        snli.append({"anchor": extra["premise"], "positive": snli[3 * k]["positive"].upper()})
    snli.append(dict(snli[5]))  # a duplicated row
    write_jsonl(os.path.join(OUT, "snli_pairs.jsonl"), snli)

    with open(os.path.join(SHARED, "trecqa-answer-selection", "dev.csv"), encoding="utf-8") as f:
        t = list(csv.DictReader(f))
    pos = [{"question": r["qtext"], "answer": r["atext"]} for r in t if r["label"] == "1"]
    neg = [r["atext"] for r in t if r["label"] == "0"][:200]
    corpus = neg + [p["answer"].upper() for p in pos[:40:4]] + [neg[7]]
    write_jsonl(os.path.join(OUT, "trecqa_pairs.jsonl"), pos)
    with open(os.path.join(OUT, "trecqa_corpus.txt"), "w", encoding="utf-8") as f:
        for c in corpus:
            assert "\n" not in c and "\r" not in c
            f.write(c + "\n")
    write_jsonl(os.path.join(OUT, "trecqa_corpus.jsonl"), [{"id": i, "text": c} for i, c in enumerate(corpus)])
    return snli, pos, corpus


def dedup_lists(rows, a, p, corpus):
    queries = list(dict.fromkeys(r[a] for r in rows))
    positives = [r[p] for r in rows]
    full = list(dict.fromkeys((corpus if corpus is not None else positives) + positives))
    return queries, full


def rows_as_indices(ds, fmt, scores, queries, corpus, a, p):
    qi = {t: i for i, t in enumerate(queries)}
    ci = {t: i for i, t in enumerate(corpus)}
    out = []
    cols = ds.column_names
    for r in ds:
        q = qi[r[a]]
        if fmt == "labeled-list":
            d = [ci[t] for t in r[p]]
            v = r["scores"] if scores else r["labels"]
        elif fmt == "labeled-pair":
            d = [ci[r[p]]]
            v = [r["score"] if scores else r["label"]]
        else:
            negs = [c for c in cols if c == "negative" or c.startswith("negative_")]
            d = [ci[r[p]]] + [ci[r[c]] for c in negs]
            v = r["scores"] if scores else []
        out.append({"q": q, "d": d, "v": [float(f"{float(x):.9g}") for x in v]})
    return out


def run_config(model, st_mine, name, rows, corpus, a, p, kwargs, seed, q_emb, c_emb, stub):
    from datasets import Dataset

    ds = Dataset.from_list(rows)
    queries, full = dedup_lists(rows, a, p, corpus)
    orig_q, orig_d = model.encode_query, model.encode_document
    if stub:
        def enc_q(texts, **kw):
            assert list(texts) == queries
            return q_emb.copy()

        def enc_d(texts, **kw):
            assert list(texts) == full
            return c_emb.copy()

        model.encode_query, model.encode_document = enc_q, enc_d
    buf = io.StringIO()
    random.seed(seed)
    try:
        with contextlib.redirect_stdout(buf):
            res = st_mine(ds, model, corpus=corpus, verbose=True, **kwargs)
    finally:
        model.encode_query, model.encode_document = orig_q, orig_d
    fmt = kwargs.get("output_format", "triplet")
    scores = kwargs.get("output_scores", False)
    if fmt == "n-tuple-scores":
        fmt, scores = "n-tuple", True
    if kwargs.get("include_positives"):
        fmt = "n-tuple"
    lines = [l for l in buf.getvalue().splitlines() if l.strip()]
    rm = None
    for l in lines:
        if l.startswith("Setting range_max to "):
            rm = int(l.split()[3])
    return {
        "name": name,
        "kwargs": {k: v for k, v in kwargs.items() if k != "cross_encoder"},
        "cross_encoder": "cross_encoder" in kwargs,
        "seed": seed,
        "format": fmt,
        "output_scores": scores,
        "range_max": rm if rm is not None else kwargs.get("range_max"),
        "columns": res.column_names,
        "n_rows": len(res),
        "report": lines,
        "rows": rows_as_indices(res, fmt, scores, queries, full, a, p),
    }


def torch_order_cases():
    rng = random.Random(5)
    cases = []
    for _ in range(160):
        n = rng.choice([3, 5, 10, 17, 33, 64, 100, 300, 700])
        k = rng.randint(1, min(n, rng.choice([3, 10, 40, 120])))
        levels = rng.choice([2, 3, 5, 20, 1000])
        vals = [float(rng.randint(0, levels)) if rng.random() < 0.9 else None for _ in range(n)]
        x = torch.tensor([v if v is not None else float("-inf") for v in vals], dtype=torch.float32)
        _, ti = torch.topk(x.unsqueeze(0), k, dim=1)
        _, si = x.unsqueeze(0).sort(dim=1, descending=True)
        cases.append({"vals": vals, "k": k, "topk": ti[0].tolist(), "sort": si[0].tolist()})
    return cases


def pyrandom_cases():
    out = []
    for seed in [0, 1, 42, 12345678901]:
        random.seed(seed)
        for n, k in [(10, 3), (10, 10), (30, 3), (100, 5), (100, 6), (1000, 40), (5, 5), (1, 1), (50, 20), (21, 3),
                     (22, 3), (7, 7)]:
            out.append({"seed": seed, "n": n, "k": k, "sample": random.sample(range(n), k)})
    # one stream: several draws after one seed, as the per-query calls
    return out


def main():
    from sentence_transformers import SentenceTransformer, __version__ as st_version
    from sentence_transformers.util import mine_hard_negatives as st_mine
    import transformers

    snli, trec, trec_corpus = make_data()
    model = SentenceTransformer(MODEL, device="cpu")
    embs = {}
    for key, rows, a, p, corpus in [("snli", snli, "anchor", "positive", None),
                                    ("trecqa", trec, "question", "answer", trec_corpus)]:
        queries, full = dedup_lists(rows, a, p, corpus)
        q = model.encode_query(queries, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
        c = model.encode_document(full, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
        np.save(os.path.join(OUT, f"{key}_query_emb.npy"), q.astype(np.float32))
        np.save(os.path.join(OUT, f"{key}_corpus_emb.npy"), c.astype(np.float32))
        embs[key] = (q, c)
        # exact ties the data holds: identical corpus embeddings
        _, counts = np.unique(c, axis=0, return_counts=True)
        print(f"{key}: {len(queries)} queries, {len(full)} documents, {int((counts > 1).sum())} groups of identical "
              f"corpus embeddings")

    S = ("snli", snli, "anchor", "positive", None)
    T = ("trecqa", trec, "question", "answer", trec_corpus)
    configs = [
        ("snli_default", S, {}, 0),
        ("snli_triplet_scores", S, {"output_scores": True}, 0),
        ("snli_ntuple_window", S, {"output_format": "n-tuple", "num_negatives": 5, "range_min": 2, "range_max": 30}, 0),
        ("snli_ntuple_scores_relmargin", S, {"output_format": "n-tuple-scores", "relative_margin": 0.05}, 0),
        ("snli_pair_absmargin_max", S, {"output_format": "labeled-pair", "absolute_margin": 0.1, "max_score": 0.8}, 0),
        ("snli_pair_scores", S, {"output_format": "labeled-pair", "output_scores": True, "num_negatives": 4}, 0),
        ("snli_list_min", S, {"output_format": "labeled-list", "min_score": 0.3, "range_max": 12}, 0),
        ("snli_list_scores_max", S, {"output_format": "labeled-list", "output_scores": True, "max_score": 0.7,
                                     "range_max": 20, "num_negatives": 6}, 0),
        ("snli_random_window", S, {"sampling_strategy": "random", "range_min": 5, "range_max": 50}, 12),
        ("snli_random_ntuple_relmargin", S, {"sampling_strategy": "random", "output_format": "n-tuple",
                                             "relative_margin": 0.1, "num_negatives": 4, "output_scores": True}, 3),
        ("snli_include_positives", S, {"include_positives": True, "output_scores": True, "num_negatives": 5}, 0),
        ("snli_all_filters", S, {"absolute_margin": 0.01, "relative_margin": 0.02, "min_score": 0.2,
                                 "max_score": 0.9, "output_scores": True}, 0),
        ("snli_many_negatives", S, {"output_format": "labeled-list", "num_negatives": 40, "range_max": 60,
                                    "sampling_strategy": "random", "max_score": 0.6}, 99),
        ("trec_default", T, {}, 0),
        ("trec_ntuple_scores_rel", T, {"output_format": "n-tuple", "output_scores": True, "range_max": 40,
                                       "relative_margin": 0.05}, 0),
        ("trec_pair_random", T, {"output_format": "labeled-pair", "sampling_strategy": "random"}, 7),
        ("trec_list_top4", T, {"output_format": "labeled-list", "num_negatives": 4, "output_scores": True}, 0),
        ("trec_triplet_absmargin", T, {"absolute_margin": 0.05, "range_min": 1, "output_scores": True}, 0),
        ("trec_cross_encoder", T, {"output_format": "labeled-pair", "output_scores": True, "min_score": 0.2,
                                   "cross_encoder": HashCrossEncoder()}, 0),
        ("trec_cross_encoder_margin", T, {"output_format": "n-tuple", "output_scores": True, "num_negatives": 2,
                                          "absolute_margin": 0.0, "range_max": 30,
                                          "cross_encoder": HashCrossEncoder()}, 0),
    ]
    refs = []
    for name, (key, rows, a, p, corpus), kw, seed in configs:
        q, c = embs[key]
        r = run_config(model, st_mine, name, rows, corpus, a, p, kw, seed, q, c, stub=True)
        r["data"] = key
        refs.append(r)
        print(f"{name}: {r['n_rows']} rows, range_max {r['range_max']}")

    # end to end through the real encode (the C test runs `sbert mine` on the same files)
    cli = [
        ("cli_snli_csv", S, {}, 0),
        ("cli_trec_txt_prompt", T, {"output_format": "n-tuple-scores", "relative_margin": 0.05,
                                    "query_prompt": "query: ", "corpus_prompt": "passage: "}, 0),
        ("cli_trec_list_random", T, {"output_format": "labeled-list", "sampling_strategy": "random",
                                     "num_negatives": 5, "range_min": 3, "range_max": 40}, 21),
    ]
    for name, (key, rows, a, p, corpus), kw, seed in cli:
        r = run_config(model, st_mine, name, rows, corpus, a, p, kw, seed, None, None, stub=False)
        r["data"] = key
        refs.append(r)
        print(f"{name}: {r['n_rows']} rows")

    with open(os.path.join(OUT, "refs.json"), "w") as f:
        json.dump({
            "generator": "tools/gen_mining_refs.py",
            "versions": {"sentence_transformers": st_version, "torch": torch.__version__,
                         "transformers": transformers.__version__, "python": sys.version.split()[0]},
            "configs": refs,
        }, f)
    with open(os.path.join(OUT, "torch_order.json"), "w") as f:
        json.dump(torch_order_cases(), f)
    with open(os.path.join(OUT, "pyrandom.json"), "w") as f:
        json.dump(pyrandom_cases(), f)


if __name__ == "__main__":
    main()
