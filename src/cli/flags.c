/* Flag scanning and strict number parsing for the qtmscan subcommands (see flags.h). */
#include "flags.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for a quoted value: every byte may become a 4-byte escape, plus quotes and "...". */
#define QUOTE_CAP (4 * QTM_FLAG_QUOTE_MAX + 8)

typedef struct text_buf {
  char *p;
  size_t cap, len;
} text_buf;

/* Appends what fits and always keeps the buffer terminated: truncation only shortens an
 * error line, it never overruns. */
static void put_str(text_buf *b, const char *s) {
  while (*s && b->len + 1 < b->cap) b->p[b->len++] = *s++;
  b->p[b->len] = '\0';
}

static int is_plain(unsigned char c) { return c > ' ' && c < 0x7f; }

void qtm_flags_quote(const char *text, char *buf, size_t cap) {
  if (!buf || cap == 0) return;
  text_buf b = {buf, cap, 0};
  buf[0] = '\0';
  if (!text) text = "";
  size_t len = strlen(text), shown = len > QTM_FLAG_QUOTE_MAX ? QTM_FLAG_QUOTE_MAX : len;
  int plain = len > 0;
  for (size_t i = 0; plain && i < shown; ++i) plain = is_plain((unsigned char)text[i]);
  if (!plain) put_str(&b, "\"");
  for (size_t i = 0; i < shown; ++i) {
    unsigned char c = (unsigned char)text[i];
    char esc[8];
    if (plain || (is_plain(c) && c != '"' && c != '\\') || c == ' ') {
      esc[0] = (char)c;
      esc[1] = '\0';
    } else if (c == '"' || c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)c;
      esc[2] = '\0';
    } else if (c == '\n') {
      strcpy(esc, "\\n");
    } else if (c == '\t') {
      strcpy(esc, "\\t");
    } else if (c == '\r') {
      strcpy(esc, "\\r");
    } else {
      (void)snprintf(esc, sizeof esc, "\\x%02x", (unsigned)c);
    }
    put_str(&b, esc);
  }
  if (shown < len) put_str(&b, "...");
  if (!plain) put_str(&b, "\"");
}

/* "--name" of an argument "--name" or "--name=value", quoted for an error line. */
static void quote_name(const char *arg, size_t namelen, char *buf, size_t cap) {
  char name[QTM_FLAG_QUOTE_MAX + 3];
  if (namelen > QTM_FLAG_QUOTE_MAX) namelen = QTM_FLAG_QUOTE_MAX;
  memcpy(name, arg, namelen + 2);
  name[namelen + 2] = '\0';
  qtm_flags_quote(name, buf, cap);
}

static int find_flag(const qtm_flag *flags, int nflags, const char *name, size_t namelen) {
  for (int k = 0; k < nflags; ++k)
    if (strlen(flags[k].name) == namelen && strncmp(flags[k].name, name, namelen) == 0) return k;
  return -1;
}

qtm_status qtm_flags_scan(const char *prog, int nargs, char *const args[], qtm_flag *flags,
                          int nflags, int *help, char *err, size_t errcap) {
  char q[QUOTE_CAP], q2[QUOTE_CAP];
  *help = 0;
  if (err && errcap) err[0] = '\0';
  for (int k = 0; k < nflags; ++k) flags[k].value = NULL;
  /* Help wins over every other problem: someone who asks for it wants to learn the flags. */
  for (int i = 0; i < nargs; ++i) {
    if (strcmp(args[i], "--help") == 0 || strcmp(args[i], "-h") == 0) {
      *help = 1;
      return QTM_OK;
    }
  }
  for (int i = 0; i < nargs; ++i) {
    const char *a = args[i];
    if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
      qtm_flags_quote(a, q, sizeof q);
      if (a[0] == '-' && isalpha((unsigned char)a[1]))
        (void)snprintf(err, errcap, "unknown flag %s (flags are --name value; see %s --help)", q,
                       prog);
      else
        (void)snprintf(err, errcap,
                       "unexpected argument %s (flags are --name value; see %s --help)", q, prog);
      return QTM_ERR_INVALID_ARG;
    }
    const char *name = a + 2, *eq = strchr(name, '=');
    size_t namelen = eq ? (size_t)(eq - name) : strlen(name);
    int k = find_flag(flags, nflags, name, namelen);
    quote_name(a, namelen, q, sizeof q);
    if (k < 0) {
      (void)snprintf(err, errcap, "unknown flag %s (see %s --help)", q, prog);
      return QTM_ERR_INVALID_ARG;
    }
    const char *value;
    if (eq) {
      value = eq + 1;
    } else if (i + 1 < nargs && strncmp(args[i + 1], "--", 2) != 0) {
      value = args[++i];
    } else {
      (void)snprintf(err, errcap, "%s: missing value", q);
      return QTM_ERR_INVALID_ARG;
    }
    if (flags[k].value) {
      char qv[QUOTE_CAP];
      qtm_flags_quote(value, qv, sizeof qv);
      qtm_flags_quote(flags[k].value, q2, sizeof q2);
      (void)snprintf(err, errcap, "%s %s: flag given twice (first as %s)", q, qv, q2);
      return QTM_ERR_INVALID_ARG;
    }
    flags[k].value = value;
  }
  return QTM_OK;
}

static qtm_status parse_fail(const char **why, const char *phrase) {
  if (why) *why = phrase;
  return QTM_ERR_INVALID_ARG;
}

qtm_status qtm_flags_parse_double(const char *text, double *out, const char **why) {
  /* strtod would skip leading blanks and accept a prefix; demand the whole text. */
  if (!text || text[0] == '\0' || isspace((unsigned char)text[0]))
    return parse_fail(why, "not a number");
  char *end = NULL;
  errno = 0;
  double v = strtod(text, &end);
  int range = errno == ERANGE;
  if (end == text || *end != '\0') return parse_fail(why, "not a number");
  if (isnan(v)) return parse_fail(why, "not a finite number");
  if (isinf(v))
    return parse_fail(why, range ? "out of the range of a double" : "not a finite number");
  /* A nonzero input that underflows to 0 would be a made-up value; subnormals are kept. */
  if (range && v == 0.0) return parse_fail(why, "too small for a double (underflows to 0)");
  *out = v;
  return QTM_OK;
}

qtm_status qtm_flags_parse_int(const char *text, int *out, const char **why) {
  if (!text || text[0] == '\0' || isspace((unsigned char)text[0]))
    return parse_fail(why, "not an integer");
  char *end = NULL;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (end == text || *end != '\0') return parse_fail(why, "not an integer");
  if (errno == ERANGE || v < INT_MIN || v > INT_MAX)
    return parse_fail(why, "out of the range of an int");
  *out = (int)v;
  return QTM_OK;
}

int qtm_cli_fail(const char *prog, int status, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "%s: ", prog);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return status;
}
