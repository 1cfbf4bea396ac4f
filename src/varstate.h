/*-------------------------------------------------------------------------
 *
 * varstate.h
 *	  Text form of clm's varlena aggregate states: the hexadecimal image of
 *	  the type's portable binary (send/recv) form.
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

extern char *clm_state_hex_out(StringInfo bin);
extern void clm_state_hex_in(const char *str, StringInfo bin, const char *typname);
extern void clm_state_corrupt(const char *typname, const char *detail) pg_attribute_noreturn();

#endif							/* CLM_VARSTATE_H */
