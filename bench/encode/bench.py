#!/usr/bin/env python3
"""bench/encode/bench.py -- sbert vs ONNX Runtime vs sentence-transformers, side by side.

The same model (all-MiniLM-L6-v2), the same 1,000 STS-B test sentences
(bench/data/stsb-test-sentences.txt), the same thread count on every side,
each measurement its own child process (peak RSS read with os.wait4):

  sbert   sbert_model_encode through bench_encode.c
  ORT     ONNX Runtime (CPUExecutionProvider, default graph optimizations) on
          the model exported with torch.onnx (transformer + mean pooling +
          L2 normalize in one graph); texts tokenized with HF `tokenizers`,
          length-sorted batches padded to the longest, as
          SentenceTransformer.encode(backend="onnx") feeds it
  ST      SentenceTransformer.encode (torch, CPU)

Rows:
  batch 1    one request per sentence (one encode / session.run per text, the
             case of a search service answering queries): sentences/s over
             all 1,000 and the p50 / p99 of the per-request latency
  batch 8,   one encode call over all 1,000 sentences with that batch size
  batch 64   (every side sorts by length first, as sentence-transformers does)

For each (batch, threads) the three sides are ALTERNATED over --repeats
rounds (round r starts with a different side), every child loads its model
and warms up outside the timed part; the table gives the median over the
rounds and the spread (min-max), and the ratios of the medians. Also: max
|delta| of the embeddings against sentence-transformers, and the process
start -> .npy and tokenizer rows of the older benchmark.

The environment (CPU model and flags, load average before and after, versions,
OpenBLAS core, thread variables) is printed first. Timings are only worth
reporting from a quiet machine (load average well below 1 on 2 cores):
bench/README.md.

Called by run.sh (`make bench`); needs torch, sentence-transformers,
onnxruntime, onnx and onnxscript (the torch.onnx exporter), so it is never
run in CI.
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
SIDES = ("sbert", "ort", "st")
NAMES = {"sbert": "sbert", "ort": "ONNX Runtime", "st": "sentence-transformers"}


# ------------------------------------------------------------------ children

def read_lines(path):
    with open(path, encoding="utf-8", newline="") as f:
        return [l[:-2] if l.endswith("\r\n") else l[:-1] if l.endswith("\n") else l
                for l in f]


def quantiles(lat):
    lat = sorted(lat)
    n = len(lat)
    pick = lambda q: lat[min(n - 1, int(q * (n - 1) + 0.999999))]  # noqa: E731
    return pick(0.50), pick(0.99)


def timed_requests(encode_one, lines, batch):
    """One call per `batch` consecutive lines; returns (total s, [latency s])."""
    lat = []
    t0 = time.perf_counter()
    for i in range(0, len(lines), batch):
        a = time.perf_counter()
        encode_one(lines[i:i + batch])
        lat.append(time.perf_counter() - a)
    return time.perf_counter() - t0, lat


def child_st(args):
    import numpy as np
    import torch
    torch.set_num_threads(args.threads)
    from sentence_transformers import SentenceTransformer
    lines = read_lines(args.file)
    model = SentenceTransformer(args.model, device="cpu")
    model.encode(lines[:8], batch_size=args.batch)
    res = {"n": len(lines)}
    if args.requests:
        emb = []
        seconds, lat = timed_requests(
            lambda b: emb.append(model.encode(b, batch_size=args.batch, convert_to_numpy=True)),
            lines, args.batch)
        emb = np.concatenate(emb)
        res["p50"], res["p99"] = quantiles(lat)
    else:
        t0 = time.perf_counter()
        emb = model.encode(lines, batch_size=args.batch, convert_to_numpy=True)
        seconds = time.perf_counter() - t0
    res["seconds"] = seconds
    if args.save:
        np.save(args.save, emb.astype(np.float32))
    print(json.dumps(res))


def child_ort(args):
    """ONNX Runtime on the exported graph, fed as sentence-transformers' ONNX
    backend feeds it: length-sorted (longest first), padded to the longest of
    each batch, truncated to max_seq_length."""
    import numpy as np
    import onnxruntime as ort
    from tokenizers import Tokenizer
    lines = read_lines(args.file)
    tok = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    tok.enable_truncation(args.max_seq_length)
    tok.enable_padding()  # to the longest of the batch
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(args.onnx, so, providers=["CPUExecutionProvider"])

    def run(batch_texts):
        encs = tok.encode_batch(batch_texts)
        ids = np.array([e.ids for e in encs], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encs], dtype=np.int64)
        types = np.array([e.type_ids for e in encs], dtype=np.int64)
        return sess.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]

    def encode(texts, bs):
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = [None] * len(texts)
        for s in range(0, len(texts), bs):
            idx = order[s:s + bs]
            emb = run([texts[i] for i in idx])
            for k, i in enumerate(idx):
                out[i] = emb[k]
        return np.stack(out)

    encode(lines[:8], args.batch)
    res = {"n": len(lines)}
    if args.requests:
        emb = []
        seconds, lat = timed_requests(lambda b: emb.append(encode(b, args.batch)), lines, args.batch)
        emb = np.concatenate(emb)
        res["p50"], res["p99"] = quantiles(lat)
    else:
        t0 = time.perf_counter()
        emb = encode(lines, args.batch)
        seconds = time.perf_counter() - t0
    res["seconds"] = seconds
    if args.save:
        np.save(args.save, emb.astype(np.float32))
    print(json.dumps(res))


def child_export(args):
    """Export transformer + mean pooling + normalize with torch.onnx (the
    torch.export-based exporter; the TorchScript one mis-traces transformers
    5's attention masks), then check it against sentence-transformers."""
    import numpy as np
    import torch
    from transformers import AutoModel
    hf = AutoModel.from_pretrained(args.model, attn_implementation="eager").eval()

    class MeanPooled(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            h = self.m(input_ids=input_ids, attention_mask=attention_mask,
                       token_type_ids=token_type_ids).last_hidden_state
            mk = attention_mask.unsqueeze(-1).to(h.dtype)
            e = (h * mk).sum(1) / mk.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(e, p=2, dim=1)

    w = MeanPooled(hf).eval()
    ex_ids = torch.full((2, 8), 1000, dtype=torch.long)
    ex_mask = torch.ones(2, 8, dtype=torch.long)
    axes = {k: {0: "batch", 1: "seq"} for k in ("input_ids", "attention_mask", "token_type_ids")}
    axes["sentence_embedding"] = {0: "batch"}
    tmp = args.onnx + ".tmp.onnx"  # renamed into place only once checked
    with torch.no_grad():
        torch.onnx.export(w, (ex_ids, ex_mask, torch.zeros(2, 8, dtype=torch.long)), tmp,
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["sentence_embedding"], dynamic_axes=axes,
                          opset_version=18, dynamo=True)
    import onnxruntime as ort
    sess = ort.InferenceSession(tmp, providers=["CPUExecutionProvider"])
    ids = np.array([[101, 7592, 2088, 2003, 102, 0], [101, 2307, 102, 0, 0, 0]], dtype=np.int64)
    mask = (ids != 0).astype(np.int64)
    got = sess.run(None, {"input_ids": ids, "attention_mask": mask,
                          "token_type_ids": np.zeros_like(ids)})[0]
    with torch.no_grad():
        want = w(torch.tensor(ids), torch.tensor(mask), torch.zeros(ids.shape, dtype=torch.long)).numpy()
    d = float(np.abs(got - want).max())
    if not d < 1e-5:
        raise SystemExit(f"exported ONNX model differs from torch by {d}")
    import onnx  # one self-contained file (the exporter may keep the weights beside it)
    onnx.save(onnx.load(tmp), args.onnx + ".part")
    for p in (tmp, tmp + ".data"):
        if os.path.exists(p):
            os.remove(p)
    os.replace(args.onnx + ".part", args.onnx)
    print(json.dumps({"max_abs_diff": d}))


def child_hf_tokenize(args):
    """Time tokenizers.Tokenizer.encode_batch on one thread; print JSON."""
    from tokenizers import Tokenizer
    lines = read_lines(args.file)
    tok = Tokenizer.from_file(args.tokenizer)
    tok.encode_batch(lines[:8])
    best, tokens = 1e30, 0
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        encs = tok.encode_batch(lines)
        best = min(best, time.perf_counter() - t0)
        tokens = sum(len(e.ids) for e in encs)
    print(json.dumps({"n": len(lines), "tokens": tokens, "seconds": best}))


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

def run_child_rss(cmd, env=None):
    """Run cmd; return (parsed JSON of its last stdout line or None, the child's own peak RSS
    in MiB (os.wait4), wall s)."""
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
    simd = [x for x in flags if x.startswith(("avx", "fma", "sse4", "amx", "f16c"))]
    return model, " ".join(simd)


def load_avg():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def environment(threads):
    model, simd = cpu_info()
    info = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpu": model,
            "cpu_simd_flags": simd, "cores": os.cpu_count(), "threads": threads,
            "load_average_1_5_15min_before": load_avg(), "python": platform.python_version()}
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
                           "import torch, sentence_transformers, tokenizers, onnxruntime;"
                           "print(torch.__version__, sentence_transformers.__version__,"
                           " tokenizers.__version__, onnxruntime.__version__)"],
                          capture_output=True, text=True)
    parts = vers.stdout.split()
    if len(parts) == 4:
        (info["torch"], info["sentence_transformers"], info["tokenizers"],
         info["onnxruntime"]) = parts
    for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        info[k] = os.environ.get(k, "(unset)")
    return info


def max_abs_diff(ref_npy, path):
    import numpy as np
    a = np.load(ref_npy).astype(np.float64)
    b = np.load(path) if path.endswith(".npy") else np.fromfile(path, dtype="<f4").reshape(a.shape)
    return float(np.max(np.abs(a - b)))


def med_spread(vals, scale=1.0, spec=".1f"):
    vals = [v * scale for v in vals if v is not None]
    if not vals:
        return "failed"
    return (f"{format(statistics.median(vals), spec)} "
            f"({format(min(vals), spec)}-{format(max(vals), spec)})")


# --------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--driver", help="bench_encode binary (built by run.sh)")
    ap.add_argument("--sbert", help="the sbert CLI binary")
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "all-MiniLM-L6-v2"))
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data"))
    ap.add_argument("--sentences", default=os.path.join(ROOT, "bench", "data",
                                                        "stsb-test-sentences.txt"))
    ap.add_argument("--onnx-dir", default=os.path.join(ROOT, "build", "onnx"),
                    help="where the exported ONNX model is kept between runs")
    ap.add_argument("--threads", type=int, default=2,
                    help="threads of the end-to-end run (and of --child runs)")
    ap.add_argument("--threads-list", default="1,2")
    ap.add_argument("--batches", default="1,8,64")
    ap.add_argument("--sides", default="sbert,ort,st")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-extra", action="store_true",
                    help="skip the end-to-end and tokenizer rows")
    ap.add_argument("--child", choices=["st", "ort", "export", "hf-tok", "st-e2e"])
    ap.add_argument("--file")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--requests", action="store_true")
    ap.add_argument("--max-seq-length", type=int, default=256)
    ap.add_argument("--onnx")
    ap.add_argument("--tokenizer")
    ap.add_argument("--save")
    args = ap.parse_args()
    if args.child:
        return {"st": child_st, "ort": child_ort, "export": child_export,
                "hf-tok": child_hf_tokenize, "st-e2e": child_st_end_to_end}[args.child](args)

    threads_list = [int(t) for t in args.threads_list.split(",") if t]
    batches = [int(b) for b in args.batches.split(",") if b]
    sides = [s for s in args.sides.split(",") if s]
    info = environment(",".join(map(str, threads_list)))
    print("# sbert vs ONNX Runtime vs sentence-transformers -- encode benchmark")
    for k, v in info.items():
        print(f"#   {k}: {v}")
    sys.stdout.flush()

    with open(os.path.join(args.model, "sentence_bert_config.json")) as f:
        max_seq = json.load(f).get("max_seq_length", 256)
    work = tempfile.mkdtemp(prefix="sbert_bench_")
    sent_file = args.sentences
    n_sent = len(read_lines(sent_file))
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false", RAYON_NUM_THREADS="1")

    onnx_path = os.path.join(args.onnx_dir, "all-MiniLM-L6-v2-meanpool-norm.onnx")
    if "ort" in sides and not os.path.exists(onnx_path):
        os.makedirs(args.onnx_dir, exist_ok=True)
        print(f"# exporting {args.model} to {onnx_path} (torch.onnx, once)")
        res, _, _ = run_child_rss([sys.executable, __file__, "--child", "export", "--model", args.model,
                               "--onnx", onnx_path], env)
        if not res:
            raise SystemExit("ONNX export failed")
        print(f"#   export checked against torch: max |delta| {res['max_abs_diff']:.2e}")

    def command(side, batch, threads, save):
        if side == "sbert":
            if batch == 1:
                return [args.driver, "requests", args.model, sent_file, "1", str(threads), save]
            return [args.driver, "encode", args.model, sent_file, str(batch), str(threads), "1", save]
        cmd = [sys.executable, __file__, "--child", side, "--model", args.model, "--file", sent_file,
               "--batch", str(batch), "--threads", str(threads), "--save", save,
               "--max-seq-length", str(max_seq)]
        if side == "ort":
            cmd += ["--onnx", onnx_path]
        if batch == 1:
            cmd.append("--requests")
        return cmd

    rows = []
    for threads in threads_list:
        tenv = dict(env, OMP_NUM_THREADS=str(threads))
        for batch in batches:
            got = {s: {"sps": [], "p50": [], "p99": [], "rss": [], "diff": None} for s in sides}
            for r in range(args.repeats):
                order = sides[r % len(sides):] + sides[:r % len(sides)]
                for side in order:
                    save = os.path.join(work, f"{side}_{batch}_{threads}" +
                                        (".f32" if side == "sbert" else ".npy"))
                    res, rss, _ = run_child_rss(command(side, batch, threads, save), tenv)
                    g = got[side]
                    g["rss"].append(rss)
                    if not res:
                        g["sps"].append(None)
                        continue
                    g["sps"].append(res["n"] / res["seconds"])
                    if "p50" in res:
                        g["p50"].append(res["p50"])
                        g["p99"].append(res["p99"])
            ref = os.path.join(work, f"st_{batch}_{threads}.npy")
            for side in sides:
                path = os.path.join(work, f"{side}_{batch}_{threads}" +
                                    (".f32" if side == "sbert" else ".npy"))
                if side != "st" and os.path.exists(ref) and os.path.exists(path):
                    got[side]["diff"] = max_abs_diff(ref, path)
            rows.append({"batch": batch, "threads": threads, "got": got})
            # one line per configuration as it finishes
            line = f"# batch {batch}, {threads} thread(s):"
            for side in sides:
                line += f"  {side} {med_spread(got[side]['sps'])} sent/s"
            print(line)
            sys.stdout.flush()

    def median(vals):
        vals = [v for v in vals if v is not None]
        return statistics.median(vals) if vals else None

    print()
    print(f"Sentences/s, median of {args.repeats} alternated runs (min-max), {n_sent} STS-B test "
          "sentences; batch 1 = one encode call per sentence")
    print()
    hdr = "| batch | threads |" + "".join(f" {NAMES[s]} |" for s in sides)
    if "sbert" in sides:
        hdr += "".join(f" sbert / {NAMES[s]} |" for s in sides if s != "sbert")
    print(hdr)
    print("|---:|---:|" + "---:|" * (len(sides) + (len(sides) - 1 if "sbert" in sides else 0)))
    for row in rows:
        g = row["got"]
        line = f"| {row['batch']} | {row['threads']} |"
        line += "".join(f" {med_spread(g[s]['sps'])} |" for s in sides)
        if "sbert" in sides:
            for s in sides:
                if s == "sbert":
                    continue
                a, b = median(g["sbert"]["sps"]), median(g[s]["sps"])
                line += f" {a / b:.2f}x |" if a and b else " - |"
        print(line)
    lat_rows = [r for r in rows if r["batch"] == 1]
    if lat_rows:
        print()
        print("Batch 1 latency per request, ms: p50 / p99, median of the runs (min-max of the p99)")
        print()
        print("| threads |" + "".join(f" {NAMES[s]} p50 | {NAMES[s]} p99 |" for s in sides))
        print("|---:|" + "---:|---:|" * len(sides))
        for row in lat_rows:
            g = row["got"]
            line = f"| {row['threads']} |"
            for s in sides:
                line += f" {med_spread(g[s]['p50'], 1e3, '.2f').split(' ')[0]} |"
                line += f" {med_spread(g[s]['p99'], 1e3, '.2f')} |"
            print(line)
    print()
    print("Peak RSS (MiB, median) and max |delta| of the embeddings vs sentence-transformers")
    print()
    print("| batch | threads |" + "".join(f" {NAMES[s]} RSS |" for s in sides) +
          "".join(f" {NAMES[s]} max abs diff |" for s in sides if s != "st"))
    print("|---:|---:|" + "---:|" * (len(sides) + len([s for s in sides if s != "st"])))
    for row in rows:
        g = row["got"]
        line = f"| {row['batch']} | {row['threads']} |"
        line += "".join(f" {statistics.median(g[s]['rss']):.0f} |" for s in sides)
        for s in sides:
            if s != "st":
                d = g[s]["diff"]
                line += f" {d:.2e} |" if d is not None else " - |"
        print(line)
    sys.stdout.flush()

    extra = []
    if not args.no_extra and args.sbert and "st" in sides:
        # process start -> .npy written (not alternated; one run each)
        e2e_st = os.path.join(work, "e2e_st.npy")
        e2e_sb = os.path.join(work, "e2e_sbert.npy")
        _, st_rss, st_wall = run_child_rss([sys.executable, __file__, "--child", "st-e2e", "--model",
                                            args.model, "--file", sent_file, "--batch", "64",
                                            "--threads", str(args.threads), "--save", e2e_st], env)
        _, sb_rss, sb_wall = run_child_rss([args.sbert, "encode", "--model", args.model, "--input",
                                            sent_file, "--output", e2e_sb, "--batch-size", "64",
                                            "--threads", str(args.threads)], env)
        extra.append((f"end to end: start -> .npy ({n_sent}, batch 64, {args.threads} threads)",
                      "sentences/s", n_sent / st_wall, n_sent / sb_wall, st_rss, sb_rss))
        for tname in ("bert-base-uncased", "ModernBERT"):
            tj = os.path.join(args.data, "tokenizers", tname, "tokenizer.json")
            if not os.path.exists(tj):
                continue
            allf = os.path.join(work, "all.txt")
            if not os.path.exists(allf):
                import csv
                seen, out = set(), []
                for split in ("test", "dev", "train"):
                    path = os.path.join(args.data, "stsb", f"sts-{split}.csv")
                    if not os.path.exists(path):
                        continue
                    with open(path, encoding="utf-8") as f:
                        for rw in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
                            for s in rw[5:7]:
                                s = s.strip()
                                if s and s not in seen:
                                    seen.add(s)
                                    out.append(s)
                with open(allf, "w", encoding="utf-8") as f:
                    f.write("".join(s + "\n" for s in out))
            hf, hf_rss, _ = run_child_rss([sys.executable, __file__, "--child", "hf-tok",
                                           "--tokenizer", tj, "--file", allf, "--repeats",
                                           str(args.repeats)], env)
            sb, sb_rss, _ = run_child_rss([args.driver, "tokenize", tj, allf, str(args.repeats)],
                                          env)
            if hf and sb:
                note = "" if hf["tokens"] == sb["tokens"] else \
                    f" (token counts differ: HF {hf['tokens']}, sbert {sb['tokens']})"
                extra.append((f"tokenize {tname} ({hf['n']} sentences, {hf['tokens']} tokens, 1 "
                              f"thread){note}", "tokens/s", hf["tokens"] / hf["seconds"],
                              sb["tokens"] / sb["seconds"], hf_rss, sb_rss))
    if extra:
        print()
        print("| benchmark | unit | sentence-transformers / HF | sbert | sbert/ST | "
              "peak RSS ST (MiB) | peak RSS sbert (MiB) |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for what, unit, st, sb, st_rss, sb_rss in extra:
            print(f"| {what} | {unit} | {st:,.1f} | {sb:,.1f} | {sb / st:.2f}x | {st_rss:.0f} | "
                  f"{sb_rss:.0f} |")

    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump({"env": info, "rows": rows}, f, indent=1)
    print(f"\n# load average at the end (1/5/15 min): {load_avg()}")
    print(f"(raw results: {os.path.join(work, 'results.json')})")
    return 0


if __name__ == "__main__":
    sys.exit(main() or 0)
