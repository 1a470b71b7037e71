/* Test helper: writes a small scan file of known content with the HDF5 writer, the way
 * `qtmscan run` does (NAME.partial, renamed on success), for the netCDF client test
 * (netcdf_clients.py, which expects exactly this content) without running a scan.
 *   axes  TL = 0.5 1 1.5 2, gamma_ratio = 0.5 1 2, g = 0.01 0.02 0.03 0.04 0.05
 *   maps  float32, gzip 4, tiles of 1x1x4 (edge tiles along g):
 *         J[i][j][k] = 10000 i + 100 j + k
 *         contrast[i][j][k] = NaN where (i + j + k) % 7 == 0, else i + j + k + 0.25
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

  qtm_h5_layout layout = {&grid, &tiling, 2, obs, QTM_DTYPE_F32, 4};
  qtm_h5_provenance prov = {"make_sample_scan test file",
                            "tests/make_sample_scan.c",
                            "# no config: written by tests/make_sample_scan.c\n",
                            "make_sample_scan OUT.h5",
                            "cpu",
                            "test helper",
                            "2026-01-01T00:00:00Z"};
  qtm_h5_writer *w = NULL;
  float buf[2][64];
  qtm_tile_out out = {QTM_DTYPE_F32, 2, {QTM_OBS_J, QTM_OBS_contrast}, {buf[0], buf[1]}};
  int rc = 0;
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
    }
    if (qtm_h5_writer_write_tile(w, &tile, &out, err, sizeof err) != QTM_OK) {
      qtm_h5_writer_abort(w);
      rc = fail("write_tile", err);
      goto done;
    }
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
