/* Error handling shared by the HDF5 modules: see h5_util.h. */
#include "h5_util.h"

#include <stdarg.h>
#include <stdio.h>

void qtm_h5_quiet_begin(qtm_h5_quiet *q) {
  q->func = NULL;
  q->data = NULL;
  q->saved = H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data) >= 0;
  (void)H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* failing only makes HDF5 print more */
}

void qtm_h5_quiet_end(const qtm_h5_quiet *q) {
  if (q->saved) (void)H5Eset_auto2(H5E_DEFAULT, q->func, q->data);
}

typedef struct innermost {
  char text[256];
} innermost;

/* Walked upward, entry 0 is where HDF5 first detected the error: the most specific text
 * ("unable to open file: ... errno = 17, error message = 'File exists'"). */
static herr_t innermost_cb(unsigned n, const H5E_error2_t *e, void *data) {
  innermost *in = data;
  if (n == 0 && e && e->desc && e->desc[0]) snprintf(in->text, sizeof in->text, "%s", e->desc);
  return 0;
}

qtm_status qtm_h5_fail(char *err, size_t errcap, const char *call, const char *fmt, ...) {
  innermost in = {"failed"};
  (void)H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost_cb, &in);
  if (err && errcap) {
    char what[192];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    (void)snprintf(err, errcap, "%s %s: %s", call, what, in.text);
  }
  return QTM_ERR_IO;
}

qtm_status qtm_h5_fail_msg(qtm_status st, char *err, size_t errcap, const char *fmt, ...) {
  if (err && errcap) {
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(err, errcap, fmt, ap);
    va_end(ap);
  }
  return st;
}

void qtm_h5_close(hid_t *id, herr_t (*close_fn)(hid_t), const char *call, const char *what,
                  qtm_status *rc, char *err, size_t errcap) {
  if (*id < 0) return;
  herr_t r = close_fn(*id);
  *id = H5I_INVALID_HID;
  if (r < 0 && *rc == QTM_OK) *rc = qtm_h5_fail(err, errcap, call, "%s", what);
}
