/* The CUDA scan backend: one GPU thread per point of a tile, each calling the shared
 * qtm_tile_eval_point (tile_eval.h), the point code the CPU backend's walk runs too. The grid's
 * axis values go to the device once, at open; a tile's outputs are written to device buffers
 * sized for the largest planned tile and copied back into the caller's host arrays.
 * CUDA C, compiled by nvcc as C++: kept to the C subset, no templates or library classes. */
#define QTM_CUDA_ERR_PREFIX "cuda backend: "
#include "cuda_check.h"
#include "qtm/backend.h"
#include "qtm/cuda_eval.h"
#include "qtm/tile_eval.h"

#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Launch configuration as in eval_points.cu: 128 threads, at most 16 blocks per SM, and a
 * grid-stride loop beyond that. */
#define QTM_TILE_THREADS 128
#define QTM_TILE_BLOCKS_PER_SM 16

typedef struct cuda_impl {
  int dev;
  int sms;
  cudaStream_t stream;
  int have_stream;
  double *d_values; /* the grid's axis values, nvalues doubles; NULL for a zero-axis grid */
  void *d_out;      /* plan.nobs slabs of plan.max_tile_points values of plan.dtype */
  size_t elem;      /* bytes per value: 4 or 8 */
} cuda_impl;

/* Everything arrives by value in the kernel's parameter space (about 700 bytes, well under
 * the 4 KiB limit); out.data[] are device pointers. The loop runs in size_t so any tile size
 * is correct whatever the grid size. */
__global__ static void qtm_backend_tile_kernel(qtm_grid_desc d, const double *values, qtm_tile t,
                                               qtm_tile_out out) {
  size_t n = (size_t)t.npoints;
  size_t stride = (size_t)blockDim.x * (size_t)gridDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
    qtm_tile_eval_point(&d, values, &t, (int64_t)i, &out);
}

static void put_msg(char *buf, size_t cap, const char *text) {
  if (buf && cap > 0) snprintf(buf, cap, "%s", text);
}



/* Releases what impl holds, in reverse order of acquisition. Returns the first failure (its
 * message in err) or cudaSuccess; keeps releasing after a failure. */
static cudaError_t release_impl(cuda_impl *impl, char *err, size_t errcap) {
  cudaError_t first = cudaSuccess, e;
  if (impl->d_out) {
    e = cudaFree(impl->d_out);
    if (e != cudaSuccess && first == cudaSuccess) {
      put_cuda_err(err, errcap, "cudaFree(d_out)", e);
      first = e;
    }
    impl->d_out = NULL;
  }
  if (impl->d_values) {
    e = cudaFree(impl->d_values);
    if (e != cudaSuccess && first == cudaSuccess) {
      put_cuda_err(err, errcap, "cudaFree(d_values)", e);
      first = e;
    }
    impl->d_values = NULL;
  }
  if (impl->have_stream) {
    e = cudaStreamDestroy(impl->stream);
    if (e != cudaSuccess && first == cudaSuccess) {
      put_cuda_err(err, errcap, "cudaStreamDestroy", e);
      first = e;
    }
    impl->have_stream = 0;
  }
  return first;
}

static qtm_status cuda_eval_tile(qtm_backend *b, const qtm_tile *t, const qtm_tile_out *out,
                                 char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  const cuda_impl *impl = (const cuda_impl *)b->impl;
  const qtm_scan_plan *plan = &b->plan;
  qtm_tile_out dout = *out;
  size_t n = 0, blocks = 0, blocks_max = 0;

  /* The device buffers were sized from the plan: refuse anything that would overrun them. */
  if (t->npoints < 0 || t->npoints > plan->max_tile_points) {
    if (err && errcap)
      snprintf(err, errcap, "cuda backend: tile %lld has %lld points, more than the planned %lld",
               (long long)t->index, (long long)t->npoints, (long long)plan->max_tile_points);
    return QTM_ERR_INVALID_ARG;
  }
  if (out->dtype != plan->dtype || out->nobs < 0 || out->nobs > plan->nobs) {
    put_msg(err, errcap,
            "cuda backend: tile output dtype or observable count differs from the plan");
    return QTM_ERR_INVALID_ARG;
  }
  for (int j = 0; j < out->nobs; ++j)
    if (out->obs[j] < 0 || out->obs[j] >= QTM_OBS_COUNT || !out->data[j]) {
      put_msg(err, errcap, "cuda backend: tile output has an unknown observable or a NULL array");
      return QTM_ERR_INVALID_ARG;
    }
  n = (size_t)t->npoints;
  if (n == 0 || out->nobs == 0) return QTM_OK;

  for (int j = 0; j < out->nobs; ++j)
    dout.data[j] = (char *)impl->d_out + (size_t)j * (size_t)plan->max_tile_points * impl->elem;
  blocks_max = (size_t)impl->sms * QTM_TILE_BLOCKS_PER_SM;
  blocks = (n + QTM_TILE_THREADS - 1) / QTM_TILE_THREADS;
  if (blocks > blocks_max) blocks = blocks_max;

  qtm_backend_tile_kernel<<<(unsigned)blocks, QTM_TILE_THREADS, 0, impl->stream>>>(
      plan->grid->desc, impl->d_values, *t, dout);
  QTM_CUDA_TRY(cudaGetLastError()); /* launch configuration errors */
  /* Copies into the caller's pageable arrays are staged by the driver and leave this thread
   * waiting. Async copies into pinned (cudaHostAlloc) buffers would let the host convert or
   * write one tile while the next computes; the pipeline already overlaps compute with HDF5
   * writing at the tile level (double-buffered host arrays), so a synchronous call is correct
   * and costs only the copy time, small next to the kernel for every observable set. */
  for (int j = 0; j < out->nobs; ++j)
    QTM_CUDA_TRY(cudaMemcpyAsync(out->data[j], dout.data[j], n * impl->elem,
                                 cudaMemcpyDeviceToHost, impl->stream));
  /* Reports the kernel's execution errors as well as the copies'. */
  QTM_CUDA_TRY(cudaStreamSynchronize(impl->stream));

cleanup:
  return rc;
}

/* ops->free has no status to return: a failure to release is reported on stderr, the one
 * place it can be seen, and the handle is freed regardless. */
static void cuda_free(qtm_backend *b) {
  char err[256] = "";
  cuda_impl *impl = (cuda_impl *)b->impl;
  if (impl) {
    if (release_impl(impl, err, sizeof err) != cudaSuccess)
      fprintf(stderr, "qtmscan: warning: %s\n", err);
    free(impl);
  }
  free(b);
}

static const qtm_backend_ops cuda_ops = {cuda_eval_tile, cuda_free, NULL};

extern "C" qtm_status qtm_backend_cuda_open(const qtm_scan_plan *plan, qtm_backend **out,
                                            char *err, size_t errcap) {
  /* Everything the cleanup reads is declared before the first goto (C++ forbids jumping
   * over initialisations). */
  qtm_status rc = QTM_OK;
  qtm_backend *b = NULL;
  cuda_impl *impl = NULL;
  char name[256] = "";
  size_t nvalues = 0, slab = 0;

  *out = NULL;
  if (!plan || !plan->grid || plan->max_tile_points < 0 || plan->nobs < 0 ||
      plan->nobs > QTM_OBS_COUNT || plan->grid->nvalues < 0 ||
      (plan->dtype != QTM_DTYPE_F32 && plan->dtype != QTM_DTYPE_F64)) {
    put_msg(err, errcap, "cuda backend: invalid scan plan");
    return QTM_ERR_INVALID_ARG;
  }
  /* A machine without a driver fails the probe with an error rather than zero devices: the
   * probe maps any error there to QTM_ERR_NO_DEVICE with the runtime's reason. */
  /* An MPI rank's GPU: a device it cannot take (another process holds it exclusively) is an
   * error, not a silent run on device 0. Without a driver the count fails and the probe below
   * says why. */
  int count = 0;
  if (plan->device > 0 && cudaGetDeviceCount(&count) == cudaSuccess && count > 1) {
    cudaError_t e = cudaSetDevice(plan->device % count);
    if (e != cudaSuccess) {
      if (err && errcap)
        snprintf(err, errcap, "no usable CUDA device: device %d: %s", plan->device % count,
                 cudaGetErrorString(e));
      return QTM_ERR_NO_DEVICE;
    }
  }
  (void)cudaGetLastError();
  if (qtm_cuda_device_name(name, sizeof name) != QTM_OK) {
    if (err && errcap) snprintf(err, errcap, "no usable CUDA device: %s", name);
    return QTM_ERR_NO_DEVICE;
  }

  b = (qtm_backend *)calloc(1, sizeof *b);
  impl = (cuda_impl *)calloc(1, sizeof *impl);
  if (!b || !impl) {
    put_msg(err, errcap, "out of memory opening the CUDA backend");
    rc = QTM_ERR_NOMEM;
    goto cleanup;
  }
  impl->elem = plan->dtype == QTM_DTYPE_F32 ? sizeof(float) : sizeof(double);
  nvalues = (size_t)plan->grid->nvalues;
  if ((uint64_t)plan->max_tile_points > SIZE_MAX / impl->elem / (QTM_OBS_COUNT + 1)) {
    put_msg(err, errcap, "cuda backend: the planned tile is too large to address");
    rc = QTM_ERR_INVALID_ARG;
    goto cleanup;
  }
  slab = (size_t)plan->max_tile_points * impl->elem;

  QTM_CUDA_TRY(cudaGetDevice(&impl->dev));
  QTM_CUDA_TRY(cudaDeviceGetAttribute(&impl->sms, cudaDevAttrMultiProcessorCount, impl->dev));
  if (impl->sms < 1) impl->sms = 1;
  QTM_CUDA_TRY(cudaStreamCreateWithFlags(&impl->stream, cudaStreamNonBlocking));
  impl->have_stream = 1;
  if (nvalues > 0) {
    QTM_CUDA_TRY(cudaMalloc((void **)&impl->d_values, nvalues * sizeof(double)));
    /* On the backend's stream and waited for: a plain cudaMemcpy from pageable memory may
     * return before the data reach the device, and the legacy default stream it runs on does
     * not order a non-blocking stream's kernels after it. */
    QTM_CUDA_TRY(cudaMemcpyAsync(impl->d_values, plan->grid->values, nvalues * sizeof(double),
                                 cudaMemcpyHostToDevice, impl->stream));
    QTM_CUDA_TRY(cudaStreamSynchronize(impl->stream));
  }
  if (slab > 0 && plan->nobs > 0)
    QTM_CUDA_TRY(cudaMalloc(&impl->d_out, slab * (size_t)plan->nobs));

  b->ops = &cuda_ops;
  b->name = "cuda";
  b->plan = *plan;
  b->impl = impl;
  snprintf(b->device, sizeof b->device, "%s", name);
  *out = b;
  return QTM_OK;

cleanup:
  /* Release errors are not reported over the first error. */
  if (impl) (void)release_impl(impl, NULL, 0);
  free(impl);
  free(b);
  return rc;
}
