#!/usr/bin/env python3
"""Reference for bench/churn.sh: statsmodels Logit on the churn_bench table.

Reads the table from the server the way a Python analyst would (COPY to CSV
through psycopg2, parsed by pandas into numpy arrays), fits
Logit(churned ~ 1 + x1..x10) with statsmodels' default Newton method, and
prints the read and fit times and the coefficients as one JSON line.
Connection from the PG* environment variables."""
import io
import json
import time

import numpy as np
import pandas as pd
import psycopg2
import statsmodels.api as sm

t0 = time.perf_counter()
conn = psycopg2.connect("")
buf = io.StringIO()
with conn.cursor() as cur:
    cur.copy_expert(
        "COPY (SELECT churned::int, x[1], x[2], x[3], x[4], x[5], x[6], x[7], x[8], x[9], x[10] "
        "FROM churn_bench) TO STDOUT WITH (FORMAT csv)", buf)
buf.seek(0)
d = pd.read_csv(buf, header=None).to_numpy(dtype=np.float64)
y = d[:, 0]
X = sm.add_constant(d[:, 1:], has_constant="add")
t1 = time.perf_counter()
res = sm.Logit(y, X).fit(disp=0)
t2 = time.perf_counter()
print(json.dumps({"rows": int(len(y)), "read_s": t1 - t0, "fit_s": t2 - t1,
                  "iterations": int(res.mle_retvals.get("iterations", -1)),
                  "loglik": float(res.llf), "coef": [float(c) for c in res.params],
                  "std_err": [float(s) for s in res.bse]}))
