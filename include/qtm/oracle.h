/* The numerical oracle: steady states of the master equations of FORMULAS.md section 2,
 * solved with LAPACKE, and the observables computed from the density matrix (or, for
 * oscillators, from the second moments). It shares no formula with physics.h: it builds the
 * Liouvillian from the Hamiltonian and the jump operators and nothing else, so it can test the
 * closed forms. */
#ifndef QTM_ORACLE_H
#define QTM_ORACLE_H

#include <stddef.h>

#include "qtm/params.h"
#include "qtm/status.h"

/* Largest qubit chain the dense Liouvillian solver accepts (4^N unknowns). */
#define QTM_ORACLE_MAX_QUBITS 5

/* Steady state of one master equation. Q_L, Q_R: heat per unit time entering the system from
 * the left and right baths, Q = tr{H_0 D_bath rho} (local) or tr{H_S D_bath rho} (global).
 * J = Q_L - Q_R (paper's convention). The two-site quantities are NaN where they do not apply:
 * p1 = <11|rho|11>, p4 = <00|rho|00>, coherence = Im<s1 s2^+ - s1^+ s2>/2 and the Wootters
 * concurrence need two qubits (N = 2, eps_a = -1); for oscillators (eps_a = +1, N = 2) only
 * coherence is filled in. */
typedef struct qtm_oracle_result {
  double Q_L, Q_R, J;
  double p1, p4;
  double coherence;
  double concurrence;
  double trace_error;   /* |tr rho - 1| or, for moments, 0 */
  double balance_error; /* |Q_L + Q_R| / max(|Q_L|, |Q_R|, tiny): steady-state check */
} qtm_oracle_result;

/* Local master equation (Eq. 2 / Eq. 18 corrected) for the N-site chain with bath L on site 1
 * and bath R on site N (N = 1: both baths on the one site). eps_a = -1: qubits, dense
 * Liouvillian, N <= QTM_ORACLE_MAX_QUBITS. eps_a = +1: oscillators, the closed second-moment
 * equations solved as a linear system, any N. Other eps_a: QTM_ERR_UNSUPPORTED.
 * err (may be NULL) receives a sentence on failure. The parameters must be valid. */
qtm_status qtm_oracle_local(const qtm_params *p, qtm_oracle_result *out, char *err, size_t errcap);

/* Global master equation (Eq. 20) of two resonant qubits with bosonic baths, 0 < g < omega;
 * QTM_ERR_UNSUPPORTED otherwise. */
qtm_status qtm_oracle_global(const qtm_params *p, qtm_oracle_result *out, char *err, size_t errcap);

/* Wootters concurrence of a two-qubit density matrix, row-major 4x4 complex in the basis
 * |00>, |01>, |10>, |11> (first qubit is the left digit); rho is given as interleaved
 * (re, im) pairs, 32 doubles. */
double qtm_wootters_concurrence(const double rho_re_im[32]);

#endif
