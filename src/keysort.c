/*-------------------------------------------------------------------------
 *
 * keysort.c
 *	  Stable LSD radix sort (six 11-bit digits) of (64-bit key, row index) pairs, shared by the
 *	  churn fits and evaluation aggregates (churn.h): ordering a million
 *	  rows by duration, score or risk is several times faster than qsort
 *	  with a comparison function.  Doubles map to keys that sort in numeric
 *	  order (churn_key_asc); digits in which every key agrees (the low
 *	  mantissa bits of rounded durations, say) cost no move.
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

#define RADIX_BITS 11
#define RADIX_SIZE (1 << RADIX_BITS)
#define RADIX_MASK (RADIX_SIZE - 1)
#define RADIX_PASSES 6			/* 66 bits >= 64 */

void
churn_key_sort(ChurnKey *k, int64 n)
{
	int64	   *count;
	ChurnKey   *tmp,
			   *src = k,
			   *dst;

	if (n < 2)
		return;
	count = palloc0(sizeof(int64) * RADIX_PASSES * RADIX_SIZE);
	tmp = palloc_extended(sizeof(ChurnKey) * n, MCXT_ALLOC_HUGE);
	dst = tmp;
	/* all eight histograms in one pass */
	for (int64 i = 0; i < n; i++)
	{
		uint64		key = k[i].key;

		for (int b = 0; b < RADIX_PASSES; b++)
			count[b * RADIX_SIZE + ((key >> (RADIX_BITS * b)) & RADIX_MASK)]++;
	}
	for (int b = 0; b < RADIX_PASSES; b++)
	{
		int64	   *c = count + b * RADIX_SIZE;
		int64		off = 0;
		bool		uniform = false;

		CHECK_FOR_INTERRUPTS();
		for (int v = 0; v < RADIX_SIZE; v++)
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
			dst[c[(src[i].key >> (RADIX_BITS * b)) & RADIX_MASK]++] = src[i];
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
