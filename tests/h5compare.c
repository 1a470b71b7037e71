/* Comparing two HDF5 files dataset by dataset: see h5compare.h. */
#include "h5compare.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct visit {
  hid_t other;
  int count_compared; /* the second pass only looks for datasets the first did not see */
  qtm_h5_comparison *r;
} visit;

static void note(qtm_h5_comparison *r, const char *what, const char *name) {
  if (r->differing++ == 0) snprintf(r->first_diff, sizeof r->first_diff, "%s%s", name, what);
}

static herr_t compare_dataset(hid_t root, const char *name, const H5O_info_t *info, void *data) {
  visit *v = data;
  if (info->type != H5O_TYPE_DATASET) return 0;
  htri_t there = H5Lexists(v->other, name, H5P_DEFAULT);
  if (there <= 0) {
    note(v->r, " missing from the other file", name);
    return 0;
  }
  if (!v->count_compared) return 0;
  hid_t a = H5Dopen2(root, name, H5P_DEFAULT), b = H5Dopen2(v->other, name, H5P_DEFAULT);
  hid_t type = H5Dget_type(a), sa = H5Dget_space(a), sb = H5Dget_space(b);
  hssize_t n = H5Sget_simple_extent_npoints(sa);
  size_t bytes = (size_t)n * H5Tget_size(type);
  char *x = malloc(bytes ? bytes : 1), *y = malloc(bytes ? bytes : 1);
  int same = a >= 0 && b >= 0 && n == H5Sget_simple_extent_npoints(sb) &&
             (n == 0 || (H5Dread(a, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0 &&
                         H5Dread(b, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, y) >= 0 &&
                         memcmp(x, y, bytes) == 0));
  if (!same) note(v->r, "", name);
  v->r->compared++;
  free(x);
  free(y);
  H5Sclose(sa);
  H5Sclose(sb);
  H5Tclose(type);
  H5Dclose(a);
  H5Dclose(b);
  return 0;
}

int qtm_h5_compare_files(const char *a, const char *b, qtm_h5_comparison *r) {
  memset(r, 0, sizeof *r);
  hid_t fa = H5Fopen(a, H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t fb = H5Fopen(b, H5F_ACC_RDONLY, H5P_DEFAULT);
  int rc = -1;
  if (fa >= 0 && fb >= 0) {
    visit there = {fb, 1, r}, back = {fa, 0, r};
    if (H5Ovisit(fa, H5_INDEX_NAME, H5_ITER_INC, compare_dataset, &there) >= 0 &&
        H5Ovisit(fb, H5_INDEX_NAME, H5_ITER_INC, compare_dataset, &back) >= 0)
      rc = 0;
  }
  if (fa >= 0) H5Fclose(fa);
  if (fb >= 0) H5Fclose(fb);
  return rc;
}
