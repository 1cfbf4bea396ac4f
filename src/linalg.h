/*-------------------------------------------------------------------------
 *
 * linalg.h
 *	  Small dense linear algebra on symmetric matrices for clm's regression
 *	  fits (logistic regression, Cox proportional hazards): Cholesky
 *	  factorisation with a pivot check that names the first dependent
 *	  column, solves and inverses from the factor, symmetric eigenvalues
 *	  (cyclic Jacobi) for condition numbers, and the two-sided normal
 *	  p-value.  Plain C on doubles, row-major n*n arrays; no palloc, no
 *	  ereport: the callers decide which error to raise.
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

/* two-sided p-value of a standard normal statistic: P(|Z| >= |z|) */
extern double clm_normal_p2(double z);

#endif							/* CLM_LINALG_H */
