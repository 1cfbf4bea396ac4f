/*-------------------------------------------------------------------------
 *
 * activity.c
 *	  clm.activity's SQL entry points: type input/output, the aggregate's
 *	  argument cache, small states, and the transition and combine
 *	  functions of clm.activity(customer, at, period, zone).
 *
 * IDENTIFICATION
 *	  src/activity.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "activity.h"

#include "utils/lsyscache.h"

PG_FUNCTION_INFO_V1(clm_activity_in);
PG_FUNCTION_INFO_V1(clm_activity_out);
PG_FUNCTION_INFO_V1(clm_activity_recv);
PG_FUNCTION_INFO_V1(clm_activity_send);
PG_FUNCTION_INFO_V1(clm_activity_accum);
PG_FUNCTION_INFO_V1(clm_activity_combine);

/* ---------------------------------------------------------------------
 * Type I/O
 * ---------------------------------------------------------------------
 */

/*
 * Text input: the hex digits of the flat form, as clm_activity_out writes
 * them.  Every byte is validated.
 */
Datum
clm_activity_in(PG_FUNCTION_ARGS)
{
	char	   *s = PG_GETARG_CSTRING(0);
	size_t		len = strlen(s);
	struct varlena *res;
	size_t		i;

	if (len < 2 * ACT_HEADER_FIXED || len % 2 != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type clm.activity"),
				 errdetail("A clm.activity value is an even number of hexadecimal digits, at least %d.",
						   2 * ACT_HEADER_FIXED)));
	for (i = 0; i < len; i++)
	{
		char		ch = s[i];

		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F')))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type clm.activity"),
					 errdetail("Character %zu is not a hexadecimal digit.", i + 1)));
	}
	res = palloc(VARHDRSZ + len / 2);
	hex_decode(s, len, VARDATA(res));
	SET_VARSIZE(res, VARHDRSZ + len / 2);
	ActValidate(VARDATA(res), len / 2, ERRCODE_INVALID_TEXT_REPRESENTATION);
	PG_RETURN_POINTER(res);
}

/*
 * Text output: lower-case hex digits of the flat form (round-trips
 * through clm_activity_in; Citus ships partial states this way).
 */
Datum
clm_activity_out(PG_FUNCTION_ARGS)
{
	struct varlena *flat = PG_GETARG_VARLENA_P(0);
	Size		len = VARSIZE(flat) - VARHDRSZ;
	char	   *out = palloc_extended(len * 2 + 1, MCXT_ALLOC_HUGE);

	hex_encode(VARDATA(flat), len, out);
	out[len * 2] = '\0';
	PG_RETURN_CSTRING(out);
}

/*
 * Binary input: the flat form's bytes, validated.
 */
Datum
clm_activity_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			len = buf->len - buf->cursor;
	struct varlena *res = palloc(VARHDRSZ + len);

	memcpy(VARDATA(res), buf->data + buf->cursor, len);
	buf->cursor = buf->len;
	SET_VARSIZE(res, VARHDRSZ + len);
	ActValidate(VARDATA(res), len, ERRCODE_INVALID_BINARY_REPRESENTATION);
	PG_RETURN_POINTER(res);
}

/*
 * Binary output: the flat form's bytes.
 */
Datum
clm_activity_send(PG_FUNCTION_ARGS)
{
	struct varlena *flat = PG_GETARG_VARLENA_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbytes(&buf, VARDATA(flat), VARSIZE(flat) - VARHDRSZ);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* ---------------------------------------------------------------------
 * Aggregates
 * ---------------------------------------------------------------------
 */

/*
 * Whether text argument t has the cached bytes buf (len bytes, -1: none).
 */
static inline bool
ActArgSame(text *t, const char *buf, int len)
{
	return len >= 0 && (int) VARSIZE_ANY_EXHDR(t) == len && memcmp(VARDATA_ANY(t), buf, len) == 0;
}

/*
 * Remember the bytes of text argument t in buf, when they fit; returns
 * the length cached or -1.
 */
static int
ActArgKeep(text *t, char *buf)
{
	int			len = VARSIZE_ANY_EXHDR(t);

	if (len > ACT_ARG_CACHE_LEN)
		return -1;
	memcpy(buf, VARDATA_ANY(t), len);
	return len;
}

/*
 * Whether the aggregate's argument i (0-based, as written in the call) is
 * a constant of the query, so that it cannot change from row to row.
 */
static bool
ActArgConst(FunctionCallInfo fcinfo, int i)
{
	Aggref	   *ar = AggGetAggref(fcinfo);
	TargetEntry *tle;

	if (ar == NULL || list_length(ar->args) <= i)
		return false;
	tle = list_nth_node(TargetEntry, ar->args, i);
	return IsA(tle->expr, Const);
}

/*
 * Generations are numbered per backend, not per cache: a cache made anew
 * at every row may reuse the address of the previous row's, and must still
 * not pass for it in ActState.checked_args.
 */
static uint32 act_arg_gen = 0;

/*
 * The SQL type of the customer key (argument 1 of the transition
 * function).  From the aggregate's call expression when there is one;
 * otherwise from the declared signature of the transition function
 * called, which is one clm.activity_accum overload per key type.  Citus's
 * worker_partial_agg calls the transition function through an FmgrInfo of
 * its own, without the call expression (and with a new FmgrInfo, hence an
 * empty fn_extra, at every row).
 */
static Oid
ActKeyType(FunctionCallInfo fcinfo)
{
	Oid			kt = get_fn_expr_argtype(fcinfo->flinfo, 1);

	if (!OidIsValid(kt) && OidIsValid(fcinfo->flinfo->fn_oid))
	{
		Oid		   *argtypes;
		int			nargs;

		get_func_signature(fcinfo->flinfo->fn_oid, &argtypes, &nargs);
		if (nargs > 1)
			kt = argtypes[1];
		pfree(argtypes);
	}
	return kt;
}

/*
 * Without a call expression (Citus's worker_partial_agg, see ActKeyType)
 * the FmgrInfo, and so fn_extra, is new at every row: such calls share one
 * argument cache per transition function (one per key type and arity) for
 * the backend's life instead, found by function OID.  Returns it, creating
 * it (zeroed, in TopMemoryContext) when missing.
 */
#define ACT_NO_EXPR_CACHES 16

static ActArgCache *
ActNoExprCache(Oid fn)
{
	static Oid	fns[ACT_NO_EXPR_CACHES];
	static ActArgCache *caches[ACT_NO_EXPR_CACHES];
	int			i;

	for (i = 0; i < ACT_NO_EXPR_CACHES && OidIsValid(fns[i]); i++)
		if (fns[i] == fn)
			return caches[i];
	if (i == ACT_NO_EXPR_CACHES)
		elog(ERROR, "too many clm.activity_accum functions");
	caches[i] = MemoryContextAllocZero(TopMemoryContext, sizeof(ActArgCache));
	fns[i] = fn;
	return caches[i];
}

/*
 * Parse the period unit and time zone arguments, again only when their
 * text differs from the previous row's (never, when both are constants).
 */
static ActArgCache *
ActArgs(FunctionCallInfo fcinfo)
{
	ActArgCache *ac = (ActArgCache *) fcinfo->flinfo->fn_extra;
	bool		have_zone = PG_NARGS() > 4;
	text	   *ptxt,
			   *ztxt = NULL;

	if (PG_ARGISNULL(3) || (have_zone && PG_ARGISNULL(4)))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("period and time zone of clm.activity_agg must not be NULL")));
	if (ac == NULL && fcinfo->flinfo->fn_expr == NULL)
	{
		ac = ActNoExprCache(fcinfo->flinfo->fn_oid);
		/* the session's zone may have changed since the cache's last use */
		if (ac->have && !have_zone && ac->tz != session_timezone)
			ac->have = false;
		if (ac->have)
			fcinfo->flinfo->fn_extra = ac;
	}
	if (ac == NULL || !ac->have)
	{
		Oid			kt = ActKeyType(fcinfo);

		if (ac == NULL)
			ac = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(ActArgCache));
		if (kt == INT4OID || kt == INT8OID || kt == INT2OID)
			ac->kind = ACT_KEY_INT;
		else if (kt == TEXTOID)
			ac->kind = ACT_KEY_TEXT;
		else if (kt == UUIDOID)
			ac->kind = ACT_KEY_UUID;
		else
			elog(ERROR, "unexpected customer key type %u", kt);
		ac->keytype = kt;
		ac->args_const = ActArgConst(fcinfo, 2) && (!have_zone || ActArgConst(fcinfo, 3));
		fcinfo->flinfo->fn_extra = ac;
	}
	/* the usual case: constant arguments, parsed at the first row */
	if (ac->have && ac->args_const)
		return ac;
	ptxt = PG_GETARG_TEXT_PP(3);
	if (have_zone)
		ztxt = PG_GETARG_TEXT_PP(4);
	if (!ac->have || !ActArgSame(ptxt, ac->period_arg, ac->period_len) ||
		(ztxt && !ActArgSame(ztxt, ac->zone_arg, ac->zone_len)))
	{
		uint8		unit = (uint8) clm_period_parse_text(ptxt, "period");
		pg_tz	   *tz = ztxt ? clm_tz_lookup(ztxt) : session_timezone;
		const char *name = pg_get_timezone_name(tz);

		/*
		 * Another group's arguments (a group's own rows must agree: the
		 * state checks that against gen).
		 */
		if (!ac->have || unit != ac->unit || strcmp(name, ac->tzname) != 0)
		{
			ac->unit = unit;
			ac->tz = tz;
			strlcpy(ac->tzname, name, sizeof(ac->tzname));
			clm_tzcache_init(&ac->tzc, tz);
			ac->gen = ++act_arg_gen;
		}
		ac->period_len = ActArgKeep(ptxt, ac->period_arg);
		ac->zone_len = ztxt ? ActArgKeep(ztxt, ac->zone_arg) : -1;
		ac->have = true;
	}
	return ac;
}

/* ---------------------------------------------------------------------
 * Small states
 * ---------------------------------------------------------------------
 *
 * An expanded object needs a memory context of its own, and hash
 * aggregation sums up the memory of every context under the aggregate
 * context each time it adds a group: with one context per group, GROUP BY
 * over many groups would take quadratic time.  So a state starts as a flat
 * value (the stored form) allocated in the aggregate context, rewritten by
 * one sequential pass per row (in place while its size does not change),
 * and becomes an expanded object only past ACT_SMALL_BYTES.
 */
#define ACT_SMALL_BYTES 256		/* flat size, varlena header included */

/*
 * The flat state "flat" (NULL: no state yet) with the event of customer
 * (ikey | kb, klen) in period p, born period bp (or ACT_NONE) at time ts
 * added: a new flat varlena in CurrentMemoryContext, written in one merge
 * pass over the sorted customers.  When the base period does not change,
 * the records before the customer's are copied as they are, and so are
 * those after the next one (which is rewritten: its key delta may change).
 * The state must match the unit, key type and zone of the call site.
 */
static struct varlena *
ActSmallAdd(struct varlena *flat, const ActArgCache *ac, uint64 ikey, const char *kb,
			uint32 klen, int32 p, int32 bp, TimestampTz ts)
{
	StringInfoData buf;
	ActReader	r;
	ActView		v;
	bool		have = false,
				verbatim = false,
				inserted = false;
	const uint8 *recs = NULL,
			   *vstart = NULL;
	uint32		idx = 0,
				n;
	uint64		prev = 0,
				one = 1;
	int32		base = p,
				first = Min(p, bp),
				last = p;
	TimestampTz end_ts = ts;
	struct varlena *res;
	int			i;

	if (flat)
	{
		ActReaderInit(&r, VARDATA(flat), VARSIZE(flat) - VARHDRSZ, ERRCODE_DATA_CORRUPTED);
		if (r.h.unit != ac->unit || r.h.kind != ac->kind || strcmp(r.h.tzname, ac->tzname) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("period and time zone must be the same for all rows of clm.activity_agg")));
		if (r.h.n > 0)
		{
			verbatim = (p >= r.h.base);
			base = Min(base, r.h.base);
			first = Min(first, r.h.first);
			last = Max(last, r.h.last);
			end_ts = Max(end_ts, r.h.end_ts);
		}
		recs = vstart = r.p;
		have = ActReaderNext(&r, &v);
	}
	initStringInfo(&buf);
	appendStringInfoSpaces(&buf, VARHDRSZ);
	ActPutHeader(&buf, ac->unit, ac->kind, ac->tzname, 1, end_ts, base, first, last);

	/* the customers before the event's */
	for (;;)
	{
		int			cmp;

		if (!have)
			break;
		if (ac->kind == ACT_KEY_INT)
			cmp = ((int64) v.ikey > (int64) ikey) - ((int64) v.ikey < (int64) ikey);
		else
			cmp = ActBytesCmp(v.kbytes, v.klen, kb, klen);
		if (cmp >= 0)
			break;
		if (verbatim)
			prev = v.ikey;
		else
			ActPutRecord(&buf, ac->kind, idx == 0, &prev, v.ikey, v.kbytes, v.klen,
						 base, v.lo, v.born, v.nbits, v.w);
		idx++;
		vstart = r.p;
		have = ActReaderNext(&r, &v);
	}
	if (verbatim)
		appendBinaryStringInfo(&buf, (const char *) recs, (int) (vstart - recs));

	/* the event's customer: new, or merged with its record */
	if (have && (ac->kind == ACT_KEY_INT ? v.ikey == ikey :
				 ActBytesCmp(v.kbytes, v.klen, kb, klen) == 0))
	{
		int32		lo = Min(v.lo, p);
		int64		hi = Max((int64) v.lo + v.nbits - 1, (int64) p);
		uint64		nbits = (uint64) (hi - lo + 1);
		uint64	   *mw;

		ActCheckSpan(nbits);
		mw = palloc0(((nbits + 63) / 64 + 1) * sizeof(uint64));
		ActOrShifted(mw, v.w, v.nbits, (uint64) ((int64) v.lo - lo));
		mw[(uint64) ((int64) p - lo) >> 6] |= UINT64CONST(1) << (((int64) p - lo) & 63);
		ActPutRecord(&buf, ac->kind, idx == 0, &prev, v.ikey, v.kbytes, v.klen,
					 base, lo, Min(v.born, bp), (uint32) nbits, mw);
		pfree(mw);
		have = ActReaderNext(&r, &v);
	}
	else
	{
		ActPutRecord(&buf, ac->kind, idx == 0, &prev, ikey, kb, klen, base, p, bp, 1, &one);
		inserted = true;
	}

	/* the customers after it */
	if (have && verbatim)
	{
		ActPutRecord(&buf, ac->kind, false, &prev, v.ikey, v.kbytes, v.klen,
					 base, v.lo, v.born, v.nbits, v.w);
		appendBinaryStringInfo(&buf, (const char *) r.p, (int) (r.end - r.p));
	}
	else
	{
		while (have)
		{
			ActPutRecord(&buf, ac->kind, false, &prev, v.ikey, v.kbytes, v.klen,
						 base, v.lo, v.born, v.nbits, v.w);
			have = ActReaderNext(&r, &v);
		}
	}

	/* patch the customer count (after varlena header + 24 header bytes) */
	n = (flat ? r.h.n : 0) + (inserted ? 1 : 0);
	for (i = 0; i < 4; i++)
		buf.data[VARHDRSZ + 24 + i] = (char) (n >> (8 * (3 - i)));
	res = (struct varlena *) buf.data;
	SET_VARSIZE(res, buf.len);
	if (flat && r.words)
		pfree(r.words);
	return res;
}

/*
 * Transition function of clm.activity_agg(customer, event_at, period
 * [, zone [, born_at]]): marks the event's period active for the customer,
 * in place.  Rows with a NULL customer or event time are skipped.
 */
Datum
clm_activity_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	ActArgCache *ac;
	ActState   *st;
	ActCust    *c;
	TimestampTz ts;
	int32		p,
				bp = ACT_NONE;
	uint64		ikey = 0;
	const char *kb = NULL;
	uint32		klen = 0;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("clm.activity_accum can only be called as an aggregate transition function"),
				 errhint("Use the aggregate clm.activity_agg.")));
	ac = ActArgs(fcinfo);
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	ts = PG_GETARG_TIMESTAMPTZ(2);
	clm_check_timestamp(ts, "event_at");
	p = ActPeriod32(clm_period_index(&ac->tzc, ts, (ClmPeriodUnit) ac->unit));

	switch (ac->kind)
	{
		case ACT_KEY_INT:
			{
				Oid			kt = ac->keytype;

				ikey = (kt == INT8OID) ? (uint64) PG_GETARG_INT64(1) :
					(kt == INT4OID) ? (uint64) (int64) PG_GETARG_INT32(1) :
					(uint64) (int64) PG_GETARG_INT16(1);
				break;
			}
		case ACT_KEY_TEXT:
			{
				text	   *t = PG_GETARG_TEXT_PP(1);

				kb = VARDATA_ANY(t);
				klen = VARSIZE_ANY_EXHDR(t);
				break;
			}
		default:
			kb = (const char *) PG_GETARG_UUID_P(1)->data;
			klen = UUID_LEN;
			break;
	}

	if (PG_NARGS() > 5 && !PG_ARGISNULL(5))
	{
		TimestampTz born = PG_GETARG_TIMESTAMPTZ(5);

		clm_check_timestamp(born, "born_at");
		bp = ActPeriod32(clm_period_index(&ac->tzc, born, (ClmPeriodUnit) ac->unit));
	}

	/* a small flat state (see "Small states") */
	if (PG_ARGISNULL(0) || !VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(PG_GETARG_DATUM(0))))
	{
		struct varlena *raw = PG_ARGISNULL(0) ? NULL : (struct varlena *) PG_GETARG_POINTER(0);
		struct varlena *flat = raw ? PG_DETOAST_DATUM(PG_GETARG_DATUM(0)) : NULL;

		if (flat == NULL || VARSIZE(flat) <= ACT_SMALL_BYTES)
		{
			struct varlena *res = ActSmallAdd(flat, ac, ikey, kb, klen, p, bp, ts);

			if (VARSIZE(res) <= ACT_SMALL_BYTES)
			{
				/* our own state in aggcontext, same size: rewrite in place */
				if (flat != NULL && flat == raw && VARSIZE(res) == VARSIZE(raw))
				{
					memcpy(raw, res, VARSIZE(res));
					pfree(res);
					PG_RETURN_POINTER(raw);
				}
				/* a new value: nodeAgg copies it into aggcontext */
				PG_RETURN_POINTER(res);
			}
			/* too large now: continue as an expanded state */
			st = ActExpand(aggctx, PointerGetDatum(res));
			pfree(res);
			st->checked_args = ac;
			st->checked_gen = ac->gen;
			PG_RETURN_DATUM(EOHPGetRWDatum(&st->hdr));
		}
	}

	st = ActRW(fcinfo, 0, aggctx, true);
	/* compare names once per state and argument cache, not per row */
	if (st->checked_args != ac || st->checked_gen != ac->gen)
	{
		if (st->unit != ac->unit || st->kind != ac->kind || strcmp(st->tzname, ac->tzname) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("period and time zone must be the same for all rows of clm.activity_agg")));
		st->checked_args = ac;
		st->checked_gen = ac->gen;
	}
	if (ts > st->end_ts)
		st->end_ts = ts;
	ActInvalidate(st);
	if (ac->kind == ACT_KEY_INT)
	{
		ActPush(st, ikey, p, 1, 1, bp);
		PG_RETURN_DATUM(EOHPGetRWDatum(&st->hdr));
	}
	c = ActLookup(st, ikey, kb, klen);
	ActSetPeriod(st, c, p);
	if (bp < c->born)
		c->born = bp;
	ActNoteCustomer(st, c);
	PG_RETURN_DATUM(EOHPGetRWDatum(&st->hdr));
}

/*
 * Combine function of clm.activity_agg and transition function of
 * clm.activity_merge: the union of two states, merged in place into the
 * first.  States with different units, key types or zones are refused.
 */
Datum
clm_activity_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	ActState   *st;
	ActIter		it;
	ActView		v;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("clm.activity_combine can only be called as an aggregate support function"),
				 errhint("Use the aggregate clm.activity_merge.")));
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	if (PG_ARGISNULL(0))
	{
		/* a flat state is adopted as is (nodeAgg copies it) */
		if (!VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(PG_GETARG_DATUM(1))))
			PG_RETURN_POINTER(PG_DETOAST_DATUM(PG_GETARG_DATUM(1)));
		st = ActRW(fcinfo, 1, aggctx, false);
		PG_RETURN_DATUM(EOHPGetRWDatum(&st->hdr));
	}
	if (!VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(PG_GETARG_DATUM(0))) &&
		!VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(PG_GETARG_DATUM(1))))
	{
		/*
		 * Two flat states of comparable size (partial states from parallel
		 * workers): merge them in one sequential pass.  A small state is
		 * merged into a hash table instead, so that many small states
		 * (daily roll-ups) cost one pass over each, unless the union is a
		 * small state too (see "Small states": no expanded object, so no
		 * memory context, per group).
		 */
		struct varlena *a = PG_DETOAST_DATUM(PG_GETARG_DATUM(0));
		struct varlena *b = PG_DETOAST_DATUM(PG_GETARG_DATUM(1));
		ActReader	ra,
					rb;

		ActReaderInit(&ra, VARDATA(a), VARSIZE(a) - VARHDRSZ, ERRCODE_DATA_CORRUPTED);
		ActReaderInit(&rb, VARDATA(b), VARSIZE(b) - VARHDRSZ, ERRCODE_DATA_CORRUPTED);
		ActCheckCompatible(ra.h.unit, ra.h.kind, ra.h.tzname, rb.h.unit, rb.h.kind, rb.h.tzname);
		if (rb.h.n == 0)
			PG_RETURN_POINTER(a);
		if (ra.h.n == 0)
			PG_RETURN_POINTER(b);
		if ((uint64) rb.h.n * 8 >= ra.h.n ||
			VARSIZE(a) + VARSIZE(b) <= ACT_SMALL_BYTES + VARHDRSZ + ACT_HEADER_FIXED)
			PG_RETURN_POINTER(ActMergeFlat(&ra, &rb));
	}
	st = ActRW(fcinfo, 0, aggctx, true);
	ActIterInit(&it, PG_GETARG_DATUM(1));
	ActCheckCompatible(st->unit, st->kind, st->tzname, it.h.unit, it.h.kind, it.h.tzname);
	if (it.h.n > 0 && it.h.end_ts > st->end_ts)
		st->end_ts = it.h.end_ts;
	while (ActIterNext(&it, &v))
		ActMergeView(st, &v);
	ActInvalidate(st);
	PG_RETURN_DATUM(EOHPGetRWDatum(&st->hdr));
}
