/* Host entry point of the closed forms: validate, then evaluate with the shared header. */
#include "qtm/eval.h"
#include "qtm/physics.h"

qtm_status qtm_eval_closed(const qtm_params *p, qtm_obs *out, qtm_param_error *err) {
  qtm_status st = qtm_params_validate(p, err);
  if (st != QTM_OK) return st;
  qtm_eval_closed_point(p, out);
  return QTM_OK;
}
