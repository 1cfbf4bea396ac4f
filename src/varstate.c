/*-------------------------------------------------------------------------
 *
 * varstate.c
 *	  The stored forms of clm's aggregate states: hexadecimal text form,
 *	  serialized-state headers, and the errors of corrupt states (the
 *	  convention is written down in varstate.h).
 *
 * IDENTIFICATION
 *	  src/varstate.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "libpq/pqformat.h"
#include "utils/builtins.h"

#include "varstate.h"

/*
 * Hexadecimal text of a binary state image ("\x..." like bytea).
 */
char *
clm_state_hex_out(StringInfo bin)
{
	char	   *out = palloc((Size) bin->len * 2 + 3);
	uint64		n;

	out[0] = '\\';
	out[1] = 'x';
	n = hex_encode(bin->data, bin->len, out + 2);
	out[2 + n] = '\0';
	return out;
}

/*
 * Decode the text form into a StringInfo ready for pq_getmsg* reads.
 */
void
clm_state_hex_in(const char *str, StringInfo bin, const char *typname)
{
	size_t		len = strlen(str);

	if (len < 2 || str[0] != '\\' || str[1] != 'x' || (len - 2) % 2 != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type %s", typname),
				 errdetail("A %s value is written as \\x followed by an even number of hexadecimal digits.",
						   typname)));
	initStringInfo(bin);
	enlargeStringInfo(bin, (int) ((len - 2) / 2 + 1));
	bin->len = (int) hex_decode(str + 2, len - 2, bin->data);
	bin->data[bin->len] = '\0';
	bin->cursor = 0;
}

/*
 * Reject a state value that fails a consistency check: "invalid <typname>
 * value", SQLSTATE sqlstate, with detail when not NULL.
 */
void
clm_state_invalid(int sqlstate, const char *typname, const char *detail)
{
	ereport(ERROR,
			(errcode(sqlstate),
			 errmsg("invalid %s value", typname),
			 detail ? errdetail("%s", detail) : 0));
}

/*
 * Report a state image from binary input that fails a consistency check.
 */
void
clm_state_corrupt(const char *typname, const char *detail)
{
	clm_state_invalid(ERRCODE_INVALID_BINARY_REPRESENTATION, typname, detail);
}

/*
 * Reject an internal (serialized) or array state that fails a check:
 * "invalid <name> state", SQLSTATE sqlstate, with detail when not NULL.
 */
void
clm_state_invalid_internal(int sqlstate, const char *name, const char *detail)
{
	ereport(ERROR,
			(errcode(sqlstate),
			 errmsg("invalid %s state", name),
			 detail ? errdetail("%s", detail) : 0));
}

/*
 * The header of the serialized per-customer states (clm.rfm_summary,
 * clm.calibration_holdout: parallel partial aggregation): a version byte,
 * then the period unit and the time unit.  Starts buf.
 */
void
clm_state_send_header(StringInfo buf, int version, ClmPeriodUnit period, ClmPeriodUnit unit)
{
	pq_begintypsend(buf);
	pq_sendbyte(buf, version);
	pq_sendbyte(buf, (int) period);
	pq_sendbyte(buf, (int) unit);
}

/*
 * Start reading a serialized per-customer state: point buf at the payload
 * of b and read its header, which must have this version and valid units
 * (ERRCODE_INVALID_BINARY_REPRESENTATION, naming "what", otherwise).
 */
void
clm_state_read_header(bytea *b, StringInfo buf, int version, const char *what,
					  ClmPeriodUnit *period, ClmPeriodUnit *unit)
{
	int			v,
				p,
				u;

	buf->data = VARDATA_ANY(b);
	buf->len = VARSIZE_ANY_EXHDR(b);
	buf->maxlen = buf->len;
	buf->cursor = 0;
	v = pq_getmsgbyte(buf);
	p = pq_getmsgbyte(buf);
	u = pq_getmsgbyte(buf);
	if (v != version || p < CLM_HOUR || p > CLM_YEAR || u < CLM_HOUR || u > CLM_YEAR)
		clm_state_invalid_internal(ERRCODE_INVALID_BINARY_REPRESENTATION, what, NULL);
	*period = (ClmPeriodUnit) p;
	*unit = (ClmPeriodUnit) u;
}
