/* `qtmscan eval`: evaluate every observable at one parameter point and print it. */
#ifndef QTM_CLI_CMD_EVAL_H
#define QTM_CLI_CMD_EVAL_H

#include <stdio.h>

/* Runs the subcommand on args[0..nargs) (the arguments after "eval"); returns the exit status
 * (QTM_EXIT_* of flags.h). Results go to stdout, one error line to stderr. Never exits. */
int qtm_cmd_eval(int nargs, char *const args[]);

/* The full help of `qtmscan eval`: every flag with its unit and default, every observable with
 * its unit and long name, the unit convention and the meaning of nan/null. */
void qtm_cmd_eval_help(FILE *f);

#endif
