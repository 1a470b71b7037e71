/* Parity of the CUDA executor with the CPU: fresh random valid points over every statistics
 * combination, evaluated by qtm_cuda_eval_points and by qtm_eval_closed_point on the host, must
 * give NaN at exactly the same places and the same values to 1e-13 relative. Without a device
 * (CI, or a build without nvcc) the GPU tests skip with the reason and the rest still runs. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qtm/cuda_eval.h"
#include "qtm/physics.h"
#include "testutil.h"

#define NPOINTS 6000
/* Relative error |x-y|/max(|x|,|y|) allowed between device and host. The two run the same
 * source, but not the same arithmetic: the device's exp, expm1, log1p differ from glibc's by up
 * to 1-2 ulp, and nvcc contracts a*b+c into one FMA (one rounding instead of two) where gcc on
 * x86-64 does not. Those few-ulp differences (~1e-16 each) pass through a few dozen operations
 * with no catastrophic cancellation (the formulas are written to avoid it), so 1e-13 leaves
 * two orders of margin and still catches any real divergence (a wrong branch, a swapped
 * argument, a float instead of a double, an uncopied field). */
#define PARITY_TOL 1e-13
#define REPORT_MAX 10

static const char *const obs_name[QTM_OBS_COUNT] = {
#define QTM_OBS_NAME(name, unit, long_name, domain) #name,
    QTM_OBSERVABLE_LIST(QTM_OBS_NAME)
#undef QTM_OBS_NAME
};

/* A temperature on the scale of omega: exactly 0 (the T -> 0+ limit) one time in eight,
 * "deep cold" (omega/T in [800, 1e5]) one time in sixteen, else omega/T log-uniform in
 * [1e-3, 300]. */
static double draw_temperature(qtm_rng *r, double omega) {
  double u = qtm_rng_uniform(r);
  if (u < 0.125) return 0.0;
  if (u < 0.1875) return omega / qtm_rng_log(r, 800.0, 1e5);
  return omega / qtm_rng_log(r, 1e-3, 300.0);
}


/* Of every 96 points, 72 cycle through all statistics combinations epsL, epsR in
 * {-1, 0.3, 1}, eps_a in {-1, 1}, N in 1..4, and 24 take the paper's case (two qubits between
 * bosonic baths), the only one where the global forms, Eq. 17 and the populations all apply.
 * The rest is random, with the edges that switch branches: TL == TR, zero and deep-cold
 * temperatures, zero rates, g = 0, g below, at and above omega. */
static void draw_point(qtm_rng *r, size_t i, qtm_params *p) {
  static const double eps_bath[3] = {-1.0, 0.3, 1.0};
  static const double eps_sys[2] = {-1.0, 1.0};
  size_t c = i % 96;
  double u;
  if (c >= 72) c = 2 + 3 * 2 + 9 * 0 + 18 * 1; /* epsL = epsR = 1, eps_a = -1, N = 2 */
  p->epsL = eps_bath[c % 3];
  c /= 3;
  p->epsR = eps_bath[c % 3];
  c /= 3;
  p->eps_a = eps_sys[c % 2];
  c /= 2;
  p->N = (int)c + 1;
  p->omega = qtm_rng_log(r, 0.1, 10.0);
  p->gammaL = qtm_rng_uniform(r) < 0.05 ? 0.0 : p->omega * qtm_rng_log(r, 1e-3, 10.0);
  p->gammaR = qtm_rng_uniform(r) < 0.05 ? 0.0 : p->omega * qtm_rng_log(r, 1e-3, 10.0);
  u = qtm_rng_uniform(r);
  if (u < 0.1)
    p->g = 0.0;
  else if (u < 0.12)
    p->g = p->omega; /* the edge of the global forms' domain, where they are NaN */
  else if (u < 0.6)
    p->g = p->omega * qtm_rng_range(r, 0.0, 1.0);
  else
    p->g = p->omega * qtm_rng_log(r, 1.0, 10.0);
  do {
    p->TL = draw_temperature(r, p->omega);
    p->TR = qtm_rng_uniform(r) < 0.1 ? p->TL : draw_temperature(r, p->omega);
  } while (qtm_test_near_underflow(p));
}

static qtm_params *draw_points(size_t n, uint64_t seed, const char *who) {
  qtm_rng r;
  qtm_params *pts = malloc(n * sizeof *pts);
  cr_assert_not_null(pts);
  qtm_rng_init(&r, seed, who);
  for (size_t i = 0; i < n; ++i) {
    qtm_param_error perr;
    draw_point(&r, i, &pts[i]);
    qtm_status st = qtm_params_validate(&pts[i], &perr);
    cr_assert_eq(st, QTM_OK, "point %zu is invalid: %s", i, perr.message);
  }
  return pts;
}


/* Parity error of host value x and device value y: 0 when equal (both NaN, equal infinities,
 * +0 and -0), +inf when exactly one is NaN or infinite, else |x - y| / max(|x|, |y|, scale). */
static double parity_err(double x, double y, double scale) {
  if (isnan(x) || isnan(y)) return isnan(x) && isnan(y) ? 0.0 : INFINITY;
  if (x == y) return 0.0;
  if (isinf(x) || isinf(y)) return INFINITY;
  return fabs(x - y) / fmax(fmax(fabs(x), fabs(y)), scale);
}

/* The generator must reach the branches the parity test is meant to compare: NaN and
 * non-NaN for the observables that can be undefined, infinities, zero currents. Runs on
 * every machine (CPU only). */
Test(cuda_parity, generator_covers_branches) {
  qtm_params *pts = draw_points(NPOINTS, 0x5eed0c0da, "cuda_parity.generator");
  size_t nan_count[QTM_OBS_COUNT] = {0}, inf_count = 0, zero_J = 0;
  for (size_t i = 0; i < NPOINTS; ++i) {
    qtm_obs o;
    qtm_eval_closed_point(&pts[i], &o);
    for (int k = 0; k < QTM_OBS_COUNT; ++k) {
      if (isnan(o.v[k])) ++nan_count[k];
      if (isinf(o.v[k])) ++inf_count;
    }
    if (o.v[QTM_OBS_J] == 0.0) ++zero_J;
  }
  free(pts);
  for (int k = 0; k < QTM_OBS_COUNT; ++k) {
    cr_log_info("%-20s NaN at %zu of %d points", obs_name[k], nan_count[k], NPOINTS);
    if (k == QTM_OBS_J1 || k == QTM_OBS_alpha || k == QTM_OBS_J || k == QTM_OBS_J_rev ||
        k == QTM_OBS_kappa1 || k == QTM_OBS_kappa2 || k == QTM_OBS_dJ_dTL)
      cr_expect_eq(nan_count[k], 0, "%s is never undefined but was NaN %zu times", obs_name[k],
                   nan_count[k]);
    else /* undefined somewhere, defined elsewhere: both sides of the branch are drawn */
      cr_expect(nan_count[k] > 0 && nan_count[k] < NPOINTS,
                "%s: NaN at %zu of %d points, both kinds needed", obs_name[k], nan_count[k],
                NPOINTS);
  }
  cr_expect(inf_count > 0, "no infinite value drawn (ratio, entropy production at T = 0)");
  cr_expect(zero_J > 0 && zero_J < NPOINTS, "J = 0 at %zu of %d points", zero_J, NPOINTS);
}

Test(cuda_parity, random_points_match_cpu) {
  char name[256];
  char err[512] = "";
  qtm_status st = qtm_cuda_device_name(name, sizeof name);
  if (st != QTM_OK) {
    /* Criterion shows skips only with --verbose: say it where ctest's log shows it too. */
    fprintf(stderr, "[cuda_parity] SKIP random_points_match_cpu: no CUDA device: %s\n", name);
    cr_skip_test("no CUDA device: %s", name);
  }
  cr_log_info("device: %s", name);

  qtm_params *pts = draw_points(NPOINTS, 0xc0dac0de, "cuda_parity.random_points");
  qtm_obs *cpu = malloc(NPOINTS * sizeof *cpu);
  qtm_obs *gpu = malloc(NPOINTS * sizeof *gpu);
  cr_assert(cpu && gpu);
  for (size_t i = 0; i < NPOINTS; ++i) {
    qtm_eval_closed_point(&pts[i], &cpu[i]);
    for (int k = 0; k < QTM_OBS_COUNT; ++k) gpu[i].v[k] = -12345.0; /* never a result */
  }
  st = qtm_cuda_eval_points(pts, gpu, NPOINTS, err, sizeof err);
  cr_assert_eq(st, QTM_OK, "qtm_cuda_eval_points: %s: %s", qtm_status_str(st), err);

  size_t bad = 0, nan_mismatch = 0;
  for (int k = 0; k < QTM_OBS_COUNT; ++k) {
    double worst = 0.0;
    size_t worst_i = 0;
    for (size_t i = 0; i < NPOINTS; ++i) {
      double x = cpu[i].v[k], y = gpu[i].v[k];
      double e = parity_err(x, y, qtm_test_cancel_scale(&pts[i], &cpu[i], k));
      if (isnan(x) != isnan(y)) ++nan_mismatch;
      if (e > worst) {
        worst = e;
        worst_i = i;
      }
      if (e > PARITY_TOL && bad++ < REPORT_MAX) {
        const qtm_params *p = &pts[i];
        cr_log_error("point %zu %s: cpu %.17g gpu %.17g (rel %.3g) at omega=%.17g TL=%.17g "
                     "TR=%.17g gammaL=%.17g gammaR=%.17g g=%.17g epsL=%g epsR=%g eps_a=%g N=%d",
                     i, obs_name[k], x, y, e, p->omega, p->TL, p->TR, p->gammaL, p->gammaR,
                     p->g, p->epsL, p->epsR, p->eps_a, p->N);
      }
    }
    cr_log_info("%-20s max rel err %.3g (point %zu)", obs_name[k], worst, worst_i);
  }
  free(pts);
  free(cpu);
  free(gpu);
  cr_assert_eq(nan_mismatch, 0, "NaN positions differ at %zu values", nan_mismatch);
  cr_assert_eq(bad, 0, "%zu values differ by more than %g relative", bad, PARITY_TOL);
}

/* n = 0 succeeds in every build, with or without a device, and touches nothing. */
Test(cuda_api, zero_points_is_ok) {
  qtm_params p;
  qtm_obs o;
  char err[128] = "untouched";
  memset(&p, 0, sizeof p);
  o.v[0] = 42.0;
  qtm_status st = qtm_cuda_eval_points(&p, &o, 0, err, sizeof err);
  cr_assert_eq(st, QTM_OK, "n = 0: %s: %s", qtm_status_str(st), err);
  cr_assert_eq(o.v[0], 42.0, "n = 0 wrote to out");
  cr_assert_str_eq(err, "untouched");
  st = qtm_cuda_eval_points(NULL, NULL, 0, NULL, 0);
  cr_assert_eq(st, QTM_OK, "n = 0 with NULL arrays: %s", qtm_status_str(st));
}

/* The device probe answers one of its two codes with a message, and a build without nvcc
 * always answers "no device" with its fixed reason. */
Test(cuda_api, device_name_answers) {
  char name[256] = "";
  qtm_status st = qtm_cuda_device_name(name, sizeof name);
  cr_assert(st == QTM_OK || st == QTM_ERR_NO_DEVICE, "unexpected status %d (%s)", (int)st,
            qtm_status_str(st));
  cr_assert(name[0] != '\0', "empty device name or reason (status %s)", qtm_status_str(st));
  if (!qtm_cuda_compiled()) {
    cr_assert_eq(st, QTM_ERR_NO_DEVICE);
    cr_assert_str_eq(name, "qtmscan was built without CUDA (no nvcc at configure time)");
  }
  cr_log_info("CUDA compiled: %d, device probe: %s: %s", qtm_cuda_compiled(),
              qtm_status_str(st), name);
  st = qtm_cuda_device_name(NULL, 0); /* no buffer: must not write */
  cr_assert(st == QTM_OK || st == QTM_ERR_NO_DEVICE);
}

/* Without a device, evaluation fails with QTM_ERR_NO_DEVICE and the same reason that the
 * probe gives, never QTM_OK with garbage and never QTM_ERR_CUDA. */
Test(cuda_api, no_device_is_reported) {
  char name[256] = "", err[256] = "";
  if (qtm_cuda_device_name(name, sizeof name) == QTM_OK)
    cr_skip_test("a CUDA device is present (%s): the no-device path cannot run here", name);
  qtm_params p;
  qtm_params_default(&p);
  p.TL = 2.0;
  p.TR = 1.0;
  p.gammaL = p.gammaR = 0.01;
  p.g = 0.1;
  cr_assert_eq(qtm_params_validate(&p, NULL), QTM_OK);
  qtm_obs o;
  o.v[0] = 42.0;
  qtm_status st = qtm_cuda_eval_points(&p, &o, 1, err, sizeof err);
  cr_assert_eq(st, QTM_ERR_NO_DEVICE, "status %s (%s), expected no device", qtm_status_str(st),
               err);
  cr_assert_str_eq(err, name, "evaluation and probe disagree on the reason");
  cr_assert_eq(o.v[0], 42.0, "out written without a device");
  st = qtm_cuda_eval_points(&p, &o, 1, NULL, 0); /* no error buffer: must not write */
  cr_assert_eq(st, QTM_ERR_NO_DEVICE);
}
