-- Driver for scripts/valgrind (prints, does not assert): 960 corrupted text
-- forms of clm's state types (a digit changed, truncated, a byte removed or
-- inserted); each must be rejected with an error or accepted cleanly, and
-- valgrind checks the parsers' memory accesses.
--   CLM_PREFIX=/tmp/clm-prefix-x scripts/valgrind $PWD/scripts/vg/fuzz.sql
SET timezone = 'UTC';
SELECT setseed(0.25);
CREATE TABLE ev AS
SELECT (g % 40) AS customer, timestamptz '2020-01-01' + ((g * 7919) % 1500) * interval '1 day' AS at,
       ((g * 31) % 100)::float8 AS amount, 'k' || (g % 40) AS tkey
FROM generate_series(1, 3000) g;
CREATE TABLE good AS
SELECT 'clm.activity' AS typ, (SELECT clm.activity_agg(customer, at, 'week')::text FROM ev) AS v
UNION ALL SELECT 'clm.activity', (SELECT clm.activity_agg(tkey, at, 'day')::text FROM ev)
UNION ALL SELECT 'clm.km', (SELECT clm.km_agg(amount, customer % 2 = 0)::text FROM ev)
UNION ALL SELECT 'clm.subscriptions', (SELECT clm.subscriptions_agg(customer, at, at + interval '9 days', amount)::text FROM ev)
UNION ALL SELECT 'clm.clv_state', 'bgnbd;0;4;0,0,38.86,1;2,30.43,38.86,1;1,1.71,38.86,1;0,0,38.86,1';
SELECT typ, length(v) FROM good ORDER BY 1, 2;
CREATE FUNCTION try(typ text, v text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
	EXECUTE format('SELECT length($1::%s::text)::text', typ) INTO r USING v;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END $$;
CREATE FUNCTION mutate(v text, kind int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	n int := length(v);
	p int := 3 + floor(random() * greatest(n - 2, 1))::int;
	hex text := '0123456789abcdef';
BEGIN
	IF kind = 0 THEN   -- one hex digit changed
		RETURN overlay(v placing substr(hex, 1 + floor(random() * 16)::int, 1) from p for 1);
	ELSIF kind = 1 THEN   -- truncated (even length kept)
		RETURN left(v, 2 + 2 * floor(random() * (n - 2) / 2)::int);
	ELSIF kind = 2 THEN   -- a byte removed
		RETURN overlay(v placing '' from p - (p % 2) + 1 for 2);
	ELSE   -- a byte of ff/00/80 inserted
		RETURN overlay(v placing (ARRAY['ff', '00', '80', '7f'])[1 + floor(random() * 4)::int] from p - (p % 2) + 1 for 0);
	END IF;
END $$;
CREATE TABLE muts AS
SELECT typ, k, i, v, CASE WHEN typ = 'clm.clv_state'
                  THEN overlay(v placing substr('0123456789;,.-e', 1 + floor(random() * 15)::int, 1)
                               from 1 + floor(random() * length(v))::int for (k % 2))
                  ELSE mutate(v, k) END AS m
FROM good, generate_series(0, 3) k, generate_series(1, 60) i;
SELECT typ, k, count(DISTINCT m) AS distinct_mutants, count(*) FILTER (WHERE m = v) AS unchanged
FROM muts GROUP BY 1, 2 ORDER BY 1, 2;
SELECT typ, k, try(typ, m) AS r, count(*) FROM muts GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
