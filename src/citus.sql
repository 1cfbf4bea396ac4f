/*
 * src/citus.sql: Citus support: which Citus table type a relation is, and
 * the change queue of incremental sources over distributed events tables
 *
 * A part of the newest clm install script, which the Makefile concatenates
 * from the SQL_SOURCES list.  Sections: types and tables, support functions,
 * aggregates, user functions (views, triggers, policies), comments and grants.
 */

-- ======================================================================
-- support functions
-- ======================================================================

CREATE FUNCTION @extschema@.citus_table_type(tbl regclass) RETURNS text
AS 'MODULE_PATHNAME', 'clm_citus_table_type' LANGUAGE C STABLE STRICT PARALLEL SAFE;

-- Incremental refresh over a distributed events table.  Citus runs no
-- statement triggers on its tables, but with citus.enable_unsafe_triggers it
-- runs row triggers on the shards.  So clm.register gives such a source a
-- change queue, a table distributed like the events and co-located with
-- them, clm_<source>_changes in the events table's schema; row triggers on
-- the events add the customer of every changed row to the co-located shard
-- of the queue, in the writer's transaction and with the writer's rights;
-- each refresh moves the queued customers into clm.refresh_queue first.
-- These functions are internal, like the refresh steps: only the extension
-- owner executes them (clm.queue_changes_row and clm.citus_table_type excepted).

-- the change queue of a source, quoted and qualified (need not exist)
CREATE FUNCTION @extschema@.citus_queue_name(src @extschema@.sources) RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
SELECT pg_catalog.format('%I.%I', n.nspname, 'clm_' || src.name || '_changes')
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = src.events
$$;

-- row trigger on the shards of a distributed events table: queue the
-- customer of the new and the old row version (arguments: the queue table,
-- quoted and qualified by clm.citus_register_queue, and the customer column)
CREATE FUNCTION @extschema@.queue_changes_row() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF TG_NARGS <> 2 OR TG_LEVEL <> 'ROW' OR TG_WHEN <> 'AFTER' THEN
		RAISE EXCEPTION 'clm.queue_changes_row() must be an AFTER ... FOR EACH ROW trigger with two arguments'
			USING ERRCODE = 'triggered_action_exception', HINT = 'clm.register installs it.';
	END IF;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		EXECUTE pg_catalog.format('INSERT INTO %s (customer_key) SELECT ($1).%I WHERE ($1).%I IS NOT NULL',
			TG_ARGV[0], TG_ARGV[1], TG_ARGV[1]) USING NEW;
	END IF;
	IF TG_OP = 'DELETE' THEN
		EXECUTE pg_catalog.format('INSERT INTO %s (customer_key) SELECT ($1).%I WHERE ($1).%I IS NOT NULL',
			TG_ARGV[0], TG_ARGV[1], TG_ARGV[1]) USING OLD;
	END IF;
	RETURN NULL;
END
$$;

-- clm.register_as, incremental source over a Citus table: the change
-- queue and the row triggers (named as the statement triggers of other
-- sources), created with the calling role's rights (clm.run_as)
CREATE FUNCTION @extschema@.citus_register_queue(caller regrole, src @extschema@.sources) RETURNS regclass
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
	kind text := @extschema@.citus_table_type(src.events);
	distcol text;
	q text := @extschema@.citus_queue_name(src);
	unsafe text := current_setting('citus.enable_unsafe_triggers', true);
	w record;
	op text;
BEGIN
	IF kind IS DISTINCT FROM 'distributed' THEN
		RAISE EXCEPTION 'incremental refresh does not support the Citus % table "%"', kind, src.events
			USING ERRCODE = 'feature_not_supported',
				  DETAIL = 'Changed customers are queued on the shards of a table distributed by the customer column.',
				  HINT = 'Pass incremental => false: each refresh then rescores every customer, summarising the events on the workers.';
	END IF;
	SELECT pg_catalog.column_to_column_name(p.logicalrelid, p.partkey) INTO distcol
	FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid = src.events;
	IF distcol IS DISTINCT FROM src.customer_column THEN
		RAISE EXCEPTION 'incremental refresh needs "%" distributed by its customer column "%", not "%"',
			src.events, src.customer_column, distcol
			USING ERRCODE = 'feature_not_supported',
				  HINT = 'Distribute the events by customer (which also keeps each customer''s summary on one worker), or pass incremental => false.';
	END IF;
	PERFORM FROM @extschema@.run_as(caller, pg_catalog.format('CREATE TABLE %s (customer_key %s NOT NULL)',
		q, src.customer_type)) AS x(n integer);
	PERFORM FROM @extschema@.run_as(caller, pg_catalog.format(
		'SELECT 1 FROM pg_catalog.create_distributed_table(%L, %L, colocate_with => %L)',
		q, 'customer_key', src.events::text)) AS x(n integer);
	PERFORM FROM @extschema@.run_as(caller, pg_catalog.format('COMMENT ON TABLE %s IS %L', q,
		'clm: customers of source ' || src.name || ' changed since its last refresh (filled by row triggers on '
		|| src.events::text || ', emptied by clm.refresh; dropped by clm.unregister)')) AS x(n integer);
	-- the triggers run with the rights of whoever writes the events: the
	-- events' owner and the roles that may write them now may queue
	FOR w IN
		SELECT DISTINCT a.grantee FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
		WHERE c.oid = src.events AND a.privilege_type IN ('INSERT', 'UPDATE', 'DELETE')
		UNION SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = src.events
	LOOP
		PERFORM FROM @extschema@.run_as(caller, pg_catalog.format('GRANT INSERT ON %s TO %s', q,
			CASE WHEN w.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(w.grantee)) END))
			AS x(n integer);
	END LOOP;
	PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
	FOREACH op IN ARRAY ARRAY['insert', 'update', 'delete'] LOOP
		PERFORM FROM @extschema@.run_as(caller, pg_catalog.format(
			'CREATE TRIGGER %I AFTER %s ON %s FOR EACH ROW EXECUTE FUNCTION @extschema@.queue_changes_row(%L, %L)',
			'clm_' || src.name || '_' || op, op, src.events, q, src.customer_column)) AS x(n integer);
	END LOOP;
	-- TRUNCATE fires no row trigger, but Citus fires the statement triggers
	-- of the coordinator's table: as for a local table, the C queue trigger
	-- queues "everyone" (on the shards, where clm.sources has no such
	-- source, it does nothing)
	PERFORM FROM @extschema@.run_as(caller, pg_catalog.format(
		'CREATE TRIGGER %I AFTER TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.queue_changes(%L, %L)',
		'clm_' || src.name || '_truncate', src.events, src.name, src.customer_column)) AS x(n integer);
	PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', coalesce(unsafe, 'off'), true);
	RETURN q::regclass;
END
$fn$;

-- clm.refresh_start: move the customers queued on the workers into
-- clm.refresh_queue (nothing for other sources); returns the rows moved.
-- The queue is read and emptied with the source owner's rights.
CREATE FUNCTION @extschema@.citus_drain_queue(src @extschema@.sources) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
	q regclass := pg_catalog.to_regclass(@extschema@.citus_queue_name(src));
	n bigint;
BEGIN
	IF q IS NULL OR NOT src.incremental OR @extschema@.citus_table_type(src.events) IS NULL
	   OR @extschema@.citus_table_type(q) IS DISTINCT FROM 'distributed' THEN
		RETURN 0;		-- not a Citus source (a table of that name is not its queue)
	END IF;
	-- a plain distributed DELETE (Citus does not plan it inside a CTE whose
	-- outer statement writes a local table)
	INSERT INTO @extschema@.refresh_queue (source, customer_key)
	SELECT DISTINCT src.name, x.k
	FROM @extschema@.run_as(src.owner, pg_catalog.format('DELETE FROM %s RETURNING customer_key::text', q)) AS x(k text);
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END
$fn$;

-- clm.worker_status: customers queued on the workers for a source over a
-- Citus table (0 for other sources, NULL if the caller may not read them)
CREATE FUNCTION @extschema@.citus_pending(src @extschema@.sources) RETURNS bigint
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
	q regclass := pg_catalog.to_regclass(@extschema@.citus_queue_name(src));
	n bigint;
BEGIN
	IF q IS NULL OR NOT src.incremental OR @extschema@.citus_table_type(src.events) IS NULL
	   OR @extschema@.citus_table_type(q) IS DISTINCT FROM 'distributed' THEN
		RETURN 0;		-- not a Citus source (a table of that name is not its queue)
	END IF;
	IF NOT pg_catalog.has_table_privilege(q, 'SELECT') THEN
		RETURN NULL;
	END IF;
	EXECUTE pg_catalog.format('SELECT count(DISTINCT customer_key) FROM %s', q) INTO n;
	RETURN n;
END
$fn$;

-- clm.unregister_as: drop the triggers and the change queue of a
-- source over a Citus table, with the source owner's rights; false
-- (nothing done) for other sources
CREATE FUNCTION @extschema@.citus_unregister_queue(src @extschema@.sources) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
	q regclass := pg_catalog.to_regclass(@extschema@.citus_queue_name(src));
	unsafe text := current_setting('citus.enable_unsafe_triggers', true);
	op text;
BEGIN
	IF @extschema@.citus_table_type(src.events) IS NULL THEN
		RETURN false;
	END IF;
	PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
	FOREACH op IN ARRAY ARRAY['insert', 'update', 'delete', 'truncate'] LOOP
		PERFORM FROM @extschema@.run_as(src.owner, pg_catalog.format('DROP TRIGGER IF EXISTS %I ON %s',
			'clm_' || src.name || '_' || op, src.events)) AS x(n integer);
	END LOOP;
	PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', coalesce(unsafe, 'off'), true);
	IF q IS NOT NULL THEN
		PERFORM FROM @extschema@.run_as(src.owner, pg_catalog.format('DROP TABLE %s', q)) AS x(n integer);
	END IF;
	RETURN true;
END
$fn$;

-- ======================================================================
-- comments and grants
-- ======================================================================

COMMENT ON FUNCTION @extschema@.citus_table_type(regclass) IS
'Citus table type of a relation: distributed, reference, single shard or citus local; NULL for an ordinary table or when Citus is not installed (clm.track and incremental clm.register refuse Citus tables)';

COMMENT ON FUNCTION @extschema@.citus_queue_name(@extschema@.sources) IS
'Change queue of an incremental source over a distributed events table: clm_<source>_changes in the events table''s schema, quoted and qualified';

COMMENT ON FUNCTION @extschema@.queue_changes_row() IS
'Row trigger installed by clm.register on a distributed events table: queues the customer of each changed row in the co-located change queue (runs on the shards, with the writer''s rights)';

COMMENT ON FUNCTION @extschema@.citus_register_queue(regrole, @extschema@.sources) IS
'Used by clm.register_as for an incremental source over a Citus table: refuses all but tables distributed by the customer column, creates the co-located change queue (INSERT granted to the events'' owner and writers), the row triggers and the TRUNCATE trigger';

COMMENT ON FUNCTION @extschema@.citus_drain_queue(@extschema@.sources) IS
'Used by clm.refresh_start: moves the customers queued on the workers into clm.refresh_queue; returns the rows moved (0 for other sources)';

COMMENT ON FUNCTION @extschema@.citus_pending(@extschema@.sources) IS
'Used by clm.worker_status: customers queued on the workers for a source over a Citus table (0 for other sources, NULL if the caller may not read the queue)';

COMMENT ON FUNCTION @extschema@.citus_unregister_queue(@extschema@.sources) IS
'Used by clm.unregister_as: drops the triggers and the change queue of a source over a Citus table; false for other sources';

REVOKE EXECUTE ON FUNCTION @extschema@.citus_register_queue(regrole, @extschema@.sources),
	@extschema@.citus_drain_queue(@extschema@.sources),
	@extschema@.citus_unregister_queue(@extschema@.sources) FROM PUBLIC;
