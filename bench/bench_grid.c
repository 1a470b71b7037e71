/* The benchmark grid (bench_grid.h), with coordinates computed as the config loader computes
 * lin and log axes (src/config_axes.c), so that the kernel benchmark, `qtmscan run` on
 * bench/run.sh's config and the NumPy baseline evaluate the same points. */
#include "bench_grid.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static void fill_axis(double *v, int64_t n, double start, double stop, int is_log) {
  if (is_log) {
    long double a = logl((long double)start), b = logl((long double)stop);
    for (int64_t i = 0; i < n; ++i)
      v[i] = (double)expl(a + (long double)i * (b - a) / (long double)(n - 1));
  } else {
    for (int64_t i = 0; i < n; ++i) v[i] = start + (double)i * (stop - start) / (double)(n - 1);
  }
  v[0] = start;
  v[n - 1] = stop;
}

qtm_status qtm_bench_grid_init(qtm_grid *g, const int64_t n[QTM_BENCH_NAXES], char *err,
                               size_t errcap) {
  static const double lo[QTM_BENCH_NAXES] = {0.05, 0.0, 1e-3, 0.05};
  static const double hi[QTM_BENCH_NAXES] = {50.0, 1.0, 1.0, 0.95};
  static const int is_log[QTM_BENCH_NAXES] = {1, 0, 1, 0};
  const int ids[QTM_BENCH_NAXES] = {QTM_PARAM_TL, QTM_PARAM_TR, QTM_AXIS_gamma_ratio,
                                    QTM_PARAM_g};
  double *axis[QTM_BENCH_NAXES] = {NULL, NULL, NULL, NULL};
  qtm_status st = QTM_OK;
  for (int k = 0; k < QTM_BENCH_NAXES; ++k) {
    if (n[k] < 2) {
      snprintf(err, errcap, "axis %d: count %lld < 2", k, (long long)n[k]);
      st = QTM_ERR_INVALID_ARG;
      goto cleanup;
    }
    axis[k] = malloc((size_t)n[k] * sizeof *axis[k]);
    if (!axis[k]) {
      snprintf(err, errcap, "out of memory for %lld coordinates", (long long)n[k]);
      st = QTM_ERR_NOMEM;
      goto cleanup;
    }
    fill_axis(axis[k], n[k], lo[k], hi[k], is_log[k]);
  }
  qtm_params fixed;
  qtm_params_default(&fixed); /* omega 1, bosonic baths, qubits, N = 2 */
  fixed.gammaR = 0.02;
  st = qtm_grid_init(g, QTM_BENCH_NAXES, ids, n, (const double *const *)axis, &fixed, err,
                     errcap);
cleanup:
  for (int k = 0; k < QTM_BENCH_NAXES; ++k) free(axis[k]);
  return st;
}
