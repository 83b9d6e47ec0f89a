#!/usr/bin/env bash
# fuzz/run.sh BUILD_DIR [NAME...] -- run every libFuzzer target built in
# BUILD_DIR, or only the named ones (e.g. fuzz_dataset fuzz_recipe).
#
# Targets: fuzz_npy, fuzz_safetensors, fuzz_tokenizer_json, fuzz_precompiled
# (file formats in memory), fuzz_dataset (JSONL/CSV/TSV[.gz] through the
# dataset loader), fuzz_recipe (recipe files + overrides), fuzz_model_dir
# (config.json, modules.json and the sentence-transformers configs of a model
# directory through sbert_model_load).
#
# Each fuzz_<name> binary runs for FUZZ_SECONDS (default 60) seconds, starting
# from the committed seeds in fuzz/corpus/fuzz_<name>/ (with the dictionary
# fuzz/fuzz_<name>.dict when there is one) and growing a working
# corpus in fuzz/corpus-fuzz_<name>/ (gitignored; kept between runs). Crash,
# leak and timeout reproducers land in fuzz/corpus-artifacts/ (gitignored too);
# with each target's log (<name>.log); replay one with:
#   BUILD_DIR/fuzz_<name> fuzz/corpus-artifacts/<file>
# Exit status: 0 when every target ran clean, 1 otherwise; a summary line per
# target reports executions and the outcome.
#
# Environment: FUZZ_SECONDS (default 60 per target; targets run one after another),
# FUZZ_FLAGS (extra libFuzzer flags, e.g. "-max_len=65536").
set -u
BUILD=${1:?usage: fuzz/run.sh BUILD_DIR [NAME...]}
shift
SECONDS_PER=${FUZZ_SECONDS:-60}
HERE=$(cd "$(dirname "$0")" && pwd)
ART="$HERE/corpus-artifacts"
mkdir -p "$ART"

shopt -s nullglob
if [ $# -gt 0 ]; then
  targets=()
  for n in "$@"; do targets+=("$BUILD/$n"); done
else
  targets=("$BUILD"/fuzz_*)
fi
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz/run.sh: no fuzz_* binaries in $BUILD (configure with CC=clang -DSBERT_FUZZ=ON)" >&2
  exit 1
fi

status=0
for bin in "${targets[@]}"; do
  [ -x "$bin" ] && [ -f "$bin" ] || continue
  name=$(basename "$bin")
  work="$HERE/corpus-$name"
  seeds="$HERE/corpus/$name"
  mkdir -p "$work"
  log="$ART/$name.log"
  dict=()
  [ -f "$HERE/$name.dict" ] && dict=(-dict="$HERE/$name.dict")
  dirs=("$work")
  [ -d "$seeds" ] && dirs+=("$seeds")
  echo "== $name: ${SECONDS_PER}s, corpus $work${seeds:+ + seeds}"
  # shellcheck disable=SC2086
  "$bin" -max_total_time="$SECONDS_PER" -print_final_stats=1 -artifact_prefix="$ART/$name-" \
    -rss_limit_mb=2048 -timeout=10 "${dict[@]}" ${FUZZ_FLAGS:-} "${dirs[@]}" >"$log" 2>&1
  rc=$?
  execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
  if [ $rc -eq 0 ]; then
    echo "   ok: ${execs:-?} executions, corpus $(ls "$work" | wc -l) files"
  else
    status=1
    echo "   FAILED (exit $rc) after ${execs:-?} executions; log: $log" >&2
    grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -5 >&2
  fi
done
exit $status
