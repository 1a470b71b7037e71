/* Small dense complex matrices (C99 double complex, row-major) and double-double arithmetic
 * for the numerical oracle. The oracle keeps its Liouvillians, steady states and traces in
 * double-double (an unevaluated sum hi + lo, about 32 significant digits) so that heat
 * currents, which are differences of nearly equal gain and loss terms, keep full double
 * accuracy after the cancellation. */
#ifndef QTM_ORACLE_CMATRIX_H
#define QTM_ORACLE_CMATRIX_H

#include <complex.h>
#include <math.h>
#include <stddef.h>

/* re + i im without multiplying by I (which would turn an infinite part into NaN); C11's
 * CMPLX is missing under some compilers, and C11 fixes the layout this relies on. */
static inline double complex qtm_cmplx(double re, double im) {
  union {
    double complex z;
    double part[2];
  } u;
  u.part[0] = re;
  u.part[1] = im;
  return u.z;
}

/* ---- double-double reals and complexes ------------------------------------------------- */

typedef struct qtm_dd {
  double hi, lo;
} qtm_dd;

typedef struct qtm_ddc {
  qtm_dd re, im;
} qtm_ddc;

/* Knuth's branch-free error-free sum: hi + lo == a + b exactly. */
static inline qtm_dd qtm_dd_two_sum(double a, double b) {
  qtm_dd r;
  r.hi = a + b;
  double bb = r.hi - a;
  r.lo = (a - (r.hi - bb)) + (b - bb);
  return r;
}

/* Valid only when |a| >= |b| (or a == 0); renormalises a (hi, lo) pair. */
static inline qtm_dd qtm_dd_fast_two_sum(double a, double b) {
  qtm_dd r;
  r.hi = a + b;
  r.lo = b - (r.hi - a);
  return r;
}

/* Error-free product through fma: hi + lo == a * b exactly (barring underflow). */
static inline qtm_dd qtm_dd_two_prod(double a, double b) {
  qtm_dd r;
  r.hi = a * b;
  r.lo = fma(a, b, -r.hi);
  return r;
}

static inline qtm_dd qtm_dd_make(double hi, double lo) { return qtm_dd_two_sum(hi, lo); }

static inline double qtm_dd_value(qtm_dd a) { return a.hi + a.lo; }

static inline qtm_dd qtm_dd_neg(qtm_dd a) {
  a.hi = -a.hi;
  a.lo = -a.lo;
  return a;
}

/* The accurate (IEEE-style) double-double sum, relative error ~ 2^-104 even under
 * cancellation, which is exactly where the heat currents need it. */
static inline qtm_dd qtm_dd_add(qtm_dd a, qtm_dd b) {
  qtm_dd s = qtm_dd_two_sum(a.hi, b.hi);
  qtm_dd t = qtm_dd_two_sum(a.lo, b.lo);
  s.lo += t.hi;
  s = qtm_dd_fast_two_sum(s.hi, s.lo);
  s.lo += t.lo;
  return qtm_dd_fast_two_sum(s.hi, s.lo);
}

static inline qtm_dd qtm_dd_sub(qtm_dd a, qtm_dd b) { return qtm_dd_add(a, qtm_dd_neg(b)); }

static inline qtm_dd qtm_dd_add_d(qtm_dd a, double b) {
  qtm_dd s = qtm_dd_two_sum(a.hi, b);
  s.lo += a.lo;
  return qtm_dd_fast_two_sum(s.hi, s.lo);
}

static inline qtm_dd qtm_dd_mul(qtm_dd a, qtm_dd b) {
  qtm_dd p = qtm_dd_two_prod(a.hi, b.hi);
  p.lo += a.hi * b.lo + a.lo * b.hi;
  return qtm_dd_fast_two_sum(p.hi, p.lo);
}

static inline qtm_dd qtm_dd_mul_d(qtm_dd a, double b) {
  qtm_dd p = qtm_dd_two_prod(a.hi, b);
  p.lo += a.lo * b;
  return qtm_dd_fast_two_sum(p.hi, p.lo);
}

/* (a.hi + a.lo) / b, correctly rounded to ~2^-104: the remainder of the first quotient is
 * exact through fma. */
static inline qtm_dd qtm_dd_div_d(qtm_dd a, double b) {
  double q1 = a.hi / b;
  qtm_dd p = qtm_dd_two_prod(q1, b);
  double r = ((a.hi - p.hi) - p.lo) + a.lo;
  return qtm_dd_fast_two_sum(q1, r / b);
}

static inline qtm_dd qtm_dd_div(qtm_dd a, qtm_dd b) {
  double q1 = a.hi / b.hi;
  qtm_dd r = qtm_dd_sub(a, qtm_dd_mul_d(b, q1));
  double q2 = r.hi / b.hi;
  r = qtm_dd_sub(r, qtm_dd_mul_d(b, q2));
  double q3 = r.hi / b.hi;
  return qtm_dd_add_d(qtm_dd_fast_two_sum(q1, q2), q3);
}

/* e^a - 1 for 0 <= a <= 1 and e^a for a <= 0, in double-double (cmatrix.c). Bath occupations
 * need them: a heat current between nearly equal temperatures is a difference of two
 * occupations, so an occupation's last-bit rounding would be amplified by T / dT. */
qtm_dd qtm_dd_expm1_unit(qtm_dd a);
qtm_dd qtm_dd_exp_neg(qtm_dd a);

static inline qtm_ddc qtm_ddc_zero(void) {
  qtm_ddc z = {{0.0, 0.0}, {0.0, 0.0}};
  return z;
}

static inline qtm_ddc qtm_ddc_from(double complex z) {
  qtm_ddc r = {{creal(z), 0.0}, {cimag(z), 0.0}};
  return r;
}

/* (hi, lo) pair of double complexes, as the oracle stores its matrices, to one value. */
static inline qtm_ddc qtm_ddc_from2(double complex hi, double complex lo) {
  qtm_ddc r;
  r.re = qtm_dd_make(creal(hi), creal(lo));
  r.im = qtm_dd_make(cimag(hi), cimag(lo));
  return r;
}

static inline double complex qtm_ddc_hi(qtm_ddc a) {
  return qtm_cmplx(a.re.hi, a.im.hi);
}
static inline double complex qtm_ddc_lo(qtm_ddc a) {
  return qtm_cmplx(a.re.lo, a.im.lo);
}

static inline qtm_ddc qtm_ddc_add(qtm_ddc a, qtm_ddc b) {
  a.re = qtm_dd_add(a.re, b.re);
  a.im = qtm_dd_add(a.im, b.im);
  return a;
}

static inline qtm_ddc qtm_ddc_sub(qtm_ddc a, qtm_ddc b) {
  a.re = qtm_dd_sub(a.re, b.re);
  a.im = qtm_dd_sub(a.im, b.im);
  return a;
}

static inline qtm_ddc qtm_ddc_conj(qtm_ddc a) {
  a.im = qtm_dd_neg(a.im);
  return a;
}

static inline qtm_ddc qtm_ddc_mul(qtm_ddc a, qtm_ddc b) {
  qtm_ddc r;
  r.re = qtm_dd_sub(qtm_dd_mul(a.re, b.re), qtm_dd_mul(a.im, b.im));
  r.im = qtm_dd_add(qtm_dd_mul(a.re, b.im), qtm_dd_mul(a.im, b.re));
  return r;
}

static inline qtm_ddc qtm_ddc_mul_d(qtm_ddc a, double b) {
  a.re = qtm_dd_mul_d(a.re, b);
  a.im = qtm_dd_mul_d(a.im, b);
  return a;
}

/* Product of two plain complexes, exact up to the final double-double rounding. */
static inline qtm_ddc qtm_ddc_prod(double complex a, double complex b) {
  qtm_ddc r;
  r.re = qtm_dd_sub(qtm_dd_two_prod(creal(a), creal(b)), qtm_dd_two_prod(cimag(a), cimag(b)));
  r.im = qtm_dd_add(qtm_dd_two_prod(creal(a), cimag(b)), qtm_dd_two_prod(cimag(a), creal(b)));
  return r;
}

static inline qtm_ddc qtm_ddc_mul_dd(qtm_ddc a, qtm_dd b) {
  a.re = qtm_dd_mul(a.re, b);
  a.im = qtm_dd_mul(a.im, b);
  return a;
}

static inline qtm_ddc qtm_ddc_mul_c(qtm_ddc a, double complex b) {
  qtm_ddc r;
  r.re = qtm_dd_sub(qtm_dd_mul_d(a.re, creal(b)), qtm_dd_mul_d(a.im, cimag(b)));
  r.im = qtm_dd_add(qtm_dd_mul_d(a.re, cimag(b)), qtm_dd_mul_d(a.im, creal(b)));
  return r;
}

/* ---- dense complex matrices, row-major --------------------------------------------------- */

/* Zero-filled n x m matrix from calloc (free with free()); NULL when out of memory. */
double complex *qtm_cm_new(size_t n, size_t m);

void qtm_cm_identity(size_t n, double complex *a);

/* c (n x m) = a (n x k) * b (k x m); c must not alias a or b. */
void qtm_cm_mul(size_t n, size_t k, size_t m, const double complex *a, const double complex *b,
                double complex *c);

/* out (m x n) = a^dagger for a (n x m); out must not alias a. */
void qtm_cm_dagger(size_t n, size_t m, const double complex *a, double complex *out);

/* out ((na nb) x (ma mb)) = a (na x ma) kron b (nb x mb): the first factor is the slow
 * (most significant) index, which is the oracle's site-1-first basis convention. */
void qtm_cm_kron(size_t na, size_t ma, const double complex *a, size_t nb, size_t mb,
                 const double complex *b, double complex *out);

/* y (n x m) += s * x (n x m). */
void qtm_cm_axpy(size_t n, size_t m, double complex s, const double complex *x,
                 double complex *y);

/* max |a_ij - conj(a_ji)| of a square n x n matrix. */
double qtm_cm_hermiticity_error(size_t n, const double complex *a);

#endif
