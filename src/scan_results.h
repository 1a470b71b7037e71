/* What a scan stores after its last tile: the finished analysis (a whole scan, a merge) or
 * the analysis' partial state (a shard). Shared by `run` and `merge`. Private to src/. */
#ifndef QTM_SCAN_RESULTS_H
#define QTM_SCAN_RESULTS_H

#include <stddef.h>

#include "qtm/analysis.h"
#include "qtm/h5_writer.h"
#include "qtm/status.h"

/* Finishes the analysis (onsets, refinements) and puts its maps, tables and attributes. */
qtm_status qtm_scan_write_analysis(qtm_analysis *an, qtm_h5_writer *w, char *err, size_t errcap);

/* Puts the analysis' partial state, for the merge of the shards. */
qtm_status qtm_scan_write_state(qtm_analysis *an, qtm_h5_writer *w, char *err, size_t errcap);

#endif
