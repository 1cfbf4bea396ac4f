/*
 * src/security.sql: the privilege boundary of the scoring pipeline, erasure
 * of a customer on request, and clean-up of dropped tables and roles
 *
 * A part of the newest clm install script, which the Makefile concatenates
 * from the SQL_SOURCES list, and new in 1.1 (NEW_IN_1_1).  Sections: types
 * and tables, support functions, aggregates, user functions (views,
 * triggers, policies), comments and grants.
 *
 * Who runs what (README "Security model"):
 *  - clm.register, clm.alter_source, clm.unregister, clm.grant_scores,
 *    clm.revoke_scores, clm.refresh and clm.forget are C gateways
 *    (src/gate.c): they call clm.<name>_as(calling role, ...) below as the
 *    extension owner.  These internal functions may be executed by the
 *    extension owner only; they check every privilege for the calling role
 *    they are given and reach a user's table only through clm.run_as(role,
 *    statement), which runs one statement with that role's rights only.
 *  - clm.on_drop() is the one SECURITY DEFINER function: an sql_drop event
 *    trigger that removes clm's rows about a dropped table.  It resolves no
 *    name (pinned search_path, every name schema-qualified, object OIDs from
 *    pg_event_trigger_dropped_objects()) and runs no user code.
 */

-- ======================================================================
-- types and tables
-- ======================================================================

-- one row per object a clm.forget call erased a customer from; no customer
-- key or other personal data
CREATE TABLE @extschema@.erasure_log (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	object text NOT NULL,
	rows_erased bigint NOT NULL,
	erased_by name NOT NULL,
	erased_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);

SELECT pg_catalog.pg_extension_config_dump('@extschema@.erasure_log', '');

-- ======================================================================
-- support functions
-- ======================================================================

CREATE FUNCTION @extschema@.run_as(role regrole, statement text, keys text[] DEFAULT NULL,
	at timestamptz DEFAULT NULL, vals text[] DEFAULT NULL)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'clm_run_as' LANGUAGE C;

CREATE FUNCTION @extschema@.source_lock(name text, session boolean, wait boolean) RETURNS boolean
AS 'MODULE_PATHNAME', 'clm_source_lock' LANGUAGE C STRICT;

CREATE FUNCTION @extschema@.source_unlock(name text) RETURNS boolean
AS 'MODULE_PATHNAME', 'clm_source_unlock' LANGUAGE C STRICT;

-- removes the sources whose owner role or events table no longer exists,
-- and dropped roles from the readers (a role's OID could be given to a new
-- role, a table's to a new table), logging why; called by the gateways and
-- the worker before they act (DROP ROLE itself does it in the database it
-- runs in, src/roles.c)
CREATE FUNCTION @extschema@.drop_orphans() RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
	o record;
	n integer := 0;
BEGIN
	FOR o IN
		SELECT s.name, s.owner::oid AS owner, s.events::oid AS events,
			NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.oid = s.owner) AS no_owner
		FROM @extschema@.sources s
		WHERE NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.oid = s.owner)
		   OR NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = s.events)
		ORDER BY s.name
	LOOP
		DELETE FROM @extschema@.refresh_queue q WHERE q.source = o.name;
		DELETE FROM @extschema@.refresh_stage q WHERE q.source = o.name;
		DELETE FROM @extschema@.refresh_runs r WHERE r.source = o.name;
		DELETE FROM @extschema@.sources s WHERE s.name = o.name;	-- cascades to scores and versions
		RAISE LOG 'clm: source "%" removed: %', o.name,
			CASE WHEN o.no_owner THEN format('its owner role (OID %s) was dropped', o.owner)
				 ELSE format('its events table (OID %s) was dropped', o.events) END;
		n := n + 1;
	END LOOP;
	-- readers whose role was dropped
	FOR o IN
		UPDATE @extschema@.sources s
		SET readers = ARRAY(SELECT r FROM unnest(s.readers) WITH ORDINALITY x(r, i)
							WHERE EXISTS (SELECT 1 FROM pg_roles p WHERE p.oid = r) ORDER BY i)
		WHERE EXISTS (SELECT 1 FROM unnest(s.readers) r WHERE NOT EXISTS (SELECT 1 FROM pg_roles p WHERE p.oid = r))
		RETURNING s.name
	LOOP
		RAISE LOG 'clm: dropped roles removed from the readers of source "%"', o.name;
	END LOOP;
	-- campaigns (src/action.sql) of a dropped role (members cascade)
	FOR o IN
		DELETE FROM @extschema@.campaigns c WHERE NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.oid = c.owner)
		RETURNING c.id, c.owner::oid AS owner
	LOOP
		RAISE LOG 'clm: campaign % removed: its owner role (OID %) was dropped', o.id, o.owner;
	END LOOP;
	RETURN n;
END
$fn$;

-- ======================================================================
-- user functions, views, triggers and policies
-- ======================================================================

CREATE FUNCTION @extschema@.register_as(caller regrole,
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
	n bigint;
BEGIN
	PERFORM @extschema@.drop_orphans();
	IF name IS NULL OR events IS NULL OR customer_column IS NULL OR time_column IS NULL
	   OR amount_column IS NULL THEN
		RAISE EXCEPTION 'name, events and the three column names must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF name !~ '^[A-Za-z_][A-Za-z0-9_]{0,47}$' THEN
		RAISE EXCEPTION 'invalid source name "%"', name USING ERRCODE = 'invalid_parameter_value',
			DETAIL = 'A source name is a letter or underscore followed by up to 47 letters, digits or underscores.';
	END IF;
	IF EXISTS (SELECT 1 FROM @extschema@.sources s WHERE s.name = register_as.name) THEN
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
		IF NOT has_column_privilege(caller, events, col, 'SELECT') THEN
			RAISE EXCEPTION 'permission denied to read column "%" of "%"', col, rel
				USING ERRCODE = 'insufficient_privilege',
					  DETAIL = format('Role %s has no SELECT privilege on it; the source is refreshed with the rights of the role that registers it.', caller);
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
					  DETAIL = 'The refresh writes the stages into the rows it read by their physical address (ctid), which does not identify a row of a Citus table.',
					  HINT = 'Keep the tracked customer table an ordinary table on the coordinator (clm.track also tracks a table distributed by its key, whose stages you write).';
		END IF;
		IF ktype NOT IN ('bigint'::regtype, 'integer'::regtype, 'text'::regtype, 'uuid'::regtype) THEN
			RAISE EXCEPTION 'tracked key column "%" has type %', tracked_key_column, ktype
				USING ERRCODE = 'datatype_mismatch', DETAIL = 'Customer keys must be bigint, integer, text or uuid.';
		END IF;
		IF typ NOT IN ('text'::regtype, 'character varying'::regtype) THEN
			RAISE EXCEPTION 'tracked stage column "%" has type %', tracked_stage_column, typ
				USING ERRCODE = 'datatype_mismatch', DETAIL = 'The stage column must be text or varchar.';
		END IF;
		IF NOT has_column_privilege(caller, tracked_table, tracked_key_column, 'SELECT')
		   OR NOT has_column_privilege(caller, tracked_table, tracked_stage_column, 'SELECT')
		   OR NOT has_column_privilege(caller, tracked_table, tracked_stage_column, 'UPDATE') THEN
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
		IF NOT has_table_privilege(caller, events, 'TRIGGER') THEN
			RAISE EXCEPTION 'permission denied to create triggers on "%"', rel
				USING ERRCODE = 'insufficient_privilege',
					  DETAIL = 'Incremental refresh tracks changed customers with statement triggers on the events table.',
					  HINT = 'Have the table owner grant TRIGGER, or pass incremental => false.';
		END IF;
	END IF;

	INSERT INTO @extschema@.sources AS s (owner, name, events, customer_column, time_column, amount_column,
		customer_type, period, time_unit, time_zone, segment_map, model, horizon_months,
		monthly_discount, stage_model, tracked_table, tracked_key_column, tracked_stage_column,
		incremental, refresh_interval, full_refresh_interval)
	VALUES (caller, name, events, customer_column, time_column, amount_column, ctype,
		lower(period), lower(time_unit), time_zone, segment_map, model, horizon_months,
		monthly_discount, stage_model, tracked_table, tracked_key_column, tracked_stage_column,
		incremental, refresh_interval, full_refresh_interval)
	RETURNING * INTO src;

	IF incremental AND @extschema@.citus_table_type(events) IS NOT NULL THEN
		PERFORM @extschema@.citus_register_queue(caller, src);
	ELSIF incremental THEN
		PERFORM FROM @extschema@.run_as(caller, format('CREATE TRIGGER %I AFTER INSERT ON %s REFERENCING NEW TABLE AS clm_new_rows
			FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.queue_changes(%L, %L)',
			'clm_' || name || '_insert', rel, name, customer_column)) AS x(n integer);
		PERFORM FROM @extschema@.run_as(caller, format('CREATE TRIGGER %I AFTER UPDATE ON %s REFERENCING OLD TABLE AS clm_old_rows NEW TABLE AS clm_new_rows
			FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.queue_changes(%L, %L)',
			'clm_' || name || '_update', rel, name, customer_column)) AS x(n integer);
		PERFORM FROM @extschema@.run_as(caller, format('CREATE TRIGGER %I AFTER DELETE ON %s REFERENCING OLD TABLE AS clm_old_rows
			FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.queue_changes(%L, %L)',
			'clm_' || name || '_delete', rel, name, customer_column)) AS x(n integer);
		PERFORM FROM @extschema@.run_as(caller, format('CREATE TRIGGER %I AFTER TRUNCATE ON %s
			FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.queue_changes(%L, %L)',
			'clm_' || name || '_truncate', rel, name, customer_column)) AS x(n integer);
	END IF;

	IF incremental AND NOT EXISTS (
			SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
			WHERE i.indrelid = events AND a.attname = customer_column) THEN
		RAISE NOTICE 'no index on "%" of "%"', customer_column, rel
			USING HINT = 'Incremental refreshes read the events of the changed customers; create an index on the customer column.';
	END IF;
	IF scores_view IS NOT NULL THEN
		-- created with the caller's rights (clm.run_as), where the caller chooses; security_invoker
		-- so that the row level security of clm.scores applies to whoever queries it
		-- scores_view is a name, never SQL: parse it (22023 if it is not a
		-- valid, possibly qualified, identifier) and quote each part again
		SELECT string_agg(quote_ident(x.part), '.' ORDER BY x.i), count(*) INTO vname, n
		FROM unnest(parse_ident(scores_view)) WITH ORDINALITY x(part, i);
		IF n < 2 THEN
			RAISE EXCEPTION 'scores_view must be a schema-qualified name' USING ERRCODE = 'invalid_parameter_value',
				DETAIL = format('Got %s.', scores_view), HINT = 'Write it as schema.view.';
		END IF;
		PERFORM FROM @extschema@.run_as(caller, format('CREATE VIEW %s WITH (security_invoker = true) AS
			SELECT s.customer_key::%s AS %I, s.frequency, s.recency, s.t, s.monetary, s.total,
			       s.first_at, s.last_at, s.r_score, s.f_score, s.m_score, s.segment, s.p_alive,
			       s.expected_purchases, s.clv, s.churn_risk, s.stage, s.stage_since, s.version, s.scored_at,
			       s.tier
			FROM @extschema@.scores s WHERE s.source = %L', vname, ctype, customer_column, name)) AS x(n integer);
		view_oid := to_regclass(vname);
		UPDATE @extschema@.sources s SET scores_view = view_oid WHERE s.name = register_as.name
		RETURNING * INTO src;
	END IF;
	RETURN src;
END
$fn$;
CREATE FUNCTION @extschema@.unregister_as(caller regrole, name text) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
	src @extschema@.sources;
	op text;
BEGIN
	PERFORM @extschema@.drop_orphans();
	SELECT * INTO src FROM @extschema@.sources s WHERE s.name = unregister_as.name;
	IF NOT FOUND OR NOT (pg_has_role(caller, src.owner, 'USAGE')
						 OR EXISTS (SELECT 1 FROM unnest(src.readers) r WHERE pg_has_role(caller, r, 'USAGE'))) THEN
		RAISE EXCEPTION 'source "%" does not exist', name USING ERRCODE = 'undefined_object';
	END IF;
	IF NOT pg_has_role(caller, src.owner, 'USAGE') THEN
		RAISE EXCEPTION 'must be a member of role % to unregister source "%"', src.owner, name
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	-- wait for a running refresh of the source to end
	PERFORM @extschema@.source_lock(name, false, true);
	-- the scores view, only if it is still the one clm created: a view owned
	-- by the source owner that reads clm.scores (its OID could have been
	-- reused by another object); dropped with the owner's rights
	IF src.scores_view IS NOT NULL AND EXISTS (
			SELECT 1 FROM pg_class c
			WHERE c.oid = src.scores_view AND c.relkind = 'v' AND c.relowner = src.owner
			  AND EXISTS (SELECT 1 FROM pg_rewrite rw JOIN pg_depend d
							  ON d.classid = 'pg_rewrite'::regclass AND d.objid = rw.oid
						  WHERE rw.ev_class = c.oid AND d.refclassid = 'pg_class'::regclass
							AND d.refobjid = '@extschema@.scores'::regclass)) THEN
		PERFORM FROM @extschema@.run_as(src.owner, format('DROP VIEW %s', src.scores_view)) AS x(n integer);
	END IF;
	IF src.incremental AND EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = src.events)
	   AND NOT @extschema@.citus_unregister_queue(src) THEN
		FOREACH op IN ARRAY ARRAY['insert', 'update', 'delete', 'truncate'] LOOP
			-- as the source owner, who created it, or else as the caller (who
			-- may own the table); never with more rights than these two have
			BEGIN
				PERFORM FROM @extschema@.run_as(src.owner, format('DROP TRIGGER IF EXISTS %I ON %s',
					'clm_' || name || '_' || op, src.events)) AS x(n integer);
			EXCEPTION WHEN insufficient_privilege THEN
				BEGIN
					PERFORM FROM @extschema@.run_as(caller, format('DROP TRIGGER IF EXISTS %I ON %s',
						'clm_' || name || '_' || op, src.events)) AS x(n integer);
				EXCEPTION WHEN insufficient_privilege THEN
				RAISE WARNING 'trigger "%" left on "%"', 'clm_' || name || '_' || op, src.events
					USING DETAIL = 'Only the owner of the table can drop it; it does nothing for an unregistered source.';
				END;
			END;
		END LOOP;
	END IF;
	DELETE FROM @extschema@.refresh_queue q WHERE q.source = name;
	DELETE FROM @extschema@.refresh_stage q WHERE q.source = name;
	DELETE FROM @extschema@.refresh_runs r WHERE r.source = name;
	DELETE FROM @extschema@.sources s WHERE s.name = unregister_as.name;	-- cascades to scores and versions
	RETURN true;
END
$fn$;

CREATE FUNCTION @extschema@.grant_scores_as(caller regrole, name text, reader regrole) RETURNS regrole[]
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
	r regrole[];
BEGIN
	PERFORM @extschema@.drop_orphans();
	IF reader IS NULL THEN
		RAISE EXCEPTION 'reader must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	UPDATE @extschema@.sources s SET readers = (SELECT array_agg(DISTINCT x ORDER BY x) FROM unnest(s.readers || reader) x)
	WHERE s.name = grant_scores_as.name AND pg_has_role(caller, s.owner, 'USAGE')
	RETURNING s.readers INTO r;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'source "%" does not exist or is not yours', name USING ERRCODE = 'insufficient_privilege';
	END IF;
	RETURN r;
END
$fn$;

CREATE FUNCTION @extschema@.revoke_scores_as(caller regrole, name text, reader regrole) RETURNS regrole[]
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
	r regrole[];
BEGIN
	PERFORM @extschema@.drop_orphans();
	UPDATE @extschema@.sources s SET readers = array_remove(s.readers, reader)
	WHERE s.name = revoke_scores_as.name AND pg_has_role(caller, s.owner, 'USAGE')
	RETURNING s.readers INTO r;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'source "%" does not exist or is not yours', name USING ERRCODE = 'insufficient_privilege';
	END IF;
	RETURN r;
END
$fn$;

-- clm.refresh: whoever calls it (the owner, another member of the owner
-- role, a superuser), the run reads and writes the user's tables with the
-- source owner's rights only
CREATE FUNCTION @extschema@.refresh_as(caller regrole, name text, full boolean, as_of timestamptz)
RETURNS SETOF @extschema@.refresh_runs
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
	run bigint;
	src @extschema@.sources;
BEGIN
	IF $2 IS NULL OR $3 IS NULL THEN
		RAISE EXCEPTION 'name and full must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM @extschema@.drop_orphans();
	SELECT * INTO src FROM @extschema@.sources s WHERE s.name = $2;
	IF NOT FOUND OR NOT (pg_has_role(caller, src.owner, 'USAGE')
						 OR EXISTS (SELECT 1 FROM unnest(src.readers) r WHERE pg_has_role(caller, r, 'USAGE'))) THEN
		RAISE EXCEPTION 'source "%" does not exist', $2 USING ERRCODE = 'undefined_object';
	END IF;
	IF NOT pg_has_role(caller, src.owner, 'USAGE') THEN
		RAISE EXCEPTION 'must be a member of role % to refresh source "%"', src.owner, $2
			USING ERRCODE = 'insufficient_privilege', HINT = 'Readers of a source can read its scores, not refresh it.';
	END IF;
	run := @extschema@.refresh_start($2, $3, false, $4);
	PERFORM @extschema@.refresh_prepare(run);
	WHILE @extschema@.refresh_step(run) > 0 LOOP
	END LOOP;
	RETURN NEXT @extschema@.refresh_finish(run);
END
$fn$;

-- the settings a source's owner may change after registering (the events
-- table, its columns and incremental stay: register again to change them)
CREATE FUNCTION @extschema@.alter_source(name text, settings jsonb) RETURNS @extschema@.sources
AS 'MODULE_PATHNAME', 'clm_call_checked' LANGUAGE C;

CREATE FUNCTION @extschema@.alter_source_as(caller regrole, name text, settings jsonb)
RETURNS @extschema@.sources
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
	src @extschema@.sources;
	nsrc @extschema@.sources;
	bad text;
	ktype regtype;
	typ regtype;
BEGIN
	PERFORM @extschema@.drop_orphans();
	IF name IS NULL OR settings IS NULL THEN
		RAISE EXCEPTION 'name and settings must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT * INTO src FROM @extschema@.sources s WHERE s.name = alter_source_as.name;
	IF NOT FOUND OR NOT pg_has_role(caller, src.owner, 'USAGE') THEN
		RAISE EXCEPTION 'source "%" does not exist or is not yours', name USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF jsonb_typeof(settings) <> 'object' THEN
		RAISE EXCEPTION 'settings must be a JSON object' USING ERRCODE = 'invalid_parameter_value',
			DETAIL = format('Got %s.', settings);
	END IF;
	SELECT string_agg(k, ', ' ORDER BY k) INTO bad FROM jsonb_object_keys(settings) k
	WHERE k <> ALL (ARRAY['period', 'time_unit', 'time_zone', 'segment_map', 'model', 'horizon_months',
						  'monthly_discount', 'new_within', 'at_risk_after', 'dormant_after', 'churned_after',
						  'at_risk_p_alive', 'churned_p_alive', 'min_fit_customers', 'stage_model',
						  'tracked_table', 'tracked_key_column', 'tracked_stage_column',
						  'refresh_interval', 'full_refresh_interval']);
	IF bad IS NOT NULL THEN
		RAISE EXCEPTION 'cannot alter % of a source', bad USING ERRCODE = 'invalid_parameter_value',
			HINT = 'The events table, its columns and incremental are fixed: unregister and register again.';
	END IF;
	-- regclass values are read with a pinned search_path: qualify table names
	nsrc := jsonb_populate_record(src, settings);
	IF nsrc.period IS NULL OR nsrc.time_unit IS NULL OR nsrc.time_zone IS NULL OR nsrc.segment_map IS NULL
	   OR nsrc.model IS NULL THEN
		RAISE EXCEPTION 'only stage_model and tracked_* may be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	nsrc.period := lower(nsrc.period);
	nsrc.time_unit := lower(nsrc.time_unit);
	PERFORM @extschema@.rfm_summary(now(), 0, now(), nsrc.period, nsrc.time_unit);
	PERFORM now() AT TIME ZONE nsrc.time_zone;
	IF NOT EXISTS (SELECT 1 FROM @extschema@.segment_map m WHERE m.map = nsrc.segment_map) THEN
		RAISE EXCEPTION 'segment map "%" does not exist', nsrc.segment_map USING ERRCODE = 'undefined_object';
	END IF;
	IF nsrc.stage_model IS DISTINCT FROM 'behavioral' AND nsrc.stage_model IS NOT NULL THEN
		RAISE EXCEPTION 'unknown stage model "%"', nsrc.stage_model USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF (nsrc.tracked_table IS NULL) <> (nsrc.tracked_key_column IS NULL)
	   OR (nsrc.tracked_table IS NULL) <> (nsrc.tracked_stage_column IS NULL) THEN
		RAISE EXCEPTION 'tracked_table, tracked_key_column and tracked_stage_column go together'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF nsrc.tracked_table IS NOT NULL THEN
		SELECT a.atttypid::regtype INTO ktype FROM pg_attribute a
		WHERE a.attrelid = nsrc.tracked_table AND a.attname = nsrc.tracked_key_column AND a.attnum > 0 AND NOT a.attisdropped;
		SELECT a.atttypid::regtype INTO typ FROM pg_attribute a
		WHERE a.attrelid = nsrc.tracked_table AND a.attname = nsrc.tracked_stage_column AND a.attnum > 0 AND NOT a.attisdropped;
		IF ktype IS NULL OR typ IS NULL THEN
			RAISE EXCEPTION 'column "%" of relation "%" does not exist',
				CASE WHEN ktype IS NULL THEN nsrc.tracked_key_column ELSE nsrc.tracked_stage_column END, nsrc.tracked_table
				USING ERRCODE = 'undefined_column';
		END IF;
		IF ktype NOT IN ('bigint'::regtype, 'integer'::regtype, 'text'::regtype, 'uuid'::regtype) THEN
			RAISE EXCEPTION 'tracked key column "%" has type %', nsrc.tracked_key_column, ktype
				USING ERRCODE = 'datatype_mismatch', DETAIL = 'Customer keys must be bigint, integer, text or uuid.';
		END IF;
		IF typ NOT IN ('text'::regtype, 'character varying'::regtype) THEN
			RAISE EXCEPTION 'tracked stage column "%" has type %', nsrc.tracked_stage_column, typ
				USING ERRCODE = 'datatype_mismatch', DETAIL = 'The stage column must be text or varchar.';
		END IF;
		IF NOT has_column_privilege(caller, nsrc.tracked_table, nsrc.tracked_key_column, 'SELECT')
		   OR NOT has_column_privilege(caller, nsrc.tracked_table, nsrc.tracked_stage_column, 'SELECT')
		   OR NOT has_column_privilege(caller, nsrc.tracked_table, nsrc.tracked_stage_column, 'UPDATE') THEN
			RAISE EXCEPTION 'permission denied to update "%" of "%"', nsrc.tracked_stage_column, nsrc.tracked_table
				USING ERRCODE = 'insufficient_privilege';
		END IF;
		nsrc.stage_model := coalesce(nsrc.stage_model, 'behavioral');
	END IF;
	-- the table's CHECK constraints validate the numbers and intervals (23514)
	UPDATE @extschema@.sources s SET period = nsrc.period, time_unit = nsrc.time_unit,
		time_zone = nsrc.time_zone, segment_map = nsrc.segment_map, model = nsrc.model,
		horizon_months = nsrc.horizon_months, monthly_discount = nsrc.monthly_discount,
		new_within = nsrc.new_within, at_risk_after = nsrc.at_risk_after, dormant_after = nsrc.dormant_after,
		churned_after = nsrc.churned_after, at_risk_p_alive = nsrc.at_risk_p_alive,
		churned_p_alive = nsrc.churned_p_alive, min_fit_customers = nsrc.min_fit_customers,
		stage_model = nsrc.stage_model, tracked_table = nsrc.tracked_table,
		tracked_key_column = nsrc.tracked_key_column, tracked_stage_column = nsrc.tracked_stage_column,
		refresh_interval = nsrc.refresh_interval, full_refresh_interval = nsrc.full_refresh_interval
	WHERE s.name = alter_source_as.name
	RETURNING * INTO nsrc;
	-- scores of the old settings are not mixed with the new: the next run is full
	INSERT INTO @extschema@.refresh_queue (source, customer_key) VALUES (nsrc.name, NULL);
	RETURN nsrc;
END
$fn$;

-- erasure on request (GDPR art. 17): the customer's rows in every clm table
-- that belongs to an object the caller owns.  The caller's own tables
-- (events, customers) stay the caller's to erase.
CREATE FUNCTION @extschema@.forget(customer_key text)
RETURNS TABLE (object text, rows_erased bigint)
AS 'MODULE_PATHNAME', 'clm_call_checked' LANGUAGE C;

CREATE FUNCTION @extschema@.forget_as(caller regrole, customer_key text)
RETURNS TABLE (object text, rows_erased bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
#variable_conflict use_column
DECLARE
	t record;
	n bigint;
	m bigint;
	who name := (SELECT r.rolname FROM pg_roles r WHERE r.oid = caller);
BEGIN
	PERFORM @extschema@.drop_orphans();
	IF $2 IS NULL THEN
		RAISE EXCEPTION 'customer_key must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	-- stage history of the tables the caller owns (tracked now or before)
	FOR t IN
		SELECT x.table_oid FROM (SELECT tt.table_oid FROM @extschema@.tracked_table tt
								 UNION SELECT DISTINCT h.table_oid FROM @extschema@.stage_history h) x
		JOIN pg_class c ON c.oid = x.table_oid
		WHERE pg_has_role(caller, c.relowner, 'USAGE')
		ORDER BY x.table_oid::text
	LOOP
		DELETE FROM @extschema@.stage_history h WHERE h.table_oid = t.table_oid AND h.customer_key = $2;
		GET DIAGNOSTICS n = ROW_COUNT;
		object := format('stage history of %s', t.table_oid);
		rows_erased := n;
		INSERT INTO @extschema@.erasure_log (object, rows_erased, erased_by) VALUES (format('stage history of %s', t.table_oid), n, who);
		RETURN NEXT;
	END LOOP;
	-- scores and pending work of the caller's sources
	FOR t IN
		SELECT s.name FROM @extschema@.sources s WHERE pg_has_role(caller, s.owner, 'USAGE') ORDER BY s.name
	LOOP
		-- not while a refresh of the source runs (it could write the customer back)
		PERFORM @extschema@.source_lock(t.name, false, true);
		DELETE FROM @extschema@.scores sc WHERE sc.source = t.name AND sc.customer_key = $2;
		GET DIAGNOSTICS n = ROW_COUNT;
		DELETE FROM @extschema@.refresh_queue q WHERE q.source = t.name AND q.customer_key = $2;
		GET DIAGNOSTICS m = ROW_COUNT;
		n := n + m;
		DELETE FROM @extschema@.refresh_stage q WHERE q.source = t.name AND q.customer_key = $2;
		GET DIAGNOSTICS m = ROW_COUNT;
		object := format('scores of source %s', t.name);
		rows_erased := n + m;
		INSERT INTO @extschema@.erasure_log (object, rows_erased, erased_by) VALUES (format('scores of source %s', t.name), n + m, who);
		RETURN NEXT;
	END LOOP;
END
$fn$;

/*
 * Audited SECURITY DEFINER: the sql_drop event trigger runs as whoever drops
 * a table, who may not write clm's tables.  It removes the rows that point
 * at a dropped relation, whose OID a new relation could get: the tracking
 * registry and the stage history of a dropped tracked table (the history
 * goes with the table's data), the sources whose events table was dropped,
 * and the tracked-table settings and scores view of sources pointing at a
 * dropped one.  It logs each removal.  Every name is schema-qualified, the
 * search_path is pinned, the OIDs come from pg_event_trigger_dropped_objects()
 * and nothing runs but DELETE and UPDATE of clm's own tables.
 */
CREATE FUNCTION @extschema@.on_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
	d record;
	n bigint;
BEGIN
	FOR d IN
		SELECT DISTINCT o.objid FROM pg_catalog.pg_event_trigger_dropped_objects() o
		WHERE o.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND o.objsubid = 0
		  AND o.object_type IN ('table', 'view', 'materialized view', 'foreign table')
	LOOP
		DELETE FROM @extschema@.tracked_table t WHERE t.table_oid::pg_catalog.oid = d.objid;
		DELETE FROM @extschema@.stage_history h WHERE h.table_oid::pg_catalog.oid = d.objid;
		GET DIAGNOSTICS n = ROW_COUNT;
		IF n > 0 THEN
			RAISE LOG 'clm: stage history of dropped table (OID %) removed: % rows', d.objid, n;
		END IF;
		UPDATE @extschema@.sources s SET tracked_table = NULL, tracked_key_column = NULL,
			tracked_stage_column = NULL
		WHERE s.tracked_table::pg_catalog.oid = d.objid;
		UPDATE @extschema@.sources s SET scores_view = NULL WHERE s.scores_view::pg_catalog.oid = d.objid;
	END LOOP;
	-- sources whose events table is gone (and of dropped owners)
	PERFORM @extschema@.drop_orphans();
END
$fn$;

CREATE EVENT TRIGGER clm_on_drop ON sql_drop EXECUTE FUNCTION @extschema@.on_drop();

-- ======================================================================
-- comments and grants
-- ======================================================================

COMMENT ON TABLE @extschema@.erasure_log IS
'One row per object that a clm.forget call erased a customer from: object, rows erased, role, time (no customer key or other personal data); each role reads its own rows';

ALTER TABLE @extschema@.erasure_log ENABLE ROW LEVEL SECURITY;

CREATE POLICY erasure_log_read ON @extschema@.erasure_log FOR SELECT
	USING (erased_by = current_user);

REVOKE ALL ON @extschema@.erasure_log FROM PUBLIC;

GRANT SELECT ON @extschema@.erasure_log TO PUBLIC;

COMMENT ON FUNCTION @extschema@.run_as(regrole, text, text[], timestamptz, text[]) IS
'Internal: runs one statement with the rights of a role only ($1 keys, $2 at, $3 vals), as REFRESH MATERIALIZED VIEW runs a view''s query as its owner; the extension owner only';

COMMENT ON FUNCTION @extschema@.source_lock(text, boolean, boolean) IS
'Internal: takes the lock that serialises the refreshes of a source (an object lock no SQL of another role can take), for the transaction or the session; false when busy and not waiting';

COMMENT ON FUNCTION @extschema@.source_unlock(text) IS
'Internal: releases the session lock of a source taken by clm.source_lock; false if this session did not hold it';

COMMENT ON FUNCTION @extschema@.drop_orphans() IS
'Internal: removes the sources whose owner role or events table no longer exists, dropped roles from the readers and the campaigns of dropped roles, logging why; returns how many sources it removed';

COMMENT ON FUNCTION @extschema@.register_as(regrole, text, regclass, name, name, name, text, text, text, text, text, integer, double precision, text, regclass, name, name, interval, interval, boolean, text) IS
'Internal body of clm.register for a calling role (run as the extension owner by the gateway)';

COMMENT ON FUNCTION @extschema@.unregister_as(regrole, text) IS
'Internal body of clm.unregister for a calling role (run as the extension owner by the gateway)';

COMMENT ON FUNCTION @extschema@.grant_scores_as(regrole, text, regrole) IS
'Internal body of clm.grant_scores for a calling role (run as the extension owner by the gateway)';

COMMENT ON FUNCTION @extschema@.revoke_scores_as(regrole, text, regrole) IS
'Internal body of clm.revoke_scores for a calling role (run as the extension owner by the gateway)';

COMMENT ON FUNCTION @extschema@.refresh_as(regrole, text, boolean, timestamptz) IS
'Internal body of clm.refresh for a calling role (run as the extension owner by the gateway)';

COMMENT ON FUNCTION @extschema@.alter_source(text, jsonb) IS
'Changes settings of a source you own, validated like clm.register: settings is a JSON object of sources columns (period, time_unit, time_zone, segment_map, model, horizon_months, monthly_discount, the stage thresholds, min_fit_customers, stage_model, tracked_*, refresh intervals); the next refresh is full';

COMMENT ON FUNCTION @extschema@.alter_source_as(regrole, text, jsonb) IS
'Internal body of clm.alter_source for a calling role (run as the extension owner by the gateway)';

COMMENT ON FUNCTION @extschema@.forget(text) IS
'Erases a customer (by key) from every clm table of objects you own: the stage history of your tables, the scores, queue and work rows of your sources; logs object, rows, role and time in clm.erasure_log; your own tables stay yours to erase';

COMMENT ON FUNCTION @extschema@.forget_as(regrole, text) IS
'Internal body of clm.forget for a calling role (run as the extension owner by the gateway)';

COMMENT ON FUNCTION @extschema@.on_drop() IS
'sql_drop event trigger: removes the clm rows of a dropped table (tracking, stage history, sources of a dropped events table, tracked-table settings), logging why (SECURITY DEFINER, audited)';

-- the internal functions: the extension owner only
REVOKE EXECUTE ON FUNCTION @extschema@.run_as(regrole, text, text[], timestamptz, text[]),
	@extschema@.source_lock(text, boolean, boolean), @extschema@.source_unlock(text),
	@extschema@.drop_orphans(),
	@extschema@.register_as(regrole, text, regclass, name, name, name, text, text, text, text, text, integer, double precision, text, regclass, name, name, interval, interval, boolean, text),
	@extschema@.unregister_as(regrole, text), @extschema@.grant_scores_as(regrole, text, regrole),
	@extschema@.revoke_scores_as(regrole, text, regrole),
	@extschema@.refresh_as(regrole, text, boolean, timestamptz),
	@extschema@.alter_source_as(regrole, text, jsonb), @extschema@.forget_as(regrole, text),
	@extschema@.on_drop() FROM PUBLIC;
