/*-------------------------------------------------------------------------
 *
 * optim.h
 *	  Small deterministic unconstrained minimiser shared by clm's model
 *	  fits (CLV models, subscription/sBG models): BFGS with a strong-Wolfe
 *	  line search, restarts and a Nelder-Mead fallback, plus a numerical
 *	  Hessian and standard errors; a safeguarded Newton's method for
 *	  objectives with an analytic Hessian.
 *
 * Usage
 *	  Parametrise positive parameters by their logarithm (x = log theta)
 *	  so the problem is unconstrained, and write the objective as the
 *	  NEGATIVE log-likelihood divided by a scale (usually the total
 *	  weight, so the objective is O(1) and the default tolerances apply):
 *
 *		static double
 *		MyNll(const double *x, double *grad, void *arg)
 *		{
 *			... return -loglik(exp(x)) / total_weight;  (and fill grad
 *			... if grad != NULL and you have an analytic gradient)
 *		}
 *
 *		ClmOptimOptions opt;
 *		ClmOptimResult res;
 *		double		x[4] = {log(r0), log(alpha0), ...};
 *		double		se[4];
 *
 *		clm_optim_defaults(&opt);
 *		opt.analytic_grad = false;		(central differences)
 *		res = clm_optim_minimize(MyNll, &data, 4, x, &opt);
 *		loglik = -res.f * total_weight;
 *		clm_optim_stderr_log(MyNll, &data, 4, x, &opt, total_weight, se);
 *
 *	  The objective returns +INFINITY or NaN where it cannot be evaluated
 *	  (overflow, outside the domain); the line search then backs off.  It
 *	  must be deterministic and must not ereport for such points.  The
 *	  minimiser calls CHECK_FOR_INTERRUPTS() every iteration and allocates
 *	  nothing (all work arrays live on the stack; n <= CLM_OPTIM_MAX_DIM).
 *
 * IDENTIFICATION
 *	  src/optim.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLM_OPTIM_H
#define CLM_OPTIM_H

#include <stdbool.h>

#define CLM_OPTIM_MAX_DIM 8

/*
 * Objective: returns f(x); when grad is not NULL and the options say
 * analytic_grad, it also stores the gradient df/dx in grad[0..n-1].
 */
typedef double (*ClmObjectiveFn) (const double *x, double *grad, void *arg);

typedef struct ClmOptimOptions
{
	int			max_iter;		/* BFGS iterations (default 1000) */
	double		gtol;			/* converged when max|g_i| <= gtol (1e-7) */
	double		ftol;			/* stall: relative f decrease below this (1e-15) */
	bool		analytic_grad;	/* objective fills grad (default false) */
	double		fd_step;		/* relative step of central differences (1e-6) */
	double		fd_forward_above;	/* numerical gradient: forward differences
									 * (half the evaluations) while the last
									 * max|g| exceeded this; 0 = always central
									 * (default 0) */
} ClmOptimOptions;

typedef struct ClmOptimResult
{
	double		f;				/* objective at the returned x */
	double		grad_max;		/* max |gradient| at the returned x */
	int			iterations;		/* BFGS + Nelder-Mead iterations */
	int			evaluations;	/* objective evaluations */
	bool		converged;		/* gradient test passed at a finite f */
	const char *message;		/* static text: why it stopped */
} ClmOptimResult;

/* fill opt with the defaults above */
extern void clm_optim_defaults(ClmOptimOptions *opt);

/*
 * Minimise fn from the start x[0..n-1] (overwritten with the best point
 * found; never with NaN).  Returns converged = false (with a message)
 * when the gradient test was not met within max_iter, when the start is
 * not finite, or when the line search could no longer make progress far
 * from a stationary point.
 */
extern ClmOptimResult clm_optim_minimize(ClmObjectiveFn fn, void *arg, int n,
										 double *x, const ClmOptimOptions *opt);

/* f(x) and its gradient (analytic or central differences per opt) */
extern double clm_optim_value_grad(ClmObjectiveFn fn, void *arg, int n,
								   const double *x, double *grad,
								   const ClmOptimOptions *opt);

/*
 * Hessian of fn at x (row-major n*n, symmetrised): central differences of
 * the analytic gradient, or of function values when the gradient is
 * numerical.  Returns false if some evaluation was not finite.
 */
extern bool clm_optim_hessian(ClmObjectiveFn fn, void *arg, int n,
							  const double *x, const ClmOptimOptions *opt,
							  double *hess);

/*
 * Inverse of a symmetric positive-definite n*n matrix by Cholesky.
 * Returns false (inv untouched) when the matrix is not positive definite.
 */
extern bool clm_optim_spd_inverse(int n, const double *a, double *inv);

/*
 * Standard errors of theta = exp(x) at a minimum of fn = -loglik / scale:
 * the observed information of the log-likelihood is scale * Hessian, and
 * by the delta method se(theta_i) = theta_i * sqrt([(scale*H)^-1]_ii).
 * Stores NaN in se[] and returns false when the Hessian is not positive
 * definite (callers should then report NULL standard errors).
 */
extern bool clm_optim_stderr_log(ClmObjectiveFn fn, void *arg, int n,
								 const double *x, const ClmOptimOptions *opt,
								 double scale, double *se);

/*
 * Objective with its Hessian: returns f(x); when grad / hess are not NULL
 * also stores the gradient and the Hessian (row-major n*n, symmetric).
 */
typedef double (*ClmObjectiveHessFn) (const double *x, double *grad,
									  double *hess, void *arg);

/*
 * Safeguarded Newton's method from x (overwritten with the best point
 * found): Newton steps on the analytic Hessian, shifted towards steepest
 * descent (H + tau I) while it is not positive definite, at most 2 per
 * coordinate, with a backtracking (Armijo) line search.  One evaluation
 * (f, gradient and Hessian together) per accepted full step.  Same
 * convergence test as clm_optim_minimize (max|g| <= opt->gtol, at most
 * opt->max_iter iterations); returns converged = false with a message when
 * it cannot make progress, so that callers can fall back to BFGS.
 */
extern ClmOptimResult clm_optim_newton(ClmObjectiveHessFn fn, void *arg, int n,
									   double *x, const ClmOptimOptions *opt);

/*
 * Standard errors of theta = exp(x) from a given Hessian of fn =
 * -loglik / scale in x (as clm_optim_stderr_log, without differencing).
 */
extern bool clm_optim_stderr_from_hessian(int n, const double *x,
										  const double *hess, double scale,
										  double *se);

#endif							/* CLM_OPTIM_H */
