/* One point of the model's parameter space and its validation. Every public entry point
 * validates a point with qtm_params_validate() before any formula sees it, so the formulas
 * never meet invalid input. Units: hbar = kB = 1; energies, rates and temperatures are in
 * one common energy unit E (the paper's figures use omega = 1). */
#ifndef QTM_PARAMS_H
#define QTM_PARAMS_H

#include <stddef.h>

#include "qtm/status.h"

typedef struct qtm_params {
  double omega;  /* subsystem frequency, > 0 */
  double TL;     /* left (forward: hot) bath temperature, >= 0 */
  double TR;     /* right bath temperature, >= 0 */
  double gammaL; /* left bath coupling rate, >= 0 */
  double gammaR; /* right bath coupling rate, >= 0 */
  double g;      /* inter-subsystem coupling, >= 0 */
  double epsL;   /* left bath statistics in [-1, 1]: +1 bosons, -1 fermions/two-level */
  double epsR;   /* right bath statistics in [-1, 1] */
  double eps_a;  /* subsystem statistics in [-1, 1]: -1 qubits, +1 oscillators */
  int N;         /* number of subsystems in the chain, >= 1 */
} qtm_params;

/* X(field, kind, unit, help): kind 'd' is a double, 'i' an integer. Order is the order of
 * --help, of the JSON "params" object and of the scanner's parameter axes. */
#define QTM_PARAM_LIST(X)                                                                    \
  X(omega, 'd', "E", "subsystem frequency (level spacing), > 0")                             \
  X(TL, 'd', "E", "left bath temperature, >= 0 (0 is the T -> 0+ limit)")                   \
  X(TR, 'd', "E", "right bath temperature, >= 0")                                            \
  X(gammaL, 'd', "E", "left system-bath coupling rate, >= 0")                                \
  X(gammaR, 'd', "E", "right system-bath coupling rate, >= 0")                               \
  X(g, 'd', "E", "coupling between neighbouring subsystems, >= 0")                           \
  X(epsL, 'd', "1", "left bath statistics in [-1,1]: +1 bosons, -1 fermions/two-level units") \
  X(epsR, 'd', "1", "right bath statistics in [-1,1]")                                       \
  X(eps_a, 'd', "1", "subsystem statistics in [-1,1]: -1 qubits, +1 harmonic oscillators")   \
  X(N, 'i', "1", "number of subsystems in the chain, >= 1")

typedef enum {
#define QTM_PARAM_ENUM(field, kind, unit, help) QTM_PARAM_##field,
  QTM_PARAM_LIST(QTM_PARAM_ENUM)
#undef QTM_PARAM_ENUM
  QTM_PARAM_COUNT
} qtm_param_id;

typedef struct qtm_param_info {
  const char *name;
  char kind;
  const char *unit;
  const char *help;
} qtm_param_info;

#ifdef __cplusplus
extern "C" {
#endif
extern const qtm_param_info qtm_param_table[QTM_PARAM_COUNT];

/* What was wrong with a point: which parameter, its value, and a sentence saying why. */
typedef struct qtm_param_error {
  qtm_param_id param;
  double value;
  const char *rule;  /* the rule broken, a static sentence such as "temperatures must be >= 0" */
  char message[192]; /* "<name> = <value> is invalid: <rule>" */
} qtm_param_error;

/* Defaults of `qtmscan eval`: omega = 1, epsL = epsR = 1, eps_a = -1, N = 2; the temperatures,
 * rates and g are NaN so that validation rejects a point that never set them. */
void qtm_params_default(qtm_params *p);

/* The one validation function: QTM_OK, or QTM_ERR_INVALID_ARG with *err (if non-NULL) naming
 * the first bad parameter, its value and the rule it breaks. Rejects non-finite values. */
qtm_status qtm_params_validate(const qtm_params *p, qtm_param_error *err);

/* Value of parameter `id` as a double (N converted). */
double qtm_params_get(const qtm_params *p, qtm_param_id id);

#ifdef __cplusplus
}
#endif

#endif
