/* The CUDA executor of the closed forms (physics.h): every observable of many points, one GPU
 * thread per point. The same three functions exist in every build: with nvcc they run on the
 * device (kernels/eval_points.cu), without it they report QTM_ERR_NO_DEVICE
 * (src/cuda_absent.c), so callers and tests need no #ifdef and fall back to the CPU. */
#ifndef QTM_CUDA_EVAL_H
#define QTM_CUDA_EVAL_H

#include <stddef.h>

#include "qtm/observables.h"
#include "qtm/params.h"
#include "qtm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* QTM_OK with the name of the current CUDA device in buf, or QTM_ERR_NO_DEVICE with the reason
 * in buf (the CUDA runtime's error string; a machine without a driver reports an error here,
 * not zero devices, and any error counts as "no device"). buf may be NULL when cap is 0. */
qtm_status qtm_cuda_device_name(char *buf, size_t cap);

/* Evaluates every observable of the n points (each must have passed qtm_params_validate()) on
 * the GPU, out[i] for points[i], bit for bit the formulas of physics.h up to the device's math
 * library and FMA contraction (a few ulps). n = 0 is QTM_OK and touches nothing, device or
 * not. Errors: QTM_ERR_INVALID_ARG for NULL arrays with n > 0; QTM_ERR_NO_DEVICE when there is
 * no usable device (reason in err); QTM_ERR_CUDA naming the failing call and the CUDA error in
 * err. On any error the contents of out are unspecified. err may be NULL when errcap is 0. */
qtm_status qtm_cuda_eval_points(const qtm_params *points, qtm_obs *out, size_t n, char *err,
                                size_t errcap);

/* 1 when this build carries the CUDA backend (compiled with nvcc), 0 otherwise. */
int qtm_cuda_compiled(void);

#ifdef __cplusplus
}
#endif

#endif
