/* compare_h5_files A B: exit 0 when every dataset of A and B is equal bit for bit (h5compare.h),
 * 1 with the first difference named otherwise, 2 when they cannot be compared. For scripts. */
#include <stdio.h>

#include "h5compare.h"

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: compare_h5_files A.h5 B.h5\n");
    return 2;
  }
  qtm_h5_comparison r;
  if (qtm_h5_compare_files(argv[1], argv[2], &r) != 0) {
    fprintf(stderr, "compare_h5_files: cannot open or walk %s and %s\n", argv[1], argv[2]);
    return 2;
  }
  printf("%d datasets compared, %d differ%s%s\n", r.compared, r.differing,
         r.differing ? ", first " : "", r.differing ? r.first_diff : "");
  return r.differing || r.compared == 0 ? 1 : 0;
}
