/* One error message: formatted into the caller's buffer, the status returned, so that every
 * error path is `return qtm_failf(...)`. Private to src/. */
#ifndef QTM_FAIL_H
#define QTM_FAIL_H

#include <stdarg.h>
#include <stddef.h>

#include "qtm/status.h"

/* Formats fmt into err (when err and errcap), appends ": strerror(errnum)" when errnum is not
 * 0, and returns st. */
qtm_status qtm_failf(char *err, size_t errcap, qtm_status st, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* The same from a va_list, for other formatters of errors (h5_util.h's) to build on. */
qtm_status qtm_vfailf(char *err, size_t errcap, qtm_status st, int errnum, const char *fmt,
                      va_list ap);

#endif
