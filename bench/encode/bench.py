#!/usr/bin/env python3
"""bench/encode/bench.py -- sbert vs sentence-transformers, side by side.

Runs, on the same machine, model and sentences, each measurement in its own
child process (so peak RSS is that of one job, read with os.wait4):

  encode     sentence-transformers (torch, CPU) SentenceTransformer.encode
             vs sbert_model_encode (bench_encode driver), at batch 1 (200
             sentences) and batch 64 (1,000 sentences); model load excluded,
             one warm-up call, best of --repeats runs; also max |delta| between
             the two sets of embeddings.
  end-to-end `sbert encode --output x.npy` vs a Python script doing the same
             (import, load, encode, numpy.save): process start to file written.
  tokenize   HF `tokenizers` (Tokenizer.encode_batch, TOKENIZERS_PARALLELISM=false
             so one thread) vs sbert_tokenizer_encode, tokens/s over all STS-B
             sentences; the token counts must agree.

Both sides are pinned to the same thread count in every row (--threads-list,
default 1 and 2: torch.set_num_threads / sbert num_threads; the end-to-end row
uses --threads, default 2). Prints the environment
(OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE, versions, CPU) and a table with the
ratios sbert/ST (> 1 means sbert is faster for throughput, smaller for RSS).

Called by run.sh (`make bench`); needs torch + sentence-transformers, so it is
never run in CI.
"""
import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


# ------------------------------------------------------------------ children

def child_st(args):
    """Time SentenceTransformer.encode; print JSON."""
    import numpy as np
    import torch
    torch.set_num_threads(args.threads)
    from sentence_transformers import SentenceTransformer
    lines = read_lines(args.file)
    t0 = time.perf_counter()
    model = SentenceTransformer(args.model, device="cpu")
    load_s = time.perf_counter() - t0
    model.encode(lines[:8], batch_size=args.batch)
    best = 1e30
    emb = None
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        emb = model.encode(lines, batch_size=args.batch, convert_to_numpy=True)
        best = min(best, time.perf_counter() - t0)
    if args.save:
        np.save(args.save, emb.astype(np.float32))
    print(json.dumps({"n": len(lines), "seconds": best, "load_seconds": load_s,
                      "threads": torch.get_num_threads()}))


def child_hf_tokenize(args):
    """Time tokenizers.Tokenizer.encode_batch on one thread; print JSON."""
    from tokenizers import Tokenizer
    lines = read_lines(args.file)
    t0 = time.perf_counter()
    tok = Tokenizer.from_file(args.tokenizer)
    load_s = time.perf_counter() - t0
    tok.encode_batch(lines[:8])
    best, tokens = 1e30, 0
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        encs = tok.encode_batch(lines)
        best = min(best, time.perf_counter() - t0)
        tokens = sum(len(e.ids) for e in encs)
    print(json.dumps({"n": len(lines), "tokens": tokens, "seconds": best,
                      "load_seconds": load_s}))


def child_st_end_to_end(args):
    """Import, load, encode, save: what a user script does."""
    import numpy as np
    import torch
    torch.set_num_threads(args.threads)
    from sentence_transformers import SentenceTransformer
    model = SentenceTransformer(args.model, device="cpu")
    emb = model.encode(read_lines(args.file), batch_size=args.batch)
    np.save(args.save, emb)


# ------------------------------------------------------------------ helpers

def read_lines(path):
    with open(path, encoding="utf-8", newline="") as f:
        return [l[:-2] if l.endswith("\r\n") else l[:-1] if l.endswith("\n") else l
                for l in f]


def stsb_sentences(data_dir):
    """Unique STS-B sentences in file order: test, then dev, then train."""
    seen, out = set(), []
    for split in ("test", "dev", "train"):
        path = os.path.join(data_dir, "stsb", f"sts-{split}.csv")
        with open(path, encoding="utf-8") as f:
            for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
                for s in row[5:7]:
                    s = s.strip()
                    if s and s not in seen:
                        seen.add(s)
                        out.append(s)
    return out


def run_child(cmd, env=None):
    """Run cmd; return (parsed JSON of its last stdout line or None, peak RSS MiB, wall s)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.stderr.write(f"command failed ({p.returncode}): {' '.join(cmd)}\n"
                         f"{err.decode(errors='replace')[-2000:]}\n")
        return None, ru.ru_maxrss / 1024.0, wall
    lines = out.decode().strip().splitlines()
    res = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else None
    return res, ru.ru_maxrss / 1024.0, wall


def environment(threads):
    env = {k: os.environ.get(k, "(unset)") for k in
           ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpu": cpu,
            "load_average_1_5_15min": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "cores": os.cpu_count(), "threads": threads, "python": platform.python_version()}
    try:
        import ctypes
        ob = ctypes.CDLL("libopenblas.so.0")
        ob.openblas_get_corename.restype = ctypes.c_char_p
        ob.openblas_get_config.restype = ctypes.c_char_p
        info["openblas"] = (ob.openblas_get_config().decode() + " core="
                            + ob.openblas_get_corename().decode())
    except Exception as e:  # noqa: BLE001 -- informational only
        info["openblas"] = f"? ({e})"
    vers = subprocess.run([sys.executable, "-c",
                           "import torch, sentence_transformers, tokenizers;"
                           "print(torch.__version__, sentence_transformers.__version__,"
                           " tokenizers.__version__)"], capture_output=True, text=True)
    parts = vers.stdout.split()
    if len(parts) == 3:
        info["torch"], info["sentence_transformers"], info["tokenizers"] = parts
    info.update(env)
    return info


def max_abs_diff(a_path, b_path):
    import numpy as np
    a = np.load(a_path)
    b = np.fromfile(b_path, dtype="<f4").reshape(a.shape)
    return float(np.max(np.abs(a.astype(np.float64) - b)))


# --------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--driver", help="bench_encode binary (built by run.sh)")
    ap.add_argument("--sbert", help="the sbert CLI binary")
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "all-MiniLM-L6-v2"))
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data"))
    ap.add_argument("--threads", type=int, default=2,
                    help="threads of the end-to-end run (and of --child runs)")
    ap.add_argument("--threads-list", default="1,2",
                    help="thread counts of the encode runs, comma separated")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--child", choices=["st", "hf-tok", "st-e2e"])
    ap.add_argument("--file")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--tokenizer")
    ap.add_argument("--save")
    args = ap.parse_args()
    args.threads_list = [int(t) for t in args.threads_list.split(",") if t]
    if args.child == "st":
        return child_st(args)
    if args.child == "hf-tok":
        return child_hf_tokenize(args)
    if args.child == "st-e2e":
        return child_st_end_to_end(args)

    info = environment(",".join(str(t) for t in args.threads_list))
    print("# sbert vs sentence-transformers -- encode benchmark")
    for k, v in info.items():
        print(f"#   {k}: {v}")

    sents = stsb_sentences(args.data)
    work = tempfile.mkdtemp(prefix="sbert_bench_")
    files = {}
    for name, n in (("s200", 200), ("s1000", 1000), ("all", len(sents))):
        files[name] = os.path.join(work, f"{name}.txt")
        with open(files[name], "w", encoding="utf-8") as f:
            f.write("".join(s + "\n" for s in sents[:n]))

    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads),
               TOKENIZERS_PARALLELISM="false", RAYON_NUM_THREADS="1")
    rows = []

    # --- encode throughput, model load excluded, for each thread count
    for threads in args.threads_list:
        tenv = dict(env, OMP_NUM_THREADS=str(threads))
        for label, fkey, batch in (("batch 1", "s200", 1), ("batch 64", "s1000", 64)):
            st_npy = os.path.join(work, f"st_{batch}_{threads}.npy")
            sb_raw = os.path.join(work, f"sbert_{batch}_{threads}.f32")
            st, st_rss, _ = run_child([sys.executable, __file__, "--child", "st", "--model",
                                       args.model, "--file", files[fkey], "--batch", str(batch),
                                       "--threads", str(threads), "--repeats",
                                       str(args.repeats), "--save", st_npy], tenv)
            sb, sb_rss, _ = run_child([args.driver, "encode", args.model, files[fkey],
                                       str(batch), str(threads), str(args.repeats), sb_raw],
                                      tenv)
            diff = None
            if st and sb and os.path.exists(st_npy) and os.path.exists(sb_raw):
                diff = max_abs_diff(st_npy, sb_raw)
            rows.append({
                "what": f"encode, {label}, {threads} thread{'s' if threads > 1 else ''} "
                        f"({st['n'] if st else '?'} sentences)",
                "unit": "sentences/s",
                "st": st["n"] / st["seconds"] if st else None,
                "sbert": sb["n"] / sb["seconds"] if sb else None,
                "st_rss": st_rss, "sbert_rss": sb_rss, "max_abs_diff": diff})

    # --- end to end: process start to .npy written
    if args.sbert:
        e2e_st = os.path.join(work, "e2e_st.npy")
        e2e_sb = os.path.join(work, "e2e_sbert.npy")
        _, st_rss, st_wall = run_child([sys.executable, __file__, "--child", "st-e2e", "--model",
                                        args.model, "--file", files["s1000"], "--batch", "64",
                                        "--threads", str(args.threads), "--save", e2e_st], env)
        _, sb_rss, sb_wall = run_child([args.sbert, "encode", "--model", args.model, "--input",
                                        files["s1000"], "--output", e2e_sb, "--batch-size", "64",
                                        "--threads", str(args.threads)], env)
        diff = None
        if os.path.exists(e2e_st) and os.path.exists(e2e_sb):
            import numpy as np
            diff = float(np.max(np.abs(np.load(e2e_st).astype(np.float64) - np.load(e2e_sb))))
        rows.append({"what": f"end to end: start -> .npy (1000, batch 64, {args.threads} "
                             "threads)", "unit": "sentences/s",
                     "st": 1000 / st_wall, "sbert": 1000 / sb_wall, "st_rss": st_rss,
                     "sbert_rss": sb_rss, "max_abs_diff": diff})

    # --- tokenizer throughput, one thread
    for tname in ("bert-base-uncased", "ModernBERT"):
        tj = os.path.join(args.data, "tokenizers", tname, "tokenizer.json")
        if not os.path.exists(tj):
            continue
        hf, hf_rss, _ = run_child([sys.executable, __file__, "--child", "hf-tok", "--tokenizer",
                                   tj, "--file", files["all"], "--repeats", str(args.repeats)],
                                  env)
        sb, sb_rss, _ = run_child([args.driver, "tokenize", tj, files["all"],
                                   str(args.repeats)], env)
        note = None
        if hf and sb and hf["tokens"] != sb["tokens"]:
            note = f"token counts differ: HF {hf['tokens']}, sbert {sb['tokens']}"
        rows.append({"what": f"tokenize {tname} ({len(sents)} sentences, "
                             f"{hf['tokens'] if hf else '?'} tokens, 1 thread)",
                     "unit": "tokens/s",
                     "st": hf["tokens"] / hf["seconds"] if hf else None,
                     "sbert": sb["tokens"] / sb["seconds"] if sb else None,
                     "st_rss": hf_rss, "sbert_rss": sb_rss, "max_abs_diff": None,
                     "note": note})

    def fmt(v, spec):
        return format(v, spec) if v is not None else "failed"

    print()
    print("| benchmark | unit | sentence-transformers / HF | sbert | sbert/ST | "
          "peak RSS ST (MiB) | peak RSS sbert (MiB) | max abs diff |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        ratio = r["sbert"] / r["st"] if r["st"] and r["sbert"] else None
        diff = f"{r['max_abs_diff']:.2e}" if r["max_abs_diff"] is not None else "-"
        print(f"| {r['what']} | {r['unit']} | {fmt(r['st'], ',.1f')} | "
              f"{fmt(r['sbert'], ',.1f')} | {fmt(ratio, '.2f')}x | {r['st_rss']:.0f} | "
              f"{r['sbert_rss']:.0f} | {diff} |")
        if r.get("note"):
            print(f"|   note: {r['note']} | | | | | | | |")
    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump({"env": info, "rows": rows}, f, indent=1)
    print("\n# load average at the end (1/5/15 min): "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    print(f"(raw results: {os.path.join(work, 'results.json')})")
    return 0


if __name__ == "__main__":
    sys.exit(main() or 0)
