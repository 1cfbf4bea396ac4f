/*-------------------------------------------------------------------------
 *
 * varstate.h
 *	  The stored forms of clm's aggregate states, in one place: the text
 *	  form convention, the headers of serialized states, and the errors
 *	  that reject a corrupt state.  Every state type uses these helpers.
 *
 * The convention (also in README, "Developing"):
 *
 * Real state types (varlena base types with in/out/send/recv; Citus ships
 * partial states through the text form, so text and binary carry the same
 * checked content):
 *	  clm.km, clm.subscriptions, clm.model_rows  text = "\x" + the
 *			hexadecimal image of the binary (send/recv) form
 *			(clm_state_hex_out / clm_state_hex_in)
 *	  clm.activity  text = the hexadecimal digits of the flat form (no "\x");
 *			binary = the flat form itself
 *	  clm.clv_state  text = "kind;penalizer;rows;x,tx,T,w;..." with doubles
 *			in their shortest exact form (readable, round-trips exactly);
 *			binary = version, kind, penalizer, rows, patterns
 *	Every binary and flat form starts with a format version byte (so do
 *	the hexadecimal text forms, which are images of them; clm.clv_state's
 *	readable text form has none: a new layout would need a new kind
 *	prefix), and a value of an unknown version is rejected, never guessed
 *	at.  Input is validated
 *	completely before it is used.  Text that does not parse is 22P02
 *	(invalid_text_representation, "invalid input syntax for type <type>").
 *	A value that parses but is inconsistent is rejected with
 *	clm_state_invalid: "invalid <type> value" and a detail saying what is
 *	wrong, SQLSTATE 22P03 (invalid_binary_representation) for clm.km,
 *	clm.subscriptions and clm.model_rows (text or binary input:
 *	clm_state_corrupt) and for
 *	clm.activity's binary input, 22P02 for clm.activity's text input, and
 *	XX001 (data_corrupted) when an aggregate or accessor finds a stored
 *	value corrupt.  clm.clv_state's binary input says "invalid binary
 *	clm.clv_state value" (22P03, as in 1.0), and its patterns are checked
 *	as the fit aggregates check a customer's summary (clv_check_summary:
 *	same messages, 22023).
 *
 * Internal per-customer states (STYPE internal, serialize/deserialize for
 * parallel aggregation: clm.rfm_summary, clm.calibration_holdout) start
 * with clm_state_send_header (version, period unit, time unit); a
 * serialized state that fails a check is rejected with
 * clm_state_invalid_internal: "invalid <name> state", 22P03.  Array states
 * (sBG's bigint[], which a user can pass by hand) are rejected the same
 * way with 22023 (invalid_parameter_value).
 *
 * IDENTIFICATION
 *	  src/varstate.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLM_VARSTATE_H
#define CLM_VARSTATE_H

#include "postgres.h"
#include "lib/stringinfo.h"

#include "period.h"

/* text form of the hex-image types */
extern char *clm_state_hex_out(StringInfo bin);
extern void clm_state_hex_in(const char *str, StringInfo bin, const char *typname);

/* "invalid <typname> value" with SQLSTATE sqlstate; detail may be NULL */
extern void clm_state_invalid(int sqlstate, const char *typname, const char *detail) pg_attribute_noreturn();
/* the same from binary input: 22P03 */
extern void clm_state_corrupt(const char *typname, const char *detail) pg_attribute_noreturn();
/* "invalid <name> state" of an internal or array state; detail may be NULL */
extern void clm_state_invalid_internal(int sqlstate, const char *name, const char *detail) pg_attribute_noreturn();

/* header of a serialized per-customer state: version, period and time unit */
extern void clm_state_send_header(StringInfo buf, int version, ClmPeriodUnit period,
								  ClmPeriodUnit unit);
extern void clm_state_read_header(bytea *b, StringInfo buf, int version, const char *what,
								  ClmPeriodUnit *period, ClmPeriodUnit *unit);

#endif							/* CLM_VARSTATE_H */
