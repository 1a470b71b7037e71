/* YAML access for the config loader (src/config*.c): parsing with libfyaml kept quiet, node
 * positions for messages, typed scalars (numbers, integers, strings), key checks and the
 * --set overrides. Private to the qtm_scan library. Every failing function writes the whole
 * message ("FILE:LINE:COL: ..." or "--set KEY=VALUE: ...") into the context's error buffer. */
#ifndef QTM_CONFIG_YAML_H
#define QTM_CONFIG_YAML_H

#include <stddef.h>
#include <stdint.h>

#include <libfyaml.h>

#include "qtm/status.h"

#if defined(__GNUC__)
#define QTM_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define QTM_PRINTF(fmt, args)
#endif

/* An entry that an override put into (or replaced in) mapping `map`: messages about its key,
 * its value or anything inside name the override. */
typedef struct qtm_yaml_origin {
  struct fy_node *map, *key, *value;
  int set; /* index into sets[] */
} qtm_yaml_origin;

typedef struct qtm_yaml {
  const char *name;        /* the file name used in messages */
  const char *const *sets; /* the --set overrides, for messages */
  int nsets;
  char *err;
  size_t errcap;
  struct fy_parser *parser; /* owns the document's input: lives as long as the document */
  struct fy_document *doc;
  struct fy_document **set_docs; /* parsed override values, kept alive while copies exist */
  int nset_docs;
  qtm_yaml_origin *origins;
  int norigins, origins_cap;
} qtm_yaml;

/* Parses `text` as one YAML document whose root is a mapping. The context must be zeroed. */
qtm_status qtm_yaml_open(qtm_yaml *y, const char *name, const char *text, size_t len,
                         const char *const *sets, int nsets, char *err, size_t errcap);
/* Releases everything; safe on a zeroed or partially opened context. */
void qtm_yaml_close(qtm_yaml *y);

/* Applies override sets[i] ("a.b.c=VALUE", VALUE in YAML) to the document. */
qtm_status qtm_yaml_apply_set(qtm_yaml *y, int i);
/* The document as YAML text (block style), malloc'd; NULL when out of memory. */
char *qtm_yaml_emit(qtm_yaml *y);

struct fy_node *qtm_yaml_root(const qtm_yaml *y);

/* Where a node is, for messages: "FILE:LINE:COL" or "--set KEY=VALUE". */
void qtm_yaml_place(const qtm_yaml *y, struct fy_node *n, char *buf, size_t cap);
/* Writes "PLACE: message" for node `at` (the document root when NULL) and returns
 * QTM_ERR_INVALID_ARG. */
qtm_status qtm_yaml_fail(const qtm_yaml *y, struct fy_node *at, const char *fmt, ...)
    QTM_PRINTF(3, 4);
/* What a node holds, for "found ..." in messages: "a mapping", "a list", "null", the
 * quoted or plain text of a scalar. */
void qtm_yaml_describe(struct fy_node *n, char *buf, size_t cap);

/* A plain scalar, "null" style scalars excluded; NULL otherwise. NUL-terminated. */
const char *qtm_yaml_scalar(struct fy_node *n);
/* The text of a scalar for messages, never NULL ("?" when there is none). */
const char *qtm_yaml_text(struct fy_node *n);
int qtm_yaml_is_mapping(struct fy_node *n);
int qtm_yaml_is_sequence(struct fy_node *n);

/* Typed scalars. `what` names the entry in the message ("fixed.TR", "axis TL: lin start").
 * A number is an unquoted decimal (1, -0.5, 2.5e-3); quoted scalars are strings; .inf and
 * .nan are rejected as non-finite. An integer is a number with an integral value in
 * [lo, hi]. A string is any non-null scalar. */
qtm_status qtm_yaml_number(const qtm_yaml *y, struct fy_node *n, const char *what, double *out);
qtm_status qtm_yaml_integer(const qtm_yaml *y, struct fy_node *n, const char *what, int64_t lo,
                            int64_t hi, int64_t *out);
qtm_status qtm_yaml_string(const qtm_yaml *y, struct fy_node *n, const char *what,
                           const char **out);

/* Fails unless every key of mapping `map` is one of valid[0..nvalid) (a plain name, listed
 * once; libfyaml already refuses duplicates). `what` names the mapping in the message. */
qtm_status qtm_yaml_check_keys(const qtm_yaml *y, struct fy_node *map, const char *what,
                               const char *const *valid, int nvalid);
/* Value and key of `key` in a mapping, or NULL. */
struct fy_node *qtm_yaml_get(struct fy_node *map, const char *key);
struct fy_node *qtm_yaml_get_key(struct fy_node *map, const char *key);

#endif
