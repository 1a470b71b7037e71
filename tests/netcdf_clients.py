#!/usr/bin/python3
"""netCDF clients on a scan file: the writer's promise that plotting tools open its output
directly, checked with the tools themselves. Writes the sample scan of make_sample_scan.c
(its header comment gives the content expected here), then checks it with

  ncdump -h / ncdump -v   dimensions named after the axes with their sizes, variable
                          declarations, attributes, coordinate values;
  xarray                  open_dataset with engine="h5netcdf" and engine="netcdf4": named
                          dimensions, coordinate values, map values (NaN from _FillValue),
                          attributes, chunking and compression;
  h5py                    dimension scales attached to every map, coordinate values;

and the same clients on the file's group `analysis` (the outputs of issue 4's analysis, laid
out as qtmscan writes them): a uint8 mask over the full grid, maps over fewer axes (one a
scalar), two tables (compound datasets, one of 0 rows), numeric attributes. In the group,
netCDF sees the root's dimensions by name; each table has its own row dimension.

Every client must be present: CI installs them (scripts/install-deps.sh), so a missing one is a
failure, not a skip. Run with Debian's /usr/bin/python3, where the python3-* packages live.

Usage: netcdf_clients.py MAKE_SAMPLE_SCAN OUT.h5
"""
import math
import os
import re
import shutil
import subprocess
import sys

AXES = [
    ("TL", [0.5, 1.0, 1.5, 2.0], "E"),
    ("gamma_ratio", [0.5, 1.0, 2.0], "1"),
    ("g", [0.01, 0.02, 0.03, 0.04, 0.05], "E/hbar"),
]
DIMS = tuple(name for name, _, _ in AXES)
SHAPE = tuple(len(values) for _, values, _ in AXES)
MAPS = {"J": "E^2/hbar", "contrast": "1"}
GLOBALS = {
    "Conventions": "CF-1.8",
    "title": "make_sample_scan test file",
    "backend": "cpu",
    "device": "test helper",
    "start_time": "2026-01-01T00:00:00Z",
    "end_time": "2026-01-01T00:00:01Z",
}

# The analysis group of make_sample_scan.c (its header comment gives the values).
FIELDS = ["omega", "TL", "TR", "gammaL", "gammaR", "g", "epsL", "epsR", "eps_a", "contrast",
          "ratio", "J", "J_rev"]
ANALYSIS_VARS = {  # name: (netCDF type, dimensions)
    "ndtc": ("ubyte", DIMS),
    "ndtc_onset": ("double", ("gamma_ratio", "g")),
    "max_contrast": ("double", ("TL",)),
    "argmax_contrast_g": ("double", ("TL",)),
    "max_ratio": ("double", ()),
    "top_k": (None, ("top_k_row",)),
    "pareto": (None, ("pareto_row",)),
}

checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        raise AssertionError(what)


def expected_j(i, j, k):
    return 10000 * i + 100 * j + k


def expected_contrast(i, j, k):
    s = i + j + k
    return math.nan if s % 7 == 0 else s + 0.25


def same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b


def expected_ndtc(i, j, k):
    """The stored byte: 255 (the fill) where contrast is NaN."""
    return 255 if (i + j + k) % 7 == 0 else int((i + 2 * j + k) % 3 == 0)


def expected_onset(j, k):
    return math.nan if j == k == 0 else AXES[0][1][(j + k) % 4]


def ndtc_counts():
    """ndtc_count and ndtc_fraction, the attributes make_sample_scan derives from the mask."""
    import itertools
    values = [expected_ndtc(*idx) for idx in itertools.product(*(range(n) for n in SHAPE))]
    count = sum(v == 1 for v in values)
    return count, count / sum(v != 255 for v in values)


def make_file(helper, path):
    for p in (path, path + ".partial"):
        if os.path.exists(p):
            os.remove(p)
    subprocess.run([helper, path], check=True)
    check(os.path.exists(path), f"{helper} did not write {path}")
    check(not os.path.exists(path + ".partial"), "the .partial file was left behind")


def check_ncdump(path):
    ncdump = shutil.which("ncdump")
    if not ncdump:
        raise RuntimeError("ncdump not found: install netcdf-bin (scripts/install-deps.sh)")
    head = subprocess.run([ncdump, "-h", path], check=True, capture_output=True,
                          text=True).stdout
    dims = dict(re.findall(r"^\t(\w+) = (\d+) ;$", head.split("variables:")[0], re.M))
    check(dims == {n: str(len(v)) for n, v, _ in AXES}, f"ncdump dimensions {dims}")
    for name, _, units in AXES:
        check(f"\tdouble {name}({name}) ;" in head, f"ncdump: coordinate variable {name}")
        check(f'\t\t{name}:units = "{units}" ;' in head, f"ncdump: {name}:units")
        check(f"\t\t{name}:long_name = " in head, f"ncdump: {name}:long_name")
    for name, units in MAPS.items():
        check(f"\tfloat {name}({', '.join(DIMS)}) ;" in head, f"ncdump: map {name}")
        check(f"\t\t{name}:_FillValue = NaNf ;" in head, f"ncdump: {name}:_FillValue")
        check(f'\t\t{name}:units = "{units}" ;' in head, f"ncdump: {name}:units")
    for name, value in GLOBALS.items():
        check(f'\t\t:{name} = "{value}" ;' in head, f"ncdump: global {name}")
    for name in ("qtmscan_version", "git_commit", "config", "config_path", "command_line"):
        check(re.search(rf'^\t\t:{name} = ".+" ;$', head, re.M) is not None,
              f"ncdump: global {name}")
    check("\t\t:points_per_second = 60. ;" in head, "ncdump: points_per_second")
    check("\t\t:complete = 1 ;" in head, "ncdump: complete")

    data = subprocess.run([ncdump, "-v", ",".join(DIMS), path], check=True,
                          capture_output=True, text=True).stdout.split("data:")[1]
    for name, values, _ in AXES:
        m = re.search(rf"^ {name} = ([^;]*);", data, re.M)
        check(m is not None, f"ncdump -v: no data of {name}")
        got = [float(x) for x in m.group(1).split(",")]
        check(got == values, f"ncdump -v: {name} = {got}")
    check_ncdump_analysis(ncdump, path, head)
    print(f"ncdump: dimensions {dims}, {len(MAPS)} maps and {len(AXES)} coordinate variables "
          f"with units and long names, _FillValue NaNf, {len(GLOBALS) + 7} global attributes, "
          "coordinate values")
    print("ncdump -h says:\n" + "\n".join("    " + l for l in head.splitlines()))


def check_ncdump_analysis(ncdump, path, head):
    check("\ngroup: analysis {\n" in head, "ncdump: no group analysis")
    group = head.split("group: analysis {")[1]
    lines = [l.strip() for l in group.splitlines()]
    for name, (nctype, dims) in ANALYSIS_VARS.items():
        decl = f"{name}({', '.join(dims)}) ;" if dims else f"{name} ;"
        if nctype:
            check(f"{nctype} {decl}" in lines, f"ncdump: analysis variable {nctype} {decl}")
        else:  # a table: of a compound type the file names
            check(any(l.endswith(" " + decl) for l in lines), f"ncdump: analysis table {decl}")
    check("compound top_k_t {" in lines, "ncdump: the table row type top_k_t")
    for field in FIELDS:
        check(f"double {field} ;" in lines, f"ncdump: table field {field}")
    check("top_k_row = 3 ;" in lines, "ncdump: dimension top_k_row")
    check(any(l.startswith("pareto_row = ") for l in lines), "ncdump: dimension pareto_row")
    check("ndtc:_FillValue = 255UB ;" in lines, "ncdump: ndtc:_FillValue")
    count, fraction = ndtc_counts()
    check(f":ndtc_count = {count}. ;" in lines, f"ncdump: analysis:ndtc_count = {count}")
    check(any(l.startswith("ndtc:ndtc_fraction = ") for l in lines), "ncdump: ndtc_fraction")
    data = subprocess.run([ncdump, "-g", "analysis", path], check=True, capture_output=True,
                          text=True).stdout
    check("max_ratio = 2.5 ;" in data, "ncdump -g analysis: max_ratio")
    check("top_k = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}," in data,
          "ncdump -g analysis: top_k row 0")


def check_xarray_analysis(path, engine):
    import numpy as np
    import xarray as xr

    with xr.open_dataset(path, engine=engine, group="analysis") as ds:
        check(set(ds.variables) == set(ANALYSIS_VARS),
              f"{engine}: analysis variables {sorted(ds.variables)}")
        for name, (_, dims) in ANALYSIS_VARS.items():
            check(ds[name].dims == dims, f"{engine}: analysis/{name} dims {ds[name].dims}")
        # the mask: 255 decoded as missing (CF _FillValue)
        ndtc = ds["ndtc"].values
        for idx in np.ndindex(*SHAPE):
            want = expected_ndtc(*idx)
            check(same(float(ndtc[idx]), math.nan if want == 255 else float(want)),
                  f"{engine}: analysis/ndtc{idx} = {ndtc[idx]}")
        check(ds["ndtc"].encoding.get("dtype") == np.uint8, f"{engine}: ndtc stored as uint8")
        onset = ds["ndtc_onset"].values
        for j, k in np.ndindex(*SHAPE[1:]):
            check(same(float(onset[j, k]), expected_onset(j, k)), f"{engine}: onset[{j}, {k}]")
        check(ds["max_contrast"].values.tolist() == [10 * i + 0.5 for i in range(4)],
              f"{engine}: max_contrast")
        check(ds["argmax_contrast_g"].values.tolist() == AXES[2][1][:4],
              f"{engine}: argmax_contrast_g")
        check(float(ds["max_ratio"]) == 2.5, f"{engine}: max_ratio")
        top = ds["top_k"].values
        check(list(top.dtype.names) == FIELDS, f"{engine}: top_k fields {top.dtype.names}")
        check(top.shape == (3,), f"{engine}: top_k shape {top.shape}")
        for r in range(3):
            for f, field in enumerate(FIELDS):
                check(top[field][r] == 100 * r + f, f"{engine}: top_k[{r}].{field}")
        pareto = ds["pareto"].values
        check(pareto.shape == (0,) and list(pareto.dtype.names) == FIELDS,
              f"{engine}: pareto {pareto.shape} {pareto.dtype}")
        count, fraction = ndtc_counts()
        check(ds.attrs.get("ndtc_count") == count, f"{engine}: ndtc_count {ds.attrs}")
        check(abs(ds["ndtc"].attrs.get("ndtc_fraction") - fraction) < 1e-15,
              f"{engine}: ndtc_fraction {ds['ndtc'].attrs}")
        check(ds["ndtc_onset"].attrs.get("units") == "E", f"{engine}: ndtc_onset units")
    print(f"xarray engine={engine} group=analysis: {len(ANALYSIS_VARS)} variables over the "
          "root's dimension names, mask values (255 decoded as missing), maps over fewer axes "
          "and a scalar, tables as structured arrays (fields, values, 0 rows), attributes")


def check_xarray(path, engine):
    import numpy as np
    import xarray as xr

    with xr.open_dataset(path, engine=engine) as ds:
        check(dict(ds.sizes) == dict(zip(DIMS, SHAPE)), f"{engine}: sizes {dict(ds.sizes)}")
        for name, values, units in AXES:
            check(name in ds.coords, f"{engine}: {name} is not a coordinate")
            check(ds[name].dims == (name,), f"{engine}: {name} dims {ds[name].dims}")
            check(ds[name].values.tolist() == values, f"{engine}: {name} values")
            check(ds[name].attrs.get("units") == units, f"{engine}: {name} units")
        for name, units in MAPS.items():
            v = ds[name]
            check(v.dims == DIMS, f"{engine}: {name} dims {v.dims}")
            check(v.dtype == np.float32, f"{engine}: {name} dtype {v.dtype}")
            check(v.attrs.get("units") == units, f"{engine}: {name} units")
            check(isinstance(v.attrs.get("long_name"), str), f"{engine}: {name} long_name")
            check(tuple(v.encoding.get("chunksizes") or ()) == (1, 1, 4),
                  f"{engine}: {name} chunks {v.encoding.get('chunksizes')}")
            check(v.encoding.get("shuffle") is True, f"{engine}: {name} shuffle")
            check(v.encoding.get("complevel") == 4, f"{engine}: {name} complevel")
        j = ds["J"].sel(TL=1.5, gamma_ratio=1.0, g=0.04).item()
        check(j == expected_j(2, 1, 3), f"{engine}: J(TL=1.5, gamma_ratio=1, g=0.04) = {j}")
        c = ds["contrast"].values
        for idx in np.ndindex(*SHAPE):
            check(same(float(c[idx]), expected_contrast(*idx)), f"{engine}: contrast{idx}")
            check(float(ds["J"].values[idx]) == expected_j(*idx), f"{engine}: J{idx}")
        for name, value in GLOBALS.items():
            check(ds.attrs.get(name) == value, f"{engine}: global {name} = "
                                               f"{ds.attrs.get(name)!r}")
        check(int(ds.attrs.get("complete")) == 1, f"{engine}: complete")
    print(f"xarray engine={engine}: dims {dict(zip(DIMS, SHAPE))} named after the axes, "
          f"coordinate values, J(TL=1.5, gamma_ratio=1, g=0.04) = {j:g}, every value of J "
          "and contrast (NaN from _FillValue), units, chunks, shuffle+deflate(4), "
          "global attributes")


def check_h5py(path):
    import h5py

    with h5py.File(path, "r") as f:
        for name, values, _ in AXES:
            check(h5py.h5ds.is_scale(f[name].id), f"h5py: {name} is not a dimension scale")
            check(f[name][...].tolist() == values, f"h5py: {name} values")
        for name in MAPS:
            d = f[name]
            check(d.shape == SHAPE, f"h5py: {name} shape {d.shape}")
            for k, axis in enumerate(DIMS):
                scales = [s.name for s in d.dims[k].values()]
                check(scales == ["/" + axis], f"h5py: {name} dim {k} scales {scales}")
        check(f["J"][2, 1, 3] == expected_j(2, 1, 3), "h5py: J[2, 1, 3]")
        title = f.attrs["title"]
        title = title.decode() if isinstance(title, bytes) else title
        check(title == GLOBALS["title"], f"h5py: title {title!r}")
        a = f["analysis"]
        for name, (_, dims) in ANALYSIS_VARS.items():
            if name in ("top_k", "pareto"):
                continue
            for k, axis in enumerate(dims):
                scales = [s.name for s in a[name].dims[k].values()]
                check(scales == ["/" + axis], f"h5py: analysis/{name} dim {k} scales {scales}")
        check(a["ndtc"].dtype == "uint8" and a["ndtc"][0, 0, 0] == 255, "h5py: analysis/ndtc")
        check(list(a["top_k"].dtype.names) == FIELDS, "h5py: top_k fields")
        check(a["top_k"][2]["J_rev"] == 212, "h5py: top_k[2].J_rev")
        check(a.attrs["ndtc_count"] == ndtc_counts()[0], "h5py: analysis ndtc_count")
    print("h5py: every axis a dimension scale, attached to its dimension of every map (the "
          "analysis' too); coordinate values; J[2, 1, 3]; the analysis' mask, table, attribute")


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    helper, path = sys.argv[1], sys.argv[2]
    try:
        # Imported up front so that a missing module fails before anything else runs.
        import h5netcdf  # noqa: F401
        import h5py  # noqa: F401
        import netCDF4  # noqa: F401
        import xarray  # noqa: F401
    except ImportError as e:
        print(f"netcdf_clients: FAIL: {e} (install python3-xarray python3-h5netcdf "
              "python3-netcdf4 python3-h5py: scripts/install-deps.sh)", file=sys.stderr)
        return 1
    try:
        make_file(helper, path)
        check_ncdump(path)
        check_xarray(path, "h5netcdf")
        check_xarray(path, "netcdf4")
        check_xarray_analysis(path, "h5netcdf")
        check_xarray_analysis(path, "netcdf4")
        check_h5py(path)
    except Exception as e:  # any client error is a failure of the file, reported in one line
        print(f"netcdf_clients: FAIL: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(f"netcdf_clients: OK, {checks} checks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
