#!/usr/bin/env bash
# The main job on the built-in default config: install what is missing, build, scan
# configs/quickstart.yaml into results/quickstart.h5 and plot it as results/quickstart.png.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
build=${QTM_BUILD_DIR:-build}
"$build/qtmscan" run configs/quickstart.yaml --force
/usr/bin/python3 scripts/plot.py results/quickstart.h5 --out results/quickstart.png \
  --map contrast --map contrast_global --map J
