/*
 * Upgrade 1.0 -> 1.1, part 20: security (issue #13).  The same changes as
 * src/scores.sql and src/stages.sql make for a fresh install; the new
 * objects (gateways' internal functions, clm.run_as, clm.forget, the
 * sql_drop event trigger...) come whole from src/security.sql.
 *
 * The function bodies below are copies of those in src/scores.sql, the
 * Citus change queue (#14) in refresh_start and worker_status included
 * (written by scripts/gen_upgrade_1_1.py: edit src/scores.sql and rerun).
 */

-- hole 1: the change-queue trigger is C, not SECURITY DEFINER
CREATE OR REPLACE FUNCTION @extschema@.queue_changes() RETURNS trigger
AS 'MODULE_PATHNAME', 'clm_queue_changes' LANGUAGE C;

-- hole 2: nobody but the extension owner writes clm's tables; the functions
-- that change them are C gateways (src/gate.c, src/security.sql)
DROP POLICY sources_insert ON @extschema@.sources;
DROP POLICY sources_update ON @extschema@.sources;
DROP POLICY sources_delete ON @extschema@.sources;
DROP POLICY scores_write ON @extschema@.scores;
DROP POLICY score_versions_write ON @extschema@.score_versions;
DROP POLICY refresh_runs_write ON @extschema@.refresh_runs;
DROP POLICY refresh_stage_owner ON @extschema@.refresh_stage;
DROP POLICY refresh_queue_owner ON @extschema@.refresh_queue;

CREATE POLICY refresh_queue_read ON @extschema@.refresh_queue FOR SELECT
	USING (source IN (SELECT name FROM @extschema@.sources));

REVOKE INSERT, UPDATE, DELETE ON @extschema@.sources, @extschema@.scores, @extschema@.score_versions,
	@extschema@.refresh_runs, @extschema@.refresh_queue FROM PUBLIC;

REVOKE ALL ON @extschema@.refresh_stage FROM PUBLIC;

REVOKE ALL ON SEQUENCE @extschema@.refresh_runs_id_seq FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@.register(
	name text, events regclass, customer_column name, time_column name, amount_column name,
	period text DEFAULT 'day', time_unit text DEFAULT 'week', time_zone text DEFAULT 'UTC',
	segment_map text DEFAULT 'rfm_5x5', model text DEFAULT 'bgnbd',
	horizon_months integer DEFAULT 12, monthly_discount double precision DEFAULT 0.01,
	stage_model text DEFAULT NULL, tracked_table regclass DEFAULT NULL,
	tracked_key_column name DEFAULT NULL, tracked_stage_column name DEFAULT NULL,
	refresh_interval interval DEFAULT '5 minutes', full_refresh_interval interval DEFAULT '1 day',
	incremental boolean DEFAULT true, scores_view text DEFAULT NULL)
RETURNS @extschema@.sources
AS 'MODULE_PATHNAME', 'clm_call_checked' LANGUAGE C;

CREATE OR REPLACE FUNCTION @extschema@.unregister(name text) RETURNS boolean
AS 'MODULE_PATHNAME', 'clm_call_checked' LANGUAGE C;

CREATE OR REPLACE FUNCTION @extschema@.grant_scores(name text, reader regrole) RETURNS regrole[]
AS 'MODULE_PATHNAME', 'clm_call_checked' LANGUAGE C;

CREATE OR REPLACE FUNCTION @extschema@.revoke_scores(name text, reader regrole) RETURNS regrole[]
AS 'MODULE_PATHNAME', 'clm_call_checked' LANGUAGE C;

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

CREATE OR REPLACE FUNCTION @extschema@.refresh_summaries(run_id bigint)
RETURNS TABLE (customer_key text, s @extschema@.rfm)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
	r @extschema@.refresh_runs;
	src @extschema@.sources;
BEGIN
	SELECT * INTO r FROM @extschema@.refresh_runs x WHERE x.id = run_id AND x.status = 'running';
	IF NOT FOUND THEN
		RAISE EXCEPTION 'refresh run % is not running', run_id USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	SELECT * INTO src FROM @extschema@.sources x WHERE x.name = r.source;
	-- the events are read with the owner's rights only
	RETURN QUERY SELECT x.customer_key, x.s
	FROM @extschema@.run_as(src.owner, format($q$
		SELECT k::text, s
		FROM (SELECT e.%1$I AS k, @extschema@.rfm_summary(e.%2$I::timestamptz, e.%3$I::double precision, $2, %4$L, %5$L) AS s
			  FROM %6$s e WHERE e.%1$I IS NOT NULL GROUP BY e.%1$I) q
		WHERE (s).last_at IS NOT NULL$q$,
		src.customer_column, src.time_column, src.amount_column, src.period, src.time_unit, src.events),
		NULL, r.as_of) AS x(customer_key text, s @extschema@.rfm);
END
$fn$;

CREATE OR REPLACE FUNCTION @extschema@.refresh_prepare(run_id bigint) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' SET client_min_messages = error AS $fn$
DECLARE
	r @extschema@.refresh_runs;
	src @extschema@.sources;
	n bigint;
	v bigint;
	bs integer := greatest(coalesce(current_setting('clm.batch_size', true)::integer, 10000), 1);
	mp jsonb;
	sp jsonb;
	diag jsonb := '{}';
	t0 timestamptz;
	t1 timestamptz;
BEGIN
	SELECT * INTO r FROM @extschema@.refresh_runs x WHERE x.id = run_id AND x.status = 'running';
	IF NOT FOUND THEN
		RAISE EXCEPTION 'refresh run % is not running', run_id USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	IF r.mode <> 'full' THEN
		RETURN 0;
	END IF;
	SELECT * INTO src FROM @extschema@.sources s WHERE s.name = r.source;
	PERFORM set_config('TimeZone', src.time_zone, true);
	-- one scan of the events, by clm.refresh_summaries so that it may run in
	-- parallel (PostgreSQL 15 plans INSERT ... SELECT serially, but not the
	-- query of a RETURN QUERY).  The queue rows deleted here are those visible
	-- to this statement's snapshot; the summary query's snapshot is the same
	-- or later, so it covers every change they stand for (a change it sees
	-- but whose queue row stays is merely rescored again next time)
	EXECUTE $q$
		WITH dq AS (DELETE FROM @extschema@.refresh_queue q WHERE q.source = $1)
		INSERT INTO @extschema@.refresh_stage (run_id, source, batch, customer_key, s)
		SELECT $2, $1, ((row_number() OVER ()) - 1) / $3, f.customer_key, f.s
		FROM @extschema@.refresh_summaries($2) f$q$
	USING src.name, run_id, bs;
	GET DIAGNOSTICS n = ROW_COUNT;
	SELECT coalesce(max(x.version), 0) + 1 INTO v FROM @extschema@.score_versions x WHERE x.source = src.name;
	-- fit the purchase model on every customer's (frequency, recency, t) and
	-- Gamma-Gamma on the repeat customers with positive spend; a fit that
	-- fails leaves the model scores NULL and says why in fit_diagnostics
	t0 := clock_timestamp();
	BEGIN
		IF src.model = 'bgnbd' THEN
			SELECT to_jsonb(@extschema@.bgnbd_fit((st.s).frequency, (st.s).recency, (st.s).t)) INTO mp
			FROM @extschema@.refresh_stage st WHERE st.run_id = refresh_prepare.run_id;
		ELSE
			SELECT to_jsonb(@extschema@.pareto_nbd_fit((st.s).frequency, (st.s).recency, (st.s).t)) INTO mp
			FROM @extschema@.refresh_stage st WHERE st.run_id = refresh_prepare.run_id;
		END IF;
	EXCEPTION WHEN OTHERS THEN
		diag := diag || jsonb_build_object('model_error', SQLSTATE || ': ' || SQLERRM);
	END;
	t1 := clock_timestamp();
	BEGIN
		SELECT to_jsonb(@extschema@.gamma_gamma_fit((st.s).frequency, (st.s).monetary)) INTO sp
		FROM @extschema@.refresh_stage st
		WHERE st.run_id = refresh_prepare.run_id AND (st.s).frequency > 0 AND (st.s).monetary > 0;
	EXCEPTION WHEN OTHERS THEN
		diag := diag || jsonb_build_object('spend_error', SQLSTATE || ': ' || SQLERRM);
	END;
	diag := diag || jsonb_build_object(
		'model_fit_seconds', round(extract(epoch FROM t1 - t0)::numeric, 3),
		'spend_fit_seconds', round(extract(epoch FROM clock_timestamp() - t1)::numeric, 3),
		'model_used', coalesce((mp->>'converged')::boolean AND (mp->>'n')::float8 >= src.min_fit_customers, false),
		'spend_used', coalesce((sp->>'converged')::boolean AND (sp->>'q')::float8 > 1
							   AND (sp->>'n')::float8 >= src.min_fit_customers, false));
	INSERT INTO @extschema@.score_versions (source, version, created_at, as_of, customers,
		r_breaks, f_breaks, m_breaks, model, model_params, spend_params, fit_diagnostics)
	SELECT src.name, v, clock_timestamp(), r.as_of, n,
		coalesce(@extschema@.quintile_breaks(array_agg(extract(epoch FROM (st.s).last_at)::double precision ORDER BY (st.s).last_at)), '{NULL,NULL,NULL,NULL}'),
		coalesce(@extschema@.quintile_breaks(array_agg((st.s).periods::double precision ORDER BY (st.s).periods)), '{NULL,NULL,NULL,NULL}'),
		coalesce(@extschema@.quintile_breaks(array_agg((st.s).total ORDER BY (st.s).total)), '{NULL,NULL,NULL,NULL}'),
		src.model, mp, sp, diag
	FROM @extschema@.refresh_stage st WHERE st.run_id = refresh_prepare.run_id;
	UPDATE @extschema@.refresh_runs x SET version = v WHERE x.id = run_id;
	RETURN n;
END
$fn$;

CREATE OR REPLACE FUNCTION @extschema@.refresh_step(run_id bigint) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' AS $fn$
DECLARE
	r @extschema@.refresh_runs;
	src @extschema@.sources;
	ver @extschema@.score_versions;
	bs integer := greatest(coalesce(current_setting('clm.batch_size', true)::integer, 10000), 1);
	batch_sql text;
	upsert_sql text;
	track_sql text := '';
	track_stmt text;
	handled bigint;
	scored bigint;
	use_model boolean;
	use_spend boolean;
	model_param text;
	horizon double precision;
	count_sql text := ' SELECT (SELECT count(*) FROM s) + (SELECT count(*) FROM gone), (SELECT count(*) FROM up), 0';
	skipped bigint;
	bg @extschema@.bgnbd;
	pn @extschema@.pareto_nbd;
	gg @extschema@.gamma_gamma;
BEGIN
	SELECT * INTO r FROM @extschema@.refresh_runs x WHERE x.id = run_id AND x.status = 'running';
	IF NOT FOUND THEN
		RAISE EXCEPTION 'refresh run % is not running', run_id USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	SELECT * INTO src FROM @extschema@.sources s WHERE s.name = r.source;
	SELECT * INTO ver FROM @extschema@.score_versions v WHERE v.source = r.source AND v.version = r.version;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'source "%" has no score version', r.source USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	PERFORM set_config('TimeZone', src.time_zone, true);
	IF r.mode = 'full' THEN
		batch_sql := $q$
		WITH b AS (SELECT min(st.batch) AS b FROM @extschema@.refresh_stage st WHERE st.run_id = $2),
		k AS (DELETE FROM @extschema@.refresh_stage st USING b
			  WHERE st.run_id = $2 AND st.batch = b.b RETURNING st.customer_key, st.s),
		s AS (SELECT k.customer_key, k.s FROM k),
		gone AS (SELECT NULL::text AS customer_key WHERE false)$q$;
	ELSE
		-- the batch's queue rows and events are read in one snapshot: a change
		-- committed later has its own queue row, left for the next run
		batch_sql := format($q$
		WITH k AS (SELECT DISTINCT q.customer_key FROM @extschema@.refresh_queue q
				   WHERE q.source = $1 AND q.customer_key IS NOT NULL ORDER BY 1 LIMIT %7$s),
		dq AS (DELETE FROM @extschema@.refresh_queue q USING k
			   WHERE q.source = $1 AND q.customer_key = k.customer_key),
		s AS (SELECT x.customer_key, x.s
			  FROM @extschema@.run_as($24, %9$L, ARRAY(SELECT k.customer_key FROM k), $3)
				   AS x(customer_key text, s @extschema@.rfm)),
		gone AS (DELETE FROM @extschema@.scores sc USING k
				 WHERE sc.source = $1 AND sc.customer_key = k.customer_key
				   AND NOT EXISTS (SELECT 1 FROM s WHERE s.customer_key = k.customer_key AND (s.s).last_at IS NOT NULL)
				 RETURNING sc.customer_key)$q$,
			src.customer_column, src.time_column, src.amount_column, src.period, src.time_unit,
			src.events, bs, src.customer_type,
			-- the events of the batch, read with the owner's rights only
			format($e$SELECT e.%1$I::text, @extschema@.rfm_summary(e.%2$I::timestamptz, e.%3$I::double precision, $2, %4$L, %5$L)
				FROM %6$s e WHERE e.%1$I = ANY ($1::%7$s[]) GROUP BY e.%1$I$e$,
				src.customer_column, src.time_column, src.amount_column, src.period, src.time_unit,
				src.events, src.customer_type));
	END IF;
	-- model scores from the version's fits (NULL when a fit is not usable)
	use_model := coalesce((ver.fit_diagnostics->>'model_used')::boolean, false);
	use_spend := use_model AND coalesce((ver.fit_diagnostics->>'spend_used')::boolean, false);
	IF src.model = 'bgnbd' THEN
		model_param := '$15';
		bg := jsonb_populate_record(NULL::@extschema@.bgnbd, ver.model_params);
	ELSE
		model_param := '$23';
		pn := jsonb_populate_record(NULL::@extschema@.pareto_nbd, ver.model_params);
	END IF;
	gg := jsonb_populate_record(NULL::@extschema@.gamma_gamma, ver.spend_params);
	horizon := src.horizon_months * CASE src.time_unit
		WHEN 'hour' THEN 30.436875 * 24 WHEN 'day' THEN 30.436875 WHEN 'week' THEN 30.436875 / 7
		WHEN 'month' THEN 1 WHEN 'quarter' THEN 1.0 / 3 ELSE 1.0 / 12 END;
	upsert_sql := format($q$,
		i0 AS (SELECT s.customer_key, (s.s).frequency, (s.s).recency, (s.s).t, (s.s).monetary, (s.s).total,
					  (s.s).first_at, (s.s).last_at, (s.s).periods,
					  CASE WHEN $16 THEN @extschema@.p_alive(%1$s,
							(s.s).frequency, (s.s).recency, (s.s).t) END AS p_alive,
					  CASE WHEN $16 THEN @extschema@.expected_purchases(%1$s, $19,
							(s.s).frequency, (s.s).recency, (s.s).t) END AS expected_purchases,
					  CASE WHEN $18 THEN @extschema@.clv(%1$s, $17,
							(s.s).frequency, (s.s).recency, (s.s).t, (s.s).monetary, $20, $21, $22) END AS clv
			   FROM s WHERE (s.s).last_at IS NOT NULL),$q$, model_param) || $q$
		i AS (SELECT i0.customer_key, i0.frequency, i0.recency, i0.t, i0.monetary, i0.total,
					 i0.first_at, i0.last_at, i0.p_alive, i0.expected_purchases, i0.clv,
					 @extschema@.quintile_score(extract(epoch FROM i0.last_at)::double precision, $5) AS r_score,
					 @extschema@.quintile_score(i0.periods, $6) AS f_score,
					 @extschema@.quintile_score(i0.total, $7) AS m_score
			  FROM i0),

		up AS (INSERT INTO @extschema@.scores AS sc (source, customer_key, frequency, recency, t, monetary,
					total, first_at, last_at, r_score, f_score, m_score, segment, p_alive,
					expected_purchases, clv, churn_risk, stage, stage_since, version, scored_at, run_id)
			SELECT $1, i.customer_key, i.frequency, i.recency, i.t, i.monetary, i.total, i.first_at,
				   i.last_at, i.r_score, i.f_score, i.m_score, m.segment, i.p_alive, i.expected_purchases, i.clv,
				   1 - i.p_alive,
				   @extschema@.behavioral_stage(i.first_at, i.last_at, $3, i.p_alive, $9, $10, $11, $12, $13, $14),
				   $3, $4, $3, $2
			FROM i LEFT JOIN @extschema@.segment_map m
				ON m.map = $8 AND m.r_score = i.r_score AND m.f_score = i.f_score
			ON CONFLICT (source, customer_key) DO UPDATE SET
				frequency = EXCLUDED.frequency, recency = EXCLUDED.recency, t = EXCLUDED.t,
				monetary = EXCLUDED.monetary, total = EXCLUDED.total, first_at = EXCLUDED.first_at,
				last_at = EXCLUDED.last_at, r_score = EXCLUDED.r_score, f_score = EXCLUDED.f_score,
				m_score = EXCLUDED.m_score, segment = EXCLUDED.segment, p_alive = EXCLUDED.p_alive,
				expected_purchases = EXCLUDED.expected_purchases, clv = EXCLUDED.clv,
				churn_risk = EXCLUDED.churn_risk,
				stage = @extschema@.next_stage(EXCLUDED.stage, sc.stage, sc.stage_since, $3, $9),
				stage_since = CASE WHEN @extschema@.next_stage(EXCLUDED.stage, sc.stage, sc.stage_since, $3, $9)
										= sc.stage THEN sc.stage_since ELSE $3 END,
				version = EXCLUDED.version, scored_at = EXCLUDED.scored_at, run_id = EXCLUDED.run_id
			RETURNING sc.customer_key, sc.stage)$q$;
	IF src.tracked_table IS NOT NULL THEN
		-- write the stage into the user's customer table; when clm.track() tracks
		-- it, its trigger records the history, and moves its model forbids (the
		-- same rules as the trigger's) are left out and counted, not raised
		-- The UPDATE runs with the source owner's rights only (clm.run_as):
		-- it gets the batch's (key, stage) pairs as $1 and $3
		track_stmt := format($q$
		WITH up AS (SELECT u.customer_key, u.stage
					FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($3)) u(customer_key, stage)),
		tm AS (SELECT t.model, m.policy FROM @extschema@.tracked_table t
			   JOIN @extschema@.stage_model m ON m.model = t.model WHERE t.table_oid = %5$s::oid),
		st AS (SELECT x.stage, x.position, x.position = min(x.position) OVER () AS first
			   FROM @extschema@.stage x JOIN tm ON x.model = tm.model),
		mv AS (SELECT c.ctid AS row_id, up.stage,
					  NOT EXISTS (SELECT 1 FROM tm)
					  OR (up.stage IN (SELECT st.stage FROM st)
						  AND ((c.%3$I IS NOT NULL AND c.%3$I NOT IN (SELECT st.stage FROM st))
							   OR (SELECT tm.policy FROM tm) = 'any'
							   OR ((SELECT tm.policy FROM tm) = 'forward_only'
								   AND (c.%3$I IS NULL OR (SELECT st.position FROM st WHERE st.stage = up.stage)
														 >= (SELECT st.position FROM st WHERE st.stage = c.%3$I)))
							   OR ((SELECT tm.policy FROM tm) = 'graph'
								   AND ((c.%3$I IS NULL AND (SELECT st.first FROM st WHERE st.stage = up.stage))
										OR EXISTS (SELECT 1 FROM @extschema@.stage_transition e, tm
												   WHERE e.model = tm.model AND e.from_stage IS NOT DISTINCT FROM c.%3$I
													 AND e.to_stage = up.stage))))) AS allowed
			   FROM up JOIN %1$s c ON c.%2$I = up.customer_key::%4$s
			   WHERE c.%3$I IS DISTINCT FROM up.stage),
		tr AS (UPDATE %1$s c SET %3$I = mv.stage FROM mv WHERE c.ctid = mv.row_id AND mv.allowed)
		SELECT count(*) FROM mv WHERE NOT mv.allowed$q$,
			src.tracked_table, src.tracked_key_column, src.tracked_stage_column,
			(SELECT a.atttypid::regtype FROM pg_attribute a
			 WHERE a.attrelid = src.tracked_table AND a.attname = src.tracked_key_column),
			src.tracked_table::oid);
		track_sql := $q$,
		tr AS (SELECT x.skipped
			   FROM @extschema@.run_as($24, $25,
					ARRAY(SELECT up.customer_key FROM up ORDER BY up.customer_key COLLATE "C"), NULL,
					ARRAY(SELECT up.stage FROM up ORDER BY up.customer_key COLLATE "C")) AS x(skipped bigint))$q$;
		count_sql := ' SELECT (SELECT count(*) FROM s) + (SELECT count(*) FROM gone), (SELECT count(*) FROM up),
			(SELECT tr.skipped FROM tr)';
	END IF;
	EXECUTE batch_sql || upsert_sql || track_sql || count_sql
	INTO handled, scored, skipped
	USING src.name, run_id, r.as_of, ver.version, ver.r_breaks, ver.f_breaks, ver.m_breaks,
		  src.segment_map, src.new_within, src.at_risk_after, src.dormant_after, src.churned_after,
		  src.at_risk_p_alive, src.churned_p_alive, bg, use_model, gg, use_spend,
		  horizon, src.horizon_months, src.monthly_discount, src.time_unit, pn, src.owner, track_stmt;
	UPDATE @extschema@.refresh_runs x SET rows = x.rows + scored, stages_skipped = x.stages_skipped + skipped
	WHERE x.id = run_id;
	RETURN handled;
END
$fn$;

CREATE OR REPLACE FUNCTION @extschema@.refresh_finish(run_id bigint) RETURNS @extschema@.refresh_runs
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
	r @extschema@.refresh_runs;
	keep interval := coalesce(current_setting('clm.run_retention', true)::interval, '7 days');
BEGIN
	SELECT * INTO r FROM @extschema@.refresh_runs x WHERE x.id = run_id AND x.status = 'running';
	IF NOT FOUND THEN
		RAISE EXCEPTION 'refresh run % is not running', run_id USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	IF r.mode = 'full' THEN
		-- customers without events any more (all of them were scored by this run)
		DELETE FROM @extschema@.scores sc WHERE sc.source = r.source AND sc.run_id <> r.id;
		DELETE FROM @extschema@.score_versions v
		WHERE v.source = r.source AND v.version < r.version AND v.created_at < now() - keep;
	END IF;
	UPDATE @extschema@.refresh_runs x SET status = 'ok', finished_at = clock_timestamp()
	WHERE x.id = run_id RETURNING * INTO r;
	DELETE FROM @extschema@.refresh_runs x
	WHERE x.source = r.source AND x.finished_at < now() - keep AND x.id <> r.id;
	IF r.by_worker THEN
		PERFORM @extschema@.source_unlock(r.source);
	END IF;
	RETURN r;
END
$fn$;

CREATE OR REPLACE FUNCTION @extschema@.refresh(name text, full boolean DEFAULT false, as_of timestamptz DEFAULT NULL)
RETURNS SETOF @extschema@.refresh_runs
AS 'MODULE_PATHNAME', 'clm_call_checked' LANGUAGE C;

CREATE OR REPLACE FUNCTION @extschema@.refresh_failed(run_id bigint, name text, message text) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
	id bigint;
	worker boolean;
BEGIN
	UPDATE @extschema@.refresh_runs x SET status = 'error', error = message, finished_at = clock_timestamp()
	WHERE x.id = run_id AND x.status = 'running' RETURNING x.id, x.by_worker INTO id, worker;
	IF id IS NULL THEN
		INSERT INTO @extschema@.refresh_runs (source, mode, status, error, finished_at, by_worker)
		VALUES (name, 'incremental', 'error', message, clock_timestamp(), true) RETURNING refresh_runs.id INTO id;
	END IF;
	DELETE FROM @extschema@.refresh_stage st WHERE st.source = name;
	-- the worker's session-level lock (a manual run's lock ends with its transaction)
	IF coalesce(worker, true) THEN
		PERFORM @extschema@.source_unlock(name);
	END IF;
	RETURN id;
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

COMMENT ON FUNCTION @extschema@.queue_changes() IS
'Statement trigger put on a registered events table by clm.register: queues the customers whose events changed (C; reads the transition tables from the trigger data; writes clm.refresh_queue as the extension owner)';

COMMENT ON FUNCTION @extschema@.source_lock_key(text) IS
'objid of the object lock (classid clm.sources) that serialises the refreshes of a source; taken by clm.source_lock, seen in pg_locks';

-- the refresh steps are internal: the extension owner runs them (clm.refresh
-- through its gateway, the worker as its superuser)
REVOKE EXECUTE ON FUNCTION @extschema@.refresh_start(text, boolean, boolean, timestamptz),
	@extschema@.refresh_summaries(bigint), @extschema@.refresh_prepare(bigint),
	@extschema@.refresh_step(bigint), @extschema@.refresh_finish(bigint),
	@extschema@.refresh_failed(bigint, text, text) FROM PUBLIC;

-- hole 3: the stage history of the tables a role may SELECT only
ALTER TABLE @extschema@.stage_history ENABLE ROW LEVEL SECURITY;

CREATE POLICY stage_history_read ON @extschema@.stage_history FOR SELECT
	USING (pg_catalog.has_table_privilege(table_oid::pg_catalog.oid, 'SELECT'));

ALTER VIEW @extschema@.stage_spans SET (security_invoker = true);

ALTER VIEW @extschema@.time_in_stage SET (security_invoker = true);

COMMENT ON TABLE @extschema@.stage_history IS
'Append-only stage history: one row per stage change of a tracked table (source trigger), per existing row at clm.track (track) or per imported change (import); written only by the extension, erased only by clm.forget (and with its table); each role sees the rows of the tables it may SELECT';
