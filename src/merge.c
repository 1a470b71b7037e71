/* Joining the shards of a split scan: checks (same config, every tile exactly once), then the
 * maps tile by tile from the shard holding each (or, virtual, mappings into the shards), the
 * analysis merged from the shards' partial states and finished as a single run finishes it,
 * and the file published like a run's: built as OUT.partial, named OUT when complete. */
#define _XOPEN_SOURCE 700 /* realpath */
#include "qtm/merge.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5_shard.h"
#include "fail.h"
#include "output_file.h"
#include "qtm/analysis.h"
#include "qtm/config.h"
#include "qtm/h5_writer.h"
#include "qtm/observables.h"
#include "qtm/scan.h"
#include "scan_results.h"

/* Runs of missing or doubled tiles named in one error before "and more". */
#define MAX_RUNS_TOLD 4

typedef struct merge {
  const qtm_merge_options *opt;
  const char *out;
  qtm_h5_shard **shards;
  int nshards;
  qtm_config cfg;
  int have_cfg;
  qtm_tiling tiling;
  int32_t *owner; /* per tile: the shard holding it */
  int open_shard; /* the one shard file held open (use_shard), -1 for none */
  qtm_analysis *an;
  int ndense;
  const qtm_dense_map *dense;
} merge;

/* Appends to err (for messages built in pieces). */
static void append(char *err, size_t errcap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void append(char *err, size_t errcap, const char *fmt, ...) {
  size_t len = strlen(err);
  if (len + 1 >= errcap) return;
  va_list ap;
  va_start(ap, fmt);
  (void)vsnprintf(err + len, errcap - len, fmt, ap);
  va_end(ap);
}


/* ---- Checks ---------------------------------------------------------------------------------- */

/* The config every shard was run with, rebuilt from the first shard's copy of it, and the
 * others' fingerprints against it. */
static qtm_status load_config(merge *m, char *err, size_t errcap) {
  const qtm_h5_shard *first = m->shards[0];
  char name[4200], msg[1536] = "";
  (void)snprintf(name, sizeof name, "%s (its config attribute)", first->path);
  qtm_status st = qtm_config_load_text(name, first->config_text, strlen(first->config_text),
                                       NULL, 0, &m->cfg, msg, sizeof msg);
  m->have_cfg = 1;
  if (st != QTM_OK)
    return qtm_failf(err, errcap, QTM_ERR_IO, 0, "cannot use the config stored in %s: %s",
                     first->path, msg);
  char fingerprint[32];
  qtm_config_fingerprint(&m->cfg, fingerprint, sizeof fingerprint);
  if (strcmp(fingerprint, first->fingerprint) != 0)
    return qtm_failf(
        err, errcap, QTM_ERR_IO, 0,
        "%s: its stored config has fingerprint %s, the file says %s (written by another "
        "qtmscan version, or damaged)",
        first->path, fingerprint, first->fingerprint);
  for (int i = 1; i < m->nshards; ++i)
    if (strcmp(m->shards[i]->fingerprint, first->fingerprint) != 0)
      return qtm_failf(err, errcap, QTM_ERR_INVALID_ARG, 0,
                       "%s is a shard of another config than %s (config fingerprint %s, not %s)",
                       m->shards[i]->path, first->path, m->shards[i]->fingerprint,
                       first->fingerprint);
  qtm_tiling_init(&m->tiling, &m->cfg.grid, m->cfg.tile_points);
  for (int i = 0; i < m->nshards; ++i)
    if (m->shards[i]->ntiles != m->tiling.ntiles)
      return qtm_failf(err, errcap, QTM_ERR_IO, 0,
                       "%s holds marks for %lld tiles; its config makes %lld "
                       "(damaged)",
                       m->shards[i]->path, (long long)m->shards[i]->ntiles,
                       (long long)m->tiling.ntiles);
  return QTM_OK;
}

/* The slab of the first shard's split that holds tile k, to name what is missing. */
static int slab_of(const merge *m, int64_t k) {
  int n = (int)m->shards[0]->count;
  for (int s = 0; s < n; ++s) {
    int64_t first, end;
    qtm_scan_shard_range(m->tiling.ntiles, s, n, &first, &end);
    if (k >= first && k < end) return s;
  }
  return -1;
}

/* Every tile held by exactly one shard; else an error naming the runs of missing tiles (with
 * the shard that would hold them) or of doubled ones (with both files). */
static qtm_status check_coverage(merge *m, char *err, size_t errcap) {
  int64_t nt = m->tiling.ntiles;
  if (!(m->owner = malloc((size_t)nt * sizeof *m->owner)))
    return qtm_failf(err, errcap, QTM_ERR_NOMEM, 0, "out of memory for %lld tile owners",
                     (long long)nt);
  for (int64_t k = 0; k < nt; ++k) m->owner[k] = -1;
  int64_t doubled_at = -1;
  int second = -1;
  for (int i = 0; i < m->nshards; ++i)
    for (int64_t k = 0; k < nt; ++k) {
      if (!m->shards[i]->done[k]) continue;
      if (m->owner[k] >= 0 && doubled_at < 0) {
        doubled_at = k;
        second = i;
      }
      if (m->owner[k] < 0) m->owner[k] = i;
    }
  if (doubled_at >= 0) {
    int a = m->owner[doubled_at], b = second;
    int64_t end = doubled_at;
    while (end < nt && m->shards[a]->done[end] && m->shards[b]->done[end]) ++end;
    return qtm_failf(err, errcap, QTM_ERR_INVALID_ARG, 0,
                     "tiles %lld..%lld are in both %s (shard %lld of %lld) and %s (shard %lld of "
                     "%lld): give each tile's shard once",
                     (long long)doubled_at, (long long)end - 1, m->shards[a]->path,
                     (long long)m->shards[a]->index, (long long)m->shards[a]->count,
                     m->shards[b]->path, (long long)m->shards[b]->index,
                     (long long)m->shards[b]->count);
  }
  int runs = 0;
  int64_t missing = 0;
  err[0] = '\0';
  for (int64_t k = 0; k < nt;) {
    if (m->owner[k] >= 0) {
      ++k;
      continue;
    }
    int64_t end = k;
    while (end < nt && m->owner[end] < 0) ++end;
    missing += end - k;
    if (runs < MAX_RUNS_TOLD) {
      int s = slab_of(m, k);
      char expect[4200];
      if (!qtm_scan_shard_path(m->out, s, (int)m->shards[0]->count, expect, sizeof expect))
        expect[0] = '\0';
      append(err, errcap, "%stiles %lld..%lld (shard %d of %lld: %s)", runs ? "; " : "",
             (long long)k, (long long)end - 1, s, (long long)m->shards[0]->count, expect);
    }
    ++runs;
    k = end;
  }
  if (!runs) return QTM_OK;
  char told[1024];
  (void)snprintf(told, sizeof told, "%s", err);
  return qtm_failf(
      err, errcap, QTM_ERR_INVALID_ARG, 0,
      "%lld of %lld tiles are in no shard given: %s%s; run the missing shards (qtmscan "
      "run CONFIG --shard K/N) and give their files",
      (long long)missing, (long long)nt, told, runs > MAX_RUNS_TOLD ? "; and more" : "");
}

/* Shard i, its file open: the one held open, so that a merge of more shards than open files a
 * process may have (ulimit -n) works. Reads go shard by shard (the analysis' states) and tile by
 * tile in order (the copies, whose owners are contiguous slabs), so each opens about once. */
static qtm_status use_shard(merge *m, int i, const qtm_h5_shard **s, char *err, size_t errcap) {
  if (m->open_shard != i) {
    if (m->open_shard >= 0) qtm_h5_shard_release(m->shards[m->open_shard]);
    m->open_shard = -1;
    qtm_status st = qtm_h5_shard_reacquire(m->shards[i], err, errcap);
    if (st != QTM_OK) return st;
    m->open_shard = i;
  }
  *s = m->shards[i];
  return QTM_OK;
}

/* ---- Analysis --------------------------------------------------------------------------------- */

static qtm_status merge_analysis(merge *m, char *err, size_t errcap) {
  if (!m->cfg.analysis.enabled) return QTM_OK;
  qtm_status st = qtm_analysis_create(&m->cfg.analysis, &m->cfg.grid, &m->an, err, errcap);
  if (st != QTM_OK) return st;
  m->ndense = qtm_analysis_dense_maps(m->an, &m->dense);
  for (int i = 0; i < m->nshards && st == QTM_OK; ++i) {
    qtm_state_array arrays[QTM_ANALYSIS_MAX_STATE];
    int n = 0;
    char msg[512] = "";
    const qtm_h5_shard *s = NULL;
    st = use_shard(m, i, &s, err, errcap);
    if (st == QTM_OK)
      st = qtm_h5_shard_read_state(s, arrays, QTM_ANALYSIS_MAX_STATE, &n, err, errcap);
    if (st == QTM_OK) {
      st = qtm_analysis_state_merge(m->an, arrays, n, msg, sizeof msg);
      if (st != QTM_OK)
        st = qtm_failf(err, errcap, QTM_ERR_IO, 0, "%s: %s (damaged)", m->shards[i]->path, msg);
    }
    for (int j = 0; j < n; ++j) free(arrays[j].data);
  }
  return st;
}

/* ---- The merged file ------------------------------------------------------------------------ */

/* shard's path as the merged file at out names it: relative to out's directory (HDF5 looks
 * for a virtual dataset's relative source names there), absolute when they share no root. */
static char *source_name(const char *shard, const char *out, char *err, size_t errcap) {
  char dir[PATH_MAX], full[PATH_MAX], out_dir[PATH_MAX];
  const char *slash = strrchr(out, '/');
  (void)snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - out) + (slash == out) : 1,
                 slash ? out : ".");
  if (!realpath(shard, full) || !realpath(dir, out_dir)) {
    (void)qtm_failf(err, errcap, QTM_ERR_IO, 0, "cannot resolve the path of %s or %s: %s", shard,
                    dir, strerror(errno));
    return NULL;
  }
  /* the longest common directory prefix */
  size_t common = 0;
  for (size_t i = 0; out_dir[i] && out_dir[i] == full[i]; ++i)
    if (out_dir[i] == '/') common = i;
  size_t olen = strlen(out_dir);
  if (strncmp(full, out_dir, olen) == 0 && full[olen] == '/') common = olen;
  int ups = 0;
  for (const char *p = out_dir + common; *p; ++p) ups += *p == '/';
  if (common == olen) ups = 0;
  size_t need = (size_t)ups * 3 + strlen(full + common) + 2;
  char *name = malloc(need);
  if (!name) {
    (void)qtm_failf(err, errcap, QTM_ERR_NOMEM, 0, "out of memory");
    return NULL;
  }
  name[0] = '\0';
  for (int i = 0; i < ups; ++i) strcat(name, "../");
  strcat(name, full + common + 1);
  return name;
}

/* Copies every tile's chunks of every map from the shard holding it as stored: no decoding and
 * encoding again (a merge of compressed maps costs disk time only), and the merged file's
 * chunks are the single run's byte for byte. */
static qtm_status copy_chunks(merge *m, qtm_h5_writer *w, char *err, size_t errcap) {
  qtm_status st = QTM_OK;
  const qtm_config *c = &m->cfg;
  int nmaps = c->nobs + m->ndense;
  qtm_h5_raw_chunk *raw = calloc((size_t)nmaps, sizeof *raw);
  void **bytes = calloc((size_t)nmaps, sizeof *bytes);
  if (!raw || !bytes) st = qtm_failf(err, errcap, QTM_ERR_NOMEM, 0, "out of memory");
  for (int64_t k = 0; k < m->tiling.ntiles && st == QTM_OK; ++k) {
    const qtm_h5_shard *s = NULL;
    qtm_tile tile;
    qtm_tiling_tile(&m->tiling, &c->grid, k, &tile);
    st = use_shard(m, m->owner[k], &s, err, errcap);
    for (int j = 0; j < nmaps && st == QTM_OK; ++j) {
      const char *name = j < c->nobs ? qtm_obs_table[c->obs[j]].name : m->dense[j - c->nobs].name;
      st = qtm_h5_shard_read_chunk(s, name, &tile, c->grid.desc.naxes, &bytes[j], &raw[j].size,
                                   &raw[j].filter_mask, err, errcap);
      raw[j].data = bytes[j];
    }
    if (st == QTM_OK) st = qtm_h5_writer_write_raw_tile(w, &tile, raw, err, errcap);
    for (int j = 0; j < nmaps; ++j) {
      free(bytes[j]);
      bytes[j] = NULL;
    }
  }
  free(raw);
  free(bytes);
  return st;
}

/* Copies every tile's values of every map from the shard holding it (a grid without axes,
 * whose maps are not chunked). */
static qtm_status copy_tiles(merge *m, qtm_h5_writer *w, char *err, size_t errcap) {
  qtm_status st = QTM_OK;
  const qtm_config *c = &m->cfg;
  size_t n = (size_t)m->tiling.max_tile_points;
  qtm_tile_out out;
  void *dense[QTM_ANALYSIS_MAX_DENSE] = {0};
  memset(&out, 0, sizeof out);
  out.dtype = c->dtype;
  for (int j = 0; j < c->nobs; ++j) {
    out.obs[j] = c->obs[j];
    if (!(out.data[j] = malloc(n * qtm_dtype_size(c->dtype)))) goto nomem;
    out.nobs = j + 1;
  }
  for (int d = 0; d < m->ndense; ++d)
    if (!(dense[d] = malloc(n * qtm_dtype_size(m->dense[d].dtype)))) goto nomem;
  for (int64_t k = 0; k < m->tiling.ntiles && st == QTM_OK; ++k) {
    const qtm_h5_shard *s = NULL;
    qtm_tile tile;
    qtm_tiling_tile(&m->tiling, &c->grid, k, &tile);
    st = use_shard(m, m->owner[k], &s, err, errcap);
    for (int j = 0; j < c->nobs && st == QTM_OK; ++j)
      st = qtm_h5_shard_read_tile(s, qtm_obs_table[c->obs[j]].name, &tile, c->grid.desc.naxes,
                                  c->dtype, out.data[j], err, errcap);
    for (int d = 0; d < m->ndense && st == QTM_OK; ++d)
      st = qtm_h5_shard_read_tile(s, m->dense[d].name, &tile, c->grid.desc.naxes,
                                  m->dense[d].dtype, dense[d], err, errcap);
    if (st == QTM_OK)
      st = qtm_h5_writer_write_tile(w, &tile, &out, m->ndense ? (const void *const *)dense : NULL,
                                    err, errcap);
  }
  goto cleanup;
nomem:
  st = qtm_failf(err, errcap, QTM_ERR_NOMEM, 0, "out of memory for the tile buffers");
cleanup:
  for (int j = 0; j < out.nobs; ++j) free(out.data[j]);
  for (int d = 0; d < m->ndense; ++d) free(dense[d]);
  return st;
}

/* The scan's rate as the shards ran it: all points over the time they took together. */
static double merged_rate(const merge *m) {
  double seconds = 0.0, points = 0.0;
  for (int i = 0; i < m->nshards; ++i) {
    const qtm_h5_shard *s = m->shards[i];
    double p = (double)qtm_tiling_points(&m->tiling, &m->cfg.grid, s->first_tile, s->end_tile);
    if (!(s->points_per_second > 0)) return 0.0;
    seconds += p / s->points_per_second;
    points += p;
  }
  return seconds > 0 ? points / seconds : 0.0;
}

static qtm_status write_merged(merge *m, const char *partial, char *err, size_t errcap) {
  qtm_status st = QTM_OK;
  const qtm_config *c = &m->cfg;
  qtm_h5_source *sources = NULL;
  char **names = NULL;
  char *merged_from = NULL;
  qtm_h5_writer *w = NULL;
  size_t len = 1;
  for (int i = 0; i < m->nshards; ++i) len += strlen(m->shards[i]->path) + 1;
  if (!(merged_from = malloc(len)) || !(names = calloc((size_t)m->nshards, sizeof *names)) ||
      !(sources = calloc((size_t)m->nshards, sizeof *sources))) {
    st = qtm_failf(err, errcap, QTM_ERR_NOMEM, 0, "out of memory");
    goto cleanup;
  }
  merged_from[0] = '\0';
  for (int i = 0; i < m->nshards; ++i) {
    strcat(merged_from, m->shards[i]->path);
    if (i + 1 < m->nshards) strcat(merged_from, "\n");
  }
  if (m->opt->virtual_maps)
    for (int i = 0; i < m->nshards; ++i) {
      if (!(names[i] = source_name(m->shards[i]->path, m->out, err, errcap))) {
        st = QTM_ERR_IO;
        goto cleanup;
      }
      sources[i].file = names[i];
      sources[i].tiles = m->shards[i]->done;
    }
  char start[32], end[32];
  qtm_utc_now(start, sizeof start);
  qtm_h5_layout layout = {.grid = &c->grid,
                          .tiling = &m->tiling,
                          .nobs = c->nobs,
                          .obs = c->obs,
                          .dtype = c->dtype,
                          .gzip_level = c->gzip_level,
                          .ndense = m->ndense,
                          .dense = m->dense,
                          .nsources = m->opt->virtual_maps ? m->nshards : 0,
                          .sources = sources};
  const qtm_h5_shard *first = m->shards[0];
  qtm_h5_provenance prov = {.title = c->title,
                            .config_path = first->config_path,
                            .config_text = c->text,
                            .command_line = m->opt->command_line,
                            .backend = first->backend,
                            .device = first->device,
                            .start_time = start,
                            .fingerprint = first->fingerprint,
                            .merged_from = merged_from};
  if ((st = qtm_h5_writer_create(partial, &layout, &prov, &w, err, errcap)) != QTM_OK) goto cleanup;
  if (!m->opt->virtual_maps) {
    st = c->grid.desc.naxes > 0 ? copy_chunks(m, w, err, errcap) : copy_tiles(m, w, err, errcap);
    if (st != QTM_OK) goto cleanup;
  }
  if (m->an && (st = qtm_scan_write_analysis(m->an, w, err, errcap)) != QTM_OK) goto cleanup;
  qtm_utc_now(end, sizeof end);
  st = qtm_h5_writer_finish(w, end, merged_rate(m), err, errcap);
  w = NULL; /* freed by finish */
cleanup:
  if (w) qtm_h5_writer_abort(w);
  for (int i = 0; names && i < m->nshards; ++i) free(names[i]);
  free(names);
  free(sources);
  free(merged_from);
  return st;
}

/* ---- The command ------------------------------------------------------------------------------ */

qtm_status qtm_merge_run(const char *out, const char *const *shards, int nshards,
                         const qtm_merge_options *opt, qtm_merge_summary *sum, char *err,
                         size_t errcap) {
  merge m;
  memset(&m, 0, sizeof m);
  memset(sum, 0, sizeof *sum);
  m.opt = opt;
  m.out = out;
  qtm_status st = QTM_OK;
  char partial[4200];
  if (nshards < 1) return qtm_failf(err, errcap, QTM_ERR_INVALID_ARG, 0, "no shard files given");
  if (snprintf(partial, sizeof partial, "%s.partial", out) >= (int)sizeof partial)
    return qtm_failf(err, errcap, QTM_ERR_INVALID_ARG, 0, "the output path %s is too long", out);
  if (!(m.shards = calloc((size_t)nshards, sizeof *m.shards)))
    return qtm_failf(err, errcap, QTM_ERR_NOMEM, 0, "out of memory");
  m.nshards = nshards;
  m.open_shard = -1;
  for (int i = 0; i < nshards && st == QTM_OK; ++i) {
    st = qtm_h5_shard_open(shards[i], &m.shards[i], err, errcap);
    if (st == QTM_OK) qtm_h5_shard_release(m.shards[i]); /* what was read stays: use_shard */
  }
  if (st == QTM_OK) st = load_config(&m, err, errcap);
  if (st == QTM_OK) st = check_coverage(&m, err, errcap);
  if (st == QTM_OK) st = merge_analysis(&m, err, errcap);
  if (st == QTM_OK) st = qtm_output_check(out, opt->force, err, errcap);
  if (st == QTM_OK && access(partial, F_OK) == 0) {
    if (!opt->force)
      st = qtm_failf(err, errcap, QTM_ERR_EXISTS, 0,
                     "%s exists (left by an interrupted merge or run); pass --force to replace it",
                     partial);
    else if (unlink(partial) != 0)
      st = qtm_failf(err, errcap, QTM_ERR_IO, 0, "cannot remove %s: %s", partial, strerror(errno));
  }
  int started = st == QTM_OK;
  if (st == QTM_OK) st = write_merged(&m, partial, err, errcap);
  if (st == QTM_OK) st = qtm_output_publish(partial, out, opt->force, err, errcap);
  else if (started && st != QTM_ERR_EXISTS)
    (void)unlink(partial); /* ours, unfinished: a merge is redone from its shards */
  if (st == QTM_OK) {
    sum->points = m.cfg.grid.npoints;
    sum->tiles = m.tiling.ntiles;
    sum->shards = nshards;
  }
  for (int i = 0; i < nshards; ++i) qtm_h5_shard_close(m.shards[i]);
  free(m.shards);
  free(m.owner);
  qtm_analysis_free(m.an);
  if (m.have_cfg) qtm_config_free(&m.cfg);
  return st;
}
