/* An analysis' partial state in and out: a shard exports what its tiles reduced to (counts,
 * onset positions, per-outer-point maxima, top-K candidates, Pareto front) and the merge of
 * shards folds each exported state into one analysis with the same deterministic merge steps
 * the tiles use, so that finishing it gives a single run's results bit for bit. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis_impl.h"

#define NO_INDEX (-1) /* NONE as stored: a file need not know INT64_MAX's meaning */

void qtm_analysis_state_release(qtm_analysis *a) {
  for (int i = 0; i < a->nstate; ++i) free(a->state[i].data);
  a->nstate = 0;
}

static int64_t stored_index(int64_t i) { return i == NONE ? NO_INDEX : i; }

/* A new owned array of the export; NULL when out of memory. */
static void *add_array(qtm_analysis *a, const char *stem, const char *sfx, int is_int,
                       int64_t n) {
  qtm_state_array *s = &a->state[a->nstate];
  void *data = calloc(n > 0 ? (size_t)n : 1, 8);
  if (!data) return NULL;
  (void)snprintf(s->name, sizeof s->name, "%s%s", stem, sfx);
  s->is_int = is_int;
  s->n = n;
  s->data = data;
  a->nstate++;
  return data;
}

static int export_regime(qtm_analysis *a, int regime) {
  const regime_state *s = &a->r[regime];
  const char *sfx = regime ? "_global" : "";
  int64_t *counts = add_array(a, "counts", sfx, 1, 2);
  if (!counts) return 1;
  counts[0] = s->ndtc_count;
  counts[1] = s->applicable_count;
  if (a->line_axis >= 0) {
    int64_t *pos = add_array(a, "onset_pos", sfx, 1, a->nlines);
    if (!pos) return 1;
    for (int64_t i = 0; i < a->nlines; ++i) pos[i] = stored_index(s->onset_pos[i]);
  }
  if (a->spec.noptimize > 0) {
    double *bc = add_array(a, "best_contrast", sfx, 0, a->nouter);
    double *br = bc ? add_array(a, "best_ratio", sfx, 0, a->nouter) : NULL;
    int64_t *ac = br ? add_array(a, "arg_contrast", sfx, 1, a->nouter) : NULL;
    int64_t *ar = ac ? add_array(a, "arg_ratio", sfx, 1, a->nouter) : NULL;
    if (!ar) return 1;
    for (int64_t i = 0; i < a->nouter; ++i) {
      bc[i] = s->best_c[i];
      br[i] = s->best_r[i];
      ac[i] = stored_index(s->arg_c[i]);
      ar[i] = stored_index(s->arg_r[i]);
    }
  }
  if (a->spec.top_k > 0) {
    double *tv = add_array(a, "top_value", sfx, 0, s->ntop);
    int64_t *ti = tv ? add_array(a, "top_index", sfx, 1, s->ntop) : NULL;
    if (!ti) return 1;
    for (int i = 0; i < s->ntop; ++i) {
      tv[i] = s->top[i].value;
      ti[i] = s->top[i].index;
    }
  }
  double *fc = add_array(a, "front_contrast", sfx, 0, s->nfront);
  double *fj = fc ? add_array(a, "front_current", sfx, 0, s->nfront) : NULL;
  int64_t *fi = fj ? add_array(a, "front_index", sfx, 1, s->nfront) : NULL;
  if (!fi) return 1;
  for (int64_t i = 0; i < s->nfront; ++i) {
    fc[i] = s->front[i].c;
    fj[i] = s->front[i].j;
    fi[i] = s->front[i].index;
  }
  return 0;
}

qtm_status qtm_analysis_state_export(qtm_analysis *a, const qtm_state_array **arrays, int *n,
                                     char *err, size_t errcap) {
  qtm_analysis_state_release(a);
  int failed = 0;
  for (int r = 0; r < (a->has_global ? 2 : 1) && !failed; ++r) failed = export_regime(a, r);
  if (failed) {
    qtm_analysis_state_release(a);
    (void)snprintf(err, errcap, "out of memory exporting the analysis state");
    return QTM_ERR_NOMEM;
  }
  *arrays = a->state;
  *n = a->nstate;
  return QTM_OK;
}

/* ---- Merging ------------------------------------------------------------------------------ */

/* The arrays one regime's state must have, found by name in the input. */
typedef struct regime_view {
  const int64_t *counts, *onset_pos, *arg_c, *arg_r, *top_index, *front_index;
  const double *best_c, *best_r, *top_value, *front_c, *front_j;
  int64_t ntop, nfront;
} regime_view;

static const qtm_state_array *find(const qtm_state_array *arrays, int n, const char *stem,
                                   const char *sfx) {
  char name[64];
  (void)snprintf(name, sizeof name, "%s%s", stem, sfx);
  for (int i = 0; i < n; ++i)
    if (strcmp(arrays[i].name, name) == 0) return &arrays[i];
  return NULL;
}

/* The array stem+sfx with the given kind, and length `len` (or any when len < 0). */
static qtm_status need(const qtm_state_array *arrays, int n, const char *stem, const char *sfx,
                       int is_int, int64_t len, const qtm_state_array **out, char *err,
                       size_t errcap) {
  const qtm_state_array *s = find(arrays, n, stem, sfx);
  if (!s) {
    (void)snprintf(err, errcap, "the analysis state has no array %s%s", stem, sfx);
    return QTM_ERR_INVALID_ARG;
  }
  if (s->is_int != is_int || (len >= 0 && s->n != len) || s->n < 0 || (s->n > 0 && !s->data)) {
    (void)snprintf(err, errcap,
                   "the analysis state's %s has %lld %s values; %lld %s values expected",
                   s->name, (long long)s->n, s->is_int ? "integer" : "float",
                   (long long)len, is_int ? "integer" : "float");
    return QTM_ERR_INVALID_ARG;
  }
  *out = s;
  return QTM_OK;
}

/* Every index is NO_INDEX (when allowed) or a point of the grid. */
static qtm_status check_indices(const qtm_analysis *a, const qtm_state_array *s, int none_ok,
                                int64_t limit, char *err, size_t errcap) {
  const int64_t *v = s->data;
  for (int64_t i = 0; i < s->n; ++i)
    if (!((none_ok && v[i] == NO_INDEX) || (v[i] >= 0 && v[i] < limit))) {
      (void)snprintf(err, errcap, "the analysis state's %s[%lld] = %lld is outside 0..%lld",
                     s->name, (long long)i, (long long)v[i], (long long)limit - 1);
      return QTM_ERR_INVALID_ARG;
    }
  (void)a;
  return QTM_OK;
}

static qtm_status view_regime(const qtm_analysis *a, int regime, const qtm_state_array *arrays,
                              int n, regime_view *v, char *err, size_t errcap) {
  const char *sfx = regime ? "_global" : "";
  const int64_t npoints = a->g->npoints;
  const qtm_state_array *s;
  qtm_status rc;
  memset(v, 0, sizeof *v);
  if ((rc = need(arrays, n, "counts", sfx, 1, 2, &s, err, errcap)) != QTM_OK) return rc;
  v->counts = s->data;
  if (v->counts[0] < 0 || v->counts[1] < v->counts[0] || v->counts[1] > npoints) {
    (void)snprintf(err, errcap, "the analysis state's %s (%lld NDTC of %lld points) is not a "
                   "count of this grid's points", s->name, (long long)v->counts[0],
                   (long long)v->counts[1]);
    return QTM_ERR_INVALID_ARG;
  }
  if (a->line_axis >= 0) {
    if ((rc = need(arrays, n, "onset_pos", sfx, 1, a->nlines, &s, err, errcap)) != QTM_OK ||
        (rc = check_indices(a, s, 1, a->g->desc.shape[a->line_axis], err, errcap)) != QTM_OK)
      return rc;
    v->onset_pos = s->data;
  }
  if (a->spec.noptimize > 0) {
    if ((rc = need(arrays, n, "best_contrast", sfx, 0, a->nouter, &s, err, errcap)) != QTM_OK)
      return rc;
    v->best_c = s->data;
    if ((rc = need(arrays, n, "best_ratio", sfx, 0, a->nouter, &s, err, errcap)) != QTM_OK)
      return rc;
    v->best_r = s->data;
    if ((rc = need(arrays, n, "arg_contrast", sfx, 1, a->nouter, &s, err, errcap)) != QTM_OK ||
        (rc = check_indices(a, s, 1, npoints, err, errcap)) != QTM_OK)
      return rc;
    v->arg_c = s->data;
    if ((rc = need(arrays, n, "arg_ratio", sfx, 1, a->nouter, &s, err, errcap)) != QTM_OK ||
        (rc = check_indices(a, s, 1, npoints, err, errcap)) != QTM_OK)
      return rc;
    v->arg_r = s->data;
  }
  if (a->spec.top_k > 0) {
    if ((rc = need(arrays, n, "top_value", sfx, 0, -1, &s, err, errcap)) != QTM_OK) return rc;
    v->top_value = s->data;
    v->ntop = s->n;
    if ((rc = need(arrays, n, "top_index", sfx, 1, v->ntop, &s, err, errcap)) != QTM_OK ||
        (rc = check_indices(a, s, 0, npoints, err, errcap)) != QTM_OK)
      return rc;
    v->top_index = s->data;
    if (v->ntop > a->spec.top_k) {
      (void)snprintf(err, errcap, "the analysis state holds %lld top-K rows; top_k is %d",
                     (long long)v->ntop, a->spec.top_k);
      return QTM_ERR_INVALID_ARG;
    }
  }
  if ((rc = need(arrays, n, "front_contrast", sfx, 0, -1, &s, err, errcap)) != QTM_OK) return rc;
  v->front_c = s->data;
  v->nfront = s->n;
  if ((rc = need(arrays, n, "front_current", sfx, 0, v->nfront, &s, err, errcap)) != QTM_OK)
    return rc;
  v->front_j = s->data;
  if ((rc = need(arrays, n, "front_index", sfx, 1, v->nfront, &s, err, errcap)) != QTM_OK ||
      (rc = check_indices(a, s, 0, npoints, err, errcap)) != QTM_OK)
    return rc;
  v->front_index = s->data;
  return QTM_OK;
}

static void merge_regime(qtm_analysis *a, regime_state *s, const regime_view *v) {
  s->ndtc_count += v->counts[0];
  s->applicable_count += v->counts[1];
  if (a->line_axis >= 0)
    for (int64_t i = 0; i < a->nlines; ++i)
      if (v->onset_pos[i] != NO_INDEX && v->onset_pos[i] < s->onset_pos[i])
        s->onset_pos[i] = v->onset_pos[i];
  if (a->spec.noptimize > 0)
    for (int64_t i = 0; i < a->nouter; ++i) {
      if (v->arg_c[i] != NO_INDEX)
        qtm_analysis_offer_max(v->best_c[i], v->arg_c[i], &s->best_c[i], &s->arg_c[i]);
      if (v->arg_r[i] != NO_INDEX)
        qtm_analysis_offer_max(v->best_r[i], v->arg_r[i], &s->best_r[i], &s->arg_r[i]);
    }
  for (int64_t i = 0; i < v->ntop; ++i)
    qtm_analysis_offer_top(s, a->spec.top_k, v->top_value[i], v->top_index[i]);
  for (int64_t i = 0; i < v->nfront; ++i)
    qtm_analysis_offer_front(s, v->front_c[i], v->front_j[i], v->front_index[i]);
}

qtm_status qtm_analysis_state_merge(qtm_analysis *a, const qtm_state_array *arrays, int n,
                                    char *err, size_t errcap) {
  regime_view v[NREGIMES];
  int nregimes = a->has_global ? 2 : 1;
  if (!a->has_global && find(arrays, n, "counts", "_global")) {
    (void)snprintf(err, errcap, "the analysis state has a global part; this grid has none");
    return QTM_ERR_INVALID_ARG;
  }
  for (int r = 0; r < nregimes; ++r) {
    qtm_status rc = view_regime(a, r, arrays, n, &v[r], err, errcap);
    if (rc != QTM_OK) return rc;
  }
  for (int r = 0; r < nregimes; ++r) merge_regime(a, &a->r[r], &v[r]);
  return QTM_OK;
}
