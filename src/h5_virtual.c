/* Virtual maps of a merged file: the source selection of a shard equals its selection in the
 * merged map (the shards' maps span the whole grid, NaN where they hold nothing), so one
 * hyperslab union per shard and map is the whole mapping. */
#include "h5_virtual.h"

#include "h5_util.h"

/* The tile's block: start and count along every axis. */
static void tile_block(const qtm_tiling *t, const int64_t *shape, int64_t k, hsize_t *start,
                       hsize_t *count) {
  for (int a = t->naxes - 1; a >= 0; --a) {
    int64_t s = k % t->tiles_per_axis[a] * t->tile_shape[a];
    int64_t left = shape[a] - s;
    start[a] = (hsize_t)s;
    count[a] = (hsize_t)(left < t->tile_shape[a] ? left : t->tile_shape[a]);
    k /= t->tiles_per_axis[a];
  }
}

/* Selects in sel the tiles the source holds; *any = 0 when it holds none. */
static qtm_status select_tiles(hid_t sel, const qtm_tiling *t, const int64_t *shape,
                               const unsigned char *tiles, int *any, char *err, size_t errcap) {
  qtm_status rc = QTM_OK;
  int last = t->naxes - 1;
  *any = 0;
  H5_CHECK(H5Sselect_none(sel), "H5Sselect_none", "a shard's tiles");
  for (int64_t k = 0; k < t->ntiles;) {
    if (!tiles[k]) {
      ++k;
      continue;
    }
    hsize_t start[QTM_MAX_AXES], count[QTM_MAX_AXES], s2[QTM_MAX_AXES], c2[QTM_MAX_AXES];
    tile_block(t, shape, k, start, count);
    int64_t end = k + 1; /* a run of held tiles along the last axis is one block */
    while (last >= 0 && end < t->ntiles && tiles[end] && end % t->tiles_per_axis[last] != 0) {
      tile_block(t, shape, end, s2, c2);
      count[last] += c2[last];
      ++end;
    }
    H5_CHECK(H5Sselect_hyperslab(sel, *any ? H5S_SELECT_OR : H5S_SELECT_SET, start, NULL, count,
                                 NULL),
             "H5Sselect_hyperslab", "tiles %lld..%lld", (long long)k, (long long)end - 1);
    *any = 1;
    k = end;
  }
cleanup:
  return rc;
}

qtm_status qtm_h5_virtual_map(hid_t dcpl, hid_t space, const qtm_tiling *tiling,
                              const int64_t *shape, const char *path,
                              const qtm_h5_source *sources, int nsources, char *err,
                              size_t errcap) {
  qtm_status rc = QTM_OK;
  hid_t sel = H5I_INVALID_HID;
  H5_CHECK(sel = H5Scopy(space), "H5Scopy", "virtual map %s", path);
  for (int i = 0; i < nsources; ++i) {
    int any = 1;
    if (tiling->naxes > 0) {
      if ((rc = select_tiles(sel, tiling, shape, sources[i].tiles, &any, err, errcap)) !=
          QTM_OK)
        goto cleanup;
    } else {
      any = sources[i].tiles[0]; /* a grid of one point: the whole (scalar) map */
      H5_CHECK(H5Sselect_all(sel), "H5Sselect_all", "virtual map %s", path);
    }
    if (!any) continue;
    H5_CHECK(H5Pset_virtual(dcpl, sel, sources[i].file, path, sel), "H5Pset_virtual",
             "map %s from %s", path, sources[i].file);
  }
cleanup:
  qtm_h5_close(&sel, H5Sclose, "H5Sclose", "virtual selection", &rc, err, errcap);
  return rc;
}
