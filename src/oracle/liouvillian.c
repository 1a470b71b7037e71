/* Lindblad Liouvillians in double-double, their unique steady states, and traces over them:
 * the generic engine under every master equation the oracle solves. */
#include "liouvillian.h"

#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Refinement stops after this many solves even if it still gains digits. */
#define QTM_LV_MAX_REFINE 30

void qtm_lv_seterr(char *err, size_t errcap, const char *fmt, ...) {
  if (!err || errcap == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errcap, fmt, ap);
  va_end(ap);
}

void qtm_oracle_result_clear(qtm_oracle_result *out) {
  if (!out) return;
  out->Q_L = out->Q_R = out->J = NAN;
  out->p1 = out->p4 = out->coherence = out->concurrence = NAN;
  out->trace_error = out->balance_error = NAN;
}

/* ---- spaces of unknowns ----------------------------------------------------------------- */

qtm_status qtm_lv_space_init(qtm_lv_space *s, int d, qtm_lv_keep_fn keep, const void *ctx) {
  s->d = 0;
  s->n = 0;
  s->pair = NULL;
  s->slot = NULL;
  /* d^2 unknowns must index an int matrix of d^4 entries comfortably. */
  if (d < 1 || d > 4096) return QTM_ERR_INVALID_ARG;
  size_t dd = (size_t)d * (size_t)d;
  int *pair = malloc(dd * sizeof *pair);
  int *slot = malloc(dd * sizeof *slot);
  if (!pair || !slot) {
    free(pair);
    free(slot);
    return QTM_ERR_NOMEM;
  }
  int n = 0;
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < d; ++j) {
      int p = i * d + j;
      if (!keep || keep(i, j, ctx)) {
        pair[n] = p;
        slot[p] = n++;
      } else if (i == j) {
        free(pair);
        free(slot);
        return QTM_ERR_INVALID_ARG; /* the trace condition needs every population */
      } else {
        slot[p] = -1;
      }
    }
  s->d = d;
  s->n = n;
  s->pair = pair;
  s->slot = slot;
  return QTM_OK;
}

void qtm_lv_space_free(qtm_lv_space *s) {
  if (!s) return;
  free(s->pair);
  free(s->slot);
  s->pair = NULL;
  s->slot = NULL;
  s->n = 0;
  s->d = 0;
}

/* ---- dense solve with double-double refinement ------------------------------------------ */

/* A power of two near v, so that scaling by it is exact and the refinement's double-double
 * residuals see exactly the matrix that was factorised. */
static double pow2_near(double v) {
  if (!(v > 0) || !isfinite(v)) return 1.0;
  int e;
  frexp(v, &e);
  return ldexp(1.0, e - 1);
}

/* Accumulates a*b into the compensated sum (s, c) (Ogita, Rump and Oishi's Dot2). */
static inline void dot2_acc(double *s, double *c, double a, double b) {
  qtm_dd p = qtm_dd_two_prod(a, b);
  qtm_dd t = qtm_dd_two_sum(*s, p.hi);
  *s = t.hi;
  *c += p.lo + t.lo;
}

/* r = b - (A_hi + A_lo)(x_hi + x_lo), row i, to ~2^-104 of sum |A||x|: products of the high
 * parts are exact (fma), the cross terms are 2^-53 smaller and need only plain doubles. */
static qtm_ddc residual_row(int n, int i, const double complex *a_hi, const double complex *a_lo,
                            double complex b_hi, double complex b_lo, const double complex *x_hi,
                            const double complex *x_lo) {
  double sr = creal(b_hi), cr = creal(b_lo);
  double si = cimag(b_hi), ci = cimag(b_lo);
  const double complex *ah = a_hi + (size_t)i * (size_t)n;
  const double complex *al = a_lo ? a_lo + (size_t)i * (size_t)n : NULL;
  for (int j = 0; j < n; ++j) {
    double complex a = ah[j];
    double complex alo = al ? al[j] : 0.0;
    if (a == 0.0 && alo == 0.0) continue; /* Liouvillians are sparse */
    double ar = creal(a), ai = cimag(a), xr = creal(x_hi[j]), xi = cimag(x_hi[j]);
    double lr = creal(x_lo[j]), li = cimag(x_lo[j]);
    dot2_acc(&sr, &cr, -ar, xr);
    dot2_acc(&sr, &cr, ai, xi);
    dot2_acc(&si, &ci, -ar, xi);
    dot2_acc(&si, &ci, -ai, xr);
    cr -= ar * lr - ai * li + creal(alo) * xr - cimag(alo) * xi;
    ci -= ar * li + ai * lr + creal(alo) * xi + cimag(alo) * xr;
  }
  qtm_ddc r;
  r.re = qtm_dd_two_sum(sr, cr);
  r.im = qtm_dd_two_sum(si, ci);
  return r;
}

qtm_status qtm_lv_solve(int n, const double complex *a_hi, const double complex *a_lo,
                        const double complex *b_hi, const double complex *b_lo,
                        double complex *x_hi, double complex *x_lo, qtm_lv_solve_info *info) {
  qtm_status rc = QTM_OK;
  qtm_lv_solve_info rep = {0.0, 0, INFINITY};
  double complex *lu = NULL, *corr = NULL;
  double *rs = NULL, *cs = NULL;
  lapack_int *ipiv = NULL;
  if (n < 1) {
    rc = QTM_ERR_INVALID_ARG;
    goto cleanup;
  }
  size_t nn = (size_t)n;
  lu = malloc(nn * nn * sizeof *lu);
  corr = malloc(nn * sizeof *corr);
  rs = malloc(nn * sizeof *rs);
  cs = malloc(nn * sizeof *cs);
  ipiv = malloc(nn * sizeof *ipiv);
  if (!lu || !corr || !rs || !cs || !ipiv) {
    rc = QTM_ERR_NOMEM;
    goto cleanup;
  }
  /* LAPACK is column-major; transposing here avoids LAPACKE's row-major copies in every
   * zgetrs of the refinement. */
  for (size_t i = 0; i < nn; ++i)
    for (size_t j = 0; j < nn; ++j) lu[i + j * nn] = a_hi[i * nn + j];

  double rowcnd, colcnd, amax;
  lapack_int st = LAPACKE_zgeequ(LAPACK_COL_MAJOR, n, n, lu, n, rs, cs, &rowcnd, &colcnd, &amax);
  if (st < 0) {
    rc = QTM_ERR_LAPACK;
    goto cleanup;
  }
  if (st > 0) { /* an exactly zero row or column */
    rc = QTM_ERR_SINGULAR;
    goto cleanup;
  }
  for (size_t i = 0; i < nn; ++i) {
    rs[i] = pow2_near(rs[i]);
    cs[i] = pow2_near(cs[i]);
  }
  for (size_t j = 0; j < nn; ++j)
    for (size_t i = 0; i < nn; ++i) lu[i + j * nn] *= rs[i] * cs[j];

  double anorm = LAPACKE_zlange(LAPACK_COL_MAJOR, '1', n, n, lu, n);
  if (!isfinite(anorm)) {
    rc = QTM_ERR_LAPACK;
    goto cleanup;
  }
  st = LAPACKE_zgetrf(LAPACK_COL_MAJOR, n, n, lu, n, ipiv);
  if (st < 0) {
    rc = QTM_ERR_LAPACK;
    goto cleanup;
  }
  if (st > 0) {
    rc = QTM_ERR_SINGULAR;
    goto cleanup;
  }
  st = LAPACKE_zgecon(LAPACK_COL_MAJOR, '1', n, lu, n, anorm, &rep.rcond);
  if (st != 0) {
    rc = QTM_ERR_LAPACK;
    goto cleanup;
  }
  if (!(rep.rcond >= QTM_LV_RCOND_MIN)) {
    rc = QTM_ERR_SINGULAR;
    goto cleanup;
  }

  for (size_t i = 0; i < nn; ++i) x_hi[i] = x_lo[i] = 0.0;
  double prev = INFINITY;
  for (int it = 1; it <= QTM_LV_MAX_REFINE; ++it) {
    for (int i = 0; i < n; ++i) {
      qtm_ddc r = residual_row(n, i, a_hi, a_lo, b_hi[i], b_lo ? b_lo[i] : 0.0, x_hi, x_lo);
      corr[i] = rs[i] * qtm_cmplx(qtm_dd_value(r.re), qtm_dd_value(r.im));
    }
    st = LAPACKE_zgetrs(LAPACK_COL_MAJOR, 'N', n, 1, lu, n, ipiv, corr, n);
    if (st != 0) {
      rc = QTM_ERR_LAPACK;
      goto cleanup;
    }
    double nd = 0.0, nx = 0.0;
    for (size_t j = 0; j < nn; ++j) {
      double complex dx = cs[j] * corr[j];
      qtm_ddc x = qtm_ddc_add(qtm_ddc_from2(x_hi[j], x_lo[j]), qtm_ddc_from(dx));
      x_hi[j] = qtm_ddc_hi(x);
      x_lo[j] = qtm_ddc_lo(x);
      nd = fmax(nd, cabs(dx));
      nx = fmax(nx, cabs(x_hi[j]));
    }
    rep.iterations = it;
    rep.correction = nx > 0 ? nd / nx : nd;
    if (!isfinite(nd)) {
      rc = QTM_ERR_SINGULAR;
      goto cleanup;
    }
    if (nd <= 0x1p-104 * nx) break; /* beyond double-double resolution */
    if (it > 2 && nd > 0.5 * prev) break; /* stagnated at the conditioning floor */
    prev = nd;
  }

cleanup:
  if (info) *info = rep;
  free(lu);
  free(corr);
  free(rs);
  free(cs);
  free(ipiv);
  return rc;
}

/* ---- Liouvillian ------------------------------------------------------------------------ */

static qtm_ddc ddc_at(const qtm_ddc *m, int d, int i, int j) { return m[i * d + j]; }

static int ddc_nonzero(qtm_ddc a) { return a.re.hi != 0.0 || a.im.hi != 0.0; }

/* m = x^+ x in double-double, so that the anticommutator term cancels the jump term's
 * trace to ~1e-32 and the Liouvillian stays trace preserving at that level. */
static void dagger_times_self(int d, const double complex *x, qtm_ddc *m) {
  for (int i = 0; i < d; ++i)
    for (int k = 0; k < d; ++k) {
      qtm_ddc acc = qtm_ddc_zero();
      for (int r = 0; r < d; ++r) {
        double complex a = x[r * d + i], b = x[r * d + k];
        if (a == 0.0 || b == 0.0) continue;
        acc = qtm_ddc_add(acc, qtm_ddc_prod(conj(a), b));
      }
      m[i * d + k] = acc;
    }
}

qtm_status qtm_lv_build(const qtm_lv_space *s, const double complex *H, const qtm_lv_jump *jumps,
                        int njumps, double complex *l_hi, double complex *l_lo) {
  qtm_status rc = QTM_OK;
  int d = s->d, n = s->n;
  size_t dd = (size_t)d * (size_t)d, nn = (size_t)n;
  qtm_ddc *img = malloc(dd * sizeof *img);              /* L applied to one basis element */
  qtm_ddc *mm = malloc((njumps > 0 ? (size_t)njumps : 1) * dd * sizeof *mm); /* x^+ x */
  if (!img || !mm) {
    rc = QTM_ERR_NOMEM;
    goto cleanup;
  }
  for (int q = 0; q < njumps; ++q) dagger_times_self(d, jumps[q].x, mm + (size_t)q * dd);
  for (size_t i = 0; i < nn * nn; ++i) l_hi[i] = l_lo[i] = 0.0;

  for (int c = 0; c < n; ++c) {
    int k = s->pair[c] / d, l = s->pair[c] % d; /* column = basis element |k><l| */
    for (size_t i = 0; i < dd; ++i) img[i] = qtm_ddc_zero();
    double scale = 0.0;
    /* -i[H, |k><l|] = -i sum_i H_ik |i><l| + i sum_j H_lj |k><j| */
    for (int i = 0; i < d; ++i) {
      double complex h = H[i * d + k];
      if (h == 0.0) continue;
      qtm_ddc v = qtm_ddc_from(qtm_cmplx(cimag(h), -creal(h))); /* -i h */
      img[i * d + l] = qtm_ddc_add(img[i * d + l], v);
      scale = fmax(scale, cabs(h));
    }
    for (int j = 0; j < d; ++j) {
      double complex h = H[l * d + j];
      if (h == 0.0) continue;
      qtm_ddc v = qtm_ddc_from(qtm_cmplx(-cimag(h), creal(h))); /* +i h */
      img[k * d + j] = qtm_ddc_add(img[k * d + j], v);
      scale = fmax(scale, cabs(h));
    }
    for (int q = 0; q < njumps; ++q) {
      qtm_dd rate = qtm_dd_make(jumps[q].rate, jumps[q].rate_lo);
      qtm_dd mhalf = qtm_dd_mul_d(rate, -0.5);
      const double complex *x = jumps[q].x;
      const qtm_ddc *m = mm + (size_t)q * dd;
      if (rate.hi == 0.0) continue;
      scale = fmax(scale, fabs(rate.hi));
      /* x |k><l| x^+ = sum_ij x_ik conj(x_jl) |i><j| */
      for (int i = 0; i < d; ++i) {
        double complex xik = x[i * d + k];
        if (xik == 0.0) continue;
        for (int j = 0; j < d; ++j) {
          double complex xjl = x[j * d + l];
          if (xjl == 0.0) continue;
          qtm_ddc v = qtm_ddc_mul_dd(qtm_ddc_prod(xik, conj(xjl)), rate);
          img[i * d + j] = qtm_ddc_add(img[i * d + j], v);
        }
      }
      /* -(rate/2)(m |k><l| + |k><l| m) */
      for (int i = 0; i < d; ++i) {
        qtm_ddc mik = ddc_at(m, d, i, k);
        if (!ddc_nonzero(mik)) continue;
        img[i * d + l] = qtm_ddc_add(img[i * d + l], qtm_ddc_mul_dd(mik, mhalf));
      }
      for (int j = 0; j < d; ++j) {
        qtm_ddc mlj = ddc_at(m, d, l, j);
        if (!ddc_nonzero(mlj)) continue;
        img[k * d + j] = qtm_ddc_add(img[k * d + j], qtm_ddc_mul_dd(mlj, mhalf));
      }
    }
    for (size_t p = 0; p < dd; ++p) {
      qtm_ddc v = img[p];
      if (!ddc_nonzero(v)) continue;
      int r = s->slot[p];
      if (r < 0) {
        /* Anything above double-double rounding leaving the space means the caller's block
         * structure is wrong, and the restricted steady state would be too. */
        if (fabs(v.re.hi) + fabs(v.im.hi) > 1e-28 * scale) {
          rc = QTM_ERR_INVALID_ARG;
          goto cleanup;
        }
        continue;
      }
      l_hi[(size_t)r * nn + (size_t)c] = qtm_ddc_hi(v);
      l_lo[(size_t)r * nn + (size_t)c] = qtm_ddc_lo(v);
    }
  }

cleanup:
  free(img);
  free(mm);
  return rc;
}

qtm_status qtm_lv_steady_state(const qtm_lv_space *s, const double complex *H,
                               const qtm_lv_jump *jumps, int njumps, double complex *rho_hi,
                               double complex *rho_lo, qtm_lv_solve_info *info, char *err,
                               size_t errcap) {
  qtm_status rc = QTM_OK;
  int d = s->d, n = s->n;
  size_t nn = (size_t)n, dd = (size_t)d * (size_t)d;
  double complex *l_hi = malloc(nn * nn * sizeof *l_hi);
  double complex *l_lo = malloc(nn * nn * sizeof *l_lo);
  double complex *b = calloc(nn, sizeof *b);
  double complex *x_hi = malloc(nn * sizeof *x_hi);
  double complex *x_lo = malloc(nn * sizeof *x_lo);
  if (info) {
    info->rcond = 0.0;
    info->iterations = 0;
    info->correction = INFINITY;
  }
  if (!l_hi || !l_lo || !b || !x_hi || !x_lo) {
    rc = QTM_ERR_NOMEM;
    qtm_lv_seterr(err, errcap, "out of memory for a %d x %d Liouvillian", n, n);
    goto cleanup;
  }
  rc = qtm_lv_build(s, H, jumps, njumps, l_hi, l_lo);
  if (rc == QTM_ERR_INVALID_ARG) {
    qtm_lv_seterr(err, errcap, "the master equation leaves the chosen block of rho");
    goto cleanup;
  } else if (rc != QTM_OK) {
    qtm_lv_seterr(err, errcap, "could not assemble the Liouvillian: %s", qtm_status_str(rc));
    goto cleanup;
  }
  /* The populations' rows sum to zero (L is trace preserving), so one of them is redundant
   * and may carry tr rho = 1 instead: the ground state's, which is never negligible. */
  int r0 = s->slot[0];
  for (int c = 0; c < n; ++c) {
    int p = s->pair[c];
    l_hi[(size_t)r0 * nn + (size_t)c] = (p / d == p % d) ? 1.0 : 0.0;
    l_lo[(size_t)r0 * nn + (size_t)c] = 0.0;
  }
  b[r0] = 1.0;
  rc = qtm_lv_solve(n, l_hi, l_lo, b, NULL, x_hi, x_lo, info);
  if (rc == QTM_ERR_SINGULAR) {
    qtm_lv_seterr(err, errcap,
                  "the steady state is not unique (Liouvillian singular or rcond < %g)",
                  QTM_LV_RCOND_MIN);
    goto cleanup;
  } else if (rc != QTM_OK) {
    qtm_lv_seterr(err, errcap, "steady-state solve failed: %s", qtm_status_str(rc));
    goto cleanup;
  }
  for (size_t p = 0; p < dd; ++p) rho_hi[p] = rho_lo[p] = 0.0;
  for (int c = 0; c < n; ++c) {
    rho_hi[s->pair[c]] = x_hi[c];
    rho_lo[s->pair[c]] = x_lo[c];
  }

cleanup:
  free(l_hi);
  free(l_lo);
  free(b);
  free(x_hi);
  free(x_lo);
  return rc;
}

/* ---- traces ----------------------------------------------------------------------------- */

qtm_ddc qtm_lv_expect(int d, const double complex *A, const double complex *rho_hi,
                      const double complex *rho_lo) {
  qtm_ddc acc = qtm_ddc_zero();
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < d; ++j) {
      double complex a = A[i * d + j];
      if (a == 0.0) continue;
      qtm_ddc r = qtm_ddc_from2(rho_hi[j * d + i], rho_lo ? rho_lo[j * d + i] : 0.0);
      acc = qtm_ddc_add(acc, qtm_ddc_mul_c(r, a));
    }
  return acc;
}

qtm_status qtm_lv_dissipated(int d, const double complex *A, const qtm_lv_jump *jump,
                             const double complex *rho_hi, const double complex *rho_lo,
                             qtm_ddc *out) {
  qtm_status rc = QTM_OK;
  size_t dd = (size_t)d * (size_t)d;
  const double complex *x = jump->x;
  qtm_ddc *ax = malloc(dd * sizeof *ax); /* A x */
  qtm_ddc *m = malloc(dd * sizeof *m);   /* x^+ x */
  qtm_ddc *b = malloc(dd * sizeof *b);   /* adjoint dissipator applied to A */
  *out = qtm_ddc_zero();
  if (!ax || !m || !b) {
    rc = QTM_ERR_NOMEM;
    goto cleanup;
  }
  dagger_times_self(d, x, m);
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < d; ++j) {
      qtm_ddc acc = qtm_ddc_zero();
      for (int k = 0; k < d; ++k) {
        double complex a = A[i * d + k], xk = x[k * d + j];
        if (a == 0.0 || xk == 0.0) continue;
        acc = qtm_ddc_add(acc, qtm_ddc_prod(a, xk));
      }
      ax[i * d + j] = acc;
    }
  /* b = x^+ (A x) - (m A + A m)/2 */
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < d; ++j) {
      qtm_ddc acc = qtm_ddc_zero();
      for (int k = 0; k < d; ++k) {
        double complex xki = x[k * d + i];
        if (xki != 0.0 && ddc_nonzero(ax[k * d + j]))
          acc = qtm_ddc_add(acc, qtm_ddc_mul_c(ax[k * d + j], conj(xki)));
        double complex akj = A[k * d + j], aik = A[i * d + k];
        if (akj != 0.0 && ddc_nonzero(m[i * d + k]))
          acc = qtm_ddc_sub(acc, qtm_ddc_mul_d(qtm_ddc_mul_c(m[i * d + k], akj), 0.5));
        if (aik != 0.0 && ddc_nonzero(m[k * d + j]))
          acc = qtm_ddc_sub(acc, qtm_ddc_mul_d(qtm_ddc_mul_c(m[k * d + j], aik), 0.5));
      }
      b[i * d + j] = acc;
    }
  qtm_ddc tr = qtm_ddc_zero();
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < d; ++j) {
      if (!ddc_nonzero(b[i * d + j])) continue;
      qtm_ddc r = qtm_ddc_from2(rho_hi[j * d + i], rho_lo ? rho_lo[j * d + i] : 0.0);
      tr = qtm_ddc_add(tr, qtm_ddc_mul(b[i * d + j], r));
    }
  *out = qtm_ddc_mul_dd(tr, qtm_dd_make(jump->rate, jump->rate_lo));

cleanup:
  free(ax);
  free(m);
  free(b);
  return rc;
}

double qtm_lv_trace_error(int d, const double complex *rho_hi, const double complex *rho_lo) {
  qtm_ddc tr = qtm_ddc_zero();
  for (int i = 0; i < d; ++i)
    tr = qtm_ddc_add(tr, qtm_ddc_from2(rho_hi[i * d + i], rho_lo ? rho_lo[i * d + i] : 0.0));
  return hypot(qtm_dd_value(qtm_dd_add_d(tr.re, -1.0)), qtm_dd_value(tr.im));
}

double qtm_lv_balance_error(qtm_dd QL, qtm_dd QR, double scale) {
  double num = fabs(qtm_dd_value(qtm_dd_add(QL, QR)));
  double den = fmax(fmax(fabs(qtm_dd_value(QL)), fabs(qtm_dd_value(QR))),
                    fmax(1e-30 * fabs(scale), DBL_MIN));
  return num / den;
}
