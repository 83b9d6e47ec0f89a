#!/usr/bin/env bash
# bench/encode/run.sh -- sbert vs sentence-transformers on this machine
# (`make bench`). Builds the bench_encode driver against the Release library
# in build/ (or $SBERT_BUILD), then runs bench.py, which prints the
# environment and a table of throughput, peak RSS and sbert/ST ratios.
#
#   bench/encode/run.sh [bench.py options]   e.g. --threads 2 --repeats 3
#
# Needs torch, sentence-transformers and tokenizers (not installed in CI:
# this is never part of `make test`), and models/all-MiniLM-L6-v2
# (tools/fetch_models.sh). STS-B sentences are read from ../shared/data.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${SBERT_BUILD:-$root/build}
cd "$root"

if ! python3 -c "import torch, sentence_transformers, tokenizers" 2>/dev/null; then
  echo "bench: needs python3 with torch, sentence-transformers and tokenizers" >&2
  echo "       (pip install torch sentence-transformers); nothing was measured" >&2
  exit 1
fi
if [ ! -f "$build/libsbert.a" ] || [ ! -x "$build/sbert" ]; then
  echo "bench: $build/libsbert.a or $build/sbert missing: run 'make' first" >&2
  exit 1
fi
./tools/fetch_models.sh

# The driver links the static library plus what it depends on.
cc -std=c11 -O2 -D_GNU_SOURCE -I"$root/include" "$root/bench/encode/bench_encode.c" \
   "$build/libsbert.a" $(pkg-config --libs openblas libcjson libutf8proc libpcre2-8) \
   $(sed -n 's/^Libs.private: //p' "$build/sbert.pc") \
   -lpthread -lm -o "$build/bench_encode"

exec python3 "$root/bench/encode/bench.py" --driver "$build/bench_encode" \
  --sbert "$build/sbert" --model "$root/models/all-MiniLM-L6-v2" \
  --data "${SBERT_DATA:-$root/../shared/data}" "$@"
