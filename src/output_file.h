/* Output files written safely: the path checked (not a directory, not overwritten without
 * force, its directory made), the result built under NAME.partial, flushed to disk, then
 * given its name without replacing a file that appeared meanwhile. Shared by `run` and
 * `merge`. Private to src/. */
#ifndef QTM_OUTPUT_FILE_H
#define QTM_OUTPUT_FILE_H

#include <stddef.h>

#include "qtm/status.h"

/* QTM_ERR_EXISTS when out exists and force is off; QTM_ERR_IO when it is a directory or its
 * directory cannot be made. */
qtm_status qtm_output_check(const char *out, int force, char *err, size_t errcap);

/* Gives the finished partial file its name: rename when force allows overwriting; else a hard
 * link, which fails (QTM_ERR_EXISTS) rather than replace a file that appeared meanwhile. */
qtm_status qtm_output_publish(const char *partial, const char *out, int force, char *err,
                              size_t errcap);

#endif
