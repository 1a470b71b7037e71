/* Wootters concurrence of a two-qubit density matrix. The master equations here have X-shaped
 * steady states, for which the concurrence has an exact closed form; the general route goes
 * through square roots of eigenvalues, which turn a rounding error of 1e-17 in a vanishing
 * eigenvalue into 3e-9 in C, too coarse for 1e-12 comparisons, so it is kept for other
 * states. */
#include <lapacke.h>
#include <math.h>

#include "liouvillian.h"

/* Below this an entry counts as zero: only exact zeros or underflow remnants qualify, so no
 * genuinely non-X state is ever forced into the X formula. */
#define QTM_XSTATE_ZERO 1e-300

static double complex at(const double r[32], int i, int j) {
  return qtm_cmplx(r[2 * (4 * i + j)], r[2 * (4 * i + j) + 1]);
}

double qtm_wootters_general(const double rho_re_im[32]) {
  /* R = rho (sy x sy) rho^* (sy x sy); sy x sy is the anti-diagonal (-1, 1, 1, -1), so
   * (sy x sy) rho^* (sy x sy)_ij = s_i s_j conj(rho_{3-i, 3-j}). */
  static const double sgn[4] = {-1.0, 1.0, 1.0, -1.0};
  double complex rho[16], tilde[16], R[16], w[4];
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      rho[i * 4 + j] = at(rho_re_im, i, j);
      tilde[i * 4 + j] = sgn[i] * sgn[j] * conj(at(rho_re_im, 3 - i, 3 - j));
    }
  qtm_cm_mul(4, 4, 4, rho, tilde, R);
  lapack_int st = LAPACKE_zgeev(LAPACK_ROW_MAJOR, 'N', 'N', 4, R, 4, w, NULL, 1, NULL, 1);
  if (st != 0) return NAN;
  /* The eigenvalues are real and non-negative in exact arithmetic; rounding leaves tiny
   * imaginary parts and negatives, which carry no information. */
  double l[4];
  for (int i = 0; i < 4; ++i) l[i] = sqrt(fmax(0.0, creal(w[i])));
  for (int i = 1; i < 4; ++i) /* insertion sort, decreasing */
    for (int k = i; k > 0 && l[k] > l[k - 1]; --k) {
      double t = l[k];
      l[k] = l[k - 1];
      l[k - 1] = t;
    }
  return fmax(0.0, l[0] - l[1] - l[2] - l[3]);
}

double qtm_wootters_concurrence(const double rho_re_im[32]) {
  int xshape = 1;
  for (int i = 0; i < 4 && xshape; ++i)
    for (int j = 0; j < 4; ++j) {
      if (i == j || i + j == 3) continue;
      double complex v = at(rho_re_im, i, j);
      if (!(fabs(creal(v)) < QTM_XSTATE_ZERO && fabs(cimag(v)) < QTM_XSTATE_ZERO)) {
        xshape = 0;
        break;
      }
    }
  if (!xshape) return qtm_wootters_general(rho_re_im);
  /* X state: C = 2 max(0, |rho_23| - sqrt(rho_11 rho_44), |rho_14| - sqrt(rho_22 rho_33)). */
  double d0 = creal(at(rho_re_im, 0, 0)), d1 = creal(at(rho_re_im, 1, 1));
  double d2 = creal(at(rho_re_im, 2, 2)), d3 = creal(at(rho_re_im, 3, 3));
  /* sqrt of each factor: the product of two small populations may underflow. */
  double a = cabs(at(rho_re_im, 1, 2)) - sqrt(fmax(0.0, d0)) * sqrt(fmax(0.0, d3));
  double b = cabs(at(rho_re_im, 0, 3)) - sqrt(fmax(0.0, d1)) * sqrt(fmax(0.0, d2));
  return 2.0 * fmax(0.0, fmax(a, b));
}
