/* Text of the status codes. */
#include "qtm/status.h"

const char *qtm_status_str(qtm_status st) {
  switch (st) {
#define QTM_STATUS_CASE(code, msg) \
  case code:                       \
    return msg;
    QTM_STATUS_LIST(QTM_STATUS_CASE)
#undef QTM_STATUS_CASE
  }
  return "unknown status";
}
