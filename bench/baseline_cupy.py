#!/usr/bin/python3
"""What a user with a GPU would write instead of qtmscan: the NumPy baseline's formulas
(bench/baseline_numpy.py, the same functions) run on CuPy arrays, one elementwise kernel per
array operation, as CuPy code written from docs/FORMULAS.md is. Same commands:

    baseline_cupy.py time  --grid N1,N2,N3,N4 [--obs ...] [--min-time S] [--layout mesh|broadcast]
    baseline_cupy.py check FILE.h5 [--rtol 1e-12]

Exit status 77 with the reason when CuPy or a device is missing, so bench/run.sh reports the
row as skipped instead of failing.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import baseline_numpy as base  # noqa: E402


def main():
    try:
        import cupy as cp
        cp.cuda.runtime.getDeviceCount()
        cp.zeros(1).sum().get()  # a device that cannot run a kernel fails here, not mid-timing
    except Exception as e:  # ImportError, CUDARuntimeError, ...: no usable CuPy
        print(f"SKIP: no usable CuPy: {type(e).__name__}: {e}")
        return 77
    a = base.parser().parse_args()
    if a.cmd == "time":
        name = cp.cuda.runtime.getDeviceProperties(0)["name"].decode()
        print(f"# device: {name}", file=sys.stderr)
        return base.cmd_time(a, xp=cp, sync=cp.cuda.Device().synchronize, name="cupy")
    return base.cmd_check(a, xp=cp, to_host=cp.asnumpy)


if __name__ == "__main__":
    sys.exit(main() or 0)
