/* Entry point of qtmscan: --help, --version, and the dispatch to a subcommand through a small
 * table (a new subcommand is one row). The process ends only here, by returning from main;
 * subcommands return their exit status (flags.h). */
#include <stdio.h>
#include <string.h>

#include "cmd_eval.h"
#include "cmd_info.h"
#include "cmd_merge.h"
#include "cmd_run.h"
#include "flags.h"
#include "qtm/mpi_run.h"
#include "qtm/version.h"

typedef struct cli_command {
  const char *name;
  const char *summary;
  int (*run)(int nargs, char *const args[]);
  void (*help)(FILE *f);
} cli_command;

static const cli_command commands[] = {
    {"run", "scan a grid from a YAML config into an HDF5 file of maps", qtm_cmd_run,
     qtm_cmd_run_help},
    {"info", "describe a scan file: axes, maps, ranges, NaN counts, provenance", qtm_cmd_info,
     qtm_cmd_info_help},
    {"merge", "join the shard files of a split scan (run --shard K/N) into one file",
     qtm_cmd_merge, qtm_cmd_merge_help},
    {"eval", "evaluate every observable at one parameter point", qtm_cmd_eval, qtm_cmd_eval_help},
};

#define N_COMMANDS ((int)(sizeof commands / sizeof commands[0]))

static void usage(FILE *f) {
  fputs("Usage: qtmscan <command> [flags]\n"
        "       qtmscan --help | --version\n"
        "Commands:\n",
        f);
  for (int i = 0; i < N_COMMANDS; ++i)
    fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
}

static void help(FILE *f) {
  fputs("qtmscan: parameter-space scanner for the quantum thermal rectifier of Santiago-Garcia\n"
        "et al., \"Quantum thermal machine as a rectifier\" (2024): heat currents, rectification,\n"
        "conductances, NDTC and entanglement of two (or N) coupled subsystems between two\n"
        "baths.\n\n",
        f);
  usage(f);
  fputs("\n`qtmscan <command> --help` shows the help of one command; all of them follow.\n", f);
  for (int i = 0; i < N_COMMANDS; ++i) {
    fprintf(f, "\n==== qtmscan %s ====\n\n", commands[i].name);
    commands[i].help(f);
  }
}

static int usage_error(const char *what, const char *arg) {
  char q[4 * QTM_FLAG_QUOTE_MAX + 8];
  qtm_flags_quote(arg, q, sizeof q);
  fprintf(stderr, "qtmscan: %s %s\n", what, q);
  usage(stderr);
  return QTM_EXIT_USAGE;
}

/* Runs the request; main adds the final check of stdout. */
static int dispatch(int argc, char **argv) {
  if (argc < 2) {
    fputs("qtmscan: no command given\n", stderr);
    usage(stderr);
    return QTM_EXIT_USAGE;
  }
  const char *first = argv[1];
  int is_help = strcmp(first, "--help") == 0 || strcmp(first, "-h") == 0;
  int is_version = strcmp(first, "--version") == 0;
  if (is_help || is_version) {
    if (argc > 2) return usage_error("unexpected argument", argv[2]);
    if (is_help)
      help(stdout);
    else
      printf("qtmscan %s (git %s)\n", QTM_VERSION_STRING, QTM_GIT_COMMIT);
    return QTM_EXIT_OK;
  }
  for (int i = 0; i < N_COMMANDS; ++i)
    if (strcmp(first, commands[i].name) == 0) return commands[i].run(argc - 2, argv + 2);
  return usage_error(first[0] == '-' ? "unknown option" : "unknown command", first);
}

int main(int argc, char **argv) {
  /* An MPI build splits `run` across the ranks mpirun started; the other commands are serial. */
  int mpi = argc > 1 && strcmp(argv[1], "run") == 0;
  if (mpi) {
    qtm_mpi m;
    char err[256];
    if (qtm_mpi_start(&argc, &argv, &m, err, sizeof err) != QTM_OK) {
      fprintf(stderr, "qtmscan: %s\n", err);
      return QTM_EXIT_FAILURE;
    }
  }
  int rc = dispatch(argc, argv);
  if (mpi) qtm_mpi_stop();
  /* stdout is buffered: a full disk or a closed pipe shows only at the flush, and output that
   * silently went missing must not exit 0. */
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fputs("qtmscan: error writing to standard output\n", stderr);
    if (rc == QTM_EXIT_OK) rc = QTM_EXIT_FAILURE;
  }
  return rc;
}
