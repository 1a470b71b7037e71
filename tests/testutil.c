/* Seeded random numbers and error measures for the tests. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

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
