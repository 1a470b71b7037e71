/* End-to-end tests of `qtmscan eval`: run the built binary (fork/exec, stdout and stderr into
 * temporary files) and check the exit status and both streams. Every validation error path
 * must give exit status 2, exactly one line on stderr naming the flag and the offending value,
 * and nothing on stdout. The JSON output is read back with a small strict parser written here
 * (not with the program's own code), and its numbers are compared with independent references:
 * the figure values of FORMULAS.md section 8 (relative tolerance 1e-5, or 1e-6 absolute, half a
 * unit of their last printed digit and a little more) and the csch/coth closed forms of section 3
 * for qubits between bosonic baths (relative 1e-12: two formulas for the same number). */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qtm/observables.h"
#include "qtm/params.h"
#include "qtm/version.h"
#include "testutil.h"

#ifndef QTMSCAN_EXE
#error "QTMSCAN_EXE must be the path of the qtmscan binary (tests/CMakeLists.txt)"
#endif

/* ---- Running the binary ------------------------------------------------------------------ */

#define MAX_ARGS 48

typedef struct args {
  const char *v[MAX_ARGS + 1];
  int n;
} args;

typedef struct run_result {
  int status; /* exit status; -1 when the program did not exit normally */
  char *out, *err;
} run_result;

static void push(args *a, const char *s) {
  cr_assert_lt(a->n, MAX_ARGS, "too many arguments for the test's buffer");
  a->v[a->n++] = s;
  a->v[a->n] = NULL;
}

static args make_args(const char *first, ...) {
  args a = {{NULL}, 0};
  va_list ap;
  va_start(ap, first);
  for (const char *s = first; s; s = va_arg(ap, const char *)) push(&a, s);
  va_end(ap);
  return a;
}

/* A valid point: qubits between bosonic baths, Fig. 2's rates and coupling, TL = TR = 0.5. */
static args base_args(void) {
  return make_args("eval", "--TL", "0.5", "--TR", "0.5", "--gammaL", "0.01", "--gammaR", "0.02",
                   "--g", "0.01", NULL);
}

static int find_arg(const args *a, const char *flag) {
  for (int i = 0; i < a->n; ++i)
    if (strcmp(a->v[i], flag) == 0) return i;
  return -1;
}

/* Replaces the value of `flag` (given as "--name"), or appends the pair. */
static void set_arg(args *a, const char *flag, const char *value) {
  int i = find_arg(a, flag);
  if (i >= 0 && i + 1 < a->n) {
    a->v[i + 1] = value;
  } else {
    push(a, flag);
    push(a, value);
  }
}

/* Removes `flag` and its value. */
static void drop_arg(args *a, const char *flag) {
  int i = find_arg(a, flag);
  if (i < 0) return;
  for (int k = i; k + 2 <= a->n; ++k) a->v[k] = a->v[k + 2];
  a->n -= 2;
  a->v[a->n] = NULL;
}

/* The command line as one string for failure messages. */
static void describe(const args *a, char *buf, size_t cap) {
  size_t len = (size_t)snprintf(buf, cap, "qtmscan");
  for (int i = 0; i < a->n && len < cap; ++i)
    len += (size_t)snprintf(buf + len, cap - len, " '%s'", a->v[i]);
}

/* Runs qtmscan with a's arguments; stdout goes to `stdout_path` when given (then r.out is
 * empty), else into r.out. */
static run_result run_to(const args *a, const char *stdout_path) {
  const char *argv[MAX_ARGS + 2];
  argv[0] = QTMSCAN_EXE;
  for (int i = 0; i <= a->n; ++i) argv[i + 1] = a->v[i];
  qtm_proc p;
  cr_assert_eq(qtm_proc_run(argv, stdout_path, &p), 0, "could not run " QTMSCAN_EXE);
  run_result r = {p.status, p.out, p.err};
  return r;
}

static run_result run(const args *a) { return run_to(a, NULL); }

static void run_free(run_result *r) {
  free(r->out);
  free(r->err);
}

/* ---- Error lines ------------------------------------------------------------------------- */

/* Exit status 2, nothing on stdout, exactly one line on stderr, starting "qtmscan eval: " and
 * containing every needle (NULL-terminated). */
static void expect_usage_error(const args *a, const char *const needles[]) {
  char desc[1024];
  describe(a, desc, sizeof desc);
  run_result r = run(a);
  cr_expect_eq(r.status, 2, "%s: exit status %d, want 2 (stderr: %s)", desc, r.status, r.err);
  cr_expect_str_empty(r.out, "%s: stdout should be empty, got: %s", desc, r.out);
  size_t len = strlen(r.err);
  const char *nl = strchr(r.err, '\n');
  cr_expect(len > 0 && nl == r.err + len - 1, "%s: want exactly one line on stderr, got: [%s]",
            desc, r.err);
  cr_expect(strncmp(r.err, "qtmscan eval: ", 14) == 0, "%s: error line [%s] lacks the prefix",
            desc, r.err);
  for (int i = 0; needles[i]; ++i)
    cr_expect(strstr(r.err, needles[i]) != NULL, "%s: error line [%s] should contain [%s]", desc,
              r.err, needles[i]);
  run_free(&r);
}

/* Base point with --flag value; the line must contain "--flag value:". */
static void expect_bad_value(const char *flag, const char *value, const char *shown) {
  args a = base_args();
  set_arg(&a, flag, value);
  char needle[128];
  snprintf(needle, sizeof needle, "%s %s:", flag, shown ? shown : value);
  const char *needles[] = {needle, NULL};
  expect_usage_error(&a, needles);
}

Test(cli_eval, the_spec_example_error_line) {
  args a = base_args();
  set_arg(&a, "--TL", "-1");
  run_result r = run(&a);
  cr_expect_eq(r.status, 2);
  cr_expect_str_eq(r.err, "qtmscan eval: --TL -1: temperatures must be >= 0\n");
  cr_expect_str_empty(r.out);
  run_free(&r);
}

Test(cli_eval, values_out_of_domain) {
  static const char *const cases[][2] = {
      {"--TL", "-1"},      {"--TR", "-0.5"},   {"--omega", "0"},    {"--omega", "-1"},
      {"--gammaL", "-1"},  {"--gammaR", "-1"}, {"--g", "-1"},       {"--epsL", "1.5"},
      {"--epsR", "-2"},    {"--eps_a", "1.01"}, {"--N", "0"},       {"--N", "-3"},
      {"--eps_a", "-1.5"}, {"--TL", "-1e-300"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i)
    expect_bad_value(cases[i][0], cases[i][1], NULL);
}

Test(cli_eval, non_finite_values) {
  static const char *const cases[][2] = {
      {"--TL", "nan"},      {"--TR", "inf"},       {"--g", "-inf"},       {"--omega", "NaN"},
      {"--gammaL", "infinity"}, {"--gammaR", "1e999"}, {"--epsL", "-1e400"}, {"--eps_a", "nan"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i)
    expect_bad_value(cases[i][0], cases[i][1], NULL);
}

Test(cli_eval, values_that_are_not_numbers) {
  static const char *const cases[][3] = {
      {"--TL", "abc", NULL},      {"--TL", "1x", NULL},        {"--TL", "", "\"\""},
      {"--TR", "0.5.5", NULL},    {"--g", "0.1 ", "\"0.1 \""}, {"--g", " 0.1", "\" 0.1\""},
      {"--gammaL", "1,5", NULL},  {"--omega", "e3", NULL},     {"--N", "2.5", NULL},
      {"--N", "two", NULL},       {"--N", "2e0", NULL},        {"--N", "", "\"\""},
      {"--N", "99999999999", NULL}, {"--TL", "1\n2", "\"1\\n2\""}, {"--omega", "1e-400", NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i)
    expect_bad_value(cases[i][0], cases[i][1], cases[i][2]);
}

Test(cli_eval, missing_values) {
  args a = base_args();
  drop_arg(&a, "--g");
  push(&a, "--g"); /* last argument */
  expect_usage_error(&a, (const char *const[]){"--g", "missing value", NULL});

  a = base_args();
  push(&a, "--omega");
  push(&a, "--N"); /* a flag is never taken as the value of the one before it */
  push(&a, "3");
  expect_usage_error(&a, (const char *const[]){"--omega", "missing value", NULL});
}

Test(cli_eval, unknown_flags_and_arguments) {
  static const char *const unknown[] = {"--foo", "--tl", "--T", "--kappa1", "-x", "--"};
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; ++i) {
    args a = base_args();
    push(&a, unknown[i]);
    push(&a, "1");
    expect_usage_error(&a, (const char *const[]){unknown[i], "--help", NULL});
  }
  args a = base_args();
  push(&a, "--foo=3");
  expect_usage_error(&a, (const char *const[]){"--foo", "--help", NULL});

  a = base_args();
  push(&a, "positional");
  expect_usage_error(&a, (const char *const[]){"positional", NULL});
  a = base_args();
  push(&a, "0.5");
  expect_usage_error(&a, (const char *const[]){"0.5", NULL});
}

Test(cli_eval, duplicate_flags) {
  args a = base_args();
  push(&a, "--TL");
  push(&a, "0.7");
  expect_usage_error(&a, (const char *const[]){"--TL 0.7", "twice", NULL});

  a = base_args();
  push(&a, "--TR=0.25"); /* both spellings count */
  expect_usage_error(&a, (const char *const[]){"--TR 0.25", "twice", NULL});

  a = base_args();
  set_arg(&a, "--format", "json");
  push(&a, "--format");
  push(&a, "text");
  expect_usage_error(&a, (const char *const[]){"--format text", "twice", NULL});

  a = base_args();
  set_arg(&a, "--method", "closed");
  push(&a, "--method");
  push(&a, "closed");
  expect_usage_error(&a, (const char *const[]){"--method closed", "twice", NULL});
}

Test(cli_eval, missing_required_flags) {
  static const char *const required[] = {"--TL", "--TR", "--gammaL", "--gammaR", "--g"};
  for (size_t i = 0; i < sizeof required / sizeof required[0]; ++i) {
    args a = base_args();
    drop_arg(&a, required[i]);
    char needle[32];
    snprintf(needle, sizeof needle, "%s ", required[i]); /* "--g " is not "--gammaL" */
    expect_usage_error(&a, (const char *const[]){needle, "missing", NULL});
  }
  args a = make_args("eval", NULL);
  expect_usage_error(&a, (const char *const[]){"--TL", "--TR", "--gammaL", "--gammaR", "--g ",
                                               NULL});
}

Test(cli_eval, bad_method_and_format) {
  static const char *const cases[][3] = {
      {"--method", "exact", NULL}, {"--method", "Closed", NULL}, {"--method", "", "\"\""},
      {"--format", "xml", NULL},   {"--format", "JSON", NULL},   {"--format", "", "\"\""},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i)
    expect_bad_value(cases[i][0], cases[i][1], cases[i][2]);
}

Test(cli_eval, numeric_method_unsupported_point) {
  /* eps_a strictly between -1 and 1 has no master equation to solve (eval.h) */
  args a = base_args();
  set_arg(&a, "--method", "numeric");
  set_arg(&a, "--eps_a", "0.5");
  expect_usage_error(&a, (const char *const[]){"--method numeric", NULL});
}

/* ---- Top level --------------------------------------------------------------------------- */

Test(cli_eval, no_or_unknown_subcommand) {
  args cases[] = {make_args(NULL), make_args("frobnicate", NULL), make_args("--frob", NULL)};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    char desc[256];
    describe(&cases[i], desc, sizeof desc);
    run_result r = run(&cases[i]);
    cr_expect_eq(r.status, 2, "%s: exit status %d", desc, r.status);
    cr_expect_str_empty(r.out, "%s", desc);
    cr_expect(strstr(r.err, "Usage: qtmscan") != NULL, "%s: no usage on stderr: %s", desc, r.err);
    if (i > 0) cr_expect(strstr(r.err, cases[i].v[0]) != NULL, "%s: %s", desc, r.err);
    run_free(&r);
  }
}

Test(cli_eval, version) {
  args a = make_args("--version", NULL);
  run_result r = run(&a);
  cr_expect_eq(r.status, 0);
  cr_expect(strstr(r.out, QTM_VERSION_STRING) != NULL, "%s", r.out);
  cr_expect(strstr(r.out, QTM_GIT_COMMIT) != NULL, "%s", r.out);
  cr_expect_str_empty(r.err);
  run_free(&r);
}

/* `word` occurs in `text` not as part of a longer identifier ("--g" inside "--gammaL" and
 * "J" inside "J1" do not count). */
static int has_word(const char *text, const char *word) {
  size_t n = strlen(word);
  for (const char *p = strstr(text, word); p; p = strstr(p + 1, word)) {
    int before = p > text && (isalnum((unsigned char)p[-1]) || p[-1] == '_');
    int after = isalnum((unsigned char)p[n]) || p[n] == '_';
    if (!before && !after) return 1;
  }
  return 0;
}

Test(cli_eval, help_documents_every_flag_and_observable) {
  args cases[] = {make_args("--help", NULL), make_args("-h", NULL),
                  make_args("eval", "--help", NULL), make_args("eval", "-h", NULL),
                  /* help wins over every other problem on the line */
                  make_args("eval", "--TL", "abc", "--bogus", "--help", NULL)};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
    char desc[256];
    describe(&cases[c], desc, sizeof desc);
    run_result r = run(&cases[c]);
    cr_expect_eq(r.status, 0, "%s: exit status %d", desc, r.status);
    cr_expect_str_empty(r.err, "%s: %s", desc, r.err);
    for (int id = 0; id < QTM_PARAM_COUNT; ++id) {
      char flag[64];
      snprintf(flag, sizeof flag, "--%s", qtm_param_table[id].name);
      cr_expect(has_word(r.out, flag), "%s: help lacks %s", desc, flag);
      cr_expect(strstr(r.out, qtm_param_table[id].help) != NULL, "%s: help lacks [%s]", desc,
                qtm_param_table[id].help);
    }
    for (int i = 0; i < QTM_OBS_COUNT; ++i) {
      cr_expect(has_word(r.out, qtm_obs_table[i].name), "%s: help lacks %s", desc,
                qtm_obs_table[i].name);
      cr_expect(strstr(r.out, qtm_obs_table[i].long_name) != NULL, "%s: help lacks [%s]", desc,
                qtm_obs_table[i].long_name);
      cr_expect(strstr(r.out, qtm_obs_table[i].unit) != NULL, "%s", desc);
    }
    static const char *const words[] = {"--method", "--format", "closed", "numeric", "json",
                                        "hbar = kB = 1", "Q_L - Q_R", "nan", "null",
                                        "required"};
    for (size_t w = 0; w < sizeof words / sizeof words[0]; ++w)
      cr_expect(strstr(r.out, words[w]) != NULL, "%s: help lacks %s", desc, words[w]);
    run_free(&r);
  }
}

/* ---- A strict JSON reader ---------------------------------------------------------------- */

enum { J_NULL = 'z', J_NUMBER = 'n', J_STRING = 's', J_OBJECT = 'o', J_ARRAY = 'a', J_BOOL = 'b' };

typedef struct json_member {
  char key[64];
  int type;
  double num;     /* J_NUMBER */
  char text[64];  /* the number's token, or the string's value */
} json_member;

typedef struct json_doc {
  json_member top[64];
  int ntop;
  json_member params[32]; /* members of the top-level "params" object */
  int nparams;
} json_doc;

typedef struct json_parser {
  const char *s;
  json_doc *doc;
  const char *error;
} json_parser;

static void skip_ws(json_parser *p) {
  while (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r') ++p->s;
}

static int json_fail(json_parser *p, const char *why) {
  if (!p->error) p->error = why;
  return 0;
}

/* RFC 8259 string; \u escapes of non-ASCII characters are stored as '?'. */
static int parse_string(json_parser *p, char *buf, size_t cap) {
  size_t len = 0;
  if (*p->s != '"') return json_fail(p, "expected a string");
  ++p->s;
  for (;;) {
    unsigned char c = (unsigned char)*p->s++;
    if (c == '"') break;
    if (c == '\0' || c < 0x20) return json_fail(p, "unterminated string or control character");
    if (c == '\\') {
      char e = *p->s++;
      switch (e) {
      case '"': c = '"'; break;
      case '\\': c = '\\'; break;
      case '/': c = '/'; break;
      case 'b': c = '\b'; break;
      case 'f': c = '\f'; break;
      case 'n': c = '\n'; break;
      case 'r': c = '\r'; break;
      case 't': c = '\t'; break;
      case 'u': {
        unsigned v = 0;
        for (int k = 0; k < 4; ++k) {
          char h = *p->s++;
          if (!isxdigit((unsigned char)h)) return json_fail(p, "bad \\u escape");
          v = v * 16 + (unsigned)(isdigit((unsigned char)h) ? h - '0' : tolower(h) - 'a' + 10);
        }
        c = v < 0x80 ? (unsigned char)v : '?';
        break;
      }
      default:
        return json_fail(p, "bad escape");
      }
    }
    if (len + 1 < cap) buf[len++] = (char)c;
  }
  buf[len] = '\0';
  return 1;
}

/* -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
static int parse_number(json_parser *p, json_member *m) {
  const char *start = p->s;
  if (*p->s == '-') ++p->s;
  if (*p->s == '0') {
    ++p->s;
  } else if (*p->s >= '1' && *p->s <= '9') {
    while (isdigit((unsigned char)*p->s)) ++p->s;
  } else {
    return json_fail(p, "bad number");
  }
  if (*p->s == '.') {
    ++p->s;
    if (!isdigit((unsigned char)*p->s)) return json_fail(p, "bad fraction");
    while (isdigit((unsigned char)*p->s)) ++p->s;
  }
  if (*p->s == 'e' || *p->s == 'E') {
    ++p->s;
    if (*p->s == '+' || *p->s == '-') ++p->s;
    if (!isdigit((unsigned char)*p->s)) return json_fail(p, "bad exponent");
    while (isdigit((unsigned char)*p->s)) ++p->s;
  }
  size_t n = (size_t)(p->s - start);
  if (n >= sizeof m->text) return json_fail(p, "number too long");
  memcpy(m->text, start, n);
  m->text[n] = '\0';
  m->type = J_NUMBER;
  m->num = strtod(m->text, NULL);
  return 1;
}

static int parse_value(json_parser *p, json_member *m, json_member *kids, int kcap, int *nkids,
                       int depth);

/* Members are recorded in kids (when given); the "params" object of the top level goes to
 * doc->params. */
static int parse_object(json_parser *p, json_member *kids, int kcap, int *nkids, int depth) {
  ++p->s; /* '{' */
  skip_ws(p);
  if (*p->s == '}') {
    ++p->s;
    return 1;
  }
  for (;;) {
    json_member scratch, *m = &scratch;
    if (kids) {
      if (*nkids >= kcap) return json_fail(p, "too many members");
      m = &kids[(*nkids)++];
    }
    memset(m, 0, sizeof *m);
    skip_ws(p);
    if (!parse_string(p, m->key, sizeof m->key)) return 0;
    skip_ws(p);
    if (*p->s++ != ':') return json_fail(p, "expected ':'");
    int is_params = depth == 1 && kids == p->doc->top && strcmp(m->key, "params") == 0;
    if (!parse_value(p, m, is_params ? p->doc->params : NULL, 32, &p->doc->nparams, depth + 1))
      return 0;
    skip_ws(p);
    if (*p->s == ',') {
      ++p->s;
      continue;
    }
    if (*p->s++ != '}') return json_fail(p, "expected ',' or '}'");
    return 1;
  }
}

static int parse_value(json_parser *p, json_member *m, json_member *kids, int kcap, int *nkids,
                       int depth) {
  if (depth > 16) return json_fail(p, "nested too deeply");
  skip_ws(p);
  switch (*p->s) {
  case '{':
    m->type = J_OBJECT;
    return parse_object(p, kids, kcap, nkids, depth);
  case '[':
    m->type = J_ARRAY;
    ++p->s;
    skip_ws(p);
    if (*p->s == ']') {
      ++p->s;
      return 1;
    }
    for (;;) {
      json_member item;
      if (!parse_value(p, &item, NULL, 0, NULL, depth + 1)) return 0;
      skip_ws(p);
      if (*p->s == ',') {
        ++p->s;
        continue;
      }
      if (*p->s++ != ']') return json_fail(p, "expected ',' or ']'");
      return 1;
    }
  case '"':
    m->type = J_STRING;
    return parse_string(p, m->text, sizeof m->text);
  case 'n':
    if (strncmp(p->s, "null", 4) != 0) return json_fail(p, "bad literal");
    p->s += 4;
    m->type = J_NULL;
    return 1;
  case 't':
  case 'f': {
    const char *lit = *p->s == 't' ? "true" : "false";
    if (strncmp(p->s, lit, strlen(lit)) != 0) return json_fail(p, "bad literal");
    p->s += strlen(lit);
    m->type = J_BOOL;
    return 1;
  }
  default:
    return parse_number(p, m);
  }
}

/* Parses the whole text as one JSON object; fails the test when it is not strict JSON. */
static void parse_json(const char *text, json_doc *doc) {
  memset(doc, 0, sizeof *doc);
  json_parser p = {text, doc, NULL};
  json_member root;
  memset(&root, 0, sizeof root);
  skip_ws(&p);
  cr_assert_eq(*p.s, '{', "JSON output is not an object: %s", text);
  int ok = parse_value(&p, &root, doc->top, 64, &doc->ntop, 1);
  if (ok) {
    skip_ws(&p);
    if (*p.s != '\0') ok = json_fail(&p, "text after the object");
  }
  cr_assert(ok, "invalid JSON (%s) at [%.40s] in:\n%s", p.error ? p.error : "?", p.s, text);
}

/* The JSON of `qtmscan eval <a> --format json`, checked for structure: the observables in
 * table order, then "params" (every parameter in table order, N an integer) and "method". */
static void eval_json(args a, const char *method, json_doc *doc) {
  set_arg(&a, "--format", "json");
  char desc[1024];
  describe(&a, desc, sizeof desc);
  run_result r = run(&a);
  cr_assert_eq(r.status, 0, "%s: exit status %d, stderr: %s", desc, r.status, r.err);
  cr_expect_str_empty(r.err, "%s: %s", desc, r.err);
  parse_json(r.out, doc);
  cr_assert_eq(doc->ntop, QTM_OBS_COUNT + 2, "%s: %d top-level keys", desc, doc->ntop);
  for (int i = 0; i < QTM_OBS_COUNT; ++i) {
    cr_expect_str_eq(doc->top[i].key, qtm_obs_table[i].name, "%s: key %d", desc, i);
    cr_expect(doc->top[i].type == J_NUMBER || doc->top[i].type == J_NULL, "%s: %s is not a number",
              desc, doc->top[i].key);
  }
  cr_expect_str_eq(doc->top[QTM_OBS_COUNT].key, "params");
  cr_expect_eq(doc->top[QTM_OBS_COUNT].type, J_OBJECT);
  cr_expect_str_eq(doc->top[QTM_OBS_COUNT + 1].key, "method");
  cr_expect_eq(doc->top[QTM_OBS_COUNT + 1].type, J_STRING);
  cr_expect_str_eq(doc->top[QTM_OBS_COUNT + 1].text, method);
  cr_assert_eq(doc->nparams, QTM_PARAM_COUNT, "%s: %d params", desc, doc->nparams);
  for (int id = 0; id < QTM_PARAM_COUNT; ++id) {
    const json_member *m = &doc->params[id];
    cr_expect_str_eq(m->key, qtm_param_table[id].name, "%s: param %d", desc, id);
    cr_expect_eq(m->type, J_NUMBER, "%s: param %s", desc, m->key);
    if (qtm_param_table[id].kind == 'i')
      cr_expect(strpbrk(m->text, ".eE") == NULL, "%s: %s = %s is not an integer", desc, m->key,
                m->text);
  }
  run_free(&r);
}

static const json_member *obs(const json_doc *doc, int id) { return &doc->top[id]; }

static double param(const json_doc *doc, int id) { return doc->params[id].num; }

static void expect_null(const json_doc *doc, int id, const char *why) {
  cr_expect_eq(obs(doc, id)->type, J_NULL, "%s should be null (%s), got %s",
               qtm_obs_table[id].name, why, obs(doc, id)->text);
}

static void expect_number(const json_doc *doc, int id) {
  cr_expect_eq(obs(doc, id)->type, J_NUMBER, "%s should be a number", qtm_obs_table[id].name);
}

/* |got - want| <= tol |want| */
static void expect_rel(const json_doc *doc, int id, double want, double tol, const char *source) {
  expect_number(doc, id);
  double got = obs(doc, id)->num;
  cr_expect(qtm_relerr(got, want) <= tol, "%s = %.17g, want %.17g (rel %.1e; %s), rel err %.3g",
            qtm_obs_table[id].name, got, want, tol, source, qtm_relerr(got, want));
}

static void expect_abs(const json_doc *doc, int id, double want, double tol, const char *source) {
  expect_number(doc, id);
  double got = obs(doc, id)->num;
  cr_expect(fabs(got - want) <= tol, "%s = %.17g, want %.17g (abs %.1e; %s)",
            qtm_obs_table[id].name, got, want, tol, source);
}

/* ---- JSON output ------------------------------------------------------------------------- */

Test(cli_eval, json_fig2_conductances) {
  json_doc doc;
  eval_json(base_args(), "closed", &doc);
  /* params echo what was given, with the defaults */
  cr_expect_eq(param(&doc, QTM_PARAM_omega), 1.0);
  cr_expect_eq(param(&doc, QTM_PARAM_TL), 0.5);
  cr_expect_eq(param(&doc, QTM_PARAM_TR), 0.5);
  cr_expect_eq(param(&doc, QTM_PARAM_gammaL), 0.01);
  cr_expect_eq(param(&doc, QTM_PARAM_gammaR), 0.02);
  cr_expect_eq(param(&doc, QTM_PARAM_g), 0.01);
  cr_expect_eq(param(&doc, QTM_PARAM_epsL), 1.0);
  cr_expect_eq(param(&doc, QTM_PARAM_epsR), 1.0);
  cr_expect_eq(param(&doc, QTM_PARAM_eps_a), -1.0);
  cr_expect_str_eq(doc.params[QTM_PARAM_N].text, "2");

  /* FORMULAS.md section 8, Fig. 2 samples at T = 0.5 and Eq. 17's threshold */
  expect_rel(&doc, QTM_OBS_kappa1, 7.35255e-3, 1e-5, "FORMULAS.md 8, Fig. 2");
  expect_rel(&doc, QTM_OBS_kappa2, 3.94867e-3, 1e-5, "FORMULAS.md 8, Fig. 2");
  expect_rel(&doc, QTM_OBS_ndtc_threshold, 1.957615, 1e-6, "FORMULAS.md 8, Eq. 17");
  /* the csch/coth forms for qubits between bosonic baths (section 3, after Eqs. 13 and 14) */
  double w = 1.0, T = 0.5, gL = 0.01, gR = 0.02, g = 0.01;
  double k1 = w * w * gL * gR / sinh(w / T) / ((gL + gR) * T * T);
  double c = 1.0 / tanh(w / (2 * T));
  double k2 = k1 / (1.0 + gL * gR / (4 * g * g) * c * c);
  expect_rel(&doc, QTM_OBS_kappa1, k1, 1e-12, "csch form of Eq. 13");
  expect_rel(&doc, QTM_OBS_kappa2, k2, 1e-12, "Eq. 14");
  /* no current at equal temperatures, so contrast and ratio are 0/0 (section 7) */
  cr_expect_eq(obs(&doc, QTM_OBS_J)->num, 0.0);
  cr_expect_eq(obs(&doc, QTM_OBS_J_rev)->num, 0.0);
  expect_null(&doc, QTM_OBS_contrast, "TL = TR");
  expect_null(&doc, QTM_OBS_ratio, "TL = TR");
  expect_number(&doc, QTM_OBS_p1);
  expect_number(&doc, QTM_OBS_Jc);
}

/* J for qubits between bosonic baths (Eqs. 5-7 with u = coth(w/2T), b = nL - nR), TR = 0. */
static double fig4_current(double TL) {
  double w = 1.0, gL = 0.01, gR = 0.02, g = 0.8;
  double nL = 1.0 / expm1(w / TL), uL = 1.0 / tanh(w / (2 * TL)), uR = 1.0;
  double J1 = 2 * w * gL * gR * nL / (gL * uL + gR * uR);
  return 4 * g * g / (4 * g * g + gL * gR * uL * uR) * J1;
}

Test(cli_eval, json_fig4_global_contrast) {
  /* FORMULAS.md section 8, Fig. 4 lower panel: g = 0.8, gammaR = 0.02, gammaL = 0.01, TR -> 0 */
  static const double TL[] = {0.1, 0.5, 1, 5, 50};
  static const char *const TL_text[] = {"0.1", "0.5", "1", "5", "50"};
  static const double want[] = {0.045112, 0.168040, 0.136165, 0.244739, 0.322630};
  for (int k = 0; k < 5; ++k) {
    args a = make_args("eval", "--g", "0.8", "--gammaL", "0.01", "--gammaR", "0.02", "--TL",
                       TL_text[k], "--TR", "0", NULL);
    json_doc doc;
    eval_json(a, "closed", &doc);
    cr_expect_eq(param(&doc, QTM_PARAM_TL), TL[k]);
    /* half a unit of the sixth printed decimal, and a little more */
    expect_abs(&doc, QTM_OBS_contrast_global, want[k], 1e-6, "FORMULAS.md 8, Fig. 4");
    if (k == 1) expect_rel(&doc, QTM_OBS_contrast_global, 0.168040, 1e-5, "FORMULAS.md 8, Fig. 4");
    /* J != 0 with TR = 0: the entropy production is +inf, which JSON cannot hold */
    expect_rel(&doc, QTM_OBS_J, fig4_current(TL[k]), 1e-12, "Eqs. 5-7, qubits + bosons");
    expect_null(&doc, QTM_OBS_entropy_production, "+inf at TR = 0");
  }
}

Test(cli_eval, json_null_where_undefined) {
  /* fermionic left bath: the global master equation needs bosonic baths */
  args a = base_args();
  set_arg(&a, "--TL", "1");
  set_arg(&a, "--epsL", "-1");
  json_doc doc;
  eval_json(a, "closed", &doc);
  cr_expect_eq(param(&doc, QTM_PARAM_epsL), -1.0);
  static const int global[] = {QTM_OBS_J_global, QTM_OBS_J_global_rev, QTM_OBS_contrast_global,
                               QTM_OBS_kappa_global, QTM_OBS_dJ_global_dTL};
  for (size_t i = 0; i < sizeof global / sizeof global[0]; ++i)
    expect_null(&doc, global[i], "epsL = -1");
  expect_number(&doc, QTM_OBS_J);
  expect_number(&doc, QTM_OBS_contrast);
  expect_number(&doc, QTM_OBS_entropy_production);

  /* oscillators: populations, Jc and concurrence are qubit quantities */
  a = base_args();
  set_arg(&a, "--TL", "1");
  set_arg(&a, "--eps_a", "1");
  eval_json(a, "closed", &doc);
  cr_expect_eq(param(&doc, QTM_PARAM_eps_a), 1.0);
  static const int qubit[] = {QTM_OBS_p1, QTM_OBS_p4, QTM_OBS_Jc, QTM_OBS_concurrence};
  for (size_t i = 0; i < sizeof qubit / sizeof qubit[0]; ++i)
    expect_null(&doc, qubit[i], "eps_a = 1");
  expect_number(&doc, QTM_OBS_J);
  expect_number(&doc, QTM_OBS_coherence);
}

Test(cli_eval, json_params_echo_and_equals_syntax) {
  args a = make_args("eval", "--TL=2", "--TR=0.25", "--gammaL=1e-3", "--gammaR", "0.02", "--g=0.1",
                     "--omega", "2", "--N=3", "--epsR", "-1", "--eps_a", "-1", "--method=closed",
                     NULL);
  json_doc doc;
  eval_json(a, "closed", &doc);
  cr_expect_eq(param(&doc, QTM_PARAM_omega), 2.0);
  cr_expect_eq(param(&doc, QTM_PARAM_TL), 2.0);
  cr_expect_eq(param(&doc, QTM_PARAM_TR), 0.25);
  cr_expect_eq(param(&doc, QTM_PARAM_gammaL), 1e-3);
  cr_expect_eq(param(&doc, QTM_PARAM_g), 0.1);
  cr_expect_eq(param(&doc, QTM_PARAM_epsR), -1.0);
  cr_expect_str_eq(doc.params[QTM_PARAM_N].text, "3");
  expect_null(&doc, QTM_OBS_p1, "N = 3");
}

Test(cli_eval, json_numeric_method) {
  /* The Fig. 4 point by the numerical steady states: the method is echoed, the currents come
   * from the master equations (relative 1e-9, the solver's accuracy) and the global contrast
   * matches the figure value. */
  args a = make_args("eval", "--g", "0.8", "--gammaL", "0.01", "--gammaR", "0.02", "--TL", "0.5",
                     "--TR", "0", "--method", "numeric", NULL);
  json_doc doc;
  eval_json(a, "numeric", &doc);
  expect_rel(&doc, QTM_OBS_J, fig4_current(0.5), 1e-9, "Eqs. 5-7, qubits + bosons");
  expect_abs(&doc, QTM_OBS_contrast_global, 0.168040, 1e-6, "FORMULAS.md 8, Fig. 4");
  expect_null(&doc, QTM_OBS_entropy_production, "+inf at TR = 0");
}

/* ---- Text output ------------------------------------------------------------------------- */

/* Counts the rows of each observable in text output (lines not starting with '#') and keeps
 * the value column of each; returns the number of rows. */
static int text_rows(const char *out, int counts[QTM_OBS_COUNT], char values[][64]) {
  int rows = 0;
  for (const char *line = out; *line;) {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    if (line[0] != '#' && len > 0) {
      char name[64] = "", value[64] = "";
      char buf[512];
      snprintf(buf, sizeof buf, "%.*s", (int)len, line);
      if (sscanf(buf, "%63s %63s", name, value) == 2) {
        int id = qtm_obs_find(name);
        if (id >= 0) {
          counts[id]++;
          snprintf(values[id], 64, "%s", value);
        }
      }
      ++rows;
    }
    line += len + (end ? 1 : 0);
  }
  return rows;
}

Test(cli_eval, text_output) {
  args a = base_args();
  a.v[find_arg(&a, "--TR") + 1] = "0"; /* TR = 0: the entropy production is +inf */
  run_result r = run(&a);
  cr_assert_eq(r.status, 0, "stderr: %s", r.err);
  cr_expect_str_empty(r.err);
  int counts[QTM_OBS_COUNT] = {0};
  char values[QTM_OBS_COUNT][64];
  int rows = text_rows(r.out, counts, values);
  cr_expect_eq(rows, QTM_OBS_COUNT, "%d rows in:\n%s", rows, r.out);
  for (int i = 0; i < QTM_OBS_COUNT; ++i)
    cr_expect_eq(counts[i], 1, "%s appears %d times", qtm_obs_table[i].name, counts[i]);
  cr_expect_str_eq(values[QTM_OBS_entropy_production], "inf");
  cr_expect(strstr(r.out, qtm_obs_table[QTM_OBS_J].long_name) != NULL);
  cr_expect(strstr(r.out, qtm_obs_table[QTM_OBS_J].unit) != NULL);
  run_free(&r);

  r = run((args[]){base_args()}); /* TL = TR: contrast and ratio undefined */
  cr_assert_eq(r.status, 0, "stderr: %s", r.err);
  memset(counts, 0, sizeof counts);
  text_rows(r.out, counts, values);
  cr_expect_str_eq(values[QTM_OBS_contrast], "nan");
  cr_expect_str_eq(values[QTM_OBS_ratio], "nan");
  cr_expect_str_eq(values[QTM_OBS_J], "0");
  cr_expect_eq(qtm_relerr(strtod(values[QTM_OBS_kappa1], NULL), 7.35255e-3) <= 1e-5, 1,
               "kappa1 = %s", values[QTM_OBS_kappa1]);
  run_free(&r);
}

Test(cli_eval, write_error_exits_1) {
  FILE *probe = fopen("/dev/full", "w");
  if (!probe) cr_skip_test("no /dev/full on this system");
  fclose(probe);
  args a = base_args();
  run_result r = run_to(&a, "/dev/full");
  cr_expect_eq(r.status, 1, "exit status %d, stderr: %s", r.status, r.err);
  cr_expect_neq(r.err[0], '\0', "a write error must be reported");
  run_free(&r);
}
