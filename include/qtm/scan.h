/* A whole scan: config -> tiles -> backend -> HDF5 writer thread -> NAME.partial -> NAME.
 * The next tile is evaluated while the last one is written (two tile buffers); all HDF5 calls
 * happen on one thread at a time. The output appears under its name only when complete. */
#ifndef QTM_SCAN_H
#define QTM_SCAN_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "qtm/backend.h"
#include "qtm/config.h"
#include "qtm/status.h"

typedef struct qtm_scan_options {
  qtm_backend_kind backend;
  int threads;                 /* CPU threads, 0 for every core */
  int quiet;                   /* no progress line and no notices */
  int force;                   /* overwrite an existing output, or start over a partial one */
  int resume;                  /* continue NAME.partial of an interrupted run, if there is one */
  int no_verify;               /* resume: trust the tiles marked done (else each is evaluated
                                * again and compared, and written again if it differs) */
  const char *output_path;     /* NULL: the config's output.path */
  const char *command_line;    /* recorded in the file */
  FILE *log;                   /* progress and notices (stderr), NULL for none */
  volatile sig_atomic_t *stop; /* set by a signal handler: stop after the tile in flight */
  /* A shard (shard_count > 0): only slab shard_index of shard_count of the tile sequence,
   * written to qtm_scan_shard_path of the output with the analysis' partial state; `qtmscan
   * merge` makes the whole file of all the shards. */
  int shard_index, shard_count;
} qtm_scan_options;

typedef struct qtm_scan_summary {
  int64_t points, tiles;
  int64_t tiles_done_before; /* tiles a resumed run found finished */
  int64_t tiles_done;        /* tiles finished now (of `tiles`), also after an interruption */
  int64_t tiles_verified;    /* resume: finished tiles evaluated again and compared */
  int64_t tiles_repaired;    /* of those, the ones that differed and were written again */
  double seconds, points_per_second;
  char backend[16];
  char device[160];
  char output[4096];
} qtm_scan_summary;

typedef struct qtm_scan_estimate {
  int64_t points, tiles, tile_points; /* the whole grid */
  /* What this job computes: tiles [first_tile, end_tile) of job_points points, the whole grid
   * or, with --shard K/N (shard_count > 0), slab shard_index of shard_count */
  int shard_index, shard_count;
  int64_t first_tile, end_tile, job_points;
  char output[4096];        /* the file it writes: the output, or its shard's file */
  double output_bytes;      /* that file: its uncompressed maps plus coordinates */
  double sample_points;     /* points evaluated to measure the rate */
  double points_per_second; /* measured on the sample, compute only */
  double expected_seconds;  /* for job_points */
  char backend[16];
  char device[160];
} qtm_scan_estimate;

/* Runs the scan. QTM_ERR_EXISTS when the output exists and force is off, or when an
 * interrupted run's NAME.partial exists and neither resume nor force is set (nothing is
 * touched); QTM_ERR_INTERRUPTED when *stop was set: NAME.partial is left resumable, its
 * finished tiles marked, NAME untouched; any other error likewise leaves NAME untouched. With
 * resume: NAME complete already -> QTM_OK, nothing done; no NAME.partial -> a fresh run. */
qtm_status qtm_scan_run(const qtm_config *cfg, const qtm_scan_options *opt, qtm_scan_summary *sum,
                        char *err, size_t errcap);

/* --dry-run: the grid and output sizes, and the time expected from a timed sample tile. */
qtm_status qtm_scan_estimate_run(const qtm_config *cfg, const qtm_scan_options *opt,
                                 qtm_scan_estimate *est, char *err, size_t errcap);

/* Slab k of n (0 <= k < n) of ntiles tiles: [*first, *end), contiguous, the slabs' sizes
 * differing by at most one tile. */
void qtm_scan_shard_range(int64_t ntiles, int k, int n, int64_t *first, int64_t *end);

/* The file of shard k of n of output `out`: out with its ".h5" (if any) replaced by
 * ".shard-K-of-N.h5", K zero-padded to N's digits (results/x.h5 -> results/x.shard-03-of-12.h5).
 * Returns 0 when it does not fit in cap. */
int qtm_scan_shard_path(const char *out, int k, int n, char *buf, size_t cap);

/* The current UTC time as ISO 8601, e.g. 2026-11-24T22:04:29Z. */
void qtm_utc_now(char *buf, size_t cap);

#endif
