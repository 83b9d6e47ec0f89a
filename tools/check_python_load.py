#!/usr/bin/env python3
"""Check that a model directory written by sbert loads in Python's
sentence-transformers and gives the embeddings sbert gives.

  python3 tools/check_python_load.py MODEL_DIR [TEXTS_FILE] [--tol 1e-5]

Encodes TEXTS_FILE (default: the first 200 lines of data/stsb-test.jsonl's
sentence1) with `build/sbert encode` and with SentenceTransformer(MODEL_DIR),
prints the max |diff| per component and exits non-zero above the tolerance.
Needs torch + sentence-transformers (not in CI: run by hand after training).
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
    ap.add_argument("--tol", type=float, default=1e-5)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        texts_path = a.texts
        if not texts_path:
            texts_path = os.path.join(tmp, "texts.txt")
            with open(os.path.join(ROOT, "data", "stsb-test.jsonl"), encoding="utf-8") as f, \
                    open(texts_path, "w", encoding="utf-8") as out:
                for i, line in enumerate(f):
                    if i == 200:
                        break
                    out.write(json.loads(line)["sentence1"] + "\n")
        with open(texts_path, encoding="utf-8") as f:
            texts = [line.rstrip("\n") for line in f]
        npy = os.path.join(tmp, "sbert.npy")
        subprocess.run([os.path.join(ROOT, "build", "sbert"), "encode", "--model", a.model, "--input", texts_path,
                        "--output", npy], check=True)
        ours = np.load(npy)
        from sentence_transformers import SentenceTransformer
        model = SentenceTransformer(a.model, device="cpu")
        theirs = model.encode(texts, convert_to_numpy=True)
        d = float(np.abs(ours - theirs).max())
        print(f"{a.model}: {len(texts)} texts, dim {ours.shape[1]}, max |sbert - sentence-transformers| = {d:.3g}")
        sys.exit(0 if d <= a.tol else 1)


if __name__ == "__main__":
    main()
