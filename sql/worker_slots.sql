-- The launcher keeps a slot per database whose worker it started (at most
-- 16 workers at once).  Slots were never freed: once 16 different databases
-- had been served (one listed database dropped and created again 16 times,
-- or clm.database changed over time), no new database was ever served ("is
-- skipped" in the server log).  Here 16 databases are served, then a 17th
-- alone; each has a source the worker refreshes (never scored: due at once).
SET client_min_messages = warning;
DROP DATABASE IF EXISTS clm_slot_tpl WITH (FORCE);
SELECT format('DROP DATABASE IF EXISTS clm_slot_%s WITH (FORCE)', i) FROM generate_series(1, 17) i \gexec
CREATE DATABASE clm_slot_tpl;
\c clm_slot_tpl
SET client_min_messages = warning;
CREATE EXTENSION clm;
CREATE TABLE ev (customer int, at timestamptz, amount float8);
INSERT INTO ev VALUES (1, '2024-01-01', 10), (1, '2024-01-05', 20), (2, '2024-01-02', 5);
SELECT name FROM clm.register('slot', 'ev', 'customer', 'at', 'amount', incremental => false);
\c contrib_regression
SET client_min_messages = warning;
SELECT format('CREATE DATABASE clm_slot_%s TEMPLATE clm_slot_tpl', i) FROM generate_series(1, 17) i \gexec
CREATE EXTENSION IF NOT EXISTS dblink;
-- runs of the worker in database db, read through dblink
CREATE FUNCTION slot_runs(db text) RETURNS bigint LANGUAGE sql AS $$
	SELECT n FROM dblink(format('host=%s port=%s dbname=%s', current_setting('unix_socket_directories'),
		current_setting('port'), db), 'SELECT count(*) FROM clm.refresh_runs WHERE by_worker AND status = ''ok''') t(n bigint)
$$;
CREATE FUNCTION slot_wait(cond text, timeout_s float8 DEFAULT 30) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz := clock_timestamp();
	ok boolean;
BEGIN
	LOOP
		EXECUTE 'SELECT (' || cond || ')' INTO ok;
		IF ok THEN
			RETURN true;
		END IF;
		IF clock_timestamp() - t0 > timeout_s * interval '1 second' THEN
			RAISE WARNING 'timed out waiting for %', cond;
			RETURN false;
		END IF;
		PERFORM pg_sleep(0.2);
	END LOOP;
END
$$;
-- 16 databases in two groups of 8 (the test cluster has room for 14 workers
-- at once: max_worker_processes 16, less the launcher and the logical
-- replication launcher), then a 17th
SELECT format('ALTER SYSTEM SET clm.database = %L', string_agg('clm_slot_' || i, ',' ORDER BY i))
FROM generate_series(1, 8) i \gexec
SELECT pg_reload_conf();
SELECT slot_wait($$(SELECT count(*) FROM generate_series(1, 8) i WHERE slot_runs('clm_slot_' || i) > 0) = 8$$);
SELECT format('ALTER SYSTEM SET clm.database = %L', string_agg('clm_slot_' || i, ',' ORDER BY i))
FROM generate_series(9, 16) i \gexec
SELECT pg_reload_conf();
SELECT slot_wait($$(SELECT count(*) FROM generate_series(9, 16) i WHERE slot_runs('clm_slot_' || i) > 0) = 8$$);
-- then a 17th alone: it gets a slot whose worker has ended
ALTER SYSTEM SET clm.database = 'clm_slot_17';
SELECT pg_reload_conf();
SELECT slot_wait($$slot_runs('clm_slot_17') > 0$$);
SELECT slot_runs('clm_slot_17') > 0 AS served;

ALTER SYSTEM RESET clm.database;
SELECT pg_reload_conf();
DROP FUNCTION slot_wait(text, float8);
DROP FUNCTION slot_runs(text);
SELECT format('DROP DATABASE clm_slot_%s WITH (FORCE)', i) FROM generate_series(1, 17) i \gexec
DROP DATABASE clm_slot_tpl WITH (FORCE);
