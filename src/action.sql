/*
 * src/action.sql: acting on the lifecycle: win-back list, value tiers,
 * notifications to applications, campaigns measured against a control group
 *
 * A part of the newest clm install script, which the Makefile concatenates
 * from the SQL_SOURCES list.  Sections: types and tables, support functions,
 * aggregates, user functions (views, triggers, policies), comments and grants.
 *
 * Security model (README "Acting on the lifecycle"): the tables below grant
 * SELECT only, filtered by row level security (a role sees the settings of
 * the tables and sources it owns or reads, and its own campaigns).  Nobody
 * writes them directly: the user functions that change them are the
 * gateway of src/gate.c (clm_call_checked), which calls the internal
 * clm.<name>_as(calling role, ...) as the extension owner; those check
 * every right of the calling role themselves.  The C trigger
 * clm.action_trigger (src/action.c), on clm's own tables only, likewise
 * runs fixed internal statements as the extension owner.  No function here
 * is SECURITY DEFINER.
 */

-- ======================================================================
-- types and tables
-- ======================================================================

-- clm.notify: the channel of each tracked table whose stage changes are announced
CREATE TABLE @extschema@.stage_notify_channel (
	table_oid regclass PRIMARY KEY,
	channel text NOT NULL CHECK (pg_catalog.octet_length(channel) BETWEEN 1 AND 63),
	set_by regrole NOT NULL,
	set_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);

-- clm.announce: the channel and notification limit of each announcing source
CREATE TABLE @extschema@.score_announce (
	source text PRIMARY KEY REFERENCES @extschema@.sources (name) ON DELETE CASCADE ON UPDATE CASCADE,
	channel text NOT NULL CHECK (pg_catalog.octet_length(channel) BETWEEN 1 AND 63),
	max_notifications integer NOT NULL CHECK (max_notifications >= 0),
	set_by regrole NOT NULL,
	set_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);

-- stage and segment changes made by refreshes of announcing sources
CREATE TABLE @extschema@.score_change_log (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	source text NOT NULL REFERENCES @extschema@.sources (name) ON DELETE CASCADE ON UPDATE CASCADE,
	run_id bigint NOT NULL,
	customer_key text NOT NULL,
	from_stage text,
	to_stage text NOT NULL,
	from_segment text,
	to_segment text,
	changed_at timestamptz NOT NULL,
	logged_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);

CREATE INDEX score_change_log_run ON @extschema@.score_change_log (source, run_id);

-- value tiers: shares of each tier from the top, and the CLV breaks in force
CREATE TABLE @extschema@.value_tiers (
	source text PRIMARY KEY REFERENCES @extschema@.sources (name) ON DELETE CASCADE ON UPDATE CASCADE,
	shares numeric[] NOT NULL DEFAULT '{0.05,0.15,0.30}',
	breaks double precision[],
	customers bigint,
	computed_at timestamptz,
	set_by regrole
);

CREATE SEQUENCE @extschema@.campaigns_id_seq;

CREATE TABLE @extschema@.campaigns (
	id bigint NOT NULL DEFAULT pg_catalog.nextval('@extschema@.campaigns_id_seq') PRIMARY KEY,
	name text NOT NULL CHECK (pg_catalog.length(name) BETWEEN 1 AND 200),
	owner regrole NOT NULL,
	source text NOT NULL REFERENCES @extschema@.sources (name) ON DELETE CASCADE ON UPDATE CASCADE,
	stages text[],
	segments text[],
	tiers smallint[],
	control_share numeric NOT NULL CHECK (control_share > 0 AND control_share < 1),
	seed bigint NOT NULL,
	starts_at timestamptz NOT NULL,
	window_length interval NOT NULL CHECK (window_length > '0'),
	customers bigint NOT NULL,
	control_customers bigint NOT NULL,
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	UNIQUE (owner, name)
);

ALTER SEQUENCE @extschema@.campaigns_id_seq OWNED BY @extschema@.campaigns.id;

CREATE TABLE @extschema@.campaign_members (
	campaign_id bigint NOT NULL REFERENCES @extschema@.campaigns (id) ON DELETE CASCADE,
	customer_key text NOT NULL,
	grp text NOT NULL CHECK (grp IN ('treatment', 'control')),
	stage text,
	segment text,
	tier smallint,
	clv double precision,
	p_alive double precision,
	PRIMARY KEY (campaign_id, customer_key)
);

-- ======================================================================
-- support functions
-- ======================================================================

CREATE FUNCTION @extschema@.two_proportion_test(x1 bigint, n1 bigint, x2 bigint, n2 bigint,
	OUT difference double precision, OUT z double precision, OUT p_value double precision)
RETURNS record AS 'MODULE_PATHNAME', 'clm_two_proportion_test' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- tier of a CLV given the breaks of a source (a NULL break is an empty tier)
CREATE FUNCTION @extschema@.value_tier(clv double precision, breaks double precision[])
RETURNS smallint AS 'MODULE_PATHNAME', 'clm_value_tier' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- The bodies of the user functions that change clm's tables (EXECUTE
-- revoked from PUBLIC): clm.notify, clm.announce, clm.set_value_tiers,
-- clm.create_campaign and clm.drop_campaign are the gateway clm_call_checked
-- (src/gate.c), which calls clm.<name>_as(calling role, ...) as the
-- extension owner.  Each checks every right of that role itself (row level
-- security does not apply to the owner), with a pinned search_path.
CREATE FUNCTION @extschema@.notify_as(caller regrole, tracked_table regclass, channel text) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
	IF tracked_table IS NULL OR caller IS NULL THEN
		RAISE EXCEPTION 'tracked_table must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = tracked_table AND pg_has_role(caller, c.relowner, 'USAGE')) THEN
		RAISE EXCEPTION 'must be owner of table %', tracked_table USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF channel IS NULL THEN
		DELETE FROM @extschema@.stage_notify_channel n WHERE n.table_oid = tracked_table;
		RETURN NULL;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM @extschema@.tracked_table t WHERE t.table_oid = tracked_table) THEN
		RAISE EXCEPTION 'table % is not tracked', tracked_table USING ERRCODE = 'object_not_in_prerequisite_state',
			HINT = 'Track it with clm.track() first.';
	END IF;
	IF octet_length(channel) NOT BETWEEN 1 AND 63 THEN
		RAISE EXCEPTION 'invalid channel name' USING ERRCODE = 'invalid_parameter_value',
			DETAIL = format('A channel name is 1 to 63 bytes long, got %s.', octet_length(channel));
	END IF;
	INSERT INTO @extschema@.stage_notify_channel AS n (table_oid, channel, set_by)
	VALUES (tracked_table, channel, caller)
	ON CONFLICT (table_oid) DO UPDATE SET channel = EXCLUDED.channel, set_by = EXCLUDED.set_by, set_at = now();
	RETURN channel;
END
$fn$;

-- the source as the caller sees it (owner or reader), else 42704; with
-- must_own, the caller must own it (42501)
CREATE FUNCTION @extschema@.source_for(caller regrole, source text, must_own boolean)
RETURNS @extschema@.sources
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
	src @extschema@.sources;
BEGIN
	IF source IS NULL OR caller IS NULL THEN
		RAISE EXCEPTION 'source must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT * INTO src FROM @extschema@.sources s
	WHERE s.name = source_for.source
	  AND (pg_has_role(caller, s.owner, 'USAGE')
		   OR EXISTS (SELECT 1 FROM unnest(s.readers) r WHERE pg_has_role(caller, r, 'USAGE')));
	IF NOT FOUND THEN
		RAISE EXCEPTION 'source "%" does not exist', source USING ERRCODE = 'undefined_object';
	END IF;
	IF must_own AND NOT pg_has_role(caller, src.owner, 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of source "%"', source USING ERRCODE = 'insufficient_privilege';
	END IF;
	RETURN src;
END
$fn$;

CREATE FUNCTION @extschema@.announce_as(caller regrole, source text, channel text, max_notifications integer)
RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
	PERFORM @extschema@.source_for(caller, source, true);
	IF channel IS NULL THEN
		DELETE FROM @extschema@.score_announce a WHERE a.source = announce_as.source;
		RETURN NULL;
	END IF;
	IF octet_length(channel) NOT BETWEEN 1 AND 63 THEN
		RAISE EXCEPTION 'invalid channel name' USING ERRCODE = 'invalid_parameter_value',
			DETAIL = format('A channel name is 1 to 63 bytes long, got %s.', octet_length(channel));
	END IF;
	IF max_notifications IS NULL OR max_notifications < 0 THEN
		RAISE EXCEPTION 'max_notifications must be 0 or more' USING ERRCODE = 'invalid_parameter_value',
			DETAIL = format('Got %s.', coalesce(max_notifications::text, 'NULL'));
	END IF;
	INSERT INTO @extschema@.score_announce AS a (source, channel, max_notifications, set_by)
	VALUES (source, channel, max_notifications, caller)
	ON CONFLICT ON CONSTRAINT score_announce_pkey DO UPDATE SET channel = EXCLUDED.channel,
		max_notifications = EXCLUDED.max_notifications, set_by = EXCLUDED.set_by, set_at = now();
	RETURN channel;
END
$fn$;

-- internal: computes the tiers of a source: run NULL (or no breaks yet): the breaks
-- from the CLVs of all its customers, then every customer's tier; else the
-- customers scored by that (incremental) run, with the breaks in force
CREATE FUNCTION @extschema@.apply_value_tiers(source text, run bigint) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
	vt @extschema@.value_tiers;
	n bigint;
	clvs double precision[];
	cum numeric := 0;
	m bigint;
	br double precision[] := '{}';
	done bigint;
BEGIN
	INSERT INTO @extschema@.value_tiers AS v (source) VALUES (apply_value_tiers.source)
	ON CONFLICT ON CONSTRAINT value_tiers_pkey DO NOTHING;
	SELECT * INTO vt FROM @extschema@.value_tiers v WHERE v.source = apply_value_tiers.source FOR UPDATE;
	IF run IS NOT NULL AND vt.breaks IS NOT NULL THEN
		UPDATE @extschema@.scores sc SET tier = @extschema@.value_tier(sc.clv, vt.breaks)
		WHERE sc.source = apply_value_tiers.source AND sc.run_id = run
		  AND sc.tier IS DISTINCT FROM @extschema@.value_tier(sc.clv, vt.breaks);
		GET DIAGNOSTICS done = ROW_COUNT;
		RETURN done;
	END IF;
	SELECT count(*), array_agg(sc.clv ORDER BY sc.clv DESC) INTO n, clvs
	FROM @extschema@.scores sc WHERE sc.source = apply_value_tiers.source AND sc.clv IS NOT NULL;
	-- tier k ends at position floor(n * (share 1 + ... + share k)) of the
	-- CLVs in descending order (exact: numeric shares); its break is the CLV
	-- there, so customers with equal CLVs share a tier
	FOR k IN 1 .. cardinality(vt.shares) LOOP
		cum := cum + vt.shares[k];
		m := floor(cum * n)::bigint;
		br := br || CASE WHEN m >= 1 THEN clvs[m] END;
	END LOOP;
	UPDATE @extschema@.value_tiers v SET breaks = br, customers = n, computed_at = now()
	WHERE v.source = apply_value_tiers.source;
	UPDATE @extschema@.scores sc SET tier = @extschema@.value_tier(sc.clv, br)
	WHERE sc.source = apply_value_tiers.source AND sc.tier IS DISTINCT FROM @extschema@.value_tier(sc.clv, br);
	GET DIAGNOSTICS done = ROW_COUNT;
	RETURN done;
END
$fn$;

CREATE FUNCTION @extschema@.set_value_tiers_as(caller regrole, source text, shares numeric[]) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
	PERFORM @extschema@.source_for(caller, source, true);
	IF shares IS NULL THEN
		RAISE EXCEPTION 'shares must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	-- subscripts from 1 whatever the given lower bound ('[5:6]={0.1,0.2}'),
	-- which clm.apply_value_tiers reads from 1
	IF array_ndims(shares) = 1 AND array_lower(shares, 1) <> 1 THEN
		shares := ARRAY(SELECT x.v FROM unnest(shares) WITH ORDINALITY x(v, i) ORDER BY x.i);
	END IF;
	IF array_ndims(shares) IS DISTINCT FROM 1 OR cardinality(shares) > 9
	   OR EXISTS (SELECT 1 FROM unnest(shares) x WHERE x IS NULL OR x = 'NaN' OR x <= 0)
	   OR (SELECT sum(x) FROM unnest(shares) x) > 1 THEN
		RAISE EXCEPTION 'invalid value tier shares' USING ERRCODE = 'invalid_parameter_value',
			DETAIL = format('Give 1 to 9 positive shares of the customers, top tier first, summing to at most 1; got %s.', shares);
	END IF;
	INSERT INTO @extschema@.value_tiers AS v (source, shares, set_by) VALUES (source, shares, caller)
	ON CONFLICT ON CONSTRAINT value_tiers_pkey DO UPDATE SET shares = EXCLUDED.shares, set_by = EXCLUDED.set_by,
		breaks = NULL;
	RETURN @extschema@.apply_value_tiers(source, NULL);
END
$fn$;

-- a notification payload must stay below 8000 bytes: a long key (or stage or
-- segment name) is left out ("truncated": true), the id finds the row
CREATE FUNCTION @extschema@.notify_payload(full_payload json, short_payload json) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
	SELECT CASE WHEN octet_length(full_payload::text) < 8000 THEN full_payload::text ELSE short_payload::text END
$$;

-- sends the notifications of a finished refresh run of an announcing source
CREATE FUNCTION @extschema@.announce_run(source text, run bigint) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' AS $fn$
DECLARE
	a @extschema@.score_announce;
	n bigint;
	c record;
	keep interval := coalesce(current_setting('clm.run_retention', true)::interval, '7 days');
BEGIN
	DELETE FROM @extschema@.score_change_log l
	WHERE l.source = announce_run.source AND l.logged_at < now() - keep;
	SELECT * INTO a FROM @extschema@.score_announce x WHERE x.source = announce_run.source;
	IF NOT FOUND THEN
		RETURN 0;
	END IF;
	SELECT count(*) INTO n FROM @extschema@.score_change_log l
	WHERE l.source = announce_run.source AND l.run_id = run;
	IF n = 0 THEN
		RETURN 0;
	END IF;
	IF n > a.max_notifications THEN
		PERFORM pg_notify(a.channel, json_build_object('source', source, 'run_id', run, 'changes', n,
			'summary', true)::text);
		RETURN 1;
	END IF;
	FOR c IN SELECT * FROM @extschema@.score_change_log l
			 WHERE l.source = announce_run.source AND l.run_id = run ORDER BY l.customer_key, l.id LOOP
		PERFORM pg_notify(a.channel, @extschema@.notify_payload(
			json_build_object('source', source, 'run_id', run, 'customer_key', c.customer_key,
				'from_stage', c.from_stage, 'to_stage', c.to_stage, 'from_segment', c.from_segment,
				'to_segment', c.to_segment, 'changed_at', c.changed_at, 'id', c.id),
			json_build_object('source', source, 'run_id', run, 'customer_key', NULL,
				'from_stage', NULL, 'to_stage', NULL, 'from_segment', NULL, 'to_segment', NULL,
				'changed_at', c.changed_at, 'id', c.id, 'truncated', true)));
	END LOOP;
	RETURN n;
END
$fn$;

-- sends the NOTIFY of a stage change (row id of clm.stage_history) when its
-- table has a channel
CREATE FUNCTION @extschema@.send_stage_notification(history_id bigint) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' AS $fn$
DECLARE
	h record;
BEGIN
	SELECT x.id, x.table_oid, x.customer_key, x.model, x.from_stage, x.to_stage, x.changed_at, n.channel INTO h
	FROM @extschema@.stage_history x JOIN @extschema@.stage_notify_channel n ON n.table_oid = x.table_oid
	-- the role that turned it on must still own the table (an OID reused by
	-- another owner's table does not inherit the setting)
	JOIN pg_class c ON c.oid = x.table_oid AND pg_has_role(n.set_by, c.relowner, 'USAGE')
	WHERE x.id = history_id;
	IF NOT FOUND THEN
		RETURN 0;
	END IF;
	PERFORM pg_notify(h.channel, @extschema@.notify_payload(
		json_build_object('table', h.table_oid::regclass::text, 'customer_key', h.customer_key,
			'model', h.model, 'from_stage', h.from_stage, 'to_stage', h.to_stage,
			'changed_at', h.changed_at, 'id', h.id),
		json_build_object('table', h.table_oid::regclass::text, 'customer_key', NULL, 'model', NULL,
			'from_stage', NULL, 'to_stage', NULL, 'changed_at', h.changed_at, 'id', h.id,
			'truncated', true)));
	RETURN 1;
END
$fn$;

CREATE FUNCTION @extschema@.create_campaign_as(caller regrole, name text, source text, stages text[],
	segments text[], tiers integer[], control_share numeric, seed bigint, starts_at timestamptz,
	window_length interval)
RETURNS @extschema@.campaigns
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
	camp @extschema@.campaigns;
	n bigint;
	nc bigint;
BEGIN
	-- the caller may read the source: owner or reader
	PERFORM @extschema@.source_for(caller, source, false);
	IF name IS NULL OR control_share IS NULL OR seed IS NULL OR starts_at IS NULL OR window_length IS NULL THEN
		RAISE EXCEPTION 'name, source, control_share, seed, starts_at and window_length must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF EXISTS (SELECT 1 FROM unnest(tiers) t WHERE t NOT BETWEEN 1 AND 10) THEN
		RAISE EXCEPTION 'tiers are numbered 1 to 10' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF length(name) NOT BETWEEN 1 AND 200 THEN
		RAISE EXCEPTION 'a campaign name is 1 to 200 characters long' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NOT (control_share > 0 AND control_share < 1) THEN
		RAISE EXCEPTION 'control_share must be between 0 and 1 (exclusive)' USING ERRCODE = 'invalid_parameter_value',
			DETAIL = format('Got %s.', control_share);
	END IF;
	IF NOT isfinite(starts_at) THEN
		RAISE EXCEPTION 'starts_at must be finite' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NOT isfinite(window_length) OR window_length <= '0' OR NOT isfinite(starts_at + window_length) THEN
		RAISE EXCEPTION 'window_length must be a positive, finite interval' USING ERRCODE = 'invalid_parameter_value',
			DETAIL = format('Got %s.', window_length);
	END IF;
	IF cardinality(stages) = 0 OR cardinality(segments) = 0 OR cardinality(tiers) = 0
	   OR array_ndims(stages) > 1 OR array_ndims(segments) > 1 OR array_ndims(tiers) > 1
	   OR array_position(stages, NULL) IS NOT NULL OR array_position(segments, NULL) IS NOT NULL
	   OR array_position(tiers, NULL) IS NOT NULL THEN
		RAISE EXCEPTION 'stages, segments and tiers are NULL (any) or lists of values without NULLs'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF EXISTS (SELECT 1 FROM @extschema@.campaigns c WHERE c.owner = caller AND c.name = create_campaign_as.name) THEN
		RAISE EXCEPTION 'campaign "%" already exists', name USING ERRCODE = 'duplicate_object',
			HINT = 'Choose another name, or drop it with clm.drop_campaign.';
	END IF;
	SELECT count(*) INTO n FROM @extschema@.scores sc
	WHERE sc.source = create_campaign_as.source
	  AND (stages IS NULL OR sc.stage = ANY (stages))
	  AND (segments IS NULL OR sc.segment = ANY (segments))
	  AND (tiers IS NULL OR sc.tier = ANY (tiers));
	IF n = 0 THEN
		RAISE EXCEPTION 'no customer of source "%" matches the selection', source
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- both groups keep at least one customer (from two customers on)
	nc := CASE WHEN n < 2 THEN 0 ELSE least(greatest(round(n * control_share)::bigint, 1), n - 1) END;
	INSERT INTO @extschema@.campaigns (name, owner, source, stages, segments, tiers, control_share, seed,
		starts_at, window_length, customers, control_customers)
	VALUES (name, caller, source, stages, segments, tiers, control_share, seed,
		starts_at, window_length, n, nc)
	RETURNING * INTO camp;
	-- deterministic assignment: members in the order of a seeded hash of
	-- their key (ties by key); the first nc are control
	INSERT INTO @extschema@.campaign_members (campaign_id, customer_key, grp, stage, segment, tier, clv, p_alive)
	SELECT camp.id, x.customer_key, CASE WHEN x.rn <= nc THEN 'control' ELSE 'treatment' END,
		x.stage, x.segment, x.tier, x.clv, x.p_alive
	FROM (SELECT sc.*, row_number() OVER (ORDER BY hashtextextended(sc.customer_key, seed), sc.customer_key) AS rn
		  FROM @extschema@.scores sc
		  WHERE sc.source = create_campaign_as.source
			AND (stages IS NULL OR sc.stage = ANY (stages))
			AND (segments IS NULL OR sc.segment = ANY (segments))
			AND (tiers IS NULL OR sc.tier = ANY (tiers))) x;
	RETURN camp;
END
$fn$;

CREATE FUNCTION @extschema@.drop_campaign_as(caller regrole, campaign bigint) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
	DELETE FROM @extschema@.campaigns c WHERE c.id = campaign AND pg_has_role(caller, c.owner, 'USAGE');
	IF NOT FOUND THEN
		RAISE EXCEPTION 'campaign % does not exist', campaign USING ERRCODE = 'undefined_object';
	END IF;
	RETURN true;
END
$fn$;

-- the body of clm.campaign_report: the caller must see the campaign, read its
-- source and may SELECT the events' three columns; the events are read with
-- the source owner's rights only (clm.run_as), in the source's time zone, so
-- no code of the events table (a view's functions, a policy) ever runs with
-- the caller's rights, be it a reader or a superuser.  DateStyle ISO: the
-- window's end is written into the statement as an exact literal.
CREATE FUNCTION @extschema@.campaign_report_as(caller regrole, campaign bigint, as_of timestamptz)
RETURNS TABLE (grp text, customers bigint, returned bigint, return_rate double precision,
			   revenue double precision, revenue_per_customer double precision,
			   uplift double precision, z double precision, p_value double precision,
			   window_start timestamptz, window_end timestamptz, complete boolean)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' SET DateStyle = 'ISO, YMD' AS $fn$
DECLARE
	c @extschema@.campaigns;
	src @extschema@.sources;
	w_end timestamptz;
BEGIN
	IF caller IS NULL OR campaign IS NULL OR as_of IS NULL THEN
		RAISE EXCEPTION 'campaign and as_of must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT * INTO c FROM @extschema@.campaigns x WHERE x.id = campaign AND pg_has_role(caller, x.owner, 'USAGE');
	IF NOT FOUND THEN
		RAISE EXCEPTION 'campaign % does not exist', campaign USING ERRCODE = 'undefined_object';
	END IF;
	SELECT * INTO src FROM @extschema@.sources s
	WHERE s.name = c.source
	  AND (pg_has_role(caller, s.owner, 'USAGE')
		   OR EXISTS (SELECT 1 FROM unnest(s.readers) r WHERE pg_has_role(caller, r, 'USAGE')));
	IF NOT FOUND
	   OR NOT has_column_privilege(caller, src.events, src.customer_column, 'SELECT')
	   OR NOT has_column_privilege(caller, src.events, src.time_column, 'SELECT')
	   OR NOT has_column_privilege(caller, src.events, src.amount_column, 'SELECT') THEN
		RAISE EXCEPTION 'source "%" of campaign % is not readable', c.source, campaign
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	PERFORM set_config('TimeZone', src.time_zone, true);
	-- the window so far: [starts_at, least(starts_at + window_length, as_of))
	w_end := least(c.starts_at + c.window_length, greatest(as_of, c.starts_at));
	RETURN QUERY
	WITH e AS (
		SELECT x.k, x.rev
		FROM @extschema@.run_as(src.owner, format($q$
			SELECT e.%1$I::text, sum(e.%3$I)::double precision
			FROM %4$s e
			WHERE e.%1$I = ANY ($1::%5$s[])
			  AND e.%2$I::timestamptz >= $2 AND e.%2$I::timestamptz < %6$L::timestamptz
			GROUP BY 1$q$,
			src.customer_column, src.time_column, src.amount_column, src.events, src.customer_type, w_end),
			ARRAY(SELECT mm.customer_key FROM @extschema@.campaign_members mm WHERE mm.campaign_id = c.id),
			c.starts_at) AS x(k text, rev double precision)),
	r AS (
		SELECT g.grp, count(m.customer_key) AS customers, count(e.k) AS returned,
			   coalesce(sum(e.rev), 0)::double precision AS revenue
		FROM (VALUES ('treatment'), ('control')) g(grp)
		LEFT JOIN @extschema@.campaign_members m ON m.campaign_id = c.id AND m.grp = g.grp
		LEFT JOIN e ON e.k = m.customer_key
		GROUP BY g.grp),
	test AS (
		SELECT x.* FROM r t, r k,
			LATERAL @extschema@.two_proportion_test(t.returned, t.customers, k.returned, k.customers) x
		WHERE t.grp = 'treatment' AND k.grp = 'control')
	SELECT r.grp, r.customers, r.returned,
		CASE WHEN r.customers > 0 THEN r.returned::double precision / r.customers END,
		r.revenue,
		CASE WHEN r.customers > 0 THEN r.revenue / r.customers END,
		CASE WHEN r.grp = 'treatment' THEN test.difference END,
		CASE WHEN r.grp = 'treatment' THEN test.z END,
		CASE WHEN r.grp = 'treatment' THEN test.p_value END,
		c.starts_at, w_end, as_of >= c.starts_at + c.window_length
	FROM r, test ORDER BY r.grp DESC;
END
$fn$;

-- ======================================================================
-- user functions, views, triggers and policies
-- ======================================================================

SELECT pg_catalog.pg_extension_config_dump('@extschema@.stage_notify_channel', '');

SELECT pg_catalog.pg_extension_config_dump('@extschema@.score_announce', '');

SELECT pg_catalog.pg_extension_config_dump('@extschema@.value_tiers', '');

SELECT pg_catalog.pg_extension_config_dump('@extschema@.campaigns', '');

SELECT pg_catalog.pg_extension_config_dump('@extschema@.campaigns_id_seq', '');

SELECT pg_catalog.pg_extension_config_dump('@extschema@.campaign_members', '');

CREATE FUNCTION @extschema@.winback(source text, top integer DEFAULT NULL)
RETURNS TABLE (customer_key text, stage text, segment text, p_alive double precision, clv double precision,
			   clv_if_active double precision, value_at_stake double precision, last_at timestamptz)
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
	IF source IS NULL THEN
		RAISE EXCEPTION 'source must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF top < 0 THEN
		RAISE EXCEPTION 'top must be 0 or more (NULL: every candidate)' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM @extschema@.sources s WHERE s.name = winback.source) THEN
		RAISE EXCEPTION 'source "%" does not exist', source USING ERRCODE = 'undefined_object';
	END IF;
	RETURN QUERY
	SELECT x.customer_key, x.stage, x.segment, x.p_alive, x.clv, x.clv_if_active,
		x.clv_if_active * (1 - x.p_alive), x.last_at
	FROM (SELECT sc.customer_key, sc.stage, sc.segment, sc.p_alive, sc.clv, sc.clv / sc.p_alive AS clv_if_active,
				 sc.last_at
		  FROM @extschema@.scores sc
		  WHERE sc.source = winback.source AND sc.stage IN ('at_risk', 'dormant', 'churned') AND sc.p_alive > 0) x
	ORDER BY 7 DESC NULLS LAST, x.customer_key
	LIMIT top;
END
$fn$;

CREATE FUNCTION @extschema@.set_value_tiers(source text, shares numeric[] DEFAULT '{0.05,0.15,0.30}')
RETURNS bigint AS 'MODULE_PATHNAME', 'clm_call_checked' LANGUAGE C;

CREATE FUNCTION @extschema@.notify(tracked_table regclass, channel text DEFAULT 'clm_stage')
RETURNS text AS 'MODULE_PATHNAME', 'clm_call_checked' LANGUAGE C;

CREATE FUNCTION @extschema@.announce(source text, channel text DEFAULT 'clm_scores',
	max_notifications integer DEFAULT 100)
RETURNS text AS 'MODULE_PATHNAME', 'clm_call_checked' LANGUAGE C;

CREATE FUNCTION @extschema@.score_changes(source text, since_run_id bigint DEFAULT 0)
RETURNS TABLE (run_id bigint, customer_key text, from_stage text, to_stage text, from_segment text,
			   to_segment text, changed_at timestamptz, id bigint)
LANGUAGE sql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $fn$
	SELECT l.run_id, l.customer_key, l.from_stage, l.to_stage, l.from_segment, l.to_segment, l.changed_at, l.id
	FROM @extschema@.score_change_log l
	WHERE l.source = $1 AND l.run_id >= $2
	ORDER BY l.run_id, l.customer_key, l.id
$fn$;

CREATE FUNCTION @extschema@.create_campaign(name text, source text, stages text[] DEFAULT NULL,
	segments text[] DEFAULT NULL, tiers integer[] DEFAULT NULL, control_share numeric DEFAULT 0.1,
	seed bigint DEFAULT 0, starts_at timestamptz DEFAULT now(), window_length interval DEFAULT '30 days')
RETURNS @extschema@.campaigns AS 'MODULE_PATHNAME', 'clm_call_checked' LANGUAGE C;

CREATE FUNCTION @extschema@.drop_campaign(campaign bigint) RETURNS boolean
AS 'MODULE_PATHNAME', 'clm_call_checked' LANGUAGE C;

CREATE FUNCTION @extschema@.campaign_members(campaign bigint)
RETURNS TABLE (customer_key text, grp text, stage text, segment text, tier smallint,
			   clv double precision, p_alive double precision)
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM @extschema@.campaigns c WHERE c.id = campaign) THEN
		RAISE EXCEPTION 'campaign % does not exist', campaign USING ERRCODE = 'undefined_object';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM @extschema@.campaigns c JOIN @extschema@.sources s ON s.name = c.source
				   WHERE c.id = campaign) THEN
		RAISE EXCEPTION 'source of campaign % is not readable', campaign USING ERRCODE = 'insufficient_privilege';
	END IF;
	RETURN QUERY
	SELECT m.customer_key, m.grp, m.stage, m.segment, m.tier, m.clv, m.p_alive
	FROM @extschema@.campaign_members m WHERE m.campaign_id = campaign
	ORDER BY m.grp DESC, m.customer_key;
END
$fn$;

CREATE FUNCTION @extschema@.campaign_report(campaign bigint, as_of timestamptz DEFAULT now())
RETURNS TABLE (grp text, customers bigint, returned bigint, return_rate double precision,
			   revenue double precision, revenue_per_customer double precision,
			   uplift double precision, z double precision, p_value double precision,
			   window_start timestamptz, window_end timestamptz, complete boolean)
AS 'MODULE_PATHNAME', 'clm_call_checked' LANGUAGE C;

-- the trigger of clm.stage_history, clm.scores and clm.refresh_runs (C, see
-- src/action.c): acts as the extension owner, on those three tables only
CREATE FUNCTION @extschema@.action_trigger() RETURNS trigger
AS 'MODULE_PATHNAME', 'clm_action_trigger' LANGUAGE C;

-- edits of the channels reach every session's list of the tables that have
-- one (src/action.c) at commit
CREATE TRIGGER stage_config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON @extschema@.stage_notify_channel
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.stage_config_changed();

-- (no WHEN clause: PostgreSQL parses it at every statement, and each history
-- row is inserted by a statement of its own; the function returns at once
-- for rows not written by the stage trigger)
CREATE TRIGGER clm_stage_notify AFTER INSERT ON @extschema@.stage_history
	FOR EACH ROW EXECUTE FUNCTION @extschema@.action_trigger();

CREATE TRIGGER clm_score_changes_insert AFTER INSERT ON @extschema@.scores
	REFERENCING NEW TABLE AS clm_new_scores
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.action_trigger();

CREATE TRIGGER clm_score_changes_update AFTER UPDATE ON @extschema@.scores
	REFERENCING OLD TABLE AS clm_old_scores NEW TABLE AS clm_new_scores
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.action_trigger();

CREATE TRIGGER clm_after_refresh AFTER UPDATE OF status ON @extschema@.refresh_runs
	FOR EACH ROW WHEN (OLD.status = 'running' AND NEW.status = 'ok')
	EXECUTE FUNCTION @extschema@.action_trigger();

-- row level security: settings of what you own or read, your own campaigns
ALTER TABLE @extschema@.stage_notify_channel ENABLE ROW LEVEL SECURITY;

CREATE POLICY stage_notify_channel_read ON @extschema@.stage_notify_channel FOR SELECT
	USING (EXISTS (SELECT 1 FROM pg_catalog.pg_class c
				   WHERE c.oid = table_oid AND pg_catalog.pg_has_role(c.relowner, 'USAGE')));

ALTER TABLE @extschema@.score_announce ENABLE ROW LEVEL SECURITY;

CREATE POLICY score_announce_read ON @extschema@.score_announce FOR SELECT
	USING (source IN (SELECT s.name FROM @extschema@.sources s));

ALTER TABLE @extschema@.score_change_log ENABLE ROW LEVEL SECURITY;

CREATE POLICY score_change_log_read ON @extschema@.score_change_log FOR SELECT
	USING (source IN (SELECT s.name FROM @extschema@.sources s));

ALTER TABLE @extschema@.value_tiers ENABLE ROW LEVEL SECURITY;

CREATE POLICY value_tiers_read ON @extschema@.value_tiers FOR SELECT
	USING (source IN (SELECT s.name FROM @extschema@.sources s));

ALTER TABLE @extschema@.campaigns ENABLE ROW LEVEL SECURITY;

CREATE POLICY campaigns_read ON @extschema@.campaigns FOR SELECT
	USING (pg_catalog.pg_has_role(owner, 'USAGE'));

ALTER TABLE @extschema@.campaign_members ENABLE ROW LEVEL SECURITY;

-- (and only while the role still reads the campaign's source: the members
-- carry the source's scores)
CREATE POLICY campaign_members_read ON @extschema@.campaign_members FOR SELECT
	USING (campaign_id IN (SELECT c.id FROM @extschema@.campaigns c JOIN @extschema@.sources s ON s.name = c.source));

-- ======================================================================
-- comments and grants
-- ======================================================================

COMMENT ON COLUMN @extschema@.scores.tier IS
'Value tier by CLV: 1 = the top share of the source''s customers (clm.set_value_tiers; default top 5 %, next 15 %, next 30 %, rest = 4); NULL without a CLV';

COMMENT ON TABLE @extschema@.stage_notify_channel IS
'Tracked tables whose committed stage changes are sent with NOTIFY (clm.notify), and their channel';

COMMENT ON TABLE @extschema@.score_announce IS
'Sources whose refreshes announce stage and segment changes with NOTIFY (clm.announce): channel, and the most notifications per run before one summary is sent instead';

COMMENT ON TABLE @extschema@.score_change_log IS
'Stage and segment changes made by refreshes of announcing sources (read them with clm.score_changes); purged after clm.run_retention';

COMMENT ON TABLE @extschema@.value_tiers IS
'Value tier settings of a source (shares of the customers in each tier from the top, clm.set_value_tiers) and the CLV breaks of its last full refresh';

COMMENT ON SEQUENCE @extschema@.campaigns_id_seq IS
'Campaign ids';

COMMENT ON TABLE @extschema@.campaigns IS
'Campaigns over the customers of a source (clm.create_campaign): selection, control share, seed, measurement window; each role sees its own';

COMMENT ON TABLE @extschema@.campaign_members IS
'Members of each campaign with their group (treatment or control) and their scores when the campaign was created';

COMMENT ON FUNCTION @extschema@.two_proportion_test(bigint, bigint, bigint, bigint) IS
'Two-sided two-proportion z test of x1/n1 against x2/n2 (pooled variance): difference of the proportions, z and p-value (NULL without variance or with an empty group)';

COMMENT ON FUNCTION @extschema@.value_tier(double precision, double precision[]) IS
'Value tier of a CLV given the CLV breaks of a source: the first k with clv >= breaks[k] (NULL break = empty tier), else the last tier';

COMMENT ON FUNCTION @extschema@.notify_as(regrole, regclass, text) IS
'Internal body of clm.notify for a calling role (run as the extension owner by the gateway)';

COMMENT ON FUNCTION @extschema@.source_for(regrole, text, boolean) IS
'Internal: the source as a calling role may see it (owner or reader; 42704 otherwise), or must own it (42501)';

COMMENT ON FUNCTION @extschema@.announce_as(regrole, text, text, integer) IS
'Internal body of clm.announce for a calling role (run as the extension owner by the gateway)';

COMMENT ON FUNCTION @extschema@.apply_value_tiers(text, bigint) IS
'Internal: computes the value tiers of a source (run NULL: new breaks and every customer; else the customers scored by that run)';

COMMENT ON FUNCTION @extschema@.set_value_tiers_as(regrole, text, numeric[]) IS
'Internal body of clm.set_value_tiers for a calling role (run as the extension owner by the gateway)';

COMMENT ON FUNCTION @extschema@.notify_payload(json, json) IS
'The full payload if it is shorter than the 8000-byte NOTIFY limit, else the short one';

COMMENT ON FUNCTION @extschema@.announce_run(text, bigint) IS
'Internal: sends the NOTIFY messages for the changes of a finished refresh run (one per customer up to the limit, else one summary)';

COMMENT ON FUNCTION @extschema@.create_campaign_as(regrole, text, text, text[], text[], integer[], numeric, bigint, timestamptz, interval) IS
'Internal body of clm.create_campaign for a calling role (run as the extension owner by the gateway)';

COMMENT ON FUNCTION @extschema@.drop_campaign_as(regrole, bigint) IS
'Internal body of clm.drop_campaign for a calling role (run as the extension owner by the gateway)';

COMMENT ON FUNCTION @extschema@.campaign_report_as(regrole, bigint, timestamptz) IS
'Internal body of clm.campaign_report for a calling role (run as the extension owner by the gateway; reads the events with the source owner''s rights)';

COMMENT ON FUNCTION @extschema@.winback(text, integer) IS
'Win-back candidates of a source: customers at_risk, dormant or churned with P(alive) > 0, by value at stake = clv / p_alive * (1 - p_alive), highest first; top limits the rows';

COMMENT ON FUNCTION @extschema@.set_value_tiers(text, numeric[]) IS
'Sets the value tier shares of a source you own (top tier first; the rest form the last tier) and recomputes its tiers; returns the customers whose tier changed';

COMMENT ON FUNCTION @extschema@.notify(regclass, text) IS
'Sends one NOTIFY per committed stage change of a tracked table you own on channel (JSON payload: table, customer_key, model, from_stage, to_stage, changed_at, id); NULL channel turns it off';

COMMENT ON FUNCTION @extschema@.announce(text, text, integer) IS
'Announces the stage and segment changes made by each refresh of a source you own on channel: one NOTIFY per customer up to max_notifications, else one summary; NULL channel turns it off';

COMMENT ON FUNCTION @extschema@.score_changes(text, bigint) IS
'Stage and segment changes logged for an announcing source by refresh run since_run_id and later runs';

COMMENT ON FUNCTION @extschema@.create_campaign(text, text, text[], text[], integer[], numeric, bigint, timestamptz, interval) IS
'Creates a campaign over the customers of a source selected by stage, segment and tier (NULL: any) and assigns round(n * control_share) of them (at least 1, at most n - 1) to control by a seeded hash of their key';

COMMENT ON FUNCTION @extschema@.drop_campaign(bigint) IS
'Deletes a campaign of yours and its members';

COMMENT ON FUNCTION @extschema@.campaign_members(bigint) IS
'Members of a campaign of yours: customer key, group (treatment or control) and their scores at creation';

COMMENT ON FUNCTION @extschema@.campaign_report(bigint, timestamptz) IS
'Result of a campaign in its window up to as_of, per group: customers, returned (bought in the window), return rate, revenue, revenue per customer; on the treatment row the uplift (difference of return rates), z and two-sided p-value of the two-proportion test';

COMMENT ON FUNCTION @extschema@.action_trigger() IS
'Trigger of clm.stage_history (NOTIFY of a stage change), clm.scores (log of the changes of announcing sources) and clm.refresh_runs (value tiers and announcements when a run ends ok); runs fixed statements as the extension owner, on those tables only';

COMMENT ON FUNCTION @extschema@.send_stage_notification(bigint) IS
'Internal (clm.action_trigger): sends the NOTIFY of one stage change of a table with a channel';

GRANT SELECT ON @extschema@.stage_notify_channel, @extschema@.score_announce, @extschema@.score_change_log,
	@extschema@.value_tiers, @extschema@.campaigns, @extschema@.campaign_members TO PUBLIC;

REVOKE ALL ON SEQUENCE @extschema@.campaigns_id_seq FROM PUBLIC;

REVOKE EXECUTE ON FUNCTION @extschema@.notify_as(regrole, regclass, text),
	@extschema@.source_for(regrole, text, boolean), @extschema@.announce_as(regrole, text, text, integer),
	@extschema@.apply_value_tiers(text, bigint), @extschema@.set_value_tiers_as(regrole, text, numeric[]),
	@extschema@.announce_run(text, bigint), @extschema@.send_stage_notification(bigint),
	@extschema@.create_campaign_as(regrole, text, text, text[], text[], integer[], numeric, bigint, timestamptz, interval),
	@extschema@.drop_campaign_as(regrole, bigint),
	@extschema@.campaign_report_as(regrole, bigint, timestamptz) FROM PUBLIC;
