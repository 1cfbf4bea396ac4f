/*-------------------------------------------------------------------------
 *
 * clm.h
 *	  Declarations shared by the clm extension's C files.
 *
 * IDENTIFICATION
 *	  src/clm.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLM_H
#define CLM_H

#include "postgres.h"
#include "fmgr.h"

#include <math.h>

/* background worker and its settings (worker.c) */
extern bool clm_worker_enabled;
extern void clm_worker_define_gucs(void);
extern void clm_worker_register(void);

/* setting definitions, one per feature file, called from _PG_init */
extern void clm_stages_define_gucs(void);

/*
 * Ensure a float8 input is finite; "what" names the argument in the error.
 */
static inline void
clm_check_finite(double v, const char *what)
{
	if (isnan(v) || isinf(v))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s must be a finite number", what),
				 errdetail("Got %g.", v)));
}

#endif							/* CLM_H */
