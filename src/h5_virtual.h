/* The virtual layout of a merged file's maps (qtmscan merge --virtual): each source shard's
 * tiles mapped from its dataset of the same name. Private to src/. */
#ifndef QTM_H5_VIRTUAL_H
#define QTM_H5_VIRTUAL_H

#include <hdf5.h>
#include <stddef.h>

#include "qtm/grid.h"
#include "qtm/h5_writer.h"
#include "qtm/status.h"

/* Adds to dcpl, for every source, the mapping of the tiles it holds (runs of tiles along the
 * last axis as one block) from dataset `path` of its file; space is the maps' dataspace (the
 * shards' maps have the same). Errors name the call and the dataset. */
qtm_status qtm_h5_virtual_map(hid_t dcpl, hid_t space, const qtm_tiling *tiling,
                              const int64_t *shape, const char *path,
                              const qtm_h5_source *sources, int nsources, char *err,
                              size_t errcap);

#endif
