#!/usr/bin/env python3
"""bench/bf16/bench.py -- sbert bf16 vs sentence-transformers bf16, side by side.

For each (batch, threads) in {64, 1} x {1, 2}, four sides encode the same STS-B
sentences (batch 64: 1,000 sentences; batch 1: 200) with all-MiniLM-L6-v2:

  st-fp32    SentenceTransformer(model)
  st-bf16    SentenceTransformer(model, model_kwargs={"torch_dtype": torch.bfloat16})
  sbert-fp32 sbert_model_encode (bench_bf16 driver)
  sbert-bf16 the same after sbert_model_set_precision(model, "bf16")

Each measurement is its own child process (load excluded, one warm-up call,
one timed encode). The sides are alternated (the order reverses every repeat)
over --repeats repeats; the table gives the median sentences/s and the spread
(min-max) per side, and the ratios of medians. Cosine of each bf16 side's
embeddings to its own fp32 side (1,000 sentences, batch 64): mean and min.
Prints the CPU model, its bf16-related flags, the load average before and
after, and the versions. Writes the table to --out (atomically) as well.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def child_st(a):
    import numpy as np
    import torch
    torch.set_num_threads(a.threads)
    from sentence_transformers import SentenceTransformer
    kw = {"model_kwargs": {"torch_dtype": torch.bfloat16}} if a.precision == "bf16" else {}
    m = SentenceTransformer(a.model, device="cpu", **kw)
    lines = read_lines(a.file)
    m.encode(lines[:8], batch_size=a.batch)
    t0 = time.perf_counter()
    e = m.encode(lines, batch_size=a.batch, convert_to_numpy=True)
    sec = time.perf_counter() - t0
    if a.save:
        e.astype(np.float32).tofile(a.save)
    print(json.dumps({"n": len(lines), "seconds": sec, "precision": str(next(m.parameters()).dtype)}))


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return [l.rstrip("\n") for l in f]


def cpu_info():
    model, flags = "?", []
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model == "?":
                    model = line.split(":", 1)[1].strip()
                if line.startswith("flags") and not flags:
                    flags = line.split(":", 1)[1].split()
    except OSError:
        pass
    keep = [x for x in flags if x.startswith(("avx512", "amx")) or x in ("avx2", "fma")]
    return model, keep


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, TOKENIZERS_PARALLELISM="false"))
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
        raise SystemExit("child failed: %s" % " ".join(cmd))
    return json.loads(r.stdout.strip().splitlines()[-1])


def side_cmd(a, side, file, batch, threads, save=None):
    if side.startswith("st-"):
        cmd = [sys.executable, __file__, "--child", "--model", a.model, "--file", file, "--batch", str(batch),
               "--threads", str(threads), "--precision", side[3:]]
        if save:
            cmd += ["--save", save]
    else:
        cmd = [a.driver, a.model, file, str(batch), str(threads), side[6:]]
        if save:
            cmd.append(save)
    return cmd


def cos_stats(a, b, dim):
    import numpy as np
    x = np.fromfile(a, dtype=np.float32).reshape(-1, dim).astype(np.float64)
    y = np.fromfile(b, dtype=np.float32).reshape(-1, dim).astype(np.float64)
    c = (x * y).sum(1) / np.linalg.norm(x, axis=1) / np.linalg.norm(y, axis=1)
    return float(c.mean()), float(c.min())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", action="store_true")
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "all-MiniLM-L6-v2"))
    ap.add_argument("--file")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--save")
    ap.add_argument("--driver")
    ap.add_argument("--sentences", default=os.path.join(ROOT, "bench", "data", "stsb-test-sentences.txt"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--configs", default="64x1,64x2,1x1,1x2", help="BATCHxTHREADS list")
    ap.add_argument("--out")
    a = ap.parse_args()
    if a.child:
        return child_st(a)

    import sentence_transformers
    import torch
    cpu, flags = cpu_info()
    lines = read_lines(a.sentences)
    out = []
    p = out.append
    p("# bf16 encode: sbert vs sentence-transformers (all-MiniLM-L6-v2)")
    p("")
    p("- CPU: %s, %d online cores; flags: %s" % (cpu, os.cpu_count(), " ".join(flags)))
    p("- sbert bf16 products: %s" % (run([a.driver, a.model, a.sentences, "8", "1", "bf16"])["precision"]))
    p("- torch %s, sentence-transformers %s, Python %s" % (torch.__version__, sentence_transformers.__version__,
                                                           platform.python_version()))
    p("- load average before: %s" % loadavg())
    p("- %d repeats per side, sides alternated (order reversed every repeat); median sentences/s [min-max]" %
      a.repeats)
    p("")
    sides = ["st-fp32", "st-bf16", "sbert-fp32", "sbert-bf16"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        # accuracy: each bf16 side against its own fp32 side, 1,000 sentences, batch 64
        f1000 = os.path.join(tmp, "s1000.txt")
        with open(f1000, "w", encoding="utf-8") as f:
            f.write("\n".join(lines[:1000]) + "\n")
        emb = {}
        for s in sides:
            emb[s] = os.path.join(tmp, s + ".f32")
            run(side_cmd(a, s, f1000, 64, 2, emb[s]))
        for cfg in a.configs.split(","):
            batch, threads = (int(x) for x in cfg.split("x"))
            n = 1000 if batch > 1 else 200
            fn = os.path.join(tmp, "s%d.txt" % n)
            if not os.path.exists(fn):
                with open(fn, "w", encoding="utf-8") as f:
                    f.write("\n".join(lines[:n]) + "\n")
            rates = {s: [] for s in sides}
            for r in range(a.repeats):
                order = sides if r % 2 == 0 else sides[::-1]
                for s in order:
                    j = run(side_cmd(a, s, fn, batch, threads))
                    rates[s].append(j["n"] / j["seconds"])
            med = {s: statistics.median(v) for s, v in rates.items()}
            rows.append((batch, threads, n, rates, med))
            print("batch %d threads %d: %s" % (batch, threads, {s: round(m, 1) for s, m in med.items()}),
                  file=sys.stderr)
        dim = 384
        c_sb = cos_stats(emb["sbert-bf16"], emb["sbert-fp32"], dim)
        c_st = cos_stats(emb["st-bf16"], emb["st-fp32"], dim)
        c_x = cos_stats(emb["sbert-bf16"], emb["st-fp32"], dim)
    p("| batch | threads | sentences | ST fp32 | ST bf16 | sbert fp32 | sbert bf16 | sbert bf16 / ST bf16 | "
      "sbert bf16 / sbert fp32 |")
    p("|---|---|---|---|---|---|---|---|---|")
    for batch, threads, n, rates, med in rows:
        cell = lambda s: "%.0f [%.0f-%.0f]" % (med[s], min(rates[s]), max(rates[s]))
        p("| %d | %d | %d | %s | %s | %s | %s | %.2fx | %.2fx |" % (
            batch, threads, n, cell("st-fp32"), cell("st-bf16"), cell("sbert-fp32"), cell("sbert-bf16"),
            med["sbert-bf16"] / med["st-bf16"], med["sbert-bf16"] / med["sbert-fp32"]))
    p("")
    p("Cosine to fp32, 1,000 STS-B sentences (batch 64): sbert bf16 vs sbert fp32 mean %.7f min %.7f; "
      "ST bf16 vs ST fp32 mean %.7f min %.7f; sbert bf16 vs ST fp32 mean %.7f min %.7f" % (c_sb + c_st + c_x))
    p("")
    p("- load average after: %s" % loadavg())
    text = "\n".join(out) + "\n"
    print(text)
    if a.out:
        tmpf = a.out + ".tmp"
        with open(tmpf, "w") as f:
            f.write(text)
        os.replace(tmpf, a.out)


if __name__ == "__main__":
    sys.exit(main())
