#!/usr/bin/env python3
"""Reference files for tests/test_safetensors.c and tests/test_npy.c.

Writes, under tests/data/safetensors/, small files produced by the Python
reference libraries themselves, plus the values sbert must read from them:

  f32.safetensors, f16.safetensors, bf16.safetensors, f64.safetensors,
  i64.safetensors     one dtype each (written by safetensors.torch.save_file,
                      which is what transformers' save_pretrained uses)
  mixed.safetensors   every dtype above in one file, plus an empty tensor, a
                      rank-0 scalar and extra __metadata__ (so the reader sees
                      the writer's alignment-first ordering)
  expected.json       for every tensor of every file: dtype, shape and the
                      expected fp32 values as uint32 bit patterns (hex): the
                      stored values converted to float32 by numpy (F16, F64)
                      or torch (BF16); for I64 the values as decimal strings. Bit patterns
                      keep NaN payloads, -0.0 and infinities exact.
  numpy_2d.npy, numpy_1d.npy, numpy_v2.npy, numpy_fortran.npy, numpy_f8.npy
                      written by numpy.save / numpy.lib.format, and
  npy_expected.json   their shapes and values as bit patterns.
  minilm_summary.json for every tensor of the real models/all-MiniLM-L6-v2
                      model.safetensors: dtype, shape, float64 sum and |sum|,
                      bits of the first and last 4 values.

Special values are chosen on purpose: F16 subnormals (smallest 2^-24, the
largest subnormal), +-inf, NaN, -0.0, the largest half 65504; BF16 values with
low mantissa bits; F64 values that round when narrowed, overflow to inf or
underflow to fp32 subnormals.

Run from the repository root:  python3 tools/gen_safetensors_refs.py
Needs: torch, safetensors, numpy (reference generation only; CI reads the
committed outputs).
"""
import json
import os
import struct

import numpy as np
import torch
from safetensors.torch import save_file

OUT = os.path.join("tests", "data", "safetensors")


def bits_f32(t):
    """fp32 bit patterns of a tensor's values widened/narrowed to float32.

    F16 and F64 go through numpy's IEEE conversions (exact, NaN payloads kept;
    torch's vectorised half->float canonicalises NaN to 0x7fffffff), BF16
    through torch (a 16-bit shift), F32 as is."""
    t = t.contiguous()
    if t.dtype == torch.float16:
        a = t.view(torch.int16).numpy().view(np.float16).astype(np.float32)
    elif t.dtype == torch.float64:
        with np.errstate(over="ignore"):  # 1e300 -> inf on purpose
            a = t.numpy().astype(np.float32)
    else:
        a = t.to(torch.float32).numpy()
    return ["%08x" % v for v in a.reshape(-1).view(np.uint32).tolist()]


def describe(tensors):
    out = {}
    for name, t in tensors.items():
        d = {"dtype": {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
                       torch.float64: "F64", torch.int64: "I64"}[t.dtype],
             "shape": list(t.shape)}
        if t.dtype == torch.int64:
            d["int_values"] = [str(v) for v in t.reshape(-1).tolist()]
        else:
            d["f32_bits"] = bits_f32(t)
        out[name] = d
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(1234)

    f32 = {
        "weight": torch.randn(3, 5, generator=g),
        "bias": torch.tensor([0.0, -0.0, 1.0, -1.5, 3.4028234663852886e38, 1.17549435e-38,
                              1.4e-45, float("inf"), float("-inf"), float("nan")],
                             dtype=torch.float32),
        "scalar": torch.tensor(2.5, dtype=torch.float32),
        "empty": torch.zeros(0, 4, dtype=torch.float32),
    }
    h_special = [0.0, -0.0, 1.0, -2.0, 65504.0, -65504.0, 6.103515625e-05,  # smallest normal
                 5.960464477539063e-08,   # 2^-24, smallest subnormal
                 6.097555160522461e-05,   # largest subnormal
                 3.0517578125e-05,        # a mid subnormal 2^-15
                 float("inf"), float("-inf"), float("nan"), 0.333251953125, -1e-07]
    f16 = {
        "special": torch.tensor(h_special, dtype=torch.float16),
        "matrix": torch.randn(4, 6, generator=g).to(torch.float16),
        # every bit pattern with a subnormal / special exponent, plus a sweep
        "sweep": torch.arange(0, 65536, 97, dtype=torch.int32).to(torch.int16).view(torch.float16),
    }
    bf16 = {
        "special": torch.tensor([0.0, -0.0, 1.0, 3.140625, -1e-40, 1e38, float("inf"),
                                 float("-inf"), float("nan"), 9.183549615799121e-41],
                                dtype=torch.bfloat16),
        "matrix": torch.randn(2, 3, 4, generator=g).to(torch.bfloat16),
    }
    f64 = {
        "values": torch.tensor([0.1, -0.2, 1.0 / 3.0, 1e300, -1e300, 1e-320, 1e-40, 2.5e-45,
                                123456789.123456789, float("nan"), float("inf"), -0.0],
                               dtype=torch.float64),
        "matrix": torch.randn(3, 3, generator=g, dtype=torch.float64),
    }
    i64 = {
        "position_ids": torch.arange(0, 12, dtype=torch.int64).reshape(1, 12),
        "big": torch.tensor([-(2 ** 63), 2 ** 63 - 1, -1, 0, 2 ** 40 + 7], dtype=torch.int64),
    }
    mixed = {}
    for prefix, d in (("f32", f32), ("f16", f16), ("bf16", bf16), ("f64", f64), ("i64", i64)):
        for k, v in d.items():
            mixed[prefix + "." + k] = v
    mixed["odd.half3"] = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float16)  # 6 bytes: misaligns

    files = {"f32": f32, "f16": f16, "bf16": bf16, "f64": f64, "i64": i64, "mixed": mixed}
    expected = {}
    for fname, tensors in files.items():
        meta = {"format": "pt"}
        if fname == "mixed":
            meta.update({"producer": "gen_safetensors_refs.py", "quote\"key": "v\u00e9\n"})
        save_file(tensors, os.path.join(OUT, fname + ".safetensors"), metadata=meta)
        expected[fname] = {"metadata": meta, "tensors": describe(tensors)}
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")

    # ---- .npy written by numpy
    rng = np.random.default_rng(7)
    a2 = rng.standard_normal((4, 3)).astype(np.float32)
    a2[0, 0] = np.float32(-0.0)
    a2[1, 1] = np.float32(np.inf)
    a1 = rng.standard_normal(5).astype(np.float32)
    np.save(os.path.join(OUT, "numpy_2d.npy"), a2)
    np.save(os.path.join(OUT, "numpy_1d.npy"), a1)
    with open(os.path.join(OUT, "numpy_v2.npy"), "wb") as f:
        np.lib.format.write_array(f, a2, version=(2, 0))
    np.save(os.path.join(OUT, "numpy_fortran.npy"), np.asfortranarray(a2))
    np.save(os.path.join(OUT, "numpy_f8.npy"), a2.astype(np.float64))
    npy_expected = {
        "numpy_2d.npy": {"shape": list(a2.shape), "f32_bits": ["%08x" % v for v in a2.reshape(-1).view(np.uint32).tolist()]},
        "numpy_1d.npy": {"shape": list(a1.shape), "f32_bits": ["%08x" % v for v in a1.view(np.uint32).tolist()]},
        "numpy_v2.npy": {"shape": list(a2.shape), "f32_bits": ["%08x" % v for v in a2.reshape(-1).view(np.uint32).tolist()]},
    }
    with open(os.path.join(OUT, "npy_expected.json"), "w") as f:
        json.dump(npy_expected, f, indent=1, sort_keys=True)
        f.write("\n")
    # Sanity: the header of a C-order float32 file is what sbert writes.
    with open(os.path.join(OUT, "numpy_2d.npy"), "rb") as f:
        head = f.read(10)
        hlen = struct.unpack("<H", head[8:10])[0]
        assert (10 + hlen) % 64 == 0

    # ---- the real model (models/all-MiniLM-L6-v2, from tools/fetch_models.sh):
    # per tensor dtype, shape, float64 sum and the first/last 4 values' bits, as
    # Python's safetensors reads them.
    model = os.path.join("models", "all-MiniLM-L6-v2", "model.safetensors")
    if os.path.exists(model):
        from safetensors.numpy import load_file
        summary = {}
        for name, a in load_file(model).items():
            flat = a.reshape(-1)
            e = {"dtype": {"float32": "F32", "int64": "I64"}[str(a.dtype)],
                 "shape": list(a.shape), "sum": float(flat.astype(np.float64).sum()),
                 "abs_sum": float(np.abs(flat.astype(np.float64)).sum())}
            if a.dtype == np.float32:
                e["head_bits"] = ["%08x" % v for v in flat[:4].view(np.uint32).tolist()]
                e["tail_bits"] = ["%08x" % v for v in flat[-4:].view(np.uint32).tolist()]
            summary[name] = e
        with open(os.path.join(OUT, "minilm_summary.json"), "w") as f:
            json.dump(summary, f, indent=0, sort_keys=True)
            f.write("\n")
    else:
        print("note:", model, "absent (run tools/fetch_models.sh); minilm_summary.json not rewritten")
    print("wrote", sorted(os.listdir(OUT)))


if __name__ == "__main__":
    main()
