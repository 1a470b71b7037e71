/* The HDF5 writer alone: the benchmark grid's tiles evaluated first by the CPU backend (all of
 * them held in memory, untimed), then written through qtm_h5_writer_create, write_tile and
 * finish, then fsync'd, as `qtmscan run` writes them but without the evaluation competing for
 * the cores. Tells whether an end-to-end run is bound by writing or by computing, and what the
 * writer itself costs (wall and CPU: getrusage covers every thread, compression pools too).
 * One line of `key=value` fields for bench/run.sh:
 *   usage: bench_writer --out FILE [--grid N1,N2,N3,N4] [--obs J,...|all] [--dtype f32|f64]
 *                       [--gzip L] [--tile-points N] [--repeat R] */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench_grid.h"
#include "qtm/backend.h"
#include "qtm/h5_writer.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU time of the calling thread, the one that makes the HDF5 calls: total CPU over it is how
 * many cores the writer could keep busy on an idle machine, whatever the load now. */
static double thread_cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
         (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

int main(int argc, char **argv) {
  int64_t n[QTM_BENCH_NAXES] = {50, 50, 40, 20};
  const char *out_path = NULL, *obs_list = "all";
  qtm_dtype dtype = QTM_DTYPE_F32;
  int gzip = 0, repeat = 1;
  int64_t tile_points = 262144;
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *a = argv[i], *v = argv[i + 1];
    if (strcmp(a, "--grid") == 0) {
      long long q[4];
      if (sscanf(v, "%lld,%lld,%lld,%lld", &q[0], &q[1], &q[2], &q[3]) != 4) return 2;
      for (int k = 0; k < 4; ++k) n[k] = q[k];
    } else if (strcmp(a, "--out") == 0) {
      out_path = v;
    } else if (strcmp(a, "--obs") == 0) {
      obs_list = v;
    } else if (strcmp(a, "--dtype") == 0) {
      dtype = strcmp(v, "f64") == 0 ? QTM_DTYPE_F64 : QTM_DTYPE_F32;
    } else if (strcmp(a, "--gzip") == 0) {
      gzip = atoi(v);
    } else if (strcmp(a, "--tile-points") == 0) {
      tile_points = atoll(v);
    } else if (strcmp(a, "--repeat") == 0) {
      repeat = atoi(v);
    } else {
      fprintf(stderr, "bench_writer: unknown option %s\n", a);
      return 2;
    }
  }
  if (!out_path) {
    fprintf(stderr, "bench_writer: --out FILE is required\n");
    return 2;
  }
  int obs[QTM_OBS_COUNT], nobs = 0;
  if (strcmp(obs_list, "all") == 0) {
    for (int id = 0; id < QTM_OBS_COUNT; ++id) obs[nobs++] = id;
  } else {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", obs_list);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
      int id = qtm_obs_find(t);
      if (id < 0 || nobs == QTM_OBS_COUNT) {
        fprintf(stderr, "bench_writer: unknown observable '%s'\n", t);
        return 2;
      }
      obs[nobs++] = id;
    }
  }
  qtm_grid g;
  qtm_tiling tl;
  char err[512] = "";
  if (qtm_bench_grid_init(&g, n, err, sizeof err) != QTM_OK) {
    fprintf(stderr, "bench_writer: %s\n", err);
    return 2;
  }
  qtm_tiling_init(&tl, &g, tile_points);
  size_t elem = dtype == QTM_DTYPE_F32 ? sizeof(float) : sizeof(double);
  /* Every tile's values, evaluated before the clock starts. */
  qtm_scan_plan plan = {&g, tl.max_tile_points, dtype, nobs, {0}, 0};
  memcpy(plan.obs, obs, sizeof obs);
  qtm_backend *b = NULL;
  if (qtm_backend_cpu_open(&plan, 0, &b, err, sizeof err) != QTM_OK) {
    fprintf(stderr, "bench_writer: %s\n", err);
    return 1;
  }
  qtm_tile_out *outs = calloc((size_t)tl.ntiles, sizeof *outs);
  if (!outs) return 1;
  for (int64_t k = 0; k < tl.ntiles; ++k) {
    qtm_tile t;
    qtm_tiling_tile(&tl, &g, k, &t);
    outs[k].dtype = dtype;
    outs[k].nobs = nobs;
    memcpy(outs[k].obs, obs, sizeof obs);
    for (int j = 0; j < nobs; ++j)
      if (!(outs[k].data[j] = malloc((size_t)t.npoints * elem))) return 1;
    if (b->ops->eval_tile(b, &t, &outs[k], err, sizeof err) != QTM_OK) {
      fprintf(stderr, "bench_writer: %s\n", err);
      return 1;
    }
  }
  qtm_backend_free(b);
  qtm_h5_layout layout = {&g, &tl, nobs, obs, dtype, gzip, 0, NULL, 0, NULL, 0, 0};
  qtm_h5_provenance prov = {"bench_writer", "", "", "bench_writer", "cpu", "", "", NULL,
                            0, 0, 0, 0, NULL};
  double best = 0, best_cpu = 0, best_thread = 0;
  long long bytes = 0;
  for (int r = 0; r < repeat; ++r) {
    (void)unlink(out_path);
    double t0 = now_s(), c0 = cpu_s(), h0 = thread_cpu_s();
    qtm_h5_writer *w = NULL;
    if (qtm_h5_writer_create(out_path, &layout, &prov, &w, err, sizeof err) != QTM_OK) {
      fprintf(stderr, "bench_writer: %s\n", err);
      return 1;
    }
    for (int64_t k = 0; k < tl.ntiles; ++k) {
      qtm_tile t;
      qtm_tiling_tile(&tl, &g, k, &t);
      if (qtm_h5_writer_write_tile(w, &t, &outs[k], NULL, err, sizeof err) != QTM_OK) {
        fprintf(stderr, "bench_writer: %s\n", err);
        return 1;
      }
    }
    if (qtm_h5_writer_finish(w, "", 0.0, err, sizeof err) != QTM_OK) {
      fprintf(stderr, "bench_writer: %s\n", err);
      return 1;
    }
    int fd = open(out_path, O_RDONLY);
    if (fd < 0 || fsync(fd) != 0) return 1;
    close(fd);
    double wall = now_s() - t0, cpu = cpu_s() - c0, hcpu = thread_cpu_s() - h0;
    if (best == 0 || wall < best) best = wall, best_cpu = cpu, best_thread = hcpu;
  }
  FILE *f = fopen(out_path, "rb");
  if (f && fseek(f, 0, SEEK_END) == 0) bytes = ftell(f);
  if (f) fclose(f);
  double raw = (double)g.npoints * (double)nobs * (double)elem;
  printf("writer nobs=%d dtype=%s gzip=%d points=%lld tiles=%lld raw_bytes=%.0f file_bytes=%lld "
         "seconds=%.4f cpu_seconds=%.4f hdf5_thread_cpu_seconds=%.4f cores=%.2f cores_idle=%.2f "
         "raw_MB_per_s=%.1f points_per_s=%.4e\n",
         nobs, dtype == QTM_DTYPE_F32 ? "f32" : "f64", gzip, (long long)g.npoints,
         (long long)tl.ntiles, raw, bytes, best, best_cpu, best_thread, best_cpu / best,
         best_cpu / best_thread, raw / best / 1e6,
         (double)g.npoints / best);
  for (int64_t k = 0; k < tl.ntiles; ++k)
    for (int j = 0; j < nobs; ++j) free(outs[k].data[j]);
  free(outs);
  qtm_grid_free(&g);
  return 0;
}
