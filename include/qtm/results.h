/* Descriptions of what a scan stores beyond the observable maps, shared by the analysis that
 * produces it and the HDF5 writer that stores it, so neither depends on the other: dense maps
 * over the full grid (written tile by tile), maps over the grid without some axes, tables of
 * rows (compound datasets), and scalar attributes. Names are HDF5 paths such as
 * "analysis/ndtc"; the groups are created as needed. */
#ifndef QTM_RESULTS_H
#define QTM_RESULTS_H

#include <stdint.h>

#include "qtm/grid.h"
#include "qtm/tile_eval.h"

/* A map over the full grid, one value per point, written tile by tile. */
typedef struct qtm_dense_map {
  const char *name;
  qtm_dtype dtype; /* U8 maps get a _FillValue of 255, float maps NaN */
  const char *units;
  const char *long_name;
} qtm_dense_map;

/* A map over the grid's axes kept[0..nkept) (positions in the grid's axis list, ascending),
 * row-major in that order; nkept = 0 is a scalar. Coordinates are the root's axis datasets. */
typedef struct qtm_reduced_map {
  const char *name;
  int nkept;
  int kept[QTM_MAX_AXES];
  qtm_dtype dtype;   /* F64 or U8 */
  const void *data;  /* product of the kept axes' sizes values */
  const char *units;
  const char *long_name;
} qtm_reduced_map;

/* A table: nrows rows of nfields doubles (row-major), stored as a compound dataset with one
 * float64 field per column. */
typedef struct qtm_table {
  const char *name;
  int nfields;
  const char *const *fields;
  int64_t nrows;
  const double *rows;
  const char *long_name;
} qtm_table;

/* A numeric attribute `name` on the object at path `object` ("analysis", "analysis/ndtc"). */
typedef struct qtm_scalar_attr {
  const char *object;
  const char *name;
  double value;
} qtm_scalar_attr;

/* One array of an analysis' partial state (analysis.h), as a shard file keeps it under
 * qtmscan_state/analysis/NAME, so that merged shards finish the analysis a single run would. */
typedef struct qtm_state_array {
  char name[48];
  int is_int;  /* int64 values, else float64 */
  int64_t n;
  void *data;
} qtm_state_array;

#endif
