/* Self-consistency of the numerical master-equation oracle, with no closed form involved:
 * states are density matrices, heat balances, equilibrium gives no current and the Gibbs
 * state, the moment equations agree with a truncated Fock-space Liouvillian, the block solve
 * agrees with the full Liouvillian, the concurrence agrees with known states and unsupported
 * or ill-posed problems are refused.
 * Errors are absolute unless marked relative (qtm_relerr: |x - y| / max(|x|, |y|)). */
#include <criterion/criterion.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/oracle/liouvillian.h"
#include "qtm/oracle.h"
#include "testutil.h"

#define PI 3.14159265358979323846

static qtm_params base_point(void) {
  qtm_params p;
  qtm_params_default(&p);
  p.omega = 1.0;
  p.TL = 1.0;
  p.TR = 0.5;
  p.gammaL = 0.01;
  p.gammaR = 0.02;
  p.g = 0.01;
  return p;
}

/* A random point with temperatures from deep quantum to classical, rates over three decades
 * and g from much weaker to much stronger than the rates. */
static qtm_params random_point(qtm_rng *r) {
  qtm_params p = base_point();
  p.omega = qtm_rng_log(r, 0.5, 2.0);
  p.TL = qtm_rng_log(r, 0.05, 20.0) * p.omega;
  p.TR = qtm_rng_log(r, 0.05, 20.0) * p.omega;
  p.gammaL = qtm_rng_log(r, 1e-4, 0.1) * p.omega;
  p.gammaR = qtm_rng_log(r, 1e-4, 0.1) * p.omega;
  p.g = fmax(p.gammaL, p.gammaR) * qtm_rng_log(r, 1e-2, 10.0);
  p.epsL = qtm_rng_uniform(r) < 0.5 ? 1.0 : -1.0;
  p.epsR = qtm_rng_uniform(r) < 0.5 ? 1.0 : -1.0;
  return p;
}

/* Smallest eigenvalue of a Hermitian d x d matrix (its upper triangle). */
static double min_eigenvalue(int d, const double complex *a) {
  double complex *c = malloc((size_t)d * (size_t)d * sizeof *c);
  double *w = malloc((size_t)d * sizeof *w);
  cr_assert(c && w);
  memcpy(c, a, (size_t)d * (size_t)d * sizeof *c);
  lapack_int st = LAPACKE_zheev(LAPACK_ROW_MAJOR, 'N', 'U', d, c, d, w);
  cr_assert_eq(st, 0, "zheev failed (%d)", (int)st);
  double m = w[0];
  free(c);
  free(w);
  return m;
}

static void assert_density_matrix(int d, const double complex *rho, const char *what) {
  double complex tr = 0;
  for (int i = 0; i < d; ++i) tr += rho[i * d + i];
  cr_assert_leq(cabs(tr - 1.0), 1e-15, "%s: trace %.17g%+.3gi", what, creal(tr), cimag(tr));
  double herm = qtm_cm_hermiticity_error((size_t)d, rho);
  cr_assert_leq(herm, 1e-16, "%s: rho - rho^+ = %.3g", what, herm);
  double lmin = min_eigenvalue(d, rho);
  cr_assert_geq(lmin, -1e-15, "%s: negative eigenvalue %.3g", what, lmin);
}

/* ---- states, balance, solver report ----------------------------------------------------- */

Test(oracle_selfcheck, chain_states_are_density_matrices) {
  qtm_rng r;
  qtm_rng_init(&r, 101, "chain_states_are_density_matrices");
  const int count[6] = {0, 20, 20, 10, 5, 3};
  double worst_balance = 0, worst_corr = 0;
  for (int N = 1; N <= QTM_ORACLE_MAX_QUBITS; ++N)
    for (int k = 0; k < count[N]; ++k) {
      qtm_params p = random_point(&r);
      p.N = N;
      int d = 1 << N;
      double complex *rho = malloc((size_t)d * (size_t)d * sizeof *rho);
      cr_assert(rho);
      qtm_oracle_result res;
      qtm_lv_solve_info info;
      char err[256] = "";
      qtm_status st = qtm_oracle_chain(&p, QTM_CHAIN_AUTO, &res, rho, &info, err, sizeof err);
      cr_assert_eq(st, QTM_OK, "N=%d: %s", N, err);
      char what[64];
      snprintf(what, sizeof what, "qubit chain N=%d", N);
      assert_density_matrix(d, rho, what);
      cr_assert_leq(res.trace_error, 1e-28, "%s: trace error %.3g", what, res.trace_error);
      cr_assert_leq(res.balance_error, 1e-13, "%s: Q_L + Q_R = %.3g relative", what,
                    res.balance_error);
      cr_assert_leq(info.correction, 1e-20, "%s: refinement stalled at %.3g", what,
                    info.correction);
      cr_assert_eq(res.J, res.Q_L - res.Q_R);
      worst_balance = fmax(worst_balance, res.balance_error);
      worst_corr = fmax(worst_corr, info.correction);
      free(rho);
    }
  cr_log_info("qubit chains: worst relative |Q_L + Q_R| %.3g, worst last correction %.3g",
              worst_balance, worst_corr);
}

Test(oracle_selfcheck, oscillator_and_global_balance) {
  qtm_rng r;
  qtm_rng_init(&r, 202, "oscillator_and_global_balance");
  double worst = 0;
  for (int k = 0; k < 60; ++k) {
    qtm_params p = random_point(&r);
    p.eps_a = 1.0;
    p.N = 1 + k % 6;
    p.epsL = qtm_rng_range(&r, -1, 1);
    qtm_oracle_result res;
    char err[256] = "";
    cr_assert_eq(qtm_oracle_local(&p, &res, err, sizeof err), QTM_OK, "%s", err);
    cr_assert_leq(res.balance_error, 1e-13, "oscillators N=%d: balance %.3g", p.N,
                  res.balance_error);
    cr_assert(isnan(res.p1) && isnan(res.p4) && isnan(res.concurrence));
    cr_assert_eq(isnan(res.coherence), p.N != 2);
    worst = fmax(worst, res.balance_error);
  }
  for (int k = 0; k < 60; ++k) {
    qtm_params p = random_point(&r);
    p.epsL = p.epsR = 1.0;
    p.g = p.omega * qtm_rng_log(&r, 1e-3, 0.95);
    qtm_oracle_result res;
    double complex rho[16];
    char err[256] = "";
    cr_assert_eq(qtm_oracle_global_state(&p, &res, rho, err, sizeof err), QTM_OK, "%s", err);
    assert_density_matrix(4, rho, "global pair");
    cr_assert_leq(res.balance_error, 1e-13, "global: balance %.3g", res.balance_error);
    worst = fmax(worst, res.balance_error);
  }
  cr_log_info("oscillators and global pair: worst relative |Q_L + Q_R| %.3g", worst);
}

/* ---- equilibrium ------------------------------------------------------------------------ */

/* Size of the individual gain and loss terms a current is a difference of. */
static double heat_scale(const qtm_params *p) {
  double nL = qtm_oracle_occupation(p->omega, p->TL, p->epsL);
  double nR = qtm_oracle_occupation(p->omega, p->TR, p->epsR);
  return p->omega * (p->gammaL * (1 + 2 * nL) + p->gammaR * (1 + 2 * nR));
}

Test(oracle_selfcheck, equal_temperatures_carry_no_current) {
  qtm_rng r;
  qtm_rng_init(&r, 303, "equal_temperatures_carry_no_current");
  double worst = 0;
  for (int k = 0; k < 80; ++k) {
    qtm_params p = random_point(&r);
    p.TR = p.TL;
    p.epsR = p.epsL = qtm_rng_range(&r, -1, 1);
    p.eps_a = (k % 3 == 1) ? 1.0 : -1.0;
    p.N = 1 + k % 4;
    int global = (k % 3 == 2 && p.N == 2);
    if (global) { /* the global ME needs bosonic baths and g < omega */
      p.epsL = p.epsR = 1.0;
      p.g = 0.5 * p.omega;
    }
    qtm_oracle_result res;
    char err[256] = "";
    qtm_status st = global ? qtm_oracle_global(&p, &res, err, sizeof err)
                           : qtm_oracle_local(&p, &res, err, sizeof err);
    cr_assert_eq(st, QTM_OK, "%s", err);
    double rel = fabs(res.J) / heat_scale(&p);
    cr_assert_leq(rel, 1e-24, "TL = TR = %g, eps_a = %g, N = %d: J = %.3g (%.3g of the terms)",
                  p.TL, p.eps_a, p.N, res.J, rel);
    worst = fmax(worst, rel);
  }
  cr_log_info("equal temperatures: worst |J| / (terms) %.3g", worst);
}

Test(oracle_selfcheck, uncoupled_sites_carry_no_current) {
  qtm_rng r;
  qtm_rng_init(&r, 404, "uncoupled_sites_carry_no_current");
  for (int k = 0; k < 40; ++k) {
    qtm_params p = random_point(&r);
    p.g = 0.0;
    p.N = 2;
    p.eps_a = (k & 1) ? 1.0 : -1.0;
    qtm_oracle_result res;
    char err[256] = "";
    cr_assert_eq(qtm_oracle_local(&p, &res, err, sizeof err), QTM_OK, "%s", err);
    cr_assert_leq(fabs(res.J) / heat_scale(&p), 1e-24, "g = 0: J = %.3g", res.J);
    cr_assert_leq(fabs(res.coherence), 1e-300, "g = 0: coherence %.3g", res.coherence);
  }
}

Test(oracle_selfcheck, single_site_thermalises) {
  qtm_rng r;
  qtm_rng_init(&r, 505, "single_site_thermalises");
  for (int k = 0; k < 40; ++k) {
    qtm_params p = random_point(&r);
    p.N = 1;
    p.TR = p.TL;
    /* Any bath statistics: gamma+/gamma- = n/(1 + eps n) = e^{-omega/T} for every eps. */
    p.epsL = qtm_rng_range(&r, -1, 1);
    p.epsR = qtm_rng_range(&r, -1, 1);
    double x = p.omega / p.TL;
    double complex rho[4];
    qtm_oracle_result res;
    char err[256] = "";
    cr_assert_eq(qtm_oracle_chain(&p, QTM_CHAIN_AUTO, &res, rho, NULL, err, sizeof err), QTM_OK,
                 "%s", err);
    double pe = 1.0 / (exp(x) + 1.0);
    cr_assert_leq(qtm_relerr(creal(rho[3]), pe), 1e-14, "qubit: p_excited %.17g vs Gibbs %.17g",
                  creal(rho[3]), pe);
    cr_assert_leq(cabs(rho[1]) + cabs(rho[2]), 1e-300);

    p.eps_a = 1.0;
    double complex C[1];
    cr_assert_eq(qtm_oracle_moments(&p, &res, C, err, sizeof err), QTM_OK, "%s", err);
    double nb = 1.0 / expm1(x);
    cr_assert_leq(qtm_relerr(creal(C[0]), nb), 1e-14, "oscillator: <n> %.17g vs Bose %.17g",
                  creal(C[0]), nb);
  }
}

/* At equal temperatures the local ME's steady state is the Gibbs state of H_0 (a product of
 * thermal qubits), not of H_S: H_0 commutes with the XY hopping. */
Test(oracle_selfcheck, chain_at_equal_temperatures_is_product_gibbs) {
  qtm_params p = base_point();
  p.N = 3;
  p.TL = p.TR = 0.7;
  p.epsL = 1.0;
  p.epsR = -1.0;
  p.g = 0.05;
  double complex rho[64];
  qtm_oracle_result res;
  char err[256] = "";
  cr_assert_eq(qtm_oracle_chain(&p, QTM_CHAIN_AUTO, &res, rho, NULL, err, sizeof err), QTM_OK,
               "%s", err);
  double pe = 1.0 / (exp(p.omega / p.TL) + 1.0);
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 8; ++j) {
      int exc = ((i >> 2) & 1) + ((i >> 1) & 1) + (i & 1);
      double want = (i == j) ? pow(pe, exc) * pow(1 - pe, 3 - exc) : 0.0;
      cr_assert_leq(cabs(rho[i * 8 + j] - want), 4e-16, "rho[%d][%d] = %.17g, Gibbs %.17g", i,
                    j, creal(rho[i * 8 + j]), want);
    }
}

/* The global ME satisfies detailed balance with respect to H_S: at TL = TR its steady state is
 * exp(-H_S/T)/Z, computed here by diagonalising H_S independently. */
Test(oracle_selfcheck, global_at_equal_temperatures_is_gibbs_of_HS) {
  qtm_rng r;
  qtm_rng_init(&r, 606, "global_at_equal_temperatures_is_gibbs_of_HS");
  for (int k = 0; k < 30; ++k) {
    qtm_params p = random_point(&r);
    p.epsL = p.epsR = 1.0;
    p.g = p.omega * qtm_rng_log(&r, 1e-3, 0.95);
    p.TR = p.TL;
    double complex H[16] = {0}, V[16], rho[16];
    double E[4];
    H[1 * 4 + 1] = H[2 * 4 + 2] = p.omega;
    H[3 * 4 + 3] = 2 * p.omega;
    H[1 * 4 + 2] = H[2 * 4 + 1] = p.g;
    memcpy(V, H, sizeof H);
    cr_assert_eq(LAPACKE_zheev(LAPACK_ROW_MAJOR, 'V', 'U', 4, V, 4, E), 0);
    double Z = 0, wgt[4];
    for (int a = 0; a < 4; ++a) Z += (wgt[a] = exp(-(E[a] - E[0]) / p.TL));
    qtm_oracle_result res;
    char err[256] = "";
    cr_assert_eq(qtm_oracle_global_state(&p, &res, rho, err, sizeof err), QTM_OK, "%s", err);
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) {
        double complex want = 0;
        for (int a = 0; a < 4; ++a) want += V[i * 4 + a] * conj(V[j * 4 + a]) * wgt[a] / Z;
        cr_assert_leq(cabs(rho[i * 4 + j] - want), 2e-15,
                      "T = %g, g = %g: rho[%d][%d] = %.17g%+.17gi, Gibbs %.17g%+.17gi", p.TL,
                      p.g, i, j, creal(rho[i * 4 + j]), cimag(rho[i * 4 + j]), creal(want),
                      cimag(want));
      }
    cr_assert_leq(fabs(res.J) / heat_scale(&p), 1e-24, "J = %.3g", res.J);
  }
}

/* ---- oscillators: moments against a truncated Fock space -------------------------------- */

/* Levels 0..10 per mode. At n ~ 0.06 the agreement is 1.4e-7 with 7 levels, 1e-9 with 9,
 * 1e-12 with 11 and 3e-15 with 13: the truncation error, falling by (n/(1+n))^2 per step. */
#define FOCK_CUT 11

static int fock_same_total(int i, int j, const void *ctx) {
  (void)ctx;
  return i / FOCK_CUT + i % FOCK_CUT == j / FOCK_CUT + j % FOCK_CUT;
}

/* Two oscillators in a truncated Fock space, solved by the generic Liouvillian builder, against
 * the closed moment equations. */
static void fock_vs_moments(const qtm_params *p) {
  const int c = FOCK_CUT, d = c * c;
  const size_t dd = (size_t)d * (size_t)d;
  double complex a[FOCK_CUT * FOCK_CUT] = {0}, id[FOCK_CUT * FOCK_CUT];
  for (int n = 1; n < c; ++n) a[(n - 1) * c + n] = sqrt((double)n);
  qtm_cm_identity((size_t)c, id);
  double complex *buf = calloc(10 * dd, sizeof *buf);
  cr_assert(buf);
  double complex *a1 = buf, *a2 = buf + dd, *a1d = buf + 2 * dd, *a2d = buf + 3 * dd;
  double complex *num = buf + 4 * dd, *H = buf + 5 * dd, *t = buf + 6 * dd;
  double complex *rho_hi = buf + 7 * dd, *rho_lo = buf + 8 * dd, *op = buf + 9 * dd;
  qtm_cm_kron((size_t)c, (size_t)c, a, (size_t)c, (size_t)c, id, a1);
  qtm_cm_kron((size_t)c, (size_t)c, id, (size_t)c, (size_t)c, a, a2);
  qtm_cm_dagger((size_t)d, (size_t)d, a1, a1d);
  qtm_cm_dagger((size_t)d, (size_t)d, a2, a2d);
  qtm_cm_mul((size_t)d, (size_t)d, (size_t)d, a1d, a1, t);
  qtm_cm_axpy((size_t)d, (size_t)d, 1.0, t, num);
  qtm_cm_mul((size_t)d, (size_t)d, (size_t)d, a2d, a2, t);
  qtm_cm_axpy((size_t)d, (size_t)d, 1.0, t, num);
  qtm_cm_axpy((size_t)d, (size_t)d, p->omega, num, H);
  qtm_cm_mul((size_t)d, (size_t)d, (size_t)d, a1d, a2, t);
  qtm_cm_axpy((size_t)d, (size_t)d, p->g, t, H);
  qtm_cm_mul((size_t)d, (size_t)d, (size_t)d, a1, a2d, t);
  qtm_cm_axpy((size_t)d, (size_t)d, p->g, t, H);

  double nL = qtm_oracle_occupation(p->omega, p->TL, p->epsL);
  double nR = qtm_oracle_occupation(p->omega, p->TR, p->epsR);
  qtm_lv_jump jumps[4] = {{.rate = p->gammaL * (1 + p->epsL * nL), .x = a1},
                          {.rate = p->gammaL * nL, .x = a1d},
                          {.rate = p->gammaR * (1 + p->epsR * nR), .x = a2},
                          {.rate = p->gammaR * nR, .x = a2d}};
  qtm_lv_space sp;
  cr_assert_eq(qtm_lv_space_init(&sp, d, fock_same_total, NULL), QTM_OK);
  char err[256] = "";
  cr_assert_eq(qtm_lv_steady_state(&sp, H, jumps, 4, rho_hi, rho_lo, NULL, err, sizeof err),
               QTM_OK, "%s", err);
  qtm_lv_space_free(&sp);
  assert_density_matrix(d, rho_hi, "two-oscillator Fock state");

  double QF[2];
  for (int b = 0; b < 2; ++b) {
    qtm_ddc q1, q2;
    cr_assert_eq(qtm_lv_dissipated(d, num, &jumps[2 * b], rho_hi, rho_lo, &q1), QTM_OK);
    cr_assert_eq(qtm_lv_dissipated(d, num, &jumps[2 * b + 1], rho_hi, rho_lo, &q2), QTM_OK);
    QF[b] = p->omega * qtm_dd_value(qtm_dd_add(q1.re, q2.re));
  }
  qtm_cm_mul((size_t)d, (size_t)d, (size_t)d, a1d, a2, op);
  double complex c12 = qtm_ddc_hi(qtm_lv_expect(d, op, rho_hi, rho_lo));
  qtm_cm_mul((size_t)d, (size_t)d, (size_t)d, a1d, a1, op);
  double n1 = creal(qtm_ddc_hi(qtm_lv_expect(d, op, rho_hi, rho_lo)));

  qtm_oracle_result res;
  double complex C[4];
  cr_assert_eq(qtm_oracle_moments(p, &res, C, err, sizeof err), QTM_OK, "%s", err);
  double e_n1 = qtm_relerr(creal(C[0]), n1);
  double e_c12 = cabs(C[1] - c12) / cabs(c12);
  double e_QL = qtm_relerr(res.Q_L, QF[0]), e_QR = qtm_relerr(res.Q_R, QF[1]);
  double e_J = qtm_relerr(res.J, QF[0] - QF[1]);
  double e_coh = qtm_relerr(res.coherence, -cimag(c12));
  cr_log_info("Fock (cut %d) vs moments, relative: <n1> %.2g, C12 %.2g, Q_L %.2g, Q_R %.2g, "
              "J %.2g, coherence %.2g",
              c, e_n1, e_c12, e_QL, e_QR, e_J, e_coh);
  cr_assert_leq(e_n1, 1e-9, "<n1>: moments %.17g, Fock %.17g", creal(C[0]), n1);
  cr_assert_leq(e_c12, 1e-9, "C12: moments %.17g%+.17gi, Fock %.17g%+.17gi", creal(C[1]),
                cimag(C[1]), creal(c12), cimag(c12));
  cr_assert_leq(e_QL, 1e-9, "Q_L: moments %.17g, Fock %.17g", res.Q_L, QF[0]);
  cr_assert_leq(e_QR, 1e-9, "Q_R: moments %.17g, Fock %.17g", res.Q_R, QF[1]);
  cr_assert_leq(e_J, 1e-9, "J: moments %.17g, Fock %.17g", res.J, QF[0] - QF[1]);
  cr_assert_leq(e_coh, 1e-9, "coherence: moments %.17g, Fock %.17g", res.coherence,
                -cimag(c12));
  free(buf);
}

Test(oracle_selfcheck, moments_match_truncated_fock_space) {
  qtm_params p = base_point();
  p.eps_a = 1.0;
  p.N = 2;
  p.TL = 0.35; /* n_L = 0.061 */
  p.TR = 0.25; /* n_R = 0.019 */
  p.gammaL = 0.02;
  p.gammaR = 0.01;
  p.g = 0.015;
  fock_vs_moments(&p);
  p.epsR = -1.0; /* a fermionic bath on the right: only the rates change */
  p.g = 0.004;
  p.gammaL = 0.005;
  fock_vs_moments(&p);
}

/* ---- the block solve against the full Liouvillian --------------------------------------- */

Test(oracle_selfcheck, chain_block_solve_matches_full_liouvillian) {
  qtm_rng r;
  qtm_rng_init(&r, 707, "chain_block_solve_matches_full_liouvillian");
  double worst_rho = 0, worst_J = 0;
  for (int N = 1; N <= 4; ++N)
    for (int k = 0; k < (N == 4 ? 3 : 8); ++k) {
      qtm_params p = random_point(&r);
      p.N = N;
      int d = 1 << N;
      double complex *rf = malloc((size_t)d * (size_t)d * sizeof *rf);
      double complex *rb = malloc((size_t)d * (size_t)d * sizeof *rb);
      cr_assert(rf && rb);
      qtm_oracle_result full, block;
      char err[256] = "";
      cr_assert_eq(qtm_oracle_chain(&p, QTM_CHAIN_FULL, &full, rf, NULL, err, sizeof err),
                   QTM_OK, "%s", err);
      cr_assert_eq(qtm_oracle_chain(&p, QTM_CHAIN_BLOCK, &block, rb, NULL, err, sizeof err),
                   QTM_OK, "%s", err);
      for (int i = 0; i < d * d; ++i) {
        double e = cabs(rf[i] - rb[i]);
        worst_rho = fmax(worst_rho, e);
        cr_assert_leq(e, 1e-16, "N=%d: rho[%d] full %.17g%+.17gi, block %.17g%+.17gi", N, i,
                      creal(rf[i]), cimag(rf[i]), creal(rb[i]), cimag(rb[i]));
      }
      double eJ = qtm_relerr(full.J, block.J);
      worst_J = fmax(worst_J, eJ);
      cr_assert_leq(eJ, 1e-15, "N=%d: J full %.17g, block %.17g", N, full.J, block.J);
      if (N == 2) {
        cr_assert_leq(fabs(full.p1 - block.p1) + fabs(full.p4 - block.p4), 1e-17);
        cr_assert_leq(qtm_relerr(full.coherence, block.coherence), 1e-15);
        cr_assert_leq(fabs(full.concurrence - block.concurrence), 1e-12);
      }
      free(rf);
      free(rb);
    }
  cr_log_info("full vs block: worst |rho difference| %.3g, worst relative J difference %.3g",
              worst_rho, worst_J);
}

/* ---- Wootters concurrence --------------------------------------------------------------- */

static void to_re_im(const double complex *rho, double out[32]) {
  for (int i = 0; i < 16; ++i) {
    out[2 * i] = creal(rho[i]);
    out[2 * i + 1] = cimag(rho[i]);
  }
}

static void pure(const double complex psi[4], double complex rho[16]) {
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) rho[i * 4 + j] = psi[i] * conj(psi[j]);
}

static void werner(double p, double complex rho[16]) {
  const double s = sqrt(0.5);
  const double complex psi[4] = {0, s, -s, 0}; /* singlet */
  pure(psi, rho);
  for (int i = 0; i < 16; ++i) rho[i] *= p;
  for (int i = 0; i < 4; ++i) rho[i * 4 + i] += (1 - p) / 4;
}

/* A random 2x2 unitary. */
static void random_unitary(qtm_rng *r, double complex u[4]) {
  double a = qtm_rng_range(r, 0, 2 * PI), b = qtm_rng_range(r, 0, 2 * PI);
  double c = qtm_rng_range(r, 0, 2 * PI), th = qtm_rng_range(r, 0, PI / 2);
  u[0] = cexp(I * a) * cos(th);
  u[1] = cexp(I * b) * sin(th);
  u[2] = -cexp(I * (c - b)) * sin(th);
  u[3] = cexp(I * (c - a)) * cos(th);
}

/* rho -> (U x V) rho (U x V)^+: local unitaries change the shape, never the concurrence. */
static void rotate_locally(qtm_rng *r, double complex rho[16]) {
  double complex u[4], v[4], uv[16], uvd[16], t[16];
  random_unitary(r, u);
  random_unitary(r, v);
  qtm_cm_kron(2, 2, u, 2, 2, v, uv);
  qtm_cm_dagger(4, 4, uv, uvd);
  qtm_cm_mul(4, 4, 4, uv, rho, t);
  qtm_cm_mul(4, 4, 4, t, uvd, rho);
}

Test(oracle_selfcheck, wootters_known_states) {
  qtm_rng r;
  qtm_rng_init(&r, 808, "wootters_known_states");
  const double s = sqrt(0.5);
  double complex rho[16];
  double re_im[32];
  const double complex phi_plus[4] = {s, 0, 0, s}, psi_minus[4] = {0, s, -s, 0};
  const double complex ground[4] = {1, 0, 0, 0}, mixed_excitation[4] = {0, 1, 0, 0};
  pure(phi_plus, rho);
  to_re_im(rho, re_im);
  cr_assert_leq(fabs(qtm_wootters_concurrence(re_im) - 1), 1e-15, "Bell Phi+");
  pure(psi_minus, rho);
  to_re_im(rho, re_im);
  cr_assert_leq(fabs(qtm_wootters_concurrence(re_im) - 1), 1e-15, "Bell Psi-");
  pure(ground, rho);
  to_re_im(rho, re_im);
  cr_assert_eq(qtm_wootters_concurrence(re_im), 0.0, "|00>");
  pure(mixed_excitation, rho);
  to_re_im(rho, re_im);
  cr_assert_eq(qtm_wootters_concurrence(re_im), 0.0, "|01>");

  const double ps[6] = {0.0, 0.2, 1.0 / 3.0, 0.5, 0.8, 0.95};
  double worst_general = 0;
  for (int k = 0; k < 6; ++k) {
    double want = fmax(0.0, (3 * ps[k] - 1) / 2);
    werner(ps[k], rho);
    to_re_im(rho, re_im);
    cr_assert_leq(fabs(qtm_wootters_concurrence(re_im) - want), 1e-15, "Werner p=%g (X form)",
                  ps[k]);
    rotate_locally(&r, rho); /* no longer X-shaped: the general route */
    to_re_im(rho, re_im);
    double got = qtm_wootters_concurrence(re_im);
    worst_general = fmax(worst_general, fabs(got - want));
    cr_assert_leq(fabs(got - want), 1e-12, "Werner p=%g rotated: %.17g vs %.17g", ps[k], got,
                  want);
  }
  /* A rotated Bell state and a rotated product state: pure states give R zero eigenvalues,
   * whose rounding (~1e-17) the square roots amplify to ~1e-9, hence the loose bounds. */
  pure(phi_plus, rho);
  rotate_locally(&r, rho);
  to_re_im(rho, re_im);
  cr_assert_leq(fabs(qtm_wootters_concurrence(re_im) - 1), 1e-6, "rotated Bell");
  pure(ground, rho);
  rotate_locally(&r, rho);
  to_re_im(rho, re_im);
  cr_assert_leq(qtm_wootters_concurrence(re_im), 1e-6, "rotated product state");
  cr_log_info("Wootters general route on rotated Werner states: worst error %.3g",
              worst_general);
}

Test(oracle_selfcheck, wootters_x_form_matches_general_route) {
  qtm_rng r;
  qtm_rng_init(&r, 909, "wootters_x_form_matches_general_route");
  double worst = 0;
  int entangled = 0;
  for (int k = 0; k < 200; ++k) {
    double pop[4], tot = 0;
    for (int i = 0; i < 4; ++i) tot += (pop[i] = qtm_rng_log(&r, 1e-3, 1.0));
    double complex rho[16] = {0};
    for (int i = 0; i < 4; ++i) rho[i * 4 + i] = pop[i] / tot;
    /* coherences within the positivity bounds |rho_23|^2 <= rho_22 rho_33 etc. */
    double b23 = sqrt(creal(rho[5]) * creal(rho[10])) * qtm_rng_uniform(&r);
    double b14 = sqrt(creal(rho[0]) * creal(rho[15])) * qtm_rng_uniform(&r);
    rho[1 * 4 + 2] = b23 * cexp(I * qtm_rng_range(&r, 0, 2 * PI));
    rho[2 * 4 + 1] = conj(rho[1 * 4 + 2]);
    rho[0 * 4 + 3] = b14 * cexp(I * qtm_rng_range(&r, 0, 2 * PI));
    rho[3 * 4 + 0] = conj(rho[0 * 4 + 3]);
    double re_im[32];
    to_re_im(rho, re_im);
    double x = qtm_wootters_concurrence(re_im), g = qtm_wootters_general(re_im);
    entangled += x > 0;
    worst = fmax(worst, fabs(x - g));
    cr_assert_leq(fabs(x - g), 1e-7, "X form %.17g, general %.17g", x, g);
  }
  cr_assert_geq(entangled, 10, "too few entangled samples (%d) to test anything", entangled);
  cr_log_info("random X states: worst |X form - general route| %.3g (%d entangled)", worst,
              entangled);
}

/* The global pair's low-temperature steady state is entangled; its X shape is exact. */
Test(oracle_selfcheck, global_concurrence_matches_general_route) {
  qtm_params p = base_point();
  p.g = 0.8;
  p.TL = 0.3;
  p.TR = 0.1;
  double complex rho[16];
  qtm_oracle_result res;
  char err[256] = "";
  cr_assert_eq(qtm_oracle_global_state(&p, &res, rho, err, sizeof err), QTM_OK, "%s", err);
  double re_im[32];
  to_re_im(rho, re_im);
  cr_assert_gt(res.concurrence, 0.1);
  cr_assert_leq(fabs(res.concurrence - qtm_wootters_general(re_im)), 1e-9);
}

/* ---- refusals --------------------------------------------------------------------------- */

static qtm_status local_status(const qtm_params *p, qtm_oracle_result *res) {
  char err[256] = "";
  qtm_status st = qtm_oracle_local(p, res, err, sizeof err);
  if (st != QTM_OK) cr_assert_neq(err[0], '\0', "a failure must say why");
  return st;
}

Test(oracle_selfcheck, unsupported_and_singular_problems_are_refused) {
  qtm_oracle_result res;
  char err[256];
  qtm_params p = base_point();

  p.eps_a = 0.0; /* Boltzmann subsystems: no master equation here */
  cr_assert_eq(local_status(&p, &res), QTM_ERR_UNSUPPORTED);
  cr_assert(isnan(res.J), "a failed call must not leave a current");
  p.eps_a = 0.5;
  cr_assert_eq(local_status(&p, &res), QTM_ERR_UNSUPPORTED);

  p = base_point();
  p.N = QTM_ORACLE_MAX_QUBITS + 1;
  cr_assert_eq(local_status(&p, &res), QTM_ERR_UNSUPPORTED);

  /* The global ME: bosonic baths, two qubits, 0 < g < omega only. */
  p = base_point();
  p.g = 0.5;
  cr_assert_eq(qtm_oracle_global(&p, &res, err, sizeof err), QTM_OK, "%s", err);
  const struct {
    double epsL, epsR, eps_a, g;
    int N;
  } bad[] = {{-1, 1, -1, 0.5, 2}, {1, 0.5, -1, 0.5, 2}, {1, 1, 1, 0.5, 2}, {1, 1, -1, 0.5, 3},
             {1, 1, -1, 0.0, 2},  {1, 1, -1, 1.0, 2},   {1, 1, -1, 1.5, 2}};
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; ++k) {
    p = base_point();
    p.epsL = bad[k].epsL;
    p.epsR = bad[k].epsR;
    p.eps_a = bad[k].eps_a;
    p.g = bad[k].g;
    p.N = bad[k].N;
    err[0] = '\0';
    cr_assert_eq(qtm_oracle_global(&p, &res, err, sizeof err), QTM_ERR_UNSUPPORTED, "case %zu",
                 k);
    cr_assert_neq(err[0], '\0');
  }

  /* Invalid input is an error, not a result. */
  p = base_point();
  p.omega = -1.0;
  cr_assert_eq(local_status(&p, &res), QTM_ERR_INVALID_ARG);
  p = base_point();
  p.TL = NAN;
  cr_assert_eq(qtm_oracle_global(&p, &res, err, sizeof err), QTM_ERR_INVALID_ARG);

  /* No bath at all, or an uncoupled middle site: the steady state is not unique. */
  for (int a = 0; a < 2; ++a) {
    p = base_point();
    p.eps_a = a ? 1.0 : -1.0;
    p.gammaL = p.gammaR = 0.0;
    cr_assert_eq(local_status(&p, &res), QTM_ERR_SINGULAR, "no bath, eps_a = %g", p.eps_a);
    p = base_point();
    p.eps_a = a ? 1.0 : -1.0;
    p.N = 3;
    p.g = 0.0;
    cr_assert_eq(local_status(&p, &res), QTM_ERR_SINGULAR, "isolated middle site, eps_a = %g",
                 p.eps_a);
  }

  /* The supported range reaches omega/T = 1e-6 ... */
  for (int a = 0; a < 2; ++a) {
    p = base_point();
    p.eps_a = a ? 1.0 : -1.0;
    p.TL = 1e6;
    cr_assert_eq(local_status(&p, &res), QTM_OK, "T = 1e6 omega, eps_a = %g", p.eps_a);
    cr_assert_leq(res.balance_error, 1e-12);
  }
  /* ... but at T ~ 1e40 omega the gain and loss rates agree to 1e-32 (double-double): an
   * oscillator's damping k- - k+ vanishes, and a qubit's bath pins it so hard that the
   * Liouvillian is singular to working precision. */
  p = base_point();
  p.TL = 1e40;
  p.eps_a = 1.0;
  cr_assert_eq(local_status(&p, &res), QTM_ERR_UNSUPPORTED);
  p.eps_a = -1.0;
  cr_assert_eq(local_status(&p, &res), QTM_ERR_SINGULAR);
  /* An occupation that overflows leaves no rates at all. */
  for (int a = 0; a < 3; ++a) {
    p = base_point();
    p.omega = 0.5;
    p.g = 0.1;
    p.TR = 1e308;
    p.eps_a = a == 1 ? 1.0 : -1.0;
    err[0] = '\0';
    qtm_status st = a == 2 ? qtm_oracle_global(&p, &res, err, sizeof err) : local_status(&p, &res);
    cr_assert_eq(st, QTM_ERR_UNSUPPORTED, "T = 1e308, case %d: %s", a, err);
  }
}

static int diagonal_only(int i, int j, const void *ctx) {
  (void)ctx;
  return i == j;
}

Test(oracle_selfcheck, builder_rejects_a_space_that_is_not_invariant) {
  /* A driven qubit mixes populations and coherences, so "populations only" is no block. */
  const double complex H[4] = {0, 0.3, 0.3, 1.0};
  const double complex sm[4] = {0, 1, 0, 0};
  qtm_lv_jump jump = {.rate = 0.1, .x = sm};
  double complex rho_hi[4], rho_lo[4];
  qtm_lv_space sp;
  cr_assert_eq(qtm_lv_space_init(&sp, 2, diagonal_only, NULL), QTM_OK);
  cr_assert_eq(sp.n, 2);
  cr_assert_eq(qtm_lv_steady_state(&sp, H, &jump, 1, rho_hi, rho_lo, NULL, NULL, 0),
               QTM_ERR_INVALID_ARG);
  qtm_lv_space_free(&sp);
  cr_assert_eq(qtm_lv_space_init(&sp, 2, NULL, NULL), QTM_OK);
  cr_assert_eq(qtm_lv_steady_state(&sp, H, &jump, 1, rho_hi, rho_lo, NULL, NULL, 0), QTM_OK);
  assert_density_matrix(2, rho_hi, "driven qubit");
  qtm_lv_space_free(&sp);
}

/* ---- occupations ------------------------------------------------------------------------ */

Test(oracle_selfcheck, occupation_limits) {
  cr_assert_eq(qtm_oracle_occupation(1.0, 0.0, 1.0), 0.0);
  cr_assert_eq(qtm_oracle_occupation(1.0, 1e-6, -1.0), 0.0); /* e^{-1e6} underflows */
  /* n = 1/x - 1/2 + x/12 for bosons at x << 1 */
  double x = 1e-6;
  cr_assert_leq(qtm_relerr(qtm_oracle_occupation(x, 1.0, 1.0), 1 / x - 0.5 + x / 12), 1e-15);
  /* e^{-x}/(1 - eps e^{-x}) at large x */
  cr_assert_leq(qtm_relerr(qtm_oracle_occupation(700.0, 1.0, 1.0), exp(-700.0)), 1e-15);
  /* Fermi 1/2 at high T, Boltzmann e^{-x} at eps = 0 */
  cr_assert_leq(qtm_relerr(qtm_oracle_occupation(x, 1.0, -1.0), 1 / (2 + x + x * x / 2)), 1e-15);
  cr_assert_leq(qtm_relerr(qtm_oracle_occupation(0.7, 1.0, 0.0), exp(-0.7)), 1e-15);
  /* continuity across the branch switch at x = 1 */
  for (double eps = -1; eps <= 1; eps += 0.25) {
    double lo = qtm_oracle_occupation(1.0 - 1e-12, 1.0, eps);
    double hi = qtm_oracle_occupation(1.0 + 1e-12, 1.0, eps);
    cr_assert_leq(qtm_relerr(lo, hi), 1e-11, "eps = %g", eps);
  }
}
