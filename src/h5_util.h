/* Error handling shared by the HDF5 modules (writer, info), after netcdf-c's libhdf5: HDF5's
 * own error printing silenced for the span of a public call, the innermost HDF5 message kept
 * for ours, every call checked through H5_CHECK, handles closed through close_h5. Private to
 * src/. */
#ifndef QTM_H5_UTIL_H
#define QTM_H5_UTIL_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "qtm/grid.h"
#include "qtm/status.h"
#include "qtm/tile_eval.h"

typedef struct qtm_h5_quiet {
  H5E_auto2_t func;
  void *data;
  int saved;
} qtm_h5_quiet;

/* Turns HDF5's automatic error printing off, remembering the caller's setting. */
void qtm_h5_quiet_begin(qtm_h5_quiet *q);
/* Restores the caller's setting. */
void qtm_h5_quiet_end(const qtm_h5_quiet *q);

/* Records "CALL OBJECT: innermost HDF5 message" in err and returns QTM_ERR_IO; must run right
 * after the failing call, before another API call clears the error stack. */
qtm_status qtm_h5_fail(char *err, size_t errcap, const char *call, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Formats a message into err and returns st. */
qtm_status qtm_h5_fail_msg(qtm_status st, char *err, size_t errcap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Closes *id when valid and marks it closed. A failure becomes the error only when none is
 * recorded yet, so the first cause is what the caller sees. */
void qtm_h5_close(hid_t *id, herr_t (*close_fn)(hid_t), const char *call, const char *what,
                  qtm_status *rc, char *err, size_t errcap);

/* Deletes obj's attribute `name` if it has one (`where` names obj in messages). */
qtm_status qtm_h5_delete_attr(hid_t obj, const char *where, const char *name, char *err,
                              size_t errcap);

/* The text of a fixed-length string attribute of obj in a new string (*out; NULL when the
 * attribute is absent); any other kind of attribute under the name is QTM_ERR_IO (damage).
 * `where` names obj in messages. */
qtm_status qtm_h5_get_text_attr(hid_t obj, const char *where, const char *name, char **out,
                                char *err, size_t errcap);

/* A numeric attribute of obj as int64 (*exists = 0 when absent). */
qtm_status qtm_h5_get_int64_attr(hid_t obj, const char *where, const char *name, int64_t *value,
                                 int *exists, char *err, size_t errcap);

/* Reads tile t of the full-grid dataset `name` of an open scan file into buf (t->npoints
 * values, row-major) as dtype; the dataset must have the grid's shape. path names the file in
 * messages. */
qtm_status qtm_h5_read_tile(hid_t file, const char *path, const char *name, const qtm_tile *t,
                            int naxes, qtm_dtype dtype, void *buf, char *err, size_t errcap);

/* H5Dget_chunk_storage_size of the chunk at offset of dset, with a chunk never written as
 * *nbytes = 0 on every HDF5 version: 1.10 fails the call for it ("chunk storage is not
 * allocated", raised by that function itself: the innermost error), later versions report 0.
 * Negative for any other failure (one below it, in the chunk index, is damage), whose error
 * stack the caller's qtm_h5_fail then reads. */
herr_t qtm_h5_chunk_storage_size(hid_t dset, const hsize_t *offset, hsize_t *nbytes);

/* A negative hid_t/herr_t/htri_t records the call and object and leaves through the function's
 * cleanup label (which needs `rc`, `err`, `errcap` in scope). */
#define H5_CHECK(expr, call, ...)                       \
  do {                                                  \
    if ((expr) < 0) {                                   \
      rc = qtm_h5_fail(err, errcap, call, __VA_ARGS__); \
      goto cleanup;                                     \
    }                                                   \
  } while (0)

#endif
