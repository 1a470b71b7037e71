/* placeholder: qtmscan info is being written */
#include "qtm/h5_writer.h"
qtm_status qtm_h5_info_print(const char *path, FILE *out, char *err, size_t errcap) {
  (void)path; (void)out; (void)err; (void)errcap; return QTM_ERR_UNSUPPORTED; }
