#!/usr/bin/env bash
# bench/quiet_run.sh -- every side-by-side figure bench/README.md and
# bench/train/README.md report (issue 13), in one go, for a QUIET machine:
#   encode   sbert vs ONNX Runtime vs sentence-transformers, batch 1/8/64,
#            1 and 2 threads, 5 alternated rounds, p50/p99 at batch 1
#   gemm     the forward's products alone (OpenBLAS vs sbert's kernel) and
#            one core's sgemm rate on the training step's shapes
#   train    MNRL fine-tuning of all-MiniLM-L6-v2, 2 threads (40 steps, with
#            the perf profile) and 1 thread (20 steps), 3 alternated runs each
# It refuses to start when the 1-minute load average is 1 or more (FORCE=1
# overrides, for a dry run whose figures are not to be reported). Output goes
# to the terminal and to build/bench-quiet-<date>.log. Takes about 30 minutes.
#
#   PYTHON=/path/to/venv/bin/python bench/quiet_run.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
PYTHON=${PYTHON:-python3}
export PYTHON
load=$(cut -d' ' -f1 /proc/loadavg)
if [ "${FORCE:-0}" != 1 ] && awk -v l="$load" 'BEGIN { exit !(l >= 1.0) }'; then
  echo "quiet_run: load average $load: not a quiet machine (FORCE=1 to run anyway)" >&2
  ps -eo pcpu,comm --sort=-pcpu | head -8 >&2
  exit 1
fi
mkdir -p build
log="build/bench-quiet-$(date -u +%Y%m%d-%H%M).log"
{
  echo "# $(date -u) $(uname -srm); load: $(cat /proc/loadavg)"
  grep -m1 'model name' /proc/cpuinfo
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build -j"$(nproc)" >/dev/null
  bench/encode/run.sh --repeats 5 --threads-list 1,2
  echo; echo "## gemm_bench layers (one thread, min CPU time)"
  build/gemm_bench layers 1 4 8 13 16 24 32 64 128 256
  echo; echo "## gemm_bench train 891 (the MNRL step's shapes: 32 pairs x 27.8 tokens)"
  build/gemm_bench train 891
  echo; echo "## training, 2 threads"
  "$PYTHON" bench/train/transformer_vs_st.py --threads 2 --steps 40 --repeats 3 --profile
  echo; echo "## training, 1 thread"
  "$PYTHON" bench/train/transformer_vs_st.py --threads 1 --steps 20 --repeats 3
  echo "# done $(date -u); load: $(cat /proc/loadavg)"
} 2>&1 | tee "$log"
