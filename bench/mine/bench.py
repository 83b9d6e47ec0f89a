#!/usr/bin/env python3
"""bench/mine/bench.py -- hard-negative mining, sbert vs sentence-transformers.

Both sides mine the pairs (q_i, d_i), i < N, on the same random unit vectors
(numpy, seeded; dim 384 like all-MiniLM-L6-v2) with mine_hard_negatives'
defaults (triplet, 3 negatives, top, range_max derived = 4): sentence-
transformers with its encode replaced by lookups into the vectors (a stub
model with util.cos_sim / pairwise_cos_sim, so no transformer runs), sbert
through bench_mine (the same algorithm in src/mining/ on the same vectors).
Each measurement is its own child process; peak RSS comes from os.wait4. The
rows of both sides are compared; where they differ, the score gap behind each
difference is printed (near-ties below float32 rounding order differently in
two float32 products).

  bench/mine/run.sh [--sizes 10000,100000] [--threads 2] [--extrapolate 300000]

--extrapolate N adds sbert-only runs at N queries and fits peak RSS as
a + b * N over the measured sizes to predict 1M x 1M; sentence-transformers'
memory at 1M is computed from its algorithm (a faiss_batch_size x n_corpus
float32 similarity block, 16384 x 1M x 4 B = 65.5 GB), not run.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

ST_CHILD = r'''
import json, sys, time, numpy as np
q = np.load(sys.argv[1]); c = np.load(sys.argv[2]); out = sys.argv[3]
import torch
torch.set_num_threads(int(sys.argv[4]))
from datasets import Dataset
from sentence_transformers import util
from sentence_transformers.util import mine_hard_negatives
n = len(q)
class Stub:
    device = torch.device("cpu")
    def encode_query(self, texts, **kw): return q
    def encode_document(self, texts, **kw): return c
    def similarity(self, a, b): return util.cos_sim(a, b)
    def similarity_pairwise(self, a, b): return util.pairwise_cos_sim(torch.as_tensor(a), torch.as_tensor(b))
ds = Dataset.from_dict({"anchor": [f"q{i}" for i in range(n)], "positive": [f"d{i}" for i in range(n)]})
t0 = time.perf_counter()
res = mine_hard_negatives(ds, Stub(), verbose=False)
t1 = time.perf_counter()
res.to_json(out, lines=True)
print(json.dumps({"seconds": t1 - t0, "rows": len(res)}))
'''


def run_child(cmd):
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, ru = os.wait4(p.pid, 0)
    out, err = p.stdout.read(), p.stderr.read()
    if status != 0:
        raise RuntimeError(f"{cmd[0]} failed: {err[-2000:]}")
    r = json.loads(out.strip().splitlines()[-1])
    r["peak_rss_mib"] = ru.ru_maxrss / 1024.0
    r["wall"] = time.perf_counter() - t0
    return r


def rows(path):
    with open(path) as f:
        return [tuple(json.loads(l).values()) for l in f]


def compare(sbert_path, st_path, q, c):
    """(equal, n_differing_rows, largest score gap behind a difference): where
    the rows differ, the cosine of each side's chosen negative to its anchor is
    recomputed in float64; a difference whose two scores agree to float32
    rounding is a near-tie that the two sides' float32 products order
    differently, not a mining difference."""
    a, b = rows(sbert_path), rows(st_path)
    if a == b:
        return True, 0, 0.0
    if len(a) != len(b):
        return False, abs(len(a) - len(b)), float("inf")
    idx = lambda t: int(t[1:])  # noqa: E731  "q12" / "d12" -> 12
    n_diff, gap = 0, 0.0
    for ra, rb in zip(a, b):
        if ra == rb:
            continue
        n_diff += 1
        qa = q[idx(ra[0])].astype(np.float64)
        for x, y in zip(ra[2:], rb[2:]):
            if x != y:
                sx = float(qa @ c[idx(x)].astype(np.float64))
                sy = float(qa @ c[idx(y)].astype(np.float64))
                gap = max(gap, abs(sx - sy))
    return False, n_diff, gap


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", required=True)
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--extrapolate", default="", help="extra sbert-only sizes, e.g. 300000")
    ap.add_argument("--no-st", action="store_true", help="sbert only")
    a = ap.parse_args()
    print(f"load average before: {os.getloadavg()}", flush=True)
    print(f"{'N queries = N docs':>20} {'side':>8} {'seconds':>9} {'peak RSS MiB':>13} {'rows':>9}  equal rows")
    measured = []
    with tempfile.TemporaryDirectory() as tmp:
        sizes = [int(s) for s in a.sizes.split(",") if s]
        extra = [int(s) for s in a.extrapolate.split(",") if s]
        for n in sizes + extra:
            rng = np.random.default_rng(n)
            # queries near their positives (cosine ~0.7) so the positives rank high
            c = rng.standard_normal((n, a.dim), dtype=np.float32)
            c /= np.linalg.norm(c, axis=1, keepdims=True)
            q = c + 0.8 * rng.standard_normal((n, a.dim), dtype=np.float32) / np.sqrt(a.dim)
            q /= np.linalg.norm(q, axis=1, keepdims=True)
            qp, cp = os.path.join(tmp, "q.npy"), os.path.join(tmp, "c.npy")
            np.save(qp, q.astype(np.float32))
            np.save(cp, c.astype(np.float32))
            so = os.path.join(tmp, "sbert.jsonl")
            s = run_child([a.driver, qp, cp, so, str(a.threads)])
            measured.append((n, s["peak_rss_mib"]))
            st = None
            if not a.no_st and n not in extra:
                po = os.path.join(tmp, "st.jsonl")
                st = run_child([sys.executable, "-c", ST_CHILD, qp, cp, po, str(a.threads)])
                same, n_diff, gap = compare(so, po, q, c)
            print(f"{n:>20,} {'sbert':>8} {s['seconds']:>9.2f} {s['peak_rss_mib']:>13.0f} {s['rows']:>9,}", flush=True)
            if st:
                print(f"{n:>20,} {'ST':>8} {st['seconds']:>9.2f} {st['peak_rss_mib']:>13.0f} {st['rows']:>9,}  "
                      f"{same}{'' if same else f' ({n_diff} rows differ, largest score gap {gap:.2e})'}   time ST/sbert {st['seconds'] / s['seconds']:.2f}x, "
                      f"memory ST/sbert {st['peak_rss_mib'] / s['peak_rss_mib']:.2f}x", flush=True)
    if len(measured) >= 2:
        ns = np.array([m[0] for m in measured], dtype=np.float64)
        rs = np.array([m[1] for m in measured], dtype=np.float64)
        b, a0 = np.polyfit(ns, rs, 1)
        print(f"sbert peak RSS fit: {a0:.0f} MiB + {b * 1e6:.0f} MiB per 1M queries (with as many documents) "
              f"-> 1M x 1M: {a0 + b * 1e6:.0f} MiB")
        print("sentence-transformers at 1M x 1M (use_faiss=False): one faiss_batch_size x n_corpus float32 "
              "similarity block = 16384 x 1,000,000 x 4 B = 65,536 MB before topk, plus the embeddings: "
              "does not fit in 24 GiB")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
