/* Helpers shared by the test programs: a seeded random generator (seed printed, overridable
 * with QTM_TEST_SEED so that a failure can be replayed) and error measures. */
#ifndef QTM_TESTUTIL_H
#define QTM_TESTUTIL_H

#include <stdint.h>
#include <sys/types.h>

#include "qtm/observables.h"
#include "qtm/params.h"

typedef struct qtm_rng {
  uint64_t state;
} qtm_rng;

/* Seeds from QTM_TEST_SEED when set, else from `fallback`; prints the seed used to stderr
 * with `who` so a failing run can be reproduced. */
void qtm_rng_init(qtm_rng *r, uint64_t fallback, const char *who);
uint64_t qtm_rng_next(qtm_rng *r);
double qtm_rng_uniform(qtm_rng *r);                    /* [0, 1) */
double qtm_rng_range(qtm_rng *r, double lo, double hi); /* uniform in [lo, hi) */
double qtm_rng_log(qtm_rng *r, double lo, double hi);   /* log-uniform in [lo, hi), lo > 0 */

/* |x - y| / max(|x|, |y|), 0 when both are 0, inf when exactly one is NaN. */
double qtm_relerr(double x, double y);

/* ---- Tolerances of the device-vs-host parity tests -------------------------------------- */

/* 1 when some mode frequency over some temperature the formulas use gives w/T in (300, 800),
 * where one ulp of a device's exp decides subnormal results and underflow (testutil.c). */
int qtm_test_near_underflow(const qtm_params *p);
/* Size of the terms observable k is a difference of where that difference can cancel, 0
 * elsewhere: parity errors are measured relative to it (testutil.c). */
double qtm_test_cancel_scale(const qtm_params *p, const qtm_obs *o, int k);

/* A finished child process: exit status (-1 when it did not exit normally), the signal that
 * ended it (0 if none), and everything it wrote. */
typedef struct qtm_proc {
  int status;
  int signal;
  char *out, *err;
} qtm_proc;

/* Runs argv (argv[0] the program's path, NULL-terminated) to completion, capturing stdout
 * (into stdout_path instead when that is non-NULL, leaving r->out empty) and stderr.
 * Returns 0, or -1 when the process could not be run. */
int qtm_proc_run(const char *const *argv, const char *stdout_path, qtm_proc *r);
/* Starts argv in the background with stdout and stderr to /dev/null; returns its pid or -1. */
pid_t qtm_proc_start(const char *const *argv);
/* Waits for pid; returns its exit status, or 128 + signal when a signal ended it. */
int qtm_proc_wait(pid_t pid);
void qtm_proc_free(qtm_proc *r);

/* A new, empty scratch directory /tmp/qtm_<name>_XXXXXX, its path in dir (cap >= 64). */
void qtm_scratch_make(char *dir, size_t cap, const char *name);
/* rm -r of path, made writable first (a test may take write permission away); quiet. */
void qtm_scratch_remove(const char *path);

#endif
