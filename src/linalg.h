/*-------------------------------------------------------------------------
 *
 * linalg.h
 *	  Small dense linear algebra on symmetric matrices for clm's regression
 *	  fits (logistic regression, Cox proportional hazards): Cholesky
 *	  factorisation with a pivot check that names the first dependent
 *	  column, solves and inverses from the factor, symmetric eigenvalues
 *	  (cyclic Jacobi) for condition numbers, and the two-sided normal
 *	  p-value, and a Newton driver for concave log-likelihoods.  Plain C on
 *	  doubles, row-major n*n arrays; no palloc, no ereport: the callers
 *	  decide which error to raise.
 *
 * IDENTIFICATION
 *	  src/linalg.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLM_LINALG_H
#define CLM_LINALG_H

#include <stdbool.h>

/*
 * Cholesky factor L (lower triangle, row-major, n*n; the upper triangle is
 * zeroed) of the symmetric matrix a, so that a = L L'.  Column j counts as
 * linearly dependent on the columns before it when its pivot (the squared
 * residual of column j after projecting out the earlier ones) is at most
 * rel_tol times a[j][j], or not positive.  Returns -1 on success, else the
 * index of the first dependent column (l is then incomplete).
 */
extern int	clm_cholesky(int n, const double *a, double *l, double rel_tol);

/* solve L L' x = b in place (b becomes x), with L from clm_cholesky */
extern void clm_cholesky_solve(int n, const double *l, double *b);

/* inverse of a = L L' (full symmetric n*n) from its factor L; work: n doubles */
extern void clm_cholesky_inverse(int n, const double *l, double *inv, double *work);

/*
 * Eigenvalues of the symmetric n*n matrix a (cyclic Jacobi rotations,
 * to full double precision), in no particular order.  work holds n*n
 * doubles.
 */
extern void clm_sym_eigenvalues(int n, const double *a, double *eig, double *work);

/*
 * Newton's method for a concave maximisation (log-likelihoods): fn returns
 * f(x) and stores the gradient and the negative Hessian (the information,
 * positive definite) in grad / hess; it returns -INFINITY at points where
 * it cannot be evaluated.  From x (overwritten with the result), Newton
 * steps with step halving (at most 60 halvings) until the Newton decrement
 * g' H^-1 g is at the level of rounding: once it is below 1e-12 (|f| + 1)
 * a last full step is taken without a line search (Newton converges
 * quadratically there, and a line search would only see rounding) and the
 * fit counts as converged.  It stops unconverged after max_iter steps, when
 * the information is not positive definite, when *stop becomes true (set
 * by fn, e.g. on perfect separation), or when no step increases f (then
 * converged if the decrement was already below 1e-8 (|f| + 1)).
 *
 * With f0 not NULL, *f0 is f(x) and grad / hess already hold its gradient
 * and information (the caller has used the first evaluation).  On return
 * x, f, grad and hess are those of the last call of fn, which was at x
 * (the driver evaluates x again if needed).  work holds 2 n^2 + 3 n
 * doubles.  Plain C: the caller's fn calls
 * CHECK_FOR_INTERRUPTS in its passes over the data.
 */
typedef double (*ClmNewtonFn) (const double *x, double *grad, double *hess, void *arg);

typedef struct ClmNewtonResult
{
	double		f;				/* at x */
	int			iterations;		/* Newton steps taken */
	bool		converged;
} ClmNewtonResult;

extern ClmNewtonResult clm_newton_max(ClmNewtonFn fn, void *arg, int n, double *x,
									  const double *f0, double *grad, double *hess,
									  int max_iter, const bool *stop, double *work);

/* two-sided p-value of a standard normal statistic: P(|Z| >= |z|) */
extern double clm_normal_p2(double z);

#endif							/* CLM_LINALG_H */
