#!/usr/bin/env bash
# bench/bf16/run.sh -- bf16 encode, sbert vs sentence-transformers with torch
# bf16 (model_kwargs={"torch_dtype": torch.bfloat16}), on this machine.
#
#   bench/bf16/run.sh [bench.py options]   e.g. --repeats 5 --out bench/bf16/RESULTS.md
#
# Needs torch + sentence-transformers (never part of CI), build/ (make) and
# models/all-MiniLM-L6-v2 (tools/fetch_models.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${SBERT_BUILD:-$root/build}
cd "$root"
py=${PYTHON:-python3}
if ! "$py" -c "import torch, sentence_transformers" 2>/dev/null; then
  echo "bench: needs python with torch and sentence-transformers (PYTHON=...); nothing was measured" >&2
  exit 1
fi
[ -f "$build/libsbert.a" ] && [ -f "$build/sbert.pc" ] || { echo "bench: run 'make' first" >&2; exit 1; }
./tools/fetch_models.sh
# libsbert.a plus what it depends on (oneDNN when the build has it: sbert.pc's Libs.private)
cc -std=c11 -O2 -D_GNU_SOURCE -I"$root/include" "$root/bench/bf16/bench_bf16.c" "$build/libsbert.a" \
   $(pkg-config --libs openblas libcjson libutf8proc libpcre2-8 zlib) \
   $(sed -n 's/^Libs.private: //p' "$build/sbert.pc") -lpthread -lm -o "$build/bench_bf16"
exec "$py" "$root/bench/bf16/bench.py" --driver "$build/bench_bf16" "$@"
