/* The progress line of a long scan on stderr: points done, percent, points per second, ETA.
 * On a terminal it redraws in place (at most ten times a second); into a log file (a batch
 * job) it prints one plain line every few seconds, so the log stays readable. */
#ifndef QTM_PROGRESS_H
#define QTM_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

typedef struct qtm_progress {
  FILE *f;
  int tty;
  int quiet;
  int64_t total;
  double t0;         /* seconds, monotonic clock */
  double last_print; /* seconds since t0 */
  double interval;   /* seconds between lines when not a terminal */
  int drawn;         /* a terminal line is on screen and needs a newline */
} qtm_progress;

/* Seconds on a monotonic clock. */
double qtm_monotonic_seconds(void);

void qtm_progress_init(qtm_progress *p, FILE *f, int64_t total, int quiet);
void qtm_progress_update(qtm_progress *p, int64_t done);
/* Prints the final line (always, unless quiet). */
void qtm_progress_finish(qtm_progress *p, int64_t done);

#endif
