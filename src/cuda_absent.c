/* The CUDA backend's API in a build without nvcc: every call reports "no device", so callers
 * fall back to the CPU and GPU tests skip, with the same code as in a CUDA build. */
#include "qtm/backend.h"
#include "qtm/cuda_eval.h"

#include <stdio.h>

#define QTM_NO_CUDA_MSG "qtmscan was built without CUDA (no nvcc at configure time)"

static void put_msg(char *buf, size_t cap, const char *text) {
  if (buf && cap > 0) snprintf(buf, cap, "%s", text);
}

int qtm_cuda_compiled(void) { return 0; }

qtm_status qtm_cuda_device_name(char *buf, size_t cap) {
  put_msg(buf, cap, QTM_NO_CUDA_MSG);
  return QTM_ERR_NO_DEVICE;
}

/* n = 0 succeeds as in the CUDA build: there is nothing to evaluate, device or not. */
qtm_status qtm_cuda_eval_points(const qtm_params *points, qtm_obs *out, size_t n, char *err,
                                size_t errcap) {
  if (n == 0) return QTM_OK;
  if (!points || !out) {
    put_msg(err, errcap, "qtm_cuda_eval_points: NULL points or out with n > 0");
    return QTM_ERR_INVALID_ARG;
  }
  put_msg(err, errcap, QTM_NO_CUDA_MSG);
  return QTM_ERR_NO_DEVICE;
}

qtm_status qtm_backend_cuda_open(const qtm_scan_plan *plan, qtm_backend **out, char *err,
                                 size_t errcap) {
  (void)plan;
  *out = NULL;
  if (err && errcap) snprintf(err, errcap, "%s", QTM_NO_CUDA_MSG);
  return QTM_ERR_NO_DEVICE;
}
