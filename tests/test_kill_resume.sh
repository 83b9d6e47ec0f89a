#!/usr/bin/env bash
# tests/test_kill_resume.sh -- training survives being killed anywhere.
#
#   tests/test_kill_resume.sh SBERT_BIN [KILLS] [SEED]
#
# A StaticEmbedding run (bundled data, checkpoints every 2 steps,
# save_total_limit 2) is started KILLS times (default 20) and killed with
# SIGKILL after a pseudo-random delay each time, then resumed from its latest
# checkpoint (or restarted when none exists yet) until it finishes. After
# every kill:
#   - every checkpoint-N folder that exists is complete: it loads (sbert
#     encode runs on it) and holds its optimizer and trainer state;
# after the run is resumed:
#   - no *.tmp.* or *.deleting.* folder survives;
#   - at most save_total_limit checkpoints remain;
# and at the end the final model is bit-identical to an uninterrupted run's.
# Prints "N passed, N failed"; exit 1 on any failure. Writes only to a
# temporary directory.
set -u
bin=${1:?usage: test_kill_resume.sh SBERT_BIN [KILLS] [SEED]}
kills=${2:-20}
seed=${3:-7}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
tmp=$(mktemp -d /tmp/sbert-kill-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
check() { if eval "$1"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $2"; fi; }

common=(train "$root/recipes/static_embedding.yaml" --max_train_samples 4096 --max_eval_samples 100
        --per_device_train_batch_size 64 --embedding_dim 32 --num_train_epochs 3 --eval_steps 2
        --save_steps 2 --save_total_limit 2 --logging_steps 4 --log-dir "$tmp/logs" --num_threads 2)

# The uninterrupted run.
"$bin" "${common[@]}" --output_dir "$tmp/ref" > "$tmp/ref.log" 2>&1
check '[ $? -eq 0 ] && [ -f "$tmp/ref/final/model.safetensors" ]' "uninterrupted run"

out="$tmp/run"
RANDOM=$seed
killed=0
for k in $(seq 1 "$kills"); do
  resume=()
  if ls -d "$out"/checkpoint-* > /dev/null 2>&1; then resume=(--resume_from_checkpoint latest); fi
  "$bin" "${common[@]}" --output_dir "$out" "${resume[@]}" > "$tmp/k$k.log" 2>&1 &
  pid=$!
  # between 0.05 and 0.8 s: across start-up, training, checkpoint writes and rotation
  sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.3f", 0.05 + (r % 750) / 1000 }')"
  if kill -9 "$pid" 2>/dev/null; then killed=$((killed + 1)); fi
  wait "$pid" 2>/dev/null
  # Every checkpoint folder that exists is whole.
  for c in "$out"/checkpoint-*; do
    [ -d "$c" ] || continue
    case "$c" in *.tmp.*|*.deleting.*) continue ;; esac
    check '[ -f "$c/optimizer.safetensors" ] && [ -f "$c/trainer_state.json" ] && [ -f "$c/model.safetensors" ]' \
          "kill $k: $c is incomplete"
    echo "a probe sentence" | "$bin" encode --model "$c" --input - --output - > /dev/null 2>&1
    check '[ $? -eq 0 ]' "kill $k: $c does not load"
  done
  if [ -f "$out/final/model.safetensors" ]; then break; fi
done
echo "killed $killed times"
# Finish the run.
for attempt in 1 2 3; do
  [ -f "$out/final/model.safetensors" ] && break
  resume=()
  if ls -d "$out"/checkpoint-* > /dev/null 2>&1; then resume=(--resume_from_checkpoint latest); fi
  "$bin" "${common[@]}" --output_dir "$out" "${resume[@]}" > "$tmp/finish$attempt.log" 2>&1
done
check '[ -f "$out/final/model.safetensors" ]' "the resumed run finished"
stray=$(find "$out" -maxdepth 1 \( -name '*.tmp.*' -o -name '*.deleting.*' \) | wc -l)
check '[ "$stray" -eq 0 ]' "$stray temporary or half-deleted folders remain"
n_ck=$(find "$out" -maxdepth 1 -name 'checkpoint-*' | wc -l)
check '[ "$n_ck" -le 2 ]' "$n_ck checkpoints remain (save_total_limit 2)"
check 'cmp -s "$tmp/ref/final/model.safetensors" "$out/final/model.safetensors"' \
      "the killed-and-resumed run ends bit-identical to the uninterrupted one"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
