-- Shared by bench/stages.sh and bench/stages_ir.sh: the history tables of the
-- hand-written variants (the columns and indexes of clm.stage_history) and the
-- plpgsql trigger doing what clm's C trigger does (skip unchanged rows, check
-- the stage against the model, insert the history row).
CREATE TABLE hist_floor (LIKE clm.stage_history INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
CREATE TABLE hist_plpgsql (LIKE clm.stage_history INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
CREATE FUNCTION plpgsql_stage_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.stage IS NOT DISTINCT FROM OLD.stage THEN
		RETURN NULL;
	END IF;
	IF NEW.stage IS NOT NULL AND NOT EXISTS
		(SELECT 1 FROM clm.stage s WHERE s.model = 'acquisition_churn' AND s.stage = NEW.stage) THEN
		RAISE EXCEPTION 'stage "%" is not in model "acquisition_churn"', NEW.stage USING ERRCODE = '23514';
	END IF;
	INSERT INTO hist_plpgsql (table_oid, customer_key, model, from_stage, to_stage, changed_at, xid, changed_by, source)
	VALUES (TG_RELID, NEW.id::text, 'acquisition_churn', OLD.stage, NEW.stage, now(), pg_current_xact_id(), current_user, 'trigger');
	RETURN NULL;
END $$;
