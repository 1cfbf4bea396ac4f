/*
 * src/stages.sql: lifecycle stages: models as data, tracking triggers, append-only history
 *
 * A part of the newest clm install script, which the Makefile concatenates
 * from the SQL_SOURCES list.  Sections: types and tables, support functions,
 * aggregates, user functions (views, triggers, policies), comments and grants.
 */

-- ======================================================================
-- types and tables
-- ======================================================================

CREATE TABLE @extschema@.stage_model (
	model text PRIMARY KEY CONSTRAINT stage_model_name_check CHECK (model ~ '^[a-z][a-z0-9_]*$'),
	policy text NOT NULL DEFAULT 'any'
		CONSTRAINT stage_model_policy_check CHECK (policy IN ('any', 'forward_only', 'graph')),
	description text,
	shipped boolean NOT NULL DEFAULT false
);

CREATE TABLE @extschema@.stage (
	model text NOT NULL REFERENCES @extschema@.stage_model (model) ON UPDATE CASCADE ON DELETE CASCADE,
	stage text NOT NULL CONSTRAINT stage_name_check CHECK (stage ~ '^[a-z][a-z0-9_]*$'),
	position integer NOT NULL CONSTRAINT stage_position_check CHECK (position > 0),
	terminal boolean NOT NULL DEFAULT false,
	description text,
	PRIMARY KEY (model, stage),
	UNIQUE (model, position)
);

CREATE TABLE @extschema@.stage_transition (
	model text NOT NULL,
	from_stage text,
	to_stage text NOT NULL,
	FOREIGN KEY (model, from_stage) REFERENCES @extschema@.stage (model, stage) ON UPDATE CASCADE ON DELETE CASCADE,
	FOREIGN KEY (model, to_stage) REFERENCES @extschema@.stage (model, stage) ON UPDATE CASCADE ON DELETE CASCADE,
	UNIQUE NULLS NOT DISTINCT (model, from_stage, to_stage)
);

CREATE TABLE @extschema@.tracked_table (
	table_oid regclass PRIMARY KEY,
	model text NOT NULL REFERENCES @extschema@.stage_model (model) ON UPDATE CASCADE,
	tracked_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	tracked_by name NOT NULL
);

CREATE SEQUENCE @extschema@.stage_history_id_seq;

CREATE TABLE @extschema@.stage_history (
	id bigint NOT NULL DEFAULT pg_catalog.nextval('@extschema@.stage_history_id_seq') PRIMARY KEY,
	table_oid regclass NOT NULL,
	customer_key text NOT NULL,
	model text NOT NULL,
	from_stage text,
	to_stage text,
	changed_at timestamptz NOT NULL,
	xid xid8 NOT NULL,
	changed_by name NOT NULL,
	source text NOT NULL DEFAULT 'trigger'	-- trigger, track or import
);

ALTER SEQUENCE @extschema@.stage_history_id_seq OWNED BY @extschema@.stage_history.id;

CREATE INDEX stage_history_customer_idx ON @extschema@.stage_history (table_oid, customer_key, changed_at);

-- ======================================================================
-- user functions, views, triggers and policies
-- ======================================================================

-- pg_dump keeps the user's models, the tracking registry and the history;
-- the shipped presets are recreated by CREATE EXTENSION.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.stage_model', 'WHERE NOT shipped');

SELECT pg_catalog.pg_extension_config_dump('@extschema@.stage',
	'WHERE model NOT IN (SELECT m.model FROM clm.stage_model m WHERE m.shipped)');

SELECT pg_catalog.pg_extension_config_dump('@extschema@.stage_transition',
	'WHERE model NOT IN (SELECT m.model FROM clm.stage_model m WHERE m.shipped)');

SELECT pg_catalog.pg_extension_config_dump('@extschema@.tracked_table', '');

SELECT pg_catalog.pg_extension_config_dump('@extschema@.stage_history', '');

SELECT pg_catalog.pg_extension_config_dump('@extschema@.stage_history_id_seq', '');

-- Shipped presets
INSERT INTO @extschema@.stage_model (model, policy, description, shipped) VALUES
	('reach_loyalty', 'any', 'Marketing phases: reach, acquisition, conversion, retention, loyalty', true),
	('welcome_winback', 'any', 'CRM contact programme: welcome, profiling, dialog, bonding (cross/up-sell), retention/win-back', true),
	('acquisition_churn', 'any', 'SaaS customer lifecycle: acquisition, activation, retention, expansion, churn', true),
	('prospect_churned', 'any', 'Relationship lifecycle: prospect, acquired, developing, maintained, churned', true),
	('hubspot', 'forward_only', 'HubSpot lifecycle stages: subscriber, lead, MQL, SQL, opportunity, customer, evangelist, other', true),
	('behavioral', 'graph', 'Behavioural status: prospect, new, active, at_risk, dormant, churned, reactivated', true);

INSERT INTO @extschema@.stage (model, stage, position, terminal) VALUES
	('reach_loyalty', 'reach', 1, false), ('reach_loyalty', 'acquisition', 2, false),
	('reach_loyalty', 'conversion', 3, false), ('reach_loyalty', 'retention', 4, false),
	('reach_loyalty', 'loyalty', 5, false),
	('welcome_winback', 'welcome', 1, false), ('welcome_winback', 'profiling', 2, false),
	('welcome_winback', 'dialog', 3, false), ('welcome_winback', 'bonding', 4, false),
	('welcome_winback', 'retention_winback', 5, false),
	('acquisition_churn', 'acquisition', 1, false), ('acquisition_churn', 'activation', 2, false),
	('acquisition_churn', 'retention', 3, false), ('acquisition_churn', 'expansion', 4, false),
	('acquisition_churn', 'churn', 5, true),
	('prospect_churned', 'prospect', 1, false), ('prospect_churned', 'acquired', 2, false),
	('prospect_churned', 'developing', 3, false), ('prospect_churned', 'maintained', 4, false),
	('prospect_churned', 'churned', 5, true),
	('hubspot', 'subscriber', 1, false), ('hubspot', 'lead', 2, false), ('hubspot', 'mql', 3, false),
	('hubspot', 'sql', 4, false), ('hubspot', 'opportunity', 5, false), ('hubspot', 'customer', 6, false),
	('hubspot', 'evangelist', 7, false), ('hubspot', 'other', 8, false),
	('behavioral', 'prospect', 1, false), ('behavioral', 'new', 2, false), ('behavioral', 'active', 3, false),
	('behavioral', 'at_risk', 4, false), ('behavioral', 'dormant', 5, false),
	('behavioral', 'churned', 6, true), ('behavioral', 'reactivated', 7, false);

INSERT INTO @extschema@.stage_transition (model, from_stage, to_stage) VALUES
	('behavioral', NULL, 'new'),
	('behavioral', 'prospect', 'new'),
	('behavioral', 'new', 'active'), ('behavioral', 'new', 'at_risk'), ('behavioral', 'new', 'dormant'),
	('behavioral', 'active', 'at_risk'), ('behavioral', 'active', 'dormant'),
	('behavioral', 'at_risk', 'active'), ('behavioral', 'at_risk', 'dormant'),
	('behavioral', 'dormant', 'churned'), ('behavioral', 'dormant', 'reactivated'),
	('behavioral', 'churned', 'reactivated'),
	('behavioral', 'reactivated', 'active'), ('behavioral', 'reactivated', 'at_risk'),
	('behavioral', 'reactivated', 'dormant');

-- Model edits reach every session's trigger cache at commit
CREATE FUNCTION @extschema@.stage_config_changed() RETURNS trigger
AS 'MODULE_PATHNAME', 'clm_stage_config_changed' LANGUAGE C;

CREATE TRIGGER stage_config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.stage_model
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.stage_config_changed();

CREATE TRIGGER stage_config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.stage
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.stage_config_changed();

CREATE TRIGGER stage_config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.stage_transition
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.stage_config_changed();

CREATE TRIGGER stage_config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.tracked_table
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.stage_config_changed();

CREATE FUNCTION @extschema@.stage_trigger() RETURNS trigger
AS 'MODULE_PATHNAME', 'clm_stage_trigger' LANGUAGE C;

CREATE FUNCTION @extschema@.track(tbl regclass, key_column name, stage_column name, model text,
	record_existing boolean DEFAULT true)
RETURNS bigint AS 'MODULE_PATHNAME', 'clm_track' LANGUAGE C STRICT;

CREATE FUNCTION @extschema@.untrack(tbl regclass) RETURNS void
AS 'MODULE_PATHNAME', 'clm_untrack' LANGUAGE C STRICT;

CREATE FUNCTION @extschema@.import_history(tbl regclass, source regclass) RETURNS bigint
AS 'MODULE_PATHNAME', 'clm_import_history' LANGUAGE C STRICT;

CREATE VIEW @extschema@.tracked_tables AS
SELECT t.table_oid, k.attname AS key_column, s.attname AS stage_column, t.model,
	t.tracked_at, t.tracked_by
FROM @extschema@.tracked_table t
LEFT JOIN pg_catalog.pg_trigger tg ON tg.tgrelid = t.table_oid::oid
	AND tg.tgfoid = '@extschema@.stage_trigger()'::pg_catalog.regprocedure AND pg_catalog.cardinality(tg.tgattr::pg_catalog.int2[]) = 2
LEFT JOIN pg_catalog.pg_attribute s ON s.attrelid = tg.tgrelid AND s.attnum = tg.tgattr[0]
LEFT JOIN pg_catalog.pg_attribute k ON k.attrelid = tg.tgrelid AND k.attnum = tg.tgattr[1];

-- security_invoker: the row level security of clm.stage_history applies to
-- whoever queries the views (a view otherwise reads as its owner)
CREATE VIEW @extschema@.stage_spans WITH (security_invoker = true) AS
SELECT table_oid, customer_key, model, stage, entered_at, exited_at
FROM (SELECT h.table_oid, h.customer_key, h.model, h.to_stage AS stage, h.changed_at AS entered_at,
		pg_catalog.lead(h.changed_at) OVER (PARTITION BY h.table_oid, h.customer_key
											ORDER BY h.changed_at, h.id) AS exited_at
	  FROM @extschema@.stage_history h) s
WHERE stage IS NOT NULL;

-- true, unless this is a Citus worker and tbl a Citus table (0A000): the
-- stage functions check it first (src/stages_citus.c)
CREATE FUNCTION @extschema@.stage_history_here(tbl regclass) RETURNS boolean
AS 'MODULE_PATHNAME', 'clm_stage_history_here' LANGUAGE C STABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.stage_at(tbl regclass, customer_key anyelement, at timestamptz)
RETURNS text LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT h.to_stage FROM @extschema@.stage_history h
WHERE @extschema@.stage_history_here($1) AND h.table_oid = $1 AND h.customer_key = $2::text AND h.changed_at <= $3
ORDER BY h.changed_at DESC, h.id DESC LIMIT 1
$$;

CREATE FUNCTION @extschema@.stage_properties(tbl regclass, as_of timestamptz DEFAULT pg_catalog.now())
RETURNS TABLE (customer_key text, stage text, first_entered_at timestamptz, last_exited_at timestamptz,
	latest_time_in interval, cumulative_time_in interval, stays bigint, current boolean)
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	-- open stays last until as_of; recorded times are before the year 10000
	-- (see clm.stage_changed_at), and so must as_of be for as_of - changed_at
	-- to fit (PostgreSQL 15 subtracts timestamps without an overflow check)
	IF $2 >= '10000-01-01 00:00:00+00'::timestamptz THEN
		RAISE EXCEPTION 'as_of must be before the year 10000'
			USING ERRCODE = '22008', DETAIL = format('Got %s.', $2);
	END IF;
	PERFORM @extschema@.stage_history_here($1);
	RETURN QUERY
	WITH h AS (
		SELECT h.customer_key, h.to_stage, h.changed_at, h.id,
			lead(h.changed_at) OVER (PARTITION BY h.customer_key ORDER BY h.changed_at, h.id) AS next_at
		FROM @extschema@.stage_history h
		WHERE h.table_oid = $1 AND h.changed_at <= $2)
	SELECT h.customer_key, h.to_stage, min(h.changed_at), max(h.next_at),
		(array_agg(coalesce(h.next_at, $2) - h.changed_at ORDER BY h.changed_at DESC, h.id DESC))[1],
		sum(coalesce(h.next_at, $2) - h.changed_at),
		count(*), bool_or(h.next_at IS NULL)
	FROM h WHERE h.to_stage IS NOT NULL
	GROUP BY h.customer_key, h.to_stage;
END
$$;

CREATE FUNCTION @extschema@.transition_matrix(tbl regclass, from_at timestamptz, to_at timestamptz)
RETURNS TABLE (from_stage text, to_stage text, transitions bigint, probability double precision)
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT h.from_stage, h.to_stage, count(*),
	count(*)::float8 / sum(count(*)) OVER (PARTITION BY h.from_stage)
FROM @extschema@.stage_history h
WHERE @extschema@.stage_history_here($1) AND h.table_oid = $1 AND h.changed_at >= $2 AND h.changed_at < $3
GROUP BY h.from_stage, h.to_stage
$$;

CREATE FUNCTION @extschema@.stage_funnel(tbl regclass, from_at timestamptz, to_at timestamptz,
	strict boolean DEFAULT true, steps text[] DEFAULT NULL)
RETURNS TABLE (step integer, stage text, customers bigint, step_conversion double precision,
	cumulative_conversion double precision)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m text;
	n integer;
	bad text;
	names text[];
	reached bigint[];
	cur text;
	lvl integer := 0;
	r record;
BEGIN
	IF tbl IS NULL OR from_at IS NULL OR to_at IS NULL OR strict IS NULL THEN
		RAISE EXCEPTION 'tbl, from_at, to_at and strict must not be NULL' USING ERRCODE = '22004';
	END IF;
	IF from_at >= to_at THEN
		RAISE EXCEPTION 'from_at must be earlier than to_at'
			USING ERRCODE = '22023', DETAIL = format('Got %s and %s.', from_at, to_at);
	END IF;
	PERFORM @extschema@.stage_history_here(tbl);
	SELECT t.model INTO m FROM @extschema@.tracked_table t WHERE t.table_oid = tbl;
	IF m IS NULL THEN
		SELECT h.model INTO m FROM @extschema@.stage_history h
		WHERE h.table_oid = tbl ORDER BY h.id DESC LIMIT 1;
	END IF;
	IF m IS NULL THEN
		RAISE EXCEPTION 'table % has no stage model', tbl
			USING ERRCODE = '55000', HINT = 'Track it with clm.track().';
	END IF;
	IF steps IS NOT NULL THEN
		SELECT x INTO bad FROM unnest(steps) x
		WHERE x IS NULL OR NOT EXISTS (SELECT 1 FROM @extschema@.stage s WHERE s.model = m AND s.stage = x)
		LIMIT 1;
		IF FOUND OR cardinality(steps) = 0 OR
		   (SELECT count(DISTINCT x) FROM unnest(steps) x) <> cardinality(steps) THEN
			RAISE EXCEPTION 'funnel steps must be distinct stages of model %', m
				USING ERRCODE = '22023',
					  DETAIL = coalesce(format('Stage %s is not in the model.', quote_nullable(bad)), 'Got ' || steps::text || '.');
		END IF;
	END IF;
	IF steps IS NULL THEN
		SELECT array_agg(s.stage ORDER BY s.position) INTO names
		FROM @extschema@.stage s WHERE s.model = m;
	ELSE
		names := steps;
	END IF;
	n := coalesce(cardinality(names), 0);
	reached := array_fill(0::bigint, ARRAY[greatest(n, 1)]);
	IF strict THEN
		-- greedy in time order: a customer reaches step k+1 when it enters
		-- stage k+1 at or after reaching step k
		FOR r IN
			SELECT h.customer_key AS k, st.step AS s
			FROM @extschema@.stage_history h
			JOIN unnest(names) WITH ORDINALITY st(stage, step) ON st.stage = h.to_stage
			WHERE h.table_oid = tbl AND h.changed_at >= from_at AND h.changed_at < to_at
			ORDER BY h.customer_key, h.changed_at, h.id
		LOOP
			IF cur IS DISTINCT FROM r.k THEN
				cur := r.k;
				lvl := 0;
			END IF;
			IF r.s = lvl + 1 THEN
				lvl := lvl + 1;
				reached[lvl] := reached[lvl] + 1;
			END IF;
		END LOOP;
	ELSE
		SELECT array_agg(coalesce(c.cnt, 0) ORDER BY st.step) INTO reached
		FROM unnest(names) WITH ORDINALITY st(stage, step)
		LEFT JOIN (SELECT h.to_stage, count(DISTINCT h.customer_key) AS cnt
				   FROM @extschema@.stage_history h
				   WHERE h.table_oid = tbl AND h.changed_at >= from_at AND h.changed_at < to_at
				   GROUP BY h.to_stage) c ON c.to_stage = st.stage;
	END IF;
	RETURN QUERY
	SELECT st.step::integer, st.stage, reached[st.step],
		CASE WHEN st.step > 1 AND reached[st.step - 1] > 0
			THEN reached[st.step]::float8 / reached[st.step - 1] END,
		CASE WHEN reached[1] > 0 THEN reached[st.step]::float8 / reached[1] END
	FROM unnest(names) WITH ORDINALITY st(stage, step)
	ORDER BY st.step;
END
$$;

CREATE VIEW @extschema@.time_in_stage WITH (security_invoker = true) AS
SELECT sp.model, sp.stage, s.position, s.terminal,
	count(sp.exited_at) AS completed_stays,
	count(*) FILTER (WHERE sp.exited_at IS NULL) AS open_stays,
	avg(sp.exited_at - sp.entered_at) AS mean_time,
	pg_catalog.justify_hours(pg_catalog.make_interval(secs => pg_catalog.percentile_cont(0.5) WITHIN GROUP
		(ORDER BY pg_catalog.date_part('epoch', sp.exited_at - sp.entered_at)))) AS median_time
FROM @extschema@.stage_spans sp
LEFT JOIN @extschema@.stage s ON s.model = sp.model AND s.stage = sp.stage
GROUP BY sp.model, sp.stage, s.position, s.terminal;

-- A role sees the history of the tables it may SELECT only, through the
-- table, the views (security_invoker) and every stage function (SECURITY
-- INVOKER): a dropped table's OID matches no table (its rows are removed
-- by clm.on_drop).  A table with row level security shows its history only
-- to roles that see all its rows (members of its owner, superusers, BYPASSRLS
-- roles): the history cannot be filtered by the table's policies.  The
-- extension owner writes, bypassing the policy.
ALTER TABLE @extschema@.stage_history ENABLE ROW LEVEL SECURITY;

CREATE POLICY stage_history_read ON @extschema@.stage_history FOR SELECT
	USING (pg_catalog.has_table_privilege(table_oid::pg_catalog.oid, 'SELECT')
	       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c
	                       WHERE c.oid OPERATOR(pg_catalog.=) table_oid::pg_catalog.oid AND c.relrowsecurity
	                         AND NOT pg_catalog.pg_has_role(c.relowner, 'USAGE')
	                         AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
	                                         WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER
	                                           AND (r.rolsuper OR r.rolbypassrls))));

-- ======================================================================
-- comments and grants
-- ======================================================================

COMMENT ON TABLE @extschema@.stage_model IS
'Lifecycle stage models: transition policy any (every move), forward_only (skips forward, no move back) or graph (edges in clm.stage_transition); shipped = preset created by the extension (not dumped by pg_dump)';

COMMENT ON TABLE @extschema@.stage IS
'Ordered stages of each model (position orders funnels and forward_only moves; terminal marks end stages)';

COMMENT ON TABLE @extschema@.stage_transition IS
'Allowed moves of graph models; from_stage NULL = entering the model at to_stage (entering at the first stage is always allowed)';

COMMENT ON TABLE @extschema@.tracked_table IS
'Tables tracked by clm.track() and their model; the columns are those of the table''s clm_stage_update trigger (see clm.tracked_tables)';

COMMENT ON TABLE @extschema@.stage_history IS
'Append-only stage history: one row per stage change of a tracked table (source trigger), per existing row at clm.track (track) or per imported change (import); written only by the extension, erased only by clm.forget (and with its table); each role sees the rows of the tables it may SELECT';

-- no CHECK constraint on purpose: only the extension's C code writes this
-- table, and PostgreSQL parses CHECK expressions at every INSERT statement

-- Only the extension writes history and tracking rows; everybody may read
-- (the history of the tables it may SELECT: see the policy above).
-- Models are editable by the extension owner and whoever it grants to.
REVOKE ALL ON @extschema@.stage_history, @extschema@.tracked_table,
	@extschema@.stage_model, @extschema@.stage, @extschema@.stage_transition FROM PUBLIC;

REVOKE ALL ON SEQUENCE @extschema@.stage_history_id_seq FROM PUBLIC;

GRANT SELECT ON @extschema@.stage_history, @extschema@.tracked_table,
	@extschema@.stage_model, @extschema@.stage, @extschema@.stage_transition TO PUBLIC;

COMMENT ON FUNCTION @extschema@.stage_config_changed() IS
'Statement trigger on the stage model tables and clm.stage_notify_channel: invalidates the cached models of the tracking triggers and the cached list of tables with a notification channel';

COMMENT ON FUNCTION @extschema@.stage_trigger() IS
'Row trigger installed by clm.track(): validates stage moves against the model and writes clm.stage_history; with two arguments (change table, table OID), on the shards of a Citus distributed table, it appends each change to the table''s change table, which the coordinator validates and moves into clm.stage_history at the end of the statement';

COMMENT ON FUNCTION @extschema@.track(regclass, name, name, text, boolean) IS
'Track the stage column of a table you own (key bigint, integer, text or uuid; a Citus table must be distributed by the key column): installs the clm_stage_insert/clm_stage_update triggers (and, for a distributed table, its change table clm_stage_changes_<table OID>); with record_existing, records each existing row''s stage; returns the rows recorded';

COMMENT ON FUNCTION @extschema@.untrack(regclass) IS
'Stop tracking a table: drops its clm triggers (and the change table of a distributed table) and registry row, keeps its history';

COMMENT ON FUNCTION @extschema@.import_history(regclass, regclass) IS
'Load past stage changes of a tracked table from source(customer_key, stage, changed_at), validated against the model; returns the rows imported';

COMMENT ON VIEW @extschema@.tracked_tables IS
'Tracked tables with their current key and stage column names (NULL columns: table dropped or triggers removed)';

GRANT SELECT ON @extschema@.tracked_tables TO PUBLIC;

COMMENT ON VIEW @extschema@.stage_spans IS
'One row per stay of a customer in a stage: entered_at, and exited_at = time of the next change (NULL while still in the stage)';

GRANT SELECT ON @extschema@.stage_spans TO PUBLIC;

COMMENT ON FUNCTION @extschema@.stage_history_here(regclass) IS
'true, unless this is a Citus worker and tbl a Citus table, whose stage history is on the coordinator (0A000): the stage functions check it first, since Citus runs functions called in a query on a distributed table on the workers';

COMMENT ON FUNCTION @extschema@.stage_at(regclass, anyelement, timestamptz) IS
'Stage of a customer of a tracked table at a time (NULL before its first recorded stage)';

COMMENT ON FUNCTION @extschema@.stage_properties(regclass, timestamptz) IS
'Per customer and stage as of a time (HubSpot-style): first entered, last exited, latest time in (length of the most recent stay, open stays up to as_of), cumulative time in, stays, currently in the stage';

COMMENT ON FUNCTION @extschema@.transition_matrix(regclass, timestamptz, timestamptz) IS
'Stage changes recorded in [from_at, to_at): counts and probabilities normalised per from_stage (from_stage NULL = entries, to_stage NULL = stage cleared)';

COMMENT ON FUNCTION @extschema@.stage_funnel(regclass, timestamptz, timestamptz, boolean, text[]) IS
'Funnel for changes in [from_at, to_at) over steps (default: the model''s stages in position order): customers reaching each step, step and cumulative conversion; strict = steps entered in order (skipping drops out), else any order';

COMMENT ON VIEW @extschema@.time_in_stage IS
'Per model and stage over all tracked tables: completed stays, open stays, mean and median time in the stage (completed stays only; position NULL = stage no longer in the model)';

GRANT SELECT ON @extschema@.time_in_stage TO PUBLIC;
