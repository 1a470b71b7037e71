/* One error message: see fail.h. */
#include "fail.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

qtm_status qtm_vfailf(char *err, size_t errcap, qtm_status st, int errnum, const char *fmt,
                      va_list ap) {
  if (!err || !errcap) return st;
  int n = vsnprintf(err, errcap, fmt, ap);
  if (errnum && n >= 0 && (size_t)n < errcap)
    (void)snprintf(err + n, errcap - (size_t)n, ": %s", strerror(errnum));
  return st;
}

qtm_status qtm_failf(char *err, size_t errcap, qtm_status st, int errnum, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  st = qtm_vfailf(err, errcap, st, errnum, fmt, ap);
  va_end(ap);
  return st;
}
