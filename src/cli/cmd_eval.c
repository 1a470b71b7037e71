/* `qtmscan eval`: parse one parameter point from the flags, evaluate every observable by the
 * closed forms or the numerical master equations, and print text or JSON. The flags, their
 * units and defaults and the observables all come from the tables of params.h and
 * observables.h, so a new parameter or observable needs no edit here. */
#include "cmd_eval.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "flags.h"
#include "print_obs.h"
#include "qtm/eval.h"
#include "qtm/oracle.h"

#define CMD_NAME "qtmscan eval"
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)
#define COUNT_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* One flag per parameter, in table order, then the options. */
enum { FLAG_METHOD = QTM_PARAM_COUNT, FLAG_FORMAT, FLAG_COUNT };

typedef enum { FORMAT_TEXT, FORMAT_JSON } out_format;

/* Indexed by qtm_method and out_format. */
static const char *const method_names[] = {"closed", "numeric"};
static const char *const format_names[] = {"text", "json"};

typedef struct option_help {
  const char *flag, *arg, *help;
} option_help;

static const option_help options_help[] = {
    {"--method", "closed|numeric",
     "closed forms (default), or numerical steady states of the\n"
     "master equations: qubits (eps_a = -1) with N <= " STRINGIFY(QTM_ORACLE_MAX_QUBITS) "\n"
     "or oscillators (eps_a = +1); conductances and derivatives\n"
     "then come from finite differences"},
    {"--format", "text|json",
     "aligned columns name, value, unit, long name (default),\n"
     "or one JSON object"},
    {"-h, --help", "", "print this help and exit"},
};

/* Error lines are "CMD_NAME: <message>" (flags.h). */
#define fail(status, ...) qtm_cli_fail(CMD_NAME, status, __VA_ARGS__)

/* Integer parameters arrive here as exact integers (qtm_flags_parse_int), so storing them
 * through a double loses nothing. */
static void param_set(qtm_params *p, qtm_param_id id, double v) {
  switch (id) {
#define QTM_PARAM_SET(field, kind, unit, help) \
  case QTM_PARAM_##field:                      \
    p->field = v;                              \
    break;
    QTM_PARAM_LIST(QTM_PARAM_SET)
#undef QTM_PARAM_SET
  case QTM_PARAM_COUNT:
    break;
  }
}

/* A parameter is required when its default is NaN (qtm_params_default). */
static int param_required(const qtm_params *defaults, int id) {
  return isnan(qtm_params_get(defaults, (qtm_param_id)id));
}

static int choose(const char *text, const char *const names[], int n) {
  for (int i = 0; i < n; ++i)
    if (strcmp(text, names[i]) == 0) return i;
  return -1;
}

static int parse_params(const qtm_flag *flags, qtm_params *p) {
  for (int id = 0; id < QTM_PARAM_COUNT; ++id) {
    const char *text = flags[id].value, *why = "invalid value";
    if (!text) continue;
    double v = 0.0;
    qtm_status st;
    if (qtm_param_table[id].kind == 'i') {
      int iv = 0;
      st = qtm_flags_parse_int(text, &iv, &why);
      v = iv;
    } else {
      st = qtm_flags_parse_double(text, &v, &why);
    }
    if (st != QTM_OK) {
      char q[4 * QTM_FLAG_QUOTE_MAX + 8];
      qtm_flags_quote(text, q, sizeof q);
      return fail(QTM_EXIT_USAGE, "--%s %s: %s", qtm_param_table[id].name, q, why);
    }
    param_set(p, (qtm_param_id)id, v);
  }
  return QTM_EXIT_OK;
}

static int check_required(const qtm_flag *flags) {
  qtm_params defaults;
  qtm_params_default(&defaults);
  char list[256] = "";
  int missing = 0;
  for (int id = 0; id < QTM_PARAM_COUNT; ++id) {
    if (flags[id].value || !param_required(&defaults, id)) continue;
    size_t len = strlen(list);
    (void)snprintf(list + len, sizeof list - len, "%s--%s", missing ? ", " : "",
                   qtm_param_table[id].name);
    ++missing;
  }
  if (!missing) return QTM_EXIT_OK;
  return fail(QTM_EXIT_USAGE, "missing required flag%s %s (see " CMD_NAME " --help)",
              missing > 1 ? "s" : "", list);
}

/* The error line of a point that qtm_params_validate rejected: the flag, the value as the user
 * typed it, and the rule. */
static int invalid_param(const qtm_flag *flags, const qtm_param_error *err) {
  const char *why = err->rule ? err->rule : err->message;
  char q[4 * QTM_FLAG_QUOTE_MAX + 8];
  int id = (int)err->param;
  if (id < 0 || id >= QTM_PARAM_COUNT) return fail(QTM_EXIT_USAGE, "%s", err->message);
  if (flags[id].value)
    qtm_flags_quote(flags[id].value, q, sizeof q);
  else /* a default value failed: cannot happen with today's defaults, but say which */
    (void)snprintf(q, sizeof q, "%.17g (default)", err->value);
  return fail(QTM_EXIT_USAGE, "--%s %s: %s", qtm_param_table[id].name, q, why);
}

/* A message from the numerical solver, made one line so the error stays one line. */
static const char *one_line(char *msg, qtm_status st) {
  for (char *c = msg; *c; ++c)
    if (*c == '\n' || *c == '\r') *c = ' ';
  return msg[0] ? msg : qtm_status_str(st);
}

int qtm_cmd_eval(int nargs, char *const args[]) {
  qtm_flag flags[FLAG_COUNT];
  for (int id = 0; id < QTM_PARAM_COUNT; ++id) flags[id].name = qtm_param_table[id].name;
  flags[FLAG_METHOD].name = "method";
  flags[FLAG_FORMAT].name = "format";

  char err[512];
  int help = 0, rc;
  if (qtm_flags_scan(CMD_NAME, nargs, args, flags, FLAG_COUNT, &help, err, sizeof err) != QTM_OK)
    return fail(QTM_EXIT_USAGE, "%s", err);
  if (help) {
    qtm_cmd_eval_help(stdout);
    return QTM_EXIT_OK;
  }

  qtm_params p;
  qtm_params_default(&p);
  if ((rc = parse_params(flags, &p)) != QTM_EXIT_OK) return rc;

  int method = QTM_METHOD_CLOSED, format = FORMAT_TEXT;
  char q[4 * QTM_FLAG_QUOTE_MAX + 8];
  if (flags[FLAG_METHOD].value &&
      (method = choose(flags[FLAG_METHOD].value, method_names, COUNT_OF(method_names))) < 0) {
    qtm_flags_quote(flags[FLAG_METHOD].value, q, sizeof q);
    return fail(QTM_EXIT_USAGE, "--method %s: must be closed or numeric", q);
  }
  if (flags[FLAG_FORMAT].value &&
      (format = choose(flags[FLAG_FORMAT].value, format_names, COUNT_OF(format_names))) < 0) {
    qtm_flags_quote(flags[FLAG_FORMAT].value, q, sizeof q);
    return fail(QTM_EXIT_USAGE, "--format %s: must be text or json", q);
  }
  if ((rc = check_required(flags)) != QTM_EXIT_OK) return rc;

  qtm_param_error perr;
  if (qtm_params_validate(&p, &perr) != QTM_OK) return invalid_param(flags, &perr);

  qtm_obs obs;
  qtm_status st;
  char msg[256] = "";
  if (method == QTM_METHOD_CLOSED)
    st = qtm_eval_closed(&p, &obs, &perr);
  else
    st = qtm_eval_numeric(&p, &obs, &perr, msg, sizeof msg);
  if (st == QTM_ERR_INVALID_ARG) return invalid_param(flags, &perr);
  /* The solver's limits are a property of the request, not a failure of the program. */
  if (st == QTM_ERR_UNSUPPORTED)
    return fail(QTM_EXIT_USAGE, "--method numeric: %s", one_line(msg, st));
  if (st != QTM_OK)
    return fail(QTM_EXIT_FAILURE, "%s evaluation failed: %s%s%s", method_names[method],
                qtm_status_str(st), msg[0] ? ": " : "", one_line(msg, st));

  if (format == FORMAT_JSON)
    st = qtm_print_obs_json(stdout, &p, &obs, method_names[method]);
  else
    st = qtm_print_obs_text(stdout, &p, &obs, method_names[method]);
  if (st != QTM_OK)
    return fail(QTM_EXIT_FAILURE, "cannot write the output: %s", qtm_status_str(st));
  return QTM_EXIT_OK;
}

/* ---- Help -------------------------------------------------------------------------------- */

static int name_width(void) {
  int w = 0;
  for (int id = 0; id < QTM_PARAM_COUNT; ++id) {
    int n = (int)strlen(qtm_param_table[id].name) + 2;
    if (n > w) w = n;
  }
  return w;
}

/* Prints text with every line after the first indented by `indent` spaces. */
static void print_indented(FILE *f, const char *text, int indent) {
  for (const char *c = text; *c; ++c) {
    fputc(*c, f);
    if (*c == '\n') fprintf(f, "%*s", indent, "");
  }
  fputc('\n', f);
}

void qtm_cmd_eval_help(FILE *f) {
  qtm_params defaults;
  qtm_params_default(&defaults);

  fputs("Usage: " CMD_NAME, f);
  for (int id = 0; id < QTM_PARAM_COUNT; ++id)
    if (param_required(&defaults, id)) fprintf(f, " --%s X", qtm_param_table[id].name);
  fputs(" [flags]\n\n"
        "Evaluate every observable at one parameter point and print it, as aligned text\n"
        "(default) or as one JSON object (--format json).\n\n"
        "Parameters (each as --name value or --name=value, at most once):\n",
        f);

  int wflag = name_width(), wunit = (int)strlen("unit"), wdef = (int)strlen("required");
  for (int id = 0; id < QTM_PARAM_COUNT; ++id) {
    int n = (int)strlen(qtm_param_table[id].unit);
    if (n > wunit) wunit = n;
  }
  fprintf(f, "  %-*s  %-*s  %-*s  %s\n", wflag, "flag", wunit, "unit", wdef, "default", "meaning");
  for (int id = 0; id < QTM_PARAM_COUNT; ++id) {
    const qtm_param_info *info = &qtm_param_table[id];
    char flag[64], def[32];
    (void)snprintf(flag, sizeof flag, "--%s", info->name);
    if (param_required(&defaults, id))
      (void)snprintf(def, sizeof def, "required");
    else
      (void)snprintf(def, sizeof def, "%g", qtm_params_get(&defaults, (qtm_param_id)id));
    fprintf(f, "  %-*s  %-*s  %-*s  %s%s\n", wflag, flag, wunit, info->unit, wdef, def, info->help,
            info->kind == 'i' ? "; an integer" : "");
  }

  fputs("\nOptions:\n", f);
  int wopt = 0;
  for (int i = 0; i < COUNT_OF(options_help); ++i) {
    int n = (int)(strlen(options_help[i].flag) + 1 + strlen(options_help[i].arg));
    if (n > wopt) wopt = n;
  }
  for (int i = 0; i < COUNT_OF(options_help); ++i) {
    char opt[64];
    (void)snprintf(opt, sizeof opt, "%s %s", options_help[i].flag, options_help[i].arg);
    fprintf(f, "  %-*s  ", wopt, opt);
    print_indented(f, options_help[i].help, wopt + 4);
  }

  fputs("\nUnits: hbar = kB = 1. Energies, rates and temperatures are in units of E, the energy\n"
        "unit in which omega is given (the paper's figures use omega = 1). Heat currents follow\n"
        "the paper's convention J = Q_L - Q_R: twice the physical heat flux from the left to the\n"
        "right bath.\n\n"
        "Observables (text rows and JSON keys, in this order):\n",
        f);
  int wname = (int)strlen("name");
  wunit = (int)strlen("unit");
  for (int i = 0; i < QTM_OBS_COUNT; ++i) {
    int n = (int)strlen(qtm_obs_table[i].name), u = (int)strlen(qtm_obs_table[i].unit);
    if (n > wname) wname = n;
    if (u > wunit) wunit = u;
  }
  fprintf(f, "  %-*s  %-*s  %s\n", wname, "name", wunit, "unit", "long name");
  for (int i = 0; i < QTM_OBS_COUNT; ++i)
    fprintf(f, "  %-*s  %-*s  %s\n", wname, qtm_obs_table[i].name, wunit, qtm_obs_table[i].unit,
            qtm_obs_table[i].long_name);

  fputs("\nUndefined values: an observable that is undefined at the point (the contrast and\n"
        "ratio where J = J_rev = 0, e.g. at TL = TR; the global quantities unless\n"
        "epsL = epsR = 1, eps_a = -1 and 0 < g < omega; p1, p4, Jc and the concurrence unless\n"
        "eps_a = -1 and N = 2) is nan in text and null in JSON, never a made-up number. An\n"
        "infinite value (the entropy production when a temperature is 0 and J != 0) is inf in\n"
        "text and null in JSON.\n\n"
        "Numbers are printed with 17 significant digits (%.17g), enough to read back the same\n"
        "double. JSON output is one object: the observables above, then \"params\" (every\n"
        "parameter as evaluated, N as an integer) and \"method\".\n\n"
        "Exit status: 0 success; 2 bad input, with one line on stderr naming the flag and the\n"
        "value (also a point that --method numeric does not support); 1 any other failure.\n",
        f);
}
