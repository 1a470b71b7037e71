/* The analysis of a scan, reduced tile by tile from each point's float64 inputs: NDTC masks,
 * counts and onsets along TL, rectification maxima over the optimised axes, top-K tables of
 * the contrast, Pareto fronts of (contrast, |J|), and the local-vs-global audit; refinement of
 * onsets and maxima beyond the grid at the end. Every reduction keeps, among equal values, the
 * lowest flat index of the grid, so results depend on neither the tiling nor the order of the
 * tiles. */
#include "qtm/analysis.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qtm/observables.h"
#include "qtm/physics.h"
#include "analysis_impl.h"

/* Table columns: the parameters, the regime's values, then the refined ones. */
static const char *const param_fields[] = {"omega", "TL", "TR", "gammaL", "gammaR",
                                           "g", "epsL", "epsR", "eps_a", "N"};
static const char *const value_fields[] = {"contrast", "ratio", "J", "J_rev"};
static const char *const refined_fields[] = {
    "refined_omega", "refined_TL", "refined_TR", "refined_gammaL", "refined_gammaR",
    "refined_g", "refined_epsL", "refined_epsR", "refined_eps_a", "refined_N",
    "refined_contrast", "refined_ratio", "refined_J", "refined_J_rev"};

/* ---- Where the global forms apply ------------------------------------------------------- */

/* 1 when value v is taken by parameter `param` somewhere in the grid. */
static int takes_value(const qtm_grid *g, int param, double v) {
  for (int k = 0; k < g->desc.naxes; ++k)
    if (g->desc.axis_id[k] == param) {
      for (int64_t i = 0; i < g->desc.shape[k]; ++i)
        if (g->values[g->desc.offset[k] + i] == v) return 1;
      return 0;
    }
  return qtm_params_get(&g->desc.fixed, (qtm_param_id)param) == v;
}

static void param_range(const qtm_grid *g, int param, double *lo, double *hi) {
  for (int k = 0; k < g->desc.naxes; ++k)
    if (g->desc.axis_id[k] == param) {
      const double *v = g->values + g->desc.offset[k];
      *lo = fmin(v[0], v[g->desc.shape[k] - 1]);
      *hi = fmax(v[0], v[g->desc.shape[k] - 1]);
      return;
    }
  *lo = *hi = qtm_params_get(&g->desc.fixed, (qtm_param_id)param);
}

/* Two qubits between bosonic baths with 0 < g < omega somewhere in the grid. */
static int global_somewhere(const qtm_grid *g) {
  if (!takes_value(g, QTM_PARAM_N, 2) || !takes_value(g, QTM_PARAM_eps_a, -1) ||
      !takes_value(g, QTM_PARAM_epsL, 1) || !takes_value(g, QTM_PARAM_epsR, 1))
    return 0;
  double glo, ghi, wlo, whi;
  param_range(g, QTM_PARAM_g, &glo, &ghi);
  param_range(g, QTM_PARAM_omega, &wlo, &whi);
  return ghi > 0 && glo < whi;
}

/* ---- Setup --------------------------------------------------------------------------------- */

static void *zalloc(size_t n, size_t size, int *failed) {
  void *p = calloc(n ? n : 1, size);
  if (!p) *failed = 1;
  return p;
}

static const char *axis_name_at(const qtm_analysis *a, int k) {
  return qtm_axis_name(a->g->desc.axis_id[k]);
}

static int alloc_regime(qtm_analysis *a, regime_state *s) {
  int failed = 0;
  if (a->line_axis >= 0) {
    s->onset_pos = zalloc((size_t)a->nlines, sizeof *s->onset_pos, &failed);
    s->onset = zalloc((size_t)a->nlines, sizeof(double), &failed);
    s->eq17 = zalloc((size_t)a->nlines, sizeof(double), &failed);
    s->onset_minus_eq17 = zalloc((size_t)a->nlines, sizeof(double), &failed);
    for (int64_t i = 0; !failed && i < a->nlines; ++i) s->onset_pos[i] = NONE;
  }
  if (a->spec.noptimize > 0) {
    size_t n = (size_t)a->nouter;
    s->best_c = zalloc(n, sizeof(double), &failed);
    s->best_r = zalloc(n, sizeof(double), &failed);
    s->arg_c = zalloc(n, sizeof(int64_t), &failed);
    s->arg_r = zalloc(n, sizeof(int64_t), &failed);
    s->max_c = zalloc(n, sizeof(double), &failed);
    s->max_r = zalloc(n, sizeof(double), &failed);
    for (int j = 0; j < a->spec.noptimize; ++j) {
      s->argmax_c[j] = zalloc(n, sizeof(double), &failed);
      s->argmax_r[j] = zalloc(n, sizeof(double), &failed);
    }
    for (size_t i = 0; !failed && i < n; ++i) {
      s->best_c[i] = s->best_r[i] = -INFINITY;
      s->arg_c[i] = s->arg_r[i] = NONE;
    }
  }
  if (a->spec.top_k > 0) s->top = zalloc((size_t)a->spec.top_k, sizeof *s->top, &failed);
  s->front_cap = 64;
  s->front = zalloc((size_t)s->front_cap, sizeof *s->front, &failed);
  return failed;
}

static void free_regime(regime_state *s) {
  free(s->onset_pos);
  free(s->onset);
  free(s->eq17);
  free(s->onset_minus_eq17);
  free(s->best_c);
  free(s->best_r);
  free(s->arg_c);
  free(s->arg_r);
  free(s->max_c);
  free(s->max_r);
  for (int j = 0; j < QTM_MAX_AXES; ++j) {
    free(s->argmax_c[j]);
    free(s->argmax_r[j]);
  }
  free(s->top);
  free(s->top_rows);
  free(s->front);
  free(s->front_rows);
}

void qtm_analysis_free(qtm_analysis *a) {
  if (!a) return;
  for (int r = 0; r < NREGIMES; ++r) free_regime(&a->r[r]);
  qtm_analysis_state_release(a);
  qtm_analysis_parts_free(a);
  free(a);
}

qtm_status qtm_analysis_create(const qtm_analysis_spec *spec, const qtm_grid *g,
                               qtm_analysis **out, char *err, size_t errcap) {
  *out = NULL;
  qtm_analysis *a = calloc(1, sizeof *a);
  if (!a) {
    snprintf(err, errcap, "out of memory for the analysis");
    return QTM_ERR_NOMEM;
  }
  a->spec = *spec;
  a->g = g;
  a->threads = 1;
  a->naxes = g->desc.naxes;
  int64_t s = 1;
  for (int k = a->naxes - 1; k >= 0; --k) {
    a->stride[k] = s;
    s *= g->desc.shape[k];
  }
  a->has_global = global_somewhere(g);

  static const int local_inputs[] = {QTM_OBS_J, QTM_OBS_J_rev, QTM_OBS_contrast, QTM_OBS_ratio,
                                     QTM_OBS_dJ_dTL};
  static const int global_inputs[] = {QTM_OBS_J_global, QTM_OBS_J_global_rev,
                                      QTM_OBS_contrast_global, QTM_OBS_dJ_global_dTL};
  for (int i = 0; i < 5; ++i) a->inputs[a->ninputs++] = local_inputs[i];
  if (a->has_global)
    for (int i = 0; i < 4; ++i) a->inputs[a->ninputs++] = global_inputs[i];

  if (!spec->no_point_maps) {
    a->dense[a->ndense++] = (qtm_dense_map){"analysis/ndtc", QTM_DTYPE_U8, "1",
                                            "1 where TL > TR and dJ/dTL < 0 (NDTC), else 0"};
    if (a->has_global) {
      a->dense[a->ndense++] = (qtm_dense_map){
          "analysis/ndtc_global", QTM_DTYPE_U8, "1",
          "1 where TL > TR and dJ_global/dTL < 0, 0 elsewhere, 255 where the global forms do "
          "not apply"};
      a->dense[a->ndense++] = (qtm_dense_map){
          "analysis/regime_disagreement", QTM_DTYPE_U8, "1",
          "local vs global: bit 0 the sign of the current differs, bit 1 the favoured direction "
          "differs; 255 where the global forms do not apply"};
      a->dense[a->ndense++] = (qtm_dense_map){"analysis/J_global_over_J", QTM_DTYPE_F64, "1",
                                              "ratio J_global / J of the two pictures' currents"};
    }
  }

  a->line_axis = -1;
  for (int k = 0; k < a->naxes; ++k)
    if (g->desc.axis_id[k] == QTM_PARAM_TL || g->desc.axis_id[k] == QTM_AXIS_DeltaT)
      a->line_axis = k;
  a->nlines = 1;
  if (a->line_axis >= 0) {
    const double *v = g->values + g->desc.offset[a->line_axis];
    a->line_increasing = g->desc.shape[a->line_axis] < 2 || v[1] > v[0];
    for (int k = a->naxes - 1; k >= 0; --k) {
      if (k == a->line_axis) continue;
      a->line_stride[k] = a->nlines;
      a->nlines *= g->desc.shape[k];
    }
  }
  a->nouter = 1;
  for (int j = 0; j < spec->noptimize; ++j) a->is_optimized[spec->optimize[j]] = 1;
  for (int k = a->naxes - 1; k >= 0; --k) {
    if (a->is_optimized[k]) continue;
    a->outer_stride[k] = a->nouter;
    a->nouter *= g->desc.shape[k];
  }
  if ((a->line_axis >= 0 && a->nlines > MAX_REDUCED_ENTRIES) ||
      (spec->noptimize > 0 && a->nouter > MAX_REDUCED_ENTRIES)) {
    snprintf(err, errcap,
             "analysis: the onset or maxima maps would hold more than 2^28 values (%lld lines, "
             "%lld points outside the optimised axes); optimise over more axes or scan fewer "
             "points",
             (long long)a->nlines, (long long)a->nouter);
    qtm_analysis_free(a);
    return QTM_ERR_INVALID_ARG;
  }
  int failed = 0;
  for (int r = 0; r < (a->has_global ? 2 : 1); ++r) failed |= alloc_regime(a, &a->r[r]);
  if (failed) {
    snprintf(err, errcap, "out of memory for the analysis");
    qtm_analysis_free(a);
    return QTM_ERR_NOMEM;
  }
  *out = a;
  return QTM_OK;
}

int qtm_analysis_inputs(const qtm_analysis *a, int *obs) {
  memcpy(obs, a->inputs, (size_t)a->ninputs * sizeof *obs);
  return a->ninputs;
}

int qtm_analysis_dense_maps(const qtm_analysis *a, const qtm_dense_map **maps) {
  *maps = a->dense;
  return a->ndense;
}

/* ---- Finishing: onsets, refinement, result tables ------------------------------------------ */

static void coords_of(const qtm_analysis *a, int64_t flat, int64_t *coord) {
  for (int k = 0; k < a->naxes; ++k) {
    coord[k] = flat / a->stride[k];
    flat %= a->stride[k];
  }
}

/* dJ/dTL (local or global) at the line's parameters with the line axis at value x. */
static double line_derivative(const qtm_analysis *a, int regime, qtm_params p, double x) {
  if (a->g->desc.axis_id[a->line_axis] == QTM_AXIS_DeltaT) p.TL = p.TR + x;
  else p.TL = x;
  qtm_obs o;
  qtm_eval_closed_point(&p, &o);
  return o.v[regime ? QTM_OBS_dJ_global_dTL : QTM_OBS_dJ_dTL];
}

/* The TL at which dJ/dTL turns negative along increasing TL on line `line`, from the first NDTC
 * grid position: refined by bisection on the exact derivative to 1e-12 relative when the
 * previous grid point has dJ/dTL >= 0; the line's first TL when NDTC already holds there; TR
 * when the previous point has dJ/dTL < 0 but is not NDTC only because TL <= TR there. */
static double refine_onset(const qtm_analysis *a, int regime, int64_t line, int64_t pos) {
  const qtm_grid_desc *d = &a->g->desc;
  int k = a->line_axis;
  int64_t n = d->shape[k];
  int64_t coord[QTM_MAX_AXES];
  int64_t rest = line;
  for (int j = 0; j < a->naxes; ++j) {
    if (j == k) continue;
    coord[j] = rest / a->line_stride[j];
    rest %= a->line_stride[j];
  }
  const double *v = a->g->values + d->offset[k];
  int64_t idx = a->line_increasing ? pos : n - 1 - pos;
  coord[k] = idx;
  qtm_params p;
  qtm_grid_point(d, a->g->values, coord, &p);
  if (pos == 0) return p.TL;
  int64_t prev = a->line_increasing ? idx - 1 : idx + 1;
  double lo = v[prev], hi = v[idx];
  double f_lo = line_derivative(a, regime, p, lo);
  if (!(f_lo >= 0)) return p.TR;
  for (int it = 0; it < 200 && fabs(hi - lo) > 1e-12 * fmax(fabs(lo), fabs(hi)); ++it) {
    double mid = 0.5 * (lo + hi);
    if (line_derivative(a, regime, p, mid) >= 0) lo = mid; else hi = mid;
  }
  double x = 0.5 * (lo + hi);
  return d->axis_id[k] == QTM_AXIS_DeltaT ? p.TR + x : x;
}

/* Parameters at continuous axis values x[k] (as qtm_grid_point for one-value axes). */
static void params_at(const qtm_analysis *a, const double *x, qtm_params *p) {
  qtm_grid_desc one = a->g->desc;
  int64_t zero[QTM_MAX_AXES] = {0};
  for (int k = 0; k < a->naxes; ++k) {
    one.shape[k] = 1;
    one.offset[k] = k;
  }
  qtm_grid_point(&one, x, zero, p);
}

/* The refined objective: the regime's contrast where the current constraint holds. */
static double objective(const qtm_analysis *a, int regime, const double *x, qtm_obs *o) {
  qtm_params p;
  params_at(a, x, &p);
  qtm_param_error perr;
  if (qtm_params_validate(&p, &perr) != QTM_OK) return -INFINITY;
  qtm_eval_closed_point(&p, o);
  double J = o->v[regime ? QTM_OBS_J_global : QTM_OBS_J];
  double Jr = o->v[regime ? QTM_OBS_J_global_rev : QTM_OBS_J_rev];
  double C = o->v[regime ? QTM_OBS_contrast_global : QTM_OBS_contrast];
  if (isnan(C) || fmax(fabs(J), fabs(Jr)) < a->spec.min_current) return -INFINITY;
  return C;
}

static int continuous_axis(int id) {
  return id != QTM_PARAM_epsL && id != QTM_PARAM_epsR && id != QTM_PARAM_eps_a &&
         id != QTM_PARAM_N;
}

/* Coordinate-wise golden-section search over the continuous axes, each bounded by the grid
 * point's neighbours; keeps the best point seen, so it never ends worse than the grid's. */
static void refine_max(const qtm_analysis *a, int regime, const int64_t *coord, double *x) {
  const qtm_grid_desc *d = &a->g->desc;
  double lo[QTM_MAX_AXES], hi[QTM_MAX_AXES];
  for (int k = 0; k < a->naxes; ++k) {
    const double *v = a->g->values + d->offset[k];
    int64_t i = coord[k], n = d->shape[k];
    x[k] = v[i];
    double l = v[i > 0 ? i - 1 : i], h = v[i + 1 < n ? i + 1 : i];
    lo[k] = fmin(l, h);
    hi[k] = fmax(l, h);
  }
  qtm_obs o;
  double best = objective(a, regime, x, &o);
  const double r = 0.6180339887498949;
  for (int sweep = 0; sweep < 4; ++sweep)
    for (int k = 0; k < a->naxes; ++k) {
      if (!continuous_axis(d->axis_id[k]) || !(hi[k] > lo[k])) continue;
      double y[QTM_MAX_AXES];
      memcpy(y, x, sizeof y);
      double aa = lo[k], bb = hi[k];
      double c = bb - r * (bb - aa), e = aa + r * (bb - aa);
      y[k] = c;
      double fc = objective(a, regime, y, &o);
      y[k] = e;
      double fe = objective(a, regime, y, &o);
      for (int it = 0; it < 80 && bb - aa > 1e-13 * fmax(fabs(aa), fabs(bb)); ++it) {
        if (fc >= fe) {
          bb = e, e = c, fe = fc, c = bb - r * (bb - aa);
          y[k] = c;
          fc = objective(a, regime, y, &o);
        } else {
          aa = c, c = e, fc = fe, e = aa + r * (bb - aa);
          y[k] = e;
          fe = objective(a, regime, y, &o);
        }
      }
      y[k] = fc >= fe ? c : e;
      double f = fmax(fc, fe);
      if (f > best) {
        best = f;
        x[k] = y[k];
      }
    }
}

/* One table row: the point's parameters and the regime's values. */
static void fill_row(int regime, const qtm_params *p, double *row) {
  for (int i = 0; i < NPARAM_FIELDS; ++i) row[i] = qtm_params_get(p, (qtm_param_id)i);
  qtm_obs o;
  qtm_eval_closed_point(p, &o);
  double J = o.v[regime ? QTM_OBS_J_global : QTM_OBS_J];
  double Jr = o.v[regime ? QTM_OBS_J_global_rev : QTM_OBS_J_rev];
  row[NPARAM_FIELDS + 0] = o.v[regime ? QTM_OBS_contrast_global : QTM_OBS_contrast];
  row[NPARAM_FIELDS + 1] = qtm_ratio(J, Jr);
  row[NPARAM_FIELDS + 2] = J;
  row[NPARAM_FIELDS + 3] = Jr;
}

static void add_reduced(qtm_analysis *a, const char *name, int with_line, const double *data,
                        const char *units, const char *long_name) {
  qtm_reduced_map *m = &a->reduced[a->nreduced];
  /* names are an observable and axis names, far below NAME_CAP */
  snprintf(a->reduced_names[a->nreduced], NAME_CAP, "analysis/%.*s", NAME_CAP - 10, name);
  m->name = a->reduced_names[a->nreduced];
  m->nkept = 0;
  for (int k = 0; k < a->naxes; ++k)
    if (with_line ? k != a->line_axis : !a->is_optimized[k]) m->kept[m->nkept++] = k;
  m->dtype = QTM_DTYPE_F64;
  m->data = data;
  m->units = units;
  m->long_name = long_name;
  a->nreduced++;
}

static qtm_status finish_regime(qtm_analysis *a, int regime) {
  regime_state *s = &a->r[regime];
  const char *sfx = regime ? "_global" : "";
  char name[NAME_CAP];
  int ncols = NPARAM_FIELDS + NVALUE_FIELDS + (a->spec.refine ? NREFINED_FIELDS : 0);
  int64_t coord[QTM_MAX_AXES];

  if (a->line_axis >= 0) {
#pragma omp parallel for schedule(dynamic, 64)
    for (int64_t i = 0; i < a->nlines; ++i) {
      s->onset[i] = s->onset_pos[i] == NONE ? NAN : refine_onset(a, regime, i, s->onset_pos[i]);
      int64_t c[QTM_MAX_AXES] = {0};
      int64_t rest = i;
      for (int j = 0; j < a->naxes; ++j) {
        if (j == a->line_axis) continue;
        c[j] = rest / a->line_stride[j];
        rest %= a->line_stride[j];
      }
      qtm_params p;
      qtm_grid_point(&a->g->desc, a->g->values, c, &p);
      s->eq17[i] = qtm_ndtc_threshold(&p);
      s->onset_minus_eq17[i] = s->onset[i] - s->eq17[i];
    }
    snprintf(name, sizeof name, "ndtc_onset%s", sfx);
    add_reduced(a, name, 1, s->onset, "E",
                regime ? "TL where dJ_global/dTL first turns negative along increasing TL"
                       : "TL where dJ/dTL first turns negative along increasing TL (NDTC onset)");
    if (!regime) {
      add_reduced(a, "ndtc_threshold_eq17", 1, s->eq17, "E",
                  "Eq. 17 NDTC threshold T* (qubits between bosonic baths, TR -> 0)");
      add_reduced(a, "ndtc_onset_minus_eq17", 1, s->onset_minus_eq17, "E",
                  "NDTC onset minus the Eq. 17 threshold");
    }
  }

  if (a->spec.noptimize > 0) {
    for (int64_t i = 0; i < a->nouter; ++i) {
      int have_c = s->arg_c[i] != NONE, have_r = s->arg_r[i] != NONE;
      s->max_c[i] = have_c ? s->best_c[i] : NAN;
      s->max_r[i] = have_r ? s->best_r[i] : NAN;
      int64_t cc[QTM_MAX_AXES], cr[QTM_MAX_AXES];
      if (have_c) coords_of(a, s->arg_c[i], cc);
      if (have_r) coords_of(a, s->arg_r[i], cr);
      for (int j = 0; j < a->spec.noptimize; ++j) {
        int k = a->spec.optimize[j];
        const double *v = a->g->values + a->g->desc.offset[k];
        s->argmax_c[j][i] = have_c ? v[cc[k]] : NAN;
        s->argmax_r[j][i] = have_r ? v[cr[k]] : NAN;
      }
    }
    snprintf(name, sizeof name, "max_contrast%s", sfx);
    add_reduced(a, name, 0, s->max_c, "1", "largest contrast over the optimised axes");
    for (int j = 0; j < a->spec.noptimize; ++j) {
      int k = a->spec.optimize[j];
      snprintf(name, sizeof name, "argmax_contrast%s_%s", sfx, axis_name_at(a, k));
      add_reduced(a, name, 0, s->argmax_c[j], qtm_axis_unit(a->g->desc.axis_id[k]),
                  "coordinate of the largest contrast along this optimised axis");
    }
    snprintf(name, sizeof name, "max_ratio%s", sfx);
    add_reduced(a, name, 0, s->max_r, "1", "largest rectification ratio over the optimised axes");
    for (int j = 0; j < a->spec.noptimize; ++j) {
      int k = a->spec.optimize[j];
      snprintf(name, sizeof name, "argmax_ratio%s_%s", sfx, axis_name_at(a, k));
      add_reduced(a, name, 0, s->argmax_r[j], qtm_axis_unit(a->g->desc.axis_id[k]),
                  "coordinate of the largest ratio along this optimised axis");
    }
  }

  if (a->spec.top_k > 0) {
    s->top_rows = calloc((size_t)(s->ntop ? s->ntop : 1) * (size_t)ncols, sizeof(double));
    if (!s->top_rows) return QTM_ERR_NOMEM;
    for (int i = 0; i < s->ntop; ++i) {
      double *row = s->top_rows + (size_t)i * (size_t)ncols;
      coords_of(a, s->top[i].index, coord);
      qtm_params p;
      qtm_grid_point(&a->g->desc, a->g->values, coord, &p);
      fill_row(regime, &p, row);
      if (a->spec.refine) {
        double x[QTM_MAX_AXES];
        refine_max(a, regime, coord, x);
        qtm_params q;
        params_at(a, x, &q);
        fill_row(regime, &q, row + NPARAM_FIELDS + NVALUE_FIELDS);
      }
    }
    qtm_table *t = &a->tables[a->ntables++];
    t->name = regime ? "analysis/top_k_global" : "analysis/top_k";
    t->nfields = ncols;
    t->fields = a->fields;
    t->nrows = s->ntop;
    t->rows = s->top_rows;
    t->long_name = regime ? "the points of highest global contrast, best first"
                          : "the points of highest contrast, best first";
  }

  /* The front, sorted by current (ascending |J|). */
  s->front_rows = calloc((size_t)(s->nfront ? s->nfront : 1) * (NPARAM_FIELDS + NVALUE_FIELDS),
                         sizeof(double));
  if (!s->front_rows) return QTM_ERR_NOMEM;
  for (int64_t i = 0; i < s->nfront; ++i) {
    const front_point *f = &s->front[s->nfront - 1 - i];
    coords_of(a, f->index, coord);
    qtm_params p;
    qtm_grid_point(&a->g->desc, a->g->values, coord, &p);
    fill_row(regime, &p, s->front_rows + (size_t)i * (NPARAM_FIELDS + NVALUE_FIELDS));
  }
  qtm_table *t = &a->tables[a->ntables++];
  t->name = regime ? "analysis/pareto_global" : "analysis/pareto";
  t->nfields = NPARAM_FIELDS + NVALUE_FIELDS;
  t->fields = a->fields;
  t->nrows = s->nfront;
  t->rows = s->front_rows;
  t->long_name = regime ? "Pareto front of (global contrast, |J_global|), by increasing current"
                        : "Pareto front of (contrast, |J|), non-dominated points by increasing "
                          "current";

  /* on the regime's NDTC mask; without point maps on the group, the global's names suffixed */
  qtm_scalar_attr *at = &a->attrs[a->nattrs];
  const int maps = !a->spec.no_point_maps;
  const char *obj = !maps ? "analysis" : regime ? "analysis/ndtc_global" : "analysis/ndtc";
  const int g = regime && !maps;
  at[0] = (qtm_scalar_attr){obj, g ? "ndtc_count_global" : "ndtc_count", (double)s->ndtc_count};
  at[1] = (qtm_scalar_attr){obj, g ? "ndtc_fraction_global" : "ndtc_fraction",
                            s->applicable_count ? (double)s->ndtc_count / (double)s->applicable_count
                                                : NAN};
  at[2] = (qtm_scalar_attr){obj, g ? "points_considered_global" : "points_considered",
                            (double)s->applicable_count};
  a->nattrs += 3;
  return QTM_OK;
}

qtm_status qtm_analysis_finish(qtm_analysis *a, char *err, size_t errcap) {
  int n = 0;
  for (int i = 0; i < NPARAM_FIELDS; ++i) a->fields[n++] = param_fields[i];
  for (int i = 0; i < NVALUE_FIELDS; ++i) a->fields[n++] = value_fields[i];
  for (int i = 0; i < NREFINED_FIELDS; ++i) a->fields[n++] = refined_fields[i];
  for (int r = 0; r < (a->has_global ? 2 : 1); ++r) {
    qtm_status st = finish_regime(a, r);
    if (st != QTM_OK) {
      snprintf(err, errcap, "out of memory finishing the analysis");
      return st;
    }
  }
  return QTM_OK;
}

int qtm_analysis_reduced_maps(const qtm_analysis *a, const qtm_reduced_map **maps) {
  *maps = a->reduced;
  return a->nreduced;
}

int qtm_analysis_tables(const qtm_analysis *a, const qtm_table **tables) {
  *tables = a->tables;
  return a->ntables;
}

int qtm_analysis_attrs(const qtm_analysis *a, const qtm_scalar_attr **attrs) {
  *attrs = a->attrs;
  return a->nattrs;
}
