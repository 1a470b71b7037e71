#!/usr/bin/python3
"""What a user would write instead of qtmscan: the benchmark scan's observables in vectorised
NumPy, written from docs/FORMULAS.md as a competent physicist would (thermal factors through
exp/expm1 of -w/T, the occupation gap through expm1 as section 3 advises, Eq. 12 and the global
contrast with J + J_rev formed analytically so they stay accurate where J_rev ~ -J), every
thermal factor computed once per temperature and shared by the forward and reverse process.

The grid is bench/bench_grid.h's: qubits (eps_a = -1) between bosonic baths, omega = 1,
gammaR = 0.02, N = 2, axes TL (log 0.05..50), TR (lin 0..1), gamma_ratio (log 1e-3..1),
g (lin 0.05..0.95). On that domain every formula below applies (0 < g < omega, TL > 0), which
is why it has no branches for other statistics; the result is checked against qtmscan to
1e-12 relative (bench/check_numpy.sh, a ctest).

    baseline_numpy.py time  --grid N1,N2,N3,N4 [--obs J,...] [--min-time S] [--layout mesh|broadcast]
    baseline_numpy.py check FILE.h5 [--rtol 1e-12]   # FILE: `qtmscan run` output, float64 maps

`--layout mesh` (default) builds full parameter arrays with np.meshgrid, the common idiom;
`broadcast` passes the 1-D axes as broadcastable views, so that factors depending on fewer axes
are computed on smaller arrays (faster, and only possible on a rectangular grid of raw
parameters).
"""
import argparse
import sys
import time

import numpy as np

OMEGA, GAMMA_R = 1.0, 0.02
AXES = ("TL", "TR", "gamma_ratio", "g")
OBSERVABLES = ("J1", "alpha", "J", "J_rev", "contrast", "ratio",
               "J_global", "J_global_rev", "contrast_global")
DEFAULT_OBS = ("J", "J_rev", "contrast", "ratio", "J_global", "contrast_global")


def axes(n):
    """The coordinates qtmscan's config loader gives these axes (lin / log spacing)."""
    tl = np.geomspace(0.05, 50.0, n[0])
    tr = np.linspace(0.0, 1.0, n[1])
    ratio = np.geomspace(1e-3, 1.0, n[2])
    g = np.linspace(0.05, 0.95, n[3])
    return tl, tr, ratio, g


def thermal(xp, w, T):
    """e = exp(-w/T), m = expm1(-w/T); T = 0 gives x = inf, e = 0, m = -1 (the T -> 0+ limit)."""
    x = w / T
    return xp.exp(-x), xp.expm1(-x)


def boson_gap(xp, eL, mL, mR, w, TL, TR):
    """b = nL - nR = nL nR (e^{xR} - e^{xL}) = -nL (1 + nR) expm1(xL - xR) (Eq. 7 numerator,
    bosonic baths): exactly 0 at TL == TR, never a difference of nearly equal numbers."""
    nL = eL / -mL
    hR = 1.0 / -mR               # 1 + nR = n e^{x}, 1 at T = 0
    d = w * (TR - TL) / (TL * TR)  # xL - xR; -inf at TR = 0
    return -nL * hR * xp.expm1(d)


def coth_half(m):
    """coth(x/2) = 1 + 2n for bosons = (2 + m)/(-m)."""
    return (2.0 + m) / -m


def evaluate(TL, TR, ratio, g, want, xp=np):
    """The observables in `want` at the (broadcastable) parameter arrays; dict name -> array.
    xp: the array module (numpy here, cupy in baseline_cupy.py)."""
    gR = GAMMA_R
    gL = ratio * gR
    gLgR = gL * gR
    out = {}
    local = {"J1", "alpha", "J", "J_rev", "contrast", "ratio"} & want
    if local:
        eL, mL = thermal(xp, OMEGA, TL)
        eR, mR = thermal(xp, OMEGA, TR)
        b = boson_gap(xp, eL, mL, mR, OMEGA, TL, TR)
        uL, uR = coth_half(mL), coth_half(mR)   # u = 1 + (eps - eps_a) n = 1 + 2n (Eqs. 10-11)
        g4 = 4.0 * g * g
        alpha = g4 / (g4 + gLgR * uL * uR)       # Eq. 6, the same at TL <-> TR
        J1 = 2.0 * OMEGA * gLgR * b / (gL * uL + gR * uR)          # Eq. 7
        J = alpha * J1
        J1_rev = -2.0 * OMEGA * gLgR * b / (gL * uR + gR * uL)     # b(TR, TL) = -b
        J_rev = alpha * J1_rev
        both_zero = (J == 0.0) & (J_rev == 0.0)
        put = {"J1": lambda: J1, "alpha": lambda: alpha * xp.ones_like(J), "J": lambda: J,
               "J_rev": lambda: J_rev,
               # Eq. 12 in its general form |gL - gR| |eps - eps_a| |b| / ((gL + gR)(uL + uR))
               "contrast": lambda: xp.where(both_zero, xp.nan,
                                            xp.abs(gL - gR) * 2.0 * xp.abs(b) /
                                            ((gL + gR) * (uL + uR))),
               "ratio": lambda: xp.where(both_zero, xp.nan, xp.abs(J) / xp.abs(J_rev))}
        for name in local:
            out[name] = put[name]()
    glob = {"J_global", "J_global_rev", "contrast_global"} & want
    if glob:
        J_g = J_g_rev = num = den = 0.0
        for w in (OMEGA + g, OMEGA - g):            # the two dressed modes (Eq. 21)
            eL, mL = thermal(xp, w, TL)
            eR, mR = thermal(xp, w, TR)
            b = boson_gap(xp, eL, mL, mR, w, TL, TR)
            cL, cR = coth_half(mL), coth_half(mR)
            S = gL * cL + gR * cR                   # forward denominator of Eq. 22
            Sr = gL * cR + gR * cL                  # reverse: TL <-> TR
            J_g = J_g + gLgR * w * b / S
            J_g_rev = J_g_rev - gLgR * w * b / Sr
            t = w * xp.abs(b) / (S * Sr)
            num = num + t * xp.abs(b)               # (J + J_rev) = -2 (gL - gR) gLgR sum w b^2/(S S')
            den = den + t * (cL + cR)               # (J - J_rev) = gLgR (gL + gR) sum w b (cL + cR)/(S S')
        if "J_global" in glob:
            out["J_global"] = J_g
        if "J_global_rev" in glob:
            out["J_global_rev"] = J_g_rev
        if "contrast_global" in glob:
            out["contrast_global"] = xp.where((J_g == 0.0) & (J_g_rev == 0.0), xp.nan,
                                              2.0 * xp.abs(gL - gR) * num / ((gL + gR) * den))
    return out


def scan(coords, want, layout, xp=np, slab_points=1 << 20):
    """Every point of the grid in slabs along the first axis (bounded memory, like any scan of
    10^7 points must be); returns full maps (xp arrays)."""
    tl, tr, ratio, g = (xp.asarray(a) for a in coords)
    shape = tuple(len(a) for a in coords)
    maps = {name: xp.empty(shape) for name in want}
    per_tl = shape[1] * shape[2] * shape[3]
    step = max(1, slab_points // per_tl)
    for i in range(0, shape[0], step):
        sl = tl[i:i + step]
        if layout == "mesh":
            args = xp.meshgrid(sl, tr, ratio, g, indexing="ij")
        else:
            args = (sl[:, None, None, None], tr[None, :, None, None],
                    ratio[None, None, :, None], g[None, None, None, :])
        vals = evaluate(*args, want, xp)
        for name in want:
            maps[name][i:i + step] = vals[name]   # broadcasts where a result has fewer axes
    return maps


def cmd_time(a, xp=np, sync=lambda: None, name="numpy"):
    n = [int(x) for x in a.grid.split(",")]
    want = set(a.obs.split(","))
    unknown = want - set(OBSERVABLES)
    if unknown:
        sys.exit(f"baseline_numpy.py: observables not implemented here: {sorted(unknown)}")
    coords = axes(n)
    npts = int(np.prod(n))
    passes, t0 = 0, time.perf_counter()
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        while True:
            scan(coords, want, a.layout, xp)
            sync()
            passes += 1
            el = time.perf_counter() - t0
            if el >= a.min_time:
                break
    print(f"{name} layout={a.layout} nobs={len(want)} points={npts} passes={passes} "
          f"seconds={el:.4f} points_per_s={npts * passes / el:.4e} {name}={xp.__version__}")


def cmd_check(a, xp=np, to_host=lambda x: x):
    import h5py
    with h5py.File(a.file, "r") as f:
        coords = [f[name][()] for name in AXES]
        names = [k for k in f.keys() if k in OBSERVABLES]
        if not names:
            sys.exit(f"check: {a.file} holds none of {OBSERVABLES}")
        ref = {k: f[k][()] for k in names}
    for k, v in ref.items():
        if v.dtype != np.float64:
            sys.exit(f"check: {k} is {v.dtype}; the check needs float64 maps")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        mine = {k: to_host(v) for k, v in scan(coords, set(names), "mesh", xp).items()}
    bad = 0
    for k in names:
        x, y = ref[k], mine[k]
        nan_x, nan_y = np.isnan(x), np.isnan(y)
        fin = np.isfinite(x) & np.isfinite(y)
        scale = np.maximum(np.abs(x[fin]), np.abs(y[fin]))
        err = np.abs(x[fin] - y[fin])
        rel = np.where(scale > 0, err / np.where(scale > 0, scale, 1.0), 0.0)
        worst = float(rel.max()) if rel.size else 0.0
        nan_diff = int(np.count_nonzero(nan_x != nan_y))
        inf_diff = int(np.count_nonzero(np.isinf(x) != np.isinf(y)) +
                       np.count_nonzero(np.isinf(x) & np.isinf(y) & (x != y)))
        ok = worst <= a.rtol and nan_diff == 0 and inf_diff == 0
        bad += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {k:16s} max rel err {worst:.3e} over {x.size} points"
              f" (NaN mismatches {nan_diff}, inf mismatches {inf_diff})")
    if bad:
        print(f"check: {bad} observable(s) differ beyond {a.rtol:g} relative")
        return 1
    print(f"check: NumPy baseline equals qtmscan to {a.rtol:g} relative on {len(names)} maps")
    return 0


def parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("time")
    t.add_argument("--grid", required=True)
    t.add_argument("--obs", default=",".join(DEFAULT_OBS))
    t.add_argument("--min-time", type=float, default=1.0)
    t.add_argument("--layout", choices=("mesh", "broadcast"), default="mesh")
    c = sub.add_parser("check")
    c.add_argument("file")
    c.add_argument("--rtol", type=float, default=1e-12)
    return p


def main():
    a = parser().parse_args()
    return cmd_time(a) if a.cmd == "time" else cmd_check(a)


if __name__ == "__main__":
    sys.exit(main() or 0)
