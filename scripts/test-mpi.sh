#!/usr/bin/env bash
# The MPI build (-DQTM_MPI=ON: OpenMPI and Debian's parallel HDF5, libhdf5-openmpi-dev) in
# build-mpi/ (or $QTM_MPI_BUILD_DIR), CPU only, and the whole suite against it: the serial tests
# (a process not started by mpirun stays serial) and mpi_equals_serial, where mpirun -n 2 and
# -n 3 (oversubscribed on CI's 2 cores) must write the serial run's file bit for bit. The
# serial build is not affected: it keeps finding the serial HDF5 (h5cc, not h5pcc).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
packages=(libhdf5-openmpi-dev libopenmpi-dev openmpi-bin)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "test-mpi: installing ${missing[*]}"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
build=${QTM_MPI_BUILD_DIR:-build-mpi}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQTM_CUDA=OFF -DQTM_MPI=ON
cmake --build "$build" -j"$(nproc)"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" -E slurm_array_and_merge # run once, by test.sh
