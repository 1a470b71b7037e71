/* The fingerprint of a scan: a hash of everything in the config that decides the contents of
 * the output (axes and their coordinates, fixed parameters, observables, storage, tiling,
 * analysis), not where it is written or what it is called. A partial file or a shard records
 * it, so that resuming or merging refuses pieces of another scan. */
#include <stdio.h>
#include <string.h>

#include "qtm/config.h"

typedef struct fnv {
  uint64_t h;
} fnv;

/* FNV-1a, 64 bits: not cryptographic; it tells different configs apart, which is its job. */
static void feed(fnv *f, const void *data, size_t n) {
  const unsigned char *p = data;
  for (size_t i = 0; i < n; ++i) {
    f->h ^= p[i];
    f->h *= 0x100000001b3ull;
  }
}

static void feed_i64(fnv *f, int64_t v) { feed(f, &v, sizeof v); }
static void feed_f64(fnv *f, double v) { feed(f, &v, sizeof v); }

void qtm_config_fingerprint(const qtm_config *cfg, char *out, size_t cap) {
  fnv f = {0xcbf29ce484222325ull};
  const char tag[] = "qtmscan-config-v1";
  feed(&f, tag, sizeof tag);
  const qtm_grid *g = &cfg->grid;
  feed_i64(&f, g->desc.naxes);
  for (int k = 0; k < g->desc.naxes; ++k) {
    feed_i64(&f, g->desc.axis_id[k]);
    feed_i64(&f, g->desc.shape[k]);
    for (int64_t i = 0; i < g->desc.shape[k]; ++i) feed_f64(&f, g->values[g->desc.offset[k] + i]);
  }
  for (int id = 0; id < QTM_PARAM_COUNT; ++id)
    feed_f64(&f, qtm_params_get(&g->desc.fixed, (qtm_param_id)id));
  feed_i64(&f, cfg->nobs);
  for (int j = 0; j < cfg->nobs; ++j) feed_i64(&f, cfg->obs[j]);
  feed_i64(&f, cfg->dtype);
  feed_i64(&f, cfg->gzip_level);
  feed_i64(&f, cfg->tile_points);
  const qtm_analysis_spec *a = &cfg->analysis;
  feed_i64(&f, a->enabled);
  if (a->enabled) {
    feed_i64(&f, a->noptimize);
    for (int j = 0; j < a->noptimize; ++j) feed_i64(&f, a->optimize[j]);
    feed_i64(&f, a->top_k);
    feed_f64(&f, a->min_current);
    feed_i64(&f, a->refine);
    /* fed only when set, so that files written before the option keep their fingerprint */
    if (a->no_point_maps) feed_i64(&f, -1);
  }
  snprintf(out, cap, "%016llx", (unsigned long long)f.h);
}
