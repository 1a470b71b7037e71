#!/usr/bin/python3
"""netCDF clients on a real `qtmscan run` output: a 2-axis scan is written by the program and
opened with `ncdump -h`, xarray (engine="h5netcdf" and engine="netcdf4") and h5py; each must
show the dimensions named after the axes, their coordinate values, and a map value equal to
what `qtmscan eval` prints for the same point. Every client must be present (CI installs
them); run with Debian's /usr/bin/python3.

Usage: scan_clients.py QTMSCAN WORKDIR
"""
import json
import math
import os
import subprocess
import sys

CONFIG = """title: scan_clients test
axes:
  - TL: {values: [0.25, 0.5, 1.0, 2.0]}
  - g: {lin: [0.1, 0.7, 3]}
fixed: {omega: 1.0, TR: 0.05, gammaL: 0.01, gammaR: 0.02}
observables: [J, contrast_global]
output: {path: %s, dtype: float64}
"""
TL = [0.25, 0.5, 1.0, 2.0]
G = [0.1, 0.4, 0.7]
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        sys.exit(f"scan_clients: FAIL: {what}")


def close(a, b, rel=1e-15):
    return a == b or abs(a - b) <= rel * max(abs(a), abs(b))


def main():
    exe, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    out = os.path.join(work, "scan_clients.h5")
    cfg = os.path.join(work, "scan_clients.yaml")
    with open(cfg, "w") as f:
        f.write(CONFIG % out)
    subprocess.run([exe, "run", cfg, "--force", "--quiet", "--backend", "cpu"], check=True)

    # the reference: qtmscan eval at (TL = 1.0, g = 0.4)
    ev = json.loads(subprocess.run(
        [exe, "eval", "--format", "json", "--TL", "1.0", "--TR", "0.05", "--gammaL", "0.01",
         "--gammaR", "0.02", "--g", repr(G[1])], check=True, capture_output=True,
        text=True).stdout)

    header = subprocess.run(["ncdump", "-h", out], check=True, capture_output=True,
                            text=True).stdout
    check("TL = 4 ;" in header and "g = 3 ;" in header, "ncdump -h dimensions:\n" + header)
    check("double J(TL, g) ;" in header, "ncdump -h: J over (TL, g)")
    check("contrast_global(TL, g)" in header, "ncdump -h: contrast_global over (TL, g)")

    import xarray as xr
    for engine in ("h5netcdf", "netcdf4"):
        with xr.open_dataset(out, engine=engine) as ds:
            check(ds["J"].dims == ("TL", "g"), f"{engine}: J dims {ds['J'].dims}")
            check(list(ds["TL"].values) == TL, f"{engine}: TL values {ds['TL'].values}")
            check(all(close(a, b) for a, b in zip(ds["g"].values, G)),
                  f"{engine}: g values {ds['g'].values}")
            j = float(ds["J"].sel(TL=1.0).isel(g=1))
            check(j == ev["J"], f"{engine}: J(TL=1, g=0.4) {j!r} vs qtmscan eval {ev['J']!r}")
            c = float(ds["contrast_global"].sel(TL=1.0).isel(g=1))
            check(c == ev["contrast_global"], f"{engine}: contrast_global {c!r}")
            check(ds.attrs.get("complete") == 1, f"{engine}: complete attribute")

    import h5py
    with h5py.File(out, "r") as f:
        for k, name in enumerate(("TL", "g")):
            check(f["J"].dims[k].label == name or name in [os.path.basename(s.name)
                                                          for s in f["J"].dims[k].values()],
                  f"h5py: dimension {k} of J is {name}")
        check(f["J"][2, 1] == ev["J"], "h5py: J value")
    print(f"scan_clients: {checks} checks passed")


if __name__ == "__main__":
    main()
