/* The benchmark scan's grid, shared by the kernel benchmark and described identically in
 * bench/run.sh (the YAML config of `qtmscan run`) and bench/baseline_numpy.py: qubits between
 * bosonic baths, four axes, so that every observable of the benchmark (local and global) is
 * defined almost everywhere and the NumPy baseline evaluates exactly the same points. */
#ifndef QTM_BENCH_GRID_H
#define QTM_BENCH_GRID_H

#include <stdint.h>

#include "qtm/grid.h"

/* Axis order and ranges: TL log [0.05, 50], TR lin [0, 1], gamma_ratio log [1e-3, 1],
 * g lin [0.05, 0.95]; the counts are the benchmark's size knob (TL grows, the rest stay). */
#define QTM_BENCH_NAXES 4

/* Builds the grid with counts n[0..3] (each >= 2). QTM_ERR_NOMEM / QTM_ERR_INVALID_ARG with a
 * sentence in err. */
qtm_status qtm_bench_grid_init(qtm_grid *g, const int64_t n[QTM_BENCH_NAXES], char *err,
                               size_t errcap);

#endif
