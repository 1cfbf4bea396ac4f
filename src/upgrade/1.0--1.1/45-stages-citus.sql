/*
 * Upgrade 1.0 -> 1.1, part 45: stage tracking of Citus distributed tables
 * (issue #14, src/stages_citus.c).  clm.track, clm.untrack and the trigger
 * keep their SQL definitions; their descriptions say what they now do.  The
 * stage functions that take a table first check clm.stage_history_here
 * (new), so that Citus running them on a worker raises an error instead of
 * reading the worker's empty history.  clm.stage_config_changed() now also
 * fires on clm.stage_notify_channel (src/action.sql): its description says
 * so.  Written by scripts/gen_upgrade_1_1.py from src/stages.sql.
 */

COMMENT ON FUNCTION @extschema@.stage_config_changed() IS
'Statement trigger on the stage model tables and clm.stage_notify_channel: invalidates the cached models of the tracking triggers and the cached list of tables with a notification channel';

COMMENT ON FUNCTION @extschema@.stage_trigger() IS
'Row trigger installed by clm.track(): validates stage moves against the model and writes clm.stage_history; with two arguments (change table, table OID), on the shards of a Citus distributed table, it appends each change to the table''s change table, which the coordinator validates and moves into clm.stage_history at the end of the statement';

COMMENT ON FUNCTION @extschema@.track(regclass, name, name, text, boolean) IS
'Track the stage column of a table you own (key bigint, integer, text or uuid; a Citus table must be distributed by the key column): installs the clm_stage_insert/clm_stage_update triggers (and, for a distributed table, its change table clm_stage_changes_<table OID>); with record_existing, records each existing row''s stage; returns the rows recorded';

COMMENT ON FUNCTION @extschema@.untrack(regclass) IS
'Stop tracking a table: drops its clm triggers (and the change table of a distributed table) and registry row, keeps its history';

CREATE FUNCTION @extschema@.stage_history_here(tbl regclass) RETURNS boolean
AS 'MODULE_PATHNAME', 'clm_stage_history_here' LANGUAGE C STABLE STRICT PARALLEL SAFE;

CREATE OR REPLACE FUNCTION @extschema@.stage_at(tbl regclass, customer_key anyelement, at timestamptz)
RETURNS text LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT h.to_stage FROM @extschema@.stage_history h
WHERE @extschema@.stage_history_here($1) AND h.table_oid = $1 AND h.customer_key = $2::text AND h.changed_at <= $3
ORDER BY h.changed_at DESC, h.id DESC LIMIT 1
$$;

CREATE OR REPLACE FUNCTION @extschema@.stage_properties(tbl regclass, as_of timestamptz DEFAULT pg_catalog.now())
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

CREATE OR REPLACE FUNCTION @extschema@.transition_matrix(tbl regclass, from_at timestamptz, to_at timestamptz)
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

CREATE OR REPLACE FUNCTION @extschema@.stage_funnel(tbl regclass, from_at timestamptz, to_at timestamptz,
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

COMMENT ON FUNCTION @extschema@.stage_history_here(regclass) IS
'true, unless this is a Citus worker and tbl a Citus table, whose stage history is on the coordinator (0A000): the stage functions check it first, since Citus runs functions called in a query on a distributed table on the workers';
