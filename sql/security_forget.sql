-- Issue #13, erasure on request: clm.forget(customer_key) erases a customer
-- from the clm tables of the objects the caller owns, logs what it erased
-- without the key, and is the only way to delete history rows
\set VERBOSITY terse
SET timezone = 'UTC';
CREATE ROLE clm_sec_fa;
CREATE ROLE clm_sec_fb;
CREATE SCHEMA clm_sec_fa AUTHORIZATION clm_sec_fa;
CREATE SCHEMA clm_sec_fb AUTHORIZATION clm_sec_fb;
SET ROLE clm_sec_fa;
CREATE TABLE clm_sec_fa.customers (id bigint PRIMARY KEY, stage text);
SELECT clm.track('clm_sec_fa.customers', 'id', 'stage', 'behavioral');
INSERT INTO clm_sec_fa.customers VALUES (1, 'new'), (2, 'new'), (3, 'new');
UPDATE clm_sec_fa.customers SET stage = 'active' WHERE id IN (2, 3);
CREATE TABLE clm_sec_fa.events (customer bigint, at timestamptz, amount float8);
INSERT INTO clm_sec_fa.events VALUES (1, '2026-01-01', 10), (2, '2026-01-02', 20), (2, '2026-02-02', 20), (3, '2026-01-05', 5);
SELECT name FROM clm.register('sec_fa', 'clm_sec_fa.events', 'customer', 'at', 'amount');
SELECT mode, rows, status FROM clm.refresh('sec_fa', true, '2026-03-01');
-- a change queued for customer 2, not yet scored
INSERT INTO clm_sec_fa.events VALUES (2, '2026-02-20', 1);
-- fb has a table with a customer 2 of its own
SET ROLE clm_sec_fb;
CREATE TABLE clm_sec_fb.customers (id bigint PRIMARY KEY, stage text);
SELECT clm.track('clm_sec_fb.customers', 'id', 'stage', 'behavioral');
INSERT INTO clm_sec_fb.customers VALUES (2, 'new');

-- the history rows can only be erased by clm.forget
SET ROLE clm_sec_fa;
SELECT error_of($$DELETE FROM clm.stage_history WHERE customer_key = '2'$$) AS delete_history;
SELECT error_of($$DELETE FROM clm.scores WHERE customer_key = '2'$$) AS delete_scores;
SELECT error_of($$SELECT clm.forget(NULL)$$) AS forget_null;
-- customer 2: two history rows (new, active), one score, one queued change
SELECT * FROM clm.forget('2');
SELECT customer_key, to_stage FROM clm.stage_history
WHERE table_oid = 'clm_sec_fa.customers'::regclass ORDER BY 1, id;
SELECT customer_key FROM clm.scores WHERE source = 'sec_fa' ORDER BY 1;
SELECT count(*) AS queued_2 FROM clm.refresh_queue WHERE source = 'sec_fa' AND customer_key = '2';
-- the log: object, rows, role, time; no key
SELECT object, rows_erased, erased_by, erased_at <= now() AS logged FROM clm.erasure_log ORDER BY id;
SELECT count(*) AS columns_with_keys FROM information_schema.columns
WHERE table_schema = 'clm' AND table_name = 'erasure_log' AND column_name LIKE '%key%';
-- the caller's own tables stay the caller's to erase
SELECT count(*) AS own_rows_kept FROM clm_sec_fa.customers WHERE id = 2;
-- fb's customer 2 is not fa's: untouched, and fb sees only its own log
SET ROLE clm_sec_fb;
SELECT customer_key, to_stage FROM clm.stage_history ORDER BY 1;
SELECT count(*) AS fb_log FROM clm.erasure_log;
SELECT * FROM clm.forget('2');
SELECT count(*) AS fb_history_2 FROM clm.stage_history WHERE customer_key = '2';
-- a customer with no rows: each owned object reports 0
SET ROLE clm_sec_fa;
SELECT * FROM clm.forget('no such customer');

RESET ROLE;
SET ROLE clm_sec_fa;
SELECT clm.unregister('sec_fa');
SELECT clm.untrack('clm_sec_fa.customers');
SET ROLE clm_sec_fb;
SELECT clm.untrack('clm_sec_fb.customers');
RESET ROLE;
DROP SCHEMA clm_sec_fa, clm_sec_fb CASCADE;
DELETE FROM clm.erasure_log;
DROP ROLE clm_sec_fa, clm_sec_fb;
