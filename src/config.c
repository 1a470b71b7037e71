/* placeholder: the config loader is being written */
#include <stdio.h>
#include <string.h>
#include "qtm/config.h"
qtm_status qtm_config_load(const char *path, const char *const *sets, int nsets, qtm_config *cfg, char *err, size_t errcap) {
  (void)path; (void)sets; (void)nsets; memset(cfg, 0, sizeof *cfg); snprintf(err, errcap, "not yet"); return QTM_ERR_UNSUPPORTED; }
qtm_status qtm_config_load_text(const char *name, const char *text, size_t len, const char *const *sets, int nsets, qtm_config *cfg, char *err, size_t errcap) {
  (void)name; (void)text; (void)len; (void)sets; (void)nsets; memset(cfg, 0, sizeof *cfg); snprintf(err, errcap, "not yet"); return QTM_ERR_UNSUPPORTED; }
void qtm_config_free(qtm_config *cfg) { (void)cfg; }
