/* What a scan stores after its last tile: see scan_results.h. */
#include "scan_results.h"

qtm_status qtm_scan_write_analysis(qtm_analysis *an, qtm_h5_writer *w, char *err, size_t errcap) {
  qtm_status st = qtm_analysis_finish(an, err, errcap);
  const qtm_reduced_map *maps;
  const qtm_table *tables;
  const qtm_scalar_attr *attrs;
  int nmaps = qtm_analysis_reduced_maps(an, &maps);
  int ntables = qtm_analysis_tables(an, &tables);
  int nattrs = qtm_analysis_attrs(an, &attrs);
  for (int i = 0; st == QTM_OK && i < nmaps; ++i)
    st = qtm_h5_writer_put_reduced(w, &maps[i], err, errcap);
  for (int i = 0; st == QTM_OK && i < ntables; ++i)
    st = qtm_h5_writer_put_table(w, &tables[i], err, errcap);
  for (int i = 0; st == QTM_OK && i < nattrs; ++i)
    st = qtm_h5_writer_put_attr(w, &attrs[i], err, errcap);
  return st;
}

qtm_status qtm_scan_write_state(qtm_analysis *an, qtm_h5_writer *w, char *err, size_t errcap) {
  const qtm_state_array *arrays;
  int n;
  qtm_status st = qtm_analysis_state_export(an, &arrays, &n, err, errcap);
  for (int i = 0; st == QTM_OK && i < n; ++i) st = qtm_h5_writer_put_state(w, &arrays[i], err, errcap);
  return st;
}
