"""Shared helpers of the bench/train scripts: run one side in its own process
and read back that process's own peak RSS."""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The start of every sentence-transformers child script: imports, the JSON
# config in argv[1] (as `cfg`) and torch's thread count.
ST_PREAMBLE = r"""
import json, sys, torch
from datasets import load_dataset
from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg["threads"])
"""

# Runs a command and reports that command's own peak RSS (a fresh wrapper per
# command, so one side's memory never masks the other's).
WRAP = r"""
import resource, subprocess, sys
p = subprocess.run(sys.argv[1:])
print("RSS_KB", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, flush=True)
sys.exit(p.returncode)
"""


def run_child(cmd, env):
    """Run cmd; return (its stdout, its peak RSS in MB). Exits on failure."""
    p = subprocess.run([sys.executable, "-c", WRAP] + cmd, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.stderr.write(p.stdout[-3000:] + p.stderr[-3000:])
        raise SystemExit(f"command failed: {cmd[:3]}")
    rss_mb = int(re.search(r"RSS_KB (\d+)", p.stdout).group(1)) / 1024.0
    return p.stdout, rss_mb


def build_driver(source, exe):
    """Compile the C driver `source` (a path under ROOT) against build/libsbert.a into `exe`,
    with the libraries sbert links (pkg-config) and the private ones of this build (sbert.pc's
    Libs.private: oneDNN, Arrow/Parquet and the C++ runtime when they were built in)."""
    libs = subprocess.run(["pkg-config", "--libs", "libcjson", "libutf8proc", "libpcre2-8", "openblas", "zlib"],
                          capture_output=True, text=True, check=True).stdout.split()
    with open(os.path.join(ROOT, "build", "sbert.pc"), encoding="utf-8") as f:
        libs += [w for line in f if line.startswith("Libs.private:") for w in line.split()[1:]]
    subprocess.run(["cc", "-O2", os.path.join(ROOT, source), "-I" + os.path.join(ROOT, "include"),
                    "-I" + os.path.join(ROOT, "src"), os.path.join(ROOT, "build", "libsbert.a")] + libs +
                   ["-lpthread", "-lm", "-o", exe], check=True)
    return exe


def thread_env(threads):
    return dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
                MKL_NUM_THREADS=str(threads))


def sbert_samples_per_second(out):
    m = re.search(r"'train_samples_per_second': ([0-9.]+)", out)
    if not m:
        raise SystemExit("sbert printed no train_samples_per_second")
    return float(m.group(1))


def minilm_dir():
    """models/all-MiniLM-L6-v2 (unpacked by tools/fetch_models.sh); exits when absent."""
    model = os.path.join(ROOT, "models", "all-MiniLM-L6-v2")
    if not os.path.isfile(os.path.join(model, "model.safetensors")):
        raise SystemExit(f"{model}: not found; run tools/fetch_models.sh first")
    return model


def print_table(title, st_sps, st_rss, sb_sps, sb_rss):
    """The side-by-side table: samples/s and peak RSS of each side, and the ratios."""
    print(title)
    print(f"{'':24s}{'samples/s':>12s}{'peak RSS MB':>14s}")
    print(f"{'sentence-transformers':24s}{st_sps:12.1f}{st_rss:14.0f}")
    print(f"{'sbert':24s}{sb_sps:12.1f}{sb_rss:14.0f}")
    print(f"ratio sbert/ST: samples/s {sb_sps / st_sps:.2f}x, memory {sb_rss / st_rss:.2f}x")
