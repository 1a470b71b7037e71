/* Tests of the scan-config loader (src/config.c, src/config_yaml.c). The schema example of
 * issue 3 loads with exact axis coordinates; every error path fails with QTM_ERR_INVALID_ARG
 * and a message "scan.yaml:LINE:COL: ..." whose position the test computes from its own YAML
 * text (the n-th occurrence of a needle), or "--set KEY=VALUE: ..." for an override, and the
 * message names the offending key or value. libfyaml must print nothing itself. The
 * `analysis:` section of issue 4 (defaults, positions of the optimised axes, its errors and
 * overrides) is tested at the end. */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qtm/config.h"
#include "qtm/observables.h"

#define NAME "scan.yaml"

/* Pieces of a valid config, concatenated by the tests. */
#define AXIS_TL "axes:\n  - TL: {lin: [0.05, 5.0, 100]}\n"
#define FIXED "fixed: {TR: 0.0, gammaL: 0.01, gammaR: 0.02, g: 0.1}\n"
#define OBS "observables: [J]\n"
#define OUT "output: {path: out.h5}\n"

static const char example[] =
    "title: \"optional free text\"                # optional; default \"qtmscan scan of FILE\"\n"
    "axes:\n"
    "  - TL: {lin: [0.05, 5.0, 100]}          # start, stop, count (stop included)\n"
    "  - gamma_ratio: {log: [0.01, 1.0, 50]}  # geometric spacing, start and stop > 0\n"
    "  - g: {values: [0.1, 0.5, 0.8]}         # explicit, strictly monotonic (either direction)\n"
    "fixed: {omega: 1.0, TR: 0.0, gammaR: 0.02, epsL: 1, epsR: 1, eps_a: -1}\n"
    "observables: [J, J_rev, contrast, contrast_global, kappa2]\n"
    "output: {path: results/example.h5, dtype: float32, compression: gzip-4, tile_points: "
    "262144}\n";

/* ---- helpers ------------------------------------------------------------------------------- */

static qtm_status load(const char *text, const char *const *sets, int nsets, qtm_config *cfg,
                       char *err, size_t errcap) {
  return qtm_config_load_text(NAME, text, strlen(text), sets, nsets, cfg, err, errcap);
}

static qtm_config load_ok(const char *text, const char *const *sets, int nsets) {
  qtm_config cfg;
  char err[2048] = "";
  qtm_status st = load(text, sets, nsets, &cfg, err, sizeof err);
  cr_assert_eq(st, QTM_OK, "the config should load, got: %s", err);
  return cfg;
}

/* 1-based line and column of the occ-th occurrence of needle in text. */
static void pos_of(const char *text, const char *needle, int occ, int *line, int *col) {
  const char *p = NULL;
  for (int i = 0; i < occ; ++i) {
    p = strstr(p ? p + 1 : text, needle);
    cr_assert_not_null(p, "the test's YAML has no occurrence %d of '%s'", i + 1, needle);
  }
  *line = 1;
  *col = 1;
  for (const char *c = text; c < p; ++c) {
    if (*c == '\n') {
      ++*line;
      *col = 1;
    } else {
      ++*col;
    }
  }
}

static void check_fragments(const char *err, va_list ap) {
  for (const char *f = va_arg(ap, const char *); f; f = va_arg(ap, const char *))
    cr_assert_not_null(strstr(err, f), "message\n  %s\nlacks '%s'", err, f);
}

static void check_failed(qtm_status st, const qtm_config *cfg, const char *err) {
  cr_assert_eq(st, QTM_ERR_INVALID_ARG, "expected QTM_ERR_INVALID_ARG, got %d (%s)", st, err);
  cr_assert_null(cfg->grid.values, "a failed load must leave nothing behind");
  cr_assert_null(cfg->title);
}

/* Loading `text` (with overrides) fails, the message starts with the position of the occ-th
 * `needle` and contains every fragment (NULL-terminated list). */
static void expect_error(const char *text, const char *const *sets, int nsets, const char *needle,
                         int occ, ...) {
  qtm_config cfg;
  char err[2048] = "";
  qtm_status st = load(text, sets, nsets, &cfg, err, sizeof err);
  check_failed(st, &cfg, err);
  int line, col;
  pos_of(text, needle, occ, &line, &col);
  char prefix[64];
  snprintf(prefix, sizeof prefix, NAME ":%d:%d: ", line, col);
  cr_assert(strncmp(err, prefix, strlen(prefix)) == 0, "message\n  %s\ndoes not start with '%s'",
            err, prefix);
  va_list ap;
  va_start(ap, occ);
  check_fragments(err, ap);
  va_end(ap);
  qtm_config_free(&cfg);
}

/* The same for a message that must start with "--set sets[which]: ". */
static void expect_set_error(const char *text, const char *const *sets, int nsets, int which, ...) {
  qtm_config cfg;
  char err[2048] = "";
  qtm_status st = load(text, sets, nsets, &cfg, err, sizeof err);
  check_failed(st, &cfg, err);
  char prefix[512];
  snprintf(prefix, sizeof prefix, "--set %s: ", sets[which]);
  cr_assert(strncmp(err, prefix, strlen(prefix)) == 0, "message\n  %s\ndoes not start with '%s'",
            err, prefix);
  va_list ap;
  va_start(ap, which);
  check_fragments(err, ap);
  va_end(ap);
  qtm_config_free(&cfg);
}

static const double *axis_values(const qtm_config *cfg, int k) {
  return cfg->grid.values + cfg->grid.desc.offset[k];
}

/* ---- loading --------------------------------------------------------------------------------- */

Test(config_load, schema_example) {
  qtm_config cfg = load_ok(example, NULL, 0);
  const qtm_grid_desc *d = &cfg.grid.desc;
  cr_assert_str_eq(cfg.path, NAME);
  cr_assert_str_eq(cfg.title, "optional free text");
  cr_assert_str_eq(cfg.text, example, "without overrides the text is the file, verbatim");
  cr_assert_eq(d->naxes, 3);
  cr_assert_eq(d->axis_id[0], QTM_PARAM_TL);
  cr_assert_eq(d->axis_id[1], QTM_AXIS_gamma_ratio);
  cr_assert_eq(d->axis_id[2], QTM_PARAM_g);
  cr_assert_eq(d->shape[0], 100);
  cr_assert_eq(d->shape[1], 50);
  cr_assert_eq(d->shape[2], 3);
  cr_assert_eq(cfg.grid.npoints, 15000);

  const double *tl = axis_values(&cfg, 0);
  cr_assert_eq(tl[0], 0.05);
  cr_assert_eq(tl[99], 5.0);
  for (int i = 0; i < 100; ++i) /* exact linspace, the brief's formula */
    cr_assert_eq(tl[i], i == 99 ? 5.0 : 0.05 + (double)i * (5.0 - 0.05) / 99.0, "TL[%d]", i);

  const double *gr = axis_values(&cfg, 1);
  cr_assert_eq(gr[0], 0.01);
  cr_assert_eq(gr[49], 1.0);
  double ratio = pow(100.0, 1.0 / 49.0); /* (stop/start)^(1/(count-1)) */
  for (int i = 0; i + 1 < 50; ++i) {
    double r = gr[i + 1] / gr[i];
    cr_assert_lt(fabs(r / ratio - 1.0), 1e-15, "log ratio %d: %.17g vs %.17g", i, r, ratio);
  }

  const double *g = axis_values(&cfg, 2);
  cr_assert(g[0] == 0.1 && g[1] == 0.5 && g[2] == 0.8);

  const qtm_params *f = &d->fixed;
  cr_assert_eq(f->omega, 1.0);
  cr_assert_eq(f->TR, 0.0);
  cr_assert_eq(f->gammaR, 0.02);
  cr_assert_eq(f->epsL, 1.0);
  cr_assert_eq(f->epsR, 1.0);
  cr_assert_eq(f->eps_a, -1.0);
  cr_assert_eq(f->N, 2, "N takes the default of qtmscan eval");

  static const int want[] = {QTM_OBS_J, QTM_OBS_J_rev, QTM_OBS_contrast, QTM_OBS_contrast_global,
                             QTM_OBS_kappa2};
  cr_assert_eq(cfg.nobs, 5);
  for (int j = 0; j < 5; ++j) cr_assert_eq(cfg.obs[j], want[j], "observable %d", j);
  cr_assert_str_eq(cfg.output_path, "results/example.h5");
  cr_assert_eq(cfg.dtype, QTM_DTYPE_F32);
  cr_assert_eq(cfg.gzip_level, 4);
  cr_assert_eq(cfg.tile_points, 262144);
  qtm_config_free(&cfg);
}

Test(config_load, defaults_and_other_forms) {
  /* defaults */
  {
    qtm_config cfg = load_ok(AXIS_TL FIXED OBS OUT, NULL, 0);
    cr_assert_str_eq(cfg.title, "qtmscan scan of " NAME);
    cr_assert_eq(cfg.dtype, QTM_DTYPE_F32);
    cr_assert_eq(cfg.gzip_level, 0);
    cr_assert_eq(cfg.tile_points, QTM_DEFAULT_TILE_POINTS);
    const qtm_params *f = &cfg.grid.desc.fixed;
    cr_assert(f->omega == 1.0 && f->epsL == 1.0 && f->epsR == 1.0 && f->eps_a == -1.0 && f->N == 2);
    cr_assert(f->TR == 0.0 && f->gammaL == 0.01 && f->gammaR == 0.02 && f->g == 0.1);
    qtm_config_free(&cfg);
  }
  /* other forms */
  {
    /* decreasing values, a one-point axis, an N axis, float64, no compression, 0 observables */
    qtm_config cfg = load_ok("axes:\n"
                             "  - g: {values: [0.8, 0.5, 0.1]}\n"
                             "  - N: {values: [2]}\n"
                             "  - DeltaT: {lin: [2, 0, 3]}\n"
                             "fixed: {TR: 0.1, gammaL: 0.01, gammaR: 0.02}\n"
                             "observables: []\n"
                             "output: {path: o.h5, dtype: float64, compression: none, "
                             "tile_points: 1}\n",
                             NULL, 0);
    cr_assert_eq(cfg.grid.desc.naxes, 3);
    cr_assert_eq(axis_values(&cfg, 0)[2], 0.1);
    cr_assert_eq(axis_values(&cfg, 1)[0], 2.0);
    cr_assert(axis_values(&cfg, 2)[0] == 2.0 && axis_values(&cfg, 2)[1] == 1.0 &&
              axis_values(&cfg, 2)[2] == 0.0);
    cr_assert_eq(cfg.nobs, 0);
    cr_assert_eq(cfg.dtype, QTM_DTYPE_F64);
    cr_assert_eq(cfg.gzip_level, 0);
    cr_assert_eq(cfg.tile_points, 1);
    qtm_config_free(&cfg);

    /* no axes: one point; gzip-9; the derived T axis */
    cfg = load_ok("axes: []\nfixed: {TL: 1, TR: 0, gammaL: 0.01, gammaR: 0.02, g: 0.1}\n" OBS
                  "output: {path: p.h5, compression: gzip-9}\n",
                  NULL, 0);
    cr_assert_eq(cfg.grid.npoints, 1);
    cr_assert_eq(cfg.gzip_level, 9);
    qtm_config_free(&cfg);
    cfg = load_ok(
        "axes:\n  - T: {log: [0.1, 10, 3]}\nfixed: {gammaL: 0.01, gammaR: 0.02, g: 0.1}\n" OBS OUT,
        NULL, 0);
    cr_assert_eq(axis_values(&cfg, 0)[0], 0.1);
    cr_assert_eq(axis_values(&cfg, 0)[2], 10.0);
    cr_assert_lt(fabs(axis_values(&cfg, 0)[1] - 1.0), 1e-15);
    qtm_config_free(&cfg);
  }
}

Test(config_load, file_io_and_free) {
  /* from file and io error */
  {
    char path[] = "/tmp/qtm_test_config_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "w");
    cr_assert_not_null(f);
    cr_assert_eq(fputs(example, f) >= 0, 1);
    cr_assert_eq(fclose(f), 0);
    qtm_config cfg;
    char err[2048] = "";
    qtm_status st = qtm_config_load(path, NULL, 0, &cfg, err, sizeof err);
    unlink(path);
    cr_assert_eq(st, QTM_OK, "%s", err);
    cr_assert_str_eq(cfg.path, path);
    cr_assert_str_eq(cfg.text, example);
    qtm_config_free(&cfg);

    st = qtm_config_load("/nonexistent/scan.yaml", NULL, 0, &cfg, err, sizeof err);
    cr_assert_eq(st, QTM_ERR_IO);
    cr_assert_str_eq(err, "/nonexistent/scan.yaml: No such file or directory");
    qtm_config_free(&cfg);
  }
  /* free is safe */
  {
    qtm_config cfg;
    memset(&cfg, 0, sizeof cfg);
    qtm_config_free(&cfg);
    qtm_config_free(&cfg);
    qtm_config_free(NULL);
    cfg = load_ok(example, NULL, 0);
    qtm_config_free(&cfg);
    qtm_config_free(&cfg);
  }
}

/* ---- unknown keys and names ------------------------------------------------------------------ */

Test(config_keys, unknown_keys) {
  /* unknown top level key */
  {
    expect_error(AXIS_TL FIXED OBS OUT "colour: blue\n", NULL, 0, "colour", 1,
                 "unknown key 'colour'", "title, axes, fixed, observables, output, analysis", NULL);
  }
  /* unknown output key */
  {
    expect_error(AXIS_TL FIXED OBS "output: {path: o.h5, level: 3}\n", NULL, 0, "level", 1,
                 "unknown key 'level' in output", "path, dtype, compression, tile_points", NULL);
  }
  /* unknown spacing key */
  {
    expect_error("axes:\n  - TL: {linear: [0.05, 5.0, 100]}\n" FIXED OBS OUT, NULL, 0, "linear", 1,
                 "unknown key 'linear' in the spacing of axis TL", "lin, log, values", NULL);
  }
  /* unknown axis */
  {
    expect_error("axes:\n  - Tleft: {lin: [0.05, 5.0, 100]}\n" FIXED OBS OUT, NULL, 0, "Tleft", 1,
                 "unknown axis 'Tleft'",
                 "omega, TL, TR, gammaL, gammaR, g, epsL, epsR, eps_a, N, T, "
                 "DeltaT, gamma_ratio",
                 NULL);
  }
  /* unknown fixed parameter */
  {
    expect_error(AXIS_TL "fixed: {TR: 0.0, gammaL: 0.01, gammaR: 0.02, g: 0.1, Tr: 1}\n" OBS OUT,
                 NULL, 0, "Tr: 1", 1, "unknown parameter 'Tr' in fixed", "omega, TL, TR", NULL);
  }
  /* missing required key */
  { expect_error(AXIS_TL FIXED OUT, NULL, 0, "axes", 1, "no 'observables'", NULL); }
}

Test(config_keys, observable_names) {
  /* unknown observable */
  {
    expect_error(AXIS_TL FIXED "observables: [J, Jglobal]\n" OUT, NULL, 0, "Jglobal", 1,
                 "unknown observable 'Jglobal'", "J_global", "contrast_global",
                 "entropy_production", NULL);
  }
  /* duplicate observable */
  {
    const char *t = AXIS_TL FIXED "observables: [J, contrast, J]\n" OUT;
    int line, col;
    pos_of(t, "J, contrast", 1, &line, &col);
    char first[64];
    snprintf(first, sizeof first, "first at " NAME ":%d:%d", line, col);
    expect_error(t, NULL, 0, "J]", 1, "observable J is listed twice", first, NULL);
  }
}

Test(config_keys, duplicate_key, .init = cr_redirect_stderr) {
  expect_error(AXIS_TL FIXED OBS OUT "fixed: {g: 1}\n", NULL, 0, "fixed", 2,
               "duplicate key 'fixed'", NULL);
  fflush(stderr);
  cr_assert_stderr_eq_str("", "libfyaml must not print");
}

/* ---- observables that apply nowhere ---------------------------------------------------------- */

Test(config_domain, applies_nowhere) {
  /* global with fermionic bath */
  {
    expect_error(
        AXIS_TL "fixed: {TR: 0.0, gammaL: 0.01, gammaR: 0.02, g: 0.1, epsL: -1}\n"
                "observables: [J, contrast_global]\n" OUT,
        NULL, 0, "contrast_global", 1,
        "contrast_global is defined only for two qubits between bosonic baths with 0 < g < "
        "omega (FORMULAS.md section 7); in this scan epsL is always -1",
        NULL);
  }
  /* populations of oscillators */
  {
    expect_error(AXIS_TL "fixed: {TR: 0.0, gammaL: 0.01, gammaR: 0.02, g: 0.1, eps_a: 1}\n"
                         "observables: [p1]\n" OUT,
                 NULL, 0, "p1", 1, "p1 is defined only for two qubits", "eps_a is always 1", NULL);
  }
  /* coherence of a chain */
  {
    expect_error(AXIS_TL "fixed: {TR: 0.0, gammaL: 0.01, gammaR: 0.02, g: 0.1, N: 3}\n"
                         "observables: [coherence]\n" OUT,
                 NULL, 0, "coherence", 1, "coherence is defined only for two subsystems (N = 2)",
                 "N is always 3", NULL);
  }
  /* global with strong coupling only */
  {
    expect_error("axes:\n  - g: {values: [0, 1.5]}\n"
                 "fixed: {TL: 1, TR: 0.0, gammaL: 0.01, gammaR: 0.02}\n"
                 "observables: [kappa_global]\n" OUT,
                 NULL, 0, "kappa_global", 1, "no point has 0 < g < omega", NULL);
  }
}

Test(config_domain, applies_somewhere) {
  /* epsL scanned over {-1, 1}: the global contrast is NaN on half the map, not an error */
  qtm_config cfg = load_ok(AXIS_TL "  - epsL: {values: [-1, 1]}\n" FIXED
                                   "observables: [contrast_global, ndtc_threshold, p1]\n" OUT,
                           NULL, 0);
  cr_assert_eq(cfg.nobs, 3);
  qtm_config_free(&cfg);
}

/* ---- parameters given once ------------------------------------------------------------------- */

Test(config_params, missing) {
  /* missing parameter */
  {
    const char *t = AXIS_TL "fixed: {TR: 0.0, gammaL: 0.01, gammaR: 0.02}\n" OBS OUT;
    expect_error(t, NULL, 0, "{TR: 0.0", 1, "g is not given", "fixed: {g: ...}", NULL);
    expect_error("axes: []\n" OBS OUT, NULL, 0, "axes", 1, "TL is not given",
                 "an axis on TL, T or DeltaT", NULL);
  }
  /* DeltaT without TR */
  {
    const char *t = "axes:\n  - DeltaT: {lin: [0, 1, 11]}\n"
                    "fixed: {gammaL: 0.01, gammaR: 0.02, g: 0.1}\n" OBS OUT;
    expect_error(t, NULL, 0, "DeltaT", 1, "axis DeltaT needs TR", NULL);
    t = "axes:\n  - gamma_ratio: {lin: [0.5, 1, 2]}\n"
        "fixed: {TL: 1, TR: 0, g: 0.1}\n" OBS OUT;
    expect_error(t, NULL, 0, "gamma_ratio", 1, "axis gamma_ratio needs gammaR", NULL);
  }
}

Test(config_params, given_twice) {
  /* fixed and scanned */
  {
    const char *t = AXIS_TL "fixed: {TR: 0.0, gammaL: 0.01, gammaR: 0.02, g: 0.1, TL: 1}\n" OBS OUT;
    int line, col;
    pos_of(t, "TL: {lin", 1, &line, &col);
    char axis_at[64];
    snprintf(axis_at, sizeof axis_at, "scanned by axis TL at " NAME ":%d:%d", line, col);
    expect_error(t, NULL, 0, "TL: 1", 1, "fixed.TL: TL is given twice: fixed here", axis_at, NULL);
  }
  /* T with TL */
  {
    const char *t = "axes:\n  - T: {lin: [0.1, 2, 20]}\n"
                    "fixed: {TL: 1, gammaL: 0.01, gammaR: 0.02, g: 0.1}\n" OBS OUT;
    expect_error(t, NULL, 0, "TL: 1", 1, "TL is given twice", "set by axis T at " NAME ":2:5",
                 "T sets TL = TR = T", NULL);
    /* two axes on the same parameter: the second is blamed */
    t = "axes:\n  - TR: {lin: [0, 1, 3]}\n  - T: {lin: [0.1, 2, 20]}\n"
        "fixed: {gammaL: 0.01, gammaR: 0.02, g: 0.1}\n" OBS OUT;
    expect_error(t, NULL, 0, "T: {", 1, "axis T: TR is given twice", "by axis TR at " NAME ":2:5",
                 NULL);
  }
  /* DeltaT with TL */
  {
    const char *t = "axes:\n  - DeltaT: {lin: [0, 1, 11]}\n"
                    "fixed: {TR: 0.1, TL: 1, gammaL: 0.01, gammaR: 0.02, g: 0.1}\n" OBS OUT;
    expect_error(t, NULL, 0, "TL: 1", 1, "fixed.TL: TL is given twice",
                 "set by axis DeltaT at " NAME ":2:5", "DeltaT sets TL = TR + DeltaT", NULL);
  }
  /* gamma ratio with gammaL */
  {
    const char *t = "axes:\n  - gamma_ratio: {log: [0.01, 1, 5]}\n"
                    "fixed: {TL: 1, TR: 0, gammaL: 0.01, gammaR: 0.02, g: 0.1}\n" OBS OUT;
    expect_error(t, NULL, 0, "gammaL", 1, "fixed.gammaL: gammaL is given twice",
                 "set by axis gamma_ratio at " NAME ":2:5", NULL);
  }
  /* derived axis fixed */
  {
    expect_error(AXIS_TL "fixed: {T: 1, gammaL: 0.01, gammaR: 0.02, g: 0.1}\n" OBS OUT, NULL, 0,
                 "T: 1", 1, "T can only be an axis", NULL);
  }
}

/* ---- axes ------------------------------------------------------------------------------------ */

Test(config_axes, values_lists) {
  /* empty values */
  {
    expect_error("axes:\n  - g: {values: []}\n" FIXED OBS OUT, NULL, 0, "[]", 1,
                 "axis g: values is empty", NULL);
  }
  /* non monotonic values */
  {
    expect_error("axes:\n  - g: {values: [0.1, 0.5, 0.3]}\n" FIXED OBS OUT, NULL, 0, "0.3", 1,
                 "axis g: values must be strictly increasing or strictly decreasing",
                 "entry 3 (0.3)", NULL);
    expect_error("axes:\n  - g: {values: [0.1, 0.1]}\n" FIXED OBS OUT, NULL, 0, "0.1", 2,
                 "entry 2 (0.1)", NULL);
  }
}

Test(config_axes, ranges) {
  /* count one */
  {
    expect_error("axes:\n  - TL: {lin: [0.05, 5.0, 1]}\n" FIXED OBS OUT, NULL, 0, "1]", 1,
                 "axis TL: lin count must be an integer >= 2, found 1", "values: [x]", NULL);
  }
  /* count fraction */
  {
    expect_error("axes:\n  - TL: {log: [0.05, 5.0, 2.5]}\n" FIXED OBS OUT, NULL, 0, "2.5", 1,
                 "axis TL: log count must be an integer, found 2.5", NULL);
  }
  /* count string */
  {
    /* libfyaml's position of a quoted scalar is its first character inside the quotes */
    expect_error("axes:\n  - TL: {lin: [0.05, 5.0, \"abc\"]}\n" FIXED OBS OUT, NULL, 0, "abc", 1,
                 "axis TL: lin count must be an integer, found the string \"abc\"",
                 "quoted values are strings", NULL);
  }
  /* log start not positive */
  {
    expect_error("axes:\n  - gamma_ratio: {log: [0, 1, 10]}\n"
                 "fixed: {TL: 1, TR: 0, gammaR: 0.02, g: 0.1}\n" OBS OUT,
                 NULL, 0, "0, 1", 1, "axis gamma_ratio: log start must be > 0", "found 0", NULL);
  }
  /* range not three numbers */
  {
    expect_error("axes:\n  - TL: {lin: [0.05, 5.0]}\n" FIXED OBS OUT, NULL, 0, "[0.05", 1,
                 "axis TL: lin must be a list [start, stop, count]", "a list of 2 entries", NULL);
    expect_error("axes:\n  - TL: {lin: [1, 1, 5]}\n" FIXED OBS OUT, NULL, 0, "1, 5", 1,
                 "start and stop are equal", NULL);
  }
}

Test(config_axes, shapes) {
  /* spacing not a mapping */
  {
    expect_error("axes:\n  - TL: [0.05, 5.0, 100]\n" FIXED OBS OUT, NULL, 0, "[0.05", 1,
                 "axis TL: the spacing must be {lin: [start, stop, count]}", "found a list", NULL);
    expect_error("axes:\n  - TL: {lin: [0, 1, 3], values: [1]}\n" FIXED OBS OUT, NULL, 0, "values",
                 1, "axis TL: give one of lin, log or values", NULL);
  }
  /* two axes in one entry */
  {
    expect_error("axes:\n  - TL: {lin: [0, 1, 3]}\n    g: {values: [1]}\n"
                 "fixed: {TR: 0.0, gammaL: 0.01, gammaR: 0.02}\n" OBS OUT,
                 NULL, 0, "g:", 1, "each entry of axes names one axis", "'g'", NULL);
  }
  /* too many axes */
  {
    expect_error("axes:\n  - omega: {values: [1]}\n  - TL: {values: [1]}\n  - TR: {values: [1]}\n"
                 "  - gammaL: {values: [1]}\n  - gammaR: {values: [1]}\n  - g: {values: [1]}\n"
                 "  - epsL: {values: [1]}\n  - epsR: {values: [1]}\n  - eps_a: {values: [-1]}\n"
                 "  - N: {values: [2]}\n" OBS OUT,
                 NULL, 0, "N:", 1, "too many axes (at most 9)", NULL);
  }
}

Test(config_axes, N_integers) {
  expect_error(AXIS_TL "  - N: {values: [1, 2.5]}\n" FIXED OBS OUT, NULL, 0, "2.5", 1,
               "axis N: the chain length N must be an integer, found 2.5", NULL);
  expect_error(AXIS_TL "  - N: {lin: [1, 4, 7]}\n" FIXED OBS OUT, NULL, 0, "[1, 4", 1, "axis N",
               "N = 1.5", NULL);
  expect_error(AXIS_TL "fixed: {TR: 0.0, gammaL: 0.01, gammaR: 0.02, g: 0.1, N: 2.5}\n" OBS OUT,
               NULL, 0, "2.5", 1, "fixed.N must be an integer, found 2.5", NULL);
}

/* ---- types and numbers ----------------------------------------------------------------------- */

Test(config_types, wrong_types) {
  /* string for a number */
  {
    expect_error(AXIS_TL "fixed: {TR: \"0.1\", gammaL: 0.01, gammaR: 0.02, g: 0.1}\n" OBS OUT, NULL,
                 0, "0.1\"", 1, "fixed.TR must be a number, found the string \"0.1\"", NULL);
    expect_error(AXIS_TL "fixed: {TR: cold, gammaL: 0.01, gammaR: 0.02, g: 0.1}\n" OBS OUT, NULL, 0,
                 "cold", 1, "fixed.TR must be a number, found cold", NULL);
  }
  /* mapping for axes */
  {
    expect_error("axes: {TL: {lin: [0.05, 5.0, 100]}}\n" FIXED OBS OUT, NULL, 0, "{TL", 1,
                 "axes must be a list", "found a mapping", NULL);
  }
  /* other wrong types */
  {
    expect_error(AXIS_TL "fixed: [1, 2]\n" OBS OUT, NULL, 0, "[1, 2]", 1, "fixed must be a mapping",
                 NULL);
    expect_error(AXIS_TL FIXED "observables: J\n" OUT, NULL, 0, "J", 1,
                 "observables must be a list of names", NULL);
    expect_error(AXIS_TL FIXED OBS "output: o.h5\n", NULL, 0, "o.h5", 1, "output must be a mapping",
                 NULL);
    expect_error(AXIS_TL FIXED OBS OUT "title: [a]\n", NULL, 0, "[a]", 1,
                 "title must be a string, found a list", NULL);
  }
}

Test(config_types, non_finite) {
  expect_error("axes:\n  - TL: {lin: [0.05, .inf, 100]}\n" FIXED OBS OUT, NULL, 0, ".inf", 1,
               "axis TL: lin stop must be a finite number, found .inf", NULL);
  expect_error(AXIS_TL "fixed: {TR: .nan, gammaL: 0.01, gammaR: 0.02, g: 0.1}\n" OBS OUT, NULL, 0,
               ".nan", 1, "fixed.TR must be a finite number, found .nan", NULL);
  expect_error(AXIS_TL "fixed: {TR: 1e400, gammaL: 0.01, gammaR: 0.02, g: 0.1}\n" OBS OUT, NULL, 0,
               "1e400", 1, "fixed.TR must be a finite number, found 1e400", NULL);
}

/* ---- physics at the corners ------------------------------------------------------------------ */

Test(config_physics, corners) {
  /* negative temperature on an axis */
  {
    expect_error("axes:\n  - g: {values: [0.1, 0.2]}\n  - TL: {lin: [-1, 5.0, 100]}\n"
                 "fixed: {TR: 0.0, gammaL: 0.01, gammaR: 0.02}\n" OBS OUT,
                 NULL, 0, "TL", 1, "axis TL: TL = -1 is invalid: temperatures must be >= 0", NULL);
  }
  /* negative rate from gamma ratio */
  {
    expect_error("axes:\n  - gamma_ratio: {values: [-0.5, 1]}\n"
                 "fixed: {TL: 1, TR: 0, gammaR: 0.02, g: 0.1}\n" OBS OUT,
                 NULL, 0, "gamma_ratio", 1,
                 "axis gamma_ratio: gammaL = -0.01 is invalid: rates must be >= 0",
                 "gamma_ratio = -0.5 and gammaR = 0.02", NULL);
  }
  /* negative temperature from DeltaT */
  {
    expect_error("axes:\n  - DeltaT: {lin: [-1, 1, 3]}\n"
                 "fixed: {TR: 0.5, gammaL: 0.01, gammaR: 0.02, g: 0.1}\n" OBS OUT,
                 NULL, 0, "DeltaT", 1,
                 "axis DeltaT: TL = -0.5 is invalid: temperatures must be >= 0",
                 "TR = 0.5 and DeltaT = -1", NULL);
  }
  /* a bad base is blamed on its own entry, not on the derived axis it spoils */
  {
    expect_error("axes:\n  - gamma_ratio: {values: [0.5, 1]}\n"
                 "fixed: {TL: 1, TR: 0, gammaR: -0.02, g: 0.1}\n" OBS OUT,
                 NULL, 0, "-0.02", 1, "fixed.gammaR: gammaR = -0.02 is invalid", NULL);
  }
  /* statistics out of range */
  {
    expect_error(
        AXIS_TL "fixed: {TR: 0.0, gammaL: 0.01, gammaR: 0.02, g: 0.1, epsL: 1.5}\n" OBS OUT, NULL,
        0, "1.5", 1, "fixed.epsL: epsL = 1.5 is invalid: statistics must lie in [-1, 1]", NULL);
    expect_error(AXIS_TL "  - epsR: {lin: [-1, 1.25, 4]}\n" FIXED OBS OUT, NULL, 0, "epsR", 1,
                 "axis epsR: epsR = 1.25 is invalid", NULL);
  }
}

/* ---- output ---------------------------------------------------------------------------------- */

Test(config_output, errors) {
  /* bad dtype */
  {
    expect_error(AXIS_TL FIXED OBS "output: {path: o.h5, dtype: float16}\n", NULL, 0, "float16", 1,
                 "output.dtype must be float32 or float64, found float16", NULL);
  }
  /* bad compression */
  {
    expect_error(AXIS_TL FIXED OBS "output: {path: o.h5, compression: gzip-10}\n", NULL, 0,
                 "gzip-10", 1, "output.compression must be none or gzip-1 ... gzip-9",
                 "found gzip-10", NULL);
    expect_error(AXIS_TL FIXED OBS "output: {path: o.h5, compression: zstd}\n", NULL, 0, "zstd", 1,
                 "found zstd", NULL);
  }
  /* zero tile points */
  {
    expect_error(AXIS_TL FIXED OBS "output: {path: o.h5, tile_points: 0}\n", NULL, 0, "0}", 1,
                 "output.tile_points must be an integer >= 1, found 0", NULL);
  }
  /* missing path */
  {
    expect_error(AXIS_TL FIXED OBS "output: {dtype: float64}\n", NULL, 0, "{dtype", 1,
                 "output.path is missing", NULL);
  }
}

/* ---- not a config at all --------------------------------------------------------------------- */

Test(config_text, not_a_config, .init = cr_redirect_stderr) {
  /* zero bytes */
  {
    qtm_config cfg;
    char err[2048] = "";
    check_failed(qtm_config_load_text(NAME, "", 0, NULL, 0, &cfg, err, sizeof err), &cfg, err);
    cr_assert(strncmp(err, NAME ":1:1: the file holds no YAML document", 39) == 0, "%s", err);
    qtm_config_free(&cfg);
  }
  /* not yaml */
  {
    /* an unclosed flow list is reported where the text ends: line 3, column 1 */
    const char *unclosed = "axes: [1, 2\nfixed: {TR: 0}\n";
    qtm_config c;
    char e[2048] = "";
    check_failed(load(unclosed, NULL, 0, &c, e, sizeof e), &c, e);
    cr_assert_str_eq(e, NAME ":3:1: invalid YAML: flow sequence without a closing bracket");
    expect_error("this is: not: yaml\n", NULL, 0, ": yaml", 1, "invalid YAML", NULL);
    qtm_config cfg;
    char err[2048] = "";
    static const char binary[] = "PK\x03\x04\x14\x00\x00\x00";
    check_failed(
        qtm_config_load_text(NAME, binary, sizeof binary - 1, NULL, 0, &cfg, err, sizeof err), &cfg,
        err);
    cr_assert_str_eq(err, NAME ":1:6: a NUL byte: this is not a YAML text");
  }
  /* scalar document */
  {
    expect_error("just some words\n", NULL, 0, "just", 1, "a config must be a mapping",
                 "found the scalar 'just some words'", NULL);
  }
  /* two documents */
  {
    expect_error(AXIS_TL FIXED OBS OUT "---\nb: 1\n", NULL, 0, "b: 1", 1,
                 "a second YAML document starts here", NULL);
  }
  fflush(stderr);
  cr_assert_stderr_eq_str("", "libfyaml must not print");
}

/* ---- --set ----------------------------------------------------------------------------------- */

Test(config_set, overrides) {
  /* override fixed value */
  {
    const char *sets[] = {"fixed.TR=0.25"};
    qtm_config cfg = load_ok(AXIS_TL FIXED OBS OUT, sets, 1);
    cr_assert_eq(cfg.grid.desc.fixed.TR, 0.25);
    cr_assert_not_null(strstr(cfg.text, "TR: 0.25"), "the effective config: %s", cfg.text);
    /* the re-emitted text is a config that loads to the same scan */
    qtm_config again = load_ok(cfg.text, NULL, 0);
    cr_assert_eq(again.grid.desc.fixed.TR, 0.25);
    cr_assert_eq(again.grid.npoints, cfg.grid.npoints);
    cr_assert_eq(
        memcmp(again.grid.values, cfg.grid.values, sizeof(double) * (size_t)cfg.grid.nvalues), 0);
    qtm_config_free(&again);
    qtm_config_free(&cfg);
    /* the last override of a key wins */
    const char *twice[] = {"fixed.TR=0.25", "fixed.TR=0.5"};
    cfg = load_ok(AXIS_TL FIXED OBS OUT, twice, 2);
    cr_assert_eq(cfg.grid.desc.fixed.TR, 0.5);
    qtm_config_free(&cfg);
  }
  /* add fixed key */
  {
    const char *text = AXIS_TL "fixed: {TR: 0.0, gammaL: 0.01, gammaR: 0.02}\n" OBS OUT;
    const char *sets[] = {"fixed.g=0.3", "title=My scan", "output.dtype=float64"};
    qtm_config cfg = load_ok(text, sets, 3);
    cr_assert_eq(cfg.grid.desc.fixed.g, 0.3);
    cr_assert_str_eq(cfg.title, "My scan");
    cr_assert_eq(cfg.dtype, QTM_DTYPE_F64);
    qtm_config_free(&cfg);
  }
  /* replace observables and axes */
  {
    const char *sets[] = {"observables=[J, contrast]"};
    qtm_config cfg = load_ok(AXIS_TL FIXED OBS OUT, sets, 1);
    cr_assert_eq(cfg.nobs, 2);
    cr_assert(cfg.obs[0] == QTM_OBS_J && cfg.obs[1] == QTM_OBS_contrast);
    qtm_config_free(&cfg);

    const char *axes[] = {"axes=[{T: {lin: [0.1, 2, 50]}}]",
                          "fixed={gammaL: 0.01, gammaR: 0.02, g: 0.1}"};
    cfg = load_ok(AXIS_TL FIXED OBS OUT, axes, 2);
    cr_assert_eq(cfg.grid.desc.axis_id[0], QTM_AXIS_T);
    cr_assert_eq(cfg.grid.desc.shape[0], 50);
    qtm_config_free(&cfg);

    /* the file's fixed TR now collides with the override's T axis: the file entry is blamed and
     * the other place is the override */
    const char *t = AXIS_TL FIXED OBS OUT;
    expect_error(t, axes, 1, "TR", 1, "fixed.TR: TR is given twice",
                 "set by axis T at --set axes=[{T: {lin: [0.1, 2, 50]}}]", NULL);
  }
}

Test(config_set, collisions) {
  const char *text = AXIS_TL "  - g: {values: [0.1, 0.2]}\n"
                             "fixed: {TR: 0.0, gammaL: 0.01, gammaR: 0.02}\n" OBS OUT;
  int line, col;
  pos_of(text, "g: {", 1, &line, &col);
  char axis_at[64];
  snprintf(axis_at, sizeof axis_at, "scanned by axis g at " NAME ":%d:%d", line, col);
  const char *sets[] = {"fixed.g=0.1"};
  expect_set_error(text, sets, 1, 0, "g is given twice", axis_at, NULL);
}

Test(config_set, errors) {
  /* errors in override values */
  {
    const char *t = AXIS_TL FIXED OBS OUT;
    const char *bad_number[] = {"fixed.TR=warm"};
    expect_set_error(t, bad_number, 1, 0, "fixed.TR must be a number, found warm", NULL);
    const char *bad_obs[] = {"fixed.TR=0.1", "observables=[J, Jx]"};
    expect_set_error(t, bad_obs, 2, 1, "unknown observable 'Jx'", NULL);
    const char *bad_yaml[] = {"fixed.TR=[1"};
    expect_set_error(t, bad_yaml, 1, 0, "the value is not valid YAML", NULL);
    const char *empty[] = {"fixed.TR="};
    expect_set_error(t, empty, 1, 0, "the value is empty", NULL);
    const char *unknown[] = {"fixd.TR=1"};
    expect_set_error(t, unknown, 1, 0, "unknown key 'fixd' in the config", NULL);
  }
  /* malformed */
  {
    const char *t = AXIS_TL FIXED OBS OUT;
    const char *no_eq[] = {"fixed.TR"};
    expect_set_error(t, no_eq, 1, 0, "expected KEY=VALUE", NULL);
    const char *bad_key[] = {"fixed..TR=1"};
    expect_set_error(t, bad_key, 1, 0, "KEY must be a dot path", NULL);
    const char *no_key[] = {"=1"};
    expect_set_error(t, no_key, 1, 0, "KEY must be a dot path", NULL);
  }
  /* scalar parent */
  {
    const char *t = AXIS_TL FIXED OBS OUT;
    const char *sets[] = {"output.path.name=x"};
    expect_set_error(t, sets, 1, 0, "output.path is not a mapping", "no key 'name'", NULL);
    const char *seq[] = {"axes.TL=1"};
    expect_set_error(t, seq, 1, 0, "axes is not a mapping (it holds a list)", NULL);
  }
}

/* ---- analysis -------------------------------------------------------------------------------- */

/* Three axes, TL (position 0), g (1) and TR (2), and nothing else of note. */
#define AXES3 AXIS_TL "  - g: {values: [0.1, 0.5]}\n  - TR: {values: [0.0, 0.1]}\n"
#define FIXED3 "fixed: {gammaL: 0.01, gammaR: 0.02}\n"
#define BASE3 AXES3 FIXED3 OBS OUT

static qtm_analysis_spec load_spec(const char *text, const char *const *sets, int nsets) {
  qtm_config cfg = load_ok(text, sets, nsets);
  qtm_analysis_spec spec = cfg.analysis;
  qtm_config_free(&cfg);
  return spec;
}

static void expect_spec(const qtm_analysis_spec *s, int noptimize, const int *optimize, int top_k,
                        double min_current, int refine) {
  cr_assert_eq(s->enabled, 1);
  cr_assert_eq(s->noptimize, noptimize);
  for (int i = 0; i < noptimize; ++i)
    cr_assert_eq(s->optimize[i], optimize[i], "optimize[%d]: %d, expected %d", i, s->optimize[i],
                 optimize[i]);
  cr_assert_eq(s->top_k, top_k);
  cr_assert_eq(s->min_current, min_current);
  cr_assert_eq(s->refine, refine);
}

Test(config_analysis, absent_and_defaults) {
  /* absent: disabled */
  {
    qtm_analysis_spec s = load_spec(BASE3, NULL, 0);
    cr_assert_eq(s.enabled, 0);
    cr_assert_eq(s.noptimize, 0);
  }
  /* empty mapping: enabled with every default */
  {
    qtm_analysis_spec s = load_spec(BASE3 "analysis: {}\n", NULL, 0);
    expect_spec(&s, 0, NULL, 10, 0.0, 0);
    cr_assert_eq(s.no_point_maps, 0, "the per-point maps are stored by default");
    s = load_spec(BASE3 "analysis: {optimize: []}\n", NULL, 0);
    expect_spec(&s, 0, NULL, 10, 0.0, 0);
  }
}

Test(config_analysis, every_key) {
  /* flow style; optimize in any order is stored as ascending positions in the axis list */
  {
    qtm_analysis_spec s = load_spec(
        BASE3 "analysis: {optimize: [TR, TL], top_k: 0, min_current: 1e-6, refine: true}\n", NULL,
        0);
    expect_spec(&s, 2, (const int[]){0, 2}, 0, 1e-6, 1);
  }
  /* block style; every axis optimised (the maxima are scalars); the largest top_k */
  {
    qtm_analysis_spec s = load_spec(BASE3 "analysis:\n"
                                          "  optimize: [g, TR, TL]\n"
                                          "  top_k: 100000\n"
                                          "  min_current: 0.25\n"
                                          "  refine: false\n",
                                    NULL, 0);
    expect_spec(&s, 3, (const int[]){0, 1, 2}, 100000, 0.25, 0);
  }
  /* point_maps: false leaves the reductions as they are */
  {
    qtm_analysis_spec s = load_spec(BASE3 "analysis: {top_k: 3, point_maps: false}\n", NULL, 0);
    expect_spec(&s, 0, NULL, 3, 0.0, 0);
    cr_assert_eq(s.no_point_maps, 1);
    s = load_spec(BASE3 "analysis: {point_maps: true}\n", NULL, 0);
    cr_assert_eq(s.no_point_maps, 0);
    const char *off[] = {"analysis.point_maps=false"};
    s = load_spec(BASE3 "analysis: {top_k: 4}\n", off, 1);
    expect_spec(&s, 0, NULL, 4, 0.0, 0);
    cr_assert_eq(s.no_point_maps, 1);
  }
  /* integers in other spellings; core-schema boolean spellings; a derived axis by name */
  {
    qtm_analysis_spec s = load_spec(
        BASE3 "analysis: {optimize: [g], top_k: 1e2, min_current: 0, refine: TRUE}\n", NULL, 0);
    expect_spec(&s, 1, (const int[]){1}, 100, 0.0, 1);
    s = load_spec(BASE3 "analysis: {refine: !!bool False}\n", NULL, 0);
    expect_spec(&s, 0, NULL, 10, 0.0, 0);
    s = load_spec("axes:\n  - DeltaT: {lin: [0, 1, 3]}\n  - gamma_ratio: {values: [0.5, 1]}\n"
                  "fixed: {TR: 0.1, gammaR: 0.02, g: 0.1}\n" OBS OUT
                  "analysis: {optimize: [gamma_ratio]}\n",
                  NULL, 0);
    expect_spec(&s, 1, (const int[]){1}, 10, 0.0, 0);
  }
}

Test(config_analysis, section_and_keys) {
  /* not a mapping */
  {
    expect_error(BASE3 "analysis: [TL]\n", NULL, 0, "[TL]", 1,
                 "analysis must be a mapping such as {optimize: [TL, TR], top_k: 10} ({} for the "
                 "defaults), found a list",
                 NULL);
    expect_error(BASE3 "analysis:\n", NULL, 0, "analysis", 1, "analysis must be a mapping",
                 "found nothing (null)", NULL);
  }
  /* unknown key */
  {
    expect_error(BASE3 "analysis: {optimise: [TL]}\n", NULL, 0, "optimise", 1,
                 "unknown key 'optimise' in analysis; valid keys: optimize, top_k, min_current, "
                 "refine, point_maps",
                 NULL);
  }
}

Test(config_analysis, optimize_errors) {
  /* a parameter that is not scanned, and a name that is no axis at all */
  {
    expect_error(BASE3 "analysis: {optimize: [TL, gammaL]}\n", NULL, 0, "gammaL]", 1,
                 "analysis.optimize: 'gammaL' is not an axis of this scan; the scan's axes are TL, "
                 "g, TR",
                 NULL);
    expect_error(BASE3 "analysis: {optimize: [Tleft]}\n", NULL, 0, "Tleft", 1,
                 "'Tleft' is not an axis of this scan", NULL);
    expect_error("axes: []\nfixed: {TL: 1, TR: 0, gammaL: 0.01, gammaR: 0.02, g: 0.1}\n" OBS OUT
                 "analysis: {optimize: [TL]}\n",
                 NULL, 0, "TL]", 1, "'TL' is not an axis of this scan",
                 "the scan's axes are none (axes: [])", NULL);
  }
  /* duplicate, with the place of the first */
  {
    const char *t = BASE3 "analysis: {optimize: [TL, g, TL]}\n";
    int line, col;
    pos_of(t, "TL, g, TL", 1, &line, &col);
    char first[64];
    snprintf(first, sizeof first, "(first at " NAME ":%d:%d)", line, col);
    expect_error(t, NULL, 0, "TL]", 1, "analysis.optimize: axis TL is listed twice", first, NULL);
  }
  /* not a list; an entry that is not a name */
  {
    expect_error(BASE3 "analysis: {optimize: TL}\n", NULL, 0, "TL}", 1,
                 "analysis.optimize must be a list of axis names such as [TL, TR] ([] for no "
                 "maxima maps), found TL",
                 NULL);
    expect_error(BASE3 "analysis: {optimize: [[TL]]}\n", NULL, 0, "[TL]]", 1,
                 "each entry of analysis.optimize must be a string, found a list", NULL);
  }
}

Test(config_analysis, value_errors) {
  /* top_k */
  {
    expect_error(BASE3 "analysis: {top_k: -1}\n", NULL, 0, "-1", 1,
                 "analysis.top_k must be an integer from 0 to 100000, found -1", NULL);
    expect_error(BASE3 "analysis: {top_k: 2.5}\n", NULL, 0, "2.5", 1,
                 "analysis.top_k must be an integer, found 2.5", NULL);
    expect_error(BASE3 "analysis: {top_k: 1e6}\n", NULL, 0, "1e6", 1,
                 "analysis.top_k must be an integer from 0 to 100000, found 1e6", NULL);
    expect_error(BASE3 "analysis: {top_k: ten}\n", NULL, 0, "ten", 1,
                 "analysis.top_k must be an integer, found ten", NULL);
  }
  /* min_current */
  {
    expect_error(BASE3 "analysis: {min_current: -1}\n", NULL, 0, "-1", 1,
                 "analysis.min_current must be >= 0 (a bound on |J| in the favoured direction), "
                 "found -1",
                 NULL);
    expect_error(BASE3 "analysis: {min_current: .inf}\n", NULL, 0, ".inf", 1,
                 "analysis.min_current must be a finite number, found .inf", NULL);
    /* the position of a quoted scalar is its first character inside the quotes */
    expect_error(BASE3 "analysis: {min_current: \"abc\"}\n", NULL, 0, "abc", 1,
                 "analysis.min_current must be a number, found the string \"abc\"",
                 "quoted values are strings", NULL);
  }
  /* refine */
  {
    expect_error(BASE3 "analysis: {refine: maybe}\n", NULL, 0, "maybe", 1,
                 "analysis.refine must be true or false, found maybe", NULL);
    expect_error(BASE3 "analysis: {refine: 1}\n", NULL, 0, "1}", 1,
                 "analysis.refine must be true or false, found 1", NULL);
    expect_error(BASE3 "analysis: {refine: yes}\n", NULL, 0, "yes", 1,
                 "analysis.refine must be true or false, found yes",
                 "YAML 1.1 spellings such as yes/no/on/off are not booleans here", NULL);
    expect_error(BASE3 "analysis: {refine: \"true\"}\n", NULL, 0, "true", 1,
                 "analysis.refine must be true or false, found the string \"true\"",
                 "quoted values are strings", NULL);
    /* libfyaml places a tagged scalar at its text, after the tag */
    expect_error(BASE3 "analysis: {refine: !!str true}\n", NULL, 0, "true}", 1,
                 "analysis.refine must be true or false, found a value tagged as something else "
                 "(true)",
                 NULL);
    expect_error(BASE3 "analysis: {refine: ~}\n", NULL, 0, "~", 1,
                 "analysis.refine must be true or false, found nothing (null)", NULL);
  }
  /* point_maps */
  {
    expect_error(BASE3 "analysis: {point_maps: off}\n", NULL, 0, "off", 1,
                 "analysis.point_maps must be true or false, found off",
                 "YAML 1.1 spellings such as yes/no/on/off are not booleans here", NULL);
    expect_error(BASE3 "analysis: {point_maps: 0}\n", NULL, 0, "0}", 1,
                 "analysis.point_maps must be true or false, found 0", NULL);
  }
}

Test(config_analysis, overrides) {
  /* keys added to a config without the section: the section appears with the other defaults */
  {
    const char *top_k[] = {"analysis.top_k=5"};
    qtm_analysis_spec s = load_spec(BASE3, top_k, 1);
    expect_spec(&s, 0, NULL, 5, 0.0, 0);
    const char *optimize[] = {"analysis.optimize=[TR, g]"};
    s = load_spec(BASE3, optimize, 1);
    expect_spec(&s, 2, (const int[]){1, 2}, 10, 0.0, 0);
    const char *refine[] = {"analysis.refine=true", "analysis.min_current=0.5"};
    s = load_spec(BASE3, refine, 2);
    expect_spec(&s, 0, NULL, 10, 0.5, 1);
    const char *whole[] = {"analysis={optimize: [TL]}"};
    s = load_spec(BASE3, whole, 1);
    expect_spec(&s, 1, (const int[]){0}, 10, 0.0, 0);
  }
  /* keys replaced in the file's section; the effective config loads to the same spec */
  {
    const char *sets[] = {"analysis.top_k=3", "analysis.optimize=[TL]", "analysis.refine=false"};
    qtm_config cfg =
        load_ok(BASE3 "analysis: {optimize: [g, TR], top_k: 20, refine: true}\n", sets, 3);
    expect_spec(&cfg.analysis, 1, (const int[]){0}, 3, 0.0, 0);
    qtm_analysis_spec again = load_spec(cfg.text, NULL, 0);
    expect_spec(&again, 1, (const int[]){0}, 3, 0.0, 0);
    qtm_config_free(&cfg);
  }
  /* errors in override values name the override */
  {
    const char *neg[] = {"analysis.top_k=-1"};
    expect_set_error(BASE3, neg, 1, 0, "analysis.top_k must be an integer from 0 to 100000", NULL);
    const char *axis[] = {"analysis.optimize=[TL, omega]"};
    expect_set_error(BASE3, axis, 1, 0, "'omega' is not an axis of this scan", NULL);
    const char *refine[] = {"analysis.refine=maybe"};
    expect_set_error(BASE3, refine, 1, 0, "analysis.refine must be true or false, found maybe",
                     NULL);
    const char *key[] = {"analysis.colour=1"};
    expect_set_error(BASE3, key, 1, 0, "unknown key 'colour' in analysis", NULL);
    const char *scalar[] = {"analysis=on"};
    expect_set_error(BASE3, scalar, 1, 0, "analysis must be a mapping", "found on", NULL);
  }
  /* an override that removes an axis the file's section optimises: the file entry is blamed */
  {
    const char *axes[] = {"axes=[{TL: {lin: [0.05, 5, 10]}}]", "fixed.TR=0", "fixed.g=0.1"};
    expect_error(BASE3 "analysis: {optimize: [g]}\n", axes, 3, "g]", 1,
                 "'g' is not an axis of this scan; the scan's axes are TL", NULL);
  }
}

/* The fingerprint that --resume and merge compare: point_maps changes what the file holds, so
 * it changes the fingerprint; leaving it at its default keeps the fingerprint files written
 * before the option existed carry (the same as an analysis section without it). */
Test(config_analysis, point_maps_in_the_fingerprint) {
  char plain[32], on[32], off[32];
  qtm_config c = load_ok(BASE3 "analysis: {top_k: 4}\n", NULL, 0);
  qtm_config_fingerprint(&c, plain, sizeof plain);
  qtm_config_free(&c);
  c = load_ok(BASE3 "analysis: {top_k: 4, point_maps: true}\n", NULL, 0);
  qtm_config_fingerprint(&c, on, sizeof on);
  qtm_config_free(&c);
  c = load_ok(BASE3 "analysis: {top_k: 4, point_maps: false}\n", NULL, 0);
  qtm_config_fingerprint(&c, off, sizeof off);
  qtm_config_free(&c);
  cr_expect_str_eq(plain, on);
  cr_expect_str_neq(plain, off, "point_maps: false must change the fingerprint");
}
