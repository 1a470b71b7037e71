/* Two HDF5 files compared dataset by dataset, bit for bit, both ways (a dataset of either file
 * missing from the other counts as a difference); attributes are not compared, so provenance
 * (times, command lines) may differ. Virtual datasets are read through their sources. */
#ifndef QTM_TEST_H5COMPARE_H
#define QTM_TEST_H5COMPARE_H

typedef struct qtm_h5_comparison {
  int compared, differing;
  char first_diff[256];
} qtm_h5_comparison;

/* Returns 0 when both files open and every dataset of each was visited; r says what differs. */
int qtm_h5_compare_files(const char *a, const char *b, qtm_h5_comparison *r);

#endif
