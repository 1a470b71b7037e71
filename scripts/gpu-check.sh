#!/usr/bin/env bash
# gpu-check.sh: the one script a session with a lent GPU machine runs THERE, over a build made
# here by scripts/gpu-build.sh (which prints the exact `run` call). It
#   1. unpacks .devlibs/libs.tar.xz into /tmp/devlibs (the machine has no Criterion, HDF5,
#      LAPACKE...) and puts it on LD_LIBRARY_PATH;
#   2. prints `nvidia-smi -L`;
#   3. runs every Criterion test binary in build/tests (or only those named as arguments),
#      verbosely, and requires cuda_parity::random_points_match_cpu and (when
#      test_backend_parity ran) backend_parity::cuda_matches_reference to PASS, not skip: a
#      skip on a GPU machine means the device was not found;
#   4. runs compute-sanitizer memcheck (with leak check), racecheck and initcheck on
#      test_cuda_parity, and memcheck (with leak check) on test_backend_parity;
#   5. runs build/bench/bench_kernel (every backend, the benchmark grid).
# Logs go to $OUT (the device tool brings back at most 8 files: this writes at most 7), or to
# ./gpu-check-out when OUT is unset. Exits non-zero if anything failed, after a summary line.
#   usage: scripts/gpu-check.sh [TEST_BINARY_NAME...]
#   env:   GPU_CHECK_TIMEOUT  seconds allowed per test binary, sanitizer run or benchmark
#                             (default 240; a device call is limited to 600 s in all)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
out=${OUT:-$top/gpu-check-out}
mkdir -p "$out"
if [ -z "${OUT:-}" ] && [ -d .git/info ]; then # a local run: keep the logs out of git
  grep -qx '/gpu-check-out/' .git/info/exclude 2>/dev/null || echo '/gpu-check-out/' >>.git/info/exclude
fi
limit=${GPU_CHECK_TIMEOUT:-240}
summary=$out/summary.txt
: >"$summary"
failures=()
passes=0

note() { printf '%s\n' "$*" | tee -a "$summary"; }
fail() {
  failures+=("$1")
  note "FAIL: $1"
}
pass() {
  passes=$((passes + 1))
  note "ok:   $1"
}

# Runs "$@" under the time limit with output appended to log file $1 (shifted off).
run_logged() {
  local log=$1
  shift
  printf '\n==== %s\n' "$*" >>"$log"
  timeout --kill-after=10 "$limit" "$@" >>"$log" 2>&1
}

# 1. Libraries packed here by ../shared/device/pack-libs.sh.
if [ -f .devlibs/libs.tar.xz ]; then
  mkdir -p /tmp/devlibs
  tar -xJf .devlibs/libs.tar.xz -C /tmp/devlibs
  export LD_LIBRARY_PATH=/tmp/devlibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
else
  fail "no .devlibs/libs.tar.xz: run scripts/gpu-build.sh here and carry .devlibs"
fi

# 2. The device.
note "gpu-check at $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname)"
if ! command -v nvidia-smi >/dev/null 2>&1; then
  fail "nvidia-smi not found: is this the GPU machine?"
elif smi=$(nvidia-smi -L 2>&1); then
  note "$smi"
else
  note "$smi"
  fail "nvidia-smi -L"
fi

# Tests that locate data through the source path compiled into them find it here too.
src_dir=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' build/CMakeCache.txt 2>/dev/null || true)
if [ -n "$src_dir" ] && [ "$src_dir" != "$top" ] && [ ! -e "$src_dir" ]; then
  mkdir -p "$(dirname "$src_dir")" && ln -s "$top" "$src_dir" &&
    note "linked $src_dir -> $top (the source path compiled into the build)"
fi

# 3. Test binaries.
tests_log=$out/tests.log
: >"$tests_log"
if [ $# -gt 0 ]; then
  names=("$@")
else
  names=()
  for f in build/tests/test_*; do
    [ -f "$f" ] && [ -x "$f" ] && names+=("$(basename "$f")")
  done
fi
case " ${names[*]:-} " in
  *" test_cuda_parity "*) ;;
  *) fail "build/tests/test_cuda_parity is missing (build with scripts/gpu-build.sh)" ;;
esac
for name in "${names[@]}"; do
  bin=build/tests/$name
  if [ ! -x "$bin" ]; then
    fail "$name: no executable $bin"
    continue
  fi
  # Run where ctest runs them, so relative paths behave the same.
  if (cd build/tests && run_logged "$tests_log" "./$name" --verbose --jobs=4); then
    pass "$name"
  else
    fail "$name (exit $?, see tests.log)"
  fi
done
if [ -x build/tests/test_cuda_parity ]; then
  if grep -q '\[PASS\] cuda_parity::random_points_match_cpu' "$tests_log"; then
    pass "GPU parity test ran on the device"
    grep -E '^\[----\] (device:|[A-Za-z_0-9]+ +max rel err)' "$tests_log" >>"$summary" || true
  else
    fail "cuda_parity::random_points_match_cpu did not pass on the device (skipped?)"
    grep -E 'SKIP|FAIL' "$tests_log" | head -5 >>"$summary" || true
  fi
fi
case " ${names[*]:-} " in
  *" test_backend_parity "*)
    if grep -q '\[PASS\] backend_parity::cuda_matches_reference' "$tests_log"; then
      pass "GPU backend parity test ran on the device"
      grep -E '^\[----\] ([A-Za-z_0-9]+ +max error/allowance|cuda: )' "$tests_log" >>"$summary" || true
    else
      fail "backend_parity::cuda_matches_reference did not pass on the device (skipped?)"
      grep -E 'SKIP|FAIL' "$tests_log" | grep backend_parity | head -5 >>"$summary" || true
    fi
    ;;
esac

# 4. compute-sanitizer on the CUDA test. Criterion runs each test in a child process, hence
# --target-processes all; --error-exitcode makes any finding fail the run, and the ERROR
# SUMMARY line is checked as well.
if [ -x build/tests/test_cuda_parity ]; then
  if command -v compute-sanitizer >/dev/null 2>&1; then
    sanitizer=compute-sanitizer
  elif [ -x /usr/local/cuda/bin/compute-sanitizer ]; then
    sanitizer=/usr/local/cuda/bin/compute-sanitizer
  else
    sanitizer=
    fail "compute-sanitizer not found"
  fi
  if [ -n "$sanitizer" ]; then
    for tool in memcheck racecheck initcheck; do
      log=$out/$tool.log
      : >"$log"
      extra=()
      [ "$tool" = memcheck ] && extra=(--leak-check full)
      if (cd build/tests && run_logged "$log" "$sanitizer" --tool "$tool" "${extra[@]}" \
        --target-processes all --error-exitcode 86 ./test_cuda_parity --jobs=1) &&
        ! grep -qE 'ERROR SUMMARY: [1-9]|RACECHECK SUMMARY: [1-9]' "$log"; then
        pass "compute-sanitizer $tool"
      else
        fail "compute-sanitizer $tool (see $tool.log)"
      fi
      grep -E 'SUMMARY' "$log" | sort | uniq -c >>"$summary" || true
    done
    # The scan backend: device buffers reused tile after tile, copies into host arrays.
    if [ -x build/tests/test_backend_parity ]; then
      log=$out/memcheck-backend.log
      : >"$log"
      if (cd build/tests && run_logged "$log" "$sanitizer" --tool memcheck --leak-check full \
        --target-processes all --error-exitcode 86 ./test_backend_parity --jobs=1) &&
        ! grep -qE 'ERROR SUMMARY: [1-9]' "$log"; then
        pass "compute-sanitizer memcheck on test_backend_parity"
      else
        fail "compute-sanitizer memcheck on test_backend_parity (see memcheck-backend.log)"
      fi
      grep -E 'SUMMARY' "$log" | sort | uniq -c >>"$summary" || true
    fi
  fi
fi

# 5. Benchmarks.
bench_log=$out/bench.log
benches=()
# bench_kernel with no arguments times every backend present on the benchmark grid (the GPU
# rows of bench/RESULTS.md come from it and bench/baseline_cupy.py); bench_writer needs a file
# and measures the disk, not the GPU.
[ -x build/bench/bench_kernel ] && benches+=(build/bench/bench_kernel)
if [ ${#benches[@]} -eq 0 ]; then
  note "no GPU benchmarks: build/bench/bench_kernel was not built"
else
  : >"$bench_log"
  for b in "${benches[@]}"; do
    if run_logged "$bench_log" "$b"; then
      pass "benchmark $(basename "$b")"
    else
      fail "benchmark $(basename "$b") (see bench.log)"
    fi
  done
fi

if [ ${#failures[@]} -eq 0 ]; then
  note "gpu-check: PASSED ($passes checks; logs in $out)"
  exit 0
fi
printf -v failed '%s; ' "${failures[@]}"
note "gpu-check: FAILED ${#failures[@]} of $((passes + ${#failures[@]})) checks: ${failed%; }"
exit 1
