#!/usr/bin/python3
"""Roofline bound of a scan kernel: FP64 operations and bytes per point, from a hand count of
the closed forms in include/qtm/physics.h as qtm_eval_closed_select runs them (each group below
is one block of that function; the counts follow the code, +-20%), and the points per second
that a device's FP64 peak, its memory bandwidth and the host link allow.

Weights (FP64 operations, a multiply-add counted as 2): add/mul/compare 1, division 8
(reciprocal estimate and Newton steps), sqrt 8, exp 20, expm1 30, log1p 30: the instruction
counts of CUDA's double-precision libdevice routines, roughly.

    roofline.py [--obs J,J_rev,...] [--dtype f32|f64] [--device NAME]... [--measured PTS_PER_S]

--measured adds the fraction of the bound a measured rate reaches (the GPU rows of run.sh).
"""
import argparse

WEIGHT = {"flop": 1, "div": 8, "sqrt": 8, "exp": 20, "expm1": 30, "log1p": 30}

# Groups of qtm_eval_closed_select: operation counts per point.
GROUPS = {
    # qtm_pair_at(omega, TL, TR) and the forward local current (Eqs. 5-7)
    "pair": {"flop": 5, "div": 3, "exp": 2, "expm1": 3},
    "local": {"flop": 35, "div": 11},
    "rev": {"flop": 38, "div": 12},                   # reversed pair and current, no libm call
    "contrast": {"flop": 8, "div": 1},
    "ratio": {"flop": 2, "div": 1},
    "dJ": {"flop": 30, "div": 8},
    "coherence": {"flop": 8, "div": 1},
    "entropy": {"flop": 4, "div": 1},
    "pop": {"flop": 55, "div": 6, "sqrt": 2},
    "kappa": {"flop": 35, "div": 12, "exp": 1, "expm1": 1},
    "ndtc": {"flop": 10, "div": 2, "sqrt": 2, "log1p": 1},
    # two dressed modes: pairs, forward currents, then what the reverse process adds
    "global": {"flop": 2 * (5 + 17), "div": 2 * (3 + 5), "exp": 4, "expm1": 6},
    "global_rev": {"flop": 2 * (3 + 17), "div": 2 * (1 + 5)},
    "global_contrast": {"flop": 33, "div": 3},
    "global_dJ": {"flop": 24, "div": 6},
    "kappa_global": {"flop": 15, "div": 5, "exp": 2, "expm1": 2},
}

NEEDS = {
    "J1": ["pair", "local"], "alpha": ["pair", "local"], "J": ["pair", "local"],
    "J_rev": ["pair", "local", "rev"], "contrast": ["pair", "local", "rev", "contrast"],
    "ratio": ["pair", "local", "rev", "ratio"], "dJ_dTL": ["pair", "local", "dJ"],
    "coherence": ["pair", "local", "coherence"],
    "entropy_production": ["pair", "local", "entropy"],
    "p1": ["pair", "local", "pop"], "p4": ["pair", "local", "pop"],
    "Jc": ["pair", "local", "pop"], "concurrence": ["pair", "local", "coherence", "pop"],
    "kappa1": ["kappa"], "kappa2": ["kappa"], "ndtc_threshold": ["ndtc"],
    "J_global": ["global"], "J_global_rev": ["global", "global_rev"],
    "contrast_global": ["global", "global_rev", "global_contrast"],
    "dJ_global_dTL": ["global", "global_dJ"], "kappa_global": ["global", "kappa_global"],
}

# FP64 vector peak (no tensor cores: the closed forms are not matrix products), memory
# bandwidth, and a practical host link (PCIe 5.0 x16 for SXM boards).
DEVICES = {
    "H100-SXM": (34e12, 3.35e12, 50e9),
    "H100-PCIe": (26e12, 2.0e12, 50e9),
    "H200": (34e12, 4.8e12, 50e9),
}


def count(obs):
    groups = sorted({g for o in obs for g in NEEDS[o]})
    ops = {k: 0 for k in WEIGHT}
    for g in groups:
        for k, n in GROUPS[g].items():
            ops[k] += n
    return groups, ops, sum(WEIGHT[k] * n for k, n in ops.items())


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--obs", default="J,J_rev,contrast,ratio,J_global,contrast_global")
    p.add_argument("--dtype", choices=("f32", "f64"), default="f64")
    p.add_argument("--device", action="append", choices=sorted(DEVICES))
    p.add_argument("--measured", type=float, help="a measured points/s to compare")
    a = p.parse_args()
    obs = a.obs.split(",")
    unknown = [o for o in obs if o not in NEEDS]
    if unknown:
        p.error(f"unknown observables {unknown}")
    groups, ops, flops = count(obs)
    out_bytes = len(obs) * (4 if a.dtype == "f32" else 8)
    print(f"observables: {len(obs)} ({a.obs}); groups evaluated: {', '.join(groups)}")
    print("operations per point: " + ", ".join(f"{k} {n}" for k, n in ops.items() if n) +
          f" -> {flops} FP64 ops (weights {WEIGHT})")
    print(f"bytes per point: {out_bytes} written ({a.dtype} maps; axis values are cached reads)"
          f"; arithmetic intensity {flops / out_bytes:.1f} FP64 ops/byte")
    for name in a.device or sorted(DEVICES):
        peak, bw, link = DEVICES[name]
        compute, memory, host = peak / flops, bw / out_bytes, link / out_bytes
        kernel = min(compute, memory)
        line = (f"{name}: compute {compute:.3e}, memory {memory:.3e} -> kernel bound {kernel:.3e} "
                f"points/s ({'compute' if compute < memory else 'memory'}-bound); copying the maps "
                f"to the host {host:.3e} points/s")
        if a.measured:
            line += f"; measured {a.measured:.3e} = {a.measured / kernel:.1%} of the kernel bound"
        print(line)


if __name__ == "__main__":
    main()
