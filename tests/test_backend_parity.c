/* Parity of every scan backend with an independent reference: fresh random grids (1 to 5 axes
 * over the parameters and the derived axes, every statistics combination, T = 0 coordinates,
 * g on both sides of omega), random observable subsets in float and double, cut into many
 * tiles with partial edges. Each tile evaluated by a backend is compared with values computed
 * here point by point (qtm_grid_point + qtm_eval_closed_point over the grid in row-major
 * order, not through the tile code): the CPU backend must give the same bits, the CUDA one
 * the same values to rounding and NaN at the same places. Without a device the CUDA test skips
 * with the reason and everything else still runs. */
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qtm/backend.h"
#include "qtm/cuda_eval.h"
#include "qtm/grid.h"
#include "qtm/physics.h"
#include "../src/tile_eval_vec.h"
#include "testutil.h"

#define NCASES 32
#define MAX_GRID_POINTS 30000
/* Device vs host: relative error allowed, measured against max(|x|, |y|, cancellation scale)
 * (see cancel_scale), plus an absolute floor at rounding level (see abs_floor). The two run
 * the same source, not the same arithmetic: the device's exp, expm1, log1p differ from glibc's
 * by 1-2 ulp and nvcc contracts a*b+c into FMAs where gcc on x86-64 does not. Those ~1e-16
 * errors pass through a few dozen operations without catastrophic cancellation (the formulas
 * avoid it; where a difference can still cancel, the scale of its terms is used), so 1e-12
 * leaves a wide margin and still catches a wrong branch, a swapped argument, a float where a
 * double belongs, a wrong coordinate or an unwritten value. */
#define CUDA_REL_TOL 1e-12
#define ROUNDING 1e-15
/* Extra values past the end of each output array, checked to be left untouched. */
#define GUARD 16
#define SENTINEL_BYTE 0x5a
#define REPORT_MAX 10

static const char *const obs_name[QTM_OBS_COUNT] = {
#define QTM_OBS_NAME(name, unit, long_name, domain) #name,
    QTM_OBSERVABLE_LIST(QTM_OBS_NAME)
#undef QTM_OBS_NAME
};

/* ---- Random grids ----------------------------------------------------------------------- */

static int rng_int(qtm_rng *r, int lo, int hi) { /* uniform in lo..hi inclusive */
  return lo + (int)(qtm_rng_uniform(r) * (hi - lo + 1));
}

static void shuffle_int(qtm_rng *r, int *a, int n) {
  for (int i = n - 1; i > 0; --i) {
    int j = rng_int(r, 0, i), t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}

static void shuffle_double(qtm_rng *r, double *a, int64_t n) {
  for (int64_t i = n - 1; i > 0; --i) {
    int64_t j = (int64_t)(qtm_rng_uniform(r) * (double)(i + 1));
    double t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}

/* A temperature on the scale of omega: exactly 0 (the T -> 0+ limit) one time in eight,
 * "deep cold" (omega/T in [800, 1e5]) one time in sixteen, else omega/T log-uniform in
 * [1e-3, 300] (as in test_cuda_parity). */
static double draw_temperature(qtm_rng *r, double omega) {
  double u = qtm_rng_uniform(r);
  if (u < 0.125) return 0.0;
  if (u < 0.1875) return omega / qtm_rng_log(r, 800.0, 1e5);
  return omega / qtm_rng_log(r, 1e-3, 300.0);
}

static double draw_rate(qtm_rng *r, double omega) {
  return qtm_rng_uniform(r) < 0.05 ? 0.0 : omega * qtm_rng_log(r, 1e-3, 10.0);
}

static const double eps_bath[5] = {-1.0, 1.0, 0.3, 0.0, -0.5};
static const double eps_sys[2] = {-1.0, 1.0};
static const double chain_N[5] = {1.0, 2.0, 3.0, 4.0, 6.0};

/* Fixed parameters of case c: continuous ones random, the statistics cycling through all
 * 3 x 3 x 2 x 4 combinations of epsL, epsR in {-1, 1, 0.3}, eps_a in {-1, 1}, N in 1..4. */
static void draw_fixed(qtm_rng *r, int c, qtm_params *p) {
  int s = (c * 29 + 5) % 72;
  p->epsL = eps_bath[s % 3];
  s /= 3;
  p->epsR = eps_bath[s % 3];
  s /= 3;
  p->eps_a = eps_sys[s % 2];
  s /= 2;
  p->N = s + 1;
  p->omega = qtm_rng_log(r, 0.1, 10.0);
  p->TL = draw_temperature(r, p->omega);
  p->TR = draw_temperature(r, p->omega);
  p->gammaL = draw_rate(r, p->omega);
  p->gammaR = draw_rate(r, p->omega);
  double u = qtm_rng_uniform(r);
  p->g = u < 0.1    ? 0.0
         : u < 0.55 ? p->omega * qtm_rng_uniform(r)
                    : p->omega * qtm_rng_log(r, 1.0, 10.0);
}

/* Two axes that set the same parameter cannot share a grid. */
static int axes_conflict(int a, int b) {
  int lo = a < b ? a : b, hi = a < b ? b : a;
  return (lo == QTM_PARAM_TL && (hi == QTM_AXIS_T || hi == QTM_AXIS_DeltaT)) ||
         (lo == QTM_PARAM_TR && hi == QTM_AXIS_T) ||
         (lo == QTM_PARAM_gammaL && hi == QTM_AXIS_gamma_ratio);
}

/* Statistics axes take values from a short list, so their length is capped. */
static int64_t axis_cap(int id) {
  switch (id) {
  case QTM_PARAM_epsL:
  case QTM_PARAM_epsR: return 5;
  case QTM_PARAM_eps_a: return 2;
  case QTM_PARAM_N: return 5;
  default: return INT64_MAX;
  }
}

/* n coordinates of axis id. omega is the fixed omega (the scale of temperatures, rates and g);
 * tr_min the smallest TR any point can have (DeltaT >= -tr_min keeps TL >= 0). Temperature axes
 * start with an exact 0; the g axis straddles omega (below, above, exactly omega, 0). */
static void draw_axis(qtm_rng *r, int id, int64_t n, double omega, double tr_min, double *v) {
  switch (id) {
  case QTM_PARAM_omega:
    for (int64_t i = 0; i < n; ++i) v[i] = qtm_rng_log(r, 0.1, 10.0);
    break;
  case QTM_PARAM_TL:
  case QTM_PARAM_TR:
  case QTM_AXIS_T:
    for (int64_t i = 0; i < n; ++i) v[i] = i == 0 ? 0.0 : draw_temperature(r, omega);
    break;
  case QTM_AXIS_DeltaT:
    for (int64_t i = 0; i < n; ++i)
      v[i] = i == 0 ? 0.0 : qtm_rng_uniform(r) < 0.3 ? -tr_min * qtm_rng_uniform(r)
                                                      : draw_temperature(r, omega);
    break;
  case QTM_PARAM_gammaL:
  case QTM_PARAM_gammaR:
    for (int64_t i = 0; i < n; ++i) v[i] = draw_rate(r, omega);
    if (n >= 3) v[n - 1] = 0.0;
    break;
  case QTM_AXIS_gamma_ratio:
    for (int64_t i = 0; i < n; ++i) v[i] = qtm_rng_log(r, 1e-2, 1e2);
    if (n >= 2) v[0] = 1.0;
    if (n >= 4) v[1] = 0.0;
    break;
  case QTM_PARAM_g:
    for (int64_t i = 0; i < n; ++i)
      v[i] = i % 2 ? omega * qtm_rng_log(r, 1.0, 10.0) : omega * qtm_rng_uniform(r);
    if (n >= 3) v[2] = omega; /* the edge of the global forms' domain */
    if (n >= 4) v[3] = 0.0;
    break;
  case QTM_PARAM_epsL:
  case QTM_PARAM_epsR:
  case QTM_PARAM_eps_a:
  case QTM_PARAM_N: {
    /* The first values of each list first (n <= axis_cap), so that case 0's 3 x 3 x 2 x 4
     * axes are exactly the combinations of test_cuda_parity; the order is shuffled below. */
    const double *src = id == QTM_PARAM_eps_a ? eps_sys : id == QTM_PARAM_N ? chain_N : eps_bath;
    for (int64_t i = 0; i < n; ++i) v[i] = src[i];
    break;
  }
  default:
    cr_assert_fail("no generator for axis id %d", id);
  }
  shuffle_double(r, v, n);
}

typedef struct parity_case {
  qtm_grid grid;
  qtm_tiling tiling;
  qtm_scan_plan plan;
} parity_case;

/* Case c: case 0 has the four statistics axes over all 3 x 3 x 2 x 4 combinations plus g
 * (below, at and above omega), every observable in table order, float64; case 1 every
 * observable shuffled, float32; the others 1 to 5 random axes (the last one none: a single
 * point), a random subset of observables in random order, float32 or float64. Tiles of a random
 * target size, from a third of the grid down to 1/64 of it (or 1 point), give many tiles, with
 * partial ones at the edges. */
static void make_case(qtm_rng *r, int c, parity_case *pc) {
  int ids[QTM_AXIS_ID_COUNT], axis_id[QTM_MAX_AXES];
  int64_t count[QTM_MAX_AXES];
  double *vals[QTM_MAX_AXES] = {NULL};
  int naxes = 0;
  qtm_params fixed;
  char err[256] = "";

  memset(pc, 0, sizeof *pc);
  draw_fixed(r, c, &fixed);
  if (c == 0) {
    static const int stat_axes[4] = {QTM_PARAM_epsL, QTM_PARAM_epsR, QTM_PARAM_eps_a, QTM_PARAM_N};
    static const int64_t stat_counts[4] = {3, 3, 2, 4};
    int pos[5] = {0, 1, 2, 3, 4};
    shuffle_int(r, pos, 5);
    naxes = 5;
    for (int k = 0; k < 4; ++k) {
      axis_id[pos[k]] = stat_axes[k];
      count[pos[k]] = stat_counts[k];
    }
    axis_id[pos[4]] = QTM_PARAM_g;
    count[pos[4]] = 8;
    /* Finite, distinct temperatures and nonzero rates, so that every domain, the global forms'
     * included, has numbers in this case whatever the seed. */
    fixed.TL = fixed.omega * qtm_rng_log(r, 0.3, 3.0);
    fixed.TR = fixed.TL * qtm_rng_range(r, 0.1, 0.9);
    fixed.gammaL = fixed.omega * qtm_rng_log(r, 1e-3, 1.0);
    fixed.gammaR = fixed.omega * qtm_rng_log(r, 1e-3, 1.0);
  } else if (c < NCASES - 1) {
    int want = rng_int(r, 1, 5);
    for (int k = 0; k < QTM_AXIS_ID_COUNT; ++k) ids[k] = k;
    shuffle_int(r, ids, QTM_AXIS_ID_COUNT);
    for (int k = 0; k < QTM_AXIS_ID_COUNT && naxes < want; ++k) {
      int ok = 1;
      for (int j = 0; j < naxes; ++j) ok = ok && !axes_conflict(ids[k], axis_id[j]);
      if (ok) axis_id[naxes++] = ids[k];
    }
    /* Statistics axes take what their short lists give; the continuous ones share the rest
     * of the point budget. One axis in ten is a single point. */
    double budget = MAX_GRID_POINTS;
    int ncont = 0;
    for (int k = 0; k < naxes; ++k) {
      int64_t cap = axis_cap(axis_id[k]);
      if (cap == INT64_MAX) {
        ++ncont;
        continue;
      }
      count[k] = qtm_rng_uniform(r) < 0.1 ? 1 : rng_int(r, 2, (int)cap);
      budget /= (double)count[k];
    }
    int64_t hi = ncont ? (int64_t)pow(budget, 1.0 / ncont) : 1;
    int64_t lo = hi / 3 > 1 ? hi / 3 : 1;
    for (int k = 0; k < naxes; ++k)
      if (axis_cap(axis_id[k]) == INT64_MAX)
        count[k] = qtm_rng_uniform(r) < 0.1
                       ? 1
                       : lo + (int64_t)(qtm_rng_uniform(r) * (double)(hi - lo + 1));
  }

  /* Everything but DeltaT first: its range depends on the smallest TR. */
  double tr_min = fixed.TR;
  for (int pass = 0; pass < 2; ++pass)
    for (int k = 0; k < naxes; ++k) {
      if ((axis_id[k] == QTM_AXIS_DeltaT) != (pass == 1)) continue;
      vals[k] = malloc((size_t)count[k] * sizeof *vals[k]);
      cr_assert_not_null(vals[k]);
      draw_axis(r, axis_id[k], count[k], fixed.omega, tr_min, vals[k]);
      if (axis_id[k] == QTM_PARAM_TR || axis_id[k] == QTM_AXIS_T) tr_min = 0.0; /* has a 0 */
    }
  qtm_status st = qtm_grid_init(&pc->grid, naxes, axis_id, count, (const double *const *)vals,
                                &fixed, err, sizeof err);
  for (int k = 0; k < naxes; ++k) free(vals[k]);
  cr_assert_eq(st, QTM_OK, "case %d: qtm_grid_init: %s", c, err);

  int64_t P = pc->grid.npoints;
  double lo = P / 64 > 1 ? (double)(P / 64) : 1.0, hi = P / 3 > lo ? (double)(P / 3) : lo;
  qtm_tiling_init(&pc->tiling, &pc->grid, (int64_t)qtm_rng_log(r, lo, hi + 1.0));

  qtm_scan_plan *plan = &pc->plan;
  int perm[QTM_OBS_COUNT];
  for (int k = 0; k < QTM_OBS_COUNT; ++k) perm[k] = k;
  if (c != 0) shuffle_int(r, perm, QTM_OBS_COUNT);
  plan->grid = &pc->grid;
  plan->max_tile_points = pc->tiling.max_tile_points;
  plan->dtype = c % 2 ? QTM_DTYPE_F32 : QTM_DTYPE_F64;
  plan->nobs = c < 2 ? QTM_OBS_COUNT : rng_int(r, 1, QTM_OBS_COUNT);
  memcpy(plan->obs, perm, (size_t)plan->nobs * sizeof *perm);
}

static void describe_case(const parity_case *pc, int c, char *buf, size_t cap) {
  int n = snprintf(buf, cap, "case %d: %lld points, axes", c, (long long)pc->grid.npoints);
  for (int k = 0; k < pc->grid.desc.naxes && n > 0 && (size_t)n < cap; ++k)
    n += snprintf(buf + n, cap - (size_t)n, " %s[%lld]", qtm_axis_name(pc->grid.desc.axis_id[k]),
                  (long long)pc->grid.desc.shape[k]);
  if (n > 0 && (size_t)n < cap)
    snprintf(buf + n, cap - (size_t)n, ", %lld tiles of <= %lld, %d observables, %s",
             (long long)pc->tiling.ntiles, (long long)pc->tiling.max_tile_points, pc->plan.nobs,
             pc->plan.dtype == QTM_DTYPE_F32 ? "float32" : "float64");
}

/* ---- The reference ----------------------------------------------------------------------- */

/* Every point of the grid in row-major order (last axis fastest), by its own odometer. */
static void compute_reference(const qtm_grid *g, qtm_params *p, qtm_obs *o) {
  int64_t coord[QTM_MAX_AXES] = {0};
  for (int64_t i = 0; i < g->npoints; ++i) {
    qtm_param_error perr;
    qtm_grid_point(&g->desc, g->values, coord, &p[i]);
    qtm_status st = qtm_params_validate(&p[i], &perr);
    cr_assert_eq(st, QTM_OK, "grid point %lld is invalid: %s", (long long)i, perr.message);
    qtm_eval_closed_point(&p[i], &o[i]);
    for (int k = g->desc.naxes - 1; k >= 0; --k) {
      if (++coord[k] < g->desc.shape[k]) break;
      coord[k] = 0;
    }
  }
}

/* Row-major index in the grid of point l of tile t (row-major in the tile's shape). */
static int64_t grid_index(const qtm_grid *g, const qtm_tile *t, int64_t l) {
  int64_t idx = 0, stride = 1;
  for (int k = g->desc.naxes - 1; k >= 0; --k) {
    idx += (t->start[k] + l % t->count[k]) * stride;
    l /= t->count[k];
    stride *= g->desc.shape[k];
  }
  return idx;
}

/* Points near underflow (qtm_test_near_underflow, testutil.h) cannot be redrawn in a grid,
 * as test_cuda_parity does: the CUDA comparison leaves them out and counts them. */


/* Absolute floor at rounding level for observable k at p, from its unit: ROUNDING for
 * dimensionless values, ROUNDING omega gmax for currents (E^2/hbar), ROUNDING gmax for
 * conductances, dJ/dTL and the entropy production (all ~ rate x O(1)), ROUNDING omega for
 * energies. A new unit fails the test until it is given a floor here. */
static double abs_floor(const qtm_params *p, int k) {
  const char *u = qtm_obs_table[k].unit;
  double gmax = fmax(p->gammaL, p->gammaR);
  if (strcmp(u, "1") == 0) return ROUNDING;
  if (strcmp(u, "E^2/hbar") == 0) return ROUNDING * p->omega * gmax;
  if (strcmp(u, "kB/hbar") == 0 || strcmp(u, "kB*E/hbar") == 0 || strcmp(u, "kB/hbar*E") == 0)
    return ROUNDING * gmax;
  if (strcmp(u, "E") == 0) return ROUNDING * p->omega;
  cr_assert_fail("observable %s has unit \"%s\", which has no rounding floor here", obs_name[k], u);
  return 0.0;
}

/* Device value y against the reference x: the error measured against the allowance, so <= 1
 * passes; 0 when equal (both NaN, same infinities), +inf when exactly one is NaN or infinite.
 * In float32 both sides are rounded to float: y may also carry the half ulp (2^-24 relative,
 * 2^-150 absolute for subnormals) of rounding a slightly different double. */
static double cuda_err(double x, double y, int f32, double scale, double floor_abs) {
  if (isnan(x) || isnan(y)) return isnan(x) && isnan(y) ? 0.0 : INFINITY;
  double xr = f32 ? (double)(float)x : x;
  if (xr == y) return 0.0;
  if (isinf(xr) || isinf(y)) return INFINITY;
  double allow = CUDA_REL_TOL * fmax(fmax(fabs(x), fabs(y)), scale) + floor_abs;
  if (f32) allow += 0x1p-24 * (fabs(x) + allow) + 0x1p-150;
  return fabs(x - y) / allow;
}

/* What the random cases reached, so that a change of the generator cannot quietly drop the
 * branches the comparison is for. */
typedef struct coverage {
  int64_t nan[QTM_OBS_COUNT], number[QTM_OBS_COUNT], inf, zero_T, g_below, g_at, g_above;
  int64_t tiles, partial_tiles;
  unsigned char combo[72]; /* epsL, epsR in {-1, 0.3, 1} x eps_a in {-1, 1} x N in 1..4 */
} coverage;

static int eps_index(double e) { return e == -1.0 ? 0 : e == 0.3 ? 1 : e == 1.0 ? 2 : -1; }

static void cover_points(coverage *cv, const qtm_params *p, const qtm_obs *o, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    for (int k = 0; k < QTM_OBS_COUNT; ++k) {
      if (isnan(o[i].v[k])) ++cv->nan[k];
      else ++cv->number[k];
      if (isinf(o[i].v[k])) ++cv->inf;
    }
    cv->zero_T += p[i].TL == 0.0 || p[i].TR == 0.0;
    cv->g_below += p[i].g > 0.0 && p[i].g < p[i].omega;
    cv->g_at += p[i].g == p[i].omega;
    cv->g_above += p[i].g > p[i].omega;
    int a = eps_index(p[i].epsL), b = eps_index(p[i].epsR);
    if (a >= 0 && b >= 0 && (p[i].eps_a == -1.0 || p[i].eps_a == 1.0) && p[i].N >= 1 && p[i].N <= 4)
      cv->combo[a + 3 * b + 9 * (p[i].eps_a == 1.0) + 18 * (p[i].N - 1)] = 1;
  }
}

static void check_coverage(const coverage *cv) {
  for (int k = 0; k < QTM_OBS_COUNT; ++k) {
    cr_log_info("%-20s NaN at %lld points, a number at %lld", obs_name[k], (long long)cv->nan[k],
                (long long)cv->number[k]);
    int never_nan = k == QTM_OBS_J1 || k == QTM_OBS_alpha || k == QTM_OBS_J ||
                    k == QTM_OBS_J_rev || k == QTM_OBS_kappa1 || k == QTM_OBS_kappa2 ||
                    k == QTM_OBS_dJ_dTL;
    cr_expect(cv->number[k] > 0, "%s is never a number in the random cases", obs_name[k]);
    cr_expect(never_nan || cv->nan[k] > 0, "%s is never NaN in the random cases", obs_name[k]);
  }
  int combos = 0;
  for (int c = 0; c < 72; ++c) combos += cv->combo[c];
  cr_log_info("points with a zero temperature %lld, with 0 < g < omega %lld, g = omega %lld, "
              "g > omega %lld; %lld infinite values; %d of 72 statistics combinations; %lld of "
              "%lld tiles partial", (long long)cv->zero_T, (long long)cv->g_below,
              (long long)cv->g_at, (long long)cv->g_above, (long long)cv->inf, combos,
              (long long)cv->partial_tiles, (long long)cv->tiles);
  cr_expect(cv->zero_T > 0 && cv->g_below > 0 && cv->g_at > 0 && cv->g_above > 0 && cv->inf > 0,
            "an edge of the parameter space was not drawn");
  cr_expect_eq(combos, 72, "only %d of the 72 statistics combinations were drawn", combos);
  cr_expect(cv->partial_tiles > 0 && cv->partial_tiles < cv->tiles, "no partial tiles");
}

/* ---- Running a backend over a case ------------------------------------------------------- */

typedef struct parity_stats {
  int64_t points, excluded;            /* grid points compared, left out near underflow */
  int64_t compared, bad, nan_mismatch; /* values */
  double worst[QTM_OBS_COUNT];         /* largest error / allowance per observable (CUDA) */
} parity_stats;

/* Host output arrays of a plan, GUARD values longer than the largest tile. */
typedef struct host_out {
  qtm_tile_out out;
  size_t elem;
  size_t len;
} host_out;

static void host_out_init(host_out *h, const qtm_scan_plan *plan) {
  memset(h, 0, sizeof *h);
  h->out.dtype = plan->dtype;
  h->out.nobs = plan->nobs;
  h->elem = plan->dtype == QTM_DTYPE_F32 ? sizeof(float) : sizeof(double);
  h->len = (size_t)plan->max_tile_points + GUARD;
  for (int j = 0; j < plan->nobs; ++j) {
    h->out.obs[j] = plan->obs[j];
    h->out.data[j] = malloc(h->len * h->elem);
    cr_assert_not_null(h->out.data[j]);
  }
}

static void host_out_free(host_out *h) {
  for (int j = 0; j < h->out.nobs; ++j) free(h->out.data[j]);
}

/* Evaluates tile t with b into h, after filling h with the sentinel; checks that nothing past
 * the tile's points was written. */
static void eval_tile(qtm_backend *b, const qtm_tile *t, host_out *h) {
  char err[512] = "";
  for (int j = 0; j < h->out.nobs; ++j) memset(h->out.data[j], SENTINEL_BYTE, h->len * h->elem);
  qtm_status st = b->ops->eval_tile(b, t, &h->out, err, sizeof err);
  cr_assert_eq(st, QTM_OK, "%s backend, tile %lld: %s: %s", b->name, (long long)t->index,
               qtm_status_str(st), err);
  for (int j = 0; j < h->out.nobs; ++j) {
    const unsigned char *tail =
        (const unsigned char *)h->out.data[j] + (size_t)t->npoints * h->elem;
    for (size_t i = 0; i < (h->len - (size_t)t->npoints) * h->elem; ++i)
      cr_assert_eq(tail[i], SENTINEL_BYTE, "%s backend wrote past tile %lld's %lld points (%s)",
                   b->name, (long long)t->index, (long long)t->npoints, obs_name[h->out.obs[j]]);
  }
}

/* Every tile of pc through b, compared with the reference (p, o). bitwise: the same bits as
 * the reference rounded to the plan's dtype; else within the CUDA tolerance, points near
 * underflow left out. covered (may be NULL) counts how often each grid point was visited. */
static void run_backend(qtm_backend *b, const parity_case *pc, const qtm_params *p,
                        const qtm_obs *o, int bitwise, int *covered, parity_stats *s,
                        coverage *cv) {
  const qtm_grid *g = &pc->grid;
  int f32 = pc->plan.dtype == QTM_DTYPE_F32;
  host_out h;
  host_out_init(&h, &pc->plan);
  for (int64_t k = 0; k < pc->tiling.ntiles; ++k) {
    qtm_tile t;
    qtm_tiling_tile(&pc->tiling, g, k, &t);
    int64_t np = 1;
    for (int a = 0; a < g->desc.naxes; ++a) {
      cr_assert(t.count[a] >= 1 && t.start[a] >= 0 && t.start[a] + t.count[a] <= g->desc.shape[a],
                "tile %lld leaves the grid along axis %d", (long long)k, a);
      np *= t.count[a];
    }
    cr_assert(np == t.npoints && np <= pc->plan.max_tile_points, "tile %lld: %lld points, not %lld",
              (long long)k, (long long)t.npoints, (long long)np);
    ++cv->tiles;
    cv->partial_tiles += t.npoints < pc->plan.max_tile_points;
    eval_tile(b, &t, &h);
    for (int64_t l = 0; l < t.npoints; ++l) {
      int64_t gi = grid_index(g, &t, l);
      if (covered) ++covered[gi];
      int skip = !bitwise && qtm_test_near_underflow(&p[gi]);
      if (skip) {
        ++s->excluded;
        continue;
      }
      ++s->points;
      for (int j = 0; j < h.out.nobs; ++j) {
        int obs = h.out.obs[j];
        double x = o[gi].v[obs], y;
        int same;
        if (f32) {
          float xf = (float)x, yf = ((const float *)h.out.data[j])[l];
          same = memcmp(&xf, &yf, sizeof xf) == 0;
          y = yf;
        } else {
          y = ((const double *)h.out.data[j])[l];
          same = memcmp(&x, &y, sizeof x) == 0;
        }
        ++s->compared;
        double e = 0.0;
        if (bitwise) {
          e = same ? 0.0 : INFINITY;
        } else {
          e = cuda_err(x, y, f32, qtm_test_cancel_scale(&p[gi], &o[gi], obs), abs_floor(&p[gi], obs));
          if (isnan(x) != isnan(y)) ++s->nan_mismatch;
          if (e > s->worst[obs]) s->worst[obs] = e;
        }
        if (!(e <= (bitwise ? 0.0 : 1.0)) && s->bad++ < REPORT_MAX) {
          const qtm_params *q = &p[gi];
          cr_log_error("%s backend, point %lld (tile %lld, #%lld) %s: reference %.17g, backend "
                       "%.17g (error/allowance %.3g) at omega=%.17g TL=%.17g TR=%.17g "
                       "gammaL=%.17g gammaR=%.17g g=%.17g epsL=%g epsR=%g eps_a=%g N=%d",
                       b->name, (long long)gi, (long long)k, (long long)l, obs_name[obs],
                       f32 ? (double)(float)x : x, y, e, q->omega, q->TL, q->TR, q->gammaL,
                       q->gammaR, q->g, q->epsL, q->epsR, q->eps_a, q->N);
        }
      }
    }
  }
  host_out_free(&h);
}

/* Opens the backend of kind for plan: the CPU with 2 threads, or CUDA. */
static qtm_status open_kind(qtm_backend_kind kind, const qtm_scan_plan *plan, qtm_backend **b,
                            char *err, size_t errcap) {
  return kind == QTM_BACKEND_CPU ? qtm_backend_cpu_open(plan, 2, b, err, errcap)
                                 : qtm_backend_cuda_open(plan, b, err, errcap);
}

/* Every case through the backend of kind, compared with the reference. */
static void check_backend(qtm_backend_kind kind) {
  qtm_rng r;
  parity_stats s;
  coverage cv;
  int bitwise = kind == QTM_BACKEND_CPU;
  memset(&s, 0, sizeof s);
  memset(&cv, 0, sizeof cv);
  qtm_rng_init(&r, 0xba5e7113, bitwise ? "backend_parity.cpu" : "backend_parity.cuda");
  for (int c = 0; c < NCASES; ++c) {
    parity_case pc;
    char what[512], err[512] = "";
    qtm_backend *b = NULL;
    make_case(&r, c, &pc);
    describe_case(&pc, c, what, sizeof what);
    cr_log_info("%s", what);
    int64_t P = pc.grid.npoints;
    qtm_params *p = malloc((size_t)P * sizeof *p);
    qtm_obs *o = malloc((size_t)P * sizeof *o);
    int *covered = calloc((size_t)P, sizeof *covered);
    cr_assert(p && o && covered);
    compute_reference(&pc.grid, p, o);
    cover_points(&cv, p, o, P);

    qtm_status st = open_kind(kind, &pc.plan, &b, err, sizeof err);
    cr_assert_eq(st, QTM_OK, "%s: opening the backend: %s: %s", what, qtm_status_str(st), err);
    cr_assert_str_eq(b->name, bitwise ? "cpu" : "cuda");
    cr_assert(b->device[0] != '\0', "the %s backend does not say what runs it", b->name);
    int64_t bad_before = s.bad;
    run_backend(b, &pc, p, o, bitwise, covered, &s, &cv);
    qtm_backend_free(b);
    cr_expect_eq(s.bad, bad_before, "%s: %lld values differ", what,
                 (long long)(s.bad - bad_before));
    for (int64_t i = 0; i < P; ++i)
      cr_assert_eq(covered[i], 1, "%s: grid point %lld is in %d tiles", what, (long long)i,
                   covered[i]);
    free(p);
    free(o);
    free(covered);
    qtm_grid_free(&pc.grid);
  }
  check_coverage(&cv);
  if (!bitwise)
    for (int k = 0; k < QTM_OBS_COUNT; ++k)
      cr_log_info("%-20s max error/allowance %.3g", obs_name[k], s.worst[k]);
  cr_log_info("%s: %lld values at %lld points compared, %lld points near underflow left out",
              bitwise ? "cpu" : "cuda", (long long)s.compared, (long long)s.points,
              (long long)s.excluded);
  cr_assert(s.compared > 0, "nothing was compared");
  cr_assert(s.excluded * 5 < s.points, "too many points left out (%lld)", (long long)s.excluded);
  cr_assert_eq(s.nan_mismatch, 0, "NaN positions differ at %lld values", (long long)s.nan_mismatch);
  cr_assert_eq(s.bad, 0, "%lld values differ from the reference %s", (long long)s.bad,
               bitwise ? "in their bits" : "beyond the tolerance");
}

/* A four-point grid along TL (0 included), tiles of 3 points, every observable in float64:
 * the plan of the selection tests. */
static void small_case(parity_case *pc) {
  static const int axis_id[1] = {QTM_PARAM_TL};
  static const int64_t count[1] = {4};
  static const double tl[4] = {0.0, 0.5, 1.0, 2.0};
  const double *vals[1] = {tl};
  qtm_params fixed;
  char err[256] = "";
  memset(pc, 0, sizeof *pc);
  qtm_params_default(&fixed);
  fixed.TR = 0.7;
  fixed.gammaL = fixed.gammaR = 0.01;
  fixed.g = 0.1;
  qtm_status st = qtm_grid_init(&pc->grid, 1, axis_id, count, vals, &fixed, err, sizeof err);
  cr_assert_eq(st, QTM_OK, "qtm_grid_init: %s", err);
  qtm_tiling_init(&pc->tiling, &pc->grid, 3);
  pc->plan.grid = &pc->grid;
  pc->plan.max_tile_points = pc->tiling.max_tile_points;
  pc->plan.dtype = QTM_DTYPE_F64;
  pc->plan.nobs = QTM_OBS_COUNT;
  for (int k = 0; k < QTM_OBS_COUNT; ++k) pc->plan.obs[k] = k;
}

/* 1 when the CUDA backend opens; else 0 with the reason in why. A device that exists but
 * fails is an error, not a skip. */
static int cuda_usable(char *why, size_t cap) {
  parity_case pc;
  qtm_backend *b = NULL;
  small_case(&pc);
  qtm_status st = qtm_backend_cuda_open(&pc.plan, &b, why, cap);
  if (st == QTM_OK) qtm_backend_free(b);
  qtm_grid_free(&pc.grid);
  cr_assert(st == QTM_OK || st == QTM_ERR_NO_DEVICE, "qtm_backend_cuda_open: %s: %s",
            qtm_status_str(st), why);
  return st == QTM_OK;
}

/* ---- Tests ------------------------------------------------------------------------------ */

/* Always runs: the CPU backend is the fallback and must equal the reference bit for bit
 * (it runs the same point code, tile_eval.h; both are compiled without FMA contraction). */
Test(backend_parity, cpu_matches_reference_bitwise) { check_backend(QTM_BACKEND_CPU); }

Test(backend_parity, cuda_matches_reference) {
  char why[256] = "";
  if (!cuda_usable(why, sizeof why)) {
    /* Criterion shows skips only with --verbose: say it where ctest's log shows it too. */
    fprintf(stderr, "[backend_parity] SKIP cuda_matches_reference: %s\n", why);
    cr_skip_test("%s", why);
  }
  check_backend(QTM_BACKEND_CUDA);
}

/* One thread or two: the same bits (each point is computed by the same code wherever it
 * runs; only the split of the loop changes). */
Test(backend_parity, cpu_threads_give_identical_bits) {
  qtm_rng r;
  parity_case pc;
  qtm_backend *b1 = NULL, *b2 = NULL;
  host_out h1, h2;
  char err[256] = "";
  qtm_rng_init(&r, 0x7147ead5, "backend_parity.threads");
  make_case(&r, 2, &pc);
  cr_assert_eq(qtm_backend_cpu_open(&pc.plan, 1, &b1, err, sizeof err), QTM_OK, "%s", err);
  cr_assert_eq(qtm_backend_cpu_open(&pc.plan, 2, &b2, err, sizeof err), QTM_OK, "%s", err);
  const char *simd = qtm_tile_vec_available() ? ", AVX-512" : "";
  char want1[64], want2[64];
  snprintf(want1, sizeof want1, "1 OpenMP thread%s", simd);
  snprintf(want2, sizeof want2, "2 OpenMP threads%s", simd);
  cr_assert_str_eq(b1->device, want1);
  cr_assert_str_eq(b2->device, want2);
  host_out_init(&h1, &pc.plan);
  host_out_init(&h2, &pc.plan);
  for (int64_t k = 0; k < pc.tiling.ntiles; ++k) {
    qtm_tile t;
    qtm_tiling_tile(&pc.tiling, &pc.grid, k, &t);
    eval_tile(b1, &t, &h1);
    eval_tile(b2, &t, &h2);
    for (int j = 0; j < pc.plan.nobs; ++j)
      cr_assert(memcmp(h1.out.data[j], h2.out.data[j], h1.len * h1.elem) == 0,
                "tile %lld, %s: 1 and 2 threads differ", (long long)k, obs_name[pc.plan.obs[j]]);
  }
  host_out_free(&h1);
  host_out_free(&h2);
  qtm_backend_free(b1);
  qtm_backend_free(b2);
  qtm_grid_free(&pc.grid);
}

/* What a consumer handed to eval_tile_consumed saw (qtm_tile_consumer's contract). */
typedef struct consumer_log {
  int threads;       /* the team size it was prepared for */
  int *visits;       /* per point of the tile */
  int too_early;     /* a point handed over before its value was written */
  int wrong_thread;  /* a range on a thread numbered `threads` or above, or outside the tile */
  int ends, ranges_after_end;
} consumer_log;

static void log_range(void *ctx, const qtm_tile *t, const qtm_tile_out *out, int64_t l0,
                      int64_t l1) {
  consumer_log *c = ctx;
  const unsigned char *v = out->data[0];
  int ends;
#pragma omp atomic read
  ends = c->ends;
  if (omp_get_thread_num() >= c->threads || l0 < 0 || l1 > t->npoints) {
#pragma omp atomic write
    c->wrong_thread = 1;
    return;
  }
  for (int64_t l = l0; l < l1; ++l) {
#pragma omp atomic
    c->visits[l]++;
    if (v[l * (int64_t)sizeof(double)] == SENTINEL_BYTE && v[l * (int64_t)sizeof(double) + 7] ==
                                                               SENTINEL_BYTE) {
#pragma omp atomic write
      c->too_early = 1;
    }
  }
  if (ends > 0) {
#pragma omp atomic write
    c->ranges_after_end = 1;
  }
}

static void log_end(void *ctx, const qtm_tile *t) {
  (void)t;
  consumer_log *c = ctx;
#pragma omp atomic
  c->ends++;
}

/* The CPU backend hands every point of a tile to the consumer exactly once, after writing its
 * values, from threads numbered below the consumer's count, then ends on every thread of its
 * team; a consumer prepared for fewer threads than the backend runs gets the whole tile on one
 * thread after the evaluation. The values are the plain evaluation's either way. */
Test(backend_parity, cpu_hands_each_evaluated_point_to_the_consumer_once) {
  static const int axis_id[2] = {QTM_PARAM_TL, QTM_PARAM_g};
  static const int64_t count[2] = {250, 80};
  double tl[250], g[80];
  for (int i = 0; i < 250; ++i) tl[i] = 0.01 * (i + 1);
  for (int i = 0; i < 80; ++i) g[i] = 0.01 * i;
  const double *vals[2] = {tl, g};
  qtm_params fixed;
  qtm_params_default(&fixed);
  fixed.TR = 0.3;
  fixed.gammaL = fixed.gammaR = 0.01;
  parity_case pc;
  char err[256] = "";
  memset(&pc, 0, sizeof pc);
  cr_assert_eq(qtm_grid_init(&pc.grid, 2, axis_id, count, vals, &fixed, err, sizeof err), QTM_OK,
               "%s", err);
  qtm_tiling_init(&pc.tiling, &pc.grid, 12000); /* tiles big enough to wake the team */
  pc.plan.grid = &pc.grid;
  pc.plan.max_tile_points = pc.tiling.max_tile_points;
  pc.plan.dtype = QTM_DTYPE_F64;
  pc.plan.nobs = 2;
  pc.plan.obs[0] = QTM_OBS_J;
  pc.plan.obs[1] = QTM_OBS_contrast;
  qtm_backend *b = NULL;
  cr_assert_eq(qtm_backend_cpu_open(&pc.plan, 3, &b, err, sizeof err), QTM_OK, "%s", err);
  cr_assert_not_null(b->ops->eval_tile_consumed);
  host_out plain, fed;
  host_out_init(&plain, &pc.plan);
  host_out_init(&fed, &pc.plan);
  int *visits = calloc((size_t)pc.plan.max_tile_points, sizeof *visits);
  cr_assert_not_null(visits);
  for (int threads = 1; threads <= 4; ++threads) { /* fewer than the backend's 3, as many, more */
    for (int64_t k = 0; k < pc.tiling.ntiles; ++k) {
      qtm_tile t;
      qtm_tiling_tile(&pc.tiling, &pc.grid, k, &t);
      cr_assert_geq(t.npoints, 4096);
      eval_tile(b, &t, &plain);
      for (int j = 0; j < fed.out.nobs; ++j) memset(fed.out.data[j], SENTINEL_BYTE, fed.len * fed.elem);
      memset(visits, 0, (size_t)t.npoints * sizeof *visits);
      consumer_log log = {threads, visits, 0, 0, 0, 0};
      qtm_tile_consumer c = {&log, threads, log_range, log_end};
      cr_assert_eq(b->ops->eval_tile_consumed(b, &t, &fed.out, &c, err, sizeof err), QTM_OK, "%s",
                   err);
      for (int64_t l = 0; l < t.npoints; ++l)
        cr_assert_eq(visits[l], 1, "consumer of %d threads, tile %lld: point %lld handed over %d "
                     "times", threads, (long long)k, (long long)l, visits[l]);
      cr_expect_eq(log.too_early, 0, "a point handed over before its evaluation");
      cr_expect_eq(log.wrong_thread, 0, "a range on a thread the consumer was not prepared for");
      cr_expect_eq(log.ranges_after_end, 0, "a range after an end");
      cr_expect_eq(log.ends, threads >= 3 ? 3 : 1, "consumer of %d threads: %d ends", threads,
                   log.ends);
      for (int j = 0; j < fed.out.nobs; ++j)
        cr_assert(memcmp(plain.out.data[j], fed.out.data[j], (size_t)t.npoints * fed.elem) == 0,
                  "tile %lld: values differ when consumed", (long long)k);
    }
  }
  free(visits);
  host_out_free(&plain);
  host_out_free(&fed);
  qtm_backend_free(b);
  qtm_grid_free(&pc.grid);
}

/* auto takes CUDA when it opens; otherwise the CPU, with a notice that names the reason. */
Test(backend_parity, auto_falls_back_to_cpu_with_reason) {
  parity_case pc;
  qtm_backend *b = NULL;
  char why[256] = "", msg[512] = "";
  int have_cuda = cuda_usable(why, sizeof why);
  small_case(&pc);
  qtm_status st = qtm_backend_open(QTM_BACKEND_AUTO, &pc.plan, 2, &b, msg, sizeof msg);
  cr_assert_eq(st, QTM_OK, "auto: %s: %s", qtm_status_str(st), msg);
  cr_log_info("auto: %s", msg);
  if (have_cuda) {
    cr_assert_str_eq(b->name, "cuda");
    cr_assert(strstr(msg, "using cuda") != NULL, "notice \"%s\" does not name the choice", msg);
  } else {
    cr_assert_str_eq(b->name, "cpu");
    cr_assert(strstr(msg, "using cpu") != NULL, "notice \"%s\" does not name the choice", msg);
    cr_assert(why[0] != '\0' && strstr(msg, why) != NULL,
              "notice \"%s\" does not give the reason \"%s\"", msg, why);
  }
  qtm_backend_free(b);
  qtm_grid_free(&pc.grid);
}

/* CUDA asked for by name: without a device QTM_ERR_NO_DEVICE and the reason, no handle (in a
 * build without nvcc, the fixed "built without CUDA" reason); with one, a CUDA backend that
 * refuses a tile larger than planned rather than overrun its buffers. */
Test(backend_parity, cuda_by_name_reports_no_device) {
  parity_case pc;
  qtm_backend *b = NULL;
  char why[256] = "", msg[512] = "";
  int have_cuda = cuda_usable(why, sizeof why);
  small_case(&pc);
  b = (qtm_backend *)&pc; /* must be reset to NULL on failure */
  qtm_status st = qtm_backend_open(QTM_BACKEND_CUDA, &pc.plan, 2, &b, msg, sizeof msg);
  if (!have_cuda) {
    cr_assert_eq(st, QTM_ERR_NO_DEVICE, "status %s (%s)", qtm_status_str(st), msg);
    cr_assert_null(b, "a handle was returned without a device");
    cr_assert(msg[0] != '\0', "no reason given");
    cr_assert_str_eq(msg, why);
    if (!qtm_cuda_compiled())
      cr_assert_str_eq(msg, "qtmscan was built without CUDA (no nvcc at configure time)");
    cr_log_info("cuda by name: %s", msg);
  } else {
    qtm_tile t;
    host_out h;
    char err[256] = "";
    cr_assert_eq(st, QTM_OK, "%s: %s", qtm_status_str(st), msg);
    cr_assert_str_eq(b->name, "cuda");
    host_out_init(&h, &pc.plan);
    qtm_tiling_tile(&pc.tiling, &pc.grid, 0, &t);
    t.count[0] = t.npoints = pc.plan.max_tile_points + 1;
    st = b->ops->eval_tile(b, &t, &h.out, err, sizeof err);
    cr_assert_eq(st, QTM_ERR_INVALID_ARG, "oversized tile: %s (%s)", qtm_status_str(st), err);
    host_out_free(&h);
    qtm_backend_free(b);
  }
  qtm_grid_free(&pc.grid);
}
