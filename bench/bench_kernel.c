/* Kernel-only timing of the scan backends through the library's backend API: the benchmark grid
 * (bench_grid.h) cut into tiles as `qtmscan run` cuts it, every tile evaluated into host arrays
 * by each available backend, no file. Passes over the whole grid repeat until --min-time
 * seconds have gone by, so that short grids still give a steady figure. One line per backend,
 * `key=value` fields that bench/run.sh parses; a backend that cannot open says why and is
 * skipped (status 0), so that scripts/gpu-check.sh can run this with no arguments anywhere.
 *   usage: bench_kernel [--grid N1,N2,N3,N4] [--obs J,J_rev,...] [--backend cpu|cuda|all]
 *                       [--threads N] [--min-time S] [--dtype f32|f64] [--tile-points N] */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_grid.h"
#include "qtm/backend.h"

typedef struct options {
  int64_t n[QTM_BENCH_NAXES];
  int nobs;
  int obs[QTM_OBS_COUNT];
  const char *backend;
  int threads;
  double min_time;
  qtm_dtype dtype;
  int64_t tile_points;
} options;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int parse_obs(const char *list, options *o) {
  char buf[512];
  if (strlen(list) >= sizeof buf) return -1;
  strcpy(buf, list);
  o->nobs = 0;
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    int id = qtm_obs_find(tok);
    if (id < 0 || o->nobs == QTM_OBS_COUNT) {
      fprintf(stderr, "bench_kernel: unknown observable '%s'\n", tok);
      return -1;
    }
    o->obs[o->nobs++] = id;
  }
  return o->nobs > 0 ? 0 : -1;
}

static int parse_args(int argc, char **argv, options *o) {
  static const int64_t def_n[QTM_BENCH_NAXES] = {100, 50, 40, 20}; /* 4e6 points */
  memcpy(o->n, def_n, sizeof o->n);
  o->backend = "all";
  o->threads = 0;
  o->min_time = 1.0;
  o->dtype = QTM_DTYPE_F64;
  o->tile_points = 262144; /* qtmscan run's default */
  if (parse_obs("J,J_rev,contrast,ratio,J_global,contrast_global", o) != 0) return -1;
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) {
      fprintf(stderr, "bench_kernel: %s needs a value\n", a);
      return -1;
    }
    ++i;
    if (strcmp(a, "--grid") == 0) {
      long long q[QTM_BENCH_NAXES];
      if (sscanf(v, "%lld,%lld,%lld,%lld", &q[0], &q[1], &q[2], &q[3]) != 4) {
        fprintf(stderr, "bench_kernel: --grid wants N1,N2,N3,N4, got '%s'\n", v);
        return -1;
      }
      for (int k = 0; k < QTM_BENCH_NAXES; ++k) o->n[k] = q[k];
    } else if (strcmp(a, "--obs") == 0) {
      if (parse_obs(v, o) != 0) return -1;
    } else if (strcmp(a, "--backend") == 0) {
      o->backend = v;
    } else if (strcmp(a, "--threads") == 0) {
      o->threads = atoi(v);
    } else if (strcmp(a, "--min-time") == 0) {
      o->min_time = atof(v);
    } else if (strcmp(a, "--dtype") == 0) {
      o->dtype = strcmp(v, "f32") == 0 ? QTM_DTYPE_F32 : QTM_DTYPE_F64;
    } else if (strcmp(a, "--tile-points") == 0) {
      o->tile_points = atoll(v);
    } else {
      fprintf(stderr, "bench_kernel: unknown option %s\n", a);
      return -1;
    }
  }
  if (o->tile_points < 1) o->tile_points = 1;
  return 0;
}

/* Times one backend over the whole grid; 0 when timed, 1 when the backend is unavailable
 * (reason printed), -1 on a failure. */
static int time_backend(qtm_backend_kind kind, const char *name, const options *o,
                        const qtm_grid *g) {
  qtm_tiling tl;
  qtm_tiling_init(&tl, g, o->tile_points);
  qtm_scan_plan plan = {g, tl.max_tile_points, o->dtype, o->nobs, {0}, 0};
  memcpy(plan.obs, o->obs, sizeof o->obs);
  size_t elem = o->dtype == QTM_DTYPE_F32 ? sizeof(float) : sizeof(double);
  qtm_tile_out out = {o->dtype, o->nobs, {0}, {NULL}};
  memcpy(out.obs, o->obs, sizeof o->obs);
  qtm_backend *b = NULL;
  char msg[512] = "";
  int rc = -1;
  qtm_status st = kind == QTM_BACKEND_CPU
                      ? qtm_backend_cpu_open(&plan, o->threads, &b, msg, sizeof msg)
                      : qtm_backend_cuda_open(&plan, &b, msg, sizeof msg);
  if (st != QTM_OK) {
    printf("kernel backend=%s skipped=\"%s\"\n", name, msg[0] ? msg : qtm_status_str(st));
    return st == QTM_ERR_NO_DEVICE ? 1 : -1;
  }
  for (int j = 0; j < o->nobs; ++j) {
    out.data[j] = malloc((size_t)tl.max_tile_points * elem);
    if (!out.data[j]) {
      fprintf(stderr, "bench_kernel: out of memory for a tile\n");
      goto cleanup;
    }
    memset(out.data[j], 0, (size_t)tl.max_tile_points * elem); /* pages mapped before timing */
  }
  double t0 = now_s(), elapsed = 0.0;
  int64_t passes = 0;
  do {
    for (int64_t k = 0; k < tl.ntiles; ++k) {
      qtm_tile t;
      qtm_tiling_tile(&tl, g, k, &t);
      st = b->ops->eval_tile(b, &t, &out, msg, sizeof msg);
      if (st != QTM_OK) {
        fprintf(stderr, "bench_kernel: %s: %s\n", name, msg[0] ? msg : qtm_status_str(st));
        goto cleanup;
      }
    }
    ++passes;
    elapsed = now_s() - t0;
  } while (elapsed < o->min_time);
  double points = (double)g->npoints * (double)passes;
  printf("kernel backend=%s device=\"%s\" nobs=%d dtype=%s points=%lld passes=%lld seconds=%.4f "
         "points_per_s=%.4e\n",
         name, b->device, o->nobs, o->dtype == QTM_DTYPE_F32 ? "f32" : "f64",
         (long long)g->npoints, (long long)passes, elapsed, points / elapsed);
  rc = 0;
cleanup:
  for (int j = 0; j < o->nobs; ++j) free(out.data[j]);
  qtm_backend_free(b);
  return rc;
}

int main(int argc, char **argv) {
  options o;
  if (parse_args(argc, argv, &o) != 0) return 2;
  qtm_grid g;
  char err[256];
  if (qtm_bench_grid_init(&g, o.n, err, sizeof err) != QTM_OK) {
    fprintf(stderr, "bench_kernel: %s\n", err);
    return 2;
  }
  int failed = 0;
  if (strcmp(o.backend, "cpu") == 0 || strcmp(o.backend, "all") == 0)
    failed |= time_backend(QTM_BACKEND_CPU, "cpu", &o, &g) < 0;
  if (strcmp(o.backend, "cuda") == 0 || strcmp(o.backend, "all") == 0) {
    int r = time_backend(QTM_BACKEND_CUDA, "cuda", &o, &g);
    failed |= r < 0 || (r == 1 && strcmp(o.backend, "cuda") == 0);
  }
  qtm_grid_free(&g);
  return failed ? 1 : 0;
}
