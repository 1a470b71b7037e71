#!/usr/bin/env bash
# Configures and builds qtmscan into build/ (or $QTM_BUILD_DIR). The CUDA backend is built
# when nvcc is found (also in /usr/local/cuda/bin, where the CUDA toolkit installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${QTM_BUILD_DIR:-build}
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE="${QTM_BUILD_TYPE:-RelWithDebInfo}" ${QTM_CMAKE_ARGS:-}
cmake --build "$build" -j"$(nproc)"
