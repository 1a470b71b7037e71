/* placeholder: the CUDA scan backend is being written */
#include "qtm/backend.h"
#include <stdio.h>
extern "C" qtm_status qtm_backend_cuda_open(const qtm_scan_plan *plan, qtm_backend **out, char *err, size_t errcap) {
  (void)plan; *out = NULL; if (err && errcap) snprintf(err, errcap, "CUDA scan backend not built yet");
  return QTM_ERR_NO_DEVICE;
}
