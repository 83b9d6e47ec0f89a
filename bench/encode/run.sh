#!/usr/bin/env bash
# bench/encode/run.sh -- sbert vs ONNX Runtime vs sentence-transformers on
# this machine (`make bench`). Builds the bench_encode driver and gemm_bench
# against the Release library in build/ (or $SBERT_BUILD), then runs
# bench.py, which prints the environment and the tables (median and spread
# of alternated runs, p50/p99 at batch 1, ratios).
#
#   bench/encode/run.sh [bench.py options]   e.g. --repeats 5 --threads-list 1,2
#
# Python: $PYTHON (default python3) with torch, sentence-transformers,
# tokenizers, onnxruntime, onnx and onnxscript (not installed in CI: this is
# never part of `make test`); models/all-MiniLM-L6-v2 (tools/fetch_models.sh).
# The 1,000 sentences are bench/data/stsb-test-sentences.txt; the tokenizer
# rows read STS-B from ../shared/data.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${SBERT_BUILD:-$root/build}
cd "$root"

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c "import torch, sentence_transformers, tokenizers, onnxruntime, onnx, onnxscript" 2>/dev/null; then
  echo "bench: needs $PYTHON with torch, sentence-transformers, tokenizers, onnxruntime, onnx and" >&2
  echo "       onnxscript (pip install torch sentence-transformers onnxruntime onnx onnxscript," >&2
  echo "       or PYTHON=/path/to/venv/bin/python); nothing was measured" >&2
  exit 1
fi
if [ ! -f "$build/libsbert.a" ] || [ ! -x "$build/sbert" ]; then
  echo "bench: $build/libsbert.a or $build/sbert missing: run 'make' first" >&2
  exit 1
fi
./tools/fetch_models.sh

# The driver links the static library plus what it depends on.
cc -std=c11 -O2 -D_GNU_SOURCE -I"$root/include" "$root/bench/encode/bench_encode.c" \
   "$build/libsbert.a" $(pkg-config --libs openblas libcjson libutf8proc libpcre2-8 zlib) \
   $(sed -n 's/^Libs.private: //p' "$build/sbert.pc") \
   -lpthread -lm -o "$build/bench_encode"
cc -std=c11 -O2 -D_GNU_SOURCE -I"$root/include" -I"$root/src" "$root/bench/encode/gemm_bench.c" \
   "$build/libsbert.a" $(pkg-config --libs openblas libcjson libutf8proc libpcre2-8 zlib) \
   -lpthread -lm -o "$build/gemm_bench"

exec "$PYTHON" "$root/bench/encode/bench.py" --driver "$build/bench_encode" \
  --sbert "$build/sbert" --model "$root/models/all-MiniLM-L6-v2" \
  --data "${SBERT_DATA:-$root/../shared/data}" "$@"
