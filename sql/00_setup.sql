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
