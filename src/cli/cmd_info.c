/* placeholder: qtmscan info is being written */
#include "cmd_info.h"
int qtm_cmd_info(int nargs, char *const args[]) { (void)nargs; (void)args; return 1; }
void qtm_cmd_info_help(FILE *f) { (void)f; }
