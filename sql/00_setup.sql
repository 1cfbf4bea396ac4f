-- Helpers shared by the regression tests (pg_regress runs the files in order
-- in one database).  error_of(sql) runs a statement and returns the SQLSTATE
-- and message it raised, so each test states the exact error code.
CREATE FUNCTION public.error_of(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE stmt;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
-- recv_of(bytes, type) hands the bytes to the type's binary input function
-- (through COPY ... FORMAT binary, the way to reach it from SQL) and returns
-- error_of's 'SQLSTATE: message', or 'ok: ' and the received value's text.
CREATE FUNCTION public.recv_of(b bytea, typ regtype) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	f text := '/tmp/clm_recv_' || pg_backend_pid() || '.bin';
	dst text := 'recv_of_dst_' || typ::oid;
	r text;
BEGIN
	IF to_regclass('pg_temp.recv_of_src') IS NULL THEN
		CREATE TEMP TABLE recv_of_src (b bytea);
	END IF;
	IF to_regclass('pg_temp.' || dst) IS NULL THEN
		EXECUTE format('CREATE TEMP TABLE %I (v %s)', dst, typ);
	END IF;
	EXECUTE format('TRUNCATE recv_of_src, %I', dst);
	INSERT INTO recv_of_src VALUES (b);
	EXECUTE format('COPY recv_of_src TO %L (FORMAT binary)', f);
	r := error_of(format('COPY %I FROM %L (FORMAT binary)', dst, f));
	IF r = 'no error' THEN
		EXECUTE format('SELECT ''ok: '' || v::text FROM %I', dst) INTO r;
	END IF;
	RETURN r;
END
$$;
-- the extension is installed by pg_regress (--load-extension=clm)
SELECT extname, extversion, extrelocatable, nspname
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE extname = 'clm';
-- every clm function, aggregate and type has a comment
SELECT p.oid::regprocedure AS missing_comment
FROM pg_proc p
WHERE p.pronamespace = 'clm'::regnamespace
  AND obj_description(p.oid, 'pg_proc') IS NULL;
SELECT t.oid::regtype AS missing_comment
FROM pg_type t LEFT JOIN pg_class c ON c.oid = t.typrelid
WHERE t.typnamespace = 'clm'::regnamespace AND t.typcategory <> 'A'
  AND (c.oid IS NULL OR c.relkind = 'c')
  AND obj_description(t.oid, 'pg_type') IS NULL;
-- the settings exist
SELECT name, setting, context FROM pg_settings WHERE name LIKE 'clm.%' ORDER BY name;
