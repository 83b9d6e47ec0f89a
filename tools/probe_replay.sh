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
