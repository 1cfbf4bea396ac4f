/*-------------------------------------------------------------------------
 *
 * period.h
 *	  Calendar periods (hour .. year) of timestamptz values in a time zone.
 *
 * A period is identified by an int64 index that grows by one from each
 * period to the next, so period arithmetic is integer arithmetic.  Local
 * offsets are looked up through a small cache of UTC-offset intervals, so
 * bucketing millions of rows costs a few integer operations per row.
 * (The header of serialized states that carry a period unit is in
 * varstate.h, with the other state helpers.)
 *
 * IDENTIFICATION
 *	  src/period.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLM_PERIOD_H
#define CLM_PERIOD_H

#include "postgres.h"
#include "datatype/timestamp.h"
#include "lib/stringinfo.h"
#include "pgtime.h"

typedef enum ClmPeriodUnit
{
	CLM_HOUR = 0,
	CLM_DAY,
	CLM_WEEK,					/* ISO week, starting on Monday */
	CLM_MONTH,
	CLM_QUARTER,
	CLM_YEAR
} ClmPeriodUnit;

#define CLM_TZCACHE_SIZE 16
#define CLM_DAYMAP_DAYS 2048	/* 5.6 years of days */

/*
 * Intervals [lo, hi) of pg_time_t with a constant UTC offset, and, once a
 * cache has bucketed enough rows by month, quarter or year, the month of
 * each day of a window around the days seen.
 */
typedef struct ClmTzCache
{
	pg_tz	   *tz;
	int			n;
	int			next;			/* slot replaced next when full */
	pg_time_t	lo[CLM_TZCACHE_SIZE];
	pg_time_t	hi[CLM_TZCACHE_SIZE];
	long		gmtoff[CLM_TZCACHE_SIZE];
	int32		daymap_calls;	/* month lookups before the map was built */
	int64		daymap_lo;		/* first day of the map (days from 2000) */
	int64		daymap_month0;	/* month index of daymap_lo */
	uint8		daymap[CLM_DAYMAP_DAYS];	/* month - daymap_month0 */
} ClmTzCache;

extern ClmPeriodUnit clm_period_parse(const char *name, const char *what);
extern ClmPeriodUnit clm_period_parse_text(text *t, const char *what);
extern const char *clm_period_name(ClmPeriodUnit unit);
extern void clm_tzcache_init(ClmTzCache *cache, pg_tz *tz);
extern pg_tz *clm_tz_lookup(text *zone);
extern int64 clm_period_index(ClmTzCache *cache, TimestampTz ts, ClmPeriodUnit unit);
extern TimestampTz clm_period_start(pg_tz *tz, int64 index, ClmPeriodUnit unit);
extern double clm_period_span(pg_tz *tz, int64 from, int64 to,
							  ClmPeriodUnit period, ClmPeriodUnit unit);
extern void clm_check_timestamp(TimestampTz ts, const char *what);

#endif							/* CLM_PERIOD_H */
