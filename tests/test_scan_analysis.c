/* `qtmscan run` with an analysis section, end to end: the maxima, argmaxima, top-K and Pareto
 * front stored under analysis/ equal what a plain loop in this test computes from the same
 * file's own dense maps (contrast, ratio, J, J_rev stored as float64); the NDTC mask equals
 * the stored dJ/dTL map's sign where TL > TR, and its count attribute matches; the analysis is
 * the same for two different tilings, for any number of threads (tiles big enough for the CPU
 * backend's team, each thread reducing the points it has just evaluated), and without the
 * per-point maps (point_maps: false, whose NDTC counts go to the analysis group). */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5compare.h"
#include "testutil.h"

static const char *const config =
    "axes:\n"
    "  - g: {values: [0.003, 0.02, 0.5]}\n"
    "  - gamma_ratio: {log: [0.02, 1.0, 5]}\n"
    "  - TR: {values: [0.0, 0.2]}\n"
    "  - TL: {lin: [0.1, 4.0, 31]}\n"
    "fixed: {gammaR: 0.02}\n"
    "observables: [contrast, ratio, J, J_rev, dJ_dTL]\n"
    "output: {path: %s, dtype: float64, tile_points: %d}\n"
    "analysis: {optimize: [TL, TR], top_k: 7, min_current: 2e-5}\n";

enum { NG = 3, NRAT = 5, NTR = 2, NTL = 31, N = NG * NRAT * NTR * NTL, NOUTER = NG * NRAT };

static double *read_all(hid_t f, const char *name, size_t n) {
  double *v = malloc(n * sizeof *v);
  hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
  cr_assert_geq(d, 0, "no dataset %s", name);
  hid_t space = H5Dget_space(d);
  cr_assert_eq((size_t)H5Sget_simple_extent_npoints(space), n, "%s has the wrong size", name);
  H5Sclose(space);
  cr_assert_geq(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), 0);
  H5Dclose(d);
  return v;
}

/* Column `field` of a compound table (all fields float64), and its row count. */
static double *read_column(hid_t f, const char *table, const char *field, size_t *rows) {
  hid_t d = H5Dopen2(f, table, H5P_DEFAULT);
  cr_assert_geq(d, 0, "no table %s", table);
  hid_t space = H5Dget_space(d);
  *rows = (size_t)H5Sget_simple_extent_npoints(space);
  H5Sclose(space);
  hid_t mem = H5Tcreate(H5T_COMPOUND, sizeof(double));
  H5Tinsert(mem, field, 0, H5T_NATIVE_DOUBLE);
  double *v = malloc((*rows ? *rows : 1) * sizeof *v);
  cr_assert_geq(H5Dread(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), 0, "%s.%s", table, field);
  H5Tclose(mem);
  H5Dclose(d);
  return v;
}

static double attr_of(hid_t f, const char *obj, const char *name) {
  double v = NAN;
  hid_t a = H5Aopen_by_name(f, obj, name, H5P_DEFAULT, H5P_DEFAULT);
  cr_assert_geq(a, 0, "no attribute %s on %s", name, obj);
  H5Aread(a, H5T_NATIVE_DOUBLE, &v);
  H5Aclose(a);
  return v;
}

static void run_scan_with(const char *dir, const char *name, int tile_points, const char *set,
                          const char *threads, char *out, size_t cap);

static void run_scan(const char *dir, const char *name, int tile_points, char *out, size_t cap) {
  run_scan_with(dir, name, tile_points, NULL, NULL, out, cap);
}

/* As run_scan, with one --set override when `set` is non-NULL, on `threads` CPU threads when
 * non-NULL. */
static void run_scan_with(const char *dir, const char *name, int tile_points, const char *set,
                          const char *threads, char *out, size_t cap) {
  char cfg[256], text[1024];
  snprintf(out, cap, "%s/%s.h5", dir, name);
  snprintf(cfg, sizeof cfg, "%s/%s.yaml", dir, name);
  snprintf(text, sizeof text, config, out, tile_points);
  FILE *fcfg = fopen(cfg, "w");
  cr_assert_not_null(fcfg);
  fputs(text, fcfg);
  fclose(fcfg);
  const char *argv[12] = {QTMSCAN_EXE, "run", cfg, "--quiet", "--force", "--backend", "cpu"};
  int argc = 7;
  if (threads) {
    argv[argc++] = "--threads";
    argv[argc++] = threads;
  }
  if (set) {
    argv[argc++] = "--set";
    argv[argc++] = set;
  }
  qtm_proc p;
  cr_assert_eq(qtm_proc_run(argv, NULL, &p), 0);
  cr_assert_eq(p.status, 0, "qtmscan run failed: %s", p.err);
  qtm_proc_free(&p);
}

Test(scan_analysis, analysis_equals_brute_force_on_the_files_own_maps, .timeout = 120) {
  char dir[64], out[256], out2[256];
  qtm_scratch_make(dir, sizeof dir, "scan_analysis");
  run_scan(dir, "a", 97, out, sizeof out);
  run_scan(dir, "b", 5000, out2, sizeof out2);
  char out3[256]; /* summary-only: no dense map stored, the same analysis */
  run_scan_with(dir, "c", 97, "observables=[]", NULL, out3, sizeof out3);
  char out4[256]; /* no per-point maps, 3 threads */
  run_scan_with(dir, "d", 5000, "analysis.point_maps=false", "3", out4, sizeof out4);
  hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
  cr_assert_geq(f, 0);
  double *C = read_all(f, "contrast", N), *R = read_all(f, "ratio", N);
  double *J = read_all(f, "J", N), *Jr = read_all(f, "J_rev", N), *dJ = read_all(f, "dJ_dTL", N);
  double *TL = read_all(f, "TL", NTL), *TR = read_all(f, "TR", NTR);

  /* maxima over (TR, TL) for each (g, gamma_ratio); ties to the lowest flat index */
  double *maxc = read_all(f, "analysis/max_contrast", NOUTER);
  double *atl = read_all(f, "analysis/argmax_contrast_TL", NOUTER);
  double *atr = read_all(f, "analysis/argmax_contrast_TR", NOUTER);
  double *maxr = read_all(f, "analysis/max_ratio", NOUTER);
  for (int o = 0; o < NOUTER; ++o) {
    int bc = -1, br = -1;
    for (int t = 0; t < NTR * NTL; ++t) {
      int n = o * NTR * NTL + t;
      if (fmax(fabs(J[n]), fabs(Jr[n])) < 2e-5) continue;
      if (!isnan(C[n]) && (bc < 0 || C[n] > C[bc])) bc = n;
      if (!isnan(R[n]) && (br < 0 || R[n] > R[br])) br = n;
    }
    if (bc < 0) {
      cr_expect(isnan(maxc[o]), "outer %d: no admissible point, expected NaN", o);
      continue;
    }
    cr_expect_eq(maxc[o], C[bc], "max_contrast[%d]", o);
    cr_expect_eq(atl[o], TL[bc % NTL], "argmax_contrast_TL[%d]", o);
    cr_expect_eq(atr[o], TR[bc / NTL % NTR], "argmax_contrast_TR[%d]", o);
    cr_expect_eq(maxr[o], R[br], "max_ratio[%d]", o);
  }

  /* top-K: the 7 admissible points of highest contrast, best first */
  size_t rows;
  double *tc = read_column(f, "analysis/top_k", "contrast", &rows);
  double *tj = read_column(f, "analysis/top_k", "J", &rows);
  cr_assert_eq(rows, 7);
  int taken[N] = {0};
  for (size_t i = 0; i < rows; ++i) {
    int best = -1;
    for (int n = 0; n < N; ++n)
      if (!taken[n] && !isnan(C[n]) && fmax(fabs(J[n]), fabs(Jr[n])) >= 2e-5 &&
          (best < 0 || C[n] > C[best]))
        best = n;
    taken[best] = 1;
    cr_expect_eq(tc[i], C[best], "top_k row %zu contrast", i);
    cr_expect_eq(tj[i], J[best], "top_k row %zu J", i);
  }

  /* Pareto front of (contrast, |J|) by the definition, O(N^2) */
  size_t prow;
  double *pc = read_column(f, "analysis/pareto", "contrast", &prow);
  double *pj = read_column(f, "analysis/pareto", "J", &prow);
  size_t count = 0;
  for (int i = 0; i < N; ++i) {
    if (isnan(C[i]) || isnan(J[i])) continue;
    int dominated = 0;
    for (int k = 0; k < N && !dominated; ++k) {
      if (k == i || isnan(C[k]) || isnan(J[k]) || C[k] < C[i] || fabs(J[k]) < fabs(J[i])) continue;
      dominated = C[k] > C[i] || fabs(J[k]) > fabs(J[i]) || k < i;
    }
    if (dominated) continue;
    count++;
    int found = 0;
    for (size_t r = 0; r < prow && !found; ++r) found = pc[r] == C[i] && pj[r] == J[i];
    cr_expect(found, "brute-force front point %d (C %g, J %g) missing from analysis/pareto", i,
              C[i], J[i]);
  }
  cr_expect_eq(prow, count, "analysis/pareto has %zu rows, brute force %zu", prow, count);

  /* NDTC mask = (TL > TR and dJ/dTL < 0), read as uint8 */
  unsigned char *mask = malloc(N);
  hid_t d = H5Dopen2(f, "analysis/ndtc", H5P_DEFAULT);
  cr_assert_geq(H5Dread(d, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, mask), 0);
  H5Dclose(d);
  int ndtc = 0;
  for (int n = 0; n < N; ++n) {
    int want = TL[n % NTL] > TR[n / NTL % NTR] && dJ[n] < 0;
    ndtc += want;
    cr_expect_eq(mask[n], want, "ndtc mask at %d", n);
  }
  cr_expect_gt(ndtc, 0, "the scan must contain NDTC points");
  cr_expect_eq(attr_of(f, "analysis/ndtc", "ndtc_count"), (double)ndtc);
  double ndtc_global = attr_of(f, "analysis/ndtc_global", "ndtc_count");
  H5Fclose(f);

  /* point_maps: false: no per-point map, the counts on the group, the same reductions */
  hid_t f4 = H5Fopen(out4, H5F_ACC_RDONLY, H5P_DEFAULT);
  cr_assert_geq(f4, 0);
  const char *point_maps[] = {"analysis/ndtc", "analysis/ndtc_global",
                              "analysis/regime_disagreement", "analysis/J_global_over_J"};
  for (int i = 0; i < 4; ++i)
    cr_expect_lt(H5Lexists(f4, point_maps[i], H5P_DEFAULT), 1, "%s stored with point_maps: false",
                 point_maps[i]);
  cr_expect_eq(attr_of(f4, "analysis", "ndtc_count"), (double)ndtc);
  cr_expect_eq(attr_of(f4, "analysis", "ndtc_count_global"), ndtc_global);
  cr_expect_eq(attr_of(f4, "analysis", "points_considered"), (double)N);
  double *maxc4 = read_all(f4, "analysis/max_contrast", NOUTER);
  size_t rows4;
  double *tc4 = read_column(f4, "analysis/top_k", "contrast", &rows4);
  cr_assert_eq(rows4, 7, "top_k rows with point_maps: false");
  double *pc4 = read_column(f4, "analysis/pareto", "contrast", &rows4);
  cr_assert_eq(rows4, prow, "pareto rows with point_maps: false");
  cr_expect_eq(memcmp(maxc4, maxc, NOUTER * sizeof *maxc), 0, "max_contrast with point_maps: false");
  cr_expect_eq(memcmp(tc4, tc, 7 * sizeof *tc), 0, "top_k with point_maps: false");
  cr_expect_eq(memcmp(pc4, pc, prow * sizeof *pc), 0, "pareto with point_maps: false");
  free(maxc4), free(tc4), free(pc4);
  H5Fclose(f4);

  /* another tiling, the same analysis */
  hid_t f2 = H5Fopen(out2, H5F_ACC_RDONLY, H5P_DEFAULT);
  const char *same[] = {"analysis/max_contrast", "analysis/argmax_contrast_TL",
                        "analysis/max_ratio", "analysis/ndtc_onset"};
  const size_t sizes[] = {NOUTER, NOUTER, NOUTER, NG * NRAT * NTR};
  hid_t f1 = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
  for (int i = 0; i < 4; ++i) {
    double *a = read_all(f1, same[i], sizes[i]), *b = read_all(f2, same[i], sizes[i]);
    cr_expect_eq(memcmp(a, b, sizes[i] * sizeof *a), 0, "%s depends on the tiling", same[i]);
    free(a);
    free(b);
  }
  hid_t f3 = H5Fopen(out3, H5F_ACC_RDONLY, H5P_DEFAULT);
  cr_assert_geq(f3, 0);
  cr_expect_lt(H5Lexists(f3, "contrast", H5P_DEFAULT), 1, "a summary-only scan stores no map");
  for (int i = 0; i < 4; ++i) {
    double *a = read_all(f1, same[i], sizes[i]), *c = read_all(f3, same[i], sizes[i]);
    cr_expect_eq(memcmp(a, c, sizes[i] * sizeof *a), 0, "%s differs in the summary-only scan",
                 same[i]);
    free(a);
    free(c);
  }
  H5Fclose(f3);
  H5Fclose(f1);
  H5Fclose(f2);
  free(C), free(R), free(J), free(Jr), free(dJ), free(TL), free(TR);
  free(maxc), free(atl), free(atr), free(maxr), free(tc), free(tj), free(pc), free(pj), free(mask);
  qtm_scratch_remove(dir);
}

/* The same scan with 301 TL values (9,030 points, one tile): large enough that the CPU backend
 * wakes its team, so 3 threads each reduce the chunks they evaluate into buffers of their own,
 * merged after the tile. Every dataset (maps, analysis, its per-point maps) equals the
 * one-thread run's bit for bit. */
Test(scan_analysis, three_threads_reduce_as_one, .timeout = 120) {
  char dir[64], one[256], three[256];
  qtm_scratch_make(dir, sizeof dir, "scan_analysis_threads");
  const char *axes = "axes=[{g: {values: [0.003, 0.02, 0.5]}}, {gamma_ratio: {log: [0.02, 1.0, "
                     "5]}}, {TR: {values: [0.0, 0.2]}}, {TL: {lin: [0.1, 4.0, 301]}}]";
  run_scan_with(dir, "one", 10000, axes, "1", one, sizeof one);
  run_scan_with(dir, "three", 10000, axes, "3", three, sizeof three);
  qtm_h5_comparison r;
  cr_assert_eq(qtm_h5_compare_files(one, three, &r), 0, "the files could not be compared");
  cr_expect_gt(r.compared, 20, "only %d datasets compared", r.compared);
  cr_expect_eq(r.differing, 0, "%d datasets differ between 1 and 3 threads, first %s",
               r.differing, r.first_diff);
  qtm_scratch_remove(dir);
}
