#!/usr/bin/env python3
"""Check that a CrossEncoder folder written by sbert loads in Python's
sentence-transformers and predicts what sbert predicts, with the same
activation.

  python3 tools/check_python_load_ce.py MODEL_DIR [MODEL_DIR ...] [--pairs FILE] [--tol 1e-5] [--hf]

For each folder: `build/sbert predict` on the pairs (default: the 20 pairs of
tests/data/cross_encoder/pairs.json), then CrossEncoder(MODEL_DIR).predict on
the same pairs, with the model's default activation and with
activation_fn=Identity; prints max |diff| and the activation each side uses,
and exits non-zero when one exceeds the tolerance or the activations differ.

--hf also loads the folder the way sentence-transformers v4-v5.3 do: modules.json
and config_sentence_transformers.json hidden (a copy of the folder without
them), so the activation must come from config.json's "sentence_transformers"
block. Run the script with another interpreter to check another version's reader, e.g.
sentence-transformers 5.1.2 installed into a side venv (its own site-packages first, then
/work/venv's for torch/transformers): /tmp/st5/bin/python tools/check_python_load_ce.py DIR.

Needs torch + sentence-transformers (not in CI: run by hand after training).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sbert_predict(model, pairs_path, extra=()):
    out = subprocess.run([os.path.join(ROOT, "build", "sbert"), "predict", "--model", model, "--input", pairs_path,
                          *extra], check=True, capture_output=True, text=True).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    return np.array(rows, dtype=np.float64)


def check(model_dir, pairs, pairs_path, tol, label):
    from sentence_transformers import CrossEncoder, __version__ as st_version
    from sentence_transformers.util import fullname
    ce = CrossEncoder(model_dir, device="cpu")
    ok = True
    theirs = ce.predict(pairs, convert_to_numpy=True).astype(np.float64)
    ours = sbert_predict(model_dir, pairs_path)
    d = float(np.abs(ours.reshape(theirs.shape) - theirs).max())
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    stc_path = os.path.join(model_dir, "config_sentence_transformers.json")
    saved = json.load(open(stc_path)).get("activation_fn") if os.path.exists(stc_path) else \
        cfg.get("sentence_transformers", {}).get("activation_fn")
    py_act = fullname(ce.activation_fn)
    max_len = getattr(ce, "max_seq_length", None) or getattr(ce, "max_length", None)
    print(f"{label}: sentence-transformers {st_version}, num_labels {ce.num_labels}, max_length {max_len}, activation python={py_act} "
          f"saved={saved}, max |sbert - sentence-transformers| = {d:.3g}")
    ok &= d <= tol and py_act == saved
    import torch
    theirs = ce.predict(pairs, activation_fn=torch.nn.Identity(), convert_to_numpy=True).astype(np.float64)
    ours = sbert_predict(model_dir, pairs_path, ["--activation", "Identity"])
    d = float(np.abs(ours.reshape(theirs.shape) - theirs).max())
    print(f"{label}: Identity: max |diff| = {d:.3g}")
    return ok and d <= tol


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--pairs")
    ap.add_argument("--tol", type=float, default=1e-5)
    ap.add_argument("--hf", action="store_true")
    a = ap.parse_args()
    if a.pairs:
        pairs = [json.loads(line) for line in open(a.pairs, encoding="utf-8") if line.strip()]
        pairs = [p if isinstance(p, list) else list(p.values())[:2] for p in pairs]
    else:
        pairs = json.load(open(os.path.join(ROOT, "tests", "data", "cross_encoder", "pairs.json")))["pairs"]
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        pairs_path = os.path.join(tmp, "pairs.jsonl")
        with open(pairs_path, "w", encoding="utf-8") as f:
            for p in pairs:
                f.write(json.dumps(p) + "\n")
        for m in a.models:
            ok &= check(m, pairs, pairs_path, a.tol, m)
            if a.hf:
                hf = os.path.join(tmp, "hf-" + os.path.basename(os.path.normpath(m)))
                shutil.copytree(m, hf)
                for name in ("modules.json", "config_sentence_transformers.json", "sentence_bert_config.json"):
                    if os.path.exists(os.path.join(hf, name)):
                        os.remove(os.path.join(hf, name))
                ok &= check(hf, pairs, pairs_path, a.tol, m + " (HF layout, v4-v5.3 view)")
    print("OK" if ok else "MISMATCH")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
