/* The scan grid: up to QTM_MAX_AXES axes over the model parameters (plus the derived axes T,
 * DeltaT and gamma_ratio), every other parameter fixed; its cutting into tiles, each a
 * hyperrectangle that is also one HDF5 chunk; and the mapping from a point of a tile to its
 * parameters, which the CPU loop and the CUDA kernels share (QTM_FN). All indices are int64_t:
 * grids of 10^10 points are in scope. */
#ifndef QTM_GRID_H
#define QTM_GRID_H

#include <stdint.h>

#include "qtm/params.h"
#include "qtm/physics.h"
#include "qtm/status.h"

#define QTM_MAX_AXES 9

/* Axis names: the ten parameters (same ids as qtm_param_id), then the derived axes:
 * T (TL = TR = T), DeltaT (TL = TR + DeltaT), gamma_ratio (gammaL = gamma_ratio * gammaR). */
typedef enum {
  QTM_AXIS_T = QTM_PARAM_COUNT,
  QTM_AXIS_DeltaT,
  QTM_AXIS_gamma_ratio,
  QTM_AXIS_ID_COUNT
} qtm_axis_derived;

/* The description of a grid that a kernel needs: plain data, copied to the device as is.
 * values[offset[k] .. offset[k] + shape[k]) are axis k's coordinates. */
typedef struct qtm_grid_desc {
  int naxes;
  int axis_id[QTM_MAX_AXES]; /* a qtm_param_id or a qtm_axis_derived */
  int64_t shape[QTM_MAX_AXES];
  int64_t offset[QTM_MAX_AXES];
  qtm_params fixed; /* parameters no axis sets (the others are ignored) */
} qtm_grid_desc;

/* A grid owns its coordinate values. */
typedef struct qtm_grid {
  qtm_grid_desc desc;
  double *values;  /* all axes' coordinates, concatenated */
  int64_t nvalues; /* sum of shape[] */
  int64_t npoints; /* product of shape[] */
} qtm_grid;

/* A tile: the hyperslab start[k] .. start[k] + count[k] of every axis. */
typedef struct qtm_tile {
  int64_t index; /* position in the tile sequence, 0 .. ntiles-1 */
  int64_t start[QTM_MAX_AXES];
  int64_t count[QTM_MAX_AXES];
  int64_t npoints;
} qtm_tile;

/* How a grid is cut: tile_shape[k] points along axis k (the last tiles of an axis may be
 * shorter); tiles are numbered in row-major order of the tile grid. */
typedef struct qtm_tiling {
  int naxes;
  int64_t tile_shape[QTM_MAX_AXES];
  int64_t tiles_per_axis[QTM_MAX_AXES];
  int64_t ntiles;
  int64_t max_tile_points; /* product of tile_shape */
} qtm_tiling;

#ifdef __cplusplus
extern "C" {
#endif

/* Name of an axis id ("TL", "T", "gamma_ratio", ...), and its id from a name (-1 if none). */
const char *qtm_axis_name(int axis_id);
int qtm_axis_find(const char *name);
/* Unit and long name of an axis, for the coordinate variables. */
const char *qtm_axis_unit(int axis_id);
const char *qtm_axis_long_name(int axis_id);

/* Builds a grid from naxes axes (ids and coordinate arrays, copied) and the fixed parameters.
 * QTM_ERR_INVALID_ARG (message in err) when naxes > QTM_MAX_AXES, an axis is empty, the point
 * count overflows int64_t. Does not validate physics: the config layer does. */
qtm_status qtm_grid_init(qtm_grid *g, int naxes, const int *axis_id, const int64_t *count,
                         const double *const *values, const qtm_params *fixed, char *err,
                         size_t errcap);
void qtm_grid_free(qtm_grid *g);

/* Cuts the grid into tiles of at most target_points points (>= 1): the trailing axes whole
 * while they fit, then a slice of the next axis, ones before it. A zero-axis grid (a single
 * point) is one tile. */
void qtm_tiling_init(qtm_tiling *t, const qtm_grid *g, int64_t target_points);
/* The k-th tile, 0 <= k < t->ntiles. */
void qtm_tiling_tile(const qtm_tiling *t, const qtm_grid *g, int64_t k, qtm_tile *tile);
/* The points of tiles [first, end) (a shard's or an MPI rank's slab). */
int64_t qtm_tiling_points(const qtm_tiling *t, const qtm_grid *g, int64_t first, int64_t end);

#ifdef __cplusplus
}
#endif

/* Sets parameter `id` (a qtm_param_id) of p to v; N is converted to int. */
QTM_FN void qtm_param_set(qtm_params *p, int id, double v) {
  switch (id) {
  case QTM_PARAM_omega: p->omega = v; break;
  case QTM_PARAM_TL: p->TL = v; break;
  case QTM_PARAM_TR: p->TR = v; break;
  case QTM_PARAM_gammaL: p->gammaL = v; break;
  case QTM_PARAM_gammaR: p->gammaR = v; break;
  case QTM_PARAM_g: p->g = v; break;
  case QTM_PARAM_epsL: p->epsL = v; break;
  case QTM_PARAM_epsR: p->epsR = v; break;
  case QTM_PARAM_eps_a: p->eps_a = v; break;
  case QTM_PARAM_N: p->N = (int)v; break;
  default: break;
  }
}

/* Sets the direct parameters of axes `from` and later at coord (T sets TL and TR; a later axis
 * of the same parameter overrides an earlier one). */
QTM_FN void qtm_grid_point_direct(const qtm_grid_desc *d, const double *values,
                                  const int64_t *coord, int from, qtm_params *p) {
  for (int k = from; k < d->naxes; ++k) {
    int id = d->axis_id[k];
    double v = values[d->offset[k] + coord[k]];
    if (id == QTM_AXIS_T) p->TL = p->TR = v;
    else qtm_param_set(p, id, v);
  }
}

/* Then the derived ones: DeltaT (reads TR) and gamma_ratio (reads gammaR), after the direct
 * ones so that they see the final value of what they depend on. */
QTM_FN void qtm_grid_point_derived(const qtm_grid_desc *d, const double *values,
                                   const int64_t *coord, qtm_params *p) {
  for (int k = 0; k < d->naxes; ++k) {
    int id = d->axis_id[k];
    double v = values[d->offset[k] + coord[k]];
    if (id == QTM_AXIS_DeltaT) p->TL = p->TR + v;
    else if (id == QTM_AXIS_gamma_ratio) p->gammaL = v * p->gammaR;
  }
}

/* Parameters of the point whose coordinate index along axis k is coord[k]. */
QTM_FN void qtm_grid_point(const qtm_grid_desc *d, const double *values, const int64_t *coord,
                           qtm_params *p) {
  *p = d->fixed;
  qtm_grid_point_direct(d, values, coord, 0, p);
  qtm_grid_point_derived(d, values, coord, p);
}

/* The last axis whose step can change a derived value: a derived axis (DeltaT, gamma_ratio) or
 * one that sets what they read or set (TL, TR, T, gammaL, gammaR); -1 without derived axes. A
 * walk's step that moves only later axes leaves every derived value as it was, so a walk sets
 * them again only after steps from this axis or earlier (most steps move the last axis only). */
QTM_FN int qtm_grid_derived_last(const qtm_grid_desc *d) {
  int derived = 0, last = -1;
  for (int k = 0; k < d->naxes; ++k) {
    int id = d->axis_id[k];
    if (id == QTM_AXIS_DeltaT || id == QTM_AXIS_gamma_ratio) derived = 1;
    if (id == QTM_AXIS_DeltaT || id == QTM_AXIS_gamma_ratio || id == QTM_AXIS_T ||
        id == QTM_PARAM_TL || id == QTM_PARAM_TR || id == QTM_PARAM_gammaL ||
        id == QTM_PARAM_gammaR)
      last = k;
  }
  return derived ? last : -1;
}

/* p, holding the parameters of a point, becomes those of coord, which differs from it only
 * along axes `from` and later (a step of qtm_tile_step); derived_last: qtm_grid_derived_last(d).
 * The same values as qtm_grid_point: a parameter set by an axis before `from` and not after
 * keeps its value, one set by an axis from `from` on is set again after it, and every derived
 * value is set again from final values where the step can have changed it. */
QTM_FN void qtm_grid_point_step(const qtm_grid_desc *d, const double *values,
                                const int64_t *coord, int from, int derived_last, qtm_params *p) {
  qtm_grid_point_direct(d, values, coord, from, p);
  if (from <= derived_last) qtm_grid_point_derived(d, values, coord, p);
}

/* Moves coord (inside tile t) to the tile's next point in row-major order; returns the first
 * axis that moved (the later ones went back to their start), -1 after the last point. */
QTM_FN int qtm_tile_step(const qtm_tile *t, int naxes, int64_t *coord) {
  int k = naxes - 1;
  for (; k >= 0; --k) {
    if (++coord[k] < t->start[k] + t->count[k]) break;
    coord[k] = t->start[k];
  }
  return k;
}

/* The change of an index with these per-axis strides over a qtm_tile_step that moved axis k
 * (k >= 0) and reset the later ones. */
QTM_FN int64_t qtm_tile_step_delta(const qtm_tile *t, int naxes, const int64_t *stride, int k) {
  int64_t delta = stride[k];
  for (int j = k + 1; j < naxes; ++j) delta -= (t->count[j] - 1) * stride[j];
  return delta;
}

/* Coordinates of point l (row-major) of a tile. */
QTM_FN void qtm_tile_coord(const qtm_tile *t, int naxes, int64_t l, int64_t *coord) {
  for (int k = naxes - 1; k >= 0; --k) {
    coord[k] = t->start[k] + l % t->count[k];
    l /= t->count[k];
  }
}

#endif
