#!/usr/bin/env bash
# Reproduces the paper's figures from configs/fig*.yaml: results/figN*.h5 and .png. Assumes a
# build in build/ (scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
exe=${QTM_BUILD_DIR:-build}/qtmscan
for cfg in configs/fig*.yaml; do
  name=$(basename "$cfg" .yaml)
  "$exe" run "$cfg" --force --quiet
  /usr/bin/python3 scripts/plot.py "results/$name.h5" --out "results/$name.png"
done
