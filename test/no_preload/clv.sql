-- pgTAP, without shared_preload_libraries: the CLV fits (expanded-object
-- state) and scoring work when clm is loaded on first use.
\set ON_ERROR_STOP true
SET client_min_messages = error;
BEGIN;
SELECT plan(3);
SELECT is(
	(SELECT (clm.bgbb_fit(frequency, recency, 6, weights)).converged
	 FROM (VALUES (0, 0, 3464), (1, 1, 1091), (1, 2, 277), (2, 2, 646), (2, 5, 266), (3, 6, 530),
	              (6, 6, 1203), (4, 6, 426), (5, 6, 551), (1, 6, 81), (3, 4, 141)) v(frequency, recency, weights)),
	true, 'a BG/BB fit converges when clm is loaded on demand');
SELECT is(
	round(clm.p_alive(ROW(1, 1, 1, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd, 1, 1, 3)::numeric, 6),
	0.2, 'scoring works when clm is loaded on demand');
SELECT is(
	(clm.bgnbd_final('bgnbd;0;3;0,0,38.86,1;2,30.43,38.86,1;1,1.71,38.86,1'::clm.clv_state)).patterns,
	3, 'a stored clv_state can be fitted');
SELECT * FROM finish();
ROLLBACK;
