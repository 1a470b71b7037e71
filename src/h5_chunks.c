/* Chunks encoded as HDF5's shuffle and deflate filters encode them (h5_chunks.h), on threads
 * started for each tile: deflate is what made compressed scans run on one core (HDF5 1.10
 * filters chunks serially, in the thread that writes them). Plain pthreads rather than an
 * OpenMP team: libgomp keeps its team alive between regions, and a process that forks after a
 * tile (the kill tests; any caller that forks) would find a dead team in the child and hang in
 * its next region. Starting a few threads per tile costs microseconds against milliseconds of
 * deflate. The byte format follows HDF5 1.10's
 * H5Zshuffle.c and H5Zdeflate.c: the same zlib call (compress2 at the dataset's level) with the
 * same output capacity, so a chunk is stored exactly as H5Dwrite would have stored it. */
#include "h5_chunks.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

size_t qtm_h5_deflate_cap(size_t nbytes) {
  /* H5Z_DEFLATE_SIZE_ADJUST(s): ceil(s * (double)1.001f) + 12, the float constant included. */
  return (size_t)(ceil((double)nbytes * (double)1.001f) + 12.0);
}

void qtm_h5_chunk_pack(const void *src, size_t elem, int naxes, const int64_t *count,
                       const int64_t *chunk, const void *fill, void *dst) {
  unsigned char *d = dst;
  const unsigned char *s = src;
  int64_t chunk_points = 1;
  for (int k = 0; k < naxes; ++k) chunk_points *= chunk[k];
  for (int64_t i = 0; i < chunk_points; ++i) memcpy(d + (size_t)i * elem, fill, elem);
  if (naxes == 0) {
    memcpy(d, s, elem);
    return;
  }
  /* Rows along the last axis are contiguous in both layouts: copy row by row, the other
   * indices counted like an odometer. */
  size_t row = (size_t)count[naxes - 1] * elem;
  int64_t idx[QTM_MAX_AXES] = {0};
  for (;;) {
    int64_t at = 0;
    for (int k = 0; k < naxes - 1; ++k) at = at * chunk[k] + idx[k];
    memcpy(d + (size_t)(at * chunk[naxes - 1]) * elem, s, row);
    s += row;
    int k = naxes - 2;
    while (k >= 0 && ++idx[k] == count[k]) idx[k--] = 0;
    if (k < 0) break;
  }
}

void qtm_h5_chunk_shuffle(const void *src, size_t elem, size_t nbytes, void *dst) {
  const unsigned char *s = src;
  unsigned char *d = dst;
  size_t n = elem ? nbytes / elem : 0;
  if (elem <= 1 || n <= 1) {
    memcpy(d, s, nbytes);
    return;
  }
  /* The loops written per size let the compiler keep the element in registers. */
  if (elem == 4) {
    for (size_t i = 0; i < n; ++i) {
      d[i] = s[4 * i];
      d[n + i] = s[4 * i + 1];
      d[2 * n + i] = s[4 * i + 2];
      d[3 * n + i] = s[4 * i + 3];
    }
  } else if (elem == 8) {
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < 8; ++j) d[j * n + i] = s[8 * i + j];
  } else {
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < elem; ++j) d[j * n + i] = s[elem * i + j];
  }
  /* Bytes past the last whole element stay in place (never the case for whole chunks). */
  memcpy(d + n * elem, s + n * elem, nbytes - n * elem);
}

void qtm_h5_chunk_pool_free(qtm_h5_chunk_pool *p) {
  for (int j = 0; j < p->njobs; ++j) free(p->out[j]);
  for (int t = 0; t < 2 * p->nthreads; ++t) free(p->scratch[t]);
  free(p->out);
  free(p->scratch);
  memset(p, 0, sizeof *p);
}

qtm_status qtm_h5_chunk_pool_reserve(qtm_h5_chunk_pool *p, int njobs, size_t chunk_bytes,
                                     int nthreads) {
  if (njobs <= p->njobs && chunk_bytes <= p->chunk_bytes && nthreads <= p->nthreads)
    return QTM_OK;
  qtm_h5_chunk_pool q = {nthreads > p->nthreads ? nthreads : p->nthreads,
                         njobs > p->njobs ? njobs : p->njobs,
                         chunk_bytes > p->chunk_bytes ? chunk_bytes : p->chunk_bytes, NULL, NULL};
  size_t cap = qtm_h5_deflate_cap(q.chunk_bytes);
  if (!(q.out = calloc((size_t)q.njobs, sizeof *q.out)) ||
      !(q.scratch = calloc(2 * (size_t)q.nthreads, sizeof *q.scratch)))
    goto nomem;
  for (int j = 0; j < q.njobs; ++j)
    if (!(q.out[j] = malloc(cap))) goto nomem;
  for (int t = 0; t < 2 * q.nthreads; ++t)
    if (!(q.scratch[t] = malloc(q.chunk_bytes))) goto nomem;
  qtm_h5_chunk_pool_free(p);
  *p = q;
  return QTM_OK;
nomem:
  if (q.out)
    for (int j = 0; j < q.njobs; ++j) free(q.out[j]);
  if (q.scratch)
    for (int t = 0; t < 2 * q.nthreads; ++t) free(q.scratch[t]);
  free(q.out);
  free(q.scratch);
  return QTM_ERR_NOMEM;
}

/* What the threads of one qtm_h5_chunks_deflate share: the jobs, taken in turn (one chunk at a
 * time, so that chunks of different sizes and element types balance out). */
typedef struct deflate_run {
  qtm_h5_chunk_pool *pool;
  qtm_h5_chunk_job *jobs;
  int njobs, naxes, level;
  const int64_t *count, *chunk;
  int64_t chunk_points;
  int whole;
  atomic_int next;
  atomic_int failed; /* the first job whose deflate failed, + 1 */
} deflate_run;

typedef struct deflate_worker {
  deflate_run *run;
  int slot; /* which pair of scratch buffers */
} deflate_worker;

static void encode(deflate_run *r, int j, int slot) {
  qtm_h5_chunk_job *job = &r->jobs[j];
  unsigned char *packed = r->pool->scratch[2 * slot], *shuffled = r->pool->scratch[2 * slot + 1];
  size_t nbytes = (size_t)r->chunk_points * job->elem;
  const unsigned char *in = job->src;
  if (!r->whole) {
    qtm_h5_chunk_pack(job->src, job->elem, r->naxes, r->count, r->chunk, job->fill, packed);
    in = packed;
  }
  if (job->elem > 1 && r->chunk_points > 1) {
    qtm_h5_chunk_shuffle(in, job->elem, nbytes, shuffled);
    in = shuffled;
  }
  job->out = r->pool->out[j];
  uLongf zsize = (uLongf)qtm_h5_deflate_cap(nbytes); /* HDF5's capacity for this chunk */
  int z = compress2(job->out, &zsize, in, (uLong)nbytes, r->level);
  if (z == Z_OK) {
    job->size = (size_t)zsize;
    job->filter_mask = 0;
  } else if (z == Z_BUF_ERROR) { /* HDF5 skips the optional deflate: bit 1 of the mask */
    memcpy(job->out, in, nbytes);
    job->size = nbytes;
    job->filter_mask = 0x2;
  } else {
    int none = 0;
    (void)atomic_compare_exchange_strong(&r->failed, &none, j + 1);
  }
}

static void *deflate_main(void *arg) {
  deflate_worker *me = arg;
  for (int j; (j = atomic_fetch_add(&me->run->next, 1)) < me->run->njobs;)
    encode(me->run, j, me->slot);
  return NULL;
}

qtm_status qtm_h5_chunks_deflate(qtm_h5_chunk_pool *p, qtm_h5_chunk_job *jobs, int njobs,
                                 int naxes, const int64_t *count, const int64_t *chunk, int level,
                                 char *err, size_t errcap) {
  deflate_run r;
  r.pool = p;
  r.jobs = jobs;
  r.njobs = njobs;
  r.naxes = naxes;
  r.level = level;
  r.count = count;
  r.chunk = chunk;
  r.chunk_points = 1;
  int64_t points = 1;
  for (int k = 0; k < naxes; ++k) {
    r.chunk_points *= chunk[k];
    points *= count[k];
  }
  r.whole = points == r.chunk_points;
  atomic_init(&r.next, 0);
  atomic_init(&r.failed, 0);
  int nthreads = p->nthreads < njobs ? p->nthreads : njobs;
  deflate_worker workers[QTM_H5_CHUNK_MAX_THREADS];
  pthread_t threads[QTM_H5_CHUNK_MAX_THREADS];
  int started = 0;
  if (nthreads > QTM_H5_CHUNK_MAX_THREADS) nthreads = QTM_H5_CHUNK_MAX_THREADS;
  /* This thread is worker 0; a thread that cannot start leaves its share to the others. */
  for (int t = 1; t < nthreads; ++t) {
    workers[started + 1] = (deflate_worker){&r, started + 1};
    if (pthread_create(&threads[started + 1], NULL, deflate_main, &workers[started + 1]) != 0)
      break;
    ++started;
  }
  workers[0] = (deflate_worker){&r, 0};
  (void)deflate_main(&workers[0]);
  for (int t = 1; t <= started; ++t) (void)pthread_join(threads[t], NULL);
  int failed = atomic_load(&r.failed);
  if (failed) {
    if (err && errcap)
      (void)snprintf(err, errcap, "deflate of chunk %d failed (zlib out of memory)", failed - 1);
    return QTM_ERR_NOMEM;
  }
  return QTM_OK;
}
