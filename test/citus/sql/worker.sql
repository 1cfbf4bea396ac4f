-- The clm background worker refreshes an incremental source over a
-- distributed events table like one over a local copy.  scripts/lib-citus.sh sets
-- clm.database = 'clm_citus_worker' and clm.naptime = 1 on every node; the
-- worker runs on the coordinator, where the sources are.  Waits are bounded
-- polls (at most 60 s).
\c clm_citus_worker
SET timezone = 'UTC';
CREATE FUNCTION wait_for(cond text, timeout_s float8 DEFAULT 60) RETURNS boolean
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
		PERFORM pg_sleep(0.1);
	END LOOP;
END
$$;
-- 500 customers, purchases every 11 days from a customer-dependent start
CREATE TABLE w_local AS
SELECT c AS customer, timestamptz '2024-01-01' + ((c * 7) % 90) * interval '1 day' + n * interval '11 days' AS at,
       (c % 13 + n)::float8 AS amount
FROM generate_series(1, 500) c, generate_series(0, 20) n WHERE n <= c % 17;
CREATE INDEX ON w_local (customer);
CREATE TABLE w_dist (LIKE w_local);
SELECT create_distributed_table('w_dist', 'customer');
INSERT INTO w_dist SELECT * FROM w_local;
CREATE INDEX ON w_dist (customer);
SELECT count(*) AS events, count(DISTINCT customer) AS customers FROM w_dist;
SELECT name FROM clm.register('w_dist', 'w_dist', 'customer', 'at', 'amount', refresh_interval => '1 second');
SELECT name FROM clm.register('w_local', 'w_local', 'customer', 'at', 'amount', refresh_interval => '1 second');
SELECT wait_for($$(SELECT count(DISTINCT source) FROM clm.refresh_runs WHERE status = 'ok' AND by_worker) = 2$$);
SELECT source, mode, rows, error FROM clm.refresh_runs WHERE by_worker ORDER BY id LIMIT 2;
-- the worker's runs score as of their own time: compare what does not depend on it
SELECT count(*) AS customers,
	count(*) FILTER (WHERE row(d.frequency, d.monetary, d.total, d.first_at, d.last_at, d.f_score, d.m_score)
		IS DISTINCT FROM row(l.frequency, l.monetary, l.total, l.first_at, l.last_at, l.f_score, l.m_score)) AS differ
FROM (SELECT * FROM clm.scores WHERE source = 'w_dist') d
FULL JOIN (SELECT * FROM clm.scores WHERE source = 'w_local') l USING (customer_key);
-- a new customer reaches both sources through the worker alone, by
-- incremental runs (the distributed source's change queue is on the workers)
INSERT INTO w_dist VALUES (501, '2024-06-01', 10), (501, '2024-06-15', 30);
INSERT INTO w_local VALUES (501, '2024-06-01', 10), (501, '2024-06-15', 30);
SELECT wait_for($$(SELECT count(*) FROM clm.scores WHERE customer_key = '501') = 2$$);
SELECT s.source, s.frequency, s.total, r.mode, r.rows FROM clm.scores s JOIN clm.refresh_runs r ON r.id = s.run_id
WHERE s.customer_key = '501' ORDER BY s.source;
SELECT clm.unregister('w_dist'), clm.unregister('w_local');
