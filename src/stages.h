/*-------------------------------------------------------------------------
 *
 * stages.h
 *	  Stage tracking internals shared by stages.c (the trigger, track,
 *	  untrack, import and the model cache) and stages_citus.c (tracking of
 *	  Citus distributed tables).
 *
 * IDENTIFICATION
 *	  src/stages.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLM_STAGES_H
#define CLM_STAGES_H

#include "commands/trigger.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

typedef enum ClmPolicy
{
	CLM_POLICY_ANY,
	CLM_POLICY_FORWARD_ONLY,
	CLM_POLICY_GRAPH
} ClmPolicy;

typedef struct ClmStage
{
	char	   *name;
	int32		position;
} ClmStage;

/* what the trigger needs to know about one tracked table */
typedef struct ClmTrackInfo
{
	AttrNumber	stage_attnum;	/* InvalidAttrNumber if no clm trigger */
	AttrNumber	key_attnum;
	Oid			key_type;
	FmgrInfo	key_out;
	char	   *model;
	Datum		model_text;
	ClmPolicy	policy;
	int			nstages;
	ClmStage   *stages;			/* ordered by position */
	bool	   *edges;			/* (nstages + 1) x nstages, row 0 = from NULL */
} ClmTrackInfo;

/* stages.c */
extern void clm_stage_ensure_cache(void);
extern Oid	clm_stage_trigger_fn(void);
extern bool clm_stage_is_tracked(Oid relid);
extern ClmTrackInfo *clm_stage_track_info(Relation rel);
extern void clm_stage_check_move(ClmTrackInfo *info, Relation rel, const char *key,
								 const char *from, const char *to, int elevel);
extern TimestampTz clm_stage_changed_at(void);
extern void clm_stage_write_history(ClmTrackInfo *info, Oid relid, Datum key,
									const char *from, Datum to, bool to_null,
									TimestampTz at, Datum xid, Datum changed_by,
									const char *source);
extern Datum clm_stage_current_user_name(void);
extern bool clm_stage_columns(Relation rel, Oid trigger_fn, AttrNumber *stage_attnum,
							  AttrNumber *key_attnum);
extern void clm_stage_check_column_types(Relation rel, AttrNumber stage_attnum,
										 AttrNumber key_attnum);

/* stages_citus.c: tracking a Citus distributed table */
extern void clm_stage_shard_trigger(TriggerData *td);
extern bool clm_stage_citus_track(Relation rel, AttrNumber keyatt, const char *qtable,
								  const char *qkey, const char *qstage);
extern void clm_stage_drop_change_table(const char *outbox);
extern uint64 clm_stage_citus_move(Relation rel, uint64 changed);
extern const char *clm_stage_outbox_of(Relation rel, Oid trigger_fn, bool strict);
extern void clm_stage_citus_install_hooks(void);

#endif							/* CLM_STAGES_H */
