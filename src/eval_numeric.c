/* Every observable from numerical steady states of the master equations (--method numeric).
 * Currents, populations, coherence and concurrence come from the density matrix (or the
 * moments); conductances and TL-derivatives are Richardson-extrapolated central differences
 * of numerical currents (error O(h^4), h = 1e-3 T). Nothing here evaluates a closed form,
 * except Eq. 17's threshold, an analytic estimate with no numerical counterpart. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "qtm/eval.h"
#include "qtm/oracle.h"
#include "qtm/physics.h"

typedef qtm_status (*qtm_solver)(const qtm_params *, qtm_oracle_result *, char *, size_t);

typedef struct numeric_ctx {
  qtm_solver solve;
  char *msg;
  size_t msgcap;
} numeric_ctx;

/* Current J of the solver at (TL, TR), every other parameter from p. */
static qtm_status current_at(const numeric_ctx *c, const qtm_params *p, double TL, double TR,
                             double *J) {
  qtm_params q = *p;
  q.TL = TL;
  q.TR = TR;
  qtm_oracle_result r;
  qtm_status st = c->solve(&q, &r, c->msg, c->msgcap);
  /* TL == TR: the current is exactly 0 (equilibrium); the solver returns rounding noise */
  if (st == QTM_OK) *J = TL == TR ? 0.0 : r.J;
  return st;
}

/* Richardson extrapolation of a symmetric difference quotient D(h) with O(h^2) error. */
static double richardson(double d_h, double d_2h) { return (4.0 * d_h - d_2h) / 3.0; }

/* Linear conductance lim J/dT at a common temperature T. J is not odd in the temperature
 * difference where the device rectifies, so the quotient is antisymmetrised,
 * D(h) = (J(T + h/2, T - h/2) - J(T - h/2, T + h/2)) / 2h, whose error is O(h^2). */
static qtm_status conductance(const numeric_ctx *c, const qtm_params *p, double T, double *kappa) {
  if (T == 0.0) { /* every e^{-w/T} derivative vanishes at T = 0 (FORMULAS.md section 7) */
    *kappa = 0.0;
    return QTM_OK;
  }
  double h = 1e-3 * T, D[2];
  for (int k = 0; k < 2; ++k) {
    double step = h * (k + 1), Jf, Jr;
    qtm_status st = current_at(c, p, T + step / 2, T - step / 2, &Jf);
    if (st == QTM_OK) st = current_at(c, p, T - step / 2, T + step / 2, &Jr);
    if (st != QTM_OK) return st;
    D[k] = (Jf - Jr) / (2 * step);
  }
  *kappa = richardson(D[0], D[1]);
  return QTM_OK;
}

/* dJ/dTL at fixed TR: D(h) = (J(TL + h) - J(TL - h)) / 2h. */
static qtm_status derivative_TL(const numeric_ctx *c, const qtm_params *p, double *dJ) {
  if (p->TL == 0.0) {
    *dJ = 0.0;
    return QTM_OK;
  }
  double h = 1e-3 * p->TL, D[2];
  for (int k = 0; k < 2; ++k) {
    double step = h * (k + 1), Jp, Jm;
    qtm_status st = current_at(c, p, p->TL + step, p->TR, &Jp);
    if (st == QTM_OK) st = current_at(c, p, p->TL - step, p->TR, &Jm);
    if (st != QTM_OK) return st;
    D[k] = (Jp - Jm) / (2 * step);
  }
  *dJ = richardson(D[0], D[1]);
  return QTM_OK;
}

static double contrast_of(double J, double J_rev) {
  if (J == 0.0 && J_rev == 0.0) return NAN; /* 0/0, as the closed forms */
  return fabs((J + J_rev) / (J - J_rev));
}

static qtm_status local_observables(const numeric_ctx *c, const qtm_params *p, double *v) {
  qtm_oracle_result fwd;
  qtm_status st = c->solve(p, &fwd, c->msg, c->msgcap);
  if (st != QTM_OK) return st;
  if (p->TL == p->TR) fwd.J = fwd.Q_L = fwd.Q_R = 0.0; /* equilibrium: no heat flows */
  qtm_params single = *p;
  single.N = 1;
  double J1, J_rev, Tm = 0.5 * (p->TL + p->TR);
  if ((st = current_at(c, &single, p->TL, p->TR, &J1)) != QTM_OK) return st;
  if ((st = current_at(c, p, p->TR, p->TL, &J_rev)) != QTM_OK) return st;

  v[QTM_OBS_J1] = J1;
  v[QTM_OBS_J] = fwd.J;
  v[QTM_OBS_J_rev] = J_rev;
  v[QTM_OBS_contrast] = contrast_of(fwd.J, J_rev);
  v[QTM_OBS_ratio] = qtm_ratio(fwd.J, J_rev);
  if ((st = conductance(c, &single, Tm, &v[QTM_OBS_kappa1])) != QTM_OK) return st;
  if ((st = conductance(c, p, Tm, &v[QTM_OBS_kappa2])) != QTM_OK) return st;
  if ((st = derivative_TL(c, p, &v[QTM_OBS_dJ_dTL])) != QTM_OK) return st;
  /* alpha = J/J1; at TL == TR both vanish and alpha is their ratio's limit, kappa2/kappa1 */
  if (p->N == 1)
    v[QTM_OBS_alpha] = 1.0;
  else if (J1 != 0.0)
    v[QTM_OBS_alpha] = fwd.J / J1;
  else if (p->TL == p->TR && v[QTM_OBS_kappa1] != 0.0)
    v[QTM_OBS_alpha] = v[QTM_OBS_kappa2] / v[QTM_OBS_kappa1];

  v[QTM_OBS_coherence] = fwd.coherence;
  v[QTM_OBS_p1] = fwd.p1;
  v[QTM_OBS_p4] = fwd.p4;
  v[QTM_OBS_Jc] = 4.0 * p->g * p->omega * sqrt(fwd.p1 * fwd.p4); /* Eq. 39's definition */
  v[QTM_OBS_concurrence] = fwd.concurrence;
  if (p->TL > 0.0 && p->TR > 0.0 && p->TL != p->TR)
    v[QTM_OBS_entropy_production] = -(fwd.Q_L / p->TL + fwd.Q_R / p->TR);
  else /* equal or zero temperatures: 0, +inf or NaN by the same rule as the closed forms */
    v[QTM_OBS_entropy_production] = qtm_entropy_production(p->TL, p->TR, fwd.J);
  return QTM_OK;
}

static qtm_status global_observables(const numeric_ctx *c, const qtm_params *p, double *v) {
  double J, J_rev;
  qtm_status st;
  if ((st = current_at(c, p, p->TL, p->TR, &J)) != QTM_OK) return st;
  if ((st = current_at(c, p, p->TR, p->TL, &J_rev)) != QTM_OK) return st;
  v[QTM_OBS_J_global] = J;
  v[QTM_OBS_J_global_rev] = J_rev;
  v[QTM_OBS_contrast_global] = contrast_of(J, J_rev);
  if ((st = conductance(c, p, 0.5 * (p->TL + p->TR), &v[QTM_OBS_kappa_global])) != QTM_OK)
    return st;
  return derivative_TL(c, p, &v[QTM_OBS_dJ_global_dTL]);
}

qtm_status qtm_eval_numeric(const qtm_params *p, qtm_obs *out, qtm_param_error *err, char *msg,
                            size_t msgcap) {
  qtm_status st = qtm_params_validate(p, err);
  if (st != QTM_OK) return st;
  if (msg && msgcap) msg[0] = '\0';
  for (int i = 0; i < QTM_OBS_COUNT; ++i) out->v[i] = NAN;

  numeric_ctx local = {qtm_oracle_local, msg, msgcap};
  if ((st = local_observables(&local, p, out->v)) != QTM_OK) return st;
  out->v[QTM_OBS_ndtc_threshold] = qtm_ndtc_threshold(p);

  if (qtm_global_applies(p)) { /* else the global values stay NaN (FORMULAS.md section 7) */
    numeric_ctx global = {qtm_oracle_global, msg, msgcap};
    if ((st = global_observables(&global, p, out->v)) != QTM_OK) return st;
  }
  return QTM_OK;
}
