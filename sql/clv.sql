-- CLV models against published values: BG/NBD, Pareto/NBD and Gamma-Gamma
-- (Fader, Hardie & Lee 2005 and Hardie's spreadsheets, via lifetimes' test
-- suite), modified BG/NBD (BTYDplus), BG/BB (Fader, Hardie & Shang 2010).
SET timezone = 'UTC';
SET extra_float_digits = 0;
-- the published CDNOW calibration summary (2,357 customers, weeks, to 1997-09-30)
CREATE TABLE clv_cdnow (id int, x float8, t_x float8, t float8, zbar float8);
\copy clv_cdnow FROM program 'tr -d ''\r'' < data/cdnow_customers_summary_with_transactions.csv' WITH (FORMAT csv, HEADER)
CREATE TABLE clv_donations (frequency float8, recency float8, periods float8, weights float8);
\copy clv_donations FROM 'data/donations.csv' WITH (FORMAT csv, HEADER)
SELECT count(*) AS customers, sum(x) AS repeat_purchases, count(*) FILTER (WHERE x > 0) AS repeaters
FROM clv_cdnow;

CREATE TABLE clv_models AS
SELECT clm.bgnbd_fit(x, t_x, t) AS bg,
       clm.mbgnbd_fit(x, t_x, t) AS mbg,
       clm.pareto_nbd_fit(x, t_x, t) AS pn
FROM clv_cdnow;
CREATE TABLE clv_spend AS
SELECT clm.gamma_gamma_fit(x, zbar) AS gg FROM clv_cdnow WHERE x > 0;
CREATE TABLE clv_bgbb AS
SELECT clm.bgbb_fit(frequency, recency, periods, weights) AS bb FROM clv_donations;

-- BG/NBD: r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4;
-- standard errors as lifetimes' summary: 0.0126, 0.378, 0.186, 0.705
SELECT round((bg).r::numeric, 3) AS r, round((bg).alpha::numeric, 3) AS alpha,
       round((bg).a::numeric, 3) AS a, round((bg).b::numeric, 3) AS b,
       round((bg).loglik::numeric, 1) AS loglik, (bg).n, (bg).converged, (bg).patterns,
       round((bg).r_se::numeric, 4) AS r_se, round((bg).alpha_se::numeric, 3) AS alpha_se,
       round((bg).a_se::numeric, 3) AS a_se, round((bg).b_se::numeric, 3) AS b_se
FROM clv_models;
-- modified BG/NBD (BTYDplus): 0.525, 6.183, 0.891, 1.614
SELECT round((mbg).r::numeric, 3) AS r, round((mbg).alpha::numeric, 3) AS alpha,
       round((mbg).a::numeric, 3) AS a, round((mbg).b::numeric, 3) AS b,
       round((mbg).loglik::numeric, 1) AS loglik, (mbg).converged
FROM clv_models;
-- Pareto/NBD: 0.553, 10.578, 0.606, 11.669 (3 significant digits: 11.7), LL = -9595.0
SELECT round((pn).r::numeric, 3) AS r, round((pn).alpha::numeric, 3) AS alpha,
       round((pn).s::numeric, 3) AS s, round((pn).beta::numeric, 1) AS beta,
       round((pn).loglik::numeric, 1) AS loglik, (pn).converged
FROM clv_models;
-- Gamma-Gamma on the 946 repeat customers: p = 6.25, q = 3.74, v = 15.44
-- (3 significant digits; the fit's v is 15.448)
SELECT round((gg).p::numeric, 2) AS p, round((gg).q::numeric, 2) AS q,
       round((gg).v::numeric, 1) AS v, round((gg).loglik::numeric, 1) AS loglik,
       (gg).n, (gg).converged
FROM clv_spend;
-- BG/BB on the donations (11,104 donors, 6 periods, weights):
-- alpha = 1.204, beta = 0.750, gamma = 0.657, delta = 2.783, LL = -33225.6
SELECT round((bb).alpha::numeric, 3) AS alpha, round((bb).beta::numeric, 3) AS beta,
       round((bb).gamma::numeric, 3) AS gamma, round((bb).delta::numeric, 3) AS delta,
       round((bb).loglik::numeric, 1) AS loglik, (bb).n, (bb).converged, (bb).patterns
FROM clv_bgbb;

-- BG/NBD: E[purchases in the next 39 weeks | x = 2, t_x = 30.43, T = 38.86] = 1.226
SELECT round(clm.expected_purchases(bg, 39, 2, 30.43, 38.86)::numeric, 3) AS bgnbd_e39
FROM clv_models;
-- new customer E[X(t)] (Hardie's spreadsheet): 0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.8576
-- (to 3 decimals, as lifetimes checks it: the sheet's rounded parameters move
-- the 78-week value by 0.0004)
SELECT t, round(clm.expected_purchases(bg, t)::numeric, 3) AS e_x_t
FROM clv_models, unnest('{0.1429, 1, 3, 31.8571, 32, 78}'::float8[]) t ORDER BY t;
-- with the spreadsheet's own parameters: the sheet's values to 4 decimals up
-- to 32 weeks; at 78 weeks 1.8579 (scipy's hyp2f1 in the same formula gives
-- 1.85791 too; the sheet says 1.8576)
SELECT t, round(clm.expected_purchases(ROW(0.2426, 4.4135, 0.7930, 2.4259, NULL, NULL, NULL, NULL,
                                            NULL, NULL, NULL, NULL, NULL)::clm.bgnbd, t)::numeric, 4) AS e_x_t
FROM unnest('{1, 3, 32, 78}'::float8[]) t ORDER BY t;
-- P(alive): 1 without repeat purchases; customer 1 (x = 2, t_x = 30.43, T = 38.86)
SELECT clm.p_alive(bg, 0, 0, 10) AS no_repeat,
       round(clm.p_alive(bg, 2, 30.43, 38.86)::numeric, 4) AS customer_1,
       round(clm.p_alive(bg, 2, 30.43, 38.86)::numeric *
             (1 + 0.793 / (2.426 + 1) * ((4.414 + 38.86) / (4.414 + 30.43)) ^ (0.243 + 2)), 2) AS check_one
FROM clv_models;
-- P(X(t) = n) sums to 1 and its mean is E[X(t)] (BG/NBD, MBG/NBD, Pareto/NBD, BG/BB)
SELECT 'bgnbd' AS model, round(sum(clm.probability_of_purchases(bg, n, 39))::numeric, 9) AS total,
       round(sum(n * clm.probability_of_purchases(bg, n, 39))::numeric, 5) AS mean,
       round(clm.expected_purchases(bg, 39)::numeric, 5) AS expected
FROM clv_models, generate_series(0, 300) n GROUP BY bg
UNION ALL
SELECT 'mbgnbd', round(sum(clm.probability_of_purchases(mbg, n, 39))::numeric, 9),
       round(sum(n * clm.probability_of_purchases(mbg, n, 39))::numeric, 5),
       round(clm.expected_purchases(mbg, 39)::numeric, 5)
FROM clv_models, generate_series(0, 300) n GROUP BY mbg
UNION ALL
SELECT 'pareto_nbd', round(sum(clm.probability_of_purchases(pn, n, 39))::numeric, 9),
       round(sum(n * clm.probability_of_purchases(pn, n, 39))::numeric, 5),
       round(clm.expected_purchases(pn, 39)::numeric, 5)
FROM clv_models, generate_series(0, 300) n GROUP BY pn
UNION ALL
SELECT 'bgbb', round(sum(clm.probability_of_purchases(bb, n, 6))::numeric, 9),
       round(sum(n * clm.probability_of_purchases(bb, n, 6))::numeric, 5),
       round(clm.expected_purchases(bb, 6)::numeric, 5)
FROM clv_bgbb, generate_series(0, 6) n GROUP BY bb
ORDER BY model;
-- BG/NBD P(X(1) = 0) by hand: B(a,b)/B(a,b) (alpha/(alpha+1))^r ... with the
-- x = 0 term only: (4.4135/5.4135)^0.2426 = 0.95165 (the spreadsheet's 0.9517)
SELECT round(clm.probability_of_purchases(ROW(0.2426, 4.4135, 0.7930, 2.4259, NULL, NULL, NULL, NULL,
                                              NULL, NULL, NULL, NULL, NULL)::clm.bgnbd, 0, 1)::numeric, 5) AS p0;

-- Pareto/NBD with (0.5534, 10.5802, 0.6061, 11.6562): P(alive | x = 26,
-- t_x = 30.86, T = 31) = 0.9979; with the fitted model E[purchases in 52
-- weeks] = 25.46 (both as lifetimes' tests; the rounded parameters give 25.455)
SELECT round(clm.p_alive(m, 26, 30.86, 31)::numeric, 4) AS p_alive,
       round(clm.expected_purchases(pn, 52, 26, 30.86, 31)::numeric, 2) AS e52_fitted,
       round(clm.expected_purchases(m, 52, 26, 30.86, 31)::numeric, 3) AS e52_rounded_params
FROM (SELECT ROW(0.5534, 10.5802, 0.6061, 11.6562, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.pareto_nbd AS m) q,
     clv_models;
-- the alpha < beta branch above; the alpha >= beta branch with large
-- frequencies (lifetimes' overflow test): finite and within [0, 1] (the
-- purchase rate r/alpha is 1300 a week, so a gap of a week means dead)
SELECT x, tx, t, round(clm.p_alive(m, x, tx, t)::numeric, 6) AS p_alive,
       clm.expected_purchases(m, 10, x, tx, t) >= 0 AS e_finite
FROM (SELECT ROW(10.465, 7.98565181e-03, 3.0516, 2.820, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.pareto_nbd AS m) q,
     (VALUES (400, 5, 6), (500, 1, 37), (500, 4, 37)) v(x, tx, t)
ORDER BY x, tx;
-- Pareto/NBD new customer: r beta / (alpha (s - 1)) (1 - (beta/(beta+t))^(s-1)), and the s = 1 limit r/alpha beta log(1 + t/beta)
SELECT round(clm.expected_purchases(pn, 52)::numeric, 6) AS e52,
       round(((pn).r * (pn).beta / ((pn).alpha * ((pn).s - 1)) * (1 - ((pn).beta / ((pn).beta + 52)) ^ ((pn).s - 1)))::numeric, 6) AS by_hand,
       round(clm.expected_purchases(ROW(1, 2, 1, 4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.pareto_nbd, 10)::numeric, 9) AS s_is_1,
       round((0.5 * 4 * ln(1 + 10 / 4.0))::numeric, 9) AS s_is_1_by_hand
FROM clv_models;
-- BG/NBD a = 1 is a removable singularity: continuous across it
SELECT round(clm.expected_purchases(ROW(0.5, 5, a, 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd, 20)::numeric, 6) AS e20,
       round(clm.expected_purchases(ROW(0.5, 5, a, 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd, 20, 3, 10, 15)::numeric, 6) AS cond_e20
FROM unnest('{0.999, 1, 1.001}'::float8[]) a ORDER BY a;
-- a + b = 1 puts the 2F1's c = a + b + x - 1 at 0 for x = 0: the pole
-- cancels against the factor c, and the values are continuous across it
SELECT b, round(clm.expected_purchases(ROW(0.5, 5, 0.3, b, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd, 20)::numeric, 5) AS e20,
       round(clm.expected_purchases(ROW(0.5, 5, 0.3, b, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd, 20, 0, 0, 10)::numeric, 5) AS cond_e20
FROM unnest('{0.6999, 0.7, 0.7001}'::float8[]) b ORDER BY b;
-- large frequencies: the 2F1 is summed in log space, no overflow
SELECT round(clm.expected_purchases(bg, 52, 300, 38, 38.86)::numeric, 2) AS e52_x300,
       round(clm.p_alive(bg, 300, 38, 38.86)::numeric, 6) AS p_alive_x300
FROM clv_models;

-- Gamma-Gamma: E[spend] for customers 1, 2, 6 = 24.65, 18.91, 71.46 and
-- 35.17 without repeat purchases (Hardie's sheet; lifetimes checks them to
-- 0.1 with the rounded parameters (6.25, 3.74, 15.44), which give 24.66,
-- 18.92, 71.47, 35.22; the fitted model gives 24.66, 18.91, 71.46, 35.17)
SELECT id, x, zbar, round(clm.expected_spend(ROW(6.25, 3.74, 15.44, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.gamma_gamma,
                                        x, zbar)::numeric, 2) AS spend
FROM clv_cdnow WHERE id IN (1, 2, 3, 6) ORDER BY id;
SELECT id, round(clm.expected_spend(gg, x, zbar)::numeric, 2) AS spend_fitted
FROM clv_cdnow, clv_spend WHERE id IN (1, 2, 3, 6) ORDER BY id;

-- BG/BB: P(alive in 2002) for (x, t_x) = (0, 0), (2, 4), (6, 6): 0.11, 0.59, 0.93
SELECT x, tx, round(clm.p_alive(bb, x, tx, 6)::numeric, 2) AS p_alive
FROM clv_bgbb, (VALUES (0, 0), (2, 4), (6, 6)) v(x, tx) ORDER BY x;
-- BG/BB conditional expectation, eq. 13, by hand for (x, t_x, n) = (6, 6, 6)
-- over 1 period: P(alive in 7) * E[p | x = 6, n = 6] = P(alive) (alpha+6)/(alpha+beta+6)
SELECT round(clm.expected_purchases(bb, 1, 6, 6, 6)::numeric, 6) AS e1,
       round((clm.p_alive(bb, 6, 6, 6) * ((bb).alpha + 6) / ((bb).alpha + (bb).beta + 6))::numeric, 6) AS by_hand
FROM clv_bgbb;

-- CLV: 12 months, 1% monthly discount, weekly data; the sum of the monthly
-- increments equals E[spend] times E[purchases in 12 months] without discount
SELECT id, round(clm.clv(bg, gg, x, t_x, t, zbar)::numeric, 2) AS clv_12m,
       round(clm.clv(bg, gg, x, t_x, t, zbar, months => 12, monthly_discount => 0)::numeric, 6) AS undiscounted,
       round((clm.expected_spend(gg, x, zbar) *
              clm.expected_purchases(bg, 12 * 30.436875 / 7, x, t_x, t))::numeric, 6) AS spend_times_purchases
FROM clv_cdnow, clv_models, clv_spend WHERE id IN (1, 2, 3, 18) ORDER BY id;
-- the time unit is explicit: the same customer in days gives the same CLV
SELECT round(clm.clv(bg, gg, 2, 30.43, 38.86, 22.35)::numeric, 4) AS weeks,
       round(clm.clv(ROW((bg).r, (bg).alpha * 7, (bg).a, (bg).b, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd,
                     gg, 2, 30.43 * 7, 38.86 * 7, 22.35, time_unit => 'day')::numeric, 4) AS days,
       round(clm.clv(pn, gg, 2, 30.43, 38.86, 22.35, 24, 0.02)::numeric, 2) AS pareto_24m,
       round(clm.clv(mbg, gg, 2, 30.43, 38.86, 22.35, 0)::numeric, 4) AS zero_months
FROM clv_models, clv_spend;

-- fitting in days instead of weeks: alpha scales by 7, the other parameters
-- and P(alive) stay, and loglik shifts by -sum(x) ln 7 (the density of the
-- purchase times), i.e. -9582.4 - 2457 * 1.9459 = -14363.6
SELECT round((m).r::numeric, 3) AS r, round(((m).alpha / 7)::numeric, 3) AS alpha_weeks,
       round((m).a::numeric, 3) AS a, round((m).b::numeric, 3) AS b,
       round((m).loglik::numeric, 1) AS loglik,
       round(((bg).loglik - 2457 * ln(7))::numeric, 1) AS expected_loglik,
       round(clm.p_alive(m, 2, 30.43 * 7, 38.86 * 7)::numeric, 6) = round(clm.p_alive(bg, 2, 30.43, 38.86)::numeric, 6) AS same_p_alive
FROM (SELECT clm.bgnbd_fit(x, t_x * 7, t * 7) AS m FROM clv_cdnow) q, clv_models;

-- weights: the donations as one row per donor give the same fit
SELECT round((clm.bgbb_fit(frequency, recency, periods)).alpha::numeric, 6) =
       (SELECT round((bb).alpha::numeric, 6) FROM clv_bgbb) AS same_alpha
FROM clv_donations, generate_series(1, weights::int);

-- penalizer shrinks every parameter (lifetimes' test), loglik is the unpenalised value
SELECT round((m).r::numeric, 3) AS r, round((m).alpha::numeric, 3) AS alpha,
       round((m).a::numeric, 3) AS a, round((m).b::numeric, 3) AS b,
       (m).r < (bg).r AND (m).alpha < (bg).alpha AND (m).a < (bg).a AND (m).b < (bg).b AS all_smaller,
       (m).loglik < (bg).loglik AS lower_loglik
FROM (SELECT clm.bgnbd_fit(x, t_x, t, 1, 0.1) AS m FROM clv_cdnow) q, clv_models;

-- the fit from the raw transactions (clm.rfm_summary with day periods in
-- weeks, recency and t unrounded) is the published one to 3 digits
CREATE TABLE clv_lines (line text);
\copy clv_lines FROM 'data/CDNOW_sample.txt'
CREATE TABLE clv_sample_summary AS
SELECT id, (clm.rfm_summary(at, amount, '1997-09-30', 'day', 'week')).*
FROM (SELECT f[2]::int AS id, to_date(f[3], 'YYYYMMDD')::timestamptz AS at, f[5]::float8 AS amount
      FROM (SELECT regexp_split_to_array(btrim(line, E' \r'), '\s+') AS f FROM clv_lines) s) e
GROUP BY id;
SELECT round((m).r::numeric, 3) AS r, round((m).alpha::numeric, 2) AS alpha,
       round((m).a::numeric, 3) AS a, round((m).b::numeric, 2) AS b,
       round((m).loglik::numeric, 0) AS loglik, (m).n, (m).patterns
FROM (SELECT clm.bgnbd_fit(frequency, recency, t) AS m FROM clv_sample_summary) q;
