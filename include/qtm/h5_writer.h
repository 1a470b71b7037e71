/* The HDF5 output of a scan, readable as netCDF-4: one dataset per observable at the root,
 * shaped by the axes and chunked by tiles; one coordinate dataset per axis, a dimension scale
 * attached to every map; units, long names, NaN fill values, provenance attributes. Not
 * thread-safe (neither is the HDF5 library): one thread at a time. */
#ifndef QTM_H5_WRITER_H
#define QTM_H5_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "qtm/grid.h"
#include "qtm/results.h"
#include "qtm/status.h"
#include "qtm/tile_eval.h"

typedef struct qtm_h5_writer qtm_h5_writer;

/* A shard file a merged file's maps point into (qtmscan merge --virtual): `file` as the merged
 * file will name it, and tiles[0..ntiles) 1 for every tile it holds. */
typedef struct qtm_h5_source {
  const char *file;
  const unsigned char *tiles;
} qtm_h5_source;

typedef struct qtm_h5_layout {
  const qtm_grid *grid;
  const qtm_tiling *tiling; /* chunk shape = tiling->tile_shape */
  int nobs;
  const int *obs;
  qtm_dtype dtype;
  int gzip_level; /* 0 none, 1..9 gzip with shuffle */
  int ndense;     /* dense maps beyond the observables (the analysis'), chunked likewise */
  const qtm_dense_map *dense;
  /* With sources, every map (observables and dense maps) is an HDF5 virtual dataset whose
   * tiles are read from the source holding them; every tile is marked done at create and no
   * tile is written. The sources must hold each tile exactly once. */
  int nsources;
  const qtm_h5_source *sources;
  /* Written by every rank of an MPI run together (parallel HDF5, MPI_COMM_WORLD; a QTM_MPI
   * build): every call below is then collective, made by all ranks with the same arguments
   * except the tiles; a rank with no tile in a round calls qtm_h5_writer_skip_round. */
  int parallel;
  int threads; /* threads compressing chunks (the scan's --threads); 0: as OpenMP would use */
} qtm_h5_layout;

typedef struct qtm_h5_provenance {
  const char *title;
  const char *config_path;
  const char *config_text;
  const char *command_line;
  const char *backend;    /* "cpu" / "cuda" */
  const char *device;
  const char *start_time; /* ISO 8601 UTC */
  const char *fingerprint; /* qtm_config_fingerprint: which config the tiles belong to */
  /* A shard (shard_count > 0): shard shard_index of shard_count holds the tiles
   * [shard_first_tile, shard_end_tile); recorded as root attributes and checked on resume. */
  int shard_index, shard_count;
  int64_t shard_first_tile, shard_end_tile;
  const char *merged_from; /* a merged file: its shards' names, one per line (else NULL) */
} qtm_h5_provenance;

#ifdef __cplusplus
extern "C" {
#endif

/* Creates the file at path (the caller passes NAME.partial), failing with QTM_ERR_EXISTS if it
 * exists; other failures give QTM_ERR_IO (QTM_ERR_INVALID_ARG for a bad layout) and remove the
 * half-built file. err names the failing HDF5 call and object. */
qtm_status qtm_h5_writer_create(const char *path, const qtm_h5_layout *layout,
                                const qtm_h5_provenance *prov, qtm_h5_writer **out, char *err,
                                size_t errcap);
/* Opens the NAME.partial of an interrupted scan to continue it. Refuses (QTM_ERR_INVALID_ARG,
 * saying which) a file whose config fingerprint or layout differs, and reports a damaged or
 * foreign file as QTM_ERR_IO. done[0..ntiles) (the caller's array) receives 1 for every tile
 * whose data were durably written and marked, 0 for the others. */
qtm_status qtm_h5_writer_resume(const char *path, const qtm_h5_layout *layout,
                                const qtm_h5_provenance *prov, unsigned char *done,
                                qtm_h5_writer **out, char *err, size_t errcap);

/* Writes one tile of every map (out's arrays: tile->npoints values each, row-major) and of every
 * dense map (dense[m]: tile->npoints values of layout->dense[m].dtype; NULL when ndense = 0),
 * flushes, then marks the tile done and flushes again: after a kill, a tile marked done is
 * complete in the file. */
qtm_status qtm_h5_writer_write_tile(qtm_h5_writer *w, const qtm_tile *tile, const qtm_tile_out *out,
                                    const void *const *dense, char *err, size_t errcap);
/* A chunk as a file stores it (after its filters): what H5Dread_chunk gives and
 * H5Dwrite_chunk takes. */
typedef struct qtm_h5_raw_chunk {
  uint32_t filter_mask;
  size_t size;
  const void *data;
} qtm_h5_raw_chunk;

/* Writes tile's chunk of every map as stored bytes (raw[0..nobs) the observables', then the
 * dense maps'), copied from a file of the same layout (the merge copies shards' chunks without
 * decoding them), then marks it done as write_tile does. Serial files with axes only. */
qtm_status qtm_h5_writer_write_raw_tile(qtm_h5_writer *w, const qtm_tile *tile,
                                        const qtm_h5_raw_chunk *raw, char *err, size_t errcap);
/* In a parallel file: this rank's part of a round of write_tile calls when it has no tile. */
qtm_status qtm_h5_writer_skip_round(qtm_h5_writer *w, char *err, size_t errcap);
/* After the last tile, before finish: the analysis' maps over fewer axes, tables, attributes. */
qtm_status qtm_h5_writer_put_reduced(qtm_h5_writer *w, const qtm_reduced_map *m, char *err,
                                     size_t errcap);
qtm_status qtm_h5_writer_put_table(qtm_h5_writer *w, const qtm_table *t, char *err, size_t errcap);
qtm_status qtm_h5_writer_put_attr(qtm_h5_writer *w, const qtm_scalar_attr *a, char *err,
                                  size_t errcap);
/* A shard's partial analysis state (analysis.h), as qtmscan_state/analysis/NAME. */
qtm_status qtm_h5_writer_put_state(qtm_h5_writer *w, const qtm_state_array *a, char *err,
                                   size_t errcap);
/* Writes the closing attributes (end_time, points_per_second), flushes, closes and frees w. */
qtm_status qtm_h5_writer_finish(qtm_h5_writer *w, const char *end_time, double points_per_second,
                                char *err, size_t errcap);
/* Closes and frees w without the closing attributes (a failed or interrupted run). */
void qtm_h5_writer_abort(qtm_h5_writer *w);

/* `qtmscan info`: prints a scan file's axes (name, size, range, units), maps (shape, dtype,
 * min, max, NaN count), and provenance attributes to out. */
qtm_status qtm_h5_info_print(const char *path, FILE *out, char *err, size_t errcap);

#ifdef __cplusplus
}
#endif

#endif
