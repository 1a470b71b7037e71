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

/* Point l of the tile, evaluating only `need` = qtm_tile_out_need(out), which a loop over a
 * tile computes once: a scan of a few observables then costs what those cost, not all 21. */
QTM_FN void qtm_tile_eval_point_need(const qtm_grid_desc *d, const double *values,
                                     const qtm_tile *t, int64_t l, const qtm_tile_out *out,
                                     unsigned need) {
  int64_t coord[QTM_MAX_AXES];
  qtm_params p;
  qtm_obs o;
  qtm_tile_coord(t, d->naxes, l, coord);
  qtm_grid_point(d, values, coord, &p);
  qtm_eval_closed_select(&p, need, &o);
  for (int j = 0; j < out->nobs; ++j) {
    double v = o.v[out->obs[j]];
    if (out->dtype == QTM_DTYPE_F32)
      ((float *)out->data[j])[l] = (float)v;
    else
      ((double *)out->data[j])[l] = v;
  }
}

QTM_FN void qtm_tile_eval_point(const qtm_grid_desc *d, const double *values, const qtm_tile *t,
                                int64_t l, const qtm_tile_out *out) {
  qtm_tile_eval_point_need(d, values, t, l, out, qtm_tile_out_need(out));
}

#endif
