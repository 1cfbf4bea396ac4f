/*-------------------------------------------------------------------------
 *
 * period.c
 *	  Bucketing of timestamptz values into calendar periods.
 *
 * Periods are computed on local time in a given time zone.  Day and longer
 * periods follow the local calendar, so a day that is 23 or 25 hours long
 * because of a DST change is still one day.  Hour periods follow absolute
 * time aligned to the zone's local hour boundaries, so the repeated local
 * hour of a DST fall-back is two distinct periods.
 *
 * IDENTIFICATION
 *	  src/period.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "period.h"

static const char *const period_names[] = {
	"hour", "day", "week", "month", "quarter", "year"
};

/* seconds between the Unix epoch and the PostgreSQL epoch (2000-01-01) */
#define CLM_EPOCH_DIFF_SECS \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY)

/* mean Gregorian month, in days, for day-based periods expressed in months */
#define CLM_DAYS_PER_MONTH 30.436875

/* floor division for possibly negative numerators */
static inline int64
FloorDiv(int64 a, int64 b)
{
	int64		q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/*
 * Parse a period unit name; "what" names the argument in the error.
 */
ClmPeriodUnit
clm_period_parse(const char *name, const char *what)
{
	int			i;

	for (i = 0; i < (int) lengthof(period_names); i++)
	{
		if (pg_strcasecmp(name, period_names[i]) == 0)
			return (ClmPeriodUnit) i;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown %s \"%s\"", what, name),
			 errhint("Valid units are hour, day, week, month, quarter and year.")));
	pg_unreachable();
}

ClmPeriodUnit
clm_period_parse_text(text *t, const char *what)
{
	char	   *s = text_to_cstring(t);
	ClmPeriodUnit u = clm_period_parse(s, what);

	pfree(s);
	return u;
}

const char *
clm_period_name(ClmPeriodUnit unit)
{
	Assert(unit >= CLM_HOUR && unit <= CLM_YEAR);
	return period_names[unit];
}

/*
 * Look up a time zone by name, as the AT TIME ZONE operator does for named
 * zones.
 */
pg_tz *
clm_tz_lookup(text *zone)
{
	char	   *name = text_to_cstring(zone);
	pg_tz	   *tz = pg_tzset(name);

	if (tz == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time zone \"%s\" not recognized", name),
				 errhint("Use a name from pg_timezone_names, such as 'Europe/Berlin' or 'UTC'.")));
	pfree(name);
	return tz;
}

/*
 * Reject infinite timestamps, which belong to no period.
 */
void
clm_check_timestamp(TimestampTz ts, const char *what)
{
	if (TIMESTAMP_NOT_FINITE(ts))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("%s must be a finite timestamp", what),
				 errdetail("Infinite timestamps belong to no period.")));
}

void
clm_tzcache_init(ClmTzCache *cache, pg_tz *tz)
{
	cache->tz = tz;
	cache->n = 0;
	cache->next = 0;
	cache->daymap_calls = 0;
	cache->daymap_lo = PG_INT64_MAX / 2;	/* no day maps into the empty map */
}

/*
 * UTC offset (seconds east of Greenwich) in effect at time t.
 *
 * pg_next_dst_boundary() tells the offset at t and the instant it ends; we
 * remember [t, end) and widen the interval downwards as earlier instants
 * with the same end are seen, so random input converges to a handful of
 * cached intervals.
 */
static long
TzOffset(ClmTzCache *cache, pg_time_t t)
{
	long		before_gmtoff,
				after_gmtoff;
	int			before_isdst,
				after_isdst;
	pg_time_t	boundary;
	int			i,
				r;

	for (i = 0; i < cache->n; i++)
	{
		if (t >= cache->lo[i] && t < cache->hi[i])
			return cache->gmtoff[i];
	}

	r = pg_next_dst_boundary(&t, &before_gmtoff, &before_isdst, &boundary,
							 &after_gmtoff, &after_isdst, cache->tz);
	if (r < 0)
	{
		struct pg_tm *tm = pg_localtime(&t, cache->tz);

		if (tm == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("timestamp out of range for time zone")));
		return tm->tm_gmtoff;
	}
	if (r == 0)
		boundary = PG_INT64_MAX;

	for (i = 0; i < cache->n; i++)
	{
		if (cache->hi[i] == boundary && cache->gmtoff[i] == before_gmtoff)
		{
			if (t < cache->lo[i])
				cache->lo[i] = t;
			return before_gmtoff;
		}
	}

	if (cache->n < CLM_TZCACHE_SIZE)
		i = cache->n++;
	else
	{
		i = cache->next;
		cache->next = (cache->next + 1) % CLM_TZCACHE_SIZE;
	}
	cache->lo[i] = t;
	cache->hi[i] = boundary;
	cache->gmtoff[i] = before_gmtoff;
	return before_gmtoff;
}

/*
 * Month index (year * 12 + month - 1) of a day counted from 2000-01-01, in
 * the proleptic Gregorian calendar.  Same result as j2date, inline and
 * without a call: bucketing rows by month spends its time here.  Counting
 * from 0000-03-01 puts the leap day at the end of each "year", so the
 * month of a day of that year is (5 * doy + 2) / 153 (0 = March).
 */
static inline int64
MonthOfDay(int64 day)
{
	int64		z = day + 730425;	/* days since 0000-03-01 */
	int64		era = FloorDiv(z, 146097);	/* 400-year cycles */
	uint32		doe = (uint32) (z - era * 146097);	/* day of the era */
	uint32		yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	uint32		doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	uint32		mp = (5 * doy + 2) / 153;	/* 0 = March .. 11 = February */

	/* year era * 400 + yoe from March: January is month 10 of that year */
	return (era * 400 + yoe) * 12 + mp + 2;
}

/*
 * Month index of a day through the cache's day map.  The map (2 kB) is
 * built after CLM_DAYMAP_AFTER lookups, so that one-off calls do not pay for
 * it, around the day being looked up; days outside it are computed.
 */
#define CLM_DAYMAP_AFTER 256

static inline int64
CachedMonthOfDay(ClmTzCache *cache, int64 day)
{
	uint64		off = (uint64) (day - cache->daymap_lo);
	int64		i;

	if (off < CLM_DAYMAP_DAYS)
		return cache->daymap_month0 + cache->daymap[off];
	if (cache->daymap_calls < CLM_DAYMAP_AFTER &&
		++cache->daymap_calls == CLM_DAYMAP_AFTER)
	{
		int64		lo = day - CLM_DAYMAP_DAYS / 2;

		cache->daymap_month0 = MonthOfDay(lo);
		for (i = 0; i < CLM_DAYMAP_DAYS; i++)
			cache->daymap[i] = (uint8) (MonthOfDay(lo + i) - cache->daymap_month0);
		cache->daymap_lo = lo;
	}
	return MonthOfDay(day);
}

/*
 * Index of the period that contains ts.
 */
int64
clm_period_index(ClmTzCache *cache, TimestampTz ts, ClmPeriodUnit unit)
{
	int64		secs = FloorDiv(ts, USECS_PER_SEC);
	long		gmtoff = TzOffset(cache, (pg_time_t) (secs + CLM_EPOCH_DIFF_SECS));
	int64		local = secs + gmtoff;	/* local seconds since 2000-01-01 */
	int64		day,
				month;

	switch (unit)
	{
		case CLM_HOUR:
			/* absolute hours, aligned to the zone's local hour boundary */
			return FloorDiv(secs + ((gmtoff % 3600) + 3600) % 3600, 3600);
		case CLM_DAY:
			return FloorDiv(local, SECS_PER_DAY);
		case CLM_WEEK:
			/* 2000-01-01 is a Saturday; the ISO week began on 1999-12-27 */
			day = FloorDiv(local, SECS_PER_DAY);
			return FloorDiv(day + 5, 7);
		default:
			break;
	}
	month = CachedMonthOfDay(cache, FloorDiv(local, SECS_PER_DAY));
	switch (unit)
	{
		case CLM_MONTH:
			return month;
		case CLM_QUARTER:
			return FloorDiv(month, 3);
		case CLM_YEAR:
			return FloorDiv(month, 12);
		default:
			elog(ERROR, "unexpected period unit %d", (int) unit);
	}
	pg_unreachable();
}

/*
 * Local calendar day (days since 2000-01-01) on which a day-or-longer
 * period begins.
 */
static int64
PeriodStartDay(int64 index, ClmPeriodUnit unit)
{
	switch (unit)
	{
		case CLM_DAY:
			return index;
		case CLM_WEEK:
			return index * 7 - 5;
		case CLM_MONTH:
			return date2j((int) FloorDiv(index, 12), (int) (index - FloorDiv(index, 12) * 12) + 1, 1)
				- POSTGRES_EPOCH_JDATE;
		case CLM_QUARTER:
			return date2j((int) FloorDiv(index, 4), (int) (index - FloorDiv(index, 4) * 4) * 3 + 1, 1)
				- POSTGRES_EPOCH_JDATE;
		case CLM_YEAR:
			return date2j((int) index, 1, 1) - POSTGRES_EPOCH_JDATE;
		default:
			elog(ERROR, "unexpected period unit %d", (int) unit);
	}
	pg_unreachable();
}

/*
 * The instant at which period "index" begins, in zone tz.
 */
TimestampTz
clm_period_start(pg_tz *tz, int64 index, ClmPeriodUnit unit)
{
	struct pg_tm tm;
	int			y,
				m,
				d;
	int			tzoff;
	int64		day;
	Timestamp	result;

	if (unit == CLM_HOUR)
	{
		ClmTzCache cache;
		int64		secs = index * 3600;
		long		gmtoff;

		clm_tzcache_init(&cache, tz);
		gmtoff = TzOffset(&cache, (pg_time_t) (secs + CLM_EPOCH_DIFF_SECS));
		secs -= ((gmtoff % 3600) + 3600) % 3600;

		/*
		 * When the offset changes by a fraction of an hour inside the
		 * period (Asia/Kathmandu in 1986, Australia/Lord_Howe's half-hour
		 * DST), the instant found this way still belongs to the previous
		 * period, under the offset in effect there: the period begins at
		 * the change.
		 */
		if (IS_VALID_TIMESTAMP((TimestampTz) secs * USECS_PER_SEC) &&
			clm_period_index(&cache, (TimestampTz) secs * USECS_PER_SEC, CLM_HOUR) < index)
		{
			pg_time_t	t = (pg_time_t) (secs + CLM_EPOCH_DIFF_SECS),
						boundary;
			long		before_gmtoff,
						after_gmtoff;
			int			before_isdst,
						after_isdst;

			if (pg_next_dst_boundary(&t, &before_gmtoff, &before_isdst, &boundary,
									 &after_gmtoff, &after_isdst, tz) == 1)
				secs = (int64) boundary - CLM_EPOCH_DIFF_SECS;
		}
		/* the hour of the first valid instant can begin before it */
		if (!IS_VALID_TIMESTAMP((TimestampTz) secs * USECS_PER_SEC))
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("timestamp out of range")));
		return (TimestampTz) secs * USECS_PER_SEC;
	}

	day = PeriodStartDay(index, unit);
	j2date((int) (day + POSTGRES_EPOCH_JDATE), &y, &m, &d);
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y;
	tm.tm_mon = m;
	tm.tm_mday = d;
	tzoff = DetermineTimeZoneOffset(&tm, tz);
	if (tm2timestamp(&tm, 0, &tzoff, &result) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));

	/*
	 * When local midnight occurs twice (a DST fall-back from 01:00 to 00:00,
	 * as in America/Havana), DetermineTimeZoneOffset picks the later instant
	 * (so does date_trunc), but the period began at the earlier one: under
	 * the offset in effect a second before, midnight is earlier and still in
	 * the period.
	 */
	if (result - USECS_PER_SEC >= MIN_TIMESTAMP)
	{
		ClmTzCache	cache;
		long		gmtoff;
		TimestampTz earlier;

		clm_tzcache_init(&cache, tz);
		gmtoff = TzOffset(&cache, (pg_time_t) (FloorDiv(result, USECS_PER_SEC) - 1 +
											   CLM_EPOCH_DIFF_SECS));
		earlier = ((TimestampTz) day * SECS_PER_DAY - gmtoff) * USECS_PER_SEC;
		if (earlier < result && IS_VALID_TIMESTAMP(earlier) &&
			clm_period_index(&cache, earlier, unit) == index)
			result = earlier;
	}
	return (TimestampTz) result;
}

/* length of a fixed unit in hours, or 0 for calendar units */
static int
FixedHours(ClmPeriodUnit unit)
{
	switch (unit)
	{
		case CLM_HOUR:
			return 1;
		case CLM_DAY:
			return 24;
		case CLM_WEEK:
			return 168;
		default:
			return 0;
	}
}

/* length of a calendar unit in months */
static int
CalendarMonths(ClmPeriodUnit unit)
{
	switch (unit)
	{
		case CLM_MONTH:
			return 1;
		case CLM_QUARTER:
			return 3;
		case CLM_YEAR:
			return 12;
		default:
			return 0;
	}
}

/*
 * Time from the start of period "from" to the start of period "to", both of
 * unit "period", expressed in "unit".
 *
 * Same unit: the number of periods.  Hour/day/week into one another: exact
 * ratios (a day is 24 hours, a week 7 days).  Month/quarter/year into one
 * another: exact ratios in months.  Calendar periods into fixed units: the
 * local calendar days between the two period starts.  Fixed periods into
 * calendar units: days divided by the mean Gregorian month (30.436875 days).
 */
double
clm_period_span(pg_tz *tz, int64 from, int64 to, ClmPeriodUnit period, ClmPeriodUnit unit)
{
	int			ph = FixedHours(period),
				uh = FixedHours(unit);
	double		days;

	if (period == unit)
		return (double) (to - from);
	if (ph && uh)
		return (double) (to - from) * ph / uh;
	if (!ph && !uh)
		return (double) (to - from) * CalendarMonths(period) / CalendarMonths(unit);
	if (!ph)
	{
		/* calendar period, fixed unit */
		days = (double) (PeriodStartDay(to, period) - PeriodStartDay(from, period));
		return days * 24.0 / uh;
	}
	/* fixed period, calendar unit */
	days = (double) (to - from) * ph / 24.0;
	return days / (CLM_DAYS_PER_MONTH * CalendarMonths(unit));
}
