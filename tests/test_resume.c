/* Interrupted scans resumed: a scan killed with SIGTERM or SIGKILL at several moments (and its
 * resumption killed again), then continued with --resume until it finishes, gives a file whose
 * every dataset (maps, analysis, tile marks) equals the uninterrupted scan's bit for bit; a
 * partial file of another config is refused and left as it was; a run without --resume does
 * not silently discard an interrupted run; --resume on a finished output does nothing. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <hdf5.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "h5compare.h"
#include "testutil.h"

static char dir[64];

static void make_dir(void) { qtm_scratch_make(dir, sizeof dir, "resume"); }
static void remove_dir(void) { qtm_scratch_remove(dir); }

TestSuite(resume, .init = make_dir, .fini = remove_dir, .timeout = 300);

/* About half a second of work in ~22 tiles, with maps and an analysis. Tiles much longer than
 * their flushes make a SIGKILL inside HDF5's flush unlikely: such a kill can damage the file
 * (HDF5 1.10 has no journal; README, "Batch jobs"), which this test is not about. */
static const char *const config_text =
    "axes:\n"
    "  - g: {values: [0.01, 0.3]}\n"
    "  - gamma_ratio: {log: [0.01, 1.0, 60]}\n"
    "  - TR: {lin: [0.0, 0.4, 5]}\n"
    "  - TL: {lin: [0.05, 6.0, 2000]}\n"
    "fixed: {gammaR: 0.02}\n"
    "observables: [J, contrast, dJ_dTL]\n"
    "output: {path: unused.h5, dtype: float32, compression: gzip-1, tile_points: 54000}\n"
    "analysis: {optimize: [TL], top_k: 5, min_current: 1e-6}\n";

static int exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

static void write_config(char *cfg, size_t cap) {
  snprintf(cfg, cap, "%s/scan.yaml", dir);
  FILE *f = fopen(cfg, "w");
  cr_assert_not_null(f);
  fputs(config_text, f);
  fclose(f);
}

static int run_to_end(const char *cfg, const char *out, const char *extra) {
  const char *argv[] = {QTMSCAN_EXE, "run", cfg, "-o", out, "--quiet", "--backend", "cpu",
                        extra, NULL};
  qtm_proc p;
  cr_assert_eq(qtm_proc_run(argv, NULL, &p), 0);
  int status = p.status;
  if (status != 0) fprintf(stderr, "qtmscan run %s: %s", extra ? extra : "", p.err);
  qtm_proc_free(&p);
  return status;
}

/* Starts `run ... extra`, waits for the partial file (and `delay_ms`), sends sig; returns the
 * status (128 + signal when the signal killed it). */
static int run_and_kill(const char *cfg, const char *out, const char *extra, int sig, int delay_ms) {
  char partial[300];
  snprintf(partial, sizeof partial, "%s.partial", out);
  const char *argv[] = {QTMSCAN_EXE, "run", cfg, "-o", out, "--backend", "cpu", extra, NULL};
  pid_t pid = qtm_proc_start(argv);
  cr_assert_gt(pid, 0);
  struct timespec step = {0, 1000000};
  for (int i = 0; i < 10000 && !exists(partial) && !exists(out); ++i) nanosleep(&step, NULL);
  struct timespec delay = {delay_ms / 1000, (long)(delay_ms % 1000) * 1000000L};
  nanosleep(&delay, NULL);
  kill(pid, sig);
  return qtm_proc_wait(pid);
}

static void expect_same_data(const char *ref, const char *got, const char *what) {
  qtm_h5_comparison r;
  cr_assert_eq(qtm_h5_compare_files(ref, got, &r), 0, "%s: cannot compare the files", what);
  cr_expect_gt(r.compared, 10, "%s: too few datasets compared", what);
  cr_expect_eq(r.differing, 0, "%s: %d datasets differ from the uninterrupted scan, first %s",
               what, r.differing, r.first_diff);
}

/* The whole content of a file (its bytes are what must not change; opening it may touch its
 * modification time). */
static char *read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "cannot read %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  char *buf = malloc((size_t)n + 1);
  cr_assert_not_null(buf);
  *size = fread(buf, 1, (size_t)n, f);
  fclose(f);
  return buf;
}

/* ---- The tests -------------------------------------------------------------------------------- */

Test(resume, killed_and_resumed_equals_uninterrupted) {
  char cfg[256], ref[256], out[256];
  write_config(cfg, sizeof cfg);
  snprintf(ref, sizeof ref, "%s/ref.h5", dir);
  snprintf(out, sizeof out, "%s/out.h5", dir);
  cr_assert_eq(run_to_end(cfg, ref, NULL), 0);

  struct {
    int sig, delay_ms, second_sig, second_delay_ms;
  } plans[] = {{SIGTERM, 150, 0, 0},       {SIGKILL, 90, 0, 0},   {SIGKILL, 400, SIGKILL, 150},
               {SIGTERM, 40, SIGKILL, 200}, {SIGINT, 600, SIGTERM, 100}};
  for (size_t i = 0; i < sizeof plans / sizeof plans[0]; ++i) {
    char what[64];
    snprintf(what, sizeof what, "plan %zu", i);
    unlink(out); /* each plan starts from nothing: no output, no partial file */
    int st = run_and_kill(cfg, out, "--force", plans[i].sig, plans[i].delay_ms);
    if (st == 0) { /* finished before the signal: this plan proves nothing, but must be right */
      expect_same_data(ref, out, what);
      continue;
    }
    if (plans[i].sig != SIGKILL) cr_expect_eq(st, 3, "%s: SIGTERM/SIGINT must exit 3", what);
    cr_expect(!exists(out), "%s: an interrupted scan left a file at the output path", what);
    if (plans[i].second_sig) {
      st = run_and_kill(cfg, out, "--resume", plans[i].second_sig, plans[i].second_delay_ms);
      /* the partial file exists already, so the signal may arrive before the resumed process
       * installs its handler (slow start under sanitizers): then it dies of it, harmlessly */
      cr_expect(st == 0 || st == 3 || st == 128 + plans[i].second_sig,
                "%s: resumed run status %d", what, st);
    }
    if (!exists(out)) cr_assert_eq(run_to_end(cfg, out, "--resume"), 0, "%s: resume failed", what);
    char partial[300];
    snprintf(partial, sizeof partial, "%s.partial", out);
    cr_expect(!exists(partial), "%s: the partial file must be gone after success", what);
    expect_same_data(ref, out, what);
  }
}

Test(resume, refuses_another_config_and_keeps_the_partial) {
  char cfg[256], out[256], partial[300];
  write_config(cfg, sizeof cfg);
  snprintf(out, sizeof out, "%s/other.h5", dir);
  snprintf(partial, sizeof partial, "%s.partial", out);
  int st = run_and_kill(cfg, out, "--force", SIGTERM, 100);
  if (st == 0) cr_skip_test("the scan finished before SIGTERM; machine too fast for this test");
  cr_assert(exists(partial));
  size_t size_before;
  char *before = read_file(partial, &size_before);

  const char *other[] = {QTMSCAN_EXE, "run", cfg,    "-o",         out,  "--resume",
                         "--set",     "fixed.gammaR=0.03", "--quiet", NULL};
  qtm_proc p;
  cr_assert_eq(qtm_proc_run(other, NULL, &p), 0);
  cr_expect_eq(p.status, 2, "a partial file of another config must be refused (status %d)", p.status);
  cr_expect(strstr(p.err, "fingerprint") != NULL, "the refusal must say why: %s", p.err);
  qtm_proc_free(&p);
  size_t size_after;
  char *after = read_file(partial, &size_after);
  cr_expect(size_before == size_after && memcmp(before, after, size_before) == 0,
            "the refused partial file was changed");
  free(before);
  free(after);

  const char *plain[] = {QTMSCAN_EXE, "run", cfg, "-o", out, "--quiet", NULL};
  cr_assert_eq(qtm_proc_run(plain, NULL, &p), 0);
  cr_expect_eq(p.status, 2, "a run without --resume must not discard an interrupted one");
  cr_expect(strstr(p.err, "--resume") != NULL, "it must point to --resume: %s", p.err);
  qtm_proc_free(&p);
  cr_expect(exists(partial));

  cr_assert_eq(run_to_end(cfg, out, "--resume"), 0);
  const char *again[] = {QTMSCAN_EXE, "run", cfg, "-o", out, "--resume", NULL};
  cr_assert_eq(qtm_proc_run(again, NULL, &p), 0);
  cr_expect_eq(p.status, 0, "--resume on a finished output does nothing and succeeds");
  cr_expect(strstr(p.err, "nothing to resume") != NULL, "%s", p.err);
  qtm_proc_free(&p);
}

/* Makes `partial` an interrupted copy of the finished `ref`: no `complete` mark, the last three
 * tiles not done, and (when damage) wrong values in two finished tiles of the map J: what a
 * kill inside HDF5's flush can leave (README, "Batch jobs"). */
static void make_damaged_partial(const char *ref, const char *partial, int damage) {
  size_t n;
  char *bytes = read_file(ref, &n);
  FILE *f = fopen(partial, "wb");
  cr_assert_not_null(f);
  cr_assert_eq(fwrite(bytes, 1, n, f), n);
  fclose(f);
  free(bytes);
  hid_t file = H5Fopen(partial, H5F_ACC_RDWR, H5P_DEFAULT);
  cr_assert_geq(file, 0);
  cr_assert_geq(H5Adelete(file, "complete"), 0);
  hid_t done = H5Dopen2(file, "qtmscan_state/tiles_done", H5P_DEFAULT);
  cr_assert_geq(done, 0);
  hid_t space = H5Dget_space(done);
  hsize_t ntiles = 0;
  H5Sget_simple_extent_dims(space, &ntiles, NULL);
  cr_assert_gt(ntiles, 4);
  hsize_t start = ntiles - 3, count = 3;
  unsigned char zeros[3] = {0, 0, 0};
  hid_t mem = H5Screate_simple(1, &count, NULL);
  H5Sselect_hyperslab(space, H5S_SELECT_SET, &start, NULL, &count, NULL);
  cr_assert_geq(H5Dwrite(done, H5T_NATIVE_UCHAR, mem, space, H5P_DEFAULT, zeros), 0);
  H5Sclose(mem);
  H5Sclose(space);
  H5Dclose(done);
  if (damage) { /* the first point (tile 0) and one in the middle of the grid */
    hid_t j = H5Dopen2(file, "J", H5P_DEFAULT);
    cr_assert_geq(j, 0);
    hid_t js = H5Dget_space(j);
    hsize_t dims[4], at[4] = {0, 0, 0, 0}, one[4] = {1, 1, 1, 1};
    cr_assert_eq(H5Sget_simple_extent_dims(js, dims, NULL), 4);
    hid_t m1 = H5Screate_simple(4, one, NULL);
    float wrong = 12345.0f;
    for (int i = 0; i < 2; ++i) {
      if (i) for (int k = 0; k < 4; ++k) at[k] = dims[k] / 2;
      H5Sselect_hyperslab(js, H5S_SELECT_SET, at, NULL, one, NULL);
      cr_assert_geq(H5Dwrite(j, H5T_NATIVE_FLOAT, m1, js, H5P_DEFAULT, &wrong), 0);
    }
    H5Sclose(m1);
    H5Sclose(js);
    H5Dclose(j);
  }
  cr_assert_geq(H5Fclose(file), 0);
}

/* Finished tiles with wrong values (a kill inside HDF5's flush) are found by --resume, which
 * evaluates them again, and written again: the file equals the uninterrupted scan's. With
 * --no-verify they are trusted and the damage stays, which shows the check is what repairs. */
Test(resume, damaged_finished_tiles_are_found_and_written_again) {
  char cfg[256], ref[256], out[256], partial[300];
  write_config(cfg, sizeof cfg);
  snprintf(ref, sizeof ref, "%s/ref.h5", dir);
  cr_assert_eq(run_to_end(cfg, ref, NULL), 0);

  snprintf(out, sizeof out, "%s/trusted.h5", dir);
  snprintf(partial, sizeof partial, "%s.partial", out);
  make_damaged_partial(ref, partial, 1);
  cr_assert_eq(run_to_end(cfg, out, "--no-verify"), 2, "--no-verify without --resume");
  const char *trusting[] = {QTMSCAN_EXE, "run", cfg, "-o", out, "--resume", "--no-verify",
                            "--quiet", NULL};
  qtm_proc p;
  cr_assert_eq(qtm_proc_run(trusting, NULL, &p), 0);
  cr_assert_eq(p.status, 0, "%s", p.err);
  qtm_proc_free(&p);
  qtm_h5_comparison r;
  cr_assert_eq(qtm_h5_compare_files(ref, out, &r), 0);
  cr_expect_eq(r.differing, 1, "--no-verify must keep the damaged map J (%d differ, first %s)",
               r.differing, r.first_diff);

  snprintf(out, sizeof out, "%s/checked.h5", dir);
  snprintf(partial, sizeof partial, "%s.partial", out);
  make_damaged_partial(ref, partial, 1);
  const char *checking[] = {QTMSCAN_EXE, "run", cfg, "-o", out, "--resume", "--backend", "cpu",
                            NULL};
  cr_assert_eq(qtm_proc_run(checking, NULL, &p), 0);
  cr_assert_eq(p.status, 0, "%s", p.err);
  cr_expect(strstr(p.err, "2 of ") && strstr(p.err, "were written again"), "%s", p.err);
  qtm_proc_free(&p);
  expect_same_data(ref, out, "damaged tiles repaired by --resume");

  /* an undamaged partial: every finished tile checked, none written again */
  snprintf(out, sizeof out, "%s/intact.h5", dir);
  snprintf(partial, sizeof partial, "%s.partial", out);
  make_damaged_partial(ref, partial, 0);
  cr_assert_eq(qtm_proc_run(checking, NULL, &p), 0);
  cr_assert_eq(p.status, 0, "%s", p.err);
  cr_expect(!strstr(p.err, "written again"), "%s", p.err);
  qtm_proc_free(&p);
  expect_same_data(ref, out, "an intact partial resumed");
}
