/* `qtmscan info`: a scan file's provenance, axes and maps, and the analysis' maps, tables and
 * attributes (group `analysis`), read through the HDF5 API. Maps are read in bounded blocks (a
 * scan may hold 10^9 points per map), never whole. The file may be a partial one (a scan that
 * was interrupted or is still running): it is then reported as not complete, with the count
 * of tiles done that a resumed run keeps, and unwritten points count as NaN (their fill
 * value). */
#define _POSIX_C_SOURCE 200809L /* stat, strdup */
#include <errno.h>
#include <hdf5.h>
#include <hdf5_hl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "qtm/h5_writer.h"
#include "h5_util.h"

/* Largest block of a map read at once, in points (as doubles: 32 MiB); a block is at least one
 * chunk, up to READ_MAX_POINTS. */
#define READ_BUDGET_POINTS ((hsize_t)1 << 22)
#define READ_MAX_POINTS ((hsize_t)1 << 25)
#define NAME_CAP 256

/* ---- Attributes ---------------------------------------------------------------------------- */

/* Text of attribute `name` of obj in a new string (*out; NULL when the attribute is absent):
 * strings (fixed or variable length) as they are, numbers formatted, several values joined by
 * ", ". Other types give "(type not shown)". */
static qtm_status attr_text(hid_t obj, const char *name, char **out, char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t attr = H5I_INVALID_HID, ftype = H5I_INVALID_HID, mtype = H5I_INVALID_HID;
  hid_t space = H5I_INVALID_HID;
  char *text = NULL, *buf = NULL, **vbuf = NULL;
  double *nums = NULL;
  int vlen_read = 0;
  *out = NULL;
  htri_t exists = H5Aexists(obj, name);
  H5_CHECK(exists, "H5Aexists", "attribute %s", name);
  if (!exists) return QTM_OK;
  H5_CHECK(attr = H5Aopen(obj, name, H5P_DEFAULT), "H5Aopen", "attribute %s", name);
  H5_CHECK(ftype = H5Aget_type(attr), "H5Aget_type", "attribute %s", name);
  H5_CHECK(space = H5Aget_space(attr), "H5Aget_space", "attribute %s", name);
  hssize_t npts = H5Sget_simple_extent_npoints(space);
  H5_CHECK(npts, "H5Sget_simple_extent_npoints", "attribute %s", name);
  size_t n = (size_t)npts;
  H5T_class_t cls = H5Tget_class(ftype);
  H5_CHECK(cls, "H5Tget_class", "attribute %s", name);

  if (cls == H5T_STRING) {
    htri_t vlen = H5Tis_variable_str(ftype);
    H5_CHECK(vlen, "H5Tis_variable_str", "attribute %s", name);
    H5T_cset_t cset = H5Tget_cset(ftype);
    H5_CHECK(cset, "H5Tget_cset", "attribute %s", name);
    H5_CHECK(mtype = H5Tcopy(H5T_C_S1), "H5Tcopy", "attribute %s", name);
    /* HDF5 converts no string between character sets: read in the file's own. */
    H5_CHECK(H5Tset_cset(mtype, cset), "H5Tset_cset", "attribute %s", name);
    if (vlen) {
      H5_CHECK(H5Tset_size(mtype, H5T_VARIABLE), "H5Tset_size", "attribute %s", name);
      if (!(vbuf = calloc(n ? n : 1, sizeof *vbuf))) goto nomem;
      H5_CHECK(H5Aread(attr, mtype, vbuf), "H5Aread", "attribute %s", name);
      vlen_read = 1;
      size_t total = 1;
      for (size_t i = 0; i < n; ++i) total += (vbuf[i] ? strlen(vbuf[i]) : 0) + 2;
      if (!(text = malloc(total))) goto nomem;
      text[0] = '\0';
      for (size_t i = 0; i < n; ++i) {
        if (i) strcat(text, ", ");
        if (vbuf[i]) strcat(text, vbuf[i]);
      }
    } else {
      size_t size = H5Tget_size(ftype);
      if (size == 0) {
        rc = qtm_h5_fail(err, errcap, "H5Tget_size", "attribute %s", name);
        goto cleanup;
      }
      H5_CHECK(H5Tset_size(mtype, size), "H5Tset_size", "attribute %s", name);
      H5_CHECK(H5Tset_strpad(mtype, H5T_STR_NULLPAD), "H5Tset_strpad", "attribute %s", name);
      if (!(buf = calloc(n * size + 1, 1)) || !(text = malloc(n * (size + 2) + 1))) goto nomem;
      H5_CHECK(H5Aread(attr, mtype, buf), "H5Aread", "attribute %s", name);
      text[0] = '\0';
      for (size_t i = 0; i < n; ++i) {
        if (i) strcat(text, ", ");
        strncat(text, buf + i * size, size); /* stops at the first NUL */
      }
    }
  } else if (cls == H5T_INTEGER || cls == H5T_FLOAT) {
    if (!(nums = malloc((n ? n : 1) * sizeof *nums)) || !(text = malloc(n * 32 + 1))) goto nomem;
    H5_CHECK(H5Aread(attr, H5T_NATIVE_DOUBLE, nums), "H5Aread", "attribute %s", name);
    text[0] = '\0';
    for (size_t i = 0; i < n; ++i)
      (void)snprintf(text + strlen(text), 32, "%s%.15g", i ? ", " : "", nums[i]);
  } else {
    if (!(text = malloc(32))) goto nomem;
    (void)snprintf(text, 32, "(type not shown)");
  }
  *out = text;
  text = NULL;
  goto cleanup;
nomem:
  rc = qtm_h5_fail_msg(QTM_ERR_NOMEM, err, errcap, "out of memory reading attribute %s", name);
cleanup:
  if (vlen_read) {
    /* Frees the strings HDF5 allocated; nothing useful to do if it fails. */
    H5E_BEGIN_TRY {
#if H5_VERSION_GE(1, 12, 0)
      (void)H5Treclaim(mtype, space, H5P_DEFAULT, vbuf);
#else
      (void)H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, vbuf);
#endif
    }
    H5E_END_TRY;
  }
  free(vbuf);
  free(buf);
  free(nums);
  free(text);
  qtm_h5_close(&mtype, H5Tclose, "H5Tclose", name, &rc, err, errcap);
  qtm_h5_close(&space, H5Sclose, "H5Sclose", name, &rc, err, errcap);
  qtm_h5_close(&ftype, H5Tclose, "H5Tclose", name, &rc, err, errcap);
  qtm_h5_close(&attr, H5Aclose, "H5Aclose", name, &rc, err, errcap);
  return rc;
}

/* Prints text on one line: control characters (a multi-line value) become spaces. */
static void put_line_text(FILE *out, const char *text) {
  for (const char *c = text; *c; ++c) fputc((unsigned char)*c < 0x20 ? ' ' : *c, out);
}

/* ---- Provenance ---------------------------------------------------------------------------- */

/* Marks per read of tiles_done (1 MiB). */
#define DONE_BLOCK ((hsize_t)1 << 20)

/* The writer's record of the tiles durably written (qtmscan_state/tiles_done, one uint8 per
 * tile): *ntiles of them, *ndone marked; *ntiles = -1 when the file has none (an older
 * qtmscan's). Read in blocks: a scan may have millions of tiles. */
static qtm_status count_done(hid_t file, int64_t *ndone, int64_t *ntiles, char *err,
                             size_t errcap) {
  static const char path[] = "qtmscan_state/tiles_done";
  qtm_status rc = QTM_OK;
  hid_t dset = H5I_INVALID_HID, space = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
  unsigned char *buf = NULL;
  hsize_t n = 0;
  const hsize_t zero = 0;
  *ndone = 0;
  *ntiles = -1;
  htri_t exists = H5Lexists(file, "qtmscan_state", H5P_DEFAULT);
  H5_CHECK(exists, "H5Lexists", "qtmscan_state");
  if (exists) {
    exists = H5Lexists(file, path, H5P_DEFAULT);
    H5_CHECK(exists, "H5Lexists", "%s", path);
  }
  if (!exists) return QTM_OK;
  H5_CHECK(dset = H5Dopen2(file, path, H5P_DEFAULT), "H5Dopen2", "%s", path);
  H5_CHECK(space = H5Dget_space(dset), "H5Dget_space", "%s", path);
  int rank = H5Sget_simple_extent_ndims(space);
  H5_CHECK(rank, "H5Sget_simple_extent_ndims", "%s", path);
  if (rank != 1) goto cleanup; /* not the writer's: shown as absent */
  H5_CHECK(H5Sget_simple_extent_dims(space, &n, NULL), "H5Sget_simple_extent_dims", "%s", path);
  hsize_t block = n < DONE_BLOCK ? n : DONE_BLOCK;
  if (!(buf = malloc(block ? (size_t)block : 1))) {
    rc = qtm_h5_fail_msg(QTM_ERR_NOMEM, err, errcap, "out of memory reading %s", path);
    goto cleanup;
  }
  H5_CHECK(mspace = H5Screate_simple(1, &block, NULL), "H5Screate_simple", "%s", path);
  for (hsize_t start = 0; start < n; start += block) {
    hsize_t count = n - start < block ? n - start : block;
    H5_CHECK(H5Sselect_hyperslab(space, H5S_SELECT_SET, &start, NULL, &count, NULL),
             "H5Sselect_hyperslab", "%s", path);
    H5_CHECK(H5Sselect_hyperslab(mspace, H5S_SELECT_SET, &zero, NULL, &count, NULL),
             "H5Sselect_hyperslab", "%s", path);
    H5_CHECK(H5Dread(dset, H5T_NATIVE_UCHAR, mspace, space, H5P_DEFAULT, buf), "H5Dread", "%s",
             path);
    for (hsize_t i = 0; i < count; ++i) *ndone += buf[i] != 0;
  }
  *ntiles = (int64_t)n;
cleanup:
  free(buf);
  qtm_h5_close(&mspace, H5Sclose, "H5Sclose", path, &rc, err, errcap);
  qtm_h5_close(&space, H5Sclose, "H5Sclose", path, &rc, err, errcap);
  qtm_h5_close(&dset, H5Dclose, "H5Dclose", path, &rc, err, errcap);
  return rc;
}

/* A shard says which part of the scan it holds and how to join it; a merged file names its
 * shards. */
static qtm_status print_shard(hid_t file, FILE *out, int *is_shard, char *err, size_t errcap) {
  const char *names[4] = {"shard_index", "shard_count", "shard_first_tile", "shard_end_tile"};
  char *text[4] = {NULL, NULL, NULL, NULL}, *merged = NULL;
  qtm_status rc = QTM_OK;
  for (int i = 0; i < 4 && rc == QTM_OK; ++i) rc = attr_text(file, names[i], &text[i], err, errcap);
  *is_shard = rc == QTM_OK && text[0] && text[1] && text[2] && text[3];
  if (*is_shard)
    fprintf(out, "%-12s %s of %s (0-based), tiles %s to %s (end excluded): a part of the scan; "
                 "join all %s with qtmscan merge OUT SHARD...\n",
            "shard", text[0], text[1], text[2], text[3], text[1]);
  if (rc == QTM_OK) rc = attr_text(file, "merged_from", &merged, err, errcap);
  if (rc == QTM_OK && merged) {
    fprintf(out, "%-12s ", "merged from");
    put_line_text(out, merged);
    fputc('\n', out);
  }
  free(merged);
  for (int i = 0; i < 4; ++i) free(text[i]);
  return rc;
}

static qtm_status print_provenance(hid_t file, FILE *out, char *err, size_t errcap) {
  static const char *const shown[][2] = {
      {"title", "title"},           {"qtmscan_version", "version"}, {"git_commit", "git commit"},
      {"backend", "backend"},       {"device", "device"},           {"start_time", "started"},
      {"end_time", "ended"},        {"points_per_second", "points/s"},
      {"config_path", "config"},    {"command_line", "command"},
      {"config_fingerprint", "fingerprint"}, {"resumed", "resumed"},
  };
  qtm_status rc = QTM_OK;
  char *text = NULL;
  for (size_t i = 0; i < sizeof shown / sizeof shown[0]; ++i) {
    if ((rc = attr_text(file, shown[i][0], &text, err, errcap)) != QTM_OK) return rc;
    fprintf(out, "%-12s ", shown[i][1]);
    put_line_text(out, text ? text : "-");
    if (strcmp(shown[i][0], "config_path") == 0) {
      char *config = NULL;
      if ((rc = attr_text(file, "config", &config, err, errcap)) != QTM_OK) {
        free(text);
        return rc;
      }
      if (config) fprintf(out, " (%zu bytes stored in attribute `config`)", strlen(config));
      free(config);
    }
    fputc('\n', out);
    free(text);
    text = NULL;
  }
  int is_shard = 0;
  if ((rc = print_shard(file, out, &is_shard, err, errcap)) != QTM_OK) return rc;
  if ((rc = attr_text(file, "complete", &text, err, errcap)) != QTM_OK) return rc;
  int complete = text && strcmp(text, "1") == 0;
  free(text);
  text = NULL;
  if (complete) {
    fprintf(out, "%-12s complete%s\n", "status", is_shard ? " (this shard)" : "");
    return QTM_OK;
  }
  fprintf(out, "%-12s NOT complete (no `complete` mark: the scan was interrupted or is still "
               "running; unwritten points read as NaN)\n",
          "status");
  int64_t ndone = 0, ntiles = 0;
  if ((rc = count_done(file, &ndone, &ntiles, err, errcap)) != QTM_OK) return rc;
  if (ntiles < 0) return QTM_OK; /* an older qtmscan's file: no record of the tiles */
  if ((rc = attr_text(file, "config_fingerprint", &text, err, errcap)) != QTM_OK) return rc;
  int resumable = text && text[0] && strcmp(text, "none") != 0;
  free(text);
  fprintf(out, "%-12s %lld of %lld tiles done (%s)\n", "tiles", (long long)ndone,
          (long long)ntiles,
          resumable ? "resumable with --resume" : "not resumable: no config fingerprint");
  return QTM_OK;
}

/* ---- Datasets ------------------------------------------------------------------------------ */

typedef struct name_list {
  char (*names)[NAME_CAP];
  size_t n;
} name_list;

/* The links of group `path` ("/", "analysis"), in creation order when the group tracks it
 * (qtmscan's do), else by name. */
static qtm_status group_links(hid_t file, const char *path, name_list *list, char *err,
                              size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t gcpl = H5I_INVALID_HID, group = H5I_INVALID_HID;
  unsigned order = 0;
  H5G_info_t ginfo;
  H5_CHECK(group = H5Gopen2(file, path, H5P_DEFAULT), "H5Gopen2", "group %s", path);
  H5_CHECK(gcpl = H5Gget_create_plist(group), "H5Gget_create_plist", "group %s", path);
  H5_CHECK(H5Pget_link_creation_order(gcpl, &order), "H5Pget_link_creation_order", "group %s",
           path);
  H5_CHECK(H5Gget_info(group, &ginfo), "H5Gget_info", "group %s", path);
  H5_index_t index = (order & H5P_CRT_ORDER_TRACKED) ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME;
  list->n = 0;
  if (!(list->names = calloc(ginfo.nlinks ? ginfo.nlinks : 1, sizeof *list->names))) {
    rc = qtm_h5_fail_msg(QTM_ERR_NOMEM, err, errcap, "out of memory listing group %s", path);
    goto cleanup;
  }
  for (hsize_t i = 0; i < ginfo.nlinks; ++i) {
    ssize_t len = H5Lget_name_by_idx(group, ".", index, H5_ITER_INC, i, list->names[list->n],
                                     NAME_CAP, H5P_DEFAULT);
    H5_CHECK(len, "H5Lget_name_by_idx", "link %llu of group %s", (unsigned long long)i, path);
    if ((size_t)len < NAME_CAP) ++list->n; /* a name too long for a qtmscan file: skip it */
  }
cleanup:
  qtm_h5_close(&gcpl, H5Pclose, "H5Pclose", "group creation properties", &rc, err, errcap);
  qtm_h5_close(&group, H5Gclose, "H5Gclose", path, &rc, err, errcap);
  return rc;
}

/* The name of the dimension scale attached to a dataset's dimension: the scale's own name, as
 * netCDF names the dimension. */
static herr_t scale_name_cb(hid_t dset, unsigned dim, hid_t scale, void *data) {
  (void)dset;
  (void)dim;
  char path[NAME_CAP];
  ssize_t len = H5Iget_name(scale, path, sizeof path);
  if (len <= 0 || (size_t)len >= sizeof path) return -1;
  const char *base = strrchr(path, '/');
  snprintf(data, NAME_CAP, "%s", base ? base + 1 : path);
  return 1; /* the first scale is the name */
}

static qtm_status dim_name(hid_t dset, unsigned d, char *name, char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  int nscales = H5DSget_num_scales(dset, d);
  H5_CHECK(nscales, "H5DSget_num_scales", "dimension %u", d);
  (void)snprintf(name, NAME_CAP, "dim%u", d);
  if (nscales > 0)
    H5_CHECK(H5DSiterate_scales(dset, d, NULL, scale_name_cb, name), "H5DSiterate_scales",
             "dimension %u", d);
cleanup:
  return rc;
}

static const char *type_name(hid_t type) {
  H5T_class_t cls = H5Tget_class(type);
  size_t size = H5Tget_size(type);
  if (cls == H5T_FLOAT) return size == 4 ? "float32" : size == 8 ? "float64" : "float";
  if (cls == H5T_INTEGER) {
    static const char *const names[2][4] = {{"uint8", "uint16", "uint32", "uint64"},
                                            {"int8", "int16", "int32", "int64"}};
    int sign = H5Tget_sign(type) == H5T_SGN_2;
    int k = size == 1 ? 0 : size == 2 ? 1 : size == 4 ? 2 : size == 8 ? 3 : -1;
    return k < 0 ? "integer" : names[sign][k];
  }
  if (cls == H5T_COMPOUND) return "compound";
  if (cls == H5T_STRING) return "string";
  return "other";
}

/* One value of a 1-D dataset, at index i, as double. */
static qtm_status read_one(hid_t dset, hid_t fspace, hsize_t i, double *v, char *err,
                           size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t mspace = H5I_INVALID_HID;
  hsize_t one = 1;
  H5_CHECK(mspace = H5Screate_simple(1, &one, NULL), "H5Screate_simple", "one value");
  H5_CHECK(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &i, NULL, &one, NULL),
           "H5Sselect_hyperslab", "value %llu", (unsigned long long)i);
  H5_CHECK(H5Dread(dset, H5T_NATIVE_DOUBLE, mspace, fspace, H5P_DEFAULT, v), "H5Dread",
           "value %llu", (unsigned long long)i);
cleanup:
  qtm_h5_close(&mspace, H5Sclose, "H5Sclose", "one value", &rc, err, errcap);
  return rc;
}

static qtm_status print_axis(hid_t file, const char *name, FILE *out, char *err,
                             size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t dset = H5I_INVALID_HID, space = H5I_INVALID_HID, type = H5I_INVALID_HID;
  char *units = NULL;
  H5_CHECK(dset = H5Dopen2(file, name, H5P_DEFAULT), "H5Dopen2", "axis %s", name);
  H5_CHECK(space = H5Dget_space(dset), "H5Dget_space", "axis %s", name);
  H5_CHECK(type = H5Dget_type(dset), "H5Dget_type", "axis %s", name);
  int rank = H5Sget_simple_extent_ndims(space);
  H5_CHECK(rank, "H5Sget_simple_extent_ndims", "axis %s", name);
  if ((rc = attr_text(dset, "units", &units, err, errcap)) != QTM_OK) goto cleanup;
  hsize_t n = 0;
  if (rank == 1)
    H5_CHECK(H5Sget_simple_extent_dims(space, &n, NULL), "H5Sget_simple_extent_dims", "axis %s",
             name);
  H5T_class_t cls = H5Tget_class(type);
  if (rank == 1 && n > 0 && (cls == H5T_FLOAT || cls == H5T_INTEGER)) {
    double first = 0, last = 0;
    if ((rc = read_one(dset, space, 0, &first, err, errcap)) != QTM_OK ||
        (rc = read_one(dset, space, n - 1, &last, err, errcap)) != QTM_OK)
      goto cleanup;
    fprintf(out, "  %-16s %10llu  %-14.15g %-14.15g ", name, (unsigned long long)n, first, last);
  } else {
    fprintf(out, "  %-16s %10s  %-14s %-14s ", name, rank == 1 ? "0" : "(not 1-D)", "-", "-");
  }
  put_line_text(out, units ? units : "-");
  fputc('\n', out);
cleanup:
  free(units);
  qtm_h5_close(&type, H5Tclose, "H5Tclose", name, &rc, err, errcap);
  qtm_h5_close(&space, H5Sclose, "H5Sclose", name, &rc, err, errcap);
  qtm_h5_close(&dset, H5Dclose, "H5Dclose", name, &rc, err, errcap);
  return rc;
}

/* How a map is read: float32 and uint8 maps as they are (HDF5's conversion to double would cost
 * more than the decompression), others as double. */
typedef enum { READ_F32, READ_F64, READ_U8 } read_kind;

typedef struct map_stats {
  double min, max;     /* over the values that are neither NaN nor the fill */
  uint64_t nan, points; /* nan: NaN points, or fill-valued points of a uint8 map */
  uint64_t count[256]; /* uint8 maps: points of each value, fill included */
} map_stats;

/* The shape of the blocks a map is read in: trailing dimensions whole while they fit in
 * budget points, then as much of the next one as fits (whole chunks when at least one does, so
 * that no chunk is decompressed twice), ones before: each block is one contiguous run of the
 * row-major map. */
static void block_shape(int rank, const hsize_t *dims, const hsize_t *chunk, hsize_t budget,
                        hsize_t *block) {
  hsize_t points = 1;
  int k = rank - 1;
  for (; k >= 0 && points * dims[k] <= budget; --k) {
    block[k] = dims[k];
    points *= dims[k];
  }
  if (k >= 0) {
    hsize_t part = budget / points;
    if (part < 1) part = 1;
    if (chunk && part >= chunk[k]) part -= part % chunk[k];
    block[k] = part;
    for (--k; k >= 0; --k) block[k] = 1;
  }
}

/* Min, max (NaN ignored) and NaN count of map `name`, read block by block through its own
 * handle, opened with a chunk cache that holds a few chunks (for blocks that end inside one).
 * A uint8 map (a mask) counts each value instead, and its points equal to fill (0..255; -1 for
 * none) as the NaN of a float map. */
static qtm_status map_stats_read(hid_t file, const char *name, int rank, const hsize_t *dims,
                                 const hsize_t *chunk, size_t type_size, read_kind kind,
                                 int fill, map_stats *s, char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t dset = H5I_INVALID_HID, space = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
  hid_t dapl = H5I_INVALID_HID;
  double *buf = NULL; /* holds a block as double, or as float or bytes by kind */
  hsize_t block[H5S_MAX_RANK], start[H5S_MAX_RANK], count[H5S_MAX_RANK], nblk[H5S_MAX_RANK];
  hsize_t idx[H5S_MAX_RANK];
  s->min = INFINITY;
  s->max = -INFINITY;
  s->nan = s->points = 0;
  memset(s->count, 0, sizeof s->count);

  hsize_t chunk_points = 1;
  for (int k = 0; chunk && k < rank; ++k) chunk_points *= chunk[k];
  hsize_t budget = chunk_points > READ_BUDGET_POINTS ? chunk_points : READ_BUDGET_POINTS;
  if (budget > READ_MAX_POINTS) budget = READ_MAX_POINTS;
  block_shape(rank, dims, chunk, budget, block);
  hsize_t block_points = 1, total = 1;
  for (int k = 0; k < rank; ++k) {
    block_points *= block[k];
    total *= dims[k];
    nblk[k] = (dims[k] + block[k] - 1) / block[k];
    idx[k] = 0;
  }
  if (total == 0) return QTM_OK;
  if (!(buf = malloc((size_t)block_points * sizeof *buf))) {
    rc = qtm_h5_fail_msg(QTM_ERR_NOMEM, err, errcap, "out of memory for a block of %llu points",
                  (unsigned long long)block_points);
    goto cleanup;
  }
  H5_CHECK(dapl = H5Pcreate(H5P_DATASET_ACCESS), "H5Pcreate", "access properties of map %s",
           name);
  if (chunk) {
    size_t cache = (size_t)chunk_points * type_size * 4;
    if (cache < ((size_t)1 << 20)) cache = (size_t)1 << 20;
    if (cache > ((size_t)1 << 28)) cache = (size_t)1 << 28;
    H5_CHECK(H5Pset_chunk_cache(dapl, 10007, cache, 1.0), "H5Pset_chunk_cache", "map %s", name);
  }
  H5_CHECK(dset = H5Dopen2(file, name, dapl), "H5Dopen2", "map %s", name);
  H5_CHECK(space = H5Dget_space(dset), "H5Dget_space", "map %s", name);
  for (;;) {
    hsize_t npts = 1;
    for (int k = 0; k < rank; ++k) {
      start[k] = idx[k] * block[k];
      count[k] = dims[k] - start[k] < block[k] ? dims[k] - start[k] : block[k];
      npts *= count[k];
    }
    if (rank > 0) {
      H5_CHECK(H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count, NULL),
               "H5Sselect_hyperslab", "map %s block at %llu", name,
               (unsigned long long)start[0]);
      H5_CHECK(mspace = H5Screate_simple(1, &npts, NULL), "H5Screate_simple", "block");
    }
    hid_t mtype = kind == READ_F32  ? H5T_NATIVE_FLOAT
                  : kind == READ_U8 ? H5T_NATIVE_UCHAR
                                    : H5T_NATIVE_DOUBLE;
    H5_CHECK(H5Dread(dset, mtype, rank > 0 ? mspace : H5S_ALL, rank > 0 ? space : H5S_ALL,
                     H5P_DEFAULT, buf),
             "H5Dread", "map %s block at %llu", name,
             (unsigned long long)(rank > 0 ? start[0] : 0));
    qtm_h5_close(&mspace, H5Sclose, "H5Sclose", "block", &rc, err, errcap);
    if (rc != QTM_OK) goto cleanup;
    if (kind == READ_U8) {
      const unsigned char *b = (const unsigned char *)buf;
      for (hsize_t i = 0; i < npts; ++i) ++s->count[b[i]];
    } else {
      for (hsize_t i = 0; i < npts; ++i) {
        double v = kind == READ_F32 ? (double)((const float *)buf)[i] : buf[i];
        if (isnan(v)) {
          ++s->nan;
        } else {
          if (v < s->min) s->min = v;
          if (v > s->max) s->max = v;
        }
      }
    }
    s->points += npts;
    int k = rank - 1;
    for (; k >= 0; --k) {
      if (++idx[k] < nblk[k]) break;
      idx[k] = 0;
    }
    if (k < 0) break;
  }
  if (kind == READ_U8)
    for (int v = 0; v < 256; ++v) {
      if (v == fill) {
        s->nan = s->count[v];
      } else if (s->count[v]) {
        if (v < s->min) s->min = v;
        if (v > s->max) s->max = v;
      }
    }
cleanup:
  free(buf);
  qtm_h5_close(&mspace, H5Sclose, "H5Sclose", "block", &rc, err, errcap);
  qtm_h5_close(&space, H5Sclose, "H5Sclose", name, &rc, err, errcap);
  qtm_h5_close(&dset, H5Dclose, "H5Dclose", name, &rc, err, errcap);
  qtm_h5_close(&dapl, H5Pclose, "H5Pclose", name, &rc, err, errcap);
  return rc;
}

static void print_filters(hid_t dcpl, int nfilters, FILE *out) {
  if (nfilters <= 0) {
    fputs("none", out);
    return;
  }
  for (int i = 0; i < nfilters; ++i) {
    unsigned flags = 0, cd[8] = {0};
    size_t ncd = 8;
    char fname[64] = "";
    H5Z_filter_t f = H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd, cd, sizeof fname, fname,
                                    NULL);
    if (i) fputc('+', out);
    if (f == H5Z_FILTER_DEFLATE)
      fprintf(out, "deflate(%u)", ncd > 0 ? cd[0] : 0);
    else if (f == H5Z_FILTER_SHUFFLE)
      fputs("shuffle", out);
    else if (f < 0)
      fputs("?", out);
    else
      fprintf(out, "filter %d", (int)f);
  }
}

/* ---- Attributes of maps and groups --------------------------------------------------------- */

typedef struct attr_names {
  char (*names)[NAME_CAP];
  size_t n, cap;
  int nomem;
} attr_names;

static herr_t collect_attr_cb(hid_t loc, const char *name, const H5A_info_t *info, void *data) {
  (void)loc;
  (void)info;
  attr_names *c = data;
  if (strlen(name) >= NAME_CAP) return 0; /* not one of qtmscan's: skip it */
  if (c->n == c->cap) {
    size_t cap = c->cap ? 2 * c->cap : 16;
    void *grown = realloc(c->names, cap * sizeof *c->names);
    if (!grown) {
      c->nomem = 1;
      return -1;
    }
    c->names = grown;
    c->cap = cap;
  }
  (void)snprintf(c->names[c->n++], NAME_CAP, "%s", name);
  return 0;
}

/* Whether attribute `name` of obj holds numbers (integers or floats). */
static qtm_status attr_is_number(hid_t obj, const char *name, int *yes, char *err,
                                 size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t attr = H5I_INVALID_HID, type = H5I_INVALID_HID;
  H5_CHECK(attr = H5Aopen(obj, name, H5P_DEFAULT), "H5Aopen", "attribute %s", name);
  H5_CHECK(type = H5Aget_type(attr), "H5Aget_type", "attribute %s", name);
  H5T_class_t cls = H5Tget_class(type);
  H5_CHECK(cls, "H5Tget_class", "attribute %s", name);
  *yes = cls == H5T_INTEGER || cls == H5T_FLOAT;
cleanup:
  qtm_h5_close(&type, H5Tclose, "H5Tclose", name, &rc, err, errcap);
  qtm_h5_close(&attr, H5Aclose, "H5Aclose", name, &rc, err, errcap);
  return rc;
}

/* The numeric attributes of obj (the analysis' counts and fractions), one "name = value" line
 * each after indent, in creation order when obj tracks it (ocpl: obj's creation properties).
 * _FillValue is left out: the statistics line counts the fill. Text attributes (units,
 * long_name) and the dimension-scale bookkeeping are not numbers. */
static qtm_status print_num_attrs(hid_t obj, hid_t ocpl, const char *what, const char *indent,
                                  FILE *out, char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  attr_names c = {NULL, 0, 0, 0};
  char *text = NULL;
  unsigned order = 0;
  hsize_t pos = 0;
  H5_CHECK(H5Pget_attr_creation_order(ocpl, &order), "H5Pget_attr_creation_order", "%s", what);
  H5_index_t index = (order & H5P_CRT_ORDER_TRACKED) ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME;
  if (H5Aiterate2(obj, index, H5_ITER_INC, &pos, collect_attr_cb, &c) < 0) {
    rc = c.nomem ? qtm_h5_fail_msg(QTM_ERR_NOMEM, err, errcap, "out of memory listing the "
                                   "attributes of %s", what)
                 : qtm_h5_fail(err, errcap, "H5Aiterate2", "attributes of %s", what);
    goto cleanup;
  }
  for (size_t i = 0; i < c.n; ++i) {
    int number = 0;
    if (strcmp(c.names[i], "_FillValue") == 0) continue;
    if ((rc = attr_is_number(obj, c.names[i], &number, err, errcap)) != QTM_OK) goto cleanup;
    if (!number) continue;
    if ((rc = attr_text(obj, c.names[i], &text, err, errcap)) != QTM_OK) goto cleanup;
    fprintf(out, "%s%s = %s\n", indent, c.names[i], text ? text : "-");
    free(text);
    text = NULL;
  }
cleanup:
  free(text);
  free(c.names);
  return rc;
}

/* ---- Maps ---------------------------------------------------------------------------------- */

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

/* The statistics line of a uint8 map (a mask): min and max of the values that are not the fill,
 * the fill count, and how many points hold each value when there are few distinct ones. */
static void print_u8_stats(const map_stats *s, int fill, FILE *out) {
  int distinct = 0;
  for (int v = 0; v < 256; ++v) distinct += v != fill && s->count[v] > 0;
  if (distinct == 0)
    fputs("      min -  max -", out);
  else
    fprintf(out, "      min %d  max %d", (int)s->min, (int)s->max);
  if (fill >= 0) {
    fprintf(out, "  fill(%d) %llu of %llu", fill, (unsigned long long)s->nan,
            (unsigned long long)s->points);
    if (s->points) fprintf(out, " (%.3g%%)", 100.0 * (double)s->nan / (double)s->points);
  }
  if (distinct > 0 && distinct <= 8) {
    fputs("  values", out);
    const char *sep = " ";
    for (int v = 0; v < 256; ++v)
      if (v != fill && s->count[v] > 0) {
        fprintf(out, "%s%d: %llu", sep, v, (unsigned long long)s->count[v]);
        sep = ", ";
      }
  } else if (distinct > 8) {
    fprintf(out, "  %d distinct values", distinct);
  }
  fputc('\n', out);
}

/* A map at path (a root map, or an analysis map "analysis/ndtc_onset", shown by its last name):
 * shape with dimension names, dtype, storage, units; statistics; numeric attributes. */
static qtm_status print_map(hid_t file, const char *name, FILE *out, char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t dset = H5I_INVALID_HID, space = H5I_INVALID_HID, type = H5I_INVALID_HID;
  hid_t dcpl = H5I_INVALID_HID;
  char *units = NULL;
  hsize_t dims[H5S_MAX_RANK], chunk[H5S_MAX_RANK];
  char dname[NAME_CAP];
  H5_CHECK(dset = H5Dopen2(file, name, H5P_DEFAULT), "H5Dopen2", "map %s", name);
  H5_CHECK(space = H5Dget_space(dset), "H5Dget_space", "map %s", name);
  H5_CHECK(type = H5Dget_type(dset), "H5Dget_type", "map %s", name);
  H5_CHECK(dcpl = H5Dget_create_plist(dset), "H5Dget_create_plist", "map %s", name);
  int rank = H5Sget_simple_extent_ndims(space);
  H5_CHECK(rank, "H5Sget_simple_extent_ndims", "map %s", name);
  H5_CHECK(H5Sget_simple_extent_dims(space, dims, NULL), "H5Sget_simple_extent_dims", "map %s",
           name);
  H5D_layout_t layout = H5Pget_layout(dcpl);
  H5_CHECK(layout, "H5Pget_layout", "map %s", name);
  int chunked = layout == H5D_CHUNKED;
  if (chunked)
    H5_CHECK(H5Pget_chunk(dcpl, rank, chunk), "H5Pget_chunk", "map %s", name);
  int nfilters = H5Pget_nfilters(dcpl);
  H5_CHECK(nfilters, "H5Pget_nfilters", "map %s", name);
  if ((rc = attr_text(dset, "units", &units, err, errcap)) != QTM_OK) goto cleanup;

  fprintf(out, "  %s(", base_name(name));
  for (int k = 0; k < rank; ++k) {
    if ((rc = dim_name(dset, (unsigned)k, dname, err, errcap)) != QTM_OK) goto cleanup;
    fprintf(out, "%s%s=%llu", k ? ", " : "", dname, (unsigned long long)dims[k]);
  }
  fprintf(out, ")  %s", type_name(type));
  if (layout == H5D_VIRTUAL) { /* a merge --virtual: the values live in the shards */
    size_t nmaps = 0;
    H5_CHECK(H5Pget_virtual_count(dcpl, &nmaps), "H5Pget_virtual_count", "map %s", name);
    fprintf(out, "  virtual, read from %zu shard file%s", nmaps, nmaps == 1 ? "" : "s");
  } else if (chunked) {
    fputs("  chunks ", out);
    for (int k = 0; k < rank; ++k)
      fprintf(out, "%s%llu", k ? "x" : "", (unsigned long long)chunk[k]);
  } else {
    fputs(rank ? "  contiguous" : "  scalar", out);
  }
  if (layout != H5D_VIRTUAL) {
    fputs("  compression ", out);
    print_filters(dcpl, nfilters, out);
  }
  fputs("  units ", out);
  put_line_text(out, units ? units : "-");
  fputc('\n', out);

  H5T_class_t cls = H5Tget_class(type);
  H5_CHECK(cls, "H5Tget_class", "map %s", name);
  size_t tsize = H5Tget_size(type);
  if (tsize == 0) {
    rc = qtm_h5_fail(err, errcap, "H5Tget_size", "map %s", name);
    goto cleanup;
  }
  if (cls != H5T_FLOAT && cls != H5T_INTEGER) {
    fputs("      (not numeric: no statistics)\n", out);
  } else {
    H5T_sign_t sign = cls == H5T_INTEGER ? H5Tget_sign(type) : H5T_SGN_NONE;
    H5_CHECK(sign, "H5Tget_sign", "map %s", name);
    read_kind kind = cls == H5T_FLOAT && tsize == 4                        ? READ_F32
                     : cls == H5T_INTEGER && tsize == 1 && sign == H5T_SGN_NONE ? READ_U8
                                                                             : READ_F64;
    int fill = -1;
    if (kind == READ_U8) {
      H5D_fill_value_t defined;
      unsigned char f = 0;
      H5_CHECK(H5Pfill_value_defined(dcpl, &defined), "H5Pfill_value_defined", "map %s", name);
      if (defined == H5D_FILL_VALUE_USER_DEFINED) {
        H5_CHECK(H5Pget_fill_value(dcpl, H5T_NATIVE_UCHAR, &f), "H5Pget_fill_value", "map %s",
                 name);
        fill = f;
      }
    }
    map_stats s;
    if ((rc = map_stats_read(file, name, rank, dims, chunked ? chunk : NULL, tsize, kind, fill,
                             &s, err, errcap)) != QTM_OK)
      goto cleanup;
    if (kind == READ_U8) {
      print_u8_stats(&s, fill, out);
    } else {
      const char *fmt = tsize == 4 ? "%.7g" : "%.15g";
      fputs("      min ", out);
      if (s.nan == s.points) {
        fputs("-  max -", out);
      } else {
        fprintf(out, fmt, s.min);
        fputs("  max ", out);
        fprintf(out, fmt, s.max);
      }
      fprintf(out, "  NaN %llu of %llu", (unsigned long long)s.nan,
              (unsigned long long)s.points);
      if (s.points) fprintf(out, " (%.3g%%)", 100.0 * (double)s.nan / (double)s.points);
      fputc('\n', out);
    }
  }
  rc = print_num_attrs(dset, dcpl, name, "      ", out, err, errcap);
cleanup:
  free(units);
  qtm_h5_close(&dcpl, H5Pclose, "H5Pclose", name, &rc, err, errcap);
  qtm_h5_close(&type, H5Tclose, "H5Tclose", name, &rc, err, errcap);
  qtm_h5_close(&space, H5Sclose, "H5Sclose", name, &rc, err, errcap);
  qtm_h5_close(&dset, H5Dclose, "H5Dclose", name, &rc, err, errcap);
  return rc;
}

/* ---- Tables -------------------------------------------------------------------------------- */

/* Rows of a table shown: enough to see what it holds (the top of a top-K). */
#define TABLE_ROWS_SHOWN 5
/* Width of a table column: a value in %.6g with sign and exponent. */
#define TABLE_COLUMN 12

/* A table at path (a 1-D compound dataset): its shape, fields, and its first rows, a column
 * each. Numeric fields are read as doubles; others are left out and counted. */
static qtm_status print_table(hid_t file, const char *name, FILE *out, char *err,
                              size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t dset = H5I_INVALID_HID, space = H5I_INVALID_HID, type = H5I_INVALID_HID;
  hid_t mtype = H5I_INVALID_HID, mspace = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
  char **fields = NULL; /* the numeric fields' names, from HDF5 (H5free_memory) */
  double *rows = NULL;
  char *long_name = NULL;
  char dname[NAME_CAP];
  int nmemb = 0, nnum = 0, nother = 0;
  H5_CHECK(dset = H5Dopen2(file, name, H5P_DEFAULT), "H5Dopen2", "table %s", name);
  H5_CHECK(space = H5Dget_space(dset), "H5Dget_space", "table %s", name);
  H5_CHECK(type = H5Dget_type(dset), "H5Dget_type", "table %s", name);
  H5_CHECK(dcpl = H5Dget_create_plist(dset), "H5Dget_create_plist", "table %s", name);
  int rank = H5Sget_simple_extent_ndims(space);
  H5_CHECK(rank, "H5Sget_simple_extent_ndims", "table %s", name);
  if ((rc = attr_text(dset, "long_name", &long_name, err, errcap)) != QTM_OK) goto cleanup;
  if (rank != 1) {
    fprintf(out, "  %s  compound, not a 1-D table: not shown\n", base_name(name));
    goto cleanup;
  }
  hsize_t nrows = 0;
  H5_CHECK(H5Sget_simple_extent_dims(space, &nrows, NULL), "H5Sget_simple_extent_dims",
           "table %s", name);
  H5_CHECK(nmemb = H5Tget_nmembers(type), "H5Tget_nmembers", "table %s", name);
  if (!(fields = calloc(nmemb > 0 ? (size_t)nmemb : 1, sizeof *fields))) goto nomem;
  for (int i = 0; i < nmemb; ++i) {
    H5T_class_t cls = H5Tget_member_class(type, (unsigned)i);
    H5_CHECK(cls, "H5Tget_member_class", "field %d of table %s", i, name);
    if (cls != H5T_INTEGER && cls != H5T_FLOAT) {
      ++nother;
      continue;
    }
    char *field = H5Tget_member_name(type, (unsigned)i);
    if (!field) {
      rc = qtm_h5_fail(err, errcap, "H5Tget_member_name", "field %d of table %s", i, name);
      goto cleanup;
    }
    fields[nnum++] = field;
  }
  /* The numeric members, as packed doubles in memory: HDF5 converts member by member and
   * leaves out the members the memory type does not name. */
  if (nnum > 0)
    H5_CHECK(mtype = H5Tcreate(H5T_COMPOUND, (size_t)nnum * sizeof(double)), "H5Tcreate",
             "row type of table %s", name);
  for (int i = 0; i < nnum; ++i)
    H5_CHECK(H5Tinsert(mtype, fields[i], (size_t)i * sizeof(double), H5T_NATIVE_DOUBLE),
             "H5Tinsert", "field %s of table %s", fields[i], name);

  if ((rc = dim_name(dset, 0, dname, err, errcap)) != QTM_OK) goto cleanup;
  fprintf(out, "  %s(%s=%llu)  table of %d fields  long_name ", base_name(name), dname,
          (unsigned long long)nrows, nmemb);
  put_line_text(out, long_name ? long_name : "-");
  fputc('\n', out);
  if (nother) fprintf(out, "      (%d fields not numeric: not shown)\n", nother);
  if (nnum == 0) goto attrs;
  if (nrows == 0) {
    fputs("      no rows; fields", out);
    for (int i = 0; i < nnum; ++i) fprintf(out, " %s", fields[i]);
    fputc('\n', out);
    goto attrs;
  }
  hsize_t shown = nrows < TABLE_ROWS_SHOWN ? nrows : TABLE_ROWS_SHOWN, start = 0;
  if (!(rows = malloc((size_t)shown * (size_t)nnum * sizeof *rows))) goto nomem;
  H5_CHECK(mspace = H5Screate_simple(1, &shown, NULL), "H5Screate_simple", "rows of %s", name);
  H5_CHECK(H5Sselect_hyperslab(space, H5S_SELECT_SET, &start, NULL, &shown, NULL),
           "H5Sselect_hyperslab", "rows of %s", name);
  H5_CHECK(H5Dread(dset, mtype, mspace, space, H5P_DEFAULT, rows), "H5Dread", "rows of %s",
           name);
  /* Transposed, a field per line and a row per column: tables have up to ~30 fields, which
   * side by side would make lines of 400 columns. */
  int width = 3;
  for (int i = 0; i < nnum; ++i)
    if ((int)strlen(fields[i]) > width) width = (int)strlen(fields[i]);
  fprintf(out, "      %-*s", width, "row");
  for (hsize_t r = 0; r < shown; ++r) fprintf(out, " %*llu", TABLE_COLUMN, (unsigned long long)r);
  if (nrows > shown) fprintf(out, "  (%llu more)", (unsigned long long)(nrows - shown));
  fputc('\n', out);
  for (int i = 0; i < nnum; ++i) {
    fprintf(out, "      %-*s", width, fields[i]);
    for (hsize_t r = 0; r < shown; ++r)
      fprintf(out, " %*.6g", TABLE_COLUMN, rows[r * (hsize_t)nnum + (hsize_t)i]);
    fputc('\n', out);
  }
attrs:
  rc = print_num_attrs(dset, dcpl, name, "      ", out, err, errcap);
  goto cleanup;
nomem:
  rc = qtm_h5_fail_msg(QTM_ERR_NOMEM, err, errcap, "out of memory reading table %s", name);
cleanup:
  for (int i = 0; fields && i < nnum; ++i) H5free_memory(fields[i]);
  free(fields);
  free(rows);
  free(long_name);
  qtm_h5_close(&mspace, H5Sclose, "H5Sclose", name, &rc, err, errcap);
  qtm_h5_close(&mtype, H5Tclose, "H5Tclose", name, &rc, err, errcap);
  qtm_h5_close(&dcpl, H5Pclose, "H5Pclose", name, &rc, err, errcap);
  qtm_h5_close(&type, H5Tclose, "H5Tclose", name, &rc, err, errcap);
  qtm_h5_close(&space, H5Sclose, "H5Sclose", name, &rc, err, errcap);
  qtm_h5_close(&dset, H5Dclose, "H5Dclose", name, &rc, err, errcap);
  return rc;
}

/* ---- The report ---------------------------------------------------------------------------- */

/* Sorts the root's datasets into axes (dimension scales) and maps (the rest). is_axis[i] is
 * 1 for an axis, 0 for a map, -1 for a link that is not a dataset. */
static qtm_status classify(hid_t file, const name_list *list, int *is_axis, char *err,
                           size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t obj = H5I_INVALID_HID;
  for (size_t i = 0; i < list->n; ++i) {
    const char *name = list->names[i];
    H5_CHECK(obj = H5Oopen(file, name, H5P_DEFAULT), "H5Oopen", "%s", name);
    H5I_type_t t = H5Iget_type(obj);
    H5_CHECK(t, "H5Iget_type", "%s", name);
    is_axis[i] = -1;
    if (t == H5I_DATASET) {
      htri_t scale = H5DSis_scale(obj);
      H5_CHECK(scale, "H5DSis_scale", "%s", name);
      is_axis[i] = scale > 0;
    }
    qtm_h5_close(&obj, H5Oclose, "H5Oclose", name, &rc, err, errcap);
    if (rc != QTM_OK) goto cleanup;
  }
cleanup:
  qtm_h5_close(&obj, H5Oclose, "H5Oclose", "root object", &rc, err, errcap);
  return rc;
}

/* What a link of the analysis group is, for the report. */
typedef enum { ITEM_SKIP, ITEM_MAP, ITEM_TABLE, ITEM_GROUP } item_kind;

/* Maps (numeric datasets), tables (compound ones) and subgroups; dimension scales (a table's
 * row dimension) and committed types (its row type) are a table's companions, not shown. */
static qtm_status classify_item(hid_t file, const char *path, item_kind *kind, char *err,
                                size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t obj = H5I_INVALID_HID, type = H5I_INVALID_HID;
  *kind = ITEM_SKIP;
  H5_CHECK(obj = H5Oopen(file, path, H5P_DEFAULT), "H5Oopen", "%s", path);
  H5I_type_t t = H5Iget_type(obj);
  H5_CHECK(t, "H5Iget_type", "%s", path);
  if (t == H5I_GROUP) {
    *kind = ITEM_GROUP;
  } else if (t == H5I_DATASET) {
    htri_t scale = H5DSis_scale(obj);
    H5_CHECK(scale, "H5DSis_scale", "%s", path);
    if (!scale) {
      H5_CHECK(type = H5Dget_type(obj), "H5Dget_type", "%s", path);
      H5T_class_t cls = H5Tget_class(type);
      H5_CHECK(cls, "H5Tget_class", "%s", path);
      *kind = cls == H5T_COMPOUND ? ITEM_TABLE : ITEM_MAP;
    }
  }
cleanup:
  qtm_h5_close(&type, H5Tclose, "H5Tclose", path, &rc, err, errcap);
  qtm_h5_close(&obj, H5Oclose, "H5Oclose", path, &rc, err, errcap);
  return rc;
}

/* The group `analysis`, when the scan has one: its numeric attributes (counts, fractions),
 * then its maps and tables in the order written. */
static qtm_status print_analysis(hid_t file, FILE *out, char *err, size_t errcap) {
  static const char group_path[] = "analysis";
  qtm_status rc = QTM_OK;
  hid_t group = H5I_INVALID_HID, gcpl = H5I_INVALID_HID;
  name_list list = {NULL, 0};
  item_kind *kind = NULL;
  char path[2 * NAME_CAP];
  htri_t exists = H5Lexists(file, group_path, H5P_DEFAULT);
  H5_CHECK(exists, "H5Lexists", "%s", group_path);
  if (!exists) return QTM_OK;
  H5_CHECK(group = H5Gopen2(file, group_path, H5P_DEFAULT), "H5Gopen2", "%s", group_path);
  H5_CHECK(gcpl = H5Gget_create_plist(group), "H5Gget_create_plist", "%s", group_path);
  if ((rc = group_links(file, group_path, &list, err, errcap)) != QTM_OK) goto cleanup;
  if (!(kind = calloc(list.n ? list.n : 1, sizeof *kind))) {
    rc = qtm_h5_fail_msg(QTM_ERR_NOMEM, err, errcap, "out of memory listing %s", group_path);
    goto cleanup;
  }
  size_t nmaps = 0, ntables = 0;
  for (size_t i = 0; i < list.n; ++i) {
    (void)snprintf(path, sizeof path, "%s/%s", group_path, list.names[i]);
    if ((rc = classify_item(file, path, &kind[i], err, errcap)) != QTM_OK) goto cleanup;
    nmaps += kind[i] == ITEM_MAP;
    ntables += kind[i] == ITEM_TABLE;
  }
  fprintf(out, "\nanalysis (%zu maps, %zu tables)\n", nmaps, ntables);
  if ((rc = print_num_attrs(group, gcpl, group_path, "  ", out, err, errcap)) != QTM_OK)
    goto cleanup;
  for (size_t i = 0; i < list.n; ++i) {
    (void)snprintf(path, sizeof path, "%s/%s", group_path, list.names[i]);
    if (kind[i] == ITEM_MAP)
      rc = print_map(file, path, out, err, errcap);
    else if (kind[i] == ITEM_TABLE)
      rc = print_table(file, path, out, err, errcap);
    else if (kind[i] == ITEM_GROUP)
      fprintf(out, "  %s/  (group: not shown)\n", list.names[i]);
    if (rc != QTM_OK) goto cleanup;
  }
cleanup:
  free(kind);
  free(list.names);
  qtm_h5_close(&gcpl, H5Pclose, "H5Pclose", "analysis group creation properties", &rc, err,
               errcap);
  qtm_h5_close(&group, H5Gclose, "H5Gclose", group_path, &rc, err, errcap);
  return rc;
}

/* The sizes in HDF5's message on opening a file shorter than its superblock says ("truncated
 * file: eof = 1452021, sblock->base_addr = 0, stored_eof = 2904043"), found anywhere in the
 * error stack. */
typedef struct truncation {
  unsigned long long size, expected;
  int found;
} truncation;

static herr_t truncation_cb(unsigned n, const H5E_error2_t *e, void *data) {
  (void)n;
  truncation *t = data;
  const char *at = e && e->desc ? strstr(e->desc, "truncated file: eof = ") : NULL;
  unsigned long long base = 0;
  if (at && !t->found &&
      sscanf(at, "truncated file: eof = %llu, sblock->base_addr = %llu, stored_eof = %llu",
             &t->size, &base, &t->expected) == 3)
    t->found = 1;
  return 0;
}

/* HDF5 1.10 shuts down at exit, and after some failed reads of a damaged file its shutdown
 * prints "HDF5: infinite loop closing library" and a list of packages: a report closes its file
 * itself, so the shutdown is skipped (as the writer does, see h5_writer.c). Effective only
 * before the library's first call in the process. */
static void no_shutdown_at_exit(void) {
  (void)H5dont_atexit(); /* fails, harmlessly, once the library is initialised */
}

qtm_status qtm_h5_info_print(const char *path, FILE *out, char *err, size_t errcap) {
  no_shutdown_at_exit();
  qtm_status rc = QTM_OK;
  hid_t file = H5I_INVALID_HID, fapl = H5I_INVALID_HID;
  name_list list = {NULL, 0};
  int *is_axis = NULL;
  qtm_h5_quiet q;
  if (err && errcap) err[0] = '\0';
  if (!path || !out) return qtm_h5_fail_msg(QTM_ERR_INVALID_ARG, err, errcap, "no file or stream");

  /* Tell "cannot read" from "not HDF5" before HDF5's less direct messages. */
  struct stat sb;
  if (stat(path, &sb) != 0)
    return qtm_h5_fail_msg(QTM_ERR_IO, err, errcap, "%s: %s", path, strerror(errno));
  if (S_ISDIR(sb.st_mode))
    return qtm_h5_fail_msg(QTM_ERR_IO, err, errcap, "%s: is a directory, not a scan file", path);
  if (!S_ISREG(sb.st_mode)) /* a FIFO would block the read, a device has no end */
    return qtm_h5_fail_msg(QTM_ERR_IO, err, errcap, "%s: not a regular file, not a scan file",
                           path);
  FILE *probe = fopen(path, "rb");
  if (!probe) return qtm_h5_fail_msg(QTM_ERR_IO, err, errcap, "%s: %s", path, strerror(errno));
  fclose(probe);

  qtm_h5_quiet_begin(&q);
  htri_t is_hdf5 = H5Fis_hdf5(path);
  if (is_hdf5 <= 0) {
    rc = qtm_h5_fail_msg(QTM_ERR_IO, err, errcap, "%s: not an HDF5 file", path);
    goto cleanup;
  }
  /* STRONG: a read-only report leaves nothing open behind it, whatever happens. */
  H5_CHECK(fapl = H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate", "file access properties");
  H5_CHECK(H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG), "H5Pset_fclose_degree", "%s", path);
  if ((file = H5Fopen(path, H5F_ACC_RDONLY, fapl)) < 0) {
    truncation t = {0, 0, 0};
    (void)H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, truncation_cb, &t);
    if (t.found)
      rc = qtm_h5_fail_msg(QTM_ERR_IO, err, errcap,
                           "%s: truncated HDF5 file: %llu of its %llu bytes", path, t.size,
                           t.expected);
    else
      rc = qtm_h5_fail(err, errcap, "H5Fopen", "%s", "(read-only)");
    goto cleanup;
  }
  htri_t ours = H5Aexists(file, "qtmscan_version");
  H5_CHECK(ours, "H5Aexists", "qtmscan_version of %s", path);
  if (!ours) {
    rc = qtm_h5_fail_msg(QTM_ERR_INVALID_ARG, err, errcap,
                  "%s: not a qtmscan file (no qtmscan_version attribute)", path);
    goto cleanup;
  }

  fprintf(out, "%-12s ", "file");
  put_line_text(out, path);
  fputc('\n', out);
  if ((rc = print_provenance(file, out, err, errcap)) != QTM_OK) goto cleanup;
  if ((rc = group_links(file, "/", &list, err, errcap)) != QTM_OK) goto cleanup;
  if (!(is_axis = calloc(list.n ? list.n : 1, sizeof *is_axis))) {
    rc = qtm_h5_fail_msg(QTM_ERR_NOMEM, err, errcap, "out of memory listing %s", path);
    goto cleanup;
  }
  if ((rc = classify(file, &list, is_axis, err, errcap)) != QTM_OK) goto cleanup;

  size_t naxes = 0, nmaps = 0;
  for (size_t i = 0; i < list.n; ++i) {
    naxes += is_axis[i] == 1;
    nmaps += is_axis[i] == 0;
  }
  fprintf(out, "\naxes (%zu)\n", naxes);
  if (naxes)
    fprintf(out, "  %-16s %10s  %-14s %-14s %s\n", "name", "size", "first", "last", "units");
  for (size_t i = 0; i < list.n; ++i)
    if (is_axis[i] == 1 && (rc = print_axis(file, list.names[i], out, err, errcap)) != QTM_OK)
      goto cleanup;
  fprintf(out, "\nmaps (%zu)\n", nmaps);
  for (size_t i = 0; i < list.n; ++i)
    if (is_axis[i] == 0 && (rc = print_map(file, list.names[i], out, err, errcap)) != QTM_OK)
      goto cleanup;
  if ((rc = print_analysis(file, out, err, errcap)) != QTM_OK) goto cleanup;
  if (fflush(out) != 0 || ferror(out))
    rc = qtm_h5_fail_msg(QTM_ERR_IO, err, errcap, "error writing the report of %s", path);

cleanup:
  free(is_axis);
  free(list.names);
  qtm_h5_close(&file, H5Fclose, "H5Fclose", path, &rc, err, errcap);
  qtm_h5_close(&fapl, H5Pclose, "H5Pclose", "file access properties", &rc, err, errcap);
  qtm_h5_quiet_end(&q);
  /* HDF5's messages (qtm_h5_fail's, which start with the call) name the object, not the file:
   * "H5Oopen TL: incorrect metadata checksum after all read attempts" becomes "scan.h5: damaged
   * or unreadable: H5Oopen TL: ...". */
  if (rc == QTM_ERR_IO && err && errcap && strncmp(err, "H5", 2) == 0) {
    char *what = strdup(err);
    if (what) {
      (void)snprintf(err, errcap, "%s: damaged or unreadable: %s", path, what);
      free(what);
    }
  }
  return rc;
}
