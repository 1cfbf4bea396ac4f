-- pgTAP: catalog labels of the churn models and evaluation aggregates, a
-- hand-checked value each, error codes
\set ON_ERROR_STOP true
SET client_min_messages = warning;
BEGIN;
SELECT plan(13);

SELECT has_type('clm', 'model_rows', 'state type clm.model_rows exists');
SELECT has_type('clm', 'logit', 'composite type clm.logit exists');
SELECT has_type('clm', 'coxph', 'composite type clm.coxph exists');
SELECT is(
	(SELECT t.typinput::text || ' ' || t.typoutput::text || ' ' || t.typreceive::text || ' ' || t.typsend::text
	 FROM pg_type t WHERE t.oid = 'clm.model_rows'::regtype),
	'clm.model_rows_in clm.model_rows_out clm.model_rows_recv clm.model_rows_send',
	'model_rows has text and binary I/O');
-- cross-customer aggregates use real state types with a combine function (Citus, parallel)
SELECT is(
	(SELECT array_agg(aggfnoid::regprocedure::text || ':' || aggtranstype::regtype::text || ':' || aggcombinefn::text
	                  || ':' || aggfinalmodify::text ORDER BY aggfnoid::regprocedure::text)
	 FROM pg_aggregate
	 WHERE aggfnoid::regproc::text IN ('clm.logit_fit', 'clm.coxph_fit', 'clm.auc', 'clm.concordance', 'clm.brier', 'clm.gains_agg')),
	ARRAY['clm.auc(double precision,boolean):clm.model_rows:clm.model_rows_combine:r',
	      'clm.brier(double precision,boolean):double precision[]:clm.brier_combine:r',
	      'clm.concordance(double precision,boolean,double precision):clm.model_rows:clm.model_rows_combine:r',
	      'clm.coxph_fit(double precision,boolean,double precision[]):clm.model_rows:clm.model_rows_combine:w',
	      'clm.coxph_fit(double precision,boolean,double precision[],text):clm.model_rows:clm.model_rows_combine:w',
	      'clm.gains_agg(double precision,boolean):clm.model_rows:clm.model_rows_combine:r',
	      'clm.logit_fit(boolean,double precision[]):clm.model_rows:clm.model_rows_combine:r',
	      'clm.logit_fit(boolean,double precision[],double precision):clm.model_rows:clm.model_rows_combine:r',
	      'clm.logit_fit(boolean,double precision[],double precision,double precision):clm.model_rows:clm.model_rows_combine:r'],
	'real state types, a combine function each; coxph_fit sorts its state in its final function (READ_WRITE)');
SELECT is(
	(SELECT array_agg(DISTINCT provolatile::text || proparallel::text) FROM pg_proc WHERE pronamespace = 'clm'::regnamespace
	   AND (proname LIKE 'logit%' OR proname LIKE 'coxph%' OR proname LIKE 'model_rows%' OR proname LIKE 'brier%'
	        OR proname LIKE 'gains%' OR proname LIKE 'auc%' OR proname LIKE 'concordance%' OR proname = 'score_accum')),
	ARRAY['is'], 'every function is IMMUTABLE PARALLEL SAFE');
SELECT is(
	(SELECT array_agg(proname::text || ':' || proisstrict ORDER BY proname)
	 FROM pg_proc WHERE pronamespace = 'clm'::regnamespace
	   AND proname IN ('logit_predict', 'coxph_risk', 'coxph_survival', 'gains')),
	ARRAY['coxph_risk:true', 'coxph_survival:true', 'gains:true', 'logit_predict:true'],
	'model functions are STRICT');
-- values by hand
SELECT is(
	(SELECT clm.auc(s, l) FROM (VALUES (0.1, false), (0.4, false), (0.35, true), (0.8, true)) v(s, l)),
	0.75::float8, 'AUC: 3 of 4 pairs ordered');
SELECT is(
	(SELECT round(clm.brier(p, l)::numeric, 12) FROM (VALUES (0.1, false), (0.9, true), (0.8, false)) v(p, l)),
	0.22, 'Brier: (0.01 + 0.01 + 0.64) / 3');
SELECT is(
	(SELECT round((clm.logit_fit(l, ARRAY[]::float8[])).coef[1]::numeric, 12)
	 FROM (VALUES (true), (false), (false), (false)) v(l)),
	round(ln(1 / 3.0), 12), 'intercept-only logit: log odds of 1/4');
-- errors
SELECT throws_ok($$SELECT clm.logit_fit(true, ARRAY['NaN']::float8[])$$, '22023', NULL, 'NaN feature');
SELECT throws_ok($$SELECT clm.coxph_fit(d, true, CASE WHEN d = 1 THEN ARRAY[1]::float8[] ELSE ARRAY[1, 2]::float8[] END)
                   FROM generate_series(1, 3) d$$, '2202E', NULL, 'features of different lengths');
SELECT throws_ok($$SELECT clm.coxph_fit(-1, true, ARRAY[1]::float8[])$$, '22023', NULL, 'negative duration');

SELECT * FROM finish();
ROLLBACK;
