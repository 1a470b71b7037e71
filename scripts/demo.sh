#!/usr/bin/env bash
# The main job on the built-in default: install what is missing, build, and reproduce the
# paper's Fig. 2 and Fig. 4 curves into results/ (CSV and PNG).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
/usr/bin/python3 scripts/paper_figures.py "${QTM_BUILD_DIR:-build}/qtmscan" results
