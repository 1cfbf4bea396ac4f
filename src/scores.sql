/*
 * src/scores.sql: scoring pipeline: registered sources, the scores table, refresh, worker
 *
 * A part of the newest clm install script, which the Makefile concatenates
 * from the SQL_SOURCES list.  Sections: types and tables, support functions,
 * aggregates, user functions (views, triggers, policies), comments and grants.
 */

-- ======================================================================
-- types and tables
-- ======================================================================

-- Security model (see README "Security model"): every table below has row
-- level security and is written by the extension owner only.  A source
-- belongs to the role that registered it (owner); that role (and roles that
-- inherit it) may change the source (clm.alter_source), run its refresh and
-- read its rows; roles listed in readers (clm.grant_scores) may read them.
-- The functions that change these tables are C gateways (src/gate.c) that
-- call the internal clm.<name>_as(caller, ...) as the extension owner; every
-- read or write of a user's table goes through clm.run_as(owner, ...), so a
-- refresh reads the events and writes the tracked table with the source
-- owner's rights only, whoever starts it.

CREATE TABLE @extschema@.sources (
	name text PRIMARY KEY
		CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_]{0,47}$'),
	owner regrole NOT NULL DEFAULT current_user::regrole,
	readers regrole[] NOT NULL DEFAULT '{}',
	events regclass NOT NULL,
	customer_column name NOT NULL,
	time_column name NOT NULL,
	amount_column name NOT NULL,
	customer_type regtype NOT NULL,
	period text NOT NULL DEFAULT 'day',
	time_unit text NOT NULL DEFAULT 'week',
	time_zone text NOT NULL DEFAULT 'UTC',
	segment_map text NOT NULL DEFAULT 'rfm_5x5',
	model text NOT NULL DEFAULT 'bgnbd' CHECK (model IN ('bgnbd', 'pareto_nbd')),
	horizon_months integer NOT NULL DEFAULT 12 CHECK (horizon_months > 0),
	monthly_discount double precision NOT NULL DEFAULT 0.01
		CHECK (monthly_discount > -1 AND monthly_discount < 'Infinity'),
	new_within interval NOT NULL DEFAULT '30 days',
	at_risk_after interval NOT NULL DEFAULT '90 days',
	dormant_after interval NOT NULL DEFAULT '180 days',
	churned_after interval NOT NULL DEFAULT '365 days',
	at_risk_p_alive double precision NOT NULL DEFAULT 0.5 CHECK (at_risk_p_alive BETWEEN 0 AND 1),
	churned_p_alive double precision NOT NULL DEFAULT 0.1 CHECK (churned_p_alive BETWEEN 0 AND 1),
	min_fit_customers integer NOT NULL DEFAULT 100 CHECK (min_fit_customers > 0),
	stage_model text,
	tracked_table regclass,
	tracked_key_column name,
	tracked_stage_column name,
	incremental boolean NOT NULL DEFAULT true,
	refresh_interval interval NOT NULL DEFAULT '5 minutes' CHECK (refresh_interval > '0'),
	full_refresh_interval interval NOT NULL DEFAULT '1 day' CHECK (full_refresh_interval > '0'),
	scores_view regclass,
	registered_at timestamptz NOT NULL DEFAULT now(),
	CHECK (new_within >= '0' AND at_risk_after > '0' AND dormant_after > at_risk_after
	       AND churned_after > dormant_after),
	CHECK ((tracked_table IS NULL) = (tracked_key_column IS NULL)
	       AND (tracked_table IS NULL) = (tracked_stage_column IS NULL))
);

CREATE TABLE @extschema@.segment_map (
	map text NOT NULL,
	r_score smallint NOT NULL CHECK (r_score BETWEEN 1 AND 5),
	f_score smallint NOT NULL CHECK (f_score BETWEEN 1 AND 5),
	segment text NOT NULL,
	shipped boolean NOT NULL DEFAULT false,
	PRIMARY KEY (map, r_score, f_score)
);

-- fitted model parameters and RFM score breakpoints, one version per full refresh
CREATE TABLE @extschema@.score_versions (
	source text NOT NULL REFERENCES @extschema@.sources (name) ON DELETE CASCADE ON UPDATE CASCADE,
	version bigint NOT NULL,
	created_at timestamptz NOT NULL,
	as_of timestamptz NOT NULL,
	customers bigint NOT NULL,
	r_breaks double precision[] NOT NULL,
	f_breaks double precision[] NOT NULL,
	m_breaks double precision[] NOT NULL,
	model text NOT NULL,
	model_params jsonb,
	spend_params jsonb,
	fit_diagnostics jsonb,
	PRIMARY KEY (source, version)
);

CREATE TABLE @extschema@.scores (
	source text NOT NULL REFERENCES @extschema@.sources (name) ON DELETE CASCADE ON UPDATE CASCADE,
	customer_key text NOT NULL,
	frequency integer NOT NULL,
	recency double precision NOT NULL,
	t double precision NOT NULL,
	monetary double precision NOT NULL,
	total double precision NOT NULL,
	first_at timestamptz NOT NULL,
	last_at timestamptz NOT NULL,
	r_score smallint NOT NULL,
	f_score smallint NOT NULL,
	m_score smallint NOT NULL,
	segment text,
	p_alive double precision,
	expected_purchases double precision,
	clv double precision,
	churn_risk double precision,
	stage text NOT NULL,
	stage_since timestamptz NOT NULL,
	version bigint NOT NULL,
	scored_at timestamptz NOT NULL,
	run_id bigint NOT NULL,
	tier smallint,			-- value tier (src/action.sql)
	PRIMARY KEY (source, customer_key)
);

CREATE INDEX scores_segment ON @extschema@.scores (source, segment);

CREATE INDEX scores_stage ON @extschema@.scores (source, stage);

CREATE TABLE @extschema@.refresh_runs (
	id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	source text NOT NULL,
	started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	finished_at timestamptz,
	mode text NOT NULL CHECK (mode IN ('full', 'incremental')),
	rows bigint NOT NULL DEFAULT 0,
	status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'ok', 'error')),
	error text,
	as_of timestamptz,
	version bigint,
	by_worker boolean NOT NULL DEFAULT false,
	stages_skipped bigint NOT NULL DEFAULT 0
);

CREATE INDEX refresh_runs_source ON @extschema@.refresh_runs (source, started_at);

-- changed customers, filled by statement triggers on the events tables
CREATE TABLE @extschema@.refresh_queue (
	source text NOT NULL,
	customer_key text,			-- NULL: the table was truncated, rescore everyone
	queued_at timestamptz NOT NULL DEFAULT statement_timestamp()
);

CREATE INDEX refresh_queue_source ON @extschema@.refresh_queue (source, customer_key);

-- customer summaries of a full refresh, consumed batch by batch
CREATE UNLOGGED TABLE @extschema@.refresh_stage (
	run_id bigint NOT NULL,
	source text NOT NULL,
	batch integer NOT NULL,
	customer_key text NOT NULL,
	s @extschema@.rfm NOT NULL
);

CREATE INDEX refresh_stage_batch ON @extschema@.refresh_stage (run_id, batch);

-- ======================================================================
-- user functions, views, triggers and policies
-- ======================================================================

SELECT pg_catalog.pg_extension_config_dump('@extschema@.sources', '');

SELECT pg_catalog.pg_extension_config_dump('@extschema@.segment_map', 'WHERE NOT shipped');

INSERT INTO @extschema@.segment_map (map, r_score, f_score, segment, shipped)
SELECT 'rfm_5x5', r, f,
	CASE
		WHEN r = 5 AND f >= 4 THEN 'Champions'
		WHEN r IN (3, 4) AND f >= 4 THEN 'Loyal'
		WHEN r >= 4 AND f IN (2, 3) THEN 'Potential Loyalists'
		WHEN r = 5 AND f = 1 THEN 'New Customers'
		WHEN r = 4 AND f = 1 THEN 'Promising'
		WHEN r = 3 AND f = 3 THEN 'Need Attention'
		WHEN r = 3 AND f <= 2 THEN 'About to Sleep'
		WHEN r <= 2 AND f IN (3, 4) THEN 'At Risk'
		WHEN r <= 2 AND f = 5 THEN 'Can''t Lose Them'
		WHEN r <= 2 AND f <= 2 THEN 'Hibernating'
	END, true
FROM generate_series(1, 5) r, generate_series(1, 5) f;

CREATE FUNCTION @extschema@.segment_map_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF TG_OP <> 'INSERT' AND OLD.shipped THEN
		RAISE EXCEPTION 'segment map "%" is shipped with clm and cannot be changed', OLD.map
			USING ERRCODE = 'insufficient_privilege',
				  HINT = format('Copy it with SELECT clm.copy_segment_map(%L, ''my_map'') and edit the copy.', OLD.map);
	END IF;
	IF TG_OP = 'DELETE' THEN
		RETURN OLD;
	END IF;
	IF NEW.shipped THEN
		RAISE EXCEPTION 'only clm itself ships segment maps'
			USING ERRCODE = 'insufficient_privilege', HINT = 'Leave the shipped column false.';
	END IF;
	RETURN NEW;
END
$$;

CREATE TRIGGER segment_map_guard BEFORE INSERT OR UPDATE OR DELETE ON @extschema@.segment_map
FOR EACH ROW EXECUTE FUNCTION @extschema@.segment_map_guard();

CREATE FUNCTION @extschema@.copy_segment_map(from_map text, to_map text) RETURNS integer
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
	WITH ins AS (
		INSERT INTO @extschema@.segment_map (map, r_score, f_score, segment)
		SELECT to_map, r_score, f_score, segment FROM @extschema@.segment_map WHERE map = from_map
		RETURNING 1)
	SELECT count(*)::integer FROM ins
$$;

-- row level security: owners and readers read; nobody but the extension
-- owner (the table owner, not subject to these policies) writes
ALTER TABLE @extschema@.sources ENABLE ROW LEVEL SECURITY;

CREATE POLICY sources_read ON @extschema@.sources FOR SELECT
	USING (pg_catalog.pg_has_role(owner, 'USAGE')
	       OR EXISTS (SELECT 1 FROM pg_catalog.unnest(readers) r WHERE pg_catalog.pg_has_role(r, 'USAGE')));

ALTER TABLE @extschema@.scores ENABLE ROW LEVEL SECURITY;

CREATE POLICY scores_read ON @extschema@.scores FOR SELECT
	USING (source IN (SELECT name FROM @extschema@.sources));

ALTER TABLE @extschema@.score_versions ENABLE ROW LEVEL SECURITY;

CREATE POLICY score_versions_read ON @extschema@.score_versions FOR SELECT
	USING (source IN (SELECT name FROM @extschema@.sources));

ALTER TABLE @extschema@.refresh_runs ENABLE ROW LEVEL SECURITY;

CREATE POLICY refresh_runs_read ON @extschema@.refresh_runs FOR SELECT
	USING (source IN (SELECT name FROM @extschema@.sources));

-- the work table of full refreshes: no policy, so no role but its owner
ALTER TABLE @extschema@.refresh_stage ENABLE ROW LEVEL SECURITY;

-- the queue is written by the C trigger function below as the extension owner
ALTER TABLE @extschema@.refresh_queue ENABLE ROW LEVEL SECURITY;

CREATE POLICY refresh_queue_read ON @extschema@.refresh_queue FOR SELECT
	USING (source IN (SELECT name FROM @extschema@.sources));

/*
 * Statement trigger of the events tables, in C (src/queue.c): it reads the
 * keys from the transition tables in TriggerData, acts only as a trigger
 * clm.register made on the source's own events table, and writes the queue
 * as the extension owner with one fixed INSERT.  Not SECURITY DEFINER.
 */
CREATE FUNCTION @extschema@.queue_changes() RETURNS trigger
AS 'MODULE_PATHNAME', 'clm_queue_changes' LANGUAGE C;

-- rank-based quintile score of a value given the breakpoints of its population
CREATE FUNCTION @extschema@.quintile_score(value double precision, breaks double precision[])
RETURNS smallint AS 'MODULE_PATHNAME', 'clm_quintile_score' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.quintile_breaks(sorted_values double precision[])
RETURNS double precision[] AS 'MODULE_PATHNAME', 'clm_quintile_breaks' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- behavioural stage rules (documented in README; thresholds per source)
CREATE FUNCTION @extschema@.behavioral_stage(
	first_at timestamptz, last_at timestamptz, as_of timestamptz, p_alive double precision,
	new_within interval, at_risk_after interval, dormant_after interval, churned_after interval,
	at_risk_p_alive double precision, churned_p_alive double precision)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE
		WHEN as_of - last_at > churned_after OR p_alive < churned_p_alive THEN 'churned'
		WHEN as_of - last_at > dormant_after THEN 'dormant'
		WHEN as_of - last_at > at_risk_after OR p_alive < at_risk_p_alive THEN 'at_risk'
		WHEN as_of - first_at <= new_within THEN 'new'
		ELSE 'active'
	END
$$;

CREATE FUNCTION @extschema@.next_stage(stage text, previous text, previous_since timestamptz,
	as_of timestamptz, new_within interval)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE
		WHEN stage IN ('active', 'new') AND previous IN ('dormant', 'churned') THEN 'reactivated'
		WHEN stage IN ('active', 'new') AND previous = 'reactivated'
			 AND as_of - previous_since <= new_within THEN 'reactivated'
		ELSE stage
	END
$$;

-- advisory lock key of a source: (7105901 = 'clm' as an int, hash of the name)
CREATE FUNCTION @extschema@.source_lock_key(source text) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
	SELECT pg_catalog.hashtext(source) & 2147483647
$$;

-- the user-facing functions that change clm's tables are C gateways
-- (src/gate.c): they call clm.<name>_as(calling role, the same arguments)
-- as the extension owner (src/security.sql)
CREATE FUNCTION @extschema@.register(
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

CREATE FUNCTION @extschema@.unregister(name text) RETURNS boolean
AS 'MODULE_PATHNAME', 'clm_call_checked' LANGUAGE C;

CREATE FUNCTION @extschema@.grant_scores(name text, reader regrole) RETURNS regrole[]
AS 'MODULE_PATHNAME', 'clm_call_checked' LANGUAGE C;

CREATE FUNCTION @extschema@.revoke_scores(name text, reader regrole) RETURNS regrole[]
AS 'MODULE_PATHNAME', 'clm_call_checked' LANGUAGE C;

/*
 * Refresh, in steps so that the worker can commit between them:
 *   refresh_start    takes the source's advisory lock, picks the mode, logs the run
 *   refresh_prepare  full: summarises every customer into clm.refresh_stage in one
 *                    scan (and empties the queue in the same snapshot), computes the
 *                    quintile breakpoints and stores them as a new version
 *   refresh_step     scores one batch (full: one staged batch; incremental: up to
 *                    clm.batch_size queued customers); returns 0 when nothing is left
 *   refresh_finish   full: removes customers without events; marks the run ok;
 *                    purges old runs; releases a session lock
 * clm.refresh() runs them all in the caller's transaction.  They are internal:
 * only the extension owner executes them (clm.refresh through its gateway,
 * the worker as its superuser), and they read and write the user's tables
 * only through clm.run_as(source owner, ...).
 */
CREATE FUNCTION @extschema@.refresh_start(name text, want_full boolean, by_worker boolean,
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

CREATE FUNCTION @extschema@.refresh_summaries(run_id bigint)
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

-- the fits' convergence WARNINGs go to the server log only: whether a fit is
-- used is recorded in clm.score_versions (model_params, fit_diagnostics)
CREATE FUNCTION @extschema@.refresh_prepare(run_id bigint) RETURNS bigint
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

CREATE FUNCTION @extschema@.refresh_step(run_id bigint) RETURNS bigint
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

CREATE FUNCTION @extschema@.refresh_finish(run_id bigint) RETURNS @extschema@.refresh_runs
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

CREATE FUNCTION @extschema@.refresh(name text, full boolean DEFAULT false, as_of timestamptz DEFAULT NULL)
RETURNS SETOF @extschema@.refresh_runs
AS 'MODULE_PATHNAME', 'clm_call_checked' LANGUAGE C;

CREATE FUNCTION @extschema@.refresh_failed(run_id bigint, name text, message text) RETURNS bigint
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

-- next_run arithmetic: a source's intervals (and its run log, which its owner
-- may write) are the user's, so a sum beyond the timestamp range must not
-- fail clm.worker_status() for every source (the worker lists the due ones
-- with it): such a time is 'infinity', i.e. never due.  PARALLEL UNSAFE: the
-- exception block is a subtransaction, which parallel mode does not allow
CREATE FUNCTION @extschema@.time_after(t timestamptz, span interval, times double precision DEFAULT 1)
RETURNS timestamptz
LANGUAGE plpgsql STABLE STRICT PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
	IF times = 'NaN'::float8 THEN
		RAISE EXCEPTION 'times must not be NaN' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN t + span * times;
EXCEPTION WHEN datetime_field_overflow THEN
	-- past either end of the range, in the direction of span * times
	RETURN CASE WHEN (span < interval '0') <> (times < 0) THEN '-infinity' ELSE 'infinity' END;
END
$fn$;

CREATE FUNCTION @extschema@.worker_status()
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

-- ======================================================================
-- comments and grants
-- ======================================================================

COMMENT ON TABLE @extschema@.sources IS
'Registered event sources (clm.register): one row per scored events table, owned by the registering role; kept by pg_dump';

COMMENT ON TABLE @extschema@.segment_map IS
'RFM segment maps: the segment name of each (R, F) score cell; map rfm_5x5 is shipped read-only, copy it with clm.copy_segment_map to edit; user maps are kept by pg_dump';

COMMENT ON FUNCTION @extschema@.segment_map_guard() IS
'Trigger of clm.segment_map: the shipped map cannot be changed (copy it instead)';

COMMENT ON FUNCTION @extschema@.copy_segment_map(text, text) IS
'Copies a segment map under a new name (to edit it); returns the number of cells copied';

COMMENT ON TABLE @extschema@.score_versions IS
'One row per full refresh of a source: RFM quintile breakpoints (score k starts at breaks[k-1]) and the fitted model parameters with their diagnostics';

COMMENT ON TABLE @extschema@.scores IS
'Customer scores kept fresh by clm.refresh and the background worker: RFM summary, R/F/M quintile scores, segment, model scores and behavioural stage';

COMMENT ON TABLE @extschema@.refresh_runs IS
'Log of every refresh (manual or by the worker): running, ok or error, customers scored, stage moves left out of the tracked table because its stage model forbids them; purged after clm.run_retention';

COMMENT ON TABLE @extschema@.refresh_queue IS
'Customers with changed events since their last scoring (written by the events triggers; consumed by incremental refresh). No unique key on purpose: see README';

COMMENT ON TABLE @extschema@.refresh_stage IS
'Work table of full refreshes: customer summaries waiting to be scored in batches';

-- everybody reads (row level security shows each role its own sources and
-- the sources granted to it); only the extension owner writes, through the
-- gateways and the worker
GRANT SELECT ON @extschema@.sources, @extschema@.scores, @extschema@.score_versions,
	@extschema@.refresh_runs, @extschema@.refresh_queue TO PUBLIC;

REVOKE ALL ON @extschema@.refresh_stage FROM PUBLIC;

REVOKE ALL ON SEQUENCE @extschema@.refresh_runs_id_seq FROM PUBLIC;

GRANT SELECT ON @extschema@.segment_map TO PUBLIC;

-- non-superusers register, refresh and read their own sources
GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;

COMMENT ON FUNCTION @extschema@.queue_changes() IS
'Statement trigger put on a registered events table by clm.register: queues the customers whose events changed (C; reads the transition tables from the trigger data; writes clm.refresh_queue as the extension owner)';

COMMENT ON FUNCTION @extschema@.quintile_score(double precision, double precision[]) IS
'Score 1 + number of breakpoints <= value (breakpoints from clm.quintile_breaks; NULL breakpoints are never reached)';

COMMENT ON FUNCTION @extschema@.quintile_breaks(double precision[]) IS
'Breakpoints of rank-based quintile scores of a population given sorted ascending: element k-1 is the smallest value with at least ceil((k-1) n / 5) smaller values (NULL if none), k = 2..5; equal values share a score';

COMMENT ON FUNCTION @extschema@.behavioral_stage(timestamptz, timestamptz, timestamptz, double precision, interval, interval, interval, interval, double precision, double precision) IS
'Stage from the scores alone: churned, dormant, at_risk, new or active (first matching rule; P(alive) rules apply only when it is known)';

COMMENT ON FUNCTION @extschema@.next_stage(text, text, timestamptz, timestamptz, interval) IS
'Stage given the previous one: a customer buying again after dormant or churned is reactivated for new_within, then active';

COMMENT ON FUNCTION @extschema@.source_lock_key(text) IS
'objid of the object lock (classid clm.sources) that serialises the refreshes of a source; taken by clm.source_lock, seen in pg_locks';

COMMENT ON FUNCTION @extschema@.register(text, regclass, name, name, name, text, text, text, text, text, integer, double precision, text, regclass, name, name, interval, interval, boolean, text) IS
'Registers an events table (customer, time, amount columns) as a scored source owned by the calling role; validates every argument';

COMMENT ON FUNCTION @extschema@.unregister(text) IS
'Removes a source: its triggers (when the caller may), its view, scores, versions, queue and run log';

COMMENT ON FUNCTION @extschema@.grant_scores(text, regrole) IS
'Lets a role (and its members) read the scores, runs and settings of a source you own';

COMMENT ON FUNCTION @extschema@.revoke_scores(text, regrole) IS
'Takes back the read access given by clm.grant_scores';

COMMENT ON FUNCTION @extschema@.refresh_start(text, boolean, boolean, timestamptz) IS
'First step of a refresh: lock the source, choose full or incremental, log the run (used by clm.refresh and the worker)';

COMMENT ON FUNCTION @extschema@.refresh_summaries(bigint) IS
'The customer summaries of a running full refresh (one scan of the events, parallel when the planner chooses; used by clm.refresh_prepare)';

COMMENT ON FUNCTION @extschema@.refresh_prepare(bigint) IS
'Second step of a full refresh: summarise every customer in one scan, fit the purchase and spend models, store them with the quintile breakpoints as a new version';

COMMENT ON FUNCTION @extschema@.refresh_step(bigint) IS
'Scores one batch of a refresh run; returns the number of customers handled (0: nothing left)';

COMMENT ON FUNCTION @extschema@.refresh_finish(bigint) IS
'Last step of a refresh: drop customers without events (full), mark the run ok, purge runs older than clm.run_retention';

COMMENT ON FUNCTION @extschema@.refresh(text, boolean, timestamptz) IS
'Refreshes the scores of a source now, in the caller''s transaction (waits for a running refresh of the same source); as_of (full refresh only) scores as of a past time; returns its run';

COMMENT ON FUNCTION @extschema@.refresh_failed(bigint, text, text) IS
'Used by the worker after a failed refresh step (in a new transaction): logs the error in clm.refresh_runs and releases the source';

COMMENT ON FUNCTION @extschema@.time_after(timestamptz, interval, double precision) IS
't + span * times, or infinity (-infinity for a backward step) when that is beyond the timestamp or interval range (used for clm.worker_status().next_run)';

COMMENT ON FUNCTION @extschema@.worker_status() IS
'Per source: whether a refresh runs now, the last run and error, consecutive errors, next run due (with backoff after errors), queued customers and the age of the oldest queued change';

-- the refresh steps are internal: the extension owner runs them (clm.refresh
-- through its gateway, the worker as its superuser)
REVOKE EXECUTE ON FUNCTION @extschema@.refresh_start(text, boolean, boolean, timestamptz),
	@extschema@.refresh_summaries(bigint), @extschema@.refresh_prepare(bigint),
	@extschema@.refresh_step(bigint), @extschema@.refresh_finish(bigint),
	@extschema@.refresh_failed(bigint, text, text) FROM PUBLIC;
