#!/usr/bin/env bash
# The MPI build (-DQTM_MPI=ON): `mpirun -n 2 --oversubscribe qtmscan run` (and -n 3, slabs of
# unequal length) writes, collectively through parallel HDF5, a file whose every dataset equals
# the serial run's bit for bit: gzip-compressed float32 maps, the analysis' dense maps, its
# reduced maps and tables merged across the ranks. Also: an MPI run's partial file is refused
# by --resume, and --shard with mpirun is refused.
# Usage: mpi_equals_serial.sh QTMSCAN COMPARE_H5_FILES WORKDIR
set -uo pipefail
qtmscan=$1 compare=$2 dir=$3
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir" || exit 1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 # CI runs as root
export OMPI_MCA_rmaps_base_oversubscribe=1
cat > scan.yaml <<'YAML'
axes:
  - g: {values: [0.01, 0.3]}
  - gamma_ratio: {log: [0.01, 1.0, 9]}
  - TR: {lin: [0.0, 0.4, 4]}
  - TL: {log: [0.05, 8.0, 150]}
fixed: {gammaR: 0.02}
observables: [J, contrast, J_global]
output: {path: unused.h5, dtype: float32, compression: gzip-2, tile_points: 600}
analysis: {optimize: [TL, TR], top_k: 5, min_current: 1e-6, refine: true}
YAML
fail=0
"$qtmscan" run scan.yaml -o serial.h5 --quiet --backend cpu || exit 1
for n in 2 3; do
  status=0
  timeout 300 mpirun -n "$n" --oversubscribe "$qtmscan" run scan.yaml -o "mpi$n.h5" \
    --quiet --backend cpu --threads 1 || status=$?
  if [ "$status" != 0 ]; then
    echo "FAIL: mpirun -n $n exited with $status"; fail=1; continue
  fi
  if "$compare" serial.h5 "mpi$n.h5"; then echo "ok: mpirun -n $n equals the serial run"
  else echo "FAIL: mpirun -n $n differs from the serial run"; fail=1; fi
done
# A partial file of an MPI run is never resumed.
cp mpi2.h5 left.h5.partial
"$qtmscan" run scan.yaml -o left.h5 --resume --quiet 2> resume.err
if grep -q "written by an MPI run" resume.err; then
  echo "ok: --resume refuses an MPI run's partial file"
else
  echo "FAIL: --resume on an MPI partial: $(cat resume.err)"; fail=1
fi
if timeout 120 mpirun -n 2 "$qtmscan" run scan.yaml -o s.h5 --shard 0/2 --quiet 2> shard.err; then
  echo "FAIL: --shard under mpirun was accepted"; fail=1
elif grep -q "use one of them" shard.err; then echo "ok: --shard under mpirun refused"
else echo "FAIL: --shard under mpirun: $(cat shard.err)"; fail=1; fi
exit $fail
