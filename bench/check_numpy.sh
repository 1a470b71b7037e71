#!/usr/bin/env bash
# ctest bench_numpy_agrees: keeps the NumPy baseline honest. qtmscan scans a small grid of the
# benchmark's parameter space (every observable the baseline implements, float64 maps), and
# bench/baseline_numpy.py recomputes it from the file's coordinates: equal to 1e-12 relative,
# NaN and inf in the same places, or the test fails. Seconds, not a benchmark.
# Exit 77 (ctest SKIP_RETURN_CODE) with the reason when /usr/bin/python3 lacks numpy or h5py.
#   usage: check_numpy.sh QTMSCAN WORKDIR
set -euo pipefail
qtmscan=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
py=${QTM_BENCH_PYTHON:-/usr/bin/python3} # Debian's python, where python3-numpy/h5py live

if ! "$py" -c 'import numpy, h5py' 2>/dev/null; then
  echo "SKIP: $py cannot import numpy and h5py (apt-get install python3-numpy python3-h5py)"
  exit 77
fi
mkdir -p "$work"
cat >"$work/check.yaml" <<'YAML'
# bench_numpy_agrees: the benchmark's axes (bench/bench_grid.h), few points per axis.
title: "bench: NumPy baseline agreement"
axes:
  - TL: {log: [0.05, 50.0, 23]}
  - TR: {lin: [0.0, 1.0, 11]}
  - gamma_ratio: {log: [0.001, 1.0, 7]}
  - g: {lin: [0.05, 0.95, 5]}
fixed: {omega: 1.0, gammaR: 0.02, epsL: 1, epsR: 1, eps_a: -1, N: 2}
observables: [J1, alpha, J, J_rev, contrast, ratio, J_global, J_global_rev, contrast_global]
output: {path: check.h5, dtype: float64, tile_points: 1000}
YAML
cd "$work"
"$qtmscan" run check.yaml --force --quiet
"$py" "$here/baseline_numpy.py" check check.h5 --rtol 1e-12
