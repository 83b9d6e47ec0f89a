#!/usr/bin/env bash
# bench/train/lora_memory.sh -- peak memory of LoRA training against full
# fine-tuning, same model, data, batch and steps (sbert train, recipes/with_lora.yaml
# with and without lora_r). Peak RSS from /usr/bin/time -v; the trainable
# share from the run log. Memory does not depend on the machine's load.
#
#   bench/train/lora_memory.sh [STEPS] [BATCH]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
sbert=${SBERT:-$root/build/sbert}
steps=${1:-3}
batch=${2:-64}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# the same recipe without its LoRA keys, for the full fine-tuning run
grep -v '^lora_' "$root/recipes/with_lora.yaml" > "$tmp/full.yaml"
cp "$root/recipes/with_lora.yaml" "$tmp/lora.yaml"
run() { # name, recipe, extra args...
  local name=$1 recipe=$2; shift 2
  /usr/bin/time -v "$sbert" train "$recipe" --max_steps "$steps" \
    --per_device_train_batch_size "$batch" --eval_strategy no \
    --save_strategy no --load_best_model_at_end false --output_dir "$tmp/$name" --log-dir "$tmp/logs" \
    "$@" > "$tmp/$name.out" 2> "$tmp/$name.time" || { echo "$name: failed"; tail -3 "$tmp/$name.out"; return 1; }
  local rss trainable
  rss=$(awk '/Maximum resident set size/ {print $6}' "$tmp/$name.time")
  trainable=$(grep -o '[0-9]* parameters, [0-9]* trainable ([0-9.]*%)' "$tmp/$name.out" | head -1)
  printf '%-26s peak RSS %7.0f MiB   %s\n' "$name" "$(echo "$rss / 1024" | bc -l)" "$trainable"
}
echo "all-MiniLM-L6-v2, CachedMNRL (mini-batch 32), batch $batch, $steps steps, $(nproc) threads"
run "full fine-tuning" "$tmp/full.yaml"
run "LoRA r 64 (query,value)" "$tmp/lora.yaml" --lora_r 64 --lora_merge false
run "LoRA r 8 (query,value)" "$tmp/lora.yaml" --lora_r 8 --lora_merge false
