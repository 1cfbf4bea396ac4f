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
#include "miscadmin.h"
#include "utils/guc.h"

#include "clm.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

bool		clm_preloaded = false;

/*
 * Define the clm.* settings and, when preloaded through
 * shared_preload_libraries, register the background worker's launcher.  The
 * module also works when loaded on first use of a function (no worker then).
 */
void
_PG_init(void)
{
	clm_worker_define_gucs();
	clm_stages_define_gucs();

	MarkGUCPrefixReserved("clm");
	clm_worker_register();
	clm_roles_install_hook();
	clm_stage_citus_install_hooks();
	clm_preloaded = process_shared_preload_libraries_in_progress;
}
