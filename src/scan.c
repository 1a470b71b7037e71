/* The scan pipeline: tiles evaluated by a backend on this thread, written by one HDF5 writer
 * thread, two tile buffers between them so computing and writing overlap. The file is built
 * as NAME.partial, made durable (fsync), and only then given its name. */
#define _POSIX_C_SOURCE 200809L
#include "qtm/scan.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "qtm/analysis.h"
#include "qtm/h5_writer.h"
#include "qtm/mpi_run.h"
#include "qtm/progress.h"
#include "fail.h"
#include "output_file.h"
#include "scan_results.h"
#include "tile_check.h"

void qtm_utc_now(char *buf, size_t cap) {
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void notice(const qtm_scan_options *opt, const char *msg) {
  if (opt->log && !opt->quiet && msg[0]) fprintf(opt->log, "qtmscan: %s\n", msg);
}


/* ---- Two tile buffers between the evaluating thread and the writer thread ---------------- */

/* With an analysis the backend evaluates, in one float64 pass, the stored observables followed
 * by the analysis' inputs; `stored` is then the writer's view of the first ones, converted to
 * float32 here when the file stores float32. Without one, `stored` is `out` itself. */
typedef struct slot {
  qtm_tile tile;
  qtm_tile_out out;
  qtm_tile_out stored;
  void *dense[QTM_ANALYSIS_MAX_DENSE];
  int full;
  int write; /* 0: a tile a resumed run finds done, evaluated again for the analysis only */
  int empty; /* MPI: this rank has no tile in the round, or (failed) its evaluation failed */
  int failed;
  int verify; /* a finished tile evaluated again: compared with the file, written if it differs */
} slot;

typedef struct pipeline {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  slot slots[2];
  int producer_done;
  qtm_status writer_status;
  char writer_err[512];
  qtm_h5_writer *writer;
  qtm_analysis *analysis;
  int nstored;      /* stored observables: the first entries of each slot's `out` */
  int convert_f32;  /* out holds float64 that the file stores as float32 */
  int ndense;
  const qtm_dense_map *dense_maps;
  const unsigned char *done; /* tiles finished by an earlier run (resume), or NULL */
  int64_t first_tile, end_tile; /* the tiles of this run: all, or a shard's or rank's slab */
  int64_t rounds;               /* MPI: the largest rank's slab, rounds every rank goes through */
  int64_t tiles_written;     /* by the writer thread, under mu */
  int parallel;              /* MPI: every round of tiles is written by all ranks together */
  volatile sig_atomic_t *stop;
  qtm_tile_check *check;     /* resume: compares finished tiles with their new evaluation */
  int64_t tiles_verified, tiles_repaired; /* by the writer thread, under mu */
} pipeline;

/* The analysis' reductions of one tile, on the evaluating thread with its team of threads,
 * before the writer thread gets the slot: the dense maps it fills go to the file too. */
typedef struct analysis_feed {
  qtm_analysis *analysis;
  const double *inputs[QTM_ANALYSIS_MAX_INPUTS];
  void *const *dense;
} analysis_feed;

static void feed_range(void *ctx, const qtm_tile *t, const qtm_tile_out *out, int64_t l0,
                       int64_t l1) {
  (void)out;
  analysis_feed *f = ctx;
  qtm_analysis_range(f->analysis, t, f->inputs, f->dense, l0, l1);
}

static void feed_end(void *ctx, const qtm_tile *t) {
  analysis_feed *f = ctx;
  qtm_analysis_tile_end(f->analysis, t);
}

/* Evaluates the slot's tile and, with an analysis, reduces it: inside the backend's loop, each
 * run of points right after its evaluation, where the backend can (the CPU's; the inputs are
 * then read from cache, not memory, and one team does both), else after the whole tile. */
static qtm_status eval_and_analyse(pipeline *pl, qtm_backend *b, slot *s, char *err,
                                   size_t errcap) {
  if (!pl->analysis) return b->ops->eval_tile(b, &s->tile, &s->out, err, errcap);
  analysis_feed f = {pl->analysis, {0}, s->dense};
  for (int i = pl->nstored; i < s->out.nobs; ++i) f.inputs[i - pl->nstored] = s->out.data[i];
  if (b->ops->eval_tile_consumed) {
    qtm_tile_consumer c = {&f, qtm_analysis_threads(pl->analysis), feed_range, feed_end};
    return b->ops->eval_tile_consumed(b, &s->tile, &s->out, &c, err, errcap);
  }
  qtm_status st = b->ops->eval_tile(b, &s->tile, &s->out, err, errcap);
  if (st == QTM_OK) qtm_analysis_tile(pl->analysis, &s->tile, f.inputs, s->dense);
  return st;
}

/* The writer's view of one evaluated tile: float32 where the file stores float32. */
static void prepare_for_writer(pipeline *pl, slot *s) {
  if (!pl->analysis || s->empty) return;
  if (pl->convert_f32)
    for (int j = 0; j < pl->nstored; ++j) {
      const double *from = s->out.data[j];
      float *to = s->stored.data[j];
      for (int64_t l = 0; l < s->tile.npoints; ++l) to[l] = (float)from[l];
    }
}

/* MPI: before each round's collective writes, every rank learns whether any rank was asked to
 * stop (a signal) or failed to evaluate its tile; then all stop together at the same round,
 * none waiting in a collective call the others never make. */
static qtm_status agree_to_go_on(pipeline *pl, const slot *s, char *err, size_t errcap) {
  int mine = (pl->stop && *pl->stop ? 1 : 0) | (s->failed ? 2 : 0);
  int all = qtm_mpi_max(mine);
  if (all & 2) {
    snprintf(err, errcap, "%s", s->failed ? "evaluation failed (see the message above)"
                                          : "another MPI rank failed to evaluate its tile");
    return QTM_ERR_IO;
  }
  if (all & 1) {
    snprintf(err, errcap, "interrupted by a signal");
    return QTM_ERR_INTERRUPTED;
  }
  return QTM_OK;
}

static void *writer_main(void *arg) {
  pipeline *pl = arg;
  for (int64_t k = 0;; ++k) { /* k counts filled slots, not tiles: skipped tiles fill none */
    slot *s = &pl->slots[k % 2];
    pthread_mutex_lock(&pl->mu);
    while (!s->full && !pl->producer_done) pthread_cond_wait(&pl->cv, &pl->mu);
    int have = s->full;
    pthread_mutex_unlock(&pl->mu);
    if (!have) break; /* the producer stopped and every filled slot was written */
    char err[512] = "";
    qtm_status st = pl->parallel ? agree_to_go_on(pl, s, err, sizeof err) : QTM_OK;
    if (st == QTM_OK) prepare_for_writer(pl, s);
    void *const *dense = pl->ndense ? s->dense : NULL;
    int same = 1, verified = st == QTM_OK && s->verify; /* s->verify implies pl->check */
    if (verified)
      st = qtm_tile_check_run(pl->check, &s->tile, &s->stored, dense, &same, err, sizeof err);
    int repair = verified && st == QTM_OK && !same; /* damaged by a kill: write it again */
    if (st == QTM_OK && (repair || (s->write && !s->empty)))
      st = qtm_h5_writer_write_tile(pl->writer, &s->tile, &s->stored,
                                    (const void *const *)dense, err, sizeof err);
    else if (st == QTM_OK && pl->parallel)
      st = qtm_h5_writer_skip_round(pl->writer, err, sizeof err);
    if (pl->parallel && qtm_mpi_max(st != QTM_OK) && st == QTM_OK) {
      st = QTM_ERR_IO;
      snprintf(err, sizeof err, "another MPI rank failed to write its tile (see its message)");
    }
    pthread_mutex_lock(&pl->mu);
    s->full = 0;
    if (st == QTM_OK && s->write && !s->empty) pl->tiles_written++;
    if (st == QTM_OK && verified) {
      pl->tiles_verified++;
      pl->tiles_repaired += !same;
    }
    if (st != QTM_OK) {
      pl->writer_status = st;
      snprintf(pl->writer_err, sizeof pl->writer_err, "%s", err);
    }
    pthread_cond_broadcast(&pl->cv);
    pthread_mutex_unlock(&pl->mu);
    if (st != QTM_OK) break;
  }
  return NULL;
}

static void free_slots(pipeline *pl) {
  for (int i = 0; i < 2; ++i) {
    slot *s = &pl->slots[i];
    for (int j = 0; j < s->out.nobs; ++j) free(s->out.data[j]);
    if (pl->convert_f32)
      for (int j = 0; j < s->stored.nobs; ++j) free(s->stored.data[j]);
    for (int m = 0; m < QTM_ANALYSIS_MAX_DENSE; ++m) free(s->dense[m]);
  }
}

/* nstored: how many of plan's observables the file stores (the rest feed the analysis);
 * stored_dtype: their type in the file. */
static qtm_status alloc_slots(pipeline *pl, const qtm_scan_plan *plan, int nstored,
                              qtm_dtype stored_dtype, char *err, size_t errcap) {
  size_t n = (size_t)plan->max_tile_points;
  pl->nstored = nstored;
  pl->convert_f32 = plan->dtype != stored_dtype;
  for (int i = 0; i < 2; ++i) {
    slot *s = &pl->slots[i];
    qtm_tile_out *o = &s->out;
    o->dtype = plan->dtype;
    for (int j = 0; j < plan->nobs; ++j) {
      o->obs[j] = plan->obs[j];
      if (!(o->data[j] = malloc(n * qtm_dtype_size(plan->dtype)))) goto nomem;
      o->nobs = j + 1;
    }
    s->stored = *o;
    s->stored.nobs = nstored;
    s->stored.dtype = stored_dtype;
    if (pl->convert_f32) {
      s->stored.nobs = 0;
      for (int j = 0; j < nstored; ++j) {
        if (!(s->stored.data[j] = malloc(n * qtm_dtype_size(stored_dtype)))) goto nomem;
        s->stored.nobs = j + 1;
      }
    }
    for (int m = 0; m < pl->ndense; ++m)
      if (!(s->dense[m] = malloc(n * qtm_dtype_size(pl->dense_maps[m].dtype)))) goto nomem;
  }
  return QTM_OK;
nomem:
  return qtm_failf(err, errcap, QTM_ERR_NOMEM, 0, "out of memory for %s", "tile buffers");
}

void qtm_scan_shard_range(int64_t ntiles, int k, int n, int64_t *first, int64_t *end) {
  /* floor(ntiles * k / n) without overflow: ntiles = q n + r */
  int64_t q = ntiles / n, r = ntiles % n;
  *first = q * k + r * k / n;
  *end = q * (k + 1) + r * (k + 1) / n;
}

int qtm_scan_shard_path(const char *out, int k, int n, char *buf, size_t cap) {
  size_t len = strlen(out);
  if (len >= 3 && strcmp(out + len - 3, ".h5") == 0) len -= 3;
  int digits = snprintf(NULL, 0, "%d", n - 1 > 0 ? n - 1 : 0);
  int w = snprintf(buf, cap, "%.*s.shard-%0*d-of-%d.h5", (int)len, out, digits, k, n);
  return w >= 0 && (size_t)w < cap;
}

/* The file this job writes: out itself, or its shard's file (qtm_scan_shard_path) with
 * --shard K/N; into buf. */
static qtm_status job_output(const qtm_scan_options *opt, const char *out, char *buf, size_t cap,
                             char *err, size_t errcap) {
  int w;
  if (opt->shard_count > 0) {
    if (opt->shard_index < 0 || opt->shard_index >= opt->shard_count)
      return qtm_failf(err, errcap, QTM_ERR_INVALID_ARG, 0, "shard %s: the index must be 0..N-1",
                       "K/N");
    w = qtm_scan_shard_path(out, opt->shard_index, opt->shard_count, buf, cap) ? 0 : -1;
  } else {
    w = snprintf(buf, cap, "%s", out);
    w = w >= 0 && (size_t)w < cap ? 0 : -1;
  }
  if (w != 0)
    return qtm_failf(err, errcap, QTM_ERR_INVALID_ARG, 0, "the output path %s is too long", out);
  return QTM_OK;
}

/* Evaluates the run's tiles into the slots while the writer thread drains them. */
static qtm_status run_tiles(pipeline *pl, qtm_backend *b, const qtm_tiling *tiling,
                            const qtm_grid *g, const qtm_scan_options *opt, int64_t *points_done,
                            char *err, size_t errcap) {
  qtm_progress prog;
  qtm_progress_init(&prog, opt->log, qtm_tiling_points(tiling, g, pl->first_tile, pl->end_tile),
                    opt->quiet);
  qtm_status st = QTM_OK;
  int64_t done = 0, filled = 0;
  /* MPI: every rank goes through the same number of rounds (its slab padded with empty ones)
   * and stops only when the writer thread says all ranks agreed to (agree_to_go_on). */
  int64_t end = pl->parallel ? pl->first_tile + pl->rounds : pl->end_tile;
  for (int64_t k = pl->first_tile; k < end; ++k) {
    if (!pl->parallel && opt->stop && *opt->stop) {
      st = qtm_failf(err, errcap, QTM_ERR_INTERRUPTED, 0, "%s", "interrupted by a signal");
      break;
    }
    int outside = k >= pl->end_tile;
    int done_before = !outside && pl->done && pl->done[k];
    int trusted = done_before && !pl->analysis && !pl->check; /* nothing to evaluate it for */
    if (trusted && !pl->parallel) {
      qtm_tile tile;
      qtm_tiling_tile(tiling, g, k, &tile);
      done += tile.npoints;
      continue;
    }
    slot *s = &pl->slots[filled++ % 2];
    pthread_mutex_lock(&pl->mu);
    while (s->full && pl->writer_status == QTM_OK) pthread_cond_wait(&pl->cv, &pl->mu);
    qtm_status wst = pl->writer_status;
    pthread_mutex_unlock(&pl->mu);
    if (wst != QTM_OK) break; /* reported by the caller from writer_err */
    s->empty = outside || trusted;
    s->verify = done_before && pl->check;
    s->failed = 0;
    if (!outside) qtm_tiling_tile(tiling, g, k, &s->tile);
    if (!s->empty) st = eval_and_analyse(pl, b, s, err, errcap);
    if (st != QTM_OK && pl->parallel) s->failed = s->empty = 1; /* told to the other ranks */
    if (st != QTM_OK && !pl->parallel) break;
    pthread_mutex_lock(&pl->mu);
    s->write = !done_before;
    s->full = 1;
    pthread_cond_broadcast(&pl->cv);
    pthread_mutex_unlock(&pl->mu);
    if (st != QTM_OK) break;
    if (!outside) done += s->tile.npoints;
    qtm_progress_update(&prog, done);
  }
  if (st == QTM_OK && pl->writer_status == QTM_OK) qtm_progress_finish(&prog, done);
  else if (prog.drawn) fputc('\n', prog.f);
  *points_done = done;
  return st;
}

/* The backend's work: the stored observables, then (with an analysis) its inputs, all in
 * float64 then, so the analysis reads exact values. */
static void plan_from_config(const qtm_config *cfg, const qtm_tiling *tiling,
                             const qtm_analysis *an, qtm_scan_plan *plan) {
  memset(plan, 0, sizeof *plan);
  plan->grid = &cfg->grid;
  plan->max_tile_points = tiling->max_tile_points;
  plan->dtype = an ? QTM_DTYPE_F64 : cfg->dtype;
  plan->nobs = cfg->nobs;
  memcpy(plan->obs, cfg->obs, (size_t)cfg->nobs * sizeof plan->obs[0]);
  if (an) plan->nobs += qtm_analysis_inputs(an, plan->obs + cfg->nobs);
}

/* ---- The scan ------------------------------------------------------------------------------- */

/* MPI: a step that may fail on one rank only (a GPU missing, memory) ends on every rank, so
 * that none waits alone in the next collective call. Without MPI, st itself. */
static qtm_status agreed(qtm_status st, char *err, size_t errcap) {
  if (qtm_mpi_max(st != QTM_OK) && st == QTM_OK)
    st = qtm_failf(err, errcap, QTM_ERR_IO, 0, "%s", "another MPI rank failed (see its message)");
  return st;
}

/* MPI: every rank reduces its own tiles; all of them gather every rank's partial state and
 * merge the states in rank order into one analysis, so that all write the same results. */
static qtm_status gather_analysis(qtm_analysis **an, const qtm_config *cfg, char *err,
                                  size_t errcap) {
  const qtm_state_array *mine;
  qtm_state_array *all = NULL;
  int n = 0, *counts = NULL;
  qtm_analysis *total = NULL;
  qtm_status st = qtm_analysis_state_export(*an, &mine, &n, err, errcap);
  st = agreed(st, err, errcap);
  if (st == QTM_OK) st = qtm_mpi_allgather_states(mine, n, &all, &counts, err, errcap);
  if (st == QTM_OK) st = qtm_analysis_create(&cfg->analysis, &cfg->grid, &total, err, errcap);
  for (int r = 0; st == QTM_OK && r < qtm_mpi_world().size; ++r)
    st = qtm_analysis_state_merge(total, all + r * QTM_MPI_MAX_ARRAYS, counts[r], err, errcap);
  qtm_mpi_free_states(all, counts);
  if (st == QTM_OK) {
    qtm_analysis_free(*an);
    *an = total;
  } else {
    qtm_analysis_free(total);
  }
  return agreed(st, err, errcap);
}

qtm_status qtm_scan_run(const qtm_config *cfg, const qtm_scan_options *opt, qtm_scan_summary *sum,
                        char *err, size_t errcap) {
  memset(sum, 0, sizeof *sum);
  const int parallel = qtm_mpi_parallel();
  const qtm_mpi mp = qtm_mpi_world();
  const char *out = opt->output_path ? opt->output_path : cfg->output_path;
  char shard_file[4096];
  if (parallel && opt->shard_count > 0)
    return qtm_failf(err, errcap, QTM_ERR_INVALID_ARG, 0, "%s",
                     "--shard splits a scan into separate jobs and mpirun into ranks of one job: "
                     "use one of them");
  qtm_status st = job_output(opt, out, shard_file, sizeof shard_file, err, errcap);
  if (st != QTM_OK) return st;
  out = shard_file;
  snprintf(sum->output, sizeof sum->output, "%s", out);
  char partial[4200];
  snprintf(partial, sizeof partial, "%s.partial", out);
  int have_partial = access(partial, F_OK) == 0;
  int resuming = opt->resume && have_partial;
  struct stat psb;
  if (have_partial && stat(partial, &psb) == 0 && S_ISDIR(psb.st_mode))
    return qtm_failf(err, errcap, QTM_ERR_IO, 0,
                     "%s is a directory, not a partial scan file: move it "
                     "away",
                     partial);
  if (opt->resume && !have_partial) {
    if (access(out, F_OK) == 0) { /* a job resubmitted after it finished: nothing to do */
      char msg[4300];
      snprintf(msg, sizeof msg, "%s is complete; nothing to resume", out);
      notice(opt, msg);
      return QTM_OK;
    }
    char msg[4300];
    snprintf(msg, sizeof msg, "no %s to resume: starting from the beginning", partial);
    notice(opt, msg);
  }
  if ((st = qtm_output_check(out, opt->force, err, errcap)) != QTM_OK) return st;
  if (have_partial && !resuming) {
    if (!opt->force)
      return qtm_failf(
          err, errcap, QTM_ERR_EXISTS, 0,
          "%s holds an interrupted run of this output; pass --resume to continue it or "
          "--force to start over",
          partial);
    char msg[4300];
    snprintf(msg, sizeof msg, "--force: removing %s left by an earlier, unfinished run", partial);
    notice(opt, msg);
    qtm_mpi_barrier(); /* every rank has looked at it before rank 0 removes it */
    if (mp.rank == 0 && unlink(partial) != 0)
      st = qtm_failf(err, errcap, QTM_ERR_IO, errno, "cannot remove %s", partial);
    else
      st = QTM_OK;
    if ((st = agreed(st, err, errcap)) != QTM_OK) return st;
  }

  qtm_tiling tiling;
  qtm_tiling_init(&tiling, &cfg->grid, cfg->tile_points);
  qtm_analysis *an = NULL;
  if (cfg->analysis.enabled &&
      (st = qtm_analysis_create(&cfg->analysis, &cfg->grid, &an, err, errcap)) != QTM_OK)
    return st;
  if (an && (st = qtm_analysis_use_threads(an, &tiling, opt->threads,
                                        QTM_ANALYSIS_MIN_SHARED_POINTS, err, errcap)) != QTM_OK) {
    qtm_analysis_free(an);
    return st;
  }
  qtm_scan_plan plan;
  plan_from_config(cfg, &tiling, an, &plan);
  plan.device = mp.local_rank;

  qtm_backend *b = NULL;
  qtm_h5_writer *w = NULL;
  unsigned char *done = NULL;
  pipeline pl;
  memset(&pl, 0, sizeof pl);
  pl.analysis = an;
  pl.parallel = parallel;
  pl.stop = opt->stop;
  if (an) pl.ndense = qtm_analysis_dense_maps(an, &pl.dense_maps);
  int sync_ready = 0, thread_started = 0;
  pthread_t thread;
  char msg[512] = "";

  st = qtm_backend_open(opt->backend, &plan, opt->threads, &b, msg, sizeof msg);
  if (st != QTM_OK) qtm_failf(err, errcap, st, 0, "%s", msg);
  if ((st = agreed(st, err, errcap)) != QTM_OK) goto cleanup;
  notice(opt, msg);
  snprintf(sum->backend, sizeof sum->backend, "%s", b->name);
  snprintf(sum->device, sizeof sum->device, "%s", b->device);

  char start[32], end[32], fingerprint[32];
  qtm_utc_now(start, sizeof start);
  qtm_mpi_share_text(start, sizeof start);
  qtm_config_fingerprint(cfg, fingerprint, sizeof fingerprint);
  qtm_h5_layout layout = {.grid = &cfg->grid,
                          .tiling = &tiling,
                          .nobs = cfg->nobs,
                          .obs = cfg->obs,
                          .dtype = cfg->dtype,
                          .gzip_level = cfg->gzip_level,
                          .ndense = pl.ndense,
                          .dense = pl.dense_maps,
                          .threads = opt->threads};
  qtm_h5_provenance prov = {.title = cfg->title,
                            .config_path = cfg->path,
                            .config_text = cfg->text,
                            .command_line = opt->command_line,
                            .backend = b->name,
                            .device = b->device,
                            .start_time = start,
                            .fingerprint = fingerprint};
  layout.parallel = parallel;
  pl.first_tile = 0;
  pl.end_tile = tiling.ntiles;
  if (parallel) { /* contiguous slabs, one per rank, written in rounds of one tile each */
    qtm_scan_shard_range(tiling.ntiles, mp.rank, mp.size, &pl.first_tile, &pl.end_tile);
    pl.rounds = (tiling.ntiles + mp.size - 1) / mp.size;
  }
  if (opt->shard_count > 0) {
    qtm_scan_shard_range(tiling.ntiles, opt->shard_index, opt->shard_count, &pl.first_tile,
                         &pl.end_tile);
    prov.shard_index = opt->shard_index;
    prov.shard_count = opt->shard_count;
    prov.shard_first_tile = pl.first_tile;
    prov.shard_end_tile = pl.end_tile;
  }
  if (resuming) {
    if (!(done = calloc((size_t)tiling.ntiles, 1))) {
      st = qtm_failf(err, errcap, QTM_ERR_NOMEM, 0, "%s", "out of memory for the tile marks");
      goto cleanup;
    }
    st = qtm_h5_writer_resume(partial, &layout, &prov, done, &w, err, errcap);
    if (st == QTM_ERR_COMPLETE) { /* killed between finishing and publishing: publish now */
      qtm_mpi_barrier();
      st = mp.rank == 0 ? qtm_output_publish(partial, out, opt->force, err, errcap) : QTM_OK;
      st = agreed(st, err, errcap);
      if (st == QTM_OK) notice(opt, "the partial file was complete: published it");
      goto cleanup;
    }
    if (st != QTM_OK) { /* damaged or another config's: the way on is to start over */
      size_t n = strlen(err);
      if (err && n + 40 < errcap) snprintf(err + n, errcap - n, " (start the scan over with --force)");
      goto cleanup;
    }
    for (int64_t k = pl.first_tile; k < pl.end_tile; ++k) sum->tiles_done_before += done[k];
    if (!opt->no_verify && sum->tiles_done_before > 0 &&
        (st = qtm_tile_check_open(partial, cfg->grid.desc.naxes, tiling.max_tile_points,
                                  pl.dense_maps, pl.ndense, &pl.check, err, errcap)) != QTM_OK)
      goto cleanup;
    if (opt->log && !opt->quiet)
      fprintf(opt->log, "qtmscan: resuming %s: %lld of %lld tiles already done\n", partial,
              (long long)sum->tiles_done_before, (long long)(pl.end_tile - pl.first_tile));
    pl.done = done;
  } else if ((st = agreed(qtm_h5_writer_create(partial, &layout, &prov, &w, err, errcap), err,
                          errcap)) != QTM_OK) {
    goto cleanup;
  }
  st = alloc_slots(&pl, &plan, cfg->nobs, cfg->dtype, err, errcap);
  if ((st = agreed(st, err, errcap)) != QTM_OK) goto cleanup;
  if (pthread_mutex_init(&pl.mu, NULL) != 0) {
    st = qtm_failf(err, errcap, QTM_ERR_NOMEM, 0, "%s", "cannot create the writer's lock");
    goto cleanup;
  }
  if (pthread_cond_init(&pl.cv, NULL) != 0) {
    pthread_mutex_destroy(&pl.mu);
    st = qtm_failf(err, errcap, QTM_ERR_NOMEM, 0, "%s", "cannot create the writer's lock");
    goto cleanup;
  }
  sync_ready = 1;
  pl.writer = w;
  if (pthread_create(&thread, NULL, writer_main, &pl) != 0) {
    st = qtm_failf(err, errcap, QTM_ERR_NOMEM, 0, "%s", "cannot start the writer thread");
    goto cleanup;
  }
  thread_started = 1;

  double t0 = qtm_monotonic_seconds();
  int64_t points_done = 0;
  st = run_tiles(&pl, b, &tiling, &cfg->grid, opt, &points_done, err, errcap);
  pthread_mutex_lock(&pl.mu);
  pl.producer_done = 1;
  pthread_cond_broadcast(&pl.cv);
  pthread_mutex_unlock(&pl.mu);
  pthread_join(thread, NULL);
  thread_started = 0;
  sum->tiles = pl.end_tile - pl.first_tile;
  sum->tiles_done = sum->tiles_done_before + pl.tiles_written;
  sum->tiles_verified = pl.tiles_verified;
  sum->tiles_repaired = pl.tiles_repaired;
  qtm_tile_check_close(pl.check); /* on this thread: the writer thread has ended */
  pl.check = NULL;
  if (sum->tiles_repaired > 0 && opt->log && !opt->quiet)
    fprintf(opt->log, "qtmscan: %lld of %lld finished tiles differed from a new evaluation "
            "(damaged by a kill) and were written again\n", (long long)sum->tiles_repaired,
            (long long)sum->tiles_verified);
  if (st == QTM_OK && pl.writer_status != QTM_OK) {
    st = pl.writer_status;
    qtm_failf(err, errcap, st, 0, "%s", pl.writer_err);
  }
  if (st != QTM_OK) goto cleanup;

  sum->seconds = qtm_monotonic_seconds() - t0;
  sum->points = points_done;
  sum->points_per_second = sum->seconds > 0 ? (double)points_done / sum->seconds : 0.0;
  if (an && parallel && (st = gather_analysis(&an, cfg, err, errcap)) != QTM_OK) goto cleanup;
  if (an) {
    st = opt->shard_count > 0 ? qtm_scan_write_state(an, w, err, errcap)
                              : qtm_scan_write_analysis(an, w, err, errcap);
    if ((st = agreed(st, err, errcap)) != QTM_OK) goto cleanup;
  }
  if (parallel) { /* the whole scan's points and rate, as a serial run records them */
    sum->seconds = qtm_mpi_max_double(sum->seconds);
    sum->points = cfg->grid.npoints;
    sum->points_per_second = sum->seconds > 0 ? (double)sum->points / sum->seconds : 0.0;
    sum->tiles = tiling.ntiles;
  }
  qtm_utc_now(end, sizeof end);
  qtm_mpi_share_text(end, sizeof end);
  st = qtm_h5_writer_finish(w, end, sum->points_per_second, err, errcap);
  w = NULL; /* finish frees it, whatever the outcome */
  if (parallel) { /* closed by every rank before rank 0 gives it its name */
    st = agreed(st, err, errcap);
    if (st == QTM_OK && mp.rank == 0) st = qtm_output_publish(partial, out, opt->force, err, errcap);
    st = agreed(st, err, errcap);
  } else if (st == QTM_OK) {
    st = qtm_output_publish(partial, out, opt->force, err, errcap);
  }

cleanup:
  if (thread_started) { /* only on a failed start of the loop: let the writer drain and stop */
    pthread_mutex_lock(&pl.mu);
    pl.producer_done = 1;
    pthread_cond_broadcast(&pl.cv);
    pthread_mutex_unlock(&pl.mu);
    pthread_join(thread, NULL);
  }
  qtm_tile_check_close(pl.check); /* before the writer's file: it shares it */
  if (w) qtm_h5_writer_abort(w);
  if (sync_ready) {
    pthread_cond_destroy(&pl.cv);
    pthread_mutex_destroy(&pl.mu);
  }
  free_slots(&pl);
  free(done);
  qtm_backend_free(b);
  qtm_analysis_free(an);
  if (st != QTM_OK && access(partial, F_OK) == 0 && opt->log && !opt->quiet)
    fprintf(opt->log, "qtmscan: the incomplete result stays in %s\n", partial);
  return st;
}

qtm_status qtm_scan_estimate_run(const qtm_config *cfg, const qtm_scan_options *opt,
                                 qtm_scan_estimate *est, char *err, size_t errcap) {
  memset(est, 0, sizeof *est);
  qtm_tiling tiling, sample_tiling;
  qtm_tiling_init(&tiling, &cfg->grid, cfg->tile_points);
  const char *out = opt->output_path ? opt->output_path : cfg->output_path;
  qtm_status st = job_output(opt, out, est->output, sizeof est->output, err, errcap);
  if (st != QTM_OK) return st;
  est->points = cfg->grid.npoints;
  est->tiles = tiling.ntiles;
  est->tile_points = tiling.max_tile_points;
  est->shard_index = opt->shard_index;
  est->shard_count = opt->shard_count;
  est->first_tile = 0;
  est->end_tile = tiling.ntiles;
  if (opt->shard_count > 0)
    qtm_scan_shard_range(tiling.ntiles, opt->shard_index, opt->shard_count, &est->first_tile,
                         &est->end_tile);
  est->job_points = qtm_tiling_points(&tiling, &cfg->grid, est->first_tile, est->end_tile);
  /* a shard's file holds the chunks of its own tiles only, and every coordinate */
  est->output_bytes = (double)est->job_points * cfg->nobs * (double)qtm_dtype_size(cfg->dtype) +
                      (double)cfg->grid.nvalues * sizeof(double);

  /* Time one tile of at most 2^16 points: enough to be steady, quick on any backend. */
  qtm_tiling_init(&sample_tiling, &cfg->grid, cfg->tile_points < 65536 ? cfg->tile_points : 65536);
  /* the same work as the run: the analysis' inputs are evaluated too */
  qtm_analysis *an = NULL;
  if (cfg->analysis.enabled &&
      (st = qtm_analysis_create(&cfg->analysis, &cfg->grid, &an, err, errcap)) != QTM_OK)
    return st;
  qtm_scan_plan plan;
  plan_from_config(cfg, &sample_tiling, an, &plan);
  qtm_analysis_free(an);
  qtm_backend *b = NULL;
  pipeline pl;
  memset(&pl, 0, sizeof pl);
  char msg[512] = "";
  st = qtm_backend_open(opt->backend, &plan, opt->threads, &b, msg, sizeof msg);
  if (st != QTM_OK) return qtm_failf(err, errcap, st, 0, "%s", msg);
  notice(opt, msg);
  snprintf(est->backend, sizeof est->backend, "%s", b->name);
  snprintf(est->device, sizeof est->device, "%s", b->device);
  if ((st = alloc_slots(&pl, &plan, plan.nobs, plan.dtype, err, errcap)) == QTM_OK) {
    qtm_tile tile;
    qtm_tiling_tile(&sample_tiling, &cfg->grid, 0, &tile);
    st = b->ops->eval_tile(b, &tile, &pl.slots[0].out, err, errcap); /* warm-up */
    double t0 = qtm_monotonic_seconds();
    if (st == QTM_OK) st = b->ops->eval_tile(b, &tile, &pl.slots[0].out, err, errcap);
    double dt = qtm_monotonic_seconds() - t0;
    est->sample_points = (double)tile.npoints;
    est->points_per_second = dt > 0 ? (double)tile.npoints / dt : 0.0;
    est->expected_seconds =
        est->points_per_second > 0 ? (double)est->job_points / est->points_per_second : 0.0;
  }
  free_slots(&pl);
  qtm_backend_free(b);
  return st;
}
