#!/usr/bin/env bash
# tools/demo_search.sh -- semantic search demo (`make demo-search`).
#
# Semantic search with the `sbert` tool alone: embed 1,000 real sentences
# (STS-B test split: image captions, forum posts, news; see
# bench/data/SOURCE.txt) with the real all-MiniLM-L6-v2 model, then, for 5
# queries, print the 3 closest sentences with their cosine similarity. Everything runs in C; Python is not used.
#
#   tools/demo_search.sh          uses build/sbert and models/all-MiniLM-L6-v2
#   SBERT_BIN=... tools/demo_search.sh   another sbert binary
#
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${SBERT_BIN:-$root/build/sbert}
model=${SBERT_MODEL:-$root/models/all-MiniLM-L6-v2}
corpus=$root/bench/data/stsb-test-sentences.txt

[ -x "$bin" ] || { echo "demo: $bin not found: run 'make' first" >&2; exit 1; }
[ -f "$model/model.safetensors" ] || "$root/tools/fetch_models.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/queries.txt" <<'Q'
A man is playing a guitar.
A cat is sleeping on a sofa.
Stock prices fell on Wall Street.
The police arrested a man after the attack.
How can I get better at writing?
Q

n=$(wc -l < "$corpus")
echo "== sbert demo: semantic search over $n STS-B sentences with all-MiniLM-L6-v2"
echo
echo "\$ sbert encode --model models/all-MiniLM-L6-v2 --input $(basename "$corpus") --output corpus.npy"
t0=$(date +%s.%N)
"$bin" encode --model "$model" --input "$corpus" --output "$tmp/corpus.npy" --batch-size 64
t1=$(date +%s.%N)
bytes=$(wc -c < "$tmp/corpus.npy")
awk -v n="$n" -v t0="$t0" -v t1="$t1" -v b="$bytes" 'BEGIN {
  printf "  wrote corpus.npy: %d x %d float32, %.1f s including model load (%.0f sentences/s)\n",
         n, (b - 128) / 4 / n, t1 - t0, n / (t1 - t0) }'
echo
echo "\$ sbert similarity --model models/all-MiniLM-L6-v2 --input queries.txt --input2 $(basename "$corpus")"
"$bin" similarity --model "$model" --input "$tmp/queries.txt" --input2 "$corpus" \
  --batch-size 64 > "$tmp/scores.txt"
echo "  [5 x $n] cosine similarity matrix; the 3 best per query:"

awk 'FILENAME == ARGV[1] { q[FNR] = $0; next }
     FILENAME == ARGV[2] { c[FNR] = $0; next }
     {
       b1 = b2 = b3 = -1e30; i1 = i2 = i3 = 0
       for (j = 1; j <= NF; j++) {
         v = $j + 0
         if (v > b1)      { b3 = b2; i3 = i2; b2 = b1; i2 = i1; b1 = v; i1 = j }
         else if (v > b2) { b3 = b2; i3 = i2; b2 = v; i2 = j }
         else if (v > b3) { b3 = v; i3 = j }
       }
       printf "\nquery: %s\n", q[FNR]
       printf "  %.4f  %s\n  %.4f  %s\n  %.4f  %s\n", b1, c[i1], b2, c[i2], b3, c[i3]
     }' "$tmp/queries.txt" "$corpus" "$tmp/scores.txt"
