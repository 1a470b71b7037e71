/* What the writer's three files share (h5_writer.c: creating a file, writing its tiles, closing
 * it; h5_writer_resume.c: opening one to resume; h5_writer_outputs.c: the analysis' outputs):
 * the writer's state, the file's fixed names, and the helpers more than one of them calls.
 * Private to those files. */
#ifndef QTM_H5_WRITER_IMPL_H
#define QTM_H5_WRITER_IMPL_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "h5_chunks.h"
#include "h5_util.h"
#include "qtm/h5_writer.h"
#include "qtm/observables.h"

/* How a qtm_dtype is stored: file and memory types (equal bit layouts on the little-endian
 * machines qtmscan runs on, so HDF5 copies without converting) and the fill value, NaN for
 * floats and 255 for bytes (masks use 0 and 1). */
typedef struct stored_type {
  hid_t file, mem;
  union {
    float f;
    double d;
    unsigned char u;
  } fill;
} stored_type;

/* A map that tiles fill: an observable's, or a dense map of the analysis. Everything a tile's
 * write needs about it is fixed for the file and set up once, at create or resume. */
typedef struct map_slot {
  hid_t dset;
  qtm_dtype dtype;
  stored_type st;
  size_t elem; /* bytes per value */
  char *name;  /* its path, for messages (a copy: the layout's strings need not outlive create) */
} map_slot;

struct qtm_h5_writer {
  hid_t file;
  hid_t fspace; /* the maps' common file dataspace, reused for every tile's selection */
  /* The maps in the order a tile hands over their values: the observables' (nobs), then the
   * dense maps (ndense). */
  map_slot *maps;
  int nobs, ndense, nmaps;
  int obs[QTM_OBS_COUNT];
  int naxes;
  int axis_id[QTM_MAX_AXES];
  hsize_t shape[QTM_MAX_AXES];
  qtm_dtype dtype;
  int gzip_level;
  char *path;    /* for messages */
  int sys_errno; /* the first system error under a failed HDF5 call (a full disk), or 0 */
  int64_t tile_shape[QTM_MAX_AXES];
  int64_t tiles_per_axis[QTM_MAX_AXES];
  int64_t ntiles;
  hid_t done;       /* qtmscan_state/tiles_done */
  hid_t done_space; /* its file dataspace, one element selected per tile */
  hid_t one_space;  /* the memory dataspace of one mark */
  int is_virtual;   /* maps point into shard files: no tile is written */
  int parallel;     /* every rank of an MPI run writes the file together */
  int threads;      /* compressing chunks: layout->threads */
  /* Direct chunk writes (write_chunks): encoded chunks and scratch, kept from tile to tile. */
  qtm_h5_chunk_pool pool;
  qtm_h5_chunk_job *jobs; /* nmaps */
  unsigned char *pad; /* an edge tile's chunk padded to the full chunk shape (uncompressed) */
  size_t pad_bytes;
  int fd; /* the file's descriptor for start_writeback; -2 not looked up yet, -1 none */
};

/* netCDF-C's mark of a dimension scale that is a dimension only (its NAME attribute begins
 * with this text): netCDF clients then list no variable for it. */
#define NC_DIM_WITHOUT_VARIABLE "This is a netCDF dimension but not a netCDF variable."
/* Longest HDF5 path of an analysis output, with the suffixes of a table's companions. */
#define PATH_CAP 512
/* Points per chunk of a compressed map over fewer axes (float64: 512 KiB). */
#define REDUCED_CHUNK_POINTS ((hsize_t)1 << 16)
/* The resume state: a group of its own (netCDF clients show it as a group beside `analysis`,
 * xarray's root dataset does not see it), the done marks over a dimension without variable. */
#define STATE_GROUP "qtmscan_state"
#define STATE_DONE STATE_GROUP "/tiles_done"
#define STATE_DIM STATE_GROUP "/tile"
/* Marks per chunk of tiles_done (16 KiB): one chunk rewritten per tile. */
#define DONE_CHUNK ((hsize_t)1 << 14)
/* Initial (and nominal maximum) size of the metadata cache: see qtm_h5w_crash_safe_fapl. */
#define MDC_SIZE ((size_t)32 << 20)

/* ---- Shared by the writer's files ------------------------------------------------------------ */
/* Defined, and described, in h5_writer.c. */

qtm_status qtm_h5w_bad_arg(char *err, size_t errcap, const char *fmt, ...);
int qtm_h5w_stored_type_of(qtm_dtype d, stored_type *t);
qtm_status qtm_h5w_put_text_attr(hid_t obj, const char *where, const char *name, const char *text,
                                 char *err, size_t errcap);
qtm_status qtm_h5w_put_num_attr(hid_t obj, const char *where, const char *name, hid_t file_type,
                                hid_t mem_type, const void *value, char *err, size_t errcap);
qtm_status qtm_h5w_check_layout(const qtm_h5_layout *l, char *err, size_t errcap);
void qtm_h5w_quiet_begin(qtm_h5_writer *w, qtm_h5_quiet *q);
void qtm_h5w_tell_system_error(const qtm_h5_writer *w, int to_create, qtm_status rc, char *err,
                               size_t errcap);
void qtm_h5w_no_shutdown_at_exit(void);
void qtm_h5w_discard(qtm_h5_writer *w);
qtm_status qtm_h5w_writer_new(const qtm_h5_layout *layout, const char *path, qtm_h5_writer **out,
                              char *err, size_t errcap);
qtm_status qtm_h5w_make_spaces(qtm_h5_writer *w, char *err, size_t errcap);
qtm_status qtm_h5w_crash_safe_fapl(hid_t *fapl, const char *path, int parallel, char *err,
                                   size_t errcap);
void qtm_h5w_tile_start(const qtm_h5_writer *w, int64_t k, hsize_t *start);
qtm_status qtm_h5w_common_dcpl(hid_t *dcpl, const char *what, char *err, size_t errcap);
qtm_status qtm_h5w_write_whole(hid_t dset, hid_t mtype, const void *buf, int parallel,
                               const char *what, char *err, size_t errcap);
qtm_status qtm_h5w_dimension_fill(hid_t dcpl, int parallel, const char *what, char *err,
                                  size_t errcap);
qtm_status qtm_h5w_make_parent_groups(hid_t file, const char *path, char *err, size_t errcap);
qtm_status qtm_h5w_put_map_attrs(hid_t dset, const char *what, const stored_type *st,
                                 const char *units, const char *long_name, char *err,
                                 size_t errcap);

#endif
