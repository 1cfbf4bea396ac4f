/*-------------------------------------------------------------------------
 *
 * period.h
 *	  Calendar periods (hour .. year) of timestamptz values in a time zone.
 *
 * A period is identified by an int64 index that grows by one from each
 * period to the next, so period arithmetic is integer arithmetic.  Local
 * offsets are looked up through a small cache of UTC-offset intervals, so
 * bucketing millions of rows costs a few integer operations per row.
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

/* Intervals [lo, hi) of pg_time_t with a constant UTC offset */
typedef struct ClmTzCache
{
	pg_tz	   *tz;
	int			n;
	int			next;			/* slot replaced next when full */
	pg_time_t	lo[CLM_TZCACHE_SIZE];
	pg_time_t	hi[CLM_TZCACHE_SIZE];
	long		gmtoff[CLM_TZCACHE_SIZE];
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
