/*
 * Upgrade 1.0 -> 1.1, part 30: Citus (src/citus.sql is new in 1.1, after
 * src/security.sql).  clm.refresh_start moves the customers queued on the
 * workers for a source over a distributed events table into
 * clm.refresh_queue (clm.citus_drain_queue); clm.worker_status counts them
 * (clm.citus_pending).  The bodies below are those of src/scores.sql and
 * replace the ones of part 20.  clm.register_as / clm.unregister_as (new in
 * 1.1, src/security.sql) create and drop the change queue; clm.track
 * refuses Citus tables in C (no SQL change).
 */

CREATE OR REPLACE FUNCTION @extschema@.refresh_start(name text, want_full boolean, by_worker boolean,
	as_of timestamptz DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
	src @extschema@.sources;
	run bigint;
	mode text := 'incremental';
	last_version timestamptz;
BEGIN
	SELECT * INTO src FROM @extschema@.sources s WHERE s.name = refresh_start.name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'source "%" does not exist', name USING ERRCODE = 'undefined_object';
	END IF;
	IF as_of IS NOT NULL AND NOT want_full THEN
		RAISE EXCEPTION 'as_of needs a full refresh' USING ERRCODE = 'invalid_parameter_value',
			HINT = 'Scoring a few customers at another time than the others would mix two points in time; pass full => true.';
	END IF;
	IF NOT isfinite(as_of) THEN
		RAISE EXCEPTION 'as_of must be finite' USING ERRCODE = 'datetime_field_overflow';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_roles o WHERE o.oid = src.owner) THEN
		RAISE EXCEPTION 'the role that owns source "%" (OID %) no longer exists', name, src.owner::oid
			USING ERRCODE = 'undefined_object', HINT = 'clm removes such sources (clm.drop_orphans).';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = src.events) THEN
		RAISE EXCEPTION 'the events table of source "%" (OID %) no longer exists', name, src.events::oid
			USING ERRCODE = 'undefined_table', HINT = 'Unregister the source, or register it again.';
	END IF;
	IF src.tracked_table IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = src.tracked_table) THEN
		RAISE EXCEPTION 'the tracked customer table of source "%" (OID %) no longer exists', name, src.tracked_table::oid
			USING ERRCODE = 'undefined_table',
				  HINT = 'Set tracked_table, tracked_key_column and tracked_stage_column of the source to NULL, or register it again.';
	END IF;
	-- the tracked columns are kept by name: after a rename the refresh would
	-- paste an unknown type into its SQL (a syntax error, 42601)
	IF src.tracked_table IS NOT NULL AND
	   (SELECT count(*) FROM pg_attribute a
		WHERE a.attrelid = src.tracked_table AND a.attnum > 0 AND NOT a.attisdropped
		  AND a.attname IN (src.tracked_key_column, src.tracked_stage_column)) < 2 THEN
		RAISE EXCEPTION 'column "%" or "%" of the tracked customer table "%" of source "%" does not exist',
			src.tracked_key_column, src.tracked_stage_column, src.tracked_table, name
			USING ERRCODE = 'undefined_column',
				  HINT = 'If a column was renamed, set them with clm.alter_source(name, ''{"tracked_key_column": "...", "tracked_stage_column": "..."}'').';
	END IF;
	-- the owner's privileges, again at every refresh (they may have been revoked)
	IF NOT (has_column_privilege(src.owner, src.events, src.customer_column, 'SELECT')
			AND has_column_privilege(src.owner, src.events, src.time_column, 'SELECT')
			AND has_column_privilege(src.owner, src.events, src.amount_column, 'SELECT')) THEN
		RAISE EXCEPTION 'role % may no longer read the columns of "%" that source "%" scores', src.owner, src.events, name
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = 'A source is refreshed with the rights of the role that owns it.';
	END IF;
	IF src.tracked_table IS NOT NULL AND NOT (
			has_column_privilege(src.owner, src.tracked_table, src.tracked_key_column, 'SELECT')
			AND has_column_privilege(src.owner, src.tracked_table, src.tracked_stage_column, 'SELECT')
			AND has_column_privilege(src.owner, src.tracked_table, src.tracked_stage_column, 'UPDATE')) THEN
		RAISE EXCEPTION 'role % may no longer update "%" of "%" that source "%" writes', src.owner,
			src.tracked_stage_column, src.tracked_table, name
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = 'A source is refreshed with the rights of the role that owns it.';
	END IF;
	-- an object lock only C code can take (src/gate.c): no other role can
	-- hold it to stall the source.  The worker holds it across its
	-- transactions and skips a busy source; clm.refresh waits (lock_timeout)
	IF NOT @extschema@.source_lock(name, by_worker, NOT by_worker) THEN
		RETURN NULL;
	END IF;
	-- with the lock held, runs still marked running were interrupted
	UPDATE @extschema@.refresh_runs r SET status = 'error', finished_at = clock_timestamp(),
		error = 'interrupted: the process running it ended before it finished'
	WHERE r.source = name AND r.status = 'running';
	DELETE FROM @extschema@.refresh_stage st WHERE st.source = name;
	PERFORM @extschema@.citus_drain_queue(src);

	SELECT max(v.created_at) INTO last_version FROM @extschema@.score_versions v WHERE v.source = name;
	IF want_full OR NOT src.incremental OR last_version IS NULL
	   OR last_version <= now() - src.full_refresh_interval
	   OR EXISTS (SELECT 1 FROM @extschema@.refresh_queue q WHERE q.source = name AND q.customer_key IS NULL)
	   -- a full run that failed half-way left customers scored with two versions
	   OR (SELECT l.mode = 'full' AND l.status = 'error' FROM @extschema@.refresh_runs l
		   WHERE l.source = name ORDER BY l.id DESC LIMIT 1) THEN
		mode := 'full';
	END IF;
	INSERT INTO @extschema@.refresh_runs (source, mode, as_of, by_worker, version)
	VALUES (name, mode, coalesce(as_of, now()), by_worker,
			(SELECT max(v.version) FROM @extschema@.score_versions v WHERE v.source = name))
	RETURNING id INTO run;
	RETURN run;
END
$fn$;

CREATE OR REPLACE FUNCTION @extschema@.worker_status()
RETURNS TABLE (source text, owner regrole, running boolean, last_run timestamptz, last_mode text,
			   last_status text, last_rows bigint, last_error text, consecutive_errors integer,
			   last_ok timestamptz, scores_as_of timestamptz, next_run timestamptz,
			   pending_customers bigint, lag interval)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
	SELECT s.name, s.owner,
		EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'object' AND l.granted
				AND l.database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
				AND l.classid = '@extschema@.sources'::regclass::oid
				AND l.objid = @extschema@.source_lock_key(s.name)::oid AND l.objsubid = 0),
		last.started_at, last.mode, last.status, last.rows, err.error, coalesce(err.n, 0)::integer,
		ok.finished_at, ok.as_of,
		CASE
			WHEN last.id IS NULL THEN s.registered_at
			-- a source whose table was dropped is due (its run fails and is logged)
			WHEN last.status = 'ok' AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = s.events)
				THEN @extschema@.time_after(last.started_at, s.refresh_interval)
			WHEN last.status = 'error' THEN
				least(@extschema@.time_after(last.finished_at, s.refresh_interval,
											 power(2, least(coalesce(err.n, 1), 20) - 1)),
					  @extschema@.time_after(last.finished_at, greatest(s.refresh_interval, interval '1 hour')))
			ELSE least(@extschema@.time_after(coalesce(full_ok.started_at, s.registered_at), s.full_refresh_interval),
					   CASE WHEN q.n > 0 OR NOT s.incremental
						   THEN @extschema@.time_after(last.started_at, s.refresh_interval) END)
		END,
		coalesce(q.n, 0), now() - q.oldest
	FROM @extschema@.sources s
	LEFT JOIN LATERAL (SELECT * FROM @extschema@.refresh_runs r WHERE r.source = s.name AND r.status <> 'running'
					   ORDER BY r.started_at DESC, r.id DESC LIMIT 1) last ON true
	LEFT JOIN LATERAL (SELECT * FROM @extschema@.refresh_runs r WHERE r.source = s.name AND r.status = 'ok'
					   ORDER BY r.started_at DESC, r.id DESC LIMIT 1) ok ON true
	LEFT JOIN LATERAL (SELECT * FROM @extschema@.refresh_runs r WHERE r.source = s.name AND r.status = 'ok'
					   AND r.mode = 'full' ORDER BY r.started_at DESC, r.id DESC LIMIT 1) full_ok ON true
	LEFT JOIN LATERAL (SELECT count(*) AS n, (array_agg(r.error ORDER BY r.started_at DESC, r.id DESC))[1] AS error
					   FROM @extschema@.refresh_runs r WHERE r.source = s.name AND r.status = 'error'
					   AND r.started_at > coalesce(ok.started_at, '-infinity')) err ON err.n > 0
	LEFT JOIN LATERAL (SELECT count(DISTINCT coalesce(qq.customer_key, '')) + coalesce(@extschema@.citus_pending(s), 0) AS n,
						  min(qq.queued_at) AS oldest
					   FROM @extschema@.refresh_queue qq WHERE qq.source = s.name) q ON true
$fn$;
