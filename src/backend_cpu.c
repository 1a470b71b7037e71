/* The CPU backend: an OpenMP loop over chunks of a tile's points, each walked by the shared
 * qtm_tile_eval_range (the same values as qtm_tile_eval_point_tab, the per-point code the
 * CUDA kernel runs), or, for the currents and contrasts on a CPU with AVX-512, by the vector
 * path of tile_eval_vec.h (the same bits again), with the tile's factors tabulated per axis
 * coordinate first (tile_eval.h). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "qtm/backend.h"
#include "tile_eval_vec.h"

/* Points per chunk handed to a thread (see cpu_eval_tile). */
#define CHUNK 2048

typedef struct cpu_impl {
  int threads;
} cpu_impl;

void qtm_tile_tables_init(qtm_tile_tables *tab, const qtm_grid_desc *d, const qtm_tile *t,
                          unsigned need) {
  unsigned local_axes, stats_axes, global_axes, rates_axes;
  qtm_factor_axes(d, &local_axes, &stats_axes, &global_axes, &rates_axes);
  tab->nlocal = qtm_tile_table_layout(t, d->naxes, local_axes, tab->local_stride);
  tab->nstats = qtm_tile_table_layout(t, d->naxes, stats_axes, tab->stats_stride);
  tab->nglobal = qtm_tile_table_layout(t, d->naxes, global_axes, tab->global_stride);
  tab->nrates = qtm_tile_table_layout(t, d->naxes, rates_axes, tab->rates_stride);
  tab->local = NULL;
  tab->stats = NULL;
  tab->global = NULL;
  tab->rates = NULL;
  /* A table of more than one entry per two points would save less than it costs to fill. */
  if ((need & (QTM_NEED_LOCAL | QTM_NEED_MEAN_T)) && tab->nlocal <= t->npoints / 2)
    tab->local = malloc((size_t)tab->nlocal * sizeof *tab->local);
  if ((need & QTM_NEED_LOCAL) && tab->nstats <= t->npoints / 2)
    tab->stats = malloc((size_t)tab->nstats * sizeof *tab->stats);
  if ((need & QTM_NEED_GLOBAL) && tab->nglobal <= t->npoints / 2)
    tab->global = malloc((size_t)tab->nglobal * sizeof *tab->global);
  if ((need & QTM_OBS_BIT(QTM_OBS_ndtc_threshold)) && tab->nrates <= t->npoints / 2)
    tab->rates = malloc((size_t)tab->nrates * sizeof *tab->rates);
}

/* Parameters of the tile point whose coordinates along `axes` are entry i of a table laid out
 * by qtm_tile_table_layout (the other axes at the tile's start, which the factors ignore). */
static void table_point(const qtm_grid_desc *d, const double *values, const qtm_tile *t,
                        const int64_t *stride, int64_t i, qtm_params *p) {
  int64_t coord[QTM_MAX_AXES] = {0}; /* GCC cannot see that naxes entries are set */
  for (int k = d->naxes - 1; k >= 0; --k) {
    coord[k] = t->start[k];
    if (stride[k] != 0) {
      coord[k] += i % t->count[k];
      i /= t->count[k];
    }
  }
  qtm_grid_point(d, values, coord, p);
}

void qtm_tile_tables_fill(qtm_tile_tables *tab, const qtm_grid_desc *d, const double *values,
                          const qtm_tile *t, unsigned need) {
  /* The tables one after the other as one worksharing loop: one barrier per tile, not one per
   * table. */
  const int64_t nl = tab->local ? tab->nlocal : 0, ns = tab->stats ? tab->nstats : 0,
                ng = tab->global ? tab->nglobal : 0, nr = tab->rates ? tab->nrates : 0;
#pragma omp for schedule(static)
  for (int64_t i = 0; i < nl + ns + ng + nr; ++i) {
    qtm_params p;
    if (i < nl) {
      table_point(d, values, t, tab->local_stride, i, &p);
      tab->local[i] = qtm_local_factors_at(&p, need);
    } else if (i < nl + ns) {
      table_point(d, values, t, tab->stats_stride, i - nl, &p);
      tab->stats[i - nl] = qtm_local_stats_at(&p, qtm_pair_at(p.omega, p.TL, p.TR), need);
    } else if (i < nl + ns + ng) {
      table_point(d, values, t, tab->global_stride, i - nl - ns, &p);
      tab->global[i - nl - ns] = qtm_global_factors_at(&p, need);
    } else {
      table_point(d, values, t, tab->rates_stride, i - nl - ns - ng, &p);
      tab->rates[i - nl - ns - ng] = qtm_rate_factors_at(&p, need);
    }
  }
}

void qtm_tile_tables_free(qtm_tile_tables *tab) {
  free(tab->local);
  free(tab->stats);
  free(tab->global);
  free(tab->rates);
  tab->local = NULL;
  tab->stats = NULL;
  tab->global = NULL;
  tab->rates = NULL;
}

/* A tile's outputs as two views of the same arrays: the observables of the vector path
 * (QTM_VEC_OBS) and the rest. */
typedef struct out_split {
  qtm_tile_out vec, rest;
  unsigned need_vec, need_rest;
} out_split;

static void split_out(const qtm_tile_out *out, out_split *s) {
  s->vec.dtype = s->rest.dtype = out->dtype;
  s->vec.nobs = s->rest.nobs = 0;
  for (int j = 0; j < out->nobs; ++j) {
    qtm_tile_out *to = (QTM_OBS_BIT(out->obs[j]) & QTM_VEC_OBS) ? &s->vec : &s->rest;
    to->obs[to->nobs] = out->obs[j];
    to->data[to->nobs++] = out->data[j];
  }
  s->need_vec = qtm_tile_out_need(&s->vec);
  s->need_rest = qtm_tile_out_need(&s->rest);
}

/* The tile's points in chunks, each evaluated and then handed to c (when there is one) by the
 * same thread; c prepared for fewer threads than the backend's (the analysis caps its buffers)
 * gets the whole tile afterwards, on this thread, rather than slow the evaluation down. */
static qtm_status cpu_eval_tile_consumed(qtm_backend *b, const qtm_tile *t,
                                         const qtm_tile_out *out, const qtm_tile_consumer *c,
                                         char *err, size_t errcap) {
  (void)err;
  (void)errcap;
  const cpu_impl *impl = b->impl;
  const qtm_grid *g = b->plan.grid;
  const qtm_grid_desc *d = &g->desc;
  const double *values = g->values;
  const unsigned need = qtm_tile_out_need(out);
  const qtm_tile_consumer *fused = c && c->threads >= impl->threads ? c : NULL;
  out_split split;
  split_out(out, &split);
  qtm_tile_tables tab;
  qtm_tile_tables_init(&tab, d, t, need);
  /* Chunks of points handed out as threads come free: every point costs about the same, but
   * a thread that the writer thread (or another job) keeps off its core for a while would
   * otherwise hold the others up at the end of the tile; 2,048 points keep each thread's writes
   * in long contiguous stretches, and their values in L2 for c. Tiles too small to repay waking
   * the team (~tens of microseconds on a loaded machine) run on this thread. The tables are
   * filled by the team too; the fill's barrier comes before any point reads them. */
#pragma omp parallel num_threads(impl->threads) if (t->npoints >= 4096)
  {
    qtm_tile_tables_fill(&tab, d, values, t, need);
#pragma omp for schedule(dynamic, 1)
    for (int64_t k = 0; k < (t->npoints + CHUNK - 1) / CHUNK; ++k) {
      int64_t l0 = k * CHUNK, l1 = l0 + CHUNK < t->npoints ? l0 + CHUNK : t->npoints;
      /* the vector path's observables through it, the others (and all where it does not
       * apply) through the scalar path: each value has the same bits whatever else a point
       * evaluates */
      if (!qtm_tile_eval_range_vec(d, values, t, l0, l1, &split.vec, split.need_vec, &tab))
        qtm_tile_eval_range(d, values, t, l0, l1, out, need, &tab);
      else if (split.rest.nobs > 0)
        qtm_tile_eval_range(d, values, t, l0, l1, &split.rest, split.need_rest, &tab);
      if (fused) fused->range(fused->ctx, t, out, l0, l1);
    }
    if (fused) fused->end(fused->ctx, t);
  }
  qtm_tile_tables_free(&tab);
  if (c && !fused) {
    c->range(c->ctx, t, out, 0, t->npoints);
    c->end(c->ctx, t);
  }
  return QTM_OK;
}

static qtm_status cpu_eval_tile(qtm_backend *b, const qtm_tile *t, const qtm_tile_out *out,
                                char *err, size_t errcap) {
  return cpu_eval_tile_consumed(b, t, out, NULL, err, errcap);
}

static void cpu_free(qtm_backend *b) {
  free(b->impl);
  free(b);
}

static const qtm_backend_ops cpu_ops = {cpu_eval_tile, cpu_free, cpu_eval_tile_consumed};

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
  /* the vector path in the name: the numbers are the same bits either way, the speed not */
  snprintf(b->device, sizeof b->device, "%d OpenMP thread%s%s", impl->threads,
           impl->threads == 1 ? "" : "s", qtm_tile_vec_available() ? ", AVX-512" : "");
  *out = b;
  return QTM_OK;
}
