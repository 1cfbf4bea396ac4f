/*-------------------------------------------------------------------------
 *
 * activity_state.c
 *	  clm.activity in memory: key hashing, the state errors, and the
 *	  expanded object (a hash table of customers, or a dense array for
 *	  dense integer keys) that the transition function updates in place.
 *
 * IDENTIFICATION
 *	  src/activity_state.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "activity.h"

/* ---------------------------------------------------------------------
 * Keys
 * ---------------------------------------------------------------------
 */

/* ---------------------------------------------------------------------
 * Errors
 * ---------------------------------------------------------------------
 */

/*
 * A state's bytes do not describe a valid activity state.
 */
void
ActCorrupt(int code, const char *detail)
{
	clm_state_invalid(code, "clm.activity", detail);
}

/*
 * Refuse to merge states built with different period units, key types
 * or time zones.
 */
void
ActCheckCompatible(uint8 unit1, uint8 kind1, const char *tz1,
				   uint8 unit2, uint8 kind2, const char *tz2)
{
	if (unit1 != unit2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot merge clm.activity states with different period units"),
				 errdetail("One state has %s periods, the other %s periods.",
						   clm_period_name((ClmPeriodUnit) unit1),
						   clm_period_name((ClmPeriodUnit) unit2))));
	if (kind1 != kind2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot merge clm.activity states with different customer key types"),
				 errdetail("One state has %s keys, the other %s keys.",
						   act_kind_names[kind1], act_kind_names[kind2])));
	if (strcmp(tz1, tz2) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot merge clm.activity states computed in different time zones"),
				 errdetail("One state uses \"%s\", the other \"%s\".", tz1, tz2)));
}

/*
 * Convert a period index to the int32 the state stores.
 */
int32
ActPeriod32(int64 idx)
{
	if (idx <= PG_INT32_MIN || idx >= PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range for clm.activity periods")));
	return (int32) idx;
}

/* ---------------------------------------------------------------------
 * The expanded object
 * ---------------------------------------------------------------------
 */

/*
 * A new, empty expanded state in a child context of "parent".
 */
ActState *
ActCreate(MemoryContext parent, uint8 unit, uint8 kind, const char *tzname, uint32 nelements)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "clm.activity",
											  ALLOCSET_SMALL_SIZES);
	ActState   *st = MemoryContextAllocZero(cxt, sizeof(ActState));

	EOH_init_header(&st->hdr, &act_methods, cxt);
	st->unit = unit;
	st->kind = kind;
	strlcpy(st->tzname, tzname, sizeof(st->tzname));
	st->end_ts = DT_NOBEGIN;
	st->base = PG_INT32_MAX;
	st->first = PG_INT32_MAX;
	st->last = PG_INT32_MIN;
	/*
	 * Integer keys usually move to the dense array after ACT_DENSE_MIN
	 * customers: a table sized for all of them would be zeroed for nothing.
	 */
	if (kind == ACT_KEY_INT)
		nelements = Min(nelements, 2 * ACT_DENSE_MIN);
	st->hash = acth_create(cxt, Max(nelements, 16), st);
	return st;
}

/*
 * Refuse a customer whose activity would span more than the bitmap limit.
 */
void
ActCheckSpan(uint64 nbits)
{
	if ((nbits + 63) / 64 > ACT_MAX_WORDS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a customer's activity spans too many periods"),
				 errdetail("At most %d periods fit between a customer's first and last activity.",
						   ACT_MAX_WORDS * 64),
				 errhint("Use a longer period unit.")));
}

/*
 * Make room for "need" bits in a customer's bitmap.
 */
void
ActGrow(ActState *st, ActCust *c, uint64 need)
{
	uint32		oldw = c->capw ? c->capw : 1;
	uint64		neww = Max((need + 63) / 64, (uint64) oldw * 2);
	uint64	   *w;

	ActCheckSpan(need);
	neww = Min(neww, ACT_MAX_WORDS);
	w = MemoryContextAllocZero(st->hdr.eoh_context, neww * sizeof(uint64));
	memcpy(w, ActWords(c), oldw * sizeof(uint64));
	if (c->capw)
		pfree(c->b.ext);
	c->b.ext = w;
	c->capw = (uint16) neww;
}

/*
 * Union a span of at most 64 periods (bit i of word = period lo + i) into a
 * customer, in place.
 */
static inline void
ActUnionSmall(ActState *st, ActCust *c, int32 lo, uint32 nbits, uint64 word)
{
	uint64	   *w;
	uint64		d;
	int			sh;

	if (c->nbits == 0)
	{
		c->lo = lo;
		c->nbits = nbits;
		c->b.inl = word;
		return;
	}
	if (nbits == 1)
	{
		ActSetPeriod(st, c, lo);
		return;
	}
	/* cover both ends first, then OR the shifted word */
	ActSetPeriod(st, c, lo);
	ActSetPeriod(st, c, (int32) ((int64) lo + nbits - 1));
	d = (uint64) ((int64) lo - c->lo);
	w = ActWords(c);
	sh = (int) (d & 63);
	w[d >> 6] |= word << sh;
	if (sh && (word >> (64 - sh)))
		w[(d >> 6) + 1] |= word >> (64 - sh);
}

/*
 * Keep the state's summary fields up to date after a dense slot changed.
 */
static inline void
ActNoteDense(ActState *st, const ActDense *d)
{
	int32		hi = d->lo + pg_leftmost_one_pos64(d->word);
	int32		start = Min(d->lo, d->born);

	if (d->lo < st->base)
		st->base = d->lo;
	if (start < st->first)
		st->first = start;
	if (hi > st->last)
		st->last = hi;
}

/*
 * Capacity of a dense array starting at key base: "want" slots, but none
 * past INT64_MAX (at least "need", the slots of the keys it must hold), so
 * that base + capacity - 1 is always a valid key.
 */
static inline uint64
ActDenseCap(int64 base, uint64 need, uint64 want)
{
	uint64		room = (uint64) PG_INT64_MAX - (uint64) base;	/* slots - 1 */

	Assert(need >= 1 && need - 1 <= room);
	return (want - 1 > room) ? room + 1 : want;
}

/*
 * Leave dense mode: move every dense slot into the hash table, for good.
 */
void
ActFromDense(ActState *st)
{
	uint64		i;

	for (i = 0; i < st->dcap; i++)
	{
		ActDense   *d = &st->dense[i];
		ActCust    *c;
		bool		found;

		if (d->word == 0)
			continue;
		if ((i & 0xffff) == 0)
			CHECK_FOR_INTERRUPTS();
		c = acth_insert(st->hash, (uint64) (st->dbase + (int64) i), &found);
		Assert(!found);
		c->born = d->born;
		c->lo = d->lo;
		c->nbits = (uint32) pg_leftmost_one_pos64(d->word) + 1;
		c->capw = 0;
		c->b.inl = d->word;
	}
	pfree(st->dense);
	st->dense = NULL;
	st->dcount = 0;
	st->no_dense = true;
}

/*
 * Enter dense mode when the integer keys seen so far fill their range
 * densely and every span fits 64 periods: the hash table is replaced by an
 * array indexed by key, 16 bytes per slot, which is smaller and needs no
 * probing.
 */
static void
ActToDense(ActState *st)
{
	uint32		n = st->hash->members;
	uint64		span = (uint64) st->kmax - (uint64) st->kmin;	/* no overflow */
	uint64		cap;
	ActDense   *dense;
	acth_iterator it;
	ActCust    *c;

	if (st->no_dense || st->dense || st->kind != ACT_KEY_INT || n < ACT_DENSE_MIN ||
		span >= (uint64) n * ACT_DENSE_FILL)
		return;
	cap = ActDenseCap(st->kmin, span + 1, span + 1 + (span + 1) / 8 + 1024);
	dense = MemoryContextAllocExtended(st->hdr.eoh_context, cap * sizeof(ActDense),
									   MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO | MCXT_ALLOC_NO_OOM);
	if (dense == NULL)
	{
		st->no_dense = true;
		return;
	}
	acth_start_iterate(st->hash, &it);
	while ((c = acth_iterate(st->hash, &it)) != NULL)
	{
		ActDense   *d;

		if (c->nbits > 64)
		{
			pfree(dense);
			st->no_dense = true;
			return;
		}
		d = &dense[(int64) c->key - st->kmin];
		d->lo = c->lo;
		d->born = c->born;
		d->word = c->b.inl;
	}
	st->dense = dense;
	st->dbase = st->kmin;
	st->dcap = cap;
	st->dcount = n;
	acth_destroy(st->hash);
	st->hash = acth_create(st->hdr.eoh_context, 16, st);
}

/*
 * Make room for key k in the dense array, or leave dense mode when the
 * array would become too sparse.  Returns false when dense mode was left.
 */
static bool
ActDenseGrow(ActState *st, int64 k)
{
	/* the array never reaches past INT64_MAX (ActDenseCap): no overflow */
	int64		lo = Min(st->dbase, k);
	int64		hi = Max(st->dbase + (int64) (st->dcap - 1), k);
	uint64		span = (uint64) hi - (uint64) lo;
	uint64		range,
				cap;
	ActDense   *dense;

	if (span >= (uint64) (st->dcount + 1) * ACT_DENSE_FILL || span >= ((uint64) 1 << 34))
	{
		ActFromDense(st);
		return false;
	}
	range = span + 1;
	cap = range + range / 8 + 1024;

	/*
	 * Keys arriving in order (a sorted state being merged) grow the range
	 * a little at a time: grow the array at least twofold, as long as it
	 * stays within ACT_DENSE_FILL slots per customer, so that it is copied
	 * O(log n) times rather than once per 1/8 of growth.
	 */
	cap = Max(cap, Min(2 * st->dcap, (uint64) (st->dcount + 1) * ACT_DENSE_FILL));
	/* leave the slack on the side that grew, within the int64 keys */
	if (k < st->dbase)
	{
		uint64		room = (uint64) hi - (uint64) PG_INT64_MIN;	/* slots - 1 */

		if (cap - 1 > room)
			cap = room + 1;
		lo = (int64) ((uint64) hi - (cap - 1));
	}
	else
		cap = ActDenseCap(lo, range, cap);
	dense = MemoryContextAllocExtended(st->hdr.eoh_context, cap * sizeof(ActDense),
									   MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO | MCXT_ALLOC_NO_OOM);
	if (dense == NULL)
	{
		ActFromDense(st);
		return false;
	}
	memcpy(dense + (st->dbase - lo), st->dense, st->dcap * sizeof(ActDense));
	pfree(st->dense);
	st->dense = dense;
	st->dbase = lo;
	st->dcap = cap;
	return true;
}

/*
 * Union one buffered entry into a dense slot; false when the span would
 * exceed 64 periods (the caller then leaves dense mode).
 */
static inline bool
ActDenseUnion(ActState *st, ActDense *d, int32 lo, uint32 nbits, uint64 word, int32 born)
{
	if (d->word == 0)
	{
		d->lo = lo;
		d->born = born;
		d->word = word;
		st->dcount++;
	}
	else
	{
		int64		nlo = Min(d->lo, lo);
		int64		nhi = Max((int64) d->lo + pg_leftmost_one_pos64(d->word), (int64) lo + nbits - 1);

		if (nhi - nlo >= 64)
			return false;
		d->word = (d->word << (d->lo - nlo)) | (word << (lo - nlo));
		d->lo = (int32) nlo;
		if (born < d->born)
			d->born = born;
	}
	ActNoteDense(st, d);
	return true;
}

/*
 * Insert the buffered integer-key entries.  Each entry's slot (dense
 * array) or hash bucket is prefetched a few entries ahead, so the cache
 * misses of a large state overlap instead of stalling one row at a time.
 */
void
ActDrain(ActState *st)
{
	uint32		h[ACT_BATCH];
	uint32		n = st->npend,
				i = 0;

	if (n == 0)
		return;
	if (st->dense)
	{
		for (i = 0; i < n && i < ACT_PREFETCH; i++)
		{
			uint64		off = st->pkey[i] - (uint64) st->dbase;

			if (off < st->dcap)
				__builtin_prefetch(&st->dense[off]);
		}
		for (i = 0; i < n; i++)
		{
			int64		k = (int64) st->pkey[i];
			uint64		off;

			if (i + ACT_PREFETCH < n)
			{
				off = st->pkey[i + ACT_PREFETCH] - (uint64) st->dbase;
				if (off < st->dcap)
					__builtin_prefetch(&st->dense[off]);
			}
			off = (uint64) k - (uint64) st->dbase;
			if (off >= st->dcap)
			{
				if (!ActDenseGrow(st, k))
					break;
				off = (uint64) k - (uint64) st->dbase;
			}
			if (!ActDenseUnion(st, &st->dense[off], st->plo[i], st->pnbits[i], st->pword[i], st->pborn[i]))
			{
				ActFromDense(st);
				break;
			}
		}
		if (i == n)
		{
			st->npend = 0;
			return;
		}
		/* dense mode was left at entry i: the rest goes into the hash */
	}
	{
		uint32		first = i;

		for (i = first; i < n; i++)
			h[i] = ActHashKey(st, st->pkey[i]);
		for (i = first; i < n && i < first + ACT_PREFETCH; i++)
			__builtin_prefetch(&st->hash->data[h[i] & st->hash->sizemask]);
		for (i = first; i < n; i++)
		{
			ActCust    *c;
			bool		found;
			int64		k = (int64) st->pkey[i];

			if (i + ACT_PREFETCH < n)
				__builtin_prefetch(&st->hash->data[h[i + ACT_PREFETCH] & st->hash->sizemask]);
			c = acth_insert_hash(st->hash, st->pkey[i], h[i], &found);
			if (!found)
			{
				c->born = ACT_NONE;
				c->nbits = 0;
				c->capw = 0;
				if (st->hash->members == 1 || k < st->kmin)
					st->kmin = k;
				if (st->hash->members == 1 || k > st->kmax)
					st->kmax = k;
			}
			ActUnionSmall(st, c, st->plo[i], st->pnbits[i], st->pword[i]);
			if (st->pborn[i] < c->born)
				c->born = st->pborn[i];
			ActNoteCustomer(st, c);
		}
	}
	st->npend = 0;
	ActToDense(st);
}

/*
 * Merge one customer (from another state) into the expanded state.
 */
void
ActMergeView(ActState *st, const ActView *v)
{
	ActCust    *c;
	uint32		nw = (v->nbits + 63) / 64;
	uint32		k;

	if (st->kind == ACT_KEY_INT && v->nbits <= 64)
	{
		ActPush(st, v->ikey, v->lo, v->nbits, v->w[0], v->born);
		return;
	}
	c = ActLookup(st, v->ikey, v->kbytes, v->klen);

	/* the two ends first, so the bitmap grows at most once */
	ActSetPeriod(st, c, v->lo);
	ActSetPeriod(st, c, (int32) ((int64) v->lo + v->nbits - 1));
	for (k = 0; k < nw; k++)
	{
		uint64		word = v->w[k];

		while (word)
		{
			int			b = pg_rightmost_one_pos64(word);

			ActSetPeriod(st, c, (int32) ((int64) v->lo + (int64) k * 64 + b));
			word &= word - 1;
		}
	}
	if (v->born < c->born)
		c->born = v->born;
	ActNoteCustomer(st, c);
}
