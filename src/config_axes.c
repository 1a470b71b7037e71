/* The `axes` list of a scan config: names, spacings (lin, log, values) and the exact
 * coordinates they give, with every error placed on the offending entry. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

static void list_axes(char *buf, size_t cap) {
  size_t used = 0;
  buf[0] = '\0';
  for (int id = 0; id < QTM_AXIS_ID_COUNT && used < cap; ++id) {
    int w = snprintf(buf + used, cap - used, "%s%s", id ? ", " : "", qtm_axis_name(id));
    if (w < 0) break;
    used += (size_t)w;
  }
}

/* N is an int in the model: an axis on N must hold integers (N >= 1 is checked at the corners
 * with every other rule). */
static int n_ok(double v) { return v == floor(v) && fabs(v) <= INT_MAX; }

/* Accounts for an axis of `count` points before its coordinates are allocated. */
static qtm_status reserve_points(qtm_cfg_loader *L, const qtm_cfg_axis *ax, struct fy_node *at,
                                 int64_t count) {
  const char *name = qtm_axis_name(ax->id);
  if (count > QTM_CFG_MAX_COORDINATES - L->ncoords)
    return qtm_yaml_fail(&L->y, at,
                         "axis %s: %lld points are too many: the axes may hold at most %d "
                         "coordinates in all",
                         name, (long long)count, QTM_CFG_MAX_COORDINATES);
  if (L->npoints > INT64_MAX / count)
    return qtm_yaml_fail(&L->y, ax->name_node, "axis %s: the grid would have more than 2^63 points",
                         name);
  L->ncoords += count;
  L->npoints *= count;
  return QTM_OK;
}

static qtm_status parse_range(qtm_cfg_loader *L, qtm_cfg_axis *ax, const char *kind,
                              struct fy_node *list) {
  const char *name = qtm_axis_name(ax->id);
  char what[96], found[128];
  qtm_yaml_describe(list, found, sizeof found);
  if (!qtm_yaml_is_sequence(list) || fy_node_sequence_item_count(list) != 3) {
    if (qtm_yaml_is_sequence(list))
      snprintf(found, sizeof found, "a list of %d entries", fy_node_sequence_item_count(list));
    return qtm_yaml_fail(&L->y, list, "axis %s: %s must be a list [start, stop, count], found %s",
                         name, kind, found);
  }
  struct fy_node *n0 = fy_node_sequence_get_by_index(list, 0);
  struct fy_node *n1 = fy_node_sequence_get_by_index(list, 1);
  struct fy_node *n2 = fy_node_sequence_get_by_index(list, 2);
  double start = 0, stop = 0;
  int64_t count = 0;
  qtm_status rc;
  snprintf(what, sizeof what, "axis %s: %s start", name, kind);
  if ((rc = qtm_yaml_number(&L->y, n0, what, &start)) != QTM_OK) return rc;
  snprintf(what, sizeof what, "axis %s: %s stop", name, kind);
  if ((rc = qtm_yaml_number(&L->y, n1, what, &stop)) != QTM_OK) return rc;
  snprintf(what, sizeof what, "axis %s: %s count", name, kind);
  if ((rc = qtm_yaml_integer(&L->y, n2, what, INT64_MIN, INT64_MAX, &count)) != QTM_OK) return rc;
  const char *ctext = qtm_yaml_text(n2);
  if (count < 2)
    return qtm_yaml_fail(&L->y, n2,
                         "axis %s: %s count must be an integer >= 2, found %s (a single point "
                         "is values: [x])",
                         name, kind, ctext);
  int is_log = strcmp(kind, "log") == 0;
  if (is_log && !(start > 0))
    return qtm_yaml_fail(&L->y, n0, "axis %s: log start must be > 0 (geometric spacing), found %s",
                         name, qtm_yaml_text(n0));
  if (is_log && !(stop > 0))
    return qtm_yaml_fail(&L->y, n1, "axis %s: log stop must be > 0 (geometric spacing), found %s",
                         name, qtm_yaml_text(n1));
  if (start == stop)
    return qtm_yaml_fail(&L->y, n1,
                         "axis %s: %s start and stop are equal (%s): the axis would repeat one "
                         "point; a single point is values: [%s]",
                         name, kind, qtm_yaml_text(n1), qtm_yaml_text(n0));
  if ((rc = reserve_points(L, ax, n2, count)) != QTM_OK) return rc;
  ax->values = malloc((size_t)count * sizeof *ax->values);
  if (!ax->values)
    return qtm_yaml_fail(&L->y, n2, "axis %s: out of memory for %s points", name, ctext);
  ax->count = count;
  if (is_log) {
    /* exp of a linspace of logs, in long double (64-bit mantissa on x86): each value then
     * rounds once to double and the ratio of neighbours is constant to a few 1e-16. */
    long double a = logl((long double)start), b = logl((long double)stop);
    for (int64_t i = 0; i < count; ++i)
      ax->values[i] = (double)expl(a + (long double)i * (b - a) / (long double)(count - 1));
  } else {
    for (int64_t i = 0; i < count; ++i)
      ax->values[i] = start + (double)i * (stop - start) / (double)(count - 1);
  }
  ax->values[0] = start; /* exact ends, whatever the rounding inside */
  ax->values[count - 1] = stop;
  for (int64_t i = 1; i < count; ++i)
    if ((stop > start) ? !(ax->values[i] > ax->values[i - 1])
                       : !(ax->values[i] < ax->values[i - 1]))
      return qtm_yaml_fail(&L->y, list,
                           "axis %s: %s spacing from %s to %s in %s points is finer than double "
                           "precision (points %lld and %lld coincide)",
                           name, kind, qtm_yaml_text(n0), qtm_yaml_text(n1), ctext, (long long)i,
                           (long long)i + 1);
  if (ax->id == QTM_PARAM_N)
    for (int64_t i = 0; i < count; ++i)
      if (!n_ok(ax->values[i])) {
        char v[40];
        qtm_cfg_fmt_num(ax->values[i], v, sizeof v);
        return qtm_yaml_fail(&L->y, list,
                             "axis N: the chain length N must be an integer, but %s [%s, %s, %s] "
                             "gives N = %s (use values: [...] or integer steps)",
                             kind, qtm_yaml_text(n0), qtm_yaml_text(n1), ctext, v);
      }
  return QTM_OK;
}

static qtm_status parse_values(qtm_cfg_loader *L, qtm_cfg_axis *ax, struct fy_node *list) {
  const char *name = qtm_axis_name(ax->id);
  char what[96], found[128];
  if (!qtm_yaml_is_sequence(list)) {
    qtm_yaml_describe(list, found, sizeof found);
    return qtm_yaml_fail(&L->y, list, "axis %s: values must be a list of numbers, found %s", name,
                         found);
  }
  int n = fy_node_sequence_item_count(list);
  if (n < 1)
    return qtm_yaml_fail(&L->y, list, "axis %s: values is empty: give at least one number", name);
  qtm_status rc = reserve_points(L, ax, list, n);
  if (rc != QTM_OK) return rc;
  ax->values = malloc((size_t)n * sizeof *ax->values);
  if (!ax->values) return qtm_yaml_fail(&L->y, list, "axis %s: out of memory", name);
  ax->count = n;
  void *it = NULL;
  struct fy_node *item;
  int i = 0, dir = 0;
  while ((item = fy_node_sequence_iterate(list, &it)) != NULL) {
    double v = 0;
    snprintf(what, sizeof what, "axis %s: values entry %d", name, i + 1);
    if ((rc = qtm_yaml_number(&L->y, item, what, &v)) != QTM_OK) return rc;
    if (ax->id == QTM_PARAM_N && !n_ok(v))
      return qtm_yaml_fail(&L->y, item, "axis N: the chain length N must be an integer, found %s",
                           qtm_yaml_text(item));
    /* Strictly monotonic, in the direction the first two values set. */
    if (i >= 1) {
      double prev = ax->values[i - 1];
      if (i == 1) dir = v > prev ? 1 : v < prev ? -1 : 0;
      if (dir == 0 || (dir > 0 ? !(v > prev) : !(v < prev))) {
        char p[40];
        qtm_cfg_fmt_num(prev, p, sizeof p);
        return qtm_yaml_fail(&L->y, item,
                             "axis %s: values must be strictly increasing or strictly "
                             "decreasing; entry %d (%s) breaks the order after %s",
                             name, i + 1, qtm_yaml_text(item), p);
      }
    }
    ax->values[i++] = v;
  }
  return QTM_OK;
}

static qtm_status parse_axis(qtm_cfg_loader *L, struct fy_node *entry) {
  static const char *const spacing_keys[] = {"lin", "log", "values"};
  char found[128], list[256];
  qtm_yaml_describe(entry, found, sizeof found);
  if (!qtm_yaml_is_mapping(entry) || fy_node_mapping_item_count(entry) < 1)
    return qtm_yaml_fail(&L->y, entry,
                         "each entry of axes must be a one-key mapping such as "
                         "'- TL: {lin: [0.05, 5.0, 100]}', found %s",
                         found);
  if (fy_node_mapping_item_count(entry) > 1) {
    struct fy_node_pair *second = fy_node_mapping_get_by_index(entry, 1);
    return qtm_yaml_fail(&L->y, fy_node_pair_key(second),
                         "each entry of axes names one axis: write '- NAME: SPACING' on a list "
                         "entry of its own for '%s'",
                         qtm_yaml_text(fy_node_pair_key(second)));
  }
  struct fy_node_pair *pair = fy_node_mapping_get_by_index(entry, 0);
  struct fy_node *key = fy_node_pair_key(pair), *spec = fy_node_pair_value(pair);
  const char *name = qtm_yaml_scalar(key);
  int id = name ? qtm_axis_find(name) : -1;
  if (id < 0) {
    list_axes(list, sizeof list);
    qtm_yaml_describe(key, found, sizeof found);
    return qtm_yaml_fail(&L->y, key, "unknown axis '%s'; valid axes: %s", name ? name : found,
                         list);
  }
  if (L->naxes == QTM_MAX_AXES)
    return qtm_yaml_fail(&L->y, key, "axis %s: too many axes (at most %d)", name, QTM_MAX_AXES);
  qtm_cfg_axis *ax = &L->axes[L->naxes++];
  ax->id = id;
  ax->name_node = key;
  qtm_yaml_describe(spec, found, sizeof found);
  if (!qtm_yaml_is_mapping(spec) || fy_node_mapping_item_count(spec) < 1)
    return qtm_yaml_fail(&L->y, spec,
                         "axis %s: the spacing must be {lin: [start, stop, count]}, "
                         "{log: [start, stop, count]} or {values: [v1, v2, ...]}, found %s",
                         name, found);
  char what[64];
  snprintf(what, sizeof what, "the spacing of axis %s", name);
  qtm_status rc = qtm_yaml_check_keys(&L->y, spec, what, spacing_keys,
                                       (int)(sizeof spacing_keys / sizeof *spacing_keys));
  if (rc != QTM_OK) return rc;
  if (fy_node_mapping_item_count(spec) > 1) {
    struct fy_node_pair *p0 = fy_node_mapping_get_by_index(spec, 0);
    struct fy_node_pair *p1 = fy_node_mapping_get_by_index(spec, 1);
    return qtm_yaml_fail(&L->y, fy_node_pair_key(p1),
                         "axis %s: give one of lin, log or values, not both %s and %s", name,
                         qtm_yaml_text(fy_node_pair_key(p0)), qtm_yaml_text(fy_node_pair_key(p1)));
  }
  struct fy_node_pair *sp = fy_node_mapping_get_by_index(spec, 0);
  const char *kind = qtm_yaml_scalar(fy_node_pair_key(sp));
  rc = strcmp(kind, "values") == 0 ? parse_values(L, ax, fy_node_pair_value(sp))
                                   : parse_range(L, ax, kind, fy_node_pair_value(sp));
  if (rc != QTM_OK) return rc;
  ax->lo = ax->hi = ax->values[0];
  for (int64_t i = 1; i < ax->count; ++i) {
    if (ax->values[i] < ax->lo) ax->lo = ax->values[i];
    if (ax->values[i] > ax->hi) ax->hi = ax->values[i];
  }
  return QTM_OK;
}

qtm_status qtm_cfg_parse_axes(qtm_cfg_loader *L, struct fy_node *axes) {
  char found[128];
  if (!qtm_yaml_is_sequence(axes)) {
    qtm_yaml_describe(axes, found, sizeof found);
    return qtm_yaml_fail(&L->y, axes,
                         "axes must be a list of one-key mappings such as "
                         "'- TL: {lin: [0.05, 5.0, 100]}' ([] for a single point), found %s",
                         found);
  }
  void *it = NULL;
  struct fy_node *entry;
  L->npoints = 1;
  while ((entry = fy_node_sequence_iterate(axes, &it)) != NULL) {
    qtm_status rc = parse_axis(L, entry);
    if (rc != QTM_OK) return rc;
  }
  return QTM_OK;
}
