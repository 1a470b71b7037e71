/* `qtmscan run` end to end: a multi-axis scan's stored values against the closed forms
 * evaluated here point by point (bitwise: the CPU backend calls the same function) and against
 * `qtmscan eval` itself; coordinates and dimension scales read back through the HDF5 API; an
 * existing output is never overwritten without --force; SIGKILL and SIGTERM mid-scan leave
 * nothing at the output path; --dry-run and config errors write nothing. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <dirent.h>
#include <hdf5.h>
#include <hdf5_hl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "qtm/eval.h"
#include "testutil.h"

static char dir[64];

static void make_dir(void) { qtm_scratch_make(dir, sizeof dir, "scan"); }
static void remove_dir(void) { qtm_scratch_remove(dir); }

TestSuite(scan, .init = make_dir, .fini = remove_dir);

static void path_in_dir(char *buf, size_t cap, const char *name) {
  snprintf(buf, cap, "%s/%s", dir, name);
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f, "cannot write %s", path);
  fputs(text, f);
  cr_assert_eq(fclose(f), 0);
}

static int exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

/* Runs `qtmscan ARGS...` (NULL-terminated) to completion. */
static qtm_proc qtmscan(const char *first, ...) {
  const char *argv[32] = {QTMSCAN_EXE};
  int n = 1;
  va_list ap;
  va_start(ap, first);
  for (const char *s = first; s && n < 31; s = va_arg(ap, const char *)) argv[n++] = s;
  va_end(ap);
  argv[n] = NULL;
  qtm_proc p;
  cr_assert_eq(qtm_proc_run(argv, NULL, &p), 0, "could not run qtmscan");
  return p;
}

/* ---- Every stored value against the closed forms and against `qtmscan eval` -------------- */

static const char *const multi_axis_config =
    "title: test scan\n"
    "axes:\n"
    "  - TL: {lin: [0.0, 3.0, 7]}\n"             /* includes T = 0 */
    "  - gamma_ratio: {log: [0.05, 2.0, 5]}\n"
    "  - g: {values: [0.0, 0.02, 0.5, 1.5]}\n"   /* g = 0 and g > omega: NaN regions */
    "fixed: {omega: 1.0, TR: 0.3, gammaR: 0.02, epsL: 1, epsR: 1, eps_a: -1, N: 2}\n"
    "observables: [J1, alpha, J, J_rev, contrast, ratio, kappa1, kappa2, dJ_dTL,\n"
    "              ndtc_threshold, J_global, J_global_rev, contrast_global, kappa_global,\n"
    "              dJ_global_dTL, coherence, p1, p4, Jc, concurrence, entropy_production]\n"
    "output: {path: %s, dtype: %s, compression: gzip-2, tile_points: 17}\n";

enum { NTL = 7, NRATIO = 5, NG = 4, NPOINTS = NTL * NRATIO * NG };

static void read_axis(hid_t file, const char *name, double *v, int n) {
  hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
  cr_assert_geq(d, 0, "no coordinate dataset %s", name);
  cr_assert_gt(H5DSis_scale(d), 0, "%s is not a dimension scale", name);
  char scale_name[64] = "";
  cr_assert_gt(H5DSget_scale_name(d, scale_name, sizeof scale_name), 0);
  cr_expect_str_eq(scale_name, name);
  hid_t space = H5Dget_space(d);
  cr_assert_eq(H5Sget_simple_extent_npoints(space), n, "%s has the wrong length", name);
  H5Sclose(space);
  cr_assert_geq(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), 0);
  H5Dclose(d);
}

/* The value `qtmscan eval --format json` prints for `key` at the point. */
static double eval_json(const qtm_params *p, const char *key) {
  char a[10][40];
  const double v[9] = {p->omega, p->TL, p->TR, p->gammaL, p->gammaR, p->g, p->epsL, p->epsR, p->eps_a};
  for (int i = 0; i < 9; ++i) snprintf(a[i], sizeof a[i], "%.17g", v[i]);
  snprintf(a[9], sizeof a[9], "%d", p->N);
  qtm_proc r = qtmscan("eval", "--format", "json", "--omega", a[0], "--TL", a[1], "--TR", a[2],
                       "--gammaL", a[3], "--gammaR", a[4], "--g", a[5], "--epsL", a[6], "--epsR",
                       a[7], "--eps_a", a[8], "--N", a[9], NULL);
  cr_assert_eq(r.status, 0, "qtmscan eval failed: %s", r.err);
  char needle[64];
  snprintf(needle, sizeof needle, "\"%s\": ", key);
  const char *at = strstr(r.out, needle);
  cr_assert_not_null(at, "eval printed no %s", key);
  at += strlen(needle);
  double x = strncmp(at, "null", 4) == 0 ? NAN : strtod(at, NULL);
  qtm_proc_free(&r);
  return x;
}

static int same_bits(double a, double b) {
  return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

static void check_scan(const char *dtype) {
  char out[256], cfg[256], text[2048];
  path_in_dir(out, sizeof out, "multi.h5");
  path_in_dir(cfg, sizeof cfg, "multi.yaml");
  snprintf(text, sizeof text, multi_axis_config, out, dtype);
  write_text(cfg, text);
  qtm_proc r = qtmscan("run", cfg, "--backend", "cpu", "--quiet", NULL);
  cr_assert_eq(r.status, 0, "qtmscan run failed (%d): %s", r.status, r.err);
  qtm_proc_free(&r);
  char partial[300];
  snprintf(partial, sizeof partial, "%s.partial", out);
  cr_assert(exists(out) && !exists(partial), "the finished file must have its name only");

  hid_t file = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
  cr_assert_geq(file, 0);
  double TL[NTL], ratio[NRATIO], g[NG];
  read_axis(file, "TL", TL, NTL);
  read_axis(file, "gamma_ratio", ratio, NRATIO);
  read_axis(file, "g", g, NG);
  for (int i = 0; i < NTL; ++i) cr_expect_leq(fabs(TL[i] - 0.5 * i), 4e-16 * 3, "TL[%d]", i);
  cr_expect_eq(ratio[0], 0.05);
  cr_expect_eq(ratio[NRATIO - 1], 2.0);
  for (int i = 1; i < NRATIO; ++i)
    cr_expect_leq(fabs(ratio[i] / ratio[i - 1] - pow(40.0, 0.25)), 1e-14, "log spacing");
  const double g_want[NG] = {0.0, 0.02, 0.5, 1.5};
  for (int i = 0; i < NG; ++i) cr_expect_eq(g[i], g_want[i]);

  static double stored[NPOINTS];
  const hid_t axes[3] = {H5Dopen2(file, "TL", H5P_DEFAULT),
                         H5Dopen2(file, "gamma_ratio", H5P_DEFAULT),
                         H5Dopen2(file, "g", H5P_DEFAULT)};
  for (int o = 0; o < QTM_OBS_COUNT; ++o) {
    const char *name = qtm_obs_table[o].name;
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    cr_assert_geq(d, 0, "no map %s", name);
    for (unsigned k = 0; k < 3; ++k)
      cr_expect_gt(H5DSis_attached(d, axes[k], k), 0, "axis %u not attached to %s", k, name);
    cr_assert_geq(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, stored), 0);
    H5Dclose(d);
    int n = 0;
    for (int i = 0; i < NTL; ++i)
      for (int j = 0; j < NRATIO; ++j)
        for (int k = 0; k < NG; ++k, ++n) {
          qtm_params p = {1.0, TL[i], 0.3, ratio[j] * 0.02, 0.02, g[k], 1, 1, -1, 2};
          qtm_obs want;
          qtm_param_error perr;
          cr_assert_eq(qtm_eval_closed(&p, &want, &perr), QTM_OK, "%s", perr.message);
          double w = strcmp(dtype, "float32") == 0 ? (double)(float)want.v[o] : want.v[o];
          cr_expect(same_bits(stored[n], w), "%s at (%d,%d,%d): stored %.17g, closed %.17g",
                    name, i, j, k, stored[n], w);
        }
  }
  for (int k = 0; k < 3; ++k) H5Dclose(axes[k]);
  H5Fclose(file);

  /* The same values through the real `qtmscan eval`, at a few points (JSON is %.17g: exact). */
  if (strcmp(dtype, "float64") == 0) {
    const int pick[3][3] = {{0, 0, 1}, {3, 2, 2}, {6, 4, 1}};
    for (int q = 0; q < 3; ++q) {
      int i = pick[q][0], j = pick[q][1], k = pick[q][2];
      qtm_params p = {1.0, TL[i], 0.3, ratio[j] * 0.02, 0.02, g[k], 1, 1, -1, 2};
      hid_t f2 = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
      const char *names[3] = {"J", "contrast_global", "p1"};
      for (int m = 0; m < 3; ++m) {
        hid_t d = H5Dopen2(f2, names[m], H5P_DEFAULT);
        H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, stored);
        H5Dclose(d);
        double cli = eval_json(&p, names[m]);
        int n = (i * NRATIO + j) * NG + k;
        cr_expect(same_bits(stored[n], cli), "%s: scan %.17g, qtmscan eval %.17g", names[m],
                  stored[n], cli);
      }
      H5Fclose(f2);
    }
  }
}

Test(scan, stored_values_equal_eval_float64) { check_scan("float64"); }
Test(scan, stored_values_equal_eval_float32) { check_scan("float32"); }

/* ---- The output is never lost or replaced by accident ------------------------------------ */

static void small_config(char *cfg, size_t cap, const char *out) {
  char text[1024];
  snprintf(text, sizeof text,
           "axes:\n  - T: {lin: [0.1, 2.0, 50]}\n"
           "fixed: {gammaL: 0.01, gammaR: 0.02, g: 0.01}\n"
           "observables: [kappa1, kappa2]\n"
           "output: {path: %s}\n",
           out);
  snprintf(cfg, cap, "%s/small.yaml", dir);
  write_text(cfg, text);
}

Test(scan, existing_output_needs_force) {
  char out[256], cfg[256];
  path_in_dir(out, sizeof out, "taken.h5");
  small_config(cfg, sizeof cfg, out);
  write_text(out, "precious\n");
  qtm_proc r = qtmscan("run", cfg, "--quiet", NULL);
  cr_expect_eq(r.status, 2, "an existing output must be refused (status %d)", r.status);
  cr_expect(strstr(r.err, "--force") != NULL, "the message must point to --force: %s", r.err);
  qtm_proc_free(&r);
  FILE *f = fopen(out, "r");
  char buf[32] = "";
  cr_assert_not_null(f);
  cr_expect_not_null(fgets(buf, sizeof buf, f));
  fclose(f);
  cr_expect_str_eq(buf, "precious\n", "the existing file was changed");

  r = qtmscan("run", cfg, "--quiet", "--force", NULL);
  cr_expect_eq(r.status, 0, "--force must overwrite: %s", r.err);
  qtm_proc_free(&r);
  cr_expect_gt(H5Fis_hdf5(out), 0, "after --force the output is the scan");
}

/* A scan long enough (about a second) to be interrupted while it writes. */
static void long_config(char *cfg, size_t cap, const char *out) {
  char text[1024];
  snprintf(text, sizeof text,
           "axes:\n  - TL: {lin: [0.01, 5.0, 2000]}\n  - gamma_ratio: {log: [0.01, 1, 1500]}\n"
           "fixed: {TR: 0.1, gammaR: 0.02, g: 0.3}\n"
           "observables: [J, J_rev, contrast, contrast_global]\n"
           "output: {path: %s, compression: gzip-1, tile_points: 65536}\n",
           out);
  snprintf(cfg, cap, "%s/long.yaml", dir);
  write_text(cfg, text);
}

/* Starts the long scan, waits until its .partial exists plus `delay_ms`, sends `sig`. */
static int interrupt_scan(int sig, int delay_ms, char *out, size_t cap) {
  char cfg[256], partial[300];
  path_in_dir(out, cap, "long.h5");
  long_config(cfg, sizeof cfg, out);
  snprintf(partial, sizeof partial, "%s.partial", out);
  const char *argv[] = {QTMSCAN_EXE, "run", cfg, "--backend", "cpu", "--force", NULL};
  pid_t pid = qtm_proc_start(argv);
  cr_assert_gt(pid, 0);
  struct timespec step = {0, 2000000};
  for (int i = 0; i < 5000 && !exists(partial); ++i) nanosleep(&step, NULL);
  cr_assert(exists(partial), "the scan never created %s", partial);
  struct timespec delay = {0, (long)delay_ms * 1000000L};
  nanosleep(&delay, NULL);
  kill(pid, sig);
  return qtm_proc_wait(pid);
}

Test(scan, sigkill_mid_write_leaves_no_output, .timeout = 120) {
  const int delays[3] = {0, 60, 250};
  for (int i = 0; i < 3; ++i) {
    char out[256];
    int status = interrupt_scan(SIGKILL, delays[i], out, sizeof out);
    cr_expect_eq(status, 128 + SIGKILL, "the scan finished before the kill (delay %d ms)",
                 delays[i]);
    cr_expect(!exists(out), "SIGKILL after %d ms left a file at the output path", delays[i]);
  }
}

Test(scan, sigterm_stops_with_status_3, .timeout = 120) {
  char out[256], partial[300];
  int status = interrupt_scan(SIGTERM, 100, out, sizeof out);
  cr_expect_eq(status, 3, "SIGTERM must end the scan with status 3 (got %d)", status);
  cr_expect(!exists(out), "an interrupted scan left a file at the output path");
  snprintf(partial, sizeof partial, "%s.partial", out);
  cr_expect(exists(partial), "the interrupted scan's partial file should be left");
  hid_t f = H5Fopen(partial, H5F_ACC_RDONLY, H5P_DEFAULT);
  cr_assert_geq(f, 0, "the partial file must still be readable HDF5");
  cr_expect_eq(H5Aexists(f, "complete"), 0, "a partial file must not be marked complete");
  H5Fclose(f);
}

Test(scan, dry_run_and_config_errors_write_nothing) {
  char out[256], cfg[256];
  path_in_dir(out, sizeof out, "dry.h5");
  small_config(cfg, sizeof cfg, out);
  qtm_proc r = qtmscan("run", cfg, "--dry-run", "--backend", "cpu", NULL);
  cr_expect_eq(r.status, 0, "%s", r.err);
  cr_expect(strstr(r.out, "50 points") != NULL, "dry run must state the grid size: %s", r.out);
  qtm_proc_free(&r);
  cr_expect(!exists(out), "--dry-run wrote the output");

  /* A shard's dry run speaks of the shard: 50 points in tiles of 8 are 7 tiles (six of 8 and
   * one of 2); slab 2 of 3 is tiles floor(7*2/3) = 4 to floor(7*3/3) - 1 = 6, 8 + 8 + 2 points,
   * written to the shard's own file. */
  r = qtmscan("run", cfg, "--dry-run", "--backend", "cpu", "--set", "output.tile_points=8",
              "--shard", "2/3", NULL);
  cr_expect_eq(r.status, 0, "%s", r.err);
  cr_expect(strstr(r.out, "50 points") != NULL, "the whole grid's size: %s", r.out);
  cr_expect(strstr(r.out, "tiles:    7 of up to 8 points") != NULL, "%s", r.out);
  cr_expect(strstr(r.out, "shard:    2 of 3: tiles 4 to 6, 18 points") != NULL, "%s", r.out);
  cr_expect(strstr(r.out, "dry.shard-2-of-3.h5, 2 maps") != NULL, "the shard's file: %s", r.out);
  cr_expect(strstr(r.out, "for this shard") != NULL, "%s", r.out);
  qtm_proc_free(&r);
  r = qtmscan("run", cfg, "--dry-run", "--backend", "cpu", "--set", "output.tile_points=8",
              "--shard", "0/3", NULL);
  cr_expect(strstr(r.out, "shard:    0 of 3: tiles 0 to 1, 16 points") != NULL, "%s", r.out);
  qtm_proc_free(&r);
  r = qtmscan("run", cfg, "--dry-run", "--backend", "cpu", "--set", "output.tile_points=8",
              "--shard", "0/9", NULL); /* 9 slabs of 7 tiles: floor(7 * 1/9) = 0, slab 0 empty */
  cr_expect(strstr(r.out, "shard:    0 of 9: no tiles (9 shards of 7 tiles)") != NULL, "%s",
            r.out);
  qtm_proc_free(&r);
  cr_expect(!exists(out), "--dry-run wrote the output");

  r = qtmscan("run", cfg, "--set", "observables=[J, no_such_thing]", NULL);
  cr_expect_eq(r.status, 2);
  cr_expect(strstr(r.err, "no_such_thing") != NULL, "%s", r.err);
  qtm_proc_free(&r);
  cr_expect(!exists(out), "a config error wrote the output");
}
