/* Internals of the config loader, shared by config.c (top level, fixed, output, the public
 * API), config_axes.c (axes and their coordinates) and config_checks.c (parameters given once,
 * physics at the corners, where observables apply). Private to the qtm_scan library. */
#ifndef QTM_CONFIG_INTERNAL_H
#define QTM_CONFIG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "config_yaml.h"
#include "qtm/config.h"
#include "qtm/params.h"

/* The coordinates of all axes are held twice while loading (here and in the grid): 10^8 of
 * them are 800 MB per copy, far beyond any map, and a typo such as extra zeros in a count
 * fails before the allocation does. The fuzzer builds with a smaller bound (tests/fuzz). */
#ifndef QTM_CFG_MAX_COORDINATES
#define QTM_CFG_MAX_COORDINATES 100000000
#endif

typedef struct qtm_cfg_axis {
  int id;                    /* qtm_param_id or qtm_axis_derived */
  struct fy_node *name_node; /* the axis name: where messages about the whole axis point */
  int64_t count;
  double *values;
  double lo, hi;
} qtm_cfg_axis;

typedef struct qtm_cfg_loader {
  qtm_yaml y;
  struct fy_node *root;
  int naxes;
  qtm_cfg_axis axes[QTM_MAX_AXES];
  int64_t ncoords, npoints;                   /* of the axes parsed so far */
  struct fy_node *fixed_map;                  /* the `fixed` mapping, or NULL */
  struct fy_node *fixed_key[QTM_PARAM_COUNT]; /* a fixed entry's key, or NULL */
  struct fy_node *fixed_value[QTM_PARAM_COUNT];
  int src_axis[QTM_PARAM_COUNT]; /* the axis setting a parameter, or -1 */
  qtm_params fixed;              /* defaults, then the fixed entries */
} qtm_cfg_loader;

/* Shortest of %.15g / %.17g that reads back as the same double. */
void qtm_cfg_fmt_num(double v, char *buf, size_t cap);
/* Sets a double parameter by id (N, an int, is left to the caller). */
void qtm_cfg_set_param(qtm_params *p, int id, double v);

/* config_axes.c: the `axes` list into L->axes (coordinates, ranges, counts). */
qtm_status qtm_cfg_parse_axes(qtm_cfg_loader *L, struct fy_node *axes);
/* config_checks.c: every parameter given once (fills L->src_axis); the whole grid valid; the
 * `observables` list into cfg, each applying somewhere in the scan. */
qtm_status qtm_cfg_check_given(qtm_cfg_loader *L);
qtm_status qtm_cfg_check_physics(qtm_cfg_loader *L);
qtm_status qtm_cfg_parse_observables(qtm_cfg_loader *L, struct fy_node *obs, qtm_config *cfg);

#endif
