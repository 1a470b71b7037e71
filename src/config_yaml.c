/* YAML access for the config loader: libfyaml kept quiet (its diagnostics are collected, never
 * printed), positions of nodes for messages, strict typing of scalars, and --set overrides
 * grafted onto the document with a record of which nodes they brought, so that a message
 * about such a node names the override instead of a file position. */
#include "config_yaml.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_CAP 1536
#define QUOTE_RUN_MSG                                                                              \
  "two escaped quotes in a row ('''') in a single-quoted string, which libfyaml 0.7 misreads; "    \
  "write it in double quotes"
#define TAB_INDICATOR_MSG                                                                          \
  "a tab before '%c' after a key, in a config with an explicit key ('? '): libfyaml 0.7 "          \
  "crashes on this; use spaces"

/* libfyaml writes some diagnostics through the output function even when collecting errors
 * (e.g. "fy_parse_load_document() failed"): swallow them, the collected errors say more. */
static void swallow_output(struct fy_diag *diag, void *user, const char *buf, size_t len) {
  (void)diag;
  (void)user;
  (void)buf;
  (void)len;
}

static struct fy_diag *quiet_diag(void) {
  struct fy_diag_cfg dc;
  fy_diag_cfg_default(&dc);
  dc.fp = NULL;
  dc.output_fn = swallow_output;
  dc.user = NULL;
  dc.colorize = false;
  struct fy_diag *d = fy_diag_create(&dc);
  if (d) fy_diag_set_collect_errors(d, true);
  return d;
}

/* The first error collected by `d`: 1 and its message and 1-based position, or 0. */
static int first_error(struct fy_diag *d, char *msg, size_t cap, int *line, int *col) {
  void *it = NULL;
  struct fy_diag_error *e;
  while ((e = fy_diag_errors_iterate(d, &it)) != NULL) {
    if (e->type != FYET_ERROR) continue;
    /* "duplicate key" alone does not say which. Only that token's text is asked for: libfyaml
     * 0.7.12 reads a byte past the input when it formats some error tokens at its end (an alias
     * followed by a control character, tests/fuzz/crashers/). */
    int dup = e->msg && strcmp(e->msg, "duplicate key") == 0;
    const char *tok = dup && e->fyt ? fy_token_get_text0(e->fyt) : NULL;
    if (dup && tok && *tok)
      snprintf(msg, cap, "duplicate key '%s': a key may appear only once in a mapping", tok);
    else
      snprintf(msg, cap, "%s", e->msg ? e->msg : "invalid YAML");
    *line = e->line;
    *col = e->column;
    return 1;
  }
  return 0;
}

static qtm_status set_err(const qtm_yaml *y, qtm_status st, const char *fmt, ...) QTM_PRINTF(3, 4);
static qtm_status set_err(const qtm_yaml *y, qtm_status st, const char *fmt, ...) {
  if (y->err && y->errcap) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(y->err, y->errcap, fmt, ap);
    va_end(ap);
  }
  return st;
}

/* The first byte of s[0..len) that is not part of well-formed UTF-8 (RFC 3629: no overlong
 * forms, no surrogates, nothing beyond U+10FFFF), or NULL. libfyaml 0.7.12 loops forever on a
 * malformed sequence in a reserved directive ("% \xbb"), so text is checked before it parses. */
static const char *bad_utf8(const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s, *end = p + len;
  while (p < end) {
    unsigned c = *p;
    size_t n = c < 0x80 ? 1 : c < 0xC2 ? 0 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF5 ? 4 : 0;
    if (n == 0 || (size_t)(end - p) < n) return (const char *)p;
    /* The second byte's range depends on the first (overlongs, surrogates, > U+10FFFF). */
    unsigned lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
    unsigned hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
    for (size_t k = 1; k < n; ++k)
      if (p[k] < (k == 1 ? lo : 0x80) || p[k] > (k == 1 ? hi : 0xBF)) return (const char *)p;
    p += n;
  }
  return NULL;
}

/* libfyaml 0.7.12 crashes while it frees its parser after refusing a tab that follows a key
 * inside an explicit key and comes before an indicator ("? t:\t- x", "? t:\t:x", "? t:\t|";
 * tests/fuzz/crashers/). Such text is refused before libfyaml sees it: in a text with an
 * explicit key ('?' then a blank or the end), ':', blanks holding a tab, then '?', ':', '|',
 * '>', or '-' and a blank or the end. The indicator, or NULL. */
static int blank_at(const char *s, size_t len, size_t k) {
  return k == len || s[k] == ' ' || s[k] == '\t' || s[k] == '\n' || s[k] == '\r';
}

static const char *tab_indicator(const char *s, size_t len) {
  int explicit_key = 0;
  for (size_t i = 0; i < len && !explicit_key; ++i)
    explicit_key = s[i] == '?' && blank_at(s, len, i + 1);
  for (size_t i = 0; i < len && explicit_key; ++i) {
    if (s[i] != ':') continue;
    size_t j = i + 1;
    int tab = 0;
    while (j < len && (s[j] == ' ' || s[j] == '\t')) tab |= s[j++] == '\t';
    if (tab && j < len &&
        (s[j] == '?' || s[j] == ':' || s[j] == '|' || s[j] == '>' ||
         (s[j] == '-' && blank_at(s, len, j + 1))))
      return s + j;
  }
  return NULL;
}

/* 1-based line and column (in characters) of `at` in text. */
static void text_position(const char *text, const char *at, int *line, int *col) {
  *line = *col = 1;
  for (const char *c = text; c < at; ++c) {
    if (*c == '\n')
      ++*line, *col = 1;
    else if (((unsigned char)*c & 0xC0) != 0x80) /* a character, not a continuation byte */
      ++*col;
  }
}

static struct fy_parse_cfg parse_cfg(struct fy_diag *diag) {
  struct fy_parse_cfg pc;
  memset(&pc, 0, sizeof pc);
  /* Duplicate keys stay refused. Aliases are resolved after parsing (resolve_aliases), so that
   * the loader sees plain values. */
  pc.flags = FYPCF_QUIET;
  pc.diag = diag;
  return pc;
}

/* A stack of nodes for walks over a document (nesting may be deep: no recursion). */
typedef struct node_stack {
  struct fy_node **v;
  size_t n, cap;
} node_stack;

/* Pushes the entries of a mapping (keys and values) or a sequence; -1 when out of memory. */
static int push_children(node_stack *st, struct fy_node *node) {
  void *it = NULL;
  for (;;) {
    struct fy_node *kids[2] = {NULL, NULL};
    if (fy_node_get_type(node) == FYNT_MAPPING) {
      struct fy_node_pair *pair = fy_node_mapping_iterate(node, &it);
      if (!pair) return 0;
      kids[0] = fy_node_pair_key(pair);
      kids[1] = fy_node_pair_value(pair);
    } else if (fy_node_get_type(node) == FYNT_SEQUENCE) {
      if (!(kids[0] = fy_node_sequence_iterate(node, &it))) return 0;
    } else {
      return 0;
    }
    if (st->n + 2 > st->cap) {
      size_t cap = st->cap ? 2 * st->cap : 64;
      struct fy_node **v = realloc(st->v, cap * sizeof *v);
      if (!v) return -1;
      st->v = v;
      st->cap = cap;
    }
    for (int k = 0; k < 2; ++k)
      if (kids[k]) st->v[st->n++] = kids[k];
  }
}

/* libfyaml 0.7.12 misreads a single-quoted scalar with two escaped quotes in a row followed by
 * more text ('a''''b' reads as a''' instead of a''b), and with more of them leaks the buffer it
 * formats the text in (tests/fuzz/crashers/): such a scalar, anywhere in the document parsed
 * from text[0..len), is refused before any text is read. 1 and the 1-based position of the
 * first one's text, 0 when there is none, -1 when out of memory. */
static int quote_run(struct fy_node *root, const char *text, size_t len, int *line, int *col) {
  node_stack st = {NULL, 0, 0};
  size_t first = (size_t)-1;
  int rc = 0;
  for (struct fy_node *node = root; node && rc >= 0; node = st.n ? st.v[--st.n] : NULL) {
    if (fy_node_get_type(node) != FYNT_SCALAR) {
      if (push_children(&st, node) != 0) rc = -1;
      continue;
    }
    struct fy_token *t = fy_node_get_scalar_token(node);
    const struct fy_mark *a = t ? fy_token_start_mark(t) : NULL;
    const struct fy_mark *b = t ? fy_token_end_mark(t) : NULL;
    if (fy_node_get_style(node) != FYNS_SINGLE_QUOTED || !a || !b || b->input_pos > len ||
        a->input_pos >= first)
      continue;
    for (size_t i = a->input_pos; i + 4 <= b->input_pos; ++i)
      if (memcmp(text + i, "''''", 4) == 0) {
        first = a->input_pos;
        *line = a->line + 1;
        *col = a->column + 1;
        rc = 1;
        break;
      }
  }
  free(st.v);
  return rc;
}

/* Nodes a document may hold once its aliases are resolved: far beyond any config. Anchors that
 * repeat each other ("billion laughs": 9^9 nodes from 300 bytes) fail here, before libfyaml's
 * resolution would exhaust the memory. */
#define MAX_RESOLVED_NODES 1000000

/* Resolves the aliases and merge keys of doc, after counting what they expand to (a walk that
 * follows aliases and stops at the bound). 0 when done; 1 with libfyaml's message and its
 * 1-based position when it refuses; 2 with a message when the bound is passed; -1 when out of
 * memory. */
static int resolve_aliases(struct fy_document *doc, struct fy_diag *diag, char *msg, size_t cap,
                           int *line, int *col) {
  node_stack st = {NULL, 0, 0};
  size_t count = 0;
  int rc = 0;
  for (struct fy_node *node = fy_document_root(doc); node && rc == 0;
       node = st.n ? st.v[--st.n] : NULL) {
    if (++count > MAX_RESOLVED_NODES) {
      rc = 2;
    } else if (fy_node_get_type(node) == FYNT_SCALAR) {
      struct fy_node *target =
          fy_node_get_style(node) == FYNS_ALIAS ? fy_node_resolve_alias(node) : NULL;
      /* An alias inside its own anchor is a cycle, left for fy_document_resolve to report. */
      for (struct fy_node *up = node; target && up; up = fy_node_get_document_parent(up))
        if (up == target) target = NULL;
      if (target && fy_node_get_type(target) == FYNT_SCALAR) ++count;
      if (target && push_children(&st, target) != 0) rc = -1;
    } else if (push_children(&st, node) != 0) {
      rc = -1;
    }
  }
  free(st.v);
  *line = *col = 1;
  if (rc == 2)
    snprintf(msg, cap,
             "the aliases (*name) expand it to more than %d values; a config is far smaller",
             MAX_RESOLVED_NODES);
  if (rc != 0 || fy_document_resolve(doc) == 0) return rc;
  if (!first_error(diag, msg, cap, line, col)) snprintf(msg, cap, "an alias cannot be resolved");
  return 1;
}

qtm_status qtm_yaml_open(qtm_yaml *y, const char *name, const char *text, size_t len,
                         const char *const *sets, int nsets, char *err, size_t errcap) {
  y->name = name;
  y->sets = sets;
  y->nsets = nsets;
  y->err = err;
  y->errcap = errcap;
  /* libfyaml stops at a NUL byte and would parse a binary file's first bytes as a scalar. */
  const char *nul = memchr(text, '\0', len);
  if (nul) {
    int line = 1, col = 1;
    for (const char *c = text; c < nul; ++c) {
      if (*c == '\n')
        ++line, col = 1;
      else
        ++col;
    }
    return set_err(y, QTM_ERR_INVALID_ARG, "%s:%d:%d: a NUL byte: this is not a YAML text", name,
                   line, col);
  }
  const char *bad = bad_utf8(text, len), *tab = bad ? NULL : tab_indicator(text, len);
  if (bad || tab) {
    int line, col;
    text_position(text, bad ? bad : tab, &line, &col);
    if (bad)
      return set_err(y, QTM_ERR_INVALID_ARG,
                     "%s:%d:%d: a byte 0x%02X that is not UTF-8: a config is UTF-8 text", name,
                     line, col, (unsigned)(unsigned char)*bad);
    return set_err(y, QTM_ERR_INVALID_ARG, "%s:%d:%d: " TAB_INDICATOR_MSG, name, line, col, *tab);
  }
  qtm_status rc = QTM_OK;
  struct fy_document *extra = NULL;
  struct fy_diag *diag = quiet_diag();
  if (!diag) return set_err(y, QTM_ERR_NOMEM, "%s: out of memory", name);
  struct fy_parse_cfg pc = parse_cfg(diag);
  y->parser = fy_parser_create(&pc);
  if (!y->parser) {
    rc = set_err(y, QTM_ERR_NOMEM, "%s: out of memory", name);
    goto cleanup;
  }
  if (fy_parser_set_string(y->parser, text, len) != 0) {
    rc = set_err(y, QTM_ERR_NOMEM, "%s: cannot hand the text to the YAML parser", name);
    goto cleanup;
  }
  char msg[MSG_CAP];
  int line = 1, col = 1;
  y->doc = fy_parse_load_document(y->parser);
  if (!y->doc || !fy_document_root(y->doc)) {
    if (first_error(diag, msg, sizeof msg, &line, &col))
      rc = set_err(y, QTM_ERR_INVALID_ARG, "%s:%d:%d: invalid YAML: %s", name, line, col, msg);
    else
      rc = set_err(
          y, QTM_ERR_INVALID_ARG,
          "%s:1:1: the file holds no YAML document (it is empty or only comments); a config is a "
          "mapping with the keys axes, fixed, observables and output",
          name);
    goto cleanup;
  }
  /* A second document would be silently ignored by a loader that reads only the first. */
  extra = fy_parse_load_document(y->parser);
  if (first_error(diag, msg, sizeof msg, &line, &col)) {
    rc = set_err(y, QTM_ERR_INVALID_ARG, "%s:%d:%d: invalid YAML: %s", name, line, col, msg);
    goto cleanup;
  }
  if (extra) {
    const struct fy_mark *m = fy_document_state_start_mark(fy_document_get_document_state(extra));
    if (fy_document_root(extra)) {
      char where[512];
      qtm_yaml_place(y, fy_document_root(extra), where, sizeof where);
      rc = set_err(y, QTM_ERR_INVALID_ARG,
                   "%s: a second YAML document starts here; a config is one document", where);
    } else {
      rc = set_err(y, QTM_ERR_INVALID_ARG,
                   "%s:%d:%d: a second YAML document starts here; a config is one document", name,
                   m ? m->line + 1 : 1, m ? m->column + 1 : 1);
    }
    goto cleanup;
  }
  int q = resolve_aliases(y->doc, diag, msg, sizeof msg, &line, &col);
  if (q > 0) {
    rc = set_err(y, QTM_ERR_INVALID_ARG, "%s:%d:%d: %s%s", name, line, col,
                 q == 1 ? "invalid YAML: " : "", msg);
    goto cleanup;
  }
  if (q == 0) q = quote_run(fy_document_root(y->doc), text, len, &line, &col);
  if (q < 0)
    rc = set_err(y, QTM_ERR_NOMEM, "%s: out of memory", name);
  else if (q > 0)
    rc = set_err(y, QTM_ERR_INVALID_ARG, "%s:%d:%d: " QUOTE_RUN_MSG, name, line, col);
cleanup:
  if (extra) fy_parse_document_destroy(y->parser, extra);
  fy_diag_destroy(diag);
  return rc;
}

void qtm_yaml_close(qtm_yaml *y) {
  if (!y) return;
  if (y->doc) fy_parse_document_destroy(y->parser, y->doc);
  for (int i = 0; i < y->nset_docs; ++i) fy_document_destroy(y->set_docs[i]);
  free(y->set_docs);
  free(y->origins);
  if (y->parser) fy_parser_destroy(y->parser);
  memset(y, 0, sizeof *y);
}

struct fy_node *qtm_yaml_root(const qtm_yaml *y) {
  return y->doc ? fy_document_root(y->doc) : NULL;
}

/* ---- Origins of override nodes ------------------------------------------------------------- */

/* libfyaml 0.7 does not set the parent of a node attached with fy_node_pair_set_value; the
 * origin record keeps the mapping so that walks up the tree still work. */
static struct fy_node *parent_of(const qtm_yaml *y, struct fy_node *n) {
  struct fy_node *p = fy_node_get_document_parent(n);
  if (p) return p;
  for (int i = 0; i < y->norigins; ++i)
    if (y->origins[i].value == n) return y->origins[i].map;
  return NULL;
}

static int is_within(const qtm_yaml *y, struct fy_node *n, struct fy_node *top) {
  for (int depth = 0; n && depth < 1024; n = parent_of(y, n), ++depth)
    if (n == top) return 1;
  return 0;
}

/* The override that brought node n (or one of its ancestors), or -1 for a node of the file. */
static int origin_of(const qtm_yaml *y, struct fy_node *n) {
  for (int depth = 0; n && depth < 1024; n = parent_of(y, n), ++depth)
    for (int i = y->norigins - 1; i >= 0; --i)
      if (y->origins[i].key == n || y->origins[i].value == n) return y->origins[i].set;
  return -1;
}

static int add_origin(qtm_yaml *y, struct fy_node *map, struct fy_node *key, struct fy_node *value,
                      int set) {
  if (y->norigins == y->origins_cap) {
    int cap = y->origins_cap ? 2 * y->origins_cap : 8;
    qtm_yaml_origin *o = realloc(y->origins, (size_t)cap * sizeof *o);
    if (!o) return -1;
    y->origins = o;
    y->origins_cap = cap;
  }
  qtm_yaml_origin *o = &y->origins[y->norigins++];
  o->map = map;
  o->key = key;
  o->value = value;
  o->set = set;
  return 0;
}

/* Forgets the records of nodes inside `old`, which is about to be freed, so that a later node
 * allocated at the same address is not mistaken for one of them. */
static void drop_origins_within(qtm_yaml *y, struct fy_node *old) {
  int k = 0;
  for (int i = 0; i < y->norigins; ++i) {
    qtm_yaml_origin o = y->origins[i];
    if (is_within(y, o.value, old) || is_within(y, o.key, old)) continue;
    y->origins[k++] = o;
  }
  y->norigins = k;
}

/* ---- Positions and messages ---------------------------------------------------------------- */

/* libfyaml 0.7 has no public accessor of a node's start mark, but its node reports carry it:
 * report into a private collector and read the position back. */
static int node_position(struct fy_node *n, int *line, int *col) {
  struct fy_diag *d = quiet_diag();
  if (!d) return 0;
  fy_diag_node_report(d, n, FYET_ERROR, "%s", "position");
  void *it = NULL;
  struct fy_diag_error *e = fy_diag_errors_iterate(d, &it);
  int found = 0;
  if (e && e->line >= 1 && e->column >= 1) {
    *line = e->line;
    *col = e->column;
    found = 1;
  }
  fy_diag_destroy(d);
  return found;
}

/* The key of the pair whose value is n, when n sits in a mapping. */
static struct fy_node *key_of(const qtm_yaml *y, struct fy_node *n) {
  struct fy_node *map = parent_of(y, n);
  if (!qtm_yaml_is_mapping(map)) return NULL;
  void *it = NULL;
  struct fy_node_pair *p;
  while ((p = fy_node_mapping_iterate(map, &it)) != NULL)
    if (fy_node_pair_value(p) == n) return fy_node_pair_key(p);
  return NULL;
}

/* Whether n is, or is above, a mapping that an override changed. libfyaml then reports n at a
 * re-emitted copy of its text that has no file name, and its error collector calls strlen on
 * that NULL name (libfyaml 0.7.12; tests/fuzz/crashers/). */
static int holds_override(const qtm_yaml *y, struct fy_node *n) {
  for (int i = 0; i < y->norigins; ++i)
    if (is_within(y, y->origins[i].map, n)) return 1;
  return 0;
}

/* A node's position in the file; one that holds an override is placed at its first entry from
 * the file (for a block mapping, where the mapping itself starts). */
static int position_of(const qtm_yaml *y, struct fy_node *n, int *line, int *col) {
  for (int depth = 0; n && depth < 1024; ++depth) {
    if (!holds_override(y, n)) return node_position(n, line, col);
    struct fy_node *first = NULL;
    void *it = NULL;
    if (qtm_yaml_is_mapping(n)) {
      struct fy_node_pair *p;
      while (!first && (p = fy_node_mapping_iterate(n, &it)) != NULL)
        if (origin_of(y, fy_node_pair_key(p)) < 0) first = fy_node_pair_key(p);
    } else if (qtm_yaml_is_sequence(n)) {
      first = fy_node_sequence_iterate(n, &it);
    }
    n = first;
  }
  return 0;
}

void qtm_yaml_place(const qtm_yaml *y, struct fy_node *n, char *buf, size_t cap) {
  if (!n) n = qtm_yaml_root(y);
  int set = n ? origin_of(y, n) : -1;
  int line = 1, col = 1;
  if (set >= 0) {
    snprintf(buf, cap, "--set %s", y->sets[set]);
    return;
  }
  /* An empty value ("TR:") has no token and so no position: use its key's, else climb. */
  for (int depth = 0; n && depth < 1024; ++depth) {
    if (position_of(y, n, &line, &col)) break;
    struct fy_node *k = key_of(y, n);
    if (k && position_of(y, k, &line, &col)) break;
    n = parent_of(y, n);
  }
  snprintf(buf, cap, "%s:%d:%d", y->name, line, col);
}

qtm_status qtm_yaml_fail(const qtm_yaml *y, struct fy_node *at, const char *fmt, ...) {
  char where[512], msg[MSG_CAP];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  qtm_yaml_place(y, at, where, sizeof where);
  return set_err(y, QTM_ERR_INVALID_ARG, "%s: %s", where, msg);
}

static int is_null_text(const char *s) {
  return !*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
         strcmp(s, "NULL") == 0;
}

static int is_quoted(struct fy_node *n) {
  enum fy_node_style st = fy_node_get_style(n);
  return st == FYNS_SINGLE_QUOTED || st == FYNS_DOUBLE_QUOTED || st == FYNS_LITERAL ||
         st == FYNS_FOLDED;
}

int qtm_yaml_is_mapping(struct fy_node *n) { return n && fy_node_get_type(n) == FYNT_MAPPING; }
int qtm_yaml_is_sequence(struct fy_node *n) { return n && fy_node_get_type(n) == FYNT_SEQUENCE; }

const char *qtm_yaml_scalar(struct fy_node *n) {
  if (!n || fy_node_get_type(n) != FYNT_SCALAR) return NULL;
  const char *s = fy_node_get_scalar0(n);
  if (!s || (!is_quoted(n) && is_null_text(s))) return NULL;
  return s;
}

const char *qtm_yaml_text(struct fy_node *n) {
  const char *s = n && fy_node_get_type(n) == FYNT_SCALAR ? fy_node_get_scalar0(n) : NULL;
  return s ? s : "?";
}

void qtm_yaml_describe(struct fy_node *n, char *buf, size_t cap) {
  if (!n) {
    snprintf(buf, cap, "nothing (null)");
    return;
  }
  switch (fy_node_get_type(n)) {
  case FYNT_MAPPING: snprintf(buf, cap, "a mapping"); return;
  case FYNT_SEQUENCE: snprintf(buf, cap, "a list"); return;
  case FYNT_SCALAR: break;
  }
  const char *s = fy_node_get_scalar0(n);
  if (!s) s = "";
  if (is_quoted(n))
    snprintf(buf, cap, "the string \"%.80s\"", s);
  else if (is_null_text(s))
    snprintf(buf, cap, "nothing (null)");
  else
    snprintf(buf, cap, "%.80s", s);
}

/* ---- Typed scalars ------------------------------------------------------------------------- */

/* YAML's .inf and .nan spellings (core schema): not finite, rejected with their own message. */
static int is_yaml_nonfinite(const char *s) {
  if (*s == '+' || *s == '-') ++s;
  static const char *const words[] = {".inf", ".Inf", ".INF", ".nan", ".NaN", ".NAN"};
  for (size_t i = 0; i < sizeof words / sizeof *words; ++i)
    if (strcmp(s, words[i]) == 0) return 1;
  return 0;
}

/* A decimal number: [+-] (digits [. digits] | . digits) [e [+-] digits]. Stricter than strtod,
 * which would also take "inf", "nan", hexadecimal and leading blanks. */
static int is_decimal(const char *s) {
  const char *p = s;
  if (*p == '+' || *p == '-') ++p;
  int digits = 0;
  while (*p >= '0' && *p <= '9') ++p, ++digits;
  if (*p == '.') {
    ++p;
    while (*p >= '0' && *p <= '9') ++p, ++digits;
  }
  if (!digits) return 0;
  if (*p == 'e' || *p == 'E') {
    ++p;
    if (*p == '+' || *p == '-') ++p;
    if (!(*p >= '0' && *p <= '9')) return 0;
    while (*p >= '0' && *p <= '9') ++p;
  }
  return *p == '\0';
}

static int tag_is_numeric(struct fy_node *n) {
  size_t len = 0;
  const char *tag = fy_node_get_tag(n, &len);
  if (!tag) return 1;
  static const char *const ok[] = {"!!float", "!!int", "tag:yaml.org,2002:float",
                                   "tag:yaml.org,2002:int"};
  for (size_t i = 0; i < sizeof ok / sizeof *ok; ++i)
    if (strlen(ok[i]) == len && strncmp(tag, ok[i], len) == 0) return 1;
  return 0;
}

static qtm_status number_of(const qtm_yaml *y, struct fy_node *n, const char *what,
                            const char *kind, double *out) {
  char found[128];
  qtm_yaml_describe(n, found, sizeof found);
  if (!n || fy_node_get_type(n) != FYNT_SCALAR)
    return qtm_yaml_fail(y, n, "%s must be %s, found %s", what, kind, found);
  if (is_quoted(n))
    return qtm_yaml_fail(y, n,
                         "%s must be %s, found %s (quoted values are strings: write numbers "
                         "without quotes)",
                         what, kind, found);
  if (!tag_is_numeric(n))
    return qtm_yaml_fail(y, n, "%s must be %s, found a value tagged as something else (%s)", what,
                         kind, found);
  const char *s = fy_node_get_scalar0(n);
  if (!s) return qtm_yaml_fail(y, n, "%s must be %s, found %s", what, kind, found);
  if (is_yaml_nonfinite(s))
    return qtm_yaml_fail(y, n, "%s must be a finite number, found %s", what, s);
  if (!is_decimal(s)) return qtm_yaml_fail(y, n, "%s must be %s, found %s", what, kind, found);
  errno = 0;
  char *end = NULL;
  double v = strtod(s, &end);
  /* The grammar check leaves only the decimal point for strtod to disagree on (a locale with
   * a decimal comma). */
  if (!end || *end != '\0')
    return qtm_yaml_fail(y, n, "%s must be %s, found %s", what, kind, found);
  if (!isfinite(v))
    return qtm_yaml_fail(y, n, "%s must be a finite number, found %s (beyond double range)", what,
                         s);
  *out = v;
  return QTM_OK;
}

qtm_status qtm_yaml_number(const qtm_yaml *y, struct fy_node *n, const char *what, double *out) {
  return number_of(y, n, what, "a number", out);
}

qtm_status qtm_yaml_integer(const qtm_yaml *y, struct fy_node *n, const char *what, int64_t lo,
                            int64_t hi, int64_t *out) {
  double v = 0;
  qtm_status rc = number_of(y, n, what, "an integer", &v);
  if (rc != QTM_OK) return rc;
  const char *s = qtm_yaml_text(n);
  /* 2^53: every integer up to it is exact in a double, which is where the text was read. */
  if (v != floor(v) || fabs(v) > 9007199254740992.0)
    return qtm_yaml_fail(y, n, "%s must be an integer, found %s", what, s);
  int64_t i = (int64_t)v;
  if (i < lo || i > hi) {
    if (hi == INT64_MAX)
      return qtm_yaml_fail(y, n, "%s must be an integer >= %lld, found %s", what, (long long)lo, s);
    return qtm_yaml_fail(y, n, "%s must be an integer from %lld to %lld, found %s", what,
                         (long long)lo, (long long)hi, s);
  }
  *out = i;
  return QTM_OK;
}

qtm_status qtm_yaml_string(const qtm_yaml *y, struct fy_node *n, const char *what,
                           const char **out) {
  const char *s = qtm_yaml_scalar(n);
  if (!s) {
    char found[128];
    qtm_yaml_describe(n, found, sizeof found);
    return qtm_yaml_fail(y, n, "%s must be a string, found %s", what, found);
  }
  *out = s;
  return QTM_OK;
}

/* ---- Mappings ------------------------------------------------------------------------------ */

static struct fy_node_pair *find_pair(struct fy_node *map, const char *key) {
  if (!qtm_yaml_is_mapping(map)) return NULL;
  void *it = NULL;
  struct fy_node_pair *p;
  while ((p = fy_node_mapping_iterate(map, &it)) != NULL) {
    const char *k = qtm_yaml_scalar(fy_node_pair_key(p));
    if (k && strcmp(k, key) == 0) return p;
  }
  return NULL;
}

struct fy_node *qtm_yaml_get(struct fy_node *map, const char *key) {
  struct fy_node_pair *p = find_pair(map, key);
  return p ? fy_node_pair_value(p) : NULL;
}

struct fy_node *qtm_yaml_get_key(struct fy_node *map, const char *key) {
  struct fy_node_pair *p = find_pair(map, key);
  return p ? fy_node_pair_key(p) : NULL;
}

static void join_names(const char *const *names, int n, char *buf, size_t cap) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < n && used < cap; ++i) {
    int w = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", names[i]);
    if (w < 0) break;
    used += (size_t)w;
  }
}

qtm_status qtm_yaml_check_keys(const qtm_yaml *y, struct fy_node *map, const char *what,
                               const char *const *valid, int nvalid) {
  void *it = NULL;
  struct fy_node_pair *p;
  while ((p = fy_node_mapping_iterate(map, &it)) != NULL) {
    struct fy_node *kn = fy_node_pair_key(p);
    const char *k = qtm_yaml_scalar(kn);
    char list[512];
    join_names(valid, nvalid, list, sizeof list);
    if (!k) {
      char found[128];
      qtm_yaml_describe(kn, found, sizeof found);
      return qtm_yaml_fail(y, kn ? kn : map, "the keys of %s must be names (%s), found %s", what,
                           list, found);
    }
    int known = 0;
    for (int i = 0; i < nvalid && !known; ++i) known = strcmp(k, valid[i]) == 0;
    if (!known)
      return qtm_yaml_fail(y, kn, "unknown key '%s' in %s; valid keys: %s", k, what, list);
  }
  return QTM_OK;
}

/* ---- --set overrides ----------------------------------------------------------------------- */

static qtm_status set_fail(const qtm_yaml *y, int i, const char *fmt, ...) QTM_PRINTF(3, 4);
static qtm_status set_fail(const qtm_yaml *y, int i, const char *fmt, ...) {
  char msg[MSG_CAP];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return set_err(y, QTM_ERR_INVALID_ARG, "--set %s: %s", y->sets[i], msg);
}

/* Parses an override's VALUE into a document of its own (kept until close: the copies grafted
 * onto the config share its tokens). */
static qtm_status parse_value(qtm_yaml *y, int i, const char *value, struct fy_node **root) {
  const char *bad = bad_utf8(value, strlen(value));
  if (bad)
    return set_fail(y, i, "a byte 0x%02X that is not UTF-8 (byte %d of the value)",
                    (unsigned)(unsigned char)*bad, (int)(bad - value) + 1);
  const char *tab = tab_indicator(value, strlen(value));
  if (tab)
    return set_fail(y, i, TAB_INDICATOR_MSG " (byte %d of the value)", *tab,
                    (int)(tab - value) + 1);
  qtm_status rc = QTM_OK;
  struct fy_document *vd = NULL;
  struct fy_diag *diag = quiet_diag();
  if (!diag) return set_err(y, QTM_ERR_NOMEM, "--set %s: out of memory", y->sets[i]);
  struct fy_parse_cfg pc = parse_cfg(diag);
  vd = fy_document_build_from_string(&pc, value, strlen(value));
  char msg[MSG_CAP];
  int line = 1, col = 1;
  if (first_error(diag, msg, sizeof msg, &line, &col)) {
    /* libfyaml places errors found at the end of the text on the line after it */
    if (line == 1)
      rc = set_fail(y, i, "the value is not valid YAML: %s (column %d of the value)", msg, col);
    else if (!strchr(value, '\n'))
      rc = set_fail(y, i, "the value is not valid YAML: %s (at the end of the value)", msg);
    else
      rc = set_fail(y, i, "the value is not valid YAML: %s (line %d, column %d of the value)", msg,
                    line, col);
    goto cleanup;
  }
  if (!vd || !fy_document_root(vd)) {
    rc = set_fail(y, i, "the value is empty; write KEY=VALUE with a YAML value");
    goto cleanup;
  }
  int q = resolve_aliases(vd, diag, msg, sizeof msg, &line, &col);
  if (q == 2)
    rc = set_fail(y, i, "%s", msg);
  else if (q == 1 && line == 1)
    rc = set_fail(y, i, "the value is not valid YAML: %s (column %d of the value)", msg, col);
  else if (q == 1)
    rc = set_fail(y, i, "the value is not valid YAML: %s (line %d, column %d of the value)", msg,
                  line, col);
  if (q > 0) goto cleanup;
  if (q == 0) q = quote_run(fy_document_root(vd), value, strlen(value), &line, &col);
  if (q != 0) {
    if (q < 0)
      rc = set_err(y, QTM_ERR_NOMEM, "--set %s: out of memory", y->sets[i]);
    else if (line == 1)
      rc = set_fail(y, i, QUOTE_RUN_MSG " (column %d of the value)", col);
    else
      rc = set_fail(y, i, QUOTE_RUN_MSG " (line %d, column %d of the value)", line, col);
    goto cleanup;
  }
  struct fy_document **docs = realloc(y->set_docs, (size_t)(y->nset_docs + 1) * sizeof *docs);
  if (!docs) {
    rc = set_err(y, QTM_ERR_NOMEM, "--set %s: out of memory", y->sets[i]);
    goto cleanup;
  }
  y->set_docs = docs;
  y->set_docs[y->nset_docs++] = vd;
  *root = fy_document_root(vd);
  vd = NULL;
cleanup:
  if (vd) fy_document_destroy(vd);
  fy_diag_destroy(diag);
  return rc;
}

qtm_status qtm_yaml_apply_set(qtm_yaml *y, int i) {
  const char *s = y->sets[i];
  const char *eq = strchr(s, '=');
  if (!eq) return set_fail(y, i, "expected KEY=VALUE, e.g. --set fixed.TR=0.1");
  size_t keylen = (size_t)(eq - s);
  const char *value = eq + 1;
  /* Dot path of mapping keys: no empty segment, no blanks (a typo, never a key of ours). */
  int ok = keylen > 0 && s[0] != '.' && s[keylen - 1] != '.';
  for (size_t k = 0; k < keylen && ok; ++k)
    ok = !(s[k] == ' ' || s[k] == '\t' || (s[k] == '.' && s[k + 1] == '.'));
  if (!ok)
    return set_fail(y, i,
                    "KEY must be a dot path of names such as fixed.TR or output.path, then '=' "
                    "and the value");
  while (*value == ' ') ++value;
  if (!*value) return set_fail(y, i, "the value is empty; write KEY=VALUE with a YAML value");

  struct fy_node *vroot = NULL;
  qtm_status rc = parse_value(y, i, value, &vroot);
  if (rc != QTM_OK) return rc;

  struct fy_node *map = qtm_yaml_root(y);
  char path[256];
  snprintf(path, sizeof path, "the config");
  const char *seg = s;
  for (;;) {
    const char *dot = memchr(seg, '.', (size_t)(eq - seg));
    size_t seglen = (size_t)((dot ? dot : eq) - seg);
    char name[128];
    if (seglen >= sizeof name)
      return set_fail(y, i, "the key '%.*s' is too long", (int)seglen, seg);
    memcpy(name, seg, seglen);
    name[seglen] = '\0';
    if (!qtm_yaml_is_mapping(map)) {
      char found[128];
      qtm_yaml_describe(map, found, sizeof found);
      return set_fail(y, i, "%s is not a mapping (it holds %s), so it has no key '%s'", path, found,
                      name);
    }
    struct fy_node_pair *pair = find_pair(map, name);
    if (dot && pair) { /* descend into an existing entry */
      map = fy_node_pair_value(pair);
      snprintf(path, sizeof path, "%.*s", (int)(dot - s), s);
      seg = dot + 1;
      continue;
    }
    /* A missing intermediate mapping is created, as the last key is added when missing. */
    struct fy_node *key_node = NULL;
    struct fy_node *value_node = dot ? fy_node_create_mapping(y->doc) : fy_node_copy(y->doc, vroot);
    if (!value_node) return set_err(y, QTM_ERR_NOMEM, "--set %s: out of memory", s);
    if (pair) {
      drop_origins_within(y, fy_node_pair_value(pair));
      if (fy_node_pair_set_value(pair, value_node) != 0) {
        fy_node_free(value_node);
        return set_fail(y, i, "libfyaml refused to replace the value of '%s'", name);
      }
      key_node = fy_node_pair_key(pair);
    } else {
      key_node = fy_node_create_scalar_copy(y->doc, name, seglen);
      if (!key_node || fy_node_mapping_append(map, key_node, value_node) != 0) {
        if (key_node) fy_node_free(key_node);
        fy_node_free(value_node);
        return set_fail(y, i, "libfyaml refused to add the key '%s'", name);
      }
    }
    if (add_origin(y, map, key_node, value_node, i) != 0)
      return set_err(y, QTM_ERR_NOMEM, "--set %s: out of memory", s);
    if (!dot) return QTM_OK;
    map = value_node;
    snprintf(path, sizeof path, "%.*s", (int)(dot - s), s);
    seg = dot + 1;
  }
}

char *qtm_yaml_emit(qtm_yaml *y) {
  char *text = fy_emit_document_to_string(
      y->doc, (enum fy_emitter_cfg_flags)(FYECF_MODE_BLOCK | FYECF_INDENT_2 | FYECF_WIDTH_INF));
  return text;
}
