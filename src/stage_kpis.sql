/*
 * src/stage_kpis.sql: a KPI row per period and lifecycle stage of a tracked table
 *
 * A part of the newest clm install script, which the Makefile concatenates
 * from the SQL_SOURCES list.  Sections: types and tables, support functions,
 * aggregates, user functions (views, triggers, policies), comments and grants.
 */

-- ======================================================================
-- types and tables
-- ======================================================================

-- (none: the function reads clm.stage_history, clm.stage and clm.tracked_table)

-- ======================================================================
-- support functions
-- ======================================================================

-- (none)

-- ======================================================================
-- aggregates
-- ======================================================================

-- (none)

-- ======================================================================
-- user functions, views, triggers and policies
-- ======================================================================

-- SECURITY INVOKER on purpose: the history is read with the caller's
-- rights (and whatever row security clm.stage_history has), and the caller
-- must be allowed to SELECT the tracked table itself.
CREATE FUNCTION @extschema@.stage_kpis(tbl regclass, period text, from_at timestamptz, to_at timestamptz)
RETURNS TABLE (period_start timestamptz, period_end timestamptz, stage text, "position" integer,
	terminal boolean, customers_at_start bigint, entered bigint, exited bigint, customers_at_end bigint,
	exited_forward bigint, exited_to_terminal bigint, conversion_rate double precision,
	median_time_in_stage interval)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	m text;
	allowed boolean;
	step interval;
BEGIN
	IF tbl IS NULL OR period IS NULL OR from_at IS NULL OR to_at IS NULL THEN
		RAISE EXCEPTION 'tbl, period, from_at and to_at must not be NULL' USING ERRCODE = '22004';
	END IF;
	period := lower(period);
	step := CASE period WHEN 'hour' THEN interval '1 hour' WHEN 'day' THEN interval '1 day'
		WHEN 'week' THEN interval '7 days' WHEN 'month' THEN interval '1 month'
		WHEN 'quarter' THEN interval '3 months' WHEN 'year' THEN interval '1 year' END;
	IF step IS NULL THEN
		RAISE EXCEPTION 'unknown period "%"', period
			USING ERRCODE = '22023', HINT = 'Valid units are hour, day, week, month, quarter and year.';
	END IF;
	IF NOT isfinite(from_at) OR NOT isfinite(to_at) THEN
		RAISE EXCEPTION 'from_at and to_at must be finite'
			USING ERRCODE = '22008', DETAIL = format('Got %s and %s.', from_at, to_at);
	END IF;
	IF from_at >= to_at THEN
		RAISE EXCEPTION 'from_at must be earlier than to_at'
			USING ERRCODE = '22023', DETAIL = format('Got %s and %s.', from_at, to_at);
	END IF;
	allowed := has_table_privilege(tbl::oid, 'SELECT');
	IF allowed IS NULL THEN
		RAISE EXCEPTION 'relation with OID % does not exist', tbl::oid USING ERRCODE = '42P01';
	ELSIF NOT allowed THEN
		RAISE EXCEPTION 'permission denied for table %', tbl
			USING ERRCODE = '42501', HINT = 'Stage KPIs of a table need the SELECT privilege on it.';
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
	RETURN QUERY
	WITH bounds AS (
		-- period k (1 .. P) is [b[k], b[k + 1]): the calendar periods in the
		-- session's time zone, clipped to [from_at, to_at)
		SELECT array_append(array_agg(greatest(g, from_at) ORDER BY g), to_at) AS b
		FROM generate_series(date_trunc(period, from_at), to_at, step) g
		WHERE g < to_at),
	ms AS (
		SELECT s.stage, s.position, s.terminal FROM @extschema@.stage s WHERE s.model = m),
	spans AS (
		-- the stays of clm.stage_spans, with the stage moved to next
		SELECT x.stage, x.entered_at, x.exited_at, x.next_stage
		FROM (SELECT h.to_stage AS stage, h.changed_at AS entered_at,
				lead(h.changed_at) OVER w AS exited_at, lead(h.to_stage) OVER w AS next_stage
			  FROM @extschema@.stage_history h
			  WHERE h.table_oid = tbl AND h.changed_at < to_at
			  WINDOW w AS (PARTITION BY h.customer_key ORDER BY h.changed_at, h.id)) x
		WHERE x.stage IS NOT NULL),
	events AS (
		-- bucket 0 = before from_at, k = period k
		SELECT sp.stage, width_bucket(sp.entered_at, bounds.b) AS k, 1 AS n_in, 0 AS n_out,
			0 AS n_fwd, 0 AS n_term, NULL::float8 AS secs
		FROM spans sp, bounds
		UNION ALL
		SELECT sp.stage, width_bucket(sp.exited_at, bounds.b), 0, 1,
			(coalesce(nx.position > cur.position, false))::integer,
			(coalesce(nx.terminal, false))::integer,
			date_part('epoch', sp.exited_at - sp.entered_at)
		FROM spans sp CROSS JOIN bounds
		LEFT JOIN ms cur ON cur.stage = sp.stage
		LEFT JOIN ms nx ON nx.stage = sp.next_stage
		WHERE sp.exited_at IS NOT NULL),
	flows AS (
		SELECT e.stage, e.k, sum(e.n_in) AS n_in, sum(e.n_out) AS n_out,
			sum(e.n_fwd) AS n_fwd, sum(e.n_term) AS n_term,
			percentile_cont(0.5) WITHIN GROUP (ORDER BY e.secs) AS median_secs
		FROM events e GROUP BY e.stage, e.k),
	stages AS (
		SELECT ms.stage, ms.position, ms.terminal FROM ms
		UNION
		SELECT DISTINCT f.stage, NULL::integer, NULL::boolean FROM flows f
		WHERE NOT EXISTS (SELECT 1 FROM ms WHERE ms.stage = f.stage)),
	periods AS (
		SELECT k, bounds.b[k] AS ps, bounds.b[k + 1] AS pe
		FROM bounds, generate_series(1, cardinality(bounds.b) - 1) k),
	grid AS (
		SELECT p.k, p.ps, p.pe, st.stage, st.position, st.terminal,
			coalesce(f.n_in, 0) AS n_in, coalesce(f.n_out, 0) AS n_out,
			coalesce(f.n_fwd, 0) AS n_fwd, coalesce(f.n_term, 0) AS n_term, f.median_secs,
			coalesce((SELECT f0.n_in - f0.n_out FROM flows f0 WHERE f0.stage = st.stage AND f0.k = 0), 0)
				+ sum(coalesce(f.n_in, 0) - coalesce(f.n_out, 0))
					OVER (PARTITION BY st.stage ORDER BY p.k) AS at_end
		FROM periods p CROSS JOIN stages st
		LEFT JOIN flows f ON f.stage = st.stage AND f.k = p.k)
	SELECT g.ps, g.pe, g.stage, g.position, g.terminal,
		(g.at_end - g.n_in + g.n_out)::bigint, g.n_in::bigint, g.n_out::bigint, g.at_end::bigint,
		g.n_fwd::bigint, g.n_term::bigint,
		g.n_fwd::float8 / nullif(g.at_end - g.n_in + g.n_out + g.n_in, 0),
		justify_hours(make_interval(secs => g.median_secs))
	FROM grid g
	ORDER BY g.k, g.position NULLS LAST, g.stage;
END
$$;

-- ======================================================================
-- comments and grants
-- ======================================================================

COMMENT ON FUNCTION @extschema@.stage_kpis(regclass, text, timestamptz, timestamptz) IS
'KPIs per period (hour .. year in the session time zone, clipped to [from_at, to_at)) and stage of a tracked table''s model, from clm.stage_history read as the caller (who needs SELECT on the table): customers in the stage at the period''s start and end, stays entered and exited in the period, exits to a later stage of the model (exited_forward) and to a terminal stage, conversion_rate = exited_forward / (customers_at_start + entered), median time in stage of the stays that ended in the period';
