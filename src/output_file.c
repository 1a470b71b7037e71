/* Output files written safely: see output_file.h. */
#define _POSIX_C_SOURCE 200809L
#include "output_file.h"

#include "fail.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkdir -p of the directory holding path (nothing to do for a bare file name). */
static qtm_status make_parent(const char *path, char *err, size_t errcap) {
  const char *slash = strrchr(path, '/');
  if (!slash || slash == path) return QTM_OK;
  size_t len = (size_t)(slash - path);
  char *dir = malloc(len + 1);
  if (!dir) return qtm_failf(err, errcap, QTM_ERR_NOMEM, 0, "out of memory");
  memcpy(dir, path, len);
  dir[len] = '\0';
  qtm_status st = QTM_OK;
  for (size_t i = 1; i <= len && st == QTM_OK; ++i) {
    if (dir[i] != '/' && dir[i] != '\0') continue;
    char c = dir[i];
    dir[i] = '\0';
    struct stat sb;
    if (stat(dir, &sb) != 0) {
      if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        st =
            qtm_failf(err, errcap, QTM_ERR_IO, errno, "cannot create the output directory %s", dir);
    } else if (!S_ISDIR(sb.st_mode)) {
      st = qtm_failf(err, errcap, QTM_ERR_IO, 0, "%s is not a directory", dir);
    }
    dir[i] = c;
  }
  free(dir);
  return st;
}

qtm_status qtm_output_check(const char *out, int force, char *err, size_t errcap) {
  struct stat sb;
  if (stat(out, &sb) == 0) {
    if (S_ISDIR(sb.st_mode))
      return qtm_failf(err, errcap, QTM_ERR_IO, 0, "the output path %s is a directory", out);
    if (!force)
      return qtm_failf(err, errcap, QTM_ERR_EXISTS, 0, "%s exists; pass --force to overwrite it",
                       out);
  }
  return make_parent(out, err, errcap);
}

/* fsync of a file or directory, so that a rename that follows survives a crash. */
static int sync_path(const char *path, int directory) {
  int fd = open(path, directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return -1;
  int rc = fsync(fd);
  int saved = errno;
  close(fd);
  errno = saved;
  return rc;
}

/* Gives the finished partial file its name: rename when overwriting is allowed; else a hard
 * link, which fails rather than replace a file that appeared meanwhile. */
qtm_status qtm_output_publish(const char *partial, const char *out, int force, char *err,
                          size_t errcap) {
  if (sync_path(partial, 0) != 0)
    return qtm_failf(err, errcap, QTM_ERR_IO, errno, "cannot flush %s to disk", partial);
  if (force) {
    if (rename(partial, out) != 0)
      return qtm_failf(err, errcap, QTM_ERR_IO, errno, "cannot rename the finished file to %s",
                       out);
  } else if (link(partial, out) == 0) {
    unlink(partial);
  } else if (errno == EEXIST) {
    return qtm_failf(err, errcap, QTM_ERR_EXISTS, 0,
                     "%s appeared during the scan; the result stays in .partial", out);
  } else { /* a file system without hard links */
    struct stat sb;
    if (stat(out, &sb) == 0)
      return qtm_failf(err, errcap, QTM_ERR_EXISTS, 0,
                       "%s appeared during the scan; the result stays in .partial", out);
    if (rename(partial, out) != 0)
      return qtm_failf(err, errcap, QTM_ERR_IO, errno, "cannot rename the finished file to %s",
                       out);
  }
  const char *slash = strrchr(out, '/');
  char dir[4096] = ".";
  if (slash && (size_t)(slash - out) < sizeof dir)
    snprintf(dir, sizeof dir, "%.*s", slash == out ? 1 : (int)(slash - out), out);
  (void)sync_path(dir, 1); /* best effort: not every file system supports it */
  return QTM_OK;
}

