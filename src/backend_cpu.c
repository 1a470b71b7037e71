/* The CPU backend: an OpenMP loop over the points of a tile, each calling the shared
 * qtm_tile_eval_point (the same code the CUDA kernel runs). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "qtm/backend.h"

typedef struct cpu_impl {
  int threads;
} cpu_impl;

static qtm_status cpu_eval_tile(qtm_backend *b, const qtm_tile *t, const qtm_tile_out *out,
                                char *err, size_t errcap) {
  (void)err;
  (void)errcap;
  const cpu_impl *impl = b->impl;
  const qtm_grid *g = b->plan.grid;
  const qtm_grid_desc *d = &g->desc;
  const double *values = g->values;
  const unsigned need = qtm_tile_out_need(out);
  /* Static schedule: every point costs about the same, and it keeps each thread's writes in
   * one contiguous stretch of the output arrays. Tiles too small to repay waking the team
   * (~tens of microseconds on a loaded machine) run on this thread. */
#pragma omp parallel for schedule(static) num_threads(impl->threads) if (t->npoints >= 4096)
  for (int64_t l = 0; l < t->npoints; ++l) qtm_tile_eval_point_need(d, values, t, l, out, need);
  return QTM_OK;
}

static void cpu_free(qtm_backend *b) {
  free(b->impl);
  free(b);
}

static const qtm_backend_ops cpu_ops = {cpu_eval_tile, cpu_free};

qtm_status qtm_backend_cpu_open(const qtm_scan_plan *plan, int threads, qtm_backend **out,
                                char *err, size_t errcap) {
  *out = NULL;
  qtm_backend *b = calloc(1, sizeof *b);
  cpu_impl *impl = calloc(1, sizeof *impl);
  if (!b || !impl) {
    free(b);
    free(impl);
    if (err && errcap) snprintf(err, errcap, "out of memory opening the CPU backend");
    return QTM_ERR_NOMEM;
  }
  impl->threads = threads > 0 ? threads : omp_get_num_procs();
  b->ops = &cpu_ops;
  b->name = "cpu";
  b->plan = *plan;
  b->impl = impl;
  snprintf(b->device, sizeof b->device, "%d OpenMP thread%s", impl->threads,
           impl->threads == 1 ? "" : "s");
  *out = b;
  return QTM_OK;
}
