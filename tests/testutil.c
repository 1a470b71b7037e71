/* Seeded random numbers and error measures for the tests. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <criterion/criterion.h>

#include "qtm/physics.h"

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

void qtm_rng_init(qtm_rng *r, uint64_t fallback, const char *who) {
  const char *env = getenv("QTM_TEST_SEED");
  r->state = env ? strtoull(env, NULL, 0) : fallback;
  fprintf(stderr, "[%s] random seed %llu (set QTM_TEST_SEED to replay)\n", who,
          (unsigned long long)r->state);
}

/* splitmix64: tiny, fast, and good enough for spreading test points. */
uint64_t qtm_rng_next(qtm_rng *r) {
  uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double qtm_rng_uniform(qtm_rng *r) { return (double)(qtm_rng_next(r) >> 11) * 0x1.0p-53; }

double qtm_rng_range(qtm_rng *r, double lo, double hi) {
  return lo + (hi - lo) * qtm_rng_uniform(r);
}

double qtm_rng_log(qtm_rng *r, double lo, double hi) {
  return exp(qtm_rng_range(r, log(lo), log(hi)));
}

double qtm_relerr(double x, double y) {
  if (isnan(x) != isnan(y)) return INFINITY;
  if (isnan(x)) return 0.0;
  if (x == y) return 0.0;
  double scale = fmax(fabs(x), fabs(y));
  return fabs(x - y) / scale;
}

static char *slurp(FILE *f) {
  if (fseek(f, 0, SEEK_END) != 0) return NULL;
  long size = ftell(f);
  if (size < 0) return NULL;
  rewind(f);
  char *buf = malloc((size_t)size + 1);
  if (!buf) return NULL;
  size_t got = fread(buf, 1, (size_t)size, f);
  buf[got] = '\0';
  return buf;
}

int qtm_proc_run(const char *const *argv, const char *stdout_path, qtm_proc *r) {
  r->status = -1;
  r->signal = 0;
  r->out = r->err = NULL;
  FILE *out = tmpfile(), *err = tmpfile();
  if (!out || !err) {
    if (out) fclose(out);
    if (err) fclose(err);
    return -1;
  }
  fflush(NULL); /* nothing buffered may be written twice by the child */
  pid_t pid = fork();
  if (pid == 0) {
    int fd_out = fileno(out);
    if (stdout_path) {
      fd_out = open(stdout_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd_out < 0) _exit(126);
    }
    if (dup2(fd_out, STDOUT_FILENO) < 0 || dup2(fileno(err), STDERR_FILENO) < 0) _exit(126);
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  int wstatus = 0, rc = -1;
  if (pid > 0 && waitpid(pid, &wstatus, 0) == pid) {
    r->status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
    r->signal = WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0;
    r->out = slurp(out);
    r->err = slurp(err);
    rc = r->out && r->err ? 0 : -1;
  }
  fclose(out);
  fclose(err);
  return rc;
}

pid_t qtm_proc_start(const char *const *argv) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    if (null < 0 || dup2(null, STDOUT_FILENO) < 0 || dup2(null, STDERR_FILENO) < 0) _exit(126);
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  return pid;
}

int qtm_proc_wait(pid_t pid) {
  int wstatus = 0;
  if (waitpid(pid, &wstatus, 0) != pid) return -1;
  if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
  return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
}

void qtm_proc_free(qtm_proc *r) {
  free(r->out);
  free(r->err);
  r->out = r->err = NULL;
}

/* 1 when some mode frequency w (omega, omega + g, omega - g) over some temperature the
 * formulas use (TL, TR, their mean) gives x = w/T in (300, 800). Such points are redrawn: there
 * exp(-x) (x > 708) or a product of two occupations (x > 354) is subnormal, where one ulp of the
 * device's exp is a large relative error, carried into sqrt(p1 p4) and Jc, and decides whether
 * a current underflows to exactly 0, i.e. whether contrast and ratio are NaN. The formulas are
 * right there; the two machines' last bits carry no information. Outside the band, exp(-x) is
 * either >= 1e-130 or exactly 0 on any machine. */
int qtm_test_near_underflow(const qtm_params *p) {
  double w[3] = {p->omega, p->omega + p->g, p->omega - p->g};
  double T[3] = {p->TL, p->TR, 0.5 * (p->TL + p->TR)};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      double x = w[i] / T[j];
      if (w[i] > 0.0 && T[j] > 0.0 && x > 300.0 && x < 800.0) return 1;
    }
  return 0;
}

/* Size of the terms that observable k of point p is the difference of, where that difference
 * can cancel; 0 where it cannot. Where terms of size s cancel to a small result, each machine's
 * few-ulp error is a few ulps of s, not of the result, so the parity error is measured relative
 * to max(|x|, |y|, s). Three observables need it (measured by perturbing the CPU's exp, expm1
 * and log1p by 1-2 ulp and contracting to FMA: up to 1 relative error without it):
 *   contrast with epsL != epsR, |J + J_rev|/|J - J_rev|: terms (|J| + |J_rev|)/|J - J_rev|;
 *   dJ_dTL = pref (cR - b (epsL - eps_a)((1 - alpha)/uL + gL/S)) dnL/dTL (physics.h), whose
 *     bracket changes sign at the NDTC boundary, and whose 1 - alpha cancels where alpha ~ 1:
 *     terms |pref| (|cR| + |b (epsL - eps_a)| ((1 + alpha)/uL + gL/S)) dnL/dTL;
 *   concurrence = 2 max(0, |coherence| - sqrt(p1 p4)): terms 2 (|coherence| + sqrt(p1 p4)).
 * Every other observable is compared by plain relative error. */
double qtm_test_cancel_scale(const qtm_params *p, const qtm_obs *o, int k) {
  switch (k) {
  case QTM_OBS_contrast: {
    double J = o->v[QTM_OBS_J], Jr = o->v[QTM_OBS_J_rev];
    if (p->epsL == p->epsR || J == Jr) return 0.0; /* analytic sum; or 0/0 or x/0 */
    return (fabs(J) + fabs(Jr)) / fabs(J - Jr);
  }
  case QTM_OBS_dJ_dTL: {
    qtm_local r = qtm_local_current(p, p->TL, p->TR);
    double gLgR = p->gammaL * p->gammaR;
    if (gLgR == 0.0 || r.alpha == 0.0) return 0.0;
    qtm_thermal tl = qtm_thermal_at(p->omega, p->TL);
    qtm_thermal tr = qtm_thermal_at(p->omega, p->TR);
    double dnL = qtm_occupation_dT(tl, p->omega, p->epsL);
    double cR = qtm_h(tr, p->epsR) / qtm_h(tr, p->epsL);
    double second = r.b * (p->epsL - p->eps_a) * ((1.0 + r.alpha) / r.uL + p->gammaL / r.S);
    return fabs(2.0 * p->omega * r.alpha * gLgR / r.S) * (fabs(cR) + fabs(second)) * fabs(dnL);
  }
  case QTM_OBS_concurrence: {
    double root = sqrt(o->v[QTM_OBS_p1] * o->v[QTM_OBS_p4]);
    return isnan(root) ? 0.0 : 2.0 * (fabs(o->v[QTM_OBS_coherence]) + root);
  }
  default:
    return 0.0;
  }
}

void qtm_scratch_make(char *dir, size_t cap, const char *name) {
  snprintf(dir, cap, "/tmp/qtm_%s_XXXXXX", name);
  cr_assert_not_null(mkdtemp(dir), "mkdtemp %s failed", dir);
}

void qtm_scratch_remove(const char *path) {
  struct stat sb;
  if (lstat(path, &sb) != 0) return;
  if (!S_ISDIR(sb.st_mode)) {
    unlink(path);
    return;
  }
  chmod(path, 0755);
  DIR *d = opendir(path);
  if (d) {
    struct dirent *e;
    char sub[512];
    while ((e = readdir(d)))
      if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        qtm_scratch_remove(sub);
      }
    closedir(d);
  }
  rmdir(path);
}
