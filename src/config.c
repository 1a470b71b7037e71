/* The scan config: the schema of the YAML file (title, axes, fixed, observables, output,
 * analysis), --set overrides, and the public entry points. The axes are parsed in config_axes.c,
 * the cross-checks (parameters given once, physics at the corners, where observables apply) are in
 * config_checks.c, and the YAML plumbing (positions, typed scalars, overrides) in
 * config_yaml.c; docs/config.md is the user's reference. */
#include "qtm/config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"
#include "qtm/params.h"

static char *dup_text(const char *s, size_t len) {
  char *d = malloc(len + 1);
  if (!d) return NULL;
  memcpy(d, s, len);
  d[len] = '\0';
  return d;
}

void qtm_cfg_fmt_num(double v, char *buf, size_t cap) {
  snprintf(buf, cap, "%.15g", v);
  if (strtod(buf, NULL) != v) snprintf(buf, cap, "%.17g", v);
}

void qtm_cfg_set_param(qtm_params *p, int id, double v) {
  if (id != QTM_PARAM_N) qtm_param_set(p, id, v); /* N is an int, set by the caller */
}

static int param_find(const char *name) {
  for (int p = 0; p < QTM_PARAM_COUNT; ++p)
    if (strcmp(qtm_param_table[p].name, name) == 0) return p;
  return -1;
}

/* ---- fixed parameters ---------------------------------------------------------------------- */

static qtm_status parse_fixed(qtm_cfg_loader *L, struct fy_node *fixed) {
  char found[128], list[256];
  if (!qtm_yaml_is_mapping(fixed)) {
    qtm_yaml_describe(fixed, found, sizeof found);
    return qtm_yaml_fail(&L->y, fixed,
                         "fixed must be a mapping of parameter values such as "
                         "{omega: 1.0, TR: 0.0}, found %s",
                         found);
  }
  L->fixed_map = fixed;
  void *it = NULL;
  struct fy_node_pair *pair;
  while ((pair = fy_node_mapping_iterate(fixed, &it)) != NULL) {
    struct fy_node *key = fy_node_pair_key(pair), *value = fy_node_pair_value(pair);
    const char *name = qtm_yaml_scalar(key);
    int p = name ? param_find(name) : -1;
    if (p < 0) {
      size_t used = 0;
      list[0] = '\0';
      for (int q = 0; q < QTM_PARAM_COUNT; ++q)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", q ? ", " : "",
                                 qtm_param_table[q].name);
      if (name && qtm_axis_find(name) >= 0)
        return qtm_yaml_fail(&L->y, key,
                             "%s can only be an axis, not fixed: fix the parameters it stands "
                             "for instead (T: TL and TR; DeltaT: TL; gamma_ratio: gammaL)",
                             name);
      qtm_yaml_describe(key, found, sizeof found);
      return qtm_yaml_fail(&L->y, key, "unknown parameter '%s' in fixed; valid parameters: %s",
                           name ? name : found, list);
    }
    char what[32];
    snprintf(what, sizeof what, "fixed.%s", name);
    qtm_status rc;
    if (p == QTM_PARAM_N) {
      int64_t n = 0;
      rc = qtm_yaml_integer(&L->y, value, what, -(int64_t)INT_MAX, INT_MAX, &n);
      if (rc == QTM_OK) L->fixed.N = (int)n;
    } else {
      double v = 0;
      rc = qtm_yaml_number(&L->y, value, what, &v);
      if (rc == QTM_OK) qtm_cfg_set_param(&L->fixed, p, v);
    }
    if (rc != QTM_OK) return rc;
    L->fixed_key[p] = key;
    L->fixed_value[p] = value;
  }
  return QTM_OK;
}

/* ---- output -------------------------------------------------------------------------------- */

static qtm_status parse_output(qtm_cfg_loader *L, struct fy_node *out, qtm_config *cfg) {
  static const char *const keys[] = {"path", "dtype", "compression", "tile_points"};
  char found[128];
  qtm_status rc;
  if (!qtm_yaml_is_mapping(out)) {
    qtm_yaml_describe(out, found, sizeof found);
    return qtm_yaml_fail(
        &L->y, out, "output must be a mapping such as {path: results/scan.h5}, found %s", found);
  }
  rc = qtm_yaml_check_keys(&L->y, out, "output", keys, (int)(sizeof keys / sizeof *keys));
  if (rc != QTM_OK) return rc;
  struct fy_node *n = qtm_yaml_get(out, "path");
  const char *s = NULL;
  if (!qtm_yaml_get_key(out, "path"))
    return qtm_yaml_fail(&L->y, out, "output.path is missing: name the HDF5 file to write");
  if ((rc = qtm_yaml_string(&L->y, n, "output.path", &s)) != QTM_OK) return rc;
  if (!*s) return qtm_yaml_fail(&L->y, n, "output.path is empty: name the HDF5 file to write");
  if (!(cfg->output_path = dup_text(s, strlen(s)))) return qtm_yaml_fail(&L->y, n, "out of memory");

  cfg->dtype = QTM_DTYPE_F32;
  if (qtm_yaml_get_key(out, "dtype")) {
    n = qtm_yaml_get(out, "dtype");
    if ((rc = qtm_yaml_string(&L->y, n, "output.dtype", &s)) != QTM_OK) return rc;
    if (strcmp(s, "float32") == 0)
      cfg->dtype = QTM_DTYPE_F32;
    else if (strcmp(s, "float64") == 0)
      cfg->dtype = QTM_DTYPE_F64;
    else
      return qtm_yaml_fail(&L->y, n, "output.dtype must be float32 or float64, found %s", s);
  }
  cfg->gzip_level = 0;
  if (qtm_yaml_get_key(out, "compression")) {
    n = qtm_yaml_get(out, "compression");
    if ((rc = qtm_yaml_string(&L->y, n, "output.compression", &s)) != QTM_OK) return rc;
    if (strncmp(s, "gzip-", 5) == 0 && s[5] >= '1' && s[5] <= '9' && s[6] == '\0')
      cfg->gzip_level = s[5] - '0';
    else if (strcmp(s, "none") != 0)
      return qtm_yaml_fail(&L->y, n,
                           "output.compression must be none or gzip-1 ... gzip-9 (gzip with "
                           "shuffle), found %s",
                           s);
  }
  cfg->tile_points = QTM_DEFAULT_TILE_POINTS;
  if (qtm_yaml_get_key(out, "tile_points")) {
    n = qtm_yaml_get(out, "tile_points");
    if ((rc = qtm_yaml_integer(&L->y, n, "output.tile_points", 1, INT64_MAX, &cfg->tile_points)) !=
        QTM_OK)
      return rc;
  }
  return QTM_OK;
}

/* ---- analysis ------------------------------------------------------------------------------ */

/* Rows of a top-K table: far beyond any use, and a typo such as extra zeros fails here rather
 * than as an output table of millions of rows. */
#define QTM_CFG_MAX_TOP_K 100000

/* The scan's axes for messages: "TL, g", or a note that there are none. */
static void list_scan_axes(const qtm_cfg_loader *L, char *buf, size_t cap) {
  size_t used = 0;
  buf[0] = '\0';
  if (L->naxes == 0) snprintf(buf, cap, "none (axes: [])");
  for (int k = 0; k < L->naxes && used < cap; ++k) {
    int w = snprintf(buf + used, cap - used, "%s%s", k ? ", " : "", qtm_axis_name(L->axes[k].id));
    if (w < 0) break;
    used += (size_t)w;
  }
}

static qtm_status parse_optimize(qtm_cfg_loader *L, struct fy_node *list, qtm_analysis_spec *spec) {
  char found[128], axes[256];
  if (!qtm_yaml_is_sequence(list)) {
    qtm_yaml_describe(list, found, sizeof found);
    return qtm_yaml_fail(&L->y, list,
                         "analysis.optimize must be a list of axis names such as [TL, TR] ([] for "
                         "no maxima maps), found %s",
                         found);
  }
  struct fy_node *seen[QTM_MAX_AXES] = {NULL};
  void *it = NULL;
  struct fy_node *item;
  while ((item = fy_node_sequence_iterate(list, &it)) != NULL) {
    const char *name = NULL;
    qtm_status rc = qtm_yaml_string(&L->y, item, "each entry of analysis.optimize", &name);
    if (rc != QTM_OK) return rc;
    int k = 0;
    while (k < L->naxes && strcmp(qtm_axis_name(L->axes[k].id), name) != 0) ++k;
    if (k == L->naxes) {
      list_scan_axes(L, axes, sizeof axes);
      return qtm_yaml_fail(&L->y, item,
                           "analysis.optimize: '%s' is not an axis of this scan; the scan's axes "
                           "are %s",
                           name, axes);
    }
    if (seen[k]) {
      char there[512];
      qtm_yaml_place(&L->y, seen[k], there, sizeof there);
      return qtm_yaml_fail(&L->y, item, "analysis.optimize: axis %s is listed twice (first at %s)",
                           name, there);
    }
    seen[k] = item;
  }
  /* Positions in the grid's axis list, ascending whatever the order written. */
  spec->noptimize = 0;
  for (int k = 0; k < L->naxes; ++k)
    if (seen[k]) spec->optimize[spec->noptimize++] = k;
  return QTM_OK;
}

/* YAML 1.2 core-schema booleans only (true/True/TRUE, false/False/FALSE): the YAML 1.1 words
 * (yes, no, on, off, y, n) are refused, since readers of the stored config differ on them. */
static qtm_status parse_bool(const qtm_yaml *y, struct fy_node *n, const char *what, int *out) {
  static const char *const words[] = {"false", "False", "FALSE", "true", "True", "TRUE"};
  static const char *const tags[] = {"!!bool", "tag:yaml.org,2002:bool"};
  static const char *const yaml11[] = {"yes", "Yes", "YES", "no",  "No", "NO", "on", "On",
                                       "ON",  "off", "Off", "OFF", "y",  "Y",  "n",  "N"};
  char found[128];
  qtm_yaml_describe(n, found, sizeof found);
  const char *s = qtm_yaml_scalar(n);
  if (!s) return qtm_yaml_fail(y, n, "%s must be true or false, found %s", what, found);
  enum fy_node_style st = fy_node_get_style(n);
  if (st != FYNS_PLAIN && st != FYNS_ANY)
    return qtm_yaml_fail(y, n,
                         "%s must be true or false, found %s (quoted values are strings: write "
                         "true or false without quotes)",
                         what, found);
  size_t len = 0;
  const char *tag = fy_node_get_tag(n, &len);
  int tag_ok = !tag;
  for (size_t i = 0; i < sizeof tags / sizeof *tags && !tag_ok; ++i)
    tag_ok = strlen(tags[i]) == len && strncmp(tag, tags[i], len) == 0;
  if (!tag_ok)
    return qtm_yaml_fail(
        y, n, "%s must be true or false, found a value tagged as something else (%s)", what, found);
  for (size_t i = 0; i < sizeof words / sizeof *words; ++i)
    if (strcmp(s, words[i]) == 0) {
      *out = i >= 3;
      return QTM_OK;
    }
  for (size_t i = 0; i < sizeof yaml11 / sizeof *yaml11; ++i)
    if (strcmp(s, yaml11[i]) == 0)
      return qtm_yaml_fail(y, n,
                           "%s must be true or false, found %s (YAML 1.1 spellings such as "
                           "yes/no/on/off are not booleans here)",
                           what, found);
  return qtm_yaml_fail(y, n, "%s must be true or false, found %s", what, found);
}

static qtm_status parse_analysis(qtm_cfg_loader *L, struct fy_node *sec, qtm_config *cfg) {
  static const char *const keys[] = {"optimize", "top_k", "min_current", "refine", "point_maps"};
  qtm_analysis_spec *spec = &cfg->analysis;
  char found[128];
  qtm_status rc;
  if (!qtm_yaml_is_mapping(sec)) {
    qtm_yaml_describe(sec, found, sizeof found);
    return qtm_yaml_fail(&L->y, sec,
                         "analysis must be a mapping such as {optimize: [TL, TR], top_k: 10} ({} "
                         "for the defaults), found %s",
                         found);
  }
  rc = qtm_yaml_check_keys(&L->y, sec, "analysis", keys, (int)(sizeof keys / sizeof *keys));
  if (rc != QTM_OK) return rc;
  memset(spec, 0, sizeof *spec);
  spec->enabled = 1;
  spec->top_k = 10;
  spec->min_current = 0.0;
  spec->refine = 0;
  struct fy_node *n;
  if (qtm_yaml_get_key(sec, "optimize") &&
      (rc = parse_optimize(L, qtm_yaml_get(sec, "optimize"), spec)) != QTM_OK)
    return rc;
  if (qtm_yaml_get_key(sec, "top_k")) {
    int64_t k = 0;
    n = qtm_yaml_get(sec, "top_k");
    if ((rc = qtm_yaml_integer(&L->y, n, "analysis.top_k", 0, QTM_CFG_MAX_TOP_K, &k)) != QTM_OK)
      return rc;
    spec->top_k = (int)k;
  }
  if (qtm_yaml_get_key(sec, "min_current")) {
    n = qtm_yaml_get(sec, "min_current");
    if ((rc = qtm_yaml_number(&L->y, n, "analysis.min_current", &spec->min_current)) != QTM_OK)
      return rc;
    if (!(spec->min_current >= 0))
      return qtm_yaml_fail(&L->y, n,
                           "analysis.min_current must be >= 0 (a bound on |J| in the favoured "
                           "direction), found %s",
                           qtm_yaml_text(n));
  }
  if (qtm_yaml_get_key(sec, "refine") &&
      (rc = parse_bool(&L->y, qtm_yaml_get(sec, "refine"), "analysis.refine", &spec->refine)) !=
          QTM_OK)
    return rc;
  if (qtm_yaml_get_key(sec, "point_maps")) {
    int keep = 1;
    rc = parse_bool(&L->y, qtm_yaml_get(sec, "point_maps"), "analysis.point_maps", &keep);
    if (rc != QTM_OK) return rc;
    spec->no_point_maps = !keep;
  }
  return QTM_OK;
}

/* ---- the whole config ---------------------------------------------------------------------- */

static qtm_status load(qtm_cfg_loader *L, const char *name, const char *text, size_t len,
                       const char *const *sets, int nsets, qtm_config *cfg) {
  static const char *const top_keys[] = {"title",       "axes",   "fixed",
                                         "observables", "output", "analysis"};
  static const char *const required[] = {"axes", "observables", "output"};
  char found[128];
  qtm_status rc = qtm_yaml_open(&L->y, name, text, len, sets, nsets, L->y.err, L->y.errcap);
  if (rc != QTM_OK) return rc;
  L->root = qtm_yaml_root(&L->y);
  if (!qtm_yaml_is_mapping(L->root)) {
    qtm_yaml_describe(L->root, found, sizeof found);
    char scalar[160];
    if (qtm_yaml_scalar(L->root) && fy_node_get_style(L->root) == FYNS_PLAIN) {
      snprintf(scalar, sizeof scalar, "the scalar '%s'", found);
    } else {
      snprintf(scalar, sizeof scalar, "%s", found);
    }
    return qtm_yaml_fail(&L->y, L->root,
                         "a config must be a mapping with the keys title, axes, fixed, "
                         "observables, output and analysis; found %s",
                         scalar);
  }
  for (int i = 0; i < nsets; ++i)
    if ((rc = qtm_yaml_apply_set(&L->y, i)) != QTM_OK) return rc;
  rc = qtm_yaml_check_keys(&L->y, L->root, "the config", top_keys,
                           (int)(sizeof top_keys / sizeof *top_keys));
  if (rc != QTM_OK) return rc;
  for (int i = 0; i < 3; ++i)
    if (!qtm_yaml_get_key(L->root, required[i]))
      return qtm_yaml_fail(&L->y, L->root,
                           "the config has no '%s' (required: axes, observables, output; axes: [] "
                           "and observables: [] are allowed)",
                           required[i]);

  const char *title = NULL;
  if (qtm_yaml_get_key(L->root, "title")) {
    if ((rc = qtm_yaml_string(&L->y, qtm_yaml_get(L->root, "title"), "title", &title)) != QTM_OK)
      return rc;
    cfg->title = dup_text(title, strlen(title));
  } else {
    size_t n = strlen(name) + 32;
    if ((cfg->title = malloc(n)) != NULL) snprintf(cfg->title, n, "qtmscan scan of %s", name);
  }
  if (!cfg->title) return qtm_yaml_fail(&L->y, L->root, "out of memory");

  if ((rc = qtm_cfg_parse_axes(L, qtm_yaml_get(L->root, "axes"))) != QTM_OK) return rc;
  qtm_params_default(&L->fixed);
  if (qtm_yaml_get_key(L->root, "fixed") &&
      (rc = parse_fixed(L, qtm_yaml_get(L->root, "fixed"))) != QTM_OK)
    return rc;
  if ((rc = qtm_cfg_check_given(L)) != QTM_OK) return rc;
  if ((rc = qtm_cfg_check_physics(L)) != QTM_OK) return rc;
  if ((rc = qtm_cfg_parse_observables(L, qtm_yaml_get(L->root, "observables"), cfg)) != QTM_OK)
    return rc;
  if ((rc = parse_output(L, qtm_yaml_get(L->root, "output"), cfg)) != QTM_OK) return rc;
  if (qtm_yaml_get_key(L->root, "analysis") &&
      (rc = parse_analysis(L, qtm_yaml_get(L->root, "analysis"), cfg)) != QTM_OK)
    return rc;

  int ids[QTM_MAX_AXES];
  int64_t counts[QTM_MAX_AXES];
  const double *vals[QTM_MAX_AXES];
  for (int k = 0; k < L->naxes; ++k) {
    ids[k] = L->axes[k].id;
    counts[k] = L->axes[k].count;
    vals[k] = L->axes[k].values;
  }
  char gerr[256];
  if (qtm_grid_init(&cfg->grid, L->naxes, ids, counts, vals, &L->fixed, gerr, sizeof gerr) !=
      QTM_OK)
    return qtm_yaml_fail(&L->y, L->root, "%s", gerr);

  if (nsets == 0) {
    cfg->text = dup_text(text, len);
  } else {
    char *emitted = qtm_yaml_emit(&L->y);
    if (emitted) cfg->text = dup_text(emitted, strlen(emitted));
    free(emitted);
  }
  if (!cfg->text) return qtm_yaml_fail(&L->y, L->root, "out of memory for the config text");
  return QTM_OK;
}

qtm_status qtm_config_load_text(const char *name, const char *text, size_t len,
                                const char *const *sets, int nsets, qtm_config *cfg, char *err,
                                size_t errcap) {
  memset(cfg, 0, sizeof *cfg);
  if (err && errcap) err[0] = '\0';
  qtm_cfg_loader *L = calloc(1, sizeof *L);
  if (!L) {
    if (err && errcap) snprintf(err, errcap, "%s: out of memory", name);
    return QTM_ERR_NOMEM;
  }
  L->y.err = err;
  L->y.errcap = errcap;
  qtm_status rc = QTM_OK;
  if (!(cfg->path = dup_text(name, strlen(name)))) {
    if (err && errcap) snprintf(err, errcap, "%s: out of memory", name);
    rc = QTM_ERR_NOMEM;
    goto cleanup;
  }
  rc = load(L, name, text, len, sets, nsets, cfg);
cleanup:
  for (int k = 0; k < L->naxes; ++k) free(L->axes[k].values);
  qtm_yaml_close(&L->y);
  free(L);
  /* A failed load leaves nothing behind; the caller's qtm_config_free is then a no-op. */
  if (rc != QTM_OK) qtm_config_free(cfg);
  return rc;
}

/* Longest config file read: the largest explicit value lists take a few MiB. */
#define QTM_CFG_MAX_BYTES (64 << 20)

qtm_status qtm_config_load(const char *path, const char *const *sets, int nsets, qtm_config *cfg,
                           char *err, size_t errcap) {
  memset(cfg, 0, sizeof *cfg);
  qtm_status rc = QTM_OK;
  char *text = NULL;
  size_t len = 0, cap = 0;
  FILE *f = fopen(path, "rb");
  if (!f) {
    if (err && errcap) snprintf(err, errcap, "%s: %s", path, strerror(errno));
    return QTM_ERR_IO;
  }
  for (;;) {
    if (len == QTM_CFG_MAX_BYTES) { /* /dev/zero or a data file given by mistake */
      if (fgetc(f) == EOF) break;    /* exactly the limit, or a read error (below) */
      if (err && errcap)
        snprintf(err, errcap, "%s: longer than %d MiB: this is not a scan config", path,
                 QTM_CFG_MAX_BYTES >> 20);
      rc = QTM_ERR_INVALID_ARG;
      goto cleanup;
    }
    if (len == cap) {
      cap = cap ? 2 * cap : 65536;
      char *t = realloc(text, cap);
      if (!t) {
        if (err && errcap) snprintf(err, errcap, "%s: out of memory", path);
        rc = QTM_ERR_NOMEM;
        goto cleanup;
      }
      text = t;
    }
    size_t got = fread(text + len, 1, cap - len, f);
    len += got;
    if (got == 0) break;
  }
  if (ferror(f)) {
    if (err && errcap) snprintf(err, errcap, "%s: %s", path, strerror(errno));
    rc = QTM_ERR_IO;
    goto cleanup;
  }
  rc = qtm_config_load_text(path, text, len, sets, nsets, cfg, err, errcap);
cleanup:
  free(text);
  fclose(f);
  return rc;
}

void qtm_config_free(qtm_config *cfg) {
  if (!cfg) return;
  free(cfg->path);
  free(cfg->text);
  free(cfg->title);
  free(cfg->output_path);
  qtm_grid_free(&cfg->grid);
  memset(cfg, 0, sizeof *cfg);
}
