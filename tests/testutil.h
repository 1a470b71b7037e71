/* Helpers shared by the test programs: a seeded random generator (seed printed, overridable
 * with QTM_TEST_SEED so that a failure can be replayed) and error measures. */
#ifndef QTM_TESTUTIL_H
#define QTM_TESTUTIL_H

#include <stdint.h>

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

#endif
