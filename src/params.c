/* Parameter table, defaults and the single validation function of the model's inputs. */
#include "qtm/params.h"

#include <math.h>
#include <stdio.h>

const qtm_param_info qtm_param_table[QTM_PARAM_COUNT] = {
#define QTM_PARAM_ROW(field, kind, unit, help) {#field, kind, unit, help},
    QTM_PARAM_LIST(QTM_PARAM_ROW)
#undef QTM_PARAM_ROW
};

void qtm_params_default(qtm_params *p) {
  p->omega = 1.0;
  p->TL = NAN;
  p->TR = NAN;
  p->gammaL = NAN;
  p->gammaR = NAN;
  p->g = NAN;
  p->epsL = 1.0;
  p->epsR = 1.0;
  p->eps_a = -1.0;
  p->N = 2;
}

double qtm_params_get(const qtm_params *p, qtm_param_id id) {
  switch (id) {
#define QTM_PARAM_GET(field, kind, unit, help) \
  case QTM_PARAM_##field:                      \
    return (double)p->field;
    QTM_PARAM_LIST(QTM_PARAM_GET)
#undef QTM_PARAM_GET
  case QTM_PARAM_COUNT:
    break;
  }
  return NAN;
}

static qtm_status reject(qtm_param_error *err, qtm_param_id id, double value, const char *why) {
  if (err) {
    err->param = id;
    err->value = value;
    err->rule = why;
    snprintf(err->message, sizeof err->message, "%s = %.17g is invalid: %s",
             qtm_param_table[id].name, value, why);
  }
  return QTM_ERR_INVALID_ARG;
}

qtm_status qtm_params_validate(const qtm_params *p, qtm_param_error *err) {
  if (!p) return reject(err, QTM_PARAM_omega, NAN, "no parameters given");
  for (int id = 0; id < QTM_PARAM_COUNT; ++id) {
    double v = qtm_params_get(p, (qtm_param_id)id);
    if (!isfinite(v)) return reject(err, (qtm_param_id)id, v, "the value must be a finite number");
  }
  if (!(p->omega > 0)) return reject(err, QTM_PARAM_omega, p->omega, "omega must be > 0");
  if (p->TL < 0) return reject(err, QTM_PARAM_TL, p->TL, "temperatures must be >= 0");
  if (p->TR < 0) return reject(err, QTM_PARAM_TR, p->TR, "temperatures must be >= 0");
  if (p->gammaL < 0) return reject(err, QTM_PARAM_gammaL, p->gammaL, "rates must be >= 0");
  if (p->gammaR < 0) return reject(err, QTM_PARAM_gammaR, p->gammaR, "rates must be >= 0");
  if (p->g < 0) return reject(err, QTM_PARAM_g, p->g, "the coupling g must be >= 0");
  if (fabs(p->epsL) > 1) return reject(err, QTM_PARAM_epsL, p->epsL, "statistics must lie in [-1, 1]");
  if (fabs(p->epsR) > 1) return reject(err, QTM_PARAM_epsR, p->epsR, "statistics must lie in [-1, 1]");
  if (fabs(p->eps_a) > 1)
    return reject(err, QTM_PARAM_eps_a, p->eps_a, "statistics must lie in [-1, 1]");
  if (p->N < 1) return reject(err, QTM_PARAM_N, p->N, "the chain needs N >= 1 subsystems");
  return QTM_OK;
}
