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

#include <float.h>
#include <math.h>

/* background worker and its settings (worker.c) */
extern bool clm_worker_enabled;
extern void clm_worker_define_gucs(void);
extern void clm_worker_register(void);

/* the extension owner, i.e. the owner of clm.sources (gate.c) */
extern Oid	clm_extension_owner(void);

/* DROP ROLE removes clm's rows about the role (roles.c) */
extern void clm_roles_install_hook(void);

/* Citus table type of a relation, NULL if none (citus.c) */
extern const char *clm_citus_table_type_of(Oid relid);

/* loaded through shared_preload_libraries (clm.c) */
extern bool clm_preloaded;

/* stage tracking of Citus tables: executor and utility hooks (stages_citus.c) */
extern void clm_stage_citus_install_hooks(void);

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

/*
 * Ensure a sum of finite, non-negative amounts did not overflow to
 * infinity (each amount is finite, their sum need not be).
 */
static inline void
clm_check_sum(double v)
{
	if (isnan(v) || isinf(v))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("the sum of a customer's amounts is out of range"),
				 errdetail("The amounts of one customer add up to more than %g.", DBL_MAX)));
}

#endif							/* CLM_H */
