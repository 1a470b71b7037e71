/* `qtmscan merge OUT SHARD...`: joins the shard files of a split scan (qtmscan run --shard K/N)
 * into one file equal to a single run's, maps and analysis: after checking that every shard
 * belongs to the same config and that together they hold every tile exactly once. A real copy,
 * or (virtual) an HDF5 virtual-dataset file whose maps read from the shards. */
#ifndef QTM_MERGE_H
#define QTM_MERGE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "qtm/status.h"

typedef struct qtm_merge_options {
  int force;                /* overwrite OUT, or replace a merge's leftover OUT.partial */
  int virtual_maps;         /* maps as virtual datasets into the shards (which must stay) */
  int quiet;                /* no notices */
  const char *command_line; /* recorded in the file */
  FILE *log;                /* notices (stderr), NULL for none */
} qtm_merge_options;

typedef struct qtm_merge_summary {
  int64_t points, tiles;
  int shards;
} qtm_merge_summary;

/* QTM_ERR_INVALID_ARG for shards that do not fit together (another config, missing or doubled
 * tiles: the message names the tiles and files), QTM_ERR_EXISTS for an existing OUT without
 * force, QTM_ERR_IO for unreadable or damaged input or a failed write. OUT appears only when
 * complete (written as OUT.partial); the shards are only read. */
qtm_status qtm_merge_run(const char *out, const char *const *shards, int nshards,
                         const qtm_merge_options *opt, qtm_merge_summary *sum, char *err,
                         size_t errcap);

#endif
