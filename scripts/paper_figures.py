#!/usr/bin/env python3
"""Reproduces the paper's Fig. 2 (linear conductances) and Fig. 4 lower panel (global vs local
contrast) point by point through `qtmscan eval --format json`, writing the curves to
results/paper_figures.csv and the plot to results/paper_figures.png.

Interim main job of the README until the scanner (`qtmscan run`, issue 3) exists.
Needs Debian's python3-matplotlib: run it with /usr/bin/python3."""
import csv
import json
import math
import os
import subprocess
import sys


def evaluate(exe, **params):
    args = [exe, "eval", "--format", "json"]
    for key, value in params.items():
        args += ["--" + key, repr(float(value)) if key != "N" else str(value)]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def nan_if_null(v):
    return math.nan if v is None else v


def main():
    exe = sys.argv[1] if len(sys.argv) > 1 else "build/qtmscan"
    outdir = sys.argv[2] if len(sys.argv) > 2 else "results"
    os.makedirs(outdir, exist_ok=True)
    temps = [0.02 * (250.0 ** (i / 199)) for i in range(200)]  # 0.02 .. 5

    rows = []
    for T in temps:  # Fig. 2: gammaL = 0.01, gammaR = 0.02, g = 0.01, TL = TR = T
        o = evaluate(exe, TL=T, TR=T, gammaL=0.01, gammaR=0.02, g=0.01)
        f = {}
        for gl in (0.01, 0.001):  # Fig. 4 lower: g = 0.8, gammaR = 0.02, TR = 0
            q = evaluate(exe, TL=T * 4, TR=0.0, gammaL=gl, gammaR=0.02, g=0.8)
            f[gl] = (nan_if_null(q["contrast_global"]), nan_if_null(q["contrast"]))
        rows.append([T, o["kappa1"], o["kappa2"], T * 4, f[0.01][0], f[0.01][1],
                     f[0.001][0], f[0.001][1]])

    csv_path = os.path.join(outdir, "paper_figures.csv")
    with open(csv_path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["T", "kappa1", "kappa2", "TL", "C_global_gL0.01", "C1_gL0.01",
                    "C_global_gL0.001", "C1_gL0.001"])
        w.writerows(rows)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot([r[0] for r in rows], [r[1] for r in rows], label=r"$\kappa_1$ (single system)")
    a.plot([r[0] for r in rows], [r[2] for r in rows], label=r"$\kappa_2$ (two qubits)")
    a.set_xlabel(r"$T/\omega$")
    a.set_ylabel(r"$\kappa$  [$k_B/\hbar$]")
    a.set_title(r"Fig. 2: $\gamma_L=0.01,\ \gamma_R=0.02,\ g=0.01$")
    a.legend()
    tl = [r[3] for r in rows]
    b.plot(tl, [r[4] for r in rows], "C0", label=r"$C_{global}$, $\gamma_L=0.01$")
    b.plot(tl, [r[5] for r in rows], "C0--", label=r"$C_1$ (local), $\gamma_L=0.01$")
    b.plot(tl, [r[6] for r in rows], "C1", label=r"$C_{global}$, $\gamma_L=0.001$")
    b.plot(tl, [r[7] for r in rows], "C1--", label=r"$C_1$ (local), $\gamma_L=0.001$")
    b.set_xscale("log")
    b.set_xlabel(r"$T_L/\omega$  ($T_R = 0$)")
    b.set_ylabel("contrast")
    b.set_title(r"Fig. 4 (lower): $g=0.8,\ \gamma_R=0.02$")
    b.legend(fontsize=8)
    fig.tight_layout()
    png_path = os.path.join(outdir, "paper_figures.png")
    fig.savefig(png_path, dpi=110)
    print(f"wrote {csv_path} and {png_path}")


if __name__ == "__main__":
    main()
