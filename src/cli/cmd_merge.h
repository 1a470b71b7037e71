/* `qtmscan merge OUT SHARD...`: the shards of a split scan joined into one file. */
#ifndef QTM_CLI_CMD_MERGE_H
#define QTM_CLI_CMD_MERGE_H

#include <stdio.h>

/* Runs the subcommand on args[0..nargs) (after "merge"); returns the exit status. */
int qtm_cmd_merge(int nargs, char *const args[]);
void qtm_cmd_merge_help(FILE *f);

#endif
