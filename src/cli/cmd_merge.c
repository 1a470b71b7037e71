/* `qtmscan merge OUT SHARD...`: checks that the shards belong to one config and hold every
 * tile exactly once, then writes OUT (a copy, or virtual maps into the shards). */
#include "cmd_merge.h"

#include <stdlib.h>
#include <string.h>

#include "flags.h"
#include "qtm/merge.h"

#define CMD_NAME "qtmscan merge"

#define fail(status, ...) qtm_cli_fail(CMD_NAME, status, __VA_ARGS__)

void qtm_cmd_merge_help(FILE *f) {
  fputs("Usage: qtmscan merge OUT SHARD... [--virtual] [--force] [--quiet]\n"
        "\n"
        "Join the shard files of a scan split with `qtmscan run CONFIG --shard K/N` into OUT,\n"
        "the file a single run of CONFIG would have written: the same maps and the same\n"
        "analysis (maxima, top-K, Pareto fronts, NDTC counts and onsets are merged from the\n"
        "shards' partial results). First checks that every shard was run with the same config\n"
        "(its fingerprint) and that together they hold every tile exactly once; names the\n"
        "missing or doubled tiles and shards otherwise. The shards are only read.\n"
        "\n"
        "Options:\n"
        "  --virtual    write OUT's maps as HDF5 virtual datasets that read from the shards\n"
        "               (no copy: fast and small, but the shards must stay where they are,\n"
        "               named relative to OUT's directory)\n"
        "  --force      overwrite OUT if it exists\n"
        "  --quiet      no notices\n"
        "  -h, --help   print this help and exit\n"
        "\n"
        "Exit status: 0 done; 2 bad input (shards of another config, missing or doubled tiles,\n"
        "OUT exists without --force); 1 any other failure (unreadable or damaged shards).\n",
        f);
}

static int exit_status_of(qtm_status st) {
  switch (st) {
  case QTM_OK: return QTM_EXIT_OK;
  case QTM_ERR_INVALID_ARG:
  case QTM_ERR_EXISTS: return QTM_EXIT_USAGE;
  default: return QTM_EXIT_FAILURE;
  }
}

/* The command line for the file's provenance (plain words joined: shard names are paths). */
static char *join_command(int nargs, char *const args[]) {
  size_t cap = 16;
  for (int i = 0; i < nargs; ++i) cap += strlen(args[i]) + 1;
  char *s = malloc(cap);
  if (!s) return NULL;
  strcpy(s, "qtmscan merge");
  for (int i = 0; i < nargs; ++i) {
    strcat(s, " ");
    strcat(s, args[i]);
  }
  return s;
}

int qtm_cmd_merge(int nargs, char *const args[]) {
  qtm_merge_options opt = {0};
  const char *out = NULL;
  const char **shards = calloc((size_t)(nargs > 0 ? nargs : 1), sizeof *shards);
  int nshards = 0;
  if (!shards) return fail(QTM_EXIT_FAILURE, "out of memory");
  for (int i = 0; i < nargs; ++i) {
    const char *s = args[i];
    if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
      free(shards);
      qtm_cmd_merge_help(stdout);
      return QTM_EXIT_OK;
    }
  }
  for (int i = 0; i < nargs; ++i) {
    const char *s = args[i];
    if (!strcmp(s, "--virtual")) {
      opt.virtual_maps = 1;
    } else if (!strcmp(s, "--force")) {
      opt.force = 1;
    } else if (!strcmp(s, "--quiet")) {
      opt.quiet = 1;
    } else if (s[0] == '-' && s[1] != '\0') {
      char q[4 * QTM_FLAG_QUOTE_MAX + 8];
      qtm_flags_quote(s, q, sizeof q);
      free(shards);
      return fail(QTM_EXIT_USAGE, "unknown option %s (see " CMD_NAME " --help)", q);
    } else if (!out) {
      out = s;
    } else {
      shards[nshards++] = s;
    }
  }
  if (!out || nshards == 0) {
    free(shards);
    return fail(QTM_EXIT_USAGE, "%s (see " CMD_NAME " --help)",
                out ? "no shard files given after OUT" : "no output file and no shards given");
  }
  for (int i = 0; i < nshards; ++i)
    if (!strcmp(shards[i], out)) {
      free(shards);
      return fail(QTM_EXIT_USAGE, "OUT %s is also given as a shard", out);
    }
  char *command = join_command(nargs, args);
  opt.command_line = command ? command : "qtmscan merge";
  opt.log = stderr;
  qtm_merge_summary sum;
  char err[4096] = "";
  qtm_status st = qtm_merge_run(out, shards, nshards, &opt, &sum, err, sizeof err);
  free(command);
  free(shards);
  if (st != QTM_OK) return fail(exit_status_of(st), "%s", err);
  if (!opt.quiet)
    fprintf(stderr, "qtmscan: wrote %s (%lld points in %lld tiles from %d shards%s)\n", out,
            (long long)sum.points, (long long)sum.tiles, sum.shards,
            opt.virtual_maps ? ", maps virtual" : "");
  return QTM_EXIT_OK;
}
