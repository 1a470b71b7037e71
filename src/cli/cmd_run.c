/* `qtmscan run CONFIG`: load and validate the YAML config, then scan it into an HDF5 file
 * (or, with --dry-run, say how big and how long the scan would be). SIGINT and SIGTERM stop
 * the scan after the tile in flight and leave NAME.partial, never a file that looks done. */
#define _POSIX_C_SOURCE 200809L
#include "cmd_run.h"

#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "flags.h"
#include "qtm/config.h"
#include "qtm/mpi_run.h"
#include "qtm/scan.h"

#define CMD_NAME "qtmscan run"
#define MAX_SETS 64

/* Exit status of a scan stopped by SIGINT/SIGTERM: distinct from success, bad input and
 * failure, so a batch script can tell "resubmit" from "fix". */
#define EXIT_INTERRUPTED 3

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

/* Error lines are "CMD_NAME: <message>" (flags.h). */
#define fail(status, ...) qtm_cli_fail(CMD_NAME, status, __VA_ARGS__)

void qtm_cmd_run_help(FILE *f) {
  fputs("Usage: qtmscan run CONFIG [-o OUT] [--force] [--resume [--no-verify]]\n"
        "                  [--backend auto|cpu|cuda]\n"
        "                  [--threads N] [--set KEY=VALUE]... [--shard K/N|auto]\n"
        "                  [--dry-run] [--quiet]\n"
        "\n"
        "Scan the grid a YAML config describes and write every requested observable as a\n"
        "map into an HDF5 file that netCDF tools, xarray and h5py open directly (schema:\n"
        "docs/config.md). The file is written as OUT.partial and renamed to OUT only when\n"
        "complete.\n"
        "\n"
        "Options:\n"
        "  -o, --output OUT        write to OUT instead of the config's output.path\n"
        "  --force                 overwrite OUT if it exists, or start over when an\n"
        "                          interrupted run left OUT.partial (default: refuse)\n"
        "  --resume                continue the interrupted run in OUT.partial, computing only\n"
        "                          the tiles it did not finish (it must be of the same config);\n"
        "                          with no OUT.partial, start from the beginning; with OUT\n"
        "                          complete, do nothing. Safe to pass in every job script.\n"
        "                          The finished tiles are evaluated again and compared with\n"
        "                          the file; one that differs (damaged by a kill inside\n"
        "                          HDF5's flush) is written again\n"
        "  --no-verify             with --resume: trust the finished tiles (faster: skips\n"
        "                          their evaluation unless an analysis needs it)\n"
        "  --backend auto|cpu|cuda evaluate on the CPU (OpenMP) or a CUDA GPU; auto (default)\n"
        "                          takes the GPU when one is usable and says which it chose\n"
        "  --threads N             CPU threads (default: every core)\n"
        "  --set KEY=VALUE         override a config entry, VALUE in YAML: --set fixed.TR=0.1,\n"
        "                          --set 'observables=[J, contrast]', --set output.dtype=float64;\n"
        "                          may be repeated\n"
        "  --shard K/N             compute only the K-th (0..N-1) of N contiguous slabs of the\n"
        "                          tiles into OUT's shard file (results/x.h5 ->\n"
        "                          results/x.shard-K-of-N.h5); join the N shards with\n"
        "                          qtmscan merge. --shard auto takes K and N from a Slurm\n"
        "                          array job: SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN and\n"
        "                          SLURM_ARRAY_TASK_COUNT (a contiguous array); --shard\n"
        "                          auto/N takes K = SLURM_ARRAY_TASK_ID (--array=0-(N-1),\n"
        "                          or some of those tasks submitted again)\n"
        "  --dry-run               print the grid size, the output size and the expected time\n"
        "                          (from a timed sample), write nothing; with --shard, of\n"
        "                          that shard\n"
        "  --quiet                 no progress line and no notices\n"
        "  -h, --help              print this help and exit\n"
        "\n"
        "Progress goes to stderr: redrawn in place on a terminal, one line every 5 s when\n"
        "stderr is a file (batch logs). On a CPU with AVX-512 the currents, contrasts and\n"
        "their TL-derivatives take a vector path (the same bits, ~2x faster);\n"
        "QTM_CPU_VECTOR=0 in the environment turns it off.\n"
        "\n"
        "Exit status: 0 done; 2 bad input (config errors name FILE:LINE:COLUMN; an existing\n"
        "OUT without --force); 3 interrupted by SIGINT/SIGTERM (the tile in flight is\n"
        "finished, OUT.partial is left resumable: rerun with --resume); 1 any other failure.\n",
        f);
}

typedef struct run_args {
  const char *config, *output, *backend, *threads, *shard;
  const char *sets[MAX_SETS];
  int nsets, force, quiet, dry_run, help, resume, no_verify;
} run_args;

/* Returns QTM_EXIT_OK or the exit status of the (already printed) usage error. */
static int parse_args(int nargs, char *const args[], run_args *a) {
  memset(a, 0, sizeof *a);
  for (int i = 0; i < nargs; ++i) {
    const char *s = args[i];
    const char **value_of = NULL;
    if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
      a->help = 1;
      return QTM_EXIT_OK;
    } else if (!strcmp(s, "--force")) {
      a->force = 1;
    } else if (!strcmp(s, "--quiet")) {
      a->quiet = 1;
    } else if (!strcmp(s, "--dry-run")) {
      a->dry_run = 1;
    } else if (!strcmp(s, "--resume")) {
      a->resume = 1;
    } else if (!strcmp(s, "--no-verify")) {
      a->no_verify = 1;
    } else if (!strcmp(s, "-o") || !strcmp(s, "--output")) {
      value_of = &a->output;
    } else if (!strcmp(s, "--backend")) {
      value_of = &a->backend;
    } else if (!strcmp(s, "--threads")) {
      value_of = &a->threads;
    } else if (!strcmp(s, "--shard")) {
      value_of = &a->shard;
    } else if (!strcmp(s, "--set")) {
      if (a->nsets == MAX_SETS) return fail(QTM_EXIT_USAGE, "more than %d --set", MAX_SETS);
      value_of = &a->sets[a->nsets++];
    } else if (s[0] == '-' && s[1] != '\0') {
      char q[4 * QTM_FLAG_QUOTE_MAX + 8];
      qtm_flags_quote(s, q, sizeof q);
      return fail(QTM_EXIT_USAGE, "unknown option %s (see " CMD_NAME " --help)", q);
    } else if (a->config) {
      char q[4 * QTM_FLAG_QUOTE_MAX + 8];
      qtm_flags_quote(s, q, sizeof q);
      return fail(QTM_EXIT_USAGE, "one config only: %s follows %s", q, a->config);
    } else {
      a->config = s;
    }
    if (value_of) {
      if (i + 1 >= nargs) return fail(QTM_EXIT_USAGE, "%s needs a value", s);
      if (*value_of && value_of != &a->sets[a->nsets - 1])
        return fail(QTM_EXIT_USAGE, "%s given twice", s);
      *value_of = args[++i];
    }
  }
  if (!a->config) return fail(QTM_EXIT_USAGE, "no config file given (see " CMD_NAME " --help)");
  if (a->no_verify && !a->resume) return fail(QTM_EXIT_USAGE, "--no-verify goes with --resume");
  return QTM_EXIT_OK;
}

/* The command line as one shell-readable string, for the file's provenance. */
static char *join_command(int nargs, char *const args[]) {
  size_t cap = 32;
  for (int i = 0; i < nargs; ++i) cap += 4 * strlen(args[i]) + 3;
  char *s = malloc(cap);
  if (!s) return NULL;
  strcpy(s, "qtmscan run");
  for (int i = 0; i < nargs; ++i) {
    int plain = args[i][0] != '\0' && strspn(args[i], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"
                                                      "QRSTUVWXYZ0123456789-_./=:,+@%") ==
                                              strlen(args[i]);
    strcat(s, plain ? " " : " '");
    if (plain) {
      strcat(s, args[i]);
      continue;
    }
    for (const char *c = args[i]; *c; ++c) strcat(s, *c == '\'' ? "'\\''" : (char[2]){*c, '\0'});
    strcat(s, "'");
  }
  return s;
}

/* An environment variable of a Slurm array job as an int; a message in why when unset or not
 * an integer. */
static int slurm_int(const char *name, int *out, char *why, size_t cap) {
  const char *text = getenv(name);
  const char *bad = NULL;
  if (!text) {
    snprintf(why, cap, "--shard auto: %s is not set (not inside a Slurm array job?)", name);
    return 0;
  }
  if (qtm_flags_parse_int(text, out, &bad) != QTM_OK) {
    snprintf(why, cap, "--shard auto: %s=%s: %s", name, text, bad ? bad : "not an integer");
    return 0;
  }
  return 1;
}

/* --shard K/N or auto into (k, n); a one-line message in why otherwise. */
static int parse_shard(const char *text, int *k, int *n, char *why, size_t cap) {
  if (!strncmp(text, "auto/", 5)) { /* K is the task id itself: one task resubmitted alone */
    int id;
    const char *bad = NULL;
    if (qtm_flags_parse_int(text + 5, n, &bad) != QTM_OK || *n < 1) {
      snprintf(why, cap, "--shard %s: N must be a positive integer", text);
      return 0;
    }
    if (!slurm_int("SLURM_ARRAY_TASK_ID", &id, why, cap)) return 0;
    *k = id;
    if (id < 0 || id >= *n) {
      snprintf(why, cap, "--shard %s: array task %d is not one of 0..%d (submit the array as "
               "--array=0-%d)", text, id, *n - 1, *n - 1);
      return 0;
    }
    return 1;
  }
  if (!strcmp(text, "auto")) {
    int id, min, max, count;
    if (!slurm_int("SLURM_ARRAY_TASK_ID", &id, why, cap) ||
        !slurm_int("SLURM_ARRAY_TASK_MIN", &min, why, cap) ||
        !slurm_int("SLURM_ARRAY_TASK_COUNT", &count, why, cap))
      return 0;
    if (!getenv("SLURM_ARRAY_TASK_MAX")) max = min + count - 1;
    else if (!slurm_int("SLURM_ARRAY_TASK_MAX", &max, why, cap)) return 0;
    *k = id - min;
    *n = count;
    if (count < 1 || *k < 0 || *k >= count || max - min + 1 != count) {
      snprintf(why, cap, "--shard auto: task %d of an array %d..%d with %d tasks: the array must "
               "be contiguous (e.g. --array=0-%d); to run some shards again use --shard auto/N "
               "(or K/N)", id, min, max, count, count > 0 ? count - 1 : 0);
      return 0;
    }
    return 1;
  }
  const char *slash = strchr(text, '/');
  char kt[32];
  const char *bad = NULL;
  if (!slash || (size_t)(slash - text) >= sizeof kt) {
    snprintf(why, cap, "--shard %s: expected K/N (e.g. 0/4) or auto", text);
    return 0;
  }
  memcpy(kt, text, (size_t)(slash - text));
  kt[slash - text] = '\0';
  if (qtm_flags_parse_int(kt, k, &bad) != QTM_OK || qtm_flags_parse_int(slash + 1, n, &bad) != QTM_OK) {
    snprintf(why, cap, "--shard %s: expected K/N with integers K and N (%s)", text,
             bad ? bad : "not an integer");
    return 0;
  }
  if (*n < 1 || *k < 0 || *k >= *n) {
    snprintf(why, cap, "--shard %s: K must be 0..N-1 and N at least 1", text);
    return 0;
  }
  return 1;
}

static int exit_status_of(qtm_status st) {
  switch (st) {
  case QTM_OK: return QTM_EXIT_OK;
  case QTM_ERR_INVALID_ARG:
  case QTM_ERR_EXISTS:
  case QTM_ERR_NO_DEVICE: return QTM_EXIT_USAGE;
  case QTM_ERR_INTERRUPTED: return EXIT_INTERRUPTED;
  default: return QTM_EXIT_FAILURE;
  }
}

static void print_estimate(const qtm_scan_estimate *e, const qtm_config *cfg) {
  printf("grid:     %lld points", (long long)e->points);
  for (int k = 0; k < cfg->grid.desc.naxes; ++k)
    printf("%s %s[%lld]", k ? " x" : " =", qtm_axis_name(cfg->grid.desc.axis_id[k]),
           (long long)cfg->grid.desc.shape[k]);
  printf("\ntiles:    %lld of up to %lld points\n", (long long)e->tiles, (long long)e->tile_points);
  if (e->shard_count > 0 && e->end_tile > e->first_tile)
    printf("shard:    %d of %d: tiles %lld to %lld, %lld points\n", e->shard_index,
           e->shard_count, (long long)e->first_tile, (long long)e->end_tile - 1,
           (long long)e->job_points);
  else if (e->shard_count > 0) /* more shards than tiles: some slabs are empty */
    printf("shard:    %d of %d: no tiles (%d shards of %lld tiles)\n", e->shard_index,
           e->shard_count, e->shard_count, (long long)e->tiles);
  printf("output:   %s, %d maps of %s, %.4g MB uncompressed\n", e->output, cfg->nobs,
         cfg->dtype == QTM_DTYPE_F32 ? "float32" : "float64", e->output_bytes / 1e6);
  printf("backend:  %s (%s)\n", e->backend, e->device);
  printf("expected: %.3g s of evaluation%s at %.3g points/s (timed on %.0f points; writing "
         "and compression come on top)\n",
         e->expected_seconds, e->shard_count > 0 ? " for this shard" : "", e->points_per_second,
         e->sample_points);
}

int qtm_cmd_run(int nargs, char *const args[]) {
  run_args a;
  int rc = parse_args(nargs, args, &a);
  if (rc != QTM_EXIT_OK) return rc;
  if (a.help) {
    qtm_cmd_run_help(stdout);
    return QTM_EXIT_OK;
  }
  qtm_scan_options opt = {.backend = QTM_BACKEND_AUTO,
                          .quiet = a.quiet,
                          .force = a.force,
                          .resume = a.resume,
                          .no_verify = a.no_verify,
                          .output_path = a.output,
                          .log = stderr,
                          .stop = &stop_requested};
  const qtm_mpi mp = qtm_mpi_world();
  if (mp.rank > 0) opt.quiet = 1; /* rank 0 reports for all; errors come from every rank */
  if (a.shard) {
    char why[256];
    if (!parse_shard(a.shard, &opt.shard_index, &opt.shard_count, why, sizeof why))
      return fail(QTM_EXIT_USAGE, "%s", why);
  }
  if (a.backend) {
    if (!strcmp(a.backend, "auto")) opt.backend = QTM_BACKEND_AUTO;
    else if (!strcmp(a.backend, "cpu")) opt.backend = QTM_BACKEND_CPU;
    else if (!strcmp(a.backend, "cuda")) opt.backend = QTM_BACKEND_CUDA;
    else return fail(QTM_EXIT_USAGE, "--backend %s: choose auto, cpu or cuda", a.backend);
  }
  if (a.threads) {
    const char *why = NULL;
    if (qtm_flags_parse_int(a.threads, &opt.threads, &why) != QTM_OK || opt.threads < 1)
      return fail(QTM_EXIT_USAGE, "--threads %s: %s", a.threads,
                  why ? why : "needs a positive integer");
  }

  qtm_config cfg;
  char err[2048] = "";
  qtm_status st = qtm_config_load(a.config, a.sets, a.nsets, &cfg, err, sizeof err);
  if (st != QTM_OK) {
    qtm_config_free(&cfg);
    return fail(exit_status_of(st), "%s", err);
  }
  if (a.dry_run) {
    qtm_scan_estimate est;
    st = qtm_scan_estimate_run(&cfg, &opt, &est, err, sizeof err);
    if (st == QTM_OK) print_estimate(&est, &cfg);
    qtm_config_free(&cfg);
    return st == QTM_OK ? QTM_EXIT_OK : fail(exit_status_of(st), "%s", err);
  }

  char *command = join_command(nargs, args);
  opt.command_line = command ? command : "qtmscan run";
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESETHAND; /* a second signal stops at once */
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  qtm_scan_summary sum;
  st = qtm_scan_run(&cfg, &opt, &sum, err, sizeof err);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  char shard_text[48] = ""; /* resolved: auto means something else outside the array task */
  if (a.shard) snprintf(shard_text, sizeof shard_text, "%d/%d", opt.shard_index, opt.shard_count);
  if (st == QTM_ERR_INTERRUPTED) { /* say how to go on: batch logs are read by people */
    if (mp.size > 1 && mp.rank == 0) /* see qtm_h5_writer_resume */
      fprintf(stderr, CMD_NAME ": interrupted; %s.partial is kept but an MPI run cannot be "
                      "resumed: start it over with --force (split long scans with --shard to "
                      "make them resumable)\n",
              sum.output);
    else if (mp.size == 1)
      fprintf(stderr,
              CMD_NAME ": interrupted with %lld of %lld tiles done and kept in %s.partial; "
                       "continue with: qtmscan run %s%s%s%s%s --resume\n",
              (long long)sum.tiles_done, (long long)sum.tiles, sum.output, a.config,
              a.output ? " -o " : "", a.output ? a.output : "", a.shard ? " --shard " : "",
              shard_text);
    free(command);
    qtm_config_free(&cfg);
    return EXIT_INTERRUPTED;
  }
  free(command);
  qtm_config_free(&cfg);
  if (st != QTM_OK) return fail(exit_status_of(st), "%s", err);
  if (!opt.quiet && sum.backend[0]) /* none: --resume found the output complete (said so) */
    fprintf(stderr, "qtmscan: wrote %s (%lld points, %s on %s%s)\n", sum.output,
            (long long)sum.points, sum.backend, sum.device,
            mp.size > 1 ? ", one per MPI rank" : "");
  return QTM_EXIT_OK;
}
