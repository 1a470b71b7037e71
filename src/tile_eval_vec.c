/* The CPU backend's vector path (tile_eval_vec.h). A point of the currents and contrasts spends
 * most of its time waiting on divisions (bench/NOTES.md section 15), and AVX-512 divides eight
 * doubles an instruction. The build targets generic x86-64, so the loop that evaluates is
 * compiled a second time for x86-64-v4 and chosen at run time.
 *
 * A run of points goes in blocks: the walk of qtm_tile_eval_range (scalar: carries and table
 * entries) copies each point's varying parameters and table entries into arrays, one per
 * quantity; a loop over the block then evaluates them through the very functions
 * qtm_eval_closed_factors composes (qtm_local_current_stat, qtm_local_rev_observables,
 * qtm_local_dJ_dTL_pair, qtm_global_observables), which GCC vectorises there; the results are
 * stored as the scalar path stores them. Same operations in the same order, each rounded once
 * as in the scalar code (this file is compiled with -ffp-contract=off, so no FMA contracts
 * them): the same bits, which test_tile_tables checks point by point against
 * qtm_eval_closed_point. */
#include "tile_eval_vec.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* QTM_VEC_GCC: set by CMakeLists.txt for GCC, with the flags that make the copy give the same
 * bits; other compilers build the scalar path only. */
#if defined(QTM_VEC_GCC) && defined(__x86_64__)
#define QTM_HAVE_VEC 1
#else
#define QTM_HAVE_VEC 0
#endif

/* Points a block: its 40 arrays (41 KB) about fill a core's L1. */
#define BLOCK 128

/* The inputs that vary from point to point, and the results. */
enum {
  IN_OMEGA, IN_GL, IN_GR, IN_G,                      /* parameters */
  IN_B, IN_UL, IN_UR, IN_RB, IN_RUL, IN_RUR,         /* local stats, forward and reverse */
  IN_GB0, IN_GCL0, IN_GCR0, IN_GB1, IN_GCL1, IN_GCR1, /* global stats of the two modes */
  IN_GBR0, IN_GBR1,                                  /* their reverse occupation gaps */
  IN_APPLIES,                                        /* qtm_global_applies: 1 or 0 */
  IN_TLX, IN_TLE, IN_TLM, IN_TRM,                    /* the local mode at TL (and m at TR) */
  IN_G0X, IN_G0E, IN_G0M, IN_G1X, IN_G1E, IN_G1M,    /* the global modes at TL */
  IN_COUNT
};
enum { R_J1, R_ALPHA, R_J, R_JREV, R_C, R_RATIO, R_DJ, R_JG, R_JGR, R_CG, R_DJG, R_COUNT };

typedef struct block {
  double in[IN_COUNT][BLOCK];
  double res[R_COUNT][BLOCK];
} block;

/* What is the same at every point of the run (no axis of theirs). */
typedef struct block_consts {
  double epsL, epsR, eps_a; /* and N = 2 */
  int global_statistics;    /* qtm_global_statistics, the same at every point */
} block_consts;

#if QTM_HAVE_VEC
static int result_slot(int obs) {
  switch (obs) {
  case QTM_OBS_J1: return R_J1;
  case QTM_OBS_alpha: return R_ALPHA;
  case QTM_OBS_J: return R_J;
  case QTM_OBS_J_rev: return R_JREV;
  case QTM_OBS_contrast: return R_C;
  case QTM_OBS_ratio: return R_RATIO;
  case QTM_OBS_dJ_dTL: return R_DJ;
  case QTM_OBS_dJ_global_dTL: return R_DJG;
  case QTM_OBS_J_global: return R_JG;
  case QTM_OBS_J_global_rev: return R_JGR;
  default: return R_CG; /* contrast_global: the caller admits QTM_VEC_OBS only */
  }
}

/* Points 0 .. n-1 of b. with_local, with_global and with_dj (the TL-derivatives) are constants
 * in each caller below, so each compiles to one loop without their branches. */
static inline void eval_block(const block_consts *c, int n, block *b, const int with_local,
                              const int with_global, const int with_dj) {
  const double epsL = c->epsL, epsR = c->epsR, eps_a = c->eps_a;
  for (int i = 0; i < n; ++i) {
    qtm_params p;
    p.omega = b->in[IN_OMEGA][i];
    /* none of these formulas reads the temperatures (their parts come from the tables): a NaN
     * would show in every value if one did */
    p.TL = p.TR = NAN;
    p.gammaL = b->in[IN_GL][i];
    p.gammaR = b->in[IN_GR][i];
    p.g = b->in[IN_G][i];
    p.epsL = epsL;
    p.epsR = epsR;
    p.eps_a = eps_a;
    p.N = 2; /* a constant: its tests fold away (GCC vectorises no select on an int test) */
    if (with_local) {
      qtm_local_stat fwd_stat = {b->in[IN_B][i], b->in[IN_UL][i], b->in[IN_UR][i]};
      qtm_local_stat rev_stat = {b->in[IN_RB][i], b->in[IN_RUL][i], b->in[IN_RUR][i]};
      qtm_local fwd = qtm_local_current_stat(&p, fwd_stat);
      /* with epsL == epsR the contrast does not read the pair; dJ/dTL reads tl and tr.m */
      qtm_pair q;
      memset(&q, 0, sizeof q);
      if (with_dj) {
        q.tl.x = b->in[IN_TLX][i];
        q.tl.e = b->in[IN_TLE][i];
        q.tl.m = b->in[IN_TLM][i];
        q.tr.m = b->in[IN_TRM][i];
        b->res[R_DJ][i] = qtm_local_dJ_dTL_pair(&p, q, fwd);
      }
      qtm_local_rev_obs r = qtm_local_rev_observables(&p, q, fwd, rev_stat);
      b->res[R_J1][i] = fwd.J1;
      b->res[R_ALPHA][i] = fwd.alpha;
      b->res[R_J][i] = fwd.J;
      b->res[R_JREV][i] = r.J_rev;
      b->res[R_C][i] = r.contrast;
      b->res[R_RATIO][i] = r.ratio;
    }
    if (with_global) {
      qtm_global_factors gx;
      memset(&gx, 0, sizeof gx); /* of the pairs, dJ/dTL reads tl only */
      if (with_dj) {
        gx.q[0].tl.x = b->in[IN_G0X][i];
        gx.q[0].tl.e = b->in[IN_G0E][i];
        gx.q[0].tl.m = b->in[IN_G0M][i];
        gx.q[1].tl.x = b->in[IN_G1X][i];
        gx.q[1].tl.e = b->in[IN_G1E][i];
        gx.q[1].tl.m = b->in[IN_G1M][i];
      }
      gx.s[0].b = b->in[IN_GB0][i];
      gx.s[0].cL = b->in[IN_GCL0][i];
      gx.s[0].cR = b->in[IN_GCR0][i];
      gx.s[1].b = b->in[IN_GB1][i];
      gx.s[1].cL = b->in[IN_GCL1][i];
      gx.s[1].cR = b->in[IN_GCR1][i];
      gx.b_rev[0] = b->in[IN_GBR0][i];
      gx.b_rev[1] = b->in[IN_GBR1][i];
      const unsigned dj = with_dj ? QTM_OBS_BIT(QTM_OBS_dJ_global_dTL) : 0u;
      qtm_global_obs go = qtm_global_observables(&p, QTM_NEED_GLOBAL_REV | dj, gx);
      /* NaN where the global forms do not apply, as qtm_eval_closed_factors stores */
      int applies = b->in[IN_APPLIES][i] != 0.0;
      b->res[R_JG][i] = applies ? go.J : NAN;
      b->res[R_JGR][i] = applies ? go.J_rev : NAN;
      b->res[R_CG][i] = applies ? go.contrast : NAN;
      if (with_dj) b->res[R_DJG][i] = applies ? go.dJ_dTL : NAN;
    }
  }
}

/* One compiled loop per combination of parts, each for AVX-512 (the features the run-time test
 * asks for, named one by one: GCC before 11 knows no "arch=x86-64-v4") with every call
 * inlined. */
#define QTM_V4_LOOP(name, local, global, dj)                                                   \
  __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx512cd"), flatten, noinline))    \
  static void name(                                                                            \
      const block_consts *c, int n, block *b) {                                                \
    eval_block(c, n, b, local, global, dj);                                                    \
  }
QTM_V4_LOOP(eval_local_v4, 1, 0, 0)
QTM_V4_LOOP(eval_global_v4, 0, 1, 0)
QTM_V4_LOOP(eval_both_v4, 1, 1, 0)
QTM_V4_LOOP(eval_local_dj_v4, 1, 0, 1)
QTM_V4_LOOP(eval_global_dj_v4, 0, 1, 1)
QTM_V4_LOOP(eval_both_dj_v4, 1, 1, 1)

/* The loop for these parts. */
static void eval_v4(const block_consts *c, int n, block *b, int with_local, int with_global,
                    int with_dj) {
  if (with_dj) {
    if (with_local && with_global) eval_both_dj_v4(c, n, b);
    else if (with_local) eval_local_dj_v4(c, n, b);
    else eval_global_dj_v4(c, n, b);
  } else {
    if (with_local && with_global) eval_both_v4(c, n, b);
    else if (with_local) eval_local_v4(c, n, b);
    else eval_global_v4(c, n, b);
  }
}

/* The statistics and N are parameters of no axis. */
static int uniform_statistics(const qtm_grid_desc *d) {
  for (int k = 0; k < d->naxes; ++k) {
    int id = d->axis_id[k];
    if (id == QTM_PARAM_epsL || id == QTM_PARAM_epsR || id == QTM_PARAM_eps_a ||
        id == QTM_PARAM_N)
      return 0;
  }
  return 1;
}

/* Copies point i's varying inputs into b. */
static void gather(block *b, int i, const qtm_params *p, const qtm_tile_tables *tab,
                   qtm_table_pos e, const block_consts *c, int with_local, int with_global,
                   int with_dj) {
  b->in[IN_OMEGA][i] = p->omega;
  b->in[IN_GL][i] = p->gammaL;
  b->in[IN_GR][i] = p->gammaR;
  b->in[IN_G][i] = p->g;
  if (with_local) {
    const qtm_local_stats *s = tab->stats + e.stats;
    b->in[IN_B][i] = s->fwd.b;
    b->in[IN_UL][i] = s->fwd.uL;
    b->in[IN_UR][i] = s->fwd.uR;
    b->in[IN_RB][i] = s->rev.b;
    b->in[IN_RUL][i] = s->rev.uL;
    b->in[IN_RUR][i] = s->rev.uR;
    if (with_dj) {
      const qtm_pair *q = &tab->local[e.local].q;
      b->in[IN_TLX][i] = q->tl.x;
      b->in[IN_TLE][i] = q->tl.e;
      b->in[IN_TLM][i] = q->tl.m;
      b->in[IN_TRM][i] = q->tr.m;
    }
  }
  if (with_global) {
    const qtm_global_factors *g = tab->global + e.global;
    b->in[IN_GB0][i] = g->s[0].b;
    b->in[IN_GCL0][i] = g->s[0].cL;
    b->in[IN_GCR0][i] = g->s[0].cR;
    b->in[IN_GB1][i] = g->s[1].b;
    b->in[IN_GCL1][i] = g->s[1].cL;
    b->in[IN_GCR1][i] = g->s[1].cR;
    b->in[IN_GBR0][i] = g->b_rev[0];
    b->in[IN_GBR1][i] = g->b_rev[1];
    if (with_dj) {
      b->in[IN_G0X][i] = g->q[0].tl.x;
      b->in[IN_G0E][i] = g->q[0].tl.e;
      b->in[IN_G0M][i] = g->q[0].tl.m;
      b->in[IN_G1X][i] = g->q[1].tl.x;
      b->in[IN_G1E][i] = g->q[1].tl.e;
      b->in[IN_G1M][i] = g->q[1].tl.m;
    }
    /* qtm_global_applies, its part that is the same at every point tested once */
    b->in[IN_APPLIES][i] = c->global_statistics && qtm_global_coupling(p->g, p->omega);
  }
}

/* Stores the block's n results from tile point l on, as qtm_tile_store_point stores them. */
static void store(const block *b, int n, const qtm_tile_out *out, int64_t l) {
  for (int j = 0; j < out->nobs; ++j) {
    const double *r = b->res[result_slot(out->obs[j])];
    if (out->dtype == QTM_DTYPE_F32) {
      float *o = (float *)out->data[j] + l;
      for (int i = 0; i < n; ++i) o[i] = (float)r[i];
    } else {
      memcpy((double *)out->data[j] + l, r, (size_t)n * sizeof *r);
    }
  }
}
#endif

int qtm_tile_vec_available(void) {
#if QTM_HAVE_VEC
  static atomic_int available = -1; /* threads that ask at once compute the same value */
  int a = atomic_load_explicit(&available, memory_order_relaxed);
  if (a < 0) {
    const char *env = getenv("QTM_CPU_VECTOR");
    __builtin_cpu_init();
    a = !(env && !strcmp(env, "0")) && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512cd");
    atomic_store_explicit(&available, a, memory_order_relaxed);
  }
  return a;
#else
  return 0;
#endif
}

int qtm_tile_eval_range_vec(const qtm_grid_desc *d, const double *values, const qtm_tile *t,
                            int64_t l0, int64_t l1, const qtm_tile_out *out, unsigned need,
                            const qtm_tile_tables *tab) {
#if QTM_HAVE_VEC
  const unsigned local_obs = QTM_VEC_OBS & (QTM_NEED_LOCAL | QTM_NEED_REV);
  const unsigned global_obs = QTM_VEC_OBS & QTM_NEED_GLOBAL;
  const unsigned dj_obs = QTM_OBS_BIT(QTM_OBS_dJ_dTL) | QTM_OBS_BIT(QTM_OBS_dJ_global_dTL);
  const int with_local = (need & local_obs) != 0, with_global = (need & global_obs) != 0;
  const int with_dj = (need & dj_obs) != 0;
  if (l0 >= l1 || !need || (need & ~QTM_VEC_OBS) || !qtm_tile_vec_available() || !tab ||
      (with_local && !tab->stats) || (with_local && with_dj && !tab->local) ||
      (with_global && !tab->global) || !uniform_statistics(d))
    return 0;
  const int n = d->naxes;
  int64_t coord[QTM_MAX_AXES];
  qtm_params p;
  const int derived_last = qtm_grid_derived_last(d);
  qtm_tile_coord(t, n, l0, coord);
  qtm_grid_point(d, values, coord, &p);
  /* two subsystems, and the contrast's equal-statistics form, the one that does not read the
   * pair */
  if (p.N != 2 || (with_local && p.epsL != p.epsR)) return 0;
  const block_consts c = {p.epsL, p.epsR, p.eps_a, qtm_global_statistics(&p)};
  qtm_table_pos e = qtm_table_pos_at(tab, t, n, coord);
  block b;
  for (int64_t l = l0; l < l1;) {
    const int64_t start = l;
    int i = 0;
    do { /* the walk of qtm_tile_eval_range, from the run's first point on */
      if (l > l0) {
        int k = qtm_tile_step(t, n, coord);
        qtm_table_pos_step(tab, t, n, k, &e);
        qtm_grid_point_step(d, values, coord, k, derived_last, &p);
      }
      gather(&b, i++, &p, tab, e, &c, with_local, with_global, with_dj);
    } while (++l < l1 && i < BLOCK);
    eval_v4(&c, i, &b, with_local, with_global, with_dj);
    store(&b, i, out, start);
  }
  return 1;
#else
  (void)d, (void)values, (void)t, (void)l0, (void)l1, (void)out, (void)need, (void)tab;
  return 0;
#endif
}
