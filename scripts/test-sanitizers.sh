#!/usr/bin/env bash
# The test suite once more, built with AddressSanitizer (leaks included) and
# UndefinedBehaviorSanitizer, CPU only, in build-asan/ (or $QTM_ASAN_BUILD_DIR). Any report fails
# the test that triggered it: -fno-sanitize-recover=all makes UBSan reports fatal.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
build=${QTM_ASAN_BUILD_DIR:-build-asan}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQTM_CUDA=OFF \
  -DCMAKE_C_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
cmake --build "$build" -j"$(nproc)"
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" -E slurm_array_and_merge # run once, by test.sh
