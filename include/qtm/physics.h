/* The closed forms of the quantum thermal rectifier, shared by the CPU loop and the CUDA
 * kernels (one source, two executors). Every function is a pure static inline function of
 * doubles, written in the common subset of C11 and CUDA C++. Equation numbers refer to
 * shared/physics/FORMULAS.md (which corrects the paper's misprints); units hbar = kB = 1.
 *
 * Numerics. All thermal factors are built from e = exp(-x) and m = expm1(-x), x = w/T, never
 * from exp(+x): nothing overflows for w/T up to 1e6 or at T = 0 (x = inf, e = 0, m = -1, the
 * T -> 0+ limit). Differences of occupations are formed with expm1 of the difference of the
 * inverse temperatures, so J is exactly 0 at TL == TR for any statistics, exactly antisymmetric
 * under TL <-> TR with equal bath statistics, and relatively accurate down to the smallest
 * normal doubles. The inputs must have passed qtm_params_validate(); the formulas never check.
 * Undefined values are NaN (FORMULAS.md section 7); the reason is commented where it is set. */
#ifndef QTM_PHYSICS_H
#define QTM_PHYSICS_H

#include <math.h>

#include "qtm/observables.h"
#include "qtm/params.h"

#if defined(__CUDACC__)
#define QTM_FN __host__ __device__ static inline
#else
#define QTM_FN static inline
#endif

/* ---- Thermal factors of one mode (frequency w) at one temperature (Eq. 3) ---------------- */

typedef struct qtm_thermal {
  double x; /* w/T; +inf at T = 0 */
  double e; /* exp(-x) */
  double m; /* expm1(-x) = e - 1, accurate where e is close to 1 */
} qtm_thermal;

QTM_FN qtm_thermal qtm_thermal_at(double w, double T) {
  qtm_thermal t;
  if (T > 0) {
    t.x = w / T;
    t.e = exp(-t.x);
    t.m = expm1(-t.x);
  } else { /* T = 0 is the T -> 0+ limit */
    t.x = INFINITY;
    t.e = 0.0;
    t.m = -1.0;
  }
  return t;
}

/* h = n e^x = 1/(1 - eps e^-x), written as 1/((1-eps) - eps m) so that both terms of the
 * denominator are >= 0 for every eps in [-1, 1]: no cancellation, and 1/x (not 1/0) for
 * bosons at high temperature. Also h = 1 + eps n, the factor of the emission rate. */
QTM_FN double qtm_h(qtm_thermal t, double eps) { return 1.0 / ((1.0 - eps) - eps * t.m); }

/* Occupation number n = 1/(e^x - eps) = e h (Eq. 3): +1 Bose-Einstein, -1 Fermi-Dirac,
 * 0 Boltzmann, values between interpolate (quons). */
QTM_FN double qtm_occupation(qtm_thermal t, double eps) { return t.e * qtm_h(t, eps); }

/* dn/dT = (x^2/w) n (1 + eps n) = (x^2/w) e h^2; 0 at T = 0, where x^2 e -> 0. */
QTM_FN double qtm_occupation_dT(qtm_thermal t, double w, double eps) {
  if (t.e == 0.0) return 0.0; /* x = inf or so large that x^2 e underflows */
  double h = qtm_h(t, eps);
  return t.x * t.x / w * t.e * h * h;
}

/* x_L - x_R = w (TR - TL) / (TL TR), in the one form that is exactly antisymmetric under
 * TL <-> TR; +-inf when one temperature is 0. */
QTM_FN double qtm_inverse_temperature_gap(double w, double TL, double TR) {
  if (TL == 0.0) return INFINITY;
  if (TR == 0.0) return -INFINITY;
  double prod = TL * TR;
  if (prod == 0.0 || isinf(prod)) return w / TL - w / TR; /* only for |T| beyond 1e+-150 */
  return w * (TR - TL) / prod;
}

/* b = n_L n_R (e^{x_R} - e^{x_L}) = (n_L - n_R) + (eps_R - eps_L) n_L n_R (Eq. 7 numerator),
 * through expm1 of the inverse-temperature gap: exactly 0 at TL == TR and never the
 * difference of two nearly equal numbers. qtm_gap_factor(d) is -expm1(-|d|) in the form each
 * sign of d takes it. */
QTM_FN double qtm_gap_factor(double d) { return d <= 0.0 ? -expm1(d) : -expm1(-d); }

/* b from d = x_L - x_R and its factor E = qtm_gap_factor(d) (TL != TR). E, the one
 * transcendental of b, depends on w, TL and TR only: every gap of the same temperatures shares
 * it, whatever the statistics, and so does the reverse process (d -> -d). */
QTM_FN double qtm_occupation_gap_e(qtm_thermal tl, qtm_thermal tr, double d, double E,
                                   double epsL, double epsR) {
  if (d <= 0.0) /* TL > TR */
    return (qtm_occupation(tl, epsL) * qtm_h(tr, epsR)) * E;
  return -((qtm_h(tl, epsL) * qtm_occupation(tr, epsR)) * E);
}

QTM_FN double qtm_occupation_gap(qtm_thermal tl, qtm_thermal tr, double w, double TL, double TR,
                                 double epsL, double epsR) {
  if (TL == TR) return 0.0;
  double d = qtm_inverse_temperature_gap(w, TL, TR);
  return qtm_occupation_gap_e(tl, tr, d, qtm_gap_factor(d), epsL, epsR);
}

/* a == 0 && b == 0 (0/0 ahead), as one comparison: |a| + |b| is 0 only when both are (a sum
 * of non-negative doubles rounds to 0 only from 0 + 0) and NaN when either is. GCC 12 does not
 * vectorise two comparisons joined (a select between masks), and the CPU's vector path
 * (src/tile_eval_vec.c) runs these formulas several points at a time. */
QTM_FN int qtm_both_zero(double a, double b) { return fabs(a) + fabs(b) == 0.0; }

/* ---- One mode at both bath temperatures, shared by everything a point evaluates ----------- */

/* Every transcendental that a mode's local or global formulas need at (TL, TR): exp and expm1
 * at each temperature and the gap factor. A point computes it once per mode; the _pair
 * variants below take it instead of recomputing it (libm calls are not merged by the compiler,
 * since they may set errno), and give the same bits as the plain functions. */
typedef struct qtm_pair {
  qtm_thermal tl, tr;
  double TL, TR;
  double d; /* x_L - x_R (unused when TL == TR) */
  double E; /* qtm_gap_factor(d) */
} qtm_pair;

QTM_FN qtm_pair qtm_pair_at(double w, double TL, double TR) {
  qtm_pair q;
  q.tl = qtm_thermal_at(w, TL);
  q.tr = qtm_thermal_at(w, TR);
  q.TL = TL;
  q.TR = TR;
  q.d = q.E = 0.0;
  if (TL != TR) {
    q.d = qtm_inverse_temperature_gap(w, TL, TR);
    q.E = qtm_gap_factor(q.d);
  }
  return q;
}

/* The reverse process (TL <-> TR) of q without a transcendental: d_rev = -d exactly (the gap is
 * formed antisymmetrically), so qtm_gap_factor(d_rev) = E, except at d = +-0 where the factor
 * is a signed zero, recomputed so that its sign is what a direct evaluation gives. */
QTM_FN qtm_pair qtm_pair_reversed(qtm_pair q, double w) {
  qtm_pair r;
  r.tl = q.tr;
  r.tr = q.tl;
  r.TL = q.TR;
  r.TR = q.TL;
  r.d = r.E = 0.0;
  if (r.TL != r.TR) {
    r.d = qtm_inverse_temperature_gap(w, r.TL, r.TR);
    r.E = (r.d == -q.d && q.d != 0.0) ? q.E : qtm_gap_factor(r.d);
  }
  return r;
}

/* qtm_occupation_gap of the pair's mode and temperatures. */
QTM_FN double qtm_pair_gap(qtm_pair q, double epsL, double epsR) {
  if (q.TL == q.TR) return 0.0;
  return qtm_occupation_gap_e(q.tl, q.tr, q.d, q.E, epsL, epsR);
}

/* ---- Local (weak-coupling) current, Eqs. 5-7 and 19 -------------------------------------- */

typedef struct qtm_local {
  double b;     /* occupation gap, Eq. 7 numerator / (gammaL gammaR) */
  double uL;    /* 1 + (epsL - eps_a) nL = nL / n_a(TL) */
  double uR;    /* 1 + (epsR - eps_a) nR */
  double S;     /* gammaL uL + gammaR uR, Eq. 7 denominator */
  double alpha; /* Eq. 6; 1 for N = 1 */
  double J1;    /* Eq. 7 */
  double J;     /* alpha J1, Eqs. 5 and 19 */
} qtm_local;

/* alpha = 4g^2 / (4g^2 + gammaL gammaR uL uR) (Eq. 6), one division (not the two chained ones
 * of 1/(1 + q), q = gL gR uL uR / 4g^2: a point waits on its divisions, bench/NOTES.md section
 * 15); in [0, 1] wherever both terms are finite, since 4g^2 <= the denominator: 0 at g = 0, 1
 * when a rate is 0. Where 4g^2 overflows (g > 1e154) it is 1/(1 + q), the g -> inf limit (1,
 * or NaN where q is inf/inf). The products are grouped so that swapping TL and TR (uL <-> uR)
 * gives the same bits. */
QTM_FN double qtm_alpha(double gL, double gR, double g, double uL, double uR) {
  if (g == 0.0) return 0.0;
  double g4 = 4.0 * g * g, X = (gL * gR) * (uL * uR);
  if (isinf(g4)) return 1.0 / (1.0 + X / g4);
  return g4 / (g4 + X);
}

/* The part of a local current that depends on the temperatures, the mode and the statistics
 * only (not on the rates, g or N): where those repeat over many points, a scan tabulates it. */
typedef struct qtm_local_stat {
  double b, uL, uR; /* as in qtm_local */
} qtm_local_stat;

QTM_FN qtm_local_stat qtm_local_stat_at(const qtm_params *p, qtm_pair q) {
  qtm_local_stat s;
  s.b = qtm_pair_gap(q, p->epsL, p->epsR);
  s.uL = qtm_h(q.tl, p->epsL) / qtm_h(q.tl, p->eps_a);
  s.uR = qtm_h(q.tr, p->epsR) / qtm_h(q.tr, p->eps_a);
  return s;
}

/* Local current from its temperature part s, rates, g and N from p. */
QTM_FN qtm_local qtm_local_current_stat(const qtm_params *p, qtm_local_stat s) {
  qtm_local r;
  double gLgR = p->gammaL * p->gammaR;
  r.b = s.b;
  r.uL = s.uL;
  r.uR = s.uR;
  r.S = p->gammaL * r.uL + p->gammaR * r.uR;
  /* A disconnected bath carries no heat: J1 = 0, also when both rates are 0 (S = 0). */
  r.J1 = gLgR == 0.0 ? 0.0 : ((2.0 * p->omega) * gLgR) * r.b / r.S;
  r.alpha = p->N >= 2 ? qtm_alpha(p->gammaL, p->gammaR, p->g, r.uL, r.uR) : 1.0;
  r.J = r.alpha * r.J1;
  return r;
}

/* Local current for the bath temperatures of q (mode p->omega), other parameters from p. */
QTM_FN qtm_local qtm_local_current_pair(const qtm_params *p, qtm_pair q) {
  return qtm_local_current_stat(p, qtm_local_stat_at(p, q));
}

/* Local current for bath temperatures (TL, TR) and all other parameters from p. */
QTM_FN qtm_local qtm_local_current(const qtm_params *p, double TL, double TR) {
  return qtm_local_current_pair(p, qtm_pair_at(p->omega, TL, TR));
}

/* Contrast |(J + J_rev)/(J - J_rev)| (Eqs. 8-9), with the sum J + J_rev formed analytically
 * so that C keeps its relative accuracy where J_rev ~ -J (small TL - TR, gammaL ~ gammaR).
 * Write U = uL uR, P = 4g^2 + gL gR U, S = gL uL + gR uR for the forward process and U', P',
 * S' (u'_L = u(TR; epsL), u'_R = u(TL; epsR)) for the reverse one; b_rev = -b U'/U. Then
 *   C = |U P' S' - U' P S| / (U P' S' + U' P S),
 *   U P' S' - U' P S = 4g^2 (U S' - U' S) + gL gR U U' (S' - S),
 *   S' - S = gL dL + gR dR,  U S' - U' S = -(gL uL u'_L dR + gR uR u'_R dL),
 * with dL = u'_L - uL = -(epsL - eps_a) [nL(TL) - nL(TR)] and dR = u'_R - uR =
 * (epsR - eps_a) [nR(TL) - nR(TR)], each an occupation gap of one statistics formed through
 * expm1. For N = 1 (alpha = 1) C = |U S' - U' S| / (U S' + U' S). With equal bath statistics
 * this reduces to C = |gL-gR| |eps-eps_a| |b| / ((gL+gR)(uL+uR)) (the general form of Eq. 12),
 * which is evaluated as such: it is exactly 0 at gammaL == gammaR.
 * NaN where J = J_rev = 0 (0/0: TL == TR, g = 0, a rate 0). */
/* q: the forward pair of the point (mode p->omega at p->TL, p->TR). */
QTM_FN double qtm_local_contrast_pair(const qtm_params *p, qtm_pair q, qtm_local fwd,
                                      qtm_local rev) {
  if (qtm_both_zero(fwd.J, rev.J)) return NAN;
  double gL = p->gammaL, gR = p->gammaR;
  if (p->epsL == p->epsR)
    return fabs(gL - gR) * fabs(p->epsL - p->eps_a) * fabs(fwd.b) / ((gL + gR) * (fwd.uL + fwd.uR));
  double dL = -(p->epsL - p->eps_a) * qtm_pair_gap(q, p->epsL, p->epsL);
  double dR = (p->epsR - p->eps_a) * qtm_pair_gap(q, p->epsR, p->epsR);
  double U = fwd.uL * fwd.uR, Ur = rev.uL * rev.uR;
  double cross = -(gL * fwd.uL * rev.uL * dR + gR * fwd.uR * rev.uR * dL);
  if (p->N < 2) return fabs(cross) / (U * rev.S + Ur * fwd.S);
  double g4 = 4.0 * p->g * p->g, gLgR = gL * gR;
  double P = g4 + gLgR * U, Pr = g4 + gLgR * Ur;
  return fabs(g4 * cross + gLgR * U * Ur * (gL * dL + gR * dR)) /
         (U * Pr * rev.S + Ur * P * fwd.S);
}

/* Rectification ratio |J|/|J_rev| (Eq. 42): NaN at 0/0, +inf where only J_rev is 0. */
QTM_FN double qtm_ratio(double J, double J_rev) {
  if (qtm_both_zero(J, J_rev)) return NAN;
  return fabs(J) / fabs(J_rev);
}

/* The reverse process's local observables: J_rev, the contrast and the ratio, from the point's
 * pair q, its forward current and the reverse process's temperature part. One composition for
 * qtm_eval_closed_factors and the CPU's vector path (src/tile_eval_vec.c): the same bits. */
typedef struct qtm_local_rev_obs {
  double J_rev, contrast, ratio;
} qtm_local_rev_obs;

QTM_FN qtm_local_rev_obs qtm_local_rev_observables(const qtm_params *p, qtm_pair q,
                                                   qtm_local fwd, qtm_local_stat srev) {
  qtm_local rev = qtm_local_current_stat(p, srev);
  qtm_local_rev_obs r;
  r.J_rev = rev.J;
  r.contrast = qtm_local_contrast_pair(p, q, fwd, rev);
  r.ratio = qtm_ratio(fwd.J, rev.J);
  return r;
}

/* dJ/dTL at fixed TR, exact (FORMULAS.md section 3): with J = 2 w alpha gL gR b / S,
 *   dJ/dTL = (2 w alpha gL gR / S) [c_R - b (epsL - eps_a) ((1 - alpha)/uL + gL/S)] dnL/dTL,
 * c_R = dB/dnL / (gL gR) = 1 + (epsR - epsL) nR = h(TR, epsR)/h(TR, epsL), and
 * (1 - alpha)/uL = gL gR uR / (4g^2 + gL gR uL uR) the derivative of alpha's denominator,
 * evaluated in that second form (1 - alpha cancels where alpha ~ 1). For N = 1 alpha = 1
 * and that term is absent, which is exactly dJ1/dTL. */
QTM_FN double qtm_local_dJ_dTL_pair(const qtm_params *p, qtm_pair q, qtm_local r) {
  double gLgR = p->gammaL * p->gammaR;
  if (gLgR == 0.0 || r.alpha == 0.0) return 0.0; /* J vanishes identically near the point */
  qtm_thermal tl = q.tl, tr = q.tr;
  double dnL = qtm_occupation_dT(tl, p->omega, p->epsL);
  if (dnL == 0.0) return 0.0;
  double cR = qtm_h(tr, p->epsR) / qtm_h(tr, p->epsL);
  double alpha_term = p->N >= 2 ? gLgR * r.uR / (4.0 * p->g * p->g + gLgR * (r.uL * r.uR)) : 0.0;
  double bracket = cR - r.b * (p->epsL - p->eps_a) * (alpha_term + p->gammaL / r.S);
  return (2.0 * p->omega * r.alpha * gLgR / r.S) * bracket * dnL;
}

QTM_FN double qtm_local_dJ_dTL(const qtm_params *p, qtm_local r) {
  return qtm_local_dJ_dTL_pair(p, qtm_pair_at(p->omega, p->TL, p->TR), r);
}

/* Linear conductance of the single system at temperature T (Eq. 13 corrected, factor 2):
 * kappa1 = 2 w^2 gL gR nL na nR e^{w/T} / ((gL nL + gR nR) T^2)
 *        = 2 gL gR x^2 e hL ha hR / (gL hL + gR hR), every h at T with its own statistics.
 * 0 at T = 0 and where a rate is 0. */
QTM_FN double qtm_kappa1_th(const qtm_params *p, double T, qtm_thermal t) {
  double gLgR = p->gammaL * p->gammaR;
  if (T == 0.0 || gLgR == 0.0) return 0.0;
  if (t.e == 0.0) return 0.0;
  double hL = qtm_h(t, p->epsL), hR = qtm_h(t, p->epsR), ha = qtm_h(t, p->eps_a);
  return 2.0 * gLgR * (t.x * t.x * t.e) * (hL * ha * hR) / (p->gammaL * hL + p->gammaR * hR);
}

/* t: qtm_thermal_at(p->omega, T). */
QTM_FN double qtm_kappa1(const qtm_params *p, double T) {
  return qtm_kappa1_th(p, T, qtm_thermal_at(p->omega, T));
}

/* alpha at TL = TR = T (Eq. 14's prefactor), t = qtm_thermal_at(p->omega, T); 1 for N = 1. */
QTM_FN double qtm_alpha_at_th(const qtm_params *p, qtm_thermal t) {
  if (p->N < 2) return 1.0;
  double ha = qtm_h(t, p->eps_a);
  return qtm_alpha(p->gammaL, p->gammaR, p->g, qtm_h(t, p->epsL) / ha, qtm_h(t, p->epsR) / ha);
}

QTM_FN double qtm_alpha_at(const qtm_params *p, double T) {
  return qtm_alpha_at_th(p, qtm_thermal_at(p->omega, T));
}

/* Eq. 17 NDTC threshold T* for TR -> 0 (qubits between bosonic baths, N >= 2):
 * T* = w / ln[1 + 2 gL sqrt(gR) / sqrt((gL + gR)(4g^2 + gL gR))], the printed ratio with 4g^2
 * multiplied through, so g -> 0 is no 0/0. NaN where it does not apply or where g = 0 (no
 * current, so no NDTC); +inf where gL or gR is 0 (J1 = 0: no NDTC at any TL). */
QTM_FN double qtm_ndtc_threshold(const qtm_params *p) {
  if (!(p->eps_a == -1.0 && p->epsL == 1.0 && p->epsR == 1.0 && p->N >= 2)) return NAN;
  if (p->g == 0.0) return NAN;
  double arg = 2.0 * p->gammaL * sqrt(p->gammaR) /
               sqrt((p->gammaL + p->gammaR) * (4.0 * p->g * p->g + p->gammaL * p->gammaR));
  if (arg == 0.0) return INFINITY;
  return p->omega / log1p(arg);
}

/* Entropy production rate Pi = -(Q_L/TL + Q_R/TR) = (1/TR - 1/TL) J/2 >= 0 (corrected, see
 * FORMULAS.md section 6). +inf where a temperature is 0 and J != 0; NaN (inf * 0) where a
 * temperature is 0 and J = 0. */
QTM_FN double qtm_entropy_production(double TL, double TR, double J) {
  if (TL > 0.0 && TR > 0.0) {
    double prod = TL * TR;
    double gap = (prod == 0.0 || isinf(prod)) ? 1.0 / TR - 1.0 / TL : (TL - TR) / prod;
    return gap * J * 0.5;
  }
  double invL = TL > 0.0 ? 1.0 / TL : INFINITY;
  double invR = TR > 0.0 ? 1.0 / TR : INFINITY;
  return (invR - invL) * J * 0.5;
}

/* ---- Two subsystems: moments, populations and entanglement (Eqs. 31-39) ------------------- */

/* Im of the coherence C = <s1 s2^+ - s1^+ s2>/2 = i J/(4 g w), written as
 * 2 g gL gR b / ((4g^2 + gL gR uL uR) S) (Eq. 33), which is 0, not 0/0, at g = 0. */
QTM_FN double qtm_coherence(const qtm_params *p, qtm_local r) {
  double gLgR = p->gammaL * p->gammaR;
  if (p->g == 0.0 || gLgR == 0.0) return 0.0;
  double P = 4.0 * p->g * p->g + gLgR * (r.uL * r.uR);
  /* as (2 g b / S) (gL gR / P): two ratios of like sizes, where the product P S underflowed to
   * 0 (a NaN, 0/0) once the rates and g were below ~1e-150 */
  return 2.0 * p->g * r.b / r.S * (gLgR / P);
}

typedef struct qtm_populations {
  double p1;      /* |11>, both qubits excited */
  double p4;      /* |00>, both in the ground state */
  double sqrt_p1; /* formed from scaled rates: p1 is subnormal once w/T > ~354, sqrt(p1) not */
} qtm_populations;

/* Eq. 38 for two qubits (eps_a = -1), any bath statistics, with the rates written through h:
 * gamma^- = gamma h, gamma^+ = gamma e h. NaN when both rates are 0 (no unique state). */
QTM_FN qtm_populations qtm_qubit_populations_pair(const qtm_params *p, qtm_pair q) {
  qtm_populations r;
  qtm_thermal tl = q.tl, tr = q.tr;
  double hL = qtm_h(tl, p->epsL), hR = qtm_h(tr, p->epsR);
  double dnL = p->gammaL * hL, upL = dnL * tl.e; /* gammaL^-, gammaL^+ */
  double dnR = p->gammaR * hR, upR = dnR * tr.e;
  double GL = dnL + upL, GR = dnR + upR, G = GL + GR;
  double g4 = 4.0 * p->g * p->g;
  double chi = (g4 + GL * GR) * (G * G);
  if (chi == 0.0) {
    r.p1 = r.p4 = r.sqrt_p1 = NAN;
    return r;
  }
  r.p1 = (g4 * (upL + upR) * (upL + upR) + upL * upR * (G * G)) / chi;
  double s = fmax(upL, upR); /* 0 only when both temperatures are 0, where p1 = 0 */
  r.sqrt_p1 = s == 0.0 ? 0.0
                       : s * sqrt((g4 * ((upL + upR) / s) * ((upL + upR) / s) +
                                   (upL / s) * (upR / s) * (G * G)) / chi);
  r.p4 = (g4 * (dnL + dnR) * (dnL + dnR) + dnL * dnR * (G * G)) / chi;
  return r;
}

/* ---- Global (strong-coupling) closed forms, Eqs. 21-25 ----------------------------------- */

/* Global forms need two resonant qubits, bosonic baths (qtm_global_statistics) and 0 < g <
 * omega (qtm_global_coupling) (section 7). A scan whose statistics and N are no axis tests the
 * first once for all its points. */
QTM_FN int qtm_global_statistics(const qtm_params *p) {
  return p->N == 2 && p->eps_a == -1.0 && p->epsL == 1.0 && p->epsR == 1.0;
}

QTM_FN int qtm_global_coupling(double g, double omega) { return g > 0.0 && g < omega; }

QTM_FN int qtm_global_applies(const qtm_params *p) {
  return qtm_global_statistics(p) && qtm_global_coupling(p->g, p->omega);
}

/* coth(x/2) = (2 + m)/(-m) = 1 + 2n for bosons; 1 at T = 0. */
QTM_FN double qtm_coth_half(qtm_thermal t) { return (2.0 + t.m) / (-t.m); }

typedef struct qtm_global_mode {
  double J;  /* Eq. 22 */
  double b;  /* nL(w) - nR(w) */
  double cL; /* coth(w/2TL) */
  double cR; /* coth(w/2TR) */
  double dJ_dTL;
} qtm_global_mode;

/* The part of a global mode that depends on its frequency and the temperatures only (the
 * baths are bosonic): b, cL and cR of qtm_global_mode. */
typedef struct qtm_global_stat {
  double b, cL, cR;
} qtm_global_stat;

QTM_FN qtm_global_stat qtm_global_stat_at(qtm_pair q) {
  qtm_global_stat s;
  s.b = qtm_pair_gap(q, 1.0, 1.0);
  s.cL = qtm_coth_half(q.tl);
  s.cR = qtm_coth_half(q.tr);
  return s;
}

/* One mode of Eq. 22, J(w) = gL gR w [nL - nR] / (gL coth(w/2TL) + gR coth(w/2TR)), with its
 * exact TL-derivative gL gR (gL + gR) w coth(w/2TR) dnL/dTL / den^2 (positive: the global
 * current has no NDTC). tl: the mode's thermal factors at TL; s: its temperature part. */
QTM_FN qtm_global_mode qtm_global_mode_stat(const qtm_params *p, double w, qtm_thermal tl,
                                            qtm_global_stat s) {
  qtm_global_mode r;
  double gLgR = p->gammaL * p->gammaR;
  r.b = s.b;
  r.cL = s.cL;
  r.cR = s.cR;
  double den = p->gammaL * r.cL + p->gammaR * r.cR;
  if (gLgR == 0.0) {
    r.J = r.dJ_dTL = 0.0;
    return r;
  }
  r.J = (gLgR * w) * r.b / den;
  r.dJ_dTL = gLgR * (p->gammaL + p->gammaR) * w * r.cR / (den * den) *
             qtm_occupation_dT(tl, w, 1.0);
  return r;
}

/* Global contrast from the two modes, with the sum J + J_rev formed analytically:
 * J + J_rev = -2 (gL - gR) gL gR sum w b^2/(S S'), J - J_rev = gL gR (gL + gR) sum
 * w b (cL + cR)/(S S'), S = gL cL + gR cR, S' = gL cR + gR cL; both modes' b share a sign.
 * NaN where both global currents are 0. */
QTM_FN double qtm_global_contrast(const qtm_params *p, const qtm_global_mode *modes,
                                  const double *w, double J, double J_rev) {
  if (qtm_both_zero(J, J_rev)) return NAN;
  double num = 0.0, den = 0.0;
  for (int k = 0; k < 2; ++k) {
    qtm_global_mode m = modes[k];
    double S = p->gammaL * m.cL + p->gammaR * m.cR;
    double Sp = p->gammaL * m.cR + p->gammaR * m.cL;
    double t = w[k] * fabs(m.b) / (S * Sp);
    num += t * fabs(m.b);
    den += t * (m.cL + m.cR);
  }
  return 2.0 * fabs(p->gammaL - p->gammaR) * num / ((p->gammaL + p->gammaR) * den);
}

/* x^2 csch(x) = 2 x^2 e^-x / (1 - e^-2x); 0 at x = inf. */
QTM_FN double qtm_x2_csch(double w, double T) {
  if (T == 0.0) return 0.0;
  double x = w / T;
  double e = exp(-x);
  if (e == 0.0) return 0.0;
  return 2.0 * x * x * e / (-expm1(-2.0 * x));
}

/* Eq. 25: kappa_global(T) = gL gR/(gL + gR) [x+^2 csch x+ + x-^2 csch x-] / 2, x+- = w+-/T,
 * from the bracket s = x+^2 csch x+ + x-^2 csch x- (which depends on omega, g and T only). */
QTM_FN double qtm_kappa_global_s(const qtm_params *p, double s) {
  double sum = p->gammaL + p->gammaR;
  if (sum == 0.0) return 0.0;
  return p->gammaL * p->gammaR / sum * 0.5 * s;
}

QTM_FN double qtm_kappa_global(const qtm_params *p, double T) {
  return qtm_kappa_global_s(p, qtm_x2_csch(p->omega + p->g, T) + qtm_x2_csch(p->omega - p->g, T));
}

/* ---- The observables of one point ---------------------------------------------------------- */

/* A set of observables: bit (1u << id) for each qtm_obs_id. */
#define QTM_OBS_BIT(id) (1u << (id))
#define QTM_OBS_ALL ((1u << QTM_OBS_COUNT) - 1u)
typedef char qtm_obs_mask_fits[QTM_OBS_COUNT <= 32 ? 1 : -1];

/* What each group of work produces: the point computes a group only when one of its
 * observables is asked for. */
#define QTM_NEED_REV                                                                           \
  (QTM_OBS_BIT(QTM_OBS_J_rev) | QTM_OBS_BIT(QTM_OBS_contrast) | QTM_OBS_BIT(QTM_OBS_ratio))
#define QTM_NEED_POP                                                                           \
  (QTM_OBS_BIT(QTM_OBS_p1) | QTM_OBS_BIT(QTM_OBS_p4) | QTM_OBS_BIT(QTM_OBS_Jc) |                \
   QTM_OBS_BIT(QTM_OBS_concurrence))
#define QTM_NEED_LOCAL                                                                         \
  (QTM_OBS_BIT(QTM_OBS_J1) | QTM_OBS_BIT(QTM_OBS_alpha) | QTM_OBS_BIT(QTM_OBS_J) |              \
   QTM_OBS_BIT(QTM_OBS_dJ_dTL) | QTM_OBS_BIT(QTM_OBS_coherence) |                              \
   QTM_OBS_BIT(QTM_OBS_entropy_production) | QTM_NEED_REV | QTM_NEED_POP)
#define QTM_NEED_MEAN_T (QTM_OBS_BIT(QTM_OBS_kappa1) | QTM_OBS_BIT(QTM_OBS_kappa2))
#define QTM_NEED_GLOBAL_REV                                                                    \
  (QTM_OBS_BIT(QTM_OBS_J_global_rev) | QTM_OBS_BIT(QTM_OBS_contrast_global))
#define QTM_NEED_GLOBAL                                                                        \
  (QTM_OBS_BIT(QTM_OBS_J_global) | QTM_OBS_BIT(QTM_OBS_dJ_global_dTL) |                        \
   QTM_OBS_BIT(QTM_OBS_kappa_global) | QTM_NEED_GLOBAL_REV)

/* ---- A point's transcendentals, apart from everything else it evaluates --------------------- */

/* Every libm call of a point's observables has arguments that depend on (omega, TL, TR) only
 * (the local mode) or on (omega, g, TL, TR) only (the global modes). A scan whose axes repeat
 * those values over many points (a tile of TL x TR x gamma_ratio x g has TL x TR local and
 * TL x TR x g global values) computes them once per distinct value and hands them to
 * qtm_eval_closed_factors; a point on its own computes them with the same functions below.
 * The values are the same bits either way: the same calls on the same arguments. */
typedef struct qtm_local_factors {
  qtm_pair q;       /* qtm_pair_at(omega, TL, TR): need & QTM_NEED_LOCAL */
  qtm_thermal mean; /* qtm_thermal_at(omega, (TL + TR)/2): need & QTM_NEED_MEAN_T */
} qtm_local_factors;

/* The local current's temperature parts, forward and reverse (TL <-> TR): they depend on the
 * statistics too, so their table can need more axes than qtm_local_factors'. */
typedef struct qtm_local_stats {
  qtm_local_stat fwd; /* need & QTM_NEED_LOCAL */
  qtm_local_stat rev; /* need & QTM_NEED_REV */
} qtm_local_stats;

typedef struct qtm_global_factors {
  qtm_pair q[2];          /* qtm_pair_at(omega +- g, TL, TR): need & QTM_NEED_GLOBAL */
  qtm_global_stat s[2];   /* qtm_global_stat_at(q[k]): need & QTM_NEED_GLOBAL */
  double b_rev[2];        /* b of the reverse process of q[k]: need & QTM_NEED_GLOBAL_REV */
  double x2_csch;         /* the bracket of qtm_kappa_global at (TL + TR)/2: need & kappa_global */
} qtm_global_factors;

/* What depends on neither temperature (the rates, g, omega, the statistics, N): the NDTC
 * threshold, whose log1p, two square roots and two divisions cost a point about what a local
 * current costs, while a TL x TR x ... scan has few distinct values of it. */
typedef struct qtm_rate_factors {
  double ndtc_threshold; /* qtm_ndtc_threshold(p): need & ndtc_threshold */
} qtm_rate_factors;

/* The parts that `need` asks for; the others are 0 (and never read). */
QTM_FN qtm_rate_factors qtm_rate_factors_at(const qtm_params *p, unsigned need) {
  qtm_rate_factors f;
  f.ndtc_threshold =
      (need & QTM_OBS_BIT(QTM_OBS_ndtc_threshold)) ? qtm_ndtc_threshold(p) : 0.0;
  return f;
}

/* The parts that `need` asks for; the others are 0 (and never read). */
QTM_FN qtm_local_factors qtm_local_factors_at(const qtm_params *p, unsigned need) {
  qtm_local_factors f;
  double Tm = 0.5 * (p->TL + p->TR);
  if (need & QTM_NEED_LOCAL) {
    f.q = qtm_pair_at(p->omega, p->TL, p->TR);
  } else {
    f.q.tl.x = f.q.tl.e = f.q.tl.m = f.q.tr.x = f.q.tr.e = f.q.tr.m = 0.0;
    f.q.TL = f.q.TR = f.q.d = f.q.E = 0.0;
  }
  if (need & QTM_NEED_MEAN_T) f.mean = qtm_thermal_at(p->omega, Tm);
  else f.mean.x = f.mean.e = f.mean.m = 0.0;
  return f;
}

/* q: p's local pair qtm_pair_at(p->omega, p->TL, p->TR). */
QTM_FN qtm_local_stats qtm_local_stats_at(const qtm_params *p, qtm_pair q, unsigned need) {
  qtm_local_stats s;
  s.fwd = qtm_local_stat_at(p, q);
  if (need & QTM_NEED_REV) s.rev = qtm_local_stat_at(p, qtm_pair_reversed(q, p->omega));
  else s.rev.b = s.rev.uL = s.rev.uR = 0.0;
  return s;
}

/* Meaningful where qtm_global_applies(p); elsewhere finite or not, and unused. */
QTM_FN qtm_global_factors qtm_global_factors_at(const qtm_params *p, unsigned need) {
  qtm_global_factors f;
  double Tm = 0.5 * (p->TL + p->TR);
  double w0 = p->omega + p->g, w1 = p->omega - p->g;
  f.q[0] = qtm_pair_at(w0, p->TL, p->TR);
  f.q[1] = qtm_pair_at(w1, p->TL, p->TR);
  f.s[0] = qtm_global_stat_at(f.q[0]);
  f.s[1] = qtm_global_stat_at(f.q[1]);
  /* the reverse mode's cL, cR are the forward's cR, cL: only b is new */
  f.b_rev[0] = f.b_rev[1] = 0.0;
  if (need & QTM_NEED_GLOBAL_REV) {
    f.b_rev[0] = qtm_global_stat_at(qtm_pair_reversed(f.q[0], w0)).b;
    f.b_rev[1] = qtm_global_stat_at(qtm_pair_reversed(f.q[1], w1)).b;
  }
  f.x2_csch = (need & QTM_OBS_BIT(QTM_OBS_kappa_global)) ? qtm_x2_csch(w0, Tm) + qtm_x2_csch(w1, Tm)
                                                         : 0.0;
  return f;
}

/* The global currents' observables where qtm_global_applies(p): J, and J_rev and the contrast
 * when `need` asks for QTM_NEED_GLOBAL_REV, dJ/dTL when it asks for it (the others 0), from
 * the point's global factors gx. One composition for qtm_eval_closed_factors and the CPU's
 * vector path (src/tile_eval_vec.c), which hands over gx without the pairs (only dJ/dTL reads
 * them): the same bits. */
typedef struct qtm_global_obs {
  double J, J_rev, contrast, dJ_dTL;
} qtm_global_obs;

QTM_FN qtm_global_obs qtm_global_observables(const qtm_params *p, unsigned need,
                                             qtm_global_factors gx) {
  qtm_global_obs r;
  double w[2] = {p->omega + p->g, p->omega - p->g};
  /* written out, not looped: a loop here leaves a 176-byte stack frame in the kernel */
  qtm_global_mode f[2];
  f[0] = qtm_global_mode_stat(p, w[0], gx.q[0].tl, gx.s[0]);
  f[1] = qtm_global_mode_stat(p, w[1], gx.q[1].tl, gx.s[1]);
  r.J = f[0].J + f[1].J;
  r.J_rev = r.contrast = r.dJ_dTL = 0.0;
  /* only when asked for, so that the compiler drops its divisions otherwise */
  if (need & QTM_OBS_BIT(QTM_OBS_dJ_global_dTL)) r.dJ_dTL = f[0].dJ_dTL + f[1].dJ_dTL;
  if (need & QTM_NEED_GLOBAL_REV) {
    /* the reverse modes: TL <-> TR, so cL <-> cR; their dJ_dTL is not used */
    qtm_global_stat s0 = {gx.b_rev[0], gx.s[0].cR, gx.s[0].cL};
    qtm_global_stat s1 = {gx.b_rev[1], gx.s[1].cR, gx.s[1].cL};
    qtm_global_mode r0 = qtm_global_mode_stat(p, w[0], gx.q[0].tr, s0);
    qtm_global_mode r1 = qtm_global_mode_stat(p, w[1], gx.q[1].tr, s1);
    r.J_rev = r0.J + r1.J;
    r.contrast = qtm_global_contrast(p, f, w, r.J, r.J_rev);
  }
  return r;
}

/* Fills the observables of `need` (a QTM_OBS_BIT set) of the (valid) point p into o, NaN where
 * one does not apply; other entries of o may be written or left as they were. Each mode's
 * thermal factors are computed once and shared by the forward and reverse process and every
 * formula, so a scan of a few observables pays for those only. Every value has the same bits
 * whatever else `need` holds. lf, sf, gf and rf: the point's factors, computed by
 * qtm_local_factors_at, qtm_local_stats_at, qtm_global_factors_at and qtm_rate_factors_at for
 * p's (omega, TL, TR), (omega, TL, TR, statistics), (omega, g, TL, TR) resp. everything but the
 * temperatures, with at least `need`, or NULL to compute them here. */
QTM_FN void qtm_eval_closed_factors(const qtm_params *p, unsigned need,
                                    const qtm_local_factors *lf, const qtm_local_stats *sf,
                                    const qtm_global_factors *gf, const qtm_rate_factors *rf,
                                    qtm_obs *o) {
  double *v = o->v;
  int two_sites = p->N == 2;
  /* by value: a pointer to a local would keep it out of registers in the CUDA kernel */
  qtm_local_factors lx;
  if (need & (QTM_NEED_LOCAL | QTM_NEED_MEAN_T)) lx = lf ? *lf : qtm_local_factors_at(p, need);

  if (need & QTM_NEED_LOCAL) {
    qtm_pair q = lx.q;
    qtm_local_stats ls = sf ? *sf : qtm_local_stats_at(p, q, need);
    qtm_local fwd = qtm_local_current_stat(p, ls.fwd);
    v[QTM_OBS_J1] = fwd.J1;
    v[QTM_OBS_alpha] = fwd.alpha;
    v[QTM_OBS_J] = fwd.J;
    if (need & QTM_NEED_REV) {
      qtm_local_rev_obs r = qtm_local_rev_observables(p, q, fwd, ls.rev);
      v[QTM_OBS_J_rev] = r.J_rev;
      v[QTM_OBS_contrast] = r.contrast;
      v[QTM_OBS_ratio] = r.ratio;
    }
    if (need & QTM_OBS_BIT(QTM_OBS_dJ_dTL)) v[QTM_OBS_dJ_dTL] = qtm_local_dJ_dTL_pair(p, q, fwd);
    /* Two-site quantities need two subsystems; populations and entanglement need qubits. */
    if (need & (QTM_OBS_BIT(QTM_OBS_coherence) | QTM_OBS_BIT(QTM_OBS_concurrence)))
      v[QTM_OBS_coherence] = two_sites ? qtm_coherence(p, fwd) : NAN;
    if (need & QTM_NEED_POP) {
      if (two_sites && p->eps_a == -1.0) {
        qtm_populations pop = qtm_qubit_populations_pair(p, q);
        double root = pop.sqrt_p1 * sqrt(pop.p4);
        v[QTM_OBS_p1] = pop.p1;
        v[QTM_OBS_p4] = pop.p4;
        v[QTM_OBS_Jc] = 4.0 * p->g * p->omega * root;
        v[QTM_OBS_concurrence] = 2.0 * fmax(0.0, fabs(v[QTM_OBS_coherence]) - root);
        if (isnan(root)) v[QTM_OBS_concurrence] = NAN; /* fmax would hide the NaN */
      } else {
        v[QTM_OBS_p1] = v[QTM_OBS_p4] = v[QTM_OBS_Jc] = v[QTM_OBS_concurrence] = NAN;
      }
    }
    if (need & QTM_OBS_BIT(QTM_OBS_entropy_production))
      v[QTM_OBS_entropy_production] = qtm_entropy_production(p->TL, p->TR, fwd.J);
  }

  if (need & QTM_NEED_MEAN_T) {
    double Tm = 0.5 * (p->TL + p->TR);
    qtm_thermal tm = lx.mean;
    v[QTM_OBS_kappa1] = qtm_kappa1_th(p, Tm, tm);
    v[QTM_OBS_kappa2] = qtm_alpha_at_th(p, tm) * v[QTM_OBS_kappa1];
  }
  if (need & QTM_OBS_BIT(QTM_OBS_ndtc_threshold))
    v[QTM_OBS_ndtc_threshold] = rf ? rf->ndtc_threshold : qtm_ndtc_threshold(p);

  if (need & QTM_NEED_GLOBAL) {
    if (qtm_global_applies(p)) {
      qtm_global_factors gx = gf ? *gf : qtm_global_factors_at(p, need);
      qtm_global_obs go = qtm_global_observables(p, need, gx);
      v[QTM_OBS_J_global] = go.J;
      if (need & QTM_OBS_BIT(QTM_OBS_dJ_global_dTL)) v[QTM_OBS_dJ_global_dTL] = go.dJ_dTL;
      if (need & QTM_NEED_GLOBAL_REV) {
        v[QTM_OBS_J_global_rev] = go.J_rev;
        v[QTM_OBS_contrast_global] = go.contrast;
      }
      if (need & QTM_OBS_BIT(QTM_OBS_kappa_global))
        v[QTM_OBS_kappa_global] = qtm_kappa_global_s(p, gx.x2_csch);
    } else { /* global ME derived for two qubits between bosonic baths, 0 < g < omega only */
      v[QTM_OBS_J_global] = v[QTM_OBS_J_global_rev] = v[QTM_OBS_contrast_global] = NAN;
      v[QTM_OBS_kappa_global] = v[QTM_OBS_dJ_global_dTL] = NAN;
    }
  }
}

/* qtm_eval_closed_factors with every factor computed here. */
QTM_FN void qtm_eval_closed_select(const qtm_params *p, unsigned need, qtm_obs *o) {
  qtm_eval_closed_factors(p, need, NULL, NULL, NULL, NULL, o);
}

/* Fills o with every observable of the (valid) point p; NaN where one does not apply. */
QTM_FN void qtm_eval_closed_point(const qtm_params *p, qtm_obs *o) {
  qtm_eval_closed_select(p, QTM_OBS_ALL, o);
}

#endif
