/* The analysis' per-point reductions, one tile at a time, shared by an OpenMP team: each thread
 * reduces a contiguous part of the tile. The first reduces into the analysis itself; the others
 * into parts of their own (counts, top-K, front, and tile-local buffers for the per-line onsets
 * and per-outer-point maxima), merged after the tile. Every reduction keeps, among equal values,
 * the lowest flat index, so the merged result is the one a single thread would reach. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qtm/physics.h"
#include "qtm/tile_eval.h"
#include "analysis_impl.h"

/* Input positions in the per-point input arrays (qtm_analysis_inputs' order). */
enum { IN_J, IN_JR, IN_C, IN_R, IN_DJ, IN_JG, IN_JGR, IN_CG, IN_DJG };

#define MAX_PART_BYTES ((size_t)256 << 20)

/* ---- The merge steps ------------------------------------------------------------------------ */

/* (value, index) ranks above (other): higher value, then lower index. */
static int ranks_above(double v, int64_t i, double ov, int64_t oi) {
  return v > ov || (v == ov && i < oi);
}

void qtm_analysis_offer_max(double v, int64_t index, double *best, int64_t *arg) {
  if (isnan(v)) return;
  if (ranks_above(v, index, *best, *arg)) {
    *best = v;
    *arg = index;
  }
}

/* The usual outcomes of the two offers below (below the K-th; dominated by the member that
 * dominated the previous point) are decided inline; the rest is out of line. */
static void top_insert(regime_state *s, int k, double v, int64_t index) {
  int pos = s->ntop < k ? s->ntop++ : k - 1;
  while (pos > 0 && ranks_above(v, index, s->top[pos - 1].value, s->top[pos - 1].index)) {
    s->top[pos] = s->top[pos - 1];
    --pos;
  }
  s->top[pos].value = v;
  s->top[pos].index = index;
}

static inline void offer_top(regime_state *s, int k, double v, int64_t index) {
  if (isnan(v) || k == 0) return;
  if (s->ntop == k && !ranks_above(v, index, s->top[k - 1].value, s->top[k - 1].index)) return;
  top_insert(s, k, v, index);
}

void qtm_analysis_offer_top(regime_state *s, int k, double v, int64_t index) {
  offer_top(s, k, v, index);
}

/* p dominates q: at least as good in both objectives and better in one; among identical
 * points the lower index dominates, so the front is unique. */
static int dominates(const front_point *p, const front_point *q) {
  if (p->c < q->c || p->j < q->j) return 0;
  return p->c > q->c || p->j > q->j || p->index < q->index;
}

/* The front is sorted by j descending with c strictly increasing: the members with j >= q.j
 * form a prefix, and the last of it has the largest c there. */
static void front_insert(regime_state *s, front_point q) {
  int64_t lo = 0, hi = s->nfront; /* first member with j < q.j */
  while (lo < hi) {
    int64_t mid = (lo + hi) / 2;
    if (s->front[mid].j >= q.j) lo = mid + 1; else hi = mid;
  }
  for (int64_t m = lo - 1; m >= 0 && s->front[m].j == q.j; --m) /* equal j: check each */
    if (dominates(&s->front[m], &q)) {
      s->front_hint = m;
      return;
    }
  if (lo > 0 && s->front[lo - 1].j > q.j && s->front[lo - 1].c >= q.c) {
    s->front_hint = lo - 1;
    return;
  }
  /* q enters; it removes the members it dominates (a contiguous run around lo) */
  int64_t first = lo;
  while (first > 0 && dominates(&q, &s->front[first - 1])) --first;
  int64_t last = first;
  while (last < s->nfront && dominates(&q, &s->front[last])) ++last;
  int64_t removed = last - first;
  if (removed == 0 && s->nfront == s->front_cap) {
    front_point *grown = realloc(s->front, (size_t)s->front_cap * 2 * sizeof *grown);
    if (!grown) return; /* keep the front as it is; it stays a valid subset */
    s->front = grown;
    s->front_cap *= 2;
  }
  memmove(&s->front[first + 1], &s->front[last], (size_t)(s->nfront - last) * sizeof q);
  s->front[first] = q;
  s->nfront += 1 - removed;
}

static inline void offer_front(regime_state *s, double c, double j, int64_t index) {
  if (isnan(c) || isnan(j)) return;
  front_point q = {c, j, index};
  if (s->front_hint < s->nfront && dominates(&s->front[s->front_hint], &q)) return;
  front_insert(s, q);
}

void qtm_analysis_offer_front(regime_state *s, double c, double j, int64_t index) {
  offer_front(s, c, j, index);
}

/* ---- The threads' parts ----------------------------------------------------------------------- */

static int nregimes(const qtm_analysis *a) { return a->has_global ? 2 : 1; }

void qtm_analysis_parts_free(qtm_analysis *a) {
  for (int t = 0; a->parts && t < a->threads - 1; ++t)
    for (int r = 0; r < NREGIMES; ++r) {
      regime_state *s = &a->parts[t].r[r];
      free(s->onset_pos);
      free(s->best_c);
      free(s->best_r);
      free(s->arg_c);
      free(s->arg_r);
      free(s->top);
      free(s->front);
    }
  free(a->parts);
  a->parts = NULL;
  a->threads = 1;
}

static int alloc_part(const qtm_analysis *a, tile_part *p) {
  p->line_lo = p->outer_lo = INT64_MAX;
  p->line_hi = p->outer_hi = -1;
  for (int r = 0; r < nregimes(a); ++r) {
    regime_state *s = &p->r[r];
    size_t nl = (size_t)a->part_lines, no = (size_t)a->part_outer;
    if (a->line_axis >= 0 && !(s->onset_pos = malloc(nl * sizeof *s->onset_pos))) return 1;
    for (size_t i = 0; s->onset_pos && i < nl; ++i) s->onset_pos[i] = NONE;
    if (a->spec.noptimize > 0) {
      s->best_c = malloc(no * sizeof *s->best_c);
      s->best_r = malloc(no * sizeof *s->best_r);
      s->arg_c = malloc(no * sizeof *s->arg_c);
      s->arg_r = malloc(no * sizeof *s->arg_r);
      if (!s->best_c || !s->best_r || !s->arg_c || !s->arg_r) return 1;
      for (size_t i = 0; i < no; ++i) {
        s->best_c[i] = s->best_r[i] = -INFINITY;
        s->arg_c[i] = s->arg_r[i] = NONE;
      }
    }
    if (a->spec.top_k > 0 && !(s->top = calloc((size_t)a->spec.top_k, sizeof *s->top))) return 1;
    s->front_cap = 64;
    if (!(s->front = malloc((size_t)s->front_cap * sizeof *s->front))) return 1;
  }
  return 0;
}

qtm_status qtm_analysis_use_threads(qtm_analysis *a, const qtm_tiling *tiling, int threads,
                                    int64_t min_points, char *err, size_t errcap) {
  qtm_analysis_parts_free(a);
  a->min_shared_points = min_points;
  if (threads <= 0) threads = omp_get_num_procs();
  /* the buffers cover the largest tile's own lines and outer points */
  int64_t lines = 1, outer = 1;
  for (int k = 0; k < a->naxes; ++k) {
    if (k != a->line_axis) lines *= tiling->tile_shape[k];
    if (!a->is_optimized[k]) outer *= tiling->tile_shape[k];
  }
  a->part_lines = a->line_axis >= 0 ? lines : 0;
  a->part_outer = a->spec.noptimize > 0 ? outer : 0;
  size_t bytes = (size_t)nregimes(a) *
                 ((size_t)a->part_lines * sizeof(int64_t) + (size_t)a->part_outer * 32);
  if (bytes > 0 && (size_t)(threads - 1) > MAX_PART_BYTES / bytes)
    threads = 1 + (int)(MAX_PART_BYTES / bytes);
  if (threads <= 1) return QTM_OK;
  if (!(a->parts = calloc((size_t)threads - 1, sizeof *a->parts))) goto nomem;
  a->threads = threads;
  for (int t = 0; t < threads - 1; ++t)
    if (alloc_part(a, &a->parts[t])) goto nomem;
  return QTM_OK;
nomem:
  qtm_analysis_parts_free(a);
  snprintf(err, errcap, "out of memory for the analysis' per-thread buffers (%d threads)",
           threads);
  return QTM_ERR_NOMEM;
}

/* ---- One thread's share of a tile ------------------------------------------------------------ */

/* Where a thread's reductions go: the analysis' arrays indexed by the grid's lines and outer
 * points (the first thread), or a part's buffers indexed by the tile's own. */
typedef struct target {
  regime_state *r;
  int64_t line_stride[QTM_MAX_AXES], outer_stride[QTM_MAX_AXES]; /* per tile-relative coordinate */
  int64_t line0, outer0;                                         /* at the tile's start */
  int64_t *line_lo, *line_hi, *outer_lo, *outer_hi;              /* NULL for the analysis */
} target;

/* The axes (bit k for axis k) that index the per-line onsets resp. the per-outer-point maxima. */
static unsigned line_axes(const qtm_analysis *a) {
  unsigned m = 0;
  for (int k = 0; k < a->naxes; ++k)
    if (k != a->line_axis) m |= 1u << k;
  return m;
}

static unsigned outer_axes(const qtm_analysis *a) {
  unsigned m = 0;
  for (int k = 0; k < a->naxes; ++k)
    if (!a->is_optimized[k]) m |= 1u << k;
  return m;
}

static void target_of_analysis(qtm_analysis *a, const qtm_tile *t, target *x) {
  memset(x, 0, sizeof *x);
  x->r = a->r;
  for (int k = 0; k < a->naxes; ++k) {
    x->line_stride[k] = k == a->line_axis ? 0 : a->line_stride[k];
    x->outer_stride[k] = a->is_optimized[k] ? 0 : a->outer_stride[k];
    x->line0 += t->start[k] * x->line_stride[k];
    x->outer0 += t->start[k] * x->outer_stride[k];
  }
}

static void target_of_part(const qtm_analysis *a, tile_part *p, const qtm_tile *t, target *x) {
  memset(x, 0, sizeof *x);
  x->r = p->r;
  qtm_tile_table_layout(t, a->naxes, line_axes(a), x->line_stride);
  qtm_tile_table_layout(t, a->naxes, outer_axes(a), x->outer_stride);
  x->line_lo = &p->line_lo;
  x->line_hi = &p->line_hi;
  x->outer_lo = &p->outer_lo;
  x->outer_hi = &p->outer_hi;
}

static void widen(int64_t *lo, int64_t *hi, int64_t i) {
  if (!lo) return;
  if (i < *lo) *lo = i;
  if (i > *hi) *hi = i;
}

static int sign_of(double x) { return (x > 0) - (x < 0); }

/* The running point of a thread's share. */
typedef struct walk {
  int64_t flat, line, outer;
  int64_t coord[QTM_MAX_AXES];
  qtm_params p;
} walk;

/* One regime's reductions at the point w: NDTC (returned, for its mask), onset, maxima, top-K and
 * front. */
static inline int reduce_regime(const qtm_analysis *a, const target *x, regime_state *s,
                                const walk *w, double J, double Jr, double C, double R,
                                double dJ) {
  int ndtc = w->p.TL > w->p.TR && dJ < 0;
  s->ndtc_count += ndtc;
  s->applicable_count++;
  if (ndtc && a->line_axis >= 0) {
    int64_t pos = w->coord[a->line_axis];
    if (!a->line_increasing) pos = a->g->desc.shape[a->line_axis] - 1 - pos;
    if (pos < s->onset_pos[w->line]) {
      s->onset_pos[w->line] = pos;
      widen(x->line_lo, x->line_hi, w->line);
    }
  }
  /* max(|J|, |J_rev|) >= min_current, a NaN one left out (as fmax does) */
  int strong_enough = fabs(J) >= a->spec.min_current || fabs(Jr) >= a->spec.min_current;
  if (strong_enough) {
    if (a->spec.noptimize > 0) {
      int64_t o = w->outer;
      qtm_analysis_offer_max(C, w->flat, &s->best_c[o], &s->arg_c[o]);
      qtm_analysis_offer_max(R, w->flat, &s->best_r[o], &s->arg_r[o]);
      widen(x->outer_lo, x->outer_hi, o);
    }
    offer_top(s, a->spec.top_k, C, w->flat);
  }
  offer_front(s, C, fabs(J), w->flat);
  return ndtc;
}

/* Points l0 .. l1-1 of tile t, walked as qtm_tile_eval_range walks them: coordinates,
 * parameters and the flat, line and outer indices from the previous point's. */
static void reduce_points(const qtm_analysis *a, const target *x, const qtm_tile *t,
                          const double *const *in, void *const *dense, int64_t l0, int64_t l1) {
  const qtm_grid_desc *d = &a->g->desc;
  const int n = a->naxes;
  walk w;
  qtm_tile_coord(t, n, l0, w.coord);
  w.flat = 0;
  w.line = x->line0;
  w.outer = x->outer0;
  for (int k = 0; k < n; ++k) {
    w.flat += w.coord[k] * a->stride[k];
    w.line += (w.coord[k] - t->start[k]) * x->line_stride[k];
    w.outer += (w.coord[k] - t->start[k]) * x->outer_stride[k];
  }
  qtm_grid_point(d, a->g->values, w.coord, &w.p);
  const int derived_last = qtm_grid_derived_last(d);
  const int maps = a->ndense > 0, global_maps = maps && a->has_global;
  unsigned char *ndtc = maps ? dense[0] : NULL;
  unsigned char *ndtc_global = global_maps ? dense[1] : NULL;
  unsigned char *regime = global_maps ? dense[2] : NULL;
  double *ratio_gj = global_maps ? dense[3] : NULL;
  for (int64_t l = l0; l < l1; ++l) {
    double J = in[IN_J][l], Jr = in[IN_JR][l];
    int nd = reduce_regime(a, x, &x->r[LOCAL], &w, J, Jr, in[IN_C][l], in[IN_R][l], in[IN_DJ][l]);
    if (maps) ndtc[l] = (unsigned char)nd;
    if (a->has_global && !qtm_global_applies(&w.p)) {
      if (global_maps) {
        ndtc_global[l] = regime[l] = 255;
        ratio_gj[l] = NAN;
      }
    } else if (a->has_global) {
      double Jg = in[IN_JG][l], Jgr = in[IN_JGR][l];
      nd = reduce_regime(a, x, &x->r[GLOBAL], &w, Jg, Jgr, in[IN_CG][l], qtm_ratio(Jg, Jgr),
                         in[IN_DJG][l]);
      if (global_maps) {
        ndtc_global[l] = (unsigned char)nd;
        int sign_differs = sign_of(J) != sign_of(Jg);
        int favoured_differs = sign_of(fabs(J) - fabs(Jr)) != sign_of(fabs(Jg) - fabs(Jgr));
        regime[l] = (unsigned char)(sign_differs | favoured_differs << 1);
        ratio_gj[l] = Jg / J;
      }
    }
    if (l + 1 == l1) break;
    int k = qtm_tile_step(t, n, w.coord);
    ++w.flat;
    w.line += qtm_tile_step_delta(t, n, x->line_stride, k);
    w.outer += qtm_tile_step_delta(t, n, x->outer_stride, k);
    qtm_grid_point_step(d, a->g->values, w.coord, k, derived_last, &w.p);
  }
}

/* ---- Merging the parts into the analysis ----------------------------------------------------- */

/* The analysis' index of the tile's own entry e over the axes `axes` (a mask). */
static int64_t grid_entry(const qtm_analysis *a, const qtm_tile *t, unsigned axes,
                          const int64_t *grid_stride, int64_t e) {
  int64_t i = 0;
  for (int k = a->naxes - 1; k >= 0; --k)
    if (axes >> k & 1u) {
      i += (t->start[k] + e % t->count[k]) * grid_stride[k];
      e /= t->count[k];
    }
  return i;
}

/* The parts' onsets and maxima, entry by entry (each entry merged by one thread of the team,
 * so no two write the same place); the buffers are left empty for the next tile. */
static void merge_buffers(qtm_analysis *a, const qtm_tile *t, int nparts) {
  const unsigned use_line = line_axes(a), use_outer = outer_axes(a);
  int64_t line_lo = INT64_MAX, line_hi = -1, outer_lo = INT64_MAX, outer_hi = -1;
  for (int p = 0; p < nparts; ++p) {
    const tile_part *q = &a->parts[p];
    if (q->line_lo < line_lo) line_lo = q->line_lo;
    if (q->line_hi > line_hi) line_hi = q->line_hi;
    if (q->outer_lo < outer_lo) outer_lo = q->outer_lo;
    if (q->outer_hi > outer_hi) outer_hi = q->outer_hi;
  }
#pragma omp for schedule(static)
  for (int64_t e = line_lo; e <= line_hi; ++e) {
    int64_t g = grid_entry(a, t, use_line, a->line_stride, e);
    for (int p = 0; p < nparts; ++p)
      for (int r = 0; r < nregimes(a); ++r) {
        int64_t *pos = &a->parts[p].r[r].onset_pos[e];
        if (*pos < a->r[r].onset_pos[g]) a->r[r].onset_pos[g] = *pos;
        *pos = NONE;
      }
  }
#pragma omp for schedule(static)
  for (int64_t e = outer_lo; e <= outer_hi; ++e) {
    int64_t g = grid_entry(a, t, use_outer, a->outer_stride, e);
    for (int p = 0; p < nparts; ++p)
      for (int r = 0; r < nregimes(a); ++r) {
        regime_state *s = &a->parts[p].r[r], *to = &a->r[r];
        if (s->arg_c[e] != NONE)
          qtm_analysis_offer_max(s->best_c[e], s->arg_c[e], &to->best_c[g], &to->arg_c[g]);
        if (s->arg_r[e] != NONE)
          qtm_analysis_offer_max(s->best_r[e], s->arg_r[e], &to->best_r[g], &to->arg_r[g]);
        s->best_c[e] = s->best_r[e] = -INFINITY;
        s->arg_c[e] = s->arg_r[e] = NONE;
      }
  }
}

/* The parts' counts, top-K and fronts (small), emptied for the next tile. */
static void merge_lists(qtm_analysis *a, int nparts) {
  for (int p = 0; p < nparts; ++p) {
    tile_part *q = &a->parts[p];
    for (int r = 0; r < nregimes(a); ++r) {
      regime_state *s = &q->r[r], *to = &a->r[r];
      to->ndtc_count += s->ndtc_count;
      to->applicable_count += s->applicable_count;
      for (int i = 0; i < s->ntop; ++i)
        qtm_analysis_offer_top(to, a->spec.top_k, s->top[i].value, s->top[i].index);
      for (int64_t i = 0; i < s->nfront; ++i)
        qtm_analysis_offer_front(to, s->front[i].c, s->front[i].j, s->front[i].index);
      s->ndtc_count = s->applicable_count = 0;
      s->ntop = 0;
      s->nfront = 0;
    }
    q->line_lo = q->outer_lo = INT64_MAX;
    q->line_hi = q->outer_hi = -1;
  }
}

int qtm_analysis_threads(const qtm_analysis *a) { return a->threads; }

/* The calling thread's target: the first thread of a team (or no team) reduces into the
 * analysis, thread i > 0 into part i - 1. */
static void target_of_thread(qtm_analysis *a, const qtm_tile *t, target *x) {
  int id = omp_get_thread_num();
  if (id == 0) target_of_analysis(a, t, x);
  else target_of_part(a, &a->parts[id - 1], t, x);
}

void qtm_analysis_range(qtm_analysis *a, const qtm_tile *t, const double *const *in,
                        void *const *dense, int64_t l0, int64_t l1) {
  target x;
  target_of_thread(a, t, &x);
  reduce_points(a, &x, t, in, dense, l0, l1);
}

void qtm_analysis_tile_end(qtm_analysis *a, const qtm_tile *t) {
  int nparts = omp_get_num_threads() - 1;
  if (nparts == 0) return; /* no team: the one thread reduced into the analysis itself */
  merge_buffers(a, t, nparts);
#pragma omp single
  merge_lists(a, nparts);
}

void qtm_analysis_tile(qtm_analysis *a, const qtm_tile *t, const double *const *in,
                       void *const *dense) {
  if (a->threads <= 1 || t->npoints < a->min_shared_points) {
    qtm_analysis_range(a, t, in, dense, 0, t->npoints);
    return;
  }
#pragma omp parallel num_threads(a->threads)
  {
    /* Chunks handed out as threads come free: a thread the writer thread (or another job)
     * keeps off its core for a while does not hold the others up at the barrier. */
    int64_t chunk = t->npoints / (4 * (int64_t)omp_get_num_threads());
    chunk = chunk < 1 ? 1 : chunk > 4096 ? 4096 : chunk;
#pragma omp for schedule(dynamic, 1)
    for (int64_t c = 0; c < (t->npoints + chunk - 1) / chunk; ++c) {
      int64_t l1 = (c + 1) * chunk < t->npoints ? (c + 1) * chunk : t->npoints;
      qtm_analysis_range(a, t, in, dense, c * chunk, l1);
    }
    qtm_analysis_tile_end(a, t);
  }
}
