/* The CPU backend's vector path: the currents and contrasts of a run of a tile's points, eight
 * points an instruction where the CPU has AVX-512, with the same bits as qtm_tile_eval_range.
 * Private to src/. */
#ifndef QTM_TILE_EVAL_VEC_H
#define QTM_TILE_EVAL_VEC_H

#include "qtm/tile_eval.h"

/* The observables the vector path evaluates: the local and global currents, forward and
 * reverse, their contrasts, the ratio and the TL-derivatives (the benchmark's, the
 * quickstart's and the analysis' inputs). */
#define QTM_VEC_OBS                                                                            \
  (QTM_OBS_BIT(QTM_OBS_J1) | QTM_OBS_BIT(QTM_OBS_alpha) | QTM_OBS_BIT(QTM_OBS_J) |              \
   QTM_NEED_REV | QTM_OBS_BIT(QTM_OBS_dJ_dTL) | QTM_OBS_BIT(QTM_OBS_J_global) |                 \
   QTM_NEED_GLOBAL_REV | QTM_OBS_BIT(QTM_OBS_dJ_global_dTL))

/* 1 where this CPU runs the vector path (AVX-512 F, DQ, BW, VL, CD) and the environment does
 * not turn it off (QTM_CPU_VECTOR=0); read once. */
int qtm_tile_vec_available(void);

/* qtm_tile_eval_range of points l0 .. l1-1, through the vector path, when it applies: `need`
 * within QTM_VEC_OBS, the statistics and N the same at every point (no axis of theirs), N = 2,
 * epsL == epsR where a local observable is asked for, and tab holding the tables those
 * observables read. Returns 1 when it evaluated the points, 0 (nothing written) when it does
 * not apply. */
int qtm_tile_eval_range_vec(const qtm_grid_desc *d, const double *values, const qtm_tile *t,
                            int64_t l0, int64_t l1, const qtm_tile_out *out, unsigned need,
                            const qtm_tile_tables *tab);

#endif
