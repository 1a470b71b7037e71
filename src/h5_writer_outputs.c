/* The analysis' outputs in a scan's file: maps over fewer axes (qtm_h5_writer_put_reduced),
 * tables as compound datasets (put_table), scalar attributes (put_attr) and state arrays
 * (put_state), under the netCDF conventions of the maps (h5_writer.c). */
#include <hdf5.h>
#include <hdf5_hl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fail.h"
#include "h5_writer_impl.h"
#include "qtm/grid.h"

/* ---- The analysis' outputs ------------------------------------------------------------------ */

/* A map over the axes kept[0..nkept): dimension d is axis kept[d], its root coordinate attached
 * as the scale, so netCDF clients name the dimensions after the axes as for the full maps.
 * Written whole from m->data. Contiguous, or chunked in blocks of trailing rows when the file
 * is compressed (so the compression applies): its size is the grid's over some axis sizes, up
 * to nearly a full map's. */
qtm_status qtm_h5_writer_put_reduced(qtm_h5_writer *w, const qtm_reduced_map *m, char *err,
                                     size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID, dset = H5I_INVALID_HID;
  hid_t coord = H5I_INVALID_HID;
  hsize_t dims[QTM_MAX_AXES], chunk[QTM_MAX_AXES];
  stored_type st;
  char what[PATH_CAP + 8];
  qtm_h5_quiet q;
  if (err && errcap) err[0] = '\0';
  if (!w || !m) return qtm_h5w_bad_arg(err, errcap, "qtm_h5_writer_put_reduced: no writer or map");
  if (!m->name || !m->name[0] || strlen(m->name) >= PATH_CAP)
    return qtm_h5w_bad_arg(err, errcap, "reduced map without a name or with one too long");
  if (m->nkept < 0 || m->nkept > w->naxes)
    return qtm_h5w_bad_arg(err, errcap, "reduced map %s keeps %d axes of %d", m->name, m->nkept,
                           w->naxes);
  for (int d = 0; d < m->nkept; ++d)
    if (m->kept[d] < 0 || m->kept[d] >= w->naxes || (d > 0 && m->kept[d] <= m->kept[d - 1]))
      return qtm_h5w_bad_arg(err, errcap,
                             "reduced map %s: kept axes not ascending positions of the "
                             "grid's %d axes",
                             m->name, w->naxes);
  if (!qtm_h5w_stored_type_of(m->dtype, &st))
    return qtm_h5w_bad_arg(err, errcap, "reduced map %s: unknown dtype %d", m->name, (int)m->dtype);
  if (!m->data) return qtm_h5w_bad_arg(err, errcap, "reduced map %s: no data", m->name);
  (void)snprintf(what, sizeof what, "map %s", m->name);
  for (int d = 0; d < m->nkept; ++d) dims[d] = w->shape[m->kept[d]];

  qtm_h5w_quiet_begin(w, &q);
  if ((rc = qtm_h5w_make_parent_groups(w->file, m->name, err, errcap)) != QTM_OK) goto cleanup;
  if (m->nkept > 0)
    H5_CHECK(space = H5Screate_simple(m->nkept, dims, NULL), "H5Screate_simple", "%s", what);
  else
    H5_CHECK(space = H5Screate(H5S_SCALAR), "H5Screate", "%s", what);
  if ((rc = qtm_h5w_common_dcpl(&dcpl, what, err, errcap)) != QTM_OK) goto cleanup;
  if (w->gzip_level > 0 && m->nkept > 0) {
    /* Trailing dimensions whole while they fit, then part of the next one: each chunk one
     * contiguous run of rows, as a reader walking the map row-major wants them. */
    hsize_t points = 1;
    int d = m->nkept - 1;
    for (; d >= 0 && points * dims[d] <= REDUCED_CHUNK_POINTS; --d) {
      chunk[d] = dims[d];
      points *= dims[d];
    }
    if (d >= 0) {
      chunk[d] = REDUCED_CHUNK_POINTS / points > 0 ? REDUCED_CHUNK_POINTS / points : 1;
      for (--d; d >= 0; --d) chunk[d] = 1;
    }
    H5_CHECK(H5Pset_chunk(dcpl, m->nkept, chunk), "H5Pset_chunk", "%s", what);
    H5_CHECK(H5Pset_shuffle(dcpl), "H5Pset_shuffle", "%s", what);
    H5_CHECK(H5Pset_deflate(dcpl, (unsigned)w->gzip_level), "H5Pset_deflate", "%s", what);
  }
  H5_CHECK(H5Pset_fill_value(dcpl, st.mem, &st.fill), "H5Pset_fill_value", "%s", what);
  H5_CHECK(dset = H5Dcreate2(w->file, m->name, st.file, space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
           "H5Dcreate2", "%s", what);
  if ((rc = qtm_h5w_write_whole(dset, st.mem, m->data, w->parallel, what, err, errcap)) != QTM_OK)
    goto cleanup;
  if ((rc = qtm_h5w_put_map_attrs(dset, what, &st, m->units, m->long_name, err, errcap)) != QTM_OK)
    goto cleanup;
  for (int d = 0; d < m->nkept; ++d) {
    const char *axis = qtm_axis_name(w->axis_id[m->kept[d]]);
    H5_CHECK(coord = H5Dopen2(w->file, axis, H5P_DEFAULT), "H5Dopen2", "coordinate %s", axis);
    H5_CHECK(H5DSattach_scale(dset, coord, (unsigned)d), "H5DSattach_scale",
             "axis %s to %s dimension %d", axis, what, d);
    qtm_h5_close(&coord, H5Dclose, "H5Dclose", axis, &rc, err, errcap);
    if (rc != QTM_OK) goto cleanup;
  }
cleanup:
  qtm_h5_close(&coord, H5Dclose, "H5Dclose", "coordinate", &rc, err, errcap);
  qtm_h5_close(&dset, H5Dclose, "H5Dclose", what, &rc, err, errcap);
  qtm_h5_close(&dcpl, H5Pclose, "H5Pclose", what, &rc, err, errcap);
  qtm_h5_close(&space, H5Sclose, "H5Sclose", what, &rc, err, errcap);
  qtm_h5w_tell_system_error(w, 0, rc, err, errcap);
  qtm_h5_quiet_end(&q);
  return rc;
}

/* A compound type of nfields members of type member, one per field name, packed in order. */
static qtm_status row_type(const qtm_table *t, hid_t member, hid_t *out, char *err,
                           size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t type = H5I_INVALID_HID;
  size_t size = H5Tget_size(member);
  if (size == 0) return qtm_h5_fail(err, errcap, "H5Tget_size", "fields of table %s", t->name);
  H5_CHECK(type = H5Tcreate(H5T_COMPOUND, size * (size_t)t->nfields), "H5Tcreate",
           "row type of table %s", t->name);
  for (int i = 0; i < t->nfields; ++i)
    H5_CHECK(H5Tinsert(type, t->fields[i], size * (size_t)i, member), "H5Tinsert",
             "field %s of table %s", t->fields[i], t->name);
  *out = type;
  type = H5I_INVALID_HID;
cleanup:
  qtm_h5_close(&type, H5Tclose, "H5Tclose", t->name, &rc, err, errcap);
  return rc;
}

/* A table as netCDF-4 clients can read it, which takes two companions beside the dataset
 * NAME, found by trial (ncdump, xarray with both engines): its row type committed as NAME_t
 * (netCDF-C lists a dataset of an anonymous compound type as no variable at all), and its row
 * dimension NAME_row, a dimension scale marked as a netCDF dimension without variable
 * (h5netcdf refuses to open a group holding a dataset without scales; netCDF-C would invent a
 * phony dimension). */
qtm_status qtm_h5_writer_put_table(qtm_h5_writer *w, const qtm_table *t, char *err,
                                   size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t mtype = H5I_INVALID_HID, ftype = H5I_INVALID_HID, tcpl = H5I_INVALID_HID;
  hid_t space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID, dim = H5I_INVALID_HID;
  hid_t dset = H5I_INVALID_HID;
  char type_path[PATH_CAP + 8], dim_path[PATH_CAP + 8], what[PATH_CAP + 8];
  char dim_mark[sizeof NC_DIM_WITHOUT_VARIABLE + 24];
  qtm_h5_quiet q;
  if (err && errcap) err[0] = '\0';
  if (!w || !t) return qtm_h5w_bad_arg(err, errcap, "qtm_h5_writer_put_table: no writer or table");
  if (!t->name || !t->name[0] || strlen(t->name) >= PATH_CAP)
    return qtm_h5w_bad_arg(err, errcap, "table without a name or with one too long");
  if (t->nfields < 1 || !t->fields)
    return qtm_h5w_bad_arg(err, errcap, "table %s: %d fields", t->name, t->nfields);
  for (int i = 0; i < t->nfields; ++i) {
    if (!t->fields[i] || !t->fields[i][0])
      return qtm_h5w_bad_arg(err, errcap, "table %s: field %d has no name", t->name, i);
    for (int j = 0; j < i; ++j)
      if (strcmp(t->fields[i], t->fields[j]) == 0)
        return qtm_h5w_bad_arg(err, errcap, "table %s: field %s appears twice", t->name,
                               t->fields[i]);
  }
  if (t->nrows < 0 || (t->nrows > 0 && !t->rows))
    return qtm_h5w_bad_arg(err, errcap, "table %s: %lld rows without data", t->name,
                           (long long)t->nrows);
  (void)snprintf(what, sizeof what, "table %s", t->name);
  (void)snprintf(type_path, sizeof type_path, "%s_t", t->name);
  (void)snprintf(dim_path, sizeof dim_path, "%s_row", t->name);
  /* netCDF-C's own form of the mark: the text, then the length in 10 columns. */
  (void)snprintf(dim_mark, sizeof dim_mark, "%s%10lld", NC_DIM_WITHOUT_VARIABLE,
                 (long long)t->nrows);
  hsize_t nrows = (hsize_t)t->nrows;

  qtm_h5w_quiet_begin(w, &q);
  if ((rc = qtm_h5w_make_parent_groups(w->file, t->name, err, errcap)) != QTM_OK) goto cleanup;
  if ((rc = row_type(t, H5T_NATIVE_DOUBLE, &mtype, err, errcap)) != QTM_OK ||
      (rc = row_type(t, H5T_IEEE_F64LE, &ftype, err, errcap)) != QTM_OK)
    goto cleanup;
  H5_CHECK(tcpl = H5Pcreate(H5P_DATATYPE_CREATE), "H5Pcreate", "type of %s", what);
  H5_CHECK(H5Pset_obj_track_times(tcpl, 0), "H5Pset_obj_track_times", "type of %s", what);
  H5_CHECK(H5Tcommit2(w->file, type_path, ftype, H5P_DEFAULT, tcpl, H5P_DEFAULT), "H5Tcommit2",
           "%s", type_path);
  H5_CHECK(space = H5Screate_simple(1, &nrows, NULL), "H5Screate_simple", "%s", what);
  if ((rc = qtm_h5w_common_dcpl(&dcpl, what, err, errcap)) != QTM_OK ||
      (rc = qtm_h5w_dimension_fill(dcpl, w->parallel, what, err, errcap)) != QTM_OK)
    goto cleanup;
  /* The dimension holds no data: never written, it takes no space in the file. */
  H5_CHECK(dim =
               H5Dcreate2(w->file, dim_path, H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
           "H5Dcreate2", "dimension %s", dim_path);
  H5_CHECK(H5DSset_scale(dim, dim_mark), "H5DSset_scale", "dimension %s", dim_path);
  H5_CHECK(dset = H5Dcreate2(w->file, t->name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
           "H5Dcreate2", "%s", what);
  if (nrows > 0 &&
      (rc = qtm_h5w_write_whole(dset, mtype, t->rows, w->parallel, what, err, errcap)) != QTM_OK)
    goto cleanup;
  if ((rc = qtm_h5w_put_text_attr(dset, what, "long_name", t->long_name, err, errcap)) != QTM_OK)
    goto cleanup;
  H5_CHECK(H5DSattach_scale(dset, dim, 0), "H5DSattach_scale", "%s to %s", dim_path, what);
cleanup:
  qtm_h5_close(&dset, H5Dclose, "H5Dclose", what, &rc, err, errcap);
  qtm_h5_close(&dim, H5Dclose, "H5Dclose", dim_path, &rc, err, errcap);
  qtm_h5_close(&dcpl, H5Pclose, "H5Pclose", what, &rc, err, errcap);
  qtm_h5_close(&space, H5Sclose, "H5Sclose", what, &rc, err, errcap);
  qtm_h5_close(&tcpl, H5Pclose, "H5Pclose", what, &rc, err, errcap);
  qtm_h5_close(&ftype, H5Tclose, "H5Tclose", what, &rc, err, errcap);
  qtm_h5_close(&mtype, H5Tclose, "H5Tclose", what, &rc, err, errcap);
  qtm_h5w_tell_system_error(w, 0, rc, err, errcap);
  qtm_h5_quiet_end(&q);
  return rc;
}

/* An attribute already there under the name is deleted first: HDF5 rewrites one in place only
 * with its own type and shape, and a put must replace whatever the object held. */
qtm_status qtm_h5_writer_put_attr(qtm_h5_writer *w, const qtm_scalar_attr *a, char *err,
                                  size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t obj = H5I_INVALID_HID;
  qtm_h5_quiet q;
  if (err && errcap) err[0] = '\0';
  if (!w || !a)
    return qtm_h5w_bad_arg(err, errcap, "qtm_h5_writer_put_attr: no writer or attribute");
  if (!a->object || !a->object[0] || !a->name || !a->name[0])
    return qtm_h5w_bad_arg(err, errcap, "attribute without an object or a name");

  qtm_h5w_quiet_begin(w, &q);
  H5_CHECK(obj = H5Oopen(w->file, a->object, H5P_DEFAULT), "H5Oopen", "%s (for attribute %s)",
           a->object, a->name);
  if ((rc = qtm_h5_delete_attr(obj, a->object, a->name, err, errcap)) == QTM_OK)
    rc = qtm_h5w_put_num_attr(obj, a->object, a->name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
                              &a->value, err, errcap);
cleanup:
  qtm_h5_close(&obj, H5Oclose, "H5Oclose", a->object, &rc, err, errcap);
  qtm_h5w_tell_system_error(w, 0, rc, err, errcap);
  qtm_h5_quiet_end(&q);
  return rc;
}

/* Replaces what an interrupted run may have left under the name (a shard killed between its
 * state and its `complete` mark). Contiguous: written once, whole. */
qtm_status qtm_h5_writer_put_state(qtm_h5_writer *w, const qtm_state_array *a, char *err,
                                   size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID, dset = H5I_INVALID_HID;
  char path[PATH_CAP];
  qtm_h5_quiet q;
  if (err && errcap) err[0] = '\0';
  if (!w || !a) return qtm_h5w_bad_arg(err, errcap, "qtm_h5_writer_put_state: no writer or array");
  if (!a->name[0] || strchr(a->name, '/') || a->n < 0 || (a->n > 0 && !a->data))
    return qtm_h5w_bad_arg(err, errcap,
                           "analysis state array \"%s\": no name, or %lld values missing", a->name,
                           (long long)a->n);
  (void)snprintf(path, sizeof path, STATE_GROUP "/analysis/%s", a->name);
  hsize_t n = (hsize_t)a->n;
  hid_t ftype = a->is_int ? H5T_STD_I64LE : H5T_IEEE_F64LE;
  hid_t mtype = a->is_int ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE;

  qtm_h5w_quiet_begin(w, &q);
  if ((rc = qtm_h5w_make_parent_groups(w->file, path, err, errcap)) != QTM_OK) goto cleanup;
  htri_t exists = H5Lexists(w->file, path, H5P_DEFAULT);
  H5_CHECK(exists, "H5Lexists", "%s", path);
  if (exists) H5_CHECK(H5Ldelete(w->file, path, H5P_DEFAULT), "H5Ldelete", "%s", path);
  if ((rc = qtm_h5w_common_dcpl(&dcpl, path, err, errcap)) != QTM_OK) goto cleanup;
  H5_CHECK(space = H5Screate_simple(1, &n, NULL), "H5Screate_simple", "%s", path);
  H5_CHECK(dset = H5Dcreate2(w->file, path, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
           "H5Dcreate2", "%s", path);
  if (n > 0 &&
      (rc = qtm_h5w_write_whole(dset, mtype, a->data, w->parallel, path, err, errcap)) != QTM_OK)
    goto cleanup;
cleanup:
  qtm_h5_close(&dset, H5Dclose, "H5Dclose", path, &rc, err, errcap);
  qtm_h5_close(&space, H5Sclose, "H5Sclose", path, &rc, err, errcap);
  qtm_h5_close(&dcpl, H5Pclose, "H5Pclose", path, &rc, err, errcap);
  qtm_h5w_tell_system_error(w, 0, rc, err, errcap);
  qtm_h5_quiet_end(&q);
  return rc;
}
