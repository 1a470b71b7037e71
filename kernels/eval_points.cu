/* CUDA executor of the closed forms: one thread per parameter point calls the same
 * qtm_eval_closed_point() of physics.h that the CPU loop calls (one source, two executors).
 * CUDA C, compiled by nvcc as C++: kept to the C subset, no templates or library classes.
 * Host memory is the caller's; the device holds one chunk of points and observables at a
 * time, so any n runs in bounded device memory. */
#define QTM_CUDA_ERR_PREFIX ""
#include "cuda_check.h"
#include "qtm/cuda_eval.h"
#include "qtm/physics.h"

#include <cuda_runtime.h>
#include <stdio.h>

/* Points per chunk: 2^20 points are 80 MiB of parameters and 168 MiB of observables on the
 * device, far below any card's memory and large enough to fill every SM many times over. */
#define QTM_CUDA_CHUNK ((size_t)1 << 20)
#define QTM_CUDA_THREADS 128
/* Resident blocks per SM the grid aims for; beyond that the grid-stride loop takes over. */
#define QTM_CUDA_BLOCKS_PER_SM 16

/* Grid-stride loop in size_t, so the kernel is correct for any n whatever the grid size. */
__global__ static void qtm_eval_points_kernel(const qtm_params *points, qtm_obs *out, size_t n) {
  size_t stride = (size_t)blockDim.x * (size_t)gridDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    qtm_params p = points[i];
    qtm_eval_closed_point(&p, &out[i]);
  }
}

static void put_msg(char *buf, size_t cap, const char *text) {
  if (buf && cap > 0) snprintf(buf, cap, "%s", text);
}


/* QTM_OK when a device can be used, else QTM_ERR_NO_DEVICE with the reason in buf. A machine
 * without a driver fails cudaGetDeviceCount ("CUDA driver version is insufficient") rather
 * than reporting zero devices: any error there means "no device". */
static qtm_status probe_device(char *buf, size_t cap) {
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    put_msg(buf, cap, cudaGetErrorString(e));
    (void)cudaGetLastError(); /* clear the error state for later callers */
    return QTM_ERR_NO_DEVICE;
  }
  if (count == 0) {
    put_msg(buf, cap, "no CUDA-capable device is detected");
    return QTM_ERR_NO_DEVICE;
  }
  return QTM_OK;
}

extern "C" int qtm_cuda_compiled(void) { return 1; }

extern "C" qtm_status qtm_cuda_device_name(char *buf, size_t cap) {
  qtm_status st = probe_device(buf, cap);
  if (st != QTM_OK) return st;
  int dev = 0;
  cudaDeviceProp prop;
  cudaError_t e = cudaGetDevice(&dev);
  if (e == cudaSuccess) e = cudaGetDeviceProperties(&prop, dev);
  if (e != cudaSuccess) { /* a device we cannot even query is no device */
    put_msg(buf, cap, cudaGetErrorString(e));
    (void)cudaGetLastError();
    return QTM_ERR_NO_DEVICE;
  }
  put_msg(buf, cap, prop.name);
  return QTM_OK;
}


extern "C" qtm_status qtm_cuda_eval_points(const qtm_params *points, qtm_obs *out, size_t n,
                                           char *err, size_t errcap) {
  /* Everything the cleanup reads is declared before the first goto (C++ forbids jumping
   * over initialisations). */
  qtm_status rc = QTM_OK;
  qtm_params *d_points = NULL;
  qtm_obs *d_out = NULL;
  size_t chunk = n < QTM_CUDA_CHUNK ? n : QTM_CUDA_CHUNK;
  size_t blocks_max = 0, blocks = 0;
  int dev = 0, sms = 0;

  if (n == 0) return QTM_OK;
  if (!points || !out) {
    put_msg(err, errcap, "qtm_cuda_eval_points: NULL points or out with n > 0");
    return QTM_ERR_INVALID_ARG;
  }
  rc = probe_device(err, errcap);
  if (rc != QTM_OK) return rc;

  QTM_CUDA_TRY(cudaGetDevice(&dev));
  QTM_CUDA_TRY(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
  QTM_CUDA_TRY(cudaMalloc((void **)&d_points, chunk * sizeof *d_points));
  QTM_CUDA_TRY(cudaMalloc((void **)&d_out, chunk * sizeof *d_out));
  blocks_max = (size_t)(sms > 0 ? sms : 1) * QTM_CUDA_BLOCKS_PER_SM;

  for (size_t first = 0; first < n; first += chunk) {
    size_t m = n - first < chunk ? n - first : chunk;
    blocks = (m + QTM_CUDA_THREADS - 1) / QTM_CUDA_THREADS;
    if (blocks > blocks_max) blocks = blocks_max;
    QTM_CUDA_TRY(cudaMemcpy(d_points, points + first, m * sizeof *d_points,
                            cudaMemcpyHostToDevice));
    qtm_eval_points_kernel<<<(unsigned)blocks, QTM_CUDA_THREADS>>>(d_points, d_out, m);
    QTM_CUDA_TRY(cudaGetLastError()); /* launch configuration errors */
    /* The copy back waits for the kernel and reports its execution errors. */
    QTM_CUDA_TRY(cudaMemcpy(out + first, d_out, m * sizeof *d_out, cudaMemcpyDeviceToHost));
  }

cleanup:
  /* Free errors are not reported over the first error; after success they are. */
  if (d_out) {
    cudaError_t e = cudaFree(d_out);
    if (e != cudaSuccess && rc == QTM_OK) {
      put_cuda_err(err, errcap, "cudaFree(d_out)", e);
      rc = QTM_ERR_CUDA;
    }
  }
  if (d_points) {
    cudaError_t e = cudaFree(d_points);
    if (e != cudaSuccess && rc == QTM_OK) {
      put_cuda_err(err, errcap, "cudaFree(d_points)", e);
      rc = QTM_ERR_CUDA;
    }
  }
  return rc;
}
