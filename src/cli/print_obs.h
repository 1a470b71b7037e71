/* Output of one evaluated point: every observable of the table with the parameters that produced
 * it, as aligned text for people or as one JSON object for programs. Both iterate over the
 * observable and parameter tables, so a new row appears in every output without edits here.
 * Undefined values (NaN) print as "nan" in text and null in JSON; infinities as "inf"/"-inf" in
 * text and null in JSON (JSON has no infinity), never as a made-up finite number. */
#ifndef QTM_CLI_PRINT_OBS_H
#define QTM_CLI_PRINT_OBS_H

#include <stdio.h>

#include "qtm/observables.h"
#include "qtm/params.h"
#include "qtm/status.h"

/* Text: "#" comment lines with the method and the parameters, then one line per observable
 * with columns name, value (%.17g), unit, long name. QTM_ERR_IO when the stream failed. */
qtm_status qtm_print_obs_text(FILE *f, const qtm_params *p, const qtm_obs *o, const char *method);

/* JSON: one object, the observables in table order, then "params" (every parameter, N as an
 * integer) and "method"; numbers as %.17g, which reads back to the same double. QTM_ERR_IO when
 * the stream failed. */
qtm_status qtm_print_obs_json(FILE *f, const qtm_params *p, const qtm_obs *o, const char *method);

#endif
