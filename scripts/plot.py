#!/usr/bin/python3
"""Plot the maps of a qtmscan HDF5 file.

    scripts/plot.py FILE.h5 [--map NAME]... [--out PNG] [--select AXIS=INDEX]... [--axes X,Y]

1-D maps become curves; 2-D maps become heat maps, or a family of curves when one axis has at
most 8 values; further axes with few values become one panel each (at most 6 panels a map),
and any other axis is held at its first value (or at --select AXIS=INDEX). Axes carry their
long names and units from the file; NaN (undefined) points are left blank. Needs Debian's
python3-h5py and python3-matplotlib (hence /usr/bin/python3)."""
import argparse
import itertools
import os
import sys
import textwrap

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

SHORT = 8       # an axis with at most this many values is drawn as curves or panels
MAX_PANELS = 6


def text_attr(obj, name, default=""):
    v = obj.attrs.get(name, default)
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray) and v.dtype.kind in "SU":
        return "".join(x.decode() if isinstance(x, bytes) else str(x) for x in v.ravel())
    return str(v)


def label(obj, name):
    """Coordinate axes: long name and unit. Maps: short name and unit (the long name goes in
    the panel's title, where there is room for it)."""
    unit = text_attr(obj, "units")
    text = name if "DIMENSION_LIST" in obj.attrs else text_attr(obj, "long_name", name)
    return f"{text} [{unit}]" if unit and unit != "1" else text


def is_geometric(v):
    v = np.asarray(v, dtype=float)
    if v.size < 3 or np.any(v <= 0):
        return False
    r = v[1:] / v[:-1]
    return np.allclose(r, r[0], rtol=1e-6) and abs(r[0] - 1) > 1e-3


def creation_order(f):
    """The root's names in the order qtmscan wrote them (the config's order of observables);
    h5py itself iterates by name."""
    names = []
    try:
        f.id.links.iterate(lambda n: names.append(n.decode()), idx_type=h5py.h5.INDEX_CRT_ORDER)
        return names
    except (ValueError, RuntimeError, KeyError):
        return list(f)


def dims_of(f, ds):
    names = []
    for k in range(ds.ndim):
        scales = [f[ref] for ref in ds.dims[k]] if len(ds.dims[k]) else []
        names.append(os.path.basename(scales[0].name) if scales else f"dim{k}")
    return names


def panels_for(f, name, select, want_axes=None):
    """Yields (title suffix, 1-D/2-D array, [axis names]) panels of one map; want_axes, when
    the map has them all, names the axes to plot."""
    ds = f[name]
    dims = dims_of(f, ds)
    sizes = list(ds.shape)
    keep = [k for k in range(ds.ndim) if sizes[k] > 1]
    long_dims = [k for k in keep if sizes[k] > SHORT]
    plot_dims = long_dims[-2:] if long_dims else keep[-2:]
    if want_axes and all(a in dims for a in want_axes):
        plot_dims = sorted(dims.index(a) for a in want_axes)
    if len(plot_dims) == 1 and len(keep) > 1 and not want_axes:  # one long axis: a short one becomes curves
        others = [k for k in keep if k not in plot_dims]
        plot_dims = sorted(plot_dims + [others[-1]])
    rest = [k for k in keep if k not in plot_dims]
    facet = [k for k in rest if dims[k] not in select]
    n_facets = int(np.prod([sizes[k] for k in facet])) if facet else 1
    if n_facets > MAX_PANELS:
        facet = []
    fixed = {k: select.get(dims[k], 0) for k in rest if k not in facet}
    for combo in itertools.product(*[range(sizes[k]) for k in facet]):
        index = [slice(None)] * ds.ndim
        parts = []
        for k in range(ds.ndim):
            if k in plot_dims:
                continue
            i = dict(zip(facet, combo)).get(k, fixed.get(k, 0))
            index[k] = i
            if sizes[k] > 1:
                parts.append(f"{dims[k]} = {f[dims[k]][i]:.4g}" if dims[k] in f else f"{dims[k]}[{i}]")
        yield ", ".join(parts), np.asarray(ds[tuple(index)], dtype=float), [dims[k] for k in plot_dims]


def draw_table(ax, f, name):
    """A Pareto front or top-K table: contrast against the forward current |J|."""
    t = f[name][...]
    fields = t.dtype.names or ()
    if "contrast" not in fields or "J" not in fields:
        ax.text(0.5, 0.5, f"{name}: {len(t)} rows", ha="center", transform=ax.transAxes)
        return
    j = np.abs(t["J"])
    order = np.argsort(j)
    ax.plot(j[order], t["contrast"][order], "o-" if len(t) < 200 else "-", ms=3)
    ax.set_xlabel("forward current |J| [E^2/hbar]")
    ax.set_ylabel("contrast")
    if len(j) and np.all(j > 0) and j.max() / j.min() > 100:
        ax.set_xscale("log")


def draw(ax, f, name, data, axes):
    ds = f[name]
    coords = [np.asarray(f[a][...], dtype=float) for a in axes]
    data = np.ma.masked_invalid(data)
    if data.ndim == 0:
        ax.text(0.5, 0.5, f"{name} = {float(data):.6g}", ha="center", transform=ax.transAxes)
        return
    if data.ndim == 1:
        ax.plot(coords[0], data)
        ax.set_xlabel(label(f[axes[0]], axes[0]))
        ax.set_ylabel(label(ds, name))
        if is_geometric(coords[0]):
            ax.set_xscale("log")
        return
    short = [k for k in range(2) if len(coords[k]) <= SHORT]
    if short:  # a family of curves along the long axis
        s = short[0]
        t = 1 - s
        for i, value in enumerate(coords[s]):
            line = data[i, :] if s == 0 else data[:, i]
            ax.plot(coords[t], line, label=f"{axes[s]} = {value:.4g}")
        ax.set_xlabel(label(f[axes[t]], axes[t]))
        ax.set_ylabel(label(ds, name))
        if is_geometric(coords[t]):
            ax.set_xscale("log")
        ax.legend(fontsize=7)
        return
    mesh = ax.pcolormesh(coords[1], coords[0], data, shading="auto")
    ax.set_xlabel(label(f[axes[1]], axes[1]))
    ax.set_ylabel(label(f[axes[0]], axes[0]))
    if is_geometric(coords[1]):
        ax.set_xscale("log")
    if is_geometric(coords[0]):
        ax.set_yscale("log")
    plt.colorbar(mesh, ax=ax, label=label(ds, name))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file")
    ap.add_argument("--map", action="append", help="map to draw (repeatable; default: all)")
    ap.add_argument("--out", help="PNG to write (default: FILE with .png)")
    ap.add_argument("--select", action="append", default=[], help="AXIS=INDEX for a held axis")
    ap.add_argument("--axes", help="X,Y: the axes to plot where a map has both (default: the "
                    "last two long ones)")
    args = ap.parse_args()
    select = {}
    for s in args.select:
        axis, _, index = s.partition("=")
        if not index.lstrip("-").isdigit():
            sys.exit(f"plot.py: --select {s}: expected AXIS=INDEX")
        select[axis] = int(index)
    want_axes = args.axes.split(",") if args.axes else None
    out = args.out or os.path.splitext(args.file)[0] + ".png"
    with h5py.File(args.file, "r") as f:
        maps = [n for n in creation_order(f) if isinstance(f[n], h5py.Dataset) and
                ("DIMENSION_LIST" in f[n].attrs or (f[n].ndim == 0 and "CLASS" not in f[n].attrs))]
        maps = args.map or maps
        for m in maps:
            if m not in f:
                sys.exit(f"plot.py: {args.file} has no map {m!r}; it has {', '.join(maps)}")
        panels = []
        for m in maps:
            if f[m].dtype.names:  # a table (compound dataset): one panel
                panels.append((m, "", None, None))
            else:
                panels.extend((m, *p) for p in panels_for(f, m, select, want_axes))
        if not panels:
            sys.exit(f"plot.py: {args.file} holds no maps")
        cols = min(3, len(panels))
        rows = (len(panels) + cols - 1) // cols
        fig, axs = plt.subplots(rows, cols, figsize=(5.2 * cols, 4.0 * rows), squeeze=False)
        for ax, (m, suffix, data, axes) in zip(axs.ravel(), panels):
            if data is None:
                draw_table(ax, f, m)
            else:
                draw(ax, f, m, data, axes)
            title = textwrap.fill(text_attr(f[m], "long_name", m), 60)
            ax.set_title(title + (f"\n({suffix})" if suffix else ""), fontsize=8)
        for ax in axs.ravel()[len(panels):]:
            ax.set_visible(False)
        fig.suptitle(text_attr(f, "title"), fontsize=10)
        fig.tight_layout()
        fig.savefig(out, dpi=100)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
