/* The analysis against brute force: maxima, argmaxima, top-K and Pareto fronts equal plain
 * loops over every point written here; they are identical whatever the tiling and the order
 * of the tiles; NDTC onsets agree with a dense fine-grid search of dJ/dTL along each line and,
 * at TR = 1e-3, with Eq. 17; refined maxima are at least as good as the grid's and stay inside
 * the neighbouring cells. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qtm/analysis.h"
#include "qtm/backend.h"
#include "qtm/physics.h"
#include "testutil.h"

/* ---- A scan driven through the analysis API, with the CPU backend ----------------------- */

typedef struct run {
  qtm_grid grid;
  qtm_analysis *an;
} run;

static void make_grid(qtm_grid *g, int naxes, const int *ids, const int64_t *n,
                      const double *const *v, const qtm_params *fixed) {
  char err[256];
  cr_assert_eq(qtm_grid_init(g, naxes, ids, n, v, fixed, err, sizeof err), QTM_OK, "%s", err);
}

/* The OpenMP threads the analysis shares each tile among (qtm_analysis_use_threads, down to
 * one-point tiles), set by the tests of that sharing; 1: not shared. */
static int analysis_threads = 1;

/* Runs the analysis over the tiles [first, end) of a tiling of target_points (every tile when
 * end < 0), in shuffled order when `shuffle`, and finishes it when `finish`. */
static qtm_analysis *analyse_range(qtm_backend_kind kind, const qtm_grid *g,
                                   const qtm_analysis_spec *spec, int64_t target, int shuffle,
                                   uint64_t seed, int64_t first, int64_t end, int finish,
                                   char *why, size_t whycap);

static qtm_analysis *analyse_on(qtm_backend_kind kind, const qtm_grid *g,
                                const qtm_analysis_spec *spec, int64_t target, int shuffle,
                                uint64_t seed, char *why, size_t whycap) {
  return analyse_range(kind, g, spec, target, shuffle, seed, 0, -1, 1, why, whycap);
}

static qtm_analysis *analyse(const qtm_grid *g, const qtm_analysis_spec *spec, int64_t target,
                             int shuffle, uint64_t seed) {
  char why[256];
  qtm_analysis *an = analyse_on(QTM_BACKEND_CPU, g, spec, target, shuffle, seed, why, sizeof why);
  cr_assert_not_null(an, "%s", why);
  return an;
}

/* On the backend of that kind; NULL with the reason when it cannot be opened. */
static qtm_analysis *analyse_range(qtm_backend_kind kind, const qtm_grid *g,
                                   const qtm_analysis_spec *spec, int64_t target, int shuffle,
                                   uint64_t seed, int64_t first, int64_t end, int finish,
                                   char *why, size_t whycap) {
  char err[256];
  qtm_analysis *an;
  cr_assert_eq(qtm_analysis_create(spec, g, &an, err, sizeof err), QTM_OK, "%s", err);
  qtm_tiling tiling;
  qtm_tiling_init(&tiling, g, target);
  if (analysis_threads > 1)
    cr_assert_eq(qtm_analysis_use_threads(an, &tiling, analysis_threads, 1, err, sizeof err),
                 QTM_OK, "%s", err);
  qtm_scan_plan plan = {g, tiling.max_tile_points, QTM_DTYPE_F64, 0, {0}, 0};
  plan.nobs = qtm_analysis_inputs(an, plan.obs);
  qtm_backend *b;
  qtm_status st = kind == QTM_BACKEND_CUDA ? qtm_backend_cuda_open(&plan, &b, why, whycap)
                                           : qtm_backend_cpu_open(&plan, 1, &b, why, whycap);
  if (st != QTM_OK) {
    qtm_analysis_free(an);
    return NULL;
  }
  qtm_tile_out out = {QTM_DTYPE_F64, plan.nobs, {0}, {0}};
  memcpy(out.obs, plan.obs, sizeof out.obs);
  for (int j = 0; j < plan.nobs; ++j) out.data[j] = malloc((size_t)plan.max_tile_points * 8);
  const qtm_dense_map *maps;
  int ndense = qtm_analysis_dense_maps(an, &maps);
  void *dense[QTM_ANALYSIS_MAX_DENSE];
  for (int m = 0; m < ndense; ++m) dense[m] = malloc((size_t)plan.max_tile_points * 8);
  int64_t *order = malloc((size_t)tiling.ntiles * sizeof *order);
  if (end < 0) end = tiling.ntiles;
  int64_t ntiles = end - first;
  for (int64_t k = 0; k < ntiles; ++k) order[k] = first + k;
  qtm_rng r;
  r.state = seed;
  for (int64_t k = ntiles - 1; shuffle && k > 0; --k) {
    int64_t j = (int64_t)(qtm_rng_next(&r) % (uint64_t)(k + 1));
    int64_t t = order[k];
    order[k] = order[j];
    order[j] = t;
  }
  for (int64_t k = 0; k < ntiles; ++k) {
    qtm_tile tile;
    qtm_tiling_tile(&tiling, g, order[k], &tile);
    cr_assert_eq(b->ops->eval_tile(b, &tile, &out, err, sizeof err), QTM_OK);
    qtm_analysis_tile(an, &tile, (const double *const *)out.data, dense);
  }
  if (finish) cr_assert_eq(qtm_analysis_finish(an, err, sizeof err), QTM_OK, "%s", err);
  for (int j = 0; j < plan.nobs; ++j) free(out.data[j]);
  for (int m = 0; m < ndense; ++m) free(dense[m]);
  free(order);
  qtm_backend_free(b);
  return an;
}

static const qtm_reduced_map *find_map(const qtm_analysis *an, const char *name) {
  const qtm_reduced_map *m;
  int n = qtm_analysis_reduced_maps(an, &m);
  for (int i = 0; i < n; ++i)
    if (strcmp(m[i].name, name) == 0) return &m[i];
  cr_assert_fail("no reduced map %s", name);
  return NULL;
}

static const qtm_table *find_table(const qtm_analysis *an, const char *name) {
  const qtm_table *t;
  int n = qtm_analysis_tables(an, &t);
  for (int i = 0; i < n; ++i)
    if (strcmp(t[i].name, name) == 0) return &t[i];
  cr_assert_fail("no table %s", name);
  return NULL;
}

static int field(const qtm_table *t, const char *name) {
  for (int i = 0; i < t->nfields; ++i)
    if (strcmp(t->fields[i], name) == 0) return i;
  cr_assert_fail("table %s has no field %s", t->name, name);
  return -1;
}

/* ---- The design grid: TL x TR x gamma_ratio x g, qubits between bosonic baths ------------- */

enum { NTL = 17, NTR = 3, NRAT = 6, NG = 4, NPTS = NTL * NTR * NRAT * NG };
static double TLv[NTL], TRv[NTR] = {0.0, 0.1, 0.3}, RATv[NRAT], Gv[NG] = {0.005, 0.02, 0.3, 0.8};

/* The design grid's axes, axis k of the grid being design axis order[k]. */
static void design_grid_in_order(qtm_grid *g, const int order[4]) {
  for (int i = 0; i < NTL; ++i) TLv[i] = 0.05 + 0.25 * i;
  for (int i = 0; i < NRAT; ++i) RATv[i] = pow(10.0, -2.0 + 0.4 * i);
  const int all_ids[4] = {QTM_PARAM_TL, QTM_PARAM_TR, QTM_AXIS_gamma_ratio, QTM_PARAM_g};
  const int64_t all_n[4] = {NTL, NTR, NRAT, NG};
  const double *all_v[4] = {TLv, TRv, RATv, Gv};
  int ids[4];
  int64_t n[4];
  const double *v[4];
  for (int k = 0; k < 4; ++k) {
    ids[k] = all_ids[order[k]];
    n[k] = all_n[order[k]];
    v[k] = all_v[order[k]];
  }
  qtm_params fixed;
  qtm_params_default(&fixed);
  fixed.gammaR = 0.02;
  make_grid(g, 4, ids, n, v, &fixed);
}

static void design_grid(qtm_grid *g) {
  const int order[4] = {0, 1, 2, 3};
  design_grid_in_order(g, order);
}

/* The brute-force truth, point by point, in row-major order of the design grid. */
typedef struct truth {
  qtm_params p[NPTS];
  double C[2][NPTS], R[2][NPTS], J[2][NPTS], Jr[2][NPTS];
} truth;

static truth *brute_force(void) {
  truth *t = calloc(1, sizeof *t);
  int n = 0;
  for (int a = 0; a < NTL; ++a)
    for (int b = 0; b < NTR; ++b)
      for (int c = 0; c < NRAT; ++c)
        for (int d = 0; d < NG; ++d, ++n) {
          qtm_params p = {1.0, TLv[a], TRv[b], RATv[c] * 0.02, 0.02, Gv[d], 1, 1, -1, 2};
          qtm_obs o;
          qtm_eval_closed_point(&p, &o);
          t->p[n] = p;
          t->C[0][n] = o.v[QTM_OBS_contrast];
          t->R[0][n] = o.v[QTM_OBS_ratio];
          t->J[0][n] = o.v[QTM_OBS_J];
          t->Jr[0][n] = o.v[QTM_OBS_J_rev];
          t->C[1][n] = o.v[QTM_OBS_contrast_global];
          t->J[1][n] = o.v[QTM_OBS_J_global];
          t->Jr[1][n] = o.v[QTM_OBS_J_global_rev];
          t->R[1][n] = qtm_global_applies(&p) ? fabs(t->J[1][n]) / fabs(t->Jr[1][n]) : NAN;
          if (t->J[1][n] == 0 && t->Jr[1][n] == 0) t->R[1][n] = NAN;
        }
  return t;
}

static const double MIN_CURRENT = 1e-5;

static int admissible(const truth *t, int r, int n) {
  return !isnan(t->C[r][n]) && fmax(fabs(t->J[r][n]), fabs(t->Jr[r][n])) >= MIN_CURRENT;
}

static qtm_analysis_spec design_spec(int refine) {
  qtm_analysis_spec s = {1, 2, {0, 1}, 10, MIN_CURRENT, refine, 0};
  return s;
}

/* Maxima over (TL, TR) for each (gamma_ratio, g), ties to the lowest flat index. */
static void check_maxima(const qtm_analysis *an, const truth *t, int r) {
  const char *sfx = r ? "_global" : "";
  char name[96];
  snprintf(name, sizeof name, "analysis/max_contrast%s", sfx);
  const qtm_reduced_map *mc = find_map(an, name);
  snprintf(name, sizeof name, "analysis/argmax_contrast%s_TL", sfx);
  const qtm_reduced_map *atl = find_map(an, name);
  snprintf(name, sizeof name, "analysis/max_ratio%s", sfx);
  const qtm_reduced_map *mr = find_map(an, name);
  snprintf(name, sizeof name, "analysis/argmax_ratio%s_TR", sfx);
  const qtm_reduced_map *atr = find_map(an, name);
  cr_assert_eq(mc->nkept, 2);
  cr_assert(mc->kept[0] == 2 && mc->kept[1] == 3, "kept axes are gamma_ratio, g");
  for (int c = 0; c < NRAT; ++c)
    for (int d = 0; d < NG; ++d) {
      int best_c = -1, best_r = -1;
      for (int a = 0; a < NTL; ++a)
        for (int b = 0; b < NTR; ++b) {
          int n = ((a * NTR + b) * NRAT + c) * NG + d;
          if (!admissible(t, r, n)) continue;
          if (best_c < 0 || t->C[r][n] > t->C[r][best_c]) best_c = n; /* loop order = index */
          if (!isnan(t->R[r][n]) && (best_r < 0 || t->R[r][n] > t->R[r][best_r])) best_r = n;
        }
      int o = c * NG + d;
      const double *vc = mc->data, *vtl = atl->data, *vr = mr->data, *vtr = atr->data;
      if (best_c < 0) {
        cr_expect(isnan(vc[o]), "%s: no admissible point, expected NaN", mc->name);
        continue;
      }
      cr_expect_eq(vc[o], t->C[r][best_c], "%s[%d,%d]", mc->name, c, d);
      cr_expect_eq(vtl[o], t->p[best_c].TL, "%s[%d,%d]", atl->name, c, d);
      cr_expect_eq(vr[o], t->R[r][best_r], "%s[%d,%d]", mr->name, c, d);
      cr_expect_eq(vtr[o], t->p[best_r].TR, "%s[%d,%d]", atr->name, c, d);
    }
}

static int cmp_rank_desc(const void *x, const void *y, void *ctx) {
  const double *C = ctx;
  int a = *(const int *)x, b = *(const int *)y;
  if (C[a] != C[b]) return C[a] > C[b] ? -1 : 1;
  return (a > b) - (a < b);
}

static const double *current_C;
static int cmp_rank(const void *x, const void *y) { return cmp_rank_desc(x, y, (void *)current_C); }

static void check_top_k(const qtm_analysis *an, const truth *t, int r) {
  const qtm_table *tk = find_table(an, r ? "analysis/top_k_global" : "analysis/top_k");
  static int idx[NPTS];
  int n = 0;
  for (int i = 0; i < NPTS; ++i)
    if (admissible(t, r, i)) idx[n++] = i;
  current_C = t->C[r];
  qsort(idx, (size_t)n, sizeof idx[0], cmp_rank);
  int k = n < 10 ? n : 10;
  cr_assert_eq(tk->nrows, k, "%s rows", tk->name);
  int fc = field(tk, "contrast"), ftl = field(tk, "TL"), fg = field(tk, "g"), fj = field(tk, "J");
  for (int i = 0; i < k; ++i) {
    const double *row = tk->rows + (size_t)i * (size_t)tk->nfields;
    cr_expect_eq(row[fc], t->C[r][idx[i]], "%s row %d contrast", tk->name, i);
    cr_expect_eq(row[ftl], t->p[idx[i]].TL, "%s row %d TL", tk->name, i);
    cr_expect_eq(row[fg], t->p[idx[i]].g, "%s row %d g", tk->name, i);
    cr_expect_eq(row[fj], t->J[r][idx[i]], "%s row %d J", tk->name, i);
  }
}

/* The front by its definition: no other point at least as good in both objectives and better
 * in one (identical points: the lower index stands). */
static void check_pareto(const qtm_analysis *an, const truth *t, int r) {
  const qtm_table *pf = find_table(an, r ? "analysis/pareto_global" : "analysis/pareto");
  static int on_front[NPTS];
  int count = 0;
  for (int i = 0; i < NPTS; ++i) {
    on_front[i] = 0;
    double ci = t->C[r][i], ji = fabs(t->J[r][i]);
    if (isnan(ci) || isnan(ji)) continue;
    int dominated = 0;
    for (int j = 0; j < NPTS && !dominated; ++j) {
      double cj = t->C[r][j], jj = fabs(t->J[r][j]);
      if (j == i || isnan(cj) || isnan(jj) || cj < ci || jj < ji) continue;
      dominated = cj > ci || jj > ji || j < i;
    }
    if (!dominated) on_front[i] = 1, count++;
  }
  cr_assert_eq(pf->nrows, count, "%s has %lld rows, brute force finds %d", pf->name,
               (long long)pf->nrows, count);
  int fc = field(pf, "contrast"), fj = field(pf, "J"), ftl = field(pf, "TL");
  double prev = -1;
  for (int64_t i = 0; i < pf->nrows; ++i) {
    const double *row = pf->rows + (size_t)i * (size_t)pf->nfields;
    cr_expect_geq(fabs(row[fj]), prev, "%s must be sorted by increasing current", pf->name);
    prev = fabs(row[fj]);
    int found = 0;
    for (int n = 0; n < NPTS && !found; ++n)
      found = on_front[n] && t->C[r][n] == row[fc] && t->J[r][n] == row[fj] && t->p[n].TL == row[ftl];
    cr_expect(found, "%s row %lld (contrast %g, J %g) is not on the brute-force front", pf->name,
              (long long)i, row[fc], row[fj]);
  }
}

Test(analysis, maxima_top_k_pareto_equal_brute_force) {
  qtm_grid g;
  design_grid(&g);
  truth *t = brute_force();
  qtm_analysis_spec spec = design_spec(0);
  for (analysis_threads = 1; analysis_threads <= 4; analysis_threads += 3) {
    qtm_analysis *an = analyse(&g, &spec, 100, 1, 11);
    for (int r = 0; r < 2; ++r) {
      check_maxima(an, t, r);
      check_top_k(an, t, r);
      check_pareto(an, t, r);
    }
    qtm_analysis_free(an);
  }
  free(t);
  qtm_grid_free(&g);
}

/* Every reduced map, table and attribute of an equals ref's, bit for bit. */
static void expect_same_results(const qtm_grid *gp, const qtm_analysis *ref,
                                const qtm_analysis *an, long long label) {
  const qtm_grid g = *gp;
  const qtm_reduced_map *ma, *mb;
  int na = qtm_analysis_reduced_maps(ref, &ma), nb = qtm_analysis_reduced_maps(an, &mb);
  cr_assert_eq(na, nb);
  for (int m = 0; m < na; ++m) {
    int64_t n = 1;
    for (int k = 0; k < ma[m].nkept; ++k) n *= g.desc.shape[ma[m].kept[k]];
    cr_expect_eq(memcmp(ma[m].data, mb[m].data, (size_t)n * 8), 0, "%s differs (case %lld)",
                 ma[m].name, label);
  }
  const qtm_table *ta, *tb;
  int nta = qtm_analysis_tables(ref, &ta), ntb = qtm_analysis_tables(an, &tb);
  cr_assert_eq(nta, ntb);
  for (int m = 0; m < nta; ++m) {
    cr_assert_eq(ta[m].nrows, tb[m].nrows, "%s rows", ta[m].name);
    cr_expect_eq(memcmp(ta[m].rows, tb[m].rows, (size_t)ta[m].nrows * (size_t)ta[m].nfields * 8),
                 0, "%s differs (case %lld)", ta[m].name, label);
  }
  const qtm_scalar_attr *aa, *ab;
  int n1 = qtm_analysis_attrs(ref, &aa), n2 = qtm_analysis_attrs(an, &ab);
  cr_assert_eq(n1, n2);
  for (int m = 0; m < n1; ++m) cr_expect_eq(aa[m].value, ab[m].value, "%s", aa[m].name);
}

/* Same results bit for bit whatever the tiling and the order of the tiles. */
Test(analysis, independent_of_tiling_and_order) {
  qtm_grid g;
  design_grid(&g);
  qtm_analysis_spec spec = design_spec(0);
  qtm_analysis *ref = analyse(&g, &spec, NPTS, 0, 0);
  const int64_t targets[4] = {1, 7, 60, 500};
  for (int i = 0; i < 4; ++i) {
    qtm_analysis *an = analyse(&g, &spec, targets[i], i % 2, 100 + (uint64_t)i);
    expect_same_results(&g, ref, an, targets[i]);
    qtm_analysis_free(an);
  }
  qtm_analysis_free(ref);
  qtm_grid_free(&g);
}

/* Tiles shared among threads (each reducing a contiguous part into its own buffers, merged
 * after the tile) give the one-thread results bit for bit: the design grid and the same axes
 * in another order (the NDTC lines and the outer points then interleave within a tile), with
 * maxima over leading, trailing and no axes, on tiles of 1 to all points, in shuffled order. */
Test(analysis, threads_sharing_tiles_give_one_thread_results) {
  const int g_TL_ratio_TR[4] = {3, 0, 2, 1};
  qtm_grid grids[2];
  design_grid(&grids[0]);
  design_grid_in_order(&grids[1], g_TL_ratio_TR);
  /* optimised axes per grid: (TL, TR) / (g); (g) / (TL, TR); none */
  const int optimize[2][3][2] = {{{0, 1}, {3, -1}, {-1, -1}}, {{0, -1}, {1, 3}, {-1, -1}}};
  const int64_t targets[4] = {1, 50, 333, NPTS};
  const int threads[3] = {2, 3, 7};
  for (int gi = 0; gi < 2; ++gi)
    for (int o = 0; o < 3; ++o) {
      qtm_analysis_spec spec = design_spec(0);
      spec.noptimize = 0;
      for (int j = 0; j < 2; ++j)
        if (optimize[gi][o][j] >= 0) spec.optimize[spec.noptimize++] = optimize[gi][o][j];
      analysis_threads = 1;
      qtm_analysis *ref = analyse(&grids[gi], &spec, NPTS, 0, 0);
      for (int i = 0; i < 4; ++i)
        for (int h = 0; h < 3; ++h) {
          analysis_threads = threads[h];
          qtm_analysis *an = analyse(&grids[gi], &spec, targets[i], (i + h) % 2, 7 + (uint64_t)h);
          expect_same_results(&grids[gi], ref, an, ((gi * 10 + o) * 10 + i) * 10 + threads[h]);
          qtm_analysis_free(an);
        }
      qtm_analysis_free(ref);
    }
  qtm_grid_free(&grids[0]);
  qtm_grid_free(&grids[1]);
}

/* Shards: each slab of tiles reduced on its own and exported, the exports merged into a fresh
 * analysis in any order, give the single run's results bit for bit. */
Test(analysis, merged_shard_states_equal_a_single_run) {
  qtm_grid g;
  design_grid(&g);
  qtm_analysis_spec spec = design_spec(0);
  char why[256], err[256];
  qtm_analysis *ref = analyse(&g, &spec, 60, 0, 0);
  qtm_tiling tiling;
  qtm_tiling_init(&tiling, &g, 60);
  const int counts[3] = {1, 3, 7};
  for (int c = 0; c < 3; ++c) {
    int n = counts[c];
    qtm_analysis *merged;
    cr_assert_eq(qtm_analysis_create(&spec, &g, &merged, err, sizeof err), QTM_OK, "%s", err);
    for (int s = n - 1; s >= 0; --s) { /* reverse order: the merge must not care */
      int64_t first = tiling.ntiles * s / n, end = tiling.ntiles * (s + 1) / n;
      qtm_analysis *part = analyse_range(QTM_BACKEND_CPU, &g, &spec, 60, 1, 7 + (uint64_t)s,
                                         first, end, 0, why, sizeof why);
      cr_assert_not_null(part, "%s", why);
      const qtm_state_array *arrays;
      int narrays;
      cr_assert_eq(qtm_analysis_state_export(part, &arrays, &narrays, err, sizeof err), QTM_OK);
      cr_assert_eq(qtm_analysis_state_merge(merged, arrays, narrays, err, sizeof err), QTM_OK,
                   "%s", err);
      qtm_analysis_free(part);
    }
    cr_assert_eq(qtm_analysis_finish(merged, err, sizeof err), QTM_OK, "%s", err);
    expect_same_results(&g, ref, merged, n);
    qtm_analysis_free(merged);
  }
  qtm_analysis_free(ref);
  qtm_grid_free(&g);
}

/* A damaged state (an index outside the grid, a missing or short array) is refused by name
 * and merges nothing. */
Test(analysis, damaged_shard_state_is_refused) {
  qtm_grid g;
  design_grid(&g);
  qtm_analysis_spec spec = design_spec(0);
  char why[256], err[256];
  qtm_analysis *part = analyse_range(QTM_BACKEND_CPU, &g, &spec, 60, 0, 0, 0, -1, 0, why,
                                     sizeof why);
  cr_assert_not_null(part, "%s", why);
  const qtm_state_array *arrays;
  int n;
  cr_assert_eq(qtm_analysis_state_export(part, &arrays, &n, err, sizeof err), QTM_OK);
  qtm_state_array copy[QTM_ANALYSIS_MAX_STATE];
  memcpy(copy, arrays, (size_t)n * sizeof *copy);
  int front = -1;
  for (int i = 0; i < n; ++i)
    if (strcmp(copy[i].name, "front_index") == 0) front = i;
  cr_assert_geq(front, 0);
  cr_assert_gt(copy[front].n, 0);
  int64_t saved = ((int64_t *)copy[front].data)[0];
  ((int64_t *)copy[front].data)[0] = g.npoints; /* one past the last point */
  qtm_analysis *target;
  cr_assert_eq(qtm_analysis_create(&spec, &g, &target, err, sizeof err), QTM_OK);
  cr_expect_eq(qtm_analysis_state_merge(target, copy, n, err, sizeof err), QTM_ERR_INVALID_ARG);
  cr_expect(strstr(err, "front_index[0]") != NULL, "%s", err);
  ((int64_t *)copy[front].data)[0] = saved;
  copy[front].n -= 1; /* shorter than front_contrast */
  cr_expect_eq(qtm_analysis_state_merge(target, copy, n, err, sizeof err), QTM_ERR_INVALID_ARG);
  cr_expect(strstr(err, "front_index") != NULL, "%s", err);
  copy[front].n += 1;
  cr_expect_eq(qtm_analysis_state_merge(target, copy, n - 1, err, sizeof err),
               QTM_ERR_INVALID_ARG); /* the last array missing */
  cr_expect(strstr(err, "no array") != NULL, "%s", err);
  /* nothing was merged by the refusals: the intact state then gives the single run */
  cr_assert_eq(qtm_analysis_state_merge(target, arrays, n, err, sizeof err), QTM_OK, "%s", err);
  cr_assert_eq(qtm_analysis_finish(target, err, sizeof err), QTM_OK);
  qtm_analysis *ref = analyse(&g, &spec, 60, 0, 0);
  expect_same_results(&g, ref, target, 0);
  qtm_analysis_free(ref);
  qtm_analysis_free(target);
  qtm_analysis_free(part);
  qtm_grid_free(&g);
}

/* Refined maxima: never worse than the grid's, inside the neighbouring cells. */
Test(analysis, refined_maxima_improve_within_neighbours) {
  qtm_grid g;
  design_grid(&g);
  qtm_analysis_spec spec = design_spec(1);
  qtm_analysis *an = analyse(&g, &spec, 200, 0, 0);
  const qtm_table *tk = find_table(an, "analysis/top_k");
  int fc = field(tk, "contrast"), frc = field(tk, "refined_contrast");
  int improved = 0;
  for (int64_t i = 0; i < tk->nrows; ++i) {
    const double *row = tk->rows + (size_t)i * (size_t)tk->nfields;
    cr_expect_geq(row[frc], row[fc], "row %lld: refined %.17g below grid %.17g", (long long)i,
                  row[frc], row[fc]);
    improved += row[frc] > row[fc];
    const char *axes[3] = {"TL", "TR", "g"};
    const double *vals[3] = {TLv, TRv, Gv};
    const int n[3] = {NTL, NTR, NG};
    for (int a = 0; a < 3; ++a) {
      double grid = row[field(tk, axes[a])];
      char rf[32];
      snprintf(rf, sizeof rf, "refined_%s", axes[a]);
      double ref = row[field(tk, rf)];
      int at = 0;
      while (at < n[a] && vals[a][at] != grid) ++at;
      cr_assert_lt(at, n[a], "grid value of %s not on the axis", axes[a]);
      double lo = vals[a][at > 0 ? at - 1 : at], hi = vals[a][at + 1 < n[a] ? at + 1 : at];
      cr_expect(ref >= lo && ref <= hi, "refined %s = %g outside [%g, %g]", axes[a], ref, lo, hi);
    }
    cr_expect_geq(fmax(fabs(row[field(tk, "refined_J")]), fabs(row[field(tk, "refined_J_rev")])),
                  MIN_CURRENT, "the refined point keeps the current constraint");
  }
  cr_expect_gt(improved, 0, "refinement should improve at least one grid maximum");
  qtm_analysis_free(an);
  qtm_grid_free(&g);
}

/* ---- NDTC onsets ----------------------------------------------------------------------------- */

static double dJ_dTL_at(qtm_params p, double TL) {
  p.TL = TL;
  qtm_obs o;
  qtm_eval_closed_point(&p, &o);
  return o.v[QTM_OBS_dJ_dTL];
}

Test(analysis, ndtc_onsets_match_a_fine_search_and_eq17) {
  enum { NT = 40, NGG = 3, NR = 2 };
  double TL[NT], TR[NR] = {1e-3, 0.2}, gs[NGG] = {0.005, 0.01, 0.02};
  for (int i = 0; i < NT; ++i) TL[i] = 0.1 + 0.1 * i;
  const int ids[3] = {QTM_PARAM_TR, QTM_PARAM_g, QTM_PARAM_TL};
  const int64_t n[3] = {NR, NGG, NT};
  const double *v[3] = {TR, gs, TL};
  qtm_params fixed;
  qtm_params_default(&fixed);
  fixed.gammaL = 0.01;
  fixed.gammaR = 0.02;
  qtm_grid g;
  make_grid(&g, 3, ids, n, v, &fixed);
  qtm_analysis_spec spec = {1, 0, {0}, 0, 0.0, 0, 0};
  qtm_analysis *an = analyse(&g, &spec, 37, 1, 5);
  const qtm_reduced_map *on = find_map(an, "analysis/ndtc_onset");
  const qtm_reduced_map *eq = find_map(an, "analysis/ndtc_threshold_eq17");
  cr_assert_eq(on->nkept, 2, "the onset map drops the TL axis");
  const double *onset = on->data, *eq17 = eq->data;
  int found = 0;
  for (int a = 0; a < NR; ++a)
    for (int b = 0; b < NGG; ++b) {
      qtm_params p = fixed;
      p.TR = TR[a];
      p.g = gs[b];
      /* fine search: 200 steps per grid cell over the scanned TL range */
      double fine = NAN;
      for (int i = 0; i <= 200 * (NT - 1) && isnan(fine); ++i) {
        double x = TL[0] + (TL[NT - 1] - TL[0]) * i / (200.0 * (NT - 1));
        if (x > p.TR && dJ_dTL_at(p, x) < 0) fine = x;
      }
      double got = onset[a * NGG + b];
      cr_expect_eq(isnan(got), isnan(fine), "line TR=%g g=%g: onset %g, fine search %g", p.TR,
                   p.g, got, fine);
      if (isnan(fine)) continue;
      found++;
      double step = 0.1 / 200;
      cr_expect_leq(fabs(got - fine), step, "onset %.12g vs fine search %.12g", got, fine);
      cr_expect(fabs(dJ_dTL_at(p, got)) <= 1e-9 * fabs(dJ_dTL_at(p, got * 1.01)) ||
                    dJ_dTL_at(p, got * (1 - 1e-9)) * dJ_dTL_at(p, got * (1 + 1e-9)) <= 0,
                "the onset is the root of dJ/dTL to 1e-9");
      /* Eq. 17 is exact as TR -> 0; at TR = 1e-3, n_R = e^-1000 vanishes in double precision */
      if (TR[a] == 1e-3)
        cr_expect_leq(fabs(got - eq17[a * NGG + b]), 1e-10 * got, "onset %.12g vs Eq. 17 %.12g",
                      got, eq17[a * NGG + b]);
    }
  cr_expect_geq(found, 3, "the sample must contain lines with NDTC");
  qtm_analysis_free(an);
  qtm_grid_free(&g);
}

/* ---- CPU/CUDA parity of every analysis output ------------------------------------------------
 * The reductions run on the host from each backend's per-point values, which agree to ~1e-13;
 * so every reduced value agrees to 1e-12 relative, and an argmax or a table row may differ only
 * where two candidates are within that of each other (then both values are checked). */
static int close12(double a, double b) {
  return (isnan(a) && isnan(b)) || a == b || fabs(a - b) <= 1e-12 * fmax(fabs(a), fabs(b));
}

Test(analysis, cuda_matches_cpu) {
  qtm_grid g;
  design_grid(&g);
  qtm_analysis_spec spec = design_spec(1);
  char why[256] = "";
  qtm_analysis *gpu = analyse_on(QTM_BACKEND_CUDA, &g, &spec, 333, 0, 0, why, sizeof why);
  if (!gpu) {
    qtm_grid_free(&g);
    fprintf(stderr, "[analysis] SKIP cuda_matches_cpu: %s\n", why);
    cr_skip_test("no usable CUDA device: %s", why);
  }
  qtm_analysis *cpu = analyse(&g, &spec, 333, 0, 0);
  const qtm_reduced_map *mc, *mg;
  int n = qtm_analysis_reduced_maps(cpu, &mc);
  cr_assert_eq(qtm_analysis_reduced_maps(gpu, &mg), n);
  for (int m = 0; m < n; ++m) {
    if (strstr(mc[m].name, "argmax")) continue; /* checked through the maxima's values */
    int64_t size = 1;
    for (int k = 0; k < mc[m].nkept; ++k) size *= g.desc.shape[mc[m].kept[k]];
    const double *a = mc[m].data, *b = mg[m].data;
    for (int64_t i = 0; i < size; ++i)
      cr_expect(close12(a[i], b[i]), "%s[%lld]: cpu %.17g cuda %.17g", mc[m].name, (long long)i,
                a[i], b[i]);
  }
  const qtm_table *tc, *tg;
  int nt = qtm_analysis_tables(cpu, &tc);
  cr_assert_eq(qtm_analysis_tables(gpu, &tg), nt);
  for (int t = 0; t < nt; ++t) {
    if (strstr(tc[t].name, "top_k") == NULL) continue; /* fronts may gain or lose a near-tie */
    cr_assert_eq(tc[t].nrows, tg[t].nrows, "%s rows", tc[t].name);
    int fc = field(&tc[t], "contrast");
    for (int64_t i = 0; i < tc[t].nrows; ++i)
      cr_expect(close12(tc[t].rows[i * tc[t].nfields + fc], tg[t].rows[i * tg[t].nfields + fc]),
                "%s row %lld", tc[t].name, (long long)i);
  }
  qtm_analysis_free(cpu);
  qtm_analysis_free(gpu);
  qtm_grid_free(&g);
}
