/*-------------------------------------------------------------------------
 *
 * activity_flat.c
 *	  clm.activity's flat encoding (layout in activity.h): writing it
 *	  from the expanded object, reading it with every byte validated, and
 *	  iterating over a state datum, flat or expanded.
 *
 * IDENTIFICATION
 *	  src/activity_flat.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "activity.h"

static Size ActGetFlatSize(ExpandedObjectHeader *eohptr);
static void ActFlattenInto(ExpandedObjectHeader *eohptr, void *result, Size allocated_size);

const ExpandedObjectMethods act_methods = {
	ActGetFlatSize,
	ActFlattenInto
};

/* ---------------------------------------------------------------------
 * Flat form: writing
 * ---------------------------------------------------------------------
 */

/*
 * Append v as an LEB128 varint (7 bits per byte, low bits first).
 */
static inline void
PutVarint(StringInfo buf, uint64 v)
{
	char		tmp[10];
	int			n = 0;

	do
	{
		uint8		b = v & 0x7f;

		v >>= 7;
		tmp[n++] = (char) (v ? (b | 0x80) : b);
	} while (v);
	appendBinaryStringInfoNT(buf, tmp, n);
}

/*
 * Write v as an LEB128 varint at p (room for 10 bytes), as PutVarint;
 * returns the position after it.
 */
static inline char *
PutVarintRaw(char *p, uint64 v)
{
	while (v >= 0x80)
	{
		*p++ = (char) (v | 0x80);
		v >>= 7;
	}
	*p++ = (char) v;
	return p;
}

/*
 * Append the low "bytes" bytes of v, most significant first.
 */
static void
PutBE(StringInfo buf, uint64 v, int bytes)
{
	char		tmp[8];
	int			i;

	for (i = 0; i < bytes; i++)
		tmp[i] = (char) (v >> (8 * (bytes - 1 - i)));
	appendBinaryStringInfoNT(buf, tmp, bytes);
}

/*
 * Write the header of a flat state; the customer count is patched later by
 * ActPatchCount when not known yet.
 */
void
ActPutHeader(StringInfo buf, uint8 unit, uint8 kind, const char *tzname, uint32 n,
			 TimestampTz end_ts, int32 base, int32 first, int32 last)
{
	appendStringInfoChar(buf, ACT_VERSION);
	appendStringInfoChar(buf, (char) unit);
	appendStringInfoChar(buf, (char) kind);
	appendStringInfoChar(buf, 0);
	PutBE(buf, (uint64) (n ? end_ts : 0), 8);
	PutBE(buf, (uint64) (uint32) (n ? base : 0), 4);
	PutBE(buf, (uint64) (uint32) (n ? first : 0), 4);
	PutBE(buf, (uint64) (uint32) (n ? last : 0), 4);
	PutBE(buf, n, 4);
	appendStringInfoChar(buf, (char) strlen(tzname));
	appendBinaryStringInfo(buf, tzname, strlen(tzname));
}

/*
 * Write one customer record; *prev carries the previous integer key
 * (ignored for the first record).
 */
void
ActPutRecord(StringInfo buf, uint8 kind, bool first_record, uint64 *prev,
			 uint64 ikey, const char *kb, uint32 klen,
			 int32 base, int32 lo, int32 born, uint32 nbits, const uint64 *w)
{
	uint32		j,
				nmid = nbits >= 2 ? nbits - 2 : 0;
	char	   *p;

	/* room for the whole record: at most 4 varints, the key, the bits */
	enlargeStringInfo(buf, 4 * 10 + (int) klen + (int) ((nmid + 7) / 8));
	p = buf->data + buf->len;
	if (kind == ACT_KEY_INT)
	{
		p = PutVarintRaw(p, first_record ? ZigZag((int64) ikey) : ikey - *prev);
		*prev = ikey;
	}
	else
	{
		if (kind == ACT_KEY_TEXT)
			p = PutVarintRaw(p, klen);
		memcpy(p, kb, klen);
		p += klen;
	}
	p = PutVarintRaw(p, ((uint64) ((int64) lo - base) << 1) | (born != ACT_NONE));
	if (born != ACT_NONE)
		p = PutVarintRaw(p, ZigZag((int64) born - lo));
	p = PutVarintRaw(p, nbits);
	/* middle bits 1 .. nbits-2, packed 8 per byte */
	for (j = 0; j < nmid; j += 8)
	{
		uint32		bit = j + 1;
		uint64		v = w[bit >> 6] >> (bit & 63);
		uint8		byte;

		if ((bit & 63) > 56 && (bit >> 6) + 1 < (nbits + 63) / 64)
			v |= w[(bit >> 6) + 1] << (64 - (bit & 63));
		byte = (uint8) v;
		if (nmid - j < 8)
			byte &= (uint8) ((1u << (nmid - j)) - 1);
		*p++ = (char) byte;
	}
	buf->len = (int) (p - buf->data);
}

/*
 * qsort comparator of customers by key (text/uuid keys).
 */
static int
ActCustCmp(const void *a, const void *b)
{
	const ActCust *x = *(ActCust *const *) a;
	const ActCust *y = *(ActCust *const *) b;
	ActBytes   *p = (ActBytes *) (uintptr_t) x->key;
	ActBytes   *q = (ActBytes *) (uintptr_t) y->key;

	return ActBytesCmp(p->data, p->len, q->data, q->len);
}

/*
 * Sort customers by integer key: LSD radix sort on the sign-flipped key,
 * 11 bits per pass, skipping passes in which all keys share the digit
 * (small keys need two passes).
 */
static void
ActRadixSort(ActCust **arr, uint32 n)
{
	ActCust   **tmp = palloc_extended(Max(n, 1) * sizeof(ActCust *), MCXT_ALLOC_HUGE);
	uint32	   *count = palloc(2048 * sizeof(uint32));
	int			shift;

	for (shift = 0; shift < 64; shift += 11)
	{
		uint32		i,
					sum = 0;

		CHECK_FOR_INTERRUPTS();
		memset(count, 0, 2048 * sizeof(uint32));
		for (i = 0; i < n; i++)
			count[((arr[i]->key ^ (UINT64CONST(1) << 63)) >> shift) & 2047]++;
		for (i = 0; i < 2048; i++)
		{
			uint32		c = count[i];

			if (c == n)
				break;
			count[i] = sum;
			sum += c;
		}
		if (i < 2048)
			continue;			/* one digit value: nothing to reorder */
		for (i = 0; i < n; i++)
			tmp[count[((arr[i]->key ^ (UINT64CONST(1) << 63)) >> shift) & 2047]++] = arr[i];
		memcpy(arr, tmp, n * sizeof(ActCust *));
	}
	pfree(tmp);
	pfree(count);
}

/*
 * Encode the expanded state into its flat payload (cached until the state
 * changes).
 */
static void
ActEncode(ActState *st)
{
	StringInfoData buf;
	ActCust   **arr;
	ActCust    *c;
	acth_iterator it;
	uint32		n = st->hash->members,
				i = 0;
	uint64		prev = 0;
	MemoryContext old;

	if (st->flat)
		return;
	ActDrain(st);
	n = ActCount(st);
	old = MemoryContextSwitchTo(st->hdr.eoh_context);
	if (st->dense)
	{
		/* slots are in key order already */
		uint64		k;

		initStringInfo(&buf);
		ActPutHeader(&buf, st->unit, st->kind, st->tzname, n, st->end_ts, st->base, st->first, st->last);
		for (k = 0; k < st->dcap; k++)
		{
			ActDense   *d = &st->dense[k];

			if (d->word == 0)
				continue;
			if ((i & 0xffff) == 0)
				CHECK_FOR_INTERRUPTS();
			ActPutRecord(&buf, st->kind, i == 0, &prev, (uint64) (st->dbase + (int64) k), NULL, 0,
						 st->base, d->lo, d->born, (uint32) pg_leftmost_one_pos64(d->word) + 1, &d->word);
			i++;
		}
		Assert(i == n);
		MemoryContextSwitchTo(old);
		st->flat = buf.data;
		st->flat_len = buf.len;
		return;
	}
	arr = palloc_extended(Max(n, 1) * sizeof(ActCust *), MCXT_ALLOC_HUGE);
	acth_start_iterate(st->hash, &it);
	while ((c = acth_iterate(st->hash, &it)) != NULL)
		arr[i++] = c;
	Assert(i == n);
	if (st->kind == ACT_KEY_INT)
		ActRadixSort(arr, n);
	else
		qsort(arr, n, sizeof(ActCust *), ActCustCmp);

	initStringInfo(&buf);
	ActPutHeader(&buf, st->unit, st->kind, st->tzname, n, st->end_ts, st->base, st->first, st->last);
	for (i = 0; i < n; i++)
	{
		if ((i & 0xffff) == 0)
			CHECK_FOR_INTERRUPTS();
		c = arr[i];
		if (st->kind == ACT_KEY_INT)
			ActPutRecord(&buf, st->kind, i == 0, &prev, c->key, NULL, 0,
						 st->base, c->lo, c->born, c->nbits, ActWords(c));
		else
		{
			ActBytes   *kb = (ActBytes *) (uintptr_t) c->key;

			ActPutRecord(&buf, st->kind, i == 0, &prev, 0, kb->data, kb->len,
						 st->base, c->lo, c->born, c->nbits, ActWords(c));
		}
	}
	pfree(arr);
	MemoryContextSwitchTo(old);
	st->flat = buf.data;
	st->flat_len = buf.len;
}

/*
 * Expanded-object method: size of the flat varlena.
 */
static Size
ActGetFlatSize(ExpandedObjectHeader *eohptr)
{
	ActState   *st = (ActState *) eohptr;

	ActEncode(st);
	return VARHDRSZ + st->flat_len;
}

/*
 * Expanded-object method: write the flat varlena.
 */
static void
ActFlattenInto(ExpandedObjectHeader *eohptr, void *result, Size allocated_size)
{
	ActState   *st = (ActState *) eohptr;

	ActEncode(st);
	Assert(allocated_size == VARHDRSZ + st->flat_len);
	SET_VARSIZE(result, VARHDRSZ + st->flat_len);
	memcpy(VARDATA(result), st->flat, st->flat_len);
}

/* ---------------------------------------------------------------------
 * Flat form: reading (every byte validated)
 * ---------------------------------------------------------------------
 */

/*
 * Read a varint, rejecting truncated, overlong and non-minimal encodings.
 */
static inline uint64
GetVarint(ActReader *r)
{
	uint64		v = 0;
	int			shift = 0;

	for (;;)
	{
		uint8		b;

		if (r->p >= r->end)
			ActCorrupt(r->errcode, "The value ends in the middle of a number.");
		b = *r->p++;
		if (shift == 63 && (b & 0x7e))
			ActCorrupt(r->errcode, "A number is out of range.");
		v |= (uint64) (b & 0x7f) << shift;
		if (!(b & 0x80))
		{
			if (b == 0 && shift > 0)
				ActCorrupt(r->errcode, "A number is not in its shortest form.");
			break;
		}
		shift += 7;
		if (shift > 63)
			ActCorrupt(r->errcode, "A number is out of range.");
	}
	return v;
}

/*
 * Read a big-endian unsigned number of "bytes" bytes.
 */
static uint64
GetBE(ActReader *r, int bytes)
{
	uint64		v = 0;
	int			i;

	if (r->end - r->p < bytes)
		ActCorrupt(r->errcode, "The value is truncated.");
	for (i = 0; i < bytes; i++)
		v = (v << 8) | *r->p++;
	return v;
}

/*
 * Start reading a flat payload: parse and check the header.
 */
void
ActReaderInit(ActReader *r, const char *data, Size len, int errcode)
{
	uint8		version,
				flags,
				tzlen;

	memset(r, 0, sizeof(*r));
	r->p = (const uint8 *) data;
	r->end = r->p + len;
	r->errcode = errcode;
	if (len < ACT_HEADER_FIXED)
		ActCorrupt(errcode, "The value is shorter than the header.");
	version = (uint8) GetBE(r, 1);
	if (version != ACT_VERSION)
		ActCorrupt(errcode, "Unknown format version.");
	r->h.unit = (uint8) GetBE(r, 1);
	if (r->h.unit > CLM_YEAR)
		ActCorrupt(errcode, "Unknown period unit.");
	r->h.kind = (uint8) GetBE(r, 1);
	if (r->h.kind < ACT_KEY_INT || r->h.kind > ACT_KEY_UUID)
		ActCorrupt(errcode, "Unknown customer key type.");
	flags = (uint8) GetBE(r, 1);
	if (flags != 0)
		ActCorrupt(errcode, "Unknown flags.");
	r->h.end_ts = (TimestampTz) GetBE(r, 8);
	r->h.base = (int32) (uint32) GetBE(r, 4);
	r->h.first = (int32) (uint32) GetBE(r, 4);
	r->h.last = (int32) (uint32) GetBE(r, 4);
	r->h.n = (uint32) GetBE(r, 4);
	tzlen = (uint8) GetBE(r, 1);
	if (tzlen == 0 || r->end - r->p < tzlen)
		ActCorrupt(errcode, "Invalid time zone name.");
	memcpy(r->h.tzname, r->p, tzlen);
	r->h.tzname[tzlen] = '\0';
	if (strlen(r->h.tzname) != tzlen)
		ActCorrupt(errcode, "Invalid time zone name.");
	r->p += tzlen;
	if (r->h.n > 0 && TIMESTAMP_NOT_FINITE(r->h.end_ts))
		ActCorrupt(errcode, "The last event time is not finite.");
	if (r->h.n == 0 && (r->h.end_ts != 0 || r->h.base != 0 || r->h.first != 0 || r->h.last != 0))
		ActCorrupt(errcode, "An empty state has a period range.");
	/* every record takes at least 3 bytes */
	if ((uint64) r->h.n * 3 > (uint64) (r->end - r->p))
		ActCorrupt(errcode, "The customer count does not match the length.");
	r->min_lo = PG_INT32_MAX;
	r->min_start = PG_INT32_MAX;
	r->max_hi = PG_INT32_MIN;
}

/*
 * Read the next customer record into v; false after the last one, when
 * the summary fields of the header are checked too.
 */
bool
ActReaderNext(ActReader *r, ActView *v)
{
	uint64		x,
				nbits,
				nmid,
				nbytes,
				j;
	int64		lo,
				born = ACT_NONE;
	uint32		nw;

	if (r->done == r->h.n)
	{
		if (r->p != r->end)
			ActCorrupt(r->errcode, "Unexpected bytes after the last customer.");
		if (r->h.n > 0 && (r->min_lo != r->h.base || r->min_start != r->h.first ||
						   r->max_hi != r->h.last))
			ActCorrupt(r->errcode, "The period range in the header does not match the customers.");
		return false;
	}
	if ((r->done & 0xffff) == 0)
		CHECK_FOR_INTERRUPTS();

	/* key */
	if (r->h.kind == ACT_KEY_INT)
	{
		x = GetVarint(r);
		if (r->done == 0)
			v->ikey = (uint64) UnZigZag(x);
		else
		{
			/* order-preserving map of int64 onto uint64: room left above */
			uint64		room = PG_UINT64_MAX - (r->prev_ikey ^ (UINT64CONST(1) << 63));

			if (x == 0 || x > room)
				ActCorrupt(r->errcode, "Customer keys are not strictly increasing.");
			v->ikey = r->prev_ikey + x;
		}
		r->prev_ikey = v->ikey;
		v->kbytes = NULL;
		v->klen = 0;
	}
	else
	{
		uint64		len = (r->h.kind == ACT_KEY_UUID) ? UUID_LEN : GetVarint(r);

		if (len > (uint64) (r->end - r->p) || len > MaxAllocSize)
			ActCorrupt(r->errcode, "A customer key is truncated.");
		v->kbytes = (const char *) r->p;
		v->klen = (uint32) len;
		r->p += len;
		if (r->done > 0 &&
			ActBytesCmp((const char *) r->prev_k, r->prev_klen, v->kbytes, v->klen) >= 0)
			ActCorrupt(r->errcode, "Customer keys are not strictly increasing.");
		r->prev_k = (const uint8 *) v->kbytes;
		r->prev_klen = v->klen;
		v->ikey = 0;
	}

	/* periods */
	x = GetVarint(r);
	lo = (int64) r->h.base + (int64) (x >> 1);
	if ((x >> 1) > (uint64) PG_INT32_MAX * 2 || lo >= PG_INT32_MAX || lo <= PG_INT32_MIN)
		ActCorrupt(r->errcode, "A period is out of range.");
	if (x & 1)
	{
		uint64		z = GetVarint(r);

		born = lo + UnZigZag(z);
		if (z > (uint64) PG_INT32_MAX * 4 || born >= PG_INT32_MAX || born <= PG_INT32_MIN)
			ActCorrupt(r->errcode, "A born period is out of range.");
	}
	nbits = GetVarint(r);
	if (nbits == 0 || nbits > (uint64) ACT_MAX_WORDS * 64 || lo + (int64) nbits - 1 >= PG_INT32_MAX)
		ActCorrupt(r->errcode, "A customer's period count is out of range.");
	nmid = nbits >= 2 ? nbits - 2 : 0;
	nbytes = (nmid + 7) / 8;
	if (nbytes > (uint64) (r->end - r->p))
		ActCorrupt(r->errcode, "A customer's periods are truncated.");

	nw = (uint32) ((nbits + 63) / 64);
	if (nw > r->wcap)
	{
		uint32		cap = Max(nw, 8);

		if (r->words)
			pfree(r->words);
		r->words = palloc(cap * sizeof(uint64));
		r->wcap = cap;
	}
	memset(r->words, 0, nw * sizeof(uint64));
	r->words[0] = 1;
	r->words[(nbits - 1) >> 6] |= UINT64CONST(1) << ((nbits - 1) & 63);
	for (j = 0; j < nbytes; j++)
	{
		uint64		byte = r->p[j];
		uint64		bit = 1 + j * 8;

		if (j == nbytes - 1 && (nmid & 7) != 0 && (byte >> (nmid & 7)) != 0)
			ActCorrupt(r->errcode, "Unused bits are set.");
		r->words[bit >> 6] |= byte << (bit & 63);
		if ((bit & 63) > 56 && byte >> (64 - (bit & 63)))
			r->words[(bit >> 6) + 1] |= byte >> (64 - (bit & 63));
	}
	r->p += nbytes;

	v->lo = (int32) lo;
	v->born = (int32) born;
	v->nbits = (uint32) nbits;
	v->w = r->words;
	if (v->lo < r->min_lo)
		r->min_lo = v->lo;
	if (Min(v->lo, v->born) < r->min_start)
		r->min_start = Min(v->lo, v->born);
	if (lo + (int64) nbits - 1 > r->max_hi)
		r->max_hi = (int32) (lo + nbits - 1);
	r->done++;
	return true;
}

/*
 * Check every byte of a flat payload (type input and receive).
 */
void
ActValidate(const char *data, Size len, int errcode)
{
	ActReader	r;
	ActView		v;

	ActReaderInit(&r, data, len, errcode);
	if (pg_tzset(r.h.tzname) == NULL)
		ActCorrupt(errcode, "Unknown time zone.");
	while (ActReaderNext(&r, &v))
		;
	if (r.words)
		pfree(r.words);
}

/*
 * Union of two flat states by a single merge pass over their sorted
 * customers: sequential, no hash table.  Both must be non-empty and
 * compatible.  Returns a new varlena in CurrentMemoryContext.
 */
struct varlena *
ActMergeFlat(ActReader *ra, ActReader *rb)
{
	StringInfoData buf;
	ActView		va,
				vb;
	bool		ha,
				hb;
	int32		base = Min(ra->h.base, rb->h.base);
	uint64		prev = 0;
	uint32		n = 0;
	uint64	   *mw = NULL;
	uint32		mwcap = 0;
	struct varlena *res;
	int			i;

	initStringInfo(&buf);
	appendStringInfoSpaces(&buf, VARHDRSZ);
	ActPutHeader(&buf, ra->h.unit, ra->h.kind, ra->h.tzname, 1,
				 Max(ra->h.end_ts, rb->h.end_ts), base,
				 Min(ra->h.first, rb->h.first), Max(ra->h.last, rb->h.last));
	ha = ActReaderNext(ra, &va);
	hb = ActReaderNext(rb, &vb);
	while (ha || hb)
	{
		int			cmp;

		if (!hb)
			cmp = -1;
		else if (!ha)
			cmp = 1;
		else if (ra->h.kind == ACT_KEY_INT)
			cmp = ((int64) va.ikey > (int64) vb.ikey) - ((int64) va.ikey < (int64) vb.ikey);
		else
			cmp = ActBytesCmp(va.kbytes, va.klen, vb.kbytes, vb.klen);

		if (cmp < 0)
		{
			ActPutRecord(&buf, ra->h.kind, n == 0, &prev, va.ikey, va.kbytes, va.klen,
						 base, va.lo, va.born, va.nbits, va.w);
			ha = ActReaderNext(ra, &va);
		}
		else if (cmp > 0)
		{
			ActPutRecord(&buf, ra->h.kind, n == 0, &prev, vb.ikey, vb.kbytes, vb.klen,
						 base, vb.lo, vb.born, vb.nbits, vb.w);
			hb = ActReaderNext(rb, &vb);
		}
		else
		{
			int32		lo = Min(va.lo, vb.lo);
			int64		hi = Max((int64) va.lo + va.nbits, (int64) vb.lo + vb.nbits) - 1;
			uint32		nbits,
						nw;

			/*
			 * Each side is within the span limit, their union need not be:
			 * refuse it here as the other merge paths do (ActGrow), rather
			 * than write a record that no reader accepts.
			 */
			ActCheckSpan((uint64) (hi - lo + 1));
			nbits = (uint32) (hi - lo + 1);
			nw = (nbits + 63) / 64 + 1;
			if (nw > mwcap)
			{
				mwcap = Max(nw, 8);
				if (mw)
					pfree(mw);
				mw = palloc(mwcap * sizeof(uint64));
			}
			memset(mw, 0, nw * sizeof(uint64));
			ActOrShifted(mw, va.w, va.nbits, (uint64) ((int64) va.lo - lo));
			ActOrShifted(mw, vb.w, vb.nbits, (uint64) ((int64) vb.lo - lo));
			ActPutRecord(&buf, ra->h.kind, n == 0, &prev, va.ikey, va.kbytes, va.klen,
						 base, lo, Min(va.born, vb.born), nbits, mw);
			ha = ActReaderNext(ra, &va);
			hb = ActReaderNext(rb, &vb);
		}
		n++;
	}
	/* patch the customer count (after varlena header + 24 header bytes) */
	for (i = 0; i < 4; i++)
		buf.data[VARHDRSZ + 24 + i] = (char) (n >> (8 * (3 - i)));
	res = (struct varlena *) buf.data;
	SET_VARSIZE(res, buf.len);
	if (mw)
		pfree(mw);
	return res;
}

/* ---------------------------------------------------------------------
 * Iterating over a state datum
 * ---------------------------------------------------------------------
 */

/*
 * Begin iterating over the customers of a clm.activity datum, expanded or
 * flat.
 */
void
ActIterInit(ActIter *it, Datum d)
{
	memset(it, 0, sizeof(*it));
	if (VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(d)))
	{
		ExpandedObjectHeader *eoh = DatumGetEOHP(d);

		if (eoh->eoh_methods != &act_methods)
			elog(ERROR, "expanded object is not a clm.activity");
		it->st = (ActState *) eoh;
		ActDrain(it->st);
		it->h.unit = it->st->unit;
		it->h.kind = it->st->kind;
		strlcpy(it->h.tzname, it->st->tzname, sizeof(it->h.tzname));
		it->h.end_ts = it->st->end_ts;
		it->h.base = it->st->base;
		it->h.first = it->st->first;
		it->h.last = it->st->last;
		it->h.n = ActCount(it->st);
		acth_start_iterate(it->st->hash, &it->hit);
	}
	else
	{
		struct varlena *flat = PG_DETOAST_DATUM(d);

		ActReaderInit(&it->rd, VARDATA(flat), VARSIZE(flat) - VARHDRSZ, ERRCODE_DATA_CORRUPTED);
		it->h = it->rd.h;
	}
}

/*
 * Next customer, or false at the end.
 */
bool
ActIterNext(ActIter *it, ActView *v)
{
	if (it->st && it->st->dense)
	{
		ActState   *st = it->st;

		while (it->dpos < st->dcap && st->dense[it->dpos].word == 0)
			it->dpos++;
		if (it->dpos >= st->dcap)
			return false;
		if ((++it->count & 0xffff) == 0)
			CHECK_FOR_INTERRUPTS();
		v->ikey = (uint64) (st->dbase + (int64) it->dpos);
		v->kbytes = NULL;
		v->klen = 0;
		v->born = st->dense[it->dpos].born;
		v->lo = st->dense[it->dpos].lo;
		v->nbits = (uint32) pg_leftmost_one_pos64(st->dense[it->dpos].word) + 1;
		v->w = &st->dense[it->dpos].word;
		it->dpos++;
		return true;
	}
	if (it->st)
	{
		ActCust    *c = acth_iterate(it->st->hash, &it->hit);

		if (c == NULL)
			return false;
		if ((++it->count & 0xffff) == 0)
			CHECK_FOR_INTERRUPTS();
		if (it->st->kind == ACT_KEY_INT)
		{
			v->ikey = c->key;
			v->kbytes = NULL;
			v->klen = 0;
		}
		else
		{
			ActBytes   *kb = (ActBytes *) (uintptr_t) c->key;

			v->ikey = 0;
			v->kbytes = kb->data;
			v->klen = kb->len;
		}
		v->born = c->born;
		v->lo = c->lo;
		v->nbits = c->nbits;
		v->w = ActWords(c);
		return true;
	}
	return ActReaderNext(&it->rd, v);
}

/*
 * A new read-write expanded state in aggcontext holding the customers of
 * the state datum d (flat or expanded).
 */
ActState *
ActExpand(MemoryContext aggctx, Datum d)
{
	ActIter		it;
	ActView		v;
	ActState   *st;

	ActIterInit(&it, d);
	st = ActCreate(aggctx, it.h.unit, it.h.kind, it.h.tzname, it.h.n);
	if (it.h.n > 0)
		st->end_ts = it.h.end_ts;
	while (ActIterNext(&it, &v))
		ActMergeView(st, &v);
	return st;
}

/*
 * Get a read-write expanded state from an aggregate's state argument,
 * copying it into aggcontext if it is not already one of ours there.
 */
ActState *
ActRW(FunctionCallInfo fcinfo, int argno, MemoryContext aggctx, bool adopt)
{
	Datum		d = PG_GETARG_DATUM(argno);

	if (adopt && VARATT_IS_EXTERNAL_EXPANDED_RW(DatumGetPointer(d)))
	{
		ExpandedObjectHeader *eoh = DatumGetEOHP(d);

		/* once per row: read the parent field rather than call MemoryContextGetParent */
		if (eoh->eoh_methods == &act_methods &&
			eoh->eoh_context->parent == aggctx)
			return (ActState *) eoh;
	}
	return ActExpand(aggctx, d);
}
