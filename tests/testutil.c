/* Seeded random numbers and error measures for the tests. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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
