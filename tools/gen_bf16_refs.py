#!/usr/bin/env python3
"""Reference values for tests/test_bf16.c (bf16 precision and bf16 saving).

  python3 tools/gen_bf16_refs.py        (needs build/sbert, torch, sentence-transformers)

1. Saves models/all-MiniLM-L6-v2 in bf16 with sbert itself
   (`build/sbert convert --dtype bf16`) into a temporary folder.
2. Loads that folder with Python's SentenceTransformer (no model_kwargs: the
   config's torch_dtype bfloat16 decides) and checks the parameters are
   torch.bfloat16; encodes the first N lines of bench/data/stsb-test-sentences.txt.
3. Encodes the same lines with the original fp32 model, and with the original
   loaded as model_kwargs={"torch_dtype": torch.bfloat16} (what the issue
   compares against).
Writes tests/data/bf16/ref.json (dtype loaded, FNV-1a 64 of the model.safetensors
sbert wrote -- the test saves again and compares --, cosine statistics) and
py_bf16_saved.f32 / py_fp32.f32 (raw little-endian float32 [N, 384]), each
written atomically. The test then needs no Python.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from sentence_transformers import SentenceTransformer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "bf16")
N = 32


def fnv1a64(data):
    h = 0xcbf29ce484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def cos(a, b):
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def main():
    model = os.path.join(ROOT, "models", "all-MiniLM-L6-v2")
    sbert = os.path.join(ROOT, "build", "sbert")
    with open(os.path.join(ROOT, "bench", "data", "stsb-test-sentences.txt"), encoding="utf-8") as f:
        texts = [line.rstrip("\n") for line in f][:N]
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        saved = os.path.join(tmp, "minilm-bf16")
        subprocess.run([sbert, "convert", "--model", model, "--output", saved, "--dtype", "bf16"], check=True)
        with open(os.path.join(saved, "model.safetensors"), "rb") as f:
            st_bytes = f.read()
        hlen = int.from_bytes(st_bytes[:8], "little")
        header = json.loads(st_bytes[8:8 + hlen])
        dtypes = sorted({v["dtype"] for k, v in header.items() if k != "__metadata__"})
        m_saved = SentenceTransformer(saved, device="cpu")
        loaded_dtype = str(next(m_saved[0].auto_model.parameters()).dtype)
        e_saved = m_saved.encode(texts, batch_size=16, convert_to_numpy=True).astype(np.float32)
    m32 = SentenceTransformer(model, device="cpu")
    e32 = m32.encode(texts, batch_size=16, convert_to_numpy=True).astype(np.float32)
    mbf = SentenceTransformer(model, device="cpu", model_kwargs={"torch_dtype": torch.bfloat16})
    ebf = mbf.encode(texts, batch_size=16, convert_to_numpy=True).astype(np.float32)
    c_saved = cos(e_saved, e32)
    c_bf = cos(ebf, e32)
    ref = {
        "source": "tools/gen_bf16_refs.py; sentence-transformers %s, torch %s" % (
            __import__("sentence_transformers").__version__, torch.__version__),
        "texts": "bench/data/stsb-test-sentences.txt, first %d lines" % N,
        "n": N,
        "dim": int(e32.shape[1]),
        "saved_loaded_dtype": loaded_dtype,
        "saved_tensor_dtypes": dtypes,
        "saved_safetensors_fnv1a64": fnv1a64(st_bytes),
        "saved_safetensors_bytes": len(st_bytes),
        "cos_py_saved_bf16_vs_py_fp32": {"mean": float(c_saved.mean()), "min": float(c_saved.min())},
        "cos_py_torch_bf16_vs_py_fp32": {"mean": float(c_bf.mean()), "min": float(c_bf.min())},
    }
    if loaded_dtype != "torch.bfloat16" or dtypes != ["BF16"]:
        print("unexpected: loaded %s, tensor dtypes %s" % (loaded_dtype, dtypes), file=sys.stderr)
        return 1
    write_atomic(os.path.join(OUT, "py_bf16_saved.f32"), e_saved.astype("<f4").tobytes())
    write_atomic(os.path.join(OUT, "py_fp32.f32"), e32.astype("<f4").tobytes())
    write_atomic(os.path.join(OUT, "ref.json"), (json.dumps(ref, indent=1) + "\n").encode())
    print(json.dumps(ref, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
