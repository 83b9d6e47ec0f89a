#!/usr/bin/env bash
# tools/demo.sh -- the main job on the bundled default (`make demo`).
#
# Trains a StaticEmbedding model from scratch with the skill's
# static_embedding recipe (recipes/static_embedding.yaml): bert-base-uncased
# tokenizer, 256 dimensions, MultipleNegativesRankingLoss on AllNLI triplets
# built from SNLI, evaluated on STS-B dev. The run evaluates the random
# baseline first, trains, restores the best checkpoint, saves the model to
# output/static-allnli/final (loadable by Python's SentenceTransformer), tees
# its log to logs/static-allnli.log and ends with the VERDICT line.
#
#   tools/demo.sh [--key value ...]      overrides any recipe key
#   SMOKE_TEST=1 tools/demo.sh           one step on a tiny slice
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${SBERT_BIN:-$root/build/sbert}
[ -x "$bin" ] || { echo "demo: $bin not found: run 'make' first" >&2; exit 1; }
cd "$root"
exec "$bin" train recipes/static_embedding.yaml "$@"
