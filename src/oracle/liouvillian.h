/* Generic Lindblad machinery of the oracle: assemble L(rho) = -i[H, rho] + sum_k rate_k D[x_k]rho
 * from a Hamiltonian and jump operators, find its unique steady state, and take traces such
 * as tr{A D[x] rho}; plus the oracle's internal entry points shared by its model files and
 * its self-check tests.
 *
 * Accuracy: the rates, the Liouvillian (so trace preservation holds to ~1e-32 rather than to
 * the rounding of each diagonal sum) and the traces are double-double; the solve is an LU in
 * double with iterative refinement whose residuals are double-double, and the state comes
 * back as a (hi, lo) pair. The oracle's heat currents thereby keep ~1e-16 relative accuracy
 * in the model's inputs even when a current is a small difference of gain and loss terms
 * (nearly equal temperatures, weak inter-site coupling). */
#ifndef QTM_ORACLE_LIOUVILLIAN_H
#define QTM_ORACLE_LIOUVILLIAN_H

#include <complex.h>
#include <stddef.h>

#include "cmatrix.h"
#include "qtm/oracle.h"
#include "qtm/params.h"
#include "qtm/status.h"

/* One dissipator term rate * D[x], D[x]rho = x rho x^+ - {x^+ x, rho}/2; x is d x d row-major
 * and must outlive the call it is passed to. The rate is the double-double rate + rate_lo
 * (rate_lo = 0 for a plain double rate). */
typedef struct qtm_lv_jump {
  double rate, rate_lo;
  const double complex *x;
} qtm_lv_jump;

/* Which density-matrix elements rho_ij are unknowns. A master equation that conserves a
 * block structure (e.g. excitation number differences) has its steady state in one block;
 * solving on that block alone is exact and much smaller. Every diagonal element must be in
 * the space (the trace condition needs them). */
typedef struct qtm_lv_space {
  int d;     /* Hilbert-space dimension */
  int n;     /* number of unknowns */
  int *pair; /* n entries, i * d + j of each unknown, increasing */
  int *slot; /* d * d entries: position of rho_ij among the unknowns, or -1 */
} qtm_lv_space;

/* keep(i, j, ctx) != 0 selects rho_ij; keep == NULL selects all d^2 elements. On failure the
 * space is left empty (safe to free). */
typedef int (*qtm_lv_keep_fn)(int i, int j, const void *ctx);
qtm_status qtm_lv_space_init(qtm_lv_space *s, int d, qtm_lv_keep_fn keep, const void *ctx);
void qtm_lv_space_free(qtm_lv_space *s);

/* What the linear solve did. */
typedef struct qtm_lv_solve_info {
  double rcond;      /* reciprocal 1-norm condition estimate of the equilibrated matrix */
  int iterations;    /* refinement steps, the first solve included */
  double correction; /* max |last correction| / max |x|: ~1e-32 when refinement converged */
} qtm_lv_solve_info;

/* Smallest accepted rcond; below it the steady state is reported as not unique. */
#define QTM_LV_RCOND_MIN 1e-14

/* Solves (a_hi + a_lo) x = b_hi + b_lo (n x n row-major) to double-double accuracy:
 * equilibration by powers of two, LU with partial pivoting (LAPACKE_zgetrf) and refinement
 * with double-double residuals. QTM_ERR_SINGULAR when the matrix is singular or rcond <
 * QTM_LV_RCOND_MIN. a_lo and b_lo may be NULL (all zero). info may be NULL. */
qtm_status qtm_lv_solve(int n, const double complex *a_hi, const double complex *a_lo,
                        const double complex *b_hi, const double complex *b_lo,
                        double complex *x_hi, double complex *x_lo, qtm_lv_solve_info *info);

/* The Liouvillian restricted to the space, as an n x n row-major double-double matrix
 * (l_hi, l_lo, each n * n, overwritten). QTM_ERR_INVALID_ARG when L maps an element of the
 * space outside it (the space is not invariant). */
qtm_status qtm_lv_build(const qtm_lv_space *s, const double complex *H, const qtm_lv_jump *jumps,
                        int njumps, double complex *l_hi, double complex *l_lo);

/* Unique steady state: rho (d x d, (rho_hi, rho_lo), zero outside the space) with L rho = 0
 * and tr rho = 1. QTM_ERR_SINGULAR when it is not unique. err may be NULL. */
qtm_status qtm_lv_steady_state(const qtm_lv_space *s, const double complex *H,
                               const qtm_lv_jump *jumps, int njumps, double complex *rho_hi,
                               double complex *rho_lo, qtm_lv_solve_info *info, char *err,
                               size_t errcap);

/* tr{A rho} in double-double. */
qtm_ddc qtm_lv_expect(int d, const double complex *A, const double complex *rho_hi,
                      const double complex *rho_lo);

/* rate * tr{A D[x] rho} = rate * tr{(x^+ A x - {x^+ x, A}/2) rho} in double-double: the energy
 * (for A a Hamiltonian) that the dissipator feeds into the system per unit time. */
qtm_status qtm_lv_dissipated(int d, const double complex *A, const qtm_lv_jump *jump,
                             const double complex *rho_hi, const double complex *rho_lo,
                             qtm_ddc *out);

/* tr rho - 1 in double-double, as a double. */
double qtm_lv_trace_error(int d, const double complex *rho_hi, const double complex *rho_lo);

/* |Q_L + Q_R| / max(|Q_L|, |Q_R|, tiny), from double-double heats; tiny = 1e-30 * scale, with
 * scale the size of the gain and loss terms (omega times the sum of the rates), so that two
 * currents that are both zero to rounding do not count as unbalanced. */
double qtm_lv_balance_error(qtm_dd QL, qtm_dd QR, double scale);

/* Writes a formatted sentence into err (when err != NULL and errcap > 0). */
void qtm_lv_seterr(char *err, size_t errcap, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ---- oracle internals, shared by its model files and its self-check tests ---------------- */

/* Every field NaN, so that a failed call leaves nothing that looks like a result. */
void qtm_oracle_result_clear(qtm_oracle_result *out);

/* Mean occupation of a bath mode, n = 1/(e^{omega/T} - eps), evaluated without cancellation or
 * overflow for any eps in [-1, 1]; 0 at T = 0. The _dd form is accurate to ~1e-30 relative in
 * its (double-double) frequency, which the rates need; the other is its rounding. */
qtm_dd qtm_oracle_occupation_dd(qtm_dd omega, double T, double eps);
double qtm_oracle_occupation(double omega, double T, double eps);

/* Bath rates at frequency omega: down = gamma (1 + eps n), up = gamma n, double-double. */
void qtm_oracle_bath_rates(double gamma, qtm_dd omega, double T, double eps, qtm_dd *down,
                           qtm_dd *up);

/* 1 when all n rates are finite; near T = DBL_MAX the occupation overflows. */
int qtm_oracle_rates_finite(int n, const qtm_dd *rates);

/* The local master equation's four rates at the subsystem frequency: rates[0..3] = gammaL^-,
 * gammaL^+, gammaR^-, gammaR^+ (the baths' statistics enter only here). QTM_ERR_UNSUPPORTED,
 * with the reason in err, when an occupation overflows. */
qtm_status qtm_oracle_local_rates(const qtm_params *p, qtm_dd rates[4], char *err, size_t errcap);

/* Which unknowns the qubit chain uses: AUTO is BLOCK; FULL is the plain d^2 Liouvillian. */
typedef enum {
  QTM_CHAIN_AUTO,
  QTM_CHAIN_FULL,
  QTM_CHAIN_BLOCK
} qtm_chain_space;

/* The local qubit chain (eps_a = -1) with a choice of unknowns; rho (2^N x 2^N, may be NULL)
 * receives the steady state rounded to double, info (may be NULL) the solver's report. */
qtm_status qtm_oracle_chain(const qtm_params *p, qtm_chain_space space, qtm_oracle_result *out,
                            double complex *rho, qtm_lv_solve_info *info, char *err,
                            size_t errcap);

/* The local oscillator chain (eps_a = +1) from its closed second moments; C (N x N, may be
 * NULL) receives C_ij = <a_i^+ a_j>. */
qtm_status qtm_oracle_moments(const qtm_params *p, qtm_oracle_result *out, double complex *C,
                              char *err, size_t errcap);

/* The global pair with its steady state rho (4 x 4, may be NULL). */
qtm_status qtm_oracle_global_state(const qtm_params *p, qtm_oracle_result *out,
                                   double complex *rho, char *err, size_t errcap);

/* Concurrence by the general eigenvalue route only (no X-state shortcut); NaN when LAPACK
 * fails. */
double qtm_wootters_general(const double rho_re_im[32]);

#endif
