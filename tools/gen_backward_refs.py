#!/usr/bin/env python3
"""tools/gen_backward_refs.py -- torch autograd gradients of one tiny post-LN
encoder block over a packed batch, for tests/test_backward.c.

The block is what a BERT layer computes, written with plain torch ops on a
packed batch (sequences laid end to end, attention within each sequence):
    qkv  = x Wqkv^T + bqkv                       [T, 3H]  (q | k | v per row)
    att  = per (sequence, head): softmax(q k^T * scale + relbias[h, j-i+R-1]) v
    y    = LayerNorm(x + att Wo^T + bo; w1, b1, eps)
    z    = LayerNorm(y + gelu(y W1^T + c1) W2^T + c2; w2, b2, eps)
    loss = sum(z * Rz)
in float64 (so the reference has no round-off of its own), from inputs drawn
in float32 (so C reads exactly the same values). Written to
tests/data/backward/block_ref.json: sizes, every input and parameter, Rz,
the forward output z and the gradient of the loss with respect to x and to
every parameter (d_<name>).

Usage: python3 tools/gen_backward_refs.py   (needs torch + numpy; CI does not)
"""
import json
import os

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "tests", "data", "backward")

LENS = [3, 1, 6]
H, NH, INTER, RMAX, EPS = 8, 2, 16, 6, 1e-12
SEED = 20261126


def main():
    rng = np.random.default_rng(SEED)
    T = sum(LENS)
    hd = H // NH

    def draw(*shape, lo=-1.0, hi=1.0):
        return rng.uniform(lo, hi, size=shape).astype(np.float32)

    arrays = {
        "x": draw(T, H, lo=-1.5, hi=1.5),
        "Wqkv": draw(3 * H, H, lo=-0.6, hi=0.6),
        "bqkv": draw(3 * H, lo=-0.2, hi=0.2),
        "relbias": draw(NH, 2 * RMAX - 1, lo=-0.5, hi=0.5),
        "Wo": draw(H, H, lo=-0.5, hi=0.5),
        "bo": draw(H, lo=-0.2, hi=0.2),
        "ln1_w": draw(H, lo=0.6, hi=1.4),
        "ln1_b": draw(H, lo=-0.3, hi=0.3),
        "W1": draw(INTER, H, lo=-0.5, hi=0.5),
        "c1": draw(INTER, lo=-0.2, hi=0.2),
        "W2": draw(H, INTER, lo=-0.4, hi=0.4),
        "c2": draw(H, lo=-0.2, hi=0.2),
        "ln2_w": draw(H, lo=0.6, hi=1.4),
        "ln2_b": draw(H, lo=-0.3, hi=0.3),
    }
    Rz = draw(T, H)
    p = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in arrays.items()}
    scale = 1.0 / (hd ** 0.5)

    qkv = p["x"] @ p["Wqkv"].T + p["bqkv"]
    outs = []
    t0 = 0
    for L in LENS:
        rows = qkv[t0:t0 + L]
        heads = []
        for h in range(NH):
            q = rows[:, h * hd:(h + 1) * hd]
            k = rows[:, H + h * hd:H + (h + 1) * hd]
            v = rows[:, 2 * H + h * hd:2 * H + (h + 1) * hd]
            idx = torch.arange(L).view(1, -1) - torch.arange(L).view(-1, 1) + RMAX - 1
            s = q @ k.T * scale + p["relbias"][h][idx]
            heads.append(torch.softmax(s, dim=-1) @ v)
        outs.append(torch.cat(heads, dim=1))
        t0 += L
    att = torch.cat(outs, dim=0)
    ln = torch.nn.functional.layer_norm
    y = ln(p["x"] + att @ p["Wo"].T + p["bo"], (H,), p["ln1_w"], p["ln1_b"], EPS)
    f = torch.nn.functional.gelu(y @ p["W1"].T + p["c1"]) @ p["W2"].T + p["c2"]
    z = ln(y + f, (H,), p["ln2_w"], p["ln2_b"], EPS)
    loss = (z * torch.tensor(Rz, dtype=torch.float64)).sum()
    loss.backward()

    ref = {
        "generator": "tools/gen_backward_refs.py (torch %s, float64 autograd)" % torch.__version__,
        "lens": LENS, "H": H, "heads": NH, "inter": INTER, "rel_max_len": RMAX, "eps": EPS,
        "Rz": Rz.reshape(-1).tolist(),
        "z": z.detach().reshape(-1).tolist(),
    }
    for k, v in arrays.items():
        ref[k] = v.reshape(-1).tolist()
        ref["d_" + k] = p[k].grad.reshape(-1).tolist()
    os.makedirs(OUT_DIR, exist_ok=True)
    path = os.path.join(OUT_DIR, "block_ref.json")
    with open(path, "w") as fh:
        json.dump(ref, fh)
    print("wrote", path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
