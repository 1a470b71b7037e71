/* The scan grid: axis names and units, construction with 64-bit point counts, and the cutting
 * into tiles (hyperrectangles that are also the HDF5 chunks). */
#include "qtm/grid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct axis_info {
  const char *name, *unit, *long_name;
} axis_info;

/* Indexed by axis id: the parameters in qtm_param_id order, then the derived axes. */
static const axis_info axis_table[QTM_AXIS_ID_COUNT] = {
    {"omega", "E", "subsystem frequency omega"},
    {"TL", "E", "left bath temperature T_L (kB = 1)"},
    {"TR", "E", "right bath temperature T_R (kB = 1)"},
    {"gammaL", "E/hbar", "left system-bath coupling rate gamma_L"},
    {"gammaR", "E/hbar", "right system-bath coupling rate gamma_R"},
    {"g", "E/hbar", "coupling g between neighbouring subsystems"},
    {"epsL", "1", "left bath statistics eps_L (+1 bosons, -1 fermions/two-level)"},
    {"epsR", "1", "right bath statistics eps_R (+1 bosons, -1 fermions/two-level)"},
    {"eps_a", "1", "subsystem statistics eps_a (-1 qubits, +1 oscillators)"},
    {"N", "1", "number of subsystems in the chain"},
    {"T", "E", "common bath temperature T = T_L = T_R (kB = 1)"},
    {"DeltaT", "E", "temperature bias DeltaT = T_L - T_R (kB = 1)"},
    {"gamma_ratio", "1", "rate ratio gamma_L / gamma_R"},
};

const char *qtm_axis_name(int id) {
  return id >= 0 && id < QTM_AXIS_ID_COUNT ? axis_table[id].name : "?";
}
const char *qtm_axis_unit(int id) {
  return id >= 0 && id < QTM_AXIS_ID_COUNT ? axis_table[id].unit : "";
}
const char *qtm_axis_long_name(int id) {
  return id >= 0 && id < QTM_AXIS_ID_COUNT ? axis_table[id].long_name : "";
}

int qtm_axis_find(const char *name) {
  for (int id = 0; id < QTM_AXIS_ID_COUNT; ++id)
    if (strcmp(axis_table[id].name, name) == 0) return id;
  return -1;
}

static qtm_status grid_error(char *err, size_t errcap, const char *msg) {
  if (err && errcap) snprintf(err, errcap, "%s", msg);
  return QTM_ERR_INVALID_ARG;
}

qtm_status qtm_grid_init(qtm_grid *g, int naxes, const int *axis_id, const int64_t *count,
                         const double *const *values, const qtm_params *fixed, char *err,
                         size_t errcap) {
  memset(g, 0, sizeof *g);
  if (naxes < 0 || naxes > QTM_MAX_AXES) return grid_error(err, errcap, "too many axes (at most 9)");
  int64_t nvalues = 0, npoints = 1;
  for (int k = 0; k < naxes; ++k) {
    if (count[k] < 1) return grid_error(err, errcap, "an axis has no points");
    if (axis_id[k] < 0 || axis_id[k] >= QTM_AXIS_ID_COUNT)
      return grid_error(err, errcap, "unknown axis id");
    if (npoints > INT64_MAX / count[k])
      return grid_error(err, errcap, "the grid has more than 2^63 points");
    npoints *= count[k];
    nvalues += count[k];
  }
  g->values = malloc((size_t)(nvalues ? nvalues : 1) * sizeof *g->values);
  if (!g->values) return grid_error(err, errcap, "out of memory for the axis values");
  g->desc.naxes = naxes;
  g->desc.fixed = *fixed;
  int64_t off = 0;
  for (int k = 0; k < naxes; ++k) {
    g->desc.axis_id[k] = axis_id[k];
    g->desc.shape[k] = count[k];
    g->desc.offset[k] = off;
    memcpy(g->values + off, values[k], (size_t)count[k] * sizeof *g->values);
    off += count[k];
  }
  g->nvalues = nvalues;
  g->npoints = npoints;
  return QTM_OK;
}

void qtm_grid_free(qtm_grid *g) {
  if (!g) return;
  free(g->values);
  memset(g, 0, sizeof *g);
}

void qtm_tiling_init(qtm_tiling *t, const qtm_grid *g, int64_t target_points) {
  memset(t, 0, sizeof *t);
  int n = g->desc.naxes;
  t->naxes = n;
  if (target_points < 1) target_points = 1;
  /* Trailing axes whole while they fit, then as much of the next axis as fits, then 1s: each
   * tile is then a contiguous run of a row-major slab, good for the HDF5 chunk cache. */
  int64_t points = 1;
  int k = n - 1;
  for (; k >= 0 && points * g->desc.shape[k] <= target_points; --k) {
    t->tile_shape[k] = g->desc.shape[k];
    points *= g->desc.shape[k];
  }
  if (k >= 0) {
    int64_t part = target_points / points;
    t->tile_shape[k] = part < 1 ? 1 : part;
    points *= t->tile_shape[k];
    for (--k; k >= 0; --k) t->tile_shape[k] = 1;
  }
  t->max_tile_points = points;
  t->ntiles = 1;
  for (int j = 0; j < n; ++j) {
    t->tiles_per_axis[j] = (g->desc.shape[j] + t->tile_shape[j] - 1) / t->tile_shape[j];
    t->ntiles *= t->tiles_per_axis[j];
  }
}

void qtm_tiling_tile(const qtm_tiling *t, const qtm_grid *g, int64_t k, qtm_tile *tile) {
  memset(tile, 0, sizeof *tile);
  tile->index = k;
  tile->npoints = 1;
  for (int j = t->naxes - 1; j >= 0; --j) {
    int64_t tj = k % t->tiles_per_axis[j];
    k /= t->tiles_per_axis[j];
    tile->start[j] = tj * t->tile_shape[j];
    int64_t left = g->desc.shape[j] - tile->start[j];
    tile->count[j] = left < t->tile_shape[j] ? left : t->tile_shape[j];
    tile->npoints *= tile->count[j];
  }
}

int64_t qtm_tiling_points(const qtm_tiling *t, const qtm_grid *g, int64_t first, int64_t end) {
  if (first == 0 && end == t->ntiles) return g->npoints;
  int64_t n = 0;
  for (int64_t k = first; k < end; ++k) {
    qtm_tile tile;
    qtm_tiling_tile(t, g, k, &tile);
    n += tile.npoints;
  }
  return n;
}
