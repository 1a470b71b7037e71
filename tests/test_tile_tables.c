/* The per-tile tables of transcendental factors (tile_eval.h) give the same bits as the point
 * evaluated on its own. Edge-case grids (T = 0, TL == TR, g = 0, g close to and equal to omega,
 * rates 0, every statistics in {-1, 0, 0.3, 1}, N = 1, 2, 3, omega as an axis and fixed, the
 * derived axes T, DeltaT and gamma_ratio, axes in several orders) are cut into tiles of many
 * shapes; every observable of every point, through the CPU backend and through
 * qtm_tile_eval_point_tab with tables built for several observable sets, is compared by memcmp
 * with qtm_grid_point + qtm_eval_closed_point at that point. The tests also check that tables
 * were in use (and that some tiles fell back to the per-point path), so that they cannot pass
 * vacuously. The CPU's vector path (src/tile_eval_vec.c) is held to the same bits where it
 * applies (and required to run there on a CPU with AVX-512): whole tiles and runs split at a
 * third and around its block size, float64 against the point alone and float32 against the
 * scalar path, over outputs filled with a pattern so that a value left unwritten shows. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qtm/backend.h"
#include "qtm/grid.h"
#include "qtm/physics.h"
#include "qtm/tile_eval.h"
#include "../src/tile_eval_vec.h"

#define MAXV 8 /* coordinates per axis in these grids */

typedef struct grid_case {
  const char *name;
  int naxes;
  int id[QTM_MAX_AXES];
  int n[QTM_MAX_AXES];
  double v[QTM_MAX_AXES][MAXV];
  qtm_params fixed;
} grid_case;

/* What a tile's tables were: counted over every tile and observable set of a test. */
typedef struct usage {
  long local_tables, stats_tables, global_tables, rates_tables, per_point_tiles, points;
  long vec_runs; /* runs of points the CPU's vector path evaluated */
} usage;

static qtm_params base_fixed(void) {
  qtm_params p = {1.0, 0.5, 0.0, 0.02, 0.02, 0.3, 1.0, 1.0, -1.0, 2};
  return p;
}

static void grid_from_case(const grid_case *c, qtm_grid *g) {
  int64_t count[QTM_MAX_AXES];
  const double *vals[QTM_MAX_AXES];
  char err[256] = "";
  for (int k = 0; k < c->naxes; ++k) {
    count[k] = c->n[k];
    vals[k] = c->v[k];
  }
  cr_assert_eq(qtm_grid_init(g, c->naxes, c->id, count, vals, &c->fixed, err, sizeof err),
               QTM_OK, "%s: %s", c->name, err);
}

/* The reference: point l of tile t evaluated on its own, every observable. */
static void reference_point(const qtm_grid *g, const qtm_tile *t, int64_t l, qtm_obs *o) {
  int64_t coord[QTM_MAX_AXES] = {0};
  int64_t rest = l;
  for (int k = g->desc.naxes - 1; k >= 0; --k) {
    coord[k] = t->start[k] + rest % t->count[k];
    rest /= t->count[k];
  }
  qtm_params p;
  qtm_grid_point(&g->desc, g->values, coord, &p);
  cr_assert_eq(qtm_params_validate(&p, NULL), QTM_OK, "invalid test point");
  qtm_eval_closed_point(&p, o);
}

static void expect_same_bits(const char *what, const qtm_grid *g, const qtm_tile *t,
                             const qtm_tile_out *out) {
  for (int64_t l = 0; l < t->npoints; ++l) {
    qtm_obs ref;
    reference_point(g, t, l, &ref);
    for (int j = 0; j < out->nobs; ++j) {
      double got = ((const double *)out->data[j])[l];
      double want = ref.v[out->obs[j]];
      cr_assert(memcmp(&got, &want, sizeof got) == 0,
                "%s, tile %lld point %lld, %s: %.17g, alone %.17g", what, (long long)t->index,
                (long long)l, qtm_obs_table[out->obs[j]].name, got, want);
    }
  }
}

static void out_init(qtm_tile_out *out, unsigned need, int64_t npoints) {
  memset(out, 0, sizeof *out);
  out->dtype = QTM_DTYPE_F64;
  for (int id = 0; id < QTM_OBS_COUNT; ++id)
    if (need & QTM_OBS_BIT(id)) {
      out->obs[out->nobs] = id;
      out->data[out->nobs] = malloc((size_t)npoints * sizeof(double));
      cr_assert_not_null(out->data[out->nobs]);
      ++out->nobs;
    }
}

/* Fills the outputs with the byte 0xA5 (-2.5e-127 as a double, -2.9e-16 as a float), which no
 * evaluation here gives, so that a value left unwritten shows, also where the reference is 0. */
static void out_poison(const qtm_tile_out *out, int64_t npoints) {
  size_t size = out->dtype == QTM_DTYPE_F32 ? sizeof(float) : sizeof(double);
  for (int j = 0; j < out->nobs; ++j) memset(out->data[j], 0xA5, (size_t)npoints * size);
}

/* The vector path on the whole tile and on runs split at a third and around the block size
 * (127, 128, 129), against the point alone (float64) and against the scalar path (float32,
 * byte for byte); returns 0 where the path does not apply. */
static int check_vector_path(const char *what, const qtm_grid *g, const qtm_tile *t,
                             qtm_tile_out *out, unsigned need, const qtm_tile_tables *tab) {
  out_poison(out, t->npoints);
  if (!qtm_tile_eval_range_vec(&g->desc, g->values, t, 0, t->npoints, out, need, tab)) return 0;
  expect_same_bits(what, g, t, out);
  const int64_t splits[] = {t->npoints / 3, 127, 128, 129};
  for (size_t k = 0; k < sizeof splits / sizeof *splits; ++k) {
    int64_t m = splits[k];
    if (m <= 0 || m >= t->npoints) continue;
    out_poison(out, t->npoints);
    cr_assert(qtm_tile_eval_range_vec(&g->desc, g->values, t, 0, m, out, need, tab));
    cr_assert(qtm_tile_eval_range_vec(&g->desc, g->values, t, m, t->npoints, out, need, tab));
    expect_same_bits(what, g, t, out);
  }
  qtm_tile_out v32 = *out, s32 = *out;
  v32.dtype = s32.dtype = QTM_DTYPE_F32;
  for (int j = 0; j < out->nobs; ++j) {
    v32.data[j] = malloc((size_t)t->npoints * sizeof(float));
    s32.data[j] = malloc((size_t)t->npoints * sizeof(float));
    cr_assert(v32.data[j] && s32.data[j]);
  }
  out_poison(&v32, t->npoints);
  out_poison(&s32, t->npoints);
  cr_assert(qtm_tile_eval_range_vec(&g->desc, g->values, t, 0, t->npoints, &v32, need, tab));
  qtm_tile_eval_range(&g->desc, g->values, t, 0, t->npoints, &s32, need, tab);
  for (int j = 0; j < out->nobs; ++j) {
    cr_assert(memcmp(v32.data[j], s32.data[j], (size_t)t->npoints * sizeof(float)) == 0,
              "%s: float32 %s differs from the scalar path", what,
              qtm_obs_table[out->obs[j]].name);
    free(v32.data[j]);
    free(s32.data[j]);
  }
  return 1;
}

static void out_free(qtm_tile_out *out) {
  for (int j = 0; j < out->nobs; ++j) free(out->data[j]);
}

/* The observable sets the tables are built for: all, the benchmark's six, each alone, and a
 * few mixtures (a table holds only what its set needs). */
static int need_sets(unsigned *sets) {
  int n = 0;
  sets[n++] = QTM_OBS_ALL;
  sets[n++] = QTM_OBS_BIT(QTM_OBS_J) | QTM_OBS_BIT(QTM_OBS_J_rev) |
              QTM_OBS_BIT(QTM_OBS_contrast) | QTM_OBS_BIT(QTM_OBS_ratio) |
              QTM_OBS_BIT(QTM_OBS_J_global) | QTM_OBS_BIT(QTM_OBS_contrast_global);
  for (int id = 0; id < QTM_OBS_COUNT; ++id) sets[n++] = QTM_OBS_BIT(id);
  sets[n++] = QTM_OBS_BIT(QTM_OBS_kappa1) | QTM_OBS_BIT(QTM_OBS_kappa_global);
  sets[n++] = QTM_OBS_BIT(QTM_OBS_kappa2) | QTM_OBS_BIT(QTM_OBS_J_global_rev);
  sets[n++] = QTM_OBS_BIT(QTM_OBS_dJ_dTL) | QTM_OBS_BIT(QTM_OBS_dJ_global_dTL) |
              QTM_OBS_BIT(QTM_OBS_concurrence);
  sets[n++] = QTM_VEC_OBS;
  sets[n++] = QTM_OBS_BIT(QTM_OBS_J) | QTM_OBS_BIT(QTM_OBS_J_rev) | /* the analysis' inputs */
              QTM_OBS_BIT(QTM_OBS_contrast) | QTM_OBS_BIT(QTM_OBS_ratio) |
              QTM_OBS_BIT(QTM_OBS_dJ_dTL) | QTM_OBS_BIT(QTM_OBS_J_global) |
              QTM_OBS_BIT(QTM_OBS_J_global_rev) | QTM_OBS_BIT(QTM_OBS_contrast_global) |
              QTM_OBS_BIT(QTM_OBS_dJ_global_dTL);
  return n;
}

/* Every tile of c cut into tiles of tile_points points, through qtm_tile_eval_point_tab with
 * the tables for each observable set, and through the CPU backend (all observables, 2
 * threads), against the points alone. */
static void check_case(const grid_case *c, int64_t tile_points, usage *u) {
  qtm_grid g;
  grid_from_case(c, &g);
  qtm_tiling tl;
  qtm_tiling_init(&tl, &g, tile_points);
  unsigned sets[QTM_OBS_COUNT + 8];
  int nsets = need_sets(sets);
  char what[160];

  for (int64_t k = 0; k < tl.ntiles; ++k) {
    qtm_tile t;
    qtm_tiling_tile(&tl, &g, k, &t);
    for (int s = 0; s < nsets; ++s) {
      qtm_tile_out out;
      qtm_tile_tables tab;
      out_init(&out, sets[s], t.npoints);
      qtm_tile_tables_init(&tab, &g.desc, &t, sets[s]);
      qtm_tile_tables_fill(&tab, &g.desc, g.values, &t, sets[s]);
      u->local_tables += tab.local != NULL;
      u->stats_tables += tab.stats != NULL;
      u->global_tables += tab.global != NULL;
      u->rates_tables += tab.rates != NULL;
      /* per point: a table the set needs that the tile did not get (too many entries) */
      unsigned n = sets[s];
      u->per_point_tiles += ((n & (QTM_NEED_LOCAL | QTM_NEED_MEAN_T)) && !tab.local) ||
                            ((n & QTM_NEED_LOCAL) && !tab.stats) ||
                            ((n & QTM_NEED_GLOBAL) && !tab.global) ||
                            ((n & QTM_OBS_BIT(QTM_OBS_ndtc_threshold)) && !tab.rates);
      for (int64_t l = 0; l < t.npoints; ++l)
        qtm_tile_eval_point_tab(&g.desc, g.values, &t, l, &out, sets[s], &tab);
      u->points += t.npoints;
      snprintf(what, sizeof what, "%s (tiles of %lld, set %d)", c->name, (long long)tile_points,
               s);
      expect_same_bits(what, &g, &t, &out);
      snprintf(what, sizeof what, "%s (vector path, tiles of %lld, set %d)", c->name,
               (long long)tile_points, s);
      u->vec_runs += check_vector_path(what, &g, &t, &out, sets[s], &tab);
      qtm_tile_tables_free(&tab);
      out_free(&out);
    }
  }

  /* The backend, as a scan runs it: every observable (split between the vector path, where it
   * applies, and the scalar one), the benchmark's six and all of the vector path's. */
  const unsigned backend_sets[] = {QTM_OBS_ALL, sets[1], QTM_VEC_OBS};
  for (size_t s = 0; s < sizeof backend_sets / sizeof *backend_sets; ++s) {
    qtm_scan_plan plan = {&g, tl.max_tile_points, QTM_DTYPE_F64, 0, {0}, 0};
    qtm_tile_out out;
    out_init(&out, backend_sets[s], tl.max_tile_points);
    plan.nobs = out.nobs;
    memcpy(plan.obs, out.obs, sizeof plan.obs);
    qtm_backend *b = NULL;
    char err[256] = "";
    cr_assert_eq(qtm_backend_cpu_open(&plan, 2, &b, err, sizeof err), QTM_OK, "%s", err);
    for (int64_t k = 0; k < tl.ntiles; ++k) {
      qtm_tile t;
      qtm_tiling_tile(&tl, &g, k, &t);
      cr_assert_eq(b->ops->eval_tile(b, &t, &out, err, sizeof err), QTM_OK, "%s", err);
      snprintf(what, sizeof what, "%s (CPU backend, tiles of %lld, set %zu)", c->name,
               (long long)tile_points, s);
      expect_same_bits(what, &g, &t, &out);
    }
    qtm_backend_free(b);
    out_free(&out);
  }
  qtm_grid_free(&g);
}

static void check_all_tilings(const grid_case *c, usage *u) {
  static const int64_t tile_points[] = {1, 2, 7, 37, 100, 1000, 1 << 20};
  for (size_t i = 0; i < sizeof tile_points / sizeof *tile_points; ++i)
    check_case(c, tile_points[i], u);
}

static void expect_tables_used(const char *name, const usage *u) {
  cr_assert(u->local_tables > 0, "%s: no tile had a local table", name);
  cr_assert(u->stats_tables > 0, "%s: no tile had a table of local statistics parts", name);
  cr_assert(u->global_tables > 0, "%s: no tile had a global table", name);
  cr_assert(u->rates_tables > 0, "%s: no tile had a table of rate factors", name);
  cr_assert(u->per_point_tiles > 0, "%s: no tile took the per-point path", name);
}

/* Where the CPU has the vector path (AVX-512), it ran on the grids it applies to, and on no
 * other (one with an axis of the statistics). */
static void expect_vector_path(const char *name, const usage *u, int applies) {
  if (!qtm_tile_vec_available()) {
    cr_log_warn("%s: this CPU has no AVX-512, the vector path was not tested", name);
    return;
  }
  if (applies) cr_assert(u->vec_runs > 0, "%s: the vector path never ran", name);
  else cr_assert_eq(u->vec_runs, 0, "%s: the vector path ran where it does not apply", name);
}

/* The benchmark's layout, TL x TR x gamma_ratio x g, with T = 0, TL == TR, g = 0, g close to
 * omega, g = omega and beyond, a rate 0 and extreme temperatures. */
static grid_case bench_like(void) {
  grid_case c = {"TL x TR x gamma_ratio x g", 4,
                 {QTM_PARAM_TL, QTM_PARAM_TR, QTM_AXIS_gamma_ratio, QTM_PARAM_g},
                 {6, 4, 3, 6},
                 {{0.0, 1e-3, 0.3, 1.0, 50.0, 1e5},
                  {0.0, 0.3, 1.0, 2.0},
                  {0.0, 0.5, 1.0},
                  {0.0, 0.05, 0.5, 1.0 - 1e-9, 1.0, 1.5}},
                 base_fixed()};
  return c;
}

Test(tile_tables, benchmark_layout_with_edges) {
  usage u = {0};
  grid_case c = bench_like();
  check_all_tilings(&c, &u);
  expect_tables_used(c.name, &u);
  expect_vector_path(c.name, &u, 1);
}

/* Tiles of >= 4096 points, which the CPU backend evaluates with its OpenMP team: the tables
 * are then filled by both threads before any point reads them (and, for the per-point path,
 * tiles of 2 points). */
Test(tile_tables, tables_filled_by_the_team) {
  usage u = {0};
  grid_case c = {"TL x TR x gamma_ratio x g, 8^4 points", 4,
                 {QTM_PARAM_TL, QTM_PARAM_TR, QTM_AXIS_gamma_ratio, QTM_PARAM_g},
                 {8, 8, 8, 8},
                 {{0.0, 1e-3, 0.05, 0.3, 1.0, 3.0, 50.0, 1e5},
                  {0.0, 1e-3, 0.05, 0.3, 1.0, 2.0, 3.0, 10.0},
                  {0.0, 1e-3, 0.01, 0.1, 0.5, 1.0, 2.0, 10.0},
                  {0.0, 0.05, 0.2, 0.5, 0.9, 1.0 - 1e-9, 1.0, 1.5}},
                 base_fixed()};
  check_case(&c, 4096, &u);
  check_case(&c, 1 << 20, &u);
  check_case(&c, 2, &u);
  expect_tables_used(c.name, &u);
  expect_vector_path(c.name, &u, 1);
}

/* The same axes in other orders: the tables follow the axes wherever they are. */
Test(tile_tables, any_axis_order) {
  static const int orders[][4] = {{3, 2, 1, 0}, {2, 0, 3, 1}, {1, 3, 0, 2}};
  usage u = {0};
  grid_case c0 = bench_like();
  for (size_t o = 0; o < sizeof orders / sizeof *orders; ++o) {
    grid_case c = c0;
    c.name = "TL x TR x gamma_ratio x g, axes reordered";
    for (int k = 0; k < 4; ++k) {
      c.id[k] = c0.id[orders[o][k]];
      c.n[k] = c0.n[orders[o][k]];
      memcpy(c.v[k], c0.v[orders[o][k]], sizeof c.v[k]);
    }
    check_all_tilings(&c, &u);
  }
  expect_tables_used("reordered axes", &u);
  expect_vector_path("reordered axes", &u, 1);
}

/* Every statistics combination with N = 1, 2, 3, TL == TR (TR fixed at 0.2) and T = 0. */
Test(tile_tables, statistics_and_chain_length) {
  usage u = {0};
  grid_case c = {"epsL x epsR x eps_a x N x TL", 5,
                 {QTM_PARAM_epsL, QTM_PARAM_epsR, QTM_PARAM_eps_a, QTM_PARAM_N, QTM_PARAM_TL},
                 {4, 4, 4, 3, 3},
                 {{-1.0, 0.0, 0.3, 1.0},
                  {-1.0, 0.0, 0.3, 1.0},
                  {-1.0, 0.0, 0.3, 1.0},
                  {1, 2, 3},
                  {0.0, 0.2, 1.0}},
                 base_fixed()};
  c.fixed.TR = 0.2;
  check_all_tilings(&c, &u);
  expect_tables_used(c.name, &u);
  expect_vector_path(c.name, &u, 0); /* the statistics vary from point to point */
}

/* Fixed unequal bath statistics (a fermionic right bath): the local contrast needs the pair
 * there, so the vector path leaves local observables to the scalar one; the global ones, NaN
 * (no global forms for fermionic baths), it evaluates. */
Test(tile_tables, unequal_bath_statistics) {
  usage u = {0};
  grid_case c = {"TL x g x gamma_ratio, epsR = -1", 3,
                 {QTM_PARAM_TL, QTM_PARAM_g, QTM_AXIS_gamma_ratio},
                 {5, 4, 3},
                 {{0.0, 0.1, 0.5, 2.0, 40.0}, {0.0, 0.3, 0.8, 1.2}, {0.0, 0.4, 2.0}},
                 base_fixed()};
  c.fixed.epsR = -1.0;
  c.fixed.TR = 0.3;
  check_all_tilings(&c, &u);
  expect_tables_used(c.name, &u);
  expect_vector_path(c.name, &u, 1);
}

/* omega as an axis, T (TL = TR) and gamma_ratio derived axes, gammaR as an axis with 0. */
Test(tile_tables, omega_axis_and_T_axis) {
  usage u = {0};
  grid_case c = {"g x omega x gammaR x T x gamma_ratio", 5,
                 {QTM_PARAM_g, QTM_PARAM_omega, QTM_PARAM_gammaR, QTM_AXIS_T,
                  QTM_AXIS_gamma_ratio},
                 {4, 3, 2, 4, 3},
                 {{0.0, 0.5, 1.0 - 1e-12, 1.9},
                  {0.5, 1.0, 2.0},
                  {0.0, 0.02},
                  {0.0, 0.1, 1.0, 10.0},
                  {0.0, 1.0, 3.0}},
                 base_fixed()};
  check_all_tilings(&c, &u);
  expect_tables_used(c.name, &u);
  expect_vector_path(c.name, &u, 1);
}

/* DeltaT (TL = TR + DeltaT) over a TR axis, with DeltaT = 0 (TL == TR) and TR = 0, the gap
 * factor's sign cases, rates 0 on the left, a fixed omega other than 1. */
Test(tile_tables, deltaT_axis) {
  usage u = {0};
  grid_case c = {"DeltaT x gammaL x TR x g", 4,
                 {QTM_AXIS_DeltaT, QTM_PARAM_gammaL, QTM_PARAM_TR, QTM_PARAM_g},
                 {4, 3, 3, 3},
                 {{0.0, 1e-9, 0.25, 1.0}, {0.0, 0.01, 0.1}, {0.0, 0.5, 1.0}, {0.2, 0.7, 1.3}},
                 base_fixed()};
  c.fixed.omega = 1.3;
  c.fixed.gammaR = 0.05;
  check_all_tilings(&c, &u);
  expect_tables_used(c.name, &u);
  expect_vector_path(c.name, &u, 1);
}

/* A T axis and a TL axis together (the later one wins for TL, as qtm_grid_point has it), and
 * a DeltaT axis before the TR axis it reads: the tables' axes must follow the same rules. */
Test(tile_tables, overriding_axes) {
  usage u = {0};
  grid_case c1 = {"T then TL x g", 3,
                  {QTM_AXIS_T, QTM_PARAM_TL, QTM_PARAM_g},
                  {3, 3, 4},
                  {{0.0, 0.4, 2.0}, {0.0, 0.4, 3.0}, {0.0, 0.3, 0.6, 0.9}},
                  base_fixed()};
  check_all_tilings(&c1, &u);
  grid_case c2 = {"DeltaT x gamma_ratio x TR x omega", 4,
                  {QTM_AXIS_DeltaT, QTM_AXIS_gamma_ratio, QTM_PARAM_TR, QTM_PARAM_omega},
                  {3, 3, 3, 2},
                  {{0.0, 0.1, 2.0}, {0.0, 0.3, 1.0}, {0.0, 0.2, 4.0}, {0.6, 1.0}},
                  base_fixed()};
  check_all_tilings(&c2, &u);
  expect_tables_used("overriding axes", &u);
  expect_vector_path("overriding axes", &u, 1);
}

/* The tables' axes are the ones qtm_grid_point reads TL, TR, omega and g from. */
Test(tile_tables, factor_axes) {
  qtm_grid_desc d;
  memset(&d, 0, sizeof d);
  unsigned la, sa, ga, ra;
  d.naxes = 4;
  d.axis_id[0] = QTM_PARAM_TL;
  d.axis_id[1] = QTM_PARAM_TR;
  d.axis_id[2] = QTM_AXIS_gamma_ratio;
  d.axis_id[3] = QTM_PARAM_g;
  qtm_factor_axes(&d, &la, &sa, &ga, &ra);
  cr_assert_eq(la, 0x3u);
  cr_assert_eq(sa, 0x3u);
  cr_assert_eq(ga, 0xbu);
  cr_assert_eq(ra, 0xcu);
  d.axis_id[0] = QTM_AXIS_DeltaT;
  d.axis_id[1] = QTM_PARAM_epsL;
  d.axis_id[2] = QTM_PARAM_TR;
  d.axis_id[3] = QTM_PARAM_omega;
  qtm_factor_axes(&d, &la, &sa, &ga, &ra);
  cr_assert_eq(la, 0xdu);
  cr_assert_eq(sa, 0xfu);
  cr_assert_eq(ga, 0xdu);
  cr_assert_eq(ra, 0xau);
  d.axis_id[0] = QTM_PARAM_TL;
  d.axis_id[1] = QTM_AXIS_T; /* overrides TL */
  d.axis_id[2] = QTM_PARAM_gammaL;
  d.axis_id[3] = QTM_PARAM_N;
  qtm_factor_axes(&d, &la, &sa, &ga, &ra);
  cr_assert_eq(la, 0x2u);
  cr_assert_eq(sa, 0x2u);
  cr_assert_eq(ga, 0x2u);
  cr_assert_eq(ra, 0xcu);
}
