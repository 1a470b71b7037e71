/* Command-line parsing shared by every qtmscan subcommand: the scan of "--name value" pairs
 * against a table of known flags, and strict conversion of a value to a number. Strict means
 * the whole text must be one finite number: "1x", "", " 1", "nan" and "1e999" are errors, never
 * a silently truncated or made-up value. Nothing here prints or exits; errors come back as
 * one line of text for the subcommand to print. */
#ifndef QTM_CLI_FLAGS_H
#define QTM_CLI_FLAGS_H

#include <stddef.h>

#include "qtm/status.h"

/* Exit statuses of every subcommand: bad input (2) is told apart from a failure of a valid
 * request (1) so that scripts can tell "fix your call" from "report a bug". */
enum { QTM_EXIT_OK = 0, QTM_EXIT_FAILURE = 1, QTM_EXIT_USAGE = 2 };

/* Longest value text an error line quotes; longer values are cut with "...". */
#define QTM_FLAG_QUOTE_MAX 64

typedef struct qtm_flag {
  const char *name;  /* without the leading "--" */
  const char *value; /* set by qtm_flags_scan: the text given, NULL when the flag is absent */
} qtm_flag;

/* Scans args[0..nargs) (the arguments after the subcommand's name, prog, e.g. "qtmscan eval",
 * which the hints of the error lines name). Each must be
 * "--name value" or "--name=value", name one of flags[0..nflags), each given at most once;
 * values of absent flags are left NULL. An argument starting with "--" never serves as a
 * value, so "--TL --TR 1" reports the missing value of --TL (negative numbers such as "-1"
 * are values). When "-h" or "--help" appears anywhere, sets *help and checks nothing else.
 * On bad input returns QTM_ERR_INVALID_ARG with one line (no newline) in err (errcap > 0). */
qtm_status qtm_flags_scan(const char *prog, int nargs, char *const args[], qtm_flag *flags,
                          int nflags, int *help, char *err, size_t errcap);

/* Whole text as a finite double (decimal or C99 hexadecimal). On failure returns
 * QTM_ERR_INVALID_ARG and sets *why to a static phrase ("not a number", ...). */
qtm_status qtm_flags_parse_double(const char *text, double *out, const char **why);

/* Whole text as a decimal int ("2.0" and "2e0" are not integers). As qtm_flags_parse_double. */
qtm_status qtm_flags_parse_int(const char *text, int *out, const char **why);

/* Prints "PROG: <message>" as one line on stderr and returns `status`, so that every error path
 * of a subcommand is `return fail(...)` (each defines fail() over this with its own name). */
int qtm_cli_fail(const char *prog, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes text into buf (capacity cap) as one printable token for an error line: unchanged when
 * it is non-empty and has only printable non-space ASCII characters, otherwise in double
 * quotes with C escapes, so that an error stays one line whatever the user typed. */
void qtm_flags_quote(const char *text, char *buf, size_t cap);

#endif
