/* Test helper: writes a small scan file of known content with the HDF5 writer, the way
 * `qtmscan run` does (NAME.partial, renamed on success), for the netCDF client test
 * (netcdf_clients.py, which expects exactly this content) without running a scan.
 *   axes  TL = 0.5 1 1.5 2, gamma_ratio = 0.5 1 2, g = 0.01 0.02 0.03 0.04 0.05
 *   maps  float32, gzip 4, tiles of 1x1x4 (edge tiles along g):
 *         J[i][j][k] = 10000 i + 100 j + k
 *         contrast[i][j][k] = NaN where (i + j + k) % 7 == 0, else i + j + k + 0.25
 *   analysis (the layout of issue 4's outputs, values made up):
 *         ndtc[i][j][k] uint8, dense like the maps: 255 (fill) where contrast is NaN, else 1
 *                       where (i + 2 j + k) % 3 == 0, else 0
 *         ndtc_onset[j][k] float64 over (gamma_ratio, g): TL[(j + k) % 4], NaN at j = k = 0
 *         max_contrast[i] float64 over (TL): 10 i + 0.5; argmax_contrast_g[i] = g[i]
 *         max_ratio float64, scalar: 2.5
 *         top_k table, 3 rows of the 13 fields omega .. J_rev: row r field f = 100 r + f
 *         pareto table, same fields, 0 rows
 *         attributes: analysis:ndtc_count (points of ndtc = 1), analysis/ndtc:ndtc_fraction
 *         (that count over the points not filled)
 * Usage: make_sample_scan OUT.h5 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qtm/grid.h"
#include "qtm/h5_writer.h"
#include "qtm/params.h"

static int fail(const char *what, const char *err) {
  fprintf(stderr, "make_sample_scan: %s: %s\n", what, err);
  return 1;
}

/* The analysis' maps over fewer axes, tables and attributes (see the header); 0 or -1. */
static int put_analysis(qtm_h5_writer *w, const double *tl, const double *g, double ndtc_count,
                        double ndtc_fraction, char *err, size_t errcap) {
  static const char *const fields[] = {"omega", "TL",      "TR",    "gammaL", "gammaR",
                                       "g",     "epsL",    "epsR",  "eps_a",  "contrast",
                                       "ratio", "J",       "J_rev"};
  enum { NFIELDS = sizeof fields / sizeof fields[0] };
  double onset[3 * 5], max_contrast[4], argmax_g[4], max_ratio = 2.5, rows[3 * NFIELDS];
  for (int j = 0; j < 3; ++j)
    for (int k = 0; k < 5; ++k) onset[j * 5 + k] = j == 0 && k == 0 ? NAN : tl[(j + k) % 4];
  for (int i = 0; i < 4; ++i) {
    max_contrast[i] = 10 * i + 0.5;
    argmax_g[i] = g[i];
  }
  for (int r = 0; r < 3; ++r)
    for (int f = 0; f < NFIELDS; ++f) rows[r * NFIELDS + f] = 100 * r + f;
  const qtm_reduced_map reduced[] = {
      {"analysis/ndtc_onset", 2, {1, 2}, QTM_DTYPE_F64, onset, "E", "NDTC onset along TL"},
      {"analysis/max_contrast", 1, {0}, QTM_DTYPE_F64, max_contrast, "1", "maximum contrast"},
      {"analysis/argmax_contrast_g", 1, {0}, QTM_DTYPE_F64, argmax_g, "E/hbar",
       "g of the maximum contrast"},
      {"analysis/max_ratio", 0, {0}, QTM_DTYPE_F64, &max_ratio, "1", "maximum ratio"},
  };
  const qtm_table tables[] = {
      {"analysis/top_k", NFIELDS, fields, 3, rows, "top 3 of the contrast"},
      {"analysis/pareto", NFIELDS, fields, 0, NULL, "Pareto front of (contrast, |J|)"},
  };
  const qtm_scalar_attr attrs[] = {
      {"analysis", "ndtc_count", ndtc_count},
      {"analysis/ndtc", "ndtc_fraction", ndtc_fraction},
  };
  for (size_t i = 0; i < sizeof reduced / sizeof reduced[0]; ++i)
    if (qtm_h5_writer_put_reduced(w, &reduced[i], err, errcap) != QTM_OK) return -1;
  for (size_t i = 0; i < sizeof tables / sizeof tables[0]; ++i)
    if (qtm_h5_writer_put_table(w, &tables[i], err, errcap) != QTM_OK) return -1;
  for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; ++i)
    if (qtm_h5_writer_put_attr(w, &attrs[i], err, errcap) != QTM_OK) return -1;
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fputs("usage: make_sample_scan OUT.h5\n", stderr);
    return 2;
  }
  static const double tl[] = {0.5, 1.0, 1.5, 2.0}, gr[] = {0.5, 1.0, 2.0},
                      g[] = {0.01, 0.02, 0.03, 0.04, 0.05};
  const int axis_id[] = {QTM_PARAM_TL, QTM_AXIS_gamma_ratio, QTM_PARAM_g};
  const int64_t count[] = {4, 3, 5};
  const double *const values[] = {tl, gr, g};
  const int obs[] = {QTM_OBS_J, QTM_OBS_contrast};
  char err[512] = "", partial[4096];
  qtm_params fixed;
  qtm_params_default(&fixed);
  fixed.TR = 0.5;
  fixed.gammaR = 0.01;

  if (snprintf(partial, sizeof partial, "%s.partial", argv[1]) >= (int)sizeof partial)
    return fail(argv[1], "path too long");
  (void)remove(partial); /* a stale one from an interrupted run */

  qtm_grid grid;
  qtm_tiling tiling;
  if (qtm_grid_init(&grid, 3, axis_id, count, values, &fixed, err, sizeof err) != QTM_OK)
    return fail("qtm_grid_init", err);
  qtm_tiling_init(&tiling, &grid, 4);

  static const qtm_dense_map dense_maps[] = {
      {"analysis/ndtc", QTM_DTYPE_U8, "1", "negative differential thermal conductance"}};
  qtm_h5_layout layout = {&grid, &tiling, 2, obs, QTM_DTYPE_F32, 4, 1, dense_maps, 0, NULL, 0, 0};
  qtm_h5_provenance prov = {"make_sample_scan test file",
                            "tests/make_sample_scan.c",
                            "# no config: written by tests/make_sample_scan.c\n",
                            "make_sample_scan OUT.h5",
                            "cpu",
                            "test helper",
                            "2026-01-01T00:00:00Z",
                            "0123456789abcdef", 0, 0, 0, 0, NULL};
  qtm_h5_writer *w = NULL;
  float buf[2][64];
  unsigned char ndtc[64];
  const void *const dense[] = {ndtc};
  qtm_tile_out out = {QTM_DTYPE_F32, 2, {QTM_OBS_J, QTM_OBS_contrast}, {buf[0], buf[1]}};
  int rc = 0;
  double ndtc_count = 0, filled = 0;
  if (qtm_h5_writer_create(partial, &layout, &prov, &w, err, sizeof err) != QTM_OK) {
    rc = fail("create", err);
    goto done;
  }
  for (int64_t t = 0; t < tiling.ntiles; ++t) {
    qtm_tile tile;
    qtm_tiling_tile(&tiling, &grid, t, &tile);
    for (int64_t l = 0; l < tile.npoints; ++l) {
      int64_t c[QTM_MAX_AXES];
      qtm_tile_coord(&tile, 3, l, c);
      buf[0][l] = (float)(10000 * c[0] + 100 * c[1] + c[2]);
      buf[1][l] = (c[0] + c[1] + c[2]) % 7 == 0 ? NAN : (float)(c[0] + c[1] + c[2]) + 0.25f;
      ndtc[l] = (c[0] + c[1] + c[2]) % 7 == 0 ? 255 : (c[0] + 2 * c[1] + c[2]) % 3 == 0;
      ndtc_count += ndtc[l] == 1;
      filled += ndtc[l] == 255;
    }
    if (qtm_h5_writer_write_tile(w, &tile, &out, dense, err, sizeof err) != QTM_OK) {
      qtm_h5_writer_abort(w);
      rc = fail("write_tile", err);
      goto done;
    }
  }
  if ((rc = put_analysis(w, tl, g, ndtc_count, ndtc_count / (60.0 - filled), err,
                         sizeof err)) != 0) {
    qtm_h5_writer_abort(w);
    rc = fail("analysis", err);
    goto done;
  }
  if (qtm_h5_writer_finish(w, "2026-01-01T00:00:01Z", 60.0, err, sizeof err) != QTM_OK) {
    rc = fail("finish", err);
    goto done;
  }
  if (rename(partial, argv[1]) != 0) {
    perror("make_sample_scan: rename");
    rc = 1;
  }
done:
  qtm_grid_free(&grid);
  return rc;
}
