#!/usr/bin/python3
"""Reference implementation of the CLV models with numpy/scipy (Debian's
python3-scipy), as a user would write it without clm: the likelihoods of
lifetimes (vectorised over all customers, no pattern collapsing), fitted
with scipy.optimize.minimize(method="BFGS") on log-parameters.  Used by
bench/clv.sh for timings and to cross-check clm's results.

  clv_ref.py fit-bgnbd SUMMARY.csv        (id,x,tx,T,m) -> params, loglik, seconds
  clv_ref.py fit-pareto SUMMARY.csv
  clv_ref.py fit-gg SUMMARY.csv
  clv_ref.py fit-mbgnbd SUMMARY.csv
  clv_ref.py fit-bgbb DONATIONS.csv       (frequency,recency,periods,weights with a header)
  clv_ref.py e2e EVENTS.csv SCORES.csv    events (id,day,amount) -> scores (id,p_alive,clv)
"""
import sys
import time

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1

MONTH_WEEKS = 30.436875 / 7


def load_summary(path):
    d = np.loadtxt(path, delimiter=",", ndmin=2)
    return d[:, 1], d[:, 2], d[:, 3], d[:, 4]


def bgnbd_nll(lp, x, tx, T):
    r, al, a, b = np.exp(lp)
    A1 = gammaln(r + x) - gammaln(r) + r * np.log(al)
    A2 = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(al + T)
    A3 = np.where(x > 0, betaln(a + 1, np.maximum(b + x - 1, 1e-12)) - betaln(a, b)
                  - (r + x) * np.log(al + tx), -np.inf)
    return -(A1 + np.logaddexp(A2, A3)).sum() / x.size


def mbgnbd_nll(lp, x, tx, T):
    r, al, a, b = np.exp(lp)
    A1 = gammaln(r + x) - gammaln(r) + r * np.log(al)
    A2 = gammaln(a + b) + gammaln(b + x + 1) - gammaln(b) - gammaln(a + b + x + 1)
    A3 = -(r + x) * np.log(al + T)
    A4 = np.log(a) - np.log(b + x) + (r + x) * (np.log(al + T) - np.log(al + tx))
    return -(A1 + A2 + A3 + np.logaddexp(A4, 0)).sum() / x.size


def bgbb_nll(lp, x, tx, n, w):
    # lifetimes' BetaGeoBetaBinomFitter likelihood, the sum over j in log space
    al, be, ga, de = np.exp(lp)
    lab, lgd = betaln(al, be), betaln(ga, de)
    A = betaln(al + x, be + n - x) - lab + betaln(ga, de + n) - lgd
    B = np.full(x.size, -np.inf)
    rT = n - tx - 1
    for j in range(int(rT.max()) + 1):
        term = betaln(al + x, be + tx - x + j) + betaln(ga + 1, de + tx + j)
        B = np.where(rT >= j, np.logaddexp(B, term), B)
    ll = np.logaddexp(A, B - lgd - lab)
    return -(w * ll).sum() / w.sum()


def pareto_log_a0(r, al, s, be, x, tx, T):
    if al < be:
        mn, mx, t = al, be, r + x
    else:
        mn, mx, t = be, al, s + 1
    rsx = r + s + x
    l1 = np.log(hyp2f1(rsx, t, rsx + 1, (mx - mn) / (mx + tx))) - rsx * np.log(mx + tx)
    l2 = np.log(hyp2f1(rsx, t, rsx + 1, (mx - mn) / (mx + T))) - rsx * np.log(mx + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        return l1 + np.log1p(-np.exp(l2 - l1))


def pareto_nll(lp, x, tx, T):
    r, al, s, be = np.exp(lp)
    A1 = gammaln(r + x) - gammaln(r) + r * np.log(al) + s * np.log(be)
    la0 = pareto_log_a0(r, al, s, be, x, tx, T)
    A2 = np.logaddexp(-(r + x) * np.log(al + T) - s * np.log(be + T),
                      np.log(s) + la0 - np.log(r + s + x))
    v = -(A1 + A2).sum() / x.size
    return v if np.isfinite(v) else 1e300


def gg_nll(lp, x, m):
    p, q, v = np.exp(lp)
    ll = (gammaln(p * x + q) - gammaln(p * x) - gammaln(q) + q * np.log(v)
          + (p * x - 1) * np.log(m) + p * x * np.log(x) - (p * x + q) * np.log(x * m + v))
    return -ll.sum() / x.size


def fit(fn, x0, args):
    res = minimize(fn, np.log(x0), args=args, method="BFGS")
    return np.exp(res.x), -res.fun, res


def bgnbd_p_alive(prm, x, tx, T):
    r, al, a, b = prm
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(x > 0, a / (b + x - 1) * ((al + T) / (al + tx)) ** (r + x), 0.0)
    return 1.0 / (1.0 + z)


def bgnbd_cond(prm, t, x, tx, T):
    r, al, a, b = prm
    z = t / (al + T + t)
    h = hyp2f1(r + x, b + x, a + b + x - 1, z)
    return bgnbd_p_alive(prm, x, tx, T) * (a + b + x - 1) / (a - 1) * \
        (1 - h * ((al + T) / (al + T + t)) ** (r + x))


def gg_spend(g, x, m):
    p, q, v = g
    return p * (v + x * m) / (p * x + q - 1)


def clv(prm, g, x, tx, T, m, months=12, d=0.01):
    spend = gg_spend(g, x, np.where(x > 0, m, 0.0))
    out = np.zeros(x.size)
    prev = np.zeros(x.size)
    for k in range(1, months + 1):
        e = bgnbd_cond(prm, k * MONTH_WEEKS, x, tx, T)
        out += spend * (e - prev) / (1 + d) ** k
        prev = e
    return out


def main():
    mode = sys.argv[1]
    if mode in ("fit-bgnbd", "fit-pareto", "fit-gg", "fit-mbgnbd", "fit-bgbb"):
        if mode == "fit-bgbb":
            d = np.loadtxt(sys.argv[2], delimiter=",", skiprows=1, ndmin=2)
            x0, tx, T, m = d[:, 0], d[:, 1], d[:, 2], d[:, 3]
        else:
            x0, tx, T, m = load_summary(sys.argv[2])
        # best of up to 3 runs (fewer when one run takes more than 5 s),
        # as clm's times are the best of several runs too
        secs, total, runs = None, 0.0, 0
        while runs < 3 and total < 5.0:
            x = x0
            t0 = time.perf_counter()
            if mode == "fit-bgnbd":
                prm, ll, res = fit(bgnbd_nll, [1.0, x.size / max(x.sum(), 1) * T.mean(), 1.0, 1.0], (x, tx, T))
            elif mode == "fit-mbgnbd":
                prm, ll, res = fit(mbgnbd_nll, [1.0, x.size / max(x.sum(), 1) * T.mean(), 1.0, 1.0], (x, tx, T))
            elif mode == "fit-bgbb":
                prm, ll, res = fit(bgbb_nll, [1.0, 1.0, 1.0, 1.0], (x, tx, T, m))
                ll = ll * m.sum() / x.size  # printed as ll * rows: the weighted total
            elif mode == "fit-pareto":
                prm, ll, res = fit(pareto_nll, [1.0, T.mean(), 1.0, T.mean()], (x, tx, T))
            else:
                rep = x > 0
                prm, ll, res = fit(gg_nll, [1.0, 2.0, m[rep].mean()], (x[rep], m[rep]))
                x = x[rep]
            t = time.perf_counter() - t0
            secs = t if secs is None else min(secs, t)
            total += t
            runs += 1
        print("%s rows=%d params=%s loglik=%.2f evals=%d success=%s runs=%d seconds=%.3f"
              % (mode, x.size, " ".join("%.4f" % v for v in prm), ll * x.size, res.nfev,
                 res.success, runs, secs))
    elif mode == "e2e":
        t0 = time.perf_counter()
        ev = np.loadtxt(sys.argv[2], delimiter=",", ndmin=2)
        cid = ev[:, 0].astype(np.int64)
        day = ev[:, 1].astype(np.int64)
        amt = ev[:, 2]
        # per customer and day: sum the amounts, then the summary (day periods, weeks)
        key = cid * 1000 + day
        order = np.argsort(key, kind="stable")
        key, cid, day, amt = key[order], cid[order], day[order], amt[order]
        uk, start = np.unique(key, return_index=True)
        daysum = np.add.reduceat(amt, start)
        dcid = uk // 1000
        dday = uk % 1000
        ucid, cstart, cnt = np.unique(dcid, return_index=True, return_counts=True)
        first = dday[cstart]
        last = dday[cstart + cnt - 1]
        total = np.add.reduceat(daysum, cstart)
        x = (cnt - 1).astype(float)
        tx = (last - first) / 7.0
        T = (273 - first) / 7.0
        with np.errstate(divide="ignore", invalid="ignore"):
            m = np.where(x > 0, (total - daysum[cstart]) / x, 0.0)
        t1 = time.perf_counter()
        prm, _, _ = fit(bgnbd_nll, [1.0, x.size / max(x.sum(), 1) * T.mean(), 1.0, 1.0], (x, tx, T))
        rep = x > 0
        g, _, _ = fit(gg_nll, [1.0, 2.0, m[rep].mean()], (x[rep], m[rep]))
        t2 = time.perf_counter()
        pa = bgnbd_p_alive(prm, x, tx, T)
        cl = clv(prm, g, x, tx, T, m)
        t3 = time.perf_counter()
        with open(sys.argv[3], "w") as f:
            for i in range(ucid.size):
                f.write("%d,%.17g,%.17g\n" % (ucid[i], pa[i], cl[i]))
        t4 = time.perf_counter()
        print("e2e customers=%d bgnbd=%s gg=%s load+summary=%.3f fit=%.3f score=%.3f write=%.3f"
              % (ucid.size, " ".join("%.4f" % v for v in prm), " ".join("%.4f" % v for v in g),
                 t1 - t0, t2 - t1, t3 - t2, t4 - t3))


if __name__ == "__main__":
    main()
