/* Backend selection: CUDA when asked for or, under auto, when a device is usable; the CPU
 * otherwise. The CPU backend is the fallback and is always built. */
#include <stdio.h>

#include "qtm/backend.h"

qtm_status qtm_backend_open(qtm_backend_kind kind, const qtm_scan_plan *plan, int threads,
                            qtm_backend **out, char *msg, size_t msgcap) {
  *out = NULL;
  if (msg && msgcap) msg[0] = '\0';
  if (kind == QTM_BACKEND_CPU) return qtm_backend_cpu_open(plan, threads, out, msg, msgcap);
  char why[256] = "";
  qtm_status st = qtm_backend_cuda_open(plan, out, why, sizeof why);
  if (kind == QTM_BACKEND_CUDA || st == QTM_OK) {
    if (st != QTM_OK && msg && msgcap) snprintf(msg, msgcap, "%s", why);
    if (st == QTM_OK && kind == QTM_BACKEND_AUTO && msg && msgcap)
      snprintf(msg, msgcap, "backend auto: using cuda on %s", (*out)->device);
    return st;
  }
  if (st != QTM_ERR_NO_DEVICE) { /* a device exists but failed: say so rather than hide it */
    if (msg && msgcap) snprintf(msg, msgcap, "%s", why);
    return st;
  }
  st = qtm_backend_cpu_open(plan, threads, out, msg, msgcap);
  if (st == QTM_OK && msg && msgcap)
    snprintf(msg, msgcap, "backend auto: using cpu (%s) because CUDA is unavailable: %s",
             (*out)->device, why);
  return st;
}

void qtm_backend_free(qtm_backend *b) {
  if (b) b->ops->free(b);
}
