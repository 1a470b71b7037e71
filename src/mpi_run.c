/* MPI for a scan split across ranks: see mpi_run.h. The state of each rank's analysis travels
 * as one byte string (name, kind, length, values per array), gathered to every rank so that
 * all of them merge the same states in the same order and write the same results. */
#include "qtm/mpi_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef QTM_MPI
#include <mpi.h>
#endif

static qtm_mpi world = {0, 1, 0};

qtm_mpi qtm_mpi_world(void) { return world; }
int qtm_mpi_parallel(void) { return world.size > 1; }

void qtm_mpi_free_states(qtm_state_array *all, int *counts) {
  if (all && counts)
    for (int r = 0; r < world.size; ++r)
      for (int i = 0; i < counts[r]; ++i) free(all[r * QTM_MPI_MAX_ARRAYS + i].data);
  free(all);
  free(counts);
}

#ifndef QTM_MPI

qtm_status qtm_mpi_start(int *argc, char ***argv, qtm_mpi *m, char *err, size_t errcap) {
  (void)argc, (void)argv, (void)err, (void)errcap;
  *m = world;
  return QTM_OK;
}
void qtm_mpi_stop(void) {}
int qtm_mpi_max(int value) { return value; }
double qtm_mpi_max_double(double value) { return value; }
void qtm_mpi_barrier(void) {}
void qtm_mpi_share_text(char *buf, size_t cap) { (void)buf, (void)cap; }

/* Never called: without MPI there is one process, and the scan gathers only in parallel. */
qtm_status qtm_mpi_allgather_states(const qtm_state_array *mine, int n, qtm_state_array **all,
                                    int **counts, char *err, size_t errcap) {
  (void)mine, (void)n;
  *all = NULL;
  *counts = NULL;
  (void)snprintf(err, errcap, "qtmscan was built without MPI (-DQTM_MPI=ON)");
  return QTM_ERR_INVALID_ARG;
}

#else

/* Started by a launcher (mpirun, mpiexec, srun): a process started by hand stays serial and
 * never initialises MPI, which needs resources (shared memory, a file size limit above
 * zero) that a plain serial run does not. */
static int launched_by_mpi(void) {
  static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE",
                                     "PMI_RANK", "MPI_LOCALNRANKS"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; ++i)
    if (getenv(vars[i])) return 1;
  return 0;
}

qtm_status qtm_mpi_start(int *argc, char ***argv, qtm_mpi *m, char *err, size_t errcap) {
  int provided = 0;
  *m = world;
  if (!launched_by_mpi()) return QTM_OK;
  /* HDF5 calls (collective ones included) come from one thread at a time: the writer thread
   * during the tiles, the main thread before and after; never two at once. */
  if (MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS) {
    (void)snprintf(err, errcap, "MPI_Init_thread failed");
    return QTM_ERR_INVALID_ARG;
  }
  if (provided < MPI_THREAD_SERIALIZED) {
    (void)snprintf(err, errcap, "this MPI library gives thread level %d; qtmscan needs "
                   "MPI_THREAD_SERIALIZED (%d)", provided, MPI_THREAD_SERIALIZED);
    MPI_Finalize();
    return QTM_ERR_INVALID_ARG;
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &world.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world.size);
  MPI_Comm node;
  if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world.rank, MPI_INFO_NULL,
                          &node) == MPI_SUCCESS) {
    MPI_Comm_rank(node, &world.local_rank);
    MPI_Comm_free(&node);
  }
  *m = world;
  return QTM_OK;
}

void qtm_mpi_stop(void) {
  int started = 0, stopped = 0;
  MPI_Initialized(&started);
  MPI_Finalized(&stopped);
  if (started && !stopped) MPI_Finalize();
}

int qtm_mpi_max(int value) {
  int out = value;
  if (world.size > 1) MPI_Allreduce(&value, &out, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return out;
}

double qtm_mpi_max_double(double value) {
  double out = value;
  if (world.size > 1) MPI_Allreduce(&value, &out, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return out;
}

void qtm_mpi_barrier(void) {
  if (world.size > 1) MPI_Barrier(MPI_COMM_WORLD);
}

void qtm_mpi_share_text(char *buf, size_t cap) {
  if (world.size > 1 && cap > 0) {
    MPI_Bcast(buf, (int)cap, MPI_CHAR, 0, MPI_COMM_WORLD);
    buf[cap - 1] = '\0';
  }
}

/* The byte string of the arrays: per array its name (48 bytes), kind, length, values. */
typedef struct wire_header {
  char name[48];
  int64_t is_int, n;
} wire_header;

static size_t wire_size(const qtm_state_array *a, int n) {
  size_t bytes = 0;
  for (int i = 0; i < n; ++i) bytes += sizeof(wire_header) + (size_t)a[i].n * 8;
  return bytes;
}

qtm_status qtm_mpi_allgather_states(const qtm_state_array *mine, int n, qtm_state_array **all,
                                    int **counts, char *err, size_t errcap) {
  int size = world.size;
  size_t bytes = wire_size(mine, n);
  char *send = NULL, *recv = NULL;
  int *sizes = NULL, *offsets = NULL;
  qtm_status rc = QTM_OK;
  *all = calloc((size_t)size * QTM_MPI_MAX_ARRAYS, sizeof **all);
  *counts = calloc((size_t)size, sizeof **counts);
  /* every rank learns of a rank that cannot take part: none waits in the gather alone */
  if (qtm_mpi_max(bytes > (size_t)1 << 30 || n > QTM_MPI_MAX_ARRAYS || !*all || !*counts)) {
    (void)snprintf(err, errcap, "the analysis state (%zu bytes, %d arrays) is too large to "
                   "gather over MPI", bytes, n);
    rc = QTM_ERR_INVALID_ARG;
    goto cleanup;
  }
  sizes = calloc((size_t)size, sizeof *sizes);
  offsets = calloc((size_t)size, sizeof *offsets);
  send = malloc(bytes ? bytes : 1);
  if (qtm_mpi_max(!sizes || !offsets || !send)) goto nomem;
  char *at = send;
  for (int i = 0; i < n; ++i) {
    wire_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.name, mine[i].name, sizeof h.name);
    h.is_int = mine[i].is_int;
    h.n = mine[i].n;
    memcpy(at, &h, sizeof h);
    at += sizeof h;
    memcpy(at, mine[i].data, (size_t)h.n * 8);
    at += (size_t)h.n * 8;
  }
  int mine_bytes = (int)bytes;
  MPI_Allgather(&mine_bytes, 1, MPI_INT, sizes, 1, MPI_INT, MPI_COMM_WORLD);
  size_t total = 0;
  for (int r = 0; r < size; ++r) {
    if (total + (size_t)sizes[r] > (size_t)1 << 30) {
      (void)snprintf(err, errcap, "the ranks' analysis states are too large to gather");
      rc = QTM_ERR_INVALID_ARG;
      goto cleanup;
    }
    offsets[r] = (int)total;
    total += (size_t)sizes[r];
  }
  recv = malloc(total ? total : 1);
  if (qtm_mpi_max(!recv)) goto nomem;
  MPI_Allgatherv(send, mine_bytes, MPI_BYTE, recv, sizes, offsets, MPI_BYTE, MPI_COMM_WORLD);
  for (int r = 0; r < size; ++r) {
    const char *p = recv + offsets[r], *end = p + sizes[r];
    while (p < end && (*counts)[r] < QTM_MPI_MAX_ARRAYS) {
      wire_header h;
      memcpy(&h, p, sizeof h);
      p += sizeof h;
      qtm_state_array *a = &(*all)[r * QTM_MPI_MAX_ARRAYS + (*counts)[r]];
      memcpy(a->name, h.name, sizeof a->name);
      a->name[sizeof a->name - 1] = '\0';
      a->is_int = (int)h.is_int;
      a->n = h.n;
      if (!(a->data = malloc(h.n > 0 ? (size_t)h.n * 8 : 8))) goto nomem;
      (*counts)[r]++;
      memcpy(a->data, p, (size_t)h.n * 8);
      p += (size_t)h.n * 8;
    }
  }
  goto cleanup;
nomem:
  (void)snprintf(err, errcap, "out of memory gathering the analysis states");
  rc = QTM_ERR_NOMEM;
cleanup:
  free(send);
  free(recv);
  free(sizes);
  free(offsets);
  if (rc != QTM_OK) {
    qtm_mpi_free_states(*all, *counts);
    *all = NULL;
    *counts = NULL;
  }
  return rc;
}

#endif
