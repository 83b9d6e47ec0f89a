#!/usr/bin/env bash
# tools/probe_replay.sh [SBERT_BIN] -- replay the probe cases of issue 12
# ("Nothing silently ignored, nothing half-deleted") against the sbert tool.
#
# Each case is one function named case_<issue item>_<what>; they run in name
# order. A case builds its inputs under $T (a private mktemp directory,
# removed at exit), runs the tool with `run ARGS...`, then states what must
# hold with `expect CODE NEEDLE...`: the exit code (a number, or "nonfatal"
# for any code below 128), and strings the standard error must contain.
# Every expect also fails on a crash (exit >= 128: a signal), a sanitizer
# report ("runtime error", "AddressSanitizer", "LeakSanitizer") or a
# "Segmentation fault". To add a case (the trainer ones, say), append one
# function; nothing else needs to change.
#
# SBERT_BIN defaults to build/sbert. Models and data come from the repository
# (tests/data, data/), so the run needs no download; everything it writes goes
# to $T. Prints "ok"/"FAIL" per case and ends with "N passed, N failed"; the
# exit status is 0 only when every case passed. CTest runs it as probe_replay.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$ROOT/build/sbert}
case $BIN in /*) ;; *) BIN=$PWD/$BIN ;; esac
if [ ! -x "$BIN" ]; then
  echo "probe_replay: $BIN is not an executable (build it, or pass the sbert binary)" >&2
  exit 2
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/sbert_probe_XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$ROOT" || exit 2
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

TINY=$ROOT/tests/data/models/tiny-bert
PASSED=0
FAILED=0
CASE=""
RC=0

# run ARGS... -- the tool with ARGS; stdout/stderr in $T/out, $T/err; $RC.
run() {
  "$BIN" "$@" >"$T/out" 2>"$T/err" </dev/null
  RC=$?
}
# run_sh SHELL-COMMAND -- the same through sh (redirections, ulimit); "$BIN" is $0's $1.
run_sh() {
  sh -c "$1" probe "$BIN" >"$T/out" 2>"$T/err" </dev/null
  RC=$?
}

# expect CODE [NEEDLE...] -- CODE: an exit code, or "nonfatal" (< 128).
expect() {
  local want=$1 why=""
  shift
  if [ "$RC" -ge 128 ]; then
    why="crashed (exit $RC, signal $((RC - 128)))"
  elif [ "$want" = nonfatal ]; then
    :
  elif [ "$RC" != "$want" ]; then
    why="exit $RC, want $want"
  fi
  if [ -z "$why" ] && grep -qE 'runtime error|AddressSanitizer|LeakSanitizer|Segmentation fault' "$T/err"; then
    why="sanitizer report or crash message on stderr"
  fi
  local n
  for n in "$@"; do
    [ -n "$why" ] && break
    grep -qF -- "$n" "$T/err" || why="stderr lacks '$n'"
  done
  if [ -z "$why" ]; then
    return 0
  fi
  echo "FAIL $CASE: $why"
  sed -n '1,6s/^/    | /p' "$T/err"
  return 1
}

# expect_file PATH -- PATH must exist (and be non-empty).
expect_file() {
  [ -s "$1" ] && return 0
  echo "FAIL $CASE: $1 was not written"
  return 1
}

# A copy of the tiny BERT (plain Hugging Face directory) under $T/NAME with
# config.json's KEY set to the JSON text VALUE: tiny_with NAME KEY VALUE.
tiny_with() {
  local dir=$T/$1
  mkdir -p "$dir"
  cp "$TINY"/tokenizer.json "$TINY"/tokenizer_config.json "$dir"/
  ln -sf "$TINY/model.safetensors" "$dir/model.safetensors"
  sed -E "s/(\"$2\": )[^,]*(,?)$/\1$3\2/" "$TINY/config.json" >"$dir/config.json"
  grep -q "\"$2\": $3,\?$" "$dir/config.json" || { echo "probe_replay: cannot set $2 in config.json" >&2; return 1; }
  echo "$dir"
}

printf 'A plane is taking off.\nA man is playing a flute.\n' >"$T/a.txt"
printf 'An air plane is taking off.\nA cat.\nA dog.\n' >"$T/b.txt"
head -40 data/stsb-train.jsonl >"$T/train.jsonl"
head -20 data/stsb-dev.jsonl >"$T/dev.jsonl"

# ------------------------------------------------------------- item 1

# A JSONL row with other keys than the first row: exit 1 naming file, line
# and keys (it used to read a deleted object: exit 139).
case_i01_jsonl_keys_train() {
  { head -2 "$T/train.jsonl"
    echo '{"sentence1": "a", "sentence2": "b", "score": 0.5, "label": 1}'
  } >"$T/bad-train.jsonl"
  run train --model "$TINY" --train_data "$T/bad-train.jsonl" --eval_data "$T/dev.jsonl" \
    --loss CoSENTLoss --max_steps 1 --output_dir "$T/o1" --log-dir "$T/logs" --num_threads 1
  expect 1 "bad-train.jsonl:3" "unexpected 'label'"
}

case_i01_jsonl_keys_evaluate() {
  { head -2 "$T/dev.jsonl"
    echo '{"sentence1": "a", "sentence2": "b"}'
  } >"$T/bad-dev.jsonl"
  run evaluate --model "$TINY" --data "$T/bad-dev.jsonl"
  expect 1 "bad-dev.jsonl:3" "missing 'score'"
}

# ------------------------------------------------------------- item 2

# Absurd sizes in config.json: refused naming the file and the key, before
# any size product overflows.
config_case() { # KEY VALUE
  local d
  d=$(tiny_with "cfg-$1-$2" "$1" "$2") || return 1
  run encode --model "$d" --input "$T/a.txt" --output "$T/cfg.npy"
  expect 1 "config.json" "\"$1\"" "larger than" && [ ! -e "$T/cfg.npy" ]
}
case_i02_config_hidden_2pow61() { config_case hidden_size 2305843009213693952; }
case_i02_config_hidden_1e9() { config_case hidden_size 1000000000; }
case_i02_config_positions_4e12() { config_case max_position_embeddings 4000000000000; }
case_i02_config_vocab_1e30() { config_case vocab_size 1e30; }

# ------------------------------------------------------------- item 3

# --learning_rate 1e9 on a tiny transformer: NaN reaches the GELU backward
# (sbert_exp_nonpos shifted a negative value: UBSan). Must end cleanly.
case_i03_learning_rate_1e9() {
  run train --model "$TINY" --train_data "$T/train.jsonl" --eval_data "$T/dev.jsonl" \
    --loss CoSENTLoss --learning_rate 1e9 --max_steps 3 --per_device_train_batch_size 8 \
    --output_dir "$T/o3" --log-dir "$T/logs" --num_threads 1
  expect nonfatal
}

# ------------------------------------------------------------- item 12

# Invalid UTF-8 on line 4100 (past the first 4,096-line chunk): the real
# line and file are named (it said "text 3").
make_big() {
  [ -f "$T/big.txt" ] && return 0
  awk 'BEGIN { for (i = 1; i <= 4105; i++) if (i == 4100) printf "broken \303\050 here\n"; else printf "line %d\n", i }' >"$T/big.txt"
}
case_i12_utf8_line_4100_encode() {
  make_big
  run encode --model "$TINY" --input "$T/big.txt" --output "$T/big.npy"
  expect 1 "big.txt:4100:" "not valid UTF-8" && [ ! -e "$T/big.npy" ]
}
case_i12_utf8_line_4100_similarity() {
  make_big
  run similarity --model "$TINY" --input "$T/a.txt" --input2 "$T/big.txt"
  expect 1 "big.txt:4100:" "not valid UTF-8"
}

# ------------------------------------------------------------- item 13

# (a) a folder or a symlink loop in place of model.safetensors
case_i13a_safetensors_is_a_directory() {
  local d=$T/m-dir
  mkdir -p "$d/model.safetensors"
  cp "$TINY"/config.json "$TINY"/tokenizer.json "$d"/
  run encode --model "$d" --input "$T/a.txt" --output "$T/x.npy"
  expect 1 "model.safetensors: is a directory, not a file"
}
case_i13a_safetensors_symlink_loop() {
  local d=$T/m-loop
  mkdir -p "$d"
  cp "$TINY"/config.json "$TINY"/tokenizer.json "$d"/
  ln -s "$d/loop.safetensors" "$d/model.safetensors"
  ln -s "$d/model.safetensors" "$d/loop.safetensors"
  run encode --model "$d" --input "$T/a.txt" --output "$T/x.npy"
  expect 1 "model.safetensors: is a symbolic link loop"
}

# (b) a write that fails mid-way says why: a file size limit stands in for
# a full disk; /dev/full for standard output
make_many() { awk 'BEGIN { for (i = 1; i <= 300; i++) printf "sentence %d\n", i }' >"$T/many.txt"; }
case_i13b_encode_file_size_limit() {
  make_many
  run_sh "trap '' XFSZ; ulimit -f 8; exec \"\$1\" encode --model '$TINY' --input '$T/many.txt' --output '$T/limited.npy'"
  expect 1 "cannot write '$T/limited.npy': File too large" && [ ! -e "$T/limited.npy" ]
}
case_i13b_encode_stdout_dev_full() {
  [ -w /dev/full ] || { echo "skip $CASE: no /dev/full"; return 0; }
  make_many # more than one stdio buffer, so a write fails inside the loop
  run_sh "exec \"\$1\" encode --model '$TINY' --input '$T/many.txt' --output - >/dev/full"
  expect 1 "cannot write to standard output: No space left on device"
}

# ------------------------------------------------------------- item 19

case_i19_similarity_output_npy() {
  run similarity --model "$TINY" --input "$T/a.txt" --input2 "$T/b.txt" --output "$T/sim.npy"
  expect 0 && expect_file "$T/sim.npy" || return 1
  head -c 128 "$T/sim.npy" | grep -q "'shape': (2, 3)" || { echo "FAIL $CASE: sim.npy is not a [2, 3] array"; return 1; }
}
case_i19_similarity_output_jsonl() {
  run similarity --model "$TINY" --input "$T/a.txt" --input2 "$T/b.txt" --output "$T/sim.jsonl"
  expect 0 && expect_file "$T/sim.jsonl" || return 1
  [ "$(wc -l <"$T/sim.jsonl")" -eq 2 ] || { echo "FAIL $CASE: sim.jsonl does not hold 2 rows"; return 1; }
}

# ------------------------------------------------------------- items 4-11, 14-16: the trainer

STATIC_ARGS="--model static --tokenizer $ROOT/data/bert-base-uncased-tokenizer.json --embedding_dim 16 --train_data $ROOT/data/allnli-triplets.jsonl --eval_data $T/dev.jsonl --loss MultipleNegativesRankingLoss --max_train_samples 256 --per_device_train_batch_size 32 --learning_rate 0.1 --logging_steps 1 --num_threads 1 --log-dir $T/logs"

# item 4: rotation renames before deleting -- only whole checkpoints remain.
case_i04_rotation() {
  run train $STATIC_ARGS --max_steps 8 --save_steps 2 --save_total_limit 2 --output_dir "$T/o4"
  expect 0 || return 1
  [ "$(ls -d "$T"/o4/checkpoint-* | wc -l)" -eq 2 ] && [ -f "$T/o4/checkpoint-8/optimizer.safetensors" ] ||
    { echo "FAIL $CASE: want checkpoint-6 and checkpoint-8, got: $(ls "$T/o4")"; return 1; }
}

# item 5: leftovers of killed runs are removed by the next run.
case_i05_leftovers_removed() {
  mkdir -p "$T/o5/checkpoint-2.tmp.999" "$T/o5/final.tmp.999" "$T/o5/best-model.tmp.9" "$T/o5/checkpoint-4.deleting.3"
  run train $STATIC_ARGS --max_steps 2 --save_strategy no --output_dir "$T/o5"
  expect 0 || return 1
  [ -z "$(find "$T/o5" -maxdepth 1 \( -name '*.tmp.*' -o -name '*.deleting.*' \))" ] ||
    { echo "FAIL $CASE: leftovers remain: $(ls "$T/o5")"; return 1; }
}

# item 6: a second run on a locked output_dir fails naming the holder.
case_i06_output_dir_locked() {
  mkdir -p "$T/o6"
  ( exec 9>"$T/o6/.sbert.lock"; flock -x 9; echo 4242 >&9; sleep 5 ) &
  local holder=$!
  sleep 0.5
  run train $STATIC_ARGS --max_steps 2 --output_dir "$T/o6"
  kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
  expect 1 "in use by another training run (pid 4242"
}

# item 7: resume validates trainer_state.json.
case_i07_resume_state_empty() {
  run train $STATIC_ARGS --max_steps 4 --save_steps 2 --output_dir "$T/o7"
  expect 0 || return 1
  echo '{}' >"$T/o7/checkpoint-4/trainer_state.json"
  run train $STATIC_ARGS --max_steps 6 --save_steps 2 --output_dir "$T/o7" --resume_from_checkpoint latest
  expect 1 "checkpoint-4/trainer_state.json" '"global_step" must be'
}
case_i07_resume_state_negative() {
  run train $STATIC_ARGS --max_steps 4 --save_steps 2 --output_dir "$T/o7b"
  expect 0 || return 1
  echo '{"global_step": -5, "epoch": 1e30}' >"$T/o7b/checkpoint-4/trainer_state.json"
  run train $STATIC_ARGS --max_steps 6 --save_steps 2 --output_dir "$T/o7b" --resume_from_checkpoint latest
  expect 1 "trainer_state.json" '"global_step" must be'
}

# item 8: the last scheduled evaluation runs (step 4 of 4), and every epoch.
case_i08_last_eval_step() {
  run train $STATIC_ARGS --max_steps 4 --eval_strategy steps --eval_steps 2 --save_steps 2 \
    --load_best_model_at_end true --output_dir "$T/o8"
  expect 0 || return 1
  local n
  n=$(sed -n '/^Baseline /,/^Evaluating the trained/p' "$T/out" | grep -c "'eval_spearman_cosine'")
  [ "$n" -eq 2 ] || { echo "FAIL $CASE: $n evaluations during training, want 2 (steps 2 and 4)"; return 1; }
}
case_i08_every_epoch() {
  run train $STATIC_ARGS --max_train_samples 64 --num_train_epochs 2 --eval_strategy epoch --output_dir "$T/o8b"
  expect 0 || return 1
  local n
  n=$(sed -n '/^Baseline /,/^Evaluating the trained/p' "$T/out" | grep -c "'eval_spearman_cosine'")
  [ "$n" -eq 2 ] || { echo "FAIL $CASE: $n evaluations, want 2 (one per epoch)"; return 1; }
}

# item 9: keys accepted and never read are now read or refused.
# (model_type CrossEncoder now trains a CrossEncoder; with a static model it says why not)
case_i09_model_type_crossencoder() {
  run train $STATIC_ARGS --max_steps 1 --model_type CrossEncoder --output_dir "$T/o9"
  expect 2 "model_type CrossEncoder needs an encoder directory"
}
case_i09_matryoshka_dims() {
  run train $STATIC_ARGS --max_steps 1 --matryoshka_dims 16,8 --output_dir "$T/o9"
  expect 2 "MatryoshkaLoss(MultipleNegativesRankingLoss)"
}
case_i09_test_data_missing() {
  run train $STATIC_ARGS --max_steps 1 --test_data /does/not/exist.jsonl --output_dir "$T/o9"
  expect 1 "/does/not/exist.jsonl"
}
case_i09_hub_model_id_without_push() {
  run train $STATIC_ARGS --max_steps 1 --hub_model_id me/x --output_dir "$T/o9"
  expect 2 "hub_model_id"
}

# item 10: ranges are checked, naming the key.
case_i10_warmup_ratio_5() {
  run train $STATIC_ARGS --max_steps 1 --warmup_ratio 5 --output_dir "$T/o10"
  expect 2 "warmup_ratio must be in [0, 1]"
}
case_i10_max_seq_length_negative() {
  run train --model "$TINY" --train_data "$T/train.jsonl" --eval_data "$T/dev.jsonl" --loss CoSENTLoss \
    --max_steps 1 --max_seq_length -7 --output_dir "$T/o10" --log-dir "$T/logs"
  expect 2 "max_seq_length must be in"
}
case_i10_epochs_1e300() {
  run train $STATIC_ARGS --num_train_epochs 1e300 --output_dir "$T/o10"
  expect 2 "num_train_epochs must be in"
}

# item 11: a smoke run is saved apart and marked.
case_i11_smoke_apart() {
  run_sh "SMOKE_TEST=1 exec \"\$1\" train $STATIC_ARGS --output_dir '$T/o11'"
  expect 0 || return 1
  [ -d "$T/o11/final-smoke" ] && [ ! -e "$T/o11/final" ] && grep -q '| yes |' "$T/logs/experiments.md" ||
    { echo "FAIL $CASE: smoke model not in final-smoke or not marked in experiments.md"; return 1; }
}

# item 14: HF arguments users type: honoured, documented no-op, or refused saying so.
case_i14_bf16_true() {
  # bf16 applies to a transformer encoder's linear layers: a StaticEmbedding model refuses it
  run train $STATIC_ARGS --max_steps 1 --bf16 true --output_dir "$T/o14"
  expect 1 "bf16" "has no transformer encoder"
}
case_i14_report_to_other_integration() {
  run train $STATIC_ARGS --max_steps 1 --report_to wandb --output_dir "$T/o14"
  expect 1 "report_to = 'wandb'" "sbert reports to: tensorboard"
}
case_i14_noop_and_same_values() {
  run train $STATIC_ARGS --max_steps 1 --dataloader_num_workers 4 --bf16 false --gradient_checkpointing false \
    --logging_first_step true --output_dir "$T/o14b"
  expect 0
}
case_i14_loss_of_another_kind() {
  run train $STATIC_ARGS --max_steps 1 --loss BinaryCrossEntropyLoss --output_dir "$T/o14"
  expect 1 "BinaryCrossEntropyLoss is a CrossEncoder loss"
}

# item 15: usage errors exit 2 and print once.
case_i15_unknown_key_exit2_once() {
  run train $STATIC_ARGS --lerning_rate 0.1 --output_dir "$T/o15"
  expect 2 "did you mean 'learning_rate'" || return 1
  [ "$(grep -c "lerning_rate" "$T/err")" -eq 1 ] && ! grep -q "lerning_rate" "$T/out" ||
    { echo "FAIL $CASE: the error is printed more than once"; return 1; }
}

# item 16: --help lists the keys with defaults, the losses and evaluators.
case_i16_train_help() {
  run train --help
  expect 0 || return 1
  grep -q "learning_rate.*\[5e-5\]" "$T/out" && grep -q "TripletLoss" "$T/out" && grep -q "TripletEvaluator" "$T/out" ||
    { echo "FAIL $CASE: sbert train --help lacks the key table, losses or evaluators"; return 1; }
}

# items 18 and 21: report_to tensorboard, sbert plot, the model card.
case_i18_report_to_tensorboard() {
  run train $STATIC_ARGS --max_steps 2 --report_to tensorboard --output_dir "$T/o18"
  expect 0 || return 1
  local f
  f=$(ls "$T"/o18/runs/*/events.out.tfevents.* 2>/dev/null | head -n 1)
  expect_file "${f:-$T/o18/runs/(no event file)}"
}
case_i18_plot_and_card_curves() {
  run train $STATIC_ARGS --max_steps 2 --output_dir "$T/o18p"
  expect 0 || return 1
  expect_file "$T/o18p/final/training_curves.svg" || return 1
  grep -q "training_curves.svg" "$T/o18p/final/README.md" || { echo "FAIL $CASE: the card does not show the curves"; return 1; }
  run plot --input "$T/o18p/final" --output "$T/o18p/curves.svg"
  expect 0 && expect_file "$T/o18p/curves.svg"
}
case_i21_model_card_front_matter() {
  run train $STATIC_ARGS --max_steps 1 --output_dir "$T/o21"
  expect 0 || return 1
  local card=$T/o21/final/README.md k
  head -n 1 "$card" | grep -qx -- "---" || { echo "FAIL $CASE: no YAML front matter"; return 1; }
  for k in "library_name: sentence-transformers" "pipeline_tag: sentence-similarity" "- loss:" "- dataset_size:" \
           "model-index:" "- sbert: "; do
    grep -qF -- "$k" "$card" || { echo "FAIL $CASE: '$k' missing from the model card"; return 1; }
  done
  ! grep -qE "PyTorch: [0-9]|Transformers: [0-9]" "$card" || { echo "FAIL $CASE: a fake framework version"; return 1; }
}

# item 17: a progress bar with ETA on a terminal, plain log lines otherwise.
case_i17_progress_bar_on_a_tty() {
  command -v script >/dev/null || { echo "FAIL $CASE: needs script(1) (util-linux) to give the run a terminal"; return 1; }
  run_sh "script -qec \"'\$1' train $STATIC_ARGS --max_steps 4 --output_dir '$T/o17'\" /dev/null"
  expect 0 || return 1
  grep -q "4/4 steps" "$T/out" && grep -q "ETA" "$T/out" && grep -q "samples/s" "$T/out" ||
    { echo "FAIL $CASE: no progress bar with steps, samples/s and ETA on the terminal"; return 1; }
}
case_i17_plain_lines_off_a_tty() {
  run train $STATIC_ARGS --max_steps 4 --output_dir "$T/o17b"
  expect 0 || return 1
  ! grep -q "ETA" "$T/err" && grep -q "'loss': " "$T/out" ||
    { echo "FAIL $CASE: a progress bar written to a file, or no plain log lines"; return 1; }
}

# item 20: model ids through the Hugging Face cache layout, with a revision.
case_i20_hf_cache_model_id() {
  run_sh "HF_HUB_CACHE='$ROOT/tests/data/hf_cache/hub' exec \"\$1\" encode --model sbert-tests/micro-bert --input '$T/a.txt' --output '$T/e20.jsonl'"
  expect 0 && expect_file "$T/e20.jsonl" || return 1
  run_sh "HF_HUB_CACHE='$ROOT/tests/data/hf_cache/hub' exec \"\$1\" encode --model sbert-tests/micro-bert --revision v1 --input '$T/a.txt' --output '$T/e20v1.jsonl'"
  expect 0 && expect_file "$T/e20v1.jsonl" || return 1
  ! cmp -s "$T/e20.jsonl" "$T/e20v1.jsonl" || { echo "FAIL $CASE: revision v1 gave the main revision's embeddings"; return 1; }
}
case_i20_hf_cache_id_missing() {
  run_sh "HF_HUB_CACHE='$T/empty-cache' exec \"\$1\" encode --model sbert-tests/nope --input '$T/a.txt' --output '$T/e20m.jsonl'"
  expect 1 "'sbert-tests/nope'" "$T/empty-cache/models--sbert-tests--nope/refs/main"
}

# ------------------------------------------------------------- run them

for CASE in $(declare -F | awk '{print $3}' | grep '^case_' | sort); do
  if "$CASE"; then
    PASSED=$((PASSED + 1))
    echo "ok   $CASE"
  else
    FAILED=$((FAILED + 1))
  fi
done
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
