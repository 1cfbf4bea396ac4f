#!/usr/bin/python3
"""Synthetic CDNOW-like customers from a BG/NBD + Gamma-Gamma process with
known parameters (fixed seed), for bench/clv.sh.

  clv_gen.py summary N SEED   -> CSV id,x,tx,T,m (weeks, day resolution)
  clv_gen.py events N SEED    -> CSV id,day,amount (days since 1997-01-01)

Customers are born uniformly over the first 12 weeks (84 days) and observed
to day 273 (39 weeks).  Purchase rate lambda ~ Gamma(r, alpha) per week,
dropout probability after each repeat purchase p ~ Beta(a, b); spend per
transaction ~ Gamma(p_gg, nu), nu ~ Gamma(q_gg, v_gg).  Purchase times are
rounded up to whole days (at most one purchase per day), as daily data are.
"""
import sys

import numpy as np

TRUE = dict(r=0.25, alpha=4.0, a=0.8, b=2.5, p=6.0, q=4.0, v=15.0)
END_DAY = 273


def simulate(n, seed):
    rng = np.random.default_rng(seed)
    birth = rng.integers(0, 84, n)
    T_days = END_DAY - birth
    lam = rng.gamma(TRUE["r"], 1.0 / TRUE["alpha"], n) / 7.0   # per day
    pdrop = rng.beta(TRUE["a"], TRUE["b"], n)
    nu = rng.gamma(TRUE["q"], 1.0 / TRUE["v"], n)
    t = np.zeros(n)
    last_day = np.zeros(n, dtype=np.int64)
    alive = np.ones(n, dtype=bool)
    days = []              # (customer index, day) of repeat purchases
    while alive.any():
        idx = np.nonzero(alive)[0]
        t[idx] += rng.exponential(1.0, idx.size) / lam[idx]
        day = np.ceil(np.minimum(t[idx], 1e7)).astype(np.int64)
        # a purchase on the day of the previous one moves to the next day
        day = np.maximum(day, last_day[idx] + 1)
        t[idx] = np.maximum(t[idx], day - 1 + 1e-9)
        inside = day <= T_days[idx]
        alive[idx[~inside]] = False
        buy = idx[inside]
        last_day[buy] = day[inside]
        days.append((buy, day[inside]))
        die = rng.random(buy.size) < pdrop[buy]
        alive[buy[die]] = False
    return rng, birth, T_days, nu, days, last_day


def summary(n, seed):
    rng, birth, T_days, nu, days, last_day = simulate(n, seed)
    x = np.zeros(n, dtype=np.int64)
    for buy, _ in days:
        np.add.at(x, buy, 1)
    m = np.zeros(n)
    rep = x > 0
    # mean of x Gamma(p, nu) values ~ Gamma(p x, nu x)
    m[rep] = rng.gamma(TRUE["p"] * x[rep], 1.0 / (nu[rep] * x[rep]))
    out = sys.stdout
    tx = np.where(rep, last_day, 0) / 7.0
    T = T_days / 7.0
    for i in range(n):
        out.write("%d,%d,%.10g,%.10g,%.10g\n" % (i + 1, x[i], tx[i], T[i], m[i]))


def events(n, seed):
    rng, birth, T_days, nu, days, last_day = simulate(n, seed)
    out = sys.stdout
    first = rng.gamma(TRUE["p"], 1.0 / nu)
    for i in range(n):
        out.write("%d,%d,%.2f\n" % (i + 1, birth[i], first[i]))
    for buy, day in days:
        amt = rng.gamma(TRUE["p"], 1.0 / nu[buy])
        for c, d, a in zip(buy, day, amt):
            out.write("%d,%d,%.2f\n" % (c + 1, birth[c] + d, a))


if __name__ == "__main__":
    what, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    {"summary": summary, "events": events}[what](n, seed)
