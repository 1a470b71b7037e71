/* The analysis' internal state, shared by its reductions (analysis.c) and the export and
 * merge of a partial state between shard files (analysis_state.c). Not a public header. */
#ifndef QTM_ANALYSIS_IMPL_H
#define QTM_ANALYSIS_IMPL_H

#include <stdint.h>

#include "qtm/analysis.h"

#define NONE INT64_MAX /* no candidate yet */
#define MAX_REDUCED_ENTRIES ((int64_t)1 << 28)
#define NAME_CAP 96
#define MAX_REDUCED (6 + 4 * (QTM_MAX_AXES + 2))
/* Table columns (analysis.c): the parameters, the regime's values, the refined ones. */
#define NPARAM_FIELDS 10
#define NVALUE_FIELDS 4
#define NREFINED_FIELDS 14

/* Regime indices: 0 local, 1 global. */
enum { LOCAL, GLOBAL, NREGIMES };

typedef struct ranked {
  double value;
  int64_t index;
} ranked;

/* A Pareto point: contrast c, forward |J| j. */
typedef struct front_point {
  double c, j;
  int64_t index;
} front_point;

typedef struct regime_state {
  /* NDTC */
  int64_t ndtc_count, applicable_count;
  int64_t *onset_pos; /* per line: first position (in increasing TL order) with NDTC, or NONE */
  double *onset, *eq17, *onset_minus_eq17;
  /* maxima over the optimised axes, per outer point */
  double *best_c, *best_r;
  int64_t *arg_c, *arg_r;
  double *max_c, *max_r;
  double *argmax_c[QTM_MAX_AXES], *argmax_r[QTM_MAX_AXES];
  /* top-K by contrast, sorted by (value desc, index asc) */
  ranked *top;
  int ntop;
  double *top_rows;
  /* Pareto front, sorted by j descending; c strictly increasing along it */
  front_point *front;
  int64_t nfront, front_cap;
  int64_t front_hint; /* the member that dominated the last point offered: neighbours in the
                         grid are mostly dominated by the same one, so it is tried first */
  double *front_rows;
} regime_state;

/* One OpenMP thread's share of a tile beyond the first thread's (analysis_tile.c): its counts,
 * top-K and front, and tile-local buffers in place of the per-line onsets and per-outer-point
 * maxima (indexed row-major over the tile's own counts), merged after the tile. The first
 * thread reduces into the analysis itself. */
typedef struct tile_part {
  regime_state r[NREGIMES];
  int64_t line_lo, line_hi, outer_lo, outer_hi; /* the buffer entries it wrote (lo > hi: none) */
} tile_part;

struct qtm_analysis {
  qtm_analysis_spec spec;
  const qtm_grid *g;
  int naxes;
  int64_t stride[QTM_MAX_AXES];
  int has_global;
  int ninputs;
  int inputs[QTM_ANALYSIS_MAX_INPUTS];
  int ndense;
  qtm_dense_map dense[QTM_ANALYSIS_MAX_DENSE];
  /* NDTC lines: along the TL (or DeltaT) axis */
  int line_axis; /* -1 without one */
  int line_increasing;
  int64_t nlines;
  int64_t line_stride[QTM_MAX_AXES];
  /* maxima: the grid without the optimised axes */
  int is_optimized[QTM_MAX_AXES];
  int64_t nouter;
  int64_t outer_stride[QTM_MAX_AXES];
  regime_state r[NREGIMES];
  /* threads sharing each tile (qtm_analysis_use_threads): threads - 1 parts, each with
   * buffers of part_lines and part_outer entries (the largest tile's) */
  int threads;
  int64_t min_shared_points;
  tile_part *parts;
  int64_t part_lines, part_outer;
  /* results for the writer */
  int nreduced, ntables, nattrs;
  qtm_reduced_map reduced[MAX_REDUCED];
  char reduced_names[MAX_REDUCED][NAME_CAP];
  qtm_table tables[4];
  const char *fields[NPARAM_FIELDS + NVALUE_FIELDS + NREFINED_FIELDS];
  qtm_scalar_attr attrs[8];
  /* the exported partial state (analysis_state.c), owned */
  int nstate;
  qtm_state_array state[QTM_ANALYSIS_MAX_STATE];
};

/* The reductions' merge steps, shared by the tiles (analysis.c) and the merge of a partial
 * state (analysis_state.c): each keeps, among equal values, the lowest flat index. */
/* Frees the exported state's arrays (analysis_state.c). */
void qtm_analysis_state_release(qtm_analysis *a);
/* Frees the threads' parts (analysis_tile.c). */
void qtm_analysis_parts_free(qtm_analysis *a);

void qtm_analysis_offer_max(double v, int64_t index, double *best, int64_t *arg);
void qtm_analysis_offer_top(regime_state *s, int k, double v, int64_t index);
void qtm_analysis_offer_front(regime_state *s, double c, double j, int64_t index);

#endif
