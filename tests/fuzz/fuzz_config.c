/* libFuzzer target for the scan-config loader (tests/fuzz/README.md): the input is a config
 * text, optionally followed by up to two --set overrides, each after a NUL byte
 * ("TEXT\0KEY=VALUE\0KEY=VALUE"); an input that starts with a NUL byte is the rest alone, NULs
 * included, so that the loader's refusal of binary text is reached too. Every piece is copied
 * into a buffer of its exact size, so that a read past the end is caught by AddressSanitizer.
 * Besides memory errors, leaks and undefined behaviour, the target traps when the loader breaks
 * its contract: an error without a placed message, or a success without a text, a title or an
 * output path. tests/fuzz/replay_corpus.c calls the same function outside libFuzzer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qtm/config.h"

#define NAME "fuzz.yaml"
#define MAX_SETS 2

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int starts_with(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *in = (const char *)data;
  size_t text_len = size;
  int nsets = 0;
  char *sets[MAX_SETS] = {NULL};
  char *text = NULL;
  if (size > 0 && in[0] == '\0') {
    ++in;
    text_len = size - 1;
  } else {
    const char *nul = memchr(in, '\0', size);
    if (nul) text_len = (size_t)(nul - in);
    /* The overrides: the pieces between the following NULs (anything after a third is dropped). */
    const char *p = nul ? nul + 1 : NULL, *end = in + size;
    while (p && nsets < MAX_SETS) {
      const char *q = memchr(p, '\0', (size_t)(end - p));
      size_t n = (size_t)((q ? q : end) - p);
      if (!(sets[nsets] = malloc(n + 1))) goto cleanup;
      memcpy(sets[nsets], p, n);
      sets[nsets++][n] = '\0';
      p = q ? q + 1 : NULL;
    }
  }
  /* malloc(0) may return NULL: one byte more, never read past text_len. */
  if (!(text = malloc(text_len ? text_len : 1))) goto cleanup;
  if (text_len) memcpy(text, in, text_len);

  qtm_config cfg;
  char err[1024];
  qtm_status st = qtm_config_load_text(NAME, text, text_len, (const char *const *)sets, nsets,
                                       &cfg, err, sizeof err);
  if (st == QTM_OK) {
    if (!cfg.text || !cfg.title || !cfg.output_path || !*cfg.output_path || !cfg.path ||
        cfg.grid.npoints < 1 || cfg.tile_points < 1 || cfg.nobs < 0 || cfg.nobs > QTM_OBS_COUNT)
      __builtin_trap();
  } else {
    /* A failed load leaves nothing behind and says where: "fuzz.yaml..." or "--set ...". */
    if (cfg.text || cfg.title || cfg.output_path || cfg.path || cfg.grid.values)
      __builtin_trap();
    if (!starts_with(err, NAME) && !starts_with(err, "--set ")) __builtin_trap();
  }
  qtm_config_free(&cfg);
cleanup:
  free(text);
  for (int i = 0; i < nsets; ++i) free(sets[i]);
  return 0;
}
