/*-------------------------------------------------------------------------
 *
 * varstate.c
 *	  Text input/output shared by clm's varlena aggregate state types.
 *
 * A state's text form is "\x" followed by the hexadecimal image of its
 * binary (send/recv) form, so the text and binary forms carry exactly the
 * same checked content; Citus ships partial states through the text form.
 *
 * IDENTIFICATION
 *	  src/varstate.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

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
 * Report a state image that fails a consistency check.
 */
void
clm_state_corrupt(const char *typname, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid %s value", typname),
			 errdetail("%s", detail)));
}
