/* The MPI side of a scan (a -DQTM_MPI=ON build started by mpirun): which rank this is, how
 * many, the local rank (one GPU each), and the few collectives the scan needs. Without MPI (the
 * default build, or one process) every call is the trivial one-process answer, so the scan
 * has one code path. */
#ifndef QTM_MPI_RUN_H
#define QTM_MPI_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "qtm/results.h"
#include "qtm/status.h"

typedef struct qtm_mpi {
  int rank, size, local_rank;
} qtm_mpi;

/* Starts MPI when built with it and started by mpirun (several processes); *m says who is who
 * (rank 0 of 1 otherwise). QTM_ERR_INVALID_ARG with a message when MPI cannot start. */
qtm_status qtm_mpi_start(int *argc, char ***argv, qtm_mpi *m, char *err, size_t errcap);
void qtm_mpi_stop(void);
/* The ranks of the run: {0, 1, 0} without MPI. */
qtm_mpi qtm_mpi_world(void);
/* A run of several processes that writes one file collectively. */
int qtm_mpi_parallel(void);

/* The largest of every rank's value (a stop request or an error anywhere stops all). */
int qtm_mpi_max(int value);
double qtm_mpi_max_double(double value);
void qtm_mpi_barrier(void);
/* Rank 0's text in buf on every rank (times stamped into the file must agree). */
void qtm_mpi_share_text(char *buf, size_t cap);

/* Every rank's state arrays, in rank order: *all (owned by the caller, free with
 * qtm_mpi_free_states) holds size * QTM_MPI_MAX_ARRAYS entries, counts[r] of them for rank r. */
#define QTM_MPI_MAX_ARRAYS 32
qtm_status qtm_mpi_allgather_states(const qtm_state_array *mine, int n, qtm_state_array **all,
                                    int **counts, char *err, size_t errcap);
void qtm_mpi_free_states(qtm_state_array *all, int *counts);

#endif
