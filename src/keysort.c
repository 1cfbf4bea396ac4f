/*-------------------------------------------------------------------------
 *
 * keysort.c
 *	  Stable LSD radix sort of (64-bit key, row index) pairs, shared by the
 *	  churn fits and evaluation aggregates (churn.h): ordering a million
 *	  rows by duration, score or risk is several times faster than qsort
 *	  with a comparison function.  Doubles map to keys that sort in numeric
 *	  order (churn_key_asc); byte positions in which every key agrees (the
 *	  low mantissa bytes of rounded durations, say) cost one counting pass
 *	  and no move.
 *
 * IDENTIFICATION
 *	  src/keysort.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/memutils.h"

#include "churn.h"

void
churn_key_sort(ChurnKey *k, int64 n)
{
	int64	   *count;
	ChurnKey   *tmp,
			   *src = k,
			   *dst;

	if (n < 2)
		return;
	count = palloc0(sizeof(int64) * 8 * 256);
	tmp = palloc_extended(sizeof(ChurnKey) * n, MCXT_ALLOC_HUGE);
	dst = tmp;
	/* all eight histograms in one pass */
	for (int64 i = 0; i < n; i++)
	{
		uint64		key = k[i].key;

		for (int b = 0; b < 8; b++)
			count[b * 256 + ((key >> (8 * b)) & 0xFF)]++;
	}
	for (int b = 0; b < 8; b++)
	{
		int64	   *c = count + b * 256;
		int64		off = 0;
		bool		uniform = false;

		CHECK_FOR_INTERRUPTS();
		for (int v = 0; v < 256; v++)
		{
			int64		cv = c[v];

			if (cv == n)
				uniform = true;
			c[v] = off;
			off += cv;
		}
		if (uniform)
			continue;
		for (int64 i = 0; i < n; i++)
			dst[c[(src[i].key >> (8 * b)) & 0xFF]++] = src[i];
		{
			ChurnKey   *sw = src;

			src = dst;
			dst = sw;
		}
	}
	if (src != k)
		memcpy(k, src, sizeof(ChurnKey) * n);
	pfree(tmp);
	pfree(count);
}
