/* placeholder: the HDF5 writer is being written */
#include "qtm/h5_writer.h"
qtm_status qtm_h5_writer_create(const char *path, const qtm_h5_layout *layout, const qtm_h5_provenance *prov, qtm_h5_writer **out, char *err, size_t errcap) {
  (void)path; (void)layout; (void)prov; (void)err; (void)errcap; *out = NULL; return QTM_ERR_UNSUPPORTED; }
qtm_status qtm_h5_writer_write_tile(qtm_h5_writer *w, const qtm_tile *tile, const qtm_tile_out *out, char *err, size_t errcap) {
  (void)w; (void)tile; (void)out; (void)err; (void)errcap; return QTM_ERR_UNSUPPORTED; }
qtm_status qtm_h5_writer_finish(qtm_h5_writer *w, const char *end_time, double pps, char *err, size_t errcap) {
  (void)w; (void)end_time; (void)pps; (void)err; (void)errcap; return QTM_ERR_UNSUPPORTED; }
void qtm_h5_writer_abort(qtm_h5_writer *w) { (void)w; }
