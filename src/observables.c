/* The observables table, generated from the one X-macro list. */
#include "qtm/observables.h"

#include <string.h>

const qtm_obs_info qtm_obs_table[QTM_OBS_COUNT] = {
#define QTM_OBS_ROW(name, unit, long_name, domain) {#name, unit, long_name, QTM_DOMAIN_##domain},
    QTM_OBSERVABLE_LIST(QTM_OBS_ROW)
#undef QTM_OBS_ROW
};

int qtm_obs_find(const char *name) {
  for (int i = 0; i < QTM_OBS_COUNT; ++i)
    if (strcmp(qtm_obs_table[i].name, name) == 0) return i;
  return -1;
}
