/* The local master equation of an open chain of N harmonic oscillators (eps_a = +1), solved
 * exactly through its second moments: the Lindbladian is quadratic, so C_ij = <a_i^+ a_j>
 * obeys a closed linear equation and no Fock-space truncation is needed.
 *
 * Derivation (Heisenberg picture, dO/dt = i[H, O] + sum_x rate (x^+ O x - {x^+ x, O}/2)), with
 * H = sum_kl h_kl a_k^+ a_l, h = omega on the diagonal and g between neighbours:
 *   i[H, a_i^+ a_j] = i sum_k h_ki a_k^+ a_j - i sum_l h_jl a_i^+ a_l -> i (h^T C - C h^T)_ij;
 *   x = a_m (rate k-_m):   x^+ O x - {x^+x, O}/2 = -(delta_im + delta_jm)/2 a_i^+ a_j;
 *   x = a_m^+ (rate k+_m): x^+ O x - {x^+x, O}/2 = +(delta_im + delta_jm)/2 a_i^+ a_j
 *                                                   + delta_im delta_jm (from a a^+ = a^+ a + 1);
 * so dC/dt = i(h^T C - C h^T) - (K C + C K)/2 + diag(k+), K = diag(k- - k+). Likewise
 * Q_L = <D_L^dagger(H_0)> with H_0 = omega sum_k n_k: D^dagger[a_1] n_1 = -n_1 and
 * D^dagger[a_1^+] n_1 = n_1 + 1 (the other n_k commute through), so
 * Q_L = omega (k+_L (1 + <n_1>) - k-_L <n_1>). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "liouvillian.h"

/* N^2 unknowns in a dense solve: N = 40 is 1600 unknowns, seconds of LU. */
#define QTM_ORACLE_MAX_OSCILLATORS 40

qtm_status qtm_oracle_moments(const qtm_params *p, qtm_oracle_result *out, double complex *C,
                              char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  double complex *m_hi = NULL, *m_lo = NULL, *b_hi = NULL, *b_lo = NULL, *x_hi = NULL,
                 *x_lo = NULL;
  qtm_dd *kminus = NULL, *kplus = NULL;
  qtm_param_error perr;
  qtm_oracle_result_clear(out);
  if (qtm_params_validate(p, &perr) != QTM_OK) {
    qtm_lv_seterr(err, errcap, "%s", perr.message);
    return QTM_ERR_INVALID_ARG;
  }
  if (p->eps_a != 1.0) {
    qtm_lv_seterr(err, errcap, "the moment equations need oscillators, eps_a = +1 (got %g)",
                  p->eps_a);
    return QTM_ERR_UNSUPPORTED;
  }
  if (p->N > QTM_ORACLE_MAX_OSCILLATORS) {
    qtm_lv_seterr(err, errcap, "the oscillator oracle handles N <= %d (got N = %d)",
                  QTM_ORACLE_MAX_OSCILLATORS, p->N);
    return QTM_ERR_UNSUPPORTED;
  }
  const int N = p->N, n = N * N;
  const size_t nn = (size_t)n;
  m_hi = calloc(nn * nn, sizeof *m_hi);
  m_lo = calloc(nn * nn, sizeof *m_lo);
  b_hi = calloc(nn, sizeof *b_hi);
  b_lo = calloc(nn, sizeof *b_lo);
  x_hi = malloc(nn * sizeof *x_hi);
  x_lo = malloc(nn * sizeof *x_lo);
  kminus = calloc((size_t)N, sizeof *kminus);
  kplus = calloc((size_t)N, sizeof *kplus);
  if (!m_hi || !m_lo || !b_hi || !b_lo || !x_hi || !x_lo || !kminus || !kplus) {
    rc = QTM_ERR_NOMEM;
    qtm_lv_seterr(err, errcap, "out of memory for %d oscillators", N);
    goto cleanup;
  }

  /* The rates carry the baths' statistics; the subsystems' enters only through a a^+. */
  qtm_dd rates[4];
  if ((rc = qtm_oracle_local_rates(p, rates, err, errcap)) != QTM_OK) goto cleanup;
  const qtm_dd gLm = rates[0], gLp = rates[1], gRm = rates[2], gRp = rates[3];
  kminus[0] = qtm_dd_add(kminus[0], gLm);
  kplus[0] = qtm_dd_add(kplus[0], gLp);
  kminus[N - 1] = qtm_dd_add(kminus[N - 1], gRm);
  kplus[N - 1] = qtm_dd_add(kplus[N - 1], gRp);

  qtm_dd *K = kminus; /* becomes k- - k+ in place */
  for (int s = 0; s < N; ++s) {
    int coupled = kminus[s].hi != 0.0 || kplus[s].hi != 0.0;
    K[s] = qtm_dd_sub(kminus[s], kplus[s]);
    if (coupled && !(K[s].hi > 0.0)) {
      rc = QTM_ERR_UNSUPPORTED;
      qtm_lv_seterr(err, errcap,
                    "oscillator %d is unstable: its bath's gain rate is not below its loss rate "
                    "(k- - k+ = %.3g), so no steady state exists",
                    s + 1, qtm_dd_value(K[s]));
      goto cleanup;
    }
  }

  /* Row (i, j) of M vec C = -vec diag(k+), C_ij at i * N + j. */
  for (int i = 0; i < N; ++i)
    for (int j = 0; j < N; ++j) {
      size_t row = (size_t)(i * N + j);
      for (int k = 0; k < N; ++k) { /* + i h_ki C_kj */
        double h = (k == i) ? p->omega : (abs(k - i) == 1 ? p->g : 0.0);
        if (h == 0.0) continue;
        size_t at = row * nn + (size_t)(k * N + j);
        qtm_ddc v =
            qtm_ddc_add(qtm_ddc_from2(m_hi[at], m_lo[at]), qtm_ddc_from(qtm_cmplx(0.0, h)));
        m_hi[at] = qtm_ddc_hi(v);
        m_lo[at] = qtm_ddc_lo(v);
      }
      for (int l = 0; l < N; ++l) { /* - i C_il h_jl */
        double h = (l == j) ? p->omega : (abs(l - j) == 1 ? p->g : 0.0);
        if (h == 0.0) continue;
        size_t at = row * nn + (size_t)(i * N + l);
        qtm_ddc v =
            qtm_ddc_add(qtm_ddc_from2(m_hi[at], m_lo[at]), qtm_ddc_from(qtm_cmplx(0.0, -h)));
        m_hi[at] = qtm_ddc_hi(v);
        m_lo[at] = qtm_ddc_lo(v);
      }
      size_t at = row * nn + row; /* -(K_i + K_j)/2 C_ij */
      qtm_ddc v = qtm_ddc_from2(m_hi[at], m_lo[at]);
      v.re = qtm_dd_sub(v.re, qtm_dd_mul_d(qtm_dd_add(K[i], K[j]), 0.5));
      m_hi[at] = qtm_ddc_hi(v);
      m_lo[at] = qtm_ddc_lo(v);
      if (i == j) {
        b_hi[row] = -kplus[i].hi;
        b_lo[row] = -kplus[i].lo;
      }
    }

  qtm_lv_solve_info info;
  rc = qtm_lv_solve(n, m_hi, m_lo, b_hi, b_lo, x_hi, x_lo, &info);
  if (rc == QTM_ERR_SINGULAR) {
    qtm_lv_seterr(err, errcap,
                  "the oscillators' steady state is not unique (an oscillator without damping; "
                  "moment equations singular or rcond < %g)",
                  QTM_LV_RCOND_MIN);
    goto cleanup;
  } else if (rc != QTM_OK) {
    qtm_lv_seterr(err, errcap, "moment solve failed: %s", qtm_status_str(rc));
    goto cleanup;
  }

  /* Q = omega (k+ + (k+ - k-) <n>) per bath, at its own site, with that bath's rates only. */
  const int site[2] = {0, N - 1};
  const qtm_dd km[2] = {gLm, gRm}, kp[2] = {gLp, gRp};
  qtm_dd Q[2];
  for (int b = 0; b < 2; ++b) {
    size_t at = (size_t)(site[b] * N + site[b]);
    qtm_dd occ = qtm_dd_make(creal(x_hi[at]), creal(x_lo[at]));
    qtm_dd net = qtm_dd_sub(kp[b], km[b]);
    Q[b] = qtm_dd_mul_d(qtm_dd_add(qtm_dd_mul(net, occ), kp[b]), p->omega);
  }
  out->Q_L = qtm_dd_value(Q[0]);
  out->Q_R = qtm_dd_value(Q[1]);
  out->J = qtm_dd_value(qtm_dd_sub(Q[0], Q[1]));
  out->trace_error = 0.0;
  out->balance_error =
      qtm_lv_balance_error(Q[0], Q[1], p->omega * (gLm.hi + gLp.hi + gRm.hi + gRp.hi));
  if (N == 2) {
    /* Im<a1 a2^+ - a1^+ a2>/2 = Im(C_21 - C_12)/2 */
    qtm_dd c21 = qtm_dd_make(cimag(x_hi[2]), cimag(x_lo[2]));
    qtm_dd c12 = qtm_dd_make(cimag(x_hi[1]), cimag(x_lo[1]));
    out->coherence = 0.5 * qtm_dd_value(qtm_dd_sub(c21, c12));
  }
  if (C) memcpy(C, x_hi, nn * sizeof *C);

cleanup:
  free(m_hi);
  free(m_lo);
  free(b_hi);
  free(b_lo);
  free(x_hi);
  free(x_lo);
  free(kminus);
  free(kplus);
  return rc;
}
