/* Evaluation of every observable at one parameter point, by the closed forms or by the
 * numerical master-equation solution. Both validate the point first. */
#ifndef QTM_EVAL_H
#define QTM_EVAL_H

#include <stddef.h>

#include "qtm/observables.h"
#include "qtm/params.h"
#include "qtm/status.h"

typedef enum { QTM_METHOD_CLOSED, QTM_METHOD_NUMERIC } qtm_method;

/* Closed forms (physics.h). QTM_ERR_INVALID_ARG with *err filled when p is invalid. */
qtm_status qtm_eval_closed(const qtm_params *p, qtm_obs *out, qtm_param_error *err);

/* Numerical steady states (oracle.h): currents, populations, coherence and concurrence from
 * the density matrix; conductances and derivatives by Richardson-extrapolated central
 * differences of the numerical currents; ndtc_threshold is Eq. 17 (an analytic estimate
 * with no numerical counterpart). Observables that do not apply are NaN as in the closed
 * forms. Fails with QTM_ERR_UNSUPPORTED (message in msg) where the solver cannot go:
 * eps_a other than +-1, qubit chains longer than QTM_ORACLE_MAX_QUBITS. */
qtm_status qtm_eval_numeric(const qtm_params *p, qtm_obs *out, qtm_param_error *err, char *msg,
                            size_t msgcap);

#endif
