/* The global (strong-coupling) master equation of two resonant qubits with bosonic baths
 * (FORMULAS.md section 2, Eq. 20): jump operators between eigenstates of the full H_S, one
 * per bath and transition frequency omega +- g, solved as a dense Liouvillian steady state. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "liouvillian.h"

/* |u><v| into out (4 x 4). */
static void outer(const double complex *u, const double complex *v, double complex *out) {
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) out[i * 4 + j] = u[i] * conj(v[j]);
}

/* The jump operators change the excitation number by one on both sides of rho alike, so the
 * steady state lies in the block of equal excitation numbers; solving there keeps the
 * elements outside it exactly zero (the X shape the concurrence's exact form relies on). */
static int same_excitation(int i, int j, const void *ctx) {
  static const int exc[4] = {0, 1, 1, 2};
  (void)ctx;
  return exc[i] == exc[j];
}

/* a * b * c of 4 x 4 matrices into out. */
static void mul3(const double complex *a, const double complex *b, const double complex *c,
                 double complex *out) {
  double complex t[16];
  qtm_cm_mul(4, 4, 4, a, b, t);
  qtm_cm_mul(4, 4, 4, t, c, out);
}

qtm_status qtm_oracle_global_state(const qtm_params *p, qtm_oracle_result *out,
                                   double complex *rho, char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  qtm_lv_space sp = {0, 0, NULL, NULL};
  qtm_param_error perr;
  qtm_oracle_result_clear(out);
  if (qtm_params_validate(p, &perr) != QTM_OK) {
    qtm_lv_seterr(err, errcap, "%s", perr.message);
    return QTM_ERR_INVALID_ARG;
  }
  if (p->eps_a != -1.0 || p->epsL != 1.0 || p->epsR != 1.0 || p->N != 2 || !(p->g > 0) ||
      !(p->g < p->omega)) {
    qtm_lv_seterr(err, errcap,
                  "the global master equation is defined for two qubits (eps_a = -1, N = 2) "
                  "with bosonic baths (epsL = epsR = +1) and 0 < g < omega; got eps_a = %g, "
                  "N = %d, epsL = %g, epsR = %g, g = %g, omega = %g",
                  p->eps_a, p->N, p->epsL, p->epsR, p->g, p->omega);
    return QTM_ERR_UNSUPPORTED;
  }

  /* Basis |00>, |01>, |10>, |11>, site 1 = left digit, 1 = excited. */
  static const double complex sm2[4] = {0, 1, 0, 0}, id2[4] = {1, 0, 0, 1};
  double complex s1[16], s2[16], s1d[16], s2d[16], H[16], t[16];
  qtm_cm_kron(2, 2, sm2, 2, 2, id2, s1);
  qtm_cm_kron(2, 2, id2, 2, 2, sm2, s2);
  qtm_cm_dagger(4, 4, s1, s1d);
  qtm_cm_dagger(4, 4, s2, s2d);
  /* H_S = omega (n1 + n2) + g (s1^+ s2 + s1 s2^+) */
  memset(H, 0, sizeof H);
  qtm_cm_mul(4, 4, 4, s1d, s1, t);
  qtm_cm_axpy(4, 4, p->omega, t, H);
  qtm_cm_mul(4, 4, 4, s2d, s2, t);
  qtm_cm_axpy(4, 4, p->omega, t, H);
  qtm_cm_mul(4, 4, 4, s1d, s2, t);
  qtm_cm_axpy(4, 4, p->g, t, H);
  qtm_cm_mul(4, 4, 4, s1, s2d, t);
  qtm_cm_axpy(4, 4, p->g, t, H);

  /* Eigenvectors: |0> = |00>, |w+-> = (|01> +- |10>)/sqrt2 at omega +- g, |2> = |11>. */
  const double c = sqrt(0.5);
  const double complex v0[4] = {1, 0, 0, 0}, vp[4] = {0, c, c, 0}, vm[4] = {0, c, -c, 0},
                       v2[4] = {0, 0, 0, 1};
  double complex P0[16], Pp[16], Pm[16], P2[16];
  outer(v0, v0, P0);
  outer(vp, vp, Pp);
  outer(vm, vm, Pm);
  outer(v2, v2, P2);

  /* L_j(w+-) = |0><0| s_j |w+-><w+-| + |w-+><w-+| s_j |2><2|, and their adjoints.
   * ops[lambda][phi][0] = L, [1] = L^+; phi = 0 for w+, 1 for w-. */
  double complex ops[2][2][2][16];
  const double complex *sj[2] = {s1, s2};
  for (int lam = 0; lam < 2; ++lam)
    for (int phi = 0; phi < 2; ++phi) {
      double complex a[16], b[16];
      mul3(P0, sj[lam], phi == 0 ? Pp : Pm, a);
      mul3(phi == 0 ? Pm : Pp, sj[lam], P2, b);
      for (int i = 0; i < 16; ++i) ops[lam][phi][0][i] = a[i] + b[i];
      qtm_cm_dagger(4, 4, ops[lam][phi][0], ops[lam][phi][1]);
    }

  const double T[2] = {p->TL, p->TR}, gam[2] = {p->gammaL, p->gammaR};
  const qtm_dd w[2] = {qtm_dd_two_sum(p->omega, p->g), qtm_dd_two_sum(p->omega, -p->g)};
  qtm_lv_jump jumps[8];
  for (int lam = 0; lam < 2; ++lam)
    for (int phi = 0; phi < 2; ++phi) {
      qtm_dd down, up;
      qtm_oracle_bath_rates(gam[lam], w[phi], T[lam], 1.0, &down, &up);
      if (!qtm_oracle_rates_finite(1, &down) || !qtm_oracle_rates_finite(1, &up)) {
        qtm_lv_seterr(err, errcap,
                      "a bath occupation overflows (omega/T too small): no finite rates");
        return QTM_ERR_UNSUPPORTED;
      }
      qtm_lv_jump *j = &jumps[4 * lam + 2 * phi];
      j[0].rate = down.hi;
      j[0].rate_lo = down.lo;
      j[0].x = ops[lam][phi][0];
      j[1].rate = up.hi;
      j[1].rate_lo = up.lo;
      j[1].x = ops[lam][phi][1];
    }

  double complex rho_hi[16], rho_lo[16];
  rc = qtm_lv_space_init(&sp, 4, same_excitation, NULL);
  if (rc != QTM_OK) {
    qtm_lv_seterr(err, errcap, "could not set up the unknowns: %s", qtm_status_str(rc));
    goto cleanup;
  }
  rc = qtm_lv_steady_state(&sp, H, jumps, 8, rho_hi, rho_lo, NULL, err, errcap);
  if (rc != QTM_OK) goto cleanup;

  qtm_dd Q[2] = {{0.0, 0.0}, {0.0, 0.0}};
  for (int lam = 0; lam < 2; ++lam)
    for (int q = 4 * lam; q < 4 * lam + 4; ++q) {
      qtm_ddc v;
      rc = qtm_lv_dissipated(4, H, &jumps[q], rho_hi, rho_lo, &v);
      if (rc != QTM_OK) {
        qtm_lv_seterr(err, errcap, "out of memory for the heat currents");
        goto cleanup;
      }
      Q[lam] = qtm_dd_add(Q[lam], v.re);
    }
  out->Q_L = qtm_dd_value(Q[0]);
  out->Q_R = qtm_dd_value(Q[1]);
  out->J = qtm_dd_value(qtm_dd_sub(Q[0], Q[1]));
  out->trace_error = qtm_lv_trace_error(4, rho_hi, rho_lo);
  double scale = 0.0;
  for (int q = 0; q < 8; ++q) scale += jumps[q].rate;
  out->balance_error = qtm_lv_balance_error(Q[0], Q[1], p->omega * scale);
  out->p1 = creal(rho_hi[15]) + creal(rho_lo[15]);
  out->p4 = creal(rho_hi[0]) + creal(rho_lo[0]);
  double complex a[16], b[16];
  qtm_cm_mul(4, 4, 4, s1, s2d, a);
  qtm_cm_mul(4, 4, 4, s1d, s2, b);
  qtm_cm_axpy(4, 4, -1.0, b, a);
  out->coherence = 0.5 * qtm_dd_value(qtm_lv_expect(4, a, rho_hi, rho_lo).im);
  double r[32];
  for (int i = 0; i < 16; ++i) {
    r[2 * i] = creal(rho_hi[i]);
    r[2 * i + 1] = cimag(rho_hi[i]);
  }
  out->concurrence = qtm_wootters_concurrence(r);
  if (rho) memcpy(rho, rho_hi, sizeof rho_hi);

cleanup:
  qtm_lv_space_free(&sp);
  return rc;
}

qtm_status qtm_oracle_global(const qtm_params *p, qtm_oracle_result *out, char *err,
                             size_t errcap) {
  return qtm_oracle_global_state(p, out, NULL, err, errcap);
}
