/* The local master equation of an open chain of N qubits (FORMULAS.md section 2, Eq. 2 and
 * Eq. 18 corrected) solved as a dense Liouvillian steady state, and the entry point
 * qtm_oracle_local that dispatches on the subsystems' statistics.
 *
 * Basis: a basis index's bits are the sites' states, site 1 the most significant bit, bit
 * set = excited. The hopping is XY (it moves excitations), and every jump changes the
 * excitation number of both sides of rho alike, so L never mixes elements rho_ij whose
 * excitation numbers differ by different amounts. The unique steady state lies in the block
 * with equal excitation numbers on both sides (C(2N, N) unknowns: 252 at N = 5 instead of
 * 1024), which is what QTM_CHAIN_AUTO solves; QTM_CHAIN_FULL keeps all 4^N for checking. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "liouvillian.h"

qtm_dd qtm_oracle_occupation_dd(qtm_dd omega, double T, double eps) {
  const qtm_dd zero = {0.0, 0.0}, one = {1.0, 0.0};
  if (!(T > 0)) return zero;
  qtm_dd x = qtm_dd_div_d(omega, T);
  if (!(x.hi <= 760.0)) return zero; /* e^{-x} underflows (or T is subnormal) */
  /* Both branches add non-negative terms only (eps <= 1, e^{-x} < 1), so neither cancels;
   * the first never overflows, the second keeps expm1's accuracy at high T. */
  if (x.hi > 1.0) {
    qtm_dd q = qtm_dd_exp_neg(qtm_dd_neg(x));
    return qtm_dd_div(q, qtm_dd_add_d(qtm_dd_mul_d(q, -eps), 1.0));
  }
  return qtm_dd_div(one, qtm_dd_add(qtm_dd_expm1_unit(x), qtm_dd_two_sum(1.0, -eps)));
}

double qtm_oracle_occupation(double omega, double T, double eps) {
  qtm_dd w = {omega, 0.0};
  return qtm_dd_value(qtm_oracle_occupation_dd(w, T, eps));
}

int qtm_oracle_rates_finite(int n, const qtm_dd *rates) {
  for (int i = 0; i < n; ++i)
    if (!isfinite(rates[i].hi) || !isfinite(rates[i].lo)) return 0;
  return 1;
}

qtm_status qtm_oracle_local_rates(const qtm_params *p, qtm_dd rates[4], char *err, size_t errcap) {
  const qtm_dd w = {p->omega, 0.0};
  qtm_oracle_bath_rates(p->gammaL, w, p->TL, p->epsL, &rates[0], &rates[1]);
  qtm_oracle_bath_rates(p->gammaR, w, p->TR, p->epsR, &rates[2], &rates[3]);
  if (qtm_oracle_rates_finite(4, rates)) return QTM_OK;
  qtm_lv_seterr(err, errcap, "a bath occupation overflows (omega/T too small): no finite rates");
  return QTM_ERR_UNSUPPORTED;
}

void qtm_oracle_bath_rates(double gamma, qtm_dd omega, double T, double eps, qtm_dd *down,
                           qtm_dd *up) {
  qtm_dd n = qtm_oracle_occupation_dd(omega, T, eps);
  *up = qtm_dd_mul_d(n, gamma);
  *down = qtm_dd_mul_d(qtm_dd_add_d(qtm_dd_mul_d(n, eps), 1.0), gamma);
}

static int popcount(unsigned v) {
  int c = 0;
  for (; v; v &= v - 1) ++c;
  return c;
}

static int same_excitation(int i, int j, const void *ctx) {
  (void)ctx;
  return popcount((unsigned)i) == popcount((unsigned)j);
}

/* Lowering operator of one site (0-based) of an N-site chain, by Kronecker products so that
 * site 0 is the slowest index. */
static void site_lowering(int N, int site, double complex *out, double complex *tmp) {
  static const double complex sm[4] = {0, 1, 0, 0}; /* <0|s|1> = 1 */
  static const double complex id[4] = {1, 0, 0, 1};
  size_t dim = 1;
  out[0] = 1.0;
  for (int k = 0; k < N; ++k) {
    qtm_cm_kron(dim, dim, out, 2, 2, k == site ? sm : id, tmp);
    dim *= 2;
    memcpy(out, tmp, dim * dim * sizeof *out);
  }
}

qtm_status qtm_oracle_chain(const qtm_params *p, qtm_chain_space space, qtm_oracle_result *out,
                            double complex *rho, qtm_lv_solve_info *info, char *err,
                            size_t errcap) {
  qtm_status rc = QTM_OK;
  qtm_lv_space sp = {0, 0, NULL, NULL};
  double complex *ops = NULL, *rho_hi = NULL, *rho_lo = NULL;
  qtm_param_error perr;
  qtm_oracle_result_clear(out);
  if (qtm_params_validate(p, &perr) != QTM_OK) {
    qtm_lv_seterr(err, errcap, "%s", perr.message);
    return QTM_ERR_INVALID_ARG;
  }
  if (p->eps_a != -1.0) {
    qtm_lv_seterr(err, errcap, "the qubit chain needs eps_a = -1 (got %g)", p->eps_a);
    return QTM_ERR_UNSUPPORTED;
  }
  if (p->N > QTM_ORACLE_MAX_QUBITS) {
    qtm_lv_seterr(err, errcap, "the qubit-chain oracle handles N <= %d (got N = %d)",
                  QTM_ORACLE_MAX_QUBITS, p->N);
    return QTM_ERR_UNSUPPORTED;
  }
  const int N = p->N, d = 1 << N;
  const size_t dd = (size_t)d * (size_t)d;
  /* Operator slots: lowering and raising of each site, number operator, H, two scratch. */
  ops = calloc((size_t)(2 * N + 4) * dd, sizeof *ops);
  rho_hi = malloc(dd * sizeof *rho_hi);
  rho_lo = malloc(dd * sizeof *rho_lo);
  if (!ops || !rho_hi || !rho_lo) {
    rc = QTM_ERR_NOMEM;
    qtm_lv_seterr(err, errcap, "out of memory for the %d-qubit chain", N);
    goto cleanup;
  }
  double complex *sm = ops, *sp_ = ops + (size_t)N * dd, *num = ops + (size_t)(2 * N) * dd;
  double complex *H = num + dd, *tmp = H + dd, *tmp2 = tmp + dd;
  for (int k = 0; k < N; ++k) {
    site_lowering(N, k, sm + (size_t)k * dd, tmp);
    qtm_cm_dagger((size_t)d, (size_t)d, sm + (size_t)k * dd, sp_ + (size_t)k * dd);
    qtm_cm_mul((size_t)d, (size_t)d, (size_t)d, sp_ + (size_t)k * dd, sm + (size_t)k * dd, tmp);
    qtm_cm_axpy((size_t)d, (size_t)d, 1.0, tmp, num);
  }
  /* H = omega sum_k n_k + g sum_bonds (s_k^+ s_{k+1} + h.c.); the sigma_z/2 constant is
   * irrelevant to L. */
  qtm_cm_axpy((size_t)d, (size_t)d, p->omega, num, H);
  for (int k = 0; k + 1 < N; ++k) {
    qtm_cm_mul((size_t)d, (size_t)d, (size_t)d, sp_ + (size_t)k * dd, sm + (size_t)(k + 1) * dd,
               tmp);
    qtm_cm_dagger((size_t)d, (size_t)d, tmp, tmp2);
    qtm_cm_axpy((size_t)d, (size_t)d, p->g, tmp, H);
    qtm_cm_axpy((size_t)d, (size_t)d, p->g, tmp2, H);
  }

  qtm_dd rates[4];
  if ((rc = qtm_oracle_local_rates(p, rates, err, errcap)) != QTM_OK) goto cleanup;
  const qtm_dd gLm = rates[0], gLp = rates[1], gRm = rates[2], gRp = rates[3];
  const double complex *s1 = sm, *sN = sm + (size_t)(N - 1) * dd;
  const double complex *s1d = sp_, *sNd = sp_ + (size_t)(N - 1) * dd;
  qtm_lv_jump jumps[4] = {{gLm.hi, gLm.lo, s1},
                          {gLp.hi, gLp.lo, s1d},
                          {gRm.hi, gRm.lo, sN},
                          {gRp.hi, gRp.lo, sNd}};

  qtm_status st = (space == QTM_CHAIN_FULL) ? qtm_lv_space_init(&sp, d, NULL, NULL)
                                            : qtm_lv_space_init(&sp, d, same_excitation, NULL);
  if (st != QTM_OK) {
    rc = st;
    qtm_lv_seterr(err, errcap, "could not set up the unknowns: %s", qtm_status_str(st));
    goto cleanup;
  }
  rc = qtm_lv_steady_state(&sp, H, jumps, 4, rho_hi, rho_lo, info, err, errcap);
  if (rc != QTM_OK) goto cleanup;

  /* Heat with H_0 = omega * (number operator): traces of the integer operator first, times
   * omega last, so H_0's matrix carries no rounding. */
  qtm_dd Q[2];
  for (int b = 0; b < 2; ++b) {
    qtm_dd acc = {0.0, 0.0};
    for (int q = 2 * b; q < 2 * b + 2; ++q) {
      qtm_ddc v;
      rc = qtm_lv_dissipated(d, num, &jumps[q], rho_hi, rho_lo, &v);
      if (rc != QTM_OK) {
        qtm_lv_seterr(err, errcap, "out of memory for the heat currents");
        goto cleanup;
      }
      acc = qtm_dd_add(acc, v.re);
    }
    Q[b] = qtm_dd_mul_d(acc, p->omega);
  }
  out->Q_L = qtm_dd_value(Q[0]);
  out->Q_R = qtm_dd_value(Q[1]);
  out->J = qtm_dd_value(qtm_dd_sub(Q[0], Q[1]));
  out->trace_error = qtm_lv_trace_error(d, rho_hi, rho_lo);
  out->balance_error =
      qtm_lv_balance_error(Q[0], Q[1], p->omega * (gLm.hi + gLp.hi + gRm.hi + gRp.hi));
  out->p1 = out->p4 = out->coherence = out->concurrence = NAN;
  if (N == 2) {
    out->p1 = creal(rho_hi[3 * 4 + 3]) + creal(rho_lo[3 * 4 + 3]);
    out->p4 = creal(rho_hi[0]) + creal(rho_lo[0]);
    /* coherence = Im<s1 s2^+ - s1^+ s2>/2 */
    qtm_cm_mul(4, 4, 4, sm, sp_ + dd, tmp);
    qtm_cm_mul(4, 4, 4, sp_, sm + dd, tmp2);
    qtm_cm_axpy(4, 4, -1.0, tmp2, tmp);
    qtm_ddc c = qtm_lv_expect(4, tmp, rho_hi, rho_lo);
    out->coherence = 0.5 * qtm_dd_value(c.im);
    double r[32];
    for (int i = 0; i < 16; ++i) {
      r[2 * i] = creal(rho_hi[i]);
      r[2 * i + 1] = cimag(rho_hi[i]);
    }
    out->concurrence = qtm_wootters_concurrence(r);
  }
  if (rho) memcpy(rho, rho_hi, dd * sizeof *rho);

cleanup:
  qtm_lv_space_free(&sp);
  free(ops);
  free(rho_hi);
  free(rho_lo);
  return rc;
}

qtm_status qtm_oracle_local(const qtm_params *p, qtm_oracle_result *out, char *err,
                            size_t errcap) {
  if (p && p->eps_a == -1.0)
    return qtm_oracle_chain(p, QTM_CHAIN_AUTO, out, NULL, NULL, err, errcap);
  if (p && p->eps_a == 1.0) return qtm_oracle_moments(p, out, NULL, err, errcap);
  qtm_param_error perr;
  qtm_oracle_result_clear(out);
  if (qtm_params_validate(p, &perr) != QTM_OK) {
    qtm_lv_seterr(err, errcap, "%s", perr.message);
    return QTM_ERR_INVALID_ARG;
  }
  qtm_lv_seterr(err, errcap,
                "the local oracle solves qubits (eps_a = -1) or oscillators (eps_a = +1), "
                "not eps_a = %g",
                p->eps_a);
  return QTM_ERR_UNSUPPORTED;
}
