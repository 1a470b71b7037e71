/* Error handling shared by the CUDA sources: every CUDA call is checked through QTM_CUDA_TRY,
 * which records "PREFIXcall: message (name)" and leaves through the function's cleanup label
 * (it needs `rc`, `err`, `errcap` in scope). Each .cu file defines QTM_CUDA_ERR_PREFIX first. */
#ifndef QTM_CUDA_CHECK_H
#define QTM_CUDA_CHECK_H

#include <cuda_runtime.h>
#include <stdio.h>

#ifndef QTM_CUDA_ERR_PREFIX
#define QTM_CUDA_ERR_PREFIX ""
#endif

static void put_cuda_err(char *buf, size_t cap, const char *call, cudaError_t e) {
  if (buf && cap > 0)
    snprintf(buf, cap, QTM_CUDA_ERR_PREFIX "%s: %s (%s)", call, cudaGetErrorString(e),
             cudaGetErrorName(e));
}

#define QTM_CUDA_TRY(call)                  \
  do {                                      \
    cudaError_t e_ = (call);                \
    if (e_ != cudaSuccess) {                \
      put_cuda_err(err, errcap, #call, e_); \
      rc = QTM_ERR_CUDA;                    \
      goto cleanup;                         \
    }                                       \
  } while (0)

#endif
