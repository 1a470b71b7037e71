/* Status codes returned by every fallible qtmscan function. One X-macro list makes the enum
 * and its messages, so the two cannot drift apart. */
#ifndef QTM_STATUS_H
#define QTM_STATUS_H

#define QTM_STATUS_LIST(X)                                                   \
  X(QTM_OK, "success")                                                       \
  X(QTM_ERR_INVALID_ARG, "invalid argument")                                 \
  X(QTM_ERR_NOMEM, "out of memory")                                          \
  X(QTM_ERR_LAPACK, "LAPACK routine failed")                                 \
  X(QTM_ERR_SINGULAR, "steady state is not unique (singular Liouvillian)")   \
  X(QTM_ERR_UNSUPPORTED, "not supported for these parameters")              \
  X(QTM_ERR_NO_DEVICE, "no CUDA device available")                           \
  X(QTM_ERR_CUDA, "CUDA runtime error")                                      \
  X(QTM_ERR_IO, "input/output error")                                       \
  X(QTM_ERR_EXISTS, "the output exists (use --force to overwrite it)")       \
  X(QTM_ERR_INTERRUPTED, "interrupted by a signal")                         \
  X(QTM_ERR_COMPLETE, "the file is already complete")

typedef enum {
#define QTM_STATUS_ENUM(code, msg) code,
  QTM_STATUS_LIST(QTM_STATUS_ENUM)
#undef QTM_STATUS_ENUM
} qtm_status;

#ifdef __cplusplus
extern "C" {
#endif
/* Static English text for a status; never NULL. */
const char *qtm_status_str(qtm_status st);

#ifdef __cplusplus
}
#endif

#endif
