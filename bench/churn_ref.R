# Reference for bench/churn.sh: R survival::coxph (Efron ties) on the
# churn_bench table exported as CSV (duration, event, x1..x10).  Prints the
# fit time (the data already in memory: the read is not timed) and the
# coefficients.  Usage: Rscript bench/churn_ref.R file.csv
suppressPackageStartupMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], header = FALSE,
              col.names = c("duration", "event", paste0("x", 1:10)))
f <- Surv(duration, event) ~ x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10
t <- system.time(fit <- coxph(f, data = d, ties = "efron"))
cat(sprintf("fit_s %.3f\n", t[["elapsed"]]))
cat(sprintf("loglik %.6f\n", fit$loglik[2]))
cat("coef", sprintf("%.9f", coef(fit)), "\n")
cat(sprintf("concordance %.6f\n", fit$concordance[["concordance"]]))
