/* Opening an interrupted scan's file to go on writing it (qtm_h5_writer_resume): the file
 * is checked against the layout it must have (axes, maps, shapes, types, chunks, the config's
 * fingerprint), tiles marked done whose chunks a map lacks are unmarked, and outputs of the
 * analysis that the interrupted run wrote are removed, so that the writer then works as after
 * create. */
#define _POSIX_C_SOURCE 200809L /* strdup */

#include <errno.h>
#include <hdf5.h>
#include <hdf5_hl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fail.h"
#include "h5_writer_impl.h"
#include "qtm/grid.h"

/* ---- Resuming ------------------------------------------------------------------------------ */

/* "7x5x9" (or "scalar") into buf. */
static const char *shape_text(int rank, const hsize_t *dims, char *buf, size_t cap) {
  size_t len = 0;
  buf[0] = '\0';
  if (rank == 0) (void)snprintf(buf, cap, "scalar");
  for (int d = 0; d < rank && len < cap; ++d)
    len += (size_t)snprintf(buf + len, cap - len, "%s%llu", d ? "x" : "",
                            (unsigned long long)dims[d]);
  return buf;
}

/* Whether each group on the way to path, and path itself, exists (H5Lexists fails, rather than
 * saying no, below a missing group). */
static qtm_status path_exists(hid_t file, const char *path, int *exists, char *err,
                              size_t errcap) {
  qtm_status rc = QTM_OK;
  char prefix[PATH_CAP];
  size_t len = strlen(path);
  *exists = 0;
  if (len >= sizeof prefix)
    return qtm_h5w_bad_arg(err, errcap, "HDF5 path too long: %.64s...", path);
  memcpy(prefix, path, len + 1);
  for (char *slash = prefix;; ++slash) {
    slash = strchr(slash + (slash == prefix), '/');
    if (slash) *slash = '\0';
    htri_t here = H5Lexists(file, prefix, H5P_DEFAULT);
    H5_CHECK(here, "H5Lexists", "%s", prefix);
    if (!here) return QTM_OK;
    if (!slash) break;
    *slash = '/';
  }
  *exists = 1;
cleanup:
  return rc;
}

/* Opens the dataset at path (what names it in messages) and checks it against the layout:
 * rank and dims (rank 0: a scalar), file type ftype, and when chunk is not NULL the chunk
 * shape and the filters of gzip level gzip. A missing dataset is damage (QTM_ERR_IO), another
 * shape, type or storage another layout (QTM_ERR_INVALID_ARG). Returns it open in *out. */
static qtm_status open_checked(hid_t file, const char *fname, const char *path, const char *what,
                               int rank, const hsize_t *dims, hid_t ftype, const hsize_t *chunk,
                               int gzip, hid_t *out, char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t dset = H5I_INVALID_HID, space = H5I_INVALID_HID, type = H5I_INVALID_HID;
  hid_t dcpl = H5I_INVALID_HID;
  hsize_t got[QTM_MAX_AXES];
  char want_text[256], got_text[256];
  int exists = 0;
  if ((rc = path_exists(file, path, &exists, err, errcap)) != QTM_OK) goto cleanup;
  if (!exists) {
    rc = qtm_h5_fail_msg(QTM_ERR_IO, err, errcap, "%s: no %s (the file is damaged or not a "
                         "qtmscan partial file)", fname, what);
    goto cleanup;
  }
  H5_CHECK(dset = H5Dopen2(file, path, H5P_DEFAULT), "H5Dopen2", "%s of %s", what, fname);
  H5_CHECK(space = H5Dget_space(dset), "H5Dget_space", "%s of %s", what, fname);
  H5_CHECK(type = H5Dget_type(dset), "H5Dget_type", "%s of %s", what, fname);
  H5_CHECK(dcpl = H5Dget_create_plist(dset), "H5Dget_create_plist", "%s of %s", what, fname);
  int got_rank = H5Sget_simple_extent_ndims(space);
  H5_CHECK(got_rank, "H5Sget_simple_extent_ndims", "%s of %s", what, fname);
  if (got_rank <= QTM_MAX_AXES)
    H5_CHECK(H5Sget_simple_extent_dims(space, got, NULL), "H5Sget_simple_extent_dims",
             "%s of %s", what, fname);
  int same = got_rank == rank;
  for (int d = 0; same && d < rank; ++d) same = got[d] == dims[d];
  if (!same) {
    rc = qtm_h5w_bad_arg(err, errcap, "%s: %s has shape %s, this config's is %s", fname, what,
                         got_rank <= QTM_MAX_AXES
                             ? shape_text(got_rank, got, got_text, sizeof got_text)
                             : "of more dimensions",
                         shape_text(rank, dims, want_text, sizeof want_text));
    goto cleanup;
  }
  htri_t equal = H5Tequal(type, ftype);
  H5_CHECK(equal, "H5Tequal", "%s of %s", what, fname);
  if (!equal) {
    rc = qtm_h5w_bad_arg(err, errcap, "%s: %s has another element type than this config's", fname,
                         what);
    goto cleanup;
  }
  if (chunk && rank > 0) {
    H5D_layout_t layout = H5Pget_layout(dcpl);
    H5_CHECK(layout, "H5Pget_layout", "%s of %s", what, fname);
    int crank = layout == H5D_CHUNKED ? H5Pget_chunk(dcpl, QTM_MAX_AXES, got) : 0;
    H5_CHECK(crank, "H5Pget_chunk", "%s of %s", what, fname);
    same = crank == rank;
    for (int d = 0; same && d < rank; ++d) same = got[d] == chunk[d];
    if (!same) {
      rc = qtm_h5w_bad_arg(err, errcap, "%s: %s is stored in chunks %s, this config's tiles are %s",
                           fname, what,
                           crank > 0 ? shape_text(crank, got, got_text, sizeof got_text) : "(none)",
                           shape_text(rank, chunk, want_text, sizeof want_text));
      goto cleanup;
    }
    int nfilters = H5Pget_nfilters(dcpl);
    H5_CHECK(nfilters, "H5Pget_nfilters", "%s of %s", what, fname);
    unsigned flags = 0, level = 0;
    size_t nvalues = 1;
    H5Z_filter_t last = H5Z_FILTER_NONE;
    if (nfilters > 0)
      H5_CHECK(last = H5Pget_filter2(dcpl, (unsigned)nfilters - 1, &flags, &nvalues, &level, 0,
                                     NULL, NULL),
               "H5Pget_filter2", "%s of %s", what, fname);
    if (gzip > 0 ? nfilters != 2 || last != H5Z_FILTER_DEFLATE || nvalues < 1 ||
                       level != (unsigned)gzip
                 : nfilters != 0) {
      rc = qtm_h5w_bad_arg(err, errcap,
                           "%s: %s is compressed otherwise than this config's "
                           "compression (gzip level %d)",
                           fname, what, gzip);
      goto cleanup;
    }
  }
  *out = dset;
  dset = H5I_INVALID_HID;
cleanup:
  qtm_h5_close(&dcpl, H5Pclose, "H5Pclose", what, &rc, err, errcap);
  qtm_h5_close(&type, H5Tclose, "H5Tclose", what, &rc, err, errcap);
  qtm_h5_close(&space, H5Sclose, "H5Sclose", what, &rc, err, errcap);
  qtm_h5_close(&dset, H5Dclose, "H5Dclose", what, &rc, err, errcap);
  return rc;
}

/* Axis k's coordinate dataset: the grid's size and values, bit for bit (the fingerprint
 * covers them; this check costs little and catches a file the fingerprint cannot tell). */
static qtm_status check_coordinate(hid_t file, const char *fname, const qtm_grid *g, int k,
                                   char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t dset = H5I_INVALID_HID;
  const char *name = qtm_axis_name(g->desc.axis_id[k]);
  hsize_t n = (hsize_t)g->desc.shape[k];
  double *v = NULL;
  char what[96];
  (void)snprintf(what, sizeof what, "coordinate %s", name);
  if ((rc = open_checked(file, fname, name, what, 1, &n, H5T_IEEE_F64LE, NULL, 0, &dset, err,
                         errcap)) != QTM_OK)
    goto cleanup;
  if (!(v = malloc((size_t)n * sizeof *v))) {
    rc = qtm_h5_fail_msg(QTM_ERR_NOMEM, err, errcap, "out of memory reading %s", what);
    goto cleanup;
  }
  H5_CHECK(H5Dread(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), "H5Dread",
           "%s of %s", what, fname);
  const double *want = g->values + g->desc.offset[k];
  for (hsize_t i = 0; i < n; ++i)
    if (memcmp(&v[i], &want[i], sizeof v[i]) != 0) {
      rc = qtm_h5w_bad_arg(err, errcap, "%s: %s[%llu] is %.17g, this config's %.17g", fname, what,
                           (unsigned long long)i, v[i], want[i]);
      goto cleanup;
    }
cleanup:
  free(v);
  qtm_h5_close(&dset, H5Dclose, "H5Dclose", what, &rc, err, errcap);
  return rc;
}

/* A kill during a flush can leave the file with part of that flush's metadata (HDF5 writes
 * it in address order, with no journal): a chunk index leaf updated and its parent not, so
 * that the index no longer finds a chunk it holds; a node naming a sibling that was never
 * written. What such a kill can break is a mark's premise, not the mark (a tile is marked
 * only after the flush of its values ended): so every tile's chunk is looked up in every map
 * the way a read looks it up (H5Dget_chunk_storage_size; H5Dget_chunk_info_by_coord walks
 * every chunk, and finds what a read does not), an index that cannot be walked is damage (the
 * file is refused), and a tile marked done whose chunk a map does not find is unmarked, to be
 * computed again. The chunks an index does find are whole: HDF5 writes a chunk before the
 * metadata that names it, and never moves a chunk written once. */
static qtm_status verify_chunks(qtm_h5_writer *w, const char *fname, unsigned char *done,
                                char *err, size_t errcap) {
  if (w->naxes == 0) return QTM_OK; /* scalar maps: contiguous, no chunk index */
  for (int m = 0; m < w->nmaps; ++m) {
    hid_t dset = w->maps[m].dset;
    const char *name = w->maps[m].name;
    for (int64_t k = 0; k < w->ntiles; ++k) {
      hsize_t start[QTM_MAX_AXES], size = 0;
      qtm_h5w_tile_start(w, k, start);
      if (qtm_h5_chunk_storage_size(dset, start, &size) < 0) {
        char hdf5[256];
        (void)qtm_h5_fail(hdf5, sizeof hdf5, "H5Dget_chunk_storage_size", "tile %lld",
                          (long long)k);
        return qtm_h5_fail_msg(QTM_ERR_IO, err, errcap, "%s: the chunk index of map %s is "
                               "damaged (the run was killed in the middle of a flush): the file "
                               "cannot be resumed; start the scan over (%s)", fname, name, hdf5);
      }
      if (size == 0) done[k] = 0;
    }
  }
  return QTM_OK;
}

/* What a path of the file is to the layout: one of its objects (kept), a group on the way to
 * one of its dense maps (looked into), or neither: an output of put_reduced or put_table that
 * an interrupted run wrote (removed, so that put_* work as after create). */
typedef enum { PATH_OTHER, PATH_PARENT, PATH_OURS } path_role;

static const char *relative(const char *path) {
  while (*path == '/') ++path;
  return path;
}

static path_role role_of(const qtm_h5_writer *w, const char *path) {
  if (strcmp(path, STATE_GROUP) == 0) return PATH_OURS;
  for (int k = 0; k < w->naxes; ++k)
    if (strcmp(path, qtm_axis_name(w->axis_id[k])) == 0) return PATH_OURS;
  for (int j = 0; j < w->nobs; ++j)
    if (strcmp(path, qtm_obs_table[w->obs[j]].name) == 0) return PATH_OURS;
  path_role role = PATH_OTHER;
  size_t len = strlen(path);
  for (int m = 0; m < w->ndense; ++m) {
    const char *d = relative(w->maps[w->nobs + m].name);
    if (strcmp(d, path) == 0) return PATH_OURS;
    if (strncmp(d, path, len) == 0 && d[len] == '/') role = PATH_PARENT;
  }
  return role;
}

typedef struct link_names {
  char **names;
  size_t n;
} link_names;

static void link_names_free(link_names *l) {
  for (size_t i = 0; i < l->n; ++i) free(l->names[i]);
  free(l->names);
  l->names = NULL;
  l->n = 0;
}

/* The names of group's links (group "" is the root). */
static qtm_status list_links(hid_t file, const char *group, link_names *l, char *err,
                             size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t g = H5I_INVALID_HID;
  H5G_info_t info;
  const char *where = group[0] ? group : "/";
  l->names = NULL;
  l->n = 0;
  H5_CHECK(g = H5Gopen2(file, where, H5P_DEFAULT), "H5Gopen2", "group %s", where);
  H5_CHECK(H5Gget_info(g, &info), "H5Gget_info", "group %s", where);
  if (!(l->names = calloc(info.nlinks ? (size_t)info.nlinks : 1, sizeof *l->names))) goto nomem;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    ssize_t len = H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, NULL, 0, H5P_DEFAULT);
    H5_CHECK(len, "H5Lget_name_by_idx", "link %llu of group %s", (unsigned long long)i, where);
    if (!(l->names[l->n] = malloc((size_t)len + 1))) goto nomem;
    ++l->n;
    H5_CHECK(H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, l->names[l->n - 1],
                                (size_t)len + 1, H5P_DEFAULT),
             "H5Lget_name_by_idx", "link %llu of group %s", (unsigned long long)i, where);
  }
  goto cleanup;
nomem:
  rc = qtm_h5_fail_msg(QTM_ERR_NOMEM, err, errcap, "out of memory listing group %s", where);
cleanup:
  if (rc != QTM_OK) link_names_free(l);
  qtm_h5_close(&g, H5Gclose, "H5Gclose", where, &rc, err, errcap);
  return rc;
}

/* The path of the first scale attached to a dimension, for detach_all. */
static herr_t first_scale_cb(hid_t dset, unsigned dim, hid_t scale, void *data) {
  (void)dset;
  (void)dim;
  ssize_t len = H5Iget_name(scale, data, PATH_CAP);
  return len > 0 && len < PATH_CAP ? 1 : -1;
}

/* Detaches every dimension scale from dataset path before it is removed: the scales' back
 * references (REFERENCE_LIST) would otherwise name a deleted object. */
static qtm_status detach_all(hid_t file, const char *path, char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t dset = H5I_INVALID_HID, space = H5I_INVALID_HID, scale = H5I_INVALID_HID;
  char scale_path[PATH_CAP] = "";
  H5_CHECK(dset = H5Dopen2(file, path, H5P_DEFAULT), "H5Dopen2", "%s", path);
  H5_CHECK(space = H5Dget_space(dset), "H5Dget_space", "%s", path);
  int rank = H5Sget_simple_extent_ndims(space);
  H5_CHECK(rank, "H5Sget_simple_extent_ndims", "%s", path);
  for (unsigned d = 0; d < (unsigned)rank; ++d) {
    for (;;) {
      int nscales = H5DSget_num_scales(dset, d);
      H5_CHECK(nscales, "H5DSget_num_scales", "%s dimension %u", path, d);
      if (nscales == 0) break;
      H5_CHECK(H5DSiterate_scales(dset, d, NULL, first_scale_cb, scale_path),
               "H5DSiterate_scales", "%s dimension %u", path, d);
      H5_CHECK(scale = H5Dopen2(file, scale_path, H5P_DEFAULT), "H5Dopen2", "scale %s",
               scale_path);
      H5_CHECK(H5DSdetach_scale(dset, scale, d), "H5DSdetach_scale", "%s from %s", scale_path,
               path);
      qtm_h5_close(&scale, H5Dclose, "H5Dclose", scale_path, &rc, err, errcap);
      if (rc != QTM_OK) goto cleanup;
    }
  }
cleanup:
  qtm_h5_close(&scale, H5Dclose, "H5Dclose", scale_path, &rc, err, errcap);
  qtm_h5_close(&space, H5Sclose, "H5Sclose", path, &rc, err, errcap);
  qtm_h5_close(&dset, H5Dclose, "H5Dclose", path, &rc, err, errcap);
  return rc;
}

/* Removes from group (and from the groups on the way to dense maps below it) every link that
 * is not the layout's; with all set, every link. In two passes over the tree: detach (every
 * dimension scale from the datasets to be removed, so that no scale keeps a back reference to
 * a deleted object), then delete. */
typedef enum { PRUNE_DETACH, PRUNE_DELETE } prune_pass;

static qtm_status prune(qtm_h5_writer *w, const char *group, int all, prune_pass pass, char *err,
                        size_t errcap) {
  qtm_status rc = QTM_OK;
  link_names l = {NULL, 0};
  char *path = NULL;
  if ((rc = list_links(w->file, group, &l, err, errcap)) != QTM_OK) return rc;
  for (size_t i = 0; i < l.n; ++i) {
    free(path);
    size_t len = strlen(group) + strlen(l.names[i]) + 2;
    if (!(path = malloc(len))) {
      rc = qtm_h5_fail_msg(QTM_ERR_NOMEM, err, errcap, "out of memory pruning %s", group);
      goto cleanup;
    }
    (void)snprintf(path, len, "%s%s%s", group, group[0] ? "/" : "", l.names[i]);
    path_role role = all ? PATH_OTHER : role_of(w, path);
    if (role == PATH_OURS) continue;
    if (pass == PRUNE_DELETE && role == PATH_OTHER) {
      H5_CHECK(H5Ldelete(w->file, path, H5P_DEFAULT), "H5Ldelete", "%s", path);
      continue;
    }
    H5O_info_t info;
#if H5_VERSION_GE(1, 12, 0)
    H5_CHECK(H5Oget_info_by_name3(w->file, path, &info, H5O_INFO_BASIC, H5P_DEFAULT),
             "H5Oget_info_by_name", "%s", path);
#else
    H5_CHECK(H5Oget_info_by_name2(w->file, path, &info, H5O_INFO_BASIC, H5P_DEFAULT),
             "H5Oget_info_by_name", "%s", path);
#endif
    if (role == PATH_PARENT && info.type != H5O_TYPE_GROUP) {
      rc = qtm_h5_fail_msg(QTM_ERR_IO, err, errcap, "%s is not a group (the file is damaged)",
                           path);
      goto cleanup;
    }
    if (info.type == H5O_TYPE_GROUP)
      rc = prune(w, path, role == PATH_OTHER, pass, err, errcap);
    else if (info.type == H5O_TYPE_DATASET)
      rc = detach_all(w->file, path, err, errcap);
    if (rc != QTM_OK) goto cleanup;
  }
cleanup:
  free(path);
  link_names_free(&l);
  return rc;
}

/* The provenance of the resuming run replaces the interrupted one's (start_time and the config
 * stay those of the scan's start); `resumed` counts the resumptions; end_time and
 * points_per_second, written by a finish that did not complete, go (finish writes them anew). */
static qtm_status put_resume_attrs(hid_t file, const qtm_h5_provenance *p, char *err,
                                   size_t errcap) {
  static const char root[] = "the root group";
  qtm_status rc = QTM_OK;
  const struct {
    const char *name, *text;
  } attrs[] = {
      {"command_line", p->command_line},
      {"backend", p->backend},
      {"device", p->device},
  };
  for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; ++i)
    if ((rc = qtm_h5_delete_attr(file, root, attrs[i].name, err, errcap)) != QTM_OK ||
        (rc = qtm_h5w_put_text_attr(file, root, attrs[i].name, attrs[i].text, err, errcap)) !=
            QTM_OK)
      return rc;
  int resumed = 0;
  htri_t exists = H5Aexists(file, "resumed");
  H5_CHECK(exists, "H5Aexists", "attribute resumed of %s", root);
  if (exists) {
    hid_t attr = H5I_INVALID_HID;
    H5_CHECK(attr = H5Aopen(file, "resumed", H5P_DEFAULT), "H5Aopen", "attribute resumed");
    herr_t read = H5Aread(attr, H5T_NATIVE_INT, &resumed);
    if (read < 0) rc = qtm_h5_fail(err, errcap, "H5Aread", "attribute resumed");
    qtm_h5_close(&attr, H5Aclose, "H5Aclose", "resumed", &rc, err, errcap);
    if (rc != QTM_OK) goto cleanup;
  }
  ++resumed;
  if ((rc = qtm_h5_delete_attr(file, root, "resumed", err, errcap)) != QTM_OK ||
      (rc = qtm_h5w_put_num_attr(file, root, "resumed", H5T_STD_I32LE, H5T_NATIVE_INT, &resumed,
                                 err, errcap)) != QTM_OK ||
      (rc = qtm_h5_delete_attr(file, root, "end_time", err, errcap)) != QTM_OK ||
      (rc = qtm_h5_delete_attr(file, root, "points_per_second", err, errcap)) != QTM_OK)
    goto cleanup;
cleanup:
  return rc;
}

/* A partial file continues only the same part of the scan: the same shard, or the whole. */
static qtm_status check_shard(hid_t file, const char *path, const qtm_h5_provenance *prov,
                              char *err, size_t errcap) {
  int64_t index = -1, count = 0;
  int has_index = 0, has_count = 0;
  qtm_status rc;
  if ((rc = qtm_h5_get_int64_attr(file, path, "shard_index", &index, &has_index, err, errcap)) !=
          QTM_OK ||
      (rc = qtm_h5_get_int64_attr(file, path, "shard_count", &count, &has_count, err, errcap)) !=
          QTM_OK)
    return rc;
  if (!has_count) count = 0;
  if (count == prov->shard_count && (count == 0 || index == prov->shard_index)) return QTM_OK;
  char was[64], now[64];
  if (count > 0)
    (void)snprintf(was, sizeof was, "shard %lld of %lld", (long long)index, (long long)count);
  else (void)snprintf(was, sizeof was, "a whole scan");
  if (prov->shard_count > 0)
    (void)snprintf(now, sizeof now, "shard %d of %d", prov->shard_index, prov->shard_count);
  else (void)snprintf(now, sizeof now, "a whole scan");
  return qtm_h5w_bad_arg(err, errcap, "%s holds %s; this run is %s", path, was, now);
}

qtm_status qtm_h5_writer_resume(const char *path, const qtm_h5_layout *layout,
                                const qtm_h5_provenance *prov, unsigned char *done,
                                qtm_h5_writer **out, char *err, size_t errcap) {
  qtm_h5w_no_shutdown_at_exit();
  qtm_status rc = QTM_OK;
  hid_t fapl = H5I_INVALID_HID;
  qtm_h5_writer *w = NULL;
  char *fingerprint = NULL;
  qtm_h5_quiet q;

  if (err && errcap) err[0] = '\0';
  if (!out) return qtm_h5w_bad_arg(err, errcap, "qtm_h5_writer_resume: no output handle");
  *out = NULL;
  if (!path || !layout || !done)
    return qtm_h5w_bad_arg(err, errcap, "qtm_h5_writer_resume: no path, layout or done marks");
  if (!prov || !prov->fingerprint)
    return qtm_h5w_bad_arg(err, errcap,
                           "qtm_h5_writer_resume %s: no config fingerprint to check the "
                           "file against",
                           path);
  if ((rc = qtm_h5w_check_layout(layout, err, errcap)) != QTM_OK) return rc;
  /* Tell "cannot read" from "not HDF5" before HDF5's less direct messages. */
  FILE *probe = fopen(path, "rb");
  if (!probe) return qtm_h5_fail_msg(QTM_ERR_IO, err, errcap, "%s: %s", path, strerror(errno));
  fclose(probe);
  if ((rc = qtm_h5w_writer_new(layout, path, &w, err, errcap)) != QTM_OK) return rc;
  const qtm_grid *g = layout->grid;

  qtm_h5w_quiet_begin(w, &q);
  htri_t is_hdf5 = H5Fis_hdf5(path);
  if (is_hdf5 <= 0) {
    rc = qtm_h5_fail_msg(QTM_ERR_IO, err, errcap, "%s: not an HDF5 file", path);
    goto cleanup;
  }
  if ((rc = qtm_h5w_crash_safe_fapl(&fapl, path, w->parallel, err, errcap)) != QTM_OK) goto cleanup;
  /* A truncated file fails here ("truncated file: eof = ..."), as does one that a running
   * scan holds (HDF5's file lock), with HDF5's message, which says more than the errno. */
  if ((w->file = H5Fopen(path, H5F_ACC_RDWR, fapl)) < 0) {
    rc = qtm_h5_fail(err, errcap, "H5Fopen", "%s", path);
    w->sys_errno = 0;
    goto cleanup;
  }

  /* Checks first, read only: a file refused is left as it was. */
  htri_t ours = H5Aexists(w->file, "qtmscan_version");
  H5_CHECK(ours, "H5Aexists", "qtmscan_version of %s", path);
  if (!ours) {
    rc = qtm_h5_fail_msg(QTM_ERR_IO, err, errcap, "%s: not a qtmscan file (no qtmscan_version "
                         "attribute)", path);
    goto cleanup;
  }
  if ((rc = qtm_h5_get_text_attr(w->file, path, "config_fingerprint", &fingerprint, err, errcap)) !=
      QTM_OK)
    goto cleanup;
  if (!fingerprint) {
    rc = qtm_h5_fail_msg(QTM_ERR_IO, err, errcap, "%s has no config_fingerprint attribute: "
                         "written by a qtmscan that cannot resume", path);
    goto cleanup;
  }
  if (strcmp(fingerprint, prov->fingerprint) != 0) {
    rc = qtm_h5w_bad_arg(err, errcap,
                         "%s was written by another config (fingerprint %s, this config "
                         "%s)",
                         path, fingerprint, prov->fingerprint);
    goto cleanup;
  }
  if ((rc = check_shard(w->file, path, prov, err, errcap)) != QTM_OK) goto cleanup;
  htri_t by_mpi = H5Aexists(w->file, "mpi_ranks");
  H5_CHECK(by_mpi, "H5Aexists", "mpi_ranks of %s", path);
  if (by_mpi) { /* see qtm_h5w_crash_safe_fapl: nothing there guarantees what a kill leaves */
    rc = qtm_h5w_bad_arg(err, errcap,
                         "%s was written by an MPI run, whose partial files cannot be "
                         "resumed (parallel HDF5 keeps no crash-consistent state)",
                         path);
    goto cleanup;
  }
  htri_t complete = H5Aexists(w->file, "complete");
  H5_CHECK(complete, "H5Aexists", "complete of %s", path);
  if (complete) {
    rc = qtm_h5_fail_msg(QTM_ERR_COMPLETE, err, errcap,
                         "%s is complete (it has the `complete` mark): nothing to resume", path);
    goto cleanup;
  }
  for (int k = 0; k < w->naxes; ++k)
    if ((rc = check_coordinate(w->file, path, g, k, err, errcap)) != QTM_OK) goto cleanup;
  hsize_t chunk[QTM_MAX_AXES];
  for (int k = 0; k < w->naxes; ++k) chunk[k] = (hsize_t)w->tile_shape[k];
  for (int j = 0; j < w->nmaps; ++j) {
    map_slot *m = &w->maps[j];
    char what[PATH_CAP + 8];
    (void)snprintf(what, sizeof what, "map %s", m->name);
    if ((rc = open_checked(w->file, path, m->name, what, w->naxes, w->shape, m->st.file, chunk,
                           w->gzip_level, &m->dset, err, errcap)) != QTM_OK)
      goto cleanup;
  }
  hsize_t ntiles = (hsize_t)w->ntiles;
  if ((rc = open_checked(w->file, path, STATE_DONE, STATE_DONE, 1, &ntiles, H5T_STD_U8LE, NULL,
                         0, &w->done, err, errcap)) != QTM_OK)
    goto cleanup;
  H5_CHECK(H5Dread(w->done, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, done), "H5Dread",
           "%s of %s", STATE_DONE, path);
  for (int64_t k = 0; k < w->ntiles; ++k)
    if (done[k] > 1) {
      rc = qtm_h5_fail_msg(QTM_ERR_IO, err, errcap, "%s: %s[%lld] is %u, not a mark (the file "
                           "is damaged)", path, STATE_DONE, (long long)k, (unsigned)done[k]);
      goto cleanup;
    }
  if ((rc = qtm_h5w_make_spaces(w, err, errcap)) != QTM_OK) goto cleanup;

  /* A kill in the middle of a flush may leave metadata naming space past the end of
   * allocation that the superblock on disk gives (HDF5 writes the superblock last), and what
   * follows would allocate that space again. Allocation resumes past everything the file
   * holds instead (the junk there, at most a tile or so, is left unused). Every chunk that
   * metadata names lies within: HDF5 writes a chunk before the metadata that names it. */
  if (!w->parallel) /* the MPI-IO driver keeps its own end of allocation (and refuses this) */
    H5_CHECK(H5Fincrement_filesize(w->file, 0), "H5Fincrement_filesize", "%s", path);
  if ((rc = verify_chunks(w, path, done, err, errcap)) != QTM_OK) goto cleanup;
  if ((rc = prune(w, "", 0, PRUNE_DETACH, err, errcap)) != QTM_OK ||
      (rc = prune(w, "", 0, PRUNE_DELETE, err, errcap)) != QTM_OK)
    goto cleanup;
  if ((rc = put_resume_attrs(w->file, prov, err, errcap)) != QTM_OK) goto cleanup;
  H5_CHECK(H5Fflush(w->file, H5F_SCOPE_GLOBAL), "H5Fflush", "%s", path);

cleanup:
  free(fingerprint);
  qtm_h5_close(&fapl, H5Pclose, "H5Pclose", "file access properties", &rc, err, errcap);
  if (rc != QTM_OK) {
    qtm_h5w_tell_system_error(w, 0, rc, err, errcap);
    qtm_h5w_discard(w); /* the file stays: it is the interrupted scan's */
  } else {
    *out = w;
  }
  qtm_h5_quiet_end(&q);
  return rc;
}
