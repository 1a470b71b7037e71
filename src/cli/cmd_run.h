/* `qtmscan run CONFIG`: the scan, from a YAML config to an HDF5 file of maps. */
#ifndef QTM_CLI_CMD_RUN_H
#define QTM_CLI_CMD_RUN_H

#include <stdio.h>

/* Runs the subcommand on args[0..nargs) (after "run"); returns the exit status. */
int qtm_cmd_run(int nargs, char *const args[]);
void qtm_cmd_run_help(FILE *f);

#endif
