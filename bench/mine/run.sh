#!/usr/bin/env bash
# bench/mine/run.sh -- hard-negative mining, sbert vs sentence-transformers'
# mine_hard_negatives on the same embeddings (see bench.py). Builds the
# bench_mine driver against build/libsbert.a (or $SBERT_BUILD).
#
#   bench/mine/run.sh [--sizes 10000,100000] [--threads 2] [--extrapolate 300000]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${SBERT_BUILD:-$root/build}
py=${PYTHON:-python3}
if ! "$py" -c "import torch, sentence_transformers, datasets" 2>/dev/null; then
  echo "bench: needs python with torch, sentence-transformers and datasets (set PYTHON=...)" >&2
  exit 1
fi
if [ ! -f "$build/libsbert.a" ]; then
  echo "bench: $build/libsbert.a missing: run 'make' first" >&2
  exit 1
fi
cc -std=c11 -O2 -D_GNU_SOURCE -I"$root/include" -I"$root/src" "$root/bench/mine/bench_mine.c" \
   "$build/libsbert.a" $(pkg-config --libs openblas libcjson libutf8proc libpcre2-8 zlib) \
   $(sed -n 's/^Libs.private: //p' "$build/sbert.pc") \
   -lpthread -lm -o "$build/bench_mine"
exec "$py" "$root/bench/mine/bench.py" --driver "$build/bench_mine" "$@"
