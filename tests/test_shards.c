/* Split scans (issue 5): N = 1, 3 and 7 shards (`qtmscan run --shard K/N`) merged by `qtmscan
 * merge`, as a copy and with --virtual, give the single run's file dataset for dataset, bit for
 * bit (maps, analysis maps and tables, tile marks); a shard killed and resumed does too. A
 * missing or doubled shard, a shard of another config, and inputs that are not finished shards
 * are refused with messages that name them, leaving OUT as it was. --shard auto reads Slurm's
 * array variables. The reference is always an uninterrupted single run through the CLI. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <fcntl.h>
#include <hdf5.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../src/h5_shard.h"
#include "h5compare.h"
#include "testutil.h"

static char dir[64];

static void make_dir(void) { qtm_scratch_make(dir, sizeof dir, "shards"); }
static void remove_dir(void) { qtm_scratch_remove(dir); }

TestSuite(shards, .init = make_dir, .fini = remove_dir, .timeout = 300);

/* 22 tiles (not a multiple of 3 or 7: uneven slabs), maps in float32 with gzip, and an analysis
 * with the global regime, maxima, top-K with refinement and Pareto fronts. */
static const char *const config_text =
    "axes:\n"
    "  - g: {values: [0.01, 0.3]}\n"
    "  - gamma_ratio: {log: [0.01, 1.0, 11]}\n"
    "  - TR: {lin: [0.0, 0.4, 5]}\n"
    "  - TL: {log: [0.05, 8.0, 120]}\n"
    "fixed: {gammaR: 0.02}\n"
    "observables: [J, contrast, dJ_dTL]\n"
    "output: {path: unused.h5, dtype: float32, compression: gzip-1, tile_points: 600}\n"
    "analysis: {optimize: [TL, TR], top_k: 6, min_current: 1e-6, refine: true}\n";

static void in_dir(char *buf, size_t cap, const char *fmt, ...) {
  char name[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(name, sizeof name, fmt, ap);
  va_end(ap);
  snprintf(buf, cap, "%s/%s", dir, name);
}

static int exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f, "cannot write %s", path);
  fputs(text, f);
  fclose(f);
}

/* Runs qtmscan with the arguments (NULL-terminated); returns its status, stderr in *err
 * (freed by the caller) when err is given. */
static int qtmscan(char **err, const char *first, ...) {
  const char *argv[40] = {QTMSCAN_EXE, first};
  int n = 2;
  va_list ap;
  va_start(ap, first);
  for (const char *a; n < 39 && (a = va_arg(ap, const char *));) argv[n++] = a;
  va_end(ap);
  argv[n] = NULL;
  qtm_proc p;
  cr_assert_eq(qtm_proc_run(argv, NULL, &p), 0);
  int status = p.status;
  if (err) *err = strdup(p.err ? p.err : "");
  qtm_proc_free(&p);
  return status;
}

static void write_config(char *cfg, size_t cap, const char *name, const char *text) {
  in_dir(cfg, cap, "%s", name);
  write_text(cfg, text);
}

/* The single run, the reference. */
static void single_run(const char *cfg, char *ref, size_t cap) {
  in_dir(ref, cap, "single.h5");
  cr_assert_eq(qtmscan(NULL, "run", cfg, "-o", ref, "--quiet", "--backend", "cpu", NULL), 0);
}

/* Runs the n shards of cfg into DIR/s.shard-K-of-N.h5; their paths in shard[0..n). */
static void run_shards(const char *cfg, int n, char shard[][300]) {
  char out[300], spec[32];
  in_dir(out, sizeof out, "s.h5");
  for (int k = 0; k < n; ++k) {
    snprintf(spec, sizeof spec, "%d/%d", k, n);
    cr_assert_eq(qtmscan(NULL, "run", cfg, "-o", out, "--shard", spec, "--quiet", "--backend",
                         "cpu", NULL),
                 0, "shard %s", spec);
    in_dir(shard[k], sizeof shard[k], n > 9 ? "s.shard-%02d-of-%d.h5" : "s.shard-%d-of-%d.h5",
           k, n);
    cr_assert(exists(shard[k]), "%s was not written", shard[k]);
  }
}

static void expect_same_data(const char *ref, const char *got, const char *what) {
  qtm_h5_comparison r;
  cr_assert_eq(qtm_h5_compare_files(ref, got, &r), 0, "%s: cannot compare the files", what);
  cr_expect_gt(r.compared, 20, "%s: too few datasets compared (%d)", what, r.compared);
  cr_expect_eq(r.differing, 0, "%s: %d datasets differ from the single run, first %s", what,
               r.differing, r.first_diff);
}

/* Merges shard[0..n) into out with the extra flag (or none); returns the status. */
static int merge(const char *out, int n, char shard[][300], const char *flag, char **err) {
  const char *argv[40] = {QTMSCAN_EXE, "merge", out};
  int m = 3;
  for (int k = 0; k < n; ++k) argv[m++] = shard[k];
  if (flag) argv[m++] = flag;
  argv[m] = NULL;
  qtm_proc p;
  cr_assert_eq(qtm_proc_run(argv, NULL, &p), 0);
  int status = p.status;
  if (err) *err = strdup(p.err ? p.err : "");
  else if (status != 0) fprintf(stderr, "merge: %s", p.err);
  qtm_proc_free(&p);
  return status;
}

Test(shards, merged_shards_equal_the_single_run) {
  char cfg[300], ref[300], out[300];
  write_config(cfg, sizeof cfg, "scan.yaml", config_text);
  single_run(cfg, ref, sizeof ref);
  const int counts[3] = {1, 3, 7};
  for (int c = 0; c < 3; ++c) {
    int n = counts[c];
    char shard[7][300], what[64];
    run_shards(cfg, n, shard);
    in_dir(out, sizeof out, "copy-%d.h5", n);
    cr_assert_eq(merge(out, n, shard, NULL, NULL), 0);
    snprintf(what, sizeof what, "%d shards, copied", n);
    expect_same_data(ref, out, what);
    in_dir(out, sizeof out, "virtual-%d.h5", n);
    cr_assert_eq(merge(out, n, shard, "--virtual", NULL), 0);
    snprintf(what, sizeof what, "%d shards, virtual", n);
    expect_same_data(ref, out, what);
    cr_expect_eq(qtmscan(NULL, "info", out, NULL), 0, "info on the virtual file");
  }
  /* `info` tells a shard from a whole scan */
  char shard[300], info[400];
  in_dir(shard, sizeof shard, "s.shard-2-of-3.h5"); /* left by the loop */
  in_dir(info, sizeof info, "info.txt");
  const char *argv[] = {QTMSCAN_EXE, "info", shard, NULL};
  qtm_proc p;
  cr_assert_eq(qtm_proc_run(argv, info, &p), 0);
  cr_expect_eq(p.status, 0);
  qtm_proc_free(&p);
  FILE *f = fopen(info, "r");
  char text[8192] = "";
  cr_assert_not_null(f);
  text[fread(text, 1, sizeof text - 1, f)] = '\0';
  fclose(f);
  cr_expect(strstr(text, "shard        2 of 3 (0-based), tiles 14 to 22") &&
                strstr(text, "complete (this shard)"),
            "%s", text);
  /* and a virtual file's maps from their shards */
  in_dir(shard, sizeof shard, "virtual-3.h5");
  cr_assert_eq(qtm_proc_run(argv, info, &p), 0);
  qtm_proc_free(&p);
  f = fopen(info, "r");
  cr_assert_not_null(f);
  text[fread(text, 1, sizeof text - 1, f)] = '\0';
  fclose(f);
  cr_expect(strstr(text, "float32  virtual, read from 3 shard files") &&
                strstr(text, "merged from"),
            "%s", text);
}

/* A merge holds one shard file open at a time: 22 shards (a tile each) merge, copied and
 * virtual, in a process allowed 16 open files, which holding them all at once would exceed
 * (a Slurm array of thousands of tasks against the usual ulimit -n of 1024). */
Test(shards, more_shards_than_open_files) {
  char cfg[300], ref[300], out[300], vout[300];
  static char shard[22][300];
  write_config(cfg, sizeof cfg, "scan.yaml", config_text);
  single_run(cfg, ref, sizeof ref);
  run_shards(cfg, 22, shard);
  in_dir(out, sizeof out, "copy-22.h5");
  in_dir(vout, sizeof vout, "virtual-22.h5");
  struct rlimit old, low;
  cr_assert_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
  low = old;
  low.rlim_cur = 16;
  cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0); /* the merges inherit it */
  char *err = NULL, *verr = NULL;
  int status = merge(out, 22, shard, NULL, &err);
  int vstatus = merge(vout, 22, shard, "--virtual", &verr);
  cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0); /* reading the virtual file opens all 22 */
  cr_expect_eq(status, 0, "copy: %s", err);
  cr_expect_eq(vstatus, 0, "virtual: %s", verr);
  free(err);
  free(verr);
  if (status == 0) expect_same_data(ref, out, "22 shards, 16 open files, copied");
  if (vstatus == 0) expect_same_data(ref, vout, "22 shards, 16 open files, virtual");
}

/* Holding one file at a time, the merge opens a shard again later: the same file opens again,
 * one that a job wrote to meanwhile (a new modification time) is refused, not read. */
Test(shards, a_shard_changed_during_the_merge_is_refused) {
  char cfg[300], shard[1][300], err[512] = "";
  write_config(cfg, sizeof cfg, "scan.yaml", config_text);
  run_shards(cfg, 1, shard);
  qtm_h5_shard *s = NULL;
  cr_assert_eq(qtm_h5_shard_open(shard[0], &s, err, sizeof err), QTM_OK, "%s", err);
  qtm_h5_shard_release(s);
  cr_expect_eq(s->file, H5I_INVALID_HID, "released, the file is closed");
  cr_expect_eq(qtm_h5_shard_reacquire(s, err, sizeof err), QTM_OK, "unchanged: %s", err);
  cr_expect_geq(s->file, 0, "open again");
  qtm_h5_shard_release(s);
  const struct timespec times[2] = {{0, UTIME_OMIT}, {12345, 0}};
  cr_assert_eq(utimensat(AT_FDCWD, shard[0], times, 0), 0);
  cr_expect_eq(qtm_h5_shard_reacquire(s, err, sizeof err), QTM_ERR_IO);
  cr_expect(strstr(err, shard[0]) && strstr(err, "changed while the merge was reading it"), "%s",
            err);
  qtm_h5_shard_close(s);
}

/* The shards given in any order merge alike; a virtual file reads its shards from another
 * working directory too (names relative to its own directory). */
Test(shards, order_and_working_directory_do_not_matter) {
  char cfg[300], ref[300], out[300];
  write_config(cfg, sizeof cfg, "scan.yaml", config_text);
  single_run(cfg, ref, sizeof ref);
  char shard[3][300], reversed[3][300];
  run_shards(cfg, 3, shard);
  for (int k = 0; k < 3; ++k) memcpy(reversed[k], shard[2 - k], sizeof reversed[k]);
  in_dir(out, sizeof out, "v.h5");
  cr_assert_eq(merge(out, 3, reversed, "--virtual", NULL), 0);
  cr_assert_eq(chdir("/"), 0);
  expect_same_data(ref, out, "reversed order, virtual, read from /");
}

Test(shards, a_missing_shard_is_refused_by_name) {
  char cfg[300], out[300], *err = NULL;
  write_config(cfg, sizeof cfg, "scan.yaml", config_text);
  char shard[3][300];
  run_shards(cfg, 3, shard);
  memcpy(shard[1], shard[2], sizeof shard[1]);
  in_dir(out, sizeof out, "s.h5");
  cr_expect_eq(merge(out, 2, shard, NULL, &err), 2);
  cr_expect(strstr(err, "in no shard given") && strstr(err, "shard 1 of 3") &&
                strstr(err, "s.shard-1-of-3.h5"),
            "%s", err);
  cr_expect(!exists(out), "OUT written despite the refusal");
  char partial[320];
  snprintf(partial, sizeof partial, "%s.partial", out);
  cr_expect(!exists(partial), "a partial file left behind");
  free(err);
}

Test(shards, a_doubled_shard_is_refused_by_name) {
  char cfg[300], out[300], copy[300], cmd[700], *err = NULL;
  write_config(cfg, sizeof cfg, "scan.yaml", config_text);
  char shard[4][300];
  run_shards(cfg, 3, shard);
  in_dir(copy, sizeof copy, "copy-of-shard-1.h5");
  snprintf(cmd, sizeof cmd, "cp %s %s", shard[1], copy);
  cr_assert_eq(system(cmd), 0);
  memcpy(shard[3], copy, sizeof shard[3]);
  in_dir(out, sizeof out, "m.h5");
  cr_expect_eq(merge(out, 4, shard, NULL, &err), 2);
  cr_expect(strstr(err, "are in both") && strstr(err, "s.shard-1-of-3.h5") &&
                strstr(err, "copy-of-shard-1.h5"),
            "%s", err);
  cr_expect(!exists(out));
  free(err);
}

/* Sets tile k's mark in shard file path to v. */
static void set_mark(const char *path, int64_t k, unsigned char v) {
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  cr_assert_geq(f, 0, "cannot open %s", path);
  hid_t d = H5Dopen2(f, "qtmscan_state/tiles_done", H5P_DEFAULT);
  cr_assert_geq(d, 0);
  hid_t space = H5Dget_space(d);
  hsize_t start = (hsize_t)k, count = 1;
  cr_assert_geq(H5Sselect_hyperslab(space, H5S_SELECT_SET, &start, NULL, &count, NULL), 0);
  hid_t mem = H5Screate_simple(1, &count, NULL);
  cr_assert_geq(H5Dwrite(d, H5T_NATIVE_UCHAR, mem, space, H5P_DEFAULT, &v), 0);
  H5Sclose(mem);
  H5Sclose(space);
  H5Dclose(d);
  cr_assert_geq(H5Fclose(f), 0);
}

/* Sets the int64 root attribute name of file path to v. */
static void set_attr(const char *path, const char *name, int64_t v) {
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  cr_assert_geq(f, 0, "cannot open %s", path);
  hid_t a = H5Aopen(f, name, H5P_DEFAULT);
  cr_assert_geq(a, 0, "no attribute %s in %s", name, path);
  cr_assert_geq(H5Awrite(a, H5T_NATIVE_INT64, &v), 0);
  H5Aclose(a);
  cr_assert_geq(H5Fclose(f), 0);
}

/* A shard that claims a tile it never wrote (tile 11 moved from the next shard's slab to its
 * own, attributes and marks alike, so that together they still hold every tile once) is
 * damaged: the merge names the shard, the map and the tile, on every HDF5 version (1.10 fails
 * the chunk's lookup, later ones report size 0), and leaves OUT unwritten. */
Test(shards, a_shard_missing_a_marked_chunk_is_refused) {
  char cfg[300], out[300], *err = NULL;
  write_config(cfg, sizeof cfg, "scan.yaml", config_text);
  char shard[2][300];
  run_shards(cfg, 2, shard); /* 22 tiles: shard 0 holds 0-10, shard 1 11-21 */
  set_attr(shard[0], "shard_end_tile", 12);
  set_mark(shard[0], 11, 1);
  set_attr(shard[1], "shard_first_tile", 12);
  set_mark(shard[1], 11, 0);
  in_dir(out, sizeof out, "m.h5");
  cr_expect_neq(merge(out, 2, shard, NULL, &err), 0);
  cr_expect(strstr(err, "s.shard-0-of-2.h5: map J has no chunk for tile 11, which the shard "
                        "marks done (damaged)"),
            "%s", err);
  cr_expect(!exists(out));
  free(err);
}

Test(shards, a_shard_of_another_config_is_refused) {
  char cfg[300], other[300], out[300], *err = NULL;
  write_config(cfg, sizeof cfg, "scan.yaml", config_text);
  char *text = strdup(config_text);
  char *at = strstr(text, "gammaR: 0.02");
  memcpy(at, "gammaR: 0.03", 12);
  write_config(other, sizeof other, "other.yaml", text);
  free(text);
  char shard[3][300], foreign[3][300];
  run_shards(cfg, 3, shard);
  in_dir(out, sizeof out, "o.h5");
  cr_assert_eq(qtmscan(NULL, "run", other, "-o", out, "--shard", "1/3", "--quiet", NULL), 0);
  in_dir(foreign[1], sizeof foreign[1], "o.shard-1-of-3.h5");
  memcpy(shard[1], foreign[1], sizeof shard[1]);
  in_dir(out, sizeof out, "m.h5");
  cr_expect_eq(merge(out, 3, shard, NULL, &err), 2);
  cr_expect(strstr(err, "o.shard-1-of-3.h5 is a shard of another config"), "%s", err);
  cr_expect(!exists(out));
  free(err);
}

/* Inputs that are not finished shards: each refused with status 1 and a message naming the
 * file; an existing OUT is left byte for byte as it was, even with --force. */
Test(shards, what_is_not_a_finished_shard_is_refused) {
  char cfg[300], out[300], bad[300], cmd[800];
  write_config(cfg, sizeof cfg, "scan.yaml", config_text);
  char shard[3][300];
  run_shards(cfg, 3, shard);
  in_dir(out, sizeof out, "keep.h5");
  write_text(out, "an earlier result that must survive\n");
  struct {
    const char *name, *expect;
  } cases[] = {
      {"truncated.h5", "truncated"},
      {"foreign.h5", "not a qtmscan file"},
      {"text.h5", "not an HDF5 file"},
      {"adir.h5", "is a directory"},
      {"whole.h5", "not a shard"},
      {"missing.h5", "No such file"},
  };
  in_dir(bad, sizeof bad, "truncated.h5");
  snprintf(cmd, sizeof cmd, "head -c 3000 %s > %s", shard[1], bad);
  cr_assert_eq(system(cmd), 0);
  in_dir(bad, sizeof bad, "foreign.h5");
  hid_t f = H5Fcreate(bad, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  cr_assert_geq(f, 0);
  H5Fclose(f);
  in_dir(bad, sizeof bad, "text.h5");
  write_text(bad, "J,contrast\n1,2\n");
  in_dir(bad, sizeof bad, "adir.h5");
  cr_assert_eq(mkdir(bad, 0755), 0);
  in_dir(bad, sizeof bad, "whole.h5");
  cr_assert_eq(qtmscan(NULL, "run", cfg, "-o", bad, "--quiet", NULL), 0);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    char given[3][300], *err = NULL;
    memcpy(given, shard, sizeof given);
    in_dir(given[1], sizeof given[1], "%s", cases[i].name);
    cr_expect_eq(merge(out, 3, given, "--force", &err), 1, "%s: %s", cases[i].name, err);
    cr_expect(strstr(err, cases[i].name) && strstr(err, cases[i].expect), "%s: %s",
              cases[i].name, err);
    size_t n = 0;
    FILE *kept = fopen(out, "r");
    char buf[128] = "";
    cr_assert_not_null(kept);
    n = fread(buf, 1, sizeof buf - 1, kept);
    fclose(kept);
    buf[n] = '\0';
    cr_expect_str_eq(buf, "an earlier result that must survive\n", "OUT changed (%s)",
                     cases[i].name);
    free(err);
  }
  /* an unfinished shard: its partial file */
  char partial[320], *err = NULL, given[3][300];
  memcpy(given, shard, sizeof given);
  snprintf(partial, sizeof partial, "%s/s.shard-1-of-3.h5.partial", dir);
  snprintf(cmd, sizeof cmd, "cp %s %s", shard[1], partial);
  cr_assert_eq(system(cmd), 0);
  hid_t p = H5Fopen(partial, H5F_ACC_RDWR, H5P_DEFAULT);
  cr_assert_geq(p, 0);
  cr_assert_geq(H5Adelete(p, "complete"), 0);
  H5Fclose(p);
  memcpy(given[1], partial, sizeof given[1]);
  cr_expect_eq(merge(out, 3, given, "--force", &err), 1);
  cr_expect(strstr(err, "unfinished shard"), "%s", err);
  free(err);
  /* and an existing OUT without --force */
  cr_expect_eq(merge(out, 3, shard, NULL, &err), 2);
  cr_expect(strstr(err, "exists"), "%s", err);
  free(err);
}

/* A shard killed by SIGTERM, then resumed, merges into the single run's file. */
Test(shards, a_killed_and_resumed_shard_merges_alike) {
  char cfg[300], ref[300], out[300], partial[320];
  write_config(cfg, sizeof cfg, "scan.yaml", config_text);
  single_run(cfg, ref, sizeof ref);
  char shard[3][300];
  run_shards(cfg, 3, shard);
  cr_assert_eq(unlink(shard[1]), 0);
  in_dir(out, sizeof out, "s.h5");
  snprintf(partial, sizeof partial, "%s.partial", shard[1]);
  const char *argv[] = {QTMSCAN_EXE, "run", cfg, "-o", out, "--shard", "1/3", "--backend",
                        "cpu", "--quiet", NULL};
  pid_t pid = qtm_proc_start(argv);
  cr_assert_gt(pid, 0);
  struct timespec step = {0, 1000000};
  for (int i = 0; i < 10000 && !exists(partial) && !exists(shard[1]); ++i) nanosleep(&step, NULL);
  kill(pid, SIGTERM);
  int status = qtm_proc_wait(pid);
  cr_assert(status == 3 || status == 0, "status %d", status);
  if (status == 3) cr_expect(exists(partial) && !exists(shard[1]));
  cr_assert_eq(qtmscan(NULL, "run", cfg, "-o", out, "--shard", "1/3", "--resume", "--quiet",
                       NULL),
               0);
  char merged[300];
  in_dir(merged, sizeof merged, "m.h5");
  cr_assert_eq(merge(merged, 3, shard, NULL, NULL), 0);
  expect_same_data(ref, merged, "a resumed shard");
}

/* A shard's partial file continues only that shard. */
Test(shards, resume_refuses_a_partial_of_another_shard) {
  char cfg[300], out[300], from[300], to[320], cmd[1000], *err = NULL;
  write_config(cfg, sizeof cfg, "scan.yaml", config_text);
  char shard[3][300];
  run_shards(cfg, 3, shard);
  in_dir(from, sizeof from, "s.shard-0-of-3.h5");
  hid_t f = H5Fopen(from, H5F_ACC_RDWR, H5P_DEFAULT);
  cr_assert_geq(f, 0);
  cr_assert_geq(H5Adelete(f, "complete"), 0);
  H5Fclose(f);
  snprintf(to, sizeof to, "%s.partial", shard[2]);
  snprintf(cmd, sizeof cmd, "mv %s %s && rm %s", from, to, shard[2]);
  cr_assert_eq(system(cmd), 0);
  in_dir(out, sizeof out, "s.h5");
  cr_expect_eq(qtmscan(&err, "run", cfg, "-o", out, "--shard", "2/3", "--resume", NULL), 2);
  cr_expect(strstr(err, "holds shard 0 of 3; this run is shard 2 of 3"), "%s", err);
  free(err);
}

Test(shards, shard_auto_reads_the_slurm_array_variables) {
  char cfg[300], out[300], expect[300], *err = NULL;
  write_config(cfg, sizeof cfg, "scan.yaml", config_text);
  in_dir(out, sizeof out, "a.h5");
  setenv("SLURM_ARRAY_TASK_ID", "5", 1);
  setenv("SLURM_ARRAY_TASK_MIN", "4", 1);
  setenv("SLURM_ARRAY_TASK_COUNT", "3", 1);
  cr_assert_eq(qtmscan(NULL, "run", cfg, "-o", out, "--shard", "auto", "--quiet", NULL), 0);
  in_dir(expect, sizeof expect, "a.shard-1-of-3.h5");
  cr_expect(exists(expect), "auto did not make shard 1 of 3");
  setenv("SLURM_ARRAY_TASK_ID", "8", 1); /* --array=4-8:2 has 3 tasks but 8 - 4 = 4 */
  cr_expect_eq(qtmscan(&err, "run", cfg, "-o", out, "--shard", "auto", NULL), 2);
  cr_expect(strstr(err, "must be contiguous"), "%s", err);
  free(err);
  unsetenv("SLURM_ARRAY_TASK_ID");
  cr_expect_eq(qtmscan(&err, "run", cfg, "-o", out, "--shard", "auto", NULL), 2);
  cr_expect(strstr(err, "SLURM_ARRAY_TASK_ID is not set"), "%s", err);
  free(err);
  /* auto/N: K is the task id itself, as when one task of --array=0-2 is submitted again */
  setenv("SLURM_ARRAY_TASK_ID", "2", 1);
  setenv("SLURM_ARRAY_TASK_MIN", "2", 1);
  setenv("SLURM_ARRAY_TASK_MAX", "2", 1);
  setenv("SLURM_ARRAY_TASK_COUNT", "1", 1);
  cr_assert_eq(qtmscan(NULL, "run", cfg, "-o", out, "--shard", "auto/3", "--quiet", NULL), 0);
  in_dir(expect, sizeof expect, "a.shard-2-of-3.h5");
  cr_expect(exists(expect), "auto/3 in task 2 did not make shard 2 of 3");
  cr_expect_eq(qtmscan(&err, "run", cfg, "-o", out, "--shard", "auto/2", NULL), 2);
  cr_expect(strstr(err, "is not one of 0..1"), "%s", err);
  free(err);
  setenv("SLURM_ARRAY_TASK_MAX", "9", 1); /* --array=2,9: two tasks, not contiguous */
  setenv("SLURM_ARRAY_TASK_COUNT", "2", 1);
  cr_expect_eq(qtmscan(&err, "run", cfg, "-o", out, "--shard", "auto", NULL), 2);
  cr_expect(strstr(err, "must be contiguous"), "%s", err);
  free(err);
  const char *bad[] = {"3/3", "-1/3", "1/0", "1", "a/b", "1/3x", "auto/0", "auto/x"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
    cr_expect_eq(qtmscan(&err, "run", cfg, "-o", out, "--shard", bad[i], NULL), 2, "%s", bad[i]);
    cr_expect(strstr(err, "--shard"), "%s: %s", bad[i], err);
    free(err);
  }
}
