/* The HDF5 output of a scan, written so that netCDF-4 clients (ncdump, xarray with the netcdf4
 * and h5netcdf engines) and h5py read it as they would a netCDF-4 file: one 1-D float64
 * coordinate dataset per axis at the root, registered as a dimension scale and attached to
 * every map; one dataset per observable, chunked by tiles, NaN-filled; creation order tracked;
 * provenance as global attributes; a `complete` attribute written last. The analysis' outputs
 * go to subgroups (results.h) under the same conventions: dense maps chunked like the maps,
 * maps over fewer axes with the root's scales attached, tables as compound datasets of a named
 * (committed) type over a netCDF "dimension without variable", scalar attributes. The group
 * `qtmscan_state` records which tiles are durably written (tiles_done), so that an interrupted
 * scan resumes where it stopped; the root's `config_fingerprint` says which config the tiles
 * belong to. Error handling after netcdf-c's libhdf5: every call checked, one cleanup label
 * closing only valid handles. This file creates the file, writes its tiles and closes it;
 * h5_writer_resume.c opens an interrupted one again, h5_writer_outputs.c writes the analysis'
 * outputs, h5_writer_impl.h holds what they share. */
#define _POSIX_C_SOURCE 200809L /* stat, strdup, O_CLOEXEC */
#define _GNU_SOURCE             /* sync_file_range (Linux) */

#include "qtm/h5_writer.h"
#include "h5_chunks.h"
#include "fail.h"
#include "h5_util.h"
#include "h5_virtual.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <hdf5_hl.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qtm/mpi_run.h"
#include "qtm/observables.h"
#include "qtm/version.h"

#include "h5_writer_impl.h"

/* HDF5's own error printing is silenced for the span of each public call (h5_util.h); errors
 * come back as one line through err. */

qtm_status qtm_h5w_bad_arg(char *err, size_t errcap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  qtm_status st = qtm_vfailf(err, errcap, QTM_ERR_INVALID_ARG, 0, fmt, ap);
  va_end(ap);
  return st;
}

/* stored_type of d; 0 for an unknown dtype. */
int qtm_h5w_stored_type_of(qtm_dtype d, stored_type *t) {
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
qtm_status qtm_h5w_put_text_attr(hid_t obj, const char *where, const char *name, const char *text,
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
qtm_status qtm_h5w_put_num_attr(hid_t obj, const char *where, const char *name, hid_t file_type,
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

qtm_status qtm_h5w_check_layout(const qtm_h5_layout *l, char *err, size_t errcap) {
  const qtm_grid *g = l->grid;
  const qtm_tiling *t = l->tiling;
  if (!g || !t) return qtm_h5w_bad_arg(err, errcap, "HDF5 layout without a grid or a tiling");
  int n = g->desc.naxes;
  if (n < 0 || n > QTM_MAX_AXES || t->naxes != n)
    return qtm_h5w_bad_arg(err, errcap, "HDF5 layout: the tiling has %d axes, the grid %d",
                           t->naxes, n);
  for (int k = 0; k < n; ++k) {
    int id = g->desc.axis_id[k];
    if (g->desc.shape[k] < 1 || t->tile_shape[k] < 1 || t->tile_shape[k] > g->desc.shape[k])
      return qtm_h5w_bad_arg(err, errcap, "HDF5 layout: axis %s has %lld points and tiles of %lld",
                             qtm_axis_name(id), (long long)g->desc.shape[k],
                             (long long)t->tile_shape[k]);
    for (int m = 0; m < k; ++m)
      if (g->desc.axis_id[m] == id)
        return qtm_h5w_bad_arg(err, errcap, "HDF5 layout: axis %s appears twice",
                               qtm_axis_name(id));
  }
  int64_t ntiles = 1;
  for (int k = 0; k < n; ++k) {
    int64_t per_axis = (g->desc.shape[k] + t->tile_shape[k] - 1) / t->tile_shape[k];
    if (t->tiles_per_axis[k] != per_axis)
      return qtm_h5w_bad_arg(err, errcap,
                             "HDF5 layout: %lld tiles along axis %s, its tile shape makes "
                             "%lld",
                             (long long)t->tiles_per_axis[k], qtm_axis_name(g->desc.axis_id[k]),
                             (long long)per_axis);
    ntiles *= per_axis;
  }
  if (t->ntiles != ntiles)
    return qtm_h5w_bad_arg(err, errcap,
                           "HDF5 layout: the tiling has %lld tiles, its axes make %lld",
                           (long long)t->ntiles, (long long)ntiles);
  /* No observable at all is a summary-only scan: the analysis' outputs are the file. */
  if (l->nobs < 0 || l->nobs > QTM_OBS_COUNT || (l->nobs > 0 && !l->obs))
    return qtm_h5w_bad_arg(err, errcap, "HDF5 layout: %d observables (0 to %d)", l->nobs,
                           QTM_OBS_COUNT);
  for (int j = 0; j < l->nobs; ++j) {
    int id = l->obs[j];
    if (id < 0 || id >= QTM_OBS_COUNT)
      return qtm_h5w_bad_arg(err, errcap, "HDF5 layout: unknown observable id %d", id);
    for (int m = 0; m < j; ++m)
      if (l->obs[m] == id)
        return qtm_h5w_bad_arg(err, errcap, "HDF5 layout: observable %s appears twice",
                               qtm_obs_table[id].name);
    for (int k = 0; k < n; ++k)
      if (strcmp(qtm_obs_table[id].name, qtm_axis_name(g->desc.axis_id[k])) == 0)
        return qtm_h5w_bad_arg(err, errcap, "HDF5 layout: observable %s has an axis's name",
                               qtm_obs_table[id].name);
  }
  if (l->dtype != QTM_DTYPE_F32 && l->dtype != QTM_DTYPE_F64)
    return qtm_h5w_bad_arg(err, errcap, "HDF5 layout: unknown dtype %d", (int)l->dtype);
  if (l->gzip_level < 0 || l->gzip_level > 9)
    return qtm_h5w_bad_arg(err, errcap, "HDF5 layout: gzip level %d (0 to 9)", l->gzip_level);
  if (l->ndense < 0 || (l->ndense > 0 && !l->dense))
    return qtm_h5w_bad_arg(err, errcap, "HDF5 layout: %d dense maps without descriptions",
                           l->ndense);
  for (int m = 0; m < l->ndense; ++m) {
    const qtm_dense_map *d = &l->dense[m];
    stored_type st;
    if (!d->name || !d->name[0] || strlen(d->name) >= PATH_CAP)
      return qtm_h5w_bad_arg(err, errcap, "HDF5 layout: dense map %d has no name or one too long",
                             m);
    if (!qtm_h5w_stored_type_of(d->dtype, &st))
      return qtm_h5w_bad_arg(err, errcap, "HDF5 layout: dense map %s has unknown dtype %d", d->name,
                             (int)d->dtype);
    for (int j = 0; j < m; ++j)
      if (strcmp(l->dense[j].name, d->name) == 0)
        return qtm_h5w_bad_arg(err, errcap, "HDF5 layout: dense map %s appears twice", d->name);
    /* The root's names are taken by the axes and maps: HDF5 would refuse only later, as an
     * I/O error. */
    for (int j = 0; j < l->nobs; ++j)
      if (strcmp(qtm_obs_table[l->obs[j]].name, d->name) == 0)
        return qtm_h5w_bad_arg(err, errcap, "HDF5 layout: dense map %s has an observable's name",
                               d->name);
    for (int k = 0; k < n; ++k)
      if (strcmp(qtm_axis_name(g->desc.axis_id[k]), d->name) == 0)
        return qtm_h5w_bad_arg(err, errcap, "HDF5 layout: dense map %s has an axis's name",
                               d->name);
    size_t len = strlen(STATE_GROUP);
    if (strncmp(d->name, STATE_GROUP, len) == 0 && (!d->name[len] || d->name[len] == '/'))
      return qtm_h5w_bad_arg(err, errcap, "HDF5 layout: dense map %s is in the writer's group %s",
                             d->name, STATE_GROUP);
  }
  if (l->nsources < 0 || (l->nsources > 0 && !l->sources))
    return qtm_h5w_bad_arg(err, errcap, "HDF5 layout: %d sources without descriptions",
                           l->nsources);
  for (int i = 0; i < l->nsources; ++i)
    if (!l->sources[i].file || !l->sources[i].file[0] || !l->sources[i].tiles)
      return qtm_h5w_bad_arg(err, errcap, "HDF5 layout: source %d has no file name or tile marks",
                             i);
  return QTM_OK;
}

/* The root group's provenance, known when the scan starts. */
static qtm_status put_start_attrs(hid_t file, const qtm_h5_provenance *p, char *err,
                                  size_t errcap) {
  static const qtm_h5_provenance none;
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
      /* Older callers (and tests) give none: such a file cannot be resumed. */
      {"config_fingerprint", p->fingerprint ? p->fingerprint : "none"},
  };
  for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; ++i) {
    qtm_status rc =
        qtm_h5w_put_text_attr(file, "the root group", attrs[i].name, attrs[i].text, err, errcap);
    if (rc != QTM_OK) return rc;
  }
  if (p->shard_count > 0) {
    const struct {
      const char *name;
      int64_t value;
    } shard[] = {{"shard_index", p->shard_index},
                 {"shard_count", p->shard_count},
                 {"shard_first_tile", p->shard_first_tile},
                 {"shard_end_tile", p->shard_end_tile}};
    for (size_t i = 0; i < sizeof shard / sizeof shard[0]; ++i) {
      qtm_status rc = qtm_h5w_put_num_attr(file, "the root group", shard[i].name, H5T_STD_I64LE,
                                           H5T_NATIVE_INT64, &shard[i].value, err, errcap);
      if (rc != QTM_OK) return rc;
    }
  }
  if (p->merged_from)
    return qtm_h5w_put_text_attr(file, "the root group", "merged_from", p->merged_from, err,
                                 errcap);
  return QTM_OK;
}

/* Properties every dataset shares: no modification times, so that the same scan gives the same
 * bytes; attribute creation order tracked, as netCDF-4 does, so readers list attributes in the
 * order written. */
qtm_status qtm_h5w_common_dcpl(hid_t *dcpl, const char *what, char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  H5_CHECK(*dcpl = H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate", "creation properties of %s", what);
  H5_CHECK(H5Pset_obj_track_times(*dcpl, 0), "H5Pset_obj_track_times", "%s", what);
  H5_CHECK(H5Pset_attr_creation_order(*dcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
           "H5Pset_attr_creation_order", "%s", what);
cleanup:
  return rc;
}

/* Transfer properties of a parallel file's raw data writes: collective, as HDF5 needs for
 * compressed datasets, with every rank taking part. */
static hid_t collective_dxpl(int parallel) {
#ifdef QTM_MPI
  if (parallel) {
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    if (dxpl >= 0 && H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE) < 0) {
      H5Pclose(dxpl);
      return H5I_INVALID_HID;
    }
    return dxpl;
  }
#else
  (void)parallel;
#endif
  return H5P_DEFAULT;
}

/* Writes a whole dataset from buf. In a parallel file every rank holds the same values; rank 0
 * writes them and the others take part in the collective write with nothing selected. */
qtm_status qtm_h5w_write_whole(hid_t dset, hid_t mtype, const void *buf, int parallel,
                               const char *what, char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID, dxpl = H5P_DEFAULT;
  if (!parallel) {
    H5_CHECK(H5Dwrite(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), "H5Dwrite", "%s", what);
    return QTM_OK;
  }
  H5_CHECK(dxpl = collective_dxpl(parallel), "H5Pset_dxpl_mpio", "%s", what);
  H5_CHECK(fspace = H5Dget_space(dset), "H5Dget_space", "%s", what);
  H5_CHECK(mspace = H5Scopy(fspace), "H5Scopy", "%s", what);
  if (qtm_mpi_world().rank != 0) {
    H5_CHECK(H5Sselect_none(fspace), "H5Sselect_none", "%s", what);
    H5_CHECK(H5Sselect_none(mspace), "H5Sselect_none", "%s", what);
  }
  H5_CHECK(H5Dwrite(dset, mtype, mspace, fspace, dxpl, buf), "H5Dwrite", "%s", what);
cleanup:
  if (dxpl != H5P_DEFAULT) qtm_h5_close(&dxpl, H5Pclose, "H5Pclose", what, &rc, err, errcap);
  qtm_h5_close(&mspace, H5Sclose, "H5Sclose", what, &rc, err, errcap);
  qtm_h5_close(&fspace, H5Sclose, "H5Sclose", what, &rc, err, errcap);
  return rc;
}

/* A netCDF dimension without variable is never written. Parallel HDF5 allocates every dataset
 * at creation, and without fill values written then, reading one would give whatever bytes
 * lay there: the fill (zeros) is written at allocation instead, as a serial file reads it. */
qtm_status qtm_h5w_dimension_fill(hid_t dcpl, int parallel, const char *what, char *err,
                                  size_t errcap) {
  qtm_status rc = QTM_OK;
  if (parallel)
    H5_CHECK(H5Pset_fill_time(dcpl, H5D_FILL_TIME_ALLOC), "H5Pset_fill_time", "%s", what);
cleanup:
  return rc;
}

/* Axis k's coordinate dataset, written and registered as the dimension scale named after the
 * axis; returned open in *out for the attachments. */
static qtm_status create_coordinate(hid_t file, const qtm_grid *g, int k, int parallel,
                                    hid_t *out, char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID, dset = H5I_INVALID_HID;
  int id = g->desc.axis_id[k];
  const char *name = qtm_axis_name(id);
  char what[96];
  (void)snprintf(what, sizeof what, "coordinate %s", name);
  hsize_t n = (hsize_t)g->desc.shape[k];
  H5_CHECK(space = H5Screate_simple(1, &n, NULL), "H5Screate_simple", "%s", what);
  if ((rc = qtm_h5w_common_dcpl(&dcpl, what, err, errcap)) != QTM_OK) goto cleanup;
  /* Contiguous (the default layout): an axis is small and read whole. */
  H5_CHECK(dset = H5Dcreate2(file, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
           "H5Dcreate2", "%s", what);
  if ((rc = qtm_h5w_write_whole(dset, H5T_NATIVE_DOUBLE, g->values + g->desc.offset[k], parallel,
                                what, err, errcap)) != QTM_OK)
    goto cleanup;
  if ((rc = qtm_h5w_put_text_attr(dset, what, "units", qtm_axis_unit(id), err, errcap)) != QTM_OK ||
      (rc = qtm_h5w_put_text_attr(dset, what, "long_name", qtm_axis_long_name(id), err, errcap)) !=
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
qtm_status qtm_h5w_make_parent_groups(hid_t file, const char *path, char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t gcpl = H5I_INVALID_HID, group = H5I_INVALID_HID;
  char prefix[PATH_CAP];
  size_t len = strlen(path);
  if (len >= sizeof prefix)
    return qtm_h5w_bad_arg(err, errcap, "HDF5 path too long: %.64s...", path);
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
qtm_status qtm_h5w_put_map_attrs(hid_t dset, const char *what, const stored_type *st,
                                 const char *units, const char *long_name, char *err,
                                 size_t errcap) {
  qtm_status rc;
  if ((rc = qtm_h5w_put_num_attr(dset, what, "_FillValue", st->file, st->mem, &st->fill, err,
                                 errcap)) != QTM_OK ||
      (rc = qtm_h5w_put_text_attr(dset, what, "units", units, err, errcap)) != QTM_OK ||
      (rc = qtm_h5w_put_text_attr(dset, what, "long_name", long_name, err, errcap)) != QTM_OK)
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
  if (!qtm_h5w_stored_type_of(dtype, &st))
    return qtm_h5w_bad_arg(err, errcap, "%s: unknown dtype", what);

  if ((rc = qtm_h5w_make_parent_groups(w->file, path, err, errcap)) != QTM_OK) goto cleanup;
  if ((rc = qtm_h5w_common_dcpl(&dcpl, what, err, errcap)) != QTM_OK) goto cleanup;
  if (l->nsources > 0) {
    if ((rc = qtm_h5_virtual_map(dcpl, w->fspace, l->tiling, l->grid->desc.shape, path, l->sources,
                                 l->nsources, err, errcap)) != QTM_OK)
      goto cleanup;
  } else if (w->naxes > 0) { /* a scalar dataset can be neither chunked nor filtered */
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
  if ((rc = qtm_h5w_put_map_attrs(dset, what, &st, units, long_name, err, errcap)) != QTM_OK)
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
void qtm_h5w_quiet_begin(qtm_h5_writer *w, qtm_h5_quiet *q) {
  qtm_h5_quiet_begin(q);
  (void)H5Eset_auto2(H5E_DEFAULT, errno_note, w);
}

/* A failure with a system error under it is told as that error on the file, in one line:
 * "cannot write OUT.partial: No space left on device", "H5Fcreate OUT.partial: Permission
 * denied" (to_create: the file could not be created). */
void qtm_h5w_tell_system_error(const qtm_h5_writer *w, int to_create, qtm_status rc, char *err,
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
 * needs to truncate); and the library is not shut down at exit (qtm_h5w_no_shutdown_at_exit). */
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
void qtm_h5w_no_shutdown_at_exit(void) {
  (void)H5dont_atexit(); /* fails, harmlessly, once the library is initialised */
}

/* Closes every handle of w without reporting (an abandoned file) and frees w. */
void qtm_h5w_discard(qtm_h5_writer *w) {
  if (!w) return;
  H5E_BEGIN_TRY {
    if (w->sys_errno && w->file >= 0) detach_failed_file(w);
    for (int j = 0; j < w->nmaps; ++j)
      if (w->maps[j].dset >= 0) H5Dclose(w->maps[j].dset);
    if (w->done >= 0) H5Dclose(w->done);
    if (w->done_space >= 0) H5Sclose(w->done_space);
    if (w->one_space >= 0) H5Sclose(w->one_space);
    if (w->fspace >= 0) H5Sclose(w->fspace);
    if (w->file >= 0) H5Fclose(w->file);
  }
  H5E_END_TRY;
  for (int j = 0; w->maps && j < w->nmaps; ++j) free(w->maps[j].name);
  free(w->maps);
  free(w->jobs);
  free(w->path);
  qtm_h5_chunk_pool_free(&w->pool);
  free(w->pad);
  free(w);
}

/* A writer of the file at path for a checked layout, both copied (the caller's strings need
 * not outlive the call), every handle invalid. */
qtm_status qtm_h5w_writer_new(const qtm_h5_layout *layout, const char *path, qtm_h5_writer **out,
                              char *err, size_t errcap) {
  const qtm_grid *g = layout->grid;
  qtm_h5_writer *w = calloc(1, sizeof *w);
  *out = NULL;
  if (!w) goto nomem;
  w->file = w->fspace = w->done = w->done_space = w->one_space = H5I_INVALID_HID;
  w->fd = -2;
  if (!(w->path = strdup(path))) goto nomem;
  w->nobs = layout->nobs;
  for (int j = 0; j < w->nobs; ++j) w->obs[j] = layout->obs[j];
  w->naxes = g->desc.naxes;
  for (int k = 0; k < w->naxes; ++k) {
    w->axis_id[k] = g->desc.axis_id[k];
    w->shape[k] = (hsize_t)g->desc.shape[k];
    w->tile_shape[k] = layout->tiling->tile_shape[k];
    w->tiles_per_axis[k] = layout->tiling->tiles_per_axis[k];
  }
  w->dtype = layout->dtype;
  w->gzip_level = layout->gzip_level;
  w->ntiles = layout->tiling->ntiles;
  w->is_virtual = layout->nsources > 0;
  w->parallel = layout->parallel;
  w->threads = layout->threads;
  int nmaps = layout->nobs + layout->ndense;
  if (nmaps > 0) {
    if (!(w->maps = calloc((size_t)nmaps, sizeof *w->maps)) ||
        !(w->jobs = calloc((size_t)nmaps, sizeof *w->jobs)))
      goto nomem;
    w->nmaps = nmaps;
    w->ndense = layout->ndense;
    for (int j = 0; j < nmaps; ++j) w->maps[j].dset = H5I_INVALID_HID; /* for qtm_h5w_discard */
    for (int j = 0; j < nmaps; ++j) {
      map_slot *m = &w->maps[j];
      int is_obs = j < w->nobs;
      m->dtype = is_obs ? w->dtype : layout->dense[j - w->nobs].dtype;
      (void)qtm_h5w_stored_type_of(m->dtype, &m->st); /* known: qtm_h5w_check_layout checked it */
      m->elem = qtm_dtype_size(m->dtype);
      const char *name = is_obs ? qtm_obs_table[w->obs[j]].name : layout->dense[j - w->nobs].name;
      if (!(m->name = strdup(name))) goto nomem;
    }
  }
  *out = w;
  return QTM_OK;
nomem:
  qtm_h5w_discard(w);
  return qtm_h5_fail_msg(QTM_ERR_NOMEM, err, errcap, "out of memory creating the HDF5 writer");
}

/* The dataspaces write_tile selects in: the maps' (scalar for a grid without axes), that of
 * tiles_done, and one mark's in memory. */
qtm_status qtm_h5w_make_spaces(qtm_h5_writer *w, char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  hsize_t ntiles = (hsize_t)w->ntiles, one = 1;
  if (w->naxes > 0)
    H5_CHECK(w->fspace = H5Screate_simple(w->naxes, w->shape, NULL), "H5Screate_simple",
             "maps' dataspace");
  else
    H5_CHECK(w->fspace = H5Screate(H5S_SCALAR), "H5Screate", "maps' dataspace");
  H5_CHECK(w->done_space = H5Screate_simple(1, &ntiles, NULL), "H5Screate_simple", "%s",
           STATE_DONE);
  H5_CHECK(w->one_space = H5Screate_simple(1, &one, NULL), "H5Screate_simple", "one done mark");
cleanup:
  return rc;
}

/* File access properties of a scan file, at create and at resume.
 *
 * SEMI: closing the file fails while a handle is open, so a leak is an error, not a file
 * silently left open.
 *
 * Crash consistency. HDF5 1.10 keeps no journal: what is on disk is consistent when it is one
 * flush's metadata, whole. Its metadata cache normally evicts dirty entries whenever it needs
 * room, that is, writes pieces of the next state at arbitrary moments between flushes (a
 * B-tree node naming a chunk beyond the end of allocation that the superblock on disk still
 * gives, say); a kill then leaves a mixture that may not open. With evictions off, metadata
 * reaches the disk in H5Fflush and H5Fclose only, so between two flushes the file on disk is
 * the last flushed state plus raw data: chunks written where that state has nothing (past its
 * end of allocation, or in space it holds as free: a tile never frees raw data, its chunks are
 * written once). HDF5 allows evictions off only with every automatic resize off. The price:
 * the cache only grows while evictions are off (trim_cache). A flush itself writes the raw
 * data first, the metadata after, the superblock last; a kill in its midst may leave
 * metadata naming space past the superblock's end of allocation, which resume protects
 * (H5Fincrement_filesize). That a kill can hit a flush at all is why write_tile flushes the
 * data before it writes the mark: the mark is the last thing a tile's flush can leave. */
qtm_status qtm_h5w_crash_safe_fapl(hid_t *fapl, const char *path, int parallel, char *err,
                                   size_t errcap) {
  qtm_status rc = QTM_OK;
  H5AC_cache_config_t mdc;
  memset(&mdc, 0, sizeof mdc);
  mdc.version = H5AC__CURR_CACHE_CONFIG_VERSION;
  H5_CHECK(*fapl = H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate", "file access properties");
  H5_CHECK(H5Pset_fclose_degree(*fapl, H5F_CLOSE_SEMI), "H5Pset_fclose_degree", "%s", path);
  if (parallel) {
#ifdef QTM_MPI
    /* Parallel HDF5 manages its metadata cache across the ranks (the evictions cannot be
     * switched off), so a killed MPI run may leave anything: its partial file records
     * mpi_ranks and is never resumed (split a long scan with --shard instead). */
    H5_CHECK(H5Pset_fapl_mpio(*fapl, MPI_COMM_WORLD, MPI_INFO_NULL), "H5Pset_fapl_mpio", "%s",
             path);
    H5_CHECK(H5Pset_all_coll_metadata_ops(*fapl, 1), "H5Pset_all_coll_metadata_ops", "%s", path);
    H5_CHECK(H5Pset_coll_metadata_write(*fapl, 1), "H5Pset_coll_metadata_write", "%s", path);
    return QTM_OK;
#else
    return qtm_h5w_bad_arg(err, errcap,
                           "%s: a parallel file needs a qtmscan built with -DQTM_MPI=ON", path);
#endif
  }
  H5_CHECK(H5Pget_mdc_config(*fapl, &mdc), "H5Pget_mdc_config", "%s", path);
  mdc.evictions_enabled = 0;
  mdc.incr_mode = H5C_incr__off;
  mdc.flash_incr_mode = H5C_flash_incr__off;
  mdc.decr_mode = H5C_decr__off;
  mdc.set_initial_size = 1;
  mdc.initial_size = MDC_SIZE;
  mdc.max_size = MDC_SIZE;
  if (mdc.min_size > MDC_SIZE) mdc.min_size = MDC_SIZE;
  H5_CHECK(H5Pset_mdc_config(*fapl, &mdc), "H5Pset_mdc_config", "%s", path);
cleanup:
  return rc;
}

/* The group qtmscan_state: tiles_done, one uint8 per tile (0 until the tile's values are in
 * the file, then 1), over the dimension `tile` (a netCDF dimension without variable, as a
 * table's rows), and the attribute ntiles. tiles_done is never compressed and its chunks are
 * allocated (and zeroed) here: marking a tile rewrites one chunk in place, allocating, moving
 * and freeing nothing, so the flush of a mark writes raw data only (qtm_h5w_crash_safe_fapl).
 * Leaves tiles_done open in w->done. */
static qtm_status create_state(qtm_h5_writer *w, char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t gcpl = H5I_INVALID_HID, group = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
  hid_t dim = H5I_INVALID_HID;
  char dim_mark[sizeof NC_DIM_WITHOUT_VARIABLE + 24];
  hsize_t chunk = (hsize_t)w->ntiles < DONE_CHUNK ? (hsize_t)w->ntiles : DONE_CHUNK;
  const unsigned char not_done = 0;
  (void)snprintf(dim_mark, sizeof dim_mark, "%s%10lld", NC_DIM_WITHOUT_VARIABLE,
                 (long long)w->ntiles);
  if ((rc = group_gcpl(&gcpl, STATE_GROUP, err, errcap)) != QTM_OK) goto cleanup;
  H5_CHECK(group = H5Gcreate2(w->file, STATE_GROUP, H5P_DEFAULT, gcpl, H5P_DEFAULT),
           "H5Gcreate2", "group %s", STATE_GROUP);
  if ((rc = qtm_h5w_put_num_attr(group, STATE_GROUP, "ntiles", H5T_STD_I64LE, H5T_NATIVE_INT64,
                                 &w->ntiles, err, errcap)) != QTM_OK)
    goto cleanup;
  if ((rc = qtm_h5w_common_dcpl(&dcpl, STATE_DIM, err, errcap)) != QTM_OK ||
      (rc = qtm_h5w_dimension_fill(dcpl, w->parallel, STATE_DIM, err, errcap)) != QTM_OK)
    goto cleanup;
  /* The dimension holds no data: never written, it takes no space in the file. */
  H5_CHECK(dim = H5Dcreate2(w->file, STATE_DIM, H5T_IEEE_F32LE, w->done_space, H5P_DEFAULT, dcpl,
                            H5P_DEFAULT),
           "H5Dcreate2", "dimension %s", STATE_DIM);
  H5_CHECK(H5DSset_scale(dim, dim_mark), "H5DSset_scale", "dimension %s", STATE_DIM);
  qtm_h5_close(&dcpl, H5Pclose, "H5Pclose", STATE_DIM, &rc, err, errcap);
  if (rc != QTM_OK) goto cleanup;
  if ((rc = qtm_h5w_common_dcpl(&dcpl, STATE_DONE, err, errcap)) != QTM_OK) goto cleanup;
  H5_CHECK(H5Pset_chunk(dcpl, 1, &chunk), "H5Pset_chunk", "%s", STATE_DONE);
  H5_CHECK(H5Pset_fill_value(dcpl, H5T_NATIVE_UCHAR, &not_done), "H5Pset_fill_value", "%s",
           STATE_DONE);
  H5_CHECK(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY), "H5Pset_alloc_time", "%s",
           STATE_DONE);
  H5_CHECK(w->done = H5Dcreate2(w->file, STATE_DONE, H5T_STD_U8LE, w->done_space, H5P_DEFAULT,
                                dcpl, H5P_DEFAULT),
           "H5Dcreate2", "%s", STATE_DONE);
  if ((rc = qtm_h5w_put_text_attr(
           w->done, STATE_DONE, "long_name",
           "1 once every map holds the values of the tile, 0 for a tile that a "
           "resumed scan computes (tiles numbered row-major over the tile grid)",
           err, errcap)) != QTM_OK)
    goto cleanup;
  H5_CHECK(H5DSattach_scale(w->done, dim, 0), "H5DSattach_scale", "%s to %s", STATE_DIM,
           STATE_DONE);
cleanup:
  qtm_h5_close(&dim, H5Dclose, "H5Dclose", STATE_DIM, &rc, err, errcap);
  qtm_h5_close(&dcpl, H5Pclose, "H5Pclose", STATE_DONE, &rc, err, errcap);
  qtm_h5_close(&group, H5Gclose, "H5Gclose", STATE_GROUP, &rc, err, errcap);
  qtm_h5_close(&gcpl, H5Pclose, "H5Pclose", STATE_GROUP, &rc, err, errcap);
  return rc;
}

/* A virtual file's tiles are all in its sources: every mark 1. */
static qtm_status mark_all_done(qtm_h5_writer *w, char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  unsigned char *ones = malloc((size_t)w->ntiles);
  if (!ones) return qtm_h5_fail_msg(QTM_ERR_NOMEM, err, errcap, "out of memory for the marks");
  memset(ones, 1, (size_t)w->ntiles);
  rc = qtm_h5w_write_whole(w->done, H5T_NATIVE_UCHAR, ones, w->parallel, STATE_DONE, err, errcap);
  free(ones);
  return rc;
}

qtm_status qtm_h5_writer_create(const char *path, const qtm_h5_layout *layout,
                                const qtm_h5_provenance *prov, qtm_h5_writer **out, char *err,
                                size_t errcap) {
  qtm_h5w_no_shutdown_at_exit();
  qtm_status rc = QTM_OK;
  hid_t fcpl = H5I_INVALID_HID, fapl = H5I_INVALID_HID;
  hid_t coord[QTM_MAX_AXES];
  qtm_h5_writer *w = NULL;
  int created = 0;
  qtm_h5_quiet q;

  if (err && errcap) err[0] = '\0';
  if (!out) return qtm_h5w_bad_arg(err, errcap, "qtm_h5_writer_create: no output handle");
  *out = NULL;
  if (!path || !layout)
    return qtm_h5w_bad_arg(err, errcap, "qtm_h5_writer_create: no path or layout");
  if ((rc = qtm_h5w_check_layout(layout, err, errcap)) != QTM_OK) return rc;
  if ((rc = qtm_h5w_writer_new(layout, path, &w, err, errcap)) != QTM_OK) return rc;
  const qtm_grid *g = layout->grid;
  for (int k = 0; k < w->naxes; ++k) coord[k] = H5I_INVALID_HID;

  qtm_h5w_quiet_begin(w, &q);
  if (layout->gzip_level > 0 && w->naxes > 0) {
    htri_t avail = H5Zfilter_avail(H5Z_FILTER_DEFLATE);
    H5_CHECK(avail, "H5Zfilter_avail", "deflate");
    if (!avail) {
      rc = qtm_h5w_bad_arg(err, errcap, "this HDF5 library has no deflate filter (gzip level %d)",
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
  /* Library version bounds stay at the default (earliest): each object gets the oldest format
   * that holds it (HDF5 1.8's, for the creation-order indexes), which netCDF-C and every HDF5
   * reader since 1.8 understand. */
  if ((rc = qtm_h5w_crash_safe_fapl(&fapl, path, w->parallel, err, errcap)) != QTM_OK) goto cleanup;
  if ((w->file = H5Fcreate(path, H5F_ACC_EXCL, fcpl, fapl)) < 0) {
    struct stat st;
    rc = qtm_h5_fail(err, errcap, "H5Fcreate", "%s", path);
    /* The usual cause, told apart so the caller can say "exists" rather than "I/O error". */
    if (stat(path, &st) == 0) rc = QTM_ERR_EXISTS;
    goto cleanup;
  }
  created = 1;
  if ((rc = put_start_attrs(w->file, prov, err, errcap)) != QTM_OK) goto cleanup;
  if (w->parallel && (rc = qtm_h5w_put_num_attr(
                          w->file, "the root group", "mpi_ranks", H5T_STD_I32LE, H5T_NATIVE_INT,
                          &(int){qtm_mpi_world().size}, err, errcap)) != QTM_OK)
    goto cleanup;
  if ((rc = qtm_h5w_make_spaces(w, err, errcap)) != QTM_OK) goto cleanup;
  /* Coordinates first: netCDF numbers dimensions in the order it meets their scales. */
  for (int k = 0; k < w->naxes; ++k)
    if ((rc = create_coordinate(w->file, g, k, w->parallel, &coord[k], err, errcap)) != QTM_OK)
      goto cleanup;
  for (int j = 0; j < w->nmaps; ++j) {
    map_slot *m = &w->maps[j];
    const qtm_obs_info *info = j < w->nobs ? &qtm_obs_table[w->obs[j]] : NULL;
    const qtm_dense_map *d = info ? NULL : &layout->dense[j - w->nobs];
    if ((rc = create_full_map(w, layout, m->name, m->dtype, info ? info->unit : d->units,
                              info ? info->long_name : d->long_name, coord, &m->dset, err,
                              errcap)) != QTM_OK)
      goto cleanup;
  }
  if ((rc = create_state(w, err, errcap)) != QTM_OK) goto cleanup;
  if (w->is_virtual && (rc = mark_all_done(w, err, errcap)) != QTM_OK) goto cleanup;
  /* The structure and provenance on disk now: a scan killed before its first tile then leaves
   * a file that opens, says what it was, and resumes (without the flush, HDF5 may have
   * written nothing). */
  H5_CHECK(H5Fflush(w->file, H5F_SCOPE_GLOBAL), "H5Fflush", "%s", path);

cleanup:
  for (int k = 0; k < w->naxes; ++k)
    qtm_h5_close(&coord[k], H5Dclose, "H5Dclose", qtm_axis_name(g->desc.axis_id[k]), &rc, err,
                 errcap);
  qtm_h5_close(&fapl, H5Pclose, "H5Pclose", "file access properties", &rc, err, errcap);
  qtm_h5_close(&fcpl, H5Pclose, "H5Pclose", "file creation properties", &rc, err, errcap);
  if (rc != QTM_OK) {
    qtm_h5w_tell_system_error(w, !created, rc, err, errcap);
    qtm_h5w_discard(w);
    /* H5F_ACC_EXCL guarantees the file is ours: a half-built one must not stay behind. */
    if (created) (void)remove(path);
  } else {
    *out = w;
  }
  qtm_h5_quiet_end(&q);
  return rc;
}

/* With evictions off (qtm_h5w_crash_safe_fapl) the metadata cache keeps every entry it ever loaded,
 * clean ones too: chunk B-tree nodes, some 64 bytes per tile and map (19 MB after 10^5 tiles
 * of 3 maps). Right after a flush, when every entry is clean, evictions are let on for one
 * metadata access, which evicts (writes nothing) down to half the nominal size; then off
 * again. Called after a tile's last flush. */
static qtm_status trim_cache(qtm_h5_writer *w, char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  size_t max_size = 0, min_clean = 0, cur_size = 0;
  int nentries = 0;
  H5AC_cache_config_t mdc;
  H5_CHECK(H5Fget_mdc_size(w->file, &max_size, &min_clean, &cur_size, &nentries),
           "H5Fget_mdc_size", "the scan file");
  if (cur_size <= MDC_SIZE) return QTM_OK;
  memset(&mdc, 0, sizeof mdc);
  mdc.version = H5AC__CURR_CACHE_CONFIG_VERSION;
  H5_CHECK(H5Fget_mdc_config(w->file, &mdc), "H5Fget_mdc_config", "the scan file");
  mdc.evictions_enabled = 1;
  mdc.set_initial_size = 1;
  mdc.initial_size = MDC_SIZE / 2;
  if (mdc.min_size > mdc.initial_size) mdc.min_size = mdc.initial_size;
  H5_CHECK(H5Fset_mdc_config(w->file, &mdc), "H5Fset_mdc_config", "the scan file (evictions on)");
  H5O_info_t info; /* any access that goes through the cache makes it shrink to size */
#if H5_VERSION_GE(1, 12, 0)
  H5_CHECK(H5Oget_info3(w->done, &info, H5O_INFO_BASIC), "H5Oget_info", "%s", STATE_DONE);
#else
  H5_CHECK(H5Oget_info2(w->done, &info, H5O_INFO_BASIC), "H5Oget_info", "%s", STATE_DONE);
#endif
  mdc.evictions_enabled = 0;
  mdc.initial_size = MDC_SIZE;
  H5_CHECK(H5Fset_mdc_config(w->file, &mdc), "H5Fset_mdc_config", "the scan file (evictions off)");
cleanup:
  return rc;
}

/* ---- Tiles --------------------------------------------------------------------------------- */

/* The first point of tile k (the layout's tiling, row-major tile numbering). */
void qtm_h5w_tile_start(const qtm_h5_writer *w, int64_t k, hsize_t *start) {
  for (int d = w->naxes - 1; d >= 0; --d) {
    start[d] = (hsize_t)(k % w->tiles_per_axis[d] * w->tile_shape[d]);
    k /= w->tiles_per_axis[d];
  }
}

/* A tile must be the layout's tile of its index: its done mark is set by index. */
static qtm_status check_tile(const qtm_h5_writer *w, const qtm_tile *t, const qtm_tile_out *o,
                             char *err, size_t errcap) {
  if (t->index < 0 || t->index >= w->ntiles)
    return qtm_h5w_bad_arg(err, errcap, "tile %lld: index outside 0..%lld", (long long)t->index,
                           (long long)w->ntiles - 1);
  if (o->dtype != w->dtype || o->nobs != w->nobs)
    return qtm_h5w_bad_arg(err, errcap,
                           "tile %lld: %d observables of dtype %d, the file has %d of %d",
                           (long long)t->index, o->nobs, (int)o->dtype, w->nobs, (int)w->dtype);
  for (int j = 0; j < w->nobs; ++j)
    if (o->obs[j] != w->obs[j] || !o->data[j])
      return qtm_h5w_bad_arg(err, errcap, "tile %lld: observable %d is not the file's map %s",
                             (long long)t->index, j, qtm_obs_table[w->obs[j]].name);
  int64_t npoints = 1;
  for (int k = 0; k < w->naxes; ++k) {
    if (t->start[k] < 0 || t->count[k] < 1 || (uint64_t)t->start[k] >= w->shape[k] ||
        (uint64_t)t->count[k] > w->shape[k] - (uint64_t)t->start[k])
      return qtm_h5w_bad_arg(err, errcap, "tile %lld: axis %d range %lld+%lld outside the grid",
                             (long long)t->index, k, (long long)t->start[k],
                             (long long)t->count[k]);
    npoints *= t->count[k];
  }
  if (npoints != t->npoints)
    return qtm_h5w_bad_arg(err, errcap, "tile %lld: %lld points, its counts make %lld",
                           (long long)t->index, (long long)t->npoints, (long long)npoints);
  int64_t rest = t->index;
  for (int k = w->naxes - 1; k >= 0; --k) {
    int64_t start = rest % w->tiles_per_axis[k] * w->tile_shape[k];
    int64_t left = (int64_t)w->shape[k] - start;
    rest /= w->tiles_per_axis[k];
    if (t->start[k] != start || t->count[k] != (left < w->tile_shape[k] ? left : w->tile_shape[k]))
      return qtm_h5w_bad_arg(err, errcap, "tile %lld: axis %d range %lld+%lld is not that tile's",
                             (long long)t->index, k, (long long)t->start[k],
                             (long long)t->count[k]);
  }
  return QTM_OK;
}

/* The values of map j (write_tile's order) in a tile's arrays. */
static const void *tile_values(const qtm_h5_writer *w, const qtm_tile_out *out,
                               const void *const *dense, int j) {
  return j < w->nobs ? out->data[j] : dense[j - w->nobs];
}

/* A serial file's tile written as whole chunks with H5Dwrite_chunk (a tile is one chunk of
 * every map), bypassing HDF5's chunk cache and filter pipeline. Uncompressed, a whole tile goes
 * from the caller's array to the file with no copy (H5Dwrite filled a cache chunk with the fill
 * value, copied the tile in, then wrote it); an edge tile is padded to the chunk shape with the
 * fill value, as HDF5 stores it. Compressed, the chunks are shuffled and deflated on a pool of
 * threads (h5_chunks.c, the same bytes as HDF5's filters) and only then handed to HDF5 on this
 * thread: HDF5 1.10 would filter them one after the other here. Chunks are written once each,
 * at new space, as H5Dwrite wrote them, so qtm_h5w_crash_safe_fapl's argument holds unchanged. */
static qtm_status write_chunks(qtm_h5_writer *w, const qtm_tile *tile, const qtm_tile_out *out,
                               const void *const *dense, char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  qtm_h5_chunk_job *job = w->jobs;
  hsize_t offset[QTM_MAX_AXES];
  int64_t chunk_points = 1, points = 1;
  size_t max_bytes = 0;
  for (int k = 0; k < w->naxes; ++k) {
    offset[k] = (hsize_t)tile->start[k];
    chunk_points *= w->tile_shape[k];
    points *= tile->count[k];
  }
  for (int j = 0; j < w->nmaps; ++j) {
    job[j].src = tile_values(w, out, dense, j);
    job[j].elem = w->maps[j].elem;
    job[j].fill = &w->maps[j].st.fill;
    if ((size_t)chunk_points * job[j].elem > max_bytes)
      max_bytes = (size_t)chunk_points * job[j].elem;
  }
  if (w->gzip_level > 0) {
    /* The scan's threads, or as many as OpenMP would use (OMP_NUM_THREADS, else the cores),
     * sharing the cores with the evaluation of the next tile: together they keep all busy. */
    int nthreads = w->threads > 0 ? w->threads : omp_get_max_threads();
    if (nthreads > QTM_H5_CHUNK_MAX_THREADS) nthreads = QTM_H5_CHUNK_MAX_THREADS;
    if (qtm_h5_chunk_pool_reserve(&w->pool, w->nmaps, max_bytes, nthreads) != QTM_OK)
      return qtm_h5_fail_msg(QTM_ERR_NOMEM, err, errcap, "out of memory compressing tile %lld",
                             (long long)tile->index);
    if ((rc = qtm_h5_chunks_deflate(&w->pool, job, w->nmaps, w->naxes, tile->count,
                                    w->tile_shape, w->gzip_level, err, errcap)) != QTM_OK)
      return rc;
  } else if (points != chunk_points && w->pad_bytes < max_bytes) {
    free(w->pad);
    w->pad_bytes = 0;
    if (!(w->pad = malloc(max_bytes)))
      return qtm_h5_fail_msg(QTM_ERR_NOMEM, err, errcap, "out of memory padding tile %lld",
                             (long long)tile->index);
    w->pad_bytes = max_bytes;
  }
  for (int j = 0; j < w->nmaps; ++j) {
    const void *buf = job[j].src;
    size_t size = (size_t)chunk_points * job[j].elem;
    unsigned mask = 0;
    if (w->gzip_level > 0) { /* deflated above */
      buf = job[j].out;
      size = job[j].size;
      mask = job[j].filter_mask;
    } else if (points != chunk_points) { /* the pad is reused chunk after chunk: written before
                                            the next */
      qtm_h5_chunk_pack(job[j].src, job[j].elem, w->naxes, tile->count, w->tile_shape,
                        job[j].fill, w->pad);
      buf = w->pad;
    }
    H5_CHECK(H5Dwrite_chunk(w->maps[j].dset, H5P_DEFAULT, mask, offset, size, buf),
             "H5Dwrite_chunk", "map %s tile %lld", w->maps[j].name, (long long)tile->index);
  }
cleanup:
  return rc;
}

/* Starts the disk writing the tile just flushed, without waiting for it. Left alone, the kernel
 * keeps a scan's pages dirty until the final fsync (a few hundred MB stay below its background
 * threshold), so the disk idles while tiles are computed and then the run waits for all of it
 * at the end: wall = compute + disk instead of about max(compute, disk). Ordering and crash
 * safety are untouched (a killed process loses no page either way; the final fsync still
 * decides durability). A failure here is not an error: the final fsync reports any. */
static void start_writeback(qtm_h5_writer *w) {
#if defined(__linux__) && defined(SYNC_FILE_RANGE_WRITE)
  if (w->fd == -2) {
    void *handle = NULL;
    hid_t fapl = H5Fget_access_plist(w->file);
    int sec2 = fapl >= 0 && H5Pget_driver(fapl) == H5FD_SEC2; /* the handle is an int fd */
    if (fapl >= 0) (void)H5Pclose(fapl);
    w->fd = sec2 && H5Fget_vfd_handle(w->file, H5P_DEFAULT, &handle) >= 0 && handle
                ? *(int *)handle
                : -1;
  }
  if (w->fd >= 0) (void)sync_file_range(w->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#else
  (void)w;
#endif
}

/* After a tile's values: they reach the file before the mark that says they are there, so that
 * after a kill a tile marked done is whole in every map, and one written but not marked is
 * computed again. */
static qtm_status mark_done(qtm_h5_writer *w, int64_t index, hid_t dxpl, char *err,
                            size_t errcap) {
  qtm_status rc = QTM_OK;
  hsize_t at = (hsize_t)index, one = 1;
  const unsigned char mark = 1;
  H5_CHECK(H5Fflush(w->file, H5F_SCOPE_GLOBAL), "H5Fflush", "tile %lld", (long long)index);
  if (index >= 0) {
    H5_CHECK(H5Sselect_hyperslab(w->done_space, H5S_SELECT_SET, &at, NULL, &one, NULL),
             "H5Sselect_hyperslab", "%s[%lld]", STATE_DONE, (long long)index);
    H5_CHECK(H5Sselect_all(w->one_space), "H5Sselect_all", "one done mark");
  } else { /* a parallel file's empty round: this rank takes part, marking nothing */
    H5_CHECK(H5Sselect_none(w->done_space), "H5Sselect_none", "%s", STATE_DONE);
    H5_CHECK(H5Sselect_none(w->one_space), "H5Sselect_none", "one done mark");
  }
  H5_CHECK(H5Dwrite(w->done, H5T_NATIVE_UCHAR, w->one_space, w->done_space, dxpl, &mark),
           "H5Dwrite", "%s[%lld]", STATE_DONE, (long long)index);
  H5_CHECK(H5Fflush(w->file, H5F_SCOPE_GLOBAL), "H5Fflush", "done mark of tile %lld",
           (long long)index);
  if (!w->parallel) {
    start_writeback(w);
    rc = trim_cache(w, err, errcap);
  }
cleanup:
  return rc;
}

/* Every map's part of a tile through H5Dwrite, msel in memory to fsel in the file, as parallel
 * files and grids without axes take them (serial files' tiles go through write_chunks): out's
 * observables and the dense maps, or (out NULL) nothing at all, a rank's part of a collective
 * round in which it has no tile (the selections then select nothing). */
static qtm_status write_selected(qtm_h5_writer *w, hid_t msel, hid_t fsel, hid_t dxpl,
                                 const qtm_tile_out *out, const void *const *dense,
                                 int64_t index, char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  const double nothing = 0.0;
  /* Memory type = file type (native little-endian IEEE): HDF5 copies without converting. */
  for (int j = 0; j < w->nmaps; ++j)
    H5_CHECK(H5Dwrite(w->maps[j].dset, w->maps[j].st.mem, msel, fsel, dxpl,
                      out ? tile_values(w, out, dense, j) : &nothing),
             "H5Dwrite", "map %s tile %lld", w->maps[j].name, (long long)index);
cleanup:
  return rc;
}

qtm_status qtm_h5_writer_write_raw_tile(qtm_h5_writer *w, const qtm_tile *tile,
                                        const qtm_h5_raw_chunk *raw, char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  qtm_h5_quiet q;
  if (!w || !tile || !raw)
    return qtm_h5w_bad_arg(err, errcap, "qtm_h5_writer_write_raw_tile: no writer");
  if (w->is_virtual || w->parallel || w->naxes == 0)
    return qtm_h5w_bad_arg(err, errcap, "tile %lld: raw chunks go only to a serial file with axes",
                           (long long)tile->index);
  if (tile->index < 0 || tile->index >= w->ntiles)
    return qtm_h5w_bad_arg(err, errcap, "tile %lld: index outside 0..%lld", (long long)tile->index,
                           (long long)w->ntiles - 1);
  hsize_t offset[QTM_MAX_AXES];
  qtm_h5w_tile_start(w, tile->index, offset); /* the tile's chunk, from its index alone */
  qtm_h5w_quiet_begin(w, &q);
  for (int j = 0; j < w->nmaps; ++j)
    H5_CHECK(H5Dwrite_chunk(w->maps[j].dset, H5P_DEFAULT, raw[j].filter_mask, offset, raw[j].size,
                            raw[j].data),
             "H5Dwrite_chunk", "map %s tile %lld", w->maps[j].name, (long long)tile->index);
  rc = mark_done(w, tile->index, H5P_DEFAULT, err, errcap);
cleanup:
  qtm_h5w_tell_system_error(w, 0, rc, err, errcap);
  qtm_h5_quiet_end(&q);
  return rc;
}

qtm_status qtm_h5_writer_write_tile(qtm_h5_writer *w, const qtm_tile *tile, const qtm_tile_out *out,
                                    const void *const *dense, char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t mspace = H5I_INVALID_HID;
  qtm_h5_quiet q;
  if (!w || !tile || !out)
    return qtm_h5w_bad_arg(err, errcap, "qtm_h5_writer_write_tile: no writer");
  if (w->is_virtual)
    return qtm_h5w_bad_arg(err, errcap, "tile %lld: a virtual file's tiles are its sources'",
                           (long long)tile->index);
  if ((rc = check_tile(w, tile, out, err, errcap)) != QTM_OK) return rc;
  for (int m = 0; m < w->ndense; ++m)
    if (!dense || !dense[m])
      return qtm_h5w_bad_arg(err, errcap, "tile %lld: no values of dense map %s",
                             (long long)tile->index, w->maps[w->nobs + m].name);
  hid_t fsel = H5S_ALL, msel = H5S_ALL, dxpl = H5P_DEFAULT;

  qtm_h5w_quiet_begin(w, &q);
  H5_CHECK(dxpl = collective_dxpl(w->parallel), "H5Pset_dxpl_mpio", "tile %lld",
           (long long)tile->index);
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
  /* A serial file's tiles go straight to their chunks; a parallel file's through collective
   * H5Dwrite (parallel HDF5 1.10 has no collective direct chunk write), and a grid without
   * axes has scalar, unchunked maps. */
  rc = !w->parallel && w->naxes > 0
           ? write_chunks(w, tile, out, dense, err, errcap)
           : write_selected(w, msel, fsel, dxpl, out, dense, tile->index, err, errcap);
  if (rc == QTM_OK) rc = mark_done(w, tile->index, dxpl, err, errcap);
cleanup:
  if (dxpl != H5P_DEFAULT)
    qtm_h5_close(&dxpl, H5Pclose, "H5Pclose", "transfer properties", &rc, err, errcap);
  qtm_h5_close(&mspace, H5Sclose, "H5Sclose", "tile memory dataspace", &rc, err, errcap);
  qtm_h5w_tell_system_error(w, 0, rc, err, errcap);
  qtm_h5_quiet_end(&q);
  return rc;
}

/* The same collective calls as write_tile, each with nothing selected. */
qtm_status qtm_h5_writer_skip_round(qtm_h5_writer *w, char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t fsel = H5I_INVALID_HID, msel = H5I_INVALID_HID, dxpl = H5P_DEFAULT;
  qtm_h5_quiet q;
  if (!w) return qtm_h5w_bad_arg(err, errcap, "qtm_h5_writer_skip_round: no writer");
  if (!w->parallel) return QTM_OK; /* nothing to take part in */
  qtm_h5w_quiet_begin(w, &q);
  H5_CHECK(dxpl = collective_dxpl(w->parallel), "H5Pset_dxpl_mpio", "an empty round");
  H5_CHECK(fsel = H5Scopy(w->fspace), "H5Scopy", "an empty round");
  H5_CHECK(msel = H5Scopy(w->fspace), "H5Scopy", "an empty round");
  H5_CHECK(H5Sselect_none(fsel), "H5Sselect_none", "an empty round");
  H5_CHECK(H5Sselect_none(msel), "H5Sselect_none", "an empty round");
  if ((rc = write_selected(w, msel, fsel, dxpl, NULL, NULL, -1, err, errcap)) == QTM_OK)
    rc = mark_done(w, -1, dxpl, err, errcap);
cleanup:
  if (dxpl != H5P_DEFAULT)
    qtm_h5_close(&dxpl, H5Pclose, "H5Pclose", "transfer properties", &rc, err, errcap);
  qtm_h5_close(&msel, H5Sclose, "H5Sclose", "an empty round", &rc, err, errcap);
  qtm_h5_close(&fsel, H5Sclose, "H5Sclose", "an empty round", &rc, err, errcap);
  qtm_h5w_tell_system_error(w, 0, rc, err, errcap);
  qtm_h5_quiet_end(&q);
  return rc;
}

/* ---- Closing ------------------------------------------------------------------------------- */

qtm_status qtm_h5_writer_finish(qtm_h5_writer *w, const char *end_time, double points_per_second,
                                char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  const int complete = 1;
  qtm_h5_quiet q;
  if (!w) return qtm_h5w_bad_arg(err, errcap, "qtm_h5_writer_finish: no writer");

  qtm_h5w_quiet_begin(w, &q);
  if ((rc = qtm_h5w_put_text_attr(w->file, "the root group", "end_time", end_time, err, errcap)) !=
          QTM_OK ||
      (rc = qtm_h5w_put_num_attr(w->file, "the root group", "points_per_second", H5T_IEEE_F64LE,
                                 H5T_NATIVE_DOUBLE, &points_per_second, err, errcap)) != QTM_OK)
    goto cleanup;
  /* The maps reach the disk before the marker that says they are all there. */
  H5_CHECK(H5Fflush(w->file, H5F_SCOPE_GLOBAL), "H5Fflush", "before the complete marker");
  if ((rc = qtm_h5w_put_num_attr(w->file, "the root group", "complete", H5T_STD_I32LE,
                                 H5T_NATIVE_INT, &complete, err, errcap)) != QTM_OK)
    goto cleanup;
  /* The marker too, while a failure can still be handled: a close that fails to write cannot
   * be (detach_failed_file). */
  H5_CHECK(H5Fflush(w->file, H5F_SCOPE_GLOBAL), "H5Fflush", "after the complete marker");
  for (int j = 0; j < w->nmaps; ++j)
    qtm_h5_close(&w->maps[j].dset, H5Dclose, "H5Dclose", w->maps[j].name, &rc, err, errcap);
  qtm_h5_close(&w->done, H5Dclose, "H5Dclose", STATE_DONE, &rc, err, errcap);
  qtm_h5_close(&w->done_space, H5Sclose, "H5Sclose", STATE_DONE, &rc, err, errcap);
  qtm_h5_close(&w->one_space, H5Sclose, "H5Sclose", "one done mark", &rc, err, errcap);
  qtm_h5_close(&w->fspace, H5Sclose, "H5Sclose", "maps' dataspace", &rc, err, errcap);
  /* The last write happens here: a full disk may show only now. */
  qtm_h5_close(&w->file, H5Fclose, "H5Fclose", "the scan file", &rc, err, errcap);
cleanup:
  qtm_h5w_tell_system_error(w, 0, rc, err, errcap);
  qtm_h5w_discard(w); /* closes whatever an error left open */
  qtm_h5_quiet_end(&q);
  return rc;
}

void qtm_h5_writer_abort(qtm_h5_writer *w) { qtm_h5w_discard(w); }
