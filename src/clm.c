/*-------------------------------------------------------------------------
 *
 * clm.c
 *	  Module entry point of the clm extension: module magic and GUCs.
 *
 * IDENTIFICATION
 *	  src/clm.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "clm.h"

PG_MODULE_MAGIC;

bool		clm_worker_enabled = false;

void		_PG_init(void);

/*
 * Define the clm.* settings.  The module works both when preloaded through
 * shared_preload_libraries and when loaded on first use of a function.
 */
void
_PG_init(void)
{
	DefineCustomBoolVariable("clm.worker_enabled",
							 "Enables the clm background worker that keeps customer scores fresh.",
							 "Takes effect only when clm is in shared_preload_libraries.",
							 &clm_worker_enabled,
							 false,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	clm_stages_define_gucs();

	MarkGUCPrefixReserved("clm");
}
