-- test/t/catalog.sql: one row per catalog fact of the clm extension, with
-- names instead of OIDs, so that two databases can be compared with diff
-- (test/t/001_upgrade.pl: an upgraded 1.0 against a fresh install).
-- Covers member objects, function definitions and labels, aggregates, types,
-- tables (columns, defaults, constraints, indexes, triggers, policies, RLS),
-- views, sequences, comments, privileges and the extension's dump config.
WITH m AS (
	SELECT d.classid, d.objid
	FROM pg_catalog.pg_depend d
	JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'clm'
	WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND d.deptype = 'e'
), facts(f) AS (
	-- every member object
	SELECT 'member ' || pg_catalog.pg_describe_object(m.classid, m.objid, 0) FROM m
	UNION ALL
	-- functions: definition and labels
	SELECT 'function ' || p.oid::pg_catalog.regprocedure::text || E'\n' ||
		CASE WHEN p.prokind = 'a' THEN 'aggregate'
		     ELSE pg_catalog.pg_get_functiondef(p.oid) END ||
		E'\nvolatile=' || p.provolatile::text || ' strict=' || p.proisstrict || ' parallel=' || p.proparallel::text ||
		' secdef=' || p.prosecdef || ' leakproof=' || p.proleakproof || ' cost=' || p.procost ||
		' rows=' || p.prorows || ' config=' || coalesce(p.proconfig::text, '') ||
		' acl=' || coalesce(p.proacl::text, 'default') ||
		' owner_is_ext_owner=' || (p.proowner = e.extowner)::text
	FROM pg_catalog.pg_proc p, pg_catalog.pg_extension e
	WHERE e.extname = 'clm' AND p.oid IN (SELECT objid FROM m WHERE classid = 'pg_catalog.pg_proc'::pg_catalog.regclass)
	UNION ALL
	-- aggregates
	SELECT 'aggregate ' || a.aggfnoid::pg_catalog.regprocedure::text || ' kind=' || a.aggkind::text ||
		' sfunc=' || a.aggtransfn::text || ' stype=' || pg_catalog.format_type(a.aggtranstype, NULL) ||
		' sspace=' || a.aggtransspace || ' final=' || a.aggfinalfn::text || ' finalextra=' || a.aggfinalextra ||
		' finalmodify=' || a.aggfinalmodify::text || ' combine=' || a.aggcombinefn::text ||
		' serial=' || a.aggserialfn::text || ' deserial=' || a.aggdeserialfn::text ||
		' msfunc=' || a.aggmtransfn::text || ' init=' || coalesce(a.agginitval, '<null>') ||
		' sortop=' || a.aggsortop::pg_catalog.regoperator::text
	FROM pg_catalog.pg_aggregate a
	WHERE a.aggfnoid IN (SELECT objid FROM m WHERE classid = 'pg_catalog.pg_proc'::pg_catalog.regclass)
	UNION ALL
	-- types
	SELECT 'type ' || t.oid::pg_catalog.regtype::text || ' kind=' || t.typtype::text || ' len=' || t.typlen ||
		' align=' || t.typalign::text || ' storage=' || t.typstorage::text || ' in=' || t.typinput::text ||
		' out=' || t.typoutput::text || ' recv=' || t.typreceive::text || ' send=' || t.typsend::text ||
		' acl=' || coalesce(t.typacl::text, 'default')
	FROM pg_catalog.pg_type t
	WHERE t.oid IN (SELECT objid FROM m WHERE classid = 'pg_catalog.pg_type'::pg_catalog.regclass)
	UNION ALL
	-- relations: kind, options, RLS, privileges
	SELECT 'relation ' || c.oid::pg_catalog.regclass::text || ' kind=' || c.relkind::text ||
		' persistence=' || c.relpersistence::text || ' rls=' || c.relrowsecurity || ' forcerls=' || c.relforcerowsecurity ||
		' options=' || coalesce(c.reloptions::text, '') || ' acl=' || coalesce(c.relacl::text, 'default')
	FROM pg_catalog.pg_class c
	WHERE c.oid IN (SELECT objid FROM m WHERE classid = 'pg_catalog.pg_class'::pg_catalog.regclass)
	UNION ALL
	-- columns (of relations and composite types) with defaults, in order
	SELECT 'column ' || c.oid::pg_catalog.regclass::text || '.' || a.attname ||
		' #' || pg_catalog.row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum) ||
		' ' || pg_catalog.format_type(a.atttypid, a.atttypmod) || ' notnull=' || a.attnotnull ||
		' identity=' || a.attidentity::text || ' generated=' || a.attgenerated::text ||
		' default=' || coalesce(pg_catalog.pg_get_expr(ad.adbin, ad.adrelid), '') ||
		' acl=' || coalesce(a.attacl::text, 'default')
	FROM pg_catalog.pg_class c
	JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
	LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
	WHERE c.oid IN (SELECT objid FROM m WHERE classid = 'pg_catalog.pg_class'::pg_catalog.regclass)
	   OR c.oid IN (SELECT t.typrelid FROM pg_catalog.pg_type t
	                WHERE t.oid IN (SELECT objid FROM m WHERE classid = 'pg_catalog.pg_type'::pg_catalog.regclass))
	UNION ALL
	SELECT 'constraint ' || co.conrelid::pg_catalog.regclass::text || ' ' || co.conname || ' ' ||
		pg_catalog.pg_get_constraintdef(co.oid)
	FROM pg_catalog.pg_constraint co
	WHERE co.conrelid IN (SELECT objid FROM m WHERE classid = 'pg_catalog.pg_class'::pg_catalog.regclass)
	UNION ALL
	SELECT 'index ' || pg_catalog.pg_get_indexdef(i.indexrelid)
	FROM pg_catalog.pg_index i
	WHERE i.indrelid IN (SELECT objid FROM m WHERE classid = 'pg_catalog.pg_class'::pg_catalog.regclass)
	UNION ALL
	SELECT 'trigger ' || pg_catalog.pg_get_triggerdef(tg.oid) || ' enabled=' || tg.tgenabled::text
	FROM pg_catalog.pg_trigger tg
	WHERE tg.tgrelid IN (SELECT objid FROM m WHERE classid = 'pg_catalog.pg_class'::pg_catalog.regclass)
	  AND NOT tg.tgisinternal
	UNION ALL
	SELECT 'policy ' || po.schemaname || '.' || po.tablename || ' ' || po.policyname || ' ' || po.permissive ||
		' roles=' || po.roles::text || ' cmd=' || po.cmd || ' using=' || coalesce(po.qual, '') ||
		' check=' || coalesce(po.with_check, '')
	FROM pg_catalog.pg_policies po WHERE po.schemaname = 'clm'
	UNION ALL
	SELECT 'view ' || c.oid::pg_catalog.regclass::text || E'\n' || pg_catalog.pg_get_viewdef(c.oid)
	FROM pg_catalog.pg_class c
	WHERE c.relkind IN ('v', 'm') AND c.oid IN (SELECT objid FROM m WHERE classid = 'pg_catalog.pg_class'::pg_catalog.regclass)
	UNION ALL
	SELECT 'sequence ' || s.seqrelid::pg_catalog.regclass::text || ' ' || pg_catalog.format_type(s.seqtypid, NULL) ||
		' start=' || s.seqstart || ' inc=' || s.seqincrement || ' max=' || s.seqmax || ' min=' || s.seqmin ||
		' cache=' || s.seqcache || ' cycle=' || s.seqcycle
	FROM pg_catalog.pg_sequence s
	WHERE s.seqrelid IN (SELECT objid FROM m WHERE classid = 'pg_catalog.pg_class'::pg_catalog.regclass)
	UNION ALL
	-- comments on every member object and on table / type columns
	SELECT 'comment ' || pg_catalog.pg_describe_object(d.classoid, d.objoid, d.objsubid) || ': ' || d.description
	FROM pg_catalog.pg_description d
	WHERE (d.classoid, d.objoid) IN (SELECT classid, objid FROM m)
	   OR (d.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objoid IN (
	        SELECT t.typrelid FROM pg_catalog.pg_type t
	        WHERE t.oid IN (SELECT objid FROM m WHERE classid = 'pg_catalog.pg_type'::pg_catalog.regclass)))
	UNION ALL
	SELECT 'schema ' || n.nspname || ' acl=' || coalesce(n.nspacl::text, 'default') || ' comment=' ||
		coalesce(pg_catalog.obj_description(n.oid, 'pg_namespace'), '')
	FROM pg_catalog.pg_namespace n WHERE n.nspname = 'clm'
	UNION ALL
	SELECT 'event trigger ' || et.evtname || ' ' || et.evtevent || ' ' || et.evtfoid::pg_catalog.regprocedure::text ||
		' tags=' || coalesce(et.evttags::text, '') || ' enabled=' || et.evtenabled::text
	FROM pg_catalog.pg_event_trigger et
	WHERE et.oid IN (SELECT objid FROM m WHERE classid = 'pg_catalog.pg_event_trigger'::pg_catalog.regclass)
	UNION ALL
	SELECT 'dump config ' || cfg::pg_catalog.regclass::text || ' ' || coalesce(cond, '<null>')
	FROM pg_catalog.pg_extension e,
	     LATERAL ROWS FROM (pg_catalog.unnest(e.extconfig), pg_catalog.unnest(e.extcondition)) AS x(cfg, cond)
	WHERE e.extname = 'clm'
)
SELECT f FROM facts ORDER BY f COLLATE "C";
