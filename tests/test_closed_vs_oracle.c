/* The closed forms against the independent numerical oracle (steady states of the master
 * equations), at random points over every combination of statistics, low and high
 * temperatures, weak to strong coupling and strongly asymmetric rates.
 * Tolerances (issue 2): currents and coherences |closed - numeric| <= 1e-9 |numeric| +
 * 1e-14 w max(gammaL, gammaR) (the second term is the solver's rounding floor, which only
 * matters where a current is tiny, deep at low T); populations and concurrence 1e-12
 * absolute. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>

#include "qtm/eval.h"
#include "qtm/oracle.h"
#include "qtm/physics.h"
#include "testutil.h"

typedef struct tally {
  int points, failures;
  double worst; /* largest error / tolerance seen */
  char worst_desc[512];
} tally;

static void describe(const qtm_params *p, char *buf, size_t cap) {
  snprintf(buf, cap,
           "omega=%.17g TL=%.17g TR=%.17g gammaL=%.17g gammaR=%.17g g=%.17g epsL=%g epsR=%g "
           "eps_a=%g N=%d",
           p->omega, p->TL, p->TR, p->gammaL, p->gammaR, p->g, p->epsL, p->epsR, p->eps_a, p->N);
}

/* Records |got - want| against tol; prints the first few failures in full. */
static void check(tally *t, const qtm_params *p, const char *what, double got, double want,
                  double tol) {
  double err = fabs(got - want);
  double ratio = err / tol;
  if (isnan(got) || isnan(want)) ratio = (isnan(got) && isnan(want)) ? 0.0 : INFINITY;
  if (ratio > t->worst) {
    t->worst = ratio;
    char pd[320];
    describe(p, pd, sizeof pd);
    snprintf(t->worst_desc, sizeof t->worst_desc, "%s: closed %.17g numeric %.17g at %s", what,
             got, want, pd);
  }
  if (!(ratio <= 1.0)) {
    if (t->failures < 10) {
      char pd[320];
      describe(p, pd, sizeof pd);
      cr_log_error("%s: closed %.17g numeric %.17g (err %.3g > tol %.3g) at %s", what, got, want,
                   err, tol, pd);
    }
    t->failures++;
  }
}

static double current_tol(const qtm_params *p, double numeric) {
  return 1e-9 * fabs(numeric) + 1e-14 * p->omega * fmax(p->gammaL, p->gammaR);
}

/* A random temperature over low (0.01 w) to high (100 w), sometimes exactly 0. */
static double random_temperature(qtm_rng *r) {
  double u = qtm_rng_uniform(r);
  if (u < 0.04) return 0.0;
  return qtm_rng_log(r, 0.01, 100.0);
}

static void random_point(qtm_rng *r, qtm_params *p, double epsL, double epsR, double eps_a) {
  qtm_params_default(p);
  p->omega = qtm_rng_log(r, 0.5, 2.0);
  p->TL = random_temperature(r) * p->omega;
  p->TR = random_temperature(r) * p->omega;
  if (p->TL == 0.0 && p->TR == 0.0) p->TL = 0.3 * p->omega;
  if (qtm_rng_uniform(r) < 0.05) p->TR = p->TL * (1 + 1e-6); /* nearly equal: small J */
  p->gammaL = qtm_rng_log(r, 1e-4, 0.1) * p->omega;
  p->gammaR = qtm_rng_log(r, 1e-4, 0.1) * p->omega;
  p->g = fmax(p->gammaL, p->gammaR) * qtm_rng_log(r, 1e-4, 10.0);
  p->epsL = epsL;
  p->epsR = epsR;
  p->eps_a = eps_a;
  p->N = 2;
}

static void compare_local(tally *t, const qtm_params *p) {
  qtm_oracle_result num;
  char msg[256] = "";
  qtm_status st = qtm_oracle_local(p, &num, msg, sizeof msg);
  char pd[320];
  describe(p, pd, sizeof pd);
  cr_assert_eq(st, QTM_OK, "oracle failed (%s) at %s", msg, pd);
  qtm_obs o;
  qtm_eval_closed_point(p, &o);
  t->points++;
  check(t, p, "J", o.v[QTM_OBS_J], num.J, current_tol(p, num.J));
  if (p->N == 2) {
    check(t, p, "coherence", o.v[QTM_OBS_coherence], num.coherence,
          current_tol(p, num.coherence));
    if (p->eps_a == -1.0) {
      check(t, p, "p1", o.v[QTM_OBS_p1], num.p1, 1e-12);
      check(t, p, "p4", o.v[QTM_OBS_p4], num.p4, 1e-12);
      check(t, p, "concurrence", o.v[QTM_OBS_concurrence], num.concurrence, 1e-12);
    }
  }
}

static void report(const tally *t, const char *name) {
  cr_log_info("%s: %d points, worst error/tolerance %.3g (%s)", name, t->points, t->worst,
              t->worst_desc);
  cr_assert_eq(t->failures, 0, "%s: %d of %d comparisons outside tolerance; worst: %s", name,
               t->failures, t->points, t->worst_desc);
}

Test(closed_vs_oracle, local_two_subsystems_every_statistics) {
  qtm_rng r;
  qtm_rng_init(&r, 20261124, "local_two_subsystems_every_statistics");
  const double bath[2] = {-1.0, 1.0}, sub[2] = {-1.0, 1.0};
  tally t = {0};
  for (int a = 0; a < 2; ++a)
    for (int l = 0; l < 2; ++l)
      for (int rr = 0; rr < 2; ++rr)
        for (int k = 0; k < 150; ++k) {
          qtm_params p;
          random_point(&r, &p, bath[l], bath[rr], sub[a]);
          compare_local(&t, &p);
        }
  /* Intermediate (quon) bath statistics: the rates are the only place they enter. */
  for (int k = 0; k < 100; ++k) {
    qtm_params p;
    random_point(&r, &p, qtm_rng_range(&r, -1, 1), qtm_rng_range(&r, -1, 1),
                 k % 2 ? -1.0 : 1.0);
    compare_local(&t, &p);
  }
  cr_assert_geq(t.points, 1000);
  report(&t, "local N=2");
}

Test(closed_vs_oracle, single_system_is_J1) {
  qtm_rng r;
  qtm_rng_init(&r, 7, "single_system_is_J1");
  tally t = {0};
  for (int k = 0; k < 200; ++k) {
    qtm_params p;
    random_point(&r, &p, k & 1 ? 1.0 : -1.0, k & 2 ? 1.0 : -1.0, k & 4 ? 1.0 : -1.0);
    p.N = 1;
    compare_local(&t, &p);
  }
  report(&t, "local N=1");
}

Test(closed_vs_oracle, qubit_chains_3_to_5, .timeout = 300) {
  qtm_rng r;
  qtm_rng_init(&r, 345, "qubit_chains_3_to_5");
  tally t = {0};
  const int count[3] = {12, 6, 3}; /* the N = 5 Liouvillian is 1024 x 1024 */
  for (int N = 3; N <= 5; ++N)
    for (int k = 0; k < count[N - 3]; ++k) {
      qtm_params p;
      random_point(&r, &p, k & 1 ? 1.0 : -1.0, k & 2 ? 1.0 : -1.0, -1.0);
      p.N = N;
      compare_local(&t, &p);
    }
  report(&t, "qubit chains");
}

Test(closed_vs_oracle, oscillator_chains_3_to_6) {
  qtm_rng r;
  qtm_rng_init(&r, 3456, "oscillator_chains_3_to_6");
  tally t = {0};
  for (int N = 3; N <= 6; ++N)
    for (int k = 0; k < 20; ++k) {
      qtm_params p;
      random_point(&r, &p, k & 1 ? 1.0 : -1.0, k & 2 ? 1.0 : -1.0, 1.0);
      p.N = N;
      compare_local(&t, &p);
    }
  report(&t, "oscillator chains");
}

Test(closed_vs_oracle, global_two_qubits) {
  qtm_rng r;
  qtm_rng_init(&r, 2020, "global_two_qubits");
  tally t = {0};
  for (int k = 0; k < 400; ++k) {
    qtm_params p;
    random_point(&r, &p, 1.0, 1.0, -1.0);
    p.g = p.omega * qtm_rng_log(&r, 1e-3, 0.95);
    qtm_oracle_result num;
    char msg[256] = "";
    qtm_status st = qtm_oracle_global(&p, &num, msg, sizeof msg);
    cr_assert_eq(st, QTM_OK, "global oracle failed: %s", msg);
    qtm_obs o;
    qtm_eval_closed_point(&p, &o);
    t.points++;
    check(&t, &p, "J_global", o.v[QTM_OBS_J_global], num.J, current_tol(&p, num.J));
  }
  report(&t, "global");
}

/* Every observable of --method numeric (oracle currents, finite-difference conductances and
 * derivatives) against the closed forms, at points where every observable applies. The
 * Richardson-extrapolated differences (h = 1e-3 T) carry ~1e-12: truncation O(h^4) and
 * rounding 1e-16/h; 1e-9 leaves room. */
Test(closed_vs_oracle, numeric_method_all_observables) {
  qtm_rng r;
  qtm_rng_init(&r, 99, "numeric_method_all_observables");
  for (int k = 0; k < 40; ++k) {
    qtm_params p;
    random_point(&r, &p, k % 4 == 3 ? -1.0 : 1.0, 1.0, k % 3 == 2 ? 1.0 : -1.0);
    p.N = k % 5 == 4 ? 3 : 2;
    p.TL = qtm_rng_log(&r, 0.2, 5.0) * p.omega;
    p.TR = qtm_rng_log(&r, 0.2, 5.0) * p.omega;
    p.g = p.omega * qtm_rng_log(&r, 1e-3, 0.9);
    p.gammaL = qtm_rng_log(&r, 1e-3, 0.05) * p.omega;
    p.gammaR = qtm_rng_log(&r, 1e-3, 0.05) * p.omega;
    qtm_obs closed, numeric;
    qtm_param_error perr;
    char msg[256] = "";
    cr_assert_eq(qtm_eval_closed(&p, &closed, &perr), QTM_OK);
    qtm_status st = qtm_eval_numeric(&p, &numeric, &perr, msg, sizeof msg);
    cr_assert_eq(st, QTM_OK, "numeric failed: %s", msg);
    char pd[320];
    describe(&p, pd, sizeof pd);
    for (int i = 0; i < QTM_OBS_COUNT; ++i) {
      double c = closed.v[i], n = numeric.v[i];
      const char *name = qtm_obs_table[i].name;
      cr_assert_eq(isnan(c), isnan(n), "%s: NaN mismatch closed %g numeric %g at %s", name, c,
                   n, pd);
      if (isnan(c)) continue;
      double scale = fmax(fabs(c), fabs(n));
      double tol = 1e-9 * scale + 1e-14 * p.omega * fmax(p.gammaL, p.gammaR);
      if (i == QTM_OBS_p1 || i == QTM_OBS_p4 || i == QTM_OBS_concurrence) tol = 1e-12;
      /* contrast = |sum|/|difference| inherits the sum's cancellation in the numeric path */
      if (i == QTM_OBS_contrast || i == QTM_OBS_contrast_global) tol = 1e-9 * scale + 1e-12;
      cr_expect_leq(fabs(c - n), tol, "%s: closed %.17g numeric %.17g at %s", name, c, n, pd);
    }
  }
}
