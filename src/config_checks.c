/* The cross-checks of a scan config: every parameter given exactly once (fixed, by an axis,
 * or by default), the whole grid physically valid (checked at the corners of the axes'
 * ranges), and every observable defined somewhere in the scan (FORMULAS.md section 7). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "config_internal.h"
#include "qtm/observables.h"

/* The parameters an axis sets (1 or 2). */
static int axis_targets(int id, int out[2]) {
  switch (id) {
  case QTM_AXIS_T:
    out[0] = QTM_PARAM_TL;
    out[1] = QTM_PARAM_TR;
    return 2;
  case QTM_AXIS_DeltaT: out[0] = QTM_PARAM_TL; return 1;
  case QTM_AXIS_gamma_ratio: out[0] = QTM_PARAM_gammaL; return 1;
  default: out[0] = id; return 1;
  }
}

/* What a derived axis stands for, to append to messages ("" for the ten parameters). */
static const char *axis_meaning(int id) {
  switch (id) {
  case QTM_AXIS_T: return " (T sets TL = TR = T)";
  case QTM_AXIS_DeltaT: return " (DeltaT sets TL = TR + DeltaT)";
  case QTM_AXIS_gamma_ratio: return " (gamma_ratio sets gammaL = gamma_ratio * gammaR)";
  default: return "";
  }
}

/* ---- every parameter given once, and valid ------------------------------------------------- */

qtm_status qtm_cfg_check_given(qtm_cfg_loader *L) {
  char there[512];
  for (int p = 0; p < QTM_PARAM_COUNT; ++p) L->src_axis[p] = -1;
  for (int k = 0; k < L->naxes; ++k) {
    int t[2], nt = axis_targets(L->axes[k].id, t);
    for (int j = 0; j < nt; ++j) {
      int other = L->src_axis[t[j]];
      if (other >= 0) {
        qtm_yaml_place(&L->y, L->axes[other].name_node, there, sizeof there);
        return qtm_yaml_fail(&L->y, L->axes[k].name_node,
                             "axis %s: %s is given twice: set here%s and by axis %s at %s%s",
                             qtm_axis_name(L->axes[k].id), qtm_param_table[t[j]].name,
                             axis_meaning(L->axes[k].id), qtm_axis_name(L->axes[other].id), there,
                             axis_meaning(L->axes[other].id));
      }
      L->src_axis[t[j]] = k;
    }
  }
  for (int p = 0; p < QTM_PARAM_COUNT; ++p) {
    int k = L->src_axis[p];
    if (!L->fixed_key[p] || k < 0) continue;
    qtm_yaml_place(&L->y, L->axes[k].name_node, there, sizeof there);
    return qtm_yaml_fail(
        &L->y, L->fixed_key[p], "fixed.%s: %s is given twice: fixed here and %s by axis %s at %s%s",
        qtm_param_table[p].name, qtm_param_table[p].name, L->axes[k].id == p ? "scanned" : "set",
        qtm_axis_name(L->axes[k].id), there, axis_meaning(L->axes[k].id));
  }
  for (int k = 0; k < L->naxes; ++k) {
    int id = L->axes[k].id, need = -1;
    if (id == QTM_AXIS_DeltaT) need = QTM_PARAM_TR;
    if (id == QTM_AXIS_gamma_ratio) need = QTM_PARAM_gammaR;
    if (need >= 0 && L->src_axis[need] < 0 && !L->fixed_key[need])
      return qtm_yaml_fail(&L->y, L->axes[k].name_node, "axis %s needs %s%s: fix %s or scan it",
                           qtm_axis_name(id), qtm_param_table[need].name, axis_meaning(id),
                           qtm_param_table[need].name);
  }
  /* The parameters without a default are those qtm_params_default leaves NaN. */
  qtm_params def;
  qtm_params_default(&def);
  static const char *const how[QTM_PARAM_COUNT] = {[QTM_PARAM_TL] = "TL, T or DeltaT",
                                                   [QTM_PARAM_TR] = "TR or T",
                                                   [QTM_PARAM_gammaL] = "gammaL or gamma_ratio",
                                                   [QTM_PARAM_gammaR] = "gammaR",
                                                   [QTM_PARAM_g] = "g"};
  for (int p = 0; p < QTM_PARAM_COUNT; ++p) {
    if (!isnan(qtm_params_get(&def, (qtm_param_id)p))) continue;
    if (L->src_axis[p] >= 0 || L->fixed_key[p]) continue;
    const char *name = qtm_param_table[p].name;
    return qtm_yaml_fail(&L->y, L->fixed_map ? L->fixed_map : L->root,
                         "%s is not given and has no default: fix it (fixed: {%s: ...}) or scan "
                         "it (an axis on %s)",
                         name, name, how[p] ? how[p] : name);
  }
  return QTM_OK;
}

/* Validates the corners of the ranges of the axes in `mask`, the other axes left out (their
 * parameters keep base's values), and blames the first invalid parameter on the axis or fixed
 * entry that sets it. */
static qtm_status check_box(qtm_cfg_loader *L, unsigned mask, const qtm_params *base) {
  qtm_grid_desc d;
  double values[2 * QTM_MAX_AXES];
  int global[QTM_MAX_AXES]; /* the loader's axis index of each axis of d */
  memset(&d, 0, sizeof d);
  d.fixed = *base;
  for (int k = 0; k < L->naxes; ++k) {
    if (!(mask & (1u << k))) continue;
    int j = d.naxes++;
    global[j] = k;
    d.axis_id[j] = L->axes[k].id;
    d.shape[j] = 2;
    d.offset[j] = 2 * j;
    values[2 * j] = L->axes[k].lo;
    values[2 * j + 1] = L->axes[k].hi;
  }
  for (int64_t c = 0; c < ((int64_t)1 << d.naxes); ++c) {
    int64_t coord[QTM_MAX_AXES];
    for (int j = 0; j < d.naxes; ++j) coord[j] = (c >> j) & 1;
    qtm_params p;
    qtm_param_error e;
    qtm_grid_point(&d, values, coord, &p);
    if (qtm_params_validate(&p, &e) == QTM_OK) continue;
    char v[40], a[40], b[40];
    qtm_cfg_fmt_num(e.value, v, sizeof v);
    const char *pname = qtm_param_table[e.param].name;
    int k = L->src_axis[e.param], j = -1;
    for (int i = 0; i < d.naxes; ++i)
      if (global[i] == k) j = i;
    if (k < 0 || j < 0)
      return qtm_yaml_fail(&L->y, L->fixed_value[e.param] ? L->fixed_value[e.param] : L->root,
                           "fixed.%s: %s = %s is invalid: %s", pname, pname, v, e.rule);
    int id = L->axes[k].id;
    qtm_cfg_fmt_num(values[2 * j + coord[j]], a, sizeof a);
    if (id == QTM_AXIS_DeltaT) {
      qtm_cfg_fmt_num(p.TR, b, sizeof b);
      return qtm_yaml_fail(&L->y, L->axes[k].name_node,
                           "axis DeltaT: %s = %s is invalid: %s (TL = TR + DeltaT with TR = %s "
                           "and DeltaT = %s)",
                           pname, v, e.rule, b, a);
    }
    if (id == QTM_AXIS_gamma_ratio) {
      qtm_cfg_fmt_num(p.gammaR, b, sizeof b);
      return qtm_yaml_fail(&L->y, L->axes[k].name_node,
                           "axis gamma_ratio: %s = %s is invalid: %s (gammaL = gamma_ratio * "
                           "gammaR with gamma_ratio = %s and gammaR = %s)",
                           pname, v, e.rule, a, b);
    }
    return qtm_yaml_fail(&L->y, L->axes[k].name_node, "axis %s: %s = %s is invalid: %s%s",
                         qtm_axis_name(id), pname, v, e.rule, axis_meaning(id));
  }
  return QTM_OK;
}

/* Each parameter of a point is monotone in every axis value (TL = TR + DeltaT, gammaL =
 * gamma_ratio * gammaR is bilinear) and each validity rule is an interval, so the grid is valid
 * iff the 2^naxes corners of the axes' ranges are. The fixed entries and the direct axes are
 * checked alone first, so that a bad gammaR is blamed on gammaR, not on the gamma_ratio axis
 * whose product it spoils. */
qtm_status qtm_cfg_check_physics(qtm_cfg_loader *L) {
  qtm_params stand_in = L->fixed;           /* valid values where an axis sets the parameter */
  for (int p = 0; p < QTM_PARAM_COUNT; ++p) /* those without a default: T, rates, g */
    if (L->src_axis[p] >= 0 && isnan(qtm_params_get(&stand_in, (qtm_param_id)p)))
      qtm_cfg_set_param(&stand_in, p, 0.0);
  qtm_status rc = check_box(L, 0u, &stand_in);
  for (int k = 0; k < L->naxes && rc == QTM_OK; ++k)
    if (L->axes[k].id != QTM_AXIS_DeltaT && L->axes[k].id != QTM_AXIS_gamma_ratio)
      rc = check_box(L, 1u << k, &stand_in);
  if (rc == QTM_OK) rc = check_box(L, (1u << L->naxes) - 1u, &L->fixed);
  return rc;
}

/* ---- observables --------------------------------------------------------------------------- */

typedef enum { COND_EQ, COND_GE, COND_GT } cond_kind;

/* Whether some value of parameter p in the scan satisfies the condition; if not, why. */
static int possible(const qtm_cfg_loader *L, int p, cond_kind kind, double x, char *why,
                    size_t cap) {
  const char *name = qtm_param_table[p].name;
  static const char *const op[] = {"=", ">=", ">"};
  char xs[40], v[40];
  qtm_cfg_fmt_num(x, xs, sizeof xs);
  if (x > 0 && kind == COND_EQ && p != QTM_PARAM_N) snprintf(xs, sizeof xs, "+%.15g", x);
  int k = L->src_axis[p];
  if (k >= 0) {
    const qtm_cfg_axis *ax = &L->axes[k];
    for (int64_t i = 0; i < ax->count; ++i) {
      double y = ax->values[i];
      if (kind == COND_EQ ? y == x : kind == COND_GE ? y >= x : y > x) return 1;
    }
    snprintf(why, cap, "in this scan no value on the axis %s has %s %s %s", name, name, op[kind],
             xs);
    return 0;
  }
  double y = qtm_params_get(&L->fixed, (qtm_param_id)p);
  if (kind == COND_EQ ? y == x : kind == COND_GE ? y >= x : y > x) return 1;
  qtm_cfg_fmt_num(y, v, sizeof v);
  snprintf(why, cap, "in this scan %s is always %s%s", name, v,
           L->fixed_key[p] ? "" : " (the default)");
  return 0;
}

/* Some point with 0 < g < omega: g and omega are independent (no derived axis sets them). */
static int g_below_omega(const qtm_cfg_loader *L, char *why, size_t cap) {
  int kg = L->src_axis[QTM_PARAM_g], ko = L->src_axis[QTM_PARAM_omega];
  /* The smallest positive g against the largest omega decides. */
  double gmin = INFINITY;
  if (kg >= 0) {
    for (int64_t i = 0; i < L->axes[kg].count; ++i)
      if (L->axes[kg].values[i] > 0 && L->axes[kg].values[i] < gmin) gmin = L->axes[kg].values[i];
  } else if (L->fixed.g > 0) {
    gmin = L->fixed.g;
  }
  double wmax = ko >= 0 ? L->axes[ko].hi : L->fixed.omega;
  if (gmin < wmax) return 1;
  char a[40], b[40], c[40];
  qtm_cfg_fmt_num(kg >= 0 ? L->axes[kg].lo : L->fixed.g, a, sizeof a);
  qtm_cfg_fmt_num(kg >= 0 ? L->axes[kg].hi : L->fixed.g, b, sizeof b);
  qtm_cfg_fmt_num(wmax, c, sizeof c);
  if (kg >= 0)
    snprintf(why, cap,
             "in this scan no point has 0 < g < omega (g from %s to %s, omega at most %s)", a, b,
             c);
  else
    snprintf(why, cap, "in this scan no point has 0 < g < omega (g is always %s, omega at most %s)",
             a, c);
  return 0;
}

static int domain_applies(const qtm_cfg_loader *L, qtm_obs_domain dom, char *why, size_t cap) {
  switch (dom) {
  case QTM_DOMAIN_ANY: return 1;
  case QTM_DOMAIN_TWO_SITES: return possible(L, QTM_PARAM_N, COND_EQ, 2, why, cap);
  case QTM_DOMAIN_QUBIT_PAIR:
    return possible(L, QTM_PARAM_N, COND_EQ, 2, why, cap) &&
           possible(L, QTM_PARAM_eps_a, COND_EQ, -1, why, cap);
  case QTM_DOMAIN_GLOBAL:
    return possible(L, QTM_PARAM_N, COND_EQ, 2, why, cap) &&
           possible(L, QTM_PARAM_eps_a, COND_EQ, -1, why, cap) &&
           possible(L, QTM_PARAM_epsL, COND_EQ, 1, why, cap) &&
           possible(L, QTM_PARAM_epsR, COND_EQ, 1, why, cap) && g_below_omega(L, why, cap);
  case QTM_DOMAIN_EQ17:
    return possible(L, QTM_PARAM_N, COND_GE, 2, why, cap) &&
           possible(L, QTM_PARAM_eps_a, COND_EQ, -1, why, cap) &&
           possible(L, QTM_PARAM_epsL, COND_EQ, 1, why, cap) &&
           possible(L, QTM_PARAM_epsR, COND_EQ, 1, why, cap) &&
           possible(L, QTM_PARAM_g, COND_GT, 0, why, cap);
  }
  return 1;
}

static const char *domain_text(qtm_obs_domain dom) {
  switch (dom) {
  case QTM_DOMAIN_TWO_SITES: return "two subsystems (N = 2) (FORMULAS.md section 7)";
  case QTM_DOMAIN_QUBIT_PAIR: return "two qubits (N = 2, eps_a = -1) (FORMULAS.md section 7)";
  case QTM_DOMAIN_GLOBAL:
    return "two qubits between bosonic baths with 0 < g < omega (FORMULAS.md section 7)";
  case QTM_DOMAIN_EQ17:
    return "qubit chains (N >= 2, eps_a = -1) between bosonic baths with g > 0 (Eq. 17, "
           "FORMULAS.md section 3)";
  case QTM_DOMAIN_ANY: break;
  }
  return "every point";
}

qtm_status qtm_cfg_parse_observables(qtm_cfg_loader *L, struct fy_node *obs, qtm_config *cfg) {
  char found[128];
  if (!qtm_yaml_is_sequence(obs)) {
    qtm_yaml_describe(obs, found, sizeof found);
    return qtm_yaml_fail(&L->y, obs,
                         "observables must be a list of names such as [J, contrast] ([] for "
                         "none), found %s",
                         found);
  }
  struct fy_node *seen[QTM_OBS_COUNT] = {NULL};
  void *it = NULL;
  struct fy_node *item;
  while ((item = fy_node_sequence_iterate(obs, &it)) != NULL) {
    const char *name = NULL;
    qtm_status rc = qtm_yaml_string(&L->y, item, "each entry of observables", &name);
    if (rc != QTM_OK) return rc;
    int id = qtm_obs_find(name);
    if (id < 0) {
      char list[1024];
      size_t used = 0;
      list[0] = '\0';
      for (int j = 0; j < QTM_OBS_COUNT; ++j)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", j ? ", " : "",
                                 qtm_obs_table[j].name);
      return qtm_yaml_fail(&L->y, item, "unknown observable '%s'; valid observables: %s", name,
                           list);
    }
    if (seen[id]) {
      char there[512];
      qtm_yaml_place(&L->y, seen[id], there, sizeof there);
      return qtm_yaml_fail(&L->y, item, "observable %s is listed twice (first at %s)", name, there);
    }
    seen[id] = item;
    cfg->obs[cfg->nobs++] = id;
  }
  for (int j = 0; j < cfg->nobs; ++j) {
    char why[256];
    qtm_obs_domain dom = qtm_obs_table[cfg->obs[j]].domain;
    if (!domain_applies(L, dom, why, sizeof why))
      return qtm_yaml_fail(&L->y, seen[cfg->obs[j]], "%s is defined only for %s; %s",
                           qtm_obs_table[cfg->obs[j]].name, domain_text(dom), why);
  }
  return QTM_OK;
}
