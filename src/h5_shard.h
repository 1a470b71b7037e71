/* Reading the shard files of a split scan (`qtmscan run --shard K/N`) for `qtmscan merge`:
 * checked on open (an HDF5 file, written by qtmscan, a shard, complete), then its config,
 * tile marks, tiles of any map and the analysis' partial state. Private to src/. */
#ifndef QTM_H5_SHARD_H
#define QTM_H5_SHARD_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "qtm/grid.h"
#include "qtm/results.h"
#include "qtm/status.h"
#include "qtm/tile_eval.h"

typedef struct qtm_h5_shard {
  char *path;
  hid_t file;     /* H5I_INVALID_HID while released */
  struct stat id; /* the file as opened: a reopen must find the same one */
  char *config_text, *config_path, *fingerprint, *backend, *device;
  int64_t index, count, first_tile, end_tile; /* shard `index` of `count` */
  double points_per_second;
  int64_t ntiles;
  unsigned char *done; /* ntiles marks: the tiles the shard holds */
} qtm_h5_shard;

/* Opens path read-only. Errors (QTM_ERR_IO, message naming path): unreadable, a directory,
 * not HDF5, truncated, not written by qtmscan, a whole scan rather than a shard, a shard not
 * finished (no `complete` mark), damaged marks. */
qtm_status qtm_h5_shard_open(const char *path, qtm_h5_shard **out, char *err, size_t errcap);
void qtm_h5_shard_close(qtm_h5_shard *s);

/* A merge may be given more shards than a process may hold open files (ulimit -n, often 1024):
 * it holds one at a time. _release closes the file and keeps what was read from it; _reacquire
 * opens it again (nothing to do when open), refusing (QTM_ERR_IO, naming it) a file that is no
 * longer the one opened first: another device or inode, size or modification time. */
void qtm_h5_shard_release(qtm_h5_shard *s);
qtm_status qtm_h5_shard_reacquire(qtm_h5_shard *s, char *err, size_t errcap);

/* Reads tile t of the full-grid dataset `name` into buf (qtm_h5_read_tile). */
qtm_status qtm_h5_shard_read_tile(const qtm_h5_shard *s, const char *name, const qtm_tile *t,
                                  int naxes, qtm_dtype dtype, void *buf, char *err,
                                  size_t errcap);

/* The stored bytes (after the filters) of tile t's chunk of the full-grid dataset `name`: a
 * new buffer in *data (the caller frees it), its size and filter mask. A tile is one chunk (the
 * chunk shape is the tile shape); the chunk must be there (QTM_ERR_IO otherwise). */
qtm_status qtm_h5_shard_read_chunk(const qtm_h5_shard *s, const char *name, const qtm_tile *t,
                                   int naxes, void **data, size_t *size, uint32_t *filter_mask,
                                   char *err, size_t errcap);

/* Reads the analysis' partial state (qtmscan_state/analysis/\*) into arrays[0..*n) (at most
 * cap; the caller frees each data). */
qtm_status qtm_h5_shard_read_state(const qtm_h5_shard *s, qtm_state_array *arrays, int cap,
                                   int *n, char *err, size_t errcap);

#endif
