/* Reading shard files for the merge: see h5_shard.h. Read-only throughout: a merge never
 * changes its inputs. */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include "h5_shard.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "h5_util.h"

#define STATE_DONE "qtmscan_state/tiles_done"
#define STATE_ANALYSIS "qtmscan_state/analysis"

void qtm_h5_shard_release(qtm_h5_shard *s) {
  if (!s || s->file < 0) return;
  H5E_BEGIN_TRY { H5Fclose(s->file); }
  H5E_END_TRY;
  s->file = H5I_INVALID_HID;
}

static int same_file(const struct stat *a, const struct stat *b) {
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
         a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

qtm_status qtm_h5_shard_reacquire(qtm_h5_shard *s, char *err, size_t errcap) {
  if (s->file >= 0) return QTM_OK;
  struct stat now;
  if (stat(s->path, &now) != 0)
    return qtm_h5_fail_msg(QTM_ERR_IO, err, errcap, "%s: %s (it was there when the merge began)",
                           s->path, strerror(errno));
  if (!same_file(&s->id, &now))
    return qtm_h5_fail_msg(QTM_ERR_IO, err, errcap,
                           "%s changed while the merge was reading it (replaced or written to); "
                           "merge again once no job writes it",
                           s->path);
  qtm_h5_quiet q;
  qtm_h5_quiet_begin(&q);
  s->file = H5Fopen(s->path, H5F_ACC_RDONLY, H5P_DEFAULT);
  qtm_h5_quiet_end(&q);
  if (s->file < 0)
    return qtm_h5_fail_msg(QTM_ERR_IO, err, errcap, "%s: cannot open it again (H5Fopen failed)",
                           s->path);
  return QTM_OK;
}

void qtm_h5_shard_close(qtm_h5_shard *s) {
  if (!s) return;
  qtm_h5_shard_release(s);
  free(s->path);
  free(s->config_text);
  free(s->config_path);
  free(s->fingerprint);
  free(s->backend);
  free(s->device);
  free(s->done);
  free(s);
}

/* A root attribute that a finished shard must have. */
static qtm_status need_int(qtm_h5_shard *s, const char *name, int64_t *v, const char *missing,
                           char *err, size_t errcap) {
  int exists = 0;
  qtm_status rc = qtm_h5_get_int64_attr(s->file, s->path, name, v, &exists, err, errcap);
  if (rc == QTM_OK && !exists)
    rc = qtm_h5_fail_msg(QTM_ERR_IO, err, errcap, "%s: %s", s->path, missing);
  return rc;
}

static qtm_status read_marks(qtm_h5_shard *s, char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t dset = H5I_INVALID_HID, space = H5I_INVALID_HID;
  H5_CHECK(dset = H5Dopen2(s->file, STATE_DONE, H5P_DEFAULT), "H5Dopen2", "%s of %s",
           STATE_DONE, s->path);
  H5_CHECK(space = H5Dget_space(dset), "H5Dget_space", "%s of %s", STATE_DONE, s->path);
  hssize_t n = H5Sget_simple_extent_npoints(space);
  H5_CHECK(n, "H5Sget_simple_extent_npoints", "%s of %s", STATE_DONE, s->path);
  if (H5Sget_simple_extent_ndims(space) != 1 || n < 1) {
    rc = qtm_h5_fail_msg(QTM_ERR_IO, err, errcap, "%s: %s is not a list of tile marks", s->path,
                         STATE_DONE);
    goto cleanup;
  }
  s->ntiles = (int64_t)n;
  if (!(s->done = malloc((size_t)n))) {
    rc = qtm_h5_fail_msg(QTM_ERR_NOMEM, err, errcap, "out of memory for the marks of %s",
                         s->path);
    goto cleanup;
  }
  H5_CHECK(H5Dread(dset, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, s->done), "H5Dread",
           "%s of %s", STATE_DONE, s->path);
  for (int64_t k = 0; k < s->ntiles; ++k) {
    int inside = k >= s->first_tile && k < s->end_tile;
    if (s->done[k] != inside) { /* a finished shard holds exactly its slab */
      rc = qtm_h5_fail_msg(QTM_ERR_IO, err, errcap,
                           "%s: tile %lld is marked %u, but shard %lld of %lld holds tiles "
                           "%lld..%lld only, all of them (the file is damaged)",
                           s->path, (long long)k, (unsigned)s->done[k], (long long)s->index,
                           (long long)s->count, (long long)s->first_tile,
                           (long long)s->end_tile - 1);
      goto cleanup;
    }
  }
cleanup:
  qtm_h5_close(&space, H5Sclose, "H5Sclose", STATE_DONE, &rc, err, errcap);
  qtm_h5_close(&dset, H5Dclose, "H5Dclose", STATE_DONE, &rc, err, errcap);
  return rc;
}

static qtm_status read_attrs(qtm_h5_shard *s, char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  char *version = NULL;
  if ((rc = qtm_h5_get_text_attr(s->file, s->path, "qtmscan_version", &version, err, errcap)) !=
      QTM_OK)
    goto cleanup;
  if (!version) {
    rc = qtm_h5_fail_msg(QTM_ERR_IO, err, errcap,
                         "%s: not a qtmscan file (no qtmscan_version attribute)", s->path);
    goto cleanup;
  }
  int64_t unused;
  if ((rc = need_int(s, "shard_count", &s->count,
                     "not a shard (no shard_count attribute): a whole scan, or not written by "
                     "qtmscan run --shard",
                     err, errcap)) != QTM_OK ||
      (rc = need_int(s, "shard_index", &s->index, "no shard_index attribute (damaged)", err,
                     errcap)) != QTM_OK ||
      (rc = need_int(s, "shard_first_tile", &s->first_tile,
                     "no shard_first_tile attribute (damaged)", err, errcap)) != QTM_OK ||
      (rc = need_int(s, "shard_end_tile", &s->end_tile, "no shard_end_tile attribute (damaged)",
                     err, errcap)) != QTM_OK ||
      (rc = need_int(s, "complete", &unused,
                     "an unfinished shard (no `complete` mark): finish it with qtmscan run "
                     "CONFIG --shard K/N --resume",
                     err, errcap)) != QTM_OK)
    goto cleanup;
  if (s->count < 1 || s->index < 0 || s->index >= s->count || s->first_tile < 0 ||
      s->end_tile < s->first_tile) {
    rc = qtm_h5_fail_msg(QTM_ERR_IO, err, errcap,
                         "%s: shard %lld of %lld with tiles %lld..%lld is not a shard (damaged)",
                         s->path, (long long)s->index, (long long)s->count,
                         (long long)s->first_tile, (long long)s->end_tile - 1);
    goto cleanup;
  }
  const struct {
    const char *name;
    char **to;
  } texts[] = {{"config", &s->config_text},     {"config_path", &s->config_path},
               {"config_fingerprint", &s->fingerprint}, {"backend", &s->backend},
               {"device", &s->device}};
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; ++i)
    if ((rc = qtm_h5_get_text_attr(s->file, s->path, texts[i].name, texts[i].to, err, errcap)) !=
        QTM_OK)
      goto cleanup;
  if (!s->config_text || !s->fingerprint) {
    rc = qtm_h5_fail_msg(QTM_ERR_IO, err, errcap, "%s: no config or config_fingerprint "
                         "attribute (damaged)", s->path);
    goto cleanup;
  }
  s->points_per_second = 0.0;
  hid_t attr = H5I_INVALID_HID;
  htri_t has_rate = H5Aexists(s->file, "points_per_second");
  H5_CHECK(has_rate, "H5Aexists", "points_per_second of %s", s->path);
  if (has_rate) {
    H5_CHECK(attr = H5Aopen(s->file, "points_per_second", H5P_DEFAULT), "H5Aopen",
             "points_per_second of %s", s->path);
    herr_t r = H5Aread(attr, H5T_NATIVE_DOUBLE, &s->points_per_second);
    if (r < 0) rc = qtm_h5_fail(err, errcap, "H5Aread", "points_per_second of %s", s->path);
    qtm_h5_close(&attr, H5Aclose, "H5Aclose", "points_per_second", &rc, err, errcap);
  }
cleanup:
  free(version);
  return rc;
}

qtm_status qtm_h5_shard_open(const char *path, qtm_h5_shard **out, char *err, size_t errcap) {
  (void)H5dont_atexit(); /* as the writer: see no_shutdown_at_exit there */
  qtm_status rc = QTM_OK;
  qtm_h5_quiet q;
  *out = NULL;
  struct stat sb;
  if (stat(path, &sb) != 0)
    return qtm_h5_fail_msg(QTM_ERR_IO, err, errcap, "%s: %s", path, strerror(errno));
  if (S_ISDIR(sb.st_mode))
    return qtm_h5_fail_msg(QTM_ERR_IO, err, errcap, "%s is a directory, not a shard file", path);
  FILE *probe = fopen(path, "rb");
  if (!probe) return qtm_h5_fail_msg(QTM_ERR_IO, err, errcap, "%s: %s", path, strerror(errno));
  fclose(probe);
  qtm_h5_shard *s = calloc(1, sizeof *s);
  if (!s || !(s->path = strdup(path))) {
    free(s);
    return qtm_h5_fail_msg(QTM_ERR_NOMEM, err, errcap, "out of memory opening %s", path);
  }
  s->file = H5I_INVALID_HID;
  s->id = sb;
  qtm_h5_quiet_begin(&q);
  htri_t is_hdf5 = H5Fis_hdf5(path);
  if (is_hdf5 <= 0) {
    rc = qtm_h5_fail_msg(QTM_ERR_IO, err, errcap, "%s: not an HDF5 file", path);
    goto cleanup;
  }
  /* A truncated file fails here, with HDF5's message ("truncated file: eof = ..."). */
  H5_CHECK(s->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), "H5Fopen", "%s", path);
  if ((rc = read_attrs(s, err, errcap)) != QTM_OK) goto cleanup;
  rc = read_marks(s, err, errcap);
cleanup:
  qtm_h5_quiet_end(&q);
  if (rc != QTM_OK) qtm_h5_shard_close(s);
  else *out = s;
  return rc;
}

qtm_status qtm_h5_shard_read_tile(const qtm_h5_shard *s, const char *name, const qtm_tile *t,
                                  int naxes, qtm_dtype dtype, void *buf, char *err,
                                  size_t errcap) {
  return qtm_h5_read_tile(s->file, s->path, name, t, naxes, dtype, buf, err, errcap);
}

qtm_status qtm_h5_shard_read_chunk(const qtm_h5_shard *s, const char *name, const qtm_tile *t,
                                   int naxes, void **data, size_t *size, uint32_t *filter_mask,
                                   char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t dset = H5I_INVALID_HID;
  hsize_t offset[QTM_MAX_AXES], nbytes = 0;
  qtm_h5_quiet q;
  *data = NULL;
  for (int k = 0; k < naxes; ++k) offset[k] = (hsize_t)t->start[k];
  qtm_h5_quiet_begin(&q);
  H5_CHECK(dset = H5Dopen2(s->file, name, H5P_DEFAULT), "H5Dopen2", "map %s of %s", name,
           s->path);
  H5_CHECK(qtm_h5_chunk_storage_size(dset, offset, &nbytes), "H5Dget_chunk_storage_size",
           "tile %lld of map %s of %s", (long long)t->index, name, s->path);
  if (nbytes == 0) {
    rc = qtm_h5_fail_msg(QTM_ERR_IO, err, errcap, "%s: map %s has no chunk for tile %lld, which "
                         "the shard marks done (damaged)", s->path, name, (long long)t->index);
    goto cleanup;
  }
  if (!(*data = malloc((size_t)nbytes))) {
    rc = qtm_h5_fail_msg(QTM_ERR_NOMEM, err, errcap, "out of memory reading %s", s->path);
    goto cleanup;
  }
  H5_CHECK(H5Dread_chunk(dset, H5P_DEFAULT, offset, filter_mask, *data), "H5Dread_chunk",
           "tile %lld of map %s of %s", (long long)t->index, name, s->path);
  *size = (size_t)nbytes;
cleanup:
  if (rc != QTM_OK) {
    free(*data);
    *data = NULL;
  }
  qtm_h5_close(&dset, H5Dclose, "H5Dclose", name, &rc, err, errcap);
  qtm_h5_quiet_end(&q);
  return rc;
}

typedef struct state_walk {
  const qtm_h5_shard *s;
  qtm_state_array *arrays;
  int cap, n;
  qtm_status rc;
  char *err;
  size_t errcap;
} state_walk;

static herr_t read_state_cb(hid_t group, const char *name, const H5L_info_t *info, void *data) {
  (void)info;
  state_walk *w = data;
  qtm_status rc = QTM_OK;
  char *err = w->err;
  size_t errcap = w->errcap;
  hid_t dset = H5I_INVALID_HID, space = H5I_INVALID_HID, type = H5I_INVALID_HID;
  if (w->n == w->cap || strlen(name) >= sizeof w->arrays[0].name) {
    rc = qtm_h5_fail_msg(QTM_ERR_IO, err, errcap, "%s: unexpected analysis state %s (damaged?)",
                         w->s->path, name);
    goto cleanup;
  }
  qtm_state_array *a = &w->arrays[w->n];
  H5_CHECK(dset = H5Dopen2(group, name, H5P_DEFAULT), "H5Dopen2", "%s/%s of %s",
           STATE_ANALYSIS, name, w->s->path);
  H5_CHECK(space = H5Dget_space(dset), "H5Dget_space", "%s/%s", STATE_ANALYSIS, name);
  H5_CHECK(type = H5Dget_type(dset), "H5Dget_type", "%s/%s", STATE_ANALYSIS, name);
  hssize_t n = H5Sget_simple_extent_npoints(space);
  H5_CHECK(n, "H5Sget_simple_extent_npoints", "%s/%s", STATE_ANALYSIS, name);
  H5T_class_t cls = H5Tget_class(type);
  if (H5Sget_simple_extent_ndims(space) != 1 || (cls != H5T_INTEGER && cls != H5T_FLOAT)) {
    rc = qtm_h5_fail_msg(QTM_ERR_IO, err, errcap, "%s: %s/%s is not a list of numbers",
                         w->s->path, STATE_ANALYSIS, name);
    goto cleanup;
  }
  memset(a, 0, sizeof *a);
  (void)snprintf(a->name, sizeof a->name, "%s", name);
  a->is_int = cls == H5T_INTEGER;
  a->n = (int64_t)n;
  if (!(a->data = malloc(n > 0 ? (size_t)n * 8 : 8))) {
    rc = qtm_h5_fail_msg(QTM_ERR_NOMEM, err, errcap, "out of memory reading %s", name);
    goto cleanup;
  }
  w->n++; /* the caller frees it from here on */
  if (n > 0)
    H5_CHECK(H5Dread(dset, a->is_int ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL,
                     H5P_DEFAULT, a->data),
             "H5Dread", "%s/%s of %s", STATE_ANALYSIS, name, w->s->path);
cleanup:
  qtm_h5_close(&type, H5Tclose, "H5Tclose", name, &rc, err, errcap);
  qtm_h5_close(&space, H5Sclose, "H5Sclose", name, &rc, err, errcap);
  qtm_h5_close(&dset, H5Dclose, "H5Dclose", name, &rc, err, errcap);
  w->rc = rc;
  return rc == QTM_OK ? 0 : -1;
}

qtm_status qtm_h5_shard_read_state(const qtm_h5_shard *s, qtm_state_array *arrays, int cap,
                                   int *n, char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t group = H5I_INVALID_HID;
  qtm_h5_quiet q;
  state_walk w = {s, arrays, cap, 0, QTM_OK, err, errcap};
  *n = 0;
  qtm_h5_quiet_begin(&q);
  htri_t exists = H5Lexists(s->file, "qtmscan_state", H5P_DEFAULT);
  if (exists > 0) exists = H5Lexists(s->file, STATE_ANALYSIS, H5P_DEFAULT);
  H5_CHECK(exists, "H5Lexists", "%s of %s", STATE_ANALYSIS, s->path);
  if (!exists) {
    rc = qtm_h5_fail_msg(QTM_ERR_IO, err, errcap, "%s has no analysis state (%s)", s->path,
                         STATE_ANALYSIS);
    goto cleanup;
  }
  H5_CHECK(group = H5Gopen2(s->file, STATE_ANALYSIS, H5P_DEFAULT), "H5Gopen2", "%s of %s",
           STATE_ANALYSIS, s->path);
  herr_t it = H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, NULL, read_state_cb, &w);
  *n = w.n;
  if (w.rc != QTM_OK) rc = w.rc;
  else H5_CHECK(it, "H5Literate", "%s of %s", STATE_ANALYSIS, s->path);
cleanup:
  qtm_h5_close(&group, H5Gclose, "H5Gclose", STATE_ANALYSIS, &rc, err, errcap);
  qtm_h5_quiet_end(&q);
  return rc;
}
