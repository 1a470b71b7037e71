/* Runs files through the fuzz target's entry point (fuzz_config.c) without libFuzzer, so that
 * the corpus and the crashers are a regression test in every build (ctest
 * fuzz_corpus_regression). Each argument is a file or a directory, whose files are run in name
 * order. A file that crashes, leaks or breaks the loader's contract aborts the run; the last
 * name printed is that file. Fails when no file was run (a wrong path would pass otherwise). */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads a whole file; NULL (and a message) when it cannot. */
static uint8_t *read_all(const char *path, size_t *len) {
  uint8_t *buf = NULL;
  size_t cap = 0;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "replay_corpus: %s: %s\n", path, strerror(errno));
    return NULL;
  }
  for (;;) {
    if (*len == cap) {
      cap = cap ? 2 * cap : 4096;
      uint8_t *b = realloc(buf, cap);
      if (!b) {
        fprintf(stderr, "replay_corpus: %s: out of memory\n", path);
        free(buf);
        buf = NULL;
        goto cleanup;
      }
      buf = b;
    }
    size_t got = fread(buf + *len, 1, cap - *len, f);
    *len += got;
    if (got == 0) break;
  }
  if (ferror(f)) {
    fprintf(stderr, "replay_corpus: %s: read error\n", path);
    free(buf);
    buf = NULL;
  }
cleanup:
  fclose(f);
  return buf;
}

static int run_file(const char *path) {
  size_t len = 0;
  uint8_t *data = read_all(path, &len);
  if (!data) return -1;
  printf("%s (%zu bytes)\n", path, len);
  fflush(stdout);
  /* The target copies what it uses into buffers of their exact size. */
  LLVMFuzzerTestOneInput(data, len);
  free(data);
  return 0;
}

/* Runs a file, or every regular file of a directory in name order; the count, or -1. */
static int run_path(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) {
    fprintf(stderr, "replay_corpus: %s: %s\n", path, strerror(errno));
    return -1;
  }
  if (!S_ISDIR(st.st_mode)) return run_file(path) == 0 ? 1 : -1;
  struct dirent **names = NULL;
  int n = scandir(path, &names, NULL, alphasort), count = 0;
  if (n < 0) {
    fprintf(stderr, "replay_corpus: %s: %s\n", path, strerror(errno));
    return -1;
  }
  for (int i = 0; i < n; ++i) {
    char file[4096];
    struct stat fs;
    int w = snprintf(file, sizeof file, "%s/%s", path, names[i]->d_name);
    if (count >= 0 && w > 0 && (size_t)w < sizeof file && stat(file, &fs) == 0 &&
        S_ISREG(fs.st_mode))
      count = run_file(file) == 0 ? count + 1 : -1;
    free(names[i]);
  }
  free(names);
  return count;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: replay_corpus FILE_OR_DIR...\n");
    return 2;
  }
  int total = 0;
  for (int i = 1; i < argc; ++i) {
    int n = run_path(argv[i]);
    if (n < 0) return 1;
    total += n;
  }
  if (total == 0) {
    fprintf(stderr, "replay_corpus: no file to run\n");
    return 1;
  }
  printf("replay_corpus: %d files, no crash\n", total);
  return 0;
}
