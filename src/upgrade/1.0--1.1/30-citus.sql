/*
 * Upgrade 1.0 -> 1.1, part 30: Citus (src/citus.sql is new in 1.1).
 * clm.register: an incremental source over a Citus events table gets a
 * co-located change queue and row triggers (clm.citus_register_queue), and
 * a Citus tracked customer table is refused with 0A000; clm.refresh_start
 * moves the queued customers into clm.refresh_queue (clm.citus_drain_queue);
 * clm.refresh_step reads an incremental batch's summaries of such a source
 * through a function (clm.citus_summaries_of); clm.unregister drops the
 * queue and triggers (clm.citus_unregister_queue); clm.worker_status counts
 * the customers queued on the workers (clm.citus_pending).  clm.track refuses Citus
 * tables in C (no SQL change).  The bodies below are those of
 * src/scores.sql.
 */

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
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
	src @extschema@.sources;
	rel text;
	relkind "char";
	col name;
	typ regtype;
	ctype regtype;
	ktype regtype;
	vname text;
	view_oid regclass;
BEGIN
	IF name IS NULL OR events IS NULL OR customer_column IS NULL OR time_column IS NULL
	   OR amount_column IS NULL THEN
		RAISE EXCEPTION 'name, events and the three column names must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF name !~ '^[A-Za-z_][A-Za-z0-9_]{0,47}$' THEN
		RAISE EXCEPTION 'invalid source name "%"', name USING ERRCODE = 'invalid_parameter_value',
			DETAIL = 'A source name is a letter or underscore followed by up to 47 letters, digits or underscores.';
	END IF;
	IF EXISTS (SELECT 1 FROM @extschema@.sources s WHERE s.name = register.name) THEN
		RAISE EXCEPTION 'source "%" is already registered', name USING ERRCODE = 'duplicate_object',
			HINT = 'Call clm.unregister first, or choose another name.';
	END IF;
	SELECT c.relkind INTO relkind FROM pg_class c WHERE c.oid = events;
	rel := events::text;
	IF relkind NOT IN ('r', 'p', 'v', 'm', 'f') THEN
		RAISE EXCEPTION '"%" is not a table or view', rel USING ERRCODE = 'wrong_object_type';
	END IF;
	-- columns, types and the caller's privilege to read them
	FOREACH col IN ARRAY ARRAY[customer_column, time_column, amount_column] LOOP
		SELECT a.atttypid::regtype INTO typ FROM pg_attribute a
		WHERE a.attrelid = events AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
		IF typ IS NULL THEN
			RAISE EXCEPTION 'column "%" of relation "%" does not exist', col, rel
				USING ERRCODE = 'undefined_column';
		END IF;
		IF NOT has_column_privilege(events, col, 'SELECT') THEN
			RAISE EXCEPTION 'permission denied to read column "%" of "%"', col, rel
				USING ERRCODE = 'insufficient_privilege',
					  DETAIL = format('Role %s has no SELECT privilege on it; the source is refreshed with the rights of the role that registers it.', current_user);
		END IF;
		IF col = customer_column THEN
			ctype := typ;
			IF typ NOT IN ('bigint'::regtype, 'integer'::regtype, 'text'::regtype, 'uuid'::regtype) THEN
				RAISE EXCEPTION 'customer column "%" has type %', col, typ USING ERRCODE = 'datatype_mismatch',
					DETAIL = 'Customer keys must be bigint, integer, text or uuid.';
			END IF;
		ELSIF col = time_column THEN
			IF typ NOT IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype) THEN
				RAISE EXCEPTION 'time column "%" has type %', col, typ USING ERRCODE = 'datatype_mismatch',
					DETAIL = 'The event time must be timestamptz, timestamp or date.';
			END IF;
		ELSIF typ NOT IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype, 'numeric'::regtype,
						  'real'::regtype, 'double precision'::regtype) THEN
			RAISE EXCEPTION 'amount column "%" has type %', col, typ USING ERRCODE = 'datatype_mismatch',
				DETAIL = 'The amount must be a number (smallint, integer, bigint, numeric, real or double precision).';
		END IF;
	END LOOP;
	-- options: the period names and the time zone are checked by the code that uses them
	IF period IS NULL OR time_unit IS NULL OR time_zone IS NULL OR segment_map IS NULL OR model IS NULL
	   OR horizon_months IS NULL OR monthly_discount IS NULL OR refresh_interval IS NULL
	   OR full_refresh_interval IS NULL OR incremental IS NULL THEN
		RAISE EXCEPTION 'options must not be NULL (only stage_model, tracked_* and scores_view may be)'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM @extschema@.rfm_summary(now(), 0, now(), period, time_unit);
	PERFORM now() AT TIME ZONE time_zone;
	IF NOT EXISTS (SELECT 1 FROM @extschema@.segment_map m WHERE m.map = segment_map) THEN
		RAISE EXCEPTION 'segment map "%" does not exist', segment_map USING ERRCODE = 'undefined_object',
			HINT = 'The shipped map is rfm_5x5; see clm.segment_map.';
	END IF;
	IF model NOT IN ('bgnbd', 'pareto_nbd') THEN
		RAISE EXCEPTION 'unknown model "%"', model USING ERRCODE = 'invalid_parameter_value',
			HINT = 'Use bgnbd or pareto_nbd.';
	END IF;
	IF horizon_months <= 0 THEN
		RAISE EXCEPTION 'horizon_months must be positive' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NOT (monthly_discount > -1 AND monthly_discount < 'Infinity') THEN
		RAISE EXCEPTION 'monthly_discount must be finite and greater than -1' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF refresh_interval <= '0' OR full_refresh_interval <= '0' THEN
		RAISE EXCEPTION 'refresh intervals must be positive' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF stage_model IS DISTINCT FROM 'behavioral' AND stage_model IS NOT NULL THEN
		RAISE EXCEPTION 'unknown stage model "%"', stage_model USING ERRCODE = 'invalid_parameter_value',
			DETAIL = 'Scores produce the stages of the behavioral model (new, active, at_risk, dormant, churned, reactivated).';
	END IF;
	IF (tracked_table IS NULL) <> (tracked_key_column IS NULL) OR (tracked_table IS NULL) <> (tracked_stage_column IS NULL) THEN
		RAISE EXCEPTION 'tracked_table, tracked_key_column and tracked_stage_column go together'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF tracked_table IS NOT NULL THEN
		SELECT a.atttypid::regtype INTO ktype FROM pg_attribute a
		WHERE a.attrelid = tracked_table AND a.attname = tracked_key_column AND a.attnum > 0 AND NOT a.attisdropped;
		SELECT a.atttypid::regtype INTO typ FROM pg_attribute a
		WHERE a.attrelid = tracked_table AND a.attname = tracked_stage_column AND a.attnum > 0 AND NOT a.attisdropped;
		IF ktype IS NULL OR typ IS NULL THEN
			RAISE EXCEPTION 'column "%" of relation "%" does not exist',
				CASE WHEN ktype IS NULL THEN tracked_key_column ELSE tracked_stage_column END, tracked_table
				USING ERRCODE = 'undefined_column';
		END IF;
		IF @extschema@.citus_table_type(tracked_table) IS NOT NULL THEN
			RAISE EXCEPTION 'the tracked customer table cannot be the Citus % table "%"',
				@extschema@.citus_table_type(tracked_table), tracked_table
				USING ERRCODE = 'feature_not_supported',
					  DETAIL = 'The refresh writes the stages into it by row, and clm.track does not support Citus tables.',
					  HINT = 'Keep the tracked customer table an ordinary table on the coordinator.';
		END IF;
		IF ktype NOT IN ('bigint'::regtype, 'integer'::regtype, 'text'::regtype, 'uuid'::regtype) THEN
			RAISE EXCEPTION 'tracked key column "%" has type %', tracked_key_column, ktype
				USING ERRCODE = 'datatype_mismatch', DETAIL = 'Customer keys must be bigint, integer, text or uuid.';
		END IF;
		IF typ NOT IN ('text'::regtype, 'character varying'::regtype) THEN
			RAISE EXCEPTION 'tracked stage column "%" has type %', tracked_stage_column, typ
				USING ERRCODE = 'datatype_mismatch', DETAIL = 'The stage column must be text or varchar.';
		END IF;
		IF NOT has_column_privilege(tracked_table, tracked_key_column, 'SELECT')
		   OR NOT has_column_privilege(tracked_table, tracked_stage_column, 'UPDATE') THEN
			RAISE EXCEPTION 'permission denied to update "%" of "%"', tracked_stage_column, tracked_table
				USING ERRCODE = 'insufficient_privilege';
		END IF;
		stage_model := coalesce(stage_model, 'behavioral');
	END IF;
	IF incremental THEN
		IF relkind NOT IN ('r', 'p') THEN
			RAISE EXCEPTION 'incremental refresh needs a table, "%" is not one', rel
				USING ERRCODE = 'wrong_object_type', HINT = 'Pass incremental => false to rescore everyone on every run.';
		END IF;
		IF NOT has_table_privilege(events, 'TRIGGER') THEN
			RAISE EXCEPTION 'permission denied to create triggers on "%"', rel
				USING ERRCODE = 'insufficient_privilege',
					  DETAIL = 'Incremental refresh tracks changed customers with statement triggers on the events table.',
					  HINT = 'Have the table owner grant TRIGGER, or pass incremental => false.';
		END IF;
	END IF;

	INSERT INTO @extschema@.sources AS s (name, events, customer_column, time_column, amount_column,
		customer_type, period, time_unit, time_zone, segment_map, model, horizon_months,
		monthly_discount, stage_model, tracked_table, tracked_key_column, tracked_stage_column,
		incremental, refresh_interval, full_refresh_interval)
	VALUES (name, events, customer_column, time_column, amount_column, ctype,
		lower(period), lower(time_unit), time_zone, segment_map, model, horizon_months,
		monthly_discount, stage_model, tracked_table, tracked_key_column, tracked_stage_column,
		incremental, refresh_interval, full_refresh_interval)
	RETURNING * INTO src;

	IF incremental AND @extschema@.citus_table_type(events) IS NOT NULL THEN
		PERFORM @extschema@.citus_register_queue(src);
	ELSIF incremental THEN
		EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %s REFERENCING NEW TABLE AS clm_new_rows
			FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.queue_changes(%L, %L)',
			'clm_' || name || '_insert', rel, name, customer_column);
		EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %s REFERENCING OLD TABLE AS clm_old_rows NEW TABLE AS clm_new_rows
			FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.queue_changes(%L, %L)',
			'clm_' || name || '_update', rel, name, customer_column);
		EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %s REFERENCING OLD TABLE AS clm_old_rows
			FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.queue_changes(%L, %L)',
			'clm_' || name || '_delete', rel, name, customer_column);
		EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %s
			FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.queue_changes(%L, %L)',
			'clm_' || name || '_truncate', rel, name, customer_column);
	END IF;

	IF incremental AND NOT EXISTS (
			SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
			WHERE i.indrelid = events AND a.attname = customer_column) THEN
		RAISE NOTICE 'no index on "%" of "%"', customer_column, rel
			USING HINT = 'Incremental refreshes read the events of the changed customers; create an index on the customer column.';
	END IF;
	IF scores_view IS NOT NULL THEN
		-- created with the caller's rights, where the caller chooses; security_invoker
		-- so that the row level security of clm.scores applies to whoever queries it
		-- scores_view is a name, never SQL: parse it (22023 if it is not a
		-- valid, possibly qualified, identifier) and quote each part again
		SELECT string_agg(quote_ident(x.part), '.' ORDER BY x.i) INTO vname
		FROM unnest(parse_ident(scores_view)) WITH ORDINALITY x(part, i);
		EXECUTE format('CREATE VIEW %s WITH (security_invoker = true) AS
			SELECT s.customer_key::%s AS %I, s.frequency, s.recency, s.t, s.monetary, s.total,
			       s.first_at, s.last_at, s.r_score, s.f_score, s.m_score, s.segment, s.p_alive,
			       s.expected_purchases, s.clv, s.churn_risk, s.stage, s.stage_since, s.version, s.scored_at
			FROM @extschema@.scores s WHERE s.source = %L', vname, ctype, customer_column, name);
		view_oid := to_regclass(vname);
		UPDATE @extschema@.sources s SET scores_view = view_oid WHERE s.name = register.name
		RETURNING * INTO src;
	END IF;
	RETURN src;
END
$fn$;

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
	IF NOT pg_has_role(src.owner, 'USAGE') THEN
		RAISE EXCEPTION 'must be a member of role % to refresh source "%"', src.owner, name
			USING ERRCODE = 'insufficient_privilege', HINT = 'Readers of a source can read its scores, not refresh it.';
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
				  HINT = 'If a column was renamed, set tracked_key_column and tracked_stage_column of the source in clm.sources to the new names.';
	END IF;
	IF by_worker THEN
		-- the worker holds the lock across its transactions; skip a busy source
		IF NOT pg_try_advisory_lock(7105901, @extschema@.source_lock_key(name)) THEN
			RETURN NULL;
		END IF;
	ELSE
		PERFORM pg_advisory_xact_lock(7105901, @extschema@.source_lock_key(name));
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
		s AS (%9$s),
		gone AS (DELETE FROM @extschema@.scores sc USING k
				 WHERE sc.source = $1 AND sc.customer_key = k.customer_key
				   AND NOT EXISTS (SELECT 1 FROM s WHERE s.customer_key = k.customer_key AND (s.s).last_at IS NOT NULL)
				 RETURNING sc.customer_key)$q$,
			src.customer_column, src.time_column, src.amount_column, src.period, src.time_unit,
			src.events, bs, src.customer_type,
			CASE WHEN @extschema@.citus_table_type(src.events) IS NOT NULL THEN
				-- Citus plans no statement that writes local tables and reads
				-- a distributed one: its summaries come from a function
				'SELECT f.customer_key, f.s FROM @extschema@.citus_summaries_of($2, ARRAY(SELECT k.customer_key FROM k)) f'
			ELSE format($q$SELECT e.%1$I::text AS customer_key,
					 @extschema@.rfm_summary(e.%2$I::timestamptz, e.%3$I::double precision, $3, %4$L, %5$L) AS s
			  FROM %6$s e WHERE e.%1$I = ANY (ARRAY(SELECT k.customer_key FROM k)::%7$s[])
			  GROUP BY e.%1$I$q$,
				src.customer_column, src.time_column, src.amount_column, src.period, src.time_unit,
				src.events, src.customer_type) END);
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
		track_sql := format($q$,
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
		tr AS (UPDATE %1$s c SET %3$I = mv.stage FROM mv WHERE c.ctid = mv.row_id AND mv.allowed)$q$,
			src.tracked_table, src.tracked_key_column, src.tracked_stage_column,
			(SELECT a.atttypid::regtype FROM pg_attribute a
			 WHERE a.attrelid = src.tracked_table AND a.attname = src.tracked_key_column),
			src.tracked_table::oid);
		count_sql := ' SELECT (SELECT count(*) FROM s) + (SELECT count(*) FROM gone), (SELECT count(*) FROM up),
			(SELECT count(*) FROM mv WHERE NOT mv.allowed)';
	END IF;
	EXECUTE batch_sql || upsert_sql || track_sql || count_sql
	INTO handled, scored, skipped
	USING src.name, run_id, r.as_of, ver.version, ver.r_breaks, ver.f_breaks, ver.m_breaks,
		  src.segment_map, src.new_within, src.at_risk_after, src.dormant_after, src.churned_after,
		  src.at_risk_p_alive, src.churned_p_alive, bg, use_model, gg, use_spend,
		  horizon, src.horizon_months, src.monthly_discount, src.time_unit, pn;
	UPDATE @extschema@.refresh_runs x SET rows = x.rows + scored, stages_skipped = x.stages_skipped + skipped
	WHERE x.id = run_id;
	RETURN handled;
END
$fn$;

CREATE OR REPLACE FUNCTION @extschema@.unregister(name text) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
	src @extschema@.sources;
	op text;
BEGIN
	SELECT * INTO src FROM @extschema@.sources s WHERE s.name = unregister.name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'source "%" does not exist', name USING ERRCODE = 'undefined_object';
	END IF;
	IF NOT pg_has_role(src.owner, 'USAGE') THEN
		RAISE EXCEPTION 'must be a member of role % to unregister source "%"', src.owner, name
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	-- wait for a running refresh of the source to end
	PERFORM pg_advisory_xact_lock(7105901, @extschema@.source_lock_key(name));
	IF src.scores_view IS NOT NULL AND EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = src.scores_view) THEN
		EXECUTE format('DROP VIEW %s', src.scores_view);
	END IF;
	IF src.incremental AND EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = src.events)
	   AND NOT @extschema@.citus_unregister_queue(src) THEN
		FOREACH op IN ARRAY ARRAY['insert', 'update', 'delete', 'truncate'] LOOP
			BEGIN
				EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', 'clm_' || name || '_' || op, src.events);
			EXCEPTION WHEN insufficient_privilege THEN
				RAISE WARNING 'trigger "%" left on "%"', 'clm_' || name || '_' || op, src.events
					USING DETAIL = 'Only the owner of the table can drop it; it does nothing for an unregistered source.';
			END;
		END LOOP;
	END IF;
	DELETE FROM @extschema@.refresh_queue q WHERE q.source = name;
	DELETE FROM @extschema@.refresh_stage q WHERE q.source = name;
	DELETE FROM @extschema@.refresh_runs r WHERE r.source = name;
	DELETE FROM @extschema@.sources s WHERE s.name = unregister.name;	-- cascades to scores and versions
	RETURN true;
END
$fn$;

CREATE OR REPLACE FUNCTION @extschema@.worker_status()
RETURNS TABLE (source text, owner regrole, running boolean, last_run timestamptz, last_mode text,
			   last_status text, last_rows bigint, last_error text, consecutive_errors integer,
			   last_ok timestamptz, scores_as_of timestamptz, next_run timestamptz,
			   pending_customers bigint, lag interval)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
	SELECT s.name, s.owner,
		EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted
				AND l.classid = 7105901::oid AND l.objid = @extschema@.source_lock_key(s.name)::oid
				AND l.objsubid = 2),
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
