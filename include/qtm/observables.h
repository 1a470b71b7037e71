/* The table of observables: one row per quantity qtmscan can evaluate, with its unit and the
 * long name that every output (text, JSON, HDF5 attributes) uses. Adding an observable is one
 * formula in physics.h plus one row here. Units: hbar = kB = 1 and E is the energy unit of
 * omega; J is in the paper's convention J = Q_L - Q_R (twice the physical left-to-right heat
 * flux), see FORMULAS.md section 1. */
#ifndef QTM_OBSERVABLES_H
#define QTM_OBSERVABLES_H

/* X(name, unit, long_name, domain): domain says where the observable is defined (elsewhere it
 * is NaN, FORMULAS.md section 7): ANY everywhere; TWO_SITES N = 2; QUBIT_PAIR N = 2 and
 * eps_a = -1; GLOBAL N = 2, eps_a = -1, epsL = epsR = +1, 0 < g < omega; EQ17 N >= 2,
 * eps_a = -1, epsL = epsR = +1, g > 0. */
#define QTM_OBSERVABLE_LIST(X)                                                                 \
  X(J1, "E^2/hbar", "local heat current J = Q_L - Q_R of a single central system (Eq. 7)", ANY)    \
  X(alpha, "1", "scaling factor alpha = J/J1 of the coupled chain (Eq. 6; 1 for N = 1)", ANY)      \
  X(J, "E^2/hbar", "local (weak-coupling) heat current J = Q_L - Q_R of the N-chain (Eq. 5)", ANY) \
  X(J_rev, "E^2/hbar", "local heat current with TL and TR swapped", ANY)                          \
  X(contrast, "1", "rectification contrast |(J + J_rev)/(J - J_rev)| (Eqs. 8-9)", ANY)            \
  X(ratio, "1", "rectification ratio |J|/|J_rev| (Eq. 42)", ANY)                                  \
  X(kappa1, "kB/hbar", "linear conductance of a single system at T = (TL+TR)/2 (Eq. 13)", ANY)    \
  X(kappa2, "kB/hbar", "linear conductance of the chain at T = (TL+TR)/2 (Eq. 14)", ANY)          \
  X(dJ_dTL, "kB*E/hbar", "exact derivative dJ/dTL at fixed TR; NDTC where < 0 and TL > TR", ANY)  \
  X(ndtc_threshold, "E", "Eq. 17 NDTC threshold T* for TR -> 0 (qubits, bosonic baths)", EQ17)     \
  X(J_global, "E^2/hbar", "global (strong-coupling) heat current J(w+) + J(w-) (Eq. 21)", GLOBAL)     \
  X(J_global_rev, "E^2/hbar", "global heat current with TL and TR swapped", GLOBAL)                  \
  X(contrast_global, "1", "rectification contrast of the global currents", GLOBAL)                    \
  X(kappa_global, "kB/hbar", "global linear conductance at T = (TL+TR)/2 (Eq. 25)", GLOBAL)          \
  X(dJ_global_dTL, "kB*E/hbar", "exact derivative dJ_global/dTL at fixed TR", GLOBAL)                \
  X(coherence, "1", "Im of the coherence <s1 s2^+ - s1^+ s2>/2 = J/(4 g omega) (N = 2)", TWO_SITES)      \
  X(p1, "1", "steady-state population of |11> (Eq. 38; qubits, N = 2)", QUBIT_PAIR)                      \
  X(p4, "1", "steady-state population of |00> (Eq. 38; qubits, N = 2)", QUBIT_PAIR)                      \
  X(Jc, "E^2/hbar", "critical current 4 g omega sqrt(p1 p4): entangled iff J > Jc (Eq. 39)", QUBIT_PAIR) \
  X(concurrence, "1", "Wootters concurrence of the steady state (Eq. 37; qubits, N = 2)", QUBIT_PAIR)    \
  X(entropy_production, "kB/hbar*E", "entropy production rate (1/TR - 1/TL) J/2 >= 0", ANY)

typedef enum {
#define QTM_OBS_ENUM(name, unit, long_name, domain) QTM_OBS_##name,
  QTM_OBSERVABLE_LIST(QTM_OBS_ENUM)
#undef QTM_OBS_ENUM
  QTM_OBS_COUNT
} qtm_obs_id;

/* Every observable of one parameter point, indexed by qtm_obs_id. NaN marks a value that is
 * undefined at the point (FORMULAS.md section 7). */
typedef struct qtm_obs {
  double v[QTM_OBS_COUNT];
} qtm_obs;

typedef enum {
  QTM_DOMAIN_ANY,
  QTM_DOMAIN_TWO_SITES,
  QTM_DOMAIN_QUBIT_PAIR,
  QTM_DOMAIN_GLOBAL,
  QTM_DOMAIN_EQ17
} qtm_obs_domain;

typedef struct qtm_obs_info {
  const char *name;
  const char *unit;
  const char *long_name;
  qtm_obs_domain domain;
} qtm_obs_info;

#ifdef __cplusplus
extern "C" {
#endif
extern const qtm_obs_info qtm_obs_table[QTM_OBS_COUNT];

/* The id of the observable called `name`, or -1 when there is none. */
int qtm_obs_find(const char *name);
#ifdef __cplusplus
}
#endif

#endif
