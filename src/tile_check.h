/* Checking the finished tiles of a resumed scan: a tile marked done is read back and compared,
 * bit for bit, with the same tile evaluated again, so that a tile damaged by a kill inside
 * HDF5's flush (HDF5 1.10 keeps no journal) is found and written again rather than trusted.
 * Reads through a second, read-only handle on the writer's file (HDF5 shares the open file).
 * Private to src/. */
#ifndef QTM_TILE_CHECK_H
#define QTM_TILE_CHECK_H

#include <stddef.h>

#include "qtm/grid.h"
#include "qtm/results.h"
#include "qtm/status.h"
#include "qtm/tile_eval.h"

typedef struct qtm_tile_check qtm_tile_check;

/* For the maps of out's observables (as stored: out->dtype) and the dense maps. */
qtm_status qtm_tile_check_open(const char *path, int naxes, int64_t max_tile_points,
                               const qtm_dense_map *dense, int ndense, qtm_tile_check **out,
                               char *err, size_t errcap);
/* *same = 1 when every map holds exactly stored's and dense's values for tile t; 0 when any
 * value differs or the tile cannot be read (a damaged chunk). Always QTM_OK: a read that fails
 * is a damaged tile, to be written again, not an error. */
qtm_status qtm_tile_check_run(qtm_tile_check *c, const qtm_tile *t, const qtm_tile_out *stored,
                              void *const *dense, int *same, char *err, size_t errcap);
void qtm_tile_check_close(qtm_tile_check *c);

#endif
