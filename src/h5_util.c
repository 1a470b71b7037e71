/* Error handling shared by the HDF5 modules: see h5_util.h. */
#include "h5_util.h"

#include "fail.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
  va_list ap;
  va_start(ap, fmt);
  st = qtm_vfailf(err, errcap, st, 0, fmt, ap);
  va_end(ap);
  return st;
}

void qtm_h5_close(hid_t *id, herr_t (*close_fn)(hid_t), const char *call, const char *what,
                  qtm_status *rc, char *err, size_t errcap) {
  if (*id < 0) return;
  herr_t r = close_fn(*id);
  *id = H5I_INVALID_HID;
  if (r < 0 && *rc == QTM_OK) *rc = qtm_h5_fail(err, errcap, call, "%s", what);
}

qtm_status qtm_h5_delete_attr(hid_t obj, const char *where, const char *name, char *err,
                              size_t errcap) {
  qtm_status rc = QTM_OK;
  htri_t exists = H5Aexists(obj, name);
  H5_CHECK(exists, "H5Aexists", "attribute %s of %s", name, where);
  if (exists) H5_CHECK(H5Adelete(obj, name), "H5Adelete", "attribute %s of %s", name, where);
cleanup:
  return rc;
}

qtm_status qtm_h5_get_text_attr(hid_t obj, const char *where, const char *name, char **out,
                                char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t attr = H5I_INVALID_HID, type = H5I_INVALID_HID, space = H5I_INVALID_HID;
  char *text = NULL;
  *out = NULL;
  htri_t exists = H5Aexists(obj, name);
  H5_CHECK(exists, "H5Aexists", "attribute %s of %s", name, where);
  if (!exists) return QTM_OK;
  H5_CHECK(attr = H5Aopen(obj, name, H5P_DEFAULT), "H5Aopen", "attribute %s of %s", name, where);
  H5_CHECK(type = H5Aget_type(attr), "H5Aget_type", "attribute %s of %s", name, where);
  H5_CHECK(space = H5Aget_space(attr), "H5Aget_space", "attribute %s of %s", name, where);
  H5T_class_t cls = H5Tget_class(type);
  H5_CHECK(cls, "H5Tget_class", "attribute %s of %s", name, where);
  htri_t vlen = cls == H5T_STRING ? H5Tis_variable_str(type) : 1;
  H5_CHECK(vlen, "H5Tis_variable_str", "attribute %s of %s", name, where);
  hssize_t npoints = H5Sget_simple_extent_npoints(space);
  H5_CHECK(npoints, "H5Sget_simple_extent_npoints", "attribute %s of %s", name, where);
  size_t size = H5Tget_size(type);
  if (vlen || npoints != 1 || size == 0) {
    rc = qtm_h5_fail_msg(QTM_ERR_IO, err, errcap, "attribute %s of %s is not one fixed-length "
                         "string", name, where);
    goto cleanup;
  }
  if (!(text = calloc(size + 1, 1))) {
    rc = qtm_h5_fail_msg(QTM_ERR_NOMEM, err, errcap, "out of memory reading attribute %s", name);
    goto cleanup;
  }
  /* In the file's own type: HDF5 converts no string between character sets. */
  H5_CHECK(H5Aread(attr, type, text), "H5Aread", "attribute %s of %s", name, where);
  *out = text;
  text = NULL;
cleanup:
  free(text);
  qtm_h5_close(&space, H5Sclose, "H5Sclose", name, &rc, err, errcap);
  qtm_h5_close(&type, H5Tclose, "H5Tclose", name, &rc, err, errcap);
  qtm_h5_close(&attr, H5Aclose, "H5Aclose", name, &rc, err, errcap);
  return rc;
}

qtm_status qtm_h5_get_int64_attr(hid_t file, const char *path, const char *name, int64_t *value,
                                 int *exists, char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t attr = H5I_INVALID_HID;
  htri_t there = H5Aexists(file, name);
  H5_CHECK(there, "H5Aexists", "attribute %s of %s", name, path);
  *exists = there > 0;
  if (!there) return QTM_OK;
  H5_CHECK(attr = H5Aopen(file, name, H5P_DEFAULT), "H5Aopen", "attribute %s of %s", name, path);
  H5_CHECK(H5Aread(attr, H5T_NATIVE_INT64, value), "H5Aread", "attribute %s of %s", name, path);
cleanup:
  qtm_h5_close(&attr, H5Aclose, "H5Aclose", name, &rc, err, errcap);
  return rc;
}

qtm_status qtm_h5_read_tile(hid_t file, const char *path, const char *name, const qtm_tile *t,
                            int naxes, qtm_dtype dtype, void *buf, char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t dset = H5I_INVALID_HID, fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
  hid_t mtype = dtype == QTM_DTYPE_F32 ? H5T_NATIVE_FLOAT
                : dtype == QTM_DTYPE_U8 ? H5T_NATIVE_UCHAR
                                        : H5T_NATIVE_DOUBLE;
  qtm_h5_quiet q;
  qtm_h5_quiet_begin(&q);
  H5_CHECK(dset = H5Dopen2(file, name, H5P_DEFAULT), "H5Dopen2", "map %s of %s", name,
           path);
  H5_CHECK(fspace = H5Dget_space(dset), "H5Dget_space", "map %s of %s", name, path);
  if (H5Sget_simple_extent_ndims(fspace) != naxes) {
    rc = qtm_h5_fail_msg(QTM_ERR_IO, err, errcap, "%s: map %s does not have the grid's %d axes",
                         path, name, naxes);
    goto cleanup;
  }
  if (naxes > 0) {
    hsize_t start[QTM_MAX_AXES], count[QTM_MAX_AXES], dims[QTM_MAX_AXES];
    H5_CHECK(H5Sget_simple_extent_dims(fspace, dims, NULL), "H5Sget_simple_extent_dims",
             "map %s of %s", name, path);
    for (int k = 0; k < naxes; ++k) {
      start[k] = (hsize_t)t->start[k];
      count[k] = (hsize_t)t->count[k];
      if (start[k] + count[k] > dims[k]) {
        rc = qtm_h5_fail_msg(QTM_ERR_IO, err, errcap, "%s: map %s is smaller than the grid",
                             path, name);
        goto cleanup;
      }
    }
    H5_CHECK(mspace = H5Screate_simple(naxes, count, NULL), "H5Screate_simple", "tile %lld",
             (long long)t->index);
    H5_CHECK(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL),
             "H5Sselect_hyperslab", "tile %lld of %s", (long long)t->index, name);
  }
  H5_CHECK(H5Dread(dset, mtype, naxes > 0 ? mspace : H5S_ALL, naxes > 0 ? fspace : H5S_ALL,
                   H5P_DEFAULT, buf),
           "H5Dread", "tile %lld of map %s of %s", (long long)t->index, name, path);
cleanup:
  qtm_h5_close(&mspace, H5Sclose, "H5Sclose", "tile memory", &rc, err, errcap);
  qtm_h5_close(&fspace, H5Sclose, "H5Sclose", name, &rc, err, errcap);
  qtm_h5_close(&dset, H5Dclose, "H5Dclose", name, &rc, err, errcap);
  qtm_h5_quiet_end(&q);
  return rc;
}

static herr_t not_allocated_cb(unsigned n, const H5E_error2_t *e, void *data) {
  if (n == 0)
    *(int *)data = e->maj_num == H5E_DATASET && e->min_num == H5E_CANTGET && e->desc &&
                   strstr(e->desc, "not allocated") != NULL;
  return 0;
}

herr_t qtm_h5_chunk_storage_size(hid_t dset, const hsize_t *offset, hsize_t *nbytes) {
  *nbytes = 0;
  if (H5Dget_chunk_storage_size(dset, offset, nbytes) >= 0) return 0;
  int missing = 0;
  (void)H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, not_allocated_cb, &missing);
  if (!missing) return -1;
  *nbytes = 0;
  return 0;
}
