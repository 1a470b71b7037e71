#!/usr/bin/env bash
# Installs the Debian packages qtmscan builds, tests and plots with, when any is missing.
# Runs apt-get as root, or through sudo. Safe to run again: it does nothing when all are there.
set -euo pipefail

packages=(build-essential cmake pkg-config git
          libhdf5-dev libcriterion-dev libfyaml-dev liblapacke-dev
          python3 python3-numpy python3-matplotlib python3-h5py
          netcdf-bin python3-xarray python3-h5netcdf python3-netcdf4)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
