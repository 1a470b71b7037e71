/* The closed forms against what is known independently of them: the paper's figure values
 * (FORMULAS.md section 8, verified numerically there), analytic limits (low and high
 * temperature asymptotics, g -> 0, TL == TR, gammaL == gammaR), the qubit/boson special forms
 * printed in the paper (Eqs. 10-12, 14, 15, 23-24 corrected), extended-precision evaluations
 * of the definitions, high-order finite differences of J, and the validation rules.
 * Error measure: relative error |x - y| / max(|x|, |y|) unless a test says otherwise. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "qtm/eval.h"
#include "qtm/physics.h"
#include "testutil.h"

static qtm_params fig2_params(void) { /* Fig. 2: qubits, bosonic baths */
  qtm_params p;
  qtm_params_default(&p);
  p.gammaL = 0.01;
  p.gammaR = 0.02;
  p.g = 0.01;
  p.TL = p.TR = 0.5;
  return p;
}

static qtm_obs eval_at(const qtm_params *p) {
  qtm_obs o;
  qtm_param_error err;
  qtm_status st = qtm_eval_closed(p, &o, &err);
  cr_assert_eq(st, QTM_OK, "invalid test point: %s", err.message);
  return o;
}

static double obs_at(qtm_params p, double TL, double TR, qtm_obs_id id) {
  p.TL = TL;
  p.TR = TR;
  return eval_at(&p).v[id];
}

/* A random point, qubits between bosonic baths unless the caller changes the statistics:
 * TL, TR log-uniform in [Tlo, Thi] (with `distinct`, at least 1% apart, so that references
 * written as plain differences keep their digits), rates log-uniform in [1e-4, 0.1] each
 * (asymmetric up to 1e3), g log-uniform in [glo, ghi]. */
static qtm_params random_point(qtm_rng *r, double Tlo, double Thi, double glo, double ghi,
                               int distinct) {
  qtm_params p;
  qtm_params_default(&p);
  p.TL = qtm_rng_log(r, Tlo, Thi);
  do p.TR = qtm_rng_log(r, Tlo, Thi); while (distinct && fabs(p.TR / p.TL - 1) < 0.01);
  p.gammaL = qtm_rng_log(r, 1e-4, 0.1);
  p.gammaR = qtm_rng_log(r, 1e-4, 0.1);
  p.g = qtm_rng_log(r, glo, ghi);
  return p;
}

/* ---- Extremum search used to locate the figures' peaks ----------------------------------- */

typedef double (*curve_fn)(const qtm_params *p, double T);

static double kappa1_curve(const qtm_params *p, double T) { return qtm_kappa1(p, T); }
static double kappa2_curve(const qtm_params *p, double T) {
  return qtm_alpha_at(p, T) * qtm_kappa1(p, T);
}
static double kappa_global_curve(const qtm_params *p, double T) { return qtm_kappa_global(p, T); }
static double contrast_global_curve(const qtm_params *p, double T) {
  return obs_at(*p, T, 0.0, QTM_OBS_contrast_global);
}
static double contrast_local_curve(const qtm_params *p, double T) {
  return obs_at(*p, T, 0.0, QTM_OBS_contrast);
}

/* Golden-section search for the extremum of sign*f in [a, b] (unimodal there). */
static double golden(curve_fn f, const qtm_params *p, double a, double b, double sign) {
  const double r = 0.6180339887498949;
  double c = b - r * (b - a), d = a + r * (b - a);
  double fc = sign * f(p, c), fd = sign * f(p, d);
  while (b - a > 1e-12 * (fabs(a) + fabs(b))) {
    if (fc > fd) {
      b = d, d = c, fd = fc, c = b - r * (b - a), fc = sign * f(p, c);
    } else {
      a = c, c = d, fc = fd, d = a + r * (b - a), fd = sign * f(p, d);
    }
  }
  return 0.5 * (a + b);
}

/* Every local extremum (sign = +1 maxima, -1 minima) of f on a log grid over [lo, hi],
 * polished by golden section between the grid neighbours. Returns the count. */
static int extrema(curve_fn f, const qtm_params *p, double lo, double hi, double sign,
                   double *where, int cap) {
  enum { GRID = 3000 };
  static double val[GRID];
  double step = log(hi / lo) / (GRID - 1);
  for (int i = 0; i < GRID; ++i) val[i] = sign * f(p, lo * exp(step * i));
  int n = 0;
  for (int i = 1; i + 1 < GRID && n < cap; ++i)
    if (val[i] > val[i - 1] && val[i] >= val[i + 1])
      where[n++] = golden(f, p, lo * exp(step * (i - 1)), lo * exp(step * (i + 1)), sign);
  return n;
}

static void expect_rel(double got, double want, double tol, const char *what) {
  cr_expect_leq(qtm_relerr(got, want), tol, "%s: got %.10g, reference %.10g (rel err %.3g > %.3g)",
                what, got, want, qtm_relerr(got, want), tol);
}

/* ---- Figure values (FORMULAS.md section 8) ------------------------------------------------ */

Test(figures, fig2_conductance_peaks_and_samples) {
  qtm_params p = fig2_params();
  double where[4];
  cr_assert_eq(extrema(kappa1_curve, &p, 0.05, 5.0, 1.0, where, 4), 1);
  expect_rel(where[0], 0.5221910, 2e-7, "kappa1 peak T");
  expect_rel(qtm_kappa1(&p, where[0]), 0.00736435, 1e-6, "kappa1 peak height");
  cr_assert_eq(extrema(kappa2_curve, &p, 0.05, 5.0, 1.0, where, 4), 1);
  expect_rel(where[0], 0.4270603, 2e-7, "kappa2 peak T");
  expect_rel(kappa2_curve(&p, where[0]), 0.00408923, 1e-6, "kappa2 peak height");

  const double T[5] = {0.1, 0.5, 1, 2, 5};
  const double k1[5] = {6.0533e-5, 7.35255e-3, 5.67279e-3, 3.19839e-3, 1.32449e-3};
  const double k2[5] = {4.0353e-5, 3.94867e-3, 1.69775e-3, 3.42609e-4, 2.58015e-5};
  for (int i = 0; i < 5; ++i) { /* through the public path: kappa at the mean (TL+TR)/2 */
    qtm_obs o = eval_at(&(qtm_params){.omega = 1, .TL = T[i] * 1.5, .TR = T[i] * 0.5,
                                      .gammaL = 0.01, .gammaR = 0.02, .g = 0.01, .epsL = 1,
                                      .epsR = 1, .eps_a = -1, .N = 2});
    expect_rel(o.v[QTM_OBS_kappa1], k1[i], 1e-5, "Fig. 2 kappa1 sample");
    expect_rel(o.v[QTM_OBS_kappa2], k2[i], 1e-5, "Fig. 2 kappa2 sample");
  }
  expect_rel(qtm_ndtc_threshold(&p), 1.957615, 5e-7, "Eq. 17 threshold for Fig. 2");
}

Test(figures, eq15_peak_estimates) {
  qtm_params p = fig2_params();
  double where[2];
  cr_assert_eq(extrema(kappa1_curve, &p, 0.05, 5.0, 1.0, where, 2), 1);
  double k1max = qtm_kappa1(&p, where[0]);
  cr_assert_eq(extrema(kappa2_curve, &p, 0.05, 5.0, 1.0, where, 2), 1);
  double k2max = kappa2_curve(&p, where[0]);
  double est1 = 4.0 / sinh(2.0) * p.gammaL * p.gammaR / (p.gammaL + p.gammaR);
  double c1 = 1.0 / tanh(1.0);
  double est2 = est1 / (1.0 + p.gammaL * p.gammaR / (4 * p.g * p.g) * c1 * c1);
  /* FORMULAS.md: the estimates are off by -0.16% and -3.4% from the true peaks */
  cr_expect(fabs((est1 - k1max) / k1max + 0.0016) < 0.0001, "Eq. 15 kappa1: %.5f",
            (est1 - k1max) / k1max);
  cr_expect(fabs((est2 - k2max) / k2max + 0.034) < 0.001, "Eq. 15 kappa2: %.5f",
            (est2 - k2max) / k2max);
}

Test(figures, fig4_global_contrast) {
  qtm_params p;
  qtm_params_default(&p);
  p.g = 0.8;
  p.gammaR = 0.02;
  const double gL[2] = {0.01, 0.001};
  const double tmax[2] = {0.395819, 0.462154}, cmax[2] = {0.175097, 0.498136};
  const double tmin[2] = {0.987582, 0.905092}, cmin[2] = {0.136151, 0.469686};
  const double cross[2] = {1.131750, 1.939610}, limit[2] = {1.0 / 3.0, 0.904762};
  const double T[5] = {0.1, 0.5, 1, 5, 50};
  const double samples[2][5] = {{0.045112, 0.168040, 0.136165, 0.244739, 0.322630},
                                {0.122446, 0.496904, 0.471076, 0.696370, 0.876374}};
  for (int k = 0; k < 2; ++k) {
    p.gammaL = gL[k];
    p.TL = 1.0;
    p.TR = 0.0;
    double where[4];
    cr_assert_eq(extrema(contrast_global_curve, &p, 0.05, 20.0, 1.0, where, 4), 1);
    expect_rel(where[0], tmax[k], 2e-6, "Fig. 4 C_global max position");
    expect_rel(contrast_global_curve(&p, where[0]), cmax[k], 3e-6, "Fig. 4 C_global max");
    cr_assert_eq(extrema(contrast_global_curve, &p, 0.05, 20.0, -1.0, where, 4), 1);
    expect_rel(where[0], tmin[k], 2e-6, "Fig. 4 C_global min position");
    expect_rel(contrast_global_curve(&p, where[0]), cmin[k], 3e-6, "Fig. 4 C_global min");
    /* C1 (local, g-independent with equal statistics) overtakes C_global once, past the min */
    double a = tmin[k], b = 20.0;
    cr_assert_lt(contrast_local_curve(&p, a), contrast_global_curve(&p, a));
    cr_assert_gt(contrast_local_curve(&p, b), contrast_global_curve(&p, b));
    for (int it = 0; it < 200 && b - a > 1e-13; ++it) {
      double m = 0.5 * (a + b);
      if (contrast_local_curve(&p, m) > contrast_global_curve(&p, m)) b = m; else a = m;
    }
    expect_rel(0.5 * (a + b), cross[k], 1e-6, "Fig. 4 C1 = C_global crossing");
    expect_rel(contrast_global_curve(&p, 1e7), limit[k], 2e-6, "Fig. 4 high-T limit");
    for (int i = 0; i < 5; ++i)
      expect_rel(contrast_global_curve(&p, T[i]), samples[k][i], 1e-5, "Fig. 4 sample");
  }
}

Test(figures, fig5_global_conductance_peaks) {
  qtm_params p;
  qtm_params_default(&p);
  p.gammaL = 0.01;
  p.gammaR = 0.02;
  const double g[3] = {0.9, 0.8, 0.7};
  const double peaks[3][4] = {{0.0522191, 0.00368218, 0.938615, 0.00402695},
                              {0.104455, 0.00368224, 0.835497, 0.00442782},
                              {0.161019, 0.00369921, 0.738331, 0.00488820}};
  for (int k = 0; k < 3; ++k) {
    p.g = g[k];
    double where[4];
    cr_assert_eq(extrema(kappa_global_curve, &p, 0.005, 20.0, 1.0, where, 4), 2);
    for (int j = 0; j < 2; ++j) {
      /* 6 significant digits printed: half a unit of the last one is 3.1e-6 relative */
      expect_rel(where[j], peaks[k][2 * j], 3.2e-6, "Fig. 5 peak position");
      expect_rel(qtm_kappa_global(&p, where[j]), peaks[k][2 * j + 1], 2e-6, "Fig. 5 peak");
    }
  }
}

/* ---- The paper's special forms, evaluated independently in long double -------------------- */

static long double coth_l(long double x) { return 1.0L / tanhl(x); }
static long double bose_l(long double x) { return 1.0L / expm1l(x); }

/* Eqs. 10-11 for qubits between bosonic baths (omega = 1) at p's temperatures and rates. */
static void eqs_10_11_l(const qtm_params *p, long double *J1, long double *alpha) {
  long double xL = 1.0L / p->TL, xR = 1.0L / p->TR, gL = p->gammaL, gR = p->gammaR, g = p->g;
  long double cL = coth_l(xL / 2), cR = coth_l(xR / 2);
  *J1 = 2 * gL * gR * (bose_l(xL) - bose_l(xR)) / (gL * cL + gR * cR); /* Eq. 11 */
  *alpha = 1 / (1 + gL * gR / (4 * g * g) * cL * cR);                  /* Eq. 10 */
}

Test(special_forms, qubits_between_bosonic_baths_eqs_10_to_14) {
  qtm_rng r;
  qtm_rng_init(&r, 1011, "qubits_between_bosonic_baths_eqs_10_to_14");
  for (int k = 0; k < 500; ++k) {
    qtm_params p = random_point(&r, 0.05, 50, 1e-5, 1.0, 1);
    qtm_obs o = eval_at(&p);
    long double xL = 1.0L / p.TL, xR = 1.0L / p.TR, gL = p.gammaL, gR = p.gammaR, g = p.g;
    long double cL = coth_l(xL / 2), cR = coth_l(xR / 2), J1, alpha;
    eqs_10_11_l(&p, &J1, &alpha);
    long double C1 = fabsl((gL - gR) / (gL + gR)) * fabsl((cR - cL) / (cR + cL));    /* Eq. 12 */
    long double Tm = (p.TL + p.TR) / 2.0L, xm = 1 / Tm, cm = coth_l(xm / 2);
    long double k1 = xm * xm * gL * gR / (sinhl(xm) * (gL + gR));                   /* Eq. 13 */
    long double k2 = k1 / (1 + gL * gR / (4 * g * g) * cm * cm);                     /* Eq. 14 */
    expect_rel(o.v[QTM_OBS_J1], (double)J1, 1e-13, "Eq. 11 J1");
    expect_rel(o.v[QTM_OBS_alpha], (double)alpha, 1e-13, "Eq. 10 alpha");
    expect_rel(o.v[QTM_OBS_J], (double)(alpha * J1), 1e-13, "Eq. 10 J");
    expect_rel(o.v[QTM_OBS_contrast], (double)C1, 1e-12, "Eq. 12 contrast, any g");
    expect_rel(o.v[QTM_OBS_kappa1], (double)k1, 1e-13, "Eq. 13 kappa1 (csch form)");
    expect_rel(o.v[QTM_OBS_kappa2], (double)k2, 1e-13, "Eq. 14 kappa2");
  }
}

/* Eqs. 10-11 where the rates and g are tiny: at 1e-160 the products 4g^2 and gL gR cL cR are
 * subnormal (a few significant digits: the values agree to 1e-2 only) and the inverse of
 * alpha's denominator overflows (a form multiplying by it gave alpha = inf); alpha must stay in
 * [0, 1] and the currents finite. Where
 * the products are normal (1e-150 and up) the long-double values hold to 1e-13. */
Test(special_forms, tiny_rates_and_coupling) {
  const double scale[] = {1e-160, 1e-150, 1e-100, 1.0};
  for (int k = 0; k < 4; ++k) {
    qtm_params p = fig2_params();
    p.TL = 1.0;
    p.TR = 0.5;
    p.gammaL = p.gammaR = scale[k];
    p.g = 0.1 * scale[k];
    qtm_obs o = eval_at(&p);
    long double J1, alpha;
    eqs_10_11_l(&p, &J1, &alpha);
    cr_expect(o.v[QTM_OBS_alpha] >= 0.0 && o.v[QTM_OBS_alpha] <= 1.0, "alpha = %g at scale %g",
              o.v[QTM_OBS_alpha], scale[k]);
    double tol = k == 0 ? 1e-2 : 1e-13;
    expect_rel(o.v[QTM_OBS_alpha], (double)alpha, tol, "Eq. 10 alpha, tiny rates");
    expect_rel(o.v[QTM_OBS_J1], (double)J1, tol, "Eq. 11 J1, tiny rates");
    expect_rel(o.v[QTM_OBS_J], (double)(alpha * J1), tol, "Eq. 10 J, tiny rates");
    cr_expect(isfinite(o.v[QTM_OBS_ratio]) && isfinite(o.v[QTM_OBS_dJ_dTL]) &&
                  isfinite(o.v[QTM_OBS_coherence]),
              "ratio %g, dJ/dTL %g, coherence %g at scale %g", o.v[QTM_OBS_ratio],
              o.v[QTM_OBS_dJ_dTL], o.v[QTM_OBS_coherence], scale[k]);
  }
  /* qubits between fermionic baths at TL = 1e304: u ~ 1e-304, so S = gL uL + gR uR ~ 5e-309
   * (subnormal) with rates 1e-5; J1 and the coherence are finite and positive */
  qtm_params p = fig2_params();
  p.TL = 1e304;
  p.TR = 1e303;
  p.gammaL = p.gammaR = 1e-5;
  p.epsL = p.epsR = -1.0;
  p.eps_a = 1.0;
  qtm_obs o = eval_at(&p);
  cr_expect(isfinite(o.v[QTM_OBS_J1]) && o.v[QTM_OBS_J1] > 0.0, "J1 = %g", o.v[QTM_OBS_J1]);
  cr_expect(isfinite(o.v[QTM_OBS_coherence]) && o.v[QTM_OBS_coherence] > 0.0, "coherence = %g",
            o.v[QTM_OBS_coherence]);
}

Test(special_forms, eq24_global_contrast_at_zero_TR) {
  qtm_params p;
  qtm_params_default(&p);
  p.TR = 0.0;
  qtm_rng r;
  qtm_rng_init(&r, 24, "eq24_global_contrast_at_zero_TR");
  for (int k = 0; k < 300; ++k) {
    p.TL = qtm_rng_log(&r, 0.03, 100);
    p.gammaL = qtm_rng_log(&r, 1e-4, 0.1);
    p.gammaR = qtm_rng_log(&r, 1e-4, 0.1);
    p.g = qtm_rng_range(&r, 0.01, 0.99);
    long double gL = p.gammaL, gR = p.gammaR, w[2] = {1.0L + p.g, 1.0L - p.g};
    long double A[2], nL[2];
    for (int j = 0; j < 2; ++j) {
      long double x = w[j] / p.TL, c = coth_l(x / 2);
      nL[j] = bose_l(x);
      A[j] = w[j] * nL[j] / ((gR / gL + c) * (gL / gR + c));
    }
    long double C = fabsl((gL - gR) / (gL + gR)) /
                    (1 + (A[0] + A[1]) / (A[0] * nL[0] + A[1] * nL[1]));
    expect_rel(eval_at(&p).v[QTM_OBS_contrast_global], (double)C, 1e-12,
               "Eqs. 23-24 (corrected) C_global at TR = 0");
  }
}

/* ---- Limits -------------------------------------------------------------------------------- */

Test(limits, contrast_high_temperature_limit_eq12) {
  qtm_params p = fig2_params();
  double limit = fabs(p.gammaL - p.gammaR) / (p.gammaL + p.gammaR);
  expect_rel(obs_at(p, 1e6, 0.0, QTM_OBS_contrast), limit, 2e-6, "C1, TL -> inf, TR = 0");
  expect_rel(obs_at(p, 1e6, 0.05, QTM_OBS_contrast), limit, 2e-6, "C1, TL -> inf, TR = 0.05");
}

Test(limits, equal_rates_do_not_rectify) {
  qtm_rng r;
  qtm_rng_init(&r, 5, "equal_rates_do_not_rectify");
  for (int k = 0; k < 200; ++k) {
    qtm_params p = random_point(&r, 0.01, 100, 1e-4, 1.0, 0);
    p.gammaR = p.gammaL;
    p.epsL = p.epsR = k % 2 ? 1.0 : -1.0;
    p.eps_a = k % 4 < 2 ? -1.0 : 1.0;
    p.N = 1 + k % 4;
    qtm_obs o = eval_at(&p);
    cr_expect_eq(o.v[QTM_OBS_contrast], 0.0, "contrast %g with gammaL == gammaR",
                 o.v[QTM_OBS_contrast]);
    cr_expect_eq(o.v[QTM_OBS_J_rev], -o.v[QTM_OBS_J], "J_rev = -J exactly");
    cr_expect_eq(o.v[QTM_OBS_ratio], 1.0);
    if (qtm_global_applies(&p)) cr_expect_leq(o.v[QTM_OBS_contrast_global], 0.0);
  }
}

Test(limits, equal_temperatures_carry_no_current) {
  qtm_rng r;
  qtm_rng_init(&r, 6, "equal_temperatures_carry_no_current");
  for (int k = 0; k < 300; ++k) {
    qtm_params p;
    qtm_params_default(&p);
    p.TL = p.TR = k % 10 == 0 ? 0.0 : qtm_rng_log(&r, 1e-6, 1e6);
    p.gammaL = qtm_rng_log(&r, 1e-4, 0.1);
    p.gammaR = qtm_rng_log(&r, 1e-4, 0.1);
    p.g = qtm_rng_log(&r, 1e-4, 0.99);
    p.epsL = qtm_rng_range(&r, -1, 1);
    p.epsR = k % 3 ? qtm_rng_range(&r, -1, 1) : 1.0;
    p.eps_a = k % 2 ? -1.0 : qtm_rng_range(&r, -1, 1);
    p.N = 1 + k % 3;
    qtm_obs o = eval_at(&p);
    cr_expect_eq(o.v[QTM_OBS_J], 0.0, "J = %g at TL == TR", o.v[QTM_OBS_J]);
    cr_expect_eq(o.v[QTM_OBS_J1], 0.0);
    cr_expect_eq(o.v[QTM_OBS_J_rev], 0.0);
    cr_expect(isnan(o.v[QTM_OBS_contrast]), "contrast must be NaN (0/0) at TL == TR");
    cr_expect(isnan(o.v[QTM_OBS_ratio]));
    if (p.TL > 0) cr_expect_eq(o.v[QTM_OBS_entropy_production], 0.0);
    else cr_expect(isnan(o.v[QTM_OBS_entropy_production]), "T = 0 and J = 0: NaN");
    if (qtm_global_applies(&p)) {
      cr_expect_eq(o.v[QTM_OBS_J_global], 0.0);
      cr_expect(isnan(o.v[QTM_OBS_contrast_global]));
    }
  }
}

/* A disconnected bath (a rate 0) carries no heat, and alpha (Eq. 6) is exactly 1 there: 4g^2 /
 * (4g^2 + 0), also where 4g^2 times its rounded inverse is not 1 (4g^2 = 49). */
Test(limits, a_zero_rate) {
  const double gs[] = {3.5, 0.01, 0.8, 1e-3, 7.0};
  for (int k = 0; k < 10; ++k) {
    qtm_params p = fig2_params();
    p.TL = 2.0;
    p.TR = 0.3;
    p.g = gs[k % 5];
    if (k < 5) p.gammaL = 0.0;
    else p.gammaR = 0.0;
    qtm_obs o = eval_at(&p);
    cr_expect_eq(o.v[QTM_OBS_alpha], 1.0, "alpha = %.17g at g = %g with a rate 0",
                 o.v[QTM_OBS_alpha], p.g);
    cr_expect_eq(o.v[QTM_OBS_J], 0.0);
    cr_expect_eq(o.v[QTM_OBS_J1], 0.0);
    cr_expect_eq(o.v[QTM_OBS_coherence], 0.0);
    cr_expect_eq(o.v[QTM_OBS_dJ_dTL], 0.0);
  }
}

Test(limits, zero_coupling) {
  qtm_params p = fig2_params();
  p.TL = 2.0;
  p.TR = 0.3;
  p.g = 0.0;
  qtm_obs o = eval_at(&p);
  cr_expect_eq(o.v[QTM_OBS_J], 0.0);
  cr_expect_eq(o.v[QTM_OBS_alpha], 0.0);
  cr_expect(isnan(o.v[QTM_OBS_contrast]));
  cr_expect_eq(o.v[QTM_OBS_coherence], 0.0);
  cr_expect_eq(o.v[QTM_OBS_Jc], 0.0);
  cr_expect_eq(o.v[QTM_OBS_concurrence], 0.0);
  cr_expect_eq(o.v[QTM_OBS_dJ_dTL], 0.0);
  cr_expect(isnan(o.v[QTM_OBS_J_global]), "global needs 0 < g");
  cr_expect(o.v[QTM_OBS_J1] > 0.0);
  /* g -> 0+: the global current tends to J1 (not alpha J1 -> 0) */
  p.g = 1e-7;
  o = eval_at(&p);
  expect_rel(o.v[QTM_OBS_J_global], o.v[QTM_OBS_J1], 1e-6, "J_global -> J1 as g -> 0+");
}

/* Deep at low temperature every thermal factor is e^{-w/T} to double precision (corrections
 * are O(e^{-x}) relative, x >= 40): J -> alpha0 2 w gL gR e^{-x_L} / (gL + gR) with
 * alpha0 = 4g^2/(4g^2 + gL gR). This reaches J ~ 1e-300. */
Test(limits, low_temperature_relative_accuracy) {
  qtm_params p;
  qtm_params_default(&p);
  p.gammaL = 0.003;
  p.gammaR = 0.05;
  p.g = 0.02;
  double alpha0 = 4 * p.g * p.g / (4 * p.g * p.g + p.gammaL * p.gammaR);
  double smallest = 1.0;
  const double stats[3] = {-1.0, 0.25, 1.0};
  for (int s = 0; s < 27; ++s) {
    p.epsL = stats[s % 3];
    p.epsR = stats[s / 3 % 3];
    p.eps_a = stats[s / 9];
    for (double x = 40; x <= 700; x *= 1.07) {
      for (int which = 0; which < 2; ++which) {
        p.TL = 1.0 / x;
        p.TR = which ? p.TL / 2 : 0.0;
        qtm_obs o = eval_at(&p);
        double e = exp(-x);
        double J = alpha0 * 2 * p.gammaL * p.gammaR * e / (p.gammaL + p.gammaR);
        expect_rel(o.v[QTM_OBS_J], J, 1e-13, "low-T J");
        expect_rel(o.v[QTM_OBS_J1], J / alpha0, 1e-13, "low-T J1");
        expect_rel(o.v[QTM_OBS_dJ_dTL], J * x * x, 1e-13, "low-T dJ/dTL = J w/TL^2");
        expect_rel(o.v[QTM_OBS_coherence], J / (4 * p.g), 1e-13, "low-T coherence");
        smallest = fmin(smallest, o.v[QTM_OBS_J]);
        double k1 = 2 * p.gammaL * p.gammaR * x * x * e / (p.gammaL + p.gammaR);
        expect_rel(qtm_kappa1(&p, 1.0 / x), k1, 1e-13, "low-T kappa1");
      }
    }
  }
  cr_assert_lt(smallest, 1e-40, "the sweep must reach currents below 1e-40");
}

/* w/T from 1e-6 to 1e6 for every statistics: nothing overflows or turns NaN. */
Test(limits, no_overflow_over_twelve_decades) {
  const double stats[5] = {-1.0, -0.5, 0.0, 0.5, 1.0};
  qtm_params p;
  qtm_params_default(&p);
  p.gammaL = 0.01;
  p.gammaR = 0.02;
  p.g = 0.05;
  for (int s = 0; s < 125; ++s) {
    p.epsL = stats[s % 5];
    p.epsR = stats[s / 5 % 5];
    p.eps_a = stats[s / 25];
    for (double T = 1e-6; T <= 1e6; T *= 1.5) {
      p.TL = T;
      p.TR = T / 3;
      qtm_obs o = eval_at(&p);
      const qtm_obs_id finite[] = {QTM_OBS_J1, QTM_OBS_alpha, QTM_OBS_J, QTM_OBS_J_rev,
                                   QTM_OBS_kappa1, QTM_OBS_kappa2, QTM_OBS_dJ_dTL,
                                   QTM_OBS_coherence, QTM_OBS_entropy_production};
      for (size_t i = 0; i < sizeof finite / sizeof finite[0]; ++i)
        cr_assert(isfinite(o.v[finite[i]]), "%s = %g at T = %g eps (%g, %g, %g)",
                  qtm_obs_table[finite[i]].name, o.v[finite[i]], T, p.epsL, p.epsR, p.eps_a);
      cr_assert(o.v[QTM_OBS_J] >= 0.0, "TL > TR must give J >= 0");
    }
  }
  /* high-T asymptotics, qubits + bosons: kappa1 -> gL gR x / (gL + gR), x = w/T */
  qtm_params_default(&p);
  p.gammaL = 0.01;
  p.gammaR = 0.02;
  p.g = 0.05;
  expect_rel(qtm_kappa1(&p, 1e6), 0.01 * 0.02 * 1e-6 / 0.03, 1e-12, "high-T kappa1");
}

/* Eq. 3 against its definition evaluated in long double, for any statistics. */
Test(limits, occupation_numbers_any_statistics) {
  qtm_rng r;
  qtm_rng_init(&r, 3, "occupation_numbers_any_statistics");
  for (int k = 0; k < 5000; ++k) {
    double x = qtm_rng_log(&r, 1e-6, 700), eps = qtm_rng_range(&r, -1, 1);
    if (k % 5 == 0) eps = (k / 5) % 2 ? 1.0 : -1.0;
    if (k % 7 == 0) eps = 0.0;
    /* the reference uses the x the code sees (w/T rounded), not the one drawn: at x = 700
     * one ulp of x is a 1e-13 relative change of e^-x */
    qtm_thermal t = qtm_thermal_at(1.0, 1.0 / x);
    long double want = 1.0L / (expm1l((long double)t.x) + (1.0L - eps));
    expect_rel(qtm_occupation(t, eps), (double)want, 4e-15, "n(x, eps)");
    expect_rel(qtm_h(t, eps), (double)(1.0L + eps * want), 4e-15, "1 + eps n");
  }
  qtm_thermal zero = qtm_thermal_at(1.0, 0.0);
  cr_expect_eq(qtm_occupation(zero, 1.0), 0.0, "T = 0 gives n = 0");
  cr_expect_eq(qtm_coth_half(zero), 1.0, "T = 0 gives coth = 1");
  cr_expect_eq(qtm_occupation(qtm_thermal_at(1.0, 2.0), 0.0), exp(-0.5), "eps = 0: Boltzmann");
}

/* Swapping the whole setup left <-> right (rates, statistics, temperatures) reverses J. */
Test(limits, mirror_symmetry) {
  qtm_rng r;
  qtm_rng_init(&r, 8, "mirror_symmetry");
  for (int k = 0; k < 300; ++k) {
    qtm_params p = random_point(&r, 0.01, 100, 1e-4, 1.0, 0);
    p.epsL = qtm_rng_range(&r, -1, 1);
    p.epsR = qtm_rng_range(&r, -1, 1);
    p.eps_a = qtm_rng_range(&r, -1, 1);
    p.N = 1 + k % 3;
    qtm_params m = p;
    m.TL = p.TR, m.TR = p.TL, m.gammaL = p.gammaR, m.gammaR = p.gammaL;
    m.epsL = p.epsR, m.epsR = p.epsL;
    expect_rel(eval_at(&m).v[QTM_OBS_J], -eval_at(&p).v[QTM_OBS_J], 1e-14, "mirrored J");
  }
}

/* ---- Derivatives against an 8th-order central difference of J ----------------------------- */

static double fd8(qtm_params p, qtm_obs_id id, double h) {
  static const double c[4] = {4.0 / 5, -1.0 / 5, 4.0 / 105, -1.0 / 280};
  double TL = p.TL, sum = 0.0;
  for (int k = 1; k <= 4; ++k)
    sum += c[k - 1] * (obs_at(p, TL + k * h, p.TR, id) - obs_at(p, TL - k * h, p.TR, id));
  return sum / h;
}

Test(derivatives, dJ_dTL_matches_finite_differences) {
  qtm_rng r;
  qtm_rng_init(&r, 16, "dJ_dTL_matches_finite_differences");
  int negatives = 0;
  for (int k = 0; k < 400; ++k) {
    qtm_params p;
    qtm_params_default(&p);
    p.TL = qtm_rng_log(&r, 0.05, 20);
    p.TR = k % 4 ? qtm_rng_log(&r, 0.01, 20) : 1e-3;
    p.gammaL = qtm_rng_log(&r, 1e-3, 0.1);
    p.gammaR = qtm_rng_log(&r, 1e-3, 0.1);
    p.g = qtm_rng_log(&r, 1e-3, 0.9);
    p.epsL = k % 2 ? 1.0 : qtm_rng_range(&r, -1, 1);
    p.epsR = k % 3 ? 1.0 : -1.0;
    p.eps_a = k % 5 ? -1.0 : 1.0;
    p.N = 1 + k % 3;
    qtm_obs o = eval_at(&p);
    double h = 1e-2 * p.TL;
    double fd = fd8(p, QTM_OBS_J, h);
    double scale = fabs(o.v[QTM_OBS_dJ_dTL]) + fabs(o.v[QTM_OBS_J]) / p.TL;
    cr_expect_leq(fabs(o.v[QTM_OBS_dJ_dTL] - fd), 1e-8 * scale,
                  "dJ/dTL %.12g vs FD %.12g (TL %g TR %g eps %g %g %g N %d)",
                  o.v[QTM_OBS_dJ_dTL], fd, p.TL, p.TR, p.epsL, p.epsR, p.eps_a, p.N);
    negatives += o.v[QTM_OBS_dJ_dTL] < 0;
    if (qtm_global_applies(&p)) {
      double fdg = fd8(p, QTM_OBS_J_global, h);
      double gscale = fabs(o.v[QTM_OBS_dJ_global_dTL]) + fabs(o.v[QTM_OBS_J_global]) / p.TL;
      cr_expect_leq(fabs(o.v[QTM_OBS_dJ_global_dTL] - fdg), 1e-8 * gscale,
                    "dJ_global/dTL %.12g vs FD %.12g", o.v[QTM_OBS_dJ_global_dTL], fdg);
      cr_expect_gt(o.v[QTM_OBS_dJ_global_dTL], 0.0, "the global current has no NDTC");
    }
  }
  cr_expect_gt(negatives, 0, "the sample must include NDTC points");
}

/* Eq. 17 is the TR -> 0 threshold: dJ/dTL changes sign there (Fig. 2 parameters). */
Test(derivatives, ndtc_threshold_eq17) {
  qtm_params p = fig2_params();
  double Tstar = qtm_ndtc_threshold(&p);
  cr_expect_gt(obs_at(p, 0.98 * Tstar, 1e-4, QTM_OBS_dJ_dTL), 0.0);
  cr_expect_lt(obs_at(p, 1.02 * Tstar, 1e-4, QTM_OBS_dJ_dTL), 0.0);
  p.eps_a = 1.0;
  cr_expect(isnan(qtm_ndtc_threshold(&p)), "Eq. 17 is for qubits only");
}

/* ---- Undefined points (FORMULAS.md section 7) and validation ------------------------------ */

Test(undefined, nan_where_formulas_do_not_apply) {
  qtm_params p = fig2_params();
  p.TL = 1.0;
  p.TR = 0.2;
  p.g = 0.3;
  p.epsL = -1.0;
  cr_expect(isnan(eval_at(&p).v[QTM_OBS_J_global]), "global with a fermionic bath");
  p.epsL = 1.0;
  p.g = 1.0;
  cr_expect(isnan(eval_at(&p).v[QTM_OBS_kappa_global]), "global needs g < omega");
  p.g = 0.3;
  p.N = 3;
  qtm_obs o = eval_at(&p);
  cr_expect(isnan(o.v[QTM_OBS_J_global]) && isnan(o.v[QTM_OBS_p1]) &&
            isnan(o.v[QTM_OBS_coherence]), "two-site quantities need N = 2");
  cr_expect(isfinite(o.v[QTM_OBS_J]));
  p.N = 2;
  p.eps_a = 1.0;
  o = eval_at(&p);
  cr_expect(isnan(o.v[QTM_OBS_p1]) && isnan(o.v[QTM_OBS_p4]) && isnan(o.v[QTM_OBS_Jc]) &&
            isnan(o.v[QTM_OBS_concurrence]), "populations need qubits");
  cr_expect(isfinite(o.v[QTM_OBS_coherence]));
  p.eps_a = -1.0;
  p.TR = 0.0;
  cr_expect(isinf(eval_at(&p).v[QTM_OBS_entropy_production]), "Pi = +inf with TR = 0, J != 0");
  cr_expect_gt(eval_at(&p).v[QTM_OBS_entropy_production], 0.0);
}

Test(validation, every_domain_error_is_named) {
  struct {
    qtm_param_id id;
    double value;
  } bad[] = {{QTM_PARAM_omega, 0.0},   {QTM_PARAM_omega, -1.0}, {QTM_PARAM_TL, -1e-300},
             {QTM_PARAM_TR, -2.0},     {QTM_PARAM_gammaL, -1},  {QTM_PARAM_gammaR, -0.1},
             {QTM_PARAM_g, -1e-9},     {QTM_PARAM_epsL, 1.5},   {QTM_PARAM_epsR, -1.0001},
             {QTM_PARAM_eps_a, 2.0},   {QTM_PARAM_N, 0},        {QTM_PARAM_N, -3},
             {QTM_PARAM_TL, NAN},      {QTM_PARAM_g, INFINITY}, {QTM_PARAM_omega, -INFINITY}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
    qtm_params p = fig2_params();
    switch (bad[i].id) {
#define SET_FIELD(field, kind, unit, help) \
  case QTM_PARAM_##field:                  \
    p.field = bad[i].value;                \
    break;
      QTM_PARAM_LIST(SET_FIELD)
#undef SET_FIELD
    case QTM_PARAM_COUNT:
      break;
    }
    qtm_param_error err;
    qtm_obs o;
    cr_assert_eq(qtm_eval_closed(&p, &o, &err), QTM_ERR_INVALID_ARG, "%s = %g accepted",
                 qtm_param_table[bad[i].id].name, bad[i].value);
    cr_expect_eq(err.param, bad[i].id);
    cr_expect(strstr(err.message, qtm_param_table[bad[i].id].name) == err.message,
              "message names the parameter: %s", err.message);
    char value[64];
    snprintf(value, sizeof value, "%.17g", bad[i].id == QTM_PARAM_N ? (double)(int)bad[i].value
                                                                      : bad[i].value);
    cr_expect(strstr(err.message, value) != NULL, "message names the value %s: %s", value,
              err.message);
  }
  qtm_params ok = fig2_params();
  ok.TL = 0.0; /* T = 0 is valid: the T -> 0+ limit */
  qtm_param_error err;
  cr_expect_eq(qtm_params_validate(&ok, &err), QTM_OK);
}

/* ---- Any statistics: the definitions evaluated directly in long double --------------------- */

static long double n_l(long double x, long double eps) { return 1.0L / (expm1l(x) + (1.0L - eps)); }

/* J of Eqs. 5-7 written exactly as printed (with FORMULAS.md's corrections), long double. */
static long double J_l(const qtm_params *p, double TL, double TR) {
  long double nL = n_l(p->omega / (long double)TL, p->epsL);
  long double nR = n_l(p->omega / (long double)TR, p->epsR);
  long double gL = p->gammaL, gR = p->gammaR, g = p->g;
  long double uL = 1 + (p->epsL - (long double)p->eps_a) * nL;
  long double uR = 1 + (p->epsR - (long double)p->eps_a) * nR;
  long double J1 = 2 * (long double)p->omega * gL * gR * ((nL - nR) + (p->epsR - p->epsL) * nL * nR) /
                   (gL * uL + gR * uR);
  long double alpha = p->N >= 2 ? 1 / (1 + gL * gR / (4 * g * g) * uL * uR) : 1.0L;
  return alpha * J1;
}

Test(special_forms, contrast_any_statistics) {
  qtm_rng r;
  qtm_rng_init(&r, 42, "contrast_any_statistics");
  for (int k = 0; k < 2000; ++k) {
    qtm_params p = random_point(&r, 0.05, 50, 1e-4, 1.0, 1);
    p.epsL = qtm_rng_range(&r, -1, 1);
    p.epsR = k % 3 ? qtm_rng_range(&r, -1, 1) : -p.epsL;
    p.eps_a = k % 2 ? -1.0 : qtm_rng_range(&r, -1, 1);
    p.N = 1 + k % 3;
    qtm_obs o = eval_at(&p);
    long double J = J_l(&p, p.TL, p.TR), Jr = J_l(&p, p.TR, p.TL);
    long double C = fabsl((J + Jr) / (J - Jr));
    /* long double carries 1e-19: enough unless C sits on a genuine zero (then skip) */
    if (C < 1e-6L) continue;
    expect_rel(o.v[QTM_OBS_J], (double)J, 1e-13, "J, any statistics");
    expect_rel(o.v[QTM_OBS_contrast], (double)C, 1e-11, "contrast, any statistics");
  }
}

/* C ~ c1 dT + c2 dT^2 as TR -> TL: the analytic sum keeps C/dT steady down to dT = 1e-12,
 * where the plain (J + J_rev)/(J - J_rev) would have lost four digits. */
Test(limits, contrast_small_temperature_difference) {
  qtm_params p;
  qtm_params_default(&p);
  p.gammaL = 0.004;
  p.gammaR = 0.03;
  p.g = 0.02;
  const double stats[3][3] = {{1, 1, -1}, {1, -1, -1}, {-0.5, 0.7, 1}};
  for (int s = 0; s < 3; ++s) {
    p.epsL = stats[s][0], p.epsR = stats[s][1], p.eps_a = stats[s][2];
    for (p.N = 1; p.N <= 2; ++p.N) {
      /* divide by the temperature step the doubles really hold (exact by Sterbenz) */
      double T1 = 0.7 * (1 + 1e-9), T2 = 0.7 * (1 + 1e-12);
      double ref = obs_at(p, T1, 0.7, QTM_OBS_contrast) / (T1 - 0.7);
      double fine = obs_at(p, T2, 0.7, QTM_OBS_contrast) / (T2 - 0.7);
      cr_expect_leq(qtm_relerr(fine, ref), 1e-7, "C/dT %.15g vs %.15g (stats %d N %d)", fine,
                    ref, s, p.N);
      cr_expect_gt(ref, 0.0);
    }
  }
}

/* Eqs. 38-39 in long double (whose range needs no subnormals): p1, p4 and Jc stay relatively
 * accurate deep in the cold, where p1 itself is below the smallest normal double. */
Test(special_forms, populations_and_critical_current) {
  qtm_rng r;
  qtm_rng_init(&r, 38, "populations_and_critical_current");
  for (int k = 0; k < 1000; ++k) {
    qtm_params p;
    qtm_params_default(&p);
    p.TL = 1.0 / qtm_rng_log(&r, 0.02, 700);
    p.TR = 1.0 / qtm_rng_log(&r, 0.02, 700);
    p.gammaL = qtm_rng_log(&r, 1e-4, 0.1);
    p.gammaR = qtm_rng_log(&r, 1e-4, 0.1);
    p.g = qtm_rng_log(&r, 1e-4, 1.0);
    p.epsL = k % 2 ? 1.0 : -1.0;
    p.epsR = k % 4 < 2 ? 1.0 : qtm_rng_range(&r, -1, 1);
    qtm_obs o = eval_at(&p);
    long double nL = n_l(1 / (long double)p.TL, p.epsL), nR = n_l(1 / (long double)p.TR, p.epsR);
    long double upL = p.gammaL * nL, dnL = p.gammaL * (1 + p.epsL * nL);
    long double upR = p.gammaR * nR, dnR = p.gammaR * (1 + p.epsR * nR);
    long double GL = upL + dnL, GR = upR + dnR, G = GL + GR, g4 = 4.0L * p.g * p.g;
    long double chi = (g4 + GL * GR) * G * G;
    long double p1 = (g4 * (upL + upR) * (upL + upR) + upL * upR * G * G) / chi;
    long double p4 = (g4 * (dnL + dnR) * (dnL + dnR) + dnL * dnR * G * G) / chi;
    long double Jc = 4.0L * p.g * sqrtl(p1 * p4);
    if (p1 > 1e-300L) expect_rel(o.v[QTM_OBS_p1], (double)p1, 1e-13, "p1 (Eq. 38)");
    expect_rel(o.v[QTM_OBS_p4], (double)p4, 1e-13, "p4 (Eq. 38)");
    if (Jc > 1e-300L) expect_rel(o.v[QTM_OBS_Jc], (double)Jc, 1e-13, "Jc (Eq. 39)");
  }
}
