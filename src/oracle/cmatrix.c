/* Dense complex matrix helpers of the oracle: the few operations needed to assemble
 * Hamiltonians and jump operators of small spin chains and truncated oscillators. */
#include "cmatrix.h"

#include <stdlib.h>

/* Taylor series of e^a - 1 for |a| <= 1: the terms fall below 2^-106 of the sum by k = 30. */
static qtm_dd expm1_series(qtm_dd a) {
  qtm_dd sum = a, term = a;
  for (int k = 2; k <= 40; ++k) {
    term = qtm_dd_div_d(qtm_dd_mul(term, a), (double)k);
    sum = qtm_dd_add(sum, term);
    if (fabs(term.hi) <= 0x1p-110 * fabs(sum.hi)) break;
  }
  return sum;
}

qtm_dd qtm_dd_expm1_unit(qtm_dd a) { return expm1_series(a); }

qtm_dd qtm_dd_exp_neg(qtm_dd a) {
  static const qtm_dd ln2 = {6.93147180559945286227e-01, 2.31904681384629955842e-17};
  qtm_dd zero = {0.0, 0.0};
  if (a.hi < -760.0) return zero; /* below the smallest subnormal */
  /* a = k ln2 + r with |r| <= ln2/2, e^a = 2^k (1 + expm1(r)) */
  double k = nearbyint(a.hi / ln2.hi);
  qtm_dd r = qtm_dd_sub(a, qtm_dd_mul_d(ln2, k));
  qtm_dd e = qtm_dd_add_d(expm1_series(r), 1.0);
  e.hi = ldexp(e.hi, (int)k);
  e.lo = ldexp(e.lo, (int)k);
  return e;
}

double complex *qtm_cm_new(size_t n, size_t m) {
  if (n == 0 || m == 0) return NULL;
  return calloc(n * m, sizeof(double complex));
}

void qtm_cm_identity(size_t n, double complex *a) {
  for (size_t i = 0; i < n * n; ++i) a[i] = 0.0;
  for (size_t i = 0; i < n; ++i) a[i * n + i] = 1.0;
}

void qtm_cm_mul(size_t n, size_t k, size_t m, const double complex *a, const double complex *b,
                double complex *c) {
  for (size_t i = 0; i < n * m; ++i) c[i] = 0.0;
  for (size_t i = 0; i < n; ++i)
    for (size_t l = 0; l < k; ++l) {
      double complex ail = a[i * k + l];
      if (ail == 0.0) continue; /* operators here are mostly zeros */
      for (size_t j = 0; j < m; ++j) c[i * m + j] += ail * b[l * m + j];
    }
}

void qtm_cm_dagger(size_t n, size_t m, const double complex *a, double complex *out) {
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < m; ++j) out[j * n + i] = conj(a[i * m + j]);
}

void qtm_cm_kron(size_t na, size_t ma, const double complex *a, size_t nb, size_t mb,
                 const double complex *b, double complex *out) {
  size_t cols = ma * mb;
  for (size_t ia = 0; ia < na; ++ia)
    for (size_t ja = 0; ja < ma; ++ja) {
      double complex s = a[ia * ma + ja];
      for (size_t ib = 0; ib < nb; ++ib)
        for (size_t jb = 0; jb < mb; ++jb)
          out[(ia * nb + ib) * cols + ja * mb + jb] = s * b[ib * mb + jb];
    }
}

void qtm_cm_axpy(size_t n, size_t m, double complex s, const double complex *x,
                 double complex *y) {
  for (size_t i = 0; i < n * m; ++i) y[i] += s * x[i];
}

double qtm_cm_hermiticity_error(size_t n, const double complex *a) {
  double worst = 0.0;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i; j < n; ++j) {
      double e = cabs(a[i * n + j] - conj(a[j * n + i]));
      if (e > worst || isnan(e)) worst = e;
    }
  return worst;
}
