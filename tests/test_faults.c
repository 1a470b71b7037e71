/* Faults and bad input of a batch job (issue 5): a full disk, an unwritable directory, an
 * output path that is a directory, configs that are empty, binary, malformed, missing or a
 * directory, `qtmscan info` on truncated, foreign, text, missing files and directories, and
 * `qtmscan run --resume` of a partial file that is truncated, foreign, text or a directory.
 * Each ends with the status the README gives (2 bad input, 1 any other failure), exactly one
 * error line naming the problem and the path, no file at the output path, and every file
 * that existed before byte for byte the same. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

enum { EXIT_BAD_INPUT = 2, EXIT_FAILED = 1 };

static char dir[64];

static void make_dir(void) { qtm_scratch_make(dir, sizeof dir, "faults"); }
static void remove_dir(void) { qtm_scratch_remove(dir); }

TestSuite(faults, .init = make_dir, .fini = remove_dir);

static void in_dir(char *buf, size_t cap, const char *name) {
  snprintf(buf, cap, "%s/%s", dir, name);
}

static void write_bytes(const char *path, const void *bytes, size_t n) {
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f, "cannot write %s", path);
  cr_assert_eq(fwrite(bytes, 1, n, f), n);
  cr_assert_eq(fclose(f), 0);
}

static void write_text(const char *path, const char *text) {
  write_bytes(path, text, strlen(text));
}

static int exists(const char *path) {
  struct stat sb;
  return lstat(path, &sb) == 0;
}

/* ---- Everything under the scratch directory, to compare before and after ----------------- */

static uint64_t fnv1a(const unsigned char *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

/* Appends "path size hash" (files) or "path/" (directories) for everything under path, in
 * name order, to *s. */
static void describe_tree(const char *path, char **s, size_t *len) {
  struct stat sb;
  cr_assert_eq(lstat(path, &sb), 0, "%s vanished", path);
  char line[700];
  if (S_ISDIR(sb.st_mode)) {
    snprintf(line, sizeof line, "%s/ %o\n", path, (unsigned)(sb.st_mode & 07777));
  } else {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot read %s", path);
    unsigned char *buf = malloc((size_t)sb.st_size + 1);
    cr_assert_not_null(buf);
    size_t got = fread(buf, 1, (size_t)sb.st_size, f);
    fclose(f);
    snprintf(line, sizeof line, "%s %zu %016llx\n", path, got,
             (unsigned long long)fnv1a(buf, got));
    free(buf);
  }
  size_t n = strlen(line);
  *s = realloc(*s, *len + n + 1);
  cr_assert_not_null(*s);
  memcpy(*s + *len, line, n + 1);
  *len += n;
  if (!S_ISDIR(sb.st_mode)) return;
  struct dirent **names = NULL;
  int count = scandir(path, &names, NULL, alphasort);
  cr_assert_geq(count, 0, "cannot list %s", path);
  for (int i = 0; i < count; ++i) {
    if (strcmp(names[i]->d_name, ".") && strcmp(names[i]->d_name, "..")) {
      char sub[512];
      snprintf(sub, sizeof sub, "%s/%s", path, names[i]->d_name);
      describe_tree(sub, s, len);
    }
    free(names[i]);
  }
  free(names);
}

static char *snapshot(void) {
  char *s = NULL;
  size_t len = 0;
  describe_tree(dir, &s, &len);
  return s;
}

/* Nothing under the scratch directory changed, appeared or went since `before` (freed). */
static void expect_unchanged(char *before, const char *what) {
  char *after = snapshot();
  cr_expect_str_eq(after, before, "%s changed the files:\nbefore:\n%s\nafter:\n%s", what, before,
                   after);
  free(after);
  free(before);
}

/* ---- Running qtmscan ----------------------------------------------------------------------- */

static char *slurp(FILE *f) {
  cr_assert_eq(fseek(f, 0, SEEK_END), 0);
  long size = ftell(f);
  cr_assert_geq(size, 0);
  rewind(f);
  char *buf = malloc((size_t)size + 1);
  cr_assert_not_null(buf);
  buf[fread(buf, 1, (size_t)size, f)] = '\0';
  return buf;
}

/* Runs `qtmscan ARGS...` (NULL-terminated) to completion; with fsize > 0, under a file size
 * limit of fsize bytes (RLIMIT_FSIZE, as `ulimit -f` sets it) and SIGXFSZ ignored, so that a
 * write past the limit fails with EFBIG as a write to a full disk fails with ENOSPC. */
static qtm_proc run_limited(rlim_t fsize, const char *first, ...) {
  const char *argv[32] = {QTMSCAN_EXE};
  int n = 1;
  va_list ap;
  va_start(ap, first);
  for (const char *s = first; s && n < 31; s = va_arg(ap, const char *)) argv[n++] = s;
  va_end(ap);
  argv[n] = NULL;
  FILE *out = tmpfile(), *err = tmpfile();
  cr_assert(out && err, "tmpfile failed");
  fflush(NULL);
  pid_t pid = fork();
  cr_assert_geq(pid, 0, "fork failed");
  if (pid == 0) {
    if (fsize > 0) {
      struct rlimit rl = {fsize, fsize};
      if (signal(SIGXFSZ, SIG_IGN) == SIG_ERR || setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(125);
    }
    if (dup2(fileno(out), STDOUT_FILENO) < 0 || dup2(fileno(err), STDERR_FILENO) < 0) _exit(126);
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  int ws = 0;
  cr_assert_eq(waitpid(pid, &ws, 0), pid);
  qtm_proc r = {WIFEXITED(ws) ? WEXITSTATUS(ws) : -1, WIFSIGNALED(ws) ? WTERMSIG(ws) : 0,
                slurp(out), slurp(err)};
  fclose(out);
  fclose(err);
  return r;
}

#define qtmscan(...) run_limited(0, __VA_ARGS__)

/* The run ended with `status`, wrote nothing to stdout, and said exactly `lines` on stderr
 * (printf format; each line ends with '\n'). */
static void expect_failure(qtm_proc *r, int status, const char *lines, ...) {
  char want[4096];
  va_list ap;
  va_start(ap, lines);
  vsnprintf(want, sizeof want, lines, ap);
  va_end(ap);
  cr_expect_eq(r->signal, 0, "killed by signal %d; stderr: %s", r->signal, r->err);
  cr_expect_eq(r->status, status, "exit status %d, want %d; stderr: %s", r->status, status,
               r->err);
  cr_expect_str_eq(r->err, want, "stderr:\n%s\nwant:\n%s", r->err, want);
  cr_expect_str_empty(r->out, "stdout: %s", r->out);
  qtm_proc_free(r);
}

/* ---- qtmscan run ----------------------------------------------------------------------------- */

/* 4 float64 maps of 300 x 1000 points in tiles of 4096: 9.6 MB, more than HDF5's chunk cache
 * holds, so tiles reach the disk while the scan runs (about 0.2 s). */
static void scan_config(char *cfg, size_t cap, const char *out) {
  char text[1024];
  snprintf(text, sizeof text,
           "axes:\n  - TL: {lin: [0.01, 5.0, 300]}\n  - gamma_ratio: {log: [0.01, 1, 1000]}\n"
           "fixed: {TR: 0.1, gammaR: 0.02, g: 0.3}\n"
           "observables: [J, J_rev, contrast, contrast_global]\n"
           "output: {path: %s, dtype: float64, tile_points: 4096}\n",
           out);
  in_dir(cfg, cap, "scan.yaml");
  write_text(cfg, text);
}

static long file_size(const char *path) {
  struct stat sb;
  cr_assert_eq(stat(path, &sb), 0, "no %s", path);
  return (long)sb.st_size;
}

/* Removes the progress summary ("qtmscan: 300000 points in 0:00:00 (...)", printed when every
 * tile was evaluated and written) from stderr; returns whether it was there. */
static int drop_progress(char *err) {
  char *at = strstr(err, " points in ");
  if (!at || strncmp(err, "qtmscan: ", 9) != 0 || memchr(err, '\n', (size_t)(at - err))) return 0;
  char *end = strchr(at, '\n');
  cr_assert_not_null(end);
  memmove(err, end + 1, strlen(end + 1) + 1);
  return 1;
}

/* Disk full at three moments: while the file is created, while tiles are written, and at the
 * end. The existing OUT stays as it was (even with --force), nothing looking complete appears,
 * and a .partial that stays is said to stay. */
Test(faults, disk_full_fails_and_keeps_the_output) {
  char cfg[256], out[256], partial[300];
  in_dir(out, sizeof out, "scan.h5");
  snprintf(partial, sizeof partial, "%s.partial", out);
  scan_config(cfg, sizeof cfg, out);
  qtm_proc r = qtmscan("run", cfg, "--backend", "cpu", "--quiet", NULL);
  cr_assert_eq(r.status, 0, "the scan itself failed: %s", r.err);
  qtm_proc_free(&r);
  long full = file_size(out);

  /* The limit, whether a .partial stays, whether every tile was written (-1: either; near the
   * end, that depends on how much metadata the writer flushes with each tile). */
  const struct {
    rlim_t limit;
    int partial_left, tiles_done;
  } cases[3] = {{16 << 10, 0, 0}, {(rlim_t)full / 3, 1, 0}, {(rlim_t)full - 4096, 1, -1}};
  for (int i = 0; i < 3; ++i) {
    char *before = snapshot();
    r = run_limited(cases[i].limit, "run", cfg, "--backend", "cpu", "--force", NULL);
    int tiles_done = drop_progress(r.err);
    if (cases[i].tiles_done >= 0)
      cr_expect_eq(tiles_done, cases[i].tiles_done, "limit %llu: stderr %s",
                   (unsigned long long)cases[i].limit, r.err);
    char said[600] = "";
    if (cases[i].partial_left)
      snprintf(said, sizeof said, "qtmscan: the incomplete result stays in %s\n", partial);
    expect_failure(&r, EXIT_FAILED, "%sqtmscan run: cannot write %s: %s\n", said, partial,
                   strerror(EFBIG));
    cr_expect_eq(exists(partial), cases[i].partial_left, "limit %llu",
                 (unsigned long long)cases[i].limit);
    if (exists(partial)) {
      /* Not a scan that looks finished: `qtmscan info` refuses it or says it is incomplete. */
      qtm_proc i2 = qtmscan("info", partial, NULL);
      cr_expect(i2.status != 0 || strstr(i2.out, "NOT complete"),
                "the partial file of a failed scan looks complete:\n%s", i2.out);
      qtm_proc_free(&i2);
      cr_assert_eq(unlink(partial), 0);
    }
    expect_unchanged(before, "a scan that ran out of disk");
  }

  /* The same without an existing output: nothing appears at OUT. */
  cr_assert_eq(unlink(out), 0);
  char *before = snapshot();
  r = run_limited(cases[1].limit, "run", cfg, "--backend", "cpu", "--quiet", NULL);
  expect_failure(&r, EXIT_FAILED, "qtmscan run: cannot write %s: %s\n", partial, strerror(EFBIG));
  cr_expect(!exists(out), "a scan that ran out of disk left a file at the output path");
  unlink(partial);
  expect_unchanged(before, "a scan that ran out of disk");
}

/* A directory the scan cannot create files in. chmod 0555 does not stop root, who runs the
 * tests here; /sys does (sysfs creates no files, for root neither), and nothing is written
 * there. The expected error is the one a plain open(O_CREAT) meets in the same place. */
Test(faults, unwritable_output_directory) {
  char ro[256], kept[300], probe[300], out[300], cfg[256];
  in_dir(ro, sizeof ro, "readonly");
  cr_assert_eq(mkdir(ro, 0755), 0);
  snprintf(kept, sizeof kept, "%s/kept.h5", ro);
  write_text(kept, "an earlier result\n");
  cr_assert_eq(chmod(ro, 0555), 0);
  const char *target = ro;
  snprintf(probe, sizeof probe, "%s/probe", ro);
  int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (fd >= 0) { /* root: permissions do not bite */
    close(fd);
    unlink(probe);
    target = "/sys";
    snprintf(probe, sizeof probe, "/sys/qtm_faults_probe_%ld", (long)getpid());
    fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd >= 0) {
      close(fd);
      unlink(probe);
      cr_skip_test("no unwritable directory here: %s and /sys both take new files", ro);
    }
  }
  int why = errno;
  snprintf(out, sizeof out, "%s/scan_%ld.h5", target, (long)getpid());
  scan_config(cfg, sizeof cfg, out);

  char *before = snapshot();
  qtm_proc r = qtmscan("run", cfg, "--backend", "cpu", "--quiet", NULL);
  expect_failure(&r, EXIT_FAILED, "qtmscan run: H5Fcreate %s.partial: %s\n", out, strerror(why));
  cr_expect(!exists(out), "a file appeared at the output path");
  expect_unchanged(before, "a scan into an unwritable directory");

  /* --force onto a file that is there: it stays. */
  if (target == ro) {
    before = snapshot();
    r = qtmscan("run", cfg, "--backend", "cpu", "--quiet", "--force", "-o", kept, NULL);
    expect_failure(&r, EXIT_FAILED, "qtmscan run: H5Fcreate %s.partial: %s\n", kept,
                   strerror(why));
    expect_unchanged(before, "a scan into an unwritable directory with --force");
  }
}

Test(faults, output_path_is_a_directory) {
  char out[256], inside[300], cfg[256];
  in_dir(out, sizeof out, "scan.h5");
  cr_assert_eq(mkdir(out, 0755), 0);
  snprintf(inside, sizeof inside, "%s/notes.txt", out);
  write_text(inside, "not to be touched\n");
  scan_config(cfg, sizeof cfg, out);
  char *before = snapshot();
  qtm_proc r = qtmscan("run", cfg, "--backend", "cpu", "--quiet", NULL);
  expect_failure(&r, EXIT_FAILED, "qtmscan run: the output path %s is a directory\n", out);
  r = qtmscan("run", cfg, "--backend", "cpu", "--quiet", "--force", NULL);
  expect_failure(&r, EXIT_FAILED, "qtmscan run: the output path %s is a directory\n", out);
  expect_unchanged(before, "a scan whose output path is a directory");
}

/* Runs `qtmscan run CONFIG -o OUT` on a config holding `n` bytes and expects `status` and
 * stderr "qtmscan run: CONFIG<rest>\n", with nothing written. */
static void expect_config_refused(const void *bytes, size_t n, int status, const char *rest) {
  char cfg[256], out[256];
  in_dir(cfg, sizeof cfg, "scan.yaml");
  in_dir(out, sizeof out, "scan.h5");
  write_bytes(cfg, bytes, n);
  char *before = snapshot();
  qtm_proc r = qtmscan("run", cfg, "-o", out, "--backend", "cpu", "--quiet", NULL);
  expect_failure(&r, status, "qtmscan run: %s%s\n", cfg, rest);
  expect_unchanged(before, "a refused config");
}

Test(faults, config_of_zero_bytes) {
  expect_config_refused("", 0, EXIT_BAD_INPUT,
                        ":1:1: the file holds no YAML document (it is empty or only comments); a "
                        "config is a mapping with the keys axes, fixed, observables and output");
}

Test(faults, config_of_binary_garbage) {
  /* the start of an image */
  static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13,
                                      'I',  'H', 'D', 'R', 0,    0,    1,    0};
  expect_config_refused(png, sizeof png, EXIT_BAD_INPUT,
                        ":3:1: a NUL byte: this is not a YAML text");
}

/* A device or a huge data file given as the config: refused after 64 MiB, not read until the
 * memory runs out. */
Test(faults, config_that_never_ends) {
  char out[256];
  in_dir(out, sizeof out, "scan.h5");
  char *before = snapshot();
  qtm_proc r = qtmscan("run", "/dev/zero", "-o", out, "--quiet", NULL);
  expect_failure(&r, EXIT_BAD_INPUT,
                 "qtmscan run: /dev/zero: longer than 64 MiB: this is not a scan config\n");
  expect_unchanged(before, "an endless config");
}

Test(faults, config_with_an_unterminated_flow_mapping) {
  static const char text[] = "axes: []\nobservables: [J]\noutput: {path: x.h5, dtype: float64\n";
  expect_config_refused(text, sizeof text - 1, EXIT_BAD_INPUT,
                        ":4:1: invalid YAML: missing comma in flow mapping");
}

Test(faults, config_that_does_not_exist) {
  char cfg[256], out[256];
  in_dir(cfg, sizeof cfg, "absent.yaml");
  in_dir(out, sizeof out, "scan.h5");
  char *before = snapshot();
  qtm_proc r = qtmscan("run", cfg, "-o", out, "--quiet", NULL);
  expect_failure(&r, EXIT_FAILED, "qtmscan run: %s: %s\n", cfg, strerror(ENOENT));
  expect_unchanged(before, "a missing config");
}

Test(faults, config_that_is_a_directory) {
  char cfg[256], out[256];
  in_dir(cfg, sizeof cfg, "configs.yaml");
  cr_assert_eq(mkdir(cfg, 0755), 0);
  in_dir(out, sizeof out, "scan.h5");
  char *before = snapshot();
  qtm_proc r = qtmscan("run", cfg, "-o", out, "--quiet", NULL);
  expect_failure(&r, EXIT_FAILED, "qtmscan run: %s: %s\n", cfg, strerror(EISDIR));
  expect_unchanged(before, "a config that is a directory");
}

/* ---- qtmscan info ------------------------------------------------------------------------ */

/* `qtmscan info PATH` fails with status 1 and "qtmscan info: PATH<rest>", reading only. */
static void expect_info_refused(const char *path, const char *rest) {
  char *before = snapshot();
  qtm_proc r = qtmscan("info", path, NULL);
  expect_failure(&r, EXIT_FAILED, "qtmscan info: %s%s\n", path, rest);
  expect_unchanged(before, "qtmscan info");
}

/* The first n bytes of file `from` as file `to`: a file cut short, as a full disk or a killed
 * copy leaves it. */
static void copy_prefix(const char *from, const char *to, long n) {
  FILE *f = fopen(from, "rb");
  cr_assert_not_null(f);
  unsigned char *buf = malloc((size_t)n);
  cr_assert_not_null(buf);
  cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  write_bytes(to, buf, (size_t)n);
  free(buf);
}

Test(faults, info_on_a_truncated_scan) {
  char cfg[256], out[256], cut[256];
  in_dir(out, sizeof out, "scan.h5");
  in_dir(cut, sizeof cut, "cut.h5");
  scan_config(cfg, sizeof cfg, out);
  qtm_proc r = qtmscan("run", cfg, "--backend", "cpu", "--quiet", NULL);
  cr_assert_eq(r.status, 0, "%s", r.err);
  qtm_proc_free(&r);
  long full = file_size(out);
  copy_prefix(out, cut, full / 2);
  char rest[128];
  snprintf(rest, sizeof rest, ": truncated HDF5 file: %ld of its %ld bytes", full / 2, full);
  expect_info_refused(cut, rest);
}

Test(faults, info_on_a_foreign_hdf5_file) {
  char path[256];
  in_dir(path, sizeof path, "other.h5");
  hid_t f = H5Fcreate(path, H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
  cr_assert_geq(f, 0);
  hsize_t dims[2] = {3, 4};
  int values[12] = {0};
  hid_t space = H5Screate_simple(2, dims, NULL);
  hid_t d = H5Dcreate2(f, "image", H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  cr_assert_geq(d, 0);
  cr_assert_geq(H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values), 0);
  hid_t g = H5Gcreate2(f, "J", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT); /* a map's name */
  cr_assert_geq(g, 0);
  H5Gclose(g);
  H5Dclose(d);
  H5Sclose(space);
  cr_assert_geq(H5Fclose(f), 0);
  expect_info_refused(path, ": not a qtmscan file (no qtmscan_version attribute)");
}

Test(faults, info_on_a_text_file) {
  char path[256];
  in_dir(path, sizeof path, "notes.h5");
  write_text(path, "TL,J\n0.1,0.002\n");
  expect_info_refused(path, ": not an HDF5 file");
}

Test(faults, info_on_a_missing_file) {
  char path[256];
  in_dir(path, sizeof path, "absent.h5");
  char rest[128];
  snprintf(rest, sizeof rest, ": %s", strerror(ENOENT));
  expect_info_refused(path, rest);
}

Test(faults, info_on_a_directory) {
  char path[256];
  in_dir(path, sizeof path, "scans.h5");
  cr_assert_eq(mkdir(path, 0755), 0);
  expect_info_refused(path, ": is a directory, not a scan file");
}

/* ---- qtmscan run --resume -------------------------------------------------------------------- */

/* `run --resume` with OUT.partial replaced by `what`: status 1, one line naming the partial
 * file and the problem, nothing written, every file as it was. */
static void expect_resume_refused(void (*make)(const char *partial, const char *whole),
                                  const char *problem) {
  char cfg[256], out[256], whole[256], partial[300];
  in_dir(whole, sizeof whole, "whole.h5");
  scan_config(cfg, sizeof cfg, whole);
  qtm_proc r = qtmscan("run", cfg, "--backend", "cpu", "--quiet", NULL);
  cr_assert_eq(r.status, 0, "%s", r.err);
  qtm_proc_free(&r);
  in_dir(out, sizeof out, "scan.h5");
  snprintf(partial, sizeof partial, "%s.partial", out);
  make(partial, whole);
  char *before = snapshot();
  r = qtmscan("run", cfg, "-o", out, "--resume", "--backend", "cpu", "--quiet", NULL);
  cr_expect_eq(r.status, EXIT_FAILED, "status %d: %s", r.status, r.err);
  cr_expect(strncmp(r.err, "qtmscan run: ", 13) == 0 && strstr(r.err, partial) &&
                strstr(r.err, problem) && strchr(r.err, '\n') == r.err + strlen(r.err) - 1,
            "stderr: %s (want one line naming %s and \"%s\")", r.err, partial, problem);
  qtm_proc_free(&r);
  expect_unchanged(before, "qtmscan run --resume");
  cr_expect(access(out, F_OK) != 0, "%s appeared", out);
}

static void truncated_copy(const char *partial, const char *whole) {
  copy_prefix(whole, partial, file_size(whole) / 3);
}

static void foreign_file(const char *partial, const char *whole) {
  (void)whole;
  hid_t f = H5Fcreate(partial, H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
  cr_assert_geq(f, 0);
  cr_assert_geq(H5Fclose(f), 0);
}

static void text_file(const char *partial, const char *whole) {
  (void)whole;
  write_text(partial, "TL,J\n0.1,0.002\n");
}

static void directory(const char *partial, const char *whole) {
  (void)whole;
  cr_assert_eq(mkdir(partial, 0755), 0);
}

Test(faults, resume_of_a_truncated_partial) {
  expect_resume_refused(truncated_copy, "truncated file");
}

Test(faults, resume_of_a_foreign_hdf5_partial) {
  expect_resume_refused(foreign_file, "not a qtmscan file");
}

Test(faults, resume_of_a_text_partial) { expect_resume_refused(text_file, "not an HDF5 file"); }

Test(faults, resume_of_a_partial_that_is_a_directory) {
  expect_resume_refused(directory, "is a directory");
}
