/* What users scan for, reduced tile by tile in the same pass as the maps: NDTC regions and
 * their onset along TL, rectification maxima over chosen axes, a global top-K of the contrast,
 * the Pareto front of (contrast, |J|), the local-vs-global audit, and optional refinement of
 * the top-K beyond the grid. Every merge is deterministic (ties go to the lowest flat index),
 * so the results do not depend on the tiling or the backend. Host code: the backends deliver
 * each tile's per-point inputs in float64 and the analysis consumes them on the scan's
 * evaluating thread, with an OpenMP team of its own size. */
#ifndef QTM_ANALYSIS_H
#define QTM_ANALYSIS_H

#include <stddef.h>
#include <stdint.h>

#include "qtm/grid.h"
#include "qtm/results.h"
#include "qtm/status.h"

/* The config's `analysis:` section. */
typedef struct qtm_analysis_spec {
  int enabled;               /* the section is present */
  int noptimize;             /* axes the maxima are taken over (0: no maxima maps) */
  int optimize[QTM_MAX_AXES]; /* their positions in the grid's axis list, ascending */
  int top_k;                 /* rows of the top-K tables (default 10; 0 for none) */
  double min_current;        /* |J| in the favoured direction, max(|J|, |J_rev|), >= this */
  int refine;                /* polish the top-K beyond the grid */
  int no_point_maps;         /* `point_maps: false`: no per-point maps (ndtc, ndtc_global,
                                regime_disagreement, J_global_over_J: 11 bytes a point) */
} qtm_analysis_spec;

typedef struct qtm_analysis qtm_analysis;

/* Most per-point inputs the analysis reads (see qtm_analysis_inputs). */
#define QTM_ANALYSIS_MAX_INPUTS 9
/* Most dense maps it writes (see qtm_analysis_dense_maps). */
#define QTM_ANALYSIS_MAX_DENSE 4

#ifdef __cplusplus
extern "C" {
#endif

/* QTM_ERR_INVALID_ARG (with a message) when the outputs would not fit in memory. */
qtm_status qtm_analysis_create(const qtm_analysis_spec *spec, const qtm_grid *g,
                               qtm_analysis **out, char *err, size_t errcap);
void qtm_analysis_free(qtm_analysis *a);

/* The observables whose per-point values (float64) qtm_analysis_tile reads, in that order. */
int qtm_analysis_inputs(const qtm_analysis *a, int *obs);
/* The dense maps qtm_analysis_tile fills, in that order. */
int qtm_analysis_dense_maps(const qtm_analysis *a, const qtm_dense_map **maps);

/* Shares each tile of at least min_points points among `threads` OpenMP threads (0: all
 * cores), each reducing a contiguous part of the tile into its own buffers, sized here for
 * tiling's largest tile and merged after each tile; fewer threads when those buffers would pass
 * 256 MiB. Smaller tiles, and every tile without this call, are reduced by one thread. The
 * results are the same either way (every merge is exact). QTM_ERR_NOMEM with a message. */
#define QTM_ANALYSIS_MIN_SHARED_POINTS 4096 /* below: waking the team costs more than it saves */
qtm_status qtm_analysis_use_threads(qtm_analysis *a, const qtm_tiling *tiling, int threads,
                                    int64_t min_points, char *err, size_t errcap);

/* Consumes one tile: inputs[i] holds t->npoints values (row-major in the tile) of input i;
 * fills dense[m] with t->npoints values of dense map m in its dtype. Tiles may come in any
 * order; each exactly once. Not thread-safe: one caller at a time (it runs its own team). */
void qtm_analysis_tile(qtm_analysis *a, const qtm_tile *t, const double *const *inputs,
                       void *const *dense);

/* The same reductions run by a team that the caller has started (the CPU backend reduces each
 * run of points right after evaluating it, while its values are in cache): every thread of a
 * team of at most qtm_analysis_threads(a) threads calls qtm_analysis_range on the runs of points
 * l0 .. l1-1 it takes (each point of the tile exactly once, in any order and split), then
 * qtm_analysis_tile_end once, after all threads' last range (it holds OpenMP worksharing loops
 * and ends with a barrier). Outside a parallel region both run as one thread. */
int qtm_analysis_threads(const qtm_analysis *a);
void qtm_analysis_range(qtm_analysis *a, const qtm_tile *t, const double *const *inputs,
                        void *const *dense, int64_t l0, int64_t l1);
void qtm_analysis_tile_end(qtm_analysis *a, const qtm_tile *t);

/* After the last tile: refines the NDTC onsets to the root of dJ/dTL and, when asked, the
 * top-K maxima; then the results below are final. */
qtm_status qtm_analysis_finish(qtm_analysis *a, char *err, size_t errcap);

/* The partial state after some tiles, before finish (a shard's share of the analysis): at most
 * QTM_ANALYSIS_MAX_STATE arrays, owned by a until the next call or qtm_analysis_free. "None"
 * entries (no candidate) are stored as -1. QTM_ERR_NOMEM with a message on failure. */
#define QTM_ANALYSIS_MAX_STATE 24
qtm_status qtm_analysis_state_export(qtm_analysis *a, const qtm_state_array **arrays, int *n,
                                     char *err, size_t errcap);
/* Merges another analysis' exported state (of the same config, disjoint tiles) into a, as if a
 * had consumed those tiles itself. Checks every array's name, length and values first and
 * merges nothing from a state that fails (QTM_ERR_INVALID_ARG, message naming the array). */
qtm_status qtm_analysis_state_merge(qtm_analysis *a, const qtm_state_array *arrays, int n,
                                    char *err, size_t errcap);

int qtm_analysis_reduced_maps(const qtm_analysis *a, const qtm_reduced_map **maps);
int qtm_analysis_tables(const qtm_analysis *a, const qtm_table **tables);
int qtm_analysis_attrs(const qtm_analysis *a, const qtm_scalar_attr **attrs);

#ifdef __cplusplus
}
#endif

#endif
