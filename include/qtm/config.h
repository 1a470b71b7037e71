/* Scan configuration: a YAML file (libfyaml) naming the axes, the fixed parameters, the
 * observables and the output, turned into a validated grid. Every error names the file (or
 * the --set override) with line and column. */
#ifndef QTM_CONFIG_H
#define QTM_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "qtm/analysis.h"
#include "qtm/grid.h"
#include "qtm/status.h"
#include "qtm/tile_eval.h"

#define QTM_DEFAULT_TILE_POINTS ((int64_t)1 << 18)

typedef struct qtm_config {
  char *path;        /* the config file as given */
  char *text;        /* the effective config (file text, or re-emitted YAML after --set) */
  char *title;       /* top-level `title:`, or a default naming the file */
  qtm_grid grid;     /* axes in config order (the first varies slowest) and fixed parameters */
  int nobs;          /* observables to store, in config order (may be 0) */
  int obs[QTM_OBS_COUNT];
  char *output_path; /* output.path */
  qtm_dtype dtype;   /* output.dtype: float32 (default) or float64 */
  int gzip_level;    /* output.compression: 0 for none (default), 1..9 for gzip-N with shuffle */
  int64_t tile_points; /* output.tile_points: points per tile and HDF5 chunk */
  qtm_analysis_spec analysis; /* the `analysis:` section; .enabled = 0 when absent */
} qtm_config;

#ifdef __cplusplus
extern "C" {
#endif

/* Loads and validates a config file; sets[0..nsets) are --set overrides "key.path=value"
 * applied first (value is YAML, e.g. "fixed.TR=0.1", "observables=[J, contrast]").
 * QTM_ERR_INVALID_ARG with err = "FILE:LINE:COL: message" (or "--set KEY=VALUE: message")
 * on any error; QTM_ERR_IO when the file cannot be read. cfg is zeroed first and must be freed
 * with qtm_config_free whatever the result. */
qtm_status qtm_config_load(const char *path, const char *const *sets, int nsets, qtm_config *cfg,
                           char *err, size_t errcap);
/* The same from text in memory; `name` stands for the file name in messages. */
qtm_status qtm_config_load_text(const char *name, const char *text, size_t len,
                                const char *const *sets, int nsets, qtm_config *cfg, char *err,
                                size_t errcap);
void qtm_config_free(qtm_config *cfg);

/* A hash (16 hex digits) of everything that decides the output's contents: axes, coordinates,
 * fixed parameters, observables, dtype, compression, tiling, analysis; not the output path or
 * the title. Partial files and shards record it. */
void qtm_config_fingerprint(const qtm_config *cfg, char *out, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
