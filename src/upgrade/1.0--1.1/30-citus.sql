/*
 * Upgrade 1.0 -> 1.1, part 30: Citus.  clm.citus_table_type (new, from
 * src/citus.sql) tells Citus tables apart; clm.register refuses incremental
 * refresh on a Citus events table and a Citus tracked customer table with
 * 0A000 instead of Citus's own error at CREATE TRIGGER.  clm.track refuses
 * Citus tables in C (no SQL change).  The body below is the one in
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
		IF @extschema@.citus_table_type(events) IS NOT NULL THEN
			RAISE EXCEPTION 'incremental refresh does not support the Citus % table "%"',
				@extschema@.citus_table_type(events), rel
				USING ERRCODE = 'feature_not_supported',
					  DETAIL = 'Incremental refresh queues the changed customers with statement triggers, which Citus does not run on its tables.',
					  HINT = 'Pass incremental => false: each refresh then rescores every customer, summarising the events on the workers.';
		END IF;
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

	IF incremental THEN
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
