/* Backends that evaluate a scan's tiles: an opaque handle behind a small table of functions
 * (evaluate a tile, free). The CPU backend is always built and is the fallback; the CUDA one
 * is built when nvcc exists. Both run tile_eval.h's point code: the CPU walks runs of points
 * (qtm_tile_eval_range), the CUDA kernel evaluates one point per thread (qtm_tile_eval_point). */
#ifndef QTM_BACKEND_H
#define QTM_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "qtm/grid.h"
#include "qtm/status.h"
#include "qtm/tile_eval.h"

/* What a backend is opened for: the grid (borrowed, must outlive the backend), the largest
 * tile it will be given, and what each tile stores. */
typedef struct qtm_scan_plan {
  const qtm_grid *grid;
  int64_t max_tile_points;
  qtm_dtype dtype;
  int nobs;
  int obs[QTM_OBS_COUNT];
  int device; /* CUDA: the GPU (modulo the count) - an MPI rank's local rank, one GPU each */
} qtm_scan_plan;

typedef struct qtm_backend qtm_backend;

/* Work that a backend runs on each run of points right after evaluating it, by the thread that
 * evaluated it, while the values are in cache (the scan's analysis; qtm_analysis_range's
 * contract): range(ctx, t, out, l0, l1) for points l0 .. l1-1, each point of the tile once, by
 * OpenMP threads numbered below `threads`; then end(ctx, t) by every thread of the team after
 * the last range (or by the one thread when the tile ran on one). */
typedef struct qtm_tile_consumer {
  void *ctx;
  int threads;
  void (*range)(void *ctx, const qtm_tile *t, const qtm_tile_out *out, int64_t l0, int64_t l1);
  void (*end)(void *ctx, const qtm_tile *t);
} qtm_tile_consumer;

typedef struct qtm_backend_ops {
  /* Evaluates every planned observable of tile t into out (host arrays of t->npoints values
   * each, dtype and observables as planned). err receives a sentence on failure. */
  qtm_status (*eval_tile)(qtm_backend *b, const qtm_tile *t, const qtm_tile_out *out, char *err,
                          size_t errcap);
  void (*free)(qtm_backend *b);
  /* eval_tile, then c run on the values as they are evaluated; NULL where the backend cannot
   * (CUDA: its values reach the host a tile at a time), and the caller runs the work itself. */
  qtm_status (*eval_tile_consumed)(qtm_backend *b, const qtm_tile *t, const qtm_tile_out *out,
                                   const qtm_tile_consumer *c, char *err, size_t errcap);
} qtm_backend_ops;

struct qtm_backend {
  const qtm_backend_ops *ops;
  const char *name;  /* "cpu" or "cuda" */
  char device[160];  /* what runs it, e.g. "2 OpenMP threads" or "NVIDIA H100 80GB HBM3" */
  qtm_scan_plan plan;
  void *impl;
};

typedef enum { QTM_BACKEND_AUTO, QTM_BACKEND_CPU, QTM_BACKEND_CUDA } qtm_backend_kind;

#ifdef __cplusplus
extern "C" {
#endif

/* Opens the backend of that kind. AUTO takes CUDA when a device is usable and falls back to the
 * CPU otherwise; msg then receives a one-line notice of the choice and why (empty for CPU/CUDA
 * asked for by name). CUDA asked for by name without a device: QTM_ERR_NO_DEVICE. threads: CPU
 * threads, 0 for all cores. */
qtm_status qtm_backend_open(qtm_backend_kind kind, const qtm_scan_plan *plan, int threads,
                            qtm_backend **out, char *msg, size_t msgcap);
qtm_status qtm_backend_cpu_open(const qtm_scan_plan *plan, int threads, qtm_backend **out,
                                char *err, size_t errcap);
/* In kernels/ when built with nvcc, else in src/cuda_absent.c (always QTM_ERR_NO_DEVICE). */
qtm_status qtm_backend_cuda_open(const qtm_scan_plan *plan, qtm_backend **out, char *err,
                                 size_t errcap);
void qtm_backend_free(qtm_backend *b);

#ifdef __cplusplus
}
#endif

#endif
