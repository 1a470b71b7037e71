/* A tile's chunks encoded outside HDF5, byte for byte as HDF5's own pipeline would encode them
 * (the chunk padded to the full chunk shape with the fill value, then shuffle, then deflate as
 * H5Pset_shuffle + H5Pset_deflate do), so that the writer can hand them to H5Dwrite_chunk and
 * compress them on every core while HDF5 itself runs on one thread. No HDF5 call in here:
 * everything is safe to run on a pool of threads. Private to src/. */
#ifndef QTM_H5_CHUNKS_H
#define QTM_H5_CHUNKS_H

#include <stddef.h>
#include <stdint.h>

#include "qtm/grid.h"
#include "qtm/status.h"

/* One chunk to encode: in src, count[] values (the tile's extent, row-major) of elem bytes;
 * out receives the chunk as stored (size bytes) with the filter mask H5Dwrite_chunk takes. */
typedef struct qtm_h5_chunk_job {
  const void *src;
  size_t elem;
  const void *fill; /* elem bytes: the dataset's fill value as stored */
  unsigned char *out;
  size_t size;
  unsigned filter_mask;
} qtm_h5_chunk_job;

/* Threads a pool starts at most (the calling thread included). */
#define QTM_H5_CHUNK_MAX_THREADS 256

/* Buffers reused from tile to tile: one output per chunk, scratch per thread. */
typedef struct qtm_h5_chunk_pool {
  int nthreads;
  int njobs;
  size_t chunk_bytes; /* the largest chunk's raw size the buffers hold */
  unsigned char **out;     /* njobs buffers of qtm_h5_deflate_cap(chunk_bytes) */
  unsigned char **scratch; /* 2 * nthreads buffers of chunk_bytes */
} qtm_h5_chunk_pool;

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes of the output buffer HDF5 1.10's deflate filter gives zlib (H5Z_DEFLATE_SIZE_ADJUST):
 * a chunk that does not fit is stored by HDF5 without deflate (the filter is optional), and is
 * here too. */
size_t qtm_h5_deflate_cap(size_t nbytes);

/* Copies count[] values of elem bytes (row-major) into a chunk of shape chunk[] (row-major),
 * every position beyond count filled with fill. */
void qtm_h5_chunk_pack(const void *src, size_t elem, int naxes, const int64_t *count,
                       const int64_t *chunk, const void *fill, void *dst);

/* HDF5's shuffle filter: byte j of element i goes to j * n + i (n = nbytes / elem); no change
 * for 1-byte elements or a single element, as in H5Z_filter_shuffle. */
void qtm_h5_chunk_shuffle(const void *src, size_t elem, size_t nbytes, void *dst);

/* Makes the pool hold njobs chunks of up to chunk_bytes for nthreads threads (grows, never
 * shrinks). QTM_ERR_NOMEM when memory runs out (the pool stays valid). */
qtm_status qtm_h5_chunk_pool_reserve(qtm_h5_chunk_pool *p, int njobs, size_t chunk_bytes,
                                     int nthreads);
void qtm_h5_chunk_pool_free(qtm_h5_chunk_pool *p);

/* Encodes jobs[0..njobs) (each job's out set to the pool's buffer j) on up to the pool's
 * nthreads threads (started here, joined before returning; the caller is one of them):
 * pack (when count differs from chunk), shuffle, deflate at `level` (1..9) into out with the
 * capacity HDF5 gives, or shuffled bytes with filter mask 0x2 (deflate skipped) where it does
 * not fit. QTM_ERR_NOMEM (zlib out of memory) with the message in err. */
qtm_status qtm_h5_chunks_deflate(qtm_h5_chunk_pool *p, qtm_h5_chunk_job *jobs, int njobs,
                                 int naxes, const int64_t *count, const int64_t *chunk, int level,
                                 char *err, size_t errcap);

#ifdef __cplusplus
}
#endif

#endif
