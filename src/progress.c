/* Progress reporting of a scan on stderr: redrawn on a terminal, periodic lines in a log. */
#define _POSIX_C_SOURCE 200809L
#include "qtm/progress.h"

#include <time.h>
#include <unistd.h>

double qtm_monotonic_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void qtm_progress_init(qtm_progress *p, FILE *f, int64_t total, int quiet) {
  p->f = f;
  p->tty = f && isatty(fileno(f));
  p->quiet = quiet || !f;
  p->total = total;
  p->t0 = qtm_monotonic_seconds();
  p->last_print = 0.0;
  p->interval = p->tty ? 0.1 : 5.0;
  p->drawn = 0;
}

static void format_duration(char *buf, size_t cap, double s) {
  if (!(s >= 0) || s > 1e8) {
    snprintf(buf, cap, "?");
    return;
  }
  long t = (long)(s + 0.5);
  snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
}

static void print_line(qtm_progress *p, int64_t done, double elapsed, int final) {
  double rate = elapsed > 0 ? (double)done / elapsed : 0.0;
  double pct = p->total > 0 ? 100.0 * (double)done / (double)p->total : 100.0;
  char eta[32], took[32];
  format_duration(eta, sizeof eta, rate > 0 ? (double)(p->total - done) / rate : -1);
  format_duration(took, sizeof took, elapsed);
  if (p->tty) fputs("\r\033[K", p->f);
  if (final)
    fprintf(p->f, "qtmscan: %lld points in %s (%.3g points/s)", (long long)done, took, rate);
  else
    fprintf(p->f, "qtmscan: %lld/%lld points (%.1f%%), %.3g points/s, ETA %s", (long long)done,
            (long long)p->total, pct, rate, eta);
  if (!p->tty || final) fputc('\n', p->f);
  p->drawn = p->tty && !final;
  fflush(p->f);
}

void qtm_progress_update(qtm_progress *p, int64_t done) {
  if (p->quiet) return;
  double elapsed = qtm_monotonic_seconds() - p->t0;
  if (elapsed - p->last_print < p->interval) return;
  p->last_print = elapsed;
  print_line(p, done, elapsed, 0);
}

void qtm_progress_finish(qtm_progress *p, int64_t done) {
  if (p->quiet) return;
  print_line(p, done, qtm_monotonic_seconds() - p->t0, 1);
}
