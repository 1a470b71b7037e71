#!/usr/bin/python3
"""Checks that two qtmscan output files hold the same results: every dataset (maps,
coordinates, analysis/ and any other group) with the same shape, type and bytes, the same
dataset attributes, and the same root attributes other than provenance (when and how the
file was made). Used by run-array-and-merge.sh to compare a merged Slurm array scan with
a single run. Exit status 0 equal, 1 different, 2 bad use.

usage: compare_h5.py REFERENCE.h5 CANDIDATE.h5
"""
import sys

import h5py
import numpy as np

# Root attributes that say how, when and where a file was made, not what it holds.
PROVENANCE = {"command_line", "start_time", "end_time", "points_per_second", "backend",
              "device", "resumed", "git_commit", "qtmscan_version", "config_path",
              "merged_from"}
# Attributes holding object references: equal content gives different references.
REFERENCE_ATTRS = {"DIMENSION_LIST", "REFERENCE_LIST"}
# Run bookkeeping (tiles done, resumptions): how the file was made, not its results.
BOOKKEEPING_GROUPS = {"qtmscan_state"}


def attr_equal(a, b):
    """Same type, shape and bytes (so NaN equals NaN); strings by value."""
    if isinstance(a, (str, bytes)) or isinstance(b, (str, bytes)):
        return type(a) is type(b) and a == b
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind == "O" or b.dtype.kind == "O":
        return a.shape == b.shape and all(attr_equal(x, y) for x, y in zip(a.flat, b.flat))
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def datasets(f):
    """Map of dataset path -> dataset, outside the bookkeeping groups."""
    found = {}

    def visit(name, obj):
        if name.split("/")[0] in BOOKKEEPING_GROUPS:
            return
        if isinstance(obj, h5py.Dataset):
            found[name] = obj

    f.visititems(visit)
    return found


def compare(ref_path, cand_path):
    problems = []
    with h5py.File(ref_path, "r") as ref, h5py.File(cand_path, "r") as cand:
        rd, cd = datasets(ref), datasets(cand)
        for name in sorted(set(rd) - set(cd)):
            problems.append(f"{name}: only in {ref_path}")
        for name in sorted(set(cd) - set(rd)):
            problems.append(f"{name}: only in {cand_path}")
        compared = 0
        for name in sorted(set(rd) & set(cd)):
            a, b = rd[name], cd[name]
            if a.shape != b.shape or a.dtype != b.dtype:
                problems.append(f"{name}: {a.shape} {a.dtype} vs {b.shape} {b.dtype}")
                continue
            va, vb = a[()], b[()]
            if np.asarray(va).tobytes() != np.asarray(vb).tobytes():
                detail = ""
                if np.asarray(va).dtype.kind in "fiub":
                    differ = ~((va == vb) | (np.isnan(va) & np.isnan(vb))
                               if np.asarray(va).dtype.kind == "f" else (va == vb))
                    where = np.argwhere(np.atleast_1d(differ))
                    detail = (f": {len(where)} of {np.asarray(va).size} values differ, "
                              f"from index {tuple(where.min(0))} to {tuple(where.max(0))}")
                problems.append(f"{name}: data differ{detail}")
            for key in sorted((set(a.attrs) | set(b.attrs)) - REFERENCE_ATTRS):
                if key not in a.attrs or key not in b.attrs:
                    problems.append(f"{name}: attribute {key} only in one file")
                elif not attr_equal(a.attrs[key], b.attrs[key]):
                    problems.append(f"{name}: attribute {key}: {a.attrs[key]!r} vs {b.attrs[key]!r}")
            compared += 1
        for key in sorted((set(ref.attrs) | set(cand.attrs)) - PROVENANCE - REFERENCE_ATTRS):
            if key not in ref.attrs or key not in cand.attrs:
                problems.append(f"/: attribute {key} only in "
                                f"{ref_path if key in ref.attrs else cand_path}")
            elif not attr_equal(ref.attrs[key], cand.attrs[key]):
                problems.append(f"/: attribute {key} differs")
        groups = sorted({n.rsplit("/", 1)[0] if "/" in n else "/" for n in rd})
    return compared, groups, problems


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    compared, groups, problems = compare(sys.argv[1], sys.argv[2])
    if compared == 0 and not problems:
        problems.append("no datasets to compare")
    for p in problems:
        print(f"compare_h5: {p}")
    verdict = "DIFFERENT" if problems else "equal"
    print(f"compare_h5: {sys.argv[2]} vs {sys.argv[1]}: {compared} datasets compared "
          f"(groups: {', '.join(groups)}): {verdict}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
