#!/usr/bin/env bash
# gpu-build.sh: run HERE (the machine without a GPU) before using a lent GPU machine. It
# configures and builds a Release build for the H100/H200 (sm_90) into build/, with the CUDA
# backend required, packs the shared libraries its programs need into .devlibs/libs.tar.xz
# (../shared/device/pack-libs.sh: the GPU machine has no Criterion, HDF5, LAPACKE...), and
# prints the `run` call that carries both and runs scripts/gpu-check.sh there.
#   usage: scripts/gpu-build.sh [TARGET...]    (default: every target)
# Naming targets (e.g. test_cuda_parity) builds only those, for when other parts of the tree
# do not build yet. build/ and .devlibs/ are ignored by git.
set -euo pipefail

top=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
cd "$top"
pack=$top/../shared/device/pack-libs.sh
[ -x "$pack" ] || { echo "gpu-build: $pack not found" >&2; exit 2; }

if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 -DQTM_CUDA=ON
if [ $# -gt 0 ]; then
  targets=()
  for t in "$@"; do targets+=(--target "$t"); done
  cmake --build build -j"$(nproc)" "${targets[@]}"
else
  cmake --build build -j"$(nproc)"
fi

# The programs that will run there: the CLI, the test binaries and any benchmarks.
progs=()
for f in build/qtmscan build/tests/test_* build/bench/*; do
  [ -f "$f" ] && [ -x "$f" ] && progs+=("$f")
done
[ ${#progs[@]} -gt 0 ] || { echo "gpu-build: nothing executable was built" >&2; exit 1; }
# pack-libs.sh appends to .git/info/exclude, which a fresh clone may lack.
exclude=$(git rev-parse --git-path info/exclude)
mkdir -p "$(dirname "$exclude")"
"$pack" "${progs[@]}"
git check-ignore -q build || echo '/build/' >>"$exclude"

size=$(du -sm build .devlibs | awk '{s += $1} END {print s}')
echo "gpu-build: built ${#progs[@]} programs; build/ + .devlibs/ = ${size} MiB (a call carries at most 64 MiB with the tree)"
[ "$size" -lt 56 ] || echo "gpu-build: WARNING: too large to carry; remove object files or build fewer targets" >&2
cat <<'MSG'
Now call the device tool's `run` with
  carry:   ["build", ".devlibs"]
  command: bash scripts/gpu-check.sh
(add test binary names after the script to run only those, e.g.
 `bash scripts/gpu-check.sh test_cuda_parity`; GPU_CHECK_TIMEOUT=SECONDS per binary, default 240).
Logs come back from $OUT: summary.txt, tests.log, memcheck.log, racecheck.log, initcheck.log, bench.log.
MSG
