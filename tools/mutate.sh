#!/usr/bin/env bash
# tools/mutate.sh -- plant small bugs one at a time and report which tests
# catch each (a mutation check of the test suite). Every mutation on the list
# must be caught by at least one test; the script exits 1 otherwise.
#
#   tools/mutate.sh [NAME ...]        all mutations, or the named ones
#
# Each mutation is one sed expression on one source file, applied to a copy
# of the working tree (nothing here is modified); the copy is built in
# Release and the whole CTest suite runs (about 1-2 minutes per mutation on
# 2 cores). Needs what `make test` needs (models/ is linked into the copy).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

# name @@ file @@ sed expression @@ what it plants
MUTATIONS=(
  "adam-epsilon@@src/training/train_args.c@@s/{\"adam_epsilon\", K_NUM, \"1e-8\"/{\"adam_epsilon\", K_NUM, \"1e-6\"/@@AdamW epsilon default 1e-8 -> 1e-6"
  "adam-beta2@@src/training/train_args.c@@s/{\"adam_beta2\", K_NUM, \"0.999\"/{\"adam_beta2\", K_NUM, \"0.99\"/@@AdamW beta2 default 0.999 -> 0.99"
  "schedule-off-by-one@@src/training/trainer.c@@s/sbert_lr_lambda(t->sched, t->global_step, t->warmup/sbert_lr_lambda(t->sched, t->global_step + 1, t->warmup/@@learning-rate schedule evaluated at step+1"
  "warmup-rounding@@src/training/optim.c@@s/return (int64_t)ceil((double)total_steps \* warmup);/return (int64_t)floor((double)total_steps * warmup);/@@warmup fraction rounded down instead of up"
  "accumulation-window@@src/training/trainer.c@@s/nb, 1.0 \/ (double)window, &loss/nb, 1.0 \/ (double)a->accum, \&loss/@@a short last accumulation window divided by gradient_accumulation_steps"
  "clip-eps@@src/training/optimizer.c@@s/double coef = max_grad_norm \/ (norm + 1e-6);/double coef = max_grad_norm \/ (norm + 1e-2);/@@clipping coefficient max_norm / (norm + 1e-2)"
  "decay-on-bias@@src/modules/params.c@@s/return !(strstr(low, \"bias\") || /return !(/@@weight decay applied to biases"
  "layernorm-eps@@src/modules/transformer.c@@s/\"layer_norm_eps\", 1e-12, 0.0, 1.0, \&t->eps/\"layer_norm_eps_ignored\", 1e-5, 0.0, 1.0, \&t->eps/@@LayerNorm eps 1e-5 whatever config.json says"
  "cosent-grad-sign@@src/losses/cosent.c@@s/ds\[j\] -= w;/ds[j] += w;/@@CoSENTLoss gradient of the larger-label side with the wrong sign"
  "triplet-grad-sign@@src/losses/triplet.c@@s/gy\[k\] -= (float)(g \* dd);/gy[k] += (float)(g * dd);/@@TripletLoss gradient of the positive/negative with the wrong sign"
  "sampler-reshuffle@@src/data/sampler.c@@s/sbert_rng_seed(\&rng, seed + epoch);/sbert_rng_seed(\&rng, seed);/@@the same batch order every epoch (no reshuffle)"
)

want=("$@")
total=0; caught=0; missed=()
tmp=$(mktemp -d /tmp/sbert-mutate-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
printf '%-22s %-8s %s\n' "mutation" "caught" "tests that fail"
for m in "${MUTATIONS[@]}"; do
  name=${m%%@@*}; rest=${m#*@@}; file=${rest%%@@*}; rest=${rest#*@@}; expr=${rest%%@@*}; what=${rest#*@@}
  if [ ${#want[@]} -gt 0 ] && [[ ! " ${want[*]} " =~ " $name " ]]; then continue; fi
  total=$((total + 1))
  src="$tmp/src-$name"
  rm -rf "$src"
  (cd "$root" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - 2>/dev/null) |
    (mkdir -p "$src" && cd "$src" && tar -xf -)
  ln -s "$root/models" "$src/models"
  before=$(md5sum "$src/$file" | cut -d' ' -f1)
  sed -i "$expr" "$src/$file"
  after=$(md5sum "$src/$file" | cut -d' ' -f1)
  if [ "$before" = "$after" ]; then
    printf '%-22s %-8s %s\n' "$name" "ERROR" "the sed expression changed nothing in $file (update tools/mutate.sh)"
    missed+=("$name"); continue
  fi
  if ! (cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=Release >/dev/null && \
        cmake --build "$src/build" -j"$(nproc)" >/dev/null 2>&1); then
    printf '%-22s %-8s %s\n' "$name" "ERROR" "the mutant does not build (check the sed expression)"
    missed+=("$name"); continue
  fi
  failed=$(cd "$src/build" && ctest -j"$(nproc)" 2>&1 | sed -n 's/^[[:space:]]*[0-9]* - \(test_[a-z_]*\) .*/\1/p' | tr '\n' ' ')
  if [ -n "$failed" ]; then
    caught=$((caught + 1)); printf '%-22s %-8s %s\n' "$name" "yes" "$failed"
  else
    missed+=("$name"); printf '%-22s %-8s %s\n' "$name" "NO" "($what)"
  fi
  rm -rf "$src"
done
echo "$caught of $total mutations caught"
[ ${#missed[@]} -eq 0 ]
