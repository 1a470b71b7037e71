/* The HDF5 output of a scan, written so that netCDF-4 clients (ncdump, xarray with the netcdf4
 * and h5netcdf engines) and h5py read it as they would a netCDF-4 file: one 1-D float64
 * coordinate dataset per axis at the root, registered as a dimension scale and attached to
 * every map; one dataset per observable, chunked by tiles, NaN-filled; creation order tracked;
 * provenance as global attributes; a `complete` attribute written last. The analysis' outputs
 * go to subgroups (results.h) under the same conventions: dense maps chunked like the maps,
 * maps over fewer axes with the root's scales attached, tables as compound datasets of a named
 * (committed) type over a netCDF "dimension without variable", scalar attributes. Error
 * handling after netcdf-c's libhdf5: every call checked, one cleanup label closing only valid
 * handles. */
#define _POSIX_C_SOURCE 200809L /* stat, strdup */

#include "qtm/h5_writer.h"
#include "h5_util.h"

#include <fcntl.h>
#include <hdf5.h>
#include <hdf5_hl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qtm/observables.h"
#include "qtm/version.h"

/* A dense map of the layout: its open dataset, element type, and path for messages (a copy:
 * the layout's strings need not outlive create). */
typedef struct dense_slot {
  hid_t dset;
  qtm_dtype dtype;
  char *name;
} dense_slot;

struct qtm_h5_writer {
  hid_t file;
  hid_t fspace; /* the maps' common file dataspace, reused for every tile's selection */
  hid_t map[QTM_OBS_COUNT];
  int nobs;
  int obs[QTM_OBS_COUNT];
  int naxes;
  int axis_id[QTM_MAX_AXES];
  hsize_t shape[QTM_MAX_AXES];
  qtm_dtype dtype;
  int gzip_level;
  int ndense;
  dense_slot *dense;
  char *path;    /* for messages */
  int sys_errno; /* the first system error under a failed HDF5 call (a full disk), or 0 */
};

/* netCDF-C's mark of a dimension scale that is a dimension only (its NAME attribute begins
 * with this text): netCDF clients then list no variable for it. */
#define NC_DIM_WITHOUT_VARIABLE "This is a netCDF dimension but not a netCDF variable."
/* Longest HDF5 path of an analysis output, with the suffixes of a table's companions. */
#define PATH_CAP 512
/* Points per chunk of a compressed map over fewer axes (float64: 512 KiB). */
#define REDUCED_CHUNK_POINTS ((hsize_t)1 << 16)

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

/* How a qtm_dtype is stored: file and memory types (equal bit layouts on the little-endian
 * machines qtmscan runs on, so HDF5 copies without converting) and the fill value, NaN for
 * floats and 255 for bytes (masks use 0 and 1). Returns 0 for an unknown dtype. */
typedef struct stored_type {
  hid_t file, mem;
  union {
    float f;
    double d;
    unsigned char u;
  } fill;
} stored_type;

static int stored_type_of(qtm_dtype d, stored_type *t) {
  switch (d) {
  case QTM_DTYPE_F32:
    t->file = H5T_IEEE_F32LE;
    t->mem = H5T_NATIVE_FLOAT;
    t->fill.f = NAN;
    return 1;
  case QTM_DTYPE_F64:
    t->file = H5T_IEEE_F64LE;
    t->mem = H5T_NATIVE_DOUBLE;
    t->fill.d = NAN;
    return 1;
  case QTM_DTYPE_U8:
    t->file = H5T_STD_U8LE;
    t->mem = H5T_NATIVE_UCHAR;
    t->fill.u = 255;
    return 1;
  }
  return 0;
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
  /* No observable at all is a summary-only scan: the analysis' outputs are the file. */
  if (l->nobs < 0 || l->nobs > QTM_OBS_COUNT || (l->nobs > 0 && !l->obs))
    return bad_arg(err, errcap, "HDF5 layout: %d observables (0 to %d)", l->nobs,
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
  if (l->ndense < 0 || (l->ndense > 0 && !l->dense))
    return bad_arg(err, errcap, "HDF5 layout: %d dense maps without descriptions", l->ndense);
  for (int m = 0; m < l->ndense; ++m) {
    const qtm_dense_map *d = &l->dense[m];
    stored_type st;
    if (!d->name || !d->name[0] || strlen(d->name) >= PATH_CAP)
      return bad_arg(err, errcap, "HDF5 layout: dense map %d has no name or one too long", m);
    if (!stored_type_of(d->dtype, &st))
      return bad_arg(err, errcap, "HDF5 layout: dense map %s has unknown dtype %d", d->name,
                     (int)d->dtype);
    for (int j = 0; j < m; ++j)
      if (strcmp(l->dense[j].name, d->name) == 0)
        return bad_arg(err, errcap, "HDF5 layout: dense map %s appears twice", d->name);
    /* The root's names are taken by the axes and maps: HDF5 would refuse only later, as an
     * I/O error. */
    for (int j = 0; j < l->nobs; ++j)
      if (strcmp(qtm_obs_table[l->obs[j]].name, d->name) == 0)
        return bad_arg(err, errcap, "HDF5 layout: dense map %s has an observable's name",
                       d->name);
    for (int k = 0; k < n; ++k)
      if (strcmp(qtm_axis_name(g->desc.axis_id[k]), d->name) == 0)
        return bad_arg(err, errcap, "HDF5 layout: dense map %s has an axis's name", d->name);
  }
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

/* Properties of groups, as of the root: links and attributes listed in creation order, no
 * timestamps. */
static qtm_status group_gcpl(hid_t *gcpl, const char *what, char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  H5_CHECK(*gcpl = H5Pcreate(H5P_GROUP_CREATE), "H5Pcreate", "creation properties of %s", what);
  H5_CHECK(H5Pset_obj_track_times(*gcpl, 0), "H5Pset_obj_track_times", "%s", what);
  H5_CHECK(H5Pset_link_creation_order(*gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
           "H5Pset_link_creation_order", "%s", what);
  H5_CHECK(H5Pset_attr_creation_order(*gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
           "H5Pset_attr_creation_order", "%s", what);
cleanup:
  return rc;
}

/* Creates the groups on the way to path ("analysis" for "analysis/ndtc") that do not exist
 * yet. Each is created here rather than through H5Pset_create_intermediate_group, which would
 * give the intermediate groups the default properties: timestamps (the same scan would no
 * longer give the same bytes) and no creation order. */
static qtm_status make_parent_groups(hid_t file, const char *path, char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t gcpl = H5I_INVALID_HID, group = H5I_INVALID_HID;
  char prefix[PATH_CAP];
  size_t len = strlen(path);
  if (len >= sizeof prefix) return bad_arg(err, errcap, "HDF5 path too long: %.64s...", path);
  memcpy(prefix, path, len + 1);
  for (char *slash = strchr(prefix + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
    *slash = '\0';
    htri_t exists = H5Lexists(file, prefix, H5P_DEFAULT);
    H5_CHECK(exists, "H5Lexists", "group %s", prefix);
    if (!exists) {
      if (gcpl < 0 && (rc = group_gcpl(&gcpl, prefix, err, errcap)) != QTM_OK) goto cleanup;
      H5_CHECK(group = H5Gcreate2(file, prefix, H5P_DEFAULT, gcpl, H5P_DEFAULT), "H5Gcreate2",
               "group %s", prefix);
      qtm_h5_close(&group, H5Gclose, "H5Gclose", prefix, &rc, err, errcap);
      if (rc != QTM_OK) goto cleanup;
    }
    *slash = '/';
  }
cleanup:
  qtm_h5_close(&group, H5Gclose, "H5Gclose", prefix, &rc, err, errcap);
  qtm_h5_close(&gcpl, H5Pclose, "H5Pclose", "group creation properties", &rc, err, errcap);
  return rc;
}

/* Attributes every map carries: _FillValue as well as the fill property (CF readers, such as
 * xarray's mask decoding, look for the attribute, and netCDF-4 keeps the two equal, in the
 * variable's own type), units, long_name. */
static qtm_status put_map_attrs(hid_t dset, const char *what, const stored_type *st,
                                const char *units, const char *long_name, char *err,
                                size_t errcap) {
  qtm_status rc;
  if ((rc = put_num_attr(dset, what, "_FillValue", st->file, st->mem, &st->fill, err, errcap)) !=
          QTM_OK ||
      (rc = put_text_attr(dset, what, "units", units, err, errcap)) != QTM_OK ||
      (rc = put_text_attr(dset, what, "long_name", long_name, err, errcap)) != QTM_OK)
    return rc;
  return QTM_OK;
}

/* A map over the full grid at path (an observable's at the root, or a dense map of the
 * analysis in a subgroup): chunked by tiles, compressed as asked, filled with the dtype's fill
 * value where nothing was written, with the root's dimension scales attached in axis order;
 * returned open in *out for the tiles. */
static qtm_status create_full_map(qtm_h5_writer *w, const qtm_h5_layout *l, const char *path,
                                  qtm_dtype dtype, const char *units, const char *long_name,
                                  const hid_t *coord, hid_t *out, char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t dcpl = H5I_INVALID_HID, dset = H5I_INVALID_HID;
  stored_type st;
  char what[PATH_CAP + 8];
  (void)snprintf(what, sizeof what, "map %s", path);
  if (!stored_type_of(dtype, &st)) return bad_arg(err, errcap, "%s: unknown dtype", what);

  if ((rc = make_parent_groups(w->file, path, err, errcap)) != QTM_OK) goto cleanup;
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
  H5_CHECK(H5Pset_fill_value(dcpl, st.mem, &st.fill), "H5Pset_fill_value", "%s", what);
  H5_CHECK(dset = H5Dcreate2(w->file, path, st.file, w->fspace, H5P_DEFAULT, dcpl, H5P_DEFAULT),
           "H5Dcreate2", "%s", what);
  if ((rc = put_map_attrs(dset, what, &st, units, long_name, err, errcap)) != QTM_OK)
    goto cleanup;
  for (int k = 0; k < w->naxes; ++k)
    H5_CHECK(H5DSattach_scale(dset, coord[k], (unsigned)k), "H5DSattach_scale",
             "axis %s to %s dimension %d", qtm_axis_name(w->axis_id[k]), what, k);
  *out = dset;
  dset = H5I_INVALID_HID;
cleanup:
  qtm_h5_close(&dset, H5Dclose, "H5Dclose", what, &rc, err, errcap);
  qtm_h5_close(&dcpl, H5Pclose, "H5Pclose", what, &rc, err, errcap);
  return rc;
}

/* ---- System errors under HDF5's -------------------------------------------------------------- */

/* HDF5's file driver puts the errno of a failed system call in its message ("file write
 * failed: time = ..., errno = 28, error message = 'No space left on device', buf = ...").
 * Instead of printing, the writer's calls record the first such errno (errno_note, installed as
 * HDF5's automatic error handler) and report it as "cannot write FILE: No space left on
 * device". */
static herr_t errno_in_entry(unsigned n, const H5E_error2_t *e, void *data) {
  (void)n;
  int *found = data;
  const char *at = e && e->desc ? strstr(e->desc, "errno = ") : NULL;
  if (at && !*found) *found = atoi(at + strlen("errno = "));
  return 0;
}

static herr_t errno_note(hid_t stack, void *data) {
  qtm_h5_writer *w = data;
  int found = 0;
  (void)H5Ewalk2(stack, H5E_WALK_UPWARD, errno_in_entry, &found);
  if (found > 0 && !w->sys_errno) w->sys_errno = found;
  return 0;
}

/* qtm_h5_quiet_begin, with w's errno note as the handler. */
static void quiet_begin(qtm_h5_writer *w, qtm_h5_quiet *q) {
  qtm_h5_quiet_begin(q);
  (void)H5Eset_auto2(H5E_DEFAULT, errno_note, w);
}

/* A failure with a system error under it is told as that error on the file, in one line:
 * "cannot write OUT.partial: No space left on device", "H5Fcreate OUT.partial: Permission
 * denied" (to_create: the file could not be created). */
static void tell_system_error(const qtm_h5_writer *w, int to_create, qtm_status rc, char *err,
                              size_t errcap) {
  if (rc != QTM_OK && w->sys_errno && err && errcap)
    (void)snprintf(err, errcap, "%s %s: %s", to_create ? "H5Fcreate" : "cannot write",
                   w->path ? w->path : "the scan file", strerror(w->sys_errno));
}

/* After a failed write (a full disk, a file size limit), closing the file retries the writes,
 * fails again, and HDF5 1.10 then leaves the freed file in its ID table, where the library's
 * shutdown at exit finds it and crashes (CVE-2020-10812, fixed in HDF5 1.14.1). Two defences:
 * the abandoned file's descriptor is pointed at /dev/null, so that the close writes nowhere and
 * mostly succeeds (not when an earlier failed flush left HDF5's cache inconsistent, or the close
 * needs to truncate); and the library is not shut down at exit (no_shutdown_at_exit). */
static void detach_failed_file(qtm_h5_writer *w) {
  hid_t fapl = H5Fget_access_plist(w->file);
  int sec2 = fapl >= 0 && H5Pget_driver(fapl) == H5FD_SEC2; /* the descriptor is an int */
  if (fapl >= 0) H5Pclose(fapl);
  void *handle = NULL;
  if (!sec2 || H5Fget_vfd_handle(w->file, H5P_DEFAULT, &handle) < 0 || !handle) return;
  int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null < 0) return;
  (void)dup2(null, *(int *)handle);
  close(null);
}

/* The shutdown at exit only frees memory and closes what is still open, and every qtmscan file
 * is closed explicitly before; without it, a file that failed to close cannot crash the exit.
 * Effective only before the library's first call in the process: qtm_h5_writer_create and
 * qtm_h5_info_print (h5_info.c has its twin), the CLI's first HDF5 calls, start with it. */
static void no_shutdown_at_exit(void) {
  (void)H5dont_atexit(); /* fails, harmlessly, once the library is initialised */
}

/* Closes every handle of w without reporting (an abandoned file) and frees w. */
static void discard(qtm_h5_writer *w) {
  if (!w) return;
  H5E_BEGIN_TRY {
    if (w->sys_errno && w->file >= 0) detach_failed_file(w);
    for (int j = 0; j < w->nobs; ++j)
      if (w->map[j] >= 0) H5Dclose(w->map[j]);
    for (int m = 0; m < w->ndense; ++m)
      if (w->dense[m].dset >= 0) H5Dclose(w->dense[m].dset);
    if (w->fspace >= 0) H5Sclose(w->fspace);
    if (w->file >= 0) H5Fclose(w->file);
  }
  H5E_END_TRY;
  for (int m = 0; m < w->ndense; ++m) free(w->dense[m].name);
  free(w->dense);
  free(w->path);
  free(w);
}

qtm_status qtm_h5_writer_create(const char *path, const qtm_h5_layout *layout,
                                const qtm_h5_provenance *prov, qtm_h5_writer **out, char *err,
                                size_t errcap) {
  no_shutdown_at_exit();
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
    w->axis_id[k] = g->desc.axis_id[k];
    w->shape[k] = (hsize_t)g->desc.shape[k];
    coord[k] = H5I_INVALID_HID;
  }
  w->dtype = layout->dtype;
  w->gzip_level = layout->gzip_level;
  if (layout->ndense > 0) {
    if (!(w->dense = calloc((size_t)layout->ndense, sizeof *w->dense))) {
      free(w);
      if (err && errcap) (void)snprintf(err, errcap, "out of memory creating the HDF5 writer");
      return QTM_ERR_NOMEM;
    }
    w->ndense = layout->ndense;
    for (int m = 0; m < w->ndense; ++m) w->dense[m].dset = H5I_INVALID_HID; /* for discard */
    for (int m = 0; m < w->ndense; ++m) {
      w->dense[m].dtype = layout->dense[m].dtype;
      if (!(w->dense[m].name = strdup(layout->dense[m].name))) {
        discard(w);
        if (err && errcap) (void)snprintf(err, errcap, "out of memory creating the HDF5 writer");
        return QTM_ERR_NOMEM;
      }
    }
  }

  if (!(w->path = strdup(path))) {
    discard(w);
    return qtm_h5_fail_msg(QTM_ERR_NOMEM, err, errcap, "out of memory creating the HDF5 writer");
  }
  quiet_begin(w, &q);
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
  for (int j = 0; j < w->nobs; ++j) {
    const qtm_obs_info *info = &qtm_obs_table[w->obs[j]];
    if ((rc = create_full_map(w, layout, info->name, w->dtype, info->unit, info->long_name,
                              coord, &w->map[j], err, errcap)) != QTM_OK)
      goto cleanup;
  }
  for (int m = 0; m < w->ndense; ++m) {
    const qtm_dense_map *d = &layout->dense[m];
    if ((rc = create_full_map(w, layout, d->name, d->dtype, d->units, d->long_name, coord,
                              &w->dense[m].dset, err, errcap)) != QTM_OK)
      goto cleanup;
  }
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
    tell_system_error(w, !created, rc, err, errcap);
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
                                    const void *const *dense, char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t mspace = H5I_INVALID_HID;
  qtm_h5_quiet q;
  if (!w || !tile || !out) return bad_arg(err, errcap, "qtm_h5_writer_write_tile: no writer");
  if ((rc = check_tile(w, tile, out, err, errcap)) != QTM_OK) return rc;
  for (int m = 0; m < w->ndense; ++m)
    if (!dense || !dense[m])
      return bad_arg(err, errcap, "tile %lld: no values of dense map %s", (long long)tile->index,
                     w->dense[m].name);
  /* Memory type = file type (native little-endian IEEE): HDF5 copies without converting. */
  hid_t mem_type = w->dtype == QTM_DTYPE_F32 ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE;
  hid_t fsel = H5S_ALL, msel = H5S_ALL;

  quiet_begin(w, &q);
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
  for (int m = 0; m < w->ndense; ++m) {
    stored_type st;
    (void)stored_type_of(w->dense[m].dtype, &st); /* known: checked at create */
    H5_CHECK(H5Dwrite(w->dense[m].dset, st.mem, msel, fsel, H5P_DEFAULT, dense[m]), "H5Dwrite",
             "map %s tile %lld", w->dense[m].name, (long long)tile->index);
  }
cleanup:
  qtm_h5_close(&mspace, H5Sclose, "H5Sclose", "tile memory dataspace", &rc, err, errcap);
  tell_system_error(w, 0, rc, err, errcap);
  qtm_h5_quiet_end(&q);
  return rc;
}

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
  if (!w || !m) return bad_arg(err, errcap, "qtm_h5_writer_put_reduced: no writer or map");
  if (!m->name || !m->name[0] || strlen(m->name) >= PATH_CAP)
    return bad_arg(err, errcap, "reduced map without a name or with one too long");
  if (m->nkept < 0 || m->nkept > w->naxes)
    return bad_arg(err, errcap, "reduced map %s keeps %d axes of %d", m->name, m->nkept,
                   w->naxes);
  for (int d = 0; d < m->nkept; ++d)
    if (m->kept[d] < 0 || m->kept[d] >= w->naxes || (d > 0 && m->kept[d] <= m->kept[d - 1]))
      return bad_arg(err, errcap, "reduced map %s: kept axes not ascending positions of the "
                     "grid's %d axes", m->name, w->naxes);
  if (!stored_type_of(m->dtype, &st))
    return bad_arg(err, errcap, "reduced map %s: unknown dtype %d", m->name, (int)m->dtype);
  if (!m->data) return bad_arg(err, errcap, "reduced map %s: no data", m->name);
  (void)snprintf(what, sizeof what, "map %s", m->name);
  for (int d = 0; d < m->nkept; ++d) dims[d] = w->shape[m->kept[d]];

  quiet_begin(w, &q);
  if ((rc = make_parent_groups(w->file, m->name, err, errcap)) != QTM_OK) goto cleanup;
  if (m->nkept > 0)
    H5_CHECK(space = H5Screate_simple(m->nkept, dims, NULL), "H5Screate_simple", "%s", what);
  else
    H5_CHECK(space = H5Screate(H5S_SCALAR), "H5Screate", "%s", what);
  if ((rc = common_dcpl(&dcpl, what, err, errcap)) != QTM_OK) goto cleanup;
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
  H5_CHECK(H5Dwrite(dset, st.mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, m->data), "H5Dwrite", "%s",
           what);
  if ((rc = put_map_attrs(dset, what, &st, m->units, m->long_name, err, errcap)) != QTM_OK)
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
  tell_system_error(w, 0, rc, err, errcap);
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
  if (!w || !t) return bad_arg(err, errcap, "qtm_h5_writer_put_table: no writer or table");
  if (!t->name || !t->name[0] || strlen(t->name) >= PATH_CAP)
    return bad_arg(err, errcap, "table without a name or with one too long");
  if (t->nfields < 1 || !t->fields)
    return bad_arg(err, errcap, "table %s: %d fields", t->name, t->nfields);
  for (int i = 0; i < t->nfields; ++i) {
    if (!t->fields[i] || !t->fields[i][0])
      return bad_arg(err, errcap, "table %s: field %d has no name", t->name, i);
    for (int j = 0; j < i; ++j)
      if (strcmp(t->fields[i], t->fields[j]) == 0)
        return bad_arg(err, errcap, "table %s: field %s appears twice", t->name, t->fields[i]);
  }
  if (t->nrows < 0 || (t->nrows > 0 && !t->rows))
    return bad_arg(err, errcap, "table %s: %lld rows without data", t->name,
                   (long long)t->nrows);
  (void)snprintf(what, sizeof what, "table %s", t->name);
  (void)snprintf(type_path, sizeof type_path, "%s_t", t->name);
  (void)snprintf(dim_path, sizeof dim_path, "%s_row", t->name);
  /* netCDF-C's own form of the mark: the text, then the length in 10 columns. */
  (void)snprintf(dim_mark, sizeof dim_mark, "%s%10lld", NC_DIM_WITHOUT_VARIABLE,
                 (long long)t->nrows);
  hsize_t nrows = (hsize_t)t->nrows;

  quiet_begin(w, &q);
  if ((rc = make_parent_groups(w->file, t->name, err, errcap)) != QTM_OK) goto cleanup;
  if ((rc = row_type(t, H5T_NATIVE_DOUBLE, &mtype, err, errcap)) != QTM_OK ||
      (rc = row_type(t, H5T_IEEE_F64LE, &ftype, err, errcap)) != QTM_OK)
    goto cleanup;
  H5_CHECK(tcpl = H5Pcreate(H5P_DATATYPE_CREATE), "H5Pcreate", "type of %s", what);
  H5_CHECK(H5Pset_obj_track_times(tcpl, 0), "H5Pset_obj_track_times", "type of %s", what);
  H5_CHECK(H5Tcommit2(w->file, type_path, ftype, H5P_DEFAULT, tcpl, H5P_DEFAULT), "H5Tcommit2",
           "%s", type_path);
  H5_CHECK(space = H5Screate_simple(1, &nrows, NULL), "H5Screate_simple", "%s", what);
  if ((rc = common_dcpl(&dcpl, what, err, errcap)) != QTM_OK) goto cleanup;
  /* The dimension holds no data: never written, it takes no space in the file. */
  H5_CHECK(dim = H5Dcreate2(w->file, dim_path, H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl,
                            H5P_DEFAULT),
           "H5Dcreate2", "dimension %s", dim_path);
  H5_CHECK(H5DSset_scale(dim, dim_mark), "H5DSset_scale", "dimension %s", dim_path);
  H5_CHECK(dset = H5Dcreate2(w->file, t->name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
           "H5Dcreate2", "%s", what);
  if (nrows > 0)
    H5_CHECK(H5Dwrite(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, t->rows), "H5Dwrite", "%s",
             what);
  if ((rc = put_text_attr(dset, what, "long_name", t->long_name, err, errcap)) != QTM_OK)
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
  tell_system_error(w, 0, rc, err, errcap);
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
  if (!w || !a) return bad_arg(err, errcap, "qtm_h5_writer_put_attr: no writer or attribute");
  if (!a->object || !a->object[0] || !a->name || !a->name[0])
    return bad_arg(err, errcap, "attribute without an object or a name");

  quiet_begin(w, &q);
  H5_CHECK(obj = H5Oopen(w->file, a->object, H5P_DEFAULT), "H5Oopen", "%s (for attribute %s)",
           a->object, a->name);
  htri_t exists = H5Aexists(obj, a->name);
  H5_CHECK(exists, "H5Aexists", "attribute %s of %s", a->name, a->object);
  if (exists)
    H5_CHECK(H5Adelete(obj, a->name), "H5Adelete", "attribute %s of %s", a->name, a->object);
  rc = put_num_attr(obj, a->object, a->name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &a->value, err,
                    errcap);
cleanup:
  qtm_h5_close(&obj, H5Oclose, "H5Oclose", a->object, &rc, err, errcap);
  tell_system_error(w, 0, rc, err, errcap);
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

  quiet_begin(w, &q);
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
  /* The marker too, while a failure can still be handled: a close that fails to write cannot
   * be (detach_failed_file). */
  H5_CHECK(H5Fflush(w->file, H5F_SCOPE_GLOBAL), "H5Fflush", "after the complete marker");
  for (int j = 0; j < w->nobs; ++j)
    qtm_h5_close(&w->map[j], H5Dclose, "H5Dclose", qtm_obs_table[w->obs[j]].name, &rc, err, errcap);
  for (int m = 0; m < w->ndense; ++m)
    qtm_h5_close(&w->dense[m].dset, H5Dclose, "H5Dclose", w->dense[m].name, &rc, err, errcap);
  qtm_h5_close(&w->fspace, H5Sclose, "H5Sclose", "maps' dataspace", &rc, err, errcap);
  /* The last write happens here: a full disk may show only now. */
  qtm_h5_close(&w->file, H5Fclose, "H5Fclose", "the scan file", &rc, err, errcap);
cleanup:
  tell_system_error(w, 0, rc, err, errcap);
  discard(w); /* closes whatever an error left open */
  qtm_h5_quiet_end(&q);
  return rc;
}

void qtm_h5_writer_abort(qtm_h5_writer *w) {
  discard(w);
}
