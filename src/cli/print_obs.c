/* Text and JSON output of one evaluated point (see print_obs.h). Write errors are not checked
 * call by call: the stream's error indicator is sticky, so one ferror() at the end of each
 * output sees a failure of any write before it. */
#include "print_obs.h"

#include <math.h>
#include <string.h>

/* Deep enough for the one nested object ("params") and for later additions. */
#define JSON_MAX_DEPTH 8

/* Longest %.17g of a double is 24 characters ("-2.2250738585072014e-308"). */
#define VALUE_CAP 32

/* ---- JSON writer ------------------------------------------------------------------------- */

/* Pretty-printed, two spaces per level, one member per line: easy to read and to diff, and
 * still a single JSON value for a parser. */
typedef struct json_writer {
  FILE *f;
  int depth;
  int members[JSON_MAX_DEPTH]; /* members written so far in each open object */
} json_writer;

/* RFC 8259 string: quotes, backslashes and control characters escaped; other bytes (UTF-8)
 * pass through unchanged. */
static void json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *c = (const unsigned char *)s; *c; ++c) {
    switch (*c) {
    case '"':
      fputs("\\\"", f);
      break;
    case '\\':
      fputs("\\\\", f);
      break;
    case '\n':
      fputs("\\n", f);
      break;
    case '\r':
      fputs("\\r", f);
      break;
    case '\t':
      fputs("\\t", f);
      break;
    case '\b':
      fputs("\\b", f);
      break;
    case '\f':
      fputs("\\f", f);
      break;
    default:
      if (*c < 0x20)
        fprintf(f, "\\u%04x", (unsigned)*c);
      else
        fputc(*c, f);
    }
  }
  fputc('"', f);
}

/* JSON has no NaN or infinity: both become null, which readers take as "no value here". */
static void json_number(FILE *f, double x) {
  if (isfinite(x))
    fprintf(f, "%.17g", x);
  else
    fputs("null", f);
}

static void json_indent(json_writer *w, int depth) {
  fputc('\n', w->f);
  for (int i = 0; i < depth; ++i) fputs("  ", w->f);
}

/* Opens an object as the next value (top level, or after json_key). The outputs here nest two
 * levels; deeper nesting than JSON_MAX_DEPTH - 1 would be a programming error. */
static void json_begin_object(json_writer *w) {
  fputc('{', w->f);
  if (w->depth + 1 < JSON_MAX_DEPTH) w->members[++w->depth] = 0;
}

static void json_end_object(json_writer *w) {
  if (w->depth > 0 && w->members[w->depth] > 0) json_indent(w, w->depth - 1);
  fputc('}', w->f);
  if (w->depth > 0) --w->depth;
}

/* Starts the next member of the innermost object: separator, indentation, key. */
static void json_key(json_writer *w, const char *key) {
  if (w->members[w->depth]++ > 0) fputc(',', w->f);
  json_indent(w, w->depth);
  json_string(w->f, key);
  fputs(": ", w->f);
}

qtm_status qtm_print_obs_json(FILE *f, const qtm_params *p, const qtm_obs *o, const char *method) {
  json_writer w = {f, 0, {0}};
  json_begin_object(&w);
  for (int i = 0; i < QTM_OBS_COUNT; ++i) {
    json_key(&w, qtm_obs_table[i].name);
    json_number(f, o->v[i]);
  }
  json_key(&w, "params");
  json_begin_object(&w);
  for (int id = 0; id < QTM_PARAM_COUNT; ++id) {
    double v = qtm_params_get(p, (qtm_param_id)id);
    json_key(&w, qtm_param_table[id].name);
    if (qtm_param_table[id].kind == 'i' && isfinite(v))
      fprintf(f, "%.0f", v); /* an integer parameter stays an integer for the reader */
    else
      json_number(f, v);
  }
  json_end_object(&w);
  json_key(&w, "method");
  json_string(f, method);
  json_end_object(&w);
  fputc('\n', f);
  return ferror(f) ? QTM_ERR_IO : QTM_OK;
}

/* ---- Text -------------------------------------------------------------------------------- */

/* %.17g, except that NaN is always "nan" (glibc would print "-nan" for a negative NaN) and
 * infinities are spelled the same on every libc. */
static void format_value(double x, char *buf, size_t cap) {
  if (isnan(x))
    (void)snprintf(buf, cap, "nan");
  else if (isinf(x))
    (void)snprintf(buf, cap, x > 0 ? "inf" : "-inf");
  else
    (void)snprintf(buf, cap, "%.17g", x);
}

static int max_int(int a, int b) { return a > b ? a : b; }

qtm_status qtm_print_obs_text(FILE *f, const qtm_params *p, const qtm_obs *o, const char *method) {
  char values[QTM_OBS_COUNT][VALUE_CAP];
  int wname = (int)strlen("name"), wvalue = (int)strlen("value"), wunit = (int)strlen("unit");
  for (int i = 0; i < QTM_OBS_COUNT; ++i) {
    format_value(o->v[i], values[i], sizeof values[i]);
    wname = max_int(wname, (int)strlen(qtm_obs_table[i].name));
    wvalue = max_int(wvalue, (int)strlen(values[i]));
    wunit = max_int(wunit, (int)strlen(qtm_obs_table[i].unit));
  }

  fprintf(f, "# qtmscan eval, method %s\n# params:", method);
  for (int id = 0; id < QTM_PARAM_COUNT; ++id) {
    char v[VALUE_CAP];
    format_value(qtm_params_get(p, (qtm_param_id)id), v, sizeof v);
    fprintf(f, " %s=%s", qtm_param_table[id].name, v);
  }
  fputs("\n# units: hbar = kB = 1, E = energy unit of omega; J = Q_L - Q_R (paper's convention, "
        "twice the physical heat flux); nan = undefined at this point\n",
        f);
  fprintf(f, "# %-*s  %-*s  %-*s  %s\n", wname - 2, "name", wvalue, "value", wunit, "unit",
          "long name");
  for (int i = 0; i < QTM_OBS_COUNT; ++i)
    fprintf(f, "%-*s  %-*s  %-*s  %s\n", wname, qtm_obs_table[i].name, wvalue, values[i], wunit,
            qtm_obs_table[i].unit, qtm_obs_table[i].long_name);
  return ferror(f) ? QTM_ERR_IO : QTM_OK;
}
