/*-------------------------------------------------------------------------
 *
 * clv_fit.c
 *	  The final functions of the fit aggregates: maximum-likelihood fits
 *	  of the CLV models over collapsed customer patterns: BG/NBD (Fader,
 *	  Hardie & Lee 2005), modified BG/NBD (Batislam, Denizel & Filiztekin
 *	  2007), Pareto/NBD (Schmittlein, Morrison & Colombo 1987; Fader &
 *	  Hardie 2005 note), BG/BB (Fader, Hardie & Shang 2010) and
 *	  Gamma-Gamma spend (Fader, Hardie & Lee 2005, "RFM and CLV").
 *
 * This file is the driver, generic over the table of models
 * (clv_models.c): it reads a state, sets up the likelihood data, runs the
 * optimiser from each of the model's start values and builds the model
 * composite; the likelihoods themselves are in the models' files.
 *
 * The log-likelihoods are those of the papers in the data's own time
 * unit (no rescaling), written in log space.  Parameters are optimised on
 * the log scale with clm_optim_minimize (BFGS, Nelder-Mead fallback) on
 * the mean negative log-likelihood plus lifetimes' L2 penalty
 * penalizer * sum(theta^2); loglik reports the unpenalised value.
 * Every likelihood comes with its analytic gradient in the log-parameters
 * (clm.clv_loglik_gradient exposes both, for checks against finite
 * differences).  Gamma-Gamma uses Newton's method on its analytic Hessian
 * instead (clm_optim_newton; clv_gg_minimize), and its standard errors come from
 * that Hessian.  Terms depending only on the frequency are computed once
 * per distinct frequency.
 *
 * IDENTIFICATION
 *	  src/clv_fit.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

#include "clm.h"
#include "clv_math.h"
#include "optim.h"

/* a log-parameter beyond this bound counts as running off to 0 or infinity */
#define LOGPARAM_BOUND 23.0

PG_FUNCTION_INFO_V1(clm_bgnbd_final);
PG_FUNCTION_INFO_V1(clm_mbgnbd_final);
PG_FUNCTION_INFO_V1(clm_pareto_nbd_final);
PG_FUNCTION_INFO_V1(clm_bgbb_final);
PG_FUNCTION_INFO_V1(clm_gamma_gamma_final);
PG_FUNCTION_INFO_V1(clm_clv_loglik_gradient);

/*
 * Set up the likelihood data of a state's patterns (sorted in place unless
 * already sorted): frequency groups, weights, and the per-model indexes.
 * Shared by the fits and clm.clv_loglik_gradient.
 */
static void
FitDataInit(FitData *fd, ClvData *data)
{
	int32		i;

	if (!data->sorted)
		clv_sort_patterns(data->pat, data->npat);
	memset(fd, 0, sizeof(*fd));
	fd->kind = data->kind;
	fd->npat = data->npat;
	fd->pat = data->pat;
	fd->penalizer = data->penalizer;
	fd->gstart = palloc((data->npat + 1) * sizeof(int32));
	for (i = 0; i < data->npat; i++)
	{
		if (i == 0 || data->pat[i].x != data->pat[i - 1].x)
			fd->gstart[fd->ngroups++] = i;
		fd->wsum += data->pat[i].w;
	}
	fd->gstart[fd->ngroups] = data->npat;
	if (clv_model(data->kind)->prepare)
		clv_model(data->kind)->prepare(fd);
}

/*
 * Fit the data's model and build its composite value:
 * (params..., loglik, n, iterations, converged, params' se..., patterns).
 */
static Datum
ClvFit(FunctionCallInfo fcinfo, ClvData *data)
{
	const ClvModel *m = clv_model(data->kind);
	FitData		fd;
	ClmObjectiveFn fn = m->nll;
	ClmOptimOptions opt;
	ClmOptimResult res,
				best;
	int			np = m->nparams;
	double		starts[CLV_NSTARTS][CLV_MAX_PARAMS];
	double		x[CLV_MAX_PARAMS],
				bestx[CLV_MAX_PARAMS],
				se[CLV_MAX_PARAMS];
	double		sumx = 0,
				sumT = 0,
				summ = 0,
				rate,
				tbar,
				mbar,
				ll,
				pen_saved;
	bool		any_repeat = false,
				have_best = false,
				se_ok;
	int32		i,
				k;
	TupleDesc	tupdesc;
	Datum		values[2 * CLV_MAX_PARAMS + 5];
	bool		nulls[2 * CLV_MAX_PARAMS + 5] = {0};
	int			col = 0;

	FitDataInit(&fd, data);
	for (i = 0; i < data->npat; i++)
	{
		const ClvPattern *p = &data->pat[i];

		sumx += p->w * p->x;
		sumT += p->w * p->T;
		summ += p->w * p->tx;
		if (p->x > 0)
			any_repeat = true;
	}

	if (!(fd.wsum > 0))
	{
		/* no weight (states never hold weight-0 patterns): as for no rows */
		fcinfo->isnull = true;
		return (Datum) 0;
	}
	if (!any_repeat)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot fit %s: no customer has a repeat purchase",
						clv_kind_name(data->kind)),
				 errhint("The purchase and dropout parameters are not identified when every frequency is 0; frequency counts repeat purchases (periods after the first).")));

	/* the model's starts, scaled to the data (see ClvStartScale) */
	rate = (sumx > 0 && sumT > 0) ? sumx / sumT : 1.0;
	tbar = sumT / fd.wsum > 0 ? sumT / fd.wsum : 1.0;
	mbar = summ / fd.wsum;
	for (k = 0; k < CLV_NSTARTS; k++)
		for (i = 0; i < np; i++)
		{
			double		v = m->starts[k][i];

			switch (m->start_scale[i])
			{
				case CLV_START_FIXED:
					break;
				case CLV_START_PER_RATE:
					v = v / rate;
					break;
				case CLV_START_MEAN_T:
					v = v * tbar;
					break;
				case CLV_START_MEAN_SPEND:
					v = v * mbar;
					break;
			}
			starts[k][i] = v;
		}

	clm_optim_defaults(&opt);
	opt.analytic_grad = true;
	memset(&best, 0, sizeof(best));
	for (k = 0; k < CLV_NSTARTS; k++)
	{
		bool		inside = true;

		for (i = 0; i < np; i++)
			x[i] = log(starts[k][i]);
		if (m->minimize)
			res = m->minimize(&fd, x, &opt);
		else
			res = clm_optim_minimize(fn, &fd, np, x, &opt);
		for (i = 0; i < np; i++)
			if (fabs(x[i]) > LOGPARAM_BOUND)
				inside = false;
		if (!inside && res.converged)
		{
			res.converged = false;
			res.message = "a parameter ran off to 0 or infinity";
		}
		if (isfinite(res.f) &&
			(!have_best || (res.converged && !best.converged) ||
			 (res.converged == best.converged && res.f < best.f)))
		{
			best = res;
			memcpy(bestx, x, sizeof(x));
			have_best = true;
		}
		if (best.converged)
			break;
	}
	if (!have_best)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("cannot fit %s: the likelihood cannot be evaluated at any start",
						clv_kind_name(data->kind)),
				 errhint("Check the scale of the inputs (recency and t in a sensible time unit).")));

	/* unpenalised log-likelihood in the data's own unit */
	pen_saved = fd.penalizer;
	fd.penalizer = 0;
	ll = -fn(bestx, NULL, &fd) * fd.wsum;
	fd.penalizer = pen_saved;
	if (m->nll_hessian)
	{
		double		g[CLV_MAX_PARAMS],
					h[CLV_MAX_PARAMS * CLV_MAX_PARAMS];

		se_ok = best.converged && isfinite(m->nll_hessian(&fd, bestx, g, h)) &&
			clm_optim_stderr_from_hessian(np, bestx, h, fd.wsum, se);
	}
	else
		se_ok = best.converged &&
			clm_optim_stderr_log(fn, &fd, np, bestx, &opt, fd.wsum, se);
	if (best.converged && !se_ok)
	{
		/* a stationary point on a ridge: the parameters are not identified */
		best.converged = false;
		best.message = "the likelihood is flat in some direction at the optimum (the data do not identify all parameters)";
	}

	if (!best.converged)
		ereport(WARNING,
				(errmsg("%s fit did not converge after %d iterations",
						clv_kind_name(data->kind), best.iterations),
				 errdetail("The optimizer stopped: %s.", best.message),
				 errhint("The data may not identify the model (too few customers or repeat purchases); a penalizer > 0 stabilises the fit.")));

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "clm: model fit must return a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	if (tupdesc->natts != 2 * np + 5)
		elog(ERROR, "clm: unexpected model row type");
	for (i = 0; i < np; i++)
		values[col++] = Float8GetDatum(exp(bestx[i]));
	values[col++] = Float8GetDatum(ll);
	values[col++] = Float8GetDatum(fd.wsum);
	values[col++] = Int32GetDatum(best.iterations);
	values[col++] = BoolGetDatum(best.converged);
	for (i = 0; i < np; i++)
	{
		nulls[col] = !se_ok;
		values[col++] = Float8GetDatum(se_ok ? se[i] : 0);
	}
	values[col++] = Int32GetDatum(data->npat);
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

/*
 * Final function of every fit aggregate: NULL for no input, else the
 * fitted model composite.  Also callable on a stored state value (e.g. a
 * rollup of states), which must then be of the same model.
 */
static Datum
ClvFinal(FunctionCallInfo fcinfo, ClvKind kind)
{
	ClvData		d;
	ClvPattern *copy;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	clv_state_data(PG_GETARG_DATUM(0), &d);
	if (d.kind != kind)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot fit a %s model to a %s fit state",
						clv_kind_name(kind), clv_kind_name(d.kind))));
	if (d.npat == 0)
		PG_RETURN_NULL();
	/* the fit sorts the patterns: work on a copy, the state stays as is */
	if (!d.sorted && !(d.sorted = clv_patterns_sorted(d.pat, d.npat)))
	{
		copy = palloc(d.npat * sizeof(ClvPattern));
		memcpy(copy, d.pat, d.npat * sizeof(ClvPattern));
		d.pat = copy;
	}
	return ClvFit(fcinfo, &d);
}

/*
 * Final function of clm.bgnbd_fit.
 */
Datum
clm_bgnbd_final(PG_FUNCTION_ARGS)
{
	return ClvFinal(fcinfo, CLV_BGNBD);
}

/*
 * Final function of clm.mbgnbd_fit.
 */
Datum
clm_mbgnbd_final(PG_FUNCTION_ARGS)
{
	return ClvFinal(fcinfo, CLV_MBGNBD);
}

/*
 * Final function of clm.pareto_nbd_fit.
 */
Datum
clm_pareto_nbd_final(PG_FUNCTION_ARGS)
{
	return ClvFinal(fcinfo, CLV_PARETO);
}

/*
 * Final function of clm.bgbb_fit.
 */
Datum
clm_bgbb_final(PG_FUNCTION_ARGS)
{
	return ClvFinal(fcinfo, CLV_BGBB);
}

/*
 * Final function of clm.gamma_gamma_fit.
 */
Datum
clm_gamma_gamma_final(PG_FUNCTION_ARGS)
{
	return ClvFinal(fcinfo, CLV_GG);
}

/*
 * clm.clv_loglik_gradient(state, params): the model's log-likelihood over
 * a fit state's customers at the given parameters (natural scale, in the
 * order of the model type's fields) and its analytic gradient, one row
 * per parameter: (parameter, value, loglik, gradient = dloglik/dparameter).
 * Unpenalised, in the data's own unit, as the fits' loglik.  The same
 * functions the fits minimise, so it checks them against finite
 * differences.
 */
Datum
clm_clv_loglik_gradient(PG_FUNCTION_ARGS)
{
	const ClvModel *m;
	const char *const *names;
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(1);
	ClvData		data;
	FitData		fd;
	Datum	   *elems;
	bool	   *enulls;
	int			nelems,
				np,
				i;
	double		lp[CLV_MAX_PARAMS],
				theta[CLV_MAX_PARAMS],
				grad[CLV_MAX_PARAMS] = {0},
				ll = 0;

	InitMaterializedSRF(fcinfo, 0);
	clv_state_data(PG_GETARG_DATUM(0), &data);
	m = clv_model(data.kind);
	names = m->params;
	np = m->nparams;
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("params must be a one-dimensional array")));
	deconstruct_array(arr, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &elems, &enulls, &nelems);
	if (nelems != np)
	{
		StringInfoData list;

		initStringInfo(&list);
		for (i = 0; i < np; i++)
			appendStringInfo(&list, "%s%s", i > 0 ? ", " : "", names[i]);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a %s model has %d parameters, got %d",
						clv_kind_name(data.kind), np, nelems),
				 errhint("Pass the parameters in the order of the model type's fields (%s).",
						 list.data)));
	}
	for (i = 0; i < np; i++)
	{
		double		v;

		if (enulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("parameter %s must not be NULL", names[i])));
		v = DatumGetFloat8(elems[i]);
		clm_check_finite(v, psprintf("parameter %s", names[i]));
		if (!(v > 0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("parameter %s must be positive", names[i]),
					 errdetail("Got %g.", v)));
		theta[i] = v;
		lp[i] = log(v);
	}
	if (data.npat > 0)
	{
		double		f;
		ClvPattern *copy = palloc(data.npat * sizeof(ClvPattern));

		/* sorted in place: work on a copy */
		memcpy(copy, data.pat, data.npat * sizeof(ClvPattern));
		data.pat = copy;
		FitDataInit(&fd, &data);
		fd.penalizer = 0;		/* the unpenalised log-likelihood */
		f = m->nll(lp, grad, &fd);
		for (i = 0; i < np; i++)
			if (!isfinite(grad[i]))
				f = NAN;
		if (!isfinite(f))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("the %s log-likelihood cannot be evaluated at these parameters",
							clv_kind_name(data.kind)),
					 errhint("The parameters are too extreme for the data (overflow).")));
		ll = -f * fd.wsum;
		for (i = 0; i < np; i++)
			grad[i] = -grad[i] * fd.wsum / theta[i];
	}
	for (i = 0; i < np; i++)
	{
		Datum		values[4];
		bool		nulls[4] = {0};

		values[0] = CStringGetTextDatum(names[i]);
		values[1] = Float8GetDatum(theta[i]);
		values[2] = Float8GetDatum(ll);
		values[3] = Float8GetDatum(grad[i]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
