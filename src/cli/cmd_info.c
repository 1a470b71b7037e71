/* `qtmscan info FILE`: prints a scan file's provenance, axes and maps (shape, dtype, chunks,
 * compression, min, max, NaN count), and its analysis section when it has one (maps, tables,
 * counts), through qtm_h5_info_print. Exit 0, 2 for a malformed call, 1 for a file that cannot
 * be read or is not a qtmscan file; errors are one line on stderr. */
#include "cmd_info.h"

#include <stdarg.h>
#include <string.h>

#include "flags.h"
#include "qtm/h5_writer.h"

#define CMD_NAME "qtmscan info"

/* Error lines are "CMD_NAME: <message>" (flags.h). */
#define fail(status, ...) qtm_cli_fail(CMD_NAME, status, __VA_ARGS__)

/* The error text may quote HDF5's messages, which can span lines: keep the one-line rule. */
static const char *one_line(char *msg) {
  for (char *c = msg; *c; ++c)
    if (*c == '\n' || *c == '\r') *c = ' ';
  return msg;
}

int qtm_cmd_info(int nargs, char *const args[]) {
  char q[4 * QTM_FLAG_QUOTE_MAX + 8];
  const char *path = NULL;
  for (int i = 0; i < nargs; ++i)
    if (strcmp(args[i], "-h") == 0 || strcmp(args[i], "--help") == 0) {
      qtm_cmd_info_help(stdout);
      return QTM_EXIT_OK;
    }
  for (int i = 0; i < nargs; ++i) {
    const char *a = args[i];
    if (strcmp(a, "--") == 0 && i + 1 < nargs && !path) { /* a file name starting with '-' */
      path = args[++i];
      continue;
    }
    qtm_flags_quote(a, q, sizeof q);
    if (a[0] == '-' && a[1] != '\0')
      return fail(QTM_EXIT_USAGE, "unknown option %s (see " CMD_NAME " --help)", q);
    if (path) return fail(QTM_EXIT_USAGE, "unexpected argument %s: one FILE only", q);
    path = a;
  }
  if (!path) return fail(QTM_EXIT_USAGE, "no FILE given (usage: " CMD_NAME " FILE)");

  char err[512] = "";
  qtm_status st = qtm_h5_info_print(path, stdout, err, sizeof err);
  if (st != QTM_OK)
    return fail(QTM_EXIT_FAILURE, "%s", err[0] ? one_line(err) : qtm_status_str(st));
  return QTM_EXIT_OK;
}

void qtm_cmd_info_help(FILE *f) {
  fputs("Usage: " CMD_NAME " FILE\n\n"
        "Describe a scan file written by `qtmscan run`:\n"
        "  provenance  title, qtmscan version and git commit, backend and device, start and\n"
        "              end time, points per second, config path, command line, and whether\n"
        "              the scan completed (a file without the `complete` mark was\n"
        "              interrupted or is still being written: unwritten points read as NaN)\n"
        "  axes        name, number of points, first and last value, units\n"
        "  maps        shape with dimension names, dtype, chunk shape, compression, units,\n"
        "              min and max (ignoring NaN) and NaN count, read in bounded blocks\n"
        "  analysis    when the scan ran an analysis (group `analysis`): its numeric\n"
        "              attributes (counts, fractions); each map as above (uint8 masks:\n"
        "              fill count and the number of points of each value); each table's\n"
        "              rows, fields and first 5 rows\n\n"
        "Options:\n"
        "  -h, --help  print this help and exit\n\n"
        "Exit status: 0 success, 1 unreadable or not a qtmscan file, 2 malformed call.\n",
        f);
}
