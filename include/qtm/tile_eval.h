/* Evaluation of one point of a tile into the tile's output arrays: the one per-point routine
 * of a scan, called by the CPU loop and by the CUDA kernel alike (QTM_FN). */
#ifndef QTM_TILE_EVAL_H
#define QTM_TILE_EVAL_H

#include "qtm/grid.h"
#include "qtm/observables.h"
#include "qtm/physics.h"

/* Element types of stored arrays. Backends produce F32 or F64; U8 is for masks the analysis
 * derives on the host. */
typedef enum { QTM_DTYPE_F32, QTM_DTYPE_F64, QTM_DTYPE_U8 } qtm_dtype;

/* Bytes per element. */
QTM_FN size_t qtm_dtype_size(qtm_dtype t) {
  return t == QTM_DTYPE_F32 ? sizeof(float) : t == QTM_DTYPE_U8 ? 1 : sizeof(double);
}

/* The observables a scan stores and where a tile's values go: data[j] holds tile.npoints
 * values of observable obs[j], row-major in the tile's shape, as float or double (evaluation
 * is always double). Pointers are host or device memory, whichever the executor writes. */
typedef struct qtm_tile_out {
  qtm_dtype dtype;
  int nobs;
  int obs[QTM_OBS_COUNT];
  void *data[QTM_OBS_COUNT];
} qtm_tile_out;

/* The observables a tile stores, as the QTM_OBS_BIT set qtm_eval_closed_select takes. */
QTM_FN unsigned qtm_tile_out_need(const qtm_tile_out *out) {
  unsigned need = 0;
  for (int j = 0; j < out->nobs; ++j) need |= QTM_OBS_BIT(out->obs[j]);
  return need;
}

/* ---- Per-tile tables of the transcendental factors ----------------------------------------- */

/* A point's libm calls depend on (omega, TL, TR) (qtm_local_factors) or (omega, g, TL, TR)
 * (qtm_global_factors) only, and those on a few axes: a tile evaluates them once per distinct
 * coordinate combination of those axes instead of once per point (the TL x TR x gamma_ratio x g
 * benchmark tile: 300 local and 6,000 global entries for 240,000 points). The divisions that
 * depend on these and the statistics only (occupation gaps, u, coth; qtm_local_stats and the
 * stat parts of qtm_global_factors) are tabulated with them. The entry of the
 * point with tile coordinates c (c[k] = coord[k] - start[k]) is sum_k c[k] * stride[k], with
 * stride 0 along the axes the factor does not depend on. The rate factors (qtm_rate_factors)
 * are tabulated over every axis but the temperatures'. A NULL table means per point. */
typedef struct qtm_tile_tables {
  int64_t local_stride[QTM_MAX_AXES];
  int64_t stats_stride[QTM_MAX_AXES];
  int64_t global_stride[QTM_MAX_AXES];
  int64_t rates_stride[QTM_MAX_AXES];
  int64_t nlocal, nstats, nglobal, nrates; /* entries */
  qtm_local_factors *local;
  qtm_local_stats *stats;
  qtm_global_factors *global;
  qtm_rate_factors *rates;
} qtm_tile_tables;

/* The axes (bit k for axis k) that a point's (omega, TL, TR), (omega, TL, TR, epsL, epsR,
 * eps_a) resp. (omega, g, TL, TR) depend on, read off qtm_grid_point's rules: a later axis of
 * the same parameter overrides an earlier one, T sets TL and TR, DeltaT makes TL depend on TR's
 * axis as well. rates_axes: every axis but TL, TR, T and DeltaT (which set temperatures only),
 * the ones everything but the temperatures may depend on. */
QTM_FN void qtm_factor_axes(const qtm_grid_desc *d, unsigned *local_axes, unsigned *stats_axes,
                            unsigned *global_axes, unsigned *rates_axes) {
  unsigned tl = 0, tr = 0, om = 0, g = 0, el = 0, er = 0, ea = 0;
  for (int k = 0; k < d->naxes; ++k) {
    int id = d->axis_id[k];
    if (id == QTM_AXIS_T) tl = tr = 1u << k;
    else if (id == QTM_PARAM_TL) tl = 1u << k;
    else if (id == QTM_PARAM_TR) tr = 1u << k;
    else if (id == QTM_PARAM_omega) om = 1u << k;
    else if (id == QTM_PARAM_g) g = 1u << k;
    else if (id == QTM_PARAM_epsL) el = 1u << k;
    else if (id == QTM_PARAM_epsR) er = 1u << k;
    else if (id == QTM_PARAM_eps_a) ea = 1u << k;
  }
  unsigned rates = 0;
  for (int k = 0; k < d->naxes; ++k) {
    int id = d->axis_id[k];
    if (id == QTM_AXIS_DeltaT) tl = tr | 1u << k;
    if (id != QTM_PARAM_TL && id != QTM_PARAM_TR && id != QTM_AXIS_T && id != QTM_AXIS_DeltaT)
      rates |= 1u << k;
  }
  *rates_axes = rates;
  *local_axes = om | tl | tr;
  *stats_axes = om | tl | tr | el | er | ea;
  *global_axes = om | tl | tr | g;
}

/* Row-major strides over the axes in `axes` within tile t (0 elsewhere); returns the entries. */
QTM_FN int64_t qtm_tile_table_layout(const qtm_tile *t, int naxes, unsigned axes,
                                     int64_t *stride) {
  int64_t n = 1;
  for (int k = naxes - 1; k >= 0; --k) {
    stride[k] = (axes >> k & 1u) ? n : 0;
    if (axes >> k & 1u) n *= t->count[k];
  }
  return n;
}

/* Stores point l's planned observables from o. */
QTM_FN void qtm_tile_store_point(const qtm_obs *o, const qtm_tile_out *out, int64_t l) {
  for (int j = 0; j < out->nobs; ++j) {
    double v = o->v[out->obs[j]];
    if (out->dtype == QTM_DTYPE_F32)
      ((float *)out->data[j])[l] = (float)v;
    else
      ((double *)out->data[j])[l] = v;
  }
}

/* A point's entry in each of a tile's tables (meaningful for the tables that exist). */
typedef struct qtm_table_pos {
  int64_t local, stats, global, rates;
} qtm_table_pos;

/* The entries of the point with grid coordinates coord in tile t. */
QTM_FN qtm_table_pos qtm_table_pos_at(const qtm_tile_tables *tab, const qtm_tile *t, int naxes,
                                      const int64_t *coord) {
  qtm_table_pos e = {0, 0, 0, 0};
  for (int k = 0; k < naxes; ++k) {
    int64_t c = coord[k] - t->start[k];
    e.local += c * tab->local_stride[k];
    e.stats += c * tab->stats_stride[k];
    e.global += c * tab->global_stride[k];
    e.rates += c * tab->rates_stride[k];
  }
  return e;
}

/* The entries after qtm_tile_step moved the point on, carrying into axis k. */
QTM_FN void qtm_table_pos_step(const qtm_tile_tables *tab, const qtm_tile *t, int naxes, int k,
                               qtm_table_pos *e) {
  e->local += qtm_tile_step_delta(t, naxes, tab->local_stride, k);
  e->stats += qtm_tile_step_delta(t, naxes, tab->stats_stride, k);
  e->global += qtm_tile_step_delta(t, naxes, tab->global_stride, k);
  e->rates += qtm_tile_step_delta(t, naxes, tab->rates_stride, k);
}

/* qtm_eval_closed_factors of p with the factors at entries e of tab's tables (NULL tab or
 * table: computed here). */
QTM_FN void qtm_eval_closed_tab(const qtm_params *p, unsigned need, const qtm_tile_tables *tab,
                                qtm_table_pos e, qtm_obs *o) {
  if (!tab) {
    qtm_eval_closed_factors(p, need, NULL, NULL, NULL, NULL, o);
    return;
  }
  qtm_eval_closed_factors(p, need, tab->local ? tab->local + e.local : NULL,
                          tab->stats ? tab->stats + e.stats : NULL,
                          tab->global ? tab->global + e.global : NULL,
                          tab->rates ? tab->rates + e.rates : NULL, o);
}

/* Point l of the tile, evaluating only `need` = qtm_tile_out_need(out), which a loop over a
 * tile computes once: a scan of a few observables then costs what those cost, not all 21.
 * tab: the tile's factor tables built for (at least) `need`, or NULL. */
QTM_FN void qtm_tile_eval_point_tab(const qtm_grid_desc *d, const double *values,
                                    const qtm_tile *t, int64_t l, const qtm_tile_out *out,
                                    unsigned need, const qtm_tile_tables *tab) {
  int64_t coord[QTM_MAX_AXES];
  qtm_params p;
  qtm_obs o;
  qtm_table_pos e = {0, 0, 0, 0};
  qtm_tile_coord(t, d->naxes, l, coord);
  qtm_grid_point(d, values, coord, &p);
  if (tab) e = qtm_table_pos_at(tab, t, d->naxes, coord);
  qtm_eval_closed_tab(&p, need, tab, e, &o);
  qtm_tile_store_point(&o, out, l);
}

/* Points l0 .. l1-1 of the tile, as qtm_tile_eval_point_tab evaluates each (the same values,
 * bit for bit), walking from one to the next: the coordinates, the table entries and the
 * parameters of the axes that moved are updated, not found again by divisions from l (a CPU
 * thread's run of points; the GPU gives each point a thread of its own). tab: laid out by
 * qtm_tile_tables_init for this tile (any of its tables may be NULL). */
QTM_FN void qtm_tile_eval_range(const qtm_grid_desc *d, const double *values, const qtm_tile *t,
                                int64_t l0, int64_t l1, const qtm_tile_out *out, unsigned need,
                                const qtm_tile_tables *tab) {
  if (l0 >= l1) return;
  const int n = d->naxes;
  int64_t coord[QTM_MAX_AXES];
  qtm_params p;
  qtm_obs o;
  const int derived_last = qtm_grid_derived_last(d);
  qtm_tile_coord(t, n, l0, coord);
  qtm_grid_point(d, values, coord, &p);
  qtm_table_pos e = qtm_table_pos_at(tab, t, n, coord);
  for (int64_t l = l0;;) {
    qtm_eval_closed_tab(&p, need, tab, e, &o);
    qtm_tile_store_point(&o, out, l);
    if (++l == l1) break;
    int k = qtm_tile_step(t, n, coord);
    qtm_table_pos_step(tab, t, n, k, &e);
    qtm_grid_point_step(d, values, coord, k, derived_last, &p);
  }
}

/* Point l of the tile with every factor computed for this point alone (the CUDA kernel's
 * thread). */
QTM_FN void qtm_tile_eval_point(const qtm_grid_desc *d, const double *values, const qtm_tile *t,
                                int64_t l, const qtm_tile_out *out) {
  qtm_tile_eval_point_tab(d, values, t, l, out, qtm_tile_out_need(out), NULL);
}

#ifdef __cplusplus
extern "C" {
#endif

/* Lays out and allocates tab's tables for tile t and the observables `need` (the CPU
 * backend's): a factor gets a table where it has at most one entry per two points of the tile
 * and the allocation succeeds, else NULL (per point), so this cannot fail. */
void qtm_tile_tables_init(qtm_tile_tables *tab, const qtm_grid_desc *d, const qtm_tile *t,
                          unsigned need);
/* Fills the tables. Its loop is an OpenMP worksharing loop: called by every thread of a
 * parallel region, the threads share the work and it ends with a barrier; called outside one,
 * serially. */
void qtm_tile_tables_fill(qtm_tile_tables *tab, const qtm_grid_desc *d, const double *values,
                          const qtm_tile *t, unsigned need);
void qtm_tile_tables_free(qtm_tile_tables *tab);

#ifdef __cplusplus
}
#endif

#endif
