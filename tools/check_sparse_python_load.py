#!/usr/bin/env python3
"""Check that a SparseEncoder directory written by sbert loads in Python's
sentence-transformers and gives the vectors sbert gives.

  python3 tools/check_sparse_python_load.py MODEL_DIR [TEXTS_FILE] [--task query|document] [--tol 1e-5]

Encodes TEXTS_FILE (default: 100 XQuAD paragraphs and 100 questions from data/) with
`build/sbert encode --output X.npz` and with SparseEncoder(MODEL_DIR).encode (encode_query /
encode_document with --task), and compares: identical active dimensions (up to values within
--tol of 0) and max |diff| relative to max(1, |v|). Exits non-zero above the tolerance.
Needs torch + sentence-transformers + scipy (not in CI: run by hand after training).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("texts", nargs="?")
    ap.add_argument("--task", choices=["query", "document"])
    ap.add_argument("--tol", type=float, default=1e-5)
    a = ap.parse_args()
    import scipy.sparse as sp
    from sentence_transformers import SparseEncoder

    with tempfile.TemporaryDirectory() as tmp:
        texts_path = a.texts
        if not texts_path:
            texts_path = os.path.join(tmp, "texts.txt")
            with open(os.path.join(ROOT, "data", "xquad-en-ir-dev.json"), encoding="utf-8") as f:
                d = json.load(f)
            texts = list(d["corpus"].values())[:100] + list(d["queries"].values())[:100]
            with open(texts_path, "w", encoding="utf-8") as f:
                f.write("\n".join(t.replace("\n", " ") for t in texts) + "\n")
        with open(texts_path, encoding="utf-8") as f:
            texts = [line.rstrip("\n").rstrip("\r") for line in f]
        npz = os.path.join(tmp, "x.npz")
        cmd = [os.path.join(ROOT, "build", "sbert"), "encode", "--model", a.model, "--input", texts_path,
               "--output", npz]
        if a.task:
            cmd += ["--task", a.task]
        subprocess.run(cmd, check=True)
        ours = sp.load_npz(npz).toarray()
        model = SparseEncoder(a.model, device="cpu")
        fn = {"query": model.encode_query, "document": model.encode_document}.get(a.task, model.encode)
        ref = fn(texts, convert_to_tensor=True).to_dense().numpy()
    err = np.max(np.abs(ours - ref) / np.maximum(1.0, np.abs(ref)))
    only = np.logical_xor(ours != 0, ref != 0)
    near_zero = np.all(np.abs(np.where(only, ours + ref, 0)) <= a.tol)
    print(f"{a.model}: {len(texts)} texts, max relative error {err:.3g}, "
          f"{int(only.sum())} dims active on one side only (all within {a.tol} of 0: {bool(near_zero)}), "
          f"mean active dims sbert {float((ours != 0).sum(1).mean()):.1f} / Python {float((ref != 0).sum(1).mean()):.1f}")
    sys.exit(0 if err <= a.tol and near_zero else 1)


if __name__ == "__main__":
    main()
