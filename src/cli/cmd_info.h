/* `qtmscan info FILE`: axes, maps, their ranges, NaN counts and provenance of a scan file. */
#ifndef QTM_CLI_CMD_INFO_H
#define QTM_CLI_CMD_INFO_H

#include <stdio.h>

/* Runs the subcommand on args[0..nargs) (after "info"); returns the exit status. */
int qtm_cmd_info(int nargs, char *const args[]);
void qtm_cmd_info_help(FILE *f);

#endif
