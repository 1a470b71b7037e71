/* The HDF5 output of a scan, written so that netCDF-4 clients (ncdump, xarray with the netcdf4
 * and h5netcdf engines) and h5py read it as they would a netCDF-4 file: one 1-D float64
 * coordinate dataset per axis at the root, registered as a dimension scale and attached to
 * every map; one dataset per observable, chunked by tiles, NaN-filled; creation order tracked;
 * provenance as global attributes; a `complete` attribute written last. Error handling after
 * netcdf-c's libhdf5: every call checked, one cleanup label closing only valid handles. */
#define _POSIX_C_SOURCE 200809L /* stat */

#include "qtm/h5_writer.h"
#include "h5_util.h"

#include <hdf5.h>
#include <hdf5_hl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "qtm/observables.h"
#include "qtm/version.h"

struct qtm_h5_writer {
  hid_t file;
  hid_t fspace; /* the maps' common file dataspace, reused for every tile's selection */
  hid_t map[QTM_OBS_COUNT];
  int nobs;
  int obs[QTM_OBS_COUNT];
  int naxes;
  hsize_t shape[QTM_MAX_AXES];
  qtm_dtype dtype;
};

/* HDF5's own error printing is silenced for the span of each public call (h5_util.h); errors
 * come back as one line through err. */

static qtm_status bad_arg(char *err, size_t errcap, const char *fmt, ...) {
  if (err && errcap) {
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(err, errcap, fmt, ap);
    va_end(ap);
  }
  return QTM_ERR_INVALID_ARG;
}

/* ---- Attributes ---------------------------------------------------------------------------- */

/* A fixed-length, NUL-terminated UTF-8 string in a scalar dataspace: netCDF-C reads it as an
 * NC_CHAR attribute (plain text in ncdump), h5py and h5netcdf as a string. A variable-length
 * string would show as `string` in ncdump. `where` names the owner in error messages. */
static qtm_status put_text_attr(hid_t obj, const char *where, const char *name, const char *text,
                                char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t type = H5I_INVALID_HID, space = H5I_INVALID_HID, attr = H5I_INVALID_HID;
  if (!text) text = "";
  H5_CHECK(type = H5Tcopy(H5T_C_S1), "H5Tcopy", "string type of attribute %s of %s", name,
           where);
  H5_CHECK(H5Tset_size(type, strlen(text) + 1), "H5Tset_size", "attribute %s of %s", name,
           where);
  H5_CHECK(H5Tset_strpad(type, H5T_STR_NULLTERM), "H5Tset_strpad", "attribute %s of %s", name,
           where);
  H5_CHECK(H5Tset_cset(type, H5T_CSET_UTF8), "H5Tset_cset", "attribute %s of %s", name, where);
  H5_CHECK(space = H5Screate(H5S_SCALAR), "H5Screate", "attribute %s of %s", name, where);
  H5_CHECK(attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT), "H5Acreate2",
           "attribute %s of %s", name, where);
  H5_CHECK(H5Awrite(attr, type, text), "H5Awrite", "attribute %s of %s", name, where);
cleanup:
  qtm_h5_close(&attr, H5Aclose, "H5Aclose", name, &rc, err, errcap);
  qtm_h5_close(&space, H5Sclose, "H5Sclose", name, &rc, err, errcap);
  qtm_h5_close(&type, H5Tclose, "H5Tclose", name, &rc, err, errcap);
  return rc;
}

/* One number in a scalar dataspace, stored as file_type from a value of mem_type. */
static qtm_status put_num_attr(hid_t obj, const char *where, const char *name, hid_t file_type,
                               hid_t mem_type, const void *value, char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t space = H5I_INVALID_HID, attr = H5I_INVALID_HID;
  H5_CHECK(space = H5Screate(H5S_SCALAR), "H5Screate", "attribute %s of %s", name, where);
  H5_CHECK(attr = H5Acreate2(obj, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT),
           "H5Acreate2", "attribute %s of %s", name, where);
  H5_CHECK(H5Awrite(attr, mem_type, value), "H5Awrite", "attribute %s of %s", name, where);
cleanup:
  qtm_h5_close(&attr, H5Aclose, "H5Aclose", name, &rc, err, errcap);
  qtm_h5_close(&space, H5Sclose, "H5Sclose", name, &rc, err, errcap);
  return rc;
}

/* ---- Creation ------------------------------------------------------------------------------ */

static qtm_status check_layout(const qtm_h5_layout *l, char *err, size_t errcap) {
  const qtm_grid *g = l->grid;
  const qtm_tiling *t = l->tiling;
  if (!g || !t) return bad_arg(err, errcap, "HDF5 layout without a grid or a tiling");
  int n = g->desc.naxes;
  if (n < 0 || n > QTM_MAX_AXES || t->naxes != n)
    return bad_arg(err, errcap, "HDF5 layout: the tiling has %d axes, the grid %d", t->naxes, n);
  for (int k = 0; k < n; ++k) {
    int id = g->desc.axis_id[k];
    if (g->desc.shape[k] < 1 || t->tile_shape[k] < 1 || t->tile_shape[k] > g->desc.shape[k])
      return bad_arg(err, errcap, "HDF5 layout: axis %s has %lld points and tiles of %lld",
                     qtm_axis_name(id), (long long)g->desc.shape[k], (long long)t->tile_shape[k]);
    for (int m = 0; m < k; ++m)
      if (g->desc.axis_id[m] == id)
        return bad_arg(err, errcap, "HDF5 layout: axis %s appears twice", qtm_axis_name(id));
  }
  if (l->nobs < 1 || l->nobs > QTM_OBS_COUNT || !l->obs)
    return bad_arg(err, errcap, "HDF5 layout: %d observables (1 to %d)", l->nobs,
                   QTM_OBS_COUNT);
  for (int j = 0; j < l->nobs; ++j) {
    int id = l->obs[j];
    if (id < 0 || id >= QTM_OBS_COUNT)
      return bad_arg(err, errcap, "HDF5 layout: unknown observable id %d", id);
    for (int m = 0; m < j; ++m)
      if (l->obs[m] == id)
        return bad_arg(err, errcap, "HDF5 layout: observable %s appears twice",
                       qtm_obs_table[id].name);
    for (int k = 0; k < n; ++k)
      if (strcmp(qtm_obs_table[id].name, qtm_axis_name(g->desc.axis_id[k])) == 0)
        return bad_arg(err, errcap, "HDF5 layout: observable %s has an axis's name",
                       qtm_obs_table[id].name);
  }
  if (l->dtype != QTM_DTYPE_F32 && l->dtype != QTM_DTYPE_F64)
    return bad_arg(err, errcap, "HDF5 layout: unknown dtype %d", (int)l->dtype);
  if (l->gzip_level < 0 || l->gzip_level > 9)
    return bad_arg(err, errcap, "HDF5 layout: gzip level %d (0 to 9)", l->gzip_level);
  return QTM_OK;
}

/* The root group's provenance, known when the scan starts. */
static qtm_status put_start_attrs(hid_t file, const qtm_h5_provenance *p, char *err,
                                  size_t errcap) {
  static const qtm_h5_provenance none = {NULL, NULL, NULL, NULL, NULL, NULL, NULL};
  if (!p) p = &none;
  const struct {
    const char *name, *text;
  } attrs[] = {
      {"Conventions", "CF-1.8"},
      {"title", p->title},
      {"qtmscan_version", QTM_VERSION_STRING},
      {"git_commit", QTM_GIT_COMMIT},
      {"config", p->config_text},
      {"config_path", p->config_path},
      {"command_line", p->command_line},
      {"backend", p->backend},
      {"device", p->device},
      {"start_time", p->start_time},
  };
  for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; ++i) {
    qtm_status rc = put_text_attr(file, "the root group", attrs[i].name, attrs[i].text, err,
                                  errcap);
    if (rc != QTM_OK) return rc;
  }
  return QTM_OK;
}

/* Properties every dataset shares: no modification times, so that the same scan gives the same
 * bytes; attribute creation order tracked, as netCDF-4 does, so readers list attributes in the
 * order written. */
static qtm_status common_dcpl(hid_t *dcpl, const char *what, char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  H5_CHECK(*dcpl = H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate", "creation properties of %s",
           what);
  H5_CHECK(H5Pset_obj_track_times(*dcpl, 0), "H5Pset_obj_track_times", "%s", what);
  H5_CHECK(H5Pset_attr_creation_order(*dcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
           "H5Pset_attr_creation_order", "%s", what);
cleanup:
  return rc;
}

/* Axis k's coordinate dataset, written and registered as the dimension scale named after the
 * axis; returned open in *out for the attachments. */
static qtm_status create_coordinate(hid_t file, const qtm_grid *g, int k, hid_t *out, char *err,
                                    size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID, dset = H5I_INVALID_HID;
  int id = g->desc.axis_id[k];
  const char *name = qtm_axis_name(id);
  char what[96];
  (void)snprintf(what, sizeof what, "coordinate %s", name);
  hsize_t n = (hsize_t)g->desc.shape[k];
  H5_CHECK(space = H5Screate_simple(1, &n, NULL), "H5Screate_simple", "%s", what);
  if ((rc = common_dcpl(&dcpl, what, err, errcap)) != QTM_OK) goto cleanup;
  /* Contiguous (the default layout): an axis is small and read whole. */
  H5_CHECK(dset = H5Dcreate2(file, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
           "H5Dcreate2", "%s", what);
  H5_CHECK(H5Dwrite(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                    g->values + g->desc.offset[k]),
           "H5Dwrite", "%s", what);
  if ((rc = put_text_attr(dset, what, "units", qtm_axis_unit(id), err, errcap)) != QTM_OK ||
      (rc = put_text_attr(dset, what, "long_name", qtm_axis_long_name(id), err, errcap)) !=
          QTM_OK)
    goto cleanup;
  H5_CHECK(H5DSset_scale(dset, name), "H5DSset_scale", "%s", what);
  *out = dset;
  dset = H5I_INVALID_HID;
cleanup:
  qtm_h5_close(&dset, H5Dclose, "H5Dclose", what, &rc, err, errcap);
  qtm_h5_close(&dcpl, H5Pclose, "H5Pclose", what, &rc, err, errcap);
  qtm_h5_close(&space, H5Sclose, "H5Sclose", what, &rc, err, errcap);
  return rc;
}

/* Map j: the dataset of observable obs[j], chunked by tiles, NaN where nothing was written,
 * with the dimension scales attached in axis order. */
static qtm_status create_map(qtm_h5_writer *w, const qtm_h5_layout *l, int j, const hid_t *coord,
                             char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t dcpl = H5I_INVALID_HID, dset = H5I_INVALID_HID;
  const qtm_obs_info *info = &qtm_obs_table[l->obs[j]];
  int f32 = l->dtype == QTM_DTYPE_F32;
  hid_t file_type = f32 ? H5T_IEEE_F32LE : H5T_IEEE_F64LE;
  hid_t mem_type = f32 ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE;
  float nan_f = NAN;
  double nan_d = NAN;
  const void *fill = f32 ? (const void *)&nan_f : (const void *)&nan_d;
  char what[96];
  (void)snprintf(what, sizeof what, "map %s", info->name);

  if ((rc = common_dcpl(&dcpl, what, err, errcap)) != QTM_OK) goto cleanup;
  if (w->naxes > 0) { /* a scalar dataset can be neither chunked nor filtered */
    hsize_t chunk[QTM_MAX_AXES];
    for (int k = 0; k < w->naxes; ++k) chunk[k] = (hsize_t)l->tiling->tile_shape[k];
    H5_CHECK(H5Pset_chunk(dcpl, w->naxes, chunk), "H5Pset_chunk", "%s", what);
    if (l->gzip_level > 0) {
      H5_CHECK(H5Pset_shuffle(dcpl), "H5Pset_shuffle", "%s", what);
      H5_CHECK(H5Pset_deflate(dcpl, (unsigned)l->gzip_level), "H5Pset_deflate", "%s", what);
    }
  }
  H5_CHECK(H5Pset_fill_value(dcpl, mem_type, fill), "H5Pset_fill_value", "%s", what);
  H5_CHECK(dset = H5Dcreate2(w->file, info->name, file_type, w->fspace, H5P_DEFAULT, dcpl,
                             H5P_DEFAULT),
           "H5Dcreate2", "%s", what);
  /* The attribute as well as the property: CF readers (xarray's mask decoding) look for the
   * attribute, and netCDF-4 keeps the two equal, in the variable's own type. */
  if ((rc = put_num_attr(dset, what, "_FillValue", file_type, mem_type, fill, err, errcap)) !=
          QTM_OK ||
      (rc = put_text_attr(dset, what, "units", info->unit, err, errcap)) != QTM_OK ||
      (rc = put_text_attr(dset, what, "long_name", info->long_name, err, errcap)) != QTM_OK)
    goto cleanup;
  for (int k = 0; k < w->naxes; ++k)
    H5_CHECK(H5DSattach_scale(dset, coord[k], (unsigned)k), "H5DSattach_scale",
             "axis %s to %s dimension %d", qtm_axis_name(l->grid->desc.axis_id[k]), what, k);
  w->map[j] = dset;
  dset = H5I_INVALID_HID;
cleanup:
  qtm_h5_close(&dset, H5Dclose, "H5Dclose", what, &rc, err, errcap);
  qtm_h5_close(&dcpl, H5Pclose, "H5Pclose", what, &rc, err, errcap);
  return rc;
}

/* Closes every handle of w without reporting (an abandoned file) and frees w. */
static void discard(qtm_h5_writer *w) {
  if (!w) return;
  H5E_BEGIN_TRY {
    for (int j = 0; j < w->nobs; ++j)
      if (w->map[j] >= 0) H5Dclose(w->map[j]);
    if (w->fspace >= 0) H5Sclose(w->fspace);
    if (w->file >= 0) H5Fclose(w->file);
  }
  H5E_END_TRY;
  free(w);
}

qtm_status qtm_h5_writer_create(const char *path, const qtm_h5_layout *layout,
                                const qtm_h5_provenance *prov, qtm_h5_writer **out, char *err,
                                size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t fcpl = H5I_INVALID_HID, fapl = H5I_INVALID_HID;
  hid_t coord[QTM_MAX_AXES];
  qtm_h5_writer *w = NULL;
  int created = 0;
  qtm_h5_quiet q;

  if (err && errcap) err[0] = '\0';
  if (!out) return bad_arg(err, errcap, "qtm_h5_writer_create: no output handle");
  *out = NULL;
  if (!path || !layout) return bad_arg(err, errcap, "qtm_h5_writer_create: no path or layout");
  if ((rc = check_layout(layout, err, errcap)) != QTM_OK) return rc;
  if (!(w = calloc(1, sizeof *w))) {
    if (err && errcap) (void)snprintf(err, errcap, "out of memory creating the HDF5 writer");
    return QTM_ERR_NOMEM;
  }
  const qtm_grid *g = layout->grid;
  w->file = w->fspace = H5I_INVALID_HID;
  w->nobs = layout->nobs;
  for (int j = 0; j < w->nobs; ++j) {
    w->map[j] = H5I_INVALID_HID;
    w->obs[j] = layout->obs[j];
  }
  w->naxes = g->desc.naxes;
  for (int k = 0; k < w->naxes; ++k) {
    w->shape[k] = (hsize_t)g->desc.shape[k];
    coord[k] = H5I_INVALID_HID;
  }
  w->dtype = layout->dtype;

  qtm_h5_quiet_begin(&q);
  if (layout->gzip_level > 0 && w->naxes > 0) {
    htri_t avail = H5Zfilter_avail(H5Z_FILTER_DEFLATE);
    H5_CHECK(avail, "H5Zfilter_avail", "deflate");
    if (!avail) {
      rc = bad_arg(err, errcap, "this HDF5 library has no deflate filter (gzip level %d)",
                   layout->gzip_level);
      goto cleanup;
    }
  }
  /* The root group tracks and indexes link and attribute creation order, as netCDF-4 files
   * do: clients list axes, maps and attributes in the order written. */
  H5_CHECK(fcpl = H5Pcreate(H5P_FILE_CREATE), "H5Pcreate", "file creation properties");
  H5_CHECK(H5Pset_link_creation_order(fcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
           "H5Pset_link_creation_order", "root group");
  H5_CHECK(H5Pset_attr_creation_order(fcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
           "H5Pset_attr_creation_order", "root group");
  H5_CHECK(H5Pset_obj_track_times(fcpl, 0), "H5Pset_obj_track_times", "root group");
  /* SEMI: closing the file fails while a handle is open, so a leak is an error, not a file
   * silently left open. Library version bounds stay at the default (earliest): each object
   * gets the oldest format that holds it (HDF5 1.8's, for the creation-order indexes), which
   * netCDF-C and every HDF5 reader since 1.8 understand. */
  H5_CHECK(fapl = H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate", "file access properties");
  H5_CHECK(H5Pset_fclose_degree(fapl, H5F_CLOSE_SEMI), "H5Pset_fclose_degree", "%s", path);
  if ((w->file = H5Fcreate(path, H5F_ACC_EXCL, fcpl, fapl)) < 0) {
    struct stat st;
    rc = qtm_h5_fail(err, errcap, "H5Fcreate", "%s", path);
    /* The usual cause, told apart so the caller can say "exists" rather than "I/O error". */
    if (stat(path, &st) == 0) rc = QTM_ERR_EXISTS;
    goto cleanup;
  }
  created = 1;
  if ((rc = put_start_attrs(w->file, prov, err, errcap)) != QTM_OK) goto cleanup;

  if (w->naxes > 0)
    H5_CHECK(w->fspace = H5Screate_simple(w->naxes, w->shape, NULL), "H5Screate_simple",
             "maps' dataspace");
  else
    H5_CHECK(w->fspace = H5Screate(H5S_SCALAR), "H5Screate", "maps' dataspace");
  /* Coordinates first: netCDF numbers dimensions in the order it meets their scales. */
  for (int k = 0; k < w->naxes; ++k)
    if ((rc = create_coordinate(w->file, g, k, &coord[k], err, errcap)) != QTM_OK) goto cleanup;
  for (int j = 0; j < w->nobs; ++j)
    if ((rc = create_map(w, layout, j, coord, err, errcap)) != QTM_OK) goto cleanup;
  /* The structure and provenance on disk now: a scan killed before finish then leaves a file
   * that opens and says what it was (without the flush, HDF5 may have written nothing). */
  H5_CHECK(H5Fflush(w->file, H5F_SCOPE_LOCAL), "H5Fflush", "%s", path);

cleanup:
  for (int k = 0; k < w->naxes; ++k)
    qtm_h5_close(&coord[k], H5Dclose, "H5Dclose", qtm_axis_name(g->desc.axis_id[k]), &rc, err,
             errcap);
  qtm_h5_close(&fapl, H5Pclose, "H5Pclose", "file access properties", &rc, err, errcap);
  qtm_h5_close(&fcpl, H5Pclose, "H5Pclose", "file creation properties", &rc, err, errcap);
  if (rc != QTM_OK) {
    discard(w);
    /* H5F_ACC_EXCL guarantees the file is ours: a half-built one must not stay behind. */
    if (created) (void)remove(path);
  } else {
    *out = w;
  }
  qtm_h5_quiet_end(&q);
  return rc;
}

/* ---- Tiles --------------------------------------------------------------------------------- */

static qtm_status check_tile(const qtm_h5_writer *w, const qtm_tile *t, const qtm_tile_out *o,
                             char *err, size_t errcap) {
  if (o->dtype != w->dtype || o->nobs != w->nobs)
    return bad_arg(err, errcap, "tile %lld: %d observables of dtype %d, the file has %d of %d",
                   (long long)t->index, o->nobs, (int)o->dtype, w->nobs, (int)w->dtype);
  for (int j = 0; j < w->nobs; ++j)
    if (o->obs[j] != w->obs[j] || !o->data[j])
      return bad_arg(err, errcap, "tile %lld: observable %d is not the file's map %s",
                     (long long)t->index, j, qtm_obs_table[w->obs[j]].name);
  int64_t npoints = 1;
  for (int k = 0; k < w->naxes; ++k) {
    if (t->start[k] < 0 || t->count[k] < 1 || (uint64_t)t->start[k] >= w->shape[k] ||
        (uint64_t)t->count[k] > w->shape[k] - (uint64_t)t->start[k])
      return bad_arg(err, errcap, "tile %lld: axis %d range %lld+%lld outside the grid",
                     (long long)t->index, k, (long long)t->start[k], (long long)t->count[k]);
    npoints *= t->count[k];
  }
  if (npoints != t->npoints)
    return bad_arg(err, errcap, "tile %lld: %lld points, its counts make %lld",
                   (long long)t->index, (long long)t->npoints, (long long)npoints);
  return QTM_OK;
}

qtm_status qtm_h5_writer_write_tile(qtm_h5_writer *w, const qtm_tile *tile, const qtm_tile_out *out,
                                    char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t mspace = H5I_INVALID_HID;
  qtm_h5_quiet q;
  if (!w || !tile || !out) return bad_arg(err, errcap, "qtm_h5_writer_write_tile: no writer");
  if ((rc = check_tile(w, tile, out, err, errcap)) != QTM_OK) return rc;
  /* Memory type = file type (native little-endian IEEE): HDF5 copies without converting. */
  hid_t mem_type = w->dtype == QTM_DTYPE_F32 ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE;
  hid_t fsel = H5S_ALL, msel = H5S_ALL;

  qtm_h5_quiet_begin(&q);
  if (w->naxes > 0) {
    hsize_t start[QTM_MAX_AXES], count[QTM_MAX_AXES];
    for (int k = 0; k < w->naxes; ++k) {
      start[k] = (hsize_t)tile->start[k];
      count[k] = (hsize_t)tile->count[k];
    }
    H5_CHECK(mspace = H5Screate_simple(w->naxes, count, NULL), "H5Screate_simple",
             "memory of tile %lld", (long long)tile->index);
    /* All maps share the shape, so one selection serves every map of the tile. */
    H5_CHECK(H5Sselect_hyperslab(w->fspace, H5S_SELECT_SET, start, NULL, count, NULL),
             "H5Sselect_hyperslab", "tile %lld", (long long)tile->index);
    fsel = w->fspace;
    msel = mspace;
  }
  for (int j = 0; j < w->nobs; ++j)
    H5_CHECK(H5Dwrite(w->map[j], mem_type, msel, fsel, H5P_DEFAULT, out->data[j]), "H5Dwrite",
             "map %s tile %lld", qtm_obs_table[w->obs[j]].name, (long long)tile->index);
cleanup:
  qtm_h5_close(&mspace, H5Sclose, "H5Sclose", "tile memory dataspace", &rc, err, errcap);
  qtm_h5_quiet_end(&q);
  return rc;
}

/* ---- Closing ------------------------------------------------------------------------------- */

qtm_status qtm_h5_writer_finish(qtm_h5_writer *w, const char *end_time, double points_per_second,
                                char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  const int complete = 1;
  qtm_h5_quiet q;
  if (!w) return bad_arg(err, errcap, "qtm_h5_writer_finish: no writer");

  qtm_h5_quiet_begin(&q);
  if ((rc = put_text_attr(w->file, "the root group", "end_time", end_time, err, errcap)) !=
          QTM_OK ||
      (rc = put_num_attr(w->file, "the root group", "points_per_second", H5T_IEEE_F64LE,
                         H5T_NATIVE_DOUBLE, &points_per_second, err, errcap)) != QTM_OK)
    goto cleanup;
  /* The maps reach the disk before the marker that says they are all there. */
  H5_CHECK(H5Fflush(w->file, H5F_SCOPE_GLOBAL), "H5Fflush", "before the complete marker");
  if ((rc = put_num_attr(w->file, "the root group", "complete", H5T_STD_I32LE, H5T_NATIVE_INT,
                         &complete, err, errcap)) != QTM_OK)
    goto cleanup;
  for (int j = 0; j < w->nobs; ++j)
    qtm_h5_close(&w->map[j], H5Dclose, "H5Dclose", qtm_obs_table[w->obs[j]].name, &rc, err, errcap);
  qtm_h5_close(&w->fspace, H5Sclose, "H5Sclose", "maps' dataspace", &rc, err, errcap);
  /* The last write happens here: a full disk may show only now. */
  qtm_h5_close(&w->file, H5Fclose, "H5Fclose", "the scan file", &rc, err, errcap);
cleanup:
  discard(w); /* closes whatever an error left open */
  qtm_h5_quiet_end(&q);
  return rc;
}

void qtm_h5_writer_abort(qtm_h5_writer *w) {
  discard(w);
}
