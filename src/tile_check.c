/* Checking a resumed scan's finished tiles against a new evaluation: see tile_check.h. */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include "tile_check.h"

#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

#include "h5_util.h"
#include "qtm/observables.h"

struct qtm_tile_check {
  hid_t file;
  char *path;
  int naxes;
  const qtm_dense_map *dense;
  int ndense;
  void *buf; /* one map of one tile, as read */
};


void qtm_tile_check_close(qtm_tile_check *c) {
  if (!c) return;
  if (c->file >= 0) {
    H5E_BEGIN_TRY { H5Fclose(c->file); }
    H5E_END_TRY;
  }
  free(c->path);
  free(c->buf);
  free(c);
}

qtm_status qtm_tile_check_open(const char *path, int naxes, int64_t max_tile_points,
                               const qtm_dense_map *dense, int ndense, qtm_tile_check **out,
                               char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  qtm_h5_quiet q;
  *out = NULL;
  qtm_tile_check *c = calloc(1, sizeof *c);
  if (!c || !(c->path = strdup(path)) ||
      !(c->buf = malloc((size_t)(max_tile_points > 0 ? max_tile_points : 1) * sizeof(double)))) {
    if (c) free(c->path);
    free(c);
    return qtm_h5_fail_msg(QTM_ERR_NOMEM, err, errcap, "out of memory to check finished tiles");
  }
  c->file = H5I_INVALID_HID;
  c->naxes = naxes;
  c->dense = dense;
  c->ndense = ndense;
  hid_t fapl = H5I_INVALID_HID;
  qtm_h5_quiet_begin(&q);
  /* HDF5 shares the writer's open file with this handle only under the same close degree */
  H5_CHECK(fapl = H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate", "file access properties");
  H5_CHECK(H5Pset_fclose_degree(fapl, H5F_CLOSE_SEMI), "H5Pset_fclose_degree", "%s", path);
  H5_CHECK(c->file = H5Fopen(path, H5F_ACC_RDONLY, fapl), "H5Fopen", "%s (to check its "
           "finished tiles)", path);
cleanup:
  qtm_h5_close(&fapl, H5Pclose, "H5Pclose", "file access properties", &rc, err, errcap);
  qtm_h5_quiet_end(&q);
  if (rc != QTM_OK) qtm_tile_check_close(c);
  else *out = c;
  return rc;
}

/* 1 when the map `name` holds exactly values (t->npoints of dtype) for tile t. */
static int map_matches(qtm_tile_check *c, const char *name, const qtm_tile *t, qtm_dtype dtype,
                       const void *values) {
  char ignored[256];
  if (qtm_h5_read_tile(c->file, c->path, name, t, c->naxes, dtype, c->buf, ignored,
                       sizeof ignored) != QTM_OK)
    return 0; /* unreadable: a damaged chunk, written again */
  return memcmp(c->buf, values, (size_t)t->npoints * qtm_dtype_size(dtype)) == 0;
}

qtm_status qtm_tile_check_run(qtm_tile_check *c, const qtm_tile *t, const qtm_tile_out *stored,
                              void *const *dense, int *same, char *err, size_t errcap) {
  (void)err, (void)errcap;
  *same = 1;
  for (int j = 0; *same && j < stored->nobs; ++j)
    *same = map_matches(c, qtm_obs_table[stored->obs[j]].name, t, stored->dtype, stored->data[j]);
  for (int m = 0; *same && m < c->ndense; ++m)
    *same = map_matches(c, c->dense[m].name, t, c->dense[m].dtype, dense[m]);
  return QTM_OK;
}
